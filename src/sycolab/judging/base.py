"""The judge protocol: the grader is a role chosen by config (`build_judge`), not a hard-wired model."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Protocol, runtime_checkable

from sycolab.judging.requests import JudgeRequest, Verdict


@runtime_checkable
class Judge(Protocol):
    """Grades typed requests. `judge_id` names the grader and its prompt version (the verdict cache key);
    `judge` returns one Verdict per request, in order. A reply that cannot be parsed gives an unscored
    verdict (label None), never a default grade."""

    judge_id: str

    def judge(self, requests: Sequence[JudgeRequest]) -> list[Verdict]: ...


@runtime_checkable
class StreamingJudge(Judge, Protocol):
    """A judge that hands each verdict over as it arrives, so a caller can store it at once (the HTTP
    judge: an interrupted evaluation then loses only the calls in flight)."""

    def iter_verdicts(self, requests: Sequence[JudgeRequest]) -> Generator[tuple[int, Verdict], None, None]:
        """(index into `requests`, verdict) for every request exactly once, in the order they arrive.
        Closing the iterator early stops the calls not yet made."""
        ...
