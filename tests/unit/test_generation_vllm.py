"""The vLLM backend's pure mapping functions (vLLM itself is not needed)."""

from __future__ import annotations

import json

import pytest

from sycolab.errors import UserError
from sycolab.generation import SamplingParams, VLLMOptions
from sycolab.generation.vllm import (
    ModelSource,
    completions_from_output,
    request_seed,
    resolve_model_source,
    split_by_continuation,
    vllm_chat_kwargs,
    vllm_engine_kwargs,
    vllm_sampling_kwargs,
)


def test_greedy_maps_to_one_temperature_zero_request():
    kwargs = vllm_sampling_kwargs(SamplingParams(max_new_tokens=24, n=3, seed=5, top_p=0.5, stop=("\n",)))
    assert kwargs == {
        "n": 1, "temperature": 0.0, "top_p": 1.0, "max_tokens": 24, "stop": ["\n"], "seed": None,
        "skip_special_tokens": True,
    }


def test_sampling_maps_every_field():
    params = SamplingParams(max_new_tokens=16, temperature=0.7, top_p=0.9, top_k=20, n=8, seed=2, stop=(".", "?"))
    assert vllm_sampling_kwargs(params, seed=1234) == {
        "n": 8, "temperature": 0.7, "top_p": 0.9, "top_k": 20, "max_tokens": 16, "stop": [".", "?"], "seed": 1234,
        "skip_special_tokens": True,
    }
    assert vllm_sampling_kwargs(SamplingParams(temperature=0.7), seed=1)["top_k"] == -1  # 0 = off -> vLLM's -1


def test_request_seed_depends_on_seed_and_prompt_only():
    params = SamplingParams(temperature=1.0, seed=2)
    a, b = [{"role": "user", "content": "a"}], [{"role": "user", "content": "b"}]
    assert request_seed(params, a) == request_seed(params, [dict(a[0])])
    assert request_seed(params, a) != request_seed(params, b)
    assert request_seed(params, a) != request_seed(SamplingParams(temperature=1.0, seed=3), a)
    assert 0 <= request_seed(params, a) < 2**31
    assert request_seed(SamplingParams(), a) is None


def test_chat_kwargs_continue_or_open_a_turn():
    assert vllm_chat_kwargs(False) == {
        "add_generation_prompt": True, "continue_final_message": False,
        "chat_template_kwargs": {"enable_thinking": False},
    }
    assert vllm_chat_kwargs(True)["continue_final_message"] is True
    assert vllm_chat_kwargs(True)["add_generation_prompt"] is False


def test_split_by_continuation():
    user = [{"role": "user", "content": "q"}]
    cont = user + [{"role": "assistant", "content": "the answer is"}]
    assert split_by_continuation([user, cont, user, cont]) == ([0, 2], [1, 3])


def test_outputs_are_post_processed_and_greedy_copied_n_times():
    assert completions_from_output(["<think>x</think> blue .\n"], SamplingParams(n=3)) == ["blue ."] * 3
    sampled = SamplingParams(temperature=1.0, n=2)
    assert completions_from_output([" red", "green "], sampled) == ["red", "green"]


def test_adapter_folder_resolves_to_base_plus_lora(tmp_path):
    (tmp_path / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "Qwen/Qwen3-8B"}))
    assert resolve_model_source(tmp_path) == ModelSource(base="Qwen/Qwen3-8B", adapter=str(tmp_path))
    assert resolve_model_source("Qwen/Qwen3-8B") == ModelSource(base="Qwen/Qwen3-8B")
    (tmp_path / "adapter_config.json").write_text("{}")
    with pytest.raises(UserError, match="base_model_name_or_path"):
        resolve_model_source(tmp_path)


def test_engine_kwargs_enable_lora_only_for_adapters():
    options = VLLMOptions(gpu_memory_utilization=0.5, max_model_len=2048, max_lora_rank=32)
    full = vllm_engine_kwargs(ModelSource("m"), options)
    assert full["model"] == "m" and full["max_model_len"] == 2048 and "enable_lora" not in full
    lora = vllm_engine_kwargs(ModelSource("m", "/a"), options)
    assert lora["enable_lora"] is True and lora["max_lora_rank"] == 32
    assert "max_model_len" not in vllm_engine_kwargs(ModelSource("m"), VLLMOptions())


class _FakeOutput:
    def __init__(self, texts):
        self.outputs = [type("Completion", (), {"text": t})() for t in texts]


class _FakeLLM:
    """Stands in for vllm.LLM: the first-token call returns the allowed token ids' words in turn, the
    continuation call echoes the continued assistant turn; every call is recorded."""

    def __init__(self, tokenizer):
        self.tokenizer, self.calls = tokenizer, []

    def get_tokenizer(self):
        return self.tokenizer

    def chat(self, messages, sampling, **kwargs):
        self.calls.append((messages, sampling, kwargs))
        outs = []
        for m, s in zip(messages, sampling):
            if "allowed_token_ids" in s:
                words = self.tokenizer.convert_ids_to_tokens(s["allowed_token_ids"])
                outs.append(_FakeOutput([words[k % len(words)] for k in range(s["n"])]))
            else:
                outs.append(_FakeOutput([f" then [{m[-1]['content']}]"]))
        return outs


def test_first_token_constraint_is_a_one_token_call_then_a_continuation(monkeypatch):
    from types import SimpleNamespace

    import sycolab.generation.vllm as vllm_backend
    from sycolab.models.testing import build_tiny_tokenizer

    llm = _FakeLLM(build_tiny_tokenizer())
    monkeypatch.setattr(vllm_backend, "vllm_available", lambda: True)
    monkeypatch.setattr(vllm_backend, "_import_vllm", lambda: SimpleNamespace(SamplingParams=lambda **kw: kw))
    monkeypatch.setattr(vllm_backend._ENGINES, "get", lambda source, options: llm)
    backend = vllm_backend.VLLMBackend("some/model", "m")
    prompt = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "the answer is"}]
    params = SamplingParams(max_new_tokens=5, temperature=0.7, top_k=20, n=2, seed=3,
                            allowed_first_tokens=("blue", "red"), stop=("\n",))
    seen = []
    out = backend.generate([prompt], params, on_batch=lambda idx, comps: seen.append((idx, comps)))
    assert out == [["blue then [the answer isblue]", "red then [the answer isred]"]]
    assert seen == [([0], out)]
    (first_msgs, first_sp, first_kw), (rest_msgs, rest_sp, _) = llm.calls
    tok = llm.tokenizer
    assert first_sp[0]["allowed_token_ids"] == tok.convert_tokens_to_ids(["blue", "red"])
    assert (first_sp[0]["max_tokens"], first_sp[0]["n"], first_sp[0]["stop"]) == (1, 2, [])
    assert first_kw["continue_final_message"] is True
    assert [m[-1]["content"] for m in rest_msgs] == ["the answer isblue", "the answer isred"]
    assert all(s["n"] == 1 and s["max_tokens"] == 4 and s["top_k"] == 20 and s["stop"] == ["\n"]
               and "allowed_token_ids" not in s for s in rest_sp)
    assert rest_sp[0]["seed"] != rest_sp[1]["seed"]  # each sample continues under its own seed
    with pytest.raises(UserError, match="only to prompts that continue an assistant turn"):
        backend.generate([prompt[:1]], params)
