"""Tiny DICOM / COCA-like fixtures written with pydicom (invented values, 32-64 px images).

Every slice carries a z marker: the 4x4 block in the top-left corner holds HU = marker_hu(z_mm),
so a test can check the slice order of whatever a reader returns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

SHARED_LIDC = Path(__file__).parents[2] / "shared" / "data" / "lidc-idri-0002"


def marker_hu(z_mm: float) -> float:
    return 100.0 + 2.0 * z_mm


def chest_slice(n: int, z_mm: float) -> np.ndarray:
    """(n, n) HU: air outside, body ellipse (40 HU), two lungs (-850 HU), z marker block."""
    yy, xx = np.mgrid[0:n, 0:n]
    c = (n - 1) / 2
    hu = np.full((n, n), -1000.0)
    body = ((yy - c) / (0.4 * n)) ** 2 + ((xx - c) / (0.45 * n)) ** 2 <= 1
    hu[body] = 40.0
    for sx in (-1, 1):
        lung = ((yy - c) / (0.25 * n)) ** 2 + ((xx - c - sx * 0.22 * n) / (0.13 * n)) ** 2 <= 1
        hu[lung] = -850.0
    hu[:4, :4] = marker_hu(z_mm)
    return hu


def write_slice(path: Path, hu: np.ndarray, *, z_mm: float, spacing_mm: float = 0.7, thickness_mm: float = 5.0,
                orientation=(1, 0, 0, 0, 1, 0), position=None, series_uid: str | None = None,
                slice_location: float | None = None, instance: int = 1, signed: bool = False,
                intercept: float = -1024.0, slope: float = 1.0, padding: int | None = None,
                pad_mask: np.ndarray | None = None, modality: str = "CT", image_type=("ORIGINAL", "PRIMARY", "AXIAL"),
                pixel_data: bool = True, extra: dict | None = None, transfer_syntax=ExplicitVRLittleEndian) -> Path:
    """Write one CT slice with HU ``hu`` (stored = (hu - intercept) / slope)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.PatientName = "Doe^Jane"
    ds.PatientID = "SECRET123"
    ds.PatientBirthDate = "19500101"
    ds.Manufacturer = "SIEMENS"
    ds.KVP = 120
    ds.ImageType = list(image_type)
    if series_uid:
        ds.SeriesInstanceUID = series_uid
    ds.InstanceNumber = instance
    ds.ImageOrientationPatient = [float(v) for v in orientation]
    ds.ImagePositionPatient = [float(v) for v in (position if position is not None else (-20.0, -20.0, z_mm))]
    if slice_location is not None:
        ds.SliceLocation = slice_location
    ds.SliceThickness = thickness_mm
    ds.PixelSpacing = [spacing_mm, spacing_mm]
    ds.Rows, ds.Columns = hu.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16 if signed else 12
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.RescaleIntercept = intercept
    ds.RescaleSlope = slope
    stored = np.rint((hu - intercept) / slope)
    if padding is not None:
        ds.PixelPaddingValue = padding
        if pad_mask is not None:
            stored[pad_mask] = padding
    if pixel_data:
        ds.PixelData = stored.astype(np.int16 if signed else np.uint16).tobytes()
    for k, v in (extra or {}).items():
        setattr(ds, k, v)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    if transfer_syntax != ExplicitVRLittleEndian:
        d2 = pydicom.dcmread(path)
        d2.compress(transfer_syntax)
        d2.save_as(path, enforce_file_format=True)
    return path


def write_series(folder: Path, n_slices: int = 8, *, size: int = 32, dz: float = 5.0, z0: float = -200.0,
                 names: str = "IM-0001-{:04d}.dcm", coca: bool = True, shuffle_seed: int | None = 0,
                 **kw) -> list[Path]:
    """A COCA-like non-gated series: no UIDs, SliceLocation = -z, InstanceNumber descending with z,
    file names in a shuffled order relative to z."""
    rng = np.random.default_rng(shuffle_seed)
    zs = z0 + dz * np.arange(n_slices)
    order = rng.permutation(n_slices) if shuffle_seed is not None else np.arange(n_slices)
    uid = None if coca else kw.pop("series_uid", generate_uid())
    kw.pop("series_uid", None)
    out = []
    for k, i in enumerate(order):
        z = float(zs[i])
        out.append(write_slice(folder / names.format(k + 1), chest_slice(size, z), z_mm=z, series_uid=uid,
                               slice_location=-z, instance=n_slices - int(i), thickness_mm=dz, **kw))
    return out


def write_coca_release(root: Path, *, size: int = 32, n_slices: int = 6) -> dict:
    """A COCA-like release with every quirk of scores.xlsx; returns the expected facts."""
    ng = root / "deidentified_nongated"
    for pid, n in (("1", n_slices), ("2", n_slices + 1), ("10", n_slices), ("103", n_slices)):
        write_series(ng / pid / pid, n, size=size, shuffle_seed=int(pid))
    (ng / ".DS_Store").write_text("junk")
    rows = [
        ["1A", 0.0, 12.5, 0.0, 3.25, 15.75],     # consistent
        ["2A", 1.0, 2.0, 3.0, 4.0, 0.0],         # total disagrees with the vessel sum (kept, flagged)
        ["10A", None, 5.0, 0.0, 0.0, 5.0],       # blank LCA cell -> NaN, not 0
        ["7A", 1.0, 1.0, 1.0, 1.0, 4.0],         # row without a folder
    ]                                            # folder 103 has no row
    df = pd.DataFrame(rows, columns=["filename ", "LCA", "LAD", "LCX", "RCA", "total"])
    df.to_excel(ng / "scores.xlsx", index=False)
    return {"ids": ["1", "2", "7", "10", "103"], "no_row": ["103"], "no_folder": ["7"], "mismatch": ["2"]}
