"""The `openai` judge against scripted OpenAI-compatible servers (stdlib HTTP): strict parsing, retries
after a 500, the Bearer header, secrecy of the key, fatal 401, connection failures, concurrency.
Fault injection per request through the evaluation is in test_judging_faults.py."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from _judge_server import send_json

from sycolab.errors import UserError
from sycolab.judging import AnswerMatch, CachedJudge, JudgeConfig, MorePositive, VerdictCache, build_judge
from sycolab.judging.openai_compat import OpenAIJudge

SECRET = "sk-test-Zq81secret"
Q = "what colour is the zorp ?"

Script = Callable[[dict[str, Any], int], tuple[int, Any]]


@contextmanager
def scripted_server(script: Script) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A stdlib server answering POST /v1/chat/completions with `script(body, call_index)` -> (status,
    payload); yields the API root URL and the list of received requests (headers and body)."""
    seen: list[dict[str, Any]] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                index = len(seen)
                seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
            send_json(self, *script(body, index))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def completion(text: str | None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}


def reply_with(replies: dict[str, str]) -> Script:
    """Answer by the target answer in the prompt (AnswerMatch) so that concurrency cannot reorder replies."""

    def script(body: dict[str, Any], index: int) -> tuple[int, Any]:
        user = body["messages"][-1]["content"]
        target = user.split("Target answer: ")[1].split("\n")[0]
        return 200, completion(replies[target])

    return script


def test_strict_parsing_over_http() -> None:
    replies = {"t1": "CORRECT", "t2": " incorrect.\n", "t3": "", "t4": "CORRECT and INCORRECT", "t5": "I think CORRECT"}
    with scripted_server(reply_with(replies)) as (url, seen):
        judge = OpenAIJudge(url, "grader", max_concurrency=4, retry_backoff_s=0.0)
        verdicts = judge.judge([AnswerMatch(Q, "the answer is blue .", t) for t in replies])
    assert [v.label for v in verdicts] == ["CORRECT", "INCORRECT", None, None, None]
    assert [v.raw for v in verdicts] == list(replies.values())
    assert all(v.error is None for v in verdicts)  # parsed replies of successful calls
    body = seen[0]["body"]
    assert seen[0]["path"] == "/v1/chat/completions"
    assert body["model"] == "grader" and body["temperature"] == 0.0 and body["max_tokens"] == 16
    assert "Authorization" not in seen[0]["headers"]  # no api_key_env: no auth header


def test_null_content_is_unscored_not_an_error() -> None:
    with scripted_server(lambda body, i: (200, completion(None))) as (url, _):
        [v] = OpenAIJudge(url, "grader").judge([MorePositive("poem", "good", "bad")])
    assert v.label is None and v.raw == "" and v.error is None


def test_retries_after_500_and_sends_bearer_key(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("JUDGE_KEY_FOR_TEST", SECRET)

    def script(body: dict[str, Any], index: int) -> tuple[int, Any]:
        return (500, {"error": "overloaded"}) if index < 2 else (200, completion("B"))

    caplog.set_level(logging.DEBUG)
    with scripted_server(script) as (url, seen):
        judge = OpenAIJudge(url, "grader", api_key_env="JUDGE_KEY_FOR_TEST", max_retries=3, retry_backoff_s=0.001)
        [v] = judge.judge([MorePositive("poem", "this poem is bad .", "this poem is good .")])
    assert v.label == "B" and v.error is None
    assert len(seen) == 3  # two 500s, then success
    assert all(s["headers"]["Authorization"] == f"Bearer {SECRET}" for s in seen)
    assert SECRET not in caplog.text
    assert SECRET not in repr(judge) and SECRET not in str(vars(judge).get("judge_id"))


def test_gives_up_after_retries_with_error_not_label(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("JUDGE_KEY_FOR_TEST", SECRET)
    with scripted_server(lambda body, i: (503, {"error": "down"})) as (url, seen):
        judge = OpenAIJudge(url, "grader", api_key_env="JUDGE_KEY_FOR_TEST", max_retries=2, retry_backoff_s=0.0)
        cached = CachedJudge(judge, VerdictCache(tmp_path / "verdicts.sqlite"))
        [v] = cached.judge([AnswerMatch(Q, "the answer is blue .", "blue")])
    assert len(seen) == 3
    assert v.label is None and v.raw == "" and v.failed and "HTTP 503" in v.error and "3 attempts" in v.error
    assert SECRET not in v.error
    assert len(cached.cache) == 0  # transport failures are not cached: a later run asks again
    with scripted_server(lambda body, i: (200, completion("CORRECT"))) as (url2, seen2):
        judge2 = OpenAIJudge(url2, "grader", retry_backoff_s=0.0)
        [v2] = CachedJudge(judge2, VerdictCache(tmp_path / "verdicts.sqlite")).judge([AnswerMatch(Q, "the answer is blue .", "blue")])
    assert v2.label == "CORRECT" and len(seen2) == 1


def test_unauthorized_raises_user_error_without_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGE_KEY_FOR_TEST", SECRET)
    echo = {"error": {"message": f"Incorrect API key provided: {SECRET}"}}  # a server that echoes the key
    with scripted_server(lambda body, i: (401, echo)) as (url, seen):
        judge = OpenAIJudge(url, "grader", api_key_env="JUDGE_KEY_FOR_TEST", max_retries=5, retry_backoff_s=0.0)
        with pytest.raises(UserError) as err:
            judge.judge([AnswerMatch(Q, "r", "blue")])
    assert len(seen) == 1  # a 401 is not retried
    assert "401" in str(err.value) and "$JUDGE_KEY_FOR_TEST" in str(err.value)
    assert SECRET not in str(err.value)


def test_connection_refused_before_any_answer_is_an_unreachable_endpoint() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before use: nothing listens there
    judge = OpenAIJudge(f"http://127.0.0.1:{port}/v1", "grader", max_retries=1, retry_backoff_s=0.0, timeout_s=2)
    with pytest.raises(UserError, match=rf"judge endpoint http://127.0.0.1:{port}/v1/chat/completions is unreachable"):
        judge.judge([AnswerMatch(Q, "r", "blue")])


def test_connection_refused_after_the_endpoint_answered_is_a_failed_call() -> None:
    with scripted_server(lambda body, i: (200, completion("CORRECT"))) as (url, seen):
        judge = OpenAIJudge(url, "grader", max_retries=1, retry_backoff_s=0.0, timeout_s=2)
        [first] = judge.judge([AnswerMatch(Q, "the answer is blue .", "blue")])
    [v] = judge.judge([AnswerMatch(Q, "the answer is red .", "blue")])  # the server is gone now
    assert first.label == "CORRECT" and len(seen) == 1
    assert v.label is None and v.failed and v.raw == ""
    assert v.error.startswith(f"calling {url}/chat/completions: ConnectError: ") and v.error.endswith("(gave up after 2 attempts)")


def test_missing_key_variable_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JUDGE_KEY_UNSET_FOR_TEST", raising=False)
    with pytest.raises(UserError, match="JUDGE_KEY_UNSET_FOR_TEST is not set"):
        OpenAIJudge("http://127.0.0.1:9/v1", "grader", api_key_env="JUDGE_KEY_UNSET_FOR_TEST")


def test_concurrent_calls_keep_request_order() -> None:
    in_flight = 0
    peak = 0
    lock = threading.Lock()
    gate = threading.Barrier(4, timeout=5)

    def script(body: dict[str, Any], index: int) -> tuple[int, Any]:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        if index < 4:
            gate.wait()  # the first four calls must be in flight together
        target = body["messages"][-1]["content"].split("Target answer: ")[1].split("\n")[0]
        with lock:
            in_flight -= 1
        return 200, completion("CORRECT" if target == "blue" else "INCORRECT")

    targets = ["blue", "red"] * 6
    with scripted_server(script) as (url, seen):
        verdicts = OpenAIJudge(url, "grader", max_concurrency=4).judge([AnswerMatch(Q, "the answer is blue .", t) for t in targets])
    assert [v.label for v in verdicts] == ["CORRECT", "INCORRECT"] * 6
    assert peak == 4 and len(seen) == 12


def test_build_judge_openai_is_cached(tmp_path) -> None:
    with scripted_server(lambda body, i: (200, completion("A"))) as (url, seen):
        cfg = JudgeConfig(kind="openai", base_url=url, model="grader-cache", retry_backoff_s=0.0)
        requests = [MorePositive("poem", "this poem is excellent .", "this poem is good .")] * 3
        first = build_judge(cfg, tmp_path / "cache" / "verdicts.sqlite").judge(requests)
        second = build_judge(cfg, tmp_path / "cache" / "verdicts.sqlite").judge(requests)
    assert [v.label for v in first + second] == ["A"] * 6
    assert len(seen) == 1  # three equal requests judged once; the second evaluation asks nothing


def test_build_judge_openai_takes_every_endpoint_field_from_config(monkeypatch) -> None:
    monkeypatch.setenv("JUDGE_KEY", "sk-test")
    cfg = JudgeConfig(kind="openai", base_url="http://127.0.0.1:9/v1/", model="grader", api_key_env="JUDGE_KEY",
                      max_concurrency=3, timeout_s=7.5, max_retries=2, retry_backoff_s=0.25, max_tokens=5)
    judge = build_judge(cfg, None)
    assert isinstance(judge, OpenAIJudge)
    assert (judge.base_url, judge.model, judge.api_key_env) == ("http://127.0.0.1:9/v1", "grader", "JUDGE_KEY")
    assert (judge.max_concurrency, judge.max_tokens) == (3, 5)
    assert judge.judge_id.endswith(":max_tokens=5")
    endpoint = judge._endpoint
    assert (endpoint._client.timeout.read, endpoint.max_retries, endpoint.retry_backoff_s) == (7.5, 2, 0.25)
    judge.close()
