"""A tiny random Qwen3 model and a throwaway word-level tokenizer for tests and benchmarks (no downloads).

The model comes from the study's factory (`sycolab.models.tiny.build_tiny_model`, which builds the tiny
world's model from a `TinyModelConfig`); this module gives it test-sized keyword shapes and a ChatML tokenizer
over a fixed word list, so a test can generate, score or serve a chat model in milliseconds.

The chat template mimics Qwen's ChatML (`<|im_start|>{role}\\n{content}<|im_end|>\\n`, generation prompt
`<|im_start|>assistant\\n`). It needs no special branch for `continue_final_message`: transformers renders
the final message with a marker appended to its content and cuts the rendered text at that marker, which
drops the `<|im_end|>` the template emits after it. The template must therefore write each message's
content verbatim (no trimming), which this one does. With `qwen3_thinking=True` the generation prompt also
carries Qwen3's empty `<think>\\n\\n</think>\\n\\n` block when `enable_thinking=False` is passed, as the real
Qwen3 template does.

Import it as `from sycolab.models.testing import build_tiny_model, build_tiny_tokenizer` (tests and
benchmarks alike; nothing edits sys.path).
"""

from __future__ import annotations

from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace
from transformers import PreTrainedTokenizerFast, Qwen3ForCausalLM

from sycolab.models.tiny import TinyModelConfig
from sycolab.models.tiny import build_tiny_model as build_model_from_config

PAD, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
UNK = "[UNK]"

DEFAULT_WORDS: tuple[str, ...] = (
    "user", "assistant", "system", "what", "is", "the", "colour", "of", "zorb", "blick", "fen", "mox",
    "answer", "i", "think", "but", "m", "really", "not", "sure", "don", "t", "that", "s", "right",
    "are", "you", "blue", "red", "green", "yellow", "a", "an", "it", "yes", "no", "?", ".", ",", "'",
    "capital", "city", "home", "lives", "in", "who", "where", "sorry", "mistake", "correct", "my",
)

CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

QWEN3_THINKING_CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}"
    "{%- endif %}"
)


def build_tiny_tokenizer(
    words: tuple[str, ...] | list[str] = DEFAULT_WORDS, *, qwen3_thinking: bool = False
) -> PreTrainedTokenizerFast:
    """Word-level tokenizer: ids 0-2 are pad/im_start/im_end (special), 3-4 are <think>/</think> (added,
    not special, as in Qwen3, so they survive `skip_special_tokens`), 5 is [UNK], then `words`."""
    vocab: dict[str, int] = {}
    for token in (PAD, IM_START, IM_END, THINK_OPEN, THINK_CLOSE, UNK, *words):
        vocab.setdefault(token, len(vocab))
    backend = Tokenizer(WordLevel(vocab=vocab, unk_token=UNK))
    backend.pre_tokenizer = Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token=UNK, pad_token=PAD, eos_token=IM_END,
        additional_special_tokens=[IM_START, IM_END],
    )
    tokenizer.add_tokens([THINK_OPEN, THINK_CLOSE], special_tokens=False)
    tokenizer.chat_template = QWEN3_THINKING_CHAT_TEMPLATE if qwen3_thinking else CHAT_TEMPLATE
    return tokenizer


def build_tiny_model(
    tokenizer: PreTrainedTokenizerFast,
    *,
    hidden_size: int = 64,
    intermediate_size: int = 128,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 4,
    num_key_value_heads: int = 2,
    head_dim: int = 16,
    initializer_range: float = 0.2,
    seed: int = 0,
) -> Qwen3ForCausalLM:
    """A random Qwen3ForCausalLM sized to the tokenizer, in eval mode, float32.

    `initializer_range` is larger than the usual 0.02 so that next-token distributions are peaked: greedy
    decoding then has no near-ties that float rounding (batched vs single) could flip. Built by the study's
    factory (`sycolab.models.tiny.build_tiny_model`); `head_dim` must be hidden_size // num_attention_heads.
    """
    if head_dim != hidden_size // num_attention_heads:
        raise ValueError(f"head_dim must be hidden_size // num_attention_heads = {hidden_size // num_attention_heads}, "
                         f"got {head_dim}")
    shape = TinyModelConfig(hidden_size=hidden_size, intermediate_size=intermediate_size, num_layers=num_hidden_layers,
                            num_attention_heads=num_attention_heads, num_key_value_heads=num_key_value_heads,
                            max_position_embeddings=512, tie_word_embeddings=False, initializer_range=initializer_range)
    return build_model_from_config(shape, tokenizer, seed).eval()
