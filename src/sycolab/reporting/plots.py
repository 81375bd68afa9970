"""The report's plots, drawn with matplotlib's object API on the Agg canvas (no pyplot state, no display)
and returned as PNG bytes. Each function returns a `Figure`, or a `NoData` saying why it cannot be drawn.

Colours follow the model order of the study, so a model has the same colour in every plot.
"""

from __future__ import annotations

import io
import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as MplFigure

from sycolab.reporting._results import (
    CosineMeanRow,
    CosineRow,
    EvalResult,
    OwnAurocRow,
    PatchingRow,
    SteeringRow,
    TableFile,
    TrainingLog,
    TransferRow,
)
from sycolab.reporting.document import Figure, NoData

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
def behaviour_bars(evals: dict[str, EvalResult], palette: Palette) -> Figure | NoData:
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


def proxy_agreement(evals: dict[str, EvalResult], palette: Palette) -> Figure | NoData:
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


# -- probing ----------------------------------------------------------------------------------------
def auroc_by_layer(table: TableFile[OwnAurocRow], palette: Palette) -> Figure | NoData:
    """Held-out probe AUROC per layer for every model with its 95% interval (band); grey dashes: the mean over
    models of the null's 95th percentile (question-preserving label permutations)."""
    if not table.ok:
        return NoData("per-layer AUROC plot", table.why_empty())
    kinds = list(dict.fromkeys(r.kind for r in table.rows))
    floor_label = "null 95th percentile"
    extra = _legend_width([r.model for r in table.rows] + [floor_label])
    fig, axes = _figure(4.2 * len(kinds) + extra, 3.2, ncols=len(kinds), right=extra)
    for ax, kind in zip(axes, kinds, strict=True):
        rows = [r for r in table.rows if r.kind == kind]
        by_model: dict[str, list[OwnAurocRow]] = defaultdict(list)
        for r in rows:
            by_model[r.model].append(r)
        for name, mine in by_model.items():
            mine.sort(key=lambda r: r.layer)
            pts = [(r.layer, r.auroc) for r in mine if r.auroc is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="o", markersize=3, linewidth=1.4, color=palette(name), label=name)
            band = [(r.layer, r.ci_low, r.ci_high) for r in mine if r.ci_low is not None and r.ci_high is not None]
            if band:
                layers_, low, high = zip(*band, strict=True)
                ax.fill_between(layers_, low, high, color=palette(name), alpha=0.15, linewidth=0)
        nulls: dict[int, list[float]] = defaultdict(list)
        for r in rows:
            if r.null_p95 is not None:
                nulls[r.layer].append(r.null_p95)
        if nulls:
            layers = sorted(nulls)
            ax.plot(layers, [sum(nulls[la]) / len(nulls[la]) for la in layers], color="#777777",
                    linestyle="--", linewidth=1.1, label=floor_label)
        ax.axhline(0.5, color="#bbbbbb", linewidth=0.8, linestyle=":")
        _layer_ticks(ax, [r.layer for r in rows])
        ax.set_xlabel("layer", fontsize=8)
        ax.set_ylabel("AUROC (held out)", fontsize=8)
        ax.set_title(f"{kind} probes", fontsize=9)
    _legend_outside(axes[-1])
    return Figure("auroc-by-layer", "Probe AUROC per layer", _png(fig),
                  caption="Each model's probes on its own activations and labels, out-of-fold by question; bands: 95% "
                          "bootstrap interval over questions; dashes: the 95th percentile of the AUROC under "
                          "question-preserving label permutations (mean over models), the bar for 'above chance'.")


def cosine_heatmap(mean_table: TableFile[CosineMeanRow], layer_table: TableFile[CosineRow],
                   models: Sequence[str], max_layer_panels: int = 5) -> Figure | NoData:
    """Model x model cosine between logistic probe directions: the mean over layers, then up to
    `max_layer_panels` single layers spread evenly over the depth."""
    if not mean_table.ok and not layer_table.ok:
        return NoData("cosine heatmap", mean_table.why_empty())
    pairs = [(r.model_a, r.model_b) for r in layer_table.rows] + [(r.model_a, r.model_b) for r in mean_table.rows]
    present = dict.fromkeys(m for pair in pairs for m in pair)
    order = [m for m in models if m in present] + [m for m in present if m not in models]
    if not order:
        return NoData("cosine heatmap", "no probe directions in probe/cosine.csv")
    layers = sorted({r.layer for r in layer_table.rows})
    if len(layers) > max_layer_panels:
        step = (len(layers) - 1) / (max_layer_panels - 1)
        layers = [layers[round(i * step)] for i in range(max_layer_panels)]
    panels: list[tuple[str, dict[tuple[str, str], float | None]]] = [
        ("mean over layers", {(r.model_a, r.model_b): r.mean_cosine for r in mean_table.rows})
    ]
    panels += [(f"layer {'embed' if la == -1 else la}",
                {(r.model_a, r.model_b): r.cosine for r in layer_table.rows if r.layer == la}) for la in layers]
    margin = 0.45 + 0.065 * max(len(m) for m in order)
    size = 0.42 * len(order) + 0.3
    fig, axes = _figure(margin + (size + 0.3) * len(panels) + 1.0, size + margin + 0.4, ncols=len(panels),
                        left=margin, right=1.0, bottom=margin, gap=0.3)
    images = []
    for ax, (title, values) in zip(axes, panels, strict=True):
        grid = [[_cos(values, a, b) for b in order] for a in order]
        ax.grid(False)
        images.append(ax.imshow(grid, cmap="RdBu_r", vmin=-1.0, vmax=1.0))
        if len(order) <= 8:
            for i, row in enumerate(grid):
                for j, value in enumerate(row):
                    if not math.isnan(value):
                        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6,
                                color="white" if abs(value) > 0.6 else "black")
        ax.set_xticks(range(len(order)), order, fontsize=7, rotation=90)
        ax.set_yticks(range(len(order)), order if ax is axes[0] else [], fontsize=7)
        ax.set_title(title, fontsize=8)
    bar = fig.colorbar(images[0], ax=list(axes), shrink=0.8)
    bar.set_label("cosine", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    return Figure("cosine-heatmap", "Cosine between probe directions", _png(fig),
                  caption="Cosine of the logistic probe directions (weights mapped to the raw activation space) of "
                          "every model pair: the mean over the layers both models were probed at (probe/cosine_mean.csv), "
                          "then single layers (probe/cosine.csv). 1 = same axis, 0 = orthogonal, -1 = flipped.")


def _cos(values: dict[tuple[str, str], float | None], a: str, b: str) -> float:
    value = values.get((a, b), values.get((b, a)))
    return math.nan if value is None else float(value)


def transfer_heatmap(table: TableFile[TransferRow], source: str, targets: Sequence[str]) -> Figure | NoData:
    """Cross-fitted AUROC of the source's probe at each (target, layer); '*' marks p_holm < 0.05."""
    rows = [r for r in table.rows if r.source == source]
    if not rows:
        return NoData("transfer heatmap", table.why_empty() if not table.ok else f"no transfer rows from {source}")
    present = dict.fromkeys(r.target for r in rows)
    order = [t for t in targets if t in present] + [t for t in present if t not in targets]
    layers = sorted({r.layer for r in rows})
    grid = [[math.nan] * len(layers) for _ in order]
    stars = []
    for r in rows:
        i, j = order.index(r.target), layers.index(r.layer)
        grid[i][j] = math.nan if r.auroc is None else r.auroc
        if r.p_holm is not None and r.p_holm < 0.05:
            stars.append((i, j))
    left = 0.45 + 0.065 * max(len(t) for t in order)
    fig, (ax,) = _figure(max(4.0, 0.35 * len(layers) + left + 1.2), max(2.2, 0.3 * len(order) + 1.0), left=left)
    ax.grid(False)
    image = ax.imshow(grid, cmap="RdBu_r", vmin=0.0, vmax=1.0, aspect="auto")
    bar = fig.colorbar(image, ax=ax, shrink=0.9)
    bar.set_label("AUROC", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    annotate = len(layers) <= 12 and len(order) <= 12
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            star = "*" if (i, j) in stars else ""
            if annotate and not math.isnan(value):
                ax.text(j, i, f"{value:.2f}{star}", ha="center", va="center", fontsize=7,
                        color="white" if abs(value - 0.5) > 0.3 else "black")
            elif star:
                ax.text(j, i, star, ha="center", va="center", fontsize=8)
    ax.set_yticks(range(len(order)), order, fontsize=8)
    step = max(1, math.ceil(len(layers) / 18))
    ax.set_xticks(range(0, len(layers), step), ["embed" if la == -1 else str(la) for la in layers[::step]], fontsize=7)
    ax.set_xlabel("layer", fontsize=8)
    ax.set_ylabel("target model", fontsize=8)
    return Figure("transfer-heatmap", f"Transfer of {source}'s probes", _png(fig),
                  caption=f"AUROC of {source}'s probe on each target model's activations and labels, no retraining. "
                          "Scores are cross-fitted: the probe fit on the source's other questions scores each "
                          "target's held-out questions. * = p < 0.05, max-T permutation test over layers per target, "
                          "Holm over targets (floor k/(n+1)).")


def patching_curve(table: TableFile[PatchingRow], palette: Palette) -> Figure | NoData:
    """Share of the sycophancy gap removed by patching at each layer, per model and position (solid: the
    answer position, dashed: the last prompt token, dotted: any other)."""
    if not table.ok:
        return NoData("patching curve", table.why_empty())
    by_line: dict[tuple[str, str], list[PatchingRow]] = defaultdict(list)
    for r in table.rows:
        by_line[(r.model, str(r.position))].append(r)
    labels = [f"{name} ({position})" for name, position in by_line]
    extra = _legend_width(labels)
    fig, (ax,) = _figure(4.6 + extra, 3.0, right=extra)
    for (name, position), mine in by_line.items():
        pts = sorted((r.layer, r.share_removed) for r in mine if r.share_removed is not None)
        if pts:
            ax.plot(*zip(*pts, strict=True), marker="o", markersize=3, linewidth=1.4, color=palette(name),
                    linestyle=PATCH_LINES.get(position, ":"), label=f"{name} ({position})")
    ax.axhline(0, color="#bbbbbb", linewidth=0.8)
    _layer_ticks(ax, [r.layer for r in table.rows])
    ax.set_xlabel("patched layer", fontsize=8)
    ax.set_ylabel("share of gap removed", fontsize=8)
    _legend_outside(ax)
    return Figure("patching-curve", "Activation patching", _png(fig),
                  caption="(gap before - gap after) / gap before per layer, from probe/patching.csv; solid: the "
                          "answer position (after the assistant prefix \"the answer is\"), dashed: the last prompt token.")


PATCH_LINES = {"answer": "-", "last": "--"}


def steering_sweep(table: TableFile[SteeringRow], palette: Palette) -> Figure | NoData:
    """Answer sycophancy and plain accuracy on the tuning questions against the steering strength alpha."""
    if not table.ok:
        return NoData("steering sweep", table.why_empty())
    lines: dict[tuple[str, int | None], list[SteeringRow]] = defaultdict(list)
    for r in table.rows:
        lines[(r.model, r.layer)].append(r)
    several_layers = len({layer for _, layer in lines}) > 1
    extra = _legend_width([f"{name} (L{layer})" for name, layer in lines])
    fig, axes = _figure(7.6 + extra, 3.0, ncols=2, right=extra)
    for (name, layer), mine in lines.items():
        mine.sort(key=lambda r: r.alpha)
        label = f"{name} (L{layer})" if several_layers and layer is not None else name
        for ax, key in zip(axes, ("answer_sycophancy_rate", "plain_accuracy"), strict=True):
            pts = [(r.alpha, getattr(r, key)) for r in mine if getattr(r, key) is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="o", markersize=3, linewidth=1.4, color=palette(name), label=label)
            kept = [(r.alpha, getattr(r, key)) for r in mine if r.kept and getattr(r, key) is not None]
            if kept:
                ax.plot(*zip(*kept, strict=True), marker="*", markersize=10, linestyle="", color=palette(name))
    for ax, key in zip(axes, ("answer_sycophancy_rate", "plain_accuracy"), strict=True):
        ax.set_xlabel("alpha (x mean difference)", fontsize=8)
        ax.set_title(key.replace("_", " "), fontsize=9)
        ax.axvline(0, color="#bbbbbb", linewidth=0.8)
    _legend_outside(axes[-1])
    return Figure("steering-sweep", "Steering strength sweep", _png(fig),
                  caption="Subtracting alpha times the mean difference between sycophantic and honest residuals at "
                          "inference time, on the tuning questions (steer/curve.csv); the star marks the kept alpha.")
