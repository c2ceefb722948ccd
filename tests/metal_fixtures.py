"""Metal planted in phantom scans for the metal-warning tests (tests/test_metal.py, test_predict.py,
test_lesion_report.py, test_lesion_cohort.py)."""

from __future__ import annotations

import numpy as np

STENT_HU = 3000.0


def plant_cylinder(hu: np.ndarray, spacing_mm, centre_index, *, radius_mm: float = 1.5, length_mm: float = 15.0,
                   value_hu: float = STENT_HU) -> np.ndarray:
    """A copy of ``hu`` (z, y, x) with a stent-like cylinder (radius_mm x length_mm, axis along z) of value_hu
    centred on centre_index (z, y, x voxel). At least the centre pixel of each slice it crosses is set (a 3 mm
    stent is thinner than a 4 mm pixel of a 96 px phantom)."""
    out = np.array(hu, np.float32, copy=True)
    dz, py, px = (float(s) for s in spacing_mm)
    cz, cy, cx = (float(c) for c in centre_index)
    zz, yy, xx = np.ogrid[:out.shape[0], :out.shape[1], :out.shape[2]]
    r = max(radius_mm, 0.5 * min(py, px))
    inside = ((((yy - cy) * py) ** 2 + ((xx - cx) * px) ** 2) <= r ** 2) & (np.abs((zz - cz) * dz) <= length_mm / 2)
    assert inside.any(), "the cylinder must cover at least one voxel"
    out[inside] = value_hu
    return out


def near_coronary(patient) -> tuple[int, int, int]:
    """(z, y, x) of a labelled coronary voxel (LAD if any, else any vessel) near the middle of its vessel; a phantom
    whose vessels carry no label (anatomy v8 labels a vessel only near its plaques) gives the voxel of the middle of
    its drawn LAD centreline instead."""
    for lab in (2, 1, 3, 4):
        idx = np.argwhere(patient.labels == lab)
        if len(idx):
            return tuple(int(v) for v in idx[len(idx) // 2])  # type: ignore[return-value]
    from cacscore.phantom.core import _draws

    pts = _draws(patient.pid, patient.seed, patient.hu.shape[1])[0].vessels["LAD"].points  # (n, 3) x, y, z mm
    q = pts[len(pts) // 2][[2, 1, 0]] - np.asarray(patient.origin_mm, float)[[2, 1, 0]]
    k = np.clip(np.rint(q / np.asarray(patient.spacing_mm, float)), 0, np.array(patient.hu.shape) - 1)
    return tuple(int(v) for v in k)  # type: ignore[return-value]


def shoulder(hu: np.ndarray) -> tuple[int, int, int]:
    """(z, y, x) inside the body in the top slice, near its lateral edge (a shoulder / upper-arm implant),
    >= 150 mm from the heart of a phantom chest."""
    z = hu.shape[0] - 2
    body = hu[z] > -400
    ys, xs = np.nonzero(body)
    x = int(xs.min()) + 3
    y = int(np.median(ys[xs == x])) if (xs == x).any() else int(np.median(ys))
    return z, y, x


def write_nifti(path, hu: np.ndarray, spacing_mm):
    """A (z, y, x) HU array as a NIfTI file the way cacscore.scoring.files.load_ct reads it (stored (x, y, z))."""
    import nibabel as nib

    dz, py, px = (float(s) for s in spacing_mm)
    nib.save(nib.Nifti1Image(np.ascontiguousarray(np.asarray(hu, np.float32).transpose(2, 1, 0)),
                             np.diag([px, py, dz, 1.0])), str(path))
    return path


def metal_scans(folder, patient) -> dict:
    """{"plain", "stent", "shoulder"}: NIfTI files of a phantom patient unmodified, with a stent-like cylinder
    at a coronary, and with it in the shoulder."""
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    p = patient
    return {"plain": write_nifti(folder / "plain.nii.gz", p.hu, p.spacing_mm),
            "stent": write_nifti(folder / "stent.nii.gz", plant_cylinder(p.hu, p.spacing_mm, near_coronary(p)),
                                 p.spacing_mm),
            "shoulder": write_nifti(folder / "shoulder.nii.gz",
                                    plant_cylinder(p.hu, p.spacing_mm, shoulder(p.hu), length_mm=10.0), p.spacing_mm)}
