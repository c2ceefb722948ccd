"""The v12 pre-registered test's table (session 15, wt23a; docs/lesion_scorer.md, "Anatomy v12 against the real LCX"):
per hybrid series (bench/voxel_split.py hybrids output folders) and model, found_frac_LCX, ratio_all4, kappa4_total,
inserted AU found, and where the true LCX AU went (called LCX / LAD / LCA / RCA / non-coronary, from plaques.csv);
then per arm (the model name without its _s<seed>) the mean over MLP seeds and the pre-registered criterion.

    python bench/v12_summary.py 0002=/work/runs/wt23a/H_0002 0003=/work/runs/wt23a/H_0003 [0001=...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd


def main(argv: list[str]) -> int:
    rows = []
    for spec in argv:
        name, path = spec.split("=", 1)
        s = json.loads((Path(path) / "summary.json").read_text())["all"]
        pl = pd.read_csv(Path(path) / "plaques.csv")
        for m, r in s.items():
            lcx = pl[(pl.model == m) & (pl.truth_vessel == "LCX")]
            to = lcx.groupby("class").au.sum()
            rows.append({"series": name, "model": m, "arm": m.rsplit("_s", 1)[0], "found_frac_LCX": r["found_frac_LCX"],
                         "ratio_all4": r["ratio_all4"], "kappa4_total": r["kappa4_total"],
                         "found_frac_total": r["found_frac_total"], "true_LCX_AU": lcx.au.sum(),
                         **{f"LCX->{c}": to.get(c, 0.0) for c in ("LCX", "LAD", "LCA", "RCA", "non-coronary")}})
    d = pd.DataFrame(rows)
    pd.set_option("display.width", 250)
    print(d.round(3).to_string(index=False))
    arms = d.groupby(["series", "arm"])[["found_frac_LCX", "ratio_all4", "kappa4_total", "found_frac_total"]].agg(["mean", "std"])
    print()
    print(arms.round(3).to_string())
    print("\ncriterion (a) v12 found_frac_LCX >= 0.30 and >= v11 + 0.20; (b) v12 ratio_all4 > v11 (means over seeds):")
    verdicts = []
    for s in d.series.unique():
        if s == "0001":
            continue
        m = d[d.series == s].groupby("arm")[["found_frac_LCX", "ratio_all4"]].mean()
        if "v12ring" not in m.index or "v11ring" not in m.index:
            continue
        f12, f11 = m.loc["v12ring", "found_frac_LCX"], m.loc["v11ring", "found_frac_LCX"]
        r12, r11 = m.loc["v12ring", "ratio_all4"], m.loc["v11ring", "ratio_all4"]
        a, b = f12 >= 0.30 and f12 >= f11 + 0.20, r12 > r11
        verdicts.append(a and b)
        print(f"  {s}: found_frac_LCX v12 {f12:.3f} v11 {f11:.3f} -> (a) {a}; ratio_all4 v12 {r12:.3f} v11 {r11:.3f} -> (b) {b}")
    n = sum(verdicts)
    print("  verdict:", "supported" if verdicts and n == len(verdicts) == 2 else ("partly" if n >= 1 else "not supported"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
