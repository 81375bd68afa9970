"""The tiny world's model: a small Qwen3-architecture causal LM built from config (random init)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # torch stays out of the import graph of configs and reports
    from transformers import PreTrainedTokenizerBase, Qwen3ForCausalLM


class TinyModelConfig(BaseModel):
    """Shape of the tiny Qwen3 model. Defaults give about 1M parameters (hidden 128, 4 layers). Each field is the
    `Qwen3Config` argument of the same name, but `num_layers` (its `num_hidden_layers`)."""

    model_config = ConfigDict(extra="forbid")

    hidden_size: int = Field(128, gt=0)
    num_layers: int = Field(4, gt=0)
    num_attention_heads: int = Field(4, gt=0)
    num_key_value_heads: int = Field(2, gt=0)
    intermediate_size: int = Field(384, gt=0)
    max_position_embeddings: int = Field(256, gt=0)
    tie_word_embeddings: bool = True
    initializer_range: float = Field(0.02, gt=0, description="Std of the normal weight initialisation (Qwen3: 0.02).")


def build_tiny_model(cfg: TinyModelConfig, tokenizer: PreTrainedTokenizerBase, seed: int = 0) -> Qwen3ForCausalLM:
    """A freshly initialised Qwen3ForCausalLM whose vocabulary matches `tokenizer`."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    if cfg.hidden_size % cfg.num_attention_heads:
        raise ValueError("hidden_size must be divisible by num_attention_heads")
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        **cfg.model_dump(exclude={"num_layers"}),  # every other field is a Qwen3Config argument of that name
        num_hidden_layers=cfg.num_layers,
        head_dim=cfg.hidden_size // cfg.num_attention_heads,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model
