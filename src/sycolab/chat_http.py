"""One POST to an OpenAI-compatible `/chat/completions` endpoint, with the retry and secrecy rules shared by
the `openai` judge (`sycolab.judging.openai_compat`) and the training-data generator (`sycolab.data.build`).

- The API key is read from the environment variable *named* by `api_key_env`, sent as a Bearer header,
  and never stored in a public field, logged, or put in an error message.
- 429, 5xx and transport errors (connection refused, timeouts) are retried with exponential backoff
  (`retry_backoff_s * 2**attempt`, or the server's Retry-After when larger, capped at 60 s); when retries
  run out the reply carries `error` (callers never cache it). Other 4xx answers (bad key, unknown model or
  path) are configuration mistakes and raise `UserError` at once.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from sycolab.errors import UserError

_MAX_SLEEP_S = 60.0


@dataclass(frozen=True)
class ChatReply:
    """The first choice's text and finish reason of a successful call, or `error` when the call failed."""

    text: str | None
    error: str | None
    finish_reason: str | None = None


class ChatEndpoint:
    """POSTs chat-completion bodies to `{base_url}/chat/completions`; `base_url` is the API root, e.g.
    "http://127.0.0.1:8000/v1". `role` names the config section in error messages ("judge")."""

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
        self.api_key_env = api_key_env
        self.role = role
        self.max_retries = max(0, int(max_retries))
        self.retry_backoff_s = float(retry_backoff_s)
        self.aborted = threading.Event()
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s)

    def close(self) -> None:
        self._client.close()

    def post(self, body: dict[str, Any]) -> ChatReply:
        """Send `body` as is; retry 429/5xx/transport errors; raise `UserError` on any other non-200."""
        last_error = "no attempt made"
        for attempt in range(self.max_retries + 1):
            if self.aborted.is_set():
                return ChatReply(None, "aborted")
            retry_after: float | None = None
            try:
                resp = self._client.post("/chat/completions", json=body)
            except httpx.TransportError as e:
                last_error = f"{type(e).__name__} calling {self.base_url}/chat/completions"
            else:
                if resp.status_code == 200:
                    return self._content(resp)
                if resp.status_code == 429 or resp.status_code >= 500:
                    last_error = f"HTTP {resp.status_code} from {self.base_url}/chat/completions"
                    retry_after = _retry_after(resp)
                else:
                    raise UserError(
                        f"{self.role} endpoint {self.base_url}/chat/completions answered HTTP {resp.status_code}: "
                        f"{self.redact(resp.text[:300])!r} (check {self.role}.base_url, {self.role}.model"
                        + (f" and the key in ${self.api_key_env})" if self.api_key_env else ")")
                    )
            if attempt < self.max_retries:
                delay = self.retry_backoff_s * (2**attempt)
                if retry_after is not None:
                    delay = max(delay, retry_after)
                time.sleep(min(delay, _MAX_SLEEP_S))
        return ChatReply(None, f"{last_error} (gave up after {self.max_retries + 1} attempts)")

    def _content(self, resp: httpx.Response) -> ChatReply:
        try:
            choice = resp.json()["choices"][0]
            content = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            return ChatReply(None, f"malformed chat completion body from {self.base_url}/chat/completions")
        if isinstance(content, list):  # content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        finish = choice.get("finish_reason") if isinstance(choice, dict) else None
        return ChatReply(content if isinstance(content, str) else "", None, finish if isinstance(finish, str) else None)

    def redact(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
