"""Share of the inserted plaques' AU called the right vessel, by segment of the anchored course, per model.

    cd bench; PYTHONPATH=../src:. nice -n 10 python hybrid_segment_shares.py PLAQUES.csv [PLAQUES.csv ...]

Reads bench/hybrid_cases.py plaques.csv tables (several are concatenated: models scored in different runs on the same
hybrids) and cuts each course as docs/phantom.md "Anatomy v7" did (wt15f's scratch segments.py, now here): the RCA
above / within 15 mm of the crux's height / past the crux (PDA), the crux and courses from docs/hybrid_landmarks.json;
the LAD, LCX and LCA in thirds of their course. Prints the right-vessel share and the AU per segment and model, and per
model the share by truth vessel.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from hybrid_cases import course_position
from cacscore.chest.anatomy import read_chest
from cacscore.io.ct import read_ct
from cacscore.phantom import hybrid as H

LANDMARKS = Path(__file__).resolve().parents[1] / "docs" / "hybrid_landmarks.json"
DATA = Path("/work/shared/data")


def crux_positions(series: list[str]) -> dict[str, tuple[float, float]]:
    """series -> (the crux's arc length on the anchored RCA course, the crux's z mm)."""
    lm = json.loads(LANDMARKS.read_text())
    out = {}
    for name in series:
        v = read_ct(DATA / name)
        sp = tuple(abs(float(s)) for s in v.spacing_mm)
        c = H.coronary_courses(v.hu, sp, read_chest(v.hu, sp), np.random.default_rng(0), landmarks=lm[name]["courses"])
        out[name] = (course_position(c["RCA"], np.asarray(lm[name]["crux"], float))[0], lm[name]["crux"][0])
    return out


def segment(r, crux: dict) -> str:
    if r.truth_vessel == "RCA":
        arc, z = crux[r.series]
        if r.course_mm > arc + 2:
            return "RCA PDA"
        return "RCA inferior" if r.z_mm - z <= 15 else "RCA upper"
    f = r.course_mm / max(r.course_len_mm, 1e-6)
    return f"{r.truth_vessel} {'prox' if f < 1 / 3 else 'mid' if f < 2 / 3 else 'dist'}"


def main() -> None:
    pl = pd.concat([pd.read_csv(p) for p in sys.argv[1:]], ignore_index=True)
    crux = crux_positions(sorted(pl.series.unique()))
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
