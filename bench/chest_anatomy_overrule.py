"""How many candidates the anatomy rules overrule (lesion.anatomy.anatomy_verdicts) with the shipped chest finder and
with RootOptions.before_session14() (the finder of sessions 9-13), on phantoms of the current default anatomy at
256 px: true coronary candidates (truth labels, lesion.candidate_targets) and the others. Session 14
(docs/chest_anatomy.md, "Robust on the realistic thorax").

    PYTHONPATH=src nice -n 10 python bench/chest_anatomy_overrule.py SEED FIRST-LAST [--mediastinum 0|1] [--widen W] [--new-only]
        [--anatomy VERSION] [--opts FIELD=VALUE,...]

--mediastinum sets phantom.anatomy.MEDIASTINUM_REALISM for the renders (session 15); --new-only skips the old finder;
--anatomy draws that anatomy version (default: the phantom's default; session 16); --opts sets RootOptions fields of the
"new" finder (as bench/chest_anatomy_robust.py's --opts, e.g. desc_up_gap=5).
"""
from __future__ import annotations

import sys
from dataclasses import replace

from cacscore import lesion as L
from cacscore.lesion.anatomy import anatomy_verdicts
from cacscore.chest.anatomy import read_chest, RootOptions
from cacscore.phantom.core import make_patient
from cacscore.phantom import anatomy as pa

seed = int(sys.argv[1]); a, b = (int(v) for v in sys.argv[2].split("-"))
if "--widen" in sys.argv:  # phantom.anatomy.MEDIASTINUM_WIDEN_V13 for the renders
    pa.MEDIASTINUM_WIDEN_V13 = float(sys.argv[sys.argv.index("--widen") + 1])
if "--mediastinum" in sys.argv:
    pa.MEDIASTINUM_REALISM = bool(int(sys.argv[sys.argv.index("--mediastinum") + 1]))
version = pa.check_version(sys.argv[sys.argv.index("--anatomy") + 1] if "--anatomy" in sys.argv else pa.ANATOMY_VERSION)
new = RootOptions()
if "--opts" in sys.argv:
    kw = {k: type(getattr(new, k))(float(v)) for k, v in (kv.split("=") for kv in sys.argv[sys.argv.index("--opts") + 1].split(","))}
    new = replace(new, **kw)
finders = (("new", new),) if "--new-only" in sys.argv else \
    (("new", new), ("before14", RootOptions.before_session14()))
print(f"finder {new} anatomy {version} MEDIASTINUM_REALISM {pa.MEDIASTINUM_REALISM} MEDIASTINUM_WIDEN_V13 {pa.MEDIASTINUM_WIDEN_V13}", flush=True)
tot = {name: [0, 0, 0, 0] for name, _ in finders}
for pid in range(a, b + 1):
    p = make_patient(pid, seed=seed, size=256, version=version)
    for name, opts in finders:
        an = read_chest(p.hu, p.spacing_mm, root_options=opts)
        cand = L.find_candidates(p.hu, p.spacing_mm, anatomy=an)
        v = anatomy_verdicts(cand.anatomy_columns).any(1)
        truth = L.candidate_targets(cand.ids, p.labels)
        t = tot[name]; t[0] += int((truth > 0).sum()); t[1] += int(v[truth > 0].sum()); t[2] += int((truth == 0).sum()); t[3] += int(v[truth == 0].sum())
        print(f"{pid} {name}: true {(truth>0).sum()} overruled {v[truth>0].sum()} | other {(truth==0).sum()} overruled {v[truth==0].sum()}", flush=True)
for name, t in tot.items():
    print(f"TOTAL {name}: true coronary candidates {t[0]}, overruled {t[1]}; other candidates {t[2]}, overruled {t[3]}")
