"""Picture: a point of a real series in axial, coronal and sagittal views (W 400 / L 40 and W 1500 / L 300), with the
eye-anchored hybrid course points of one vessel within 15 mm of the view planes (docs/hybrid_landmarks.json), to read
what a small calcium candidate lies on (session 26: the 3.9 AU speck of LIDC-IDRI-0002 that every retrain calls LCX).

    PYTHONPATH=src python bench/speck_views.py /work/shared/data/lidc-idri-0002 --point 130 172 214 --vessel LCX OUT.png
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
from cacscore.phantom.hybrid import _sampler, anchored_course  # noqa: E402

LANDMARKS = Path(__file__).resolve().parents[1] / "docs" / "hybrid_landmarks.json"
HALF_MM = 40.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("series", type=Path)
    ap.add_argument("--point", type=float, nargs=3, required=True, help="(z, y, x) mm from voxel 0")
    ap.add_argument("--vessel", default="LCX")
    ap.add_argument("out", type=Path)
    a = ap.parse_args()
    vol = read_ct(a.series)
    hu, sp = vol.hu, np.array([float(s) for s in vol.spacing_mm])
    course = anchored_course(_sampler(hu, tuple(sp)), json.loads(LANDMARKS.read_text())[a.series.name]["courses"][a.vessel])
    p = np.array(a.point)
    k = np.rint(p / sp).astype(int)
    views = {  # name: (image, row axis, column axis)
        "axial": (hu[k[0]], 1, 2), "coronal": (hu[:, k[1]][::-1], 0, 2), "sagittal": (hu[:, :, k[2]][::-1], 0, 1)}
    fig, axes = plt.subplots(2, 3, figsize=(12, 8))
    for c, (name, (img, ra, ca)) in enumerate(views.items()):
        drop = ({0, 1, 2} - {ra, ca}).pop()
        near = np.abs(course[:, drop] - p[drop]) < 15.0
        for r, (w, lv) in enumerate(((400, 40), (1500, 300))):
            ax = axes[r, c]
            flip = ra == 0  # z up in the coronal and sagittal views
            rows = img.shape[0]
            ext = [0, img.shape[1] * sp[ca], 0, rows * sp[ra]] if flip else [0, img.shape[1] * sp[ca], rows * sp[ra], 0]
            ax.imshow(img, cmap="gray", vmin=lv - w / 2, vmax=lv + w / 2, extent=ext, aspect="equal")
            ax.plot(course[near, ca], course[near, ra], "y.", ms=3, label=f"{a.vessel} course (eye anchors)")
            ax.plot([p[ca]], [p[ra]], "r+", ms=12)
            ax.set_xlim(p[ca] - HALF_MM, p[ca] + HALF_MM)
            ax.set_ylim((p[ra] - HALF_MM, p[ra] + HALF_MM) if flip else (p[ra] + HALF_MM, p[ra] - HALF_MM))
            ax.set_title(f"{name} W {w} / L {lv}", fontsize=9)
    axes[0, 0].legend(fontsize=7, loc="lower left")
    d = np.linalg.norm(course - p, axis=1).min()
    fig.suptitle(f"{a.series.name}: point (z, y, x) = {tuple(a.point)} mm; nearest {a.vessel} course point {d:.1f} mm")
    fig.tight_layout()
    fig.savefig(a.out, dpi=90)
    print(a.out, f"nearest course point {d:.1f} mm")


if __name__ == "__main__":
    main()
