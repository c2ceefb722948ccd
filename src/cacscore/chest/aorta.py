"""The aorta of a chest CT as a tube: a round blood-filled section tracked slice to slice.

Works on the coarse grid of :mod:`cacscore.chest.anatomy` (about 2.5 mm in-plane). In every slice a circle score
is computed for a few radii: the mean HU inside a disc minus the mean HU of the ring just outside it, less the
spread inside the disc. The aorta scores high with or without contrast (blood 30-60 HU against mediastinal fat
and lung; or contrast-filled lumen 200-500 HU against anything), a vertebral body scores low (a bright cortex
and a darker marrow give a large spread), and the heart scores low (no darker ring around a disc inside it).
Written with scipy's uniform filters rather than scikit-image's edge-based Hough transform: the disc-vs-ring
contrast uses the homogeneous interior as well as the edge (the descending aorta shares its posterior edge with
the spine, and the ascending aorta its lower edge with the heart, so an edge Hough loses a third of the circle),
and the project's environment does not carry scikit-image.

The descending aorta is seeded beside the spine above the diaphragm and followed up and down; the ascending
aorta is seeded in front of and to the right of it, between 40 mm above the dome and 15 mm under the top of the
descending track, the seed whose track rises highest winning (session 14), and followed down until it merges
with the heart: its lowest tracked point is the sinotubular junction, and the aortic root is placed under it
(:class:`cacscore.chest.anatomy.RootOptions`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

RADII_MM = (8.0, 11.0, 14.0, 17.0)
"""Aortic radii tried (mm): a normal descending aorta is 10-14 mm in radius, an ascending one 14-19 mm."""


@dataclass(frozen=True)
class TubeTrack:
    """One tracked stretch of the tube on the coarse grid: k (n,) slice indices (ascending), y, x (n,) centre
    in coarse pixels, radius_px (n,), score (n,) circle score (HU)."""

    k: np.ndarray
    y: np.ndarray
    x: np.ndarray
    radius_px: np.ndarray
    score: np.ndarray

    @property
    def n(self) -> int:
        return int(len(self.k))


SECTORS = 8
SECTORS_ALLOWED_TO_FAIL = 4
"""Of the 8 points sampled around the circle, this many may be as bright as the disc: without contrast the
descending aorta touches the spine behind, the left atrium in front and the oesophagus on its right, with fat or
lung only on its left (LIDC-IDRI-0002); where the score alone cannot tell the aorta from other round soft tissue,
the search regions of :mod:`cacscore.chest.anatomy` (beside the spine, left of the midline) and the slice-to-slice
tracking do."""


# Knuth's 19-comparator sorting network for 8 inputs: the order statistic of 8 arrays with elementwise min/max,
# without stacking them into one (8, z, y, x) array and partitioning it (2.5x faster on LIDC-IDRI-0003)
_NETWORK_8 = ((0, 2), (1, 3), (4, 6), (5, 7), (0, 4), (1, 5), (2, 6), (3, 7), (0, 1), (2, 3), (4, 5), (6, 7),
              (2, 4), (3, 5), (1, 4), (3, 6), (1, 2), (3, 4), (5, 6))


def _order_statistic_8(arrays: list[np.ndarray], k: int) -> np.ndarray:
    """The k-th smallest (0-based) of 8 same-shaped arrays, elementwise."""
    a = [x.copy() for x in arrays]
    for i, j in _NETWORK_8:
        lo = np.minimum(a[i], a[j])
        np.maximum(a[i], a[j], out=a[j])
        a[i] = lo
    return a[k]


def circle_scores(hu: np.ndarray, lung: np.ndarray, pixel_mm: float,
                  blood_hu: tuple[float, float] = (-60.0, 700.0)) -> tuple[np.ndarray, np.ndarray]:
    """(z, y, x) best circle score (HU) over RADII_MM and the radius (pixels) giving it, for a coarse HU volume.

    Score = mean(disc) - (the 5th-highest of 8 local means sampled 1.5 px outside the circle) - 1.5 * std(disc),
    with HU clipped to -200..700 (lung counts as fat: an edge against lung is no more circle than one against fat);
    -inf where over 30 % of the disc (a square: its corners) is lung or its mean is outside blood_hu (the
    blood of this scan, partial volume included: :func:`cacscore.chest.anatomy.blood_range`; without contrast it
    keeps the vertebral body, a fine circle of 250-350 HU, out). The disc is a square of
    the same area (scipy's separable uniform filter: a few ms per radius where a disc convolution takes 20 times
    longer, with the same ranking of round sections)."""
    x = np.clip(np.asarray(hu, np.float32), -200, 700)
    best = np.full(x.shape, -np.inf, np.float32)
    best_r = np.zeros(x.shape, np.float32)
    lungf = lung.astype(np.float32)
    local = ndimage.uniform_filter(x, size=(1, 3, 3))
    reach = int(np.ceil(max(RADII_MM) / pixel_mm + 1.5)) + 1
    padded = np.pad(local, ((0, 0), (reach, reach), (reach, reach)), constant_values=700.0)  # outside: bright
    ny, nx = x.shape[1:]
    angles = np.arange(SECTORS) * 2 * np.pi / SECTORS
    for r_mm in RADII_MM:
        r = r_mm / pixel_mm
        side = (1, max(1, int(round(r * np.sqrt(np.pi)))), max(1, int(round(r * np.sqrt(np.pi)))))
        m = ndimage.uniform_filter(x, size=side)
        m2 = ndimage.uniform_filter(x * x, size=side)
        lf = ndimage.uniform_filter(lungf, size=side)
        around = []
        for t in angles:
            dy, dx = int(round((r + 1.5) * np.sin(t))), int(round((r + 1.5) * np.cos(t)))
            around.append(padded[:, reach + dy:reach + dy + ny, reach + dx:reach + dx + nx])
        # the brightest SECTORS_ALLOWED_TO_FAIL samples are let fail: the ring is the next one down
        ring = _order_statistic_8(around, SECTORS - 1 - SECTORS_ALLOWED_TO_FAIL)
        sd = np.sqrt(np.maximum(m2 - m * m, 0))
        s = (m - ring - 1.5 * sd).astype(np.float32)
        s[(lf > 0.3) | (m < blood_hu[0]) | (m > blood_hu[1])] = -np.inf
        better = s > best
        best[better] = s[better]
        best_r[better] = r
    return best, best_r


def _best_in(score: np.ndarray, region: np.ndarray) -> tuple[int, int, float]:
    s = np.where(region, score, -np.inf)
    j = int(np.argmax(s))
    y, x = np.unravel_index(j, s.shape)
    return int(y), int(x), float(s[y, x])


def track(score: np.ndarray, radius: np.ndarray, k0: int, y0: int, x0: int, *, direction: int, k_stop: int,
          max_step_px: float, min_score: float, allowed: np.ndarray | None = None, max_gap: int = 3) -> TubeTrack:
    """Follow a circle from slice k0 (centre y0, x0) towards k_stop (direction +1 up, -1 down), each slice taking
    the best score within max_step_px of the previous centre, with a radius within 25 % of the previous one;
    stops where the best score stays under min_score for more than max_gap slices. allowed: (z, y, x) bool, where centres may lie."""
    nz, ny, nx = score.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    ks, ys, xs, rs, ss = [k0], [y0], [x0], [float(radius[k0, y0, x0])], [float(score[k0, y0, x0])]
    misses = 0
    k = k0 + direction
    while 0 <= k < nz and (k <= k_stop if direction > 0 else k >= k_stop):
        near = (yy - ys[-1]) ** 2 + (xx - xs[-1]) ** 2 <= max_step_px ** 2
        near &= np.abs(radius[k] - rs[-1]) <= 0.25 * rs[-1] + 0.6
        if allowed is not None:
            near &= allowed[k]
        y, x, s = _best_in(score[k], near)
        if np.isfinite(s) and s >= min_score:
            misses = 0
            ks.append(k); ys.append(y); xs.append(x); rs.append(float(radius[k, y, x])); ss.append(s)
        else:
            # bridge up to max_gap slices where the aorta touches the heart or the oesophagus on more sides than
            # the score allows: keep its last centre and radius, and drop the bridge if no circle follows it
            misses += 1
            if misses > max_gap:
                break
            ks.append(k); ys.append(ys[-1]); xs.append(xs[-1]); rs.append(rs[-1]); ss.append(np.nan)
        k += direction
    while misses and len(ks) > 1 and np.isnan(ss[-1]):
        for a in (ks, ys, xs, rs, ss):
            a.pop()
        misses -= 1
    order = np.argsort(ks)
    return TubeTrack(*(np.asarray(a, float)[order] for a in (ks, ys, xs, rs, ss)))


def join(a: TubeTrack, b: TubeTrack) -> TubeTrack:
    """Two tracks of the same tube (overlapping at their shared seed slice) as one, sorted by slice."""
    k = np.concatenate([a.k, b.k])
    _, first = np.unique(k, return_index=True)
    parts = [np.concatenate([getattr(a, f), getattr(b, f)])[first] for f in ("k", "y", "x", "radius_px", "score")]
    return TubeTrack(*parts)


def smooth_track(t: TubeTrack, size: int = 3) -> TubeTrack:
    """The track's centre and radius median-filtered along the slices (single-slice jumps removed)."""
    if t.n < size:
        return t
    f = [ndimage.median_filter(v, size=size, mode="nearest") for v in (t.y, t.x, t.radius_px)]
    return TubeTrack(t.k, f[0], f[1], f[2], t.score)
