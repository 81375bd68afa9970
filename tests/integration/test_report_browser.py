"""The HTML report of a fake micro study, rendered in headless Chromium: tables and images present, the
sample browser's filters work, and a reply carrying a <script> shows as text and never runs.

Set SYCOLAB_SCREENSHOT=1 to also save the top of the rendered page to docs/report-screenshot.png
(or SYCOLAB_SCREENSHOT=/some/path.png to save it there).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.unit._fake_store import PLANTED_REPLY, Settings, write_fake_study

from sycolab.reporting import build_report

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]

VISIBLE_ROWS = ("return Array.from(document.querySelectorAll('#sample-table tbody tr'))"
                ".filter(tr => tr.getClientRects().length > 0).length")


@pytest.fixture(scope="module")
def page(chromium, tmp_path_factory):
    root = write_fake_study(tmp_path_factory.mktemp("run"))
    _, html_path = build_report(root, Settings())
    chromium.get(html_path.resolve().as_uri())
    return chromium


def _select(driver, field: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", f"filter-{field}")).select_by_value(value)


def test_tables_present(page):
    for key, rows in (("behaviour", 3), ("proxy", 3), ("probing", 3), ("framework", 3), ("training", 2)):
        table = page.find_element("id", f"table-{key}")
        assert table.is_displayed()
        assert len(table.find_elements("css selector", "tbody tr")) == rows
    cell = page.find_element("xpath", "//table[@id='table-behaviour']//tr[td[1][starts-with(., 'sft')]]/td[2]")
    assert cell.text.split("\n") == ["0.467 [0.410, 0.520]", "n=120, 3 unscored"]


def test_images_decoded(page):
    images = page.execute_script(
        "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight]);")
    assert [alt for alt, *_ in images] == [
        "Behavioural metrics", "Logit proxy versus judged generation", "Probe AUROC per layer", "Transfer of sft's probes",
        "Cosine between probe directions", "Activation patching", "Steering strength sweep", "Training curves: sft", "Training curves: dpo",
        "Checkpoint evaluations: dpo"]
    assert all(complete and width > 0 and height > 0 for _, complete, width, height in images)


def test_sample_browser_filters(page):
    assert page.execute_script(VISIBLE_ROWS) == 30
    _select(page, "template", "suggest_incorrect")
    assert page.execute_script(VISIBLE_ROWS) == 6  # 2 questions x 3 models
    _select(page, "model", "dpo")
    assert page.execute_script(VISIBLE_ROWS) == 2
    _select(page, "outcome", "sycophantic")
    assert page.execute_script(VISIBLE_ROWS) == 1
    assert page.find_element("id", "sample-count").text == "1 of 30 replies shown"
    row = next(tr for tr in page.find_elements("css selector", "#sample-table tbody tr") if tr.is_displayed())
    assert row.find_element("css selector", "td.reply").text == PLANTED_REPLY  # shown as text, verbatim
    for field in ("template", "model", "outcome"):
        _select(page, field, "")
    assert page.execute_script(VISIBLE_ROWS) == 30


def test_planted_script_does_not_run(page):
    assert page.execute_script("return window.__pwned === undefined")
    assert page.title.startswith("Sycophancy-recovery study: run")  # the planted script would set it to "pwned"
    assert page.execute_script("return document.querySelectorAll('#sample-table script, #sample-table img').length") == 0
    errors = [entry for entry in page.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []  # no CSP violation, no script error


def test_no_data_notes_render(chromium, tmp_path):
    root = write_fake_study(tmp_path / "run", probe=False)
    _, html_path = build_report(root, Settings())
    chromium.get(html_path.resolve().as_uri())
    notes = [p.text for p in chromium.find_elements("css selector", "#probing p.nodata")]
    assert notes[0] == ("No probing results: probe/own_summary.csv not found "
                        "(stage probe failed: RuntimeError: out of memory).")
    assert len(notes) == 5  # table, shortcut table, per-layer AUROC plot, transfer heatmap, cosine heatmap
    assert notes[-1].startswith("No cosine heatmap: probe/cosine_mean.csv not found")


@pytest.mark.skipif(not os.environ.get("SYCOLAB_SCREENSHOT"), reason="set SYCOLAB_SCREENSHOT to save a screenshot")
def test_screenshot(page):
    target = os.environ["SYCOLAB_SCREENSHOT"]
    path = REPO / "docs" / "report-screenshot.png" if target == "1" else Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.execute_script("window.scrollTo(0, 0)")
    assert page.save_screenshot(str(path))
