"""Score one CT (DICOM series folder or NIfTI file) with a label volume file (NIfTI or .npy): what
``cacscore score`` runs. Both are read through the one door, :mod:`cacscore.io.ct` (axis conventions there)."""

from __future__ import annotations

from pathlib import Path

from cacscore.io.ct import ScanFileError, read_ct, read_labels
from cacscore.scoring.agatston import AgatstonResult, agatston


def score_files(ct_path: str | Path, labels_path: str | Path, **options) -> AgatstonResult:
    """Agatston score of a CT file/folder with a label file; ``options`` go to cacscore.scoring.agatston.agatston."""
    ct = read_ct(ct_path)
    labels = read_labels(labels_path)
    if labels.shape != ct.hu.shape:
        raise ScanFileError(f"{labels_path}: label volume shape {labels.shape} (z, y, x) does not match the "
                            f"CT's shape {ct.hu.shape} from {ct_path}")
    dz, py, px = (float(v) for v in ct.spacing_mm)
    thick = ct.slice_thickness_mm if ct.slice_thickness_mm and ct.slice_thickness_mm > 0 else None
    try:
        return agatston(ct.hu, labels, pixel_spacing_mm=(py, px), slice_spacing_mm=abs(dz),
                        slice_thickness_mm=thick, **options)
    except ValueError as exc:
        raise ScanFileError(f"{ct_path} with {labels_path}: {exc}") from None
