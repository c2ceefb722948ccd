"""Hybrid cases (issue 16, item 5): synthetic calcified plaques inserted into a REAL chest CT, along coronary
courses laid in the grooves of the heart that :func:`cacscore.chest.anatomy.read_chest` finds there, with exact
per-vessel truth. Every native calcium deposit of the real scan (costal cartilage, aorta, spine, valves) stays
as it was: a real negative.

The courses follow eye-placed anchors where they are given (``landmarks``; the three LIDC series' are in
docs/hybrid_landmarks.json): each vessel's anchors, from its ostium, resampled every 2 mm and snapped to the
nearest groove fat (preferring fat clear of contrast-filled vessels). Real anatomy: the left main leaves the left
coronary sinus (left-posterior of the aortic root), passes behind the pulmonary trunk and divides after 5-15 mm
into the LAD (anterior interventricular groove, towards the apex) and the LCX (left atrioventricular groove, round
the left side to the back); the RCA leaves the right coronary sinus (anterior-right), runs down the right
atrioventricular groove, round the acute margin to the crux, then on as the posterior descending artery (PDA) in
the posterior interventricular groove. Without anchors the courses are found in the heart frame (origin at the
aortic root, long axis root -> apex):
- LAD: down the anterior interventricular groove (anterior-left of the long axis, from the base to near the apex);
- LCX: round the left atrioventricular groove (the base ring, from anterior-left to posterior);
- RCA: round the right atrioventricular groove (the base ring, from anterior-right to the acute margin; no crux);
- LCA (left main): from the found root's left-posterior wall, LEFT_MAIN_MM to the patient's left.
At each point of a ray course a ray leaves the long axis in the course's direction; the vessel lies where the ray
first leaves the heart's tissue for fat (the epicardial fat of the groove), one vessel radius into that fat. Points
whose ray finds no fat (the heart against the lung or the chest wall) are left out.

The plaques are the phantom's (:func:`cacscore.phantom.coronary.draw_calcium` sizes and densities,
:func:`cacscore.phantom.coronary.place_plaques` positions in the vessel wall, :func:`cacscore.phantom.raster.
ellipsoid_fraction` partial volume over each slice's slab) and keep the scan's own noise: a voxel covered by a
fraction f of plaque becomes ``hu + f * (plaque HU - local mean)``, so the plaque's core carries the real noise
around the local mean. A plaque is kept only where the original image is fat at its centre, no native calcium
(>= 130 HU) lies within NATIVE_CLEARANCE_MM of it, and it lies within PERICARDIAL_BAND_MM of the pericardial mask. The truth is
``cacscore.scoring.agatston.agatston`` of the written (integer) image with the plaques' footprints as labels.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from cacscore.chest.anatomy import ChestAnatomy, signed_distance
from cacscore.core.vessels import LABEL_OF, VESSELS
from cacscore.phantom.coronary import Plaque, PlaqueSpec, Vessel, draw_calcium, place_plaques
from cacscore.phantom.motion import AMPLITUDE_SHARE, MotionPlan, draw_motion, move_layer
from cacscore.phantom.noncoronary import MAC_GEOMETRY, MAC_HU, MAC_THICK_MM, Blob, mac_lumps
from cacscore.phantom.raster import Grid, ellipsoid_fraction
from cacscore.scoring.agatston import agatston

FAT_HU = (-200.0, -30.0)
"""Fat (epicardial fat of the grooves) on the smoothed image."""

NATIVE_CLEARANCE_MM = 2.0
"""No native voxel >= 130 HU within this distance of an inserted plaque's extent: the plaque stays its own
candidate (2 mm is 3 pixels at 0.7 mm), and what the scorer calls coronary outside the plaques is native calcium,
contrast or noise. 4 mm dropped 22 of 25 plaques on the contrast series LIDC-IDRI-0001, whose blood (200-450 HU)
lies a few mm from the epicardial fat everywhere."""

PERICARDIAL_BAND_MM = (-40.0, 10.0)
"""A plaque centre's signed distance to the pericardial mask's surface (mm, > 0 outside) must lie in this band:
inside the sac or just outside its found edge (the mask's front edge is a straight line between the lungs' tips
and cuts off some epicardial fat; docs/chest_anatomy.md)."""

# the courses in the heart frame: (t along root -> apex, angle in degrees from anterior towards the patient's left)
COURSES: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "LAD": ((0.18, 0.92), (35.0, 25.0)),
    "LCX": ((0.3, 0.42), (85.0, 160.0)),
    "RCA": ((0.14, 0.45), (-35.0, -115.0)),
}
"""Read by eye on the three LIDC series (docs/pictures/hybrid_courses_*.png). The LCX was (0.22-0.3, 75-140 deg):
its upper points reached the pulmonary trunk and the left atrial appendage. The RCA was (0.14-0.3, -35 to -150
deg): its posterior rays, leaving the base towards the crux, found the fat by the IVC and oesophagus behind the
heart; it now ends at the acute margin (the right border, descending) and the crux segment is left out."""
MAX_GAP_MM = 12.0
"""A course is cut where two successive found points lie farther apart than this and its first piece of at least 3
points (the proximal one) is kept: a jump means the rays found another fat (below the heart by the IVC, 18-40 mm
away on LIDC-IDRI-0002 and -0003; there the longest piece was that wrong one on 0003)."""
ABOVE_ROOT_MM = 10.0
"""LAD and LCX points higher than the aortic root + this (mm) are dropped: both leave the left main downwards; on
LIDC-IDRI-0003 the LAD's first points lay in front of the pulmonary trunk 10 mm above the root, and on -0001 the
LCX's by the left atrial appendage."""
PLACEMENT_TRIES = 8
"""Places along its course a drawn plaque is tried at before it is dropped (the first is the drawn one)."""
LUMEN_RADIUS_MM = {"LCA": 2.0, "LAD": 1.6, "LCX": 1.5, "RCA": 1.8}


@dataclass(frozen=True)
class HeartAxes:
    """The heart frame of a found anatomy (mm, (z, y, x) from voxel 0): origin at the aortic root, unit long axis
    (root -> apex), anterior and patient-left directions perpendicular to it; length_mm from root to apex."""

    root: np.ndarray
    long: np.ndarray
    anterior: np.ndarray
    left: np.ndarray
    length_mm: float

    def point(self, t: float) -> np.ndarray:
        return self.root + t * self.length_mm * self.long

    def direction(self, angle_deg: float) -> np.ndarray:
        a = np.deg2rad(angle_deg)
        return np.cos(a) * self.anterior + np.sin(a) * self.left


@dataclass
class HybridCase:
    """One hybrid: hu (z, y, x) float32 integer-valued HU (the real scan with plaques), labels (z, y, x) uint8
    (the plaques' footprints, 1 LCA .. 4 RCA), truth (agatston(hu, labels).as_row(): LCA..RCA, total), plaques
    (x, y, z mm from voxel 0, as :class:`cacscore.phantom.coronary.Plaque`), courses (name -> (n, 3) (z, y, x) mm)
    the plaques dropped by the placement rules (with the reason) and the motion amplitude (mm)."""

    hu: np.ndarray
    labels: np.ndarray
    truth: dict[str, float]
    plaques: list[Plaque]
    courses: dict[str, np.ndarray]
    dropped: list[tuple[str, str]] = field(default_factory=list)
    motion_mm: float = 0.0
    """The patient motion amplitude the plaques were smeared with (0: static plaques)."""
    mac: np.ndarray | None = None
    """(z, y, x) bool: the footprint of the inserted mitral annular calcification (insert_plaques mac=True; None
    without). Not in labels: MAC is non-coronary (label 0), a negative for training."""
    mac_blobs: list[Blob] = field(default_factory=list)
    """The MAC's spheres (centre (x, y, z) mm from voxel 0, radius, HU; :class:`cacscore.phantom.noncoronary.Blob`)."""
    mac_note: str = ""
    """Why no MAC was inserted (or how many of its spheres were dropped), for the log."""


class HybridError(ValueError):
    """The anatomy needed for coronary courses was not found (message says which part)."""


def heart_axes(anatomy: ChestAnatomy) -> HeartAxes:
    """The heart frame from the found aortic root and apex; HybridError when either is missing."""
    root, apex = np.asarray(anatomy.aortic_root_mm, float), np.asarray(anatomy.apex_mm, float)
    if not (np.isfinite(root).all() and np.isfinite(apex).all()):
        raise HybridError(f"no aortic root or apex found (root: {anatomy.parts['root'].reason or 'ok'}; "
                          f"pericardium: {anatomy.parts['pericardium'].reason or 'ok'})")
    v = apex - root
    length = float(np.linalg.norm(v))
    if length < 40:
        raise HybridError(f"aortic root and apex only {length:.0f} mm apart")
    long = v / length
    ant = np.array([0.0, -1.0, 0.0])  # anterior = -y
    ant = ant - (ant @ long) * long
    ant /= np.linalg.norm(ant)
    left = np.array([0.0, 0.0, 1.0])
    left = left - (left @ long) * long - (left @ ant) * ant
    left /= np.linalg.norm(left)
    return HeartAxes(root, long, ant, left, length)


def _sampler(hu: np.ndarray, spacing_mm: tuple[float, float, float], smooth_mm: float = 1.0,
             offset_mm: np.ndarray | None = None):
    """A function (n, 3) mm -> (n,) HU of the image smoothed by a Gaussian of smooth_mm (linear interpolation);
    offset_mm: the mm position of hu's voxel 0 (a crop of a larger volume)."""
    sp = np.asarray(spacing_mm, float)
    off = np.zeros(3) if offset_mm is None else np.asarray(offset_mm, float)
    sm = ndimage.gaussian_filter(np.asarray(hu, np.float32), sigma=smooth_mm / sp)

    def sample(points_mm: np.ndarray) -> np.ndarray:
        idx = ((np.asarray(points_mm, float) - off) / sp).T
        return ndimage.map_coordinates(sm, idx, order=1, mode="nearest")

    return sample


def _clearance(hu: np.ndarray, spacing_mm, offset_mm: np.ndarray, threshold_hu: float = 130.0, near=None):
    """A function (n, 3) mm -> distance (mm) to the nearest voxel >= threshold_hu of hu (a crop whose voxel 0 lies at
    offset_mm; near: that distance map when the caller has it), nearest voxel, clipped to the crop."""
    if near is None:
        near = ndimage.distance_transform_edt(np.asarray(hu) < threshold_hu, sampling=spacing_mm)
    sp, shape = np.asarray(spacing_mm, float), np.array(near.shape) - 1

    def clear(points_mm: np.ndarray) -> np.ndarray:
        idx = np.clip(np.rint((np.asarray(points_mm, float) - offset_mm) / sp).astype(int), 0, shape)
        return near[tuple(idx.T)]

    return clear


def heart_box(anatomy: ChestAnatomy, margin_mm: float = 40.0) -> tuple[slice, slice, slice]:
    """The full-volume index box of the pericardial mask grown by margin_mm (where courses and plaques can lie):
    smoothing and distances on this box instead of the whole scan (a 512 x 512 x 261 series took 90-110 s)."""
    idx = np.argwhere(anatomy.pericardium)
    if len(idx) == 0:
        raise HybridError(f"no pericardial mask ({anatomy.parts['pericardium'].reason})")
    lo_mm = idx.min(0) * anatomy.grid_mm - margin_mm
    hi_mm = idx.max(0) * anatomy.grid_mm + margin_mm
    sp = np.asarray(anatomy.spacing_mm, float)
    shape = np.asarray(anatomy.shape)
    lo = np.clip(np.floor(lo_mm / sp).astype(int), 0, shape)
    hi = np.clip(np.ceil(hi_mm / sp).astype(int) + 1, 0, shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))  # type: ignore[return-value]


SURFACE_BAND_MM = (-15.0, 5.0)
"""A course point's signed distance to the pericardial mask's surface (mm, > 0 outside): near the heart's outer
surface. Deeper, the ray's fat is between chambers or great vessels (the transverse sinus by the aortic root);
farther out, it has left the heart (LIDC-IDRI-0002: the LAD's rays reached subcutaneous fat in front of the chest
wall and the RCA's the fat by the spine before this band)."""


def groove_point(sample, origin: np.ndarray, direction: np.ndarray, radius_mm: float, surface=None, *,
                 max_mm: float = 80.0, step_mm: float = 0.5) -> np.ndarray | None:
    """The vessel centre on a ray from ``origin``: where the ray leaves heart tissue (> -10 HU) for fat (FAT_HU,
    for at least 2 mm), radius_mm + 0.5 mm into the fat; None when it never does, crosses lung (< -400 HU) first,
    or (with ``surface``, a function (n, 3) mm -> signed distance to the pericardial surface) only does so
    outside SURFACE_BAND_MM. Transitions deeper than the band are passed over."""
    r = np.arange(0.0, max_mm, step_mm)
    pts = origin[None] + r[:, None] * direction[None]
    v = sample(pts)
    tissue = v > -10
    fat = (v >= FAT_HU[0]) & (v <= FAT_HU[1])
    need = int(round(2.0 / step_mm))
    seen = np.cumsum(tissue) > 0
    lung = np.convolve(v < -400, np.ones(need), mode="full")[:len(v)] >= need  # 2 mm of lung ending here
    first_lung = int(np.argmax(lung)) if lung.any() else len(v)
    for i in np.flatnonzero(fat & seen):
        if i >= first_lung:
            return None
        if i + need > len(v) or not fat[i:i + need].all():
            continue
        p = origin + (r[i] + radius_mm + 0.5) * direction
        if surface is None:
            return p
        d = float(surface(p[None])[0])
        if d > SURFACE_BAND_MM[1]:
            return None
        if d >= SURFACE_BAND_MM[0]:
            return p
    return None


LEFT_MAIN_MM = 10.0
"""The left main's length from its ostium to the bifurcation (real: 5-15 mm)."""
LEFT_OSTIUM = (0.5, 1.0)
"""Where the left main leaves the aortic root, as (posterior, left) weights of an axial direction from the root's
centre: the left coronary sinus lies left-posterior (27 degrees behind pure left)."""
LEFT_MAIN_DIRECTION = (-0.3, -0.25, 1.0)
"""(z, y, x) direction of the left main from its ostium: to the patient's left, a little down and forward, behind
the pulmonary trunk. Until this round the left main ran from the root towards a bifurcation found by a ray at 50
degrees (anterior-left), which put it in front of the aortic root on LIDC-IDRI-0002."""
SNAP_MM = 5.0
"""An anchored course point (from eye landmarks) is moved to the nearest fat within this distance (the anchors are
placed to +-5 mm; the fat of the groove decides the last millimetres)."""
SNAP_CLEAR_MM = 4.0
"""Fat at least this far from any native voxel >= 130 HU is preferred when snapping: on the contrast series the real,
contrast-filled coronary runs in the same groove fat, and a course on it loses every plaque to the native-calcium
clearance (on LIDC-IDRI-0001 the RCA's plaques were all dropped so); the synthetic vessel then runs beside the real
one, in the same groove."""


def root_radius_mm(anatomy: ChestAnatomy) -> float:
    """The found aorta's radius nearest the aortic root (12 mm when the tube is empty)."""
    tube = anatomy.aorta
    d, j = tube.distance_mm(np.asarray(anatomy.aortic_root_mm, float)[None])
    return float(tube.radius_mm[j[0]]) if j[0] >= 0 and np.isfinite(d[0]) else 12.0


def left_main(anatomy: ChestAnatomy, sample, step_mm: float = 2.0) -> np.ndarray:
    """The left main when no landmarks are given: from the root's left-posterior wall (LEFT_OSTIUM, one found
    aortic radius from the root's centre) LEFT_MAIN_MM along LEFT_MAIN_DIRECTION, its end snapped to fat."""
    root = np.asarray(anatomy.aortic_root_mm, float)
    axial = np.array([0.0, LEFT_OSTIUM[0], LEFT_OSTIUM[1]])
    ostium = root + root_radius_mm(anatomy) * axial / np.linalg.norm(axial)
    d = np.asarray(LEFT_MAIN_DIRECTION, float)
    bif = snap_to_fat(sample, (ostium + LEFT_MAIN_MM * d / np.linalg.norm(d))[None])[0]
    return _resample(np.array([ostium, bif]), step_mm)


def _resample(anchors: np.ndarray, step_mm: float) -> np.ndarray:
    """The polyline through anchors (n, 3) mm, a point every step_mm or less (the anchors kept)."""
    out = [anchors[0]]
    for a, b in itertools.pairwise(anchors):
        n = max(1, int(np.ceil(np.linalg.norm(b - a) / step_mm)))
        out.extend(a + (b - a) * k / n for k in range(1, n + 1))
    return np.array(out)


def snap_to_fat(sample, points_mm: np.ndarray, reach_mm: float = SNAP_MM, grid_mm: float = 1.0,
                clear=None) -> np.ndarray:
    """Each (n, 3) point moved to the nearest place within reach_mm where the smoothed image is fat (FAT_HU),
    sampled every grid_mm, preferring fat at least SNAP_CLEAR_MM from native voxels >= 130 HU (clear: a function
    (n, 3) mm -> that distance); a point with no fat in reach stays where it is (its plaques are then dropped by the
    placement rules, not forced into tissue)."""
    k = int(reach_mm // grid_mm)
    off = np.stack(np.meshgrid(*[np.arange(-k, k + 1) * grid_mm] * 3, indexing="ij"), -1).reshape(-1, 3)
    off = off[np.linalg.norm(off, axis=1) <= reach_mm]
    off = off[np.argsort(np.linalg.norm(off, axis=1), kind="stable")]  # nearest first
    out = np.asarray(points_mm, float).copy()
    for i, p in enumerate(out):
        v = sample(p[None] + off)
        ok = (v >= FAT_HU[0]) & (v <= FAT_HU[1])
        if clear is not None:
            clear_ok = ok & (clear(p[None] + off) >= SNAP_CLEAR_MM)
            if clear_ok.any():
                ok = clear_ok
        fat = np.flatnonzero(ok)
        if len(fat):
            out[i] = p + off[fat[0]]
    return out


def anchored_course(sample, anchors, step_mm: float = 2.0, clear=None) -> np.ndarray:
    """A course through eye-placed anchors ((n, 3) (z, y, x) mm from voxel 0, in order from the ostium): the
    polyline resampled every step_mm, each point snapped to the nearest groove fat (snap_to_fat), median-smoothed
    (_smooth), and the first and last anchors' own snapped places kept (the ostium stays at the root)."""
    a = np.asarray(anchors, float).reshape(-1, 3)
    if len(a) < 2:
        raise HybridError(f"a course needs at least 2 anchors, got {len(a)}")
    pts = snap_to_fat(sample, _resample(a, step_mm), clear=clear)
    ends = pts[[0, -1]].copy()
    pts = _smooth(pts)
    pts[[0, -1]] = ends
    return pts


def coronary_courses(hu: np.ndarray, spacing_mm: tuple[float, float, float], anatomy: ChestAnatomy,
                     rng: np.random.Generator, *, step_mm: float = 2.0, sample=None,
                     landmarks: dict | None = None, clear=None) -> dict[str, np.ndarray]:
    """Centrelines (name -> (n, 3) (z, y, x) mm from voxel 0) of LCA, LAD, LCX, RCA.

    landmarks: vessel -> anchors ((n, 3) (z, y, x) mm from voxel 0, eye-placed; docs/hybrid_landmarks.json) for
    the vessels whose course is to follow them (:func:`anchored_course`); the other vessels are found by rays in
    the grooves of the found heart (module docstring; each course's angles jittered by up to 8 degrees, rng) and the
    left main by :func:`left_main`. A ray course with fewer than 3 points is left out. sample, clear: the
    smoothed-image sampler and the native-clearance sampler (:func:`_clearance`) when the caller has them."""
    ax = heart_axes(anatomy)
    landmarks = landmarks or {}
    if sample is None or (landmarks and clear is None):
        box = heart_box(anatomy)
        off = np.array([b.start for b in box]) * np.asarray(spacing_mm)
        sample = _sampler(hu[box], spacing_mm, offset_mm=off) if sample is None else sample
        clear = _clearance(hu[box], spacing_mm, off) if clear is None else clear
    sd = _pericardium_distance(anatomy)

    def surface(points_mm: np.ndarray) -> np.ndarray:
        return sd[tuple(anatomy.coarse_index(points_mm).T)]

    out: dict[str, np.ndarray] = {}
    for name, ((t0, t1), (a0, a1)) in COURSES.items():
        jit = rng.uniform(-8, 8)  # drawn for anchored courses too: the plaques' stream does not depend on them
        if name in landmarks:
            out[name] = anchored_course(sample, landmarks[name], step_mm, clear)
            continue
        n = max(3, int(np.ceil(ax.length_mm * abs(t1 - t0) / step_mm + abs(a1 - a0) / 8.0)))
        pts = []
        for t, a in zip(np.linspace(t0, t1, n), np.linspace(a0, a1, n) + jit):
            p = groove_point(sample, ax.point(t), ax.direction(a), LUMEN_RADIUS_MM[name], surface)
            if p is not None and not (name != "RCA" and p[0] > ax.root[0] + ABOVE_ROOT_MM):
                pts.append(p)
        pts = _proximal_run(pts)
        if len(pts) >= 3:
            out[name] = _smooth(np.array(pts))
    out["LCA"] = (anchored_course(sample, landmarks["LCA"], step_mm, clear) if "LCA" in landmarks
                  else left_main(anatomy, sample, step_mm))
    return {v: out[v] for v in VESSELS if v in out}


def _proximal_run(points: list[np.ndarray], max_gap_mm: float = MAX_GAP_MM) -> list[np.ndarray]:
    """The first piece of at least 3 points of a course whose successive points lie at most max_gap_mm apart
    (MAX_GAP_MM); [] when there is none."""
    if len(points) < 2:
        return points
    gaps = np.linalg.norm(np.diff(np.array(points), axis=0), axis=1) > max_gap_mm
    cuts = np.concatenate([[0], np.flatnonzero(gaps) + 1, [len(points)]])
    for a, b in itertools.pairwise(cuts):
        if b - a >= 3:
            return points[a:b]
    return []


def _smooth(points: np.ndarray) -> np.ndarray:
    """A course without single-point jumps (a ray that slipped into another groove): each coordinate median-filtered
    over 5 points."""
    if len(points) < 5:
        return points
    return np.stack([ndimage.median_filter(points[:, k], size=5, mode="nearest") for k in range(3)], axis=1)


def _grid(box: tuple[slice, slice, slice], spacing_mm: tuple[float, float, float]) -> Grid:
    """The phantom raster grid of a box of a real volume: x, y pixel centres and z slab edges in mm from the
    volume's voxel 0 (slabs as thick as the slice spacing)."""
    dz, dy, dx = spacing_mm
    if abs(dy - dx) > 1e-6:
        raise HybridError(f"square pixels needed, got {dy} x {dx} mm")
    z, y, x = (np.arange(b.start, b.stop) for b in box)
    return Grid(x_mm=x * dx, y_mm=y * dy, z_edges_mm=(np.append(z, z[-1] + 1) - 0.5) * dz)


def draw_specs(rng: np.random.Generator, vessels: list[str], *, min_plaques: int = 2, size: int = 512,
               slice_mm: float = 5.0) -> list[PlaqueSpec]:
    """Plaque sizes and densities from the phantom's score-first model (draw_calcium) for the scan's matrix size
    and slice thickness, as the phantom draws them for its own patients, redrawn until at least min_plaques fall on
    the found courses (a test bed needs calcium; a patient without any is drawn 39 % of the time there).
    The sizes depend on the slice thickness: drawn for 5 mm slabs (as before), the plaques put into LIDC-IDRI-0002's
    1.25 mm slices were larger than the phantom's for such slices."""
    for _ in range(200):
        specs = [s for s in draw_calcium(rng, size=size, slice_mm=slice_mm) if s.vessel in vessels]
        if len(specs) >= min_plaques:
            return specs
    return []


def _heart_scene(hu: np.ndarray, spacing_mm, anatomy: ChestAnatomy, rng: np.random.Generator,
                 landmarks: dict | None, threshold_hu: float = 130.0):
    """What insert_plaques and add_mac both start from: spacing (z, y, x) mm, the heart box, its offset (mm), the
    box's HU (float32), its smoothed sampler, the distance (mm) to native calcium >= threshold_hu in it, and the
    coronary courses found with rng (the case's stream [seed, 16], so both find the same courses)."""
    sp = tuple(float(s) for s in spacing_mm)
    box = heart_box(anatomy)
    off = np.array([b.start for b in box]) * np.asarray(sp)
    sub = np.asarray(hu[box], np.float32)
    sample = _sampler(sub, sp, offset_mm=off)  # type: ignore[arg-type]
    near_native = ndimage.distance_transform_edt(sub < threshold_hu, sampling=sp)
    courses = coronary_courses(hu, sp, anatomy, rng, sample=sample, landmarks=landmarks,  # type: ignore[arg-type]
                               clear=_clearance(sub, sp, off, threshold_hu, near_native))
    return sp, box, off, sub, sample, near_native, courses


def insert_plaques(hu: np.ndarray, spacing_mm: tuple[float, float, float], anatomy: ChestAnatomy, seed: int, *,
                   threshold_hu: float = 130.0, motion: bool = True, landmarks: dict | None = None,
                   min_plaques: int = 2, mac: bool = False) -> HybridCase:
    """A hybrid of a real (z, y, x) HU volume: courses in its grooves (:func:`coronary_courses`), plaques drawn by
    the phantom's model along them (module docstring); deterministic for (volume, seed, landmarks).

    landmarks: vessel -> eye-placed anchors of its course (:func:`coronary_courses`; the three LIDC series' are in
    docs/hybrid_landmarks.json); without them every course is found by rays from the heart's long axis.

    motion: smear each vessel's plaques with the phantom's non-gated cardiac motion (:mod:`cacscore.phantom.motion`,
    its own stream [seed, 16, 1], so the plaques drawn are the same either way; the native-calcium clearance grows
    by the half amplitude, so a plaque may land elsewhere or be dropped). The real scans are non-gated:
    their coronary calcium is smeared, and the phantom the models learn from smears its coronaries the same way;
    static inserted plaques were sharper and denser than either (mean HU > 800 on 42 of 150 RCA plaque candidates of
    LIDC-IDRI-0002, seeds 0-9, and the shipped model called every one of them non-coronary).

    min_plaques: the phantom's calcium is redrawn until at least this many plaques fall on the courses
    (:func:`draw_specs`); the evaluation hybrids use the default 2, training hybrids (bench/hybrid_training.py) more,
    so that each written real scan carries more plaque examples (the placement rules still drop some).

    mac: also insert mitral annular calcification on the real annulus (:func:`mitral_annulus_blobs`, from the LCX
    course), non-coronary (case.mac, not in labels), drawn from its own stream [seed, 16, 2] after the plaques are
    placed and kept MAC_PLAQUE_CLEARANCE_MM clear of them: the plaques, labels and truth are the same with or
    without it."""
    rng = np.random.default_rng([seed, 16])
    sp, box, off, sub, sample, near_native, courses = _heart_scene(hu, spacing_mm, anatomy, rng, landmarks, threshold_hu)
    if not courses:
        raise HybridError("no coronary course found in fat beside the heart")
    vessels = {n: Vessel(n, c[:, ::-1].copy(), np.full(len(c), LUMEN_RADIUS_MM[n])) for n, c in courses.items()}
    specs = draw_specs(rng, list(courses), min_plaques=min_plaques, size=int(hu.shape[-1]), slice_mm=sp[0])
    grid = _grid(box, sp)  # type: ignore[arg-type]
    new = sub.copy()
    bg = ndimage.gaussian_filter(sub, sigma=1.5 / np.asarray(sp))
    peri_sd = _pericardium_distance(anatomy)
    lab = np.zeros(sub.shape, np.uint8)
    kept, dropped = [], []
    layers: dict[str, list] = {}  # vessel -> (box, plaque fraction, HU added) of its kept plaques
    plan = draw_motion(np.random.default_rng([seed, 16, 1]), sub.shape[0]) if motion else None
    ss = 3 if sp[1] < 1.2 else 5

    def why_not(p: Plaque):
        """(reason, None) when the plaque may not go there, else ("", (box, partial-volume fraction))."""
        zyx = p.centre[::-1]
        idx = tuple(np.clip(np.rint((zyx - off) / np.asarray(sp)).astype(int), 0, np.array(sub.shape) - 1))
        v = float(sample(zyx[None])[0])
        if not FAT_HU[0] - 40 <= v <= FAT_HU[1] + 40:
            return f"centre not in fat ({v:.0f} HU)", None
        # the clearance holds wherever the motion moves the plaque (half the vessel's amplitude either way): a
        # smeared plaque reaching the contrast-filled blood of LIDC-IDRI-0003 made candidates of 23,000 AU
        reach = 0.5 * plan.amplitude_mm * AMPLITUDE_SHARE[p.vessel] if plan else 0.0
        if near_native[idx] < NATIVE_CLEARANCE_MM + float(p.semi.max()) + reach:
            return f"native calcium {near_native[idx]:.1f} mm away", None
        d_peri = float(peri_sd[tuple(anatomy.coarse_index(zyx[None])[0])])
        if not PERICARDIAL_BAND_MM[0] <= d_peri <= PERICARDIAL_BAND_MM[1]:
            return f"{d_peri:.0f} mm from the pericardial surface", None
        r = ellipsoid_fraction(grid, p.centre, p.axes, p.semi, supersample=ss)
        if r is None:
            return "outside the volume", None
        under = lab[r[0]][r[1] > 0.005]
        if ((under > 0) & (under != LABEL_OF[p.vessel])).any():
            return "touches another vessel's plaque", None
        return "", r

    for spec in specs:
        # a place on the course where the rules allow it: the drawn one, then up to PLACEMENT_TRIES - 1 others
        for k in range(PLACEMENT_TRIES):
            if k:
                spec = dataclasses.replace(spec, s_frac=float(rng.uniform(0.02, 0.97)))
            p = place_plaques([spec], vessels, rng)[0]
            reason, r = why_not(p)
            if not reason:
                break
        if reason:
            dropped.append((p.vessel, reason))
            continue
        pbox, f = r
        layers.setdefault(p.vessel, []).append((pbox, f, f * (np.float32(p.hu) - bg[pbox])))
        lab[pbox][f > 0.005] = LABEL_OF[p.vessel]
        kept.append(p)
    lab[:] = 0
    cover = np.zeros(sub.shape, np.float32)  # the largest plaque fraction of any vessel so far: who labels a voxel
    for v, entries in layers.items():
        vbox, diff, frac = _vessel_layer(entries, sub.shape, plan, v, sp[1])
        new[vbox] += diff
        mine = (frac > 0.005) & (frac > cover[vbox])
        lab[vbox][mine] = LABEL_OF[v]
        cover[vbox] = np.maximum(cover[vbox], frac)
    mac_mask, blobs, note = None, [], ""
    if mac:
        mac_mask, blobs, note = _insert_mac(new, box, hu.shape, lab, courses, anatomy, sample, seed, plan, bg, sp)
    out = np.asarray(hu, np.float32).copy()
    out[box] = new
    labels = np.zeros(hu.shape, np.uint8)
    labels[box] = lab
    np.rint(out, out=out)
    np.clip(out, -1024, 3071, out=out)
    truth = agatston(out, labels, pixel_spacing_mm=(sp[1], sp[2]), slice_spacing_mm=sp[0],
                     threshold_hu=threshold_hu).as_row()
    return HybridCase(out, labels, truth, kept, courses, dropped, plan.amplitude_mm if plan else 0.0,
                      mac_mask, blobs, note)


# ------------------------------------------------------------------ mitral annular calcification (MAC) on real anatomy
MAC_GAP_MM = (2.0, 9.0)
"""Gap (mm) from the LCX's lumen wall to the MAC's surface, drawn per case. The LCX runs in the left AV groove
right beside the posterior mitral annulus: on 3-D CT of 122 mitral-regurgitation patients the minimum LCX-annulus
distance had median 4.2 mm (range 0.9-11.4; Computed tomography to identify risk factors for left circumflex artery
injury during mitral surgery, Eur J Cardiothorac Surg 2021, doi 10.1093/ejcts/ezab409), closest on the lateral part
of the posterior annulus (areas A8-A10 in 52 MDCT patients, 17 % under 2 mm: Miura et al., How far is the left
circumflex coronary artery from the mitral annulus?, Gen Thorac Cardiovasc Surg 2020; 4.9 +- 2.1 mm by TEE near the
anterolateral commissure, Kuroda et al., ICVTS 2026, doi 10.1093/icvts/ivag022). The 2 mm floor keeps the MAC out
of the groove's own fat and vessel wall."""
MAC_PHI_DEG = (MAC_GEOMETRY["v8"].phi_c, MAC_GEOMETRY["v8"].span, MAC_GEOMETRY["v8"].phi_limits)
"""The phantom's arc (noncoronary.MAC_GEOMETRY, v8's: the hybrid MAC follows the LCX course, so only the angles are
taken, not v8's height or depth). Kept at v8's whatever anatomy.ANATOMY_VERSION is (v11 since session 16): the hybrid
inserts into a real scan, whose heart, LCX and annulus are real, so the phantom's anatomy version does not apply; v9's
arc (50-140 deg) was fitted to move the phantom's MAC in the phantom's frame, and on real anatomy the band already
lies at the annulus beside the real LCX (MAC_GAP_MM). Changing it would redraw every hybrid case (a separate,
measured decision). Centre angle, span and the limits, degrees from anterior
towards the patient's left about the heart's long axis (90 left, 180 posterior): the posterolateral annulus, the
posterior mitral leaflet's (P1-P3) side, where MAC forms. The annulus is a saddle-shaped ellipse of about 30 x 35 mm
(anteroposterior x intercommissural; radiologykey / clinicalgate 'Normal mitral valve anatomy and measurements':
30.8 +- 4.4 and 35.1 +- 4.9 mm), so a 40-150 degree arc is 10-45 mm of band; its saddle (5-7 mm high) is not drawn."""
MAC_MIN_ARC_DEG = 20.0
"""Less LCX course than this (degrees about the long axis) inside the drawn arc: no MAC (no annulus to follow)."""
MAC_SKIP_PROXIMAL_MM = 20.0
"""The first mm of the LCX course (from the left main's bifurcation) are not followed: there the LCX runs under the
left atrial appendage towards the groove, above the annulus's anterolateral end; inwards of it lies the left
ventricular outflow and the aortic root, not the annulus (on LIDC-IDRI-0001, whose root -> apex axis runs almost
left-right, a band following the whole course crossed the outflow tract: /work/runs/wt20a/pictures, first try)."""
MAC_PLAQUE_CLEARANCE_MM = 3.0
"""Minimum distance from a MAC sphere's surface (grown by half the heart layer's motion amplitude) to any inserted
plaque's footprint voxel (after motion): no MAC voxel ever joins a plaque's lesion, so the coronary truth is exact.
The phantom's CORONARY_CLEARANCE_MM (8.5 mm to the centreline) covers a label margin and a motion shift it does not
know per voxel; here the footprints after motion are known, so the clearance is measured to them."""
MAC_TISSUE_HU = -30.0
"""A MAC sphere's centre must lie where the smoothed image is above this (myocardium, annulus, blood): not in the
groove's fat or the lung. A centre in fat is moved up to MAC_PUSH_MM further inwards first."""
MAC_PUSH_MM = 6.0


def course_angles(points: np.ndarray, ax: HeartAxes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (n, 3) (z, y, x) mm point: t (mm along the long axis from the root), rho (mm from the axis) and the angle
    (degrees from anterior towards the patient's left, unwrapped along the course so a course past 180 stays
    increasing)."""
    rel = np.asarray(points, float) - ax.root
    t = rel @ ax.long
    radial = rel - t[:, None] * ax.long
    phi = np.unwrap(np.arctan2(radial @ ax.left, radial @ ax.anterior))
    return t, np.linalg.norm(radial, axis=1), np.rad2deg(phi)


def mitral_annulus_blobs(courses: dict[str, np.ndarray], ax: HeartAxes, sample, rng: np.random.Generator, *,
                         plaque_points: np.ndarray, reach_mm: float = 0.0) -> tuple[list[Blob], str]:
    """MAC spheres on a real scan: the phantom's lumpy band (noncoronary.mac_lumps, its MAC_THICK_MM / MAC_HU /
    MAC_PHI_DEG draws) laid along the posterolateral annulus, which lies just inside the LCX in the left AV groove:
    each sphere at the LCX course's height (t along the long axis) and angle, moved towards the long axis by the
    LCX lumen radius + a gap drawn from MAC_GAP_MM (literature) + its radius, further (up to MAC_PUSH_MM) while its
    centre is in fat. Spheres whose centre finds no tissue, that come within lumen radius + 1 mm of any course point,
    or within MAC_PLAQUE_CLEARANCE_MM + reach_mm of a plaque footprint voxel (plaque_points, (m, 3) (z, y, x) mm) are
    dropped. Returns the blobs (centre (x, y, z) mm from voxel 0) and a note (why none, or what was dropped)."""
    (c_lo, c_hi), (s_lo, s_hi), (lim_lo, lim_hi) = MAC_PHI_DEG
    phi_c, span = float(rng.uniform(c_lo, c_hi)), float(rng.uniform(s_lo, s_hi))
    thick, hu = float(rng.uniform(*MAC_THICK_MM)), float(rng.uniform(*MAC_HU))
    gap = float(rng.uniform(*MAC_GAP_MM))
    lcx = courses.get("LCX")
    if lcx is None or len(lcx) < 2:
        return [], "no LCX course"
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(lcx, axis=0), axis=1))])
    lcx = lcx[arc >= MAC_SKIP_PROXIMAL_MM]
    if len(lcx) < 3:
        return [], f"LCX course shorter than {MAC_SKIP_PROXIMAL_MM:.0f} mm + 3 points"
    t, rho, phi = course_angles(lcx, ax)
    order = np.argsort(phi, kind="stable")
    t, rho, phi = t[order], rho[order], phi[order]
    lo = max(phi_c - span / 2, lim_lo, float(phi[0]))
    hi = min(phi_c + span / 2, lim_hi, float(phi[-1]))
    if hi - lo < MAC_MIN_ARC_DEG:
        return [], f"LCX course covers {max(hi - lo, 0):.0f} degrees of the drawn arc"
    r_lcx = LUMEN_RADIUS_MM["LCX"]
    arc_mm = float(np.deg2rad(hi - lo) * max(np.mean(rho) - r_lcx - gap - thick, 5.0))
    radii, hus = mac_lumps(rng, arc_mm, thick, hu)
    phis = np.linspace(lo, hi, len(radii))
    tt, rr = np.interp(phis, phi, t), np.interp(phis, phi, rho)
    course_tree = cKDTree(np.concatenate(list(courses.values())))
    plaque_tree = cKDTree(plaque_points) if len(plaque_points) else None
    blobs, why = [], {}
    for a, t_i, rho_i, r, h in zip(np.deg2rad(phis), tt, rr, radii, hus):
        direction = np.cos(a) * ax.anterior + np.sin(a) * ax.left
        at = ax.root + t_i * ax.long
        p = None
        for push in np.arange(0.0, MAC_PUSH_MM + 0.5, 1.0):
            q = at + max(rho_i - r_lcx - gap - r - push, 0.0) * direction
            if float(sample(q[None])[0]) > MAC_TISSUE_HU:
                p = q
                break
        if p is None:
            why["no tissue"] = why.get("no tissue", 0) + 1
            continue
        if course_tree.query(p)[0] < r + max(LUMEN_RADIUS_MM.values()) + 1.0:
            why["on a course"] = why.get("on a course", 0) + 1
            continue
        if plaque_tree is not None and plaque_tree.query(p)[0] < r + MAC_PLAQUE_CLEARANCE_MM + reach_mm:
            why["near a plaque"] = why.get("near a plaque", 0) + 1
            continue
        blobs.append(Blob((float(p[2]), float(p[1]), float(p[0])), float(r), float(h), "mitral_annulus"))
    note = f"{len(blobs)} of {len(radii)} spheres" + "".join(f"; {n} {k}" for k, n in why.items())
    return blobs, note


def _insert_mac(new: np.ndarray, box: tuple[slice, ...], shape: tuple[int, ...], lab: np.ndarray,
                courses: dict[str, np.ndarray], anatomy: ChestAnatomy, sample, seed: int, plan: MotionPlan | None,
                bg: np.ndarray, sp: tuple[float, float, float]) -> tuple[np.ndarray, list[Blob], str]:
    """MAC added in place to new (the heart box of the image, plaque footprints lab on it, bg its smoothed
    original): its blobs (mitral_annulus_blobs, stream [seed, 16, 2]) painted as one heart-motion layer; returns the
    full-volume (shape) MAC footprint, the blobs and the note."""
    off = np.array([b.start for b in box]) * np.asarray(sp)
    blobs, note = mitral_annulus_blobs(courses, heart_axes(anatomy), sample, np.random.default_rng([seed, 16, 2]),
                                       plaque_points=np.argwhere(lab > 0) * np.asarray(sp) + off,
                                       reach_mm=0.5 * plan.amplitude_mm * AMPLITUDE_SHARE["heart"] if plan else 0.0)
    mac_mask = np.zeros(shape, bool)
    if blobs:
        mbox, diff, frac = _mac_layer(blobs, _grid(box, sp), bg, new.shape, plan, sp, 3 if sp[1] < 1.2 else 5)
        new[mbox] += diff
        mac_mask[box][mbox] = frac > 0.005
    return mac_mask, blobs, note


def add_mac(hu: np.ndarray, labels: np.ndarray, spacing_mm: tuple[float, float, float], anatomy: ChestAnatomy,
            seed: int, *, landmarks: dict | None = None, motion: bool = True) -> HybridCase:
    """MAC added to a hybrid written before (hu: its image with the plaques, labels: their footprints; seed and
    landmarks: the ones it was drawn with): what insert_plaques(mac=True) adds, placed from the courses this code
    finds and kept clear of the written footprints, so the labels and truth stay those of the written hybrid (a
    training set can then differ from an earlier one by the MAC alone). The case's plaques list is empty (the
    written hybrid's are not known here); truth is the Agatston of (hu with MAC, labels)."""
    sp, box, _, sub, sample, _, courses = _heart_scene(hu, spacing_mm, anatomy, np.random.default_rng([seed, 16]),
                                                       landmarks)
    plan = draw_motion(np.random.default_rng([seed, 16, 1]), sub.shape[0]) if motion else None
    new = sub.copy()
    bg = ndimage.gaussian_filter(sub, sigma=1.5 / np.asarray(sp))
    mac_mask, blobs, note = _insert_mac(new, box, hu.shape, np.asarray(labels)[box], courses, anatomy, sample, seed,
                                        plan, bg, sp)  # type: ignore[arg-type]
    out = np.asarray(hu, np.float32).copy()
    out[box] = np.clip(np.rint(new), -1024, 3071)
    truth = agatston(out, labels, pixel_spacing_mm=(sp[1], sp[2]), slice_spacing_mm=sp[0]).as_row()
    return HybridCase(out, np.asarray(labels, np.uint8), truth, [], courses, [], plan.amplitude_mm if plan else 0.0,
                      mac_mask, blobs, note)


def _mac_layer(blobs: list[Blob], grid: Grid, bg: np.ndarray, shape: tuple[int, ...], plan: MotionPlan | None,
               sp: tuple[float, float, float], ss: int):
    """The MAC as one layer of the heart box (box, HU added, fraction), as a plaque layer (_vessel_layer) but with
    the heart's motion share: overlapping spheres take the largest fraction (and that sphere's HU), as the phantom's
    painter does, instead of adding up."""
    parts = [(b, ellipsoid_fraction(grid, np.array(b.centre_mm), np.eye(3), np.full(3, b.radius_mm), supersample=ss))
             for b in blobs]
    parts = [(b, r) for b, r in parts if r is not None]
    if not parts:
        return tuple(slice(0, 0) for _ in shape), np.zeros((0, 0, 0), np.float32), np.zeros((0, 0, 0), np.float32)
    lo = np.min([[s.start for s in r[0]] for _, r in parts], axis=0)
    hi = np.max([[s.stop for s in r[0]] for _, r in parts], axis=0)
    ubox = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
    frac = np.zeros(tuple(hi - lo), np.float32)
    target = np.zeros_like(frac)
    for b, (pbox, f) in parts:
        local = tuple(slice(s.start - a, s.stop - a) for s, a in zip(pbox, lo))
        more = f > frac[local]
        frac[local] = np.where(more, f, frac[local])
        target[local] = np.where(more, np.float32(b.hu), target[local])
    return _vessel_layer([(ubox, frac, frac * (target - bg[ubox]))], shape, plan, "heart", sp[1])


def _vessel_layer(entries: list, shape: tuple[int, ...], plan: MotionPlan | None, vessel: str, px_mm: float):
    """One vessel's plaques as one layer: (box in the heart box, HU added, plaque fraction), moved by the motion
    plan (:func:`cacscore.phantom.motion.move_layer`, the phantom's smear and ghosting) when there is one; the box
    is the plaques' own grown by the largest displacement in-plane."""
    lo = np.min([[s.start for s in b] for b, _, _ in entries], axis=0)
    hi = np.max([[s.stop for s in b] for b, _, _ in entries], axis=0)
    if plan is not None:
        m = int(np.ceil(0.5 * plan.amplitude_mm / px_mm)) + 2
        lo[1:], hi[1:] = np.maximum(lo[1:] - m, 0), np.minimum(hi[1:] + m, np.array(shape[1:]))
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
    diff = np.zeros(tuple(hi - lo), np.float32)
    frac = np.zeros_like(diff)
    for b, f, d in entries:
        local = tuple(slice(s.start - a, s.stop - a) for s, a in zip(b, lo))
        diff[local] += d
        frac[local] += f
    if plan is not None:
        diff = move_layer(diff, int(lo[0]), plan, vessel, px_mm)
        frac = move_layer(frac, int(lo[0]), plan, vessel, px_mm)
    return box, diff, frac


def _pericardium_distance(anatomy: ChestAnatomy) -> np.ndarray:
    """Signed distance (mm, > 0 outside) to the pericardial mask's surface on the anatomy's coarse grid."""
    if not anatomy.pericardium.any():
        return np.full(anatomy.pericardium.shape, np.inf, np.float32)  # no sac: every point lies far outside it
    return signed_distance(anatomy.pericardium, anatomy.grid_mm)


def plaque_mask(case: HybridCase, dilate_px: int = 1) -> np.ndarray:
    """(z, y, x) bool: the inserted plaques' footprints grown by dilate_px in-plane (what counts as 'inside an
    inserted plaque' when splitting a scorer's coronary AU into plaque and native)."""
    m = case.labels > 0
    if dilate_px:
        st = np.zeros((3, 3, 3), bool)
        st[1] = True
        m = ndimage.binary_dilation(m, st, iterations=dilate_px)
    return m
