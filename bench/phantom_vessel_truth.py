"""Per-vessel truth of phantom patients rendered by this tree, and the labelled calcium in vessels without a plaque.

    PYTHONPATH=src nice -n 10 python bench/phantom_vessel_truth.py --seed 77 --patients 120 --size 512 --out T.csv

Renders patients 1..N (``make_patient``: the written image and labels, look-alikes included) and writes one row per
patient: the anatomy version, slice thickness, per-vessel truth (Agatston of the static image, as truth.csv) and, per
vessel, the labelled components (>= 130 HU in the moving image, 26-connected) and how many of them lie in a vessel
that has no plaque at all (noise above 130 HU inside the label tube: anatomy v8 labels only near plaques,
docs/phantom.md "Anatomy v8"). Prints the per-vessel score distribution (share > 0, quartiles of the non-zero
scores) and the total's zero share, to compare anatomy versions (run each tree with its own PYTHONPATH).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

from cacscore.core.vessels import LABEL_OF, VESSELS
from cacscore.phantom.anatomy import ANATOMY_VERSION
from cacscore.phantom.core import make_patient


def row(pid: int, seed: int, size: int) -> dict:
    p = make_patient(pid, seed=seed, size=size)
    out = {"pid": pid, "version": ANATOMY_VERSION, "slice_mm": p.slice_thickness_mm, "total": p.truth["total"]}
    with_plaque = {pl.vessel for pl in p.plaques}
    for v in VESSELS:
        out[v] = p.truth[v]
        n = ndimage.label((p.hu >= 130) & (p.labels == LABEL_OF[v]), structure=np.ones((3, 3, 3)))[1]
        out[f"{v}_components"] = n
        out[f"{v}_orphan"] = 0 if v in with_plaque else n
    return out


def summary(t: pd.DataFrame) -> None:
    print(f"{len(t)} patients, anatomy {t.version.iloc[0]}: total zero share {np.mean(t.total == 0):.3f}, "
          f"non-zero total q25 / median / q75 {np.percentile(t.total[t.total > 0], [25, 50, 75]).round(1).tolist()}")
    for v in VESSELS:
        s = t[v]
        q = np.percentile(s[s > 0], [25, 50, 75]).round(1).tolist() if (s > 0).any() else []
        print(f"  {v}: share > 0 {np.mean(s > 0):.3f}, non-zero q25 / median / q75 {q}, sum {s.sum():.0f}; labelled "
              f"components {t[f'{v}_components'].sum()}, in vessels without a plaque {t[f'{v}_orphan'].sum()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=77)
    ap.add_argument("--patients", type=int, default=120)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--out", type=Path, required=True, help="per-patient table (csv); reused when it exists")
    a = ap.parse_args()
    if a.out.exists():
        t = pd.read_csv(a.out)
    else:
        t = pd.DataFrame([row(pid, a.seed, a.size) for pid in range(1, a.patients + 1)])
        t.to_csv(a.out, index=False)
    summary(t)


if __name__ == "__main__":
    main()
