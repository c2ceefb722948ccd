"""Voxel-level vessel split at the left-main bifurcation (issue 16; docs/lesion_scorer.md "Voxel-level vessel split").

    PYTHONPATH=src python bench/voxel_split.py dev SCAN OUT [--split MIN,PIECE[,MINP] ...] [--guard P ...] [--n 60]
    PYTHONPATH=src python bench/voxel_split.py eval RELEASE OUT --model NAME=DIR[+rules:NAME] ... [--n 60] [--split MIN,PIECE]
        [--keep P] [--variant NAME=SPEC ...]
    PYTHONPATH=src python bench/voxel_split.py hybrids HYBRID_CASES_ARGS ... (--model NAME=DIR[+rules:NAME]+split:SPEC[+keep:P])

dev (offline, development seeds only): SCAN is a ``bench/largest_errors.py scan`` folder (candidates.csv with each
candidate's features, heart reference and each model's final class, of the release named in its scan.json). Per
patient the CT is read again and its candidates found again (``candidates._components``: the same ids as the scan's),
then scored per vessel with ``agatston`` on label volumes:
  - ``plain``: each candidate its model's class (checked against the scan's pred_<model>.csv);
  - ``split MIN,PIECE``: ``cacscore.lesion.split.split_labels`` (candidates called LCA/LAD/LCX of at least MIN mm2
    cut into pieces of about PIECE mm2, each piece asked to the model);
  - ``guardP_plain`` / ``guardP_split...``: the classes replayed from the stored MLP probabilities with
    ``tree.keep_confident(min_p=P)`` after the structure vote (a candidate the MLP called a vessel with p >= P keeps
    it), then plain or split;
  - ``oracle_candidate``: each candidate its reference class (``candidate_targets``: the majority coronary label);
  - ``oracle_voxel``: each candidate voxel its true vessel label (the release's labels on the candidates' voxels).
and the 4-vessel MSE ratio vs the constant mean (``cacscore evaluate``'s all4 mse_norm: error / the vessel's
largest reference over the patients, squared, averaged) and kappa4 (on the total) of each are printed and written to
OUT/dev.csv, with the predictions in OUT/pred_<model>_<variant>.csv.

eval (the product's path, for the pre-registered confirmation): per patient ``bench/hybrid_cases.classify_many``
(what classify_volume gives each model), then per model the plain labels and ``split_labels`` with the given
setting; OUT/pred_<model>_{plain,split}.csv, and ``cacscore evaluate`` on each (bootstrap 1000, seed 0): ratio all4,
kappa4 with their intervals, printed and in OUT/eval.csv. --keep P: each model is also run as <model>_keepP with
ClassifierConfig.keep_confident_p = P (session 14's rule: <model>_keepP_split with --split 10,5,0,all,0,own=1).
SPEC (parse_split): MIN,PIECE[,MINP[,pos|all[,MAXP]]][,part=MM2][,own=0|1][,method=kmeans|axis][,pieces=K]
[,anchor=P][,reach=MM] and the keys parse_split lists.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cacscore import lesion as L
from cacscore.core.vessels import VESSELS
from cacscore.evaluation.metrics import weighted_kappa
from cacscore.io.ct import read_ct, read_labels
from cacscore.lesion.candidates import _components, assign_labels
from cacscore.lesion.classifier import load_model, vessel_labels
from cacscore.lesion.split import SplitSettings, split_labels
from cacscore.scoring.agatston import agatston

V = list(VESSELS)


def score(hu: np.ndarray, labels: np.ndarray, sp: tuple[float, float, float]) -> dict[str, float]:
    r = agatston(hu, labels, pixel_spacing_mm=(sp[1], sp[2]), slice_spacing_mm=sp[0])
    return {v: r.per_vessel[v] for v in V}


def metrics(truth: pd.DataFrame, pred: pd.DataFrame) -> tuple[float, float]:
    """(4-vessel MSE ratio vs the constant mean, kappa4 on the summed four vessels) as cacscore evaluate."""
    t = truth.set_index("id")[V].astype(float)
    p = pred.set_index("id").loc[t.index, V].astype(float)
    scale = t.max().clip(lower=1.0)
    z = t / scale
    base = float(((z - z.mean()) ** 2).to_numpy().mean())
    mse = float((((p - t) / scale) ** 2).to_numpy().mean())
    return base / mse, float(weighted_kappa(t.sum(axis=1).to_numpy(), p.sum(axis=1).to_numpy()))


def parse_split(s: str) -> SplitSettings:
    """MIN,PIECE[,MINP[,pos|all[,MAXP]]][,KEY=VALUE ...]: pos = only the pieces' position columns are their own
    (SplitSettings.piece_columns); MAXP: SplitSettings.max_parent_p; KEY=VALUE (session 14): part=MIN_PART_MM2,
    own=0|1 (SplitSettings.own_part), method=kmeans|axis, pieces=MAX_PIECES; (session 17) anchor=P
    (SplitSettings.anchor_p), reach=MM (SplitSettings.anchor_mm), self=0|1 (SplitSettings.anchor_self), selfp=P
    (SplitSettings.anchor_self_p); (session 18) lcareach=MM (SplitSettings.lca_reach_mm), lcaagree=0|1
    (SplitSettings.lca_agree), lcalen=MM (SplitSettings.lca_len_mm),
    lcadenied=anchor|class (SplitSettings.lca_denied); (session 19) branch=MM (SplitSettings.branch_mm), bgap=MM
    (branch_gap_mm), bcost=X (branch_gap_cost), bmargin=MM (branch_margin_mm), blca=0|1 (branch_lca), bmin=MM
    (branch_min_mm); (session 21) keepp=P (SplitSettings.anchor_keep_p), keepv=DIGITS (anchor_keep_vessels, e.g. 1
    = LCA, 123 = any left vessel), keepabs=0|1 (anchor_keep_unanchored); (session 23) lcaself=P (SplitSettings.lca_self_p), lcaselfmm=MM (lca_self_mm); (session 24) lcaright=MM
    (SplitSettings.lca_right_mm), lcarightmm=MM (lca_right_reach_mm), lcarighto=0|1
    (lca_right_origin)."""
    tok = s.split(",")
    v = [t for t in tok if "=" not in t]
    kw = dict(t.split("=", 1) for t in tok if "=" in t)
    unknown = set(kw) - {"part", "own", "method", "pieces", "anchor", "reach", "self", "selfp",
                         "lcareach", "lcaagree", "lcalen", "lcadenied",
                         "branch", "bgap", "bcost", "bmargin", "blca", "bmin", "keepp", "keepv", "keepabs", "lcaself", "lcaselfmm",
                         "lcaright", "lcarightmm", "lcarighto"}
    if unknown:
        raise SystemExit(f"--split {s}: unknown {sorted(unknown)}")
    return SplitSettings(min_area_mm2=float(v[0]), piece_mm2=float(v[1]),
                         min_left_p=float(v[2]) if len(v) > 2 else 0.0,
                         piece_columns="position" if len(v) > 3 and v[3] == "pos" else "all",
                         max_parent_p=float(v[4]) if len(v) > 4 else 1.0,
                         min_part_mm2=float(kw.get("part", 0.0)), own_part=kw.get("own", "0") == "1",
                         method=kw.get("method", "kmeans"), max_pieces=int(kw.get("pieces", 8)),
                         anchor_p=float(kw["anchor"]) if "anchor" in kw else None,
                         anchor_mm=float(kw.get("reach", 20.0)), anchor_self=kw.get("self", "0") == "1",
                         anchor_self_p=float(kw["selfp"]) if "selfp" in kw else None,
                         lca_reach_mm=float(kw["lcareach"]) if "lcareach" in kw else None,
                         lca_agree=kw.get("lcaagree", "0") == "1",
                         lca_len_mm=float(kw["lcalen"]) if "lcalen" in kw else None,
                         lca_denied=kw.get("lcadenied", "anchor"),
                         branch_mm=float(kw["branch"]) if "branch" in kw else None,
                         branch_gap_mm=float(kw.get("bgap", SplitSettings.branch_gap_mm)),
                         branch_gap_cost=float(kw.get("bcost", SplitSettings.branch_gap_cost)),
                         branch_margin_mm=float(kw.get("bmargin", SplitSettings.branch_margin_mm)),
                         branch_lca=kw.get("blca", "0") == "1",
                         branch_min_mm=float(kw.get("bmin", SplitSettings.branch_min_mm)),
                         anchor_keep_p=float(kw["keepp"]) if "keepp" in kw else None,
                         anchor_keep_vessels=tuple(int(c) for c in kw.get("keepv", "1")),
                         anchor_keep_unanchored=kw.get("keepabs", "0") == "1",
                         lca_self_p=float(kw["lcaself"]) if "lcaself" in kw else None,
                         lca_self_mm=float(kw.get("lcaselfmm", SplitSettings.lca_self_mm)),
                         lca_right_mm=float(kw["lcaright"]) if "lcaright" in kw else None,
                         lca_right_reach_mm=float(kw.get("lcarightmm", SplitSettings.lca_right_reach_mm)),
                         lca_right_origin=kw.get("lcarighto", "0") == "1")


def replay(g: pd.DataFrame, m: str, guard: float | None) -> np.ndarray:
    """One patient's stored candidates classified again from their stored MLP probabilities and rules, as
    LesionModel.classify does (bench/largest_errors.py product_classes), with ``tree.keep_confident(min_p=guard)``
    after the vote when guard is given."""
    from cacscore.lesion.tree import (
        guard_left_main,
        join_structure,
        keep_confident,
        vote_by_structure,
    )

    p = g[[f"p{q}_{m}" for q in range(L.N_CLASSES)]].to_numpy(np.float64, copy=True)
    may = g[f"may_{m}"].astype(bool).to_numpy()
    p[~may] = np.eye(L.N_CLASSES)[0]
    s, au = g["structure"].to_numpy(), g["au"].to_numpy()
    cl = np.argmax(p, axis=1)
    voted = vote_by_structure(cl, p, s)
    if guard is not None:
        voted = keep_confident(cl, voted, p, guard)
    return join_structure(guard_left_main(cl, voted, p, s, au), p, s, may)


def dev(scan: Path, out: Path, splits: list[str], n: int, guards: list[float]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    meta = json.loads((scan / "scan.json").read_text())
    release = Path(meta["release"])
    models = {k: load_model(p if Path(p).is_absolute() else Path(__file__).resolve().parents[1] / p)
              for k, p in meta["models"].items()}
    cand = pd.read_csv(scan / "candidates.csv", dtype={"id": str}, low_memory=False)
    truth = pd.read_csv(release / "truth.csv", dtype={"id": str})
    ids = sorted(truth["id"], key=int)[:n]
    truth = truth[truth["id"].isin(ids)]
    fcols = [f"f_{k}" for k in L.FEATURE_NAMES]
    rows: dict[tuple[str, str], list] = {}
    for pid in ids:
        vol = read_ct(release / "deidentified_nongated" / pid / pid)
        sp = tuple(abs(float(s)) for s in vol.spacing_mm)
        hu = vol.hu
        m0 = next(iter(models.values()))
        cids = _components(hu, sp[1] * sp[2], m0.threshold_hu, m0.min_area_mm2)
        nc = int(cids.max())
        lab = read_labels(release / "labels" / f"{pid}.nii.gz")
        g = cand[cand.id == pid]
        idx = g["c"].to_numpy() - 1
        feats = np.zeros((nc, len(L.FEATURE_NAMES)), np.float32)
        feats[idx] = g[fcols].to_numpy(np.float32)
        heart = tuple(float(g[f"heart_{a}"].iloc[0]) for a in "kji") if len(g) else (0.0, 0.0, 0.0)
        res = {("oracle", "voxel"): score(hu, np.where(cids > 0, lab, 0).astype(np.uint8), sp),
               ("oracle", "candidate"): score(hu, assign_labels(cids, L.candidate_targets(cids, lab)), sp)}
        for k, m in models.items():
            sets = {"": g[f"cls_{k}"].to_numpy()}
            for q in guards:
                sets[f"guard{q}_"] = replay(g, k, q)
            if len(g) and (replay(g, k, None) != sets[""]).any():
                raise SystemExit(f"{k} patient {pid}: the stored classes are not reproduced offline")
            for pre, stored in sets.items():
                cl = np.zeros(nc, np.int64)
                cl[idx] = stored
                res[(k, pre + "plain")] = score(hu, assign_labels(cids, cl), sp) if cl.any() else dict.fromkeys(V, 0.0)
                for s in splits:
                    if not np.isin(cl, (1, 2, 3)).any():
                        res[(k, f"{pre}split{s}")] = res[(k, pre + "plain")]
                        continue
                    lbl = split_labels(cids, hu, cl, feats, heart, sp, m.threshold_hu,
                                       lambda f, _, m=m: m.predict_proba(m.table(f)), parse_split(s))
                    res[(k, f"{pre}split{s}")] = score(hu, lbl, sp)
        for key, r in res.items():
            rows.setdefault(key, []).append({"id": pid, **r, "total": sum(r.values())})
        print(f"{pid}: " + "; ".join(f"{a}/{b} " + "/".join(f"{r[v]:.0f}" for v in V) for (a, b), r in res.items()
                                     if a != "oracle" or b == "voxel"), flush=True)
    table = []
    for (a, b), r in rows.items():
        pred = pd.DataFrame(r)
        pred.to_csv(out / f"pred_{a}_{b}.csv", index=False)
        if b == "plain" and a != "oracle":  # the scan's own predictions: the same candidates and classes give the same scores
            old = pd.read_csv(scan / f"pred_{a}.csv", dtype={"id": str}).set_index("id").loc[pred["id"], V]
            diff = float(np.abs(old.to_numpy() - pred[V].to_numpy()).max())
            if diff > 0.05:
                print(f"WARNING {a}: plain scores differ from the scan's by up to {diff:.2f} AU", flush=True)
        ratio, k4 = metrics(truth, pred)
        table.append({"model": a, "variant": b, "ratio4": round(ratio, 3), "kappa4": round(k4, 4)})
    t = pd.DataFrame(table)
    t.to_csv(out / "dev.csv", index=False)
    print(t.to_string(index=False))


def evaluate(release: Path, out: Path, model_dirs: dict[str, Path], n: int, split: str, keep: float | None = None,
             variants: dict[str, str] | None = None) -> None:
    from hybrid_cases import classify_many

    out.mkdir(parents=True, exist_ok=True)
    models = {k: load_spec(p) for k, p in model_dirs.items()}
    if keep is not None:  # each model also with ClassifierConfig.keep_confident_p (the same candidate search)
        models.update({f"{k}_keep{keep:g}": dataclasses.replace(m, config=dataclasses.replace(
            m.config, keep_confident_p=keep)) for k, m in list(models.items())})
    truth = pd.read_csv(release / "truth.csv", dtype={"id": str})
    ids = sorted(truth["id"], key=int)[:n]
    if len(ids) < n:
        raise SystemExit(f"{release}: {len(ids)} patients in truth.csv, {n} wanted")
    truth = truth[truth["id"].isin(ids)]
    truth.to_csv(out / "truth.csv", index=False)
    settings = parse_split(split)
    more = {name: parse_split(spec) for name, spec in (variants or {}).items()}  # session 17: <model>_<NAME> rows
    rows: dict[str, list] = {}
    for pid in ids:
        vol = read_ct(release / "deidentified_nongated" / pid / pid)
        sp = tuple(abs(float(s)) for s in vol.spacing_mm)
        cand, classes = classify_many(vol.hu, sp, models)
        for k, m in models.items():
            c = classes[k]
            on = dataclasses.replace(m, config=m.config.with_split(settings))
            off = dataclasses.replace(m, config=m.config.with_split(None))
            lbl = {"plain": vessel_labels(vol.hu, cand, c, off), "split": vessel_labels(vol.hu, cand, c, on)}
            for name, st in more.items():
                lbl[name] = vessel_labels(vol.hu, cand, c, dataclasses.replace(m, config=m.config.with_split(st)))
            for var, lab in lbl.items():
                r = score(vol.hu, lab, sp)
                rows.setdefault(f"{k}_{var}", []).append({"id": pid, **r, "total": sum(r.values())})
        print(f"{pid}: " + "; ".join(f"{k} " + "/".join(f"{r[-1][v]:.0f}" for v in V) for k, r in rows.items()),
              flush=True)
    table = []
    for k, r in rows.items():
        pred = pd.DataFrame(r)
        pred.to_csv(out / f"pred_{k}.csv", index=False)
        subprocess.run([sys.executable, "-m", "cacscore.cli", "evaluate", str(out / f"pred_{k}.csv"),
                        str(out / "truth.csv"), "--out", str(out / f"eval_{k}"), "--bootstrap", "1000", "--seed", "0"],
                       check=True, stdout=subprocess.DEVNULL)
        mt = pd.read_csv(out / f"eval_{k}" / "metrics.csv")
        a4 = mt[(mt["vessel"] == "all4") & (mt["metric"] == "mse_norm")].iloc[0]
        kp = mt[(mt["vessel"] == "total") & (mt["metric"] == "kappa4")].iloc[0]
        ratio, _ = metrics(truth, pred)
        table.append({"run": k, "ratio4": round(a4["baseline"] / a4["value"], 3), "ratio4_check": round(ratio, 3),
                      "kappa4": round(kp["value"], 4), "kappa4_ci": f"[{kp['ci_low']:.3f}, {kp['ci_high']:.3f}]"})
    t = pd.DataFrame(table)
    t.to_csv(out / "eval.csv", index=False)
    print(t.to_string(index=False))


def load_spec(path) -> "L.LesionModel":
    """A model given as DIR[+root:NAME][+sac:NAME[/FRAME]][+rules:NAME][+split:SPEC][+keep:P] (suffixes in that
    order): DIR's model with ClassifierConfig.chest_root = NAME (session 23, cacscore.chest.anatomy.ROOT_VERSIONS),
    chest_sac = NAME and frame_sac = FRAME (session 19), an opt-in
    anatomy rule of bench/lookalike_calls.RULES switched on (session 18), the voxel split with that setting,
    ClassifierConfig.keep_confident_p = P."""
    from lookalike_calls import with_rules

    base, _, keep = str(path).partition("+keep:")
    base, _, spec = base.partition("+split:")
    base, _, rule = base.partition("+rules:")
    base, _, sac = base.partition("+sac:")
    base, _, root = base.partition("+root:")
    m = load_model(base)
    if root:  # session 23 (wt31c): the chest reader's aortic-root settings (ClassifierConfig.chest_root)
        m = dataclasses.replace(m, config=dataclasses.replace(m.config, chest_root=root))
    if sac:  # session 19 (wt27b): the chest reader's sac settings (ClassifierConfig.chest_sac[/frame_sac])
        chest, _, frame = sac.partition("/")
        m = dataclasses.replace(m, config=dataclasses.replace(m.config, chest_sac=chest, frame_sac=frame or None))
    if keep:
        m = dataclasses.replace(m, config=dataclasses.replace(m.config, keep_confident_p=float(keep)))
    if spec:
        m = dataclasses.replace(m, config=m.config.with_split(parse_split(spec)))
    return with_rules(m, rule or None)


def hybrids(argv: list[str]) -> int:
    """bench/hybrid_cases.py with its arguments; a model given as NAME=DIR+split:MIN,PIECE[,MINP] is DIR's model with
    the voxel split on (ClassifierConfig.voxel_split with that setting), so the same hybrids (one candidate search
    per image) are scored with and without it."""
    import hybrid_cases

    hybrid_cases.load_model = load_spec
    return hybrid_cases.main(argv)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "hybrids":
        raise SystemExit(hybrids(sys.argv[2:]))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dev")
    d.add_argument("scan", type=Path)
    d.add_argument("out", type=Path)
    d.add_argument("--split", nargs="+", default=["10,5"])
    d.add_argument("--n", type=int, default=60)
    d.add_argument("--guard", nargs="*", type=float, default=[])
    e = sub.add_parser("eval")
    e.add_argument("release", type=Path)
    e.add_argument("out", type=Path)
    e.add_argument("--model", nargs="+", required=True)
    e.add_argument("--n", type=int, default=60)
    e.add_argument("--split", default="10,5")
    e.add_argument("--keep", type=float, default=None, help="also each model with ClassifierConfig.keep_confident_p")
    e.add_argument("--variant", nargs="*", default=[], help="NAME=SPEC: also each model's labels with that split "
                   "(rows <model>_NAME), e.g. anchor=10,5,anchor=0.95,self=1 (session 17)")
    a = ap.parse_args()
    if a.cmd == "dev":
        dev(a.scan, a.out, a.split, a.n, a.guard)
    else:
        evaluate(a.release, a.out, {k: Path(p) for k, p in (s.split("=", 1) for s in a.model)}, a.n, a.split, a.keep,
                 dict(v.split("=", 1) for v in a.variant))


if __name__ == "__main__":
    main()
