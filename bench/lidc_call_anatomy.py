"""Every coronary call of the shipped model (or --model) on REAL scans, each drawn in three planes with the chest
anatomy the rules read: the found pericardial mask (cyan), the diaphragm surface under each column (yellow line, on
the coronal and sagittal cuts) and the heart's floor (``cacscore.chest.anatomy._heart_floor``: dashed magenta), to
read whether a call lies in the heart's grooves, in a chamber or vessel lumen, or under the heart (liver, IVC).

    PYTHONPATH=src python bench/lidc_call_anatomy.py /work/shared/data/lidc-idri-0003 ... --out DIR [--model DIR]

Per call: DIR/<series>_<rank>_<candidate>.png (axial slice, coronal and sagittal cuts through its centroid, 120 mm
crops, soft-tissue window; the call's voxels in its vessel's colour, other candidates' outlines purple); and
DIR/calls.csv (vessel, AU, peak HU, its 3-D structure's volume and peak, centroid mm, the anatomy columns the rules
read, the mask's lowest slice and the heart floor under the call). Whatever code is on PYTHONPATH classifies: run it
with an older tree's src for "before". No identifier from the DICOM header is shown (the folder name only).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import ndimage

from cacscore.chest.anatomy import _heart_floor
from cacscore.core.fileio import atomic_savefig
from cacscore.core.vessels import VESSELS
from cacscore.io.ct import read_ct
from cacscore.lesion.anatomy import ANATOMY_NAMES
from cacscore.lesion.classifier import classify_volume, load_model
from cacscore.lesion.report import NON_CORONARY_COLOUR, VESSEL_COLOURS, WINDOW_HU
from cacscore.predict.predictors import DEFAULT_MODEL

HALF_MM = 60.0


def floor_map(anatomy) -> np.ndarray | None:
    """(y, x) coarse heart floor (mm) as the pericardium finder drew it (midline: the body's median column)."""
    bx = np.nonzero(anatomy.body)[2]
    midline = float(np.median(bx)) if len(bx) else anatomy.body.shape[2] / 2
    return _heart_floor(anatomy.diaphragm_mm, anatomy.dome_mm[1], midline, anatomy.grid_mm)


def call_table(hu: np.ndarray, sp, cand, classes: np.ndarray) -> pd.DataFrame:
    called = np.flatnonzero(classes > 0)
    if not len(called):
        return pd.DataFrame()
    idx = np.arange(1, cand.n + 1)
    peaks = np.atleast_1d(ndimage.maximum(hu, cand.ids, idx))
    cz, cy, cx = (np.atleast_1d(c) for c in zip(*ndimage.center_of_mass(np.ones_like(hu, np.uint8), cand.ids,
                                                                          called + 1)))
    counts = np.bincount(cand.ids.ravel(), minlength=cand.n + 1)[1:]
    svol = pd.Series(counts).groupby(cand.structure).sum() * float(np.prod(sp))
    speak = pd.Series(peaks).groupby(cand.structure).max()
    an = cand.anatomy
    floor = floor_map(an)
    lowest = np.flatnonzero(an.pericardium.any((1, 2)))
    mask_floor = lowest[0] * an.grid_mm[0] if len(lowest) else np.nan
    rows = []
    for j, k in enumerate(called):
        p = np.array([cz[j] * sp[0], cy[j] * sp[1], cx[j] * sp[2]])
        ci = an.coarse_index(p[None])[0]
        col = an.pericardium[:, ci[1], ci[2]]
        rows.append({"cand": int(k + 1), "vessel": VESSELS[int(classes[k]) - 1], "au": float(cand.agatston[k]),
                     "peak_hu": float(peaks[k]), "struct_mm3": float(svol[cand.structure[k]]),
                     "struct_peak_hu": float(speak[cand.structure[k]]),
                     "z_mm": p[0], "y_mm": p[1], "x_mm": p[2],
                     **{n: float(cand.anatomy_columns[k, i]) for i, n in enumerate(ANATOMY_NAMES)
                        if n in ("pericardium_mm", "above_diaphragm_mm", "sac_above_mm", "aortic_lumen_hu")},
                     "mask_floor_mm": mask_floor,
                     "column_floor_mm": np.flatnonzero(col)[0] * an.grid_mm[0] if col.any() else np.nan,
                     "heart_floor_mm": float(floor[ci[1], ci[2]]) if floor is not None else np.nan})
    return pd.DataFrame(rows).sort_values("au", ascending=False)


def _rgba(call: np.ndarray, other: np.ndarray, colour: str) -> np.ndarray:
    rgba = np.zeros((*call.shape, 4))
    edge = other & ~ndimage.binary_erosion(other)
    rgba[edge] = matplotlib.colors.to_rgba(NON_CORONARY_COLOUR, 0.9)
    rgba[call] = matplotlib.colors.to_rgba(colour, 1.0)
    return rgba


def _crop(n: int, c: float, half: int) -> slice:
    return slice(max(int(c) - half, 0), min(int(c) + half, n))


def draw(hu: np.ndarray, sp, cand, calls: pd.DataFrame, title: str, out: Path) -> list[Path]:
    """One picture per call (out/<title>_<rank>_<cand>.png): axial, coronal, sagittal through its centroid with the
    anatomy the rules read; the paths written."""
    an = cand.anatomy
    floor = floor_map(an)
    gm = an.grid_mm
    paths = []
    for rank, r in enumerate(calls.itertuples()):
        fig, row = plt.subplots(1, 3, figsize=(13.5, 4.8))
        z, y, x = round(r.z_mm / sp[0]), round(r.y_mm / sp[1]), round(r.x_mm / sp[2])
        kz, ky, kx = an.coarse_index(np.array([[r.z_mm, r.y_mm, r.x_mm]]))[0]
        colour = VESSEL_COLOURS[r.vessel]
        hy, hx, hz = (int(HALF_MM / s) for s in (sp[1], sp[2], sp[0]))
        ys, xs, zs = _crop(hu.shape[1], y, hy), _crop(hu.shape[2], x, hx), _crop(hu.shape[0], z, hz)
        views = [  # (image, call mask, other mask, (row axis mm, col axis mm), pericardium 2-D, lines, label)
            (hu[z, ys, xs], cand.ids[z, ys, xs] == r.cand, cand.ids[z, ys, xs] > 0,
             (ys, sp[1], xs, sp[2]), (an.pericardium[kz], gm[1], gm[2]), [], f"axial z {r.z_mm:.0f} mm"),
            (hu[zs, y, xs], cand.ids[zs, y, xs] == r.cand, cand.ids[zs, y, xs] > 0,
             (zs, sp[0], xs, sp[2]), (an.pericardium[:, ky], gm[0], gm[2]),
             [(np.arange(an.diaphragm_mm.shape[1]) * gm[2], an.diaphragm_mm[ky], "y", "-"),
              *([(np.arange(floor.shape[1]) * gm[2], floor[ky], "m", "--")] if floor is not None else [])],
             f"coronal y {r.y_mm:.0f} mm (z up)"),
            (hu[zs, ys, x], cand.ids[zs, ys, x] == r.cand, cand.ids[zs, ys, x] > 0,
             (zs, sp[0], ys, sp[1]), (an.pericardium[:, :, kx], gm[0], gm[1]),
             [(np.arange(an.diaphragm_mm.shape[0]) * gm[1], an.diaphragm_mm[:, kx], "y", "-"),
              *([(np.arange(floor.shape[0]) * gm[1], floor[:, kx], "m", "--")] if floor is not None else [])],
             f"sagittal x {r.x_mm:.0f} mm (z up, anterior left)"),
        ]
        for ax, (img, call, other, (rs, rsp, cs, csp), (peri, prs, pcs), lines, label) in zip(row, views):
            ext = (cs.start * csp, cs.stop * csp, rs.stop * rsp, rs.start * rsp)
            ax.imshow(img, cmap="gray", vmin=WINDOW_HU[0], vmax=WINDOW_HU[1], extent=ext, aspect="equal")
            ax.imshow(_rgba(call, other & ~call, colour), extent=ext, aspect="equal", interpolation="nearest")
            if peri.any():
                ax.contour(np.arange(peri.shape[1]) * pcs, np.arange(peri.shape[0]) * prs, peri.astype(float),
                           [0.5], colors="c", linewidths=0.7)
            for xx, zz, c, ls in lines:
                ax.plot(xx, zz, color=c, ls=ls, lw=0.8)
            if label.startswith("axial"):
                ax.plot(r.x_mm, r.y_mm, "+", color=colour, ms=14, mew=0.6)
            else:
                ax.plot(r.x_mm if label.startswith("coronal") else r.y_mm, r.z_mm, "+", color=colour, ms=14, mew=0.6)
            ax.set_xlim(ext[0], ext[1])
            ax.set_ylim(ext[2], ext[3]) if label.startswith("axial") else ax.set_ylim(ext[3], ext[2])
            ax.tick_params(labelsize=7)
            ax.set_title(label, fontsize=8)
        fig.suptitle(f"{title} #{r.cand} {r.vessel} {r.au:.1f} AU, peak {r.peak_hu:.0f} HU; its 3-D structure "
                     f"{r.struct_mm3:.0f} mm3, peak {r.struct_peak_hu:.0f} HU | sac {r.pericardium_mm:+.1f} mm (> 0 "
                     f"outside), above diaphragm {r.above_diaphragm_mm:+.1f} mm, above heart floor "
                     f"{r.z_mm - r.heart_floor_mm:+.1f} mm, above mask's lowest slice {r.z_mm - r.mask_floor_mm:+.1f} mm"
                     "\ncall filled in its vessel's colour (+ at its centroid), other candidates outlined purple; "
                     "cyan: pericardial mask; yellow: diaphragm surface; magenta dashed: heart floor", fontsize=8)
        fig.tight_layout()
        path = out / f"{title}_{rank:02d}_{r.cand}.png"
        atomic_savefig(fig, path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("series", type=Path, nargs="+")
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    model = load_model(a.model)
    a.out.mkdir(parents=True, exist_ok=True)
    tables = []
    for s in a.series:
        vol = read_ct(s)
        sp = tuple(abs(float(v)) for v in vol.spacing_mm)
        cand, classes = classify_volume(vol.hu, sp, model)
        calls = call_table(vol.hu, sp, cand, classes)
        draw(vol.hu, sp, cand, calls, s.name, a.out)
        print(f"{s.name}: {len(calls)} calls, {calls['au'].sum() if len(calls) else 0:.1f} AU", flush=True)
        if len(calls):
            print(calls.round(1).to_string(index=False), flush=True)
        tables.append(calls.assign(series=s.name))
    pd.concat(tables).to_csv(a.out / "calls.csv", index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
