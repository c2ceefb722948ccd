"""Shape and side tissue of calcium candidates (issue 16: mitral annular calcification, MAC, called LCX).

MAC lies 2-9 mm from the LCX course, so no position feature separates the two. What differs is
(a) the tissue right around the calcium: an LCX plaque sits in a vessel in epicardial fat, MAC in the fibrous
annulus between the left atrial and ventricular walls, with myocardium and blood pool (soft tissue) around it;
(b) the shape of its 3-D structure: MAC is a band along the annulus (long, often thick), a coronary plaque a spot or
short segment.

Columns (:data:`SHAPE_NAMES`), per candidate (one 8-connected component in one axial slice):

- ``ring_fat``, ``ring_soft``: fraction of fat (-200..-30 HU) and of soft tissue (-30..130 HU) among the pixels
  1-4 mm from the candidate, in its slice, that are nearer to it than to any other candidate (a 2-D ring: the
  same on 1 mm and 5 mm slices).
- ``inner_fat``, ``outer_fat``: ``ring_fat`` of the half of that ring facing the heart centre the positions are
  measured from, and of the half facing away.
- ``struct_length_mm``, ``struct_width_mm``, ``struct_thick_mm``: 4 x the square root of the eigenvalues
  (largest first) of the covariance of the candidate's 3-D structure's voxel centres in mm (the structure:
  26-connected candidates, ``Candidates.structure``); a uniform rod of length L gives L / sqrt(3) x 2 ~ 1.15 L.

Computed for the candidates a selection names (``find_candidates``' ``context_where``; all when None) that lie
within :data:`REACH_MM` of the heart centre, 0 elsewhere; a candidate's value does not depend on which others are
selected, so training (all) and scoring (the candidates the classifier is asked about) agree exactly.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

SHAPE_NAMES: tuple[str, ...] = ("ring_fat", "ring_soft", "inner_fat", "outer_fat",
                                "struct_length_mm", "struct_width_mm", "struct_thick_mm")

RING_MM: tuple[float, float] = (1.0, 4.0)
FAT_HU: tuple[float, float] = (-200.0, -30.0)
SOFT_HU: tuple[float, float] = (-30.0, 130.0)
REACH_MM = 115.0
"""Beyond this distance from the heart centre the ring columns are 0: no model reaches so far
(ClassifierConfig.max_distance_mm is 110), and it spares the ring search on the shoulders and abdomen."""


def structure_axes(st: dict[str, np.ndarray], structure: np.ndarray, sp: tuple[float, float, float]) -> np.ndarray:
    """(m, 3) length, width, thickness (mm, largest first) of each candidate's 3-D structure: 4 x sqrt of the
    eigenvalues of its voxel-centre covariance, from per-structure sums of the coordinates and their products
    (bincount; one batched eigvalsh), so it costs one pass over the candidate voxels."""
    cid = st["cid"]
    s3 = structure[cid - 1]
    n3 = int(structure.max()) + 1 if len(structure) else 0
    xyz = [np.asarray(c, np.float64) * s for c, s in zip(st["coords"], sp)]
    cnt = np.maximum(np.bincount(s3, minlength=n3), 1).astype(np.float64)  # a structure number may hold no voxel
    mean = np.stack([np.bincount(s3, weights=c, minlength=n3) for c in xyz], 1) / cnt[:, None]
    cov = np.empty((n3, 3, 3))
    for i in range(3):
        for j in range(i, 3):
            e = np.bincount(s3, weights=xyz[i] * xyz[j], minlength=n3) / cnt - mean[:, i] * mean[:, j]
            cov[:, i, j] = cov[:, j, i] = e
    # a voxel is a box, not a point: add its own variance (side^2 / 12) so a one-voxel structure has a size
    cov += np.diag([s * s / 12.0 for s in sp])[None]
    ev = np.linalg.eigvalsh(cov)[:, ::-1]
    return (4.0 * np.sqrt(np.clip(ev, 0.0, None)))[structure]


def ring_tissue(hu: np.ndarray, ids: np.ndarray, st: dict[str, np.ndarray], sp: tuple[float, float, float],
                heart_yx: tuple[float, float], which: np.ndarray) -> dict[str, np.ndarray]:
    """ring_fat, ring_soft, inner_fat, outer_fat (SHAPE_NAMES) of the candidates ``which`` selects (others 0).

    Per slice with a selected candidate: the in-plane distance transform of the candidate-free pixels (all
    candidates, selected or not) names each pixel's nearest candidate; the pixels at RING_MM from it are its ring.
    The transform runs on a crop: the selected candidates' box plus twice the ring's outer radius, which holds
    every candidate nearer than that to a ring pixel, so the crop changes no value."""
    m = len(st["cz"])
    out = {k: np.zeros(m, np.float32) for k in SHAPE_NAMES[:4]}
    if not which.any():
        return out
    py, px = sp[1], sp[2]
    cy, cx = st["cy"], st["cx"]
    coords, cid = st["coords"], st["cid"]
    on = which[cid - 1]  # voxels of selected candidates
    zsel, ysel, xsel = coords[0][on], coords[1][on], coords[2][on]
    my, mx = int(np.ceil(2 * RING_MM[1] / py)) + 1, int(np.ceil(2 * RING_MM[1] / px)) + 1
    ny, nx = ids.shape[1:]
    sums = {k: np.zeros(m + 1) for k in ("n", "fat", "soft", "n_in", "fat_in", "n_out", "fat_out")}
    for k in np.unique(zsel):
        at = zsel == k
        y0, y1 = max(0, int(ysel[at].min()) - my), min(ny, int(ysel[at].max()) + my + 1)
        x0, x1 = max(0, int(xsel[at].min()) - mx), min(nx, int(xsel[at].max()) + mx + 1)
        lab = ids[k, y0:y1, x0:x1]
        dist, (iy, ix) = ndimage.distance_transform_edt(lab == 0, sampling=(py, px), return_indices=True)
        ring = (dist >= RING_MM[0]) & (dist <= RING_MM[1])
        owner = lab[iy[ring], ix[ring]]
        keep = which[owner - 1]
        owner = owner[keep]
        v = hu[k, y0:y1, x0:x1][ring][keep]
        ry, rx = (np.nonzero(ring)[0][keep] + y0, np.nonzero(ring)[1][keep] + x0)
        fat = (v >= FAT_HU[0]) & (v < FAT_HU[1])
        soft = (v >= SOFT_HU[0]) & (v < SOFT_HU[1])
        # the side: the ring pixel's offset from its candidate's centroid against the centroid's offset from the
        # heart centre (in-plane, mm); > 0: the far side
        dot = ((ry - cy[owner - 1]) * py * (cy[owner - 1] - heart_yx[0]) * py
               + (rx - cx[owner - 1]) * px * (cx[owner - 1] - heart_yx[1]) * px)
        inner = dot < 0
        for name, w in (("n", None), ("fat", fat), ("soft", soft), ("n_in", inner), ("fat_in", fat & inner),
                        ("n_out", ~inner), ("fat_out", fat & ~inner)):
            sums[name] += np.bincount(owner, weights=None if w is None else w.astype(np.float64), minlength=m + 1)
    frac = lambda a, b: np.where(sums[b][1:] > 0, sums[a][1:] / np.maximum(sums[b][1:], 1), 0.0)
    out["ring_fat"], out["ring_soft"] = frac("fat", "n"), frac("soft", "n")
    out["inner_fat"], out["outer_fat"] = frac("fat_in", "n_in"), frac("fat_out", "n_out")
    return {k: v.astype(np.float32) for k, v in out.items()}


def shape_columns(hu: np.ndarray, ids: np.ndarray, st: dict[str, np.ndarray], sp: tuple[float, float, float],
                  heart_index: tuple[float, float, float], structure: np.ndarray,
                  which: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The SHAPE_NAMES columns (each (m,) float) of the m candidates: ``st`` is find_candidates' per-candidate
    statistics (centroids cz / cy / cx in voxels, voxel coords and ids), ``structure`` Candidates.structure.
    which: (m,) bool, the candidates to compute them for (None: all); the rest, and every candidate farther than
    REACH_MM from the heart centre, get 0."""
    m = len(st["cz"])
    hz, hy, hx = (float(v) for v in heart_index)
    d = np.sqrt(((st["cz"] - hz) * sp[0]) ** 2 + ((st["cy"] - hy) * sp[1]) ** 2 + ((st["cx"] - hx) * sp[2]) ** 2)
    sel = (np.ones(m, bool) if which is None else np.asarray(which, bool)) & (d <= REACH_MM)
    cols = ring_tissue(hu, ids, st, sp, (hy, hx), sel)
    axes = structure_axes(st, structure, sp)
    for j, name in enumerate(SHAPE_NAMES[4:]):
        cols[name] = np.where(sel, axes[:, j], 0.0).astype(np.float32)
    return cols


RING_HU_MM: tuple[float, float] = (1.0, 4.0)
RING_HU_SMOOTH_MM = 1.0


def ring_soft_hu(hu: np.ndarray, ids: np.ndarray, sp: tuple[float, float, float], which: np.ndarray) -> np.ndarray:
    """(m,) mean HU of the soft-tissue pixels (SOFT_HU) 1-4 mm in-plane (RING_HU_MM) from each candidate ``which``
    selects (others, and any without such a pixel, nan), in its slice smoothed by a Gaussian of RING_HU_SMOOTH_MM
    (sd, mm); pixels of any candidate left out. ``ids``: Candidates.ids (1-based, 0 none); which: (m,) bool.

    Why (session 19, wt27a; docs/lesion_scorer.md "(session 19, wt27a)"): mitral annulus calcium (MAC) and a plaque in
    a wide coronary lumen both sit in soft tissue (ring_soft > 0.65), but the plaque's soft ring is its vessel's
    lumen blood mixed with the fat sheath round it, MAC's the myocardium of the annulus: on dev seeds 14501 / 14503 /
    14504 the AU-weighted value was 32-35 HU on all six MAC structures called coronary and 3-18 HU on the eight
    soft-wrapped LCX / LCA plaques above the diaphragm (RCA plaques on the inferior wall 23-51 HU). The smoothing:
    noise sd up to 60 HU per pixel on thin noisy slices; each candidate alone (its own distance transform) so its
    value does not depend on which others are selected."""
    which = np.asarray(which, bool)
    out = np.full(len(which), np.nan)
    sel = np.flatnonzero(which) + 1
    if len(sel) == 0:
        return out
    py, px = float(sp[1]), float(sp[2])
    reach = RING_HU_MM[1] + 3 * RING_HU_SMOOTH_MM
    my, mx = int(np.ceil(reach / py)) + 1, int(np.ceil(reach / px)) + 1
    objs = ndimage.find_objects(ids, max_label=len(which))
    for k in sel:
        box = objs[k - 1]
        if box is None:
            continue
        z = box[0].start
        y0, y1 = max(0, box[1].start - my), min(ids.shape[1], box[1].stop + my)
        x0, x1 = max(0, box[2].start - mx), min(ids.shape[2], box[2].stop + mx)
        lab = ids[z, y0:y1, x0:x1]
        sm = ndimage.gaussian_filter(np.asarray(hu[z, y0:y1, x0:x1], np.float32),
                                     (RING_HU_SMOOTH_MM / py, RING_HU_SMOOTH_MM / px))
        dist = ndimage.distance_transform_edt(lab != k, sampling=(py, px))
        ring = (lab == 0) & (dist >= RING_HU_MM[0]) & (dist <= RING_HU_MM[1]) & (sm >= SOFT_HU[0]) & (sm < SOFT_HU[1])
        if ring.any():
            out[k - 1] = float(sm[ring].mean())
    return out
