"""Pre-registered confirmation of the ring_soft rule for mitral annular calcification (AnatomyRules.mac_ring_soft;
docs/lesion_scorer.md, "ring_soft rule for MAC"): per case, the candidates are found ONCE (as ``classify_volume`` does,
context wherever any of the models lets a candidate through), every model classifies them with the rule off, and the
rule's verdict (``mac_ring_verdict``, the function ``LesionModel.classify`` applies) is taken on those final calls, so
rule on = rule off with the verdict's candidates set non-coronary; nothing else changes.

    PYTHONPATH=src python bench/mac_ring_rule.py collect OUT.csv --phantom RELEASE:1-40 [--mac-only] \\
        [--hybrids HYBRIDS.csv[:ID,ID]] --model NAME=DIR ...
    PYTHONPATH=src python bench/mac_ring_rule.py report OUT.csv ... [--t 0.75] [--vessels LCX]

``collect`` appends one row per candidate called coronary by some model, or MAC (phantom anatomy label / hybrid MAC
mask covering a quarter of its voxels): case, truth class, MAC flag, Agatston, ring_soft, each model's class. Cases
already in OUT.csv are skipped (a run can be resumed). ``report`` prints per data set and model: MAC AU called
coronary off / on, true coronary AU found (called any coronary vessel) and the AU the rule takes from it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from cacscore.io.ct import read_ct, read_labels
from cacscore.lesion import classifier as C
from cacscore.lesion.anatomy import AnatomyRules, mac_ring_verdict
from cacscore.lesion.candidates import FEATURE_NAMES, candidate_targets
from id_ranges import id_range  # noqa: E402 - bench/ is on sys.path (run as a script, or the tests put it there)


def _mac_flag(ids: np.ndarray, mac: np.ndarray, n: int) -> np.ndarray:
    """(n,) bool: a quarter of the candidate's voxels in the MAC mask (as bench/mac_rule.py tags look-alikes)."""
    sel = ids > 0
    tot = np.bincount(ids[sel], minlength=n + 1)[1:]
    inm = np.bincount(ids[sel & mac], minlength=n + 1)[1:]
    return inm >= 0.25 * np.maximum(tot, 1)


def collect_case(hu: np.ndarray, sp, labels: np.ndarray, mac: np.ndarray, models: dict[str, C.LesionModel],
                 case: str, dataset: str) -> pd.DataFrame:
    ms = list(models.values())
    cand = C.framed_candidates(hu, sp, ms[0].config, threshold_hu=ms[0].threshold_hu, min_area_mm2=ms[0].min_area_mm2,
                               context_where=lambda f, o, a: np.logical_or.reduce([m.may_be_coronary(f, o, a) for m in ms]))
    cls = {n: m.classify(cand.features, cand.outside_thorax_mm, cand.anatomy_columns, cand.structure, cand.agatston)
           for n, m in models.items()}
    truth = candidate_targets(cand.ids, labels)
    is_mac = _mac_flag(cand.ids, mac, cand.n) & (truth == 0)
    keep = is_mac | (truth > 0) | np.logical_or.reduce([c > 0 for c in cls.values()])
    df = pd.DataFrame({"dataset": dataset, "case": case, "truth": truth, "mac": is_mac, "agatston": cand.agatston,
                       "ring_soft": cand.features[:, FEATURE_NAMES.index("ring_soft")]})
    for n, c in cls.items():
        df[f"cls_{n}"] = c
    return df[keep]


def cases(args) -> list[tuple[str, str, callable]]:
    out = []
    for spec in args.phantom or []:
        rel, _, ids = spec.partition(":")
        rel = Path(rel)
        truth = pd.read_csv(rel / "truth.csv").set_index("id")
        for pid in map(str, id_range(ids)):
            if args.mac_only and not int(truth.loc[int(pid), "mac"]):
                continue

            def load(rel=rel, pid=pid):
                from cacscore.phantom.anatomy import LABEL
                vol = read_ct(rel / "deidentified_nongated" / pid / pid)
                alab = read_labels(rel / "anatomy" / f"{pid}.nii.gz")
                return vol, read_labels(rel / "labels" / f"{pid}.nii.gz"), alab == LABEL["mitral_annulus_calcium"]
            out.append((rel.name, f"{rel.name}/{pid}", load))
    for spec in args.hybrids or []:
        path, _, ids = spec.partition(":")
        t = pd.read_csv(path)
        if ids:
            t = t[t["id"].isin(ids.split(","))]
        for _, r in t.iterrows():
            def load(r=r):
                vol = read_ct(r["ct"])
                lab = read_labels(r["labels"])
                mm = r.get("mac_mask")
                mac = read_labels(mm) > 0 if isinstance(mm, str) and mm else np.zeros(lab.shape, bool)
                return vol, lab, mac
            out.append(("hyb_" + r["series"] + ("_mac" if r.get("mac_au", 0) > 0 else "_plain"), r["id"], load))
    return out


def collect(args) -> None:
    models = {n: C.load_model(p) for n, p in (s.split("=", 1) for s in args.model)}
    done = set(pd.read_csv(args.out)["case"]) if args.out.is_file() else set()
    for dataset, case, load in cases(args):
        if case in done:
            continue
        t0 = time.time()
        vol, lab, mac = load()
        sp = (abs(float(vol.spacing_mm[0])), *(float(s) for s in vol.spacing_mm[1:]))
        df = collect_case(vol.hu, sp, lab, mac, models, case, dataset)
        df.to_csv(args.out, mode="a", header=not args.out.is_file(), index=False)
        print(f"{case}: {len(df)} rows, {time.time() - t0:.0f} s", flush=True)


def report(args) -> None:
    d = pd.concat([pd.read_csv(p) for p in args.csv])
    rules = AnatomyRules(mac_ring_soft=args.t, mac_ring_vessels=tuple(args.vessels))
    rows = []
    names = [c[4:] for c in d.columns if c.startswith("cls_")]
    for ds, g in d.groupby("dataset"):
        for n in names:
            c = g[f"cls_{n}"].to_numpy()
            fire = mac_ring_verdict(c, g["ring_soft"].to_numpy(), rules)
            au = g["agatston"].to_numpy()
            mac, cor = g["mac"].to_numpy(), g["truth"].to_numpy() > 0
            called = c > 0
            found = au[cor & called].sum()
            taken = au[cor & called & fire].sum()
            rows.append({"dataset": ds, "model": n, "cases": g["case"].nunique(), "mac_au": au[mac].sum(),
                         "mac_cor_off": au[mac & called].sum(), "mac_cor_on": au[mac & called & ~fire].sum(),
                         "cor_found_off": found, "cor_taken": taken, "taken_pct": 100 * taken / max(found, 1e-9),
                         "other_fp_taken": au[~mac & ~cor & called & fire].sum()})
    t = pd.DataFrame(rows)
    t["mac_drop_pct"] = 100 * (1 - t["mac_cor_on"] / t["mac_cor_off"].where(t["mac_cor_off"] > 0))
    pd.set_option("display.width", 200)
    print(t.round(1).to_string(index=False))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("out", type=Path)
    c.add_argument("--phantom", nargs="*", help="RELEASE:IDS")
    c.add_argument("--mac-only", action="store_true", help="phantom patients with MAC only (truth.csv mac)")
    c.add_argument("--hybrids", nargs="*", help="HYBRIDS.csv[:ID,ID]")
    c.add_argument("--model", nargs="+", required=True)
    r = sub.add_parser("report")
    r.add_argument("csv", nargs="+", type=Path)
    r.add_argument("--t", type=float, default=0.75)
    r.add_argument("--vessels", nargs="+", default=["LCX"], help="the rule's scope (pre-registered: LCX)")
    args = ap.parse_args(argv)
    collect(args) if args.cmd == "collect" else report(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
