"""`cacscore predict` on heart-centred gated phantom series (issue 16, item 4): per-vessel error against the
phantom's gated truth (Agatston of the gated image with its calcium labels, what the gated XML ROIs score).

    PYTHONPATH=src python bench/lesion_gated_predict.py OUT [--n 12] [--seed 11] [--size 512] [--model DIR]

Writes patients 1..N with their gated series (cacscore.phantom.writer.write_patient(..., gated=True)) under
OUT/release, deletes their non-gated series (not needed here), then runs the CLI once on the N gated series
folders, which all carry the same folder name (as COCA's do), so the ids must come out distinct. Prints the
per-vessel table and writes OUT/predict.csv, OUT/table.md.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from cacscore.core.categories import risk_category4
from cacscore.core.vessels import VESSELS
from cacscore.phantom.writer import GATED_DIR, GATED_SERIES, NONGATED_DIR, write_patient


def _render(root: Path, n: int, seed: int, size: int) -> pd.DataFrame:
    rows = []
    for pid in range(1, n + 1):
        rows.append(write_patient(root, pid, seed=seed, size=size, gated=True))
        shutil.rmtree(root / NONGATED_DIR / str(pid), ignore_errors=True)
    return pd.DataFrame(rows).set_index("id")


def _kappa4(t: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import cohen_kappa_score

    a, b = [risk_category4(v) for v in t], [risk_category4(v) for v in p]
    return float(cohen_kappa_score(a, b, weights="linear", labels=[0, 1, 2, 3])) if len(set(a) | set(b)) > 1 else 1.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--model", type=Path, default=None, help="default: the shipped model")
    ap.add_argument("--reuse", action="store_true", help="reuse OUT/release (truth.csv) when it is there")
    a = ap.parse_args(argv)
    root = a.out / "release"
    if a.reuse and (root / "truth.csv").is_file():
        truth = pd.read_csv(root / "truth.csv").set_index("id")
    else:
        truth = _render(root, a.n, a.seed, a.size)
        truth.to_csv(root / "truth.csv")
    folders = [root / GATED_DIR / "patient" / str(pid) / GATED_SERIES for pid in truth.index]
    cmd = [str(Path(sys.executable).with_name("cacscore")), "predict", *map(str, folders), "--out", str(a.out / "predict.csv"),
           "--force", *(["--model", str(a.model)] if a.model else [])]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    pred = pd.read_csv(a.out / "predict.csv")
    if pred["id"].nunique() != len(folders):
        print(f"ids not distinct: {sorted(pred['id'])}")
        return 1
    # the distinct ids are the shortest telling path suffixes: '<pid>/<series>'
    pred["pid"] = [int(str(i).split("/")[0]) for i in pred["id"]]
    pred = pred.set_index("pid").loc[truth.index]
    lines = ["| vessel | mean truth AU | mean predicted AU | mean abs error AU | median pred / truth (truth > 0) | kappa4 |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for v in (*VESSELS, "total"):
        t, p = truth[f"gated_{v}"].to_numpy(float), pred[v].to_numpy(float)
        pos = t > 0
        ratio = f"{np.median(p[pos] / t[pos]):.2f}" if pos.any() else "-"
        lines.append(f"| {v} | {t.mean():.1f} | {p.mean():.1f} | {np.abs(p - t).mean():.1f} | {ratio} | {_kappa4(t, p):.2f} |")
    t, p = truth["gated_total"].to_numpy(float), pred["total"].to_numpy(float)
    agree = np.mean([risk_category4(x) == risk_category4(y) for x, y in zip(t, p)])
    lines.append(f"\ntotal risk category (4 classes) agreement: {agree:.2f} ({len(t)} gated series); ids: "
                 f"{', '.join(map(str, pred['id'][:3]))}, ...")
    per = "\n".join(f"| {pid} | {truth.loc[pid, 'gated_total']:.0f} | {pred.loc[pid, 'total']:.0f} |" for pid in truth.index)
    table = "\n".join(lines) + "\n\n| patient | gated truth total | predicted total |\n| --- | ---: | ---: |\n" + per
    (a.out / "table.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
