"""The aortic root of ``read_chest`` against the truth: phantom patients of a release (the phantom's annulus,
``cacscore.phantom.core._draws``) and the three LIDC series (eye-placed ``aortic_root`` of tests/data/landmarks_lidc.json).

    PYTHONPATH=src nice -n 10 python bench/aortic_root_error.py RELEASE SEED FIRST LAST [--real /work/shared/data]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from cacscore.chest.anatomy import read_chest
from cacscore.io.ct import read_ct

sys.path.insert(0, str(Path(__file__).parent))
from vessel_tree_eval import true_tree

LANDMARKS = Path(__file__).resolve().parents[1] / "tests" / "data" / "landmarks_lidc.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("release", type=Path)
    ap.add_argument("seed", type=int)
    ap.add_argument("first", type=int)
    ap.add_argument("last", type=int)
    ap.add_argument("--real", type=Path, default=None)
    a = ap.parse_args()
    errs = []
    for i in range(a.first, a.last + 1):
        vol = read_ct(a.release / "deidentified_nongated" / str(i) / str(i))
        an = read_chest(vol.hu, tuple(abs(float(s)) for s in vol.spacing_mm))
        t = true_tree(a.seed, i)
        e = float(np.linalg.norm(an.aortic_root_mm - t["root"]))
        errs.append(e)
        print(i, f"root error {e:.0f} mm, confidence {an.parts['root'].confidence:.2f} {an.parts['root'].reason}",
              np.round(an.aortic_root_mm - t["root"]), flush=True)
    e = np.array(errs)
    print(f"phantom seed {a.seed} {a.first}-{a.last}: median {np.nanmedian(e):.0f} mm, within 15 mm {(e <= 15).sum()}, "
          f"not found {np.isnan(e).sum()} of {len(e)}")
    if a.real is not None:
        marks = json.loads(LANDMARKS.read_text())
        for name, lm in marks.items():
            if not isinstance(lm, dict) or "aortic_root" not in lm:
                continue
            vol = read_ct(a.real / name)
            an = read_chest(vol)
            print(f"{name}: root error {np.linalg.norm(an.aortic_root_mm - lm['aortic_root']):.0f} mm")


if __name__ == "__main__":
    main()
