"""The report's probing tables, built from probe/*.csv (columns in docs/architecture.md): own-model probes
beside their shortcut baselines and the source's transfer, the shortcut probes, and activation patching.

Each builder returns a `Table`, or a `NoData` saying which file is missing when there is nothing to show.
"""

from __future__ import annotations

from sycolab.reporting._format import DASH, layer_name, layer_ranges, num, pct, pvalue
from sycolab.reporting._results import ProbeData, StudyData
from sycolab.reporting.document import Cell, Column, NoData, Table
from sycolab.store.records import BaselineRow, LabelRow, OwnSummaryRow

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
