"""Anatomy columns as candidate-classifier features, and the anatomy rules' cost, on phantom v2 (issue 16).

Step 1 (``extract``): per phantom patient (rendered in memory with its anatomy labels), the candidates exactly as
``cacscore.lesion.classify_volume`` finds them (read_chest, the heart reference, find_candidates with the anatomy),
their targets, Agatston, chest-wall-hull distance, anatomy columns, and the kind of non-coronary calcium each lies on
(by the phantom's anatomy labels: costal cartilage, aortic wall, valve, mitral annulus, node, granuloma, bone,
other). Cached per patient in OUT/cache/<seed>_<size>_<pid>.npz.

Step 2 (``ablate``): MLPs trained on the training patients with several feature sets, scored on the held-out ones
with the product's rules (``LesionModel.classify``); per row: 4-vessel normalised MSE ratio against the constant,
kappa4 on the total, false-positive AU per look-alike kind, and true coronary AU overruled by each anatomy rule.

    PYTHONPATH=src python bench/lesion_anatomy_features.py OUT --seed 41 --train 1-80 --test 121-160 --size 256
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
import warnings
from pathlib import Path

import numpy as np

from cacscore import lesion as L
from cacscore.chest.anatomy import read_chest
from cacscore.chest.heart import locate_heart
from cacscore.chest.hull import lungs_shareable, thorax_hull
from cacscore.chest.lungs import lung_field
from cacscore.core.vessels import VESSELS
from cacscore.evaluation.evaluate import evaluate_arrays
from cacscore.lesion.anatomy import ANATOMY_NAMES, RULE_NAMES, AnatomyRules, anatomy_verdicts, heart_reference
from cacscore.phantom import make_patient
from cacscore.phantom.anatomy import LABEL

KIND_LABELS = {"costal_cartilage": (LABEL["cartilage_calcium"], LABEL["costal_cartilage"]),
               "aortic_wall": (LABEL["aortic_wall_calcium"],), "aortic_valve": (LABEL["aortic_valve_calcium"],),
               "mitral_annulus": (LABEL["mitral_annulus_calcium"],), "lymph_node": (LABEL["lymph_node"],),
               "lung_granuloma": (LABEL["lung_granuloma"],),
               "bone": (LABEL["vertebra"], LABEL["rib"], LABEL["sternum"], LABEL["scapula"]),
               "abdomen": (LABEL["liver"], LABEL["abdomen"], LABEL["spleen"], LABEL["stomach"])}
KINDS = (*KIND_LABELS, "other")


def candidate_kinds(ids: np.ndarray, alab: np.ndarray) -> np.ndarray:
    """(n,) index into KINDS of the anatomy label most of each candidate's voxels carry ("other" otherwise)."""
    n = int(ids.max())
    sel = ids > 0
    tab = np.bincount(ids[sel].astype(np.int64) * 256 + alab[sel], minlength=(n + 1) * 256).reshape(n + 1, 256)[1:]
    lab = tab.argmax(1)
    out = np.full(n, len(KINDS) - 1)
    for j, labs in enumerate(KIND_LABELS.values()):
        out[np.isin(lab, labs)] = j
    return out


def extract(job: tuple[int, int, int, str]) -> str:
    pid, seed, size, cache = job
    path = Path(cache) / f"{seed}_{size}_{pid}.npz"
    if path.is_file():
        return str(path)
    import torch
    torch.set_num_threads(1)
    p = make_patient(pid, seed=seed, size=size, anatomy=True)
    hu, sp = p.hu, tuple(float(s) for s in p.spacing_mm)
    t0 = time.process_time()
    anatomy = read_chest(hu, sp)
    lungs = lung_field(hu, sp)
    found = locate_heart(hu, sp, lungs=lungs)
    hull = thorax_hull(hu, sp, lungs=lungs if lungs_shareable(hu, lungs, sp) else None)
    index, _ = heart_reference(anatomy, found.index, found.found)
    c = L.find_candidates(hu, sp, heart_index=index, hull=hull, anatomy=anatomy)
    cpu = time.process_time() - t0
    zyx = np.stack([np.bincount(c.ids[c.ids > 0], weights=w, minlength=c.n + 1)[1:]
                    for w in np.nonzero(c.ids > 0)], 1) / np.maximum(np.bincount(c.ids[c.ids > 0], minlength=c.n + 1)[1:], 1)[:, None]
    np.savez(path, features=c.features, targets=L.candidate_targets(c.ids, p.labels), agatston=c.agatston,
             outside_mm=c.outside_thorax_mm, anatomy=c.anatomy_columns, kind=candidate_kinds(c.ids, p.anatomy_labels),
             truth=np.array([p.truth[v] for v in VESSELS]), centroid=zyx, cpu=cpu)
    return str(path)


def cohort(pids: list[int], seed: int, size: int, out: Path, workers: int) -> dict:
    cache = out / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    jobs = [(pid, seed, size, str(cache)) for pid in pids]
    with mp.get_context("fork").Pool(workers) as pool:
        paths = pool.map(extract, jobs, chunksize=1)
    parts = [dict(np.load(p)) for p in paths]
    d = {k: np.concatenate([q[k] for q in parts]) for k in ("features", "targets", "agatston", "outside_mm",
                                                          "anatomy", "kind", "centroid")}
    d["patient"] = np.concatenate([np.full(len(q["targets"]), pid) for pid, q in zip(pids, parts)])
    d["truth"] = np.stack([q["truth"] for q in parts])
    d["pids"] = np.array(pids)
    return d


def per_vessel(d: dict, pred: np.ndarray) -> np.ndarray:
    """(patients, 4) Agatston per predicted vessel (candidates are the Agatston lesions, so sums are exact)."""
    idx = {int(p): i for i, p in enumerate(d["pids"])}
    rows = np.array([idx[int(p)] for p in d["patient"]], dtype=np.int64)
    P = np.zeros((len(d["pids"]), 4))
    for k in range(1, 5):
        sel = pred == k
        np.add.at(P[:, k - 1], rows[sel], d["agatston"][sel])
    return P


def summary(d: dict, pred: np.ndarray, nb: np.ndarray) -> dict:
    T, P = d["truth"], per_vessel(d, pred)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        tab = evaluate_arrays(T, P, normalise_by=nb, n_boot=0)
    val = lambda v, m, col="value": float(tab[(tab.vessel == v) & (tab.metric == m)][col].iloc[0])  # noqa: E731
    res = {"mse": val("all4", "mse_norm"), "const": val("all4", "mse_norm", "baseline"),
           "kappa4_total": val("total", "kappa4")}
    res["ratio"] = res["const"] / res["mse"] if res["mse"] > 0 else float("inf")
    t = d["targets"]
    fp = (pred > 0) & (t == 0)
    res["fp_au"] = {k: round(float(d["agatston"][fp & (d["kind"] == j)].sum()), 1) for j, k in enumerate(KINDS)}
    res["missed_coronary_au"] = round(float(d["agatston"][(t > 0) & (pred == 0)].sum()), 1)
    res["wrong_vessel_au"] = round(float(d["agatston"][(t > 0) & (pred > 0) & (pred != t)].sum()), 1)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=41)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--train", default="1-80")
    ap.add_argument("--test", default="121-160")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--extract-only", action="store_true")
    ap.add_argument("--only", nargs="*", help="feature sets to run (name prefixes)")
    a = ap.parse_args()
    rng = lambda s: list(range(int(s.split("-")[0]), int(s.split("-")[1]) + 1))  # noqa: E731
    te = cohort(rng(a.test), a.seed, a.size, a.out, a.workers)
    tr = None if a.extract_only else cohort(rng(a.train), a.seed, a.size, a.out, a.workers)
    # rule cost on the test patients: true coronary AU each rule would overrule, whatever the classifier said
    t = te["targets"]
    verd = anatomy_verdicts(te["anatomy"], AnatomyRules())
    cost = {name: round(float(te["agatston"][(t > 0) & verd[:, i]].sum()), 1) for i, name in enumerate(RULE_NAMES)}
    hit = {name: {k: round(float(te["agatston"][(t == 0) & verd[:, i] & (te["kind"] == j)].sum()), 1)
                  for j, k in enumerate(KINDS)} for i, name in enumerate(RULE_NAMES)}
    print(json.dumps({"true_coronary_au_overruled": cost, "noncoronary_au_caught": hit}, indent=1), flush=True)
    if tr is None:
        return
    from cacscore.lesion.classifier import feature_table  # noqa: PLC0415 - the product's feature assembly
    nb = np.maximum(tr["truth"].max(0), 1.0)
    results = json.loads((a.out / "results.json").read_text()) if (a.out / "results.json").is_file() else {}
    for name, extra in FEATURE_SETS.items():
        if a.only and not any(name.startswith(o) for o in a.only):
            continue
        drop, add = extra
        names = tuple(n for n in L.FEATURE_NAMES if n not in drop) + add
        cfg = L.ClassifierConfig(seed=0, features=names)
        m = L.train_classifier(feature_table(tr["features"], tr["anatomy"], names), tr["targets"], config=cfg)
        for rules in (False, True):
            mm = L.LesionModel(m.net, m.mean, m.std, L.ClassifierConfig(seed=0, features=names, anatomy_rules=rules),
                               m.feature_names, info=m.info)
            pred = mm.classify(feature_table(te["features"], te["anatomy"], names), te["outside_mm"], te["anatomy"])
            results[f"{name} | rules {'on' if rules else 'off'}"] = summary(te, pred, nb)
            print(name, "rules", rules, json.dumps(results[f"{name} | rules {'on' if rules else 'off'}"]), flush=True)
        (a.out / "results.json").write_text(json.dumps(results, indent=1) + "\n")


POSITION = ("dy_mm", "dx_mm", "r_inplane_mm", "cos_inplane", "sin_inplane")  # dz_mm, dist_mm: the rules read them
FEATURE_SETS = {
    "old features": ((), ()),
    "old + anatomy": ((), ANATOMY_NAMES),
    "anatomy-heavy (no heart-centre position)": (POSITION, ANATOMY_NAMES),
    "old + anatomy distances (no frame, no heights)": ((), ("pericardium_mm", "aortic_wall_mm", "aorta_segment",
                                                            "bone_mm", "chest_wall_mm")),
}

if __name__ == "__main__":
    main()
