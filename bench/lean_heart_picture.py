"""Picture: one phantom patient drawn as v21 and as v23 (a lean heart) beside LIDC-IDRI-0002, each at the level of a point a
third along its RCA (--vessel: another), cropped round it, W 400 / L 40, with the 24 mm box the candidate scorer reads drawn on
it and its fat / soft / air fractions in the title (issue 15, session 26).

    PYTHONPATH=src python bench/lean_heart_picture.py --seed 14962 --pid 2 --real /work/shared/data/lidc-idri-0002 OUT.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cacscore.io.ct import read_ct  # noqa: E402
from cacscore.phantom import make_patient  # noqa: E402
from cacscore.phantom.core import _draws  # noqa: E402
from cacscore.phantom.hybrid import _sampler, anchored_course  # noqa: E402

LANDMARKS = Path(__file__).resolve().parents[1] / "docs" / "hybrid_landmarks.json"
HALF_MM = 45.0


def box_fractions(sl: np.ndarray, iy: int, ix: int, px: float) -> str:
    h = int(round(12.0 / px))
    b = sl[max(iy - h, 0):iy + h + 1, max(ix - h, 0):ix + h + 1]
    fat, soft, air = ((b >= -200) & (b < -30)).mean(), ((b >= -30) & (b < 130)).mean(), (b < -400).mean()
    return f"24 mm box: fat {fat:.2f} soft {soft:.2f} air {air:.2f}"


def panel(ax, hu: np.ndarray, k: int, iy: int, ix: int, px: float, title: str) -> None:
    sl = hu[k].astype(np.float32)
    h = int(round(HALF_MM / px))
    crop = sl[max(iy - h, 0):iy + h, max(ix - h, 0):ix + h]
    ax.imshow(crop, cmap="gray", vmin=-160, vmax=240)
    b = 12.0 / px
    cy, cx = iy - max(iy - h, 0), ix - max(ix - h, 0)
    ax.add_patch(plt.Rectangle((cx - b, cy - b), 2 * b, 2 * b, fill=False, ec="yellow", lw=1))
    ax.plot([cx], [cy], "r+", ms=8)
    ax.set_title(f"{title}\n{box_fractions(sl, iy, ix, px)}", fontsize=8)
    ax.axis("off")


def phantom_point(p, seed: int, version: str, vessel: str, frac: float) -> tuple[int, int, int]:
    pts = _draws(p.pid, seed, 512, version=version)[0].vessels[vessel].points  # (x, y, z) patient mm
    q = pts[int(frac * (len(pts) - 1))]
    org, sp = np.array(p.origin_mm), np.array(p.spacing_mm)
    return (int(round((q[2] - org[2]) / sp[0])), int(round((q[1] - org[1]) / sp[1])), int(round((q[0] - org[0]) / sp[2])))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=14962)
    ap.add_argument("--pid", type=int, nargs="+", default=[2])
    ap.add_argument("--real", type=Path, required=True)
    ap.add_argument("--versions", nargs=2, default=["v21", "v23"])
    ap.add_argument("--vessel", default="RCA", choices=("LAD", "LCX", "RCA"))
    ap.add_argument("out", type=Path)
    a = ap.parse_args()
    fig, axes = plt.subplots(len(a.pid) + 1, 2, figsize=(7, 3.6 * (len(a.pid) + 1)))
    for row, pid in enumerate(a.pid):
        for col, v in enumerate(a.versions):
            p = make_patient(pid, seed=a.seed, size=512, version=v, lookalikes=False)
            k, iy, ix = phantom_point(p, a.seed, v, a.vessel, 0.33)
            lean = p.anatomy.epi_lean_mm
            panel(axes[row, col], p.hu, k, iy, ix, p.spacing_mm[1],
                  f"seed {a.seed} #{pid} {v}" + (f" (lean, {lean:.1f} mm fat)" if lean is not None else ""))
    vol = read_ct(a.real)
    sp = tuple(float(s) for s in vol.spacing_mm)
    lm = json.loads(LANDMARKS.read_text())[a.real.name]["courses"][a.vessel]
    pts = anchored_course(_sampler(vol.hu, sp), lm)
    for col, frac in enumerate((0.33, 0.6)):
        q = pts[int(frac * (len(pts) - 1))]
        k, iy, ix = (int(round(q[j] / sp[j])) for j in range(3))
        panel(axes[-1, col], vol.hu, k, iy, ix, sp[1], f"{a.real.name} {a.vessel} at {frac:.0%} of its course")
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print(a.out)


if __name__ == "__main__":
    main()
