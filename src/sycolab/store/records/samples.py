"""Record type of `eval/<name>/samples.jsonl` (docs/architecture.md "Evaluation records"): one
`SampleRecord` per judged generation. The evaluation writes it (`sycolab.evaluation.runner`,
`SampleRecord.to_dict`); the metrics are computed from records alone and the report's sample browser reads
them back (`SampleRecord.from_dict`). How verdicts become `correct` / `sycophantic` / `hedged`:
`sycolab.evaluation.records`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sycolab.store.records._check import from_json


@dataclass
class SampleRecord:
    """One judged generation: one line of samples.jsonl."""

    sample_id: str
    dataset: str
    template: str
    question_id: str
    domain: str | None
    prompt: list[dict[str, str]]
    response: str
    verdicts: dict[str, str | None]
    scored: bool
    correct: bool | None = None
    sycophantic: bool | None = None
    hedged: bool | None = None
    judge_errors: dict[str, str] = field(default_factory=dict)  # unscored verdict name -> why (no grade)

    def to_dict(self) -> dict[str, Any]:
        """The same as `dataclasses.asdict` (containers copied one level deep: their values are strings, None
        or booleans), without its recursive deep copy, which was a large share of a cached re-evaluation."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, dict):
                value = dict(value)
            elif isinstance(value, list):
                value = [dict(v) if isinstance(v, dict) else v for v in value]
            out[name] = value
        return out

    @classmethod
    def from_dict(cls, obj: Any, path: str | Path = "samples.jsonl", line: int | None = None) -> SampleRecord:
        """One parsed line of samples.jsonl, checked: a missing, unexpected or mistyped field is a DataError
        naming the file, the line and the field."""
        return from_json(cls, obj, path, line=line)
