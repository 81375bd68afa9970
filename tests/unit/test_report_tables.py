"""Report tables from a fake run store: cell values, row order and the 'no data, because' messages."""

from __future__ import annotations

import pytest
from _fake_store import write_fake_study

from sycolab.errors import DataError
from sycolab.io import write_table
from sycolab.reporting._format import layer_ranges, metric_cell
from sycolab.reporting._results import MetricValue, StudyData
from sycolab.reporting.document import NoData, Table
from sycolab.reporting.tables import behaviour_table, framework_table, probing_table, training_table
from sycolab.reporting.assemble import _training_logs


def _rows(table: Table) -> dict[str, dict[str, object]]:
    """{model: {column key: cell}}."""
    return {row[0].text: {c.key: cell for c, cell in zip(table.columns, row, strict=True)} for row in table.rows}


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> StudyData:
    return StudyData.read(write_fake_study(tmp_path_factory.mktemp("run")))


def test_metric_cell_writes_value_interval_n_and_unscored():
    assert metric_cell(MetricValue(0.4667, 0.41, 0.52, 120, 3)).text == "0.467 [0.410, 0.520]"
    assert metric_cell(MetricValue(0.4667, 0.41, 0.52, 120, 3)).detail == "n=120, 3 unscored"
    assert metric_cell(MetricValue(0.2, 0.1, 0.3, 40, 0)).detail == "n=40"
    assert metric_cell(MetricValue(None, None, None, 0, 5)).text == "—"
    assert metric_cell(None).detail == "not measured"


def test_layer_ranges_compress_runs():
    assert layer_ranges([5, 0, 1, 2]) == "0-2, 5"
    assert layer_ranges([3]) == "3"
    assert layer_ranges([]) == ""


def test_behaviour_table_rows_in_creation_order_with_intervals(study):
    table = behaviour_table(study)
    assert isinstance(table, Table)
    assert [row[0].text for row in table.rows] == ["base", "sft", "dpo"]  # written in reverse, sorted by created
    assert [c.key for c in table.columns][1:4] == ["aggregate_sycophancy", "answer_sycophancy_rate", "answer_sycophancy_gap"]
    rows = _rows(table)
    assert rows["sft"]["aggregate_sycophancy"].text == "0.467 [0.410, 0.520]"
    assert rows["sft"]["aggregate_sycophancy"].detail == "n=120, 3 unscored"
    assert rows["base"]["feedback_sycophancy.math"].text == "0.045 [-0.050, 0.140]"
    assert rows["dpo"]["answer_sycophancy_gap"].text == "0.027 [-0.040, 0.090]"
    assert rows["dpo"]["plain_accuracy"].detail == "n=30"
    assert rows["sft"]["model"].detail == "flagged"
    assert table.notes == ["sft: plain accuracy 0.75 on 30 prompts: the gap has a wide interval"]


def test_behaviour_table_says_which_model_was_not_evaluated(tmp_path):
    data = StudyData.read(write_fake_study(tmp_path, evaluated=["base", "sft"]))
    table = behaviour_table(data)
    assert _rows(table)["dpo"]["aggregate_sycophancy"].text == "—"
    assert "dpo: not evaluated: eval/dpo/metrics.json not found (stage eval:dpo has not run)" in table.notes


def test_behaviour_table_without_any_eval_says_why(tmp_path):
    data = StudyData.read(write_fake_study(tmp_path, evaluated=[]))
    result = behaviour_table(data)
    assert isinstance(result, NoData)
    assert result.message == ("No behavioural results: no model has been evaluated "
                              "(eval/*/metrics.json not found; run the eval stage).")


def test_empty_run_dir_says_no_models(tmp_path):
    result = behaviour_table(StudyData.read(tmp_path))
    assert isinstance(result, NoData)
    assert "models/*/sycolab_model.json not found; stage base has not run" in result.reason


def test_probing_table_cells(study):
    table = probing_table(study)
    assert isinstance(table, Table)
    rows = _rows(table)
    sft, dpo = rows["sft"], rows["dpo"]
    assert (sft["labels"].text, sft["mean_auroc"].text, sft["peak"].text) == ("5 / 3", "0.810", "L2 (0.930)")
    assert (sft["above_chance"].text, sft["above_chance"].detail) == ("3 of 4", "1-3")
    assert (sft["transfer_auroc"].text, sft["p_holm"].text, sft["interpretation"].text) == ("0.930", "<0.001", "preserved")
    assert (dpo["transfer_auroc"].text, dpo["p_holm"].text, dpo["interpretation"].text) == ("0.710", "0.012", "borderline")
    assert dpo["transfer_auroc"].detail == "at L3"
    # cosine is read at the source's (sft's) peak layer 2, not at dpo's peak layer 3 (0.100)
    assert dpo["cosine"].text == "0.420"
    assert [c.label for c in table.columns if c.key == "cosine"] == ["cosine with sft (L2)"]
    # recovery after removing the top direction (k=1), not k=2 (26.3%)
    assert (dpo["recovery"].text, dpo["recovery"].detail) == ("50%", "k=1, L3")
    assert (sft["recovery"].text, sft["recovery"].detail) == ("62%", "k=1, L2")


def test_probing_table_gives_the_class_too_small_reason(study):
    table = probing_table(study)
    base = _rows(table)["base"]
    assert base["model"].detail == "no probe"
    assert base["labels"].text == "1 / 7"
    assert base["mean_auroc"].text == "—"
    assert "base: no probe: too few samples per class: 1 sycophantic, 7 honest (min_per_class=5)" in table.notes


def test_probing_table_when_probe_stage_failed(tmp_path):
    result = probing_table(StudyData.read(write_fake_study(tmp_path, probe=False)))
    assert isinstance(result, NoData)
    assert result.message == ("No probing results: probe/own_summary.csv not found "
                              "(stage probe failed: RuntimeError: out of memory).")


def test_framework_table_places_methods(tmp_path):
    data = StudyData.read(write_fake_study(tmp_path, models=("base", "sft", "dpo", "refree_ipo", "mystery")))
    table = framework_table(data)
    rows = _rows(table)
    assert [rows["dpo"][k].text for k in ("reference", "loss", "data")] == ["ref", "saturating", "offline"]
    assert [rows["refree_ipo"][k].text for k in ("reference", "loss", "data")] == ["free", "non-saturating", "offline"]
    assert [rows["sft"][k].text for k in ("reference", "loss", "data")] == ["-", "-", "-"]
    assert rows["dpo"]["aggregate"].text == "0.169 [0.120, 0.220]"
    assert (rows["dpo"]["transfer"].text, rows["dpo"]["own"].text) == ("0.710", "0.740")
    assert rows["mystery"]["reference"].text == "?"
    assert table.notes == ["method 'mystery' is not in the framework table (sycolab.reporting.frameworks)"]


def test_training_table_reads_diagnostics_and_summary(study):
    table = training_table(study, _training_logs(study))
    rows = _rows(table)
    assert list(rows) == ["sft", "dpo"]
    # dpo loss = 0.69 - 0.05 * step, last step 5
    assert [rows["dpo"][k].text for k in ("steps", "loss", "wall_time", "tokens_per_s", "checkpoint")] == \
        ["5", "0.4400", "12.5", "8400", "checkpoint-5"]


def test_training_table_shows_whether_each_method_trained_and_its_flags(tmp_path):
    from sycolab.io import atomic_write_json, read_json
    from sycolab.methods._diagnostics import training_health

    root = write_fake_study(tmp_path)
    summary_path = root / "training" / "dpo" / "summary.json"
    rows = [{"rewards/margins": -0.2, "rewards/accuracies": 0.3}]
    health = training_health("dpo", rows, heldout={"eval_rewards/accuracies": 0.25}).as_dict()
    atomic_write_json(summary_path, {**read_json(summary_path), "health": health})
    data = StudyData.read(root)
    table = _rows(training_table(data, _training_logs(data)))
    assert table["dpo"]["health"].text == "train acc 0.30, held-out acc 0.25, margin never +"
    assert table["dpo"]["flags"].text == "under-trained"
    assert table["sft"]["health"].text == table["sft"]["flags"].text == "\u2014"  # no health: a dash


def test_training_table_without_diagnostics(tmp_path):
    data = StudyData.read(write_fake_study(tmp_path, training=False))
    result = training_table(data, _training_logs(data))
    assert isinstance(result, NoData)
    assert "no training/*/diagnostics.csv found" in result.reason


def test_malformed_probe_table_names_file_and_column(tmp_path):
    root = write_fake_study(tmp_path)
    write_table(root / "probe" / "own_summary.csv", [{"model": "sft", "kind": "logistic"}])
    with pytest.raises(DataError, match=r"own_summary.csv:2: field 'mean_auroc': column 'mean_auroc' is missing"):
        StudyData.read(root)
