"""The report opened in a real headless Chromium: its plots decode and its matrix renders (not a blank page).

The report carries a small inline script that, on load, writes into the DOM how many of its images decoded
(naturalWidth > 0) and how many matrix rows exist; --dump-dom prints the DOM after it ran. A screenshot of the
page must not be one flat colour. Without Chromium (`make setup` installs it) the test fails under CI and is
skipped elsewhere.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from matplotlib import image

from harness.report import output

pytestmark = pytest.mark.unit
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--virtual-time-budget=5000",
]  # fmt: skip


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("CI=true and chromium is not installed (make setup installs it)", pytrace=False)
        pytest.skip("chromium is not installed; run `make setup`")
    return found


def run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile.mkdir()
    argv = [binary, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=90, check=False)


def test_chromium_decodes_every_plot_and_renders_the_matrix(
    chromium: str, rendered: output.Written, results: dict[str, Any], tmp_path: Path
) -> None:
    done = run_chromium(chromium, tmp_path / "profile-dom", "--dump-dom", rendered.html.resolve().as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    check = re.search(r'<p id="render-check"([^>]*)>([^<]*)</p>', done.stdout)
    assert check is not None, done.stdout[-2000:]
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', check.group(1)))
    assert attrs["images"] == attrs["decoded"] == "4", check.group(0)
    assert all(int(w) > 300 for w in attrs["widths"].split(",")), attrs
    assert int(attrs["matrix-rows"]) == 4 * len(results["configs"])
    assert results["verdict"]["sentence"].split(":")[0] in done.stdout
    assert done.stdout.count("<tr class=") >= 4 * len(results["configs"])


def test_the_page_is_not_blank(chromium: str, rendered: output.Written, tmp_path: Path) -> None:
    shot = tmp_path / "page.png"
    args = ["--window-size=1200,2400", f"--screenshot={shot}", rendered.html.resolve().as_uri()]
    done = run_chromium(chromium, tmp_path / "profile-shot", *args)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    pixels = image.imread(shot)
    assert pixels.shape[0] >= 2000 and pixels.shape[1] >= 1100
    assert float(pixels[..., :3].std()) > 0.05, "the screenshot is one flat colour"
