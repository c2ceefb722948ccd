"""The diaphragm found under the heart (cacscore.chest.anatomy.diaphragm_under_heart, SacOptions.diaphragm_under_heart,
SAC_VERSIONS "s23"; session 23, wt31a; docs/chest_anatomy.md "(session 23, wt31a)"): on small synthetic coarse grids."""

from __future__ import annotations

import numpy as np

from cacscore.chest.anatomy import (MIN_CONFIDENCE, SAC_VERSIONS, Part, diaphragm_under_heart, find_diaphragm,
                                    sac_options)

GRID = np.array([5.0, 2.5, 2.5])
NZ, NY, NX = 30, 40, 40


def _chest(fat_hu: float = -90.0, fat_cols: tuple[slice, slice] = (slice(8, 32), slice(8, 32))):
    """Liver (58 HU) on slices 0-7 (its top face at 37.5 mm), a fat line on slice 8 under fat_cols, the heart (40 HU)
    on slices 9-20 over columns 10-30, whose mask is cut 20 mm higher (from slice 13: the lung floors' surface at 62.5
    mm, as on phantoms whose heart's lowest slices sit among the liver's)."""
    g = np.full((NZ, NY, NX), 30.0, np.float32)  # soft tissue round it (no other fat)
    g[:8] = 58.0
    g[8][fat_cols] = fat_hu
    g[9:21, 10:30, 10:30] = 40.0
    heart = np.zeros(g.shape, bool)
    heart[13:21, 10:30, 10:30] = True
    lungs = np.zeros(g.shape, bool)
    return g, lungs, heart, np.full((NY, NX), 62.5)


def test_lowers_the_surface_to_the_fat_line_under_the_heart_only():
    g, lungs, heart, dia = _chest()
    out, part = diaphragm_under_heart(g, lungs, heart, dia, Part(True, 1.0), GRID, NX / 2)
    assert part == Part(True, 1.0)
    assert np.all(out[12:28, 12:28] == 37.5)  # the face between the fat (slice 8) and the liver's top (slice 7)
    assert np.all(out[:2] == 62.5) and np.all(out[:, :2] == 62.5)  # beyond the mask's columns grown 15 mm
    assert np.all(out <= dia)  # only down


def test_never_raises_and_leaves_a_heart_on_the_liver_with_no_fat_between():
    g, lungs, heart, dia = _chest(fat_hu=58.0)
    out, _ = diaphragm_under_heart(g, lungs, heart, dia, Part(True, 1.0), GRID, NX / 2)
    assert np.array_equal(out, dia)
    g, lungs, heart, _ = _chest()
    low = np.full((NY, NX), 20.0)
    out, _ = diaphragm_under_heart(g, lungs, heart, low, Part(True, 1.0), GRID, NX / 2)
    assert np.array_equal(out, low)


def test_a_small_patch_of_fat_is_a_groove_not_the_floor():
    g, lungs, heart, dia = _chest(fat_cols=(slice(18, 22), slice(18, 22)))  # 1 cm^2 < FAT_FLOOR_MIN_CM2
    out, _ = diaphragm_under_heart(g, lungs, heart, dia, Part(True, 1.0), GRID, NX / 2)
    assert np.array_equal(out, dia)


def _lungs_to_the_lowest_slice() -> np.ndarray:
    """Lungs left and right (columns 0-5 and 34-39, > 50 mm from the midline at 5 mm), from slice 6 up; all but the
    innermost column reach down to slice 0 (the costophrenic recesses under the scan)."""
    lungs = np.zeros((NZ, NY, NX), bool)
    lungs[6:, 5:35, :6] = True
    lungs[6:, 5:35, 34:] = True
    lungs[0:, 5:35, :5] = True
    lungs[0:, 5:35, 35:] = True
    return lungs


def test_in_scan_draws_the_surface_from_the_floors_inside_the_scan():
    lungs = _lungs_to_the_lowest_slice()
    grid = np.array([5.0, 5.0, 5.0])  # the lateral columns lie > 50 mm from the midline
    shipped, _, p0 = find_diaphragm(lungs, grid, NX / 2)
    assert not p0.found and "below the scan" in p0.reason
    surface, _, p1 = find_diaphragm(lungs, grid, NX / 2, in_scan=True)
    assert p1.found and p1.confidence == MIN_CONFIDENCE
    assert np.all(surface == 30.0)  # the floors at slice 6


def test_a_surface_below_the_scan_is_found_under_the_heart_from_its_fat_line():
    g, _, heart, _ = _chest()
    lungs = np.zeros(g.shape, bool)
    lungs[0:, 5:35, :1] = True  # every lateral floor at the lowest slice
    lungs[0:, 5:35, 39:] = True
    grid = np.array([5.0, 5.0, 5.0])
    dia, _, p0 = find_diaphragm(lungs, grid, NX / 2)
    assert not p0.found and np.all(dia == 0)
    out, part = diaphragm_under_heart(g, lungs, heart, dia, p0, grid, NX / 2)
    assert part.found and part.sure(MIN_CONFIDENCE)
    assert np.all(out[12:28, 12:28] == 37.5)
    assert np.all(out[:1] == 0.0)  # far from the heart: the scan's bottom, as before


def test_s23_is_s19_with_the_diaphragm_found_under_the_heart():
    s23, s23f, s19 = sac_options("s23"), sac_options("s23f"), SAC_VERSIONS["s19"]
    assert s23.diaphragm_under_heart and s23f.diaphragm_under_heart and not s19.diaphragm_under_heart
    assert s23.diaphragm_from_sac and not s23f.diaphragm_from_sac
    assert s23.oesophagus_mm == s23f.oesophagus_mm == s19.oesophagus_mm and s23.heart_back_mm == s19.heart_back_mm
