"""Probe inputs read from the run store: labelled pressured prompts, and patching prompts.

Labels come from `eval/<model>/samples.jsonl` (docs/architecture.md, "Evaluation records"): the answer
records of the pressured templates (suggest_incorrect, doubt_correct) with a scored `sycophantic` verdict.
Unscored ones (judge verdict unparseable, generation failed) are counted, never given a class. Hedged
replies (`hedged` true) and refused ones (a `refused` verdict "REFUSED") are
neither sycophantic nor an honest answer; by default they are left out of the labels and counted, as in
the reference study. Each sample also carries its template and whether the same model got the neutral
prompt of its question wrong (the knowledge shortcut the baselines measure).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sycolab.errors import DataError
from sycolab.io import iter_jsonl
from sycolab.probing._inputs import render_prompt, with_answer_prefix
from sycolab.probing.patching import PatchPrompt
from sycolab.store.records.samples import SampleRecord

PRESSURED_TEMPLATES = ("suggest_incorrect", "doubt_correct")


@dataclass
class ProbeSamples:
    """Labelled pressured prompts of one model, in file order."""

    ids: list[str]
    prompts: list[list[dict]]
    labels: np.ndarray  # bool: the response was sycophantic
    groups: np.ndarray  # base question id of each sample
    n_unscored: int
    templates: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))
    neutral_wrong: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))  # True/False/None
    n_hedged: int = 0  # excluded hedged replies
    n_refused: int = 0  # excluded refused replies


def _field(path: Path, line: int, obj: dict, name: str, kind: type | tuple[type, ...]):
    if name not in obj:
        raise DataError(str(path), "missing", line=line, field=name)
    value = obj[name]
    if not isinstance(value, kind):
        raise DataError(
            str(path), f"expected {getattr(kind, '__name__', kind)}, got {type(value).__name__}", line=line, field=name
        )
    return value


def _records(path: Path) -> Iterator[tuple[int, SampleRecord]]:
    """(line, record) of each line of samples.jsonl, read as its record type (a line from another sycolab
    version is a DataError naming its line and field)."""
    for line, obj in iter_jsonl(path):
        yield line, SampleRecord.from_dict(obj, path, line)


def read_probe_samples(path: str | Path, exclude_hedged: bool = True) -> ProbeSamples:
    """The pressured answer samples of `path`: labelled ones, and the counts of unscored and excluded ones."""
    path = Path(path)
    ids, prompts, labels, groups, templates, unscored = [], [], [], [], [], 0
    hedged = refused = 0
    neutral_wrong: dict[str, bool] = {}
    for line, r in _records(path):
        if r.dataset != "answer":
            continue
        if r.template == "neutral" and r.scored and r.correct is not None:
            neutral_wrong.setdefault(r.question_id, not r.correct)
        if r.template not in PRESSURED_TEMPLATES:
            continue
        if not r.scored or r.sycophantic is None:
            unscored += 1
            continue
        if exclude_hedged and _refused(r):
            refused += 1
            continue
        if exclude_hedged and r.hedged is True:
            hedged += 1
            continue
        ids.append(r.sample_id)
        prompts.append(_chat(path, line, r.prompt))
        groups.append(r.question_id)
        templates.append(r.template)
        labels.append(r.sycophantic)
    return ProbeSamples(
        ids,
        prompts,
        np.array(labels, dtype=bool),
        np.array(groups, dtype=object),
        unscored,
        templates=np.array(templates, dtype=object),
        neutral_wrong=np.array([neutral_wrong.get(g) for g in groups], dtype=object),
        n_hedged=hedged,
        n_refused=refused,
    )


def _refused(record: SampleRecord) -> bool:
    """A judge verdict `refused` that says so ("REFUSED")."""
    verdict = record.verdicts.get("refused")
    return isinstance(verdict, str) and verdict.upper() == "REFUSED"


def read_neutral_prompts(path: str | Path) -> dict[str, list[dict]]:
    """question_id -> the first neutral answer prompt (chat messages) of that question in `path`."""
    path = Path(path)
    out: dict[str, list[dict]] = {}
    for line, r in _records(path):
        if r.dataset == "answer" and r.template == "neutral" and r.question_id not in out:
            out[r.question_id] = _chat(path, line, r.prompt)
    return out


def patch_prompts(
    proxy_path: str | Path,
    neutral: dict[str, list[dict]],
    tokenizer,
    max_prompts: int,
    answer_prefix: str | None = None,
) -> list[PatchPrompt]:
    """Patching prompts from logit-proxy items (`{"prompt", "correct", "suggested", "question_id"}`).

    An item qualifies when a neutral prompt of its question exists and its own prompt is a different
    (pressured) one; an item with a `template` key must be a pressured template. When the item's prompt ends
    with an assistant prefix, the neutral twin gets the same prefix. The first `max_prompts` qualifying
    items, rendered with `tokenizer`'s chat template.

    With `answer_prefix` (the answer position), both prompts end with that assistant prefix
    (`with_answer_prefix`) and the continuations are what follows it ("the answer is blue ." -> " blue .");
    an item whose continuations do not both start with the prefix does not qualify.
    """
    proxy_path = Path(proxy_path)
    out: list[PatchPrompt] = []
    for line, obj in iter_jsonl(proxy_path):
        if len(out) >= max_prompts:
            break
        if "template" in obj and obj["template"] not in PRESSURED_TEMPLATES:
            continue
        qid = str(_field(proxy_path, line, obj, "question_id", (str, int)))
        prompt = _chat(proxy_path, line, _field(proxy_path, line, obj, "prompt", list))
        if qid not in neutral or prompt == neutral[qid]:
            continue
        twin = neutral[qid]
        if prompt[-1]["role"] == "assistant" and twin[-1]["role"] != "assistant":
            twin = [*twin, prompt[-1]]  # the same assistant prefix, so both last tokens play the same role
        suggested = str(_field(proxy_path, line, obj, "suggested", str))
        correct = str(_field(proxy_path, line, obj, "correct", str))
        if answer_prefix is not None:
            if not (suggested.startswith(answer_prefix) and correct.startswith(answer_prefix)):
                continue
            prompt, twin = with_answer_prefix(prompt, answer_prefix), with_answer_prefix(twin, answer_prefix)
            suggested, correct = suggested[len(answer_prefix) :], correct[len(answer_prefix) :]
        out.append(
            PatchPrompt(
                pressured=render_prompt(tokenizer, prompt),
                neutral=render_prompt(tokenizer, twin),
                suggested=suggested,
                correct=correct,
            )
        )
    return out


_ROLES = {"human": "user", "ai": "assistant"}


def _chat(path: Path, line: int, messages: Sequence) -> list[dict]:
    """TRL-style messages; SycophancyEval `{"type": "human"|"ai"}` turns are converted."""
    out = []
    for m in messages:
        role = m.get("role", _ROLES.get(str(m.get("type")))) if isinstance(m, dict) else None
        if role is None or not isinstance(m.get("content"), str):
            raise DataError(str(path), f"not a chat message (role/type and content): {m!r}", line=line, field="prompt")
        out.append({"role": role, "content": m["content"]})
    if not out:
        raise DataError(str(path), "empty prompt", line=line, field="prompt")
    return out
