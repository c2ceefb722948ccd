"""``cacscore predict``: per-vessel calcium scores of chest CTs with any model (:mod:`cacscore.predict.predictors`).

Per scan: decode (:func:`cacscore.io.ct.read_ct`) -> the predictor's score (scores, warnings, heart) ->
optional report PNG. One scan failing is reported and the rest still run. Output columns:
:mod:`cacscore.predict.results`. Ids come from :func:`cacscore.io.inputs.discover_inputs` (folder / file
names); no header value that can identify a patient is written unless ``keep_phi``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

from cacscore.core.fileio import make_output_folder
from cacscore.core.parallel import map_jobs
from cacscore.io.ct import ReadOptions, read_ct
from cacscore.io.inputs import ScanInput, discover_inputs
from cacscore.predict.predictors import DEFAULT_MODEL, Predictor, load_predictor, worker_predictor
from cacscore.predict.results import PredictRun, ScanResult

log = logging.getLogger(__name__)


def _phi(volume) -> dict[str, str]:
    import pydicom

    if not getattr(volume, "files", None):
        return {"patient_id": "", "study_date": ""}
    ds = pydicom.dcmread(volume.files[0], stop_before_pixels=True, force=True)
    return {"patient_id": str(ds.get("PatientID", "") or ""), "study_date": str(ds.get("StudyDate", "") or "")}


def _failure(scan: ScanInput, exc: Exception) -> ScanResult:
    msg = " ".join(str(exc).split()) or type(exc).__name__
    if str(scan.path) not in msg:
        msg = f"{scan.path}: {msg}"
    log.debug("predict failed for %s", scan.path, exc_info=True)
    return ScanResult(scan.id, scan.path, error=msg)


def predict_scan(predictor: Predictor, scan: ScanInput, *, keep_phi: bool = False,
                 report_dir: Path | None = None, read_options: ReadOptions | None = None) -> ScanResult:
    """Score one scan; never raises for a bad input (the result carries ``error``). report_dir: write the
    predictor's picture there (its time is recorded as ``report``). The picture's arrays are dropped after."""
    try:
        t0 = time.perf_counter()
        vol = read_ct(scan.path, read_options)
        t1 = time.perf_counter()
        res = predictor.score(vol)
        res.id, res.path = scan.id, scan.path
        res.timings_s = {"decode": t1 - t0, "score": time.perf_counter() - t1}
        if keep_phi:
            res.phi = _phi(vol)
        if report_dir is not None:
            t2 = time.perf_counter()
            res.report_png = predictor.picture(res, vol, report_dir)
            res.timings_s["report"] = time.perf_counter() - t2
    except Exception as exc:  # one bad scan never stops the cohort: its result carries the reason
        return _failure(scan, exc)
    res.drop_view()
    return res


def _predict_job(job: tuple[str, ScanInput, bool, Path | None, ReadOptions | None]) -> ScanResult:
    """One scan in a pool worker; the model is loaded once per process."""
    model_path, scan, keep_phi, report_dir, read_options = job
    return predict_scan(worker_predictor(model_path), scan, keep_phi=keep_phi, report_dir=report_dir,
                        read_options=read_options)


def predict_inputs(model_path: Path | None, inputs: Sequence[Path], *, keep_phi: bool = False,
                   report_dir: Path | None = None, progress: bool = True, workers: int = 1,
                   read_options: ReadOptions | None = None) -> PredictRun:
    """Score every scan named by ``inputs`` with the model at ``model_path`` (any kind; None: the shipped
    default model, :data:`cacscore.predict.predictors.DEFAULT_MODEL`).

    read_options: how DICOM folders are read (series choice, gaps, unreadable slice files).
    report_dir: if given, a per-scan PNG (the predictor's picture) and index.html are written there.
    workers: scans scored in that many processes (each loads the model once); results stay in input order.
    Failures are logged at debug level only: they are in the returned run, which the caller reports once.
    """
    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    if model_path is None and not (DEFAULT_MODEL / "model.json").is_file():
        raise FileNotFoundError(f"{DEFAULT_MODEL}: the shipped default model is missing from this installation "
                                f"(reinstall cacscore, or give a model folder with --model DIR)")
    model_path = DEFAULT_MODEL if model_path is None else Path(model_path)
    predictor = load_predictor(model_path)
    scans, problems = discover_inputs(inputs)
    for i, e in problems:
        log.debug("%s: %s", i, e)
    for w in predictor.notes:
        log.warning("%s: %s", model_path, w)
    if report_dir is not None:
        report_dir = make_output_folder(report_dir)
    if workers > 1 and len(scans) > 1:
        jobs = [(str(model_path), s, keep_phi, report_dir, read_options) for s in scans]
        results = map_jobs(_predict_job, jobs, workers, "predict", progress)
    else:
        results = map_jobs(lambda s: predict_scan(predictor, s, keep_phi=keep_phi, report_dir=report_dir,
                                                     read_options=read_options),
                           list(scans), 1, "predict", progress and len(scans) > 1)
    for r in results:
        if r.ok:
            log.debug("%s: total %.0f%s", r.id, r.total, f" ({'; '.join(r.warnings)})" if r.warnings else "")
        else:
            log.debug("%s: %s", r.id, r.error)
    run = PredictRun(results, problems)
    if report_dir is not None:
        from cacscore.predict.report import write_index

        write_index(report_dir, run, model_path=Path(model_path), about=predictor.about)
    return run
