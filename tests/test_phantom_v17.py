"""Anatomy v17 of the phantom (session 20, wt28d; opt-in: make_patient(version="v17"), cacscore phantom --anatomy v17):
v16 with the thoracic spine's whole curve painted at the heart's levels (no damping; at most V17_HEART_FWD_MM forward
of the drawn column there), the back's skin referred to the table, and the kyphosis / period draws mapped onto v17's
ranges (docs/phantom.md, "(session 20, wt28d)"). v11 (the default) and v12-v16 draw as before; v17's heart, coronary
draws and per-vessel truth are v16's."""

from __future__ import annotations

import numpy as np
from test_phantom_v16 import BEFORE as BEFORE_V16
from version_fixtures import exact_version_patient, version_hashes

from cacscore.phantom import make_patient
from cacscore.phantom.anatomy import (ANATOMY_VERSION, LABEL, V17_HEART_FWD_MM, V17_VERT_PERIOD_MM, _heart_levels,
                                      _kyphosis_curve, bend_source_rows, features, kyphosis_shift_mm)
from cacscore.phantom.core import _draws

SEED = 5

# sha256[:16] of (hu, hu_static, labels, anatomy_labels) of seed 5, patients 1-2, 48 px, computed on main (cc20e80)
# before v17 existed (v16's; v11-v15's are test_phantom_v16's)
BEFORE = dict(BEFORE_V16)
BEFORE.update({
    ("v16", 1): ("ecb9cb519f88dd6a", "62ca694decb25f93", "2eec60a3b5d6732e", "c81b33e93c2f490e"),
    ("v16", 2): ("8872be49f47084ac", "9e867e93772a292d", "0ff0c069b65b9687", "1c96fe1c8f4238a6"),
})


def test_earlier_versions_byte_identical():
    for (v, pid), want in BEFORE.items():
        if v not in ("v15", "v16"):  # v11-v14: test_phantom_v15 / v16 check them (the same table)
            continue
        assert version_hashes(v, pid, seed=SEED) == want, (v, pid)


def test_v17_is_opt_in_and_only_v17_has_the_spine():
    assert ANATOMY_VERSION == "v11" and features("v17").spine_v17
    assert [v for v in ("v8", "v11", "v12", "v13", "v14", "v15", "v16", "v17") if features(v).spine_v17] == ["v17"]
    f16, f17 = features("v16"), features("v17")
    assert (f17.mac, f17.lcx_in_fat, f17.high_right_dome, f17.kyphosis, f17.abdomen) == (
        f16.mac, f16.lcx_in_fat, f16.high_right_dome, f16.kyphosis, f16.abdomen)


def test_v17_draws_keep_v16s_heart_abdomen_and_calcium():
    for pid in range(1, 6):
        d16, d17 = (_draws(pid, SEED, 64, version=v)[0] for v in ("v16", "v17"))
        a16, a17 = d16.anat, d17.anat
        assert np.array_equal(a16.heart_c, a17.heart_c) and a16.spine_c == a17.spine_c
        assert a16.abdomen.stomach == a17.abdomen.stomach and a16.n_slices == a17.n_slices
        assert a16.kyphosis[0] == a17.kyphosis[0]  # the apex; severity, share and period: the same draws, v17's ranges
        assert V17_VERT_PERIOD_MM[0] <= a17.vert_period <= V17_VERT_PERIOD_MM[1]
        assert not a16.spine_v17 and a17.spine_v17
        assert [tuple(p.centre) for p in d16.plaques] == [tuple(p.centre) for p in d17.plaques]


def test_v17_shift_is_the_whole_curve_and_at_most_8_mm_forward_behind_the_heart():
    for pid in range(1, 9):
        a = _draws(pid, SEED, 64, version="v17")[0].anat
        lo, hi = _heart_levels(a)
        z = np.linspace(lo - 60, hi + 60, 200)
        g = kyphosis_shift_mm(a, z)
        # undamped: the shift differs from the curve by one constant (v16 scaled it by 0.6 at the heart's levels)
        d = _kyphosis_curve(a, z) - g
        assert np.ptp(d) < 1e-9, pid
        at = (z >= lo) & (z <= hi)
        assert g[at].max() <= V17_HEART_FWD_MM + 1e-9, pid


def test_v17_back_skin_moves_by_g_skin_and_the_map_is_monotonic():
    a = _draws(3, SEED, 64, version="v17")[0].anat
    y = np.arange(-200.0, 200.0, 0.5)
    y_skin = float(a.wall.y_back)
    for g, g_skin in ((-20.0, 0.0), (10.0, 12.0), (-35.0, 3.0), (25.0, 0.0)):
        src = bend_source_rows(a, y, g, 35.0, g_skin=g_skin)
        assert np.all(np.diff(src) > 0), (g, g_skin)
        assert abs(np.interp(y_skin, src, y) - (y_skin - g_skin)) < 0.3, (g, g_skin)  # the skin painted g_skin forward


def test_v17_truth_labels_heart_equal_v16_and_column_moves():
    for pid in (1, 3):
        p16 = make_patient(pid, seed=SEED, size=64, version="v16", anatomy=True)
        p17 = make_patient(pid, seed=SEED, size=64, version="v17", anatomy=True)
        assert p17.truth == p16.truth, pid
        assert np.array_equal(p17.labels, p16.labels), pid
        heart = LABEL["heart"]
        assert np.array_equal(p16.anatomy_labels == heart, p17.anatomy_labels == heart), pid
        assert not np.array_equal(p16.anatomy_labels == LABEL["vertebra"], p17.anatomy_labels == LABEL["vertebra"])


def test_v17_truth_exact_and_deterministic():
    exact_version_patient("v17", {"LAD"}, seed=SEED)


def test_v17_front_tilt_map_and_shift():
    from cacscore.phantom.anatomy import front_source_rows, front_tilt_shift_mm, upper_chest_z

    y = np.arange(-150.0, 150.0, 0.5)
    src = front_source_rows(y, np.array([0.0, 10.0, 30.0]), 20.0, 25.0)
    assert np.all(np.diff(src, axis=0) > 0)
    assert np.allclose(src[:, 0], y)  # no shift: nothing moves
    front = y < 20.0 - 30.0
    assert np.allclose(src[front, 2], y[front] + 30.0)  # the wall in front moves forward by the shift
    assert np.allclose(src[y >= 45.0], y[y >= 45.0][:, None])  # behind the band: unchanged
    a16 = _draws(1, SEED, 64, version="v16")[0].anat
    a = _draws(1, SEED, 64, version="v17")[0].anat
    assert a16.front_tilt == 0.0 and a.front_tilt > 0
    top, xi = upper_chest_z(a), a.sternum.z_xiphoid
    s = front_tilt_shift_mm(a, np.array([top + 20.0, top, 0.5 * (top + xi), xi, xi - 50.0]))
    assert s[0] == 0.0 and s[1] == 0.0 and 0 < s[2] < s[3] and s[3] == s[4]
    assert abs(s[3] - a.front_tilt * (top - xi)) < 1e-9


def test_v17_sternum_painted_forward_by_the_tilt():
    from cacscore.phantom.anatomy import front_tilt_shift_mm

    p16 = make_patient(1, seed=SEED, size=64, version="v16", anatomy=True)
    p17 = make_patient(1, seed=SEED, size=64, version="v17", anatomy=True)
    a = p17.anatomy
    sp, org = p17.spacing_mm, p17.origin_mm
    col = int(round((a.cav_c[0] - org[0]) / sp[2]))
    st = LABEL["sternum"]
    checked = 0
    for k in range(p17.hu.shape[0]):
        r16 = np.flatnonzero(p16.anatomy_labels[k, :, col] == st)
        r17 = np.flatnonzero(p17.anatomy_labels[k, :, col] == st)
        if not len(r16) or not len(r17):
            continue
        g = float(front_tilt_shift_mm(a, np.array([org[2] + k * sp[0]]))[0])
        assert abs((r16[0] - r17[0]) * sp[1] - g) <= 1.5 * sp[1], (k, g)
        checked += g > 2 * sp[1]
    assert checked >= 2
    assert np.array_equal(p16.anatomy_labels == LABEL["heart"], p17.anatomy_labels == LABEL["heart"])


def test_v17_retrosternal_space_is_fat_not_lung():
    """_fill_retrosternal: in the rows the tilted sternum left (between its moved back and its drawn back), on the
    midline, no lung remains where the tilt exceeds 2 mm (v17's first pictures showed a lung wedge there)."""
    from cacscore.phantom.anatomy import front_tilt_shift_mm

    p = make_patient(1, seed=SEED, size=64, version="v17", anatomy=True)
    a = p.anatomy
    sp, org = p.spacing_mm, p.origin_mm
    col = int(round((a.cav_c[0] - org[0]) / sp[2]))
    y = org[1] + np.arange(p.hu.shape[1]) * sp[1]
    lungs = (LABEL["lung_left"], LABEL["lung_right"])
    checked = 0
    for k in range(p.hu.shape[0]):
        s = float(front_tilt_shift_mm(a, np.array([org[2] + k * sp[0]]))[0])
        if s <= 2.0 + 2 * sp[1]:
            continue
        y_rigid = float(a.sternum.y_back) + 2.0
        rows = np.flatnonzero((y >= y_rigid - s + sp[1]) & (y <= y_rigid))
        lab = p.anatomy_labels[k, rows, col]
        assert not np.isin(lab, lungs).any(), k
        checked += len(rows) > 0
    assert checked >= 1
