"""build_report end to end on a fake store: files written, escaping, self-containment, 'no data' notes."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from _fake_store import PLANTED_REPLY, Settings, write_fake_study

from sycolab.errors import UserError
from sycolab.reporting import build_report, terminal_summary


def _embedded_samples(page: str) -> list[dict]:
    match = re.search(r'<script type="application/json" id="sycolab-samples">(.*?)</script>', page, re.S)
    assert match is not None
    return json.loads(match.group(1))


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, str, str]:
    root = write_fake_study(tmp_path_factory.mktemp("run"))
    paths = build_report(root, Settings())
    assert paths == [root / "report" / "report.md", root / "report" / "report.html"]
    return root, paths[0].read_text(encoding="utf-8"), paths[1].read_text(encoding="utf-8")


def test_figures_are_written_for_markdown_and_embedded_in_html(built):
    root, md, page = built
    pngs = sorted(p.name for p in (root / "report" / "figures").iterdir())
    assert pngs == ["auroc-by-layer.png", "behaviour-bars.png", "checkpoints-2-dpo.png", "cosine-heatmap.png",
                    "patching-curve.png", "proxy-agreement.png", "steering-sweep.png", "training-1-sft.png",
                    "training-2-dpo.png", "transfer-heatmap.png"]
    for name in pngs:
        assert f"](figures/{name})" in md
    embedded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(embedded) == len(pngs)
    assert all(base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n") for data in embedded)


def test_html_is_self_contained(built):
    _, _, page = built
    assert not re.search(r'(?:src|href)="(?!data:image/png;base64,|#)', page)  # no external resource
    assert "http://" not in page and "https://" not in page
    # the only script that may run is the page's own, by hash
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in page
    assert "default-src 'none'" in page


def test_planted_reply_is_escaped_in_html_and_browser_json(built):
    _, _, page = built
    assert "<script>window" not in page and "<img src=\"x\"" not in page
    assert page.count("<script") == 2  # the samples JSON and the browser script
    records = _embedded_samples(page)
    planted = [r for r in records if r["response"] == PLANTED_REPLY]
    assert len(planted) == 1 and planted[0]["model"] == "dpo" and planted[0]["template"] == "suggest_incorrect"
    assert "\\u003cscript\\u003ewindow.__pwned = 1" in page
    assert html.escape("Question 0 <b>bold</b>?") not in page  # prompts travel in the JSON, not as markup
    assert len(records) == 30  # 3 models x 10 samples, under the cap of 400


def test_planted_reply_is_escaped_in_markdown_and_its_html(built):
    _, md, _ = built
    assert "<script>" not in md and "<img" not in md
    assert "&lt;script&gt;window.\\_\\_pwned = 1" in md
    markdown_it = pytest.importorskip("markdown_it")
    rendered = markdown_it.MarkdownIt("commonmark").enable("table").render(md)  # raw HTML passes through here
    assert "<script" not in rendered and "<img src=\"x\"" not in rendered
    assert "&lt;script&gt;window.__pwned = 1" in rendered
    assert "<td><code>dpo</code></td>" in rendered


def test_tables_and_sections_present_in_both_formats(built):
    _, md, page = built
    for key in ("behaviour", "proxy", "probing", "framework", "training"):
        assert f'id="table-{key}"' in page
    assert "| `sft` (flagged) | 0.467 [0.410, 0.520] (n=120, 3 unscored) |" in md
    assert "<td class=\"num\">0.467 [0.410, 0.520]<span class=\"detail\">n=120, 3 unscored</span></td>" in page
    assert "proxy and generation disagree: proxy gap 0.260, generation gap 0.027" in md
    assert "base: no probe: too few samples per class: 1 sycophantic, 7 honest (min_per_class=5)" in md
    assert "min_per_class=5" in page
    assert "cpu numerics: Test CPU 9000: kernels AVX2, MKL_CBWR COMPATIBLE, oneDNN AVX2" in md.replace("**", "")


def test_missing_stages_are_explained(tmp_path):
    root = write_fake_study(tmp_path, probe=False, training=False, samples=False)
    md_path, html_path = build_report(root, Settings())
    md, page = md_path.read_text(), html_path.read_text()
    expected = [
        "No probing results: probe/own_summary.csv not found (stage probe failed: RuntimeError: out of memory).",
        "No per-layer AUROC plot: probe/own_auroc.csv not found (stage probe failed: RuntimeError: out of memory).",
        "No transfer heatmap: probe/transfer.csv not found",
        "No patching curve: probe/patching.csv not found",
        "No steering sweep: steer/curve.csv not found",
        "No training diagnostics: no training/*/diagnostics.csv found",
        "No sample browser: no eval/*/samples.jsonl found (the eval stage has not run).",
    ]
    text = re.sub(r"<[^>]+>", "", page)
    for message in expected:
        assert message in text
        assert message.split(":")[0] in md
    assert 'id="sample-table"' not in page and "<script>" not in page


def test_empty_run_dir_still_builds(tmp_path):
    md_path, html_path = build_report(tmp_path, Settings())
    page = re.sub(r"<[^>]+>", "", html_path.read_text())
    assert "No behavioural results: no models in the store" in page
    assert "stages: no manifest.json: stage states unknown" in md_path.read_text().replace("**", "")


def test_formats_and_cap(tmp_path):
    root = write_fake_study(tmp_path, probe=False, training=False)  # fewer plots: this test builds twice
    assert build_report(root, Settings(formats=["html"], max_samples_per_model=0)) == [root / "report" / "report.html"]
    assert not (root / "report" / "report.md").exists()
    assert "No sample browser: report.max_samples_per_model is 0." in re.sub(r"<[^>]+>", "", (root / "report" / "report.html").read_text())
    build_report(root, Settings(formats=["html"], max_samples_per_model=3))
    records = _embedded_samples((root / "report" / "report.html").read_text())
    assert [sum(r["model"] == m for r in records) for m in ("base", "sft", "dpo")] == [3, 3, 3]


def test_report_is_deterministic(built, tmp_path):
    root, _, page = built
    build_report(root, Settings())
    assert (root / "report" / "report.html").read_text(encoding="utf-8") == page


def test_missing_run_dir_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="run dir not found"):
        build_report(tmp_path / "nope", Settings())


def test_terminal_summary(built, tmp_path):
    root, _, _ = built
    text = terminal_summary(root)
    lines = text.splitlines()
    header = lines[1]
    assert header.split()[:2] == ["model", "aggregate"]
    rows = [line for line in lines if line.split()[:1] in (["base"], ["sft"], ["dpo"])]
    assert [r.split()[0] for r in rows][:3] == ["base", "sft", "dpo"]
    assert rows[1].startswith("sft    0.467 [0.410, 0.520]")
    assert len({len(line) for line in lines[1:3]}) == 1  # header and rule have the same width
    assert "L2: 0.930 [0.870, 0.980]" in text and "borderline" in text
    assert f"Full report: {(root / 'report' / 'report.html').resolve()}" in text
    fresh = write_fake_study(tmp_path, probe=False)
    other = terminal_summary(fresh)
    assert "No probing results: probe/own_summary.csv not found" in other
    assert "No HTML report yet" in other


def test_reporting_does_not_import_torch(tmp_path):
    root = write_fake_study(tmp_path)
    code = (
        "import sys; sys.path.insert(0, sys.argv[2]);"
        "from _fake_store import Settings; from sycolab.reporting import build_report, terminal_summary;"
        "build_report(sys.argv[1], Settings()); terminal_summary(sys.argv[1]);"
        "heavy = sorted(m for m in ('torch', 'transformers', 'trl', 'sklearn') if m in sys.modules);"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code, str(root), str(Path(__file__).parent)], check=True, timeout=300)


def test_accepts_the_real_report_config(tmp_path):
    from sycolab.config.sections import ReportConfig  # the config package imports torch: paid once per session

    root = write_fake_study(tmp_path, probe=False, training=False)
    assert build_report(root, ReportConfig(formats=["html"], max_samples_per_model=2)) == [root / "report" / "report.html"]
    assert len(_embedded_samples((root / "report" / "report.html").read_text())) == 6


def test_training_section_shows_judged_and_proxy_checkpoint_curves(built):
    """dpo's checkpoints.csv (fake store): both curves drawn together, the kept step and the evaluation cost
    stated, from the stored files alone."""
    _, md, _ = built
    training = md[md.index("## Training"):]
    assert "](figures/checkpoints-2-dpo.png)" in training
    assert "the judged mini-evaluation (solid, blue) and the logit proxy (dashed, orange) on the same questions" in training
    assert "Kept by: judged (judged.answer\\_sycophancy\\_rate), step 2." in training or \
        "Kept by: judged (judged.answer_sycophancy_rate), step 2." in training
    assert "step 2 by judged.answer" in training and "3 evaluations, 2.2 s" in training
    assert "checkpoints-1-sft" not in md  # sft has no checkpoints.csv: no empty figure


def test_checkpoint_curves_plot_both_series_from_the_stored_columns(tmp_path):
    from _fake_store import CHECKPOINT_ROWS

    from sycolab.reporting import plots
    from sycolab.reporting._results import TrainingLog
    from sycolab.reporting.document import Figure, NoData

    columns = {k: [float(r[k]) for r in CHECKPOINT_ROWS] for k in CHECKPOINT_ROWS[0] if k != "kept"}
    log = TrainingLog("dpo", {}, {"checkpoint": {"select_by": "proxy", "metric": "proxy.proxy_sycophancy", "best_step": 6}},
                      columns)
    figure = plots.checkpoint_curves(log, "#4c72b0", "k")
    assert isinstance(figure, Figure) and figure.png.startswith(b"\x89PNG")
    assert "Kept by: proxy (proxy.proxy_sycophancy), step 6." in figure.caption
    empty = plots.checkpoint_curves(TrainingLog("x", {}, {}, {}), "#4c72b0", "k")
    assert isinstance(empty, NoData) and "training/x/checkpoints.csv" in empty.reason
