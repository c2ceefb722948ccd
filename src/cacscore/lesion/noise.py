"""Image noise of a CT volume, estimated from the image itself (no acquisition metadata, no truth).

Session 17 (wt25c): the noise specks that the candidate scorer calls coronary on zero-calcium phantom patients come
from the noisiest scans (docs/lesion_scorer.md "(session 17, wt25c)"); a noise-aware minimum for small candidates
(``ClassifierConfig.noise_floor_k``, :func:`noise_floor`) needs the scan's noise sd, which this estimates.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

SOFT_TISSUE_HU = (-100.0, 150.0)
"""Windows whose mean lies in this range (fat-free soft tissue, blood, muscle) are read: homogeneous regions where
the local spread is the noise; windows across an edge (lung, bone, air) mostly fall outside it."""


def image_noise_hu(hu: np.ndarray, spacing_mm: Sequence[float], *, window_mm: float = 5.0, n_slices: int = 12,
                   tissue_hu: tuple[float, float] = SOFT_TISSUE_HU) -> float:
    """The noise sd (HU) of a (z, y, x) HU volume: the median, over square in-plane windows of ``window_mm`` whose
    mean lies in ``tissue_hu``, of the windows' sd, read on ``n_slices`` slices evenly spread over the middle half
    of the volume (the heart's level in a chest CT). nan when no window qualifies (e.g. an all-air volume).
    spacing_mm: (z, y, x) mm."""
    v = np.asarray(hu)
    if v.ndim != 3:
        raise ValueError(f"hu must be (z, y, x), got shape {v.shape}")
    nz = v.shape[0]
    lo, hi = nz // 4, max(nz // 4 + 1, (3 * nz + 3) // 4)
    ks = np.unique(np.linspace(lo, hi - 1, min(n_slices, hi - lo)).round().astype(int))
    w = max(3, int(round(window_mm / float(spacing_mm[1]))))
    sds = []
    for k in ks:
        s = v[k].astype(np.float64)
        m = ndimage.uniform_filter(s, w, mode="nearest")
        m2 = ndimage.uniform_filter(s * s, w, mode="nearest")
        sd = np.sqrt(np.clip(m2 - m * m, 0.0, None))
        ok = (m > tissue_hu[0]) & (m < tissue_hu[1])
        sds.append(sd[ok][::7])  # neighbouring windows overlap: every 7th is plenty for a median
    allsd = np.concatenate(sds) if sds else np.zeros(0)
    return float(np.median(allsd)) if allsd.size else float("nan")


def noise_floor(classes: np.ndarray, structure: np.ndarray, peak_hu: np.ndarray, area_mm2: np.ndarray,
                noise_sd: float, *, k: float, max_area_mm2: float, base_hu: float = 40.0) -> np.ndarray:
    """(n,) classes where the coronary members of every small, faint 3-D structure become non-coronary (0): a
    structure (``structure``: equal number = one 26-connected structure, ``Candidates.structure``) none of whose
    members (all of them, whatever their class) covers more than ``max_area_mm2`` on its slice and whose brightest
    voxel (``peak_hu``) stays below ``base_hu + k * noise_sd``: within k noise sds of the blood and soft tissue it
    lies in (base_hu, about 40 HU on a scan without contrast). What a noise speck is: at a noise sd of 60 HU the blood
    pool throws 1-5 mm^2 excursions above 130 HU with peaks up to about 290 HU (4 sds above 40 HU), and the MLP calls
    some of them coronary, while at 25 HU a 160 HU peak is 5 sds up and, on seeds 14001 + 13901, a small plaque
    (docs/lesion_scorer.md "(session 17, wt25c)"). ``noise_sd``: the scan's noise sd in HU (:func:`image_noise_hu`);
    nan leaves the classes as they are. ClassifierConfig.noise_floor_k."""
    cl, inv, big, peak, area = _small_structures("noise_floor", classes, structure, peak_hu, area_mm2, max_area_mm2,
                                                 noise_sd)
    if inv is None:
        return cl
    n = len(big)
    top = np.full(n, -np.inf)
    np.maximum.at(top, inv, peak)
    faint = ~big & (top < base_hu + k * float(noise_sd))
    cl[faint[inv] & (cl > 0)] = 0
    return cl


def noise_floor_mean(classes: np.ndarray, structure: np.ndarray, mean_hu: np.ndarray, area_mm2: np.ndarray,
                     noise_sd: float, *, k: float, max_area_mm2: float, base_hu: float = 40.0) -> np.ndarray:
    """(n,) classes where the coronary members of every small 3-D structure of noise-like density become
    non-coronary (0): a structure none of whose members (all of them, whatever their class) covers more than
    ``max_area_mm2`` on its slice and whose area-weighted mean HU (``mean_hu`` weighted by ``area_mm2`` over all its
    members: the mean of its voxels) stays below ``base_hu + k * noise_sd``. Why the mean and not only the peak
    (:func:`noise_floor`): the voxels that noise of sd s lifts over the 130 HU threshold from blood at 40 HU average
    40 + s x lambda((130 - 40) / s) (the truncated normal's mean; lambda the inverse Mills ratio: about 40 + 1.9 s at
    s = 60 HU, 40 + 2.4 s at 45 HU) whatever their number, so a large noise cluster keeps a low mean while its peak
    grows with its size; on dev seeds 14505 + 14508 + 14506 the 5-8 mm^2 noise clusters called coronary at image
    noise 60-67 HU averaged 1.6-2.4 sds above 40 HU and the true plaques at noise over 40 HU 3.0 or more
    (docs/lesion_scorer.md "(session 20, wt28b)"). ``noise_sd``: the scan's noise sd in HU (:func:`image_noise_hu`);
    nan leaves the classes as they are. ClassifierConfig.noise_floor_mean_k."""
    cl, inv, big, mean, area = _small_structures("noise_floor_mean", classes, structure, mean_hu, area_mm2,
                                                 max_area_mm2, noise_sd)
    if inv is None:
        return cl
    n = len(big)
    w = np.bincount(inv, weights=area * mean, minlength=n)
    a = np.bincount(inv, weights=area, minlength=n)
    smean = np.divide(w, a, out=np.full(n, np.inf), where=a > 0)
    faint = ~big & (smean < base_hu + k * float(noise_sd))
    cl[faint[inv] & (cl > 0)] = 0
    return cl


def _small_structures(who: str, classes, structure, hu, area_mm2, max_area_mm2: float, noise_sd: float):
    """What both floors share: (classes as a copy, each member's structure index or None when there is nothing to
    do (noise unknown or no coronary call), per structure whether a member covers more than max_area_mm2, the HU
    column and the areas as float arrays); a clear error when the columns disagree in length."""
    cl = np.asarray(classes, np.int64).copy()
    s = np.asarray(structure)
    col, area = np.asarray(hu, np.float64), np.asarray(area_mm2, np.float64)
    if not (cl.shape == s.shape == col.shape == area.shape):
        raise ValueError(f"{who}: classes {cl.shape}, structure {s.shape}, HU column {col.shape} and area_mm2 "
                         f"{area.shape} disagree")
    if not np.isfinite(noise_sd) or not (cl > 0).any():
        return cl, None, None, col, area
    _, inv = np.unique(s, return_inverse=True)
    big = np.zeros(int(inv.max()) + 1, bool)
    np.logical_or.at(big, inv, area > max_area_mm2)
    return cl, inv, big, col, area
