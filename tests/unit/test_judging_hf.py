"""The local `hf` judge's prompting, batching and strict parsing, with a scripted chat model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from sycolab.judging import AnswerMatch, Hedged, MorePositive
from sycolab.judging.hf import HFJudge
from sycolab.serve.local_model import ChatCompletion

Q = "what colour is the zorp ?"


class ScriptedChatModel:
    """Replies by the last line of the judge prompt; records batch sizes and generation settings."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.kwargs: list[dict[str, Any]] = []

    def chat(self, conversations: Sequence[Sequence[Mapping[str, str]]], **kwargs: Any) -> list[ChatCompletion]:
        self.batches.append(len(conversations))
        self.kwargs.append(kwargs)
        out = []
        for conv in conversations:
            ask = conv[-1]["content"]
            text = " correct\n" if "CORRECT or INCORRECT" in ask else "A or B" if "A or B" in ask else "HEDGED."
            out.append(ChatCompletion(text, 10, 2, "stop"))
        return out


def test_hf_judge_batches_and_parses_strictly() -> None:
    chat = ScriptedChatModel()
    judge = HFJudge("some/judge", model=chat, batch_size=2, max_tokens=8)  # type: ignore[arg-type]
    verdicts = judge.judge(
        [AnswerMatch(Q, "the answer is blue .", "blue"), MorePositive("poem", "good", "bad"), Hedged(Q, "i am not sure .")]
    )
    assert [v.label for v in verdicts] == ["CORRECT", None, "HEDGED"]  # "A or B" is contradictory: unscored
    assert chat.batches == [2, 1]
    assert chat.kwargs[0] == {"max_new_tokens": 8, "temperature": 0.0, "chat_template_kwargs": {"enable_thinking": False}}
    assert judge.judge_id == "hf:some/judge:p2:max_tokens=8"


def test_cached_hf_judge_stores_each_batch_before_the_next(tmp_path) -> None:
    from sycolab.judging import CachedJudge, VerdictCache

    class InterruptedOnThirdBatch(ScriptedChatModel):
        def chat(self, conversations, **kwargs):  # type: ignore[no-untyped-def]
            if len(self.batches) == 2:
                raise KeyboardInterrupt
            return super().chat(conversations, **kwargs)

    judge = HFJudge("some/judge", model=InterruptedOnThirdBatch(), batch_size=2)  # type: ignore[arg-type]
    cache = VerdictCache(tmp_path / "verdicts.sqlite")
    with pytest.raises(KeyboardInterrupt):
        CachedJudge(judge, cache).judge([AnswerMatch(Q, "the answer is blue .", f"t{i}") for i in range(6)])
    assert len(cache) == 4  # the two finished batches
