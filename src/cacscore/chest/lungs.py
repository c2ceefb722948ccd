"""The lungs of a chest CT: air inside the body, found slice by slice, on the heart finder's ~4 mm grid; and whether
the scan is a heart-centred field of view (an ECG-gated calcium-scoring series), where the lungs touch the edge of
the image and "air not connected to the border" would find none."""

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


HEART_ONLY_FOV_MM = 260.0
"""A reconstructed in-plane field of view narrower than this is heart-centred: COCA's gated calcium-scoring series
(200-250 mm; the phantom's gated mode 200-260 mm), never a whole chest of an adult (non-gated COCA 320-460 mm, the
three LIDC series 330-380 mm)."""

CUT_BODY_BORDER = 0.06
"""A field of view whose border is over this fraction tissue (> -400 HU) cuts through the body (the rule of
``cacscore.chest.anatomy.find_body``): LIDC 0.6-2.7 %, gated phantoms 8.7-46 %."""


HEART_ONLY_Z_MM = 200.0
"""A scan covering less than this along z holds the heart but not the whole chest (gated COCA series: median 47
slices of 3 mm; whole-chest COCA and LIDC series 300-350 mm)."""


def heart_only_view(hu: np.ndarray, spacing_mm: tuple[float, float, float]) -> str:
    """Why a (z, y, x) HU volume (any in-plane subsampling, with its own spacing) is a heart-centred field of view,
    "" when it is a whole chest: an in-plane field of view under HEART_ONLY_FOV_MM, or a short scan
    (HEART_ONLY_Z_MM) whose field of view cuts through the body (CUT_BODY_BORDER). A whole chest whose arms or
    flanks touch the image edge is not one."""
    hu = np.asarray(hu)
    fov = min(hu.shape[1] * float(spacing_mm[1]), hu.shape[2] * float(spacing_mm[2]))
    if fov < HEART_ONLY_FOV_MM:
        return f"heart-centred field of view ({fov:.0f} mm across)"
    if hu.shape[0] * abs(float(spacing_mm[0])) >= HEART_ONLY_Z_MM:
        return ""
    border = np.concatenate([hu[:, 0].ravel(), hu[:, -1].ravel(), hu[:, :, 0].ravel(), hu[:, :, -1].ravel()]) > -400
    if border.mean() > CUT_BODY_BORDER:
        return f"the field of view cuts through the body ({border.mean():.0%} of its border is tissue)"
    return ""


def fov_lung_mask(hu: np.ndarray) -> np.ndarray:
    """Lungs of a heart-centred field of view (:func:`heart_only_view`), slice by slice: air (<= -400 HU) inside
    the image's inscribed disc (outside it a scanner pads with air-valued pixels; the disc's rim is not the body's
    surface), in components that do not reach the disc's anterior arc (the outside air in front of the chest; the
    lungs reach the lateral and posterior rim)."""
    hu = np.asarray(hu)
    ny, nx = hu.shape[1:]
    yy, xx = np.mgrid[0:ny, 0:nx]
    cy, cx = (ny - 1) / 2.0, (nx - 1) / 2.0
    r = np.hypot((yy - cy) / (ny / 2.0), (xx - cx) / (nx / 2.0))
    disc = r <= 1.0
    rim = disc & (r > 1.0 - 2.5 / min(ny, nx) * 2)
    # the anterior arc, within 30 degrees of straight ahead: the outside air in front of the chest reaches it; the
    # lungs, behind the chest wall, reach the rim further round (45 degrees took both lungs of a gated phantom)
    front = rim & (yy < cy) & (np.abs(xx - cx) < 0.5 * (nx / 2.0))
    air = ~(hu > -400) & disc[None]
    lung = np.zeros(hu.shape, bool)
    for k in range(hu.shape[0]):
        lab, n = ndimage.label(air[k])
        if n == 0:
            continue
        outside = np.unique(lab[front & (lab > 0)])
        lung[k] = (lab > 0) & ~np.isin(lab, outside)
    return lung


@dataclass(frozen=True)
class LungField:
    """The lungs of a (z, y, x) HU volume on find_heart's grid, computed once and shared by its users.

    mask: (z, ceil(y / step), ceil(x / step)) bool = ``lung_mask(float32(hu[:, ::step, ::step]))`` (every slice);
    step: the in-plane subsampling (pixels), :func:`heart_grid_step`.
    """

    mask: np.ndarray
    step: int
    heart_only: str = ""
    """Why the volume is a heart-centred field of view (:func:`heart_only_view`; the mask is then
    :func:`fov_lung_mask`'s), "" for a whole chest."""


def lung_field(hu: np.ndarray, spacing_mm: tuple[float, float, float]) -> LungField:
    """:class:`LungField` of a (z, y, x) HU volume with (z, y, x) spacing in mm (:func:`fov_lung_mask` on a
    heart-centred field of view, :func:`lung_mask` otherwise): exactly the lung mask find_heart computes for itself (pass it as ``find_heart(..., lungs=)`` and to other users, e.g.
    ``cacscore.chest.hull.thorax_hull``, instead of recomputing it)."""
    step = heart_grid_step(spacing_mm)
    small = np.asarray(hu[:, ::step, ::step], np.float32)
    mask, view = lungs_of(small, (float(spacing_mm[0]), float(spacing_mm[1]) * step, float(spacing_mm[2]) * step))
    return LungField(mask, step, view)


def lungs_of(hu: np.ndarray, spacing_mm: tuple[float, float, float]) -> tuple[np.ndarray, str]:
    """The lung mask of a (z, y, x) HU volume on its own grid (spacing_mm: that grid's), and why it is a
    heart-centred field of view ("" for a whole chest): :func:`fov_lung_mask` there, :func:`lung_mask` otherwise.
    The one choice for :func:`lung_field` and ``cacscore.chest.hull.thorax_hull``'s own grid."""
    view = heart_only_view(hu, spacing_mm)
    return (fov_lung_mask(hu) if view else lung_mask(hu)), view
