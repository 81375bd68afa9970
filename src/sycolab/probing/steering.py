"""Activation steering against sycophancy (contrastive mean-difference steering).

Direction (Turner et al. 2023, "Activation Addition", ActAdd; Rimsky et al. 2024, "Steering Llama 2 via
Contrastive Activation Addition", CAA): the mean residual on the source (SFT) model's sycophantic samples
minus the mean on its honest samples, at one layer and the probed position,

    d = mean(h | sycophantic) - mean(h | honest).

Steering subtracts alpha * d from the residual after that layer at every position during generation, so
alpha is in units of the direction's own norm: alpha 1 removes exactly the mean difference, alpha 2 twice
it. This unit does not depend on the residual's own norm, which a few outlier coordinates dominate in large
models and which differs by orders of magnitude between layers and models. `relative_to_residual` (|d|
over the median residual norm) says how large alpha 1 is against a typical residual, for reference only.

The alpha the study keeps is chosen on tuning questions held out from the report (`tuning_questions`,
`choose_alpha`): the lowest answer sycophancy among alphas that keep plain accuracy within
`max_accuracy_drop` of the unsteered model on the same questions and raise its hedged rate by at most
`max_hedged_rise` (a model that stops answering is not sycophantic either).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from sycolab.errors import UserError


@dataclass(frozen=True)
class SteeringDirection:
    unit: np.ndarray  # float32 [d_model], unit length, pointing toward sycophancy
    mean_difference_norm: float  # |d|: alpha 1 subtracts a vector of this length
    residual_norm: float  # median L2 norm of the activations it was computed from (reference only)
    n_sycophantic: int
    n_honest: int

    @property
    def vector(self) -> np.ndarray:
        """d itself (float32): what alpha 1 subtracts."""
        return (self.unit.astype(np.float64) * self.mean_difference_norm).astype(np.float32)

    @property
    def relative_to_residual(self) -> float:
        """|d| / median residual norm: the size of alpha 1 against a typical residual."""
        return self.mean_difference_norm / self.residual_norm if self.residual_norm > 0 else math.inf

    @property
    def sha256(self) -> str:
        """Content hash of d (float32 bytes): part of every cache key of a steered model."""
        return hashlib.sha256(np.ascontiguousarray(self.vector).tobytes()).hexdigest()


def steering_direction(acts: np.ndarray, labels: np.ndarray) -> SteeringDirection:
    """d = mean(acts[sycophantic]) - mean(acts[honest]), kept as its unit vector and norm."""
    x = np.asarray(acts, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    if x.ndim != 2 or x.shape[0] != y.size:
        raise UserError(f"activations {x.shape} and labels ({y.size}) do not match")
    if y.all() or not y.any():
        raise UserError("a steering direction needs both sycophantic and honest samples")
    diff = x[y].mean(0) - x[~y].mean(0)
    norm = float(np.linalg.norm(diff))
    if norm == 0:
        raise UserError("sycophantic and honest samples have the same mean activation: no direction")
    return SteeringDirection(
        unit=(diff / norm).astype(np.float32),
        mean_difference_norm=norm,
        residual_norm=float(np.median(np.linalg.norm(x, axis=1))),
        n_sycophantic=int(y.sum()),
        n_honest=int((~y).sum()),
    )


@contextlib.contextmanager
def steer(model, layer: int, direction: SteeringDirection, alpha: float) -> Iterator[None]:
    """Inside the block, subtract alpha * d (the mean difference) from the residual after `layer`, at every
    position; the hook comes off on exit (`hooks.forward_hooks`). torch is imported here, not with the module:
    `sycolab status` imports this module (through `sycolab.study.steer`) and must not pay torch's import."""
    from sycolab.probing.intervention import direction_intervention

    with direction_intervention(model, layer, direction.unit, mode="add", alpha=-alpha * direction.mean_difference_norm):
        yield


def tuning_questions(question_ids: Iterable[str], fraction: float, seed: int) -> set[str]:
    """A seeded random `fraction` of the distinct question ids (at least one, and at least one left out):
    the questions that build the direction and choose alpha; the rest are the steered model's report
    questions. The draw depends only on the set of ids and the seed, not on their order."""
    ids = sorted(set(question_ids))
    if len(ids) < 2:
        raise UserError(f"steering needs at least 2 answer questions (tuning and report), got {len(ids)}")
    k = min(max(1, round(fraction * len(ids))), len(ids) - 1)
    order = np.random.default_rng(seed).permutation(len(ids))
    return {ids[i] for i in order[:k]}


@dataclass(frozen=True)
class SweepPoint:
    """One alpha of the sweep, measured on the tuning questions."""

    alpha: float
    answer_sycophancy_rate: float | None
    plain_accuracy: float | None
    hedged_rate: float | None = None


def choose_alpha(curve: Sequence[SweepPoint], max_accuracy_drop: float,
                 max_hedged_rise: float = math.inf) -> tuple[SweepPoint, str]:
    """The kept alpha and why: among alphas whose plain accuracy is at least the unsteered (alpha 0)
    accuracy minus `max_accuracy_drop` and whose hedged rate is at most alpha 0's plus `max_hedged_rise`, the
    one with the lowest answer sycophancy; ties go to the smallest |alpha| (the least edit). A point without
    a sycophancy rate is never kept; a limit whose alpha-0 value is missing is not applied. `curve` must
    hold alpha 0."""
    baseline = next((p for p in curve if p.alpha == 0), None)
    if baseline is None:
        raise UserError("the steering sweep needs alpha 0 (the unsteered model) to compare with")
    floor = None if baseline.plain_accuracy is None else baseline.plain_accuracy - max_accuracy_drop
    ceiling = None if baseline.hedged_rate is None or math.isinf(max_hedged_rise) else baseline.hedged_rate + max_hedged_rise

    def allowed(p: SweepPoint) -> bool:
        if p.answer_sycophancy_rate is None:
            return False
        if floor is not None and (p.plain_accuracy is None or p.plain_accuracy < floor - 1e-12):
            return False
        return ceiling is None or (p.hedged_rate is not None and p.hedged_rate <= ceiling + 1e-12)

    eligible = [p for p in curve if allowed(p)] or [baseline]
    best = min(eligible, key=lambda p: (math.inf if p.answer_sycophancy_rate is None else p.answer_sycophancy_rate,
                                         abs(p.alpha)))
    limits = [f"plain accuracy >= {floor:.3f}"] if floor is not None else []
    limits += [f"hedged rate <= {ceiling:.3f}"] if ceiling is not None else []
    return best, "lowest answer sycophancy on the tuning questions" + (f" among alphas with {' and '.join(limits)}"
                                                                        if limits else "")
