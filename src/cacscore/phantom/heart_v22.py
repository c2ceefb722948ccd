"""Anatomy v22's heart outline (session 24, wt32d; docs/phantom.md "(session 24, wt32d)").

v8-v20 paint the heart's layers (pericardium, epicardial fat, myocardium) once per ellipsoid of the union (three
ventricular ones, two atria, the left atrium's body), so every ellipsoid keeps its own pericardial line and fat ring:
an axial or coronal section shows a cluster of overlapping circles ("a bunch of grapes"), and at mid-ventricle the
section is an ellipse. v22 paints the same layers from one smooth field instead:

- the **myocardium** is the smooth union (polynomial smooth minimum, ``SMOOTH_MYO_MM``) of those shapes plus a right
  ventricle (``rv_shape``): a wide ellipsoid on the anterior-right face (phi -30..-90 of the heart's frame, where no
  coronary runs: the LAD lies at phi 15-35, the RCA in the AV groove and the left main / LCX on the left), which
  makes the mid-ventricular section a rounded triangle (flat front, convex left, the RV's crescent in front) and
  fills the creases between the ellipsoids;
- the **pericardium and the epicardial fat** are one envelope: the smooth union with a wide blend
  (``SMOOTH_ENVELOPE_MM``), so the sac bridges the grooves (which stay filled with fat, as in a real heart) instead of
  following each ellipsoid.

Everything render_heart paints after the outline (AV-groove fat ring, interventricular groove fat, chambers, collars,
the coronaries' sheaths, lumens and plaques) is v20's, so the coronary courses, their fat sheaths and the plaques are
unchanged; ``coronary_clearance`` measures how far each course lies from the new myocardium.
"""

from __future__ import annotations

import numpy as np

from cacscore.phantom.raster import Grid

SMOOTH_MYO_MM = 0.0
"""Blend width (mm) of the myocardium's smooth union: fills the creases between the ellipsoids (at most
SMOOTH_MYO_MM / 4 = 2 mm outward where two surfaces meet) while the AV groove's notch stays."""
SMOOTH_ENVELOPE_MM = 24.0
"""Blend width (mm) of the pericardial envelope (the fat layer's outer face and the sac): up to 6 mm outward where two
shapes' surfaces meet, enough to bridge the AV groove and the atria-ventricle creases with fat."""
RV_PHI_DEG = -62.0
"""Where the right ventricle bulges (degrees round the long axis, anatomy.heart_surface's phi: 0 anterior-superior,
-90 the acute margin)."""
RV_SEMI = (0.66, 0.6, 0.66)
"""The right ventricle's semi-axes as fractions of the heart's (long, e2, e3)."""
RV_OUT = 0.52
"""Its centre: this fraction of the ventricular ellipsoid's radius at RV_PHI_DEG out from the long axis."""
RV_U = 0.08
"""... and this fraction of the long semi-axis toward the apex (its base stays below the AV groove, u_av <= -0.38)."""


def rv_shape(heart_c: np.ndarray, axes: np.ndarray, semi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(centre, semi-axes in the heart's frame ``axes``) of v22's right ventricle."""
    a, b, c = (float(s) for s in semi)
    ph = np.deg2rad(RV_PHI_DEG)
    r = 1.0 / np.sqrt((np.cos(ph) / b) ** 2 + (np.sin(ph) / c) ** 2)
    n = np.cos(ph) * axes[1] + np.sin(ph) * axes[2]
    return heart_c + RV_U * a * axes[0] + RV_OUT * r * n, np.asarray(semi, float) * np.array(RV_SEMI)


def ellipsoid_distance(px: np.ndarray, py: np.ndarray, pz: np.ndarray, centre: np.ndarray, axes: np.ndarray,
                       semi: np.ndarray) -> np.ndarray:
    """First-order signed distance (mm, < 0 inside) to the ellipsoid: (rho - 1) / |grad rho| with rho its normalised
    radius; exact on the surface, -min(semi)..-max(semi) at the centre, within ~10 % a few mm off the surface (enough
    for a blend and for anti-aliasing). px, py, pz: 1-D or broadcastable arrays (patient mm); each axis' normalised
    coordinate is the sum of three terms computed on the small arrays first (speed: 6 whole-array passes per axis)."""
    g = h = None
    for k in range(3):
        s = float(semi[k])
        t = ((px - centre[0]) * np.float32(axes[k, 0] / s) + (py - centre[1]) * np.float32(axes[k, 1] / s)) \
            + (pz - centre[2]) * np.float32(axes[k, 2] / s)
        t *= t
        g = t.copy() if g is None else np.add(g, t, out=g)
        t *= np.float32(1.0 / (s * s))
        h = t if h is None else np.add(h, t, out=h)
    rho = np.sqrt(g, out=g)
    np.sqrt(h, out=h)
    np.maximum(h, np.float32(1e-6), out=h)
    out = rho - np.float32(1.0)
    out *= rho
    out /= h
    return out


def smooth_min(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum: min(a, b) - h^2 k / 4, h = max(k - |a - b|, 0) / k (equal to min where the two
    differ by more than k; at most k / 4 below it); k = 0: the plain minimum."""
    if k <= 0:
        return np.minimum(a, b)
    h = np.maximum(np.float32(k) - np.abs(a - b), np.float32(0.0)) / np.float32(k)
    return np.minimum(a, b) - h * h * np.float32(k / 4.0)


def outline_fields(grid: Grid, box: tuple[slice, slice, slice], myo_shapes: list, env_shapes: list, floor: float,
                   grows: tuple[float, ...], n_sub: int) -> tuple[np.ndarray, np.ndarray]:
    """Partial-volume coverage (nz_b, ny_b, nx_b) float32 of the v22 myocardium and of the envelope grown by each of
    ``grows`` (mm), on ``n_sub`` sub-slices per slab averaged to slabs; every layer cut flat ``grow`` below ``floor``.
    ``myo_shapes`` / ``env_shapes``: (centre, semi, frame rows) of the ellipsoids of the myocardium's and of the
    envelope's union. Returns (myocardium, envelopes (len(grows), nz_b, ny_b, nx_b))."""
    nx, ny = box[2].stop - box[2].start, box[1].stop - box[1].start
    px = grid.px_mm
    # below 1 mm pixels (512 px) the fields are computed on every other pixel and interpolated linearly (_upsample2):
    # they are smooth at the pixel scale, and the coverage is taken after (speed: the heart's box at 512 px, 1.25 mm,
    # is ~6 M voxels x 8 ellipsoids; v22 / v11 was 2.13 with full-resolution fields, bench/anatomy_version_speed.py)
    step = 2 if px < 1.0 else 1
    xs = (grid.x_mm[box[2].start] + step * px * np.arange(nx // step + 1 if step > 1 else nx)).astype(np.float32)
    ys = (grid.y_mm[box[1].start] + step * px * np.arange(ny // step + 1 if step > 1 else ny)).astype(np.float32)
    xs, ys = xs[None, None, :], ys[None, :, None]
    e = grid.z_edges_mm[box[0].start:box[0].stop + 1]
    nzb = len(e) - 1
    dz = grid.dz_mm / n_sub
    soft = np.float32(max(grid.px_mm, dz))
    myo = np.zeros((nzb, ny, nx), np.float32)
    env = np.zeros((len(grows),) + myo.shape, np.float32)
    chunk = max(1, 12 // n_sub)  # slabs per pass (memory: ~ chunk x n_sub x the box's slice x 6 arrays)
    for k0 in range(0, nzb, chunk):
        k1 = min(k0 + chunk, nzb)
        zs = (e[k0] + (np.arange((k1 - k0) * n_sub) + 0.5) * dz).astype(np.float32)[:, None, None]
        dm, de = _unions(xs, ys, zs, myo_shapes, env_shapes)
        if step > 1:
            dm, de = _upsample2(dm, ny, nx), _upsample2(de, ny, nx)
        below = np.float32(floor) - zs  # > 0 below the floor
        for out, field, grow in ((myo, dm, 0.0),) + tuple((env[i], de, g) for i, g in enumerate(grows)):
            f = np.maximum(field - np.float32(grow), below - np.float32(grow))
            cov = np.clip(np.float32(0.5) - f / soft, 0.0, 1.0)
            out[k0:k1] = cov.reshape(k1 - k0, n_sub, *cov.shape[1:]).mean(axis=1)
    return myo, env


def _upsample2(a: np.ndarray, ny: int, nx: int) -> np.ndarray:
    """(nz, ny, nx) from (nz, ny // 2 + 1, nx // 2 + 1) samples on every other pixel: even pixels the samples, odd ones
    the mean of their two neighbours (bilinear)."""
    out = np.empty((a.shape[0], a.shape[1], nx), np.float32)
    out[:, :, 0::2] = a[:, :, :(nx + 1) // 2]
    out[:, :, 1::2] = 0.5 * (a[:, :, :nx // 2] + a[:, :, 1:nx // 2 + 1])
    full = np.empty((a.shape[0], ny, nx), np.float32)
    full[:, 0::2] = out[:, :(ny + 1) // 2]
    full[:, 1::2] = 0.5 * (out[:, :ny // 2] + out[:, 1:ny // 2 + 1])
    return full


def _unions(px, py, pz, myo_shapes: list, env_shapes: list) -> tuple[np.ndarray, np.ndarray]:
    """(myocardium, envelope) fields: each shape's distance computed once (a shape in both lists is the same object)."""
    cache: dict[int, np.ndarray] = {}

    def dist(sh) -> np.ndarray:
        if id(sh) not in cache:
            c, sm, ax = sh
            cache[id(sh)] = ellipsoid_distance(px, py, pz, np.asarray(c, np.float32), np.asarray(ax, float),
                                               np.asarray(sm, float))
        return cache[id(sh)]

    out = []
    for shapes, k in ((myo_shapes, SMOOTH_MYO_MM), (env_shapes, SMOOTH_ENVELOPE_MM)):
        u = None
        for sh in shapes:
            u = dist(sh).copy() if u is None else smooth_min(u, dist(sh), k)
        out.append(u)
    return out[0], out[1]


def _union(px, py, pz, shapes: list, k: float) -> np.ndarray:
    """Smooth union (smooth_min with blend k) of the shapes' ellipsoid_distance fields."""
    out = None
    for c, sm, ax in shapes:
        d = ellipsoid_distance(px, py, pz, np.asarray(c, np.float32), np.asarray(ax, float), np.asarray(sm, float))
        out = d if out is None else smooth_min(out, d, k)
    return out


def coronary_clearance(myo_shapes: list, floor: float, points: np.ndarray) -> np.ndarray:
    """Signed distance (mm, > 0 outside) from each centreline point (n, 3) to a myocardium that is the smooth union of
    ``myo_shapes`` (SMOOTH_MYO_MM) cut at ``floor`` -- a coronary lies in the epicardial fat when this is >= its
    radius. v20's is the same with a hard union (k -> 0; pass its shapes to ``hard_clearance``)."""
    p = np.asarray(points, np.float32)
    dm = _union(p[:, 0], p[:, 1], p[:, 2], myo_shapes, SMOOTH_MYO_MM)
    return np.maximum(dm, np.float32(floor) - p[:, 2]).astype(float)


def hard_clearance(shapes: list, floor: float, points: np.ndarray) -> np.ndarray:
    """coronary_clearance for a hard union (v20's myocardium: the min of the shapes' distances)."""
    p = np.asarray(points, np.float32)
    d = np.min([ellipsoid_distance(p[:, 0], p[:, 1], p[:, 2], np.asarray(c, np.float32), np.asarray(ax, float),
                                   np.asarray(sm, float)) for c, sm, ax in shapes], axis=0)
    return np.maximum(d, np.float32(floor) - p[:, 2]).astype(float)
