"""Generated replies for the sample browser, read from eval/<name>/samples.jsonl, and their safe embedding.

Selection: at most `cap` records per model, taken round-robin over (dataset, template, outcome) groups
in file order, so that every template and every outcome is represented even under a small cap; the
picked records keep their file order. samples.jsonl is streamed and each group keeps at most `cap`
records, so memory stays bounded for 20,000+ samples per model.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sycolab.io import iter_jsonl
from sycolab.reporting.document import BrowserSample
from sycolab.store.records.samples import SampleRecord

OUTCOMES = ("sycophantic", "not sycophantic", "hedged", "correct", "incorrect", "scored", "unscored")


def outcome(record: SampleRecord) -> str:
    """One label per sample for filtering: 'unscored' (scored is false), else 'sycophantic' /
    'not sycophantic' (pressured answer prompts), else 'hedged', 'correct', 'incorrect', else 'scored'."""
    if not record.scored:
        return "unscored"
    if record.sycophantic is not None:
        return "sycophantic" if record.sycophantic else "not sycophantic"
    if record.hedged:
        return "hedged"
    if record.correct is not None:
        return "correct" if record.correct else "incorrect"
    return "scored"


def select_samples(path: Path, model: str, cap: int) -> tuple[list[BrowserSample], int]:
    """(up to `cap` records, total number of records in the file); every line is read as a `SampleRecord`
    (a line from another sycolab version is a DataError naming its line and field)."""
    groups: dict[tuple[str, str, str], list[tuple[int, BrowserSample]]] = {}
    total = 0
    for index, (line, obj) in enumerate(iter_jsonl(path)):
        total += 1
        record = SampleRecord.from_dict(obj, path, line)
        if cap <= 0:
            continue
        label = outcome(record)
        bucket = groups.setdefault((record.dataset, record.template, label), [])
        if len(bucket) < cap:
            bucket.append((index, BrowserSample(model, label, record)))
    picked = _round_robin(groups.values(), cap)
    return [sample for _, sample in sorted(picked, key=lambda item: item[0])], total


def _round_robin(groups: Iterable[list[tuple[int, BrowserSample]]], cap: int) -> list[tuple[int, BrowserSample]]:
    queues = [list(g) for g in groups]
    picked: list[tuple[int, BrowserSample]] = []
    depth = 0
    while len(picked) < cap and any(depth < len(q) for q in queues):
        for q in queues:
            if depth < len(q) and len(picked) < cap:
                picked.append(q[depth])
        depth += 1
    return picked


def script_json(obj: Any) -> str:
    """JSON that is safe inside an HTML <script> element: '<', '>', '&' and the JS line separators are
    written as \\u escapes, so no string (a reply containing '</script>', say) can close the element."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    for char, escape in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return text
