"""Anatomy v19 of the phantom (session 22, wt30d; opt-in: make_patient(version="v19"), cacscore phantom --anatomy v19):
v18 with each rib a flat curved plate (cortex round marrow) that falls one rib period less from its neck to the
costochondral junction, so an axial slice cuts long curved bands instead of a ring of dots (RibsV19,
_paint_rib_sections_v19, rib_fall_v19; docs/phantom.md, "(session 22, wt30d)"). v8-v18 draw as before; v19's heart,
coronary draws and per-vessel truth are v18's."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from test_phantom_v18 import BEFORE as BEFORE_V18
from version_fixtures import exact_version_patient, version_hashes

from cacscore.phantom import make_patient
from cacscore.phantom.anatomy import ANATOMY_VERSION, CART_THETA, LABEL, features, rib_fall_v19
from cacscore.phantom.chestwall import rib_section_v19
from cacscore.phantom.core import _draws

SEED = 5

# sha256[:16] of (hu, hu_static, labels, anatomy_labels) of seed 5, patients 1-2, 48 px, computed on main (d065397)
# before v19 existed (v18's; v11-v17's are test_phantom_v18's table and those it extends)
BEFORE = dict(BEFORE_V18)
BEFORE.update({
    ("v18", 1): ("8695b1df6dd561a2", "c4828ae05918e723", "2eec60a3b5d6732e", "0278aea7bc725317"),
    ("v18", 2): ("e9fcf269e3478755", "2576c2155eabc1f8", "0ff0c069b65b9687", "d62e12d856e20bd0"),
})


def test_v18_byte_identical():
    for pid in (1, 2):
        assert version_hashes("v18", pid, seed=SEED) == BEFORE[("v18", pid)], pid


def test_v19_is_opt_in_and_only_v19_has_ribs_v19():
    assert ANATOMY_VERSION == "v11" and features("v19").ribs_v19
    assert [v for v in ("v8", "v11", "v14", "v17", "v18", "v19") if features(v).ribs_v19] == ["v19"]
    f18, f19 = features("v18"), features("v19")
    assert (f19.mac, f19.lcx_in_fat, f19.high_right_dome, f19.kyphosis, f19.abdomen, f19.spine_v17, f19.chest_v18) == (
        f18.mac, f18.lcx_in_fat, f18.high_right_dome, f18.kyphosis, f18.abdomen, f18.spine_v17, f18.chest_v18)


def test_v19_draws_keep_v18s_and_add_only_the_ribs():
    for pid in range(1, 6):
        d18, d19 = (_draws(pid, SEED, 64, version=v)[0] for v in ("v18", "v19"))
        a18, a19 = d18.anat, d19.anat
        assert np.array_equal(a18.heart_c, a19.heart_c) and a18.spine_c == a19.spine_c
        assert (a18.front_tilt, a18.side_curve_mm, a18.rib_drop, a18.rib_period, a18.cartilage_calc) == (
            a19.front_tilt, a19.side_curve_mm, a19.rib_drop, a19.rib_period, a19.cartilage_calc)
        assert [tuple(p.centre) for p in d18.plaques] == [tuple(p.centre) for p in d19.plaques]
        assert a18.ribs_v19 is None and a19.ribs_v19 is not None
        r = a19.ribs_v19
        assert r.half_h[0] < r.half_h[1] and r.half_t[0] > r.half_t[1]  # taller and flatter toward the front
        assert r.cart_hu < 130 and 200 <= r.marrow_hu <= 400 and r.cortex_hu > r.marrow_hu


def test_rib_section_is_a_plate_not_a_lens():
    u = np.array([0.0, 2.4, 2.9, 3.0, 3.5, 5.0])
    hz, cover = rib_section_v19(u, np.float32(3.0), np.float32(7.0), 0.7)
    assert abs(hz[0] - 7.0) < 1e-6 and hz[1] > 0.75 * 7.0  # at 0.8 of the half-thickness: a lens keeps 0.6
    assert np.all(np.diff(hz) <= 0) and hz[3] == 0.0 and hz[5] == 0.0
    assert cover[0] == 1.0 and 0.0 < cover[2] < 1.0 and cover[4] == 0.0 and cover[5] == 0.0


def test_rib_fall_ends_on_v18s_cartilage_of_the_rib_above():
    for pid in range(1, 6):
        a = _draws(pid, SEED, 64, version="v19")[0].anat
        f = rib_fall_v19(a)
        assert 0.5 < f < 0.9
        fall = a.rib_drop * (1 - np.cos(CART_THETA[0])) / 2
        for k in range(1, 12):
            end_v19 = a.rib_top - k * a.rib_period - f * fall
            cart_v18 = a.rib_top - (k - 1) * a.rib_period - fall
            assert abs(end_v19 - cart_v18) < 1e-9


def test_v19_truth_labels_heart_equal_v18_and_ribs_change():
    for pid in (1, 3):
        p18 = make_patient(pid, seed=SEED, size=64, version="v18", anatomy=True)
        p19 = make_patient(pid, seed=SEED, size=64, version="v19", anatomy=True)
        assert p19.truth == p18.truth, pid
        assert np.array_equal(p19.labels, p18.labels), pid
        for name in ("heart", "sternum", "cartilage_calcium"):  # (the spine's label takes rib voxels near it)
            assert np.array_equal(p18.anatomy_labels == LABEL[name], p19.anatomy_labels == LABEL[name]), (pid, name)
        assert not np.array_equal(p18.anatomy_labels == LABEL["rib"], p19.anatomy_labels == LABEL["rib"]), pid


def _rib_pieces(p, dz_mm: float) -> list[float]:
    """Lengths (mm, the largest distance between two of its pixels) of the connected rib / cartilage pieces on the
    axial slice dz_mm above the heart's centre."""
    z = p.origin_mm[2] + np.arange(p.hu.shape[0]) * p.spacing_mm[0]
    k = int(np.argmin(np.abs(z - p.anatomy.heart_c[2] - dz_mm)))
    rib = np.isin(p.anatomy_labels[k], (LABEL["rib"], LABEL["costal_cartilage"]))
    lab, n = ndimage.label(rib, structure=np.ones((3, 3)))
    out = []
    for i in range(1, n + 1):
        pts = np.argwhere(lab == i) * p.spacing_mm[1]
        out.append(float(np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1)).max()))
    return out


def test_v19_axial_slices_cut_fewer_longer_rib_bands():
    """The point of v19: on the heart's axial slices fewer rib pieces, each longer (v18: 10-12 short ovals)."""
    for pid in (1, 2):
        p18 = make_patient(pid, seed=SEED, size=128, version="v18", anatomy=True)
        p19 = make_patient(pid, seed=SEED, size=128, version="v19", anatomy=True)
        a = [x for dz in (-20.0, 0.0, 20.0) for x in _rib_pieces(p18, dz)]
        b = [x for dz in (-20.0, 0.0, 20.0) for x in _rib_pieces(p19, dz)]
        assert len(b) < len(a), pid
        assert np.median(b) > 1.2 * np.median(a), (pid, np.median(a), np.median(b))


def test_v19_cartilage_calcium_stays_in_the_cartilage():
    """The calcium drawn on the costal cartilages (labelled cartilage_calcium, never coronary) still has cartilage round
    it: v19's cartilages are v18's centre lines (rib_fall_v19)."""
    pid = next(i for i in range(1, 20) if _draws(i, SEED, 64, version="v19")[0].anat.cartilage_calc)
    counts = []
    for v in ("v18", "v19"):
        p = make_patient(pid, seed=SEED, size=96, version=v, anatomy=True)
        cc = p.anatomy_labels == LABEL["cartilage_calcium"]
        ring = ndimage.binary_dilation(cc, iterations=2) & ~cc
        counts.append(int(np.count_nonzero(p.anatomy_labels[ring] == LABEL["costal_cartilage"])))
        assert np.count_nonzero(p.labels[cc]) == 0  # never a coronary label
    assert counts[0] > 0 and counts[1] >= 0.7 * counts[0]


def test_v19_truth_exact_and_deterministic():
    exact_version_patient("v19", {"LAD"}, seed=SEED)
