"""SQLite verdict cache (`RUN_DIR/cache/verdicts.sqlite`) and the judge wrapper that uses it.

Keyed by (judge id, sha256 of the request's canonical JSON). Only replies are stored, scored or
unscored (unparseable) alike, each as soon as it arrives; a verdict without a reply (`Verdict.error`
set: the call failed, or the server rejected the request) is never stored, so a later run asks again.
Raw replies are stored with credential-shaped strings redacted. WAL mode lets several processes (sweep
cells evaluated in parallel) share one file (`sycolab.shared_sqlite`).
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from contextlib import closing
from pathlib import Path

from sycolab.judging.base import Judge, StreamingJudge
from sycolab.judging.requests import JudgeRequest, Verdict, request_key
from sycolab.redact import redact_credentials
from sycolab.shared_sqlite import SharedSqlite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS verdicts (
    judge_id TEXT NOT NULL,
    request_sha256 TEXT NOT NULL,
    request_kind TEXT NOT NULL,
    label TEXT,
    raw TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (judge_id, request_sha256)
)
"""


class VerdictCache:
    """Stored verdicts by (judge id, request key)."""

    def __init__(self, path: str | Path) -> None:
        self._db = SharedSqlite(path, _SCHEMA)
        self.path = self._db.path

    def get_many(self, judge_id: str, keys: Sequence[str]) -> dict[str, Verdict]:
        rows = self._db.select_in(
            "SELECT request_sha256, label, raw FROM verdicts WHERE judge_id = ? AND request_sha256 IN ({marks})",
            [judge_id], list(dict.fromkeys(keys)),
        )
        return {key: Verdict(label, raw) for key, label, raw in rows}

    def put_many(self, judge_id: str, entries: Sequence[tuple[str, str, Verdict]]) -> int:
        """Store the (key, request kind, verdict) entries that carry a reply (committed at once); returns
        how many were stored."""
        rows = [
            (judge_id, key, kind, v.label, redact_credentials(v.raw), time.time())
            for key, kind, v in entries
            if v.error is None
        ]
        self._db.write("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?, ?)", rows)
        return len(rows)

    def __len__(self) -> int:
        return self._db.count("verdicts")

    def close(self) -> None:
        self._db.close()


class CachedJudge:
    """A judge that answers from the verdict cache and asks `inner` only about the requests it has never
    seen (each distinct request once per batch). Each new verdict is stored as it arrives when `inner`
    streams (`StreamingJudge`: the HTTP judge), else after each chunk of `chunk_size` requests, so an
    interrupted evaluation keeps what it paid for. With `rejudge_unscored`, cached unparseable replies
    count as unseen and are asked again. `hits` and `misses` count requests over its lifetime."""

    def __init__(self, inner: Judge, cache: VerdictCache, chunk_size: int = 1024, rejudge_unscored: bool = False) -> None:
        self.inner = inner
        self.cache = cache
        self.judge_id = inner.judge_id
        self.chunk_size = max(1, int(chunk_size))
        self.rejudge_unscored = rejudge_unscored
        self.hits = 0
        self.misses = 0

    def judge(self, requests: Sequence[JudgeRequest]) -> list[Verdict]:
        verdicts: list[Verdict | None] = [None] * len(requests)
        with closing(self.iter_verdicts(requests)) as stream:
            for index, verdict in stream:
                verdicts[index] = verdict
        return [v for v in verdicts if v is not None]

    def iter_verdicts(self, requests: Sequence[JudgeRequest]) -> Generator[tuple[int, Verdict], None, None]:
        """(index, verdict) for every request: the cached ones first, then each new one once stored."""
        keys = [request_key(r) for r in requests]
        known = self.cache.get_many(self.judge_id, keys)
        if self.rejudge_unscored:
            known = {k: v for k, v in known.items() if v.scored}
        positions: dict[str, list[int]] = {}
        for index, key in enumerate(keys):
            positions.setdefault(key, []).append(index)
        n_hits = sum(len(positions[k]) for k in known if k in positions)
        self.hits += n_hits
        self.misses += len(keys) - n_hits
        for index, key in enumerate(keys):
            if key in known:
                yield index, known[key]
        todo = [(key, requests[where[0]]) for key, where in positions.items() if key not in known]
        with closing(self._ask([r for _, r in todo])) as batches:
            for batch in batches:
                self.cache.put_many(self.judge_id, [(todo[pos][0], type(todo[pos][1]).__name__, v) for pos, v in batch])
                for pos, verdict in batch:
                    for index in positions[todo[pos][0]]:
                        yield index, verdict

    def _ask(self, requests: list[JudgeRequest]) -> Generator[list[tuple[int, Verdict]], None, None]:
        """Batches of (position in `requests`, verdict): one verdict at a time from a streaming judge, a
        chunk at a time from the others."""
        if isinstance(self.inner, StreamingJudge):
            with closing(self.inner.iter_verdicts(requests)) as stream:
                for item in stream:
                    yield [item]
            return
        for start in range(0, len(requests), self.chunk_size):
            chunk = requests[start : start + self.chunk_size]
            fresh = self.inner.judge(chunk)
            if len(fresh) != len(chunk):
                raise RuntimeError(f"judge {self.judge_id} returned {len(fresh)} verdicts for {len(chunk)} requests")
            yield list(enumerate(fresh, start))
