"""Pictures of the left main (issue 15, session 24 wt32a): axial crops through the left main of the three real series
(the eye-placed course of docs/hybrid_landmarks.json) and of phantom patients (the drawn course), side by side.

    PYTHONPATH=src:bench nice -n 10 python bench/left_main_pictures.py OUT.png [--phantom REL:SEED:VERSION:ID ...]

Each panel: the slice through the left main's midpoint, 110 mm square round the true aortic root (real: the eye's
aortic_root; phantom: the drawn annulus centre), W 400 / L 40 (non-contrast) or W 700 / L 150 (contrast: 0001, 0003);
the left main's ostium (green), bifurcation (red) and the course between (yellow), the root (blue cross). Axes in mm:
anterior up, the patient's left to the right of the image (as radiologists' axials are mirrored: here NOT mirrored,
x = patient left to the right, as the volume frame).
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

LANDMARKS = Path(__file__).resolve().parents[1] / "docs" / "hybrid_landmarks.json"
DATA = Path("/work/shared/data")
HALF = 55.0


def panel(ax, hu: np.ndarray, sp: np.ndarray, lm: np.ndarray, root: np.ndarray, title: str, contrast: bool,
          dz: float = 0.0) -> None:
    mid = lm.mean(0) if len(lm) == 2 else lm[len(lm) // 2]
    iz = int(np.clip(round((mid[0] + dz) / sp[0]), 0, hu.shape[0] - 1))
    y0, y1 = root[1] - HALF, root[1] + HALF
    x0, x1 = root[2] - HALF, root[2] + HALF
    iy0, iy1 = int(max(0, y0 / sp[1])), int(min(hu.shape[1], y1 / sp[1]))
    ix0, ix1 = int(max(0, x0 / sp[2])), int(min(hu.shape[2], x1 / sp[2]))
    w, lvl = (700, 150) if contrast else (400, 40)
    ax.imshow(hu[iz, iy0:iy1, ix0:ix1], cmap="gray", vmin=lvl - w / 2, vmax=lvl + w / 2,
              extent=(ix0 * sp[2], ix1 * sp[2], iy1 * sp[1], iy0 * sp[1]))
    ax.plot(lm[:, 2], lm[:, 1], "-", color="yellow", lw=1)
    ax.plot(lm[0, 2], lm[0, 1], "o", mfc="none", mec="lime", ms=7)
    ax.plot(lm[-1, 2], lm[-1, 1], "o", mfc="none", mec="red", ms=7)
    ax.plot(root[2], root[1], "+", color="deepskyblue", ms=10)
    ax.set_title(f"{title}\nz {iz * sp[0]:.0f} mm (LM {lm[0, 0]:.0f}-{lm[-1, 0]:.0f})", fontsize=8)
    ax.tick_params(labelsize=6)


def real_panels(axes, dz: float) -> None:
    marks = json.loads(LANDMARKS.read_text())
    for ax, s in zip(axes, ("lidc-idri-0001", "lidc-idri-0002", "lidc-idri-0003")):
        vol = read_ct(DATA / s)
        sp = np.abs(np.asarray(vol.spacing_mm, float))
        lm = np.asarray(marks[s]["courses"]["LCA"], float)
        panel(ax, vol.hu, sp, lm, np.asarray(marks[s]["aortic_root"], float), s, s != "lidc-idri-0002", dz)


def phantom_panel(ax, spec: str, dz: float) -> None:
    from left_main_where import phantom_points

    from cacscore.phantom.anatomy import chest_grid

    rel, seed, version, pid = spec.split(":")
    vol = read_ct(Path(rel) / "deidentified_nongated" / pid / pid)
    sp = np.abs(np.asarray(vol.spacing_mm, float))
    _, root, d = phantom_points(int(pid), int(seed), vol.hu.shape[-1], version)
    g = chest_grid(d.anat, vol.hu.shape[-1])
    lm = d.vessels["LCA"].points[:, [2, 1, 0]] - np.array([g.z_mm[0], g.y_mm[0], g.x_mm[0]])
    # the phantom's ostia lie 8-14 mm above its annulus centre: centre the crop on the root's axis at their height
    panel(ax, vol.hu, sp, lm, np.array([lm[0, 0], root[1], root[2]]), f"phantom {version} {seed} p{pid}", False, dz)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--phantom", nargs="*", default=[], help="REL:SEED:VERSION:ID")
    ap.add_argument("--dz", type=float, default=0.0, help="slice this many mm above the left main's midpoint")
    a = ap.parse_args()
    n = 3 + len(a.phantom)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.4 * rows), squeeze=False)
    axes = axes.ravel()
    real_panels(axes[:3], a.dz)
    for ax, spec in zip(axes[3:], a.phantom):
        phantom_panel(ax, spec, a.dz)
    for ax in axes[n:]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(a.out, dpi=130)


if __name__ == "__main__":
    main()
