"""Non-coronary calcium near the heart: the look-alikes a per-vessel scorer must not count.

Real non-gated chest CT holds calcium that is not coronary but lies where coronary calcium does
(the reason vessel-specific scoring is hard, and the commonest false positives of automatic
scorers):

- aortic valve calcium at the aortic root, just below the coronary ostia (drawn with the anatomy,
  ``Anatomy.valve_calc``, 15 % of patients);
- mitral annular calcification (MAC): a curved band of dense calcium in the posterior/lateral
  mitral annulus, a few mm inside the left AV groove where the LCX runs (12 % of patients; its
  prevalence in adults over 60 is about 10 %);
- calcified lymph nodes (healed granulomatous disease): subcarinal, aortopulmonary window, right
  paratracheal and hilar nodes, a soft-tissue node with a calcified core (15 %);
- calcified lung granulomas: small dense nodules in the lung (25 %).

Cardiac calcium (valve, MAC) moves with the heart (it is painted into its own "heart" layer);
nodes and granulomas are static. Every blob is kept at least ``CORONARY_CLEARANCE_MM`` plus its
radius from every coronary centreline, so no coronary label voxel is ever touched and the per-vessel
truth of a patient does not change when these are drawn. They are marked ``bright`` (never coronary).

All draws come from the generator the caller passes (``default_rng([seed, pid, 4])`` in
:mod:`cacscore.phantom.core`), so adding them left every other draw of a patient unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cacscore.phantom.anatomy import ANATOMY_VERSION, HU, LABEL, Anatomy, carina_z, features, heart_surface, kvp_calcium_factor
from cacscore.phantom.raster import Grid, ellipsoid_fraction, paint

P_MAC = 0.12
P_NODES = 0.15
P_GRANULOMA = 0.25
CORONARY_CLEARANCE_MM = 8.5
"""Minimum distance from a blob's surface to any coronary centreline point: the largest lumen radius
(2.4 mm) + the label margin (3 mm) + the heart layer's largest motion shift (1.75 mm) + 1.35 mm."""
KINDS = ("aortic_valve", "mitral_annulus", "lymph_node", "lung_granuloma")
MAC_THICK_MM = (1.2, 3.2)
"""The MAC band's sphere radius (mm), drawn per patient (each sphere 0.6-1.25 x it: mac_lumps)."""
MAC_HU = (300.0, 1100.0)
"""The MAC band's density (HU at 120 kVp), drawn per patient (each sphere 0.75-1.2 x it: mac_lumps)."""


@dataclass(frozen=True)
class Blob:
    """One sphere of tissue: centre (x, y, z) patient mm, radius mm, HU at 120 kVp, kind (KINDS)."""

    centre_mm: tuple[float, float, float]
    radius_mm: float
    hu: float
    kind: str

    @property
    def calcified(self) -> bool:
        return self.hu >= 130.0


def _clearance_mm(points: np.ndarray, vessel_points: np.ndarray) -> np.ndarray:
    """Distance (mm) from each of ``points`` (n, 3) to the nearest coronary centreline point."""
    d2 = ((points[:, None, :] - vessel_points[None, :, :]) ** 2).sum(axis=2)
    return np.sqrt(d2.min(axis=1))


def _keep_clear(blobs: list[Blob], vessel_points: np.ndarray) -> list[Blob]:
    """Drop the blobs that come closer than CORONARY_CLEARANCE_MM + radius to a coronary centreline."""
    if not blobs or len(vessel_points) == 0:
        return blobs
    c = np.array([b.centre_mm for b in blobs])
    r = np.array([b.radius_mm for b in blobs])
    ok = _clearance_mm(c, vessel_points) >= CORONARY_CLEARANCE_MM + r
    return [b for b, k in zip(blobs, ok) if k]


@dataclass(frozen=True)
class MacGeometry:
    """Where draw_cardiac_calcium puts the MAC band in the heart's frame (heart_surface): long-axis position u,
    the arc's centre and span round the long axis (deg; clipped to phi_limits), depth under the ventricles' surface
    (mm), each drawn uniformly from its range."""

    u: tuple[float, float]
    phi_c: tuple[float, float]
    span: tuple[float, float]
    phi_limits: tuple[float, float]
    depth_mm: tuple[float, float]


MAC_GEOMETRY = {
    "v8": MacGeometry(u=(-0.52, -0.40), phi_c=(100.0, 160.0), span=(40.0, 150.0), phi_limits=(45.0, 195.0),
                      depth_mm=(9.0, 15.0)),
    # v9: where the real posterior and lateral annulus lie in the scorer's frame (LIDC-IDRI-0001 / -0003, eye-placed:
    # docs/landmarks/mitral_annulus.csv; bench/mitral_geometry.py): about level with the found pericardial sac's
    # centroid (posterior -9..+1 mm, lateral -1..+13 mm above it), not v8's 14-30 mm below it. On the phantom heart
    # that is above the LCX's groove height (u more basal), round the lateral / posterolateral wall, shallower
    "v9": MacGeometry(u=(-0.66, -0.54), phi_c=(70.0, 110.0), span=(40.0, 120.0), phi_limits=(50.0, 140.0),
                      depth_mm=(3.0, 8.0)),
}
"""Per anatomy version (cacscore phantom --anatomy). v8 and before: the LCX's AV-groove height a little toward the
base, laterally to posteriorly, 9-15 mm deep. v9: see docs/phantom.md, "Where the mitral annulus lies (v9)"."""


def mac_geometry(version: str) -> MacGeometry:
    """The MAC geometry anatomy ``version`` draws (anatomy.VERSION_FEATURES' mac: v10-v13 draw v9's)."""
    return MAC_GEOMETRY[features(version).mac]


def draw_cardiac_calcium(anat: Anatomy, vessel_points: np.ndarray, rng: np.random.Generator, *,
                         version: str = ANATOMY_VERSION, p_mac: float | None = None) -> tuple[Blob, ...]:
    """Aortic valve calcium (from the anatomy) and, in P_MAC of patients (``p_mac``, a training knob), mitral
    annular calcification.

    ``vessel_points``: (n, 3) all coronary centreline points (x, y, z) mm. The MAC is a chain of
    spheres (radius 1.2-3.2 mm, 300-1100 HU) along an arc of the left AV plane (mac_geometry(version); v8: up to
    150 degrees within 45-195 degrees from anterior toward the patient's left, centred laterally to posteriorly,
    9-15 mm inside the heart's surface, the LCX running 2.5 mm outside it).

    v8's draws are made from ``rng`` for every version, so what is drawn after (nodes, granulomas) is the same; a
    later version redraws the band's place from a stream spawned from ``rng`` (which leaves ``rng`` as it is) and
    keeps v8's thickness and density. p_mac changes which patients have MAC and so, for those, the draws after it.
    """
    blobs = [Blob((float(x), float(y), float(z)), float(r), float(hu), "aortic_valve")
             for x, y, z, r, hu in anat.valve_calc]
    if rng.random() < (P_MAC if p_mac is None else p_mac):
        band, thick, hu = _mac_band(anat, MAC_GEOMETRY["v8"], rng)
        if features(version).mac != "v8":
            band, _, _ = _mac_band(anat, mac_geometry(version), rng.spawn(1)[0], thick_hu=(thick, hu))
        blobs += band
    return tuple(_keep_clear(blobs, vessel_points))


def _mac_band(anat: Anatomy, g: MacGeometry, rng: np.random.Generator,
              thick_hu: tuple[float, float] | None = None) -> tuple[list[Blob], float, float]:
    """The MAC's spheres at geometry g, their thickness and HU (drawn in v8's order: u, arc centre, span, depth,
    thickness, HU, then per sphere; thick_hu given: those two not drawn)."""
    u = float(rng.uniform(*g.u))
    # the mitral annulus is the LEFT half of the AV plane (phi 0 = anterior, 90 = patient left,
    # 180 = posterior; the right half, phi < 0 or > 200, is the tricuspid annulus where the RCA runs)
    phi_c, span = float(rng.uniform(*g.phi_c)), float(rng.uniform(*g.span))
    phi_lo, phi_hi = max(phi_c - span / 2, g.phi_limits[0]), min(phi_c + span / 2, g.phi_limits[1])
    depth = float(rng.uniform(*g.depth_mm))
    thick, hu = thick_hu if thick_hu is not None else (float(rng.uniform(*MAC_THICK_MM)), float(rng.uniform(*MAC_HU)))
    # the annulus circumference is ~ 2 pi x 45 mm x sqrt(1 - u^2)
    arc_mm = np.deg2rad(phi_hi - phi_lo) * float(np.mean(anat.heart_semi[1:])) * np.sqrt(1 - u * u)
    radii, hus = mac_lumps(rng, arc_mm, thick, hu)
    n = len(radii)
    phis = np.linspace(phi_lo, phi_hi, n)
    pts = heart_surface(anat, np.full(n, u), phis, np.full(n, -depth))
    return [Blob(tuple(float(v) for v in p), float(r), float(h), "mitral_annulus")
            for p, r, h in zip(pts, radii, hus)], thick, hu


def mac_lumps(rng: np.random.Generator, arc_mm: float, thick_mm: float, hu: float) -> tuple[np.ndarray, np.ndarray]:
    """The MAC band along an arc of arc_mm: (n,) sphere radii (mm) and (n,) HU of spheres a radius (thick_mm) apart,
    a lumpy band whose thickness and density vary along it. Shared by the phantom (draw_cardiac_calcium) and the
    hybrid cases' MAC on real anatomy (cacscore.phantom.hybrid.mitral_annulus_blobs)."""
    n = max(int(arc_mm / thick_mm) + 1, 2)
    radii = np.clip(thick_mm * rng.uniform(0.6, 1.25, n), 0.8, 4.0)
    hus = np.clip(hu * rng.uniform(0.75, 1.2, n), 200, 1400)
    return radii, hus


def draw_nodal_calcium(anat: Anatomy, vessel_points: np.ndarray, rng: np.random.Generator) -> tuple[Blob, ...]:
    """Calcified lymph nodes (P_NODES of patients, 1-3 nodes) and lung granulomas (P_GRANULOMA, 1-4).

    A node is a soft-tissue sphere (radius 4-7 mm, 40 HU) with a calcified core (radius 1.5-4 mm,
    250-950 HU) at one of the classic stations, placed from the anatomy of anatomy.render_background
    (trachea, carina, aortic arch, pulmonary arteries). A granuloma is a 1-2.8 mm sphere of 300-1000 HU
    in the lung field. Nodes inside the heart (+5 mm) are dropped.
    """
    (cx, cy), (ca, cb) = anat.cav_c, anat.cav_ab
    zd = anat.z_dome_mm
    root = anat.aorta_root
    arch_z = zd + anat.t_arch
    carina = carina_z(anat)
    tr_y = anat.spine_c[1] - anat.spine_r - 14
    zpa = float(anat.pa_bif[2]) if anat.pa_bif is not None else root[2] + 40
    stations = {
        "subcarinal": (cx + rng.normal(0, 3), tr_y + 6, carina - rng.uniform(12, 25)),
        "ap_window": (cx + rng.uniform(20, 28), tr_y - rng.uniform(6, 12), 0.5 * (arch_z + zpa) + rng.uniform(-4, 4)),
        "right_paratracheal": (cx - rng.uniform(14, 18), tr_y - rng.uniform(0, 6), carina + rng.uniform(5, 30)),
        "left_hilar": (cx + 0.42 * ca - rng.uniform(8, 14), cy - 0.05 * cb + rng.uniform(6, 12), zpa - rng.uniform(5, 15)),
        "right_hilar": (cx - 0.42 * ca + rng.uniform(8, 14), cy - 0.05 * cb + rng.uniform(6, 12), zpa - rng.uniform(5, 15)),
    }
    blobs: list[Blob] = []
    if rng.random() < P_NODES:
        names = list(stations)
        for k in rng.choice(len(names), size=int(rng.integers(1, 4)), replace=False):
            centre = np.array(stations[names[int(k)]], float)
            r_node = float(rng.uniform(4, 7))
            r_core = float(min(rng.uniform(1.5, 4.0), r_node - 1))
            core = centre + rng.normal(0, 0.8, 3)
            q = ((centre - anat.heart_c) @ anat.heart_axes.T) / (anat.heart_semi + 5 + r_node)
            if float((q ** 2).sum()) < 1:  # inside the pericardium: not a node's place
                continue
            blobs.append(Blob(tuple(float(v) for v in centre), r_node, HU["muscle"] - 10, "lymph_node"))
            blobs.append(Blob(tuple(float(v) for v in core), r_core, float(rng.uniform(250, 950)), "lymph_node"))
    if rng.random() < P_GRANULOMA:
        for _ in range(int(rng.integers(1, 5))):
            side = float(rng.choice([-1.0, 1.0]))
            # mid-lung: lateral to the hila, between the domes and the apices
            x = cx + side * ca * rng.uniform(0.55, 0.85)
            y = cy + cb * rng.uniform(-0.45, 0.45)
            z = zd + rng.uniform(25, anat.t_apex - 40)
            blobs.append(Blob((float(x), float(y), float(z)), float(rng.uniform(1.0, 2.8)),
                              float(rng.uniform(300, 1000)), "lung_granuloma"))
    # each blob is checked on its own: a node's core can stay where its larger soft-tissue sphere is dropped
    return tuple(_keep_clear(blobs, vessel_points))


def blob_fractions(grid: Grid, blobs: tuple[Blob, ...] | list[Blob]):
    """(blob, box, fraction) for every blob that meets ``grid`` (supersampled 2 x 2 in-plane)."""
    out = []
    for b in blobs:
        r = b.radius_mm
        res = ellipsoid_fraction(grid, np.array(b.centre_mm), np.eye(3), np.array([r, r, r]), supersample=2)
        if res is not None:
            out.append((b, res[0], res[1]))
    return out


def paint_blobs(images: list[np.ndarray], grid: Grid, blobs: tuple[Blob, ...] | list[Blob], *, kvp: float,
                bright: np.ndarray, only_where_lung: bool = True, anatomy_lab: np.ndarray | None = None,
                before_paint=None) -> None:
    """Paint static blobs (nodes, granulomas) into every array of ``images`` (same grid) in place.

    Calcium is 10 % brighter at 100 kVp. ``bright`` is set wherever calcium touches. A granuloma
    whose centre voxel (in ``images[0]``) is not lung (< -500 HU) is not painted when
    ``only_where_lung`` (the drawn position fell on a vessel, the heart or the chest wall).
    ``before_paint(box)``, when given, is called with each blob's box just before it is painted (as
    coronary.render_heart's: the caller keeps a copy of what is there, without computing the fractions twice).
    """
    calc_k = kvp_calcium_factor(kvp)
    y0, x0 = grid.y_mm[0], grid.x_mm[0]
    for b, box, f in blob_fractions(grid, blobs):
        if only_where_lung and b.kind == "lung_granuloma":
            x, y, z = b.centre_mm
            k = int(np.searchsorted(grid.z_edges_mm, z) - 1)
            j, i = int(round((y - y0) / grid.px_mm)), int(round((x - x0) / grid.px_mm))
            nz, ny, nx = grid.shape
            if not (0 <= k < nz and 0 <= j < ny and 0 <= i < nx) or images[0][k, j, i] > -500:
                continue
        hu = b.hu * calc_k if b.calcified else b.hu
        if before_paint is not None:
            before_paint(box)
        for img in images:
            paint(img, box, f, hu)
        if anatomy_lab is not None:
            anatomy_lab[box][f >= (0.25 if b.calcified else 0.5)] = LABEL[b.kind]
        if b.calcified:
            bright[box] |= f > 0.001
