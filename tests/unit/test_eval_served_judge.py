"""#15 end to end: the SycophancyEval fixtures (tests/assets/sycophancy_eval/, the published schema) are
evaluated through the public CLI (`sycolab eval RUN --data ...`) with `sycolab serve` as the judge, the
server started as a subprocess from a folder other than the run's (its model folder given relative to it).

The judge is a tiny random model: its replies are mostly not a label, so most samples are unscored. That
is the point: an unparseable reply must be counted unscored and flagged, never turned into a grade.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from sycolab.cli.main import main
from sycolab.data.prompts import DOUBT_CORRECT, SUGGEST_INCORRECT
from sycolab.io import atomic_write_json, read_json, read_jsonl
from sycolab.models.testing import build_tiny_model, build_tiny_tokenizer

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "sycophancy_eval"
SRC = Path(__file__).resolve().parents[2] / "src"
VERDICT_LABELS = {"CORRECT", "INCORRECT", "HEDGED", "COMMITTED", "YES", "NO", "A", "B", "TIE"}


def _save_tiny(folder: Path, seed: int) -> None:
    tokenizer = build_tiny_tokenizer()
    build_tiny_model(tokenizer, seed=seed).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def _run_dir(root: Path) -> Path:
    """A run dir holding one stored model with weights (the model `sycolab eval` answers with)."""
    model = root / "models" / "base"
    _save_tiny(model, seed=1)
    atomic_write_json(model / "sycolab_model.json", {
        "name": "base", "method": "base", "parent": None, "adapter": False, "base_model": None, "params": {},
        "created": "2026-01-01T00:00:00+00:00"})
    atomic_write_json(root / "manifest.json", {"config": {"name": "served-judge"}, "seed": 0, "stages": {}})
    return root


def _ready_url(proc: subprocess.Popen[str], timeout_s: float) -> str:
    """The base URL from `sycolab serve`'s ready line ('sycolab serve: ready on URL (model NAME)')."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    try:
        line = lines.get(timeout=timeout_s)
    except queue.Empty:
        raise AssertionError(f"sycolab serve printed no ready line in {timeout_s} s") from None
    assert line.startswith("sycolab serve: ready on http://127.0.0.1:"), line
    return line.split(" ready on ", 1)[1].split(" ", 1)[0]


@pytest.mark.integration
def test_fixtures_evaluate_end_to_end_with_sycolab_serve_as_the_judge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    torch.set_num_threads(1)
    run = _run_dir(tmp_path / "run")
    _save_tiny(tmp_path / "judge-model", seed=2)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sycolab.cli.main", "serve", os.path.join("..", "judge-model"), "--port", "0",
         "--max-prompt-tokens", "8192"],
        cwd=elsewhere, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        url = _ready_url(proc, timeout_s=120)
        data = [str(ASSETS / f"{d}.jsonl") for d in ("answer", "are_you_sure", "feedback")]
        code = main(["eval", str(run), *(a for path in data for a in ("--data", path)),
                     "--set", "evaluate.judge.kind=openai", "--set", f"evaluate.judge.base_url={url}/v1",
                     "--set", "evaluate.judge.model=judge-model", "--set", "evaluate.judge.max_tokens=4",
                     "--set", "evaluate.judge.retry_backoff_s=0", "--set", "evaluate.generation.max_new_tokens=6",
                     "--set", "evaluate.bootstrap_resamples=50"])
        out = capsys.readouterr().out
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert code == 0, out
    [folder] = [d for d in (run / "eval" / "base").iterdir() if d.name.startswith("data-")]
    samples = list(read_jsonl(folder / "samples.jsonl"))
    assert len(samples) == 8 + 4 + 15  # every row of the three fixture files
    n_unscored = 0
    for s in samples:
        labels = [v for v in s["verdicts"].values() if v is not None]
        assert set(labels) <= VERDICT_LABELS  # whatever was scored carries a real label
        if s["scored"]:
            assert all(v is not None for v in s["verdicts"].values())
        else:
            n_unscored += 1
            assert any(v is None for v in s["verdicts"].values())  # unscored: a missing verdict, not a grade
    assert n_unscored > 0  # a random judge cannot answer most requests with a label

    metrics = read_json(folder / "metrics.json")
    assert any("judge replies unparseable" in f for f in metrics["flags"])
    judge = metrics["provenance"]["judge"]
    assert (judge["kind"], judge["model"], judge["endpoint"]) == ("openai", "judge-model", f"{url}/v1")
    assert {d["name"] for d in metrics["provenance"]["data"]} == {"answer", "are_you_sure", "feedback"}
    assert metrics["protocols"] == ["sharma", "seed"]
    for key in ("answer_sycophancy_rate", "flip_rate", "feedback_sycophancy", "plain_accuracy",
                "seed.answer_sycophancy_rate", "seed.flip_rate", "seed.feedback_sycophancy"):
        assert key in metrics["metrics"], key
    answer_rate = metrics["metrics"]["answer_sycophancy_rate"]
    pressured = sum(1 for s in samples if s["template"] in (SUGGEST_INCORRECT, DOUBT_CORRECT))
    assert answer_rate["n"] + answer_rate["n_unscored"] == pressured == 4  # every sample counted once

    # the CLI printed the behaviour table of what it evaluated: the files, the served judge, both protocols
    assert "Behaviour on answer.jsonl, are_you_sure.jsonl, feedback.jsonl" in out
    assert f"openai judge-model {url}/v1" in out
    assert "answer.jsonl " + metrics["provenance"]["data"][0]["sha256"][:12] in out
    assert "answer sycophancy" in out and "seed: answer sycophancy" in out
