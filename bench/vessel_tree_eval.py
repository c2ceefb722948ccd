"""Offline look at vessel assignment on a cache of bench/vessel_tree_cache.py (issue 16).

Loads OUT/<id>.npz, adds the phantom's true coronary tree (``cacscore.phantom.core._draws``: left and right ostium,
bifurcation, in volume mm z y x from voxel 0), and reports the 4-vessel normalised MSE ratio (constant / model, as
``cacscore evaluate``: normalised by the reference's per-vessel max) for the cached product classes and for the tree
step (``cacscore.lesion.tree.vote_by_structure``), the Agatston-weighted vote, and a left-main distance rule with
the phantom's true left ostium and with one placed from the found aortic root, plus the largest misassigned coronary candidates.

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
    to = lambda p: np.asarray(p, float)[::-1] - o  # (x, y, z) patient -> (z, y, x) volume mm
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


def left_main_rule(d: dict, ostium: np.ndarray, near: float, far: float, classes: np.ndarray) -> np.ndarray:
    """The left main is the first stretch from the left ostium: an LCA call farther than ``far`` mm from ``ostium``
    goes to the likelier of LAD / LCX, an LAD / LCX call nearer than ``near`` mm to LCA (measured, not shipped)."""
    cl = classes.copy()
    if not np.isfinite(ostium).all():
        return cl
    dist = np.linalg.norm(d["centroid_mm"] - ostium, axis=1)
    m = (cl == 1) & (dist > far)
    cl[m] = 2 + np.argmax(d["proba"][m][:, 2:4], axis=1)
    cl[((cl == 2) | (cl == 3)) & (dist < near)] = 1
    return cl


def found_ostium(d: dict) -> np.ndarray:
    """A left ostium from the found aortic root: 10 mm above the annulus (the phantom draws the ostia 8-14 mm above
    it), on the aortic wall towards patient left (the found tube's radius at the root)."""
    root = d["root_found"]
    r = float(d["aorta_radius"][0]) if len(d["aorta_radius"]) else 15.0
    return root + np.array([10.0, 0.0, r])


def main() -> None:
    from cacscore.lesion.tree import join_structure, vote_by_structure

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
    errs = np.array([np.linalg.norm(cache[i]["root_found"] - trees[i]["root"]) for i in cache])
    oerr = np.array([np.linalg.norm(found_ostium(cache[i]) - trees[i]["ostium_l"]) for i in cache])
    print(f"{len(cache)} patients; found aortic root vs the phantom's annulus: median {np.nanmedian(errs):.0f} mm "
          f"(found in {np.isfinite(errs).sum()}, within 15 mm in {(errs <= 15).sum()}); left ostium from it: median "
          f"{np.nanmedian(oerr):.0f} mm")
    before = {i: d["classes"] for i, d in cache.items()}
    vote = {i: vote_by_structure(d["classes"], d["proba"], d["struct"]) for i, d in cache.items()}
    join = {i: join_structure(vote[i], d["proba"], d["struct"], d["may"]) for i, d in cache.items()}
    runs = {"product (no vote)": before, "structure vote": vote, "vote + join (shipped)": join,
            "vote by Agatston weight": {i: _weighted_vote(d) for i, d in cache.items()},
            "true vessel of every candidate called coronary": {i: np.where(d["classes"] > 0, d["targets"], 0)
                                                               for i, d in cache.items()}}
    for near, far in ((0, 12), (5, 12), (5, 15), (5, 20)):
        runs[f"vote + left-main rule {near}/{far} mm, TRUE ostium"] = {
            i: left_main_rule(d, trees[i]["ostium_l"], near, far, vote[i]) for i, d in cache.items()}
        runs[f"vote + left-main rule {near}/{far} mm, ostium from the FOUND root"] = {
            i: left_main_rule(d, found_ostium(d), near, far, vote[i]) for i, d in cache.items()}
    for name, cl in runs.items():
        print(f"| {name} | {ratio(cache, cl, truth)[0]:.2f} |")
    after = join
    rows = []
    for i, d in cache.items():
        tr = trees[i]
        for j in np.flatnonzero((d["targets"] != after[i]) & ((d["targets"] > 0) | (after[i] > 0))):
            c = d["centroid_mm"][j]
            rows.append((d["agatston"][j], i, j + 1, NAMES[d["targets"][j]], NAMES[d["classes"][j]], NAMES[after[i][j]],
                         np.linalg.norm(c - tr["ostium_l"]), np.linalg.norm(c - tr["bif"]), float(tr["lm_len"]),
                         np.round(d["proba"][j], 2)))
    rows.sort(key=lambda r: -r[0])
    print("| AU | patient | candidate | true | MLP + rules | + vote + join | mm to left ostium | mm to bifurcation | LM length | proba |")
    for r in rows[:a.top]:
        print(f"| {r[0]:.0f} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]} | {r[6]:.0f} | {r[7]:.0f} | {r[8]:.0f} | {r[9]} |")


def _weighted_vote(d: dict) -> np.ndarray:
    cl = d["classes"].copy()
    cor = np.flatnonzero(cl > 0)
    for s in np.unique(d["struct"][cor]):
        m = cor[d["struct"][cor] == s]
        cl[m] = 1 + np.argmax((d["proba"][m, 1:] * d["agatston"][m, None]).sum(0))
    return cl


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore", RuntimeWarning)  # F1 / Spearman undefined for vessels without calcium
    main()
