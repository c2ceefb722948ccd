"""Agatston scores of the COCA gated scans from their own XML ROIs, compared with the XML's Area x weight.

Layout read (see docs/scoring.md)::

    <root>/Gated_release_final/calcium_xml/<pid>.xml
    <root>/Gated_release_final/patient/<pid>/<series folder>/*.dcm

Each annotated lesion is scored as Agatston did by hand: the pixels inside its polygon (pixel centres)
that are >= 130 HU on its slice, area x weight of their peak HU, times the slice factor
(slice spacing / 3 mm: 1 for the 3 mm gated scans). No minimum area applies to an annotated ROI.
The XML's own score of a ROI is Area (cm^2 -> mm^2) x weight of the ROI's Max.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cacscore.io.dicom import Volume, read_series
from cacscore.io.roi_xml import PolygonRoi, RoiFile, read_roi_plist, rasterise_polygon
from cacscore.scoring.agatston import REFERENCE_SLICE_MM, agatston_weight
from cacscore.core.fileio import natural_key
from cacscore.core.vessels import LABEL_OF, VESSELS

log = logging.getLogger(__name__)

GATED_DIR = "Gated_release_final"
XML_COLUMNS: tuple[str, ...] = tuple(f"xml_{c}" for c in (*VESSELS, "total"))
GATED_COLUMNS: tuple[str, ...] = ("id", *VESSELS, "total", *XML_COLUMNS)
"""CSV columns of ``cacscore score-gated`` (a CLI contract)."""


class GatedError(ValueError):
    """A gated patient that cannot be scored; the message names the patient/file and the problem."""


@dataclass(frozen=True)
class RoiLesion:
    """Score of one annotated ROI: slice index (ascending z), vessel, pixels >= threshold, scores."""

    slice: int
    vessel: str
    n_pixels: int
    area_mm2: float
    peak_hu: float
    weight: int
    score: float
    xml_score: float


@dataclass(frozen=True)
class GatedScore:
    """Scores of one gated patient.

    scores / xml_scores: keys VESSELS + "total", Agatston units (ours from the images; the XML's own
    Area x weight). series: the series folder used. labels: (z, y, x) uint8 label volume of the ROIs.
    """

    id: str
    scores: dict[str, float]
    xml_scores: dict[str, float]
    series: str
    n_rois: int
    n_placeholder: int
    unknown_names: tuple[str, ...]
    n_index_mismatch: int
    lesions: tuple[RoiLesion, ...]
    labels: np.ndarray | None = None

    def as_row(self) -> dict[str, float | str]:
        """One row with the GATED_COLUMNS keys."""
        row: dict[str, float | str] = {"id": self.id}
        row.update({k: float(self.scores[k]) for k in (*VESSELS, "total")})
        row.update({f"xml_{k}": float(self.xml_scores[k]) for k in (*VESSELS, "total")})
        assert tuple(row) == GATED_COLUMNS
        return row


# ---------------------------------------------------------------- layout
def gated_root(root: str | Path) -> Path:
    """The ``Gated_release_final`` folder of a COCA root (or the folder itself)."""
    root = Path(root)
    for cand in (root / GATED_DIR, root):
        if (cand / "calcium_xml").is_dir():
            return cand
    raise GatedError(f"{root}: no {GATED_DIR}/calcium_xml folder found (not a COCA release root)")



def list_gated_patients(root: str | Path) -> list[str]:
    """Ids of the gated patients with an XML, sorted numerically (hidden files ignored)."""
    xml_dir = gated_root(root) / "calcium_xml"
    ids = [p.stem for p in xml_dir.iterdir() if p.suffix.lower() == ".xml" and not p.name.startswith(".")]
    return sorted(ids, key=natural_key)


def series_folders(patient_dir: Path) -> list[Path]:
    """Series folders of one gated patient (non-hidden sub-folders; the folder itself if it holds files)."""
    if not patient_dir.is_dir():
        raise GatedError(f"{patient_dir}: gated patient folder missing")
    subs = sorted(p for p in patient_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if subs:
        return subs
    if any(p.is_file() and not p.name.startswith(".") for p in patient_dir.iterdir()):
        return [patient_dir]
    raise GatedError(f"{patient_dir}: no series folder")


# ---------------------------------------------------------------- ROI -> slice matching
def _slice_normal(vol: Volume) -> np.ndarray:
    if vol.orientation is None:
        return np.array([0.0, 0.0, 1.0])
    o = np.asarray(vol.orientation, dtype=float)
    n = np.cross(o[:3], o[3:])
    return n / np.linalg.norm(n)


def match_rois_to_slices(rois: tuple[PolygonRoi, ...] | list[PolygonRoi], vol: Volume, *, where: str,
                         tol_fraction: float = 0.3) -> tuple[np.ndarray, int]:
    """Slice index (into vol.hu) of each ROI, and the number of ROIs whose ImageIndex disagrees.

    Matches the ROI's Point_mm (projected on the slice normal) to the slice positions within
    tol_fraction x slice spacing; without Point_mm, ImageIndex is the 0-based index in ascending z.
    Raises GatedError naming ``where`` for a z that matches no slice or an index out of range.
    """
    n_slices = vol.hu.shape[0]
    normal = _slice_normal(vol)
    if vol.positions_mm is not None:
        pos = np.asarray(vol.positions_mm, dtype=float)
        slice_pos = pos @ normal
        ascending = np.argsort(pos[:, 2], kind="stable")  # ImageIndex order: ascending patient z
    else:
        slice_pos, ascending = None, np.arange(n_slices)
    tol = tol_fraction * abs(float(vol.spacing_mm[0]))
    out = np.empty(len(rois), dtype=np.int64)
    mismatch = 0
    for i, roi in enumerate(rois):
        by_index = None
        if 0 <= roi.image_index < n_slices:
            by_index = int(ascending[roi.image_index])
        if roi.points_mm is not None and slice_pos is not None:
            roi_pos = float(np.median(roi.points_mm @ normal))
            d = np.abs(slice_pos - roi_pos)
            k = int(np.argmin(d))
            if d[k] > tol:
                raise GatedError(f"{where}: ROI '{roi.name}' (ImageIndex {roi.image_index}) at z={roi_pos:.2f} mm "
                                 f"matches no slice (nearest slice at {slice_pos[k]:.2f} mm)")
            out[i] = k
            mismatch += by_index != k
        else:
            if by_index is None:
                raise GatedError(f"{where}: ROI '{roi.name}' ImageIndex {roi.image_index} is outside the "
                                 f"series' {n_slices} slices")
            out[i] = by_index
    return out, int(mismatch)


def pixel_mm_offset_px(rois: tuple[PolygonRoi, ...], vol: Volume) -> tuple[float, float] | None:
    """Median (col, row) offset in pixels of Point_mm from Point_px mapped through the DICOM geometry.

    (0, 0) means integer Point_px coordinates are pixel centres (the convention rasterise_polygon
    assumes by default); (-0.5, -0.5) or (0.5, 0.5) would mean a half-pixel corner convention.
    None without Point_mm or geometry.
    """
    with_mm = [r for r in rois if r.points_mm is not None and len(r.points_mm) == len(r.points_px)]
    if not with_mm or vol.positions_mm is None or vol.orientation is None:
        return None
    o = np.asarray(vol.orientation, dtype=float)
    _, py, px = (float(v) for v in vol.spacing_mm)
    ipp = np.asarray(vol.positions_mm, dtype=float)[0]
    pts_px = np.concatenate([r.points_px for r in with_mm])
    pts_mm = np.concatenate([r.points_mm for r in with_mm])
    rel = pts_mm - ipp
    col = rel @ o[:3] / px  # in-plane position along the row direction, in pixels
    row = rel @ o[3:] / py
    return float(np.median(col - pts_px[:, 0])), float(np.median(row - pts_px[:, 1]))


def choose_series(rois: tuple[PolygonRoi, ...] | list[PolygonRoi], patient_dir: Path, *, where: str,
                  pid: str) -> tuple[Path, Volume, int]:
    """The gated series folder of ``patient_dir`` the ROIs were drawn on, read: (folder, volume, number of ROI
    positions matching its slices). With several folders, the one where most ROI positions match a slice wins;
    the first folder by name wins ties (logged). Unreadable folders are passed over; none readable raises
    GatedError naming the patient and each folder's problem."""
    folders = series_folders(patient_dir)
    candidates: list[tuple[int, Path, Volume]] = []
    errors = []
    for folder in folders:
        try:
            vol = read_series(folder)
        except ValueError as exc:
            errors.append(" ".join(str(exc).split()))
            continue
        candidates.append((_matching_count(rois, vol, where) if len(folders) > 1 else len(rois), folder, vol))
    if not candidates:
        raise GatedError(f"patient {pid}: no readable gated series ({'; '.join(errors)})")
    n_match, folder, vol = max(candidates, key=lambda c: c[0])  # max keeps the first on ties
    if len(folders) > 1:
        log.info("patient %s: %d series folders; chose '%s' (%d/%d ROI positions match its slices)",
                 pid, len(folders), folder.name, n_match, len(rois))
    return folder, vol, n_match


def _matching_count(rois: tuple[PolygonRoi, ...], vol: Volume, where: str) -> int:
    """How many ROIs match a slice of this volume (for choosing among series folders)."""
    ok = 0
    for roi in rois:
        try:
            match_rois_to_slices([roi], vol, where=where)
            ok += 1
        except GatedError:
            pass
    return ok


# ---------------------------------------------------------------- scoring
def score_rois(vol: Volume, rois: tuple[PolygonRoi, ...], slices: np.ndarray, *, where: str,
               threshold_hu: float = 130.0, slice_normalisation: str = "spacing",
               centre_offset_px: float = 0.0) -> tuple[list[RoiLesion], np.ndarray]:
    """Score each ROI on its slice; return the lesions and the (z, y, x) uint8 label volume.

    Raises GatedError naming ``where`` for an ROI with a vertex more than one pixel outside the image.
    """
    nz, rows, cols = vol.hu.shape
    dz, py, px = (float(v) for v in vol.spacing_mm)
    if slice_normalisation == "spacing":
        factor = abs(dz) / REFERENCE_SLICE_MM
    elif slice_normalisation == "thickness":
        if not vol.slice_thickness_mm:
            raise GatedError(f"{where}: slice_normalisation='thickness' but the series has no SliceThickness")
        factor = float(vol.slice_thickness_mm) / REFERENCE_SLICE_MM
    elif slice_normalisation == "none":
        factor = 1.0
    else:
        raise ValueError(f"slice_normalisation must be 'spacing', 'thickness' or 'none', got {slice_normalisation!r}")
    labels = np.zeros(vol.hu.shape, dtype=np.uint8)
    lesions: list[RoiLesion] = []
    overlaps = 0
    for roi, k in zip(rois, slices):
        pts = roi.points_px
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        if lo[0] < -1 or lo[1] < -1 or hi[0] > cols or hi[1] > rows:
            raise GatedError(f"{where}: ROI '{roi.name}' (ImageIndex {roi.image_index}) lies outside the "
                             f"{rows} x {cols} image (cols {lo[0]:.1f}..{hi[0]:.1f}, rows {lo[1]:.1f}..{hi[1]:.1f})")
        inside = rasterise_polygon(pts, (rows, cols), centre_offset_px=centre_offset_px)
        hu_k = vol.hu[k]
        calc = inside & (hu_k >= threshold_hu)
        n = int(calc.sum())
        peak = float(hu_k[calc].max()) if n else float("nan")
        w = int(agatston_weight(peak, threshold_hu=threshold_hu)) if n else 0
        area = n * py * px
        try:
            xml_w = int(agatston_weight(roi.max_hu))
        except ValueError:
            raise GatedError(f"{where}: ROI '{roi.name}' (ImageIndex {roi.image_index}) has no Max HU") from None
        lesions.append(RoiLesion(slice=int(k), vessel=str(roi.vessel), n_pixels=n, area_mm2=area, peak_hu=peak,
                                 weight=w, score=area * w * factor, xml_score=roi.area_cm2 * 100.0 * xml_w))
        target = labels[k]
        overlaps += int(((target > 0) & inside & (target != LABEL_OF[roi.vessel])).any())
        target[inside] = LABEL_OF[roi.vessel]
        if n == 0:
            log.warning("%s: ROI '%s' (ImageIndex %d) has no pixel >= %g HU on its slice", where, roi.name,
                        roi.image_index, threshold_hu)
    if overlaps:
        log.warning("%s: %d ROI(s) overlap ROIs of another vessel; the label volume keeps the later one",
                    where, overlaps)
    return lesions, labels


def _sum(lesions: list[RoiLesion], attr: str) -> dict[str, float]:
    out = {v: float(sum(getattr(les, attr) for les in lesions if les.vessel == v)) for v in VESSELS}
    out["total"] = float(sum(out[v] for v in VESSELS))
    return out


def score_gated_patient(root: str | Path, pid: str, *, threshold_hu: float = 130.0,
                        slice_normalisation: str = "spacing", centre_offset_px: float = 0.0,
                        keep_labels: bool = False) -> GatedScore:
    """Per-vessel Agatston of one gated patient from its XML ROIs on its own images (see module doc).

    With two series folders, the one where most ROI positions match a slice is used (logged).
    """
    groot = gated_root(root)
    pid = str(pid)
    xml = groot / "calcium_xml" / f"{pid}.xml"
    if not xml.is_file():
        raise GatedError(f"{xml}: no such ROI file")
    rf: RoiFile = read_roi_plist(xml)
    folder, vol, n_match = choose_series(rf.rois, groot / "patient" / pid, where=str(xml), pid=pid)
    where = f"{xml} on series '{folder.name}'"
    offset = pixel_mm_offset_px(rf.rois, vol)
    if offset is not None and max(abs(offset[0]), abs(offset[1])) > 0.25:
        log.warning("%s: Point_mm is offset from Point_px by (%.2f, %.2f) px (col, row): the ROI pixel "
                    "convention may differ from pixel centres; pass centre_offset_px to check", where, *offset)
    slices, mismatch = match_rois_to_slices(rf.rois, vol, where=where)
    if mismatch:
        log.warning("%s: %d ROI(s) whose ImageIndex disagrees with the slice matched by Point_mm z (z used)",
                    where, mismatch)
    lesions, labels = score_rois(vol, rf.rois, slices, where=where, threshold_hu=threshold_hu,
                                 slice_normalisation=slice_normalisation, centre_offset_px=centre_offset_px)
    return GatedScore(id=pid, scores=_sum(lesions, "score"), xml_scores=_sum(lesions, "xml_score"),
                      series=folder.name, n_rois=len(rf.rois), n_placeholder=rf.n_placeholder,
                      unknown_names=rf.unknown_names, n_index_mismatch=mismatch, lesions=tuple(lesions),
                      labels=labels if keep_labels else None)


def score_gated_cohort(root: str | Path, patients: list[str] | None = None, *, threshold_hu: float = 130.0,
                       slice_normalisation: str = "spacing") -> tuple[list[GatedScore], list[str]]:
    """Score every gated patient (or the given ids); a bad patient is reported and the rest scored.

    Returns (scores, errors): errors are one-line messages naming the file and the problem.
    """
    from tqdm import tqdm

    gated_root(root)  # a wrong root is one error for the whole run, not one per patient
    ids = list_gated_patients(root) if patients is None else [str(p) for p in patients]
    scores: list[GatedScore] = []
    errors: list[str] = []
    for pid in tqdm(ids, desc="score-gated", unit="patient", disable=len(ids) < 5):
        try:
            scores.append(score_gated_patient(root, pid, threshold_hu=threshold_hu,
                                              slice_normalisation=slice_normalisation))
        except (ValueError, OSError) as exc:  # one bad patient never stops the cohort
            msg = " ".join(str(exc).split())
            errors.append(msg if msg else f"patient {pid}: {type(exc).__name__}")
            log.debug("patient %s skipped: %s", pid, msg)  # the caller reports `errors`
    return scores, errors
