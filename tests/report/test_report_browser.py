"""The report opened in headless Chromium: the page renders, plots are not blank, titles are there."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from report_helpers import RUN_NAME

from cappuccino_ray.report import plots
from cappuccino_ray.report.html import write_report

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (Debian: apt-get install chromium)")
def test_report_renders_in_headless_chromium(tune_results: Path, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    report = write_report(tune_results / RUN_NAME)
    url = report.resolve().as_uri()
    common = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    shot = tmp_path / "shot.png"
    subprocess.run(
        [*common, f"--screenshot={shot}", "--window-size=1280,4000", url],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (4000, 1280)
    assert pixels.std() > 20  # not a blank page
    # Plots are drawn in the upper part: a non-white, varied region exists there.
    assert (pixels[:2000] < 128).mean() > 0.01
    dom = subprocess.run(
        [*common, "--dump-dom", url], check=True, capture_output=True, text=True, timeout=120
    ).stdout
    # The fixture's stand-in trials save no backtest paths, so the paths figure is not drawn.
    for key, title in plots.TITLES.items():
        assert (title in dom) == (key != "paths")
    assert dom.count("<img") == 9
