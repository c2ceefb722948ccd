"""True coronary calcium that the anatomy rules overrule, against the pericardium margin, on held-out phantoms;
and what the same margins leave called coronary on real series.

For each scan: the classifier's classes without the anatomy rules, then with each margin of the "outside the
pericardium" rule (the other rules as they are); true coronary AU scored 0 and non-coronary AU called coronary,
summed over the phantom patients (``labels/<pid>.nii.gz``), and the AU called coronary on each real series.
Then, per rule (the default margins), the true coronary AU that rule alone calls non-coronary (whatever the
classifier said: the rule's cost) and the AU the classifier called coronary that the rule takes away.

    .venv/bin/python bench/anatomy_rules_overrule.py OUT/release OUT/model --ids 121-160 \\
        --real ../shared/data/lidc-idri-0001 ../shared/data/lidc-idri-0002 ../shared/data/lidc-idri-0003

(OUT = bench/train_default_model.py's work folder.) Measured for the shipped model: 12 mm missed 1,030 AU of
true coronary calcium (447 AU of it by the rule), 30 mm 584 AU (none by the rule), no false positive either way.
"""

from __future__ import annotations

import argparse
import dataclasses
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from cacscore import lesion as L
from cacscore.io.ct import read_ct, read_labels
from cacscore.lesion.anatomy import RULE_NAMES, AnatomyRules, anatomy_verdicts
from cacscore.lesion.noise import image_noise_hu

MARGINS = (12.0, 20.0, 30.0, 40.0)


def one(job: tuple[str, str | None, str]) -> tuple[str, dict[float, tuple[float, float]]]:
    import torch

    torch.set_num_threads(1)
    path, labels, model_dir = job
    v = read_ct(path)
    sp = tuple(abs(float(s)) for s in v.spacing_mm)
    m = L.load_model(model_dir)
    cand, _ = L.classify_volume(v.hu, sp, m)
    plain = dataclasses.replace(m, config=dataclasses.replace(m.config, anatomy_rules=False))
    # the product's inputs (session 22): the ring veto's HU term needs ring_hu and raised without it since session 20
    noise = image_noise_hu(v.hu, cand.spacing_mm) if m.config.needs_noise else None
    base = plain.classify(cand.features, cand.outside_thorax_mm, cand.anatomy_columns, cand.structure, cand.agatston,
                          noise_sd=noise, ring_hu=L.classifier.ring_hu_column(v.hu, cand, m))
    t = L.candidate_targets(cand.ids, read_labels(labels)) if labels else np.zeros(len(base), int)
    out = {}
    for mg in MARGINS:
        verd = anatomy_verdicts(cand.anatomy_columns, AnatomyRules(outside_pericardium_mm=mg)).any(1)
        c = np.where(verd, 0, base)
        out[mg] = (float(cand.agatston[(t > 0) & (c == 0)].sum()), float(cand.agatston[(t == 0) & (c > 0)].sum()))
    verd = anatomy_verdicts(cand.anatomy_columns, AnatomyRules())
    for i, name in enumerate(RULE_NAMES):
        out[name] = (float(cand.agatston[(t > 0) & verd[:, i]].sum()), float(cand.agatston[(base > 0) & verd[:, i]].sum()))
    return Path(path).name, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("release", type=Path)
    ap.add_argument("model", type=Path)
    ap.add_argument("--ids", default="121-160", help="phantom patients, LO-HI")
    ap.add_argument("--real", type=Path, nargs="*", default=[])
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    lo, hi = (int(x) for x in a.ids.split("-"))
    ng = a.release / "deidentified_nongated"
    jobs = [(str(ng / str(p) / str(p)), str(a.release / "labels" / f"{p}.nii.gz"), str(a.model)) for p in range(lo, hi + 1)]
    jobs += [(str(r), None, str(a.model)) for r in a.real]
    with ProcessPoolExecutor(a.workers) as ex:
        res = list(ex.map(one, jobs))
    n = hi - lo + 1
    for mg in MARGINS:
        fn = sum(o[mg][0] for _, o in res[:n])
        fp = sum(o[mg][1] for _, o in res[:n])
        real = {k: round(o[mg][1], 1) for k, o in res[n:]}
        print(f"margin {mg:4.0f} mm: phantom coronary AU missed (all causes) {fn:7.1f}, false-positive AU {fp:6.1f}; "
              f"real series called coronary AU {real}")
    for name in RULE_NAMES:
        cost = sum(o[name][0] for _, o in res[:n])
        taken = sum(o[name][1] for _, o in res[:n])
        real = {k: round(o[name][1], 1) for k, o in res[n:]}
        print(f"rule {name!r}: true coronary AU it overrules {cost:7.1f}; AU called coronary it takes away: phantom "
              f"{taken:7.1f}, real {real}")


if __name__ == "__main__":
    main()
