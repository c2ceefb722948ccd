"""One calcium candidate of a real scan on consecutive axial slices, and on a coronal and a sagittal cut, with the
found pericardial mask and the found diaphragm surface, to read where it lies (session 18, wt26a: the contrast
series' last coronary calls; docs/lesion_scorer.md).

    PYTHONPATH=src python bench/call_slices.py /work/shared/data/lidc-idri-0003 --cand 5821 --slices -1 0 1 2 3 5 \
        --half-mm 45 --out AXIAL.png [--cuts CUTS.png --cuts-half-mm 80]

--cand: the candidate id of ``classify_volume`` with the shipped model (bench/lidc_call_anatomy.py's calls.csv
``cand``). Axial slices at the candidate's centroid slice + each --slices offset (window -250..450 HU): cyan the
pericardial mask on that slice, yellow the boundary of the columns whose found diaphragm surface lies above the
slice, the candidate's voxels orange, its centroid a red +. --cuts: a coronal and a sagittal cut through the centroid
(window -200..500 HU) with the mask (cyan) and the diaphragm surface (yellow line). Slices are named 1-based from
the feet, as ``cacscore predict --report`` names them; only the folder name identifies a series.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from cacscore.core.fileio import atomic_savefig
from cacscore.io.ct import read_ct
from cacscore.lesion.classifier import classify_volume, load_model
from cacscore.predict.predictors import DEFAULT_MODEL


def axial(hu, sp, an, vox, offsets, half_mm, title, out: Path) -> None:
    c = vox.mean(0)
    z0 = int(round(c[0]))
    h = int(half_mm / sp[1])
    ys = slice(max(int(c[1]) - h, 0), int(c[1]) + h)
    xs = slice(max(int(c[2]) - h, 0), int(c[2]) + h)
    ext = (xs.start * sp[2], xs.stop * sp[2], ys.stop * sp[1], ys.start * sp[1])
    gm = an.grid_mm
    nc = (len(offsets) + 1) // 2
    fig, axs = plt.subplots(2, nc, figsize=(4.6 * nc, 9.4))
    for ax in axs.ravel()[len(offsets):]:
        ax.axis("off")
    for ax, dk in zip(axs.ravel(), offsets):
        z = z0 + dk
        ax.imshow(hu[z, ys, xs], cmap="gray", vmin=-250, vmax=450, extent=ext)
        per = an.pericardium[int(round(z * sp[0] / gm[0]))]
        if per.any():
            ax.contour(np.arange(per.shape[1]) * gm[2], np.arange(per.shape[0]) * gm[1], per.astype(float), [0.5],
                       colors="c", linewidths=0.7)
        above = an.diaphragm_mm > z * sp[0]
        if above.any() and not above.all():
            ax.contour(np.arange(above.shape[1]) * gm[2], np.arange(above.shape[0]) * gm[1], above.astype(float),
                       [0.5], colors="y", linewidths=0.6)
        m = vox[vox[:, 0] == z]
        if len(m):
            ax.plot(m[:, 2] * sp[2], m[:, 1] * sp[1], ".", color="orange", ms=2)
        ax.plot(c[2] * sp[2], c[1] * sp[1], "+", color="r", ms=18, mew=0.5)
        ax.set_xlim(ext[0], ext[1])
        ax.set_ylim(ext[2], ext[3])
        ax.set_title(f"slice {z + 1} of {hu.shape[0]} (z {z * sp[0]:.1f} mm)", fontsize=8)
        ax.tick_params(labelsize=6)
    fig.suptitle(f"{title}: axial, W700/L100 (mm); cyan pericardial mask; yellow: edge of the columns whose found "
                 "diaphragm surface lies above this slice; orange the candidate, red + its centroid", fontsize=8)
    fig.tight_layout()
    atomic_savefig(fig, out, dpi=85)
    plt.close(fig)


def cuts(hu, sp, an, vox, half_mm, title, out: Path) -> None:
    c = vox.mean(0)
    z, y, x = (int(round(v)) for v in c)
    hy, hz = int(half_mm / sp[1]), int(half_mm / sp[0])
    zs = slice(max(z - hz, 0), min(z + hz, hu.shape[0]))
    ys, xs = slice(max(y - hy, 0), y + hy), slice(max(x - hy, 0), x + hy)
    gm = an.grid_mm
    ky, kx = int(round(y * sp[1] / gm[1])), int(round(x * sp[2] / gm[2]))
    fig, axs = plt.subplots(1, 2, figsize=(14, 7))
    views = [(hu[zs, y, xs], an.pericardium[:, ky], gm[2], an.diaphragm_mm[ky], (xs.start * sp[2], xs.stop * sp[2]),
              c[2] * sp[2], f"coronal y {y * sp[1]:.0f} mm"),
             (hu[zs, ys, x], an.pericardium[:, :, kx], gm[1], an.diaphragm_mm[:, kx],
              (ys.start * sp[1], ys.stop * sp[1]), c[1] * sp[1], f"sagittal x {x * sp[2]:.0f} mm (anterior left)")]
    for ax, (img, per, step, dia, ext, cc, label) in zip(axs, views):
        ax.imshow(img, cmap="gray", vmin=-200, vmax=500, extent=(ext[0], ext[1], zs.stop * sp[0], zs.start * sp[0]),
                  aspect="equal")
        ax.contour(np.arange(per.shape[1]) * step, np.arange(per.shape[0]) * gm[0], per.astype(float), [0.5],
                   colors="c", linewidths=0.8)
        ax.plot(np.arange(len(dia)) * step, dia, "y-", lw=0.8)
        ax.plot(cc, c[0] * sp[0], "r+", ms=20, mew=0.8)
        ax.set_xlim(*ext)
        ax.set_ylim(zs.start * sp[0], zs.stop * sp[0])
        ax.set_title(label, fontsize=9)
    fig.suptitle(f"{title}; W700 L150; cyan pericardial mask; yellow found diaphragm surface; red + the candidate; "
                 "z (mm) up", fontsize=9)
    fig.tight_layout()
    atomic_savefig(fig, out, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("series", type=Path)
    ap.add_argument("--cand", type=int, required=True)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--slices", type=int, nargs="+", default=[-2, -1, 0, 1, 2, 3])
    ap.add_argument("--half-mm", type=float, default=45.0)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--cuts", type=Path, default=None)
    ap.add_argument("--cuts-half-mm", type=float, default=80.0)
    a = ap.parse_args(argv)
    vol = read_ct(a.series)
    sp = tuple(abs(float(v)) for v in vol.spacing_mm)
    cand, _ = classify_volume(vol.hu, sp, load_model(a.model))
    vox = np.argwhere(cand.ids == a.cand)
    if not len(vox):
        raise SystemExit(f"{a.series.name}: no candidate {a.cand}")
    title = f"{a.series.name} candidate {a.cand}"
    axial(vol.hu, sp, cand.anatomy, vox, a.slices, a.half_mm, title, a.out)
    if a.cuts:
        cuts(vol.hu, sp, cand.anatomy, vox, a.cuts_half_mm, title, a.cuts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
