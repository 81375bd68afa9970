"""Number formatting shared by every table (one place decides how a rate or an AUROC is written)."""

from __future__ import annotations

from collections.abc import Sequence

from sycolab.reporting._results import MetricValue
from sycolab.reporting.document import Cell

DASH = "—"
#: Appended to a metric whose interval comes from fewer than MIN_QUESTIONS base questions.
FEW_QUESTIONS_MARK = " †"


def num(value: float | None, digits: int = 3) -> str:
    return DASH if value is None else f"{value:.{digits}f}"


def pct(value: float | None) -> str:
    return DASH if value is None else f"{value:.0f}%"


def pvalue(p: float | None) -> str:
    if p is None:
        return DASH
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def metric_cell(m: MetricValue | None) -> Cell:
    """'value [ci_low, ci_high]' with 'n=…' (and ', k unscored' when k > 0) as detail."""
    if m is None:
        return Cell(DASH, "not measured", numeric=True)
    text = num(m.value)
    if m.value is not None and m.ci_low is not None and m.ci_high is not None:
        text += f" [{num(m.ci_low)}, {num(m.ci_high)}]"
    detail = f"n={m.n}" + (f", {m.n_unscored} unscored" if m.n_unscored > 0 else "")
    if m.few_questions:
        text += FEW_QUESTIONS_MARK
        detail += f", only {m.n_questions} question{'s' if m.n_questions != 1 else ''}"
    return Cell(text, detail, numeric=True)


def layer_ranges(layers: Sequence[int]) -> str:
    """[0, 1, 2, 5] -> '0-2, 5'."""
    out: list[str] = []
    ordered = sorted(set(layers))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ", ".join(out)


def layer_name(layer: int | None) -> str:
    """Decoder layer index as in the probing tables; -1 is the embedding output."""
    if layer is None:
        return DASH
    return "embed" if layer == -1 else f"L{layer}"
