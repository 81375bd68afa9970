"""Generator calls with a request cache: `OUT/requests.sqlite`, keyed by the SHA-256 of the exact request
body (canonical JSON: model, messages, sampling parameters, seed, extra body fields).

A reply is stored the moment its call succeeds (in the worker thread, before anything else can fail), so
a build killed mid-way and run again sends no request twice. A failed call (retries exhausted) is never
stored, so a rerun asks again. WAL mode; one connection shared by the workers under a lock.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sycolab.chat_http import ChatEndpoint, ChatReply

logger = logging.getLogger(__name__)

CACHE_FILE = "requests.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS replies (
    request_sha256 TEXT PRIMARY KEY,
    request TEXT NOT NULL,
    text TEXT NOT NULL,
    finish_reason TEXT,
    created REAL NOT NULL
)
"""


def canonical_request(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def request_sha256(body: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_request(body).encode("utf-8")).hexdigest()


class RequestCache:
    """Successful replies by request hash."""

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

    def get(self, key: str) -> ChatReply | None:
        with self._lock:
            row = self._conn.execute("SELECT text, finish_reason FROM replies WHERE request_sha256 = ?", (key,)).fetchone()
        return None if row is None else ChatReply(row[0], None, row[1])

    def put(self, key: str, body: dict[str, Any], reply: ChatReply) -> None:
        if reply.error is not None or reply.text is None:
            return
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?, ?)",
                               (key, canonical_request(body), reply.text, reply.finish_reason, time.time()))
            self._conn.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM replies").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


@dataclass
class RequestCounts:
    """Over a build: replies taken from the cache, calls sent (and succeeded), calls that failed."""

    cached: int = 0
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


class CachedGenerator:
    """Answers request bodies from the cache, sends the others to `endpoint` with at most `max_concurrency`
    in flight. `on_reply(kind)` is called in the calling thread after each fresh successful call (tests
    raise from it to simulate a kill); an exception stops the batch, and calls in flight still finish and
    are cached."""

    def __init__(self, endpoint: ChatEndpoint, cache: RequestCache, max_concurrency: int,
                 on_reply: Callable[[str], None] | None = None) -> None:
        self.endpoint = endpoint
        self.cache = cache
        self.max_concurrency = max(1, int(max_concurrency))
        self.on_reply = on_reply
        self.counts = RequestCounts()

    def complete(self, kind: str, bodies: Sequence[dict[str, Any]]) -> list[ChatReply]:
        keys = [request_sha256(b) for b in bodies]
        replies: dict[str, ChatReply] = {}
        todo: dict[str, dict[str, Any]] = {}
        for key, body in zip(keys, bodies):
            if key in replies or key in todo:
                continue
            hit = self.cache.get(key)
            if hit is not None:
                replies[key] = hit
                self.counts.cached += 1
            else:
                todo[key] = body
        if todo:
            replies.update(self._send(kind, todo))
        return [replies[k] for k in keys]

    def _call(self, key: str, body: dict[str, Any]) -> ChatReply:
        reply = self.endpoint.post(body)
        self.cache.put(key, body, reply)
        return reply

    def _send(self, kind: str, todo: dict[str, dict[str, Any]]) -> dict[str, ChatReply]:
        out: dict[str, ChatReply] = {}
        self.endpoint.aborted.clear()
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(todo))) as pool:
            futures: dict[Future[ChatReply], str] = {pool.submit(self._call, k, b): k for k, b in todo.items()}
            pending = set(futures)
            try:
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        reply = future.result()
                        out[futures[future]] = reply
                        if reply.error is not None:
                            self.counts.failed += 1
                            self.counts.errors.append(reply.error)
                            continue
                        self.counts.sent += 1
                        if self.on_reply is not None:
                            self.on_reply(kind)
            except BaseException:
                self.endpoint.aborted.set()
                for future in pending:
                    future.cancel()
                raise
        logger.info("%s: %d calls sent, %d failed", kind, len(todo) - sum(r.error is not None for r in out.values()),
                    sum(r.error is not None for r in out.values()))
        return out
