"""Contrast lumen vs calcium on REAL scans: every candidate the shipped model calls coronary, its peak and mean HU,
against the scan's enhanced-blood level (the median HU of the found aorta's lumen, cacscore.chest.anatomy.read_chest's
aorta tube, voxels within half its radius of the centreline), and where it lies (height above the diaphragm surface,
pericardium distance), to read whether contrast-filled lumen called calcium can be told from calcium by density.

    PYTHONPATH=src python bench/contrast_lumen_calls.py /work/shared/data/lidc-idri-0001 ... [--model DIR] [--out CSV]
        [--plaques HYBRID_OUT/plaques.csv]

The inserted hybrid plaques (real-calcium stand-ins) are measured by bench/hybrid_cases.py (its plaques.csv: peak_hu,
mean_hu, class per candidate that overlaps a plaque); with --plaques they are set against the same series' blood
level (insert_plaques leaves the aorta as it is) and, per margin, a rule "peak HU <= blood + margin is contrast
lumen" is costed: the AU of the real calls it takes against the inserted AU found that it would lose.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

from cacscore.chest.anatomy import ChestAnatomy
from cacscore.core.vessels import VESSELS
from cacscore.io.ct import read_ct
from cacscore.lesion.anatomy import ANATOMY_NAMES, aortic_lumen_hu
from cacscore.lesion.classifier import classify_volume, load_model
from cacscore.predict.predictors import DEFAULT_MODEL


def lumen_hu(hu: np.ndarray, sp, anatomy: ChestAnatomy) -> float:
    """The scan's enhanced-blood level: cacscore.lesion.anatomy.aortic_lumen_hu (moved there in session 12, when the
    contrast-lumen rule was wired; same voxels, same numbers). sp is the anatomy's own spacing and not read."""
    return aortic_lumen_hu(hu, anatomy)


def call_rows(name: str, hu: np.ndarray, sp, model) -> tuple[pd.DataFrame, float]:
    cand, classes = classify_volume(hu, sp, model)
    blood = lumen_hu(hu, sp, cand.anatomy) if cand.anatomy is not None else float("nan")
    called = np.flatnonzero(classes > 0)
    idx = called + 1
    peak = np.atleast_1d(ndimage.maximum(hu, cand.ids, idx)) if len(idx) else np.zeros(0)
    mean = np.atleast_1d(ndimage.mean(hu, cand.ids, idx)) if len(idx) else np.zeros(0)
    cols = cand.anatomy_columns
    rows = [{"series": name, "cand": int(k + 1), "vessel": VESSELS[int(classes[k]) - 1],
             "au": float(cand.agatston[k]), "peak_hu": float(p), "mean_hu": float(m), "blood_hu": blood,
             "peak_minus_blood": float(p) - blood,
             "above_diaphragm_mm": cols[k, ANATOMY_NAMES.index("above_diaphragm_mm")] if cols is not None else np.nan,
             "pericardium_mm": cols[k, ANATOMY_NAMES.index("pericardium_mm")] if cols is not None else np.nan}
            for k, p, m in zip(called, peak, mean)]
    return pd.DataFrame(rows), blood


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("series", type=Path, nargs="+")
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--plaques", type=Path, default=None, help="bench/hybrid_cases.py's plaques.csv for these series")
    a = ap.parse_args(argv)
    model = load_model(a.model)
    tables, bloods = [], {}
    for s in a.series:
        vol = read_ct(s)
        sp = tuple(abs(float(v)) for v in vol.spacing_mm)
        t, blood = call_rows(s.name, vol.hu, sp, model)
        bloods[s.name] = blood
        print(f"{s.name}: aortic lumen median {blood:.0f} HU, {len(t)} calls, "
              f"{t['au'].sum() if len(t) else 0.0:.1f} AU", flush=True)
        if len(t):
            print(t.sort_values("au", ascending=False).round(1).to_string(index=False), flush=True)
        tables.append(t)
    calls = pd.concat(tables)
    if a.out is not None:
        calls.to_csv(a.out, index=False)
    if a.plaques is not None:
        margins(calls, pd.read_csv(a.plaques), bloods)
    return 0


def margins(calls: pd.DataFrame, plaques: pd.DataFrame, bloods: dict[str, float]) -> None:
    """The found inserted plaques against their series' blood level, and per margin (HU) what the rule would take."""
    pl = plaques[plaques["series"].isin(bloods)].copy()
    pl["blood_hu"] = pl["series"].map(bloods)
    pl["peak_minus_blood"] = pl["peak_hu"] - pl["blood_hu"]
    found = pl[pl["class"] != "non-coronary"]
    print("inserted plaques called coronary (candidates overlapping a plaque):")
    print(found[["series", "seed", "truth_vessel", "class", "au", "peak_hu", "mean_hu", "blood_hu",
                 "peak_minus_blood"]].sort_values(["series", "peak_minus_blood"]).round(1).to_string(index=False))
    contrast = calls[calls["blood_hu"] > 200.0]
    print("margin_hu | real calls taken (AU of all) | inserted AU found lost (of all found), contrast series only")
    for m in (-250, -200, -170, -150, -100, -50, -25, 0, 50):
        took = contrast.loc[contrast["peak_minus_blood"] <= m, "au"].sum()
        lost = found.loc[found["peak_minus_blood"] <= m, "au"].sum()
        print(f"{m:+5d} | {took:6.1f} of {contrast['au'].sum():.1f} | {lost:6.1f} of {found['au'].sum():.1f}")


if __name__ == "__main__":
    raise SystemExit(main())
