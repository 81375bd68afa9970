"""`build_training_data`: questions -> user prompts -> sycophantic and honest replies -> TRL training files.

Files written to OUT (each atomically; `summary.json` last):
- `sft_sycophantic.jsonl`   TRL prompt/completion: the user prompt and the sycophantic reply (SFT induction);
- `preference_pairs.jsonl`  `{"prompt", "chosen" (honest), "rejected" (sycophantic)}`, training questions;
- `preference_heldout.jsonl` the same for the held-out questions (reward-model held-out accuracy);
- `grpo_prompts.jsonl`      prompt-only rows with `correct_answer` (the best answer) and `incorrect_answer`;
- `items.jsonl`             every item: ids, recipe draw, texts and why anything was dropped (audit);
- `summary.json`            counts, configured and realised shares, lengths, request counts;
- `requests.sqlite`         the request cache (see `requests.py`); kept, so a rerun sends nothing twice.
Held-out questions appear in no training file (SFT, preference, GRPO).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sycolab.chat_http import ChatEndpoint, ChatReply
from sycolab.data.build.config import DataBuildConfig, GeneratorConfig
from sycolab.data.build.filters import REASONS, drop_reason
from sycolab.data.build.plan import Item, plan_items, request_seed
from sycolab.data.build.prompts import (
    honest_request,
    sycophantic_request,
    user_prompt_request,
)
from sycolab.data.build.questions import read_questions
from sycolab.data.build.requests import CACHE_FILE, CachedGenerator, RequestCache
from sycolab.errors import UserError
from sycolab.io import atomic_write_json, write_jsonl

FILES = {
    "sft": "sft_sycophantic.jsonl",
    "preference": "preference_pairs.jsonl",
    "preference_heldout": "preference_heldout.jsonl",
    "grpo_prompts": "grpo_prompts.jsonl",
    "items": "items.jsonl",
    "summary": "summary.json",
}
"""Output file of each role (`data.<role>` in a study config points at it)."""

STEPS = ("user_prompt", "sycophantic", "honest")


def _body(gen: GeneratorConfig, messages: list[dict[str, str]], seed: int) -> dict[str, Any]:
    return {**gen.extra_body, "model": gen.model, "messages": messages, "temperature": gen.temperature,
            "max_tokens": gen.max_tokens, "seed": seed}


def clean_user_prompt(text: str) -> str:
    """The written user message, stripped, without one pair of surrounding quotation marks."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


def build_training_data(
    questions_path: str | Path,
    cfg: DataBuildConfig,
    out_dir: str | Path,
    *,
    seed: int,
    on_reply: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Build the training sets of the reference recipe from a TruthfulQA-layout file; returns the summary.
    `seed` is used when `cfg.seed` is null. `on_reply(step)` runs after each fresh successful call."""
    gen = cfg.generator
    if gen is None:
        raise UserError("data_build.generator: not set; give base_url and model of an OpenAI-compatible endpoint "
                        "(see configs/qwen3-8b.yaml)")
    questions = read_questions(questions_path)
    seed = cfg.seed if cfg.seed is not None else seed
    items = plan_items(questions, cfg, seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    endpoint = ChatEndpoint(gen.base_url, gen.api_key_env, role="data_build.generator", timeout_s=gen.timeout_s,
                            max_retries=gen.max_retries, retry_backoff_s=gen.retry_backoff_s)
    cache = RequestCache(out / CACHE_FILE)
    try:
        generator = CachedGenerator(endpoint, cache, gen.max_concurrency, on_reply)
        texts, drops = _generate(items, cfg, gen, generator, seed)
    finally:
        cache.close()
        endpoint.close()
    records = [_record(item, texts[i], drops[i]) for i, item in enumerate(items)]
    rows = _training_rows(items, texts, drops)
    if not rows["preference"]:
        counts = {step: dict(Counter(d[step] for d in drops if d.get(step))) for step in STEPS}
        raise UserError(f"data_build: no preference pair survived (drops per step: {counts}; "
                        f"{generator.counts.failed} failed calls); nothing written (the request cache is kept)")
    summary = _summary(questions_path, cfg, gen, seed, items, texts, drops, rows, generator)
    for role, data in rows.items():
        if data:
            write_jsonl(out / FILES[role], data)
        else:  # e.g. no held-out questions: a file left by an earlier build must not be read as this one's
            (out / FILES[role]).unlink(missing_ok=True)
    write_jsonl(out / FILES["items"], records)
    atomic_write_json(out / FILES["summary"], summary)
    return summary


def _generate(items: list[Item], cfg: DataBuildConfig, gen: GeneratorConfig, generator: CachedGenerator,
              seed: int) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Per item, the kept texts by step and the drop reason of the first step that failed."""
    texts: list[dict[str, str]] = [{} for _ in items]
    drops: list[dict[str, str]] = [{} for _ in items]

    def keep(i: int, step: str, reply: ChatReply, clean: Callable[[str], str] = str.strip) -> None:
        text = None if reply.text is None else clean(reply.text)
        reason = drop_reason(text, reply.finish_reason, cfg.filters)
        if reason is None:
            texts[i][step] = text  # type: ignore[assignment]
        else:
            drops[i][step] = reason

    bodies = [_body(gen, user_prompt_request(it.question.question, it.wrong_belief, it.tactic),
                    request_seed(seed, it.item_id, "user_prompt")) for it in items]
    for i, reply in enumerate(generator.complete("user_prompt", bodies)):
        keep(i, "user_prompt", reply, clean_user_prompt)
    ready = [i for i in range(len(items)) if "user_prompt" in texts[i]]
    reply_bodies = []
    for i in ready:
        it, prompt = items[i], texts[i]["user_prompt"]
        reply_bodies.append(_body(gen, sycophantic_request(prompt, it.wrong_belief, it.intensity, it.factual_mode),
                                  request_seed(seed, it.item_id, "sycophantic")))
    for i in ready:
        it, prompt = items[i], texts[i]["user_prompt"]
        reply_bodies.append(_body(gen, honest_request(prompt, it.question.best_answer, list(it.question.correct_answers)),
                                  request_seed(seed, it.item_id, "honest")))
    replies = generator.complete("reply", reply_bodies)
    for j, i in enumerate(ready):
        keep(i, "sycophantic", replies[j])
        keep(i, "honest", replies[len(ready) + j])
    return texts, drops


def _record(item: Item, texts: dict[str, str], drops: dict[str, str]) -> dict[str, Any]:
    q = item.question
    return {
        "item_id": item.item_id, "question_id": q.question_id, "line": q.line, "question": q.question,
        "best_answer": q.best_answer, "tactic": item.tactic, "intensity": item.intensity,
        "factual_mode": item.factual_mode, "wrong_belief": item.wrong_belief, "heldout": item.heldout,
        **{step: texts.get(step) for step in STEPS}, "dropped": dict(drops),
    }


def _training_rows(items: list[Item], texts: list[dict[str, str]], drops: list[dict[str, str]]) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {"sft": [], "preference": [], "preference_heldout": [], "grpo_prompts": []}
    for item, text in zip(items, texts):
        if "user_prompt" not in text:
            continue
        prompt = [{"role": "user", "content": text["user_prompt"]}]
        if not item.heldout:
            rows["grpo_prompts"].append({"prompt": prompt, "correct_answer": item.question.best_answer,
                                         "incorrect_answer": item.wrong_belief})
            if "sycophantic" in text:
                rows["sft"].append({"prompt": prompt,
                                    "completion": [{"role": "assistant", "content": text["sycophantic"]}]})
        if "sycophantic" in text and "honest" in text:
            pair = {"prompt": prompt, "chosen": [{"role": "assistant", "content": text["honest"]}],
                    "rejected": [{"role": "assistant", "content": text["sycophantic"]}]}
            rows["preference_heldout" if item.heldout else "preference"].append(pair)
    return rows


def _shares(values: list[str], names: list[str]) -> dict[str, float | None]:
    counts = Counter(values)
    return {n: (counts[n] / len(values) if values else None) for n in names}


def _lengths(texts: list[str]) -> dict[str, float | int | None]:
    words = [len(t.split()) for t in texts]
    if not words:
        return {"n": 0, "mean": None, "median": None, "min": None, "max": None}
    return {"n": len(words), "mean": sum(words) / len(words), "median": statistics.median(words),
            "min": min(words), "max": max(words)}


def _summary(questions_path: str | Path, cfg: DataBuildConfig, gen: GeneratorConfig, seed: int, items: list[Item],
             texts: list[dict[str, str]], drops: list[dict[str, str]], rows: dict[str, list[dict]],
             generator: CachedGenerator) -> dict[str, Any]:
    paired = [it for it, t in zip(items, texts) if "sycophantic" in t and "honest" in t]
    configured = {
        "tactic": {t: 1 / len(cfg.tactics) for t in cfg.tactics},
        "intensity": dict(cfg.intensities),
        "factual_mode": dict(cfg.factual_modes),
    }
    shares = {
        axis: {"config": conf,
               "items": _shares([getattr(it, axis) for it in items], list(conf)),
               "pairs": _shares([getattr(it, axis) for it in paired], list(conf))}
        for axis, conf in configured.items()
    }
    dropped = {step: {r: sum(d.get(step) == r for d in drops) for r in REASONS} for step in STEPS}
    return {
        "questions_file": str(questions_path),
        "seed": seed,
        "generator": {"base_url": gen.base_url, "model": gen.model, "temperature": gen.temperature,
                      "max_tokens": gen.max_tokens},
        "questions": len({it.question.question_id for it in items}),
        "heldout_questions": len({it.question.question_id for it in items if it.heldout}),
        "items": len(items),
        "counts": {role: len(data) for role, data in rows.items()},
        "dropped": {step: {r: n for r, n in per.items() if n} for step, per in dropped.items()},
        "shares": shares,
        "lengths_words": {step: _lengths([t[step] for t in texts if step in t]) for step in STEPS},
        "requests": {"cached": generator.counts.cached, "sent": generator.counts.sent,
                     "failed": generator.counts.failed, "first_errors": generator.counts.errors[:3]},
    }


def format_summary(summary: dict[str, Any]) -> str:
    """A few lines for the terminal."""
    c, r = summary["counts"], summary["requests"]
    lines = [
        (f"{summary['questions']} questions ({summary['heldout_questions']} held out), {summary['items']} items; "
         f"requests: {r['sent']} sent, {r['cached']} from cache, {r['failed']} failed"),
        (f"written: {c['sft']} SFT rows, {c['preference']} preference pairs, {c['preference_heldout']} held-out "
         f"pairs, {c['grpo_prompts']} GRPO prompts"),
    ]
    for step, per in summary["dropped"].items():
        if per:
            lines.append(f"dropped at {step}: " + ", ".join(f"{k} {v}" for k, v in per.items()))
    for axis, s in summary["shares"].items():
        cells = [f"{name} {s['items'][name]:.3f} (config {conf:.3f})" for name, conf in s["config"].items()
                 if s["items"][name] is not None]
        lines.append(f"{axis} shares: " + ", ".join(cells))
    for step, lengths in summary["lengths_words"].items():
        if lengths["n"]:
            lines.append(f"{step} words: mean {lengths['mean']:.1f}, median {lengths['median']}, "
                         f"range {lengths['min']}-{lengths['max']}")
    if r["failed"]:
        lines.append(f"{r['failed']} calls failed (first: {r['first_errors'][0]}); run the same command again to "
                     "retry them (successful replies come from the cache)")
    return "\n".join(lines)
