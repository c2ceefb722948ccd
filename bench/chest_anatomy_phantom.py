"""Chest anatomy (read_chest) on today's phantom against what the phantom drew: aortic root (mm), descending aorta
centre (median in-plane mm over its tracked slices), heart centre inside the pericardial mask, vertebral body
labelled spine, and the share of coronary calcium voxels inside the pericardial mask (+ 5 mm).

    PYTHONPATH=src python bench/chest_anatomy_phantom.py N SEED SIZE
    PYTHONPATH=src python bench/chest_anatomy_phantom.py --pericardium SEED FIRST-LAST SIZE [CACHE]

``--pericardium``: the pericardial mask against the phantom's anatomy labels (:func:`sac_metrics`: Dice, share of the
mask below the diaphragm) and the heart reference ``lesion.anatomy.heart_reference`` takes with ``locate_heart``
(how often it drops the mask), per patient and summed up; CACHE (a folder) keeps the rendered phantoms for reruns.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

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


def _phantom(pid: int, seed: int, size: int, cache: Path | None) -> tuple[np.ndarray, np.ndarray, tuple]:
    f = cache / f"{seed}_{size}_{pid}.npz" if cache is not None else None
    if f is not None and f.is_file():
        with np.load(f) as z:
            return z["hu"].astype(np.float32), z["alab"], tuple(float(v) for v in z["sp"])
    p = make_patient(pid, seed=seed, size=size, anatomy=True)
    if f is not None:
        f.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(f, hu=p.hu.astype(np.int16), alab=p.anatomy_labels, sp=np.array(p.spacing_mm))
    return p.hu, p.anatomy_labels, tuple(float(v) for v in p.spacing_mm)


def pericardium(seed: int, pids: list[int], size: int, cache: Path | None) -> None:
    from cacscore.chest.heart import locate_heart
    from cacscore.lesion.anatomy import FINDER_ABOVE_MASK, heart_reference

    rows = []
    for pid in pids:
        hu, alab, sp = _phantom(pid, seed, size, cache)
        t = time.process_time()
        a = read_chest(hu, sp)
        cpu = time.process_time() - t
        m = sac_metrics(a, alab)
        found = locate_heart(hu, sp)
        _, src = heart_reference(a, found.index, found.found)
        m.update(pid=pid, source="dropped" if src == FINDER_ABOVE_MASK else src, cpu=cpu)
        rows.append(m)
        print(f"{pid} Dice {m['dice']:.3f}, below the diaphragm {m['below_diaphragm']:.3f}, {m['ml']:.0f} ml "
              f"(confidence {a.parts['pericardium'].confidence:.1f}), reference: {m['source']}, cpu {cpu:.2f} s",
              flush=True)
    d = np.array([r["dice"] for r in rows])
    b = np.array([r["below_diaphragm"] for r in rows])
    src = [r["source"] for r in rows]
    print(f"| seed {seed}, {len(rows)} patients, {size} px | {np.median(d):.3f} ({np.percentile(d, 10):.3f}, "
          f"{d.min():.3f}) | {100 * np.median(b):.1f} % ({100 * np.percentile(b, 90):.1f} %, {100 * b.max():.1f} %) "
          f"| {src.count('dropped')} | {src.count('pericardium centroid')} | "
          f"{np.median([r['cpu'] for r in rows]):.2f} s |")


if __name__ == "__main__":
    if sys.argv[1] == "--pericardium":
        first, last = (int(v) for v in sys.argv[3].split("-"))
        pericardium(int(sys.argv[2]), list(range(first, last + 1)), int(sys.argv[4]),
                    Path(sys.argv[5]) if len(sys.argv) > 5 else None)
    else:
        main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
