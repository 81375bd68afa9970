"""Where evaluation items come from, and what that allows: the rule judge grades only the tiny world's
items, the world keeps its own are-you-sure challenge, and metrics of different sources are not mixed.

An item belongs to the tiny world when it matches the world's `world.json`:
- answer / are_you_sure: `base.entity` and `base.relation` name a fact of the world, `base.correct_answer`
  is that fact's value, and `base.question` is one of the relation's phrasings of that entity;
- feedback: `base.quality` is "good" or "bad" (the world's ground truth) and every word of `base.text`
  is in the world's vocabulary.
A set is the world's when every item is. Anything else (Anthropic's SycophancyEval files, your own) is
external data, labelled by its folder (`file:<folder>`), so three files of one release share a source.

`seen_questions` finds the evaluated answer questions that a training file also asks, so answer
metrics can be reported for seen and unseen questions apart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sycolab.errors import UserError
from sycolab.evaluation.records import (
    ANSWER,
    ARE_YOU_SURE,
    DATASETS,
    FEEDBACK,
    EvalItem,
    EvalItems,
)

WORLD_SOURCE = "tiny world"

RULE_JUDGE_HELP = (
    "choose a model judge, e.g. `sycolab eval RUN_DIR --data FILE --set evaluate.judge.kind=openai "
    "--set evaluate.judge.base_url=http://HOST:PORT/v1 --set evaluate.judge.model=MODEL` (or kind=hf with "
    "evaluate.judge.model_path=PATH; the same keys can come from `--config FILE`'s evaluate section)"
)


@dataclass(frozen=True)
class WorldIndex:
    """What of world.json the membership check needs."""

    facts: dict[str, dict[str, str]]
    phrasings: dict[str, tuple[str, ...]]
    vocabulary: frozenset[str]

    @classmethod
    def load(cls, path: str | Path) -> WorldIndex:
        from sycolab.io import read_json
        from sycolab.world.facts import load_world

        world = load_world(path)
        file = Path(path) / "world.json" if Path(path).is_dir() else Path(path)
        vocabulary = read_json(file).get("vocabulary") or []
        phrasings = {r.name: tuple(r.train_phrasings) + tuple(r.heldout_phrasings) for r in world.relations}
        return cls(world.facts, phrasings, frozenset(vocabulary))

    def problem(self, item: EvalItem) -> str | None:
        """Why `item` is not the world's, or None when it is."""
        base = item.base
        if item.dataset == FEEDBACK:
            if base.get("quality") not in ("good", "bad"):
                return "base.quality is not the world's ground truth ('good' or 'bad')"
            from sycolab.judging.rule import tokens

            unknown = sorted({t for t in tokens(str(base.get("text", ""))) if t not in self.vocabulary})
            return f"base.text has words outside the world's vocabulary: {unknown[:5]}" if unknown else None
        entity, relation = base.get("entity"), base.get("relation")
        fact = self.facts.get(entity, {}) if isinstance(entity, str) else {}
        if not isinstance(relation, str) or relation not in fact:
            return f"no world fact for base.entity {entity!r} and base.relation {relation!r}"
        if base.get("correct_answer") != fact[relation]:
            return f"base.correct_answer {base.get('correct_answer')!r} is not the world's {fact[relation]!r}"
        if base.get("question") not in {p.format(entity=entity) for p in self.phrasings.get(relation, ())}:
            return f"base.question {str(base.get('question'))[:60]!r} is not a world phrasing"
        return None


@dataclass(frozen=True)
class DataScope:
    """Per evaluated set: its file (or None), whether it is the tiny world's, and its source label."""

    files: dict[str, str | None] = field(default_factory=dict)
    world: dict[str, bool] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def sources(self) -> dict[str, str]:
        """dataset -> 'tiny world' or 'file:<folder>' (only for sets that were given)."""
        out = {}
        for ds, path in self.files.items():
            if path is not None:
                out[ds] = WORLD_SOURCE if self.world.get(ds) else f"file:{Path(path).resolve().parent}"
        return out

    def is_world(self, dataset: str) -> bool:
        return self.world.get(dataset, False)

    def require_world(self, judge: str) -> None:
        """UserError naming the judge and the first set that is not the world's (the rule judge's limit)."""
        for ds in DATASETS:
            if self.files.get(ds) is not None and not self.is_world(ds):
                raise UserError(
                    f"judge '{judge}' grades only the tiny world's items, but {self.files[ds]} is not the world's "
                    f"({self.problems.get(ds, 'no world.json to check against')}); nothing was run; {RULE_JUDGE_HELP}"
                )


def _shape_problem(item: EvalItem) -> str | None:
    """Why `item` cannot be the world's, judged from its fields alone (no world.json yet)."""
    base = item.base
    if item.dataset == FEEDBACK:
        return None if base.get("quality") in ("good", "bad") else "base.quality is not the world's ground truth ('good' or 'bad')"
    if not isinstance(base.get("entity"), str) or not isinstance(base.get("relation"), str):
        return "no base.entity / base.relation: not a world fact"
    return None


def check_rule_judge_files(files: Mapping[str, str | Path], world_file: str | Path) -> None:
    """The start-of-study form of `DataScope.require_world`: evaluation files named in the config are
    checked against world.json when it exists (a resumed run), else by their fields, so a study with the
    rule judge and real data stops before training rather than at its eval stage."""
    from sycolab.data.sycophancy_eval import load_eval_items

    items = load_eval_items(**{d: files.get(d) for d in DATASETS})
    if Path(world_file).is_file():
        data_scope(items, files, world_file).require_world("rule")
        return
    for ds, group in ((ANSWER, items.answer), (ARE_YOU_SURE, items.are_you_sure), (FEEDBACK, items.feedback)):
        bad = next(((it, p) for it in group if (p := _shape_problem(it)) is not None), None)
        if bad is not None:
            scope = DataScope({ds: str(files[ds])}, {ds: False}, {ds: f"item {bad[0].sample_id}: {bad[1]}"})
            scope.require_world("rule")


def data_scope(items: EvalItems, files: Mapping[str, str | Path | None], world_file: str | Path | None) -> DataScope:
    """Check every set of `items` against the world (`world_file`: world.json or its folder; None or
    missing when the study has no world, so nothing is the world's)."""
    index = None
    if world_file is not None and (Path(world_file).is_file() or (Path(world_file) / "world.json").is_file()):
        index = WorldIndex.load(world_file)
    sets: dict[str, Sequence[EvalItem]] = {ANSWER: items.answer, ARE_YOU_SURE: items.are_you_sure, FEEDBACK: items.feedback}
    world: dict[str, bool] = {}
    problems: dict[str, str] = {}
    for ds, group in sets.items():
        if index is None:
            world[ds] = False
            continue
        bad = next(((it, p) for it in group if (p := index.problem(it)) is not None), None)
        world[ds] = bool(group) and bad is None
        if bad is not None:
            problems[ds] = f"item {bad[0].sample_id}: {bad[1]}"
    str_files = {ds: (None if files.get(ds) is None else str(files[ds])) for ds in DATASETS}
    return DataScope(str_files, world, problems)



def _normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u2019", "'").lower()).strip()


def seen_questions(answer_items: Sequence[EvalItem], training_files: Sequence[str | Path],
                   cache_dir: Path | None = None) -> set[str]:
    """question_ids of `answer_items` whose question text (case and spacing ignored) occurs inside a user
    turn of any training file (TRL conversational rows: `prompt`, `messages`, `chosen`/`rejected`);
    missing files are skipped. One substring search per question over the joined user turns.

    With `cache_dir`, the answer is kept in `cache_dir/seen_questions/<key>.json`, the key a hash of the
    questions and of every training file's bytes (a changed or added file is a new key): a cached
    re-evaluation then hashes the files instead of parsing and searching them."""
    import hashlib

    from sycolab.io import atomic_write_json, read_json

    if cache_dir is None:
        return _seen_questions(answer_items, training_files)
    digest = hashlib.sha256()
    for item in answer_items:
        digest.update(json.dumps([item.question_id, item.base.get("question")]).encode())
    for path in training_files:
        digest.update(b"\0file\0")
        if Path(path).is_file():
            digest.update(hashlib.sha256(Path(path).read_bytes()).digest())
    cached = Path(cache_dir) / "seen_questions" / f"{digest.hexdigest()[:32]}.json"
    if cached.is_file():
        return set(read_json(cached))
    out = _seen_questions(answer_items, training_files)
    atomic_write_json(cached, sorted(out))
    return out


def _seen_questions(answer_items: Sequence[EvalItem], training_files: Sequence[str | Path]) -> set[str]:
    from sycolab.io import iter_jsonl

    turns: list[str] = []
    for path in training_files:
        if not Path(path).is_file():
            continue
        for _, row in iter_jsonl(path):
            for key in ("prompt", "messages"):
                value = row.get(key)
                if isinstance(value, list):
                    turns += [m["content"] for m in value if isinstance(m, dict) and m.get("role") == "user"
                              and isinstance(m.get("content"), str)]
                elif isinstance(value, str):
                    turns.append(value)
    corpus = "\n".join(_normalised(t) for t in turns)
    out: set[str] = set()
    for item in answer_items:
        question = item.base.get("question")
        if item.question_id not in out and isinstance(question, str) and question.strip() and _normalised(question) in corpus:
            out.add(item.question_id)
    return out
