"""Axial slice through the crux: phantom v6 and v7 (the same patient) beside a real LIDC series at its crux.

    PYTHONPATH=src nice -n 10 python bench/crux_compare.py --pids 2 8 --seed 9101 --size 512 \
        --series lidc-idri-0001 lidc-idri-0002 lidc-idri-0003 --out docs/pictures/crux_v6_v7_vs_lidc.png

One row per phantom patient: v6's course (coronary.vessel_centrelines with anatomy v7's draws off) and v7's, the written
(moving, noisy) image on the slice through each one's crux (red +: the crux; cyan: the RCA's centreline within 3 mm of
the slice, magenta: the LCX's); then one real series per row at its crux (docs/hybrid_landmarks.json, placed by eye;
the RCA's anchored course in cyan). Each panel is 100 x 100 mm centred on the heart reference the scorer uses
(white x: ``anatomical_candidates(...).heart_index``, the reference the shipped model's features are measured from;
on LIDC-IDRI-0001 that is the pericardial mask's centroid, 40 mm above ``locate_heart``'s point, which lies on the
liver dome: ``cacscore.lesion.anatomy.heart_reference``), at W 400 / L 40.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import cacscore.phantom.anatomy as A  # noqa: E402
from cacscore.io.ct import read_ct  # noqa: E402
from cacscore.lesion.classifier import anatomical_candidates  # noqa: E402
from cacscore.phantom import make_patient  # noqa: E402
from cacscore.phantom.core import _draws  # noqa: E402
from cacscore.phantom.coronary import crux_point  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
V6 = {"crux_phi_deg": None, "pda_drift_deg": 0.0, "crux_bed_mm": 0.0, "bed_out_mm": 0.0, "crux_fat_mm": None,
      "crux_du": 0.0}
HALF_MM = 50.0


def scoring_reference(hu: np.ndarray, sp) -> np.ndarray:
    """(z, y, x) voxel index the shipped scorer measures candidate positions from (heart finder, or the pericardial
    mask's centroid where the finder lies below it)."""
    return np.array(anatomical_candidates(hu, tuple(float(v) for v in sp)).heart_index, float)


def _panel(ax, hu, sp, k, ref_zyx, title, marks=(), courses=()) -> None:
    """hu[k] cropped to +-HALF_MM round the reference (voxel index), with marks (y, x mm from voxel 0) and courses."""
    cy, cx = ref_zyx[1] * sp[1], ref_zyx[2] * sp[2]
    ext = [-HALF_MM, HALF_MM, HALF_MM, -HALF_MM]
    j0, j1 = int((cy - HALF_MM) / sp[1]), int((cy + HALF_MM) / sp[1])
    i0, i1 = int((cx - HALF_MM) / sp[2]), int((cx + HALF_MM) / sp[2])
    img = np.full((j1 - j0, i1 - i0), -1000.0, np.float32)
    src = hu[k, max(j0, 0):j1, max(i0, 0):i1]
    img[max(-j0, 0):max(-j0, 0) + src.shape[0], max(-i0, 0):max(-i0, 0) + src.shape[1]] = src
    ax.imshow(img, cmap="gray", vmin=-160, vmax=240, extent=ext)
    ax.plot([0], [0], "wx", ms=8)
    for pts, style in courses:
        if len(pts):
            ax.plot(pts[:, 2] - cx, pts[:, 1] - cy, style, ms=2)
    for y, x in marks:
        ax.plot([x - cx], [y - cy], "r+", ms=14, mew=2)
    ax.set_title(title, fontsize=8)
    ax.set_xlabel("mm, patient's left ->", fontsize=7)
    ax.tick_params(labelsize=6)


def _near_slice(pts_zyx: np.ndarray, z_mm: float, tol: float = 3.0) -> np.ndarray:
    return pts_zyx[np.abs(pts_zyx[:, 0] - z_mm) <= tol]


def phantom_row(axes, pid: int, seed: int, size: int) -> None:
    for ax, version in zip(axes, ("v6", "v7")):
        if version == "v6":
            keep = A._draw_v7
            A._draw_v7 = lambda xr: dict(V6)  # v6's courses and no crux bed (the same patient otherwise)
        try:
            p = make_patient(pid, seed=seed, size=size)
            d = _draws(pid, seed, size)[0]
        finally:
            if version == "v6":
                A._draw_v7 = keep
        sp = np.array(p.spacing_mm)
        org = np.array(p.origin_mm)[[2, 1, 0]]
        ref = scoring_reference(p.hu, p.spacing_mm)
        name, i = crux_point(d.vessels)
        crux = d.vessels[name].points[i][[2, 1, 0]] - org
        k = int(round(crux[0] / sp[0]))
        rel = crux - ref * sp
        courses = [(_near_slice(d.vessels[v].points[:, [2, 1, 0]] - org, crux[0]), st) for v, st in (("RCA", "c."), ("LCX", "m."))]
        _panel(ax, p.hu, sp, k, ref, f"phantom {version} seed {seed} pid {pid}: crux ({name}) - reference\n"
               f"dz {rel[0]:+.0f} dy {rel[1]:+.0f} (back) dx {rel[2]:+.0f} (left) mm", [crux[1:]], courses)


def real_row(ax, name: str, data: Path, landmarks: dict) -> None:
    vol = read_ct(data / name)
    sp = np.array([abs(float(s)) for s in vol.spacing_mm])
    ref = scoring_reference(vol.hu, sp)
    lm = landmarks[name]
    crux = np.asarray(lm["crux"], float)
    k = int(round(crux[0] / sp[0]))
    rel = crux - ref * sp
    rca = np.asarray(lm["courses"]["RCA"], float)
    _panel(ax, vol.hu, sp, k, ref, f"{name}: crux (by eye) - reference\ndz {rel[0]:+.0f} dy {rel[1]:+.0f} (back) "
           f"dx {rel[2]:+.0f} (left) mm", [crux[1:]], [(_near_slice(rca, crux[0], 6.0), "co")])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pids", type=int, nargs="+", default=[2, 8])
    ap.add_argument("--seed", type=int, default=9101)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--series", nargs="+", default=["lidc-idri-0001", "lidc-idri-0002", "lidc-idri-0003"])
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    landmarks = json.loads((ROOT / "docs" / "hybrid_landmarks.json").read_text())
    rows = max(len(a.pids), len(a.series))
    fig, axes = plt.subplots(rows, 3, figsize=(12, 4.1 * rows), dpi=90, squeeze=False)
    for r in range(rows):
        if r < len(a.pids):
            phantom_row(axes[r, :2], a.pids[r], a.seed, a.size)
        else:
            axes[r, 0].axis("off"), axes[r, 1].axis("off")
        if r < len(a.series):
            real_row(axes[r, 2], a.series[r], a.data, landmarks)
        else:
            axes[r, 2].axis("off")
    fig.tight_layout()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out)
    print(a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
