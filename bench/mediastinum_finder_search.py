"""The shipped finder, RootOptions.with_seed_search() (the guard) and RootOptions.before_session14() on cached
bench/chest_anatomy_robust.py renders (session 15, wt23b: re-finding tests/test_chest_anatomy.py patients).
usage: mediastinum_finder_search.py SEED FIRST-LAST M(0|1: MEDIASTINUM_REALISM) [SIZE] [CACHE]"""
import sys
from pathlib import Path
import numpy as np
from scipy import ndimage
sys.path.insert(0, str(Path(__file__).parent))
from chest_anatomy_robust import phantom, aorta_distance
from cacscore.chest.anatomy import read_chest, RootOptions

seed = int(sys.argv[1]); a0, a1 = (int(v) for v in sys.argv[2].split("-")); m = int(sys.argv[3])
size = int(sys.argv[4]) if len(sys.argv) > 4 else 256
for pid in range(a0, a1 + 1):
    d = phantom(pid, seed, size, Path(sys.argv[5] if len(sys.argv) > 5 else "cache"), 0.0, m)
    hu = d["hu"].astype(np.float32); sp = tuple(float(v) for v in d["sp"])
    cal = np.argwhere(d["cor"]) * np.array(sp)
    def cis(a):
        if not len(cal):
            return np.nan
        g = ndimage.binary_dilation(a.pericardium, iterations=2)
        return float(g[tuple(a.coarse_index(cal).T)].mean())
    out = []
    for name, o in (("new", RootOptions()), ("guard", RootOptions.with_seed_search()), ("b14", RootOptions.before_session14())):
        a = read_chest(hu, sp, root_options=o)
        asc, desc = aorta_distance(a, d["alab"], np.array(sp))
        out.append(f"{name}: root {np.linalg.norm(a.aortic_root_mm - d['root']):.1f} found {a.parts['root'].found} asc {asc:.1f} "
                   f"desc {desc:.1f} desclen {(a.aorta.segment == 2).sum() * a.grid_mm[0]:.0f} cal {cis(a):.2f}")
    print(f"{seed}/{pid} m{m} ncal {len(cal)} | " + " | ".join(out), flush=True)
