"""Reports built from the run store alone: Markdown and one self-contained HTML page with tables,
plots and a sample browser, plus the terminal summary. No model is loaded and torch is never imported.

    build_report(run_dir, cfg)   -> [report/report.md, report/report.html]
    terminal_summary(run_dir)    -> aligned plain-text tables
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sycolab.errors import UserError
from sycolab.io import atomic_dir, atomic_write_text
from sycolab.reporting._results import StudyData
from sycolab.reporting.document import Figure, Report
from sycolab.reporting.render_html import render_html
from sycolab.reporting.render_markdown import render_markdown
from sycolab.reporting.terminal import terminal_summary

if TYPE_CHECKING:
    from sycolab.config.sections import ReportConfig

__all__ = ["build_report", "build_document", "terminal_summary"]

FIGURE_DIR = "figures"


def build_document(run_dir: Path, cfg: ReportConfig) -> Report:
    """The report as data (sections of tables, figures, notes), read from the run store."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: run dir not found")
    from sycolab.reporting.assemble import assemble_report  # imports matplotlib: only when a report is built

    return assemble_report(StudyData.read(run_dir), cfg)


def build_report(run_dir: Path, cfg: ReportConfig) -> list[Path]:
    """Write report/report.md (+ report/figures/*.png it links to) and report/report.html, per
    `cfg.formats`, atomically; return the paths of the report files written.

    `cfg` is a `sycolab.config.sections.ReportConfig` (any object with `formats` and
    `max_samples_per_model` will do; the config module is not imported here, to keep torch out).
    """
    report = build_document(run_dir, cfg)
    out = Path(run_dir) / "report"
    written: list[Path] = []
    if "markdown" in cfg.formats:
        figures = [b for s in report.sections for b in s.blocks if isinstance(b, Figure)]
        with atomic_dir(out / FIGURE_DIR) as tmp:
            for figure in figures:
                (tmp / f"{figure.key}.png").write_bytes(figure.png)
        written.append(atomic_write_text(out / "report.md", render_markdown(report, FIGURE_DIR)))
    if "html" in cfg.formats:
        written.append(atomic_write_text(out / "report.html", render_html(report)))
    return written
