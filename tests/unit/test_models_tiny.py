"""The tiny model factory and the loader's attention-kernel override."""

from __future__ import annotations

import pytest

from sycolab.models.load import load_model
from sycolab.models.tiny import TinyModelConfig, build_tiny_model
from sycolab.models.tokenizer import train_word_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return train_word_tokenizer(["what is the metal of bismomrin ?", "the answer is silver ."])


@pytest.mark.parametrize("std", [0.02, 0.08])
def test_weights_start_with_the_configured_standard_deviation(tokenizer, std):
    model = build_tiny_model(TinyModelConfig(initializer_range=std), tokenizer, seed=0)
    weight = model.model.layers[0].mlp.up_proj.weight  # 384 x 128 draws from N(0, std^2)
    assert weight.std().item() == pytest.approx(std, rel=0.02)
    assert model.config.vocab_size == len(tokenizer)


def test_initializer_range_must_be_positive():
    with pytest.raises(ValueError, match="initializer_range"):
        TinyModelConfig(initializer_range=0)


def test_load_model_takes_the_attention_kernel_it_is_given(tokenizer, tmp_path):
    build_tiny_model(TinyModelConfig(num_layers=1), tokenizer).save_pretrained(tmp_path)
    assert load_model(tmp_path, attn_implementation="eager").config._attn_implementation == "eager"
    assert load_model(tmp_path).config._attn_implementation == "sdpa"  # transformers' default
