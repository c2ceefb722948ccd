"""Anatomy v23 of the phantom (issue 15, session 26; opt-in: make_patient(version="v23"), cacscore phantom --anatomy
v23): v21 with half the hearts lean (coronary.V23_P_LEAN): the myocardium grown to coronary.V23_EPI_FAT_MM under the
pericardium and the coronary fat sheaths thin (coronary.V23_SHEATH_MM), as round the coronaries of the real
LIDC-IDRI-0002 (24 mm box fat 0.07 round its RCA against 0.34 round v11's; bench/groove_context.py). Every draw of the
patient's stream is v21's; the lean draws come from their own stream."""

from __future__ import annotations

import numpy as np

from cacscore.phantom import make_patient
from cacscore.phantom.anatomy import ANATOMY_LABELS, ANATOMY_VERSION, features
from cacscore.phantom.coronary import V23_EPI_FAT_MM, V23_SHEATH_MM
from version_fixtures import draw_pair, exact_version_patient

SEED = 5
PIDS = range(1, 9)


def _pair(pid: int):
    """(v21, v23) draws of one patient (cached: version_fixtures.draw_pair)."""
    return draw_pair("v21", "v23", pid, SEED)


def test_v23_is_opt_in_keeps_every_draw_of_v21_and_makes_some_hearts_lean():
    assert ANATOMY_VERSION == "v11" and features("v23").lean_heart and features("v23").root_back
    lean = 0
    for pid in PIDS:
        d21, d23 = _pair(pid)
        assert d21.anat.epi_lean_mm is None
        assert [(s.vessel, s.s_frac, s.diameter_mm, s.hu) for s in d23.specs] == \
               [(s.vessel, s.s_frac, s.diameter_mm, s.hu) for s in d21.specs]
        assert d23.anat.root_back_mm == d21.anat.root_back_mm and d23.kvp == d21.kvp
        for name in d21.vessels:
            assert np.array_equal(d23.vessels[name].points, d21.vessels[name].points)
        if d23.anat.epi_lean_mm is None:  # not lean: v21's heart exactly
            assert (d23.anat.sheath_prox_mm, d23.anat.lcx_sheath_mm) == (d21.anat.sheath_prox_mm, d21.anat.lcx_sheath_mm)
            continue
        lean += 1
        assert V23_EPI_FAT_MM[0] <= d23.anat.epi_lean_mm <= V23_EPI_FAT_MM[1]
        for s in (d23.anat.sheath_prox_mm, d23.anat.lcx_sheath_mm):
            assert V23_SHEATH_MM[0] <= s <= V23_SHEATH_MM[1]
    assert 0 < lean < len(PIDS)  # half the hearts drawn lean (seed 5: some of eight, not all)


def _fat_near_heart(p) -> tuple[int, int]:
    """(epicardial fat voxels, heart voxels) of one patient's anatomy labels."""
    code = {name: k for k, name in ANATOMY_LABELS.items()}
    lab = p.anatomy_labels
    return int((lab == code["epicardial_fat"]).sum()), int((lab == code["heart"]).sum())


def test_v23_lean_heart_paints_muscle_over_most_of_the_epicardial_fat():
    pid = next(p for p in PIDS if _pair(p)[1].anat.epi_lean_mm is not None)
    p21, p23 = (make_patient(pid, seed=SEED, size=96, version=v, anatomy=True, lookalikes=False) for v in ("v21", "v23"))
    (f21, h21), (f23, h23) = _fat_near_heart(p21), _fat_near_heart(p23)
    assert f23 < 0.6 * f21 and h23 > h21, (f21, f23, h21, h23)


def test_v23_truth_exact_deterministic_and_unchanged_by_lookalikes():
    pid, p = exact_version_patient("v23", {"RCA"}, seed=SEED)
    bare = make_patient(pid, seed=SEED, size=96, version="v23", lookalikes=False)
    assert bare.truth == p.truth and np.array_equal(bare.labels, p.labels)
