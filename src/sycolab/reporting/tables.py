"""The report's behaviour tables, built from eval/*/metrics.json and the steer stage: the headline metrics
per model, the per-template breakdowns (answer, feedback) and the steering sweep. Probing tables are in
`probe_tables`, the methods' framework, training and calibration tables in `training_tables`.

Each builder returns a `Table`, or a `NoData` saying which file is missing when there is nothing to show.
Definitions of the metrics are in DESIGN.md ("Metrics") and in sycolab.evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sycolab.data.prompts import APPROVING_FEEDBACK, DISAPPROVING_FEEDBACK, FEEDBACK_DOMAINS
from sycolab.evaluation.metrics import METRIC_DATASET, MIN_QUESTIONS, SEED, SHARMA
from sycolab.reporting._format import DASH, FEW_QUESTIONS_MARK, metric_cell, num
from sycolab.reporting._results import (
    BEHAVIOUR_METRICS,
    ModelEntry,
    StudyData,
)
from sycolab.reporting.document import Cell, Column, NoData, Table

BEHAVIOUR_LABELS = {
    "aggregate_sycophancy": "aggregate",
    "answer_sycophancy_rate": "answer sycophancy",
    "answer_sycophancy_gap": "gap",
    "plain_accuracy": "plain accuracy",
    "flip_rate": "flip rate",
    "stubbornness": "stubbornness",
    "correction_rate": "correction rate",
    "hedged_rate": "hedged rate",
    "feedback_sycophancy": "feedback sycophancy",
    "feedback_rating_shift": "feedback rating shift",
    "feedback_sycophancy.poems": "feedback: poems",
    "feedback_sycophancy.arguments": "feedback: arguments",
    "feedback_sycophancy.math": "feedback: math",
    "answer_adoption_known": "adoption (known)",
    "answer_abandonment_known": "abandonment (known)",
    "apology_kept_rate": "apologises, keeps answer",
    "seed.aggregate_sycophancy": "seed: aggregate",
    "seed.answer_sycophancy_rate": "seed: answer sycophancy",
    "seed.answer_sycophancy_gap": "seed: gap",
    "seed.flip_rate": "seed: flip rate",
    "seed.feedback_sycophancy": "seed: feedback",
    "seed.feedback_sycophancy.poems": "seed: feedback poems",
    "seed.feedback_sycophancy.arguments": "seed: feedback arguments",
    "seed.feedback_sycophancy.math": "seed: feedback math",
}
#: Columns of each protocol in the behaviour table (both are stored; `evaluate.protocols` picks the shown ones).
PROTOCOL_COLUMNS = {
    SHARMA: BEHAVIOUR_METRICS + ("answer_adoption_known", "answer_abandonment_known", "apology_kept_rate"),
    SEED: ("seed.aggregate_sycophancy", "seed.answer_sycophancy_rate", "seed.answer_sycophancy_gap", "seed.flip_rate",
           "seed.feedback_sycophancy", "seed.feedback_sycophancy.poems", "seed.feedback_sycophancy.arguments",
           "seed.feedback_sycophancy.math"),
}
_CAPTIONS = {
    SHARMA: "sharma (Sharma et al. 2023): aggregate = mean(answer sycophancy, flip rate, feedback sycophancy); "
            "adoption/abandonment (known) count only questions the model answers correctly without pressure; "
            "feedback rating shift = mean expected rating under approving minus disapproving templates, in [-4, 4] "
            "(expected rating = sum of +2, +1, -1, -2 weighted by the model's probabilities of rating the text "
            "excellent, good, bad, terrible: read from the reply distribution, no judge, no sampling), resampled by text.",
    SEED: "seed (the reference study's protocol): answer sycophancy = mean judged incorrect rate under "
          "suggest_incorrect and doubt_correct, gap = that minus the neutral incorrect rate, feedback = share of "
          "replies a judge flags as shifting to the user's sentiment (not comparable with sharma's feedback).",
}


DATASET_METRICS = {
    "answer": "answer metrics (plain accuracy, answer sycophancy, gaps, hedged, adoption/abandonment)",
    "are_you_sure": "are-you-sure metrics (flip, stubbornness, correction, apologises)",
    "feedback": "feedback metrics",
}


def _with_source(cell: Cell, source: str | None) -> Cell:
    return cell if source is None else Cell(cell.text, f"{cell.detail}, {source}" if cell.detail else source, cell.numeric)


def _name_cell(model: ModelEntry) -> Cell:
    return Cell(model.name)


def _shown_metrics(data: StudyData) -> tuple[list[str], list[str]]:
    """(protocols, metric columns) to show: the protocols stored with the evaluations, in their order."""
    protocols: list[str] = []
    for result in data.evals.values():
        protocols += [p for p in result.protocols if p in PROTOCOL_COLUMNS and p not in protocols]
    protocols = protocols or [SHARMA]
    return protocols, [k for p in protocols for k in PROTOCOL_COLUMNS[p]]


def _source_notes(name: str, sources: dict[str, str]) -> list[str]:
    """A note naming each set's source when the evaluated sets come from different sources."""
    if len(set(sources.values())) <= 1:
        return []
    where = "; ".join(f"{DATASET_METRICS.get(ds, ds)} from {src}" for ds, src in sources.items())
    return [f"{name}: metrics come from different data sources ({where}); the aggregates are left out"]


def steered_detail(steering: dict | None) -> str:
    """'steered: layer L, alpha a' for a steered model's name cell, '' for any other model."""
    if not steering:
        return ""
    return f"steered: layer {steering.get('layer')}, alpha {_alpha(steering.get('alpha'))}"


def steered_note(name: str, steering: dict) -> str:
    """What a steered row is and which questions it was scored on."""
    return (f"{name}: {steering.get('source')} with alpha x d subtracted from the residual after layer "
            f"{steering.get('layer')} at every position, alpha = {_alpha(steering.get('alpha'))} (d = mean sycophantic "
            f"minus mean honest residual, |d| = {num(steering.get('mean_difference_norm'))}); d and alpha come from "
            f"{steering.get('n_tuning_questions')} tuning questions, and the answer and are-you-sure metrics of this "
            f"row from the other {steering.get('n_report_questions')} only (feedback: the other rows' texts), so its n "
            "is smaller than the other rows'")


def steering_table(data: StudyData) -> Table | NoData:
    """The steering sweep on the tuning questions (steer/curve.csv), the kept alpha marked, with the
    selection rule and the direction's size from steer/choice.json."""
    table = data.probe.steering
    choice = data.reader.steering_choice() or {}
    if not table.ok:
        why = f"steering skipped: {choice['skipped']}" if choice.get("skipped") else table.why_empty()
        return NoData("steering sweep table", why)
    columns = [Column("alpha", "alpha (x mean difference)"), Column("answer_sycophancy_rate", "answer sycophancy"),
               Column("plain_accuracy", "plain accuracy"), Column("hedged_rate", "hedged rate"),
               Column("n_questions", "questions"), Column("kept", "kept")]
    rows = []
    for r in sorted(table.rows, key=lambda r: r.alpha):
        rows.append([
            Cell(_alpha(r.alpha), numeric=True),
            Cell(_interval(r.answer_sycophancy_rate, r.answer_sycophancy_rate_ci_low, r.answer_sycophancy_rate_ci_high),
                 numeric=True),
            Cell(_interval(r.plain_accuracy, r.plain_accuracy_ci_low, r.plain_accuracy_ci_high), numeric=True),
            Cell(num(r.hedged_rate), numeric=True), Cell(DASH if r.n_questions is None else str(r.n_questions), numeric=True),
            Cell("kept" if r.kept else ""),
        ])
    layer = next((r.layer for r in table.rows), None)
    caption = (f"Steering {table.rows[0].model} at layer {layer}: alpha x d subtracted at every position, d the mean "
               "difference between its sycophantic and honest residuals (Turner et al. 2023; Rimsky et al. 2024), "
               "so alpha 1 removes exactly that difference. Measured on held-out tuning questions, never on the "
               "questions the steered model is reported on.")
    if choice.get("reason"):
        caption += (f" Kept alpha {_alpha(choice.get('alpha'))}: {choice['reason']} (alpha 0's plain accuracy minus "
                    f"{num(choice.get('max_accuracy_drop'))}, its hedged rate plus {num(choice.get('max_hedged_rise'))})."
                    f" |d| = {num(choice.get('mean_difference_norm'))}, "
                    f"{num(choice.get('relative_to_residual'))} of the median residual norm; d from "
                    f"{choice.get('n_sycophantic')} sycophantic and {choice.get('n_honest')} honest samples.")
    return Table("steering", columns, rows, caption=caption)


def _alpha(alpha: float | None) -> str:
    return DASH if alpha is None else f"{float(alpha):g}"


def _interval(value: float | None, low: float | None, high: float | None) -> str:
    if value is None:
        return DASH
    return num(value) if low is None or high is None else f"{num(value)} [{num(low)}, {num(high)}]"


def behaviour_table(data: StudyData) -> Table | NoData:
    """One row per evaluated causal LM (creation order); each cell 'value [ci_low, ci_high]' with n; the
    columns of each protocol in `evaluate.protocols` (stored in metrics.json)."""
    models = data.causal_models
    if not models:
        return NoData("behavioural results", "no models in the store (models/*/sycolab_model.json not found; "
                      f"stage base {data.reader.stage_state('base')})")
    if not data.evals:
        return NoData("behavioural results", "no model has been evaluated (eval/*/metrics.json not found; "
                      "run the eval stage)")
    protocols, shown = _shown_metrics(data)
    columns = [Column("model", "model")] + [Column(k, BEHAVIOUR_LABELS[k]) for k in shown]
    rows, notes = [], []
    few = False
    for model in models:
        result = data.evals.get(model.name)
        if result is None:
            rows.append([_name_cell(model)] + [Cell(DASH, numeric=True) for _ in shown])
            notes.append(f"{model.name}: not evaluated: "
                         + data.reader.missing(f"eval/{model.name}/metrics.json", f"eval:{model.name}"))
            continue
        name = Cell(model.name, ", ".join(filter(None, [steered_detail(result.steering), "flagged" if result.flags else ""])))
        cells = [metric_cell(result.metrics.get(k)) for k in shown]
        if len(set(result.sources.values())) > 1:  # say each metric's source in its cell
            cells = [_with_source(c, result.sources.get(METRIC_DATASET.get(k, ""))) for c, k in zip(cells, shown)]
        few = few or any(c.text.endswith(FEW_QUESTIONS_MARK) for c in cells)
        rows.append([name] + cells)
        notes += _source_notes(model.name, result.sources)
        if result.steering:
            notes.append(steered_note(model.name, result.steering))
        notes += [f"{model.name}: {flag}" for flag in result.flags]
    caption = ("Rates with 95% bootstrap intervals resampled by base question; n counts scored samples, "
               "unscored ones (judge verdict unparseable, generation failed) are reported, not folded into a class. "
               + " ".join(_CAPTIONS[p] for p in protocols))
    if few:
        caption += f" {FEW_QUESTIONS_MARK.strip()}: interval from fewer than {MIN_QUESTIONS} base questions, too few to trust."
    return Table("behaviour", columns, rows, caption=caption, notes=notes)


TEMPLATES = ("neutral", "suggest_incorrect", "doubt_correct", "suggest_correct")
TEMPLATE_COLUMNS = (("accuracy", "correct"), ("incorrect", "incorrect (committed)"), ("hedged", "hedged"),
                    ("adopted", "adopts the steer"))


def _template_rows(data: StudyData, templates: Sequence[str], breakdown_keys: Callable[[str], list[str]]) -> list[list[Cell]]:
    """One row per (model, template) with any of `breakdown_keys(template)` in the model's metrics.json
    breakdown: model, template, then a cell per key (a dash where it is missing)."""
    rows = []
    for model in data.causal_models:
        result = data.evals.get(model.name)
        if result is None:
            continue
        for template in templates:
            cells = [result.breakdown.get(key) for key in breakdown_keys(template)]
            if any(c is not None for c in cells):
                rows.append([Cell(model.name), Cell(template)]
                            + [metric_cell(c) if c is not None else Cell(DASH, numeric=True) for c in cells])
    return rows


def per_template_table(data: StudyData) -> Table | NoData:
    """Answer prompts per template and model: share correct, incorrect (a committed wrong answer), hedged
    and, on pressured templates, adopting the user's steer (metrics.json "breakdown" `answer.<template>.*`)."""
    rows = _template_rows(data, TEMPLATES, lambda t: [f"answer.{t}.{key}" for key, _ in TEMPLATE_COLUMNS])
    if not rows:
        return NoData("per-template answer table", "no metrics.json has a per-template breakdown "
                      "(written by sycolab's evaluation since the seed protocol was added; re-run the eval stage)")
    columns = [Column("model", "model"), Column("template", "template")]
    columns += [Column(key, label) for key, label in TEMPLATE_COLUMNS]
    return Table("per-template", columns, rows, caption=(
        "Answer prompts by template, 95% bootstrap intervals by base question. 'incorrect' is a committed "
        "wrong answer (the seed protocol counts it with hedges as not correct); 'adopts the steer' is the "
        "sharma protocol's sycophantic label on pressured templates."))


FEEDBACK_TEMPLATES = ("neutral", *APPROVING_FEEDBACK, *DISAPPROVING_FEEDBACK)


def feedback_template_table(data: StudyData) -> Table | NoData:
    """Feedback prompts per template and model: the expected rating read from the reply distribution
    (metrics.json "breakdown" `feedback_expected_rating.<template>`) beside the judged positivity of each
    domain (`feedback_positivity.<domain>.<template>`)."""
    keys = [("expected_rating", "expected rating", "feedback_expected_rating.{t}")]
    keys += [(f"positivity.{d}", f"positivity: {d}", f"feedback_positivity.{d}.{{t}}") for d in FEEDBACK_DOMAINS]
    rows = _template_rows(data, FEEDBACK_TEMPLATES, lambda t: [pattern.format(t=t) for _, _, pattern in keys])
    if not rows:
        return NoData("per-template feedback table", "no metrics.json has a per-template feedback breakdown "
                      "(feedback_expected_rating.* or feedback_positivity.*; re-run the eval stage)")
    columns = [Column("model", "model"), Column("template", "template")] + [Column(k, label) for k, label, _ in keys]
    return Table("feedback-per-template", columns, rows, caption=(
        "Feedback prompts by template, 95% bootstrap intervals by text. Expected rating: +2 excellent, +1 good, "
        "-1 bad, -2 terrible, weighted by the model's probabilities of the four framed ratings (softmax of their "
        "log-probabilities), mean over the template's prompts, in [-2, 2]; no judge and no sampling, so a near-tie "
        "between two ratings gives a value between them rather than the greedy reply's verdict. Positivity: share "
        "of pairwise judgements (both orders) in which the templated reply is more positive than the neutral reply "
        "to the same text (none for neutral). "
        "Approving minus disapproving templates: of positivity, feedback sycophancy; of the expected rating, "
        "feedback rating shift."))
