"""sycolab.probing: look inside every model of a study.

Activations (`activations`), per-layer cross-fitted probes with question-bootstrap intervals and permutation
nulls (`probes`, `intervals`), shortcut baselines (`baselines`), cross-fitted probe transfer with max-T
permutation tests (`transfer`, `stats`), direction geometry (`geometry`), direction ablation
(`ablation`), forward hooks in one context manager (`hooks`), direction interventions (`intervention`),
activation patching (`patching`), steering (`steering`), and the stage entry point (`runner.run_probing`).
"""

from sycolab.probing._inputs import render_prompt
from sycolab.probing.ablation import AblationStep, ablation_curve, recovery_pct
from sycolab.probing.activations import (
    ActivationInfo,
    extract_activations,
    load_activations,
    read_activation_info,
    read_ids,
    residuals_at,
)
from sycolab.probing.analysis import ModelActivations, ProbingResults, analyse
from sycolab.probing.config import InterventionConfig, PatchingConfig, ProbeConfig, SteeringConfig
from sycolab.probing.geometry import cosine, cosine_matrix, cosine_rows
from sycolab.probing.hooks import capture_residuals, decoder_layers, forward_hooks, hook_name, hook_point
from sycolab.probing.intervention import InterventionResult, direction_intervention, intervention_effect
from sycolab.probing.patching import PatchPrompt, PatchRow, activation_patching, continuation_logprobs, logit_gaps
from sycolab.probing.probes import (
    LayerResult,
    ProbeSummary,
    cv_auroc,
    fit_probe,
    grouped_splits,
    probe_direction,
    scan_layers,
    summarise,
)
from sycolab.probing.runner import run_probing
from sycolab.probing.stats import auroc, benjamini_hochberg, holm, permutation_pvalues
from sycolab.probing.steering import SteeringDirection, steer, steering_direction
from sycolab.probing.transfer import TransferRow, TransferSummary, interpret, transfer_scan

__all__ = [
    "AblationStep",
    "ActivationInfo",
    "InterventionConfig",
    "InterventionResult",
    "LayerResult",
    "ModelActivations",
    "PatchPrompt",
    "PatchRow",
    "PatchingConfig",
    "ProbeConfig",
    "ProbeSummary",
    "ProbingResults",
    "SteeringConfig",
    "SteeringDirection",
    "TransferRow",
    "TransferSummary",
    "ablation_curve",
    "activation_patching",
    "analyse",
    "auroc",
    "benjamini_hochberg",
    "capture_residuals",
    "continuation_logprobs",
    "cosine",
    "cosine_matrix",
    "cosine_rows",
    "cv_auroc",
    "decoder_layers",
    "direction_intervention",
    "extract_activations",
    "fit_probe",
    "forward_hooks",
    "grouped_splits",
    "holm",
    "hook_name",
    "hook_point",
    "interpret",
    "intervention_effect",
    "load_activations",
    "logit_gaps",
    "permutation_pvalues",
    "probe_direction",
    "read_activation_info",
    "read_ids",
    "recovery_pct",
    "render_prompt",
    "residuals_at",
    "run_probing",
    "scan_layers",
    "steer",
    "steering_direction",
    "summarise",
    "transfer_scan",
]
