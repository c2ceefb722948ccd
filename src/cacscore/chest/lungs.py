"""The lungs of a chest CT: air inside the body, found slice by slice, on the heart finder's ~4 mm grid."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


def lung_mask(hu: np.ndarray) -> np.ndarray:
    """Lungs and airways of a (z, y, x) HU volume: air (<= -400 HU) not connected, within its axial slice,
    to the image border (which is the air around the body). Works on a subsampled volume too."""
    air = ~(np.asarray(hu) > -400)
    lung = np.zeros_like(air)
    for k in range(air.shape[0]):
        lab, n = ndimage.label(air[k])
        if n == 0:
            continue
        border = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
        lung[k] = ~np.isin(lab, border) & (lab > 0)
    return lung


HEART_GRID_MM = 4.0
"""find_heart works on a grid of about this many mm in-plane (every slice kept)."""


def heart_grid_step(spacing_mm: tuple[float, float, float]) -> int:
    """In-plane subsampling step (pixels) of find_heart's ~4 mm grid for a (z, y, x) spacing in mm."""
    return max(1, int(round(HEART_GRID_MM / max(float(spacing_mm[1]), 1e-3))))


@dataclass(frozen=True)
class LungField:
    """The lungs of a (z, y, x) HU volume on find_heart's grid, computed once and shared by its users.

    mask: (z, ceil(y / step), ceil(x / step)) bool = ``lung_mask(float32(hu[:, ::step, ::step]))`` (every slice);
    step: the in-plane subsampling (pixels), :func:`heart_grid_step`.
    """

    mask: np.ndarray
    step: int


def lung_field(hu: np.ndarray, spacing_mm: tuple[float, float, float]) -> LungField:
    """:class:`LungField` of a (z, y, x) HU volume with (z, y, x) spacing in mm: exactly the lung mask find_heart
    computes for itself (pass it as ``find_heart(..., lungs=)`` and to other users, e.g.
    ``cacscore.chest.hull.thorax_hull``, instead of recomputing it)."""
    step = heart_grid_step(spacing_mm)
    return LungField(lung_mask(np.asarray(hu[:, ::step, ::step], np.float32)), step)
