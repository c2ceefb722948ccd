"""Anatomy v18 of the phantom (session 21, wt29d; opt-in: make_patient(version="v18"), cacscore phantom --anatomy v18):
v17 with a rounded fat pad behind the tilted sternum (_fill_retrosternal_v18), the bowel loops from one 3-D field
(_bowel_field_3d) and the chest's sides curved in toward the apices and the costal margin (_curve_sides)
(docs/phantom.md, "(session 21, wt29d)"). v11 (the default) and v12-v17 draw as before; v18's heart, coronary draws
and per-vessel truth are v17's."""

from __future__ import annotations

import numpy as np
from test_phantom_v17 import BEFORE as BEFORE_V17
from version_fixtures import exact_version_patient, version_hashes

from cacscore.phantom import make_patient
from cacscore.phantom.anatomy import (ANATOMY_VERSION, LABEL, V18_SIDE_BAND_MM, V18_SIDE_LOW_MM, V18_SIDE_TOP_MM,
                                      _bowel_field_3d, chest_grid, features, front_tilt_shift_mm, side_shift_mm,
                                      side_source_cols)
from cacscore.phantom.core import _draws

SEED = 5

# sha256[:16] of (hu, hu_static, labels, anatomy_labels) of seed 5, patients 1-2, 48 px, computed on main (c95ef2c)
# before v18 existed (v17's; v15-v16's are test_phantom_v17's table, v11-v14 test_phantom_v15 / v16's)
BEFORE = dict(BEFORE_V17)
BEFORE.update({
    ("v17", 1): ("40120d023ed5a51a", "bf277b3c9dca6c14", "2eec60a3b5d6732e", "cb4921523061f764"),
    ("v17", 2): ("3593ff27b9000f7b", "aeb0c47bd3d8815e", "0ff0c069b65b9687", "d050e89405148fb3"),
})


def test_v17_byte_identical():
    for pid in (1, 2):
        assert version_hashes("v17", pid, seed=SEED) == BEFORE[("v17", pid)], pid


def test_v18_is_opt_in_and_only_v18_has_chest_v18():
    assert ANATOMY_VERSION == "v11" and features("v18").chest_v18
    assert [v for v in ("v8", "v11", "v12", "v13", "v14", "v15", "v16", "v17", "v18") if features(v).chest_v18] == ["v18"]
    f17, f18 = features("v17"), features("v18")
    assert (f18.mac, f18.lcx_in_fat, f18.high_right_dome, f18.kyphosis, f18.abdomen, f18.spine_v17) == (
        f17.mac, f17.lcx_in_fat, f17.high_right_dome, f17.kyphosis, f17.abdomen, f17.spine_v17)


def test_v18_draws_keep_v17s_heart_spine_tilt_and_calcium():
    for pid in range(1, 6):
        d17, d18 = (_draws(pid, SEED, 64, version=v)[0] for v in ("v17", "v18"))
        a17, a18 = d17.anat, d18.anat
        assert np.array_equal(a17.heart_c, a18.heart_c) and a17.spine_c == a18.spine_c
        assert a17.kyphosis == a18.kyphosis and a17.front_tilt == a18.front_tilt and a17.n_slices == a18.n_slices
        assert [tuple(p.centre) for p in d17.plaques] == [tuple(p.centre) for p in d18.plaques]
        assert a17.side_curve_mm == (0.0, 0.0)
        assert V18_SIDE_TOP_MM[0] <= a18.side_curve_mm[0] <= V18_SIDE_TOP_MM[1]
        assert V18_SIDE_LOW_MM[0] <= a18.side_curve_mm[1] <= V18_SIDE_LOW_MM[1]


def test_v18_side_map_and_shift():
    u = np.arange(0.0, 200.0, 0.25)
    ua, ub, d = 60.0, 120.0, 15.0
    src = side_source_cols(u, d, ua, ub)
    assert np.all(np.diff(src) > 0)
    assert np.allclose(src[u < ua], u[u < ua])  # the middle stays
    assert np.allclose(src[u >= ub - d], u[u >= ub - d] + d)  # the sides move in rigidly by d
    assert np.allclose(side_source_cols(u, 0.0, ua, ub), u)
    a = _draws(1, SEED, 64, version="v18")[0].anat
    zw = a.z_dome_mm + a.t_widest
    s = side_shift_mm(a, np.array([zw - 200.0, zw - 60.0, zw, zw + 0.5 * (a.t_apex - a.t_widest), a.z_dome_mm + a.t_apex]))
    assert abs(s[2]) < 1e-9 and 0 < s[1] < s[0] and 0 < s[3] < s[4]
    assert abs(s[4] - a.side_curve_mm[0]) < 1e-9 and abs(s[0] - a.side_curve_mm[1]) < 1e-9
    assert V18_SIDE_BAND_MM > 0


def test_v18_truth_labels_heart_equal_v17_and_sides_move():
    for pid in (1, 3):
        p17 = make_patient(pid, seed=SEED, size=64, version="v17", anatomy=True)
        p18 = make_patient(pid, seed=SEED, size=64, version="v18", anatomy=True)
        assert p18.truth == p17.truth, pid
        assert np.array_equal(p18.labels, p17.labels), pid
        heart = LABEL["heart"]
        assert np.array_equal(p17.anatomy_labels == heart, p18.anatomy_labels == heart), pid
        # the body's width on the top slab: narrower in v18 (the sides curve in toward the apices)
        w17 = np.count_nonzero(p17.anatomy_labels[-1] > 0)
        w18 = np.count_nonzero(p18.anatomy_labels[-1] > 0)
        assert w18 < w17, pid


def test_v18_truth_exact_and_deterministic():
    exact_version_patient("v18", {"LAD"}, seed=SEED)


def test_v18_retrosternal_space_is_fat_not_lung_and_lung_lateral():
    """_fill_retrosternal_v18: on the midline no lung remains between the tilted sternum's moved back and its drawn
    back (as v17), and the pad is rounded: on slabs where it is painted, some rows behind the sternum hold fat in the
    middle and lung further out (v17's trapezoid was 70 mm wide at every depth of the gap)."""
    p = make_patient(1, seed=SEED, size=64, version="v18", anatomy=True)
    a = p.anatomy
    sp, org = p.spacing_mm, p.origin_mm
    col = int(round((a.cav_c[0] - org[0]) / sp[2]))
    y = org[1] + np.arange(p.hu.shape[1]) * sp[1]
    lungs = (LABEL["lung_left"], LABEL["lung_right"])
    checked = 0
    for k in range(p.hu.shape[0]):
        s = float(front_tilt_shift_mm(a, np.array([org[2] + k * sp[0]]))[0])
        if s <= 2.0 + 2 * sp[1] or org[2] + k * sp[0] < a.heart_floor_z:
            continue
        y_rigid = float(a.sternum.y_back) + 2.0
        rows = np.flatnonzero((y >= y_rigid - s + sp[1]) & (y <= y_rigid))
        lab = p.anatomy_labels[k, rows, col]
        assert not np.isin(lab, lungs).any(), k
        checked += len(rows) > 0
    assert checked >= 1


def test_v18_bowel_field_is_3d():
    """_bowel_field_3d: unit-scale and decorrelated along z (v16's 2-D fields made every loop a vertical column)."""
    a = _draws(2, SEED, 64, version="v18")[0].anat
    grid = chest_grid(a, 64)
    box = (slice(0, grid.shape[0]), slice(0, grid.shape[1]), slice(0, grid.shape[2]))
    f = _bowel_field_3d(7, grid, box, float(grid.z_mm[-1]))
    k0 = 2
    k1 = int(np.argmin(np.abs(grid.z_mm - (grid.z_mm[k0] + 30.0))))
    f0, f1 = f(k0), f(k1)
    assert f0.shape == (grid.shape[1], grid.shape[2])
    assert 0.3 < float(f0.std()) < 1.5
    assert abs(float(np.corrcoef(f0.ravel(), f1.ravel())[0, 1])) < 0.5
    assert np.array_equal(f(k0), _bowel_field_3d(7, grid, box, float(grid.z_mm[-1]))(k0))  # deterministic
