"""Session 14 (MEDIASTINUM_REALISM; opt-in after the session 14 merge, on again since session 15): the candy-cane arch, the hila, the sternum (docs/phantom.md)."""

from __future__ import annotations

import numpy as np
import pytest

from cacscore.phantom import anatomy as an
from cacscore.phantom import make_patient
from cacscore.phantom.core import _draws

SEED = 10203


@pytest.fixture
def on(monkeypatch):
    monkeypatch.setattr(an, "MEDIASTINUM_REALISM", True)


def _anat(pid: int):
    return _draws(pid, SEED, 96)[0].anat


def test_off_draws_session13(monkeypatch):
    monkeypatch.setattr(an, "MEDIASTINUM_REALISM", False)
    a = _anat(1)
    assert a.sternum is None and a.hilar == () and a.carina_below_mm == 12.0 and a.hilar_roots is None


@pytest.mark.parametrize("pid", [1, 2, 3])
def test_arch_curves_round_the_trachea_over_the_left_pa(on, pid):
    a = _anat(pid)
    t = a.aorta
    tx, ty = a.cav_c[0], a.spine_c[1] - a.spine_r - 14.0
    arch = t.points[t.label == an.LABEL["aorta_arch"]]
    assert len(arch) > 5
    # it sweeps round the trachea from its right front (angle from anterior toward the left <= 0 deg) to behind its
    # left side (>= 115 deg), and beside it (60-120 deg) its wall lies 1-8 mm outside the trachea's 10 mm radius (the
    # session-13 arch swept -25..118 deg and cut 2-6 mm into the trachea there on patients 1-8 of this seed)
    th = np.degrees(np.arctan2(arch[:, 0] - tx, -(arch[:, 1] - ty)))
    wall = np.hypot(arch[:, 0] - tx, arch[:, 1] - ty) - t.radius[t.label == an.LABEL["aorta_arch"]]
    assert th.min() <= 0 and th.max() >= 115
    side = (th > 60) & (th < 120)
    assert side.any() and 11 <= wall[side].min() and wall[side].max() <= 18
    # and over the left pulmonary artery: some arch point lies above an LPA point, higher by both radii
    lpa = a.pulmonary[2]
    d_xy = np.linalg.norm(arch[:, None, :2] - lpa.points[None, :, :2], axis=2)
    dz = arch[:, None, 2] - lpa.points[None, :, 2]
    assert ((d_xy < 15) & (dz > lpa.radius.max() + 10)).any()
    # segments in order along the tube: ascending, arch, descending, abdominal
    order = [an.LABEL[s] for s in an.AORTA_SEGMENTS]
    runs = [int(v) for i, v in enumerate(t.label) if i == 0 or v != t.label[i - 1]]
    assert runs == order


@pytest.mark.parametrize("pid", [1, 2])
def test_carina_above_the_bifurcation_and_below_the_arch(on, pid):
    a = _anat(pid)
    c = an.carina_z(a)
    assert 8 <= c - a.pa_bif[2] <= 16 + 1e-6
    assert a.z_dome_mm + a.t_arch - c >= 16 - 1e-6


def test_below_the_chest_slope_the_aorta_and_heart_are_unchanged(monkeypatch):
    monkeypatch.setattr(an, "MEDIASTINUM_REALISM", False)
    off = _anat(2)
    monkeypatch.setattr(an, "MEDIASTINUM_REALISM", True)
    on_ = _anat(2)
    zk = an.upper_chest_z(off) - 5
    assert np.array_equal(off.heart_c, on_.heart_c) and np.array_equal(off.pa_bif, on_.pa_bif)
    for t in (off, on_):
        assert t.aorta is not None
    lo_off = off.aorta.points[off.aorta.points[:, 2] < zk - 25]
    lo_on = on_.aorta.points[on_.aorta.points[:, 2] < zk - 25]
    assert len(lo_off) > 20 and np.array_equal(lo_off, lo_on)
    assert np.array_equal(off.pulmonary[0].points, on_.pulmonary[0].points)


def test_hilar_vessels_in_the_labels_and_truth_unchanged(monkeypatch):
    monkeypatch.setattr(an, "MEDIASTINUM_REALISM", False)
    off = make_patient(1, seed=SEED, size=96)
    monkeypatch.setattr(an, "MEDIASTINUM_REALISM", True)
    p = make_patient(1, seed=SEED, size=96, anatomy=True)
    assert p.truth == off.truth
    lab = p.anatomy_labels
    a = p.anatomy
    assert (lab == an.LABEL["pulmonary_vein"]).sum() > 10
    # pulmonary artery voxels out at the hila, 35+ mm either side of the trachea
    x = p.origin_mm[0] + np.arange(lab.shape[2]) * p.spacing_mm[2]
    pa = lab == an.LABEL["pulmonary_artery"]
    for side in (-1, 1):
        cols = side * (x - a.cav_c[0]) > 35
        assert pa[:, :, cols].sum() > 5
    # costal cartilage touches the sternum (session 13's band stopped 15-30 mm short of it)
    from scipy import ndimage

    near = ndimage.binary_dilation(lab == an.LABEL["sternum"], iterations=1)
    assert (near & (lab == an.LABEL["costal_cartilage"])).sum() > 4
    # the lung trees grow from the lobar arteries' and the veins' ends
    assert len(a.hilar_roots[0]) == 6 and len(a.hilar_roots[1]) == 4 and len(a.hilar) == 16


def test_sternum_section_is_not_a_bar(on):
    a = _anat(1)
    st = a.sternum
    px = 0.25
    x = np.arange(-40, 40, px)
    for z in (0.5 * (st.z_notch + st.z_angle), st.z_angle - 40):
        hw, th, yb = (float(v[0]) for v in st.at(np.array([z])))
        y = np.arange(yb - th - 3, yb + 3, px)
        f = an.sternum_footprint(st, z, x, y, a.cav_c[0], px)
        w = (f > 0.5).sum(axis=1) * px
        rows = w[w > 0]
        assert len(rows) * px == pytest.approx(th, abs=1.0)
        # rounded ends: the rows near the front and the back are much narrower than the widest
        assert rows[0] < 0.8 * rows.max() and rows[-1] < 0.8 * rows.max()
        # wider behind the middle than in front of it (a lens whose anterior surface is the more convex; rows run
        # from the front, y increasing backward)
        h = len(rows) // 2
        assert rows[-h:].sum() > rows[:h].sum()
    # the manubrium is wider and thicker than the body, with a step at the sternal angle
    m = st.at(np.array([st.z_angle + 5.0, st.z_angle - 5.0]))
    assert m[0][0] > m[0][1] and m[1][0] > m[1][1]
    assert not np.isfinite(st.at(np.array([st.z_notch + 5]))[0][0])
