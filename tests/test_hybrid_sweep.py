"""bench/hybrid_sweep.py: joining bench/hybrid_cases.py folders of different runs, and the phantom sweep row."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import hybrid_sweep as HS


def _run(folder: Path, models: list[str], truth_rca: float) -> Path:
    folder.mkdir()
    h = pd.DataFrame([{"model": m, "series": "s", "seed": s, "truth_LCA": 0.0, "truth_LAD": 1.0, "truth_LCX": 2.0,
                       "truth_RCA": truth_rca + s} for m in models for s in (0, 1)])
    h.to_csv(folder / "hybrids.csv", index=False)
    pd.DataFrame({"model": models, "au": 1.0}).to_csv(folder / "plaques.csv", index=False)
    pd.DataFrame({"model": models, "au": 2.0}).to_csv(folder / "fp.csv", index=False)
    return folder


def test_merge_renames_keeps_order_and_drops_unnamed_models(tmp_path):
    a = _run(tmp_path / "a", ["shipped", "phantom", "hybrid"], 5.0)
    b = _run(tmp_path / "b", ["k3", "k1"], 5.0)
    t = HS.merge(tmp_path / "m", [(a, {"phantom": "k0", "hybrid": "k10"}), (b, {"k1": "k1", "k3": "k3"})])
    assert list(dict.fromkeys(t["hybrids.csv"]["model"])) == ["k0", "k10", "k3", "k1"]
    assert set(pd.read_csv(tmp_path / "m" / "fp.csv")["model"]) == {"k0", "k10", "k3", "k1"}
    assert HS.parse_source(f"{a}:hybrid=k10,phantom=k0") == (a, {"hybrid": "k10", "phantom": "k0"})


def test_merge_refuses_runs_of_different_cases_or_a_name_twice(tmp_path):
    a = _run(tmp_path / "a", ["hybrid"], 5.0)
    b = _run(tmp_path / "b", ["k3"], 6.0)
    with pytest.raises(SystemExit, match="disagree"):
        HS.merge(tmp_path / "m", [(a, {"hybrid": "k10"}), (b, {"k3": "k3"})])
    c = _run(tmp_path / "c", ["k3"], 5.0)
    with pytest.raises(SystemExit, match="two joined runs"):
        HS.merge(tmp_path / "m", [(a, {"hybrid": "k3"}), (c, {"k3": "k3"})])
    with pytest.raises(SystemExit, match="no model"):
        HS.merge(tmp_path / "m", [(a, {"nope": "x"})])


def test_phantom_row_sums_the_mac_patients_only(tmp_path):
    truth = pd.DataFrame({"id": ["1", "2", "3"], "RCA": [1.0, 2.0, 4.0], "LCX": [0.0, 0.0, 8.0], "mac": [0, 1, 2]})
    ev = tmp_path / "eval_m"
    ev.mkdir()
    pd.DataFrame([{"vessel": "total", "metric": "mse_norm", "value": 0.5, "ci_low": 0, "ci_high": 1, "baseline": 2.0},
                  {"vessel": "total", "metric": "kappa4", "value": 0.7, "ci_low": 0.6, "ci_high": 0.8, "baseline": 0}]
                 ).to_csv(ev / "metrics.csv", index=False)
    pd.DataFrame({"id": ["1", "2", "3"], "RCA": [100.0, 10.0, 20.0], "LCX": [50.0, 1.0, 2.0]}).to_csv(
        tmp_path / "pred_m.csv", index=False)
    r = HS.phantom_row(truth, tmp_path, "m")
    assert r["ratio_total"] == 4.0 and r["n_mac"] == 2 and r["kappa4_hi"] == 0.8
    assert (r["mac_RCA_called"], r["mac_LCX_called"], r["mac_RCA_truth"], r["mac_LCX_truth"]) == (30.0, 3.0, 6.0, 8.0)
