"""Why LIDC-IDRI-0002's proximal-LCX hybrid plaques are called LAD: their features beside the phantom's LCX / LAD.

    PYTHONPATH=src python bench/hybrid_lcx_prox_features.py --cache /work/runs/wt15f/cache \
        --model /work/runs/wt15f/v7full/model /work/runs/wt15g/v7b/model ...

Reads the caches of bench/hybrid_vs_phantom_features.py (--cache: phantom/<pid>.npz of a release drawn with the
segment of each candidate, hybrid/<series>_<seed>.npz); the feature columns are the 27 of FEATURE_NAMES (every model
given must read a subset). Prints quantiles (q10 / median / q90) of position relative to the heart reference, density,
size and tissue context for the phantom's LAD / LCX segments and the hybrid's proximal-third LCX (and LAD), then per
model the MLP's calls (``LesionModel.predict_proba``: density cap and reach applied, no rule, no structure vote) of the
hybrid's proximal-LCX candidates with groups of features set to the phantom LCX_prox median. Findings:
docs/lesion_scorer.md, "Why 0002's proximal LCX is called LAD".
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

# bench/ is the script's folder
import hybrid_vs_phantom_features as B
import numpy as np
import pandas as pd

from cacscore.lesion.candidates import FEATURE_NAMES
from cacscore.lesion.classifier import load_model

POS = ["dz_mm", "dy_mm", "dx_mm", "r_inplane_mm", "dist_mm", "cos_inplane", "sin_inplane"]
TISSUE = [n for n in FEATURE_NAMES if n.split("_")[0] in ("fat", "soft", "bright", "air")]
SIZE = ["log_area_mm2", "peak_hu", "mean_hu", "log_agatston", "extent_y_mm", "extent_x_mm", "fill", "log_vol3d_mm3",
        "n_slices3d", "log_area3d_max_mm2"]
SHOW = ["dz_mm", "dy_mm", "dx_mm", "angle_deg", "mean_hu", "peak_hu", "extent_x_mm", "fat_8mm", "bright_8mm",
        "bright_24mm", "air_24mm"]
SETTINGS = (("nothing", []), ("position (7)", POS), ("dz only", ["dz_mm"]), ("tissue (10)", TISSUE),
            ("bright 8/24/60", ["bright_8mm", "bright_24mm", "bright_60mm"]), ("fat 8/24", ["fat_8mm", "fat_24mm"]),
            ("air 8/24/60", ["air_8mm", "air_24mm", "air_60mm"]), ("mean + peak HU", ["mean_hu", "peak_hu"]),
            ("size (8)", [c for c in SIZE if c not in ("mean_hu", "peak_hu")]), ("density + size (10)", SIZE),
            ("all but position", TISSUE + SIZE))


def load(paths) -> pd.DataFrame:
    # the cache's anatomy columns are not read (their count changed since the caches were written)
    B.ANATOMY_NAMES = ()
    d = pd.concat([B.frame(dict(np.load(p)), list(FEATURE_NAMES)) for p in paths], ignore_index=True)
    return d.assign(angle_deg=np.degrees(np.arctan2(d.dy_mm, d.dx_mm)))


def anchors(plaques: Path, series: str) -> None:
    """The LCA / LAD / LCX anchors of docs/hybrid_landmarks.json relative to the heart reference (centroid minus the
    candidates' dz / dy / dx in the scored table: one point per series), with the in-plane angle atan2(dy, dx)."""
    d = pd.read_csv(plaques)
    d = d[d.series == series]
    ref = np.array([(d[f"{c}_mm"] - d[f"d{c}_mm"]).median() for c in "zyx"])
    print(f"{series} heart reference (z, y, x) mm {np.round(ref, 1).tolist()}")
    courses = json.loads(B.LANDMARKS.read_text())[series]["courses"]
    for v in ("LCA", "LAD", "LCX"):
        rel = np.asarray(courses[v], float) - ref
        print(f"  {v} (dz, dy, dx | angle): " + "  ".join(
            f"({p[0]:+.0f}, {p[1]:+.0f}, {p[2]:+.0f} | {np.degrees(np.arctan2(p[1], p[2])):+.0f})" for p in rel))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--series", default="lidc-idri-0002")
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    ap.add_argument("--model", type=Path, nargs="+", required=True)
    ap.add_argument("--plaques", type=Path, default=None,
                    help="a bench/hybrid_cases.py plaques.csv: prints the anchors relative to the series' heart reference")
    a = ap.parse_args(argv)
    if a.plaques is not None:
        anchors(a.plaques, a.series)
    P = load(sorted((a.cache / "phantom").glob("*.npz")))
    H = load([a.cache / "hybrid" / f"{a.series}_{s}.npz" for s in a.seeds])

    def q(s):
        return f"{s.quantile(.1):.1f}/{s.median():.1f}/{s.quantile(.9):.1f}"

    groups = [(f"phantom {s}", P[P.seg == s]) for s in ("LAD_prox", "LAD_mid", "LCX_prox", "LCX_mid", "LCX_dist")]
    groups += [("phantom LAD all", P[P.vessel == "LAD"]), ("phantom LCX all", P[P.vessel == "LCX"])]
    groups += [(f"{a.series[-4:]} hybrid {s}", H[H.seg == s]) for s in ("LCX_prox", "LAD_prox")]
    for tag, d in groups:
        print(f"{tag:22s} n={len(d):3d} AU={d.au.sum():5.0f} " + " ".join(f"{c}={q(d[c])}" for c in SHOW))
    h, ref = H[H.seg == "LCX_prox"], P[P.seg == "LCX_prox"][list(FEATURE_NAMES)].median()
    for path in a.model:
        m = load_model(path)
        names = list(m.feature_names)
        x = h[names].to_numpy(float)
        print(f"\n{path}: {len(x)} proximal-LCX candidates, {h.au.sum():.0f} AU; set to the phantom LCX_prox median:")
        for tag, cols in SETTINGS:
            xn = x.copy()
            for c in cols:
                xn[:, names.index(c)] = ref[c]
            p = m.predict_proba(xn)
            c = p.argmax(1)
            print(f"  {tag:20s} med p(LAD) {np.median(p[:, 2]):.2f} p(LCX) {np.median(p[:, 3]):.2f} -> LAD {int((c == 2).sum()):2d} "
                  f"({h.au[c == 2].sum():5.0f} AU) LCX {int((c == 3).sum()):2d} ({h.au[c == 3].sum():5.0f} AU) "
                  f"non-coronary {int((c == 0).sum())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
