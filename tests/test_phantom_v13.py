"""Anatomy v13 of the phantom (session 16, wt24c; opt-in: make_patient(version="v13"), cacscore phantom --anatomy v13):
v11 with the heart tried further left of the midline, and a little smaller, before v4-v12's tries toward the midline
(anatomy.V13_SHRINKS, V13_LEFT_SHIFTS_MM, heart_tries), because in v11 the left AV groove's keep-off from the
descending aorta left most hearts centred on the midline while real hearts lie mostly left of it (docs/phantom.md,
"Heart size and placement"). v11 (the default since session 16) draws as before."""

from __future__ import annotations

import numpy as np

from cacscore.phantom.anatomy import (ANATOMY_VERSION, ANATOMY_VERSIONS, HEART_TRIES, V13_LEFT_SHIFTS_MM, V13_SHRINKS,
                                      heart_tries)
from cacscore.phantom.core import _draws
from cacscore.phantom.coronary import V11_LCX_SHEATH_MM
from cacscore.phantom.noncoronary import mac_geometry
from version_fixtures import exact_version_patient

SEED = 5


def test_v13_is_opt_in_and_tries_left_before_v11s_tries():
    assert ANATOMY_VERSION == "v11" and "v13" in ANATOMY_VERSIONS
    assert mac_geometry("v13") == mac_geometry("v9")
    assert heart_tries("v11") == heart_tries("v12") == tuple((s, m, 0.0) for s, m in HEART_TRIES)
    t13 = heart_tries("v13")
    assert t13[-len(HEART_TRIES):] == heart_tries("v11")  # v11's tries last
    assert t13[:len(V13_SHRINKS) * len(V13_LEFT_SHIFTS_MM)] == tuple(
        (f, 1.0, d) for f in V13_SHRINKS for d in V13_LEFT_SHIFTS_MM)


def test_v13_moves_only_the_heart_and_what_hangs_on_it():
    left11, left13 = [], []
    for pid in range(1, 13):
        d11, d13 = (_draws(pid, SEED, 64, version=v)[0] for v in ("v11", "v13"))
        a11, a13 = d11.anat, d13.anat
        assert a13.heart_angles_deg == a11.heart_angles_deg  # the same pose draw
        assert a13.body_c == a11.body_c and a13.spine_c == a11.spine_c
        assert [(s.vessel, s.s_frac, s.diameter_mm, s.hu) for s in d13.specs] == \
               [(s.vessel, s.s_frac, s.diameter_mm, s.hu) for s in d11.specs]
        assert d13.motion.amplitude_mm == d11.motion.amplitude_mm and d13.kvp == d11.kvp
        assert V11_LCX_SHEATH_MM[0] <= a13.lcx_sheath_mm <= V11_LCX_SHEATH_MM[1]  # v11's LCX sheath too
        # the same drawn size times a try's factor (v13: 0.8-0.9 or v11's; v11: 0.8-1.0): the three semi-axes alike
        ratio = a13.heart_semi / a11.heart_semi
        assert np.allclose(ratio, ratio[0]) and 0.79 <= ratio[0] <= 1.13
        left11.append(a11.heart_c[0] - a11.body_c[0])
        left13.append(a13.heart_c[0] - a13.body_c[0])
    left11, left13 = np.array(left11), np.array(left13)
    # v11: most hearts at the tries' floor (8 mm left of the body's centre); v13 well left of it
    assert (np.isclose(left11, 8.0)).sum() >= 6
    assert np.median(left13) > np.median(left11) + 10.0
    assert (left13 >= left11 - 1e-6).sum() >= 10


def test_v13_truth_exact_and_deterministic():
    exact_version_patient("v13", {"LCX"}, seed=SEED)  # a patient with LCX plaques
