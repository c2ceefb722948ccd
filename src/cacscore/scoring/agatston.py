"""Classical Agatston and volume scores of coronary calcium, per vessel (risk categories: cacscore.core.categories).

numpy + scipy only. Conventions (defaults; see docs/scoring.md for the options and how public peers differ):

- threshold HU >= 130 (at 120 kVp);
- a lesion is a connected component of thresholded pixels in one axial slice (8-connectivity),
  restricted to one vessel's labels; components smaller than 1 mm^2 are noise and dropped;
- lesion score = area (mm^2) x weight of the lesion's peak HU (130-199 -> 1, 200-299 -> 2,
  300-399 -> 3, >= 400 -> 4), times the slice factor slice_spacing_mm / 3 mm;
- vessel score = sum of its lesions' scores; the total is scored on the union of the vessel labels,
  so it equals the vessel sum whenever lesions of different vessels do not touch;
- volume score = number of lesion voxels x pixel area x slice spacing (mm^3).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from cacscore.core.vessels import LABEL_OF, SCORE_COLUMNS, VESSEL_OF_LABEL, VESSELS

log = logging.getLogger(__name__)

KVP_THRESHOLDS_HU: dict[float, float] = {80.0: 167.0, 100.0: 147.0, 120.0: 130.0, 140.0: 119.0}
"""Tube-voltage dependent calcium thresholds (kVp -> HU), linearly interpolated in between and
clamped at the ends. 120 kVp -> 130 HU is Agatston's; 100 kVp -> 147 HU is the value used for
100 kVp calcium scoring in the literature; the 80 and 140 kVp values are approximate (see
docs/scoring.md). Used only when ``threshold_hu=None``."""

CONNECTIVITIES: tuple[str, ...] = ("2d", "3d")
SLICE_NORMALISATIONS: tuple[str, ...] = ("spacing", "thickness", "none")
REFERENCE_SLICE_MM: float = 3.0
"""Agatston's original slice thickness; scores of other slice spacings are scaled by spacing / 3 mm."""


class ScoringError(ValueError):
    """Bad input to the scorer: wrong shapes, spacing <= 0, NaN HU, unknown option."""


@dataclass(frozen=True)
class Lesion:
    """One scored lesion.

    slice: index along z of the lesion (2-D mode) or of its lowest slice (3-D mode).
    vessel: one of VESSELS. area_mm2: lesion area (3-D mode: summed over its slices).
    peak_hu: maximum HU inside the lesion. weight: Agatston weight of peak_hu.
    score: area_mm2 x weight x slice factor (Agatston units). n_voxels: number of voxels.
    """

    slice: int
    vessel: str
    area_mm2: float
    peak_hu: float
    weight: int
    score: float
    n_voxels: int = 0


@dataclass(frozen=True)
class AgatstonResult:
    """Scores of one scan. Dict keys follow VESSELS (plus "total" where stated)."""

    per_vessel: dict[str, float]
    total: float
    volume_mm3: dict[str, float]
    lesion_count: dict[str, int]
    lesions: list[Lesion]
    threshold_hu: float = 130.0
    slice_factor: float = 1.0

    def as_row(self) -> dict[str, float]:
        """Scores as one table row: {"LCA", "LAD", "LCX", "RCA", "total"} in Agatston units."""
        row = {v: float(self.per_vessel[v]) for v in VESSELS}
        row["total"] = float(self.total)
        assert tuple(row) == SCORE_COLUMNS
        return row


# ---------------------------------------------------------------- weights, thresholds, categories
def agatston_weight(peak_hu: float | np.ndarray, *, threshold_hu: float = 130.0) -> int | np.ndarray:
    """Agatston density weight of a lesion's peak HU.

    130-199 -> 1, 200-299 -> 2, 300-399 -> 3, >= 400 -> 4; below ``threshold_hu`` -> 0. With a
    threshold other than 130 (kVp-adjusted, or a peer's 128), peaks from the threshold to 199 weigh 1.
    Scalar in, int out; array in, int array out.
    """
    arr = np.asarray(peak_hu, dtype=float)
    if np.isnan(arr).any():
        raise ScoringError(f"peak HU is NaN: {peak_hu!r}")
    w = np.where(arr >= 400, 4, np.where(arr >= 300, 3, np.where(arr >= 200, 2, 1)))
    w = np.where(arr >= threshold_hu, w, 0).astype(np.int64)
    return int(w) if w.ndim == 0 else w


def threshold_for_kvp(kvp: float) -> float:
    """Calcium threshold in HU for a tube voltage in kVp (interpolated in KVP_THRESHOLDS_HU)."""
    if not np.isfinite(kvp) or kvp <= 0:
        raise ScoringError(f"kvp must be a positive number, got {kvp!r}")
    keys = np.array(sorted(KVP_THRESHOLDS_HU))
    vals = np.array([KVP_THRESHOLDS_HU[k] for k in keys])
    return float(np.interp(kvp, keys, vals))


# ---------------------------------------------------------------- validation
def _positive(name: str, value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ScoringError(f"{name} must be a positive number, got {value!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise ScoringError(f"{name} must be a positive number, got {value!r}")
    return v


def _validate_labels(labels: np.ndarray) -> np.ndarray:
    if labels.dtype == bool:  # a bool mask has no vessel: refuse rather than call it all LCA
        raise ScoringError("labels must hold vessel labels 0..4, got a bool mask (use 1..4, see cacscore.core.vessels)")
    if not np.issubdtype(labels.dtype, np.integer):
        if not np.issubdtype(labels.dtype, np.floating):
            raise ScoringError(f"labels must be an integer array, got dtype {labels.dtype}")
        if not np.isfinite(labels).all() or (labels != np.round(labels)).any():
            raise ScoringError("labels must hold integer values 0..4 (found non-integer or NaN values)")
    lo, hi = labels.min(initial=0), labels.max(initial=0)
    if lo < 0 or hi > len(VESSELS):
        bad = np.unique(labels[(labels < 0) | (labels > len(VESSELS))])[:5]
        raise ScoringError(f"labels must be 0..{len(VESSELS)} (0 background, {LABEL_OF}), found {bad.tolist()}")
    return labels.astype(np.uint8, copy=False)


# ---------------------------------------------------------------- components (vectorised)
def _structure(connectivity: str) -> np.ndarray:
    if connectivity == "2d":  # 8-connectivity within each axial slice, never across slices
        s = np.zeros((3, 3, 3), dtype=bool)
        s[1] = True
        return s
    return np.ones((3, 3, 3), dtype=bool)  # 26-connectivity


@dataclass
class _Comps:
    """Per-component statistics (arrays of length n_components)."""

    count: np.ndarray
    peak: np.ndarray
    zmin: np.ndarray
    vessel: np.ndarray  # label value 1..4 (for union components: the minimum label)
    impure: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))


def _stats(ids: np.ndarray, n: int, hu_vals: np.ndarray, z: np.ndarray, lab_vals: np.ndarray) -> _Comps:
    """Statistics of components given their voxels: ids (1..n) per voxel, HU, z and vessel label."""
    index = np.arange(1, n + 1)
    count = np.bincount(ids, minlength=n + 1)[1:]
    if n == 0:
        e = np.zeros(0)
        return _Comps(count, e, e.astype(int), e.astype(int), np.zeros(0, bool))
    peak = np.asarray(ndimage.maximum(hu_vals, ids, index), dtype=float)
    zmin = np.asarray(ndimage.minimum(z, ids, index)).astype(np.int64)
    vmin = np.asarray(ndimage.minimum(lab_vals, ids, index)).astype(np.int64)
    vmax = np.asarray(ndimage.maximum(lab_vals, ids, index)).astype(np.int64)
    return _Comps(count, peak, zmin, vmin, vmin != vmax)


def _concat(a: _Comps, b: _Comps) -> _Comps:
    return _Comps(*(np.concatenate([getattr(a, k), getattr(b, k)]) for k in ("count", "peak", "zmin", "vessel")))


def _select(c: _Comps, keep: np.ndarray) -> _Comps:
    return _Comps(c.count[keep], c.peak[keep], c.zmin[keep], c.vessel[keep])


def _split_by_vessel(coords: tuple[np.ndarray, ...], hu_vals: np.ndarray, lab_vals: np.ndarray,
                     structure: np.ndarray) -> _Comps:
    """Per-vessel components of the given voxels (those of union components that mix vessels).

    The voxels of each vessel are placed in their own block along z, blocks separated by an empty
    slice, so one ``ndimage.label`` call on a small box finds the components of every vessel at once.
    """
    z, y, x = coords
    z0, y0, x0 = z.min(), y.min(), x.min()
    depth = int(z.max() - z0 + 2)  # one empty slice after each block keeps 3-D components apart
    box = np.zeros((depth * len(VESSELS), int(y.max() - y0 + 1), int(x.max() - x0 + 1)), dtype=bool)
    zz = (lab_vals.astype(np.int64) - 1) * depth + (z - z0)
    box[zz, y - y0, x - x0] = True
    lab, n = ndimage.label(box, structure=structure)
    ids = lab[zz, y - y0, x - x0]
    return _stats(ids, n, hu_vals, z, lab_vals)


# ---------------------------------------------------------------- the scorer
def agatston(hu: np.ndarray, labels: np.ndarray, *, pixel_spacing_mm: tuple[float, float],
             slice_spacing_mm: float, slice_thickness_mm: float | None = None,
             threshold_hu: float | None = 130.0, kvp: float | None = None,
             min_area_mm2: float = 1.0, min_area_px: int | None = None,
             connectivity: str = "2d", slice_normalisation: str = "spacing") -> AgatstonResult:
    """Per-vessel and total Agatston score, volume score and lesion table of one scan.

    hu: (z, y, x) Hounsfield units (any real dtype; NaN/inf rejected).
    labels: (z, y, x) integers 0..4 (0 background, 1 LCA, 2 LAD, 3 LCX, 4 RCA; see cacscore.core.vessels).
    pixel_spacing_mm: (row, column) spacing in mm, i.e. (y, x). slice_spacing_mm: distance between
    slice centres in mm. slice_thickness_mm: reconstructed thickness (needed only for
    slice_normalisation="thickness").
    threshold_hu: calcium threshold (HU >= threshold); None -> from ``kvp`` via KVP_THRESHOLDS_HU.
    min_area_mm2: lesions with a smaller area are dropped (a lesion of exactly this area is kept);
    min_area_px: if given, replaces min_area_mm2 by a minimum number of pixels (voxels in 3-D mode).
    connectivity: "2d" (8-connected within a slice) or "3d" (26-connected; the weight comes from the
    3-D lesion's peak and the minimum area applies to its summed area).
    slice_normalisation: factor applied to every lesion score: "spacing" -> slice_spacing_mm / 3,
    "thickness" -> slice_thickness_mm / 3, "none" -> 1.
    """
    hu = np.asarray(hu)
    labels = np.asarray(labels)
    if hu.ndim != 3:
        raise ScoringError(f"hu must be a 3-D (z, y, x) array, got shape {hu.shape}")
    if labels.shape != hu.shape:
        raise ScoringError(f"labels shape {labels.shape} does not match hu shape {hu.shape}")
    if not (np.issubdtype(hu.dtype, np.number) and not np.issubdtype(hu.dtype, np.complexfloating)):
        raise ScoringError(f"hu must be a real numeric array, got dtype {hu.dtype}")
    if np.issubdtype(hu.dtype, np.floating) and not np.isfinite(hu).all():
        raise ScoringError(f"hu holds {int((~np.isfinite(hu)).sum())} NaN or infinite values")
    try:
        py, px = pixel_spacing_mm
    except (TypeError, ValueError):
        raise ScoringError(f"pixel_spacing_mm must be (row, column) in mm, got {pixel_spacing_mm!r}") from None
    py, px = _positive("pixel_spacing_mm[0]", py), _positive("pixel_spacing_mm[1]", px)
    dz = _positive("slice_spacing_mm", slice_spacing_mm)
    thick = None if slice_thickness_mm is None else _positive("slice_thickness_mm", slice_thickness_mm)
    if connectivity not in CONNECTIVITIES:
        raise ScoringError(f"connectivity must be one of {CONNECTIVITIES}, got {connectivity!r}")
    if slice_normalisation not in SLICE_NORMALISATIONS:
        raise ScoringError(f"slice_normalisation must be one of {SLICE_NORMALISATIONS}, got {slice_normalisation!r}")
    if slice_normalisation == "spacing":
        factor = dz / REFERENCE_SLICE_MM
    elif slice_normalisation == "thickness":
        if thick is None:
            raise ScoringError("slice_normalisation='thickness' needs slice_thickness_mm")
        factor = thick / REFERENCE_SLICE_MM
    else:
        factor = 1.0
    if threshold_hu is None:
        if kvp is None:
            raise ScoringError("threshold_hu=None needs kvp (kVp-dependent threshold)")
        thr = threshold_for_kvp(kvp)
    else:
        thr = float(threshold_hu)
        if not np.isfinite(thr):
            raise ScoringError(f"threshold_hu must be finite, got {threshold_hu!r}")
    if min_area_px is not None and (int(min_area_px) != min_area_px or min_area_px < 1):
        raise ScoringError(f"min_area_px must be a positive integer, got {min_area_px!r}")
    if not np.isfinite(min_area_mm2) or min_area_mm2 < 0:
        raise ScoringError(f"min_area_mm2 must be >= 0, got {min_area_mm2!r}")
    labels = _validate_labels(labels)

    px_area = py * px
    structure = _structure(connectivity)
    cand = (hu >= thr) & (labels > 0)
    # Crop to the bounding box of candidate voxels: calcium is sparse, so labelling gets cheap.
    zs, ys, xs = (np.flatnonzero(cand.any(axis=ax)) for ax in ((1, 2), (0, 2), (0, 1)))
    if zs.size == 0:
        union = vessel = _Comps(*(np.zeros(0, dtype=t) for t in (np.int64, float, np.int64, np.int64)))
    else:
        box = (slice(zs[0], zs[-1] + 1), slice(ys[0], ys[-1] + 1), slice(xs[0], xs[-1] + 1))
        cand_b = cand[box]
        lab, n = ndimage.label(cand_b, structure=structure)
        coords = np.nonzero(cand_b)
        ids = lab[coords]
        hu_vals = hu[box][coords].astype(float)
        lab_vals = labels[box][coords]
        union = _stats(ids, n, hu_vals, coords[0], lab_vals)
        # Per-vessel lesions: a union component of one vessel is that vessel's lesion as is;
        # components that mix vessels are split by vessel (rare: only where vessels touch).
        vessel = _select(union, ~union.impure)
        if union.impure.any():
            sel = union.impure[ids - 1]
            split = _split_by_vessel(tuple(c[sel] for c in coords), hu_vals[sel], lab_vals[sel], structure)
            vessel = _concat(vessel, split)
        union.zmin = union.zmin + zs[0]
        vessel.zmin = vessel.zmin + zs[0]

    def keep(c: _Comps) -> _Comps:
        if min_area_px is not None:
            ok = c.count >= int(min_area_px)
        else:
            area = c.count * px_area
            ok = (area >= min_area_mm2) | np.isclose(area, min_area_mm2, rtol=1e-9, atol=0.0)
        return _select(c, ok)

    union, vessel = keep(union), keep(vessel)
    w_v = np.asarray(agatston_weight(vessel.peak, threshold_hu=thr)).reshape(-1)
    area_v = vessel.count * px_area
    score_v = area_v * w_v * factor
    w_u = np.asarray(agatston_weight(union.peak, threshold_hu=thr)).reshape(-1)
    score_u = union.count * px_area * w_u * factor

    nv = len(VESSELS) + 1
    per_label = np.bincount(vessel.vessel, weights=score_v, minlength=nv)
    vox_label = np.bincount(vessel.vessel, weights=vessel.count, minlength=nv)
    cnt_label = np.bincount(vessel.vessel, minlength=nv)
    voxel_mm3 = px_area * dz
    per_vessel = {v: float(per_label[LABEL_OF[v]]) for v in VESSELS}
    volume = {v: float(vox_label[LABEL_OF[v]] * voxel_mm3) for v in VESSELS}
    volume["total"] = float(union.count.sum() * voxel_mm3)
    count = {v: int(cnt_label[LABEL_OF[v]]) for v in VESSELS}
    count["total"] = int(union.count.size)

    order = np.lexsort((vessel.peak, vessel.zmin, vessel.vessel))
    lesions = [Lesion(slice=int(vessel.zmin[i]), vessel=VESSEL_OF_LABEL[int(vessel.vessel[i])],
                      area_mm2=float(area_v[i]), peak_hu=float(vessel.peak[i]), weight=int(w_v[i]),
                      score=float(score_v[i]), n_voxels=int(vessel.count[i])) for i in order]
    return AgatstonResult(per_vessel=per_vessel, total=float(score_u.sum()), volume_mm3=volume,
                          lesion_count=count, lesions=lesions, threshold_hu=thr, slice_factor=factor)
