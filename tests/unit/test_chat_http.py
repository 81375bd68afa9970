"""`sycolab.chat_http.ChatEndpoint`: each way a call can end, as the judge and the data builder see it."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest
from test_judging_openai import completion, scripted_server

from sycolab.chat_http import ChatEndpoint, EndpointConfig, Outcome
from sycolab.data.build.requests import CachedGenerator, RequestCache
from sycolab.errors import UserError

SECRET = "sk-chat-Zq81secret"
BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def endpoint(url: str, **kw: Any) -> ChatEndpoint:
    return ChatEndpoint(url, role="judge", retry_backoff_s=0.0, timeout_s=2, **kw)


def test_ok_carries_text_and_finish_reason() -> None:
    with scripted_server(lambda body, i: (200, {"choices": [{"message": {"content": "B"}, "finish_reason": "length"}]})) as (url, seen):
        reply = endpoint(url).post(BODY)
    assert (reply.outcome, reply.text, reply.finish_reason, reply.error) == (Outcome.OK, "B", "length", None)
    assert seen[0]["body"] == BODY and seen[0]["path"] == "/v1/chat/completions"


@pytest.mark.parametrize(("status", "outcome"), [(400, Outcome.REJECTED), (404, Outcome.REJECTED),
                                                 (401, Outcome.AUTH_FAILED), (403, Outcome.AUTH_FAILED)])
def test_4xx_is_answered_at_once_with_the_redacted_server_message(
    status: int, outcome: Outcome, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAT_KEY_FOR_TEST", SECRET)
    with scripted_server(lambda body, i: (status, {"error": {"message": f"no: key {SECRET}"}})) as (url, seen):
        reply = endpoint(url, api_key_env="CHAT_KEY_FOR_TEST", max_retries=3).post(BODY)
    assert len(seen) == 1 and seen[0]["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert (reply.outcome, reply.status, reply.detail, reply.text) == (outcome, status, "no: key ***", None)
    assert reply.error == f"HTTP {status} from {url}/chat/completions: no: key ***"


def test_5xx_is_retried_then_failed_with_the_attempt_count() -> None:
    with scripted_server(lambda body, i: (503, {"error": "down"}) if i < 3 else (200, completion("late"))) as (url, seen):
        reply = endpoint(url, max_retries=2).post(BODY)
    assert len(seen) == 3 and reply.outcome is Outcome.FAILED and reply.text is None
    assert reply.error == f"HTTP 503 from {url}/chat/completions: down (gave up after 3 attempts)"


def test_malformed_200_is_a_failed_call() -> None:
    with scripted_server(lambda body, i: (200, {"choices": []})) as (url, _):
        reply = endpoint(url).post(BODY)
    assert reply.outcome is Outcome.FAILED and reply.error == f"malformed chat completion body from {url}/chat/completions"


def test_nothing_listening_is_unreachable_until_the_endpoint_once_answered() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    reply = endpoint(f"http://127.0.0.1:{port}/v1", max_retries=1).post(BODY)
    assert reply.outcome is Outcome.UNREACHABLE and reply.detail.startswith("ConnectError: ")
    assert reply.error.endswith("(gave up after 2 attempts)")
    with scripted_server(lambda body, i: (200, completion("A"))) as (url, _):
        client = endpoint(url, max_retries=0)
        assert client.post(BODY).outcome is Outcome.OK
    assert client.post(BODY).outcome is Outcome.FAILED  # the server is gone, but it existed


def test_a_set_stop_event_sends_nothing() -> None:
    stop = threading.Event()
    stop.set()
    with scripted_server(lambda body, i: (200, completion("A"))) as (url, seen):
        reply = endpoint(url).post(BODY, stop)
    assert reply.outcome is Outcome.STOPPED and seen == []


def test_builder_stops_with_a_user_error_on_a_refused_request(tmp_path) -> None:
    not_found = (404, {"message": "The model `m` does not exist."})
    with scripted_server(lambda body, i: not_found) as (url, seen):
        client = ChatEndpoint(url, role="data_build.generator", retry_backoff_s=0.0)
        cache = RequestCache(tmp_path / "requests.sqlite")
        with pytest.raises(UserError, match=r"data_build.generator endpoint .* answered HTTP 404: .*does not exist.*"
                                            r"check data_build.generator.base_url, data_build.generator.model\)"):
            CachedGenerator(client, cache, max_concurrency=1).complete("user_prompt", [BODY])
    assert len(seen) == 1 and len(cache) == 0


def test_endpoint_config_checks_url_and_key_name() -> None:
    with pytest.raises(ValueError, match="base_url must start with http:// or https://"):
        EndpointConfig(base_url="localhost:8000/v1")
    with pytest.raises(ValueError, match="NAME of an environment variable"):
        EndpointConfig(api_key_env="sk-abc.123")
    assert EndpointConfig(base_url="https://x/v1", api_key_env="MY_KEY").max_retries == 5
