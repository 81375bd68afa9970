"""Where each model's method sits in the recovery framework of the reference study.

The three axes (reference, loss, data) are defined by `sycolab.methods.registry.MethodTraits`, and each
training method states its own place when it registers; this module only looks them up. The two rows no
registered method gives are stated here: the base model (no method trains it from the SFT model; "-" on every
axis) and activation steering (inference-time, reference-free, not a training method).

The quadrant reference-free x non-saturating is the reference study's untested one (`refree_ipo`).
"""

from __future__ import annotations

from sycolab.methods.registry import NOT_APPLICABLE, MethodTraits, find_method

NOT_REGISTERED: dict[str, MethodTraits] = {
    "base": NOT_APPLICABLE,
    "steer": MethodTraits(reference="free", loss="-", data="inference-time"),
}


def framework_of(method: str) -> MethodTraits | None:
    """The method's place in the framework, or None for a method this installation has not registered."""
    if method in NOT_REGISTERED:
        return NOT_REGISTERED[method]
    spec = find_method(method)
    return spec.traits if spec is not None else None
