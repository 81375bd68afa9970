"""`generate_world`: write every file of the tiny world (see docs/architecture.md, "World files").

Same config (seed included) gives byte-identical files: every random draw comes from a stream seeded
by (seed, part name), rows are written with sorted keys through `sycolab.io`, and nothing depends on
set or dict iteration order of unsorted data. `world.json` is written last, so its presence marks a
complete world.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from sycolab.data import prompts
from sycolab.io import atomic_write_json, write_jsonl
from sycolab.world.config import WorldConfig
from sycolab.world.eval_sets import (
    answer_rows,
    are_you_sure_rows,
    feedback_rows,
    proxy_rows,
    select_eval_questions,
)
from sycolab.world.facts import World, build_world
from sycolab.world.feedback_texts import QUALITY_RULES, build_feedback_texts
from sycolab.world.lexicon import POEM_LINE_SEPARATOR
from sycolab.world.training_sets import base_corpus, grpo_prompts, preference_pairs, sycophantic_sft

WORLD_FILES = (
    "eval/answer.jsonl",
    "eval/are_you_sure.jsonl",
    "eval/feedback.jsonl",
    "train/base_corpus.jsonl",
    "train/sft_sycophantic.jsonl",
    "train/preference_pairs.jsonl",
    "train/preference_heldout.jsonl",
    "train/grpo_prompts.jsonl",
    "heldout/proxy.jsonl",
    "world.json",
)


class WorldSummary(BaseModel):
    """What `generate_world` wrote: line counts per JSONL file (path relative to the world folder),
    vocabulary size (distinct space-separated words a model reads or writes), entities per split."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int
    files: dict[str, int]
    vocabulary_size: int
    split_sizes: dict[str, int]


def build_world_files(cfg: WorldConfig) -> tuple[World, dict[str, list[dict[str, Any]]]]:
    """The world and the rows of every JSONL file (relative path -> rows), without writing anything."""
    world = build_world(cfg)
    texts = build_feedback_texts(cfg, world)
    answer_questions, ays_questions = select_eval_questions(cfg, world)
    pref_train, pref_heldout = preference_pairs(cfg, world, texts["base"])
    rows = {
        "eval/answer.jsonl": answer_rows(answer_questions),
        "eval/are_you_sure.jsonl": are_you_sure_rows(ays_questions),
        "eval/feedback.jsonl": feedback_rows(texts["eval"]),
        "train/base_corpus.jsonl": base_corpus(cfg, world, texts["base"]),
        "train/sft_sycophantic.jsonl": sycophantic_sft(cfg, world, texts["sft"]),
        "train/preference_pairs.jsonl": pref_train,
        "train/preference_heldout.jsonl": pref_heldout,
        "train/grpo_prompts.jsonl": grpo_prompts(cfg, world),
        "heldout/proxy.jsonl": proxy_rows(answer_questions),
    }
    return world, rows


def generate_world(cfg: WorldConfig, out_dir: Path) -> WorldSummary:
    """Write the tiny world's files under `out_dir` (created if needed; other files there are left alone)."""
    out_dir = Path(out_dir)
    world, rows = build_world_files(cfg)
    for rel_path, file_rows in rows.items():
        write_jsonl(out_dir / rel_path, file_rows)
    vocabulary = sorted({word for file_rows in rows.values() for text in _texts(file_rows) for word in text.split()})
    summary = WorldSummary(
        seed=cfg.seed,
        files={path: len(file_rows) for path, file_rows in rows.items()},
        vocabulary_size=len(vocabulary),
        split_sizes={split: len(entities) for split, entities in world.splits.items()},
    )
    atomic_write_json(out_dir / "world.json", world_json(cfg, world, summary.files, vocabulary))
    return summary


def world_json(cfg: WorldConfig, world: World, files: dict[str, int], vocabulary: list[str]) -> dict[str, Any]:
    """The contents of world.json: config, facts and splits, templates, replies, quality rules, vocabulary."""
    return {
        "seed": cfg.seed,
        "config": cfg.model_dump(mode="json"),
        "world": world.to_json(),
        "answer_templates": dict(prompts.ANSWER_TEMPLATES),
        "are_you_sure": {"challenge": prompts.ARE_YOU_SURE_CHALLENGE, "answer_prefix": prompts.ANSWER_PREFIX},
        "replies": {
            "answer": prompts.ANSWER_REPLY,
            "hedge": prompts.HEDGE_REPLY,
            "sure": prompts.SURE_REPLY,
            "apology": prompts.APOLOGY_REPLY,
            "feedback": prompts.FEEDBACK_REPLY,
            "feedback_ratings": list(prompts.FEEDBACK_RATINGS),
        },
        "feedback": {
            "kinds": dict(prompts.FEEDBACK_KINDS),
            "template_names": dict(prompts.FEEDBACK_TEMPLATE_NAMES),
            "templates": {
                d: {t: prompts.feedback_prompt_template(d, t) for t in prompts.FEEDBACK_TEMPLATE_TYPES}
                for d in prompts.FEEDBACK_DOMAINS
            },
            "quality_rules": dict(QUALITY_RULES),
            "poem_line_separator": POEM_LINE_SEPARATOR,
        },
        "files": dict(files),
        "vocabulary": vocabulary,
    }


def _texts(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """Every string a model reads or writes in these rows (message contents and proxy continuations)."""
    for row in rows:
        for key in ("prompt", "completion", "chosen", "rejected", "messages"):
            for message in row.get(key, ()):
                yield message["content"]
        for key in ("correct", "suggested"):
            if key in row:
                yield row[key]
