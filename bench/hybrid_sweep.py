"""The hybrid-weight sweep's tables (issue 16, item 5; docs/lesion_scorer.md, "Training with hybrid cases").

    PYTHONPATH=src python bench/hybrid_sweep.py merge OUT/merged_0001 EVAL_DIR:OLD=NEW ... [EVAL_DIR:OLD=NEW ...]
    PYTHONPATH=src python bench/hybrid_sweep.py phantom --truth PHANTOM_EVAL/truth.csv NAME=PHANTOM_EVAL:MODEL ...

merge: bench/hybrid_cases.py output folders (hybrids.csv, plaques.csv, fp.csv) of the SAME held-out series, written by
different runs, joined into one folder with the models renamed (e.g. wt18a's "hybrid" -> "k10"), so that
``hybrid_training.py report`` pools every model of the sweep with one paired bootstrap. The hybrids are deterministic
(seed -> same plaques), so rows of different runs are the same cases: checked (the truth columns of each
series x seed must agree across the joined runs), one-line error naming the folder otherwise.

phantom: per model, the held-out phantom's numbers of the sweep from phantom-eval folders (pred_<MODEL>.csv and
eval_<MODEL>/metrics.csv): ratio total (constant-mean mse_norm / model mse_norm), kappa4 total [CI], and the AU
called RCA and LCX on the patients with mitral annulus calcification (truth column ``mac`` > 0), with their truth.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

TABLES = ("hybrids.csv", "plaques.csv", "fp.csv")
TRUTH_COLS = ["truth_LCA", "truth_LAD", "truth_LCX", "truth_RCA"]


def parse_source(spec: str) -> tuple[Path, dict[str, str]]:
    """'DIR:OLD=NEW,OLD2=NEW2' -> (DIR, {OLD: NEW, ...}); only the named models of DIR are kept."""
    folder, _, names = spec.rpartition(":")
    if not folder or "=" not in names:
        raise SystemExit(f"{spec}: expected DIR:OLD=NEW[,OLD=NEW]")
    return Path(folder), dict(p.split("=", 1) for p in names.split(","))


def merge(out: Path, sources: list[tuple[Path, dict[str, str]]]) -> dict[str, pd.DataFrame]:
    """The sources' tables, models renamed and kept in the order given, written under out."""
    merged: dict[str, list[pd.DataFrame]] = {t: [] for t in TABLES}
    for folder, names in sources:
        for t in TABLES:
            df = pd.read_csv(folder / t)
            missing = set(names) - set(df["model"])
            if t == "hybrids.csv" and missing:
                raise SystemExit(f"{folder / t}: no model {', '.join(sorted(missing))}")
            df = df[df["model"].isin(names)]
            df = df.assign(model=df["model"].map(names))
            merged[t].append(df)
    tables = {t: pd.concat(v, ignore_index=True) for t, v in merged.items()}
    h = tables["hybrids.csv"]
    spread = h.groupby(["series", "seed"])[TRUTH_COLS].agg(lambda c: c.max() - c.min()).to_numpy().max()
    if spread > 1e-6:
        raise SystemExit(f"{sources[0][0]}: the joined runs disagree on a hybrid's truth (not the same cases)")
    if h.duplicated(["model", "series", "seed"]).any():
        raise SystemExit(f"{sources[0][0]}: a model name occurs in two joined runs")
    out.mkdir(parents=True, exist_ok=True)
    for t, df in tables.items():
        df.to_csv(out / t, index=False)
    return tables


def phantom_row(truth: pd.DataFrame, folder: Path, model: str) -> dict:
    m = pd.read_csv(folder / f"eval_{model}" / "metrics.csv")
    tot = m[m["vessel"] == "total"].set_index("metric")
    pred = pd.read_csv(folder / f"pred_{model}.csv", dtype={"id": str}).set_index("id")
    mac = truth.loc[truth["mac"] > 0, "id"]
    return {"ratio_total": tot.loc["mse_norm", "baseline"] / tot.loc["mse_norm", "value"],
            "kappa4_total": tot.loc["kappa4", "value"], "kappa4_lo": tot.loc["kappa4", "ci_low"],
            "kappa4_hi": tot.loc["kappa4", "ci_high"], "n_mac": len(mac),
            "mac_RCA_called": pred.loc[mac, "RCA"].sum(), "mac_LCX_called": pred.loc[mac, "LCX"].sum(),
            "mac_RCA_truth": truth.set_index("id").loc[mac, "RCA"].sum(),
            "mac_LCX_truth": truth.set_index("id").loc[mac, "LCX"].sum()}


def phantom_table(truth_csv: Path, specs: list[str]) -> pd.DataFrame:
    """NAME=FOLDER:MODEL ... -> one row per NAME (the phantom's sweep numbers)."""
    truth = pd.read_csv(truth_csv, dtype={"id": str})
    rows = []
    for spec in specs:
        name, _, rest = spec.partition("=")
        folder, _, model = rest.rpartition(":")
        if not name or not folder:
            raise SystemExit(f"{spec}: expected NAME=FOLDER:MODEL")
        rows.append({"model": name, **phantom_row(truth, Path(folder), model)})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("merge")
    m.add_argument("out", type=Path)
    m.add_argument("sources", nargs="+", help="EVAL_DIR:OLD=NEW[,OLD=NEW]")
    p = sub.add_parser("phantom")
    p.add_argument("--truth", type=Path, required=True)
    p.add_argument("models", nargs="+", help="NAME=PHANTOM_EVAL_DIR:MODEL")
    a = ap.parse_args(argv)
    if a.cmd == "merge":
        t = merge(a.out, [parse_source(s) for s in a.sources])
        print(f"{a.out}: models {', '.join(dict.fromkeys(t['hybrids.csv']['model']))}, "
              f"{len(t['hybrids.csv'])} hybrid rows", flush=True)
    else:
        pd.set_option("display.width", 200)
        print(phantom_table(a.truth, a.models).to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
