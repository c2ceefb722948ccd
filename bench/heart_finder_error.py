"""Centre error (mm) of cacscore.chest.heart.find_heart on phantom patients.

Baseline: the volume centre (the paper's depth window centre), measured on the same patients.
Usage: .venv/bin/python bench/heart_finder_error.py [--patients 10] [--size 128] [--seed 0]
"""

from __future__ import annotations

import argparse

import numpy as np

from cacscore.phantom import make_patient
from cacscore.chest.heart import find_heart


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=10)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    errs, z_errs, base_z = [], [], []
    for pid in range(1, args.patients + 1):
        p = make_patient(pid, seed=args.seed, size=args.size)
        sp = np.asarray(p.spacing_mm)
        found = np.asarray(find_heart(p.hu, p.spacing_mm), float)
        truth = np.asarray(p.heart_centre_index)
        d = (found - truth) * sp
        errs.append(float(np.linalg.norm(d)))
        z_errs.append(abs(float(d[0])))
        base_z.append(abs((p.hu.shape[0] / 2 - 0.5 - truth[0]) * sp[0]))
        print(f"patient {pid}: slices {p.hu.shape[0]}, error (z, y, x) mm {np.round(d, 1)}, |3-D| {errs[-1]:.1f} mm, "
              f"volume centre z error {base_z[-1]:.1f} mm")
    print(f"find_heart 3-D error: median {np.median(errs):.1f} mm, max {np.max(errs):.1f} mm; "
          f"z error median {np.median(z_errs):.1f} mm, max {np.max(z_errs):.1f} mm")
    print(f"baseline volume centre z error: median {np.median(base_z):.1f} mm, max {np.max(base_z):.1f} mm")


if __name__ == "__main__":
    main()
