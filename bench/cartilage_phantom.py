"""The costal-cartilage mask (cacscore.chest.cartilage, ``ChestAnatomy.cartilage``) on today's phantom against what
the phantom drew (its anatomy labels: costal_cartilage, cartilage_calcium, sternum), and the 'costal cartilage'
rule (cacscore.lesion.anatomy.AnatomyRules.cartilage_fraction) on its calcium candidates.

    PYTHONPATH=src python bench/cartilage_phantom.py SEED FIRST-LAST SIZE

Per patient, on the mask's coarse grid (the labels read at the coarse voxels, as the mask is): Dice of the mask with
the cartilage + sternum labels, recall of the cartilage label (all of it, and at the heart's levels: slices holding
the heart label), what share of the mask lies on the bony thorax (cartilage, its calcium, sternum, ribs), on the
chest wall's soft tissue (body_wall), and on the heart (heart, epicardial fat, pericardium, coronaries). Then the
candidates (``lesion.find_candidates`` with the anatomy): the cartilage-calcium candidates (most voxels on
cartilage_calcium) the rule takes, and the true coronary candidates (phantom truth) it takes (must be 0).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from cacscore import lesion as L
from cacscore.chest.anatomy import read_chest
from cacscore.lesion.anatomy import ANATOMY_NAMES, AnatomyRules
from cacscore.phantom.anatomy import LABEL
from cacscore.phantom.core import make_patient

CARTILAGE = (LABEL["costal_cartilage"], LABEL["cartilage_calcium"])
BONY = (*CARTILAGE, LABEL["sternum"], LABEL["rib"])
HEART = tuple(LABEL[n] for n in ("heart", "epicardial_fat", "pericardium", "coronary_artery"))


def mask_metrics(mask: np.ndarray, lab: np.ndarray) -> dict:
    """Mask vs labels on the coarse grid."""
    cart = np.isin(lab, CARTILAGE)
    truth = cart | (lab == LABEL["sternum"])
    heart_levels = (lab == LABEL["heart"]).any((1, 2))
    n = max(int(mask.sum()), 1)
    return {
        "dice": 2 * (mask & truth).sum() / max(mask.sum() + truth.sum(), 1),
        "recall_cartilage": (mask & cart).sum() / max(cart.sum(), 1),
        "recall_cartilage_heart_levels": (mask & cart)[heart_levels].sum() / max(cart[heart_levels].sum(), 1),
        "on_bony_thorax": np.isin(lab[mask], BONY).sum() / n,
        "on_body_wall": (lab[mask] == LABEL["body_wall"]).sum() / n,
        "on_heart": np.isin(lab[mask], HEART).sum() / n,
    }


def candidate_metrics(p, a) -> dict:
    cand = L.find_candidates(p.hu, p.spacing_mm, anatomy=a)
    frac = cand.anatomy_columns[:, ANATOMY_NAMES.index("cartilage_fraction")]
    fires = frac >= AnatomyRules().cartilage_fraction
    truth = L.candidate_targets(cand.ids, p.labels)
    # a cartilage-calcium candidate: most of its voxels on the cartilage_calcium label
    sel = cand.ids > 0
    on = np.bincount(cand.ids[sel], weights=(p.anatomy_labels[sel] == LABEL["cartilage_calcium"]),
                     minlength=cand.n + 1)[1:]
    cnt = np.bincount(cand.ids[sel], minlength=cand.n + 1)[1:]
    cc = on >= 0.5 * cnt
    return {"cartilage_cands": int(cc.sum()), "cartilage_taken": int((cc & fires).sum()),
            "cartilage_au": float(cand.agatston[cc].sum()), "cartilage_au_taken": float(cand.agatston[cc & fires].sum()),
            "coronary_cands": int((truth > 0).sum()), "coronary_taken": int(((truth > 0) & fires).sum()),
            "coronary_au_taken": float(cand.agatston[(truth > 0) & fires].sum()),
            "other_taken": int(((truth == 0) & ~cc & fires).sum())}


def main(seed: int, first: int, last: int, size: int) -> None:
    rows = []
    for pid in range(first, last + 1):
        t = time.perf_counter()
        p = make_patient(pid, seed=seed, size=size, anatomy=True)
        a = read_chest(p.hu, p.spacing_mm)
        lab = p.anatomy_labels[::a.step_z, ::a.step_xy, ::a.step_xy][:a.body.shape[0], :a.body.shape[1], :a.body.shape[2]]
        r = {"pid": pid, "found": a.parts["cartilage"].found, "conf": a.parts["cartilage"].confidence,
             **mask_metrics(a.cartilage, lab), **candidate_metrics(p, a)}
        rows.append(r)
        print(" ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in r.items()),
              f"({time.perf_counter() - t:.0f} s)", flush=True)
    keys = [k for k in rows[0] if k not in ("pid", "found", "conf")]
    print(f"seed {seed} patients {first}-{last} size {size}:")
    for k in keys:
        v = np.array([r[k] for r in rows], float)
        print(f"  {k}: median {np.median(v):.3f} min {v.min():.3f} max {v.max():.3f} sum {v.sum():.1f}")


if __name__ == "__main__":
    a, b = sys.argv[2].split("-")
    main(int(sys.argv[1]), int(a), int(b), int(sys.argv[3]))
