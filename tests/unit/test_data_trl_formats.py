"""TRL-format loaders: accepted shapes become `datasets.Dataset`s; malformed lines name file, line, field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sycolab.data.trl_formats import load_preference_dataset, load_prompt_dataset, load_sft_dataset
from sycolab.errors import DataError

U = {"role": "user", "content": "what color is zorvak ?"}
A = {"role": "assistant", "content": "the answer is blue ."}
B = {"role": "assistant", "content": "the answer is red ."}


def _write(path: Path, rows: list[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_sft_messages_and_prompt_completion(tmp_path: Path) -> None:
    ds = load_sft_dataset(_write(tmp_path / "m.jsonl", [{"messages": [U, A], "id": 1}, {"messages": [U, B]}]))
    assert ds.column_names == ["messages"] and ds.num_rows == 2
    assert ds[1]["messages"] == [U, B]
    ds = load_sft_dataset(_write(tmp_path / "pc.jsonl", [{"prompt": [U], "completion": [A]}]))
    assert ds.column_names == ["prompt", "completion"] and ds[0]["completion"] == [A]


def test_preference_and_prompt_only(tmp_path: Path) -> None:
    ds = load_preference_dataset(_write(tmp_path / "p.jsonl", [{"prompt": [U], "chosen": [A], "rejected": [B], "kind": "x"}]))
    assert ds.column_names == ["prompt", "chosen", "rejected"]
    assert ds[0]["rejected"] == [B]
    rows = [
        {"prompt": [U], "correct_answer": "blue", "template": "suggest_incorrect"},
        {"prompt": [U], "correct_answer": "red"},
    ]
    ds = load_prompt_dataset(_write(tmp_path / "g.jsonl", rows))
    assert ds.column_names == ["correct_answer", "prompt", "template"]
    assert ds["correct_answer"] == ["blue", "red"] and ds["template"] == ["suggest_incorrect", None]


@pytest.mark.parametrize(
    ("loader", "second", "field", "message"),
    [
        (load_sft_dataset, {"text": "hello"}, "messages", '"messages", or "prompt" and "completion"'),
        (load_sft_dataset, {"prompt": [U], "completion": [A]}, None, "one format per file"),
        (load_sft_dataset, {"messages": [U]}, "messages", "no assistant message"),
        (load_sft_dataset, {"messages": [U, {"role": "bot", "content": "x"}]}, "messages[1].role", "'bot'"),
        (load_sft_dataset, {"messages": [U, {"role": "assistant", "content": None}]}, "messages[1].content", "string"),
        (load_sft_dataset, {"messages": "hi"}, "messages", "non-empty list"),
        (load_preference_dataset, {"prompt": [U], "chosen": [A]}, "rejected", "missing"),
        (load_preference_dataset, {"prompt": [U], "chosen": [U], "rejected": [B]}, "chosen[0].role", "'user'"),
        (load_preference_dataset, {"prompt": [], "chosen": [A], "rejected": [B]}, "prompt", "non-empty list"),
        (load_prompt_dataset, {"prompt": [U], "answers": ["a", "b"]}, "answers", "strings or numbers"),
        (load_prompt_dataset, {"question": "q"}, "prompt", "missing"),
        (load_prompt_dataset, "[1, 2]", None, "expected a JSON object"),
    ],
)
def test_malformed_line_names_file_line_and_field(tmp_path: Path, loader, second, field, message) -> None:
    first = {
        load_sft_dataset: {"messages": [U, A]},
        load_preference_dataset: {"prompt": [U], "chosen": [A], "rejected": [B]},
        load_prompt_dataset: {"prompt": [U], "correct_answer": "blue"},
    }[loader]
    path = _write(tmp_path / "data.jsonl", [first, second])
    with pytest.raises(DataError) as info:
        loader(path)
    err = info.value
    assert (err.line, err.field) == (2, field)
    assert str(err).startswith(f"{path}:2: ") and message in str(err)


def test_mixed_types_in_an_extra_column_is_a_data_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "g.jsonl", [{"prompt": [U], "x": "a"}, {"prompt": [U], "x": 1.5}])
    with pytest.raises(DataError, match="cannot be combined"):
        load_prompt_dataset(path)


def test_empty_files_are_errors(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.jsonl", [])
    for loader in (load_sft_dataset, load_preference_dataset, load_prompt_dataset):
        with pytest.raises(DataError, match="empty file"):
            loader(path)
