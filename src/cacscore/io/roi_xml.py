"""COCA gated calcium annotations: OsiriX/Horos ROI plists (``calcium_xml/<pid>.xml``) and polygon rasterisation.

Format (see docs/scoring.md): root dict ``Images`` -> list of per-slice dicts (``ImageIndex``, ``ROIs``);
each ROI has ``Name`` (artery), ``Area`` (cm^2), ``Max`` (HU), ``NumberOfPoints``, ``Point_px``
(list of "(col, row)" strings) and ``Point_mm`` (list of "(x, y, z)" strings).
"""

from __future__ import annotations

import logging
import plistlib
import re
import xml.parsers.expat
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.path import Path as MplPath

from cacscore.core.vessels import COCA_ARTERY_NAMES

log = logging.getLogger(__name__)

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


class RoiXmlError(ValueError):
    """An ROI file that cannot be read or used; the message names the file and the problem."""


@dataclass(frozen=True)
class PolygonRoi:
    """One polygon ROI on one slice.

    image_index: 0-based slice index in ascending z (as written in the XML).
    name: artery name as written; vessel: one of VESSELS, or None for an unknown name.
    area_cm2: the ROI's own area (cm^2). max_hu: the ROI's own maximum HU.
    points_px: (n, 2) float array of (col, row) pixel coordinates.
    points_mm: (n, 3) float array of patient (x, y, z) mm coordinates, or None when absent.
    """

    image_index: int
    name: str
    vessel: str | None
    area_cm2: float
    max_hu: float
    points_px: np.ndarray
    points_mm: np.ndarray | None

    @property
    def z_mm(self) -> float | None:
        """Median patient z of the ROI's points (mm), or None without Point_mm."""
        return None if self.points_mm is None else float(np.median(self.points_mm[:, 2]))


@dataclass(frozen=True)
class RoiFile:
    """ROIs of one annotation file.

    rois: usable polygon ROIs with a known artery name. unknown: ROIs with an unknown artery name
    (kept for reporting, never scored). n_placeholder: skipped ROIs with no points or zero area.
    """

    path: Path
    rois: tuple[PolygonRoi, ...]
    unknown: tuple[PolygonRoi, ...]
    n_placeholder: int

    @property
    def unknown_names(self) -> tuple[str, ...]:
        return tuple(sorted({r.name for r in self.unknown}))


def parse_point(text: str, n: int, *, where: str) -> tuple[float, ...]:
    """Parse "(a, b)" / "(a, b, c)" into n floats; ``where`` names the file and ROI in errors."""
    nums = _NUMBER.findall(str(text))
    if len(nums) != n:
        raise RoiXmlError(f"{where}: cannot read point {text!r} as {n} numbers")
    return tuple(float(v) for v in nums)


def _number(roi: dict, key: str, default: float, where: str) -> float:
    value = roi.get(key, default)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise RoiXmlError(f"{where}: {key} is not a number: {value!r}") from None


def read_roi_plist(path: str | Path) -> RoiFile:
    """Read one COCA gated ROI plist into polygon ROIs; placeholders and unknown names are reported."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            root = plistlib.load(fh)
    except (plistlib.InvalidFileException, xml.parsers.expat.ExpatError, ValueError) as exc:
        raise RoiXmlError(f"{path}: not a plist ROI file ({type(exc).__name__}: {exc})") from None
    if not isinstance(root, dict) or not isinstance(root.get("Images"), list):
        raise RoiXmlError(f"{path}: plist has no 'Images' list (not an OsiriX ROI export)")
    rois: list[PolygonRoi] = []
    unknown: list[PolygonRoi] = []
    n_placeholder = 0
    for k, image in enumerate(root["Images"]):
        if not isinstance(image, dict) or "ImageIndex" not in image:
            raise RoiXmlError(f"{path}: Images[{k}] has no ImageIndex")
        index = int(image["ImageIndex"])
        for j, roi in enumerate(image.get("ROIs", []) or []):
            where = f"{path}: Images[{k}] (ImageIndex {index}) ROI {j}"
            if not isinstance(roi, dict):
                raise RoiXmlError(f"{where}: not a dict")
            pts_px = roi.get("Point_px", []) or []
            area = _number(roi, "Area", 0.0, where)
            if int(roi.get("NumberOfPoints", len(pts_px)) or 0) == 0 or len(pts_px) == 0 or area == 0.0:
                n_placeholder += 1
                continue
            if len(pts_px) < 3:
                raise RoiXmlError(f"{where}: polygon has {len(pts_px)} points (needs >= 3)")
            px = np.array([parse_point(p, 2, where=where) for p in pts_px], dtype=float)
            pts_mm = roi.get("Point_mm", []) or []
            mm = np.array([parse_point(p, 3, where=where) for p in pts_mm], dtype=float) if pts_mm else None
            name = str(roi.get("Name", "")).strip()
            poly = PolygonRoi(image_index=index, name=name, vessel=COCA_ARTERY_NAMES.get(name),
                              area_cm2=area, max_hu=_number(roi, "Max", float("nan"), where),
                              points_px=px, points_mm=mm)
            (rois if poly.vessel is not None else unknown).append(poly)
    if unknown:
        log.warning("%s: %d ROI(s) with unknown artery names %s not scored",
                    path.name, len(unknown), sorted({r.name for r in unknown}))
    if n_placeholder:
        log.info("%s: skipped %d placeholder ROI(s) (no points or zero area)", path.name, n_placeholder)
    return RoiFile(path=path, rois=tuple(rois), unknown=tuple(unknown), n_placeholder=n_placeholder)


def rasterise_polygon(points_px: np.ndarray, shape: tuple[int, int], *, centre_offset_px: float = 0.0) -> np.ndarray:
    """Pixels of a (rows, cols) image whose centres lie inside a polygon.

    points_px: (n, 2) polygon vertices as (col, row). Pixel (r, c) has its centre at
    (c + centre_offset_px, r + centre_offset_px) in the polygon's coordinates (0.0: integer
    coordinates are pixel centres, as DICOM's ImagePositionPatient is the first pixel's centre).
    Only the polygon's bounding box is tested. Returns a bool (rows, cols) mask.
    """
    rows, cols = shape
    pts = np.asarray(points_px, dtype=float)
    mask = np.zeros((rows, cols), dtype=bool)
    c0 = max(int(np.floor(pts[:, 0].min() - centre_offset_px)), 0)
    c1 = min(int(np.ceil(pts[:, 0].max() - centre_offset_px)), cols - 1)
    r0 = max(int(np.floor(pts[:, 1].min() - centre_offset_px)), 0)
    r1 = min(int(np.ceil(pts[:, 1].max() - centre_offset_px)), rows - 1)
    if c1 < c0 or r1 < r0:
        return mask
    rr, cc = np.mgrid[r0:r1 + 1, c0:c1 + 1]
    centres = np.column_stack([cc.ravel() + centre_offset_px, rr.ravel() + centre_offset_px])
    inside = MplPath(pts).contains_points(centres)
    mask[r0:r1 + 1, c0:c1 + 1] = inside.reshape(rr.shape)
    return mask
