"""Anatomy v20 of the phantom (session 23, wt31d; opt-in: make_patient(version="v20"), cacscore phantom --anatomy v20):
v19 with each rib making v8-v18's whole fall to its own cartilage and an elliptical section, so a thin axial slice cuts
a ring of separate ovals (5 per side on LIDC-IDRI-0002, bench/rib_ring.py) instead of 3 long thin bands; each rib moved
and scaled on its own; the costal cartilages of 60 % of patients patchily calcified (labelled cartilage_calcium,
never coronary) (RibsV20, draw_ribs_v20, cartilage_calcium_share; docs/phantom.md, "(session 23, wt31d)"). v8-v19 draw
as before; v20's heart, coronary draws and per-vessel truth are v19's."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from test_phantom_v19 import BEFORE as BEFORE_V19
from version_fixtures import exact_version_patient, version_hashes

from cacscore.phantom import make_patient
from cacscore.phantom.anatomy import ANATOMY_VERSION, LABEL, features
from cacscore.phantom.chestwall import RibsV20, cartilage_calcium_share
from cacscore.phantom.core import _draws

SEED = 5

# sha256[:16] of (hu, hu_static, labels, anatomy_labels) of seed 5, patients 1-2, 48 px, computed on main (1f46889)
# before v20 existed (v19's; v18's and earlier are test_phantom_v19's table and those it extends)
BEFORE = dict(BEFORE_V19)
BEFORE.update({
    ("v19", 1): ("891dff03636246f6", "9beb82d7924f88c9", "2eec60a3b5d6732e", "ba8e9daf98c440c8"),
    ("v19", 2): ("02c00dbeb0c8443c", "53650be51d151072", "0ff0c069b65b9687", "5df319e915797cc4"),
})


def test_v19_byte_identical():
    for pid in (1, 2):
        assert version_hashes("v19", pid, seed=SEED) == BEFORE[("v19", pid)], pid


def test_v20_is_opt_in_and_keeps_v19s_other_features():
    assert ANATOMY_VERSION == "v11" and features("v20").ribs_v20 and features("v20").ribs_v19
    assert [v for v in ("v8", "v11", "v18", "v19", "v20") if features(v).ribs_v20] == ["v20"]
    f19, f20 = features("v19"), features("v20")
    assert (f20.mac, f20.high_right_dome, f20.kyphosis, f20.abdomen, f20.spine_v17, f20.chest_v18) == (
        f19.mac, f19.high_right_dome, f19.kyphosis, f19.abdomen, f19.spine_v17, f19.chest_v18)


def test_v20_draws_keep_v19s_and_each_rib_stays_in_its_period():
    """Only the ribs' parameters differ from v19's draws; a rib's jitter plus its scaled half-height (and the tilt's
    shift at the band's edge) stays inside half a rib period, so the nearest-rib rounding never cuts a section flat."""
    calcified = 0
    for pid in range(1, 9):
        d19, d20 = (_draws(pid, SEED, 64, version=v)[0] for v in ("v19", "v20"))
        a19, a20 = d19.anat, d20.anat
        assert np.array_equal(a19.heart_c, a20.heart_c) and a19.rib_period == a20.rib_period
        assert a19.cartilage_calc == a20.cartilage_calc
        assert [tuple(p.centre) for p in d19.plaques] == [tuple(p.centre) for p in d20.plaques]
        r = a20.ribs_v19
        assert isinstance(r, RibsV20) and not isinstance(a19.ribs_v19, RibsV20)
        assert len(r.jitter) == len(r.hscale) == 12 and r.power == 2.0
        reach = max(max(abs(j) + r.half_h[0] * s + r.twist * r.half_t[0], r.half_h[1] * s + r.twist * r.half_t[1])
                    for j, s in zip(r.jitter, r.hscale))  # the band's posterior end (w 0) and the junction (w 1)
        assert reach < 0.5 * a20.rib_period, (pid, reach)
        assert r.cart_hu < 130 and 250 <= r.calc_hu <= 600
        calcified += r.calcified
    assert 0 < calcified < 8


def test_cartilage_calcium_share_is_patchy():
    r = next(a.ribs_v19 for pid in range(1, 20) if (a := _draws(pid, SEED, 64, version="v20")[0].anat).ribs_v19.calcified)
    s, z = np.meshgrid(np.linspace(0, 400, 200, dtype=np.float32), np.linspace(-100, 100, 100, dtype=np.float32))
    share = cartilage_calcium_share(r, s, z, np.ones_like(s))
    assert 0.02 < float((share > 0.5).mean()) < 0.6  # patches, neither none nor all of the cartilage
    assert share.min() == 0.0 and share.max() == 1.0
    lab, n = ndimage.label(share > 0.5)
    assert n >= 3  # several separate patches
    left = cartilage_calcium_share(r, s, z, -np.ones_like(s))
    assert not np.array_equal(share, left)  # the two sides' patches differ


def _sections(p, dz_mm: float) -> int:
    """Rib pieces (anatomy label rib, >= 8 mm^2) on the axial slice dz_mm from the heart's centre."""
    z = p.origin_mm[2] + np.arange(p.hu.shape[0]) * p.spacing_mm[0]
    k = int(np.argmin(np.abs(z - p.anatomy.heart_c[2] - dz_mm)))
    rib = p.anatomy_labels[k] == LABEL["rib"]
    lab, n = ndimage.label(rib, structure=np.ones((3, 3)))
    area = ndimage.sum(rib, lab, range(1, n + 1)) * p.spacing_mm[1] ** 2
    return int((np.asarray(area) >= 8.0).sum())


def test_v20_truth_and_heart_equal_v19_ribs_more_sections_cartilage_calcium_not_coronary():
    """The point of v20: more separate rib sections per slice than v19 (real thin slices: 5 per side, v19 3); the
    truth, the coronary labels and the heart are v19's; the calcified cartilage is never coronary."""
    more = 0
    for pid in (1, 2):
        p19 = make_patient(pid, seed=SEED, size=128, version="v19", anatomy=True)
        p20 = make_patient(pid, seed=SEED, size=128, version="v20", anatomy=True)
        assert p20.truth == p19.truth, pid
        assert np.array_equal(p20.labels, p19.labels), pid
        assert np.array_equal(p19.anatomy_labels == LABEL["heart"], p20.anatomy_labels == LABEL["heart"]), pid
        cc = p20.anatomy_labels == LABEL["cartilage_calcium"]
        assert np.count_nonzero(p20.labels[cc]) == 0
        a = sum(_sections(p19, dz) for dz in (-20.0, 0.0, 20.0))
        b = sum(_sections(p20, dz) for dz in (-20.0, 0.0, 20.0))
        more += b > a
    assert more == 2


def test_v20_truth_exact_and_deterministic():
    exact_version_patient("v20", {"LAD"}, seed=SEED)
