"""One synthetic patient: anatomy + coronaries + calcium + motion + noise, with exact Agatston truth."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import ndimage

from cacscore.phantom.anatomy import (ANATOMY_VERSION, V21_ROOT_BACK_MM, V21_STREAM, Anatomy, check_version, chest_grid,
                                     draw_anatomy, features, render_background)
from cacscore.phantom.coronary import (V21_LM_OSTIUM_SHEATH_MM, V23_STREAM, V24_LA_BODY_X, V24_LA_E3, V24_LV_BASE_REACH_MM, V24_STREAM, Layer, Plaque, PlaqueSpec, Prevalence, Vessel, draw_calcium, place_plaques,
                                       av_groove_u, proximal_first, render_heart, straddlers, v11_lcx_sheath, v23_lean, v24_lcx_border, v24_lv_base,
                                       vessel_centrelines)
from cacscore.phantom.motion import MotionPlan, draw_motion, move_layer
from cacscore.phantom.noncoronary import (CORONARY_CLEARANCE_MM, Blob, draw_cardiac_calcium,
                                          draw_nodal_calcium, paint_blobs)
from cacscore.phantom.raster import Grid
from cacscore.scoring.agatston import agatston
from cacscore.core.vessels import VESSELS

log = logging.getLogger(__name__)

HU_MIN, HU_MAX = -1024.0, 3071.0  # what unsigned 12-bit storage with intercept -1024 can hold


@dataclass
class GatedPatient:
    """Motion-free ECG-gated 3 mm series over the heart (hu, labels (z, y, x); spacing (z, y, x) mm).

    labels mark only the voxels of calcified plaques (what an annotator outlines); truth =
    agatston(hu, labels) at 3 mm (slice factor 1).
    """

    hu: np.ndarray
    labels: np.ndarray
    spacing_mm: tuple[float, float, float]
    origin_mm: tuple[float, float, float]  # (x, y, z) of voxel (0, 0, 0) centre
    noise_sigma_hu: float
    truth: dict[str, float]


@dataclass
class PhantomPatient:
    """One synthetic non-gated chest CT with its truth.

    hu: (z, y, x) float32, what the scanner gives: moving, noisy, integer-valued HU in [-1024, 3071],
    z ascending (index 0 = most inferior, slabs of slice_thickness_mm: 1.25-5 mm). hu_static: the same acquisition without motion
    and without noise (integer HU). labels: (z, y, x) uint8 0..4 (cacscore.core.vessels.LABEL_OF) covering
    each vessel's lumen + 3 mm and its calcium, never bone or aortic calcium.
    spacing_mm: (z, y, x). origin_mm: (x, y, z) patient mm of voxel (0, 0, 0).
    truth: Agatston of (hu_static, labels); truth_moving: of (hu, labels), i.e. exactly what scoring
    the written DICOMs with the written labels gives.
    heart_centre_mm: (z, y, x) patient mm; heart_centre_index: (z, y, x) fractional voxel index.
    """

    pid: int
    seed: int
    hu: np.ndarray
    hu_static: np.ndarray
    labels: np.ndarray
    spacing_mm: tuple[float, float, float]
    origin_mm: tuple[float, float, float]
    kvp: int
    noise_sigma_hu: float
    motion_amplitude_mm: float
    truth: dict[str, float]
    truth_moving: dict[str, float]
    heart_centre_mm: tuple[float, float, float]
    heart_centre_index: tuple[float, float, float]
    n_plaques: int
    n_aortic_calcium: int
    bright: np.ndarray = field(repr=False)  # (z, y, x) bool: bone / cartilage / non-coronary calcium voxels
    gated: GatedPatient | None = None
    anatomy: Anatomy | None = field(default=None, repr=False)
    plaques: list[Plaque] = field(default_factory=list, repr=False)
    lookalikes: tuple[Blob, ...] = field(default=(), repr=False)  # valve, MAC, nodes, granulomas (noncoronary.py)
    anatomy_labels: np.ndarray | None = field(default=None, repr=False)  # (z, y, x) uint8, anatomy.ANATOMY_LABELS
    slice_thickness_mm: float = 5.0  # acquisition draws (issue 15): slice thickness = spacing, kernel, FOV
    kernel: str = "B31f"
    fov_mm: float = 0.0
    arms_down: bool = False
    anatomy_version: str = ANATOMY_VERSION  # what drew it (anatomy.ANATOMY_VERSIONS; truth.csv anatomy_version)

    def n_lookalikes(self, kind: str) -> int:
        """How many calcified look-alike blobs of ``kind`` (noncoronary.KINDS) were drawn."""
        return sum(1 for b in self.lookalikes if b.kind == kind and b.calcified)

    def summary(self) -> dict[str, float]:
        """One truth-table row (see write_release)."""
        row: dict[str, float] = {"id": self.pid}
        row.update({c: self.truth[c] for c in (*VESSELS, "total")})
        row.update({f"moving_{c}": self.truth_moving[c] for c in (*VESSELS, "total")})
        row.update(kvp=self.kvp, noise_sigma_hu=self.noise_sigma_hu, motion_amplitude_mm=self.motion_amplitude_mm,
                   n_slices=self.hu.shape[0], pixel_spacing_mm=self.spacing_mm[1],
                   slice_thickness_mm=self.slice_thickness_mm, kernel=self.kernel, fov_mm=self.fov_mm,
                   arms_down=int(self.arms_down), n_plaques=self.n_plaques,
                   n_aortic_calcium=self.n_aortic_calcium, mac=int(self.n_lookalikes("mitral_annulus") > 0),
                   n_nodal_calcium=self.n_lookalikes("lymph_node"),
                   n_lung_granulomas=self.n_lookalikes("lung_granuloma"), heart_z_mm=self.heart_centre_mm[0],
                   heart_y_mm=self.heart_centre_mm[1], heart_x_mm=self.heart_centre_mm[2],
                   anatomy_version=self.anatomy_version)
        if self.gated is not None:
            row.update({f"gated_{c}": self.gated.truth[c] for c in (*VESSELS, "total")})
        return row


KERNELS = {"B31f": (0.5, 1.0), "B45f": (0.35, 1.3), "B60f": (0.25, 1.8)}
"""Reconstruction kernel -> (noise grain sigma mm, noise sd multiplier): soft, medium and sharp. A sharper
kernel passes higher frequencies: finer grain and more noise at the same dose."""
KERNEL_P = (0.55, 0.25, 0.2)
KVP_P = {100: 0.2, 120: 0.65, 140: 0.15}
"""Tube voltage; calcium and bone HU scale with it (anatomy.kvp_calcium_factor), the threshold stays 130 HU."""
NOISE_SIGMA_MAX_HU = 60.0
THREADS = 2
"""Threads for the per-slice finishing (noise, rounding) and the layers' motion: the speed budget is one full-size
patient in 2 s on 2 cores (docs/phantom.md). 1 = the single-threaded renderer (the same image either way)."""


def draw_acquisition(seed: int, pid: int) -> str:
    """The patient's reconstruction kernel, from its own stream [seed, pid, 5] (every other draw unchanged)."""
    r = np.random.default_rng([seed, pid, 5])
    return str(r.choice(list(KERNELS), p=KERNEL_P))


def noise_pool(rng: np.random.Generator, shape_yx: tuple[int, int], px_mm: float, *, n_fields: int = 6,
               pad: int = 48, grain_mm: float = 0.5) -> np.ndarray:
    """Correlated CT noise fields (n, ny+pad, nx+pad) float32 with unit sd.

    White noise Gaussian-filtered in-plane (sigma 0.5 mm) minus 0.6 x its 1.25 mm blur (band-pass,
    fine grain as in filtered back-projection), rescaled to sd 1. Slices draw their
    noise as the mean of two fields at random offsets (see _slice_noise): filtering 17 M voxels per
    patient would cost half a second, this costs a tenth of it and no two slices share a pattern.
    """
    white = rng.standard_normal((n_fields, shape_yx[0] + pad, shape_yx[1] + pad), dtype=np.float32)
    s = grain_mm / px_mm
    if s >= 0.3:
        fine = ndimage.gaussian_filter(white, sigma=(0, s, s), truncate=3.0, mode="wrap")
        # band-pass (filtered back-projection's noise power peaks at mid frequencies): remove part of
        # the coarse component, so the grain is fine and no blotches remain
        coarse = ndimage.gaussian_filter(fine, sigma=(0, 2.5 * s, 2.5 * s), truncate=2.5, mode="wrap")
        fine -= np.float32(0.6) * coarse
        white = fine
    white /= white.std(axis=(1, 2), keepdims=True)
    return white


def _slice_noise(pool: np.ndarray, pick: np.ndarray, shape_yx: tuple[int, int], sd: float = 1.0) -> np.ndarray:
    """One slice of noise with standard deviation ``sd`` from two unit-sd pool fields: pick = (i, j, oy1, ox1, oy2,
    ox2)."""
    i, j, a, b, c, d = (int(v) for v in pick)
    ny, nx = shape_yx
    out = pool[i, a:a + ny, b:b + nx] + pool[j, c:c + ny, d:d + nx]
    out *= np.float32(sd * np.sqrt(0.5))
    return out


def _noise_picks(rng: np.random.Generator, n_slices: int, n_fields: int, pad: int) -> np.ndarray:
    i = rng.integers(0, n_fields, n_slices)
    j = (i + rng.integers(1, n_fields, n_slices)) % n_fields
    off = rng.integers(0, pad + 1, (n_slices, 4))
    return np.column_stack([i, j, off])


def _apply_layers(out: np.ndarray, layers: list[Layer], plan: MotionPlan, grid: Grid) -> None:
    """Paint the layers, each moved, into ``out`` in place (boxes padded by the motion reach)."""
    nz, ny, nx = grid.shape
    pad = int(np.ceil(plan.amplitude_mm / 2 / grid.px_mm)) + 2
    for layer in layers:
        bz, by, bx = layer.box
        y0, y1 = max(by.start - pad, 0), min(by.stop + pad, ny)
        x0, x1 = max(bx.start - pad, 0), min(bx.stop + pad, nx)
        def moved_one(arr: np.ndarray) -> np.ndarray:  # moved into the padded box
            return move_layer(arr, bz.start, plan, layer.name, grid.px_mm, shape=(y1 - y0, x1 - x0),
                              at=(by.start - y0, bx.start - x0))

        moved = _in_threads(moved_one, [layer.alpha, layer.premult])  # alpha and premult move alike, independently
        v = out[bz, y0:y1, x0:x1]
        v *= np.subtract(1, moved[0], out=moved[0])  # (in place: v *= 1 - alpha, v += premult)
        v += moved[1]


def _nonzero_box(labels: np.ndarray) -> tuple[slice, slice, slice]:
    """The bounding box of labels > 0 (a 1-voxel box at the origin when there is none); the y and x extents are
    looked for only in the z range (the labels fill a few percent of the volume)."""
    kz = np.flatnonzero(labels.any(axis=(1, 2)))
    if not len(kz):
        return (slice(0, 1), slice(0, 1), slice(0, 1))
    sub = labels[kz[0]:kz[-1] + 1]
    ky, kx = np.flatnonzero(sub.any(axis=(0, 2))), np.flatnonzero(sub.any(axis=(0, 1)))
    return slice(int(kz[0]), int(kz[-1]) + 1), slice(int(ky[0]), int(ky[-1]) + 1), slice(int(kx[0]), int(kx[-1]) + 1)


def _score(hu: np.ndarray, labels: np.ndarray, grid: Grid, box: tuple[slice, slice, slice] | None = None) -> dict[str, float]:
    # lesions are components of (hu >= threshold) & (labels > 0): scoring any box that holds every labelled voxel
    # gives the same result (``box``, else the labels' bounding box), and at 1.25 mm the whole volume cost 0.2 s per call
    box = _nonzero_box(labels) if box is None else box
    res = agatston(hu[box], labels[box], pixel_spacing_mm=(grid.px_mm, grid.px_mm), slice_spacing_mm=grid.dz_mm,
                   slice_thickness_mm=grid.dz_mm)
    return res.as_row()


def _finish(moving: np.ndarray, static: np.ndarray | None, grid: Grid, fov_mm: float, *, sigma: float,
            rng: np.random.Generator, grain_mm: float = 0.5, fresh: np.ndarray | None = None) -> None:
    """Slice by slice (cache-friendly): add noise to ``moving``, set the outside of the
    reconstruction circle to -1024 HU, round to integer HU and clip to the storable range. ``fresh`` (nz,) bool:
    slices of ``moving`` not written yet, which are the static slice plus noise."""
    nz, ny, nx = grid.shape
    pad = 48
    pool = noise_pool(rng, (ny, nx), grid.px_mm, pad=pad, grain_mm=grain_mm)
    picks = _noise_picks(rng, nz, len(pool), pad)
    # the corners outside the reconstruction circle, as flat indices (a boolean mask scans every pixel)
    outside = np.flatnonzero((grid.y_mm[:, None] ** 2 + grid.x_mm[None, :] ** 2) > (fov_mm / 2) ** 2)
    sig = np.float32(sigma)

    def finish(ks: range) -> None:
        for k in ks:
            m = moving[k]
            if fresh is not None and fresh[k]:
                np.add(static[k], _slice_noise(pool, picks[k], (ny, nx), float(sig)), out=m)
            else:
                m += _slice_noise(pool, picks[k], (ny, nx), float(sig))
            for a in (m, None if static is None else static[k]):
                if a is None:
                    continue
                a.reshape(-1)[outside] = HU_MIN  # a slab of a C-contiguous volume: reshape is a view
                np.rint(a, out=a)
                np.clip(a, HU_MIN, HU_MAX, out=a)

    # two threads, each on its own contiguous half of the slices (numpy releases the GIL in these loops; every
    # slice's noise was picked above, so the result is the same as one thread's)
    _in_threads(finish, [range(0, nz // 2), range(nz // 2, nz)])


def _in_threads(fn, parts: list) -> list:
    """fn over parts in THREADS threads (the budget is per patient on 2 cores); parts must not share output."""
    if THREADS <= 1 or len(parts) <= 1:
        return [fn(p) for p in parts]
    with ThreadPoolExecutor(min(THREADS, len(parts))) as ex:
        return list(ex.map(fn, parts))


@dataclass(frozen=True)
class _Draws:
    anat: Anatomy
    kvp: int
    sigma: float
    kernel: str
    vessels: dict[str, Vessel]
    specs: list[PlaqueSpec]
    plaques: list[Plaque]
    motion: MotionPlan
    cardiac: tuple[Blob, ...]  # aortic valve + mitral annulus calcium (move with the heart)
    nodes: tuple[Blob, ...]  # calcified lymph nodes and lung granulomas (static)


def _clear_of(calcs: tuple, vessel_points: np.ndarray) -> tuple:
    """The (x, y, z, radius, HU) calcium spheres at least CORONARY_CLEARANCE_MM + 1.5 radius from every coronary centreline."""
    if not calcs:
        return calcs
    c = np.array([k[:3] for k in calcs])
    d = np.sqrt(((c[:, None, :] - vessel_points[None]) ** 2).sum(axis=2)).min(axis=1)
    return tuple(k for k, dk in zip(calcs, d) if dk >= CORONARY_CLEARANCE_MM + 1.5 * k[3])


def _v24_lcx(anat: Anatomy, vessels: dict[str, Vessel], xr: np.random.Generator) -> tuple[Anatomy, dict[str, Vessel]]:
    """v24: the left ventricle's base widened on the left (v24_lv_base, its reach from ``xr``), the left atrium kept
    medial of it, and the LCX moved to the heart's outline there; the AV groove's u (what render_heart builds the atria
    and the groove's fat ring from) kept from the LCX's v23 course."""
    u_av = av_groove_u(anat, vessels)
    base = v24_lv_base(anat, u_av, float(xr.uniform(*V24_LV_BASE_REACH_MM)))
    anat = replace(anat, groove_u=u_av, la_e3=V24_LA_E3, la_body_x=V24_LA_BODY_X, lv_base=base)
    return anat, {**vessels, "LCX": v24_lcx_border(anat, vessels["LCX"], u_av, left_dominant=vessels["LCX"].crux >= 0)}


def _draws(pid: int, seed: int, size: int = 512, *, lookalikes: bool = True, version: str = ANATOMY_VERSION,
           p_mac: float | None = None, prevalence: Prevalence = Prevalence()  # noqa: B008 - frozen
           ) -> tuple[_Draws, np.random.Generator]:
    check_version(version)
    rng = np.random.default_rng([seed, pid])
    v21 = np.random.default_rng([seed, pid, V21_STREAM]) if features(version).root_back else None
    # v21: two draws from its own stream (every draw of rng unchanged): the root moved back, the left main's sheath
    back = float(v21.uniform(*V21_ROOT_BACK_MM)) if v21 is not None else 0.0
    anat = draw_anatomy(rng, version=version, root_back_mm=back)
    if v21 is not None:
        anat = replace(anat, lm_ostium_sheath_mm=float(v21.uniform(*V21_LM_OSTIUM_SHEATH_MM)))
    u_kvp = rng.random()  # one draw: 100 kVp below 0.2, 140 above 0.85, else 120 (KVP_P)
    kvp = 100 if u_kvp < KVP_P[100] else (140 if u_kvp > 1 - KVP_P[140] else 120)
    # one uniform draw (the random stream is unchanged), mapped to 10 + 30 u^2 HU at 5 mm with the soft
    # kernel: median 17.5 HU, most patients 10-25 HU (the real LIDC-IDRI-0002 5 mm slabs: about 8 HU), a tail
    # to 40; thinner slices have more noise (x sqrt(5 mm / thickness)), sharper kernels too (KERNELS)
    sigma5 = float(10.0 + 30.0 * ((rng.uniform(10, 40) - 10.0) / 30.0) ** 2)
    kernel = draw_acquisition(seed, pid)
    sigma = float(min(sigma5 * np.sqrt(5.0 / anat.slice_mm) * KERNELS[kernel][1], NOISE_SIGMA_MAX_HU))
    vessels = vessel_centrelines(anat, rng, version=version)
    if features(version).lcx_in_fat:  # the LCX's fat sheath, from its own stream (set after every draw of rng: all unchanged)
        anat = replace(anat, lcx_sheath_mm=v11_lcx_sheath(anat))
    lean = v23_lean(np.random.default_rng([seed, pid, V23_STREAM])) if features(version).lean_heart else None
    if lean is not None:  # v23: a lean heart (its own stream; painted only: every course and plaque is v21's)
        anat = replace(anat, **lean)
    if features(version).lcx_border:  # v24: the LCX at the heart's left border (its own stream); the groove stays
        anat, vessels = _v24_lcx(anat, vessels, np.random.default_rng([seed, pid, V24_STREAM]))
    specs = draw_calcium(rng, size=size, slice_mm=anat.slice_mm, prevalence=prevalence)
    # v8: larger plaques tend to lie proximal and some straddle the left main's bifurcation, from their own stream
    # (the same plaques, each vessel's same positions: every draw of rng and each vessel's target are unchanged)
    pr = np.random.default_rng([seed, pid, 8])
    distal = anat.crux_phi_deg is not None
    specs = proximal_first(specs, pr)
    plaques = place_plaques(specs, vessels, rng, distal=distal, straddle=straddlers(specs, vessels, pr, distal=distal))
    motion = draw_motion(rng, anat.n_slices - anat.extra_below_slices)
    if anat.extra_below_slices:  # v16: the slices added below keep every other slice's motion phase (own stream)
        pre = np.random.default_rng([seed, pid, 22]).uniform(0, 1, anat.extra_below_slices)
        motion = replace(motion, phase=np.concatenate([pre, motion.phase]))
    # non-coronary look-alikes from their own stream: every draw above is unchanged by them
    xr = np.random.default_rng([seed, pid, 4])
    vpts = np.concatenate([v.points for v in vessels.values()])
    # aortic wall and costal cartilage calcium keep clear of the coronaries as the look-alikes do, so
    # that clearing bright voxels from the labels never changes the per-vessel truth
    anat = replace(anat, aortic_calc=_clear_of(anat.aortic_calc, vpts), cartilage_calc=_clear_of(anat.cartilage_calc, vpts))
    cardiac = draw_cardiac_calcium(anat, vpts, xr, version=version, p_mac=p_mac) if lookalikes else ()
    nodes = draw_nodal_calcium(anat, vpts, xr) if lookalikes else ()
    return _Draws(anat, kvp, sigma, kernel, vessels, specs, plaques, motion, cardiac, nodes), rng


def make_patient(pid: int, *, seed: int, size: int = 512, gated: bool = False,
                 with_coronary_calcium: bool = True, lookalikes: bool = True, anatomy: bool = False,
                 version: str = ANATOMY_VERSION, p_mac: float | None = None,
                 prevalence: Prevalence = Prevalence()) -> PhantomPatient:  # noqa: B008 - frozen
    """Render synthetic patient ``pid`` of cohort ``seed`` at ``size`` x ``size`` pixels (same FOV at any size).

    Every random draw comes from numpy.random.default_rng([seed, pid]); the anatomy, calcium targets,
    positions and motion do not depend on ``size``; plaque diameters are chosen so that each
    plaque's expected rendered score at ``size`` matches its target (see draw_calcium). ``with_coronary_calcium=False`` renders the same patient
    without plaques (used to check that nothing else is ever scored). ``lookalikes=False`` leaves out
    the non-coronary calcium of noncoronary.py (aortic valve, mitral annulus, calcified nodes and lung
    granulomas; the per-vessel truth is the same either way), for ablations. ``anatomy=True`` also
    returns the anatomy label volume (``anatomy_labels``, anatomy.ANATOMY_LABELS) of the static image.
    ``version``: the anatomy version to draw (anatomy.ANATOMY_VERSIONS; v9 moves only the mitral annulus calcium,
    noncoronary.MAC_GEOMETRY). ``p_mac``: the share of patients with MAC (default noncoronary.P_MAC; a training knob);
    ``prevalence``: how often coronary calcium is drawn (coronary.Prevalence; a training knob).
    """
    if size < 16:
        raise ValueError(f"size must be >= 16 pixels, got {size}")
    if pid < 0:
        raise ValueError(f"pid must be >= 0, got {pid}")
    d, rng = _draws(pid, seed, size, lookalikes=lookalikes, version=version, p_mac=p_mac, prevalence=prevalence)
    plaques = d.plaques if with_coronary_calcium else []
    grid = chest_grid(d.anat, size)
    static, bright, alab = render_background(d.anat, grid, kvp=d.kvp, anatomy_labels=anatomy)
    # the moving image is the background with the layers moved in: only the slabs that a layer (or a static blob)
    # paints are copied from the background before that happens; every other slab of it is the static slab plus
    # noise, written by _finish (a whole-volume copy was up to a quarter of the patient's time on a loaded machine)
    moving = np.empty_like(static)
    copied = np.zeros(grid.shape[0], bool)

    def keep_background(box: tuple[slice, ...]) -> None:
        ks = np.arange(box[0].start, box[0].stop)
        for k in ks[~copied[ks]]:
            moving[k] = static[k]
        copied[ks] = True

    layers, labels, _ = render_heart(d.anat, grid, static, d.vessels, plaques, kvp=d.kvp, cardiac_calcium=d.cardiac,
                                     bright=bright, anatomy_lab=alab, before_paint=keep_background)
    _apply_layers(moving, layers, d.motion, grid)
    del layers
    # the static blobs go into both images, as painted there
    paint_blobs([static, moving], grid, d.nodes, kvp=d.kvp, bright=bright, anatomy_lab=alab, before_paint=keep_background)
    lbox = _nonzero_box(labels)  # the labels' box: clearing and scoring there touches a few percent of the volume
    labels[lbox][bright[lbox]] = 0  # bone and non-coronary calcium are never coronary
    _finish(moving, static, grid, d.anat.fov_mm, sigma=d.sigma, rng=np.random.default_rng([seed, pid, 1]),
            grain_mm=KERNELS[d.kernel][0], fresh=~copied)
    truth = _score(static, labels, grid, lbox)
    truth_moving = _score(moving, labels, grid, lbox)
    hc = d.anat.heart_c
    idx = ((hc[2] - grid.z_mm[0]) / grid.dz_mm, (hc[1] - grid.y_mm[0]) / grid.px_mm, (hc[0] - grid.x_mm[0]) / grid.px_mm)
    g = make_gated(d, size=size, seed=seed, pid=pid) if gated else None
    return PhantomPatient(
        pid=pid, seed=seed, hu=moving, hu_static=static, labels=labels,
        spacing_mm=(grid.dz_mm, grid.px_mm, grid.px_mm), origin_mm=(float(grid.x_mm[0]), float(grid.y_mm[0]), float(grid.z_mm[0])),
        kvp=d.kvp, noise_sigma_hu=round(d.sigma, 3), motion_amplitude_mm=round(d.motion.amplitude_mm, 3),
        truth=truth, truth_moving=truth_moving, heart_centre_mm=(float(hc[2]), float(hc[1]), float(hc[0])),
        heart_centre_index=tuple(float(v) for v in idx), n_plaques=len(plaques),
        n_aortic_calcium=len(d.anat.aortic_calc) + len(d.anat.valve_calc), bright=bright, gated=g, anatomy=d.anat,
        plaques=list(plaques), lookalikes=d.cardiac + d.nodes, anatomy_labels=alab,
        slice_thickness_mm=d.anat.slice_mm, kernel=d.kernel, fov_mm=d.anat.fov_mm, arms_down=d.anat.arms is not None,
        anatomy_version=version,
    )


def gated_grid(anat: Anatomy, size: int, rng: np.random.Generator) -> Grid:
    """A heart-centred gated grid: FOV 200-260 mm, 3 mm slabs covering the heart (+ margins)."""
    fov = float(rng.uniform(200, 260))
    px = fov / size
    hc = anat.heart_c
    x = hc[0] + (np.arange(size) - (size - 1) / 2) * px
    y = hc[1] + (np.arange(size) - (size - 1) / 2) * px
    top = anat.aorta_root[2] + rng.uniform(30, 45)
    # to 5-20 mm below the heart's inferior wall, as a calcium-scoring protocol ends (v4: below its flat
    # diaphragmatic floor; hc - semi[0] reached 15-50 mm into the liver once the heart rested on the diaphragm, and
    # the liver between the lung rims then outweighed the heart for the gated heart finder)
    low = anat.heart_floor_z if anat.heart_floor_z > -1e8 else hc[2] - anat.heart_semi[0]
    bottom = low - rng.uniform(5, 20)
    n = int(np.ceil((top - bottom) / 3.0))
    edges = bottom + 3.0 * np.arange(n + 1)
    return Grid(x_mm=np.round(x, 4), y_mm=np.round(y, 4), z_edges_mm=edges)


def make_gated(d: _Draws, *, size: int, seed: int, pid: int) -> GatedPatient:
    """The motion-free gated 3 mm series of a patient (labels: calcium footprints only)."""
    rng = np.random.default_rng([seed, pid, 2])
    grid = gated_grid(d.anat, size, rng)
    img, bright, _ = render_background(d.anat, grid, kvp=d.kvp)
    _, _, masks = render_heart(d.anat, grid, img, d.vessels, d.plaques, kvp=d.kvp, cardiac_calcium=d.cardiac,
                               bright=bright)
    paint_blobs([img], grid, d.nodes, kvp=d.kvp, bright=bright)
    labels = np.zeros(grid.shape, np.uint8)
    for name in VESSELS:
        if name in masks:
            m = ndimage.binary_dilation(masks[name], structure=np.ones((1, 3, 3), bool))
            labels[m] = VESSELS.index(name) + 1
    labels[bright] = 0
    sigma = float(rng.uniform(8, 20))
    _finish(img, None, grid, 1e9, sigma=sigma, rng=rng)
    truth = _score(img, labels, grid)
    return GatedPatient(hu=img, labels=labels, spacing_mm=(grid.dz_mm, grid.px_mm, grid.px_mm),
                        origin_mm=(float(grid.x_mm[0]), float(grid.y_mm[0]), float(grid.z_mm[0])),
                        noise_sigma_hu=round(sigma, 3), truth=truth)
