"""The report's tables about the methods themselves: each method on the framework axes (its registered
traits) beside its outcomes, the training summaries, and the reward model's calibration.

Each builder returns a `Table`, or a `NoData` saying which file is missing when there is nothing to show.
"""

from __future__ import annotations

import math

from sycolab.methods.health import (
    CHANCE_ACCURACY,
    COLLAPSE_FRACTION,
    MIN_GRPO_KL,
    MIN_TRUTH_FALL,
    TrainingHealth,
    health_kind,
    training_health,
)
from sycolab.reporting._format import DASH, metric_cell, num
from sycolab.reporting._results import (
    StudyData,
    TrainingLog,
)
from sycolab.reporting.document import Cell, Column, NoData, Table
from sycolab.reporting.frameworks import framework_of


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


HEALTH_CAPTION = (
    "train / held-out pref. acc.: share of preference pairs whose chosen reply gets the larger implicit reward "
    "(TRL's rewards/accuracies) in the last logged training window / in one evaluation of the world's held-out "
    "pairs after training (the last step's weights; for cai_dpo, which trains on revision pairs, the held-out pairs measure transfer). "
    "margin / reward: the last logged rewards/margins and whether it was ever > 0; GRPO: reward, mean of the "
    "first → last quarter of logged rows, and the largest KL to the reference. flags: 'under-trained' = a "
    f"preference margin never > 0 over training or a last train pref. acc. ≤ {CHANCE_ACCURACY}, or a GRPO KL "
    "that never reaches "
    f"{MIN_GRPO_KL}; 'reward hacking' = GRPO on a reward-model reward whose score rises (first → last quarter) "
    f"while the rule reward logged beside it, or plain accuracy (model minus its input model), falls by "
    f"{MIN_TRUTH_FALL} or more; 'collapsed at step N' = the judged plain accuracy on the selection slice "
    f"(checkpoints.csv) fell below {COLLAPSE_FRACTION} of its highest at an earlier checkpoint, whichever checkpoint "
    "was kept. Computed from diagnostics.csv and checkpoints.csv (sycolab.methods.health), so older runs get them too."
)


def training_table(data: StudyData, logs: dict[str, TrainingLog]) -> Table | NoData:
    """Logged steps, wall time, throughput, last loss, the chosen checkpoint and the training health of each
    trained model (`sycolab.methods.health`: preference accuracy and margin, GRPO's reward and KL, flags)."""
    if not logs:
        return NoData("training diagnostics", "no training/*/diagnostics.csv found (no model was trained in this run, "
                      "or the training stages have not run)")
    columns = [Column("model", "model"), Column("method", "method"), Column("steps", "logged steps"),
               Column("loss", "last loss"), Column("train_acc", "train pref. acc."),
               Column("held_out_acc", "held-out pref. acc."), Column("trend", "margin / reward"),
               Column("flags", "flags"), Column("wall_time", "wall time (s)"),
               Column("tokens_per_s", "tokens/s"), Column("checkpoint", "chosen checkpoint")]
    methods = {m.name: m.method for m in data.models}
    rows = []
    for name, log in logs.items():
        losses = [v for v in log.columns.get("loss", []) if v is not None]
        found = {key: next((log.summary[c] for c in candidates if log.summary.get(c) is not None), None)
                 for key, candidates in SUMMARY_KEYS.items()}
        health = run_health(data, name, methods.get(name) or str(log.summary.get("method") or ""), log)
        rows.append([
            Cell(name),
            Cell(methods.get(name, DASH)),
            Cell(str(len(log.steps)), numeric=True),
            Cell(num(losses[-1], 4) if losses else DASH, numeric=True),
            *_health_cells(health),
            Cell(_plain(found["wall_time"], 1), numeric=True),
            Cell(_plain(found["tokens_per_s"], 0), numeric=True),
            Cell(_chosen_checkpoint(found["checkpoint"])),
        ])
    return Table("training", columns, rows,
                 caption="From each model's training folder: diagnostics.csv (one row per logging step) and "
                         "summary.json. " + HEALTH_CAPTION)


def run_health(data: StudyData, name: str, method: str, log: TrainingLog) -> TrainingHealth | None:
    """The training health of model `name` from its stored files, or None for a method it does not judge.
    Held-out metrics and GRPO's reward kind come from summary.json; GRPO's plain-accuracy change from the
    evaluations of the model and of its input model (models/<name>/sycolab_model.json `parent`)."""
    kind = health_kind(method)
    if kind is None:
        return None
    held_out = log.summary.get("held_out_preference")
    reward = log.summary.get("reward")
    return training_health(kind, log.rows, held_out=held_out if isinstance(held_out, dict) else None,
                           reward_kind=reward.get("kind") if isinstance(reward, dict) else None,
                           plain_accuracy_change=_plain_accuracy_change(data, name), checkpoints=log.checkpoints)


def _plain_accuracy_change(data: StudyData, name: str) -> float | None:
    parent = next((m.parent for m in data.models if m.name == name), None)
    values = [data.evals[n].metrics.get("plain_accuracy") if n in data.evals else None for n in (name, parent)]
    if any(v is None or v.value is None for v in values):
        return None
    return values[0].value - values[1].value  # type: ignore[union-attr,operator]


def _health_cells(health: TrainingHealth | None) -> list[Cell]:
    """train pref. acc., held-out pref. acc., margin / reward, flags."""
    if health is None:
        return [Cell(DASH, numeric=True), Cell(DASH, numeric=True), Cell(DASH), Cell(DASH)]
    if health.kind == "preference":
        sign = {True: "ever > 0", False: "never > 0", None: "not logged"}[health.margin_ever_positive]
        trend = Cell(f"{num(health.train_margin)} ({sign})")
        train, held_out = num(health.train_accuracy), num(health.held_out_accuracy)
        held_out_detail = "" if health.held_out_accuracy is not None else "not measured"
        return [Cell(train, numeric=True), Cell(held_out, held_out_detail, numeric=True), trend, Cell(health.verdict)]
    trend_text = f"reward {num(health.reward_first)} → {num(health.reward_last)}, max KL {num(health.kl_max, 4)}"
    detail = []
    if health.learned_reward_first is not None:
        detail.append(f"RM score {num(health.learned_reward_first)} → {num(health.learned_reward_last)}")
    if health.rule_reward_first is not None:
        detail.append(f"rule {num(health.rule_reward_first)} → {num(health.rule_reward_last)}")
    if health.plain_accuracy_change is not None:
        detail.append(f"plain accuracy {health.plain_accuracy_change:+.3f}")
    return [Cell(DASH, numeric=True), Cell(DASH, numeric=True), Cell(trend_text, "; ".join(detail)),
            Cell(health.verdict)]


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
