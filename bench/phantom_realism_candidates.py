"""Calcium candidates that the chest realism of session 11 (anatomy.CHEST_REALISM), or session 12's body realism
(anatomy.BODY_REALISM, --switch BODY_REALISM), adds to phantom patients.

    PYTHONPATH=src .venv/bin/python bench/phantom_realism_candidates.py [--seed 9101 --patients 10 --size 512]
        [--switch BODY_REALISM]

Each patient is rendered with and without the realism (the noise is the same draw either way); a candidate is the
scorer's lesion (lesion.candidates: >= 130 HU, 8-connected in one slice, >= 1 mm^2) on the written (noisy, moving)
image. A candidate of the realistic image that overlaps none of the other image's is new; each new one is listed by the
anatomy label under most of it when that is lung or heart-side tissue (docs/phantom.md, "Chest realism").
"""

from __future__ import annotations

import argparse
import collections

import numpy as np

from cacscore.lesion.candidates import _components
from cacscore.phantom import anatomy, make_patient
from cacscore.phantom.anatomy import ANATOMY_LABELS

NEAR_HEART = ("heart", "epicardial_fat", "pericardium", "coronary_artery", "mediastinal_fat")


def _render(pid: int, seed: int, size: int, realism: bool, switch: str = "CHEST_REALISM"):
    keep = getattr(anatomy, switch)
    setattr(anatomy, switch, realism)
    try:
        return make_patient(pid, seed=seed, size=size, anatomy=True)
    finally:
        setattr(anatomy, switch, keep)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=9101)
    ap.add_argument("--patients", type=int, default=10)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--switch", choices=("CHEST_REALISM", "BODY_REALISM"), default="CHEST_REALISM")
    args = ap.parse_args()
    new_by_label: collections.Counter = collections.Counter()
    n_on = n_off = 0
    for pid in range(1, args.patients + 1):
        off, on = (_render(pid, args.seed, args.size, r, args.switch) for r in (False, True))
        sp = on.spacing_mm
        c_on = _components(on.hu, sp[1] * sp[2], 130.0, 1.0)
        c_off = _components(off.hu, sp[1] * sp[2], 130.0, 1.0)
        n_on, n_off = n_on + int(c_on.max()), n_off + int(c_off.max())
        old = np.unique(c_on[(c_on > 0) & (c_off > 0)])
        new = np.setdiff1d(np.unique(c_on[c_on > 0]), old)
        for c in new:
            m = c_on == c
            name = ANATOMY_LABELS[int(np.bincount(on.anatomy_labels[m]).argmax())]
            new_by_label[name] += 1
            if name.startswith("lung") or name in NEAR_HEART:
                k = np.nonzero(m.any(axis=(1, 2)))[0].tolist()
                print(f"patient {pid}: new candidate in {name}, slice {k}, {int(m.sum())} px, max {on.hu[m].max():.0f} HU, "
                      f"drawn max {on.hu_static[m].max():.0f} HU, bone-touched {on.bright[m].mean():.2f}, "
                      f"on a coronary label {bool((on.labels[m] > 0).any())}")
        print(f"patient {pid}: candidates without {int(c_off.max())}, with {int(c_on.max())}, new {len(new)}, "
              f"truth equal {on.truth == off.truth}", flush=True)
    print(f"all: candidates without {n_off}, with {n_on}; new by label {dict(new_by_label)}")


if __name__ == "__main__":
    main()
