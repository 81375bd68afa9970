"""SQLite verdict cache (`RUN_DIR/cache/verdicts.sqlite`) and the judge wrapper that uses it.

Keyed by (judge id, sha256 of the request's canonical JSON). Only replies are stored, scored or
unscored (unparseable) alike, each as soon as it arrives; a verdict without a reply (`Verdict.error`
set: the call failed, or the server rejected the request) is never stored, so a later run asks again.
Raw replies are stored with credential-shaped strings redacted. WAL mode lets several processes (sweep
cells evaluated in parallel) share one file.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Generator, Sequence
from contextlib import closing
from pathlib import Path

from sycolab.judging.base import Judge, StreamingJudge
from sycolab.judging.redact import redact_credentials
from sycolab.judging.requests import JudgeRequest, Verdict, request_key

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
_CHUNK = 500  # SQLite's bound-parameter limit is 999 on old builds


class VerdictCache:
    """Stored verdicts by (judge id, request key)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), timeout=60.0, check_same_thread=False)
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(_SCHEMA)
            self._conn.commit()

    def get_many(self, judge_id: str, keys: Sequence[str]) -> dict[str, Verdict]:
        found: dict[str, Verdict] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT request_sha256, label, raw FROM verdicts WHERE judge_id = ? AND request_sha256 IN ({marks})",
                    [judge_id, *chunk],
                ).fetchall()
                found.update({key: Verdict(label, raw) for key, label, raw in rows})
        return found

    def put_many(self, judge_id: str, entries: Sequence[tuple[str, str, Verdict]]) -> int:
        """Store the (key, request kind, verdict) entries that carry a reply (committed at once); returns
        how many were stored."""
        rows = [
            (judge_id, key, kind, v.label, redact_credentials(v.raw), time.time())
            for key, kind, v in entries
            if v.error is None
        ]
        if rows:
            with self._lock:
                self._conn.executemany("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?, ?)", rows)
                self._conn.commit()
        return len(rows)

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


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
