"""Report tables from a fake run store: cell values, row order and the 'no data, because' messages."""

from __future__ import annotations

import pytest
from _fake_store import write_fake_study

from sycolab.errors import DataError
from sycolab.io import atomic_write_json, read_json, write_table
from sycolab.methods.health import RULE_REWARD
from sycolab.reporting._format import layer_ranges, metric_cell
from sycolab.reporting._results import MetricValue, StudyData
from sycolab.reporting.assemble import _training_logs
from sycolab.reporting.document import NoData, Table
from sycolab.reporting.probe_tables import probe_shortcut_table, probing_table
from sycolab.reporting.tables import behaviour_table
from sycolab.reporting.terminal import terminal_summary
from sycolab.reporting.training_tables import framework_table, training_table
from sycolab.store.records import BaselineRow, write_rows


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
    assert (sft["labels"].text, sft["labels"].detail, sft["mean_auroc"].text) == ("5 / 3", "2 hedged excluded", "0.810")
    assert (sft["peak"].text, sft["peak"].detail) == ("L2: 0.930 [0.870, 0.980]", "overlapping: 1-2")
    assert (sft["above_chance"].text, sft["above_chance"].detail) == ("3 of 4", "1-3")
    assert (sft["template"].text, sft["knowledge"].text) == ("0.620 [0.520, 0.720]", "0.550 [0.450, 0.650]")
    assert (sft["transfer_auroc"].text, sft["p_holm"].text, sft["interpretation"].text) == \
        ("0.930 [0.880, 0.970]", "<0.001", "preserved")
    assert (dpo["transfer_auroc"].text, dpo["p_holm"].text, dpo["interpretation"].text) == \
        ("0.710 [0.660, 0.750]", "0.012", "borderline")
    assert dpo["transfer_auroc"].detail == "at L3, overlapping: 2-3, mean 0.680"
    assert (dpo["p_holm"].detail, dpo["agreement"].text) == ("floor 0.002", "0.660")
    assert not [n for n in table.notes if "does not exceed" in n]  # 0.710 beats 0.620, 0.550 and 0.660
    # cosine: the mean over the 4 layers (0.42 + 0.10) / 4, with the value at the source's peak layer 2 beside it
    assert (dpo["cosine"].text, dpo["cosine"].detail) == ("0.130", "L2: 0.420")
    assert [c.label for c in table.columns if c.key == "cosine"] == ["cosine with sft (mean over layers)"]
    # recovery after removing the top direction (k=1), not k=2 (26.3%)
    assert (dpo["recovery"].text, dpo["recovery"].detail) == ("50%", "k=1, L3")
    assert (sft["recovery"].text, sft["recovery"].detail) == ("62%", "k=1, L2")


def test_probing_table_notes_a_transfer_that_a_shortcut_matches(tmp_path):
    root = write_fake_study(tmp_path)
    write_rows(root / "probe" / "baselines.csv", BaselineRow, [
        {"model": "dpo", "baseline": "template", "auroc": 0.75, "ci_low": None, "ci_high": None, "n": None},
        {"model": "dpo", "baseline": "knowledge", "auroc": 0.5, "ci_low": None, "ci_high": None, "n": None},
    ])
    table = probing_table(StudyData.read(root))
    assert "dpo: sft→dpo transfer 0.710 does not exceed the template baseline 0.750" in table.notes
    assert not [n for n in table.notes if "knowledge baseline" in n or "agreement" in n]


def test_probe_shortcut_table_shows_baselines_and_per_template_peaks(study):
    table = probe_shortcut_table(study)
    assert isinstance(table, Table)
    dpo = _rows(table)["dpo"]
    assert dpo["b:template+knowledge"].text == "0.700 [0.600, 0.800]"
    assert "b:agreement with sft" not in dpo  # agreement is a transfer baseline, in the probing table
    # within suggest_incorrect: 0.5 + 0.04 * layer + 0.1 peaks at the last layer 3
    assert (dpo["t:suggest_incorrect"].text, dpo["t:suggest_incorrect"].detail) == ("0.720 [0.400, 0.900]", "peak L3, n=4")


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
    assert table.notes == ["method 'mystery' is not registered in this installation (sycolab.methods.registry)"]


def test_training_table_reads_diagnostics_and_summary(study):
    table = training_table(study, _training_logs(study))
    rows = _rows(table)
    assert list(rows) == ["sft", "dpo"]
    # dpo loss = 0.69 - 0.05 * step, last step 5
    assert [rows["dpo"][k].text for k in ("steps", "loss", "wall_time", "tokens_per_s", "checkpoint")] == \
        ["5", "0.4400", "12.5", "8400", "step 2 by judged.answer_sycophancy_rate = 0.300 (3 evaluations, 2.2 s)"]
    assert rows["sft"]["checkpoint"].text == "checkpoint-5"  # a plain value is shown as it is


def test_training_table_without_diagnostics(tmp_path):
    data = StudyData.read(write_fake_study(tmp_path, training=False))
    result = training_table(data, _training_logs(data))
    assert isinstance(result, NoData)
    assert "no training/*/diagnostics.csv found" in result.reason


def test_malformed_probe_table_names_file_and_column(tmp_path):
    root = write_fake_study(tmp_path)
    write_table(root / "probe" / "own_summary.csv", [{"model": "sft", "kind": "logistic"}])
    with pytest.raises(DataError, match=r"own_summary.csv:1: field 'position': column missing"):
        StudyData.read(root)


def test_metric_cell_marks_intervals_from_few_questions():
    cell = metric_cell(MetricValue(0.5, 0.5, 0.5, 2, 0, n_questions=1))
    assert cell.text == "0.500 [0.500, 0.500] †" and cell.detail == "n=2, only 1 question"
    assert metric_cell(MetricValue(0.5, 0.4, 0.6, 80, 0, n_questions=20)).text == "0.500 [0.400, 0.600]"


def test_behaviour_table_shows_the_chosen_protocols_and_mixed_sources(tmp_path):
    from sycolab.io import atomic_write_json, read_json

    root = write_fake_study(tmp_path)
    path = root / "eval" / "sft" / "metrics.json"
    stored = read_json(path)
    stored["metrics"]["seed.aggregate_sycophancy"] = {"value": None, "ci_low": None, "ci_high": None, "n": 9, "n_unscored": 0,
                                                      "n_questions": None}
    stored["metrics"]["seed.answer_sycophancy_rate"] = {"value": 0.75, "ci_low": 0.5, "ci_high": 1.0, "n": 4,
                                                        "n_unscored": 0, "n_questions": 2}
    stored["protocols"] = ["seed"]
    stored["sources"] = {"answer": "file:/data/sycophancy-eval", "are_you_sure": "tiny world", "feedback": "tiny world"}
    atomic_write_json(path, stored)
    for name in ("base", "dpo"):  # the others show seed only too
        other = root / "eval" / name / "metrics.json"
        atomic_write_json(other, {**read_json(other), "protocols": ["seed"]})
    table = behaviour_table(StudyData.read(root))
    keys = [c.key for c in table.columns]
    assert keys[1:3] == ["seed.aggregate_sycophancy", "seed.answer_sycophancy_rate"] and "plain_accuracy" not in keys
    rows = _rows(table)
    assert rows["sft"]["seed.answer_sycophancy_rate"].text == "0.750 [0.500, 1.000] †"
    assert rows["sft"]["seed.answer_sycophancy_rate"].detail.endswith(", file:/data/sycophancy-eval")
    assert rows["sft"]["seed.feedback_sycophancy"].detail.endswith(", tiny world")
    assert "tiny world" not in rows["base"]["seed.feedback_sycophancy"].detail  # one source: nothing to say
    assert rows["sft"]["seed.aggregate_sycophancy"].text == "—" and rows["base"]["seed.aggregate_sycophancy"].text == "—"
    assert "fewer than 20 base questions" in table.caption and "seed (the reference study's protocol)" in table.caption
    assert any(n.startswith("sft: metrics come from different data sources (answer metrics") and
               "from file:/data/sycophancy-eval" in n and "feedback metrics from tiny world" in n for n in table.notes)


def test_per_template_table_reads_the_breakdown(tmp_path):
    import json

    from _fake_store import write_fake_study

    from sycolab.reporting._results import StudyData
    from sycolab.reporting.document import NoData
    from sycolab.reporting.tables import per_template_table

    root = write_fake_study(tmp_path / "run")
    assert isinstance(per_template_table(StudyData.read(root)), NoData)  # no breakdown stored yet
    path = root / "eval" / "sft" / "metrics.json"
    data = json.loads(path.read_text())
    cell = {"ci_low": 0.5, "ci_high": 0.9, "n": 30, "n_unscored": 0, "n_questions": None}
    data["breakdown"] = {"answer.neutral.accuracy": {"value": 0.7, **cell},
                         "answer.suggest_incorrect.adopted": {"value": 0.6, **cell}}
    path.write_text(json.dumps(data))
    table = per_template_table(StudyData.read(root))
    assert [c.key for c in table.columns] == ["model", "template", "accuracy", "incorrect", "hedged", "adopted"]
    rows = {(r[0].text, r[1].text): [c.text for c in r[2:]] for r in table.rows}
    assert set(rows) == {("sft", "neutral"), ("sft", "suggest_incorrect")}
    assert rows[("sft", "neutral")] == ["0.700 [0.500, 0.900]", "—", "—", "—"]
    assert rows[("sft", "suggest_incorrect")][3] == "0.600 [0.500, 0.900]"


def test_behaviour_and_seed_tables_show_the_rating_shift_beside_feedback_sycophancy(study, tmp_path):
    from sycolab.reporting.seeds import seed_rows, seed_table_text

    table = behaviour_table(study)
    keys = [c.key for c in table.columns]
    assert keys[keys.index("feedback_sycophancy") + 1] == "feedback_rating_shift"
    assert table.columns[keys.index("feedback_rating_shift")].label == "feedback rating shift"
    rows = _rows(table)
    assert rows["sft"]["feedback_rating_shift"].text == "0.900 [0.600, 1.200]"
    assert rows["base"]["feedback_rating_shift"].detail == "n=60"
    assert "feedback rating shift = mean expected rating under approving minus disapproving" in table.caption
    root = write_fake_study(tmp_path / "run", evaluated=["base", "sft"])
    data = read_json(root / "eval" / "sft" / "metrics.json")
    del data["metrics"]["feedback_rating_shift"]  # evaluated before the metric existed
    atomic_write_json(root / "eval" / "sft" / "metrics.json", data)
    assert _rows(behaviour_table(StudyData.read(root)))["sft"]["feedback_rating_shift"].text == "—"
    seeds = {r.model: r for r in seed_rows({0: root, 1: write_fake_study(tmp_path / "run1")})}
    assert seeds["sft"].cells["feedback_rating_shift"].text() == "0.900"  # the only seed that has it
    assert seeds["base"].cells["feedback_rating_shift"].text() == "0.050 [0.050, 0.050]"
    header = seed_table_text({0: root}).splitlines()[1].split()
    assert header[header.index("feedback_sycophancy") + 1] == "feedback_rating_shift"


def test_feedback_template_table_shows_the_expected_rating_beside_the_judged_positivity(tmp_path):
    from sycolab.reporting.assemble import assemble_report
    from sycolab.reporting.tables import feedback_template_table

    root = write_fake_study(tmp_path / "run")
    empty = feedback_template_table(StudyData.read(root))
    assert isinstance(empty, NoData) and "feedback_expected_rating" in empty.reason
    path = root / "eval" / "sft" / "metrics.json"
    data = read_json(path)
    cell = {"n": 12, "n_unscored": 0, "n_questions": 12}
    data["breakdown"] = {
        "feedback_expected_rating.neutral": {"value": 0.25, "ci_low": 0.1, "ci_high": 0.4, **cell},
        "feedback_expected_rating.like": {"value": 1.2, "ci_low": 0.9, "ci_high": 1.5, **cell},
        "feedback_positivity.poems.like": {"value": 0.75, "ci_low": 0.5, "ci_high": 1.0, "n": 4, "n_unscored": 1,
                                           "n_questions": 4},
    }
    atomic_write_json(path, data)
    study = StudyData.read(root)
    table = feedback_template_table(study)
    assert [c.key for c in table.columns] == ["model", "template", "expected_rating", "positivity.arguments",
                                              "positivity.math", "positivity.poems"]
    rows = {(r[0].text, r[1].text): r[2:] for r in table.rows}
    assert list(rows) == [("sft", "neutral"), ("sft", "like")]
    assert [c.text for c in rows[("sft", "neutral")]] == ["0.250 [0.100, 0.400] †", "—", "—", "—"]
    assert [c.text for c in rows[("sft", "like")]] == ["1.200 [0.900, 1.500] †", "—", "—", "0.750 [0.500, 1.000] †"]
    assert rows[("sft", "like")][3].detail == "n=4, 1 unscored, only 4 questions"
    behaviour = next(s for s in assemble_report(study, _report_config()).sections if s.key == "behaviour")
    assert any(isinstance(b, Table) and b.key == "feedback-per-template" for b in behaviour.blocks)


def _report_config():
    from sycolab.config.sections import ReportConfig

    return ReportConfig()


def _with_answer_position(root, answer_peak: float, shares: dict[str, tuple[float, ...]]) -> None:
    """Give the fake store's position tables a `position` column and add answer-position rows: sft's peak AUROC
    `answer_peak` there; patching rows with `shares` per position."""
    from sycolab.io import read_table

    for name in ("own_summary", "transfer_summary", "own_auroc", "transfer", "cosine", "cosine_mean"):
        path = root / "probe" / f"{name}.csv"
        rows = read_table(path)
        answer = [{**r, "position": "answer"} for r in rows]
        if name == "own_summary":
            answer = [{**r, "peak_auroc": answer_peak} if r["model"] == "sft" else r for r in answer]
        write_table(path, [{**r, "position": "last"} for r in rows] + answer)
    write_table(root / "probe" / "patching.csv", [
        {"model": "sft", "position": position, "layer": layer, "n": 32, "gap_before": 0.35,
         "gap_after": round(0.35 * (1 - share), 4), "share_removed": share}
        for position, values in shares.items() for layer, share in enumerate(values)
    ])


def test_probing_tables_are_labelled_by_position(tmp_path):
    root = write_fake_study(tmp_path)
    _with_answer_position(root, 0.97, {"last": (0.0, 0.0, 0.0, 0.0), "answer": (0.0, 0.1, 0.8, 1.0)})
    data = StudyData.read(root)
    assert data.probe.positions() == ["last", "answer"]
    last, answer = probing_table(data), probing_table(data, "answer")
    assert (last.key, answer.key) == ("probing", "probing-answer")
    assert last.caption.startswith("Position: last. Logistic probes at the last prompt token")
    assert answer.caption.startswith("Position: answer. Logistic probes at the answer position")
    assert _rows(last)["sft"]["peak"].text == "L2: 0.930 [0.870, 0.980]"
    assert _rows(answer)["sft"]["peak"].text.startswith("L2: 0.970")
    assert _rows(answer)["dpo"]["transfer_auroc"].text == "0.710 [0.660, 0.750]"  # one row per position, not two
    assert probe_shortcut_table(data, "answer").key == "probe-shortcuts-answer"


def test_patching_table_names_the_effect_or_says_there_is_none(tmp_path):
    from sycolab.reporting.probe_tables import patching_table

    root = write_fake_study(tmp_path)
    _with_answer_position(root, 0.9, {"last": (0.0, 0.01, -0.02, 0.0), "answer": (0.0, 0.1, 0.8, 1.0)})
    table = patching_table(StudyData.read(root))
    rows = {(r[0].text, r[1].text): r for r in table.rows}
    assert (rows[("sft", "answer")][3].text, rows[("sft", "answer")][3].detail) == ("1.000", "L3")
    assert rows[("sft", "answer")][4].text == "effect at L3"
    assert rows[("sft", "last")][4].text == "no effect: |share| < 0.05 at every layer"
    assert not table.notes

    from sycolab.reporting.probe_tables import _patching_verdict

    assert _patching_verdict(8.667, "L3") == "effect at L3: the patch reverses the pull (toward the correct answer)"
    assert _patching_verdict(-0.3, "L1") == "effect at L1: the patch increases the pull toward the suggestion"
    assert _patching_verdict(0.04, "L1") == "no effect: |share| < 0.05 at every layer"

    root = write_fake_study(tmp_path / "none")
    _with_answer_position(root, 0.9, {"last": (0.0, 0.01, -0.02, 0.0), "answer": (0.0, 0.03, 0.04, -0.01)})
    table = patching_table(StudyData.read(root))
    assert table.notes == ["Patching found no effect: at no layer and position did it remove 0.05 of the gap "
                           "toward the suggestion or more, for any model."]


def test_training_table_shows_each_recovery_methods_health_and_flags(tmp_path):
    """dpo: margins 0.5 * step (fake store), held-out accuracy from summary.json; simpo: margin never > 0;
    grpo on the reward model: its score rises 0.1 -> 0.9 while the rule reward falls 0.5 -> 0.3 (one row per
    quarter); plain accuracy 0.74 (grpo) - 0.75 (its parent sft) = -0.01."""
    root = write_fake_study(tmp_path, models=("base", "sft", "dpo", "simpo", "grpo"))
    summary = read_json(root / "training" / "dpo" / "summary.json")
    atomic_write_json(root / "training" / "dpo" / "summary.json", {
        **summary, "held_out_preference": {"pairs": 40, "eval_rewards/accuracies": 0.875, "eval_rewards/margins": 1.5}})
    write_table(root / "training" / "simpo" / "diagnostics.csv", [
        {"step": s, "loss": 0.7, "rewards/margins": m, "rewards/accuracies": a}
        for s, m, a in ((1, -0.4, 0.375), (2, -0.1, 0.45), (3, -0.02, 0.55))])
    write_table(root / "training" / "grpo" / "diagnostics.csv", [
        {"step": s, "reward": r, "kl": k, "rewards/reward_model/mean": r, RULE_REWARD: rule}
        for s, r, k, rule in ((5, 0.1, 0.0, 0.5), (10, 0.3, 0.02, 0.45), (15, 0.6, 0.03, 0.4), (20, 0.9, 0.025, 0.3))])
    atomic_write_json(root / "training" / "grpo" / "summary.json", {"reward": {"kind": "reward_model"}})
    data = StudyData.read(root)
    table = training_table(data, _training_logs(data))
    rows = _rows(table)
    cells = {name: [rows[name][k].text for k in ("train_acc", "held_out_acc", "trend", "flags")] for name in rows}
    assert cells == {
        "sft": ["—", "—", "—", "—"],
        "dpo": ["—", "0.875", "2.500 (ever > 0)", "ok"],
        "simpo": ["0.550", "—", "-0.020 (never > 0)", "under-trained"],
        "grpo": ["—", "—", "reward 0.100 → 0.900, max KL 0.0300", "reward hacking"],
    }
    assert rows["simpo"]["held_out_acc"].detail == "not measured"
    assert rows["grpo"]["trend"].detail == "RM score 0.100 → 0.900; rule 0.500 → 0.300; plain accuracy -0.010"
    assert "'under-trained' = a preference margin never > 0" in table.caption


def test_a_run_whose_slice_accuracy_collapses_is_flagged_in_the_training_and_seed_tables(tmp_path):
    """dpo's judged plain accuracy on the selection slice: 0.70, 0.75, 0.36 (< 0.5 x 0.75), 0.70: collapsed at
    step 6, though a later checkpoint recovers; simpo 0.70 -> 0.35 is exactly half, not below it."""
    from sycolab.reporting.seeds import seed_table_text

    root = write_fake_study(tmp_path / "seed-0", models=("base", "sft", "dpo", "simpo"))
    write_table(root / "training" / "dpo" / "checkpoints.csv", [
        {"step": s, "judged.plain_accuracy": a, "judged.answer_sycophancy_rate": 0.3}
        for s, a in ((2, 0.70), (4, 0.75), (6, 0.36), (8, 0.70))])
    write_table(root / "training" / "simpo" / "checkpoints.csv", [
        {"step": s, "judged.plain_accuracy": a, "judged.answer_sycophancy_rate": 0.3} for s, a in ((2, 0.70), (4, 0.35))])
    data = StudyData.read(root)
    rows = _rows(training_table(data, _training_logs(data)))
    assert rows["dpo"]["flags"].text == "collapsed at step 6"
    assert rows["simpo"]["flags"].text == "ok"
    dpo_row = next(line for line in seed_table_text({0: root}).splitlines() if line.startswith("dpo "))
    assert "; collapsed in 1 of 1 seeds" in dpo_row


def test_terminal_summary_prints_the_training_health_with_its_rules(tmp_path):
    text = terminal_summary(write_fake_study(tmp_path))
    training = text[text.index("Training\n"):text.index("Probing\n")]
    assert "train pref. acc." in training and "flags" in training
    assert [line.split()[-1] for line in training.splitlines() if line.startswith(("sft ", "dpo "))] == ["—", "ok"]
    assert "under-trained = preference margin never > 0" in training
