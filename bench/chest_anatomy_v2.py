"""cacscore.chest.read_chest measured against phantom v2's anatomy label volumes (issue 16 on issue 15's labels).

Per patient: Dice of the found pericardial mask with the labelled heart + epicardial fat + pericardium + coronary
arteries (on read_chest's coarse grid: the label volume sampled at each coarse voxel's centre); whether the true
heart centre lies inside the found mask; descending-aorta centreline distance (found centreline points of segment
2 vs the centroid of the labelled descending aorta on the same slice); fraction of the labelled bony thorax
(vertebra, rib, sternum) inside the found bone mask (recall).

    .venv/bin/python bench/chest_anatomy_v2.py --patients 10 --seed 7 --size 256
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cacscore.chest.anatomy import read_chest
from cacscore.phantom.anatomy import LABEL
from cacscore.phantom.core import make_patient

HEART = [LABEL[n] for n in ("heart", "epicardial_fat", "pericardium", "coronary_artery")]
BONE = [LABEL[n] for n in ("vertebra", "rib", "sternum")]


def measure(pid: int, seed: int, size: int) -> dict[str, float]:
    p = make_patient(pid, seed=seed, size=size, anatomy=True)
    t0 = time.process_time()
    a = read_chest(p.hu, p.spacing_mm)
    cpu = time.process_time() - t0
    cz, cy, cx = (np.arange(n) for n in a.body.shape)
    centres = np.stack(np.meshgrid(cz, cy, cx, indexing="ij"), -1).reshape(-1, 3) * a.grid_mm
    full = np.clip(np.rint(centres / np.array(a.spacing_mm)).astype(int), 0, np.array(p.hu.shape) - 1)
    lab = p.anatomy_labels[full[:, 0], full[:, 1], full[:, 2]].reshape(a.body.shape)
    truth = np.isin(lab, HEART)
    found = a.pericardium
    dice = 2 * (truth & found).sum() / max(1, truth.sum() + found.sum())
    hc = np.array(p.heart_centre_mm) - np.array(p.origin_mm)[::-1]
    inside = bool(found[tuple(a.coarse_index(hc[None])[0])])
    desc = a.aorta.centreline_mm[a.aorta.segment == 2] if a.parts["aorta"].found else np.zeros((0, 3))
    errs = []
    for pt in desc:
        k = int(np.clip(np.rint(pt[0] / p.spacing_mm[0]), 0, p.hu.shape[0] - 1))
        ys, xs = np.nonzero(p.anatomy_labels[k] == LABEL["aorta_descending"])
        if len(ys):
            errs.append(np.hypot(pt[1] - ys.mean() * p.spacing_mm[1], pt[2] - xs.mean() * p.spacing_mm[2]))
    bone_truth = np.isin(lab, BONE)
    recall = (bone_truth & (a.bone > 0)).sum() / max(1, bone_truth.sum())
    return {"pid": pid, "dice": dice, "centre_inside": inside, "desc_mm": float(np.median(errs)) if errs else np.nan,
            "desc_n": len(errs), "bone_recall": recall, "cpu_s": cpu}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=10)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args()
    rows = [measure(pid, args.seed, args.size) for pid in range(1, args.patients + 1)]
    for r in rows:
        print(f"patient {r['pid']:3d}: pericardium Dice {r['dice']:.2f}, true heart centre inside: {r['centre_inside']}, "
              f"descending aorta {r['desc_mm']:.1f} mm ({r['desc_n']} points), bone recall {r['bone_recall']:.2f}, "
              f"read_chest CPU {r['cpu_s']:.2f} s")
    d = np.array([r["dice"] for r in rows])
    e = np.array([r["desc_mm"] for r in rows], float)
    print(f"median Dice {np.median(d):.2f} (min {d.min():.2f}); centre inside {sum(r['centre_inside'] for r in rows)}/"
          f"{len(rows)}; descending aorta median {np.nanmedian(e):.1f} mm (found in {np.isfinite(e).sum()}/{len(rows)}); "
          f"bone recall median {np.median([r['bone_recall'] for r in rows]):.2f}")


if __name__ == "__main__":
    main()
