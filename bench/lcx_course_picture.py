"""Picture: where the phantom's LCX runs: whole axial slices of phantom patients at 20 / 50 / 80 % of the LCX's
course (the course's points in that slab in yellow, the point itself a red cross; W 400 / L 40) (issue 15, session 26).
Seen on v11 (docs/pictures/s26_lcx_course_v11.png): from a fifth of its length on the LCX lies in the crease between
the ventricle and the left atrium's body at the back of the heart, not at the heart's left border beside the lung,
where the real LCX of LIDC-IDRI-0002 runs (docs/pictures/s26_lcx_box.png).

    PYTHONPATH=src python bench/lcx_course_picture.py OUT.png --version v11 --seed 14962 --pid 2 5
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cacscore.phantom import make_patient  # noqa: E402
from cacscore.phantom.core import _draws  # noqa: E402

FRACTIONS = (0.2, 0.5, 0.8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--version", default="v11")
    ap.add_argument("--seed", type=int, default=14962)
    ap.add_argument("--pid", type=int, nargs="+", default=[2, 5])
    ap.add_argument("--crop", type=float, default=0.0, help="show only this many mm round the point (0: the slice)")
    a = ap.parse_args()
    fig, axes = plt.subplots(len(a.pid), len(FRACTIONS), figsize=(12, 4 * len(a.pid)), squeeze=False)
    for r, pid in enumerate(a.pid):
        p = make_patient(pid, seed=a.seed, size=512, version=a.version, lookalikes=False)
        pts = _draws(pid, a.seed, 512, version=a.version)[0].vessels["LCX"].points  # (x, y, z) patient mm
        org, sp = np.array(p.origin_mm), np.array(p.spacing_mm)
        for c, frac in enumerate(FRACTIONS):
            q = pts[int(frac * (len(pts) - 1))]
            k = int(round((q[2] - org[2]) / sp[0]))
            ax = axes[r, c]
            ax.imshow(p.hu_static[k], cmap="gray", vmin=-160, vmax=240)
            on = np.abs((pts[:, 2] - org[2]) / sp[0] - k) < 0.5
            ax.plot((pts[on, 0] - org[0]) / sp[2], (pts[on, 1] - org[1]) / sp[1], "y.", ms=2)
            ax.plot([(q[0] - org[0]) / sp[2]], [(q[1] - org[1]) / sp[1]], "r+", ms=10)
            if a.crop > 0:
                cx, cy, h = (q[0] - org[0]) / sp[2], (q[1] - org[1]) / sp[1], 0.5 * a.crop / sp[2]
                ax.set_xlim(cx - h, cx + h)
                ax.set_ylim(cy + h, cy - h)
            ax.set_title(f"seed {a.seed} #{pid} {a.version}: LCX {frac:.0%}, slice {k}")
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(a.out, dpi=80)
    print(a.out)


if __name__ == "__main__":
    main()
