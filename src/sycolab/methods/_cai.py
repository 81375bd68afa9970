"""The critique-revise data step shared by `cai_sl` and `cai_dpo` (Constitutional AI, Bai et al. 2022,
arXiv:2212.08073; the reference study's fifth post).

For each prompt of `ctx.data[prompts_data]` (the world's GRPO prompts by default: pressured questions and
are-you-sure second turns on entities disjoint from evaluation, with their correct answers) the SFT model
samples `replies_per_prompt` replies (HF generation backend, cached under `training/<name>/cai/`), and for
each reply one principle of the constitution is drawn (seeded); the critic judges the reply against the
principle and rewrites it only on a violation. A pair is dropped when the critic's verdict is unreadable
("unreadable"), there was no violation ("no_violation"), the revision is missing ("empty") or equal to the
reply ("unchanged"), or the revision fails the text filters of `sycolab data` (`FilterConfig`: "truncated",
"too_short", "too_long", "repetitive").

Written under `training/<name>/cai/`: critiques.jsonl (every reply: principle, reply, verdict, revision,
drop reason), pairs.jsonl (TRL preference rows: chosen = revision, rejected = initial reply) and
revisions.jsonl (TRL prompt/completion rows of the revisions). `stats` goes into summary.json under "cai",
with the mean word and character lengths of chosen and rejected texts (the reference study's revisions were
about 10% longer than the replies they replaced: a length bias a DPO-trained model can learn).
"""

from __future__ import annotations

import random
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sycolab.data.build.config import FilterConfig, GeneratorConfig
from sycolab.data.build.filters import drop_reason
from sycolab.errors import UserError
from sycolab.io import atomic_write_json, read_json, read_jsonl, write_jsonl
from sycolab.methods._critic import Critique, CritiqueTask
from sycolab.methods.config import training_seed
from sycolab.methods.loading import data_path, plain_model_path
from sycolab.methods.registry import MethodContext
from sycolab.world.messages import assistant

CAI_DIR = "cai"
DROP_REASONS = ("unreadable", "no_violation", "unchanged", "empty", "truncated", "too_short", "too_long", "repetitive")


class CriticSettings(BaseModel):
    """Who critiques: `oracle` (the tiny world's exact critic), `endpoint` (an OpenAI-compatible chat
    endpoint, e.g. vLLM serving a 72B model) or `self` (the SFT model critiques its own replies)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["oracle", "endpoint", "self"] = Field("oracle", description="oracle | endpoint | self.")
    endpoint: GeneratorConfig | None = Field(None, description="The critic endpoint (kind endpoint).")
    max_new_tokens: int = Field(256, gt=0, description="Token budget of a self-critique.")

    @model_validator(mode="after")
    def _endpoint_given(self) -> CriticSettings:
        if self.kind == "endpoint" and self.endpoint is None:
            raise ValueError("critic kind 'endpoint' expected critic.endpoint (base_url, model), got null")
        return self


class CAISettings(BaseModel):
    """Constitutional-AI data settings, shared by `cai_sl` and `cai_dpo` (mixed into their configs)."""

    model_config = ConfigDict(extra="forbid")

    constitution: str | None = Field(None, description="Constitution YAML; null: the shipped seven principles.")
    critic: CriticSettings = Field(default_factory=CriticSettings, description="Who critiques and revises.")
    prompts_data: str = Field("grpo_prompts", min_length=1, description="ctx.data entry holding the prompts.")
    max_prompts: int | None = Field(None, gt=0, description="Use only the first N prompts; null: all.")
    replies_per_prompt: int = Field(1, gt=0, description="Initial replies sampled per prompt (each critiqued).")
    reply_max_new_tokens: int = Field(16, gt=0, description="Token budget of the SFT model's initial replies.")
    reply_temperature: float = Field(0.7, ge=0, description="Sampling temperature of the initial replies.")
    reply_top_p: float = Field(0.8, gt=0, le=1, description="Nucleus sampling of the initial replies.")
    filters: FilterConfig = Field(default_factory=FilterConfig, description="Text filters on the revisions.")

    @field_validator("constitution")
    @classmethod
    def _constitution_loads(cls, value: str | None) -> str | None:
        from sycolab.errors import ConfigError
        from sycolab.methods._constitution import load_constitution

        try:
            load_constitution(value)
        except ConfigError as e:
            raise ValueError(str(e)) from None
        return value

    def input_files(self) -> dict[str, Path]:
        """Files outside the data sets that decide the result (their content enters the stage key)."""
        from sycolab.methods._constitution import shipped_constitution_path

        return {"constitution": Path(self.constitution) if self.constitution else shipped_constitution_path()}


@dataclass
class CAIData:
    pairs: Path        # preference rows: chosen revision, rejected initial reply
    revisions: Path    # prompt/completion rows of the revisions
    stats: dict[str, Any]


def pair_drop_reason(reply: str, critique: Critique, filters: FilterConfig) -> str | None:
    """Why a (reply, critique) gives no training pair (module docstring), or None to keep it."""
    if critique.violates is None:
        return "unreadable"
    if not critique.violates:
        return "no_violation"
    if critique.revision is None or not critique.revision.strip():
        return "empty"
    if " ".join(critique.revision.split()) == " ".join(reply.split()):
        return "unchanged"
    return drop_reason(critique.revision, critique.finish_reason, filters)


def length_stats(chosen: list[str], rejected: list[str]) -> dict[str, float | int | None]:
    """Mean words and characters of chosen (revisions) and rejected (initial replies), and their ratios."""
    def mean(values: list[int]) -> float | None:
        return round(statistics.fmean(values), 3) if values else None

    out: dict[str, float | int | None] = {"n_pairs": len(chosen)}
    for unit, size in (("words", lambda t: len(t.split())), ("chars", len)):
        c, r = mean([size(t) for t in chosen]), mean([size(t) for t in rejected])
        out[f"chosen_{unit}_mean"], out[f"rejected_{unit}_mean"] = c, r
        out[f"chosen_over_rejected_{unit}"] = round(c / r, 4) if c is not None and r else None
    return out


def build_cai_data(ctx: MethodContext, cfg: Any, method: str) -> CAIData:
    """Generate, critique, revise and filter (module docstring); write the files; return them with stats."""
    from sycolab.methods._constitution import load_constitution

    constitution = load_constitution(cfg.constitution)
    path = data_path(ctx, cfg.prompts_data, method)
    rows = read_jsonl(path)[: cfg.max_prompts]
    bad = next((i for i, r in enumerate(rows, 1) if not isinstance(r.get("prompt"), list) or not r["prompt"]), None)
    if bad is not None or not rows:
        from sycolab.errors import DataError

        raise DataError(str(path), "expected rows with a non-empty 'prompt' message list", line=bad)
    seed = training_seed(cfg, ctx)
    out_dir = ctx.work_dir / CAI_DIR
    backend = _policy_backend(ctx, out_dir)
    from sycolab.generation import SamplingParams

    params = SamplingParams(max_new_tokens=cfg.reply_max_new_tokens, temperature=cfg.reply_temperature,
                            top_p=cfg.reply_top_p, seed=seed, n=cfg.replies_per_prompt)
    outs = backend.generate([r["prompt"] for r in rows], params)
    rng = random.Random(seed)
    tasks = [CritiqueTask(r["prompt"], reply, rng.choice(constitution.principles), r)
             for r, replies in zip(rows, outs) for reply in replies]
    critic = make_critic(cfg.critic, backend, out_dir, role=f"recover.{ctx.name}.critic.endpoint", seed=seed)
    critiques = critic.critique(tasks)
    records: list[dict[str, Any]] = []
    pairs: list[dict[str, Any]] = []
    revisions: list[dict[str, Any]] = []
    drops: Counter[str] = Counter()
    for task, critique in zip(tasks, critiques):
        reason = pair_drop_reason(task.reply, critique, cfg.filters)
        records.append({"prompt": task.prompt, "principle": task.principle.name, "reply": task.reply,
                        "violates": critique.violates, "critique": critique.raw, "revision": critique.revision,
                        "dropped": reason})
        if reason is not None:
            drops[reason] += 1
            continue
        pairs.append({"prompt": task.prompt, "chosen": [assistant(critique.revision)],
                      "rejected": [assistant(task.reply)]})
        revisions.append({"prompt": task.prompt, "completion": [assistant(critique.revision)]})
    write_jsonl(out_dir / "critiques.jsonl", records)
    stats = {
        "critic": critic.kind, "constitution": {"source": constitution.source, "sha256": constitution.sha256,
                                                "principles": [p.name for p in constitution.principles]},
        "n_prompts": len(rows), "n_replies": len(tasks), "n_violations": sum(c.violates is True for c in critiques),
        "n_unreadable": sum(c.violates is None for c in critiques), "n_kept": len(pairs),
        "drops": {r: drops[r] for r in DROP_REASONS if drops[r]},
        "kept_by_principle": dict(sorted(Counter(r["principle"] for r in records if r["dropped"] is None).items())),
        "lengths": length_stats([p["chosen"][0]["content"] for p in pairs], [p["rejected"][0]["content"] for p in pairs]),
    }
    atomic_write_json(out_dir / "stats.json", stats)
    if not pairs:
        raise UserError(f"{ctx.name}: the {critic.kind} critic left no revision to train on ({stats['n_prompts']} "
                        f"prompts, {stats['n_violations']} violations, drops {stats['drops']}); see "
                        f"{out_dir / 'critiques.jsonl'}")
    return CAIData(write_jsonl(out_dir / "pairs.jsonl", pairs), write_jsonl(out_dir / "revisions.jsonl", revisions), stats)


def _policy_backend(ctx: MethodContext, out_dir: Path) -> Any:
    """The SFT model (`ctx.input_model`) behind the HF generation backend, cached in `out_dir`; loaded only
    when a prompt misses the cache."""
    from sycolab.generation import GenerationConfig, build_backend
    from sycolab.generation.cache import CachedBackend, LazyBackend
    from sycolab.generation.chat import render_prompt
    from sycolab.models.digest import model_weights_key
    from sycolab.models.load import load_model, load_tokenizer

    source = plain_model_path(ctx.input_model, ctx)
    tokenizer = load_tokenizer(source, ctx.trust_remote_code)
    model_id = f"{Path(ctx.input_model).name}@{model_weights_key(ctx.input_model)[:16]}"
    gen = GenerationConfig(backend="hf")

    def build() -> Any:
        model = load_model(source, dtype=ctx.dtype, trust_remote_code=ctx.trust_remote_code,
                           device="cpu" if ctx.use_cpu else "cuda")
        return build_backend(gen, model, tokenizer, model_id=model_id)

    lazy = LazyBackend(build, model_id, gen.batch_size, render_prompt=lambda m: render_prompt(tokenizer, m))
    return CachedBackend(lazy, out_dir / "generations.sqlite")


def make_critic(settings: CriticSettings, policy_backend: Any, out_dir: Path, role: str, seed: int) -> Any:
    from sycolab.methods._critic import EndpointCritic, OracleCritic, SelfCritic

    if settings.kind == "oracle":
        return OracleCritic()
    if settings.kind == "endpoint":
        return EndpointCritic(settings.endpoint, out_dir / "requests.sqlite", role=role, seed=seed)
    return SelfCritic(policy_backend, settings.max_new_tokens)


def record_cai_summary(ctx: MethodContext, method: str, result: dict[str, Any], stats: dict[str, Any]) -> dict[str, Any]:
    """Add the critique-revise statistics to training/<name>/summary.json (written by the trainer run) under
    "cai", and name the method there."""
    path = ctx.work_dir / "summary.json"
    if path.exists():
        summary = {**read_json(path), "method": method, "cai": stats}
        atomic_write_json(path, summary)
    return {**result, "method": method, "cai": stats}
