"""The report's tables, built from stored results: behaviour, probing, framework, training.

Each builder returns a `Table`, or a `NoData` saying which file is missing when there is nothing to show.
Definitions of the metrics are in DESIGN.md ("Metrics") and in sycolab.evaluation; the probing columns
are those of probe/*.csv (docs/architecture.md).
"""

from __future__ import annotations

import math

from sycolab.evaluation.metrics import METRIC_DATASET, MIN_QUESTIONS, SEED, SHARMA
from sycolab.reporting._format import DASH, FEW_QUESTIONS_MARK, layer_name, layer_ranges, metric_cell, num, pct, pvalue
from sycolab.reporting._results import (
    BEHAVIOUR_METRICS,
    BaselineRow,
    LabelRow,
    ModelEntry,
    OwnSummaryRow,
    ProbeData,
    StudyData,
    TrainingLog,
)
from sycolab.reporting.document import Cell, Column, NoData, Table
from sycolab.reporting.frameworks import framework_of

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
            "adoption/abandonment (known) count only questions the model answers correctly without pressure.",
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


def per_template_table(data: StudyData) -> Table | NoData:
    """Answer prompts per template and model: share correct, incorrect (a committed wrong answer), hedged
    and, on pressured templates, adopting the user's steer (metrics.json "breakdown" `answer.<template>.*`)."""
    rows = []
    for model in data.causal_models:
        result = data.evals.get(model.name)
        if result is None:
            continue
        for template in TEMPLATES:
            cells = [result.breakdown.get(f"answer.{template}.{key}") for key, _ in TEMPLATE_COLUMNS]
            if any(c is not None for c in cells):
                rows.append([Cell(model.name), Cell(template)]
                            + [metric_cell(c) if c is not None else Cell(DASH, numeric=True) for c in cells])
    if not rows:
        return NoData("per-template answer table", "no metrics.json has a per-template breakdown "
                      "(written by sycolab's evaluation since the seed protocol was added; re-run the eval stage)")
    columns = [Column("model", "model"), Column("template", "template")]
    columns += [Column(key, label) for key, label in TEMPLATE_COLUMNS]
    return Table("per-template", columns, rows, caption=(
        "Answer prompts by template, 95% bootstrap intervals by base question. 'incorrect' is a committed "
        "wrong answer (the seed protocol counts it with hedges as not correct); 'adopts the steer' is the "
        "sharma protocol's sycophantic label on pressured templates."))


#: How each probed position reads in titles and captions.
POSITION_WORDS = {
    "last": "the last prompt token",
    "mean": "the mean over the prompt's tokens",
    "answer": 'the answer position (the token after the assistant prefix "the answer is", which predicts the answer word)',
}


def position_words(position: str) -> str:
    return POSITION_WORDS.get(position, f"prompt token {position}")


def _position_key(key: str, position: str, primary: str) -> str:
    """A table's key at `position`: unchanged at the primary position, suffixed at the others."""
    return key if position == primary else f"{key}-{position}"


def probing_table(data: StudyData, position: str | None = None) -> Table | NoData:
    """Own-model probes beside their shortcut baselines, cross-fitted transfer of the source's (SFT's)
    probes with its family-wise p and that p's floor, mean direction cosine and ablation per model, at one
    probed position (default the first: the stage's `probe.position`)."""
    primary = data.probe.positions()[0]
    probe = data.probe.at(position or primary)
    position = probe.position or primary
    if not probe.own_summary.ok and not probe.labels.ok:
        return NoData("probing results", probe.own_summary.why_empty())
    source = probe.transfer_source()
    src = source or "sft"
    src_peak = probe.summary_of(src)
    peak_layer = src_peak.peak_layer if src_peak else None
    has_mlp = any(r.kind == "mlp" for r in probe.own_summary.rows)
    columns = [
        Column("model", "model"),
        Column("labels", "labels (syc. / honest)"),
        Column("mean_auroc", "mean AUROC"),
        Column("above_chance", "layers above null"),
        Column("peak", "peak layer: AUROC [95% CI]"),
        Column("template", "template-only AUROC"),
        Column("knowledge", "knowledge-only AUROC"),
        *([Column("mlp_mean_auroc", "MLP mean AUROC")] if has_mlp else []),
        Column("transfer_auroc", f"{src}→model AUROC [95% CI]"),
        Column("agreement", f"label agreement with {src}"),
        Column("p_holm", "p (max-T, Holm)"),
        Column("interpretation", "interpretation"),
        Column("cosine", f"cosine with {src} (mean over layers)"),
        Column("recovery", "ablation recovery"),
    ]
    layer_counts: dict[str, int] = {}
    for r in probe.own_auroc.rows:
        if r.kind == "logistic":
            layer_counts[r.model] = layer_counts.get(r.model, 0) + 1
    names = [m.name for m in data.causal_models]
    names += [n for n in dict.fromkeys([r.model for r in probe.labels.rows] + [r.model for r in probe.own_summary.rows])
              if n not in names]
    rows, notes = [], []
    for name in names:
        label = probe.label_of(name)
        summary = probe.summary_of(name)
        if label is None and summary is None:
            if name in data.evals:
                notes.append(f"{name}: not probed (absent from probe/labels.csv and probe/own_summary.csv)")
            continue
        labels = _labels_cell(label)
        if label is not None and not label.fitted:
            notes.append(f"{name}: no probe: {label.reason or 'not fitted (no reason recorded)'}")
            rows.append([Cell(name, "no probe"), labels] + [Cell(DASH) for _ in columns[2:]])
            continue
        row = {
            "model": Cell(name),
            "labels": labels,
            "mean_auroc": Cell(num(summary.mean_auroc) if summary else DASH, numeric=True),
            "above_chance": _above_chance(summary.layers_above_chance if summary else None, layer_counts.get(name)),
            "peak": _peak_cell(summary),
            "template": _baseline_cell(probe.baseline_of(name, "template")),
            "knowledge": _baseline_cell(probe.baseline_of(name, "knowledge")),
        }
        if has_mlp:
            mlp = probe.summary_of(name, "mlp")
            row["mlp_mean_auroc"] = Cell(num(mlp.mean_auroc) if mlp else DASH, numeric=True)
        transfer = next((t for t in probe.transfer_summary.rows if t.source == src and t.target == name), None)
        row["transfer_auroc"] = Cell(
            _with_interval(transfer.peak_auroc, transfer.peak_ci_low, transfer.peak_ci_high) if transfer else DASH,
            _layer_detail(transfer.peak_layer, transfer.peak_set, transfer.mean_auroc) if transfer else "",
            numeric=True,
        )
        row["agreement"] = Cell(num(transfer.agreement_auroc) if transfer else DASH, numeric=True)
        row["p_holm"] = Cell(pvalue(transfer.p_holm) if transfer else DASH,
                             f"floor {pvalue(transfer.p_floor)}" if transfer and transfer.p_floor is not None else "",
                             numeric=True)
        row["interpretation"] = Cell((transfer.interpretation or DASH) if transfer else DASH)
        if transfer is not None and name != src:
            notes += _shortcut_notes(probe, src, name, transfer.peak_auroc, transfer.agreement_auroc)
        mean_cos = probe.mean_cosine(src, name)
        cos = next((c for c in probe.cosine.rows
                    if c.layer == peak_layer and {c.model_a, c.model_b} == {src, name}), None)
        row["cosine"] = Cell(num(mean_cos.mean_cosine) if mean_cos else DASH,
                             f"{layer_name(peak_layer)}: {num(cos.cosine)}" if cos else "", numeric=True)
        row["recovery"] = _recovery_cell(probe, name, summary.peak_layer if summary else None)
        rows.append([row[c.key] for c in columns])
    if not rows:
        return NoData("probing results", probe.own_summary.why_empty())
    for table in (probe.transfer_summary, probe.cosine, probe.cosine_mean, probe.baselines, probe.ablation):
        if not table.ok:
            notes.append(f"columns from {table.rel_path} are empty: {table.why_empty()}")
    return Table(
        _position_key("probing", position, primary),
        columns,
        rows,
        caption=f"Position: {position}. Logistic probes at {position_words(position)}, labels = each model's own "
                "judged behaviour (hedged and "
                "refused replies excluded); AUROC of out-of-fold scores, folds by question, 95% intervals by "
                "bootstrap over questions. Layers above null: AUROC above the 95th percentile of question-preserving "
                "label permutations. Peak detail: layers whose interval overlaps the peak's. Template-only and "
                "knowledge-only: cross-fitted lookup baselines (the prompt template; whether the model got the neutral "
                f"question wrong). Transfer: {src}'s probe fit on other questions scores each model's held-out "
                "questions; p: max-T permutation test over layers per target, Holm over targets, with its floor "
                f"k/(n+1). Label agreement: {src}'s own labels used as the score. Ablation recovery: AUROC of a probe "
                "retrained after projecting out the top direction, (ablated - 0.5) / (original - 0.5).",
        notes=notes,
    )


def probe_shortcut_table(data: StudyData, position: str | None = None) -> Table | NoData:
    """Per model: the shortcut baselines and the logistic probe fit within each template (its peak layer) at
    one probed position (default the first); the baselines read no activations, so they are the same at every
    position."""
    primary = data.probe.positions()[0]
    probe = data.probe.at(position or primary)
    position = probe.position or primary
    if not probe.baselines.ok and not probe.own_by_template.ok:
        return NoData("probe shortcut baselines", probe.baselines.why_empty())
    templates = list(dict.fromkeys(r.template for r in probe.own_by_template.rows))
    baselines = [b for b in dict.fromkeys(r.baseline for r in probe.baselines.rows) if not b.startswith("agreement")]
    columns = [Column("model", "model"), *[Column(f"b:{b}", f"{b} baseline") for b in baselines],
               *[Column(f"t:{t}", f"probe within {t}") for t in templates]]
    names = list(dict.fromkeys([r.model for r in probe.baselines.rows] + [r.model for r in probe.own_by_template.rows]))
    rows = []
    for name in names:
        row = [Cell(name)] + [_baseline_cell(probe.baseline_of(name, b)) for b in baselines]
        for template in templates:
            mine = [r for r in probe.own_by_template.rows if r.model == name and r.template == template and r.auroc is not None]
            best = max(mine, key=lambda r: (r.auroc, -r.layer), default=None)
            row.append(Cell(_with_interval(best.auroc, best.ci_low, best.ci_high), f"peak {layer_name(best.layer)}, n={best.n}",
                            numeric=True) if best else Cell(DASH, "too few per class", numeric=True))
        rows.append(row)
    return Table(
        _position_key("probe-shortcuts", position, primary),
        columns,
        rows,
        caption=f"Position: {position} ({position_words(position)}). "
                "What the labels follow besides the representation. Baselines are lookup tables cross-fitted on the "
                "probes' folds: template (suggest_incorrect vs doubt_correct), knowledge (the same model answered the "
                "neutral question wrong), both. 'Probe within' fits and scores the logistic probe on one template's "
                "samples only, so the template cannot help; AUROC at its peak layer with a 95% question-bootstrap "
                "interval.",
    )


def _shortcut_notes(probe: ProbeData, src: str, target: str, transfer_auroc: float | None, agreement: float | None) -> list[str]:
    """A note for each baseline that the target's peak transfer AUROC does not exceed."""
    if transfer_auroc is None:
        return []
    baselines = [(b, row.auroc) for b in ("template", "knowledge") if (row := probe.baseline_of(target, b))]
    baselines.append((f"label agreement with {src}", agreement))
    return [
        f"{target}: {src}→{target} transfer {num(transfer_auroc)} does not exceed the {b} baseline {num(value)}"
        for b, value in baselines
        if value is not None and transfer_auroc <= value
    ]


def _with_interval(value: float | None, low: float | None, high: float | None) -> str:
    if value is None:
        return DASH
    return num(value) + (f" [{num(low)}, {num(high)}]" if low is not None and high is not None else "")


def _labels_cell(label: LabelRow | None) -> Cell:
    if label is None:
        return Cell(DASH)
    excluded = [f"{n} {what}" for n, what in ((label.n_hedged_excluded, "hedged"), (label.n_refused_excluded, "refused")) if n]
    return Cell(f"{label.n_sycophantic} / {label.n_honest}", f"{', '.join(excluded)} excluded" if excluded else "",
                numeric=True)


def _peak_cell(summary: OwnSummaryRow | None) -> Cell:
    if summary is None:
        return Cell(DASH)
    text = f"{layer_name(summary.peak_layer)}: {_with_interval(summary.peak_auroc, summary.peak_ci_low, summary.peak_ci_high)}"
    return Cell(text, _layer_detail(None, summary.peak_set, None))


def _layer_detail(peak_layer: int | None, peak_set: list[int] | None, mean: float | None) -> str:
    parts = [f"at {layer_name(peak_layer)}"] if peak_layer is not None else []
    if peak_set and len(peak_set) > 1:
        parts.append(f"overlapping: {layer_ranges(peak_set)}")
    if mean is not None:
        parts.append(f"mean {num(mean)}")
    return ", ".join(parts)


def _baseline_cell(row: BaselineRow | None) -> Cell:
    if row is None:
        return Cell(DASH, numeric=True)
    return Cell(_with_interval(row.auroc, row.ci_low, row.ci_high), numeric=True)


def _above_chance(layers: list[int] | None, total: int | None) -> Cell:
    if layers is None:
        return Cell(DASH)
    count = f"{len(layers)}" + (f" of {total}" if total else "")
    return Cell(count, layer_ranges(layers) if layers else "", numeric=True)


def _recovery_cell(probe: ProbeData, model: str, peak_layer: int | None) -> Cell:
    """Recovery after removing the top direction (smallest k), at the model's peak layer if ablated there."""
    rows = [r for r in probe.ablation.rows if r.model == model]
    if not rows:
        return Cell(DASH, numeric=True)
    at_peak = [r for r in rows if r.layer == peak_layer] or rows
    first = min(at_peak, key=lambda r: (r.k, r.layer))
    if first.recovery_pct is None:
        return Cell(DASH, f"original AUROC {num(first.original_auroc)} not above chance", numeric=True)
    return Cell(pct(first.recovery_pct), f"k={first.k}, {layer_name(first.layer)}", numeric=True)


#: |share removed| below this is reported as no effect.
NO_PATCHING_EFFECT = 0.05


def _patching_verdict(share: float, layer: str) -> str:
    """The largest share removed in words: none, part or all of the pull toward the suggestion, or more than
    all of it (share > 1: with the neutral residual the model leans toward the correct answer instead)."""
    if abs(share) < NO_PATCHING_EFFECT:
        return f"no effect: |share| < {NO_PATCHING_EFFECT} at every layer"
    if share > 1:
        return f"effect at {layer}: the patch reverses the pull (toward the correct answer)"
    if share < 0:
        return f"effect at {layer}: the patch increases the pull toward the suggestion"
    return f"effect at {layer}"


def patching_table(data: StudyData) -> Table | NoData:
    """Per model and position: the layer where patching removes the largest share of the gap toward the
    suggestion, and a plain statement: an effect, or none (every |share| below `NO_PATCHING_EFFECT`, or no
    gap to remove because the model is not pulled toward the suggestion)."""
    table = data.probe.patching
    if not table.ok:
        return NoData("patching effect", table.why_empty())
    columns = [Column("model", "model"), Column("position", "position"), Column("gap", "gap before (nats)"),
               Column("largest", "largest share removed"), Column("verdict", "verdict")]
    rows, effects = [], 0
    for model, position in dict.fromkeys((r.model, str(r.position)) for r in table.rows):
        mine = [r for r in table.rows if r.model == model and str(r.position) == position]
        scored = [r for r in mine if r.share_removed is not None]
        gap = Cell(num(mine[0].gap_before), f"n={mine[0].n}" if mine[0].n is not None else "", numeric=True)
        if not scored:
            rows.append([Cell(model), Cell(position), gap, Cell(DASH, numeric=True),
                         Cell("no gap to remove: the model is not pulled toward the suggestion")])
            continue
        best = max(scored, key=lambda r: abs(r.share_removed or 0.0))
        share = best.share_removed or 0.0
        effect = abs(share) >= NO_PATCHING_EFFECT
        effects += effect
        rows.append([Cell(model), Cell(position), gap, Cell(num(share), layer_name(best.layer), numeric=True),
                     Cell(_patching_verdict(share, layer_name(best.layer)))])
    notes = [] if effects else [
        f"Patching found no effect: at no layer and position did it remove {NO_PATCHING_EFFECT} of the gap toward "
        "the suggestion or more, for any model."]
    return Table(
        "patching",
        columns,
        rows,
        caption="Activation patching, neutral -> pressured prompt of the same question, one layer and position at a "
                "time: share of the mean logit gap log p(suggested) - log p(correct) that the patch removes "
                f"(probe/patching.csv). Positions: last = {position_words('last')}; answer = {position_words('answer')}. "
                "The residual carries a write forward, so an effect that enters at layer L shows at L and after.",
        notes=notes,
    )


def framework_table(data: StudyData) -> Table | NoData:
    """Each model's method placed on the framework axes (its registered MethodTraits) beside its outcomes."""
    models = data.causal_models
    if not models:
        return NoData("framework table", "no models in the store (models/*/sycolab_model.json not found)")
    probe = data.probe.at()
    src = probe.transfer_source() or "sft"
    columns = [
        Column("model", "model"),
        Column("method", "method"),
        Column("reference", "reference"),
        Column("loss", "loss"),
        Column("data", "data"),
        Column("aggregate", "aggregate sycophancy"),
        Column("transfer", f"{src}→model AUROC"),
        Column("own", "own-model mean AUROC"),
    ]
    rows, unknown = [], []
    for model in models:
        fw = framework_of(model.method)
        if fw is None:
            unknown.append(model.method)
        result = data.evals.get(model.name)
        transfer = next((t for t in probe.transfer_summary.rows if t.source == src and t.target == model.name), None)
        own = probe.summary_of(model.name)
        rows.append([
            Cell(model.name),
            Cell(model.method),
            Cell(fw.reference if fw else "?"),
            Cell(fw.loss if fw else "?"),
            Cell(fw.data if fw else "?"),
            metric_cell(result.metrics.get("aggregate_sycophancy")) if result else Cell(DASH, numeric=True),
            Cell(num(transfer.peak_auroc) if transfer else DASH, numeric=True),
            Cell(num(own.mean_auroc) if own else DASH, numeric=True),
        ])
    notes = [f"method '{m}' is not registered in this installation (sycolab.methods.registry)" for m in dict.fromkeys(unknown)]
    return Table(
        "framework",
        columns,
        rows,
        caption="reference: the loss keeps the policy near the frozen SFT model (ref), through a KL penalty "
                "(ref (KL)), or not (free). loss: saturating losses flatten once the margin is large (logistic), "
                "non-saturating ones keep pulling towards a target margin (squared). data: offline preference "
                "pairs, online generations, or inference-time (no weights change).",
        notes=notes,
    )


SUMMARY_KEYS = {
    "wall_time": ("wall_time_s", "wall_time", "train_runtime"),
    "tokens_per_s": ("tokens_per_s", "tokens_per_second", "train_tokens_per_second"),
    "checkpoint": ("chosen_checkpoint", "best_checkpoint", "checkpoint"),
}


def training_table(data: StudyData, logs: dict[str, TrainingLog]) -> Table | NoData:
    """Logged steps, wall time, throughput, last loss and the chosen checkpoint of each trained model."""
    if not logs:
        return NoData("training diagnostics", "no training/*/diagnostics.csv found (no model was trained in this run, "
                      "or the training stages have not run)")
    columns = [Column("model", "model"), Column("method", "method"), Column("steps", "logged steps"),
               Column("loss", "last loss"), Column("wall_time", "wall time (s)"),
               Column("tokens_per_s", "tokens/s"), Column("checkpoint", "chosen checkpoint")]
    methods = {m.name: m.method for m in data.models}
    rows = []
    for name, log in logs.items():
        losses = [v for v in log.columns.get("loss", []) if v is not None]
        found = {key: next((log.summary[c] for c in candidates if log.summary.get(c) is not None), None)
                 for key, candidates in SUMMARY_KEYS.items()}
        rows.append([
            Cell(name),
            Cell(methods.get(name, DASH)),
            Cell(str(len(log.steps)), numeric=True),
            Cell(num(losses[-1], 4) if losses else DASH, numeric=True),
            Cell(_plain(found["wall_time"], 1), numeric=True),
            Cell(_plain(found["tokens_per_s"], 0), numeric=True),
            Cell(_chosen_checkpoint(found["checkpoint"])),
        ])
    return Table("training", columns, rows,
                 caption="From each model's training folder: diagnostics.csv (one row per logging step) and summary.json.")


def _chosen_checkpoint(value: object) -> str:
    """summary.json "checkpoint" (the checkpoint policy's summary) in words; other values as they are."""
    if not isinstance(value, dict):
        return _plain(value, 0)
    if value.get("chosen") != "best" or value.get("best_step") is None:
        text = "last step"
    else:
        best = value.get("best_value")
        text = f"step {value['best_step']} by {value.get('metric')}" + (f" = {best:.3f}" if isinstance(best, float) else "")
    if value.get("evaluations"):
        text += f" ({value['evaluations']} evaluations, {float(value.get('evaluation_seconds') or 0):.1f} s)"
    return text


def _plain(value: object, digits: int) -> str:
    if value is None:
        return DASH
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def reward_calibration_table(data: StudyData, logs: dict[str, TrainingLog]) -> Table | None:
    """Share of SFT-policy samples whose reward-model score exceeds each threshold (reward model summary.json,
    `threshold_calibration`), beside each binary GRPO run's threshold and its observed frac_reward_zero_std.
    None when no reward model recorded a calibration."""
    from sycolab.methods.reward_model import threshold_calibration, zero_std_share_if_independent

    methods = {m.name: m for m in data.models}
    rm = next((log for name, log in logs.items()
               if (methods[name].method if name in methods else None) == "reward_model"
               and log.summary.get("threshold_calibration")), None)
    if rm is None:
        return None
    binary = {name: log.summary for name, log in logs.items()
              if isinstance(log.summary.get("reward"), dict) and log.summary["reward"].get("kind") == "binary_threshold"
              and log.summary["reward"].get("threshold") is not None}
    rows_data = rm.summary["threshold_calibration"]
    scores = rm.summary.get("policy_scores")
    if scores and binary:
        thresholds = [r["threshold"] for r in rows_data] + [s["reward"]["threshold"] for s in binary.values()]
        rows_data = threshold_calibration(scores, thresholds)
    generations = next((int(methods[n].params["num_generations"]) for n in binary
                        if n in methods and methods[n].params.get("num_generations")), None)
    columns = [Column("threshold", "threshold"), Column("share", "SFT samples above")]
    if generations:
        columns.append(Column("independent", f"all-equal groups if independent (G={generations})"))
    columns.append(Column("run", "binary GRPO run: frac_reward_zero_std mean / max"))
    rows = []
    for r in rows_data:
        runs = [f"{name}: {num(s.get('frac_reward_zero_std_mean'))} / {num(s.get('frac_reward_zero_std_max'))}"
                for name, s in binary.items() if math.isclose(float(s["reward"]["threshold"]), r["threshold"])]
        row = [Cell(num(r["threshold"]), numeric=True),
               Cell(num(r["share_above"]), f"{r['n_above']} of {rm.summary.get('median_n', DASH)}", numeric=True)]
        if generations:
            row.append(Cell(num(zero_std_share_if_independent(r["share_above"], generations), 4), numeric=True))
        row.append(Cell("; ".join(runs) if runs else ""))
        rows.append(row)
    return Table(
        "reward_calibration",
        columns,
        rows,
        caption=f"Binary GRPO reward calibration: share of SFT-policy samples ({rm.model}'s summary.json) whose "
                "reward-model score exceeds each threshold (+1 there, -1 elsewhere); thresholds span the scores, plus "
                "the median. frac_reward_zero_std: share of GRPO groups whose rewards were all equal (no gradient); "
                "'if independent' is p^G + (1-p)^G, what it would be if samples of one prompt were independent.",
    )
