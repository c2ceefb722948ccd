"""The pericardial mask loses its lowest slices while they are a small section next to the descending aorta
(issue 16: on LIDC-IDRI-0003 the mask's lowest 7 slices were the oesophagus and the aorta's front half)."""

from __future__ import annotations

import numpy as np

from cacscore.chest.anatomy import TAIL_AREA_CM2, _without_tail_at_aorta
from cacscore.chest.aorta import TubeTrack

GRID = np.array([2.5, 2.5, 2.5])


def _track(nz: int, y: float, x: float) -> TubeTrack:
    k = np.arange(nz, dtype=float)
    return TubeTrack(k, np.full(nz, y), np.full(nz, x), np.full(nz, 4.0), np.full(nz, 100.0))


def _heart(nz: int = 30) -> np.ndarray:
    m = np.zeros((nz, 80, 80), bool)
    m[12:26, 10:45, 20:60] = True  # the heart: 35 x 40 px of 2.5 mm = 87 cm2 per slice
    return m


def test_column_in_front_of_the_aorta_is_cut_below_the_heart():
    m = _heart()
    m[5:12, 45:52, 36:44] = True  # 7 x 8 px = 3.5 cm2, just in front of an aorta centred at (58, 40)
    out = _without_tail_at_aorta(m, _track(30, 58.0, 40.0), GRID)
    assert not out[5:12].any()
    assert (out[12:] == m[12:]).all()  # the heart itself is untouched


def test_small_low_section_far_from_the_aorta_is_kept():
    m = _heart()
    m[8:12, 12:18, 50:58] = True  # an apex cap in front and to the left: 3 cm2, 90 mm from the aorta
    out = _without_tail_at_aorta(m, _track(30, 58.0, 40.0), GRID)
    assert (out == m).all()


def test_large_lowest_slice_stops_the_cut_and_no_track_changes_nothing():
    m = _heart()
    m[5:8, 45:52, 36:44] = True
    m[11, 30:58, 20:60] = True  # a big slice by the aorta: 28 x 40 px = 70 cm2 > TAIL_AREA_CM2
    assert 28 * 40 * 6.25 / 100 > TAIL_AREA_CM2
    out = _without_tail_at_aorta(m, _track(30, 58.0, 40.0), GRID)
    assert not out[5:8].any() and out[11].sum() == m[11].sum()
    assert (_without_tail_at_aorta(m, None, GRID) == m).all()
