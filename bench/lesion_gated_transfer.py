"""Gated -> non-gated transfer of the candidate-classification scorer (cacscore.lesion.candidates), on the PHANTOM.

    .venv/bin/python bench/lesion_gated_transfer.py OUT [--train 120] [--test 60] [--seed 31] [--size 512]
        [--workers 2] [--epochs 40] [--threads 2] [--reuse]

A phantom release with gated series (cacscore.phantom.write_release(..., gated=True)) is written to OUT/release:
patients 1..TRAIN train, TRAIN+1..TRAIN+TEST are held out. Every row scores the same held-out NON-GATED test
series (5 mm, moving, noisy, whole chest) against the phantom's truth (the expert score of the motion- and
noise-free image, scores.xlsx); rows differ only in what the classifier was trained on:

  (a) nongated_labels   the training patients' NON-GATED series with the phantom's voxel labels (today's way,
                        cacscore lesion-train on a phantom root)
  (b) gated_rois        their GATED series (3 mm, heart-only FOV 200-260 mm) with the calcium XML ROI labels,
                        read exactly as `cacscore lesion-train --source gated` reads them
                        (cacscore.lesion.train.gated_volume_labels); positions from find_heart on the gated
                        volume (what lesion_cohort did before this bench)
  (b1) gated_fov_centre (b) with the gated volume's centre as the heart reference (the gated FOV is
                        centred on the heart; find_heart, built for whole-chest scans, is not)
  (b2) ... +thickness   (b1) with the two slice-spacing-dependent features made spacing-free on train AND
                        test: log_agatston without the slice factor dz / 3, n_slices3d as mm spanned
  (b3) ... -fov_context (b2) with the FOV-dependent 60 mm context features (bright_60mm, air_60mm) held
                        constant (a column with sd 0 is standardised to 0: the MLP cannot use it)
  (b4) ... +heart_jitter (b2) trained on JITTER_COPIES copies of each gated patient's candidates, each copy
                        with the heart reference shifted by N(0, JITTER_SD_MM) per axis: the gated reference
                        (FOV centre) is exact on the phantom, the non-gated test reference (find_heart) is not
  (b5) b3+heart_jitter    (b3) with the same heart-reference jitter
  (b6) b1+heart_jitter    (b1) with the same jitter: no feature change, so what lesion-train can ship as it is
  (b7) b6+noise           (b6) plus --noise-copies noisy copies of each gated training scan (noise sd drawn from
                        --noise-sd, cacscore.lesion.train.noise_augmented_candidates), each with one heart-
                        reference shift: what lesion-train --gated-noise-copies did before issue 16
  (b8) b7 in the heart finder's frame: (b7) with the heart finder's centre on the gated series as the reference
                        (cacscore.chest.heart.locate_heart reads a heart-centred field of view since issue 16, in
                        the frame it gives on whole-chest scans): what lesion-train does now

Metrics as in bench/lesion_scorer.py (same _summary): MSE on targets divided by the training maxima per vessel
averaged over the four vessels; constant = the test set's per-vessel mean; ratio = constant MSE / row MSE;
Spearman / ICC / kappa4 (linearly weighted, four total categories) total and per vessel. Reference rows:
ORACLE (the true class of every non-gated test candidate). Candidate-level confusion on the non-gated test
candidates (reference: phantom labels, majority vote) for every gated row.

Writes OUT/results.json, OUT/table.md, OUT/features_*.npz (reused with --reuse), OUT/models/<row>/.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import logging
import multiprocessing as mp
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from cacscore.lesion import train as LC
from cacscore import lesion as L
from cacscore.core.fileio import atomic_path, atomic_write_text
from cacscore.phantom import write_release
from cacscore.phantom.writer import write_patient
from cacscore.core.parallel import one_torch_thread
from cacscore.io.ct import read_ct as load_ct, read_labels as load_labels
from cacscore.core.vessels import VESSELS

log = logging.getLogger("bench.lesion_gated_transfer")

_spec = importlib.util.spec_from_file_location("lesion_scorer_bench", Path(__file__).with_name("lesion_scorer.py"))
_ls = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_ls)
_summary = _ls._summary  # the same metric definitions as bench/lesion_scorer.py

F = {n: i for i, n in enumerate(L.FEATURE_NAMES)}
NOISE_COPIES, NOISE_SD_HU = 2, (10.0, 35.0)  # row b7 (--noise-copies, --noise-sd)
POS = ("dz_mm", "dy_mm", "dx_mm", "r_inplane_mm", "dist_mm", "cos_inplane", "sin_inplane")


def reposition(features: np.ndarray, old_index, new_index, spacing_mm) -> np.ndarray:
    """Features with the position columns re-referenced from heart voxel index old_index to new_index (z, y, x);
    exact: find_candidates' positions are (centroid - heart index) x spacing."""
    f = features.copy()
    shift = (np.asarray(new_index, float) - np.asarray(old_index, float)) * np.asarray(spacing_mm, float)
    dz, dy, dx = (f[:, F[n]].astype(np.float64) - s for n, s in zip(("dz_mm", "dy_mm", "dx_mm"), shift))
    r = np.hypot(dy, dx)
    f[:, F["dz_mm"]], f[:, F["dy_mm"]], f[:, F["dx_mm"]] = dz, dy, dx
    f[:, F["r_inplane_mm"]] = r
    f[:, F["dist_mm"]] = np.sqrt(r ** 2 + dz ** 2)
    f[:, F["cos_inplane"]] = np.where(r > 0, dx / np.maximum(r, 1e-9), 0.0)
    f[:, F["sin_inplane"]] = np.where(r > 0, dy / np.maximum(r, 1e-9), 0.0)
    return f


def thickness_free(features: np.ndarray, dz_mm: np.ndarray) -> np.ndarray:
    """log_agatston without the slice factor dz / 3; n_slices3d -> mm spanned (x dz)."""
    f = features.copy()
    f[:, F["log_agatston"]] = np.log1p(np.expm1(f[:, F["log_agatston"]].astype(np.float64)) * 3.0 / dz_mm)
    f[:, F["n_slices3d"]] = f[:, F["n_slices3d"]] * dz_mm
    return f


def drop_columns(features: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    f = features.copy()
    for n in names:
        f[:, F[n]] = 0.0
    return f


def _extract(job: tuple[str, str, str]) -> dict:
    """Candidates of one patient's non-gated series (kind 'nongated') or gated series (kind 'gated')."""
    root_s, pid, kind = job
    root = Path(root_s)
    if kind == "gated_noise":  # NOISE_COPIES noisy copies of the gated series, as lesion-train --gated-noise-copies
        g = root / "Gated_release_final"
        case = LC.Case(pid, g / "patient" / pid, g / "calcium_xml" / f"{pid}.xml", kind="gated")
        hu, sp, lab, _ = LC.gated_volume_labels(case)
        heart = L.find_candidates(hu, sp).heart_index  # the same reference as the clean gated row's candidates
        f, tg = LC.noise_augmented_candidates(hu, sp, lab, heart, copies=NOISE_COPIES, sd_hu=NOISE_SD_HU,
                                              rng=np.random.default_rng([int(pid), 13]))
        centre = tuple((s_ - 1) / 2.0 for s_ in hu.shape)
        return {"pid": pid, "features": f, "targets": tg, "agatston": np.zeros(len(tg), np.float32),
                "dz": np.full(len(tg), sp[0], np.float32), "heart_index": np.array(heart, float),
                "centre_index": np.array(centre), "spacing": np.array(sp)}
    if kind == "gated":
        g = root / "Gated_release_final"
        case = LC.Case(pid, g / "patient" / pid, g / "calcium_xml" / f"{pid}.xml", kind="gated")
        hu, sp, lab, _ = LC.gated_volume_labels(case)
    else:
        ct = load_ct(root / "deidentified_nongated" / pid / pid)
        hu, sp = ct.hu, (abs(ct.spacing_mm[0]), *ct.spacing_mm[1:])
        lab = load_labels(root / "labels" / f"{pid}.nii.gz")
    c = L.find_candidates(hu, sp)
    tg = L.candidate_targets(c.ids, lab)
    centre = tuple((s - 1) / 2.0 for s in hu.shape)
    return {"pid": pid, "features": c.features, "targets": tg, "agatston": c.agatston.astype(np.float32),
            "dz": np.full(c.n, sp[0], np.float32), "heart_index": np.array(c.heart_index, float),
            "centre_index": np.array(centre), "spacing": np.array(sp)}


def _cohort(root: Path, pids: list[str], kind: str, workers: int, path: Path, reuse: bool) -> dict:
    if reuse and path.is_file():
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
        if [str(p) for p in d["pids"]] == pids:
            log.info("reusing %s", path)
            return d
    jobs = [(str(root), pid, kind) for pid in pids]
    if workers > 1:
        with mp.get_context("fork").Pool(workers, initializer=one_torch_thread) as pool:
            out = list(tqdm(pool.imap(_extract, jobs), total=len(jobs), desc=path.stem))
    else:
        out = [_extract(j) for j in tqdm(jobs, desc=path.stem)]
    return _assemble(out, pids, path)


def _render_extract(job: tuple[str, str, int, int, tuple[str, ...]]) -> dict:
    """--delete-series: write one patient (non-gated + gated series, labels, XML), extract its candidates, then
    delete its files (a 512 px patient with both series is ~55 MB: 180 patients would need ~10 GB)."""
    root_s, pid, seed, size, kinds = job
    root = Path(root_s)
    out = {"row": write_patient(root, int(pid), seed=seed, size=size, gated=True)}
    out |= {k: _extract((root_s, pid, k)) for k in kinds}
    for d in (root / "deidentified_nongated" / pid, root / "Gated_release_final" / "patient" / pid):
        shutil.rmtree(d, ignore_errors=True)
    for f in (root / "Gated_release_final" / "calcium_xml" / f"{pid}.xml", root / "labels" / f"{pid}.nii.gz",
              root / "labels_gated" / f"{pid}.nii.gz"):
        f.unlink(missing_ok=True)
    return out


def _assemble(out: list[dict], pids: list[str], path: Path) -> dict:
    d = {"pids": np.array(pids), "features": np.concatenate([r["features"] for r in out]),
         "targets": np.concatenate([r["targets"] for r in out]),
         "agatston": np.concatenate([r["agatston"] for r in out]), "dz": np.concatenate([r["dz"] for r in out]),
         "patient": np.concatenate([np.full(len(r["targets"]), int(r["pid"])) for r in out]),
         "heart_index": np.stack([r["heart_index"] for r in out]),
         "centre_index": np.stack([r["centre_index"] for r in out]), "spacing": np.stack([r["spacing"] for r in out])}
    # the candidates with the volume centre as the heart reference (exact re-referencing, per patient)
    fc = d["features"].copy()
    for i, pid in enumerate(pids):
        sel = d["patient"] == int(pid)
        fc[sel] = reposition(d["features"][sel], d["heart_index"][i], d["centre_index"][i], d["spacing"][i])
    d["features_centre"] = fc
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **d)
    return d


def jittered(d: dict, features: np.ndarray, *, copies: int, sd_mm: float, rng: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray]:
    """Training candidates repeated ``copies`` times, each copy of a patient with its heart reference moved by
    a random (z, y, x) shift ~ N(0, sd_mm) per axis (the non-gated heart finder's error at test time)."""
    fs, ys = [features], [d["targets"]]
    for _ in range(copies - 1):
        f = features.copy()
        for i, pid in enumerate(d["pids"]):
            sel = d["patient"] == int(pid)
            shift_idx = rng.normal(0.0, sd_mm, 3) / d["spacing"][i]
            f[sel] = reposition(features[sel], np.zeros(3), shift_idx, d["spacing"][i])
        fs.append(f)
        ys.append(d["targets"])
    return np.concatenate(fs), np.concatenate(ys)


def _scores(te: dict, pred: np.ndarray, test_ids: list[int]) -> np.ndarray:
    """(patients, 4) per-vessel Agatston: each candidate's contribution to its predicted vessel (distinct
    candidates never touch in a slice, so this equals cacscore.scoring.agatston.agatston of the assigned labels)."""
    idx = {pid: i for i, pid in enumerate(test_ids)}
    rows = np.array([idx[int(p)] for p in te["patient"]])
    P = np.zeros((len(test_ids), 4))
    for k in range(1, 5):
        sel = pred == k
        np.add.at(P[:, k - 1], rows[sel], te["agatston"][sel])
    return P


def main(argv: list[str] | None = None) -> int:
    global NOISE_COPIES, NOISE_SD_HU
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--train", type=int, default=120)
    ap.add_argument("--test", type=int, default=60)
    ap.add_argument("--seed", type=int, default=31)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--jitter-sd-mm", type=float, default=8.0, help="row b4: sd of the heart-reference shift")
    ap.add_argument("--jitter-copies", type=int, default=4, help="row b4: copies of each training candidate")
    ap.add_argument("--only", nargs="+", default=None, metavar="PREFIX", help="train / report only these rows")
    ap.add_argument("--delete-series", action="store_true",
                    help="render, extract and delete each patient's files in turn (disk: ~55 MB x workers, not "
                    "~10 GB for 180 patients at 512 px); OUT/release keeps truth.csv only")
    ap.add_argument("--reuse", action="store_true", help="reuse OUT/release and OUT/features_*.npz")
    ap.add_argument("--noise-copies", type=int, default=0, help="row b7: noisy copies of each gated training scan")
    ap.add_argument("--noise-sd", type=float, nargs=2, default=NOISE_SD_HU, help="row b7: range of the added sd")
    ap.add_argument("--z-margins", nargs="*", default=["none"], metavar="MM",
                    help="also evaluate every row's model with these ClassifierConfig.z_margin_mm values ('none': "
                    "no coronary z-range rule); the rows themselves use the library default")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    NOISE_COPIES, NOISE_SD_HU = a.noise_copies, tuple(a.noise_sd)  # read by the forked extraction workers
    logging.getLogger("cacscore.regress.preprocess").setLevel(logging.ERROR)  # find_heart's fallback note, per gated scan
    torch.set_num_threads(a.threads)
    a.out.mkdir(parents=True, exist_ok=True)
    root = a.out / "release"
    n = a.train + a.test
    t0 = time.perf_counter()
    train_ids, test_ids = list(range(1, a.train + 1)), list(range(a.train + 1, n + 1))
    s = [str(i) for i in train_ids]
    have = a.reuse and (root / "truth.csv").is_file() and len(pd.read_csv(root / "truth.csv")) == n
    if not have and a.delete_series:  # render + extract + delete, patient by patient
        train_kinds = ("nongated", "gated", "gated_noise") if a.noise_copies else ("nongated", "gated")
        jobs = [(str(root), str(pid), a.seed, a.size, train_kinds if pid <= a.train else ("nongated",))
                for pid in range(1, n + 1)]
        with mp.get_context("fork").Pool(a.workers, initializer=one_torch_thread) as pool:
            got = list(tqdm(pool.imap(_render_extract, jobs), total=n, desc="render+extract"))
        root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(root / "truth.csv", pd.DataFrame([g["row"] for g in got]).sort_values("id").to_csv(
            index=False, float_format="%.6f"))
        _assemble([g["nongated"] for g in got[:a.train]], s, a.out / "features_train_nongated.npz")
        _assemble([g["gated"] for g in got[:a.train]], s, a.out / "features_train_gated.npz")
        if a.noise_copies:
            _assemble([g["gated_noise"] for g in got[:a.train]], s, a.out / "features_train_gated_noise.npz")
        _assemble([g["nongated"] for g in got[a.train:]], [str(i) for i in test_ids], a.out / "features_test.npz")
        a.reuse = True
    elif not have:
        write_release(root, n_patients=n, seed=a.seed, size=a.size, gated=True, workers=a.workers)
    t_render = time.perf_counter() - t0
    truth = pd.read_csv(root / "truth.csv").set_index("id")
    t1 = time.perf_counter()
    tr_n = _cohort(root, s, "nongated", a.workers, a.out / "features_train_nongated.npz", a.reuse)
    tr_g = _cohort(root, s, "gated", a.workers, a.out / "features_train_gated.npz", a.reuse)
    te = _cohort(root, [str(i) for i in test_ids], "nongated", a.workers, a.out / "features_test.npz", a.reuse)
    tr_gn = (_cohort(root, s, "gated_noise", a.workers, a.out / "features_train_gated_noise.npz", a.reuse)
             if a.noise_copies else None)
    t_feat = time.perf_counter() - t1

    drop60 = ("bright_60mm", "air_60mm")
    rows_def = {  # name: (train features, train targets, test features)
        "a_nongated_labels": (tr_n["features"], tr_n["targets"], te["features"]),
        "b_gated_rois": (tr_g["features"], tr_g["targets"], te["features"]),
        "b1_gated_fov_centre": (tr_g["features_centre"], tr_g["targets"], te["features"]),
        "b2_fov_centre+thickness": (thickness_free(tr_g["features_centre"], tr_g["dz"]), tr_g["targets"],
                                    thickness_free(te["features"], te["dz"])),
        "b3_fov_centre+thickness-fov_context": (
            drop_columns(thickness_free(tr_g["features_centre"], tr_g["dz"]), drop60), tr_g["targets"],
            drop_columns(thickness_free(te["features"], te["dz"]), drop60)),
    }
    ftr4, ytr4 = jittered(tr_g, thickness_free(tr_g["features_centre"], tr_g["dz"]), copies=a.jitter_copies,
                          sd_mm=a.jitter_sd_mm, rng=np.random.default_rng(a.seed))
    rows_def[f"b4_fov_centre+thickness+heart_jitter{a.jitter_sd_mm:g}mm"] = (ftr4, ytr4,
                                                                            thickness_free(te["features"], te["dz"]))
    ftr5, ytr5 = jittered(tr_g, drop_columns(thickness_free(tr_g["features_centre"], tr_g["dz"]), drop60),
                          copies=a.jitter_copies, sd_mm=a.jitter_sd_mm, rng=np.random.default_rng(a.seed))
    rows_def[f"b5_b3+heart_jitter{a.jitter_sd_mm:g}mm"] = (
        ftr5, ytr5, drop_columns(thickness_free(te["features"], te["dz"]), drop60))
    ftr6, ytr6 = jittered(tr_g, tr_g["features_centre"], copies=a.jitter_copies, sd_mm=a.jitter_sd_mm,
                          rng=np.random.default_rng(a.seed))
    rows_def[f"b6_b1+heart_jitter{a.jitter_sd_mm:g}mm"] = (ftr6, ytr6, te["features"])
    if tr_gn is not None:  # (b7) b6 + the noisy copies, each with one heart-reference shift (as lesion-train)
        fn, yn = jittered(tr_gn, tr_gn["features_centre"], copies=2, sd_mm=a.jitter_sd_mm,
                          rng=np.random.default_rng(a.seed + 1))
        half = len(tr_gn["targets"])
        rows_def[f"b7_b6+noise{a.noise_copies}x{NOISE_SD_HU[0]:g}-{NOISE_SD_HU[1]:g}HU"] = (
            np.concatenate([ftr6, fn[half:]]), np.concatenate([ytr6, yn[half:]]), te["features"])
        # (b8) b7 in the heart finder's frame (issue 16: the finder reads a heart-centred field of view in the
        # frame it gives on whole-chest scans): what lesion-train does since; the noisy copies' candidates were
        # extracted with the clean scan's finder centre, so "features" is that frame for both
        ftr8, ytr8 = jittered(tr_g, tr_g["features"], copies=a.jitter_copies, sd_mm=a.jitter_sd_mm,
                              rng=np.random.default_rng(a.seed))
        fn8, yn8 = jittered(tr_gn, tr_gn["features"], copies=2, sd_mm=a.jitter_sd_mm,
                            rng=np.random.default_rng(a.seed + 1))
        rows_def["b8_b7_in_heart_finder_frame"] = (np.concatenate([ftr8, fn8[half:]]), np.concatenate([ytr8, yn8[half:]]),
                                                    te["features"])
    if a.only:
        rows_def = {k: v for k, v in rows_def.items() if any(k.startswith(o) for o in a.only)}
    T = truth.loc[test_ids, list(VESSELS)].to_numpy(float)
    nb = truth.loc[train_ids, list(VESSELS)].to_numpy(float).max(0)
    nb = np.where(nb > 0, nb, 1.0)
    cfg = L.ClassifierConfig(epochs=a.epochs, seed=a.seed)
    from sklearn.metrics import confusion_matrix

    res: dict = {}
    variants = []  # (row name, model, training targets, test features, seconds)
    for name, (ftr, ytr, fte) in rows_def.items():
        t2 = time.perf_counter()
        model = L.train_classifier(ftr, ytr, config=cfg)
        L.save_model(model, a.out / "models" / name)
        variants.append((name, model, ytr, fte, time.perf_counter() - t2))
        for m in a.z_margins:  # the same model with another coronary z-range margin (no retraining)
            mm = None if m == "none" else float(m)
            if mm != cfg.z_margin_mm:
                zm = dataclasses.replace(model, config=dataclasses.replace(model.config, z_margin_mm=mm))
                variants.append((f"{name} (z_margin {m})", zm, ytr, fte, 0.0))
    for name, model, ytr, fte, secs in variants:
        pred = model.predict(fte)
        P = _scores(te, pred, test_ids)
        cm = confusion_matrix(te["targets"], pred, labels=range(L.N_CLASSES))
        cm_au = np.zeros((L.N_CLASSES, L.N_CLASSES))
        np.add.at(cm_au, (te["targets"], pred), te["agatston"])
        cor = te["targets"] > 0
        res[name] = _summary(T, P, nb) | {
            "candidate_accuracy": float(np.mean(pred == te["targets"])),
            "coronary_recall": float(np.mean(pred[cor] > 0)),
            "coronary_vessel_accuracy": float(np.mean(pred[cor] == te["targets"][cor])),
            "false_positive_candidates": int(((te["targets"] == 0) & (pred > 0)).sum()),
            "false_positive_au": float(te["agatston"][(te["targets"] == 0) & (pred > 0)].sum()),
            "candidate_confusion": cm.tolist(), "candidate_confusion_agatston": cm_au.round(1).tolist(),
            "n_train_candidates": len(ytr), "train_class_counts": np.bincount(ytr, minlength=5).tolist(),
            "train_seconds": secs}
        pred_df = pd.DataFrame(P, columns=list(VESSELS))
        pred_df.insert(0, "id", test_ids)
        pred_df["total"] = P.sum(1)
        if (a.out / "models" / name).is_dir():
            atomic_write_text(a.out / "models" / name / "test_predictions.csv", pred_df.to_csv(index=False))
    res["oracle_true_class"] = _summary(T, _scores(te, te["targets"], test_ids), nb)
    herr = np.linalg.norm((tr_g["heart_index"] - tr_g["centre_index"]) * tr_g["spacing"], axis=1)
    meta = {"command": " ".join(["bench/lesion_gated_transfer.py", *(argv if argv is not None else sys.argv[1:])]),
            "data": "PHANTOM (cacscore.phantom), not real CT", "train_patients": a.train, "test_patients": a.test,
            "seed": a.seed, "size": a.size, "normalise_by": nb.tolist(),
            "n_test_candidates": len(te["targets"]), "test_class_counts": np.bincount(te["targets"], minlength=5).tolist(),
            "gated_find_heart_vs_fov_centre_mm": {"median": float(np.median(herr)), "p90": float(np.percentile(herr, 90)),
                                                 "max": float(herr.max())},
            "gated_slice_mm": sorted(set(np.round(tr_g["spacing"][:, 0], 3).tolist())),
            "nongated_slice_mm": sorted(set(np.round(te["spacing"][:, 0], 3).tolist())),
            "seconds": {"render_release": t_render, "candidates": t_feat}}
    res["meta"] = meta
    tag = "" if not a.only else "_" + "_".join(a.only)  # a partial run never overwrites the full results
    atomic_write_text(a.out / f"results{tag}.json", json.dumps(res, indent=2, default=float) + "\n")

    head = ("| row (trained on) | MSE(norm) | constant MSE | **ratio** | Spearman total | ICC total | **kappa4 total** | "
            "kappa4 LCA / LAD / LCX / RCA | coronary recall | right vessel | FP cand. (AU) |")
    lines = [head, "|" + "---|" * 11]
    for name, r in res.items():
        if name == "meta":
            continue
        k4 = " / ".join(f"{r[f'kappa4_{v}']:.2f}" for v in VESSELS)
        cand = (f"{r['coronary_recall']:.3f} | {r['coronary_vessel_accuracy']:.3f} | "
                f"{r['false_positive_candidates']} ({r['false_positive_au']:.0f})") if "coronary_recall" in r else "- | - | -"
        lines.append(f"| {name} | {r['mse_norm_all4']:.5f} | {r['baseline_mse_norm_all4']:.5f} | **{r['ratio']:.1f}** | "
                     f"{r['spearman_total']:.3f} | {r['icc_total']:.3f} | **{r['kappa4_total']:.3f}** | {k4} | {cand} |")
    table = "\n".join(lines)
    atomic_write_text(a.out / f"table{tag}.md", table + "\n")
    print(f"PHANTOM, seed {a.seed}, {a.size} px: {a.train} train / {a.test} held-out test patients; every row scores "
          f"the same {a.test} NON-GATED test series ({len(te['targets'])} candidates)")
    print(table)
    for name in rows_def:
        if name.startswith("b"):
            print(f"{name}: non-gated test candidate confusion (rows reference, cols predicted; {', '.join(L.CLASS_NAMES)})")
            print(np.array(res[name]["candidate_confusion"]))
            print("  by Agatston (AU):")
            print(np.array(res[name]["candidate_confusion_agatston"]).round().astype(np.int64))
    print(f"gated find_heart vs FOV centre: median {meta['gated_find_heart_vs_fov_centre_mm']['median']:.1f} mm; "
          f"times: release {t_render:.0f} s, candidates {t_feat:.0f} s; results in {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
