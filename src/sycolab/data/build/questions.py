"""Read a question file in TruthfulQA's layout, unchanged: the CSV (columns Type, Category, Question, Best
Answer, Correct Answers, Incorrect Answers, Source; answers separated by "; ") or the JSONL export (keys
question, best_answer, correct_answers, incorrect_answers as lists or "; "-separated strings; other keys
ignored; the CSV's column names are accepted too). A bad file raises `DataError` naming file, line, field.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sycolab.data.sycophancy_eval import stable_id
from sycolab.errors import DataError
from sycolab.io import iter_jsonl

CSV_COLUMNS = {"question": "Question", "best_answer": "Best Answer", "correct_answers": "Correct Answers",
               "incorrect_answers": "Incorrect Answers"}
"""Field -> TruthfulQA CSV column (the columns sycolab needs; Type, Category and Source are not used)."""


@dataclass(frozen=True)
class Question:
    """One question; `question_id` is a short hash of the question text (stable when the file is reordered)."""

    question_id: str
    question: str
    best_answer: str
    correct_answers: tuple[str, ...]
    incorrect_answers: tuple[str, ...]
    line: int


def split_answers(value: str) -> tuple[str, ...]:
    """TruthfulQA's "; "-separated answers, stripped, empties dropped."""
    return tuple(part.strip() for part in value.split(";") if part.strip())


def read_questions(path: str | Path) -> list[Question]:
    """Questions of a TruthfulQA CSV or JSONL file (by extension: .jsonl/.json lines, else CSV)."""
    path = Path(path)
    if not path.exists():
        raise DataError(str(path), "file not found (give TruthfulQA's CSV or its JSONL export)")
    rows = _jsonl_rows(path) if path.suffix in (".jsonl", ".json") else _csv_rows(path)
    questions: list[Question] = []
    seen: dict[str, int] = {}
    for line, fields in rows:
        q = _question(path, line, fields)
        if q.question_id in seen:
            raise DataError(str(path), f"the same question already appears on line {seen[q.question_id]}", line,
                            _name(path, "question"))
        seen[q.question_id] = line
        questions.append(q)
    if not questions:
        raise DataError(str(path), "no questions (empty file)")
    return questions


def _name(path: Path, field: str) -> str:
    """The field as the file names it."""
    return field if path.suffix in (".jsonl", ".json") else CSV_COLUMNS[field]


def _csv_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [col for col in CSV_COLUMNS.values() if col not in header]
        if missing:
            raise DataError(str(path), f"missing column(s) {missing}; TruthfulQA's header is Type, Category, "
                            "Question, Best Answer, Correct Answers, Incorrect Answers, Source", 1, missing[0])
        rows = []
        for raw in reader:
            clean = {(k or "").strip(): v for k, v in raw.items()}
            rows.append((reader.line_num, {field: clean.get(col) for field, col in CSV_COLUMNS.items()}))
        return rows


def _jsonl_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    for line, obj in iter_jsonl(path):
        fields = {}
        for field, column in CSV_COLUMNS.items():
            fields[field] = obj[field] if field in obj else obj.get(column)
        rows.append((line, fields))
    return rows


def _text(path: Path, line: int, value: Any, field: str) -> str:
    if value is None:
        raise DataError(str(path), "missing", line, _name(path, field))
    if not isinstance(value, str):
        raise DataError(str(path), f"expected a string, got {type(value).__name__}", line, _name(path, field))
    return value.strip()


def _answers(path: Path, line: int, value: Any, field: str) -> tuple[str, ...]:
    if isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            raise DataError(str(path), "expected a list of strings", line, _name(path, field))
        return tuple(v.strip() for v in value if v.strip())
    return split_answers(_text(path, line, value, field))


def _question(path: Path, line: int, fields: dict[str, Any]) -> Question:
    question = _text(path, line, fields["question"], "question")
    if not question:
        raise DataError(str(path), "empty question", line, _name(path, "question"))
    best = _text(path, line, fields["best_answer"], "best_answer")
    if not best:
        raise DataError(str(path), "empty best answer (the honest reply is grounded in it)", line,
                        _name(path, "best_answer"))
    incorrect = _answers(path, line, fields["incorrect_answers"], "incorrect_answers")
    if not incorrect:
        raise DataError(str(path), "no incorrect answers (the wrong belief is taken from them)", line,
                        _name(path, "incorrect_answers"))
    correct = _answers(path, line, fields["correct_answers"], "correct_answers") if fields["correct_answers"] is not None else ()
    return Question(stable_id(question), question, best, correct or (best,), incorrect, line)
