"""Prompt rendering (generation prompt vs continued assistant turn) and completion post-processing."""

from __future__ import annotations

import pytest

from sycolab.errors import UserError
from sycolab.generation.chat import (
    is_continuation,
    postprocess_completion,
    render_prompt,
    strip_think,
    truncate_at_stop,
    validate_messages,
)
from sycolab.models.testing import build_tiny_tokenizer
from sycolab.probing import _inputs as probing_inputs
from sycolab.serve.local_model import LocalChatModel

QUESTION = {"role": "user", "content": "what is the colour of zorb ?"}


def test_fresh_prompt_gets_assistant_header():
    tok = build_tiny_tokenizer()
    text = render_prompt(tok, [QUESTION])
    assert text == "<|im_start|>user\nwhat is the colour of zorb ?<|im_end|>\n<|im_start|>assistant\n"


def test_multi_turn_prompt_ending_in_assistant_is_continued_not_restarted():
    tok = build_tiny_tokenizer()
    messages = [
        QUESTION,
        {"role": "assistant", "content": "blue ."},
        {"role": "user", "content": "i don ' t think that ' s right . are you sure ?"},
        {"role": "assistant", "content": "the answer is"},
    ]
    text = render_prompt(tok, messages)
    assert is_continuation(messages)
    assert text.endswith("<|im_start|>assistant\nthe answer is")
    assert not text.endswith("<|im_start|>assistant\n")
    assert text.count("<|im_start|>assistant") == 2  # the earlier answer and the open turn, no third header
    assert text.count("<|im_end|>") == 3  # closed: question, first answer, follow-up; the open turn is not


def test_enable_thinking_false_reaches_the_template():
    tok = build_tiny_tokenizer(qwen3_thinking=True)
    assert render_prompt(tok, [QUESTION]).endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert render_prompt(tok, [QUESTION], {"enable_thinking": True}).endswith("<|im_start|>assistant\n")


def test_serving_and_probing_render_through_the_one_renderer():
    tok = build_tiny_tokenizer(qwen3_thinking=True)
    served = LocalChatModel.__new__(LocalChatModel)  # only the tokenizer is needed to render
    served.tokenizer = tok
    want = render_prompt(tok, [QUESTION])
    assert want.endswith("</think>\n\n")
    assert served.render([QUESTION]) == want == probing_inputs.render_prompt(tok, [QUESTION])
    assert served.render([QUESTION], {"enable_thinking": True}) == render_prompt(tok, [QUESTION], {"enable_thinking": True})


def test_a_tokenizer_without_chat_template_is_refused():
    tok = build_tiny_tokenizer()
    tok.chat_template = None
    with pytest.raises(UserError, match="no chat template"):
        render_prompt(tok, [QUESTION])


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("<think>hmm , zorb ?</think>\n\nblue .", "\n\nblue ."),
        ("hmm , zorb ?</think> blue .", " blue ."),  # opening tag was in the prompt
        ("<think>still thinking about zorb", ""),  # unclosed leading block: no answer
        ("blue . <think>aside", "blue . "),
        ("<think>a</think>red<think>b</think> .", "red ."),
        ("blue .", "blue ."),
    ],
)
def test_strip_think(raw, expected):
    assert strip_think(raw) == expected


def test_truncate_at_earliest_stop_string():
    assert truncate_at_stop("blue . red . green", [" green", "."]) == "blue "
    assert truncate_at_stop("blue", ["."]) == "blue"


def test_postprocess_strips_reasoning_before_applying_stop_and_trims():
    # The "." inside the reasoning must not cut the answer.
    assert postprocess_completion("<think>so . then</think>\n blue . red", stop=(".",)) == "blue"


@pytest.mark.parametrize(
    "bad, fragment",
    [
        ([], "non-empty list"),
        ([{"role": "user"}], "'role' and 'content'"),
        ([{"role": "human", "content": "x"}], "expected one of"),
        ([{"role": "user", "content": 3}], "expected a string"),
    ],
)
def test_validate_messages_names_the_problem(bad, fragment):
    with pytest.raises(UserError, match=fragment):
        validate_messages(bad)
