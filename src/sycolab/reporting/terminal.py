"""The study's headline tables as aligned plain text, for the end of `sycolab run` and for `sycolab report`."""

from __future__ import annotations

from pathlib import Path

from sycolab.methods.health import CHANCE_ACCURACY, COLLAPSE_FRACTION, MIN_GRPO_KL, MIN_TRUTH_FALL
from sycolab.reporting._results import StudyData
from sycolab.reporting.assemble import _training_logs
from sycolab.reporting.document import NoData, Table
from sycolab.reporting.probe_tables import probing_table
from sycolab.reporting.tables import behaviour_table
from sycolab.reporting.training_tables import training_table

TERMINAL_BEHAVIOUR = ["model", "aggregate_sycophancy", "answer_sycophancy_rate", "answer_sycophancy_gap",
                      "plain_accuracy", "flip_rate", "correction_rate", "feedback_sycophancy", "feedback_rating_shift",
                      "answer_adoption_known", "answer_abandonment_known", "seed.aggregate_sycophancy", "seed.answer_sycophancy_rate",
                      "seed.feedback_sycophancy"]
TERMINAL_TRAINING = ["model", "method", "train_acc", "held_out_acc", "trend", "flags"]
TRAINING_FLAG_RULES = (f"flags: under-trained = preference margin never > 0 or last train pref. acc. <= {CHANCE_ACCURACY}, "
                       f"or GRPO KL never reaches {MIN_GRPO_KL}; "
                       f"reward hacking = GRPO reward-model score rising while the rule reward or plain accuracy "
                       f"falls by {MIN_TRUTH_FALL} or more; collapsed = judged plain accuracy on the selection slice "
                       f"below {COLLAPSE_FRACTION} of its highest at an earlier checkpoint")
TERMINAL_PROBING = ["model", "labels", "mean_auroc", "above_chance", "peak", "transfer_auroc", "p_holm",
                    "interpretation", "cosine", "recovery"]


def text_table(table: Table) -> str:
    """Columns padded to their widest cell; numbers right-aligned, text left-aligned. Cell details are left out."""
    header = [c.label for c in table.columns]
    body = [[cell.text for cell in row] for row in table.rows]
    widths = [max(len(x) for x in column) for column in zip(header, *body, strict=True)]
    numeric = [any(row[i].numeric for row in table.rows) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if n and i else c.ljust(w)
                         for i, (c, w, n) in enumerate(zip(cells, widths, numeric, strict=True))).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in body])


def _section(title: str, built: Table | NoData, columns: list[str], legend: str = "") -> list[str]:
    if isinstance(built, NoData):
        return [title, f"  {built.message}", ""]
    table = built.select(columns)
    return [title, text_table(table), *(f"  * {note}" for note in built.notes), *([f"  {legend}"] if legend else []), ""]


def section_text(title: str, built: Table | NoData, columns: list[str]) -> str:
    """One titled table (restricted to `columns`) with its notes, or the reason it is empty."""
    return "\n".join(_section(title, built, columns)).rstrip()


def terminal_summary(run_dir: Path) -> str:
    """Behavioural, training-health and probing tables as aligned text, and where the HTML report is (if it exists)."""
    data = StudyData.read(Path(run_dir))
    lines = _section("Behaviour (value [95% bootstrap CI])", behaviour_table(data), TERMINAL_BEHAVIOUR)
    lines += _section("Training", training_table(data, _training_logs(data)), TERMINAL_TRAINING, TRAINING_FLAG_RULES)
    lines += _section("Probing", probing_table(data), TERMINAL_PROBING)
    html = Path(run_dir) / "report" / "report.html"
    if html.exists():
        lines.append(f"Full report: {html.resolve()}")
    else:
        lines.append(f"No HTML report yet ({html} not found): run `sycolab report {run_dir}`.")
    return "\n".join(lines)
