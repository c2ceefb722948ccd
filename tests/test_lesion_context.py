"""Tests of the shape / side-tissue candidate columns (cacscore.lesion.context, issue 16: MAC called LCX)."""

from __future__ import annotations

import numpy as np
import pytest

from cacscore import lesion as L
from cacscore.lesion.classifier import FEATURE_SETS, feature_table
from cacscore.lesion.context import SHAPE_NAMES

SP = (2.5, 0.8, 0.8)
HEART = (3, 48, 10)  # (z, y, x) voxel: left of every blob, in the soft tissue


def _scene() -> np.ndarray:
    """(6, 96, 96) HU: soft tissue (40) for x < 53, fat (-100) from x 53 on; three calcium blobs in slice 3:
    A at the boundary (soft on the heart's side, fat beyond), B deep in the fat, C deep in the soft tissue, and
    D in slice 3 and 2 next to C: a two-slice structure; E a 20-pixel rod along x in slice 1 (in the fat)."""
    hu = np.full((6, 96, 96), 40.0, np.float32)
    hu[:, :, 53:] = -100.0
    hu[3, 47:50, 52:55] = 400.0  # A
    hu[3, 20:23, 80:83] = 400.0  # B
    hu[3, 70:73, 25:28] = 400.0  # C
    hu[2, 70:73, 25:28] = 400.0  # C's slice below: one 3-D structure with C
    hu[1, 10:12, 60:80] = 400.0  # E
    return hu


def _columns(cand: L.Candidates) -> dict[str, np.ndarray]:
    return {n: cand.features[:, L.FEATURE_NAMES.index(n)] for n in SHAPE_NAMES}


def _at(cand: L.Candidates, z: int, y: int, x: int) -> int:
    return int(cand.ids[z, y, x]) - 1


def test_ring_tissue_tells_fat_from_soft_tissue_and_the_heart_side_from_the_far_side():
    hu = _scene()
    cand = L.find_candidates(hu, SP, heart_index=HEART)
    c = _columns(cand)
    a, b, cc = _at(cand, 3, 48, 53), _at(cand, 3, 21, 81), _at(cand, 3, 71, 26)
    assert c["ring_fat"][b] == 1.0 and c["ring_soft"][b] == 0.0
    assert c["ring_fat"][cc] == 0.0 and c["ring_soft"][cc] == 1.0
    # A: soft tissue toward the heart centre, fat away from it
    assert c["inner_fat"][a] == 0.0 and c["outer_fat"][a] == 1.0
    assert 0.3 < c["ring_fat"][a] < 0.7


def test_structure_axes_measure_length_and_thickness():
    hu = _scene()
    cand = L.find_candidates(hu, SP, heart_index=HEART)
    c = _columns(cand)
    e, cc = _at(cand, 1, 10, 70), _at(cand, 3, 71, 26)
    # a uniform rod of 20 pixels (16 mm) along x: variance 16^2 / 12 (continuous), 4 sd = 18.5 mm
    assert c["struct_length_mm"][e] == pytest.approx(4 * np.sqrt(16.0 ** 2 / 12), rel=1e-3)
    assert c["struct_width_mm"][e] == pytest.approx(4 * np.sqrt(SP[0] ** 2 / 12), rel=1e-3)  # one slice
    assert c["struct_thick_mm"][e] == pytest.approx(4 * np.sqrt((2 * SP[1]) ** 2 / 12), rel=1e-3)  # two pixels
    # C's structure spans two slices: both its candidates carry the structure's axes, its length is along z
    below = _at(cand, 2, 71, 26)
    assert cand.structure[cc] == cand.structure[below]
    assert c["struct_length_mm"][cc] == c["struct_length_mm"][below] == pytest.approx(
        4 * np.sqrt(SP[0] ** 2 / 4 + SP[0] ** 2 / 12), rel=1e-3)  # two voxel centres 2.5 mm apart, each 2.5 deep
    assert (c["struct_length_mm"] >= c["struct_width_mm"]).all() and (c["struct_width_mm"] >= c["struct_thick_mm"]).all()


def test_columns_do_not_depend_on_which_candidates_are_asked_about():
    """Scoring computes them for the candidates the classifier is asked about, training for all: equal values."""
    hu = _scene()
    full = L.find_candidates(hu, SP, heart_index=HEART)
    only_a = _at(full, 3, 48, 53)
    part = L.find_candidates(hu, SP, heart_index=HEART,
                             context_where=lambda f, o, a: np.arange(len(f)) == only_a)
    cols = [L.FEATURE_NAMES.index(n) for n in SHAPE_NAMES]
    np.testing.assert_array_equal(part.features[only_a], full.features[only_a])
    others = np.arange(full.n) != only_a
    assert (part.features[others][:, cols] == 0).all() and (full.features[others][:, cols] != 0).any()


def test_base_models_read_the_full_table_as_before_and_old_tables_fail_for_shape_models():
    hu = _scene()
    cand = L.find_candidates(hu, SP, heart_index=HEART)
    base = len(L.BASE_FEATURE_NAMES)
    assert L.FEATURE_NAMES[:base] == L.BASE_FEATURE_NAMES and FEATURE_SETS["candidate"] == L.BASE_FEATURE_NAMES
    f = np.repeat(cand.features, 20, axis=0)
    t = np.tile(np.arange(cand.n) % 2, 20)
    cfg = L.ClassifierConfig(hidden=(8,), epochs=2, seed=1)
    from_full = L.train_classifier(f, t, config=cfg)
    from_base = L.train_classifier(f[:, :base], t, config=cfg)
    assert from_full.feature_names == L.BASE_FEATURE_NAMES
    np.testing.assert_array_equal(from_full.predict_proba(f), from_base.predict_proba(f[:, :base]))
    np.testing.assert_array_equal(from_full.predict_proba(f), from_full.predict_proba(f[:, :base]))
    shape_cfg = L.ClassifierConfig(hidden=(8,), epochs=2, seed=1, features=FEATURE_SETS["shape"])
    assert L.train_classifier(f, t, config=shape_cfg).feature_names == L.FEATURE_NAMES
    with pytest.raises(L.LesionError, match="ring_fat"):
        feature_table(f[:, :base], None, FEATURE_SETS["shape"])  # a cache of an older version
