"""Metal in the heart region (cacscore.chest.metal) on a small phantom (96 px) with a planted stent-like cylinder."""

from __future__ import annotations

import numpy as np
import pytest

from cacscore.chest.metal import HEART_RADIUS_MM, METAL_HU, metal_in_heart_region, metal_warnings
from cacscore.phantom import make_patient
from cacscore.chest.heart import find_heart
from metal_fixtures import near_coronary, plant_cylinder, shoulder


@pytest.fixture(scope="module")
def patient():
    return make_patient(1, seed=7, size=96)  # v2 anatomy: its mid-LAD lies 50 mm from the found heart centre (the stent sits inside the 75 mm region)


def test_stent_near_a_coronary_is_found(patient):
    p = patient
    heart = find_heart(p.hu, p.spacing_mm)
    site = near_coronary(p)
    hu = plant_cylinder(p.hu, p.spacing_mm, site)
    n_vox = int((hu >= METAL_HU).sum())
    f = metal_in_heart_region(hu, p.spacing_mm, heart)
    assert f.found and f.n_components == 1 and f.max_hu == 3000.0
    assert f.volume_mm3 == pytest.approx(n_vox * np.prod(p.spacing_mm))
    w = metal_warnings(hu, p.spacing_mm, heart)
    assert len(w) == 1 and w[0].startswith("metal in the heart region (") and "scores unreliable" in w[0]
    assert f"{f.volume_mm3:.0f} mm^3 >= 2500 HU" in w[0]
    # the same stent far from the given centre is outside the region
    far = shoulder(p.hu)
    assert np.linalg.norm((np.array(site) - far) * np.array(p.spacing_mm)) > HEART_RADIUS_MM + 10
    assert not metal_in_heart_region(hu, p.spacing_mm, far).found


def test_no_metal_in_an_unmodified_phantom_or_far_from_the_heart(patient):
    p = patient
    heart = find_heart(p.hu, p.spacing_mm)
    f = metal_in_heart_region(p.hu, p.spacing_mm, heart)
    assert not f.found and f.volume_mm3 == 0 and f.max_hu < 2000  # phantom calcium and bone stay far below
    site = shoulder(p.hu)
    assert np.linalg.norm((np.array(site) - heart) * np.array(p.spacing_mm)) > 150
    hu = plant_cylinder(p.hu, p.spacing_mm, site, length_mm=10.0)
    assert (hu >= METAL_HU).sum() > 0
    assert metal_warnings(hu, p.spacing_mm, heart) == []


def test_small_specks_and_bad_arguments(patient):
    p = patient
    heart = find_heart(p.hu, p.spacing_mm)
    hu = np.array(p.hu, copy=True)
    hu[tuple(heart)] = 3071.0  # one voxel (94-135 mm^3 at 96 px, FOV 300-500 mm) counts; a larger minimum volume says so
    assert metal_in_heart_region(hu, p.spacing_mm, heart).n_components == 1
    one_voxel_mm3 = float(np.prod(p.spacing_mm))
    assert not metal_in_heart_region(hu, p.spacing_mm, heart, min_volume_mm3=1.5 * one_voxel_mm3).found
    assert not metal_in_heart_region(hu, p.spacing_mm, heart, threshold_hu=3100.0).found
    with pytest.raises(ValueError, match="3-D"):
        metal_in_heart_region(hu[0], p.spacing_mm, heart)
    with pytest.raises(ValueError, match="spacing"):
        metal_in_heart_region(hu, (5.0, 0.0, 1.0), heart)
    with pytest.raises(ValueError, match="radius"):
        metal_in_heart_region(hu, p.spacing_mm, heart, radius_mm=0.0)
