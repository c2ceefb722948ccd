"""bench/fork_split.py (session 24, wt32c): which left-main candidates make a patient a fork patient."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import fork_split as F  # noqa: E402


def test_fork_blobs_counts_left_main_blobs_holding_or_touching_branch_voxels():
    """Three left-main blobs: one holds LAD voxels itself, one touches an LCX blob one slice down (26-neighbourhood),
    one lies alone (no branch within one voxel). Only the first two count, with their left-main voxels."""
    cids = np.zeros((4, 20, 20), np.int32)
    lab = np.zeros_like(cids, dtype=np.uint8)
    cids[1, 2:4, 2:6], lab[1, 2:4, 2:4], lab[1, 2:4, 4:6] = 1, 1, 2  # mixed: 4 left-main voxels, 4 LAD
    cids[1, 10:12, 10:12], lab[1, 10:12, 10:12] = 2, 1  # left main ...
    cids[2, 12, 12], lab[2, 12, 12] = 3, 3  # ... whose corner touches an LCX voxel one slice down
    cids[1, 16:18, 2:4], lab[1, 16:18, 2:4] = 4, 1  # alone
    cids[1, 16:18, 6:8], lab[1, 16:18, 6:8] = 5, 2  # an LAD blob two voxels away: not touching
    assert F.fork_blobs(cids, lab) == (8, 2)
    lab[2, 12, 12] = 4  # RCA, not a branch of the left main
    assert F.fork_blobs(cids, lab) == (4, 1)
    assert F.parse_ids("1-3,7") == ["1", "2", "3", "7"]
