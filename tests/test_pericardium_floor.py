"""The pericardial mask's floor (issue 16, session 11): with contrast the low right heart's blood pools reach under
the floor drawn from the lung floors and out of the lungs' hull (LIDC-IDRI-0001 and -0003 lost their right atrium
and inferior right ventricle), the liver is cut whatever the contrast by its own HU band, and the tail in front of
the aorta goes piece by piece."""

from __future__ import annotations

import numpy as np

from cacscore.chest.anatomy import _without_liver, _without_tail_at_aorta, find_pericardium
from cacscore.chest.aorta import TubeTrack

GRID = np.array([2.5, 2.5, 2.5])


def _chest(contrast: bool):
    """A 60 x 64 x 64 chest on a 2.5 mm grid: two lungs (x 4-17 and 47-60) from z 20 (50 mm, both domes) up, a heart
    between them from z 24 up (blood 300 HU with contrast, 40 without, in a 120 / 45 HU wall), and its low right
    chamber z 14-23 (35-57.5 mm), under the domes (50 mm) and in front of the lungs' front tips; liver under the
    right side."""
    g = np.full((60, 64, 64), -850.0, np.float32)
    g[:, 8:58, 2:62] = 10.0  # the body: soft tissue and fat
    body = np.zeros(g.shape, bool)
    body[:, 8:58, 2:62] = True
    lungs = np.zeros(g.shape, bool)
    lungs[20:, 24:54, 4:18] = lungs[20:, 24:54, 46:60] = True
    g[lungs] = -850.0
    blood, wall = (300.0, 120.0) if contrast else (40.0, 45.0)
    g[24:50, 24:50, 22:44] = wall
    g[25:49, 26:48, 24:42] = blood
    g[14:24, 16:28, 20:32] = wall  # the low right chamber, in front of the lungs (y < 24) and under the domes
    g[15:24, 17:27, 21:31] = blood
    g[:20, 30:56, 4:24] = 65.0  # the liver under the right dome
    return g, body, lungs


def test_low_right_chamber_with_contrast_joins_the_mask():
    g, body, lungs = _chest(True)
    dia = np.full((64, 64), 50.0)
    heart, part = find_pericardium(g, lungs, body, dia, None, np.nan, GRID, 50.0, 32.0, right_dome_mm=50.0,
                                   contrast=True, blood_lo=120.0)
    assert part.found
    assert heart[15:20, 19:25, 22:30].all()  # the chamber's blood, 2.5-12.5 mm under the domes
    assert not heart[:12].any()  # never more than 25 mm under the lower dome (50 mm)
    assert not (heart & (g == 65.0)).any()  # nor the liver
    plain, _ = find_pericardium(g, lungs, body, dia, None, np.nan, GRID, 50.0, 32.0, right_dome_mm=50.0,
                                contrast=True, blood_lo=None)
    assert not plain[15:20].any()  # without the blood pools the floor holds: the behaviour before session 11


def test_without_contrast_the_floor_holds():
    g, body, lungs = _chest(False)
    dia = np.full((64, 64), 50.0)
    heart, _ = find_pericardium(g, lungs, body, dia, None, np.nan, GRID, 50.0, 32.0, right_dome_mm=50.0,
                                contrast=False, blood_lo=None)
    assert not heart[:17].any()  # 15 mm under the left dome at most, and no blood pool to follow


def test_liver_cut_with_contrast_keeps_the_enhanced_heart():
    """The liver is not enhanced in a chest series (60-71 HU on LIDC 0001 / 0003): cut from the mask by its own band
    whatever the contrast (before session 11 contrast scans were skipped); blood (300) and wall (120) stay."""
    g = np.full((40, 40, 60), -800.0, np.float32)
    body = np.ones(g.shape, bool)
    g[:, 5:35, 3:57] = 10.0
    g[:14, 5:35, 3:30] = 65.0  # the liver, its dome up to 32.5 mm
    g[6:35, 8:32, 24:44] = 120.0  # the heart's wall ...
    g[7:34, 10:30, 26:42] = 300.0  # ... and blood, down beside the liver's dome
    heart = np.zeros(g.shape, bool)
    heart[6:35, 8:32, 16:44] = True  # the mask takes in the dome on its right
    out = _without_liver(heart, g, body, np.zeros(g.shape, bool), GRID, np.full((40, 60), 20.0), 35.0, 30.0)
    assert not out[6:12, 10:30, 16:22].any()
    assert out[7:34, 10:30, 26:42].all()


def test_tail_piece_at_the_aorta_goes_the_heart_piece_beside_it_stays():
    """LIDC-IDRI-0003 with the low right heart in the mask: the lowest slices hold the right ventricle's tip far in
    front and the oesophagus column at the aorta; the slice as a whole was neither small nor centred at the aorta."""
    nz = 30
    k = np.arange(nz, dtype=float)
    desc = TubeTrack(k, np.full(nz, 58.0), np.full(nz, 40.0), np.full(nz, 4.0), np.full(nz, 100.0))
    m = np.zeros((nz, 80, 80), bool)
    m[12:26, 10:45, 20:60] = True
    m[6:12, 46:52, 37:43] = True  # 2.25 cm2 in front of the aorta
    m[6:12, 8:20, 10:30] = True  # the right ventricle's tip: 15 cm2, 110 mm from the aorta
    out = _without_tail_at_aorta(m, desc, GRID)
    assert not out[6:12, 46:52].any()
    assert out[6:12, 8:20, 10:30].all() and (out[12:] == m[12:]).all()
