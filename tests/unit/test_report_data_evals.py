"""`sycolab report` and `sycolab eval --data` show each evaluation on other data (eval/<model>/data-*/)
with its provenance and headline metrics of both protocols, read from metrics.json alone."""

from __future__ import annotations

import json

from _fake_store import write_fake_study

from sycolab.reporting import build_document
from sycolab.reporting.data_evals import data_evaluation_table, read_data_evaluations
from sycolab.reporting.document import NoData, Table
from sycolab.store import DataFile, Provenance
from sycolab.store.records import MetricValue, ModelMetrics

PROV = Provenance(model="dpo", stage_key="0123456789abcdef", weights_sha256="f" * 64,
                  judge={"kind": "openai", "model": "grader", "endpoint": "http://127.0.0.1:8001/v1"},
                  generation={"backend": "hf", "top_k": 20},
                  data=[DataFile("answer", "/data/answer.jsonl", "ab" * 32),
                        DataFile("are_you_sure", "/data/are_you_sure.jsonl", "cd" * 32)])


def _metric(value: float, n: int, unscored: int = 0) -> MetricValue:
    return MetricValue(value, value - 0.1, value + 0.1, n, unscored, 40)


def _write_data_eval(root, model: str, tag: str, provenance: Provenance | None) -> None:
    folder = root / "eval" / model / f"data-{tag}"
    folder.mkdir(parents=True)
    metrics = ModelMetrics(model, {"answer_sycophancy_rate": _metric(0.25, 80, 3), "flip_rate": _metric(0.5, 40),
                                   "seed.answer_sycophancy_rate": _metric(0.375, 80)},
                           flags=["judge: 3 of 9 judge replies unparseable"], protocols=["sharma", "seed"],
                           provenance=None if provenance is None else provenance.to_dict())
    (folder / "metrics.json").write_text(json.dumps(metrics.to_dict()))


def test_each_data_evaluation_is_a_row_with_files_judge_and_both_protocols(tmp_path):
    root = write_fake_study(tmp_path / "run")
    _write_data_eval(root, "dpo", "0a0a0a0a", PROV)
    _write_data_eval(root, "base", "1b1b1b1b", None)
    evaluations = read_data_evaluations(root)
    assert [(e.model, e.folder) for e in evaluations] == [("base", "eval/base/data-1b1b1b1b"),
                                                          ("dpo", "eval/dpo/data-0a0a0a0a")]
    table = data_evaluation_table(evaluations)
    assert isinstance(table, Table)
    keys = [c.key for c in table.columns]
    assert keys[:4] == ["model", "data", "judge", "generation"]
    assert {"answer_sycophancy_rate", "flip_rate", "seed.answer_sycophancy_rate"} <= set(keys)
    base, dpo = ({c.key: cell for c, cell in zip(table.columns, row)} for row in table.rows)
    assert dpo["data"].text == "answer.jsonl abababababab; are_you_sure.jsonl cdcdcdcdcdcd"
    assert dpo["data"].detail == "/data/answer.jsonl; /data/are_you_sure.jsonl"
    assert dpo["judge"].text == "openai grader http://127.0.0.1:8001/v1"
    assert dpo["generation"].text == "backend=hf, top_k=20"
    assert dpo["answer_sycophancy_rate"].text.startswith("0.250 [0.150, 0.350]")
    assert "3 unscored" in dpo["answer_sycophancy_rate"].detail
    assert dpo["seed.answer_sycophancy_rate"].text.startswith("0.375")
    assert base["data"].detail == "no provenance recorded"
    assert "dpo (eval/dpo/data-0a0a0a0a): judge: 3 of 9 judge replies unparseable" in table.notes


def test_report_has_the_section_and_says_when_there_is_none(tmp_path):
    root = write_fake_study(tmp_path / "run")
    section = next(s for s in build_document(root, _report_cfg()).sections if s.key == "data_evaluations")
    assert isinstance(section.blocks[0], NoData) and "sycolab eval RUN --data" in section.blocks[0].message
    _write_data_eval(root, "dpo", "0a0a0a0a", PROV)
    section = next(s for s in build_document(root, _report_cfg()).sections if s.key == "data_evaluations")
    assert [r[0].text for r in section.blocks[0].rows] == ["dpo"]


def _report_cfg():
    from sycolab.config.sections import ReportConfig

    return ReportConfig()
