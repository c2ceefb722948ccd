"""Which features make a lesion model call inserted hybrid plaques non-coronary (issue 16 item 5, the RCA misses).

    PYTHONPATH=src python bench/hybrid_feature_flips.py [--series lidc-idri-0002] [--seeds 0 1 2]
        [--vessel RCA] [--model DIR] [--out CSV] [--static]

For each hybrid (cacscore.phantom.hybrid.insert_plaques) the model classifies every candidate
(cacscore.lesion.classifier.classify_volume). Among the candidates of inserted plaques of --vessel, the ones called
non-coronary that no rule ruled out (the MLP's own answer) are each compared with the same vessel's candidates that
were called right: one feature at a time is set to the median of the called-right candidates, and the change of
p(non-coronary) is recorded. A feature whose swap alone brings p(non-coronary) below 0.5 "flips" the candidate.
Prints, per feature, how many missed candidates it flips and the median drop of p(non-coronary); the missed and
called-right medians of every feature.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

# bench/ is the script's folder: the same course anchors as bench/hybrid_cases.py
from hybrid_cases import series_landmarks

from cacscore.chest.anatomy import read_chest
from cacscore.core.vessels import LABEL_OF, VESSELS
from cacscore.io.ct import read_ct
from cacscore.lesion.classifier import _softmax, classify_volume, load_model
from cacscore.phantom.hybrid import insert_plaques
from cacscore.predict.predictors import DEFAULT_MODEL


def p_noncoronary(model, table: np.ndarray) -> np.ndarray:
    """The MLP's p(non-coronary) of (n, F) model-input rows, no rule applied."""
    return _softmax(model.numpy_net()(np.nan_to_num((table - model.mean) / model.std, nan=0.0)))[:, 0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--series", default="lidc-idri-0002")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--vessel", default="RCA", choices=VESSELS)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--static", action="store_true", help="plaques without the motion smear (insert_plaques motion=False)")
    ap.add_argument("--landmarks", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "hybrid_landmarks.json",
                    help="course anchors per series (JSON), as bench/hybrid_cases.py")
    ap.add_argument("--no-landmarks", action="store_true", help="every course found by rays (the pre-session-9 courses)")
    a = ap.parse_args(argv)
    landmarks = None if a.no_landmarks else series_landmarks(a.landmarks, a.series)
    model = load_model(a.model)
    names = list(model.feature_names)
    vol = read_ct(a.data / a.series)
    sp = tuple(abs(float(s)) for s in vol.spacing_mm)
    anatomy = read_chest(vol.hu, sp)
    missed, right, every = [], [], []
    for seed in a.seeds:
        case = insert_plaques(vol.hu, sp, anatomy, seed, motion=not a.static, landmarks=landmarks)
        cand, classes = classify_volume(case.hu, sp, model)
        table = model.table(cand.features, cand.anatomy_columns)
        ok = model.may_be_coronary(cand.features, cand.outside_thorax_mm, cand.anatomy_columns)
        on = case.labels == LABEL_OF[a.vessel]
        rows = np.unique(cand.ids[on & (cand.ids > 0)]) - 1
        for r in rows:
            every.append((table[r, names.index("mean_hu")], classes[r] == 0 and ok[r], classes[r] == LABEL_OF[a.vessel],
                          cand.agatston[r]))
            if classes[r] == LABEL_OF[a.vessel]:
                right.append(table[r])
            elif classes[r] == 0 and ok[r]:
                missed.append(table[r])
        print(f"seed {seed}: {len(rows)} {a.vessel} plaque candidates, {int((classes[rows] == 0).sum())} called "
              f"non-coronary ({int(((classes[rows] == 0) & ~ok[rows]).sum())} by a rule)", flush=True)
    ev = pd.DataFrame(every, columns=["mean_hu", "mlp_missed", "right", "au"])
    ev["bin"] = pd.cut(ev["mean_hu"], [130, 400, 600, 800, 5000])
    print(f"\n{a.vessel} plaque candidates by mean HU: count, called non-coronary by the MLP, called {a.vessel} (AU)")
    print(ev.groupby("bin", observed=False).agg(n=("au", "size"), au=("au", "sum"),
                                                missed_au=("au", lambda x: x[ev.loc[x.index, "mlp_missed"]].sum()),
                                                right_au=("au", lambda x: x[ev.loc[x.index, "right"]].sum())).round(1)
          .to_string())
    if not missed or not right:
        print("nothing to compare")
        return 0
    missed, right = np.array(missed), np.array(right)
    base = p_noncoronary(model, missed)
    ref = np.median(right, axis=0)
    res = []
    for j, n in enumerate(names):
        x = missed.copy()
        x[:, j] = ref[j]
        p = p_noncoronary(model, x)
        res.append({"feature": n, "flips": int(((base >= 0.5) & (p < 0.5)).sum()),
                    "median_drop": float(np.median(base - p)), "missed_median": float(np.median(missed[:, j])),
                    "right_median": float(ref[j])})
    df = pd.DataFrame(res).sort_values(["flips", "median_drop"], ascending=False)
    print(f"\n{len(missed)} missed (MLP p(non-coronary) median {np.median(base):.2f}) vs {len(right)} called {a.vessel}:")
    print(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if a.out:
        df.to_csv(a.out, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
