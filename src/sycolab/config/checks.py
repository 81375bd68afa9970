"""Cross-field checks of a whole study config: what no single section can check alone, run when the
config is loaded, before the first stage (a bad value must not surface hours later, stages downstream).

Each check returns problems as (key path, message); `sycolab.config.load` adds file and YAML line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sycolab.config.schema import StudyConfig
    from sycolab.methods.config import CheckpointPolicy
    from sycolab.models.tiny import TinyModelConfig
    from sycolab.probing.config import ProbeConfig

Problem = tuple[tuple[str, ...], str]

SEED_LIMIT = 2**32  # numpy and torch seeds: 0 <= seed < 2**32


def study_problems(cfg: StudyConfig, produced: list[str] | None) -> list[Problem]:
    """Problems of a schema-valid config. `produced` lists the models the study makes (None when the
    method sections did not validate, so the list is unknown)."""
    problems = seed_problems(cfg.model_dump(mode="json"))
    if cfg.uses_tiny_world:
        problems += tiny_shape_problems(cfg.base.tiny)
        if cfg.probe.enabled:
            problems += probe_layer_problems(cfg.probe, cfg.base.tiny.num_layers, "base.tiny.num_layers")
    if cfg.probe.enabled and produced is not None and cfg.probe.transfer_from not in produced:
        problems.append((("probe", "transfer_from"), f"'{cfg.probe.transfer_from}' is not a model this study "
                         f"produces (choose from {', '.join(produced)})"))
    if cfg.relearn.enabled and produced is not None:
        unknown = [m for m in cfg.relearn.models or [] if m not in produced]
        if unknown:
            problems.append((("relearn", "models"), f"{unknown} not among the models this study produces "
                             f"(choose from {', '.join(produced)})"))
    return problems


def selection_slice_problems(cfg: StudyConfig, policies: dict[tuple[str, ...], CheckpointPolicy]) -> list[Problem]:
    """A checkpoint kept by the judge or the proxy is chosen on the questions it is scored on; unless the
    evaluation sets a selection slice aside (`evaluate.selection_questions`), those are the reported
    questions, and the kept model's numbers are selected, not held out. `policies`: each training
    section's checkpoint policy by its key path (e.g. ("recover", "grpo"))."""
    n = cfg.evaluate.selection_questions
    if n > 0:
        return world_slice_problems(cfg, n)
    return [((*where, "checkpoint", "select_by"),
             f"'{p.select_by}' chooses a checkpoint on the evaluation questions themselves; set "
             "evaluate.selection_questions (e.g. 24) to set a held-out slice aside, or use select_by: last")
            for where, p in policies.items() if p.eval_every is not None and p.select_by != "last"]


def world_slice_problems(cfg: StudyConfig, n: int) -> list[Problem]:
    """The selection slice must leave questions to report in each evaluation set the tiny world writes (sizes
    known from the world section; a set the config gives as a file is checked when it is read)."""
    from sycolab.data.prompts import FEEDBACK_DOMAINS
    from sycolab.evaluation.selection import leaves_none

    world = cfg.world
    sizes = {"answer": world.n_eval_questions, "are_you_sure": world.n_are_you_sure,
             "feedback": len(FEEDBACK_DOMAINS) * world.n_feedback_eval}  # texts per domain x domains
    return [(("evaluate", "selection_questions"), leaves_none(n, size, f"tiny world's {name}"))
            for name, size in sizes.items() if getattr(cfg.data, name) is None and size <= n]


def seed_problems(raw: Any, path: tuple[str, ...] = ()) -> list[Problem]:
    """Every integer `seed` key anywhere in the config outside 0 <= seed < 2**32."""
    problems: list[Problem] = []
    if isinstance(raw, dict):
        for key, value in raw.items():
            where = (*path, str(key))
            if key == "seed" and isinstance(value, int) and not isinstance(value, bool) and not 0 <= value < SEED_LIMIT:
                problems.append((where, f"a seed must be in 0..{SEED_LIMIT - 1} (got {value})"))
            else:
                problems += seed_problems(value, where)
    return problems


def tiny_shape_problems(tiny: TinyModelConfig) -> list[Problem]:
    """Attention shapes the tiny Qwen3 can be built with: heads split hidden_size evenly, and the
    key/value heads split the query heads evenly (grouped-query attention)."""
    problems: list[Problem] = []
    if tiny.hidden_size % tiny.num_attention_heads:
        problems.append((("base", "tiny", "hidden_size"), f"{tiny.hidden_size} is not divisible by num_attention_heads "
                         f"{tiny.num_attention_heads} (each head gets hidden_size / num_attention_heads dimensions)"))
    if tiny.num_attention_heads % tiny.num_key_value_heads:
        problems.append((("base", "tiny", "num_key_value_heads"), f"{tiny.num_key_value_heads} does not divide "
                         f"num_attention_heads {tiny.num_attention_heads} (grouped-query attention)"))
    return problems


def probe_layer_problems(probe: ProbeConfig, n_layers: int, source: str) -> list[Problem]:
    """`probe.layers` and an int `probe.steering.layer` within the model's decoder layers (-1 = embeddings)."""
    problems: list[Problem] = []
    span = f"the model has decoder layers 0..{n_layers - 1} ({source} = {n_layers}) and -1 for the embeddings"
    if isinstance(probe.layers, list):
        bad = [layer for layer in probe.layers if not -1 <= layer < n_layers]
        if bad:
            problems.append((("probe", "layers"), f"{bad} out of range: {span}"))
    steer = probe.steering.layer
    if probe.steering.enabled and isinstance(steer, int) and not -1 <= steer < n_layers:
        problems.append((("probe", "steering", "layer"), f"{steer} out of range: {span}"))
    return problems


def local_layer_count(model: str | Path) -> int | None:
    """Decoder layers of `model` (a checkpoint folder or a hub id) from a config.json available without a
    download (the folder, or the Hugging Face cache); None when there is none."""
    path = Path(model)
    found: Path | None = path / "config.json" if path.is_dir() else None
    if found is None:
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(str(model), "config.json")
            found = Path(cached) if isinstance(cached, str) else None
        except Exception:  # noqa: BLE001 - not a valid repo id, no cache: nothing to check against yet
            found = None
    if found is None or not found.is_file():
        return None
    try:
        config = json.loads(found.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    layers = config.get("num_hidden_layers", (config.get("text_config") or {}).get("num_hidden_layers"))
    return layers if isinstance(layers, int) and layers > 0 else None
