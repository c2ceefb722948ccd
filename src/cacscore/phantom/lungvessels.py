"""Pulmonary vessel trees (chest realism, session 11): growth inside the lungs and a fast rasteriser.

A real chest CT shows the lungs full of vessels: thick arteries and veins at the hila that branch and taper toward
the pleura, seen as dots (cut across) and short lines (cut along) down to about 1 mm. The phantom's v3 trees were six
dichotomous trunks of 127 straight capsules each that ignored the lungs' shape (most of them ran out of the lung and
were not painted). Here each tree grows inside the lung (``inside``), branching asymmetrically by Murray's law
(r^3 = r1^3 + r2^3: the larger child bends little, the smaller a lot), its segments 5-8 radii long, until the radius
falls under ``r_min``. Arteries start at the hila, veins at the left atrium (the inferior veins run nearly level
behind the heart, as on a real scan).

Rasterising tens of thousands of segments as exact capsules (anatomy._segment_fraction, ~0.1 ms each) would cost
seconds, so the thin ones are splatted: points along each segment carry its volume (pi r^2 x step) into the voxels,
spread over a small ball of the vessel's radius and bilinearly in-plane (no library does this volume-conserving
splat onto a slab grid; scipy's map_coordinates goes the other way). Partial volume then comes out right on
average: a 1 mm vessel across a 5 mm slab fills its pixel, one along it a thin grey line.
"""

from __future__ import annotations

import numpy as np

from cacscore.phantom.raster import Grid

MAX_SEGMENTS = 30000
"""Safety cap on the number of segments of all trees of one patient."""
BALL_POINTS = 12
"""At most this many stencil points spread a splat sample over the vessel's cross-section."""


def _ball_offsets(n: int) -> np.ndarray:
    """n fixed points filling the unit ball (the first is the centre): a spiral on shells, deterministic."""
    k = np.arange(1, n, dtype=float)
    rad = ((k - 0.5) / (n - 1)) ** (1 / 3)
    phi = k * np.pi * (3 - np.sqrt(5))  # golden angle
    cz = 1 - 2 * (k - 0.5) / (n - 1)
    s = np.sqrt(1 - cz ** 2)
    pts = np.column_stack([s * np.cos(phi), s * np.sin(phi), cz]) * rad[:, None]
    return np.vstack([[0.0, 0.0, 0.0], pts])


_BALL = _ball_offsets(BALL_POINTS)


def _unit_rows(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def colonise(roots: np.ndarray, attractors: np.ndarray, *, step: float = 5.0, influence: float = 35.0,
             kill: float = 9.0, max_iter: int = 120, max_nodes: int = MAX_SEGMENTS,
             inertia: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Space colonisation (Runions et al. 2007): from the root nodes (k, 3), each node that is the nearest node of some
    attractor within ``influence`` mm grows ``step`` mm toward the mean direction of its attractors; attractors within
    ``kill`` mm of a node are consumed. Trees so grown fill the space the attractors sample (here the lungs) without
    leaving it, branch where attractors pull apart, and end where none are left. (positions (n, 3), parent index (n,),
    -1 for a root); parents always precede their children. ``inertia`` (session 13): each step's direction is the
    attractors' mean direction plus ``inertia`` x the direction the node itself grew in, so branches run straighter
    (0: plain space colonisation, whose branches wander from step to step)."""
    from scipy.spatial import cKDTree

    pos = [np.asarray(roots, float)]
    parent = [np.full(len(roots), -1, np.int64)]
    n = len(roots)
    best_d = np.full(len(attractors), np.inf)
    best_i = np.full(len(attractors), -1, np.int64)
    a = np.asarray(attractors, float)
    new_pos, new_first = pos[0], 0
    for _ in range(max_iter):
        # only the nodes added last can be any attractor's new nearest one
        dd, ii = cKDTree(new_pos).query(a)
        closer = dd < best_d
        best_d[closer], best_i[closer] = dd[closer], ii[closer] + new_first
        alive = best_d >= kill
        a, best_d, best_i = a[alive], best_d[alive], best_i[alive]
        if not len(a) or n >= max_nodes:
            break
        pulled = best_d < influence
        if not pulled.any():  # the roots lie in the mediastinum: a stem grows toward the lung until it is in reach
            pulled[:] = True
        all_pos = np.concatenate(pos)
        src = best_i[pulled]
        vec = _unit_rows(a[pulled] - all_pos[src])
        grow, inv = np.unique(src, return_inverse=True)
        acc = np.zeros((len(grow), 3))
        np.add.at(acc, inv, vec)
        norm = np.linalg.norm(acc, axis=1)
        ok = norm > 1e-3  # attractors pulling a node evenly from opposite sides would stall it in place
        if not ok.any():
            break
        grow = grow[ok]
        d = acc[ok] / norm[ok, None]
        if inertia > 0:
            par = np.concatenate(parent)[grow]
            own = np.where((par >= 0)[:, None], _unit_rows(all_pos[grow] - all_pos[np.maximum(par, 0)]), 0.0)
            d = _unit_rows(d + inertia * own)
        new_pos = all_pos[grow] + step * d
        new_first = n
        pos.append(new_pos)
        parent.append(grow)
        n += len(grow)
    return np.concatenate(pos), np.concatenate(parent)


def tree_segments(pos: np.ndarray, parent: np.ndarray, *, r_leaf: float, exponent: float = 0.4,
                  r_max: float = 7.0) -> np.ndarray:
    """Segments (n, 7) node -> parent of a colonised tree, each of radius r_leaf x (leaves downstream) ** exponent (a
    vascular tree's radius law between Murray's 1/3 and area-preserving 1/2), so vessels taper from the hilum out.
    (Merging unbranched runs into longer capsules saved a tenth of them: colonised trunks branch every few steps.)"""
    n = len(pos)
    leaves = (np.bincount(parent[parent >= 0], minlength=n) == 0).astype(float)
    for i in range(n - 1, 0, -1):  # children come after their parents
        if parent[i] >= 0:
            leaves[parent[i]] += leaves[i]
    kid = np.nonzero(parent >= 0)[0]
    r = np.minimum(r_leaf * leaves[kid] ** exponent, r_max)
    return np.column_stack([pos[parent[kid]], pos[kid], r])


def add_twigs(xr: np.random.Generator, pos: np.ndarray, parent: np.ndarray, inside, *, r_leaf: float,
              generations: int = 1) -> np.ndarray:
    """Small vessels beyond the colonised tree's tips: from each tip a twig 20-45 deg off its direction (on again with
    ``generations`` 2), 0.8 (0.65) x r_leaf, 5-9 mm long, kept where they end in the lung (``inside``). A 5 mm slab
    of a real lung shows many such faint dots out to a centimetre from the pleura. (n, 7) segments."""
    has_child = np.zeros(len(pos), bool)
    has_child[parent[parent >= 0]] = True
    tip = np.nonzero(~has_child & (parent >= 0))[0]
    p, d = pos[tip], _unit_rows(pos[tip] - pos[parent[tip]])
    out = []
    for g in range(generations):
        n = len(p)
        if not n:
            break
        perp = _unit_rows(np.cross(d, xr.normal(size=(n, 3))))
        ang = np.deg2rad(xr.uniform(20, 45, (n, 1)))
        d = _unit_rows(d * np.cos(ang) + perp * np.sin(ang))
        q = p + d * xr.uniform(5.0, 9.0, (n, 1)) * (1.0 - 0.3 * g)
        keep = inside(q)
        p, q, d = p[keep], q[keep], d[keep]
        out.append(np.column_stack([p, q, np.full(len(p), r_leaf * (0.8 - 0.15 * g))]))
        p = q
    return np.concatenate(out) if out else np.zeros((0, 7))


def splat_fraction(grid: Grid, segs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Volume fraction of the voxels that thin segments (n, 7) cover: (flat indices into the (z, y, x) grid, fraction
    in (0, 1]). Points along each segment, at most 0.7 pixel apart in-plane and half a slab in z, carry pi r^2 x step
    into the voxels, spread over a ball of the segment's radius (up to BALL_POINTS points, about one per pixel of
    cross-section) and bilinearly in-plane (so 0.7 px apart leaves no beading); the fraction is the summed volume over the voxel's volume, clipped at 1."""
    nz, ny, nx = grid.shape
    if not len(segs):
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    px, dz = grid.px_mm, grid.dz_mm
    a, b, r = segs[:, :3], segs[:, 3:6], segs[:, 6]
    v = b - a
    ln = np.maximum(np.linalg.norm(v, axis=1), 1e-6)
    dxy = np.hypot(v[:, 0], v[:, 1]) / ln
    dzz = np.abs(v[:, 2]) / ln
    step = np.minimum(0.7 * px / np.maximum(dxy, 1e-3), 0.5 * dz / np.maximum(dzz, 1e-3))
    n = np.maximum(np.ceil(ln / step), 1).astype(np.int64)
    sid = np.repeat(np.arange(len(segs)), n)
    first = np.cumsum(n) - n
    t = (np.arange(len(sid)) - first[sid] + 0.5) / n[sid]
    pts = a[sid] + t[:, None] * v[sid]
    w = (np.pi * r * r * ln / n)[sid]
    m = np.clip(np.ceil(1.2 * (r / px) ** 2), 1, BALL_POINTS).astype(np.int64)[sid]
    x0, y0, z0 = float(grid.x_mm[0]), float(grid.y_mm[0]), float(grid.z_edges_mm[0])
    rs = r[sid]
    idx_parts, w_parts = [], []
    itype = np.int32 if nz * ny * nx < 2 ** 31 else np.int64  # sorting int32 is about twice as fast
    for k in range(BALL_POINTS):  # stencil point k serves the samples with more than k points
        sel = np.nonzero(m > k)[0]
        if not len(sel):
            break
        q = pts[sel] + _BALL[k] * rs[sel, None]
        wk = (w[sel] / m[sel]).astype(np.float32)
        kz = np.floor((q[:, 2] - z0) / dz).astype(np.int64)
        fx, fy = (q[:, 0] - x0) / px, (q[:, 1] - y0) / px
        ix, iy = np.floor(fx).astype(np.int64), np.floor(fy).astype(np.int64)
        ax, ay = (fx - ix).astype(np.float32), (fy - iy).astype(np.float32)
        for ddx, ddy, wt in ((0, 0, (1 - ax) * (1 - ay)), (1, 0, ax * (1 - ay)), (0, 1, (1 - ax) * ay), (1, 1, ax * ay)):
            jx, jy = ix + ddx, iy + ddy
            ok = (kz >= 0) & (kz < nz) & (jy >= 0) & (jy < ny) & (jx >= 0) & (jx < nx)
            idx_parts.append(((kz[ok] * ny + jy[ok]) * nx + jx[ok]).astype(itype))
            w_parts.append(wk[ok] * wt[ok])
    flat = np.concatenate(idx_parts)
    # summed per voxel by sorting the deposits (a whole-volume accumulator costs page faults all over 300 MB at 1.25 mm)
    idx, inv = np.unique(flat, return_inverse=True)
    vol = np.bincount(inv, weights=np.concatenate(w_parts), minlength=len(idx))
    frac = np.minimum(vol / (px * px * dz), 1.0).astype(np.float32)
    return idx.astype(np.int64), frac
