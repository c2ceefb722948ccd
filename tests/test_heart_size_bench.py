"""bench/heart_size.py (session 16, wt24c): the outline of the widest slice, a course's distances from a centre, and
the eye-placed real landmarks' file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import heart_size as HS  # noqa: E402


def test_outline_takes_the_widest_slice_and_its_box():
    m = np.zeros((4, 20, 30), bool)
    m[1, 5:10, 4:20] = True  # 16 columns wide
    m[2, 2:15, 8:30] = True  # 22 wide: the widest
    o = HS.outline(m, np.array([5.0, 1.0, 2.0]))
    assert o["wide_z"] == 10.0 and o["trans_mm"] == 44.0 and o["ap_mm"] == 13.0
    assert o["box_y"] == 8.0 and o["box_x"] == (8 + 29) / 2 * 2.0


def test_vessel_distances_in_plane_3d_bins_and_offset():
    # a course straight up (z) 40 mm from the centre in x, then more: in-plane distance 40 mm all along the first 50 mm
    course = np.array([[0.0, 0.0, 40.0], [100.0, 0.0, 40.0]])
    r, d3, bins, off = HS.vessel_distances(course, "LCX", np.zeros(3))
    assert abs(r - 40.0) < 1e-9 and all(abs(b - 40.0) < 1e-9 for b in bins)
    assert abs(off[2] - 40.0) < 1e-9 and abs(off[0] - 25.0) < 1e-9  # the first 50 mm: z 0..50, mean 25
    assert d3 > r


def test_real_landmarks_cover_the_three_series():
    lm = json.loads(HS.LANDMARKS.read_text())
    for s in HS.REAL:
        w = lm[s]["widest"]
        assert w["x_left"] - w["x_right"] > 80 and w["y_back"] - w["y_front"] > 60
        assert 60 < np.linalg.norm(np.subtract(lm[s]["apex"], lm[s]["mitral_centre"])) < 120
