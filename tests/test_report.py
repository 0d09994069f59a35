"""Reports: one self-contained HTML page, checked in a real headless browser (Debian's chromium)."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ital_opt.cli import main

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "formulations" / "ch3_example_3_1.toml"
# matplotlib's first two default colours: lines and bars of every figure
C0, C1 = np.array([31, 119, 180]), np.array([255, 127, 14])


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    spec_html = out / "spec.html"
    assert main(["report", str(SPEC), "-o", str(spec_html), "--vary", "outside[1]=0:0.8:9"]) in (0, 1)
    table = out / "sweep.csv"
    assert main(["sweep", str(SPEC), "--vary", "outside[1]=0:0.8:17", "--vary", "rho=1,2", "--out", str(table),
                 "--quiet"]) == 0
    sweep_html = out / "sweep.html"
    assert main(["report", str(table), "-o", str(sweep_html)]) == 0
    return {"spec": spec_html, "sweep": sweep_html}


def test_report_is_self_contained(reports):
    for page in reports.values():
        text = page.read_text(encoding="utf-8")
        assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
        assert not re.search(r"""(src|href)\s*=\s*['"](?!data:)""", text), "external resource"
        assert "<script" not in text
        images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", text)
        assert len(images) >= 2
        for data in images:
            assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    spec = reports["spec"].read_text(encoding="utf-8")
    for heading in ("Problem", "Solution", "Checks", "Figures", "Sweep table", "max_ic_violation", "0.445891"):
        assert heading in spec


def test_report_rejects_bad_input(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('kind = "admission"\ntheta = [1.5, 1.0]\nprob = [0.5, 0.5]\nc = 1\nrho = 1\nsigma2 = 1\n')
    out = tmp_path / "r.html"
    assert main(["report", str(bad), "-o", str(out)]) == 2
    assert not out.exists()


def _run_browser(browser, args, tmp_path, timeout=120):
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
           f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("which", ["spec", "sweep"])
def test_report_in_headless_chromium(reports, tmp_path, which):
    browser = _browser()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (apt-get install chromium)")
        pytest.skip("chromium is not installed")
    url = reports[which].resolve().as_uri()
    shot = tmp_path / "shot.png"
    res = _run_browser(browser, [f"--screenshot={shot}", "--window-size=1200,4200", "--hide-scrollbars", url], tmp_path)
    assert res.returncode == 0 and shot.exists(), res.stderr[-2000:]
    errors = [line for line in res.stderr.splitlines()
              if re.search(r"Uncaught|net::ERR_|Failed to load resource|CONSOLE.*error", line, re.I)]
    assert not errors, errors
    from matplotlib.image import imread

    pixels = (imread(shot)[..., :3] * 255).round()
    assert pixels.shape[0] >= 4000 and pixels.std() > 20  # not blank
    near = lambda colour: int((np.abs(pixels - colour).sum(axis=-1) < 40).sum())  # noqa: E731
    assert near(C0) > 2000 and near(C1) > 500, (near(C0), near(C1))  # the figures' lines and bars are on screen
