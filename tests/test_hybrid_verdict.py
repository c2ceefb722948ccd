"""bench/hybrid_verdict.py: the class-given table, kappa4 and paired intervals of hybrid runs, on small hand-made
tables whose answers are worked out by hand."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cacscore.evaluation.metrics import weighted_kappa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import hybrid_verdict as H  # noqa: E402

VES = ("LCA", "LAD", "LCX", "RCA")


def _run(d: Path, seeds: range, shipped_wrong: set[int]) -> Path:
    """A run folder of two models on ``seeds``: each hybrid one 100 AU LCA plaque (two candidates of 50 AU) and one
    RCA plaque of 300 AU (even seeds) or 20 AU (odd). "cand" calls everything right; "shipped" calls the LCA LCX, and
    on ``shipped_wrong`` seeds its RCA non-coronary (found_total falls by the RCA's AU there)."""
    d.mkdir()
    plaques, hybrids = [], []
    for s in seeds:
        for m in ("cand", "shipped"):
            lca_class = "LCA" if m == "cand" else "LCX"
            rca_class = "non-coronary" if (m == "shipped" and s in shipped_wrong) else "RCA"
            for k in range(2):
                plaques.append(dict(model=m, series="lidc-idri-0002", seed=s, truth_vessel="LCA", z_mm=k, y_mm=0,
                                    x_mm=0, au=50.0, **{"class": lca_class}))
            rca = 300.0 if s % 2 == 0 else 20.0
            plaques.append(dict(model=m, series="lidc-idri-0002", seed=s, truth_vessel="RCA", z_mm=9, y_mm=0, x_mm=0,
                                au=rca, **{"class": rca_class}))
            found = 100.0 if rca_class == "non-coronary" else 100.0 + rca
            row = dict(model=m, series="lidc-idri-0002", seed=s, found_total=found)
            row.update({f"truth_{v}": {"LCA": 100.0, "RCA": rca}.get(v, 0.0) for v in VES})
            row.update({f"pred_{v}": 0.0 for v in VES})
            row["pred_RCA"] = 0.0 if rca_class == "non-coronary" else rca
            row["pred_" + lca_class] = row.get("pred_" + lca_class, 0.0) + 100.0
            hybrids.append(row)
    pd.DataFrame(plaques).to_csv(d / "plaques.csv", index=False)
    pd.DataFrame(hybrids).to_csv(d / "hybrids.csv", index=False)
    return d


def test_class_given_and_kappa_by_hand(tmp_path):
    a = _run(tmp_path / "a", range(0, 4), {0})
    b = _run(tmp_path / "b", range(3, 6), set())  # seed 3 in both runs: counted once
    plaques, hybrids = H.read_runs([a, b])
    t = H.class_given(plaques).set_index("model")
    # inserted: 6 x 100 (LCA) + 3 x 300 + 3 x 20 (RCA) = 1560
    assert t.loc["cand", "hybrids"] == 6 and t.loc["cand", "inserted AU"] == 1560
    assert t.loc["cand", "right class"] == 1.0 and t.loc["cand", "LCA right"] == 1.0
    # shipped: LCA never right, RCA right but on seed 0 (960 - 300 AU): 660 / 1560
    assert t.loc["shipped", "right class"] == pytest.approx(660 / 1560, abs=1e-3)
    assert t.loc["shipped", "LCA right"] == 0.0 and t.loc["shipped", "RCA called non"] == 300
    k = H.kappas(hybrids).set_index(["run", "model"])
    a = str(a)
    truth = np.array([400.0, 120.0, 400.0, 120.0])  # run a's seeds 0-3: >= 400 and 100-399 alternately
    assert k.loc[(a, "cand"), "kappa4 inserted"] == 1.0
    shipped = round(weighted_kappa(truth, np.array([100.0, 120.0, 400.0, 120.0])), 3)
    assert k.loc[(a, "shipped"), "kappa4 inserted"] == shipped < 1.0


def test_paired_differences_and_intervals(tmp_path):
    a = _run(tmp_path / "a", range(0, 10), {2, 4})
    plaques, hybrids = H.read_runs([a])
    p = H.paired(plaques, hybrids, "cand", "shipped", boot=300, seed=1).set_index("measure")
    # inserted 10 x 100 + 5 x 300 + 5 x 20 = 2600; shipped right: the RCA but seeds 2 and 4 (1600 - 600) = 1000
    assert p.loc["right class", "difference"] == pytest.approx(1 - 1000 / 2600, abs=1e-3)
    assert p.loc["left main called LCA", "difference"] == pytest.approx(1.0)
    lo, hi = p.loc["right class", ["95% CI low", "95% CI high"]]
    # shipped never gets the left main (100 of at most 400 AU per hybrid): the difference is >= 0.25 in any resample
    assert 0.25 <= lo <= 1 - 1000 / 2600 <= hi
    assert p.loc["kappa4 inserted", "difference"] > 0
    with pytest.raises(SystemExit, match="--pair needs"):
        H.paired(plaques, hybrids, "cand", "nope")
