"""Heart, coronary arteries and calcified plaques: courses, the calcium draw and rendering.

Coronary courses follow the heart's (ventricular ellipsoid's) surface in its own frame
(anatomy.heart_frame: u along the long axis from base -1 to apex +1, phi around it: 0 toward the top
of the base (anterior-superior), +90 deg the left-posterior lateral wall, +-180 the diaphragmatic
surface, -90 the right ventricle's acute margin); the ostia sit on the aortic root in the top of the base:

- LCA (left main): from the left aortic sinus, nearly level, behind the pulmonary trunk, to the
  bifurcation in the left AV groove;
- LAD: anterior interventricular groove from the bifurcation to the apex;
- LCX: left atrioventricular groove, around the left side toward the back;
- RCA: from the right sinus along the right AV groove to the crux, sometimes on as the PDA.

Plaques are uniform-density ellipsoids (diameter 0.5-6 mm, elongated along the vessel, material
130-1500 HU) sitting in the wall. Their number and size are drawn score-first
(:func:`draw_calcium`): a target Agatston score per vessel from a COCA-like distribution, then
plaques whose estimated score adds up to it; the truth is always what the rendering gives.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage, stats

from cacscore.phantom.anatomy import (ANATOMY_VERSION, HU, LABEL as ANATOMY_LABEL, PERICARDIUM_REACH_MM, Anatomy, features,
                                     heart_surface,
                                     kvp_calcium_factor, ventricle_shapes)
from cacscore.phantom import heart_v22
from cacscore.phantom.noncoronary import Blob, blob_fractions
from cacscore.phantom.plaque_table import TABLES as PLAQUE_TABLES
from cacscore.phantom.raster import Grid, ellipsoid_fraction, paint
from cacscore.core.vessels import LABEL_OF, VESSELS

# COCA: 43% of scans total 0; vessel non-zero shares LCA 17%, LAD 53%, LCX 29%, RCA 37%.
# Fitted on RENDERED truth at 512 (bench/bench_phantom.py --cohort 200): a few calcified patients
# render to 0 (their marginal anchor plaque vanishes), hence P_CALCIFIED above 0.57. Refit on v3 (issue 15:
# per-thickness plaque table, seed 150): 6.9 % of the drawn-calcified render to 0, so 0.57 / 0.931 = 0.612.
P_CALCIFIED = 0.61
LOG_MEDIAN_TOTAL = float(np.log(75.0))  # non-zero targets: log-normal, median 75, log-sd 2.3
LOG_SD_TOTAL = 2.3
P_VESSEL_GIVEN_CALCIFIED = {"LCA": 0.3, "LAD": 0.93, "LCX": 0.56, "RCA": 0.7}
VESSEL_SHARE = {"LCA": 0.25, "LAD": 1.0, "LCX": 0.6, "RCA": 0.95}
RADIUS_MM = {"LCA": (2.1, 2.0), "LAD": (1.8, 0.8), "LCX": (1.65, 0.9), "RCA": (1.9, 1.0)}
FAT_SHEATH_MM = 4.0
"""v5's fat sheath round every coronary (mm); v6 draws it per patient and varies it along the vessel (sheath_profile)."""
SHEATH_ONSET = {"LCA": (2.0, 3.0), "LAD": (0.2, 1.6), "LCX": (0.12, 0.45), "RCA": (0.45, 0.72)}
"""Where (fraction of the vessel's length) the sheath starts thinning from the proximal groove's thickness and where it
reaches the thin one (beyond 1: never). The LAD only reaches half way by its end (the anterior groove keeps some fat);
the LCX thins on the lateral wall, the RCA toward the crux and stays thin along the PDA."""
COLLAR_MM = 3.0
"""Myocardium painted against the vessel's heart side where its sheath is thin (below COLLAR_BELOW_MM): the vessel then
lies on the muscle, as on real CT, instead of floating in the 5 mm epicardial fat layer and the groove rings."""
COLLAR_BELOW_MM = 2.0
BED_BEFORE_CRUX_MM = 25.0
"""v7: the crux bed (bed_profile) starts this far (arc length) before the crux, on the lower RCA's inferior AV groove."""
BED_LCX_FROM = 0.6
"""v7: ... and on the LCX from this fraction of its length (the posterior AV groove, beside the coronary sinus)."""
PERICARDIUM_OUT_MM = 5.0
"""Epicardial fat between the myocardium and the pericardium (mm; thicker in the grooves, see render_heart)."""
PERICARDIUM_MM = 1.5
VESSEL_OUT_MM = 2.5
"""The coronaries' centrelines run this far outside the myocardium (vessel_centrelines)."""
assert PERICARDIUM_OUT_MM + PERICARDIUM_MM == PERICARDIUM_REACH_MM
CALCIUM_LABEL = {"aortic_valve": "aortic_valve_calcium", "mitral_annulus": "mitral_annulus_calcium",
                 "lymph_node": "lymph_node", "lung_granuloma": "lung_granuloma"}
LABEL_MARGIN_MM = 3.0
D_EDGES_MM = np.geomspace(0.5, 6.0, 13)
"""Diameter bins of the rendered-plaque calibration table (plaque_table.py)."""
HU_EDGES = np.linspace(130.0, 1500.0, 9)
"""Material-HU bins of the rendered-plaque calibration table."""


@dataclass(frozen=True)
class Vessel:
    """One coronary centreline: points (n, 3) patient mm (x, y, z), radius (n,) lumen radius mm."""

    name: str
    points: np.ndarray
    radius: np.ndarray
    crux: int = -1
    """Index of the crux on this centreline (-1: the vessel does not reach it)."""

    def arc_mm(self) -> np.ndarray:
        """(n,) arc length (mm) from the first centreline point to each point."""
        return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(self.points, axis=0), axis=1))])


@dataclass(frozen=True)
class PlaqueSpec:
    """A plaque before placement: vessel, position along it (0..1), size (mm), material HU, estimate."""

    vessel: str
    s_frac: float
    diameter_mm: float
    length_mm: float
    hu: float
    est_score: float


@dataclass(frozen=True)
class Plaque:
    """A placed plaque: ellipsoid centre (x, y, z) mm, axes (3, 3) rows, semi-axes (3,) mm, material HU."""

    vessel: str
    centre: np.ndarray
    axes: np.ndarray
    semi: np.ndarray
    hu: float


def _weight(peak: np.ndarray) -> np.ndarray:
    return np.where(peak >= 400, 4, np.where(peak >= 300, 3, np.where(peak >= 200, 2, np.where(peak >= 130, 1, 0))))


def analytic_plaque_score(diameter_mm: np.ndarray, length_mm: np.ndarray, hu: np.ndarray,
                          *, slice_mm: float = 5.0) -> np.ndarray:
    """Slab-average approximation of a plaque's Agatston score in a non-gated 5 mm scan (no rendering).

    Superseded by estimate_plaque_score (measured on rendered plaques); kept as the baseline that
    bench/calibrate_plaques.py compares with: it over-predicts small, faint plaques.

    The slab average over a column at normalised radius r is hu * D * sqrt(1 - r^2) / slice (times
    0.8 for an average slab position); the area above 130 HU times the weight of the peak, times
    slice / 3 mm, times the number of slabs for thick plaques.
    """
    d = np.asarray(diameter_mm, float)
    ln = np.asarray(length_mm, float)
    h = np.asarray(hu, float)
    chord = 0.8 * np.minimum(d, slice_mm)
    peak = h * chord / slice_mm
    q = np.where(peak > 0, 130.0 / np.maximum(peak, 1e-6), np.inf)
    area = np.pi / 4 * ln * d * np.clip(1 - q ** 2, 0, None)
    return area * _weight(peak) * (slice_mm / 3.0) * np.maximum(1.0, d / slice_mm)


P_ANCHOR_VISIBLE = 0.7
"""The largest plaque of an involved vessel scores > 0 with at least this rendered probability."""
_D_CENTRES = np.sqrt(D_EDGES_MM[:-1] * D_EDGES_MM[1:])
_HU_CENTRES = 0.5 * (HU_EDGES[:-1] + HU_EDGES[1:])


def _table_key(k) -> tuple[int, float]:
    """plaque_table keys: (size, slice mm); a bare size is a 5 mm table (as calibrated before issue 15's v3)."""
    return (int(k[0]), float(k[1])) if isinstance(k, tuple) else (int(k), 5.0)


def _calibration(size: int, slice_mm: float = 5.0) -> dict:
    """The rendered-plaque table calibrated nearest to ``size`` (pixel spacing) and ``slice_mm`` (both in log):
    thin slices lose less of a small plaque to partial volume, so they need their own table."""
    def dist(k) -> float:
        s, t = _table_key(k)
        return abs(np.log(s / size)) + abs(np.log(t / slice_mm))

    return PLAQUE_TABLES[min(PLAQUE_TABLES, key=dist)]


def _interp_table(table: list, diameter_mm: np.ndarray, hu: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of a (diameter bin, HU bin) table at bin centres (log diameter, HU), clamped."""
    t = np.asarray(table, float)
    fi = np.interp(np.log(np.asarray(diameter_mm, float)), np.log(_D_CENTRES), np.arange(len(_D_CENTRES)))
    fj = np.interp(np.asarray(hu, float), _HU_CENTRES, np.arange(len(_HU_CENTRES)))
    i0 = np.minimum(np.floor(fi).astype(int), len(_D_CENTRES) - 2)
    j0 = np.minimum(np.floor(fj).astype(int), len(_HU_CENTRES) - 2)
    wi, wj = fi - i0, fj - j0
    return ((1 - wi) * (1 - wj) * t[i0, j0] + wi * (1 - wj) * t[i0 + 1, j0]
            + (1 - wi) * wj * t[i0, j0 + 1] + wi * wj * t[i0 + 1, j0 + 1])


def estimate_plaque_score(diameter_mm: np.ndarray, length_mm: np.ndarray, hu: np.ndarray,
                          *, size: int = 512, slice_mm: float = 5.0) -> np.ndarray:
    """Expected rendered Agatston score of one plaque (``slice_mm`` slabs, ``size`` pixels over the chest FOV).

    diameter_mm, length_mm, hu: broadcastable arrays (plaque diameter and length along the vessel in
    mm, material HU at 120 kVp). The mean rendered score per unit elongation (length / diameter) is
    interpolated from the table measured on rendered plaques in context by
    bench/calibrate_plaques.py (plaque_table.py), times the elongation.
    """
    d = np.clip(np.asarray(diameter_mm, float), 0.05, None)
    per = _interp_table(_calibration(size, slice_mm)["mean_score_per_elongation"], d, hu)
    return np.maximum(per, 0.0) * np.asarray(length_mm, float) / d


def plaque_visibility(diameter_mm: np.ndarray, hu: np.ndarray, *, size: int = 512, slice_mm: float = 5.0) -> np.ndarray:
    """Probability (0..1) that a rendered plaque scores > 0 at all (same table source as estimate_plaque_score)."""
    return _interp_table(_calibration(size, slice_mm)["p_visible"], np.clip(np.asarray(diameter_mm, float), 0.05, None), hu)


@dataclass(frozen=True)
class Prevalence:
    """How often coronary calcium is drawn: a training knob (``cacscore phantom --p-calcified / --p-vessel-floor``).

    The defaults are the COCA-calibrated draw (P_CALCIFIED, P_VESSEL_GIVEN_CALCIFIED). Why a knob: the shipped
    candidate scorer learned from 200 calibrated patients that hold only 1,393 coronary candidates beside 3.6 M
    non-coronary ones, 69 of them left main (training_report.json of seed 13001), and its largest held-out errors are
    branch mix-ups near the left main (docs/model_card.md, session 17). A training release may draw more calcified
    patients (``p_calcified``) and involve each vessel at least this often (``p_vessel_floor``); a test release keeps
    the defaults, so the truth's distribution stays COCA's where it is measured."""
    p_calcified: float = P_CALCIFIED
    p_vessel_floor: float = 0.0

    def __post_init__(self) -> None:
        for name in ("p_calcified", "p_vessel_floor"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")


def draw_calcium(rng: np.random.Generator, *, size: int = 512, slice_mm: float = 5.0,
                 prevalence: Prevalence = Prevalence()) -> list[PlaqueSpec]:  # noqa: B008 - frozen
    """Draw one patient's coronary plaques, score-first (the score-distribution model; no rendering).

    A patient is calcified with probability P_CALCIFIED; its total target is log-normal; vessels
    are involved with probabilities rising with the burden (at least one); the target is split
    among them and each vessel gets plaques whose expected rendered scores at ``size``
    (estimate_plaque_score) add up to its share. The largest plaque of an involved vessel scores
    > 0 when rendered with probability >= P_ANCHOR_VISIBLE. Only the plaque sizes depend on
    ``size`` (so that the same patient has about the same score at any size); the random stream,
    the targets, materials and positions do not. ``prevalence``: a training knob (:class:`Prevalence`); with its
    defaults every draw is the calibrated one; otherwise the same draws decide more patients / vessels calcified.
    """
    if rng.random() >= prevalence.p_calcified:
        return []
    zlat = rng.normal()
    total = float(np.clip(np.exp(LOG_MEDIAN_TOTAL + LOG_SD_TOTAL * zlat), 1.5, 9000.0))
    involved = []
    for v in VESSELS:
        p = P_VESSEL_GIVEN_CALCIFIED[v]
        logit = np.log(p / (1 - p)) + 1.1 * zlat
        if rng.random() < max(1 / (1 + np.exp(-logit)), prevalence.p_vessel_floor):
            involved.append(v)
    if not involved:
        involved = ["LAD" if rng.random() < 0.75 else "RCA"]
    w = np.array([VESSEL_SHARE[v] * rng.gamma(1.5) for v in involved])
    targets = total * w / w.sum()
    specs: list[PlaqueSpec] = []
    ds = np.linspace(0.5, 6.0, 56)
    for v, target in zip(involved, targets):
        n = int(min(1 + rng.poisson(target / 90.0), 40))
        shares = target * rng.dirichlet(np.full(n, 1.2))
        shares[::-1].sort()
        for i, s in enumerate(shares):
            hu = float(rng.uniform(350, 1500) if i == 0 else rng.uniform(130, 1500))
            elong = rng.uniform(1.0, 2.5)
            ls = np.clip(ds * elong, 0.5, None)
            est = estimate_plaque_score(ds, ls, np.full_like(ds, hu), size=size, slice_mm=slice_mm)
            if i == 0:  # the anchor plaque is visible
                ok = plaque_visibility(ds, np.full_like(ds, hu), size=size, slice_mm=slice_mm) >= P_ANCHOR_VISIBLE
                est = np.where(ok | (ds == ds[-1]), est, np.inf)
            if s > est[-1] and est[-1] > 0:  # big share: a long calcified segment
                length = float(min(ls[-1] * s / est[-1], 25.0))
                d = 6.0
            else:
                j = int(np.argmin(np.abs(est - s)))
                d, length = float(ds[j]), float(ls[j])
            specs.append(PlaqueSpec(vessel=v, s_frac=float(np.clip(rng.beta(1.3, 2.2), 0.02, 0.97)),
                                    diameter_mm=d, length_mm=length, hu=hu,
                                    est_score=float(estimate_plaque_score(d, length, hu, size=size,
                                                                          slice_mm=slice_mm))))
    return specs


def _resample(points: np.ndarray, step_mm: float) -> np.ndarray:
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(int(s[-1] / step_mm) + 1, 2)
    si = np.linspace(0, s[-1], n)
    return np.stack([np.interp(si, s, points[:, k]) for k in range(3)], axis=1)


V10_GROOVE = {"u": (-0.82, -0.68), "rise_deg": (20.0, 35.0), "lcx_end_deg": (75.0, 95.0), "fall_deg": (35.0, 55.0)}
"""v10: the AV groove's height (u, the long axis from base -1 to apex +1) on the lateral / posterior left and the right
side, reached this far (deg round the long axis) from the left main's bifurcation / the RCA's start and left this far
before the crux (so the crux, the left main's bifurcation and the LAD stay v8's), and where a right-dominant LCX ends
(deg). v8's groove (u -0.50..-0.38 all round) put the LCX's middle at the found pericardial sac centroid's height
(median over 24 patients of seed 9101: 0 mm) where the real one lies 4..34 mm above it (median 22); v10: 17. Tuned with
bench/mitral_geometry.py (docs/phantom.md, "Anatomy v10")."""
V10_STREAM = 21
"""The v10 draws' own stream (numpy default_rng([anat.lung_texture_seed, V10_STREAM])): every other draw is unchanged."""


V11_LCX_SHEATH_MM = (2.5, 4.0)
"""v11: the LCX's fat sheath (mm beyond the lumen), one per patient, held along the whole vessel (with a slow waviness,
V11_WAVE_MM; where v9's own sheath is thicker, proximally, v9's): the real LCX runs in the fat of the left AV groove
next to the great cardiac vein / coronary sinus, and the 1-4 mm ring round its plaques is mostly fat on real series (docs/phantom.md, "Anatomy v11":
bench/lcx_groove_tissue.py), where v6-v10 thin its sheath to 0-1 mm from 12-45 % of its length on, lay it on a
myocardium collar and, from 60 % on, on the crux bed (soft tissue on the outer side too)."""
V11_WAVE_MM = 0.5
"""v11: the half-amplitude of the LCX sheath's waviness along the vessel (mm)."""
V11_STREAM = 22
"""The v11 draws' own stream (numpy default_rng([anat.lung_texture_seed, V11_STREAM])): every other draw is unchanged."""


def v11_lcx_sheath(anat: Anatomy) -> float:
    """One patient's v11 LCX fat sheath (mm; V11_LCX_SHEATH_MM), from its own stream."""
    return float(np.random.default_rng([anat.lung_texture_seed, V11_STREAM]).uniform(*V11_LCX_SHEATH_MM))


def _smooth(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def v10_groove(anat: Anatomy) -> dict[str, float]:
    """One patient's v10 groove (V10_GROOVE), from its own stream."""
    xr = np.random.default_rng([anat.lung_texture_seed, V10_STREAM])
    return {k: float(xr.uniform(*V10_GROOVE[k])) for k in ("u", "rise_deg", "lcx_end_deg", "fall_deg")}


V12_PHI_B = (5.0, 25.0)
"""v12: the range (deg round the long axis from e2 toward e3) of the left main's bifurcation on the AV groove (v8-v11:
30-50); the same uniform draw mapped onto it (every later draw unchanged). The LAD leaves 15 deg before it, the LCX
runs on from it (docs/phantom.md, "Anatomy v12")."""


V21_BLEND_MM = 15.0
"""v21: the LAD and the LCX leave the moved bifurcation and join their v11 courses over this length (mm along them)."""
V23_P_LEAN = 0.5
"""v23: share of patients with a lean heart (V23_EPI_FAT_MM, V23_SHEATH_MM); the others keep v21's fat. Measured
(session 26, bench/groove_context.py): the in-plane 24 mm box round the eye-anchored courses of the real series holds
fat 0.07 (p10-p90 0.03-0.26) round LIDC-IDRI-0002's RCA, 0.12 (0.07-0.24) round 0003's, 0.16 / 0.11 round 0002's LAD /
LCX; round the coronary candidates v11 trains on (the shipped model's data): RCA 0.34 (0.17-0.45), LAD 0.39, LCX 0.32,
so no phantom RCA is as lean as 0002's, and what the models learn from the 24 mm box does not hold there (docs/model_card.md,
"Session 25 (lead, development)"). Half the patients lean, not all: 0001's RCA box holds 0.34 (as v11)."""
V23_EPI_FAT_MM = (1.0, 2.5)
"""v23: a lean heart's epicardial fat (mm between the myocardium and the pericardium; v4-v22: PERICARDIUM_OUT_MM, 5
mm): render_heart paints the myocardium again, grown to this far under the pericardium, over the fat layer and the
groove rings and wedges (the heart's outline and the pericardium stay where they are drawn)."""
V23_SHEATH_MM = (1.0, 2.0)
"""v23: a lean heart's coronary fat sheaths (mm beyond the lumen): the proximal sheath (v6: 2.0-4.5) and the LCX's
(v11: 2.5-4.0) drawn from this range instead; the thin sheath (v6: 0-1) stays."""
V23_STREAM = 27
"""The v23 draws' own stream (numpy default_rng([seed, pid, V23_STREAM])): every other draw is v21's."""


def v23_lean(rng: np.random.Generator) -> dict | None:
    """One patient's v23 draws (Anatomy fields to replace) from its own stream; None: not lean (v21's heart)."""
    u, fat, prox, lcx = rng.random(), rng.uniform(*V23_EPI_FAT_MM), rng.uniform(*V23_SHEATH_MM), rng.uniform(*V23_SHEATH_MM)
    if u >= V23_P_LEAN:
        return None
    return {"epi_lean_mm": float(fat), "sheath_prox_mm": float(prox), "lcx_sheath_mm": float(lcx)}


V21_LM_OSTIUM_SHEATH_MM = (0.2, 1.0)
"""v21: the left main's fat sheath at its ostium (mm; one draw per patient from the v21 stream), rising smoothly to the
patient's sheath at the bifurcation. Measured (docs/phantom.md, "(session 24, wt32a)"): round the real left main's
ostium the 8 mm box holds 0.00 / 0.36 / 0.01 fat (LIDC-IDRI-0001 / 0002 / 0003), the 24 mm box 0.00 / 0.16 / 0.23;
v11's: 0.72 (p10-p90 0.41-0.87) and 0.38 (0.25-0.47): v11 sheathes the left main in 2-4.5 mm of fat up to the aortic
wall, where the real one leaves the sinus between the aorta, the pulmonary trunk and the left atrium."""


V24_LCX_LEAVE_MM = 20.0
"""v24: the LCX leaves its v23 course at the bifurcation and reaches the heart's outline over this length (mm).
Measured (session 27, bench/lcx_course_picture.py and the eye-placed courses of docs/hybrid_landmarks.json against the
aortic root at the sinuses): the real LCX reaches 62 / 52 / 53 mm left of the root (LIDC-IDRI-0001 / 0002 / 0003), 21-30
mm left of its bifurcation, at 40-67 % of its course, at the heart's left border against the lung; v23's (12 patients
of seed 14962) reaches 23-44 mm left of the root, 0-15 mm left of its bifurcation, in the crease between the ventricle
and the left atrium, which bulges beyond the ventricle there."""
V24_LA_E3 = (0.2, 0.5)
"""v24: the left atrium's ellipsoid (atria) centred this far along e3 with this semi-axis there (x the heart's semi[2];
v4-v23: 0.45, 0.6, which reaches 1.05 semi[2] toward the left-posterior wall, beyond the ventricle at the groove)."""
V24_LA_BODY_X = (0.0, 26.0)
"""v24: the left atrial body's centre this far left of the root-spine midpoint (mm) and its half-width cap (mm; v5-v23:
8, 34): v23's reached past the left ventricle's base, so the LCX lay in the crease between them (session 27)."""
V24_LV_BASE_REACH_MM = (12.0, 22.0)
"""v24: how far (mm, one draw per patient from the v24 stream) the left ventricle's base bulges beyond the AV ring on
its left side (v24_lv_base), less where the descending aorta is near. Measured (session 27): the real LCX runs 52-62 mm
left of the aortic root at the sinuses, on the heart's left border; v4-v23's AV ring reaches 23-44 mm (its centre lies
near the root's x, where the real mitral annulus, which the LCX wraps, lies left-posterior of the aortic valve)."""
V24_LV_BASE_SEMI = 0.55
"""v24: the bulge's radius in the AV plane, x the ring's radius toward it; along the long axis 0.3 x semi[0]."""
V24_AORTA_GAP_MM = 6.0
"""v24: the bulge keeps this far (in-plane, mm) from the descending aorta's wall: its reach is cut to keep it."""
V24_STREAM = 28
"""The v24 draws' own stream (numpy default_rng([seed, pid, V24_STREAM])): every other draw is v23's."""
V24_LEFT_BIAS = 1.0
"""v24: the push's direction is the AV ring's in-plane outward normal plus this much of the patient's left (+x)."""
V24_SMOOTH_MM = 4.0
"""v24: the LCX's push to the border is smoothed along it (Gaussian sigma, mm) so that a step of the outline between
the ventricle and an atrium does not kink the vessel."""


def av_groove_u(anat: Anatomy, vessels: dict[str, Vessel]) -> float:
    """The AV groove's u (the long axis, base -1 to apex +1) that the atria and the groove's fat ring are built at:
    v24's kept groove_u, else the mean u of the LCX's course past the bifurcation (-0.45 without an LCX)."""
    if anat.groove_u is not None:
        return anat.groove_u
    if "LCX" not in vessels:
        return -0.45
    return float(np.mean((vessels["LCX"].points[1:] - anat.heart_c) @ anat.heart_axes[0]) / anat.heart_semi[0])


def heart_outline_shapes(anat: Anatomy, u_av: float) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(centre, semi-axes, axes) of every ellipsoid of the heart's outline that render_heart paints, in its order (the
    ventricles, the atria, v5's left atrial body, v24's left ventricular base last; v22's right ventricle is not one
    of them)."""
    ax = anat.heart_axes
    shapes = [(c, sm, ax) for c, sm in (*ventricle_shapes(anat.heart_c, ax, anat.heart_semi), *atria(anat, u_av))]
    body = left_atrial_body(anat)
    shapes += [(body[0], body[1], np.eye(3))] if body is not None else []
    return shapes + ([(np.array(anat.lv_base[0]), np.array(anat.lv_base[1]), ax)] if anat.lv_base is not None else [])


def v24_lv_base(anat: Anatomy, u_av: float, reach_mm: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """v24: (centre (x, y, z), semi-axes in the heart's frame) of the left ventricle's base bulge: an ellipsoid on the
    AV ring at u_av, toward the ring's leftmost direction, reaching ``reach_mm`` beyond the ring there (less where the
    descending aorta comes within V24_AORTA_GAP_MM of it), so that the heart's base is as wide on the left as a real
    one and the LCX (v24_lcx_border) runs on the heart's left border."""
    a, b, c = (float(x) for x in anat.heart_semi)
    _, e2, e3 = anat.heart_axes
    w = float(np.sqrt(max(1.0 - u_av ** 2, 0.05)))
    phi = np.arctan2(e3[0], e2[0])  # the ring's in-plane direction with the largest x (the patient's left)
    n = np.cos(phi) * e2 + np.sin(phi) * e3
    ring_r = 1.0 / np.sqrt((np.cos(phi) / (b * w)) ** 2 + (np.sin(phi) / (c * w)) ** 2)
    s = V24_LV_BASE_SEMI * ring_r
    c_av = anat.heart_c + u_av * a * anat.heart_axes[0]
    dc = np.asarray(anat.desc_c, float)
    for _ in range(40):  # cut the reach in 1 mm steps until clear of the descending aorta
        centre = c_av + (ring_r + reach_mm - s) * n
        gap = float(np.hypot(*(centre[:2] - dc))) - s - anat.desc_r
        if gap >= V24_AORTA_GAP_MM or reach_mm <= 0.0:
            break
        reach_mm -= 1.0
    return tuple(float(x) for x in centre), (0.3 * a, s, s)


def _inside_outline(pts: np.ndarray, shapes: list, floor_z: float) -> np.ndarray:
    """(n,) whether each point lies inside any of ``shapes`` (above the heart's flat floor)."""
    inside = np.zeros(len(pts), bool)
    for c, sm, ax in shapes:
        inside |= (((pts - c) @ ax.T / sm) ** 2).sum(axis=1) <= 1.0
    return inside & (pts[:, 2] >= floor_z)


def _border_points(anat: Anatomy, pts: np.ndarray, shapes: list, out_mm: float) -> np.ndarray:
    """Each point moved, in its own axial plane, along the in-plane part of the heart frame's outward direction at
    its phi (cos phi e2 + sin phi e3, the AV ring's outward normal) to ``out_mm`` beyond the outermost point of the
    heart's outline on that line (searched from 30 mm inward to 40 mm outward of it; unchanged where the line meets no
    heart). Marched, not solved: the outline is a union of ellipsoids cut by a floor (0.5 mm steps)."""
    _, e2, e3 = anat.heart_axes
    loc = pts - anat.heart_c
    phi = np.arctan2(loc @ e3, loc @ e2)
    d = np.cos(phi)[:, None] * e2 + np.sin(phi)[:, None] * e3
    d[:, 2] = 0.0
    d /= np.linalg.norm(d, axis=1, keepdims=True) + 1e-9
    d[:, 0] += V24_LEFT_BIAS
    d /= np.linalg.norm(d, axis=1, keepdims=True) + 1e-9
    r = np.arange(-30.0, 40.0, 0.5)
    probe = pts[:, None, :] + r[None, :, None] * d[:, None, :]
    inside = _inside_outline(probe.reshape(-1, 3), shapes, anat.heart_floor_z).reshape(len(pts), len(r))
    last = np.where(inside.any(axis=1), len(r) - 1 - np.argmax(inside[:, ::-1], axis=1), -1)
    moved = pts + (r[np.maximum(last, 0)] + out_mm)[:, None] * d
    return np.where((last >= 0)[:, None], moved, pts)


def v24_lcx_border(anat: Anatomy, lcx: Vessel, u_av: float, *, left_dominant: bool) -> Vessel:
    """v24: the LCX moved from the AV ring at u_av (v23) outward to the heart's outline where it lies beyond the
    ventricles (v24's base bulge, an atrium), so that it runs at the heart's left border against the lung as the real one does (see
    V24_LCX_LEAVE_MM): leaving the bifurcation over V24_LCX_LEAVE_MM; a left-dominant one back on its v23 course over
    its last 35 % (so that it reaches the crux). No draws: every course and plaque draw is v23's."""
    p = lcx.points
    arc = lcx.arc_mm()
    frac = arc / max(arc[-1], 1e-9)
    moved = _border_points(anat, p, heart_outline_shapes(anat, u_av), VESSEL_OUT_MM)
    step = max(float(np.median(np.diff(arc))), 1e-3)
    shift = ndimage.gaussian_filter1d(moved - p, V24_SMOOTH_MM / step, axis=0, mode="nearest")
    w = _smooth(arc / V24_LCX_LEAVE_MM)
    if left_dominant:
        w = w * (1.0 - _smooth((frac - 0.65) / 0.35))
    out = _resample(p + w[:, None] * shift, step)
    crux = int(np.argmin(np.linalg.norm(out - lcx.points[lcx.crux], axis=1))) if lcx.crux >= 0 else -1
    radius = np.interp(np.linspace(0, 1, len(out)), np.linspace(0, 1, len(p)), lcx.radius)
    return Vessel(lcx.name, out, radius, crux)


def _near_bif_back(course: np.ndarray, back: np.ndarray) -> np.ndarray:
    """v21: a branch's course (first point the bifurcation, already moved by ``back``) with its next points moved by
    ``back`` fading to 0 over V21_BLEND_MM of its length, so that it leaves the moved bifurcation smoothly and joins
    its v11 course. Unchanged when ``back`` is 0 (every version but v21)."""
    if not back.any():
        return course
    arc = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(course, axis=0), axis=1))]
    w = 1.0 - _smooth(arc / V21_BLEND_MM)
    out = course + w[:, None] * back
    out[0] = course[0]
    return out


def _groove_u(phis: np.ndarray, start: float, end: float, u_edge: float, g: dict[str, float], *,
              down_at_end: bool) -> np.ndarray:
    """v10: the groove's u at each phi of a course from ``start`` to ``end``: u_edge (v8's height) at the start,
    rising (toward the base) to g["u"] within g["rise_deg"], back down to u_edge over the last g["fall_deg"] when the
    course ends at the crux (``down_at_end``)."""
    up = _smooth(np.abs(phis - start) / g["rise_deg"])
    down = _smooth(np.abs(end - phis) / g["fall_deg"]) if down_at_end else np.ones_like(phis)
    return u_edge + (g["u"] - u_edge) * up * down


def vessel_centrelines(anat: Anatomy, rng: np.random.Generator, *, step_mm: float = 0.6,
                       version: str = ANATOMY_VERSION) -> dict[str, Vessel]:
    """Centrelines of LCA, LAD, LCX, RCA (dict in VESSELS order); the vessel that reaches the crux records its index.

    The random stream is the same in every anatomy version (the same draws in the same order), so the calcium draws
    after it are too. v7 (``anat.crux_phi_deg`` set): the RCA goes on round the diaphragmatic surface to a crux at
    crux_phi_deg (anatomy.CRUX_PHI_DEG, 118..142: posterior-inferior, past the frame's -e2 toward the LV; v6 stopped it at -165..-185,
    right of the heart's reference), the PDA runs from there down the inferior wall toward the apex, and the LCX of a
    right-dominant heart ends before the crux (v6's ended 120-190 deg, where v7's crux is); a left-dominant one (no
    PDA from the RCA, 20 %) has the LCX reach the crux and the RCA end on the inferior wall short of it.
    v10 (``version``): the LCX and the RCA leave v8's groove height toward the base (V10_GROOVE, from their own stream)
    and come back to it at the crux; a right-dominant LCX ends on the lateral wall; the left main and the LAD, the
    crux, the PDA and every draw of ``rng`` are v8's."""
    u_av = rng.uniform(-0.5, -0.38)
    feats = features(version)
    phi_b = rng.uniform(*(V12_PHI_B if feats.turned_heart else (30.0, 50.0)))  # v12: the same draw, mapped
    out = VESSEL_OUT_MM
    n = 80
    bif = heart_surface(anat, np.array([u_av]), np.array([phi_b]), np.array([out]))[0]
    back = np.array([0.0, anat.root_back_mm, 0.0])  # v21: the bifurcation moved back with the root (0 before)
    bif = bif + back
    root = anat.aorta_root + np.array([0, 0, rng.uniform(8, 14)])  # ostia above the annulus
    dl = bif - root
    dl[2] = 0
    ostium_l = root + anat.aorta_r * dl / (np.linalg.norm(dl) + 1e-9)
    lm = np.linspace(ostium_l, bif, 20)
    u = np.linspace(u_av, rng.uniform(0.85, 0.97), n)
    lad_phi = phi_b - 15 + rng.uniform(-6, 6) * np.sin(np.linspace(0, np.pi, n))
    lad = _near_bif_back(np.concatenate([[bif], heart_surface(anat, u, lad_phi, np.full(n, out))]), back)
    lcx_span = rng.uniform(90, 140)
    rca_end = -rng.uniform(165, 185)
    dominant = bool(rng.random() < 0.8)  # right dominant: the RCA gives the posterior descending branch
    pda_u = rng.uniform(0.2, 0.5) if dominant else None
    v7 = anat.crux_phi_deg is not None
    crux_phi = float(anat.crux_phi_deg) - 360.0 if v7 else rca_end  # (v7: reached going round from the right)
    lcx_end = phi_b + lcx_span
    if v7:  # right dominant: the LCX ends on the lateral / posterior wall, before the crux; left dominant: at it
        lcx_end = min(lcx_end, crux_phi + 360.0 - 25.0) if dominant else crux_phi + 360.0
    g = v10_groove(anat) if feats.raised_groove else None
    if g is not None and dominant:
        lcx_end = min(lcx_end, g["lcx_end_deg"])
    phis = np.linspace(phi_b, lcx_end, n)
    u_lcx = np.full(n, u_av) if g is None else _groove_u(phis, phi_b, lcx_end, u_av, g, down_at_end=v7 and not dominant)
    lcx = _near_bif_back(np.concatenate([[bif], heart_surface(anat, u_lcx, phis, np.full(n, out))]), back)
    rca_start = heart_surface(anat, np.array([u_av]), np.array([-35.0]), np.array([out]))[0]
    dr = rca_start - root
    dr[2] = 0
    ostium_r = root + anat.aorta_r * dr / (np.linalg.norm(dr) + 1e-9)
    rca_stop = crux_phi if (dominant or not v7) else max(crux_phi + 40.0, rca_end)
    phis = np.linspace(-35, rca_stop, n)
    # v7: the inferior AV groove dips toward the apex on its way to the crux (the tricuspid annulus lies more apical
    # than the mitral one), out of the groove's fat ring, from the acute margin (-90) on
    dip = anat.crux_du * np.clip((-90.0 - phis) / max(-90.0 - crux_phi, 1.0), 0.0, 1.0) ** 2 if v7 else np.zeros(n)
    u_rca = u_av if g is None else _groove_u(phis, -35.0, rca_stop, u_av, g, down_at_end=dominant or not v7)
    rca = heart_surface(anat, u_rca + dip, phis, np.full(n, out))
    parts = [np.linspace(ostium_r, rca_start, 12), rca]
    crux = {"RCA": rca[-1]} if (dominant or not v7) else {"LCX": lcx[-1]}
    if dominant:
        up = np.linspace(u_av + dip[-1], pda_u, 40)
        # v7: the posterior interventricular groove, on the diaphragmatic surface, drifting toward its middle (-e2)
        pda_phi = np.full(40, phis[-1]) if not v7 else phis[-1] + anat.pda_drift_deg * np.linspace(0, 1, 40) ** 1.5
        parts.append(heart_surface(anat, up, pda_phi, np.full(40, out)))
    rca = np.concatenate(parts)
    vessels = {}
    for name, pts in (("LCA", lm), ("LAD", lad), ("LCX", lcx), ("RCA", rca)):
        p = _resample(pts, step_mm)
        r0, r1 = RADIUS_MM[name]
        scale = rng.uniform(0.9, 1.1)
        ci = int(np.argmin(np.linalg.norm(p - crux[name], axis=1))) if name in crux else -1
        vessels[name] = Vessel(name, p, (np.linspace(r0, r1, len(p)) * scale).astype(float), ci)
    return vessels


def crux_point(vessels: dict[str, Vessel]) -> tuple[str, int]:
    """(vessel, centreline index) of the crux: where the AV groove meets the posterior interventricular groove."""
    for name in ("RCA", "LCX"):
        if name in vessels and vessels[name].crux >= 0:
            return name, vessels[name].crux
    raise ValueError("no vessel reaches the crux")


DISTAL_BETA = (1.2, 1.6)
"""v7: the RCA's and LCX's plaque positions along the vessel follow beta(1.2, 1.6) instead of draw_calcium's beta(1.3,
2.2) (mapped quantile to quantile: the same draw, the same order along the vessel). With v7's longer RCA the old law put
9 of 195 RCA plaques past the crux and 12 of 126 LCX plaques on its distal 40 % (70 on its proximal third), where the
LIDC hybrids' missed plaques lie (120 patients of seed 77, bench/distal_plaque_shares.py). v7's first law,
beta(1.2, 1.2), moved 45 RCA plaques past the crux and 39 LCX plaques onto the distal 40 % (51 proximal), and a model
trained on it lost the upper RCA and the proximal LCX on the hybrids; this milder one, proximal-heavy like real
calcium, puts 24 past the crux and 28 on the LCX's distal 40 % (60 proximal). Measured on the hybrids:
docs/phantom.md, "Anatomy v7", "A milder distal law"."""


def plaque_position(sp: PlaqueSpec, distal: bool = False) -> float:
    """Where (0..1 of the vessel's length) a plaque sits: its drawn s_frac, or with ``distal`` (v7) for the RCA and LCX
    that draw's quantile of DISTAL_BETA."""
    if not distal or sp.vessel not in ("RCA", "LCX"):
        return sp.s_frac
    q = stats.beta.cdf(sp.s_frac, 1.3, 2.2)
    return float(np.clip(stats.beta.ppf(q, *DISTAL_BETA), 0.02, 0.97))


SIZE_POSITION_RHO = 0.6
"""v8: rank correlation (Gaussian copula) between a plaque's size (its estimated score) and how proximal it lies in its
vessel. Clinically the proximal segments (left main, proximal LAD / LCX / RCA) carry the largest, densest plaques;
draw_calcium draws sizes and positions independently, so a vessel's largest plaque was as often distal as proximal."""
P_STRADDLE = 0.5
"""v8: chance that an LAD or LCX plaque drawn within STRADDLE_MM (arc) of the bifurcation straddles it: placed so that
STRADDLE_BACK of its length lies back across the bifurcation, toward the left main and the other branch (plaques often
run across the left main's bifurcation; before v8 every plaque lay inside its own vessel)."""
STRADDLE_MM = 12.0
STRADDLE_BACK = 0.3


def proximal_first(specs: list[PlaqueSpec], rng: np.random.Generator) -> list[PlaqueSpec]:
    """v8: each vessel's drawn positions (s_frac) dealt out again so that larger plaques tend to lie proximal
    (SIZE_POSITION_RHO). A permutation within the vessel: every vessel keeps its plaques (sizes, materials, so its
    calibrated score target) and its set of positions (so the position law, DISTAL_BETA's included); only which plaque
    sits where changes. ``rng``: its own stream (the patient's other draws do not change)."""
    out = list(specs)
    for v in VESSELS:
        idx = [i for i, s in enumerate(specs) if s.vessel == v]
        noise = rng.normal(size=len(idx))
        if len(idx) < 2:
            continue
        est = np.array([specs[i].est_score for i in idx])
        z = stats.norm.ppf((stats.rankdata(est) - 0.5) / len(idx))  # the largest plaque: the highest z
        key = -SIZE_POSITION_RHO * z + np.sqrt(1 - SIZE_POSITION_RHO ** 2) * noise  # lowest key: most proximal
        pos = np.sort([specs[i].s_frac for i in idx])
        for rank, k in enumerate(np.argsort(key)):
            out[idx[k]] = replace(specs[idx[k]], s_frac=float(pos[rank]))
    return out


def straddlers(specs: list[PlaqueSpec], vessels: dict[str, Vessel], rng: np.random.Generator, *,
               distal: bool = False) -> frozenset[int]:
    """v8: indices of the LAD / LCX plaques that straddle the left main's bifurcation (P_STRADDLE of those drawn
    within STRADDLE_MM of it); ``rng``: its own stream (one draw per plaque)."""
    out = set()
    for k, sp in enumerate(specs):
        u = rng.random()
        if sp.vessel not in ("LAD", "LCX") or u >= P_STRADDLE:
            continue
        if plaque_position(sp, distal) * float(vessels[sp.vessel].arc_mm()[-1]) <= STRADDLE_MM:
            out.add(k)
    return frozenset(out)


def place_plaques(specs: list[PlaqueSpec], vessels: dict[str, Vessel], rng: np.random.Generator, *,
                  distal: bool = False, straddle: frozenset[int] = frozenset()) -> list[Plaque]:
    """Put each plaque in its vessel's wall at its position along the vessel (``plaque_position``); the plaques
    of ``straddle`` (indices into specs, v8: :func:`straddlers`) instead with their centre (1/2 - STRADDLE_BACK) of
    their length past the bifurcation (the vessel's first point), so that their proximal end lies across it. The
    random draws are the same either way."""
    out = []
    for k, sp in enumerate(specs):
        ves = vessels[sp.vessel]
        i = int(round(plaque_position(sp, distal) * (len(ves.points) - 1)))
        if k in straddle:
            i = int(np.searchsorted(ves.arc_mm(), (0.5 - STRADDLE_BACK) * sp.length_mm))
        i = min(max(i, 1), len(ves.points) - 2)
        tan = ves.points[i + 1] - ves.points[i - 1]
        tan /= np.linalg.norm(tan)
        perp = np.cross(tan, rng.normal(size=3))
        perp /= np.linalg.norm(perp)
        third = np.cross(tan, perp)
        centre = ves.points[i] + perp * 0.5 * ves.radius[i]
        semi = np.array([sp.length_mm / 2, sp.diameter_mm / 2, sp.diameter_mm / 2 * rng.uniform(0.8, 1.0)])
        out.append(Plaque(sp.vessel, centre, np.stack([tan, perp, third]), np.maximum(semi, 0.25), sp.hu))
    return out


@dataclass
class Layer:
    """A moving part, as the affine map that painting it applies inside ``box`` (z, y, x slices):
    after = before * (1 - alpha) + premult, with alpha, premult (nz_b, ny_b, nx_b) float32.

    Every partial-volume paint (img += f * (hu - img)) is such a map and their composition is too,
    so moving a layer means shifting alpha and premult together (no overshoot, no double counting).
    """

    name: str
    box: tuple[slice, slice, slice]
    alpha: np.ndarray
    premult: np.ndarray


def _descending_aorta_over_heart(anat: Anatomy, grid: Grid, lp: "_LayerPainter", hbox) -> None:
    """Where the heart's ellipsoids reach the descending aorta (it runs in front of the spine, behind the left
    atrium), the aorta stays: its fat collar and lumen are painted again inside the heart's box, before
    the coronaries (which are painted after and so are never covered)."""
    t = anat.aorta
    if t is None:
        return
    lo = np.array([grid.z_edges_mm[hbox[0].start], grid.y_mm[hbox[1].start], grid.x_mm[hbox[2].start]])
    hi = np.array([grid.z_edges_mm[hbox[0].stop], grid.y_mm[hbox[1].stop - 1], grid.x_mm[hbox[2].stop - 1]])
    keep = (t.label == ANATOMY_LABEL["aorta_descending"]) & np.all(
        (t.points[:, ::-1] > lo - t.radius[:, None] - 3) & (t.points[:, ::-1] < hi + t.radius[:, None] + 3), axis=1)
    idx = np.nonzero(keep)[0]
    for grow, hu, name in ((2.5, HU["fat"] + 15, "mediastinal_fat"), (0.0, HU["blood"], "aorta_descending")):
        last = -np.inf
        for i in idx:
            r = float(t.radius[i] + grow)
            if i - last < 0.35 * r / 2.0 and i != idx[-1]:  # centreline points are 2 mm apart
                continue
            last = i
            res = ellipsoid_fraction(grid, t.points[i], np.eye(3), np.array([r, r, r]))
            if res is not None:
                lp.paint(res[0], res[1], hu, name)


def atria(anat: Anatomy, u_av: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """(centre (x, y, z) mm, semi-axes in the heart's frame) of the right and left atrium: on the base side
    of the AV groove (u < u_av, where the groove's coronaries run), the right atrium toward the right
    (-e3) and a little down, the left atrium toward the back (+e3) and down (-e2)."""
    a, b, c = anat.heart_semi
    e1, e2, e3 = anat.heart_axes
    hc = anat.heart_c
    u = u_av - 0.3
    # the right atrium is the right heart border from the SVC down to the diaphragm: long along e2 (up-down
    # on the base), reaching right of the ventricles
    # v4: toward the patient's right more than anterior-right (-e3): the right heart border is the right
    # atrium, lateral to the spine's right edge, which makes the heart's axial outline wider than deep as in a
    # real chest (v3's was as deep as wide, so a heart that filled the sternum-to-spine room looked small)
    right = -e3 + np.array([-1.0, 0.0, 0.0])
    right[2] = 0.0
    right /= np.linalg.norm(right)
    ra = hc + u * a * e1 + 0.85 * c * right - 0.05 * b * e2
    la = hc + (u - 0.03) * a * e1 + anat.la_e3[0] * c * e3 - 0.2 * b * e2
    return [(ra, np.array([0.3 * a, 0.75 * b, 0.62 * c])), (la, np.array([0.3 * a, 0.5 * b, anat.la_e3[1] * c]))]


LA_BEHIND_ROOT = 0.6
"""The left atrium's body reaches forward to LA_BEHIND_ROOT x the aortic radius behind the root's centre."""


def left_atrial_body(anat: Anatomy) -> tuple[np.ndarray, np.ndarray] | None:
    """(centre, semi-axes in the heart's frame) of the left atrium's body (v5): the heart's most posterior chamber,
    behind the aortic root, under the carina and in front of the oesophagus, 60-80 mm wide, from 25 mm below to
    25 mm above the annulus. v4's atria ended at the AV groove on the left, and at the level of the root and left
    main a dark column of mediastinal fat reached from the root back to the spine, where a real chest shows the
    left atrium (and the pulmonary veins entering it). An axis-aligned ellipsoid, expressed in the heart's frame
    (its semi-axes along the frame's rows are what ellipsoid_fraction takes), so None when the chest has no room."""
    if not anat.la_body:
        return None
    root, r = anat.aorta_root, anat.aorta_r
    sx, sy, sr = anat.spine_c[0], anat.spine_c[1], anat.spine_r
    back = sy - sr - 12.0 - PERICARDIUM_OUT_MM - PERICARDIUM_MM  # the oesophagus' front, 2 mm of fat, the sac
    front = root[1] + LA_BEHIND_ROOT * r
    half = 0.5 * (back - front)
    if half < 8.0:
        return None
    dx, cap = anat.la_body_x
    centre = np.array([0.5 * (root[0] + sx) + dx, front + half, root[2] + 2.0])
    return centre, np.array([min(cap, 0.22 * anat.cav_ab[0] + 6.0), half, 22.0])


class _LayerPainter:
    """Paints into img inside a layer box while tracking the layer's transmittance."""

    def __init__(self, name: str, img: np.ndarray, box: tuple[slice, slice, slice], lab: np.ndarray | None = None,
                 before_paint=None):
        self.name, self.img, self.box, self.lab = name, img, box, lab
        if before_paint is not None:  # told before anything is painted in the box (render_heart's before_paint)
            before_paint(box)
        self.before = img[box].copy()
        self.trans = np.ones(self.before.shape, np.float32)

    def paint(self, box: tuple[slice, slice, slice], frac: np.ndarray, hu: float, label: str | None = None,
              label_at: float = 0.5) -> None:
        rel, sub = [], []
        for b, lb, n in zip(box, self.box, frac.shape):
            s0, s1 = max(b.start, lb.start), min(b.stop, lb.stop)
            if s1 <= s0:
                return
            rel.append(slice(s0 - lb.start, s1 - lb.start))
            sub.append(slice(s0 - b.start, s1 - b.start))
        f, at = frac[tuple(sub)], tuple(rel)
        paint(self.img[self.box], at, f, hu, trans=self.trans[at])  # the one painter, tracking the transmittance
        if self.lab is not None and label is not None:
            self.lab[self.box][at][f >= label_at] = ANATOMY_LABEL[label]

    def layer(self) -> Layer:
        """The layer (called once, at the end: it reuses the painter's buffers, in place, to save two box-sized
        temporaries; the heart's box is ~6 M voxels at 1.25 mm)."""
        before, trans = self.before, self.trans
        self.before = self.trans = None  # type: ignore[assignment]
        before *= trans
        np.subtract(self.img[self.box], before, out=before)  # premult
        np.subtract(np.float32(1.0), trans, out=trans)  # alpha
        return Layer(self.name, self.box, trans, before)


def sheath_profile(anat: Anatomy, name: str, n: int, bed: np.ndarray | None = None) -> np.ndarray:
    """The fat sheath (mm) at each of a vessel's n centreline points: the proximal thickness, thinning between
    SHEATH_ONSET's two fractions to the thin one, with a slow waviness (a quarter of the difference). v5's anatomy
    (both 4 mm) gives FAT_SHEATH_MM everywhere. v7: where the vessel lies on its crux bed (``bed``, bed_profile) the
    sheath is at most the patient's crux_fat_mm (a real crux, PDA and distal LCX: fat_8mm < 0.1 on the LIDC hybrids).
    v11 (``anat.lcx_sheath_mm`` set): the LCX's sheath is at least that thickness all along it, with a V11_WAVE_MM
    waviness (the crux bed still applies where a left-dominant LCX reaches the crux)."""
    s = np.linspace(0.0, 1.0, n)
    a, b = SHEATH_ONSET[name]
    t = np.clip((s - a) / (b - a), 0.0, 1.0)
    if name == "LAD":
        t = 0.5 * t
    prox, thin = anat.sheath_prox_mm, anat.sheath_thin_mm
    wave = 0.25 * (prox - thin) * np.sin(2 * np.pi * (2.5 * s + anat.sheath_phase + 0.25 * VESSELS.index(name)))
    out = np.clip(prox + (thin - prox) * t + wave, 0.0, None)
    if name == "LCX" and anat.lcx_sheath_mm is not None:  # v11: never thinner than the patient's LCX sheath
        lcx = anat.lcx_sheath_mm + V11_WAVE_MM * np.sin(2 * np.pi * (2.5 * s + anat.sheath_phase + 0.5))
        out = np.maximum(out, lcx)
    if bed is not None and anat.crux_fat_mm is not None:  # v7: on the crux bed, the patient's crux fat (0-1.2 mm)
        out = out * (1 - bed) + np.minimum(out, anat.crux_fat_mm) * bed
    if name == "LCA" and anat.lm_ostium_sheath_mm is not None:  # v21: thin at the ostium, the patient's at the bif
        out = anat.lm_ostium_sheath_mm + (out - anat.lm_ostium_sheath_mm) * _smooth(s)
    return out


def bed_profile(anat: Anatomy, ves: Vessel) -> np.ndarray:
    """0..1 at each centreline point: where v7's crux bed lies under the vessel (``_collar``). On the vessel that
    reaches the crux, from BED_BEFORE_CRUX_MM before it (rising over 15 mm) to its end (the PDA); on the LCX also from
    BED_LCX_FROM of its length on (the posterior AV groove, by the coronary sinus), except in v11 (``anat.lcx_sheath_mm``
    set: the LCX stays in the groove's fat). All 0 before v7 (crux_bed_mm 0)."""
    n = len(ves.points)
    b = np.zeros(n)
    if anat.crux_bed_mm <= 0:
        return b
    if ves.crux >= 0:
        arc = ves.arc_mm()
        b = np.clip((arc - arc[ves.crux] + BED_BEFORE_CRUX_MM) / 15.0, 0.0, 1.0)
    if ves.name == "LCX" and anat.lcx_sheath_mm is None:
        b = np.maximum(b, np.clip((np.linspace(0.0, 1.0, n) - BED_LCX_FROM) / 0.2, 0.0, 1.0))
    return b


def _collar(anat: Anatomy, ves: Vessel, sheath: np.ndarray) -> tuple[Vessel, np.ndarray]:
    """The myocardium against a thinly sheathed vessel: a tube whose points lie COLLAR_MM x w toward the heart's long
    axis, radius r + sheath + COLLAR_MM x w, w = how far the sheath is below COLLAR_BELOW_MM (0-1). Returns the
    tube and w (all 0: no collar).

    v7, at the crux, along the PDA and the distal LCX (``bed_profile`` b > 0): the tube is the vessel's bed whatever
    the sheath: shifted c = max(COLLAR_MM w, crux_bed_mm b) toward the axis with radius r + sheath + c +
    min(bed_out_mm, the pericardium's outer face) b, so that soft tissue reaches beyond the sheath on the outer side too (the pericardium,
    the diaphragm, the coronary sinus, which a real crux touches through 0-1 mm of fat) and r + sheath + 2 c inward
    (the myocardium, the atria). v6's collar left the groove's fat round the vessel's outer half: fat_8mm >= 0.1."""
    w = np.clip((COLLAR_BELOW_MM - sheath) / COLLAR_BELOW_MM, 0.0, 1.0)
    b = bed_profile(anat, ves)
    e1 = anat.heart_axes[0]
    v = anat.heart_c - ves.points
    v -= np.outer(v @ e1, e1)
    v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-6)
    c = np.maximum(COLLAR_MM * w, anat.crux_bed_mm * b)
    w = np.maximum(w, b)
    # outward no further than the pericardium's outer face (the vessel runs 2.5 mm outside the myocardium)
    t = np.clip(PERICARDIUM_OUT_MM + PERICARDIUM_MM - VESSEL_OUT_MM - ves.radius - sheath, 0.0, anat.bed_out_mm) * b
    rad = np.where(w > 0, ves.radius + sheath + c + t, -10.0)
    return Vessel(ves.name, ves.points + v * c[:, None], rad), w


TUBE_BATCH = 10
"""Centreline points per numpy pass in _tube_fields (speed only: the fields are the same for any batch)."""


def _tube_fields(grid: Grid, ves: Vessel, radii_extra: tuple, box: tuple[slice, slice, slice],
                 n_sub: int) -> list[np.ndarray]:
    """Anti-aliased union-of-spheres coverage of the tube with radius r + extra, per extra (a number, or one per
    centreline point).

    Rendered on n_sub sub-slices per slab inside box, then averaged to slabs. Each returned array
    is (nz_b, ny_b, nx_b) float32. Loops over centreline points (hundreds), never over voxels.
    """
    px = grid.px_mm
    xs, ys = grid.x_mm[box[2]], grid.y_mm[box[1]]
    e = grid.z_edges_mm[box[0].start:box[0].stop + 1]
    dz = grid.dz_mm / n_sub
    zs = (e[0] + (np.arange((len(e) - 1) * n_sub) + 0.5) * dz).astype(np.float32)
    soft = max(px, dz)
    radii = np.stack([ves.radius + np.broadcast_to(np.asarray(e, float), ves.radius.shape) for e in radii_extra], axis=1)
    x0, y0, z0 = xs[0], ys[0], zs[0]
    # coverage = clip((r - d) / soft + 0.5, 0, 1) maximised over the points; float32 rounding is monotone, so this is
    # the coverage of max over points of (r - d), kept here (-inf: no point near): one pass per point instead of five
    fields = [np.full((len(zs), len(ys), len(xs)), -np.inf, np.float32) for _ in radii_extra]

    # points in batches of consecutive ones (0.6 mm apart: one joint box a little larger than each point's), so
    # that numpy works on arrays of thousands of voxels instead of paying its call overhead per point
    reach = radii.max(axis=1) + soft
    live = np.nonzero(reach > 0)[0]
    r32 = np.where(radii > 0, radii, -np.inf).astype(np.float32)  # a radius <= 0 paints nothing
    for s0 in range(0, len(live), TUBE_BATCH):
        idx = live[s0:s0 + TUBE_BATCH]
        pts, rch = ves.points[idx], reach[idx][:, None]
        lo, hi = (pts - rch).min(axis=0), (pts + rch).max(axis=0)
        i0, i1 = max(int(np.floor((lo[0] - x0) / px)), 0), min(int(np.ceil((hi[0] - x0) / px)) + 1, len(xs))
        j0, j1 = max(int(np.floor((lo[1] - y0) / px)), 0), min(int(np.ceil((hi[1] - y0) / px)) + 1, len(ys))
        k0, k1 = max(int(np.floor((lo[2] - z0) / dz)), 0), min(int(np.ceil((hi[2] - z0) / dz)) + 1, len(zs))
        if i1 <= i0 or j1 <= j0 or k1 <= k0:
            continue
        # (float64 squares summed z, y, x and rounded to float32 after the root, as one point at a time did)
        d = ((zs[None, k0:k1] - pts[:, 2:3]) ** 2)[:, :, None, None] + ((ys[None, j0:j1] - pts[:, 1:2]) ** 2)[:, None, :, None]
        d = d + ((xs[None, i0:i1] - pts[:, 0:1]) ** 2)[:, None, None, :]
        d = np.sqrt(d, out=d).astype(np.float32)
        np.negative(d, out=d)
        for f, rf in zip(fields, r32[idx].T):
            # r - d per point (exact: -d + r), maximised over the batch; beyond a point's reach its value maps to
            # coverage 0, so the joint box changes nothing
            v = np.add(d, rf[:, None, None, None]).max(axis=0)
            loc = f[k0:k1, j0:j1, i0:i1]
            np.maximum(loc, v, out=loc)
    soft32 = np.float32(soft)
    for f in fields:
        f /= soft32
        f += 0.5
        np.clip(f, 0, 1, out=f)
    nzb = len(e) - 1
    return [f.reshape(nzb, n_sub, len(ys), len(xs)).mean(axis=1) for f in fields]


def _paint_grown(lp: "_LayerPainter", grid: Grid, shapes: list, grow: float, floor: float, hu: float, name: str) -> None:
    """Paint every shape (centre, semi-axes, frame rows) grown by ``grow`` mm, cut ``grow`` below the floor."""
    for c, sm, a_ in shapes:
        r = ellipsoid_fraction(grid, c, a_, sm + grow, z_min_mm=floor - grow)
        if r is not None:
            lp.paint(r[0], r[1], hu, name)


def _paint_outline(lp: "_LayerPainter", grid: Grid, shapes: list, outer: list, floor: float, fat_lateral_mm: float) -> None:
    """The heart's layers for every shape (centre, semi-axes, frame rows): the pericardium, a 1.5 mm membrane
    PERICARDIUM_OUT_MM outside the myocardium, epicardial fat between (the coronaries run in it, 2.5 mm
    outside the myocardium), the myocardium. v5: the fat is uneven, as in a real heart: the ventricles'
    myocardium is painted again, grown toward the LV's lateral wall (+e3, the third frame row), so the fat there is
    fat_lateral_mm thin while the RV's free wall (-e3) keeps PERICARDIUM_OUT_MM; the AV and interventricular
    groove fat is painted over this afterwards (render_heart), and every coronary keeps its own fat sheath."""
    for o in outer:  # (the shapes' pericardial ellipsoids, computed by the caller for the layer's box)
        if o is not None:
            lp.paint(o[0], o[1], HU["pericardium"], "pericardium")
    for grow, hu, name in ((PERICARDIUM_OUT_MM, HU["fat"], "epicardial_fat"), (0.0, HU["myocardium"], "heart")):
        _paint_grown(lp, grid, shapes, grow, floor, hu, name)
    d = 0.5 * max(PERICARDIUM_OUT_MM - fat_lateral_mm, 0.0)
    if d <= 0:
        return
    # the basal ventricular shape only (ventricle_shapes' first: the widest, the lateral wall from the AV groove to
    # mid-ventricle); the apex keeps its thicker fat, as a real one. Each of these big ellipsoids costs ~0.1 s at 1.25 mm
    c, sm, a_ = shapes[0]
    r = ellipsoid_fraction(grid, c + d * a_[2], a_, sm + np.array([0.0, d, d]), z_min_mm=floor)
    if r is not None:
        lp.paint(r[0], r[1], HU["myocardium"], "heart")


V22_RV_WALL_MM = 4.0
"""v22: the right ventricle's free wall (real: 3-5 mm); its cavity is painted as blood inside it."""


def v22_myo_shapes(shapes: list, rv: tuple, fat_lateral_mm: float) -> list:
    """v22's myocardium: the outline's shapes, the right ventricle and _paint_outline's thicker lateral wall (the
    basal ventricular shape moved toward +e3 and grown by half the fat it takes away)."""
    out = [*shapes, rv]
    d = 0.5 * max(PERICARDIUM_OUT_MM - fat_lateral_mm, 0.0)
    if d > 0:
        c, sm, a_ = shapes[0]
        out.append((c + d * a_[2], sm + np.array([0.0, d, d]), a_))
    return out


def _paint_outline_v22(lp: "_LayerPainter", grid: Grid, shapes: list, rv: tuple, floor: float,
                       fat_lateral_mm: float) -> None:
    """v22's heart layers (heart_v22.py): the pericardium and the epicardial fat from one envelope (the smooth union
    of the shapes and the right ventricle, grown PERICARDIUM_REACH_MM / PERICARDIUM_OUT_MM), the myocardium from the
    smooth union of v22_myo_shapes, in _paint_outline's order and labels. One field per layer instead of one
    ellipsoid per shape: no pericardial line or fat ring between the shapes."""
    n_sub = max(1, int(round(grid.dz_mm / 1.0)))
    myo, env = heart_v22.outline_fields(grid, lp.box, v22_myo_shapes(shapes, rv, fat_lateral_mm), [*shapes, rv],
                                        floor, (PERICARDIUM_REACH_MM, PERICARDIUM_OUT_MM), n_sub)
    lp.paint(lp.box, env[0], HU["pericardium"], "pericardium")
    lp.paint(lp.box, env[1], HU["fat"], "epicardial_fat")
    lp.paint(lp.box, myo, HU["myocardium"], "heart")


PLAQUE_LABEL_REACH_MM = LABEL_MARGIN_MM + 5.0
"""v8: the vessel's label tube (lumen + LABEL_MARGIN_MM) is labelled only this far beyond a plaque of that vessel (its
largest semi-axis + this): 5 mm is the largest half-amplitude of the non-gated motion (motion.py: 10 mm x the RCA's
share 1.0 / 2), so a smeared plaque stays inside its label. Before v8 the whole tube was labelled, and with v6's
myocardium collar and v7's bed (soft tissue inside the tube) image noise above 130 HU there became "coronary calcium":
on 24 v7 patients (seed 9101, 512 px), 61 of the 81 LCX, 69 of the 85 PDA and 51 of the 92 lower-RCA candidates were
such specks (mean HU ~150, 1.6 mm, < 1 AU), most in vessels without any plaque and in 1.25 / 3 mm slices (more noise),
and the models learned "LCX / PDA = a faint speck" (docs/phantom.md, "Anatomy v8")."""


def _near_plaques(grid: Grid, box: tuple[slice, slice, slice], plaques: list[Plaque]) -> np.ndarray:
    """(nz_b, ny_b, nx_b) bool: voxels of ``box`` whose slab comes within PLAQUE_LABEL_REACH_MM of one of ``plaques``
    (beyond its largest semi-axis)."""
    xs, ys = grid.x_mm[box[2]], grid.y_mm[box[1]]
    e = grid.z_edges_mm[box[0].start:box[0].stop + 1]
    near = np.zeros((len(e) - 1, len(ys), len(xs)), bool)
    for p in plaques:
        r = float(p.semi.max()) + PLAQUE_LABEL_REACH_MM
        dz = np.clip(np.maximum(e[:-1] - p.centre[2], p.centre[2] - e[1:]), 0, None)  # slab to centre, 0 inside
        d2 = dz[:, None, None] ** 2 + ((ys - p.centre[1]) ** 2)[None, :, None] + ((xs - p.centre[0]) ** 2)[None, None, :]
        near |= d2 <= r * r
    return near


def render_heart(anat: Anatomy, grid: Grid, img: np.ndarray, vessels: dict[str, Vessel], plaques: list[Plaque],
                 *, kvp: float, draw_lumen: bool = True, cardiac_calcium: tuple[Blob, ...] = (),
                 bright: np.ndarray | None = None, anatomy_lab: np.ndarray | None = None,
                 before_paint=None) -> tuple[list[Layer], np.ndarray, dict[str, np.ndarray]]:
    """Draw the heart, coronaries and plaques into ``img`` (in place: the static image).

    ``cardiac_calcium`` (aortic valve, mitral annulus; see noncoronary.py) is painted over the
    chambers in a second "heart" layer (it moves with the heart) and marked in ``bright``.

    ``anatomy_lab`` (z, y, x) uint8, if given, gets the anatomy labels of what is painted here
    (pericardium, epicardial fat, heart, coronary lumen, valve and annulus calcium) at the static position.

    ``before_paint(box)``, if given, is called with each layer's box before anything is painted in it (nothing is
    painted in ``img`` outside these boxes): make_patient keeps the background of those slabs for the moving image.

    Returns (layers, labels, calcium_boxes): layers = the heart and one per vessel (what moves),
    labels (z, y, x) uint8 vessel labels (lumen + LABEL_MARGIN_MM within PLAQUE_LABEL_REACH_MM of the vessel's
    plaques, v8, + plaque footprints),
    plaque_mask per vessel name -> bool (z, y, x) of voxels touched by that vessel's plaques.
    """
    calc_k = kvp_calcium_factor(kvp)
    layers: list[Layer] = []
    labels = np.zeros(grid.shape, np.uint8)
    semi = anat.heart_semi
    e1, e2, e3 = anat.heart_axes
    hc = anat.heart_c
    u_av = av_groove_u(anat, vessels)
    # the heart's outline: the ventricular ellipsoid (which the coronary courses follow) and the two atria
    # bulging beyond it on the base side of the AV groove (right atrium: the right heart border; left
    # atrium: posterior), each ending at the groove so that the RCA and LCX stay in it; v5's left atrial body; v24's
    # left ventricular base bulge last (its myocardium is painted again over the groove's ring below)
    ax = anat.heart_axes
    shapes = heart_outline_shapes(anat, u_av)
    floor = anat.heart_floor_z  # the diaphragmatic surface is flat: every layer is cut at its own offset below it
    outer = [ellipsoid_fraction(grid, c, a_, sm + PERICARDIUM_REACH_MM, z_min_mm=floor - PERICARDIUM_REACH_MM)
             for c, sm, a_ in shapes]
    if outer[0] is None:
        return layers, labels, {}
    boxes_ = [o[0] for o in outer if o is not None]
    rv = heart_v22.rv_shape(hc, ax, semi) if anat.heart_v22 else None  # v22: the right ventricle's bulge
    if rv is not None:
        rv_box = ellipsoid_fraction(grid, rv[0], ax, rv[1] + PERICARDIUM_REACH_MM, z_min_mm=floor - PERICARDIUM_REACH_MM)
        boxes_ += [rv_box[0]] if rv_box is not None else []
    hbox = tuple(slice(min(b[k].start for b in boxes_), max(b[k].stop for b in boxes_)) for k in range(3))
    lp = _LayerPainter("heart", img, hbox, anatomy_lab, before_paint)
    if rv is not None:
        _paint_outline_v22(lp, grid, shapes, (rv[0], rv[1], ax), floor, anat.epi_fat_lateral_mm)
    else:
        _paint_outline(lp, grid, shapes, outer, floor, anat.epi_fat_lateral_mm)
    chambers = [
        (hc, semi, HU["myocardium"], ax),
        (hc + 0.15 * semi[0] * e1 + 0.2 * semi[2] * e3, semi * np.array([0.55, 0.42, 0.42]), HU["blood"], ax),  # LV
        (hc - 0.05 * semi[0] * e1 + 0.45 * semi[1] * e2 - 0.25 * semi[2] * e3, semi * np.array([0.55, 0.35, 0.45]),
         HU["blood"], ax),
        *((c, np.maximum(sm - 3.0, 2.0), HU["blood"], a_) for c, sm, a_ in shapes[1:]),  # atrial cavities, 3 mm walls
    ]
    # epicardial fat in the atrioventricular groove (where RCA and LCX run): a fat ring around the
    # heart at the AV plane, about 10 mm wide and 9 mm deep, under the vessels' own fat sheaths
    w = float(np.sqrt(max(1 - u_av ** 2, 0.05)))
    c_av = hc + u_av * semi[0] * e1
    ring = [(c_av, np.array([5.0, semi[1] * w + 2.0, semi[2] * w + 2.0]), HU["fat"]),
            (c_av, np.array([5.5, max(semi[1] * w - 7.0, 3.0), max(semi[2] * w - 7.0, 3.0)]), HU["myocardium"])]
    for c, s, hu in ring:
        r = ellipsoid_fraction(grid, c, anat.heart_axes, s, z_min_mm=floor - (PERICARDIUM_OUT_MM if hu == HU["fat"] else 0))
        if r is not None:
            lp.paint(r[0], r[1], hu, "heart" if hu != HU["fat"] else "epicardial_fat")
    # epicardial fat in the interventricular grooves (anterior along the LAD, inferior along the
    # RCA's end / PDA): flat fat wedges, 9-10 mm wide and 8 mm deep, along the long axis
    for name, idx, u0, half in (("LAD", slice(1, None), 0.15, 0.8), ("RCA", slice(-8, None), 0.05, 0.55)):
        if name not in vessels:
            continue
        rel = vessels[name].points[idx] - hc
        phi = float(np.arctan2(np.median(rel @ e3) / semi[2], np.median(rel @ e2) / semi[1]))
        n = np.cos(phi) * e2 + np.sin(phi) * e3
        t = -np.sin(phi) * e2 + np.cos(phi) * e3
        depth_r = float(1.0 / np.sqrt((np.cos(phi) / semi[1]) ** 2 + (np.sin(phi) / semi[2]) ** 2))
        s = np.sqrt(max(1 - u0 ** 2, 0.1))
        c = hc + u0 * semi[0] * e1 + depth_r * s * n
        r = ellipsoid_fraction(grid, c, np.stack([e1, t, n]), np.array([half * semi[0], 5.0, 8.0]),
                               z_min_mm=floor - PERICARDIUM_OUT_MM)
        if r is not None:
            lp.paint(r[0], r[1], HU["fat"], "epicardial_fat")
    if anat.lv_base is not None:  # v24: the AV ring's fat ends at the bulge's surface (the LCX brings its own sheath)
        _paint_grown(lp, grid, shapes[-1:], 0.0, floor, HU["myocardium"], "heart")
    if anat.epi_lean_mm is not None:  # v23: a lean heart: the myocardium up to epi_lean_mm under the pericardium
        _paint_grown(lp, grid, [*shapes, *([] if rv is None else [(rv[0], rv[1], ax)])],
                     max(PERICARDIUM_OUT_MM - anat.epi_lean_mm, 0.0), floor, HU["myocardium"], "heart")
    if rv is not None:  # v22: the right ventricle's cavity inside its 4 mm free wall
        chambers.append((rv[0], np.maximum(rv[1] - V22_RV_WALL_MM, 2.0), HU["blood"], ax))
    for c, s, hu, a_ in chambers[1:]:
        r = ellipsoid_fraction(grid, c, a_, s, z_min_mm=floor + 4.0)
        if r is not None:
            lp.paint(r[0], r[1], hu)
    n_sub = max(1, int(round(grid.dz_mm / 1.0)))
    sheaths = {name: sheath_profile(anat, name, len(vessels[name].points), bed_profile(anat, vessels[name]))
               for name in VESSELS}
    for name in VESSELS:  # v6: the vessel on the myocardium where its sheath is thin; v7: its bed at the crux
        collar, w = _collar(anat, vessels[name], sheaths[name])
        if w.max() > 0:
            live = collar.radius > 0
            m = float(collar.radius[live].max()) + 2 * grid.px_mm
            lo, hi = collar.points[live].min(axis=0) - m, collar.points[live].max(axis=0) + m
            cbox = grid.box((lo[2], lo[1], lo[0]), (hi[2], hi[1], hi[0]))
            if cbox is not None:  # painted with the heart (it is the heart's tissue), so before the valve and MAC
                lp.paint(cbox, _tube_fields(grid, collar, (0.0,), cbox, n_sub)[0], HU["myocardium"], "heart")
    _descending_aorta_over_heart(anat, grid, lp, hbox)
    layers.append(lp.layer())
    parts = blob_fractions(grid, cardiac_calcium)
    if parts:
        lo = [min(b[k].start for _, b, _ in parts) for k in range(3)]
        hi = [max(b[k].stop for _, b, _ in parts) for k in range(3)]
        cp = _LayerPainter("heart", img, tuple(slice(a, b) for a, b in zip(lo, hi)), anatomy_lab, before_paint)
        for blob, box, f in parts:
            cp.paint(box, f, blob.hu * calc_k, CALCIUM_LABEL.get(blob.kind), label_at=0.25)
            if bright is not None:
                bright[box] |= f > 0.001
        layers.append(cp.layer())

    boxes: dict[str, tuple[slice, slice, slice]] = {}
    for name in VESSELS:  # fat sheath and lumen of every vessel first ...
        ves = vessels[name]
        sheath = sheaths[name]
        m = float(sheath.max()) + LABEL_MARGIN_MM + float(ves.radius.max()) + 2 * grid.px_mm
        lo = ves.points.min(axis=0) - m
        hi = ves.points.max(axis=0) + m
        for p in plaques:
            if p.vessel == name:
                ext = np.sqrt(((p.axes * p.semi[:, None]) ** 2).sum(axis=0)) + 3 * grid.px_mm
                lo, hi = np.minimum(lo, p.centre - ext), np.maximum(hi, p.centre + ext)
        box = grid.box((lo[2], lo[1], lo[0]), (hi[2], hi[1], hi[0]))
        if box is None:
            continue
        boxes[name] = box
        lp = _LayerPainter(name, img, box, anatomy_lab, before_paint)
        f_fat, f_lum, f_lab = _tube_fields(grid, ves, (sheath, 0.0, LABEL_MARGIN_MM), box, n_sub)
        lp.paint(box, f_fat, HU["fat"] + 10, "epicardial_fat")
        if draw_lumen:
            lp.paint(box, f_lum, HU["blood"], "coronary_artery")
        lab = labels[box]
        lab[(f_lab > 0.3) & _near_plaques(grid, box, [p for p in plaques if p.vessel == name])] = LABEL_OF[name]
        layers.append(lp.layer())
    masks: dict[str, tuple] = {}
    ss = 3 if grid.px_mm < 1.2 else 5
    for name in VESSELS:  # ... then the plaques, so no sheath paints over another vessel's calcium
        pl = [p for p in plaques if p.vessel == name]
        if not pl or name not in boxes:
            continue
        lp = _LayerPainter(name, img, boxes[name], before_paint=before_paint)
        parts = []
        for p in pl:
            r = ellipsoid_fraction(grid, p.centre, p.axes, p.semi, supersample=ss)
            if r is None:
                continue
            lp.paint(r[0], r[1], p.hu * calc_k)
            parts.append(r)
        layers.append(lp.layer())
        masks[name] = _footprint_mask(parts)
    for name, m in masks.items():  # (full-volume masks scanned 66 M voxels each at 1.25 mm)
        if m is not None:
            labels[m[0]][m[1]] = LABEL_OF[name]
    full = {}
    for name, m in masks.items():  # np.zeros is lazily zeroed memory: only the box's pages are touched
        full[name] = np.zeros(grid.shape, bool)
        if m is not None:
            full[name][m[0]] = m[1]
    return layers, labels, full


def _footprint_mask(parts: list) -> tuple[tuple[slice, slice, slice], np.ndarray] | None:
    """(box, mask): the voxels where any of the (box, fraction) parts exceeds 0.005, inside the parts' union box;
    None without parts."""
    if not parts:
        return None
    mbox = tuple(slice(min(b[k].start for b, _ in parts), max(b[k].stop for b, _ in parts)) for k in range(3))
    pm = np.zeros(tuple(s.stop - s.start for s in mbox), bool)
    for b, f in parts:
        pm[tuple(slice(s.start - m.start, s.stop - m.start) for s, m in zip(b, mbox))] |= f > 0.005
    return mbox, pm

