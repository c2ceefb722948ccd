"""The phantom heart's widest axial slice with the body's midline, for 8 patients of one seed and anatomy version
(session 16, wt24c; docs/phantom.md, "Heart size and placement"): where the heart lies against the midline.

    PYTHONPATH=src python bench/heart_place_picture.py v13 OUT.png [--seed 12201] [--ids 1-8] [--size 256]

Drawn: the static image (W 400 / L 40), the pericardial sac's outline (yellow: heart, epicardial fat, pericardium,
coronaries), the heart label's outline (cyan), the sac's centroid (green x) and the body's midline (red: the median
column of the body, > -400 HU, on the sac's slices; bench/heart_size.py uses the same).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from heart_size import SAC_LABELS  # noqa: E402
from id_ranges import id_range  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    from cacscore.phantom import make_patient
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("version")
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=12201)
    ap.add_argument("--ids", default="1-8")
    ap.add_argument("--size", type=int, default=256)
    a = ap.parse_args(argv)
    ids = id_range(a.ids)
    fig, axs = plt.subplots(2, (len(ids) + 1) // 2, figsize=(2 * len(ids), 8), squeeze=False)
    for ax, pid in zip(axs.flat, ids):
        p = make_patient(pid, seed=a.seed, size=a.size, version=a.version, anatomy=True, lookalikes=False)
        lab, sp = p.anatomy_labels, p.spacing_mm
        sac = np.isin(lab, SAC_LABELS)
        widths = [np.ptp(np.nonzero(sac[k].any(0))[0]) if sac[k].any() else 0 for k in range(len(sac))]
        k = int(np.argmax(widths))
        ks = np.nonzero(sac.any((1, 2)))[0]
        mid = float(np.median(np.nonzero(p.hu[ks] > -400)[2])) * sp[2]
        ax.imshow(p.hu_static[k], cmap="gray", vmin=-160, vmax=240,
                  extent=(0, p.hu.shape[2] * sp[2], p.hu.shape[1] * sp[1], 0))
        yy, xx = np.arange(sac.shape[1]) * sp[1], np.arange(sac.shape[2]) * sp[2]
        ax.contour(xx, yy, sac[k].astype(float), levels=[0.5], colors="yellow", linewidths=0.8)
        ax.contour(xx, yy, (lab[k] == 5).astype(float), levels=[0.5], colors="cyan", linewidths=0.5)
        ax.axvline(mid, c="r", lw=0.8)
        cen = np.argwhere(sac).mean(0) * np.array(sp)
        ax.plot(cen[2], cen[1], "gx")
        ax.set_xlim(cen[2] - 130, cen[2] + 130)
        ax.set_ylim(cen[1] + 110, cen[1] - 110)
        ax.set_title(f"{a.version} seed {a.seed} p{pid} z {k * sp[0]:.0f} (widest); red = body midline", fontsize=8)
    fig.tight_layout()
    fig.savefig(a.out, dpi=65)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
