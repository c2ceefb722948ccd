"""Anatomy v12 of the phantom (issues 15/16, session 15, wt23a; opt-in: make_patient(version="v12"),
cacscore phantom --anatomy v12): v11 with the heart's long-axis azimuth drawn on anatomy.V12_HEART's range and the left
main's bifurcation at coronary.V12_PHI_B round the AV groove, each the same uniform draw as v11's mapped onto the new
range, so that the proximal LCX leaves the left main toward the patient's left and stays high, as the real LIDC hybrids'
LCX does (bench/lcx_frame_position.py). v11 is the default (since session 16) and draws as before."""

from __future__ import annotations

import numpy as np

from cacscore.phantom import make_patient
from cacscore.phantom.anatomy import ANATOMY_VERSION, ANATOMY_VERSIONS, HEART_AZIMUTH_DEG, V12_HEART
from cacscore.phantom.core import _draws
from cacscore.phantom.coronary import V11_LCX_SHEATH_MM
from cacscore.phantom.noncoronary import mac_geometry
from version_fixtures import exact_version_patient

SEED = 5


def _frac(x: float, lo_hi: tuple[float, float]) -> float:
    return (x - lo_hi[0]) / (lo_hi[1] - lo_hi[0])


def test_v12_is_opt_in_and_draws_the_azimuth_on_its_range_from_the_same_draw():
    assert ANATOMY_VERSION == "v11" and "v12" in ANATOMY_VERSIONS
    assert mac_geometry("v12") == mac_geometry("v9")
    for pid in range(1, 7):
        d11, d12 = (_draws(pid, SEED, 64, version=v)[0] for v in ("v11", "v12"))
        az11, el11 = d11.anat.heart_angles_deg
        az12, el12 = d12.anat.heart_angles_deg
        assert HEART_AZIMUTH_DEG[0] <= az11 <= HEART_AZIMUTH_DEG[1]
        assert V12_HEART["azimuth_deg"][0] <= az12 <= V12_HEART["azimuth_deg"][1]
        # the same uniform draw, mapped: every draw of the stream after it is v11's
        assert abs(_frac(az12, V12_HEART["azimuth_deg"]) - _frac(az11, HEART_AZIMUTH_DEG)) < 1e-9
        assert abs(el12 - el11) < 1e-9
        assert [(s.vessel, s.s_frac, s.diameter_mm, s.hu) for s in d12.specs] == \
               [(s.vessel, s.s_frac, s.diameter_mm, s.hu) for s in d11.specs]
        assert d12.motion.amplitude_mm == d11.motion.amplitude_mm and d12.kvp == d11.kvp
        assert V11_LCX_SHEATH_MM[0] <= d12.anat.lcx_sheath_mm <= V11_LCX_SHEATH_MM[1]  # v11's LCX sheath too


def _proximal_lcx_from_left_main(d) -> np.ndarray:
    """Mean of the LCX's points 5-35 mm along it minus the left main's midpoint (patient x left, y posterior, z up)."""
    lcx, lca = d.vessels["LCX"], d.vessels["LCA"].points
    arc = lcx.arc_mm()
    return lcx.points[(arc >= 5) & (arc < 35)].mean(axis=0) - lca[len(lca) // 2]


def test_v12_proximal_lcx_runs_more_left_and_higher_from_the_left_main_than_v11():
    v11 = np.array([_proximal_lcx_from_left_main(_draws(pid, SEED, 64, version="v11")[0]) for pid in range(1, 9)])
    v12 = np.array([_proximal_lcx_from_left_main(_draws(pid, SEED, 64, version="v12")[0]) for pid in range(1, 9)])
    assert np.median(v12[:, 0]) > np.median(v11[:, 0]) + 2.0  # more to the patient's left
    assert np.median(v12[:, 2]) > np.median(v11[:, 2]) + 4.0  # drops less below the left main
    assert (v12[:, 2] > v11[:, 2]).sum() >= 6


def test_v12_truth_exact_deterministic_and_unchanged_by_lookalikes():
    pid, p = exact_version_patient("v12", {"LCX"}, seed=SEED)  # a patient with LCX plaques
    bare = make_patient(pid, seed=SEED, size=96, version="v12", lookalikes=False)
    assert bare.truth == p.truth and np.array_equal(bare.labels, p.labels)
