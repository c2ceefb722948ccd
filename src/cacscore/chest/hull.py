"""The bony thorax's inner boundary as the 3-D convex hull of the lungs: the heart and its arteries lie inside
it; calcified costal cartilage, the sternum and the ribs lie outside it.

scipy's ConvexHull (Qhull) gives the hull faces; the lung mask comes from :mod:`cacscore.chest.lungs`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

from cacscore.chest.lungs import LungField, lungs_of


def _thorax_steps(spacing_mm: Sequence[float], step_mm: float) -> tuple[int, int]:
    sp = [float(v) for v in spacing_mm]
    return max(1, int(round(step_mm / sp[0]))), max(1, int(round(step_mm / sp[1])))


def thorax_hull(hu: np.ndarray, spacing_mm: Sequence[float], *, step_mm: float = 4.0,
                lungs: LungField | None = None) -> np.ndarray:
    """(f, 4) float64 faces of the 3-D convex hull of the lungs of a (z, y, x) HU volume, found on a ~step_mm
    grid: outward unit normals and offsets in mm from voxel 0, n . p + b > 0 outside (scipy ConvexHull's
    ``equations``); (0, 4) when no lungs are found or they are too flat for a hull. spacing_mm: (z, y, x).
    lungs: the volume's ``cacscore.regress.preprocess.lung_field`` when at hand (its in-plane step must be this grid's;
    it then gives the same mask as computing it here, with no second pass over the volume)."""
    sp = [float(v) for v in spacing_mm]
    zs, st = _thorax_steps(sp, step_mm)
    none = np.zeros((0, 4))
    if lungs is None:
        # a heart-centred field of view: the lungs touch the image edge (the same rule as the heart finder's field)
        lung, _ = lungs_of(hu[::zs, ::st, ::st], (sp[0] * zs, sp[1] * st, sp[2] * st))
    elif lungs.step != st or lungs.mask.shape[0] != np.shape(hu)[0]:
        raise ValueError(f"thorax_hull: lungs were found on another grid (step {lungs.step}, {lungs.mask.shape[0]} "
                         f"slices; need step {st}, {np.shape(hu)[0]} slices)")
    else:
        lung = lungs.mask[::zs]  # the masks work slice by slice: the same as computing it on hu[::zs, ::st, ::st]
    lab, n = ndimage.label(lung)
    if n == 0:
        return none
    sizes = np.bincount(lab.ravel())[1:]
    lung = np.isin(lab, np.flatnonzero(sizes >= 0.1 * sizes.max()) + 1)  # the lungs, not bowel gas
    surface = np.argwhere(lung & ~ndimage.binary_erosion(lung)) * np.array([sp[0] * zs, sp[1] * st, sp[2] * st])
    try:
        return ConvexHull(surface).equations  # outward unit normals and offsets: n . p + b > 0 outside
    except (QhullError, ValueError):
        return none


def outside_thorax_mm(hu: np.ndarray, spacing_mm: Sequence[float], points_mm: np.ndarray, *,
                      step_mm: float = 4.0, lungs: LungField | None = None,
                      hull: np.ndarray | None = None) -> np.ndarray:
    """Signed distance (mm, > 0 outside) of (n, 3) points (z, y, x in mm from voxel 0) from the 3-D convex
    hull of the lungs, found on a ~step_mm grid (:func:`thorax_hull`). The heart and its arteries lie inside that
    hull; calcified costal cartilage, the sternum and the ribs lie outside it. For a point outside, the value is
    the largest distance beyond any hull face (a lower bound of the true distance); inside, minus the distance to
    the nearest face. All nan when no lungs are found or they are too flat for a hull.
    lungs: passed on to :func:`thorax_hull`; hull: its result when already computed (hu is then not read)."""
    pts = np.asarray(points_mm, float).reshape(-1, 3)
    nan = np.full(len(pts), np.nan)
    eq = thorax_hull(hu, spacing_mm, step_mm=step_mm, lungs=lungs) if hull is None else np.asarray(hull, float)
    if len(eq) == 0 or len(pts) == 0:
        return nan
    return (pts @ eq[:, :3].T + eq[:, 3]).max(axis=1)


def lungs_shareable(hu: np.ndarray, lungs: LungField | None, spacing_mm: Sequence[float]) -> bool:
    """Whether find_heart's lung field (made from float32 HU) is exactly the mask thorax_hull would compute from
    ``hu`` itself: same in-plane grid, and a float32 cast that cannot move a value across the -400 HU threshold
    (float32 or narrower floats, any integer type; float64 could, within 3e-5 HU of it)."""
    if lungs is None or lungs.step != _thorax_steps(spacing_mm, 4.0)[1]:
        return False
    return not (hu.dtype.kind == "f" and hu.dtype.itemsize > 4)
