"""Randomised chest anatomy in patient mm and its rendering (everything except the coronaries).

All lengths in mm, HU in Hounsfield units. ``t`` is the height above the top of the right
diaphragm dome (mm); patient z = t + z_dome_mm. Painter's order: body wall, thoracic cavity
(lungs / abdomen / thoracic inlet), mediastinum, great vessels and airways, bones (spine, ribs,
costal cartilage, sternum), aortic wall calcium, table; the heart is drawn last (its own
layer, so that it can move).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from cacscore.phantom.raster import Grid, ellipse_footprint, ellipsoid_fraction, paint, slab_fraction

HU = {
    "air": -1000.0, "skin": 40.0, "fat": -100.0, "muscle": 50.0, "lung": -935.0, "mediastinum": -85.0,
    "blood": 32.0, "myocardium": 44.0, "liver": 58.0, "abdomen": 40.0, "neck": 25.0, "disc": 80.0,
    "cartilage": 110.0, "csf": 12.0, "gland": 20.0,
}
"""Nominal tissue HU at 120 kVp (non-contrast). Blood and cancellous bone were lowered toward the
real LIDC-IDRI-0002 series (descending aorta 13 HU, vertebral body 175 HU at 5 mm; see docs/phantom.md)."""
CANCELLOUS_HU = 190.0
"""Vertebral cancellous bone, times the patient's bone density 0.7-1.2."""


@dataclass(frozen=True)
class Anatomy:
    """Per-patient anatomy parameters (mm, HU). Drawn by :func:`draw_anatomy`."""

    fov_mm: float
    n_slices: int
    z_dome_mm: float  # patient z of t = 0
    t_top: float  # top of the scan (t)
    body_c: tuple[float, float]  # (x, y) body centre
    body_ab: tuple[float, float]  # semi-axes
    fat_mm: float
    muscle_mm: float
    cav_c: tuple[float, float]
    cav_ab: tuple[float, float]
    bone_scale: float
    spine_c: tuple[float, float]
    spine_r: float
    vert_period: float
    vert_phase: float
    rib_period: float
    rib_top: float
    rib_drop: float
    dome_left: float
    dome_depth: float
    t_apex: float
    med_halfwidth: float
    heart_c: np.ndarray  # (x, y, z) patient mm
    heart_axes: np.ndarray  # (3, 3) rows: long (base->apex), anterior, left
    heart_semi: np.ndarray  # (3,)
    aorta_root: np.ndarray  # (x, y, z)
    aorta_r: float
    desc_c: tuple[float, float]
    desc_r: float
    t_arch: float
    aortic_calc: tuple[tuple[float, float, float, float, float], ...]  # (x, y, z, radius, HU)
    cartilage_calc: tuple[tuple[float, float, float, float, float], ...]
    lung_texture_seed: int
    # drawn from default_rng([lung_texture_seed, 5]) so that adding them left the other draws unchanged
    breast: tuple[float, float, float, float, float] | None = None  # (dx from midline, y, semi-x, semi-y, t_centre)
    scapula: tuple[float, float, float] = (0.0, 0.0, 0.0)  # (angle from posterior (rad), length mm, t_bottom)
    paraspinal: tuple[float, float] = (22.0, 18.0)  # semi-axes (mm) of the paraspinal muscles
    # body wall, drawn from default_rng([lung_texture_seed, 6]) (see _draw_wall): None = plain ellipse
    wall: "Wall | None" = None
    # aortic valve annulus calcium (x, y, z, radius, HU): drawn with the aortic wall calcium (same
    # stream) but painted with the heart (noncoronary.py), where it moves and is not painted over
    valve_calc: tuple[tuple[float, float, float, float, float], ...] = ()


@dataclass(frozen=True)
class Wall:
    """Body-wall shape and layers (mm): flattened back, fat and muscle thickness around the body.

    back_exp: exponent of the posterior half of the outline (2 = ellipse, 4-6 = flat back);
    y_back: patient y of the back's surface; fat_harm: (a1, b1, a2, b2) Fourier coefficients of the
    relative subcutaneous-fat thickness around the body; pect/lat/trap: pectoral, lateral
    (latissimus/serratus) and posterior (trapezius/rhomboid) muscle thickness; plane: width of
    the intermuscular fat plane under them; table_gap: back to table (mm); pad: mattress under the back.
    """

    back_exp: float
    y_back: float
    fat_harm: tuple[float, float, float, float]
    pect: float
    lat: float
    trap: float
    plane: float
    table_gap: float
    table_curve: float
    pad: float
    post_ext: float = 0.0  # the lungs reach this far (mm) behind the cavity ellipse beside the spine


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def draw_anatomy(rng: np.random.Generator) -> Anatomy:
    """Draw one patient's anatomy (all randomness from ``rng``)."""
    a = rng.uniform(135, 190)
    b = a * rng.uniform(0.68, 0.80)
    fov = float(np.clip(round(2 * (a + rng.uniform(12, 45))), 317, 461))
    n_slices = int(rng.integers(59, 71))
    body_c = (rng.normal(0, 4), rng.uniform(-5, 12))
    fat = rng.uniform(6, 28)
    muscle = rng.uniform(8, 15)
    cav_ab = (a - 2 - fat - muscle, b - 2 - 0.5 * fat - muscle - 2)
    cav_c = (body_c[0], body_c[1] - 6)
    spine_r = rng.uniform(15, 20)
    spine_c = (body_c[0] + rng.normal(0, 2), cav_c[1] + cav_ab[1] - 0.55 * spine_r)
    t_apex = rng.uniform(185, 225)
    t_top = t_apex + rng.uniform(15, 45)
    z_dome = rng.uniform(-260, -110)
    # heart: centre left-anterior of the spine, long axis to anterior-left-inferior
    semi = np.array([rng.uniform(62, 74), rng.uniform(50, 57), rng.uniform(46, 53)])
    hx = body_c[0] + rng.uniform(10, 26)
    front = cav_c[1] - cav_ab[1]
    hz = z_dome + rng.uniform(42, 56)
    e1 = _unit(np.array([0.55, -0.45, -0.6]) + rng.normal(0, 0.08, 3))
    e2 = _unit(np.array([0.0, -1.0, 0.0]) - np.dot([0.0, -1.0, 0.0], e1) * e1)
    e3 = np.cross(e1, e2)
    if e3[0] < 0:
        e3 = -e3
    axes = np.stack([e1, e2, e3])
    # fit the heart between the sternum (front + 10 mm) and the spine (front of the vertebral body - 6 mm)
    room = (spine_c[1] - spine_r - 6) - (front + 10)
    half_y = float(np.sqrt(((axes[:, 1] * semi) ** 2).sum()))
    if 2 * half_y > room:
        semi = semi * room / (2 * half_y)
        half_y = room / 2
    hy = front + 10 + half_y + rng.uniform(0, max(room - 2 * half_y, 0))
    hc = np.array([hx, hy, hz])
    root = hc - 0.62 * semi[0] * e1 + 0.3 * semi[1] * e2 - 0.25 * semi[2] * e3
    aorta_r = rng.uniform(13, 17)
    desc_r = rng.uniform(10, 13)
    desc_c = (spine_c[0] + spine_r * 0.7 + desc_r * 0.6, spine_c[1] - spine_r * 0.8)
    t_arch = root[2] - z_dome + rng.uniform(60, 80)
    # optional aortic wall / valve calcium (never coronary)
    calcs = []
    if rng.random() < 0.45:
        for _ in range(int(rng.integers(1, 6))):
            ang = rng.uniform(0, 2 * np.pi)
            if rng.random() < 0.5:  # descending aorta wall
                tz = rng.uniform(-20, t_arch - 10)
                cx, cy = desc_c[0] + desc_r * np.cos(ang), desc_c[1] + desc_r * np.sin(ang)
            else:  # arch / upper ascending wall, well above the coronary ostia
                tz = rng.uniform(root[2] - z_dome + 40, t_arch)
                cx, cy = root[0] + aorta_r * np.cos(ang), root[1] + aorta_r * np.sin(ang)
            calcs.append((cx, cy, tz + z_dome, rng.uniform(1.0, 3.0), rng.uniform(250, 1100)))
    valve = []
    if rng.random() < 0.15:  # aortic valve annulus, below the ostia
        for _ in range(int(rng.integers(1, 4))):
            ang = rng.uniform(0, 2 * np.pi)
            valve.append((root[0] + 0.7 * aorta_r * np.cos(ang), root[1] + 0.7 * aorta_r * np.sin(ang),
                          root[2] - rng.uniform(10, 16), rng.uniform(1.0, 2.5), rng.uniform(300, 900)))
    cart = []
    if rng.random() < 0.5:  # calcified costal cartilage patches (bright, outside the heart)
        for _ in range(int(rng.integers(1, 8))):
            side = rng.choice([-1.0, 1.0])
            th = rng.uniform(2.35, 2.75)
            cx = cav_c[0] + side * cav_ab[0] * np.sin(th) * 1.03
            cy = cav_c[1] + cav_ab[1] * np.cos(th) * 1.03
            cart.append((cx, cy, z_dome + rng.uniform(-10, 120), rng.uniform(1.5, 3.5), rng.uniform(200, 600)))
    tex_seed = int(rng.integers(2**31))
    xr = np.random.default_rng([tex_seed, 5])
    breast = None
    if xr.random() < 0.5:  # breasts (or a thick anterior soft-tissue pad): fat with a glandular core
        breast = (float(xr.uniform(0.38, 0.52) * a), float(body_c[1] - b + xr.uniform(18, 30)),
                  float(xr.uniform(50, 70)), float(xr.uniform(20, 32)), float(xr.uniform(40, 110)))
    scapula = (float(xr.uniform(0.5, 0.75)), float(xr.uniform(60, 90)), float(t_apex - xr.uniform(90, 130)))
    paraspinal = (float(xr.uniform(18, 26)), float(xr.uniform(14, 20)))
    wall = _draw_wall(np.random.default_rng([tex_seed, 6]), body_c=body_c, b=b, fat=fat, spine_c=spine_c,
                      spine_r=spine_r)
    return Anatomy(
        fov_mm=fov, n_slices=n_slices, z_dome_mm=z_dome, t_top=t_top, body_c=body_c, body_ab=(a, b),
        fat_mm=fat, muscle_mm=muscle, cav_c=cav_c, cav_ab=cav_ab, bone_scale=rng.uniform(0.7, 1.2),
        spine_c=spine_c, spine_r=spine_r, vert_period=rng.uniform(24, 28), vert_phase=rng.uniform(0, 28),
        rib_period=rng.uniform(27, 33), rib_top=t_apex - rng.uniform(0, 15), rib_drop=rng.uniform(45, 75),
        dome_left=-rng.uniform(8, 25), dome_depth=rng.uniform(45, 75), t_apex=t_apex,
        med_halfwidth=rng.uniform(26, 38), heart_c=hc, heart_axes=axes, heart_semi=semi,
        aorta_root=root, aorta_r=aorta_r, desc_c=desc_c, desc_r=desc_r, t_arch=t_arch,
        aortic_calc=tuple(calcs), cartilage_calc=tuple(cart), lung_texture_seed=tex_seed,
        breast=breast, scapula=scapula, paraspinal=paraspinal, wall=wall, valve_calc=tuple(valve),
    )


def heart_surface(anat: Anatomy, u: np.ndarray, phi_deg: np.ndarray, out_mm: np.ndarray) -> np.ndarray:
    """Points on the heart ellipsoid at (u, phi) pushed out along the normal by out_mm (< 0: inside). (n, 3)

    The heart's own frame: u along the long axis from base -1 to apex +1, phi around it in degrees
    (0 anterior, +90 toward the patient's left); points in patient mm (x, y, z).
    """
    a, b, c = anat.heart_semi
    e1, e2, e3 = anat.heart_axes
    ph = np.deg2rad(phi_deg)
    s = np.sqrt(np.clip(1 - u ** 2, 0.02, None))
    local = np.stack([a * u, b * s * np.cos(ph), c * s * np.sin(ph)], axis=1)
    normal = local / np.array([a, b, c]) ** 2
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    local = local + normal * out_mm[:, None]
    return anat.heart_c + local @ np.stack([e1, e2, e3])


SPINOUS_TIP_MM = 40.0
"""Spinous-process tip behind the front of the spinal canal ring's centre (cyc), mm."""


def _draw_wall(xr: np.random.Generator, *, body_c: tuple[float, float], b: float, fat: float,
               spine_c: tuple[float, float], spine_r: float) -> Wall:
    """Body-wall parameters from their own generator (so the other anatomy and calcium draws are unchanged)."""
    fat_harm = tuple(float(v) for v in xr.normal(0, 0.18, 4))
    fat_back = fat * xr.uniform(0.5, 0.9)
    tip = spine_c[1] + spine_r + 8 + SPINOUS_TIP_MM
    y_back = max(body_c[1] + b, tip + xr.uniform(6, 12) + fat_back)
    post_ext = 0.45 * spine_r + xr.uniform(6, 14)
    return Wall(post_ext=float(post_ext), back_exp=float(xr.uniform(3.5, 6.0)), y_back=float(y_back), fat_harm=fat_harm,  # type: ignore[arg-type]
                pect=float(xr.uniform(8, 20)), lat=float(xr.uniform(7, 16)), trap=float(xr.uniform(6, 12)),
                plane=float(xr.uniform(1.0, 2.5)), table_gap=float(xr.uniform(12, 35)),
                table_curve=float(xr.uniform(15, 35)), pad=float(xr.uniform(3, 9)))


def chest_grid(anat: Anatomy, size: int) -> Grid:
    """The non-gated grid: size x size pixels over the FOV, n_slices 5 mm slabs (z ascending)."""
    px = anat.fov_mm / size
    x = (np.arange(size) - (size - 1) / 2) * px
    y = (np.arange(size) - (size - 1) / 2) * px
    z_top = anat.z_dome_mm + anat.t_top
    edges = z_top - 5.0 * anat.n_slices + 5.0 * np.arange(anat.n_slices + 1)
    return Grid(x_mm=x, y_mm=y, z_edges_mm=edges)


def _texture_pool(seed: int, shape: tuple[int, int], n: int, px_mm: float, pad: int) -> np.ndarray:
    """n smooth 2-D texture fields (n, ny+pad, nx+pad) in [0, 1] that look like lung vessels."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal((n, shape[0] + pad, shape[1] + pad), dtype=np.float32)
    sm = ndimage.gaussian_filter(white, sigma=(0, 1.6 / px_mm, 1.6 / px_mm), mode="wrap")
    sm /= sm.std() + 1e-6
    return np.clip((sm - 1.3) * 0.9, 0.0, 1.0)


def _polar_outline(anat: Anatomy, psi: np.ndarray) -> np.ndarray:
    """Body outline radius (mm) from the body centre at polar angles psi (0 anterior, +pi/2 patient left).

    Front half: |dx/a|^2.2 + |dy/b|^2 = 1; back half: |dx/a|^2.2 + |dy/B|^e = 1 with B reaching the
    flat back (y_back) and e = back_exp (4-6: flat back, full posterior-lateral corners). Solved by
    bisection on the 1-D table of angles only.
    """
    w = anat.wall
    assert w is not None
    (_, by), (ba, bb) = anat.body_c, anat.body_ab
    ux, uy = np.abs(np.sin(psi)), -np.cos(psi)
    post = uy > 0
    big_b = np.where(post, w.y_back - by, bb)
    e = np.where(post, w.back_exp, 2.0)
    uy = np.abs(uy)
    lo, hi = np.zeros_like(psi), np.full_like(psi, 2.5 * max(ba, w.y_back - by, bb))
    for _ in range(28):
        mid = 0.5 * (lo + hi)
        inside = (mid * ux / ba) ** 2.2 + (mid * uy / big_b) ** e < 1.0
        lo, hi = np.where(inside, mid, lo), np.where(inside, hi, mid)
    return lo


def _body_wall(anat: Anatomy, x: np.ndarray, y: np.ndarray, px: float) -> tuple[np.ndarray, np.ndarray]:
    """The z-invariant body cross-section (ny, nx) float32 HU and the signed radial depth below the skin (mm).

    Without ``anat.wall`` (older anatomy): the plain elliptical body of skin, fat and muscle.
    Layers by radial depth below the outline: skin 1.8 mm, subcutaneous fat (thickness varying
    around the body: thicker laterally, per-patient Fourier wobble, 4-42 mm), the superficial
    muscles (pectoral anteriorly, none over the sternum; latissimus/serratus laterally; trapezius
    posteriorly), a thin intermuscular fat plane, then deep muscle (intercostals, paraspinals) down
    to the thoracic cavity, which is painted over it later. Paraspinal muscles get a fat rim.
    """
    w = anat.wall
    (bx, by), (ba, bb) = anat.body_c, anat.body_ab
    if w is None:
        body2d = np.full((len(y), len(x)), HU["air"], np.float32)
        for da, hu in ((0, HU["skin"]), (2, HU["fat"]), (2 + anat.fat_mm, HU["muscle"])):
            f = ellipse_footprint(x, y, bx, by, ba - da, bb - da * (0.7 if hu == HU["muscle"] else 1.0), px)
            body2d += f * (np.float32(hu) - body2d)
        d = (1 - np.sqrt(((x[None] - bx) / ba) ** 2 + ((y[:, None] - by) / bb) ** 2)) * min(ba, bb)
        return body2d, d.astype(np.float32)
    psi_t = np.linspace(-np.pi, np.pi, 1441)
    r_out = _polar_outline(anat, psi_t)
    # room between the outline and the rib band outside the thoracic cavity (ray from the body centre)
    (cx, cy), (ca, cb) = anat.cav_c, anat.cav_ab
    ux, uy = np.sin(psi_t), -np.cos(psi_t)
    cbe = np.where(uy > 0, cb + w.post_ext, cb)
    qa = (ux / ca) ** 2 + (uy / cbe) ** 2
    qb = 2 * (ux * (bx - cx) / ca ** 2 + uy * (by - cy) / cbe ** 2)
    qc = ((bx - cx) / ca) ** 2 + ((by - cy) / cbe) ** 2 - 1
    r_cav = (-qb + np.sqrt(np.clip(qb * qb - 4 * qa * qc, 0, None))) / (2 * qa)
    room = r_out - r_cav - 12.0
    a1, b1, a2, b2 = w.fat_harm
    rel = (0.8 + 0.35 * np.sin(psi_t) ** 2) * (1 + a1 * np.cos(psi_t) + b1 * np.sin(psi_t)
                                                + a2 * np.cos(2 * psi_t) + b2 * np.sin(2 * psi_t))
    fat_t = np.clip(anat.fat_mm * rel, 4.0, 42.0)
    fat_t = np.minimum(fat_t, np.maximum(room - 4.0, 3.0))
    ap = np.abs(psi_t)
    mus_t = np.interp(ap, [0, 0.12, 0.3, 0.8, 1.15, 1.5, 2.0, 2.5, np.pi],
                      [0.0, 1.0, w.pect, 0.9 * w.pect, 0.6 * w.lat + 0.4 * w.pect, w.lat, w.lat, w.trap, w.trap])
    mus_t = np.clip(np.minimum(mus_t, room - fat_t - w.plane), 0.0, None)
    dx = (x[None, :] - bx).astype(np.float32)
    dy = (y[:, None] - by).astype(np.float32)
    r = np.sqrt(dx * dx + dy * dy)
    psi = np.arctan2(dx, -dy)
    i = np.clip(np.rint((psi + np.pi) / (2 * np.pi) * (len(psi_t) - 1)).astype(np.intp), 0, len(psi_t) - 1)
    depth = r_out.astype(np.float32)[i] - r  # radial depth below the skin (mm), < 0 outside
    f_t, m_t = fat_t.astype(np.float32)[i], mus_t.astype(np.float32)[i]
    inv = np.float32(1.0 / px)

    def deeper(t: np.ndarray | float) -> np.ndarray:
        return np.clip((depth - t) * inv + 0.5, 0.0, 1.0)

    body2d = np.full(depth.shape, HU["air"], np.float32)
    skin = np.float32(1.8)
    has_plane = np.clip(m_t - 1.0, 0.0, 1.0)
    for t, hu in ((0.0, HU["skin"]), (skin, HU["fat"]), (skin + f_t, HU["muscle"] + 5),
                  (skin + f_t + m_t, HU["fat"] + 10), (skin + f_t + m_t + w.plane * has_plane, HU["muscle"] - 5)):
        body2d += deeper(t) * (np.float32(hu) - body2d)
    # paraspinal (erector spinae) muscles beside the spinous processes, in a fat rim
    cyc_ = anat.spine_c[1] + anat.spine_r + 8
    inner = deeper(skin + f_t + 2.0)
    pa, pb = anat.paraspinal
    pa, pb = pa * 1.25, pb * 1.35
    for side in (-1.0, 1.0):
        for grow, hu in ((1.0, HU["fat"] + 80), (0.0, HU["muscle"])):
            f = ellipse_footprint(x, y, anat.spine_c[0] + side * (pa + 5), cyc_ + 10, pa + grow, pb + grow, px) * inner
            body2d += f * (np.float32(hu) - body2d)
    return body2d, depth


def _cavity_footprint(anat: Anatomy, x: np.ndarray, y: np.ndarray, px: float) -> np.ndarray:
    """Thoracic cavity coverage (ny, nx): the cavity ellipse, its back half deepened by ``wall.post_ext``
    beside the spine (paravertebral gutters), not behind the vertebral body."""
    (cx, cy), (ca, cb) = anat.cav_c, anat.cav_ab
    base = ellipse_footprint(x, y, cx, cy, ca, cb, px)
    if anat.wall is None or anat.wall.post_ext <= 0:
        return base
    ext = anat.wall.post_ext
    dx = ((x - cx) / ca)[None, :].astype(np.float32)
    yy = (y - cy)[:, None].astype(np.float32)
    semi = np.where(yy > 0, np.float32(cb + ext), np.float32(cb))
    rho = np.sqrt(dx * dx + (yy / semi) ** 2)
    big = np.clip(0.5 - (rho - 1.0) * np.minimum(semi, ca) / px, 0.0, 1.0)
    sx, sy, sr = anat.spine_c[0], anat.spine_c[1], anat.spine_r
    notch = ellipse_footprint(x, y, sx, sy + 0.6 * sr + 0.5 * ext, 1.55 * sr, 0.9 * sr + ext, px)
    return np.maximum(base, big * (1 - notch)).astype(np.float32)


def _table(anat: Anatomy, x: np.ndarray, y: np.ndarray, px: float,
           depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CT table (ny, nx): coverage and HU of a 2.4 mm shell curving up at the sides, 12-35 mm below
    the back, and a mattress pad (-550 HU) right under the back."""
    w = anat.wall
    assert w is not None
    bx = anat.body_c[0]
    half_w = 0.42 * anat.fov_mm
    xn = ((x - bx) / half_w)[None, :].astype(np.float32)
    yt = w.y_back + w.table_gap - w.table_curve * xn ** 2
    dist = np.abs(y[:, None].astype(np.float32) - yt)
    f_tab = np.clip((1.2 - dist) / px + 0.5, 0.0, 1.0) * (np.abs(xn) < 1.0)
    pad = (depth < 0) & (depth > -w.pad) & (y[:, None] > w.y_back - 25) & (np.abs(xn) < 0.55)
    f = np.maximum(f_tab, pad.astype(np.float32))
    hu = np.where(f_tab > 0, np.float32(350.0), np.float32(-550.0)).astype(np.float32)
    return f.astype(np.float32), hu


def render_background(anat: Anatomy, grid: Grid, *, kvp: float) -> tuple[np.ndarray, np.ndarray]:
    """Everything but the heart: returns (hu float32 (z, y, x), bright bool (z, y, x)).

    ``bright`` marks voxels touched by bone, calcified cartilage and aortic wall calcium (never coronary).
    Aortic valve calcium is painted with the heart (:func:`cacscore.phantom.coronary.render_heart`).
    """
    nz, ny, nx = grid.shape
    px = grid.px_mm
    x, y, zc = grid.x_mm, grid.y_mm, grid.z_mm
    bone_k = anat.bone_scale * (1.1 if kvp < 110 else 1.0)  # bone and calcium are brighter at 100 kVp
    img = np.full(grid.shape, HU["air"], dtype=np.float32)
    bright = np.zeros(grid.shape, dtype=bool)

    # body wall: skin, subcutaneous fat, muscles, fat planes (z-invariant), paraspinal muscles
    bx = anat.body_c[0]
    body2d, outside_depth = _body_wall(anat, x, y, px)
    img[:] = body2d
    if anat.breast is not None:  # breasts: z-limited, fat with a glandular core, skin rim
        dxb, yb, sa, sb, tcb = anat.breast
        zb0, zb1 = anat.z_dome_mm + tcb - 55, anat.z_dome_mm + tcb + 55
        fz = slab_fraction(np.float32(zb0), np.float32(zb1), grid.z_edges_mm)
        for side in (-1.0, 1.0):
            xb = bx + side * dxb
            b = grid.box((zb0, yb - sb - 3 * px, xb - sa - 3 * px), (zb1, yb + sb + 3 * px, xb + sa + 3 * px))
            if b is None:
                continue
            xs_, ys_ = x[b[2]], y[b[1]]
            fb = fz[b[0]][:, None, None]
            for da, hu in ((0.0, HU["skin"]), (2.0, HU["fat"]), (0.45 * sb, HU["gland"])):
                f2 = ellipse_footprint(xs_, ys_, xb, yb + 0.3 * da, sa - da, sb - da, px)
                v = img[b]
                if hu == HU["skin"]:  # only the protruding part gets skin; inside the body it stays body
                    f2 = f2 * (body2d[b[1], b[2]] <= HU["air"] + 1)
                v += fb * f2[None] * (np.float32(hu) - v)

    # thoracic cavity: lungs between the diaphragm domes and the apices, abdomen below, neck above
    (cx, cy), (ca, cb) = anat.cav_c, anat.cav_ab
    ext = anat.wall.post_ext if anat.wall is not None else 0.0
    cav = _cavity_footprint(anat, x, y, px)
    box = grid.box((grid.z_edges_mm[0], cy - cb - px, cx - ca - px),
                   (grid.z_edges_mm[-1], cy + cb + ext + px, cx + ca + px))
    xs, ys = x[box[2]], y[box[1]]
    dxn = ((xs - cx) / ca)[None, :].astype(np.float32)
    dyn = ((ys - cy) / np.where(ys > cy, cb + ext, cb))[:, None].astype(np.float32)
    right = dxn < 0
    dome_top = np.where(right, 0.0, anat.dome_left).astype(np.float32)
    r2 = ((np.abs(dxn) - 0.45) / 0.55) ** 2 + (dyn / 0.9) ** 2
    lo = dome_top - anat.dome_depth * np.minimum(r2, 1.3) - 15.0 * np.clip(dyn, 0, None) + anat.z_dome_mm
    hi = anat.t_apex - 70.0 * (dxn ** 2 + 0.6 * dyn ** 2) * 1.0 + anat.z_dome_mm
    hi = hi - 60.0 * np.clip(0.35 - np.abs(dxn), 0, None)  # apices are lateral, the neck is medial
    flung = slab_fraction(lo, hi, grid.z_edges_mm)  # (nz, nyb, nxb)
    sub = img[box]
    c2 = cav[box[1], box[2]]
    abd = np.broadcast_to(np.where(right, HU["liver"], HU["abdomen"]).astype(np.float32), lo.shape)
    pool = _texture_pool(anat.lung_texture_seed, (len(ys), len(xs)), 4, px, pad=32)
    # above the apices: fat of the thoracic inlet with muscle and vessels (texture), not a uniform block
    inlet = np.float32(HU["fat"] + 20) + np.float32(150.0) * pool[0, :len(ys), :len(xs)]
    prng = np.random.default_rng(anat.lung_texture_seed + 1)
    offs = prng.integers(0, 32, (nz, 2))
    grad = np.float32(55.0) * (dyn + 1.0)  # dependent lung is denser
    # vessels are dense near the hila and sparse in the periphery
    d2 = np.minimum((np.abs(dxn) - 0.4) ** 2 + (dyn + 0.05) ** 2, 1.0)
    vess = (np.float32(520.0) * (0.45 + 1.2 * np.exp(-d2 / (2 * 0.22 ** 2)))).astype(np.float32)
    for k in range(nz):  # slab by slab (cache-friendly): abdomen below the domes / inlet above, then lung
        sk = sub[k]
        sk += c2 * (np.where(zc[k] < lo, abd, inlet) - sk)
        tex = pool[k % 4, offs[k, 0]:offs[k, 0] + len(ys), offs[k, 1]:offs[k, 1] + len(xs)]
        lung_hu = np.float32(HU["lung"]) + grad + vess * tex
        sk += (flung[k] * c2) * (lung_hu - sk)

    # mediastinum (fat with soft tissue) between sternum and spine, above the diaphragm
    mx, my = cx + 4.0, cy - 0.12 * cb
    z0m, z1m = anat.z_dome_mm - 15, anat.z_dome_mm + anat.t_apex - 25
    mb = grid.box((z0m, my - 0.86 * cb - 2 * px, mx - anat.med_halfwidth - 2 * px),
                  (z1m, my + 0.86 * cb + 2 * px, mx + anat.med_halfwidth + 2 * px))
    if mb is not None:
        med = ellipse_footprint(x[mb[2]], y[mb[1]], mx, my, anat.med_halfwidth, 0.86 * cb, px)
        med *= ellipse_footprint(x[mb[2]], y[mb[1]], mx, my - 0.5 * cb, 1.6 * anat.med_halfwidth, 1.2 * cb, px)  # narrower behind
        fz = slab_fraction(np.float32(z0m), np.float32(z1m), grid.z_edges_mm)[mb[0]]
        paint(img, mb, fz[:, None, None] * med[None], HU["mediastinum"])

    # great vessels and airways (z-extruded shapes)
    zd = anat.z_dome_mm
    root = anat.aorta_root
    arch_z = zd + anat.t_arch

    def cyl(cx_, cy_, r, z0, z1, hu, bright_=False):
        fzz = slab_fraction(np.float32(z0), np.float32(z1), grid.z_edges_mm)
        b = grid.box((z0, cy_ - r - 2 * px, cx_ - r - 2 * px), (z1, cy_ + r + 2 * px, cx_ + r + 2 * px))
        if b is None:
            return
        f2 = ellipse_footprint(x[b[2]], y[b[1]], cx_, cy_, r, r, px)
        fr = fzz[b[0]][:, None, None] * f2[None]
        paint(img, b, fr, hu)
        if bright_:
            bright[b] |= fr > 0.01

    cyl(root[0], root[1], anat.aorta_r, root[2] - 5, arch_z, HU["blood"])
    cyl(anat.desc_c[0], anat.desc_c[1], anat.desc_r, grid.z_edges_mm[0] - 5, arch_z, HU["blood"])
    cyl(root[0] - anat.aorta_r - 7, root[1] + 4, 9.0, root[2] + 5, zd + anat.t_apex, HU["blood"])  # SVC
    cyl(root[0] + anat.aorta_r + 10, root[1] - 8, 13.0, root[2] + 8, root[2] + 45, HU["blood"])  # pulmonary trunk
    def hseg(p0: np.ndarray, p1: np.ndarray, zc_: float, ra: float, hu: float) -> None:
        """Horizontal tube (radius ra) from p0 to p1 (x, y) at height zc_, exact column intervals."""
        b = grid.box((zc_ - ra, min(p0[1], p1[1]) - ra - px, min(p0[0], p1[0]) - ra - px),
                     (zc_ + ra, max(p0[1], p1[1]) + ra + px, max(p0[0], p1[0]) + ra + px))
        if b is None:
            return
        X, Y = np.meshgrid(x[b[2]], y[b[1]])
        d = p1 - p0
        s = np.clip(((X - p0[0]) * d[0] + (Y - p0[1]) * d[1]) / (d @ d), 0, 1)
        dist2 = (X - p0[0] - s * d[0]) ** 2 + (Y - p0[1] - s * d[1]) ** 2
        h = np.sqrt(np.clip(ra * ra - dist2, 0, None)).astype(np.float32)
        h[dist2 >= ra * ra] = -1
        paint(img, b, slab_fraction(zc_ - h, zc_ + h, grid.z_edges_mm[b[0].start:b[0].stop + 1]), hu)

    # pulmonary arteries: from the top of the trunk to each hilum, tapering in two steps
    pt = np.array([root[0] + anat.aorta_r + 10, root[1] - 8])
    zpa = root[2] + 40
    for hx_ in (cx - 0.42 * ca, cx + 0.42 * ca):
        hil = np.array([hx_, cy - 0.05 * cb])
        mid = pt + 0.6 * (hil - pt)
        hseg(pt, mid, zpa, 10.0, HU["blood"])
        hseg(mid, hil, zpa - 3, 6.5, HU["blood"])

    # aortic arch: horizontal tube from the ascending to the descending aorta (exact column intervals)
    p0 = np.array([root[0], root[1]])
    p1 = np.array(anat.desc_c)
    ra = 0.5 * (anat.aorta_r + anat.desc_r)
    hseg(p0, p1, arch_z, ra, HU["blood"])
    tr_y = anat.spine_c[1] - anat.spine_r - 14
    carina = arch_z - 12
    cyl(cx, tr_y, 10.0, carina, zd + anat.t_top + 10, HU["muscle"])
    cyl(cx, tr_y, 8.0, carina, zd + anat.t_top + 10, HU["air"])
    for side in (-1, 1):
        cyl(cx + side * 16, tr_y + 4, 7.0, carina - 35, carina + 2, HU["muscle"])
        cyl(cx + side * 16, tr_y + 4, 5.0, carina - 35, carina + 2, HU["air"])
    cyl(cx + 6, anat.spine_c[1] - anat.spine_r - 4, 6.0, grid.z_edges_mm[0], carina, HU["muscle"])  # oesophagus

    # spine: vertebral bodies (cortex + cancellous) with discs, canal, posterior elements
    sx, sy, sr = anat.spine_c[0], anat.spine_c[1], anat.spine_r
    bsp = grid.box((grid.z_edges_mm[0], sy - sr - 2 * px, sx - 45), (grid.z_edges_mm[-1], sy + sr + 55, sx + 45))
    if bsp is not None:  # a small (gated, cardiac) field of view may hold no spine at all
        xs, ys = x[bsp[2]], y[bsp[1]]
        k0 = np.floor((grid.z_edges_mm[0] - zd - anat.vert_phase) / anat.vert_period) - 1
        starts = zd + anat.vert_phase + anat.vert_period * (k0 + np.arange(int(len(zc) * 5 / anat.vert_period) + 4))
        disc = 5.5
        fvert = np.zeros(nz, np.float32)
        for s0 in starts:
            fvert += slab_fraction(np.float32(s0 + disc / 2), np.float32(s0 + anat.vert_period - disc / 2), grid.z_edges_mm)
        f_body = ellipse_footprint(xs, ys, sx, sy, sr * 1.1, sr, px)
        f_canc = ellipse_footprint(xs, ys, sx, sy, sr * 1.1 - 2, sr - 2, px)
        sub = img[bsp]
        sub += f_body[None] * (np.float32(HU["disc"]) - sub)
        vb = fvert[:, None, None]
        sub += vb * f_body[None] * (np.float32(720 * bone_k) - sub)
        sub += vb * f_canc[None] * (np.float32(CANCELLOUS_HU * bone_k) - sub)
        post = np.zeros((len(ys), len(xs)), np.float32)
        cyc = sy + sr + 8
        ring = ellipse_footprint(xs, ys, sx, cyc, 12.5, 11.5, px)
        spinous = ellipse_footprint(xs, ys, sx, cyc + SPINOUS_TIP_MM - 18.0, 4.0, 18.0, px)
        trans = ellipse_footprint(xs, ys, sx, cyc - 2, 36.0, 5.0, px)
        np.maximum(ring, spinous, out=post)
        np.maximum(post, trans, out=post)
        post_hu = np.float32(420 * bone_k)
        sub += post[None] * (post_hu - sub)
        canal = ellipse_footprint(xs, ys, sx, cyc, 7.5, 7.0, px)
        sub += canal[None] * (np.float32(HU["csf"]) - sub)
        bright[bsp] |= (f_body > 0.01)[None] & (vb > 0.01) | (post > 0.01)[None]

    # ribs and costal cartilage: a band just outside the cavity ellipse; each rib an ellipse in
    # (radial offset, height) whose height falls toward the front (t_rib(theta))
    X, Y = np.meshgrid(x, y)
    cb_y = np.where(Y > cy, cb + ext, cb)
    dxr, dyr = (X - cx) / ca, (Y - cy) / cb_y
    rho = np.sqrt(dxr ** 2 + dyr ** 2)
    rad = (rho - 1.0) * (0.5 * (ca + cb_y))
    band = (rad > -3) & (rad < 12)
    iy, ix = np.nonzero(band)
    u = rad[iy, ix] - 4.5  # radial offset from the rib centre line
    theta = np.arccos(np.clip(dyr[iy, ix] / np.maximum(rho[iy, ix], 1e-6), -1, 1))  # 0 posterior, pi anterior
    t_rel = anat.rib_drop * (1 - np.cos(theta)) / 2
    zc_t = (zc - zd)[:, None]
    kk = np.round((anat.rib_top - t_rel[None] - zc_t) / anat.rib_period)
    kk = np.clip(kk, 0, 11)
    t_c = (anat.rib_top - kk * anat.rib_period - t_rel[None] + zd).astype(np.float32)  # (nz, nb)
    is_rib = (theta > 0.25) & (theta < 2.3)
    is_cart = (theta >= 2.3) & (theta < 2.8)
    col = np.where(is_rib | is_cart)[0]
    for half_r, half_h, hu, which in ((4.5, 4.5, 650 * bone_k, is_rib), (2.6, 2.8, 200 * bone_k, is_rib),
                                       (5.0, 6.0, HU["cartilage"], is_cart)):
        hh = np.float32(half_h) * np.sqrt(np.clip(1 - (u / half_r) ** 2, 0, None)).astype(np.float32)
        hh[np.abs(u) >= half_r] = -1
        sel = col[which[col]]
        lo_ = t_c[:, sel] - hh[sel][None]
        hi_ = t_c[:, sel] + hh[sel][None]
        f = np.clip(np.minimum(hi_, grid.z_edges_mm[1:, None].astype(np.float32))
                    - np.maximum(lo_, grid.z_edges_mm[:-1, None].astype(np.float32)), 0, None) / np.float32(grid.dz_mm)
        v = img[:, iy[sel], ix[sel]]
        v += f * (np.float32(hu) - v)
        img[:, iy[sel], ix[sel]] = v
        if hu > 150:
            bright[:, iy[sel], ix[sel]] |= f > 0.01

    # scapulae: thin plates behind the posterior-lateral ribs in the upper chest (cortex + marrow)
    ang, length, t_bot = anat.scapula
    zs0, zs1 = zd + t_bot, zd + anat.t_top + 10
    fzs = slab_fraction(np.float32(zs0), np.float32(zs1), grid.z_edges_mm)
    ks = np.nonzero(fzs > 0)[0]
    if len(ks):
        for side in (-1.0, 1.0):
            # centre 16 mm outside the cavity at the posterior-lateral angle, long axis along the wall
            ex, ey = side * np.sin(ang), np.cos(ang)
            px_c = cx + ex * (ca + 13)
            py_c = cy + ey * (cb + ext + 13)
            tang = np.arctan2(-(cb + ext) * ex, ca * ey)  # ellipse tangent at the plate's centre
            hw = 0.5 * length
            b = grid.box((zs0, py_c - hw - 3, px_c - hw - 3), (zs1, py_c + hw + 3, px_c + hw + 3))
            if b is None:
                continue
            f_o = ellipse_footprint(x[b[2]], y[b[1]], px_c, py_c, hw, 4.0, px, angle_rad=float(tang))
            f_i = ellipse_footprint(x[b[2]], y[b[1]], px_c, py_c, hw - 3, 1.8, px, angle_rad=float(tang))
            # the plate narrows toward its bottom (inferior angle): scale by height above t_bot
            hgt = np.clip((zc[b[0]] - zs0) / 40.0, 0.15, 1.0).astype(np.float32)[:, None, None]
            fb = fzs[b[0]][:, None, None] * hgt
            paint(img, b, fb * f_o[None], 520 * bone_k)
            paint(img, b, fb * f_i[None], 170 * bone_k)
            bright[b] |= (fb * f_o[None]) > 0.01

    # sternum: manubrium (wide) above the sternal angle, body below, cortex + marrow
    st_y = cy - cb + 3.0
    t_angle = anat.t_arch - 10
    for z0, z1, half_w in ((zd - 15, zd + t_angle, 14.0), (zd + t_angle, zd + anat.t_apex - 30, 23.0)):
        fzz = slab_fraction(np.float32(z0), np.float32(z1), grid.z_edges_mm)
        b = grid.box((z0, st_y - 10, cx - half_w - 2), (z1, st_y + 10, cx + half_w + 2))
        if b is None:
            continue
        f_o = ellipse_footprint(x[b[2]], y[b[1]], cx, st_y, half_w, 6.0, px)
        f_i = ellipse_footprint(x[b[2]], y[b[1]], cx, st_y, half_w - 2.0, 4.0, px)
        fb = fzz[b[0]][:, None, None]
        paint(img, b, fb * f_o[None], 600 * bone_k)
        paint(img, b, fb * f_i[None], 190 * bone_k)
        bright[b] |= (fb * f_o[None]) > 0.01

    # aortic wall and cartilage calcium (label 0 forever)
    for cx_, cy_, cz_, r, hu in (*anat.aortic_calc, *anat.cartilage_calc):
        res = ellipsoid_fraction(grid, np.array([cx_, cy_, cz_]), np.eye(3), np.array([r, r, r * 1.5]), supersample=2)
        if res is not None:
            b, f = res
            paint(img, b, f, hu * bone_k)
            bright[b] |= f > 0.001

    # patient table: a thin curved shell below the back, a mattress pad under the back
    if anat.wall is not None:
        tab_f, tab_hu = _table(anat, x, y, px, outside_depth)
        m = tab_f > 0
        sub = img[:, m]
        sub += tab_f[m] * (tab_hu[m] - sub)
        img[:, m] = sub
        bright[:, m & (tab_hu > 130)] = True
    return img, bright
