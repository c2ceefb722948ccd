"""Hybrid cases (cacscore.phantom.hybrid): plaques inserted along courses in the found grooves of a chest CT, with
exact truth. The 'real' scan here is a small phantom rendered without coronary calcium (the LIDC series are too
large for a test)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cacscore.chest.anatomy import read_chest
from cacscore.core.vessels import LABEL_OF, VESSELS
from cacscore.phantom import hybrid as H
from cacscore.phantom.core import make_patient
from cacscore.phantom.raster import ellipsoid_fraction
from cacscore.scoring.agatston import agatston


@pytest.fixture(scope="module")
def scan():
    p = make_patient(3, seed=5, size=128, with_coronary_calcium=False)
    return p.hu, p.spacing_mm, read_chest(p.hu, p.spacing_mm)


@pytest.fixture(scope="module")
def case(scan):
    hu, sp, anatomy = scan
    return H.insert_plaques(hu, sp, anatomy, seed=0)


def _score(hu, labels, sp):
    return agatston(hu, labels, pixel_spacing_mm=(sp[1], sp[2]), slice_spacing_mm=sp[0]).as_row()


def test_truth_is_the_agatston_of_the_inserted_plaques(scan, case):
    hu, sp, _ = scan
    assert len(case.plaques) >= 2 and case.truth["total"] > 0
    assert case.truth == _score(case.hu, case.labels, sp)
    # the labels hold only the plaques: the original scan has no calcium under them (no native calcium counted)
    assert _score(hu, case.labels, sp)["total"] == 0.0
    # each vessel's truth is the sum over its plaques scored alone (plaques of different vessels never merge)
    per = {v: 0.0 for v in VESSELS}
    for v in VESSELS:
        per[v] = _score(case.hu, np.where(case.labels == LABEL_OF[v], case.labels, 0), sp)[v]
        assert per[v] == pytest.approx(case.truth[v])
    # the scan is untouched away from the plaques (native calcium, lungs, bone stay as they were)
    # outside the labels every vessel's plaque fraction is <= 0.005: a few HU at most (a plaque's slab fringe), and
    # nothing at all away from them for static plaques, but for those fringes along z (the mask grows in-plane)
    fringe = 4 * 0.005 * (1500 + 200) + 1
    for c in (case, H.insert_plaques(hu, sp, scan[2], seed=0, motion=False)):
        out = c.labels == 0
        assert np.abs(c.hu[out] - np.rint(hu[out])).max() <= fringe
    far = ~H.plaque_mask(c, dilate_px=3)
    assert (c.hu[far] != np.rint(hu[far])).sum() <= 5
    assert np.array_equal(case.hu, H.insert_plaques(hu, sp, scan[2], seed=0).hu)  # deterministic


def test_plaques_lie_in_fat_inside_the_pericardial_band(scan, case):
    hu, sp, anatomy = scan
    sd = H._pericardium_distance(anatomy)
    sample = H._sampler(hu, sp)
    for p in case.plaques:
        zyx = p.centre[::-1]
        d = float(sd[tuple(anatomy.coarse_index(zyx[None])[0])])
        assert H.PERICARDIAL_BAND_MM[0] <= d <= H.PERICARDIAL_BAND_MM[1]
        assert H.FAT_HU[0] - 40 <= float(sample(zyx[None])[0]) <= H.FAT_HU[1] + 40
        # its footprint is labelled with its own vessel
        box, f = ellipsoid_fraction(H._grid(tuple(slice(0, n) for n in hu.shape), sp), p.centre, p.axes, p.semi,
                                     supersample=3 if sp[1] < 1.2 else 5)
        assert (case.labels[box][f > 0.005] == LABEL_OF[p.vessel]).any()
    for name, c in case.courses.items():  # every course point near the heart's outer surface
        d = sd[tuple(anatomy.coarse_index(c).T)]
        if name != "LCA":  # the left main is a straight line from the root
            assert (d <= H.SURFACE_BAND_MM[1] + 3.0).all()


def test_no_anatomy_no_hybrid():
    hu = np.full((20, 64, 64), -1000.0, np.float32)
    anatomy = read_chest(hu, (5.0, 5.0, 5.0))
    with pytest.raises(H.HybridError):
        H.insert_plaques(hu, (5.0, 5.0, 5.0), anatomy, seed=0)


def test_proximal_run_cuts_a_course_at_its_first_jump():
    pts = [np.array([0.0, 0.0, 2.0 * i]) for i in range(4)] + [np.array([0.0, 40.0, 2.0 * i]) for i in range(6)]
    run = H._proximal_run(pts)
    assert len(run) == 4 and run[-1][1] == 0.0  # the proximal piece, though the far one is longer
    # a first piece shorter than 3 points is passed over; no piece of 3: nothing
    assert len(H._proximal_run(pts[2:])) == 6
    assert H._proximal_run([pts[0], pts[5]]) == []


def test_courses_have_no_jumps_and_leave_the_left_main_downwards(scan, case):
    _, _, anatomy = scan
    root = H.heart_axes(anatomy).root
    for name, c in case.courses.items():
        if name == "LCA":
            continue
        assert (np.linalg.norm(np.diff(c, axis=0), axis=1) <= H.MAX_GAP_MM + 1e-6).all()
        if name in ("LAD", "LCX"):
            assert (c[:, 0] <= root[0] + H.ABOVE_ROOT_MM + 1e-6).all()


def test_motion_smears_the_same_plaques(scan, case):
    hu, sp, anatomy = scan
    still = H.insert_plaques(hu, sp, anatomy, seed=0, motion=False)
    assert still.motion_mm == 0.0 and case.motion_mm > 0.5
    assert [p.centre.tolist() for p in still.plaques] == [p.centre.tolist() for p in case.plaques]
    # smeared: the footprint grows and the brightest plaque voxel dims; the truth stays the Agatston of the image
    assert (case.labels > 0).sum() > (still.labels > 0).sum()
    assert case.hu[case.labels > 0].max() < still.hu[still.labels > 0].max()
    assert still.truth == _score(still.hu, still.labels, sp) and case.truth == _score(case.hu, case.labels, sp)
    assert _score(hu, still.labels, sp)["total"] == 0.0


def test_left_main_leaves_the_roots_left_posterior_wall(scan, case):
    """Without landmarks the left main starts on the found root's wall, on its left-posterior side (the left
    coronary sinus), and is 5-15 mm long (it ran in front of the root on LIDC-IDRI-0002 before)."""
    _, _, anatomy = scan
    lm = case.courses["LCA"]
    d = lm[0] - np.asarray(anatomy.aortic_root_mm, float)
    assert np.linalg.norm(d) == pytest.approx(H.root_radius_mm(anatomy), abs=0.5)
    assert abs(d[0]) < 0.5 and d[2] > 0 and d[1] > 0  # level with the root, to the left and behind its centre
    assert 5.0 <= np.linalg.norm(lm[-1] - lm[0]) <= 15.0 + H.SNAP_MM


def test_snap_prefers_groove_fat_clear_of_a_contrast_vessel():
    """A point in tissue moves to the nearest fat; where a contrast-filled vessel runs in that fat, to fat at least
    SNAP_CLEAR_MM from it; with no fat in reach it stays."""
    sp = (1.0, 1.0, 1.0)
    hu = np.full((20, 40, 40), 60.0, np.float32)  # tissue
    hu[:, :, 20:] = -100.0  # groove fat from x 20 mm
    hu[10, 20, 21] = 400.0  # a contrast-filled vessel crossing it, 3 mm from the point
    sample = H._sampler(hu, sp, smooth_mm=0.5)
    p = np.array([[10.0, 20.0, 18.0]])  # in tissue, 2 mm from the fat
    assert H.FAT_HU[0] <= sample(H.snap_to_fat(sample, p))[0] <= H.FAT_HU[1]
    clear = H._clearance(hu, sp, np.zeros(3))
    q = H.snap_to_fat(sample, p, clear=clear)[0]
    assert clear(q[None])[0] >= H.SNAP_CLEAR_MM and np.linalg.norm(q - p[0]) <= H.SNAP_MM
    far = np.array([[10.0, 20.0, 5.0]])  # 15 mm from any fat
    assert np.array_equal(H.snap_to_fat(sample, far), far)


def test_anchored_courses_follow_their_landmarks_with_exact_truth(scan, case):
    """Landmarks (here: every 4th point of the ray courses) make every vessel's course: the anchors' polyline
    snapped to fat, never farther than SNAP_MM (+ the 5-point median) from it; the truth stays exact."""
    hu, sp, anatomy = scan
    lm = {v: c[::4].tolist() + [c[-1].tolist()] for v, c in case.courses.items()}
    got = H.insert_plaques(hu, sp, anatomy, seed=0, landmarks=lm)
    assert set(got.courses) == set(lm)
    for v, c in got.courses.items():
        line = H._resample(np.asarray(lm[v], float), 0.5)
        d = np.linalg.norm(c[:, None] - line[None], axis=2).min(1)
        assert d.max() <= H.SNAP_MM + 2.0, v
        assert np.linalg.norm(c[0] - line[0]) <= H.SNAP_MM  # starts at its ostium
    assert got.truth == _score(got.hu, got.labels, sp) and got.truth["total"] > 0
    assert np.array_equal(got.hu, H.insert_plaques(hu, sp, anatomy, seed=0, landmarks=lm).hu)


LANDMARKS = Path(__file__).resolve().parents[1] / "docs" / "hybrid_landmarks.json"
LIDC = Path("/work/shared/data")


@pytest.mark.parametrize("name", ["lidc-idri-0001", "lidc-idri-0002", "lidc-idri-0003"])
def test_lidc_courses_follow_real_anatomy(name):
    """The three LIDC series' courses from docs/hybrid_landmarks.json: all four vessels; the left main leaves the
    aortic root's left-posterior wall (eye-placed root centre; 8-25 mm from it, the root's radius +- 5 mm) and is
    5-15 mm long; the RCA reaches the crux and goes on as the PDA (at least 15 mm past it, towards the apex); LAD and
    LCX leave the left main's end; the LAD passes within 6 mm of the eye-placed anterior interventricular groove
    points (0003, where the session-8 ray LAD ran lateral of the groove)."""
    if not (LIDC / name).is_dir():
        pytest.skip(f"{LIDC / name} not here")
    from cacscore.io.ct import read_ct

    entry = json.loads(LANDMARKS.read_text())[name]
    vol = read_ct(LIDC / name)
    sp = tuple(abs(float(s)) for s in vol.spacing_mm)
    anatomy = read_chest(vol.hu, sp)
    c = H.coronary_courses(vol.hu, sp, anatomy, np.random.default_rng(0), landmarks=entry["courses"])
    assert list(c) == list(VESSELS)
    root, lm = np.asarray(entry["aortic_root"], float), c["LCA"]
    d = lm[0] - root
    assert 8.0 <= np.linalg.norm(d[1:]) <= 25.0 and abs(d[0]) <= 5.0
    assert d[2] > 0 and d[1] >= -0.35 * np.linalg.norm(d[1:])  # left, not in front of the root
    assert 5.0 <= np.linalg.norm(lm[-1] - lm[0]) <= 15.0
    rca, crux = c["RCA"], np.asarray(entry["crux"], float)
    k = int(np.argmin(np.linalg.norm(rca - crux, axis=1)))
    assert np.linalg.norm(rca[k] - crux) <= H.SNAP_MM
    assert np.linalg.norm(np.diff(rca[k:], axis=0), axis=1).sum() >= 15.0  # the PDA
    assert rca[-1][2] > crux[2]  # the PDA runs to the patient's left of the crux, towards the apex
    for v in ("LAD", "LCX"):  # both start at the left main's end
        assert np.linalg.norm(c[v][0] - lm[-1]) <= 2 * H.SNAP_MM
    for p in entry.get("anterior_interventricular_groove", []):  # the LAD runs in the groove, not lateral of it
        assert np.linalg.norm(c["LAD"] - np.asarray(p, float), axis=1).min() <= 6.0
