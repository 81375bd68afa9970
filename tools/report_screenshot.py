"""Save the top of a study's HTML report as a PNG (the README's screenshot), in headless Chromium.

    python tools/report_screenshot.py runs/tiny/seed-0/report/report.html docs/report-screenshot.png

Needs Debian's `chromium` and `chromium-driver` (scripts/ensure_chromium.sh installs them) and selenium
(a test dependency). The browser flags are the browser tests' (tests/conftest.py).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import CHROMEDRIVER, CHROMIUM, CHROMIUM_FLAGS


def screenshot(html: Path, png: Path) -> None:
    """Render `html` at 1400 x 1100 and save the top of the page to `png`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="sycolab-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.get(html.resolve().as_uri())
        driver.execute_script("window.scrollTo(0, 0)")
        png.parent.mkdir(parents=True, exist_ok=True)
        if not driver.save_screenshot(str(png)):
            raise SystemExit(f"could not save a screenshot of {html}")
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path)
    parser.add_argument("png", type=Path)
    args = parser.parse_args()
    if not args.html.is_file():
        parser.error(f"{args.html} is not a file (expected a study's report/report.html)")
    screenshot(args.html, args.png)
    print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
