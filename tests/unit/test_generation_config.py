"""GenerationConfig validation, SamplingParams checks, and build_backend wiring."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sycolab.errors import UserError
from sycolab.generation import (
    CachedBackend,
    GenerationBackend,
    GenerationConfig,
    HFBackend,
    SamplingParams,
    build_backend,
    vllm_available,
)
from sycolab.models.testing import build_tiny_model, build_tiny_tokenizer


def test_defaults_and_sampling_params():
    cfg = GenerationConfig()
    assert (cfg.backend, cfg.batch_size, cfg.max_new_tokens, cfg.temperature, cfg.top_p) == ("hf", 64, 24, 0.0, 1.0)
    assert (cfg.n_samples, cfg.seed, cfg.stop) == (1, 0, [])
    cfg = GenerationConfig(temperature=0.7, n_samples=8, seed=3, stop=["\n"], max_new_tokens=12, top_p=0.9, top_k=20)
    assert cfg.sampling_params() == SamplingParams(
        max_new_tokens=12, temperature=0.7, top_p=0.9, top_k=20, n=8, seed=3, stop=("\n",)
    )
    assert GenerationConfig().sampling_params() == SamplingParams(max_new_tokens=24)
    params = GenerationConfig(temperature=1, stop=["a", "b"]).sampling_params()
    assert type(params.temperature) is float and params.stop == ("a", "b")


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("batch_size", 0, "expected an integer >= 1 (prompts per generation batch), got 0"),
        ("max_new_tokens", 0, "expected an integer >= 1 (tokens generated per completion)"),
        ("temperature", -0.1, "expected a number >= 0 (0 = greedy decoding)"),
        ("top_p", 0.0, "expected a number in (0, 1]"),
        ("top_p", 1.5, "expected a number in (0, 1]"),
        ("top_k", -1, "expected an integer >= 0 (tokens kept when sampling; 0 = no top-k truncation), got -1"),
        ("constrain_mc_letter", "maybe", "valid boolean"),
        ("n_samples", 0, "expected an integer >= 1 (completions per prompt)"),
        ("seed", -1, "expected an integer >= 0"),
        ("stop", [""], "expected non-empty stop strings"),
        ("backend", "tgi", "'hf' or 'vllm'"),
        ("vllm", {"gpu_memory_utilization": 0.0}, "expected a fraction of GPU memory in (0, 1], got 0.0"),
        ("vllm", {"tensor_parallel_size": 0}, "expected an integer >= 1, got 0"),
        ("vllm", {"max_lora_rank": -2}, "expected an integer >= 1, got -2"),
        ("vllm", {"chunk_size": 0}, "expected an integer >= 1, got 0"),
        ("vllm", {"max_model_len": 0}, "expected an integer >= 1 (tokens) or null for the model's own limit, got 0"),
    ],
)
def test_out_of_range_values_say_what_was_expected(field, value, expected):
    with pytest.raises(ValidationError) as err:
        GenerationConfig(**{field: value})
    assert err.value.errors()[0]["loc"][0] == field
    assert expected in str(err.value)


def test_unknown_keys_are_rejected():
    with pytest.raises(ValidationError, match="extra"):
        GenerationConfig(batchsize=8)
    with pytest.raises(ValidationError, match="gpu_memory_utilization"):
        GenerationConfig(vllm={"gpu_memory_utilization": 1.5})


def test_several_samples_need_a_temperature():
    with pytest.raises(ValidationError, match="8 identical greedy completions"):
        GenerationConfig(n_samples=8)


def test_sampling_params_validate_themselves():
    with pytest.raises(UserError, match="n: expected an integer >= 1, got 0"):
        SamplingParams(n=0)
    with pytest.raises(UserError, match="stop: expected a list of strings"):
        SamplingParams(stop=".")
    assert SamplingParams(stop=[".", "\n"]).stop == (".", "\n")  # lists become tuples (hashable)
    assert hash(SamplingParams()) == hash(SamplingParams())


def test_build_backend_hf_with_and_without_cache(tmp_path):
    tok = build_tiny_tokenizer()
    model = build_tiny_model(tok)
    cfg = GenerationConfig(batch_size=16)
    plain = build_backend(cfg, model, tok, "tiny")
    assert isinstance(plain, HFBackend) and plain.batch_size == 16 and plain.model_id == "tiny"
    assert isinstance(plain, GenerationBackend)
    cached = build_backend(cfg, model, tok, "tiny", cache_path=tmp_path / "cache" / "generations.sqlite")
    assert isinstance(cached, CachedBackend) and cached.model_id == "tiny"
    assert (tmp_path / "cache" / "generations.sqlite").exists()


def test_build_backend_rejects_mismatched_model_arguments(tmp_path):
    tok = build_tiny_tokenizer()
    with pytest.raises(UserError, match="needs a loaded model"):
        build_backend(GenerationConfig(), str(tmp_path), tok, "tiny")
    with pytest.raises(UserError, match="needs a model folder or hub id"):
        build_backend(GenerationConfig(backend="vllm"), build_tiny_model(tok), tok, "tiny")


@pytest.mark.skipif(vllm_available(), reason="vLLM is installed here")
def test_selecting_vllm_without_it_installed_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="vLLM is not installed.*generation.backend: hf"):
        build_backend(GenerationConfig(backend="vllm"), str(tmp_path), None, "tiny")


def test_every_out_of_range_field_is_reported_with_its_message():
    with pytest.raises(ValidationError) as err:
        GenerationConfig(batch_size=0, temperature=-1.0, top_k=-1, seed=-1, vllm={"max_model_len": None})
    assert [(e["loc"][0], e["msg"]) for e in err.value.errors()] == [
        ("batch_size", "Value error, expected an integer >= 1 (prompts per generation batch), got 0"),
        ("temperature", "Value error, expected a number >= 0 (0 = greedy decoding), got -1.0"),
        ("top_k", "Value error, expected an integer >= 0 (tokens kept when sampling; 0 = no top-k truncation), got -1"),
        ("seed", "Value error, expected an integer >= 0, got -1"),
    ]
