"""Per-vessel calcium scores for chest CTs with a trained bundle (or an ensemble of fold bundles).

Pipeline per scan: decode (DICOM series or NIfTI -> Volume) -> preprocess (the bundle's
PreprocessConfig -> int16 (slices, size, size)) -> model (Agatston per vessel, whole units) ->
optional report PNG. One scan failing is reported and the rest still run.

Outputs (a CLI contract), one row per scan:
  id, LCA, LAD, LCX, RCA, total (Agatston), cat4, cat5 (risk categories of the total),
  sd_LCA, sd_LAD, sd_LCX, sd_RCA, sd_total (ensembles only: SD over the fold models, Agatston),
  warnings ("; "-joined), and with keep_phi also patient_id / study_date from the DICOM header.
Ids are folder names (COCA: patient folder; NIfTI: file name without extension); a duplicate id
gets a short hash of its path appended. No header value that can identify a patient is written
unless ``keep_phi``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cacscore.core.fileio import OutputFolderError, make_output_folder  # noqa: F401 - re-exported
from cacscore.core.vessels import VESSELS

log = logging.getLogger(__name__)

NIFTI_SUFFIXES = (".nii", ".nii.gz")
HEART_MARGIN_MM = 40.0
"""A heart centre closer than this to the first or last slice means the heart is probably cut off."""


class PredictError(ValueError):
    """An input that cannot be predicted (the message names the input and the problem)."""


@dataclass(frozen=True)
class ScanInput:
    """One scan to predict: id (output key), path (DICOM series folder or NIfTI file), kind."""

    id: str
    path: Path
    kind: str  # "dicom" | "nifti"


@dataclass
class ScanResult:
    """Prediction of one scan. scores / sd: (4,) Agatston in VESSELS order; sd None for one model."""

    id: str
    path: Path
    scores: np.ndarray | None = None
    sd: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    phi: dict[str, str] = field(default_factory=dict)
    report_png: Path | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def row(self) -> dict[str, Any]:
        """Output row (see module docstring); only for ok results."""
        from cacscore.evaluation.metrics import risk_category4, risk_category5

        assert self.scores is not None
        total = float(self.scores.sum())
        r: dict[str, Any] = {"id": self.id, **{v: float(s) for v, s in zip(VESSELS, self.scores)}, "total": total,
                             "cat4": int(risk_category4(total)), "cat5": int(risk_category5(total))}
        if self.sd is not None:
            r.update({f"sd_{v}": float(s) for v, s in zip((*VESSELS, "total"), self.sd)})
        r["warnings"] = "; ".join(self.warnings)
        r.update(self.phi)
        return r


# ------------------------------------------------------------------ inputs
def _is_nifti(p: Path) -> bool:
    return p.name.lower().endswith(NIFTI_SUFFIXES)


def _nifti_id(p: Path) -> str:
    name = p.name
    for s in NIFTI_SUFFIXES:
        if name.lower().endswith(s):
            return name[: -len(s)]
    return p.stem


def _short_hash(p: Path) -> str:
    return hashlib.sha1(str(p.resolve()).encode()).hexdigest()[:8]


def _add_cohort(source: Path, scans: list[ScanInput], problems: list[tuple[str, str]]) -> None:
    """The scans of a cohort source (COCA root, folder of patient folders or CSV) into ``scans``;
    an unreadable source goes to ``problems``."""
    from cacscore.regress.cache import cohort_from_source

    try:
        jobs = cohort_from_source(source)
    except ValueError as exc:
        problems.append((str(source), str(exc)))
        return
    for j in jobs:
        if not j.get("source"):
            log.info("%s: patient %s has a score row but no image folder; nothing to predict", source, j["id"])
            continue
        src = Path(j["source"])
        scans.append(ScanInput(str(j["id"]), src, "nifti" if _is_nifti(src) else "dicom"))


def discover_inputs(paths: Sequence[Path]) -> tuple[list[ScanInput], list[tuple[str, str]]]:
    """Scans named by ``paths``: DICOM series folders, NIfTI files, COCA roots, folders of patient folders.

    A folder holding files directly is one series; a COCA root (deidentified_nongated/ or
    scores.xlsx) gives its patient folders; a folder of sub-folders gives one scan per sub-folder
    (as ``cacscore ingest``). Returns (scans, problems) where problems are (input, reason) pairs
    for inputs that name no scan.
    """
    scans: list[ScanInput] = []
    problems: list[tuple[str, str]] = []
    for raw in paths:
        p = Path(raw)
        if p.is_file():
            if _is_nifti(p):
                scans.append(ScanInput(_nifti_id(p), p, "nifti"))
            elif p.suffix.lower() == ".csv":
                _add_cohort(p, scans, problems)
            else:  # a single DICOM file is a (one-slice) series: not a CT volume we can score
                problems.append((str(p), "not a DICOM series folder, NIfTI file (.nii, .nii.gz), COCA root or CSV"))
            continue
        if not p.is_dir():
            problems.append((str(p), "no such file or folder"))
            continue
        has_files = any(c.is_file() and not c.name.startswith(".") for c in p.iterdir())
        coca = (p / "deidentified_nongated").is_dir() or (p / "scores.xlsx").is_file()
        if has_files and not coca:
            scans.append(ScanInput(p.name, p, "dicom"))
            continue
        _add_cohort(p, scans, problems)
    # duplicate ids (e.g. two folders named "series"): keep the first, suffix the others with a path hash
    seen: set[str] = set()
    out = []
    for s in scans:
        sid = s.id if s.id not in seen else f"{s.id}-{_short_hash(s.path)}"
        seen.add(sid)
        out.append(ScanInput(sid, s.path, s.kind))
    return out, problems


def read_volume(scan: ScanInput):
    """Decode a scan into a cacscore.io.dicom.Volume (NIfTI: HU as stored, no kVp / contrast info)."""
    from cacscore.io.dicom import Volume, read_series

    if scan.kind == "nifti":
        from cacscore.scoring.files import load_ct

        ct = load_ct(scan.path)
        return Volume(hu=np.asarray(ct.hu, np.float32), spacing_mm=tuple(ct.spacing_mm),
                      slice_thickness_mm=ct.slice_thickness_mm, kvp=ct.kvp)
    return read_series(scan.path)


# ------------------------------------------------------------------ model
LESION_ABOUT = ("Scores in Agatston units: every calcium lesion (>= the Agatston threshold) was classified as "
                "non-coronary or as one of the four arteries by a trained candidate classifier, and each artery "
                "was then scored exactly by the Agatston rules; the pictures show each lesion in its artery's "
                "colour. Not a diagnosis.")


class LesionPredictor:
    """A candidate-classification model (``cacscore.lesion.candidates``, written by ``cacscore lesion-train``) behind
    predict's interface: it scores the decoded volume at its native resolution (no 73-slab preprocessing)."""

    def __init__(self, path: Path) -> None:
        from cacscore.lesion.candidates import load_model as load_lesion_model

        self.path = Path(path)
        self.model = load_lesion_model(self.path)
        self.config: dict = {}  # no acquisition ranges recorded (training_ranges -> {})

    def score(self, vol) -> tuple[np.ndarray, np.ndarray, dict[str, float], np.ndarray, tuple[int, int, int]]:
        """Volume -> ((4,) Agatston in VESSELS order, (z, y, x) uint8 assigned labels, scores incl. total,
        (z, y, x) bool candidates, (z, y, x) voxel index of the heart centre the candidates were placed from
        (``cacscore.regress.preprocess.find_heart`` on the volume with |spacing|))."""
        from cacscore.lesion import candidates as L

        cand, classes = L.classify_volume(vol.hu, tuple(abs(float(v)) for v in vol.spacing_mm), self.model)
        scores = L.score_assignment(vol.hu, cand, classes)
        return (np.array([scores[v] for v in VESSELS], dtype=np.float64), L.assign_labels(cand.ids, classes),
                scores, cand.ids > 0, cand.heart_index)


def is_lesion_model(path: Path) -> bool:
    """True for a folder written by ``cacscore lesion-train`` (model.json of kind cacscore.lesion.candidates.*).

    A folder with a model.json but no bundle config.json is meant as a lesion model: a model.json that is not
    valid JSON, not a JSON object or has no lesion ``kind`` there raises cacscore.lesion.candidates.LesionError naming
    model.json (not the misleading "not a model bundle (no config.json)" that loading it as a bundle gives).
    """
    from cacscore.regress.bundle import CONFIG
    from cacscore.lesion.candidates import LesionError

    j = Path(path) / "model.json"
    if not j.is_file():
        return False
    try:
        cfg = json.loads(j.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        problem = f"not valid JSON (not UTF-8 text: {exc.reason})"
    except json.JSONDecodeError as exc:
        problem = f"not valid JSON ({exc})"
    else:
        if isinstance(cfg, dict) and str(cfg.get("kind", "")).startswith("cacscore.lesions."):
            return True
        problem = (f"not a lesion classifier (kind {cfg.get('kind')!r})" if isinstance(cfg, dict) else
                   f"not a lesion classifier (a JSON {type(cfg).__name__}, not an object)")
    if (Path(path) / CONFIG).is_file() or any((f / CONFIG).is_file() for f in Path(path).glob("fold*")):
        return False  # a bundle (or fold-bundle) folder that happens to hold a model.json too
    raise LesionError(f"{j}: {problem}")


def load_model(path: Path):
    """A Bundle or Ensemble (cacscore.regress.bundle.load_bundle) from a bundle folder or a folder of fold bundles, or a
    LesionPredictor for a folder written by ``cacscore lesion-train``."""
    from cacscore.regress.bundle import load_bundle

    if is_lesion_model(Path(path)):
        return LesionPredictor(Path(path))
    return load_bundle(Path(path))


def _members(model) -> list:
    return list(getattr(model, "members", [model]))


def training_ranges(model) -> dict[str, tuple[float, float]]:
    """Acquisition ranges the model was trained on: {"slice_thickness_mm": (lo, hi), "kvp": (lo, hi)} where known.

    Read from the bundle config: ``train_ranges`` or ``training`` (as ``reproduce`` writes it,
    keys ``thickness_mm`` / ``slice_thickness_mm`` and ``kvp``). Ensembles: the union over members.
    """
    out: dict[str, tuple[float, float]] = {}
    for m in _members(model):
        cfg = getattr(m, "config", {}) or {}
        src = {**(cfg.get("training") or {}), **(cfg.get("train_ranges") or {})}
        for key, names in (("slice_thickness_mm", ("slice_thickness_mm", "thickness_mm")), ("kvp", ("kvp",))):
            for n in names:
                v = src.get(n)
                if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v):
                    lo, hi = float(v[0]), float(v[1])
                    if key in out:
                        lo, hi = min(lo, out[key][0]), max(hi, out[key][1])
                    out[key] = (lo, hi)
                    break
    return out


MIN_RATIO_TO_CONSTANT = 2.0
"""A model whose held-out test MSE is not at least this many times lower than the constant-mean
predictor's is flagged on every scan it scores."""


def model_warnings(model_path: Path) -> list[str]:
    """Warnings about the model itself, from the held-out evaluation ``reproduce`` writes beside it
    (``test_evaluation.json``): a model that hardly beats predicting the training mean is flagged.
    Nothing is said when the file is absent (a bundle made elsewhere)."""
    from cacscore.regress.bundle import TEST_EVALUATION

    path = Path(model_path) / TEST_EVALUATION
    if not path.is_file():
        return []
    try:
        ev = json.loads(path.read_text())
        ratio = ev.get("ratio_constant_to_model")
    except (OSError, ValueError, AttributeError) as exc:
        return [f"model evaluation unreadable ({path.name}: {exc})"]
    if ratio is None or not float(ratio) >= MIN_RATIO_TO_CONSTANT:
        shown = "n/a" if ratio is None else f"{float(ratio):.2f}x"
        return [f"unreliable model: its held-out test MSE is only {shown} better than predicting the training "
                f"mean (n={ev.get('n_test', '?')})"]
    return []


def acquisition_warnings(volume, ranges: dict[str, tuple[float, float]]) -> list[str]:
    """Warnings about the scan's acquisition: contrast agent, slice thickness / kVp outside training."""
    w = []
    if getattr(volume, "contrast", False):
        w.append("contrast agent in the header: calcium scores on contrast CT are unreliable")
    thick = volume.slice_thickness_mm if volume.slice_thickness_mm else None
    if "slice_thickness_mm" in ranges and thick is not None:
        lo, hi = ranges["slice_thickness_mm"]
        if not lo - 1e-3 <= thick <= hi + 1e-3:
            w.append(f"slice thickness {thick:g} mm outside the training range {lo:g}-{hi:g} mm")
    if "kvp" in ranges and volume.kvp is not None:
        lo, hi = ranges["kvp"]
        if not lo - 1e-3 <= volume.kvp <= hi + 1e-3:
            w.append(f"tube voltage {volume.kvp:g} kVp outside the training range {lo:g}-{hi:g} kVp")
    if volume.kvp is None and "kvp" in ranges:
        w.append("tube voltage unknown (no KVP in the header)")
    return w


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _logged(fn: Callable[[], Any]) -> tuple[Any, list[str]]:
    """fn() and the find_heart warnings logged by cacscore.regress.preprocess while it ran."""
    cap = _Capture()
    plog = logging.getLogger("cacscore.regress.preprocess")
    plog.addHandler(cap)
    try:
        out = fn()
    finally:
        plog.removeHandler(cap)
    return out, [m for m in cap.messages if "find_heart" in m]


def heart_warnings(volume, *, window: tuple[float, float] | None = None) -> list[str]:
    """Warnings when the heart is not found or probably cut off (cacscore.regress.preprocess.find_heart).

    window: (first, last) z index of the model's depth window in the volume's slice units, if known.
    """
    return _heart_check(volume, window=window)[0]


def _heart_check(volume, *, window: tuple[float, float] | None = None,
                 found: tuple[Sequence[int], list[str]] | None = None) -> tuple[list[str], tuple[int, int, int]]:
    """(heart_warnings, the heart index they refer to). found: (heart index, find_heart's logged warnings) when
    the caller already ran ``find_heart(volume.hu, volume.spacing_mm)`` (same result without a second search)."""
    if found is None:
        from cacscore.regress.preprocess import find_heart

        found = _logged(lambda: find_heart(volume.hu, volume.spacing_mm))
    index, messages = found
    index = tuple(int(v) for v in index)
    if messages:
        return [f"heart not found ({messages[0].split(':', 1)[-1].strip()})"], index
    z = index[0]
    w = []
    dz = float(volume.spacing_mm[0])
    n = volume.hu.shape[0]
    below, above = z * dz, (n - 1 - z) * dz
    if min(below, above) < HEART_MARGIN_MM:
        side = "bottom" if below < above else "top"
        w.append(f"heart probably cut off: its centre is {min(below, above):.0f} mm from the {side} of the scan")
    if window is not None and not window[0] <= z <= window[1]:
        w.append(f"heart centre (slice {z}) outside the model's depth window (slices {window[0]:.0f}-{window[1]:.0f})")
    return w, index


def metal_warnings(volume, heart_index: Sequence[float]) -> list[str]:
    """[] or the warning about metal (stent, lead, valve) within cacscore.chest.metal.HEART_RADIUS_MM of the heart
    centre (voxel index (z, y, x)): Agatston scores are not valid there (cacscore.chest.metal)."""
    from cacscore.chest.metal import metal_warnings as _metal

    return _metal(volume.hu, volume.spacing_mm, heart_index)


def _phi(volume) -> dict[str, str]:
    import pydicom

    if not getattr(volume, "files", None):
        return {"patient_id": "", "study_date": ""}
    ds = pydicom.dcmread(volume.files[0], stop_before_pixels=True, force=True)
    return {"patient_id": str(ds.get("PatientID", "") or ""), "study_date": str(ds.get("StudyDate", "") or "")}


def _forward_scaled(member, hu: np.ndarray) -> np.ndarray:
    """Model outputs (N, 4) in the bundle's target scaling: cacscore.regress.bundle.Bundle.predict_scaled on CPU,
    with the input and weights in channels_last memory format (same numbers; the first 3x3 conv over 73
    channels at 512 x 512 runs about 2x faster on CPU with oneDNN)."""
    import torch

    from cacscore.regress.preprocess import normalise

    hu = np.asarray(hu)
    want = (member.preprocess.slices, member.preprocess.size, member.preprocess.size)
    if hu.ndim != 4 or hu.shape[1:] != want:
        raise ValueError(f"{member.path}: expects HU of shape (N, {want[0]}, {want[1]}, {want[2]}), got {hu.shape}")
    net = member.model.eval().to(memory_format=torch.channels_last)  # this loaded model only (no copy if done)
    out = []
    with torch.inference_mode():
        for i in range(len(hu)):
            x = torch.from_numpy(normalise(hu[i:i + 1], member.preprocess)).contiguous(memory_format=torch.channels_last)
            out.append(net(x).float().numpy())
    return np.concatenate(out).astype(np.float64)


def predict_hu(model, hu: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Scores of preprocessed int16 HU (N, slices, size, size): ((N, 4) Agatston, (N, 5) SD or None).

    One bundle: its prediction. Ensemble: the mean of the members' outputs in the target scaling,
    inverted (as cacscore.regress.bundle.Ensemble.predict), and the SD over members of each member's own
    Agatston prediction for LCA, LAD, LCX, RCA and total (ddof=1).
    """
    members = _members(model)
    scaler = members[0].scaler
    if len(members) == 1:
        return scaler.inverse(_forward_scaled(members[0], hu)), None
    z = np.stack([_forward_scaled(m, hu) for m in members])  # (M, N, 4)
    mean = scaler.inverse(z.mean(axis=0))
    each = np.stack([scaler.inverse(zm) for zm in z])  # (M, N, 4) Agatston
    each5 = np.concatenate([each, each.sum(axis=2, keepdims=True)], axis=2)
    return mean, each5.std(axis=0, ddof=1)


def _depth_window(vol, cfg, info: dict) -> tuple[float, float] | None:
    """(first, last) slice index of the volume inside the model's depth window (as preprocess.depth_window)."""
    from cacscore.regress.preprocess import _window_start  # the window rule itself, shared with preprocessing

    c = info.get("centre_index")
    if c is None:
        return None
    n = vol.hu.shape[0]
    scale = float(info.get("z_spacing_mm", vol.spacing_mm[0])) / float(vol.spacing_mm[0])  # volume slices per slab
    n_slab = max(1, int(round(n / scale))) if scale > 1.0001 else n
    start = _window_start(n_slab, cfg.slices, float(c))
    lo, hi = max(start, 0), min(start + cfg.slices, n_slab) - 1
    return lo * scale, min((hi + 1) * scale - 1, n - 1)


def _failure(res: ScanResult, scan: ScanInput, exc: Exception) -> ScanResult:
    msg = " ".join(str(exc).split()) or type(exc).__name__
    if str(scan.path) not in msg:
        msg = f"{scan.path}: {msg}"
    res.error = msg
    res.scores = None
    log.debug("predict failed for %s", scan.path, exc_info=True)
    return res


def _predict_scan_lesions(model: LesionPredictor, scan: ScanInput, res: ScanResult, *, keep_phi: bool,
                          on_lesions: Callable[..., None] | None) -> ScanResult:
    """predict_scan for a candidate-classification model: decode, classify every calcium lesion, score exactly."""
    try:
        t0 = time.perf_counter()
        vol = read_volume(scan)
        t1 = time.perf_counter()
        (res.scores, labels, scores, candidates, heart), found_log = _logged(lambda: model.score(vol))
        t2 = time.perf_counter()
        res.warnings += acquisition_warnings(vol, {})
        # the candidates' heart is find_heart(hu, |spacing|): the same search heart_warnings makes when z ascends
        w_heart, _ = _heart_check(vol, found=(heart, found_log) if float(vol.spacing_mm[0]) > 0 else None)
        res.warnings += w_heart
        res.warnings += metal_warnings(vol, heart)
        res.timings_s = {"decode": t1 - t0, "model": t2 - t1, "checks": time.perf_counter() - t2}
        if keep_phi:
            res.phi = _phi(vol)
        if on_lesions is not None:
            t3 = time.perf_counter()
            on_lesions(res, vol, labels, scores, candidates, heart)
            res.timings_s["report"] = time.perf_counter() - t3
    except Exception as exc:  # one bad scan never stops the cohort: its result carries the reason
        return _failure(res, scan, exc)
    return res


def predict_scan(model, scan: ScanInput, *, keep_phi: bool = False, ranges: dict | None = None,
                 on_preprocessed: Callable[[ScanResult, np.ndarray], None] | None = None,
                 on_lesions: Callable[..., None] | None = None) -> ScanResult:
    """Predict one scan; never raises for a bad input (the result carries ``error``).

    on_preprocessed: called with (result, hu int16 (slices, size, size)) after the model ran,
    e.g. to render a report; its time is recorded as ``report``. on_lesions: the same for a lesion model,
    called with (result, volume, assigned labels (z, y, x), scores dict, candidates (z, y, x) bool, heart index
    (z, y, x) of the candidates).
    """
    res = ScanResult(scan.id, scan.path)
    if isinstance(model, LesionPredictor):
        return _predict_scan_lesions(model, scan, res, keep_phi=keep_phi, on_lesions=on_lesions)
    cfg = model.preprocess
    try:
        t0 = time.perf_counter()
        vol = read_volume(scan)
        t1 = time.perf_counter()
        from cacscore.regress.preprocess import preprocess_volume

        info: dict = {}
        hu = preprocess_volume(vol, cfg, info=info)
        t2 = time.perf_counter()
        scores, sd = predict_hu(model, hu[None])
        t3 = time.perf_counter()
        res.scores, res.sd = scores[0], None if sd is None else sd[0]
        # warnings: acquisition, then the heart (in the volume's own slice units)
        res.warnings += acquisition_warnings(vol, training_ranges(model) if ranges is None else ranges)
        w_heart, heart = _heart_check(vol, window=_depth_window(vol, cfg, info))
        res.warnings += w_heart
        res.warnings += metal_warnings(vol, heart)
        t4 = time.perf_counter()
        res.timings_s = {"decode": t1 - t0, "preprocess": t2 - t1, "model": t3 - t2, "checks": t4 - t3}
        if keep_phi:
            res.phi = _phi(vol)
        if on_preprocessed is not None:
            on_preprocessed(res, hu)
            res.timings_s["report"] = time.perf_counter() - t4
    except Exception as exc:  # one bad scan never stops the cohort: its result carries the reason
        return _failure(res, scan, exc)
    return res


# ------------------------------------------------------------------ cohort
@dataclass
class PredictRun:
    results: list[ScanResult]
    problems: list[tuple[str, str]]  # (input, reason) for inputs that named no scan

    @property
    def ok(self) -> list[ScanResult]:
        return [r for r in self.results if r.ok]

    @property
    def failed(self) -> list[ScanResult]:
        return [r for r in self.results if not r.ok]

    def table(self) -> pd.DataFrame:
        """The output table (ok scans only), columns as in the module docstring."""
        rows = [r.row() for r in self.ok]
        cols = ["id", *VESSELS, "total", "cat4", "cat5"]
        if any(r.sd is not None for r in self.ok):
            cols += [f"sd_{v}" for v in (*VESSELS, "total")]
        cols += ["warnings"]
        if any(r.phi for r in self.ok):
            cols += ["patient_id", "study_date"]
        return pd.DataFrame(rows, columns=cols)

    def to_json(self) -> str:
        ok = []
        for r in self.ok:
            d = r.row()
            d["warnings"] = list(r.warnings)
            ok.append(d)
        failed = [{"id": r.id, "input": str(r.path), "error": r.error} for r in self.failed]
        failed += [{"id": None, "input": i, "error": e} for i, e in self.problems]
        return json.dumps({"scans": ok, "failed": failed}, indent=1)


def predict_inputs(model_path: Path, inputs: Sequence[Path], *, keep_phi: bool = False,
                   report_dir: Path | None = None, progress: bool = True) -> PredictRun:
    """Predict every scan named by ``inputs`` with the bundle(s) at ``model_path``.

    report_dir: if given, a per-scan PNG (saliency of the first model) and index.html are written there.
    """
    from tqdm import tqdm

    model = load_model(model_path)
    scans, problems = discover_inputs(inputs)
    for i, e in problems:
        log.error("%s: %s", i, e)
    ranges = training_ranges(model)
    model_notes = model_warnings(model_path)
    for w in model_notes:
        log.warning("%s: %s", model_path, w)
    hook = lesion_hook = None
    if report_dir is not None:
        from cacscore.predict.report import scan_report

        report_dir = make_output_folder(report_dir)

        def hook(res: ScanResult, hu: np.ndarray) -> None:
            # the picture shows what the CSV row will: the model's own warnings first
            shown = replace(res, warnings=model_notes + res.warnings)
            res.report_png = scan_report(model, hu, shown, report_dir)

        def lesion_hook(res: ScanResult, vol, labels: np.ndarray, scores: dict, candidates: np.ndarray,
                        heart: tuple[int, int, int]) -> None:
            from cacscore.lesion.report import render_lesion_report
            from cacscore.predict.report import safe_name

            res.report_png = render_lesion_report(
                vol.hu, tuple(abs(float(v)) for v in vol.spacing_mm), labels, scores,
                report_dir / f"{safe_name(res.id)}.png", title=res.id, candidates=candidates,
                threshold_hu=model.model.threshold_hu, found_heart_index=heart,
                warnings=[*model_notes, *res.warnings])

    results = []
    for s in tqdm(scans, desc="predict", unit="scan", disable=not progress or len(scans) < 2):
        r = predict_scan(model, s, keep_phi=keep_phi, ranges=ranges, on_preprocessed=hook,
                         on_lesions=lesion_hook if report_dir is not None else None)
        if r.ok:
            r.warnings = model_notes + r.warnings
        if r.ok:
            log.info("%s: total %.0f%s", r.id, float(r.scores.sum()), f" ({'; '.join(r.warnings)})" if r.warnings else "")
        else:
            log.error("%s: %s", r.id, r.error)
        results.append(r)
    run = PredictRun(results, problems)
    if report_dir is not None:
        from cacscore.predict.report import write_index

        about = (LESION_ABOUT if isinstance(model, LesionPredictor) else None)
        write_index(report_dir, run, model_path=Path(model_path), about=about)
    return run
