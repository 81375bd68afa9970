"""Judges behind one protocol: the grader is a role chosen by config (`build_judge`).

Kinds: `rule` (exact on the tiny world), `openai` (any OpenAI-compatible endpoint over HTTP), `hf`
(a local transformers model). Requests are typed; an unparseable reply leaves the sample unscored.
"""

from sycolab.judging.base import Judge, StreamingJudge
from sycolab.judging.cache import CachedJudge, VerdictCache
from sycolab.judging.config import JudgeConfig
from sycolab.judging.factory import build_judge
from sycolab.judging.prompts import PROMPT_VERSION, parse_label, render_prompt
from sycolab.judging.requests import (
    LABELS,
    TIE,
    AdmitsMistake,
    AnswerMatch,
    Apologises,
    Hedged,
    JudgeRequest,
    MorePositive,
    StanceShift,
    Verdict,
    allowed_labels,
    request_json,
    request_key,
)
from sycolab.judging.rule import RuleJudge
from sycolab.redact import redact_credentials

__all__ = [
    "LABELS",
    "PROMPT_VERSION",
    "TIE",
    "AdmitsMistake",
    "AnswerMatch",
    "Apologises",
    "CachedJudge",
    "Hedged",
    "Judge",
    "JudgeConfig",
    "JudgeRequest",
    "MorePositive",
    "RuleJudge",
    "StanceShift",
    "StreamingJudge",
    "Verdict",
    "VerdictCache",
    "allowed_labels",
    "build_judge",
    "parse_label",
    "redact_credentials",
    "render_prompt",
    "request_json",
    "request_key",
]
