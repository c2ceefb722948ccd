"""Train and evaluate the candidate-classification scorer (cacscore.lesion.candidates) on phantom patients.

    .venv/bin/python bench/lesion_scorer.py OUT [--train 200] [--test 100] [--seed 21] [--size 512]
        [--workers 2] [--epochs 40] [--threads 2]

Patients 1..TRAIN of phantom cohort SEED train the classifier; patients TRAIN+1..TRAIN+TEST are
held out. Each patient is rendered with cacscore.phantom.make_patient at its native resolution;
candidates come from the written (moving, noisy) image, their classes from the phantom's vessel
labels (majority vote, cacscore.lesion.candidates.candidate_targets). Test patients are scored end to end with
cacscore.lesion.candidates.score_volume (candidates -> classes -> cacscore.scoring.agatston.agatston) against the
phantom's truth (the expert score on the motion- and noise-free image). Baseline: the constant
per-vessel mean of the test truth (cacscore.evaluation.metrics.constant_mean_baseline), MSE on targets divided by
the training maxima (cacscore.evaluation.evaluate's mse_norm, the paper's all4 MSE). Two reference rows are
measured in the same run: ORACLE (the true class of every candidate: what a perfect classifier
reaches on the moving image) and the phantom's truth_moving.

Writes OUT/results.json, OUT/model/ (safetensors + JSON), OUT/test_predictions.csv,
OUT/candidate_confusion.png, OUT/bland_altman.png (+ scatter.png, confusion4.png from
cacscore.evaluation.evaluate.write_figures), OUT/features_{train,test}.npz (reused with --reuse).
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from cacscore import lesion as L
from cacscore.evaluation import metrics as M
from cacscore.evaluation.evaluate import Joined, evaluate_arrays, write_figures
from cacscore.core.fileio import atomic_path, atomic_savefig, atomic_write_text
from cacscore.phantom import make_patient
from cacscore.core.vessels import VESSELS

log = logging.getLogger("bench.lesion_scorer")


def _extract(args: tuple[int, int, int]) -> dict:
    """Render one patient and return its candidates' features / targets / contributions and truths."""
    pid, seed, size = args
    p = make_patient(pid, seed=seed, size=size)
    c = L.find_candidates(p.hu, p.spacing_mm)
    tg = L.candidate_targets(c.ids, p.labels)
    oracle = L.score_assignment(p.hu, c, tg)
    return {"pid": pid, "features": c.features, "targets": tg, "agatston": c.agatston.astype(np.float32),
            "truth": [p.truth[v] for v in VESSELS], "truth_moving": [p.truth_moving[v] for v in VESSELS],
            "oracle": [oracle[v] for v in VESSELS], "heart_error_mm": float(np.linalg.norm(
                (np.asarray(c.heart_index) - np.asarray(p.heart_centre_index)) * np.asarray(p.spacing_mm)))}


def _cohort(pids: list[int], seed: int, size: int, workers: int, path: Path, reuse: bool) -> dict:
    if reuse and path.is_file():
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
        if list(d["pids"]) == pids:
            log.info("reusing %s", path)
            return d
    jobs = [(pid, seed, size) for pid in pids]
    if workers > 1:
        with mp.get_context("fork").Pool(workers) as pool:
            out = list(tqdm(pool.imap(_extract, jobs), total=len(jobs), desc=path.stem))
    else:
        out = [_extract(j) for j in tqdm(jobs, desc=path.stem)]
    d = {"pids": np.array(pids), "features": np.concatenate([r["features"] for r in out]),
         "targets": np.concatenate([r["targets"] for r in out]),
         "agatston": np.concatenate([r["agatston"] for r in out]),
         "patient": np.concatenate([np.full(len(r["targets"]), r["pid"]) for r in out]),
         "truth": np.array([r["truth"] for r in out]), "truth_moving": np.array([r["truth_moving"] for r in out]),
         "oracle": np.array([r["oracle"] for r in out]), "heart_error_mm": np.array([r["heart_error_mm"] for r in out])}
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **d)
    return d


def _summary(t: np.ndarray, p: np.ndarray, nb: np.ndarray) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        tab = evaluate_arrays(t, p, normalise_by=nb, n_boot=0)
    v = lambda vessel, m: float(tab[(tab.vessel == vessel) & (tab.metric == m)]["value"].iloc[0])
    b = lambda vessel, m: float(tab[(tab.vessel == vessel) & (tab.metric == m)]["baseline"].iloc[0])
    out = {"mse_norm_all4": v("all4", "mse_norm"), "baseline_mse_norm_all4": b("all4", "mse_norm")}
    out["ratio"] = out["baseline_mse_norm_all4"] / out["mse_norm_all4"] if out["mse_norm_all4"] > 0 else float("inf")
    for row in (*VESSELS, "total"):
        for m in ("spearman", "icc", "kappa4", "kappa5", "mse_norm"):
            out[f"{m}_{row}"] = v(row, m)
    return out


def _confusion_png(cm: np.ndarray, cm_au: np.ndarray, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.4), constrained_layout=True)
    for ax, m, title, fmt in ((axes[0], cm, "candidates (count)", "{:.0f}"),
                              (axes[1], cm_au, "Agatston contribution (AU)", "{:.0f}")):
        ax.imshow(np.log10(1 + m), cmap="Blues")
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                ax.text(j, i, fmt.format(m[i, j]), ha="center", va="center", fontsize=9,
                        color="white" if np.log10(1 + m[i, j]) > 0.6 * np.log10(1 + m.max()) else "black")
        ax.set_xticks(range(L.N_CLASSES), L.CLASS_NAMES, rotation=30)
        ax.set_yticks(range(L.N_CLASSES), L.CLASS_NAMES)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("reference class (phantom labels)")
        ax.set_title(title)
    fig.suptitle("Test candidates: reference vs predicted class (colour: log10(1 + value))")
    atomic_savefig(fig, path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--train", type=int, default=200)
    ap.add_argument("--test", type=int, default=100)
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--hidden", type=int, nargs="+", default=[128, 64])
    ap.add_argument("--class-weight-power", type=float, default=0.5)
    ap.add_argument("--max-distance-mm", type=float, default=110.0)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--weight-by-score", action="store_true", help="sample weight 1 + log1p(Agatston contribution)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train-use", type=int, default=None, help="train on the first N training patients only")
    ap.add_argument("--reuse", action="store_true", help="reuse OUT/features_*.npz of the same patients")
    ap.add_argument("--no-end-to-end", action="store_true",
                    help="score test patients from the cached candidates instead of re-rendering them")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(a.threads)
    a.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    train_ids = list(range(1, a.train + 1))
    test_ids = list(range(a.train + 1, a.train + a.test + 1))
    tr = _cohort(train_ids, a.seed, a.size, a.workers, a.out / "features_train.npz", a.reuse)
    te = _cohort(test_ids, a.seed, a.size, a.workers, a.out / "features_test.npz", a.reuse)
    t_feat = time.perf_counter() - t0

    cfg = L.ClassifierConfig(hidden=tuple(a.hidden), epochs=a.epochs, class_weight_power=a.class_weight_power,
                             max_distance_mm=a.max_distance_mm, lr=a.lr, seed=a.seed)
    if a.train_use is not None:  # learning curve: only the first N training patients' candidates
        keep = tr["patient"] <= a.train_use
        tr = dict(tr, features=tr["features"][keep], targets=tr["targets"][keep], agatston=tr["agatston"][keep],
                  patient=tr["patient"][keep])  # MSE normaliser: still the full training set's maxima
    sw = 1.0 + np.log1p(tr["agatston"]) if a.weight_by_score else None
    t1 = time.perf_counter()
    model = L.train_classifier(tr["features"], tr["targets"], config=cfg, sample_weight=sw)
    t_train = time.perf_counter() - t1
    L.save_model(model, a.out / "model")
    model = L.load_model(a.out / "model")  # evaluate what was saved

    pred_c = model.predict(te["features"])
    # per-patient scores from the cached contributions (distinct candidates never touch in a slice,
    # so the Agatston of the assigned label volume is the sum of the assigned candidates)
    idx = {pid: i for i, pid in enumerate(te["pids"])}
    rows = np.array([idx[p] for p in te["patient"]])
    P_sum = np.zeros((len(test_ids), 4))
    for k in range(1, 5):
        sel = pred_c == k
        np.add.at(P_sum[:, k - 1], rows[sel], te["agatston"][sel])
    t2 = time.perf_counter()
    if a.no_end_to_end:
        P = P_sum
    else:  # the product path: render, score_volume (find_candidates -> MLP -> cacscore.scoring.agatston.agatston)
        P = np.zeros_like(P_sum)
        for i, pid in enumerate(tqdm(test_ids, desc="score_volume")):
            p = make_patient(pid, seed=a.seed, size=a.size)
            s = L.score_volume(p.hu, p.spacing_mm, model)
            P[i] = [s[v] for v in VESSELS]
        gap = float(np.abs(P - P_sum).max())
        log.info("end-to-end vs cached-candidate scores: max |diff| %.3g AU", gap)
    t_score = time.perf_counter() - t2

    T, Tm, O = te["truth"], te["truth_moving"], te["oracle"]
    nb = tr["truth"].max(0)
    nb = np.where(nb > 0, nb, 1.0)
    res = {"scorer": _summary(T, P, nb), "oracle_assignment": _summary(T, O, nb),
           "truth_moving": _summary(T, Tm, nb), "scorer_vs_truth_moving": _summary(Tm, P, nb)}
    from sklearn.metrics import confusion_matrix
    cm = confusion_matrix(te["targets"], pred_c, labels=range(L.N_CLASSES))
    cm_au = np.zeros((L.N_CLASSES, L.N_CLASSES))
    np.add.at(cm_au, (te["targets"], pred_c), te["agatston"])
    total_cat = np.stack([M.risk_category4(T.sum(1)), M.risk_category4(P.sum(1))])
    meta = {"command": " ".join(["bench/lesion_scorer.py", *(argv if argv is not None else sys.argv[1:])]),
            "train_patients": a.train if a.train_use is None else a.train_use, "test_patients": a.test, "seed": a.seed, "size": a.size,
            "classifier": model.info | {"config": cfg.__dict__ | {"hidden": list(cfg.hidden)}},
            "weight_by_score": a.weight_by_score, "normalise_by": nb.tolist(),
            "n_train_candidates": len(tr["targets"]), "n_test_candidates": len(te["targets"]),
            "train_class_counts": np.bincount(tr["targets"], minlength=5).tolist(),
            "test_class_counts": np.bincount(te["targets"], minlength=5).tolist(),
            "candidate_accuracy": float(np.mean(pred_c == te["targets"])),
            "coronary_candidate_recall": float(np.mean(pred_c[te["targets"] > 0] > 0)),
            "coronary_candidate_vessel_accuracy": float(np.mean(pred_c[te["targets"] > 0] == te["targets"][te["targets"] > 0])),
            "candidate_confusion": cm.tolist(), "candidate_confusion_agatston": cm_au.round(1).tolist(),
            "total_category_confusion": pd.crosstab(total_cat[0], total_cat[1]).to_dict(),
            "heart_error_mm_median": float(np.median(te["heart_error_mm"])),
            "test_truth_category4_counts": np.bincount(M.risk_category4(T.sum(1)), minlength=4).tolist(),
            "seconds": {"render_and_features": t_feat, "train": t_train, "score_test": t_score}}
    res["meta"] = meta
    atomic_write_text(a.out / "results.json", json.dumps(res, indent=2, default=float) + "\n")
    pred_df = pd.DataFrame(P, columns=list(VESSELS))
    pred_df.insert(0, "id", [str(i) for i in test_ids])
    pred_df["total"] = P.sum(1)
    atomic_write_text(a.out / "test_predictions.csv", pred_df.to_csv(index=False))
    _confusion_png(cm, cm_au, a.out / "candidate_confusion.png")
    write_figures(Joined([str(i) for i in test_ids], T, P, [], [], [], []), a.out)

    print(f"{a.train} train / {a.test} test phantom patients (seed {a.seed}, {a.size} px); "
          f"{meta['n_train_candidates']} / {meta['n_test_candidates']} candidates")
    print(f"{'row':24s} {'MSE(norm)':>10s} {'const':>8s} {'ratio':>7s} {'Spear':>6s} {'ICC':>6s} {'k4':>6s}"
          f" | per-vessel k4 / Spearman ({', '.join(VESSELS)})")
    for name, r in res.items():
        if name == "meta":
            continue
        per = "  ".join(f"{r[f'kappa4_{v}']:.2f}/{r[f'spearman_{v}']:.2f}" for v in VESSELS)
        print(f"{name:24s} {r['mse_norm_all4']:10.5f} {r['baseline_mse_norm_all4']:8.5f} {r['ratio']:7.2f} "
              f"{r['spearman_total']:6.3f} {r['icc_total']:6.3f} {r['kappa4_total']:6.3f} | {per}")
    print("candidate confusion (rows: reference, cols: predicted; " + ", ".join(L.CLASS_NAMES) + ")")
    print(cm)
    print("Agatston-weighted confusion (AU)")
    print(cm_au.round(0))
    print(f"times: render+features {t_feat:.0f} s, train {t_train:.0f} s, score test {t_score:.0f} s; "
          f"results in {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
