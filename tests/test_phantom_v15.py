"""Anatomy v15 of the phantom (session 18, wt26b; opt-in: make_patient(version="v15"), cacscore phantom --anatomy v15):
v14 with the thoracic spine and the back curved (kyphosis, painted: anatomy._bend_spine), the vertebrae tilted across
the curve, the spinous processes as separate shingles and shorter vertebrae (V15_VERT_PERIOD_MM), because on the three
real series the column's front bulges 5-22 mm over the carina -100..+60 mm and the phantom's was straight
(docs/phantom.md, "The spine's curve and the back (session 18, wt26b)"). v11 (the default) and v12-v14 draw as before."""

from __future__ import annotations

import numpy as np

from cacscore.phantom import make_patient
from cacscore.phantom.anatomy import (ANATOMY_VERSION, LABEL, V15_VERT_PERIOD_MM, bend_source_rows, carina_z,
                                      features, kyphosis_shift_mm)
from cacscore.phantom.core import _draws
from version_fixtures import exact_version_patient, version_hashes

SEED = 5

# sha256[:16] of (hu, hu_static, labels, anatomy_labels) of seed 5, patients 1-2, 48 px, computed on main (2fbab23)
# before v15 existed: every earlier version must stay byte-identical
BEFORE = {
    ("v11", 1): ("0555aab4cae387f9", "07a9d4cc6f82f67a", "093613b382906b4b", "414882732c483327"),
    ("v11", 2): ("f854c042dcc06de7", "503469b9fdd86234", "96dc6f29eff3ffe6", "78651f91bce5c018"),
    ("v12", 1): ("d2dfadd6427d0e9e", "2109640ba328670b", "093613b382906b4b", "691730e39f026756"),
    ("v12", 2): ("f3c98cb308f99ab4", "af084d8134f235a2", "96dc6f29eff3ffe6", "ea1bac736ee193ef"),
    ("v13", 1): ("b3fbdf5ee621b62e", "abd66be48696fed6", "093613b382906b4b", "d8fefdbdfb3c25da"),
    ("v13", 2): ("a465f68292ce8b83", "dfc838cb640bc4c2", "96dc6f29eff3ffe6", "565ad6d37fb5b208"),
    ("v14", 1): ("7a602b96dad79b32", "bf844bf2dd6b1b8f", "093613b382906b4b", "7c662f307b266ee9"),
    ("v14", 2): ("0510689108c9b23e", "a3a229c8d329eba3", "96dc6f29eff3ffe6", "70c151b6854a3075"),
}


def test_earlier_versions_byte_identical():
    for (v, pid), want in BEFORE.items():
        assert version_hashes(v, pid, seed=SEED) == want, (v, pid)


def test_v15_is_opt_in_and_only_v15_bends_the_spine():
    assert ANATOMY_VERSION == "v11" and features("v15").kyphosis
    assert [v for v in ("v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15") if features(v).kyphosis] == ["v15"]
    f14, f15 = features("v14"), features("v15")
    assert (f15.mac, f15.lcx_in_fat, f15.high_right_dome) == (f14.mac, f14.lcx_in_fat, f14.high_right_dome)


def test_v15_draws_only_the_curve_and_the_period():
    for pid in range(1, 5):
        d14, d15 = (_draws(pid, SEED, 64, version=v)[0] for v in ("v14", "v15"))
        a14, a15 = d14.anat, d15.anat
        assert a14.kyphosis is None and a15.kyphosis is not None
        assert V15_VERT_PERIOD_MM[0] <= a15.vert_period <= V15_VERT_PERIOD_MM[1]
        assert np.array_equal(a14.heart_c, a15.heart_c) and a14.spine_c == a15.spine_c
        assert a14.right_dome_raise_mm == a15.right_dome_raise_mm
        assert [(s.vessel, s.s_frac, s.diameter_mm, s.hu) for s in d14.specs] == \
               [(s.vessel, s.s_frac, s.diameter_mm, s.hu) for s in d15.specs]
        assert [tuple(p.centre) for p in d14.plaques] == [tuple(p.centre) for p in d15.plaques]
        assert np.array_equal(kyphosis_shift_mm(a14, np.array([0.0, 100.0])), np.zeros(2))


def test_bend_map_is_monotonic_and_keeps_the_front():
    """The row map never folds (every shift, band), leaves the rows in front of the band alone and moves the column
    by the shift."""
    a = _draws(1, SEED, 64, version="v15")[0].anat
    y = np.linspace(a.body_c[1] - a.body_ab[1] - 30, a.body_c[1] + a.body_ab[1] + 40, 2000)
    y_front = a.spine_c[1] - a.spine_r
    for g in (-30.0, -10.0, 0.0, 10.0, 30.0, 45.0):
        for band in (35.0, 120.0):
            src = bend_source_rows(a, y, g, band)
            assert np.all(np.diff(src) > 0), (g, band)
            front = y < y_front - 2 - band
            assert np.allclose(src[front], y[front])
            gg = min(g, band - 4)
            dest = np.interp(y_front, src, y)  # where the drawn vertebral front is painted
            assert abs(dest - (y_front - gg)) < 0.1


def test_v15_spine_curves_and_heart_stays():
    """Painted: the vertebra label's front moves with kyphosis_shift_mm (within a voxel and a half), the heart's
    labels and the coronary labels are v14's, the table does not move."""
    pid, size = 3, 64  # seed 5 patient 3: shifts -4.7..+39.7 mm
    p14 = make_patient(pid, seed=SEED, size=size, version="v14", anatomy=True)
    p15 = make_patient(pid, seed=SEED, size=size, version="v15", anatomy=True)
    a = p15.anatomy
    assert np.array_equal(p14.labels, p15.labels) and p14.truth == p15.truth
    heart = LABEL["heart"]
    assert np.array_equal(p14.anatomy_labels == heart, p15.anatomy_labels == heart)
    tab = LABEL["table"]
    assert np.array_equal(p14.anatomy_labels == tab, p15.anatomy_labels == tab)
    sp, org = p15.spacing_mm, p15.origin_mm
    col = int(round((a.spine_c[0] - org[0]) / sp[2]))
    moved = 0
    for k in range(2, p15.hu.shape[0] - 2, 3):
        z = org[2] + k * sp[0]
        g = float(kyphosis_shift_mm(a, np.array([z]))[0])
        rows = np.flatnonzero(p15.anatomy_labels[k, :, col] == LABEL["vertebra"])
        rows14 = np.flatnonzero(p14.anatomy_labels[k, :, col] == LABEL["vertebra"])
        if not len(rows) or not len(rows14):
            continue
        assert abs((rows14[0] - rows[0]) * sp[1] - g) <= 1.5 * sp[1] + abs(g) * 0.05, (k, g)
        moved += abs(g) > 1.5 * sp[1]
    assert moved >= 3
    # the curve: forward above the carina relative to the heart's levels (kyphosis)
    zc = carina_z(a)
    assert kyphosis_shift_mm(a, np.array([zc + 60.0]))[0] > kyphosis_shift_mm(a, np.array([a.heart_c[2]]))[0]


def test_v15_truth_exact_and_deterministic():
    exact_version_patient("v15", {"LAD"}, seed=SEED)


def test_v15_spinous_process_slopes_down_behind():
    """VERTEBRA_Z_V15 + V15_SPINOUS_DROP: 20 mm further behind its base the spinous blade lies 15 mm lower than the
    column's tilt alone puts it (the laminae, which do not drop, give the tilt's share)."""
    from cacscore.phantom.anatomy import V15_SPINOUS_DROP, _vertebra_z, chest_grid

    a = _draws(1, SEED, 64, version="v15")[0].anat
    grid = chest_grid(a, 512)
    starts = np.array([float(np.median(grid.z_mm))])  # one vertebra, well inside the grid: the same lean for both parts
    base = a.spine_r + 17.0
    fz = _vertebra_z(a, grid, starts, 5.5, dy_rows=np.array([base, base + 20.0]))

    def rise(name: str) -> float:  # the centroid's height at base + 20 mm minus at the base
        w = fz[name]
        zc = [(grid.z_mm * w[:, j]).sum() / w[:, j].sum() for j in range(2)]
        return zc[1] - zc[0]

    assert abs((rise("lamina") - rise("spinous")) - V15_SPINOUS_DROP * 20.0) < 3.0
