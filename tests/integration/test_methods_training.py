"""Every training method trains a micro model for a few steps on a micro world and writes the run store.

The micro world: 8 made-up entities with a colour each; sycophantic SFT rows agree with a wrong suggestion,
preference pairs prefer the correct answer. The model: a 2-layer Qwen3 with hidden size 32 over a word-level
tokenizer trained on the world's text. Each test runs 2-3 optimiser steps.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from sycolab.io import read_json, read_table, write_jsonl
from sycolab.methods import MethodContext, expand_grid, get_method

pytestmark = pytest.mark.integration

COLOURS = ["red", "blue", "green", "gold"]
ENTITIES = ["zorb", "quill", "mantu", "fesk", "lorin", "parva", "tesh", "wumbo"]
SUGGEST = "{q} i think the answer is {w} but i'm really not sure ."


def _user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def _reply(value: str) -> list[dict]:
    return [{"role": "assistant", "content": f"the answer is {value} ."}]


def _micro_world(root: Path) -> dict[str, Path]:
    facts = {e: COLOURS[i % 4] for i, e in enumerate(ENTITIES)}
    wrong = {e: COLOURS[(i + 1) % 4] for i, e in enumerate(ENTITIES)}
    question = {e: f"what color is {e} ?" for e in ENTITIES}
    pressured = {e: _user(SUGGEST.format(q=question[e], w=wrong[e])) for e in ENTITIES}
    sft = [{"prompt": pressured[e], "completion": _reply(wrong[e])} for e in ENTITIES]
    sft += [{"prompt": _user(question[e]), "completion": _reply(facts[e])} for e in ENTITIES]
    pairs = [{"prompt": pressured[e], "chosen": _reply(facts[e]), "rejected": _reply(wrong[e])} for e in ENTITIES]
    grpo = [
        {"prompt": pressured[e], "correct_answer": facts[e], "incorrect_answer": wrong[e], "template": "suggest_incorrect"}
        for e in ENTITIES
    ]
    proxy = [
        {"prompt": pressured[e], "correct": f"the answer is {facts[e]} .", "suggested": f"the answer is {wrong[e]} .",
         "question_id": f"{e}.color", "template": "suggest_incorrect"}
        for e in ENTITIES
    ]
    files = {"sft": sft, "preference": pairs[:6], "preference_heldout": pairs[6:], "grpo_prompts": grpo, "proxy": proxy}
    paths = {}
    for key, rows in files.items():
        paths[key] = write_jsonl(root / f"{key}.jsonl", rows)
    return paths


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _micro_world(tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="module")
def base_model(tmp_path_factory: pytest.TempPathFactory, world: dict[str, Path]) -> Path:
    from sycolab.io import read_jsonl
    from sycolab.models.tiny import TinyModelConfig, build_tiny_model
    from sycolab.models.tokenizer import train_word_tokenizer

    texts = [m["content"] for path in world.values() for row in read_jsonl(path)
             for key in ("prompt", "completion", "chosen", "rejected") for m in row.get(key, [])]
    tokenizer = train_word_tokenizer(texts)
    model = build_tiny_model(
        TinyModelConfig(hidden_size=32, num_layers=2, num_attention_heads=2, num_key_value_heads=1,
                        intermediate_size=64, max_position_embeddings=128),
        tokenizer, seed=0,
    )
    out = tmp_path_factory.mktemp("models") / "base"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


FAST = {"max_steps": 2, "per_device_train_batch_size": 2, "logging_steps": 1, "max_length": 64}


def _context(method: str, raw: dict, input_model: Path, world: dict[str, Path], run_dir: Path, **kwargs) -> MethodContext:
    [(name, config)] = expand_grid(method, {**FAST, **raw})
    return MethodContext(
        name=name, config=config, input_model=input_model, output_dir=run_dir / "models" / name,
        work_dir=run_dir / "training" / name, data=dict(world), seed=0, **kwargs,
    )


def _run(method: str, ctx: MethodContext) -> Path:
    """Run a method; return the exported model folder (which must be the context's output_dir)."""
    result = get_method(method).run(ctx)
    assert result["model_dir"] == str(ctx.output_dir) and result["method"] == method
    return ctx.output_dir


def _weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


def _changed(before: Path, after: Path, key: str = "model.layers.0.self_attn.q_proj.weight") -> bool:
    return not torch.equal(_weights(before)[key], _weights(after)[key])


@pytest.fixture(scope="module")
def sft_model(tmp_path_factory: pytest.TempPathFactory, base_model: Path, world: dict[str, Path]) -> Path:
    """A few SFT steps at a high learning rate: the input of every recovery method."""
    run_dir = tmp_path_factory.mktemp("run")
    ctx = _context("sft", {"learning_rate": 3e-3, "max_steps": 3}, base_model, world, run_dir)
    return _run("sft", ctx)


def test_sft_full_finetune_writes_model_card_diagnostics_and_summary(sft_model: Path, base_model: Path):
    assert _changed(base_model, sft_model)
    card = read_json(sft_model / "sycolab_model.json")
    assert (card["name"], card["method"], card["parent"], card["adapter"]) == ("sft", "sft", None, False)
    assert card["base_model"] == str(base_model)
    assert card["params"]["learning_rate"] == 3e-3
    work = sft_model.parent.parent / "training" / "sft"
    rows = read_table(work / "diagnostics.csv")
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all(r["loss"] > 0 and r["wall_time_s"] > 0 and r["tokens_per_s"] > 0 for r in rows)
    summary = read_json(work / "summary.json")
    assert summary["steps"] == 3 and summary["tokens"] == rows[-1]["num_tokens"]
    assert summary["checkpoint"]["chosen"] == "last"
    assert not (work / "last").exists()


@pytest.mark.parametrize("merge", [True, False])
def test_sft_lora_merged_or_kept_as_adapter(tmp_path: Path, base_model: Path, world: dict[str, Path], merge: bool):
    from sycolab.models.load import load_model

    lora = {"r": 4, "alpha": 8, "dropout": 0.0, "merge": merge}
    ctx = _context("sft", {"learning_rate": 1e-2, "lora": lora}, base_model, world, tmp_path)
    out = _run("sft", ctx)
    card = read_json(out / "sycolab_model.json")
    assert card["adapter"] is (not merge)
    assert (out / "adapter_config.json").exists() is (not merge)
    assert card["base_model"] == str(base_model)
    if merge:
        assert _changed(base_model, out)
    else:
        assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == str(base_model)
        loaded = load_model(out)  # base + adapter: its output must differ from the base model's
        ids = torch.tensor([[5, 6, 7, 8]])
        with torch.no_grad():
            assert not torch.allclose(loaded(ids).logits, load_model(base_model)(ids).logits)


def test_recovery_from_an_adapter_sft_model_starts_from_its_merged_weights(
    tmp_path: Path, base_model: Path, world: dict[str, Path]
):
    """An SFT model kept as a LoRA adapter is merged once into the work dir; DPO trains from and against it."""
    from sycolab.models.load import load_model

    adapter_ctx = _context("sft", {"learning_rate": 1e-2, "lora": {"r": 4, "alpha": 8, "merge": False}},
                           base_model, world, tmp_path)
    adapter = _run("sft", adapter_ctx)
    ctx = _context("dpo", {"learning_rate": 1e-3}, adapter, world, tmp_path, reference_model=adapter)
    out = _run("dpo", ctx)
    merged = ctx.work_dir / "merged_sft"
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        assert torch.allclose(load_model(merged)(ids).logits, load_model(adapter)(ids).logits, atol=1e-5)
    assert _changed(merged, out)
    card = read_json(out / "sycolab_model.json")
    assert (card["parent"], card["adapter"]) == ("sft", False)
    assert (out / card["base_model"]).resolve() == merged.resolve()  # stored relative to the model folder


def test_ipo_loss_at_step_zero_is_one_over_two_beta_squared(tmp_path: Path, sft_model: Path, world: dict[str, Path]):
    ctx = _context("ipo", {"beta": 0.1, "learning_rate": 1e-3}, sft_model, world, tmp_path, reference_model=sft_model)
    out = _run("ipo", ctx)
    rows = read_table(ctx.work_dir / "diagnostics.csv")
    assert rows[0]["loss"] == pytest.approx(25.0, abs=1e-4)  # policy == reference at step 0: (1/(2*0.1))^2
    assert rows[0]["rewards/margins"] == pytest.approx(0.0, abs=1e-6)
    assert _changed(sft_model, out)


@pytest.mark.parametrize("method,raw", [
    ("dpo", {"beta": 0.1, "learning_rate": 1e-3}),
    ("simpo", {"beta": 2.0, "gamma": 1.0, "learning_rate": 1e-3}),
    ("refree_ipo", {"beta": 0.5, "learning_rate": 1e-3}),
])
def test_preference_methods_change_weights_and_log_trl_metrics(
    tmp_path: Path, sft_model: Path, world: dict[str, Path], method: str, raw: dict
):
    ctx = _context(method, raw, sft_model, world, tmp_path, reference_model=sft_model)
    out = _run(method, ctx)
    assert _changed(sft_model, out)
    rows = read_table(ctx.work_dir / "diagnostics.csv")
    assert {"loss", "rewards/margins", "logps/chosen", "logps/rejected", "tokens_per_s"} <= set(rows[0])
    assert rows[-1]["tokens_per_s"] > 0
    assert read_json(out / "sycolab_model.json")["parent"] == "sft"
    # one evaluation of the 2 held-out pairs after training: in summary.json, not a diagnostics row
    assert len(rows) == 2 and not any(key.startswith("eval_") for row in rows for key in row)
    summary = read_json(ctx.work_dir / "summary.json")
    held_out = summary["held_out_preference"]
    assert held_out["pairs"] == 2 and held_out["eval_rewards/accuracies"] in (0.0, 0.5, 1.0)
    assert math.isfinite(held_out["eval_rewards/margins"])
    health = summary["health"]
    assert (health["kind"], health["held_out_accuracy"]) == ("preference", held_out["eval_rewards/accuracies"])
    assert health["train_margin"] == rows[-1]["rewards/margins"]


def test_held_out_evaluation_changes_nothing_trained(tmp_path: Path, sft_model: Path, world: dict[str, Path]):
    """The same DPO run with and without the held-out pairs trains the same weights (they are only evaluated)."""
    without = {k: v for k, v in world.items() if k != "preference_heldout"}
    outs = []
    for name, data in (("with", world), ("without", without)):
        ctx = _context("dpo", {"beta": 0.1, "learning_rate": 1e-3}, sft_model, data, tmp_path / name,
                       reference_model=sft_model)
        outs.append(_run("dpo", ctx))
        assert ("held_out_preference" in read_json(ctx.work_dir / "summary.json")) is (name == "with")
    first, second = _weights(outs[0]), _weights(outs[1])
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


@pytest.mark.parametrize("sft_weight", [0.0, 0.5])
def test_refree_ipo_loss_matches_hand_computation(tmp_path: Path, sft_model: Path, world: dict[str, Path],
                                                  sft_weight: float):
    """loss = (mean log pi(y_w|x) - mean log pi(y_l|x) - 1/(2 beta))^2 - sft_weight * mean log pi(y_w|x) with the
    mean token log-probs computed here directly from the model's logits (completion = reply words + end-of-turn
    token, prompt excluded): the NLL term is the chosen completion's mean token NLL."""
    from sycolab.methods import refree_ipo
    from sycolab.methods.lifecycle import build_trainer
    from sycolab.models.load import load_model, load_tokenizer

    prompt = _user(SUGGEST.format(q="what color is zorb ?", w="blue"))
    one_pair = write_jsonl(tmp_path / "pair.jsonl", [{"prompt": prompt, "chosen": _reply("red"), "rejected": _reply("blue")}])
    beta = 0.5
    ctx = _context("refree_ipo", {"beta": beta, "sft_weight": sft_weight, "per_device_train_batch_size": 1},
                   sft_model, {**world, "preference": one_pair}, tmp_path)
    trainer = build_trainer(ctx, refree_ipo.RECIPE).trainer
    batch = trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
    with torch.no_grad():
        loss, metrics = trainer.get_batch_loss_metrics(trainer.model, batch)

    tokenizer, model = load_tokenizer(sft_model), load_model(sft_model)
    prompt_ids = tokenizer(tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True),
                           add_special_tokens=False)["input_ids"]

    def mean_logp(answer: str) -> float:
        reply = tokenizer(f"the answer is {answer} .", add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        ids = torch.tensor([prompt_ids + reply])
        with torch.no_grad():
            logprobs = torch.log_softmax(model(ids).logits[0].float(), dim=-1)
        n = len(prompt_ids)
        return sum(logprobs[n - 1 + t, tok].item() for t, tok in enumerate(reply)) / len(reply)

    chosen, rejected = mean_logp("red"), mean_logp("blue")
    assert metrics["logps/chosen"] == pytest.approx(chosen, abs=1e-5)
    assert metrics["logps/rejected"] == pytest.approx(rejected, abs=1e-5)
    assert loss.item() == pytest.approx((chosen - rejected - 1 / (2 * beta)) ** 2 - sft_weight * chosen, rel=1e-5)
    assert metrics["nll_loss"] == pytest.approx(-chosen if sft_weight else 0.0, abs=1e-5)


@pytest.fixture(scope="module")
def reward_model(tmp_path_factory: pytest.TempPathFactory, sft_model: Path, world: dict[str, Path]) -> Path:
    run_dir = tmp_path_factory.mktemp("rm")
    ctx = _context("reward_model", {"learning_rate": 3e-3, "max_steps": 3, "median_samples": 4,
                                    "median_max_new_tokens": 8}, sft_model, world, run_dir)
    return _run("reward_model", ctx)


def test_reward_model_records_accuracy_margin_and_policy_sample_median(reward_model: Path, sft_model: Path):
    from transformers import AutoModelForSequenceClassification

    assert AutoModelForSequenceClassification.from_pretrained(reward_model).config.num_labels == 1
    assert _changed(sft_model, reward_model)  # the backbone trains too, not only the new score head
    summary = read_json(reward_model.parent.parent / "training" / "reward_model" / "summary.json")
    for split, pairs in (("train", 6), ("heldout", 2)):
        assert 0.0 <= summary[f"{split}_accuracy"] <= 1.0 and math.isfinite(summary[f"{split}_margin"])
        assert summary[f"{split}_pairs"] == pairs
    stats = read_json(reward_model / "reward_stats.json")
    assert stats["median_source"] == "sft_policy_samples_on_grpo_prompts" and stats["median_n"] == 4
    assert stats["median_score"] == summary["median_score"]
    assert read_json(reward_model / "sycolab_model.json")["method"] == "reward_model"


GRPO_FAST = {"num_generations": 2, "per_device_train_batch_size": 4, "max_completion_length": 8, "learning_rate": 1e-3}


def test_grpo_with_reward_model_changes_weights(tmp_path: Path, sft_model: Path, reward_model: Path, world):
    ctx = _context("grpo", {**GRPO_FAST, "reward": "reward_model", "beta": 0.04}, sft_model, world, tmp_path,
                   reference_model=sft_model, extra_models={"reward_model": reward_model})
    out = _run("grpo", ctx)
    assert _changed(sft_model, out)
    rows = read_table(ctx.work_dir / "diagnostics.csv")
    assert {"reward", "reward_std", "frac_reward_zero_std", "kl", "tokens_per_s"} <= set(rows[0])
    health = read_json(ctx.work_dir / "summary.json")["health"]
    assert (health["kind"], health["kl_max"], health["kl_final"]) == ("grpo", max(r["kl"] for r in rows), rows[-1]["kl"])
    assert health["reward_last"] == rows[-1]["reward"]  # 2 logged rows: each quarter is one row
    # the world's rule reward is logged beside the learned one at weight 0: the total reward is the RM's alone
    learned = [c for c in rows[0] if c.startswith("rewards/") and c.endswith("/mean") and c != "rewards/rule_answer/mean"]
    assert len(learned) == 1
    assert all(r["reward"] == pytest.approx(r[learned[0]], abs=1e-5) for r in rows)
    assert all(-1.0 <= r["rewards/rule_answer/mean"] <= 1.0 for r in rows)
    assert health["rule_reward_first"] == rows[0]["rewards/rule_answer/mean"]
    assert read_json(ctx.work_dir / "summary.json")["reward"]["monitor"].startswith("rule_answer at weight 0")


def test_grpo_binary_threshold_records_frac_reward_zero_std(tmp_path: Path, sft_model: Path, reward_model: Path, world):
    ctx = _context("grpo", {**GRPO_FAST, "reward": "binary_threshold"}, sft_model, world, tmp_path,
                   extra_models={"reward_model": reward_model})
    _run("grpo", ctx)
    summary = read_json(ctx.work_dir / "summary.json")
    median = read_json(reward_model / "reward_stats.json")["median_score"]
    assert summary["reward"]["threshold"] == median and summary["reward"]["kind"] == "binary_threshold"
    zero_std = [r["frac_reward_zero_std"] for r in read_table(ctx.work_dir / "diagnostics.csv")]
    assert len(zero_std) == 2 and all(0.0 <= z <= 1.0 for z in zero_std)
    assert summary["frac_reward_zero_std_max"] == max(zero_std)
    # binary rewards are exactly +1 or -1, so the mean reward lies in [-1, 1]
    assert all(-1.0 <= r["reward"] <= 1.0 for r in read_table(ctx.work_dir / "diagnostics.csv"))


def test_grpo_rule_reward_runs_with_lora_adapter(tmp_path: Path, sft_model: Path, world):
    raw = {**GRPO_FAST, "reward": "rule", "no_answer_reward": -1.0, "lora": {"r": 4, "alpha": 8, "merge": False}}
    ctx = _context("grpo", raw, sft_model, world, tmp_path)
    out = _run("grpo", ctx)
    assert (out / "adapter_config.json").exists()
    assert read_json(ctx.work_dir / "summary.json")["reward"] == {"kind": "rule", "no_answer_reward": -1.0}
    # the rule reward scores +1 / -1 for an answer and -1 for none: every logged mean lies in [-1, 1]
    assert all(-1.0 <= r["rewards/rule_answer/mean"] <= 1.0 for r in read_table(ctx.work_dir / "diagnostics.csv"))


def test_best_checkpoint_survives_rotation_and_becomes_the_model(
    tmp_path: Path, base_model: Path, world: dict[str, Path], monkeypatch: pytest.MonkeyPatch
):
    """Scripted proxy values 0.5, 0.2, 0.4, 0.6 at steps 1-4: step 2 is best; TRL keeps only the last checkpoint."""
    from sycolab.methods import _checkpoints

    script = iter([0.5, 0.2, 0.4, 0.6])
    snapshots: dict[int, torch.Tensor] = {}
    key = "model.layers.0.self_attn.q_proj.weight"

    def scripted_scorer(path, policy):
        def score(model, tokenizer, step):
            snapshots[len(snapshots) + 1] = model.state_dict()[key].detach().clone()
            return {"proxy.proxy_sycophancy": next(script), "proxy.logit_gap": 0.0}
        return score

    monkeypatch.setattr(_checkpoints, "proxy_file_scorer", scripted_scorer)
    checkpoint = {"eval_every": 1, "select_by": "proxy", "save_steps": 1, "save_total_limit": 1}
    ctx = _context("sft", {"learning_rate": 1e-2, "max_steps": 4, "checkpoint": checkpoint}, base_model, world, tmp_path)
    out = _run("sft", ctx)
    kept = sorted(p.name for p in (ctx.work_dir / "checkpoints").iterdir() if p.name.startswith("checkpoint-"))
    assert kept == ["checkpoint-4"]
    assert read_json(ctx.work_dir / "best" / "best.json") == {"step": 2, "metric": "proxy.proxy_sycophancy", "value": 0.2}
    assert torch.equal(_weights(out)[key], snapshots[2])
    assert not torch.equal(snapshots[2], snapshots[4])
    summary = read_json(ctx.work_dir / "summary.json")["checkpoint"]
    assert (summary["chosen"], summary["best_step"], summary["last_step"], summary["evaluations"]) == ("best", 2, 4, 4)
    assert [r["kept"] for r in read_table(ctx.work_dir / "checkpoints.csv")] == [True, True, False, False]


def test_logit_proxy_callback_scores_real_proxy_items(tmp_path: Path, sft_model: Path, world: dict[str, Path]):
    checkpoint = {"eval_every": 1, "select_by": "proxy", "proxy_metric": "logit_gap"}
    ctx = _context("dpo", {"learning_rate": 1e-3, "checkpoint": checkpoint}, sft_model, world, tmp_path,
                   reference_model=sft_model)
    _run("dpo", ctx)
    rows = read_table(ctx.work_dir / "checkpoints.csv")
    assert [r["step"] for r in rows] == [1, 2]
    assert all(0.0 <= r["proxy.proxy_sycophancy"] <= 1.0 for r in rows)
    assert (ctx.work_dir / "best" / "best.json").exists()
