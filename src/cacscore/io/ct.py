"""The one door for reading a CT and a label volume: a path in, a :class:`~cacscore.io.dicom.Volume` out.

A CT is a DICOM series folder (``cacscore.io.dicom.read_series``: sorted by position, rescaled to HU) or a
NIfTI file in HU. Axis conventions: everything is (z, y, x). A NIfTI array as nibabel returns it is
(x, y, z) (voxel axes i, j, k): it is transposed to (z, y, x) as is, without reorienting, and its zooms
give the spacing (pixel spacing (y, x) = (zoom_j, zoom_i), slice spacing = zoom_k). A NIfTI label volume
gets the same transform; a .npy label volume must already be (z, y, x).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cacscore.io.dicom import Volume, read_series

NIFTI_SUFFIXES: tuple[str, ...] = (".nii", ".nii.gz")


class ScanFileError(ValueError):
    """A CT or label file that cannot be used; the message names the file and the problem."""


def is_nifti(path: str | Path) -> bool:
    return Path(path).name.lower().endswith(NIFTI_SUFFIXES)


def strip_nifti(name: str) -> str:
    """A file name without its .nii / .nii.gz suffix (other names unchanged)."""
    low = name.lower()
    for suf in sorted(NIFTI_SUFFIXES, key=len, reverse=True):
        if low.endswith(suf):
            return name[: -len(suf)]
    return name


def _nifti_zyx(path: Path, *, as_float: bool) -> tuple[np.ndarray, tuple[float, float, float], np.ndarray]:
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
    return np.ascontiguousarray(arr.transpose(2, 1, 0)), (zooms[2], zooms[1], zooms[0]), np.asarray(img.affine, float)


@dataclass(frozen=True)
class ReadOptions:
    """How a DICOM folder is read (``cacscore predict`` / ``lesion-score`` options ``--series``, ``--on-gap``,
    ``--skip-unreadable``; see :func:`cacscore.io.dicom.read_series`). NIfTI files ignore them."""

    series: str | None = None
    on_gap: str = "refuse"
    unreadable: str = "refuse"


def read_ct(path: str | Path, options: ReadOptions | None = None) -> Volume:
    """Read a CT: a DICOM series folder or a NIfTI file in HU (no kVp, thickness or contrast known; its affine
    in ``meta["nifti_affine"]``). Raises DicomError / ScanFileError (ValueErrors) naming the file."""
    path = Path(path)
    if path.is_dir():
        o = options or ReadOptions()
        return read_series(path, series=o.series, on_gap=o.on_gap, unreadable=o.unreadable)
    if not path.exists():
        raise ScanFileError(f"{path}: no such file or folder")
    if not path.is_file():  # a named pipe or device: reading it would block
        raise ScanFileError(f"{path}: not a regular file or folder")
    if not is_nifti(path):
        raise ScanFileError(f"{path}: CT must be a DICOM series folder or a NIfTI file (.nii, .nii.gz)")
    hu, spacing, affine = _nifti_zyx(path, as_float=True)
    return Volume(hu=hu, spacing_mm=spacing, meta={"nifti_affine": affine.tolist()})


def read_labels(path: str | Path) -> np.ndarray:
    """Read a label volume: NIfTI (transposed to (z, y, x)) or .npy already in (z, y, x)."""
    path = Path(path)
    if not path.is_file():
        raise ScanFileError(f"{path}: no such label file")
    if is_nifti(path):
        return np.asarray(_nifti_zyx(path, as_float=False)[0])
    if path.suffix.lower() == ".npy":
        try:
            return np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise ScanFileError(f"{path}: cannot read as .npy ({exc})") from None
    raise ScanFileError(f"{path}: label volume must be NIfTI (.nii, .nii.gz) or .npy")


def label_affine(volume: Volume) -> np.ndarray:
    """The NIfTI (RAS) affine of a label array stored (x, y, z) over ``volume``: a NIfTI CT's own affine; for
    DICOM, LPS -> RAS from the spacing and the first voxel of the first (most inferior) slice, like the
    phantom's labels/<pid>.nii.gz."""
    if "nifti_affine" in volume.meta:
        return np.asarray(volume.meta["nifti_affine"], float)
    dz, py, px = (float(v) for v in volume.spacing_mm)
    aff = np.diag([-px, -py, abs(dz), 1.0])
    if volume.positions_mm is not None and len(volume.positions_mm):
        o = np.asarray(volume.positions_mm[0], float)
        aff[:3, 3] = [-o[0], -o[1], o[2]]
    return aff
