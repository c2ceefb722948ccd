"""Anatomy v6 of the phantom (issue 16, the fat_8mm finding): each coronary's fat sheath is drawn per patient and
varies along the vessel, thin where the vessel lies on the myocardium (crux, PDA, lateral LCX), the calcium draws
unchanged.

v6-v10 draw the LCX's sheath this way; v11 (the default since session 16) holds the LCX's sheath along its whole course
instead (tests/test_phantom_v11.py), so the tests here about the LCX's thinning and collar draw v8 (session 16: with v11
the LCX's profile is flat and these three failed as they should)."""

from __future__ import annotations

import numpy as np
import pytest

import cacscore.phantom.anatomy as A
from cacscore.phantom import make_patient
from cacscore.phantom.coronary import FAT_SHEATH_MM, sheath_profile
from cacscore.phantom.core import _draws

SEED = 5
V5 = {"sheath_prox_mm": FAT_SHEATH_MM, "sheath_thin_mm": FAT_SHEATH_MM, "sheath_phase": 0.0}


def test_sheath_varies_along_each_vessel_and_between_patients():
    anats = [_draws(pid, SEED, 64, version="v8")[0] for pid in range(1, 7)]  # v8: the LCX thins (not in v11)
    for d in anats:
        a = d.anat
        assert 2.0 <= a.sheath_prox_mm <= 4.5 and 0.0 <= a.sheath_thin_mm <= 1.0
        for name, ves in d.vessels.items():
            s = sheath_profile(a, name, len(ves.points))
            assert s.min() >= 0 and s.max() - s.min() > 0.3  # varies along every vessel
        rca = sheath_profile(a, "RCA", len(d.vessels["RCA"].points))
        lcx = sheath_profile(a, "LCX", len(d.vessels["LCX"].points))
        # thick in the proximal grooves, thin (< 2.3 mm: the thin value plus the waviness) at the crux / PDA and on the lateral LCX
        assert rca[: len(rca) // 5].mean() > 0.8 + rca[-len(rca) // 5:].mean() and rca[-len(rca) // 5:].max() < 2.3
        assert lcx[: len(lcx) // 10].mean() > 0.8 + lcx[len(lcx) // 2:].mean() and lcx[len(lcx) // 2:].max() < 2.3
    prox = [d.anat.sheath_prox_mm for d in anats]
    assert np.ptp(prox) > 0.5  # between patients


def test_v5_sheath_is_four_mm_everywhere():
    d = _draws(1, SEED, 64, version="v8")[0]  # (v11 draws the LCX's sheath from its own range, not v5's 4 mm)
    a5 = A.Anatomy(**{**d.anat.__dict__, **V5})
    for name, ves in d.vessels.items():
        assert np.allclose(sheath_profile(a5, name, len(ves.points)), FAT_SHEATH_MM)


@pytest.mark.parametrize("pid", [4, 6, 8])
def test_calcium_draws_and_truth_are_those_of_v5(monkeypatch, pid):
    from test_phantom_v7 import V6  # v6's courses (v7 moved the crux: tests/test_phantom_v7.py)

    from test_phantom_v8 import _as_v7  # and v7's plaque positions (v8 moved larger plaques proximal)

    monkeypatch.setattr(A, "_draw_v7", lambda xr: dict(V6))
    _as_v7(monkeypatch)
    p6 = make_patient(pid, seed=SEED, size=96)
    with monkeypatch.context() as m:
        m.setattr(A, "_draw_v6", lambda xr: dict(V5))
        p5 = make_patient(pid, seed=SEED, size=96)
    assert p6.truth["total"] > 0 and p6.truth == pytest.approx(p5.truth)
    assert p6.summary()["anatomy_version"] == A.ANATOMY_VERSION
    assert np.abs(p6.hu_static - p5.hu_static).max() > 100  # the sheath did change the image


def test_thinly_sheathed_vessels_lie_on_the_myocardium():
    """Where the sheath is thin the vessel's heart side is myocardium (the collar), its centreline still in the lumen,
    fat or muscle, never in lung."""
    from cacscore.phantom.anatomy import LABEL
    from cacscore.phantom.coronary import COLLAR_BELOW_MM
    p = make_patient(3, seed=SEED, size=128, anatomy=True, version="v8")  # v8: v11's LCX is never thin
    d = _draws(3, SEED, 128, version="v8")[0]
    lab = p.anatomy_labels
    heart_share = []
    for name in ("LCX", "RCA"):
        pts = d.vessels[name].points
        thin = sheath_profile(d.anat, name, len(pts)) < COLLAR_BELOW_MM
        assert thin.sum() > 10
        idx = np.rint((pts[thin][:, [2, 1, 0]] - np.array(p.origin_mm)[[2, 1, 0]]) / np.array(p.spacing_mm)).astype(int)
        vals = lab[tuple(idx.T)]
        ok = [LABEL[k] for k in ("coronary_artery", "epicardial_fat", "pericardium", "heart")]
        assert np.isin(vals, ok).mean() > 0.95, (name, np.unique(vals, return_counts=True))
        heart_share.append(np.mean(vals == LABEL["heart"]))
    assert max(heart_share) > 0.1
