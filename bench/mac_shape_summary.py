"""Mean and spread over MLP seeds of the MAC fold's results (issue 16, session 13, wt21c): models named
<feature set>_s<seed>, scored by bench/hybrid_training.py phantom-eval (held-out phantoms) and bench/hybrid_cases.py
--mac (hybrids of a held-out real series with inserted MAC).

    python bench/mac_shape_summary.py --phantom-eval DIR --hybrid-eval DIR

Per model: phantom MAC AU called coronary (candidates), aortic / cartilage AU called coronary, kappa4 (total) and
the 4-vessel MSE ratio vs a constant; hybrids: MAC AU called coronary and called LCX (of the MAC AU inserted), the
inserted LCX AU found in the LCX (of the LCX truth), all inserted AU found in the right vessel, kappa4 (total). Then
per feature set the mean and sample SD over its seeds.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pandas as pd


def phantom_rows(d: Path) -> pd.DataFrame:
    looks = pd.read_csv(d / "lookalikes.csv")
    rows = []
    for m, g in looks.groupby("model"):
        met = pd.read_csv(d / f"eval_{m}" / "metrics.csv")
        tot = met[met["vessel"] == "total"].set_index("metric")
        a4 = met[(met["vessel"] == "all4") & (met["metric"] == "mse_norm")].iloc[0]
        kind = g.groupby("kind")[["au_called", "called"]].sum()
        get = lambda k, c, kind=kind: float(kind.loc[k, c]) if k in kind.index else 0.0
        rows.append({"model": m, "ph_mac_au": get("MAC", "au_called"), "ph_mac_n": get("MAC", "called"),
                     "ph_mac_lcx_au": float(g.loc[g["kind"] == "MAC", "au_LCX"].sum()),
                     "ph_aortic_au": get("aortic", "au_called"), "ph_cartilage_au": get("cartilage", "au_called"),
                     "ph_kappa4": float(tot.loc["kappa4", "value"]), "ph_ratio": float(a4["baseline"] / a4["value"])})
    return pd.DataFrame(rows)


def hybrid_rows(d: Path) -> pd.DataFrame:
    h = pd.read_csv(d / "hybrids.csv")
    summ = json.loads((d / "summary.json").read_text())["all"]
    rows = []
    for m, g in h.groupby("model"):
        rows.append({"model": m, "hy_mac_inserted_au": g["mac_au"].sum(), "hy_mac_au": g["mac_called_au"].sum(),
                     "hy_mac_lcx_au": g["mac_called_LCX"].sum(), "hy_lcx_truth_au": g["truth_LCX"].sum(),
                     "hy_lcx_found_au": g["found_right_LCX"].sum(),
                     "hy_found_frac": g[[f"found_right_{v}" for v in ("LCA", "LAD", "LCX", "RCA")]].sum().sum()
                     / g[[f"truth_{v}" for v in ("LCA", "LAD", "LCX", "RCA")]].sum().sum(),
                     "hy_fp_au": g["fp_total"].sum(), "hy_kappa4": summ[m]["kappa4_total"]})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--phantom-eval", type=Path)
    ap.add_argument("--hybrid-eval", type=Path)
    a = ap.parse_args(argv)
    parts = [f(p) for f, p in ((phantom_rows, a.phantom_eval), (hybrid_rows, a.hybrid_eval)) if p is not None]
    df = parts[0]
    for p in parts[1:]:
        df = df.merge(p, on="model", how="outer")
    df["set"] = [re.sub(r"_s\d+$", "", m) for m in df["model"]]
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 40)
    print(df.sort_values(["set", "model"]).round(3).to_string(index=False))
    num = [c for c in df.columns if c not in ("model", "set")]
    g = df.groupby("set")[num]
    print("\nmean over seeds:\n" + g.mean().round(3).to_string())
    print("\nSD over seeds:\n" + g.std().round(3).to_string())
    print("\nseeds per set: " + ", ".join(f"{k} {v}" for k, v in g.size().items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
