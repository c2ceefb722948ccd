"""DICOM CT series reading: discovery, grouping, series choice, geometry checks, HU conversion.

``read_series(path) -> Volume`` reads a folder (searched recursively), a single file or a list of
files. Conventions of the returned Volume:

- ``hu`` is float32 (z, y, x). z index 0 is the most INFERIOR slice: slices are sorted by
  ImagePositionPatient projected on the slice normal, the normal oriented so that its patient-z
  component is positive (DICOM patient z points to the head). So ascending z index = inferior ->
  superior, whatever the scanner's order, file names, InstanceNumber or SliceLocation say.
- In-plane, axis-aligned orientations are flipped / transposed to the standard one
  (row direction +x = patient left, column direction +y = patient posterior), so a feet-first or
  mirrored acquisition gives the same array as a standard head-first one.
- HU = stored * RescaleSlope + RescaleIntercept, per slice (per frame for enhanced CT). Pixels
  equal to PixelPaddingValue (or inside PixelPaddingRangeLimit) are outside the scan: they become
  ``AIR_HU``; values below ``AIR_HU`` (e.g. -3024 "outside the scan circle" fill, -2000 stored
  with intercept 0) are clipped to ``AIR_HU`` too.
- Gantry tilt (slice step not parallel to the slice normal) is corrected by resampling onto an
  axis-aligned grid; uneven spacing is resampled onto a uniform grid at the median spacing; a
  gap over 1.5 x the median spacing (missing slices) is refused unless ``on_gap="interpolate"``.

Discovery reads each file once with its pixel data deferred (``dcmread(defer_size=...)``; a
file that fails that way is read header-only as before); pixel data is read only for the chosen
series, from the same datasets. Non-DICOM files and header-only stubs are skipped and counted
(in ``meta``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.pixels import pixel_array
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

log = logging.getLogger(__name__)

AIR_HU: float = -1024.0
"""HU given to padding (outside-the-scan) pixels and the floor of every HU value."""

ENHANCED_CT_SOP = "1.2.840.10008.5.1.4.1.1.2.1"
_AXIAL_MIN_NORMAL_Z = 0.7  # |normal . z| >= cos(45 deg): axial, possibly tilted; below: sagittal/coronal
_TILT_TOLERANCE_DEG = 0.5
_UNEVEN_TOLERANCE = 0.05  # relative deviation of a slice step from the median still read as even
_GAP_FACTOR = 1.5
# Discovery reads each file whole but defers values over this size (the pixel data): the chosen
# series' pixels are then read from the same dataset, so no file is parsed twice.
_DEFER_BYTES = 16 * 1024
# Header keys copied into Volume.meta. A whitelist, so no patient identifier can leak.
_META_KEYS = ("Modality", "Manufacturer", "ManufacturerModelName", "KVP", "ConvolutionKernel",
              "SliceThickness", "PixelSpacing", "Rows", "Columns", "BodyPartExamined",
              "SeriesDescription", "SeriesNumber", "ContrastBolusAgent", "GantryDetectorTilt",
              "PixelRepresentation", "BitsStored", "RescaleSlope", "RescaleIntercept",
              "PixelPaddingValue", "ImageType")


@dataclass
class Volume:
    """A CT volume in Hounsfield units.

    hu: float32 array (z, y, x) (int16, same values, when read with ``exact_int16=True`` and
        exact); z ascending = inferior -> superior (see module docstring).
    spacing_mm: (z, y, x) spacing in mm (z = uniform distance between slices along the normal).
    slice_thickness_mm: nominal SliceThickness (mm) or None.
    positions_mm: (z, 3) patient position (mm) of the first voxel of each slice.
    orientation: (6,) ImageOrientationPatient (row cosines, column cosines) of the array as returned.
    kvp, manufacturer: from the header; contrast: True when a contrast agent is recorded.
    meta: de-identified dict (whitelisted header values + reader report); files: the slice files.
    """

    hu: np.ndarray
    spacing_mm: tuple[float, float, float]
    slice_thickness_mm: float | None = None
    positions_mm: np.ndarray | None = None
    orientation: np.ndarray | None = None
    kvp: float | None = None
    manufacturer: str | None = None
    contrast: bool = False
    meta: dict = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)


def hu_and_spacing(volume_or_hu: "Volume | np.ndarray", spacing_mm: Sequence[float] | None, *,
                   who: str) -> tuple[np.ndarray, Sequence[float]]:
    """(hu, spacing_mm) of a Volume, or of a bare (z, y, x) array with its spacing (required: ValueError naming
    ``who``, the caller)."""
    if isinstance(volume_or_hu, Volume):
        return volume_or_hu.hu, volume_or_hu.spacing_mm
    if spacing_mm is None:
        raise ValueError(f"{who}: spacing_mm is required with a bare array")
    return np.asarray(volume_or_hu), spacing_mm


class DicomError(ValueError):
    """A DICOM input that cannot be read as a CT series; the message names the file and problem."""


@dataclass
class SeriesInfo:
    """One group of image files that belong together (discovery report, no pixel data read).

    key: stable label used to choose the series (``read_series(..., series=key)``).
    files: the files; frames: number of image frames (slices) announced by the headers.
    usable: False for localizers, non-axial, non-CT series; ``reason`` says why.
    """

    key: str
    folder: Path
    files: list[Path]
    frames: int
    series_uid: str | None
    series_number: int | None
    description: str
    modality: str
    orientation: tuple[float, ...]
    rows: int
    columns: int
    pixel_spacing_mm: tuple[float, float]
    thickness_mm: float | None
    z_extent_mm: float
    enhanced: bool
    usable: bool
    reason: str = ""
    subject: str = ""  # short hash of (PatientID, StudyInstanceUID): compared, never shown as the values

    def summary(self) -> str:
        state = "usable" if self.usable else f"skipped: {self.reason}"
        return (f"{self.key}: {self.frames} slices {self.rows}x{self.columns}, "
                f"thickness {self.thickness_mm} mm, z extent {self.z_extent_mm:.1f} mm ({state})")


def short_hash(text: str) -> str:
    """8 hex digits standing for an identifier (a SeriesInstanceUID) in messages, keys and outputs: UIDs are
    identifiers under DICOM de-identification, so none is ever printed."""
    return hashlib.sha1(str(text).encode()).hexdigest()[:8]


def _subject(ds: pydicom.Dataset) -> str:
    pid, study = str(ds.get("PatientID", "") or ""), str(ds.get("StudyInstanceUID", "") or "")
    return short_hash(f"{pid}\0{study}") if pid or study else ""


# ------------------------------------------------------------------ discovery
@dataclass
class _Header:
    """A discovered image file. ``pixels``: ``ds`` was read whole with its pixel data deferred, so
    the pixels are read from ``ds`` (one parse per file); False: ``ds`` is a header read
    (stop_before_pixels) and the file is read again, whole, for its pixels."""

    path: Path
    ds: pydicom.Dataset
    pixels: bool = False
    enhanced: bool = False  # set by discovery, with positions (one per frame), so both are read once
    positions: list | None = None


def _iter_files(path: str | Path | Sequence[Path]) -> list[Path]:
    if isinstance(path, (str, os.PathLike)):
        p = Path(path)
        if p.is_file():
            return [p]
        if not p.is_dir():
            raise DicomError(f"{p}: {'not a regular file or folder' if p.exists() else 'no such file or folder'}")
        out: list[Path] = []
        for dirpath, dirnames, filenames in os.walk(p):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            # regular files only (symlinks followed): opening a named pipe or a device would block or
            # never end; a dangling link is left out like any other unreadable name
            out.extend(Path(dirpath) / f for f in sorted(filenames)
                       if not f.startswith(".") and os.path.isfile(os.path.join(dirpath, f)))
        return out
    files = [Path(f) for f in path]
    for f in files:
        if not f.is_file():
            raise DicomError(f"{f}: no such file")
    return files


def _dcmread_header(f: Path, *, force: bool = False) -> _Header:
    """The file read once with large values (pixel data) deferred; where that read fails, the
    header alone (stop_before_pixels), as discovery always read it. Raises what that read raises."""
    try:
        return _Header(f, pydicom.dcmread(f, defer_size=_DEFER_BYTES, force=force), pixels=True)
    except Exception:  # whatever the whole-file read trips on: discovery decides as it always did
        return _Header(f, pydicom.dcmread(f, stop_before_pixels=True, force=force))


def _read_header(f: Path) -> _Header | None:
    """Header of one file, or None when it is not DICOM (files without a preamble are accepted)."""
    try:
        return _dcmread_header(f)
    except InvalidDicomError:
        pass
    except Exception:  # truncated / corrupt: not readable as DICOM
        return None
    try:  # no preamble / file meta (ACR-NEMA style): only if it starts with a group 0008 / 0002 tag
        with open(f, "rb") as fh:
            head = fh.read(4)
        if head[:2] not in (b"\x08\x00", b"\x02\x00", b"\x00\x08", b"\x00\x02"):
            return None
        h = _dcmread_header(f, force=True)
    except Exception:
        return None
    ds = h.ds
    try:
        if "Rows" in ds and "Columns" in ds and int(ds.Rows) > 0 and ("SOPClassUID" in ds or "Modality" in ds):
            return h
    except Exception:
        return None
    return None


def _floats(v, n: int) -> tuple[float, ...] | None:
    """``n`` finite numbers from a multi-valued element, or None (absent, unparsable, NaN/inf, wrong count)."""
    try:
        out = tuple(float(x) for x in v)
    except Exception:
        return None
    return out if len(out) == n and all(np.isfinite(out)) else None


def _first(seq_item_parent: pydicom.Dataset, seq: str, key: str):
    if seq in seq_item_parent and len(seq_item_parent[seq].value):
        return seq_item_parent[seq].value[0].get(key)
    return None


def _enhanced_value(ds: pydicom.Dataset, seq: str, key: str, frame: int | None = None):
    """A value from the per-frame (preferred) or shared functional group of an enhanced object."""
    if frame is not None and "PerFrameFunctionalGroupsSequence" in ds:
        fg = ds.PerFrameFunctionalGroupsSequence[frame]
        v = _first(fg, seq, key)
        if v is not None:
            return v
    if "SharedFunctionalGroupsSequence" in ds:
        v = _first(ds.SharedFunctionalGroupsSequence[0], seq, key)
        if v is not None:
            return v
    if frame is None and "PerFrameFunctionalGroupsSequence" in ds and len(ds.PerFrameFunctionalGroupsSequence):
        return _first(ds.PerFrameFunctionalGroupsSequence[0], seq, key)
    return None


def _cut_short(ds: pydicom.Dataset) -> bool:
    """A DICOM file without an image that is probably a truncated CT slice, not a report, a plan or a DICOMDIR: it
    says it is a CT image (SOP class or Modality), or it says nothing at all beyond a file meta without a class."""
    meta = getattr(ds, "file_meta", None) or {}
    sop = str(ds.get("SOPClassUID", "") or meta.get("MediaStorageSOPClassUID", "") or "")
    if sop:
        return sop.startswith("1.2.840.10008.5.1.4.1.1.2")  # CT Image Storage (and enhanced / legacy CT)
    return str(ds.get("Modality", "")) == "CT" or "Modality" not in ds


def _is_enhanced(ds: pydicom.Dataset) -> bool:
    return str(ds.get("SOPClassUID", "")) == ENHANCED_CT_SOP or (
        "PerFrameFunctionalGroupsSequence" in ds and int(ds.get("NumberOfFrames", 1) or 1) > 1)


def _geometry(ds: pydicom.Dataset, enhanced: bool | None = None):
    """(orientation, pixel spacing, thickness) of a classic or enhanced header (None where absent)."""
    if _is_enhanced(ds) if enhanced is None else enhanced:
        o = _enhanced_value(ds, "PlaneOrientationSequence", "ImageOrientationPatient")
        ps = _enhanced_value(ds, "PixelMeasuresSequence", "PixelSpacing")
        th = _enhanced_value(ds, "PixelMeasuresSequence", "SliceThickness")
    else:
        o, ps, th = ds.get("ImageOrientationPatient"), ds.get("PixelSpacing"), ds.get("SliceThickness")
    orient = _floats(o, 6) if o is not None else None
    spacing = _floats(ps, 2) if ps is not None else None
    try:
        thick = float(th) if th not in (None, "") else None
    except (TypeError, ValueError):
        thick = None
    return orient, spacing, thick


def _normal(orient: Sequence[float]) -> np.ndarray:
    o = np.asarray(orient, float)
    n = np.cross(o[:3], o[3:])
    norm = np.linalg.norm(n)
    if norm < 1e-6:
        raise DicomError(f"degenerate ImageOrientationPatient {list(orient)}")
    n = n / norm
    return -n if n[2] < 0 else n  # point to the head: ascending z = inferior -> superior


def _positions(ds: pydicom.Dataset, enhanced: bool | None = None) -> list[tuple[float, float, float] | None]:
    if _is_enhanced(ds) if enhanced is None else enhanced:
        n = int(ds.get("NumberOfFrames", 1) or 1)
        return [_floats(_enhanced_value(ds, "PlanePositionSequence", "ImagePositionPatient", i) or (), 3)
                for i in range(n)]
    p = ds.get("ImagePositionPatient")
    return [_floats(p, 3) if p is not None else None]


def _image_type(ds: pydicom.Dataset) -> list[str]:
    it = ds.get("ImageType") or ds.get("FrameType") or []
    if isinstance(it, str):
        it = it.split("\\")
    return [str(x).upper() for x in it]


def _discover(path: str | Path | Sequence[Path]) -> tuple[list[SeriesInfo], dict[str, int], dict[str, list[_Header]]]:
    files = _iter_files(path)
    counts: dict = {"files": len(files), "non_dicom": 0, "no_image": 0, "non_dicom_files": []}
    groups: dict[tuple, list[_Header]] = {}
    for f in files:
        h = _read_header(f)
        if h is None:
            counts["non_dicom"] += 1
            counts["non_dicom_files"].append(f)  # judged once the series is chosen (_suspect_files)
            log.debug("%s: not DICOM, skipped", f)
            continue
        ds = h.ds
        if "Rows" not in ds or "Columns" not in ds:
            counts["no_image"] += 1  # structured reports, RT plans, DICOMDIR ...
            if _cut_short(ds):  # ... or a slice whose header was cut short: judged like an unreadable file
                counts["non_dicom_files"].append(f)
            continue
        h.enhanced = _is_enhanced(ds)
        h.positions = _positions(ds, h.enhanced)
        orient, spacing, thick = _geometry(ds, h.enhanced)
        uid = str(ds.get("SeriesInstanceUID", "") or "") or None
        geom = (tuple(round(v, 3) for v in orient) if orient else None, int(ds.Rows), int(ds.Columns),
                tuple(round(v, 4) for v in spacing) if spacing else None, thick)
        # UID where present; COCA's non-gated files carry none: then the folder defines the series.
        base = ("uid", uid) if uid else ("folder", str(f.parent))
        key = (*base, *geom, h.enhanced and str(f))  # each enhanced file is its own series
        groups.setdefault(key, []).append(h)
    infos: list[SeriesInfo] = []
    members: dict[str, list[_Header]] = {}
    used_keys: set[str] = set()
    for key, hs in groups.items():
        ds0 = hs[0].ds
        enhanced = hs[0].enhanced
        orient, spacing, thick = _geometry(ds0, enhanced)
        frames = sum(int(h.ds.get("NumberOfFrames", 1) or 1) for h in hs) if enhanced else len(hs)
        folder = Path(os.path.commonpath([str(h.path.parent) for h in hs]))
        modality = str(ds0.get("Modality", "") or "")
        number = ds0.get("SeriesNumber")
        desc = str(ds0.get("SeriesDescription", "") or "")
        reason = ""
        itype = _image_type(ds0)
        pos = [p for h in hs for p in h.positions if p is not None]
        if modality and modality != "CT":
            reason = f"modality {modality}, not CT"
        elif "LOCALIZER" in itype or "SCOUT" in desc.upper() or "TOPOGRAM" in desc.upper():
            reason = "localizer/scout"
        elif orient is None or not pos:
            reason = "no ImageOrientationPatient/ImagePositionPatient"
        elif abs(_normal(orient)[2]) < _AXIAL_MIN_NORMAL_Z:
            reason = "not axial (sagittal/coronal/oblique)"
        elif spacing is None or min(spacing) <= 0:  # areas in mm^2 need it: never assume 1 mm
            reason = f"no valid PixelSpacing ({ds0.get('PixelSpacing')!r} in {hs[0].path.name})"
        z_extent = 0.0
        if orient is not None and pos:
            z = np.asarray(pos) @ _normal(orient)
            z_extent = float(z.max() - z.min())
        label = (f"uid-{short_hash(str(ds0.get('SeriesInstanceUID')))}" if key[0] == "uid" else str(folder))
        if enhanced:
            label = str(hs[0].path)
        k = label
        i = 2
        while k in used_keys:  # same UID/folder split by geometry: make keys unique
            k = f"{label}#{i}"
            i += 1
        used_keys.add(k)
        info = SeriesInfo(key=k, folder=folder, files=[h.path for h in hs], frames=frames,
                          series_uid=str(ds0.get("SeriesInstanceUID")) if "SeriesInstanceUID" in ds0 else None,
                          series_number=int(number) if number not in (None, "") else None,
                          description=desc, modality=modality or "?",
                          orientation=tuple(orient) if orient else (), rows=int(ds0.Rows),
                          columns=int(ds0.Columns), pixel_spacing_mm=tuple(spacing) if spacing else (1.0, 1.0),
                          thickness_mm=thick, z_extent_mm=z_extent, enhanced=enhanced,
                          usable=not reason and frames >= 2, reason=reason or ("" if frames >= 2 else "fewer than 2 slices"),
                          subject=_subject(ds0))
        infos.append(info)
        members[k] = hs
    infos.sort(key=lambda s: s.key)
    return infos, counts, members


def find_series(path: str | Path | Sequence[Path]) -> list[SeriesInfo]:
    """Group the image files under ``path`` into series (headers only) and report each group.

    Grouping: SeriesInstanceUID where present, else the folder (COCA non-gated files have no UID),
    split further by orientation, matrix size, pixel spacing and slice thickness; every enhanced
    multi-frame file is a series of its own. Non-CT, localizer and non-axial groups are listed with
    ``usable=False`` and a reason.
    """
    return _discover(path)[0]


def choose_series(infos: Sequence[SeriesInfo], *, series: str | None = None) -> SeriesInfo:
    """The series ``read_series`` reads.

    Rule: among usable series, the one with the largest z extent, then the most slices; remaining
    ties go to the smallest key. ``series`` overrides the rule: an integer is an index into the list
    ``find_series`` gives (and the messages show as ``[i]``); anything else matches a key, a
    SeriesInstanceUID, its short hash, a SeriesDescription or a folder name (exactly one series must match).
    """
    if series is not None:
        series = str(series).strip()
        if re.fullmatch(r"\d+", series):
            if int(series) >= len(infos):
                raise DicomError(f"series index {series}: only {len(infos)} series found: {series_listing(infos)}")
            return infos[int(series)]
        hits = [s for s in infos if series in (s.key, s.series_uid, s.description, s.folder.name, str(s.folder))
                or (s.series_uid and series == short_hash(s.series_uid))]
        if len(hits) != 1:
            shown = series if not re.fullmatch(r"[\d.]{20,}", series) else f"uid-{short_hash(series)}"
            raise DicomError(f"series {shown!r}: {len(hits)} series match; found: {series_listing(infos)}")
        return hits[0]
    usable = [s for s in infos if s.usable]
    if not usable:
        detail = "; ".join(s.summary() for s in infos) or "no DICOM image files"
        raise DicomError(f"no usable axial CT series ({detail})")
    return sorted(usable, key=lambda s: (-round(s.z_extent_mm, 1), -s.frames, s.key))[0]


def series_listing(infos: Sequence[SeriesInfo]) -> str:
    """The series as ``--series`` names them: "[0] <summary>; [1] ..." (keys hash the UIDs)."""
    return "; ".join(f"[{i}] {s.summary()}" for i, s in enumerate(infos))


def _other_series_check(where: str, infos: Sequence[SeriesInfo], info: SeriesInfo) -> list[str]:
    """Other plausible chest series beside the chosen one (usable axial CT): refused when they come from another
    patient or study (a folder mixing two patients must not be scored as whichever the rule picks); a warning
    when they are the same patient's (another reconstruction). Only when the rule chose (no ``series=``)."""
    others = [s for s in infos if s.usable and s.key != info.key]
    if not others:
        return []
    subjects = {s.subject for s in (info, *others) if s.subject}
    if len(subjects) > 1:
        raise DicomError(f"{where}: series of {len(subjects)} different patients/studies (PatientID or "
                         f"StudyInstanceUID differ) in one folder: {series_listing(infos)}; choose one with "
                         "--series INDEX (series=)")
    index = list(infos).index(info)
    return [f"{len(others)} other usable series in the folder; scored [{index}] ({info.frames} slices, largest z "
            f"extent); choose another with --series INDEX"]


def _skeleton(name: str) -> str:
    return re.sub(r"\d", "0", name)


def _suspect_files(files: Sequence[Path], chosen: Sequence[Path]) -> list[Path]:
    """Unreadable files that look like slices of the chosen series: beside its files, with the same suffix (or,
    without one, the same name pattern, digits aside), or starting like DICOM. An empty, zero-filled or
    header-truncated slice file is not DICOM to the reader, and silently dropping it shortens the scan (the
    heart can fall out of it); a README or an XML beside the series is not one of them."""
    folders = {f.parent for f in chosen}
    suffixes = {f.suffix.lower() for f in chosen if f.suffix}
    skeletons = {_skeleton(f.name) for f in chosen}
    out = []
    for f in files:
        if f.parent not in folders:
            continue
        if (f.suffix and f.suffix.lower() in suffixes) or _skeleton(f.name) in skeletons:
            out.append(f)
            continue
        try:
            with open(f, "rb") as fh:
                head = fh.read(132)
        except OSError:
            out.append(f)
            continue
        if head[128:132] == b"DICM":
            out.append(f)
    return out


def _unreadable_check(where: str, counts: dict, chosen: Sequence[Path], unreadable: str) -> list[str]:
    """Refuse a series with unreadable slice-like files (``unreadable="refuse"``) or name them in a warning
    (``"skip"``)."""
    bad = _suspect_files(counts.get("non_dicom_files", []), chosen)
    if not bad:
        return []
    names = ", ".join(f.name for f in bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
    what = f"{len(bad)} file(s) that look like slices of this series cannot be read as DICOM (empty, truncated or " \
           f"damaged): {names}"
    if unreadable == "refuse":
        raise DicomError(f"{where}: {what}; the scan would be scored without them; repair them, or score without "
                         "them with --skip-unreadable (unreadable='skip')")
    log.warning("%s: %s; skipped", where, what)
    return [f"{what}; scored without them"]


# ------------------------------------------------------------------ pixel reading
def _padding_mask(stored: np.ndarray, ds: pydicom.Dataset) -> np.ndarray | None:
    """Pixels equal to PixelPaddingValue (or inside PixelPaddingRangeLimit); None without padding."""
    pad = ds.get("PixelPaddingValue")
    if pad is None:
        return None
    lim = ds.get("PixelPaddingRangeLimit")
    if lim is not None:
        lo, hi = sorted((int(pad), int(lim)))
        return (stored >= lo) & (stored <= hi)
    return stored == int(pad)


def _rescale(slope, intercept, where: object = "") -> tuple[float, float]:
    """(slope, intercept) as floats (1, 0 where absent); DicomError naming ``where`` for a value that is
    not a finite number or a zero slope (a corrupt header would otherwise give NaN HU or a bare float() error)."""
    try:
        out = (float(slope) if slope not in (None, "") else 1.0,
               float(intercept) if intercept not in (None, "") else 0.0)
    except (TypeError, ValueError):
        out = (np.nan, np.nan)
    if not (np.isfinite(out[0]) and np.isfinite(out[1])) or out[0] == 0:
        raise DicomError(f"{where}: RescaleSlope {slope!r} / RescaleIntercept {intercept!r} are not usable "
                         "(need finite numbers, slope non-zero)")
    return out


def _to_hu(stored: np.ndarray, ds: pydicom.Dataset, slope, intercept, out: np.ndarray) -> None:
    """HU of one frame into ``out`` (float32): stored * slope + intercept, padding -> air, floor air."""
    slope, intercept = _rescale(slope, intercept, getattr(ds, "filename", None) or "DICOM file")
    out[...] = stored
    if slope != 1.0:
        out *= np.float32(slope)
    if intercept != 0.0:
        out += np.float32(intercept)
    mask = _padding_mask(stored, ds)
    if mask is not None:
        out[mask] = AIR_HU
    np.maximum(out, np.float32(AIR_HU), out=out)


def _to_hu_int16(stored: np.ndarray, ds: pydicom.Dataset, slope, intercept, out: np.ndarray) -> bool:
    """``_to_hu`` in integers, into ``out`` (int16), where that is exact; False (``out`` untouched) where not.

    Exact when the stored values are integers of <= 16 bits, the slope is 1 and the intercept an
    integer in int16 range: every float32 value ``_to_hu`` computes is then an integer below 2**24
    (exactly representable), and the same sums in integers give the same numbers, provided none
    exceeds 32767 (checked). The sum is taken in int16: two's complement wraps modulo 2**16, so
    it is exact whenever the true sums lie in int16 range, which the stored min/max tell.
    """
    slope, intercept = _rescale(slope, intercept, getattr(ds, "filename", None) or "DICOM file")
    if (stored.dtype.kind not in "iu" or stored.dtype.itemsize > 2 or slope != 1.0
            or intercept != int(intercept) or not -32768 <= intercept <= 32767 or stored.size == 0):
        return False
    icpt = int(intercept)
    lo, hi = int(stored.min()) + icpt, int(stored.max()) + icpt
    if hi > np.iinfo(np.int16).max:
        return False
    if lo < np.iinfo(np.int16).min:  # sums under int16 range: in int32, floored to air (as below)
        out[...] = np.maximum(stored.astype(np.int32) + icpt, int(AIR_HU))
    else:
        np.add(stored, np.int16(icpt), out=out, dtype=np.int16, casting="unsafe")
    mask = _padding_mask(stored, ds)
    if mask is not None:
        out[mask] = int(AIR_HU)
    if lo < AIR_HU:
        np.maximum(out, np.int16(AIR_HU), out=out)
    return True


def _native_pixels(ds: pydicom.Dataset) -> np.ndarray | None:
    """Stored values of an uncompressed little-endian, 16-bit, single-sample, single-frame image
    read straight from its PixelData bytes; None for any other image (pydicom decodes those).

    The same array pydicom's pixel_array gives for such an image (its native decoder is
    np.frombuffer, then a shift left and back when BitsStored < BitsAllocated, which clears or
    sign-extends the unused high bits), without pydicom's per-call setup and validation, which
    cost more than the data itself on a 512 x 512 slice (about 0.3 ms a slice, 20 ms a scan).
    Anything unusual (other syntaxes, a PixelData length that is not exactly rows x columns x 2,
    missing attributes) goes to pydicom, with its own checks and messages.
    """
    try:
        if (ds.file_meta.get("TransferSyntaxUID") not in (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
                or "PixelData" not in ds or ds.get("BitsAllocated") != 16 or ds.get("SamplesPerPixel") != 1
                or ds.get("NumberOfFrames") not in (None, "", 1, "1")
                or ds.get("PhotometricInterpretation") not in ("MONOCHROME1", "MONOCHROME2")
                or ds.get("PixelRepresentation") not in (0, 1)):
            return None
        bits, rows, cols = int(ds.BitsStored), int(ds.Rows), int(ds.Columns)
        data = ds.PixelData
    except Exception:
        return None
    if not 1 <= bits <= 16 or rows < 1 or cols < 1 or not isinstance(data, bytes) or len(data) != rows * cols * 2:
        return None
    arr = np.frombuffer(data, "<i2" if ds.PixelRepresentation == 1 else "<u2").reshape(rows, cols)
    if bits < 16:  # as pydicom: (x << unused) >> unused, logical for unsigned, arithmetic for signed
        arr = np.left_shift(arr, 16 - bits)
        np.right_shift(arr, 16 - bits, out=arr)
    return arr


def _load(h: _Header, counts: dict[str, int], *, native: bool = False) -> tuple[pydicom.Dataset, np.ndarray] | None:
    """(dataset, stored pixel array) of one file; None for a header-only stub (counted).

    native: plain uncompressed 16-bit images are read by ``_native_pixels`` instead of pydicom.
    """
    path = h.path
    if h.pixels:  # read whole at discovery, pixel data deferred: read it now, once
        ds = h.ds
        try:
            for kw in ("PixelData", "FloatPixelData"):
                if kw in ds:
                    ds[kw]  # the deferred read
        except Exception as exc:
            raise DicomError(f"{path}: cannot read: {exc}") from exc
    else:
        try:
            ds = pydicom.dcmread(path, force=True)
        except Exception as exc:
            raise DicomError(f"{path}: cannot read: {exc}") from exc
    if "TransferSyntaxUID" not in ds.file_meta:  # file without meta header: use the encoding read
        implicit, little = ds.original_encoding
        ds.file_meta.TransferSyntaxUID = (ImplicitVRLittleEndian if implicit else
                                          ExplicitVRLittleEndian if little else ExplicitVRBigEndian)
    if "PixelData" not in ds and "FloatPixelData" not in ds:
        counts["stubs"] = counts.get("stubs", 0) + 1  # header-only stub: skipped and counted
        log.debug("%s: header-only stub, skipped", path)
        return None
    try:
        arr = _native_pixels(ds) if native else None
        if arr is None:  # what ds.pixel_array computes, without caching the array on the dataset
            arr = pixel_array(ds)
    except Exception as exc:
        raise DicomError(f"{path}: cannot decode pixel data ({ds.file_meta.TransferSyntaxUID}): {exc}") from exc
    if h.pixels:  # the encoded bytes are decoded: free them (the dataset lives on for the header)
        for kw in ("PixelData", "FloatPixelData"):
            if kw in ds:
                del ds[kw]
    return ds, arr


def _read_stack(info: SeriesInfo, headers: list[_Header], normal: np.ndarray, counts: dict[str, int],
                *, exact_int16: bool = False) -> tuple[np.ndarray, np.ndarray, list[Path]]:
    """(hu (n, rows, cols) float32, positions (n, 3), files) sorted by position along ``normal``.

    Classic series are sorted from their headers first and decoded straight into one preallocated
    array (no per-slice copies); stubs found while decoding are dropped afterwards. exact_int16:
    a classic series whose HU values are all integers in int16 range (``_to_hu_int16``) comes
    back as int16 with the same values (no float32 stack); any other comes back float32.
    """
    if info.enhanced:
        frames, pos, files = [], [], []
        for h in headers:
            got = _load(h, counts)
            if got is None:
                continue
            ds, arr = got
            n = int(ds.get("NumberOfFrames", 1) or 1)
            arr = arr.reshape(n, int(ds.Rows), int(ds.Columns))
            for i, p in enumerate(_positions(ds)):
                if p is None:
                    raise DicomError(f"{h.path}: frame {i} has no usable ImagePositionPatient "
                                     "(absent, or not 3 finite numbers)")
                slope = _enhanced_value(ds, "PixelValueTransformationSequence", "RescaleSlope", i)
                inter = _enhanced_value(ds, "PixelValueTransformationSequence", "RescaleIntercept", i)
                if slope is None and inter is None:
                    slope, inter = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
                hu = np.empty(arr.shape[1:], np.float32)
                _to_hu(arr[i], ds, slope, inter, hu)
                frames.append(hu)
                pos.append(p)
                files.append(h.path)
        if not frames:
            return np.zeros((0, info.rows, info.columns), np.float32), np.zeros((0, 3)), []
        pos_a = np.asarray(pos, float)
        order = np.argsort(pos_a @ normal, kind="stable")
        return np.stack([frames[i] for i in order]), pos_a[order], [files[i] for i in order]
    pos_h = []
    for h in headers:
        p = (h.positions if h.positions is not None else _positions(h.ds))[0]
        if p is None:
            raise DicomError(f"{h.path}: no usable ImagePositionPatient (absent, or not 3 finite numbers)")
        pos_h.append(p)
    pos_a = np.asarray(pos_h, float)
    order = np.argsort(pos_a @ normal, kind="stable")
    shape = (len(headers), info.rows, info.columns)
    hu = np.empty(shape, np.int16 if exact_int16 else np.float32)
    keep = np.ones(len(headers), bool)
    for slot, i in enumerate(order):
        h = headers[i]
        got = _load(h, counts, native=exact_int16)
        if got is None:
            keep[slot] = False
            continue
        ds, arr = got
        if arr.shape != hu.shape[1:]:
            raise DicomError(f"{h.path}: pixel array of shape {arr.shape}, expected {hu.shape[1:]} like the series")
        slope, inter = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
        if hu.dtype == np.int16:
            if _to_hu_int16(arr, ds, slope, inter, hu[slot]):
                continue
            # not exact in int16 (a slope, a fractional intercept, a value over 32767): the float
            # stack from here on; the slices already read convert exactly
            hu = hu.astype(np.float32)
        _to_hu(arr, ds, slope, inter, hu[slot])
    files = [headers[i].path for i in order]
    if not keep.all():
        hu = hu[keep]
        files = [f for f, k in zip(files, keep) if k]
    return hu, pos_a[order][keep], files


# ------------------------------------------------------------------ geometry
def _canonical_inplane(hu: np.ndarray, orient: np.ndarray, origin_pos: np.ndarray,
                       spacing_yx: tuple[float, float]):
    """Flip/transpose an axis-aligned in-plane orientation to row=+x, column=+y.

    Returns (hu, orientation, positions shift per slice (3,), spacing_yx). Oblique orientations are
    returned unchanged.
    """
    r, c = orient[:3], orient[3:]
    ar, ac = int(np.argmax(np.abs(r))), int(np.argmax(np.abs(c)))
    if abs(r[ar]) < 0.999 or abs(c[ac]) < 0.999 or {ar, ac} != {0, 1}:
        return hu, orient, np.zeros(3), spacing_yx
    dy, dx = spacing_yx
    shift = np.zeros(3)
    if ar == 1:  # rows run along patient y: transpose so that rows run along x
        hu = hu.swapaxes(1, 2)
        r, c = c, r
        dy, dx = dx, dy
    n_y, n_x = hu.shape[1], hu.shape[2]
    if r[0] < 0:
        hu = hu[:, :, ::-1]
        shift += r * dx * (n_x - 1)
        r = -r
    if c[1] < 0:
        hu = hu[:, ::-1, :]
        shift += c * dy * (n_y - 1)
        c = -c
    return np.ascontiguousarray(hu), np.concatenate([r, c]), shift, (dy, dx)


def _resample_tilt(hu: np.ndarray, pos: np.ndarray, orient: np.ndarray, spacing_yx: tuple[float, float],
                   where: str) -> tuple[np.ndarray, np.ndarray, float]:
    """Resample a gantry-tilted (sheared) stack onto an axis-aligned grid with scipy.ndimage.

    Voxel (k, j, i) of the input sits at pos[0] + k*step + j*dy*c + i*dx*r. The output grid has
    axes +z, +y, +x (dz = step along z, same dy, dx), covering the input's bounding box.
    """
    from scipy import ndimage

    r, c = orient[:3], orient[3:]
    dy, dx = spacing_yx
    step = (pos[-1] - pos[0]) / (len(pos) - 1)
    dz = abs(step[2])
    if dz < 1e-6:
        raise DicomError(f"{where}: gantry tilt with no table movement along z; cannot resample")
    m = np.column_stack([step, dy * c, dx * r])  # patient = pos0 + m @ (k, j, i)
    nz, ny, nx = hu.shape
    corners = np.array([[k, j, i] for k in (0, nz - 1) for j in (0, ny - 1) for i in (0, nx - 1)], float)
    pts = pos[0] + corners @ m.T
    lo, hi = pts.min(0), pts.max(0)
    out_shape = (nz, int(np.ceil((hi[1] - lo[1]) / dy)) + 1, int(np.ceil((hi[0] - lo[0]) / dx)) + 1)
    out_origin = np.array([lo[0], lo[1], pos[:, 2].min()])
    # output index (k', j', i') -> patient = out_origin + (i' dx, j' dy, k' dz) -> input index
    out_m = np.array([[0, 0, dx], [0, dy, 0], [dz, 0, 0]], float)  # patient (x,y,z) from (k', j', i')
    inv = np.linalg.inv(m)
    matrix = inv @ out_m
    offset = inv @ (out_origin - pos[0])
    res = ndimage.affine_transform(hu, matrix, offset=offset, output_shape=out_shape, order=1,
                                   mode="constant", cval=AIR_HU).astype(np.float32)
    positions = np.array([out_origin + [0, 0, k * dz] for k in range(nz)])
    return res, positions, dz


def _resample_z_uniform(hu: np.ndarray, z: np.ndarray, dz: float) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation along z from sorted positions ``z`` onto a uniform grid with step dz."""
    n = int(np.floor((z[-1] - z[0]) / dz + 1e-6)) + 1
    zt = z[0] + dz * np.arange(n)
    idx = np.clip(np.searchsorted(z, zt, side="right") - 1, 0, len(z) - 2)
    w = ((zt - z[idx]) / (z[idx + 1] - z[idx])).astype(np.float32)[:, None, None]
    out = hu[idx] * (1 - w) + hu[idx + 1] * w
    return out.astype(np.float32), zt


def read_series(path: str | Path | Sequence[Path], *, series: str | None = None,
                on_gap: str = "refuse", exact_int16: bool = False, unreadable: str = "refuse") -> Volume:
    """Read one CT series from a folder (recursive), a file or a list of files into a Volume.

    series: override the choice rule of ``choose_series`` (index, key, UID or its short hash, description,
        folder).
    on_gap: "refuse" (default) raises DicomError when a gap between slices exceeds 1.5 x the
        median spacing (missing slices); "interpolate" fills it by linear interpolation.
    exact_int16: allow ``hu`` to be int16 instead of float32 where that holds exactly the same
        values: a classic (not enhanced) series with slope 1, integral intercepts, no value over
        32767 and no resampling (tilt, uneven spacing, gap). Saves the float32 stack (the cohort
        cache's fast path); every other series comes back float32 as usual.
    unreadable: "refuse" (default) raises DicomError when files that look like slices of the chosen series
        cannot be read (empty, zero-filled, truncated); "skip" reads the rest and names them in
        ``meta["warnings"]``.
    Other usable series beside the chosen one: refused when they belong to another patient or study, a warning in
    ``meta["warnings"]`` otherwise (see ``_other_series_check``). Raises DicomError (a ValueError) naming the path
    and the problem.
    """
    if on_gap not in ("refuse", "interpolate"):
        raise ValueError(f"on_gap must be 'refuse' or 'interpolate', got {on_gap!r}")
    if unreadable not in ("refuse", "skip"):
        raise ValueError(f"unreadable must be 'refuse' or 'skip', got {unreadable!r}")
    if not isinstance(exact_int16, bool):
        raise ValueError(f"exact_int16 must be True or False, got {exact_int16!r}")
    where = str(path) if isinstance(path, (str, os.PathLike)) else f"{len(path)} files"
    infos, counts, members = _discover(path)
    info, others = _choose(where, infos, series)
    warnings = [*_unreadable_check(where, counts, info.files, unreadable),
                *([] if series is not None else _other_series_check(where, infos, info))]
    normal = _normal(np.asarray(info.orientation, float))
    hu, pos, files = _read_stack(info, members[info.key], normal, counts, exact_int16=exact_int16)
    zproj = _checked_positions(info, files, pos @ normal)
    hu, pos, orient, spacing, corrections, tilt_deg = _regularise(info, hu, pos, files, zproj, on_gap)
    ds0 = members[info.key][0].ds
    meta = {k: _jsonable(ds0.get(k)) for k in _META_KEYS if k in ds0 and ds0.get(k) not in (None, "")}
    meta.update(series=" ".join(filter(None, [info.description, f"#{info.series_number}" if info.series_number is not None else "",
                                              f"({len(files)} slices)"])),
                series_rule="override" if series else "largest z extent, then most slices",
                other_series=len(others), files_seen=counts["files"], non_dicom_skipped=counts["non_dicom"],
                non_image_skipped=counts["no_image"], stubs_skipped=counts.get("stubs", 0),
                tilt_deg=round(tilt_deg, 3), corrections=corrections, enhanced=info.enhanced, warnings=warnings)
    kvp = ds0.get("KVP")
    return Volume(
        hu=np.ascontiguousarray(hu, dtype=np.int16 if exact_int16 and hu.dtype == np.int16 else np.float32),
        spacing_mm=spacing,
        slice_thickness_mm=info.thickness_mm,
        positions_mm=np.asarray(pos, float),
        orientation=np.asarray(orient, float),
        kvp=float(kvp) if kvp not in (None, "") else None,
        manufacturer=str(ds0.get("Manufacturer", "") or "") or None,
        contrast=_contrast(ds0),
        meta=meta,
        files=list(dict.fromkeys(files)),
    )


def _choose(where: str, infos: list[SeriesInfo], series: str | None) -> tuple[SeriesInfo, list[SeriesInfo]]:
    """The chosen series and the others, logged without identifiers."""
    try:
        info = choose_series(infos, series=series)
    except DicomError as exc:
        raise DicomError(f"{where}: {exc}") from None
    others = [s for s in infos if s.key != info.key]
    # UIDs are identifiers under DICOM de-identification: INFO names the series by slice count and
    # folder only. INFO only when there was a choice to make; one series per folder is the routine case
    log.log(logging.INFO if others or series else logging.DEBUG,
            "%s: series of %d slices in %s chosen (%s)%s", where, info.frames, info.folder.name,
            "override" if series else "largest z extent",
            f"; {len(others)} other group(s) skipped" if others else "")
    log.debug("%s: chosen key %s; others: %s", where, info.key, "; ".join(s.summary() for s in others))
    return info, others


def _checked_positions(info: SeriesInfo, files: list[Path], zproj: np.ndarray) -> np.ndarray:
    """The slices' positions along the normal, refused when fewer than 2 or when two share one (two series
    mixed)."""
    if len(files) < 2:
        raise DicomError(f"{info.folder}: series {info.key} has {len(files)} slice(s) with pixel data; need >= 2")
    dup = np.flatnonzero(np.diff(zproj) < 1e-3)
    if len(dup):
        a, b = files[dup[0]], files[dup[0] + 1]
        raise DicomError(f"{info.folder}: {len(dup)} slice(s) share a position with another "
                         f"(e.g. {a.name} and {b.name} at {zproj[dup[0]]:.2f} mm): two series mixed? "
                         f"choose one with --series INDEX (series=)")
    return zproj


def _regularise(info: SeriesInfo, hu: np.ndarray, pos: np.ndarray, files: list[Path], zproj: np.ndarray,
                on_gap: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, float, float], list[str], float]:
    """The stack on a uniform, axis-aligned grid: gaps refused or interpolated, uneven spacing and gantry tilt
    resampled, in-plane flips undone. Returns (hu, positions, orientation, (dz, dy, dx), corrections, tilt)."""
    orient = np.asarray(info.orientation, float)
    normal = _normal(orient)
    dy, dx = info.pixel_spacing_mm
    corrections: list[str] = []
    steps = np.diff(zproj)
    med = float(np.median(steps))
    gaps = np.flatnonzero(steps > _GAP_FACTOR * med)
    if len(gaps):
        g = gaps[0]
        msg = (f"{info.folder}: missing slices: {len(gaps)} gap(s), e.g. {steps[g]:.2f} mm between "
               f"{files[g].name} and {files[g + 1].name} (median spacing {med:.2f} mm, "
               f"limit {_GAP_FACTOR} x median)")
        if on_gap == "refuse":
            raise DicomError(msg + "; use --on-gap interpolate (on_gap='interpolate') to resample across it")
        log.warning("%s; interpolated", msg)
        corrections.append(f"gap interpolated ({len(gaps)})")
    # gantry tilt: the slice step is not parallel to the slice normal
    step_dir = (pos[-1] - pos[0]) / np.linalg.norm(pos[-1] - pos[0])
    tilt_deg = float(np.degrees(np.arccos(np.clip(abs(step_dir @ normal), -1, 1))))
    tilted = tilt_deg > _TILT_TOLERANCE_DEG
    irregular = bool(len(gaps)) or bool(np.any(np.abs(steps - med) > _UNEVEN_TOLERANCE * med))  # gaps or uneven
    if (tilted or irregular) and hu.dtype != np.float32:
        hu = hu.astype(np.float32)  # resampling works on the float stack (same values)
    if tilted:
        if irregular:
            hu, zu = _resample_z_uniform(hu, zproj, med)
            pos = pos[0] + np.outer((zu - zu[0]) / (zproj[-1] - zproj[0]), pos[-1] - pos[0])
        log.warning("%s: gantry tilt %.1f deg corrected by resampling to an axis-aligned grid", info.folder, tilt_deg)
        hu, pos, dz = _resample_tilt(hu, pos, orient, (dy, dx), str(info.folder))
        orient = np.array([1.0, 0, 0, 0, 1.0, 0])
        corrections.append(f"gantry tilt {tilt_deg:.1f} deg resampled")
    else:
        dz = med
        if irregular:
            if not len(gaps):
                log.warning("%s: uneven slice spacing (%.2f-%.2f mm) resampled to %.2f mm",
                            info.folder, steps.min(), steps.max(), med)
                corrections.append(f"uneven spacing {steps.min():.2f}-{steps.max():.2f} mm resampled")
            hu, zu = _resample_z_uniform(hu, zproj, med)
            pos = pos[0] + np.outer(zu - zu[0], normal)
        hu, orient, shift, (dy, dx) = _canonical_inplane(hu, orient, pos[0], (dy, dx))
        pos = pos + shift
    return hu, pos, orient, (float(dz), float(dy), float(dx)), corrections, tilt_deg


def _contrast(ds: pydicom.Dataset) -> bool:
    agent = str(ds.get("ContrastBolusAgent", "") or "").strip().upper()
    if agent and agent not in ("NONE", "NO", "N", "0", "NO CONTRAST", "NON-CONTRAST"):
        return True
    usage = _enhanced_value(ds, "ContrastBolusUsageSequence", "ContrastBolusAgentAdministered") if _is_enhanced(ds) else None
    return str(usage or "").upper() == "YES"


def _jsonable(v):
    if isinstance(v, pydicom.multival.MultiValue) or isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    if isinstance(v, str):
        return str(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)
