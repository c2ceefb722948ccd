"""One anatomical frame for gated (heart-centred field of view) and non-gated (whole chest) scans (issue 16, item 4):
the heart finder reads a gated series and lands where it lands on the same patient's whole-chest scan."""

from __future__ import annotations

import numpy as np
import pytest

from cacscore.chest.heart import locate_heart
from cacscore.chest.lungs import fov_lung_mask, heart_only_view, lung_field
from cacscore.phantom.core import make_patient


def _mm(index, spacing_mm, origin_xyz) -> np.ndarray:
    """Patient mm (z, y, x) of a (z, y, x) voxel index."""
    return np.asarray(index, float) * np.asarray(spacing_mm) + np.array(origin_xyz[::-1])


@pytest.fixture(scope="module")
def patients():
    # v4: patient 5's whole-chest finding is 50 mm off (the liver between the lung bases; 2 of 20 phantom patients
    # of seed 7 are > 30 mm off, as on v3), so it cannot be the reference here: 1, 4, 7
    return [make_patient(pid, seed=11, size=96, gated=True) for pid in (1, 4, 7)]


def test_gated_series_are_read_as_heart_only_and_whole_chests_are_not(patients):
    for p in patients:
        g = p.gated
        assert "heart-centred" in heart_only_view(g.hu, g.spacing_mm)
        assert heart_only_view(p.hu, p.spacing_mm) == ""
        lf = lung_field(g.hu, g.spacing_mm)
        assert lf.heart_only and lf.mask.sum() > 0.1 * lf.mask.size  # the lungs touch the edge and are found
        assert lung_field(p.hu, p.spacing_mm).heart_only == ""


def test_gated_heart_centre_is_in_the_whole_chest_frame(patients):
    """On the same patient, the finder's centre on the gated series lies within 15 mm of its centre on the
    whole-chest series (the frame the models are trained in); the field of view's centre, the old gated reference,
    does not on all of them."""
    d_new, d_centre = [], []
    for p in patients:
        g = p.gated
        h = locate_heart(g.hu, g.spacing_mm)
        assert h.found and h.heart_only
        ref = _mm(locate_heart(p.hu, p.spacing_mm).index, p.spacing_mm, p.origin_mm)
        d_new.append(np.linalg.norm(_mm(h.index, g.spacing_mm, g.origin_mm) - ref))
        centre = [(n - 1) / 2 for n in g.hu.shape]
        d_centre.append(np.linalg.norm(_mm(centre, g.spacing_mm, g.origin_mm) - ref))
    assert max(d_new) < 15.0
    assert np.mean(d_new) < np.mean(d_centre)


def test_fov_lungs_leave_out_the_air_in_front_of_the_chest():
    """Air reaching the anterior rim of the image disc is outside the patient; air at the side is lung."""
    hu = np.full((2, 64, 64), 40.0, np.float32)
    hu[:, :6, 20:44] = -1000  # in front of the chest wall, touching the top edge at the centre
    hu[:, 20:50, 2:16] = -850  # a lung at the image's side
    m = fov_lung_mask(hu)
    assert m[:, 30, 8].all() and not m[:, 2, 32].any()


def test_a_whole_chest_touching_the_image_edge_is_not_heart_only():
    """Arms or flanks on the border of a whole-chest scan (300 mm along z) do not make it heart-only; the same
    border on a 120 mm scan does."""
    hu = np.full((60, 100, 100), -1000.0, np.float32)
    hu[:, 10:90, 0:100] = 40.0  # tissue across the whole width: 40 % of the border
    assert heart_only_view(hu, (5.0, 3.5, 3.5)) == ""
    assert "cuts through the body" in heart_only_view(hu[:24], (5.0, 3.5, 3.5))
    assert "heart-centred" in heart_only_view(hu, (5.0, 2.0, 2.0))  # 200 mm across


def test_one_frame_on_a_gated_series_is_the_heart_finders_point(patients):
    """Session 13 (wt21b) made training place every candidate through framed_candidates (the chest anatomy and
    heart_reference). On a heart-only series the pericardium is capped at TRUNCATED_CONFIDENCE, under
    REFERENCE_CONFIDENCE, so the finder's point stays the reference and the gated training rows are find_candidates'
    own: the gated -> non-gated transfer is unchanged by the frame fix (session 14, wt22c: 120 gated phantoms of
    seed 31 at 256 px, training rows bit-identical before and after; docs/lesion_scorer.md)."""
    from cacscore.chest.anatomy import TRUNCATED_CONFIDENCE
    from cacscore.lesion import BASE_FEATURE_NAMES, ClassifierConfig, find_candidates
    from cacscore.lesion.anatomy import REFERENCE_CONFIDENCE
    from cacscore.lesion.classifier import framed_candidates

    assert TRUNCATED_CONFIDENCE < REFERENCE_CONFIDENCE
    config = ClassifierConfig()
    assert config.needs_anatomy  # the default model goes through the anatomy door
    nb = len(BASE_FEATURE_NAMES)
    for p in patients:
        g = p.gated
        framed, own = framed_candidates(g.hu, g.spacing_mm, config), find_candidates(g.hu, g.spacing_mm)
        assert framed.anatomy.parts["pericardium"].confidence <= TRUNCATED_CONFIDENCE
        assert framed.heart_index == own.heart_index  # find_candidates' own: the heart finder's point
        assert framed.n == own.n and np.array_equal(framed.features[:, :nb], own.features[:, :nb])
