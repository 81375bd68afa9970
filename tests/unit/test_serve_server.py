"""`sycolab serve` over a tiny random Qwen3 model, exercised over real HTTP (httpx and the openai judge)."""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

from sycolab.judging import AdmitsMistake, AnswerMatch, Hedged, JudgeConfig, MorePositive, build_judge
from sycolab.serve import RunningServer, ServeLimits, parse_chat_request, start_server
from sycolab.serve.server import RequestError

CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}"
)
# No judge label is a word of this vocabulary, so the random model can never answer with one.
WORDS = ["the", "cat", "sat", "on", "a", "mat", "answer", "is", "blue", ".", ",", "?", "system", "user", "assistant"]


def build_tiny_model_dir(path: Path) -> Path:
    """A random 2-layer Qwen3 (hidden 32) with a throwaway word-level tokenizer, saved like a checkpoint."""
    specials = ["<|endoftext|>", "<unk>", "<|im_start|>", "<|im_end|>"]
    vocab = {tok: i for i, tok in enumerate(specials + WORDS)}
    raw = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=raw, unk_token="<unk>", pad_token="<|endoftext|>", eos_token="<|im_end|>",
        additional_special_tokens=["<|im_start|>"],
    )
    tok.chat_template = CHAT_TEMPLATE
    config = Qwen3Config(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, head_dim=16, max_position_embeddings=1024, tie_word_embeddings=True,
        pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=None,
    )
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(config)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    return build_tiny_model_dir(tmp_path_factory.mktemp("tiny-qwen3"))


@pytest.fixture(scope="module")
def server(model_dir: Path) -> RunningServer:
    running = start_server(model_dir, device="cpu")
    yield running
    running.stop()


def test_models_route(server: RunningServer) -> None:
    assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/v1")
    body = httpx.get(f"{server.url}/models").json()
    assert body["object"] == "list" and [m["id"] for m in body["data"]] == [server.model_name]


def test_chat_completion_shape_and_greedy_determinism(server: RunningServer) -> None:
    request = {
        "model": server.model_name,
        "messages": [{"role": "user", "content": "the cat sat on a mat ?"}, {"role": "assistant", "content": "the answer is"}],
        "max_tokens": 5,
        "temperature": 0,
        "n": 2,
    }
    first = httpx.post(f"{server.url}/chat/completions", json=request, timeout=60).json()
    second = httpx.post(f"{server.url}/chat/completions", json=request, timeout=60).json()
    assert first["object"] == "chat.completion" and first["model"] == server.model_name
    assert len(first["choices"]) == 2
    assert [c["message"]["content"] for c in first["choices"]] == [c["message"]["content"] for c in second["choices"]]
    for choice in first["choices"]:
        assert choice["message"]["role"] == "assistant" and choice["finish_reason"] in ("stop", "length")
    usage = first["usage"]
    assert 1 <= usage["completion_tokens"] <= 10 and usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    # the assistant turn is continued, not closed: <|im_start|> user [7 words] <|im_end|> <|im_start|>
    # assistant [the answer is], with no <|im_end|> and no new assistant header after it
    assert usage["prompt_tokens"] == 2 + 7 + 1 + 2 + 3


def test_bad_requests_get_openai_style_errors(server: RunningServer) -> None:
    r = httpx.post(f"{server.url}/chat/completions", json={"model": "x"})
    assert r.status_code == 400 and "messages" in r.json()["error"]["message"]
    r = httpx.post(f"{server.url}/chat/completions", json={"messages": [{"role": "user", "content": "a"}], "stream": True})
    assert r.status_code == 400 and "stream" in r.json()["error"]["message"]
    r = httpx.post(f"{server.url}/chat/completions", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert httpx.get(f"{server.url}/nothing").status_code == 404


def test_concurrent_requests_are_all_answered(server: RunningServer) -> None:
    results: list[int] = []
    body = {"messages": [{"role": "user", "content": "the cat ?"}], "max_tokens": 3, "temperature": 0}

    def call() -> None:
        results.append(httpx.post(f"{server.url}/chat/completions", json=body, timeout=60).status_code)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 4


def test_openai_judge_over_real_http_counts_garbage_as_unscored(server: RunningServer, tmp_path: Path) -> None:
    cfg = JudgeConfig(kind="openai", base_url=server.url, model=server.model_name, max_concurrency=2, max_tokens=4)
    judge = build_judge(cfg, tmp_path / "verdicts.sqlite")
    requests = [
        AnswerMatch("the cat ?", "the answer is blue .", "blue"),
        Hedged("the cat ?", "the answer is blue ."),
        AdmitsMistake("the cat ?", "the answer is blue .", "the answer is blue ."),
        MorePositive("a mat", "the cat", "the mat"),
    ]
    verdicts = judge.judge(requests)
    assert [v.label for v in verdicts] == [None] * 4  # a random model cannot say a label
    assert all(v.error is None for v in verdicts)  # successful calls: unscored, not failed
    assert len(judge.cache) == 4  # and therefore cached


def test_parse_chat_request_validates_fields() -> None:
    req = parse_chat_request(
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}], "max_completion_tokens": 7, "stop": "."}
    )
    assert req.messages == [{"role": "user", "content": "hi"}] and req.max_tokens == 7 and req.stop == (".",)
    assert req.temperature == 1.0 and req.n == 1  # OpenAI defaults
    with pytest.raises(RequestError, match=r"messages\[0\]"):
        parse_chat_request({"messages": [{"role": "robot", "content": "x"}]})
    with pytest.raises(RequestError, match="top_p"):
        parse_chat_request({"messages": [{"role": "user", "content": "x"}], "top_p": 0})


def test_hf_judge_on_the_same_model(model_dir: Path) -> None:
    judge = build_judge(JudgeConfig(kind="hf", model_path=str(model_dir), max_tokens=4, batch_size=2), None)
    verdicts = judge.judge([Hedged("the cat ?", "the answer is blue ."), MorePositive("a mat", "the cat", "the mat"), Hedged("a", "b")])
    assert [v.label for v in verdicts] == [None] * 3 and all(isinstance(v.raw, str) for v in verdicts)
    assert judge.judge_id.startswith("hf:") and judge.judge_id.endswith(":max_tokens=4")


# --- under load and against bad clients --------------------------------------------------------------

LIMITS = ServeLimits(max_prompt_tokens=40, max_completion_tokens=8, workers=8, request_timeout_s=1.0)


@pytest.fixture(scope="module")
def bounded_server(tmp_path_factory: pytest.TempPathFactory) -> RunningServer:
    """The tiny model of sycolab.models.testing, saved and served with small limits."""
    from sycolab.models.testing import build_tiny_model, build_tiny_tokenizer

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("tiny-served")
    tokenizer = build_tiny_tokenizer()
    build_tiny_model(tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    running = start_server(folder, limits=LIMITS, device="cpu")
    yield running
    running.stop()


def _host_port(server: RunningServer) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").removesuffix("/v1").rsplit(":", 1)
    return host, int(port)


def _raw_post(server: RunningServer, headers: str, body: bytes, wait_s: float = 10.0) -> tuple[int, float]:
    """Send a hand-written POST; return (HTTP status, seconds until the reply)."""
    start = time.perf_counter()
    with socket.create_connection(_host_port(server), timeout=wait_s) as sock:
        sock.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode() + body)
        reply = sock.recv(4096)
    return int(reply.split(b" ", 2)[1]), time.perf_counter() - start


def test_fifty_concurrent_clients_are_all_answered(bounded_server: RunningServer) -> None:
    """50 clients x 4 requests at once: with the stdlib's listen backlog of 5, 17 of 200 were reset."""
    body = {"messages": [{"role": "user", "content": "what is the colour of zorb ?"}], "max_tokens": 2, "temperature": 0}
    statuses: list[int] = []
    start = threading.Barrier(50)

    def client() -> None:
        with httpx.Client(timeout=60) as http:
            start.wait()
            for _ in range(4):
                try:
                    statuses.append(http.post(f"{bounded_server.url}/chat/completions", json=body).status_code)
                except httpx.HTTPError as e:
                    statuses.append(-1)
                    print(type(e).__name__, e)

    threads = [threading.Thread(target=client) for _ in range(50)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "clients still waiting after 120 s"
    assert statuses == [200] * 200, f"{sum(s != 200 for s in statuses)} of 200 failed"
    print(f"200 requests from 50 clients in {time.perf_counter() - began:.1f} s")


def test_bad_content_length_returns_promptly_and_server_still_answers(bounded_server: RunningServer) -> None:
    body = b'{"messages": [{"role": "user", "content": "zorb ?"}], "max_tokens": 1}'
    assert _raw_post(bounded_server, "Content-Length: abc\r\n", body)[0] == 400
    assert _raw_post(bounded_server, "Content-Length: -5\r\n", body)[0] == 400
    assert _raw_post(bounded_server, "", body)[0] == 411
    assert _raw_post(bounded_server, f"Content-Length: {10**12}\r\n", body)[0] == 413
    # A lying Content-Length (more than is sent): the worker gives up after request_timeout_s (1 s),
    # while the other workers keep answering.
    liar: list[tuple[int, float]] = []
    thread = threading.Thread(target=lambda: liar.append(_raw_post(bounded_server, "Content-Length: 5000\r\n", body)))
    thread.start()
    ok = httpx.post(f"{bounded_server.url}/chat/completions", content=body, headers={"Content-Type": "application/json"}, timeout=30)
    thread.join(timeout=30)
    assert ok.status_code == 200
    status, seconds = liar[0]
    assert status == 408 and LIMITS.request_timeout_s <= seconds < LIMITS.request_timeout_s + 5
    assert httpx.get(f"{bounded_server.url}/models").status_code == 200


def test_invalid_parameters_get_400_over_http(bounded_server: RunningServer) -> None:
    url = f"{bounded_server.url}/chat/completions"
    nan = b'{"messages": [{"role": "user", "content": "zorb ?"}], "temperature": NaN}'
    r = httpx.post(url, content=nan, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "temperature" in r.json()["error"]["message"]
    r = httpx.post(url, json={"messages": [{"role": "user", "content": "zorb"}], "max_tokens": LIMITS.max_completion_tokens + 1})
    assert r.status_code == 400 and "max_tokens" in r.json()["error"]["message"]
    long_prompt = " ".join(["zorb"] * 60)  # 60 words + 5 template tokens > max_prompt_tokens 40
    r = httpx.post(url, json={"messages": [{"role": "user", "content": long_prompt}], "max_tokens": 1})
    assert r.status_code == 400 and "65 tokens" in r.json()["error"]["message"]
    r = httpx.post(url, json={"messages": [{"role": "user", "content": "zorb"}], "max_tokens": 1})
    assert r.status_code == 200


OK_MESSAGES = [{"role": "user", "content": "x"}]


@pytest.mark.parametrize(("field", "value"), [
    ("temperature", float("nan")), ("temperature", float("inf")), ("temperature", -0.5), ("temperature", "0.7"),
    ("top_p", 0), ("top_p", 1.5), ("top_p", float("nan")), ("max_tokens", 2.5), ("max_tokens", "5"),
    ("max_tokens", True), ("max_tokens", 0), ("max_tokens", 10**9), ("max_completion_tokens", -1), ("n", 0),
    ("n", 1.5), ("seed", "s"), ("stop", [1]), ("chat_template_kwargs", []),
    ("messages", []), ("messages", [{"role": "user"}]), ("messages", ["hi"]),
    ("messages", [{"role": "user", "content": [{"type": "text", "text": 3}]}]),
])
def test_parse_chat_request_refuses(field: str, value: object) -> None:
    with pytest.raises(RequestError, match=field.replace("max_completion_tokens", "max_")):
        parse_chat_request({"messages": OK_MESSAGES, field: value}, LIMITS)


def test_parse_chat_request_defaults_and_caps() -> None:
    req = parse_chat_request({"messages": OK_MESSAGES, "max_tokens": 8.0, "temperature": 0}, LIMITS)
    assert req.max_tokens == 8 and req.temperature == 0.0 and req.top_p == 1.0
    assert parse_chat_request({"messages": OK_MESSAGES}, LIMITS).max_tokens == 8  # default 128, capped at 8
    assert parse_chat_request({"messages": OK_MESSAGES}).max_tokens == ServeLimits().default_max_tokens


def test_server_listens_with_a_real_backlog() -> None:
    from sycolab.serve.server import make_server

    class _Model:
        name = "m"

    server = make_server(_Model(), "127.0.0.1", 0)  # type: ignore[arg-type]
    try:
        assert server.request_queue_size == 128 and ServeLimits().workers == 16
    finally:
        server.server_close()


def test_serve_command_prints_one_ready_line_and_answers(
    model_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sycolab serve DIR --port 0` through the command line, in a thread; stopped with shutdown()."""
    from sycolab.cli.main import main
    from sycolab.serve.server import BoundedHTTPServer

    servers: list[BoundedHTTPServer] = []
    original = BoundedHTTPServer.serve_forever
    monkeypatch.setattr(BoundedHTTPServer, "serve_forever", lambda self: (servers.append(self), original(self, 0.05)))
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(main(["serve", str(model_dir), "--port", "0"])))
    thread.start()
    deadline = time.monotonic() + 60
    while not servers and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert servers, capsys.readouterr().err
    try:
        line = capsys.readouterr().out.strip()
        match = re.fullmatch(r"sycolab serve: ready on (http://127\.0\.0\.1:(\d+)) \(model (\S+)\)", line)
        assert match, line
        assert int(match.group(2)) == servers[0].server_address[1] and match.group(3) == model_dir.name
        reply = httpx.post(f"{match.group(1)}/v1/chat/completions", timeout=30,
                           json={"messages": [{"role": "user", "content": "the cat ?"}], "max_tokens": 2})
        assert reply.status_code == 200 and reply.json()["model"] == model_dir.name
    finally:
        servers[0].shutdown()
        thread.join(timeout=30)
    assert codes == [0]
