"""Changing a data file's content re-runs exactly the stages that read it; a moved run dir still evaluates,
reports and serves from another working directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

NO_PROBE = ("--set", "probe.enabled=false")


def _run(args: list[str], cwd) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-m", "sycolab.cli.main", *args], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def _ran(stdout: str) -> set[str]:
    return {line.split("]")[0].strip(" [") for line in stdout.splitlines() if "] done in" in line}


def _cached_generations(run_dir) -> int:
    import sqlite3

    with sqlite3.connect(run_dir / "cache" / "generations.sqlite") as db:
        return db.execute("SELECT COUNT(*) FROM generations").fetchone()[0]


def _drop_last_question(path) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    last = rows[-1]["base"]["question"]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows if r["base"]["question"] != last))


def test_changed_answer_file_reruns_only_evaluation_and_report(micro_config_factory, tmp_path, monkeypatch):
    cfg = micro_config_factory()
    first = _run(["run", str(cfg), "--run-dir", "run", *NO_PROBE], cwd=tmp_path)
    assert {"world", "base", "train:sft", "train:dpo", "eval:base", "report"} <= _ran(first)

    answer = tmp_path / "answer.jsonl"
    shutil.copy(tmp_path / "run" / "world" / "eval" / "answer.jsonl", answer)
    _drop_last_question(answer)  # another file, other content
    expected = {"eval:base", "eval:sft", "eval:dpo", "report"}
    second = _run(["run", str(cfg), "--run-dir", "run", *NO_PROBE, "--set", f"data.answer={answer}"], cwd=tmp_path)
    assert _ran(second) == expected
    assert "[train:sft] skipped" in second and "[base] skipped" in second

    _drop_last_question(answer)  # same path, edited in place
    status = _run(["status", "run"], cwd=tmp_path)
    stale = {line.split()[0]: line for line in status.splitlines() if " stale " in line}
    assert set(stale) == expected
    assert f"data file {answer} changed" in stale["eval:sft"]
    generations = _cached_generations(tmp_path / "run")
    third = _run(["run", str(cfg), "--run-dir", "run", *NO_PROBE, "--set", f"data.answer={answer}"], cwd=tmp_path)
    assert _ran(third) == expected
    # every reply came from the generation cache (the logit proxy, whose neutral companions come from the
    # answer file, is recomputed: that may load the model)
    assert _cached_generations(tmp_path / "run") == generations

    moved = tmp_path / "moved" / "copy"
    shutil.copytree(tmp_path / "run", moved)
    shutil.rmtree(tmp_path / "run")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert " stale " not in _run(["status", str(moved)], cwd=elsewhere)
    (moved / "cache" / "generations.sqlite").unlink()  # so that evaluating must load the moved models
    assert "[eval:sft] done" in _run(["eval", str(moved), "--model", "sft", "--force"], cwd=elsewhere)
    assert json.loads((moved / "manifest.json").read_text())["stages"]["eval:sft"]["info"]["model_loaded"] is True
    _run(["report", str(moved)], cwd=elsewhere)
    assert "Provenance" in (moved / "report" / "report.md").read_text()
    metrics = json.loads((moved / "eval" / "sft" / "metrics.json").read_text())
    assert {d["name"] for d in metrics["provenance"]["data"]} >= {"answer", "are_you_sure", "feedback"}
    monkeypatch.chdir(elsewhere)  # serve a moved model from a folder that is not the study's
    import httpx

    from sycolab.serve import start_server

    with start_server(moved / "models" / "sft", device="cpu") as running:
        reply = httpx.post(f"{running.url}/chat/completions", timeout=60, json={
            "model": running.model_name, "max_tokens": 4,
            "messages": [{"role": "user", "content": "what is the colour of zorb ?"}]})
    assert reply.status_code == 200, reply.text
    assert isinstance(reply.json()["choices"][0]["message"]["content"], str)
