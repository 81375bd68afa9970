"""One POST to an OpenAI-compatible `/chat/completions` endpoint: the HTTP, retry and secrecy rules shared by
the `openai` judge (`sycolab.judging.openai_compat`) and the training-data generator (`sycolab.data.build`).
Each caller decides what an outcome means for it (a verdict, a dropped item, a `UserError`).

- The API key is read from the environment variable *named* by `api_key_env`, sent as a Bearer header, and
  never stored in a public field; every reply text and error is redacted (`sycolab.redact`).
- 429, 5xx and transport errors (connection reset, timeouts) are retried with exponential backoff
  (`retry_backoff_s * 2**attempt`, or the server's Retry-After when larger, capped at 60 s), at most
  `max_retries` times.
- Each call ends in one `Outcome` (`ChatReply.outcome`):
  `OK` (200 with a chat completion: `text`, `finish_reason`); `REJECTED` (a 4xx other than 401/403/429:
  the request itself was refused, e.g. vLLM's 400 for an over-long prompt); `AUTH_FAILED` (401/403, never
  retried); `FAILED` (retries ran out, or a 200 whose body is no chat completion); `UNREACHABLE` (nothing
  answered any attempt, connection refused or unknown host, and no call of this client was ever answered);
  `STOPPED` (the caller's `stop` event was set before an attempt).

`EndpointConfig` holds the connection fields both config sections share (`evaluate.judge`,
`data_build.generator`), with their checks.
"""

from __future__ import annotations

import enum
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from sycolab.errors import UserError
from sycolab.redact import redact_credentials

logger = logging.getLogger(__name__)

_MAX_SLEEP_S = 60.0
_SHORT_MESSAGE_CHARS = 200
_UNREACHABLE = (httpx.ConnectError, httpx.ConnectTimeout)  # refused, unknown host, nothing answering


class EndpointConfig(BaseModel):
    """An OpenAI-compatible chat endpoint (vLLM's server, a hosted API, `sycolab serve`). `base_url` is the API
    root ("http://127.0.0.1:8000/v1"); `api_key_env` is the NAME of the environment variable holding the key
    (the key itself never goes in a config; leave it empty for a local server without auth)."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    max_concurrency: int = Field(8, ge=1, le=512)
    timeout_s: float = Field(60.0, gt=0)
    max_retries: int = Field(5, ge=0, le=20)
    retry_backoff_s: float = Field(1.0, ge=0)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https:// (got {value!r})")
        return value

    @field_validator("api_key_env")
    @classmethod
    def _key_name(cls, value: str | None) -> str | None:
        if value is not None and not value.replace("_", "").isalnum():
            raise ValueError("api_key_env is the NAME of an environment variable (letters, digits, _), not the key itself")
        return value


class Outcome(enum.Enum):
    """How a call ended (see the module docstring)."""

    OK = "ok"
    REJECTED = "rejected"
    AUTH_FAILED = "auth_failed"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    STOPPED = "stopped"


@dataclass(frozen=True)
class ChatReply:
    """The first choice's text and finish reason of a successful call (`error` None), else `error`: one
    redacted line saying what went wrong. `status` is the HTTP code of an error answer; `detail` is the short
    reason alone: the server's message (`ChatEndpoint.short_message`), or for `UNREACHABLE` the transport
    error ("ConnectError: ...")."""

    text: str | None
    error: str | None = None
    finish_reason: str | None = None
    outcome: Outcome = Outcome.OK
    status: int | None = None
    detail: str | None = None


class ChatEndpoint:
    """POSTs chat-completion bodies to `{base_url}/chat/completions`; `base_url` is the API root, e.g.
    "http://127.0.0.1:8000/v1". `role` names the config section in error and log messages ("judge").
    Safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        api_key_env: str | None = None,
        *,
        role: str,
        timeout_s: float = 60.0,
        max_retries: int = 5,
        retry_backoff_s: float = 1.0,
    ) -> None:
        headers = {"Content-Type": "application/json"}
        self._secret: str | None = None
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise UserError(
                    f"{role}.api_key_env: environment variable {api_key_env} is not set or empty "
                    f"(export the {role} API key in it, or leave api_key_env empty for a local server)"
                )
            self._secret = key
            headers["Authorization"] = f"Bearer {key}"
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}/chat/completions"
        self.api_key_env = api_key_env
        self.role = role
        self.max_retries = max(0, int(max_retries))
        self.retry_backoff_s = float(retry_backoff_s)
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s)
        self._lock = threading.Lock()
        self._ever_answered = False  # some call got an HTTP answer: the endpoint exists

    def close(self) -> None:
        self._client.close()

    def post(self, body: dict[str, Any], stop: threading.Event | None = None) -> ChatReply:
        """Send `body` as is and classify the answer; never raises for what the server does."""
        last_error = "no attempt made"
        never_connected = True  # every attempt so far found nothing listening at the URL
        cause = ""
        for attempt in range(self.max_retries + 1):
            if stop is not None and stop.is_set():
                return ChatReply(None, "not sent", outcome=Outcome.STOPPED)
            retry_after: float | None = None
            try:
                resp = self._client.post("/chat/completions", json=body)
            except httpx.TransportError as e:
                cause = self.redact(f"{type(e).__name__}: {_one_line(str(e))}")
                last_error = f"calling {self.url}: {cause}"
                never_connected = never_connected and isinstance(e, _UNREACHABLE)
            else:
                never_connected = False
                with self._lock:
                    self._ever_answered = True
                if resp.status_code == 200:
                    return self._content(resp)
                message = self.short_message(resp)
                last_error = f"HTTP {resp.status_code} from {self.url}: {message}"
                if resp.status_code != 429 and resp.status_code < 500:
                    outcome = Outcome.AUTH_FAILED if resp.status_code in (401, 403) else Outcome.REJECTED
                    return ChatReply(None, last_error, outcome=outcome, status=resp.status_code, detail=message)
                retry_after = _retry_after(resp)
            if attempt < self.max_retries:
                delay = self.retry_backoff_s * (2**attempt)
                if retry_after is not None:
                    delay = max(delay, retry_after)
                logger.debug("%s call attempt %d failed (%s); retrying in %.2f s", self.role, attempt + 1, last_error, delay)
                time.sleep(min(delay, _MAX_SLEEP_S))
        with self._lock:
            unreachable = never_connected and not self._ever_answered
        error = f"{last_error} (gave up after {self.max_retries + 1} attempts)"
        if unreachable:
            return ChatReply(None, error, outcome=Outcome.UNREACHABLE, detail=cause)
        return ChatReply(None, error, outcome=Outcome.FAILED)

    def _content(self, resp: httpx.Response) -> ChatReply:
        try:
            choice = resp.json()["choices"][0]
            content = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            return ChatReply(None, f"malformed chat completion body from {self.url}", outcome=Outcome.FAILED)
        if isinstance(content, list):  # content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        finish = choice.get("finish_reason") if isinstance(choice, dict) else None
        return ChatReply(content if isinstance(content, str) else "", None, finish if isinstance(finish, str) else None)

    def short_message(self, resp: httpx.Response) -> str:
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
        return self.redact(_one_line(text))[:_SHORT_MESSAGE_CHARS] or resp.reason_phrase

    def redact(self, text: str) -> str:
        """`text` without the key's value or any credential-shaped string."""
        return redact_credentials(text, [self._secret])


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
