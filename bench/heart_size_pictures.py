"""Axial slices through the heart of a real LIDC series with a 10 mm grid in the volume frame (z, y, x mm from voxel 0),
for placing the heart's outline, apex and mitral annulus by eye (docs/heart_size_landmarks.json) and checking them
(session 16, wt24c; bench/heart_size.py reads the points).

    PYTHONPATH=src python bench/heart_size_pictures.py lidc-idri-0002 OUT.png [--z 100,110,...] [--zoom 2]

Drawn: read_chest's pericardial mask (yellow contour), the heart finder's centre (red +, on its slice and the slices
within 5 mm), the mask's centroid (cyan x), the hybrid LCX / LAD course anchors within 3 mm of the slice (red / blue
dots, docs/hybrid_landmarks.json) and, once recorded, the eye-placed points of docs/heart_size_landmarks.json (green).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs"


def main(argv: list[str] | None = None) -> int:
    from cacscore.chest.anatomy import read_chest
    from cacscore.chest.heart import locate_heart
    from cacscore.io.ct import read_ct
    from cacscore.lesion.anatomy import sac_centroid_mm
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("series")
    ap.add_argument("out", type=Path)
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--z", default="", help="comma-separated slice heights (mm); default every 10 mm over the mask")
    ap.add_argument("--half", type=float, default=100.0, help="half-width of each panel (mm) round the finder's centre")
    ap.add_argument("--cols", type=int, default=4)
    ap.add_argument("--dpi", type=int, default=75)
    ap.add_argument("--centre", default="", help="x,y (mm) of the panels' centre; default the finder's centre")
    a = ap.parse_args(argv)
    v = read_ct(a.data / a.series)
    hu, sp = v.hu, np.array(v.spacing_mm, float)
    anat = read_chest(hu, tuple(sp))
    found = np.array(locate_heart(hu, tuple(sp)).index) * sp
    cen = sac_centroid_mm(anat)
    gm = anat.grid_mm
    peri = anat.pericardium
    kz = np.nonzero(peri.any((1, 2)))[0]
    if a.z:
        zs = [float(z) for z in a.z.split(",")]
    else:
        zs = list(np.arange(np.ceil(kz[0] * gm[0] / 10) * 10, kz[-1] * gm[0] + 1, 10.0))
    hyb = json.loads((DOCS / "hybrid_landmarks.json").read_text())[a.series]["courses"]
    lmf = DOCS / "heart_size_landmarks.json"
    lm = json.loads(lmf.read_text()).get(a.series, {}) if lmf.exists() else {}
    pts = []  # (z, y, x, name) eye points
    if lm:
        w = lm["widest"]
        pts += [(w["z"], w["y_front"], (w["x_left"] + w["x_right"]) / 2, "front"),
                (w["z"], w["y_back"], (w["x_left"] + w["x_right"]) / 2, "back"),
                (w["z"], (w["y_front"] + w["y_back"]) / 2, w["x_right"], "right"),
                (w["z"], (w["y_front"] + w["y_back"]) / 2, w["x_left"], "left"),
                (*lm["apex"], "apex"), (*lm["mitral_centre"], "MA")]
    wl = (150, 700) if a.series in ("lidc-idri-0001", "lidc-idri-0003") else (40, 400)
    n = len(zs)
    rows = int(np.ceil(n / a.cols))
    fig, axs = plt.subplots(rows, a.cols, figsize=(4.2 * a.cols, 4.2 * rows), squeeze=False)
    for i, ax in enumerate(axs.flat):
        if i >= n:
            ax.axis("off")
            continue
        z = zs[i]
        k = int(round(z / sp[0]))
        ext = (-0.5 * sp[2], (hu.shape[2] - 0.5) * sp[2], (hu.shape[1] - 0.5) * sp[1], -0.5 * sp[1])
        ax.imshow(hu[k], cmap="gray", vmin=wl[0] - wl[1] / 2, vmax=wl[0] + wl[1] / 2, extent=ext)
        kc = int(round(z / gm[0]))
        if 0 <= kc < peri.shape[0] and peri[kc].any():
            yy = np.arange(peri.shape[1]) * gm[1]
            xx = np.arange(peri.shape[2]) * gm[2]
            ax.contour(xx, yy, peri[kc].astype(float), levels=[0.5], colors="yellow", linewidths=0.8)
        if abs(found[0] - z) <= 5:
            ax.plot(found[2], found[1], "r+", ms=14, mew=2)
        if abs(cen[0] - z) <= 5:
            ax.plot(cen[2], cen[1], "cx", ms=12, mew=2)
        for name, col in (("LCX", "red"), ("LAD", "deepskyblue")):
            for p in hyb[name]:
                if abs(p[0] - z) <= 3:
                    ax.plot(p[2], p[1], "o", c=col, ms=4)
        for p in pts:
            if abs(p[0] - z) <= 2.5:
                ax.plot(p[2], p[1], "o", mfc="none", mec="lime", ms=9, mew=1.5)
                ax.text(p[2] + 3, p[1] - 3, p[3], color="lime", fontsize=7)
        cx, cy = (found[2], found[1]) if not a.centre else (float(c) for c in a.centre.split(","))
        x0, x1 = np.floor((cx - a.half) / 10) * 10, np.ceil((cx + a.half) / 10) * 10
        y0, y1 = np.floor((cy - a.half) / 10) * 10, np.ceil((cy + a.half * 0.8) / 10) * 10
        ax.set_xlim(x0, x1)
        ax.set_ylim(y1, y0)
        ax.set_xticks(np.arange(x0, x1 + 1, 20))
        ax.set_yticks(np.arange(y0, y1 + 1, 20))
        ax.set_xticks(np.arange(x0, x1 + 1, 10), minor=True)
        ax.set_yticks(np.arange(y0, y1 + 1, 10), minor=True)
        ax.grid(True, which="both", color="orange", lw=0.3, alpha=0.6)
        ax.tick_params(labelsize=6)
        ax.set_title(f"{a.series} z {z:.1f} mm (x: patient left ->)", fontsize=8)
    fig.tight_layout()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out, dpi=a.dpi)
    print(f"found {found.round(1)}  mask centroid {cen.round(1)}  mask z {kz[0] * gm[0]:.0f}-{kz[-1] * gm[0]:.0f} mm  "
          f"spacing {sp}  shape {hu.shape}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
