"""A judge run by a local transformers model with the same strict prompts as the HTTP judge
(greedy decoding, the model's chat template, thinking disabled where the template supports it)."""

from __future__ import annotations

import logging
from collections.abc import Generator, Sequence
from pathlib import Path

from sycolab.judging.prompts import PROMPT_VERSION, parse_reply, render_prompt
from sycolab.judging.requests import JudgeRequest, Verdict
from sycolab.serve.local_model import LocalChatModel

logger = logging.getLogger(__name__)


class HFJudge:
    """Local judge. `batch_size` requests are generated together (left-padded)."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        trust_remote_code: bool = False,
        dtype: str = "auto",
        device: str | None = None,
        batch_size: int = 8,
        max_tokens: int = 16,
        model: LocalChatModel | None = None,
    ) -> None:
        self.chat_model = model or LocalChatModel(
            model_path, dtype=dtype, device=device, trust_remote_code=trust_remote_code
        )
        self.batch_size = max(1, int(batch_size))
        self.max_tokens = int(max_tokens)
        where = Path(str(model_path))
        ident = str(where.resolve()) if where.exists() else str(model_path)  # a folder, or a hub id
        self.judge_id = f"hf:{ident}:{PROMPT_VERSION}:max_tokens={self.max_tokens}"

    def judge(self, requests: Sequence[JudgeRequest]) -> list[Verdict]:
        return [verdict for _, verdict in self.iter_verdicts(requests)]

    def iter_verdicts(self, requests: Sequence[JudgeRequest]) -> Generator[tuple[int, Verdict], None, None]:
        """(index, verdict) in request order, a batch at a time (so the verdict cache stores each batch)."""
        n_unscored = 0
        for start in range(0, len(requests), self.batch_size):
            batch = requests[start : start + self.batch_size]
            replies = self.chat_model.chat(
                [render_prompt(r) for r in batch],
                max_new_tokens=self.max_tokens,
                temperature=0.0,
                chat_template_kwargs={"enable_thinking": False},
            )
            for offset, (request, completion) in enumerate(zip(batch, replies)):
                verdict = Verdict(parse_reply(request, completion.text), completion.text)
                n_unscored += verdict.label is None
                yield start + offset, verdict
        logger.info("judged %d requests locally: %d unscored", len(requests), n_unscored)
