"""``cacscore demo OUT``: synthetic release -> cohort cache -> the paper's protocol, on a laptop CPU in minutes.

OUT/release/  synthetic non-gated chest CT (COCA layout, exact per-vessel scores)    (cacscore.phantom)
OUT/cache/    cohort cache (73 x size x size int16 HU)                                 (cacscore.regress.cache)
OUT/reproduce/ table1.csv/.md, fig2_loss_curves.png, fig3_saliency.png, models/        (cacscore.regress.reproduce)
OUT/lesion/   the candidate-classification scorer (cacscore.lesion.candidates) trained on the same training patients
              from the release (CT + voxel labels) and scored on the same test patients: model/,
              test_predictions.csv, table.csv/.md (Table 1's metrics and constant-mean baseline),
              scatter/bland_altman/confusion4.png, labels/<id>.nii.gz       (cacscore.lesion.train)
OUT/demo_config.json  what was run (cohort, grid, epochs), how long each stage took, and what was pruned

When every stage has finished, what only the pipeline needed is deleted (:func:`prune_outputs`; ``keep_all``
keeps it): reproduce's training checkpoints (runs/, unless ``keep_checkpoints``) and per-fold bundles (their
results are in Table 1 and test_predictions.csv), the cache's scans (manifest.csv, with the reference scores,
stays), and the CT of every release patient but KEPT_EXAMPLES test patients (labels/ and truth.csv stay). A
default demo (80 patients at 128 px) then keeps about 60 MB. A pruned demo run again in the same OUT starts afresh.

The demo grid is one grid point and few epochs (``cv.GRIDS["demo"]``) so that 5 folds x 3 models fit the
time budget; ``cacscore reproduce`` with ``--grid small`` or ``paper`` is the full search.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cacscore.regress.cv import GRIDS
from cacscore.core.fileio import atomic_write_text, natural_key

log = logging.getLogger(__name__)


def run_demo(out: Path, *, n_patients: int = 80, size: int = 128, seed: int = 0, workers: int = 2,
             models: tuple[str, ...] = ("cnn", "se_cnn", "vit"), grid: dict | None = None,
             device: str = "auto", progress: bool = True, keep_checkpoints: bool = False,
             keep_all: bool = False) -> dict[str, Path]:
    """Run the demo into ``out`` (reusing finished stages of an earlier, unfinished run there); returns artefact
    paths.

    keep_checkpoints: keep every training run's full checkpoint (default: the best weights only, a quarter of
    the size; reproduce's keep_checkpoints), and keep them after the demo (default: deleted at the end).
    keep_all: delete nothing at the end (:func:`prune_outputs`)."""
    from cacscore.regress.cache import ingest
    from cacscore.phantom import write_release
    from cacscore.regress.preprocess import PreprocessConfig
    from cacscore.regress.reproduce import reproduce

    if n_patients < 20:
        raise ValueError(f"the demo needs at least 20 patients for a 20% test split and 5 folds, got {n_patients}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    grid = dict(grid or GRIDS["demo"])
    config = PreprocessConfig(size=size)
    timings: dict[str, float] = {}
    settings = {"n_patients": n_patients, "size": size, "seed": seed, "models": list(models), "grid": grid,
                "preprocess": config.to_dict(), "n_folds": 5, "timings_s": timings}

    def write_settings() -> None:
        atomic_write_text(out / "demo_config.json", json.dumps(settings, indent=1))

    write_settings()
    release = out / "release"
    t = time.perf_counter()
    if (out / PRUNED).is_file():  # a finished, pruned demo: start afresh (its release lacks the training patients)
        (release / "truth.csv").unlink(missing_ok=True)
        (out / PRUNED).unlink()
    if not (release / "truth.csv").is_file():  # truth.csv is written last: its presence marks a finished release
        log.info("demo: writing %d synthetic patients (%d x %d) to %s", n_patients, size, size, release)
        write_release(release, n_patients=n_patients, seed=seed, size=size, workers=workers, overwrite=True)  # an unfinished one
    timings["phantom"] = time.perf_counter() - t
    t = time.perf_counter()
    log.info("demo: ingesting into %s", out / "cache")
    ingest(release, out / "cache", config=config, workers=workers)  # verifies and skips finished scans
    timings["ingest"] = time.perf_counter() - t
    t = time.perf_counter()
    paths = reproduce(out / "cache", out / "reproduce", models=models, grid=grid, device=device, seed=seed,
                      progress=progress, keep_checkpoints=keep_checkpoints)
    timings["reproduce"] = time.perf_counter() - t
    write_settings()
    t = time.perf_counter()
    lesion_paths = run_lesion_stage(out, seed=seed, workers=workers, progress=progress)
    timings["lesion"] = time.perf_counter() - t
    if not keep_all:
        _, test_ids = _split_ids(out)
        examples = sorted(test_ids, key=natural_key)[:KEPT_EXAMPLES]
        settings["pruned_mb"] = {k: round(v / 2**20, 1) for k, v in
                                 prune_outputs(out, keep_ids=examples, keep_checkpoints=keep_checkpoints).items()}
    write_settings()
    log.info("demo: phantom %.0f s, ingest %.0f s, reproduce %.0f s, lesion %.0f s", timings["phantom"],
             timings["ingest"], timings["reproduce"], timings["lesion"])
    return {"demo_config.json": out / "demo_config.json", "release": release, "cache": out / "cache", **paths,
            **lesion_paths}


KEPT_EXAMPLES = 4
"""Test patients whose CT a pruned demo keeps, to try ``cacscore predict`` on. Not all 16: with phantom v3's
acquisition variety a 1.25 mm patient has up to 4x the slices, and the 16 test CTs took 80 MB of a 126 MB pruned
demo (fresh-clone CI run, session 7); their scores stay in the tables either way."""

PRUNED = "PRUNED.txt"
"""Written into OUT by :func:`prune_outputs`: what was deleted (a later demo in OUT then starts afresh)."""


def _tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def prune_outputs(out: Path, *, keep_ids: Sequence[str], keep_checkpoints: bool = False) -> dict[str, int]:
    """Delete, from a finished demo in ``out``, what only its pipeline needed: reproduce/runs/ (training
    checkpoints; kept with keep_checkpoints), reproduce/models/*_folds/ (the ensemble's fold bundles: Table 1 and
    test_predictions.csv hold their results; the retrained bundles in models/<name>/ stay), cache/scans/ (the
    73-slab inputs; cache/manifest.csv with the reference scores stays) and the release's patients not in
    ``keep_ids`` (whose CT stays, with truth.csv and labels/ of every patient). Returns the bytes freed per item and
    writes OUT/PRUNED.txt saying what went."""
    import shutil

    out = Path(out)
    ng = out / "release" / "deidentified_nongated"
    keep = {str(i) for i in keep_ids}
    items = [out / "cache" / "scans", *sorted((out / "reproduce" / "models").glob("*_folds"))]
    if not keep_checkpoints:
        items.append(out / "reproduce" / "runs")
    items += sorted(p for p in ng.iterdir() if p.is_dir() and p.name not in keep) if ng.is_dir() else []
    freed: dict[str, int] = {}
    for path in items:
        if path.is_dir():
            freed[path.relative_to(out).as_posix()] = _tree_bytes(path)
            shutil.rmtree(path)
    n_patients = sum(1 for k in freed if k.startswith("release/"))
    summary = {k: v for k, v in freed.items() if not k.startswith("release/")}
    if n_patients:
        summary[f"release/deidentified_nongated/ ({n_patients} patients not kept as examples)"] = sum(
            v for k, v in freed.items() if k.startswith("release/"))
    atomic_write_text(out / PRUNED, "Deleted when the demo finished (cacscore demo --keep-all keeps them); a demo "
                      "run again in this folder starts afresh:\n" +
                      "".join(f"{k} ({v / 2**20:.1f} MB)\n" for k, v in summary.items()))
    log.info("demo: deleted %.0f MB the pipeline no longer needs (%s)", sum(freed.values()) / 2**20, out / PRUNED)
    return summary


def _split_ids(out: Path) -> tuple[list[str], list[str]]:
    """Training and test ids of reproduce's split, checked to be the release's patient ids (the cache was
    ingested from OUT/release, whose folders deidentified_nongated/<pid>/<pid> give the cache ids)."""
    split_path = out / "reproduce" / "splits.json"
    if not split_path.is_file():
        raise ValueError(f"{split_path}: missing (the lesion stage runs after reproduce)")
    splits = json.loads(split_path.read_text(encoding="utf-8"))
    train, test = [str(i) for i in splits["train"]], [str(i) for i in splits["test"]]
    manifest = pd.read_csv(out / "cache" / "manifest.csv", dtype={"id": str})
    src = dict(zip(manifest["id"], manifest["source"]))
    for sid in (*train, *test):
        p = Path(str(src.get(sid, "")))
        if sid not in src or p.name != sid or p.parent.name != sid:
            raise ValueError(f"{out / 'cache' / 'manifest.csv'}: cache id {sid!r} is not release patient {sid!r} "
                             f"(source {src.get(sid)!r})")
    return train, test


def run_lesion_stage(out: Path, *, seed: int = 0, workers: int = 2, progress: bool = True,
                     config=None) -> dict[str, Path]:
    """The candidate scorer on the demo's split: train on reproduce's training patients (release CT + labels),
    score its test patients, evaluate against the same reference scores as Table 1 (the cache's targets).

    Writes OUT/lesion/: model/ (+ training_report.json), test_predictions.csv, labels/<id>.nii.gz, table.csv,
    table.md, scatter.png, bland_altman.png, confusion4.png. Test MSE is in reproduce's target space (its
    reproduce_config.json target scaling), like Table 1; the constant-mean row is Table 1's baseline.
    config: cacscore.lesion.ClassifierConfig (default: the library's, with this seed).
    """
    from cacscore import lesion as L
    from cacscore.core.vessels import VESSELS
    from cacscore.evaluation.evaluate import ALL4, Joined, evaluate_arrays, write_figures
    from cacscore.evaluation.metrics import agreement_table
    from cacscore.evaluation.targets import TargetScaler
    from cacscore.lesion.train import train_lesion_model, training_pairs
    from cacscore.predict.lesion_score import score_cases

    out = Path(out)
    lesion = out / "lesion"
    t0 = time.perf_counter()
    train_ids, test_ids = _split_ids(out)
    cases = {c.id: c for c in training_pairs(out / "release")}
    missing = [i for i in (*train_ids, *test_ids) if i not in cases]
    if missing:
        raise ValueError(f"{out / 'release'}: no labels/<pid>.nii.gz for split patient(s) {missing[:5]}")
    config = config or L.ClassifierConfig(seed=seed)
    report = train_lesion_model([cases[i] for i in train_ids], lesion / "model", config=config, workers=workers,
                                progress=progress)
    t_train = time.perf_counter() - t0
    t1 = time.perf_counter()
    pred = score_cases(lesion / "model", [cases[i].ct for i in test_ids], out_csv=lesion / "test_predictions.csv",
                       labels_out=lesion / "labels", workers=1, progress=progress)
    t_score = time.perf_counter() - t1

    manifest = pd.read_csv(out / "cache" / "manifest.csv", dtype={"id": str}).set_index("id")
    ok = pred[pred["error"] == ""]
    if len(ok) < len(pred):
        log.warning("demo lesion: %d test scan(s) could not be scored and are left out of the table: %s",
                    len(pred) - len(ok), "; ".join(f"{r.id}: {r.error}" for r in pred[pred["error"] != ""].itertuples()))
    if len(ok) < 2:
        raise ValueError(f"demo lesion: only {len(ok)} test scan(s) scored")
    ids = list(ok["id"])
    y_test = manifest.loc[ids, list(VESSELS)].to_numpy(float)  # the reference Table 1 uses
    y_pred = ok[list(VESSELS)].to_numpy(float)
    y_train = manifest.loc[train_ids, list(VESSELS)].to_numpy(float)
    cfg_path = out / "reproduce" / "reproduce_config.json"
    if cfg_path.is_file():
        scaler = TargetScaler.from_dict(json.loads(cfg_path.read_text(encoding="utf-8"))["target_scaling"])
    else:
        scaler = TargetScaler.fit(y_train, kind="log")
    z_test, z_pred = scaler.transform(y_test), scaler.transform(y_pred)
    z_const = np.repeat(scaler.transform(y_train).mean(axis=0, keepdims=True), len(ids), axis=0)
    y_const = scaler.inverse(z_const)
    nb = np.where(y_train.max(0) > 0, y_train.max(0), 1.0)  # mse_norm: Agatston / training maxima per vessel
    with warnings.catch_warnings():  # undefined statistics (e.g. no test case >= 400) are NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        ev = evaluate_arrays(y_test, y_pred, normalise_by=nb, n_boot=0)
        rows = []
        for name, yp, zp, secs in (("lesion scorer", y_pred, z_pred, t_train + t_score),
                                   ("constant mean", y_const, z_const, 0.0)):
            tab = agreement_table(y_test, yp, normalise_by=nb)
            zt_mse = float(np.mean((zp - z_test) ** 2))
            rows.append({"model": name, "variant": "retrain" if name == "lesion scorer" else "baseline",
                         "n_test": len(ids), "test_mse": zt_mse,
                         "mse_norm_all4": float(np.mean(((yp - y_test) / nb) ** 2)), "seconds": secs,
                         **{f"{m}_{v}": float(tab.loc[v, m]) for m in ("spearman", "icc", "kappa4")
                            for v in (*VESSELS, "total")}})
    table = pd.DataFrame(rows)
    # the test-mean constant (cacscore.evaluation.evaluate's baseline) as a cross-check of the all4 MSE
    all4 = ev[(ev.vessel == ALL4) & (ev.metric == "mse_norm")].iloc[0]
    assert abs(all4["value"] - rows[0]["mse_norm_all4"]) < 1e-9 * max(1.0, all4["value"]), "mse_norm mismatch"
    paths = {"lesion/model": lesion / "model", "lesion/test_predictions.csv": lesion / "test_predictions.csv",
             "lesion/table.csv": lesion / "table.csv", "lesion/table.md": lesion / "table.md"}
    atomic_write_text(paths["lesion/table.csv"], table.to_csv(index=False, float_format="%.6g"))
    table1 = out / "reproduce" / "table1.csv"
    t1_rows = pd.read_csv(table1) if table1.is_file() else None
    atomic_write_text(paths["lesion/table.md"], _lesion_markdown(
        table, t1_rows, report, scaler.kind, float(all4["baseline"]), len(train_ids), ids, t_train, t_score))
    for p in write_figures(Joined(ids, y_test, y_pred, [], [], [], []), lesion):
        paths[f"lesion/{p.name}"] = p
    log.info("demo lesion: %d train / %d test, test MSE %.4f (constant %.4f), kappa4 total %.2f; %.1f s",
             len(train_ids), len(ids), rows[0]["test_mse"], rows[1]["test_mse"], rows[0]["kappa4_total"],
             time.perf_counter() - t0)
    return paths


def _lesion_markdown(table: pd.DataFrame, table1: pd.DataFrame | None, report: dict, scaling: str,
                     test_mean_mse_norm: float, n_train: int, ids: list[str], t_train: float, t_score: float) -> str:
    from cacscore.core.vessels import VESSELS

    cols = (*VESSELS, "total")
    lines = ["# Candidate-classification scorer on the demo split", "",
             (f"Trained on the {n_train} training patients of `reproduce/splits.json` ({report['n_used']} used, "
             f"{report['n_skipped']} skipped; {report['candidates']['total']} candidates, "
             f"{sum(list(report['candidates']['per_class'].values())[1:])} coronary) from the release's CT + voxel "
             f"labels; scored end to end on its {len(ids)} test patients. Reference: the cache's scores (the same as "
             f"Table 1). Test MSE in reproduce's `{scaling}` target space (Table 1's column); MSE(norm) = Agatston / "
             f"training maxima, mean over the 4 vessels (the test-mean constant gives {test_mean_mse_norm:.4g}). "
             f"Train {t_train:.1f} s (candidates + MLP), score {t_score:.1f} s."), "",
             "| Model | Variant | Test MSE | MSE(norm) | " + " | ".join(cols) + " |",
             "| --- | --- | --- | --- | " + " | ".join(["---"] * len(cols)) + " |"]

    def cells(r) -> str:
        return " | ".join(f"{r[f'spearman_{v}']:.2f} / {r[f'icc_{v}']:.2f} / {r[f'kappa4_{v}']:.2f}" for v in cols)

    for r in table.to_dict(orient="records"):
        lines.append(f"| {r['model']} | {r['variant']} | {r['test_mse']:.4f} | {r['mse_norm_all4']:.4g} | {cells(r)} |")
    if table1 is not None:
        for r in table1.to_dict(orient="records"):
            if r["model"] != "constant mean":
                lines.append(f"| {r['model']} (Table 1) | {r['variant']} | {r['test_mse']:.4f} | - | {cells(r)} |")
    lines += ["", ("Cells: Spearman ρ / ICC(2,1) / linearly weighted κ of the four-class risk categories (Agatston "
              "units). The constant predictor has no ranking: ρ is undefined (nan). Rows marked Table 1 are "
              "reproduce's regressors on the same test patients.")]
    return "\n".join(lines) + "\n"
