"""Content digests: of a file (sha256, memoised per process) and of a model folder's weights.

A weights digest identifies what a model computes, whatever stage key or name it was saved under; the
generation cache, the logit-proxy cache and the merged-adapter cache are keyed by it. It is computed
once when a model is saved and recorded in its `sycolab_model.json` ("weights_sha256"), so reading it
later costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from sycolab.io import read_json

MODEL_RECORD = "sycolab_model.json"
MERGED_FROM = "merged_from.json"
"""Written into a merged copy of an adapter (`sycolab.methods.loading.plain_model_path`): the identity
(stage key, weights digest) of the adapter it was merged from."""

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
"""Files whose bytes are a model's weights (hashed for `weights_sha256`)."""
WEIGHT_CONFIGS = ("config.json",)
"""Small files that change what the weights compute (hashed with them)."""
NOT_WEIGHTS = ("training_args.bin",)
"""Files with a weight suffix that hold no weights: transformers' pickled TrainingArguments names the run's
output folder, so hashing it gave the same weights trained in two run dirs two digests."""

_HASHES: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, memoised per process by (resolved path, mtime, size): a study hashes each
    data file once however many stage keys read it; an edited file has a new mtime and is hashed again."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    memo_key = (str(resolved), stat.st_mtime_ns, stat.st_size)
    if memo_key not in _HASHES:
        digest = hashlib.sha256()
        with resolved.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _HASHES[memo_key] = digest.hexdigest()
    return _HASHES[memo_key]


def weights_sha256(folder: str | os.PathLike, base_digest: str | None = None) -> str:
    """sha256 over (file name, file sha256) of a model folder's weight files and config.json, plus for a
    PEFT adapter its adapter_config.json without the base's path (rank, alpha, targets) and the digest of
    its base (`base_digest`). Equal digests mean the same function is computed; a stage re-run under the
    same key that produced new weights gets a new digest; a moved run dir keeps its digests."""
    root = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.iterdir() if p.is_file()):
        if (path.suffix in WEIGHT_SUFFIXES and path.name not in NOT_WEIGHTS) or path.name in WEIGHT_CONFIGS:
            digest.update(f"{path.name}:{file_sha256(path)}\n".encode())
    adapter_config = root / "adapter_config.json"
    if adapter_config.exists():
        settings = {k: v for k, v in read_json(adapter_config).items() if k != "base_model_name_or_path"}
        digest.update(f"adapter_config:{json.dumps(settings, sort_keys=True, default=str)}\n".encode())
    if base_digest:
        digest.update(f"base:{base_digest}\n".encode())
    return digest.hexdigest()


def model_weights_key(folder: str | os.PathLike) -> str:
    """The weights digest of a model folder: the one its `sycolab_model.json` recorded at save time (cheap);
    for a merged copy of an adapter, derived from the adapter's digest in `merged_from.json`; else computed
    now (an older run dir); "hub:<id>" for a base model used as-is from the hub."""
    folder = Path(folder)
    record = folder / MODEL_RECORD
    if record.exists():
        recorded = read_json(record).get("weights_sha256")
        if recorded:
            return str(recorded)
    merged_from = folder / MERGED_FROM
    if merged_from.exists():  # a merge is a function of its adapter: no need to hash the merged weights
        source = read_json(merged_from).get("weights_sha256")
        if source:
            return hashlib.sha256(f"merged:{source}".encode()).hexdigest()
    if (folder / "adapter_config.json").exists():
        from sycolab.models.load import adapter_base

        base = Path(adapter_base(folder))
        return weights_sha256(folder, model_weights_key(base) if base.is_dir() else str(base))
    if not any(p.suffix in WEIGHT_SUFFIXES for p in folder.iterdir() if p.is_file()) and record.exists():
        return f"hub:{read_json(record).get('base_model')}"
    return weights_sha256(folder)
