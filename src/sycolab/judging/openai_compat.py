"""A judge behind any OpenAI-compatible `/chat/completions` endpoint (vLLM's server for a 72B judge, a
hosted API, or `sycolab serve`), called over httpx from a bounded thread pool.

What each answer becomes:
- 200 with a reply: parsed strictly (`sycolab.judging.prompts`); an unparseable reply is unscored.
- 401 / 403: the key is wrong or missing; `UserError` at once naming the endpoint and the environment
  variable that holds the key (never its value).
- 429, 5xx and transport errors (connection reset, timeouts): retried with exponential backoff
  (`retry_backoff_s * 2**attempt`, or the server's Retry-After when larger, capped at 60 s), at most
  `max_retries` times; then a *failed* verdict (never cached; the evaluation ends incomplete).
- any other 4xx (vLLM's 400 for an over-long prompt, 422, 404): a *rejected* verdict, unscored, carrying
  the status code and the server's short message; the other requests go on.
- connection refused / unknown host on every attempt, before any call ever succeeded: the endpoint is
  unreachable; `UserError` naming the URL.
- after `2 * max_concurrency` failed calls in a row (at least 4) the endpoint is taken to be down: the
  requests not yet sent fail at once instead of each waiting out its retries.

The HTTP, retries, key and redaction are `sycolab.chat_http.ChatEndpoint`'s; this module turns its outcomes
into verdicts. The key is redacted (with any `Authorization` / `Bearer` string) from every reply, error and
log line (`sycolab.redact`). Requests are sent at temperature 0.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Generator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from itertools import islice

from sycolab.chat_http import ChatEndpoint, ChatReply, Outcome
from sycolab.errors import UserError
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
        self._endpoint = ChatEndpoint(base_url, api_key_env, role="judge", timeout_s=timeout_s,
                                      max_retries=max_retries, retry_backoff_s=retry_backoff_s)
        self.base_url = self._endpoint.base_url
        self.url = self._endpoint.url
        self.model = model
        self.api_key_env = api_key_env
        self.max_concurrency = max(1, int(max_concurrency))
        self.max_tokens = int(max_tokens)
        self.judge_id = f"openai:{model}:{PROMPT_VERSION}:max_tokens={self.max_tokens}"
        self._lock = threading.Lock()
        self._failed_in_a_row = 0
        self._breaker_calls = max(4, 2 * self.max_concurrency)

    def __repr__(self) -> str:
        return f"OpenAIJudge(base_url={self.base_url!r}, model={self.model!r}, api_key_env={self.api_key_env!r})"

    def close(self) -> None:
        self._endpoint.close()

    def __enter__(self) -> OpenAIJudge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def judge(self, requests: Sequence[JudgeRequest]) -> list[Verdict]:
        verdicts: list[Verdict | None] = [None] * len(requests)
        for index, verdict in self.iter_verdicts(requests):
            verdicts[index] = verdict
        return [v for v in verdicts if v is not None]

    def iter_verdicts(self, requests: Sequence[JudgeRequest]) -> Generator[tuple[int, Verdict], None, None]:
        """(index, verdict) as each call completes. At most `max_concurrency` requests are in flight or
        answered but not yet handed over, so an interruption (closing the iterator) loses at most that
        many; the calls not yet started are never sent."""
        if not requests:
            return
        stop = threading.Event()
        pool = ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(requests)), thread_name_prefix="judge")
        queue = iter(enumerate(requests))
        pending: dict[Future[Verdict], int] = {}
        n_unscored = n_rejected = n_failed = 0
        try:
            while True:
                for index, request in islice(queue, self.max_concurrency - len(pending)):
                    pending[pool.submit(self._judge_one, request, stop)] = index
                if not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    index = pending.pop(future)
                    verdict = future.result()
                    n_unscored += verdict.label is None
                    n_rejected += verdict.rejected
                    n_failed += verdict.failed
                    yield index, verdict
        finally:
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
        logger.info(
            "judged %d requests with %s: %d unscored (%d rejected by the server, %d failed calls)",
            len(requests), self.model, n_unscored, n_rejected, n_failed,
        )

    def _judge_one(self, request: JudgeRequest, stop: threading.Event) -> Verdict:
        """One call's verdict: a reply is parsed; a rejected request is unscored with its error; a failed or
        unsent call is a failed verdict; refused credentials and an unreachable endpoint raise `UserError`."""
        body = {"model": self.model, "messages": render_prompt(request), "temperature": 0.0, "max_tokens": self.max_tokens}
        reply = self._endpoint.post(body, stop)
        if reply.outcome is Outcome.AUTH_FAILED:
            raise UserError(self._credentials_refused(reply))
        if reply.outcome is Outcome.UNREACHABLE:
            raise UserError(
                f"judge endpoint {self.url} is unreachable ({reply.detail}); start the judge server or fix judge.base_url"
            )
        error = self._not_sent_reason() if reply.outcome is Outcome.STOPPED else reply.error
        failed = reply.outcome in (Outcome.FAILED, Outcome.STOPPED)
        with self._lock:
            self._failed_in_a_row = self._failed_in_a_row + 1 if failed else 0
            if self._failed_in_a_row >= self._breaker_calls:
                stop.set()
        if reply.text is None:
            return Verdict(None, "", error=error, failed=failed)
        return Verdict(parse_reply(request, reply.text), self._endpoint.redact(reply.text))

    def _not_sent_reason(self) -> str:
        with self._lock:
            tripped = self._failed_in_a_row >= self._breaker_calls
        if tripped:
            return f"not sent: {self.url} failed {self._breaker_calls} calls in a row (taken to be down)"
        return "not sent: the evaluation was interrupted"

    def _credentials_refused(self, reply: ChatReply) -> str:
        head = f"judge endpoint {self.url} answered HTTP {reply.status} ({reply.detail}): "
        if self.api_key_env:
            return head + f"check the key in ${self.api_key_env} and that it may use model {self.model!r}"
        return head + "it wants a key; export it in an environment variable and name that variable in judge.api_key_env"
