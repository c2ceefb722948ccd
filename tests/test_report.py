"""Tests of cacscore.predict.report: per-scan PNGs, the cohort index.html, rendered in headless Chromium."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from cacscore.cli import main
from cacscore.predict.results import ScanResult
from cacscore.predict.report import find_chromium, safe_name, scan_figure, screenshot
from ingest_fixtures import chest_slice, write_coca_release
from test_predict import make_bundle


def _pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=float)


def test_scan_figure_shows_slices_scores_and_overlay(tmp_path):
    hu = np.stack([chest_slice(48, z) for z in range(6)]).astype(np.int16)
    maps = np.zeros((4, 48, 48), np.float32)
    maps[:, 20:28, 20:28] = 1.0  # a saliency blob in the mediastinum
    res = ScanResult("p/1", tmp_path, scores=np.array([0.0, 120.0, 3.0, 450.0]), warnings=["contrast agent"])
    path = scan_figure(hu, np.array([0, 1, 2, 5]), maps, res, tmp_path / f"scan_{safe_name(res.id)}.png")
    assert path.name == "scan_p_1.png"
    px = _pixels(path)
    assert px.shape[1] >= 1200 and px.std() > 20
    # the red-yellow overlay puts saturated pixels in the image (gray CT alone has R == G == B)
    colourful = (px[..., 0] - px[..., 2] > 80)
    assert colourful.sum() > 4 * 200  # 4 panels, an 8x8 blob each, shown at ~6x magnification


def test_report_html_renders_in_headless_chromium(tmp_path, capsys):
    # fails (never skips) without a browser: the message says `apt-get install chromium`
    find_chromium()
    root = tmp_path / "release"
    write_coca_release(root, size=32, n_slices=6)
    bundle = make_bundle(tmp_path / "bundle")
    rep = tmp_path / "report"
    assert main(["predict", str(bundle), str(root), "--report", str(rep), "--out", str(tmp_path / "r.csv")]) == 0
    html = (rep / "index.html").read_text()
    for pid in ("1", "2", "10", "103"):
        png = rep / f"scan_{pid}.png"
        assert png.is_file() and _pixels(png).std() > 10
        assert f"scan_{pid}.png" in html
    for src in re.findall(r"src='([^']+)'", html):  # every image is a relative path that exists: opens offline
        assert "://" not in src and (rep / src).is_file(), src
    assert "SECRET123" not in html and "Doe" not in html
    shot = screenshot(rep / "index.html", tmp_path / "shot.png", size=(1200, 900))
    px = _pixels(shot)
    assert px.shape[:2] == (900, 1200)
    assert px.var() > 200, "the rendered report looks blank"
    # the cohort figure and the table render: many distinct colours, and dark text pixels
    assert len(np.unique(px.reshape(-1, 3) // 16, axis=0)) > 20
    assert (px.mean(axis=2) < 80).mean() > 0.005


def test_screenshot_reports_missing_file(tmp_path):
    find_chromium()
    with pytest.raises((RuntimeError, FileNotFoundError)):
        screenshot(tmp_path / "nothing-here" / "index.html", tmp_path / "s.png", chromium="/nonexistent/chromium")
