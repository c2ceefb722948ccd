"""What a pre-registered hybrid test reads (issue 16, item 5; sessions 25-28): the class-given table and kappa4 of
`bench/voxel_split.py hybrids` runs, and, for a candidate against the shipped model, paired bootstrap intervals of the
differences over the hybrids pooled from all runs.

    PYTHONPATH=src python bench/hybrid_verdict.py RUN_DIR [RUN_DIR...] [--pair CAND SHIPPED] [--boot 2000]

Each RUN_DIR holds `plaques.csv` (one row per inserted-plaque candidate and model: its AU, truth vessel and class)
and `hybrids.csv` (one row per hybrid and model: truth and prediction per vessel, `found_total` = the inserted
calcium called coronary). Printed:
- per model, class given (sessions 25-28's `classgiven.py`, kept here so that a test can be read again without the
  session's scratch folders): of the inserted AU on each truth vessel, the share its candidates were called that
  vessel; "right class" pooled over the four; RCA AU called non-coronary; LCX AU called LAD;
- per run and model, kappa4 (linearly weighted, four risk classes) of the inserted truth against the inserted calcium
  called coronary (`found_total`: the real series' own calcium is judged apart) and against the whole predicted total;
- with --pair: the candidate minus the shipped model on the pooled hybrids, each with a paired bootstrap 95 %
  interval (hybrids resampled with their plaques): right class, left-main share called LCA, kappa4 on the inserted
  calcium. Why: session 28's tests failed on one hybrid at a time (a 20-hybrid half's kappa moves by 0.05-0.1 when
  one hybrid changes class; a left-main share of 146 AU was one plaque), so a criterion should read an interval.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from cacscore.core.vessels import VESSELS
from cacscore.evaluation.metrics import weighted_kappa

KEY = ["model", "series", "seed", "truth_vessel", "z_mm", "y_mm", "x_mm", "au"]
"""A plaque candidate's identity: runs that overlap (a seed scored twice) count it once."""


def read_runs(dirs: list[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(plaques, hybrids) of the runs, duplicates (the same model, series and seed in two runs) dropped."""
    plaques = pd.concat([pd.read_csv(d / "plaques.csv") for d in dirs], ignore_index=True)
    hybrids = pd.concat([pd.read_csv(d / "hybrids.csv").assign(run=str(d)) for d in dirs], ignore_index=True)
    plaques = plaques.drop_duplicates(subset=[k for k in KEY if k in plaques.columns])
    hybrids = hybrids.drop_duplicates(subset=["model", "series", "seed"])
    return plaques, hybrids


def class_given(plaques: pd.DataFrame) -> pd.DataFrame:
    """Per model: hybrids, inserted AU, right class (pooled), each vessel's share called right, RCA AU called
    non-coronary, LCX AU called LAD."""
    rows = []
    for m, g in plaques.groupby("model", sort=False):
        r = {"model": m, "hybrids": g.seed.nunique(), "inserted AU": round(g.au.sum()),
             "right class": round(_share(g), 3)}
        for v in VESSELS:
            r[f"{v} right"] = round(_share(g[g.truth_vessel == v]), 2)
        r["RCA called non"] = round(g[(g.truth_vessel == "RCA") & (g["class"] == "non-coronary")].au.sum())
        r["LCX called LAD"] = round(g[(g.truth_vessel == "LCX") & (g["class"] == "LAD")].au.sum())
        rows.append(r)
    return pd.DataFrame(rows)


def _share(g: pd.DataFrame) -> float:
    """AU share of the plaque candidates ``g`` called their own truth vessel (nan when there is no AU)."""
    total = g.au.sum()
    return float(g[g["class"] == g.truth_vessel].au.sum() / total) if total > 0 else float("nan")


def kappas(hybrids: pd.DataFrame) -> pd.DataFrame:
    """Per run and model: kappa4 on the inserted calcium called coronary and on the whole predicted total."""
    rows = []
    for (run, m), g in hybrids.groupby(["run", "model"], sort=False):
        truth = _truth(g)
        pred = g[[f"pred_{v}" for v in VESSELS]].to_numpy().sum(1)
        rows.append({"run": run, "model": m, "hybrids": len(g),
                     "kappa4 inserted": round(weighted_kappa(truth, g.found_total.to_numpy()), 3),
                     "kappa4 total": round(weighted_kappa(truth, pred), 3)})
    return pd.DataFrame(rows)


def _truth(g: pd.DataFrame) -> np.ndarray:
    return g[[f"truth_{v}" for v in VESSELS]].to_numpy().sum(1)


def paired(plaques: pd.DataFrame, hybrids: pd.DataFrame, cand: str, shipped: str, *, boot: int = 2000,
           seed: int = 0) -> pd.DataFrame:
    """The candidate minus the shipped model on the hybrids both scored: right class, left-main share called LCA and
    kappa4 on the inserted calcium, each with its paired bootstrap 95 % interval (hybrids resampled)."""
    names = set(hybrids.model)
    if not {cand, shipped} <= names:
        raise SystemExit(f"hybrid_verdict: --pair needs models {cand!r} and {shipped!r}; the runs hold {sorted(names)}")
    keys = sorted(set(map(tuple, hybrids.loc[hybrids.model == cand, ["series", "seed"]].to_numpy()))
                  & set(map(tuple, hybrids.loc[hybrids.model == shipped, ["series", "seed"]].to_numpy())))
    stats = {m: _per_hybrid(plaques, hybrids, m, keys) for m in (cand, shipped)}
    rng = np.random.default_rng(seed)
    draws = [np.arange(len(keys))] + [rng.integers(0, len(keys), len(keys)) for _ in range(boot)]
    rows = []
    for name, fn in (("right class", _pooled_share), ("left main called LCA", _pooled_lm), ("kappa4 inserted", _kappa)):
        d = np.array([fn(stats[cand], i) - fn(stats[shipped], i) for i in draws])
        lo, hi = np.nanpercentile(d[1:], [2.5, 97.5])
        rows.append({"measure": name, cand: round(fn(stats[cand], draws[0]), 3),
                     shipped: round(fn(stats[shipped], draws[0]), 3), "difference": round(d[0], 3),
                     "95% CI low": round(lo, 3), "95% CI high": round(hi, 3)})
    return pd.DataFrame(rows)


def _per_hybrid(plaques: pd.DataFrame, hybrids: pd.DataFrame, model: str, keys: list[tuple]) -> dict[str, np.ndarray]:
    """Per hybrid (in ``keys`` order) of one model: inserted AU, AU called its own vessel, left-main AU, left-main AU
    called LCA, the inserted truth total and the inserted calcium called coronary."""
    p = plaques[plaques.model == model]
    h = hybrids[hybrids.model == model].set_index(["series", "seed"])
    out = {k: np.zeros(len(keys)) for k in ("au", "right", "lm", "lm_right")}
    for i, key in enumerate(keys):
        g = p[(p.series == key[0]) & (p.seed == key[1])]
        lm = g[g.truth_vessel == "LCA"]
        out["au"][i], out["right"][i] = g.au.sum(), g[g["class"] == g.truth_vessel].au.sum()
        out["lm"][i], out["lm_right"][i] = lm.au.sum(), lm[lm["class"] == "LCA"].au.sum()
    rows = h.loc[keys]
    out["truth"] = _truth(rows)
    out["found"] = rows.found_total.to_numpy()
    return out


def _pooled_share(s: dict, i: np.ndarray) -> float:
    return float(s["right"][i].sum() / s["au"][i].sum()) if s["au"][i].sum() > 0 else float("nan")


def _pooled_lm(s: dict, i: np.ndarray) -> float:
    return float(s["lm_right"][i].sum() / s["lm"][i].sum()) if s["lm"][i].sum() > 0 else float("nan")


def _kappa(s: dict, i: np.ndarray) -> float:
    return weighted_kappa(s["truth"][i], s["found"][i])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="bench/voxel_split.py hybrids --out folders")
    ap.add_argument("--pair", nargs=2, metavar=("CAND", "SHIPPED"), help="model names to compare, paired")
    ap.add_argument("--boot", type=int, default=2000, help="bootstrap resamples of the hybrids (default 2000)")
    ap.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    a = ap.parse_args(argv)
    missing = [str(d / f) for d in a.runs for f in ("plaques.csv", "hybrids.csv") if not (d / f).is_file()]
    if missing:
        raise SystemExit(f"hybrid_verdict: missing {missing[0]}")
    plaques, hybrids = read_runs(a.runs)
    print(class_given(plaques).to_string(index=False))
    print()
    print(kappas(hybrids).to_string(index=False))
    if a.pair:
        print()
        print(paired(plaques, hybrids, *a.pair, boot=a.boot, seed=a.seed).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
