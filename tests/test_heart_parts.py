"""The two pieces of cacscore.chest.heart.locate_heart split out in session 15 (wt23d; locate_heart's findings on
LIDC-IDRI-0001..0003 and 17 phantom series unchanged, docs/chest_anatomy.md "(session 15, wt23d)")."""

from __future__ import annotations

import numpy as np

from cacscore.chest.heart import HEART_FRACTION, _heart_weights, _mediastinum_in


def _slice() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A 40 x 40 slice: lungs at columns 2-12 and 28-38 (rows 5-30), soft tissue between, a spine (400 HU) at rows
    24-30, columns 18-22."""
    sl = np.full((40, 40), 40.0)
    lung = np.zeros((40, 40), bool)
    lung[5:31, 2:13] = lung[5:31, 28:39] = True
    sl[lung] = -800.0
    sl[24:31, 18:23] = 400.0
    soft = (sl > -20) & (sl < 150)
    return sl, lung, np.ones((40, 40), bool), soft


def test_mediastinum_between_the_lungs_in_front_of_the_spine():
    sl, lung, body, soft = _slice()
    mass, cy, cx = _mediastinum_in(sl, lung, body, soft, "")
    assert cy < 24 and 18 <= cx <= 22  # centred between the lungs, in front of the spine's rows
    assert mass == soft[5:24, 11:29].sum()  # the inner lung edges (90th / 10th percentile columns) to the spine
    one = lung.copy()
    one[:, 20:] = False  # one lung only: no mediastinum in this slice
    assert _mediastinum_in(sl, one, body, soft, "") is None


def test_heart_weights_take_the_run_around_the_widest_mediastinum():
    mass = np.zeros(40)
    mass[5:10] = 20.0  # a narrower stretch (the great vessels)
    mass[20:30] = 100.0  # the heart
    w = _heart_weights(mass, 2.5)
    # the 15 mm (6-slice) smoothing puts slice 20 at 50 % of the peak, under HEART_FRACTION: the run is 21-29
    assert np.array_equal(np.flatnonzero(w), np.arange(21, 30)) and np.array_equal(w[21:30], mass[21:30])
    assert HEART_FRACTION == 0.6
    assert np.array_equal(np.flatnonzero(_heart_weights(mass, 5.0)), np.arange(20, 30))  # 3 slices: the whole heart
