"""The command line: user mistakes give one line naming the place and exit code 2, never a traceback."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sycolab.cli.main import main


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_unknown_config_key(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("name: x\nevaluate:\n  judgee: {kind: rule}\n")
    code, _, err = run_cli(capsys, "run", str(cfg), "--run-dir", str(tmp_path / "run"))
    assert_user_error(code, err, str(cfg), "line 3", "evaluate.judgee", "unknown key")
    assert not (tmp_path / "run").exists()


def test_wrong_value_type(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("recover:\n  dpo:\n    beta: high\n")
    code, _, err = run_cli(capsys, "run", str(cfg), "--run-dir", str(tmp_path / "run"))
    assert_user_error(code, err, "recover.dpo.beta", "'high'")


def test_bad_override(tmp_path, capsys):
    code, _, err = run_cli(capsys, "run", "configs/tiny.yaml", "--set", "recover.dpo.beta=-1", "--run-dir", str(tmp_path))
    assert_user_error(code, err, "recover.dpo.beta")


def test_missing_config_file(tmp_path, capsys):
    code, _, err = run_cli(capsys, "run", str(tmp_path / "nope.yaml"))
    assert_user_error(code, err, "nope.yaml", "file not found")


def test_malformed_jsonl_line_fails_before_any_stage(tmp_path, capsys):
    bad = tmp_path / "answer.jsonl"
    good = ('{"prompt": [{"type": "human", "content": "q"}], "base": {"question": "q", "correct_answer": "a", '
            '"incorrect_answer": "b"}, "metadata": {"prompt_template": "{question}"}}\n')
    bad.write_text(good +
                   '{"prompt": [{"type": "human", "content": "q"}], "base": \n')
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data:\n  answer: {bad}\n")
    code, _, err = run_cli(capsys, "run", str(cfg), "--run-dir", str(tmp_path / "run"))
    assert_user_error(code, err, f"{bad}:2")
    assert not (tmp_path / "run" / "world").exists()


def test_missing_data_file(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data:\n  preference: {tmp_path / 'pairs.jsonl'}\n")
    code, _, err = run_cli(capsys, "run", str(cfg), "--run-dir", str(tmp_path / "run"))
    assert_user_error(code, err, "data.preference", "pairs.jsonl", "not found")


def test_unknown_command_and_not_a_run_dir(tmp_path, capsys):
    code, _, err = run_cli(capsys, "frobnicate")
    assert_user_error(code, err, "frobnicate")
    code, _, err = run_cli(capsys, "status", str(tmp_path))
    assert_user_error(code, err, str(tmp_path), "not a sycolab run dir")


def _tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def test_world_command_is_deterministic_per_seed(tmp_path, capsys):
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        code, out, _ = run_cli(capsys, "world", "--seed", seed, "--out", str(tmp_path / name))
        assert code == 0 and "written to" in out
    assert _tree_hash(tmp_path / "a") == _tree_hash(tmp_path / "b")
    assert _tree_hash(tmp_path / "a") != _tree_hash(tmp_path / "c")
    assert (tmp_path / "a" / "eval" / "answer.jsonl").stat().st_size > 0
