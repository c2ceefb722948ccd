"""The aortic root measured from where the ascending track enters the heart (RootOptions.root_at_heart_entry,
ROOT_VERSIONS["s23"]; session 23, wt31c; docs/chest_anatomy.md "(session 23, wt31c)")."""

import numpy as np
import pytest

from cacscore.chest import anatomy as A
from cacscore.chest.aorta import TubeTrack
from cacscore.lesion import classifier as C

GRID = np.array([5.0, 2.5, 2.5])


def _scene(merged: int, n: int = 8) -> tuple[TubeTrack, np.ndarray]:
    """A plain scan (fat -100 HU) with an ascending track of n circles (radius 12.5 mm, 40 HU discs) one per 5 mm
    slice from slice 2 up; its lowest ``merged`` circles lie in a 100 x 100 mm block of heart (40 HU)."""
    g = np.full((n + 4, 80, 80), -100.0, np.float32)
    yy, xx = np.mgrid[0:80, 0:80]
    disc = (yy - 40) ** 2 + (xx - 40) ** 2 <= 5 ** 2
    ks = np.arange(2, 2 + n)
    for j, k in enumerate(ks):
        g[k][disc] = 40.0
        if j < merged:
            g[k, 20:60, 20:60] = 40.0
    t = TubeTrack(ks, np.full(n, 40.0), np.full(n, 40.0), np.full(n, 5.0), np.full(n, 100.0))
    return t, g


@pytest.mark.parametrize("merged, want", [(0, 0), (1, 1), (3, 3), (5, 5), (6, 0), (8, 0)])
def test_heart_entry(merged, want):
    """The entry is the lowest circle above the merged run; none when the lowest is not merged, when the run reaches
    over HEART_ENTRY_MAX_MM (25 mm: 6 circles 5 mm apart) or covers the whole track."""
    t, g = _scene(merged)
    assert A._heart_entry(t, g, (-60.0, 130.0), GRID) == want


def test_heart_entry_needs_a_heart_sized_section():
    """A section under HEART_ENTRY_MIN_MM2 (a 30 x 30 mm block: 900 mm^2, over 3 discs of 491) is not the heart."""
    t, g = _scene(0)
    g[2, 34:46, 34:46] = 40.0
    assert A._heart_entry(t, g, (-60.0, 130.0), GRID) == 0
    g[2, 22:58, 22:58] = 40.0  # 90 x 90 mm: 8,100 mm^2
    assert A._heart_entry(t, g, (-60.0, 130.0), GRID) == 1


def test_versions_and_config():
    assert A.root_options(None) == A.RootOptions() == A.ROOT_VERSIONS["s22"]
    assert A.root_options("s23").root_at_heart_entry and not A.ROOT.root_at_heart_entry
    with pytest.raises(ValueError, match="s99"):
        A.root_options("s99")
    assert C.ClassifierConfig().chest_root == "s22"
    assert C.ClassifierConfig.from_dict({}).chest_root == "s22"  # model.json files saved before session 23
    with pytest.raises(ValueError, match="chest_root"):
        C.ClassifierConfig(chest_root="s99")
