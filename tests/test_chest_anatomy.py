"""cacscore.chest.anatomy.read_chest on phantoms: the parts it reports are where the phantom's anatomy label volume
(phantom v2) says they are. 256 px: at 128 px (3.4 mm pixels) the pericardium of some patients is found with low
confidence only (bench/chest_anatomy_v2.py), which then switches the anatomy rules off for that scan."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cacscore.chest.anatomy import (DESC_SHORT_MM, ChestAnatomy, RootOptions, _below_branch, _distinct, _highest_asc,
                                    _longest_desc, read_chest)
from cacscore.chest.aorta import TubeTrack
from cacscore.phantom.anatomy import LABEL
from cacscore.phantom.core import make_patient


@pytest.fixture(scope="module")
def patient():
    """Seed 5 patient 1, drawn as shipped (session 13's realistic thorax; until session 14 this file drew it with
    session 12's chest, docs/chest_anatomy.md "Robust on the realistic thorax")."""
    return make_patient(1, seed=5, size=256, anatomy=True)


@pytest.fixture(scope="module")
def anatomy(patient) -> ChestAnatomy:
    return read_chest(patient.hu, patient.spacing_mm)


def _mine(patient, xyz) -> np.ndarray:
    """Phantom (x, y, z) patient mm -> read_chest's (z, y, x) mm from voxel 0."""
    o = patient.origin_mm
    return np.array([xyz[2] - o[2], xyz[1] - o[1], xyz[0] - o[0]], float)


def test_parts_found(anatomy):
    for name in ("body", "lungs", "aorta", "root", "pericardium", "bone"):
        assert anatomy.parts[name].found, (name, anatomy.parts[name])
    assert not anatomy.contrast and anatomy.blood_hu[1] <= 130  # the phantom has no contrast agent


def test_descending_aorta_on_the_drawn_one(patient, anatomy):
    desc = anatomy.aorta.centreline_mm[anatomy.aorta.segment == 2]
    assert len(desc) * patient.spacing_mm[0] >= 60  # followed over at least 6 cm
    err = []
    for pt in desc:  # against the centroid of the labelled descending aorta on the same slice
        k = int(np.clip(np.rint(pt[0] / patient.spacing_mm[0]), 0, patient.hu.shape[0] - 1))
        ys, xs = np.nonzero(patient.anatomy_labels[k] == LABEL["aorta_descending"])
        if len(ys):
            err.append(np.hypot(pt[1] - ys.mean() * patient.spacing_mm[1], pt[2] - xs.mean() * patient.spacing_mm[2]))
    assert len(err) >= 10 and np.median(err) < 8.0, np.median(err)


def test_heart_inside_pericardium_spine_outside(patient, anatomy):
    hc = np.array(patient.heart_centre_mm) - np.array(patient.origin_mm)[::-1]
    assert anatomy.pericardium[tuple(anatomy.coarse_index(hc[None])[0])]
    k = int(round(hc[0] / patient.spacing_mm[0]))
    ys, xs = np.nonzero(patient.anatomy_labels[k] == LABEL["vertebra"])  # the vertebral body at the heart's level
    spine = np.array([hc[0], np.median(ys) * patient.spacing_mm[1], np.median(xs) * patient.spacing_mm[2]])
    s = anatomy.coarse_index(spine[None])[0]
    assert not anatomy.pericardium[tuple(s)]
    near = anatomy.bone[s[0], max(0, s[1] - 3):s[1] + 4, max(0, s[2] - 3):s[2] + 4]
    assert (near == 1).any()  # the vertebral body is labelled spine
    truth = np.isin(patient.anatomy_labels[::anatomy.step_z, ::anatomy.step_xy, ::anatomy.step_xy],
                    [LABEL[n] for n in ("heart", "epicardial_fat", "pericardium", "coronary_artery")])
    assert truth.shape == anatomy.pericardium.shape  # the coarse grid samples the full one
    dice = 2 * (truth & anatomy.pericardium).sum() / (truth.sum() + anatomy.pericardium.sum())
    assert dice > 0.7, dice


def test_deterministic_and_bare_array_needs_spacing(patient, anatomy):
    again = read_chest(patient.hu, patient.spacing_mm)
    assert np.array_equal(again.pericardium, anatomy.pericardium)
    assert np.allclose(again.aorta.centreline_mm, anatomy.aorta.centreline_mm)
    with pytest.raises(ValueError, match="spacing_mm"):
        read_chest(patient.hu)
    with pytest.raises(ValueError, match="shape"):
        read_chest(patient.hu[0], patient.spacing_mm)


def test_no_lungs_is_a_reason_not_a_crash():
    hu = np.full((20, 64, 64), 40.0, np.float32)
    a = read_chest(hu, (2.5, 2.5, 2.5))
    assert not a.parts["lungs"].found and a.parts["lungs"].reason
    assert not a.parts["aorta"].found and a.parts["aorta"].reason


def test_anatomy_rules_fire_only_where_the_part_was_found():
    from cacscore.lesion.anatomy import ANATOMY_NAMES, RULE_NAMES, AnatomyRules, anatomy_verdicts

    nan = np.nan
    cols = np.array([
        # pericardium, wall, segment, bone, above root, above diaphragm, frame x3, in front of the chest wall,
        # share of the voxels in the costal-cartilage mask
        [-5, 30, 2, 20, 0, 40, nan, nan, nan, -20, 0, nan, nan, nan],   # inside the sac: coronary territory, no rule
        [35, 30, 2, 20, 0, 40, nan, nan, nan, -20, 0, nan, nan, nan],   # 35 mm outside the sac
        [2, 30, 2, 0, 0, 40, nan, nan, nan, -20, 0, nan, nan, nan],     # on the bony thorax, outside the sac
        [-2, 1, 2, 30, 0, 40, nan, nan, nan, -20, 0, nan, nan, nan],    # in the descending aortic wall
        [-2, 1, 0, 30, 5, 40, nan, nan, nan, -20, 0, nan, nan, nan],    # in the ascending wall at the root (ostia): no rule
        # ascending wall 45 mm above the root, inside the sac: above the 40 mm in-sac root exemption (session 22)
        [-2, 1, 0, 30, 45, 40, nan, nan, nan, -20, 0, nan, nan, nan],
        [5, 30, 2, 30, -80, -30, nan, nan, nan, -20, 0, nan, nan, nan],  # below the diaphragm, outside the sac
        [6, 60, 0, 24, -20, 10, nan, nan, nan, 8, 0, nan, nan, nan],    # costal cartilage 8 mm in the chest wall (LIDC-IDRI-0001)
        [-1, 60, 0, 24, -20, 10, nan, nan, nan, 8, 0, nan, nan, nan],   # in front of the wall's surface but inside the sac: no rule
        # a hybrid RCA plaque inserted in LIDC-IDRI-0003's found groove (seed 2, 47 AU) lies where v4's costal-cartilage
        # "RCA" of LIDC-IDRI-0001 lies (2.5 mm inside the sac, -0.4 to 1.2 mm from the wall): these columns cannot
        # tell them apart, so the sac keeps sparing it (docs/lesion_scorer.md, "Costal cartilage inside the sac"); the
        # cartilage mask does (a plaque in fat has no voxel in it: test_cartilage), so it carries 0 here
        [-2.46, 60, 0, 15.3, -45, 7.5, nan, nan, nan, -0.55, 0, nan, nan, nan],
        [6, 60, 0, 24, -20, 10, nan, nan, nan, -2, 0, nan, nan, nan],   # 2 mm behind the surface (internal thoracic vessels)
        [6, 60, 0, 24, -20, 10, nan, nan, nan, -5, 0, nan, nan, nan],   # 5 mm behind it: no rule
        [nan, 60, 0, 24, -20, 10, nan, nan, nan, 4, 0, nan, nan, nan],  # in the wall, no pericardium found: the wall alone decides
        [nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan],  # nothing found: nothing fires
        # the calcified costal cartilage a phantom-trained model called LCX on LIDC-IDRI-0001 (slice 61, 7.4 AU; its
        # columns as measured): inside the sac, at the wall's surface; 78 % of its voxels in the cartilage mask
        [-2.5, 41.5, 0, 26.9, -2.5, 1.0, 16.6, 43.2, -2.7, 1.25, 0.78, nan, nan, nan],
        [-2.5, 41.5, 0, 26.9, -2.5, 1.0, 16.6, 43.2, -2.7, 1.25, 0.4, nan, nan, nan],  # less than half in the mask: no rule
        [-2.5, 41.5, 0, 26.9, -2.5, 1.0, 16.6, 43.2, -2.7, 1.25, nan, nan, nan, nan],  # no mask found: no rule
        # the mitral annulus rule; the last three columns: mm above, behind and left of the pericardial mask's centroid
        [-18, 30, 2, 40, nan, 30, nan, nan, nan, -90, 0, -20, 25, 10],  # deep, posterior-left-low: mitral annulus
        [-4, 30, 2, 40, nan, 30, nan, nan, nan, -90, 0, -20, 40, 15],   # the LCX in the left AV groove: no rule
        [-18, 60, 0, 40, nan, 70, nan, nan, nan, -60, 0, 25, 10, 15],  # as deep, above the centroid (left main): no rule
        # as deep, right of the centroid: the RCA at the crux (a hybrid plaque in LIDC-IDRI-0003's found groove, 19.4 mm
        # inside the sac, 1.8 mm right of its centroid): no rule
        [-19.4, 30, 2, 40, nan, 5, nan, nan, nan, -90, 0, -36, 27, -1.8],
        [-18, 30, 2, 40, nan, 30, nan, nan, nan, -50, 0, -20, -5, 10],  # as deep, in front of the centroid: no rule
        # an LCX plaque 14.9 mm inside a mask that reaches behind the heart (phantom v6 seed 41 patient 86): no rule
        [-14.9, 30, 2, 40, nan, 39, nan, nan, nan, -90, 0, -14.8, 39.2, 12.7],
        [nan, 30, 2, 40, nan, 30, nan, nan, nan, -90, 0, nan, nan, nan],  # no pericardium found: no rule
    ], float)
    cols = np.hstack([cols, np.full((len(cols), len(ANATOMY_NAMES) - cols.shape[1]), nan)])  # no contrast columns
    assert cols.shape[1] == len(ANATOMY_NAMES)
    v = anatomy_verdicts(cols, AnatomyRules(mitral_annulus=True))
    fired = [[r for r, f in zip(RULE_NAMES, row) if f] for row in v]
    assert fired == [[], ["outside the pericardium"], ["bony thorax"], ["aortic wall"], [], ["aortic wall"],
                     ["below the diaphragm"], ["chest wall"], [], [], ["chest wall"], [], ["chest wall"], [],
                     ["costal cartilage"], [], [], ["mitral annulus"], [], [], [], [], [], []]
    off = anatomy_verdicts(cols)  # the mitral-annulus rule is off by default (AnatomyRules: it costs LCX calcium)
    assert not off[:, RULE_NAMES.index("mitral annulus")].any()
    assert np.array_equal(np.delete(off, RULE_NAMES.index("mitral annulus"), 1),
                          np.delete(v, RULE_NAMES.index("mitral annulus"), 1))


def test_mitral_annulus_rule_on_the_phantom_heart():
    """Switched on, the rule calls the points the phantom draws its mitral annular calcification at
    (cacscore.phantom.noncoronary: the left half of the AV plane, inside the heart's surface) non-coronary where they
    lie deep in the found sac's posterior-left-lower quarter; the LCX's course in the AV groove of this heart, 2.5 mm
    outside its surface, never. Seed 11101 patient 2 (256 px; session 15, wt23b): 16 of the 19 deep points left of
    the sac's centroid fire with MEDIASTINUM_REALISM off, 15 with it on. Until session 15 this test read seed 5
    patient 1, whose annulus lies 28-30 mm behind the found sac's centroid, at the edge of the rule's 0-28 mm box: 11 of
    13 fired on session 12's chest (the sac leaked up, its centroid higher), 3 on session 13's (sac top +15 mm), 1 with
    MEDIASTINUM_REALISM (the sac stops 5 mm over the heart's top, Dice 0.867 against 0.839, its centroid 4 mm lower):
    the finder got better and the patient's annulus left the box, so the patient was replaced, not the bound."""
    p = make_patient(2, seed=11101, size=256, anatomy=True)
    anatomy = read_chest(p.hu, p.spacing_mm)
    from cacscore.lesion.anatomy import ANATOMY_NAMES, RULE_NAMES, AnatomyRules, anatomy_columns, anatomy_verdicts
    from cacscore.phantom.anatomy import heart_surface

    phis = np.linspace(60, 190, 27)
    def verdict(out_mm: float) -> tuple[np.ndarray, np.ndarray]:
        xyz = heart_surface(p.anatomy, np.full(len(phis), -0.45), phis, np.full(len(phis), out_mm))
        cols = anatomy_columns(anatomy, np.array([_mine(p, q) for q in xyz]))
        return anatomy_verdicts(cols, AnatomyRules(mitral_annulus=True))[:, RULE_NAMES.index("mitral annulus")], cols

    groove, cols = verdict(2.5)
    assert not groove.any() and np.isfinite(cols[:, ANATOMY_NAMES.index("sac_left_mm")]).all()
    deep, cols = verdict(-15.0)
    # the lateral and posterior-lateral annulus (left of the centroid) fires; its posterior end, right of the
    # centroid where the RCA reaches the crux, does not
    left = cols[:, ANATOMY_NAMES.index("sac_left_mm")] > 0
    # >= half of the deep left points (session 15, wt23b: seed 11101 p2 fires 16 of 19 with MEDIASTINUM_REALISM off,
    # 15 with it on; wt23d measured the rule on seed 11301 #1-10: median 8 of 13 fire, 0 on two patients whose sac
    # centroid sits low, docs/chest_anatomy.md)
    assert left.sum() >= 8 and deep[left].sum() >= left.sum() // 2 and not deep[~left].any()


def test_true_coronary_calcium_is_never_overruled_and_far_calcium_is(monkeypatch):
    """Drawn with the superior mediastinum widened to the real series' width (phantom.anatomy.MEDIASTINUM_WIDEN_V13 =
    0.8, off by default): with it the finder of sessions 9-13 seeded the ascending aorta on the sternum, cut the sac
    at a root 90 mm too low and overruled 7 of this patient's 10 true coronary candidates; since session 14 none (and
    none without the widening, before or after)."""
    from cacscore import lesion as L
    from cacscore.lesion.anatomy import anatomy_verdicts
    from cacscore.phantom import anatomy as phantom_anatomy

    # phantom v4 patient with 7 coronary candidates, none of them overruled (searched over seed 100; v2/v3: patient 3)
    monkeypatch.setattr(phantom_anatomy, "MEDIASTINUM_WIDEN_V13", 0.8)
    patient = make_patient(38, seed=100, size=256)
    hu = patient.hu.copy()
    # a bright lump in the right lateral chest wall at the heart's level, 3 slices: far outside the pericardium
    # (the anterior chest wall lies 5-30 mm outside the found mask, inside the rule's 30 mm margin)
    hz, hy = (int(round(v)) for v in patient.heart_centre_index[:2])
    side = int(np.argmax(hu[hz, hy, :] > -400))
    sl = (slice(hz - 1, hz + 2), slice(hy - 1, hy + 1), slice(side + 2, side + 4))
    hu[sl] = 500
    cand = L.find_candidates(hu, patient.spacing_mm, anatomy=read_chest(hu, patient.spacing_mm))
    v = anatomy_verdicts(cand.anatomy_columns).any(1)
    truth = L.candidate_targets(cand.ids, patient.labels)
    assert (truth > 0).sum() >= 3 and not v[truth > 0].any()
    wall = np.unique(cand.ids[sl])
    assert (wall > 0).any()
    assert v[wall[wall > 0] - 1].all()


def test_lesion_report_draws_the_anatomy(tmp_path, patient, anatomy):
    from matplotlib.image import imread

    from cacscore.lesion.report import ANATOMY_COLOURS, render_lesion_report
    from matplotlib.colors import to_rgb

    labels = np.zeros(patient.hu.shape, np.uint8)
    out = {}
    for name, a in (("with", anatomy), ("without", None)):
        out[name] = imread(render_lesion_report(patient.hu, patient.spacing_mm, labels, {}, tmp_path / f"{name}.png",
                                                title="t", anatomy=a))[..., :3]
    cyan = np.array(to_rgb(ANATOMY_COLOURS["pericardium"]))
    near = lambda im: (np.abs(im - cyan).max(-1) < 0.12).sum()  # noqa: E731
    assert near(out["with"]) > 50 * max(1, near(out["without"]))


def test_lesion_report_draws_a_pericardium_not_used_dashed_grey(tmp_path, patient, anatomy):
    """A mask heart_reference dropped (or found unsure) is not drawn in the cyan of a mask the scorer used."""
    from matplotlib.colors import to_rgb
    from matplotlib.image import imread

    from cacscore.lesion.anatomy import FINDER_ABOVE_MASK, without_pericardium
    from cacscore.lesion.report import ANATOMY_COLOURS, anatomy_not_used, render_lesion_report

    assert anatomy_not_used(anatomy) == {}
    dropped = without_pericardium(anatomy, FINDER_ABOVE_MASK)
    assert anatomy_not_used(dropped) == {"pericardium": FINDER_ABOVE_MASK}
    labels = np.zeros(patient.hu.shape, np.uint8)
    cyan = np.array(to_rgb(ANATOMY_COLOURS["pericardium"]))
    near = {}
    for name, a in (("used", anatomy), ("dropped", dropped)):
        im = imread(render_lesion_report(patient.hu, patient.spacing_mm, labels, {}, tmp_path / f"{name}.png",
                                         title="t", anatomy=a))[..., :3]
        near[name] = (np.abs(im[: int(0.85 * im.shape[0])] - cyan).max(-1) < 0.12).sum()  # panels, not legend
    assert near["used"] > 50 and near["dropped"] < 0.02 * near["used"], near


def test_chest_wall_holds_the_costal_cartilage_not_the_heart(patient, anatomy):
    """cacscore.chest.wall: the phantom's costal cartilage lies in front of the wall's inner surface, the heart and
    its coronary arteries well behind it (the rule 'chest wall' fires from 3 mm behind it)."""
    from cacscore.chest.wall import depth_in_wall_mm

    assert anatomy.parts["chest_wall"].found and anatomy.parts["chest_wall"].confidence == 1.0
    assert anatomy.wall_surface.shape == (anatomy.body.shape[0], anatomy.body.shape[2])
    sp = np.array(patient.spacing_mm)

    def depth(label: str) -> np.ndarray:
        pts = np.argwhere(patient.anatomy_labels == LABEL[label])[::7] * sp
        return depth_in_wall_mm(anatomy.wall_surface, anatomy.body, anatomy.grid_mm, pts)

    cart, heart, cor = depth("costal_cartilage"), depth("heart"), depth("coronary_artery")
    # the cartilage at the heart's levels (in front of the lungs); below them the surface is not trusted (nan)
    assert np.nanmedian(cart) > 3.0 and np.isfinite(cart).mean() > 0.3
    assert np.nanmax(cor) < -3.0 and np.nanpercentile(heart, 99) < 0.0


def test_chest_wall_not_found_without_lungs():
    from cacscore.chest.wall import find_chest_wall

    z = np.zeros((4, 10, 10), bool)
    body = np.ones_like(z)
    surf, found, conf, reason = find_chest_wall(z, z, z, body, 2.5, lungs_sure=False, truncated=False)
    assert not found and conf == 0 and "no lungs" in reason and np.isnan(surf).all()
    lungs = z.copy()
    lungs[:, 8:, :] = True  # the lungs' front 20 mm behind the skin at row 0: a surface at row 8
    surf, found, conf, _ = find_chest_wall(lungs, z, z, body, 2.5, lungs_sure=True, truncated=False)
    assert found and conf == 1.0 and (surf == 8).all()
    surf, *_ = find_chest_wall(lungs, z, z, body, 10.0, lungs_sure=True, truncated=False)  # 80 mm: not trusted
    assert np.isnan(surf).all()
    *_, conf, reason = find_chest_wall(lungs, z, z, body, 2.5, lungs_sure=True, truncated=True)
    assert conf < 0.5 and "field of view" in reason


def test_heart_reference_takes_the_higher_of_finder_and_mask(patient, anatomy):
    """When the finder's point lies outside the pericardial mask, the higher of the two is the heart (both fail
    towards the liver dome): a mask below the finder is dropped (its rule off, its column nan); a finder below the
    mask gives way to the mask's centroid."""
    from cacscore.lesion.anatomy import (
        ANATOMY_NAMES,
        FINDER_ABOVE_MASK,
        anatomy_columns,
        heart_reference,
        without_pericardium,
    )

    sp = np.array(anatomy.spacing_mm)
    zs = np.nonzero(anatomy.pericardium.any(axis=(1, 2)))[0]
    centroid = np.argwhere(anatomy.pericardium).mean(0) * anatomy.grid_mm / sp
    top = int(round((zs.max() * anatomy.grid_mm[0] + 20.0) / sp[0]))  # 20 mm above the mask
    bottom = int(round(max(zs.min() * anatomy.grid_mm[0] - 20.0, 0.0) / sp[0]))
    yx = (int(centroid[1]), int(centroid[2]))
    assert top < anatomy.shape[0]
    ref, source = heart_reference(anatomy, (top, *yx), True)
    assert source == FINDER_ABOVE_MASK and ref == (top, *yx)
    ref, source = heart_reference(anatomy, (bottom, *yx), True)
    assert source == "pericardium centroid" and abs(ref[0] - centroid[0]) <= 1
    # 5 mm under the mask's lowest slice, under one of its voxels: near the mask but under the heart's floor, on the
    # liver (LIDC-IDRI-0001 once the mask held the low right heart, session 11): the centroid, not the finder
    low_yx = np.argwhere(anatomy.pericardium[zs.min()])[0] * anatomy.grid_mm[1:] / sp[1:]
    under = (int(round((zs.min() * anatomy.grid_mm[0] - 5.0) / sp[0])), *(int(v) for v in low_yx))
    ref, source = heart_reference(anatomy, under, True)
    assert source == "pericardium centroid"
    dropped = without_pericardium(anatomy, source)
    assert not dropped.parts["pericardium"].found and dropped.pericardium is anatomy.pericardium
    pts = np.array([centroid * sp])
    assert np.isfinite(anatomy_columns(anatomy, pts)[0, ANATOMY_NAMES.index("pericardium_mm")])
    assert np.isnan(anatomy_columns(dropped, pts)[0, ANATOMY_NAMES.index("pericardium_mm")])


def _floor_case(fat_cols: slice = slice(10, 30)):
    """A 20 x 20 column mask (25 cm^2 on a 2.5 mm grid) standing on its floor (z = 4): liver z 4-7 (60 HU), a fat
    sheet z 8 (-100 HU) under fat_cols, heart above (40 HU)."""
    g = np.full((30, 40, 40), 40.0, np.float32)
    g[4:8, 10:30, 10:30] = 60.0
    g[8, fat_cols, fat_cols] = -100.0
    heart = np.zeros(g.shape, bool)
    heart[4:26, 10:30, 10:30] = True
    return g, heart, np.full((40, 40), 10.0), np.array([2.5, 2.5, 2.5])


def test_fat_floor_cuts_the_liver_under_the_heart():
    from cacscore.chest.anatomy import _above_fat_floor

    g, heart, floor, gm = _floor_case()
    out = _above_fat_floor(heart, g, np.zeros_like(heart), gm, floor)
    assert not out[4:8].any() and out[8:26, 10:30, 10:30].all()  # the fat stays, the liver under it goes
    # a patch of fat of 0.6 cm^2 is a groove, not the floor; a column standing on lung is not the floor either
    g_small, *_ = _floor_case(slice(18, 21))
    assert np.array_equal(_above_fat_floor(heart, g_small, np.zeros_like(heart), gm, floor), heart)
    lungs = np.zeros_like(heart)
    lungs[:4] = True
    assert np.array_equal(_above_fat_floor(heart, g, lungs, gm, floor), heart)


def test_pericardium_holds_little_of_the_abdomen(patient, anatomy):
    """Phantom v3 rests its heart on a sheet of fat over the liver's dome: the mask stops there (this patient: 6.9 %
    of the mask on abdominal labels before the fat floor, 4.8 % after; 40 patients of seed 41: median 10.5 -> 3.1 %,
    docs/chest_anatomy.md). With session 9's seed search (off by default) the root is found on the aorta instead of
    89 mm up a neck vessel, the mask's top comes down to the heart's (Dice 0.74 -> 0.87), and the same 3,446
    abdominal voxels are 6.6 % of it. On the realistic thorax (session 13) this patient's mask has 6.4 % on abdominal
    labels (the left extension of its floor under the left dome) and the guarded seed search, which finds no root
    there, 5.1 %."""
    lab = patient.anatomy_labels[::anatomy.step_z, ::anatomy.step_xy, ::anatomy.step_xy]
    abdomen = np.isin(lab, [LABEL[n] for n in ("liver", "abdomen", "spleen", "stomach", "aorta_abdominal")])
    # < 7 %: this patient's measured share rounded up to the next 0.5 % (session 15): 6.40 % with MEDIASTINUM_REALISM
    # off (wt23d), 6.81 % with it on (the default since session 15). Seed 11301 #1-10 (256 px, realism off): 0.0-7.3 %,
    # median 4.4 %, so this patient is among the worst; one of ten (#7, 7.3 %) would fail this bound
    assert (abdomen & anatomy.pericardium).sum() < 0.07 * anatomy.pericardium.sum()
    searched = read_chest(patient.hu, patient.spacing_mm, root_options=RootOptions.with_seed_search()).pericardium
    assert (abdomen & searched).sum() < 0.08 * searched.sum()


def test_liver_dome_taken_out_of_the_mask_without_contrast():
    """Liver (65 HU) rising from under the right hemidiaphragm into the mask beside a heart of 40 HU: the part of
    the mask on it goes, the heart stays; nothing goes when the bright tissue is not connected to the liver below
    the floor."""
    from cacscore.chest.anatomy import _without_liver

    gm = np.array([2.5, 2.5, 2.5])
    g = np.full((40, 40, 60), -800.0, np.float32)
    body = np.ones(g.shape, bool)
    g[:, 5:35, 3:57] = 40.0  # heart and abdomen
    g[:14, 5:35, 3:30] = 65.0  # the liver (right = low x), its dome up to z = 13 (32.5 mm)
    heart = np.zeros(g.shape, bool)
    heart[8:35, 8:32, 18:42] = True  # the mask's floor at z = 8 (20 mm) takes in the dome
    dia = np.full((40, 60), 20.0)
    lungs = np.zeros(g.shape, bool)
    out = _without_liver(heart, g, body, lungs, gm, dia, right_dome_mm=35.0, midline_x=30.0)
    assert not out[8:12, 10:30, 18:28].any()  # the dome's core
    assert out[16:35, 10:30, 20:40].all() and out[8:12, 10:30, 34:40].all()  # the heart, and the floor on the left
    g_apart = g.copy()
    g_apart[:8] = 40.0  # no liver under the floor: the bright block is not the liver's dome
    assert np.array_equal(_without_liver(heart, g_apart, body, lungs, gm, dia, 35.0, 30.0), heart)


def _aorta_off_mm(a: ChestAnatomy, labels: np.ndarray, name: str) -> float:
    """Median over the coarse slices holding the label ``name`` of the in-plane distance (mm) from its centroid to
    the nearest found centreline point on that slice (inf where none): bench/chest_anatomy_robust.py's measure."""
    cl, d = a.aorta.centreline_mm, []
    for k in range(0, labels.shape[0], a.step_z):
        ys, xs = np.nonzero(labels[k, ::a.step_xy, ::a.step_xy] == LABEL[name])
        if len(ys) >= 4:
            on = np.abs(cl[:, 0] - k * a.spacing_mm[0]) < 0.6 * a.grid_mm[0]
            c = np.array([ys.mean(), xs.mean()]) * a.grid_mm[1:]
            d.append(np.hypot(*(cl[on, 1:] - c).T).min() if on.any() else np.inf)
    return float(np.median(d))


def _sac_top_over_truth_mm(a: ChestAnatomy, labels: np.ndarray) -> float:
    true = np.isin(labels[::a.step_z, ::a.step_xy, ::a.step_xy],
                   [LABEL[n] for n in ("heart", "epicardial_fat", "pericardium", "coronary_artery")])
    top = lambda m: np.flatnonzero(m.any((1, 2))).max()  # noqa: E731
    return float((top(a.pericardium) - top(true)) * a.grid_mm[0])


@pytest.mark.parametrize("mediastinum", [False, True])
def test_branch_guard_takes_a_radius_flip_for_a_branch(monkeypatch, mediastinum):
    """Issue 16, session 9: on session 12's chest seed 5 patient 1's descending track climbed an arch branch and the
    arch-branch guard of RootOptions.with_seed_search() helped. On the realistic thorax the guard cuts the descending
    track where the circle score's radius flips one of its 3 mm levels (11 -> 8 mm over two or more slices): every
    ascending seed then lies in the heart. Seed 11101 patient 5 (256 px; session 15, wt23b), drawn with
    MEDIASTINUM_REALISM off and on: the shipped finder's root 3.4 mm off both ways, the guarded descending track 85 / 95
    mm long (the shipped one 155 / 180 mm), no ascending aorta; off, read_chest says so (no root; it reported a root
    found over '0 mm' at nan before session 14); on, it reports a root 55 mm off on a short non-aortic track. Until
    session 15 this test read seed 5 patient 1, whose radius flip is gone with MEDIASTINUM_REALISM (the guarded track
    runs 155 mm and finds the root 11 mm off), so the patient was replaced."""
    from cacscore.phantom import anatomy as phantom_anatomy

    monkeypatch.setattr(phantom_anatomy, "MEDIASTINUM_REALISM", mediastinum)
    p = make_patient(5, seed=11101, size=256, anatomy=True)
    anatomy = read_chest(p.hu, p.spacing_mm)
    true = _mine(p, p.anatomy.aorta_root)
    assert np.linalg.norm(anatomy.aortic_root_mm - true) < 10.0
    assert _aorta_off_mm(anatomy, p.anatomy_labels, "aorta_ascending") < 10.0
    guarded = read_chest(p.hu, p.spacing_mm, root_options=RootOptions.with_seed_search())
    desc_mm = lambda a: (a.aorta.segment == 2).sum() * a.grid_mm[0]  # noqa: E731
    assert desc_mm(anatomy) >= 150.0 and desc_mm(guarded) <= 100.0
    assert _aorta_off_mm(guarded, p.anatomy_labels, "aorta_ascending") > 30.0  # no tracked ascending aorta
    if not mediastinum:
        assert not guarded.parts["root"].found and np.isnan(guarded.aortic_root_mm).all()
        assert guarded.parts["pericardium"].confidence < 1.0  # its top not bounded by a root
    else:
        assert np.linalg.norm(guarded.aortic_root_mm - true) > 40.0


def test_ascending_aorta_found_when_the_descending_track_climbs_a_branch():
    """Seed 10501 patient 8 (128 px, the realistic thorax): the descending track climbs an arch branch, and the
    finder of sessions 9-13 (RootOptions.before_session14) seeded the ascending aorta under that false top, 88 mm
    from the drawn one; the sac, bound to it, leaked 105 mm up the superior mediastinum's fat. Chosen by its track
    among seeds in the lungs' hull from 40 mm above the dome (session 14), the ascending aorta is the drawn one and
    the sac stops within 20 mm of the heart's top (seed 10501 1-20 at 256 px: found on 19 of 20, 13 before)."""
    p = make_patient(8, seed=10501, size=128, anatomy=True)
    new = read_chest(p.hu, p.spacing_mm)
    assert _aorta_off_mm(new, p.anatomy_labels, "aorta_ascending") < 15.0
    assert np.linalg.norm(new.aortic_root_mm - _mine(p, p.anatomy.aorta_root)) < 25.0
    assert _sac_top_over_truth_mm(new, p.anatomy_labels) <= 20.0 and new.parts["pericardium"].confidence == 1.0
    old = read_chest(p.hu, p.spacing_mm, root_options=RootOptions.before_session14())
    assert _aorta_off_mm(old, p.anatomy_labels, "aorta_ascending") > 60.0
    assert _sac_top_over_truth_mm(old, p.anatomy_labels) > 60.0


@pytest.mark.parametrize("mediastinum", [False, True])
def test_descending_seed_on_a_hilar_artery_gives_way_to_the_longest_track(monkeypatch, mediastinum):
    """Seed 10502 patient 1 (256 px) drawn with MEDIASTINUM_REALISM off (session 13's hila): the best circle beside the
    spine is the left pulmonary artery at the hilum. The finder of sessions 9-13 followed it over 30 mm, cut the sac in
    front of it and left 65 % of the coronary calcium outside the mask; the descending seed is now, when the best one's
    track is short (RootOptions.desc_by_track, DESC_SHORT_MM), the one of the 4 best distinct whose track is the
    longest: the descending aorta. With MEDIASTINUM_REALISM on (session 15, wt23b) the left pulmonary artery runs over
    the left main bronchus to a hilum further out and the old finder's descending track is the aorta too (31 slices),
    so only the shipped finder's half is asserted there; none of seed 11101's patients 1-20 shows this premise with the
    switch on (the old finder's descending track >= 60 mm on all, bench/results/mediastinum_s15), so the patient was
    kept and drawn both ways rather than replaced. Anatomy v11 (the default since session 16, wt24b): the LCX's plaque
    lies in fat, so at 256 px it keeps 6 of v8's 10 voxels >= 130 HU (16 coronary calcium voxels in all, v8 20; LCX
    truth 166 -> 154 AU); the finders' numbers are v8's (shipped: descending track 155 mm, calcium in the sac 1.0 both
    ways; old, switch off: 30 mm, calcium in the sac 0.35 on v8, 0.44 on v11), so the premise guard below asks for 15
    voxels (was 20: the whole of v8's), and every assertion about the finders is kept."""
    from cacscore.phantom import anatomy as phantom_anatomy

    monkeypatch.setattr(phantom_anatomy, "MEDIASTINUM_REALISM", mediastinum)
    p = make_patient(1, seed=10502, size=256, anatomy=True)
    cal = np.argwhere((p.labels > 0) & (p.hu >= 130)) * np.array(p.spacing_mm)
    assert len(cal) >= 15  # enough calcium for a share (16 on v11, 20 on v8)

    def calcium_in_sac(a: ChestAnatomy) -> float:
        from scipy import ndimage

        grown = ndimage.binary_dilation(a.pericardium, iterations=2)  # ~5 mm
        return float(grown[tuple(a.coarse_index(cal).T)].mean())

    new = read_chest(p.hu, p.spacing_mm)
    desc = new.aorta.centreline_mm[new.aorta.segment == 2]
    assert len(desc) * new.grid_mm[0] >= 100.0
    assert _aorta_off_mm(new, p.anatomy_labels, "aorta_descending") < 8.0
    assert calcium_in_sac(new) > 0.95
    if not mediastinum:
        old = read_chest(p.hu, p.spacing_mm, root_options=RootOptions.before_session14())
        assert (old.aorta.segment == 2).sum() * old.grid_mm[0] < 60.0 and calcium_in_sac(old) < 0.6


def test_root_lies_under_the_tracked_aorta_and_the_sac_top_does_not_follow_it(patient, anatomy):
    asc = anatomy.aorta.centreline_mm[anatomy.aorta.segment == 0]
    below = RootOptions().below_track_mm
    assert below > 0
    # the annulus straight under the lowest tracked circle (the sinotubular junction)
    assert np.allclose(anatomy.aortic_root_mm, asc[0] - np.array([below, 0.0, 0.0]))
    # the pericardial mask is the one the finder makes with the annulus at the lowest tracked circle: its top stays
    # 15 mm above the tracked aorta. Compared with below_track_mm = 0 alone (session 15, wt23b): before_session9()
    # also drops session 14's seed_by_track / seed_radius_mm, and with MEDIASTINUM_REALISM it seeds this patient's
    # ascending track on a different circle (lowest circle 10 mm higher, sac top +15 mm over the heart's against +5),
    # so it no longer isolates what this test is about; with the realism off both comparisons give the same mask
    old = read_chest(patient.hu, patient.spacing_mm, root_options=replace(RootOptions(), below_track_mm=0.0))
    assert np.array_equal(old.pericardium, anatomy.pericardium)
    assert np.allclose(old.aortic_root_mm, asc[0])
    top_mm = np.nonzero(anatomy.pericardium.any((1, 2)))[0].max() * anatomy.grid_mm[0]
    assert top_mm > anatomy.aortic_root_mm[0] + 15.0 + anatomy.grid_mm[0]


def test_descending_track_cut_where_it_narrows_onto_a_branch():
    r = np.array([4.4] * 10 + [3.2, 3.2, 3.2, 4.4])  # the aorta, then two narrower slices running: a branch
    k = np.arange(len(r), dtype=float)
    t = TubeTrack(k, k * 0, k * 0, r, k * 0 + 50)
    cut = _below_branch(t)
    assert cut.n == 10 and cut.radius_px.min() == 4.4
    one = r.copy()
    one[10] = 3.2; one[11:] = 4.4  # a single narrow slice is noise, not a branch
    assert _below_branch(TubeTrack(k, k * 0, k * 0, one, k * 0 + 50)).n == len(r)


def test_distinct_seeds_keep_the_best_of_each_place():
    seeds = [(90, 10, 20, 20), (85, 11, 20, 21), (60, 10, 40, 20), (55, 30, 20, 20), (50, 10, 41, 20)]
    assert _distinct(seeds, 4.0, 3) == [(90, 10, 20, 20), (60, 10, 40, 20), (55, 30, 20, 20)]


def _run(n_slices: int, top: int = 0, score: float = 50.0) -> TubeTrack:
    """A straight track of n_slices (slices top - n + 1 .. top), every slice with a circle of its own."""
    k = np.arange(top - n_slices + 1, top + 1, dtype=float)
    return TubeTrack(k, k * 0, k * 0, k * 0 + 4, k * 0 + score)


def test_descending_seed_choice_by_track_length():
    """_longest_desc (RootOptions.desc_by_track, split out of find_aorta in session 15 with the whole read_chest result
    unchanged on 8 scans x 4 RootOptions, docs/chest_anatomy.md): the best seed's track stands when it is long; a short
    one gives way to the longest track of a distinct seed of at least half its score."""
    seeds = [(100.0, 10, 0, 0), (80.0, 10, 20, 0), (40.0, 10, 40, 0)]  # 20 px apart: three distinct places
    slice_mm = 2.5
    def follow_with(lengths: dict):
        asked = []
        def follow(k, y, x):
            asked.append(y)
            t = _run(lengths[y])
            return t, _run(1)  # (up, down), the seed's slice shared
        return follow, asked

    long_best = int(DESC_SHORT_MM / slice_mm) + 1
    follow, asked = follow_with({0: long_best, 20: 80, 40: 90})
    (up, _), s = _longest_desc(seeds, follow, 4.0, slice_mm)
    assert up.n == long_best and s == 100.0 and asked == [0]  # long enough: no other seed tracked
    follow, asked = follow_with({0: 12, 20: 40, 40: 90})
    (up, _), s = _longest_desc(seeds, follow, 4.0, slice_mm)
    assert up.n == 40 and s == 80.0 and asked == [0, 20]  # the 40-score seed is under half the best's: not tried
    follow, asked = follow_with({0: 12, 20: 40, 40: 90})
    (up, _), s = _longest_desc(seeds, follow, 4.0, slice_mm, search=False)
    assert up.n == 12 and s == 100.0 and asked == [0]


def test_ascending_seed_choice_by_rise():
    """_highest_asc (RootOptions.seed_by_track): of the 4 best distinct seeds the track that rises highest wins; one
    under ASC_SHORT_MM only where no longer one rises; an empty track never."""
    seeds = [(100.0, 10, 0, 0), (90.0, 10, 20, 0), (80.0, 10, 40, 0), (70.0, 10, 60, 0), (60.0, 10, 80, 0)]
    tracks = {0: _run(20, top=30), 20: _run(20, top=40), 40: _run(5, top=60), 60: _run(0), 80: _run(30, top=90)}
    asc, s = _highest_asc(seeds, lambda s, k, y, x: tracks[y], 4.0, 2.5)
    assert s == 90.0 and asc.k[-1] == 40  # the short arch piece (top 60) and the fifth seed (top 90) lose
    asc, s = _highest_asc(seeds, lambda s, k, y, x: tracks[y], 4.0, 2.5, search=False)
    assert s == 100.0 and asc.k[-1] == 30


def test_descending_track_bridges_the_left_pulmonary_artery_with_desc_up_gap():
    """Seed 11101 patient 10 (256 px, the realistic mediastinum on, anatomy v11; session 16, wt24b): where the left
    pulmonary artery arches against the descending aorta its circle score stays under the track's floor for 4 slices,
    session 15's upward bridge (3 slices) ended the track 30 mm under the arch, and the ascending seed window under
    that top missed the ascending aorta (82 mm off). The shipped RootOptions (desc_up_gap = 5 since session 16) bridge
    it: the descending track reaches higher and the ascending aorta is found (7.6 mm). The first half pins the old
    failure (docs/chest_anatomy.md, "The descending track's bridge going up")."""
    p = make_patient(10, seed=11101, size=256, anatomy=True)
    shipped = read_chest(p.hu, p.spacing_mm, root_options=replace(RootOptions(), desc_up_gap=3))  # (session 15's)
    bridged = read_chest(p.hu, p.spacing_mm)
    assert RootOptions().desc_up_gap == 5
    top = lambda a: a.aorta.centreline_mm[a.aorta.segment == 2][:, 0].max()  # noqa: E731
    assert _aorta_off_mm(shipped, p.anatomy_labels, "aorta_ascending") > 50.0
    assert _aorta_off_mm(bridged, p.anatomy_labels, "aorta_ascending") < 10.0
    assert top(bridged) >= top(shipped) + 20.0
    assert np.linalg.norm(bridged.aortic_root_mm - _mine(p, p.anatomy.aorta_root)) < 25.0
