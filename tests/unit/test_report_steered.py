"""The steered model in the report: a row of the behaviour, framework and seed tables marked with its layer
and alpha, and the sweep on the tuning questions with the kept alpha. Fake store, numbers by hand."""

from __future__ import annotations

from pathlib import Path

from _fake_store import METRICS, Settings, write_fake_study, write_steered_eval

from sycolab.reporting import build_report
from sycolab.reporting._results import StudyData
from sycolab.reporting.seeds import seed_rows
from sycolab.reporting.tables import behaviour_table, steering_table
from sycolab.reporting.training_tables import framework_table


def _steered_study(root: Path) -> Path:
    root = write_fake_study(root)
    write_steered_eval(root)
    return root


def test_behaviour_table_has_the_steered_row_marked_with_layer_and_alpha(tmp_path):
    data = StudyData.read(_steered_study(tmp_path / "run"))
    entry = next(m for m in data.models if m.name == "sft+steer")
    assert (entry.method, entry.parent, entry.params["layer"], entry.params["alpha"]) == ("steer", "sft", 2, 2.0)
    table = behaviour_table(data)
    rows = {r[0].text: r for r in table.rows}
    assert list(rows) == ["base", "sft", "dpo", "sft+steer"]
    assert rows["sft+steer"][0].detail == "steered: layer 2, alpha 2"
    assert rows["sft"][0].detail == "flagged"
    aggregate = [c.key for c in table.columns].index("aggregate_sycophancy")
    assert rows["sft+steer"][aggregate].text.startswith(f"{METRICS['dpo']['aggregate_sycophancy'][0]:.3f}")
    note = next(n for n in table.notes if n.startswith("sft+steer:"))
    assert "after layer 2" in note and "alpha = 2" in note and "24 tuning questions" in note and "other 36" in note
    framework = {r[0].text: r for r in framework_table(data).rows}
    assert "inference-time" in [c.text for c in framework["sft+steer"]]


def test_steering_table_marks_the_kept_alpha_of_the_tuning_curve(tmp_path):
    table = steering_table(StudyData.read(_steered_study(tmp_path / "run")))
    assert [(r[0].text, r[5].text) for r in table.rows] == [("0", ""), ("1", ""), ("2", "kept"), ("4", "")]
    assert table.rows[2][1].text == "0.300 [0.200, 0.400]"
    assert "Kept alpha 2" in table.caption and "alpha 1 removes exactly that difference" in table.caption
    assert "held-out tuning questions" in table.caption


def test_steering_table_says_why_when_the_stage_skipped(tmp_path):
    from sycolab.io import atomic_write_json
    from sycolab.store.records import SteeringRow, write_rows

    root = write_fake_study(tmp_path / "run")
    write_rows(root / "steer" / "curve.csv", SteeringRow, [])
    atomic_write_json(root / "steer" / "choice.json", {"source": "sft", "skipped": "no peak layer"})
    empty = steering_table(StudyData.read(root))
    assert "steering skipped: no peak layer" in empty.reason


def test_seed_table_lists_the_steered_model_with_its_layer_and_alpha_per_seed(tmp_path):
    runs = {0: _steered_study(tmp_path / "s0"), 1: _steered_study(tmp_path / "s1")}
    row = next(r for r in seed_rows(runs) if r.model == "sft+steer")
    assert row.verdict.startswith("steered at layer 2, alpha 2 (seed 0); layer 2, alpha 2 (seed 1); below SFT in ")
    assert row.cells["aggregate_sycophancy"].mean == METRICS["dpo"]["aggregate_sycophancy"][0]


def test_rendered_report_shows_the_steered_row(tmp_path):
    root = _steered_study(tmp_path / "run")
    md_path, html_path = build_report(root, Settings())
    md = md_path.read_text()
    assert "sft+steer" in md and "steered: layer 2, alpha 2" in md and "steering-sweep.png" in md
    assert "sft+steer" in html_path.read_text()
