"""Where the phantom's left coronary branches run as anatomy v12's heart pose and bifurcation ranges change (session 15,
wt23a; choosing v12's ranges): no rendering, only the draws (core._draws at 64 px, no look-alikes).

    PYTHONPATH=src python bench/heart_rotation_sweep.py --seed 10101 --patients 20 --specs 27,60/20,45/30,50 ...

A spec is "az0,az1/el0,el1/phib0,phib1" (anatomy.V12_HEART azimuth / elevation, coronary.V12_PHI_B; patched for the
run; 27,60/20,45/30,50 draws v11's coronary courses). Per spec: the median over patients of (i) the proximal LCX (arc
5-35 mm, where the LIDC hybrids' LCX plaques lie: course position 3-45 mm) minus the left main's midpoint, (ii) the LAD
(arc 20-90 mm) minus the same, in patient mm (dx left, dy posterior, dz superior), to set against the real hybrids'
LCX-minus-LCA plaque medians (bench/lcx_frame_position.py, found-heart frame: the offset cancels), and (iii) the LCX
and LAD plaque centres from the drawn heart centre."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from cacscore.phantom import anatomy as A
from cacscore.phantom import coronary as C
from cacscore.phantom import core


def arc_mean(v, lo: float, hi: float) -> np.ndarray:
    arc = v.arc_mm()
    m = (arc >= lo) & (arc < hi)
    return v.points[m].mean(axis=0) if m.any() else v.points[-1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=10101)
    ap.add_argument("--patients", type=int, default=20)
    ap.add_argument("--specs", nargs="+", default=["27,60/20,45/30,50"])
    a = ap.parse_args(argv)
    rows = []
    keep, keep_phi = dict(A.V12_HEART), C.V12_PHI_B
    try:
        for spec in a.specs:
            az, el, phib = (tuple(float(x) for x in part.split(",")) for part in spec.split("/"))
            A.V12_HEART.update(azimuth_deg=az, elevation_deg=el)
            C.V12_PHI_B = phib
            for pid in range(1, a.patients + 1):
                d, _ = core._draws(pid, a.seed, 64, lookalikes=False, version="v12")
                lca = d.vessels["LCA"].points[len(d.vessels["LCA"].points) // 2]
                for name, lo, hi in (("LCX", 5, 35), ("LAD", 20, 90)):
                    r = arc_mean(d.vessels[name], lo, hi) - lca
                    rows.append({"spec": spec, "what": f"{name}-LCA", "dx": r[0], "dy": r[1], "dz": r[2]})
                for p in d.plaques:
                    if p.vessel in ("LCX", "LAD"):
                        r = p.centre - d.anat.heart_c
                        rows.append({"spec": spec, "what": f"{p.vessel} plaque-centre", "dx": r[0], "dy": r[1], "dz": r[2]})
    finally:
        A.V12_HEART.update(keep)
        C.V12_PHI_B = keep_phi
    d = pd.DataFrame(rows)
    print(d.groupby(["what", "spec"], sort=True)[["dx", "dy", "dz"]].median().round(1).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
