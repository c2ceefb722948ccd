"""Hybrid cases (cacscore.phantom.hybrid): plaques inserted along courses in the found grooves of a chest CT, with
exact truth. The 'real' scan here is a small phantom rendered without coronary calcium (the LIDC series are too
large for a test)."""

from __future__ import annotations

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
