"""The report's plots, drawn with matplotlib's object API on the Agg canvas (no pyplot state, no display)
and returned as PNG bytes. Each function returns a `Figure`, or a `NoData` saying why it cannot be drawn.

Colours follow the model order of the study, so a model has the same colour in every plot. This module
holds the drawing helpers, the training and the behaviour plots; the probing plots are in `probe_plots`.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as MplFigure

from sycolab.reporting._results import TrainingLog
from sycolab.reporting.document import Figure, NoData
from sycolab.store.records import ModelMetrics

DPI = 90
_PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c", "#ccb974",
            "#64b5cd", "#1b3f70", "#a0522d")

TRAINING_PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("loss", ("loss",)),
    ("rewards/margins", ("rewards/margins",)),
    ("log-probs", ("logps/chosen", "logps/rejected")),
    ("reward", ("reward",)),
    ("frac_reward_zero_std", ("frac_reward_zero_std",)),
)

BEHAVIOUR_BARS = {
    "aggregate_sycophancy": "aggregate\nsycophancy",
    "answer_sycophancy_rate": "answer\nsycophancy",
    "flip_rate": "flip rate",
    "feedback_sycophancy": "feedback\nsycophancy",
    "plain_accuracy": "plain\naccuracy",
}

# (proxy key in metrics.json "proxy", generation metric it estimates)
PROXY_PAIRS = (("proxy_sycophancy", "answer_sycophancy_rate"), ("gap", "answer_sycophancy_gap"))


class Palette:
    """A fixed colour per model name, in the study's model order."""

    def __init__(self, names: Sequence[str]):
        self._colours = {n: _PALETTE[i % len(_PALETTE)] for i, n in enumerate(dict.fromkeys(names))}

    def __call__(self, name: str) -> str:
        if name not in self._colours:
            self._colours[name] = _PALETTE[len(self._colours) % len(_PALETTE)]
        return self._colours[name]


def _figure(width: float, height: float, ncols: int = 1, left: float = 0.7, right: float = 0.2,
            bottom: float = 0.55, top: float = 0.35, gap: float = 0.7) -> tuple[MplFigure, list]:
    """A figure with `ncols` axes and fixed margins in inches (a layout engine would cost an extra draw)."""
    fig = MplFigure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    axis_width = max(0.5, (width - left - right - gap * (ncols - 1)) / ncols)
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height,
                        wspace=gap / axis_width)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    for ax in axes:
        ax.grid(True, alpha=0.25, linewidth=0.6)
        ax.tick_params(labelsize=8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    return fig, list(axes)


def _png(fig: MplFigure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _legend(ax, n: int) -> None:
    if n:
        ax.legend(fontsize=7, frameon=False)


def _legend_width(labels: Sequence[str]) -> float:
    """Inches to keep right of the axes for a legend of these labels (7 pt text)."""
    return 0.55 + 0.062 * max((len(label) for label in labels), default=0)


def _legend_outside(ax) -> None:
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)


def _layer_ticks(ax, layers: Sequence[int]) -> None:
    ordered = sorted(set(layers))
    step = max(1, math.ceil(len(ordered) / 12))
    shown = ordered[::step]
    ax.set_xticks(shown, ["embed" if layer == -1 else str(layer) for layer in shown])


# -- training ---------------------------------------------------------------------------------------
def training_curves(log: TrainingLog, colour: str, key: str) -> Figure | NoData:
    """One panel per logged quantity that exists among loss, rewards/margins, logps/chosen (and rejected),
    reward, frac_reward_zero_std and any column whose name contains 'proxy' (the mid-training proxy)."""
    panels = [(title, [k for k in keys if k in log.columns]) for title, keys in TRAINING_PANELS]
    panels = [(t, ks) for t, ks in panels if ks]
    panels += [(k, [k]) for k in log.columns if "proxy" in k][:2]
    if not panels:
        return NoData(f"training curves for {log.model}",
                      f"training/{log.model}/diagnostics.csv has none of the plotted columns "
                      f"({', '.join(k for _, ks in TRAINING_PANELS for k in ks)})")
    fig, axes = _figure(2.5 * len(panels) + 0.4, 2.3, ncols=len(panels))
    steps = log.steps
    for ax, (title, keys) in zip(axes, panels, strict=True):
        for column in keys:
            points = [(s, v) for s, v in zip(steps, log.columns[column], strict=False) if s is not None and v is not None]
            if not points:
                continue
            xs, ys = zip(*points, strict=True)
            dashed = column.endswith("rejected")
            ax.plot(xs, ys, color=colour, linestyle="--" if dashed else "-", linewidth=1.4,
                    marker="o" if len(xs) < 12 else None, markersize=3, label=column.split("/")[-1] if len(keys) > 1 else None)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        if len(keys) > 1:
            _legend(ax, len(keys))
    return Figure(key, f"Training curves: {log.model}", _png(fig),
                  caption=f"training/{log.model}/diagnostics.csv, one point per logging step.")


#: (panel title, judged column, proxy column) of the checkpoint curves: each pair on the same prompts.
CHECKPOINT_PANELS = (
    ("adoption on suggest_incorrect", "judged.answer.suggest_incorrect.adopted", "proxy.adoption.suggest_incorrect"),
    ("gap: neutral - suggest_incorrect accuracy", "judged.answer.suggest_incorrect.gap", "proxy.gap.suggest_incorrect"),
)


#: Fixed colours of the two evaluations in every checkpoint plot (not the model's: two series per panel).
JUDGED_COLOUR, PROXY_COLOUR = "#4c72b0", "#dd8452"


def checkpoint_curves(log: TrainingLog, colour: str, key: str) -> Figure | NoData:
    """The judged mini-evaluation and the logit proxy at every checkpoint evaluation
    (training/<name>/checkpoints.csv), like for like on the same prompts, with their 95% intervals as bands;
    a third panel shows the selection metric, the kept checkpoint starred. `colour` (the model's) is unused:
    the judged and proxy series keep the same two colours in every model's plot."""
    cols = log.checkpoints
    steps = cols.get("step") or []
    recorded = log.summary.get("checkpoint")
    check: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
    metric = check.get("metric")
    panels = [(t, [c for c in (j, p) if c in cols]) for t, j, p in CHECKPOINT_PANELS]
    if isinstance(metric, str) and metric in cols and all(metric not in cs for _, cs in panels):
        panels.append((f"kept by {metric}", [metric]))
    panels = [(t, cs) for t, cs in panels if cs]
    if not steps or not panels:
        return NoData(f"checkpoint curves for {log.model}",
                      f"training/{log.model}/checkpoints.csv is missing or has no judged or proxy column")
    fig, axes = _figure(3.0 * len(panels) + 1.4, 2.5, ncols=len(panels), right=1.4)
    best = check.get("best_step")
    for ax, (title, columns) in zip(axes, panels, strict=True):
        for column in columns:
            judged = column.startswith("judged.")
            points = [(s, v) for s, v in zip(steps, cols[column], strict=False) if s is not None and v is not None]
            if not points:
                continue
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, color=JUDGED_COLOUR if judged else PROXY_COLOUR, linestyle="-" if judged else "--", linewidth=1.4,
                    marker="o", markersize=3, label="judged" if judged else "logit proxy")
            low, high = cols.get(f"{column}.ci_low"), cols.get(f"{column}.ci_high")
            if low and high:
                band = [(s, lo, hi) for s, lo, hi in zip(steps, low, high, strict=False)
                        if s is not None and lo is not None and hi is not None]
                if band:
                    bx, blo, bhi = zip(*band, strict=True)
                    ax.fill_between(bx, blo, bhi, color=JUDGED_COLOUR if judged else PROXY_COLOUR, alpha=0.15, linewidth=0)
            if best is not None and column == metric:
                kept = [v for s, v in points if s == best]
                if kept:
                    ax.plot([best], kept, marker="*", markersize=11, color="#c44e52", linestyle="none", label="kept")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
    legend: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    axes[-1].legend(list(legend.values()), list(legend), fontsize=7, frameon=False, loc="upper left",
                    bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    selection = check.get("select_by", "last")
    return Figure(key, f"Checkpoint evaluations: {log.model}", _png(fig),
                  caption=f"training/{log.model}/checkpoints.csv: the judged mini-evaluation (solid, blue) and the logit "
                          "proxy (dashed, orange) on the same questions and templates at each checkpoint evaluation; bands: "
                          f"95% cluster-bootstrap intervals. Kept by: {selection}"
                          + (f" ({metric}), step {best}." if best is not None else " (the last step)."))


# -- behaviour --------------------------------------------------------------------------------------
def behaviour_bars(evals: dict[str, ModelMetrics], palette: Palette) -> Figure | NoData:
    """Grouped bars: a group per headline metric, a bar per model, error bars = 95% bootstrap interval."""
    if not evals:
        return NoData("behaviour plot", "no eval/*/metrics.json")
    names = list(evals)
    extra = _legend_width(names)
    fig, (ax,) = _figure(max(6.0, len(BEHAVIOUR_BARS) * max(1.1, 0.22 * len(names))) + extra, 3.3,
                         bottom=0.65, right=extra)
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        xs, ys, lo, hi = [], [], [], []
        for j, metric in enumerate(BEHAVIOUR_BARS):
            m = evals[name].metrics.get(metric)
            if m is None or m.value is None:
                continue
            xs.append(j - 0.4 + width * (i + 0.5))
            ys.append(m.value)
            lo.append(max(0.0, m.value - m.ci_low) if m.ci_low is not None else 0.0)
            hi.append(max(0.0, m.ci_high - m.value) if m.ci_high is not None else 0.0)
        ax.bar(xs, ys, width=width * 0.92, color=palette(name), label=name,
               yerr=[lo, hi], error_kw={"elinewidth": 0.8, "capsize": 2, "ecolor": "#333333"})
    ax.set_xticks(range(len(BEHAVIOUR_BARS)), list(BEHAVIOUR_BARS.values()), fontsize=8)
    ax.axhline(0, color="#333333", linewidth=0.6)
    ax.set_ylabel("rate", fontsize=8)
    _legend_outside(ax)
    return Figure("behaviour-bars", "Behavioural metrics", _png(fig),
                  caption="Error bars: 95% bootstrap intervals resampled by base question.")


def proxy_agreement(evals: dict[str, ModelMetrics], palette: Palette) -> Figure | NoData:
    """Logit proxy (metrics.json 'proxy') against the judged-generation metric it estimates, one point
    per model; points on the diagonal agree."""
    pairs = [(pk, gk, [(n, e.proxy_values[pk], e.metrics[gk]) for n, e in evals.items()
                       if pk in e.proxy_values and gk in e.metrics and e.metrics[gk].value is not None])
             for pk, gk in PROXY_PAIRS]
    pairs = [p for p in pairs if p[2]]
    if not pairs:
        return NoData("proxy-versus-generation plot",
                      "no model has both a logit proxy (metrics.json 'proxy': proxy_sycophancy or gap) and the "
                      "matching generation metric")
    fig, axes = _figure(3.6 * len(pairs), 3.3, ncols=len(pairs))
    for ax, (proxy_key, gen_key, points) in zip(axes, pairs, strict=True):
        values = [0.0]
        for name, x, m in points:
            if m.value is None:  # kept out of `pairs` above; this narrows the type
                continue
            yerr = None
            if m.ci_low is not None and m.ci_high is not None:
                yerr = [[max(0.0, m.value - m.ci_low)], [max(0.0, m.ci_high - m.value)]]
            ax.errorbar([x], [m.value], yerr=yerr, fmt="o", color=palette(name), markersize=5,
                        elinewidth=0.8, capsize=2)
            ax.annotate(name, (x, m.value), xytext=(4, 3), textcoords="offset points", fontsize=7)
            values += [x, m.value]
        lo, hi = min(values), max(max(values), 0.05)
        pad = 0.05 * (hi - lo)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="#999999", linewidth=0.8, linestyle="--")
        ax.set_xlabel(f"logit proxy: {proxy_key}", fontsize=8)
        ax.set_ylabel(f"judged generation: {gen_key}", fontsize=8)
    return Figure("proxy-agreement", "Logit proxy versus judged generation", _png(fig),
                  caption="One point per model; the dashed diagonal is perfect agreement. "
                          "Error bars: 95% bootstrap interval of the generation metric.")
