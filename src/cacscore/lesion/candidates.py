"""Candidate-classification calcium scoring (non-gated chest CT, after Isgum et al. 2012).

Pipeline, at the series' native resolution:

1. :func:`find_candidates`: every connected component of ``hu >= threshold_hu`` in one axial slice
   (8-connectivity) of at least ``min_area_mm2`` - exactly the lesions ``cacscore.scoring.agatston.agatston``
   would score - with a feature table (position relative to the found heart centre, size, HU,
   Agatston contribution, the 3-D structure it belongs to, tissue context around it).
2. A small torch MLP (:class:`LesionModel`) classifies each candidate as 0 non-coronary, 1 LCA,
   2 LAD, 3 LCX, 4 RCA (``cacscore.core.vessels.LABEL_OF``). Saved as safetensors + JSON (never pickle).
3. :func:`score_volume`: the candidates' voxels get their predicted label
   (:func:`assign_labels`) and ``cacscore.scoring.agatston.agatston`` scores that label volume exactly.

Training targets come from a label volume (:func:`candidate_targets`): the phantom's vessel labels
or an annotator's calcium ROIs. Coordinates: arrays are (z, y, x), z ascending = inferior ->
superior, x = patient left, y = patient posterior (``cacscore.io.dicom`` conventions).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError
from torch import nn

from cacscore.core.fileio import WeightsFileError, atomic_path, atomic_write_text, load_safetensors
from cacscore.regress.preprocess import LungField, find_heart, lung_field, lung_mask
from cacscore.scoring.agatston import agatston, agatston_weight
from cacscore.core.vessels import VESSELS

log = logging.getLogger(__name__)

N_CLASSES = 1 + len(VESSELS)
CLASS_NAMES: tuple[str, ...] = ("non-coronary", *VESSELS)
"""Candidate classes: index 0 non-coronary, then the vessel labels 1..4 (LCA, LAD, LCX, RCA)."""

# Context boxes (side in mm) and tissue classes sampled around each candidate's centroid.
_CONTEXT: tuple[tuple[str, float, float, float], ...] = (
    # name, box side mm, HU low, HU high  (fraction of the box's pixels in [low, high))
    ("fat_8mm", 8.0, -200.0, -30.0),
    ("soft_8mm", 8.0, -30.0, 130.0),
    ("bright_8mm", 8.0, 130.0, np.inf),
    ("air_8mm", 8.0, -np.inf, -400.0),
    ("fat_24mm", 24.0, -200.0, -30.0),
    ("soft_24mm", 24.0, -30.0, 130.0),
    ("bright_24mm", 24.0, 130.0, np.inf),
    ("air_24mm", 24.0, -np.inf, -400.0),
    ("bright_60mm", 60.0, 130.0, np.inf),
    ("air_60mm", 60.0, -np.inf, -400.0),
)

FEATURE_NAMES: tuple[str, ...] = (
    "dz_mm", "dy_mm", "dx_mm", "r_inplane_mm", "dist_mm", "cos_inplane", "sin_inplane",
    "log_area_mm2", "peak_hu", "mean_hu", "log_agatston", "extent_y_mm", "extent_x_mm", "fill",
    "log_vol3d_mm3", "n_slices3d", "log_area3d_max_mm2",
    *(c[0] for c in _CONTEXT),
)
"""Columns of :attr:`Candidates.features`, in order. Positions are mm from the found heart centre
(dz superior, dy posterior, dx patient left); ``log_*`` are log1p; context features are fractions."""


class LesionError(ValueError):
    """Bad input to the candidate scorer (shape, NaN HU, spacing, model file)."""


@dataclass(frozen=True)
class Candidates:
    """Calcium candidates of one scan.

    ids: (z, y, x) int32, 0 = no candidate, k = candidate k (1-based; row k - 1 of ``features``).
    features: (n, len(FEATURE_NAMES)) float32, finite.
    heart_index: (z, y, x) voxel index of the heart centre the positions refer to.
    spacing_mm: (z, y, x) voxel spacing. threshold_hu, min_area_mm2: the Agatston settings used.
    agatston: (n,) each candidate's Agatston contribution (area x weight x slice spacing / 3).
    outside_thorax_mm: (n,) how far each centroid lies outside the convex hull of the lungs, in mm (< 0:
    inside; the chest wall - costal cartilage, sternum, ribs - is outside), nan where no lungs were found.
    thorax_hull: the (f, 4) lung hull those distances were measured from (:func:`thorax_hull`; (0, 4): none
    found), to reuse on a copy of the scan with the same lung field (e.g. noise added); None when not computed.
    """

    ids: np.ndarray
    features: np.ndarray
    heart_index: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    threshold_hu: float
    min_area_mm2: float
    agatston: np.ndarray
    outside_thorax_mm: np.ndarray | None = None
    thorax_hull: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.features.shape[0])


def _check_hu(hu: np.ndarray, spacing_mm: Sequence[float]) -> tuple[np.ndarray, tuple[float, float, float]]:
    hu = np.asarray(hu)
    if hu.ndim != 3:
        raise LesionError(f"hu must be a 3-D (z, y, x) array, got shape {hu.shape}")
    if min(hu.shape) < 1 or hu.shape[1] < 8 or hu.shape[2] < 8:
        raise LesionError(f"hu shape {hu.shape} is too small for a CT volume (need y, x >= 8)")
    if not np.issubdtype(hu.dtype, np.number) or np.issubdtype(hu.dtype, np.complexfloating):
        raise LesionError(f"hu must be a real numeric array, got dtype {hu.dtype}")
    if np.issubdtype(hu.dtype, np.floating) and not np.isfinite(hu).all():
        raise LesionError(f"hu holds {int((~np.isfinite(hu)).sum())} NaN or infinite values")
    try:
        sp = tuple(float(s) for s in spacing_mm)
    except (TypeError, ValueError):
        raise LesionError(f"spacing_mm must be (z, y, x) in mm, got {spacing_mm!r}") from None
    if len(sp) != 3 or not all(np.isfinite(s) and s > 0 for s in sp):
        raise LesionError(f"spacing_mm must be three positive numbers (z, y, x) in mm, got {spacing_mm!r}")
    return hu, sp  # type: ignore[return-value]


def _summed_area(ind: np.ndarray) -> np.ndarray:
    """(z, y + 1, x + 1) int32 summed-area tables of the (z, y, x) bool slices (a zero first row/column)."""
    nz, ny, nx = ind.shape
    s = np.zeros((nz, ny + 1, nx + 1), np.int32)
    np.cumsum(ind, axis=1, dtype=np.int32, out=s[:, 1:, 1:])
    np.cumsum(s[:, 1:, 1:], axis=2, out=s[:, 1:, 1:])
    return s


def _box_fractions(s: np.ndarray, cz: np.ndarray, cy: np.ndarray, cx: np.ndarray, half_y: int,
                   half_x: int) -> np.ndarray:
    """Fraction of True pixels in the in-plane box of half-sides (half_y, half_x) pixels around each
    (cz, cy, cx) (clipped at the image edge), from summed-area tables ``s`` of :func:`_summed_area`.
    Hand-written because scipy's uniform_filter would filter every pixel, not just the centroids."""
    ny, nx = s.shape[1] - 1, s.shape[2] - 1
    y0, y1 = np.clip(cy - half_y, 0, ny), np.clip(cy + half_y + 1, 0, ny)
    x0, x1 = np.clip(cx - half_x, 0, nx), np.clip(cx + half_x + 1, 0, nx)
    tot = s[cz, y1, x1] - s[cz, y0, x1] - s[cz, y1, x0] + s[cz, y0, x0]
    return (tot / np.maximum((y1 - y0) * (x1 - x0), 1)).astype(np.float32)


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
        lung = lung_mask(hu[::zs, ::st, ::st])
    elif lungs.step != st or lungs.mask.shape[0] != np.shape(hu)[0]:
        raise ValueError(f"thorax_hull: lungs were found on another grid (step {lungs.step}, {lungs.mask.shape[0]} "
                         f"slices; need step {st}, {np.shape(hu)[0]} slices)")
    else:
        lung = lungs.mask[::zs]  # lung_mask works slice by slice: the same as computing it on hu[::zs, ::st, ::st]
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


def _lungs_shareable(hu: np.ndarray, lungs: LungField | None, spacing_mm: Sequence[float]) -> bool:
    """Whether find_heart's lung field (made from float32 HU) is exactly the mask thorax_hull would compute from
    ``hu`` itself: same in-plane grid, and a float32 cast that cannot move a value across the -400 HU threshold
    (float32 or narrower floats, any integer type; float64 could, within 3e-5 HU of it)."""
    if lungs is None or lungs.step != _thorax_steps(spacing_mm, 4.0)[1]:
        return False
    return not (hu.dtype.kind == "f" and hu.dtype.itemsize > 4)


def find_candidates(hu: np.ndarray, spacing_mm: Sequence[float], *, threshold_hu: float = 130.0,
                    min_area_mm2: float = 1.0, heart_index: Sequence[float] | None = None,
                    hull: np.ndarray | None = None) -> Candidates:
    """Calcium candidates of a (z, y, x) HU volume and their feature table.

    A candidate is a connected component (8-connectivity, one axial slice) of ``hu >= threshold_hu``
    with area >= ``min_area_mm2`` (a component of exactly that area is kept) - the lesion definition
    of ``cacscore.scoring.agatston.agatston``'s defaults. spacing_mm: (z, y, x) mm, z = slice spacing.
    heart_index: (z, y, x) voxel index of the heart centre; default ``cacscore.regress.preprocess.find_heart``, whose
    lung mask is then reused for the chest-wall hull (one lung mask per scan, same result).
    hull: the lung hull (:func:`thorax_hull`) when already known, e.g. ``Candidates.thorax_hull`` of the
    same scan before noise was added; default: computed here.
    Raises LesionError for a non-3-D array, NaN/inf HU or a bad spacing.
    """
    hu, sp = _check_hu(hu, spacing_mm)
    dz, py, px = sp
    px_area = py * px
    lungs = None
    if heart_index is None:
        lungs = lung_field(hu, sp)
        heart_index = find_heart(hu, sp, lungs=lungs)
    hz, hy, hx = (float(v) for v in heart_index)
    mask = hu >= threshold_hu
    st2 = np.zeros((3, 3, 3), bool)
    st2[1] = True
    lab, n = ndimage.label(mask, structure=st2)
    counts = np.bincount(lab.ravel(), minlength=n + 1)[1:]
    area = counts * px_area
    keep = (area >= min_area_mm2) | np.isclose(area, min_area_mm2, rtol=1e-9, atol=0.0)
    remap = np.zeros(n + 1, np.int32)
    remap[1:][keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    ids = remap[lab]
    del lab
    m = int(keep.sum())
    feats = np.zeros((m, len(FEATURE_NAMES)), np.float32)
    if m == 0:
        return Candidates(ids, feats, (round(hz), round(hy), round(hx)), sp, float(threshold_hu),
                          float(min_area_mm2), np.zeros(0), np.zeros(0), hull)
    coords = np.nonzero(ids)
    cid = ids[coords]
    vals = hu[coords].astype(np.float64)
    cnt = np.bincount(cid, minlength=m + 1)[1:].astype(np.float64)
    cz = np.bincount(cid, weights=coords[0], minlength=m + 1)[1:] / cnt
    cy = np.bincount(cid, weights=coords[1], minlength=m + 1)[1:] / cnt
    cx = np.bincount(cid, weights=coords[2], minlength=m + 1)[1:] / cnt
    mean_hu = np.bincount(cid, weights=vals, minlength=m + 1)[1:] / cnt
    peak = np.full(m + 1, -np.inf)
    np.maximum.at(peak, cid, vals)
    peak = peak[1:]
    ymin = np.full(m + 1, np.iinfo(np.int64).max)
    ymax = np.full(m + 1, -1)
    xmin, xmax = ymin.copy(), ymax.copy()
    np.minimum.at(ymin, cid, coords[1])
    np.maximum.at(ymax, cid, coords[1])
    np.minimum.at(xmin, cid, coords[2])
    np.maximum.at(xmax, cid, coords[2])
    ext_y = (ymax[1:] - ymin[1:] + 1).astype(np.float64)
    ext_x = (xmax[1:] - xmin[1:] + 1).astype(np.float64)
    area = cnt * px_area
    score = area * np.asarray(agatston_weight(peak, threshold_hu=threshold_hu), dtype=float) * dz / 3.0
    # the 3-D structure each candidate belongs to (bone and aortic calcium are long and large)
    lab3, n3 = ndimage.label(ids > 0, structure=np.ones((3, 3, 3), bool))
    c3 = lab3[coords]
    vox3 = np.bincount(c3, minlength=n3 + 1)
    per3 = np.zeros(n3 + 1)
    np.maximum.at(per3, c3, area[cid - 1])  # largest slice area of the 3-D structure
    # slices spanned by each 3-D structure
    zmin3 = np.full(n3 + 1, np.iinfo(np.int64).max)
    zmax3 = np.full(n3 + 1, -1)
    np.minimum.at(zmin3, c3, coords[0])
    np.maximum.at(zmax3, c3, coords[0])
    first = np.zeros(m, np.int64)  # 3-D id of each candidate (a 2-D component lies in one 3-D one)
    first[cid - 1] = c3
    del lab3
    dzm, dym, dxm = (cz - hz) * dz, (cy - hy) * py, (cx - hx) * px
    if hull is None:
        hull = thorax_hull(hu, sp, lungs=lungs if _lungs_shareable(hu, lungs, sp) else None)
    outside = outside_thorax_mm(hu, sp, np.stack([cz * dz, cy * py, cx * px], axis=1), hull=hull)
    r = np.hypot(dym, dxm)
    cols: dict[str, np.ndarray] = {
        "dz_mm": dzm, "dy_mm": dym, "dx_mm": dxm, "r_inplane_mm": r,
        "dist_mm": np.sqrt(r ** 2 + dzm ** 2),
        "cos_inplane": np.where(r > 0, dxm / np.maximum(r, 1e-9), 0.0),
        "sin_inplane": np.where(r > 0, dym / np.maximum(r, 1e-9), 0.0),
        "log_area_mm2": np.log1p(area), "peak_hu": peak, "mean_hu": mean_hu, "log_agatston": np.log1p(score),
        "extent_y_mm": ext_y * py, "extent_x_mm": ext_x * px, "fill": cnt / (ext_y * ext_x),
        "log_vol3d_mm3": np.log1p(vox3[first] * px_area * dz),
        "n_slices3d": (zmax3[first] - zmin3[first] + 1).astype(float),
        "log_area3d_max_mm2": np.log1p(per3[first]),
    }
    iz, iy, ix = (np.rint(a).astype(np.int64) for a in (cz, cy, cx))
    iy = np.clip(iy, 0, hu.shape[1] - 1)
    ix = np.clip(ix, 0, hu.shape[2] - 1)
    zs = np.unique(iz)
    sub = hu[zs]  # only the slices with candidates
    ziz = np.searchsorted(zs, iz)
    for lo, hi in sorted({(c[2], c[3]) for c in _CONTEXT}):
        s = _summed_area((sub >= lo) & (sub < hi))
        for name, side_mm, lo2, hi2 in _CONTEXT:
            if (lo2, hi2) == (lo, hi):
                cols[name] = _box_fractions(s, ziz, iy, ix, max(1, round(side_mm / 2 / py)),
                                            max(1, round(side_mm / 2 / px)))
        del s
    for j, name in enumerate(FEATURE_NAMES):
        feats[:, j] = cols[name]
    assert np.isfinite(feats).all(), "candidate features must be finite"
    return Candidates(ids, feats, (round(hz), round(hy), round(hx)), sp, float(threshold_hu),
                      float(min_area_mm2), score, outside, hull)


def candidate_targets(candidate_ids: np.ndarray, labels: np.ndarray, *, min_fraction: float = 0.5) -> np.ndarray:
    """Reference class (0..4) of each candidate from a (z, y, x) label volume (0 = non-coronary).

    A candidate takes the vessel label held by most of its labelled voxels when at least
    ``min_fraction`` of its voxels are labelled (0.5: a majority; 0 < x <= 1e-9: any overlap);
    otherwise it is 0 (non-coronary). Returns (n,) int64, n = candidate_ids.max().
    """
    ids = np.asarray(candidate_ids)
    labels = np.asarray(labels)
    if ids.shape != labels.shape:
        raise LesionError(f"labels shape {labels.shape} does not match the candidate volume {ids.shape}")
    if not 0.0 <= min_fraction <= 1.0:
        raise LesionError(f"min_fraction must be in [0, 1], got {min_fraction!r}")
    n = int(ids.max()) if ids.size else 0
    if n == 0:
        return np.zeros(0, np.int64)
    sel = ids > 0
    cid = ids[sel].astype(np.int64)
    lab = labels[sel].astype(np.int64)
    if lab.min() < 0 or lab.max() >= N_CLASSES:
        raise LesionError(f"labels must be 0..{N_CLASSES - 1}, got values {lab.min()}..{lab.max()}")
    table = np.bincount(cid * N_CLASSES + lab, minlength=(n + 1) * N_CLASSES).reshape(n + 1, N_CLASSES)[1:]
    size = table.sum(1)
    best = 1 + np.argmax(table[:, 1:], axis=1)
    labelled = table[:, 1:].sum(1)
    ok = (labelled > 0) & (labelled >= min_fraction * size)
    return np.where(ok, best, 0).astype(np.int64)


def assign_labels(candidate_ids: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """(z, y, x) uint8 label volume: every voxel of candidate k gets ``classes[k - 1]`` (0..4)."""
    classes = np.asarray(classes)
    ids = np.asarray(candidate_ids)
    n = int(ids.max()) if ids.size else 0
    if classes.shape != (n,):
        raise LesionError(f"classes must have one entry per candidate ({n}), got shape {classes.shape}")
    if n and (classes.min() < 0 or classes.max() >= N_CLASSES):
        raise LesionError(f"classes must be 0..{N_CLASSES - 1}")
    lut = np.zeros(n + 1, np.uint8)
    lut[1:] = classes
    return lut[ids]


def score_assignment(hu: np.ndarray, candidates: Candidates, classes: np.ndarray) -> dict[str, float]:
    """Per-vessel + total Agatston (cacscore.scoring.agatston.agatston) of the candidates assigned to vessels."""
    labels = assign_labels(candidates.ids, classes)
    dz, py, px = candidates.spacing_mm
    res = agatston(hu, labels, pixel_spacing_mm=(py, px), slice_spacing_mm=dz,
                   threshold_hu=candidates.threshold_hu, min_area_mm2=candidates.min_area_mm2)
    return res.as_row()


# ------------------------------------------------------------------ classifier
_DIST = FEATURE_NAMES.index("dist_mm")


def _near(features: np.ndarray, max_distance_mm: float) -> np.ndarray:
    return features[:, _DIST] <= max_distance_mm


_DZ = FEATURE_NAMES.index("dz_mm")


@dataclass(frozen=True)
class ClassifierConfig:
    """MLP and training settings. hidden: widths of the hidden layers; class_weight_power: class
    weights = (n / count) ** power, normalised (0: none, 1: inverse frequency). max_distance_mm: candidates
    farther than this from the found heart centre are non-coronary by rule (never classified nor trained
    on; on 300 phantom patients at 512 px the farthest coronary candidate was 88 mm away, with heart
    finder errors up to 22 mm)."""

    hidden: tuple[int, ...] = (128, 64)
    dropout: float = 0.1
    epochs: int = 40
    batch_size: int = 512
    lr: float = 2e-3
    weight_decay: float = 1e-4
    class_weight_power: float = 0.5
    max_distance_mm: float = 110.0
    # candidates more than this far outside the lungs' convex hull (Candidates.outside_thorax_mm) are
    # non-coronary by rule, whatever the MLP says; None: no such rule. On the one real chest CT at hand
    # (LIDC-IDRI-0002) a phantom-trained model called calcified costal cartilage 9-17 mm outside the hull
    # "LAD"; the phantom's coronary candidates lie >= 13 mm inside it (docs/lesion_scorer.md)
    thorax_margin_mm: float | None = 5.0
    # candidates whose dz_mm (height above the heart centre) lies more than this outside the range of the
    # coronary training candidates (LesionModel.info["coronary_dz_mm"]) are non-coronary by rule: a model
    # trained on gated heart-only scans never saw the aortic arch of a whole-chest scan; None: no such rule
    z_margin_mm: float | None = 15.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"hidden must be positive widths, got {self.hidden!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        for name in ("thorax_margin_mm", "z_margin_mm"):
            v = getattr(self, name)
            if v is not None and not np.isfinite(v):
                raise ValueError(f"{name} must be a finite number or None, got {v!r}")
        if not self.max_distance_mm > 0:
            raise ValueError(f"max_distance_mm must be > 0, got {self.max_distance_mm!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0 or self.weight_decay < 0:
            raise ValueError(f"bad training settings: {self!r}")


class CandidateMLP(nn.Module):
    """(B, F) standardised features -> (B, 5) class logits."""

    def __init__(self, n_features: int, hidden: Sequence[int], dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        w = n_features
        for h in hidden:
            layers += [nn.Linear(w, int(h)), nn.ReLU(), nn.Dropout(dropout)]
            w = int(h)
        layers.append(nn.Linear(w, N_CLASSES))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, 5)


@dataclass
class LesionModel:
    """A trained candidate classifier with its feature standardisation and settings."""

    net: CandidateMLP
    mean: np.ndarray  # (F,)
    std: np.ndarray  # (F,)
    config: ClassifierConfig
    feature_names: tuple[str, ...] = FEATURE_NAMES
    threshold_hu: float = 130.0
    min_area_mm2: float = 1.0
    info: dict = field(default_factory=dict)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """(n, F) features -> (n, 5) class probabilities (float32)."""
        f = np.asarray(features, np.float32)
        if f.ndim != 2 or f.shape[1] != len(self.feature_names):
            raise LesionError(f"features must be (n, {len(self.feature_names)}), got shape {f.shape}")
        if f.shape[0] == 0:
            return np.zeros((0, N_CLASSES), np.float32)
        out = np.zeros((f.shape[0], N_CLASSES), np.float32)
        out[:, 0] = 1.0
        near = _near(f, self.config.max_distance_mm) & self.in_coronary_z_range(f)
        if near.any():
            x = torch.from_numpy((f[near] - self.mean) / self.std)
            self.net.eval()
            with torch.no_grad():
                out[near] = torch.softmax(self.net(x), dim=1).numpy()
        return out

    def in_coronary_z_range(self, features: np.ndarray) -> np.ndarray:
        """(n,) bool: dz_mm within the coronary training candidates' range +- config.z_margin_mm (all True for
        a model saved without that range, or with z_margin_mm None)."""
        f = np.asarray(features)
        zr, m = self.info.get("coronary_dz_mm"), self.config.z_margin_mm
        if zr is None or m is None:
            return np.ones(f.shape[0], bool)
        return (f[:, _DZ] >= float(zr[0]) - m) & (f[:, _DZ] <= float(zr[1]) + m)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """(n, F) features -> (n,) classes 0..4."""
        return np.argmax(self.predict_proba(features), axis=1).astype(np.int64)

    def classify(self, features: np.ndarray, outside_thorax_mm: np.ndarray | None) -> np.ndarray:
        """(n,) classes 0..4 of candidates as the product assigns them: :meth:`predict`, then the chest-wall rule
        (config.thorax_margin_mm) on their ``Candidates.outside_thorax_mm``; None: no rule."""
        classes = self.predict(features)
        margin = self.config.thorax_margin_mm
        if margin is not None and outside_thorax_mm is not None:
            classes[np.asarray(outside_thorax_mm) > margin] = 0  # nan (no lungs found) compares False: no rule
        return classes


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_classifier(features: np.ndarray, targets: np.ndarray, *, config: ClassifierConfig = ClassifierConfig(),
                     sample_weight: np.ndarray | None = None, threshold_hu: float = 130.0,
                     min_area_mm2: float = 1.0) -> LesionModel:
    """Train the MLP on (n, F) candidate features and (n,) classes 0..4 (cross-entropy with class
    weights, AdamW, cosine learning rate). sample_weight: optional (n,) extra per-candidate weight."""
    f = np.asarray(features, np.float32)
    y = np.asarray(targets, np.int64)
    if f.ndim != 2 or f.shape[1] != len(FEATURE_NAMES) or y.shape != (f.shape[0],):
        raise LesionError(f"need features (n, {len(FEATURE_NAMES)}) and targets (n,), got {f.shape} and {y.shape}")
    if f.shape[0] == 0 or not np.isfinite(f).all():
        raise LesionError("training features are empty or hold NaN/inf")
    if y.min() < 0 or y.max() >= N_CLASSES:
        raise LesionError(f"targets must be 0..{N_CLASSES - 1}")
    sw = np.ones(len(y), np.float32) if sample_weight is None else np.asarray(sample_weight, np.float32)
    near = _near(f, config.max_distance_mm)
    n_far_coronary = int((y[~near] > 0).sum())
    if n_far_coronary:
        log.warning("%d coronary training candidates lie beyond max_distance_mm=%g and are dropped",
                    n_far_coronary, config.max_distance_mm)
    f, y, sw = f[near], y[near], sw[near]
    if len(y) == 0:
        raise LesionError(f"no training candidate within max_distance_mm={config.max_distance_mm:g} of the heart")
    mean = f.mean(0)
    std = f.std(0)
    std = np.where(std > 1e-6, std, 1.0).astype(np.float32)
    x = torch.from_numpy((f - mean) / std)
    yt = torch.from_numpy(y)
    counts = np.bincount(y, minlength=N_CLASSES).astype(np.float64)
    cw = np.where(counts > 0, (len(y) / np.maximum(counts, 1)) ** config.class_weight_power, 0.0)
    cw = cw / (cw[counts > 0].mean())
    w = torch.from_numpy((cw[y] * sw).astype(np.float32))
    # a tiny MLP: one thread is fastest, and on a busy machine torch's default (all cores) spins ~20x slower
    # (38 s against 1.9 s measured on 2 cores); the caller's RNG and thread count are left as they were
    with torch.random.fork_rng(devices=[]), _torch_threads(1):
        gen = torch.Generator().manual_seed(config.seed)
        torch.manual_seed(config.seed)  # weight init; only the module's own parameters use it
        net = CandidateMLP(f.shape[1], config.hidden, config.dropout)
        opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        steps = config.epochs * math.ceil(len(y) / config.batch_size)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1))
        loss_fn = nn.CrossEntropyLoss(reduction="none")
        net.train()
        last = float("nan")
        for epoch in range(config.epochs):
            perm = torch.randperm(len(y), generator=gen)
            tot, wsum = 0.0, 0.0
            for i in range(0, len(y), config.batch_size):
                b = perm[i:i + config.batch_size]
                loss_v = loss_fn(net(x[b]), yt[b])
                loss = (loss_v * w[b]).sum() / w[b].sum().clamp_min(1e-12)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                tot += float((loss_v * w[b]).sum().detach())
                wsum += float(w[b].sum())
            last = tot / max(wsum, 1e-12)
            log.debug("lesion classifier epoch %d loss %.4f", epoch + 1, last)
    net.eval()
    cor = y > 0
    info = {"n_train": len(y), "n_far_coronary_dropped": n_far_coronary, "class_counts": counts.astype(int).tolist(),
            "final_loss": last,
            "coronary_dz_mm": [float(f[cor, _DZ].min()), float(f[cor, _DZ].max())] if cor.any() else None}
    return LesionModel(net, mean.astype(np.float32), std, config, FEATURE_NAMES, float(threshold_hu),
                       float(min_area_mm2), info)


def save_model(model: LesionModel, out_dir: str | Path) -> Path:
    """Write ``model.safetensors`` (weights, mean, std) and ``model.json`` (config, feature names,
    Agatston settings) into ``out_dir`` atomically; returns out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {f"net.{k}": v.detach().contiguous().clone() for k, v in model.net.state_dict().items()}
    tensors["feature_mean"] = torch.from_numpy(np.ascontiguousarray(model.mean, np.float32))
    tensors["feature_std"] = torch.from_numpy(np.ascontiguousarray(model.std, np.float32))
    with atomic_path(out / "model.safetensors") as tmp:
        save_file(tensors, str(tmp))
    cfg = {"kind": "cacscore.lesions.CandidateMLP", "version": 1, "config": asdict(model.config),
           "feature_names": list(model.feature_names), "class_names": list(CLASS_NAMES),
           "threshold_hu": model.threshold_hu, "min_area_mm2": model.min_area_mm2, "info": model.info}
    atomic_write_text(out / "model.json", json.dumps(cfg, indent=2) + "\n")
    return out


def load_model(model_dir: str | Path) -> LesionModel:
    """Read a model written by :func:`save_model` (safetensors only; nothing is unpickled).

    Raises LesionError naming the file and the problem: a missing file, model.json that is not JSON, not a
    JSON object or not a lesion classifier's, weights that are not a readable safetensors file, hold NaN/inf
    (``cacscore.core.fileio.load_safetensors``), lack a tensor or do not fit the config.
    """
    d = Path(model_dir)
    jpath, wpath = d / "model.json", d / "model.safetensors"
    for p in (jpath, wpath):
        if not p.is_file():
            raise LesionError(f"{p}: missing (a lesion model folder holds model.json and model.safetensors)")
    try:
        cfg = json.loads(jpath.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise LesionError(f"{jpath}: not valid JSON (not UTF-8 text: {e.reason})") from None
    except json.JSONDecodeError as e:
        raise LesionError(f"{jpath}: not valid JSON ({e})") from None
    if not isinstance(cfg, dict):
        raise LesionError(f"{jpath}: not a lesion classifier (a JSON {type(cfg).__name__}, not an object)")
    if cfg.get("kind") != "cacscore.lesions.CandidateMLP":
        raise LesionError(f"{jpath}: not a lesion classifier (kind {cfg.get('kind')!r})")
    try:
        names = tuple(cfg["feature_names"])
        if names != FEATURE_NAMES:
            raise LesionError(f"{jpath}: feature names differ from this version's "
                              f"({len(names)} vs {len(FEATURE_NAMES)})")
        c = dict(cfg["config"])
        c["hidden"] = tuple(c["hidden"])
        config = ClassifierConfig(**c)
        threshold_hu, min_area_mm2 = float(cfg["threshold_hu"]), float(cfg["min_area_mm2"])
        info = dict(cfg.get("info") or {})
    except LesionError:
        raise
    except KeyError as e:
        raise LesionError(f"{jpath}: broken lesion classifier config (no {e})") from None
    except (TypeError, ValueError) as e:
        raise LesionError(f"{jpath}: broken lesion classifier config ({' '.join(str(e).split())})") from None
    try:
        tensors = load_safetensors(wpath)  # names the file: garbage, truncated, NaN/inf weights
    except WeightsFileError as e:
        raise LesionError(str(e)) from None
    for key in ("feature_mean", "feature_std"):
        if key not in tensors:
            raise LesionError(f"{wpath}: no tensor {key!r} (not weights written by lesion-train)")
    net = CandidateMLP(len(names), config.hidden, config.dropout)
    state = {k[len("net."):]: v for k, v in tensors.items() if k.startswith("net.")}
    try:
        net.load_state_dict(state)
    except RuntimeError as e:
        raise LesionError(f"{wpath}: weights do not fit the config ({' '.join(str(e).split())[:300]})") from None
    mean, std = tensors["feature_mean"].numpy(), tensors["feature_std"].numpy()
    if mean.shape != (len(names),) or std.shape != (len(names),):
        raise LesionError(f"{wpath}: weights do not fit the config (feature_mean / feature_std of shape "
                          f"{tuple(mean.shape)} / {tuple(std.shape)}, want ({len(names)},))")
    net.eval()
    return LesionModel(net, mean, std, config, names, threshold_hu, min_area_mm2, info)


def classify_volume(hu: np.ndarray, spacing_mm: Sequence[float], model: LesionModel, *,
                    heart_index: Sequence[float] | None = None) -> tuple[Candidates, np.ndarray]:
    """The candidates of a (z, y, x) HU volume (with the model's Agatston settings) and each one's class
    (0 non-coronary, 1..4 = LCA, LAD, LCX, RCA). spacing_mm: (z, y, x) mm."""
    cand = find_candidates(hu, spacing_mm, threshold_hu=model.threshold_hu, min_area_mm2=model.min_area_mm2,
                           heart_index=heart_index)
    return cand, model.classify(cand.features, cand.outside_thorax_mm)


def score_volume(hu: np.ndarray, spacing_mm: Sequence[float], model: LesionModel, *,
                 heart_index: Sequence[float] | None = None) -> dict[str, float]:
    """Per-vessel Agatston of a (z, y, x) HU volume: candidates -> classes -> cacscore.scoring.agatston.agatston.

    spacing_mm: (z, y, x) mm. Returns {"LCA", "LAD", "LCX", "RCA", "total"} in Agatston units (slice
    factor = slice spacing / 3 mm, the project's convention).
    """
    cand, classes = classify_volume(hu, spacing_mm, model, heart_index=heart_index)
    return score_assignment(hu, cand, classes)
