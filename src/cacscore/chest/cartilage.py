"""Costal cartilage (issue 16, "read the chest"): the soft-tissue bars that join the anterior rib ends to the
sternum, in the innermost layer of the anterior chest wall, in front of the lungs and the mediastinum.

Why a mask of its own: calcified costal cartilage beside the sternum, a few mm in front of the heart, is the
commonest false positive of phantom-trained scorers on real chest CT, and no distance rule separates it from a real
RCA plaque at the same place (LIDC-IDRI-0001: a calcified cartilage rim and an inserted hybrid RCA plaque lie
0.17 mm of chest-wall depth apart, docs/lesion_scorer.md, "costal cartilage inside the sac"). What tells them apart
is what the calcium sits in: the cartilage's calcium is the rim of a soft-tissue body (unmineralised cartilage reads
50-250 HU, like muscle) that belongs to the chest wall; a coronary plaque sits in the fat in front of the heart.

So the mask is found from tissue, not from distances: on the coarse grid of :func:`cacscore.chest.anatomy.read_chest`,
in a band around the chest wall's inner surface drawn from the lungs and the mediastinum alone (the pericardial
mask left out: its front edge runs through the cartilage on 0001), the tissue at or above SOFT_HU (cartilage,
muscle, its calcium and bone; fat and lung are below it) whose 3-D component (6-connected, so a plaque in fat does not
join through a diagonal) reaches into the wall in front of that surface. The band reaches BACK_MM behind the surface
(between the lungs' front tips the surface is a straight line that runs through the cartilage and the sternum) and
FRONT_MM in front of it, within MIDLINE_MM of the body's midline (the sternum, the cartilage and the rib ends).

The heart's tissue and, with contrast, its blood and the great veins' are tissue too, and touch the wall where no fat
lies between; so the heart has seeds of its own (deep in the sac; the blood pools reaching behind the band) and each
contested voxel goes to the nearer seed. Behind the surface only thick bodies are kept. What is measured:
docs/chest_anatomy.md, "The costal-cartilage mask and its rule".
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from cacscore.chest import wall as chest_wall

SOFT_HU = 40.0
"""Coarse voxels at or above this are cartilage, muscle or bone (fat reads -150 to -50 HU, lung below -400):
unmineralised costal cartilage read 75-100 HU on LIDC-IDRI-0001 (median of 7 x 7 px patches), pectoral muscle
40-100 HU; the cartilage's calcium and bone are far above it."""

FRONT_MM = 25.0
"""How far in front of the chest wall's inner surface the mask reaches: the costal cartilage's thickness (about
10 mm) plus where the lungs' front tips lie deeper (LIDC-IDRI-0001 at the heart's lower levels: calcified cartilage
16-22 mm in front of the surface, 330 AU; at 15 mm it was left out). The pectoral muscles in front of the cartilage
are partly in the mask (harmless for the rule: the chest-wall rule already calls that depth non-coronary)."""

BACK_MM = 6.0
"""How far behind the surface (drawn from the lungs and mediastinum) the mask may reach: between the lungs' front
tips the surface is a straight line, and the cartilage and sternum lie up to a few mm behind it (0001: the
calcified rim called RCA by a v4-trained model lies 0.4 mm behind it, its cartilage's back 3-5 mm)."""

REACH_MM = 5.0
"""A tissue component is the chest wall's when it reaches this far in front of the surface (two coarse rows): a
plaque or a vessel behind the surface does not."""

MIDLINE_MM = 110.0
"""Half-width of the mask about the body's midline: the costal cartilages join the sternum to the rib ends
within about 60-100 mm of it (the 7th-10th cartilages run further laterally and down)."""


SAC_SEED_MM = 7.5
"""Tissue this deep inside the pericardial mask is the heart's (three coarse voxels): the mask's front edge overlaps
the cartilage by 2.5 mm on LIDC-IDRI-0001, so a shallower seed would hand the cartilage to the heart."""

SEED_GAP_MM = 5.0
"""Tissue this near the heart's seeds does not seed the wall (two coarse voxels): the heart's muscle and sac in front
of its blood are thinner than that; the cartilage lies behind fat, 5-10 mm in front of the heart's blood on
LIDC-IDRI-0001."""

SPLIT_MM = 10.0
"""How much deeper than the mask (BACK_MM behind the surface) the tissue is split between the wall and the heart:
the heart's seeds lie SAC_SEED_MM inside the sac, so a heart touching the wall behind the surface has seeds within
BACK_MM + SPLIT_MM of it."""

WALL_MAX_MM = 60.0
"""Columns whose chest wall (skin to the lungs' or mediastinum's front) is thicker than this get no band (as
``wall.MAX_WALL_MM``): below the anterior lungs the surface is the posterior lung bases. At 45 mm the lower cartilage of
LIDC-IDRI-0003 (walls of 49-57 mm in front of the heart) was left out; at 60 mm some liver in front of 0002's lung
bases (walls of about 55 mm, below the heart) is in the mask."""


_INPLANE_CROSS = np.zeros((3, 3, 3), bool)
_INPLANE_CROSS[1] = ndimage.generate_binary_structure(2, 1)

DEEP_BLOOD_MM = 15.0
"""With contrast, bright (blood-range) voxels whose pool reaches this far behind the band, inside the mediastinum or
the sac, seed the heart's side: without them the heart's front above the sac's flat top (LIDC-IDRI-0003, slices 38-43;
0001, 54-56) and the contrast-filled great veins behind the upper sternum (0001, slices 112-117) joined the mask
(277 and 377 coarse voxels). Calcified cartilage is a rim a few mm deep."""


def find_cartilage(g: np.ndarray, body: np.ndarray, lungs: np.ndarray, hull: np.ndarray, pericardium: np.ndarray,
                   grid_mm: np.ndarray, midline_x: float, *, lungs_sure: bool,
                   blood_hu: float | None = None) -> tuple[np.ndarray, bool, float, str]:
    """(z, y, x) coarse bool costal-cartilage mask (sternum and calcium included), found, confidence and the reason
    when not found (the caller makes it a ``cacscore.chest.anatomy.Part``). g: the coarse HU grid; hull: the
    mediastinum between the lungs (``anatomy._lung_hull``); pericardium: the found sac (the heart's seeds);
    blood_hu: the lowest HU of blood with contrast (``anatomy.blood_range``), None without contrast."""
    empty = np.zeros(g.shape, bool)
    if not lungs_sure:
        return empty, False, 0.0, "no lungs to find the chest wall's inner surface by"
    surf = chest_wall.inner_surface(lungs, hull, empty, body, float(grid_mm[1]))
    skin = np.argmax(body, axis=1).astype(float)
    cols = np.abs(np.arange(g.shape[2]) - midline_x) * grid_mm[2] <= MIDLINE_MM
    surf[((surf - skin) * grid_mm[1] > WALL_MAX_MM) | ~cols[None, :]] = np.nan
    if not np.isfinite(surf).any():
        return empty, False, 0.0, f"no chest wall thinner than {WALL_MAX_MM:.0f} mm in front of the lungs"
    # everything is read in the band's box only (its columns, and its rows from the highest skin down to the deepest
    # surface + BACK_MM, with room below for the heart's seeds): on LIDC-IDRI-0003 0.26 s instead of 1.5 s on the whole
    # grid (read_chest 5 s, same run, loaded machine)
    x0, x1 = np.flatnonzero(np.isfinite(surf).any(0))[[0, -1]]
    y0 = int(np.nanmin(np.where(np.isfinite(surf), skin, np.nan)))
    ny = int(min(g.shape[1], np.nanmax(surf) + np.ceil(BACK_MM / grid_mm[1]) + 1))
    deep = int(min(g.shape[1], ny + np.ceil(max(SAC_SEED_MM, DEEP_BLOOD_MM) / grid_mm[1]) + 1))
    box = (slice(None), slice(y0, deep), slice(x0, x1 + 1))
    gb, sac = g[box], pericardium[box]
    sb = surf[:, x0:x1 + 1].astype(np.float32)
    depth_mm = (np.where(np.isfinite(sb), sb, -np.inf)[:, None, :]
                - np.arange(y0, deep, dtype=np.float32)[None, :, None]) * np.float32(grid_mm[1])
    # the tissue is split between the wall and the heart in a band SPLIT_MM deeper than the mask's, so that the
    # heart's seeds (SAC_SEED_MM inside the sac) lie in it where the heart touches the wall behind the surface
    tissue = (body[box] & ~lungs[box] & (gb >= SOFT_HU) & (depth_mm <= FRONT_MM)
              & (depth_mm >= -(BACK_MM + SPLIT_MM)))
    wall_seed = tissue & (depth_mm >= REACH_MM) & ~sac
    if not wall_seed.any():
        return empty, False, 0.0, f"no tissue >= {SOFT_HU:.0f} HU in the chest wall's inner layer"
    n_in = round(SAC_SEED_MM / float(np.min(grid_mm)))
    # border_value 1: the sac goes on below the box (and past the scan's ends, for all this function knows), so its
    # voxels at the box's edge are not nearer its surface than they are
    heart_seed = tissue & (ndimage.binary_erosion(sac, iterations=n_in, border_value=1) if sac.any() else sac)
    if blood_hu is not None:
        heart_seed |= tissue & _deep_blood(gb >= blood_hu, depth_mm, hull[box] | sac)
    # no wall seed within SEED_GAP_MM of the heart's: the heart's front can bulge in front of the lungs' tips above a
    # sac whose flat top missed it (LIDC-IDRI-0003), and its muscle there would seed the wall (it reached the mask)
    gap = round(SEED_GAP_MM / float(np.min(grid_mm)))
    if heart_seed.any() and gap > 0:
        wall_seed &= ~ndimage.binary_dilation(heart_seed, iterations=gap)
    grown = ndimage.binary_propagation(wall_seed,
                                       mask=tissue & _nearer_wall(tissue, wall_seed, heart_seed, grid_mm))
    grown &= depth_mm >= -BACK_MM
    # behind the surface only bodies, not strands: a contrast-filled vessel running from the wall down beside the
    # heart (LIDC-IDRI-0001, one coarse voxel wide, 14 mm long into the found sac) joined the mask without this;
    # the cartilage and the sternum are 3 or more coarse voxels across
    thick = ndimage.binary_opening(grown, structure=_INPLANE_CROSS)
    out = empty.copy()
    out[box] = ndimage.binary_propagation(wall_seed & grown, mask=grown & ((depth_mm >= 0) | thick))
    return out, True, 1.0, ""


def _nearer_wall(tissue: np.ndarray, wall_seed: np.ndarray, heart_seed: np.ndarray, grid_mm: np.ndarray) -> np.ndarray:
    """Where the heart touches the wall with no fat between, tissue joins the two: the voxels of such a joint
    tissue structure nearer (Euclidean) a heart seed than a wall seed are the heart's (False), all others True.
    The EDT is run in the joint structures' box only (they are a few contact patches; a geodesic split would need a
    flood per step or scikit-image, which this project does not depend on)."""
    keep = np.ones(tissue.shape, bool)
    if not heart_seed.any():
        return keep
    lab, n = ndimage.label(tissue)
    both = np.zeros(n + 1, bool)
    both[np.unique(lab[wall_seed])] = True
    both &= np.isin(np.arange(n + 1), lab[heart_seed])
    both[0] = False
    joint = both[lab]
    if not joint.any():
        return keep
    box = ndimage.find_objects(joint.astype(np.uint8))[0]
    seeds = np.where(heart_seed[box], 2, np.where(wall_seed[box], 1, 0)).astype(np.uint8)
    near = ndimage.distance_transform_edt(seeds == 0, sampling=grid_mm, return_distances=False, return_indices=True)
    keep[box] = ~joint[box] | (seeds[tuple(near)] == 1)
    return keep


def _deep_blood(bright: np.ndarray, depth_mm: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """The bright voxels of the blood pools that reach DEEP_BLOOD_MM behind the band's back (-BACK_MM) inside the
    mediastinum or the sac (``inside``). Found on the bright voxels eroded by one (6-connected): a chamber or a great
    vessel stays one thick structure, while the sternum and the cartilage, bright too, touch the deep blood only
    through thin chains (the internal thoracic vessels; LIDC-IDRI-0001's whole sternum joined the heart's blood
    without the erosion) and the ribs run back outside the mediastinum."""
    core = ndimage.binary_erosion(bright)
    lab, n = ndimage.label(core)
    if n == 0:
        return core
    deep = np.zeros(n + 1, bool)
    deep[np.unique(lab[core & inside & (depth_mm <= -(BACK_MM + DEEP_BLOOD_MM))])] = True
    deep[0] = False
    return ndimage.binary_dilation(deep[lab]) & bright
