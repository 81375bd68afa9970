"""Generation cache: an SQLite table in the run store (`cache/generations.sqlite`) so that re-running an
evaluation regenerates nothing and an interrupted one loses at most one batch.

Key = (model_id, prompt, sampling params). `prompt` is the exact rendered prompt text when the backend can
render it (`backend.render_prompt`, as the HF backend does: a changed chat template then misses the cache),
otherwise the canonical JSON of the messages. The params JSON includes `n`, `seed`, `stop` and the token
budget, `top_k` and the first-token constraint; for greedy decoding `seed`, `top_p` and `top_k` cannot
change the output and are normalised away.
`model_id` must identify the weights: the study uses the weights digest recorded in the model's
sycolab_model.json (`sycolab.models.digest.model_weights_key`, e.g. "sft@3f9c..."), so new weights saved
under the same stage key or name miss the cache. `LazyBackend` defers building the real backend (loading
the model) until a prompt misses the cache.

The database runs in WAL mode: any number of readers (other processes included) read while one writer
appends; each batch is written in its own transaction.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from sycolab.generation.base import BatchCallback, GenerationBackend, SamplingParams

CACHE_RELPATH = "cache/generations.sqlite"
"""Where the cache lives inside a run directory."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS generations (
    key TEXT PRIMARY KEY,
    model_id TEXT NOT NULL,
    prompt TEXT NOT NULL,
    params TEXT NOT NULL,
    completions TEXT NOT NULL,
    created REAL NOT NULL
)
"""
_LOOKUP_CHUNK = 500


def canonical_params(params: SamplingParams) -> str:
    """Sampling params as canonical JSON; greedy decoding ignores seed, top_p and top_k, so they are
    normalised. `top_k` and `allowed_first_tokens` are left out at their "off" values (0, none), so keys
    written before these fields existed still match the same decoding."""
    fields = dataclasses.asdict(params)
    fields["stop"] = list(params.stop)
    fields["allowed_first_tokens"] = list(params.allowed_first_tokens)
    if params.greedy:
        fields["seed"], fields["top_p"], fields["top_k"] = 0, 1.0, 0
    for name, off in (("top_k", 0), ("allowed_first_tokens", [])):
        if fields[name] == off:
            del fields[name]
    return json.dumps(fields, sort_keys=True, separators=(",", ":"))


def canonical_messages(messages: list[dict]) -> str:
    return json.dumps(messages, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class CacheKey:
    model_id: str
    prompt: str
    params: str

    @functools.cached_property  # read several times per prompt by CachedBackend.generate
    def digest(self) -> str:
        payload = json.dumps([self.model_id, self.prompt, self.params], ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class GenerationCache:
    """SQLite store of completions keyed by `CacheKey`; safe for concurrent readers (WAL)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=60.0)) as conn:
            conn.execute("PRAGMA synchronous=NORMAL")
            with conn:  # one transaction, committed on success
                yield conn

    def get_many(self, keys: list[CacheKey]) -> dict[str, list[str]]:
        """Completions for the keys that are cached, by key digest."""
        digests = list(dict.fromkeys(k.digest for k in keys))
        found: dict[str, list[str]] = {}
        with self._connect() as conn:
            for start in range(0, len(digests), _LOOKUP_CHUNK):
                chunk = digests[start:start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(f"SELECT key, completions FROM generations WHERE key IN ({marks})", chunk)
                found.update((key, json.loads(value)) for key, value in rows)
        return found

    def put_many(self, entries: list[tuple[CacheKey, list[str]]]) -> None:
        """Store (key, completions) pairs in one transaction (replacing existing entries)."""
        now = time.time()
        rows = [
            (k.digest, k.model_id, k.prompt, k.params, json.dumps(c, ensure_ascii=False), now) for k, c in entries
        ]
        with self._connect() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO generations (key, model_id, prompt, params, completions, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )

    def __len__(self) -> int:
        with self._connect() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM generations").fetchone()[0])


@dataclass
class CacheStats:
    hits: int = 0
    generated: int = 0


class CachedBackend:
    """Wraps any `GenerationBackend`: cached prompts are answered from the cache, only the others (each
    distinct one once) go to the inner backend, and each finished batch is written immediately.

    Batches: when the inner backend's `generate` accepts `on_batch` (both built-in backends do), results
    are stored as each of its batches finishes; otherwise the uncached prompts are sent in chunks of
    `chunk_size` (default: the backend's `batch_size`, else 64) and stored per chunk.
    """

    def __init__(self, backend: GenerationBackend, cache_path: str | os.PathLike, *, chunk_size: int | None = None):
        self.backend = backend
        self.model_id = backend.model_id
        self.cache = GenerationCache(cache_path)
        self.chunk_size = chunk_size or int(getattr(backend, "batch_size", 64))
        self.stats = CacheStats()
        self._streams = "on_batch" in inspect.signature(backend.generate).parameters

    def key(self, prompt: list[dict], params: SamplingParams, params_json: str | None = None) -> CacheKey:
        """`params_json`: `canonical_params(params)`, when the caller computed it once for many prompts."""
        render = getattr(self.backend, "render_prompt", None)
        text = "text:" + render(prompt) if callable(render) else "messages:" + canonical_messages(prompt)
        return CacheKey(self.model_id, text, params_json if params_json is not None else canonical_params(params))

    def generate(self, prompts: list[list[dict]], params: SamplingParams) -> list[list[str]]:
        params_json = canonical_params(params)
        keys = [self.key(p, params, params_json) for p in prompts]
        known = self.cache.get_many(keys)
        first_missing: dict[str, int] = {}
        for i, k in enumerate(keys):
            if k.digest not in known:
                first_missing.setdefault(k.digest, i)
        todo = list(first_missing.values())
        self.stats.hits += len(prompts) - sum(1 for k in keys if k.digest not in known)

        def store(sub_indices: list[int], completions: list[list[str]]) -> None:
            entries = [(keys[todo[j]], c) for j, c in zip(sub_indices, completions)]
            self.cache.put_many(entries)
            known.update((k.digest, c) for k, c in entries)
            self.stats.generated += len(entries)

        if todo:
            pending = [prompts[i] for i in todo]
            if self._streams:
                self.backend.generate(pending, params, on_batch=store)  # type: ignore[call-arg]
            else:
                for start in range(0, len(pending), self.chunk_size):
                    chunk = list(range(start, min(start + self.chunk_size, len(pending))))
                    store(chunk, self.backend.generate([pending[j] for j in chunk], params))
        missing = [i for i, k in enumerate(keys) if k.digest not in known]
        if missing:
            raise RuntimeError(f"{self.model_id}: backend returned no completions for prompts {missing[:5]}")
        return [list(known[k.digest]) for k in keys]


class LazyBackend:
    """A backend created on its first `generate` call, so that a model is loaded only on a cache miss.

    `build()` makes the real backend. `render_prompt`, when given, must render exactly as the real backend
    does (for the HF backend: `sycolab.generation.chat.render_prompt` with the model's tokenizer), since
    `CachedBackend` keys prompts by it; leave it None for backends that key by messages (vLLM).
    """

    def __init__(self, build: Callable[[], GenerationBackend], model_id: str, batch_size: int = 64,
                 render_prompt: Callable[[list[dict]], str] | None = None):
        self._build, self.model_id, self.batch_size = build, model_id, batch_size
        self._inner: GenerationBackend | None = None
        if render_prompt is not None:
            self.render_prompt = render_prompt

    @property
    def built(self) -> bool:
        return self._inner is not None

    def generate(self, prompts: list[list[dict]], params: SamplingParams,
                 on_batch: BatchCallback | None = None) -> list[list[str]]:
        if self._inner is None:
            self._inner = self._build()
        if "on_batch" in inspect.signature(self._inner.generate).parameters:
            return self._inner.generate(prompts, params, on_batch=on_batch)  # type: ignore[call-arg]
        outs = self._inner.generate(prompts, params)
        if on_batch is not None:
            on_batch(list(range(len(prompts))), outs)
        return outs


def model_fingerprint(model_dir: str | os.PathLike) -> str:
    """A short hash identifying a saved model folder's contents, cheap even for 16 GB of weights: small
    files (configs, tokenizer, chat template, adapter config) are hashed by content, large ones (weights)
    by name, size and modification time."""
    root = Path(model_dir)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(str(path.relative_to(root)).encode())
        if stat.st_size <= 1_000_000:
            digest.update(path.read_bytes())
        else:
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]

