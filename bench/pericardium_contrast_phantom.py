"""Stress test of the pericardial mask with contrast on the phantom (which has none): the blood made bright (+250 HU in
the heart's blood (5-voxel mean < 38 HU inside the heart label), the aorta, pulmonary artery, SVC and IVC), read by
another tree's read_chest (BEFORE_ANATOMY_PY, e.g. /work/main/src/cacscore/chest/anatomy.py) and this tree's; the
sac metrics of bench/chest_anatomy_phantom.py (Dice, share of the mask on abdominal labels) against the anatomy labels.

    PYTHONPATH=src python bench/pericardium_contrast_phantom.py BEFORE_ANATOMY_PY SEED FIRST-LAST SIZE CACHE

CACHE: the phantom cache of bench/chest_anatomy_phantom.py --pericardium (rendered there when missing)."""
import importlib.util, sys
from pathlib import Path
import numpy as np
from scipy import ndimage
before_py, seed, span, size, cache = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), Path(sys.argv[5])
first, last = (int(v) for v in span.split("-"))
spec = importlib.util.spec_from_file_location("main_anatomy", before_py)
MA = importlib.util.module_from_spec(spec); sys.modules["main_anatomy"] = MA; spec.loader.exec_module(MA)
import cacscore.chest.anatomy as NA
spec = importlib.util.spec_from_file_location("cap", Path(__file__).with_name("chest_anatomy_phantom.py"))
cap = importlib.util.module_from_spec(spec); spec.loader.exec_module(cap)
from cacscore.phantom.anatomy import LABEL
vessels = [LABEL[n] for n in ("aorta_ascending", "aorta_arch", "aorta_descending", "aorta_abdominal", "pulmonary_artery", "svc", "ivc")]
rows = {"before": [], "after": []}
for pid in range(first, last + 1):
    hu, alab, sp = cap._phantom(pid, seed, size, cache)
    heart = alab == LABEL["heart"]
    blood = heart & (ndimage.uniform_filter(hu, 5) < 38)
    hu = hu.copy(); hu[blood | np.isin(alab, vessels)] += 250.0
    for tag, mod in (("before", MA), ("after", NA)):
        a = mod.read_chest(hu, sp)
        m = cap.sac_metrics(a, alab); m["contrast"] = a.contrast
        rows[tag].append(m)
    print(pid, " | ".join(f"{t}: Dice {rows[t][-1]['dice']:.3f} abd {100*rows[t][-1]['below_diaphragm']:.1f} % {rows[t][-1]['ml']:.0f} ml contrast {rows[t][-1]['contrast']}" for t in rows), flush=True)
for t, r in rows.items():
    d = np.array([x["dice"] for x in r]); b = np.array([x["below_diaphragm"] for x in r])
    print(f"| {t} | {np.median(d):.3f} ({np.percentile(d, 10):.3f}, {d.min():.3f}) | {100*np.median(b):.1f} % ({100*np.percentile(b, 90):.1f} %, {100*b.max():.1f} %) |")
