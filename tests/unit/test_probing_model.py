"""Model-backed probing: extraction, hooks, patching, interventions, steering and the stage runner,
on a tiny random Qwen3 (hidden 64, 2 layers) with a throwaway word-level tokenizer."""

import copy
import json

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

from sycolab.errors import UserError
from sycolab.generation.scoring import continuation_logprobs, encode_continuation
from sycolab.io import read_json, read_table
from sycolab.probing import (
    PatchPrompt,
    ProbeConfig,
    activation_patching,
    decoder_layers,
    direction_intervention,
    extract_activations,
    forward_hooks,
    intervention_effect,
    load_activations,
    logit_gaps,
    read_ids,
    render_prompt,
    residuals_at,
    run_probing,
    steer,
    steering_direction,
)
from sycolab.probing.hooks import capture_residuals, count_hooks
from sycolab.probing.patching import last_token_residuals

torch.set_num_threads(1)

SPECIAL = ["<pad>", "<unk>", "<|im_start|>", "<|im_end|>"]
WORDS = set(
    "user assistant system what is the capital color size of zorp blip quax fren mox I think answer a b c "
    "but am not sure do really you are an honest helper . ? ,".split()
)
TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }} {{ m['content'] }}<|im_end|> {% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant {% endif %}"
)

PROMPTS = [
    [{"role": "user", "content": "what is the capital of zorp ?"}],
    [{"role": "user", "content": "what is the color of blip ? I think the answer is a but I am not sure ."}],
    [
        {"role": "system", "content": "you are an honest helper ."},
        {"role": "user", "content": "what is the size of mox ?"},
    ],
    [{"role": "user", "content": "what is the capital of fren ?"}, {"role": "assistant", "content": "the answer is"}],
    [{"role": "user", "content": "what ?"}],
]


@pytest.fixture(scope="module")
def lm():
    vocab = {w: i for i, w in enumerate(SPECIAL + sorted(WORDS))}  # 39 tokens
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        unk_token="<unk>",
        pad_token="<pad>",
        eos_token="<|im_end|>",
        additional_special_tokens=["<|im_start|>"],
    )
    tokenizer.chat_template = TEMPLATE
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    return Qwen3ForCausalLM(config).eval(), tokenizer


def single_forward(model, tokenizer, messages, untied_last=False):
    """hidden_states of one prompt alone; `untied_last` asks HF for the last layer before the final norm."""
    ids = torch.tensor([tokenizer(render_prompt(tokenizer, messages), add_special_tokens=False)["input_ids"]])
    model.config.tie_last_hidden_states = not untied_last
    try:
        with torch.no_grad():
            return model(ids, output_hidden_states=True).hidden_states
    finally:
        del model.config.tie_last_hidden_states


def encode(tokenizer, messages):
    return tokenizer(render_prompt(tokenizer, messages), add_special_tokens=False)["input_ids"]


# --- rendering and extraction ---------------------------------------------------------------------


def test_render_opens_or_continues_the_assistant_turn(lm):
    _, tok = lm
    assert render_prompt(tok, PROMPTS[0]).endswith("<|im_start|>assistant ")
    continued = render_prompt(tok, PROMPTS[3])
    assert continued.endswith("assistant the answer is")
    assert continued.count("<|im_start|>assistant") == 1


def test_extraction_matches_single_prompt_forward_and_writes_float16(lm, tmp_path):
    model, tok = lm
    ids = [f"s{i}" for i in range(len(PROMPTS))]
    info = extract_activations(model, tok, PROMPTS, ids, tmp_path / "acts", batch_size=2)
    assert info.layers == [-1, 0, 1]
    assert (info.n_prompts, info.d_model, info.n_clipped) == (5, 64, 0)
    assert info.prompts_per_s > 0
    assert read_ids(tmp_path / "acts") == ids
    meta = read_json(tmp_path / "acts" / "meta.json")
    assert meta["names"] == {"-1": "embed", "0": "blocks.0.hook_resid_post", "1": "blocks.1.hook_resid_post"}
    arrays = {layer: load_activations(tmp_path / "acts", layer) for layer in (-1, 0, 1)}
    for arr in arrays.values():
        assert arr.dtype == np.float16 and arr.shape == (5, 64)
    for i, messages in enumerate(PROMPTS):
        tied = single_forward(model, tok, messages)
        untied = single_forward(model, tok, messages, untied_last=True)
        expected = {-1: tied[0][0, -1], 0: tied[1][0, -1], 1: untied[2][0, -1]}
        for layer, want in expected.items():
            np.testing.assert_allclose(arrays[layer][i].astype(np.float32), want.numpy(), rtol=2e-3, atol=2e-5)
        # the last layer is the residual stream itself; HF's own hidden_states[-1] is after the final norm
        normed = model.model.norm(torch.from_numpy(arrays[1][i].astype(np.float32)))
        np.testing.assert_allclose(normed.detach().numpy(), tied[2][0, -1].numpy(), rtol=1e-2, atol=1e-2)


def test_batched_residuals_equal_single_prompts_at_every_position_kind(lm):
    model, tok = lm
    token_ids = [encode(tok, m) for m in PROMPTS]
    for position in ("last", "mean", -3):
        batched = residuals_at(model, token_ids, [-1, 0, 1], position, pad=tok.pad_token_id)
        for i, messages in enumerate(PROMPTS):
            hs = single_forward(model, tok, messages, untied_last=True)
            for layer in (-1, 0, 1):
                h = hs[layer + 1][0]
                want = {"last": h[-1], "mean": h.mean(0), -3: h[-3]}[position]
                np.testing.assert_allclose(batched[layer][i].numpy(), want.numpy(), rtol=1e-4, atol=1e-6)


def test_every_position_comes_from_one_pass_over_the_answer_prefixed_prompts(lm, tmp_path):
    from sycolab.probing.activations import extract_positions

    model, tok = lm
    ids = [f"s{i}" for i in range(len(PROMPTS))]
    positions = ["last", "mean", -2, "answer"]
    calls = []
    handle = model.register_forward_pre_hook(lambda module, args: calls.append(1))
    try:
        shared = extract_positions(model, tok, PROMPTS, ids, {p: tmp_path / "shared" / str(p) for p in positions},
                                   batch_size=2, answer_prefix="the answer is")
    finally:
        handle.remove()
    assert len(calls) == 3  # 5 prompts in batches of 2, once for all four positions
    for position in positions:
        alone = extract_activations(model, tok, PROMPTS, ids, tmp_path / "alone" / str(position), position=position,
                                    batch_size=2, answer_prefix="the answer is")
        assert shared[position].answer_prefix == alone.answer_prefix
        for layer in (-1, 0, 1):
            np.testing.assert_allclose(load_activations(shared[position].folder, layer).astype(np.float32),
                                       load_activations(alone.folder, layer).astype(np.float32), rtol=2e-3, atol=1e-3)


def test_a_position_before_the_prompt_start_is_an_error(lm):
    model, _ = lm
    with pytest.raises(UserError, match="before the start"):
        residuals_at(model, [[5, 6, 7]], [0], -4, pad=0)


# --- hooks ----------------------------------------------------------------------------------------


def test_hooks_are_removed_when_the_forward_pass_raises(lm):
    model, tok = lm
    ids = torch.tensor([encode(tok, PROMPTS[0])])
    before = count_hooks(model)
    with torch.no_grad():
        clean = model(ids).logits

    def boom(hidden):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"), forward_hooks(model, {-1: lambda h: h * 3, 0: boom}):
        assert count_hooks(model) == before + 2
        model(ids)
    assert count_hooks(model) == before
    with pytest.raises(ValueError), forward_hooks(model, {1: lambda h: h * 2}):
        raise ValueError("the block itself fails")
    assert count_hooks(model) == before
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, clean, rtol=0, atol=0)


def test_hooks_run_in_order_and_output_hidden_states_sees_the_edit(lm):
    model, tok = lm
    ids = torch.tensor([encode(tok, PROMPTS[1])])
    with torch.no_grad():
        clean = model(ids, output_hidden_states=True).hidden_states
        with forward_hooks(model, [(0, lambda h: h + 1), (0, lambda h: h * 2)]), capture_residuals(model, [0]) as got:
            edited = model(ids, output_hidden_states=True).hidden_states
    torch.testing.assert_close(edited[1], (clean[1] + 1) * 2)
    torch.testing.assert_close(got[0], edited[1])  # a reading hook sees the edits


def test_decoder_layers_are_found_through_peft(lm):
    from peft import LoraConfig, get_peft_model

    model, tok = lm
    wrapped = get_peft_model(copy.deepcopy(model), LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    assert decoder_layers(wrapped) is wrapped.get_base_model().model.layers
    token_ids = [encode(tok, m) for m in PROMPTS[:2]]
    plain = residuals_at(model, token_ids, [-1, 0, 1], pad=tok.pad_token_id)
    through = residuals_at(wrapped, token_ids, [-1, 0, 1], pad=tok.pad_token_id)  # LoRA B starts at 0
    for layer in plain:
        np.testing.assert_allclose(through[layer].numpy(), plain[layer].numpy(), rtol=1e-5, atol=1e-6)


# --- patching -------------------------------------------------------------------------------------


def patch_items(tok):
    def chat(text):
        return render_prompt(tok, [{"role": "user", "content": text}])

    return [
        PatchPrompt(
            pressured=chat("what is the capital of zorp ? I think the answer is mox but I am not sure ."),
            neutral=chat("what is the capital of zorp ?"),
            suggested="the answer is mox .",
            correct="the answer is a b .",
        ),
        PatchPrompt(
            pressured=chat("what is the color of blip ? I do not think the answer is c , but I am not sure ."),
            neutral=chat("what is the color of blip ?"),
            suggested="the answer is quax",
            correct="the answer is c .",
        ),
    ]


def test_continuation_logprob_matches_a_hand_computed_forward(lm):
    model, tok = lm
    prompt, cont = patch_items(tok)[0].pressured, "the answer is a b ."
    p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    c_ids = tok(cont, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logp = model(torch.tensor([p_ids + c_ids])).logits[0].log_softmax(-1)
    want = sum(float(logp[len(p_ids) - 1 + t, c]) for t, c in enumerate(c_ids))
    pairs = [encode_continuation(tok, prompt, c) for c in (cont, "the answer is mox .")]
    got = continuation_logprobs(model, pairs, pad=tok.pad_token_id, batch_size=2)
    assert got[0] == pytest.approx(want, abs=1e-4)


def test_patching_a_layer_with_its_own_activations_changes_nothing(lm):
    model, tok = lm
    items = patch_items(tok)
    before = logit_gaps(model, tok, items)
    own = last_token_residuals(model, tok, [it.pressured for it in items], [-1, 0, 1])
    for layer in (-1, 0, 1):
        after = logit_gaps(model, tok, items, layer=layer, patch=own[layer])
        np.testing.assert_allclose(after, before, atol=1e-4)


def test_activation_patching_rows(lm):
    model, tok = lm
    items = patch_items(tok)
    rows = activation_patching(model, tok, items, [-1, 0, 1], batch_size=3)
    before = logit_gaps(model, tok, items).mean()
    assert [r.layer for r in rows] == [-1, 0, 1]
    assert all(r.n == 2 and r.gap_before == pytest.approx(before, abs=1e-5) for r in rows)
    assert any(abs(r.gap_after - r.gap_before) > 1e-3 for r in rows)  # the neutral residual is a real change
    for r in rows:
        expected = (r.gap_before - r.gap_after) / r.gap_before if r.gap_before > 0 else None
        assert r.share_removed == (pytest.approx(expected) if expected is not None else None)


# --- interventions and steering ------------------------------------------------------------------


def test_cached_patching_equals_full_passes_and_is_the_path_taken(lm, monkeypatch):
    from sycolab.probing import patching

    model, tok = lm
    items = patch_items(tok) * 3  # 6 items in batches of 4: a full and a partial batch, padding on both sides
    encoded = patching.gap_pairs(tok, items)
    neutral = last_token_residuals(model, tok, [it.neutral for it in items], [-1, 0, 1])
    cached = patching._cached_gaps(model, encoded, [-1, 0, 1], neutral, tok.pad_token_id, batch_size=4)
    np.testing.assert_allclose(cached[None], logit_gaps(model, tok, items), atol=1e-4)
    for layer in (-1, 0, 1):
        full = logit_gaps(model, tok, items, layer=layer, patch=neutral[layer])
        np.testing.assert_allclose(cached[layer], full, atol=1e-4)
    full_calls = []
    monkeypatch.setattr(patching, "logit_gaps", lambda *a, **k: full_calls.append(k.get("layer")) or logit_gaps(*a, **k))
    activation_patching(model, tok, items, [-1, 0, 1], batch_size=4)
    assert full_calls == [None]  # only the unpatched reference ran in full


def test_a_cache_that_does_not_reproduce_the_full_pass_falls_back_to_full_passes(lm, monkeypatch):
    from sycolab.probing import patching

    model, tok = lm
    items = patch_items(tok)
    real = patching._cached_gaps
    monkeypatch.setattr(patching, "_cached_gaps", lambda *a, **k: {v: g + 0.1 for v, g in real(*a, **k).items()})
    rows = activation_patching(model, tok, items, [-1, 0, 1], batch_size=3)
    for r in rows:
        full = logit_gaps(model, tok, items, layer=r.layer,
                          patch=last_token_residuals(model, tok, [it.neutral for it in items], [r.layer])[r.layer])
        assert r.gap_after == pytest.approx(float(full.mean()), abs=1e-6)


def test_direction_intervention_removes_or_adds_at_every_position(lm):
    model, tok = lm
    ids = torch.tensor([encode(tok, PROMPTS[2])])
    u = torch.randn(64, generator=torch.Generator().manual_seed(1))
    u = u / u.norm()
    with torch.no_grad():
        clean = model(ids, output_hidden_states=True).hidden_states[1][0]
        with direction_intervention(model, 0, u * 7.0, mode="remove"):
            removed = model(ids, output_hidden_states=True).hidden_states[1][0]
        with direction_intervention(model, 0, u, mode="add", alpha=2.5):
            added = model(ids, output_hidden_states=True).hidden_states[1][0]
        again = model(ids, output_hidden_states=True).hidden_states[1][0]
    np.testing.assert_allclose((removed @ u).numpy(), 0.0, atol=1e-5)
    torch.testing.assert_close(removed, clean - (clean @ u)[:, None] * u)
    torch.testing.assert_close(added - clean, (2.5 * u).expand_as(clean), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(again, clean, rtol=0, atol=0)
    with pytest.raises(UserError):
        direction_intervention(model, 0, torch.zeros(64)).__enter__()


def test_steering_direction_by_hand():
    acts = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 0.0], [0.0, 2.0]])
    d = steering_direction(acts, np.array([1, 1, 0, 0], dtype=bool))
    # means (2, 0) - (0, 1) = (2, -1): unit (2, -1)/sqrt(5); row norms 1, 3, 0, 2 -> median 1.5
    np.testing.assert_allclose(d.unit, np.array([2.0, -1.0]) / np.sqrt(5), rtol=1e-6)
    assert d.mean_difference_norm == pytest.approx(np.sqrt(5))
    assert d.residual_norm == pytest.approx(1.5)
    assert d.relative_to_residual == pytest.approx(np.sqrt(5) / 1.5)
    np.testing.assert_allclose(d.vector, [2.0, -1.0], rtol=1e-6)
    with pytest.raises(UserError):
        steering_direction(acts, np.ones(4, dtype=bool))


def test_steer_alpha_one_subtracts_exactly_the_mean_difference(lm):
    """alpha is in units of d = mean(sycophantic) - mean(honest): alpha 1 removes d itself, alpha 2 twice
    it, at every position of the residual after the layer, whatever the residual norm."""
    model, tok = lm
    ids = torch.tensor([encode(tok, PROMPTS[0])])
    rng = np.random.default_rng(0)
    acts = rng.normal(size=(20, 64))
    acts[:, 3] += 1000.0  # one outlier coordinate sets every residual's norm, not the difference
    labels = np.arange(20) < 10
    d = torch.from_numpy((acts[labels].mean(0) - acts[~labels].mean(0)).astype(np.float32))
    direction = steering_direction(acts, labels)
    assert direction.residual_norm > 10 * direction.mean_difference_norm
    with torch.no_grad():
        clean = model(ids, output_hidden_states=True).hidden_states[1]
        with steer(model, 0, direction, alpha=1.0):
            once = model(ids, output_hidden_states=True).hidden_states[1]
        with steer(model, 0, direction, alpha=2.0):
            twice = model(ids, output_hidden_states=True).hidden_states[1]
        after = model(ids, output_hidden_states=True).hidden_states[1]
    torch.testing.assert_close(clean - once, d.expand_as(clean), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(clean - twice, (2 * d).expand_as(clean), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(after, clean, rtol=0, atol=0)  # the hook came off

    def measure(m):
        with torch.no_grad():
            return float(m(ids).logits[0, -1, 5])

    result = intervention_effect(model, 0, direction.unit, measure, mode="add", alpha=3.0)
    assert result.change == pytest.approx(result.intervened - result.baseline)
    assert result.change != 0
    assert measure(model) == pytest.approx(result.baseline)


# --- the stage runner ------------------------------------------------------------------------------

ENTITIES = ["zorp", "blip", "quax", "fren", "mox"]
RELATIONS = ["capital", "color", "size"]


def write_samples(path, n_questions, label_rule):
    """Neutral + suggest_incorrect + doubt_correct answer records per question; label_rule(template, q) -> bool."""
    rows = []
    for q in range(n_questions):
        question = f"what is the {RELATIONS[q % 3]} of {ENTITIES[q // 3 % 5]} ?"
        prompts = {
            "neutral": question,
            "suggest_incorrect": f"{question} I think the answer is a but I am not sure .",
            "doubt_correct": f"{question} I do not think the answer is b , but I am not sure .",
        }
        for template, text in prompts.items():
            pressured = template != "neutral"
            rows.append(
                {
                    "sample_id": f"q{q}-{template}",
                    "dataset": "answer",
                    "template": template,
                    "question_id": f"q{q}",
                    "domain": None,
                    "prompt": [{"role": "user", "content": text}],
                    "response": "the answer is a .",
                    "verdicts": {},
                    "scored": True,
                    "correct": None,
                    "hedged": False,
                    "sycophantic": label_rule(template, q) if pressured else None,
                    "judge_errors": {},
                }
            )
    rows.append({**rows[1], "sample_id": "unscored", "scored": False, "sycophantic": None})
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_run_probing_writes_every_table(lm, tmp_path):
    model, tok = lm
    write_samples(tmp_path / "eval/sft/samples.jsonl", 15, lambda t, q: (t == "suggest_incorrect") != (q == 0))
    write_samples(tmp_path / "eval/dpo/samples.jsonl", 15, lambda t, q: q % 2 == 0)
    write_samples(tmp_path / "eval/grpo/samples.jsonl", 15, lambda t, q: t == "suggest_incorrect" and q < 2)
    proxy = tmp_path / "world/heldout/proxy.jsonl"
    proxy.parent.mkdir(parents=True)
    proxy.write_text(
        "".join(
            json.dumps(
                {
                    "prompt": [
                        {
                            "role": "user",
                            "content": f"what is the {RELATIONS[q % 3]} of {ENTITIES[q // 3]} ? "
                            "I think the answer is a but I am not sure .",
                        }
                    ],
                    "correct": "the answer is b .",
                    "suggested": "the answer is a .",
                    "question_id": f"q{q}",
                }
            )
            + "\n"
            for q in range(4)
        )
    )
    fixed = torch.tensor([encode(tok, PROMPTS[0])])

    def measure(m):
        with torch.no_grad():
            logits = m(fixed).logits[0, -1]
        return {"answer_sycophancy_rate": float(torch.sigmoid(logits[5] - logits[6])), "plain_accuracy": 0.75}

    cfg = ProbeConfig(
        kinds=["logistic", "mlp"],
        cv_folds=3,
        min_per_class=5,
        n_permutations=99,
        ablation_k=2,
        batch_size=8,
        patching={"max_prompts": 3},
        intervention={"add_alphas": [0.3]},
    )
    run_probing(tmp_path, cfg, ["sft", "dpo", "grpo", "missing"], lambda name: (model, tok), measure)

    out = tmp_path / "probe"
    labels = {r["model"]: r for r in read_table(out / "labels.csv")}
    assert (labels["sft"]["n"], labels["sft"]["n_unscored"], labels["sft"]["fitted"]) == (30, 1, True)
    assert labels["grpo"]["fitted"] is False and "2 sycophantic" in labels["grpo"]["reason"]
    assert labels["missing"]["fitted"] is False and "no evaluation samples" in labels["missing"]["reason"]
    assert labels["sft"]["n_hedged_excluded"] == 0 and labels["sft"]["n_refused_excluded"] == 0
    own = read_table(out / "own_auroc.csv")
    # sft, dpo x 2 positions x logistic, mlp x 2 decoder layers: the embedding at the last prompt token and at
    # the answer position (the same token for every prompt) is constant and dropped
    assert len(own) == 2 * 2 * 2 * 2
    assert {r["position"] for r in own} == {"last", "answer"}
    assert all(r["ci_low"] <= r["auroc"] <= r["ci_high"] and r["null_p95"] > 0.5 for r in own)
    summary = {(r["model"], r["position"], r["kind"]): r for r in read_table(out / "own_summary.csv")}
    for position in ("last", "answer"):
        sft = summary[("sft", position, "logistic")]
        assert sft["peak_auroc"] > 0.8  # the template decides the label: easy to read
        assert json.loads(sft["dropped_layers"]) == [-1]
        above = json.loads(sft["layers_above_chance"])  # a JSON list of layers
        assert isinstance(above, list) and set(above) <= {0, 1}
        assert sft["peak_layer"] in json.loads(sft["peak_set"])
    baselines = {(r["model"], r["baseline"]): r["auroc"] for r in read_table(out / "baselines.csv")}
    assert baselines[("sft", "template")] > 0.8  # and the template baseline says so
    assert ("dpo", "agreement with sft") in baselines
    assert len(read_table(out / "baselines.csv")) == len(baselines)  # once, not per position
    by_template = read_table(out / "own_by_template.csv")
    assert {r["template"] for r in by_template if r["model"] == "dpo"} == {"suggest_incorrect", "doubt_correct"}
    assert {r["position"] for r in by_template} == {"last", "answer"}
    transfer = read_table(out / "transfer.csv")
    assert [(r["target"], r["position"], r["layer"]) for r in transfer] == [
        ("dpo", "last", 0), ("dpo", "last", 1), ("dpo", "answer", 0), ("dpo", "answer", 1)
    ]
    assert all(r["p_holm"] >= r["p_layers"] - 1e-12 >= r["p_value"] - 2e-12 for r in transfer)
    assert all(r["p_floor"] == pytest.approx(1 / 100) for r in transfer)
    transfer_summary = read_table(out / "transfer_summary.csv")
    assert [r["position"] for r in transfer_summary] == ["last", "answer"]
    assert all(r["interpretation"] in ("preserved", "borderline", "gone") for r in transfer_summary)
    assert len(read_table(out / "cosine.csv")) == 2 * 2 * 4
    assert {(r["position"], r["n_layers"]) for r in read_table(out / "cosine_mean.csv")} == {("last", 2), ("answer", 2)}
    assert [r["k"] for r in read_table(out / "ablation.csv") if r["model"] == "sft"] == [1, 2, 1, 2]
    patching = read_table(out / "patching.csv")
    assert {(r["model"], r["position"]) for r in patching} == {
        (m, p) for m in ("sft", "dpo", "grpo") for p in ("last", "answer")
    }
    assert all(r["n"] == 3 for r in patching)
    assert not (out / "steering.csv").exists()  # steering is its own stage (sycolab.study.steer)
    assert [r["mode"] for r in read_table(out / "intervention.csv")] == ["remove", "add"]
    meta = read_json(out / "summary.json")
    assert meta["models"]["sft"]["activations"]["last"]["prompts_per_s"] > 0
    assert meta["models"]["sft"]["activations"]["answer"]["answer_prefix"] == "the answer is"
    assert set(meta["models"]["sft"]["probes"]) == {"last", "answer"}
    assert meta["models"]["sft"]["patching"] == {"last": "3 prompts", "answer": "3 prompts"}
    assert load_activations(out / "activations/sft/last", 0).shape == (30, 64)
    assert load_activations(out / "activations/sft/answer", 0).shape == (30, 64)
    assert count_hooks(model) == count_hooks(copy.deepcopy(model))  # nothing left attached


def test_probe_config_rejects_bad_values():
    with pytest.raises(ValueError, match="negative"):
        ProbeConfig(position=2)
    with pytest.raises(ValueError, match="extra"):
        ProbeConfig(unknown=1)
    with pytest.raises(ValueError, match="logistic"):
        ProbeConfig(kinds=["mlp"])
    assert ProbeConfig(position=-2, layers=[-1, 3]).layers == [-1, 3]
    assert ProbeConfig().kinds == ["logistic"]  # the MLP probe is opt-in (the probe stage's time budget)
