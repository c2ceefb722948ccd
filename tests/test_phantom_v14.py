"""Anatomy v14 of the phantom (session 17, wt25d; opt-in: make_patient(version="v14"), cacscore phantom --anatomy v14):
v11 with the right diaphragm dome (the liver) raised beside the heart (anatomy.V14_RIGHT_DOME_RAISE_MM), because on
the three real series the liver's dome rises 19-34 mm above the heart's lowest point while v11's rose 10-20 mm (p10-p90)
(docs/phantom.md, "The diaphragm domes against the heart"). v11 (the default) draws as before."""

from __future__ import annotations

import numpy as np

from cacscore.phantom import make_patient
from cacscore.phantom.anatomy import (ANATOMY_VERSION, LABEL, V14_RIGHT_DOME_RAISE_MM, _dome_low, features)
from cacscore.phantom.core import _draws
from version_fixtures import exact_version_patient

SEED = 5


def test_v14_is_opt_in_and_only_v14_raises_the_right_dome():
    assert ANATOMY_VERSION == "v11" and features("v14").high_right_dome
    assert [v for v in ("v8", "v9", "v10", "v11", "v12", "v13", "v14") if features(v).high_right_dome] == ["v14"]
    assert features("v14").mac == features("v11").mac and features("v14").lcx_in_fat


def test_v14_moves_only_the_right_dome():
    for pid in range(1, 6):
        d11, d14 = (_draws(pid, SEED, 64, version=v)[0] for v in ("v11", "v14"))
        a11, a14 = d11.anat, d14.anat
        assert a11.right_dome_raise_mm == 0.0
        assert V14_RIGHT_DOME_RAISE_MM[0] <= a14.right_dome_raise_mm <= V14_RIGHT_DOME_RAISE_MM[1]
        # the heart, its floor, the left dome, the aorta and the calcium draws are v11's
        assert np.array_equal(a14.heart_c, a11.heart_c) and a14.heart_floor_z == a11.heart_floor_z
        assert a14.z_dome_mm == a11.z_dome_mm and a14.dome_left == a11.dome_left
        assert np.array_equal(a14.aorta_root, a11.aorta_root)
        assert [(s.vessel, s.s_frac, s.diameter_mm, s.hu) for s in d14.specs] == \
               [(s.vessel, s.s_frac, s.diameter_mm, s.hu) for s in d11.specs]
        # the diaphragm: the right dome's top raised by the drawn amount, the left dome and the midline unchanged
        c = a11.dome_top_x
        dxn = np.array([-c, 0.0, c, -1.5 * c], np.float32)
        dyn = np.zeros(4, np.float32)
        lo11, lo14 = _dome_low(a11, dxn, dyn), _dome_low(a14, dxn, dyn)
        assert np.isclose(lo14[0] - lo11[0], a14.right_dome_raise_mm, atol=1e-3)
        assert np.isclose(lo14[3] - lo11[3], a14.right_dome_raise_mm, atol=1e-3)
        assert lo14[1] == lo11[1] and lo14[2] == lo11[2]


def test_v14_liver_rises_beside_the_heart():
    """In the label volume the liver's top lies higher against the heart's lowest point than in v11, by about the raise."""
    for pid in (1, 2):
        tops = {}
        for v in ("v11", "v14"):
            p = make_patient(pid, seed=SEED, size=48, version=v, anatomy=True)
            liver_k = np.nonzero((p.anatomy_labels == LABEL["liver"]).any((1, 2)))[0]
            heart_k = np.nonzero((p.anatomy_labels == LABEL["heart"]).any((1, 2)))[0]
            tops[v] = (liver_k[-1] - heart_k[0]) * p.spacing_mm[0]
            raise_mm = p.anatomy.right_dome_raise_mm
        assert tops["v14"] - tops["v11"] >= raise_mm - 2 * p.spacing_mm[0]


def test_v14_truth_exact_and_deterministic():
    exact_version_patient("v14", {"LAD"}, seed=SEED)
