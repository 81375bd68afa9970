"""sycolab.probing: look inside every model of a study.

Activations (`activations`), per-layer cross-fitted probes with question-bootstrap intervals and permutation
nulls (`probes`, `intervals`), shortcut baselines (`baselines`), cross-fitted probe transfer with max-T
permutation tests (`transfer`, `stats`), direction geometry (`geometry`), direction ablation
(`ablation`), forward hooks in one context manager (`hooks`), direction interventions (`intervention`),
activation patching (`patching`), steering (`steering`), and the stage entry point (`runner.run_probing`).

Names are imported lazily, so `sycolab.probing.config` (read by the config schema) stays free of torch,
numpy and scikit-learn.
"""

from __future__ import annotations

from typing import Any

_WHERE = {
    "render_prompt": "_inputs",
    "ablation_curve": "ablation", "AblationStep": "ablation", "recovery_pct": "ablation",
    "ActivationInfo": "activations", "extract_activations": "activations", "load_activations": "activations",
    "read_activation_info": "activations", "read_ids": "activations", "residuals_at": "activations",
    "analyse": "analysis", "ModelActivations": "analysis", "ProbingResults": "analysis",
    "InterventionConfig": "config", "PatchingConfig": "config", "ProbeConfig": "config",
    "SteeringConfig": "config",
    "cosine": "geometry", "cosine_matrix": "geometry", "cosine_rows": "geometry",
    "capture_residuals": "hooks", "decoder_layers": "hooks", "forward_hooks": "hooks", "hook_name": "hooks",
    "hook_point": "hooks",
    "direction_intervention": "intervention", "intervention_effect": "intervention",
    "InterventionResult": "intervention",
    "activation_patching": "patching", "logit_gaps": "patching",
    "PatchPrompt": "patching", "PatchRow": "patching",
    "cv_auroc": "probes", "fit_probe": "logistic", "grouped_splits": "probes", "LayerResult": "probes",
    "probe_direction": "probes", "ProbeSummary": "probes", "scan_layers": "probes", "summarise": "probes",
    "run_probing": "runner",
    "auroc": "stats", "benjamini_hochberg": "stats", "holm": "stats", "permutation_pvalues": "stats",
    "steer": "steering", "steering_direction": "steering", "SteeringDirection": "steering",
    "interpret": "transfer", "TransferRow": "transfer", "TransferSummary": "transfer",
}
__all__ = sorted(_WHERE)  # noqa: PLE0605 (the lazy exports are _WHERE's keys)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"sycolab.probing.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'sycolab.probing' has no attribute {name!r}")
