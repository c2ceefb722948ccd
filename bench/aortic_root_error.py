"""The aortic root of ``read_chest`` against the truth: phantom patients of a release (the phantom's annulus,
``cacscore.phantom.core._draws``) and the three LIDC series (eye-placed ``aortic_root`` of tests/data/landmarks_lidc.json);
with the release's anatomy labels, the pericardial mask's Dice against the sac (bench/chest_anatomy_phantom.py's
``sac_metrics``).

    PYTHONPATH=src nice -n 10 python bench/aortic_root_error.py RELEASE SEED FIRST LAST [--size 512]
        [--before | --seed-search] [--real /work/shared/data]

``--before``: the finder as it was before session 9 (``RootOptions.before_session9()``); ``--seed-search``:
``RootOptions.with_seed_search()``; for the table of docs/chest_anatomy.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from cacscore.chest.anatomy import RootOptions, read_chest
from cacscore.io.ct import read_ct, read_labels

sys.path.insert(0, str(Path(__file__).parent))
from chest_anatomy_phantom import sac_metrics
from vessel_tree_eval import true_tree

LANDMARKS = Path(__file__).resolve().parents[1] / "tests" / "data" / "landmarks_lidc.json"


def summary(e: np.ndarray) -> str:
    """median / 90th percentile / max of root errors (mm), a root not found counted as infinitely far."""
    f = np.where(np.isfinite(e), e, np.inf)
    return (f"median {np.median(f):.1f} mm, p90 {np.percentile(f, 90):.1f} mm, max {f.max():.0f} mm, "
            f"within 15 mm {(f <= 15).sum()}, not found {np.isnan(e).sum()} of {len(e)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("release", type=Path)
    ap.add_argument("seed", type=int)
    ap.add_argument("first", type=int)
    ap.add_argument("last", type=int)
    ap.add_argument("--size", type=int, default=512, help="the release's --size (the truth is drawn at it)")
    ap.add_argument("--before", action="store_true", help="the finder before session 9")
    ap.add_argument("--seed-search", action="store_true", help="RootOptions.with_seed_search() (measured, off by default)")
    ap.add_argument("--real", type=Path, default=None)
    a = ap.parse_args()
    opts = (RootOptions.before_session9() if a.before else RootOptions.with_seed_search() if a.seed_search
            else RootOptions())
    errs, dice = [], []
    for i in range(a.first, a.last + 1):
        vol = read_ct(a.release / "deidentified_nongated" / str(i) / str(i))
        an = read_chest(vol.hu, tuple(abs(float(s)) for s in vol.spacing_mm), root_options=opts)
        t = true_tree(a.seed, i, a.size)
        e = float(np.linalg.norm(an.aortic_root_mm - t["root"]))
        lab = a.release / "anatomy" / f"{i}.nii.gz"
        d = sac_metrics(an, read_labels(lab))["dice"] if lab.exists() else np.nan
        errs.append(e)
        dice.append(d)
        print(i, f"root error {e:.0f} mm, confidence {an.parts['root'].confidence:.2f} {an.parts['root'].reason}",
              np.round(an.aortic_root_mm - t["root"]), f"pericardium Dice {d:.3f}", flush=True)
    e = np.array(errs)
    print(f"phantom seed {a.seed} {a.first}-{a.last}: root error {summary(e)}")
    if np.isfinite(dice).any():
        dv = np.array(dice)
        print(f"pericardium Dice: median {np.nanmedian(dv):.3f}, p10 {np.nanpercentile(dv, 10):.3f}, min {np.nanmin(dv):.3f}")
    if a.real is not None:
        marks = json.loads(LANDMARKS.read_text())
        for name, lm in marks.items():
            if not isinstance(lm, dict) or "aortic_root" not in lm:
                continue
            an = read_chest(read_ct(a.real / name), root_options=opts)
            print(f"{name}: root error {np.linalg.norm(an.aortic_root_mm - lm['aortic_root']):.0f} mm",
                  np.round(an.aortic_root_mm - np.asarray(lm["aortic_root"], float)))


if __name__ == "__main__":
    main()
