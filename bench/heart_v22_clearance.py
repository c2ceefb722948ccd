"""How far each coronary centreline lies outside the myocardium of v20 (hard union of its ellipsoids) and of v22 (the
smooth union with the right ventricle, heart_v22.coronary_clearance), per vessel, on phantom patients (session 24,
wt32d; docs/phantom.md "(session 24, wt32d)"). Drawn only (no rendering): fast.

    PYTHONPATH=src python bench/heart_v22_clearance.py --seed 14952 --ids 1-20
"""
from __future__ import annotations

import argparse

import numpy as np

from cacscore.core.vessels import VESSELS
from cacscore.phantom import heart_v22
from cacscore.phantom.coronary import PERICARDIUM_OUT_MM, atria, left_atrial_body, v22_myo_shapes
from cacscore.phantom.core import _draws
from cacscore.phantom.anatomy import ventricle_shapes


def shapes_of(anat, vessels) -> list:
    """render_heart's outline shapes (centre, semi, frame rows)."""
    hc, ax, semi = anat.heart_c, anat.heart_axes, anat.heart_semi
    u_av = float(np.mean((vessels["LCX"].points[1:] - hc) @ ax[0]) / semi[0])
    shapes = [(c, sm, ax) for c, sm in (*ventricle_shapes(hc, ax, semi), *atria(anat, u_av))]
    body = left_atrial_body(anat)
    if body is not None:
        shapes.append((body[0], body[1], np.eye(3)))
    return shapes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--ids", default="1-20")
    a = ap.parse_args()
    lo, hi = (int(t) for t in a.ids.split("-"))
    res = {v: {n: [] for n in VESSELS} for v in ("v20", "v22")}
    for pid in range(lo, hi + 1):
        for ver in ("v20", "v22"):
            d, _ = _draws(pid, a.seed, 256, lookalikes=True, version=ver, p_mac=None,
                          prevalence=__import__("cacscore.phantom.coronary", fromlist=["Prevalence"]).Prevalence())
            anat, ves = d.anat, d.vessels
            shapes = shapes_of(anat, ves)
            for n in VESSELS:
                pts = ves[n].points
                if ver == "v20":  # v20's painted myocardium: the shapes and _paint_outline's thicker lateral wall
                    d_ = 0.5 * max(PERICARDIUM_OUT_MM - anat.epi_fat_lateral_mm, 0.0)
                    c0, sm0, a0 = shapes[0]
                    thick = [(c0 + d_ * a0[2], sm0 + np.array([0.0, d_, d_]), a0)] if d_ > 0 else []
                    c = heart_v22.hard_clearance(shapes + thick, anat.heart_floor_z, pts)
                else:
                    rv = (*heart_v22.rv_shape(anat.heart_c, anat.heart_axes, anat.heart_semi), anat.heart_axes)
                    c = heart_v22.coronary_clearance(v22_myo_shapes(shapes, rv, anat.epi_fat_lateral_mm),
                                                     anat.heart_floor_z, pts)
                res[ver][n].append(c - ves[n].radius)  # > 0: the lumen clear of the myocardium
    print("version,vessel,points,lumen_in_myocardium_share,clearance_p1_mm,clearance_p10_mm,clearance_median_mm")
    for ver in res:
        for n in VESSELS:
            c = np.concatenate(res[ver][n])
            print(f"{ver},{n},{len(c)},{np.mean(c < 0):.4f},{np.percentile(c, 1):.2f},{np.percentile(c, 10):.2f},"
                  f"{np.median(c):.2f}")


if __name__ == "__main__":
    main()
