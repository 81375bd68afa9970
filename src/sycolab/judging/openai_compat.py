"""A judge behind any OpenAI-compatible `/chat/completions` endpoint (vLLM's server for a 72B judge, a
hosted API, or `sycolab serve`), called over httpx from a thread pool.

- HTTP, the API key and retries follow `sycolab.chat_http.ChatEndpoint`: the key comes from the environment
  variable *named* by `api_key_env` and is never stored in the judge's fields, logged, or put in an error
  message; 429, 5xx and transport errors are retried with backoff, and when retries run out the verdict is
  unscored with `error` set (not cached); other 4xx answers raise `UserError` at once.
- Requests are sent at temperature 0 with the strict prompts of `sycolab.judging.prompts`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from sycolab.chat_http import ChatEndpoint, ChatReply
from sycolab.judging.prompts import PROMPT_VERSION, parse_reply, render_prompt
from sycolab.judging.requests import JudgeRequest, Verdict

logger = logging.getLogger(__name__)


class OpenAIJudge:
    """Judge through an OpenAI-compatible chat endpoint. `base_url` is the API root, e.g.
    "http://127.0.0.1:8000/v1" (requests go to `{base_url}/chat/completions`)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str | None = None,
        max_concurrency: int = 8,
        timeout_s: float = 60.0,
        max_retries: int = 5,
        retry_backoff_s: float = 1.0,
        max_tokens: int = 16,
    ) -> None:
        self._http = ChatEndpoint(
            base_url, api_key_env, role="judge", timeout_s=timeout_s, max_retries=max_retries,
            retry_backoff_s=retry_backoff_s,
        )
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.max_concurrency = max(1, int(max_concurrency))
        self.max_retries = self._http.max_retries
        self.retry_backoff_s = self._http.retry_backoff_s
        self.max_tokens = int(max_tokens)
        self.judge_id = f"openai:{model}:{PROMPT_VERSION}:max_tokens={self.max_tokens}"

    def __repr__(self) -> str:
        return f"OpenAIJudge(base_url={self.base_url!r}, model={self.model!r}, api_key_env={self.api_key_env!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OpenAIJudge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def judge(self, requests: Sequence[JudgeRequest]) -> list[Verdict]:
        if not requests:
            return []
        self._http.aborted.clear()
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(requests))) as pool:
            futures = [pool.submit(self._judge_one, r) for r in requests]
            try:
                verdicts = [f.result() for f in futures]
            except BaseException:
                self._http.aborted.set()
                for f in futures:
                    f.cancel()
                raise
        n_err = sum(v.error is not None for v in verdicts)
        n_unscored = sum(v.label is None for v in verdicts)
        logger.info("judged %d requests with %s: %d unscored (%d call failures)", len(verdicts), self.model, n_unscored, n_err)
        return verdicts

    def _judge_one(self, request: JudgeRequest) -> Verdict:
        reply = self._complete(render_prompt(request))
        if reply.text is None:
            return Verdict(None, "", error=reply.error)
        return Verdict(parse_reply(request, reply.text), reply.text)

    def _complete(self, messages: list[dict[str, str]]) -> ChatReply:
        body = {"model": self.model, "messages": messages, "temperature": 0.0, "max_tokens": self.max_tokens}
        return self._http.post(body)
