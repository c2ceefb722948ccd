"""Rasterisation primitives of the phantom: a voxel grid in patient mm and exact partial-volume shapes.

Coordinates are DICOM patient coordinates (LPS) in mm: x grows to the patient's left, y to the
posterior, z to the head. A :class:`Grid` has in-plane pixel centres ``x_mm`` / ``y_mm`` and slab
edges ``z_edges_mm`` (ascending); arrays are (z, y, x).

Partial volume along z is computed *analytically*: a convex shape meets each vertical pixel column
in one interval [lo, hi] (mm), and the fraction of a slab [z0, z1] it fills is
``clip(min(hi, z1) - max(lo, z0), 0, z1 - z0) / (z1 - z0)``. This is exact for ellipsoids and
z-extruded shapes, and costs a few operations per column instead of rendering sub-slices (this is
why it is hand-written: no library computes slab coverage of analytic solids).
"""

from __future__ import annotations

import bisect
import functools
import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Grid:
    """Voxel grid. x_mm (nx,), y_mm (ny,): pixel centres; z_edges_mm (nz+1,): ascending slab edges."""

    x_mm: np.ndarray
    y_mm: np.ndarray
    z_edges_mm: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        return (len(self.z_edges_mm) - 1, len(self.y_mm), len(self.x_mm))

    @property
    def px_mm(self) -> float:
        return float(self.x_mm[1] - self.x_mm[0])

    @property
    def z_mm(self) -> np.ndarray:
        """Slab centres (nz,)."""
        return 0.5 * (self.z_edges_mm[1:] + self.z_edges_mm[:-1])

    @property
    def dz_mm(self) -> float:
        return float(self.z_edges_mm[1] - self.z_edges_mm[0])

    @functools.cached_property
    def _axes_lists(self) -> tuple[list[float], list[float], list[float]]:
        """z edges, y and x centres as Python lists: box() bisects them (numpy's searchsorted on a scalar costs
        ~10x more per call, and the renderer asks for ~2,000 boxes per patient)."""
        return self.z_edges_mm.tolist(), self.y_mm.tolist(), self.x_mm.tolist()

    def box(self, lo_mm: tuple[float, float, float], hi_mm: tuple[float, float, float]) -> tuple[slice, slice, slice] | None:
        """Index box (z, y, x slices) covering the patient-mm box [lo, hi] (z, y, x order); None if empty."""
        e, ys, xs = self._axes_lists
        lo_, hi_ = [float(v) for v in lo_mm], [float(v) for v in hi_mm]  # (float64 comparisons, as searchsorted's)
        if any(math.isnan(v) for v in (*lo_, *hi_)):  # NaN: numpy sorts it last, bisect would not
            lo_, hi_ = [np.inf if math.isnan(v) else v for v in lo_], [np.inf if math.isnan(v) else v for v in hi_]
        # z: the slabs whose [edge, edge) meets [lo, hi]; y, x: the centres inside [lo, hi] (as numpy's searchsorted
        # with side="right" - 1 / "left", and "left" / "right")
        i0, i1 = max(bisect.bisect_right(e, lo_[0]) - 1, 0), min(bisect.bisect_left(e, hi_[0]), len(e) - 1)
        if i1 <= i0:
            return None
        out = [slice(i0, i1)]
        for centres, lo, hi in ((ys, lo_[1], hi_[1]), (xs, lo_[2], hi_[2])):
            i0, i1 = bisect.bisect_left(centres, lo), bisect.bisect_right(centres, hi)
            if i1 <= i0:
                return None
            out.append(slice(i0, i1))
        return tuple(out)  # type: ignore[return-value]


def slab_fraction(lo_mm: np.ndarray, hi_mm: np.ndarray, z_edges_mm: np.ndarray) -> np.ndarray:
    """Fraction of each slab covered by column intervals [lo, hi].

    lo_mm, hi_mm: (...) arrays (float32); z_edges_mm: (nz+1,). Returns (nz, ...) float32 in [0, 1].
    """
    if _slab_by_slab(lo_mm, hi_mm, len(z_edges_mm) - 1):
        return _slab_fraction_per_slab(lo_mm, hi_mm, z_edges_mm)
    z0 = z_edges_mm[:-1].astype(np.float32).reshape((-1,) + (1,) * np.ndim(lo_mm))
    z1 = z_edges_mm[1:].astype(np.float32).reshape(z0.shape)
    f = np.minimum(hi_mm, z1)
    low = np.maximum(lo_mm, z0)
    if f.shape == low.shape:  # in place: one box-sized temporary less (these boxes are the renderer's bulk)
        f -= low
    else:
        f = f - low
    np.clip(f, 0.0, None, out=f)
    f /= (z1 - z0)
    return f


SLAB_LOOP_MIN = (2048, 200_000)
"""Work slab by slab once a slab holds this many voxels and the box this many: the same float32 arithmetic on
slab-sized temporaries that stay in the cache, instead of box-sized ones (2x faster on the heart's big ellipsoids;
smaller boxes keep the one-pass form, where numpy's per-call cost would dominate)."""


def _slab_by_slab(a: np.ndarray, b, nz: int) -> bool:
    return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == np.float32 and b.dtype == np.float32
            and a.shape == b.shape and a.ndim >= 1 and a.size >= SLAB_LOOP_MIN[0] and a.size * nz >= SLAB_LOOP_MIN[1])


def _slab_fraction_per_slab(lo_mm: np.ndarray, hi_mm: np.ndarray, z_edges_mm: np.ndarray) -> np.ndarray:
    """slab_fraction's arithmetic, one slab at a time (float32 lo, hi of one shape)."""
    e = z_edges_mm.astype(np.float32)
    dz = e[1:] - e[:-1]
    out = np.empty((len(e) - 1, *lo_mm.shape), np.float32)
    low = np.empty(lo_mm.shape, np.float32)
    for k in range(len(e) - 1):
        f = out[k]
        np.minimum(hi_mm, e[k + 1], out=f)
        np.maximum(lo_mm, e[k], out=low)
        f -= low
        np.clip(f, 0.0, None, out=f)
        f /= dz[k]
    return out


def ellipsoid_columns(x_mm: np.ndarray, y_mm: np.ndarray, centre_mm: np.ndarray, axes: np.ndarray,
                      semi_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column intervals of a rotated ellipsoid.

    x_mm (nx,), y_mm (ny,): column positions; centre_mm (3,) as (x, y, z); axes (3, 3): rows are the
    unit principal axes in (x, y, z); semi_mm (3,): semi-axis lengths. Returns lo, hi (ny, nx) float32
    in mm (lo > hi where the column misses the ellipsoid).
    """
    m = (axes.T / np.asarray(semi_mm, float) ** 2) @ axes  # quadratic form (x, y, z)
    dx = (x_mm - centre_mm[0])[None, :]
    dy = (y_mm - centre_mm[1])[:, None]
    beta = m[0, 2] * dx + m[1, 2] * dy
    gamma = m[0, 0] * dx * dx + 2 * m[0, 1] * dx * dy + m[1, 1] * dy * dy
    disc = beta * beta - m[2, 2] * (gamma - 1.0)
    root = np.sqrt(np.clip(disc, 0.0, None))
    root[disc <= 0] = -1.0  # empty interval
    lo = (centre_mm[2] + (-beta - root) / m[2, 2]).astype(np.float32)
    hi = (centre_mm[2] + (-beta + root) / m[2, 2]).astype(np.float32)
    return lo, hi


def ellipsoid_fraction(grid: Grid, centre_mm: np.ndarray, axes: np.ndarray, semi_mm: np.ndarray, *,
                       supersample: int = 1, margin_mm: float = 0.0, z_min_mm: float | None = None):
    """Partial-volume fraction of a rotated ellipsoid on ``grid`` inside its bounding box.

    Returns (box, frac) with box a (z, y, x) slice tuple and frac (nz_b, ny_b, nx_b) float32, or
    None if the ellipsoid misses the grid. ``supersample`` > 1 averages s x s in-plane sub-columns
    per pixel (in-plane anti-aliasing for small objects). ``z_min_mm``: the part below this height is cut
    off (a flat floor, e.g. the heart resting on the diaphragm); the cut stays exact in z.
    """
    axes = np.asarray(axes, float)
    semi = np.asarray(semi_mm, float)
    half = np.sqrt(((axes * semi[:, None]) ** 2).sum(axis=0)) + margin_mm  # bounding half-extent (x, y, z)
    c = np.asarray(centre_mm, float)
    px = grid.px_mm
    box = grid.box((c[2] - half[2], c[1] - half[1] - px, c[0] - half[0] - px),
                   (c[2] + half[2], c[1] + half[1] + px, c[0] + half[0] + px))
    if box is None:
        return None
    xs, ys = grid.x_mm[box[2]], grid.y_mm[box[1]]
    edges = grid.z_edges_mm[box[0].start:box[0].stop + 1]
    if supersample <= 1:
        lo, hi = ellipsoid_columns(xs, ys, c, axes, semi)
        if z_min_mm is not None:
            np.maximum(lo, np.float32(z_min_mm), out=lo)
        return box, slab_fraction(lo, hi, edges)
    s = supersample
    off = (np.arange(s) - (s - 1) / 2) * (px / s)
    xs2 = (xs[:, None] + off[None, :]).ravel()
    ys2 = (ys[:, None] + off[None, :]).ravel()
    lo, hi = ellipsoid_columns(xs2, ys2, c, axes, semi)
    if z_min_mm is not None:
        np.maximum(lo, np.float32(z_min_mm), out=lo)
    f = slab_fraction(lo, hi, edges)  # (nz, ny*s, nx*s)
    f = f.reshape(f.shape[0], len(ys), s, len(xs), s).mean(axis=(2, 4))
    return box, f.astype(np.float32)


def ellipse_footprint(x_mm: np.ndarray, y_mm: np.ndarray, cx: float, cy: float, ax: float, ay: float,
                      px_mm: float, angle_rad: float = 0.0) -> np.ndarray:
    """Anti-aliased in-plane coverage (ny, nx) float32 of an ellipse (semi-axes ax, ay mm, rotated)."""
    reff = min(ax, ay) + 0.5 * abs(ax - ay) * 0.5
    if not (min(ax, ay) > 0 and reff > 0 and px_mm > 0 and np.isfinite([cx, cy, ax, ay, px_mm, angle_rad]).all()):
        return _ellipse_coverage(x_mm, y_mm, cx, cy, ax, ay, px_mm, angle_rad)
    # computed only in the bounding box of the ellipse grown by 1.5 px of (rho - 1) x reff: beyond 0.5 px the
    # coverage is exactly 0 (the margin is orders of magnitude above float32 rounding); a big plane's empty
    # part is most of it
    s = 1.0 + 1.5 * px_mm / reff
    ca, sa = np.cos(angle_rad), np.sin(angle_rad)
    hx, hy = s * np.hypot(ax * ca, ay * sa) + px_mm, s * np.hypot(ax * sa, ay * ca) + px_mm
    cols = np.flatnonzero(np.abs(np.asarray(x_mm, float) - cx) <= hx)
    rows = np.flatnonzero(np.abs(np.asarray(y_mm, float) - cy) <= hy)
    out = np.zeros((len(y_mm), len(x_mm)), np.float32)
    if len(cols) and len(rows):
        ws, wr = slice(int(cols[0]), int(cols[-1]) + 1), slice(int(rows[0]), int(rows[-1]) + 1)
        out[wr, ws] = _ellipse_coverage(x_mm[ws], y_mm[wr], cx, cy, ax, ay, px_mm, angle_rad)
    return out


def _ellipse_coverage(x_mm, y_mm, cx, cy, ax, ay, px_mm, angle_rad) -> np.ndarray:
    dx = (x_mm - cx)[None, :].astype(np.float32)
    dy = (y_mm - cy)[:, None].astype(np.float32)
    if angle_rad:
        ca, sa = np.float32(np.cos(angle_rad)), np.float32(np.sin(angle_rad))
        dx, dy = ca * dx + sa * dy, -sa * dx + ca * dy
    rho = np.sqrt((dx / ax) ** 2 + (dy / ay) ** 2)
    # signed distance approximation: (rho - 1) times the local radius
    d = (rho - 1.0) * np.float32(min(ax, ay) + 0.5 * abs(ax - ay) * 0.5)
    return np.clip(0.5 - d / px_mm, 0.0, 1.0).astype(np.float32)


def paint(img: np.ndarray, box: tuple[slice, ...], frac: np.ndarray, hu: float | np.ndarray, *,
          trans: np.ndarray | None = None) -> None:
    """Painter's algorithm with partial volume: img[box] += frac * (hu - img[box]) (in place).

    ``trans`` (the shape of img[box], float32), if given, is a layer's transmittance: trans *= 1 - frac, computed in
    the same temporary as the paint (coronary._LayerPainter tracks what a moving layer covers this way).
    """
    v = img[box]
    if (np.isscalar(hu) and isinstance(frac, np.ndarray) and frac.dtype == np.float32 and frac.ndim >= 2
            and frac.shape == v.shape and len(frac) and _slab_by_slab(frac[0], frac[0], len(frac))):
        _paint_per_slab(v, frac, np.float32(hu), trans)
        return
    t = np.subtract(np.float32(hu) if np.isscalar(hu) else hu, v)
    if t.shape != v.shape or np.shape(frac) != v.shape or np.asarray(frac).dtype != np.float32:
        v += frac * t  # (a float64 frac: the product stays float64 until the add, as it always did)
        if trans is not None:
            trans *= 1 - frac
        return
    t *= frac  # in place: the same arithmetic as v += frac * (hu - v), one temporary less
    v += t
    if trans is not None:
        np.subtract(np.float32(1.0), frac, out=t)  # 1 - frac in the same temporary: no allocation on the hot path
        trans *= t


def _paint_per_slab(v: np.ndarray, frac: np.ndarray, hu: np.float32, trans: np.ndarray | None) -> None:
    """paint's float32 arithmetic slab by slab, in one slab-sized temporary (see SLAB_LOOP_MIN)."""
    t = np.empty(v.shape[1:], np.float32)
    for k in range(v.shape[0]):
        vk, fk = v[k], frac[k]
        np.subtract(hu, vk, out=t)
        t *= fk
        vk += t
        if trans is not None:
            np.subtract(np.float32(1.0), fk, out=t)
            trans[k] *= t
