"""Anatomy v9 of the phantom (issues 15/16, the MAC blocker; opt-in: make_patient(version="v9"), cacscore phantom
--anatomy v9): the mitral annulus calcium moved to where the real annulus lies in the scorer's frame (higher, round
the lateral / posterolateral wall, shallower; docs/phantom.md). Everything else is v8's. v11 (v9's MAC) is the default since session 16."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cacscore.phantom import make_patient, write_release
from cacscore.phantom.anatomy import ANATOMY_VERSION, LABEL
from cacscore.phantom.core import _draws
from cacscore.phantom.noncoronary import CORONARY_CLEARANCE_MM, MAC_GEOMETRY

SEED = 5
MAC_PIDS = (15, 18, 24, 25, 31)  # the patients of seed 5 (1-39) with MAC drawn


def _mac(d) -> np.ndarray:
    return np.array([b.centre_mm for b in d.cardiac if b.kind == "mitral_annulus"]).reshape(-1, 3)


def _blobs(blobs, kind=None) -> list[tuple]:
    return [(b.centre_mm, b.radius_mm, b.hu, b.kind) for b in blobs if kind is None or b.kind == kind]


def test_v11_is_the_default_and_v9_moves_only_the_mac():
    assert ANATOMY_VERSION == "v11"  # since session 16 (v8 before; docs/phantom.md, "v11 the default anatomy")
    with_mac = set()
    for pid in range(1, 40):
        d0 = _draws(pid, SEED, 64)[0]
        d8 = _draws(pid, SEED, 64, version="v8")[0]
        d9 = _draws(pid, SEED, 64, version="v9")[0]
        d11 = _draws(pid, SEED, 64, version="v11")[0]
        assert _blobs(d0.cardiac) == _blobs(d11.cardiac) and _blobs(d0.nodes) == _blobs(d11.nodes)
        assert d0.anat.lcx_sheath_mm == d11.anat.lcx_sheath_mm is not None
        # the nodes and granulomas drawn after the MAC, the valve calcium, the courses and the plaques are v8's
        assert _blobs(d9.nodes) == _blobs(d8.nodes)
        assert _blobs(d9.cardiac, "aortic_valve") == _blobs(d8.cardiac, "aortic_valve")
        assert all(np.array_equal(d9.vessels[v].points, d8.vessels[v].points) for v in d8.vessels)
        assert all(p9.vessel == p8.vessel and np.array_equal(p9.centre, p8.centre) for p9, p8 in zip(d9.plaques, d8.plaques))
        assert len(d9.plaques) == len(d8.plaques)
        m8, m9 = _mac(d8), _mac(d9)
        assert (len(m8) > 0) == (len(m9) > 0)  # the same patients have MAC
        if len(m9):
            with_mac.add(pid)
            assert not np.array_equal(m8[: len(m9)], m9[: len(m8)])
    assert with_mac == set(MAC_PIDS)


def test_v9_mac_lies_higher_more_basal_and_clear_of_the_coronaries():
    for pid in MAC_PIDS:
        d8, d9 = _draws(pid, SEED, 64, version="v8")[0], _draws(pid, SEED, 64, version="v9")[0]
        m8, m9 = _mac(d8), _mac(d9)
        e1, hc = d9.anat.heart_axes[0], d9.anat.heart_c
        # toward the base along the long axis (u -0.66..-0.54 against v8's -0.52..-0.40), its lowest sphere higher
        # and the band further back (the lateral / posterolateral wall, not the diaphragmatic surface)
        assert ((m9 - hc) @ e1).mean() < ((m8 - hc) @ e1).mean()
        assert m9[:, 2].min() > m8[:, 2].min() and m9[:, 1].mean() > m8[:, 1].mean()
        r = np.array([b.radius_mm for b in d9.cardiac if b.kind == "mitral_annulus"])
        vpts = np.concatenate([v.points for v in d9.vessels.values()])
        dist = np.sqrt(((m9[:, None, :] - vpts[None]) ** 2).sum(-1)).min(1)
        assert (dist >= CORONARY_CLEARANCE_MM + r - 1e-9).all()
    assert set(MAC_GEOMETRY) == {"v8", "v9"}


@pytest.mark.parametrize("pid", [18])
def test_v9_keeps_the_per_vessel_truth_exact_and_deterministic(pid):
    p8 = make_patient(pid, seed=SEED, size=64, anatomy=True, version="v8")
    p9 = make_patient(pid, seed=SEED, size=64, anatomy=True, version="v9")
    again = make_patient(pid, seed=SEED, size=64, anatomy=True, version="v9")
    assert p9.truth == p8.truth and p9.truth_moving == p8.truth_moving
    assert np.array_equal(p9.hu, again.hu) and np.array_equal(p9.labels, again.labels)
    mac = p9.anatomy_labels == LABEL["mitral_annulus_calcium"]
    assert mac.any() and not (p9.labels[mac] > 0).any()  # no MAC voxel carries a coronary label
    assert not np.array_equal(mac, p8.anatomy_labels == LABEL["mitral_annulus_calcium"])
    assert p9.summary()["anatomy_version"] == "v9" and p8.summary()["anatomy_version"] == "v8"


def test_p_mac_knob_and_unknown_version():
    assert all(len(_mac(_draws(pid, SEED, 64, version="v9", p_mac=0.0)[0])) == 0 for pid in MAC_PIDS)
    many = sum(len(_mac(_draws(pid, SEED, 64, version="v9", p_mac=1.0)[0])) > 0 for pid in range(1, 13))
    assert many >= 10  # a few bands may be dropped whole by the coronary clearance
    with pytest.raises(ValueError, match="anatomy version 'v7' unknown"):
        _draws(1, SEED, 64, version="v7")


def test_release_records_its_anatomy_version(tmp_path):
    t = write_release(tmp_path / "r", n_patients=1, seed=SEED, size=32, version="v9")
    assert list(t["anatomy_version"]) == ["v9"]
    assert pd.read_csv(tmp_path / "r" / "truth.csv")["anatomy_version"].tolist() == ["v9"]
