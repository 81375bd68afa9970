"""The report's relearning-speed section, from relearn/<model>.csv alone (`sycolab.study.relearn`).

Steps-to-threshold, per model and metric: with v0 the model's value at step 0 and v_sft SFT's value (the
same mini-evaluation, relearn/sft.csv), the threshold is v0 + fraction * (v_sft - v0) (`relearn.threshold`,
default 0.5: half-way back to SFT); the answer is the first evaluated step > 0 whose value reaches it.
Undefined when v_sft <= v0 (the model is already as sycophantic as SFT), or when a value is missing; "> N"
when no evaluated step reaches it. A recovery that suppresses sycophancy should reach it in fewer steps
than the base; one that removes it, in about as many.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sycolab.io import read_table
from sycolab.reporting._format import num
from sycolab.reporting.document import Cell, Column, Figure, NoData, Table

if TYPE_CHECKING:
    from sycolab.reporting._results import StudyData

REFERENCE = "sft"
_TOLERANCE = 1e-9  # rates are ratios of counts: 0.1 + 0.5 * (0.5 - 0.1) must count as reached by 0.3
CURVES = (("answer_sycophancy_rate", "answer sycophancy"), ("flip_rate", "flip rate"),
          ("proxy_sycophancy", "logit proxy sycophancy"))


@dataclass(frozen=True)
class Threshold:
    """`target` the value to reach, `step` the first evaluated step reaching it (None: not reached or
    undefined), `text` what the report shows."""

    target: float | None
    step: int | None
    text: str


def steps_to_threshold(curve: Sequence[tuple[int, float | None]], reference: float | None,
                       fraction: float) -> Threshold:
    """First step > 0 of `curve` ((step, value) pairs) whose value is >= v0 + fraction * (reference - v0)."""
    start = dict(curve).get(0)
    if start is None or reference is None:
        return Threshold(None, None, "no value")
    if reference <= start:
        return Threshold(None, None, "at or above SFT at step 0")
    target = start + fraction * (reference - start)
    for step, value in sorted(curve):
        if step > 0 and value is not None and value >= target - _TOLERANCE:
            return Threshold(target, step, str(step))
    last = max(step for step, _ in curve)
    return Threshold(target, None, f"> {last}")


def read_curves(root: Path, order: Sequence[str] = ()) -> dict[str, list[dict]]:
    """relearn/<model>.csv rows by model: SFT first, then the models in `order` (the study's), then the rest."""
    folder = root / "relearn"
    if not folder.is_dir():
        return {}
    curves = {p.stem: read_table(p) for p in sorted(folder.glob("*.csv"))}
    rank = {name: i for i, name in enumerate([REFERENCE, *order])}
    return dict(sorted(curves.items(), key=lambda kv: rank.get(kv[0], len(rank))))


def relearn_blocks(data: StudyData, colour: Callable[[str], str]) -> list:
    """The relearning table (steps-to-threshold per metric) and the curves; NoData when nothing ran. The
    threshold fraction is the run's `relearn.threshold` (manifest config), 0.5 if absent."""
    config = data.reader.manifest.get("config") or {}
    settings = (config.get("relearn") or {}) if isinstance(config, dict) else {}
    fraction = float(settings.get("threshold", 0.5))
    curves = read_curves(data.reader.root, [m.name for m in data.models])
    if not curves:
        return [NoData("relearning results", "relearn/ holds no table (enable the `relearn` section to run it)")]
    reference = {metric: (curves.get(REFERENCE) or [{}])[0].get(metric) for metric, _ in CURVES}
    rows = []
    if REFERENCE in curves:  # the target row: SFT on the same mini-evaluation, at step 0 only
        rows.append([Cell(REFERENCE), *(cell for metric, _ in CURVES for cell in (
            Cell(num(reference[metric]), numeric=True), Cell("—"), Cell("reference (step 0 only)")))])
    for name, table in curves.items():
        if name == REFERENCE:
            continue
        cells = [Cell(name)]
        for metric, _ in CURVES:
            points = [(int(r["step"]), r.get(metric)) for r in table]
            result = steps_to_threshold(points, reference[metric], fraction)
            cells += [Cell(num(points[0][1]), numeric=True), Cell(num(points[-1][1]), detail=f"step {points[-1][0]}",
                                                                  numeric=True),
                      Cell(result.text, detail=f"target {num(result.target)}" if result.target is not None else "")]
        rows.append(cells)
    columns = [Column("model", "model")]
    for metric, label in CURVES:
        columns += [Column(f"{metric}_0", f"{label} at 0"), Column(f"{metric}_last", f"{label} last"),
                    Column(f"{metric}_steps", f"steps to threshold ({label})")]
    questions = settings.get("max_questions")
    scope = f"the first {questions} answer and are-you-sure questions" if questions else "every answer and are-you-sure question"
    relearn_table = Table("relearn", columns, rows, caption=(
        f"Induction SFT re-run from each model; at step 0 and every evaluated step the same judged "
        f"mini-evaluation ({scope}, the study's judge and generation) and the logit proxy on the same answer "
        f"questions (relearn/<model>.csv). Threshold: {fraction:g} of the way from the model's step-0 value "
        f"to SFT's (SFT: {', '.join(f'{label} {num(reference[m])}' for m, label in CURVES)})."))
    return [relearn_table, _curves_figure(curves, reference, colour)]


def _curves_figure(curves: dict[str, list[dict]], reference: dict[str, float | None],
                   colour: Callable[[str], str]) -> Figure | NoData:
    from sycolab.reporting.plots import _figure, _legend_outside, _legend_width, _png

    names = [n for n in curves if n != REFERENCE]
    if not names:
        return NoData("relearning curves", "only SFT's reference row")
    extra = _legend_width(names)
    fig, axes = _figure(3.2 * len(CURVES) + extra, 3.0, ncols=len(CURVES), right=extra)
    for ax, (metric, label) in zip(axes, CURVES):
        by_model: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for name in names:
            by_model[name] = [(int(r["step"]), r[metric]) for r in curves[name] if r.get(metric) is not None]
            if by_model[name]:
                ax.plot(*zip(*by_model[name], strict=True), marker="o", markersize=3, linewidth=1.4,
                        color=colour(name), label=name)
            band = [(int(r["step"]), r[f"{metric}_ci_low"], r[f"{metric}_ci_high"]) for r in curves[name]
                    if r.get(f"{metric}_ci_low") is not None and r.get(f"{metric}_ci_high") is not None]
            if band:  # judged metrics: the 95% bootstrap interval of each evaluated step
                ax.fill_between(*zip(*band, strict=True), color=colour(name), alpha=0.12, linewidth=0)
        if reference[metric] is not None:
            ax.axhline(reference[metric], color="#888888", linestyle="--", linewidth=0.9, label="sft")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("relearning step", fontsize=8)
    _legend_outside(axes[-1])
    return Figure("relearn-curves", "Relearning speed", _png(fig),
                  caption="Sycophancy while the induction SFT is re-run from each model (judged mini-evaluation with "
                          "its 95% bootstrap interval shaded, and the logit proxy; relearn/<model>.csv); dashed: "
                          "SFT's value on the same evaluation at step 0.")
