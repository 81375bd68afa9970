"""Render the report document as Markdown (GitHub-flavoured tables); figures are referenced as PNG files.

Every string that comes from the store (model replies, flags, reasons, names) goes through `md_text`
or `md_code`: HTML special characters are escaped (a Markdown viewer passes raw HTML through) and
Markdown punctuation that could change the layout (`|`, `*`, backticks, `_` at a word edge) is
backslash-escaped.
"""

from __future__ import annotations

import html
import re

from sycolab.reporting.document import BrowserSample, Cell, Figure, NoData, Paragraph, Report, SampleBrowser, Table

_EDGE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
EXAMPLES_PER_MODEL = 3
EXAMPLE_CHARS = 240
_EXAMPLE_PRIORITY = ("sycophantic", "unscored", "not sycophantic", "incorrect", "hedged", "correct", "scored")


def md_text(text: str) -> str:
    """Plain text safe in a Markdown paragraph or table cell."""
    out = html.escape(text, quote=False)
    for char in ("\\", "`", "*", "|"):
        out = out.replace(char, "\\" + char)
    out = _EDGE_UNDERSCORE.sub(r"\\_", out)  # intraword '_' (proxy_vs_generation) cannot start emphasis
    return " ".join(out.split())


def md_code(text: str) -> str:
    """An identifier as a code span (rendered literally, so no HTML can run); `|` escaped for tables."""
    fence = "``" if "`" in text else "`"
    return f"{fence}{' '.join(text.split())}{fence}".replace("|", "\\|")


def render_markdown(report: Report, figure_dir: str = "figures") -> str:
    lines = [f"# {md_text(report.title)}", ""]
    lines += [f"- **{md_text(key)}**: {md_text(value)}" for key, value in report.meta]
    lines.append("")
    lines.append("Contents: " + " · ".join(f"[{md_text(s.title)}](#{s.title.lower().replace(' ', '-')})"
                                            for s in report.sections))
    for section in report.sections:
        lines += ["", f"## {md_text(section.title)}", ""]
        for block in section.blocks:
            lines += _block(block, figure_dir)
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _block(block: object, figure_dir: str) -> list[str]:
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Figure):
        out = [f"![{md_text(block.title)}]({figure_dir}/{block.key}.png)"]
        return out + ([f"*{md_text(block.caption)}*"] if block.caption else [])
    if isinstance(block, NoData):
        return [f"> **No {md_text(block.what)}:** {md_text(block.reason)}."]
    if isinstance(block, Paragraph):
        return [md_text(block.text)]
    if isinstance(block, SampleBrowser):
        return _examples(block)
    raise TypeError(f"unknown report block {type(block).__name__}")


def _cell(cell: Cell, first: bool) -> str:
    text = md_code(cell.text) if first else md_text(cell.text)
    return text + (f" ({md_text(cell.detail)})" if cell.detail else "")


def _table(table: Table) -> list[str]:
    out = []
    if table.caption:
        out += [md_text(table.caption), ""]
    out.append("| " + " | ".join(md_text(c.label) for c in table.columns) + " |")
    numeric = [any(row[i].numeric for row in table.rows) for i in range(len(table.columns))]
    out.append("|" + "|".join("---:" if n else "---" for n in numeric) + "|")
    out += ["| " + " | ".join(_cell(cell, i == 0) for i, cell in enumerate(row)) + " |" for row in table.rows]
    if table.notes:
        out.append("")
        out += [f"- {md_text(note)}" for note in table.notes]
    return out


def pick_examples(records: list[BrowserSample], per_model: int) -> list[BrowserSample]:
    """Up to `per_model` records per model, one per outcome in the order of _EXAMPLE_PRIORITY."""
    picked: list[BrowserSample] = []
    for model in dict.fromkeys(r.model for r in records):
        mine = [r for r in records if r.model == model]
        chosen: list[BrowserSample] = []
        for outcome in _EXAMPLE_PRIORITY:
            hit = next((r for r in mine if r.outcome == outcome), None)
            if hit is not None and len(chosen) < per_model:
                chosen.append(hit)
        picked += chosen
    return picked


def _examples(browser: SampleBrowser) -> list[str]:
    shown = sum(n for n, _ in browser.counts.values())
    out = [f"A few example replies per model; the HTML report has a filterable browser of {shown} replies "
           f"(up to {browser.cap} per model).", "",
           "| model | dataset | template | verdict | prompt (last turn) | reply |", "|---|---|---|---|---|---|"]
    for r in pick_examples(browser.records, EXAMPLES_PER_MODEL):
        last = r.sample.prompt[-1].get("content", "") if r.sample.prompt else ""
        out.append("| " + " | ".join([md_code(r.model), md_code(r.sample.dataset), md_code(r.sample.template),
                                      md_text(r.outcome), md_text(_clip(last)), md_text(_clip(r.sample.response))]) + " |")
    return out


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"
