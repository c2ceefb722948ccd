"""The heart of a chest CT: where its centre lies, or why it was not found (a returned value, never a log line
to parse).

:func:`locate_heart` gives a :class:`HeartFinding`; :func:`find_heart` just its voxel index (the volume
centre, with a logged warning, when not found).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from cacscore.chest.lungs import LungField, heart_grid_step, lung_field
from cacscore.io.dicom import Volume, hu_and_spacing

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HeartFinding:
    """index: (z, y, x) voxel index of the heart centre (the volume centre when not found); found: False when
    no lungs or no mediastinum were seen; reason: why not ("" when found); heart_only: why the scan was read as a
    heart-centred field of view ("" for a whole chest)."""

    index: tuple[int, int, int]
    found: bool = True
    reason: str = ""
    heart_only: str = ""


HEART_FRACTION = 0.6


def locate_heart(volume_or_hu: Volume | np.ndarray, spacing_mm: tuple[float, float, float] | None = None, *,
                 lungs: LungField | None = None) -> HeartFinding:
    """(z, y, x) voxel index of the heart centre: the soft-tissue mass between the lungs.

    Simple by design: lungs = air (< -400 HU) inside the body (not connected to the outside air);
    on slices with both lungs present, the soft tissue (-150..300 HU) inside the lungs' combined
    bounding box and between the lungs' inner edges is the mediastinum; the heart is the largest
    such mass, found as the slice-weighted centroid of the lower 60 % of the lung field's
    mediastinal soft tissue. hu (z, y, x), z ascending = inferior -> superior.
    lungs: the volume's :func:`lung_field`, when the caller already has it (same result, one lung mask less);
    ValueError if it was made for another grid.

    A heart-centred field of view (a gated calcium-scoring series, ``cacscore.chest.lungs.heart_only_view``) is
    read the same way, in the same frame: its lungs are the air inside the image disc not reaching its anterior
    rim (they touch the image edge there), and every slice with lung on both sides counts, since the scan covers
    only the heart and the great vessels above it (a whole chest's upper third, left out, holds the arch).
    """
    hu, spacing_mm = hu_and_spacing(volume_or_hu, spacing_mm, who="find_heart")
    nz, ny, nx = hu.shape
    # work at about 4 mm in-plane for speed
    step = heart_grid_step(spacing_mm)
    small = np.asarray(hu[:, ::step, ::step], np.float32)
    body = small > -400
    if lungs is None:
        lungs = lung_field(hu, spacing_mm)
    elif lungs.step != step or lungs.mask.shape != small.shape:
        raise ValueError(f"find_heart: lungs were found on another grid (step {lungs.step}, shape {lungs.mask.shape}; "
                         f"this volume needs step {step}, shape {small.shape})")
    lung, view = lungs.mask, lungs.heart_only
    area = lung.sum((1, 2)).astype(float)
    if area.max() <= 0:
        return HeartFinding((nz // 2, ny // 2, nx // 2), False, "no lungs found; using the volume centre", view)
    soft = (small > -20) & (small < 150)  # blood and myocardium; mediastinal fat (-100 HU) excluded
    mass = np.zeros(nz)
    cy = np.full(nz, np.nan)
    cx = np.full(nz, np.nan)
    if view:  # heart-only: the lungs are cut by the image edge, their area says nothing of domes and apices
        field = np.flatnonzero(area > 0)
        upper = field.max()
    else:
        field = np.flatnonzero(area > 0.4 * area.max())  # the lung field without domes and apices
        upper = field.min() + 0.67 * (field.max() - field.min())
    for k in field[field <= upper]:  # the heart is never in the upper third (arch, great vessels)
        found = _mediastinum_in(small[k], lung[k], body[k], soft[k], view)
        if found is not None:
            mass[k], cy[k], cx[k] = found
    if mass.max() <= 0:
        return HeartFinding((nz // 2, ny // 2, nx // 2), False, "no mediastinum found; using the volume centre", view)
    w = _heart_weights(mass, float(spacing_mm[0]))
    z = float((w * np.arange(nz)).sum() / w.sum())
    sel = w > 0
    y = float(np.nansum(cy[sel] * w[sel]) / w[sel].sum()) * step
    x = float(np.nansum(cx[sel] * w[sel]) / w[sel].sum()) * step
    return HeartFinding((int(round(z)), int(min(round(y), ny - 1)), int(min(round(x), nx - 1))), heart_only=view)


def _mediastinum_in(sl: np.ndarray, lung: np.ndarray, body: np.ndarray, soft: np.ndarray,
                    view: str) -> tuple[int, float, float] | None:
    """The mediastinal soft tissue of one axial slice of the grid: its pixel count and centroid (y, x, grid pixels),
    or None where there is none. sl: HU; lung, body, soft: the slice's lung, body and soft-tissue masks; view: the
    scan's heart_only reason ("" for a whole chest). The tissue between the inner edges of the two lungs, in their
    rows, in front of the spine."""
    ys, xs = np.nonzero(lung)
    # body midline (the lungs differ in size: not their median); a heart-centred field of view shows no body
    # outline, so there the vertebral body, which lies on the midline, stands for it
    xmid = _spine_x(sl) if view else np.nonzero(body)[1].mean()
    left, right = xs[xs < xmid], xs[xs >= xmid]
    if len(left) == 0 or len(right) == 0:
        return None
    x0, x1 = np.percentile(left, 90), np.percentile(right, 10)  # inner edges of the two lungs
    if x1 <= x0:
        return None
    y0, y1 = ys.min(), ys.max()
    m = soft[y0:y1 + 1, int(x0):int(x1) + 1].copy()
    # drop what lies behind the front of the spine (vertebral marrow, paraspinal muscle, the
    # descending aorta beside it): without this the centroid sat 10-25 mm posterior of the heart
    bone = sl[y0:y1 + 1, int(x0):int(x1) + 1] > 200
    by = np.nonzero(bone[(y1 - y0) // 2:])[0]
    if len(by):
        m[(y1 - y0) // 2 + int(np.percentile(by, 5)):] = False
    if m.sum() == 0:
        return None
    yy, xx = np.nonzero(m)
    return int(m.sum()), yy.mean() + y0, xx.mean() + int(x0)


def _heart_weights(mass: np.ndarray, slice_mm: float) -> np.ndarray:
    """(nz,) weight of each slice in the heart's centre, of the mediastinal mass per slice (not all zero): the heart is
    where the mediastinum is widest, the run of slices around the (15 mm smoothed) maximum that stays above
    HEART_FRACTION of it, each weighted by its mass."""
    nz = len(mass)
    size = max(1, int(round(15.0 / slice_mm)))
    sm = ndimage.uniform_filter1d(mass, size=size, mode="constant")
    peak = int(np.argmax(sm))
    run = sm >= HEART_FRACTION * sm[peak]
    lab, _ = ndimage.label(run)
    w = np.where(lab == lab[peak], mass, 0.0)
    if w.sum() <= 0:  # sparse mediastinum (e.g. a heart-centred gated field of view): the run can fall between
        # the slices that hold tissue; the smoothing window around the peak holds some by construction
        w = np.where(np.abs(np.arange(nz) - peak) <= size // 2 + 1, mass, 0.0)
    return w


def _spine_x(sl: np.ndarray) -> float:
    """x (grid pixels) of the vertebral body in one axial slice of a heart-centred field of view: the median column
    of bone (> 200 HU) in the posterior 30 % of the rows and the middle 60 % of the columns; the image centre when
    none is there (the field of view cut the spine off)."""
    ny, nx = sl.shape
    _, xs = np.nonzero(sl[int(0.7 * ny):, int(0.2 * nx):int(0.8 * nx) + 1] > 200)
    return float(np.median(xs) + int(0.2 * nx)) if len(xs) >= 3 else (nx - 1) / 2.0


def find_heart(volume_or_hu: Volume | np.ndarray, spacing_mm: tuple[float, float, float] | None = None, *,
               lungs: LungField | None = None) -> tuple[int, int, int]:
    """(z, y, x) voxel index of the heart centre (:func:`locate_heart`); when it is not found, the volume centre
    and a logged warning (callers that must tell the difference use :func:`locate_heart`)."""
    heart = locate_heart(volume_or_hu, spacing_mm, lungs=lungs)
    if not heart.found:
        log.warning("find_heart: %s", heart.reason)
    return heart.index
