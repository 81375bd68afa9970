"""`build_judge`: the judge role filled from config, wrapped in the verdict cache."""

from __future__ import annotations

from pathlib import Path

from sycolab.chat_http import EndpointConfig
from sycolab.judging.base import Judge
from sycolab.judging.cache import CachedJudge, VerdictCache
from sycolab.judging.config import JudgeConfig
from sycolab.judging.rule import RuleJudge


def build_judge(cfg: JudgeConfig, cache_path: str | Path | None, rejudge_unscored: bool = False) -> Judge:
    """The judge `cfg` describes; with `cache_path` (normally RUN_DIR/cache/verdicts.sqlite) it answers
    repeated requests from the verdict cache and calls the grader only for new ones (and, with
    `rejudge_unscored`, for those whose cached reply was unparseable)."""
    judge: Judge
    if cfg.kind == "rule":
        judge = RuleJudge()
    elif cfg.kind == "openai":
        from sycolab.judging.openai_compat import OpenAIJudge

        assert cfg.base_url and cfg.model  # checked by JudgeConfig
        judge = OpenAIJudge(**cfg.model_dump(include={*EndpointConfig.model_fields, "max_tokens"}))
    elif cfg.kind == "hf":
        from sycolab.judging.hf import HFJudge

        assert cfg.model_path
        judge = HFJudge(
            cfg.model_path,
            trust_remote_code=cfg.trust_remote_code,
            dtype=cfg.dtype,
            batch_size=cfg.batch_size,
            max_tokens=cfg.max_tokens,
        )
    else:  # pragma: no cover - Literal prevents it
        raise ValueError(f"unknown judge kind {cfg.kind!r}")
    if cache_path is None:
        return judge
    return CachedJudge(judge, VerdictCache(cache_path), rejudge_unscored=rejudge_unscored)
