"""Scoring heart-centred gated phantom series with the committed test model, without and with the chest anatomy
(issue 16: the anatomy rules and the heart reference of cacscore.lesion.anatomy.heart_reference).

    PYTHONPATH=src python bench/lesion_gated_anatomy.py MODEL N_PATIENTS SEED SIZE
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np

from cacscore.core.categories import risk_category4
from cacscore.lesion.classifier import load_model, score_volume
from cacscore.phantom.core import make_patient


def main(model_dir: str, n: int, seed: int, size: int) -> None:
    new = load_model(model_dir)
    old = dataclasses.replace(new, config=dataclasses.replace(new.config, anatomy_rules=False))
    rows = []
    for pid in range(n):
        g = make_patient(pid, seed=seed, size=size, gated=True).gated
        rows.append((g.truth["total"], score_volume(g.hu, g.spacing_mm, old)["total"],
                     score_volume(g.hu, g.spacing_mm, new)["total"]))
        print(pid, *(f"{v:.0f}" for v in rows[-1]), flush=True)
    t, o, w = (np.array(c) for c in zip(*rows))
    for name, s in (("without anatomy", o), ("with anatomy", w)):
        cat = np.mean([risk_category4(a) == risk_category4(b) for a, b in zip(t, s)])
        print(f"| {name} | {np.abs(s - t).mean():.0f} | {np.median(s / np.maximum(t, 1)):.2f} | {cat:.2f} |")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
