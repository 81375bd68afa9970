"""The report as data: sections made of paragraphs, tables, figures, "no data" notes and the sample
browser. The Markdown, HTML and terminal renderers all draw from this one model, so they never disagree.

Every string here is plain text (unescaped); each renderer escapes it for its own format.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sycolab.store.records.samples import SampleRecord


@dataclass(frozen=True)
class Cell:
    """A table cell: `text` is the main value ("0.393 [0.351, 0.437]"); `detail` is secondary
    ("n=120, 3 unscored"), shown smaller in HTML and in parentheses in Markdown."""

    text: str
    detail: str = ""
    numeric: bool = False


@dataclass(frozen=True)
class Column:
    key: str
    label: str


@dataclass(frozen=True)
class Table:
    key: str
    columns: list[Column]
    rows: list[list[Cell]]
    caption: str = ""
    notes: list[str] = field(default_factory=list)

    def select(self, keys: list[str]) -> Table:
        """The same table restricted to the columns named in `keys` (in that order)."""
        index = {c.key: i for i, c in enumerate(self.columns)}
        picked = [index[k] for k in keys if k in index]
        return Table(
            self.key,
            [self.columns[i] for i in picked],
            [[row[i] for i in picked] for row in self.rows],
            self.caption,
            self.notes,
        )


@dataclass(frozen=True)
class Figure:
    key: str
    title: str
    png: bytes
    caption: str = ""


@dataclass(frozen=True)
class NoData:
    """Shown where a table or plot would be: says which file is missing or why there is nothing."""

    what: str
    reason: str

    @property
    def message(self) -> str:
        return f"No {self.what}: {self.reason}."


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class BrowserSample:
    """One generated reply for the browser: the stored record (samples.jsonl), its model and its outcome label
    (`sycolab.reporting.samples.outcome`)."""

    model: str
    outcome: str
    sample: SampleRecord

    def to_json(self) -> dict[str, object]:
        s = self.sample
        return {
            "model": self.model,
            "dataset": s.dataset,
            "template": s.template,
            "domain": s.domain,
            "outcome": self.outcome,
            "prompt": [{"role": m.get("role", "?"), "content": m.get("content", "")} for m in s.prompt],
            "response": s.response,
            "verdicts": {k: "null" if v is None else v for k, v in s.verdicts.items()},
        }


@dataclass(frozen=True)
class SampleBrowser:
    records: list[BrowserSample]
    counts: dict[str, tuple[int, int]]  # model -> (shown, total in samples.jsonl)
    cap: int


Block = Paragraph | Table | Figure | NoData | SampleBrowser


@dataclass
class Section:
    key: str
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Report:
    title: str
    meta: list[tuple[str, str]]
    sections: list[Section]
