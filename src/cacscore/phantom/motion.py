"""Non-gated cardiac motion: blur and ghosting of moving layers along per-vessel directions.

A non-gated helical scan acquires each slab at a random cardiac phase and integrates over a
window of about a third of a heart cycle. A layer (the heart, or one coronary with its calcium)
moves along a unit direction d (in-plane) as x(phi) = A/2 cos(2 pi phi) d; the slab image is the
mean of the static layer shifted to K sub-phases of its window: a smear when the window covers
the fast part of the cycle, a double image (ghost) when it covers both extremes. RCA and LCX move
most. Motion along z is not modelled (the slab is 5 mm thick).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cacscore.core.vessels import VESSELS

AMPLITUDE_SHARE = {"heart": 0.35, "LCA": 0.3, "LAD": 0.55, "LCX": 0.85, "RCA": 1.0}
"""Amplitude of each layer relative to the patient's motion amplitude (RCA moves most)."""


@dataclass(frozen=True)
class MotionPlan:
    """amplitude_mm: patient amplitude (0-10 mm); direction: layer -> unit (y, x); phase (nz,), window."""

    amplitude_mm: float
    direction: dict[str, tuple[float, float]]
    phase: np.ndarray
    window: float
    n_sub: int = 6


def draw_motion(rng: np.random.Generator, n_slices: int) -> MotionPlan:
    """Draw the patient's motion: amplitude U(0, 10) mm, a random in-plane direction per layer."""
    amp = float(rng.uniform(0.0, 10.0))
    dirs = {}
    for name in ("heart", *VESSELS):
        a = rng.uniform(0, 2 * np.pi)
        dirs[name] = (float(np.sin(a)), float(np.cos(a)))
    return MotionPlan(amp, dirs, rng.uniform(0, 1, n_slices), float(rng.uniform(0.25, 0.45)))


def _bilinear_weights(shifts: list[tuple[float, float]], w: float) -> dict[tuple[int, int], float]:
    """The integer-offset weights of the mean of bilinear shifts (each weighted w): sub-phases of one slab share
    most offsets, so adding each offset once is 2-4x fewer passes over the slab than one shift per sub-phase."""
    acc: dict[tuple[int, int], float] = {}
    for dy, dx in shifts:
        iy, ix = int(np.floor(dy)), int(np.floor(dx))
        fy, fx = dy - iy, dx - ix
        for oy, ox, ww in ((iy, ix, (1 - fy) * (1 - fx)), (iy + 1, ix, fy * (1 - fx)),
                           (iy, ix + 1, (1 - fy) * fx), (iy + 1, ix + 1, fy * fx)):
            if ww:
                acc[(oy, ox)] = acc.get((oy, ox), 0.0) + w * ww
    return acc


def _shift2d_add(out: np.ndarray, a: np.ndarray, weights: dict[tuple[int, int], float], at: tuple[int, int] = (0, 0),
                 tmp: np.ndarray | None = None) -> None:
    """out += sum over integer offsets (oy, ox) of weight * a shifted by them (zero fill), with a's pixel (0, 0) at
    out's ``at`` (out may be larger: a layer's box padded by the motion's reach). Hand-written because
    scipy.ndimage.shift per slice and sub-phase costs ~20x more for these small boxes. ``tmp``: scratch of a's
    shape (no temporary per offset)."""
    big_y, big_x = out.shape
    ny, nx = a.shape
    for (oy, ox), ww in weights.items():
        sy, sx = at[0] + oy, at[1] + ox  # a's (i, j) lands on out's (i + sy, j + sx)
        i0, i1, j0, j1 = max(0, -sy), min(ny, big_y - sy), max(0, -sx), min(nx, big_x - sx)
        if i1 <= i0 or j1 <= j0:
            continue
        src = a[i0:i1, j0:j1]
        w = np.float32(ww)
        if tmp is None:
            prod = w * src
        else:
            prod = np.multiply(src, w, out=tmp[:i1 - i0, :j1 - j0])
        out[i0 + sy:i1 + sy, j0 + sx:j1 + sx] += prod


def move_layer(diff: np.ndarray, z0: int, plan: MotionPlan, name: str, px_mm: float, *,
               shape: tuple[int, int] | None = None, at: tuple[int, int] = (0, 0)) -> np.ndarray:
    """The moving version of a layer diff (nz_b, ny_b, nx_b) whose first slab is grid slab z0; ``shape``: the
    in-plane shape of the result (default diff's), diff's pixel (0, 0) at ``at`` in it (the rest is zero before
    moving: the same as moving a zero-padded diff, without building it)."""
    amp = plan.amplitude_mm * AMPLITUDE_SHARE[name]
    if shape is None:
        shape = diff.shape[1:]
    if amp < 1e-3:
        if shape == diff.shape[1:]:
            return diff.copy()
        out = np.zeros((diff.shape[0], *shape), diff.dtype)
        out[:, at[0]:at[0] + diff.shape[1], at[1]:at[1] + diff.shape[2]] = diff
        return out
    dy, dx = plan.direction[name]
    out = np.zeros((diff.shape[0], *shape), diff.dtype)
    tmp = np.empty(diff.shape[1:], diff.dtype)
    k = np.arange(plan.n_sub)
    for z in range(diff.shape[0]):
        phases = plan.phase[z0 + z] + plan.window * (k + 0.5) / plan.n_sub
        disp = 0.5 * amp * np.cos(2 * np.pi * phases) / px_mm
        _shift2d_add(out[z], diff[z], _bilinear_weights([(d * dy, d * dx) for d in disp], 1.0 / plan.n_sub), at, tmp)
    return out
