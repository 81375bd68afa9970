"""The batched transformers backend: batching does not change greedy outputs, sampling is seeded,
assistant turns are continued, reasoning/stop/eos handling, PEFT models."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
import torch
from transformers import LogitsProcessor, LogitsProcessorList

from sycolab.errors import UserError
from sycolab.generation import HFBackend, SamplingParams, postprocess_completion, render_prompt
from sycolab.models.testing import DEFAULT_WORDS, build_tiny_model

torch.set_num_threads(1)


def _prompts(count: int, seed: int = 0) -> list[list[dict]]:
    rng = random.Random(seed)
    words = [w for w in DEFAULT_WORDS if w not in ("user", "assistant", "system")]
    return [
        [{"role": "user", "content": " ".join(rng.choice(words) for _ in range(rng.randint(1, 14)))}]
        for _ in range(count)
    ]


def _greedy_by_hand(model, tok, messages, max_new_tokens):
    """Reference decoder: full forward pass per step, argmax, stop at eos; no cache, no padding (the random
    model emits <think>/</think> tokens too, so the same post-processing applies)."""
    ids = tok(render_prompt(tok, messages), add_special_tokens=False)["input_ids"]
    new = []
    with torch.no_grad():
        for _ in range(max_new_tokens):
            nxt = int(model(torch.tensor([ids + new])).logits[0, -1].argmax())
            if nxt == tok.eos_token_id:
                break
            new.append(nxt)
    return postprocess_completion(tok.decode(new, skip_special_tokens=True))


def test_batched_greedy_equals_one_prompt_at_a_time(model, tok):
    prompts = _prompts(12)
    assert len({len(p[0]["content"].split()) for p in prompts}) >= 6  # really different lengths
    params = SamplingParams(max_new_tokens=8)
    batched = HFBackend(model, tok, "tiny", batch_size=5, progress=False).generate(prompts, params)
    single = HFBackend(model, tok, "tiny", batch_size=1, progress=False)
    one_by_one = [single.generate([p], params)[0] for p in prompts]
    assert batched == one_by_one
    assert all(len(c) == 1 for c in batched)
    # and both agree with a plain argmax loop without KV cache or padding
    assert [c[0] for c in batched[:4]] == [_greedy_by_hand(model, tok, p, 8) for p in prompts[:4]]
    assert len({c[0] for c in batched}) > 3  # the outputs are not all the same string


def test_sampling_is_reproducible_under_the_same_seed(model, tok):
    backend = HFBackend(model, tok, "tiny", batch_size=3, progress=False)
    prompts = _prompts(4, seed=1)
    params = SamplingParams(max_new_tokens=8, temperature=1.0, n=3, seed=7)
    first = backend.generate(prompts, params)
    assert first == backend.generate(prompts, params)
    assert [len(c) for c in first] == [3, 3, 3, 3]
    assert any(len(set(c)) > 1 for c in first)  # the n samples differ from each other
    other_seed = backend.generate(prompts, SamplingParams(max_new_tokens=8, temperature=1.0, n=3, seed=8))
    assert other_seed != first


def test_sampling_leaves_the_global_rng_alone(model, tok):
    backend = HFBackend(model, tok, "tiny", progress=False)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    backend.generate(_prompts(2), SamplingParams(max_new_tokens=4, temperature=1.0, seed=5))
    assert torch.equal(torch.rand(3), expected)


def test_greedy_with_n_returns_n_copies(model, tok):
    out = HFBackend(model, tok, "tiny", progress=False).generate(_prompts(2), SamplingParams(max_new_tokens=5, n=3))
    assert all(len(c) == 3 and len(set(c)) == 1 for c in out)


def test_prompt_ending_in_assistant_turn_is_continued(model, tok):
    messages = [
        {"role": "user", "content": "what is the colour of zorb ?"},
        {"role": "assistant", "content": "the answer is"},
    ]
    backend = HFBackend(model, tok, "tiny", progress=False)
    assert backend.render_prompt(messages).endswith("<|im_start|>assistant\nthe answer is")
    out = backend.generate([messages, _prompts(1)[0]], SamplingParams(max_new_tokens=6))
    assert out[0][0] == _greedy_by_hand(model, tok, messages, 6)
    restarted = [messages[0]]  # what a restart would look like: a new assistant turn after the question
    assert out[0][0] != _greedy_by_hand(model, tok, restarted, 6)


class _ScriptedLogits(LogitsProcessor):
    """Adds a huge bias to the scripted token at each decoding step (then leaves the logits alone).

    Public seam: `generate` calls a logits processor once per new token with the sequences so far, so the
    step is the number of tokens past the prompt width; no private call convention of `forward` is used."""

    def __init__(self, ids: list[int], prompt_width: int, state: dict):
        self.ids, self.prompt_width, self.state = ids, prompt_width, state

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        step = input_ids.shape[1] - self.prompt_width
        self.state["calls"] += 1
        if step < len(self.ids):
            scores = scores.clone()
            scores[:, self.ids[step]] += 1e4
        return scores


def _script(model, tok, words):
    """Make `model` emit exactly `words` (then anything): every `generate` call gets a `_ScriptedLogits`."""
    ids = [tok.convert_tokens_to_ids(w) for w in words]
    original = model.generate
    state = {"calls": 0}

    def generate(*args, input_ids=None, logits_processor=None, **kwargs):
        processors = LogitsProcessorList(logits_processor or [])
        processors.append(_ScriptedLogits(ids, input_ids.shape[1], state))
        return original(*args, input_ids=input_ids, logits_processor=processors, **kwargs)

    model.generate = generate
    return state


def test_reasoning_is_removed_and_end_of_turn_ends_the_completion(tok):
    model = build_tiny_model(tok, seed=3)
    _script(model, tok, ["<think>", "zorb", "?", "</think>", "blue", ".", "<|im_end|>", "red", "red"])
    out = HFBackend(model, tok, "tiny", progress=False).generate(_prompts(2), SamplingParams(max_new_tokens=9))
    assert out == [["blue ."], ["blue ."]]


def test_unclosed_reasoning_yields_an_empty_completion(tok):
    model = build_tiny_model(tok, seed=3)
    _script(model, tok, ["<think>", "zorb", "zorb", "zorb"])
    out = HFBackend(model, tok, "tiny", progress=False).generate(_prompts(1), SamplingParams(max_new_tokens=4))
    assert out == [[""]]


def test_stop_string_truncates_and_stops_generation_early(tok):
    model = build_tiny_model(tok, seed=3)
    state = _script(model, tok, ["blue", "green", ".", "red", "red", "red", "red", "red"])
    backend = HFBackend(model, tok, "tiny", progress=False)
    assert backend.generate(_prompts(1), SamplingParams(max_new_tokens=8, stop=(".",))) == [["blue green"]]
    assert state["calls"] == 3  # one step per new token: generation ended on the token that completed "."
    assert backend.generate(_prompts(1), SamplingParams(max_new_tokens=8, stop=("green", "."))) == [["blue"]]


def test_peft_wrapped_model_generates_like_its_base(tok):
    from peft import LoraConfig, get_peft_model

    base = build_tiny_model(tok, seed=5)
    prompts = _prompts(6, seed=2)
    params = SamplingParams(max_new_tokens=6)
    expected = HFBackend(base, tok, "base", batch_size=4, progress=False).generate(prompts, params)
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    # LoRA's B matrices start at zero, so the adapter does not change outputs yet.
    assert HFBackend(peft_model, tok, "lora", batch_size=4, progress=False).generate(prompts, params) == expected


def test_training_mode_is_restored_and_batches_are_reported(model, tok):
    model.train()
    seen: list[int] = []
    try:
        backend = HFBackend(model, tok, "tiny", batch_size=4, progress=False)
        out = backend.generate(_prompts(10), SamplingParams(max_new_tokens=3), on_batch=lambda idx, c: seen.extend(idx))
        assert model.training
    finally:
        model.eval()
    assert sorted(seen) == list(range(10)) and len(out) == 10


def test_model_generation_defaults_do_not_leak_into_sampling(tok):
    model = build_tiny_model(tok, seed=6)
    # A checkpoint's generation_config.json (Qwen3 ships do_sample/temperature/top_k/top_p defaults);
    # top_k=1 would turn sampling into greedy decoding and repetition_penalty would change greedy outputs.
    expected_greedy = HFBackend(model, tok, "m", progress=False).generate(_prompts(3), SamplingParams(max_new_tokens=6))
    model.generation_config.update(do_sample=True, temperature=0.6, top_k=1, top_p=0.95, repetition_penalty=5.0)
    backend = HFBackend(model, tok, "m", progress=False)
    assert backend.generate(_prompts(3), SamplingParams(max_new_tokens=6)) == expected_greedy
    sampled = backend.generate(_prompts(1), SamplingParams(max_new_tokens=6, temperature=1.0, n=6, seed=0))
    assert len(set(sampled[0])) > 1


def test_sampling_with_top_k_1_equals_greedy(model, tok):
    prompts = _prompts(6, seed=3)
    greedy = HFBackend(model, tok, "tiny", progress=False).generate(prompts, SamplingParams(max_new_tokens=8))
    top1 = HFBackend(model, tok, "tiny", progress=False).generate(
        prompts, SamplingParams(max_new_tokens=8, temperature=1.5, top_k=1, n=3, seed=7)
    )
    assert top1 == [c * 3 for c in greedy]
    # and without top_k the same temperature really samples something else
    free = HFBackend(model, tok, "tiny", progress=False).generate(
        prompts, SamplingParams(max_new_tokens=8, temperature=1.5, n=3, seed=7)
    )
    assert free != top1


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_first_token_constraint_allows_only_the_given_tokens(model, tok, temperature):
    # one new token, so each completion is exactly the first generated token
    prompts = [p[:1] + [{"role": "assistant", "content": "the answer is"}] for p in _prompts(10, seed=4)]
    free_params = SamplingParams(max_new_tokens=1, temperature=temperature, n=4, seed=1)
    free = HFBackend(model, tok, "tiny", batch_size=4, progress=False).generate(prompts, free_params)
    assert {c for comps in free for c in comps} - {"blue", "red"}  # unconstrained, other first tokens occur
    params = replace(free_params, allowed_first_tokens=("blue", "red"))
    constrained = HFBackend(model, tok, "tiny", batch_size=4, progress=False).generate(prompts, params)
    firsts = {c for comps in constrained for c in comps}
    assert firsts <= {"blue", "red"}
    if temperature:
        assert firsts == {"blue", "red"}  # sampling draws among both allowed tokens


def test_first_token_constraint_refuses_a_string_that_is_not_one_token(model, tok):
    backend = HFBackend(model, tok, "tiny", progress=False)
    with pytest.raises(UserError, match="'blue red' is not a single token"):
        backend.generate(_prompts(1), SamplingParams(max_new_tokens=2, allowed_first_tokens=("blue red",)))
