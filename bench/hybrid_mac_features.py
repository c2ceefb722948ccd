"""Where mitral annular calcification (MAC) lies in the candidate scorer's feature space (issue 16, session 12, wt20a):
the phantom's MAC candidates (a held-out release, found by its anatomy labels), the MAC inserted into real hybrids
(bench/hybrid_training.py mac-hybrids: the candidates most of whose voxels are in its MAC footprint), and the LCX plaque
candidates of the hybrids and of the phantom training release (cached targets). A model can only learn "MAC is not
LCX" from the hybrid MAC if that MAC lies where the phantom's does.

    PYTHONPATH=src python bench/hybrid_mac_features.py --release HELD_OUT --ids 6 8 ... --cache CACHE
        --hybrids OUT/hybrids/hybrids.csv --model DIR [--phantom-prefix ph]

Prints per group the median (5th, 95th percentile) of the position, density and context features, and for each
phantom MAC candidate the standardised (model mean / std) distance to the nearest candidate of each other group.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hybrid_training import lookalike_kinds

from cacscore import lesion as L
from cacscore.io.ct import read_ct, read_labels
from cacscore.lesion.classifier import classify_volume, load_model

SHOW = ("dz_mm", "dy_mm", "dx_mm", "dist_mm", "peak_hu", "log_agatston", "fat_8mm", "soft_8mm", "bright_8mm",
        "bright_24mm")
LCX = 3


def phantom_mac(release: Path, ids: list[str], model) -> tuple[np.ndarray, np.ndarray]:
    """The MAC candidates' features (n, len(FEATURE_NAMES)) of the listed patients and whether the model calls each
    coronary."""
    names = {int(k): v for k, v in json.loads((release / "anatomy" / "labels.json").read_text()).items()}
    feats, called = [], []
    for i in ids:
        vol = read_ct(release / "deidentified_nongated" / i / i)
        sp = tuple(abs(float(s)) for s in vol.spacing_mm)
        cand, classes = classify_volume(vol.hu, sp, model)
        kind = lookalike_kinds(cand.ids, read_labels(release / "anatomy" / f"{i}.nii.gz"), names)
        targets = L.candidate_targets(cand.ids, read_labels(release / "labels" / f"{i}.nii.gz"))
        on = (kind == "MAC") & (targets == 0)
        feats.append(cand.features[on])
        called.append(classes[on] > 0)
    return np.concatenate(feats), np.concatenate(called)


def hybrid_mac(hybrids: pd.DataFrame, cache: Path) -> np.ndarray:
    """Features of the MAC candidates of the MAC hybrids (hybrid_training.mac_flags: by their MAC footprint)."""
    import hybrid_training as HT

    h = hybrids[hybrids["mac_mask"].notna()]
    res = [{"id": i, **{k: v for k, v in np.load(cache / f"{i}.npz").items()}} for i in h["id"]]
    flags = HT.mac_flags(res, dict(zip(h["id"], h["mac_mask"])), dict(zip(h["id"], h["ct"])))
    return np.concatenate([r["features"][f] for r, f in zip(res, flags)])


def lcx(cache: Path, pattern: str) -> np.ndarray:
    return np.concatenate([(z := np.load(f))["features"][z["targets"] == LCX] for f in sorted(cache.glob(pattern))])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--release", type=Path, required=True)
    ap.add_argument("--ids", nargs="+", required=True)
    ap.add_argument("--cache", type=Path, required=True, help="training cache holding the <id>_mac hybrids and ph_*")
    ap.add_argument("--hybrids", type=Path, required=True)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--phantom-prefix", default="ph")
    a = ap.parse_args(argv)
    model = load_model(a.model)
    hyb = pd.read_csv(a.hybrids, dtype={"id": str})
    pm, called = phantom_mac(a.release, a.ids, model)
    groups = {"phantom MAC (held out)": pm, "phantom MAC called coronary": pm[called],
              "hybrid MAC (training)": hybrid_mac(hyb, a.cache),
              "hybrid LCX (training)": lcx(a.cache, "lidc-idri-000[13]_s*[02468].npz"),
              "phantom LCX (training)": lcx(a.cache, f"{a.phantom_prefix}_*.npz")}
    idx = [L.FEATURE_NAMES.index(n) for n in SHOW]
    print("| group | n | " + " | ".join(SHOW) + " |")
    print("| --- | ---: |" + " --- |" * len(SHOW))
    for g, f in groups.items():
        q = np.nanpercentile(f[:, idx], [50, 5, 95], axis=0) if len(f) else np.full((3, len(idx)), np.nan)
        print(f"| {g} | {len(f)} | " + " | ".join(f"{m:.1f} ({lo:.1f}, {hi:.1f})" for m, lo, hi in q.T) + " |")
    # standardised distance (model's mean / std over its feature columns) from each phantom MAC to each group
    z = lambda f: np.nan_to_num((model.table(f, None) - model.mean) / model.std)  # the MLP's own input scaling
    zp = z(pm)
    print("\nmedian standardised distance of a phantom MAC candidate (all / called coronary) to the nearest of:")
    for g in ("hybrid MAC (training)", "hybrid LCX (training)", "phantom LCX (training)"):
        zg = z(groups[g])
        d = np.sqrt(((zp[:, None] - zg[None]) ** 2).sum(2)).min(1)
        print(f"  {g}: {np.median(d):.2f} / {np.median(d[called]) if called.any() else float('nan'):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
