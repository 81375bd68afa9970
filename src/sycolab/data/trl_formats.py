"""Load and validate training files in TRL's conversational formats into `datasets.Dataset`.

Formats (https://huggingface.co/docs/trl/dataset_formats), one JSON object per line:
- SFT, language modeling: `{"messages": [{"role", "content"}, ...]}` with at least one assistant turn;
- SFT, prompt/completion: `{"prompt": [messages], "completion": [assistant messages]}`;
- preference (explicit prompt): `{"prompt": [messages], "chosen": [assistant messages],
  "rejected": [assistant messages]}`;
- prompt-only (GRPO): `{"prompt": [messages], ...}`, where extra scalar keys (e.g. `correct_answer`)
  are kept as columns and reach TRL reward functions as keyword arguments.

Roles are "system", "user" or "assistant"; each message keeps only `role` and `content`. SFT and
preference datasets keep only their format's columns. One file uses one format. A malformed line raises
`DataError` naming file, line and field (e.g. `chosen[0].role`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datasets import Dataset

from sycolab.errors import DataError
from sycolab.io import iter_jsonl

ROLES = ("system", "user", "assistant")
SFT_FORMATS = {"messages": ("messages",), "prompt_completion": ("prompt", "completion")}
PREFERENCE_COLUMNS = ("prompt", "chosen", "rejected")
_SCALAR = (str, int, float, bool, type(None))


def _messages(path: Path, line: int, value: Any, field: str, only_assistant: bool = False) -> list[dict[str, str]]:
    """Validate a list of chat messages and return it with only role and content."""
    if not isinstance(value, list) or not value:
        got = "nothing" if value is None else type(value).__name__
        raise DataError(str(path), f"expected a non-empty list of messages {{role, content}}, got {got}", line, field)
    out: list[dict[str, str]] = []
    for i, message in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(message, dict):
            raise DataError(str(path), f"expected a message object, got {type(message).__name__}", line, where)
        role = message.get("role")
        allowed: tuple[str, ...] = ("assistant",) if only_assistant else ROLES
        if not isinstance(role, str) or role not in allowed:
            expected = ", ".join(map(repr, allowed))
            raise DataError(str(path), f"expected one of {expected}, got {role!r}", line, f"{where}.role")
        content = message.get("content")
        if not isinstance(content, str):
            raise DataError(str(path), f"expected a string, got {type(content).__name__}", line, f"{where}.content")
        out.append({"role": role, "content": content})
    return out


def _missing(path: Path, line: int, keys: tuple[str, ...], fmt: str) -> DataError:
    return DataError(str(path), f"missing; a {fmt} line needs keys {', '.join(keys)}", line, keys[0])


def read_sft_rows(path: str | Path) -> tuple[str, list[dict[str, Any]]]:
    """(format, validated rows) of an SFT file; format is "messages" or "prompt_completion"."""
    path = Path(path)
    fmt: str | None = None
    rows: list[dict[str, Any]] = []
    for line, obj in iter_jsonl(path):
        line_fmt = None
        if "messages" in obj:
            line_fmt = "messages"
        elif "prompt" in obj or "completion" in obj:
            line_fmt = "prompt_completion"
        if line_fmt is None:
            raise DataError(str(path), 'expected "messages", or "prompt" and "completion"', line, "messages")
        if fmt is None:
            fmt = line_fmt
        elif line_fmt != fmt:
            raise DataError(str(path), f"this line is {line_fmt} but earlier lines are {fmt}; use one format per file", line)
        if fmt == "messages":
            messages = _messages(path, line, obj["messages"], "messages")
            if not any(m["role"] == "assistant" for m in messages):
                raise DataError(str(path), "no assistant message to learn from", line, "messages")
            rows.append({"messages": messages})
        else:
            for key in ("prompt", "completion"):
                if key not in obj:
                    raise _missing(path, line, (key,), "prompt/completion")
            rows.append(
                {
                    "prompt": _messages(path, line, obj["prompt"], "prompt"),
                    "completion": _messages(path, line, obj["completion"], "completion", only_assistant=True),
                }
            )
    if fmt is None:
        raise DataError(str(path), "no examples (empty file)")
    return fmt, rows


def read_preference_rows(path: str | Path) -> list[dict[str, Any]]:
    """Validated preference rows (prompt, chosen, rejected)."""
    path = Path(path)
    rows = []
    for line, obj in iter_jsonl(path):
        for key in PREFERENCE_COLUMNS:
            if key not in obj:
                raise _missing(path, line, (key,), "preference")
        rows.append(
            {
                "prompt": _messages(path, line, obj["prompt"], "prompt"),
                "chosen": _messages(path, line, obj["chosen"], "chosen", only_assistant=True),
                "rejected": _messages(path, line, obj["rejected"], "rejected", only_assistant=True),
            }
        )
    if not rows:
        raise DataError(str(path), "no preference pairs (empty file)")
    return rows


def read_prompt_rows(path: str | Path) -> list[dict[str, Any]]:
    """Validated prompt-only rows; extra keys must be scalars and become columns (None where absent)."""
    path = Path(path)
    rows = []
    for line, obj in iter_jsonl(path):
        if "prompt" not in obj:
            raise _missing(path, line, ("prompt",), "prompt-only")
        row: dict[str, Any] = {"prompt": _messages(path, line, obj["prompt"], "prompt")}
        for key in sorted(obj):
            if key == "prompt":
                continue
            if not isinstance(obj[key], _SCALAR):
                got = type(obj[key]).__name__
                raise DataError(str(path), f"extra columns must be strings or numbers, got {got}", line, key)
            row[key] = obj[key]
        rows.append(row)
    if not rows:
        raise DataError(str(path), "no prompts (empty file)")
    columns = sorted({key for row in rows for key in row})
    return [{key: row.get(key) for key in columns} for row in rows]


def _dataset(rows: list[dict[str, Any]], path: Path) -> Dataset:
    columns = list(rows[0])
    try:
        return Dataset.from_dict({key: [row[key] for row in rows] for key in columns})
    except (TypeError, ValueError) as e:  # pyarrow type clashes, e.g. a column mixing strings and numbers
        raise DataError(str(path), f"columns cannot be combined into one table: {e}") from None


def load_sft_dataset(path: str | Path) -> Dataset:
    """An SFT dataset: column `messages`, or columns `prompt` and `completion`."""
    _, rows = read_sft_rows(path)
    return _dataset(rows, Path(path))


def load_preference_dataset(path: str | Path) -> Dataset:
    """A preference dataset with columns `prompt`, `chosen`, `rejected`."""
    return _dataset(read_preference_rows(path), Path(path))


def load_prompt_dataset(path: str | Path) -> Dataset:
    """A prompt-only dataset (GRPO): column `prompt` plus the file's extra scalar columns."""
    return _dataset(read_prompt_rows(path), Path(path))
