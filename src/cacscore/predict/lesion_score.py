"""``cacscore lesion-score``: many scans scored with a candidate-classification model, one row per scan, with the
label volume of each (``--labels-out``) and its picture (``--report``).

It runs the same predictor as ``cacscore predict`` (:class:`cacscore.predict.predictors.LesionPredictor`), so
both commands give the same scores and the same warnings for the same scan; only the table's columns differ
(:data:`SCORE_COLUMNS`, a CLI contract). Inputs are expanded by :func:`cacscore.io.inputs.discover_inputs`.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from cacscore import lesion as L
from cacscore.core.errors import one_line
from cacscore.core.categories import CATEGORY4_LABELS, risk_category4
from cacscore.core.fileio import atomic_path, make_output_folder, safe_name, write_table
from cacscore.core.parallel import map_jobs
from cacscore.core.vessels import VESSELS
from cacscore.io.ct import ReadOptions, label_affine, read_ct
from cacscore.io.inputs import discover_inputs, input_id, unique_ids
from cacscore.predict.predictors import worker_predictor

log = logging.getLogger(__name__)

SCORE_COLUMNS: tuple[str, ...] = ("id", *VESSELS, "total", "cat4", "category", "warnings", "error")
"""Columns of :func:`score_cases`' table: per-vessel and total Agatston (AU), the four-class risk category
(0..3, cacscore.core.categories.risk_category4) and its name ("0", "1-99", "100-399", ">=400"), warnings ("; "-joined,
"" when none: those of :mod:`cacscore.predict.checks`), error ("" when ok)."""


class LesionScoreError(ValueError):
    """A scoring job that cannot be run at all (the message names the path)."""


def _empty_row(cid: str, error: str = "") -> dict:
    return {"id": cid, **{v: math.nan for v in (*VESSELS, "total")}, "cat4": None, "category": "",
            "warnings": "", "error": error}


def _write_labels(labels: np.ndarray, affine: np.ndarray, path: Path) -> None:
    """The label volume as NIfTI, stored (x, y, z) like the phantom's labels (``cacscore score`` reads it back)."""
    import nibabel as nib

    img = nib.Nifti1Image(np.ascontiguousarray(labels.transpose(2, 1, 0)), affine)
    img.header.set_xyzt_units("mm")
    with atomic_path(path, suffix=".nii.gz") as tmp:
        nib.save(img, str(tmp))


def _score_one(job: tuple[str, str, str, str | None, str | None, ReadOptions | None]) -> dict:
    cid, path_s, model_dir, labels_out, report_dir, read_options = job
    path = Path(path_s)
    row = _empty_row(cid)
    t0 = time.perf_counter()
    try:
        predictor = worker_predictor(model_dir)  # a lesion model: score_cases checked it with L.load_model
        vol = read_ct(path, read_options)
        try:
            res = predictor.score(vol)
        except L.LesionError as exc:
            raise L.LesionError(f"{path}: {exc}") from None
        res.id, res.path = cid, path
        if labels_out is not None:
            _write_labels(res.labels, label_affine(vol), Path(labels_out) / f"{safe_name(cid)}.nii.gz")
        if report_dir is not None:  # the picture from the volume and labels in hand (no second read)
            predictor.picture(res, vol, Path(report_dir))
        row.update(res.vessel_scores())
        row["cat4"] = risk_category4(row["total"])
        row["category"] = CATEGORY4_LABELS[row["cat4"]]
        row["warnings"] = "; ".join(res.warnings)
    except Exception as exc:  # noqa: BLE001 - a cohort job reports the bad input and goes on
        row["error"] = one_line(exc, name_unexpected=True)
    row["seconds"] = time.perf_counter() - t0
    return row


def _jobs(model_dir: Path, inputs: list, labels_out, report_dir,
          read_options: ReadOptions | None = None) -> tuple[list[tuple], dict[int, str]]:
    """One job per scan the inputs name, in input order (:func:`cacscore.io.inputs.discover_inputs`'s rule; ids
    made unique over all inputs by :func:`cacscore.io.inputs.unique_ids`); an input that names no scan becomes an
    error job (model None)."""
    found = [discover_inputs([Path(raw)]) for raw in inputs]
    ids = {s.path.resolve(): s.id for s in unique_ids([s for scans, _ in found for s in scans])}
    jobs, problems, done = [], {}, set()
    for scans, bad in found:
        for src, reason in bad:
            problems[len(jobs)] = f"{src}: {reason}"
            jobs.append((input_id(src), src, None, None, None, None))
        for sc in scans:
            key = sc.path.resolve()
            if key in done:  # the same scan named twice: scored once
                continue
            done.add(key)
            jobs.append((ids[key], str(sc.path), str(model_dir), None if labels_out is None else str(labels_out),
                         None if report_dir is None else str(report_dir), read_options))
    return jobs, problems


def score_cases(model_dir: str | Path, inputs: list[str | Path], *, out_csv: str | Path | None = None,
                labels_out: str | Path | None = None, report_dir: str | Path | None = None, workers: int = 1,
                progress: bool = True, read_options: ReadOptions | None = None, force: bool = False) -> pd.DataFrame:
    """Score CT inputs with a saved lesion model: DICOM series folders, NIfTI files, and cohorts (a COCA root,
    a folder of patient folders, a CSV), expanded as ``cacscore predict`` does.

    Returns one row per scan, in input order, columns :data:`SCORE_COLUMNS` (Agatston units; a bad input
    gets NaN scores and its one-line error, the rest are scored). out_csv: the table, written atomically.
    labels_out: folder for each scored input's predicted label volume ``<id>.nii.gz`` (uint8 0..4, stored
    (x, y, z) like the phantom's labels, so ``cacscore score INPUT --labels <id>.nii.gz`` gives these scores).
    report_dir: folder for each scored input's picture ``<id>.png`` (``cacscore.lesion.report``), with the warnings.
    read_options: how DICOM folders are read (series choice, gaps, unreadable slice files).
    force: replace an existing ``out_csv`` even when no scan was scored (by default it is kept:
    :func:`cacscore.core.fileio.write_table`). A model that cannot be loaded raises LesionError (the whole job
    needs it).
    """
    mdir = Path(model_dir)
    L.load_model(mdir)  # fail fast, with the model's own message, before any scan is read
    if not inputs:
        raise LesionScoreError("no inputs to score")
    jobs, problems = _jobs(mdir, list(inputs), labels_out, report_dir, read_options)
    for folder in (report_dir, labels_out):  # the report first: labels_out defaults to <report>/labels
        if folder is not None:
            make_output_folder(folder)
    done = iter(map_jobs(_score_one, [j for j in jobs if j[2] is not None], workers, "lesion score", progress))
    rows = [next(done) if j[2] is not None else {**_empty_row(j[0], problems[i]), "seconds": 0.0}
            for i, j in enumerate(jobs)]
    df = pd.DataFrame(rows)
    df["cat4"] = df["cat4"].astype("Int64")
    n_bad = int((df["error"] != "").sum())
    log.debug("lesion-score: %d input(s) scored, %d failed", len(df) - n_bad, n_bad)
    df = df[list(SCORE_COLUMNS)]
    if out_csv is not None:
        write_table(out_csv, df.to_csv(index=False, float_format="%.6g"), rows=len(df) - n_bad,
                    attempted=sum(j[2] is not None for j in jobs), force=force)
    return df
