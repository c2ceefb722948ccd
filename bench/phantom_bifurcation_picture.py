"""One phantom patient round the left main's bifurcation: the written image and the calcium labels on three slabs.

    PYTHONPATH=src nice -n 10 python bench/phantom_bifurcation_picture.py --seed 61 --pid 1 \
        --out docs/pictures/phantom_v8_bifurcation.png

70 x 70 mm round the bifurcation (the LAD's / LCX's first centreline point, +), the slab through it and its two
neighbours; label outlines LCA yellow / LAD red / LCX green / RCA cyan, centreline points in the slab as dots.
docs/phantom.md, "Anatomy v8" (seed 61 patient 1 has an LCX plaque across the bifurcation).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cacscore.phantom.core import _draws, make_patient  # noqa: E402

COLOURS = {1: "yellow", 2: "red", 3: "lime", 4: "cyan"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=61)
    ap.add_argument("--pid", type=int, default=1)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    p = make_patient(a.pid, seed=a.seed, size=a.size)
    d = _draws(a.pid, a.seed, a.size)[0]
    b = d.vessels["LCX"].points[0]
    sp, o = np.array(p.spacing_mm), np.array(p.origin_mm)  # (z, y, x) mm; origin (x, y, z) mm
    k, j, i = (int(round((b[2] - o[2]) / sp[0])), int(round((b[1] - o[1]) / sp[1])), int(round((b[0] - o[0]) / sp[2])))
    h = int(35 / sp[1])
    ax_mm = np.linspace(-35, 35, 2 * h)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.6))
    for ax, kk in zip(axes, (k - 1, k, k + 1)):
        ax.imshow(p.hu[kk, j - h:j + h, i - h:i + h], cmap="gray", vmin=-200, vmax=400, extent=(-35, 35, 35, -35))
        for lab, c in COLOURS.items():
            m = p.labels[kk, j - h:j + h, i - h:i + h] == lab
            if m.any():
                ax.contour(ax_mm, ax_mm, m, levels=[0.5], colors=c, linewidths=0.8)
        for name, c in (("LCA", "yellow"), ("LAD", "red"), ("LCX", "lime")):
            q = d.vessels[name].points
            sel = np.abs(q[:, 2] - (o[2] + kk * sp[0])) < sp[0] / 2
            ax.plot(q[sel, 0] - b[0], q[sel, 1] - b[1], ".", ms=1.5, color=c)
        ax.plot(0, 0, "w+", ms=10)
        ax.set_title(f"slice {kk} (z {o[2] + kk * sp[0]:.0f} mm)", fontsize=9)
        ax.set_xlabel("x mm from the bifurcation (patient left ->)")
    lcx = [(s, q) for s, q in zip(d.specs, d.plaques) if s.vessel == "LCX"]
    what = ", ".join(f"{s.diameter_mm:.1f} x {s.length_mm:.1f} mm {s.hu:.0f} HU" for s, _ in lcx[:2])
    fig.suptitle(f"phantom {p.summary()['anatomy_version']}, seed {a.seed} patient {a.pid} ({p.slice_thickness_mm:g} mm, "
                 f"{a.size} px): written image W600/L100, 70 x 70 mm round the left main's bifurcation (+);\n"
                 f"label outlines LCA yellow / LAD red / LCX green; dots: centrelines in the slab. LCX plaques: {what}",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)


if __name__ == "__main__":
    main()
