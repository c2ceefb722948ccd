"""Exploratory reads of a bench/lookalike_calls.py cache (session 16, wt24d; docs/lesion_scorer.md).

    PYTHONPATH=src:bench python bench/lookalike_calls_explore.py OUT RELEASE

OUT: the bench's output folder (OUT/cache/<pid>.npz); RELEASE: the phantom release it scored (truth.csv: the drawn
noise sigma; anatomy/: the label at each "other" call's centroid). Prints (1) per drawn look-alike kind how many
candidates reached the MLP, its largest coronary probability and which anatomy rules fire; (2) the "other" calls by
the anatomy label at their centroid; (3) the noise-like calls (heart without a calcium label, other, abdominal organs)
by the drawn noise sigma, and what a speck rule "peak < 40 HU + k sigma (and structure <= V mm^3)" would take, with
the phantom's own sigma (a scan does not carry it: exploratory only); (4) the offline effect of each bench RULES entry
on the cached calls (the verdict of each call's parent candidate; the --rule run is the exact one).
"""

from __future__ import annotations

import glob
import sys
from collections import Counter

import numpy as np
import pandas as pd

import lookalike_calls as B
from cacscore.io.ct import read_labels
from cacscore.lesion.anatomy import ANATOMY_NAMES, RULE_NAMES, AnatomyRules, anatomy_verdicts
from cacscore.lesion.candidates import FEATURE_NAMES
from cacscore.phantom.anatomy import ANATOMY_LABELS


def main(out: str, release: str) -> None:
    per = {}
    for f in sorted(glob.glob(f"{out}/cache/*.npz")):
        with np.load(f) as z:
            per[int(f.split("/")[-1][:-4])] = {k: z[k] for k in z.files}
    truth = pd.read_csv(f"{release}/truth.csv").set_index("id")
    for kind in ("mitral annulus (MAC)", "aortic valve", "aortic wall: root/ascending", "lymph node"):
        pm, fire, n, may = [], Counter(), 0, 0
        for r in per.values():
            s = np.flatnonzero(r["kind"] == B.K[kind])
            if not len(s):
                continue
            for row in anatomy_verdicts(r["parent_anatomy"][s], AnatomyRules()):
                fire[", ".join(RULE_NAMES[q] for q in np.flatnonzero(row)) or "none"] += 1
            may += int(r["parent_may"][s].sum())
            n += len(s)
            pm += list(1 - r["parent_proba"][s][:, 0][r["parent_may"][s]])
        pm = np.array(pm)
        print(f"{kind}: {n} candidates, {may} reached the MLP, p(coronary) max "
              f"{pm.max() if len(pm) else float('nan'):.3f}, > 0.1: {(pm > 0.1).sum()}; rules: {dict(fire)}")
    lab, cnt = Counter(), Counter()
    rows = []
    for pid, r in per.items():
        called = r["called_au"].sum(1) > 0
        sel = np.flatnonzero((r["kind"] == B.K["other"]) & called)
        if len(sel):
            an = read_labels(f"{release}/anatomy/{pid}.nii.gz")
            for i in sel:
                name = ANATOMY_LABELS[int(an[tuple(np.rint(r["centroid"][i]).astype(int))])]
                lab[name] += float(r["called_au"][i].sum())
                cnt[name] += 1
        for i in np.flatnonzero(called):
            rows.append({"pid": pid, "kind": B.KINDS[r["kind"][i]], "au": float(r["called_au"][i].sum()),
                         "sigma": truth.loc[pid, "noise_sigma_hu"],
                         "peak": r["parent_features"][i][FEATURE_NAMES.index("peak_hu")],
                         "svol": r["parent_anatomy"][i][ANATOMY_NAMES.index("structure_mm3")]})
    print("'other' calls by the label at the centroid (count, AU):", {k: (cnt[k], round(v, 1)) for k, v in lab.items()})
    d = pd.DataFrame(rows)
    cor = d.kind == "coronary"
    noise = d.kind.isin(["heart, no calcium label", "other", "abdominal organs"])
    print("noise-like calls by drawn sigma (count, AU):",
          d[noise].groupby(pd.cut(d[noise].sigma, [0, 30, 40, 50, 61]), observed=False).au.agg(["count", "sum"])
          .round(1).to_dict("index"))
    z = (d.peak - 40) / d.sigma
    for k in (3.5, 4.0, 4.5):
        for v in (20.0, np.inf):
            veto = (z < k) & (d.svol <= v)
            print(f"speck rule k={k} V={v}: noise-like AU taken {d.au[veto & noise].sum():.0f} of {d.au[noise].sum():.0f}"
                  f", true AU lost {d.au[veto & cor].sum():.1f} of {d.au[cor].sum():.0f} ({(veto & cor).sum()} "
                  f"candidates, patients {sorted(set(d.pid[veto & cor]))})")
    print("true coronary peak HU q0/q10/q50:", d[cor].peak.quantile([0, .1, .5]).round(0).tolist(),
          "noise-like peak max:", d[noise].peak.max())
    for name, fields in B.RULES.items():
        rules = AnatomyRules(**fields)
        taken, lost = Counter(), 0.0
        for r in per.values():
            called = r["called_au"].sum(1)
            fires = anatomy_verdicts(r["parent_anatomy"], rules).any(1) & ~r["parent_verdicts"].any(1) \
                if r["parent_verdicts"].shape[1] == len(RULE_NAMES) else anatomy_verdicts(r["parent_anatomy"], rules).any(1)
            for i in np.flatnonzero(fires & (called > 0)):
                if r["kind"][i] == B.K["coronary"]:
                    lost += called[i]
                else:
                    taken[B.KINDS[r["kind"][i]]] += called[i]
        print(f"rule {name} (offline): takes {dict((k, round(v, 1)) for k, v in taken.items())}, true AU lost {lost:.1f}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
