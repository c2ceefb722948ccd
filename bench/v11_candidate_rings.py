"""ring_soft of the true coronary candidates of phantom training sets, from their cached candidates (session 14,
wt22a): per vessel, the candidates' median ring_soft (AU-weighted median too) and the share of the vessel's AU with
ring_soft > 0.75 (the MAC rule's threshold; session 13: v8's LCX 0.22, LIDC-0002 hybrids' LCX 0).

    PYTHONPATH=src python bench/v11_candidate_rings.py NAME=CACHE_FOLDER ...

CACHE_FOLDER: bench/hybrid_training.py cached_extract's folder of <id>.npz (features: FEATURE_NAMES columns,
targets: 0 non-coronary, 1..4 LCA..RCA). Only candidates within 110 mm of the heart centre (the model's reach).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from cacscore.lesion.classifier import CLASS_NAMES, FEATURE_NAMES


def rows(name: str, folder: Path) -> pd.DataFrame:
    out = []
    for f in sorted(folder.glob("*.npz")):
        z = np.load(f)
        x, t = z["features"], z["targets"]
        near = x[:, FEATURE_NAMES.index("dist_mm")] <= 110.0
        out.append(pd.DataFrame({"set": name, "case": f.stem, "vessel": np.asarray(CLASS_NAMES)[t[near]],
                                 "au": np.expm1(x[near, FEATURE_NAMES.index("log_agatston")]),
                                 "ring_soft": x[near, FEATURE_NAMES.index("ring_soft")],
                                 "ring_fat": x[near, FEATURE_NAMES.index("ring_fat")]}))
    return pd.concat(out, ignore_index=True)


def _wmedian(v: np.ndarray, w: np.ndarray) -> float:
    o = np.argsort(v)
    c = np.cumsum(w[o])
    return float(v[o][np.searchsorted(c, 0.5 * c[-1])]) if len(v) and c[-1] > 0 else float("nan")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    df = pd.concat([rows(*a.split("=", 1)[0:1], Path(a.split("=", 1)[1])) for a in argv], ignore_index=True)
    df = df[df["vessel"] != "non-coronary"]
    res = []
    for (s, v), g in df.groupby(["set", "vessel"]):
        au = g["au"].to_numpy()
        res.append({"set": s, "vessel": v, "candidates": len(g), "patients": g["case"].nunique(), "AU": au.sum(),
                    "ring_soft_median": g["ring_soft"].median(), "ring_soft_AU_median": _wmedian(g["ring_soft"].to_numpy(), au),
                    "ring_fat_median": g["ring_fat"].median(),
                    "AU_share_soft_gt_075": au[g["ring_soft"].to_numpy() > 0.75].sum() / max(au.sum(), 1e-9)})
    pd.set_option("display.width", 200)
    print(pd.DataFrame(res).round(3).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
