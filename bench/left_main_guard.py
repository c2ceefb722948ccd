"""The left main in the structure vote, measured offline on a per-candidate cache (issue 16; bench/vessel_tree_cache.py,
which also keeps each candidate's voxels). Prints the 4-vessel ratio (constant / model normalised MSE, as
``cacscore evaluate``) and kappa4 per variant, with each variant's largest normalised errors:

- the product before (MLP + rules, the count vote, the join) and after (+ ``tree.guard_left_main``);
- no vote; the vote with LCA left out both ways; the vote weighted by Agatston or its square root;
- a per-piece vessel probe: a large coronary candidate cut into ~8 mm^2 pieces (k-means of its voxels), each piece
  given the MLP's likeliest vessel with the piece's own position features (tried, not shipped);
- ceilings: each coronary call given its true (majority-label) vessel; every candidate its true class; each voxel
  of the coronary calls its own reference label (Agatston per (candidate, vessel) part from the part's peak).

    PYTHONPATH=src python bench/left_main_guard.py CACHE TRUTH.csv [--model DIR] [--ids 1-60] [--probe]
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.cluster.vq import kmeans2

from cacscore import lesion as L
from cacscore.core.vessels import VESSELS
from cacscore.evaluation.evaluate import evaluate_arrays
from cacscore.lesion.tree import guard_left_main, join_structure, vote_by_structure
from cacscore.predict.predictors import DEFAULT_MODEL
from cacscore.scoring.agatston import agatston_weight

POS = ("dy_mm", "dx_mm", "r_inplane_mm", "dist_mm", "cos_inplane", "sin_inplane")


def load(cache: Path, ids: list[int]) -> dict[int, dict]:
    out = {}
    for i in ids:
        if (cache / f"{i}.npz").exists():
            with np.load(cache / f"{i}.npz") as z:
                out[i] = {k: z[k] for k in z.files}
    return out


def mlp_classes(d: dict) -> np.ndarray:
    """The classes before the vote: the MLP's argmax where no rule decided, else 0."""
    return np.where(d["may"], np.argmax(d["proba"], 1), 0)


def product(d: dict, guard: bool = True, vote: bool = True) -> np.ndarray:
    c0 = mlp_classes(d)
    v = vote_by_structure(c0, d["proba"], d["struct"]) if vote else c0
    if vote and guard:
        v = guard_left_main(c0, v, d["proba"], d["struct"], d["agatston"])
    return join_structure(v, d["proba"], d["struct"], d["may"])


def without_lca_vote(d: dict) -> np.ndarray:
    """The vote with the LCA left out both ways: LCA calls stay LCA, nothing becomes LCA."""
    c0 = mlp_classes(d)
    cl = vote_by_structure(c0, d["proba"], d["struct"])
    cl[(cl == 1) & (c0 > 1)] = c0[(cl == 1) & (c0 > 1)]
    cl[c0 == 1] = 1
    return join_structure(cl, d["proba"], d["struct"], d["may"])


def weighted_vote(d: dict, w) -> np.ndarray:
    c0 = mlp_classes(d)
    cl = c0.copy()
    cor = np.flatnonzero(c0 > 0)
    for s in np.unique(d["struct"][cor]):
        m = cor[d["struct"][cor] == s]
        cl[m] = 1 + np.argmax((d["proba"][m, 1:] * w(d["agatston"][m])[:, None]).sum(0))
    return join_structure(cl, d["proba"], d["struct"], d["may"])


def scores(d: dict, classes: np.ndarray, parts: dict[int, np.ndarray] | None = None) -> np.ndarray:
    """Per-vessel AU: whole candidates, except those in ``parts`` ({candidate: per-voxel class}), whose
    (candidate, vessel) parts are scored on their own (area x weight of the part's peak x slice / 3)."""
    au = np.array([d["agatston"][classes == v].sum() for v in range(1, 5)])
    sp = d["spacing"]
    for j, vc in (parts or {}).items():
        if classes[j] > 0:
            au[classes[j] - 1] -= d["agatston"][j]
        hu = d["vox_hu"][d["vox_cid"] == j + 1].astype(float)
        for v in np.unique(vc[vc > 0]):
            au[v - 1] += (vc == v).sum() * sp[1] * sp[2] * agatston_weight(hu[vc == v].max()) * sp[0] / 3.0
    return au


def voxel_oracle(d: dict, classes: np.ndarray) -> np.ndarray:
    return scores(d, classes, {j: d["vox_label"][d["vox_cid"] == j + 1].astype(int) for j in np.flatnonzero(classes > 0)})


def piece_probe(d: dict, classes: np.ndarray, model: L.LesionModel, min_mm2: float = 15.0, piece_mm2: float = 8.0
                ) -> np.ndarray:
    sp = d["spacing"]
    hy, hx = d["heart_index"][1:] * sp[1:]
    names = list(model.feature_names)
    parts = {}
    for j in np.flatnonzero(classes > 0):
        m = d["vox_cid"] == j + 1
        if m.sum() * sp[1] * sp[2] < min_mm2:
            continue
        yx = d["vox_zyx"][m][:, 1:].astype(float) * sp[1:]
        cen, lab = kmeans2(yx, int(np.ceil(m.sum() * sp[1] * sp[2] / piece_mm2)), minit="++", seed=0)
        f = np.repeat(d["features"][j][None], len(cen), 0).astype(np.float32)
        dy, dx = cen[:, 0] - hy, cen[:, 1] - hx
        r = np.hypot(dy, dx)
        dz = f[:, names.index("dz_mm")]
        for n, v in zip(POS, (dy, dx, r, np.sqrt(r ** 2 + dz ** 2), dx / r, dy / r)):
            f[:, names.index(n)] = v
        parts[j] = 1 + np.argmax(model.predict_proba(f)[:, 1:5], 1)[lab]
    return scores(d, classes, parts)


def report(name: str, t: np.ndarray, p: np.ndarray, ids: list[int]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        tab = evaluate_arrays(t, p, n_boot=0)
    a = tab[(tab.vessel == "all4") & (tab.metric == "mse_norm")].iloc[0]
    k = {v: float(tab[(tab.vessel == v) & (tab.metric == "kappa4")].value.iloc[0]) for v in ("total", *VESSELS)}
    e = ((p - t) / np.where(t.max(0) > 0, t.max(0), 1)) ** 2
    top = "; ".join(f"{ids[q // 4]} {VESSELS[q % 4]} {t.ravel()[q]:.0f}/{p.ravel()[q]:.0f} ({e.ravel()[q] / e.sum():.2f})"
                    for q in np.argsort(-e.ravel())[:4])
    print(f"| {name} | {a.baseline / a.value:.2f} | {k['total']:.3f} | " + " / ".join(f"{k[v]:.2f}" for v in VESSELS) +
          f" | {top} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cache", type=Path)
    ap.add_argument("truth", type=Path)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--ids", default="1-60")
    ap.add_argument("--probe", action="store_true", help="also the per-piece MLP probe (needs the cached voxels)")
    a = ap.parse_args()
    lo, hi = (int(v) for v in a.ids.split("-"))
    cache = load(a.cache, list(range(lo, hi + 1)))
    ids = sorted(cache)
    truth = pd.read_csv(a.truth)
    t = truth.set_index(truth["id"].astype(int)).loc[ids, list(VESSELS)].to_numpy(float)
    voxels = all("vox_cid" in d for d in cache.values())
    runs = {
        "before: MLP + rules, vote, join (shipped until now)": lambda d: product(d, guard=False),
        "**after: + guard_left_main**": product,
        "no vote (join only)": lambda d: product(d, vote=False),
        "vote with the LCA left out both ways": without_lca_vote,
        "vote weighted by AU": lambda d: weighted_vote(d, lambda x: x),
        "vote weighted by sqrt(AU)": lambda d: weighted_vote(d, np.sqrt),
    }
    print(f"{len(ids)} patients of {a.cache}")
    print("| variant | ratio | kappa4 total | kappa4 LCA / LAD / LCX / RCA | largest normalised errors: patient vessel "
          "true/predicted (share of the MSE) |\n| --- | ---: | ---: | --- | --- |")
    for name, f in runs.items():
        report(name, t, np.stack([scores(cache[i], f(cache[i])) for i in ids]), ids)
    after = {i: product(cache[i]) for i in ids}
    if a.probe and voxels:
        model = L.load_model(a.model)
        report("after + per-piece MLP probe of candidates >= 15 mm^2", t,
               np.stack([piece_probe(cache[i], after[i], model) for i in ids]), ids)
    report("ceiling: each coronary call its true vessel", t,
           np.stack([scores(cache[i], np.where(after[i] > 0, cache[i]["targets"], 0)) for i in ids]), ids)
    report("ceiling: every candidate its true class", t, np.stack([scores(cache[i], cache[i]["targets"]) for i in ids]), ids)
    if voxels:
        report("ceiling: each voxel of the coronary calls its own label", t,
               np.stack([voxel_oracle(cache[i], after[i]) for i in ids]), ids)


if __name__ == "__main__":
    main()
