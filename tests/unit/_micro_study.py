"""A micro study for unit tests: the tiny world's generator at its smallest sizes and an untrained
2-layer tiny model saved as `base`, so stage keys, caches and evaluation can be exercised without training.

    from _micro_study import micro_study, save_untrained_base
    study = micro_study(tmp_path)                 # config + run store, world files written
    save_untrained_base(study)                    # models/base: weights, tokenizer, sycolab_model.json
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sycolab.config import validate_config
from sycolab.store import RunStore
from sycolab.study.pipeline import Study
from sycolab.study.training import corpus_texts, run_world

MICRO: dict[str, Any] = {
    "name": "micro", "seed": 0,
    "world": {"seed": 0, "n_entities": 24, "n_unknown_entities": 2, "n_eval_questions": 6, "n_are_you_sure": 6,
              "n_feedback_eval": 2, "n_feedback_train": 2, "n_feedback_sft": 2, "n_grpo_prompts": 4},
    "base": {"model": "tiny", "tiny": {"hidden_size": 32, "num_layers": 2, "num_attention_heads": 2,
                                       "num_key_value_heads": 1, "intermediate_size": 64},
             "train": {"max_steps": 1}},
    "induce": {"max_steps": 1},
    "recover": {"dpo": {"max_steps": 1}},
    "evaluate": {"generation": {"batch_size": 64, "max_new_tokens": 4}, "bootstrap_resamples": 20,
                 "proxy": {"max_items": 8}},
}


def micro_config(**changes: Any):
    raw = {**MICRO, **changes}
    return validate_config(raw, source="micro")


def micro_study(tmp_path: Path, generate: bool = True, **changes: Any) -> Study:
    study = Study(micro_config(**changes), RunStore(tmp_path / "run"))
    if generate:
        run_world(study.cfg.world, study.store.world_dir)
    return study


def save_untrained_base(study: Study, seed: int = 0) -> Path:
    """models/base: an untrained micro model over a word tokenizer of the world (as the base stage builds it)."""
    from sycolab.models.digest import weights_sha256
    from sycolab.models.tiny import build_tiny_model
    from sycolab.models.tokenizer import train_word_tokenizer
    from sycolab.store import write_model_record

    tokenizer = train_word_tokenizer(corpus_texts(sorted(study.store.world_dir.rglob("*.jsonl"))))
    model = build_tiny_model(study.cfg.base.tiny, tokenizer, seed=seed)
    out = study.store.model_dir("base")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    write_model_record(out, "base", "sft", None, {}, stage_key="k-base", weights_sha256=weights_sha256(out))
    return out
