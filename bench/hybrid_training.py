"""Training the candidate scorer on phantom patients PLUS hybrid cases, measured leave-one-series-out (issue 16, item 5).

    PYTHONPATH=src python bench/hybrid_training.py hybrids OUT/hybrids [--data /work/shared/data]
        [--series lidc-idri-0001 ...] [--seeds 10] [--first-seed 100] [--min-plaques 8]
        [--landmarks docs/hybrid_landmarks.json] [--mac none|odd|all]
    PYTHONPATH=src python bench/hybrid_training.py mac-hybrids OUT/mac_hybrids --from OUT/hybrids/hybrids.csv
        [--series lidc-idri-0001 ...] [--mac odd|all]
    PYTHONPATH=src python bench/hybrid_training.py tables OUT/tables --phantom RELEASE [--n-train N]
        --hybrids OUT/hybrids/hybrids.csv [--per-series K]
    PYTHONPATH=src python bench/hybrid_training.py train OUT/tables/NAME.csv OUT/models/NAME --cache OUT/cache
        [--series-weights OUT/hybrids/hybrids.csv [--weight-cap 1]] [--reference finder|sac]
    PYTHONPATH=src python bench/hybrid_training.py phantom-eval OUT/phantom_eval --release HELD_OUT [--n 30]
        --model NAME=DIR ...
    PYTHONPATH=src python bench/hybrid_training.py report OUT/eval_0001 OUT/eval_0002 OUT/eval_0003 [--boot 2000]

hybrids: per real series and seed (100+ for training: bench/hybrid_cases.py evaluates seeds 0-9) a hybrid
(cacscore.phantom.hybrid.insert_plaques with the series' eye-placed anchors and min_plaques: the phantom's calcium
redrawn until that many plaques fall on the courses, more examples per written scan), written as NIfTI CT (int16) and NIfTI
label volume (uint8, case.labels), both read back through cacscore.io (checked equal, and the Agatston of the
read-back pair checked equal to the case's truth), listed in OUT/hybrids/hybrids.csv (id,ct,labels + series, seed,
truth per vessel): a CSV ``cacscore lesion-train`` reads (source kind csv).

tables: the training CSVs (id,ct,labels) of the comparison: phantom.csv (the phantom release's patients 1..n-train,
as bench/train_default_model.py's split_tables lists them), loso_<series>.csv (phantom + the hybrids of every OTHER
series: the model scored on <series>), all3.csv (phantom + every hybrid). Each is a valid lesion-train source.
--per-series K keeps only the K lowest-seed hybrids of each series (the hybrid weight sweep).

train: what ``cacscore lesion-train CSV DIR`` does with its default settings for non-gated cases (candidate
features, 40 epochs, class-weight power 0.5, density cap 500/930 HU, seed 0; one copy of each case), but each case's
candidates (cacscore.lesion.train._extract, the function lesion-train runs) are kept in --cache, so the four
training sets (sharing the same phantom patients) search each scan once. tests/test_hybrid_training.py checks the
weights equal lesion-train's on the same CSV (and the phantom-only set of docs/lesion_scorer.md gave weights
bit-identical to `cacscore lesion-train` on the same 120 patients). ``--lesion-train`` runs the command itself.
--series-weights HYBRIDS_CSV: each hybrid series' coronary candidates weighted so that every series weighs, per
vessel, as much as its number of hybrids x an average phantom patient (series_vessel_weights; pre-registered in
docs/lesion_scorer.md); --weight-cap caps those weights.

phantom-eval: the first --n patients of a held-out phantom release scored by each model (one candidate search per
scan for all models: bench/hybrid_cases.classify_many; per-vessel Agatston as LesionPredictor.score gives), written
as predict-style CSVs and evaluated with ``cacscore evaluate`` (bootstrap CIs, constant-mean baseline, kappa4).

The held-out LIDC hybrids are scored with bench/hybrid_cases.py (--series S --seeds 10 --first-seed 0 --model ...);
report pools those folders (bench/hybrid_cases.report: per series, pooled, paired bootstrap) and splits the inserted
AU by segment of the anchored course (RCA above / at / past the crux, the other vessels in thirds).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hybrid_cases import _models, _write_nifti, classify_many, series_landmarks

from cacscore import lesion as L
from cacscore.chest.anatomy import read_chest
from cacscore.lesion.anatomy import REFERENCES
from cacscore.core.vessels import VESSELS
from cacscore.io.ct import label_affine, read_ct, read_labels
from cacscore.lesion.candidates import assign_labels, score_assignment
from cacscore.lesion.classifier import feature_table, framed_candidates, load_model
from cacscore.lesion.train import Case, LesionCohortError, _extract, training_pairs
from cacscore.phantom.hybrid import HybridError, insert_plaques
from cacscore.scoring.agatston import agatston

REPO = Path(__file__).resolve().parents[1]
LANDMARKS = REPO / "docs" / "hybrid_landmarks.json"
SERIES = ("lidc-idri-0001", "lidc-idri-0002", "lidc-idri-0003")
LESION_TRAIN_DEFAULTS = L.ClassifierConfig(epochs=40, max_distance_mm=110.0, seed=0, class_weight_power=0.5,
                                           density_cap_hu=(500.0, 930.0), features=None)
"""The ClassifierConfig ``cacscore lesion-train`` builds from its default options (cli._cmd_lesion_train)."""


# ------------------------------------------------------------------ hybrids
def write_labels_nifti(path: Path, labels: np.ndarray, volume) -> None:
    """A (z, y, x) label volume as uint8 NIfTI on the CT's grid (stored (x, y, z), as the phantom's labels/)."""
    img = nib.Nifti1Image(np.ascontiguousarray(np.asarray(labels, np.uint8).transpose(2, 1, 0)), label_affine(volume))
    img.header.set_xyzt_units("mm")
    nib.save(img, str(path))


def _au(hu: np.ndarray, labels: np.ndarray, sp) -> dict[str, float]:
    return agatston(hu, labels, pixel_spacing_mm=(sp[1], sp[2]), slice_spacing_mm=sp[0]).as_row()


def write_hybrid(case, volume, sp, ct_path: Path, labels_path: Path) -> None:
    """Writes one hybrid's CT and labels and reads both back: one-line error naming the file if the round trip
    changed either, or if the read-back pair does not score the case's truth."""
    _write_nifti(ct_path, case.hu, volume)
    write_labels_nifti(labels_path, case.labels, volume)
    back = read_ct(ct_path)
    if not np.array_equal(back.hu, case.hu):
        raise SystemExit(f"{ct_path}: NIfTI round trip changed the image")
    lab = read_labels(labels_path)
    if not np.array_equal(lab, case.labels):
        raise SystemExit(f"{labels_path}: NIfTI round trip changed the labels")
    if _au(back.hu, lab, sp) != case.truth:
        raise SystemExit(f"{labels_path}: the read-back hybrid does not score its truth")


def write_hybrids(data: Path, series: list[str], seeds: range, out: Path, landmarks: Path | None,
                  min_plaques: int = 2, mac: str = "none") -> pd.DataFrame:
    """Hybrids of every series x seed (insert_plaques with min_plaques) written under out (skipped when
    out/hybrids.csv lists them already); mac: which of them also get mitral annular calcification (insert_plaques
    mac=True, non-coronary: label 0, a negative for training): "none", "odd" (odd seeds) or "all";
    returns and writes out/hybrids.csv (id, ct, labels absolute; series, seed, truth_<vessel>, truth_total)."""
    out.mkdir(parents=True, exist_ok=True)
    table = out / "hybrids.csv"
    old = pd.read_csv(table, dtype={"id": str}) if table.is_file() else pd.DataFrame(columns=["id"])
    rows = old.to_dict("records")
    have = set(old["id"])
    for name in series:
        todo = [s for s in seeds if f"{Path(name).name.removesuffix('.nii.gz')}_s{s}" not in have]
        if not todo:
            continue
        vol = read_ct(data / name) if (data / name).exists() else read_ct(Path(name))
        sp = tuple(abs(float(s)) for s in vol.spacing_mm)
        anatomy = read_chest(vol.hu, sp)
        anchors = series_landmarks(landmarks, Path(name).name)
        sname = Path(name).name.removesuffix(".nii.gz")
        for seed in todo:
            t0 = time.perf_counter()
            cid = f"{sname}_s{seed}"
            try:
                case = insert_plaques(vol.hu, sp, anatomy, seed, landmarks=anchors, min_plaques=min_plaques,
                                      mac=mac == "all" or (mac == "odd" and seed % 2 == 1))
            except HybridError as exc:
                print(f"{name} seed {seed}: no hybrid ({exc})", flush=True)
                continue
            ct, lab = out / f"{cid}_ct.nii.gz", out / f"{cid}_labels.nii.gz"
            write_hybrid(case, vol, sp, ct, lab)
            rows.append({"id": cid, "ct": str(ct.resolve()), "labels": str(lab.resolve()), "series": sname,
                         "seed": seed, "n_plaques": len(case.plaques),
                         **{f"truth_{k}": v for k, v in case.truth.items()},
                         "mac_spheres": len(case.mac_blobs),
                         "mac_au": _au(case.hu, case.mac.astype(np.uint8), sp)["total"] if case.mac is not None else 0.0})
            pd.DataFrame(rows).to_csv(table, index=False)  # after each hybrid: a stopped run keeps what it wrote
            print(f"{cid}: {len(case.plaques)} plaques, truth " + ", ".join(f"{v} {case.truth[v]:.0f}" for v in VESSELS)
                  + (f"; MAC {case.mac_note}" if case.mac is not None else "")
                  + f" ({time.perf_counter() - t0:.0f} s)", flush=True)
    return pd.DataFrame(rows)


def mac_hybrids(source: Path, out: Path, data: Path, series: list[str], landmarks: Path | None,
                mac: str = "odd") -> pd.DataFrame:
    """The hybrids listed in source (a hybrids.csv) of the given series, the chosen seeds ("odd" / "all") with
    mitral annular calcification added (cacscore.phantom.hybrid.add_mac: the written plaques, labels and truth
    unchanged; checked) and written under out as <id>_mac (new CT, the source's label file, the MAC's footprint as
    <id>_mac_macmask.nii.gz), the others listed as they are; returns and writes out/hybrids.csv (the source's columns +
    mac_spheres, mac_au, mac_mask). A training set from it
    differs from one from source by the MAC alone."""
    from cacscore.phantom.hybrid import add_mac

    out.mkdir(parents=True, exist_ok=True)
    src = pd.read_csv(source, dtype={"id": str, "series": str})
    rows = []
    for name in series:
        vol = read_ct(data / name)
        sp = tuple(abs(float(s)) for s in vol.spacing_mm)
        anatomy = read_chest(vol.hu, sp)
        anchors = series_landmarks(landmarks, name)
        for r in src[src["series"] == name].sort_values("seed").to_dict("records"):
            if not (mac == "all" or (mac == "odd" and int(r["seed"]) % 2 == 1)):
                rows.append({**r, "mac_spheres": 0, "mac_au": 0.0})
                continue
            t0 = time.perf_counter()
            hyb = read_ct(Path(r["ct"]))
            case = add_mac(hyb.hu, read_labels(Path(r["labels"])), sp, anatomy, int(r["seed"]), landmarks=anchors)
            if any(abs(case.truth[v] - float(r[f"truth_{v}"])) > 1e-6 for v in (*VESSELS, "total")):
                raise SystemExit(f"{r['ct']}: adding MAC changed the hybrid's truth")
            cid = f"{r['id']}_mac"
            ct = out / f"{cid}_ct.nii.gz"
            _write_nifti(ct, case.hu, vol)
            if not np.array_equal(read_ct(ct).hu, case.hu):
                raise SystemExit(f"{ct}: NIfTI round trip changed the image")
            mask = out / f"{cid}_macmask.nii.gz"
            write_labels_nifti(mask, case.mac, vol)
            mac_au = _au(case.hu, case.mac.astype(np.uint8), sp)["total"]
            rows.append({**r, "id": cid, "ct": str(ct.resolve()), "mac_spheres": len(case.mac_blobs), "mac_au": mac_au,
                         "mac_mask": str(mask.resolve())})
            pd.DataFrame(rows).to_csv(out / "hybrids.csv", index=False)
            print(f"{cid}: MAC {case.mac_note}, {mac_au:.0f} AU ({time.perf_counter() - t0:.0f} s)", flush=True)
    table = pd.DataFrame(rows)
    table.to_csv(out / "hybrids.csv", index=False)
    return table


# ------------------------------------------------------------------ tables
def phantom_rows(release: Path, n_train: int | None) -> pd.DataFrame:
    """The release's patients 1..n_train (all by default) as bench/train_default_model.py's split_tables lists
    them, ids prefixed with the release folder's name so they never collide with a hybrid's."""
    truth = pd.read_csv(release / "truth.csv", dtype={"id": str})
    ids = sorted(truth["id"], key=int)[:n_train]
    return pd.DataFrame({"id": [f"{release.name}_{i}" for i in ids],
                         "ct": [str((release / "deidentified_nongated" / i / i).resolve()) for i in ids],
                         "labels": [str((release / "labels" / f"{i}.nii.gz").resolve()) for i in ids]})


def first_per_series(hybrids: pd.DataFrame, k: int | None) -> pd.DataFrame:
    """The k lowest-seed hybrids of each series (all when k is None): the weight sweep takes seeds 100..100+k-1,
    fixed before looking at any result, so no hybrid is picked for how it scores. One-line error when a series has
    fewer than k."""
    if k is None:
        return hybrids
    short = hybrids.groupby("series")["id"].count().loc[lambda c: c < k]
    if len(short):
        raise SystemExit(f"hybrids.csv: series {', '.join(short.index)} has fewer than {k} hybrids")
    return hybrids.sort_values(["series", "seed"]).groupby("series", sort=True).head(k).reset_index(drop=True)


def fold_tables(phantom: pd.DataFrame, hybrids: pd.DataFrame, per_series: int | None = None) -> dict[str, pd.DataFrame]:
    """name -> training table (id, ct, labels): phantom, loso_<series> (phantom + the other series' hybrids), all3;
    per_series: only the first (lowest-seed) per_series hybrids of each series."""
    cols = ["id", "ct", "labels"]
    hybrids = first_per_series(hybrids, per_series)
    out = {"phantom": phantom[cols]}
    for s in sorted(hybrids["series"].unique()):
        out[f"loso_{s}"] = pd.concat([phantom[cols], hybrids.loc[hybrids["series"] != s, cols]], ignore_index=True)
    out["all3"] = pd.concat([phantom[cols], hybrids[cols]], ignore_index=True)
    return out


# ------------------------------------------------------------------ training
CACHE_VERSION = 2
"""Version of what a cached case holds, bumped whenever _extract computes other rows for the same case: 2 (session
13): candidates found through the scoring door (cacscore.lesion.classifier.framed_candidates, positions from
heart_reference for every model with the anatomy rules) instead of find_candidates' own heart finder. Files of
another version live in other folders (version 1: CACHE/<id>.npz and CACHE/reference-sac/) and are never read."""


def cache_folder(cache: Path, config: L.ClassifierConfig) -> Path:
    """Where the cached candidates of config's frame live: CACHE/v<CACHE_VERSION>-<frame> (ClassifierConfig.frame)."""
    return cache / f"v{CACHE_VERSION}-{config.frame.replace(':', '-')}"


def cached_extract(case: Case, cache: Path, config: L.ClassifierConfig = LESION_TRAIN_DEFAULTS) -> dict:
    """lesion-train's candidates + targets of one case (_extract with ``config``: non-gated, candidate features,
    positions in config's frame), stored in cache_folder(cache, config)/<id>.npz, so another training set with the
    same case does not search it again, and features of two frames or two cache versions never mix: each file
    records its version and frame, and a file without them or of another one is an error."""
    folder, frame = cache_folder(cache, config), f"v{CACHE_VERSION} {config.frame}"
    f = folder / f"{case.id}.npz"
    if f.is_file():
        z = np.load(f, allow_pickle=False)
        stored = str(z["frame"]) if "frame" in z.files else "no frame recorded"
        if stored != frame:
            raise LesionCohortError(f"{f}: candidates cached as {stored!r}, not {frame!r} (delete the file)")
        return {"id": case.id, "kind": case.kind, "features": z["features"], "targets": z["targets"]}
    r = _extract(case, 130.0, 1.0, config=config)
    if "error" not in r:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{case.id}.tmp.npz"
        np.savez(tmp, features=r["features"], targets=r["targets"], frame=np.array(frame))
        tmp.replace(f)
    return r


def series_vessel_weights(series: list[str | None], targets: list[np.ndarray], near: list[np.ndarray],
                          cap: float | None = None) -> tuple[list[np.ndarray], dict]:
    """Per case, (n,) sample weights that give every hybrid series the same coronary weight per vessel
    (docs/lesion_scorer.md, "Per-series, per-vessel weighting", pre-registered): a candidate of a hybrid of series s
    whose truth is vessel v weighs T(s, v) / n(s, v), T(s, v) = h(s) x N_phantom(v) / P, where n(s, v) counts s's
    candidates of v within reach (``near``), h(s) s's cases, N_phantom(v) the phantom's candidates of v within reach
    and P the phantom cases (``series`` None). So each series weighs, per vessel, as much as h(s) average phantom
    patients, however many plaques its draws happened to hold. Phantom and non-coronary candidates weigh 1.
    cap: no weight above it (1: down-weighting only). Returns the weights and a summary per series and vessel
    (n, target, weight). One-line error when there is no phantom case (the target has no scale)."""
    phantom = [i for i, s in enumerate(series) if s is None]
    if not phantom:
        raise SystemExit("series weights: the training table holds no phantom case to scale the target by")
    count = lambda idx, v: int(sum(int(((targets[i] == v) & near[i]).sum()) for i in idx))
    per_patient = {v: count(phantom, v) / len(phantom) for v in range(1, L.N_CLASSES)}
    weights = [np.ones(len(t), np.float64) for t in targets]
    summary: dict = {}
    for s in sorted({s for s in series if s is not None}):
        idx = [i for i, x in enumerate(series) if x == s]
        summary[s] = {}
        for v in range(1, L.N_CLASSES):
            n, target = count(idx, v), len(idx) * per_patient[v]
            w = target / n if n else 1.0
            w = min(w, cap) if cap is not None else w
            for i in idx:
                weights[i][targets[i] == v] = w
            summary[s][L.CLASS_NAMES[v]] = {"n": n, "target": target, "weight": w}
    return weights, summary


def mac_flags(res: list[dict], masks: dict[str, str], cts: dict[str, str],
              config: L.ClassifierConfig = LESION_TRAIN_DEFAULTS) -> list[np.ndarray]:
    """Per case, (n,) bool: the non-coronary candidates of a MAC hybrid (masks: case id -> its MAC footprint NIfTI,
    written by mac-hybrids; cts: case id -> CT) most of whose voxels are MAC. The candidates are searched again as
    lesion-train's _extract searches them (framed_candidates with config, 130 HU, 1 mm2) and checked equal to the
    cached ones (a MAC moves the found heart centre, so every candidate's position features change: comparing cached
    rows with the plain hybrid's cannot find the MAC). All False for cases without a mask."""
    out = []
    for r in res:
        if r["id"] not in masks or not isinstance(masks[r["id"]], str):
            out.append(np.zeros(len(r["targets"]), bool))
            continue
        vol = read_ct(Path(cts[r["id"]]))
        sp = (abs(float(vol.spacing_mm[0])), *vol.spacing_mm[1:])
        cand = framed_candidates(vol.hu, sp, config, threshold_hu=130.0, min_area_mm2=1.0)
        if not np.array_equal(cand.features, r["features"]):
            raise SystemExit(f"{cts[r['id']]}: the candidates found again differ from the cached ones")
        mac = L.candidate_targets(cand.ids, read_labels(Path(masks[r["id"]])).astype(np.uint8)) > 0
        out.append(mac & (r["targets"] == 0))
    return out


def mac_like_lcx_weights(weights: np.ndarray, targets: np.ndarray, near: np.ndarray, flags: np.ndarray,
                         series: np.ndarray, summary: dict, power: float) -> tuple[np.ndarray, dict]:
    """weights with each hybrid MAC candidate (flags) of series s weighing as one LCX candidate of s in the loss:
    its series' LCX weight x the class-weight ratio LCX / non-coronary that train_classifier applies
    ((count non-coronary / count LCX) ** class_weight_power over the candidates within reach). Pre-registered in
    docs/lesion_scorer.md (session 12, wt20a, variant 2)."""
    counts = np.bincount(targets[near], minlength=L.N_CLASSES).astype(float)
    ratio = (counts[0] / max(counts[3], 1.0)) ** power
    w = weights.copy()
    info = {"class_weight_ratio_lcx_to_noncoronary": ratio}
    for s in summary:
        on = flags & (series == s)
        w[on] = ratio * summary[s]["LCX"]["weight"]
        info[s] = {"mac_candidates": int(on.sum()), "weight": float(ratio * summary[s]["LCX"]["weight"])}
    return w, info


def mac_masks(hybrids_csv: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(case id -> MAC mask NIfTI, case id -> CT) of the hybrids.csv rows that have a mac_mask."""
    h = pd.read_csv(hybrids_csv, dtype={"id": str})
    if "mac_mask" not in h.columns:
        raise SystemExit(f"{hybrids_csv}: no mac_mask column (written by bench/hybrid_training.py mac-hybrids)")
    h = h[h["mac_mask"].notna()]
    return dict(zip(h["id"], h["mac_mask"])), dict(zip(h["id"], h["ct"]))


def hybrid_series(hybrids_csv: Path) -> dict[str, str]:
    """case id -> real series, from the hybrids step's hybrids.csv (cases not listed are phantom patients)."""
    h = pd.read_csv(hybrids_csv, dtype={"id": str, "series": str})
    return dict(zip(h["id"], h["series"]))


def train_cached(csv: Path, out_dir: Path, cache: Path, config: L.ClassifierConfig = LESION_TRAIN_DEFAULTS,
                 series_of: dict[str, str] | None = None, weight_cap: float | None = None,
                 mac_weights: tuple[dict, dict] | None = None) -> dict:
    """lesion-train's training (train_lesion_model's path for non-gated cases: one copy of each case's candidates,
    the model's feature table, train_classifier, save_model) from cached candidates. series_of (case id -> real
    series): weight the hybrids' coronary candidates per series and vessel (series_vessel_weights, capped at
    weight_cap); None: every candidate weighs 1, as lesion-train. Returns a short report, also written as
    out_dir/training_report.json."""
    t0 = time.perf_counter()
    cases = training_pairs(csv, kind="csv")
    res = [cached_extract(c, cache, config) for c in cases]
    bad = [r for r in res if "error" in r]
    if bad:
        raise LesionCohortError(f"{csv}: {len(bad)} case(s) unusable; first {bad[0]['id']}: {bad[0]['error']}")
    names = config.feature_names
    table = np.concatenate([feature_table(r["features"], None, names) for r in res]).astype(np.float32)
    targets = np.concatenate([r["targets"] for r in res]).astype(np.int64)
    weights, summary = None, None
    if series_of is not None:
        dist = L.FEATURE_NAMES.index("dist_mm")
        w, summary = series_vessel_weights([series_of.get(r["id"]) for r in res], [r["targets"] for r in res],
                                           [r["features"][:, dist] <= config.max_distance_mm for r in res], weight_cap)
        weights = np.concatenate(w)
    mac_info = None
    if mac_weights:
        if weights is None:
            raise SystemExit("--mac-weight-like-lcx needs --series-weights (the LCX weight of each series)")
        dist = L.FEATURE_NAMES.index("dist_mm")
        near = np.concatenate([r["features"][:, dist] <= config.max_distance_mm for r in res])
        series = np.concatenate([np.full(len(r["targets"]), series_of.get(r["id"]) or "", object) for r in res])
        flags = np.concatenate(mac_flags(res, mac_weights[0], mac_weights[1], config))
        weights, mac_info = mac_like_lcx_weights(weights, targets, near, flags, series, summary,
                                                 config.class_weight_power)
        print(f"  MAC weights: {mac_info}", flush=True)
    t1 = time.perf_counter()
    model = L.train_classifier(table, targets, config=config, sample_weight=weights, threshold_hu=130.0,
                               min_area_mm2=1.0)
    out_dir.mkdir(parents=True, exist_ok=True)
    L.save_model(model, out_dir)
    counts = np.bincount(targets, minlength=L.N_CLASSES)
    rep = {"source": str(csv), "n_cases": len(res), "cases_used": [r["id"] for r in res],
           "candidates": {n: int(c) for n, c in zip(L.CLASS_NAMES, counts)},
           "config": "cacscore lesion-train defaults (LESION_TRAIN_DEFAULTS)", "reference": config.reference,
           "frame": config.frame, "cache_version": CACHE_VERSION,
           "series_weights": None if summary is None else {"cap": weight_cap, "per_series": summary},
           "mac_weights": mac_info,
           "seconds": {"candidates": t1 - t0, "train": time.perf_counter() - t1}}
    (out_dir / "training_report.json").write_text(json.dumps(rep, indent=1) + "\n")
    print(f"{out_dir}: {len(res)} cases, candidates " + ", ".join(f"{k} {v}" for k, v in rep["candidates"].items())
          + f"; {rep['seconds']['candidates']:.0f} s candidates, {rep['seconds']['train']:.0f} s train", flush=True)
    if summary:
        for s, d in summary.items():
            print(f"  {s}: " + ", ".join(f"{v} n {x['n']} w {x['weight']:.3f}" for v, x in d.items()), flush=True)
    return rep


# ------------------------------------------------------------------ phantom evaluation
LOOKALIKE_KINDS = {"MAC": ("mitral_annulus_calcium",), "cartilage": ("costal_cartilage", "cartilage_calcium"),
                   "aortic": ("aortic_wall_calcium",),
                   "abdominal": ("liver", "abdomen", "spleen", "stomach", "aorta_abdominal", "ivc"),
                   "aortic valve": ("aortic_valve_calcium",), "lymph node": ("lymph_node",),
                   "granuloma": ("lung_granuloma",), "bone": ("vertebra", "rib", "sternum", "scapula", "clavicle",
                                                           "humerus")}
"""Kinds of non-coronary candidate by the phantom's anatomy label under them (the release's anatomy/labels.json
names); the first four are the shipping criterion's look-alikes (docs/lesion_scorer.md, pre-registered). Unlike
bench/lesion_lookalikes.py, aortic-wall calcium on the abdominal aorta stays "aortic" (the release keeps no aorta
tube to split it by)."""


def lookalike_kinds(ids: np.ndarray, anatomy: np.ndarray, names: dict[int, str]) -> np.ndarray:
    """(n,) kind of each candidate 1..n of ``ids`` (a LOOKALIKE_KINDS key, else "other"): the calcium label covering
    at least a quarter of its voxels (the phantom paints calcium blobs at quarter coverage, as
    bench/lesion_lookalikes.py reads them), else its majority anatomy label."""
    n = int(ids.max()) if ids.size else 0
    sel = ids > 0
    tab = np.bincount(ids[sel].astype(np.int64) * 256 + anatomy[sel], minlength=(n + 1) * 256).reshape(n + 1, 256)[1:]
    calcium = np.array([k for k, v in names.items() if v.endswith("_calcium") or v in ("lymph_node", "lung_granuloma")])
    cal = calcium[tab[:, calcium].argmax(1)]
    lab = np.where(tab[:, calcium].max(1) >= 0.25 * tab.sum(1), cal, tab.argmax(1))
    out = np.full(n, "other", dtype=object)
    for kind, labs in LOOKALIKE_KINDS.items():
        out[np.isin(lab, [k for k, v in names.items() if v in labs])] = kind
    return out


def _lookalike_rows(release: Path, pid: str, cand, classes: dict[str, np.ndarray], names: dict[int, str]) -> list[dict]:
    """Per model and kind of non-coronary candidate (true coronary candidates left out): candidates, their AU,
    how many and how much AU the model called coronary, and as which vessel."""
    if not cand.n:
        return []
    targets = L.candidate_targets(cand.ids, read_labels(release / "labels" / f"{pid}.nii.gz"))
    kind = lookalike_kinds(cand.ids, read_labels(release / "anatomy" / f"{pid}.nii.gz"), names)
    au = np.asarray(cand.agatston, float)
    rows = []
    for k in dict.fromkeys(kind[targets == 0]):
        on = (kind == k) & (targets == 0)
        for m, c in classes.items():
            called = on & (c > 0)
            rows.append({"id": pid, "model": m, "kind": k, "candidates": int(on.sum()), "au": float(au[on].sum()),
                         "called": int(called.sum()), "au_called": float(au[called].sum()),
                         **{f"au_{v}": float(au[called & (c == j)].sum()) for j, v in enumerate(VESSELS, 1)}})
    return rows


def phantom_predictions(release: Path, n: int, models: dict[str, Path]) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Per model, a predict-style table (id, LCA..RCA, total) of the release's first n patients; and, where the
    release has anatomy/ label volumes, the look-alike table (_lookalike_rows) of every patient and model."""
    loaded = {k: load_model(p) for k, p in models.items()}
    ids = sorted(pd.read_csv(release / "truth.csv", dtype={"id": str})["id"], key=int)[:n]
    names_file = release / "anatomy" / "labels.json"
    names = {int(k): v for k, v in json.loads(names_file.read_text()).items()} if names_file.is_file() else None
    rows: dict[str, list] = {k: [] for k in models}
    looks: list[dict] = []
    for i in ids:
        vol = read_ct(release / "deidentified_nongated" / i / i)
        sp = tuple(abs(float(s)) for s in vol.spacing_mm)
        cand, classes = classify_many(vol.hu, sp, loaded)
        for k, c in classes.items():
            s = score_assignment(vol.hu, cand, c, labels=assign_labels(cand.ids, c))
            rows[k].append({"id": i, **{v: s[v] for v in VESSELS}, "total": sum(s[v] for v in VESSELS)})
        if names is not None:
            looks += _lookalike_rows(release, i, cand, classes, names)
        print(f"phantom {i}: " + "; ".join(f"{k} {rows[k][-1]['total']:.0f}" for k in models), flush=True)
    return {k: pd.DataFrame(r) for k, r in rows.items()}, pd.DataFrame(looks)


def lookalike_table(looks: pd.DataFrame) -> pd.DataFrame:
    """Per kind (rows) and model (columns): AU called coronary over all patients, as 'AU (candidates called)'."""
    g = looks.groupby(["kind", "model"])[["au_called", "called"]].sum().reset_index()
    g["cell"] = [f"{a:.0f} ({c})" for a, c in zip(g["au_called"], g["called"])]
    return g.pivot(index="kind", columns="model", values="cell")


def phantom_eval(release: Path, n: int, models: dict[str, Path], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    truth = pd.read_csv(release / "truth.csv", dtype={"id": str})
    preds, looks = phantom_predictions(release, n, models)
    truth[truth["id"].isin(preds[next(iter(preds))]["id"])].to_csv(out / "truth.csv", index=False)
    if len(looks):
        looks.to_csv(out / "lookalikes.csv", index=False)
        print("\nAU called coronary (candidates) on non-coronary candidates, by kind:\n"
              + lookalike_table(looks)[list(models)].to_string(), flush=True)
    for k, p in preds.items():
        p.to_csv(out / f"pred_{k}.csv", index=False)
        subprocess.run([sys.executable, "-m", "cacscore.cli", "evaluate", str(out / f"pred_{k}.csv"),
                        str(out / "truth.csv"), "--out", str(out / f"eval_{k}"), "--bootstrap", "1000", "--seed", "0"],
                       check=True, stdout=subprocess.DEVNULL)
        m = pd.read_csv(out / f"eval_{k}" / "metrics.csv")
        tot = m[m["vessel"] == "total"].set_index("metric")
        a4 = m[(m["vessel"] == "all4") & (m["metric"] == "mse_norm")].iloc[0]
        print(f"{k}: " + ", ".join(f"{q} {tot.loc[q, 'value']:.3f} [{tot.loc[q, 'ci_low']:.3f}, "
                                   f"{tot.loc[q, 'ci_high']:.3f}]" for q in ("mse_norm", "kappa4") if q in tot.index)
              + f", ratio all4 {a4['baseline'] / a4['value']:.2f}", flush=True)


# ------------------------------------------------------------------ report
def crux_arcs(data: Path, series: list[str], landmarks: Path | None) -> dict[str, tuple[float, float]]:
    """Per series: (arc length of the crux along the seed-0 hybrid's RCA course, the crux's z), mm. The anchored
    courses do not depend on the seed (checked here on seed 1)."""
    from hybrid_cases import course_position

    out = {}
    for name in series:
        anchors = series_landmarks(landmarks, name)
        if not anchors:
            continue
        vol = read_ct(data / name)
        sp = tuple(abs(float(s)) for s in vol.spacing_mm)
        anatomy = read_chest(vol.hu, sp)
        rca = insert_plaques(vol.hu, sp, anatomy, 0, landmarks=anchors).courses["RCA"]
        if not np.allclose(rca, insert_plaques(vol.hu, sp, anatomy, 1, landmarks=anchors).courses["RCA"]):
            raise SystemExit(f"{data / name}: the anchored RCA course differs between seeds 0 and 1")
        crux = np.asarray(json.loads(landmarks.read_text())[name]["crux"], float)
        out[name] = (course_position(rca, crux)[0], float(crux[0]))
    return out


def segment(r, crux: dict[str, tuple[float, float]]) -> str:
    """The segment of the anchored course a plaque candidate lies on (the split of docs/lesion_scorer.md's
    segment table: RCA at the crux and 15 mm above it, the other vessels in thirds)."""
    if r.truth_vessel == "RCA" and r.series in crux:
        arc, z = crux[r.series]
        if r.course_mm > arc + 2:
            return "RCA past the crux (PDA)"
        return "RCA inferior, <= 15 mm above the crux" if r.z_mm - z <= 15 else "RCA right AV groove, > 15 mm above the crux"
    f = r.course_mm / max(r.course_len_mm, 1e-6)
    return f"{r.truth_vessel} {'proximal' if f < 1 / 3 else 'middle' if f < 2 / 3 else 'distal'} third"


def segment_table(pl: pd.DataFrame, crux: dict) -> pd.DataFrame:
    """Per model, segment, series: inserted AU, found in the right vessel, called non-coronary, other vessel."""
    pl = pl.assign(segment=[segment(r, crux) for r in pl.itertuples()])
    right, nc = pl["class"] == pl["truth_vessel"], pl["class"] == "non-coronary"
    pl = pl.assign(found=pl["au"].where(right, 0.0), non_coronary=pl["au"].where(nc, 0.0),
                   other=pl["au"].where(~right & ~nc, 0.0))
    return pl.groupby(["model", "segment", "series"])[["au", "found", "non_coronary", "other"]].sum().reset_index()


def report(evals: list[Path], data: Path, landmarks: Path | None, boot: int) -> None:
    """The held-out series' bench/hybrid_cases.py outputs pooled: its report (per series, pooled, paired bootstrap
    against its first model) and the segment table."""
    import hybrid_cases as HC

    h = pd.concat([pd.read_csv(e / "hybrids.csv") for e in evals], ignore_index=True)
    pl = pd.concat([pd.read_csv(e / "plaques.csv") for e in evals], ignore_index=True)
    fp = pd.concat([pd.read_csv(e / "fp.csv") for e in evals], ignore_index=True)
    models = list(dict.fromkeys(h["model"]))
    HC.report(h, pl, fp, models, boot)
    seg = segment_table(pl, crux_arcs(data, sorted(h["series"].unique()), landmarks))
    print("\nInserted AU by course segment: found in the right vessel / called non-coronary / other vessel (of AU)\n")
    print("| segment | series | " + " | ".join(models) + " |")
    print("| --- | --- |" + " --- |" * len(models))
    for (sg, ser), g in seg.groupby(["segment", "series"]):
        g = g.set_index("model")
        print(f"| {sg} | {ser[-4:]} | " + " | ".join(
            f"{g.loc[m, 'found']:.0f} / {g.loc[m, 'non_coronary']:.0f} / {g.loc[m, 'other']:.0f} of {g.loc[m, 'au']:.0f}"
            for m in models) + " |")


# ------------------------------------------------------------------ command line
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("hybrids")
    h.add_argument("out", type=Path)
    h.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    h.add_argument("--series", nargs="+", default=list(SERIES))
    h.add_argument("--seeds", type=int, default=10)
    h.add_argument("--first-seed", type=int, default=100)
    h.add_argument("--landmarks", type=Path, default=LANDMARKS)
    h.add_argument("--min-plaques", type=int, default=8, help="insert_plaques min_plaques: the phantom's calcium "
                   "redrawn until this many plaques fall on the courses (more plaque examples per written scan)")
    h.add_argument("--mac", choices=("none", "odd", "all"), default="none", help="which hybrids also get "
                   "mitral annular calcification (non-coronary negatives on the real annulus): none, odd seeds, all")
    mh = sub.add_parser("mac-hybrids")
    mh.add_argument("out", type=Path)
    mh.add_argument("--from", dest="source", type=Path, required=True, help="hybrids.csv of written hybrids")
    mh.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    mh.add_argument("--series", nargs="+", default=list(SERIES))
    mh.add_argument("--landmarks", type=Path, default=LANDMARKS)
    mh.add_argument("--mac", choices=("odd", "all"), default="odd")
    t = sub.add_parser("tables")
    t.add_argument("out", type=Path)
    t.add_argument("--phantom", type=Path, required=True, help="phantom release (truth.csv, labels/)")
    t.add_argument("--n-train", type=int, default=None, help="patients 1..N (default all)")
    t.add_argument("--hybrids", type=Path, required=True, help="hybrids.csv written by the hybrids step")
    t.add_argument("--per-series", type=int, default=None, help="only the K lowest-seed hybrids of each series "
                   "(the hybrid weight sweep; default all)")
    r = sub.add_parser("train")
    r.add_argument("csv", type=Path)
    r.add_argument("out", type=Path)
    r.add_argument("--cache", type=Path, required=True)
    r.add_argument("--lesion-train", action="store_true", help="run cacscore lesion-train itself (no cache)")
    r.add_argument("--series-weights", type=Path, default=None, metavar="HYBRIDS_CSV",
                   help="weight the hybrids' coronary candidates so each real series (hybrids.csv's series column) "
                        "weighs, per vessel, as its number of hybrids x an average phantom patient")
    r.add_argument("--weight-cap", type=float, default=None, help="with --series-weights: no weight above this")
    r.add_argument("--mac-weight-like-lcx", action="store_true",
                   help="with --series-weights: each MAC hybrid's MAC candidates (hybrids.csv's mac_mask, written by "
                        "mac-hybrids) weigh as one LCX candidate of its series in the loss")
    r.add_argument("--reference", choices=REFERENCES, default="finder", help="the frame of the position features "
                   "(ClassifierConfig.reference; its cached candidates in CACHE/v2-heart_reference-NAME, cache_folder)")
    e = sub.add_parser("phantom-eval")
    e.add_argument("out", type=Path)
    e.add_argument("--release", type=Path, required=True)
    e.add_argument("--n", type=int, default=30)
    e.add_argument("--model", nargs="+", required=True, help="NAME=DIR")
    p = sub.add_parser("report")
    p.add_argument("evals", type=Path, nargs="+", help="bench/hybrid_cases.py --out folders (one per held-out series)")
    p.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    p.add_argument("--landmarks", type=Path, default=LANDMARKS)
    p.add_argument("--boot", type=int, default=2000)
    a = ap.parse_args(argv)
    if a.cmd == "report":
        report(a.evals, a.data, a.landmarks, a.boot)
    elif a.cmd == "hybrids":
        write_hybrids(a.data, a.series, range(a.first_seed, a.first_seed + a.seeds), a.out, a.landmarks,
                      a.min_plaques, a.mac)
    elif a.cmd == "mac-hybrids":
        mac_hybrids(a.source, a.out, a.data, a.series, a.landmarks, a.mac)
    elif a.cmd == "tables":
        a.out.mkdir(parents=True, exist_ok=True)
        hy = pd.read_csv(a.hybrids, dtype={"id": str})
        for name, df in fold_tables(phantom_rows(a.phantom, a.n_train), hy, a.per_series).items():
            df.to_csv(a.out / f"{name}.csv", index=False)
            print(f"{a.out / name}.csv: {len(df)} rows", flush=True)
    elif a.cmd == "train":
        if a.lesion_train:
            subprocess.run([sys.executable, "-m", "cacscore.cli", "lesion-train", str(a.csv), str(a.out),
                            "--source", "csv", "--no-progress"], check=True)
        else:
            train_cached(a.csv, a.out, a.cache, dataclasses.replace(LESION_TRAIN_DEFAULTS, reference=a.reference),
                         series_of=None if a.series_weights is None else hybrid_series(a.series_weights),
                         weight_cap=a.weight_cap,
                         mac_weights=mac_masks(a.series_weights) if a.mac_weight_like_lcx else None)
    else:
        phantom_eval(a.release, a.n, _models(a.model), a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
