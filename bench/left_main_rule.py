"""The left-main rule, measured offline on a per-candidate cache (bench/vessel_tree_cache.py) of a phantom release: an
LCA call farther than D mm from the left ostium goes to the likelier of LAD / LCX. Ostium: the phantom's true one or
the one from the found root (vessel_tree_eval.found_ostium). Prints the 4-vessel ratio (constant / model normalised
MSE) and kappa4 per variant (issue 16, session 9, docs/chest_anatomy.md; not shipped).

    PYTHONPATH=src python bench/left_main_rule.py CACHE TRUTH_CSV SEED
"""
import sys, warnings
warnings.filterwarnings("ignore")
import numpy as np, pandas as pd
sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from pathlib import Path
from vessel_tree_eval import load, true_tree, left_main_rule, found_ostium, per_vessel
from cacscore.core.vessels import VESSELS
from cacscore.evaluation.evaluate import evaluate_arrays
cache_dir, truth_csv, seed = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
cache = load(cache_dir, list(range(1, 61)))
truth = pd.read_csv(truth_csv)
ids = sorted(cache)
t = truth.set_index(truth["id"].astype(int)).loc[ids, list(VESSELS)].to_numpy(float)
trees = {i: true_tree(seed, i) for i in ids}
def metrics(classes):
    p = np.stack([per_vessel(cache[i], classes[i]) for i in ids])
    tab = evaluate_arrays(t, p, n_boot=0)
    a = tab[(tab.vessel == "all4") & (tab.metric == "mse_norm")].iloc[0]
    k = lambda v: float(tab[(tab.vessel == v) & (tab.metric == "kappa4")].value.iloc[0])
    return f"ratio {a.baseline / a.value:6.2f}  kappa4 total {k('total'):.3f} LCA {k('LCA'):.3f} LAD {k('LAD'):.3f} LCX {k('LCX'):.3f}"
shipped = {i: cache[i]["classes"] for i in ids}
oe = [np.linalg.norm(found_ostium(cache[i]) - trees[i]["ostium_l"]) for i in ids]
print(f"{len(ids)} patients, left ostium from the found root: error median {np.median(oe):.0f} mm, p90 {np.percentile(oe, 90):.0f}")
print(f"{'shipped':44s}", metrics(shipped))
print(f"{'no left main at all (LCA -> likelier of LAD/LCX)':44s}", metrics({i: left_main_rule(cache[i], np.zeros(3), 0, -1, shipped[i]) for i in ids}))
for far in (10, 15, 20, 25, 30, 40):
    for name, ost in (("TRUE", lambda i: trees[i]["ostium_l"]), ("FOUND", lambda i: found_ostium(cache[i]))):
        cl = {i: left_main_rule(cache[i], ost(i), 0, far, shipped[i]) for i in ids}
        print(f"{'LCA > %d mm from the %s ostium' % (far, name):44s}", metrics(cl))
