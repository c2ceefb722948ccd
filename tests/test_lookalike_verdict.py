"""bench/lookalike_verdict.py: paired look-alike counts of a candidate against the shipped model, on hand-made
lookalike_calls caches whose answers are worked out by hand."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import lookalike_verdict as V
from lookalike_calls import K

MAC = "mitral annulus (MAC)"


def _cache(out: Path, pid: int, called: list[float]) -> None:
    """One patient: a 100 AU coronary candidate, a 200 AU MAC deposit and a 50 AU costal cartilage deposit; ``called``
    gives the AU called coronary of each (all as LCX)."""
    (out / "cache").mkdir(parents=True, exist_ok=True)
    kind = np.array([K["coronary"], K[MAC], K["costal cartilage"]])
    called_au = np.zeros((3, 4))
    called_au[:, 2] = called
    np.savez(out / "cache" / f"{pid}.npz", kind=kind, au=np.array([100.0, 200.0, 50.0]), called_au=called_au)


def test_pair_counts_and_interval(tmp_path):
    cand, ship = tmp_path / "cand", tmp_path / "ship"
    for pid in range(1, 11):  # the candidate calls the MAC on patients 1-4, the shipped model on patient 1 only
        _cache(cand, pid, [100.0, 200.0 if pid <= 4 else 0.0, 0.0])
        _cache(ship, pid, [60.0, 200.0 if pid == 1 else 0.0, 50.0 if pid == 2 else 0.0])
    df = V.read_pair(cand, ship, MAC)
    s = V.summary(df, boot=500).set_index("statistic")
    assert s.loc["look AU", "cand"] == 800 and s.loc["look AU", "shipped"] == 250
    assert s.loc["look deposits", "difference"] == 4 - 2
    assert s.loc[f"{MAC} deposits", "difference"] == 3
    assert s.loc["coronary missed AU", "cand"] == 0 and s.loc["coronary missed AU", "shipped"] == 400
    # every resample holds the candidate's MAC excess on some patients and never a deficit
    assert 0 <= s.loc[f"{MAC} AU", "95% CI low"] < 600 < s.loc[f"{MAC} AU", "95% CI high"]
    assert s.loc["coronary missed AU", "95% CI high"] < 0


def test_mismatched_folders_refused(tmp_path):
    cand, ship = tmp_path / "cand", tmp_path / "ship"
    _cache(cand, 1, [0.0, 0.0, 0.0])
    _cache(ship, 2, [0.0, 0.0, 0.0])
    with pytest.raises(SystemExit, match="different patients"):
        V.read_pair(cand, ship, None)


def test_main_prints_pooled(tmp_path, capsys):
    for name in ("c", "s"):
        for pid in (1, 2):
            _cache(tmp_path / name, pid, [100.0, 0.0, 0.0])
    assert V.main(["--pair", str(tmp_path / "c"), str(tmp_path / "s"), "--boot", "50"]) == 0
    out = capsys.readouterr().out
    assert "pooled, paired bootstrap over patients" in out and "look deposits" in out
