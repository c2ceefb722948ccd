"""DICOM series reading. MINIMAL placeholder reader (issue 2); the robust loader of issue 4 replaces it.

Contract kept by every reader here: ``read_series(path) -> Volume`` with slices sorted by
ImagePositionPatient projected on the slice normal and HU = stored * slope + intercept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom

log = logging.getLogger(__name__)


@dataclass
class Volume:
    """A CT volume in Hounsfield units.

    hu: float32 array (z, y, x), z ascending along the slice normal.
    spacing_mm: (z, y, x) spacing in mm (z = median distance between slice positions).
    positions_mm: (z, 3) ImagePositionPatient of each sorted slice.
    orientation: (6,) ImageOrientationPatient (row cosines, column cosines).
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


class DicomError(ValueError):
    """A DICOM input that cannot be read as a CT series; the message names the file and problem."""


def read_series(path: str | Path) -> Volume:
    """Read one folder holding one CT series into a Volume (minimal reader)."""
    folder = Path(path)
    if not folder.is_dir():
        raise DicomError(f"{folder}: not a folder")
    datasets = []
    for f in sorted(folder.iterdir()):
        if f.name.startswith(".") or not f.is_file():
            continue
        try:
            ds = pydicom.dcmread(f)
        except Exception:  # non-DICOM files in a series folder are common (XML, txt)
            continue
        if "PixelData" not in ds or "ImagePositionPatient" not in ds:
            continue
        datasets.append((f, ds))
    if not datasets:
        raise DicomError(f"{folder}: no DICOM image with pixel data and position found")
    orient = np.asarray(datasets[0][1].ImageOrientationPatient, dtype=float)
    normal = np.cross(orient[:3], orient[3:])
    datasets.sort(key=lambda fd: float(np.dot(normal, np.asarray(fd[1].ImagePositionPatient, float))))
    slices = []
    for f, ds in datasets:
        arr = ds.pixel_array.astype(np.float32)
        slope = float(getattr(ds, "RescaleSlope", 1.0))
        inter = float(getattr(ds, "RescaleIntercept", 0.0))
        slices.append(arr * slope + inter)
    hu = np.stack(slices)
    pos = np.array([np.asarray(ds.ImagePositionPatient, float) for _, ds in datasets])
    z = pos @ normal
    dz = float(np.median(np.diff(z))) if len(z) > 1 else float(getattr(datasets[0][1], "SliceThickness", 1.0))
    ps = [float(v) for v in datasets[0][1].PixelSpacing]
    ds0 = datasets[0][1]
    return Volume(
        hu=hu,
        spacing_mm=(dz, ps[0], ps[1]),
        slice_thickness_mm=float(ds0.SliceThickness) if "SliceThickness" in ds0 else None,
        positions_mm=pos,
        orientation=orient,
        kvp=float(ds0.KVP) if "KVP" in ds0 and ds0.KVP not in (None, "") else None,
        manufacturer=str(getattr(ds0, "Manufacturer", "")) or None,
        files=[f for f, _ in datasets],
    )
