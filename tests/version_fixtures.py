"""The checks every later phantom anatomy version passes (opt-in v10, v12; v11, the default since session 16) (tests/test_phantom_v10.py, v11, v12): its truth is exact,
deterministic and labelled on its own vessels."""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np
import pytest

from cacscore.phantom import make_patient
from cacscore.phantom.anatomy import chest_grid
from cacscore.phantom.core import _draws, _score


def _h(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


@lru_cache(maxsize=None)
def draw_pair(old: str, new: str, pid: int, seed: int = 5, size: int = 64) -> tuple:
    """(old, new) draws (``cacscore.phantom.core._draws``) of one patient, cached for the session: the phantom
    version tests (tests/test_phantom_v21.py, v23, v24) compare a version's draws with the one it grew from, and a
    draw is ~1 s."""
    return tuple(_draws(pid, seed, size, version=v)[0] for v in (old, new))


def version_hashes(version: str, pid: int, *, seed: int = 5, size: int = 48) -> tuple[str, str, str, str]:
    """sha256[:16] of (hu, hu_static, labels, anatomy_labels) of one patient of ``version``: what the phantom
    versions' byte-identity tests (tests/test_phantom_v15.py - v20) compare with the tables recorded before each new
    version existed."""
    p = make_patient(pid, seed=seed, size=size, version=version, anatomy=True)
    return _h(p.hu), _h(p.hu_static), _h(p.labels), _h(p.anatomy_labels)


def exact_version_patient(version: str, vessels: set[str], *, seed: int = 5, size: int = 96):
    """(pid, patient): the first patient of ``seed`` (1-39) whose ``version`` draw holds plaques on every vessel of
    ``vessels``, checked: drawn twice alike (image, labels, truth), its summary naming the version, its truth what the
    static image with its labels scores over the whole volume (> 0 on each of ``vessels``), and each plaque's centre
    voxel carrying its own vessel's label."""
    for pid in range(1, 40):
        if vessels <= {p.vessel for p in _draws(pid, seed, size, version=version)[0].plaques}:
            break
    else:
        pytest.fail(f"no {version} patient of seed {seed} with plaques on {sorted(vessels)}")
    p = make_patient(pid, seed=seed, size=size, version=version)
    again = make_patient(pid, seed=seed, size=size, version=version)
    assert np.array_equal(p.hu, again.hu) and np.array_equal(p.labels, again.labels) and p.truth == again.truth
    assert p.summary()["anatomy_version"] == version
    grid = chest_grid(p.anatomy, size)
    assert _score(p.hu_static, p.labels, grid, tuple(slice(0, n) for n in p.labels.shape)) == p.truth
    assert all(p.truth[v] > 0 for v in vessels)
    org, sp = np.array(p.origin_mm), np.array(p.spacing_mm)
    for pl in p.plaques:
        k = np.rint((pl.centre[[2, 1, 0]] - org[[2, 1, 0]]) / sp).astype(int)
        assert p.labels[tuple(k)] == ("LCA", "LAD", "LCX", "RCA").index(pl.vessel) + 1
    return pid, p
