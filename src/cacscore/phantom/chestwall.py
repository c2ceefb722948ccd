"""Session 12 (issue 15, anatomy.BODY_REALISM): the chest's background as a reader sees it at the heart's levels.

Parameters of the body wall's muscle bellies, the vertebrae's parts and the lung fissures (:class:`Body`, drawn by
:func:`draw_body` from its own random stream), and the geometry helpers anatomy.py paints them with: an anti-aliased
2-D capsule (pedicles, laminae, processes), fat-septa and trabecular texture fields, and the exact partial volume of a
thin sheet (a fissure's pleura) in a slab. Nothing here imports anatomy.py: it takes plain numbers and arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class Body:
    """One patient's body-realism parameters (mm, rad; psi = angle round the body from anterior, + patient left).

    Body wall: ``fat_harm`` (a1, b1, a2, b2, a3, b3) Fourier wobble of the subcutaneous fat's relative thickness,
    ``fat_flank`` the extra fat over the flanks and back; superficial muscles under the fat (pectoralis major,
    latissimus dorsi, trapezius), deep ones on the ribs (pectoralis minor, serratus anterior, rhomboids), each
    (max thickness, centre psi, half-width psi); ``intercostal`` the soft tissue round the rib band outside the
    cavity; ``gap`` the fat plane between muscle layers; ``share`` how much of the room under the subcutaneous fat the
    superficial muscles take (the deep ones 60 % of what is left; fat the rest); ``asym`` left / right thickness ratio - 1.
    Spine: ``cortex`` of the vertebral body, ``waist`` its mid-height narrowing, ``tp_back`` how far back (mm) the
    transverse processes' tips lie behind the canal's centre. Fissures: per side (right, left) the major fissure's
    dy/dz and dy/dx outward from the hilum (y posterior, z up), its offset (mm) at the hilum and its curvature
    (dy/dx^2, 1/mm); ``minor_dz`` the right minor fissure's
    height above the right hilum, ``pleura`` the fissures' thickness (mm of soft tissue). ``seed``: texture fields.
    """

    fat_harm: tuple[float, ...]
    fat_flank: float
    pec: tuple[float, float, float]
    lat: tuple[float, float, float]
    trap: tuple[float, float, float]
    pec_minor: tuple[float, float, float]
    serratus: tuple[float, float, float]
    rhomboid: tuple[float, float, float]
    intercostal: float
    gap: float
    asym: float
    cortex: float
    waist: float
    tp_back: float
    fis_slope: tuple[float, float]
    fis_lat: tuple[float, float]
    fis_dy: tuple[float, float]
    fis_curve: tuple[float, float]
    minor_dz: float
    pleura: float
    seed: int
    share: float = 0.55


def draw_body(xr: np.random.Generator) -> Body:
    """Draw a patient's :class:`Body` from its own generator (every other anatomy draw stays as it was).

    Ranges (adult chest CT at the heart's levels): pectoralis major 6-18 mm thick over the upper anterior chest,
    latissimus 5-13 mm posterolaterally, trapezius 3-8 mm over the paraspinal muscles, serratus anterior and
    pectoralis minor 3-9 mm on the ribs; major fissures 40-60 deg from the horizontal (dy/dz 0.7-1.3), running
    back as they go laterally from the hilum; the minor fissure near the fourth anterior rib, 0-25 mm above the
    right hilum."""
    def muscle(t: tuple[float, float], c: tuple[float, float], w: tuple[float, float]) -> tuple[float, float, float]:
        return float(xr.uniform(*t)), float(xr.uniform(*c)), float(xr.uniform(*w))

    return Body(
        fat_harm=tuple(float(v) for v in xr.normal(0, 0.15, 6)), fat_flank=float(xr.uniform(0.2, 0.7)),
        pec=muscle((6, 18), (0.5, 0.75), (0.5, 0.65)), lat=muscle((5, 13), (1.85, 2.1), (0.4, 0.55)),
        trap=muscle((3, 8), (3.0, 3.14), (0.5, 0.7)), pec_minor=muscle((3, 8), (0.75, 0.95), (0.22, 0.32)),
        serratus=muscle((3, 9), (1.45, 1.75), (0.55, 0.8)), rhomboid=muscle((3, 7), (2.55, 2.75), (0.3, 0.45)),
        intercostal=float(xr.uniform(8.5, 11.0)), gap=float(xr.uniform(1.2, 3.0)), asym=float(xr.normal(0, 0.08)),
        cortex=float(xr.uniform(1.2, 1.8)), waist=float(xr.uniform(0.9, 0.95)), tp_back=float(xr.uniform(5.0, 10.0)),
        fis_slope=(float(xr.uniform(0.7, 1.3)), float(xr.uniform(0.7, 1.3))),
        fis_lat=(float(xr.uniform(0.2, 0.6)), float(xr.uniform(0.2, 0.6))),
        fis_dy=(float(xr.uniform(-8, 8)), float(xr.uniform(-8, 8))), minor_dz=float(xr.uniform(0, 25)),
        pleura=float(xr.uniform(0.25, 0.5)), seed=int(xr.integers(2**31)), share=float(xr.uniform(0.45, 0.65)),
        fis_curve=(float(xr.uniform(-0.002, 0.005)), float(xr.uniform(-0.002, 0.005))))


def lens(psi: np.ndarray, m: tuple[float, float, float], asym: float = 0.0) -> np.ndarray:
    """A muscle belly's thickness round the body (mm): (1 - u^2)^0.6 of its max for u = (|psi| - centre) / half-width,
    on both sides (the patient's left x (1 + asym)): thick in the middle, tapering to nothing at both ends."""
    t, c, w = m
    u = (np.abs(psi) - c) / w
    side = np.where(psi > 0, 1.0 + asym, 1.0 - asym)
    return t * side * np.clip(1.0 - u * u, 0.0, None) ** 0.6


def capsule_footprint(xs: np.ndarray, ys: np.ndarray, a: tuple[float, float], b: tuple[float, float], r: float,
                      px: float) -> np.ndarray:
    """Anti-aliased in-plane coverage (ny, nx) float32 of a 2-D capsule (segment a-b, radius r, mm)."""
    ax_, ay_ = a
    dx, dy = b[0] - ax_, b[1] - ay_
    l2 = dx * dx + dy * dy + 1e-9
    px_ = (xs - ax_)[None, :].astype(np.float32)
    py_ = (ys - ay_)[:, None].astype(np.float32)
    t = np.clip((px_ * np.float32(dx) + py_ * np.float32(dy)) / np.float32(l2), 0.0, 1.0)
    d = np.sqrt((px_ - t * np.float32(dx)) ** 2 + (py_ - t * np.float32(dy)) ** 2)
    return np.clip((np.float32(r) - d) / np.float32(px) + 0.5, 0.0, 1.0).astype(np.float32)


def texture_fields(seed: int, shape: tuple[int, int], n: int, sigma_mm: float, px: float) -> np.ndarray:
    """n smooth Gaussian fields (n, ny, nx) float32 of unit standard deviation, correlated over sigma_mm."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal((n, *shape), dtype=np.float32)
    sm = ndimage.gaussian_filter(white, sigma=(0, sigma_mm / px, sigma_mm / px), mode="wrap")
    return sm / (sm.std(axis=(1, 2), keepdims=True) + 1e-6)


def septa(field: np.ndarray, width: float = 0.12) -> np.ndarray:
    """Thin curving lines in [0, 1]: the zero set of a smooth field (the fibrous septa of fat, a trabecular mesh)."""
    return np.exp(-(field / np.float32(width)) ** 2).astype(np.float32)


def sheet_band(c: np.ndarray, w: np.ndarray, y0: float, px: float, ny: int, tau: np.ndarray,
               max_rows: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Partial volume of a thin sheet crossing pixel columns: in each column the sheet sweeps [c - w/2, c + w/2]
    (mm, along the column's axis) over the slab and is ``tau`` mm thick along it, so a pixel [y - px/2, y + px/2]
    holds tau x overlap / (px x w) of it (its volume divided by the voxel's; exact for a plane, and it conserves
    the sheet's volume). c, w, tau: (ncol,); y0: the first pixel centre; returns (rows (ncol, k) int, fraction
    (ncol, k) float32), rows outside [0, ny) with fraction 0."""
    w = np.maximum(w, px)
    lo, hi = c - 0.5 * w, c + 0.5 * w
    r0 = np.floor((lo - y0) / px + 0.5).astype(np.int64)
    k = int(min(max(np.ceil(w.max() / px) + 2, 1), max_rows)) if len(w) else 1
    rows = r0[:, None] + np.arange(k)[None, :]
    yc = y0 + rows * px
    ov = np.clip(np.minimum(yc + 0.5 * px, hi[:, None]) - np.maximum(yc - 0.5 * px, lo[:, None]), 0.0, None)
    frac = (tau / (px * w))[:, None] * ov
    frac[(rows < 0) | (rows >= ny)] = 0.0
    return np.clip(rows, 0, ny - 1), frac.astype(np.float32)


@dataclass(frozen=True)
class Thorax:
    """Session 13 (issue 15, anatomy.THORAX_REALISM): how the chest's shape changes with height, and what fills the
    mediastinum's fat. ``ap_c`` the share of the anterior depth (spine to front) the upper chest loses 100 mm above the
    heart's top, ``ap_exp`` how that share grows with height (real series: the body's depth falls by 2-10 % 100 mm above
    the heart's centre and by 16-31 % 160 mm above it, bench/phantom_body_metrics.py); ``nodes`` mediastinal lymph
    nodes (n, 4: dx, dy from the trachea's centre, z above the carina, radius mm); ``seed`` for the nodes' shapes;
    ``cart_rise`` (a, b): rib k's costal cartilage rises a + b k mm from the costochondral junction to the sternum
    (real: the upper cartilages run nearly level, the 5th-7th curve up steeply to the sternum)."""

    ap_c: float
    ap_exp: float
    nodes: tuple[tuple[float, float, float, float], ...]
    seed: int
    cart_rise: tuple[float, float] = (0.0, 0.0)  # the costal cartilages' rise to the sternum: a + b x rib index (mm)
    arm_harm: tuple[float, ...] = ()  # per arm (right, left) 3 x (amplitude, phase) of harmonics 2-4 of its outline
    arm_septum: float = 3.0  # the fat plane (mm) between the arm's flexors and extensors


def draw_thorax(xr: np.random.Generator) -> Thorax:
    """Draw a patient's :class:`Thorax` from its own generator (every other anatomy draw stays as it was).

    Lymph nodes: 4-9 in the mediastinal fat (short axis 3-8 mm; a normal node is < 10 mm), in the stations a CT
    reader sees at the arch and the carina: lower paratracheal beside the trachea, prevascular in front of the
    great vessels, subcarinal under the carina, aortopulmonary window to the left."""
    stations = np.array([(-18.0, -4.0, 25.0), (14.0, -6.0, 20.0), (0.0, -38.0, 40.0), (-10.0, -30.0, 55.0),
                         (0.0, 10.0, -18.0), (22.0, -14.0, -2.0), (-20.0, 4.0, -6.0), (10.0, -45.0, 15.0),
                         (-12.0, -10.0, 60.0)])
    n = int(xr.integers(4, 10))
    pick = xr.choice(len(stations), n, replace=False)
    nodes = tuple((float(dx + xr.normal(0, 3)), float(dy + xr.normal(0, 3)), float(z + xr.normal(0, 6)),
                   float(xr.uniform(1.5, 4.0))) for dx, dy, z in stations[pick])
    return Thorax(ap_c=float(xr.uniform(0.25, 0.42)), ap_exp=float(xr.uniform(0.9, 1.4)), nodes=nodes,
                  seed=int(xr.integers(2**31)), cart_rise=(float(xr.uniform(0.0, 8.0)), float(xr.uniform(2.5, 5.0))),
                  arm_harm=tuple(float(v) for v in np.column_stack([xr.uniform(0.015, 0.05, 6),
                                                                    xr.uniform(0, 2 * np.pi, 6)]).ravel()),
                  arm_septum=float(xr.uniform(2.0, 4.5)))


def wobbly_ellipse_footprint(xs: np.ndarray, ys: np.ndarray, cx: float, cy: float, ax: float, ay: float, px: float,
                             harm: tuple[float, ...]) -> np.ndarray:
    """Anti-aliased coverage (ny, nx) float32 of an ellipse whose radius at polar angle phi is scaled by
    1 + sum a_k cos((k + 2) phi + p_k) for harm = (a_0, p_0, a_1, p_1, ...): a lobulated outline (a limb's muscles
    under the skin), not a perfect ellipse. The edge is anti-aliased along the radius (exact enough for a few %)."""
    dx = (xs - cx)[None, :].astype(np.float32)
    dy = (ys - cy)[:, None].astype(np.float32)
    phi = np.arctan2(dy * np.float32(ax / ay), dx)
    scale = np.ones_like(phi)
    for k in range(len(harm) // 2):
        scale += np.float32(harm[2 * k]) * np.cos((k + 2) * phi + np.float32(harm[2 * k + 1]))
    rho = np.sqrt((dx / np.float32(ax)) ** 2 + (dy / np.float32(ay)) ** 2) / scale
    return np.clip((1.0 - rho) * np.float32(min(ax, ay)) / np.float32(px) + 0.5, 0.0, 1.0).astype(np.float32)


CART_THETA = (2.3, 2.8)
"""The costal cartilages' band (rad from posterior; anatomy._paint_ribs_range), the sternum beyond it."""


def cartilage_lift(theta: np.ndarray) -> np.ndarray:
    """How far (0-1) along its cartilage toward the sternum a point of the band at angle theta lies (0 at the
    costochondral junction and laterally), rising faster near the sternum."""
    g = np.clip((np.asarray(theta) - CART_THETA[0]) / (CART_THETA[1] - CART_THETA[0]), 0.0, 1.0)
    return g ** 1.5


AP_C_MAX = 0.45
"""The anterior compression never passes this share (the map d -> d (1 - c d / D) must stay monotonic: c < 0.5)."""


def ap_source_rows(y: np.ndarray, y_fix: float, depth: float, c: float) -> np.ndarray:
    """Where (patient y, mm) each output row ``y`` of an upper-chest slab takes its content from, when the part in
    front of ``y_fix`` (the spine) is compressed toward it: a point ``d`` mm in front goes to d (1 - c d / depth)
    (so the body's front, ``depth`` mm in front, moves back by c x depth, and tissue near the spine barely moves,
    as a real chest narrows toward its apices by its anterior wall sloping back), linear beyond the front; rows behind
    ``y_fix`` are unchanged. Returns the source y per output row (the inverse map, for resampling)."""
    y = np.asarray(y, float)
    dp = y_fix - y  # output distance in front of the fixed line
    if c <= 0:
        return y.copy()
    front = depth * (1.0 - c)
    inside = (depth - np.sqrt(np.clip(depth * depth - 4.0 * c * depth * np.clip(dp, 0, None), 0, None))) / (2.0 * c)
    beyond = depth + (dp - front) / (1.0 - 2.0 * c)
    d = np.where(dp <= 0, dp, np.where(dp <= front, inside, beyond))
    return y_fix - d


@dataclass(frozen=True)
class RibsV19:
    """Anatomy v19 (session 22, issue 15): each rib's cross-section and density (mm, HU before the bone / kVp factor).

    v8-v18 cut every rib as a lens (an ellipse 8 mm radially by 12 mm high), so an axial slice crossed each sloping rib
    in a short oval: on the heart's slices a ring of dots. A real rib is a flat curved plate, 10-16 mm high and 5-9 mm
    thick, a 1-1.5 mm cortex round marrow; where an axial slice crosses it, it shows a band of constant thickness with
    two bright cortical lines and grey marrow between. ``half_h`` (posterior, anterior) half-heights and ``half_t``
    half-thicknesses (the rib flattens and grows taller toward the front), ``cortex`` thickness, ``cortex_hu``,
    ``marrow_hu`` (real rib marrow 200-400 HU), ``cart_hu`` uncalcified costal cartilage (kept under the Agatston
    threshold of 130 so that plain cartilage never makes a calcium candidate; its calcium is drawn as before),
    ``twist`` tan of the section's tilt at the lateral wall (its outer edge lower: the rib's outer face turns down)."""

    half_h: tuple[float, float]
    half_t: tuple[float, float]
    cortex: float
    cortex_hu: float
    marrow_hu: float
    cart_hu: float
    twist: float


def draw_ribs_v19(xr: np.random.Generator) -> RibsV19:
    """A patient's :class:`RibsV19` from its own generator (every other draw stays as it was)."""
    return RibsV19(half_h=(float(xr.uniform(4.5, 5.5)), float(xr.uniform(6.5, 8.0))),
                   half_t=(float(xr.uniform(3.8, 4.6)), float(xr.uniform(2.6, 3.2))),
                   cortex=float(xr.uniform(1.0, 1.5)), cortex_hu=float(xr.uniform(750.0, 950.0)),
                   marrow_hu=float(xr.uniform(240.0, 330.0)), cart_hu=float(xr.uniform(100.0, 125.0)),
                   twist=float(xr.uniform(0.25, 0.5)))


def rib_section_v19(u: np.ndarray, half_t: np.ndarray, half_h: np.ndarray, px: float,
                    power: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """A rib's (or cartilage's) cross-section as a rounded rectangle (a superellipse of power 3; v20: 2, an ellipse):
    at radial offset u from its centre line, its half-height (mm) and the in-plane coverage of the pixel
    (anti-aliased along the radius). Arrays broadcast; returns (half-height, coverage) float32."""
    a = np.clip(np.abs(u) / half_t, 0.0, 1.0)
    hz = half_h * (1.0 - a ** power) ** (1.0 / power)
    cover = np.clip((half_t - np.abs(u)) / px + 0.5, 0.0, 1.0)
    return hz.astype(np.float32), cover.astype(np.float32)


@dataclass(frozen=True)
class RibsV20(RibsV19):
    """Anatomy v20 (session 23, issue 15): v19's cortex / marrow ribs cut as a real thin slice cuts them.

    Measured on LIDC-IDRI-0002's 1.25 mm slices at the heart's levels (bench/rib_ring.py): 5 separate rib sections per
    hemithorax (p10 4, p90 6), each a short oval with a cortex ring; v19 drew 3 long thin bands per side with the
    anterior sector empty. v20 lets each rib make v8-v18's whole fall from its neck to the costochondral junction (so
    rib k meets its own cartilage, and the cartilage calcium drawn on it), with an elliptical section (``power`` 2)
    thicker than v19's. Per rib (0-11): ``jitter`` mm added to its height (tapering to 0 at the junction, where the
    cartilages stay v8-v18's) and ``hscale`` its height's scale, so the coronal's ribs are not an evenly spaced column
    of identical bars. ``calcified``: the cartilages carry patchy calcification (real older chests: 200-600 HU patches
    in 100-150 HU cartilage): where the smooth field sum_i cos(ks_i s + kz_i z + phase_i) / n (s the arc along the
    band, mm; one phase per side) exceeds ``calc_thr``, the cartilage turns to ``calc_hu`` (labelled
    cartilage_calcium, never coronary)."""

    jitter: tuple[float, ...] = ()
    hscale: tuple[float, ...] = ()
    power: float = 2.0
    calcified: bool = False
    calc_hu: float = 0.0
    calc_thr: float = 1.0
    calc_waves: tuple[tuple[float, float, float, float], ...] = ()


P_CARTILAGE_CALCIFIED_V20 = 0.6
"""v20: the share of patients whose costal cartilages carry patchy calcification (common past 40-50 years, the age of
the scanned population; LIDC-IDRI-0002 shows it at its root level)."""


def draw_ribs_v20(xr: np.random.Generator) -> RibsV20:
    """A patient's :class:`RibsV20` from its own generator (every other draw stays as it was). Sections: 9-12 mm high
    behind, 11-14 mm at the junction; 6.4-7.6 mm thick behind, 5.2-6.4 mm in front (the sections measured on
    LIDC-IDRI-0002's thin slices are 6.5 mm thick (median), bench/rib_ring.py; 8-10 mm drew 9-10 mm ovals). Per-rib jitter +-3 mm and scale 0.9-1.1 keep every section inside
    its rib period (bench: tests/test_phantom_v20.py)."""
    return RibsV20(half_h=(float(xr.uniform(4.5, 6.0)), float(xr.uniform(5.5, 7.0))),
                   half_t=(float(xr.uniform(3.2, 3.8)), float(xr.uniform(2.6, 3.2))),
                   cortex=float(xr.uniform(1.0, 1.5)), cortex_hu=float(xr.uniform(750.0, 950.0)),
                   marrow_hu=float(xr.uniform(200.0, 300.0)), cart_hu=float(xr.uniform(100.0, 125.0)),
                   twist=float(xr.uniform(0.15, 0.35)),
                   jitter=tuple(float(v) for v in xr.uniform(-3.0, 3.0, 12)),
                   hscale=tuple(float(v) for v in xr.uniform(0.9, 1.1, 12)), power=2.0,
                   calcified=bool(xr.random() < P_CARTILAGE_CALCIFIED_V20), calc_hu=float(xr.uniform(250.0, 600.0)),
                   calc_thr=float(xr.uniform(0.15, 0.45)),
                   calc_waves=tuple((float(xr.uniform(0.06, 0.25)) * float(xr.choice([-1.0, 1.0])),
                                     float(xr.uniform(0.15, 0.5)), float(xr.uniform(0, 2 * np.pi)),
                                     float(xr.uniform(0, 2 * np.pi))) for _ in range(3)))


def cartilage_calcium_share(r: RibsV20, s_mm: np.ndarray, z_mm: np.ndarray, side: np.ndarray) -> np.ndarray:
    """v20: the share (0-1) of a cartilage voxel that is calcified at arc s (mm along the band), height z (mm) on side
    (+1 left, -1 right): 0 below the threshold, rising to 1 over 0.15 of the field (soft-edged patches)."""
    if not r.calcified:
        return np.zeros(np.broadcast(s_mm, z_mm, side).shape, np.float32)
    f = np.zeros(np.broadcast(s_mm, z_mm, side).shape, np.float32)
    for ks, kz, ph_r, ph_l in r.calc_waves:
        f += np.cos(np.float32(ks) * s_mm + np.float32(kz) * z_mm + np.where(side > 0, np.float32(ph_l),
                                                                               np.float32(ph_r)))
    f /= np.float32(len(r.calc_waves))
    return np.clip((f - np.float32(r.calc_thr)) / np.float32(0.15), 0.0, 1.0).astype(np.float32)
