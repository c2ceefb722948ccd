"""Coronal (and one sagittal) reformats of a real LIDC series through the heart and the diaphragm domes, with a 10 mm
grid in the volume frame (z, y, x mm from voxel 0; z up, x to the patient's left), for placing the domes' tops and the
heart's lowest point by eye (docs/dome_landmarks.json; session 17, wt25d) and checking them.

    PYTHONPATH=src python bench/dome_pictures.py lidc-idri-0001 OUT.png [--ys 150,170,...]

Drawn: read_chest's pericardial mask (yellow contour, on each coronal plane), its centroid's height (cyan dashed
line), the hybrid aortic root's height (magenta dashed, docs/hybrid_landmarks.json), the LV apex's height (green
dotted, docs/heart_size_landmarks.json) and, once recorded, the eye-placed points of docs/dome_landmarks.json (lime
circles: R = right dome top, L = left dome top, H = the heart's lowest point) on the plane nearest their y.
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
    from cacscore.io.ct import read_ct
    from cacscore.lesion.anatomy import sac_centroid_mm
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("series")
    ap.add_argument("out", type=Path)
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--ys", default="", help="comma-separated coronal planes (y mm); default centroid -40..+40 by 20")
    ap.add_argument("--cols", type=int, default=3)
    ap.add_argument("--dpi", type=int, default=80)
    ap.add_argument("--xlim", default="", help="x0,x1 (mm) of the coronal panels; default the whole width")
    ap.add_argument("--zlim", default="", help="z0,z1 (mm); default the mask centroid -110..+80")
    a = ap.parse_args(argv)
    v = read_ct(a.data / a.series)
    hu, sp = v.hu, np.array(v.spacing_mm, float)
    anat = read_chest(hu, tuple(sp))
    cen = sac_centroid_mm(anat)
    gm, peri = anat.grid_mm, anat.pericardium
    ys = [float(y) for y in a.ys.split(",")] if a.ys else [float(cen[1] + d) for d in (-40, -20, 0, 20, 40)]
    hyb = json.loads((DOCS / "hybrid_landmarks.json").read_text())[a.series]
    hs = json.loads((DOCS / "heart_size_landmarks.json").read_text())[a.series]
    lmf = DOCS / "dome_landmarks.json"
    lm = json.loads(lmf.read_text()).get(a.series, {}) if lmf.exists() else {}
    pts = [(lm[k], n) for k, n in (("right_dome_top", "R"), ("left_dome_top", "L"), ("heart_lowest", "H"))
           if k in lm]
    wl = (100, 600) if a.series in ("lidc-idri-0001", "lidc-idri-0003") else (40, 500)
    n = len(ys) + 1
    rows = int(np.ceil(n / a.cols))
    fig, axs = plt.subplots(rows, a.cols, figsize=(5.2 * a.cols, 4.6 * rows), squeeze=False)
    z0, z1 = (float(t) for t in a.zlim.split(",")) if a.zlim else (cen[0] - 110, cen[0] + 80)
    for i, ax in enumerate(axs.flat):
        if i >= n:
            ax.axis("off")
            continue
        if i < len(ys):  # coronal plane at y
            y = ys[i]
            j = int(np.clip(round(y / sp[1]), 0, hu.shape[1] - 1))
            img = hu[:, j, :]
            ext = (-0.5 * sp[2], (hu.shape[2] - 0.5) * sp[2], -0.5 * sp[0], (hu.shape[0] - 0.5) * sp[0])
            jc = int(round(y / gm[1]))
            if 0 <= jc < peri.shape[1] and peri[:, jc].any():
                zz, xx = np.arange(peri.shape[0]) * gm[0], np.arange(peri.shape[2]) * gm[2]
                ax.contour(xx, zz, peri[:, jc].astype(float), levels=[0.5], colors="yellow", linewidths=0.8)
            for p, name in pts:
                if abs(p[1] - y) <= 10:
                    ax.plot(p[2], p[0], "o", mfc="none", mec="lime", ms=10, mew=1.8)
                    ax.text(p[2] + 4, p[0] + 4, name, color="lime", fontsize=9, weight="bold")
            xlim = tuple(float(t) for t in a.xlim.split(",")) if a.xlim else (0, hu.shape[2] * sp[2])
            title = f"{a.series} coronal y {y:.0f} mm (x: patient left ->)"
        else:  # sagittal through the centroid
            k = int(round(cen[2] / sp[2]))
            img = hu[:, :, k]
            ext = (-0.5 * sp[1], (hu.shape[1] - 0.5) * sp[1], -0.5 * sp[0], (hu.shape[0] - 0.5) * sp[0])
            title, xlim = f"sagittal x {cen[2]:.0f} mm (y: posterior ->)", (0, hu.shape[1] * sp[1])
        ax.imshow(img, cmap="gray", vmin=wl[0] - wl[1] / 2, vmax=wl[0] + wl[1] / 2, extent=ext, origin="lower",
                  aspect="auto")
        for zl, col, ls in ((cen[0], "cyan", "--"), (hyb["aortic_root"][0], "magenta", "--"),
                            (hs["apex"][0], "lime", ":")):
            ax.axhline(zl, color=col, ls=ls, lw=0.8)
        ax.set_xlim(*xlim)
        ax.set_ylim(z0, z1)
        ax.set_aspect("equal")
        ax.set_yticks(np.arange(np.floor(z0 / 20) * 20, z1, 20))
        ax.set_yticks(np.arange(np.floor(z0 / 10) * 10, z1, 10), minor=True)
        ax.set_xticks(np.arange(np.floor(xlim[0] / 20) * 20, xlim[1], 20))
        ax.set_xticks(np.arange(np.floor(xlim[0] / 10) * 10, xlim[1], 10), minor=True)
        ax.grid(True, which="both", color="orange", lw=0.3, alpha=0.5)
        ax.tick_params(labelsize=6)
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out, dpi=a.dpi)
    print(f"{a.series}: mask centroid {cen.round(1)}  aortic root {hyb['aortic_root']}  apex {hs['apex']}  "
          f"spacing {sp}  shape {hu.shape}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
