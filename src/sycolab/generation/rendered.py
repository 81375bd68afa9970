"""Rendered chat prompts kept on disk, so that a fully cached evaluation needs no tokenizer.

The HF generation cache is keyed by the exact prompt text (`sycolab.generation.chat.render_prompt` with
the model's tokenizer). Loading a tokenizer imports transformers and torch, seconds of a re-evaluation that
otherwise only reads caches; `RenderedPrompts` remembers every rendering in
`RUN_DIR/cache/prompts/<key>.json` (canonical JSON of the messages -> text) and loads the tokenizer only
for a prompt it has not seen. `<key>` digests the tokenizer folder (`model_fingerprint`: its small files by
content, large ones by size and modification time), transformers' version and the source of
`render_prompt`, so a changed template, tokenizer, library or rendering rule starts a new file: it can miss
(and render again), never return a stale text.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from sycolab.generation import chat
from sycolab.generation.cache import model_fingerprint
from sycolab.io import atomic_write_json, read_json

RENDERED_DIR = "prompts"
"""Folder under RUN_DIR/cache/ of the rendered-prompt files."""


def renderer_key(tokenizer_folder: str | Path) -> str | None:
    """What decides how prompts render for the tokenizer in `tokenizer_folder`; None for a hub id (no local
    folder to digest), whose prompts are then always rendered by the tokenizer."""
    folder = Path(tokenizer_folder)
    if not folder.is_dir():
        return None
    try:
        transformers_version = version("transformers")
    except PackageNotFoundError:
        transformers_version = "none"
    parts = [model_fingerprint(folder), transformers_version, inspect.getsource(chat.render_prompt)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


class RenderedPrompts:
    """`render(messages)` through a file of earlier renderings: a known prompt is read back, an unknown one
    rendered by `render` (which may load a tokenizer) and kept; `save()` writes the new ones (atomically)."""

    def __init__(self, path: Path | None, render: Callable[[list[dict]], str]):
        self.path, self._render = path, render
        self._known: dict[str, str] = read_json(path) if path is not None and path.exists() else {}
        self.rendered = 0  # prompts this object had to render

    @classmethod
    def for_folder(cls, cache_dir: Path, tokenizer_folder: str | Path,
                   render: Callable[[list[dict]], str]) -> RenderedPrompts:
        key = renderer_key(tokenizer_folder)
        return cls(None if key is None else Path(cache_dir) / RENDERED_DIR / f"{key}.json", render)

    def __call__(self, messages: list[dict]) -> str:
        key = json.dumps(messages, sort_keys=True, ensure_ascii=False)
        text = self._known.get(key)
        if text is None:
            text = self._known[key] = self._render(messages)
            self.rendered += 1
        return text

    def save(self) -> None:
        if self.path is not None and self.rendered:
            atomic_write_json(self.path, self._known)
            self.rendered = 0
