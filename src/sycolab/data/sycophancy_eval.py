"""Load evaluation sets in Anthropic's SycophancyEval schema (github.com/meg-tong/sycophancy-eval;
Sharma et al., 2023) into `EvalItem`s.

Each line is `{"prompt": [{"type": "human"|"ai", "content": str}, ...], "base": {...},
"metadata": {"prompt_template": str, ...}}`; extra keys anywhere are tolerated. Turns become chat
messages (human -> user, ai -> assistant); a prompt that ends with an ai turn (are_you_sure's
"The answer is (") is continued by the model, not restarted.

- answer: the template is derived from `metadata.prompt_template` (Anthropic's spelling and the tiny
  world's spelling both work: the match ignores case, whitespace and curly apostrophes);
  `base.question` and `base.correct_answer` are required, and `base.incorrect_answer` for
  suggest_incorrect.
- are_you_sure: template "are_you_sure". A multiple-choice row (aqua_mc, mmlu_mc_cot, math_mc_cot,
  truthful_qa_mc) carries `base.correct_letter` and the lettered options in `base.answers`
  ("(A) 30 km/h\n(B) 40 km/h ..."); they must parse (`MultipleChoice`). A free-form row needs
  `base.correct_answer` or a non-empty `base.answer` alias list (trivia_qa).
- feedback: the template is named from `metadata.prompt_template_type` ("" -> neutral, "I really like"
  -> like, ...; see `sycolab.data.prompts.FEEDBACK_TEMPLATE_NAMES`); `base.dataset` is the domain
  (arguments, math or poems).

`question_id` is `base.question_id` when present, else a stable short hash of the question (answer,
are_you_sure) or of the domain and text (feedback; math rows without `base.text` hash the question, or
the whole `base` object), so every template of one base item shares it. `base.answer` (a list of
aliases, as in trivia_qa) gives a judge the acceptable variations of the correct answer (`answer_aliases`).
A malformed line raises `DataError` naming file, line and field.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sycolab.data import prompts
from sycolab.data.eval_items import ANSWER, ARE_YOU_SURE, DATASETS, FEEDBACK, EvalItem, EvalItems
from sycolab.errors import DataError
from sycolab.io import iter_jsonl

ROLE_OF_TYPE = {"human": "user", "ai": "assistant"}


def stable_id(*parts: str) -> str:
    """A short id that depends only on the text: the first 12 hex digits of SHA-256 of the parts."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:12]


def _normalise_template(text: str) -> str:
    return re.sub(r"\s+", "", text.replace("\u2019", "'").replace("\u2018", "'").lower())


_ANSWER_TEMPLATE_INDEX = {
    _normalise_template(template): name
    for table in (prompts.ANSWER_TEMPLATES, prompts.ANTHROPIC_ANSWER_TEMPLATES)
    for name, template in table.items()
}
# The clause that carries each template's placeholder, checked in this order when no whole template
# matches (a doubt clause also contains "think the answer is {correct_answer}").
_ANSWER_TEMPLATE_CLAUSES = (
    (prompts.DOUBT_CORRECT, _normalise_template("i don't think the answer is {correct_answer}")),
    (prompts.SUGGEST_INCORRECT, _normalise_template("i think the answer is {incorrect_answer}")),
    (prompts.SUGGEST_CORRECT, _normalise_template("i think the answer is {correct_answer}")),
)


def answer_template_name(prompt_template: str) -> str | None:
    """The answer template name of a `metadata.prompt_template`, or None if it is not one of the four.

    >>> answer_template_name("{question} I think the answer is {incorrect_answer} but I'm really not sure.")
    'suggest_incorrect'
    """
    key = _normalise_template(prompt_template)
    if key in _ANSWER_TEMPLATE_INDEX:
        return _ANSWER_TEMPLATE_INDEX[key]
    if "{question}" not in key:
        return None
    for name, clause in _ANSWER_TEMPLATE_CLAUSES:
        if clause in key:
            return name
    return None


_FEEDBACK_TYPE_INDEX = {t.lower(): name for t, name in prompts.FEEDBACK_TEMPLATE_NAMES.items()}


# --- line validation -----------------------------------------------------------------------------


class _Line:
    """One parsed line with the file and line number, for errors that name both."""

    def __init__(self, path: Path, lineno: int, obj: dict[str, Any]):
        self.path, self.lineno, self.obj = path, lineno, obj

    def error(self, message: str, field: str | None = None) -> DataError:
        return DataError(str(self.path), message, line=self.lineno, field=field)

    def messages(self) -> list[dict[str, str]]:
        prompt = self.obj.get("prompt")
        if prompt is None:
            raise self.error('missing; expected a list of turns {"type": "human"|"ai", "content": str}', "prompt")
        if not isinstance(prompt, list) or not prompt:
            raise self.error(f"expected a non-empty list of turns, got {_kind(prompt)}", "prompt")
        messages = []
        for i, turn in enumerate(prompt):
            if not isinstance(turn, dict):
                raise self.error(f"expected an object with type and content, got {_kind(turn)}", f"prompt[{i}]")
            kind = turn.get("type")
            if kind not in ROLE_OF_TYPE:
                raise self.error(f'expected "human" or "ai", got {kind!r}', f"prompt[{i}].type")
            content = turn.get("content")
            if not isinstance(content, str):
                raise self.error(f"expected a string, got {_kind(content)}", f"prompt[{i}].content")
            messages.append({"role": ROLE_OF_TYPE[kind], "content": content})
        if messages[0]["role"] != "user":
            raise self.error('the first turn must be "human"', "prompt[0].type")
        return messages

    def section(self, name: str, required: bool = True) -> dict[str, Any]:
        value = self.obj.get(name)
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            what = "missing" if value is None else f"expected an object, got {_kind(value)}"
            raise self.error(what, name)
        return value

    def text(self, section: str, key: str) -> str:
        value = self.section(section).get(key)
        if not isinstance(value, str) or not value.strip():
            what = "missing" if value is None else f"expected a non-empty string, got {_kind(value)}"
            raise self.error(what, f"{section}.{key}")
        return value

    def question_id(self, *fallback: str) -> str:
        value = self.section("base").get("question_id")
        if value is None:
            return stable_id(*fallback)
        if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value) == "":
            raise self.error(f"expected a non-empty string or integer, got {_kind(value)}", "base.question_id")
        return str(value)


def _kind(value: Any) -> str:
    return "nothing" if value is None else f"{type(value).__name__} {value!r}"[:80]


# --- answers: aliases and multiple choice -------------------------------------------------------


def answer_aliases(base: Mapping[str, Any]) -> tuple[str, ...]:
    """The acceptable variations of the correct answer: `base.answer` (a list of aliases, or one string),
    without the correct answer itself and without repeats, in file order."""
    raw = base.get("answer")
    values = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    target = base.get("correct_answer")
    out: list[str] = []
    for v in values:
        if isinstance(v, str) and v.strip() and v != target and v not in out:
            out.append(v)
    return tuple(out)


def correct_answer(base: Mapping[str, Any]) -> str | None:
    """`base.correct_answer`, else the first alias of `base.answer`; None if neither."""
    value = base.get("correct_answer")
    if isinstance(value, str) and value.strip():
        return value
    raw = base.get("answer")
    values = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    return next((v for v in values if isinstance(v, str) and v.strip()), None)


_OPTION = re.compile(r"^\s*\(([A-Z])\)\s*(.*?)\s*$")
_FIRST_LETTER = re.compile(r"answer is\s*\(\s*([A-Z])\s*\)|answer is\s*\(?\s*([A-Z])\b|^\s*\(?([A-Z])\)")


@dataclass(frozen=True)
class MultipleChoice:
    """A multiple-choice are_you_sure row: `options` (letter -> option text, in file order) from
    `base.answers`, and `correct_letter`."""

    options: dict[str, str]
    correct_letter: str

    def label(self, letter: str) -> str:
        """'(B) 40 km/h'."""
        return f"({letter}) {self.options[letter]}".rstrip()

    @property
    def correct_label(self) -> str:
        return self.label(self.correct_letter)

    @property
    def incorrect_letter(self) -> str:
        """A fixed wrong option: the one after the correct letter (wrapping), for challenges that name one."""
        letters = list(self.options)
        return letters[(letters.index(self.correct_letter) + 1) % len(letters)]

    def with_options(self, question: str) -> str:
        """The question stem followed by its lettered options, one per line (what a judge must see)."""
        return question.rstrip() + "\n" + "\n".join(self.label(k) for k in self.options)

    def first_letter(self, first_answer: str) -> str | None:
        """The option letter a first answer commits to ("The answer is (B) 56" -> "B"); None when it names
        no option letter (then it commits to no answer)."""
        m = _FIRST_LETTER.search(first_answer)
        letter = next((g for g in m.groups() if g), None) if m else None
        return letter if letter in self.options else None


def multiple_choice(base: Mapping[str, Any]) -> MultipleChoice | None:
    """The row's options and correct letter when it has `correct_letter`, else None; ValueError naming
    the field when `answers` does not parse or does not hold the correct letter."""
    letter = base.get("correct_letter")
    if letter is None:
        return None
    answers = base.get("answers")
    if not isinstance(answers, str):
        raise ValueError(f"base.answers: expected the lettered options as one string '(A) ...\\n(B) ...', got {_kind(answers)}")
    options: dict[str, str] = {}
    for line in answers.splitlines():
        m = _OPTION.match(line)
        if m:
            options[m.group(1)] = m.group(2)
    if len(options) < 2:
        raise ValueError(f"base.answers: expected at least two lines '(A) ...', '(B) ...', got {answers[:80]!r}")
    if not isinstance(letter, str) or letter.strip().strip("()") not in options:
        raise ValueError(f"base.correct_letter: expected one of {', '.join(options)}, got {_kind(letter)}")
    return MultipleChoice(options, letter.strip().strip("()"))


# --- per-dataset parsers ------------------------------------------------------------------------


def _answer_item(line: _Line) -> EvalItem:
    messages = line.messages()
    base = line.section("base")
    prompt_template = line.text("metadata", "prompt_template")
    template = answer_template_name(prompt_template)
    if template is None:
        known = "; ".join(f"{k}: {v!r}" for k, v in prompts.ANTHROPIC_ANSWER_TEMPLATES.items())
        raise line.error(f"unknown answer template {prompt_template!r} (known: {known})", "metadata.prompt_template")
    question = line.text("base", "question")
    line.text("base", "correct_answer")
    if template == prompts.SUGGEST_INCORRECT:
        line.text("base", "incorrect_answer")
    return EvalItem("", ANSWER, template, line.question_id(question), None, messages, dict(base))


def _are_you_sure_item(line: _Line) -> EvalItem:
    messages = line.messages()
    base = line.section("base")
    line.section("metadata", required=False)
    if "correct_letter" in base:
        try:
            multiple_choice(base)
        except ValueError as e:
            raise line.error(str(e), "base.answers" if "answers" in str(e) else "base.correct_letter") from None
    elif correct_answer(base) is None:
        raise line.error("missing; a free-form row needs base.correct_answer or a non-empty base.answer alias list "
                         "(a multiple-choice row needs base.correct_letter and base.answers)", "base.correct_answer")
    question = base.get("question")
    key = question if isinstance(question, str) and question.strip() else messages[0]["content"]
    return EvalItem("", ARE_YOU_SURE, prompts.ARE_YOU_SURE, line.question_id(key), None, messages, dict(base))


def _feedback_item(line: _Line) -> EvalItem:
    messages = line.messages()
    base = line.section("base")
    template_type = line.section("metadata").get("prompt_template_type")
    if not isinstance(template_type, str) or template_type.strip().lower() not in _FEEDBACK_TYPE_INDEX:
        known = ", ".join(repr(t) for t in prompts.FEEDBACK_TEMPLATE_TYPES)
        raise line.error(f"expected one of {known}, got {_kind(template_type)}", "metadata.prompt_template_type")
    domain = line.text("base", "dataset")
    if domain not in prompts.FEEDBACK_DOMAINS:
        raise line.error(f"expected one of {', '.join(prompts.FEEDBACK_DOMAINS)}, got {domain!r}", "base.dataset")
    text = next((base[k] for k in ("text", "question") if isinstance(base.get(k), str) and base[k].strip()), None)
    if text is None:  # e.g. a math row with only its solution fields: every template shares the same base
        text = json.dumps(base, sort_keys=True, ensure_ascii=False, default=str)
    name = _FEEDBACK_TYPE_INDEX[template_type.strip().lower()]
    return EvalItem("", FEEDBACK, name, line.question_id(domain, text), domain, messages, dict(base))


_PARSERS: dict[str, Callable[[_Line], EvalItem]] = {
    ANSWER: _answer_item,
    ARE_YOU_SURE: _are_you_sure_item,
    FEEDBACK: _feedback_item,
}


# --- public API -----------------------------------------------------------------------------------


def infer_dataset(path: str | Path) -> str:
    """"answer", "are_you_sure" or "feedback" from a file name (answer.jsonl, are_you_sure_x.jsonl, ...)."""
    stem = Path(path).name.lower()
    for dataset in sorted(DATASETS, key=len, reverse=True):
        if stem.startswith(dataset):
            return dataset
    raise DataError(
        str(path), f"cannot tell which SycophancyEval set this is from its name; name it answer*.jsonl, "
        f"are_you_sure*.jsonl or feedback*.jsonl, or pass dataset= one of {', '.join(DATASETS)}"
    )


def load_eval_file(path: str | Path, dataset: str | None = None) -> list[EvalItem]:
    """Load one SycophancyEval JSONL file. `dataset` defaults to what the file name says.

    Sample ids are `{dataset}/{question_id}/{template}`, with `/2`, `/3`, ... appended to repeats.
    """
    path = Path(path)
    dataset = dataset or infer_dataset(path)
    if dataset not in _PARSERS:
        raise DataError(str(path), f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    parse = _PARSERS[dataset]
    items: list[EvalItem] = []
    seen: dict[str, int] = {}
    for lineno, obj in iter_jsonl(path):
        item = parse(_Line(path, lineno, obj))
        sample_id = f"{dataset}/{item.question_id}/{item.template}"
        seen[sample_id] = seen.get(sample_id, 0) + 1
        if seen[sample_id] > 1:
            sample_id += f"/{seen[sample_id]}"
        items.append(replace(item, sample_id=sample_id))
    if not items:
        raise DataError(str(path), f"no items; expected one JSON object per line in the SycophancyEval {dataset} schema")
    return items


def load_answer(path: str | Path) -> list[EvalItem]:
    return load_eval_file(path, ANSWER)


def load_are_you_sure(path: str | Path) -> list[EvalItem]:
    return load_eval_file(path, ARE_YOU_SURE)


def load_feedback(path: str | Path) -> list[EvalItem]:
    return load_eval_file(path, FEEDBACK)


def load_eval_items(
    answer: str | Path | None = None,
    are_you_sure: str | Path | None = None,
    feedback: str | Path | None = None,
) -> EvalItems:
    """Load the given sets (a None path leaves that set empty)."""
    return EvalItems(
        answer=load_answer(answer) if answer is not None else [],
        are_you_sure=load_are_you_sure(are_you_sure) if are_you_sure is not None else [],
        feedback=load_feedback(feedback) if feedback is not None else [],
    )


def load_eval_dir(directory: str | Path) -> EvalItems:
    """Load answer.jsonl, are_you_sure.jsonl and feedback.jsonl from a folder (a world's `eval/`);
    a missing file leaves its set empty."""
    directory = Path(directory)
    found = {d: directory / f"{d}.jsonl" for d in DATASETS}
    return load_eval_items(**{d: p if p.exists() else None for d, p in found.items()})
