"""Which phantom coronary candidates are real plaques and which are labelled noise (specks)?

    cd bench; PYTHONPATH=../src:. nice -n 10 python phantom_label_specks.py --cache /work/runs/wt15f/cache --seed 9101 \
        --distal-beta 1.2,1.2 --v7
    cd bench; PYTHONPATH=../src:. nice -n 10 python phantom_label_specks.py --cache C --seed 41 --release R --ids 1-24

Reads the phantom half of a bench/hybrid_vs_phantom_features.py cache (phantom/<pid>.npz, drawn with --phantom-seed so
that each candidate has its segment; --release writes it first) and pairs every coronary candidate with the nearest
drawn plaque of its truth vessel (``core._draws`` of the code that runs: give --distal-beta of the release's
DISTAL_BETA (wt15f's v7 cache: 1.2,1.2) and --v7 for a release drawn before anatomy v8: no ``proximal_first``, no
straddling). A candidate farther than --near mm from every such plaque (or in a vessel without one) is a speck: noise
above 130 HU that the labels called coronary (anatomy v7 and before labelled the whole tube round every vessel;
docs/phantom.md, "Anatomy v8"). Prints per segment: candidates, specks, their AU, and the median features of each kind;
and per slice thickness.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import hybrid_vs_phantom_features as B
import cacscore.phantom.core as C
import numpy as np
import pandas as pd

from cacscore.lesion.candidates import FEATURE_NAMES
from cacscore.phantom import coronary
from cacscore.phantom.anatomy import chest_grid

SHOW = dict(n=("au", "size"), mean_hu=("mean_hu", "median"), extent_x_mm=("extent_x_mm", "median"),
            au=("au", "median"), bright_8mm=("bright_8mm", "median"), fat_8mm=("fat_8mm", "median"))


def write_cache(cache: Path, release: Path, ids: str, seed: int) -> None:
    """phantom/<pid>.npz for the release's patients ``ids`` (first-last) as bench/hybrid_vs_phantom_features.py writes
    them (the shipped model's table; the features themselves do not depend on the model)."""
    from cacscore.lesion.classifier import load_model
    from cacscore.predict.predictors import DEFAULT_MODEL

    model = load_model(DEFAULT_MODEL)
    (cache / "phantom").mkdir(parents=True, exist_ok=True)
    lo, hi = (int(v) for v in ids.split("-"))
    for pid in range(lo, hi + 1):
        B.cached(cache / "phantom" / f"{pid}.npz", lambda pid=pid: B.phantom_rows(release, str(pid), model, seed))


def candidates(cache: Path, seed: int, near_mm: float) -> pd.DataFrame:
    B.ANATOMY_NAMES = ()  # the cache's anatomy columns are not read (their count changed since)
    rows = []
    for p in sorted((cache / "phantom").glob("*.npz"), key=lambda q: int(q.stem)):
        d = dict(np.load(p))
        if len(d["vessel"]) == 0:
            continue
        f = B.frame(d, list(FEATURE_NAMES))
        dr = C._draws(int(p.stem), seed, 512, lookalikes=False)[0]
        g = chest_grid(dr.anat, 512)
        at = d["centroid"] + np.array([g.z_mm[0], g.y_mm[0], g.x_mm[0]])
        near = []
        for v, c in zip(f.vessel, at):
            cs = [pl.centre[[2, 1, 0]] for pl in dr.plaques if pl.vessel == v]
            near.append(min(float(np.linalg.norm(c - x)) for x in cs) if cs else np.inf)
        rows.append(f.assign(pid=int(p.stem), near_mm=near, slice_mm=dr.anat.slice_mm))
    out = pd.concat(rows, ignore_index=True)
    return out.assign(speck=out.near_mm > near_mm)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--seed", type=int, required=True, help="the release's phantom seed")
    ap.add_argument("--distal-beta", default=None, help="a,b: the release's coronary.DISTAL_BETA")
    ap.add_argument("--near", type=float, default=6.0, help="mm from a drawn plaque's centre: farther is a speck")
    ap.add_argument("--v7", action="store_true", help="the release was drawn before anatomy v8 (positions as drawn)")
    ap.add_argument("--release", type=Path, default=None, help="write the cache first from this release (--ids)")
    ap.add_argument("--ids", default="1-24")
    a = ap.parse_args()
    if a.release is not None:
        write_cache(a.cache, a.release, a.ids, a.seed)
    if a.v7:
        C.proximal_first = lambda specs, rng: specs
        C.straddlers = lambda *args, **kw: frozenset()
    if a.distal_beta:
        coronary.DISTAL_BETA = tuple(float(x) for x in a.distal_beta.split(","))
    P = candidates(a.cache, a.seed, a.near)
    P["au_speck"] = P.au * P.speck
    P["no_plaque"] = np.isinf(P.near_mm)
    print(P.groupby("seg").agg(candidates=("au", "size"), specks=("speck", "sum"), in_vessel_without_plaque=("no_plaque", "sum"),
                               au=("au", "sum"), au_specks=("au_speck", "sum")).round(1).to_string())
    print("plaque candidates:\n" + P[~P.speck].groupby("seg").agg(**SHOW).round(2).to_string())
    print("specks:\n" + P[P.speck].groupby("seg").agg(**SHOW).round(2).to_string())
    print("by slice thickness:\n" + P.groupby("slice_mm").agg(candidates=("au", "size"), specks=("speck", "sum")).to_string())


if __name__ == "__main__":
    main()
