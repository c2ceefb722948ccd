"""Training the candidate-classification scorer (:mod:`cacscore.lesion`) from labelled scans: what
``cacscore lesion-train`` runs (scoring many scans is :mod:`cacscore.predict.lesion_score`).

Training data (:func:`training_pairs`): a CT with a voxel label volume of the same (z, y, x) shape
(0 background, 1 LCA, 2 LAD, 3 LCX, 4 RCA), read exactly as ``cacscore score`` reads them
(:func:`cacscore.io.ct.read_ct` / :func:`~cacscore.io.ct.read_labels`): a phantom release
root (``labels/<pid>.nii.gz`` beside ``deidentified_nongated/<pid>/<pid>/*.dcm``) or a CSV with columns
``ct,labels`` (optional ``id``), paths relative to the CSV. COCA's non-gated release carries no voxel labels;
its GATED release does (source kind ``"gated"``): each patient's calcium ROIs
(``Gated_release_final/calcium_xml/<pid>.xml``, vessel-named polygons) are rasterised on the gated series
(``Gated_release_final/patient/<pid>/<series>/``) exactly as :func:`cacscore.scoring.gated.score_gated_patient` does,
and the candidates of that gated series are trained on. The model then scores non-gated chest CT.

Cohort rules: a bad case (unreadable DICOM, labels of another shape, NaN HU, labels outside 0..4) is
skipped and reported with its id and a one-line reason; the others go on. Ids are folder / file names
(or the CSV's id column), never DICOM header values. Every file is written atomically.
"""

from __future__ import annotations

import json
import logging
import time
import zlib
import dataclasses
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

from cacscore import lesion as L
from cacscore.core.errors import one_line
from cacscore.chest.anatomy import cuts_through_body
from cacscore.chest.hull import thorax_hull
from cacscore.core.fileio import atomic_write_text, make_output_folder
from cacscore.core.parallel import map_jobs
from cacscore.io.ct import NIFTI_SUFFIXES, ScanFileError, read_ct, read_labels, strip_nifti
from cacscore.core.fileio import natural_key
from cacscore.io.inputs import input_id
from cacscore.lesion.anatomy import ANATOMY_NAMES
from cacscore.lesion.candidates import check_hu
from cacscore.lesion.classifier import coronary_density_hu, feature_table, framed_candidates

log = logging.getLogger(__name__)


NONGATED_DIR = "deidentified_nongated"
GATED_NOISE_SD_HU: tuple[float, float] = (10.0, 60.0)
"""Default range of the noise sd added to gated training copies (``lesion-train --gated-noise-sd``). 10-60 HU since
session 15 (was 10-35, chosen when the non-gated phantom had 10-40 HU; since ca38b2b it reaches
``NOISE_SIGMA_MAX_HU`` = 60 HU with thin slices and sharp kernels). Gated -> non-gated on the phantom, 120 gated
training / 60 non-gated test patients at 256 px: seed 31 ratio / kappa4 total 0.76 / 0.630 -> 12.3 / 0.812 (wt22c,
exploratory), seed 11201 1.15 / 0.567 -> 1.22 / 0.658 (wt23c, pre-registered; docs/lesion_scorer.md; its
cost there: one 5,352 AU patient under-called by 2,712 AU)."""
TRAINING_REPORT = "training_report.json"
SOURCE_KINDS: tuple[str, ...] = ("labels", "csv", "gated")
"""Training source kinds: a release root with labels/, a CSV with ct,labels, COCA's gated ROIs."""


class LesionCohortError(ValueError):
    """A training source or scoring job that cannot be used at all (the message names the path)."""


@dataclass(frozen=True)
class Case:
    """One training scan: id (folder name or CSV id), CT (DICOM folder or NIfTI), label volume file.

    kind "labels": ct + a voxel label file. kind "gated": ct = the gated patient folder
    (``Gated_release_final/patient/<pid>``, its series sub-folders), labels = ``calcium_xml/<pid>.xml``.
    """

    id: str
    ct: Path
    labels: Path
    kind: str = "labels"


# ------------------------------------------------------------------ sources


def _release_cases(root: Path) -> list[Case]:
    lab_dir = root / "labels"
    if not lab_dir.is_dir():
        raise LesionCohortError(
            f"{root}: no labels/ folder: training needs a voxel label volume per scan (a phantom release has "
            f"labels/<pid>.nii.gz; COCA's non-gated release carries no voxel labels). Give a CSV with columns "
            f"ct,labels, or a root with Gated_release_final/ (COCA's gated calcium ROIs; source kind gated)")
    files = [p for p in lab_dir.iterdir() if p.is_file() and p.name.lower().endswith(NIFTI_SUFFIXES)]
    if not files:
        raise LesionCohortError(f"{lab_dir}: no label volumes (*.nii.gz)")
    cases = []
    for f in sorted(files, key=lambda p: natural_key(strip_nifti(p.name))):
        pid = strip_nifti(f.name)
        ct = root / NONGATED_DIR / pid / pid  # the phantom's / COCA's layout
        if not ct.is_dir() and (root / NONGATED_DIR / pid).is_dir():
            ct = root / NONGATED_DIR / pid  # series directly in the patient folder
        cases.append(Case(pid, ct, f))
    return cases


def _csv_cases(path: Path) -> list[Case]:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise LesionCohortError(f"{path}: cannot read as CSV ({type(exc).__name__}: {exc})") from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    missing = [c for c in ("ct", "labels") if c not in df.columns]
    if missing:
        raise LesionCohortError(f"{path}: missing column(s) {', '.join(missing)} (need ct,labels[,id])")
    if df.empty:
        raise LesionCohortError(f"{path}: no rows")
    base = path.parent
    cases = []
    for k, r in enumerate(df.itertuples(index=False), start=2):  # line 1 is the header
        ct, lab = str(r.ct).strip(), str(r.labels).strip()
        if not ct or not lab:
            raise LesionCohortError(f"{path}: line {k}: empty ct or labels cell")
        ctp = Path(ct) if Path(ct).is_absolute() else base / ct
        labp = Path(lab) if Path(lab).is_absolute() else base / lab
        cid = str(getattr(r, "id", "") or "").strip() or input_id(ctp)
        cases.append(Case(cid, ctp, labp))
    ids = [c.id for c in cases]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise LesionCohortError(f"{path}: duplicate id(s) {', '.join(dup[:5])} (add an id column)")
    return cases


def _gated_cases(root: Path) -> list[Case]:
    """One case per gated patient: the union of calcium_xml/<pid>.xml and patient/<pid>/ (a patient with only
    one of them becomes a case whose error is reported at training time). Ids = folder / file names."""
    from cacscore.scoring.gated import GATED_DIR, GatedError, gated_root

    try:
        groot = gated_root(root)
    except GatedError as exc:
        raise LesionCohortError(str(exc)) from None
    xml_dir, pat_dir = groot / "calcium_xml", groot / "patient"
    xmls = {p.stem: p for p in xml_dir.iterdir()
            if p.is_file() and p.suffix.lower() == ".xml" and not p.name.startswith(".")}
    dirs = {p.name for p in pat_dir.iterdir() if p.is_dir() and not p.name.startswith(".")} if pat_dir.is_dir() \
        else set()
    ids = sorted(set(xmls) | dirs, key=natural_key)
    if not ids:
        raise LesionCohortError(f"{root}: no gated patient ({GATED_DIR}/calcium_xml/<pid>.xml with "
                                f"{GATED_DIR}/patient/<pid>/<series>/*.dcm)")
    return [Case(pid, pat_dir / pid, xmls.get(pid, xml_dir / f"{pid}.xml"), kind="gated") for pid in ids]


def source_kind(source: str | Path) -> str:
    """The kind :func:`training_pairs` reads ``source`` as, by default: "csv" for a file, "labels" for a folder
    with labels/, "gated" for a folder with Gated_release_final/calcium_xml (or calcium_xml) and no labels/."""
    src = Path(source)
    if src.is_file():
        return "csv"
    if src.is_dir():
        if (src / "labels").is_dir():
            return "labels"
        if (src / "Gated_release_final" / "calcium_xml").is_dir() or (src / "calcium_xml").is_dir():
            return "gated"
        return "labels"  # _release_cases explains what is missing
    raise LesionCohortError(f"{src}: no such file or folder")


def training_pairs(source: str | Path, *, kind: str | None = None) -> list[Case]:
    """Training cases of a source (files are not opened here: a missing or unreadable one becomes that case's
    error at training time).

    kind (default: :func:`source_kind`): "labels" - a phantom-style release root (labels/<pid>.nii.gz +
    deidentified_nongated/<pid>/<pid>); "csv" - a CSV with columns ct,labels[,id] (paths relative to the CSV);
    "gated" - a COCA (or phantom ``--gated``) root with Gated_release_final/: the gated series with its calcium
    XML ROIs, one case per patient folder / XML.
    """
    if kind is not None and kind not in SOURCE_KINDS:
        raise ValueError(f"kind must be one of {', '.join(SOURCE_KINDS)} (or None), got {kind!r}")
    src = Path(source)
    kind = kind or source_kind(src)
    if kind == "csv":
        if not src.is_file():
            raise LesionCohortError(f"{src}: not a file (source kind csv needs a .csv with ct,labels)")
        if src.suffix.lower() != ".csv":
            raise LesionCohortError(f"{src}: training source must be a release folder or a .csv with ct,labels")
        return _csv_cases(src)
    if not src.is_dir():
        raise LesionCohortError(f"{src}: no such folder (source kind {kind} needs a release root)")
    return _gated_cases(src) if kind == "gated" else _release_cases(src)


# ------------------------------------------------------------------ training
def gated_volume_labels(case: Case) -> tuple[np.ndarray, tuple[float, float, float], np.ndarray, str]:
    """(hu, spacing_mm, labels, series folder name) of a gated case, each series folder read once.

    hu: (z, y, x) HU of the gated series; spacing_mm (z, y, x); labels: (z, y, x) uint8 ROI label volume.
    The same steps as :func:`cacscore.scoring.gated.score_gated_patient` with ``keep_labels=True`` (series choice by
    :func:`cacscore.scoring.gated.choose_series`; ROIs matched by Point_mm z; polygons rasterised by
    :func:`cacscore.scoring.gated.score_rois`), composed from its public functions so that the chosen volume is kept
    instead of read a second time (tests/test_lesion_cohort.py checks both give the same labels).
    Raises GatedError / RoiXmlError (ValueErrors) naming the file: missing XML, no readable series, an ROI
    outside the image or matching no slice.
    """
    from cacscore.scoring import gated as G
    from cacscore.io.roi_xml import read_roi_plist

    if not case.labels.is_file():
        raise G.GatedError(f"{case.labels}: no such ROI file (gated patient {case.id})")
    rf = read_roi_plist(case.labels)
    folder, vol, _ = G.choose_series(rf.rois, case.ct, where=str(case.labels), pid=case.id)
    where = f"{case.labels} on series '{folder.name}'"
    slices, _ = G.match_rois_to_slices(rf.rois, vol, where=where)
    _, labels = G.score_rois(vol, rf.rois, slices, where=where)
    dz, py, px = (float(v) for v in vol.spacing_mm)
    return vol.hu, (abs(dz), py, px), labels, folder.name


def noisy_copy(hu: np.ndarray, spacing_mm, sd_hu: float, rng: np.random.Generator) -> np.ndarray:
    """``hu`` plus correlated Gaussian noise of standard deviation ``sd_hu`` (white noise blurred in-plane with
    a 0.5 mm Gaussian, then rescaled): a low-noise gated series made to look like a noisier non-gated one, whose
    noise makes 1-2 mm^2 specks above 130 HU in the blood pool that gated training otherwise never shows."""
    white = rng.standard_normal(np.shape(hu), dtype=np.float32)
    s = 0.5 / float(spacing_mm[1])
    field = ndimage.gaussian_filter(white, sigma=(0.0, s, s), truncate=3.0)
    field *= np.float32(sd_hu / max(float(field.std()), 1e-6))
    return np.asarray(hu, np.float32) + field


def noise_augmented_candidates(hu: np.ndarray, spacing_mm, labels: np.ndarray, heart_index, *, copies: int,
                               sd_hu: tuple[float, float], rng: np.random.Generator, threshold_hu: float = 130.0,
                               min_area_mm2: float = 1.0, hull: np.ndarray | None = None,
                               anatomy=None) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate features and targets of ``copies`` noisy copies of one labelled volume (:func:`noisy_copy`,
    each with an extra noise sd drawn uniformly from ``sd_hu``), all referenced to ``heart_index``.

    hull: the clean volume's lung hull (``Candidates.thorax_hull`` / :func:`cacscore.chest.hull.thorax_hull`); default:
    computed once here from ``hu``. The copies share it: the noise (sd up to 60 HU, the default
    GATED_NOISE_SD_HU) leaves the lung field (< -400 HU, lungs ~ -850: 7 sd of 60 HU below it) as it was, and the hull distance is not a training feature (it is a rule applied at scoring), so
    features and targets are the same as with a hull per copy (tested). anatomy: the clean volume's
    ``read_chest``; when given, the copies' anatomy columns are returned as a third array (the anatomy is the
    clean scan's: noise of 10-60 HU does not move the lungs, the aorta or the pericardium)."""
    fs, ts, cs = [], [], []
    if copies > 0 and hull is None:
        hull = thorax_hull(hu, spacing_mm)
    for _ in range(copies):
        noisy = noisy_copy(hu, spacing_mm, float(rng.uniform(*sd_hu)), rng)
        c = L.find_candidates(noisy, spacing_mm, threshold_hu=threshold_hu, min_area_mm2=min_area_mm2,
                              heart_index=heart_index, hull=hull, anatomy=anatomy)
        fs.append(c.features)
        ts.append(L.candidate_targets(c.ids, labels))
        if anatomy is not None:
            cs.append(c.anatomy_columns)
    if not fs:
        fs, ts = [np.zeros((0, len(L.FEATURE_NAMES)), np.float32)], [np.zeros(0, np.int64)]
        cs = [np.zeros((0, len(ANATOMY_NAMES)))]
    if anatomy is None:
        return np.concatenate(fs), np.concatenate(ts)
    return np.concatenate(fs), np.concatenate(ts), np.concatenate(cs)


def training_candidates(hu: np.ndarray, spacing_mm, config: L.ClassifierConfig, *, threshold_hu: float = 130.0,
                        min_area_mm2: float = 1.0, skip_unused_chest: bool = True) -> tuple[L.Candidates, bool]:
    """The candidates of one training volume as :func:`cacscore.lesion.classifier.framed_candidates` finds them for
    ``config``, and whether ``read_chest`` ran.

    skip_unused_chest: when the model reads no anatomy column (``config.reads_anatomy_columns`` False) and the field
    of view cuts through the body (:func:`cacscore.chest.anatomy.cuts_through_body`: every gated, heart-centred
    series of the phantom), the chest anatomy cannot change a training row: read_chest caps the pericardium's
    confidence at TRUNCATED_CONFIDENCE, under heart_reference's REFERENCE_CONFIDENCE, so the reference is the heart
    finder's point (``find_candidates``' own), and the anatomy's only other output, the anatomy columns, is not
    trained on (the anatomy rules act at scoring). So it is not read: the same features and targets
    (tests/test_gated_frame.py), wt22c measured read_chest at +38 % of gated extraction (284 s vs 205 s, 120 gated
    scans at 256 px; bench/lesion_gated_extraction.py times both in one run)."""
    hu, sp = check_hu(hu, spacing_mm)  # a bad volume raises LesionError here, as framed_candidates would
    if skip_unused_chest and config.needs_anatomy and not config.reads_anatomy_columns and cuts_through_body(hu, sp):
        return L.find_candidates(hu, sp, threshold_hu=threshold_hu, min_area_mm2=min_area_mm2), False
    cand = framed_candidates(hu, sp, config, threshold_hu=threshold_hu, min_area_mm2=min_area_mm2)
    return cand, config.needs_anatomy


def _extract(case: Case, threshold_hu: float, min_area_mm2: float, noise_copies: int = 0,
             noise_sd_hu: tuple[float, float] = GATED_NOISE_SD_HU, seed: int = 0,
             config: L.ClassifierConfig | None = None, skip_unused_chest: bool = True) -> dict:
    """Candidates + targets of one case, or {"id", "error"}: never raises for bad data. Gated cases also get
    ``noise_copies`` noise-augmented copies (:func:`noise_augmented_candidates`, seeded by seed and case id).
    config (default ``ClassifierConfig()``): the model's settings; its candidates are found through the door scoring
    uses (:func:`cacscore.lesion.classifier.framed_candidates`: the chest anatomy and
    :func:`cacscore.lesion.anatomy.heart_reference` when ``config.needs_anatomy``), so every feature is computed as
    ``classify_volume`` computes it (tests/test_training_frame.py); with ``config.reads_anatomy_columns`` the
    anatomy columns are returned too ("anatomy")."""
    config = L.ClassifierConfig() if config is None else config
    t0 = time.perf_counter()
    try:
        if case.kind == "gated":
            hu, spacing, labels, _ = gated_volume_labels(case)
        else:
            ct = read_ct(case.ct)
            labels = read_labels(case.labels)
            if labels.shape != ct.hu.shape:
                raise ScanFileError(f"{case.labels}: label volume shape {labels.shape} (z, y, x) does not match "
                                    f"the CT's shape {ct.hu.shape} from {case.ct}")
            hu, spacing = ct.hu, (abs(ct.spacing_mm[0]), *ct.spacing_mm[1:])
        try:
            # gated or not, the reference is the one scoring takes on a non-gated scan (issue 16): heart_reference
            # (the heart finder's point, cacscore.chest.heart.locate_heart, unless the found pericardium overrules
            # it), which reads a heart-centred gated field of view too (cacscore.chest.lungs.heart_only_view).
            # Phantom, 10 gated series of seed 31 at 512 px: the finder's gated centre lies a median 3.0 mm (max
            # 14.7) from its centre on the same patients' non-gated scans; the field of view's centre, used before,
            # 13.8 mm (max 18.6; bench/gated_heart_frame.py, docs/lesion_scorer.md)
            # (without read_chest where it cannot change a row: training_candidates)
            cand, chest_read = training_candidates(hu, spacing, config, threshold_hu=threshold_hu,
                                                   min_area_mm2=min_area_mm2, skip_unused_chest=skip_unused_chest)
        except L.LesionError as exc:
            raise ScanFileError(f"{case.ct}: {exc}") from None
        try:
            targets = L.candidate_targets(cand.ids, labels)
        except L.LesionError as exc:
            raise ScanFileError(f"{case.labels}: {exc}") from None
        noisy = None
        if case.kind == "gated" and noise_copies > 0:
            rng = np.random.default_rng([seed, zlib.crc32(case.id.encode("utf-8")), 13])
            noisy = noise_augmented_candidates(hu, spacing, labels, cand.heart_index, copies=noise_copies,
                                               sd_hu=noise_sd_hu, rng=rng, threshold_hu=threshold_hu,
                                               min_area_mm2=min_area_mm2, hull=cand.thorax_hull,
                                               anatomy=cand.anatomy if config.reads_anatomy_columns else None)
    except Exception as exc:  # noqa: BLE001 - a cohort job reports the bad case and goes on
        return {"id": case.id, "error": one_line(exc, name_unexpected=True)}
    out = {"id": case.id, "kind": case.kind, "features": cand.features, "targets": targets,
           "seconds": time.perf_counter() - t0, "chest_read": chest_read}
    if config.reads_anatomy_columns:
        out["anatomy"] = cand.anatomy_columns
    if noisy is not None:
        out["noise_features"], out["noise_targets"] = noisy[:2]
        if config.reads_anatomy_columns:
            out["noise_anatomy"] = noisy[2]
    return out


_POSITION = tuple(L.FEATURE_NAMES.index(n) for n in ("dz_mm", "dy_mm", "dx_mm", "r_inplane_mm", "dist_mm",
                                                       "cos_inplane", "sin_inplane"))


def shift_heart_reference(features: np.ndarray, shift_mm) -> np.ndarray:
    """Candidate features (n, len(FEATURE_NAMES)) re-referenced to a heart centre moved by shift_mm (z, y, x)
    in mm: exactly the position columns find_candidates would give with that heart index (positions are
    (centroid - heart) x spacing); the other columns are unchanged."""
    f = np.array(features, np.float32, copy=True)
    iz, iy, ix, ir, idist, icos, isin = _POSITION
    dz, dy, dx = (f[:, i].astype(np.float64) - float(s) for i, s in zip((iz, iy, ix), shift_mm))
    r = np.hypot(dy, dx)
    f[:, iz], f[:, iy], f[:, ix], f[:, ir] = dz, dy, dx, r
    f[:, idist] = np.sqrt(r ** 2 + dz ** 2)
    f[:, icos] = np.where(r > 0, dx / np.maximum(r, 1e-9), 0.0)
    f[:, isin] = np.where(r > 0, dy / np.maximum(r, 1e-9), 0.0)
    return f


def _cap_from_data(config: L.ClassifierConfig, table: np.ndarray, targets: np.ndarray,
                   percentile: float) -> L.ClassifierConfig:
    """config with density_cap_hu = the percentile of the mean / peak HU of the coronary rows within reach of the
    MLP (dist_mm <= max_distance_mm, the rows train_classifier trains on)."""
    names = config.feature_names
    near = table[:, names.index("dist_mm")] <= config.max_distance_mm
    d = coronary_density_hu(table[near], targets[near], names, percentile)
    if d is None:
        raise LesionCohortError(f"no coronary training candidate to take the density cap's percentile "
                                f"{percentile:g} from (lesion-train --density-cap-hu)")
    return dataclasses.replace(config, density_cap_hu=(d["mean_hu"], d["peak_hu"]))


def _extract_job(job: tuple) -> dict:
    return _extract(*job)


def _training_rows(ok: list[dict], names: tuple[str, ...], seed: int, gated_copies: int,
                   gated_heart_jitter_mm: float) -> tuple[np.ndarray, np.ndarray, list[dict], list[dict]]:
    """The MLP's training rows (float32 (n, len(names)) table, int64 targets) of the extracted cases ``ok``
    (:func:`_extract_job` results), with the gated cases' copies: every case's rows once; then gated_copies - 1 times
    every gated case's rows with the heart reference shifted by N(0, gated_heart_jitter_mm) per axis (rng
    [seed, 8]); then each gated case's noisy copy (its "noise_features") with one such shift (rng [seed, 9]; none when
    the jitter is 0). Also returns the gated and the noisy cases. The table holds the chosen candidate features and
    anatomy columns (the anatomy does not move with the shifts, which re-reference only the position columns)."""
    def table(f: np.ndarray, r: dict, key: str = "anatomy") -> np.ndarray:
        return feature_table(f, r.get(key), names)

    train_f, train_y = [table(r["features"], r) for r in ok], [r["targets"] for r in ok]
    gated = [r for r in ok if r.get("kind") == "gated"]
    if gated and gated_copies > 1 and gated_heart_jitter_mm > 0:
        rng = np.random.default_rng([seed, 8])
        for _ in range(gated_copies - 1):
            for r in gated:
                train_f.append(table(shift_heart_reference(r["features"], rng.normal(0.0, gated_heart_jitter_mm, 3)), r))
                train_y.append(r["targets"])
    noisy = [r for r in gated if "noise_features" in r]
    if noisy:
        rng_n = np.random.default_rng([seed, 9])
        for r in noisy:
            shift = rng_n.normal(0.0, gated_heart_jitter_mm, 3) if gated_heart_jitter_mm > 0 else np.zeros(3)
            train_f.append(table(shift_heart_reference(r["noise_features"], shift), r, "noise_anatomy"))
            train_y.append(r["noise_targets"])
    return np.concatenate(train_f).astype(np.float32), np.concatenate(train_y).astype(np.int64), gated, noisy


def train_lesion_model(cases: list[Case], out_dir: str | Path, *, config: L.ClassifierConfig = L.ClassifierConfig(),  # noqa: B008 - frozen
                       workers: int = 1, progress: bool = True, threshold_hu: float = 130.0,
                       min_area_mm2: float = 1.0, gated_heart_jitter_mm: float = 4.0, gated_copies: int = 4,
                       gated_noise_copies: int = 2, gated_noise_sd_hu: tuple[float, float] = GATED_NOISE_SD_HU,
                       density_cap_percentile: float | None = None) -> dict:
    """Extract candidates + targets of every case, train the classifier, save it into ``out_dir``.

    Every case's candidates are found as scoring finds them (``cacscore.lesion.classifier.framed_candidates`` with
    ``config``: the frame ``config.frame``, recorded in the report as heart_reference). Gated cases (COCA's calcium
    ROIs) are thus referenced as non-gated ones (the heart finder's centre, ``cacscore.chest.heart.locate_heart``,
    unless heart_reference's pericardium rules replace it; before issue 16 their field of view's centre), and trained on ``gated_copies``
    copies of their candidates, copies after the first with the heart reference
    moved by a random (z, y, x) shift ~ N(0, gated_heart_jitter_mm) per axis (seed: config.seed), so the model
    tolerates the error of find_heart on the non-gated scans it scores (phantom: kappa4 total 0.763 -> 0.916
    and 0.702 -> 0.755 on two cohorts, bench/lesion_gated_transfer.py). Default 4 mm since the gated reference is
    the finder's own centre (8 mm with the field-of-view centre): on two phantom cohorts at 256 px (seeds 31, 32;
    row b8 vs b7, docs/lesion_scorer.md) the finder's frame with 4 mm gave MSE ratio / kappa4 total 3.2 / 0.772 and
    2.0 / 0.846 against 3.1 / 0.744 and 1.9 / 0.846 for the field-of-view centre with 8 mm. gated_heart_jitter_mm=0
    or gated_copies=1: no copies. gated_noise_copies: per gated case, that many extra copies of the scan with
    correlated noise of sd drawn from gated_noise_sd_hu added (:func:`noisy_copy`), their candidates trained on
    too, each copy with one random heart-reference shift. Default 2: on two phantom cohorts (gated -> non-gated,
    bench/lesion_gated_transfer.py row b7) kappa4 total 0.755 -> 0.865 and 0.916 -> 0.916, false-positive
    candidates 116 -> 5 and 2 -> 1 (docs/lesion_scorer.md). 0: no noisy copies. gated_noise_sd_hu: default
    :data:`GATED_NOISE_SD_HU` (10-60 HU since session 15; 10-35 before). density_cap_percentile: set
    config.density_cap_hu to that percentile of the mean / peak HU of the coronary training rows (within
    max_distance_mm) instead of config's own cap (``lesion-train --density-cap-hu p90``).

    Writes out_dir/model.safetensors + model.json (cacscore.lesion.candidates.save_model) and out_dir/training_report.json;
    returns the report: cases used, cases skipped with their reasons, candidate counts per class (all
    candidates, and those within max_distance_mm that the MLP trains on), seconds.
    Raises LesionCohortError when no case is usable.
    """
    if not cases:
        raise LesionCohortError("no training cases")
    ids = [c.id for c in cases]
    if len(set(ids)) != len(ids):
        raise LesionCohortError(f"duplicate case ids: {sorted({i for i in ids if ids.count(i) > 1})[:5]}")
    out = make_output_folder(out_dir, create=False)  # a file there: say so now, not after the training
    t0 = time.perf_counter()
    if gated_noise_copies < 0 or not 0 <= gated_noise_sd_hu[0] <= gated_noise_sd_hu[1]:
        raise ValueError(f"gated_noise_copies must be >= 0 and gated_noise_sd_hu (low, high) with 0 <= low <= high, "
                         f"got {gated_noise_copies}, {gated_noise_sd_hu}")
    jobs = [(c, threshold_hu, min_area_mm2, gated_noise_copies, tuple(gated_noise_sd_hu), config.seed, config)
            for c in cases]
    res = map_jobs(_extract_job, jobs, workers, "lesion candidates", progress)
    t_extract = time.perf_counter() - t0
    ok = [r for r in res if "error" not in r]
    skipped = [{"id": r["id"], "reason": r["error"]} for r in res if "error" in r]
    for s in skipped:
        log.warning("lesion-train: skipped %s: %s", s["id"], s["reason"])
    if not ok:
        raise LesionCohortError(f"no usable training case ({len(skipped)} skipped; first: "
                                f"{skipped[0]['id']}: {skipped[0]['reason']})")
    feats = np.concatenate([r["features"] for r in ok]).astype(np.float32)
    targets = np.concatenate([r["targets"] for r in ok]).astype(np.int64)
    names = config.feature_names
    if len(targets) == 0:
        raise LesionCohortError(f"the {len(ok)} usable case(s) have no calcium candidate (>= {threshold_hu:g} HU)")
    if gated_copies < 1 or not gated_heart_jitter_mm >= 0:
        raise ValueError(f"gated_copies must be >= 1 and gated_heart_jitter_mm >= 0, got {gated_copies}, "
                         f"{gated_heart_jitter_mm}")
    train_f_all, train_y_all, gated, noisy = _training_rows(ok, names, config.seed, gated_copies, gated_heart_jitter_mm)
    if density_cap_percentile is not None:
        config = _cap_from_data(config, train_f_all, train_y_all, density_cap_percentile)
    t1 = time.perf_counter()
    model = L.train_classifier(train_f_all, train_y_all, config=config, threshold_hu=threshold_hu,
                               min_area_mm2=min_area_mm2)
    t_train = time.perf_counter() - t1
    L.save_model(model, out)
    counts = np.bincount(targets, minlength=L.N_CLASSES)
    near = feats[:, L.FEATURE_NAMES.index("dist_mm")] <= config.max_distance_mm
    counts_near = np.bincount(targets[near], minlength=L.N_CLASSES)
    report = {
        "model_dir": str(out),
        "source_kinds": sorted({c.kind for c in cases}),
        "feature_names": list(names),
        "heart_reference": {k: config.frame for k in sorted({c.kind for c in cases})},
        "reference": config.reference,
        "gated_heart_jitter": {"sd_mm": gated_heart_jitter_mm, "copies": gated_copies, "n_gated_cases": len(gated),
                               "n_training_rows": len(train_y_all)},
        "gated_noise": {"copies": gated_noise_copies, "sd_hu": list(gated_noise_sd_hu),
                        "n_rows": int(sum(len(r["noise_targets"]) for r in noisy))},
        "n_cases": len(cases), "n_used": len(ok), "n_skipped": len(skipped),
        "n_chest_read": int(sum(bool(r.get("chest_read")) for r in ok)),  # read_chest skipped where unused
        "cases_used": [r["id"] for r in ok],
        "skipped": skipped,
        "candidates": {"total": len(targets),
                       "per_class": {n: int(c) for n, c in zip(L.CLASS_NAMES, counts)},
                       "within_max_distance_per_class": {n: int(c) for n, c in zip(L.CLASS_NAMES, counts_near)}},
        "candidates_per_case": {r["id"]: len(r["targets"]) for r in ok},
        "config": asdict(config) | {"hidden": list(config.hidden)},
        "threshold_hu": threshold_hu, "min_area_mm2": min_area_mm2,
        "final_loss": model.info.get("final_loss"),
        "density_cap_hu": None if config.density_cap_hu is None else list(config.density_cap_hu),
        "density_cap_from": "setting" if density_cap_percentile is None else
                            f"percentile {density_cap_percentile:g} of the coronary training candidates",
        "coronary_density_hu": model.info.get("coronary_density_hu"),
        "workers": workers,
        "seconds": {"candidates": t_extract, "train": t_train, "total": time.perf_counter() - t0},
    }
    atomic_write_text(out / TRAINING_REPORT, json.dumps(report, indent=1, default=float) + "\n")
    log.info("lesion-train: %d case(s) used, %d skipped, %d candidates (%d coronary); candidates %.1f s, train %.1f s",
             len(ok), len(skipped), len(targets), int(counts[1:].sum()), t_extract, t_train)
    return report


# ------------------------------------------------------------------ scoring


