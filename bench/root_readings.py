"""The aortic root of one LIDC series as read three ways: the eye-placed root of tests/data/landmarks_lidc.json (red
o), the root and coronary ostia of the hybrid-course anchors in docs/hybrid_landmarks.json (green +: root; lime x: the
first LCA and RCA anchors, the ostia), and the root read_chest finds (yellow x), over axial slices around the root and a
coronal reformat through it, with the tracked ascending circles (cyan). Session 25: on LIDC-IDRI-0002 the first two
disagreed by 32 mm; the ostia decide which is the root.

    PYTHONPATH=src python bench/root_readings.py lidc-idri-0002 OUT.png [--data /work/shared/data] [--dz -10,-5,0,5,10]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from cacscore.chest.anatomy import read_chest
from cacscore.io.ct import read_ct

REPO = Path(__file__).resolve().parents[1]
HALF_MM = 50.0  # crop half-width round the hybrid root: the root, the right atrial appendage and the outflow tract


def readings(name: str, anatomy) -> dict[str, np.ndarray]:
    """name -> (3,) mm point (z, y, x) of each reading of the root, and the two ostia."""
    lidc = json.loads((REPO / "tests" / "data" / "landmarks_lidc.json").read_text())[name]
    hyb = json.loads((REPO / "docs" / "hybrid_landmarks.json").read_text())[name]
    return {"landmarks_lidc root": np.array(lidc["aortic_root"], float),
            "hybrid root": np.array(hyb["aortic_root"], float),
            "LCA ostium": np.array(hyb["courses"]["LCA"][0], float),
            "RCA ostium": np.array(hyb["courses"]["RCA"][0], float),
            "found root": np.asarray(anatomy.aortic_root_mm, float)}


STYLE = {"landmarks_lidc root": {"marker": "o", "color": "red", "mfc": "none"}, "hybrid root": {"marker": "+", "color": "lime"},
         "LCA ostium": {"marker": "x", "color": "lime"}, "RCA ostium": {"marker": "x", "color": "lime"},
         "found root": {"marker": "x", "color": "yellow"}}


def draw_axial(ax, hu, sp, z, pts, anatomy, centre) -> None:
    k = round(z / sp[0])
    ax.imshow(hu[k], cmap="gray", vmin=-100, vmax=200, extent=(0, hu.shape[2] * sp[2], hu.shape[1] * sp[1], 0))
    asc = anatomy.aorta.segment == 0
    for c, r in zip(anatomy.aorta.centreline_mm[asc], anatomy.aorta.radius_mm[asc]):
        if abs(c[0] - z) <= 0.5 * anatomy.grid_mm[0]:
            ax.add_patch(plt.Circle((c[2], c[1]), r, fill=False, color="cyan", lw=1))
    for name, p in pts.items():
        ax.plot(p[2], p[1], ms=16 if abs(p[0] - z) < 4 else 7, mew=2, ls="none", **STYLE[name])
    ax.set_xlim(centre[2] - HALF_MM, centre[2] + HALF_MM)
    ax.set_ylim(centre[1] + HALF_MM, centre[1] - HALF_MM)
    ax.set_title(f"axial z={z:.1f} mm")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("series")
    ap.add_argument("out", type=Path)
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--dz", default="-10,-5,0,5,10", help="axial levels, mm from the hybrid root")
    a = ap.parse_args()
    vol = read_ct(a.data / a.series)
    hu, sp = vol.hu, np.array([abs(float(s)) for s in vol.spacing_mm])
    anatomy = read_chest(vol)
    pts = readings(a.series, anatomy)
    centre = pts["hybrid root"]
    dzs = [float(s) for s in a.dz.split(",")]
    fig, axs = plt.subplots(1, len(dzs) + 1, figsize=(5 * (len(dzs) + 1), 5.4))
    for ax, dz in zip(axs, dzs):
        draw_axial(ax, hu, sp, centre[0] + dz, pts, anatomy, centre)
    j = round(centre[1] / sp[1])
    ax = axs[-1]
    ax.imshow(hu[:, j, :], cmap="gray", vmin=-100, vmax=200, origin="lower",
              extent=(0, hu.shape[2] * sp[2], 0, hu.shape[0] * sp[0]))
    cl = anatomy.aorta.centreline_mm[anatomy.aorta.segment == 0]
    ax.plot(cl[:, 2], cl[:, 0], "c.", ms=4)
    for name, p in pts.items():
        ax.plot(p[2], p[0], ms=14, mew=2, ls="none", label=name, **STYLE[name])
    ax.set_xlim(centre[2] - 60, centre[2] + 60)
    ax.set_ylim(centre[0] - 40, centre[0] + 80)
    ax.set_title(f"coronal y={centre[1]:.0f} mm")
    ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{a.series}: the aortic root read three ways (mm from voxel 0; z up, y back, x to the patient's left)")
    fig.tight_layout()
    fig.savefig(a.out, dpi=60)
    for name, p in pts.items():
        print(f"{a.series} {name}: {np.round(p, 1).tolist()}, {np.linalg.norm(p - centre):.1f} mm from the hybrid root")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
