"""tools/checkpoint_choices.py: the judge's kept step beside the step the proxy ranks best, per model."""

from __future__ import annotations

from pathlib import Path

from tools.checkpoint_choices import best_step, choices, main

from sycolab.io import atomic_write_json, write_table


def _model(run: Path, name: str, rows: list[dict], select_by: str, best: int) -> None:
    folder = run / "training" / name
    write_table(folder / "checkpoints.csv", rows)
    atomic_write_json(folder / "summary.json", {"checkpoint": {"select_by": select_by, "best_step": best}})


def test_ties_go_to_the_first_step_and_missing_values_never_win():
    rows = [{"step": 20, "p": None}, {"step": 40, "p": 0.3}, {"step": 60, "p": 0.3}, {"step": 80, "p": 0.5}]
    assert best_step(rows, "p") == 40
    assert best_step([{"step": 20, "p": None}], "p") is None


def test_the_proxy_choice_is_counted_per_seed_and_model(tmp_path: Path, capsys):
    curve = [{"step": 20, "judged.answer_sycophancy_rate": 0.4, "proxy.proxy_sycophancy": 0.1},
             {"step": 40, "judged.answer_sycophancy_rate": 0.2, "proxy.proxy_sycophancy": 0.3}]
    _model(tmp_path / "seed-0", "dpo", curve, "judged", 40)       # judge 40, proxy 20: differs
    _model(tmp_path / "seed-1", "dpo", curve[1:], "judged", 40)   # one evaluation: the same step
    _model(tmp_path / "seed-1", "sft", curve, "last", 40)          # not chosen by the judge: left out
    assert choices(tmp_path) == [("seed-0", "dpo", 40, 20), ("seed-1", "dpo", 40, 40)]
    assert main([str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 of 2 differ"
