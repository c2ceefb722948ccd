"""Anatomy v24 of the phantom (issue 15, session 27; opt-in: make_patient(version="v24"), cacscore phantom --anatomy
v24): v23 with the LCX at the heart's outline (coronary.v24_lcx_border) and the left atrium's ellipsoid and body kept
medial of the left ventricle's base (coronary.V24_LA_E3, V24_LA_BODY_X), so that the LCX no longer runs in the crease
between the ventricle and the left atrium at the back of the heart, where v11-v23 buried it (docs/phantom.md, "Anatomy
v24"). Every other course and every draw is v23's; the AV groove (atria, fat ring) stays at the LCX's v23 height."""

from __future__ import annotations

import numpy as np

from cacscore.phantom.anatomy import ANATOMY_VERSION, features
from cacscore.phantom.coronary import (V24_AORTA_GAP_MM, V24_LV_BASE_REACH_MM, VESSEL_OUT_MM, _inside_outline,
                                      heart_outline_shapes)
from version_fixtures import draw_pair, exact_version_patient

SEED = 5
PIDS = range(1, 9)


def _pair(pid: int):
    """(v23, v24) draws of one patient (cached: version_fixtures.draw_pair)."""
    return draw_pair("v23", "v24", pid, SEED)


def test_v24_is_opt_in_and_moves_only_the_lcx():
    assert ANATOMY_VERSION == "v11" and features("v24").lcx_border and features("v24").lean_heart
    assert not features("v23").lcx_border
    for pid in PIDS:
        d23, d24 = _pair(pid)
        assert [(s.vessel, s.s_frac, s.diameter_mm, s.hu) for s in d24.specs] == \
               [(s.vessel, s.s_frac, s.diameter_mm, s.hu) for s in d23.specs]
        assert d24.anat.epi_lean_mm == d23.anat.epi_lean_mm and d24.kvp == d23.kvp
        for name in ("LCA", "LAD", "RCA"):
            assert np.array_equal(d24.vessels[name].points, d23.vessels[name].points)
        a, b = d23.vessels["LCX"], d24.vessels["LCX"]
        assert np.allclose(a.points[0], b.points[0])  # it still leaves the left main's bifurcation
        u = float(np.mean((a.points[1:] - d23.anat.heart_c) @ d23.anat.heart_axes[0]) / d23.anat.heart_semi[0])
        assert d24.anat.groove_u == u and d23.anat.groove_u is None  # the atria and the groove ring where v23 drew them


def test_v24_lv_base_widens_the_heart_on_the_left_and_keeps_clear_of_the_descending_aorta():
    """The bulge reaches at most V24_LV_BASE_REACH_MM beyond the AV ring, toward the patient's left, and its in-plane
    wall keeps V24_AORTA_GAP_MM from the descending aorta's (the reach cut where needed); the LCX's furthest-left point
    lies further left than v23's for most patients."""
    further = 0
    for pid in PIDS:
        d23, d24 = _pair(pid)
        assert d23.anat.lv_base is None
        centre, semi = (np.array(x) for x in d24.anat.lv_base)
        assert centre[0] > d24.anat.heart_c[0] - 5.0  # on the left side of the heart
        gap = np.hypot(*(centre[:2] - np.array(d24.anat.desc_c))) - semi[1] - d24.anat.desc_r
        assert gap >= V24_AORTA_GAP_MM - 1e-6, (pid, gap)
        further += d24.vessels["LCX"].points[:, 0].max() > d23.vessels["LCX"].points[:, 0].max() + 3.0
    assert further >= len(PIDS) // 2 and V24_LV_BASE_REACH_MM[1] <= 30.0, further


def test_v24_lcx_runs_outside_the_heart_outline_within_reach_of_it():
    """Past its first 30 mm (it leaves the bifurcation over V24_LCX_LEAVE_MM, smoothed), no LCX point lies inside the
    heart's outline, and each lies within a few mm of it: on the outline's surface, not floating in the lung."""
    for pid in PIDS:
        d = _pair(pid)[1]
        lcx = d.vessels["LCX"]
        far = lcx.points[lcx.arc_mm() > 30.0]
        shapes = heart_outline_shapes(d.anat, d.anat.groove_u)
        assert not _inside_outline(far, shapes, d.anat.heart_floor_z).any(), pid
        # every point has heart within VESSEL_OUT_MM + 3 mm of it (any direction, sampled on a small sphere)
        dirs = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], float)
        dirs = np.concatenate([dirs, (dirs[:, None] + dirs[None]).reshape(-1, 3)])
        dirs = dirs[np.linalg.norm(dirs, axis=1) > 0]
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        near = far[:, None, :] + (VESSEL_OUT_MM + 3.0) * dirs[None]
        hit = _inside_outline(near.reshape(-1, 3), shapes, d.anat.heart_floor_z).reshape(len(far), len(dirs))
        assert hit.any(axis=1).mean() > 0.95, (pid, hit.any(axis=1).mean())


def test_v24_left_dominant_lcx_still_reaches_the_crux():
    for pid in PIDS:
        d23, d24 = _pair(pid)
        a, b = d23.vessels["LCX"], d24.vessels["LCX"]
        assert (a.crux >= 0) == (b.crux >= 0)
        if b.crux >= 0:
            assert np.linalg.norm(b.points[b.crux] - a.points[a.crux]) < 1.0


def test_v24_truth_exact_deterministic_and_unchanged_by_lookalikes():
    from cacscore.phantom import make_patient

    pid, p = exact_version_patient("v24", {"LCX"}, seed=SEED)
    bare = make_patient(pid, seed=SEED, size=96, version="v24", lookalikes=False)
    assert bare.truth == p.truth and np.array_equal(bare.labels, p.labels)
