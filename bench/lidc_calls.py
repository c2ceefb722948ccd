"""Every coronary call of one or more lesion models on a REAL scan, each shown where it lies and measured against the
eye-placed coronary courses of docs/hybrid_landmarks.json (the three LIDC series): is it where a coronary runs?

    PYTHONPATH=src python bench/lidc_calls.py /work/shared/data/lidc-idri-0001 --model shipped=DIR loso=DIR ...
        --out OUT [--top 12] [--landmarks docs/hybrid_landmarks.json]

Per model (classified as ``cacscore predict`` scores: lesion.classify_volume, through hybrid_cases.classify_many), each candidate called coronary: its
vessel, Agatston, peak HU, centroid (z, y, x mm from voxel 0, the landmarks' frame) and its distance to the nearest
point of the anchored courses (hybrid_cases' courses: cacscore.phantom.hybrid's smooth course through the anchors)
of any vessel and of the vessel it was called. Written as OUT/calls.csv. OUT/<model>.png: the --top largest calls,
one row each: the axial slice through the call's centroid (80 mm crop, soft-tissue window, the call's voxels on that
slice filled in its vessel's colour, other candidates there outlined in purple, the course points within 3 mm of
the slice as white dots) and a 9 mm maximum-intensity slab around it (the courses within the slab as dots), to read
whether it sits in the fat of an atrioventricular or interventricular groove (a coronary) or in a chamber, a vessel
lumen, the pericardium or outside the heart. No identifier from the DICOM header is shown (the folder name only).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hybrid_cases import _models, classify_many, series_landmarks

from cacscore.chest.anatomy import read_chest
from cacscore.core.fileio import atomic_savefig
from cacscore.core.vessels import VESSELS
from cacscore.io.ct import read_ct
from cacscore.lesion.classifier import load_model
from cacscore.lesion.report import NON_CORONARY_COLOUR, VESSEL_COLOURS, WINDOW_HU
from cacscore.phantom.hybrid import insert_plaques

LANDMARKS = Path(__file__).resolve().parents[1] / "docs" / "hybrid_landmarks.json"
CROP_MM = 40.0
SLAB_MM = 4.5


def anchored_courses(hu: np.ndarray, sp, name: str, landmarks: Path) -> dict[str, np.ndarray]:
    """vessel -> (n, 3) (z, y, x) mm course through the series' anchors, as the hybrid bench lays it (the anchored
    courses do not depend on the seed: hybrid_training.crux_arcs checks it)."""
    anchors = series_landmarks(landmarks, name)
    if not anchors:
        raise SystemExit(f"{landmarks}: no anchors for series {name}")
    return insert_plaques(hu, sp, read_chest(hu, sp), 0, landmarks=anchors).courses


def call_table(cand, classes: np.ndarray, hu: np.ndarray, sp, courses: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per candidate called coronary: vessel, AU, peak HU, centroid mm, distance (mm) to the nearest course
    point of any vessel (and which) and of the called vessel."""
    called = np.flatnonzero(classes > 0)
    if not len(called):
        return pd.DataFrame(columns=["cand", "vessel", "au", "peak_hu", "z_mm", "y_mm", "x_mm", "d_any_mm",
                                     "nearest", "d_own_mm"])
    lab = cand.ids
    idx = called + 1
    cent = np.array(ndimage.center_of_mass(np.ones_like(lab, np.uint8), lab, idx)) * np.asarray(sp)
    peak = ndimage.maximum(hu, lab, idx)
    pts = np.concatenate(list(courses.values()))
    who = np.concatenate([[v] * len(c) for v, c in courses.items()])
    rows = []
    for k, c, p in zip(called, cent, np.atleast_1d(peak)):
        d = np.linalg.norm(pts - c, axis=1)
        v = VESSELS[int(classes[k]) - 1]
        own = np.linalg.norm(courses[v] - c, axis=1).min() if v in courses else np.nan
        rows.append({"cand": int(k + 1), "vessel": v, "au": float(cand.agatston[k]), "peak_hu": float(p),
                     "z_mm": c[0], "y_mm": c[1], "x_mm": c[2], "d_any_mm": float(d.min()),
                     "nearest": who[d.argmin()], "d_own_mm": float(own)})
    return pd.DataFrame(rows).sort_values("au", ascending=False).reset_index(drop=True)


def _panel(ax, img: np.ndarray, box, rgba: np.ndarray, dots: list[tuple[np.ndarray, str]], sp, title: str) -> None:
    ys, xs = box
    ax.imshow(img[ys, xs], cmap="gray", vmin=WINDOW_HU[0], vmax=WINDOW_HU[1],
              extent=(xs.start * sp[2], xs.stop * sp[2], ys.stop * sp[1], ys.start * sp[1]))
    ax.imshow(rgba[ys, xs], extent=(xs.start * sp[2], xs.stop * sp[2], ys.stop * sp[1], ys.start * sp[1]))
    for p, v in dots:
        ax.plot(p[:, 2], p[:, 1], ".", ms=3, color=VESSEL_COLOURS[v], mec="white", mew=0.4)
    ax.set_xlim(xs.start * sp[2], xs.stop * sp[2])  # the crop, not the course dots beyond it
    ax.set_ylim(ys.stop * sp[1], ys.start * sp[1])
    ax.set_title(title, fontsize=7)
    ax.tick_params(labelsize=5)


def _overlay(mask_call: np.ndarray, mask_other: np.ndarray, colour: str) -> np.ndarray:
    rgba = np.zeros((*mask_call.shape, 4))
    rgba[mask_call] = matplotlib.colors.to_rgba(colour, 0.9)
    edge = mask_other & ~ndimage.binary_erosion(mask_other)
    rgba[edge] = matplotlib.colors.to_rgba(NON_CORONARY_COLOUR, 0.9)
    return rgba


def draw_calls(hu: np.ndarray, sp, cand, calls: pd.DataFrame, courses: dict[str, np.ndarray], title: str,
               out: Path, top: int) -> None:
    """One row per call (the top largest): slice through the centroid and a 9 mm MIP slab, courses as dots."""
    rows = calls.head(top)
    n = max(len(rows), 1)
    fig, axes = plt.subplots(n, 2, figsize=(6.4, 3.1 * n), squeeze=False)
    if not len(rows):
        axes[0, 0].text(0.5, 0.5, "no coronary call", ha="center")
    for r, (ax0, ax1) in zip(rows.itertuples(), axes):
        z = round(r.z_mm / sp[0])
        cy, cx = r.y_mm / sp[1], r.x_mm / sp[2]
        hy, hx = int(CROP_MM / sp[1]), int(CROP_MM / sp[2])
        ys = slice(max(int(cy) - hy, 0), min(int(cy) + hy, hu.shape[1]))
        xs = slice(max(int(cx) - hx, 0), min(int(cx) + hx, hu.shape[2]))
        this = cand.ids[z] == r.cand
        other = (cand.ids[z] > 0) & ~this
        near = [(c[np.abs(c[:, 0] - r.z_mm) <= 3.0], v) for v, c in courses.items()]
        _panel(ax0, hu[z], (ys, xs), _overlay(this, other, VESSEL_COLOURS[r.vessel]), near, sp,
               f"{r.vessel} {r.au:.1f} AU, peak {r.peak_hu:.0f} HU, z {r.z_mm:.1f} mm\n"
               f"course: {r.d_any_mm:.1f} mm ({r.nearest}), own {r.d_own_mm:.1f} mm")
        k = round(SLAB_MM / sp[0])
        zs = slice(max(z - k, 0), z + k + 1)
        mip = hu[zs].max(0)
        slab_call = (cand.ids[zs] == r.cand).any(0)
        slab_other = ((cand.ids[zs] > 0) & (cand.ids[zs] != r.cand)).any(0)
        slab = [(c[np.abs(c[:, 0] - r.z_mm) <= SLAB_MM], v) for v, c in courses.items()]
        _panel(ax1, mip, (ys, xs), _overlay(slab_call, slab_other, VESSEL_COLOURS[r.vessel]), slab, sp,
               f"MIP z {r.z_mm - SLAB_MM:.0f}-{r.z_mm + SLAB_MM:.0f} mm (x, y mm)")
    fig.suptitle(f"{title}: {len(calls)} coronary calls, {calls['au'].sum():.1f} AU "
                 f"(top {len(rows)} shown; dots: anchored courses LCA red, LAD blue, LCX green, RCA orange)",
                 fontsize=7)
    fig.tight_layout()
    atomic_savefig(fig, out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("series", type=Path)
    ap.add_argument("--model", nargs="+", required=True, help="NAME=DIR")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--landmarks", type=Path, default=LANDMARKS)
    a = ap.parse_args(argv)
    vol = read_ct(a.series)
    sp = tuple(abs(float(s)) for s in vol.spacing_mm)
    courses = anchored_courses(vol.hu, sp, a.series.name, a.landmarks)
    a.out.mkdir(parents=True, exist_ok=True)
    tables = []
    # one candidate search for all models: hybrid_cases.classify_many gives each model classify_volume's classes
    cand, every = classify_many(vol.hu, sp, {k: load_model(p) for k, p in _models(a.model).items()})
    for name, classes in every.items():
        calls = call_table(cand, classes, vol.hu, sp, courses)
        draw_calls(vol.hu, sp, cand, calls, courses, f"{a.series.name} / {name}", a.out / f"{name}.png", a.top)
        tables.append(calls.assign(model=name))
        print(f"{name}: {len(calls)} calls, {calls['au'].sum():.1f} AU " + ", ".join(
            f"{v} {calls.loc[calls['vessel'] == v, 'au'].sum():.1f}" for v in VESSELS), flush=True)
        print(calls.round(1).to_string(index=False), flush=True)
    pd.concat(tables).to_csv(a.out / "calls.csv", index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
