"""The anatomy of one chest CT, read the way a radiologist reads it before judging calcium: body, lungs, the
bony thorax, the aorta as a tube, the diaphragm, and the heart inside its pericardium, each with a confidence and a
reason when it was not found. No training data and no weights: thresholds, connected structures, and a circle score
for the aorta (:mod:`cacscore.chest.aorta`).

Everything is found on a coarse grid of about 2.5 mm (every ``step_z``-th slice, every ``step_xy``-th pixel), which
keeps a 512 x 512 x 70 scan well under a second. Positions are in mm from voxel 0 of the full volume, (z, y, x),
z ascending = inferior -> superior, y = patient posterior, x = patient left (``cacscore.io.dicom`` conventions).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import ndimage

from cacscore.chest import aorta as tube
from cacscore.chest import cartilage as costal
from cacscore.chest import wall as chest_wall
from cacscore.io.dicom import Volume, hu_and_spacing

GRID_MM = 2.5
"""Target spacing (mm) of the coarse grid the anatomy is found on."""

BONE_HU = 180.0
"""Bony thorax threshold on the coarse grid: cortical and cancellous bone and calcified cartilage (>= 130 HU in
Agatston terms; 180 keeps marrow-poor vertebral bodies while dropping noise of soft tissue)."""


MIN_CONFIDENCE = 0.5
"""A part found with less confidence than this is not relied on, by the chest (its lungs for the chest wall) or by
the scorer (nan feature columns, so no rule fires on it): on heart-centred gated phantoms a pericardium of
confidence 0.2 (a 100 ml sliver) called real coronary calcium 'outside the pericardium'."""


@dataclass(frozen=True)
class Part:
    """Whether one anatomical part was found: confidence in [0, 1] and the reason when it was not ("" when it
    was)."""

    found: bool
    confidence: float
    reason: str = ""

    def sure(self, at_least: float = MIN_CONFIDENCE) -> bool:
        """Found, with at least this confidence (what a user of the part may rely on)."""
        return self.found and self.confidence >= at_least


@dataclass(frozen=True)
class AortaTube:
    """The aorta as a tube: centreline (n, 3) mm (z, y, x) from the root up the ascending aorta, over the arch
    and down the descending aorta; radius_mm (n,); segment (n,) 0 ascending, 1 arch (interpolated between the
    tracked ends), 2 descending. Empty arrays when not found."""

    centreline_mm: np.ndarray
    radius_mm: np.ndarray
    segment: np.ndarray

    def distance_mm(self, points_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n,) distance (mm) of each (n, 3) point to the nearest centreline point and that point's index
        (inf, -1 when the tube is empty)."""
        pts = np.asarray(points_mm, float).reshape(-1, 3)
        if len(self.centreline_mm) == 0 or len(pts) == 0:
            return np.full(len(pts), np.inf), np.full(len(pts), -1)
        d2 = ((pts[:, None, :] - self.centreline_mm[None]) ** 2).sum(-1)
        j = np.argmin(d2, axis=1)
        return np.sqrt(d2[np.arange(len(pts)), j]), j


@dataclass(frozen=True)
class ChestAnatomy:
    """The anatomy of one chest CT (:func:`read_chest`).

    spacing_mm: the full volume's (z, y, x) spacing; shape: its (z, y, x) shape; step_z, step_xy: the coarse
    grid (voxel (k, j, i) of a mask is full voxel (k * step_z, j * step_xy, i * step_xy)).
    Masks on the coarse grid, bool (z, y, x): body, lungs, bone (the bony thorax: labels 1 spine, 2 sternum,
    3 ribs and costal cartilage, 0 none, uint8), pericardium (the heart inside its sac, epicardial fat
    included, up to the lowest tracked circle of the ascending aorta + 15 mm, i.e. the aortic root + 30 mm).
    diaphragm_mm: (y, x) coarse map, height (mm) of the diaphragm surface under each column (lung floor, filled
    in under the heart from the columns around). dome_mm: height of the right and left hemidiaphragm domes.
    aorta: the tube. aortic_root_mm, apex_mm: (3,) points (nan when not found). valve_normal: (3,) unit vector
    along the ascending aorta at the root. frame: (3, 3) rows = heart axes (long axis root -> apex, then the
    anterior direction and their cross product), origin at the aortic root.
    parts: name -> :class:`Part` for body, lungs, bone, diaphragm, aorta, root, pericardium, chest_wall, cartilage.
    wall_surface: (z, x) coarse map, the first row (coarse y) of lung, mediastinum or pericardium per slice and
    column: the anterior chest wall's inner surface (:mod:`cacscore.chest.wall`; nan where none).
    cartilage: coarse bool mask of the costal cartilage and the sternum in the chest wall's inner layer, their
    calcium included (:mod:`cacscore.chest.cartilage`; None: not read, as in anatomies made before it).
    contrast: intravascular contrast seen in the image (:func:`blood_range`); blood_hu: the HU range of blood
    (partial volume included) the aorta was searched with.
    """

    spacing_mm: tuple[float, float, float]
    shape: tuple[int, int, int]
    step_z: int
    step_xy: int
    body: np.ndarray
    lungs: np.ndarray
    bone: np.ndarray
    pericardium: np.ndarray
    diaphragm_mm: np.ndarray
    dome_mm: tuple[float, float]
    aorta: AortaTube
    aortic_root_mm: np.ndarray
    apex_mm: np.ndarray
    valve_normal: np.ndarray
    frame: np.ndarray
    parts: dict[str, Part] = field(default_factory=dict)
    contrast: bool = False
    blood_hu: tuple[float, float] = (-60.0, 130.0)
    wall_surface: np.ndarray | None = None
    cartilage: np.ndarray | None = None
    frame_pericardium: tuple[np.ndarray, Part] | None = None

    def framed(self) -> "ChestAnatomy":
        """This anatomy with the pericardial mask (and its Part) of the frame read (read_chest's frame_sac), for the heart
        reference: a model's frame read with the sac it was trained with (ClassifierConfig.frame_sac). Equal, in what
        :func:`cacscore.lesion.anatomy.heart_reference` reads (the mask, its Part, the grid), to a whole second read with
        that sac, which costs the whole reader again (LIDC-IDRI-0003: 5.5 s, find_pericardium 1.7 s of it). Itself when
        there is no frame read."""
        if self.frame_pericardium is None:
            return self
        mask, part = self.frame_pericardium
        return replace(self, pericardium=mask, parts={**self.parts, "pericardium": part}, frame_pericardium=None)

    @property
    def grid_mm(self) -> np.ndarray:
        """(3,) mm between coarse voxels along z, y, x."""
        return np.array([self.spacing_mm[0] * self.step_z, self.spacing_mm[1] * self.step_xy,
                         self.spacing_mm[2] * self.step_xy])

    def coarse_index(self, points_mm: np.ndarray) -> np.ndarray:
        """(n, 3) int coarse voxel indices of (n, 3) points in mm, clipped into the grid."""
        idx = np.rint(np.asarray(points_mm, float).reshape(-1, 3) / self.grid_mm).astype(np.int64)
        return np.clip(idx, 0, np.array(self.body.shape) - 1)

    def to_mm(self, coarse_index: np.ndarray) -> np.ndarray:
        return np.asarray(coarse_index, float) * self.grid_mm


# ------------------------------------------------------------------ steps
def _grid(spacing_mm: tuple[float, float, float]) -> tuple[int, int]:
    return max(1, int(round(GRID_MM / spacing_mm[0]))), max(1, int(round(GRID_MM / spacing_mm[1])))


_INPLANE = np.zeros((3, 3, 3), bool)
_INPLANE[1] = True


def _largest(mask: np.ndarray, structure: np.ndarray | None = None) -> np.ndarray:
    lab, n = ndimage.label(mask, structure=structure)
    if n == 0:
        return mask.copy()
    return lab == 1 + int(np.argmax(np.bincount(lab.ravel())[1:]))


TRUNCATED_BORDER = 0.06
"""A field of view whose border is over this fraction tissue (> -400 HU) cuts through the body: a heart-centred
gated series. Measured: the three LIDC series 0.6-2.7 % (arms and table edges), four gated phantoms 8.7-46 %
(their lungs touch the border too, so the border is not mostly tissue)."""


TRUNCATED_CONFIDENCE = 0.25
"""The most confidence the aorta, the root and the pericardium get in a field of view through the body: on 16
heart-centred gated phantoms the pericardial mask, cut at a root found 3 mm of ascending aorta, left real coronary
calcium 20-90 mm outside it (bench/lesion_gated_anatomy.py). Under ``cacscore.lesion.anatomy.REFERENCE_CONFIDENCE``
(0.3), so that the heart finder's centre, which reads such a field of view in the whole-chest frame since issue 16
(``cacscore.chest.lungs.heart_only_view``), is the heart reference there and the mask's centroid is not: at 0.4 the
centroid replaced the finder's centre on 2 of 8 gated phantoms of seed 41, once 87 mm below it on the liver."""


def signed_distance(mask: np.ndarray, grid_mm: np.ndarray) -> np.ndarray:
    """(z, y, x) mm to the mask's surface, > 0 outside, < 0 inside (scipy's exact EDT on the mask's grid); all nan
    for an empty mask."""
    if not mask.any():
        return np.full(mask.shape, np.nan, np.float32)
    out = ndimage.distance_transform_edt(~mask, sampling=grid_mm)
    inside = ndimage.distance_transform_edt(mask, sampling=grid_mm)
    return (out - inside).astype(np.float32)


def _border_tissue(g: np.ndarray) -> float:
    """Fraction of the (z, y, x) grid's in-plane border pixels that are tissue (> -400 HU)."""
    tissue = g > -400
    border = np.concatenate([tissue[:, 0].ravel(), tissue[:, -1].ravel(), tissue[:, :, 0].ravel(),
                             tissue[:, :, -1].ravel()])
    return float(border.mean())


def cuts_through_body(volume_or_hu: Volume | np.ndarray, spacing_mm: tuple[float, float, float] | None = None) -> bool:
    """Whether :func:`read_chest` would read this (z, y, x) HU volume as a field of view through the body (its
    ``parts["body"].reason`` set, by :func:`find_body`'s rule on read_chest's own grid): then the aorta, the root,
    the pericardium and the cartilage get at most TRUNCATED_CONFIDENCE, so ``cacscore.lesion.anatomy.heart_reference``
    keeps the heart finder's point. Costs one subsampled border test (no anatomy is read)."""
    hu, spacing_mm = hu_and_spacing(volume_or_hu, spacing_mm, who="cuts_through_body")
    sz, sxy = _grid(tuple(float(s) for s in spacing_mm))  # type: ignore[arg-type]
    return _border_tissue(np.asarray(hu[::sz, ::sxy, ::sxy], np.float32)) > TRUNCATED_BORDER


def find_body(g: np.ndarray) -> tuple[np.ndarray, Part]:
    """The patient: the largest 3-D body of > -400 HU, holes filled slice by slice (the table, a thin plate apart
    from the patient, is a smaller component). When the field of view cuts through the body (heart-centred gated
    series), there is no outside air to tell the body by: every pixel of the reconstructed disc (> -1500 HU,
    the padding outside it is lower) is body."""
    tissue = g > -400
    frac = _border_tissue(g)
    if frac > TRUNCATED_BORDER:
        return g > -1500, Part(True, 0.7, f"the field of view cuts through the body ({frac:.0%} of its "
                                          "border is tissue): a heart-centred series?")
    body = ndimage.binary_fill_holes(_largest(ndimage.binary_opening(tissue, _INPLANE)), _INPLANE)
    frac = float(body.mean())
    if frac < 0.02:
        return body, Part(False, 0.0, "no body above -400 HU")
    return body, Part(True, 1.0)


def find_lungs(g: np.ndarray, body: np.ndarray, voxel_ml: float) -> tuple[np.ndarray, Part]:
    """Air (< -400 HU) inside the body in 3-D components of at least 10 % of the largest and 20 ml (the two
    lungs and their airways; bowel gas and small bubbles are left out)."""
    lab, n = ndimage.label((g < -400) & body)
    if n == 0:
        return np.zeros_like(body), Part(False, 0.0, "no air inside the body")
    sizes = np.bincount(lab.ravel())[1:]
    keep = np.flatnonzero((sizes >= 0.1 * sizes.max()) & (sizes * voxel_ml >= 20.0)) + 1
    lungs = np.isin(lab, keep)
    ml = float(sizes[keep - 1].sum() * voxel_ml)
    if ml < 200:
        return lungs, Part(bool(lungs.any()), 0.3, f"only {ml:.0f} ml of lung (heart-only field of view?)")
    return lungs, Part(True, 1.0)


def _lung_hull(lungs: np.ndarray) -> np.ndarray:
    """Per slice, the pixels between the lungs: between lung pixels along the row, and behind the line joining the
    lungs' front edges (interpolated across the columns where the heart touches the chest wall and no lung lies
    in front of it). The mediastinum is inside it; the sternum, the costal cartilage and the ribs are not."""
    fwd = np.maximum.accumulate(lungs, axis=2)
    back = np.flip(np.maximum.accumulate(np.flip(lungs, 2), axis=2), 2)
    ny, nx = lungs.shape[1:]
    has = lungs.any(1)  # (z, x)
    front = np.where(has, np.argmax(lungs, axis=1), -1).astype(float)
    cols = np.arange(nx)
    out = fwd & back
    mid = 0.5 * (np.flatnonzero(has.any(0)).min() + np.flatnonzero(has.any(0)).max()) if has.any() else nx / 2
    for k in np.flatnonzero(has[:, cols < mid].any(1) & has[:, cols >= mid].any(1)):
        f = np.where(has[k], front[k], np.inf)
        # the two anterior tips, one each side; between them the front edge is the straight line joining them
        # (the lower lobes behind the heart reach medially, so their front edge there is the heart's back)
        a = int(np.argmin(np.where(cols < mid, f, np.inf)))
        b = int(np.argmin(np.where(cols >= mid, f, np.inf)))
        f[a:b + 1] = np.interp(cols[a:b + 1], [a, b], [f[a], f[b]])
        f[~np.isfinite(f)] = ny
        out[k] &= np.arange(ny)[:, None] >= f[None, :]
    return out


DIAPHRAGM_BELOW_SCAN = "the lungs reach the lowest slice: the diaphragm is below the scan"
"""The diaphragm part's reason when the scan ends above the diaphragm: every height in the scan is then at least its
height above the lowest slice (``cacscore.lesion.classifier.scan_floor_column`` reads it so)."""


def find_diaphragm(lungs: np.ndarray, grid_mm: np.ndarray, midline_x: float, *,
                   in_scan: bool = False) -> tuple[np.ndarray, tuple[float, float], Part]:
    """(y, x) height (mm) of the diaphragm under each column and the two domes' heights (right, left).

    The lung floor of each column is the diaphragm where the lungs reach down to it; columns whose floor lies
    more than 15 mm above the level where the lungs have half their largest cross-section are the top of the
    heart or the hila, not the diaphragm, and take the nearest valid column's height instead.

    in_scan (session 23, wt31a; :class:`SacOptions` diaphragm_under_heart): when the lungs reach the lowest slice,
    the columns whose floor is that slice (the costophrenic recesses under the scan) are left out and the others
    still make the surface, instead of no surface at all (seeds 14513 p38 and 14897 p6: the liver's top under the
    heart lies 7.5 mm over the scan's bottom, inside the scan)."""
    nz = lungs.shape[0]
    area = lungs.sum((1, 2))
    if area.max() == 0:
        return np.full(lungs.shape[1:], np.nan), (np.nan, np.nan), Part(False, 0.0, "no lungs")
    k_half = int(np.argmax(area >= 0.5 * area.max()))
    any_lung = lungs.any(0)
    floor = np.where(any_lung, np.argmax(lungs, axis=0), nz).astype(float)
    xs = np.arange(lungs.shape[2])[None, :].repeat(lungs.shape[1], 0)
    # the heart lies on the diaphragm within ~50 mm of the midline (more on the left, where the apex is): the
    # lateral columns see the diaphragm, the medial ones the top of the heart
    lateral = np.abs(xs - midline_x) * grid_mm[2] > 50
    valid = any_lung & lateral & (floor <= k_half + 40.0 / grid_mm[0])
    if in_scan:
        valid &= floor > 0
    if k_half == 0 and floor[any_lung].min() == 0 and not (in_scan and valid.sum() >= 10):
        return np.zeros(lungs.shape[1:]), (np.nan, np.nan), Part(False, 0.0, DIAPHRAGM_BELOW_SCAN)
    if valid.sum() < 10:
        return np.full(lungs.shape[1:], np.nan), (np.nan, np.nan), Part(False, 0.0, "no lung floor found")
    # under the heart: along each row, linear between the lateral floors either side; rows without both sides
    # take the nearest such row
    h = np.full(floor.shape, np.nan)
    cols = np.arange(floor.shape[1])
    for y in np.flatnonzero(valid.any(1)):
        v = valid[y]
        h[y] = np.interp(cols, cols[v], floor[y, v])
    known = np.isfinite(h)
    _, (iy, ix) = ndimage.distance_transform_edt(~known, return_indices=True)
    h = h[iy, ix] * grid_mm[0]
    domes = []
    for side in (xs < midline_x, xs >= midline_x):
        v = floor[valid & side]
        domes.append(float(np.percentile(v, 90)) * grid_mm[0] if len(v) else np.nan)
    conf = 1.0 if floor[valid].min() > 0 and not (in_scan and floor[any_lung].min() == 0) else 0.5
    return h, (domes[0], domes[1]), Part(True, conf, "" if conf == 1 else "the lungs reach the lowest slice")


def blood_range(g: np.ndarray, lungs: np.ndarray, body: np.ndarray, hull: np.ndarray) -> tuple[bool, tuple[float, float]]:
    """Whether the scan has intravascular contrast, and the HU range of (partial-volumed) blood in a ~2.5 mm
    disc: the soft tissue and blood between the lungs in front of their mid-depth (heart and great vessels, not
    the spine) is over 15 % above 150 HU with contrast (LIDC-IDRI-0001: 53 %, -0003: 62 %) and about 1 %
    without (-0002)."""
    ly = np.nonzero(lungs.any((0, 2)))[0]
    if len(ly) == 0:
        return False, (-60.0, 700.0)
    front = np.arange(g.shape[1])[None, :, None] < 0.5 * (ly.min() + ly.max())
    v = g[hull & ~lungs & body & front & (g > -20) & (g < 700)]
    if len(v) < 100 or (v > 150).mean() < 0.15:
        return False, (-60.0, 130.0)
    return True, (max(100.0, 0.4 * float(np.percentile(v, 75))), 700.0)


def _scores_in(g: np.ndarray, lungs: np.ndarray, hull: np.ndarray, pixel_mm: float,
               blood_hu: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`cacscore.chest.aorta.circle_scores` inside the lung hull's in-plane box (+ 25 mm), -inf outside: the
    aorta lies between the lungs, and the box is a fifth of the slice (most of read_chest's time otherwise)."""
    score = np.full(g.shape, -np.inf, np.float32)
    radius = np.zeros(g.shape, np.float32)
    ys, xs = np.nonzero(hull.any(0))
    if len(ys) == 0:
        return score, radius
    m = int(np.ceil(25.0 / pixel_mm))
    y0, y1 = max(0, ys.min() - m), min(g.shape[1], ys.max() + m + 1)
    x0, x1 = max(0, xs.min() - m), min(g.shape[2], xs.max() + m + 1)
    zs = np.flatnonzero(hull.any((1, 2)))
    z0, z1 = zs.min(), zs.max() + 1
    sub = (slice(z0, z1), slice(y0, y1), slice(x0, x1))
    score[sub], radius[sub] = tube.circle_scores(g[sub], lungs[sub], pixel_mm, blood_hu)
    return score, radius


@dataclass(frozen=True)
class RootOptions:
    """How the ascending aorta and the aortic root are found (issue 16, session 9, docs/chest_anatomy.md "Aortic root on
    phantom v4"; session 14, "Robust on the realistic thorax").

    below_track_mm (on, 15): the annulus placed this far straight down from the lowest tracked circle (the track
    ends where the aorta enters the heart's outline, about the sinotubular junction; the sinuses lie under it).

    seed_by_track (on since session 14): the seed window reaches down to 40 mm above the dome, inside the lung hull,
    and of the 4 best distinct seeds the one whose track rises highest wins; seed_radius_mm (12.5 since session 14):
    the least radius of the ascending seed's circle (10.5 let the superior vena cava, 7.5-11 mm in radius, seed the
    track); a track under ASC_SHORT_MM loses to any longer one. desc_by_track (on since session 14): when the best
    descending seed's track is under DESC_SHORT_MM, of the 4 best distinct circles (two per slice) beside the spine,
    the one whose track is the longest. Before session 14 (:meth:`before_session14`) the ascending seed was the best
    circle of a window 15-45 mm under the descending track's top, anywhere in the body: on session 13's realistic
    thorax that top climbs an arch branch and the window then holds a neck vessel or the sternum (seed 10501, 256 px:
    the ascending aorta 65-90 mm off on 7 of 20 phantoms; now 1 of 20, whose scan starts above the diaphragm).

    branch_guard (off; on in :meth:`with_seed_search`): the descending track's upward end is cut where its radius falls
    under BRANCH_RADIUS_DROP of its own first stretch for two slices running (it had climbed past the arch onto a
    branch). Left off: the circle score has 4 radii 3 mm apart, and an aorta whose radius lies between two of them
    flips a level up and down along its length, which the guard takes for a branch (seed 5 patient 1 and seed 10501
    patient 12 of the realistic thorax: cut 50-60 mm under the arch, the seed window then in the heart, no root).

    desc_up_gap (5 since session 16, 3 before): slices the descending track may bridge going up (tube.track's max_gap; the downward
    track bridges 5, behind the left atrium). Where the left pulmonary artery arches over the left main bronchus
    against the descending aorta (phantom MEDIASTINUM_REALISM; seed 11101 patient 10) the aorta's circle score stays
    under the track's floor for 4 slices (10 mm, z 178-185 mm) and the track stopped there, 30 mm under the arch; the
    ascending seed window under its top then lay under the ascending aorta. Pre-registered on seed 12101 1-20 (v11):
    criteria held, one patient moved (ascending 5.5 -> 3.8 mm); the three LIDC series' landmarks identical
    (docs/chest_anatomy.md, "The descending track's bridge going up")."""

    branch_guard: bool = False
    seed_radius_mm: float = 12.5
    below_track_mm: float = 15.0
    seed_by_track: bool = True
    desc_by_track: bool = True
    desc_up_gap: int = 5
    root_at_heart_entry: bool = False
    """(off; on in ``ROOT_VERSIONS["s23"]``; session 23, wt31c) below_track_mm is measured from where the ascending
    track enters the heart, not from its lowest circle, when its lowest circles sit in a heart-sized section
    (:func:`_heart_entry`): there the track had already followed the aorta into the heart down to about the annulus
    (phantom 14513 #7: the lowest circle at the annulus, the root 15.6 mm under it; docs/chest_anatomy.md
    "(session 23, wt31c)"). Without contrast only (as :func:`_above_heart`)."""

    @classmethod
    def before_session9(cls) -> "RootOptions":
        """The finder as it was before these options (the root at the lowest tracked circle)."""
        return cls(below_track_mm=0.0, seed_radius_mm=10.5, seed_by_track=False, desc_by_track=False, desc_up_gap=3)

    @classmethod
    def before_session14(cls) -> "RootOptions":
        """The finder shipped in sessions 9-13 (the seed under the descending track's top, anywhere in the body)."""
        return cls(seed_radius_mm=10.5, seed_by_track=False, desc_by_track=False, desc_up_gap=3)

    @classmethod
    def with_seed_search(cls) -> "RootOptions":
        """The default plus the arch-branch guard (session 9's seed search; measured, not shipped)."""
        return cls(branch_guard=True, seed_radius_mm=12.5, seed_by_track=True)


ROOT = RootOptions()

ROOT_VERSIONS = {"s22": RootOptions(), "s23": RootOptions(root_at_heart_entry=True)}
"""Named settings of :class:`RootOptions` a lesion model can ask for (ClassifierConfig.chest_root): "s22" the shipped
finder, "s23" with the root measured from the track's entry into the heart (RootOptions.root_at_heart_entry;
session 23, wt31c)."""


def root_options(name: str | None) -> RootOptions:
    """:data:`ROOT_VERSIONS` of ``name`` (None: "s22"); a one-line ValueError for an unknown name."""
    return _named_version(ROOT_VERSIONS, name, "s22", "chest root")


def _named_version(versions: dict, name: str | None, default: str, what: str):
    """``versions[name]`` (None: ``default``); a one-line ValueError naming the known versions otherwise."""
    key = default if name is None else name
    if key not in versions:
        raise ValueError(f"{what} version {name!r} unknown; known: {', '.join(versions)}")
    return versions[key]


HEART_ENTRY_FACTOR = 3.0
HEART_ENTRY_MIN_MM2 = 2000.0
"""A tracked ascending circle is merged into the heart when the blood-and-muscle section holding its centre (-20..130
HU; :func:`_heart_entry`) is over HEART_ENTRY_FACTOR x its own disc and over HEART_ENTRY_MIN_MM2. On phantom
14513 (#1-38, v11, 512 px) the ascending aorta's own section is 400-1,000 mm^2 and 2,000-4,000 where it touches the
superior vena cava or the pulmonary trunk; the lowest circles of the 11 tracks that ran on into the heart (the anatomy
label there: heart) 1,650-9,800 mm^2, the next slice under them 3,300-10,000."""
HEART_ENTRY_MAX_MM = 25.0
"""The entry is looked for only this far above the track's lowest circle: on the three LIDC series the whole
mediastinum (and with contrast the whole blood pool) is one section on most slices, and a merged stretch reaching
45-90 mm up (LIDC-IDRI-0002, -0003) is not the heart's top; the phantom tracks that ran into the heart did so for
5-25 mm (1-5 circles)."""


@dataclass(frozen=True)
class SacOptions:
    """How the pericardial mask's back and the diaphragm under the heart are drawn (session 19, wt27b;
    docs/chest_anatomy.md "(session 19, wt27b)"). The defaults are the finder of sessions 9-18
    (``SAC_VERSIONS["s18"]``).

    oesophagus_mm (0: off): the mask is also cut in a band this deep in front of the descending aorta's anterior
    edge, from OESOPHAGUS_RIGHT_MM right of the aorta's right edge to half a radius right of its centre
    (OESOPHAGUS_LEFT_R): the oesophagus (and the azygos beside it) lie there, in front of and right of the aorta,
    behind the left atrium. The cut at the aorta's edge alone left them in the mask on the LIDC series
    (LIDC-IDRI-0003: the mask wrapped the air-filled oesophagus down to the aorta, and an 11.8 AU dot beside it read
    5 mm outside the sac; docs/pictures/s18_wt26a_0003_oesophagus_focus_mask.png). With contrast the blood pools
    (the left atrium; not the aorta's own lumen) and OESOPHAGUS_BLOOD_KEEP_MM round them stay: on LIDC-IDRI-0003
    the left atrium's back lies 7-12 mm in front of the aortic edge at z 110-125 mm. Without contrast the band is at
    most OESOPHAGUS_PLAIN_MM deep.

    diaphragm_from_sac (off): under the pericardial mask the diaphragm surface is the mask's floor where that lies
    under the surface interpolated from the lateral lung floors: the heart rests on the diaphragm, and the lung floors
    beside it (the domes, the cardiophrenic angles) lie 10-40 mm higher than its floor on LIDC-IDRI-0001 / 0003.

    heart_back_mm (0: off; session 22, wt30b): with contrast only, the mask is also cut in a band this deep in front of
    the descending aorta's anterior edge across the whole column in front of it, from OESOPHAGUS_RIGHT_MM right of
    its right edge to its left edge, except within HEART_BACK_KEEP_MM of a chamber (a blood pool of POOL_MIN_CM2,
    not the aorta's lumen): under the left atrium the mask's back was the aorta's front edge, and the oesophageal
    band (which stops half a radius right of the aorta's centre) left a lobe of fat and oesophagus down to the aorta
    left of it (LIDC-IDRI-0003, z 72.5-87.5 mm: 15-20 mm behind the heart's back there; docs/chest_anatomy.md
    "(session 22, wt30b)"). Without contrast the heart's back cannot be told from the oesophagus by density: no cut."""

    oesophagus_mm: float = 0.0
    diaphragm_from_sac: bool = False
    heart_back_mm: float = 0.0
    diaphragm_under_heart: bool = False


SAC_VERSIONS = {"s18": SacOptions(), "s19": SacOptions(oesophagus_mm=20.0, diaphragm_from_sac=True),
                "s19o": SacOptions(oesophagus_mm=20.0), "s22": SacOptions(oesophagus_mm=20.0, heart_back_mm=20.0),
                "s23": SacOptions(oesophagus_mm=20.0, diaphragm_from_sac=True, diaphragm_under_heart=True),
                "s23f": SacOptions(oesophagus_mm=20.0, diaphragm_under_heart=True)}
"""Named settings of :class:`SacOptions` a lesion model can ask for (ClassifierConfig.chest_sac): "s18" the shipped
finder, "s19" the oesophageal cut and the diaphragm from the sac's floor (session 19, wt27b), "s19o" the cut alone
(the anatomy rules' below-the-diaphragm margin, 15 mm, was set against the old surface, which lies 8 mm too high
under the heart on phantoms: the lowered surface lets one more abdominal candidate through on seed 14501, #24);
"s22" is "s19o" with the heart-back cut (SacOptions.heart_back_mm; session 22, wt30b); "s23" is "s19" with the diaphragm
also found under the heart in the image (SacOptions.diaphragm_under_heart: the fat line between the heart and the
abdomen; session 23, wt31a), "s23f" that without the mask's floor (on the LIDC series the fat line is found on 0003
only). Their surface lies lower under the heart than the one the 15 mm below-the-diaphragm margin was set against:
read them with bench/lookalike_calls.RULES "below_dia_10" (docs/chest_anatomy.md "(session 23, wt31a)")."""
OESOPHAGUS_RIGHT_MM = 25.0
"""How far right of the descending aorta's right edge the oesophageal band reaches: the oesophagus (15-20 mm across)
lies in front of and right of the aorta at the heart's levels (LIDC-IDRI-0003: its centre 8-15 mm right of the
aorta's centre, docs/oesophagus_landmarks.json)."""
OESOPHAGUS_LEFT_R = -0.5
"""The oesophageal band's left end, in aorta radii left of the aorta's centre (negative: right of it). With +0.5 the
band took LIDC-IDRI-0003's eye-placed posterior descending artery (docs/hybrid_landmarks.json, z 80 mm, 6 mm left of
the tracked aorta's centre) out of the mask (5.5 mm inside -> 3.5 mm outside); with -0.5 it stays 5.5 mm inside and the
same 12 of 14 oesophagus landmarks lie outside (bench/sac_landmarks.py)."""
OESOPHAGUS_PLAIN_MM = 7.5
"""Without contrast the band is at most this deep: the left atrium cannot be told from the oesophagus by density
there, and a 20 mm band cut 10-20 mm into the heart's back on LIDC-IDRI-0002 (z 90-120 mm)."""
OESOPHAGUS_BLOOD_KEEP_MM = 5.0
"""With contrast, mask voxels within this of a blood pool (a chamber: POOL_MIN_CM2) stay in the oesophageal band: the
left atrium's wall and the fat on it."""
HEART_BACK_KEEP_MM = 15.0
"""With SacOptions.heart_back_mm, mask voxels within this of a chamber stay: the heart's wall and the fat of its
grooves. On LIDC-IDRI-0003 the eye-placed posterior descending artery at z 80 mm (docs/hybrid_landmarks.json) lies
13.9 mm (in-plane) from the nearest chamber voxel; two points of the lobe of fat in front of the aorta that the s19o
mask keeps, 26.2 mm (z 72.5 mm) and 21.9 mm (z 80 mm) (/work/runs/wt30b/pda.py, session 22)."""


def sac_options(name: str | None) -> SacOptions:
    """:data:`SAC_VERSIONS` of ``name`` (None: "s18"); a one-line ValueError for an unknown name."""
    return _named_version(SAC_VERSIONS, name, "s18", "chest sac")
BRANCH_RADIUS_DROP = 0.85
ASC_SHORT_MM = 25.0
"""An ascending track over fewer mm than this loses the choice among seeds (RootOptions.seed_by_track) to any longer
one: the ascending aorta runs 40-80 mm from the sinotubular junction to the arch."""
DESC_SHORT_MM = 60.0
"""A descending track over fewer mm than this (slices with a circle of their own) is not trusted to be the aorta
(RootOptions.desc_by_track): the aorta runs 150-250 mm from the hiatus to the arch on the three LIDC series and the
phantoms; the left pulmonary artery that took the seed on seed 10502 patient 1 gave 30 mm."""


def _distinct(seeds: list, apart_px: float, n: int) -> list:
    """The first n of (score, k, y, x) seeds (best first) that lie at least apart_px from every one kept before
    (in-plane pixels, slices counted as pixels: the grid is about isotropic)."""
    kept: list = []
    for s in seeds:
        if all((s[1] - t[1]) ** 2 + (s[2] - t[2]) ** 2 + (s[3] - t[3]) ** 2 >= apart_px ** 2 for t in kept):
            kept.append(s)
            if len(kept) == n:
                break
    return kept


def _below_branch(up: tube.TubeTrack) -> tube.TubeTrack:
    """The upward descending track cut before the first two slices running whose radius is under
    BRANCH_RADIUS_DROP x the median radius of its first 20 mm (8 slices): an arch branch is narrower than the
    aorta (radius 8 against 11 mm on phantom v4 seed 5, patient 1)."""
    if up.n < 4:
        return up
    ref = float(np.median(up.radius_px[:8]))
    low = up.radius_px < BRANCH_RADIUS_DROP * ref
    run = np.flatnonzero(low[1:] & low[:-1])
    if len(run) == 0:
        return up
    sel = slice(0, max(1, int(run[0])))
    return tube.TubeTrack(up.k[sel], up.y[sel], up.x[sel], up.radius_px[sel], up.score[sel])


def _track_length(t: tuple[tube.TubeTrack, tube.TubeTrack]) -> tuple[int, float]:
    """How long an (up, down) descending track is: the slices with a circle of their own (bridged gaps do not count),
    then the score gathered (the tie-break)."""
    j = tube.join(t[1], t[0])
    return int(np.isfinite(j.score).sum()), float(np.nansum(j.score))


def _longest_desc(seeds: list, follow: Callable[[int, int, int], tuple[tube.TubeTrack, tube.TubeTrack]],
                  apart_px: float, slice_mm: float,
                  search: bool = True) -> tuple[tuple[tube.TubeTrack, tube.TubeTrack], float]:
    """The descending aorta's (up, down) tracks and its seed's score, of (score, k, y, x) seeds beside the spine;
    follow(k, y, x) tracks one seed. The best seed's track, unless (search: RootOptions.desc_by_track) it is shorter
    than DESC_SHORT_MM: the best circle can be a left pulmonary artery at the hilum (seed 10502 patient 1 of the
    realistic thorax: a 30 mm track, the sac then cut in front of it). Then, of the 4 best distinct seeds (apart_px) of
    at least half its score, the one whose track holds the most slices with a circle of their own is the descending
    aorta (it runs from the diaphragm to the arch), the most score gathered breaking ties (:func:`_track_length`).
    Not otherwise: the side of the vertebral body is a long tube too, and a weaker seed there ran 200 mm (seed 10501
    patients 1 and 20, where the best seed's track was the aorta)."""
    s_best, k0, y0, x0 = max(seeds)
    chosen, s_chosen = follow(k0, y0, x0), s_best
    if not search:
        return chosen, s_chosen
    best = _track_length(chosen)
    if best[0] * slice_mm < DESC_SHORT_MM:
        for s, k, y, x in _distinct(sorted(seeds, reverse=True), apart_px, 4)[1:]:
            if s < 0.5 * s_best:
                break
            t = follow(k, y, x)
            if _track_length(t) > best:
                best, chosen, s_chosen = _track_length(t), t, s
    return chosen, s_chosen


def _highest_asc(seeds: list, follow: Callable[[float, int, int, int], tube.TubeTrack], apart_px: float,
                 slice_mm: float, search: bool = True) -> tuple[tube.TubeTrack, float]:
    """The ascending aorta's track and its seed's score, of (score, k, y, x) seeds in front of the arch;
    follow(s, k, y, x) tracks one seed. The best seed's track, unless (search: RootOptions.seed_by_track) another of
    the 4 best distinct seeds (apart_px) rises higher: the best single circle can be another round section (the
    right atrium, the inferior vena cava, the pulmonary trunk), and the track that rises highest (to the arch) is the
    aorta's; the most score gathered breaks ties. A track shorter than ASC_SHORT_MM counts only where no longer one was
    found: a seed on the arch itself rises higher still, over a few slices (seed 10503 patient 3: 21 mm of arch and
    branch, 105 mm from the ascending aorta, whose own track reached 12 mm lower). An empty track never wins."""
    def rise(t: tube.TubeTrack) -> tuple[bool, int, float]:
        return (t.n * slice_mm >= ASC_SHORT_MM, int(t.k[-1]) if t.n else -1, float(np.nansum(t.score)))

    s1, k1, y1, x1 = max(seeds)
    asc = follow(s1, k1, y1, x1)
    if not search:
        return asc, s1
    best = rise(asc)
    for s, k, y, x in _distinct(sorted(seeds, reverse=True), apart_px, 4)[1:]:
        t = follow(s, k, y, x)
        if t.n and rise(t) > best:
            best, asc, s1 = rise(t), t, s
    return asc, s1


def _desc_seeds(score: np.ndarray, radius: np.ndarray, hull: np.ndarray, ks: range, y_mid: float, midline_x: float,
                pmm: float, two_per_slice: bool) -> list:
    """(score, k, y, x) seeds of the descending aorta in slices ks: in the posterior half (y > y_mid), 10-50 mm left of
    the midline (the vertebral body, as round and bright, is on it), inside the lung hull, of radius <= 15.5 mm; per
    slice the best circle and (two_per_slice: RootOptions.desc_by_track) the best 10 mm from it."""
    yy, xx = np.mgrid[0:score.shape[1], 0:score.shape[2]]
    apart = 10.0 / pmm
    seeds = []
    for k in ks:
        region = (hull[k] & (yy > y_mid) & ((xx - midline_x) * pmm > 10) & ((xx - midline_x) * pmm < 50)
                  & (radius[k] * pmm <= 15.5))
        for _ in range(2 if two_per_slice else 1):
            y, x, s = tube._best_in(score[k], region)
            if not np.isfinite(s):
                break
            seeds.append((s, k, y, x))
            region = region & ((yy - y) ** 2 + (xx - x) ** 2 >= apart ** 2)
    return seeds


def _asc_seeds(score: np.ndarray, region_of: Callable[[int], np.ndarray], ks: range) -> list:
    """(score, k, y, x): the best circle of each slice in ks inside region_of(k) (slices with none give no seed)."""
    seeds = []
    for k in ks:
        y, x, s = tube._best_in(score[k], region_of(k))
        if np.isfinite(s):
            seeds.append((s, k, y, x))
    return seeds


def find_aorta(g: np.ndarray, lungs: np.ndarray, body: np.ndarray, grid_mm: np.ndarray, midline_x: float,
               dome_k: float, blood_hu: tuple[float, float],
               opts: RootOptions | None = None) -> tuple[tube.TubeTrack | None, tube.TubeTrack | None, Part, Part]:
    """The descending and ascending aorta tracked on the coarse grid (:mod:`cacscore.chest.aorta`) and whether
    the aorta and its root were found. opts: :class:`RootOptions` (None: the module's ROOT)."""
    opts = ROOT if opts is None else opts
    nz, ny, nx = g.shape
    pmm = float(grid_mm[1])
    hull = _lung_hull(lungs)  # (recomputed: cheap)
    score, radius = _scores_in(g, lungs, hull, pmm, blood_hu)
    lung_y = np.nonzero(lungs.any((0, 2)))[0]
    if len(lung_y) == 0:
        return None, None, Part(False, 0.0, "no lungs to place the aorta by"), Part(False, 0.0, "no aorta")
    y_mid = 0.5 * (lung_y.min() + lung_y.max())
    yy, xx = np.mgrid[0:ny, 0:nx]
    k_lo = int(max(0, np.nan_to_num(dome_k, nan=0)))
    # the descending aorta: 40-100 mm above the diaphragm, beside the spine; a right-sided arch is missed
    seeds = _desc_seeds(score, radius, hull, range(min(nz - 1, k_lo + int(40 / grid_mm[0])),
                                                   min(nz, k_lo + int(100 / grid_mm[0]) + 1)),
                        y_mid, midline_x, pmm, opts.desc_by_track)
    if not seeds:
        return None, None, Part(False, 0.0, "no round blood section beside the spine"), Part(False, 0.0, "no aorta")
    step = max(4.0, 6.0 * grid_mm[0] / 2.5) / pmm  # mm an aortic centre may move from one slice to the next
    # not on the midline, where the vertebral body (round, and in the score's eyes as good a circle as a
    # non-contrast aorta) lies: on LIDC-IDRI-0002 the track slid onto it; at the hiatus the aorta reaches the
    # midline and the track ends there
    allowed = ((yy > y_mid - 10 / pmm) & ((xx - midline_x) * pmm > 12))[None] & body
    min_s = max(0.25 * max(seeds)[0], 15.0)  # behind the left atrium the aorta's score falls to a fifth of its seed's

    def follow_desc(k0: int, y0: int, x0: int) -> tuple[tube.TubeTrack, tube.TubeTrack]:
        up = tube.track(score, radius, k0, y0, x0, direction=1, k_stop=nz - 1, max_step_px=step, min_score=min_s,
                        allowed=allowed, max_gap=opts.desc_up_gap)
        down = tube.track(score, radius, k0, y0, x0, direction=-1, k_stop=0, max_step_px=step, min_score=min_s,
                          allowed=allowed, max_gap=5)
        return up, down

    (up, down), s0 = _longest_desc(seeds, follow_desc, 10.0 / pmm, float(grid_mm[0]), search=opts.desc_by_track)
    if opts.branch_guard:
        up = _below_branch(up)
    desc = tube.smooth_track(tube.join(down, up))
    aorta_part = Part(True, float(np.clip(s0 / 120.0, 0.3, 1.0)))
    if desc.n * grid_mm[0] < 40:
        aorta_part = Part(True, 0.3, f"descending aorta followed over only {desc.n * grid_mm[0]:.0f} mm")
    # the ascending aorta: 15-45 mm below the top of the descending track (the arch), in front of the descending
    # aorta by 25+ mm, on the right of or at the midline (the pulmonary trunk lies left of it)
    top = int(desc.k[-1])
    dx_desc = float(np.median(desc.x))
    dy_desc = float(np.median(desc.y[-5:]))
    k_from = top - int(45 / grid_mm[0])
    if opts.seed_by_track:  # from 40 mm above the dome (the IVC and the atria lie lower): the window under a wrong top missed the aorta
        k_from = min(k_from, k_lo + int(40 / grid_mm[0]))

    def asc_region(k: int) -> np.ndarray:
        region = (body[k] & (yy < dy_desc - 25 / pmm) & (xx < midline_x + 15 / pmm) & (xx > dx_desc - 90 / pmm)
                  & (radius[k] * pmm >= opts.seed_radius_mm))
        if opts.seed_by_track:  # between the lungs: the sternum's marrow is a tall round tube too (v4 seed 9101 #18)
            region &= hull[k]
        return region

    seeds = _asc_seeds(score, asc_region, range(max(0, k_from), max(1, top - int(15 / grid_mm[0]) + 1)))
    if not seeds:
        return desc, None, aorta_part, Part(False, 0.0, "no ascending aorta in front of the arch")
    # the ascending aorta runs down and to the left to the root; the superior vena cava beside it on the right
    # (LIDC-IDRI-0002) is a circle too
    allowed_a = ((yy < dy_desc - 15 / pmm) & (xx >= midline_x - 30 / pmm))[None] & body

    def follow(s1: float, k1: int, y1: int, x1: int) -> tube.TubeTrack:
        down = tube.track(score, radius, k1, y1, x1, direction=-1, k_stop=max(0, k_lo - 5), max_step_px=step,
                          min_score=max(0.35 * s1, 25.0), allowed=allowed_a)
        up = tube.track(score, radius, k1, y1, x1, direction=1, k_stop=top, max_step_px=step,
                        min_score=max(0.35 * s1, 25.0), allowed=allowed_a)
        asc = tube.smooth_track(tube.join(down, up))
        if blood_hu[1] <= 130:  # with contrast the circle score itself ends where the aorta opens into the ventricle
            asc = _above_heart(asc, k1, g, blood_hu, grid_mm)
        return asc

    asc, s1 = _highest_asc(seeds, follow, 10.0 / pmm, float(grid_mm[0]), search=opts.seed_by_track)
    root_part = Part(True, float(np.clip(s1 / 120.0, 0.3, 1.0)))
    if not asc.n:  # every seed's track was cut at the heart (seed 5 patient 1 with the guard): no root, not a 0 mm one
        return desc, None, aorta_part, Part(False, 0.0, "no ascending aorta above the heart")
    if asc.n * grid_mm[0] < 20:
        root_part = Part(True, 0.3, f"ascending aorta followed over only {asc.n * grid_mm[0]:.0f} mm")
    return desc, asc, aorta_part, root_part


HEART_SECTION_MM2 = 6500.0
"""Below the aortic root the tracked circle lies in the heart: its blood-and-muscle section in that slice is over
this area (the ascending aorta's section, with the pulmonary trunk and the superior vena cava it touches, stays
under ~6,000 mm^2 on the three LIDC series between the arch and the root, unsmoothed; the heart under the root
of LIDC-IDRI-0002 is 7,000-19,000 mm^2)."""


def _above_heart(asc: tube.TubeTrack, k_seed: int, g: np.ndarray, blood_hu: tuple[float, float],
                 grid_mm: np.ndarray) -> tube.TubeTrack:
    """The ascending track cut where, going down from its seed, its centre first enters a blood-and-muscle
    section larger than HEART_SECTION_MM2 (the heart): without contrast the right atrium beside the lung is a
    circle too, and the track would follow it down (LIDC-IDRI-0002). Above the seed the arch's vessels join into
    larger sections with contrast; those slices are kept."""
    lo = min(blood_hu[0], -20.0)
    px_mm2 = grid_mm[1] * grid_mm[2]
    keep = int(np.searchsorted(asc.k, k_seed, side="right"))
    above = 0
    for j in range(keep - 1, -1, -1):
        k, y, x = int(asc.k[j]), int(asc.y[j]), int(asc.x[j])
        lab, _ = ndimage.label((g[k] > lo) & (g[k] < blood_hu[1]))
        if lab[y, x] and (lab == lab[y, x]).sum() * px_mm2 > HEART_SECTION_MM2:
            above += 1
            if above == 2:  # two slices running: one alone is a noise bridge to a neighbour (seen on 0002)
                break
            continue
        above = 0
        keep = j
    sel = slice(keep, asc.n)
    return tube.TubeTrack(asc.k[sel], asc.y[sel], asc.x[sel], asc.radius_px[sel], asc.score[sel])


def _heart_entry(asc: tube.TubeTrack, g: np.ndarray, blood_hu: tuple[float, float], grid_mm: np.ndarray) -> int:
    """Index into asc of its lowest circle above the run of lowest circles merged into the heart
    (HEART_ENTRY_FACTOR, HEART_ENTRY_MIN_MM2); 0 when its lowest circle is not merged, when the run reaches more than
    HEART_ENTRY_MAX_MM up, or when the whole track is merged (no aorta-sized section above it to tell the heart by)."""
    # from -20 HU (not the blood range's -60 of a plain scan, which _above_heart reads): at -60 the fat beside the
    # ascending aorta joined its section to the heart's on 14513 #2 (3,300-4,100 mm^2 on its lowest three circles,
    # 900-2,600 from -20); with contrast the blood pools alone
    lo = max(blood_hu[0], -20.0)
    px_mm2 = float(grid_mm[1] * grid_mm[2])
    j = 0
    while j < asc.n and asc.k[j] - asc.k[0] <= HEART_ENTRY_MAX_MM / grid_mm[0]:
        k, y, x = int(asc.k[j]), int(round(asc.y[j])), int(round(asc.x[j]))
        lab, _ = ndimage.label((g[k] > lo) & (g[k] < blood_hu[1]))
        area = float((lab == lab[y, x]).sum()) * px_mm2 if lab[y, x] else 0.0
        if area < max(HEART_ENTRY_FACTOR * np.pi * (asc.radius_px[j] * grid_mm[1]) ** 2, HEART_ENTRY_MIN_MM2):
            return j
        j += 1
    return 0


def _tube(desc: tube.TubeTrack | None, asc: tube.TubeTrack | None, grid_mm: np.ndarray) -> AortaTube:
    pts, rad, seg = [], [], []
    def add(t: tube.TubeTrack, order: slice, s: int) -> None:
        p = np.stack([t.k, t.y, t.x], 1)[order] * grid_mm
        pts.append(p); rad.append(t.radius_px[order] * grid_mm[1]); seg.append(np.full(len(p), s))
    if asc is not None and asc.n:
        add(asc, slice(None), 0)
    if asc is not None and asc.n and desc is not None and desc.n:
        # the arch: a half ellipse from the top of the ascending track to the top of the descending one, rising
        # one radius above the higher of the two (the arch runs obliquely out of the axial plane, where the
        # circle score cannot follow it)
        a, b = pts[0][-1], np.array([desc.k[-1], desc.y[-1], desc.x[-1]]) * grid_mm
        r_a, r_b = rad[0][-1], desc.radius_px[-1] * grid_mm[1]
        t = np.linspace(0, 1, 12)[1:-1]
        lin = a[None] + (b - a)[None] * t[:, None]
        lift = (max(a[0], b[0]) + 0.5 * (r_a + r_b) - lin[:, 0]) * np.sin(np.pi * t)
        lin[:, 0] += lift
        pts.append(lin); rad.append(r_a + (r_b - r_a) * t); seg.append(np.ones(len(t), int))
    if desc is not None and desc.n:
        add(desc, slice(None, None, -1), 2)
    if not pts:
        return AortaTube(np.zeros((0, 3)), np.zeros(0), np.zeros(0, int))
    return AortaTube(np.concatenate(pts), np.concatenate(rad), np.concatenate(seg).astype(int))


def find_pericardium(g: np.ndarray, lungs: np.ndarray, body: np.ndarray, diaphragm_mm: np.ndarray,
                     desc: tube.TubeTrack | None, root_k: float, grid_mm: np.ndarray,
                     left_dome_mm: float = np.nan, midline_x: float | None = None, *,
                     right_dome_mm: float = np.nan, contrast: bool = False,
                     blood_lo: float | None = None, sac: SacOptions | None = None) -> tuple[np.ndarray, Part]:
    """The heart in its pericardial sac: the mediastinum between the lungs (inside their hull, not lung), in
    front of the descending aorta's anterior edge, above the diaphragm and at most 15 mm above the aortic root,
    opened with a 5 mm disc (which cuts the thin bridges of fat behind the sternum) and kept as its largest
    connected part. Epicardial fat and the grooves (where the coronaries run) are inside it; the chest wall, the
    spine, the descending aorta and the abdomen are not. With contrast (blood_lo: the scan's blood threshold) the
    blood pools of the low heart take it under the floor and out of the lungs' hull (:func:`_blood_under_floor`);
    the liver is cut by its own HU band (:func:`_without_liver`)."""
    nz, ny, nx = g.shape
    midline_x = nx / 2 if midline_x is None else midline_x
    lung_grown = ndimage.binary_dilation(lungs, _INPLANE)
    tissue = body & ~lung_grown & (g > -250)
    med = _lung_hull(lungs) & tissue
    kk = np.arange(nz)[:, None, None]
    floor = _heart_floor(diaphragm_mm, left_dome_mm, midline_x, grid_mm)
    if floor is not None:
        med &= kk * grid_mm[0] >= floor[None]
        if contrast and blood_lo is not None and np.isfinite([right_dome_mm, left_dome_mm]).any():
            # the low heart's blood lies under that floor and, on the last slices, outside the lungs' hull
            med |= _blood_under_floor(g, tissue, floor, (right_dome_mm, left_dome_mm), blood_lo, grid_mm)
    if np.isfinite(root_k):
        med &= kk <= root_k + 15.0 / grid_mm[0]
    yy = np.arange(ny)[None, :, None]
    if desc is not None and desc.n:
        # behind the front edge of the descending aorta lie the aorta, oesophagus and spine, not the heart
        kz = np.arange(nz)
        front = np.interp(kz, desc.k, desc.y - desc.radius_px)
        med &= yy < front[:, None, None]
        if sac is not None and sac.oesophagus_mm > 0:
            depth = sac.oesophagus_mm if contrast else min(sac.oesophagus_mm, OESOPHAGUS_PLAIN_MM)
            med &= ~_oesophageal_band(g, desc, grid_mm, depth, blood_lo if contrast else None)
        if sac is not None and sac.heart_back_mm > 0 and contrast and blood_lo is not None:
            med &= ~_heart_back_band(g, desc, grid_mm, sac.heart_back_mm, blood_lo)
    med = ndimage.binary_opening(med, _sac_disc(grid_mm))
    heart = ndimage.binary_fill_holes(_largest(med), _INPLANE)
    if floor is not None:
        heart = _above_fat_floor(heart, g, lungs, grid_mm, floor)
        if np.isfinite(right_dome_mm):
            heart = _without_liver(heart, g, body, lungs, grid_mm, diaphragm_mm, right_dome_mm, midline_x)
    heart = _without_tail_at_aorta(heart, desc, grid_mm)
    ml = float(heart.sum() * np.prod(grid_mm) / 1000.0)
    if ml < 150:
        return heart, Part(bool(heart.any()), 0.2, f"pericardial mask of only {ml:.0f} ml")
    if ml > 2000:
        return heart, Part(True, 0.4, f"pericardial mask of {ml:.0f} ml (leaked beyond the heart?)")
    conf = 1.0 if np.isfinite(root_k) else 0.5
    return heart, Part(True, conf, "" if conf == 1 else "no aortic root: the sac's top is not bounded")


def _oesophageal_band(g: np.ndarray, desc: tube.TubeTrack, grid_mm: np.ndarray, depth_mm: float,
                      blood_lo: float | None, *, left_r: float = OESOPHAGUS_LEFT_R) -> np.ndarray:
    """(z, y, x) coarse bool: on each slice (the descending track's ends held beyond it), the band from depth_mm in
    front of the aorta's anterior edge back to the edge, from OESOPHAGUS_RIGHT_MM right of its right edge to
    left_r radii left of its centre (x; OESOPHAGUS_LEFT_R: where the oesophagus and the azygos lie, :class:`SacOptions`;
    1.0: the aorta's left edge, :func:`_heart_back_band`). With blood_lo (contrast) the band leaves out what lies within
    OESOPHAGUS_BLOOD_KEEP_MM of a blood pool of at least POOL_MIN_CM2 other than the aorta's lumen (the left atrium and
    its wall)."""
    nz, ny, nx = g.shape
    out = np.zeros(g.shape, bool)
    # every slice, the track's ends held beyond it (as the cut at the aorta's front edge, find_pericardium)
    ks = np.arange(nz)
    cy, cx, r = (np.interp(ks, desc.k, v) for v in (desc.y, desc.x, desc.radius_px))
    yy, xx = np.arange(ny)[:, None], np.arange(nx)[None, :]
    for k, y0, x0, rr in zip(ks, cy, cx, r):
        front = y0 - rr
        out[k] = ((yy >= front - depth_mm / grid_mm[1]) & (yy < front + 1)
                  & (xx >= x0 - rr - OESOPHAGUS_RIGHT_MM / grid_mm[2]) & (xx <= x0 + left_r * rr))
    if blood_lo is not None and out.any():
        sl = slice(ks.min(), ks.max() + 1)
        pool = ndimage.uniform_filter(g[sl], size=(1, 3, 3)) >= blood_lo
        lab, n = ndimage.label(pool, _INPLANE)
        area_cm2 = np.bincount(lab.ravel(), minlength=n + 1) * grid_mm[1] * grid_mm[2] / 100.0
        area_cm2[0] = 0.0
        r_px = max(1, int(round(OESOPHAGUS_BLOOD_KEEP_MM / grid_mm[1])))
        chamber = area_cm2 >= POOL_MIN_CM2
        # the aorta's own lumen is a pool too: it must not keep the band in front of it
        iy = np.clip(np.rint(cy).astype(int), 0, ny - 1)
        ix = np.clip(np.rint(cx).astype(int), 0, nx - 1)
        chamber[lab[ks - ks.min(), iy, ix]] = False
        chamber[0] = False
        near = ndimage.binary_dilation(chamber[lab], _INPLANE, iterations=r_px)
        out[sl] &= ~near
    return out


HEART_BACK_AORTA_MM = 10.0
"""The heart-back cut's chambers are the pools outside the tracked aortic circle grown by this: the tracked circle
sits 4-12 mm off the lumen's centre and 3-6 mm under its radius on LIDC-IDRI-0003's low slices (z 57-95 mm), and the
lumen's 3 x 3-mean pool there joins other bright pieces (22-24 cm^2 at z 65-70 mm), so it is not told by its label."""


def _heart_back_band(g: np.ndarray, desc: tube.TubeTrack, grid_mm: np.ndarray, depth_mm: float,
                     blood_lo: float) -> np.ndarray:
    """(z, y, x) coarse bool, with contrast: the band from depth_mm in front of the descending aorta's anterior edge
    back to it, from OESOPHAGUS_RIGHT_MM right of its right edge to its left edge (:func:`_oesophageal_band` with
    left_r 1), less what lies within HEART_BACK_KEEP_MM (in-plane, a disc) of a chamber: a blood pool (3 x 3 mean >=
    blood_lo) of at least POOL_MIN_CM2 outside the aortic circle grown by HEART_BACK_AORTA_MM (SacOptions.heart_back_mm).
    Where the left atrium lies on the aorta (its back 7-12 mm in front of the aortic edge on LIDC-IDRI-0003) the whole
    band is within reach of it and nothing is cut; under it, the fat and the oesophagus between the heart and the
    aorta are."""
    out = _oesophageal_band(g, desc, grid_mm, depth_mm, None, left_r=1.0)
    ks = np.flatnonzero(out.any((1, 2)))
    if not len(ks):
        return out
    sl = slice(ks.min(), ks.max() + 1)
    kz = np.arange(sl.start, sl.stop)
    cy, cx, r = (np.interp(kz, desc.k, v) for v in (desc.y, desc.x, desc.radius_px))
    ny, nx = g.shape[1:]
    yy, xx = np.arange(ny)[None, :, None], np.arange(nx)[None, None, :]
    grow = HEART_BACK_AORTA_MM / grid_mm[1]
    aorta = (yy - cy[:, None, None]) ** 2 + (xx - cx[:, None, None]) ** 2 <= (r[:, None, None] + grow) ** 2
    pool = (ndimage.uniform_filter(g[sl], size=(1, 3, 3)) >= blood_lo) & ~aorta
    lab, n = ndimage.label(pool, _INPLANE)
    area_cm2 = np.bincount(lab.ravel(), minlength=n + 1) * grid_mm[1] * grid_mm[2] / 100.0
    area_cm2[0] = 0.0
    chamber = (area_cm2 >= POOL_MIN_CM2)[lab]
    rk = HEART_BACK_KEEP_MM / grid_mm[1]
    h = int(np.ceil(rk))
    disc = (np.hypot(*np.mgrid[-h:h + 1, -h:h + 1]) <= rk)[None]
    out[sl] &= ~ndimage.binary_dilation(chamber, disc)
    return out


def diaphragm_under_sac(diaphragm_mm: np.ndarray, heart: np.ndarray, grid_mm: np.ndarray) -> np.ndarray:
    """The (y, x) diaphragm surface (mm) with each column under the pericardial mask lowered to the mask's floor where
    that lies under it (:class:`SacOptions` diaphragm_from_sac): the heart rests on the diaphragm."""
    if not heart.any() or not np.isfinite(diaphragm_mm).any():
        return diaphragm_mm
    has = heart.any(0)
    floor = np.argmax(heart, axis=0) * grid_mm[0]
    return np.where(has, np.minimum(diaphragm_mm, floor), diaphragm_mm)


UNDER_HEART_BELOW_MM = 40.0
"""How far under the lateral lung floors' surface (:func:`find_diaphragm`) the diaphragm under the heart is looked
for: that surface lies ~20 mm above the liver's top under the heart where the heart's lowest slices sit among the
liver's (phantom seed 14513 p20: +17 mm median over the sac's columns; session 23, wt31a)."""
UNDER_HEART_RUN_MM = 15.0
"""The least run of soft tissue (no fat, no lung) under the fat line for it to be the abdomen's top: the liver or
the stomach's wall go on down; the heart's inferior wall under the fat of its grooves is 10 mm thick and ends on the
fat under the heart."""
UNDER_HEART_GROW_MM = 15.0
"""The columns searched: the pericardial mask's, grown this far in-plane. The mask misses the heart's lowest right part
where the lung floors' surface cuts it (seed 14513 p20: a 52 AU piece of the distal RCA 6.9 mm outside the mask stayed
under the rule's margin with 5 mm)."""
UNDER_HEART_SOFT_HU = (0.0, 150.0)
"""Soft tissue under the fat line (in-plane 3 x 3 mean): liver 50-70, abdomen 40, stomach wall 18 HU without
contrast; calcium or contrast above 150 is not the abdomen's top."""


def diaphragm_under_heart(g: np.ndarray, lungs: np.ndarray, heart: np.ndarray, diaphragm_mm: np.ndarray,
                          part: Part, grid_mm: np.ndarray, midline_x: float) -> tuple[np.ndarray, Part]:
    """(y, x) diaphragm surface (mm) lowered, under the pericardial mask, to the top of the abdomen found in the
    image, and its :class:`Part` (:class:`SacOptions` diaphragm_under_heart; session 23, wt31a).

    The surface from :func:`find_diaphragm` is first redrawn with ``in_scan`` when it was not found because the
    lungs reach the lowest slice (or, when no lateral floor lies inside the scan, started at the scan's bottom).
    Then in each column of the mask grown UNDER_HEART_GROW_MM in-plane, from the mask's floor (or the surface, if
    lower) down to UNDER_HEART_BELOW_MM under the surface, the highest fat voxel (FAT_FLOOR_HU, 3 x 3 mean) with at
    least UNDER_HEART_RUN_MM of soft tissue (UNDER_HEART_SOFT_HU) under it, or soft tissue down to the scan's
    bottom, marks the abdomen's top under it (the epicardial and pericardial fat between the heart and the liver).
    Patches of such columns smaller than FAT_FLOOR_MIN_CM2 are dropped (fat of a groove); the heights are
    median-filtered over 5 x 5 columns (which also fills the columns within 2 of a found one); the surface only goes
    down (never above the lung floors' surface). Columns with no such fat keep the surface (a heart on the liver
    with no fat between: LIDC-IDRI-0001 / 0002)."""
    below_scan = redrawn = False
    if not np.isfinite(diaphragm_mm).any() or not part.found:
        surface, _, p2 = find_diaphragm(lungs, grid_mm, midline_x, in_scan=True)
        if p2.found:
            diaphragm_mm, part, redrawn = surface, p2, True
        elif "below the scan" in part.reason and heart.any():
            diaphragm_mm, below_scan = np.zeros(lungs.shape[1:]), True  # every lateral floor under the scan
        else:
            return diaphragm_mm, part
    if not heart.any():
        return diaphragm_mm, part
    box = (slice(None), *_box_of(heart.any(0), int(np.ceil(UNDER_HEART_GROW_MM / grid_mm[1])) + 2))
    sub = heart[box]
    surface_k = diaphragm_mm[box[1:]] / grid_mm[0]
    if below_scan:  # the mask had no floor: look in the scan's lowest UNDER_HEART_BELOW_MM
        top_k = np.full(surface_k.shape, UNDER_HEART_BELOW_MM / grid_mm[0])
        bottom_k = np.ones(surface_k.shape)
    else:  # from the mask's floor, or the surface where it lies lower, down
        # (a redrawn surface: the mask was drawn without a floor and may reach into the liver; the surface alone)
        floor_k = np.where(sub.any(0) & (not redrawn), np.argmax(sub, axis=0), np.inf)
        top_k = np.minimum(floor_k, np.floor(surface_k) + 1)
        bottom_k = np.maximum(np.ceil(surface_k - UNDER_HEART_BELOW_MM / grid_mm[0]), 1)
    lowered = _abdomen_top(g[box], lungs[box], sub, top_k, bottom_k, grid_mm)
    if lowered is None:
        return diaphragm_mm, part
    out = diaphragm_mm.copy()
    # (below the scan the 0 mm start is no surface: the found top replaces it, and it stays where none was found)
    out[box[1:]] = np.where(np.isfinite(lowered), lowered, 0.0) if below_scan else np.minimum(diaphragm_mm[box[1:]],
                                                                                             lowered)
    if not part.found:  # the surface under the heart was found in the image: the rules may read it
        part = Part(True, MIN_CONFIDENCE, "under the heart only: the lungs reach the lowest slice")
    return out, part


def _abdomen_top(g: np.ndarray, lungs: np.ndarray, heart: np.ndarray, top_k: np.ndarray, bottom_k: np.ndarray,
                 grid_mm: np.ndarray) -> np.ndarray | None:
    """(y, x) height (mm) of the abdomen's top under the fat line below the heart, looked for between the coarse
    slices bottom_k and top_k of each column; +inf where none was found (see :func:`diaphragm_under_heart`); None
    when no column has one."""
    nz = g.shape[0]
    smooth = ndimage.uniform_filter(g, size=(1, 3, 3))
    fat = (smooth < FAT_FLOOR_HU) & ~lungs
    soft = (smooth >= UNDER_HEART_SOFT_HU[0]) & (smooth <= UNDER_HEART_SOFT_HU[1]) & ~lungs
    run = int(round(UNDER_HEART_RUN_MM / grid_mm[0]))
    # soft[k-run .. k-1] all true, or soft from k-1 down to the scan's bottom: the abdomen under slice k
    below = np.zeros(g.shape, bool)
    for k in range(1, nz):
        below[k] = soft[max(0, k - run):k].all(0)
    cols = ndimage.binary_dilation(heart.any(0), iterations=max(1, int(round(UNDER_HEART_GROW_MM / grid_mm[1]))))
    kk = np.arange(nz)[:, None, None]
    line = fat & below & (kk <= top_k[None]) & (kk >= bottom_k[None]) & cols[None]
    found = line.any(0)
    if not found.any():
        return None
    high = nz - 1 - np.argmax(line[::-1], axis=0)  # the highest such fat voxel
    lab, n = ndimage.label(found, np.ones((3, 3), bool))
    area_cm2 = np.bincount(lab.ravel(), minlength=n + 1) * grid_mm[1] * grid_mm[2] / 100.0
    area_cm2[0] = 0.0
    found &= area_cm2[lab] >= FAT_FLOOR_MIN_CM2
    if not found.any():
        return None
    h = np.where(found, (high - 0.5) * grid_mm[0], np.nan)  # the face between the fat and the abdomen's top
    # the median of the found heights within 2 columns (~5 mm): smooths the sheet and fills the columns beside found
    # ones, where a thin fat line partial-volumed over a 5 mm slice reads above FAT_FLOOR_HU (seed 14513 p20: -1 HU
    # under a 52 AU distal RCA, the next column -27 HU)
    with warnings.catch_warnings():  # a window with no found column: nan (all-nan slice), read as none found
        warnings.simplefilter("ignore", RuntimeWarning)
        med = ndimage.generic_filter(h, np.nanmedian, size=5, mode="nearest")
    return np.where(np.isfinite(med) & cols, med, np.inf)


TAIL_AREA_CM2 = 15.0
"""A lowest slice of the pericardial mask with less than this area, centred within TAIL_AORTA_MM of the
descending aorta's centre, is the column in front of the aorta (oesophagus, the aorta's front half), not the
heart: on LIDC-IDRI-0003 its lowest 7 slices (6-14 cm2, z 58-73 mm) were that column and the heart's lowest
slice above them had 42 cm2 (docs/pictures/pericardium_low_lidc-idri-0003.png); the apex cap lies far in front
and to the left of the aorta."""
TAIL_AORTA_MM = 40.0


def _without_tail_at_aorta(heart: np.ndarray, desc: tube.TubeTrack | None, grid_mm: np.ndarray) -> np.ndarray:
    """The pericardial mask without the small in-plane pieces next to the descending aorta on its lowest slices
    (:data:`TAIL_AREA_CM2`): the tracked circle can sit off the lumen (LIDC-IDRI-0003, by about a radius), so the cut
    in front of it leaves the aorta's front half and the oesophagus in the mask below the heart. From the lowest
    slice up, while a slice holds such a piece; a piece far from the aorta (the low right heart beside the
    oesophagus, LIDC-IDRI-0003 at z 65-70 mm) stays."""
    if desc is None or not desc.n:
        return heart
    ks = np.nonzero(heart.any(axis=(1, 2)))[0]
    out = heart.copy()
    for k in ks:
        lab = ndimage.label(heart[k])[0]
        ay, ax = np.interp(k, desc.k, desc.y), np.interp(k, desc.k, desc.x)
        cut = False
        for i, piece in enumerate(ndimage.find_objects(lab), 1):
            ys, xs = np.nonzero(lab[piece] == i)
            area_cm2 = len(ys) * grid_mm[1] * grid_mm[2] / 100.0
            cy, cx = ys.mean() + piece[0].start, xs.mean() + piece[1].start
            if area_cm2 < TAIL_AREA_CM2 and np.hypot((cy - ay) * grid_mm[1], (cx - ax) * grid_mm[2]) <= TAIL_AORTA_MM:
                out[k][lab == i] = False
                cut = True
        if not cut:
            break
    return out


FAT_FLOOR_HU = -20.0
"""Fat under the heart: the in-plane 3 x 3 mean (7.5 mm) of the coarse grid below this. Heart (blood 30-45,
myocardium 40-50 HU without contrast) and liver (50-70 HU) are far above it, the epicardial and pericardial fat
between them (-50 to -110 HU on phantom v3) below; the lung beside the cardiophrenic angles is too, and its floor is
the diaphragm."""

FAT_FLOOR_BAND_MM = 30.0
"""How far above the mask's lowest voxel of a column the fat under the heart is looked for: the mask's floor lies
10-25 mm under the heart on phantom v3 (the interpolated diaphragm and the left extension, measured by the phantom's
anatomy labels; bench/chest_anatomy_phantom.py)."""


FAT_FLOOR_MIN_CM2 = 20.0
"""The least area (cm^2) of a connected patch of columns with fat near their floor for it to be the fat under the
heart (see :func:`_above_fat_floor`)."""


def _above_fat_floor(heart: np.ndarray, g: np.ndarray, lungs: np.ndarray, grid_mm: np.ndarray,
                     floor_mm: np.ndarray) -> np.ndarray:
    """The pericardial mask without what lies under the fat line of the heart's floor: in each column whose lowest
    mask voxel stands on the floor the mask was cut at (floor_mm, (y, x) mm: the diaphragm), going up from it, the
    first fat (FAT_FLOOR_HU) met within FAT_FLOOR_BAND_MM; everything of the column below it is the liver's dome or
    the abdomen under the diaphragm, which that floor (interpolated from the lateral lung floors) takes in where the
    dome rises under the heart (phantom v3: 10-15 % of the mask on abdominal labels). Columns that end higher, or
    on lung (within 15 mm under their lowest voxel: in front of or beside the heart, where the anterior lung's
    floor is high; LIDC-IDRI-0003 lost the front of its right ventricle without this), are not the heart's floor
    and are left alone, and so are columns with no fat near their floor (the heart on the diaphragm with no fat
    between, as on the three LIDC series) and patches of fat smaller than FAT_FLOOR_MIN_CM2 (groove fat above heart
    muscle). The fat voxel itself stays (the grooves' fat holds the coronaries)."""
    if not heart.any():
        return heart
    # only the mask's in-plane box (+1 for the 3 x 3 mean) is read: the same answer at a fifth of the cost
    box = (slice(None), *_box_of(heart.any(0), 1))
    kept = _above_fat_floor_in(heart[box], g[box], lungs[box], grid_mm, floor_mm[box[1:]])
    return _replace_in_box(heart, box, kept)


def _replace_in_box(heart: np.ndarray, box: tuple[slice, ...], kept: np.ndarray) -> np.ndarray:
    """``heart`` with its part in ``box`` (which holds all of it) replaced by ``kept``, as its largest component with
    holes filled slice by slice; ``heart`` itself when nothing was taken away or nothing is left. Done inside the
    box: the same answer (the box holds the mask with a free border) at a fraction of the whole grid's cost."""
    if not kept.any() or np.array_equal(kept, heart[box]):
        return heart
    out = np.zeros_like(heart)
    out[box] = ndimage.binary_fill_holes(_largest(kept), _INPLANE)
    return out


def _above_fat_floor_in(heart: np.ndarray, g: np.ndarray, lungs: np.ndarray, grid_mm: np.ndarray,
                        floor_mm: np.ndarray) -> np.ndarray:
    nz = heart.shape[0]
    smooth = ndimage.uniform_filter(g, size=(1, 3, 3))
    fat = heart & (smooth < FAT_FLOOR_HU)
    has = heart.any(0)
    bottom = np.argmax(heart, axis=0)
    kk = np.arange(nz)[:, None, None]
    band = int(round(FAT_FLOOR_BAND_MM / grid_mm[0]))
    in_band = (kk >= bottom[None]) & (kk <= bottom[None] + band)
    first = np.where((fat & in_band).any(0), np.argmax(fat & in_band, axis=0), -1)
    under = (kk < bottom[None]) & (kk >= bottom[None] - int(round(15.0 / grid_mm[0])))
    on_floor = (bottom * grid_mm[0] <= floor_mm + grid_mm[0]) & ~(lungs & under).any(0)
    cut = has & on_floor & (first > bottom)
    # a sheet, not a few columns: the fat under a heart on phantom v3 is one patch of 46-94 cm^2 (6 patients of
    # seed 41); on the three LIDC series the columns with fat within 30 mm of their floor form patches of at most
    # 6 cm^2, fat of the grooves and the cardiophrenic fat pads above heart muscle (the front of LIDC-IDRI-0003's
    # right ventricle, 6 ml, was cut away without this)
    lab, n = ndimage.label(cut, np.ones((3, 3), bool))
    area_cm2 = np.bincount(lab.ravel(), minlength=n + 1) * grid_mm[1] * grid_mm[2] / 100.0
    area_cm2[0] = 0.0
    cut = area_cm2[lab] >= FAT_FLOOR_MIN_CM2
    return heart & ~((kk < first[None]) & cut[None])


LEFT_FLOOR_BELOW_DOME_MM = 15.0
"""How far under the left dome the pericardial mask may reach left of the midline."""

BLOOD_FLOOR_BELOW_DOME_MM = 25.0
"""With contrast, how far under the lower dome the heart's blood pools (and their 5 mm wall) may take the mask,
on both sides of the midline: LIDC-IDRI-0001's right atrium and inferior right ventricle reach 125 mm, 22 mm under
its left dome (147.5 mm) and 35 mm under its right one (160 mm); LIDC-IDRI-0003's reach 65 mm under domes of 72.5 /
95 mm."""


def _heart_floor(diaphragm_mm: np.ndarray, left_dome_mm: float, midline_x: float,
                 grid_mm: np.ndarray) -> np.ndarray | None:
    """(y, x) height (mm) under which the pericardial mask's tissue does not reach; None without a diaphragm.

    Right of the midline - 10 mm: the diaphragm surface interpolated from the lateral lung floors (under it lies
    the liver's dome). Left of it the heart rests on the left hemidiaphragm and the central tendon, below that
    surface (LIDC-IDRI-0001: its lower 20 mm were cut off at it): 10 mm under the surface or the left dome, whichever
    is lower, but never more than LEFT_FLOOR_BELOW_DOME_MM under the left dome, since the lateral floors of the
    costophrenic recesses lie far lower (LIDC-IDRI-0003: the mask reached 47 mm, 25 mm under the heart, into the
    hiatus)."""
    if not np.isfinite(diaphragm_mm).all():
        return None
    if np.isfinite(left_dome_mm):
        left = np.maximum(np.minimum(diaphragm_mm, left_dome_mm) - 10.0, left_dome_mm - LEFT_FLOOR_BELOW_DOME_MM)
    else:
        left = diaphragm_mm - 10.0
    xx = np.arange(diaphragm_mm.shape[1])[None, :]
    return np.where(xx >= midline_x - 10.0 / grid_mm[2], left, diaphragm_mm)


POOL_MIN_CM2 = 2.0
"""The least in-plane area of a blood pool that takes the mask under its floor: the chambers are 10-60 cm^2 on
their lowest slices; an internal mammary vessel (under 1 cm^2) joined the mask on LIDC-IDRI-0001 without this."""


def _blood_under_floor(g: np.ndarray, tissue: np.ndarray, floor_mm: np.ndarray, domes_mm: tuple[float, float],
                       blood_lo: float, grid_mm: np.ndarray) -> np.ndarray:
    """With contrast: the blood pools (in-plane 3 x 3 mean at or above blood_lo) and the tissue within 5 mm of them
    (their wall) under the tissue floor (:func:`_heart_floor`) and above BLOOD_FLOOR_BELOW_DOME_MM under the lower
    dome. The right atrium and the inferior right ventricle lie on the central tendon and the liver, under the right
    floor (LIDC-IDRI-0003's at z 65-88 mm under a right dome of 95 mm; picture pericardium_low_lidc-idri-0003.png);
    the liver under them is not yet enhanced in a chest series (60-71 HU against blood of 250-400 HU), so the bright
    pool is the heart. Whatever of it is not joined to the heart above is dropped with the mask's other pieces."""
    nz = g.shape[0]
    low = float(np.nanmin(domes_mm)) - BLOOD_FLOOR_BELOW_DOME_MM
    kk = np.arange(nz)[:, None, None] * grid_mm[0]
    band = (kk < np.maximum(floor_mm, np.nanmax(domes_mm))[None]) & (kk >= low)
    ks = np.flatnonzero(band.any((1, 2)))
    out = np.zeros(g.shape, bool)
    if len(ks) == 0:
        return out
    sl = slice(ks.min(), ks.max() + 1)
    pool = ndimage.uniform_filter(g[sl], size=(1, 3, 3)) >= blood_lo
    # a chamber, not a vessel of the chest wall or the abdomen's small vessels: in-plane pieces of 2 cm^2 or more
    lab, n = ndimage.label(pool, _INPLANE)
    area_cm2 = np.bincount(lab.ravel(), minlength=n + 1) * grid_mm[1] * grid_mm[2] / 100.0
    area_cm2[0] = 0.0
    pool = area_cm2[lab] >= POOL_MIN_CM2
    r = max(1, int(round(5.0 / grid_mm[1])))
    out[sl] = ndimage.binary_dilation(pool, _INPLANE, iterations=r) & tissue[sl] & band[sl]
    return out


LIVER_SMOOTH = (3, 3, 3)
"""The mean (coarse voxels: 7.5 mm) that liver and heart are told apart by."""

LIVER_MIN_HU = 50.0
"""The liver's HU band never reaches below this: the heart without contrast (blood 30-45, myocardium 40-50 HU; the
mask on LIDC-IDRI-0002 p90 45 HU) lies under it."""

LIVER_BAND_HU = (-15.0, 25.0)
"""The liver's HU band about the median of its sample 25-45 mm under the right dome (LIDC-IDRI 0001 / 0002 / 0003,
the first and last with contrast: median 71 / 68 / 60 HU; the liver is not yet enhanced in these chest series, the
heart's blood is 250-400 HU and its myocardium 100-150 HU)."""


def _liver_band(smooth: np.ndarray, body: np.ndarray, lungs: np.ndarray, kk_mm: np.ndarray, right: np.ndarray,
                right_dome_mm: float) -> tuple[float, float] | None:
    """The liver's HU band in this scan, from the tissue 25-45 mm under the right dome, right of the midline (the
    liver, whatever the contrast phase); None when the scan holds too little of it."""
    deep = (kk_mm < right_dome_mm - 25.0) & (kk_mm > right_dome_mm - 45.0)
    v = smooth[body & deep & right & ~lungs]
    v = v[(v > 0.0) & (v < 200.0)]
    if len(v) < 200:
        return None
    m = float(np.median(v))
    return max(LIVER_MIN_HU, m + LIVER_BAND_HU[0]), m + LIVER_BAND_HU[1]


def _without_liver(heart: np.ndarray, g: np.ndarray, body: np.ndarray, lungs: np.ndarray, grid_mm: np.ndarray,
                   diaphragm_mm: np.ndarray, right_dome_mm: float, midline_x: float) -> np.ndarray:
    """The pericardial mask without the liver: the liver is grown, through tissue in its own HU band
    (:func:`_liver_band`, smoothed), from itself under the right hemidiaphragm (right of the midline, over 10 mm
    below the diaphragm surface) up to at most 5 mm over the right dome (the lung floor over the liver is the
    dome), and taken out of the mask. The band tissue is opened in-plane first: a shell of partial-volume voxels
    (fat next to contrast blood) must not carry the growth round the heart. The mask's floor lies under the liver's
    dome beside and under the heart (LIDC-IDRI-0002: its left lobe under the left dome; the floor on the right,
    :func:`_heart_floor`)."""
    if not heart.any() or not body.any():
        return heart
    # the liver lies below right_dome_mm + 5 and inside the body: only that box (+ the mean's half-width) is read
    top = min(g.shape[0], int(np.floor((right_dome_mm + 5.0) / grid_mm[0])) + 2)
    if top <= 0 or not body[:top].any():
        return heart
    box = (slice(0, top), *_box_of(body[:top].any(0), 2))
    smooth = ndimage.uniform_filter(g[box], size=LIVER_SMOOTH)
    kk = np.arange(top)[:, None, None] * grid_mm[0]
    xs = np.arange(box[2].start, box[2].start + smooth.shape[2])
    right = (xs < midline_x)[None, None, :]
    band = _liver_band(smooth, body[box], lungs[box], kk, (xs < midline_x - 40.0 / grid_mm[2])[None, None, :],
                       right_dome_mm)
    if band is None:
        return heart
    liverish = body[box] & ~lungs[box] & (smooth >= band[0]) & (smooth <= band[1]) & (kk <= right_dome_mm + 5.0)
    core = ndimage.binary_opening(liverish, _INPLANE)
    seeds = core & right & (kk < diaphragm_mm[box[1:]][None] - 10.0)
    if not seeds.any():
        return heart
    grown = ndimage.binary_propagation(seeds, mask=core)
    liver = np.zeros(heart.shape, bool)
    liver[box] = ndimage.binary_dilation(grown, _INPLANE) & liverish
    hbox = _box_of(heart, 1)
    kept = heart[hbox] & ~liver[hbox]
    if np.array_equal(kept, heart[hbox]):
        return heart
    # the liver's rim against the lung (partial volume under the band) stays as a thin fringe: opened away
    return _replace_in_box(heart, hbox, ndimage.binary_opening(kept, _sac_disc(grid_mm)))


def _sac_disc(grid_mm: np.ndarray) -> np.ndarray:
    """The in-plane 5 mm disc the mediastinum is opened with (it cuts the thin bridges of fat behind the sternum)."""
    r = max(1, int(round(5.0 / grid_mm[1])))
    disc = np.zeros((1, 2 * r + 1, 2 * r + 1), bool)
    disc[0] = np.hypot(*np.mgrid[-r:r + 1, -r:r + 1]) <= r
    return disc


def _box_of(mask: np.ndarray, margin: int) -> tuple[slice, ...]:
    """The bounding box of a non-empty mask grown by ``margin`` voxels on every axis (clipped at 0; slicing clips
    the far end)."""
    found = ndimage.find_objects(mask.astype(np.uint8))[0]
    return tuple(slice(max(0, b.start - margin), b.stop + margin) for b in found)


BONE_HU_CONTRAST = 450.0
"""Bony thorax threshold with intravascular contrast: blood is 200-450 HU there (LIDC-IDRI-0001, -0003) and at 180 HU
the heart's chambers, the liver's veins and the pulmonary vessels joined the bony thorax (a 94 ml 'sternum' in the
heart of 0001); cortical bone stays above it."""


def find_bone(g: np.ndarray, body: np.ndarray, keep_out: np.ndarray, grid_mm: np.ndarray,
              midline_x: float, hull: np.ndarray, contrast: bool = False) -> tuple[np.ndarray, Part]:
    """The bony thorax as connected structures, labelled 1 spine (the largest bright structure crossing the
    posterior midline), 2 sternum (bright structures in the anterior midline, in front of the lung hull),
    3 ribs, costal cartilage and the rest; keep_out: where bright is blood or calcium of the heart and aorta."""
    bright = (g >= (BONE_HU_CONTRAST if contrast else BONE_HU)) & body & ~keep_out
    lab, n = ndimage.label(bright, structure=np.ones((3, 3, 3), bool))
    out = np.zeros(g.shape, np.uint8)
    if n == 0:
        return out, Part(False, 0.0, f"nothing >= {BONE_HU:.0f} HU outside the heart and aorta")
    sizes = np.bincount(lab.ravel())
    ml = sizes * np.prod(grid_mm) / 1000.0
    # ribs and cartilage are long structures; a small bright blob outside the pericardial mask is as likely to be
    # coronary calcium on a heart that the mask cut short (a 168 AU LAD plaque on a 128 px phantom was 'bone' at
    # 0.05 ml before this)
    keep = ml >= 1.0
    keep[0] = False
    xs = np.arange(g.shape[2])
    near_mid = np.abs(xs - midline_x) * grid_mm[2] < 15
    # spine: of the structures holding midline pixels in the posterior third, the largest
    post = np.zeros(g.shape, bool)
    ys_body = np.nonzero(body.any((0, 2)))[0]
    y_front, y_back = ys_body.min(), ys_body.max()
    post[:, int(y_front + 0.55 * (y_back - y_front)):, :] = True
    mid3 = post & near_mid[None, None, :]
    spine_ids = np.bincount(lab[mid3 & (lab > 0)], minlength=n + 1)
    spine = int(np.argmax(spine_ids * keep)) if spine_ids[1:].any() else 0
    spine_ok = spine and keep[spine]
    ant = np.zeros(g.shape, bool)
    ant[:, :int(y_front + 0.4 * (y_back - y_front)), :] = True
    stern_ids = np.flatnonzero(np.bincount(lab[ant & ~hull & near_mid[None, None, :] & (lab > 0)],
                                           minlength=n + 1) > 0)
    # the ribs, costal cartilage and sternum reach outside the lung hull; bright structures wholly inside it are
    # contrast-filled vessels (the pulmonary arteries and veins of LIDC-IDRI-0001 were labelled bone before this),
    # calcified nodes or valves, not the bony thorax
    outside = np.bincount(lab[~hull & (lab > 0)], minlength=n + 1)
    keep &= outside >= 0.2 * sizes
    lut = np.where(keep, 3, 0).astype(np.uint8)
    lut[stern_ids[keep[stern_ids]]] = 2
    if spine_ok:
        lut[spine] = 1
    out = lut[lab]
    if not spine_ok:
        return out, Part(True, 0.4, "no spine in the posterior midline")
    conf = 1.0 if (out == 2).any() else 0.7
    return out, Part(True, conf, "" if conf == 1 else "no sternum in the anterior midline")


def _apex_region(heart: np.ndarray, hull: np.ndarray, diaphragm_mm: np.ndarray, left_dome_mm: float, midline_x: float,
                 grid_mm: np.ndarray) -> np.ndarray:
    """The part of the pericardial mask the apex is looked for in: inside the lungs' hull and above the tissue floor
    (:func:`_heart_floor`). The left ventricle's apex lies there, on the left hemidiaphragm; what the contrast blood
    pools add under the floor and in front of the hull is the right heart (LIDC-IDRI-0003: the apex went to the
    right ventricle's lowest front tip, 41 mm from the eye landmark, against 19 mm without it). The whole mask when
    that part is empty."""
    floor = _heart_floor(diaphragm_mm, left_dome_mm, midline_x, grid_mm)
    region = heart & hull
    if floor is not None:
        region &= (np.arange(heart.shape[0]) * grid_mm[0])[:, None, None] >= floor[None]
    return region if region.any() else heart


def _heart_frame(heart: np.ndarray, root_mm: np.ndarray, grid_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Apex (the pericardial point farthest from the root towards anterior-left-inferior) and the heart frame:
    rows = long axis (root -> apex), the anterior direction made orthogonal to it, their cross product."""
    pts = np.argwhere(heart) * grid_mm
    if len(pts) == 0 or not np.isfinite(root_mm).all():
        return np.full(3, np.nan), np.eye(3)
    u = np.array([-0.5, -0.6, 0.6])
    apex = pts[int(np.argmax((pts - root_mm) @ (u / np.linalg.norm(u))))]
    e1 = apex - root_mm
    e1 = e1 / max(np.linalg.norm(e1), 1e-6)
    ant = np.array([0.0, -1.0, 0.0])
    e2 = ant - (ant @ e1) * e1
    e2 = e2 / max(np.linalg.norm(e2), 1e-6)
    return apex, np.stack([e1, e2, np.cross(e1, e2)])


# ------------------------------------------------------------------ the door
def read_chest(volume_or_hu: Volume | np.ndarray, spacing_mm: tuple[float, float, float] | None = None, *,
               root_options: RootOptions | None = None, sac: SacOptions | None = None,
               frame_sac: SacOptions | None = None) -> ChestAnatomy:
    """The anatomy of a (z, y, x) HU chest CT (:class:`ChestAnatomy`): a whole-chest or a heart-centred field of
    view, with or without contrast. spacing_mm (z, y, x) is required with a bare array. root_options:
    :class:`RootOptions` for the ascending aorta and the root (None: the module's ROOT, the shipped finder).
    sac: :class:`SacOptions` for the pericardial mask's back and the diaphragm under it (None: the shipped
    finder, ``SAC_VERSIONS["s18"]``). frame_sac: other :class:`SacOptions` the pericardial mask is also found with, for
    the heart reference (:meth:`ChestAnatomy.framed`; None or equal to sac: none). (The parameter is not named after
    :func:`sac_options`, which it would shadow inside this function.)"""
    opts = ROOT if root_options is None else root_options
    sac = SAC_VERSIONS["s18"] if sac is None else sac
    hu, spacing_mm = hu_and_spacing(volume_or_hu, spacing_mm, who="read_chest")
    if hu.ndim != 3:
        raise ValueError(f"read_chest: hu must be (z, y, x), got shape {hu.shape}")
    sp = tuple(float(s) for s in spacing_mm)
    sz, sxy = _grid(sp)  # type: ignore[arg-type]
    g = np.asarray(hu[::sz, ::sxy, ::sxy], np.float32)
    grid_mm = np.array([sp[0] * sz, sp[1] * sxy, sp[2] * sxy])
    voxel_ml = float(np.prod(grid_mm)) / 1000.0
    parts: dict[str, Part] = {}
    body, parts["body"] = find_body(g)
    lungs, parts["lungs"] = find_lungs(g, body, voxel_ml)
    bx = np.nonzero(body)[2]
    midline_x = float(np.median(bx)) if len(bx) else g.shape[2] / 2
    diaphragm, dome, parts["diaphragm"] = find_diaphragm(lungs, grid_mm, midline_x)
    dome_k = float(np.nanmin(dome)) / grid_mm[0] if np.isfinite(dome).any() else np.nan
    hull = _lung_hull(lungs)
    contrast, blood = blood_range(g, lungs, body, hull)
    desc, asc, parts["aorta"], parts["root"] = find_aorta(g, lungs, body, grid_mm, midline_x, dome_k, blood, opts)
    aorta = _tube(desc, asc, grid_mm)
    track_end = (np.array([asc.k[0], asc.y[0], asc.x[0]]) * grid_mm) if asc is not None and asc.n else np.full(3, np.nan)
    # without contrast only: with contrast the track's lowest 15 mm lie in the outflow tract's blood on LIDC-IDRI-0001
    # and -0003 (sections of 2,100-5,200 mm^2), and the eye-placed root lies 10-12.5 mm under the lowest circle: the
    # entry would put it ~25 mm too high
    j0 = (_heart_entry(asc, g, blood, grid_mm) if opts.root_at_heart_entry and not contrast and asc is not None
          and asc.n else 0)
    root_from = np.array([asc.k[j0], asc.y[j0], asc.x[j0]]) * grid_mm if j0 else track_end
    root = root_from - np.array([opts.below_track_mm, 0.0, 0.0])
    normal = np.full(3, np.nan)
    if asc is not None and asc.n >= j0 + 3:
        j4 = min(j0 + 4, asc.n - 1)
        d = np.array([asc.k[j4], asc.y[j4], asc.x[j4]]) * grid_mm - root_from
        normal = d / max(np.linalg.norm(d), 1e-6)
    # the sac's top stays bound to the tracked aorta, not to the annulus under it: the heart's top (atria,
    # pulmonary trunk) reaches well above the annulus
    def sac_with(options: SacOptions) -> tuple[np.ndarray, Part]:
        return find_pericardium(g, lungs, body, diaphragm, desc, track_end[0] / grid_mm[0], grid_mm, dome[1], midline_x,
                                right_dome_mm=dome[0], contrast=contrast, blood_lo=blood[0], sac=options)

    heart, parts["pericardium"] = sac_with(sac)
    framing = sac_with(frame_sac) if frame_sac is not None and frame_sac != sac else None
    keep_out = ndimage.binary_dilation(heart, _INPLANE, iterations=1) | _tube_mask(aorta, g.shape, grid_mm, 4.0)
    bone, parts["bone"] = find_bone(g, body, keep_out, grid_mm, midline_x, hull, contrast)
    apex, frame = _heart_frame(_apex_region(heart, hull, diaphragm, dome[1], midline_x, grid_mm), root, grid_mm)
    if sac.diaphragm_from_sac:  # after the apex: its region's floor stays the lung floors' surface
        diaphragm = diaphragm_under_sac(diaphragm, heart, grid_mm)
    if sac.diaphragm_under_heart:  # after the mask and the apex, which stay those of the lung floors' surface
        diaphragm, parts["diaphragm"] = diaphragm_under_heart(g, lungs, heart, diaphragm, parts["diaphragm"], grid_mm,
                                                              midline_x)
    surface, *wall_part = chest_wall.find_chest_wall(lungs, hull, heart, body, float(grid_mm[1]), truncated=bool(parts["body"].reason),
                                                     lungs_sure=parts["lungs"].sure())
    parts["chest_wall"] = Part(*wall_part)
    cartilage, *cart_part = costal.find_cartilage(g, body, lungs, hull, heart, grid_mm, midline_x,
                                                  lungs_sure=parts["lungs"].sure(),
                                                  blood_hu=blood[0] if contrast else None)
    parts["cartilage"] = Part(*cart_part)
    if parts["body"].reason:  # a field of view through the body: the lungs, the arch and the diaphragm are cut off
        for name in ("aorta", "root", "pericardium", "cartilage"):
            parts[name] = _truncated(parts[name])
        if framing is not None:
            framing = (framing[0], _truncated(framing[1]))
    return ChestAnatomy(sp, tuple(hu.shape), sz, sxy, body, lungs, bone, heart, diaphragm,  # type: ignore[arg-type]
                        dome, aorta, root, apex, normal, frame, parts, contrast, blood, surface, cartilage, framing)


def _truncated(p: Part) -> Part:
    """A part found on a field of view that cuts through the body: its confidence capped."""
    return Part(p.found, min(p.confidence, TRUNCATED_CONFIDENCE),
                p.reason or "the field of view cuts through the body: found without the whole chest")


def _tube_mask(aorta: AortaTube, shape: tuple[int, ...], grid_mm: np.ndarray, margin_mm: float) -> np.ndarray:
    """(z, y, x) coarse bool: within radius + margin_mm of the aortic centreline (in-plane discs per point)."""
    out = np.zeros(shape, bool)
    yy, xx = np.mgrid[0:shape[1], 0:shape[2]]
    for p, r in zip(aorta.centreline_mm, aorta.radius_mm):
        k = int(round(p[0] / grid_mm[0]))
        if 0 <= k < shape[0]:
            out[k] |= (((yy * grid_mm[1] - p[1]) ** 2 + (xx * grid_mm[2] - p[2]) ** 2) <= (r + margin_mm) ** 2)
    return out
