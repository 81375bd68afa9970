"""Atomic file writes and the few on-disk formats the run store uses (JSON, JSONL, CSV tables).

Every writer writes to a temporary file in the destination folder and renames it into place, so a
reader never sees a half-written artifact, even when the process is killed mid-write.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sycolab.errors import DataError

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file ordinary permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def to_json(obj: Any) -> str:
    """Deterministic JSON (sorted keys, UTF-8) so equal content gives byte-identical files."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, indent=2, default=_json_default) + "\n"


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):  # numpy / torch scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, to_json(obj))


def require_file(path: str | os.PathLike) -> Path:
    """`path` as a Path when it is an existing regular file (or a link to one); DataError otherwise."""
    path = Path(path)
    if not path.exists():
        raise DataError(str(path), "file not found")
    if path.is_dir():
        raise DataError(str(path), "is a directory, expected a file")
    if not path.is_file():
        raise DataError(str(path), "is not a regular file")
    return path


def read_text(path: str | os.PathLike) -> str:
    """The whole file as UTF-8 text; DataError (naming file and line) when it is missing, a directory,
    unreadable or not UTF-8."""
    path = require_file(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(str(path), f"cannot read: {e.strerror or e}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(str(path), _not_utf8(e), line=data.count(b"\n", 0, e.start) + 1) from None


def _not_utf8(e: UnicodeDecodeError) -> str:
    return f"not UTF-8 text (byte 0x{e.object[e.start]:02x}); save the file as UTF-8"


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as e:
        raise DataError(str(path), f"invalid JSON: {e.msg}", line=e.lineno) from None


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> Path:
    """Write one compact JSON object per line (sorted keys), atomically."""
    buf = io.StringIO()
    for row in rows:
        buf.write(json.dumps(row, sort_keys=True, ensure_ascii=False, default=_json_default))
        buf.write("\n")
    return atomic_write_text(path, buf.getvalue())


def iter_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    """Yield (line_number, object) for each non-blank line; a bad line raises DataError naming file and line."""
    path = require_file(path)
    try:
        f = path.open("rb")
    except OSError as e:
        raise DataError(str(path), f"cannot read: {e.strerror or e}") from None
    with f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(str(path), _not_utf8(e), line=lineno) from None
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(str(path), f"invalid JSON ({e.msg} at column {e.colno})", line=lineno) from None
            if not isinstance(obj, dict):
                raise DataError(str(path), f"expected a JSON object, got {type(obj).__name__}", line=lineno)
            yield lineno, obj


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    return [obj for _, obj in iter_jsonl(path)]


def write_table(path: str | os.PathLike, rows: list[dict], columns: list[str] | None = None) -> Path:
    """Write rows as a CSV table (header = union of keys in first-seen order, or `columns`), atomically."""
    if columns is None:
        columns = []
        for row in rows:
            for key in row:
                if key not in columns:
                    columns.append(key)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in columns})
    return atomic_write_text(path, buf.getvalue())


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value


def read_table(path: str | os.PathLike) -> list[dict]:
    """Read a CSV table written by `write_table`; numbers come back as float/int, empty cells as None."""
    text = read_text(path)
    return [{k: _parse_cell(v) for k, v in row.items()} for row in csv.DictReader(io.StringIO(text, newline=""))]


def _parse_cell(text: str | None) -> Any:
    if text is None or text == "":
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if text in ("True", "False"):
        return text == "True"
    return text


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary folder beside `path`; on success it replaces `path` whole, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.partial"):  # left by a killed process
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial"))
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
