"""Judge faults that lose nothing: the HTTP judge against a real local server that injects faults per
request (`_judge_server.JudgeServer`), through the verdict cache and `evaluate_model` with a scripted
generation backend.

Interruptions keep every verdict received; a rejected request is one unscored sample; 5xx are retried;
failed calls end the evaluation incomplete and a rerun asks exactly them; the key is stored nowhere;
unparseable replies are re-asked only with `rejudge_unscored`; an unreachable judge is one line.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from _judge_server import DROP, Call, JudgeServer
from test_eval_runner import WORLD_SCOPE, ScriptedBackend, build_items

import sycolab
from sycolab.errors import IncompleteStageError, UserError
from sycolab.evaluation.config import EvaluateConfig
from sycolab.evaluation.records import EvalItems
from sycolab.evaluation.runner import evaluate_model
from sycolab.io import read_jsonl
from sycolab.judging import (
    AnswerMatch,
    CachedJudge,
    Hedged,
    JudgeConfig,
    VerdictCache,
    build_judge,
    redact_credentials,
)
from sycolab.judging.openai_compat import OpenAIJudge

SECRET = "sk-test-Zq81secretVALUE"
KEY_ENV = "JUDGE_KEY_FOR_FAULT_TEST"
Q = "what colour is the zorp ?"
HEDGE = "i am not sure ."  # q3's reply to every answer template (see test_eval_runner.WORLD)
BROP = "what colour is the brop ?"


def answer_and_ays_items() -> tuple[EvalItems, dict[str, str]]:
    """The runner test's answer and are-you-sure items (feedback left out: the rule judge's TIE is not an
    LLM label). Distinct judge requests: answer 5 + 5 + 3 + 3, are-you-sure 3 x 6 = 34."""
    items, table = build_items()
    return EvalItems(answer=items.answer, are_you_sure=items.are_you_sure, feedback=[]), table


N_REQUESTS = 34


def judge_cfg(url: str, **extra: object) -> JudgeConfig:
    return JudgeConfig(kind="openai", base_url=url, model="grader", max_concurrency=8, max_retries=2,
                       retry_backoff_s=0.0, timeout_s=5, **extra)


def evaluate(url: str, tmp_path: Path, rejudge_unscored: bool = False, **extra: object):
    items, table = answer_and_ays_items()
    judge = build_judge(judge_cfg(url, **extra), tmp_path / "cache" / "verdicts.sqlite", rejudge_unscored=rejudge_unscored)
    return evaluate_model("m", ScriptedBackend(table), judge, items, EvaluateConfig(bootstrap_resamples=20), tmp_path / "eval",
                          scope=WORLD_SCOPE)


def cached_rows(tmp_path: Path) -> int:
    return len(VerdictCache(tmp_path / "cache" / "verdicts.sqlite"))


# -- (a) an interruption keeps every verdict received --------------------------------------------------


def test_interruption_after_k_verdicts_keeps_those_k_in_the_cache(tmp_path: Path) -> None:
    requests = [AnswerMatch(Q, "the answer is blue .", f"t{i}") for i in range(40)]
    path = tmp_path / "verdicts.sqlite"
    k, concurrency = 7, 3
    received: list[int] = []
    with JudgeServer() as server:
        judge = CachedJudge(OpenAIJudge(server.url, "grader", max_concurrency=concurrency), VerdictCache(path))
        with pytest.raises(KeyboardInterrupt):
            for index, _ in judge.iter_verdicts(requests):
                received.append(index)
                if len(received) == k:
                    raise KeyboardInterrupt  # as a Ctrl-C (or a kill) right after the k-th verdict
        assert len(VerdictCache(path)) == k  # every verdict received is stored, nothing else
        verdicts = CachedJudge(OpenAIJudge(server.url, "grader", max_concurrency=concurrency), VerdictCache(path)).judge(requests)
    assert [v.label for v in verdicts] == ["INCORRECT"] * 40 and len(VerdictCache(path)) == 40
    assert all(server.asked_about(requests[i]) == 1 for i in received)  # the stored k are never asked again
    lost = sum(server.asked_about(r) == 2 for r in requests)  # answered to the first run after it stopped
    assert server.n_calls == 40 + lost  # nothing else asked twice
    assert lost <= concurrency  # the first run lost at most the calls in flight; the rest were never sent


def test_kill_9_loses_at_most_the_calls_in_flight(tmp_path: Path) -> None:
    """A real SIGKILL of a judging process: the server kills the client when the 20th request arrives."""
    path, concurrency, kill_at = tmp_path / "verdicts.sqlite", 3, 20
    child = textwrap.dedent(f"""
        import sys
        from sycolab.judging import AnswerMatch, CachedJudge, VerdictCache
        from sycolab.judging.openai_compat import OpenAIJudge
        requests = [AnswerMatch({Q!r}, "the answer is blue .", f"t{{i}}") for i in range(100)]
        judge = OpenAIJudge(sys.argv[1], "grader", max_concurrency={concurrency}, max_retries=0)
        CachedJudge(judge, VerdictCache(sys.argv[2])).judge(requests)
    """)
    proc: subprocess.Popen[bytes] | None = None

    def fault(call: Call) -> object:
        if server.n_calls >= kill_at:
            assert proc is not None
            os.kill(proc.pid, signal.SIGKILL)
            return DROP
        return None

    env = {**os.environ, "PYTHONPATH": str(Path(sycolab.__file__).parents[1])}
    with JudgeServer(fault) as server:
        proc = subprocess.Popen([sys.executable, "-c", child, server.url, str(path)], env=env)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    answered = kill_at - 1  # requests the server answered before the kill
    stored = len(VerdictCache(path))
    assert answered - concurrency <= stored <= answered


# -- (b) one rejected request is one unscored sample --------------------------------------------------


def test_one_rejected_request_is_one_unscored_sample_and_the_rest_are_scored(tmp_path: Path) -> None:
    too_long = Hedged("what colour is the glim ?", "the answer is green .")  # q1's reply to 3 of its 4 templates

    def fault(call: Call) -> object:
        if call.request == too_long:
            return 400, {"object": "error", "message": "This model's maximum context length is 4096 tokens. "
                         "However, you requested 5000 tokens.", "type": "BadRequestError", "code": 400}
        return None

    with JudgeServer(fault) as server:
        result = evaluate(server.url, tmp_path)
    assert server.n_calls == N_REQUESTS  # a 400 is not retried
    records = {r["sample_id"]: r for r in read_jsonl(tmp_path / "eval" / "samples.jsonl")}
    hit = [sid for sid, r in records.items() if r["judge_errors"]]
    assert hit == ["answer/q1/neutral", "answer/q1/suggest_incorrect", "answer/q1/suggest_correct"]  # they share it
    for sid in hit:
        assert records[sid]["scored"] is False and records[sid]["verdicts"]["hedged"] is None
        assert records[sid]["verdicts"]["correct"] == "CORRECT"  # its other verdicts were judged
        error = records[sid]["judge_errors"]["hedged"]
        assert error.startswith("HTTP 400 from ") and "maximum context length is 4096" in error
    assert sum(r["scored"] for r in records.values()) == len(records) - 3
    plain = result.metrics["plain_accuracy"]
    assert (plain.value, plain.n, plain.n_unscored) == (pytest.approx(2 / 3), 3, 1)  # q0, q2 right; q3 hedges
    assert any(f.startswith("judge: 1 of 34 requests rejected") for f in result.flags)
    assert cached_rows(tmp_path) == N_REQUESTS - 1  # the rejection is not cached: a rerun asks again


def test_every_request_rejected_is_a_configuration_error(tmp_path: Path) -> None:
    not_found = (404, {"object": "error", "message": "The model `grader` does not exist."})
    with JudgeServer(lambda call: not_found) as server, pytest.raises(
            UserError, match=r"rejected all 34 requests \(check judge.base_url and judge.model\).*does not exist"):
        evaluate(server.url, tmp_path)
    assert not (tmp_path / "eval" / "metrics.json").exists()


# -- (c) 5xx and 429 are retried ---------------------------------------------------------------------


def test_500_twice_then_ok_is_retried_and_scored() -> None:
    request = AnswerMatch(Q, "the answer is blue .", "blue")
    with JudgeServer(lambda call: 500 if call.attempt < 2 else None) as server:
        [verdict] = OpenAIJudge(server.url, "grader", max_retries=2, retry_backoff_s=0.0).judge([request])
    assert verdict.label == "CORRECT" and verdict.error is None
    assert server.asked_about(request) == 3


def test_429_honours_retry_after_and_exhausted_retries_are_a_failed_call() -> None:
    request = AnswerMatch(Q, "the answer is blue .", "blue")
    with JudgeServer(lambda call: (429, {"error": {"message": "slow down"}})) as server:
        [verdict] = OpenAIJudge(server.url, "grader", max_retries=1, retry_backoff_s=0.0).judge([request])
    assert server.asked_about(request) == 2
    assert verdict.label is None and verdict.failed and verdict.raw == ""
    assert verdict.error == f"HTTP 429 from {server.url}/chat/completions: slow down (gave up after 2 attempts)"


# -- (d) failed calls: the stage ends incomplete, a rerun asks exactly them -------------------------------


def test_failed_calls_end_the_stage_and_a_rerun_asks_only_them(tmp_path: Path) -> None:
    broken = {Hedged(BROP, HEDGE), AnswerMatch(BROP, HEDGE, "white")}  # q3's hedge and its suggested-answer match

    with JudgeServer(lambda call: DROP if call.request in broken else None) as server:
        with pytest.raises(IncompleteStageError) as err:
            evaluate(server.url, tmp_path)
        first_calls = server.n_calls
    message = str(err.value)
    assert "\n" not in message and "2 of 34 judge calls failed; rerun to retry them" in message
    assert "RemoteProtocolError" in message
    assert first_calls == N_REQUESTS - 2 + 2 * 3  # each broken request tried 1 + max_retries times
    assert cached_rows(tmp_path) == N_REQUESTS - 2  # everything received is kept
    assert not (tmp_path / "eval" / "samples.jsonl").exists() and not (tmp_path / "eval" / "metrics.json").exists()

    with JudgeServer() as healthy:
        result = evaluate(healthy.url, tmp_path)
    assert healthy.n_calls == 2 and all(healthy.asked_about(r) == 1 for r in broken)
    assert result.metrics["hedged_rate"].value == pytest.approx(4 / 16) and result.metrics["hedged_rate"].n_unscored == 0


def test_a_judge_that_goes_down_stops_sending_after_a_run_of_failures(tmp_path: Path) -> None:
    requests = [AnswerMatch(Q, "the answer is blue .", f"t{i}") for i in range(60)]
    with JudgeServer(lambda call: 503) as server:
        judge = OpenAIJudge(server.url, "grader", max_concurrency=2, max_retries=1, retry_backoff_s=0.0)
        verdicts = judge.judge(requests)
    assert all(v.failed and v.label is None for v in verdicts)
    # 2 * max_concurrency = 4 failed calls in a row trip the breaker; calls already started may finish
    assert server.n_calls <= (4 + 2) * 2
    assert sum("taken to be down" in (v.error or "") for v in verdicts) >= 60 - 6


# -- (e) the key is stored nowhere ------------------------------------------------------------------


def test_a_judge_echoing_the_key_leaves_it_nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)
    caplog.set_level(logging.DEBUG)

    def fault(call: Call) -> object:
        assert call.headers["Authorization"] == f"Bearer {SECRET}"
        if isinstance(call.request, AnswerMatch):
            return f"CORRECT (you sent Authorization: {call.headers['Authorization']})"  # unparseable echo
        if call.request == Hedged(BROP, HEDGE):
            return 400, {"error": {"message": f"bad request from key {SECRET}; headers {call.headers}"}}
        return None

    with JudgeServer(fault) as server:
        result = evaluate(server.url, tmp_path, api_key_env=KEY_ENV)
    stored = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert {p.name for p in stored} >= {"verdicts.sqlite", "samples.jsonl", "metrics.json"}
    for path in stored:  # the cache file, its WAL, samples and metrics
        data = path.read_bytes()
        assert SECRET.encode() not in data, path
        assert b"Bearer sk-" not in data, path
    assert SECRET not in caplog.text and SECRET not in " ".join(result.flags)
    records = read_jsonl(tmp_path / "eval" / "samples.jsonl")
    notes = " ".join(e for r in records for e in r["judge_errors"].values())
    assert "Authorization: Bearer ***" in notes and "key ***" in notes  # redacted, still readable


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        (f"key {SECRET} leaked", "key *** leaked"),
        ("Authorization: Bearer abc.DEF-123", "Authorization: Bearer ***"),
        ("{'Authorization': 'Bearer abc123', 'Host': 'x'}", "{'Authorization': 'Bearer ***', 'Host': 'x'}"),
        ('{"authorization": "Basic dXNlcjpwdw=="}', '{"authorization": "Basic ***"}'),
        ("authorization=tok123; path=/", "authorization=***; path=/"),
        ("(you sent bearer xyz)", "(you sent bearer ***)"),
        ('{"api_key": "sk-other"} x-api-key: abc', '{"api_key": "***"} x-api-key: ***'),
        ("CORRECT", "CORRECT"),
        ("calling https://me:pw0rd@judge.example/v1/chat", "calling https://me:***@judge.example/v1/chat"),
        ("see http://127.0.0.1:8000/v1", "see http://127.0.0.1:8000/v1"),
        ("the answer is bearer of bad news", "the answer is bearer *** bad news"),  # over-redaction is safe
    ],
)
def test_redact_credentials(text: str, redacted: str) -> None:
    assert redact_credentials(text, [SECRET, None]) == redacted


# -- (f) unparseable replies: cached, re-asked only with rejudge_unscored ------------------------------


def test_rejudge_unscored_re_asks_only_the_unparseable_replies(tmp_path: Path) -> None:
    garbled = {Hedged("what colour is the zorp ?", "the answer is blue ."), AnswerMatch(BROP, HEDGE, "black")}

    def fault(call: Call) -> object:
        return "COMMITTED or HEDGED" if call.request in garbled and call.attempt == 0 else None

    with JudgeServer(fault) as server:
        first = evaluate(server.url, tmp_path)
        assert server.n_calls == N_REQUESTS and cached_rows(tmp_path) == N_REQUESTS  # unparseable replies are cached
        # q0's neutral, doubt_correct and suggest_correct share the garbled Hedged request; q3's four samples
        # lack their `correct` verdict
        assert first.metrics["hedged_rate"].n_unscored == 3 + 4
        assert any("2 of 34 judge replies unparseable" in f for f in first.flags)
        evaluate(server.url, tmp_path)
        assert server.n_calls == N_REQUESTS  # a plain rerun asks nothing
        again = evaluate(server.url, tmp_path, rejudge_unscored=True)
        assert server.n_calls == N_REQUESTS + 2 and all(server.asked_about(r) == 2 for r in garbled)
    assert all(m.n_unscored == 0 for m in again.metrics.values())
    assert again.metrics["hedged_rate"].value == pytest.approx(4 / 16)


# -- (g) an unreachable judge is one line ------------------------------------------------------------


def test_unreachable_judge_is_one_line_naming_the_url(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before use: nothing listens there
    url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(UserError) as err:
        evaluate(url, tmp_path)
    message = str(err.value)
    assert message.startswith(f"judge endpoint {url}/chat/completions is unreachable (ConnectError: ")
    assert "\n" not in message and "judge.base_url" in message
    assert not (tmp_path / "eval" / "metrics.json").exists()


def test_forbidden_without_a_key_says_which_setting_to_use() -> None:
    forbidden = (403, {"error": {"message": "authentication required"}})
    with JudgeServer(lambda call: forbidden) as server, pytest.raises(UserError) as err:
        OpenAIJudge(server.url, "grader").judge([AnswerMatch(Q, "r", "blue")] * 3)
    message = str(err.value)
    assert message.startswith(f"judge endpoint {server.url}/chat/completions answered HTTP 403 (authentication required)")
    assert "judge.api_key_env" in message and server.n_calls <= 3  # not retried


# -- the CLI: --rejudge-unscored reruns eval stages; an incomplete eval is one line, exit 1 ----------------


def fake_run_dir(root: Path) -> Path:
    """A run dir with a manifest (the tiny config) and one stored model, `base`; no weights needed because
    the eval body is replaced in these tests."""
    from sycolab.config import load_config
    from sycolab.store import RunStore, write_model_record

    store = RunStore(root)
    store.init(load_config(str(Path(__file__).parents[2] / "configs" / "tiny.yaml")).model_dump(mode="json"), 0)
    write_model_record(store.model_dir("base"), "base", "pretrained", None, {})
    return root


def test_eval_cli_rejudge_unscored_reruns_the_done_stage_with_rejudging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from sycolab.cli.main import main

    seen: list[bool] = []
    monkeypatch.setattr("sycolab.study.pipeline.evaluate_stored_model",
                        lambda study, name, **kw: seen.append(study.rejudge_unscored) or {})
    run = str(fake_run_dir(tmp_path / "run"))
    assert main(["eval", run]) == 0 and main(["eval", run]) == 0
    assert seen == [False]  # the second plain eval is skipped: the stage is done
    assert main(["eval", run, "--rejudge-unscored"]) == 0
    assert seen == [False, True]
    lines = capsys.readouterr().out.splitlines()
    # the stage line, then the behaviour table of what was evaluated (none here: the eval body is replaced)
    assert lines[lines.index("  [eval:base] done") + 1] == "Behaviour (value [95% bootstrap CI])"


def test_run_cli_rejudge_unscored_forces_only_the_eval_stages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sycolab.cli.main import main
    from sycolab.study.pipeline import Study

    forced: dict[str, bool] = {}

    def fake_run(study: Study, **kw: object) -> list:
        forced.update({stage.name: stage.force for _, stage in study.stages()})
        return []

    monkeypatch.setattr(Study, "run", fake_run)
    config = str(Path(__file__).parents[2] / "configs" / "tiny.yaml")
    assert main(["run", config, "--run-dir", str(tmp_path / "run"), "--set", "seeds=[]", "--rejudge-unscored"]) == 0
    evals = {name for name in forced if name.startswith("eval:")}
    assert evals >= {"eval:base", "eval:sft"} and all(forced[n] for n in evals)
    assert not any(forced[n] for n in set(forced) - evals)


def test_failed_judge_calls_are_one_line_exit_1_and_the_stage_is_left_failed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from sycolab.cli.main import main
    from sycolab.store import RunStore

    def incomplete(study: object, name: str, **kw: object) -> dict:
        raise IncompleteStageError("judge openai:grader: 2 of 31 judge calls failed; rerun to retry them")

    monkeypatch.setattr("sycolab.study.pipeline.evaluate_stored_model", incomplete)
    run = fake_run_dir(tmp_path / "run")
    assert main(["eval", str(run)]) == 1
    assert capsys.readouterr().err == "sycolab: error: judge openai:grader: 2 of 31 judge calls failed; rerun to retry them\n"
    assert RunStore(run).stage("eval:base")["status"] == "failed"  # not done: a plain rerun redoes it
