"""Picture: where the LCX runs: axial slices at 20 / 50 / 80 % of its course, one row per phantom patient and, with
``--real``, one per real series (its eye-anchored course, docs/hybrid_landmarks.json, as the hybrids place plaques);
the course's points in that slab in yellow, the point a red cross; W 400 / L 40 (issue 15, sessions 26-27). With
``--crop`` the 24 mm box the candidate scorer reads is drawn round the point and its air / fat fractions
(lesion.candidates._tissue_context, on the image a scorer sees) are in the title.

Seen on v11 (docs/pictures/s26_lcx_course_v11.png): from a fifth of its length on the LCX lies in the crease between
the ventricle and the left atrium's body at the back of the heart, not at the heart's left border beside the lung,
where the real LCX of LIDC-IDRI-0002 runs. v24 (docs/pictures/s27_lcx_v24_vs_real.png) widens the left ventricle's
base and runs the LCX on the heart's outline there.

    PYTHONPATH=src python bench/lcx_course_picture.py OUT.png --version v11 --seed 14962 --pid 2 5
    PYTHONPATH=src python bench/lcx_course_picture.py OUT.png --version v24 --pid 3 7 --crop 80 \\
        --real /work/shared/data/lidc-idri-0002
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
from cacscore.lesion.candidates import _tissue_context  # noqa: E402
from cacscore.phantom import make_patient  # noqa: E402
from cacscore.phantom.core import _draws  # noqa: E402
from cacscore.phantom.hybrid import _sampler, anchored_course  # noqa: E402

FRACTIONS = (0.2, 0.5, 0.8)
LANDMARKS = Path(__file__).resolve().parents[1] / "docs" / "hybrid_landmarks.json"


def phantom_row(pid: int, a: argparse.Namespace) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    """(label, hu (z, y, x), spacing (z, y, x) mm, LCX course (n, 3) as (z, y, x) mm from voxel 0)."""
    p = make_patient(pid, seed=a.seed, size=512, version=a.version, lookalikes=False)
    pts = _draws(pid, a.seed, 512, version=a.version)[0].vessels["LCX"].points  # (x, y, z) patient mm
    org, sp = np.array(p.origin_mm), np.array(p.spacing_mm)
    zyx = (pts - org)[:, ::-1]  # origin_mm and the points are (x, y, z)
    return f"seed {a.seed} #{pid} {a.version}", p.hu, sp, zyx


def real_row(series: Path) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    vol = read_ct(series)
    sp = np.array([float(s) for s in vol.spacing_mm])
    anchors = json.loads(LANDMARKS.read_text())[series.name]["courses"]["LCX"]
    return series.name, vol.hu, sp, anchored_course(_sampler(vol.hu, tuple(sp)), anchors)


def draw(ax, label: str, hu: np.ndarray, sp: np.ndarray, zyx: np.ndarray, frac: float, crop: float) -> None:
    q = zyx[int(frac * (len(zyx) - 1))]
    k = int(round(q[0] / sp[0]))
    ax.imshow(hu[k], cmap="gray", vmin=-160, vmax=240)
    on = np.abs(zyx[:, 0] / sp[0] - k) < 0.5
    ax.plot(zyx[on, 2] / sp[2], zyx[on, 1] / sp[1], "y.", ms=2)
    cx, cy = q[2] / sp[2], q[1] / sp[1]
    ax.plot([cx], [cy], "r+", ms=10)
    title = f"{label}: LCX {frac:.0%}, slice {k}"
    if crop > 0:
        h, b = 0.5 * crop / sp[2], 12.0 / sp[2]
        ax.set_xlim(cx - h, cx + h)
        ax.set_ylim(cy + h, cy - h)
        ax.add_patch(plt.Rectangle((cx - b, cy - b), 2 * b, 2 * b, fill=False, ec="yellow", lw=1))
        ctx = _tissue_context(hu, {"cz": np.array([q[0] / sp[0]]), "cy": np.array([q[1] / sp[1]]),
                                   "cx": np.array([q[2] / sp[2]])}, tuple(sp))
        title += f"\n24 mm box: air {float(ctx['air_24mm'][0]):.2f} fat {float(ctx['fat_24mm'][0]):.2f}"
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--version", default="v11")
    ap.add_argument("--seed", type=int, default=14962)
    ap.add_argument("--pid", type=int, nargs="+", default=[2, 5])
    ap.add_argument("--real", type=Path, nargs="*", default=[], help="real series (named in hybrid_landmarks.json)")
    ap.add_argument("--crop", type=float, default=0.0, help="show only this many mm round the point (0: the slice)")
    a = ap.parse_args()
    rows = [phantom_row(pid, a) for pid in a.pid] + [real_row(s) for s in a.real]
    fig, axes = plt.subplots(len(rows), len(FRACTIONS), figsize=(12, 4 * len(rows)), squeeze=False)
    for r, row in enumerate(rows):
        for c, frac in enumerate(FRACTIONS):
            draw(axes[r, c], *row, frac, a.crop)
    fig.tight_layout()
    fig.savefig(a.out, dpi=80)
    print(a.out)


if __name__ == "__main__":
    main()
