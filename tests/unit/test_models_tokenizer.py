"""The tiny world's word tokenizer: ids in alphabetical order, whatever the words' counts."""

from __future__ import annotations

from sycolab.models.tokenizer import tiny_vocabulary, train_word_tokenizer

TEXTS = ["the answer is red .", "the answer is blue . are you sure ?", "red red"]


def test_ids_are_special_tokens_then_words_in_alphabetical_order() -> None:
    vocab = train_word_tokenizer(TEXTS).get_vocab()
    # the role names (assistant, system, user) come from the chat template; "." and "?" sort before letters
    expected = ["<|endoftext|>", "<unk>", "<|im_start|>", "<|im_end|>", ".", "?", "answer", "are", "assistant",
                "blue", "is", "red", "sure", "system", "the", "user", "you"]
    assert sorted(vocab, key=vocab.__getitem__) == expected


def test_changing_how_often_words_occur_keeps_every_id() -> None:
    """More rows of a world file (e.g. SFT answering one relation honestly) must not renumber the base's words."""
    more = train_word_tokenizer([*TEXTS, "blue blue blue blue", "you are sure ."]).get_vocab()
    assert more == train_word_tokenizer(TEXTS).get_vocab()


def test_min_frequency_leaves_rare_words_out_of_the_vocabulary() -> None:
    tok = train_word_tokenizer(TEXTS, min_frequency=2)
    assert set(tok.get_vocab()) == {"<|endoftext|>", "<unk>", "<|im_start|>", "<|im_end|>", "red", ".", "answer",
                                    "is", "the"}
    assert tok.decode(tok("the answer is blue .")["input_ids"]) == "the answer is <unk> ."


def test_tiny_vocabulary_is_the_built_tokenizers_vocabulary() -> None:
    """The base stage's key reads the vocabulary without building a tokenizer: it must be the same mapping."""
    assert tiny_vocabulary(TEXTS) == train_word_tokenizer(TEXTS).get_vocab()
    assert tiny_vocabulary([*TEXTS, "green"]) != tiny_vocabulary(TEXTS)
