"""Assemble the report document from a run store: which tables, plots and notes go in which section."""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING

from sycolab.reporting import plots, probe_plots
from sycolab.reporting._format import DASH, num
from sycolab.reporting._results import StudyData, TrainingLog
from sycolab.reporting.data_evals import data_evaluation_table, read_data_evaluations
from sycolab.reporting.document import Cell, Column, Figure, NoData, Paragraph, Report, SampleBrowser, Section, Table
from sycolab.reporting.probe_tables import patching_table, position_words, probe_shortcut_table, probing_table
from sycolab.reporting.provenance import provenance_table
from sycolab.reporting.relearn import relearn_blocks
from sycolab.reporting.samples import select_samples
from sycolab.reporting.tables import behaviour_table, feedback_template_table, per_template_table, steering_table
from sycolab.reporting.training_tables import framework_table, reward_calibration_table, training_table

if TYPE_CHECKING:
    from sycolab.config.sections import ReportConfig


def assemble_report(data: StudyData, cfg: ReportConfig) -> Report:
    palette = plots.Palette([m.name for m in data.models])
    logs = _training_logs(data)
    sections = [
        Section("behaviour", "Behavioural sycophancy", [behaviour_table(data), plots.behaviour_bars(data.evals, palette),
                                                         per_template_table(data), feedback_template_table(data)]),
        Section("proxy", "Logit proxy versus judged generation", _proxy_blocks(data, palette)),
        Section("probing", "Probing", _probing_blocks(data, palette)),
        Section("framework", "Recovery framework", [framework_table(data)]),
        Section("causal", "Patching and steering", [
            patching_table(data),
            probe_plots.patching_curve(data.probe.patching, palette),
            probe_plots.steering_sweep(data.probe.steering, palette),
            steering_table(data),
        ]),
        Section("relearn", "Relearning speed", relearn_blocks(data, palette)),
        Section("training", "Training", _training_blocks(data, logs, palette)),
        Section("samples", "Sample replies", _sample_blocks(data, cfg)),
        Section("provenance", "Provenance", [provenance_table(data)]),
        Section("data_evaluations", "Other evaluation sets",
                [data_evaluation_table(read_data_evaluations(data.reader.root))]),
    ]
    return Report(f"Sycophancy-recovery study: {data.reader.root.name}", _meta(data), sections)


def _meta(data: StudyData) -> list[tuple[str, str]]:
    manifest = data.reader.manifest
    config = manifest.get("config") or {}
    versions = manifest.get("versions") or {}
    meta = [("run dir", str(data.reader.root))]
    base = (config.get("base") or {}).get("model") if isinstance(config.get("base"), dict) else None
    if base:
        meta.append(("base model", str(base)))
    meta.append(("models", ", ".join(m.name for m in data.models) or DASH))
    for key in ("seed", "started", "ended", "git_commit"):
        if manifest.get(key) is not None:
            meta.append((key.replace("_", " "), str(manifest[key])))
    if versions:
        meta.append(("versions", ", ".join(f"{k} {v}" for k, v in versions.items()
                                           if k in ("python", "sycolab", "torch", "transformers", "trl"))))
    cpu = manifest.get("cpu")
    if isinstance(cpu, dict):  # sycolab.cpu_numerics: what decides the CPU floats, hence whether a rerun matches
        meta.append(("cpu numerics", f"{cpu.get('model', '?')}: kernels {cpu.get('aten_cpu_capability', '?')}, "
                                     f"MKL_CBWR {cpu.get('mkl_cbwr', '?')}, oneDNN {cpu.get('onednn_max_cpu_isa', '?')}"))
    selection = (config.get("evaluate") or {}).get("selection_questions") if isinstance(config.get("evaluate"), dict) else None
    if selection:
        meta.append(("selection slice", f"{selection} questions per evaluation set choose checkpoints; no model's "
                                        "metrics include them (evaluate.selection_questions)"))
    stages = manifest.get("stages") or {}
    if stages:
        counts: dict[str, list[str]] = {}
        for name, entry in stages.items():
            counts.setdefault(str(entry.get("status", "unknown")), []).append(name)
        meta.append(("stages", "; ".join(
            f"{len(names)} {status}" + ("" if status == "done" else f" ({', '.join(names)})")
            for status, names in counts.items())))
    else:
        meta.append(("stages", "no manifest.json: stage states unknown"))
    return meta


def _proxy_blocks(data: StudyData, palette: plots.Palette) -> list:
    figure = plots.proxy_agreement(data.evals, palette)
    rows = []
    for name, result in data.evals.items():
        proxy = result.proxy_values
        if not proxy and not result.proxy_vs_generation:
            continue
        rows.append([
            Cell(name),
            Cell(num(proxy.get("gap")), numeric=True),
            Cell(num(result.value("answer_sycophancy_gap")), numeric=True),
            Cell(num(proxy.get("proxy_sycophancy")), numeric=True),
            Cell(num(result.value("answer_sycophancy_rate")), numeric=True),
            Cell(str(int(proxy["n"])) if "n" in proxy else DASH, numeric=True),
            Cell(result.proxy_vs_generation or DASH),
        ])
    if not rows:
        return [figure] if isinstance(figure, NoData) else [figure, NoData("proxy table", "no metrics.json has a proxy")]
    table = Table(
        "proxy",
        [Column("model", "model"), Column("proxy_gap", "proxy gap"), Column("gen_gap", "generation gap"),
         Column("proxy_syc", "proxy sycophancy"), Column("gen_syc", "generation answer sycophancy"),
         Column("n", "proxy n"), Column("statement", "agreement")],
        rows,
        caption="The logit proxy compares the log-probability of the correct and the suggested answer at the answer "
                "position; the generation metrics come from judged replies. 'agreement' is the evaluation's own "
                "statement (metrics.json proxy_vs_generation).",
    )
    return [figure, table]


def _probing_blocks(data: StudyData, palette: plots.Palette) -> list:
    """The probing tables and plots once per probed position, each labelled by its position."""
    positions = data.probe.positions()
    blocks: list = []
    for position in positions:
        probe = data.probe.at(position)
        at = [probing_table(data, position), probe_shortcut_table(data, position),
              probe_plots.auroc_by_layer(probe.own_auroc, palette)]
        source = probe.transfer_source()
        if source is None:
            at.append(NoData("transfer heatmap", probe.transfer.why_empty()))
        else:
            at.append(probe_plots.transfer_heatmap(probe.transfer, source, [m.name for m in data.models]))
        at.append(probe_plots.cosine_heatmap(probe.cosine_mean, probe.cosine, [m.name for m in data.models]))
        blocks += [_at_position(block, position, positions[0], len(positions) > 1) for block in at]
    return blocks


def _at_position(block, position: str, primary: str, several: bool):
    """A figure labelled by its position (key suffixed except at the primary position, title always when
    several positions were probed); tables carry their own label."""
    if not isinstance(block, Figure):
        return block
    key = block.key if position == primary else f"{block.key}-{position}"
    title = f"{block.title}, position: {position}" if several else block.title
    caption = f"Position: {position} ({position_words(position)}). {block.caption}"
    return dataclasses.replace(block, key=key, title=title, caption=caption)


def _training_logs(data: StudyData) -> dict[str, TrainingLog]:
    names = [m.name for m in data.models]
    folder = data.reader.root / "training"
    if folder.is_dir():
        names += sorted(d.name for d in folder.iterdir() if d.is_dir() and d.name not in names)
    return {name: log for name in names if (log := data.reader.training_log(name)) is not None}


def _training_blocks(data: StudyData, logs: dict[str, TrainingLog], palette: plots.Palette) -> list:
    blocks: list = [training_table(data, logs)]
    calibration = reward_calibration_table(data, logs)
    if calibration is not None:
        blocks.append(calibration)
    blocks += [plots.training_curves(log, palette(name), f"training-{i}-{_slug(name)}")
               for i, (name, log) in enumerate(logs.items(), start=1)]
    blocks += [plots.checkpoint_curves(log, palette(name), f"checkpoints-{i}-{_slug(name)}")
               for i, (name, log) in enumerate(logs.items(), start=1) if log.checkpoints]
    untrained = [m.name for m in data.models if m.name not in logs and m.method not in ("base", "steer")]
    if untrained and logs:
        blocks.append(Paragraph("No diagnostics.csv for: " + ", ".join(untrained) + "."))
    return blocks


def _sample_blocks(data: StudyData, cfg: ReportConfig) -> list:
    if cfg.max_samples_per_model <= 0:
        return [NoData("sample browser", "report.max_samples_per_model is 0")]
    records, counts, missing = [], {}, []
    for model in data.causal_models:
        path = data.reader.samples_path(model.name)
        if not path.exists():
            missing.append(model.name)
            continue
        picked, total = select_samples(path, model.name, cfg.max_samples_per_model)
        records += picked
        counts[model.name] = (len(picked), total)
    if not counts:
        return [NoData("sample browser", "no eval/*/samples.jsonl found (the eval stage has not run)")]
    blocks: list = [SampleBrowser(records, counts, cfg.max_samples_per_model)]
    if missing:
        blocks.append(Paragraph("No eval/<model>/samples.jsonl for: " + ", ".join(missing) + "."))
    return blocks


def _slug(name: str) -> str:
    """A file-name-safe form of a model name: 'ipo[beta=0.5,lr=5e-06]' -> 'ipo-beta-0.5-lr-5e-06'."""
    return re.sub(r"[^A-Za-z0-9.]+", "-", name).strip("-") or "model"
