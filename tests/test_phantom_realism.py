"""Chest realism of session 11 (anatomy.CHEST_REALISM): grown lung vessel trees and rib necks change the background
only; the heart, coronaries, calcium and truth are those of the same patients without them."""

from __future__ import annotations

import numpy as np
import pytest

from cacscore.phantom import anatomy, make_patient
from cacscore.phantom.anatomy import LABEL, chest_grid, lung_contains, rib_necks
from cacscore.phantom.core import _draws
from cacscore.phantom.lungvessels import colonise, splat_fraction, tree_segments
from cacscore.phantom.raster import Grid

SEED = 5
PIDS = (1, 2, 3)
LUNG = (LABEL["lung_right"], LABEL["lung_left"])


@pytest.fixture(scope="module")
def pairs():
    """(without, with) the session-11 realism, the same patients at 96 px with anatomy labels."""
    out = []
    for pid in PIDS:
        anatomy.CHEST_REALISM = False
        try:
            off = make_patient(pid, seed=SEED, size=96, anatomy=True)
        finally:
            anatomy.CHEST_REALISM = True
        out.append((off, make_patient(pid, seed=SEED, size=96, anatomy=True)))
    return out


def test_realism_is_on_by_default_and_leaves_truth_and_labels_alone(pairs):
    assert anatomy.CHEST_REALISM
    for off, on in pairs:
        assert on.anatomy.chest_realism and not off.anatomy.chest_realism
        assert on.truth == off.truth and on.truth_moving == off.truth_moving
        assert np.array_equal(on.labels, off.labels)
        assert np.allclose(on.heart_centre_mm, off.heart_centre_mm)
        # the anatomy labels differ only at the rib necks (rib), the scapular spines (scapula) and the bronchi (airway)
        diff = on.anatomy_labels != off.anatomy_labels
        # (session 12's body realism labels bone-touched voxels >= 130 HU beside the spine vertebra, so a rib neck's
        # partial volume there moves voxels between vertebra and body wall)
        lon, loff = on.anatomy_labels[diff], off.anatomy_labels[diff]
        spine = (lon == LABEL["vertebra"]) | (lon == LABEL["body_wall"]) & (loff == LABEL["vertebra"])
        assert set(np.unique(lon[~spine])) <= {LABEL["rib"], LABEL["scapula"], LABEL["airway"]}
        # the image differs in the lungs (vessels, no texture; partial-volume lung voxels carry their neighbours'
        # labels), the thoracic inlet (its texture field is drawn alone) and at the rib necks and scapular spines
        changed = np.abs(on.hu_static - off.hu_static) > 0.5
        where = off.anatomy_labels[changed]
        assert np.isin(where, LUNG).mean() > 0.6
        other = (LABEL["rib"], LABEL["body_wall"], LABEL["vertebra"], LABEL["scapula"], LABEL["thoracic_inlet"])
        assert np.isin(where, LUNG + other).mean() > 0.95
        # the heart layer covers the background: at most a partial-volume trace shows through at its edge
        heart = np.isin(off.anatomy_labels, (LABEL["heart"], LABEL["coronary_artery"]))
        assert np.abs(on.hu_static - off.hu_static)[heart].max() < 30
        # under the calcium labels (lumen + 3 mm) a lung vessel may pass, but nothing crosses the Agatston threshold
        lab = on.labels > 0
        assert np.array_equal(on.hu_static[lab] >= 130, off.hu_static[lab] >= 130)

def test_lung_vessels_fill_the_lungs_and_stay_below_the_calcium_threshold(pairs):
    for off, on in pairs:
        lung = np.isin(on.anatomy_labels, LUNG)
        assert (on.hu_static[lung] > -400).mean() > 0.01  # vessel cores (the faint texture stays below -600)
        # blood is 40 HU: the vessels add no lung voxel at or above the Agatston threshold in the static image except
        # where a rib's partial volume adds to a vessel at the pleura (bone-touched, so never coronary calcium)
        new = lung & (on.hu_static >= 130) & (off.hu_static < 130)
        assert on.bright[new].all()


def test_trees_taper_from_the_roots_and_grow_in_the_lungs():
    d, _ = _draws(1, SEED, 96)
    a = d.anat
    segs = a.lung_vessels
    assert len(segs) > 1000
    ends = segs[:, 3:6]
    assert lung_contains(a, ends).mean() > 0.7  # the stems from the hila and the left atrium cross the mediastinum
    hila = np.array([t.points[-1] for t in a.pulmonary[1:]])
    near = np.min(np.linalg.norm(ends[:, None] - hila[None], axis=2), axis=1)
    r = segs[:, 6]
    assert np.percentile(r[near < 40], 90) > 2 * np.percentile(r[near > 100], 90)
    assert r.max() < 7.5 and r.min() >= 0.45
    # bronchi beside the thick arteries, each touching its artery, and a stem from each main bronchus
    br = a.bronchi
    assert len(br) > 10 and (br[:-2, 6] >= 0.9 * anatomy.BRONCHUS_MIN_R - 1e-9).all()


def test_bronchi_are_air_in_a_wall_beside_the_hilar_arteries():
    p = make_patient(1, seed=SEED, size=256, anatomy=True)
    a = p.anatomy
    x = p.origin_mm[0] + np.arange(p.hu.shape[2]) * p.spacing_mm[2]
    lateral = np.abs(x - a.cav_c[0]) > 30.0  # beyond the trachea and main bronchi (16 mm out, 7 mm radius)
    air = (p.anatomy_labels == LABEL["airway"]) & lateral[None, None, :]
    assert air.sum() > 50
    assert (p.hu_static[air] < -300).mean() > 0.3  # their lumen is air (the walls share the label)
    assert not (p.labels[air] > 0).any()


def test_colonise_reaches_its_attractors_and_radii_follow_the_leaves():
    rng = np.random.default_rng(0)
    pts = rng.uniform(-40, 40, (300, 3)) + np.array([0, 0, 100.0])
    pos, parent = colonise(np.zeros((1, 3)), pts, step=4.0, kill=6.0)
    assert parent[0] == -1 and (parent[1:] < np.arange(1, len(parent))).all()  # parents precede children
    assert np.min(np.linalg.norm(pts[:, None] - pos[None], axis=2), axis=1).max() < 20  # every attractor reached
    segs = tree_segments(pos, parent, r_leaf=0.6, exponent=1 / 3)
    assert np.isclose(segs[:, 6].min(), 0.6) and segs[0, 6] == segs[:, 6].max()


def test_splat_conserves_the_volume_of_a_thin_segment():
    g = Grid(x_mm=np.arange(64) * 0.7, y_mm=np.arange(64) * 0.7, z_edges_mm=np.arange(13) * 2.5)
    seg = np.array([[8.0, 10.0, 6.0, 36.0, 30.0, 24.0, 0.6]])
    idx, frac = splat_fraction(g, seg)
    vol = frac.sum() * 0.7 * 0.7 * 2.5
    assert np.isclose(vol, np.pi * 0.36 * np.linalg.norm(seg[0, 3:6] - seg[0, :3]), rtol=0.01)
    assert frac.max() <= 1.0 and len(np.unique(idx)) == len(idx)


def test_rib_necks_join_the_ribs_to_the_spine():
    p = make_patient(2, seed=SEED, size=128, anatomy=True)
    a = p.anatomy
    necks = rib_necks(a)
    assert necks.shape == (48, 7)
    heads = necks[0::2, :3]
    assert np.allclose(np.abs(heads[:, 0] - a.spine_c[0]), 1.02 * a.spine_r)
    # rib-labelled, bright voxels beside the vertebral body (before: the ribs ended in the paraspinal muscle)
    g = chest_grid(a, 128)
    xx = g.x_mm[None, :] - a.spine_c[0]
    yy = g.y_mm[:, None] - a.spine_c[1]
    beside = (np.abs(xx) < 1.4 * a.spine_r + 4) & (np.abs(yy) < 1.2 * a.spine_r + 10)
    rib = p.anatomy_labels == LABEL["rib"]
    assert rib[:, beside].sum() > 20
    assert p.bright[rib].mean() > 0.95
    assert not (p.labels[rib] > 0).any()
