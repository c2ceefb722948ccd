"""Class-weight power vs proximal LAD/LCX calcium called left main (issue 16), on the cached 256 px seed-41 candidates of
bench/lesion_anatomy_features.py (run that first): PYTHONPATH=src python bench/lesion_class_weight_power.py"""
import sys, json, numpy as np
sys.path.insert(0, "/work/wt16a/bench")
import lesion_anatomy_features as B
from cacscore import lesion as L
from pathlib import Path
out = Path("/work/runs/wt16a/s41_256")
te = B.cohort(list(range(121, 161)), 41, 256, out, 1)
tr = B.cohort(list(range(1, 81)), 41, 256, out, 1)
nb = np.maximum(tr["truth"].max(0), 1.0)
for p in (0.5, 0.25, 0.0):
    m = L.train_classifier(tr["features"], tr["targets"], config=L.ClassifierConfig(seed=0, class_weight_power=p))
    pred = m.classify(te["features"], te["outside_mm"], te["anatomy"])
    r = B.summary(te, pred, nb)
    t = te["targets"]
    to_lca = float(te["agatston"][(t > 1) & (pred == 1)].sum())
    print(f"class_weight_power {p}: ratio {r['ratio']:.2f} kappa4 {r['kappa4_total']:.3f} wrong vessel {r['wrong_vessel_au']} missed {r['missed_coronary_au']} LAD/LCX/RCA AU called LCA {to_lca:.1f} fp {sum(r['fp_au'].values()):.1f}", flush=True)
