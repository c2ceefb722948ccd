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

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from cacscore.chest.anatomy import ChestAnatomy
from cacscore.chest.heart import HeartFinding, locate_heart
from cacscore.chest.hull import lungs_shareable, outside_thorax_mm, thorax_hull
from cacscore.chest.lungs import LungField, lung_field
from cacscore.scoring.agatston import agatston, agatston_weight
from cacscore.core.vessels import VESSELS
from cacscore.lesion.anatomy import SurfaceDistance, anatomy_columns
from cacscore.lesion.context import SHAPE_NAMES, shape_columns

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

BASE_FEATURE_NAMES: tuple[str, ...] = (
    "dz_mm", "dy_mm", "dx_mm", "r_inplane_mm", "dist_mm", "cos_inplane", "sin_inplane",
    "log_area_mm2", "peak_hu", "mean_hu", "log_agatston", "extent_y_mm", "extent_x_mm", "fill",
    "log_vol3d_mm3", "n_slices3d", "log_area3d_max_mm2",
    *(c[0] for c in _CONTEXT),
)
"""The candidate columns of every model before session 13 (and of lesion-train's default feature set)."""

FEATURE_NAMES: tuple[str, ...] = (*BASE_FEATURE_NAMES, *SHAPE_NAMES)
"""Columns of :attr:`Candidates.features`, in order. Positions are mm from the found heart centre
(dz superior, dy posterior, dx patient left); ``log_*`` are log1p; context features are fractions; then the
shape and side-tissue columns of cacscore.lesion.context (SHAPE_NAMES, appended: the base columns keep their
places, so tables cached before they existed still serve the base feature set)."""


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
    heart: the heart finding the positions refer to when the candidates found it themselves (None when the
    caller gave heart_index).
    anatomy: the chest anatomy the candidates were placed in (None: not read); anatomy_columns: (n,
    len(cacscore.lesion.anatomy.ANATOMY_NAMES)) each candidate's anatomical position (None without anatomy).
    lungs: the lung field (``cacscore.chest.lungs.lung_field``) the heart finder and hull used, when computed (the
    scan's checks reuse it: ``cacscore.predict.checks.anatomy_warnings``); None when not.
    structure: (n,) int64, the 3-D structure (26-connected candidate voxels) each candidate belongs to, as a number
    (equal number = one structure; ``cacscore.lesion.tree.vote_by_structure`` reads it); None when not known.
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
    heart: HeartFinding | None = None
    anatomy: ChestAnatomy | None = None
    anatomy_columns: np.ndarray | None = None
    lungs: LungField | None = None
    structure: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.features.shape[0])


def check_hu(hu: np.ndarray, spacing_mm: Sequence[float]) -> tuple[np.ndarray, tuple[float, float, float]]:
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


def _components(hu: np.ndarray, px_area: float, threshold_hu: float, min_area_mm2: float) -> np.ndarray:
    """(z, y, x) int32 candidate ids: every 8-connected component of ``hu >= threshold_hu`` in one axial slice of
    area >= min_area_mm2 (exactly that area kept), numbered 1.. in label order.

    Labelled slice by slice and numbered on (scipy numbers a component at its first pixel in raster order, so
    slice k's components follow slice k - 1's: the same ids as one 3-D label with an in-plane structure), and
    counted and renumbered at the above-threshold pixels only: on a 261-slice 512 x 512 chest CT 0.45 s instead
    of 1.9 s (the 3-D call and a bincount over every voxel)."""
    above = hu >= threshold_hu
    ids = np.zeros(above.shape, np.int32)
    st8 = np.ones((3, 3), bool)
    per_slice = np.array([ndimage.label(above[k], structure=st8, output=ids[k]) for k in range(above.shape[0])],
                         np.int64)
    n = int(per_slice.sum())
    flat = ids.reshape(-1)  # a view: ids is C-contiguous
    at = np.flatnonzero(above.reshape(-1))  # the labelled pixels (nonzero of a bool array: 10x an int32 one's speed)
    offset = np.concatenate([[0], np.cumsum(per_slice)[:-1]]).astype(np.int32)
    lab = flat[at] + offset[at // (above.shape[1] * above.shape[2])]
    counts = np.bincount(lab, minlength=n + 1)[1:]
    area = counts * px_area
    keep = (area >= min_area_mm2) | np.isclose(area, min_area_mm2, rtol=1e-9, atol=0.0)
    remap = np.zeros(n + 1, np.int32)
    remap[1:][keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    flat[at] = remap[lab]
    return ids


def _slice_stats(hu: np.ndarray, ids: np.ndarray, m: int, sp: tuple[float, float, float],
                 threshold_hu: float) -> dict[str, np.ndarray]:
    """Per candidate (m of them): centroid (cz, cy, cx voxel), peak and mean HU, in-plane extents, area, Agatston
    contribution, plus the voxel coordinates and ids (coords, cid) the later steps reuse."""
    at = np.flatnonzero(ids.reshape(-1) != 0)  # with unravel_index: np.nonzero's coordinates, in order, 4x faster
    coords = np.unravel_index(at, ids.shape)
    cid = ids.reshape(-1)[at]
    return _group_stats(coords, cid, hu[coords].astype(np.float64), m, sp, threshold_hu)


def _group_stats(coords: tuple[np.ndarray, ...], cid: np.ndarray, vals: np.ndarray, m: int,
                 sp: tuple[float, float, float], threshold_hu: float) -> dict[str, np.ndarray]:
    """:func:`_slice_stats` of m groups of voxels: coords (z, y, x) index arrays, cid (1..m) the group of each voxel,
    vals their HU (float64). Each group is taken to lie in one axial slice, as a candidate does."""
    dz, py, px = sp
    cnt = np.bincount(cid, minlength=m + 1)[1:].astype(np.float64)
    st = {"coords": coords, "cid": cid, "cnt": cnt}
    for name, axis in (("cz", 0), ("cy", 1), ("cx", 2)):
        st[name] = np.bincount(cid, weights=coords[axis], minlength=m + 1)[1:] / cnt
    st["mean_hu"] = np.bincount(cid, weights=vals, minlength=m + 1)[1:] / cnt
    peak = np.full(m + 1, -np.inf)
    np.maximum.at(peak, cid, vals)
    st["peak"] = peak[1:]
    for name, axis in (("ext_y", 1), ("ext_x", 2)):
        lo = np.full(m + 1, np.iinfo(np.int64).max)
        hi = np.full(m + 1, -1)
        np.minimum.at(lo, cid, coords[axis])
        np.maximum.at(hi, cid, coords[axis])
        st[name] = (hi[1:] - lo[1:] + 1).astype(np.float64)
    st["area"] = cnt * py * px
    st["score"] = st["area"] * np.asarray(agatston_weight(st["peak"], threshold_hu=threshold_hu), dtype=float) * dz / 3.0
    return st


SLICE_COLUMNS: tuple[str, ...] = (
    "dz_mm", "dy_mm", "dx_mm", "r_inplane_mm", "dist_mm", "cos_inplane", "sin_inplane",
    "log_area_mm2", "peak_hu", "mean_hu", "log_agatston", "extent_y_mm", "extent_x_mm", "fill")
"""The columns a candidate's own voxels in its slice decide (position from the heart reference, size, HU, Agatston,
extents, fill): :func:`slice_columns`. The others (3-D structure, tissue context, shape) need the whole volume."""


def slice_columns(st: dict[str, np.ndarray], heart_index: Sequence[float], spacing_mm: Sequence[float]
                  ) -> dict[str, np.ndarray]:
    """The :data:`SLICE_COLUMNS` of each candidate from its :func:`_slice_stats` (or :func:`_group_stats`), positions in
    mm from ``heart_index`` ((z, y, x) voxel). The one place these columns are computed: :func:`find_candidates` for
    candidates and :func:`voxel_group_columns` for any group of voxels (the pieces of ``cacscore.lesion.split``)."""
    dz, py, px = (float(s) for s in spacing_mm)
    hz, hy, hx = (float(v) for v in heart_index)
    dzm, dym, dxm = (st["cz"] - hz) * dz, (st["cy"] - hy) * py, (st["cx"] - hx) * px
    r = np.hypot(dym, dxm)
    return {
        "dz_mm": dzm, "dy_mm": dym, "dx_mm": dxm, "r_inplane_mm": r,
        "dist_mm": np.sqrt(r ** 2 + dzm ** 2),
        "cos_inplane": np.where(r > 0, dxm / np.maximum(r, 1e-9), 0.0),
        "sin_inplane": np.where(r > 0, dym / np.maximum(r, 1e-9), 0.0),
        "log_area_mm2": np.log1p(st["area"]), "peak_hu": st["peak"], "mean_hu": st["mean_hu"],
        "log_agatston": np.log1p(st["score"]),
        "extent_y_mm": st["ext_y"] * py, "extent_x_mm": st["ext_x"] * px, "fill": st["cnt"] / (st["ext_y"] * st["ext_x"]),
    }


def voxel_group_columns(zyx: np.ndarray, hu: np.ndarray, group: np.ndarray, n: int, heart_index: Sequence[float],
                        spacing_mm: Sequence[float], threshold_hu: float) -> dict[str, np.ndarray]:
    """:data:`SLICE_COLUMNS` ((n,) each) of n groups of voxels, exactly as :func:`find_candidates` computes them for a
    candidate of each group's voxels: zyx (k, 3) int voxel indices (a group lies in one slice), hu (k,) their HU,
    group (k,) 0..n-1."""
    zyx = np.asarray(zyx, np.int64).reshape(-1, 3)
    st = _group_stats(tuple(zyx.T), np.asarray(group, np.int64) + 1, np.asarray(hu, np.float64), int(n),
                      tuple(float(s) for s in spacing_mm), threshold_hu)  # type: ignore[arg-type]
    return slice_columns(st, heart_index, spacing_mm)


def _structure3d(ids: np.ndarray, st: dict[str, np.ndarray], m: int, sp: tuple[float, float, float]
                 ) -> dict[str, np.ndarray]:
    """The 3-D structure (26-connected candidates) each candidate belongs to: its volume, slices spanned and
    largest slice area (bone and aortic calcium are long and large).

    A candidate is already 8-connected in its slice, so a 3-D structure is the candidates joined by touching
    voxels in the next slice (the 9 voxels above each one): those pairs, found at the candidates' voxels only, are
    the edges of a graph whose connected components (scipy.sparse.csgraph) are the structures. The same structures
    as a 26-connected ndimage.label of ids > 0, which passes over every voxel (0.5-1 s on a 261-slice CT; this
    0.3 s); test_lesions compares the two."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    coords, cid, area = st["coords"], st["cid"], st["area"]
    nz, ny, nx = ids.shape
    z, y, x = coords
    low = z + 1 < nz
    above = np.ravel_multi_index((z[low] + 1, y[low], x[low]), ids.shape)  # the voxel straight above
    a_all, y_low, x_low = cid[low], y[low], x[low]
    inside_y = {-1: y_low > 0, 0: None, 1: y_low < ny - 1}
    inside_x = {-1: x_low > 0, 0: None, 1: x_low < nx - 1}
    flat = ids.reshape(-1)
    rows, cols = [np.zeros(0, np.int32)], [np.zeros(0, np.int32)]
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            masks = [mk for mk in (inside_y[dy], inside_x[dx]) if mk is not None]
            ok = np.logical_and.reduce(masks) if masks else slice(None)
            b = flat[above[ok] + dy * nx + dx]
            hit = b > 0
            a, b = a_all[ok][hit], b[hit]
            if len(a):  # consecutive voxels mostly repeat a pair: keep the first of each run (fewer edges)
                new = np.ones(len(a), bool)
                new[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
                rows.append(a[new])
                cols.append(b[new])
    r, c = np.concatenate(rows), np.concatenate(cols)
    n3, comp = connected_components(coo_matrix((np.ones(len(r), np.int8), (r, c)), shape=(m + 1, m + 1)),
                                    directed=False)
    c3 = comp[1:]  # the structure of each candidate
    vox3 = np.bincount(c3, weights=st["cnt"], minlength=n3)
    per3 = np.zeros(n3)
    np.maximum.at(per3, c3, area)
    zc = np.rint(st["cz"]).astype(np.int64)  # a candidate lies in one slice: its centroid's z is that slice
    zmin3 = np.full(n3, np.iinfo(np.int64).max)
    zmax3 = np.full(n3, -1)
    np.minimum.at(zmin3, c3, zc)
    np.maximum.at(zmax3, c3, zc)
    return {"structure": c3.astype(np.int64), "log_vol3d_mm3": np.log1p(vox3[c3] * sp[1] * sp[2] * sp[0]),
            "n_slices3d": (zmax3[c3] - zmin3[c3] + 1).astype(float),
            "log_area3d_max_mm2": np.log1p(per3[c3])}


def _tissue_context(hu: np.ndarray, st: dict[str, np.ndarray], sp: tuple[float, float, float],
                    which: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The _CONTEXT tissue fractions in boxes around the centroids of the candidates ``which`` selects (None: all;
    the others get 0). Summed-area tables are built only on the slices holding a selected centroid, cropped
    in-plane to the selected centroids' extent plus the largest box: every selected box lies inside the crop (or
    is clipped by the image edge as before), so its fraction is the whole-slice one exactly. On a 261-slice chest
    CT the tables were 3.9 s of 8.8 s of find_candidates (profiled), most for bone far from the heart."""
    py, px = sp[1], sp[2]
    ny, nx = hu.shape[1:]
    iz, iy, ix = (np.rint(st[a]).astype(np.int64) for a in ("cz", "cy", "cx"))
    iy, ix = np.clip(iy, 0, ny - 1), np.clip(ix, 0, nx - 1)
    sel = np.ones(len(iz), bool) if which is None else np.asarray(which, bool)
    out = {c[0]: np.zeros(len(iz), np.float32) for c in _CONTEXT}
    if not sel.any():
        return out
    iz, iy, ix = iz[sel], iy[sel], ix[sel]
    half = {side: (max(1, round(side / 2 / py)), max(1, round(side / 2 / px))) for side in {c[1] for c in _CONTEXT}}
    hy, hx = max(h[0] for h in half.values()), max(h[1] for h in half.values())
    y0, y1 = max(0, int(iy.min()) - hy), min(ny, int(iy.max()) + hy + 1)
    x0, x1 = max(0, int(ix.min()) - hx), min(nx, int(ix.max()) + hx + 1)
    zs = np.unique(iz)
    sub = hu[zs, y0:y1, x0:x1]  # only the slices with (selected) candidates, only where their boxes reach
    ziz = np.searchsorted(zs, iz)
    for lo, hi in sorted({(c[2], c[3]) for c in _CONTEXT}):
        s = _summed_area((sub >= lo) & (sub < hi))
        for name, side_mm, lo2, hi2 in _CONTEXT:
            if (lo2, hi2) == (lo, hi):
                out[name][sel] = _box_fractions(s, ziz, iy - y0, ix - x0, *half[side_mm])
        del s
    return out


def find_candidates(hu: np.ndarray, spacing_mm: Sequence[float], *, threshold_hu: float = 130.0,
                    min_area_mm2: float = 1.0, heart_index: Sequence[float] | None = None,
                    hull: np.ndarray | None = None, anatomy: ChestAnatomy | None = None,
                    lungs: LungField | None = None,
                    pericardium: SurfaceDistance | None = None,
                    context_where: Callable[[np.ndarray, np.ndarray, np.ndarray | None], np.ndarray] | None = None,
                    ) -> Candidates:
    """Calcium candidates of a (z, y, x) HU volume and their feature table.

    A candidate is a connected component (8-connectivity, one axial slice) of ``hu >= threshold_hu``
    with area >= ``min_area_mm2`` (a component of exactly that area is kept) - the lesion definition
    of ``cacscore.scoring.agatston.agatston``'s defaults. spacing_mm: (z, y, x) mm, z = slice spacing.
    heart_index: (z, y, x) voxel index of the heart centre; default ``cacscore.chest.heart.find_heart``, whose
    lung mask is then reused for the chest-wall hull (one lung mask per scan, same result).
    hull: the lung hull (:func:`thorax_hull`) when already known, e.g. ``Candidates.thorax_hull`` of the
    same scan before noise was added; default: computed here.
    anatomy: the scan's ``cacscore.chest.anatomy.read_chest``; when given, ``Candidates.anatomy_columns`` holds each
    candidate's anatomical position (``cacscore.lesion.anatomy.anatomy_columns``).
    context_where: a function of (features with the context columns 0, outside_thorax_mm, anatomy_columns) giving
    the (n,) bool candidates whose tissue context is computed (the others get 0 there; the features of the chosen
    ones are unchanged, exactly); for scoring, ``LesionModel.may_be_coronary``: the context of a candidate the rules
    call non-coronary (too far from the heart, outside the chest wall, ruled out by anatomy) cannot change a class.
    None: every candidate (training).
    lungs: the volume's ``cacscore.chest.lungs.lung_field`` when already computed (for the heart finder and the
    hull; kept in ``Candidates.lungs`` for the scan's other users). pericardium: the anatomy's
    ``cacscore.lesion.anatomy.pericardium_distance`` when already made.
    Raises LesionError for a non-3-D array, NaN/inf HU or a bad spacing.
    """
    hu, sp = check_hu(hu, spacing_mm)
    dz, py, px = sp
    heart = None
    if heart_index is None:
        lungs = lung_field(hu, sp) if lungs is None else lungs
        heart = locate_heart(hu, sp, lungs=lungs)
        heart_index = heart.index
    hz, hy, hx = (float(v) for v in heart_index)
    ids = _components(hu, py * px, threshold_hu, min_area_mm2)
    m = int(ids.max()) if ids.size else 0
    feats = np.zeros((m, len(FEATURE_NAMES)), np.float32)
    centre = (round(hz), round(hy), round(hx))
    if m == 0:
        return Candidates(ids, feats, centre, sp, float(threshold_hu), float(min_area_mm2), np.zeros(0), np.zeros(0),
                          hull, heart, anatomy, None if anatomy is None else anatomy_columns(anatomy, np.zeros((0, 3))),
                          lungs, np.zeros(0, np.int64))
    st = _slice_stats(hu, ids, m, sp, threshold_hu)
    cz, cy, cx = st["cz"], st["cy"], st["cx"]
    if hull is None:
        hull = thorax_hull(hu, sp, lungs=lungs if lungs_shareable(hu, lungs, sp) else None)
    centroids_mm = np.stack([cz * dz, cy * py, cx * px], axis=1)
    outside = outside_thorax_mm(hu, sp, centroids_mm, hull=hull)
    cols: dict[str, np.ndarray] = {**slice_columns(st, (hz, hy, hx), sp), **_structure3d(ids, st, m, sp)}
    context_for = None  # every candidate
    cols_anatomy = None if anatomy is None else anatomy_columns(anatomy, centroids_mm, pericardium=pericardium,
                                                                ids=ids, counts=st["cnt"], hu=hu,
                                                                structure=cols["structure"], peaks=st["peak"])
    if context_where is not None:
        ctx = {c[0] for c in _CONTEXT} | set(SHAPE_NAMES)
        for j, name in enumerate(FEATURE_NAMES):
            feats[:, j] = 0.0 if name in ctx else cols[name]
        context_for = np.asarray(context_where(feats, outside, cols_anatomy), bool)
    cols.update(_tissue_context(hu, st, sp, context_for))
    cols.update(shape_columns(hu, ids, st, sp, (hz, hy, hx), cols["structure"], context_for))
    for j, name in enumerate(FEATURE_NAMES):
        feats[:, j] = cols[name]
    assert np.isfinite(feats).all(), "candidate features must be finite"
    return Candidates(ids, feats, centre, sp, float(threshold_hu), float(min_area_mm2), st["score"], outside, hull,
                      heart, anatomy, cols_anatomy, lungs, cols["structure"])


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
    if not ids.flags.c_contiguous:
        return lut[ids]
    out = np.zeros(ids.shape, np.uint8)  # written at the candidates' voxels only: 3x faster than lut[ids]
    at = np.flatnonzero(ids.reshape(-1) != 0)
    out.reshape(-1)[at] = lut[ids.reshape(-1)[at]]
    return out


def score_assignment(hu: np.ndarray, candidates: Candidates, classes: np.ndarray, *,
                     labels: np.ndarray | None = None) -> dict[str, float]:
    """Per-vessel + total Agatston (cacscore.scoring.agatston.agatston) of the candidates assigned to vessels.
    labels: ``assign_labels(candidates.ids, classes)`` when the caller already made it."""
    labels = assign_labels(candidates.ids, classes) if labels is None else labels
    dz, py, px = candidates.spacing_mm
    res = agatston(hu, labels, pixel_spacing_mm=(py, px), slice_spacing_mm=dz,
                   threshold_hu=candidates.threshold_hu, min_area_mm2=candidates.min_area_mm2)
    return res.as_row()
