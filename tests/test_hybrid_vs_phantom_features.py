"""bench/hybrid_vs_phantom_features.py: its coherent position swap matches the candidates' own position features, and
its course segments split the RCA at the crux."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from cacscore.lesion.candidates import FEATURE_NAMES, find_candidates

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def B():
    sys.path.insert(0, str(BENCH))  # the bench imports its sibling hybrid_cases
    spec = importlib.util.spec_from_file_location("hybrid_vs_phantom_features", BENCH / "hybrid_vs_phantom_features.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    yield mod
    sys.path.remove(str(BENCH))


def _features(heart_index):
    hu = np.full((12, 48, 48), -100.0, np.float32)
    hu[5, 30:33, 10:13] = 400.0  # one calcified blob on one slice: one candidate (candidates are per slice)
    sp = (2.5, 0.8, 0.8)
    cand = find_candidates(hu, sp, heart_index=heart_index)
    assert cand.n == 1
    return cand.features


def test_position_swap_is_what_the_candidates_would_have(B):
    names = list(FEATURE_NAMES)
    here = _features((6, 20, 30))
    there = _features((6, 36, 4))  # the same blob seen from another heart reference: new dy, dx and all that follows
    j = {n: names.index(n) for n in B.POSITION}
    moved = B.with_position(here, names, float(there[0, j["dy_mm"]]), float(there[0, j["dx_mm"]]))
    for n in B.POSITION:
        assert moved[0, j[n]] == pytest.approx(there[0, j[n]], abs=1e-4), n
    assert moved[0, j["sin_inplane"]] != pytest.approx(here[0, j["sin_inplane"]], abs=1e-3)  # it did move


def test_rca_segments_split_at_the_crux(B):
    # an RCA down the right groove (z falls), round to the crux at z 100, then the PDA at the crux's height
    down = np.stack([np.linspace(160, 100, 31), np.full(31, 120.0), np.full(31, 150.0)], 1)
    pda = np.stack([np.full(20, 100.0), np.full(20, 160.0), np.linspace(152, 190, 20)], 1)
    course = np.concatenate([down, pda])
    crux = down[-1]
    assert B.segment("RCA", course, np.array([150.0, 120, 150]), crux) == "RCA_up"
    assert B.segment("RCA", course, np.array([110.0, 120, 150]), crux) == "RCA_inf"
    assert B.segment("RCA", course, np.array([100.0, 160, 180]), crux) == "PDA"
    assert B.segment("LCX", course, course[-1], crux) == "LCX_dist"
    assert B.segment("LAD", course, course[0], crux) == "LAD_prox"


def test_phantom_segments_split_the_rca_at_the_drawn_crux(B):
    """A phantom candidate on the PDA (past the crux of the drawn v7 course) is PDA, one at the RCA's origin RCA_up,
    one on the distal LCX LCX_dist."""
    from cacscore.phantom.anatomy import chest_grid
    from cacscore.phantom.core import _draws

    d = _draws(2, 5, 64)[0]
    rca, lcx = d.vessels["RCA"], d.vessels["LCX"]
    assert rca.crux > 0
    g = chest_grid(d.anat, 64)
    org = np.array([g.z_mm[0], g.y_mm[0], g.x_mm[0]])
    pts = np.array([rca.points[-3], rca.points[5], lcx.points[-5]])[:, [2, 1, 0]] - org
    seg = B.phantom_segments(2, 5, 64, np.array([4, 4, 3]), pts)
    assert seg.tolist() == ["PDA", "RCA_up", "LCX_dist"]
