"""Mitral annular calcification (MAC) against LCX plaque in the shape / side-tissue columns (issue 16, session 13,
wt21c; cacscore.lesion.context): per data set (phantom releases, hybrids of real series with inserted MAC), the
MAC candidates and the LCX plaque candidates, their columns, and how well each column alone separates them (AUC,
candidate level, and AU-weighted).

    PYTHONPATH=src python bench/mac_shape_features.py OUT.csv --release NAME=DIR[:ID,ID,...] ...
        --hybrids NAME=HYBRIDS.csv ... [--models DIR ...]

--models: each model's MLP alone (no rule, no structure vote) on the stored rows: MAC AU it calls coronary and LCX AU
it calls LCX, per data set (a quick look, not the product's calls: bench/hybrid_cases.py and phantom-eval give those).

Phantom MAC: candidates whose majority anatomy label is mitral_annulus_calcium (bench/hybrid_training.py
lookalike_kinds) and no coronary target; hybrid MAC: candidates with most voxels in the case's MAC footprint
(mac-hybrids' mac_mask). LCX: candidates whose target is LCX. Only candidates within 110 mm of the found heart
centre (the classifier's reach). Writes one row per candidate (OUT.csv) and prints the table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hybrid_training import lookalike_kinds

from cacscore import lesion as L
from cacscore.io.ct import read_ct, read_labels
from cacscore.lesion.context import SHAPE_NAMES

LCX = 3
SHOW = ("fat_8mm", "soft_8mm", "log_vol3d_mm3", "n_slices3d", *SHAPE_NAMES)


def _rows(cand, groups: np.ndarray, dataset: str, case: str) -> pd.DataFrame:
    near = cand.features[:, L.FEATURE_NAMES.index("dist_mm")] <= 110.0
    on = near & (groups != "")
    df = pd.DataFrame(cand.features[on], columns=list(L.FEATURE_NAMES))
    df.insert(0, "agatston", cand.agatston[on])
    df.insert(0, "group", groups[on])
    df.insert(0, "case", case)
    df.insert(0, "dataset", dataset)
    return df


def phantom_rows(name: str, release: Path, ids: list[str]) -> pd.DataFrame:
    names = {int(k): v for k, v in json.loads((release / "anatomy" / "labels.json").read_text()).items()}
    out = []
    for i in ids:
        vol = read_ct(release / "deidentified_nongated" / i / i)
        sp = (abs(float(vol.spacing_mm[0])), *vol.spacing_mm[1:])
        cand = L.find_candidates(vol.hu, sp)
        kind = lookalike_kinds(cand.ids, read_labels(release / "anatomy" / f"{i}.nii.gz"), names)
        t = L.candidate_targets(cand.ids, read_labels(release / "labels" / f"{i}.nii.gz"))
        g = np.where((kind == "MAC") & (t == 0), "MAC", np.where(t == LCX, "LCX", ""))
        out.append(_rows(cand, g, name, f"{release.name}/{i}"))
        print(f"  {name} {i}: MAC {int((g == 'MAC').sum())}, LCX {int((g == 'LCX').sum())}", flush=True)
    return pd.concat(out, ignore_index=True)


def hybrid_rows(name: str, csv: Path) -> pd.DataFrame:
    h = pd.read_csv(csv, dtype={"id": str})
    h = h[h["mac_mask"].notna()]
    out = []
    for _, r in h.iterrows():
        vol = read_ct(Path(r["ct"]))
        sp = (abs(float(vol.spacing_mm[0])), *vol.spacing_mm[1:])
        cand = L.find_candidates(vol.hu, sp)
        t = L.candidate_targets(cand.ids, read_labels(Path(r["labels"])))
        mac = L.candidate_targets(cand.ids, read_labels(Path(r["mac_mask"])).astype(np.uint8)) > 0
        g = np.where(mac & (t == 0), "MAC", np.where(t == LCX, "LCX", ""))
        out.append(_rows(cand, g, name, r["id"]))
        print(f"  {name} {r['id']}: MAC {int((g == 'MAC').sum())}, LCX {int((g == 'LCX').sum())}", flush=True)
    return pd.concat(out, ignore_index=True)


def auc(pos: np.ndarray, neg: np.ndarray, wp: np.ndarray | None = None, wn: np.ndarray | None = None) -> float:
    """P(a MAC value > an LCX value) (+ half the ties), optionally weighted (AU): the Mann-Whitney AUC."""
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    wp = np.ones(len(pos)) if wp is None else wp
    wn = np.ones(len(neg)) if wn is None else wn
    order = np.argsort(neg)
    ns, cw = neg[order], np.concatenate([[0.0], np.cumsum(wn[order])])
    lo, hi = np.searchsorted(ns, pos, "left"), np.searchsorted(ns, pos, "right")
    s = (wp * (cw[lo] + 0.5 * (cw[hi] - cw[lo]))).sum()
    return float(s / (wp.sum() * wn.sum()))


def summary(df: pd.DataFrame) -> None:
    for ds, d in df.groupby("dataset", sort=False):
        mac, lcx = d[d["group"] == "MAC"], d[d["group"] == "LCX"]
        print(f"\n{ds}: MAC {len(mac)} candidates ({mac['agatston'].sum():.0f} AU), "
              f"LCX {len(lcx)} ({lcx['agatston'].sum():.0f} AU)")
        print("| column | MAC median (5, 95 %) | LCX median (5, 95 %) | AUC MAC > LCX | AU-weighted |")
        print("| --- | --- | --- | ---: | ---: |")
        for c in SHOW:
            q = lambda x: "{:.2f} ({:.2f}, {:.2f})".format(*np.percentile(x, [50, 5, 95])) if len(x) else "-"
            a = auc(mac[c].to_numpy(), lcx[c].to_numpy())
            aw = auc(mac[c].to_numpy(), lcx[c].to_numpy(), mac["agatston"].to_numpy(), lcx["agatston"].to_numpy())
            print(f"| {c} | {q(mac[c])} | {q(lcx[c])} | {a:.2f} | {aw:.2f} |")


def mlp_calls(df: pd.DataFrame, models: list[Path]) -> None:
    print("\n| model | " + " | ".join(f"{ds}: MAC AU called coronary / LCX AU called LCX"
                                     for ds in df["dataset"].unique()) + " |")
    print("| --- |" + " ---: |" * df["dataset"].nunique())
    for m in models:
        model = L.load_model(m)
        cells = []
        for _, d in df.groupby("dataset", sort=False):
            c = model.predict(model.table(d[list(L.FEATURE_NAMES)].to_numpy(np.float32)))
            au, mac, lcx = d["agatston"].to_numpy(), (d["group"] == "MAC").to_numpy(), (d["group"] == "LCX").to_numpy()
            cells.append(f"{au[mac & (c > 0)].sum():.0f} of {au[mac].sum():.0f} / {au[lcx & (c == LCX)].sum():.0f} of "
                         f"{au[lcx].sum():.0f}")
        print(f"| {m.name} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--release", nargs="*", default=[], help="NAME=DIR:ID,ID,... (phantom release and patients)")
    ap.add_argument("--hybrids", nargs="*", default=[], help="NAME=hybrids.csv (rows with a mac_mask are read)")
    ap.add_argument("--models", nargs="*", type=Path, default=[])
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    if a.out.is_file():
        df = pd.read_csv(a.out)
    else:
        parts = []
        for spec in a.release:
            name, rest = spec.split("=", 1)
            d, ids = rest.split(":", 1)
            parts.append(phantom_rows(name, Path(d), ids.split(",")))
        for spec in a.hybrids:
            name, csv = spec.split("=", 1)
            parts.append(hybrid_rows(name, Path(csv)))
        df = pd.concat(parts, ignore_index=True)
        a.out.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(a.out, index=False)
    summary(df)
    if a.models:
        mlp_calls(df, a.models)
    print(f"\n{time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
