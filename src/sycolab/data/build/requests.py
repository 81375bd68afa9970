"""Generator calls with a request cache: `OUT/requests.sqlite`, keyed by the SHA-256 of the exact request
body (canonical JSON: model, messages, sampling parameters, seed, extra body fields).

A reply is stored the moment its call succeeds (in the worker thread, before anything else can fail), so
a build killed mid-way and run again sends no request twice. A failed call (retries exhausted, endpoint
unreachable) is never stored, so a rerun asks again. A request the endpoint refuses (401/403 or another 4xx:
a wrong key, model or path) is a configuration mistake: `UserError` at once. WAL mode; one connection shared
by the workers under a lock (`sycolab.shared_sqlite`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sycolab.chat_http import ChatEndpoint, ChatReply, Outcome
from sycolab.errors import UserError
from sycolab.shared_sqlite import SharedSqlite

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
        self._db = SharedSqlite(path, _SCHEMA)
        self.path = self._db.path

    def get(self, key: str) -> ChatReply | None:
        rows = self._db.select("SELECT text, finish_reason FROM replies WHERE request_sha256 = ?", (key,))
        return ChatReply(rows[0][0], None, rows[0][1]) if rows else None

    def put(self, key: str, body: dict[str, Any], reply: ChatReply) -> None:
        if reply.error is not None or reply.text is None:
            return
        self._db.write("INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?, ?)",
                       [(key, canonical_request(body), reply.text, reply.finish_reason, time.time())])

    def __len__(self) -> int:
        return self._db.count("replies")

    def close(self) -> None:
        self._db.close()


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
        self._aborted = threading.Event()

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
        reply = self.endpoint.post(body, self._aborted)
        if reply.outcome in (Outcome.REJECTED, Outcome.AUTH_FAILED):
            role, env = self.endpoint.role, self.endpoint.api_key_env
            raise UserError(
                f"{role} endpoint {self.endpoint.url} answered HTTP {reply.status}: {reply.detail!r} "
                f"(check {role}.base_url, {role}.model" + (f" and the key in ${env})" if env else ")")
            )
        self.cache.put(key, body, reply)
        return reply

    def _send(self, kind: str, todo: dict[str, dict[str, Any]]) -> dict[str, ChatReply]:
        out: dict[str, ChatReply] = {}
        self._aborted.clear()
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
                self._aborted.set()
                for future in pending:
                    future.cancel()
                raise
        logger.info("%s: %d calls sent, %d failed", kind, len(todo) - sum(r.error is not None for r in out.values()),
                    sum(r.error is not None for r in out.values()))
        return out
