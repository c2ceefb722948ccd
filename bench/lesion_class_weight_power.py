"""Class-weight power vs proximal LAD/LCX calcium called left main (issue 16), on the cached candidates of
bench/lesion_anatomy_features.py (run that first on the same OUT):

    PYTHONPATH=src python bench/lesion_anatomy_features.py OUT --train 1-80 --test 121-160 --extract-only
    PYTHONPATH=src python bench/lesion_class_weight_power.py OUT
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lesion_anatomy_features as B  # noqa: E402 - the bench folder is not a package

from cacscore import lesion as L  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="the work folder of bench/lesion_anatomy_features.py")
    ap.add_argument("--seed", type=int, default=41)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--powers", type=float, nargs="+", default=(0.5, 0.25, 0.0))
    a = ap.parse_args()
    te = B.cohort(list(range(121, 161)), a.seed, a.size, a.out, 1)
    tr = B.cohort(list(range(1, 81)), a.seed, a.size, a.out, 1)
    nb = np.maximum(tr["truth"].max(0), 1.0)
    for p in a.powers:
        m = L.train_classifier(tr["features"], tr["targets"], config=L.ClassifierConfig(seed=0, class_weight_power=p))
        pred = m.classify(te["features"], te["outside_mm"], te["anatomy"])
        r = B.summary(te, pred, nb)
        t = te["targets"]
        to_lca = float(te["agatston"][(t > 1) & (pred == 1)].sum())
        print(f"class_weight_power {p}: ratio {r['ratio']:.2f} kappa4 {r['kappa4_total']:.3f} wrong vessel "
              f"{r['wrong_vessel_au']} missed {r['missed_coronary_au']} LAD/LCX/RCA AU called LCA {to_lca:.1f} "
              f"fp {sum(r['fp_au'].values()):.1f}", flush=True)


if __name__ == "__main__":
    main()
