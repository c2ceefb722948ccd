"""Randomised chest anatomy in patient mm and its rendering (everything except the heart and coronaries).

All lengths in mm, HU in Hounsfield units. ``t`` is the height above the top of the right
diaphragm dome (mm); patient z = t + z_dome_mm. Painter's order (render_background): body wall,
arms, shoulders, thoracic cavity (lungs, liver, spleen, stomach, thoracic inlet), lung vessel trees,
mediastinum, great vessels, airways, spine, ribs and costal cartilage, scapulae, clavicles, sternum,
aortic wall and cartilage calcium, table; the heart is drawn last by coronary.render_heart (its own
layer, so that it can move).

Anatomy v2 (issue 15): the heart is placed and oriented from literature angles (long axis
anterior-left-inferior), its anterior surface a few mm behind the sternum; the aorta is one
curved centreline (root, ascending, arch, descending beside the spine, through the diaphragm
into the abdomen) and the pulmonary trunk, its branches, the SVC and IVC are tubes with literature
diameters. Every painted structure also writes an anatomy label (ANATOMY_LABELS) where it covers
at least half a voxel, so an anatomy finder can be measured exactly.

v3 (issue 15, second pass): the ventricles taper (ventricle_shapes) and rest on a flat diaphragmatic
floor; the descending aorta sits beside the spine clear of the LCX groove; the upper thorax tapers and
the shoulders widen the top; arms (down in some patients), clavicles and pulmonary vessel trees; and
the acquisition is drawn per patient (slice thickness, FOV; kernel and kVp in core.py).

v4 (issue 15, round 2; measured against the three real series in docs/phantom.md): the thorax is a bell
(cavity_x_scale: narrow at the apices, widening down to the lower ribs; v3 was a box below its top 130 mm); ribs
every 21-25 mm; vertebrae with separate posterior elements; the chest is at least 118-140 mm deep from sternum to
spine; the descending aorta is drawn 2-17 mm in front of the vertebral front and the heart, sized with the chest,
keeps its LCX groove clear of it (smaller and nearer the midline if needed) instead of the aorta being pushed behind
the spine; the right atrium lies to the right (coronary.atria), so the heart is wider than deep.

Session 11 (CHEST_REALISM, on by default; its own stream, so the heart, coronaries and truth are unchanged): lung vessel
trees grown by space colonisation from the hila and the left atrium (lungvessels.py; thin ones splatted), bronchi beside
the hilar arteries, rib heads and necks joining the ribs to the vertebrae, the scapular spine.

Session 12 (BODY_REALISM, on by default; its own stream [lung_texture_seed, 16], chestwall.Body): the body wall as
skin, subcutaneous fat with septa and muscle bellies lying on the ribs with fat planes between them (not concentric
rings), the erector spinae under the trapezius, rounded breasts; vertebrae as a body (cortex, mottled cancellous bone,
endplates, waist) with pedicles, laminae, transverse and spinous processes; the interlobar fissures.

Session 13 (THORAX_REALISM, on by default; its own streams [lung_texture_seed, 17] (chestwall.Thorax) and 18 (the
trees)): the upper chest slopes back above the heart's top (_slope_upper_chest), the shoulders widen gradually, arms
with a lobulated outline and an intermuscular fat plane, denser and straighter lung trees, prevascular fat and lymph
nodes in the mediastinum above the heart, slimmer rib necks, costal cartilages rising to the sternum.

Session 14 (MEDIASTINUM_REALISM, on by default; its own stream [lung_texture_seed, 19], drawn before the lung trees):
the aortic arch as a candy cane round the trachea's left front over the left pulmonary artery, the carina above the
pulmonary bifurcation, the pulmonary arteries to the hila with lobar and segmental branches and the four pulmonary
veins (label pulmonary_vein), the sternum as manubrium and body with lens-shaped sections and a sternal angle, the
costal cartilages reaching it (_draw_mediastinum_v14, Sternum, sternal_cartilages).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage
from scipy.interpolate import make_interp_spline

from cacscore.phantom.chestwall import (AP_C_MAX, CART_THETA, Body, Thorax, ap_source_rows, capsule_footprint, cartilage_lift, draw_body,
                                        RibsV19, RibsV20, cartilage_calcium_share, draw_ribs_v19, draw_ribs_v20,
                                        rib_section_v19,
                                        draw_thorax, lens, septa, wobbly_ellipse_footprint,
                                        sheet_band, texture_fields)
from cacscore.phantom import heart_v22
from cacscore.phantom.lungvessels import add_twigs, colonise, splat_fraction, tree_segments
from cacscore.phantom.raster import Grid, ellipse_footprint, ellipsoid_columns, ellipsoid_fraction, paint, slab_fraction

ANATOMY_VERSION = "v11"
"""The phantom's default anatomy version (docs/phantom.md): v5 = rounded diaphragm domes, uneven epicardial fat, the
left atrium's body behind the aortic root; v6 = each coronary's fat sheath varies per patient and along the vessel
(thin where the vessel lies on the myocardium: crux, PDA, lateral LCX); v7 = the crux posterior-inferior, behind and a
little left of the heart's centre, the PDA down the inferior wall from it, and a soft-tissue bed under the vessel at the
crux, along the PDA and the distal LCX (0-1 mm of fat in some patients); v8 (the default of sessions 11-15) = coronary
labels only near plaques (no noise specks in the myocardium under a vessel called calcium), larger plaques proximal,
some across the left main's bifurcation (coronary.py); v9 (opt-in: ``cacscore phantom --anatomy v9``) = v8 with the
mitral annulus calcium where the real annulus lies in the scorer's frame (noncoronary.MAC_GEOMETRY; docs/phantom.md,
"Where the mitral annulus lies"); v10 (opt-in) = v9 with the AV plane raised: the LCX and the RCA run in a groove
nearer the base (the atria end there), the crux, the left main and the LAD where v9 has them (coronary.V10_GROOVE;
docs/phantom.md, "Anatomy v10"); **v11 (the default since session 16)** = v9 with the LCX in epicardial fat along
its whole course, as the real LCX lies in the left AV groove (no thinning of its sheath on the lateral wall, no
myocardium collar, no crux bed under its distal part; coronary.V11_LCX_SHEATH_MM; docs/phantom.md, "Anatomy v11" and
"v11 the default anatomy"); v12 (opt-in) = v11 with the heart turned and the left main's bifurcation moved round the
AV groove so that the proximal LCX runs to the patient's left, high, as the real one does (V12_HEART,
coronary.V12_PHI_B; docs/phantom.md, "Anatomy v12"); v13 (opt-in, session 16) = v11 with the heart placed further
left of the midline, as real hearts lie (V13_LEFT_SHIFTS_MM; docs/phantom.md, "Heart size and placement"); v14 (opt-in,
session 17) = v11 with the right diaphragm dome (the liver) raised beside the heart, as on the real series
(V14_RIGHT_DOME_RAISE_MM; docs/phantom.md, "The diaphragm domes against the heart"); v15 (opt-in, session 18) = v14
with the thoracic spine and the back curved (a kyphosis painted by _bend_spine, V15_KYPHOSIS), the vertebrae tilted
across the curve, the spinous processes as separate shingles and shorter vertebrae (V15_VERT_PERIOD_MM; docs/phantom.md,
"The spine's curve and the back (session 18, wt26b)"); v16 (opt-in, session 19) = v15 with rounded diaphragm domes,
the upper abdomen's organs (liver with a left lobe, stomach with an air-fluid level, spleen, kidneys in perirenal fat,
gallbladder, bowel in mesenteric fat) separated by fat planes, the scan reaching 20-90 mm lower, and a wider kyphosis
severity (V16_*; docs/phantom.md, "(session 19, wt27c)"); v21 (opt-in, session 24) = v11 with the aortic root (the
great vessels and ostia drawn from it) and the whole left main 0-14 mm further back in the heart and the left main's
fat sheath thin at its ostium (V21_ROOT_BACK_MM, coronary.V21_LM_OSTIUM_SHEATH_MM; docs/phantom.md, "(session 24,
wt32a)"). Which version has which feature: VERSION_FEATURES. A release's
truth.csv (anatomy_version) says what drew it."""


@dataclass(frozen=True)
class VersionFeatures:
    """What one anatomy version draws differently from v8 (every version draws the same random stream; each feature
    below takes its own draws from a stream of its own or maps one of v8's draws onto another range)."""

    mac: str = "v8"  # the mitral annulus calcium's place: a key of noncoronary.MAC_GEOMETRY
    raised_groove: bool = False  # v10: the LCX and the RCA in an AV groove nearer the base (coronary.V10_GROOVE)
    lcx_in_fat: bool = False  # v11: the LCX's own fat sheath along its whole course (coronary.V11_LCX_SHEATH_MM)
    turned_heart: bool = False  # v12: the heart's pose drawn from V12_HEART, the bifurcation from coronary.V12_PHI_B
    left_heart: bool = False  # v13: the heart tried further left of the midline first (V13_LEFT_SHIFTS_MM, heart_tries)
    high_right_dome: bool = False  # v14: the right dome raised beside the heart (V14_RIGHT_DOME_RAISE_MM)
    kyphosis: bool = False  # v15: the spine and the back curved (thoracic kyphosis), shorter vertebrae (V15_KYPHOSIS)
    abdomen: bool = False  # v16: rounded domes, the upper abdomen's organs with fat planes, the scan lower (V16_*)
    spine_v17: bool = False  # v17: the column's whole curve at the heart's levels, the heart against it (V17_*)
    chest_v18: bool = False  # v18: rounded retrosternal fat, a 3-D bowel field, the chest's sides curved (V18_*)
    ribs_v19: bool = False  # v19: ribs as flat curved plates (cortex, marrow), cartilage to the sternum (RibsV19)
    ribs_v20: bool = False  # v20: v19's ribs as thin slices cut them (ovals), varied; calcified cartilage (RibsV20)
    root_back: bool = False  # v21: the aortic root and the left main further back in the heart (V21_ROOT_BACK_MM)
    heart_v22: bool = False  # v22: the heart's outline one smooth field with a right ventricle (heart_v22.py)
    liver_v22: bool = False  # v22: the liver's lower-medial outline rounded, no box corners (_liver_v22)
    lean_heart: bool = False  # v23: some hearts with little epicardial fat and thin coronary sheaths (V23_*)
    lcx_border: bool = False  # v24: the LCX at the heart's left border, against the lung (coronary.v24_lcx_border)


VERSION_FEATURES = {
    "v8": VersionFeatures(),
    "v9": VersionFeatures(mac="v9"),
    "v10": VersionFeatures(mac="v9", raised_groove=True),
    "v11": VersionFeatures(mac="v9", lcx_in_fat=True),
    "v12": VersionFeatures(mac="v9", lcx_in_fat=True, turned_heart=True),
    "v13": VersionFeatures(mac="v9", lcx_in_fat=True, left_heart=True),
    "v14": VersionFeatures(mac="v9", lcx_in_fat=True, high_right_dome=True),
    "v15": VersionFeatures(mac="v9", lcx_in_fat=True, high_right_dome=True, kyphosis=True),
    "v16": VersionFeatures(mac="v9", lcx_in_fat=True, high_right_dome=True, kyphosis=True, abdomen=True),
    "v17": VersionFeatures(mac="v9", lcx_in_fat=True, high_right_dome=True, kyphosis=True, abdomen=True,
                           spine_v17=True),
    "v18": VersionFeatures(mac="v9", lcx_in_fat=True, high_right_dome=True, kyphosis=True, abdomen=True,
                           spine_v17=True, chest_v18=True),
    "v19": VersionFeatures(mac="v9", lcx_in_fat=True, high_right_dome=True, kyphosis=True, abdomen=True,
                           spine_v17=True, chest_v18=True, ribs_v19=True),
    "v20": VersionFeatures(mac="v9", lcx_in_fat=True, high_right_dome=True, kyphosis=True, abdomen=True,
                           spine_v17=True, chest_v18=True, ribs_v19=True, ribs_v20=True),
    "v21": VersionFeatures(mac="v9", lcx_in_fat=True, root_back=True),
    "v22": VersionFeatures(mac="v9", lcx_in_fat=True, high_right_dome=True, kyphosis=True, abdomen=True,
                           spine_v17=True, chest_v18=True, ribs_v19=True, ribs_v20=True, heart_v22=True, liver_v22=True),
    "v23": VersionFeatures(mac="v9", lcx_in_fat=True, root_back=True, lean_heart=True),
    "v24": VersionFeatures(mac="v9", lcx_in_fat=True, root_back=True, lean_heart=True, lcx_border=True),
}
"""The one place that says which anatomy version has which feature (session 16; the modules ask features(version)
instead of comparing version names)."""
ANATOMY_VERSIONS = tuple(VERSION_FEATURES)
"""The versions make_patient can draw (earlier ones only through the tests' monkeypatches); the CLI's --anatomy
choices."""


def features(version: str) -> VersionFeatures:
    """VERSION_FEATURES of ``version`` (a one-line ValueError when it is not one of ANATOMY_VERSIONS)."""
    return VERSION_FEATURES[check_version(version)]


def check_version(version: str) -> str:
    """``version`` when it is one of ANATOMY_VERSIONS, else a one-line ValueError."""
    if version not in ANATOMY_VERSIONS:
        raise ValueError(f"anatomy version {version!r} unknown; drawn: {', '.join(ANATOMY_VERSIONS)}")
    return version


HU = {
    "air": -1000.0, "skin": 40.0, "fat": -100.0, "muscle": 50.0, "lung": -905.0, "mediastinum": -85.0,
    "blood": 32.0, "myocardium": 44.0, "liver": 58.0, "abdomen": 40.0, "neck": 25.0, "disc": 80.0,
    "cartilage": 110.0, "csf": 12.0, "gland": 20.0, "pericardium": 30.0, "spleen": 48.0, "stomach": 18.0,
}
"""Nominal tissue HU at 120 kVp (non-contrast). Blood and cancellous bone were lowered toward the
real LIDC-IDRI-0002 series (descending aorta 13 HU, vertebral body 175 HU at 5 mm; see docs/phantom.md)."""
CANCELLOUS_HU = 190.0
"""Vertebral cancellous bone, times the patient's bone density 0.7-1.2."""

ANATOMY_LABELS = {
    0: "outside", 1: "body_wall", 2: "lung_right", 3: "lung_left", 4: "mediastinal_fat", 5: "heart",
    6: "epicardial_fat", 7: "pericardium", 8: "aorta_ascending", 9: "aorta_arch", 10: "aorta_descending",
    11: "aorta_abdominal", 12: "pulmonary_artery", 13: "svc", 14: "ivc", 15: "airway", 16: "oesophagus",
    17: "vertebra", 18: "rib", 19: "costal_cartilage", 20: "sternum", 21: "scapula", 22: "liver",
    23: "abdomen", 24: "spleen", 25: "stomach", 26: "table", 27: "thoracic_inlet", 28: "breast",
    29: "coronary_artery", 30: "aortic_wall_calcium", 31: "cartilage_calcium", 32: "aortic_valve_calcium",
    33: "mitral_annulus_calcium", 34: "lymph_node", 35: "lung_granuloma", 36: "arch_branch", 37: "brachiocephalic_vein",
    38: "clavicle", 39: "humerus", 40: "arm", 41: "pulmonary_vein", 42: "kidney", 43: "abdominal_fat", 44: "gallbladder",
}
"""Anatomy label volume values (uint8, anatomy/<pid>.nii.gz). A voxel carries the label of the last
structure painted over it (painter's order above) that covers at least half of it; calcium blobs
(30-35) at a quarter. Coronary calcium is not here: it is in labels/<pid>.nii.gz."""
LABEL = {name: k for k, name in ANATOMY_LABELS.items()}
AORTA_SEGMENTS = ("aorta_ascending", "aorta_arch", "aorta_descending", "aorta_abdominal")


@dataclass(frozen=True)
class Tube:
    """A vessel as a centreline (n, 3) patient mm (x, y, z), radius (n,) mm and label (n,) per point."""

    points: np.ndarray
    radius: np.ndarray
    label: np.ndarray


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
    aorta_root: np.ndarray  # (x, y, z): centre of the aortic annulus
    aorta_r: float  # ascending aorta radius
    desc_c: tuple[float, float]  # (x, y) of the descending aorta at the level of the heart
    desc_r: float
    t_arch: float  # height (t) of the top of the arch's centreline
    aortic_calc: tuple[tuple[float, float, float, float, float], ...]  # (x, y, z, radius, HU)
    cartilage_calc: tuple[tuple[float, float, float, float, float], ...]
    lung_texture_seed: int
    breast: tuple[float, float, float, float, float] | None = None  # (dx from midline, y, semi-x, semi-y, t_centre)
    scapula: tuple[float, float, float] = (0.0, 0.0, 0.0)  # (angle from posterior (rad), length mm, t_bottom)
    paraspinal: tuple[float, float] = (22.0, 18.0)  # semi-axes (mm) of the paraspinal muscles
    wall: "Wall | None" = None
    # aortic valve annulus calcium (x, y, z, radius, HU): painted with the heart (noncoronary.py)
    valve_calc: tuple[tuple[float, float, float, float, float], ...] = ()
    # v2: great vessels as tubes; heart angles (literature frame) and size class
    aorta: Tube | None = None
    pulmonary: tuple[Tube, ...] = ()  # trunk, right and left pulmonary artery
    venae: tuple[Tube, ...] = ()  # SVC, IVC, left brachiocephalic vein
    arch_branches: tuple[Tube, ...] = ()  # brachiocephalic trunk, left common carotid, left subclavian
    pa_bif: np.ndarray | None = None  # (x, y, z) pulmonary trunk bifurcation
    heart_angles_deg: tuple[float, float] = (0.0, 0.0)  # long axis: (azimuth from anterior toward left, below horizontal)
    cardiomegaly: bool = False
    heart_floor_z: float = -1e9  # patient z of the heart's flat diaphragmatic surface (ventricle_shapes are cut there)
    slice_mm: float = 5.0  # reconstructed slice thickness = spacing (acquisition draw)
    arms: tuple[float, ...] | None = None  # arms down: (gap, semi-x, semi-y, dy, humerus radius, fat, t_shoulder)
    clavicles: tuple[Tube, ...] = ()
    shoulders: tuple[float, float, float] | None = None  # (widening at the top mm, dy, t where it starts)
    lung_vessels: np.ndarray | None = None  # (n, 7): x0, y0, z0, x1, y1, z1, radius (mm) of pulmonary vessel segments
    bronchi: np.ndarray | None = None  # session 11: (n, 7) lobar and segmental bronchi (outer radius), beside the arteries
    taper: float = 0.0  # v4: the cavity's width at the apices is (1 - taper) x its widest (THORAX_TAPER)
    t_widest: float = 0.0  # v4: height (t) of the cavity's widest level (lower ribs)
    taper_exp: float = 1.8  # v4: how fast the cavity widens below the apices (THORAX_TAPER_EXP)
    taper_lin: float = 0.0  # v4: the bell's slow linear part (THORAX_TAPER_LINEAR)
    apex_k: float = 70.0  # v4: how steeply the lung apices fall off laterally (mm per unit of (x / cavity half-width)^2)
    dome_top_x: float = 0.45  # v5: the domes' tops, as a fraction of the cavity's half-width from its centre
    dome_round: float = 2.0  # v5: the domes' shape exponent (2 = v4's flat-topped domes; 0.9-1.25 rounded caps)
    epi_fat_lateral_mm: float = 5.0  # v5: epicardial fat over the LV's lateral wall (v4: 5 mm all round)
    la_body: bool = False  # v5: the left atrium's body behind the aortic root, in front of the oesophagus
    sheath_prox_mm: float = 4.0  # v6: a coronary's fat sheath in the proximal grooves (v5: 4 mm everywhere)
    sheath_thin_mm: float = 4.0  # v6: its fat sheath where it lies on the myocardium (crux, PDA, lateral LCX)
    sheath_phase: float = 0.0  # v6: phase (0-1) of the sheath's slow waviness along each vessel
    crux_phi_deg: float | None = None  # v7: the crux's angle round the long axis (coronary.vessel_centrelines; None: v6's)
    pda_drift_deg: float = 0.0  # v7: how far (deg) the PDA turns toward the diaphragmatic surface's middle on its way down
    crux_bed_mm: float = 0.0  # v7: the soft-tissue bed's shift toward the heart at the crux / PDA / distal LCX (0: none)
    bed_out_mm: float = 0.0  # v7: soft tissue beyond the vessel's thin fat on its outer side there
    crux_fat_mm: float | None = None  # v7: the fat sheath on the bed (None: the sheath_profile's everywhere)
    crux_du: float = 0.0  # v7: how far (x the long semi-axis) the inferior AV groove dips toward the apex at the crux
    chest_realism: bool = False  # session 11 (CHEST_REALISM): lung_vessels are grown trees (lungvessels.py), rib necks
    body: Body | None = None  # session 12 (BODY_REALISM): body-wall muscle bellies, vertebral parts, lung fissures
    thorax: Thorax | None = None  # session 13 (THORAX_REALISM): the upper chest's slope, mediastinal nodes, denser trees
    lcx_sheath_mm: float | None = None  # v11: the LCX's fat sheath all along it (None: coronary.sheath_profile's)
    carina_below_mm: float = 12.0  # session 14: the carina this far below the arch's centreline top (MEDIASTINUM_REALISM)
    hilar: tuple[Tube, ...] = ()  # session 14 (MEDIASTINUM_REALISM): lobar pulmonary arteries and the pulmonary veins
    hilar_roots: tuple[np.ndarray, np.ndarray] | None = None  # session 14: (arterial, venous) roots of the lung trees
    sternum: "Sternum | None" = None  # session 14 (MEDIASTINUM_REALISM): manubrium and body, sternal angle
    right_dome_raise_mm: float = 0.0  # v14: the right dome's top this far above z_dome_mm (the heart's floor stays)
    kyphosis: "tuple[float, float, float, float] | None" = None  # v15: (apex above the carina, radius above, below, back share)
    abdomen: "Abdomen | None" = None  # v16: the upper abdomen's organs (_paint_abdomen_v16)
    lm_ostium_sheath_mm: float | None = None  # v21: the left main's fat sheath at its ostium (coronary.sheath_profile)
    root_back_mm: float = 0.0  # v21: the aortic root (great vessels, ostia) and the left main moved this far back (+y)
    epi_lean_mm: float | None = None  # v23: a lean heart's epicardial fat (mm; render_heart grows the myocardium to it)
    la_body_x: tuple[float, float] = (8.0, 34.0)  # the left atrial body's centre left of the root-spine midpoint, half-width cap (mm)
    la_e3: tuple[float, float] = (0.45, 0.6)  # the left atrium's centre along e3 and its semi-axis there (x semi[2])
    lv_base: tuple[tuple[float, ...], tuple[float, ...]] | None = None  # v24: (centre, semi) of the left ventricle's base bulge (heart frame)
    groove_u: float | None = None  # v24: the AV groove's u (render_heart's atria, ring), kept when the LCX moves off it
    extra_below_slices: int = 0  # v16: slices added below v15's scan (n_slices includes them; the motion keeps v15's)
    spine_v17: bool = False  # v17: kyphosis_shift_mm undamped at the heart's levels, referred to V17_HEART_FWD_MM
    front_tilt: float = 0.0  # v17: tan of the anterior chest wall's and sternum's forward tilt below upper_chest_z
    side_curve_mm: tuple[float, float] = (0.0, 0.0)  # v18: the chest's sides moved in (mm) at the apex / the scan's bottom
    ribs_v19: RibsV19 | None = None  # v19: the ribs' and cartilages' cross-section and density (_paint_rib_sections_v19)
    heart_v22: bool = False  # v22: render_heart paints the outline from one smooth field with a right ventricle
    liver_v22: bool = False  # v22: the liver's lower-medial outline a rounded curve (_liver_v22), painted only


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


# Literature ranges used below (adults, non-contrast CT):
# - heart long axis: ~45 deg (30-60) from the sagittal plane toward the left in the axial plane, and
#   pointing ~20-45 deg below the horizontal (apex anterior-left-inferior);
# - diameters: aortic root (sinus) 30-37 mm, ascending aorta 27-36 mm, arch 24-31 mm, descending
#   thoracic 20-28 mm, abdominal at the hiatus 18-24 mm; pulmonary trunk 22-29 mm (< 29 normal),
#   right/left pulmonary arteries 16-22 mm; SVC 15-22 mm; IVC 18-26 mm.
SPINE_PROTRUSION_MM = (22.0, 40.0)
"""How far the vertebral bodies stand forward of the cavity ellipse's back (real 0001-0003: the vertebral
front at 65-69 % of the sternum-to-posterior-rib depth)."""
MIN_STERNUM_TO_VERTEBRA_MM = (118.0, 140.0)
HEART_AZIMUTH_DEG = (27.0, 60.0)
PERICARDIUM_REACH_MM = 6.5
"""The pericardium's outer surface outside the myocardium ellipsoid (coronary.PERICARDIUM_OUT_MM + PERICARDIUM_MM)."""
HEART_ELEVATION_DEG = (20.0, 45.0)
DOME_LEFT_BELOW_MM = (4.0, 16.0)
"""How far the left dome's top lies below the right one's (v5; v4: 8-25 mm, the same draw mapped onto this range so
that no later draw changes). Measured on the three real series (bench/phantom_geometry.py, coronal through the lungs'
mid-depth): 5, 5 and 7.5 mm; v4's phantoms 10-20 mm."""
P_CARDIOMEGALY = 0.12
HEART_CHEST_EXPONENT = 0.5
"""Heart size x (cavity width / 290 mm) ** this: larger chests hold larger hearts, less than in proportion (the
three real series: cardiothoracic ratio 0.37 in the widest chest, 0.43-0.45 in the others)."""


V12_HEART = {"azimuth_deg": (20.0, 55.0), "elevation_deg": (20.0, 45.0)}
"""v12: the heart's long-axis azimuth and elevation ranges (degrees). The same uniform draws as HEART_AZIMUTH_DEG /
HEART_ELEVATION_DEG, mapped onto these ranges, so every later draw of the patient's stream is unchanged (only what
depends on the heart's pose moves). Chosen with bench/heart_rotation_sweep.py (docs/phantom.md, "Anatomy v12")."""


HEART_TRIES = ((1.0, 1.0), (1.0, 0.75), (1.0, 0.5), (0.95, 0.4), (0.9, 0.3), (0.85, 0.2), (0.8, 0.1))
"""_draw_heart's tries (size factor, share of the drawn leftward offset kept) when the left AV groove would meet the
descending aorta: smaller and nearer the midline, step by step (v4-v12)."""
V13_SHRINKS = (0.9, 0.85, 0.8)
V13_LEFT_SHIFTS_MM = (6.0, 12.0, 18.0, 24.0, 30.0, 36.0)
"""v13 (session 16, wt24c; opt-in): the heart's place and size when its left AV groove would meet the descending aorta.
v4-v12 (HEART_TRIES) then draw it smaller and nearer the midline, step by step: in v11, 17 of 24 patients of seed
12201 ended at the tries' floor, the ventricles' centre 8 mm left of the body's centre, so the whole heart sat
centred on the midline (its pericardial sac's centroid 1 mm from it; the three real series: 10-26 mm left of it,
59-80 % of the sac left of it; docs/phantom.md, "Heart size and placement (session 16, wt24c)"). v13 first tries the
heart at each size factor of V13_SHRINKS (the real hearts' transverse and AP extents lie at v11's 10th percentile),
V13_LEFT_SHIFTS_MM further left than its drawn place, keeping the first clear of the aorta, then v11's tries.
No new draw: every draw of the patient's stream is v11's; the aorta's own place is v11's draw. (The first v13,
shifts 0-24 mm, moved only half the hearts of seed 12202 and failed its pre-registered check; these shifts were
chosen on seed 12201 ids 1-24: the sac's share left of the midline 0.53 / 0.71 / 0.80, p10 / p50 / p90.)"""


def heart_tries(version: str) -> tuple[tuple[float, float, float], ...]:
    """(size factor, share of the drawn offset kept, extra leftward shift mm) in the order _draw_heart tries them."""
    v11 = tuple((s, m, 0.0) for s, m in HEART_TRIES)
    v13 = tuple((f, 1.0, d) for f in V13_SHRINKS for d in V13_LEFT_SHIFTS_MM)
    return v13 + v11 if features(version).left_heart else v11


def heart_ranges(version: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """(azimuth, elevation) ranges (deg) the heart's pose is drawn from in anatomy ``version``."""
    if features(version).turned_heart:
        return V12_HEART["azimuth_deg"], V12_HEART["elevation_deg"]
    return HEART_AZIMUTH_DEG, HEART_ELEVATION_DEG


def heart_frame(az_deg: float, el_deg: float) -> np.ndarray:
    """(3, 3) rows: e1 long axis (base -> apex, anterior-left-inferior), e2 the short-axis direction toward
    the top of the base (anterior-superior: where the aortic root, the left main and the LAD's origin
    lie), e3 = e2 x e1 the horizontal short-axis direction toward the patient's left and back (the LV's
    lateral wall, the obtuse margin). -e2 is the diaphragmatic (inferior) surface, -e3 the right
    ventricle's acute margin (anterior-right)."""
    az, el = np.deg2rad(az_deg), np.deg2rad(el_deg)
    e1 = np.array([np.cos(el) * np.sin(az), -np.cos(el) * np.cos(az), -np.sin(el)])
    e3 = _unit(np.array([-e1[1], e1[0], 0.0]))  # horizontal, perpendicular to e1
    if e3[0] < 0:
        e3 = -e3
    e2 = np.cross(e3, e1)
    if e2[2] < 0:
        e2, e3 = -e2, e3
    return np.stack([e1, e2, e3])


def heart_angles(axes: np.ndarray) -> tuple[float, float]:
    """(azimuth, elevation) in degrees of a long axis e1 = axes[0]: the inverse of heart_frame."""
    e1 = axes[0]
    return (float(np.degrees(np.arctan2(e1[0], -e1[1]))), float(np.degrees(np.arcsin(-e1[2]))))


def _spline_tube(ctrl: list[tuple[float, float, float]], radii: list[float], labels: list[int],
                 step_mm: float = 2.0) -> Tube:
    """A smooth tube through control points (x, y, z): cubic spline by chord length, sampled every step_mm."""
    c = np.asarray(ctrl, float)
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(c, axis=0), axis=1))])
    k = min(3, len(c) - 1)
    spl = make_interp_spline(s, c, k=k)
    si = np.linspace(0, s[-1], max(int(s[-1] / step_mm) + 1, 2))
    pts = spl(si)
    rad = np.interp(si, s, radii)
    lab = np.asarray(labels)[np.clip(np.searchsorted(s, si, side="right") - 1, 0, len(labels) - 1)]
    return Tube(pts, rad, lab.astype(np.uint8))


HEART_FLOOR_BELOW_DOME_MM = (2.0, 15.0)
"""The heart's flat diaphragmatic surface (the central tendon) below the top of the right dome."""
HEART_FLOOR_CUT = (0.08, 0.2)
"""Fraction of the ventricles' height that the diaphragm flattens (the part of the drawn shape below the floor)."""
V14_RIGHT_DOME_RAISE_MM = (0.0, 25.0)
"""v14 (session 17, wt25d; opt-in): how far the right dome's top (the liver) rises above v11's (z_dome_mm), drawn
uniformly from a stream of its own ([texture seed, 20]); the heart, its floor and the left dome stay where v11 draws
them. Toward the midline the raise falls off smoothly to none (_dome_low, a smoothstep), so the two domes still meet
under the heart. Measured on the three real series (docs/dome_landmarks.json, eye-placed): the right dome's top 34 / 19 / 30 mm
above the heart's lowest point and 30 / 14 / 26 mm above the left dome's top (0001 / 0002 / 0003); v11 (seed 14606, 60
patients): 10-20 and 5-15 mm (p10-p90). Chosen on seed 14606 only (docs/phantom.md, "The diaphragm domes against the heart")."""

V15_KYPHOSIS = {"apex_h_mm": (-50.0, 15.0), "severity": (0.05, 1.7), "k_above_per_mm": 1 / 110.0,
                "k_below_per_mm": 1 / 130.0, "above_jitter": (0.8, 1.2), "below_jitter": (0.2, 1.3),
                "back_share": (-0.1, 0.7)}
"""v15 (session 18, wt26b; opt-in): the thoracic spine's sagittal curve (_draw_kyphosis). The column's most posterior
point (the apex) lies apex_h mm above the carina (uniform); above and below it the column comes forward along a
parabola (a circular arc's d^2 / 2r) of curvature severity x k_above (x above_jitter) and severity x k_below (x
below_jitter), one uniform severity for both; the back's skin follows by back_share (uniform, clipped at 0: one back
in eight does not follow). Drawn from a stream of its own ([texture seed, 21]); only painted (kyphosis_shift_mm,
_bend_spine), nothing drawn moves. Real (docs/spine_landmarks.json, eye-checked): the apex 18 / 37 mm below the carina
on 0002 / 0001 (0003: straight from 115 mm below the carina to 10 mm above it); the front 13-19 mm forward 100 mm below
the apex on 0001 / 0002 (radius about 150-180 mm), 12-34 mm forward 50-100 mm above it (radius about 100-280 mm); the
back's sagitta 0.44-0.61 of the front's. Chosen on the real series and dev seed 14812 only (docs/phantom.md, "The
spine's curve and the back (session 18, wt26b)")."""


def _draw_kyphosis(ky: np.random.Generator, severity: tuple[float, float, float] | None = None,
                   back_share: tuple[float, float] | None = None) -> tuple[float, float, float, float]:
    """v15: (apex height above the carina, radius above, radius below, the back's share of the shift) from V15_KYPHOSIS:
    one severity s scales both curvatures (a kyphotic spine is curved above and below its apex), each jittered."""
    k = V15_KYPHOSIS
    apex = float(ky.uniform(*k["apex_h_mm"]))
    if severity is None:
        sev = float(ky.uniform(*k["severity"]))
    else:  # v16: the same uniform draw mapped onto V16_SEVERITY (lo, hi, power): a longer tail of kyphotic spines
        sev = float(severity[0] + (severity[1] - severity[0]) * ky.uniform() ** severity[2])
    r_up = 1.0 / (sev * k["k_above_per_mm"] * float(ky.uniform(*k["above_jitter"])))
    r_low = 1.0 / (sev * k["k_below_per_mm"] * float(ky.uniform(*k["below_jitter"])))
    share = k["back_share"] if severity is None else V16_BACK_SHARE  # v16: the same draw, a wider range
    if back_share is not None:  # v17: the same draw mapped onto its own range
        share = back_share
    return apex, r_up, r_low, max(float(ky.uniform(*share)), 0.0)  # 1 in 8 (v16: 9) backs do not follow


V15_KYPHOSIS_MAX_MM = 45.0
"""v15: the forward shift saturates toward this (F tanh(f / F); the neck's lordosis starts above the scanned thorax)."""
V15_VERT_PERIOD_MM = (20.5, 26.0)
"""v15: a vertebra's height with its disc (v4-v14: 24-28 mm). Real, from the discs' spacing along the column over the
carina -100..+60 mm (bench/spine_curve.py disc_period, the autocorrelation of the HU profile 8 mm behind the column's
front): 21.7 / 21.2 / 25.1 mm (0001 / 0002 / 0003; 0002's discs placed by eye: 21.1)."""
V15_HEART_DAMP = 0.45
"""v15: at the heart's levels the column follows this share of its curve (the aorta and the oesophagus in front of it
are drawn against the straight column; the whole curve squeezed the aorta into the vertebral body on dev patients)."""
V15_NARROW_BEND_MM = 35.0
"""v15: at the heart's levels (from its floor - 10 mm to upper_chest_z) only the rows from this far in front of the
vertebral bodies' front backwards are moved (stretched or squeezed to meet the moved column: the descending aorta, the
oesophagus, the back of the pericardial sac); the heart's painter paints over the background afterwards, its coronary
calcium inside the epicardial fat, so the truth does not change (tests/test_phantom_v15.py; the check's 30 patients);
elsewhere the band reaches to 15 mm behind the body's front."""


V16_SEVERITY = (0.05, 2.6, 1.5)
"""v16: the kyphosis severity = lo + (hi - lo) u ** power of v15's uniform draw u (v15: V15_KYPHOSIS["severity"] 0.05-1.7,
linear): v15's second check left real 0001's front angle (41.8 degrees) above all 28 measured patients (max 39.3). On
dev seed 14838 (ids 1-20, 256 px) 0.05-2.2 linear with V16_HEART_DAMP 0.6 reached a front angle of 42.3 and a back
angle of 20.8 (0001: 21.2) at most; the power keeps the straight spines (0003) and lengthens the kyphotic tail."""
V16_BACK_SHARE = (-0.1, 0.8)
"""v16: the back's share of the column's shift (v15: V15_KYPHOSIS["back_share"] -0.1-0.7, the same draw): on dev seed
14838 the back's sagitta and angle reached 0001's (10.6 mm, 21.2 degrees) only in one patient with v15's range."""
V16_HEART_DAMP = 0.6
"""v16: the share of the curve the column follows at the heart's levels (v15: V15_HEART_DAMP 0.45, set before the
descending aorta moved with the column, 3755d27); with V16_SEVERITY alone dev seed 14838's front angle stayed <= 38.3
degrees on 18 patients (the lower line of the angle lies at the heart's levels)."""
V17_SEVERITY = (0.05, 2.1, 1.6)
"""v17 (session 20, wt28d): the kyphosis severity (lo, hi, power of v15's uniform draw; v16: 0.05-2.6, power 1.5). v16
left real 0001's front angle (41.8 degrees) above all 33 measured check patients (max 38.9): the damping at the heart's
levels (V16_HEART_DAMP), not the severity, held the angle down (wt27c). v17 paints the whole curve there
(kyphosis_shift_mm) and so needs less severity: on 100 drawn curves of dev seed 14862 (no rendering,
/work/runs/wt28d/ana2.py) this range gives front angles p10 / p90 6.8 / 51.9 degrees and back angles 0 / 18.4."""
V17_BACK_SHARE = (-0.1, 0.8)
"""v17: the back's share of the column's shift (v16 -0.1-0.8; with the undamped column v16's share put the back's
sagitta's p90 at 15 mm on the drawn curves, real 0001 10.6; 0.6 with the skin referred to the scan's most backward
shift (bend_source_rows' g_skin) left 0001's back angle 21.2 just above p90 (20.2) on dev seed 14862 ids 1-30)."""
V17_VERT_PERIOD_MM = (19.5, 27.0)
"""v17: the vertebral period (v15/v16: V15_VERT_PERIOD_MM 20.5-26, the same draw mapped): on dev seed 14862 (ids 1-30)
the measured period's p10 / p90 were 20.7 / 25.2 mm against the real 21.2 (0002) and 25.1 (0003): widened so that a
p10-p90 range covers them (20.0-27.0 on the same dev ids: p10 21.3, just above 0002's 21.2)."""
V17_HEART_FWD_MM = 8.0
"""v17: at the heart's levels the column comes at most this far forward of its drawn place (the heart, the oesophagus
and the aorta's neighbours are drawn against the straight column; the descending aorta moves with it, _bend_spine):
the curve is referred to its most forward point there less this, or to the heart's middle as before when that is
further forward. Where it recedes, the band in front of it (V15_NARROW_BEND_MM) is stretched, so the posterior
mediastinum deepens toward the apex of the curve, as on the kyphotic real series 0001."""
V17_FRONT_TILT_DEG = (0.0, 28.0)
"""v17: the anterior chest wall and the sternum's body tilt forward going down by this angle (uniform, degrees) below
upper_chest_z (_tilt_front_wall). Real (bench/sternum_tilt.py, the sternum's front cortex on a midline sagittal, each
picture checked by eye): the sternum's line 10.7 / 16.6 / 18.0 degrees from the scan's axis (0001 / 0002 / 0003),
the skin's 8.1 / 19.1 / 19.7; v16's sternum body is vertical (2.5-5 degrees over the sternum with its manubrium, dev
seed 14864 ids 1-3), the manubrium leaning back from a kink at upper_chest_z. Dev seed 14864 (ids 1-30, 256 px):
with 6-28 degrees the skin's tilt p10 (11.1) lay above 0001's 8.1; with 2-28 9.6; the range starts at 0 (a chest with
v16's vertical front) to widen the low end."""
V17_FRONT_BAND_MM = 25.0
"""v17: the rows from 2 mm behind the sternum's back this deep are stretched to meet the tilted wall (the heart's
painter paints the heart over them afterwards; what shows between is the tissue that lay in front of it)."""
V16_DOME_ROUND = (1.0, 1.3)
"""v16: the domes' shape exponent (v5-v15: 1.55-1.85, flat-topped caps with a shelf on a coronal reformat); v16 maps
the same draw onto this range: rounder caps, the lung's floor falling from each top laterally and medially."""
V16_EXTRA_BELOW_MM = (20.0, 90.0)
"""v16: the scan reaches this much lower than v15's (slices added below; v15's slices keep their place), so that the
upper abdomen (the liver's lower part, the stomach, the spleen, the kidneys' upper poles) shows as on real chest CT."""
V16_HU = {"kidney": 32.0, "bowel": 35.0, "fluid": 12.0, "abd_fat": -95.0, "gastric_wall": 45.0}
"""v16: non-contrast HU of the organs v15 lacked (kidney 30-35, bile and gastric fluid 0-20, fat -90..-100)."""


@dataclass(frozen=True)
class Abdomen:
    """v16's upper-abdominal organs (mm, fractions of the cavity's semi-axes: dx = (x - cx) / ca, dy = (y - cy) / cb)."""

    liver_left: float  # how far (dx) the liver's left lobe reaches across the midline at its top, in front
    liver_low_mm: float  # the right lobe's lowest point below the right dome's top
    stomach: tuple[float, ...]  # (dx, dy, semi-x frac, semi-y frac, half-height mm, gas share of its depth, wall mm)
    spleen: tuple[float, ...]  # (dx, dy, semi-x frac, semi-y frac, half-height mm)
    kidneys: tuple[float, ...]  # (right pole below z_dome, left pole below z_dome, length mm, semi-x, semi-y, fat rim mm)
    gallbladder: tuple[float, ...] | None  # (dx, dy, depth below the right dome's top, semi-x, semi-y, half-height)
    fat_plane_mm: float  # the fat between the liver and the organs beside / below it
    bowel_seed: int
    vessels: tuple = ()  # straight continuations of the abdominal aorta and the IVC down to the lower scan's bottom


def _draw_abdomen_v16(ab: np.random.Generator, anat: "Anatomy") -> "Anatomy":
    """v16's draws from their own stream ([texture seed, 22]): the organs, the rounder domes (V16_DOME_ROUND, the same
    draw mapped), the scan's extension below (V16_EXTRA_BELOW_MM). Nothing drawn before moves."""
    lo, hi = 1.55, 1.85  # _draw_v5's range of dome_round
    rnd = V16_DOME_ROUND[0] + (anat.dome_round - lo) / (hi - lo) * (V16_DOME_ROUND[1] - V16_DOME_ROUND[0])
    abd = Abdomen(
        liver_left=float(ab.uniform(0.3, 0.65)), liver_low_mm=float(ab.uniform(120, 190)),
        stomach=(float(ab.uniform(0.2, 0.4)), float(ab.uniform(-0.4, -0.15)), float(ab.uniform(0.22, 0.32)),
                 float(ab.uniform(0.3, 0.42)), float(ab.uniform(45, 75)), float(ab.uniform(0.05, 0.6)),
                 float(ab.uniform(3, 5))),
        spleen=(float(ab.uniform(0.58, 0.72)), float(ab.uniform(0.05, 0.35)), float(ab.uniform(0.16, 0.22)),
                float(ab.uniform(0.28, 0.4)), float(ab.uniform(45, 65))),
        kidneys=(float(ab.uniform(60, 95)), float(ab.uniform(50, 85)), float(ab.uniform(48, 60)),
                 float(ab.uniform(24, 30)), float(ab.uniform(20, 26)), float(ab.uniform(5, 16))),
        gallbladder=((float(ab.uniform(-0.4, -0.2)), float(ab.uniform(-0.5, -0.3)), float(ab.uniform(55, 90)),
                      float(ab.uniform(12, 18)), float(ab.uniform(12, 18)), float(ab.uniform(25, 40)))
                     if ab.random() < 0.6 else None),
        fat_plane_mm=float(ab.uniform(2, 5)), bowel_seed=int(ab.integers(2**31)))
    extra = int(round(float(ab.uniform(*V16_EXTRA_BELOW_MM)) / anat.slice_mm))
    # the abdominal aorta and the IVC were drawn to 10 mm below v15's scan: continue them straight down (separate
    # tubes painted with the abdomen, so the drawn ones and everything sampled along them stay v15's)
    z_low = anat.z_dome_mm + anat.t_top - anat.slice_mm * (anat.n_slices + extra) - 10.0
    ext = []
    for t in (anat.aorta, anat.venae[1] if len(anat.venae) > 1 else None):
        if t is None:
            continue
        i = int(np.argmin(t.points[:, 2]))
        p0 = t.points[i]
        if p0[2] <= z_low:
            continue
        zs = np.linspace(p0[2], z_low, max(int(np.ceil((p0[2] - z_low) / 2.0)), 2))
        pts = np.column_stack([np.full_like(zs, p0[0]), np.full_like(zs, p0[1]), zs])
        ext.append(Tube(pts, np.full(len(zs), float(t.radius[i])), np.full(len(zs), int(t.label[i]))))
    abd = replace(abd, vessels=tuple(ext))
    return replace(anat, abdomen=abd, dome_round=float(rnd), n_slices=anat.n_slices + extra, extra_below_slices=extra)


def ventricle_shapes(centre: np.ndarray, axes: np.ndarray, semi: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ventricles as the union of three ellipsoids in the heart's frame (rows of ``axes``): a wide basal one, a
    middle one and a narrower apical one (cross-section b, 0.91 b, 0.8 b, 0.7 b, 0.37 b at u = -0.3, 0, 0.25,
    0.5, 0.9), so the ventricular mass is widest near the AV groove and tapers to the apex like a
    rounded cone (v2's single ellipsoid was widest at mid-ventricle and looked like a ball in coronal and
    sagittal reformats). ``semi`` keeps its v2 meaning (long, e2, e3 semi-axes of the envelope); the union
    spans -1.02 .. +1.0 x semi[0] along the long axis. Returns [(centre (x, y, z), semi (3,))]."""
    a, e1 = float(semi[0]), axes[0]
    return [(centre - 0.3 * a * e1, semi * np.array([0.72, 1.0, 1.0])),
            (centre, semi * np.array([0.6, 0.88, 0.88])),  # smooths the waist between the two
            (centre + 0.33 * a * e1, semi * np.array([0.67, 0.72, 0.72]))]


def _shapes_extent(shapes: list[tuple[np.ndarray, np.ndarray]], axes: np.ndarray, k: int) -> tuple[float, float]:
    """(min, max) along patient axis k (0 x, 1 y, 2 z) of a union of ellipsoids in the frame ``axes``."""
    lo = min(float(c[k] - np.sqrt(((axes[:, k] * s) ** 2).sum())) for c, s in shapes)
    hi = max(float(c[k] + np.sqrt(((axes[:, k] * s) ** 2).sum())) for c, s in shapes)
    return lo, hi


HEART_AORTA_GAP_MM = 7.0
"""The left AV groove (where the LCX runs) keeps this far from the descending aorta's wall (_clear_of_groove)."""


def _groove_gap(hc: np.ndarray, axes: np.ndarray, semi: np.ndarray, floor: float, xy: tuple[float, float],
                r: float) -> float:
    """Smallest horizontal distance (mm) from the left AV groove band (u -0.52..-0.36, where the LCX runs) to the
    wall of a vertical tube of radius r at xy: the descending aorta beside the spine."""
    u = np.repeat([-0.52, -0.44, -0.36], 30)
    g = heart_surface(_HeartOnly(hc, axes, semi, floor), u, np.tile(np.linspace(15, 215, 30), 3), np.full(len(u), 2.5))
    return float(np.hypot(g[:, 0] - xy[0], g[:, 1] - xy[1]).min() - r)


def _draw_heart(rng: np.random.Generator, *, body_c, cav_c, cav_ab, spine_c, spine_r, z_dome, aorta_xy=None, aorta_r=12.0,
                version: str = ANATOMY_VERSION):
    """Heart centre, frame, semi-axes, angles, cardiomegaly flag and the diaphragm's height under it (its floor).

    v4: the size scales with the thoracic cavity's width (a real heart is about 0.37-0.5 of it: docs/phantom.md),
    and where the left AV groove would run into the descending aorta at its real place (``aorta_xy``: in front of
    the vertebral body, left of it) the heart is drawn a little smaller (down to 0.8 x) instead of the aorta being
    pushed behind the vertebral front (v3: median 5.5 mm behind it; real: 3-15 mm in front)."""
    semi0 = np.array([rng.uniform(60, 72), rng.uniform(50, 62), rng.uniform(48, 61)])
    big = bool(rng.random() < P_CARDIOMEGALY)
    if big:
        semi0 = semi0 * np.array([rng.uniform(1.08, 1.22), rng.uniform(1.12, 1.3), rng.uniform(1.1, 1.28)])
    semi0 = semi0 * float(np.clip(2 * cav_ab[0] / 290.0, 0.8, 1.2)) ** HEART_CHEST_EXPONENT
    az_range, el_range = heart_ranges(version)  # v12: the same two uniform draws on other ranges
    az, el = rng.uniform(*az_range), rng.uniform(*el_range)
    u_gap, u_x = rng.random(), rng.uniform(0.06, 0.36)
    floor = z_dome - rng.uniform(*HEART_FLOOR_BELOW_DOME_MM)
    cut = rng.uniform(*HEART_FLOOR_CUT)
    axes = heart_frame(az, el)
    # between the back of the sternum (cavity front + 9 mm) with 2-10 mm of retrosternal fat in front of
    # the pericardium (PERICARDIUM_REACH_MM outside the myocardium), and 15 mm in front of the vertebral
    # bodies (the oesophagus and the descending aorta lie between the left atrium and the spine)
    front = cav_c[1] - cav_ab[1] + 9.0 + PERICARDIUM_REACH_MM + 2.0
    room = (spine_c[1] - spine_r - 13) - front
    ylo, yhi = _shapes_extent(ventricle_shapes(np.zeros(3), axes, semi0), axes, 1)
    if yhi - ylo > room:
        semi0 = semi0 * room / (yhi - ylo)
    # if the groove meets the aorta: smaller and a little nearer the midline, step by step
    for shrink, toward_mid, left_mm in heart_tries(version):  # v13: first further left (V13_LEFT_SHIFTS_MM)
        semi = semi0 * shrink
        ylo, yhi = _shapes_extent(ventricle_shapes(np.zeros(3), axes, semi), axes, 1)
        hy = front + u_gap * min(8.0, max(room - (yhi - ylo), 0)) - ylo
        half_x = float(np.sqrt(((axes[:, 0] * semi) ** 2).sum()))
        # the apex reaches toward the left chest wall; most of the heart is left of the midline
        hx = body_c[0] + float(np.clip(u_x * toward_mid * half_x * 2 + left_mm, 8, 0.8 * cav_ab[0] - half_x + 6))
        # the inferior wall rests on the diaphragm: a flat floor a little below the right dome's top, the
        # drawn shape's lowest HEART_FLOOR_CUT of its height cut off there (render_heart clips at the floor)
        zlo, zhi = _shapes_extent(ventricle_shapes(np.zeros(3), axes, semi), axes, 2)
        hz = floor - cut * (zhi - zlo) - zlo
        hc = np.array([hx, hy, hz])
        if aorta_xy is None or _groove_gap(hc, axes, semi, floor, aorta_xy, aorta_r) >= HEART_AORTA_GAP_MM:
            break
    return hc, axes, semi, (float(az), float(el)), big, float(floor)


def _clear_of_heart(p: np.ndarray, r: float, hc: np.ndarray, axes: np.ndarray, semi: np.ndarray,
                    spine_c: tuple[float, float], spine_r: float, floor: float = -1e9) -> np.ndarray:
    """Move a descending-aorta control point back and left along the vertebral body's flank until the tube of
    radius r stays out of the ventricles' core (their outer 14 mm may be overlapped: render_heart paints the
    descending aorta again over the heart, as the aorta indents the back of a real heart's pericardial sac)
    and r + 9 mm from the left AV groove, where the LCX runs (so no coronary passes through the aorta).
    Keeping clear of the whole ventricular envelope instead pushed it 33 mm left and behind the vertebral
    front (the real series: 22-30 mm left, 3-15 mm in front)."""
    q = p.astype(float).copy()
    shapes = ventricle_shapes(hc, axes, semi)
    groove = heart_surface(_HeartOnly(hc, axes, semi, floor), np.full(40, -0.44), np.linspace(20, 200, 40),
                           np.full(40, 2.5))

    def inside(q: np.ndarray) -> bool:
        core = any(float(((((q - c) @ axes.T) / (s + r + PERICARDIUM_REACH_MM - 2.5)) ** 2).sum()) < 1.0
                   for c, s in shapes)
        return core or float(np.sqrt(((groove - q) ** 2).sum(axis=1)).min()) < r + 5.0

    y_back = spine_c[1] - 0.35 * spine_r  # as far back as the vertebral body's left flank allows
    for _ in range(60):
        if not inside(q):
            break
        if q[1] < y_back:  # back along the vertebral body's left flank, then left
            q[1] = min(q[1] + 1.0, y_back)
        else:
            q[0] += 1.0
    return q


def _clear_of_groove(t: Tube, *, i_from: int, hc, axes, semi, floor, spine_c, spine_r, gap_mm: float = 7.0) -> Tube:
    """Keep the descending aorta (centreline points after i_from) radius + gap_mm from the left AV groove band
    (u -0.52..-0.36, where the LCX runs): offending points move back and left along the vertebral body's flank,
    the displacement smoothed along the centreline, so no coronary runs against or inside the aorta."""
    h = _HeartOnly(hc, axes, semi, floor)
    u = np.repeat([-0.52, -0.44, -0.36], 46)
    groove = heart_surface(h, u, np.tile(np.linspace(15, 215, 46), 3), np.full(len(u), 2.5))
    pts = t.points.copy()
    disp = np.zeros_like(pts)
    y_back = spine_c[1] - 0.35 * spine_r
    for _ in range(40):
        q = pts + disp
        d = np.sqrt(((q[:, None, :] - groove[None]) ** 2).sum(axis=2)).min(axis=1) - t.radius
        bad = (d < gap_mm) & (np.arange(len(q)) > i_from)
        if not bad.any():
            break
        step = np.zeros_like(pts)
        step[bad, 0] = 1.0
        step[bad, 1] = np.where(q[bad, 1] < y_back, 1.0, 0.0)
        disp += ndimage.gaussian_filter1d(step, sigma=3.0, axis=0, mode="nearest") * 2.5
    return Tube(pts + disp, t.radius, t.label)


@dataclass(frozen=True)
class _HeartOnly:
    """The heart's fields of Anatomy, for heart_surface before the Anatomy exists."""

    heart_c: np.ndarray
    heart_axes: np.ndarray
    heart_semi: np.ndarray
    heart_floor_z: float


def _draw_great_vessels(rng: np.random.Generator, *, root, heart_c, heart_semi, heart_axes, cav_c, cav_ab, spine_c,
                        spine_r, z_dome, t_arch, z_bottom, z_top, heart_floor=-1e9, desc=(12.0, 26.0, 9.0)):
    """Aorta (one tube, labelled by segment), pulmonary trunk and arteries, SVC and IVC. ``desc``: the descending
    aorta's radius and its centre's offset left of the vertebral centre and in front of the vertebral front at the
    heart's level (drawn before the heart, which keeps its LCX groove clear of it: _draw_heart)."""
    r_desc, desc_dx, desc_dy = desc
    r_root, r_asc = rng.uniform(15, 18.5), rng.uniform(13.5, 18)
    r_arch, r_abd = r_asc * rng.uniform(0.82, 0.92), rng.uniform(9, 12)
    sx, sy = spine_c
    front_spine = sy - spine_r
    arch_z = z_dome + t_arch
    # the ascending aorta rises to the right of the midline (its right border is the upper right heart border)
    # and leans back a little; the arch then runs obliquely from front-right to back-left, in front of
    # and left of the trachea, to the descending aorta at the left back of the trachea
    asc_top = np.array([min(cav_c[0] - rng.uniform(8, 24), root[0] - 4), root[1] + rng.uniform(0, 15),
                        arch_z - rng.uniform(18, 26)])
    tr_y = front_spine - 14  # the trachea's centre (anatomy._paint_airways)
    desc_top = np.array([sx + max(rng.uniform(19, 30), 0.55 * spine_r + r_desc) + rng.uniform(0, 6),
                         front_spine - rng.uniform(0, 10), arch_z - rng.uniform(14, 22)])
    apex = np.array([cav_c[0] + rng.uniform(4, 14), min(0.5 * (asc_top[1] + desc_top[1]), tr_y - r_arch - 12),
                     arch_z])
    # real (docs/phantom.md): centre 22-30 mm left of the vertebral centre, 3-15 mm in front of its front
    desc_mid = np.array([sx + desc_dx, front_spine - desc_dy, heart_c[2]])
    hiatus = np.array([sx + rng.uniform(0, 6), front_spine - r_abd + rng.uniform(-1, 3), z_dome - rng.uniform(25, 40)])
    desc_top = _clear_of_heart(desc_top, r_desc, heart_c, heart_axes, heart_semi, spine_c, spine_r, heart_floor)
    desc_mid = _clear_of_heart(desc_mid, r_desc, heart_c, heart_axes, heart_semi, spine_c, spine_r, heart_floor)
    low = min(z_bottom - 10, hiatus[2] - 20)
    ctrl = [root, root + np.array([0, 0, 12]), 0.5 * (root + asc_top) + np.array([-2, -2, 0]), asc_top,
            apex, desc_top, desc_mid, hiatus, np.array([hiatus[0], hiatus[1] - 2, low])]
    rad = [r_root, r_root * 0.95, r_asc, r_asc, r_arch, r_desc * 1.02, r_desc, r_abd, r_abd * 0.95]
    L = LABEL
    lab = [L["aorta_ascending"]] * 3 + [L["aorta_arch"]] * 2 + [L["aorta_descending"]] * 2 + [L["aorta_abdominal"]] * 2
    aorta = _spline_tube(ctrl, rad, lab)
    aorta = _clear_of_groove(aorta, i_from=int(np.argmax(aorta.points[:, 2])),
                             hc=heart_c, axes=heart_axes, semi=heart_semi, floor=heart_floor, spine_c=spine_c,
                             spine_r=spine_r)
    # the arch ends where the centreline turns down behind the left main bronchus; the ascending aorta
    # where it stops rising steeply; re-label by height so the segments are contiguous
    z = aorta.points[:, 2]
    i_apex = int(np.argmax(z))
    seg = np.where(np.arange(len(z)) <= i_apex, L["aorta_ascending"], L["aorta_descending"])
    seg[(z > asc_top[2]) & (np.arange(len(z)) <= i_apex)] = L["aorta_arch"]
    seg[(z > desc_top[2]) & (np.arange(len(z)) > i_apex)] = L["aorta_arch"]
    seg[(np.arange(len(z)) > i_apex) & (z < z_dome - 15)] = L["aorta_abdominal"]
    aorta = Tube(aorta.points, aorta.radius, seg.astype(np.uint8))
    # pulmonary trunk: from the right ventricular outflow, anterior-left of the aortic root, up and
    # back to its bifurcation under the arch; the right PA passes behind the ascending aorta
    r_pt = rng.uniform(11, 14.5)
    r_pa = rng.uniform(8, 11)
    e_al = _unit(np.array([0.75, -0.65, 0.0]))
    pt0 = root + e_al * (r_root + r_pt - 4) + np.array([0, 0, rng.uniform(8, 14)])
    bif = np.array([root[0] + rng.uniform(20, 32), root[1] + rng.uniform(8, 20), pt0[2] + rng.uniform(30, 40)])
    bif[2] = min(bif[2], arch_z - r_arch - r_pt)
    trunk = _spline_tube([pt0, 0.5 * (pt0 + bif) + np.array([4, -2, 2]), bif], [r_pt, r_pt, r_pt * 0.95],
                         [L["pulmonary_artery"]] * 3)
    (cx, cy), (ca, cb) = cav_c, cav_ab
    rhil = np.array([cx - 0.42 * ca, cy - 0.05 * cb + 8, bif[2] - rng.uniform(6, 14)])
    lhil = np.array([cx + 0.42 * ca, cy - 0.05 * cb + 10, bif[2] - rng.uniform(0, 6)])
    behind_aorta = np.array([asc_top[0] + 2, asc_top[1] + r_asc + r_pa + 3, bif[2] - 4])
    rpa = _spline_tube([bif, behind_aorta, rhil], [r_pa, r_pa, 0.65 * r_pa], [L["pulmonary_artery"]] * 3)
    lpa = _spline_tube([bif, bif + np.array([18, 14, 4]), lhil], [r_pa, r_pa, 0.65 * r_pa], [L["pulmonary_artery"]] * 3)
    # SVC: right of the ascending aorta from the top of the scan into the right atrium
    r_svc = rng.uniform(7.5, 11)
    svc_x = asc_top[0] - r_asc - r_svc - rng.uniform(1, 5)
    svc_y = asc_top[1] + rng.uniform(2, 10)
    svc = _spline_tube([(svc_x, svc_y, z_top + 10), (svc_x, svc_y, arch_z - 30), (svc_x + 4, svc_y + 6, root[2] - 10)],
                       [r_svc] * 3, [L["svc"]] * 3)
    # IVC: from the bottom of the scan up through the liver (right, anterior to the spine) into the
    # right atrium just above the diaphragm
    r_ivc = rng.uniform(9, 13)
    ivc_x = sx - rng.uniform(18, 30)
    ivc_y = front_spine - r_ivc - rng.uniform(6, 16)
    ra = heart_c - 0.55 * heart_semi[0] * np.array([0, 0, 1.0]) + np.array([-0.45 * heart_semi[2], 6, 0])
    ivc = _spline_tube([(ivc_x, ivc_y, z_bottom - 10), (ivc_x, ivc_y, z_dome - 20), (ra[0], ra[1], z_dome + 12)],
                       [r_ivc] * 3, [L["ivc"]] * 3)
    # arch branches (brachiocephalic trunk, left common carotid, left subclavian) up to the top of the
    # scan, and the left brachiocephalic vein crossing in front of them into the SVC
    i_apex = int(np.argmax(aorta.points[:, 2]))
    arch_idx = np.nonzero(aorta.label == L["aorta_arch"])[0]
    branches = []
    for frac, dx, dy, r in ((0.2, -rng.uniform(8, 16), -rng.uniform(12, 20), rng.uniform(5, 7)),
                            (0.45, rng.uniform(6, 12), -rng.uniform(10, 16), rng.uniform(3.5, 4.5)),
                            (0.7, rng.uniform(22, 32), -rng.uniform(0, 8), rng.uniform(4, 6))):
        p0 = aorta.points[arch_idx[int(frac * (len(arch_idx) - 1))]] if len(arch_idx) else aorta.points[i_apex]
        top = (cx + dx, tr_y + dy, z_top + 10)
        mid = (0.5 * (p0[0] + top[0]), 0.5 * (p0[1] + top[1]), p0[2] + 30)
        branches.append(_spline_tube([p0, mid, top], [r, r, r], [L["arch_branch"]] * 3))
    r_bcv = rng.uniform(5, 7.5)
    bcv_z = arch_z + rng.uniform(12, 25)
    lbcv = _spline_tube([(cx + 0.35 * ca, asc_top[1] - 8, bcv_z + 25), (cx + 10, asc_top[1] - 14, bcv_z),
                         (svc_x, svc_y, bcv_z - 8)], [r_bcv] * 3, [L["brachiocephalic_vein"]] * 3)
    return aorta, (trunk, rpa, lpa), (svc, ivc, lbcv), tuple(branches), bif


def _draw_wall_calcium(rng: np.random.Generator, aorta: Tube, root: np.ndarray) -> list:
    """Aortic wall calcium (45 % of patients, 1-8 plaques): arch, descending and abdominal wall and the
    upper ascending aorta (>= 40 mm above the annulus, well above the coronary ostia)."""
    calcs = []
    if rng.random() >= 0.45:
        return calcs
    ok = np.nonzero((aorta.label != LABEL["aorta_ascending"]) | (aorta.points[:, 2] > root[2] + 40))[0]
    for _ in range(int(rng.integers(1, 9))):
        i = int(rng.choice(ok))
        p, r = aorta.points[i], aorta.radius[i]
        j = min(i + 1, len(aorta.points) - 1)
        tan = _unit(aorta.points[j] - aorta.points[max(i - 1, 0)])
        perp = _unit(np.cross(tan, rng.normal(size=3)))
        c = p + perp * r * 0.97  # in the wall
        calcs.append((float(c[0]), float(c[1]), float(c[2]), float(rng.uniform(1.0, 3.2)), float(rng.uniform(250, 1100))))
    return calcs


def _draw_cartilage_calcium(rng: np.random.Generator, *, cav_c, cav_ab, z_dome, rib_top, rib_period, rib_drop) -> list:
    """Calcified costal cartilage (50 % of patients, 1-8 patches) inside the cartilages of the ribs
    (the same rib model as _paint_ribs), beside the sternum at the heart's levels (_heart_level_rib)."""
    cart = []
    if rng.random() >= 0.5:
        return cart
    (cx, cy), (ca, cb) = cav_c, cav_ab
    for _ in range(int(rng.integers(1, 9))):
        side = rng.choice([-1.0, 1.0])
        th = rng.uniform(2.4, 2.78)  # 0 posterior, pi anterior: the cartilage band (2.3-2.8)
        k = _heart_level_rib(int(rng.integers(2, 8)), th, rib_top=rib_top, rib_period=rib_period, rib_drop=rib_drop)
        # on the band's centre line (4.5 mm outside the cavity ellipse along its normal, approximately)
        x = cx + side * (ca + 4.5) * np.sin(th)
        y = cy + (cb + 4.5) * np.cos(th)
        t = rib_top - k * rib_period - rib_drop * (1 - np.cos(th)) / 2
        r = float(rng.uniform(1.5, 3.2))
        cart.append((float(x), float(y), float(z_dome + t + rng.uniform(-2, 2)), r, float(rng.uniform(200, 650))))
    return cart


P_CARTILAGE_SEGMENTS = 0.4


def _heart_level_rib(k_draw: int, th: float, *, rib_top: float, rib_period: float, rib_drop: float) -> int:
    """The rib (0-11) of the rib model whose cartilage at angle th lies at the heart's levels (t in -10..110 mm,
    where real cartilage calcification sits a few mm in front of the pericardium), chosen by k_draw."""
    t = rib_top - np.arange(12) * rib_period - rib_drop * (1 - np.cos(th)) / 2
    ok = np.nonzero((t > -10) & (t < 110))[0]
    return int(ok[k_draw % len(ok)]) if len(ok) else int(k_draw)


def _draw_cartilage_segments(xr: np.random.Generator, *, cav_c, cav_ab, z_dome, rib_top, rib_period,
                             rib_drop) -> list:
    """Long calcified costal-cartilage segments (P_CARTILAGE_SEGMENTS of patients, 1-5): in older adults the
    calcification lines much of a cartilage (dense, lumpy, 10-40 mm long) beside the sternum, not a dot.
    Each is a chain of spheres (radius 1.5-3 mm, a radius apart, 250-800 HU) along one cartilage's
    centre line of the rib model (_paint_ribs), a rib whose cartilage is at the heart's levels, from the
    sternal end outward."""
    segs = []
    if xr.random() >= P_CARTILAGE_SEGMENTS:
        return segs
    (cx, cy), (ca, cb) = cav_c, cav_ab
    for _ in range(int(xr.integers(1, 6))):
        side = xr.choice([-1.0, 1.0])
        k_draw = int(xr.integers(2, 8))
        th1 = xr.uniform(2.6, 2.78)  # sternal end
        k = _heart_level_rib(k_draw, th1, rib_top=rib_top, rib_period=rib_period, rib_drop=rib_drop)
        th0 = th1 - xr.uniform(0.08, 0.3)
        r0, hu0 = xr.uniform(1.5, 3.0), xr.uniform(250, 800)
        arc = (th1 - th0) * 0.5 * (ca + cb)
        for th in np.linspace(th0, th1, max(int(arc / r0) + 1, 2)):
            x = cx + side * (ca + 4.5) * np.sin(th)
            y = cy + (cb + 4.5) * np.cos(th)
            t = rib_top - k * rib_period - rib_drop * (1 - np.cos(th)) / 2
            segs.append((float(x), float(y), float(z_dome + t), float(np.clip(r0 * xr.uniform(0.7, 1.2), 1.0, 3.2)),
                         float(np.clip(hu0 * xr.uniform(0.8, 1.2), 200, 1000))))
    return segs


FOV_MM = (300.0, 500.0)
"""Reconstructed field of view of the non-gated series (issue 15: 300-500 mm)."""
SLICE_MM = (5.0, 3.0, 2.5, 1.25)
SLICE_P = (0.55, 0.15, 0.15, 0.15)
"""Slice thickness (= spacing) of the non-gated series and its probabilities: COCA's 5 mm most often, thinner
reconstructions as routine chest CT has them (1.25-3 mm)."""
P_ARMS_DOWN = 0.35
"""Arms beside the chest (patients who cannot raise them); otherwise above the head, outside the scan."""


def _draw_clavicles(acq: np.random.Generator, *, cav_c, cav_ab, z_apex: float) -> tuple[Tube, ...]:
    """Two clavicles: from the top of the manubrium laterally, back and a little up to the acromion, S-curved
    (forward medially, back laterally), 6-8 mm radius, at the level of the lung apices."""
    (cx, cy), (ca, cb) = cav_c, cav_ab
    r = float(acq.uniform(6, 8))
    z0 = z_apex - acq.uniform(30, 45)
    out = []
    for side in (-1.0, 1.0):
        ctrl = [(cx + side * 14, cy - cb - 4, z0), (cx + side * 0.45 * ca, cy - cb - 10, z0 + 6),
                (cx + side * 0.85 * ca, cy - 0.75 * cb, z0 + 14), (cx + side * (ca + 18), cy - 0.35 * cb, z0 + 20)]
        out.append(_spline_tube(ctrl, [r * 1.1, r, r * 0.9, r * 1.2], [LABEL["clavicle"]] * 4))
    return tuple(out)


def _draw_lung_vessels(xr: np.random.Generator, pulmonary: tuple, *, cav_c, cav_ab) -> np.ndarray:
    """Pulmonary vessel trees: from each hilum (the end of the right / left pulmonary artery) three lobar trunks
    (upper, middle/lingula, lower) branching dichotomously 6 times (radius x 0.8, length x 0.7-0.9, 20-40 deg),
    as the branching tubes a real lung shows (v2 had only a thresholded noise texture). (n, 7) segments
    (x0, y0, z0, x1, y1, z1, radius); drawn a generation at a time (vectorised)."""
    starts, dirs = [], []
    for k, side in ((1, -1.0), (2, 1.0)):
        if len(pulmonary) <= k:
            continue
        for lobe in ((side * 0.5, 0.15, 0.85), (side * 0.8, -0.55, -0.25), (side * 0.45, 0.55, -0.75)):
            starts.append(pulmonary[k].points[-1])
            dirs.append(_unit(np.asarray(lobe) + xr.normal(0, 0.12, 3)))
    if not starts:
        return np.zeros((0, 7))
    p, d = np.asarray(starts, float), np.asarray(dirs, float)
    r = xr.uniform(4.8, 6.0, len(p))
    length = xr.uniform(28, 38, len(p))
    segs = []
    for gen in range(7):
        q = p + d * length[:, None]
        segs.append(np.column_stack([p, q, r]))
        if gen == 6:
            break
        n = len(p)
        perp = np.cross(d[:, None, :], xr.normal(size=(n, 2, 3)))
        perp /= np.linalg.norm(perp, axis=2, keepdims=True)
        ang = np.deg2rad(xr.uniform(20, 40, (n, 2)))[..., None]
        sgn = np.array([-1.0, 1.0])[None, :, None]
        nd = d[:, None, :] * np.cos(ang) + sgn * perp * np.sin(ang)
        d = (nd / np.linalg.norm(nd, axis=2, keepdims=True)).reshape(-1, 3)
        p = np.repeat(q, 2, axis=0)
        r = np.repeat(r * 0.8, 2)
        length = np.repeat(length, 2) * xr.uniform(0.7, 0.9, 2 * n)
    return np.concatenate(segs)


CHEST_REALISM = True
"""Session 11 (docs/phantom.md, "Chest realism"): lung vessel trees grown inside the lungs from the hila and the left
atrium (lungvessels.py) and bronchi beside the thick arteries, rib necks and heads joining the ribs to the vertebrae, the
scapular spine. Drawn from their own stream after every other draw, so the heart, coronaries, calcium and truth are
unchanged; False draws and paints v7's chest exactly."""


BODY_REALISM = True
"""Session 12 (docs/phantom.md, "Body realism"): the body wall as skin, subcutaneous fat of varying thickness with
fibrous septa, separate muscle bellies (pectoralis major and minor, latissimus, trapezius, serratus, rhomboids, the
erector spinae) with fat between them and the intercostal layer round the ribs, instead of concentric rings; vertebrae
with a rounded body (thin cortex, mottled cancellous bone, endplates, a waist), pedicles, laminae, transverse and
spinous processes; the interlobar fissures. Drawn from their own stream after every other draw (chestwall.draw_body),
so the heart, coronaries, calcium and truth are unchanged; False paints session 11's chest exactly."""


THORAX_REALISM = True
"""Session 13 (docs/phantom.md, "Thorax realism"): the chest's shape changes with height (the anterior chest slopes back
toward the apices, so the upper slices are shallower; the shoulders widen gradually instead of in one step), denser lung
vessel trees (bench/phantom_body_metrics.py: the lungs' share above -500 HU was half the real series'), lymph nodes in
the mediastinal fat, slimmer rib necks. Drawn from their own streams ([lung_texture_seed, 17] and 18, the trees) after
every other draw, and painted only above the heart's top, so the heart, coronaries, calcium and truth are unchanged;
False paints session 12's chest exactly."""
LUNG_TREE_SPACING_V13_MM = 13.0
"""Session 13 (THORAX_REALISM): the trees' attractor spacing (session 11: LUNG_TREE_SPACING_MM = 16): more, longer
branches; with LUNG_LEAF_R_V13 the lungs' share above -500 HU at 512 px is 0.022-0.032 on patients 1-6 of seed 0
(session 12: 0.016-0.024; the three real series 0.023-0.031; bench/phantom_body_metrics.py)."""
LUNG_LEAF_R_V13 = (0.7, 0.75)
"""Session 13: the trees' leaf radii in mm (arteries, veins; session 11: 0.6, 0.65)."""
LUNG_TREE_INERTIA_V13 = 1.0
"""Session 13: each growth step keeps this much of the node's own direction (lungvessels.colonise), so the segmental
branches run straight, as a real lung's do, instead of wandering step by step."""


def realism_switches() -> dict[str, bool]:
    """The realism switches this process draws with (a release records them beside its anatomy version, so a release
    can be matched to the chest it was drawn with)."""
    return {"CHEST_REALISM": bool(CHEST_REALISM), "BODY_REALISM": bool(BODY_REALISM),
            "THORAX_REALISM": bool(THORAX_REALISM), "MEDIASTINUM_REALISM": bool(MEDIASTINUM_REALISM)}


def carina_z(anat: Anatomy) -> float:
    """Patient z of the carina (the trachea's division; _paint_airways): carina_below_mm under the arch's centreline
    top (12 mm before session 14; MEDIASTINUM_REALISM draws it from the pulmonary bifurcation)."""
    return float(anat.z_dome_mm + anat.t_arch - anat.carina_below_mm)


MEDIASTINUM_REALISM = True
"""ON again in session 15 (wt23b, docs/phantom.md "The mediastinum switch with session 14's finder"): merged OFF in
session 14 because 4 of tests/test_chest_anatomy.py's patients failed with it; those tests are re-pinned (their
premises had moved with the anatomy, the finder was right or better on them), and session 14's finder measured with
it on against off on seed 11101 patients 1-20 (256 px) is no worse (ascending found 16 / 15, root median 18.3 / 20.2 mm,
Dice 0.828 / 0.820, sac top > 20 mm 0 / 2, calcium in the sac 0.972 both, no true coronary candidate overruled).
Session 14 (docs/phantom.md, "Arch, hila and sternum"): the aortic arch as a candy cane (the ascending aorta
rising in front of and right of the trachea, the arch curving round the trachea's left front over the left main
bronchus, the descending aorta starting left-behind it, beside the spine) instead of a bar from front-right to
back-left in front of the trachea; the carina 8-16 mm above the pulmonary bifurcation (real 9-18; before: 12 mm under
the arch's top, which put it near the bifurcation's level or above); the right pulmonary artery behind the ascending
aorta, the left one over the left main bronchus, lobar arteries and the four pulmonary veins at the hila (the lung
trees grow from their ends); the sternum as a manubrium (wide, thick) and a body (narrower, thinner) with rounded
lens-shaped sections, a sternal angle and an anterior bow. Drawn from its own stream ([lung_texture_seed, 19]) after
every other draw; the aorta below upper_chest_z - 5 mm, the pulmonary trunk and its bifurcation are kept as drawn, so
nothing inside the heart painter's reach moves. On by default (session 14's pre-registered tests, chest-finder and
speed checks; session 15's with the robust finder); False draws and paints session 13's chest exactly."""


@dataclass(frozen=True)
class Sternum:
    """Session 14 (MEDIASTINUM_REALISM): the sternum's shape (mm). z_notch / z_angle / z_xiphoid: patient z of the jugular
    notch, the sternal angle and the body's lower end; hw_*: half-widths at the notch, just above and below the
    angle and at the widest body (lower third); t_man / t_body: AP thickness; y_back: patient y of the posterior
    surface at the angle; angle_mm: the angle's forward step; lean_mm: how far back the notch lies behind the angle's
    line (the manubrium leans back); bow_mm: the body's anterior bow; cortex: cortical thickness."""

    z_notch: float
    z_angle: float
    z_xiphoid: float
    hw_notch: float
    hw_angle_m: float
    hw_angle_b: float
    hw_body: float
    t_man: float
    t_body: float
    y_back: float
    angle_mm: float
    lean_mm: float
    bow_mm: float
    cortex: float
    marrow_hu: float = 190.0

    def at(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(half-width, thickness, posterior-surface y) at patient heights z (nan outside notch..xiphoid)."""
        z = np.asarray(z, float)
        man = z >= self.z_angle
        um = np.clip((z - self.z_angle) / max(self.z_notch - self.z_angle, 1.0), 0, 1)  # 0 angle .. 1 notch
        ub = np.clip((self.z_angle - z) / max(self.z_angle - self.z_xiphoid, 1.0), 0, 1)  # 0 angle .. 1 xiphoid
        # the body widens to its lower third, then narrows to the xiphoid
        body_w = np.interp(ub, (0.0, 0.65, 0.88, 1.0), (self.hw_angle_b, self.hw_body, 0.8 * self.hw_body, 0.45 * self.hw_body))
        hw = np.where(man, self.hw_angle_m + (self.hw_notch - self.hw_angle_m) * um ** 0.7, body_w)
        th = np.where(man, self.t_man * (0.85 + 0.15 * um), self.t_body * np.interp(ub, (0.0, 0.85, 1.0), (1.0, 0.9, 0.6)))
        y = np.where(man, self.y_back + self.lean_mm * um - self.angle_mm,
                     self.y_back - self.bow_mm * np.sin(np.pi * np.clip(ub, 0, 1)) * 0.5 - self.angle_mm * (1 - ub) ** 4)
        out = (z > self.z_notch) | (z < self.z_xiphoid)
        return np.where(out, np.nan, hw), np.where(out, np.nan, th), np.where(out, np.nan, y)


def sternum_footprint(st: Sternum, z: float, x: np.ndarray, y: np.ndarray, cx: float, px: float,
                      grow: float = 0.0) -> np.ndarray:
    """Session 14: the sternum's section at height z as a coverage fraction (len(y), len(x)): a rounded lens, widest a
    little behind its middle, the anterior surface convex (a superellipse of exponent 2.6 in x across the thickness,
    so not the session-13 flat bar). ``grow`` < 0: the marrow inside the cortex."""
    hw, th, yb = (float(v[0]) for v in st.at(np.array([z])))
    if not np.isfinite(hw):
        return np.zeros((len(y), len(x)), np.float32)
    hw, th = hw + grow, th + 2 * grow
    if hw <= 0.5 or th <= 0.5:
        return np.zeros((len(y), len(x)), np.float32)
    yb = yb - (-grow)  # the posterior surface moves forward by the cortex
    v = (yb - y[:, None]) / th  # 0 posterior surface .. 1 anterior
    half = np.where(v < 0.42, 0.42, 0.58)
    q = np.clip(np.abs(v - 0.42) / half, 0, 1)
    w = hw * (1 - q ** 2.6) ** (1 / 2.6)
    fx = np.clip((w - np.abs(x[None, :] - cx)) / px + 0.5, 0, 1)
    fy = np.clip(np.minimum(v, 1 - v) * th / px + 0.5, 0, 1)
    return (fx * fy).astype(np.float32)


def _tube_between(ctrl: list, radii: list, label: str) -> Tube:
    return _spline_tube([tuple(float(c) for c in p) for p in ctrl], list(radii), [LABEL[label]] * len(ctrl))


def _remap_wall_calcium(calcs, old: Tube, new: Tube, changed_old: np.ndarray, changed_new: np.ndarray) -> list:
    """Session 14: aortic wall calcium drawn on the old arch moves to the same arc-length share of the new arch, on its
    wall (the same 0.97 x radius; the offset's direction kept as far as it is perpendicular to the new centreline)."""
    out = []
    so = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(old.points, axis=0), axis=1))])
    sn = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(new.points, axis=0), axis=1))])
    io, inew = np.nonzero(changed_old)[0], np.nonzero(changed_new)[0]
    for c in calcs:
        p = np.array(c[:3])
        i = int(np.argmin(np.linalg.norm(old.points - p, axis=1)))
        if not changed_old[i] or not len(inew):
            out.append(c)
            continue
        u = (so[i] - so[io[0]]) / max(so[io[-1]] - so[io[0]], 1e-6)
        s_t = sn[inew[0]] + u * (sn[inew[-1]] - sn[inew[0]])
        j = int(inew[np.argmin(np.abs(sn[inew] - s_t))])
        jn, jp = min(j + 1, len(new.points) - 1), max(j - 1, 0)
        tan = _unit(new.points[jn] - new.points[jp])
        off = p - old.points[i]
        off = off - (off @ tan) * tan
        if np.linalg.norm(off) < 1e-6:
            off = np.cross(tan, [0.0, 0.0, 1.0])
        q = new.points[j] + _unit(off) * new.radius[j] * 0.97
        out.append((float(q[0]), float(q[1]), float(q[2]), c[3], c[4]))
    return out


def _draw_mediastinum_v14(xr: np.random.Generator, anat: Anatomy) -> dict:
    """Session 14 (MEDIASTINUM_REALISM): the aorta above upper_chest_z - 5 mm redrawn as a candy cane round the
    trachea, its branches re-rooted on it, the wall calcium there moved with it; the carina above the pulmonary
    bifurcation; the right and left pulmonary arteries to the hila with their lobar branches and the pulmonary veins;
    the sternum. Replacement fields for dataclasses.replace (every draw from ``xr``)."""
    L = LABEL
    old = anat.aorta
    zd = anat.z_dome_mm
    (cx, cy), cb = anat.cav_c, anat.cav_ab[1]
    sx, sy, sr = anat.spine_c[0], anat.spine_c[1], anat.spine_r
    front_spine = sy - sr
    tx, ty = cx, front_spine - 14.0  # the trachea's centre (_paint_airways)
    bif = np.asarray(anat.pa_bif, float)
    root = np.asarray(anat.aorta_root, float)
    zk = upper_chest_z(anat) - 5.0  # below: the aorta as drawn (the heart painter reaches up to here)
    z, n = old.points[:, 2], len(old.points)
    i_apex = int(np.argmax(z))
    idx = np.arange(n)
    asc_hi = np.nonzero((idx < i_apex) & (z >= zk))[0]
    desc_hi = np.nonzero((idx > i_apex) & (z >= zk))[0]
    i_a = int(asc_hi[0]) if len(asc_hi) else i_apex  # first replaced point of the ascending aorta
    j_d = int(desc_hi[-1]) if len(desc_hi) else i_apex  # last replaced point of the descending aorta
    i_a, j_d = max(i_a, 2), min(j_d, n - 3)
    r_asc = float(old.radius[i_a])
    r_arch = float(old.radius[i_apex])
    r_desc = float(old.radius[j_d])
    # the arch's centreline top 34-50 mm above the bifurcation (real outer top - bifurcation 49-63 mm, radius 12-14)
    arch_z = max(float(bif[2]) + xr.uniform(34, 50), zk + 20.0)
    rho_p = 10.0 + xr.uniform(2, 5) + r_arch  # beside the trachea (radius 10) with a few mm of fat
    rho_a = max(xr.uniform(30, 42), r_asc + 14.0)
    asc_x = tx - xr.uniform(0, 12)
    arch_pts = [(asc_x, ty - rho_a, arch_z - xr.uniform(12, 20))]
    for th_deg, dz in ((15.0, -3.0), (50.0, 0.0), (88.0, -4.0), (125.0, -xr.uniform(12, 20))):
        th = np.deg2rad(th_deg + xr.uniform(-5, 5))
        rho = float(np.interp(th_deg, (15.0, 88.0), (0.85 * rho_a, rho_p)))
        arch_pts.append((tx + rho * np.sin(th), ty - rho * np.cos(th), arch_z + dz))
    desc_top = np.array([sx + max(xr.uniform(18, 28), 0.55 * sr + r_desc), front_spine - xr.uniform(-2, 8),
                         arch_z - xr.uniform(38, 48)])
    ctrl = [old.points[i_a - 2], old.points[i_a - 1]] + [np.array(p) for p in arch_pts]
    if desc_top[2] > old.points[j_d + 1, 2] + 15:
        ctrl.append(desc_top)
    ctrl += [old.points[j_d + 1], old.points[j_d + 2]]
    c = np.asarray(ctrl, float)
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(c, axis=0), axis=1))])
    spl = make_interp_spline(s, c, k=3)
    si = np.linspace(s[1], s[-2], max(int((s[-2] - s[1]) / 2.0) + 1, 3))[1:-1]
    mid = spl(si)
    s_a0, s_a1 = s[2], s[2 + len(arch_pts) - 1]
    rad_mid = np.interp(si, (s[1], s_a0, 0.5 * (s_a0 + s_a1), s_a1, s[-2]),
                        (float(old.radius[i_a - 1]), r_asc, r_arch, 0.5 * (r_arch + r_desc), float(old.radius[j_d + 1])))
    pts = np.concatenate([old.points[:i_a], mid, old.points[j_d + 1:]])
    rad = np.concatenate([old.radius[:i_a], rad_mid, old.radius[j_d + 1:]])
    changed = np.zeros(len(pts), bool)
    changed[i_a:i_a + len(mid)] = True
    lab = np.asarray(old.label).copy()
    seg = np.concatenate([lab[:i_a], np.zeros(len(mid), np.uint8), lab[j_d + 1:]])
    k_mid = np.arange(len(mid))
    arch_band = (si >= s_a0) & (si <= s_a1)
    seg_mid = np.where(si < s_a0, L["aorta_ascending"], np.where(arch_band, L["aorta_arch"], L["aorta_descending"]))
    seg[i_a:i_a + len(mid)] = seg_mid[k_mid]
    # the kept part: what was labelled arch below zk becomes ascending / descending by side
    kept_arch = (~changed) & (seg == L["aorta_arch"])
    seg[kept_arch & (np.arange(len(seg)) < i_a)] = L["aorta_ascending"]
    seg[kept_arch & (np.arange(len(seg)) >= i_a)] = L["aorta_descending"]
    aorta = Tube(pts, rad, seg.astype(np.uint8))
    changed_old = np.zeros(n, bool)
    changed_old[i_a:j_d + 1] = True
    calcs = _remap_wall_calcium(anat.aortic_calc, old, aorta, changed_old, changed)
    # arch branches re-rooted on the new arch at the same shares (brachiocephalic, left carotid, left subclavian)
    arch_idx = np.nonzero(aorta.label == L["aorta_arch"])[0]
    branches = []
    for frac, b in zip((0.15, 0.4, 0.65), anat.arch_branches):
        p0 = aorta.points[arch_idx[int(frac * (len(arch_idx) - 1))]] if len(arch_idx) else aorta.points[i_apex]
        top = b.points[-1]
        midp = (0.5 * (p0[0] + top[0]), 0.5 * (p0[1] + top[1]), p0[2] + 30)
        branches.append(_spline_tube([tuple(p0), midp, tuple(top)], [float(b.radius[0])] * 3, [L["arch_branch"]] * 3))
    # the carina 8-16 mm above the bifurcation (real 9-18 mm), at least 16 mm under the arch's centreline top
    carina = min(float(bif[2]) + xr.uniform(8, 16), arch_z - 16.0)
    # right pulmonary artery: behind the ascending aorta, in front of the right main bronchus, to the right hilum;
    # left: back over the left main bronchus, then down behind it (real: the arch over it, the AP window between)
    trunk = anat.pulmonary[0]
    r_pa = float(anat.pulmonary[1].radius[0]) if len(anat.pulmonary) > 1 else 9.0
    asc_ok = np.nonzero(aorta.label == L["aorta_ascending"])[0]
    ia = int(asc_ok[np.argmin(np.abs(aorta.points[asc_ok, 2] - (bif[2] - 4)))])
    ap, ar = aorta.points[ia], float(aorta.radius[ia])
    rhil = np.array([tx - xr.uniform(42, 55), ty - xr.uniform(2, 14), bif[2] - xr.uniform(6, 14)])
    lhil = np.array([tx + xr.uniform(42, 55), ty + xr.uniform(0, 12), bif[2] - xr.uniform(2, 10)])
    behind = np.array([min(ap[0], tx - 8.0), ap[1] + ar + r_pa + 2.0, bif[2] - 4.0])
    rpa = _tube_between([bif, behind, 0.5 * (behind + rhil) + np.array([0, 0, 1.0]), rhil],
                        [r_pa, r_pa, 0.9 * r_pa, 0.8 * r_pa], "pulmonary_artery")
    over = np.array([tx + xr.uniform(24, 32), ty - xr.uniform(0, 8), max(bif[2], carina - 6.0) + xr.uniform(0, 4)])
    lpa = _tube_between([bif, 0.5 * (bif + over) + np.array([0, 0, 2.0]), over, lhil],
                        [r_pa, r_pa, 0.9 * r_pa, 0.8 * r_pa], "pulmonary_artery")
    # lobar arteries (the truncus anterior / left upper branches up, the interlobar arteries down and back) and the
    # pulmonary veins (superior: in front of and below the artery, down into the left atrium's upper corners;
    # inferior: from behind, nearly level, into its lower corners); real hilar vessels 8-16 mm across
    la = np.array([0.5 * (root[0] + sx) + 8.0, 0.5 * (root[1] + sy - sr - 16.0), root[2]])
    hilar, art_roots, vein_roots = [], [rhil, lhil], []  # the trees also grow from each hilum itself
    for side, hil in ((-1.0, rhil), (1.0, lhil)):
        up = hil + np.array([side * xr.uniform(8, 16), -xr.uniform(6, 14), xr.uniform(20, 30)])
        down_mid = hil + np.array([side * xr.uniform(4, 9), xr.uniform(4, 9), -xr.uniform(20, 28)])
        down = hil + np.array([side * xr.uniform(10, 18), xr.uniform(12, 22), -xr.uniform(45, 60)])
        r_up, r_down = xr.uniform(4.5, 6.0), 0.8 * r_pa
        hilar.append(_tube_between([hil, 0.5 * (hil + up) + np.array([0, 0, 3.0]), up], [r_up, r_up, 0.7 * r_up],
                                   "pulmonary_artery"))
        hilar.append(_tube_between([hil, down_mid, down], [r_down, 0.85 * r_down, 0.6 * r_down], "pulmonary_artery"))
        art_roots += [up, down]
        # two segmental branches from each lobar artery's end, 25-40 deg either side of its course, so the hilum
        # branches instead of ending in two pipes. The trees grow from the lobar ends, not from these tips: ten roots
        # made each tree smaller and its stems thinner (the 90th-percentile radius within 40 mm of the hila 1.8 mm
        # against 1.1 mm beyond 100 mm, under tests/test_phantom_realism.py's 2x taper; six roots pass it)
        for lobar in hilar[-2:]:
            end, r_end = lobar.points[-1], float(lobar.radius[-1])
            d = _unit(lobar.points[-1] - lobar.points[-3])
            perp = _unit(np.cross(d, xr.normal(size=3)))
            for sgn in (-1.0, 1.0):
                ang = np.deg2rad(xr.uniform(25, 40))
                nd = d * np.cos(ang) + sgn * perp * np.sin(ang)
                tip = end + nd * xr.uniform(18, 28)
                hilar.append(_tube_between([end, 0.5 * (end + tip), tip], [0.75 * r_end, 0.65 * r_end, 0.55 * r_end],
                                           "pulmonary_artery"))
        for dz_la, hil_end in ((12.0, hil + np.array([side * xr.uniform(0, 8), -xr.uniform(14, 22), -xr.uniform(12, 20)])),
                               (-14.0, hil + np.array([side * xr.uniform(6, 14), xr.uniform(6, 16), -xr.uniform(38, 50)]))):
            start = la + np.array([side * 30.0, 0.0, dz_la])
            r_v = xr.uniform(5.5, 7.5)
            midv = 0.5 * (start + hil_end) + np.array([0, 0, 2.0])
            hilar.append(_tube_between([start, midv, hil_end], [r_v, 0.9 * r_v, 0.7 * r_v], "pulmonary_vein"))
            vein_roots.append(hil_end)
    # the sternum: manubrium 45-55 mm long down to the sternal angle (about the carina's level), the body below
    st_y = cy - cb + 3.0 + 5.0  # the session-13 bar's posterior surface
    z_angle = carina + xr.uniform(-8, 8)
    sternum = Sternum(z_notch=float(z_angle + xr.uniform(45, 55)), z_angle=float(z_angle), z_xiphoid=float(zd - 15.0),
                      hw_notch=float(xr.uniform(26, 32)), hw_angle_m=float(xr.uniform(15, 19)),
                      hw_angle_b=float(xr.uniform(11, 14)), hw_body=float(xr.uniform(14, 19)),
                      t_man=float(xr.uniform(12, 17)), t_body=float(xr.uniform(9.5, 13.5)), y_back=float(st_y),
                      angle_mm=float(xr.uniform(2, 6)), lean_mm=float(xr.uniform(3, 10)), bow_mm=float(xr.uniform(2, 5)),
                      cortex=float(xr.uniform(1.2, 1.8)), marrow_hu=float(xr.uniform(70, 150)))
    # the left brachiocephalic vein crosses in front of the arch's branches 1-2 cm above the arch (real 0002: its top
    # slice -88, the vein -80..-85); session 13's crossed at the lumen's top (4-17 mm above the centreline): it rises
    # with the arch and 8-14 mm more
    venae = anat.venae
    lift = max(arch_z - (zd + anat.t_arch), 0.0) + xr.uniform(8, 14)
    if len(venae) > 2:
        v = venae[2]
        venae = venae[:2] + (Tube(v.points + np.array([0.0, 0.0, lift]), v.radius, v.label),) + venae[3:]
    return {"aorta": aorta, "aortic_calc": tuple(calcs), "arch_branches": tuple(branches), "venae": venae,
            "t_arch": float(arch_z - zd), "carina_below_mm": float(arch_z - carina),
            "pulmonary": (trunk, rpa, lpa) + tuple(anat.pulmonary[3:]), "hilar": tuple(hilar),
            "hilar_roots": (np.asarray(art_roots), np.asarray(vein_roots)), "sternum": sternum}


def lung_contains(anat: Anatomy, pts: np.ndarray) -> np.ndarray:
    """Whether patient points (n, 3) lie in the lungs as _paint_cavity draws them (the bell-shaped cavity between the
    diaphragm and the apices, a few mm in), and not in the heart's core. (n,) bool."""
    x, y, z = pts[:, 0], pts[:, 1], pts[:, 2]
    (cx, cy), (ca, cb) = anat.cav_c, anat.cav_ab
    ext = anat.wall.post_ext if anat.wall is not None else 0.0
    dxu = ((x - cx) / ca).astype(np.float32)
    dyn = ((y - cy) / np.where(y > cy, cb + ext, cb)).astype(np.float32)
    dxn = dxu / cavity_x_scale(anat, z)
    lo = _dome_low(anat, dxu, dyn)
    hi = anat.t_apex - anat.apex_k * (dxu ** 2 + 0.6 * dyn ** 2) + anat.z_dome_mm - 60.0 * np.clip(0.35 - np.abs(dxu), 0, None)
    ok = (dxn ** 2 + dyn ** 2 < 0.9) & (z > lo + 3.0) & (z < hi - 3.0)
    local = (pts - anat.heart_c) @ anat.heart_axes.T / (0.85 * anat.heart_semi)
    ok &= (local ** 2).sum(axis=1) > 1.0
    # nor in the mediastinum (great vessels, trachea, oesophagus) or beside the vertebral body
    ok &= np.abs(x - cx - 4.0) > anat.med_halfwidth + 6.0
    sx, sy, sr = anat.spine_c[0], anat.spine_c[1], anat.spine_r
    return ok & ~((np.abs(x - sx) < 1.3 * sr + 8.0) & (y > sy - sr - 22.0))


LUNG_TREE_SPACING_MM = 16.0
"""Session 11: mean spacing of the points that the vessel trees grow toward (lungvessels.colonise): each tree ends
about one per that many mm of lung, so it sets how far out the visible vessels reach and how many there are."""


def _draw_lung_trees(xr: np.random.Generator, anat: Anatomy, spacing: float = LUNG_TREE_SPACING_MM,
                     leaf_r: tuple[float, float] = (0.6, 0.65), inertia: float = 0.0) -> np.ndarray:
    """Session 11's pulmonary vessels: an arterial tree from each hilum and a venous one from each side of the left
    atrium (a superior and an inferior vein), each grown by space colonisation toward its own random points in the
    lungs, so arteries and veins interleave, fill the lungs and taper from the hila out. (vessel segments (n, 7),
    bronchi (m, 7): _bronchi_beside the thick arteries)."""
    (cx, cy), (ca, cb) = anat.cav_c, anat.cav_ab
    ext = anat.wall.post_ext if anat.wall is not None else 0.0
    zd = anat.z_dome_mm
    lo = np.array([cx - ca, cy - cb, zd - anat.dome_depth])
    hi = np.array([cx + ca, cy + cb + ext, zd + anat.t_apex])
    n_try = int(np.prod(hi - lo) / spacing ** 3)
    sx, sy, sr = anat.spine_c[0], anat.spine_c[1], anat.spine_r
    root = anat.aorta_root
    la = np.array([0.5 * (root[0] + sx) + 8.0, 0.5 * (root[1] + sy - sr - 16.0), root[2]])
    arteries = [anat.pulmonary[k].points[-1] for k in (1, 2) if len(anat.pulmonary) > k]
    veins = [la + np.array([side * 30.0, 0.0, dz_]) for side in (-1.0, 1.0) for dz_ in (12.0, -14.0)]
    if anat.hilar_roots is not None:  # session 14: the trees grow from the lobar arteries' and the veins' ends
        arteries, veins = list(anat.hilar_roots[0]), list(anat.hilar_roots[1])
    segs, trunks = [], []
    for roots, r_leaf in ((arteries, leaf_r[0]), (veins, leaf_r[1])):
        pts = lo + xr.random((n_try, 3)) * (hi - lo)
        pts = pts[lung_contains(anat, pts)]
        if not roots or not len(pts):
            trunks.append(np.zeros((0, 7)))
            continue
        pos, parent = colonise(np.asarray(roots), pts, step=float(xr.uniform(5.5, 6.5)), max_iter=80, inertia=inertia)
        trunks.append(tree_segments(pos, parent, r_leaf=r_leaf, exponent=1 / 3))
        segs.append(trunks[-1])
        segs.append(add_twigs(xr, pos, parent, lambda q: lung_contains(anat, q), r_leaf=r_leaf))
    vessels = np.concatenate(segs) if segs else np.zeros((0, 7))
    art = trunks[0]
    if anat.hilar:  # session 14: the lobar and segmental bronchi beside the hilar arteries too (black rings at the hila)
        hil = [np.column_stack([t.points[:-1], t.points[1:], t.radius[:-1]]) for t in anat.hilar
               if int(t.label[0]) == LABEL["pulmonary_artery"]]
        art = np.concatenate([art] + hil) if hil else art
    return vessels, _bronchi_beside(anat, art, arteries)


BRONCHUS_MIN_R = 2.6
"""Session 11: arteries at least this thick (mm) get a bronchus beside them (the lobar and segmental ones, which show
as black rings at the hila of a 5 mm slab)."""


def _bronchi_beside(anat: Anatomy, art: np.ndarray, hila: list) -> np.ndarray:
    """Bronchi (n, 7: centreline segment, outer radius) beside the thick arterial segments, 0.9 x their radius, touching
    each artery above it (in front of it where it runs steeply), plus a stem from each main bronchus' end
    (_paint_airways) to its hilum. No random draw: the bronchi follow the arteries."""
    thick = art[art[:, 6] >= BRONCHUS_MIN_R]
    if not len(thick):
        return np.zeros((0, 7))
    a, b, r = thick[:, :3], thick[:, 3:6], thick[:, 6]
    d = b - a
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
    v = np.where(np.abs(d[:, 2:3]) > 0.85, np.array([[0.0, -1.0, 0.0]]), np.array([[0.0, 0.0, 1.0]]))
    o = v - (v * d).sum(axis=1, keepdims=True) * d
    o /= np.maximum(np.linalg.norm(o, axis=1, keepdims=True), 1e-9)
    rb = 0.9 * r
    shift = o * (r + rb + 0.3)[:, None]
    out = [np.column_stack([a + shift, b + shift, rb])]
    carina = carina_z(anat)
    tr_y = anat.spine_c[1] - anat.spine_r - 14
    for side, hil in zip((-1.0, 1.0), hila):
        end = np.array([anat.cav_c[0] + side * 16, tr_y + 4, carina - 35])
        out.append(np.array([np.r_[end, np.asarray(hil) + np.array([0, 0, 8.0]), 6.0]]))
    return np.concatenate(out)


V21_ROOT_BACK_MM = (0.0, 14.0)
"""v21: how far (mm, patient +y) the aortic root, with everything drawn from it (the ascending aorta and the great
vessels, the coronary ostia, the left atrium's body behind it), and the left main's bifurcation lie further back
than v11 puts them. Measured (docs/phantom.md, "(session 24, wt32a)"; bench/left_main_where.py): the eye-placed root
of LIDC-IDRI-0001 / 0002 / 0003 lies 0 / 3 / 10 mm behind the shipped model's heart reference (v11: -5, p10-p90 -10..1,
25 patients of seed 14522) and 0 / 10 / 13 mm behind the found sac's centroid (v11: 1, -3..5); the real left main
lies where v11's does from the root (ostium 2-6 mm behind its centre, v11 5) but 8-10 mm further back from the heart
reference on 0002 / 0003 (mid dy 10 / 12 against v11's 2; 0001: -2). From 0, not 4: a first range of 4-14 mm (20
patients of seed 14922) put the left main's midpoint at dy 13 (p10-p90 8-19), past 0002 / 0003 and leaving 0001's -2
outside; 0-14 covers the three. One uniform draw per patient from its own stream."""
V21_STREAM = 24
"""The v21 draw's own stream (numpy default_rng([seed, pid, V21_STREAM]), core._draws): every other draw is v11's."""


def draw_anatomy(rng: np.random.Generator, *, version: str = ANATOMY_VERSION, root_back_mm: float = 0.0) -> Anatomy:
    """Draw one patient's anatomy (all randomness from ``rng``); ``version`` changes the heart's pose ranges
    (heart_ranges: v12), its placement (heart_tries: v13) and the right dome's height (right_dome_raise_mm: v14).
    ``root_back_mm`` (v21, drawn by the caller from its own stream): the aortic root placed this far further back
    (+y) in the heart, before the great vessels are drawn from it (the same draws: they move with it)."""
    a = rng.uniform(135, 200)
    b = a * rng.uniform(0.64, 0.76)
    fov = float(np.clip(round(2 * (a + rng.uniform(12, 45))), FOV_MM[0], FOV_MM[1]))  # pixel spacing 0.59-0.98 mm at 512
    n_slices = int(rng.integers(59, 71))  # scan length in 5 mm units (the slice thickness is drawn below)
    body_c = (rng.normal(0, 8), rng.uniform(-8, 14))  # off-centre on the table
    fat = rng.uniform(6, 28)
    muscle = rng.uniform(8, 15)
    # the vertebral bodies protrude SPINE_PROTRUSION_MM into the thorax (the cavity ellipse's back moves
    # forward by it, the lungs reach as far back as before beside the spine: Wall.post_ext)
    protrude = rng.uniform(*SPINE_PROTRUSION_MM)
    spine_r = rng.uniform(15, 20)
    cb0 = b - 2 - 0.5 * fat - muscle - 2
    # keep a drawn minimum (MIN_STERNUM_TO_VERTEBRA_MM) from the back of the sternum to the vertebral front (real:
    # 126-137 mm): a deeper chest where the drawn one is too shallow (v3 went down to 88 mm and squeezed the heart
    # against the aorta)
    min_depth = rng.uniform(*MIN_STERNUM_TO_VERTEBRA_MM)  # drawn, so the deepened chests do not pile up at one value
    need = 0.5 * (min_depth + 1.55 * spine_r + 9)
    if cb0 < need:
        b, cb0 = b + need - cb0, need
    protrude = float(np.clip(min(protrude, 2 * cb0 - 1.55 * spine_r - 9 - min_depth), 0, None))
    cav_ab = (a - 2 - fat - muscle, cb0 - 0.5 * protrude)
    cav_c = (body_c[0], body_c[1] - 6 - 0.5 * protrude)
    spine_c = (body_c[0] + rng.normal(0, 2), cav_c[1] + cav_ab[1] - 0.55 * spine_r)
    t_apex = rng.uniform(190, 250)  # v4 (v3: 185-225): real lungs reach their widest 190-260 mm below the apex
    t_top = t_apex + rng.uniform(15, 45)
    z_dome = rng.uniform(-260, -110)
    # the bell-shaped thorax (v4): how much narrower at the apices, where it is widest, how fast it widens, how
    # pointed the lung apices are
    taper, t_widest = rng.uniform(*THORAX_TAPER), -rng.uniform(0, 30)
    taper_exp, apex_k = rng.uniform(*THORAX_TAPER_EXP), rng.uniform(60, 200)
    bell = (taper, t_widest, taper_exp, rng.uniform(*THORAX_TAPER_LINEAR))
    heart_scale = float(_x_scale(t_apex, np.array(40.0), *bell))  # cavity width factor at the heart
    # the descending aorta's place at the heart's level first (real: centre 22-30 mm left of the vertebral
    # centre, 3-15 mm in front of its front; docs/phantom.md), so that the heart can keep clear of it
    r_desc = rng.uniform(10, 14.5)
    desc = (r_desc, max(rng.uniform(20, 32), 0.55 * spine_r + r_desc), rng.uniform(2, 17))
    hc, axes, semi, angles, big, floor = _draw_heart(
        rng, body_c=body_c, cav_c=cav_c, cav_ab=(cav_ab[0] * heart_scale, cav_ab[1]), spine_c=spine_c, spine_r=spine_r, z_dome=z_dome,
        aorta_xy=(spine_c[0] + desc[1], spine_c[1] - spine_r - desc[2]), aorta_r=r_desc, version=version)
    e1, e2, e3 = axes
    # aortic annulus in the top of the base (between the right atrium, the left atrium and the right
    # ventricular outflow), so that the left main runs nearly level, 10-25 mm, to the left AV groove
    root = hc - 0.55 * semi[0] * e1 + 0.4 * semi[1] * e2 + 0.05 * semi[2] * e3 + np.array([0.0, root_back_mm, 0.0])
    t_arch = root[2] - z_dome + rng.uniform(62, 85)
    z_top = z_dome + t_top
    z_bottom = z_top - 5.0 * n_slices  # the scan range (5 mm units; thinner slices cover the same range)
    aorta, pulm, venae, branches, bif = _draw_great_vessels(
        rng, root=root, heart_c=hc, heart_semi=semi, heart_axes=axes, cav_c=cav_c, cav_ab=cav_ab, spine_c=spine_c, spine_r=spine_r,
        z_dome=z_dome, t_arch=t_arch, z_bottom=z_bottom, z_top=z_top, heart_floor=floor, desc=desc)
    i_desc = int(np.argmin(np.abs(aorta.points[:, 2] - hc[2]) + 1e3 * (aorta.label != LABEL["aorta_descending"])))
    desc_c = (float(aorta.points[i_desc, 0]), float(aorta.points[i_desc, 1]))
    desc_r = float(aorta.radius[i_desc])
    asc = aorta.label == LABEL["aorta_ascending"]  # the radius 30 mm above the annulus (the coronary ostia sit on it)
    aorta_r = float(aorta.radius[np.argmin(np.abs(aorta.points[:, 2] - root[2] - 30) + 1e3 * ~asc)])
    calcs = _draw_wall_calcium(rng, aorta, root)
    valve = []
    if rng.random() < 0.15:  # aortic valve annulus, below the ostia
        for _ in range(int(rng.integers(1, 4))):
            ang = rng.uniform(0, 2 * np.pi)
            valve.append((root[0] + 0.7 * aorta_r * np.cos(ang), root[1] + 0.7 * aorta_r * np.sin(ang),
                          root[2] - rng.uniform(10, 16), rng.uniform(1.0, 2.5), rng.uniform(300, 900)))
    # v4: 21-25 mm (v3: 27-33): a coronal reformat shows a rib section every 15-25 mm along the lateral wall
    rib_period, rib_top = rng.uniform(21, 25), t_apex - rng.uniform(0, 15)
    rib_drop = rng.uniform(95, 135)
    cart = _draw_cartilage_calcium(rng, cav_c=cav_c, cav_ab=cav_ab, z_dome=z_dome, rib_top=rib_top,
                                   rib_period=rib_period, rib_drop=rib_drop)
    # the cartilages of the tapering upper thorax lie nearer the midline (cavity_x_scale)
    cart = [(cav_c[0] + (x - cav_c[0]) * float(_x_scale(t_apex, z - z_dome, *bell)), y, z, r, hu) for x, y, z, r, hu in cart]
    tex_seed = int(rng.integers(2**31))
    xr = np.random.default_rng([tex_seed, 5])
    breast = None
    if xr.random() < 0.5:  # breasts (or a thick anterior soft-tissue pad): fat with a glandular core
        breast = (float(xr.uniform(0.38, 0.52) * a), float(body_c[1] - b + xr.uniform(18, 30)),
                  float(xr.uniform(50, 70)), float(xr.uniform(20, 32)), float(xr.uniform(40, 110)))
    scapula = (float(xr.uniform(0.5, 0.75)), float(xr.uniform(60, 90)), float(t_apex - xr.uniform(90, 130)))
    # long calcified cartilage segments from their own stream (every other draw unchanged)
    segs = _draw_cartilage_segments(np.random.default_rng([tex_seed, 7]), cav_c=cav_c, cav_ab=cav_ab, z_dome=z_dome,
                                    rib_top=rib_top, rib_period=rib_period, rib_drop=rib_drop)
    cart += [(cav_c[0] + (x - cav_c[0]) * float(_x_scale(t_apex, z - z_dome, *bell)), y, z, r, hu) for x, y, z, r, hu in segs]
    paraspinal = (float(xr.uniform(18, 26)), float(xr.uniform(14, 20)))
    # acquisition and thorax v3 (issue 15) from their own streams: every draw above is unchanged by them
    acq = np.random.default_rng([tex_seed, 9])
    slice_mm = float(acq.choice(SLICE_MM, p=SLICE_P))
    arms = None
    if acq.random() < P_ARMS_DOWN:  # arms down beside the chest (gap, semi-x, semi-y, dy, humerus r, fat, shoulder)
        arms = (float(acq.uniform(0, 14)), float(acq.uniform(36, 50)), float(acq.uniform(42, 58)),
                float(acq.uniform(-10, 20)), float(acq.uniform(10, 13)), float(acq.uniform(4, 16)),
                float(t_apex - acq.uniform(0, 25)))
        need = 2 * (a + arms[0] + 2 * arms[1]) + acq.uniform(-30, 30)  # the arms' outer skin, or a little cut off
        fov = float(np.clip(round(max(fov, need)), FOV_MM[0], FOV_MM[1]))
    clavicles = _draw_clavicles(acq, cav_c=cav_c, cav_ab=cav_ab, z_apex=z_dome + t_apex)
    # shoulder girdle (deltoid, trapezius, the axillary folds) widening the body above the lung apices
    shoulders = (float(acq.uniform(30, 60)), float(acq.uniform(-5, 20)), float(t_apex - acq.uniform(80, 130)))  # v4: from the axillae up (v3: 40-70)
    lung_vessels = _draw_lung_vessels(np.random.default_rng([tex_seed, 8]), pulm, cav_c=cav_c, cav_ab=cav_ab)
    wall = _draw_wall(np.random.default_rng([tex_seed, 6]), body_c=body_c, b=b, fat=fat, spine_c=spine_c,
                      spine_r=spine_r, protrude=protrude)
    anat = Anatomy(
        fov_mm=fov, n_slices=int(round(5.0 * n_slices / slice_mm)), z_dome_mm=z_dome, t_top=t_top, body_c=body_c, body_ab=(a, b),
        fat_mm=fat, muscle_mm=muscle, cav_c=cav_c, cav_ab=cav_ab, bone_scale=rng.uniform(0.7, 1.2),
        spine_c=spine_c, spine_r=spine_r, vert_period=rng.uniform(24, 28), vert_phase=rng.uniform(0, 28),
        rib_period=rib_period, rib_top=rib_top, rib_drop=rib_drop,
        dome_left=-float(np.interp(rng.uniform(8, 25), (8, 25), DOME_LEFT_BELOW_MM)), dome_depth=rng.uniform(45, 75), t_apex=t_apex,
        med_halfwidth=rng.uniform(16, 26), heart_c=hc, heart_axes=axes, heart_semi=semi,
        aorta_root=root, aorta_r=aorta_r, desc_c=desc_c, desc_r=desc_r, t_arch=t_arch,
        aortic_calc=tuple(calcs), cartilage_calc=tuple(cart), lung_texture_seed=tex_seed,
        breast=breast, scapula=scapula, paraspinal=paraspinal, wall=wall, valve_calc=tuple(valve),
        aorta=aorta, pulmonary=pulm, venae=venae, arch_branches=branches, pa_bif=bif, heart_angles_deg=angles, cardiomegaly=big,
        heart_floor_z=floor, slice_mm=slice_mm, arms=arms, clavicles=clavicles, lung_vessels=lung_vessels,
        shoulders=shoulders, taper=float(taper), t_widest=float(t_widest), taper_exp=float(taper_exp),
        taper_lin=float(bell[3]), apex_k=float(apex_k), **_draw_v5(np.random.default_rng([tex_seed, 10])),
        **_draw_v6(np.random.default_rng([tex_seed, 11])), **_draw_v7(np.random.default_rng([tex_seed, 12])),
        root_back_mm=float(root_back_mm),
    )
    if features(version).high_right_dome:  # v14: its own stream (20); before the trees, which fill the lungs
        anat = replace(anat, right_dome_raise_mm=float(np.random.default_rng([tex_seed, 20]).uniform(
            *V14_RIGHT_DOME_RAISE_MM)))
    if features(version).kyphosis:  # v15: its own stream (21); the curve is painted, nothing drawn moves
        ky = np.random.default_rng([tex_seed, 21])
        u_period = float(ky.uniform())  # the same draw as ky.uniform(*V15_VERT_PERIOD_MM), first as before
        if features(version).spine_v17:  # v17: the same draws mapped onto its own ranges (V17_SEVERITY, ...)
            curve = _draw_kyphosis(ky, V17_SEVERITY, V17_BACK_SHARE)
        else:
            curve = _draw_kyphosis(ky, V16_SEVERITY if features(version).abdomen else None)
        rng_p = V17_VERT_PERIOD_MM if features(version).spine_v17 else V15_VERT_PERIOD_MM
        anat = replace(anat, vert_period=float(rng_p[0] + (rng_p[1] - rng_p[0]) * u_period), kyphosis=curve,
                       spine_v17=features(version).spine_v17)
    if features(version).abdomen:  # v16: its own stream (22); painted below the diaphragm only
        anat = _draw_abdomen_v16(np.random.default_rng([tex_seed, 22]), anat)
    if features(version).spine_v17:  # v17: its own stream (23); painted only (_tilt_front_wall)
        anat = replace(anat, front_tilt=float(np.tan(np.radians(np.random.default_rng([tex_seed, 23]).uniform(
            *V17_FRONT_TILT_DEG)))))
    if features(version).chest_v18:  # v18: its own stream (24); painted only (_curve_sides, _fill_retrosternal_v18)
        sc = np.random.default_rng([tex_seed, 24])
        anat = replace(anat, side_curve_mm=(float(sc.uniform(*V18_SIDE_TOP_MM)), float(sc.uniform(*V18_SIDE_LOW_MM))))
    if features(version).ribs_v20:  # v20: its own stream (26); painted only (_paint_rib_sections_v19's v20 branch)
        anat = replace(anat, ribs_v19=draw_ribs_v20(np.random.default_rng([tex_seed, 26])))
    elif features(version).ribs_v19:  # v19: its own stream (25); painted only (_paint_rib_sections_v19)
        anat = replace(anat, ribs_v19=draw_ribs_v19(np.random.default_rng([tex_seed, 25])))
    if features(version).heart_v22 or features(version).liver_v22:  # v22: no draws (painted only)
        anat = replace(anat, heart_v22=features(version).heart_v22, liver_v22=features(version).liver_v22)
    if MEDIASTINUM_REALISM:  # session 14: its own stream (19); before the trees, which grow from its hila
        anat = replace(anat, **_draw_mediastinum_v14(np.random.default_rng([tex_seed, 19]), anat))
    if CHEST_REALISM:
        # session 11: from their own stream, after every other draw, so nothing else changes; session 13
        # (THORAX_REALISM): denser trees from a stream of their own (18; 13 is then not drawn from)
        if THORAX_REALISM:
            trees, bronchi = _draw_lung_trees(np.random.default_rng([tex_seed, 18]), anat, LUNG_TREE_SPACING_V13_MM,
                                              LUNG_LEAF_R_V13, LUNG_TREE_INERTIA_V13)
        else:
            trees, bronchi = _draw_lung_trees(np.random.default_rng([tex_seed, 13]), anat)
        anat = replace(anat, lung_vessels=trees, bronchi=bronchi, chest_realism=True)
    if BODY_REALISM:  # session 12: its own stream too (16: clear of the numbers other features may take next)
        anat = replace(anat, body=draw_body(np.random.default_rng([tex_seed, 16])))
    if THORAX_REALISM:  # session 13: its own stream (17)
        anat = replace(anat, thorax=draw_thorax(np.random.default_rng([tex_seed, 17])))
    return anat


def _draw_v5(xr: np.random.Generator) -> dict:
    """Anatomy v5's draws, from their own stream (every v4 draw, and so every calcium and vessel draw, is unchanged)."""
    return {"dome_top_x": float(xr.uniform(0.43, 0.5)), "dome_round": float(xr.uniform(1.55, 1.85)),
            "epi_fat_lateral_mm": float(xr.uniform(0.5, 2.5)), "la_body": True}


def _draw_v6(xr: np.random.Generator) -> dict:
    """Anatomy v6's draws (the coronaries' fat sheath, coronary.sheath_profile), from their own stream: every earlier
    draw, and so every calcium and vessel draw, is unchanged. Real non-gated CT (the LIDC hybrids, docs/lesion_scorer.md
    "Hybrid cases") shows 2-5 mm of groove fat round the proximal vessels and almost none where the vessel lies on the
    myocardium (fat fraction in an 8 mm box 0.07 at 0002's crux, 0.26-0.39 at 0003's)."""
    return {"sheath_prox_mm": float(xr.uniform(2.0, 4.5)), "sheath_thin_mm": float(xr.uniform(0.0, 1.0)),
            "sheath_phase": float(xr.uniform(0.0, 1.0))}


CRUX_PHI_DEG = (118.0, 142.0)
"""v7: the crux's angle round the long axis (heart_frame; 180 = -e2, the diaphragmatic surface's middle, +90 the LV's
lateral wall), tuned with bench/crux_position.py so that the crux lies behind and slightly left of the heart reference
the scorer uses, as on the real series (docs/phantom.md, "Anatomy v7")."""
P_CRUX_BED = 0.75
"""v7: share of patients whose crux / PDA / distal LCX lies on a soft-tissue bed (the others keep v6's groove fat)."""


def _draw_v7(xr: np.random.Generator) -> dict:
    """Anatomy v7's draws (the crux's place, the PDA's course, the crux bed), from their own stream: every earlier
    draw, and so every calcium draw, is v6's (the vessel courses use them differently: coronary.vessel_centrelines)."""
    crux = float(xr.uniform(*CRUX_PHI_DEG))
    drift = float(xr.uniform(25.0, 50.0))
    bed = float(xr.uniform(3.0, 6.0)) if xr.random() < P_CRUX_BED else 0.0
    return {"crux_phi_deg": crux, "pda_drift_deg": drift, "crux_bed_mm": bed, "bed_out_mm": float(xr.uniform(1.5, 4.0)),
            "crux_fat_mm": float(xr.uniform(0.0, 1.0) ** 1.5 * 1.2), "crux_du": float(xr.uniform(0.0, 0.15))}


def heart_surface(anat: Anatomy, u: np.ndarray, phi_deg: np.ndarray, out_mm: np.ndarray) -> np.ndarray:
    """Points on the ventricles' surface (ventricle_shapes, flattened at the floor) at (u, phi), pushed out
    along the normal by out_mm (< 0: inside). (n, 3)

    The heart's own frame (heart_frame): u along the long axis from base -1 to apex +1 (times semi[0]), phi
    around it in degrees (0 anterior-superior, +90 the left-posterior lateral wall, +-180 the diaphragmatic
    surface, -90 the right ventricle's acute margin); points in patient mm (x, y, z). At each (u, phi) the
    outer of the two ellipsoids is the surface; below the floor the surface is the floor (normal straight down).
    """
    e = anat.heart_axes
    u, ph = np.asarray(u, float), np.deg2rad(np.asarray(phi_deg, float))
    out_mm = np.asarray(out_mm, float)
    l = u * anat.heart_semi[0]
    cp, sp = np.cos(ph), np.sin(ph)
    best_r = np.full(len(u), -1.0)
    best_n = np.zeros((len(u), 3))
    for c, s in ventricle_shapes(anat.heart_c, e, anat.heart_semi):
        li = float((c - anat.heart_c) @ e[0])
        t = np.sqrt(np.clip(1 - ((l - li) / s[0]) ** 2, 0.02, None))
        r = t / np.sqrt((cp / s[1]) ** 2 + (sp / s[2]) ** 2)
        n = np.stack([(l - li) / s[0] ** 2, r * cp / s[1] ** 2, r * sp / s[2] ** 2], axis=1)
        take = r > best_r
        best_r = np.where(take, r, best_r)
        best_n[take] = n[take]
    local = np.stack([l, best_r * cp, best_r * sp], axis=1)
    normal = best_n / np.linalg.norm(best_n, axis=1, keepdims=True)
    on = anat.heart_c + local @ e
    pts = anat.heart_c + (local + normal * out_mm[:, None]) @ e
    flat = on[:, 2] < anat.heart_floor_z
    pts[flat, 0], pts[flat, 1] = on[flat, 0], on[flat, 1]
    pts[:, 2] = np.maximum(pts[:, 2], anat.heart_floor_z - out_mm)  # never below the flat floor's own offset
    return pts


SPINOUS_TIP_MM = 40.0
"""Spinous-process tip behind the front of the spinal canal ring's centre (cyc), mm."""


def _draw_wall(xr: np.random.Generator, *, body_c: tuple[float, float], b: float, fat: float,
               spine_c: tuple[float, float], spine_r: float, protrude: float = 0.0) -> Wall:
    """Body-wall parameters from their own generator (so the other anatomy and calcium draws are unchanged)."""
    fat_harm = tuple(float(v) for v in xr.normal(0, 0.18, 4))
    fat_back = fat * xr.uniform(0.5, 0.9)
    tip = spine_c[1] + spine_r + 8 + SPINOUS_TIP_MM + protrude  # the back stays where it was
    y_back = max(body_c[1] + b, tip + xr.uniform(6, 12) + fat_back)
    post_ext = 0.45 * spine_r + xr.uniform(6, 14) + protrude
    return Wall(post_ext=float(post_ext), back_exp=float(xr.uniform(3.5, 6.0)), y_back=float(y_back), fat_harm=fat_harm,  # type: ignore[arg-type]
                pect=float(xr.uniform(8, 20)), lat=float(xr.uniform(7, 16)), trap=float(xr.uniform(6, 12)),
                plane=float(xr.uniform(1.0, 2.5)), table_gap=float(xr.uniform(12, 35)),
                table_curve=float(xr.uniform(15, 35)), pad=float(xr.uniform(3, 9)))


def chest_grid(anat: Anatomy, size: int) -> Grid:
    """The non-gated grid: size x size pixels over the FOV, n_slices slabs of anat.slice_mm (z ascending)."""
    px = anat.fov_mm / size
    x = (np.arange(size) - (size - 1) / 2) * px
    y = (np.arange(size) - (size - 1) / 2) * px
    z_top = anat.z_dome_mm + anat.t_top
    dz = anat.slice_mm
    edges = z_top - dz * anat.n_slices + dz * np.arange(anat.n_slices + 1)
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


def _wall_polar(x: np.ndarray, y: np.ndarray, centre: tuple[float, float], n_angles: int,
                r_out: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pixel of the (ny, nx) plane: the radius (mm) from the body's centre, the index into a table of n_angles
    angles round the body (psi from anterior, -pi..pi) and the radial depth below the skin (mm, < 0 outside), where
    r_out is the outline's radius per angle. Float32, as the wall is painted."""
    dx = (x[None, :] - centre[0]).astype(np.float32)
    dy = (y[:, None] - centre[1]).astype(np.float32)
    r = np.sqrt(dx * dx + dy * dy)
    psi = np.arctan2(dx, -dy)
    i = np.clip(np.rint((psi + np.pi) / (2 * np.pi) * (n_angles - 1)).astype(np.intp), 0, n_angles - 1)
    return r, i, r_out.astype(np.float32)[i] - r


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
    if anat.body is not None:
        return _body_wall_layers(anat, x, y, px, psi_t, r_out, r_cav)
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
    r, i, depth = _wall_polar(x, y, (bx, by), len(psi_t), r_out)
    f_t, m_t = fat_t.astype(np.float32)[i], mus_t.astype(np.float32)[i]
    inv = np.float32(1.0 / px)

    def deeper(t: np.ndarray | float) -> np.ndarray:
        return np.clip((depth - t) * inv + 0.5, 0.0, 1.0)

    body2d = np.full(depth.shape, HU["air"], np.float32)
    skin = np.float32(1.8)
    # the fat plane under the superficial muscles is not a closed ring: it comes and goes around the body
    # (segments over the pectorals, the latissimus, the trapezius), its phase from the patient's fat wobble
    seg = np.clip(0.4 + 1.2 * np.cos(2.0 * psi_t + 6.0 * a1 + 3.0 * b2), 0.0, 1.0).astype(np.float32)[i]
    has_plane = np.clip(m_t - 1.0, 0.0, 1.0) * seg
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


def _wall_thicknesses(anat: Anatomy, psi: np.ndarray, room: np.ndarray) -> tuple[np.ndarray, ...]:
    """Session 12: per angle round the body (psi), the subcutaneous fat, the superficial muscles under it (pectoralis
    major, latissimus, trapezius: the thickest belly there) and the deep ones on the ribs (pectoralis minor, serratus,
    rhomboids), mm, shrunk to fit the room between the skin and the cavity (``room``) with the intercostal layer and a
    fat plane: a thin patient's muscles touch, a fat one's lie apart."""
    bd = anat.body
    assert bd is not None
    a1, b1, a2, b2, a3, b3 = bd.fat_harm
    wob = 1 + a1 * np.cos(psi) + b1 * np.sin(psi) + a2 * np.cos(2 * psi) + b2 * np.sin(2 * psi) + a3 * np.cos(3 * psi) \
        + b3 * np.sin(3 * psi)
    # thin over the sternum, thicker over the flanks and the lower back (where fat gathers)
    rel = (0.7 + bd.fat_flank * np.sin(psi) ** 2 + 0.2 * bd.fat_flank * (np.cos(psi) < 0)) * np.clip(wob, 0.4, None)
    rel *= 1 - 0.5 * np.exp(-(psi / 0.22) ** 2)
    fat = np.clip(anat.fat_mm * rel * _ripple(bd.seed, 0, psi), 3.0, 45.0)
    fat = np.clip(np.minimum(fat, room - bd.intercostal - 8.0), 2.0, None)
    # over the spine the fat ends at the spinous tips and the erector spinae (the back's skin lies 6-12 mm + the back's
    # fat behind them: _draw_wall), blending in from the posterior-lateral angle
    w = anat.wall
    tips = anat.spine_c[1] + anat.spine_r + 8 + SPINOUS_TIP_MM
    back = np.clip((np.abs(psi) - 2.3) / 0.5, 0.0, 1.0)
    fat = np.minimum(fat, (1 - back) * 1e3 + back * max(w.y_back - tips - 2.0, 3.0))
    # the muscles fill most of the room under the subcutaneous fat (a chest wall is muscle and ribs, its fat mostly
    # under the skin): each belly's shape (lens) scaled to a share of that room, at least its drawn thickness
    free = np.clip(room - fat - bd.intercostal - 2 * bd.gap, 0.0, None)

    def bellies(ms: tuple, share: float) -> np.ndarray:
        return np.maximum.reduce([lens(psi, (1.0, c, w), bd.asym) * np.clip(share * free, t, 2.5 * t) for t, c, w in ms])

    sup = np.minimum(bellies((bd.pec, bd.lat, bd.trap), bd.share) * _ripple(bd.seed, 1, psi), free)
    deep = np.minimum(bellies((bd.pec_minor, bd.serratus, bd.rhomboid), 0.6 * (1 - bd.share)) * _ripple(bd.seed, 2, psi),
                      free - sup)
    return fat, sup, np.clip(deep, 0.0, None)


def _ripple(seed: int, k: int, psi: np.ndarray) -> np.ndarray:
    """A layer's irregularity round the body: 1 + harmonics 3-10 of psi (amplitudes ~0.2 / n^0.75, random phases
    from the body's seed), so that no layer keeps one thickness for long (the rings a reader saw)."""
    rng = np.random.default_rng([seed, 4, k])
    n = np.arange(3, 11)
    amp = rng.normal(0, 0.2, len(n)) / n ** 0.75
    ph = rng.uniform(0, 2 * np.pi, len(n))
    return np.clip(1 + (amp[:, None] * np.cos(n[:, None] * psi[None] + ph[:, None])).sum(axis=0), 0.3, 2.0)


def _body_wall_layers(anat: Anatomy, x: np.ndarray, y: np.ndarray, px: float, psi_t: np.ndarray, r_out: np.ndarray,
                      r_cav: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Session 12's body wall (BODY_REALISM): fat fills the wall between skin and ribs, and in it lie separate muscle
    bellies that taper at their ends (_wall_thicknesses), fat planes between the superficial and the deep ones, the
    intercostal soft tissue round the rib band and the erector spinae beside the spine under the trapezius. Returns
    the body cross-section (HU) and the radial depth below the skin, as _body_wall."""
    bd = anat.body
    assert bd is not None
    bx, by = anat.body_c
    room = r_out - r_cav
    fat_t, sup_t, deep_t = _wall_thicknesses(anat, psi_t, room)
    # where the superficial muscles start (depth below the skin): on the deep muscles and ribs (what room is left is
    # subcutaneous fat, where a fat patient's fat is), except over the back, where they lie on the erector spinae under
    # the back's own fat
    wb = np.clip((np.abs(psi_t) - 2.4) / 0.4, 0.0, 1.0)
    on_ribs = room - bd.intercostal - 2 * bd.gap - deep_t - sup_t
    # the erector spinae: from the transverse processes back at most 1.9 x its drawn half-depth (real: 25-45 mm), the
    # trapezius on it, the rest of a deep back subcutaneous fat
    cyc_ = anat.spine_c[1] + anat.spine_r + 8
    k_back = int(np.argmin(np.abs(np.abs(psi_t) - np.pi)))
    y0 = cyc_ - 6.0
    y1 = min(anat.wall.y_back - 1.8 - fat_t[k_back] - sup_t[k_back] - 2 * bd.gap, y0 + 2.6 * anat.paraspinal[1])
    on_erector = anat.wall.y_back - y1 - bd.gap - sup_t
    top_t = np.maximum((1 - wb) * on_ribs + wb * np.maximum(1.8 + fat_t, on_erector), 1.8 + 2.0)
    r, i, depth = _wall_polar(x, y, (bx, by), len(psi_t), r_out)
    hc = r - r_cav.astype(np.float32)[i]  # radial height above the cavity's edge
    top, s_t, d_t = (v.astype(np.float32)[i] for v in (top_t, sup_t, deep_t))
    inv = np.float32(1.0 / px)

    def deeper(t) -> np.ndarray:  # coverage of depth > t
        return np.clip((depth - t) * inv + 0.5, 0.0, 1.0)

    def lower(t) -> np.ndarray:  # coverage of height above the cavity < t
        return np.clip((t - hc) * inv + 0.5, 0.0, 1.0)

    skin, gap = np.float32(1.8), np.float32(bd.gap)
    img = np.full(depth.shape, HU["air"], np.float32)
    img += deeper(0.0) * (np.float32(HU["skin"]) - img)
    img += deeper(skin) * (np.float32(HU["fat"]) - img)
    d0 = np.float32(bd.intercostal) + 0.5 * gap
    # muscle 42-50 HU (real non-contrast body-wall muscle 50 +- 17 with noise, docs/phantom.md "Measured"; the old wall's
    # 55 HU superficial layer over this much more muscle made noise specks >= 130 HU three times as often)
    img += np.clip(lower(d0 + d_t) - lower(d0), 0, 1) * (d_t > 0.5) * (np.float32(HU["muscle"] - 4) - img)
    img += np.clip(deeper(top + s_t) - deeper(top + s_t + gap), 0, 1) * (s_t > 1.0) * (np.float32(HU["fat"] + 10) - img)
    img += lower(np.float32(bd.intercostal)) * (np.float32(HU["muscle"] - 8) - img)
    img += np.clip(deeper(top) - deeper(top + s_t), 0, 1) * (np.float32(HU["muscle"]) - img)
    # erector spinae beside the spinous processes, from the transverse processes back to the trapezius and its fat
    # plane (the back's subcutaneous fat and trapezius at psi = pi), in a fat rim
    inner = deeper(top + s_t + gap)
    pa, pb = anat.paraspinal[0] * 1.25, max(0.5 * (y1 - y0), 0.6 * anat.paraspinal[1])
    for side in (-1.0, 1.0):  # a rounded D: the main belly and its wider back half (iliocostalis, longissimus)
        ex = anat.spine_c[0] + side * (pa + 5)
        for grow, hu in ((1.5, HU["fat"] + 10), (0.0, HU["muscle"] - 2)):
            f = np.maximum(ellipse_footprint(x, y, ex, y0 + pb, pa + grow, pb + grow, px),
                           ellipse_footprint(x, y, ex + side * 0.15 * pa, y0 + 1.4 * pb, 1.15 * pa + grow, 0.6 * pb + grow, px))
            img += f * inner * (np.float32(hu) - img)
    return img, depth


def _wall_textures(anat: Anatomy, body2d: np.ndarray, depth: np.ndarray, px: float, n: int = 3) -> np.ndarray:
    """Session 12: n variants (n, ny, nx) of the body cross-section with texture: fibrous septa (thin curving lines,
    +60 HU) and a faint mottle in the fat, a fainter mottle and thin fat streaks (-30 HU) in muscle. The painter uses a different one every 9 mm of
    height, so the septa do not run the scan's length as sheets."""
    bd = anat.body
    assert bd is not None
    ny, nx = body2d.shape
    pad = 48
    # two fields (septa, mottle) with a margin; each variant is a shifted crop of them (filtering 2n full fields cost
    # 50 ms per 512 px patient, a quarter of what the body realism may add)
    f = texture_fields(bd.seed, (ny + pad, nx + pad), 2, 3.5, px)
    lines, mottle = np.float32(60.0) * septa(f[0], 0.07), f[1]
    fat = np.clip((body2d - HU["muscle"]) / (HU["fat"] - HU["muscle"]), 0.0, 1.0) * (depth > 2.5)
    soft = ((body2d > HU["fat"] - 30) & (body2d < HU["muscle"] + 30) & (depth > 0)).astype(np.float32)
    lean = np.clip(soft - fat, 0.0, 1.0)
    out = np.empty((n, ny, nx), np.float32)
    for j in range(n):
        oy, ox = (j * 29) % pad, (j * 17 + 7) % pad
        m = mottle[oy:oy + ny, ox:ox + nx]
        out[j] = body2d + fat * (lines[pad - oy:pad - oy + ny, pad - ox:pad - ox + nx] + np.float32(5.0) * m) \
            + lean * (np.float32(3.0) * m - np.float32(0.5) * lines[oy:oy + ny, pad - ox:pad - ox + nx])  # fat streaks
    return out


THORAX_TAPER = (0.22, 0.55)
"""The thoracic cavity is a bell (v4): its width grows from the lung apices all the way down to the lower ribs,
x (1 - A (1 - h) ** p - B (1 - h)) with h the depth below the apex over the apex-to-widest distance, A drawn
from here, p from THORAX_TAPER_EXP, B from THORAX_TAPER_LINEAR. Measured on the three real series (lung width below the apex over the widest, bench/phantom_geometry.py):
20 mm 0.25-0.64, 60 mm 0.67-0.84, 100 mm 0.78-0.90, 140 mm 0.87-0.92, widest 200-260 mm below the apex. v3 was a
box below the top 130 mm."""
THORAX_TAPER_EXP = (3.5, 7.0)
"""Per-patient exponent of the bell's fast part (the narrowing just below the apices)."""
THORAX_TAPER_LINEAR = (0.14, 0.3)
"""The bell's slow part: the cavity keeps widening linearly by this much from the apices to its widest level (real:
0.91-0.92 of the widest 140 mm below the apex in two series, 0.87 in the third)."""
SCALE_STEP = 0.01
"""Cavity width factors are painted quantised to this step (ribs and cavity share a footprint per step)."""


def cavity_x_scale(anat: Anatomy, z_mm: np.ndarray) -> np.ndarray:
    """Width factor of the thoracic cavity at patient heights z_mm (1 at its widest, 1 - taper - taper_lin at the
    apices)."""
    return _x_scale(anat.t_apex, np.asarray(z_mm, float) - anat.z_dome_mm, anat.taper, anat.t_widest, anat.taper_exp,
                    anat.taper_lin)


def _x_scale(t_apex: float, t: np.ndarray, amp: float, t_widest: float, exp: float, lin: float = 0.0) -> np.ndarray:
    h = np.clip((t_apex - np.asarray(t, float)) / max(t_apex - t_widest, 1.0), 0.0, 1.0)
    return 1.0 - amp * (1.0 - h) ** exp - lin * (1.0 - h)


def _quantised_scale(anat: Anatomy, z_mm: np.ndarray) -> np.ndarray:
    q = np.round(cavity_x_scale(anat, z_mm) / SCALE_STEP) * SCALE_STEP
    q[q > 1 - 0.5 * SCALE_STEP] = 1.0
    return q


def _cavity_footprint(anat: Anatomy, x: np.ndarray, y: np.ndarray, px: float, x_scale: float = 1.0,
                      notch: np.ndarray | None = None) -> np.ndarray:
    """Thoracic cavity coverage (ny, nx): the cavity ellipse, its back half deepened by ``wall.post_ext``
    beside the spine (paravertebral gutters), not behind the vertebral body; ``x_scale`` narrows it (upper thorax).
    ``notch``: :func:`_spine_notch` on the same x, y, when the caller already has it (it does not depend on x_scale)."""
    (cx, cy), (ca, cb) = anat.cav_c, anat.cav_ab
    ca = ca * x_scale
    base = ellipse_footprint(x, y, cx, cy, ca, cb, px)
    if anat.wall is None or anat.wall.post_ext <= 0:
        return base
    ext = anat.wall.post_ext
    dx = ((x - cx) / ca)[None, :].astype(np.float32)
    yy = (y - cy)[:, None].astype(np.float32)
    semi = np.where(yy > 0, np.float32(cb + ext), np.float32(cb))
    rho = np.sqrt(dx * dx + (yy / semi) ** 2)
    big = np.clip(0.5 - (rho - 1.0) * np.minimum(semi, ca) / px, 0.0, 1.0)
    if notch is None:
        notch = _spine_notch(anat, x, y, px)
    return np.maximum(base, big * (1 - notch)).astype(np.float32)


def _spine_notch(anat: Anatomy, x: np.ndarray, y: np.ndarray, px: float) -> np.ndarray:
    """Where the cavity's deepened back half holds no lung: around the vertebral body's back half and behind the
    rib heads (posterior elements and paraspinal muscles); the lungs wrap the protruding vertebral body into the
    paravertebral gutters."""
    sx, sy, sr = anat.spine_c[0], anat.spine_c[1], anat.spine_r
    behind = ellipse_footprint(x, y, sx, sy + 1.15 * sr + 120.0, 2.6 * sr + 14.0, 120.0, px)
    body = ellipse_footprint(x, y, sx, sy + 0.25 * sr, 1.25 * sr, 0.95 * sr, px)
    return np.maximum(behind, body)


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


@dataclass
class Canvas:
    """What render_background paints into: hu (z, y, x) float32, bright (bone / non-coronary calcium)
    bool, and optionally the anatomy label volume lab uint8 (ANATOMY_LABELS)."""

    grid: Grid
    img: np.ndarray
    bright: np.ndarray
    lab: np.ndarray | None = None

    def paint(self, box, frac: np.ndarray, hu: float, label: str | None = None, *, is_bright: bool = False,
              label_at: float = 0.5) -> None:
        paint(self.img, box, frac, hu)
        if is_bright:
            self.bright[box] |= frac > 0.01
        if self.lab is not None and label is not None:
            self.lab[box][frac >= label_at] = LABEL[label]


DOME_MEDIAL_W = 0.55
"""How far (fraction of the cavity's half-width) the domes fall from their tops toward the midline (v4: 0.55)."""


def _dome_low(anat: Anatomy, dxn: np.ndarray, dyn: np.ndarray) -> np.ndarray:
    """Patient z (mm) of the diaphragm under normalised cavity coordinates (x - cx) / ca, (y - cy) / cb'."""
    c = np.float32(anat.dome_top_x)
    if anat.right_dome_raise_mm:  # v14: the right dome raised, falling off smoothly toward the midline (smoothstep:
        # level at the dome's top; d856318's linear ramp left a ridge there that cut the liver's cap to a point in front)
        t = np.minimum(np.abs(dxn) / c, np.float32(1.0))
        rise = np.float32(anat.right_dome_raise_mm) * t * t * (np.float32(3.0) - np.float32(2.0) * t)
        dome_top = np.where(dxn < 0, rise, np.float32(anat.dome_left)).astype(np.float32)
    else:
        dome_top = np.where(dxn < 0, 0.0, anat.dome_left).astype(np.float32)
    # v4: shallower in front (the diaphragm's anterior attachment, xiphoid and costal margin, is high): below the
    # dome's top the lungs are a posterior-lateral crescent, not a ring round the liver (which the heart finder
    # then took for the mediastinum in 3 of 20 patients)
    adx = np.abs(dxn)
    # v5: each dome a rounded cap (r2 ** dome_round, 0.9-1.25) whose top lies dome_top_x of the half-width from the
    # midline, falling to the costophrenic angle laterally and less steeply toward the mediastinum; v4's r2 ** 2 kept
    # the middle 50 % of each side within 4 mm of the top, which a coronal reformat showed as a flat shelf
    w = np.where(adx > c, np.float32(1.0) - c, np.float32(DOME_MEDIAL_W))
    r2 = ((adx - c) / w) ** 2 + (dyn / np.where(dyn > 0, 0.9, 1.4)) ** 2
    if anat.liver_v22:  # v22: the right dome's lateral half a broader cap (a higher power: flat near the top, falling
        # near the wall), as the real domes; v5-v20's fell 21 mm 30 mm lateral of the top (real 9-23 mm)
        # (the extra power rises smoothly from the top's column outward: a step there drew a straight edge on axials)
        t = np.clip((adx - c) / np.float32(0.2), 0.0, 1.0) * (dxn < 0)
        pw = np.float32(anat.dome_round) + np.float32(V22_DOME_POWER) * t * t * (np.float32(3.0) - np.float32(2.0) * t)
        shape = np.minimum(r2 ** pw, 1.3)
    else:
        shape = np.minimum(r2 ** np.float32(anat.dome_round), 1.3)
    return dome_top - anat.dome_depth * shape - 15.0 * np.clip(dyn, 0, None) + anat.z_dome_mm


def _paint_body(anat: Anatomy, cv: Canvas) -> np.ndarray:
    """Body wall (skin, subcutaneous fat, muscles; z-invariant) and breasts; returns the depth below the skin (y, x)."""
    grid, img = cv.grid, cv.img
    x, y, px = grid.x_mm, grid.y_mm, grid.px_mm
    body2d, outside_depth = _body_wall(anat, x, y, px)
    if anat.body is None:
        img[:] = body2d
    else:  # session 12: a textured variant per 9 mm of height (by patient z, so any slice thickness sees the same)
        var = _wall_textures(anat, body2d, outside_depth, px)
        which = np.floor(grid.z_mm / 9.0).astype(np.int64) % len(var)
        for j in range(len(var)):
            img[which == j] = var[j]
    if cv.lab is not None:
        cv.lab[:] = np.where(outside_depth >= 0, LABEL["body_wall"], 0).astype(np.uint8)[None]
    if anat.breast is None:
        return outside_depth
    if anat.body is not None:
        _paint_breasts(anat, cv, body2d)
        return outside_depth
    bx = anat.body_c[0]
    dxb, yb, sa, sb, tcb = anat.breast  # z-limited, fat with a glandular core, skin rim
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
            if hu == HU["skin"]:  # only the protruding part gets skin; inside the body it stays body
                f2 = f2 * (body2d[b[1], b[2]] <= HU["air"] + 1)
            cv.paint(b, fb * f2[None], hu, "breast" if hu == HU["skin"] else None)
    return outside_depth


def _paint_breasts(anat: Anatomy, cv: Canvas, body2d: np.ndarray) -> None:
    """Session 12's breasts (BODY_REALISM; the same drawn sizes, anat.breast): rounded mounds on the anterior chest
    wall at dx from the midline, sagging a little laterally (supine), rounded in z too (each slab's outline shrinks
    with its distance from the breast's centre height), fat with wispy fibroglandular tissue (a thresholded smooth
    field in the inner 60 %), skin where they stand out of the body; they cover only fat and air, so the pectoral
    muscle stays under them. v2-v11's were two flat ellipses that stuck out sideways like wings."""
    bd = anat.body
    assert bd is not None and anat.breast is not None
    grid = cv.grid
    x, y, px = grid.x_mm, grid.y_mm, grid.px_mm
    (bx, by), (ba, bb) = anat.body_c, anat.body_ab
    dxb, _, sa, sb, tcb = anat.breast
    zc, hz = anat.z_dome_mm + tcb, 55.0
    sa2, sb2 = 0.8 * sa, 1.3 * sb
    y_front = by - bb * np.sqrt(max(1.0 - (dxb / ba) ** 2.2, 0.05))
    yc = y_front + 0.2 * sb2
    for j, side in enumerate((-1.0, 1.0)):
        xb = bx + side * dxb
        b = grid.box((zc - hz, yc - sb2 - 5, xb - sa2 - 12), (zc + hz, yc + sb2 + 5, xb + sa2 + 12))
        if b is None:
            continue
        xs_, ys_ = x[b[2]], y[b[1]]
        soft = (body2d[b[1], b[2]] < -50).astype(np.float32)  # air or fat: the muscles stay
        outside = (body2d[b[1], b[2]] <= HU["air"] + 1).astype(np.float32)
        wisp = np.clip(2.0 * (texture_fields(bd.seed + 2 + j, (len(ys_), len(xs_)), 1, 4.0, px)[0] - 0.2), 0.0, 1.0)
        for k in range(b[0].start, b[0].stop):
            sz = 1.0 - ((grid.z_mm[k] - zc) / hz) ** 2
            if sz < 0.05:
                continue
            ka, kb = np.sqrt(np.sqrt(sz)), np.sqrt(sz)  # flatter toward its top and bottom, less narrow
            kbox = (slice(k, k + 1), b[1], b[2])
            ang = side * 0.3
            for da, hu, m in ((0.0, HU["skin"], outside), (2.0, HU["fat"], soft)):
                f2 = ellipse_footprint(xs_, ys_, xb, yc, sa2 * ka - da, max(sb2 * kb - da, 1.0), px, angle_rad=ang)
                cv.paint(kbox, (f2 * m)[None], hu, "breast" if hu == HU["skin"] else None)
            core = ellipse_footprint(xs_, ys_, xb, yc + 0.1 * sb2, 0.6 * sa2 * ka, max(0.6 * sb2 * kb, 1.0), px, angle_rad=ang)
            cv.paint(kbox, (core * wisp * soft)[None], HU["gland"])


def _paint_cavity(anat: Anatomy, cv: Canvas) -> None:
    """Thoracic cavity: lungs between the diaphragm domes and the apices, liver (right) and abdomen
    below the domes, the thoracic inlet above the apices; then spleen and stomach under the left dome."""
    grid, img = cv.grid, cv.img
    x, y, px, zc = grid.x_mm, grid.y_mm, grid.px_mm, grid.z_mm
    nz = grid.shape[0]
    (cx, cy), (ca, cb) = anat.cav_c, anat.cav_ab
    ext = anat.wall.post_ext if anat.wall is not None else 0.0
    cav = _cavity_footprint(anat, x, y, px)
    box = grid.box((grid.z_edges_mm[0], cy - cb - px, cx - ca - px),
                   (grid.z_edges_mm[-1], cy + cb + ext + px, cx + ca + px))
    xs, ys = x[box[2]], y[box[1]]
    dxn = ((xs - cx) / ca)[None, :].astype(np.float32)
    dyn = ((ys - cy) / np.where(ys > cy, cb + ext, cb))[:, None].astype(np.float32)
    right = dxn < 0
    lo = _dome_low(anat, dxn, dyn)
    lo = _raise_under_heart(anat, xs, ys, lo)
    hi = anat.t_apex - anat.apex_k * (dxn ** 2 + 0.6 * dyn ** 2) + anat.z_dome_mm
    hi = hi - 60.0 * np.clip(0.35 - np.abs(dxn), 0, None)  # apices are lateral, the neck is medial
    lo32, hi32 = lo.astype(np.float32), np.broadcast_to(hi, lo.shape).astype(np.float32)
    ez = grid.z_edges_mm.astype(np.float32)
    inv_dz = np.float32(1.0 / grid.dz_mm)
    sub = img[box]
    c2_full = cav[box[1], box[2]]
    abd = np.broadcast_to(np.where(right, HU["liver"], HU["abdomen"]).astype(np.float32), lo.shape)
    # session 11: the grown vessel trees replace the lung's texture; the inlet's still needs one field
    textured = not anat.chest_realism
    pool = _texture_pool(anat.lung_texture_seed, (len(ys), len(xs)), 4 if textured else 1, px, pad=32)
    # above the apices: fat of the thoracic inlet with muscle and vessels (texture), not a uniform block
    inlet = np.float32(HU["fat"] + 20) + np.float32(150.0) * pool[0, :len(ys), :len(xs)]
    prng = np.random.default_rng(anat.lung_texture_seed + 1)
    offs = prng.integers(0, 32, (nz, 2))
    grad = np.float32(55.0) * (dyn + 1.0)  # dependent lung is denser
    # vessels are dense near the hila and sparse in the periphery
    d2 = np.minimum((np.abs(dxn) - 0.4) ** 2 + (dyn + 0.05) ** 2, 1.0)
    vess = (np.float32(300.0) * (0.45 + 1.2 * np.exp(-d2 / (2 * 0.22 ** 2)))).astype(np.float32)
    lab = cv.lab[box] if cv.lab is not None else None
    lung_lab = np.where(right, LABEL["lung_right"], LABEL["lung_left"]).astype(np.uint8)
    below_lab = np.where(right, LABEL["liver"], LABEL["abdomen"]).astype(np.uint8)
    taper = _quantised_scale(anat, zc)
    lung_base = (np.float32(HU["lung"]) + grad).astype(np.float32)
    lo_min, hi_max = float(lo32.min()), float(hi32.max())
    b1, b2, fl = (np.empty(lo32.shape, np.float32) for _ in range(3))
    feet: dict[float, tuple] = {}  # one footprint per width step (the bell has ~40)
    notch = _spine_notch(anat, xs, ys, px) if anat.wall is not None and anat.wall.post_ext > 0 else None
    full = slice(0, len(xs))
    for k in range(nz):  # slab by slab (cache-friendly): abdomen below the domes / inlet above, then lung
        sk = sub[k]
        c2, cs = c2_full, full
        if taper[k] < 1.0:  # narrower than at the lower ribs: the chest wall fills what the cavity gives up,
            # muscle (intercostals, serratus) low down, fat and muscle of the axillae near the apices
            v = float(taper[k])
            if v not in feet:
                c2v = _cavity_footprint(anat, xs, ys, px, x_scale=v, notch=notch)
                idx = np.nonzero(c2_full - c2v > 0)  # the lateral bands only
                cols = np.flatnonzero(c2v.any(axis=0))  # the narrower cavity's columns: nothing changes outside
                win = slice(int(cols[0]), int(cols[-1]) + 1) if len(cols) else slice(0, 0)
                feet[v] = (c2v, idx, (c2_full[idx] - c2v[idx]).astype(np.float32), win)
            c2, idx, gap, cs = feet[v]
            fill = np.float32(HU["muscle"] - 5 + (HU["fat"] + 15 - HU["muscle"] + 5) * np.clip((0.93 - v) / 0.2, 0, 1))
            vals = sk[idx]
            sk[idx] = vals + gap * (fill - vals)
        # the rest only inside the cavity's columns on this slab (views; exact: c2 is 0 outside them)
        sk, c2, lo_, hi_ = sk[:, cs], c2[:, cs], lo32[:, cs], hi32[:, cs]
        w1, w2, wf = b1[:, cs], b2[:, cs], fl[:, cs]
        below = zc[k] < lo_
        np.subtract(np.where(below, abd[:, cs], inlet[:, cs]), sk, out=w1)
        w1 *= c2
        sk += w1
        has_lung = ez[k + 1] > lo_min and ez[k] < hi_max
        if has_lung:  # (in-place temporaries: this loop runs once per slab, 280 times at 1.25 mm)
            if textured:
                tex = pool[k % 4, offs[k, 0]:offs[k, 0] + len(ys), offs[k, 1]:offs[k, 1] + len(xs)]
                np.multiply(vess[:, cs], tex[:, cs], out=w2)
                w2 += lung_base  # the lung's HU
            else:
                w2[:] = lung_base
            # the lung's share of this slab, per slab (a (nz, y, x) array of it cost more than the painting)
            np.minimum(hi_, ez[k + 1], out=wf)
            np.maximum(lo_, ez[k], out=w1)
            wf -= w1
            np.maximum(wf, 0.0, out=wf)
            wf *= inv_dz
            wf *= c2
            w2 -= sk
            w2 *= wf
            sk += w2
        else:
            wf[:] = 0.0
        if lab is not None:
            lk = lab[k][:, cs]  # (copyto with where=: the masked assignment without gathering the values first)
            np.copyto(lk, np.where(below, below_lab[:, cs], LABEL["thoracic_inlet"]), where=c2 >= 0.5)
            np.copyto(lk, lung_lab[:, cs], where=wf >= 0.5)
    if anat.abdomen is not None:  # v16: the organs below the diaphragm (replaces v15's liver / abdomen halves)
        _paint_abdomen_v16(anat, cv, box, lo32, taper, notch)
        return
    _paint_upper_abdomen(anat, cv)


def _ell(x: np.ndarray, y: np.ndarray, z: float, c: tuple[float, float, float], semi: tuple[float, float, float],
         grow: float = 0.0) -> np.ndarray:
    """(ny, nx) bool: inside the axis-aligned ellipsoid (centre c, semi-axes semi + grow mm) on the slab at height z."""
    tz = 1.0 - ((z - c[2]) / (semi[2] + grow)) ** 2
    if tz <= 0:
        return np.zeros((len(y), len(x)), bool)
    return (((x[None, :] - c[0]) / (semi[0] + grow)) ** 2 + ((y[:, None] - c[1]) / (semi[1] + grow)) ** 2) < tz


def _paint_abdomen_v16(anat: Anatomy, cv: Canvas, box: tuple, lo: np.ndarray, taper: np.ndarray,
                       notch: np.ndarray | None) -> None:
    """v16: below the diaphragm (the column's floor ``lo`` from _paint_cavity), inside the cavity's footprint, slab by
    slab: mesenteric fat with bowel loops (a thresholded smooth field, a few gas bubbles), the liver (right lobe down to
    liver_low_mm below the right dome's top, the left lobe across the midline in front, in its upper part), the
    gallbladder in it, the spleen (posterior-lateral left), the stomach (anterior left under the left dome: wall, fluid,
    gas in front of a level plane: supine, the gas rises anteriorly), the kidneys in perirenal fat beside the spine;
    each organ apart from its neighbours by a fat plane. The great vessels and the spine are painted later, over it."""
    ab = anat.abdomen
    assert ab is not None
    grid = cv.grid
    (cx, cy), (ca, cb) = anat.cav_c, anat.cav_ab
    xs, ys, px = grid.x_mm[box[2]], grid.y_mm[box[1]], grid.px_mm
    zc = grid.z_mm
    dxn = ((xs - cx) / ca)[None, :].astype(np.float32)
    dyn = ((ys - cy) / cb)[:, None].astype(np.float32)
    z_rtop = anat.z_dome_mm + anat.right_dome_raise_mm
    z_ltop = anat.z_dome_mm + anat.dome_left
    # the bowel's field: three smooth fields blended along z (loops are not straight tubes)
    fields = texture_fields(ab.bowel_seed, (len(ys), len(xs)), 3, 7.0, px)
    gas_f = texture_fields(ab.bowel_seed + 1, (len(ys), len(xs)), 1, 4.0, px)[0]
    hep = texture_fields(ab.bowel_seed + 2, (len(ys), len(xs)), 1, 6.0, px)[0]  # the liver's slow mottle (+-3 HU)
    fp = np.float32(ab.fat_plane_mm)
    # the liver's left edge (dx) in front is further left than behind; only its upper part (the left lobe) crosses
    ant = np.clip((0.35 - dyn) / 0.9, 0.0, 1.0)
    # its lowest point: the right lobe laterally, rising toward the midline and the left lobe
    x_low = np.clip((0.15 - dxn - 0.3 * dyn * dyn + 0.1 * dyn) / 0.9, 0.0, 1.0)  # a rounded lower edge
    liver_floor = z_rtop - ab.liver_low_mm * (0.35 + 0.65 * x_low)
    # organs (patient mm)
    sdx, sdy, ssx, ssy, shz, gas, wall = ab.stomach
    st_c = (cx + sdx * ca, cy + sdy * cb, z_ltop - 6.0 - shz)
    st_s = (ssx * ca, ssy * cb, shz)
    gas_y = st_c[1] - st_s[1] + 2 * gas * st_s[1]  # the air-fluid level (y): gas in front of it
    pdx, pdy, psx, psy, phz = ab.spleen
    sp_c = (cx + pdx * ca, cy + pdy * cb, z_ltop - 15.0 - phz)
    sp_s = (psx * ca, psy * cb, phz)
    kr, kl, klen, ksx, ksy, krim = ab.kidneys
    kid = [((anat.spine_c[0] + side * (anat.spine_r + 8 + ksx), anat.spine_c[1] - 0.2 * anat.spine_r,
             anat.z_dome_mm - pole - klen), (ksx, ksy, klen)) for side, pole in ((-1.0, kr), (1.0, kl))]
    L = LABEL
    lab = cv.lab[box] if cv.lab is not None else None
    sub = cv.img[box]
    feet: dict[float, np.ndarray] = {}
    wall_mm: dict[float, np.ndarray] = {}  # v22: in-plane distance (mm) to the cavity's wall, per footprint
    full = _cavity_footprint(anat, xs, ys, px, notch=notch)
    top = float(lo.max())
    field3 = _bowel_field_3d(ab.bowel_seed, grid, box, top) if anat.side_curve_mm[0] > 0 else None  # v18
    for k in range(grid.shape[0]):
        z = float(zc[k])
        if z >= top:
            continue
        v = float(taper[k])
        if v not in feet:
            feet[v] = full if v >= 1.0 else _cavity_footprint(anat, xs, ys, px, x_scale=v, notch=notch)
        w = feet[v] * (z < lo)
        rows = np.flatnonzero(w.any(axis=1))
        if not len(rows):
            continue
        r = slice(int(rows[0]), int(rows[-1]) + 1)
        w = w[r]
        d = lo[r] - np.float32(z)  # depth below the diaphragm (mm)
        dx, dy = np.broadcast_to(dxn, w.shape), dyn[r]
        if field3 is not None:  # v18: one 3-D field (loops wander in every direction)
            f = np.float32(0.93) * field3(k)[r]
        else:
            ph = 2.0 * np.pi * z / 60.0
            f = (np.cos(ph) * fields[0][r] + np.sin(ph) * fields[1][r] + 0.5 * fields[2][r]) / 1.2
        # mostly soft tissue (bowel, vessels, pancreas) with fat between near the diaphragm, more fat lower down (the
        # first version's 0.25 left a dark fatty left upper quadrant; real 0001-0003 show little fat there)
        loop = f > np.float32(-0.5) + np.float32(0.5) * np.clip(d / np.float32(100.0), 0.0, 1.0)
        val = np.where(loop, np.float32(V16_HU["bowel"]), np.float32(V16_HU["abd_fat"])).astype(np.float32)
        labv = np.where(loop, L["abdomen"], L["abdominal_fat"]).astype(np.uint8)
        bub = (f > 0.6) & (gas_f[r] > 1.7)
        val[bub], labv[bub] = HU["air"], L["abdomen"]
        # the liver
        # a curved medial edge (behind it the IVC, the spine and the right kidney; in front the left lobe)
        if anat.liver_v22:  # v22: the left lobe's reach falls off as a curve with depth (v16-v20's linear fall drew
            # the medial edge as a straight oblique line on a coronal reformat)
            x_edge = 0.05 - 0.35 * dy * dy + (ab.liver_left - 0.05) * ant[r] * np.clip(
                1.0 - (d / np.float32(110.0)) ** 2, 0.0, 1.0)
        else:
            x_edge = 0.05 - 0.35 * dy * dy + (ab.liver_left - 0.05) * ant[r] * np.clip(1.0 - d / 110.0, 0.0, 1.0)
        lf = liver_floor[r]
        if anat.liver_v22:  # v22: the corners where the medial edge meets the floor and the body wall rounded
            if v not in wall_mm:
                wall_mm[v] = ndimage.distance_transform_edt(feet[v] >= 0.5).astype(np.float32) * np.float32(px)
            liver = _liver_v22((x_edge - dx) * np.float32(ca), np.float32(z) - lf, wall_mm[v][r])
        else:
            liver = (dx < x_edge) & (z > lf)
        plane = (dx < x_edge + fp / ca) & (z > lf - fp) & ~liver
        val[plane], labv[plane] = V16_HU["abd_fat"], L["abdominal_fat"]
        val[liver], labv[liver] = HU["liver"] + 3.0 * hep[r][liver], L["liver"]
        # the diaphragm's muscle under the lungs where fat or bowel lies beneath it
        mus = (d < 4.0) & ~liver
        val[mus], labv[mus] = HU["muscle"], L["abdomen"]
        ys_r = ys[r]
        if ab.gallbladder is not None:
            gdx, gdy, gdep, gsx, gsy, ghz = ab.gallbladder
            g = _ell(xs, ys_r, z, (cx + gdx * ca, cy + gdy * cb, z_rtop - gdep), (gsx, gsy, ghz)) & liver
            val[g], labv[g] = V16_HU["fluid"], L["gallbladder"]
        rim = _ell(xs, ys_r, z, st_c, st_s, fp)
        if rim.any():
            val[rim], labv[rim] = V16_HU["abd_fat"], L["abdominal_fat"]
            org = _ell(xs, ys_r, z, st_c, st_s)
            val[org], labv[org] = V16_HU["gastric_wall"], L["stomach"]
            lum = _ell(xs, ys_r, z, st_c, st_s, -wall)
            air = lum & (ys_r[:, None] < gas_y)
            val[lum] = np.where(air[lum], np.float32(HU["air"]), np.float32(V16_HU["fluid"]))
            labv[lum] = L["stomach"]
        for c_, s_, hu, name in ((sp_c, sp_s, HU["spleen"], "spleen"),):
            rim = _ell(xs, ys_r, z, c_, s_, fp)
            val[rim], labv[rim] = V16_HU["abd_fat"], L["abdominal_fat"]
            org = _ell(xs, ys_r, z, c_, s_)
            val[org], labv[org] = hu, L[name]
        for c_, s_ in kid:
            rim = _ell(xs, ys_r, z, c_, s_, krim)
            if not rim.any():
                continue
            val[rim], labv[rim] = V16_HU["abd_fat"], L["abdominal_fat"]
            org = _ell(xs, ys_r, z, c_, s_)
            val[org], labv[org] = V16_HU["kidney"], L["kidney"]
            sinus = _ell(xs, ys_r, z, (c_[0] - np.sign(c_[0] - anat.spine_c[0]) * 0.45 * s_[0], c_[1], c_[2]),
                         (0.4 * s_[0], 0.35 * s_[1], 0.6 * s_[2]))
            val[sinus], labv[sinus] = V16_HU["abd_fat"], L["abdominal_fat"]
        sk = sub[k, r]
        sk += w * (val - sk)
        if lab is not None:
            np.copyto(lab[k, r], labv, where=w >= 0.5)
    for t in ab.vessels:  # the aorta and the IVC below v15's scan (_paint_great_vessels paints the drawn ones)
        paint_tube(cv, t, HU["fat"] + 15, grow_mm=2.5, label="abdominal_fat")
        paint_tube(cv, t, HU["blood"])


V22_DOME_POWER = 1.0
"""v22: added to the right dome's shape power (dome_round, 0.9-1.25) lateral of its top (_dome_low)."""
V22_SHOULDER_MM = 40.0
"""v22: curvature radius (mm) of the diaphragm's fall round the heart's footprint (_raise_under_heart)."""
V22_LIVER_ROUND_MM = 28.0
"""v22: radius (mm) of the liver's rounded corners. v16-v20's liver is an intersection of half-spaces (medial edge,
floor, cavity wall), so a coronal reformat shows a straight oblique medial edge meeting a flat floor at a corner and
an axial slice a wedge with a sharp anterior tip (docs/phantom.md, "(session 24, wt32d)")."""


def _liver_v22(m_mm: np.ndarray, v_mm: np.ndarray, w_mm: np.ndarray, r: float = V22_LIVER_ROUND_MM) -> np.ndarray:
    """Inside v22's liver: m_mm inside the medial edge, v_mm above the floor, w_mm inside the cavity's wall (mm, all
    > 0 inside), each corner where two of them meet rounded to radius r (a point within r of two faces must lie within
    r of the corner circle's centre); away from the corners the liver is v16's (it still reaches the body wall)."""
    pm, pv, pw = (np.maximum(np.float32(r) - t, np.float32(0.0)) for t in (m_mm, v_mm, w_mm))
    r2 = np.float32(r * r)
    return (m_mm > 0) & (v_mm > 0) & (pm * pm + pv * pv < r2) & (pm * pm + pw * pw < r2) & (pv * pv + pw * pw < r2)


FISSURE_HU = 40.0
"""The fissures' pleura (two visceral layers): soft tissue, a fraction of a millimetre thick (chestwall.Body.pleura)."""


def _paint_fissures(anat: Anatomy, cv: Canvas) -> None:
    """Session 12: the interlobar fissures as thin sheets of pleura, painted only over lung (before the vessels, so
    those stay on top; the label stays lung). Each major fissure is the surface y = y_hilum + dy + s_x |x - x_hilum|
    + s_z (z - z_hilum): from high behind the hilum (near the spine) down to the front of the diaphragm, running back
    as it goes out from the hilum; the right minor fissure is a low dome near the hilum's height in front of the right
    major fissure. In a slab a sheet's partial volume is exact (chestwall.sheet_band): a faint line where it is steep,
    a faint haze where it lies flat in the slab."""
    bd = anat.body
    if bd is None or len(anat.pulmonary) < 3:
        return
    grid, img = cv.grid, cv.img
    x, y, px = grid.x_mm, grid.y_mm, grid.px_mm
    ez = grid.z_edges_mm
    nz, ny, _ = grid.shape
    cx, ca = anat.cav_c[0], anat.cav_ab[0]
    hu = np.float32(FISSURE_HU)
    for j, side in enumerate((-1.0, 1.0)):  # right lung (x < cx), left lung
        hil = anat.pulmonary[1 + j].points[-1]
        cols = np.nonzero((side * (x - cx) > 0.6 * anat.med_halfwidth) & (side * (x - cx) < ca + 5))[0]
        if not len(cols):
            continue
        s_z, out_ = bd.fis_slope[j], side * (x[cols] - hil[0])  # outward from the hilum (< 0: toward the midline)
        slope_x = np.abs(bd.fis_lat[j] + 2 * bd.fis_curve[j] * out_) + 0.25
        y_lo = hil[1] + _major_fissure_dy(bd, j, out_[None, :], ez[:-1, None] - hil[2])
        y_hi = hil[1] + _major_fissure_dy(bd, j, out_[None, :], ez[1:, None] - hil[2])
        c, w = 0.5 * (y_lo + y_hi), np.abs(y_hi - y_lo) + slope_x * px
        tau = np.broadcast_to(bd.pleura * np.sqrt(1 + s_z ** 2 + slope_x ** 2), c.shape)
        rows, frac = sheet_band(c.ravel(), w.ravel(), float(y[0]), px, ny, tau.ravel())
        ks = np.repeat(np.arange(nz), len(cols))[:, None]
        cc = np.tile(cols, nz)[:, None]
        ks, cc = np.broadcast_to(ks, rows.shape), np.broadcast_to(cc, rows.shape)
        v = img[ks, rows, cc]
        frac *= (v > -990) & (v < -500)
        img[ks, rows, cc] = v + frac * (hu - v)
        if side < 0:
            _paint_minor_fissure(anat, cv, hil)


FISSURE_WAVE_MM = (4.0, 55.0)
"""Session 12: the major fissures undulate by up to this many mm over this wavelength (a real fissure is a gently
warped sheet; a plane showed as a ruler-straight line in every slice)."""


def _major_fissure_dy(bd: Body, j: int, out_mm: np.ndarray, dz_mm: np.ndarray) -> np.ndarray:
    """How far behind the hilum (mm) major fissure j (0 right, 1 left) lies at out_mm outward from the hilum and dz_mm
    above it: a tilted, curved sheet (Body.fis_*) with a gentle warp (FISSURE_WAVE_MM) whose phase comes from Body.seed."""
    ph = np.random.default_rng([bd.seed, 3, j]).uniform(0, 2 * np.pi, 2)
    amp, lam = FISSURE_WAVE_MM
    wave = amp * np.sin(2 * np.pi * out_mm / lam + ph[0]) * np.cos(2 * np.pi * dz_mm / (1.7 * lam) + ph[1])
    return bd.fis_dy[j] + bd.fis_lat[j] * out_mm + bd.fis_curve[j] * out_mm ** 2 + bd.fis_slope[j] * dz_mm + wave


def _paint_minor_fissure(anat: Anatomy, cv: Canvas, hil: np.ndarray) -> None:
    """The right minor (horizontal) fissure: z = z_hilum + minor_dz - 0.002 ((x - x_h)^2 + (y - y_h)^2) (a low dome),
    from the right major fissure forward, over lung; its partial volume per slab as chestwall.sheet_band's along z."""
    bd = anat.body
    grid, img = cv.grid, cv.img
    x, y, px, ez = grid.x_mm, grid.y_mm, grid.px_mm, grid.z_edges_mm
    (cx, cy), (ca, cb) = anat.cav_c, anat.cav_ab
    z0 = hil[2] + bd.minor_dz
    b = grid.box((z0 - 40, cy - cb, cx - ca), (z0 + 5, hil[1] + 60, cx))
    if b is None:
        return
    xs, ys = x[b[2]], y[b[1]]
    ddx, ddy = (xs - hil[0])[None, :], (ys - hil[1])[:, None]
    zm = z0 - 0.002 * (ddx ** 2 + ddy ** 2)
    grad = 0.004 * np.sqrt(ddx ** 2 + ddy ** 2)
    wz = np.maximum(grad * px, 0.3)
    tau = bd.pleura * np.sqrt(1 + grad ** 2)
    # in front of the right major fissure at this height
    y_major = hil[1] + _major_fissure_dy(bd, 0, -ddx, np.float64(z0 - hil[2]))
    front = (ys[:, None] < y_major).astype(np.float32)
    hu = np.float32(FISSURE_HU)
    for k in range(b[0].start, b[0].stop):
        ov = np.clip(np.minimum(ez[k + 1], zm + 0.5 * wz) - np.maximum(ez[k], zm - 0.5 * wz), 0.0, None)
        f = (tau * ov / (wz * grid.dz_mm) * front).astype(np.float32)
        if not f.any():
            continue
        v = img[k, b[1], b[2]]
        f *= (v > -990) & (v < -500)
        img[k, b[1], b[2]] = v + f * (hu - v)


def _raise_under_heart(anat: Anatomy, xs: np.ndarray, ys: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """The diaphragm under the heart is the heart's flat floor (its central tendon): where the pericardium
    would reach below the floor, the lungs stop and the liver / upper abdomen reach up to it, so the heart
    rests on the diaphragm and no lung lies beneath it."""
    if anat.heart_floor_z < -1e8:
        return lo
    z_floor = np.float32(anat.heart_floor_z - PERICARDIUM_REACH_MM)
    foot = np.zeros((len(ys), len(xs)), bool)
    shapes = ventricle_shapes(anat.heart_c, anat.heart_axes, anat.heart_semi)
    if anat.heart_v22:  # v22: the right ventricle rests on the diaphragm too
        shapes = [*shapes, heart_v22.rv_shape(anat.heart_c, anat.heart_axes, anat.heart_semi)]
    for c, s in shapes:
        clo, chi = ellipsoid_columns(xs, ys, c, anat.heart_axes, s + PERICARDIUM_REACH_MM + 1.0)
        foot |= (chi > clo) & (clo < z_floor)
    if not foot.any():
        return lo
    # around the footprint the diaphragm falls away smoothly (slope 0.8) to the domes and the saddle between
    # them, instead of a pedestal with vertical walls
    px = float(abs(xs[1] - xs[0])) if len(xs) > 1 else 1.0
    d_out = ndimage.distance_transform_edt(~foot).astype(np.float32) * np.float32(px)
    if anat.liver_v22:  # v22: a rounded shoulder (a parabola, curvature radius V22_SHOULDER_MM) instead of v8-v20's
        # cone, whose straight slope drew the liver's top as a straight ramp up to the heart on a coronal reformat
        return np.maximum(lo, z_floor - d_out * d_out / np.float32(2.0 * V22_SHOULDER_MM))
    return np.maximum(lo, z_floor - np.float32(0.8) * d_out)


def _segment_fraction(grid: Grid, seg: np.ndarray, n_sub: int):
    """Anti-aliased coverage of a capsule (segment x0..x1 of radius r, seg = (x0, y0, z0, x1, y1, z1, r)) inside its
    box, on n_sub sub-slices per slab averaged to slabs; vectorised over the box's voxels. (box, frac) or None."""
    a, b, r = seg[:3], seg[3:6], float(seg[6])
    px = grid.px_mm
    lo, hi = np.minimum(a, b) - r - 2 * px, np.maximum(a, b) + r + 2 * px
    box = grid.box((lo[2], lo[1], lo[0]), (hi[2], hi[1], hi[0]))
    if box is None:
        return None
    xs, ys = grid.x_mm[box[2]].astype(np.float32), grid.y_mm[box[1]].astype(np.float32)
    e = grid.z_edges_mm[box[0].start:box[0].stop + 1]
    dzs = grid.dz_mm / n_sub
    zs = (e[0] + (np.arange((len(e) - 1) * n_sub) + 0.5) * dzs).astype(np.float32)
    d = (b - a).astype(np.float32)
    l2 = float(d @ d) + 1e-6
    pz, py, pxx = zs[:, None, None] - a[2], ys[None, :, None] - a[1], xs[None, None, :] - a[0]
    t = np.clip((pxx * d[0] + py * d[1] + pz * d[2]) / np.float32(l2), 0, 1)
    dist = np.sqrt((pxx - t * d[0]) ** 2 + (py - t * d[1]) ** 2 + (pz - t * d[2]) ** 2)
    f = np.clip((np.float32(r) - dist) / np.float32(max(px, dzs)) + 0.5, 0, 1)
    return box, f.reshape(len(e) - 1, n_sub, len(ys), len(xs)).mean(axis=1)


LUNG_VESSEL_HU = 40.0
CAPSULE_MIN_PX = 2.5
"""Session 11: lung vessel segments at least this many pixels in radius are painted as exact capsules, thinner ones
splatted (lungvessels.splat_fraction)."""
CAPSULE_MIN_PX_V13 = 3.5
"""Session 13 (THORAX_REALISM): the denser trees have more thick segments; splatting the 2.5-3.5 px ones too keeps
their cost near session 12's (their edge is slightly ragged)."""


def _paint_lung_vessels(anat: Anatomy, cv: Canvas) -> None:
    """The pulmonary vessel trees, painted only over lung (so the mediastinum, heart and chest wall painted
    later, or already there, are never covered): thin tubes of blood that partial volume greys in a thick slab."""
    if anat.lung_vessels is None or not len(anat.lung_vessels):
        return
    segs = anat.lung_vessels
    n_sub = max(1, int(round(cv.grid.dz_mm / 1.25)))
    if anat.chest_realism:
        if anat.bronchi is not None and len(anat.bronchi):
            _paint_bronchi(cv, anat.bronchi, n_sub)
        _paint_lung_trees(cv, segs, n_sub, CAPSULE_MIN_PX if anat.thorax is None else CAPSULE_MIN_PX_V13)
        return
    for seg in segs:
        res = _segment_fraction(cv.grid, seg, n_sub)
        if res is None:
            continue
        box, f = res
        v = cv.img[box]
        f *= (v > -990) & (v < -500)  # lung only: not outside air, airways, gas, nor soft tissue
        paint(cv.img, box, f, LUNG_VESSEL_HU)


def _paint_bronchi(cv: Canvas, bronchi: np.ndarray, n_sub: int) -> None:
    """Session 11: the bronchi's walls (soft tissue, the union of capsules against the lung before them) and their air,
    each only where there was lung, labelled airway; painted before the vessels, which then keep out of them."""
    hu_wall, hu_air = np.float32(HU["muscle"] - 10), np.float32(HU["air"])
    walls = [(seg, res) for seg in bronchi if (res := _segment_fraction(cv.grid, seg, n_sub)) is not None]
    before = [cv.img[box].copy() for _, (box, _) in walls]
    for (_, (box, f)), v0 in zip(walls, before):
        f *= (v0 > -990) & (v0 < -500)
        sub = cv.img[box]
        np.maximum(sub, v0 + f * (hu_wall - v0), out=sub)
        if cv.lab is not None:
            cv.lab[box][f >= 0.5] = LABEL["airway"]
    for (seg, (box0, _)), v0 in zip(walls, before):
        inner = seg.copy()
        inner[6] -= max(0.8, 0.18 * seg[6])
        res = _segment_fraction(cv.grid, inner, n_sub)
        if res is None:
            continue
        box, f = res
        # the lumen's box lies inside its wall's: the lung test against the wall's pristine copy
        rel = tuple(slice(b.start - b0.start, b.stop - b0.start) for b, b0 in zip(box, box0))
        f *= (v0[rel] > -990) & (v0[rel] < -500)
        sub = cv.img[box]
        np.minimum(sub, sub + f * (hu_air - sub), out=sub)


def _paint_lung_trees(cv: Canvas, segs: np.ndarray, n_sub: int, capsule_min_px: float = CAPSULE_MIN_PX) -> None:
    """Session 11's trees (thousands of short segments): the thick ones as exact capsules, their union taken against
    the lung as it was before any of them (painting one over another's anti-aliased edge, which no longer reads as
    lung, left dark seams across a vessel at every joint), then the thin ones splatted (lungvessels.splat_fraction),
    each only over lung."""
    hu = np.float32(LUNG_VESSEL_HU)
    thick = segs[:, 6] >= capsule_min_px * cv.grid.px_mm
    caps = [res for res in (_segment_fraction(cv.grid, seg, n_sub) for seg in segs[thick]) if res is not None]
    before = [cv.img[box].copy() for box, _ in caps]
    for (box, f), v0 in zip(caps, before):
        f *= (v0 > -990) & (v0 < -500)
        sub = cv.img[box]
        np.maximum(sub, v0 + f * (hu - v0), out=sub)
    idx, frac = splat_fraction(cv.grid, segs[~thick])
    flat = cv.img.reshape(-1)
    v = flat[idx]
    frac *= (v > -990) & (v < -500)
    flat[idx] = v + frac * (hu - v)


def _paint_arms(anat: Anatomy, cv: Canvas, bone_k: float) -> None:
    """Arms down beside the chest: skin, subcutaneous fat, muscle and the humerus (cortex + marrow), from the
    bottom of the scan to the shoulder, where the humeral head is and the deltoid bridges to the chest wall."""
    if anat.arms is None:
        return
    gap, rx, ry, dy, r_hum, fat, t_sh = anat.arms
    grid = cv.grid
    x, y, px = grid.x_mm, grid.y_mm, grid.px_mm
    (bx, by), (ba, _) = anat.body_c, anat.body_ab
    zd = anat.z_dome_mm
    z0, z1 = grid.z_edges_mm[0] - 10, grid.z_edges_mm[-1] + 10
    fz_sh = slab_fraction(np.float32(zd + t_sh - 35), np.float32(z1), grid.z_edges_mm)
    ks_sh = np.nonzero(fz_sh > 0)[0]
    for side in (-1.0, 1.0):
        ax_, ay_ = bx + side * (ba + gap + rx), by + dy
        b = grid.box((z0, ay_ - ry - 40, ax_ - rx - 40), (z1, ay_ + ry + 40, ax_ + rx + 40))
        if b is None:
            continue
        xs, ys = x[b[2]], y[b[1]]
        hx = ax_ - side * 0.15 * rx
        f_hum = ellipse_footprint(xs, ys, hx, ay_, r_hum, r_hum, px)
        if anat.thorax is None:
            layers = ((ellipse_footprint(xs, ys, ax_, ay_, rx, ry, px), HU["skin"], "arm"),
                      (ellipse_footprint(xs, ys, ax_, ay_, rx - 2, ry - 2, px), HU["fat"], "arm"),
                      (ellipse_footprint(xs, ys, ax_, ay_, rx - 2 - fat * 0.5, ry - 2 - fat * 0.6, px), HU["muscle"], "arm"),
                      (f_hum, 620 * bone_k, "humerus"),
                      (ellipse_footprint(xs, ys, hx, ay_, r_hum - 2.5, r_hum - 2.5, px), 200 * bone_k, None))
        else:
            layers = _arm_layers_v13(anat, xs, ys, px, (ax_, ay_, hx), side, f_hum, bone_k)
        # the arm spans the whole scan and what lies under it (air, the body's z-invariant wall) is the same in
        # every slab: paint one slab and copy it (painting the (z, y, x) box layer by layer cost 0.6 s at 1.25 mm)
        k0 = b[0].start
        one = Canvas(grid, cv.img[k0:k0 + 1, b[1], b[2]].copy(), cv.bright[k0:k0 + 1, b[1], b[2]].copy(),
                     None if cv.lab is None else cv.lab[k0:k0 + 1, b[1], b[2]].copy())
        box1 = (slice(0, 1), slice(None), slice(None))
        for f2, hu, name in layers:
            one.paint(box1, f2[None], hu, name, is_bright=hu > 150)
        m = layers[0][0] > 0  # only under the arm's outline: the body's own content elsewhere in the box
        for dst, src in ((cv.img, one.img), (cv.bright, one.bright), (cv.lab, one.lab)):
            if dst is not None:
                dst[b][:, m] = src[0][m]  # a view of the box: the slab's columns, copied to every slab
        if len(ks_sh):  # the shoulder: deltoid and axillary soft tissue join the arm to the chest wall
            f_br = ellipse_footprint(xs, ys, bx + side * (ba + 0.5 * gap), ay_, gap + 0.6 * rx, 0.7 * ry, px) * (1 - f_hum)
            bs = (slice(int(ks_sh[0]), int(ks_sh[-1]) + 1), b[1], b[2])
            cv.paint(bs, fz_sh[bs[0]][:, None, None] * f_br[None], HU["muscle"], "arm")
        head = ellipsoid_fraction(grid, np.array([hx, ay_, zd + t_sh - 10]), np.eye(3), np.array([r_hum + 12] * 3))
        if head is not None:  # the humeral head at the top of the arm
            cv.paint(head[0], head[1], 520 * bone_k, "humerus", is_bright=True)


def _arm_layers_v13(anat: Anatomy, xs: np.ndarray, ys: np.ndarray, px: float, centre: tuple[float, float, float],
                    side: float, f_hum: np.ndarray, bone_k: float) -> tuple:
    """Session 13 (THORAX_REALISM): an arm's cross-section as (footprint, HU, label) layers painted in order: a lobulated
    outline (Thorax.arm_harm), subcutaneous fat, the flexors in front and the extensors behind the humerus with a fat
    plane between them that widens toward the chest (the medial intermuscular septum), and in it the neurovascular
    bundle (brachial artery, two veins, nerve: soft-tissue dots in fat), then the humerus' cortex and marrow. Before:
    three concentric ellipses."""
    th = anat.thorax
    assert th is not None and anat.arms is not None
    ax_, ay_, hx = centre
    _, rx, ry, _, r_hum, fat, _ = anat.arms
    harm = th.arm_harm[:6] if side < 0 else th.arm_harm[6:12]
    skin = wobbly_ellipse_footprint(xs, ys, ax_, ay_, rx, ry, px, harm)
    sub = wobbly_ellipse_footprint(xs, ys, ax_, ay_, rx - 2, ry - 2, px, harm)
    mus = wobbly_ellipse_footprint(xs, ys, ax_, ay_, rx - 2 - fat * 0.5, ry - 2 - fat * 0.6, px, harm)
    # the septum: a fat band at the humerus' height, from the bone toward the chest (medial: -side), widening there
    t = np.clip(-side * (xs - hx) / max(rx, 1.0), 0.0, 1.0)[None, :].astype(np.float32)
    half = np.float32(0.5 * th.arm_septum) * (1.0 + 2.0 * t)
    dy = np.abs((ys - ay_)[:, None].astype(np.float32))
    sep = np.clip((half - dy) / np.float32(px) + 0.5, 0.0, 1.0) * (t > 0) * mus
    bundle = np.zeros_like(mus)
    bx0 = hx - side * (r_hum + 0.45 * (rx - r_hum))
    for ddx, ddy, r in ((0.0, 0.0, 2.6), (-3.5, 3.0, 2.2), (3.5, -3.0, 2.0), (2.0, 4.0, 1.5)):
        bundle = np.maximum(bundle, ellipse_footprint(xs, ys, bx0 + side * ddx, ay_ + ddy, r, r, px))
    return ((skin, HU["skin"], "arm"), (sub, HU["fat"], "arm"), (mus, HU["muscle"], "arm"), (sep, HU["fat"] + 10, "arm"),
            (bundle * mus, HU["muscle"] - 10, "arm"), (f_hum, 620 * bone_k, "humerus"),
            (ellipse_footprint(xs, ys, hx, ay_, r_hum - 2.0, r_hum - 2.0, px), 200 * bone_k, None))


def _paint_shoulders(anat: Anatomy, cv: Canvas, bone_k: float) -> None:
    """The shoulders: from t_start up to the top of the scan the body widens on both sides (muscle under fat
    and skin, growing as sqrt of the height), with the humeral heads near the top lateral to the scapulae,
    so the coronal reformat is no longer a straight-walled tube."""
    if anat.shoulders is None:
        return
    w_top, dy, t0 = anat.shoulders
    grid = cv.grid
    x, y, px, zc = grid.x_mm, grid.y_mm, grid.px_mm, grid.z_mm
    (bx, by), (ba, bb) = anat.body_c, anat.body_ab
    z0, z_top = anat.z_dome_mm + t0, anat.z_dome_mm + anat.t_top
    ks = np.nonzero(grid.z_edges_mm[1:] > z0)[0]
    if not len(ks):
        return
    for side in (-1.0, 1.0):
        xc = bx + side * (ba - 10)
        b = grid.box((z0, by + dy - 0.75 * bb - 5, xc - w_top - 30), (z_top + 10, by + dy + 0.75 * bb + 5, xc + w_top + 30))
        if b is None:
            continue
        xs, ys = x[b[2]], y[b[1]]
        kin = ks[(ks >= b[0].start) & (ks < b[0].stop)]
        h = np.clip((zc[kin] - z0) / max(z_top - z0, 1.0), 0, 1)
        if anat.thorax is None:
            w_all = np.round(10 + (w_top + 10) * np.sqrt(h))  # 1 mm steps: one footprint per step, not per slab
        else:  # session 13: from nothing, linearly (sqrt's 10 mm start widened the body in one slab)
            w_all = np.round((w_top + 10) * h)
        for w in np.unique(w_all):
            kk = kin[w_all == w]
            ex, ey = xc + side * 0.5 * w, by + dy
            sa, sb = 10 + 0.5 * w, 0.55 * bb
            kb = (slice(int(kk[0]), int(kk[-1]) + 1), b[1], b[2])  # consecutive: the width grows with height
            for grow, hu in ((0.0, HU["skin"]), (2.0, HU["fat"]), (2.0 + 0.4 * anat.fat_mm, HU["muscle"])):
                f2 = ellipse_footprint(xs, ys, ex, ey, max(sa - grow, 1.0), max(sb - grow, 1.0), px)[None]
                if hu == HU["skin"]:  # skin only where the shoulder stands out of the body
                    f2 = f2 * (cv.img[kb] <= HU["air"] + 1)
                cv.paint(kb, np.broadcast_to(f2, (kb[0].stop - kb[0].start, *f2.shape[1:])), hu, "body_wall")
        if anat.arms is None:  # arms up: the humeral head at the top of the shoulder (arms down: _paint_arms)
            head = ellipsoid_fraction(grid, np.array([xc + side * (0.5 * w_top + 5), by + dy + 10, z_top - 5]), np.eye(3),
                                      np.array([22.0, 22.0, 22.0]))
            if head is not None:
                cv.paint(head[0], head[1], 480 * bone_k, "humerus", is_bright=True)


def _paint_clavicles(anat: Anatomy, cv: Canvas, bone_k: float) -> None:
    """Clavicles: cortex and marrow tubes (bright, never coronary)."""
    for t in anat.clavicles:
        paint_tube(cv, t, 600 * bone_k, is_bright=True)
        paint_tube(cv, Tube(t.points, np.maximum(t.radius - 2.2, 1.0), t.label), 230 * bone_k, label="clavicle")


def _paint_upper_abdomen(anat: Anatomy, cv: Canvas) -> None:
    """Spleen (posterior-lateral) and stomach (anterior, fluid with a gas cap) under the left dome."""
    (cx, cy), (ca, cb) = anat.cav_c, anat.cav_ab
    for name, dx, dy, semi, hu in (("spleen", 0.68, 0.42, (0.18, 0.22, 0.0), HU["spleen"]),
                                   ("stomach", 0.32, -0.32, (0.24, 0.26, 0.0), HU["stomach"])):
        sx, sy = semi[0] * ca, semi[1] * cb
        sz = 0.8 * max(sx, sy)
        top = float(_dome_low(anat, np.float32(dx + 0.6 * semi[0]), np.float32(dy - 0.6 * semi[1] * np.sign(dy))))
        top = min(top, float(_dome_low(anat, np.float32(dx), np.float32(dy)))) - 4.0
        c = np.array([cx + dx * ca, cy + dy * cb, top - sz])
        res = ellipsoid_fraction(cv.grid, c, np.eye(3), np.array([sx, sy, sz]))
        if res is None:
            continue
        cv.paint(res[0], res[1], hu, name)
        if name == "stomach":  # gas rises to the top of the fundus
            gas = ellipsoid_fraction(cv.grid, c + np.array([0, -0.2 * sy, 0.55 * sz]), np.eye(3),
                                     np.array([0.6 * sx, 0.6 * sy, 0.35 * sz]))
            if gas is not None:
                cv.paint(gas[0], gas[1], HU["air"], "stomach")


def _paint_mediastinum(anat: Anatomy, cv: Canvas) -> None:
    """Mediastinal fat: the superior mediastinum above the heart's base (between sternum and spine,
    narrower behind), and the posterior mediastinum (around the descending aorta and oesophagus)
    between the heart and the spine down to the diaphragm. At the heart's levels the lungs meet the
    pericardium directly, as in a real chest."""
    grid = cv.grid
    x, y, px = grid.x_mm, grid.y_mm, grid.px_mm
    (cx, cy), (_, cb) = anat.cav_c, anat.cav_ab
    mx, my = cx + 4.0, cy - 0.12 * cb
    z0m, z1m = anat.aorta_root[2] - 8, anat.z_dome_mm + anat.t_apex - 25
    mb = grid.box((z0m, my - 0.86 * cb - 2 * px, mx - anat.med_halfwidth - 2 * px),
                  (z1m, my + 0.86 * cb + 2 * px, mx + anat.med_halfwidth + 2 * px))
    if mb is not None:  # narrowing upward: 1.15 x the half-width at the heart's base, 0.6 x at the inlet
        fz = slab_fraction(np.float32(z0m), np.float32(z1m), grid.z_edges_mm)
        # triangular: narrow behind the sternum, wide around the vessels and trachea
        back = ellipse_footprint(x[mb[2]], y[mb[1]], mx, my + 0.6 * cb, 1.5 * anat.med_halfwidth, 1.25 * cb, px)
        # session 13: 80 % wider above the heart (the real series' mediastinum is 65-113 mm wide 100 mm above their
        # heart centres, session 12's phantoms 47-96 mm; bench/phantom_body_metrics.py heart_share), in a wider box;
        # the slabs below keep session 12's box and footprint exactly
        z_wide = upper_chest_z(anat) - 10.0 if anat.thorax is not None else np.inf
        hw = 1.15 * (1.0 + MEDIASTINUM_WIDEN_V13) * anat.med_halfwidth
        mw = grid.box((z0m, my - 0.86 * cb - 2 * px, mx - hw - 2 * px), (z1m, my + 0.86 * cb + 2 * px, mx + hw + 2 * px))
        backs: dict[float, np.ndarray] = {}
        for k in range(mb[0].start, mb[0].stop):
            w = anat.med_halfwidth * float(np.interp(grid.z_mm[k], [z0m, z1m], [1.15, 0.6]))
            wide = 1.0 + MEDIASTINUM_WIDEN_V13 * float(np.clip((grid.z_mm[k] - z_wide) / 20.0, 0.0, 1.0))
            if wide == 1.0:
                bx_, bk = mb, back
            else:  # (one footprint per width: most slabs have the full one)
                bx_ = mw
                if wide not in backs:
                    backs[wide] = ellipse_footprint(x[mw[2]], y[mw[1]], mx, my + 0.6 * cb,
                                                    1.5 * anat.med_halfwidth * wide, 1.25 * cb, px)
                bk = backs[wide]
            med = ellipse_footprint(x[bx_[2]], y[bx_[1]], mx, my, w * wide, 0.86 * cb, px) * bk
            kb = (slice(k, k + 1), bx_[1], bx_[2])
            cv.paint(kb, fz[k] * med[None], HU["fat"], "mediastinal_fat")
        if anat.thorax is not None:
            _paint_prevascular(anat, cv, mx, z1m)
    sx, sy, sr = anat.spine_c[0], anat.spine_c[1], anat.spine_r
    pcx, pcy = 0.5 * (sx - 8 + anat.desc_c[0] + anat.desc_r), sy - sr - 14
    pa, pb = 0.5 * (anat.desc_c[0] + anat.desc_r + 8 - sx) + 6, 20.0
    z0p, z1p = anat.z_dome_mm - 10, anat.aorta_root[2]
    b = grid.box((z0p, pcy - pb - 2 * px, pcx - pa - 2 * px), (z1p, pcy + pb + 2 * px, pcx + pa + 2 * px))
    if b is not None:
        f2 = ellipse_footprint(x[b[2]], y[b[1]], pcx, pcy, pa, pb, px)
        fz = slab_fraction(np.float32(z0p), np.float32(z1p), grid.z_edges_mm)[b[0]]
        cv.paint(b, fz[:, None, None] * f2[None], HU["mediastinum"], "mediastinal_fat")


MEDIASTINUM_WIDEN_V13 = 0.0
"""Session 13 (THORAX_REALISM): how much wider the superior mediastinum's fat is drawn above the heart's top. 0.8
brings the mediastinum's width 100-120 mm above the heart to the real series' (docs/phantom.md), but together with the
slope and the prevascular fat it moves chest.anatomy.read_chest's pericardial sac enough that the anatomy rules overrule
7 of 10 true coronary candidates of phantom 38 (seed 100, 256 px; none without it, none on patients 31-37): off until
the finder is made robust to it."""


def _paint_prevascular(anat: Anatomy, cv: Canvas, mx: float, z_top: float) -> None:
    """Session 13: the prevascular (anterior) mediastinum above the heart: fat from behind the sternum back to the
    great vessels, a wedge 10-16 mm wide at the sternum, inside the cavity (before the great vessels and airways are
painted, so they lie in it). Before, a midline sagittal showed lung
    (black) between the sternum and the aorta above the heart, where a real chest has the thymic fat. Only above
    upper_chest_z - 10 mm, so the heart's surroundings are as before."""
    grid = cv.grid
    (_, cy), (_, cb) = anat.cav_c, anat.cav_ab
    z0 = upper_chest_z(anat) - 10.0
    half = 10.0 + 0.25 * anat.med_halfwidth
    b = grid.box((z0, cy - cb - 2 * grid.px_mm, mx - half - 2 * grid.px_mm),
                 (z_top, cy - 0.2 * cb, mx + half + 2 * grid.px_mm))
    if b is None:
        return
    f2 = ellipse_footprint(grid.x_mm[b[2]], grid.y_mm[b[1]], mx, cy - 0.6 * cb, half, 0.45 * cb, grid.px_mm)
    fz = slab_fraction(np.float32(z0), np.float32(z_top), grid.z_edges_mm)[b[0]]
    inside = _cavity_footprint(anat, grid.x_mm[b[2]], grid.y_mm[b[1]], grid.px_mm)  # not over the wall
    cv.paint(b, fz[:, None, None] * (f2 * inside)[None], HU["mediastinum"], "mediastinal_fat")


def paint_tube(cv: Canvas, tube: Tube, hu: float, *, grow_mm: float = 0.0, label: str | None = None,
               is_bright: bool = False) -> None:
    """A tube as a union of spheres along its centreline, spaced at most 0.35 radius (surface ripple
    under 2 % of the radius). Painting the same HU twice is a no-op, so overlaps are exact; each
    sphere's label comes from the tube's per-point label unless ``label`` is given."""
    r_all = tube.radius + grow_mm
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(tube.points, axis=0), axis=1))])
    last = -np.inf
    for i in range(len(s)):
        if s[i] - last < 0.35 * r_all[i] and i != len(s) - 1:
            continue
        last = s[i]
        r = float(r_all[i])
        res = ellipsoid_fraction(cv.grid, tube.points[i], np.eye(3), np.array([r, r, r]))
        if res is not None:
            cv.paint(res[0], res[1], hu, label or ANATOMY_LABELS[int(tube.label[i])], is_bright=is_bright)


def _paint_great_vessels(anat: Anatomy, cv: Canvas) -> None:
    """Aorta (root to abdomen), pulmonary trunk and arteries, SVC, IVC: blood in a thin wall, in fat."""
    tubes = (([anat.aorta] if anat.aorta is not None else []) + list(anat.pulmonary) + list(anat.venae)
             + list(anat.arch_branches))
    for t in tubes:  # a fat collar, then the lumen (on non-contrast CT the wall and blood are one grey)
        paint_tube(cv, t, HU["fat"] + 15, grow_mm=2.5, label="mediastinal_fat")
    for t in tubes:
        paint_tube(cv, t, HU["blood"])
    for t in anat.hilar:  # session 14: in the lung at the hila, so no fat collar (a real hilar vessel meets the lung)
        paint_tube(cv, t, HU["blood"])


def _paint_airways(anat: Anatomy, cv: Canvas) -> None:
    """Trachea to the carina, main bronchi, and the oesophagus in front of the spine."""
    grid = cv.grid
    x, y, px = grid.x_mm, grid.y_mm, grid.px_mm
    cx = anat.cav_c[0]
    zd = anat.z_dome_mm

    def cyl(cx_, cy_, r, z0, z1, hu, label):
        fzz = slab_fraction(np.float32(z0), np.float32(z1), grid.z_edges_mm)
        b = grid.box((z0, cy_ - r - 2 * px, cx_ - r - 2 * px), (z1, cy_ + r + 2 * px, cx_ + r + 2 * px))
        if b is not None:
            f2 = ellipse_footprint(x[b[2]], y[b[1]], cx_, cy_, r, r, px)
            cv.paint(b, fzz[b[0]][:, None, None] * f2[None], hu, label)

    tr_y = anat.spine_c[1] - anat.spine_r - 14
    carina = carina_z(anat)
    cyl(cx, tr_y, 10.0, carina, zd + anat.t_top + 10, HU["muscle"], "airway")
    cyl(cx, tr_y, 8.0, carina, zd + anat.t_top + 10, HU["air"], "airway")
    for side in (-1, 1):
        cyl(cx + side * 16, tr_y + 4, 7.0, carina - 35, carina + 2, HU["muscle"], "airway")
        cyl(cx + side * 16, tr_y + 4, 5.0, carina - 35, carina + 2, HU["air"], "airway")
    cyl(cx + 6, anat.spine_c[1] - anat.spine_r - 4, 6.0, grid.z_edges_mm[0], carina, HU["muscle"], "oesophagus")
    if anat.la_body:  # v5: on up to the top, left-posterior of the trachea, on the vertebral bodies (v4 stopped it at
        # the carina, and the sagittal reformat showed the superior mediastinum as one block of fat)
        cyl(cx + 12, anat.spine_c[1] - anat.spine_r - 5, 6.0, carina, zd + anat.t_top + 10, HU["muscle"], "oesophagus")


def _paint_spine(anat: Anatomy, cv: Canvas, bone_k: float) -> None:
    """Vertebral bodies (cortex + cancellous) with discs, canal, posterior elements."""
    if anat.body is not None:
        _paint_vertebrae(anat, cv, bone_k)
        return
    grid, img = cv.grid, cv.img
    x, y, px, zc = grid.x_mm, grid.y_mm, grid.px_mm, grid.z_mm
    nz = grid.shape[0]
    zd = anat.z_dome_mm
    sx, sy, sr = anat.spine_c[0], anat.spine_c[1], anat.spine_r
    bsp = grid.box((grid.z_edges_mm[0], sy - sr - 2 * px, sx - 45), (grid.z_edges_mm[-1], sy + sr + 55, sx + 45))
    if bsp is None:  # a small (gated, cardiac) field of view may hold no spine at all
        return
    xs, ys = x[bsp[2]], y[bsp[1]]
    k0 = np.floor((grid.z_edges_mm[0] - zd - anat.vert_phase) / anat.vert_period) - 1
    starts = zd + anat.vert_phase + anat.vert_period * (k0 + np.arange(int(len(zc) * 5 / anat.vert_period) + 4))
    disc = 5.5
    fvert = np.zeros(nz, np.float32)
    for s0 in starts:
        fvert += slab_fraction(np.float32(s0 + disc / 2), np.float32(s0 + anat.vert_period - disc / 2), grid.z_edges_mm)
    f_body = ellipse_footprint(xs, ys, sx, sy, sr * 1.1, sr, px)
    f_canc = ellipse_footprint(xs, ys, sx, sy, sr * 1.1 - 2, sr - 2, px)
    post = np.zeros((len(ys), len(xs)), np.float32)
    cyc = sy + sr + 8
    ring = ellipse_footprint(xs, ys, sx, cyc, 12.5, 11.5, px)
    spinous = ellipse_footprint(xs, ys, sx, cyc + SPINOUS_TIP_MM - 18.0, 4.0, 18.0, px)
    trans = ellipse_footprint(xs, ys, sx, cyc - 2, 36.0, 5.0, px)
    np.maximum(ring, spinous, out=post)
    np.maximum(post, trans, out=post)
    canal = ellipse_footprint(xs, ys, sx, cyc, 7.5, 7.0, px)
    # the posterior elements of each vertebra (arch, transverse and spinous processes) are separate too: 70 % of
    # the period, a third of a period lower than the body (the processes slope down), so a sagittal reformat
    # shows a row of spinous processes, not one continuous bar (v3)
    fpost = np.zeros(nz, np.float32)
    for s0 in starts - anat.vert_period / 3:
        fpost += slab_fraction(np.float32(s0 + 0.15 * anat.vert_period), np.float32(s0 + 0.85 * anat.vert_period),
                               grid.z_edges_mm)
    # painted on the columns the bone covers only, gathered once (the box is mostly muscle the spine leaves alone)
    iy, ix = np.nonzero((f_body > 0) | (f_canc > 0) | (post > 0) | (canal > 0))
    fb, fc, po, ca = f_body[iy, ix], f_canc[iy, ix], post[iy, ix], canal[iy, ix]
    vb, vp = fvert[:, None], fpost[:, None]
    sub = img[bsp]
    g = sub[:, iy, ix]
    g += fb * (np.float32(HU["disc"]) - g)
    g += vb * fb * (np.float32(720 * bone_k) - g)
    g += vb * fc * (np.float32(CANCELLOUS_HU * bone_k) - g)
    g += vp * po * (np.float32(420 * bone_k) - g)
    g += ca * (np.float32(HU["csf"]) - g)
    sub[:, iy, ix] = g
    br = cv.bright[bsp]
    br[:, iy, ix] |= (fb > 0.01) & (vb > 0.01) | (po > 0.01) & (vp > 0.01)
    if cv.lab is not None:  # discs count as vertebra (the column), the canal does not
        bone = ((fb >= 0.5) | (po >= 0.5) & (vp >= 0.5)) & (ca < 0.5)
        lv = cv.lab[bsp]
        lg = lv[:, iy, ix]
        lg[bone] = LABEL["vertebra"]
        lv[:, iy, ix] = lg


def _vertebra_footprints(anat: Anatomy, xs: np.ndarray, ys: np.ndarray, px: float) -> dict[str, np.ndarray]:
    """Session 12: a thoracic vertebra's parts in the axial plane (coverage (ny, nx)): the body, rounded with its back
    flattened where the canal lies, at the endplates ("rim") and at its narrower mid-height ("waist"), each with its
    cancellous core inside a thin cortex; the basivertebral vein's channel; pedicles from the body's back corners
    along the canal; laminae roofing it; transverse processes running out and back to the rib tubercles; the spinous
    process in two parts (its base and its down-sloping tip); the canal."""
    bd = anat.body
    assert bd is not None
    sx, sy, sr = anat.spine_c[0], anat.spine_c[1], anat.spine_r
    cyc = sy + sr + 8.0
    c = bd.cortex
    out: dict[str, np.ndarray] = {}
    dent = ellipse_footprint(xs, ys, sx, sy + 1.1 * sr, 0.42 * sr, 0.28 * sr, px)
    dent_in = ellipse_footprint(xs, ys, sx, sy + 1.1 * sr, 0.42 * sr + c, 0.28 * sr + c, px)
    for name, k in (("rim", 1.0), ("waist", bd.waist)):
        out[name] = ellipse_footprint(xs, ys, sx, sy, 1.1 * sr * k, sr * k, px) * (1 - dent)
        out[name + "_in"] = ellipse_footprint(xs, ys, sx, sy, 1.1 * sr * k - c, sr * k - c, px) * (1 - dent_in)
    out["vein"] = ellipse_footprint(xs, ys, sx, sy + 0.55 * sr, 1.6, 0.3 * sr, px)

    def pair(a: tuple[float, float], b: tuple[float, float], r: float) -> np.ndarray:
        return np.maximum(*(capsule_footprint(xs, ys, (sx + s * a[0], a[1]), (sx + s * b[0], b[1]), r, px)
                            for s in (-1.0, 1.0)))

    # thoracic sizes: pedicles 6-7 mm thick, laminae ~5 mm, the spinous process 5-6 mm tapering (cortex ~1.2 mm)
    parts = {"pedicle": ((0.6 * sr, sy + 0.72 * sr), (9.5, cyc - 1.5), 3.3),
             "transverse": ((10.0, cyc), (27.0, cyc + bd.tp_back), 4.0),
             "lamina": ((10.0, cyc + 2.5), (2.5, cyc + 10.0), 2.6)}
    for name, (a, b, r) in parts.items():
        out[name] = pair(a, b, r)
        out[name + "_in"] = pair(a, b, r - 1.2)
    tip = cyc + SPINOUS_TIP_MM
    for name, (a0, a1, r) in (("spinous", (cyc + 9.0, cyc + 25.0, 2.9)), ("spinous_tip", (cyc + 22.0, tip - 3.0, 2.6))):
        out[name] = capsule_footprint(xs, ys, (sx, a0), (sx, a1), r, px)
        out[name + "_in"] = capsule_footprint(xs, ys, (sx, a0), (sx, a1), r - 1.2, px)
    out["canal"] = ellipse_footprint(xs, ys, sx, cyc, 7.5, 7.0, px)
    return out


VERTEBRA_Z = {"pedicle": (0.45, 0.93), "transverse": (0.5, 0.9), "lamina": (-0.1, 0.7), "spinous": (-0.15, 0.55),
              "spinous_tip": (-0.6, 0.05)}
"""Session 12: each posterior part's height within its vertebra (fractions of the period from the body's lower
endplate): pedicles and transverse processes at the body's upper half, the laminae lower, the spinous process sloping
down so that its tip lies beside the next vertebra's body (a sagittal reformat shows the row of overlapping processes)."""


VERTEBRA_Z_V15 = {"pedicle": (0.45, 0.93), "transverse": (0.5, 0.9), "lamina": (0.05, 0.6), "spinous": (0.0, 0.38),
                  "spinous_tip": (0.0, 0.38)}
"""v15: the laminae thinner in height and the spinous process one blade (its base and tip at the same heights where
it leaves the lamina) sloping down V15_SPINOUS_DROP mm per mm behind that, so that on a midline sagittal reformat the
processes are separate oblique shingles with soft tissue between them, as on the real series (VERTEBRA_Z's overlapped
into one white bar behind the canal: docs/pictures/phantom_v11_vs_lidc-idri-000*.png)."""
V15_SPINOUS_DROP = 0.75
"""v15: how far (mm) the spinous process's blade falls per mm behind its base (about 37 degrees below the horizontal:
the mid-thoracic processes overlap the vertebra below, docs/pictures/spine_landmarks_lidc-idri-0002.png)."""


def _vertebra_z(anat: Anatomy, grid: Grid, starts: np.ndarray, disc: float,
                dy_rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per slab (nz,), the fraction covered by each vertebral part's heights (VERTEBRA_Z; the body's rim 22 % of the
    period at each endplate, its waist between, 0.6 mm endplates). v15 (``dy_rows``, the rows' y - the spine's centre,
    mm): per slab and row (nz, len(dy_rows)), each vertebra tilted by the column's lean at its middle
    (kyphosis_slope), so that once _bend_spine has bent the column its endplates and processes lie across it."""
    p = anat.vert_period
    e = grid.z_edges_mm
    vz = VERTEBRA_Z if anat.kyphosis is None else VERTEBRA_Z_V15
    spans = {"rim": [], "waist": [], "end": []}
    spans.update({k: [] for k in vz})
    owner = {k: [] for k in spans}  # the vertebra each span belongs to
    for i, s0 in enumerate(starts):
        b0, b1 = s0 + disc / 2, s0 + p - disc / 2
        spans["rim"] += [(b0, b0 + 0.22 * p), (b1 - 0.22 * p, b1)]
        spans["waist"].append((b0 + 0.22 * p, b1 - 0.22 * p))
        spans["end"] += [(b0, b0 + 0.6), (b1 - 0.6, b1)]
        owner["rim"] += [i, i]
        owner["waist"].append(i)
        owner["end"] += [i, i]
        for k, (f0, f1) in vz.items():
            spans[k].append((s0 + f0 * p, s0 + f1 * p))
            owner[k].append(i)
    out = {}
    if dy_rows is None:
        for k, iv in spans.items():
            lo, hi = np.asarray(iv, np.float32).T
            out[k] = np.clip(slab_fraction(lo, hi, e).sum(axis=1), 0.0, 1.0)
        return out
    lean = kyphosis_slope(anat, np.asarray(starts, float) + 0.5 * p)  # per vertebra
    dys = np.asarray(dy_rows, float)[None, :]
    base = anat.spine_r + 8.0 + 9.0  # the spinous process leaves the laminae here (behind the spine's centre)
    for k, iv in spans.items():  # every (span, row) interval at once: (nz, spans, rows) summed over the spans
        lo, hi = np.asarray(iv, float).T
        d = lean[np.asarray(owner[k])][:, None] * dys
        if k in ("spinous", "spinous_tip"):  # the blade falls behind its base
            d = d - V15_SPINOUS_DROP * np.clip(dys - base, 0.0, None)
        fr = slab_fraction((lo[:, None] + d).astype(np.float32), (hi[:, None] + d).astype(np.float32), e)
        out[k] = np.minimum(fr.sum(axis=1), np.float32(1.0)).astype(np.float32)
    return out


def _paint_vertebrae(anat: Anatomy, cv: Canvas, bone_k: float) -> None:
    """Session 12's vertebrae (BODY_REALISM): discs; the body's cortex, its cancellous bone mottled by a trabecular
    texture (a different field every 9 mm), the endplates and the basivertebral vein; the posterior parts
    (_vertebra_footprints at their heights, _vertebra_z), each cortex round marrow; the canal. Every voxel of the
    column or its parts at or above 130 HU is labelled vertebra and marked bright (bone, never coronary)."""
    grid, img = cv.grid, cv.img
    x, y, px = grid.x_mm, grid.y_mm, grid.px_mm
    zd = anat.z_dome_mm
    sx, sy, sr = anat.spine_c[0], anat.spine_c[1], anat.spine_r
    bsp = grid.box((grid.z_edges_mm[0], sy - sr - 2 * px, sx - 45), (grid.z_edges_mm[-1], sy + sr + 55, sx + 45))
    if bsp is None:
        return
    xs, ys = x[bsp[2]], y[bsp[1]]
    k0 = np.floor((grid.z_edges_mm[0] - zd - anat.vert_phase) / anat.vert_period) - 1
    starts = zd + anat.vert_phase + anat.vert_period * (k0 + np.arange(int(grid.shape[0] * grid.dz_mm / anat.vert_period) + 4))
    disc = 5.5
    fp = _vertebra_footprints(anat, xs, ys, px)
    iy, ix = np.nonzero(np.maximum.reduce([v for v in fp.values()]) > 0)
    g2 = {k: v[iy, ix] for k, v in fp.items()}
    if anat.kyphosis is None:
        fz = _vertebra_z(anat, grid, starts, disc)
        fz["body"] = np.clip(fz["rim"] + fz["waist"], 0.0, 1.0)
        z = {k: v[:, None] for k, v in fz.items()}
    else:  # v15: per row, each vertebra tilted across the column that _bend_spine bends
        rows, inv = np.unique(iy, return_inverse=True)
        fz = _vertebra_z(anat, grid, starts, disc, dy_rows=ys[rows] - sy)
        fz["body"] = np.clip(fz["rim"] + fz["waist"], 0.0, 1.0)
        z = {k: v[:, inv] for k, v in fz.items()}
    # cancellous bone: the patient's density, mottled (+-18 %) with a trabecular mesh, a field per 9 mm of height
    tex = texture_fields(anat.body.seed + 1, (len(ys), len(xs)), 6, 0.9, px)[:, iy, ix]
    canc = np.float32(CANCELLOUS_HU * bone_k) * (1 + np.float32(0.18) * tex[0::2] + np.float32(0.35) * septa(tex[1::2]))
    canc = canc[np.floor(grid.z_mm / 9.0).astype(np.int64) % 3]
    g = img[bsp][:, iy, ix]
    g += g2["rim"] * (np.float32(HU["disc"]) - g)
    hot = np.zeros(g.shape, np.float32)  # bone coverage, for the bright mask
    cortex, marrow = np.float32(650 * bone_k), np.float32(210 * bone_k)
    g0, delta = g.copy(), np.zeros(g.shape, np.float32)
    for name in ("rim", "waist"):  # heights that do not overlap: each its column's cortex round cancellous, mixed by z
        col = g0 + g2[name] * (cortex - g0)
        col += g2[name + "_in"] * (canc - col)
        delta += z[name] * (col - g0)
        np.maximum(hot, z[name] * g2[name], out=hot)
    g = g0 + delta
    g += z["end"] * g2["rim_in"] * (np.float32(380 * bone_k) - g)
    g += z["body"] * g2["vein"] * (np.float32(110.0) - g)
    for name in (VERTEBRA_Z if anat.kyphosis is None else VERTEBRA_Z_V15):
        f = z[name] * g2[name]
        g += f * (np.float32(520 * bone_k) - g)
        np.maximum(hot, f, out=hot)
        g += z[name] * g2[name + "_in"] * (marrow - g)
    g += g2["canal"] * (np.float32(HU["csf"]) - g)
    sub = img[bsp]
    sub[:, iy, ix] = g
    bright = (hot > 0.01) & (g2["canal"] < 0.99)
    br = cv.bright[bsp]
    br[:, iy, ix] |= bright
    if cv.lab is not None:  # the column (discs too) and every bone voxel at or above the threshold
        bone = ((g2["rim"] >= 0.5) | (hot >= 0.5) | bright & (g >= 130.0)) & (g2["canal"] < 0.5)
        lv = cv.lab[bsp]
        lg = lv[:, iy, ix]
        lg[bone] = LABEL["vertebra"]
        lv[:, iy, ix] = lg


def _paint_ribs(anat: Anatomy, cv: Canvas, bone_k: float) -> None:
    """Ribs following the cavity: one pass over the slabs of each width step of the bell-shaped thorax
    (cavity_x_scale, quantised to SCALE_STEP as the cavity's own footprint). The pixels that any step's rib band can
    reach are found once (an annulus), so each of the ~40 passes works on those only (0.6 s -> 0.15 s at 512 px)."""
    grid = cv.grid
    scale = _quantised_scale(anat, grid.z_mm)
    (cx, cy), (ca, cb) = anat.cav_c, anat.cav_ab
    ext = anat.wall.post_ext if anat.wall is not None else 0.0
    x0 = ((grid.x_mm - cx) / ca).astype(np.float32)[None, :]
    yy = (grid.y_mm - cy).astype(np.float32)[:, None]
    cb_y = np.where(yy > 0, np.float32(cb + ext), np.float32(cb))
    dyr = yy / cb_y
    s_lo = float(scale.min())

    def rad(s: float) -> np.ndarray:
        return (np.sqrt((x0 / np.float32(s)) ** 2 + dyr ** 2) - 1) * (0.5 * (ca * s + cb_y))

    # a narrower cavity moves the band inward: its pixels lie outside the narrowest band's inner edge and inside
    # the widest one's outer edge
    iy, ix = np.nonzero((rad(s_lo) > -3.5) & (rad(1.0) < 12.5))
    cand = (iy, ix, x0[0, ix], dyr[iy, 0], np.broadcast_to(cb_y, (len(grid.y_mm), 1))[iy, 0])
    for v in np.unique(scale):
        ks = np.nonzero(scale == v)[0]
        _paint_ribs_range(anat, cv, bone_k, slice(int(ks[0]), int(ks[-1]) + 1), float(v), cand)
    if anat.chest_realism:
        _paint_rib_necks(anat, cv, bone_k)


RIB_THETA0 = 0.25
"""Where the ribs' band starts (rad from posterior, _paint_ribs_range); session 11's necks join it to the spine."""


def rib_necks(anat: Anatomy) -> np.ndarray:
    """Session 11: each rib's head, neck and tubercle as two capsules (n, 7: x0, y0, z0, x1, y1, z1, radius): from the
    head on the side of the vertebral body, back and out under the transverse process' tip, then to where the rib's
    band starts (RIB_THETA0). Before, the posterior ribs ended in the paraspinal muscle a few cm from the spine."""
    (cx, cy), (ca, cb) = anat.cav_c, anat.cav_ab
    ext = anat.wall.post_ext if anat.wall is not None else 0.0
    sx, sy, sr = anat.spine_c[0], anat.spine_c[1], anat.spine_r
    cyc = sy + sr + 8.0  # the canal ring's centre (_paint_spine)
    zd = anat.z_dome_mm
    t0 = anat.rib_drop * (1 - np.cos(RIB_THETA0)) / 2
    r_neck = RIB_NECK_R if anat.thorax is None else RIB_NECK_R_V13
    out = []
    for k in range(12):
        z = zd + anat.rib_top - k * anat.rib_period - t0
        xs = float(_quantised_scale(anat, np.array([z]))[0])
        a_k, b_k = ca * xs, cb + ext
        rho = 1.0 + 4.5 / (0.5 * (a_k + b_k))  # the band's centre line, 4.5 mm outside the cavity
        for side in (-1.0, 1.0):
            band = np.array([cx + side * np.sin(RIB_THETA0) * rho * a_k, cy + np.cos(RIB_THETA0) * rho * b_k, z])
            head = np.array([sx + side * 1.02 * sr, sy + 0.4 * sr, z + 4.0])
            tub = np.array([sx + side * 30.0, cyc + 1.0, z + 2.0])
            out += [np.r_[head, tub, r_neck[0]], np.r_[tub, band, r_neck[1]]]
    return np.asarray(out)


RIB_NECK_R = (4.0, 4.5)
"""Session 11: the rib necks' radii (head to tubercle, tubercle to the band), cortex 2 mm."""
RIB_NECK_R_V13 = (3.0, 3.4)
"""Session 13 (THORAX_REALISM): slimmer necks with a 1.2 mm cortex (session 11's read as thick white bars at 5 mm; a
real neck is about 6 mm thick, a thin cortex round marrow)."""


def _paint_rib_necks(anat: Anatomy, cv: Canvas, bone_k: float) -> None:
    """Cortex then marrow of the rib necks (rib_necks), bright and labelled rib."""
    n_sub = max(1, round(cv.grid.dz_mm / 1.25))
    cortex = 2.0 if anat.thorax is None else 1.2
    hu_c, hu_m = (650, 200) if anat.ribs_v19 is None else (anat.ribs_v19.cortex_hu, anat.ribs_v19.marrow_hu)  # v19
    for seg in rib_necks(anat):
        for grow, hu, name in ((0.0, hu_c * bone_k, "rib"), (-cortex, hu_m * bone_k, None)):
            s = seg.copy()
            s[6] += grow
            res = _segment_fraction(cv.grid, s, n_sub)
            if res is not None:
                cv.paint(res[0], res[1], hu, name, is_bright=hu > 150)


def _paint_ribs_range(anat: Anatomy, cv: Canvas, bone_k: float, ks: slice, x_scale: float, cand) -> None:
    """Ribs and costal cartilage in a band just outside the cavity ellipse; each rib an ellipse in
    (radial offset, height) whose height falls toward the front (t_rib(theta)): 95-135 mm from the
    back to the costochondral junction, so that an axial slice cuts each rib in a short oblique
    segment (as in a real chest), not a ring. ``cand``: (row, column, x / ca, y / cb', cb') of the pixels to test."""
    grid, img = cv.grid, cv.img
    zc = grid.z_mm[ks]
    edges = grid.z_edges_mm[ks.start:ks.stop + 1]
    zd = anat.z_dome_mm
    ca = anat.cav_ab[0] * x_scale
    iy0, ix0, x0, dyr0, cby0 = cand
    dxr0 = x0 / np.float32(x_scale)
    rho0 = np.sqrt(dxr0 ** 2 + dyr0 ** 2)
    rad0 = (rho0 - 1.0) * (0.5 * (ca + cby0))
    band = (rad0 > -3) & (rad0 < 12)
    iy, ix = iy0[band], ix0[band]
    rho, dyr = rho0[band], dyr0[band]
    u = rad0[band] - 4.5  # radial offset from the rib centre line
    theta = np.arccos(np.clip(dyr / np.maximum(rho, 1e-6), -1, 1))  # 0 posterior, pi anterior
    t_rel = anat.rib_drop * (1 - np.cos(theta)) / 2
    period = np.float64(anat.rib_period)
    if anat.thorax is not None:  # session 13: past the costochondral junction the cartilage stops falling and rib k's
        # rises a + b k toward the sternum (cart_z_shift)
        g = cartilage_lift(theta)
        t_rel = np.minimum(t_rel, anat.rib_drop * (1 - np.cos(CART_THETA[0])) / 2) - anat.thorax.cart_rise[0] * g
        period = anat.rib_period - anat.thorax.cart_rise[1] * g
    zc_t = (zc - zd)[:, None]
    kk = np.round((anat.rib_top - t_rel[None] - zc_t) / period)
    kk = np.clip(kk, 0, 11)
    t_c = (anat.rib_top - kk * period - t_rel[None] + zd).astype(np.float32)  # (nz, nb)
    is_rib = (theta > 0.25) & (theta < 2.3)
    is_cart = (theta >= 2.3) & (theta < 2.8)
    col = np.where(is_rib | is_cart)[0]
    iy, ix, u, t_c = iy[col], ix[col], u[col], t_c[:, col]
    is_rib = is_rib[col]
    lo_e, hi_e = edges[:-1, None].astype(np.float32), edges[1:, None].astype(np.float32)
    if isinstance(anat.ribs_v19, RibsV20):  # v20: v8-v18's whole fall (t_c as drawn), each rib moved and scaled
        theta = theta[col]
        _paint_rib_sections_v19(anat, cv, bone_k, ks, (iy, ix), u, t_c, theta, is_rib, (lo_e, hi_e),
                                kk[:, col].astype(np.int64))
        return
    if anat.ribs_v19 is not None:  # v19: each rib a flat plate (cortex, marrow), falling less (rib_fall_v19)
        theta = theta[col]
        t_r = anat.rib_drop * (1 - np.cos(theta[is_rib])) / 2 * rib_fall_v19(anat)
        k_r = np.clip(np.round((anat.rib_top - t_r[None] - zc_t) / anat.rib_period), 0, 11)
        t_c[:, is_rib] = (anat.rib_top - k_r * anat.rib_period - t_r[None] + zd).astype(np.float32)
        _paint_rib_sections_v19(anat, cv, bone_k, ks, (iy, ix), u, t_c, theta, is_rib, (lo_e, hi_e))
        return
    # gathered once, painted in order (cortex, marrow, cartilage), scattered once: the fancy indexing into the
    # (z, y, x) volume is what this costs
    v = img[ks, iy, ix]
    bright = np.zeros(v.shape, bool)
    lv = cv.lab[ks, iy, ix] if cv.lab is not None else None
    for half_r, half_h, hu, which, name in ((4.0, 6.0, 650 * bone_k, is_rib, "rib"),
                                            (2.2, 4.0, 200 * bone_k, is_rib, None),
                                            (5.0, 6.0, HU["cartilage"], ~is_rib, "costal_cartilage")):
        hh = np.float32(half_h) * np.sqrt(np.clip(1 - (u / half_r) ** 2, 0, None)).astype(np.float32)
        sel = np.nonzero(which & (np.abs(u) < half_r))[0]
        f = np.clip(np.minimum(t_c[:, sel] + hh[sel][None], hi_e) - np.maximum(t_c[:, sel] - hh[sel][None], lo_e),
                    0, None) / np.float32(grid.dz_mm)
        _blend_section(v, bright, lv, sel, f, hu, name)
    _write_band(cv, img, (ks, iy, ix), v, bright, lv)


def _blend_section(v: np.ndarray, bright: np.ndarray, lv: np.ndarray | None, sel: np.ndarray, f: np.ndarray, hu: float,
                   name: str | None) -> None:
    """Blend one tissue of a rib band's section into the band's columns sel: v (HU) towards hu by the covered share f,
    bright where a bone tissue (hu > 150) covers any of a voxel, the label name where it covers half (v8-v19)."""
    vs = v[:, sel]
    vs += f * (np.float32(hu) - vs)
    v[:, sel] = vs
    if hu > 150:
        bright[:, sel] |= f > 0.01
    if lv is not None and name is not None:
        ls = lv[:, sel]
        ls[f >= 0.5] = LABEL[name]
        lv[:, sel] = ls


def _write_band(cv: Canvas, img: np.ndarray, where: tuple, v: np.ndarray, bright: np.ndarray,
                lv: np.ndarray | None) -> None:
    """Write a painted rib band (its HU, bright mask and labels) back to the canvas at where = (slices, rows, cols)."""
    img[where] = v
    cv.bright[where] |= bright
    if lv is not None:
        cv.lab[where] = lv


def rib_fall_v19(anat: Anatomy) -> float:
    """v19: the share of v8-v18's fall (rib_drop (1 - cos theta) / 2) a rib makes from its neck to the costochondral
    junction (CART_THETA[0]): one rib period less, so rib k's end meets the cartilage v8-v18 drew for rib k - 1 (the
    cartilages, and the calcium drawn on them, stay where they were). Why: with v8-v18's fall an axial slice on the
    heart's levels crossed 5-7 ribs per side, each in a short piece; the real series show 3-5 longer bands per side."""
    fall = anat.rib_drop * (1 - np.cos(CART_THETA[0])) / 2
    return float((fall - anat.rib_period) / fall)


def _paint_rib_sections_v19(anat: Anatomy, cv: Canvas, bone_k: float, ks: slice, pix: tuple, u: np.ndarray,
                            t_c: np.ndarray, theta: np.ndarray, is_rib: np.ndarray, z_edges: tuple,
                            rib_k: np.ndarray | None = None) -> None:
    """v19: _paint_ribs_range's band with each rib's section a rounded rectangle (rib_section_v19) instead of a lens:
    a cortex shell (RibsV19.cortex thick) round marrow, the costal cartilage beyond the costochondral junction
    (CART_THETA[0]) a plate of the rib's anterior height. The section grows taller and thinner from the neck to the
    junction and is tilted (outer edge lower) most at the lateral wall. The cartilages' centre lines (t_c) are
    v8-v18's (the ribs' fall less, rib_fall_v19), so the cartilage calcium drawn on them still lies inside the
    cartilages. pix: the band's (rows, columns). v20 (RibsV20; rib_k (nz, nb) the rib of each band voxel): an
    elliptical section, each rib moved by its jitter (tapering to 0 at the junction) and its height scaled, and the
    cartilages' patchy calcification (_paint_cartilage_calcium_v20)."""
    r, grid, img = anat.ribs_v19, cv.grid, cv.img
    iy, ix = pix
    lo_e, hi_e = z_edges
    w = np.clip((theta - RIB_THETA0) / (CART_THETA[0] - RIB_THETA0), 0.0, 1.0)
    half_h = np.where(is_rib, r.half_h[0] + (r.half_h[1] - r.half_h[0]) * w, r.half_h[1])
    half_t = np.where(is_rib, r.half_t[0] + (r.half_t[1] - r.half_t[0]) * w, r.half_t[1] + 0.8)
    centre = t_c - (r.twist * np.sin(theta) * u).astype(np.float32)[None]  # (nz, nb)
    power, hs = 3.0, None
    if rib_k is not None:  # v20
        power = r.power
        jit = np.asarray(r.jitter, np.float32)[rib_k] * np.where(is_rib, 1.0 - w, 0.0).astype(np.float32)[None]
        centre = centre + jit
        hs = np.where(is_rib[None], np.asarray(r.hscale, np.float32)[rib_k], np.float32(1.0))
    v = img[ks, iy, ix]
    bright = np.zeros(v.shape, bool)
    lv = cv.lab[ks, iy, ix] if cv.lab is not None else None
    for grow, hu, which, name in ((0.0, r.cortex_hu * bone_k, is_rib, "rib"),
                                  (r.cortex, r.marrow_hu * bone_k, is_rib, None),
                                  (0.0, r.cart_hu, ~is_rib, "costal_cartilage")):
        sel = np.nonzero(which & (np.abs(u) < half_t - grow + grid.px_mm))[0]
        if hs is None:
            hh, cover = rib_section_v19(u[sel], half_t[sel] - grow, half_h[sel] - grow, grid.px_mm)
            hh = hh[None]
        else:  # v20: each rib's own height
            hh, cover = rib_section_v19(u[sel][None], half_t[sel][None] - grow,
                                        half_h[sel][None] * hs[:, sel] - grow, grid.px_mm, power)
            cover = cover[0]
        c = centre[:, sel]
        f = np.clip(np.minimum(c + hh, hi_e) - np.maximum(c - hh, lo_e), 0, None) / np.float32(grid.dz_mm)
        f *= cover[None]
        _blend_section(v, bright, lv, sel, f, hu, name)
        if rib_k is not None and name == "costal_cartilage" and r.calcified:
            _paint_cartilage_calcium_v20(anat, cv, (v, bright, lv), sel, f, (ix, 0.5 * (lo_e + hi_e)), theta,
                                         bone_k)
    _write_band(cv, img, (ks, iy, ix), v, bright, lv)


def _paint_cartilage_calcium_v20(anat: Anatomy, cv: Canvas, band: tuple, sel: np.ndarray, f: np.ndarray, where: tuple,
                                 theta: np.ndarray, bone_k: float) -> None:
    """v20: the cartilage voxels' calcified share (cartilage_calcium_share over the arc along the band and the height)
    blended to RibsV20.calc_hu x bone density: bright, labelled cartilage_calcium where it covers half a voxel."""
    v, bright, lv = band
    ix, zc = where
    r = anat.ribs_v19
    s = (theta[sel] * 0.5 * (anat.cav_ab[0] + anat.cav_ab[1])).astype(np.float32)[None]
    side = np.sign(cv.grid.x_mm[ix[sel]] - anat.cav_c[0]).astype(np.float32)[None]
    share = cartilage_calcium_share(r, s, zc.astype(np.float32), side)
    _blend_section(v, bright, lv, sel, f * share, r.calc_hu * bone_k, "cartilage_calcium")


def _paint_scapulae(anat: Anatomy, cv: Canvas, bone_k: float) -> None:
    """Thin plates behind the posterior-lateral ribs in the upper chest (cortex + marrow)."""
    grid = cv.grid
    x, y, px, zc = grid.x_mm, grid.y_mm, grid.px_mm, grid.z_mm
    zd = anat.z_dome_mm
    (cx, cy), (ca, cb) = anat.cav_c, anat.cav_ab
    ext = anat.wall.post_ext if anat.wall is not None else 0.0
    ang, length, t_bot = anat.scapula
    zs0, zs1 = zd + t_bot, zd + anat.t_top + 10
    fzs = slab_fraction(np.float32(zs0), np.float32(zs1), grid.z_edges_mm)
    if not np.any(fzs > 0):
        return
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
        cv.paint(b, fb * f_o[None], 520 * bone_k, "scapula", is_bright=True)
        cv.paint(b, fb * f_i[None], 170 * bone_k)
        if anat.chest_realism:  # session 11: the scapular spine, a ridge backward from the blade's upper third
            _paint_scapular_spine(cv, bone_k, (px_c, py_c), float(tang), side, (zs0, zs1))


def _paint_scapular_spine(cv: Canvas, bone_k: float, centre: tuple[float, float], tang: float, side: float,
                          zs: tuple[float, float]) -> None:
    """The spine of the scapula: on the blade's upper third, a 14 mm ridge running back (away from the ribs) and out,
    so an axial slice there shows the blade and its spine as a T (the flat plate alone read as a line)."""
    grid = cv.grid
    x, y, px = grid.x_mm, grid.y_mm, grid.px_mm
    z0 = zs[0] + 0.6 * (zs[1] - zs[0])
    fz = slab_fraction(np.float32(z0), np.float32(zs[1]), grid.z_edges_mm)
    # the blade's outward normal (away from the cavity): its tangent turned a quarter toward the back
    nx_, ny_ = -np.sin(tang), np.cos(tang)
    if ny_ < 0:
        nx_, ny_ = -nx_, -ny_
    cx_, cy_ = centre[0] + 7.0 * nx_ + side * 4.0, centre[1] + 7.0 * ny_
    b = grid.box((z0, cy_ - 14, cx_ - 14), (zs[1], cy_ + 14, cx_ + 14))
    if b is None:
        return
    ang = float(np.arctan2(ny_, nx_))
    f2 = ellipse_footprint(x[b[2]], y[b[1]], cx_, cy_, 9.0, 3.2, px, angle_rad=ang)
    cv.paint(b, fz[b[0]][:, None, None] * f2[None], 480 * bone_k, "scapula", is_bright=True)


def _paint_sternum(anat: Anatomy, cv: Canvas, bone_k: float) -> None:
    """Manubrium (wide) above the sternal angle, body below, cortex + marrow."""
    if anat.sternum is not None:
        _paint_sternum_v14(anat, cv, bone_k)
        return
    grid = cv.grid
    x, y, px = grid.x_mm, grid.y_mm, grid.px_mm
    zd = anat.z_dome_mm
    (cx, cy), (_, cb) = anat.cav_c, anat.cav_ab
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
        cv.paint(b, fb * f_o[None], 600 * bone_k, "sternum", is_bright=True)
        cv.paint(b, fb * f_i[None], 190 * bone_k)


def sternal_cartilages(anat: Anatomy) -> list[Tube]:
    """Session 14 (MEDIASTINUM_REALISM): the costal cartilages of the ribs that reach the sternum, from the end of
    _paint_ribs_range's cartilage band (CART_THETA[1] from posterior, 30-45 mm from the midline; session 13 stopped
    there, 15-30 mm short of the sternum's edge) to the sternum's lateral edge at the cartilage's height (held inside
    the manubrium and body): one 5 mm tube per rib and side."""
    st = anat.sternum
    if st is None:
        return []
    (cx, cy), (ca, cb) = anat.cav_c, anat.cav_ab
    th0, th1 = CART_THETA
    if anat.thorax is not None:  # session 13's cartilages rise a + b k toward the sternum (_paint_ribs_range)
        t_rel = anat.rib_drop * (1 - np.cos(th0)) / 2 - anat.thorax.cart_rise[0]
        period = anat.rib_period - anat.thorax.cart_rise[1]
    else:
        t_rel, period = anat.rib_drop * (1 - np.cos(th1)) / 2, anat.rib_period
    theta = th1 - 0.05  # a little inside the band, so the two join
    out = []
    for k in range(12):
        z = anat.rib_top - k * period - t_rel + anat.z_dome_mm
        if not st.z_xiphoid - 8.0 < z < st.z_notch:
            continue
        zs = float(np.clip(z, st.z_xiphoid + 3.0, st.z_notch - 6.0))
        hw, th, yb = (float(v[0]) for v in st.at(np.array([zs])))
        s = float(cavity_x_scale(anat, np.array(z)))
        rho = 1 + 4.5 / (0.5 * (ca * s + cb))
        for side in (-1.0, 1.0):
            a = np.array([cx + side * ca * s * rho * np.sin(theta), cy + cb * rho * np.cos(theta), z])
            b = np.array([cx + side * (hw - 3.0), yb - 0.5 * th, zs])
            if side * (a[0] - b[0]) <= 2.0:
                continue
            m = 0.5 * (a + b) + np.array([0.0, -1.0, 0.3 * (zs - z)])
            out.append(_spline_tube([tuple(a), tuple(m), tuple(b)], [5.0, 5.0, 4.5], [LABEL["costal_cartilage"]] * 3))
    return out


def _paint_sternum_v14(anat: Anatomy, cv: Canvas, bone_k: float) -> None:
    """Session 14 (MEDIASTINUM_REALISM): the sternum slab by slab (sternum_footprint at each slab's centre): cortex
    (600 HU x bone density) round marrow (Sternum.marrow_hu, 70-150: the real sternums' interiors are grey inside a
    white cortex in a W 400 / L 40 window; a crude mask on LIDC-IDRI-0002's body gives a median of 90 HU; session 13
    painted 190 x bone density, white), the manubrium wide and thick, the body narrower, the sternal angle."""
    st, grid = anat.sternum, cv.grid
    x, y, px = grid.x_mm, grid.y_mm, grid.px_mm
    cx = anat.cav_c[0]
    cart_hu = HU["cartilage"] if anat.ribs_v19 is None else anat.ribs_v19.cart_hu  # v19: the band's cartilage
    for t in sternal_cartilages(anat):  # the costal cartilages' last 20-30 mm, to the sternum's edge
        paint_tube(cv, t, cart_hu, label="costal_cartilage")
    ze = grid.z_edges_mm
    fz = slab_fraction(np.float32(st.z_xiphoid), np.float32(st.z_notch), ze)
    yb_all = st.at(np.array([st.z_xiphoid + 1.0, st.z_angle, st.z_notch - 1.0]))[2]
    y0, y1 = float(np.nanmin(yb_all)) - 25.0, float(np.nanmax(yb_all)) + 3.0
    w = max(st.hw_notch, st.hw_body) + 3.0
    for k in np.nonzero(fz > 0)[0]:
        zc = float(np.clip(0.5 * (ze[k] + ze[k + 1]), st.z_xiphoid + 0.5, st.z_notch - 0.5))
        b = grid.box((ze[k] + 0.01, y0, cx - w), (ze[k + 1] - 0.01, y1, cx + w))
        if b is None:
            continue
        b = (slice(k, k + 1), b[1], b[2])
        xs, ys = x[b[2]], y[b[1]]
        f_o = sternum_footprint(st, zc, xs, ys, cx, px)
        f_i = sternum_footprint(st, zc, xs, ys, cx, px, grow=-st.cortex)
        cv.paint(b, fz[k] * f_o[None], 600 * bone_k, "sternum", is_bright=True)
        cv.paint(b, fz[k] * f_i[None], st.marrow_hu)


def _paint_wall_calcium(anat: Anatomy, cv: Canvas, bone_k: float) -> None:
    """Aortic wall and costal cartilage calcium (never coronary: bright, label 0 in the calcium labels)."""
    for calcs, name in ((anat.aortic_calc, "aortic_wall_calcium"), (anat.cartilage_calc, "cartilage_calcium")):
        for cx_, cy_, cz_, r, hu in calcs:
            if name == "cartilage_calcium":
                cz_ = cz_ + cart_z_shift(anat, cx_, cy_, cz_)
            res = ellipsoid_fraction(cv.grid, np.array([cx_, cy_, cz_]), np.eye(3), np.array([r, r, r * 1.5]),
                                     supersample=2)
            if res is not None:
                b, f = res
                paint(cv.img, b, f, hu * bone_k)
                cv.bright[b] |= f > 0.001
                if cv.lab is not None:
                    cv.lab[b][f >= 0.25] = LABEL[name]


def cart_z_shift(anat: Anatomy, x: float, y: float, z: float) -> float:
    """Session 13: how far up (mm) a point drawn on a costal cartilage of the straight band (cartilage calcium) moves
    with its cartilage's rise toward the sternum (THORAX_REALISM; 0 without). The rib is the one whose uncurved band
    passes nearest to z at the point's angle."""
    if anat.thorax is None:
        return 0.0
    (cx, cy), (ca, cb) = anat.cav_c, anat.cav_ab
    s = float(_quantised_scale(anat, np.array([z]))[0])
    dxr, dyr = (x - cx) / (ca * s), (y - cy) / cb
    theta = float(np.arccos(np.clip(dyr / max(np.hypot(dxr, dyr), 1e-6), -1, 1)))
    t_rel = anat.rib_drop * (1 - np.cos(theta)) / 2
    k = float(np.clip(np.round((anat.rib_top - t_rel - (z - anat.z_dome_mm)) / anat.rib_period), 0, 11))
    a, b = anat.thorax.cart_rise
    stop = max(t_rel - anat.rib_drop * (1 - np.cos(CART_THETA[0])) / 2, 0.0)  # the fall it no longer makes
    return float(stop + (a + b * k) * cartilage_lift(theta))


def _paint_table(anat: Anatomy, cv: Canvas, outside_depth: np.ndarray) -> None:
    """Patient table: a thin curved shell below the back, a mattress pad under the back."""
    if anat.wall is None:
        return
    grid, img = cv.grid, cv.img
    tab_f, tab_hu = _table(anat, grid.x_mm, grid.y_mm, grid.px_mm, outside_depth)
    m = tab_f > 0
    sub = img[:, m]
    sub += tab_f[m] * (tab_hu[m] - sub)
    img[:, m] = sub
    cv.bright[:, m & (tab_hu > 130)] = True
    if cv.lab is not None:
        cv.lab[:, (tab_f >= 0.5) & (tab_hu > 130)] = LABEL["table"]


def kvp_calcium_factor(kvp: float) -> float:
    """Calcium and bone HU relative to 120 kVp: x 1.1 at 100 kVp, x 0.92 at 140 kVp (the photoelectric part of
    calcium's attenuation falls with tube voltage; soft tissue barely changes). The Agatston threshold stays 130."""
    return 1.1 if kvp < 110 else (0.92 if kvp > 130 else 1.0)


def render_background(anat: Anatomy, grid: Grid, *, kvp: float,
                      anatomy_labels: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Everything but the heart: returns (hu float32 (z, y, x), bright bool (z, y, x), labels uint8 or None).

    ``bright`` marks voxels touched by bone, calcified cartilage and aortic wall calcium (never coronary).
    Aortic valve calcium is painted with the heart (:func:`cacscore.phantom.coronary.render_heart`).
    With ``anatomy_labels`` the third value is the anatomy label volume (ANATOMY_LABELS).
    """
    bone_k = anat.bone_scale * kvp_calcium_factor(kvp)  # bone and calcium are brighter at low kVp
    # np.empty: _paint_body writes every voxel first (img[:] = the body wall), so filling with air was a wasted pass
    cv = Canvas(grid, np.empty(grid.shape, dtype=np.float32), np.zeros(grid.shape, dtype=bool),
                np.zeros(grid.shape, np.uint8) if anatomy_labels else None)
    outside_depth = _paint_body(anat, cv)
    _paint_arms(anat, cv, bone_k)
    _paint_shoulders(anat, cv, bone_k)
    _paint_cavity(anat, cv)
    _paint_fissures(anat, cv)
    _paint_lung_vessels(anat, cv)
    _paint_mediastinum(anat, cv)
    _paint_great_vessels(anat, cv)
    _paint_airways(anat, cv)
    _paint_spine(anat, cv, bone_k)
    _paint_ribs(anat, cv, bone_k)
    _paint_scapulae(anat, cv, bone_k)
    _paint_clavicles(anat, cv, bone_k)
    _paint_sternum(anat, cv, bone_k)
    _paint_wall_calcium(anat, cv, bone_k)
    if anat.thorax is not None:
        _paint_nodes(anat, cv)
        _slope_upper_chest(anat, cv)
    if anat.front_tilt > 0:  # v17: the anterior chest wall tilted forward below the heart's top
        _tilt_front_wall(anat, cv)
    if max(anat.side_curve_mm) > 0:  # v18: the chest's sides curved on a coronal reformat
        _curve_sides(anat, cv)
    if anat.kyphosis is not None:  # v15: label the spine's bone where it is drawn, then bend it (the table stays)
        if anat.body is not None:
            _label_spine_bone(anat, cv)
        _bend_spine(anat, cv)
        _paint_table(anat, cv, outside_depth)
        return cv.img, cv.bright, cv.lab
    _paint_table(anat, cv, outside_depth)
    if anat.body is not None:
        _label_spine_bone(anat, cv)
    return cv.img, cv.bright, cv.lab


def upper_chest_z(anat: Anatomy) -> float:
    """Session 13: patient z above which the upper chest slopes back (THORAX_REALISM): 10 mm above the heart's
    ellipsoid (x 1.3, for the atria on its base) and at least 40 mm above the aortic annulus, so that nothing the
    heart's painter (coronary.render_heart) covers is moved."""
    ez = anat.heart_semi * anat.heart_axes[:, 2]
    top = float(anat.heart_c[2] + 1.3 * np.sqrt(np.sum(ez * ez)))
    return max(top + 10.0, float(anat.aorta_root[2]) + 40.0)


def ap_compression(anat: Anatomy, z_mm: np.ndarray) -> np.ndarray:
    """Session 13: the share of the anterior depth the upper chest loses at patient heights z_mm (0 up to
    upper_chest_z; Thorax.ap_c 100 mm above it, growing as height ** ap_exp; at most chestwall.AP_C_MAX)."""
    th = anat.thorax
    if th is None:
        return np.zeros(np.shape(z_mm))
    h = np.clip((np.asarray(z_mm, float) - upper_chest_z(anat)) / 100.0, 0.0, None)
    return np.minimum(th.ap_c * h ** th.ap_exp, AP_C_MAX)


def painted_points(anat: Anatomy, pts: np.ndarray) -> np.ndarray:
    """Session 13: where patient points (n, 3) of the drawn anatomy (the aorta's arch, its branches, the trachea) are
    painted once the upper chest slopes back (_slope_upper_chest; unchanged without THORAX_REALISM or below
    upper_chest_z). A point d mm in front of the spine's centre moves to d (1 - c d / depth)."""
    pts = np.array(pts, float, copy=True)
    c = ap_compression(anat, pts[:, 2])
    y_fix = float(anat.spine_c[1])
    depth = y_fix - (anat.body_c[1] - anat.body_ab[1])
    d = y_fix - pts[:, 1]
    front = d > 0
    inside = np.minimum(d, depth)
    moved = inside * (1 - c * inside / depth) + (1 - 2 * c) * (d - inside)
    pts[front, 1] = y_fix - moved[front]
    return pts


def _slope_upper_chest(anat: Anatomy, cv: Canvas) -> None:
    """Session 13: above the heart's top, move everything in front of the spine's centre back toward it by a share
    growing with height (chestwall.ap_source_rows: the body's front by ap_compression x its depth, tissue near the
    spine barely), so the upper chest is shallower than at the heart, as a real chest's anterior wall slopes back
    toward the apices (before: the same outline at every height). Resampled per slab along y (linear for the image,
    either source row for the bright mask, the nearest for the labels); one row map per slab, so it costs two row gathers per slab."""
    grid = cv.grid
    c = ap_compression(anat, grid.z_mm)
    ks = np.flatnonzero(c > 1e-3)
    if not len(ks):
        return
    y, px = grid.y_mm, grid.px_mm
    y_fix = float(anat.spine_c[1])
    depth = y_fix - (anat.body_c[1] - anat.body_ab[1])
    for k in ks:
        src = (ap_source_rows(y, y_fix, depth, float(c[k])) - y[0]) / px
        src = np.clip(src, 0.0, len(y) - 1.0)
        i0 = np.floor(src).astype(np.intp)
        i1 = np.minimum(i0 + 1, len(y) - 1)
        w = (src - i0).astype(np.float32)[:, None]
        moved = np.flatnonzero(np.abs(src - np.arange(len(y))) > 1e-4)  # rows in front of the spine
        if not len(moved):
            continue
        r0, r1 = int(moved[0]), int(moved[-1]) + 1
        img = cv.img[k]
        img[r0:r1] = img[i0[r0:r1]] * (1 - w[r0:r1]) + img[i1[r0:r1]] * w[r0:r1]
        near = np.rint(src).astype(np.intp)
        br = cv.bright[k]  # bone-touched if either source row is (the image mixes both)
        cv.bright[k, r0:r1] = br[i0[r0:r1]] | (br[i1[r0:r1]] & (w[r0:r1] > 0))
        if cv.lab is not None:
            cv.lab[k, r0:r1] = cv.lab[k][near[r0:r1]]


def front_tilt_shift_mm(anat: Anatomy, z_mm: np.ndarray) -> np.ndarray:
    """v17: how far (mm) the anterior chest wall is painted forward at heights z_mm: front_tilt x the depth below
    upper_chest_z, held at its value at the xiphoid below it (the abdominal wall continues the chest's front)."""
    z = np.asarray(z_mm, float)
    if anat.front_tilt <= 0 or anat.sternum is None:
        return np.zeros(z.shape)
    top = upper_chest_z(anat)
    low = min(float(anat.sternum.z_xiphoid), top)
    return anat.front_tilt * (top - np.clip(z, low, top))


def front_tilt_weight(anat: Anatomy, x_mm: np.ndarray) -> np.ndarray:
    """v17: the tilt's share per column: 1 within 0.75 of the cavity's half-width from its centre, a smoothstep to 0 at
    1.25 of it (the lateral walls' back halves and the arms stay where they were drawn). The checked version (a42c120)
    had 0.5 / 1.1: the front came to a keel in the middle and pulled the liver's front into a point (axial, dev seed
    14864 patient 2); the midline, where the sternum's statistics are measured, moves alike in both."""
    (cx, _), (ca, _) = anat.cav_c, anat.cav_ab
    t = np.clip((1.25 - np.abs(np.asarray(x_mm, float) - cx) / ca) / 0.5, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def front_source_rows(y: np.ndarray, s: np.ndarray, y_rigid: float, band: float) -> np.ndarray:
    """v17: source rows (mm) for destination rows y (n,) of columns with shifts s (m,): (n, m). In front of
    y_rigid - s every row comes from s further back (the wall moves forward by s); the band [y_rigid, y_rigid + band]
    is spread over [y_rigid - s, y_rigid + band]; behind it unchanged."""
    y = np.asarray(y, float)[:, None]
    s = np.asarray(s, float)[None, :]
    src = np.where(y < y_rigid - s, y + s, y)
    ramp = (y >= y_rigid - s) & (y < y_rigid + band)
    spread = y_rigid + (y - (y_rigid - s)) * band / (band + s)
    return np.where(ramp, spread, src)


def _tilt_front_wall(anat: Anatomy, cv: Canvas) -> None:
    """v17: the anterior chest wall (skin, breasts, muscles, sternum, cartilages, the front of the ribs) painted forward
    by front_tilt_shift_mm x front_tilt_weight, the rows behind the sternum stretched over V17_FRONT_BAND_MM to meet
    it: the sternum's body and the wall in front of it slope forward going down as on the real series, and the step
    at upper_chest_z becomes a bend. Per slab one gather of the columns that move (_gather_rows); the heart's
    painter paints afterwards, so the heart, its coronaries and the truth are v16's."""
    grid = cv.grid
    s_z = front_tilt_shift_mm(anat, grid.z_mm)
    w = front_tilt_weight(anat, grid.x_mm)
    cols = np.flatnonzero(w > 0)
    y, px = grid.y_mm, grid.px_mm
    y_rigid = float(anat.sternum.y_back) + 2.0
    air = np.float32(HU["air"])
    r1 = min(int(np.searchsorted(y, y_rigid + V17_FRONT_BAND_MM)) + 1, len(y))  # rows behind the band stay
    yr = y[:r1]
    # the middle columns (weight 1) share one row map: whole-row gathers; the fading ones one map each
    # (measured: one (rows, columns) map for all of them cost 0.85 s of a 5.5 s 512 px patient)
    groups = [c for c in (cols[w[cols] >= 1.0], cols[w[cols] < 1.0]) if len(c)]
    heart_cols = _heart_columns(anat, grid) if anat.side_curve_mm[0] > 0 else None  # v18
    for k in np.flatnonzero(s_z > 0.05 * px):
        for gi, c in enumerate(groups):
            ws = np.ones(1) if w[c[0]] >= 1.0 and gi == 0 else w[c]
            src = (front_source_rows(yr, s_z[k] * ws, y_rigid, V17_FRONT_BAND_MM) - y[0]) / px
            rs = slice(0, min(r1 + 2, len(y)))  # the map reads rows in front of the band's back only
            orig = (cv.img[k][rs][:, c], cv.bright[k][rs][:, c], None if cv.lab is None else cv.lab[k][rs][:, c])
            _gather_rows(cv, k, orig, src, 0, c, air)
        if s_z[k] > 2.0 and anat.side_curve_mm[0] > 0:  # v18
            _fill_retrosternal_v18(anat, cv, k, float(s_z[k]), y_rigid, heart_cols)
        elif s_z[k] > 2.0:
            _fill_retrosternal(anat, cv, k, float(s_z[k]), y_rigid)


V17_RETROSTERNAL_HW_MM = (35.0, 15.0)
"""v17: the half-width (mm) of the fat wedge _fill_retrosternal paints behind the tilted sternum, at its back and at
the band's original start (a triangle of anterior mediastinal / pericardial fat between the lungs' front edges)."""


def _fill_retrosternal(anat: Anatomy, cv: Canvas, k: int, s: float, y_rigid: float) -> None:
    """v17: the space the tilted sternum leaves in front of the heart (the rows between its moved back, y_rigid - s,
    and y_rigid + 2) holds fat where the stretched band brought lung: without it the first pictures (spine check ids 1
    and 3) showed a black lung wedge 20-40 mm deep between the lower sternum and the heart, which real hearts touch
    with only the pericardial fat between. A triangle: V17_RETROSTERNAL_HW_MM wide at the sternum, narrowing behind.
    The heart's painter paints afterwards."""
    grid = cv.grid
    y, x = grid.y_mm, grid.x_mm
    y0, y1 = y_rigid - s - 2.0, y_rigid + 2.0
    r = np.flatnonzero((y >= y0) & (y <= y1))
    if not len(r):
        return
    hw0, hw1 = V17_RETROSTERNAL_HW_MM
    hw = hw0 + (hw1 - hw0) * (y[r] - y0) / (y1 - y0)
    inside = np.abs(x[None, :] - anat.cav_c[0]) <= hw[:, None]
    blk = cv.img[k, r[0]: r[-1] + 1]
    m = inside & (blk < -500.0)
    blk[m] = np.float32(HU["fat"])
    if cv.lab is not None:
        lb = cv.lab[k, r[0]: r[-1] + 1]
        lb[m] = LABEL["mediastinal_fat"]


V18_RETRO_R_MM = 8.0
"""v18: the radius (mm) of the closing that joins the fat pad behind the tilted sternum to the heart and the wall
(_fill_retrosternal_v18): no crevice of lung narrower than about twice this between them."""
V18_RETRO_HW_MM = (28.0, 48.0)
"""v18: the fat pad's half-width (mm) at the sternum: 1.2 x its depth to the heart's front, clipped to this range. The
pad is half an ellipse (v17's trapezoid: straight edges and a straight back across the heart's front,
docs/pictures/phantom_v17_vs_lidc-idri-0002.png)."""
V18_SIDE_TOP_MM = (6.0, 22.0)
"""v18: how far (mm, uniform) the chest's sides (skin, wall, ribs, lung's edge, arms) are painted inward at the apices'
height (_curve_sides); none at the cavity's widest level, growing as the square of the height above it."""
V18_SIDE_LOW_MM = (3.0, 12.0)
"""v18: the same inward move V18_SIDE_LOW_SPAN_MM below the widest level (the costal margin and the upper abdomen)."""
V18_SIDE_LOW_SPAN_MM = 120.0
V18_SIDE_BAND_MM = 16.0
"""v18: _curve_sides squeezes the chest wall between this far outside the slab's cavity edge (outside the ribs; the lung
keeps its width) and the skin's lateral edge by side_shift_mm (at most 0.6 of that wall's width); beyond the skin (the
arms) everything moves in rigidly. The checked version (4cf3985) squeezed the lung between 0.6 and 0.92 of the
cavity's half-width and moved the ribs in: bench/phantom_geometry.py measured the lung 60 mm below the apex at 0.71
of its widest (median, 30 patients of seed 14887; v17 0.75; real 0.82 / 0.84 / 0.67)."""


def _heart_columns(anat: Anatomy, grid: Grid) -> tuple[slice, slice, list, float, int]:
    """v18: the ventricles' pericardial column intervals (ellipsoid_columns of ventricle_shapes + PERICARDIUM_REACH_MM)
    over the rows in front of the heart's centre and the cavity's columns, on every ``step``-th pixel (2 when the
    pixel is under 1 mm: the fill's shape is smooth at that scale, and it halves the two distance transforms per slab):
    (rows, cols, [(lo, hi)], y of the heart's centre, step)."""
    hc = anat.heart_c
    (cx, _), (ca, _) = anat.cav_c, anat.cav_ab
    x, y = grid.x_mm, grid.y_mm
    step = 2 if grid.px_mm < 1.0 else 1
    c0, c1 = np.searchsorted(x, cx - ca), np.searchsorted(x, cx + ca)
    r1 = int(np.searchsorted(y, hc[1])) + 1
    rs, cs = slice(0, max(r1, 1), step), slice(int(c0), max(int(c1), int(c0) + 1), step)
    cols = [ellipsoid_columns(x[cs], y[rs], c, anat.heart_axes, sm + PERICARDIUM_REACH_MM)
            for c, sm in ventricle_shapes(hc, anat.heart_axes, anat.heart_semi)]
    return rs, cs, cols, float(hc[1]), step


def _fill_retrosternal_v18(anat: Anatomy, cv: Canvas, k: int, s: float, y_rigid: float, hcols: tuple) -> None:
    """v18 (replaces _fill_retrosternal): the lung left between the tilted sternum's back and the heart's pericardium
    on slab k becomes fat where the closing (V18_RETRO_R_MM) of the non-lung (wall, sternum, mediastinum, heart)
    covers it, in front of the heart's centre, the part joined to the sternum's back with the lung pockets it
    encloses: a fat pad whose edges toward the lungs are arcs (the lungs' anterior edges), meeting the heart and the
    wall smoothly. The heart's painter paints afterwards; nothing inside the pericardium is changed."""
    grid = cv.grid
    z = float(grid.z_mm[k])
    if z < anat.heart_floor_z - PERICARDIUM_REACH_MM:
        return
    rs, cs, cols, y_hc, step = hcols
    heart = np.zeros(cols[0][0].shape, bool)
    for lo, hi in cols:
        heart |= (lo <= z) & (hi >= z)
    if not heart.any():
        return
    lung = (cv.img[k, rs, cs] < -500.0) & ~heart
    y, x = grid.y_mm[rs], grid.x_mm[cs]
    cx = float(anat.cav_c[0])
    y0 = y_rigid - s - 2.0  # the sternum's moved back
    mid = heart[:, np.abs(x - cx) < 20.0]
    front = float(y[np.flatnonzero(mid.any(axis=1))[0]]) if mid.any() else y0 + s + 8.0
    depth = max(front - y0 + 4.0, 4.0)
    hw = float(np.clip(1.2 * depth, V18_RETRO_HW_MM[0], V18_RETRO_HW_MM[1]))
    dy = np.clip((y - y0) / depth, None, 1.0)
    pad = ((y >= y0 - 6.0)[:, None] & (((x - cx) / hw)[None, :] ** 2 + np.maximum(dy, 0.0)[:, None] ** 2 < 1.0))
    m = pad & lung
    # the crevices between the pad and the heart or the wall closed (V18_RETRO_R_MM), near the pad only
    r = V18_RETRO_R_MM / (grid.px_mm * step)
    solid = m | ~lung
    dil = solid | (ndimage.distance_transform_edt(~solid) <= r)
    near = ndimage.distance_transform_edt(~pad) <= 1.5 * r
    m = (ndimage.distance_transform_edt(dil) > r) & lung & near & (y < y_hc)[:, None]
    if not m.any():
        return
    if step > 1:  # back to the full grid (each coarse pixel covers step x step)
        full = np.repeat(np.repeat(m, step, axis=0), step, axis=1)
        r_full = slice(rs.start, rs.start + full.shape[0])
        c_full = slice(cs.start, cs.start + full.shape[1])
        blk = cv.img[k, r_full, c_full]
        full = full[:blk.shape[0], :blk.shape[1]] & (blk < -500.0)
    else:
        r_full, c_full, full = slice(rs.start, rs.stop), slice(cs.start, cs.stop), m
        blk = cv.img[k, r_full, c_full]
    blk[full] = np.float32(HU["fat"])
    if cv.lab is not None:
        cv.lab[k, r_full, c_full][full] = LABEL["mediastinal_fat"]


def side_shift_mm(anat: Anatomy, z_mm: np.ndarray) -> np.ndarray:
    """v18: how far (mm) the chest's sides are painted inward at patient heights z_mm: side_curve_mm[0] x the square of
    the height above the cavity's widest level over the apex's, side_curve_mm[1] x the square of the depth below it
    over V18_SIDE_LOW_SPAN_MM (each clipped to 1)."""
    t = np.asarray(z_mm, float) - anat.z_dome_mm
    top, low = anat.side_curve_mm
    up = np.clip((t - anat.t_widest) / max(anat.t_apex - anat.t_widest, 1.0), 0.0, 1.0)
    dn = np.clip((anat.t_widest - t) / V18_SIDE_LOW_SPAN_MM, 0.0, 1.0)
    return top * up * up + low * dn * dn


def side_source_cols(u: np.ndarray, d: float, ua: float, ub: float) -> np.ndarray:
    """v18: source distances from the cavity's centre line for destination distances u (>= 0) when the sides move in
    by d: beyond ub - d from ub + (u - (ub - d)) (rigid), [ua, ub - d] spread from [ua, ub], inside ua unchanged."""
    u = np.asarray(u, float)
    out = np.where(u >= ub - d, u + d, u)
    band = (u >= ua) & (u < ub - d)
    return np.where(band, ua + (u - ua) * (ub - ua) / (ub - d - ua), out)


def _curve_sides(anat: Anatomy, cv: Canvas) -> None:
    """v18: on each slab the columns outside the ribs (V18_SIDE_BAND_MM beyond the slab's cavity edge) are resampled
    so that the skin, the outer wall and the arms lie side_shift_mm further in, the wall between the ribs and the skin
    squeezed: on a coronal reformat the body's sides curve in toward the shoulders and the costal margin instead of
    v17's vertical skin line (docs/pictures/phantom_v17_vs_lidc-idri-0001.png); the lungs and ribs keep v17's width.
    Painted before the heart, which stays as drawn."""
    grid = cv.grid
    d_z = side_shift_mm(anat, grid.z_mm)
    x, px = grid.x_mm, grid.px_mm
    cx, ca = float(anat.cav_c[0]), float(anat.cav_ab[0])
    scale = cavity_x_scale(anat, grid.z_mm)
    ub = abs(float(anat.body_c[0]) - cx) + float(anat.body_ab[0])  # the skin's lateral edge (the wall is z-invariant)
    u = np.abs(x - cx)
    ua_min = float(scale.min()) * ca + V18_SIDE_BAND_MM
    cols = np.flatnonzero(u >= ua_min)
    sgn = np.sign(x[cols] - cx)
    air = np.float32(HU["air"])
    nx = len(x)
    for k in np.flatnonzero(d_z > 0.05 * px):
        ua = float(scale[k]) * ca + V18_SIDE_BAND_MM  # outside the ribs on this slab: the lung keeps its width
        d = min(float(d_z[k]), 0.6 * max(ub - ua, 0.0))
        if d <= 0.05 * px:
            continue
        src = (cx + sgn * side_source_cols(u[cols], d, ua, ub) - x[0]) / px
        out = (src < 0) | (src > nx - 1)
        src = np.clip(src, 0.0, nx - 1.0)
        i0 = np.floor(src).astype(np.intp)
        i1 = np.minimum(i0 + 1, nx - 1)
        wt = (src - i0).astype(np.float32)[None, :]
        img = cv.img[k]
        new = img[:, i0] * (1 - wt) + img[:, i1] * wt
        new[:, out] = air
        nbr = cv.bright[k][:, i0] | (cv.bright[k][:, i1] & (wt > 0))
        nbr[:, out] = False
        if cv.lab is not None:
            nl = cv.lab[k][:, np.rint(src).astype(np.intp)]
            nl[:, out] = 0
            cv.lab[k][:, cols] = nl
        img[:, cols] = new
        cv.bright[k][:, cols] = nbr


V18_BOWEL_CELL_MM = 3.5
"""v18: the coarse grid (mm) of the bowel's 3-D field (smoothed over 7 mm as v16's 2-D fields), interpolated per slab."""


def _bowel_field_3d(seed: int, grid: Grid, box: tuple, z_top: float):
    """v18: a smooth 3-D Gaussian field (unit s.d., 7 mm) over the abdomen's box below z_top; returns f(k) -> (ny, nx)
    of the box on slab k (linear in z between coarse slices, bilinear in-plane). v16 blended three 2-D fields by a
    60 mm phase of z: every loop ran straight up and down, so sagittal and coronal reformats showed horizontal bands."""
    c = V18_BOWEL_CELL_MM
    xs, ys = grid.x_mm[box[2]], grid.y_mm[box[1]]
    z0 = float(grid.z_edges_mm[0])
    nz = int(np.ceil((z_top - z0) / c)) + 3
    ny, nx = int(np.ceil((ys[-1] - ys[0]) / c)) + 3, int(np.ceil((xs[-1] - xs[0]) / c)) + 3
    f = ndimage.gaussian_filter(np.random.default_rng([seed, 3]).standard_normal((nz, ny, nx)).astype(np.float32),
                                7.0 / c, mode="wrap")
    f /= max(float(f.std()), 1e-6)
    yy, xx = np.meshgrid((ys - ys[0]) / c + 1.0, (xs - xs[0]) / c + 1.0, indexing="ij")
    up: dict[int, np.ndarray] = {}

    def sl(i: int) -> np.ndarray:
        i = int(np.clip(i, 0, nz - 1))
        if i not in up:
            up[i] = ndimage.map_coordinates(f[i], [yy, xx], order=1, mode="nearest").astype(np.float32)
        return up[i]

    def at(k: int) -> np.ndarray:
        t = (float(grid.z_mm[k]) - z0) / c + 1.0
        i = int(np.floor(t))
        w = np.float32(t - i)
        return sl(i) * (1 - w) + sl(i + 1) * w

    return at


def kyphosis_shift_mm(anat: Anatomy, z_mm: np.ndarray) -> np.ndarray:
    """v15: how far (mm) the vertebral column is painted forward of its drawn place at patient heights z_mm (< 0:
    backward): the kyphosis curve f (0 at the apex, a parabola of radius r_above / r_below above / below it,
    V15_KYPHOSIS, saturating toward V15_KYPHOSIS_MAX_MM) less its value at the middle of the heart's levels
    (_heart_levels), so that the column stays where it was drawn, on average, behind the heart (which is drawn against
    the straight column); zeros without anat.kyphosis."""
    z = np.asarray(z_mm, float)
    if anat.kyphosis is None:
        return np.zeros(z.shape)
    lo, hi = _heart_levels(anat)
    ref = float(_kyphosis_curve(anat, np.array([0.5 * (lo + hi)]))[0])
    if anat.spine_v17:  # v17: the whole curve everywhere; at the heart's levels at most V17_HEART_FWD_MM forward
        top = float(_kyphosis_curve(anat, np.linspace(lo, hi, 121)).max())
        return _kyphosis_curve(anat, z) - max(ref, top - V17_HEART_FWD_MM)
    g = _kyphosis_curve(anat, z) - ref
    # damped at the heart's levels: the descending aorta and the oesophagus are drawn against the straight column, and
    # the undamped curve squeezed the aorta into the vertebral body 40 mm below the heart's centre (dev 14812/5: +24 mm)
    damp = V16_HEART_DAMP if anat.abdomen is not None else V15_HEART_DAMP
    return g * (damp + (1.0 - damp) * _off_heart_levels(anat, z))


def _off_heart_levels(anat: Anatomy, z: np.ndarray) -> np.ndarray:
    """v15: 0 at the heart's levels (_heart_levels), 1 from 30 mm beyond them (a smoothstep between)."""
    lo, hi = _heart_levels(anat)
    out = np.clip(np.maximum(z - hi, lo - z) / 30.0, 0.0, 1.0)
    return out * out * (3.0 - 2.0 * out)


def _kyphosis_curve(anat: Anatomy, z: np.ndarray) -> np.ndarray:
    apex_h, r_up, r_low, _ = anat.kyphosis
    d = z - (carina_z(anat) + apex_h)
    # a parabola (the circular arc's d^2 / 2r, within 1 mm of it up to d = 0.5 r), softly capped (tanh: a hard cap
    # left a kink in the column on dev patient 14812/3)
    f = d * d / (2.0 * np.where(d > 0, r_up, r_low))
    return V15_KYPHOSIS_MAX_MM * np.tanh(f / V15_KYPHOSIS_MAX_MM)


def kyphosis_slope(anat: Anatomy, z_mm: np.ndarray) -> np.ndarray:
    """v15: d kyphosis_shift_mm / dz at z_mm (the column's forward lean per mm of height; > 0 above the apex)."""
    z = np.asarray(z_mm, float)
    return (kyphosis_shift_mm(anat, z + 0.5) - kyphosis_shift_mm(anat, z - 0.5)) / 1.0


def _heart_levels(anat: Anatomy) -> tuple[float, float]:
    """v15: the patient heights of the heart's painter (its floor - 10 mm up to upper_chest_z)."""
    return float(anat.heart_floor_z - 10.0), upper_chest_z(anat)


def _bend_band(anat: Anatomy, z_mm: np.ndarray) -> tuple[float, np.ndarray]:
    """v15: (y_rigid, band (nz,)): the rows that start at or behind y_rigid (2 mm in front of the vertebral front)
    move by the whole shift; the band of rows in front of it (source rows, mm) is stretched or squeezed to meet them:
    V15_NARROW_BEND_MM at the heart's levels, elsewhere the depth to 15 mm behind the body's front, blended over 30 mm."""
    y_rigid = float(anat.spine_c[1] - anat.spine_r - 2.0)
    wide = max(y_rigid - (anat.body_c[1] - anat.body_ab[1] + 15.0), V15_NARROW_BEND_MM)
    t = _off_heart_levels(anat, np.asarray(z_mm, float))
    return y_rigid, V15_NARROW_BEND_MM + t * (wide - V15_NARROW_BEND_MM)


def bend_source_rows(anat: Anatomy, y: np.ndarray, g: float, band: float, y_rigid: float | None = None,
                     g_skin: float | None = None) -> np.ndarray:
    """v15: for destination rows y (mm), the source rows of _bend_spine's map at one height (shift g, band): in front
    of the band unchanged; the band's source rows [y_rigid - band, y_rigid] spread over [y_rigid - band, y_rigid - g];
    behind that every row moves by g up to the posterior elements' tips, then by a share fading to back_share x g
    at the back's skin (the back follows the spine by about half: docs/phantom.md, session 18). ``y_rigid``: where the
    rigid part starts (default 2 mm in front of the vertebral front; _bend_spine's aorta columns: in front of the aorta).
    ``g_skin``: how far the back's skin moves (default back_share x g; v17: back_share x (g - the scan's least g), so
    the skin never moves back into the table: the back lies on it at the curve's apex and lifts off above and below)."""
    if y_rigid is None:
        y_rigid = float(anat.spine_c[1] - anat.spine_r - 2.0)
    g = float(min(g, band - 4.0))  # the band keeps >= 4 mm
    y_a = y_rigid - band
    y = np.asarray(y, float)
    src = y.copy()
    ramp = (y >= y_a) & (y < y_rigid - g)
    src[ramp] = y_a + (y[ramp] - y_a) * band / (band - g)
    y_tip = float(anat.spine_c[1] + anat.spine_r + 8.0 + SPINOUS_TIP_MM)
    y_skin = float(anat.wall.y_back) if anat.wall is not None else y_tip + 40.0
    share = anat.kyphosis[3]
    behind = y >= y_rigid - g
    # the fade runs over at least 1.5 x what it takes off, so the map stays monotonic (no fold in the back)
    if g_skin is None:
        span = max(y_skin - y_tip, 1.5 * abs(g) * (1.0 - share), 10.0)
        t = np.clip((y[behind] + g - (y_skin - span)) / span, 0.0, 1.0)  # by where the row comes from
        src[behind] = y[behind] + g * (1.0 - (1.0 - share) * t)
        return src
    # v17: the map is written source -> destination (rigid by g, fading to g_skin at the skin over span, monotonic)
    # and inverted by interpolation, so the skin moves by g_skin exactly
    span = max(y_skin - y_tip, 1.5 * abs(g - g_skin), 10.0)
    step = 0.25 * float(abs(y[1] - y[0])) if len(y) > 1 else 0.25
    s_src = np.arange(y_rigid - 1.0, float(y.max()) + abs(g) + abs(g_skin) + 2.0 * step, step)
    t = np.clip((s_src - (y_skin - span)) / span, 0.0, 1.0)
    src[behind] = np.interp(y[behind], s_src - g - (g_skin - g) * t, s_src)
    return src


def _bend_spine(anat: Anatomy, cv: Canvas) -> None:
    """v15: the thoracic kyphosis, painted: per slab, the vertebral column and the posterior chest wall move forward
    (or back) by kyphosis_shift_mm, the back's skin by a share of it, the rows in front of the column stretched or
    squeezed over _bend_band to meet them (bend_source_rows); what comes from beyond the grid is air (label 0). One row
    map per slab, resampled as _slope_upper_chest does (linear for the image, either source row for the bright mask,
    the nearest for the labels). The patient table is painted afterwards, so the back lifts off it above and below the
    apex as on the real series."""
    grid = cv.grid
    f = kyphosis_shift_mm(anat, grid.z_mm)
    _, band = _bend_band(anat, grid.z_mm)
    at_heart = 1.0 - _off_heart_levels(anat, grid.z_mm)
    aorta = _descending_aorta_at(anat, grid.z_mm)
    y, x, px = grid.y_mm, grid.x_mm, grid.px_mm
    ny = len(y)
    air = np.float32(HU["air"])
    # v17: the back's skin referred to the scan's most backward shift (it never moves back into the table)
    skin = anat.kyphosis[3] * (f - f.min()) if anat.spine_v17 else [None] * len(f)
    for k in np.flatnonzero((np.abs(f) > 0.02 * px) | (np.abs(skin if anat.spine_v17 else f) > 0.02 * px)):
        src = (bend_source_rows(anat, y, float(f[k]), float(band[k]), g_skin=skin[k]) - y[0]) / px
        moved = np.flatnonzero(np.abs(src - np.arange(ny)) > 1e-4)
        if not len(moved):
            continue
        r0 = int(moved[0])
        ax, ay, ar = aorta[k]
        y_ra = ay - ar - 3.0
        cols = np.zeros(0, np.intp)
        if at_heart[k] > 0 and np.isfinite(ax) and y_ra < float(anat.spine_c[1] - anat.spine_r - 2.0):
            # at the heart's levels the descending aorta moves with the column (a real one lies against it): in its
            # columns the rigid part starts 3 mm in front of it, blended into the other columns over 6 mm
            alpha = at_heart[k] * np.clip((ar + 8.0 - np.abs(x - ax)) / 6.0, 0.0, 1.0)
            cols = np.flatnonzero(alpha > 0)
        if len(cols):
            src_a = (bend_source_rows(anat, y, float(f[k]), float(band[k]), y_rigid=y_ra, g_skin=skin[k]) - y[0]) / px
            ra = min(r0, int(np.flatnonzero(np.abs(src_a - np.arange(ny)) > 1e-4)[0]))
            s2 = src[ra:, None] + alpha[cols][None, :] * (src_a[ra:, None] - src[ra:, None])
            orig = (cv.img[k][:, cols].copy(), cv.bright[k][:, cols].copy(),
                    None if cv.lab is None else cv.lab[k][:, cols].copy())
        _gather_rows(cv, k, (cv.img[k], cv.bright[k], None if cv.lab is None else cv.lab[k]),
                     np.broadcast_to(src[r0:, None], (ny - r0, 1)), r0, slice(None), air)
        if len(cols):
            _gather_rows(cv, k, orig, s2, ra, cols, air)


def _gather_rows(cv: Canvas, k: int, source: tuple, s: np.ndarray, r0: int, cols, air: np.float32) -> None:
    """v15: write rows r0.. of slab k's columns ``cols`` of the canvas from ``source`` (image, bright, labels of those
    columns, read before any write) at fractional source rows ``s`` ((rows, 1) for every column alike, or (rows,
    len(cols))): linear for the image, either row for the bright mask, the nearest for the labels; beyond the grid air."""
    img, br, lab = source
    ny = img.shape[0]
    out = s > ny - 1
    s = np.minimum(s, ny - 1.0)
    i0 = np.floor(s).astype(np.intp)
    i1 = np.minimum(i0 + 1, ny - 1)
    wt = (s - i0).astype(np.float32)
    near = np.rint(s).astype(np.intp)
    if s.shape[1] == 1:  # one row map for the whole slab: whole-row gathers
        i0, i1, near, out, wt = i0[:, 0], i1[:, 0], near[:, 0], out[:, 0], wt
        new = img.take(i0, axis=0)  # a + (b - a) wt in place: two row gathers and no other slab-sized temporary
        b = img.take(i1, axis=0)
        b -= new
        b *= wt
        new += b
        nbr = br[i0] | (br[i1] & (wt > 0))
        nl = None if lab is None else lab[near]
    else:
        j = np.arange(s.shape[1])[None, :]
        new = img[i0, j] * (1 - wt) + img[i1, j] * wt
        nbr = br[i0, j] | (br[i1, j] & (wt > 0))
        nl = None if lab is None else lab[near, j]
    new[out] = air
    nbr[out] = False
    rows = slice(r0, r0 + s.shape[0])
    cv.img[k, rows][:, cols] = new  # (the slab's row block first: an int, a slice and an index array would transpose)
    cv.bright[k, rows][:, cols] = nbr
    if nl is not None:
        nl[out] = 0
        cv.lab[k, rows][:, cols] = nl


def _descending_aorta_at(anat: Anatomy, z_mm: np.ndarray) -> np.ndarray:
    """v15: (nz, 3) x, y, radius (mm) of the descending / abdominal aorta's centreline at heights z_mm (NaN outside it)."""
    out = np.full((len(z_mm), 3), np.nan)
    t = anat.aorta
    if t is None:
        return out
    m = np.isin(t.label, (LABEL["aorta_descending"], LABEL["aorta_abdominal"]))
    if m.sum() < 2:
        return out
    p, r = t.points[m], t.radius[m]
    o = np.argsort(p[:, 2])
    p, r = p[o], r[o]
    for i, v in enumerate((p[:, 0], p[:, 1], r)):
        out[:, i] = np.interp(z_mm, p[:, 2], v, left=np.nan, right=np.nan)
    return out


NODE_HU = 35.0
"""Session 13: mediastinal lymph nodes (soft tissue, non-contrast)."""


def _paint_nodes(anat: Anatomy, cv: Canvas) -> None:
    """Session 13: lymph nodes (Thorax.nodes) as small flattened ellipsoids of soft tissue in the mediastinal fat: each
    goes to the fat voxel of its slab nearest to its station (dx, dy from the trachea) that has at least 0.7 x its
    radius of fat round it (found on the painted image, so it never covers a vessel, the airway or the lung), and is
    painted only over fat; labelled as the fat round it (they are part of the mediastinum's soft tissue, not a
    structure any finder looks for). Before, the mediastinum's fat round the great vessels was empty. Only above
    upper_chest_z - 10 mm (nothing the heart's painter covers changes)."""
    th = anat.thorax
    assert th is not None
    grid = cv.grid
    cx = anat.cav_c[0]
    tr_y = anat.spine_c[1] - anat.spine_r - 14
    carina = carina_z(anat)
    rng = np.random.default_rng(th.seed)
    fat_hu, z_low, px = HU["fat"], upper_chest_z(anat) - 10.0, grid.px_mm
    crop = grid.box((grid.z_edges_mm[0], tr_y - 75.0, cx - 45.0), (grid.z_edges_mm[-1], tr_y + 15.0, cx + 45.0))
    if crop is None:
        return
    xs, ys = grid.x_mm[crop[2]], grid.y_mm[crop[1]]
    for dx, dy, dz, r in th.nodes:
        zc = carina + dz
        ang, ka, kz = rng.uniform(0, np.pi), rng.uniform(1.2, 1.8), rng.uniform(1.2, 2.0)  # drawn for every node
        k = int(np.searchsorted(grid.z_edges_mm, zc)) - 1
        if zc - r * kz < z_low or not 0 <= k < grid.shape[0]:
            continue
        fat = np.abs(cv.img[k][crop[1], crop[2]] - fat_hu) < 30.0
        room = ndimage.distance_transform_edt(fat) * px
        ok = room >= max(0.7 * r, px)
        if not ok.any():
            continue
        d2 = (xs[None, :] - cx - dx) ** 2 + (ys[:, None] - tr_y - dy) ** 2
        iy, ix = np.unravel_index(np.argmin(np.where(ok, d2, np.inf)), ok.shape)
        c = np.array([xs[ix], ys[iy], zc])
        ax = np.array([[np.cos(ang), np.sin(ang), 0.0], [-np.sin(ang), np.cos(ang), 0.0], [0.0, 0.0, 1.0]])
        res = ellipsoid_fraction(grid, c, ax, np.array([r * ka, r, r * kz]))
        if res is None:
            continue
        box, f = res
        sub = cv.img[box]
        f = f * (np.abs(sub - fat_hu) < 30.0)  # only in fat
        sub += f * (np.float32(NODE_HU) - sub)


def _label_spine_bone(anat: Anatomy, cv: Canvas) -> None:
    """Session 12: round the spine, every bone-touched voxel at or above 130 HU that still carries a soft-tissue or lung
    label (the partial volume of a process' edge under a rib neck's marrow, at the pleura) is labelled vertebra, so that
    an anatomy finder measured on the labels sees all of the bone the realism adds."""
    if cv.lab is None:
        return
    grid, (sx, sy), sr = cv.grid, anat.spine_c, anat.spine_r
    b = grid.box((grid.z_edges_mm[0], sy - sr - 2 * grid.px_mm, sx - 45), (grid.z_edges_mm[-1], sy + sr + 55, sx + 45))
    if b is None:
        return
    soft = (LABEL["body_wall"], LABEL["lung_right"], LABEL["lung_left"], LABEL["thoracic_inlet"], LABEL["outside"])
    lab = cv.lab[b]
    idx = np.nonzero(cv.bright[b] & (cv.img[b] >= 130.0))  # few: test their labels only
    keep = np.isin(lab[idx], soft)
    lab[tuple(i[keep] for i in idx)] = LABEL["vertebra"]
