"""Does the candidate scorer call non-coronary look-alike calcium coronary? (valve, MAC, nodes, granulomas)

    .venv/bin/python bench/lesion_lookalikes.py OUT [--train 150] [--test 100] [--seed 23] [--size 512]
        [--workers 2] [--epochs 40] [--reuse] [--pictures N]
    .venv/bin/python bench/lesion_lookalikes.py OUT --model src/cacscore/predict/default_model [--train 150]
        [--test 100] [--seed 23] [--size 512] [--workers 2] [--pictures N]

Test patients TRAIN+1..TRAIN+TEST of phantom cohort SEED are rendered WITH the look-alikes of
cacscore.phantom.noncoronary (aortic valve calcium, mitral annular calcification, calcified lymph
nodes, lung granulomas). Two classifiers are trained on patients 1..TRAIN, in the same run:

- ``without``: the training patients rendered without look-alikes (the phantom before they existed:
  a model that never saw a MAC);
- ``with``: the same patients rendered with them.

Each test candidate is tagged with the look-alike it lies on (its voxels within a blob's radius +
one pixel in-plane, + 2 mm for the heart's moving blobs, and half a slab in z). For each model:
how many look-alike candidates it calls coronary and their Agatston (AU), the per-vessel scores'
MSE ratio against the constant-mean baseline and the four-class kappa on the total (classes as in
the product: the MLP, then lesions.classify_volume's chest-wall rule). Writes OUT/results.json,
OUT/model_{without,with}/ and OUT/features_*.npz (reused with --reuse). --pictures N: the lesion
report picture (cacscore.lesion.report) of the N test patients with the most mitral-annulus
candidates, scored by each model (OUT/pictures/<pid>_<model>.png).

``--model PATH`` trains nothing: the test patients are scored with that saved model the way ``cacscore predict``
scores a scan (``lesion.classify_volume``: read_chest, the heart reference, the anatomy rules, the chest-wall rule),
and every candidate is tagged by the phantom's anatomy labels under it (costal cartilage, aortic wall, abdominal:
the abdominal organs or aortic-wall calcium on the abdominal aorta, aortic valve, mitral annulus, node, granuloma,
bone, other). Prints the table by kind (candidates, called coronary, AU called coronary, as which vessel) and the
heart reference each patient got (how often the pericardial mask was dropped). Per-patient results are cached in
OUT/shipped/<seed>_<size>_<pid>.npz (a rerun resumes); --pictures N: the lesion report picture of up to N patients
per kind with a false coronary call (OUT/pictures/<kind>_<pid>.png).
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from cacscore import lesion as L
from cacscore.evaluation import metrics as M
from cacscore.evaluation.evaluate import evaluate_arrays
from cacscore.core.fileio import atomic_path, atomic_write_text
from cacscore.phantom import make_patient
from cacscore.phantom.noncoronary import KINDS
from cacscore.core.vessels import VESSELS

log = logging.getLogger("bench.lesion_lookalikes")
HEART_KINDS = ("aortic_valve", "mitral_annulus")


def _kinds_of_candidates(p, cand: L.Candidates) -> np.ndarray:
    """(n,) int: 0 = not on a look-alike, 1 + KINDS.index(kind) = on one (majority of its voxels)."""
    n = cand.features.shape[0]
    out = np.zeros(n, np.int64)
    if not p.lookalikes or n == 0:
        return out
    z, y, x = np.nonzero(cand.ids)
    cid = cand.ids[z, y, x] - 1
    dz, dy, dx = p.spacing_mm
    ox, oy, oz = p.origin_mm
    xm, ym, zm = ox + x * dx, oy + y * dy, oz + z * dz
    tag = np.zeros(len(z), np.int64)
    for b in p.lookalikes:
        if not b.calcified:
            continue
        bx, by, bz = b.centre_mm
        slack = b.radius_mm + dx + (2.0 if b.kind in HEART_KINDS else 0.0)
        hit = ((xm - bx) ** 2 + (ym - by) ** 2 <= slack ** 2) & (np.abs(zm - bz) <= b.radius_mm + dz / 2)
        tag[hit & (tag == 0)] = 1 + KINDS.index(b.kind)
    for k in range(n):
        t = tag[cid == k]
        if len(t) and (t > 0).mean() >= 0.5:
            out[k] = np.bincount(t[t > 0]).argmax()
    return out


def _extract(args: tuple[int, int, int, bool]) -> dict:
    pid, seed, size, lookalikes = args
    p = make_patient(pid, seed=seed, size=size, lookalikes=lookalikes)
    c = L.find_candidates(p.hu, p.spacing_mm)
    outside = c.outside_thorax_mm if c.outside_thorax_mm is not None else np.full(len(c.agatston), np.nan)
    return {"pid": pid, "features": c.features, "targets": L.candidate_targets(c.ids, p.labels),
            "agatston": c.agatston.astype(np.float32), "outside_mm": outside.astype(np.float32),
            "kind": _kinds_of_candidates(p, c), "truth": [p.truth[v] for v in VESSELS]}


def _cohort(pids: list[int], seed: int, size: int, lookalikes: bool, workers: int, path: Path, reuse: bool) -> dict:
    if reuse and path.is_file():
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
        if list(d["pids"]) == pids:
            return d
    jobs = [(pid, seed, size, lookalikes) for pid in pids]
    with mp.get_context("fork").Pool(workers) as pool:
        out = list(tqdm(pool.imap(_extract, jobs), total=len(jobs), desc=path.stem))
    d = {"pids": np.array(pids), "patient": np.concatenate([np.full(len(r["targets"]), r["pid"]) for r in out]),
         "truth": np.array([r["truth"] for r in out])}
    for k in ("features", "targets", "agatston", "outside_mm", "kind"):
        d[k] = np.concatenate([r[k] for r in out])
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **d)
    return d


def _evaluate(model: L.LesionModel, te: dict, nb: np.ndarray) -> dict:
    pred = model.classify(te["features"], te["outside_mm"])  # as lesions.classify_volume assigns them
    idx = {pid: i for i, pid in enumerate(te["pids"])}
    rows = np.array([idx[p] for p in te["patient"]])
    P = np.zeros((len(te["pids"]), 4))
    for k in range(1, 5):
        sel = pred == k
        np.add.at(P[:, k - 1], rows[sel], te["agatston"][sel])
    T = te["truth"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        tab = evaluate_arrays(T, P, normalise_by=nb, n_boot=0)
    val = lambda v, m, col="value": float(tab[(tab.vessel == v) & (tab.metric == m)][col].iloc[0])
    res = {"mse_norm_all4": val("all4", "mse_norm"), "baseline_mse_norm_all4": val("all4", "mse_norm", "baseline"),
           "kappa4_total": val("total", "kappa4"), "spearman_total": val("total", "spearman")}
    res["ratio"] = res["baseline_mse_norm_all4"] / res["mse_norm_all4"]
    res.update({f"kappa4_{v}": val(v, "kappa4") for v in VESSELS})
    fp = (pred > 0) & (te["targets"] == 0)
    res["false_positive_candidates"] = int(fp.sum())
    res["false_positive_au"] = float(te["agatston"][fp].sum())
    res["coronary_recall"] = float(np.mean(pred[te["targets"] > 0] > 0))
    per = {}
    for j, kind in enumerate(KINDS, start=1):
        on = (te["kind"] == j) & (te["targets"] == 0)
        called = on & (pred > 0)
        per[kind] = {"candidates": int(on.sum()), "patients": int(len(np.unique(te["patient"][on]))),
                     "called_coronary": int(called.sum()), "au_called_coronary": float(te["agatston"][called].sum()),
                     "called_as": {VESSELS[k - 1]: int((called & (pred == k)).sum()) for k in range(1, 5)}}
    res["lookalikes"] = per
    return res


def _pictures(a: argparse.Namespace, te: dict, models: dict[str, L.LesionModel]) -> None:
    """Lesion report pictures of the test patients with the most mitral-annulus candidates, per model."""
    from cacscore.lesion.report import render_lesion_report

    mac = (te["kind"] == 1 + KINDS.index("mitral_annulus")) & (te["targets"] == 0)
    pids, counts = np.unique(te["patient"][mac], return_counts=True)
    for pid in pids[np.argsort(-counts, kind="stable")][:a.pictures]:
        p = make_patient(int(pid), seed=a.seed, size=a.size)
        for name, model in models.items():
            cand, classes = L.classify_volume(p.hu, p.spacing_mm, model)
            res = L.score_assignment(p.hu, cand, classes)
            truth = ", ".join(f"{v} {p.truth[v]:.0f}" for v in VESSELS)
            render_lesion_report(p.hu, p.spacing_mm, L.assign_labels(cand.ids, classes), res,
                                 a.out / "pictures" / f"{int(pid)}_{name}.png",
                                 title=f"phantom {a.seed}/{int(pid)}, model trained {name} look-alikes (truth: {truth})",
                                 candidates=cand.ids > 0, threshold_hu=model.threshold_hu,
                                 found_heart_index=cand.heart_index)


# ------------------------------------------------------------------ --model: a saved model, the product's path
SHIPPED_KINDS = ("costal_cartilage", "aortic_wall", "abdominal", "aortic_valve", "mitral_annulus", "lymph_node",
                 "lung_granuloma", "bone", "other")
"""What a non-coronary candidate lies on, by the phantom's anatomy labels (index into this; -1 = true coronary)."""


def _label_kinds(p, ids: np.ndarray) -> np.ndarray:
    """(n,) index into SHIPPED_KINDS of each candidate of ``ids`` (1..n): the calcium label covering at least a
    quarter of its voxels (the phantom paints calcium blobs at quarter coverage), else its majority label; aortic
    wall calcium whose nearest aortic centreline point is abdominal aorta counts as abdominal."""
    from cacscore.phantom.anatomy import LABEL

    n = int(ids.max())
    sel = ids > 0
    alab = p.anatomy_labels
    tab = np.bincount(ids[sel].astype(np.int64) * 256 + alab[sel], minlength=(n + 1) * 256).reshape(n + 1, 256)[1:]
    calcium = np.arange(LABEL["aortic_wall_calcium"], LABEL["lung_granuloma"] + 1)
    cal = calcium[tab[:, calcium].argmax(1)]
    lab = np.where(tab[:, calcium].max(1) >= 0.25 * tab.sum(1), cal, tab.argmax(1))
    groups = {"costal_cartilage": ("cartilage_calcium", "costal_cartilage"), "aortic_wall": ("aortic_wall_calcium",),
              "abdominal": ("liver", "abdomen", "spleen", "stomach", "aorta_abdominal", "ivc"),
              "aortic_valve": ("aortic_valve_calcium",), "mitral_annulus": ("mitral_annulus_calcium",),
              "lymph_node": ("lymph_node",), "lung_granuloma": ("lung_granuloma",),
              "bone": ("vertebra", "rib", "sternum", "scapula", "clavicle", "humerus")}
    out = np.full(n, SHIPPED_KINDS.index("other"))
    for kind, names in groups.items():
        out[np.isin(lab, [LABEL[x] for x in names])] = SHIPPED_KINDS.index(kind)
    wall = np.flatnonzero(out == SHIPPED_KINDS.index("aortic_wall"))
    tube = p.anatomy.aorta
    if len(wall) and tube is not None:
        z, y, x = (np.bincount(ids[sel], weights=w, minlength=n + 1)[1:][wall] / np.maximum(
            np.bincount(ids[sel], minlength=n + 1)[1:][wall], 1) for w in np.nonzero(sel))
        dz, dy, dx = p.spacing_mm
        ox, oy, oz = p.origin_mm
        pts = np.stack([ox + x * dx, oy + y * dy, oz + z * dz], 1)
        j = ((pts[:, None] - tube.points[None]) ** 2).sum(-1).argmin(1)
        out[wall[tube.label[j] == LABEL["aorta_abdominal"]]] = SHIPPED_KINDS.index("abdominal")
    return out


def _score_shipped(job: tuple[int, int, int, str, str]) -> str:
    """Score one test patient with the saved model (cached in OUT/shipped)."""
    pid, seed, size, model_path, cache = job
    path = Path(cache) / f"{seed}_{size}_{pid}.npz"
    if path.is_file():
        return str(path)
    torch.set_num_threads(1)
    from chest_anatomy_phantom import sac_metrics  # a sibling bench script (bench/ is on sys.path)

    from cacscore.lesion.anatomy import FINDER_ABOVE_MASK

    model = L.load_model(Path(model_path))
    p = make_patient(pid, seed=seed, size=size, anatomy=True)
    cand, classes = L.classify_volume(p.hu, p.spacing_mm, model)
    a = cand.anatomy
    peri = a.parts["pericardium"]
    if peri.reason == FINDER_ABOVE_MASK:
        source = "dropped"
    elif a.pericardium.any() and np.array_equal(
            np.asarray(cand.heart_index), np.clip(np.rint(np.argwhere(a.pericardium).mean(0) * a.grid_mm
                                                          / np.array(a.spacing_mm)), 0, np.array(a.shape) - 1)):
        source = "centroid"
    else:
        source = "finder"
    sac = sac_metrics(a, p.anatomy_labels)
    targets = L.candidate_targets(cand.ids, p.labels)
    kind = np.where(targets > 0, -1, _label_kinds(p, cand.ids)) if cand.n else np.zeros(0, np.int64)
    zyx = np.argwhere(cand.ids > 0)
    cid = cand.ids[cand.ids > 0]
    cent = np.stack([np.bincount(cid, weights=zyx[:, i], minlength=cand.n + 1)[1:] for i in range(3)], 1) / \
        np.maximum(np.bincount(cid, minlength=cand.n + 1)[1:], 1)[:, None]
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, pred=classes, targets=targets, kind=kind, agatston=cand.agatston.astype(np.float32),
                 centroid=cent.astype(np.float32), truth=np.array([p.truth[v] for v in VESSELS]),
                 source=np.array(source), peri_found=np.array(peri.found), peri_conf=np.array(peri.confidence),
                 **{f"sac_{k}": np.array(v) for k, v in sac.items()})
    return str(path)


def _shipped_table(rows: list[dict]) -> dict:
    pred = np.concatenate([r["pred"] for r in rows])
    kind = np.concatenate([r["kind"] for r in rows])
    au = np.concatenate([r["agatston"] for r in rows]).astype(float)
    pat = np.concatenate([np.full(len(r["pred"]), i) for i, r in enumerate(rows)])
    table = {}
    for j, k in enumerate(SHIPPED_KINDS):
        on = kind == j
        called = on & (pred > 0)
        table[k] = {"patients": len(np.unique(pat[on])), "candidates": int(on.sum()), "au": float(au[on].sum()),
                    "called_coronary": int(called.sum()), "au_called_coronary": float(au[called].sum()),
                    "patients_called": len(np.unique(pat[called])),
                    "called_as": {VESSELS[v - 1]: int((called & (pred == v)).sum()) for v in range(1, 5)}}
    cor = kind == -1
    table["coronary (truth)"] = {"candidates": int(cor.sum()), "au": float(au[cor].sum()),
                                 "called_coronary": int((cor & (pred > 0)).sum()),
                                 "au_called_coronary": float(au[cor & (pred > 0)].sum())}
    return table


def _shipped_pictures(a: argparse.Namespace, rows: list[dict], pids: list[int]) -> None:
    """The lesion report picture of up to a.pictures patients per kind with a false coronary call."""
    from cacscore.lesion.report import render_lesion_report

    model = L.load_model(a.model)
    for j, kind in enumerate(SHIPPED_KINDS):
        if kind == "bone":
            continue
        hits = [(pid, r) for pid, r in zip(pids, rows) if ((r["kind"] == j) & (r["pred"] > 0)).any()]
        for pid, r in hits[:a.pictures]:
            p = make_patient(pid, seed=a.seed, size=a.size)
            cand, classes = L.classify_volume(p.hu, p.spacing_mm, model)
            res = L.score_assignment(p.hu, cand, classes)
            bad = np.flatnonzero((r["kind"] == j) & (r["pred"] > 0))
            worst = bad[np.argmax(r["agatston"][bad])]
            c = r["centroid"][worst]
            truth = ", ".join(f"{v} {p.truth[v]:.0f}" for v in VESSELS)
            render_lesion_report(p.hu, p.spacing_mm, L.assign_labels(cand.ids, classes), res,
                                 a.out / "pictures" / f"{kind}_{pid}.png", heart_index=c,
                                 slices=[int(round(c[0]))],
                                 title=f"phantom {a.seed}/{pid}: {kind} ({r['agatston'][worst]:.0f} AU, at the "
                                       f"crop's centre) called {VESSELS[int(r['pred'][worst]) - 1]} (truth: {truth})",
                                 candidates=cand.ids > 0, threshold_hu=model.threshold_hu, anatomy=cand.anatomy)


def main_shipped(a: argparse.Namespace) -> int:
    cache = a.out / "shipped"
    cache.mkdir(parents=True, exist_ok=True)
    pids = list(range(a.train + 1, a.train + a.test + 1))
    jobs = [(pid, a.seed, a.size, str(a.model), str(cache)) for pid in pids]
    with mp.get_context("fork").Pool(a.workers) as pool:
        paths = list(tqdm(pool.imap(_score_shipped, jobs), total=len(jobs), desc="shipped"))
    rows = [dict(np.load(q)) for q in paths]
    table = _shipped_table(rows)
    sources = [str(r["source"]) for r in rows]
    sac = {k: [float(r[f"sac_{k}"]) for r in rows] for k in ("dice", "below_diaphragm", "lowest_mm", "centroid_z_mm")}
    res = {"table": table, "heart_reference": {s: sources.count(s) for s in sorted(set(sources))},
           "pericardium": {k: {"median": float(np.nanmedian(v)), "p10": float(np.nanpercentile(v, 10)),
                               "p90": float(np.nanpercentile(v, 90))} for k, v in sac.items()},
           "meta": {"model": str(a.model), "seed": a.seed, "size": a.size, "pids": [pids[0], pids[-1]]}}
    atomic_write_text(a.out / "shipped_results.json", json.dumps(res, indent=2) + "\n")
    print(f"{a.test} test phantom patients (seed {a.seed}, {pids[0]}-{pids[-1]}, {a.size} px, with look-alikes), "
          f"model {a.model}")
    print("| kind | patients | candidates | AU | called coronary | AU called coronary | called as |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for k, v in table.items():
        as_ = ", ".join(f"{n} {c}" for n, c in v.get("called_as", {}).items() if c) or "-"
        print(f"| {k} | {v.get('patients', '')} | {v['candidates']} | {v['au']:,.0f} | {v['called_coronary']} "
              f"| {v['au_called_coronary']:,.0f} | {as_} |")
    print("heart reference:", res["heart_reference"], "pericardium:", json.dumps(res["pericardium"]))
    if a.pictures:
        _shipped_pictures(a, rows, pids)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--train", type=int, default=150)
    ap.add_argument("--test", type=int, default=100)
    ap.add_argument("--seed", type=int, default=23)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--pictures", type=int, default=0)
    ap.add_argument("--model", type=Path, help="score the test patients with this saved model; train nothing")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(a.threads)
    a.out.mkdir(parents=True, exist_ok=True)
    if a.model is not None:
        return main_shipped(a)
    t0 = time.perf_counter()
    train_ids = list(range(1, a.train + 1))
    test_ids = list(range(a.train + 1, a.train + a.test + 1))
    te = _cohort(test_ids, a.seed, a.size, True, a.workers, a.out / "features_test.npz", a.reuse)
    results: dict = {}
    models: dict[str, L.LesionModel] = {}
    for name, with_lookalikes in (("without", False), ("with", True)):
        tr = _cohort(train_ids, a.seed, a.size, with_lookalikes, a.workers, a.out / f"features_train_{name}.npz",
                     a.reuse)
        cfg = L.ClassifierConfig(epochs=a.epochs, seed=a.seed)
        model = L.train_classifier(tr["features"], tr["targets"], config=cfg)
        L.save_model(model, a.out / f"model_{name}")
        models[name] = model
        nb = tr["truth"].max(0)
        results[f"trained_{name}_lookalikes"] = _evaluate(model, te, np.where(nb > 0, nb, 1.0))
    results["meta"] = {"train": a.train, "test": a.test, "seed": a.seed, "size": a.size, "epochs": a.epochs,
                       "test_category4_counts": np.bincount(M.risk_category4(te["truth"].sum(1)), minlength=4).tolist(),
                       "seconds": time.perf_counter() - t0}
    atomic_write_text(a.out / "results.json", json.dumps(results, indent=2) + "\n")
    if a.pictures:
        _pictures(a, te, models)
    print(f"{a.train} train / {a.test} test phantom patients (seed {a.seed}, {a.size} px), test WITH look-alikes")
    print(f"{'training data':26s} {'ratio':>6s} {'k4 tot':>7s} {'FP cand':>8s} {'FP AU':>8s} {'recall':>7s} | "
          + "  ".join(f"{k}: called/cands (AU)" for k in KINDS))
    for name, r in results.items():
        if name == "meta":
            continue
        look = "  ".join(f"{v['called_coronary']}/{v['candidates']} ({v['au_called_coronary']:.0f})"
                         for v in r["lookalikes"].values())
        print(f"{name:26s} {r['ratio']:6.2f} {r['kappa4_total']:7.3f} {r['false_positive_candidates']:8d} "
              f"{r['false_positive_au']:8.0f} {r['coronary_recall']:7.3f} | {look}")
    print(f"{time.perf_counter() - t0:.0f} s; results in {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
