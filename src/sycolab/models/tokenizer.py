"""A word-level tokenizer trained locally (no downloads), with a Qwen-style chat template.

Words and punctuation are tokens (the `Whitespace` pre-tokenizer splits on `\\w+|[^\\w\\s]+`), so the
tiny world's text maps one word to one token and decoded replies are words joined by single spaces.

Ids are the special tokens, then every word in alphabetical order: they do not depend on how often a word
occurs. `tokenizers`' WordLevelTrainer numbers words by count, so changing the row counts of any world file
(the tokenizer is built from all of them, SFT and preference data included) renumbered the base's vocabulary
and so changed the base model trained from the same seed: on seed 0, answering the last relation honestly in
SFT moved "yes" from id 58 to 55, and the retrained base's plain accuracy went from 0.948 to 0.427.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from tokenizers import Tokenizer, models, pre_tokenizers

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

IM_START, IM_END, PAD, UNK = "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<unk>"
SPECIAL_TOKENS = [PAD, UNK, IM_START, IM_END]

# Qwen's ChatML layout. `continue_final_message=True` (transformers) cuts the rendering after the
# final assistant message's content, so a prompt ending in an assistant turn is continued.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}"
)


def train_word_tokenizer(texts: Iterable[str], min_frequency: int = 1) -> PreTrainedTokenizerFast:
    """A word-level vocabulary of `texts` (words seen at least `min_frequency` times; `word_vocabulary`)
    wrapped as a transformers fast tokenizer."""
    from transformers import PreTrainedTokenizerFast  # heavy: only when a tokenizer is built, not for `tiny_vocabulary`

    pre = pre_tokenizers.Whitespace()
    tok = Tokenizer(models.WordLevel(vocab=word_vocabulary(texts, pre, min_frequency), unk_token=UNK))
    tok.pre_tokenizer = pre
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token=UNK,
        pad_token=PAD,
        eos_token=IM_END,
        bos_token=None,
        additional_special_tokens=[IM_START],
        padding_side="left",
        model_max_length=512,
    )
    wrapped.chat_template = CHAT_TEMPLATE
    return wrapped


def tiny_vocabulary(texts: Iterable[str]) -> dict[str, int]:
    """{token: id} of the tokenizer `train_word_tokenizer(texts)` builds, without building it."""
    return word_vocabulary(texts, pre_tokenizers.Whitespace())


def word_vocabulary(texts: Iterable[str], pre: pre_tokenizers.PreTokenizer, min_frequency: int = 1) -> dict[str, int]:
    """{token: id}: the special tokens (ids 0-3), then the words `pre` splits `texts` into (role names
    included) in alphabetical order; words seen fewer than `min_frequency` times left out."""
    counts: Counter[str] = Counter()
    for text in _with_roles(texts):
        counts.update(word for word, _ in pre.pre_tokenize_str(text))
    words = sorted(w for w, c in counts.items() if c >= min_frequency and w not in SPECIAL_TOKENS)
    return {token: i for i, token in enumerate([*SPECIAL_TOKENS, *words])}


def _with_roles(texts: Iterable[str]) -> Iterable[str]:
    yield "system user assistant"
    yield from texts
