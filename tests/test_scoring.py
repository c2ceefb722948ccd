"""Tests of cacscore.scoring.agatston: hand-computed cases, options, errors and hypothesis properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cacscore.core.categories import CATEGORY4_LABELS, CATEGORY5_LABELS, CategoryError, risk_category4, risk_category5
from cacscore.scoring.agatston import (
    AgatstonResult,
    ScoringError,
    agatston,
    agatston_weight,
    threshold_for_kvp,
)
from cacscore.core.vessels import LABEL_OF, SCORE_COLUMNS, VESSELS

PS = (0.5, 0.5)  # pixel area 0.25 mm^2: 4 pixels = 1 mm^2


def blank(z: int = 3, n: int = 24) -> tuple[np.ndarray, np.ndarray]:
    return np.full((z, n, n), -50.0), np.zeros((z, n, n), dtype=np.int16)


def put(hu, lab, z, y, x, h, w, value, vessel):
    hu[z, y:y + h, x:x + w] = value
    lab[z, y:y + h, x:x + w] = LABEL_OF[vessel]


def score(hu, lab, **kw) -> AgatstonResult:
    kw.setdefault("pixel_spacing_mm", PS)
    kw.setdefault("slice_spacing_mm", 3.0)
    return agatston(hu, lab, **kw)


# ---------------------------------------------------------------- hand-computed cases
@pytest.mark.parametrize("peak,weight", [(130, 1), (199, 1), (199.9, 1), (200, 2), (299, 2), (300, 3),
                                         (399, 3), (400, 4), (1500, 4)])
def test_one_lesion_in_each_weight_band(peak, weight):
    hu, lab = blank()
    put(hu, lab, 1, 5, 5, 4, 3, 130.0, "LAD")  # 12 px = 3 mm^2
    hu[1, 6, 6] = peak
    r = score(hu, lab)
    assert r.per_vessel["LAD"] == pytest.approx(3.0 * weight)
    assert r.total == pytest.approx(3.0 * weight)
    assert r.lesion_count == {"LCA": 0, "LAD": 1, "LCX": 0, "RCA": 0, "total": 1}
    (les,) = r.lesions
    assert (les.slice, les.vessel, les.weight, les.n_voxels) == (1, "LAD", weight, 12)
    assert les.area_mm2 == pytest.approx(3.0) and les.peak_hu == pytest.approx(peak)
    assert r.volume_mm3["LAD"] == pytest.approx(3.0 * 3.0)


def test_weight_function_bands_and_below_threshold():
    assert agatston_weight(129.9) == 0
    assert agatston_weight(130) == 1
    assert agatston_weight(np.array([100, 150, 250, 350, 450])).tolist() == [0, 1, 2, 3, 4]
    assert agatston_weight(128, threshold_hu=128) == 1


def test_one_mm2_boundary():
    hu, lab = blank()
    put(hu, lab, 0, 2, 2, 2, 2, 300.0, "RCA")  # 4 px = 1.00 mm^2: kept
    put(hu, lab, 2, 2, 2, 1, 3, 300.0, "RCA")  # 3 px = 0.75 mm^2: dropped
    r = score(hu, lab)
    assert r.per_vessel["RCA"] == pytest.approx(1.0 * 3)
    assert r.lesion_count["RCA"] == 1
    # with spacing 0.3 x 0.3 a 1 mm^2 lesion is not a whole number of pixels: 11 px = 0.99 mm^2 dropped
    hu2, lab2 = blank()
    put(hu2, lab2, 0, 2, 2, 1, 11, 300.0, "RCA")
    assert score(hu2, lab2, pixel_spacing_mm=(0.3, 0.3)).total == 0.0
    put(hu2, lab2, 0, 2, 2, 1, 12, 300.0, "RCA")
    assert score(hu2, lab2, pixel_spacing_mm=(0.3, 0.3)).total == pytest.approx(12 * 0.09 * 3)


def test_129_vs_130_hu():
    hu, lab = blank()
    put(hu, lab, 1, 3, 3, 4, 4, 129.0, "LCX")
    assert score(hu, lab).total == 0.0
    hu[1, 3:7, 3:7] = 130.0
    r = score(hu, lab)
    assert r.per_vessel["LCX"] == pytest.approx(4.0) and r.total == pytest.approx(4.0)


def test_partial_threshold_only_counts_pixels_at_or_above():
    hu, lab = blank()
    put(hu, lab, 1, 3, 3, 4, 4, 129.0, "LCX")  # 16 labelled pixels
    hu[1, 3, 3:7] = 250.0  # only 4 above threshold -> 1 mm^2 x 2
    assert score(hu, lab).per_vessel["LCX"] == pytest.approx(2.0)


def test_two_lesions_of_different_vessels_in_one_slice():
    hu, lab = blank()
    put(hu, lab, 1, 2, 2, 4, 4, 210.0, "LAD")   # 4 mm^2 x 2
    put(hu, lab, 1, 12, 12, 2, 6, 420.0, "RCA")  # 3 mm^2 x 4
    r = score(hu, lab)
    assert r.per_vessel == pytest.approx({"LCA": 0.0, "LAD": 8.0, "LCX": 0.0, "RCA": 12.0})
    assert r.total == pytest.approx(20.0)
    assert r.lesion_count["total"] == 2
    assert r.as_row() == pytest.approx({"LCA": 0.0, "LAD": 8.0, "LCX": 0.0, "RCA": 12.0, "total": 20.0})
    assert tuple(r.as_row()) == SCORE_COLUMNS


def test_touching_vessels_split_per_vessel_but_merge_in_total():
    hu, lab = blank()
    put(hu, lab, 1, 2, 2, 2, 2, 150.0, "LAD")  # 1 mm^2, peak 150 -> 1
    put(hu, lab, 1, 2, 4, 2, 2, 450.0, "LCX")  # touching, 1 mm^2, peak 450 -> 4
    r = score(hu, lab)
    assert r.per_vessel["LAD"] == pytest.approx(1.0) and r.per_vessel["LCX"] == pytest.approx(4.0)
    assert r.total == pytest.approx(2.0 * 4)  # one union lesion of 2 mm^2 with peak 450
    assert r.lesion_count == {"LCA": 0, "LAD": 1, "LCX": 1, "RCA": 0, "total": 1}


def test_eight_connectivity_in_slice_not_across_slices():
    hu, lab = blank()
    put(hu, lab, 1, 2, 2, 2, 2, 300.0, "LAD")
    put(hu, lab, 1, 4, 4, 2, 2, 300.0, "LAD")  # diagonal neighbour: same lesion in 2-D 8-connectivity
    put(hu, lab, 2, 2, 2, 2, 2, 300.0, "LAD")  # next slice: a separate lesion in 2-D
    r = score(hu, lab)
    assert r.lesion_count["LAD"] == 2 and r.total == pytest.approx(9.0)
    r3 = score(hu, lab, connectivity="3d")
    assert r3.lesion_count["LAD"] == 1 and r3.total == pytest.approx(9.0)
    assert r3.lesions[0].slice == 1 and r3.lesions[0].n_voxels == 12


def test_3d_weight_from_component_peak():
    hu, lab = blank()
    put(hu, lab, 0, 2, 2, 2, 2, 150.0, "RCA")
    put(hu, lab, 1, 2, 2, 2, 2, 450.0, "RCA")
    assert score(hu, lab).total == pytest.approx(1 + 4)
    assert score(hu, lab, connectivity="3d").total == pytest.approx(2 * 4)


@pytest.mark.parametrize("norm,spacing,thickness,factor", [
    ("spacing", 1.5, 3.0, 0.5), ("spacing", 5.0, 5.0, 5 / 3), ("thickness", 2.5, 3.0, 1.0),
    ("thickness", 3.0, 1.5, 0.5), ("none", 5.0, 5.0, 1.0)])
def test_slice_normalisation(norm, spacing, thickness, factor):
    hu, lab = blank()
    put(hu, lab, 1, 2, 2, 4, 4, 320.0, "LCA")  # 4 mm^2 x 3 = 12
    r = score(hu, lab, slice_spacing_mm=spacing, slice_thickness_mm=thickness, slice_normalisation=norm)
    assert r.total == pytest.approx(12.0 * factor)
    assert r.slice_factor == pytest.approx(factor)
    assert r.volume_mm3["LCA"] == pytest.approx(4.0 * spacing)


def test_min_area_px_option_and_threshold_options():
    hu, lab = blank()
    put(hu, lab, 1, 2, 2, 1, 3, 128.5, "LAD")  # 3 px, peak 128.5
    assert score(hu, lab).total == 0.0
    peer = score(hu, lab, threshold_hu=128, min_area_px=3)  # peers: 128 HU, 3-pixel minimum
    assert peer.total == pytest.approx(0.75) and peer.threshold_hu == 128
    assert score(hu, lab, threshold_hu=128, min_area_px=4).total == 0.0
    hu[1, 2, 2:5] = 140.0
    assert score(hu, lab, threshold_hu=None, kvp=100, min_area_px=1).total == 0.0  # 147 HU at 100 kVp
    assert score(hu, lab, threshold_hu=None, kvp=120, min_area_px=1).total == pytest.approx(0.75)
    assert threshold_for_kvp(100) == 147.0 and threshold_for_kvp(110) == pytest.approx(138.5)


def test_empty_mask_gives_zero():
    hu, lab = blank()
    hu[1, 2:8, 2:8] = 900.0  # bright but unlabelled (e.g. bone)
    r = score(hu, lab)
    assert r.total == 0.0 and r.per_vessel == dict.fromkeys(VESSELS, 0.0)
    assert r.lesions == [] and r.lesion_count["total"] == 0 and r.volume_mm3["total"] == 0.0


def test_integer_hu_and_float_labels_accepted():
    hu, lab = blank()
    put(hu, lab, 1, 2, 2, 4, 4, 250.0, "LAD")
    ref = score(hu, lab).total
    assert score(hu.astype(np.int16), lab.astype(np.float32)).total == pytest.approx(ref)


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("kwargs,match", [
    ({"pixel_spacing_mm": (0.0, 0.5)}, "pixel_spacing_mm"),
    ({"pixel_spacing_mm": (0.5, -1)}, "pixel_spacing_mm"),
    ({"slice_spacing_mm": 0.0}, "slice_spacing_mm"),
    ({"slice_spacing_mm": float("nan")}, "slice_spacing_mm"),
    ({"slice_thickness_mm": -3.0}, "slice_thickness_mm"),
    ({"connectivity": "4d"}, "connectivity"),
    ({"slice_normalisation": "area"}, "slice_normalisation"),
    ({"slice_normalisation": "thickness"}, "slice_thickness_mm"),
    ({"threshold_hu": None}, "kvp"),
    ({"min_area_px": 0}, "min_area_px"),
])
def test_bad_options_raise(kwargs, match):
    hu, lab = blank()
    with pytest.raises(ScoringError, match=match):
        score(hu, lab, **kwargs)


def test_wrong_label_shape_nan_and_bad_labels_raise():
    hu, lab = blank()
    with pytest.raises(ScoringError, match=r"labels shape \(3, 24, 23\) does not match hu shape \(3, 24, 24\)"):
        score(hu, lab[:, :, :-1])
    with pytest.raises(ScoringError, match="3-D"):
        score(hu[0], lab[0])
    bad = hu.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ScoringError, match="NaN"):
        score(bad, lab)
    with pytest.raises(ScoringError, match="bool"):
        score(hu, lab > 0)
    lab[0, 0, 0] = 7
    with pytest.raises(ScoringError, match=r"0\.\.4"):
        score(hu, lab)
    assert issubclass(ScoringError, ValueError)


# ---------------------------------------------------------------- categories
def test_risk_categories():
    assert [risk_category4(s) for s in (0, 0.4, 1, 99, 99.9, 100, 399, 400, 5000)] == [0, 1, 1, 1, 1, 2, 2, 3, 3]
    assert risk_category5(np.array([0, 0.5, 10, 10.5, 11, 100, 101, 400, 400.5])).tolist() == [0, 1, 1, 2, 2, 2, 3, 3, 4]
    assert len(CATEGORY4_LABELS) == 4 and len(CATEGORY5_LABELS) == 5
    assert isinstance(risk_category4(5.0), int)
    with pytest.raises(CategoryError):
        risk_category4(-1)
    with pytest.raises(CategoryError):
        risk_category5(float("nan"))
    assert risk_category4(-1, clip_negative=True) == 0


# ---------------------------------------------------------------- properties
vol = st.tuples(st.integers(1, 4), st.integers(4, 10), st.integers(4, 10))


@st.composite
def scans(draw, separated: bool = False):
    z, y, x = draw(vol)
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    hu = rng.choice([0.0, 129.0, 135.0, 250.0, 350.0, 600.0], size=(z, y, x))
    if separated:  # vessels in their own column bands, separated by a gap column: they never touch
        band = np.arange(x) // 2
        lab = np.where(band % 2 == 0, (band // 2) % 4 + 1, 0)[None, None, :].repeat(z, 0).repeat(y, 1)
        lab = lab * (rng.random((z, y, x)) < 0.9)
    else:
        lab = rng.integers(0, 5, size=(z, y, x))
    return hu, lab


@settings(max_examples=30, deadline=None)
@given(scans(separated=True), st.sampled_from(["2d", "3d"]))
def test_total_is_vessel_sum_when_vessels_do_not_touch(scan, conn):
    hu, lab = scan
    r = score(hu, lab, pixel_spacing_mm=(0.6, 0.6), connectivity=conn)
    assert r.total == pytest.approx(sum(r.per_vessel.values()))
    assert r.lesion_count["total"] == sum(r.lesion_count[v] for v in VESSELS)
    assert r.volume_mm3["total"] == pytest.approx(sum(r.volume_mm3[v] for v in VESSELS))


@settings(max_examples=30, deadline=None)
@given(scans(), st.integers(0, 2**31 - 1), st.sampled_from(["2d", "3d"]))
def test_adding_hu_never_lowers_a_score(scan, seed, conn):
    hu, lab = scan
    more = hu + np.random.default_rng(seed).choice([0.0, 0.0, 5.0, 100.0, 300.0], size=hu.shape)
    a = score(hu, lab, connectivity=conn)
    b = score(more, lab, connectivity=conn)
    for v in VESSELS:
        assert b.per_vessel[v] >= a.per_vessel[v] - 1e-9
    assert b.total >= a.total - 1e-9


@settings(max_examples=30, deadline=None)
@given(scans(), st.integers(0, 2**31 - 1))
def test_permuting_slices_does_not_change_a_2d_score(scan, seed):
    hu, lab = scan
    perm = np.random.default_rng(seed).permutation(hu.shape[0])
    a = score(hu, lab)
    b = score(hu[perm], lab[perm])
    assert b.as_row() == pytest.approx(a.as_row())
    assert b.lesion_count == a.lesion_count
    assert sorted(perm[l.slice] for l in b.lesions) == sorted(l.slice for l in a.lesions)
