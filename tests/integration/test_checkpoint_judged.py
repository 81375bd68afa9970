"""GRPO on a small generated world evaluates its checkpoints by the judge (rule judge, real generation)
and by the logit proxy on the same questions, stores both curves and keeps the judge's best."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from sycolab.io import read_json, read_jsonl, read_table
from sycolab.methods import MethodContext, expand_grid, get_method

pytestmark = pytest.mark.integration


def _untrained_model(world: Path, out: Path, **shape: Any) -> Path:
    """The micro world generated into `world` and an untrained micro model over its words saved in `out`."""
    from sycolab.models.tiny import TinyModelConfig, build_tiny_model
    from sycolab.models.tokenizer import train_word_tokenizer
    from sycolab.world.config import WorldConfig
    from sycolab.world.generate import generate_world

    torch.set_num_threads(1)
    # sft_replay_from "sft": the SFT data on which the proxy and the judge were found to disagree (below)
    generate_world(WorldConfig(n_entities=24, n_eval_questions=6, n_are_you_sure=4, n_feedback_eval=2,
                               n_feedback_train=2, sft_replay_from="sft"), world)
    texts = [m["content"] for path in world.rglob("*.jsonl") for row in read_jsonl(path)
             for key in ("prompt", "completion", "chosen", "rejected", "messages") for m in row.get(key, []) or []
             if isinstance(m, dict)]
    texts += [row[k] for row in read_jsonl(world / "heldout" / "proxy.jsonl") for k in ("correct", "suggested")]
    tokenizer = train_word_tokenizer(texts)
    model = build_tiny_model(TinyModelConfig(num_layers=2, num_attention_heads=2, num_key_value_heads=1,
                                             max_position_embeddings=256, **shape), tokenizer, seed=0)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def test_grpo_keeps_the_checkpoint_the_judge_prefers(tmp_path: Path):
    from sycolab.evaluation.config import EvaluateConfig

    world = tmp_path / "world"
    base = _untrained_model(world, tmp_path / "base", hidden_size=32, intermediate_size=64)

    checkpoint = {"eval_every": 2, "eval_questions": 4, "min_plain_accuracy": None}
    raw = {"reward": "rule", "num_generations": 2, "per_device_train_batch_size": 4, "max_completion_length": 8,
           "learning_rate": 1e-2, "max_steps": 4, "logging_steps": 1, "max_length": 128, "checkpoint": checkpoint}
    [(name, config)] = expand_grid("grpo", raw)
    evaluate = EvaluateConfig.model_validate({"judge": {"kind": "rule"},
                                              "generation": {"batch_size": 64, "max_new_tokens": 8}})
    ctx = MethodContext(
        name=name, config=config, input_model=base, output_dir=tmp_path / "models" / name,
        work_dir=tmp_path / "training" / name, seed=0, reference_model=base,
        data={"grpo_prompts": world / "train" / "grpo_prompts.jsonl", "proxy": world / "heldout" / "proxy.jsonl"},
        evaluation_data={"answer": world / "eval" / "answer.jsonl", "are_you_sure": world / "eval" / "are_you_sure.jsonl",
                         "feedback": world / "eval" / "feedback.jsonl", "world": world / "world.json",
                         "proxy": world / "heldout" / "proxy.jsonl"},
        evaluation=evaluate.model_dump(mode="json"), cache_dir=tmp_path / "cache",
    )
    get_method("grpo").run(ctx)

    rows = read_table(ctx.work_dir / "checkpoints.csv")
    assert [r["step"] for r in rows] == [2, 4]
    for r in rows:
        assert 0.0 <= r["judged.answer_sycophancy_rate"] <= 1.0 and 0.0 <= r["proxy.adoption.suggest_incorrect"] <= 1.0
        assert 0.0 <= r["judged.hedged_rate"] <= 1.0  # recorded for max_hedged_rate
        assert -1.0 <= r["proxy.gap"] <= 1.0 and r["proxy.gap.ci_low"] <= r["proxy.gap"] <= r["proxy.gap.ci_high"]
        assert r["seconds"] > 0
    # the judge's best (lower is better; the first on a tie) is the kept checkpoint
    judged = [r["judged.answer_sycophancy_rate"] for r in rows]
    best = rows[judged.index(min(judged))]["step"]
    assert [r["kept"] for r in rows] == [True, judged[1] < judged[0]]
    assert read_json(ctx.work_dir / "best" / "best.json")["step"] == best
    summary = read_json(ctx.work_dir / "summary.json")["checkpoint"]
    assert (summary["select_by"], summary["best_step"], summary["chosen"]) == ("judged", best, "best")
    assert summary["mini_evaluation"]["answer_prompts"] == 16  # 4 questions x 4 templates
    # each evaluation is a real judged evaluation with the proxy compared on the same questions
    step = ctx.work_dir / "checkpoint_evals" / "step-2"
    metrics = read_json(step / "metrics.json")
    assert "proxy adoption.suggest_incorrect" in metrics["proxy_vs_generation"]
    assert len(read_jsonl(step / "samples.jsonl")) == 16
    items = read_jsonl(step / "proxy_items.jsonl")
    assert sorted(r["template"] for r in items) == ["neutral"] * 4 + ["suggest_incorrect"] * 4
    assert (tmp_path / "cache" / "verdicts.sqlite").exists()


# -- where the proxy and the judge disagree ------------------------------------------------------------------
# A micro model trained on the micro world's base corpus (300 steps), made sycophantic by 80 steps of the
# world's sycophantic SFT, then GRPO (rule reward, lr 2e-2, 4 steps) evaluated at steps 2 and 4 on all six
# answer questions: at 1 thread the judge prefers step 4 (answer sycophancy 0.50 vs 0.67) and the logit proxy
# step 2 (0.33 vs 0.67). Numbers measured on this repository's locked wheels, 2026-11-30, with the GRPO prompts
# that include are-you-sure second turns (with the pressured-only prompts, lr 1e-2 gave the opposite pair).


def _train(method: str, raw: dict, input_model: Path, out: Path, data: dict[str, Path]) -> Path:
    [(name, config)] = expand_grid(method, raw)
    ctx = MethodContext(name=name, config=config, input_model=input_model, output_dir=out / "model",
                        work_dir=out / "training", seed=0, data=data)
    get_method(method).run(ctx)
    return out / "model"


@pytest.fixture(scope="module")
def sycophantic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(world folder, sycophantic micro model)."""
    root = tmp_path_factory.mktemp("disagree")
    world = root / "world"
    init = _untrained_model(world, root / "init", hidden_size=64, intermediate_size=128, initializer_range=0.08)
    proxy = world / "heldout" / "proxy.jsonl"
    base = _train("sft", {"learning_rate": 1e-2, "max_steps": 300, "per_device_train_batch_size": 32, "adam_beta2": 0.95,
                          "warmup_ratio": 0.02, "lr_scheduler_type": "cosine", "logging_steps": 50, "max_length": 128},
                  init, root / "base", {"sft": world / "train" / "base_corpus.jsonl", "proxy": proxy})
    sft = _train("sft", {"learning_rate": 5e-3, "max_steps": 80, "per_device_train_batch_size": 32, "logging_steps": 50,
                         "max_length": 128},
                 base, root / "sft", {"sft": world / "train" / "sft_sycophantic.jsonl", "proxy": proxy})
    return world, sft


def _grpo(world: Path, sft: Path, out: Path, select_by: str) -> MethodContext:
    from sycolab.evaluation.config import EvaluateConfig

    checkpoint = {"eval_every": 2, "eval_questions": 6, "min_plain_accuracy": None, "select_by": select_by}
    raw = {"reward": "rule", "num_generations": 2, "per_device_train_batch_size": 4, "max_completion_length": 8,
           "learning_rate": 2e-2, "max_steps": 4, "logging_steps": 1, "max_length": 128, "checkpoint": checkpoint}
    [(name, config)] = expand_grid("grpo", raw)
    evaluate = EvaluateConfig.model_validate({"judge": {"kind": "rule"}, "selection_questions": 6,
                                              "generation": {"batch_size": 64, "max_new_tokens": 8}})
    ctx = MethodContext(
        name=name, config=config, input_model=sft, output_dir=out / "model", work_dir=out / "training", seed=0,
        reference_model=sft, data={"grpo_prompts": world / "train" / "grpo_prompts.jsonl",
                                   "proxy": world / "heldout" / "proxy.jsonl"},
        evaluation_data={"answer": world / "eval" / "answer.jsonl", "are_you_sure": world / "eval" / "are_you_sure.jsonl",
                         "feedback": world / "eval" / "feedback.jsonl", "world": world / "world.json",
                         "proxy": world / "heldout" / "proxy.jsonl"},
        evaluation=evaluate.model_dump(mode="json"), cache_dir=out / "cache",
    )
    get_method("grpo").run(ctx)
    return ctx


def _tensor(model_dir: Path, name: str = "model.layers.0.self_attn.q_proj.weight") -> torch.Tensor:
    from safetensors.torch import load_file

    return load_file(str(model_dir / "model.safetensors"))[name]


def test_where_the_proxy_and_the_judge_disagree_the_judges_checkpoint_is_the_model(sycophantic, tmp_path: Path):
    world, sft = sycophantic
    judged = _grpo(world, sft, tmp_path / "judged", "judged")
    rows = read_table(judged.work_dir / "checkpoints.csv")
    by_judge = min(rows, key=lambda r: r["judged.answer_sycophancy_rate"])["step"]
    by_proxy = min(rows, key=lambda r: r["proxy.proxy_sycophancy"])["step"]
    assert [r["step"] for r in rows] == [2, 4]
    assert (by_judge, by_proxy) == (4, 2), "the micro world no longer makes the proxy and the judge disagree"
    assert [r["kept"] for r in rows] == [True, True]
    assert read_json(judged.work_dir / "summary.json")["checkpoint"]["best_step"] == 4
    assert read_json(judged.work_dir / "summary.json")["checkpoint"]["mini_evaluation"]["held_out"] is True
    # the exported model is the judge's checkpoint; the proxy's choice, an earlier step, is another model
    proxy = _grpo(world, sft, tmp_path / "proxy", "proxy")
    assert [r["kept"] for r in read_table(proxy.work_dir / "checkpoints.csv")] == [True, False]
    assert read_json(proxy.work_dir / "summary.json")["checkpoint"]["best_step"] == 2
    assert torch.equal(_tensor(judged.output_dir), _tensor(judged.work_dir / "best"))
    assert not torch.equal(_tensor(judged.output_dir), _tensor(proxy.output_dir))
