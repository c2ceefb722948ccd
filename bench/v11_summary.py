"""The pre-registered test of docs/lesion_scorer.md "LCX in epicardial fat: training on anatomy v11" (session 14,
wt22a): per held-out set (bench/hybrid_training.py phantom-eval folders), per model (<arm>ring_s<seed>): MAC AU called
coronary (and called LCX), kappa4 (total), the 4-vessel MSE ratio vs the constant, per-vessel predicted against true
AU; then per arm the mean and sample SD over the MLP seeds, and the criterion (a) / (b) / (c).

    python bench/v11_summary.py NAME=EVAL_DIR ...     (e.g. ho40_v11=/work/runs/wt22a/eval_ho40_v11)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mac_shape_summary import phantom_rows  # noqa: E402

VESSELS = ("LCA", "LAD", "LCX", "RCA")


def per_vessel(d: Path) -> pd.DataFrame:
    truth = pd.read_csv(d / "truth.csv", dtype={"id": str})
    rows = []
    for f in sorted(d.glob("pred_*.csv")):
        p = pd.read_csv(f, dtype={"id": str})
        row = {"model": f.stem.removeprefix("pred_")}
        for v in VESSELS:
            row[f"pred_{v}"] = float(p[v].sum())
        rows.append(row)
    tr = {f"truth_{v}": float(truth[v].sum()) for v in VESSELS}
    return pd.DataFrame(rows).assign(**tr)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 40)
    verdict = {}
    for arg in argv:
        name, d = arg.split("=", 1)
        d = Path(d)
        df = phantom_rows(d).merge(per_vessel(d), on="model")
        looks = pd.read_csv(d / "lookalikes.csv")
        mac = looks[looks["kind"] == "MAC"].groupby("model")[["au", *(f"au_{v}" for v in VESSELS)]].sum()
        mac.columns = ["mac_total_au", *(f"mac_called_{v}" for v in VESSELS)]
        df = df.merge(mac.reset_index(), on="model", how="left")
        df["arm"] = [re.sub(r"_s\d+$", "", m) for m in df["model"]]
        print(f"\n=== {name} ({d})")
        print(df.sort_values("model").round(3).to_string(index=False))
        g = df.groupby("arm")[["ph_mac_au", "ph_mac_lcx_au", "ph_kappa4", "ph_ratio"]]
        mean, sd = g.mean(), g.std()
        print("mean over seeds:\n" + mean.round(3).to_string() + "\nSD over seeds:\n" + sd.round(3).to_string())
        if {"v11ring", "v9ring"} <= set(mean.index):
            m11, m9 = mean.loc["v11ring", "ph_mac_au"], mean.loc["v9ring", "ph_mac_au"]
            big = max(sd.loc["v11ring", "ph_mac_au"], sd.loc["v9ring", "ph_mac_au"])
            a = (m9 - m11) > big
            b = m11 <= 0.75 * m9
            c = mean.loc["v11ring", "ph_kappa4"] >= mean.loc["v9ring", "ph_kappa4"] - 0.05
            verdict[name] = (a, b, c)
            print(f"MAC AU called coronary: v11 {m11:.0f} vs v9 {m9:.0f} (drop {m9 - m11:.0f}, larger seed SD "
                  f"{big:.0f}): (a) {a}; (b) >= 25 % lower: {b} ({(1 - m11 / m9) * 100 if m9 else float('nan'):.0f} %);"
                  f" kappa4 v11 {mean.loc['v11ring', 'ph_kappa4']:.3f} vs v9 {mean.loc['v9ring', 'ph_kappa4']:.3f}: "
                  f"(c) {c}")
    if verdict:
        ok = {k: v[0] and v[1] for k, v in verdict.items()}
        c11 = next((v[2] for k, v in verdict.items() if "v11" in k), True)
        word = ("supported" if all(ok.values()) and c11 else "partly" if any(ok.values()) and c11
                else "not supported")
        print(f"\ncriterion: (a)+(b) per set {ok}; (c) on the v11 set {c11} -> {word}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
