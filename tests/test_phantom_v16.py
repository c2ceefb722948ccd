"""Anatomy v16 of the phantom (session 19, wt27c; opt-in: make_patient(version="v16"), cacscore phantom --anatomy v16):
v15 with rounder diaphragm domes, the upper abdomen's organs separated by fat planes (liver with a left lobe,
gallbladder, stomach with an air-fluid level, spleen, kidneys in perirenal fat, bowel in mesenteric fat), the scan
20-90 mm lower and a wider kyphosis severity (docs/phantom.md, "(session 19, wt27c)"). v11 (the default) and v12-v15
draw as before; v16's coronary draws and per-vessel truth are v15's."""

from __future__ import annotations

import numpy as np
from test_phantom_v15 import BEFORE as BEFORE_V15
from version_fixtures import exact_version_patient, version_hashes

from cacscore.phantom import make_patient
from cacscore.phantom.anatomy import (ANATOMY_VERSION, LABEL, V16_DOME_ROUND, V16_EXTRA_BELOW_MM, chest_grid,
                                      features)
from cacscore.phantom.core import _draws

SEED = 5

# sha256[:16] of (hu, hu_static, labels, anatomy_labels) of seed 5, patients 1-2, 48 px, computed on main (6aa1f2d)
# before v16 existed (v15's; v11-v14's are test_phantom_v15's)
BEFORE = dict(BEFORE_V15)
BEFORE.update({
    ("v15", 1): ("52a3e959cbb543e0", "ad5decb17035f315", "093613b382906b4b", "77573e94c59bca0f"),
    ("v15", 2): ("fe775e517728a82f", "b6f1cf94e9638dd1", "96dc6f29eff3ffe6", "2d67aeadb3ba4f7e"),
})


def test_earlier_versions_byte_identical():
    for (v, pid), want in BEFORE.items():
        assert version_hashes(v, pid, seed=SEED) == want, (v, pid)


def test_v16_is_opt_in_and_only_v16_paints_the_abdomen():
    assert ANATOMY_VERSION == "v11" and features("v16").abdomen
    assert [v for v in ("v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15", "v16") if features(v).abdomen] == ["v16"]
    f15, f16 = features("v15"), features("v16")
    assert (f16.mac, f16.lcx_in_fat, f16.high_right_dome, f16.kyphosis) == (f15.mac, f15.lcx_in_fat,
                                                                             f15.high_right_dome, f15.kyphosis)


def test_v16_draws_keep_v15s_heart_domes_calcium_and_slices():
    for pid in range(1, 6):
        d15, d16 = (_draws(pid, SEED, 64, version=v)[0] for v in ("v15", "v16"))
        a15, a16 = d15.anat, d16.anat
        assert a15.abdomen is None and a16.abdomen is not None
        assert np.array_equal(a15.heart_c, a16.heart_c) and a15.spine_c == a16.spine_c
        assert (a15.z_dome_mm, a15.dome_left, a15.right_dome_raise_mm) == (a16.z_dome_mm, a16.dome_left,
                                                                           a16.right_dome_raise_mm)
        assert V16_DOME_ROUND[0] <= a16.dome_round <= V16_DOME_ROUND[1] < a15.dome_round
        assert a15.kyphosis[0] == a16.kyphosis[0]  # the apex (severity and back share: the same draws, wider ranges)
        assert [(s.vessel, s.s_frac, s.diameter_mm, s.hu) for s in d15.specs] == \
               [(s.vessel, s.s_frac, s.diameter_mm, s.hu) for s in d16.specs]
        assert [tuple(p.centre) for p in d15.plaques] == [tuple(p.centre) for p in d16.plaques]
        # the scan reaches lower; v15's slices keep their place (the grid's top part is v15's), and their motion
        extra = a16.extra_below_slices
        assert a16.n_slices == a15.n_slices + extra
        assert V16_EXTRA_BELOW_MM[0] - a16.slice_mm <= extra * a16.slice_mm <= V16_EXTRA_BELOW_MM[1] + a16.slice_mm
        e15, e16 = chest_grid(a15, 64).z_edges_mm, chest_grid(a16, 64).z_edges_mm
        assert np.allclose(e16[extra:], e15)
        assert np.array_equal(d16.motion.phase[extra:], d15.motion.phase)


def test_v16_truth_equals_v15_and_organs_drawn():
    for pid in (1, 2, 3):
        p15 = make_patient(pid, seed=SEED, size=64, version="v15")
        p16 = make_patient(pid, seed=SEED, size=64, version="v16", anatomy=True)
        assert p16.truth == p15.truth, pid
        extra = p16.anatomy.extra_below_slices
        assert np.array_equal(p16.labels[extra:], p15.labels)
        lab = p16.anatomy_labels
        for name in ("liver", "stomach", "abdominal_fat"):
            assert (lab == LABEL[name]).any(), (pid, name)
    # the stomach holds gas (in front: the air-fluid level) and fluid; the kidneys lie beside the spine, in fat
    p = make_patient(1, seed=SEED, size=64, version="v16", anatomy=True)
    st = p.anatomy_labels == LABEL["stomach"]
    assert (p.hu_static[st] < -500).any() and (np.abs(p.hu_static[st] - 12) < 20).any()
    # the abdominal aorta and the IVC reach the lower scan's bottom slice (drawn to v15's; continued by v16)
    assert (p.anatomy_labels[0] == LABEL["aorta_abdominal"]).any() and (p.anatomy_labels[0] == LABEL["ivc"]).any()


def test_v16_truth_exact_and_deterministic():
    exact_version_patient("v16", {"LAD"}, seed=SEED)
