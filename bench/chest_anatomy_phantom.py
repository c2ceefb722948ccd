"""Chest anatomy (read_chest) on today's phantom against what the phantom drew: aortic root (mm), descending aorta
centre (median in-plane mm over its tracked slices), heart centre inside the pericardial mask, vertebral body
labelled spine, and the share of coronary calcium voxels inside the pericardial mask (+ 5 mm).

    PYTHONPATH=src python bench/chest_anatomy_phantom.py N SEED SIZE
"""

from __future__ import annotations

import sys
import time

import numpy as np
from scipy import ndimage

from cacscore.chest.anatomy import ChestAnatomy, read_chest
from cacscore.phantom.anatomy import LABEL
from cacscore.phantom.core import make_patient

SAC_LABELS = tuple(LABEL[n] for n in ("heart", "epicardial_fat", "pericardium", "coronary_artery",
                                      "aortic_valve_calcium", "mitral_annulus_calcium"))
"""The phantom's anatomy labels inside the pericardial sac (the heart, its fat, the sac's wall, the coronaries and the
heart's own calcium)."""
ABDOMEN_LABELS = tuple(LABEL[n] for n in ("liver", "abdomen", "spleen", "stomach", "aorta_abdominal"))
"""Below the diaphragm: what a pericardial mask must not hold."""


def sac_metrics(a: ChestAnatomy, alab: np.ndarray) -> dict:
    """The pericardial mask of ``a`` against the phantom's anatomy labels (full grid, read on the mask's coarse
    grid): Dice with the sac, the share of the mask on abdominal labels (below the true diaphragm), and how far
    (mm) the mask's lowest and its centroid's height lie from the true sac's."""
    lab = alab[::a.step_z, ::a.step_xy, ::a.step_xy][:a.pericardium.shape[0], :a.pericardium.shape[1],
                                                     :a.pericardium.shape[2]]
    true = np.isin(lab, SAC_LABELS)
    m = a.pericardium
    dice = 2 * float((m & true).sum()) / max(1, int(m.sum() + true.sum()))
    below = float(np.isin(lab[m], ABDOMEN_LABELS).mean()) if m.any() else np.nan
    kz = lambda x: np.argwhere(x)[:, 0] * a.grid_mm[0]
    low = float(kz(m).min() - kz(true).min()) if m.any() and true.any() else np.nan
    cz = float(kz(m).mean() - kz(true).mean()) if m.any() and true.any() else np.nan
    return {"dice": dice, "below_diaphragm": below, "lowest_mm": low, "centroid_z_mm": cz,
            "ml": float(m.sum() * np.prod(a.grid_mm) / 1000.0)}


def main(n: int, seed: int, size: int) -> None:
    rows = []
    for pid in range(n):
        p = make_patient(pid, seed=seed, size=size)
        t = time.process_time()
        a = read_chest(p.hu, p.spacing_mm)
        cpu = time.process_time() - t
        o = np.array(p.origin_mm)  # (x, y, z) of voxel 0
        an = p.anatomy
        root = np.array([an.aorta_root[2] - o[2], an.aorta_root[1] - o[1], an.aorta_root[0] - o[0]])
        root_err = float(np.linalg.norm(a.aortic_root_mm - root))
        desc = a.aorta.centreline_mm[a.aorta.segment == 2]
        want = np.array([an.desc_c[1] - o[1], an.desc_c[0] - o[0]])
        desc_err = float(np.median(np.hypot(*(desc[:, 1:] - want).T))) if len(desc) else np.nan
        hc = np.array(p.heart_centre_mm) - o[::-1]
        in_peri = bool(a.pericardium[tuple(a.coarse_index(hc[None])[0])])
        grown = ndimage.binary_dilation(a.pericardium, iterations=2)  # ~5 mm
        cal = np.argwhere((p.labels > 0) & (p.hu >= 130)) * np.array(p.spacing_mm)
        idx = a.coarse_index(cal) if len(cal) else np.zeros((0, 3), int)
        inside = float(grown[idx[:, 0], idx[:, 1], idx[:, 2]].mean()) if len(idx) else np.nan
        rows.append((root_err, desc_err, in_peri, inside, cpu))
        print(pid, f"root {root_err:.0f} mm, descending {desc_err:.1f} mm, heart centre in sac {in_peri}, "
              f"coronary calcium voxels in sac+5mm {inside:.2f}, cpu {cpu:.2f} s", flush=True)
    r = np.array(rows, float)
    print(f"| phantom seed {seed}, {n} patients, {size} px | root median {np.nanmedian(r[:, 0]):.0f} mm "
          f"(max {np.nanmax(r[:, 0]):.0f}) | descending median {np.nanmedian(r[:, 1]):.1f} mm | heart centre in sac "
          f"{int(r[:, 2].sum())}/{n} | coronary calcium in sac+5mm {np.nanmean(r[:, 3]):.2f} "
          f"(min {np.nanmin(r[:, 3]):.2f}) | CPU {np.median(r[:, 4]):.2f} s |")


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
