"""Contrast lumen vs calcium, second look: the size of the 3-D structure (``Candidates.structure``: 26-connected
candidate voxels) of each coronary call of the shipped model on the contrast LIDC series and on their hybrids, with
its peak HU and the scan's aortic lumen level (bench/contrast_lumen_calls.lumen_hu). Pre-registered check
(docs/lesion_scorer.md, "Contrast lumen called calcium"): rule R = lumen > 200 HU and peak <= lumen and
structure >= 60 mm^3 (it failed on fresh seeds 3-7 and is not wired). Rule S (session 12, pre-registered before
seeds 8-17 were run): the same with the STRUCTURE's peak (the brightest voxel of every candidate of the 3-D
structure) in place of the call's own slice peak.

    PYTHONPATH=src:bench python bench/contrast_lumen_structure.py [--seeds 0 1 2] [--native] --out CSV
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from contrast_lumen_calls import lumen_hu
from hybrid_cases import series_landmarks

from cacscore.chest.anatomy import read_chest
from cacscore.io.ct import read_ct
from cacscore.lesion.classifier import classify_volume, load_model
from cacscore.phantom.hybrid import insert_plaques
from cacscore.predict.predictors import DEFAULT_MODEL

LANDMARKS = Path(__file__).resolve().parents[1] / "docs" / "hybrid_landmarks.json"
SERIES = ("lidc-idri-0001", "lidc-idri-0003")


def call_structures(hu: np.ndarray, labels: np.ndarray, sp, model, blood: float) -> list[dict]:
    """Per coronary call: AU, class, whether it overlaps an inserted plaque, its peak HU, the volume (mm^3) of its
    3-D candidate structure and that structure's brightest voxel (HU), and the volume of the 26-connected >= 130 HU
    region that holds most of its voxels."""
    cand, cls = classify_volume(hu, sp, model)
    vox = float(np.prod(sp))
    counts = np.bincount(cand.ids.ravel(), minlength=cand.n + 1)[1:]
    svol = pd.Series(counts).groupby(cand.structure).sum() * vox
    peaks = np.atleast_1d(ndimage.maximum(hu, cand.ids, np.arange(1, cand.n + 1)))
    speak = pd.Series(peaks).groupby(cand.structure).max()
    comp, _ = ndimage.label(hu >= 130, np.ones((3, 3, 3)))
    csize = np.bincount(comp.ravel()) * vox
    rows = []
    for k in np.flatnonzero(cls > 0):
        m = cand.ids == k + 1
        rows.append({"au": float(cand.agatston[k]), "cls": int(cls[k]), "inserted": bool((labels[m] > 0).any()),
                     "peak": float(hu[m].max()), "blood": blood, "struct_mm3": float(svol[cand.structure[k]]),
                     "struct_peak": float(speak[cand.structure[k]]),
                     "comp130_mm3": float(csize[np.bincount(comp[m]).argmax()])})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--native", action="store_true", help="the un-modified scans too (seed -1)")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    model = load_model(DEFAULT_MODEL)
    rows = []
    for name in SERIES:
        vol = read_ct(a.data / name)
        sp = tuple(abs(float(s)) for s in vol.spacing_mm)
        anatomy = read_chest(vol.hu, sp)
        blood = lumen_hu(vol.hu, sp, anatomy)
        for seed in ([-1] if a.native else []) + a.seeds:
            if seed < 0:
                hu, labels = vol.hu, np.zeros(vol.hu.shape, np.uint8)
            else:
                case = insert_plaques(vol.hu, sp, anatomy, seed, motion=True,
                                      landmarks=series_landmarks(LANDMARKS, name))
                hu, labels = case.hu, case.labels
            rows += [{"series": name, "seed": seed, **r} for r in call_structures(hu, labels, sp, model, blood)]
            print(name, seed, flush=True)
    df = pd.DataFrame(rows)
    df["rule_R"] = (df["blood"] > 200) & (df["peak"] <= df["blood"]) & (df["struct_mm3"] >= 60)
    df["rule_S"] = (df["blood"] > 200) & (df["struct_peak"] <= df["blood"]) & (df["struct_mm3"] >= 60)
    df.to_csv(a.out, index=False)
    print(df[(df["seed"] < 0) | df["inserted"]].sort_values(["series", "inserted", "au"]).round(1).to_string(index=False))
    native = df[df["seed"] < 0]
    for rule in ("rule_R", "rule_S"):
        for label, fresh in (("seeds 0-7 (development)", False), ("seeds >= 8 (fresh)", True)):
            found = df[df["inserted"] & (df["seed"] >= 0) & ((df["seed"] >= 8) == fresh)]
            print(f"{rule} takes: native calls {native.loc[native[rule], 'au'].sum():.1f} of "
                  f"{native['au'].sum():.1f} | inserted found, {label}: {found.loc[found[rule], 'au'].sum():.1f} of "
                  f"{found['au'].sum():.1f} ({int(found[rule].sum())} of {len(found)} calls)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
