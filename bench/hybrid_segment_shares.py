"""Share of the inserted plaques' AU called the right vessel, by segment of the anchored course, per model.

    cd bench; PYTHONPATH=../src:. nice -n 10 python hybrid_segment_shares.py PLAQUES.csv [PLAQUES.csv ...]

Reads bench/hybrid_cases.py plaques.csv tables (several are concatenated: models scored in different runs on the same
hybrids) and cuts each course with hybrid_training.segment (as docs/phantom.md "Anatomy v7" did): the RCA
above / within 15 mm of the crux's height / past the crux (PDA), the crux and courses from docs/hybrid_landmarks.json;
the LAD, LCX and LCA in thirds of their course. Prints the right-vessel share and the AU per segment and model, and per
model the share by truth vessel.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from hybrid_training import LANDMARKS, crux_arcs, segment  # one segment cut for the report and this table

DATA = Path("/work/shared/data")


def main() -> None:
    pl = pd.concat([pd.read_csv(p) for p in sys.argv[1:]], ignore_index=True)
    crux = crux_arcs(DATA, sorted(pl.series.unique()), LANDMARKS)
    pl["segment"] = pl.apply(segment, axis=1, crux=crux)
    rows = []
    for (s, m), g in pl.groupby(["segment", "model"]):
        right = g["class"] == g["truth_vessel"]
        rows.append({"segment": s, "model": m, "AU": g.au.sum(), "right_share": g.au[right].sum() / max(g.au.sum(), 1e-9)})
    t = pd.DataFrame(rows)
    print(t.pivot(index="segment", columns="model", values="right_share").round(2).to_string())
    print(t.pivot(index="segment", columns="model", values="AU").round(0).iloc[:, :1].to_string())
    for m, g in pl.groupby("model"):
        right = g["class"] == g["truth_vessel"]
        by = {v: round(float(h.au[h["class"] == v].sum() / max(h.au.sum(), 1e-9)), 2) for v, h in g.groupby("truth_vessel")}
        print(m, "right share by truth vessel:", by, "all", round(float(g.au[right].sum() / g.au.sum()), 2))


if __name__ == "__main__":
    main()
