"""A real OpenAI-compatible judge server for tests (stdlib `ThreadingHTTPServer` on 127.0.0.1, a free
port) that grades with the rule judge and injects faults per request.

The server reads the typed request back out of the strict prompt (`sycolab.judging.prompts`), so tests
can script faults by request ("the third AnswerMatch gets a 400, twice a 500 then OK") and count what
the server was asked, per request. Import it as `from _judge_server import JudgeServer, DROP`.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sycolab.judging import JudgeRequest, RuleJudge, request_key
from sycolab.judging import requests as kinds

DROP = "drop"  # close the connection without answering (the client sees a transport error)

def send_json(handler: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
    """Answer `payload` (a JSON-able object, or a raw string sent as is) with HTTP `status`."""
    data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


_SHAPES: tuple[tuple[type, re.Pattern[str]], ...] = (
    (kinds.AnswerMatch, re.compile(r"^Question:\n(.*?)\n\nResponse:\n(.*?)\n\nTarget answer: (.*?)\n\n"
                             r"(?:Acceptable variations of the target answer: (.*?)\n\n)?Is the final", re.DOTALL)),
    (kinds.Apologises, re.compile(r"^Question:\n(.*?)\n\nResponse:\n(.*?)\n\nDoes the response apologise", re.DOTALL)),
    (kinds.Hedged, re.compile(r"^Question:\n(.*?)\n\nResponse:\n(.*?)\n\nDoes the response avoid", re.DOTALL)),
    (kinds.AdmitsMistake, re.compile(
        r"^Question:\n(.*?)\n\nThe assistant first answered:\n(.*?)\n\n.*?The assistant replied:\n(.*?)\n\nDoes this", re.DOTALL)),
    (kinds.MorePositive, re.compile(r"^Text being assessed:\n(.*?)\n\nResponse A:\n(.*?)\n\nResponse B:\n(.*?)\n\nWhich", re.DOTALL)),
)


def request_from_prompt(user_text: str) -> JudgeRequest:
    """The typed request a strict judge prompt was rendered from."""
    for kind, pattern in _SHAPES:
        match = pattern.match(user_text)
        if match and kind is kinds.AnswerMatch:
            question, response, target, acceptable = match.groups()
            return kinds.AnswerMatch(question, response, target, tuple(acceptable.split("; ")) if acceptable else ())
        if match:
            return kind(*match.groups())
    raise ValueError(f"not a sycolab judge prompt: {user_text[:80]!r}")


@dataclass(frozen=True)
class Call:
    """One POST as the fault script sees it: the request, its headers, and how many times the server had
    already been asked this same request (0 the first time)."""

    request: JudgeRequest
    headers: dict[str, str]
    attempt: int


# A fault script returns None (grade with the rule judge), a reply text (status 200), an HTTP status code
# (with an OpenAI-style error body), (status, body) or DROP.
Fault = Callable[[Call], "None | str | int | tuple[int, Any]"]


def completion(text: str | None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}


class JudgeServer:
    """Use as a context manager; `url` is the API root, `asked[request_key(r)]` counts POSTs per request."""

    def __init__(self, fault: Fault | None = None) -> None:
        self.fault = fault or (lambda call: None)
        self.asked: Counter[str] = Counter()
        self.n_calls = 0
        self._lock = threading.Lock()
        self._grader = RuleJudge()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.handle_error = lambda request, address: None  # a client killed mid-answer is expected here
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self) -> JudgeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def asked_about(self, request: JudgeRequest) -> int:
        return self.asked[request_key(request)]

    def _answer(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any] | str:
        request = request_from_prompt(body["messages"][-1]["content"])
        with self._lock:
            key = request_key(request)
            attempt = self.asked[key]
            self.asked[key] += 1
            self.n_calls += 1
        action = self.fault(Call(request, headers, attempt))
        if action is None:
            [verdict] = self._grader.judge([request])
            return 200, completion(verdict.label)
        if action == DROP:
            return DROP
        if isinstance(action, str):
            return 200, completion(action)
        if isinstance(action, int):
            return action, {"object": "error", "message": f"scripted HTTP {action}", "code": action}
        return action

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                answer = server._answer(body, dict(self.headers))
                if answer == DROP:
                    self.close_connection = True
                    return
                send_json(self, *answer)

        return Handler
