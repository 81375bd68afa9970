"""The report's probing plots (probe/*.csv and the steer stage's sweep): AUROC by layer, direction cosines,
transfer, patching and the steering sweep. Drawing helpers and colours are those of `sycolab.reporting.plots`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

from sycolab.reporting._results import TableFile
from sycolab.reporting.document import Figure, NoData
from sycolab.reporting.plots import Palette, _figure, _layer_ticks, _legend_outside, _legend_width, _png
from sycolab.store.records import CosineMeanRow, CosineRow, OwnAurocRow, PatchingRow, SteeringRow, TransferRow


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
