"""The heart-back cut of the pericardial mask (cacscore.chest.anatomy.SacOptions.heart_back_mm, sac version "s22";
session 22, wt30b; docs/chest_anatomy.md "(session 22, wt30b)"): with contrast, the column in front of the descending
aorta is cut back to 15 mm behind the heart's chambers, across the aorta's whole width; without contrast nothing."""

from __future__ import annotations

import numpy as np

from cacscore.chest.anatomy import (HEART_BACK_KEEP_MM, SAC_VERSIONS, SacOptions, _heart_back_band, _oesophageal_band,
                                    find_pericardium)
from cacscore.chest.aorta import TubeTrack

GRID = np.array([2.5, 2.5, 2.5])


def _track(nz: int, y: float, x: float, r: float) -> TubeTrack:
    k = np.arange(nz)
    return TubeTrack(k, np.full(nz, y), np.full(nz, x), np.full(nz, r), np.full(nz, 50.0))


def _chest(chamber_back_y: int) -> np.ndarray:
    """(6, 60, 60) coarse HU: fat, a contrast-filled aorta (centre y 40, x 35, radius 4 px) and a chamber (300 HU)
    whose back lies at chamber_back_y, in front of it."""
    g = np.full((6, 60, 60), -80.0, np.float32)
    yy, xx = np.mgrid[0:60, 0:60]
    g[:, np.hypot(yy - 40, xx - 35) <= 4] = 300.0
    g[:, 10:chamber_back_y, 15:50] = 300.0
    return g


def test_heart_back_band_reaches_the_aortas_left_edge_and_keeps_15_mm_behind_the_chamber():
    g = _chest(20)  # the chamber's back 16 px (40 mm) in front of the aorta's front edge (y 36)
    cut = _heart_back_band(g, _track(6, 40, 35, 4), GRID, 20.0, 100.0)
    # the band: y 28-36 (20 mm in front of the edge), x from 35 - 4 - 10 to the aorta's left edge, 39
    assert cut[2, 30, 36] and cut[2, 34, 39]  # left of the aorta's centre: where the oesophageal band stops
    assert not cut[2, 30, 40]  # beyond the aorta's left edge
    assert cut[2, 30, 22] and not cut[2, 30, 20]
    # within HEART_BACK_KEEP_MM of the chamber (its last row y 19): rows up to 19 + 6 stay; 28 is 9 px = 22.5 mm off
    assert HEART_BACK_KEEP_MM == 15.0
    assert not _heart_back_band(_chest(24), _track(6, 40, 35, 4), GRID, 20.0, 100.0)[2, 28, 30]  # 12.5 mm: stays
    assert _heart_back_band(_chest(21), _track(6, 40, 35, 4), GRID, 20.0, 100.0)[2, 28, 30]  # 17.5 mm: cut
    # the aorta's own lumen keeps nothing, even where its circle is tracked off the lumen (2 px: 5 mm)
    assert _heart_back_band(g, _track(6, 42, 37, 4), GRID, 20.0, 100.0)[2, 34, 36]


def test_heart_back_band_cuts_nothing_where_the_chamber_lies_on_the_aorta():
    g = _chest(33)  # the left atrium's back 3 px in front of the aortic edge: the band is all within reach
    assert not _heart_back_band(g, _track(6, 40, 35, 4), GRID, 20.0, 100.0).any()
    # the oesophageal band's keep-zone is 5 mm: it still cuts there
    assert _oesophageal_band(g, _track(6, 40, 35, 4), GRID, 20.0, 100.0).any()


def _mediastinum(contrast_hu: float) -> tuple[np.ndarray, ...]:
    """A (12, 60, 60) chest: two lungs, a chamber with a 10 mm wall of soft tissue, the fat between it and an aorta."""
    g = np.full((12, 60, 60), -80.0, np.float32)
    lungs = np.zeros(g.shape, bool)
    lungs[:, 5:55, 2:12] = True
    lungs[:, 5:55, 48:58] = True
    g[lungs] = -850.0
    g[:, 12:22, 14:46] = 40.0  # the wall
    g[:, 14:18, 16:44] = contrast_hu  # the chamber's blood
    yy, xx = np.mgrid[0:60, 0:60]
    g[:, np.hypot(yy - 44, xx - 32) <= 4] = contrast_hu
    body = np.ones(g.shape, bool)
    return g, lungs, body


def test_find_pericardium_s22_cuts_the_fat_behind_the_heart_with_contrast_only():
    track = _track(12, 44, 32, 4)
    dia = np.full((60, 60), -10.0)
    for hu, contrast in ((300.0, True), (40.0, False)):
        g, lungs, body = _mediastinum(hu)
        masks = {n: find_pericardium(g, lungs, body, dia, track, np.nan, GRID, contrast=contrast,
                                     blood_lo=120.0 if contrast else None, sac=SAC_VERSIONS[n])[0]
                 for n in ("s19o", "s22")}
        assert masks["s19o"][5, 36, 34]  # the fat in front of the aorta, 18 px (45 mm) behind the chamber, left of its centre
        if contrast:
            assert not masks["s22"][5, 36, 34] and not masks["s22"][5, 38, 35]
            assert masks["s22"][5, 20, 30]  # the chamber's wall stays
            assert not (masks["s22"] & ~masks["s19o"]).any()
        else:
            assert np.array_equal(masks["s22"], masks["s19o"])


def test_s22_is_s19o_with_the_heart_back_cut_and_every_other_version_is_unchanged():
    assert SacOptions().heart_back_mm == 0.0
    assert all(SAC_VERSIONS[n].heart_back_mm == 0.0 for n in ("s18", "s19", "s19o"))
    assert SAC_VERSIONS["s22"] == SacOptions(oesophagus_mm=SAC_VERSIONS["s19o"].oesophagus_mm, heart_back_mm=20.0)
