"""`SharedSqlite`: the mechanics of the HTTP reply caches (`judging.cache.VerdictCache`, the data builder's
`data.build.requests.RequestCache`): one SQLite file in WAL mode, so other processes (sweep cells evaluated
in parallel) read while one writes, opened once and shared by threads under a lock; every write is one
committed transaction, so a reply stored is kept even if the process is killed next.

Each cache keeps its own schema and key; this module knows nothing of either.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_IN_CHUNK = 500  # SQLite's bound-parameter limit is 999 on old builds


class SharedSqlite:
    """A connection to the SQLite file at `path` (created, with its folder, if missing) with `schema`
    (`CREATE TABLE IF NOT EXISTS ...`) applied."""

    def __init__(self, path: str | Path, schema: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), timeout=60.0, check_same_thread=False)
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(schema)
            self._conn.commit()

    def select(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def select_in(self, sql: str, params: Sequence[Any], keys: Sequence[Any]) -> list[tuple]:
        """Rows of `sql`, whose `{marks}` stands for the `?` list of an `IN (...)`, for all `keys` (asked in
        chunks); `params` are bound before each chunk."""
        rows: list[tuple] = []
        with self._lock:
            for start in range(0, len(keys), _IN_CHUNK):
                chunk = list(keys[start : start + _IN_CHUNK])
                query = sql.format(marks=",".join("?" * len(chunk)))
                rows.extend(self._conn.execute(query, [*params, *chunk]).fetchall())
        return rows

    def write(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run `sql` for every row in one transaction, committed before returning (nothing when no rows)."""
        if not rows:
            return
        with self._lock:
            self._conn.executemany(sql, rows)
            self._conn.commit()

    def count(self, table: str) -> int:
        return int(self.select(f"SELECT COUNT(*) FROM {table}")[0][0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
