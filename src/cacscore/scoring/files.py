"""Score one CT (DICOM series folder or NIfTI file) with a label volume file (NIfTI or .npy).

Axis conventions: everything is (z, y, x). A NIfTI array as nibabel returns it is (x, y, z) (voxel
axes i, j, k): it is transposed to (z, y, x) as is, without reorienting, and its zooms give the
spacing (pixel spacing (y, x) = (zoom_j, zoom_i), slice spacing = zoom_k). A NIfTI mask gets the
same transform; a .npy mask must already be (z, y, x).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cacscore.io.dicom import read_series
from cacscore.scoring.agatston import AgatstonResult, agatston

log = logging.getLogger(__name__)

NIFTI_SUFFIXES = (".nii", ".nii.gz")


class ScanFileError(ValueError):
    """A CT or label file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class LoadedCT:
    """hu: (z, y, x) float32 HU. spacing_mm: (z, y, x) mm. slice_thickness_mm / kvp when known."""

    hu: np.ndarray
    spacing_mm: tuple[float, float, float]
    slice_thickness_mm: float | None
    kvp: float | None


def _is_nifti(path: Path) -> bool:
    return path.name.lower().endswith(NIFTI_SUFFIXES)


def _nifti_zyx(path: Path, *, as_float: bool) -> tuple[np.ndarray, tuple[float, float, float]]:
    import nibabel as nib

    try:
        img = nib.load(str(path))
        arr = np.asarray(img.get_fdata(dtype=np.float32)) if as_float else np.asanyarray(img.dataobj)
    except Exception as exc:  # nibabel raises many types for a bad file
        raise ScanFileError(f"{path}: cannot read as NIfTI ({type(exc).__name__}: {exc})") from None
    while arr.ndim > 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 3:
        raise ScanFileError(f"{path}: NIfTI image must be 3-D, got shape {arr.shape}")
    zooms = [float(v) for v in img.header.get_zooms()[:3]]
    return np.ascontiguousarray(arr.transpose(2, 1, 0)), (zooms[2], zooms[1], zooms[0])


def load_ct(path: str | Path) -> LoadedCT:
    """Read a CT: a DICOM series folder (sorted by position, rescaled) or a NIfTI file in HU."""
    path = Path(path)
    if path.is_dir():
        vol = read_series(path)
        return LoadedCT(hu=vol.hu, spacing_mm=tuple(float(v) for v in vol.spacing_mm),
                        slice_thickness_mm=vol.slice_thickness_mm, kvp=vol.kvp)
    if not path.exists():
        raise ScanFileError(f"{path}: no such file or folder")
    if not path.is_file():  # a named pipe or device: reading it would block
        raise ScanFileError(f"{path}: not a regular file or folder")
    if not _is_nifti(path):
        raise ScanFileError(f"{path}: CT must be a DICOM series folder or a NIfTI file (.nii, .nii.gz)")
    hu, spacing = _nifti_zyx(path, as_float=True)
    return LoadedCT(hu=hu, spacing_mm=spacing, slice_thickness_mm=None, kvp=None)


def load_labels(path: str | Path) -> np.ndarray:
    """Read a label volume: NIfTI (transposed to (z, y, x)) or .npy already in (z, y, x)."""
    path = Path(path)
    if not path.is_file():
        raise ScanFileError(f"{path}: no such label file")
    if _is_nifti(path):
        arr, _ = _nifti_zyx(path, as_float=False)
        return np.asarray(arr)
    if path.suffix.lower() == ".npy":
        try:
            return np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise ScanFileError(f"{path}: cannot read as .npy ({exc})") from None
    raise ScanFileError(f"{path}: label volume must be NIfTI (.nii, .nii.gz) or .npy")


def score_files(ct_path: str | Path, labels_path: str | Path, **options) -> AgatstonResult:
    """Agatston score of a CT file/folder with a label file; ``options`` go to cacscore.scoring.agatston.agatston."""
    ct = load_ct(ct_path)
    labels = load_labels(labels_path)
    if labels.shape != ct.hu.shape:
        raise ScanFileError(f"{labels_path}: label volume shape {labels.shape} (z, y, x) does not match the "
                            f"CT's shape {ct.hu.shape} from {ct_path}")
    dz, py, px = ct.spacing_mm
    thick = ct.slice_thickness_mm if ct.slice_thickness_mm and ct.slice_thickness_mm > 0 else None
    try:
        return agatston(ct.hu, labels, pixel_spacing_mm=(py, px), slice_spacing_mm=abs(dz),
                        slice_thickness_mm=thick, **options)
    except ValueError as exc:
        raise ScanFileError(f"{ct_path} with {labels_path}: {exc}") from None
