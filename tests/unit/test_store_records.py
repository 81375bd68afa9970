"""Each stored file has one record type (`sycolab.store.records`): the writer's format is pinned, what is
written reads back equal, and a file written by another version (a field missing, one too many, a value of
the wrong type) stops the reader with a DataError naming the file, the line and the field (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _fake_store import write_fake_study

from sycolab.cli.main import main
from sycolab.errors import DataError
from sycolab.io import atomic_write_json, read_json, write_jsonl, write_table
from sycolab.store.records import (
    PROBE_TABLES,
    LabelRow,
    MetricValue,
    ModelMetrics,
    OwnAurocRow,
    OwnSummaryRow,
    SteeringRow,
    columns,
    read_rows,
    write_rows,
)
from sycolab.store.records.samples import SampleRecord
from sycolab.store.records.training import TrainingLog

#: The header of each probe table as docs/architecture.md ("Probing tables") documents it and the
#: probing stage has always written it: changing a record type changes the stored format.
DOCUMENTED_COLUMNS = {
    "labels": "model n n_sycophantic n_honest n_hedged_excluded n_refused_excluded fitted reason n_unscored",
    "own_auroc": "model position kind layer auroc ci_low ci_high null_p95 p_value",
    "own_summary": "model position kind mean_auroc peak_layer peak_auroc peak_ci_low peak_ci_high peak_set "
                   "layers_above_chance noise_floor dropped_layers",
    "own_by_template": "model position layer template n auroc ci_low ci_high null_p95",
    "baselines": "model baseline auroc ci_low ci_high n",
    "transfer": "source target position layer auroc ci_low ci_high p_value p_layers p_holm p_floor",
    "transfer_summary": "source target position peak_layer peak_auroc peak_ci_low peak_ci_high peak_set mean_auroc "
                        "p_holm p_floor agreement_auroc interpretation",
    "cosine": "position layer model_a model_b cosine",
    "cosine_mean": "position model_a model_b mean_cosine n_layers",
    "ablation": "model position layer k original_auroc ablated_auroc recovery_pct",
    "patching": "model position layer gap_before gap_after share_removed n",
    "intervention": "model layer mode alpha answer_sycophancy_rate_before answer_sycophancy_rate_after change",
}


def test_probe_table_columns_are_the_documented_format():
    assert {name: " ".join(columns(record)) for name, record in PROBE_TABLES.items()} == DOCUMENTED_COLUMNS
    assert columns(SteeringRow) == [
        "model", "layer", "alpha", "answer_sycophancy_rate", "answer_sycophancy_rate_ci_low",
        "answer_sycophancy_rate_ci_high", "plain_accuracy", "plain_accuracy_ci_low", "plain_accuracy_ci_high",
        "hedged_rate", "n_questions", "kept"]


def test_a_table_reads_back_as_written(tmp_path: Path):
    row = {"model": "sft", "position": "-2", "kind": "logistic", "mean_auroc": 0.75, "peak_layer": None,
           "peak_auroc": 0.9, "peak_ci_low": 0.8, "peak_ci_high": 1.0, "peak_set": [1, 3],
           "layers_above_chance": [], "noise_floor": None, "dropped_layers": [0]}
    path = write_rows(tmp_path / "own_summary.csv", OwnSummaryRow, [row])
    assert path.read_text().splitlines()[1] == "sft,-2,logistic,0.75,,0.9,0.8,1.0,\"[1, 3]\",[],,[0]"
    assert read_rows(path, OwnSummaryRow) == [OwnSummaryRow(**row)]


def test_the_writer_cannot_write_a_column_its_record_lacks(tmp_path: Path):
    with pytest.raises(TypeError, match="p_value_adjusted"):
        write_rows(tmp_path / "own_auroc.csv", OwnAurocRow, [
            {"model": "sft", "position": "last", "kind": "logistic", "layer": 0, "auroc": 0.5, "ci_low": None,
             "ci_high": None, "null_p95": None, "p_value": None, "p_value_adjusted": 0.1}])


def test_a_table_from_an_older_version_names_the_missing_column(tmp_path: Path):
    old = tmp_path / "probe" / "labels.csv"  # before n_unscored existed
    old.parent.mkdir()
    old.write_text("model,n,n_sycophantic,n_honest,n_hedged_excluded,n_refused_excluded,fitted,reason\n"
                   "sft,8,5,3,0,0,True,\n")
    with pytest.raises(DataError, match=r"labels.csv:1: field 'n_unscored': column missing"):
        read_rows(old, LabelRow)


def test_a_table_with_an_unexpected_column_or_a_bad_cell_names_it(tmp_path: Path):
    header = ",".join(columns(OwnAurocRow))
    extra = tmp_path / "extra.csv"
    extra.write_text(header + ",p_holm\nsft,last,logistic,0,0.5,,,,,0.1\n")
    with pytest.raises(DataError, match=r"extra.csv:1: field 'p_holm': unexpected column"):
        read_rows(extra, OwnAurocRow)
    bad = tmp_path / "bad.csv"
    bad.write_text(header + "\nsft,last,logistic,0,0.5,,,,\nsft,last,logistic,two,0.5,,,,\n")
    with pytest.raises(DataError, match=r"bad.csv:3: field 'layer': cannot read 'two' as int"):
        read_rows(bad, OwnAurocRow)
    empty = tmp_path / "empty.csv"
    empty.write_text(header + "\nsft,last,logistic,,0.5,,,,\n")
    with pytest.raises(DataError, match=r"empty.csv:2: field 'layer': empty cell \(expected int\)"):
        read_rows(empty, OwnAurocRow)


def _metrics() -> ModelMetrics:
    return ModelMetrics("sft", {"plain_accuracy": MetricValue(0.75, 0.6, 0.9, 30, 1, 20)},
                        proxy={"gap": 0.25, "n": 50, "source": "tiny world", "logit_gap": None})


def test_metrics_json_reads_back_as_written(tmp_path: Path):
    path = atomic_write_json(tmp_path / "metrics.json", _metrics().to_dict())
    assert ModelMetrics.read(path) == _metrics()
    assert ModelMetrics.read(path).proxy_values == {"gap": 0.25, "n": 50.0}


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.pop("breakdown"), r"metrics.json: field 'breakdown': missing"),
    (lambda d: d.update(version=1), r"metrics.json: field 'version': unexpected"),
    (lambda d: d["metrics"]["plain_accuracy"].pop("n_questions"),
     r"metrics.json: field 'metrics.plain_accuracy.n_questions': missing"),
    (lambda d: d["metrics"]["plain_accuracy"].update(n="30"),
     r"metrics.json: field 'metrics.plain_accuracy.n': expected int, got str '30'"),
    (lambda d: d.update(flags="none"), r"metrics.json: field 'flags': expected list\[str\], got str 'none'"),
])
def test_metrics_json_from_another_version_names_the_field(tmp_path: Path, change, message):
    data = _metrics().to_dict()
    change(data)
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=message):
        ModelMetrics.read(path)


def test_a_samples_line_from_another_version_names_line_and_field(tmp_path: Path):
    from sycolab.reporting.samples import select_samples

    good = SampleRecord("s1", "answer", "neutral", "q0", None, [{"role": "user", "content": "Q?"}], "A.",
                        {"correct": "CORRECT"}, True, correct=True, hedged=False)
    path = write_jsonl(tmp_path / "samples.jsonl", [good.to_dict(), {**good.to_dict(), "scored": "yes"}])
    with pytest.raises(DataError, match=r"samples.jsonl:2: field 'scored': expected bool, got str 'yes'"):
        select_samples(path, "sft", cap=10)
    assert SampleRecord.from_dict(json.loads(path.read_text().splitlines()[0])) == good


def test_diagnostics_without_a_step_column_names_it(tmp_path: Path):
    write_table(tmp_path / "diagnostics.csv", [{"loss": 0.5, "wall_time_s": 1.0}])
    with pytest.raises(DataError, match=r"diagnostics.csv:1: field 'step': column missing"):
        TrainingLog.read(tmp_path, "sft")
    write_table(tmp_path / "diagnostics.csv", [{"step": 1, "loss": 0.5, "note": "x"}, {"step": 2, "loss": ""}])
    log = TrainingLog.read(tmp_path, "sft")
    assert log is not None and log.columns == {"step": [1.0, 2.0], "loss": [0.5, None]} and log.summary == {}


def test_report_on_a_store_from_another_version_is_one_line_exit_2(tmp_path: Path, capsys):
    root = write_fake_study(tmp_path / "run")
    path = root / "eval" / "dpo" / "metrics.json"
    stored = read_json(path)
    del stored["sources"]
    atomic_write_json(path, stored)
    before = sorted(p.name for p in root.rglob("*"))
    assert main(["report", str(root)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "eval/dpo/metrics.json: field 'sources': missing" in err[0], err
    assert sorted(p.name for p in root.rglob("*")) == before  # no report written


def test_a_model_card_reads_back_and_names_a_bad_field(tmp_path: Path):
    from sycolab.store import RunStore, write_model_record
    from sycolab.store.records.models import MODEL_RECORD, ModelRecord

    folder = tmp_path / "models" / "sft"
    write_model_record(folder, "sft", "sft", "base", {"lr": 1e-4}, adapter=True, base_model="../base",
                       stage_key="k", weights_sha256="f" * 64)
    record = RunStore(tmp_path).model("sft")
    assert (record.parent, record.adapter, record.params, record.base_model) == ("base", True, {"lr": 1e-4}, "../base")
    card = read_json(folder / MODEL_RECORD)
    assert sorted(card) == sorted(["name", "method", "parent", "adapter", "base_model", "params", "created",
                                   "stage_key", "weights_sha256"])
    atomic_write_json(folder / MODEL_RECORD, {**card, "adapter": "yes"})
    with pytest.raises(DataError, match=r"sycolab_model.json: field 'adapter': expected bool, got str 'yes'"):
        ModelRecord.read(folder)
    del card["created"]
    atomic_write_json(folder / MODEL_RECORD, card)
    with pytest.raises(DataError, match=r"sycolab_model.json: field 'created': missing"):
        RunStore(tmp_path).list_models()


def test_training_tables_are_written_with_the_step_the_reader_needs(tmp_path):
    from sycolab.store.records.training import TrainingLog, write_training_table

    folder = tmp_path / "training" / "dpo"
    folder.mkdir(parents=True)
    write_training_table(folder / "diagnostics.csv", [{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.25}])
    log = TrainingLog.read(folder, "dpo")
    assert log is not None and log.columns == {"step": [1.0, 2.0], "loss": [0.5, 0.25]}
    with pytest.raises(ValueError, match="rows \\[1\\] have no 'step'"):
        write_training_table(folder / "checkpoints.csv", [{"step": 1}, {"loss": 0.1}])
    assert not (folder / "checkpoints.csv").exists()


def test_the_reports_probe_data_types_each_table_as_probe_tables_does():
    import dataclasses
    import typing

    from sycolab.reporting._probe_data import ProbeData
    from sycolab.reporting._store_reader import TableFile

    hints = typing.get_type_hints(ProbeData)
    read = {f.name: typing.get_args(hints[f.name])[0] for f in dataclasses.fields(ProbeData) if f.name in PROBE_TABLES}
    assert read == {name: PROBE_TABLES[name] for name in read}
    assert set(PROBE_TABLES) - set(read) == {"intervention"}  # the report does not read the intervention table
    assert all(typing.get_origin(hints[name]) is TableFile for name in read)
