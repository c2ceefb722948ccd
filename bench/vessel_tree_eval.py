"""Offline look at vessel assignment on a cache of bench/vessel_tree_cache.py (issue 16).

Loads OUT/<id>.npz, adds the phantom's true coronary tree (``cacscore.phantom.core._draws``: left and right ostium,
bifurcation, in volume mm z y x from voxel 0), and reports the 4-vessel normalised MSE ratio (constant / model, as
``cacscore evaluate``: normalised by the reference's per-vessel max) for the cached product classes and for the tree
step (``cacscore.lesion.tree``), plus the largest misassigned coronary candidates.

    PYTHONPATH=src python bench/vessel_tree_eval.py CACHE TRUTH.csv SEED [--ids 1-60]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from cacscore.core.vessels import VESSELS
from cacscore.evaluation.evaluate import evaluate_arrays
from cacscore.phantom.anatomy import chest_grid
from cacscore.phantom.core import _draws

NAMES = ("non", *VESSELS)


def true_tree(seed: int, pid: int, size: int = 512) -> dict[str, np.ndarray]:
    d, _ = _draws(pid, seed, size)
    g = chest_grid(d.anat, size)
    o = np.array([g.z_mm[0], g.y_mm[0], g.x_mm[0]])
    to = lambda p: np.asarray(p, float)[::-1] - o  # noqa: E731  (x, y, z) patient -> (z, y, x) volume mm
    lm = d.vessels["LCA"].points
    return {"root": to(d.anat.aorta_root), "ostium_l": to(lm[0]), "bif": to(lm[-1]),
            "ostium_r": to(d.vessels["RCA"].points[0]), "lm_len": np.array(np.linalg.norm(lm[-1] - lm[0]))}


def load(cache: Path, ids: list[int]) -> dict[int, dict]:
    out = {}
    for i in ids:
        p = cache / f"{i}.npz"
        if p.exists():
            with np.load(p) as z:
                out[i] = {k: z[k] for k in z.files}
    return out


def per_vessel(d: dict, classes: np.ndarray) -> np.ndarray:
    return np.array([d["agatston"][classes == v].sum() for v in range(1, 5)])


def ratio(cache: dict[int, dict], classes: dict[int, np.ndarray], truth: pd.DataFrame) -> tuple[float, np.ndarray, np.ndarray]:
    ids = sorted(cache)
    t = truth.set_index(truth["id"].astype(int)).loc[ids, list(VESSELS)].to_numpy(float)
    p = np.stack([per_vessel(cache[i], classes[i]) for i in ids])
    tab = evaluate_arrays(t, p, n_boot=0)
    a = tab[(tab.vessel == "all4") & (tab.metric == "mse_norm")].iloc[0]
    return float(a.baseline / a.value), t, p


def main() -> None:
    from cacscore.lesion.tree import assign_along_tree  # noqa: PLC0415

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cache", type=Path)
    ap.add_argument("truth", type=Path)
    ap.add_argument("seed", type=int)
    ap.add_argument("--ids", default="1-60")
    ap.add_argument("--top", type=int, default=12)
    a = ap.parse_args()
    lo, hi = (int(v) for v in a.ids.split("-"))
    cache = load(a.cache, list(range(lo, hi + 1)))
    truth = pd.read_csv(a.truth)
    trees = {i: true_tree(a.seed, i) for i in cache}
    errs = [np.linalg.norm(cache[i]["root_found"] - trees[i]["root"]) for i in cache]
    print(f"{len(cache)} patients; found aortic root vs the phantom's annulus: median {np.nanmedian(errs):.0f} mm, "
          f"found in {np.isfinite(errs).sum()}")
    before = {i: d["classes"] for i, d in cache.items()}
    after = {i: assign_along_tree(d["centroid_mm"], d["agatston"], d["proba"], d["classes"], d["struct"],
                                  d["root_found"]) for i, d in cache.items()}
    oracle = {i: np.where(d["classes"] > 0, d["targets"], 0) for i, d in cache.items()}
    for name, cl in (("product", before), ("tree step", after), ("true vessel of every candidate called coronary", oracle)):
        r, t, p = ratio(cache, cl, truth)
        print(f"{name}: 4-vessel ratio {r:.2f}")
    rows = []
    for i, d in cache.items():
        tr = trees[i]
        for j in np.flatnonzero((d["targets"] != after[i]) & ((d["targets"] > 0) | (after[i] > 0))):
            c = d["centroid_mm"][j]
            rows.append((d["agatston"][j], i, j, NAMES[d["targets"][j]], NAMES[d["classes"][j]], NAMES[after[i][j]],
                         np.linalg.norm(c - tr["ostium_l"]), np.linalg.norm(c - tr["bif"]), float(tr["lm_len"]),
                         np.round(d["proba"][j], 2)))
    rows.sort(key=lambda r: -r[0])
    print("AU | patient | cand | true | product | tree | mm to left ostium | mm to bifurcation | LM length | proba")
    for r in rows[:a.top]:
        print(f"{r[0]:.0f} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]} | {r[6]:.0f} | {r[7]:.0f} | {r[8]:.0f} | {r[9]}")


if __name__ == "__main__":
    main()
