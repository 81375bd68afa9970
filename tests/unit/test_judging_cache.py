"""Verdict cache: keyed by judge id and request, WAL, counts calls, stores unscored but never failures."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import pytest
from pydantic import ValidationError

from sycolab.judging import (
    AnswerMatch,
    CachedJudge,
    Hedged,
    JudgeConfig,
    JudgeRequest,
    RuleJudge,
    Verdict,
    VerdictCache,
    build_judge,
)

Q = "what colour is the zorp ?"


class CountingJudge:
    """Scripted judge: replies from a table keyed by response text; counts every request it is asked."""

    def __init__(self, replies: dict[str, Verdict], judge_id: str = "scripted:v1") -> None:
        self.replies = replies
        self.judge_id = judge_id
        self.asked: list[JudgeRequest] = []

    def judge(self, requests: Sequence[JudgeRequest]) -> list[Verdict]:
        self.asked.extend(requests)
        return [self.replies[r.response] for r in requests]  # type: ignore[union-attr]


def test_second_evaluation_makes_zero_calls(tmp_path) -> None:
    inner = CountingJudge({"ok": Verdict("CORRECT", "CORRECT"), "garbage": Verdict(None, "CORRECT-ish")})
    path = tmp_path / "cache" / "verdicts.sqlite"
    requests = [AnswerMatch(Q, "ok", "blue"), AnswerMatch(Q, "garbage", "blue"), AnswerMatch(Q, "ok", "blue")]
    first = CachedJudge(inner, VerdictCache(path)).judge(requests)
    assert len(inner.asked) == 2  # the repeated request is asked once
    second_judge = CachedJudge(inner, VerdictCache(path))
    second = second_judge.judge(requests)
    assert len(inner.asked) == 2  # nothing new asked
    assert [v.label for v in second] == [v.label for v in first] == ["CORRECT", None, "CORRECT"]
    assert second[1].raw == "CORRECT-ish"  # unscored parsed replies are cached with their raw text
    assert (second_judge.hits, second_judge.misses) == (3, 0)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_failed_calls_are_not_cached(tmp_path) -> None:
    inner = CountingJudge({"x": Verdict(None, "", error="HTTP 503 (gave up after 3 attempts)", failed=True)})
    cached = CachedJudge(inner, VerdictCache(tmp_path / "v.sqlite"))
    [v] = cached.judge([Hedged(Q, "x")])
    assert v.error is not None and len(cached.cache) == 0
    cached.judge([Hedged(Q, "x")])
    assert len(inner.asked) == 2  # asked again


def test_cache_is_per_judge_id(tmp_path) -> None:
    path = tmp_path / "v.sqlite"
    a = CountingJudge({"r": Verdict("HEDGED", "HEDGED")}, judge_id="a")
    b = CountingJudge({"r": Verdict("COMMITTED", "COMMITTED")}, judge_id="b")
    assert CachedJudge(a, VerdictCache(path)).judge([Hedged(Q, "r")])[0].label == "HEDGED"
    assert CachedJudge(b, VerdictCache(path)).judge([Hedged(Q, "r")])[0].label == "COMMITTED"
    assert len(a.asked) == len(b.asked) == 1


def test_many_requests_span_query_chunks(tmp_path) -> None:
    n = 1234  # more than one SELECT chunk of 500
    inner = CountingJudge({f"r{i}": Verdict("NO" if i % 2 else "YES", "") for i in range(n)})
    path = tmp_path / "v.sqlite"
    requests = [Hedged(Q, f"r{i}") for i in range(n)]
    CachedJudge(inner, VerdictCache(path)).judge(requests)
    again = CachedJudge(inner, VerdictCache(path)).judge(requests)
    assert len(inner.asked) == n
    assert [v.label for v in again] == ["NO" if i % 2 else "YES" for i in range(n)]


def test_build_judge_rule_with_and_without_cache(tmp_path) -> None:
    judge = build_judge(JudgeConfig(), tmp_path / "v.sqlite")
    assert isinstance(judge, CachedJudge) and isinstance(judge.inner, RuleJudge)
    assert judge.judge([AnswerMatch(Q, "the answer is blue .", "blue")])[0].label == "CORRECT"
    assert isinstance(build_judge(JudgeConfig(kind="rule"), None), RuleJudge)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "openai"}, "needs base_url, model"),
        ({"kind": "openai", "base_url": "localhost:8000/v1", "model": "m"}, "must start with http"),
        ({"kind": "hf"}, "needs model_path"),
        ({"kind": "openai", "base_url": "http://x/v1", "model": "m", "api_key_env": "sk-abc.123"}, "NAME of an environment variable"),
        ({"kind": "rule", "max_concurrency": 0}, "greater than or equal to 1"),
        ({"kind": "rule", "api_key": "sk-x"}, "Extra inputs are not permitted"),
    ],
)
def test_judge_config_validation(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        JudgeConfig(**fields)


def test_interrupted_judging_keeps_finished_chunks(tmp_path) -> None:
    class FailsOnSecondChunk(CountingJudge):
        def judge(self, requests: Sequence[JudgeRequest]) -> list[Verdict]:
            if self.asked:
                raise KeyboardInterrupt
            return super().judge(requests)

    inner = FailsOnSecondChunk({f"r{i}": Verdict("YES", "YES") for i in range(5)})
    path = tmp_path / "v.sqlite"
    with pytest.raises(KeyboardInterrupt):
        CachedJudge(inner, VerdictCache(path), chunk_size=2).judge([Hedged(Q, f"r{i}") for i in range(5)])
    assert len(VerdictCache(path)) == 2  # the first chunk was stored before the interruption
