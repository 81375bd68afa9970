"""`sycolab serve`: a small OpenAI-compatible chat endpoint over a local transformers model.

Routes: `GET /v1/models`, `POST /v1/chat/completions` (non-streaming; `messages`, `max_tokens` or
`max_completion_tokens`, `temperature`, `top_p`, `n`, `seed`, `stop`, and vLLM's `chat_template_kwargs`).
Built on the standard library's `ThreadingHTTPServer`, bounded (`ServeLimits`): at most `workers`
requests in flight, further connections queued in a listen backlog of `backlog`, a socket timeout while
a request is read, capped body, prompt and reply sizes. A lock serialises generation, so concurrent
clients queue rather than share the model. Binds to 127.0.0.1 by default: there is no authentication,
so expose it on other interfaces only on a trusted network. The `model` field of a request is not
checked; replies always name the served model.
"""

from __future__ import annotations

import json
import logging
import math
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sycolab.errors import UserError
from sycolab.serve.limits import ServeLimits
from sycolab.serve.local_model import LocalChatModel, PromptTooLong

logger = logging.getLogger(__name__)

MAX_N = 64
ROLES = ("system", "user", "assistant")


class RequestError(ValueError):
    """A bad client request (answered with an OpenAI-style error body; HTTP 400 unless `status` says)."""

    def __init__(self, message: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ChatRequest:
    messages: list[dict[str, str]]
    max_tokens: int
    temperature: float
    top_p: float
    n: int
    seed: int | None
    stop: tuple[str, ...]
    chat_template_kwargs: dict[str, Any]


def parse_chat_request(body: Any, limits: ServeLimits = ServeLimits()) -> ChatRequest:
    """Validate a `/v1/chat/completions` body; raise RequestError naming the bad field."""
    if not isinstance(body, dict):
        raise RequestError("request body must be a JSON object")
    if body.get("stream"):
        raise RequestError("stream: streaming is not supported by sycolab serve")
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise RequestError("messages: expected a non-empty list of {role, content} objects")
    messages = [_message(i, m) for i, m in enumerate(raw_messages)]
    max_key = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    max_tokens = _integer(body, max_key, min(limits.default_max_tokens, limits.max_completion_tokens))
    if not 1 <= max_tokens <= limits.max_completion_tokens:
        raise RequestError(f"{max_key}: expected 1..{limits.max_completion_tokens} (this server's cap), got {max_tokens}")
    temperature = _number(body, "temperature", 1.0)
    if temperature < 0:
        raise RequestError(f"temperature: expected a finite number >= 0, got {temperature}")
    top_p = _number(body, "top_p", 1.0)
    if not 0 < top_p <= 1:
        raise RequestError(f"top_p: expected a number in (0, 1], got {top_p}")
    n = _integer(body, "n", 1)
    if not 1 <= n <= MAX_N:
        raise RequestError(f"n: expected 1..{MAX_N}, got {n}")
    seed = None if body.get("seed") is None else _integer(body, "seed", 0)
    stop = body.get("stop")
    stop = () if stop is None else (stop,) if isinstance(stop, str) else stop
    if not isinstance(stop, list | tuple) or not all(isinstance(s, str) for s in stop):
        raise RequestError("stop: expected a string or a list of strings")
    kwargs = {} if body.get("chat_template_kwargs") is None else body["chat_template_kwargs"]
    if not isinstance(kwargs, dict):
        raise RequestError("chat_template_kwargs: expected an object")
    return ChatRequest(messages, max_tokens, temperature, top_p, n, seed, tuple(s for s in stop if s), dict(kwargs))


def _message(i: int, m: Any) -> dict[str, str]:
    if not isinstance(m, dict) or m.get("role") not in ROLES:
        raise RequestError(f"messages[{i}]: expected an object with role system, user or assistant")
    content = m.get("content")
    if isinstance(content, list):  # OpenAI content parts: only text parts are meaningful here
        if not all(isinstance(p, dict) and isinstance(p.get("text", ""), str) for p in content):
            raise RequestError(f"messages[{i}].content: expected a string or a list of {{type, text}} parts")
        content = "".join(p.get("text", "") for p in content if p.get("type") == "text")
    if not isinstance(content, str):
        raise RequestError(f"messages[{i}].content: expected a string")
    return {"role": m["role"], "content": content}


def _integer(body: dict[str, Any], key: str, default: int) -> int:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value != int(value):
        raise RequestError(f"{key}: expected an integer, got {value!r}")
    return int(value)


def _number(body: dict[str, Any], key: str, default: float) -> float:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RequestError(f"{key}: expected a finite number, got {value!r}")
    return float(value)


class BoundedHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with at most `limits.workers` request threads and a listen backlog of
    `limits.backlog`: while every worker is busy the accept loop waits, and new connections queue in the
    kernel instead of being reset."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], limits: ServeLimits):
        self.request_queue_size = limits.backlog  # read by server_activate's listen()
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._slots = threading.BoundedSemaphore(limits.workers)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self._slots.acquire()
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def make_server(
    model: LocalChatModel, host: str = "127.0.0.1", port: int = 0, limits: ServeLimits = ServeLimits()
) -> BoundedHTTPServer:
    """An HTTP server (bound, not yet serving) answering the OpenAI routes with `model`."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        server_version = "sycolab-serve"
        timeout = limits.request_timeout_s  # socket timeout while reading the request

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            logger.debug("%s %s", self.address_string(), format % args)

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: HTTPStatus, message: str) -> None:
            kind = "invalid_request_error" if status < 500 else "server_error"
            self._send(status, {"error": {"message": message, "type": kind, "code": int(status)}})

        def do_GET(self) -> None:
            if self.path.rstrip("/") in ("/v1/models", "/models"):
                card = {"id": model.name, "object": "model", "created": int(time.time()), "owned_by": "sycolab"}
                self._send(HTTPStatus.OK, {"object": "list", "data": [card]})
            else:
                self._error(HTTPStatus.NOT_FOUND, f"no route GET {self.path}")

        def _read_body(self) -> bytes:
            """The request body, at most `max_body_bytes`; a malformed, missing or oversized
            Content-Length, or a body that stops short of it, is a RequestError (and ends the connection)."""
            text = self.headers.get("Content-Length")
            if self.headers.get("Transfer-Encoding"):
                self.close_connection = True
                raise RequestError("Transfer-Encoding is not supported; send a Content-Length", HTTPStatus.LENGTH_REQUIRED)
            if text is None:
                self.close_connection = True
                raise RequestError("Content-Length header required", HTTPStatus.LENGTH_REQUIRED)
            if not text.strip().isdigit():
                self.close_connection = True
                raise RequestError(f"Content-Length: expected a non-negative integer, got {text!r}")
            length = int(text)
            if length > limits.max_body_bytes:
                self.close_connection = True
                raise RequestError(f"request body of {length} bytes is over the limit of {limits.max_body_bytes}",
                                   HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            try:
                data = self.rfile.read(length)
            except TimeoutError:
                self.close_connection = True
                raise RequestError(f"request body not received within {limits.request_timeout_s:g} s "
                                   f"(Content-Length {length})", HTTPStatus.REQUEST_TIMEOUT) from None
            if len(data) < length:
                self.close_connection = True
                raise RequestError(f"request body ended after {len(data)} of {length} bytes (Content-Length)")
            return data

        def do_POST(self) -> None:
            if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                self._error(HTTPStatus.NOT_FOUND, f"no route POST {self.path}")
                return
            try:
                data = self._read_body()
                try:
                    body = json.loads(data or b"null")
                except ValueError as e:
                    raise RequestError(f"request body is not JSON: {e}") from None
                req = parse_chat_request(body, limits)
            except RequestError as e:
                self._error(e.status, str(e))
                return
            try:
                with lock:
                    outs = model.chat(
                        [req.messages] * req.n,
                        max_new_tokens=req.max_tokens,
                        temperature=req.temperature,
                        top_p=req.top_p,
                        seed=req.seed,
                        stop=req.stop,
                        chat_template_kwargs=req.chat_template_kwargs,
                        max_prompt_tokens=limits.max_prompt_tokens,
                    )
            except PromptTooLong as e:
                self._error(HTTPStatus.BAD_REQUEST, f"messages: {e}")
                return
            except Exception as e:  # the server keeps running; the client sees a 500 and may retry
                logger.exception("generation failed")
                self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"generation failed: {type(e).__name__}")
                return
            prompt_tokens = outs[0].prompt_tokens if outs else 0
            completion_tokens = sum(o.completion_tokens for o in outs)
            self._send(
                HTTPStatus.OK,
                {
                    "id": f"chatcmpl-{uuid.uuid4().hex}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model.name,
                    "choices": [
                        {"index": i, "message": {"role": "assistant", "content": o.text}, "finish_reason": o.finish_reason}
                        for i, o in enumerate(outs)
                    ],
                    "usage": {
                        "prompt_tokens": prompt_tokens,
                        "completion_tokens": completion_tokens,
                        "total_tokens": prompt_tokens + completion_tokens,
                    },
                },
            )

    return BoundedHTTPServer((host, port), Handler, limits)


@dataclass
class RunningServer:
    """A server running in a background thread. `url` is the API root (".../v1"), what an OpenAI client
    or `JudgeConfig.base_url` takes; `stop()` shuts it down and waits for the thread."""

    url: str
    model_name: str
    stop: Callable[[], None]

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(
    model: LocalChatModel | str | Path, host: str = "127.0.0.1", port: int = 0,
    limits: ServeLimits = ServeLimits(), **model_kwargs: Any,
) -> RunningServer:
    """Start serving `model` (a loaded LocalChatModel or a model folder) in a background thread;
    port 0 picks a free port."""
    chat_model = model if isinstance(model, LocalChatModel) else LocalChatModel(model, **model_kwargs)
    server = make_server(chat_model, host, port, limits)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="sycolab-serve", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)

    return RunningServer(f"{server_url(server)}/v1", chat_model.name, stop)


def server_url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    if isinstance(host, bytes):  # typeshed allows bytes for an AF_UNIX address; a TCP server has str
        host = host.decode()
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(
    model_dir: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    limits: ServeLimits = ServeLimits(),
    model_name: str | None = None,
    dtype: str = "auto",
    device: str | None = None,
    trust_remote_code: bool = False,
) -> None:
    """Serve `model_dir` until interrupted (the `sycolab serve` command); prints one ready line on stdout."""
    from sycolab.models.load import stored_model_source

    if not 0 <= port <= 65535:
        raise UserError(f"--port: expected a TCP port in 0..65535, got {port}")
    folder = Path(model_dir)
    if not folder.is_dir():
        raise UserError(f"{model_dir}: model folder not found (give a folder written by save_pretrained, "
                        "e.g. RUN_DIR/models/sft)")
    source = stored_model_source(folder)  # UserError when the folder holds no weights, adapter or record
    if host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning("serving on %s without authentication: anyone who can reach it can use the model", host)
    chat_model = LocalChatModel(source, name=model_name or folder.name, dtype=dtype, device=device,
                                trust_remote_code=trust_remote_code)  # a folder it cannot load: UserError
    try:
        server = make_server(chat_model, host, port, limits)
    except (OSError, OverflowError) as e:
        raise UserError(f"cannot listen on {host}:{port}: {getattr(e, 'strerror', None) or e}") from None
    print(f"sycolab serve: ready on {server_url(server)} (model {chat_model.name})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
