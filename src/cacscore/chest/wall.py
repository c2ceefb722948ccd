"""The anterior chest wall: skin, fat, pectoral muscle, the sternum and the costal cartilage in front of the lungs
and the mediastinum (issue 16).

Calcified costal cartilage lies in the chest wall a few mm in front of the heart. On contrast CT the 450 HU bony-thorax
threshold loses the cartilage and most of the sternum, so "touching the bony thorax" cannot catch it
(LIDC-IDRI-0001: two cartilage lesions, 471 AU called LAD, 24 mm from the bone mask, 5.6-6.2 mm outside the found
pericardium). What does hold on every scan is that the wall lies in front of the structures it encloses: per axial
slice and per image column, the inner surface of the anterior wall is the first row (from the front) that holds lung,
the mediastinum between the lungs (behind the line joining their front tips, ``anatomy._lung_hull``) or the
pericardial mask. Everything of the body in front of that row, in the front half of the body, is chest wall.

The heart can bulge in front of the line joining the lungs' tips where it touches the chest wall; the rule that uses
this map therefore keeps a margin (``cacscore.lesion.anatomy.AnatomyRules.chest_wall_mm``), measured on phantoms.
"""

from __future__ import annotations

import numpy as np


MAX_WALL_MM = 60.0
"""The thickest anterior chest wall (skin to the lungs' or mediastinum's front) the surface is trusted at. Below the
heart the lungs' front is the posterior lung bases, and the liver and the heart's inferior wall lie in front of it
(LIDC-IDRI-0003 at the level of the dome: 105 mm from the skin; a 28 AU candidate on the heart's inferior surface
was called 'chest wall' before this limit). The walls of the three LIDC series are 20-35 mm at the heart's levels;
60 mm leaves room for the subcutaneous fat of obese patients, and a column beyond it gets no surface (no rule)."""


def inner_surface(lungs: np.ndarray, hull: np.ndarray, pericardium: np.ndarray, body: np.ndarray,
                  pixel_mm: float) -> np.ndarray:
    """(z, x) float: per slice and column, the first row (coarse y index, from the front) of lung, mediastinum
    (``hull``) or pericardium; nan where the column holds none of them, or where that row lies more than
    MAX_WALL_MM behind the skin (the first body row of the column)."""
    inside = lungs | hull | pericardium
    has = inside.any(1)
    first = np.where(has, np.argmax(inside, axis=1), -1).astype(float)
    skin = np.argmax(body, axis=1).astype(float)
    first[~has | ((first - skin) * pixel_mm > MAX_WALL_MM)] = np.nan
    return first


def find_chest_wall(lungs: np.ndarray, hull: np.ndarray, pericardium: np.ndarray, body: np.ndarray, pixel_mm: float, *,
                    lungs_sure: bool, truncated: bool) -> tuple[np.ndarray, bool, float, str]:
    """The anterior chest wall's inner surface (:func:`inner_surface`), found, confidence and the reason (the
    caller makes it a ``cacscore.chest.anatomy.Part``). Not found without the lungs (lungs_sure False); low
    confidence in a field of view that cuts through the body (truncated: a heart-centred gated series has little
    chest wall in it, and its 'lungs' are slivers)."""
    surf = inner_surface(lungs, hull, pericardium, body, pixel_mm)
    if not lungs_sure:
        return surf, False, 0.0, "no lungs to find the chest wall's inner surface by"
    if not np.isfinite(surf).any():
        return surf, False, 0.0, f"no lung or mediastinum within {MAX_WALL_MM:.0f} mm of the skin"
    if truncated:
        return surf, True, 0.3, "the field of view cuts through the body: the chest wall may be outside it"
    return surf, True, 1.0, ""


def depth_in_wall_mm(surface: np.ndarray, body: np.ndarray, grid_mm: np.ndarray, points_mm: np.ndarray) -> np.ndarray:
    """(n,) mm each (z, y, x) point lies in front of the wall's inner surface in its slice and column (> 0: in the
    chest wall; < 0: behind it, inside the thorax); nan where the column has no surface or the point is outside
    the body (the table, the air)."""
    pts = np.asarray(points_mm, float).reshape(-1, 3)
    shape = np.array(body.shape)
    idx = np.clip(np.rint(pts / grid_mm).astype(np.int64), 0, shape - 1)
    surf_at = surface[idx[:, 0], idx[:, 2]]
    depth = surf_at * grid_mm[1] - pts[:, 1]
    return np.where(np.isfinite(surf_at) & body[idx[:, 0], idx[:, 1], idx[:, 2]], depth, np.nan)
