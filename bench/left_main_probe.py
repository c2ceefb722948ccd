"""Counterfactual probe of the left main called LAD (issue 16, session 15 wt23e): a model's MLP probabilities for
chosen LCA candidates of a largest_errors.py scan (candidates.csv), and again with one group of columns replaced by
the median of the training LCA candidates (cached by bench/hybrid_training.cached_extract): which group makes the call.

    PYTHONPATH=src python bench/left_main_probe.py CANDIDATES.csv CACHE_DIR --model DIR [--ids 43 38 10]
"""

from __future__ import annotations

import argparse
import glob
from pathlib import Path

import numpy as np
import pandas as pd

from cacscore.lesion import load_model
from cacscore.lesion.candidates import FEATURE_NAMES

GROUPS = {
    "position": ("dz_mm", "dy_mm", "dx_mm", "r_inplane_mm", "dist_mm", "cos_inplane", "sin_inplane"),
    "size": ("log_area_mm2", "log_agatston", "extent_y_mm", "extent_x_mm", "fill", "log_vol3d_mm3", "n_slices3d",
             "log_area3d_max_mm2"),
    "density": ("peak_hu", "mean_hu"),
    "tissue": ("fat_8mm", "soft_8mm", "bright_8mm", "air_8mm", "fat_24mm", "soft_24mm", "bright_24mm", "air_24mm",
               "bright_60mm", "air_60mm"),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("candidates", type=Path)
    ap.add_argument("cache", type=Path)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--ids", nargs="+", type=int, default=None)
    a = ap.parse_args(argv)
    F, T = [], []
    for f in sorted(glob.glob(str(a.cache / "*.npz"))):
        z = np.load(f)
        F.append(z["features"])
        T.append(z["targets"])
    F, T = np.concatenate(F), np.concatenate(T)
    med = np.median(F[T == 1], axis=0)
    d = pd.read_csv(a.candidates)
    lca = d[d.target == 1]
    if a.ids:
        lca = lca[lca.id.isin(a.ids)]
    m = load_model(a.model)
    X = lca[[f"f_{n}" for n in FEATURE_NAMES]].to_numpy(np.float32)
    rows = []
    for name, cols in [("as found", ())] + list(GROUPS.items()) + [("all but size", sum(
            (v for k, v in GROUPS.items() if k != "size"), ()))]:
        Y = X.copy()
        for c in cols:
            Y[:, FEATURE_NAMES.index(c)] = med[FEATURE_NAMES.index(c)]
        p = m.predict_proba(Y)
        for (_, r), pr in zip(lca.iterrows(), p):
            rows.append({"id": r.id, "c": r.c, "au": round(r.au), "replaced": name, "p_LCA": round(pr[1], 2),
                         "p_LAD": round(pr[2], 2), "p_LCX": round(pr[3], 2), "p_non": round(pr[0], 2)})
    t = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print(f"training LCA median of the replaced columns from {a.cache} ({(T == 1).sum()} LCA candidates)")
    print(t.pivot_table(index=["id", "c", "au"], columns="replaced", values="p_LCA", sort=False).to_string())
    print("\np_LAD:")
    print(t.pivot_table(index=["id", "c", "au"], columns="replaced", values="p_LAD", sort=False).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
