"""Anatomy v21 of the phantom (issue 15, session 24, wt32a; opt-in: make_patient(version="v21"), cacscore phantom
--anatomy v21): v11 with the aortic root (and the great vessels and ostia drawn from it) and the left main's
bifurcation placed anatomy.V21_ROOT_BACK_MM further back in the heart, the LAD / LCX leaving the moved bifurcation
and joining their v11 courses (coronary.V21_BLEND_MM), and the left main's fat sheath thin at its ostium
(coronary.V21_LM_OSTIUM_SHEATH_MM), as the real left mains of LIDC-IDRI-0001..0003 lie (bench/left_main_where.py;
docs/phantom.md, "(session 24, wt32a)"). Every draw of the patient's stream is v11's."""

from __future__ import annotations

import numpy as np

from cacscore.phantom import make_patient
from cacscore.phantom.anatomy import ANATOMY_VERSION, ANATOMY_VERSIONS, V21_ROOT_BACK_MM, features
from cacscore.phantom.coronary import V11_LCX_SHEATH_MM, V21_LM_OSTIUM_SHEATH_MM, sheath_profile
from cacscore.phantom.noncoronary import mac_geometry
from version_fixtures import draw_pair, exact_version_patient

SEED = 5
PIDS = range(1, 5)


def _pair(pid: int):
    """(v11, v21) draws of one patient (cached: version_fixtures.draw_pair)."""
    return draw_pair("v11", "v21", pid, SEED)


def test_v21_is_opt_in_and_keeps_every_draw_of_v11():
    assert ANATOMY_VERSION == "v11" and "v21" in ANATOMY_VERSIONS
    assert features("v21").root_back and not features("v11").root_back
    assert mac_geometry("v21") == mac_geometry("v11")
    for pid in PIDS:
        d11, d21 = _pair(pid)
        assert d11.anat.root_back_mm == 0.0 and d11.anat.lm_ostium_sheath_mm is None
        assert V21_ROOT_BACK_MM[0] <= d21.anat.root_back_mm <= V21_ROOT_BACK_MM[1]
        assert V21_LM_OSTIUM_SHEATH_MM[0] <= d21.anat.lm_ostium_sheath_mm <= V21_LM_OSTIUM_SHEATH_MM[1]
        assert [(s.vessel, s.s_frac, s.diameter_mm, s.hu) for s in d21.specs] == \
               [(s.vessel, s.s_frac, s.diameter_mm, s.hu) for s in d11.specs]
        assert d21.motion.amplitude_mm == d11.motion.amplitude_mm and d21.kvp == d11.kvp
        assert d21.anat.heart_angles_deg == d11.anat.heart_angles_deg
        assert np.array_equal(d21.anat.heart_c, d11.anat.heart_c)
        assert V11_LCX_SHEATH_MM[0] <= d21.anat.lcx_sheath_mm <= V11_LCX_SHEATH_MM[1]  # v11's LCX sheath too


def test_v21_moves_the_root_and_the_whole_left_main_back_and_nothing_far_from_it():
    for pid in PIDS:
        d11, d21 = _pair(pid)
        back = np.array([0.0, d21.anat.root_back_mm, 0.0])
        assert np.allclose(d21.anat.aorta_root - d11.anat.aorta_root, back)
        lm11, lm21 = d11.vessels["LCA"].points, d21.vessels["LCA"].points
        # the left main moves as a whole: its ostium, its bifurcation (and its length) with the root
        assert np.allclose(lm21[0] - lm11[0], back, atol=0.3) and np.allclose(lm21[-1] - lm11[-1], back, atol=1e-6)
        for name in ("LAD", "LCX", "RCA"):  # past the blend the branches run on v11's course
            a, b = d11.vessels[name].points, d21.vessels[name].points
            far = b[len(b) // 2:]
            gap = np.min(np.linalg.norm(far[:, None, :] - a[None, :, :], axis=2), axis=1)
            assert gap.max() < 1.0, (pid, name, gap.max())
        assert np.allclose(d21.vessels["LAD"].points[0], lm21[-1]) and np.allclose(d21.vessels["LCX"].points[0], lm21[-1])


def test_v21_left_main_sheath_thin_at_the_ostium_only():
    d11, d21 = _pair(1)
    s11, s21 = (sheath_profile(d.anat, "LCA", 20) for d in (d11, d21))
    assert abs(s21[0] - d21.anat.lm_ostium_sheath_mm) < 1e-9 and s21[0] < s11[0]
    assert abs(s21[-1] - s11[-1]) < 1e-9
    for name in ("LAD", "LCX", "RCA"):
        assert np.array_equal(sheath_profile(d11.anat, name, 30), sheath_profile(d21.anat, name, 30))


def test_v21_truth_exact_deterministic_and_unchanged_by_lookalikes():
    pid, p = exact_version_patient("v21", {"LCA"}, seed=SEED)  # a patient with left-main plaques
    bare = make_patient(pid, seed=SEED, size=96, version="v21", lookalikes=False)
    assert bare.truth == p.truth and np.array_equal(bare.labels, p.labels)
