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

The API key is read from the environment variable *named* by `api_key_env`, sent as a Bearer header, and
redacted (with any `Authorization` / `Bearer` string) from every reply, error and log line
(`sycolab.judging.redact`). Requests are sent at temperature 0.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Generator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from itertools import islice

import httpx

from sycolab.errors import UserError
from sycolab.judging.prompts import PROMPT_VERSION, parse_reply, render_prompt
from sycolab.judging.redact import redact_credentials
from sycolab.judging.requests import JudgeRequest, Verdict

logger = logging.getLogger(__name__)

_MAX_SLEEP_S = 60.0
_SHORT_MESSAGE_CHARS = 200
_UNREACHABLE = (httpx.ConnectError, httpx.ConnectTimeout)  # refused, unknown host, nothing answering


@dataclass(frozen=True)
class _Reply:
    text: str | None
    error: str | None = None
    failed: bool = False


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
        headers = {"Content-Type": "application/json"}
        self._secret: str | None = None
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise UserError(
                    f"judge.api_key_env: environment variable {api_key_env} is not set or empty "
                    "(export the judge API key in it, or leave api_key_env empty for a local server)"
                )
            self._secret = key
            headers["Authorization"] = f"Bearer {key}"
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}/chat/completions"
        self.model = model
        self.api_key_env = api_key_env
        self.max_concurrency = max(1, int(max_concurrency))
        self.max_retries = max(0, int(max_retries))
        self.retry_backoff_s = float(retry_backoff_s)
        self.max_tokens = int(max_tokens)
        self.judge_id = f"openai:{model}:{PROMPT_VERSION}:max_tokens={self.max_tokens}"
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s)
        self._lock = threading.Lock()
        self._ever_answered = False  # some call got an HTTP answer: the endpoint exists
        self._failed_in_a_row = 0
        self._breaker_calls = max(4, 2 * self.max_concurrency)

    def __repr__(self) -> str:
        return f"OpenAIJudge(base_url={self.base_url!r}, model={self.model!r}, api_key_env={self.api_key_env!r})"

    def close(self) -> None:
        self._client.close()

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
        reply = self._complete(render_prompt(request), stop)
        with self._lock:
            self._failed_in_a_row = self._failed_in_a_row + 1 if reply.failed else 0
            if self._failed_in_a_row >= self._breaker_calls:
                stop.set()
        if reply.text is None:
            return Verdict(None, "", error=reply.error, failed=reply.failed)
        return Verdict(parse_reply(request, reply.text), self._redact(reply.text))

    def _complete(self, messages: list[dict[str, str]], stop: threading.Event) -> _Reply:
        body = {"model": self.model, "messages": messages, "temperature": 0.0, "max_tokens": self.max_tokens}
        last_error = "no attempt made"
        never_connected = True  # every attempt so far found nothing listening at the URL
        cause = ""
        for attempt in range(self.max_retries + 1):
            if stop.is_set():
                return _Reply(None, self._not_sent_reason(), failed=True)
            retry_after: float | None = None
            try:
                resp = self._client.post("/chat/completions", json=body)
            except httpx.TransportError as e:
                cause = self._redact(f"{type(e).__name__}: {_one_line(str(e))}")
                last_error = f"calling {self.url}: {cause}"
                never_connected = never_connected and isinstance(e, _UNREACHABLE)
            else:
                never_connected = False
                with self._lock:
                    self._ever_answered = True
                if resp.status_code == 200:
                    return self._content(resp)
                if resp.status_code in (401, 403):
                    raise UserError(self._credentials_refused(resp))
                if resp.status_code != 429 and resp.status_code < 500:
                    return _Reply(None, f"HTTP {resp.status_code} from {self.url}: {self._short_message(resp)}")
                last_error = f"HTTP {resp.status_code} from {self.url}: {self._short_message(resp)}"
                retry_after = _retry_after(resp)
            if attempt < self.max_retries:
                delay = self.retry_backoff_s * (2**attempt)
                if retry_after is not None:
                    delay = max(delay, retry_after)
                logger.debug("judge call attempt %d failed (%s); retrying in %.2f s", attempt + 1, last_error, delay)
                time.sleep(min(delay, _MAX_SLEEP_S))
        if never_connected and not self._ever_answered:
            raise UserError(
                f"judge endpoint {self.url} is unreachable ({cause}); start the judge server or fix judge.base_url"
            )
        return _Reply(None, f"{last_error} (gave up after {self.max_retries + 1} attempts)", failed=True)

    def _content(self, resp: httpx.Response) -> _Reply:
        try:
            content = resp.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            return _Reply(None, f"malformed chat completion body from {self.url}", failed=True)
        if isinstance(content, list):  # content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return _Reply(content if isinstance(content, str) else "")

    def _not_sent_reason(self) -> str:
        with self._lock:
            tripped = self._failed_in_a_row >= self._breaker_calls
        if tripped:
            return f"not sent: {self.url} failed {self._breaker_calls} calls in a row (taken to be down)"
        return "not sent: the evaluation was interrupted"

    def _credentials_refused(self, resp: httpx.Response) -> str:
        head = f"judge endpoint {self.url} answered HTTP {resp.status_code} ({self._short_message(resp)}): "
        if self.api_key_env:
            return head + f"check the key in ${self.api_key_env} and that it may use model {self.model!r}"
        return head + "it wants a key; export it in an environment variable and name that variable in judge.api_key_env"

    def _short_message(self, resp: httpx.Response) -> str:
        """The server's error message on one line (OpenAI's {"error": {"message"}}, vLLM's {"message"},
        FastAPI's {"detail"}, else the body), redacted and cut to 200 characters."""
        try:
            body = resp.json()
        except ValueError:
            body = None
        message: object = None
        if isinstance(body, dict):
            error = body.get("error")
            message = error.get("message") if isinstance(error, dict) else error
            message = message or body.get("message") or body.get("detail")
        text = message if isinstance(message, str) and message else resp.text
        return self._redact(_one_line(text))[:_SHORT_MESSAGE_CHARS] or resp.reason_phrase

    def _redact(self, text: str) -> str:
        return redact_credentials(text, [self._secret])


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
