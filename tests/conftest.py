"""Shared fixtures: the CLI's portable CPU numerics for every test, and the headless Chromium driver of the
`@pytest.mark.browser` tests."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sycolab.cpu_numerics import pin_portable_cpu_numerics

# The CLI's numerics (before any test runs torch), so in-process stages and `sycolab` subprocesses share keys.
pin_portable_cpu_numerics()

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1400,1100",
)


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """A selenium WebDriver on Debian's headless Chromium with a fresh profile; scripts/ensure_chromium.sh
    installs chromium and chromium-driver first when they are missing."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        done = subprocess.run(["bash", str(REPO / "scripts" / "ensure_chromium.sh")], capture_output=True, text=True,
                              timeout=1200)
        if done.returncode != 0:
            pytest.fail(f"scripts/ensure_chromium.sh failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    profile = tempfile.mkdtemp(prefix="sycolab-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
