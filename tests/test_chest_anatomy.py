"""cacscore.chest.anatomy.read_chest on small phantoms: the parts it reports are where the phantom drew them."""

from __future__ import annotations

import numpy as np
import pytest

from cacscore.chest.anatomy import ChestAnatomy, read_chest
from cacscore.phantom.core import make_patient


@pytest.fixture(scope="module")
def patient():
    return make_patient(1, seed=5, size=128)


@pytest.fixture(scope="module")
def anatomy(patient) -> ChestAnatomy:
    return read_chest(patient.hu, patient.spacing_mm)


def _mine(patient, xyz) -> np.ndarray:
    """Phantom (x, y, z) patient mm -> read_chest's (z, y, x) mm from voxel 0."""
    o = patient.origin_mm
    return np.array([xyz[2] - o[2], xyz[1] - o[1], xyz[0] - o[0]], float)


def test_parts_found(anatomy):
    for name in ("body", "lungs", "aorta", "root", "pericardium", "bone"):
        assert anatomy.parts[name].found, (name, anatomy.parts[name])


def test_descending_aorta_on_the_drawn_one(patient, anatomy):
    an = patient.anatomy
    desc = anatomy.aorta.centreline_mm[anatomy.aorta.segment == 2]
    assert len(desc) * patient.spacing_mm[0] >= 60  # followed over at least 6 cm
    want = _mine(patient, (an.desc_c[0], an.desc_c[1], 0.0))[1:]
    err = np.hypot(*(desc[:, 1:] - want).T)
    assert np.median(err) < 8.0, np.median(err)


def test_heart_inside_pericardium_spine_outside(patient, anatomy):
    hc = np.array(patient.heart_centre_mm) - np.array(patient.origin_mm)[::-1]
    k = anatomy.coarse_index(hc[None])[0]
    assert anatomy.pericardium[tuple(k)]
    an = patient.anatomy
    spine = _mine(patient, (an.spine_c[0], an.spine_c[1], hc[0] + patient.origin_mm[2]))
    s = anatomy.coarse_index(spine[None])[0]
    assert not anatomy.pericardium[tuple(s)]
    near = anatomy.bone[s[0], max(0, s[1] - 3):s[1] + 4, max(0, s[2] - 3):s[2] + 4]
    assert (near == 1).any()  # the vertebral body is labelled spine


def test_deterministic_and_bare_array_needs_spacing(patient, anatomy):
    again = read_chest(patient.hu, patient.spacing_mm)
    assert np.array_equal(again.pericardium, anatomy.pericardium)
    assert np.allclose(again.aorta.centreline_mm, anatomy.aorta.centreline_mm)
    with pytest.raises(ValueError, match="spacing_mm"):
        read_chest(patient.hu)
    with pytest.raises(ValueError, match="shape"):
        read_chest(patient.hu[0], patient.spacing_mm)


def test_no_lungs_is_a_reason_not_a_crash():
    hu = np.full((20, 64, 64), 40.0, np.float32)
    a = read_chest(hu, (2.5, 2.5, 2.5))
    assert not a.parts["lungs"].found and a.parts["lungs"].reason
    assert not a.parts["aorta"].found and a.parts["aorta"].reason
