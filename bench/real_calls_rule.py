"""Real scans scored the way ``cacscore predict --report DIR`` scores them, with and without an opt-in anatomy rule
(bench/lookalike_calls.RULES), and the report picture of each (the anatomy overlay under the coloured calls).

    PYTHONPATH=src python bench/real_calls_rule.py /work/shared/data/lidc-idri-000{1,2,3} --rule lumen_35 --out DIR

Per series and variant ("shipped", the rule's name): per-vessel Agatston printed and in DIR/scores.csv, the picture
DIR/<variant>/<series>.png (``LesionPredictor.picture``, what ``predict --report`` writes), and the call-by-call
table of bench/lidc_call_anatomy.py (DIR/<variant>/calls.csv). Only the folder name identifies a series.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lidc_call_anatomy import call_table  # noqa: E402
from lookalike_calls import RULES, _predictor  # noqa: E402

from cacscore.core.vessels import VESSELS  # noqa: E402
from cacscore.io.ct import read_ct  # noqa: E402
from cacscore.lesion.classifier import classify_volume  # noqa: E402
from cacscore.predict.predictors import DEFAULT_MODEL  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("series", type=Path, nargs="+")
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--rule", choices=sorted(RULES), nargs="+", default=[])
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    rows = []
    for variant in ["shipped", *a.rule]:
        pred = _predictor(a.model, None if variant == "shipped" else variant)
        (a.out / variant).mkdir(parents=True, exist_ok=True)
        tables = []
        for s in a.series:
            vol = read_ct(s)
            res = pred.score(vol)
            res.id = s.name
            pred.picture(res, vol, a.out / variant)
            sp = tuple(abs(float(v)) for v in vol.spacing_mm)
            cand, classes = classify_volume(vol.hu, sp, pred.model)
            tables.append(call_table(vol.hu, sp, cand, classes).assign(series=s.name))
            row = {"variant": variant, "series": s.name, **res.vessel_scores()}
            rows.append(row)
            print(f"{variant} {s.name}: " + ", ".join(f"{v} {row[v]:.1f}" for v in (*VESSELS, "total")), flush=True)
        pd.concat(tables).to_csv(a.out / variant / "calls.csv", index=False)
    pd.DataFrame(rows).to_csv(a.out / "scores.csv", index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
