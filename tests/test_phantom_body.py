"""Body realism of session 12 (anatomy.BODY_REALISM): muscle bellies and fat planes in the body wall, vertebral parts,
lung fissures. They change the background only; the heart, coronaries, calcium and truth are those of the same
patients without them, and every new voxel at or above the Agatston threshold is labelled bone."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from cacscore.phantom import anatomy, make_patient
from cacscore.phantom.anatomy import (
    LABEL,
    _body_wall,
    _wall_thicknesses,
    chest_grid,
    render_background,
)
from cacscore.phantom.chestwall import capsule_footprint, sheet_band
from cacscore.phantom.core import _draws

SEED = 5
PIDS = (1, 2, 3)
LUNG = (LABEL["lung_right"], LABEL["lung_left"])
BONE = (LABEL["vertebra"], LABEL["rib"], LABEL["sternum"], LABEL["scapula"], LABEL["clavicle"], LABEL["humerus"])


def _with(realism: bool, fn):
    keep = anatomy.BODY_REALISM
    anatomy.BODY_REALISM = realism
    try:
        return fn()
    finally:
        anatomy.BODY_REALISM = keep


@pytest.fixture(scope="module")
def pairs():
    """(without, with) the body realism, the same patients at 96 px with anatomy labels."""
    def one(pid: int, r: bool):
        return _with(r, lambda: make_patient(pid, seed=SEED, size=96, anatomy=True))

    return [(one(pid, False), one(pid, True)) for pid in PIDS]


@pytest.fixture(scope="module")
def backgrounds():
    """Noise-free backgrounds (hu, bright, labels) of patient 2 at 128 px without and with the body realism."""
    out = []
    for r in (False, True):
        d, _ = _with(r, lambda: _draws(2, SEED, 128))
        out.append((d.anat, *render_background(d.anat, chest_grid(d.anat, 128), kvp=d.kvp, anatomy_labels=True)))
    return out


def test_body_realism_is_on_by_default_and_leaves_truth_and_labels_alone(pairs):
    assert anatomy.BODY_REALISM
    for off, on in pairs:
        assert on.anatomy.body is not None and off.anatomy.body is None
        assert on.truth == off.truth and on.truth_moving == off.truth_moving
        assert np.array_equal(on.labels, off.labels)
        assert np.allclose(on.heart_centre_mm, off.heart_centre_mm)
        diff = on.anatomy_labels != off.anatomy_labels
        assert diff.any()
        # only the spine's voxels (vertebra on one side or the other) and the breasts' outline change label; the
        # fissures keep the lung's
        lon, loff = on.anatomy_labels[diff], off.anatomy_labels[diff]
        wall = (LABEL["body_wall"], LABEL["breast"], LABEL["outside"])
        assert (np.isin(lon, wall) & np.isin(loff, wall) | (lon == LABEL["vertebra"]) | (loff == LABEL["vertebra"])).all()
        heart = np.isin(off.anatomy_labels, (LABEL["heart"], LABEL["coronary_artery"]))
        assert np.abs(on.hu_static - off.hu_static)[heart].max() < 30
        lab = on.labels > 0
        assert np.array_equal(on.hu_static[lab] >= 130, off.hu_static[lab] >= 130)


def test_new_bright_voxels_are_labelled_bone(backgrounds):
    (a, hu0, _, _), (_, hu1, br1, lab1) = backgrounds
    new = (hu1 >= 130) & (hu0 < 130)
    assert new.any() and br1[new].all()  # the pedicles, laminae and processes: bone-touched
    g = chest_grid(a, 128)
    near = ((np.abs(g.x_mm - a.spine_c[0]) < 45)[None, None, :]
            & ((g.y_mm > a.spine_c[1] - a.spine_r - 2) & (g.y_mm < a.spine_c[1] + a.spine_r + 55))[None, :, None])
    assert np.isin(lab1[new & near], BONE).all()  # round the spine, the new bone is labelled bone
    # elsewhere only the partial-volume edge of an existing bone over a different wall tissue (muscle where there was
    # fat) crosses the threshold: every such voxel lies within two voxels of one labelled bone, or was bone-bright
    # (> 100 HU) before
    bone = ndimage.binary_dilation(np.isin(lab1, BONE + (LABEL["costal_cartilage"],)), structure=np.ones((1, 5, 5), bool))
    far = new & ~near
    assert (bone[far] | (hu0[far] > 100)).all() and far.sum() < 0.05 * new.sum() + 10
    # nothing in the body wall's soft tissue (fat septa, muscle texture) reaches the threshold
    wall = lab1 == LABEL["body_wall"]
    assert (hu1[wall & ~br1] < 130).all()


def test_body_wall_has_muscle_bellies_with_fat_between_them():
    a = _with(True, lambda: _draws(1, 0, 128))[0].anat  # a patient with a thick wall (patient 2 of seed 5 is lean)
    g = chest_grid(a, 256)
    img, _ = _body_wall(a, g.x_mm, g.y_mm, g.px_mm)
    psi = np.linspace(-np.pi, np.pi, 1441)
    r_out = anatomy._polar_outline(a, psi)
    fat, sup, _ = _wall_thicknesses(a, psi, r_out - 40.0)
    assert fat.max() > 1.5 * fat.min()  # the subcutaneous fat varies round the body (thin over the sternum)
    ant = np.abs(psi) < 2.0
    assert sup[ant].max() > 5.0 and sup[ant].min() < 0.5  # bellies that taper to nothing (the axilla, the sternum)
    # along rays through the anterior-lateral wall: fat, muscle, fat, muscle (not one ring of each)
    bx, by = a.body_c
    n_alt = []
    for ang in np.linspace(0.3, 1.6, 8):
        r = np.arange(0.0, 260.0, g.px_mm / 2)
        xs, ys = bx + r * np.sin(ang), by - r * np.cos(ang)
        ix = np.clip(np.rint((xs - g.x_mm[0]) / g.px_mm).astype(int), 0, len(g.x_mm) - 1)
        iy = np.clip(np.rint((ys - g.y_mm[0]) / g.px_mm).astype(int), 0, len(g.y_mm) - 1)
        v = img[iy, ix]
        cls = np.where(v < -60, 0, np.where(v > 20, 1, -1))
        cls = cls[cls >= 0]
        n_alt.append(int((np.diff(cls) != 0).sum()))
    assert max(n_alt) >= 4


def test_vertebrae_have_posterior_parts_and_a_mottled_body(backgrounds):
    a, _, _, lab = backgrounds[1]
    g = chest_grid(a, 128)
    sx, sy, sr = a.spine_c[0], a.spine_c[1], a.spine_r
    cyc = sy + sr + 8.0

    def at(x, y):
        return round((y - g.y_mm[0]) / g.px_mm), round((x - g.x_mm[0]) / g.px_mm)

    vert = lab == LABEL["vertebra"]
    for x, y in ((sx - 22, cyc + 5.5), (sx + 22, cyc + 5.5), (sx, cyc + 28)):  # transverse and spinous processes
        assert vert[:, at(x, y)[0], at(x, y)[1]].any()
    assert not vert[:, at(sx, cyc)[0], at(sx, cyc)[1]].any()  # the canal
    d2, _ = _draws(2, SEED, 256)
    g2 = chest_grid(d2.anat, 256)
    hu2, _, _ = render_background(d2.anat, g2, kvp=d2.kvp)
    iy = np.abs(g2.y_mm - sy) < 0.5 * sr
    ix = np.abs(g2.x_mm - sx) < 0.5 * sr
    core = hu2[:, iy][:, :, ix].reshape(len(hu2), -1)
    body = core.mean(axis=1) > 120  # slabs through a vertebral body, not a disc
    assert body.sum() >= 3
    assert np.median(core[body].std(axis=1)) > 15  # cancellous bone is mottled, not flat


def test_fissures_are_faint_sheets_in_the_lungs(backgrounds):
    (_, hu0, _, lab0), (_, hu1, _, lab1) = backgrounds
    lung = np.isin(lab0, LUNG) & np.isin(lab1, LUNG) & (hu0 < -850)
    d = (hu1 - hu0)[lung]
    assert (d > 20).sum() > 30  # the fissures cross the lungs
    assert d.max() < 400 and (hu1[lung] < -400).all()  # faint: a fraction of a millimetre of pleura per voxel


def test_sheet_band_conserves_the_sheet():
    rng = np.random.default_rng(0)
    c, w = rng.uniform(10, 30, 50), rng.uniform(0, 8, 50)
    tau = rng.uniform(0.2, 0.8, 50)
    _, frac = sheet_band(c, w, 0.0, 0.7, 64, tau)
    assert np.allclose(frac.sum(axis=1) * 0.7, tau, rtol=1e-4)
    assert frac.max() <= 0.8 / 0.7 + 1e-6


def test_capsule_footprint_area():
    xs = ys = np.arange(-20, 20, 0.25)
    f = capsule_footprint(xs, ys, (-5.0, 0.0), (5.0, 0.0), 3.0, 0.25)
    assert np.isclose(f.sum() * 0.0625, 10 * 6 + np.pi * 9, rtol=0.01)


def test_body_realism_is_deterministic_per_seed():
    d1, _ = _draws(4, SEED, 64)
    d2, _ = _draws(4, SEED, 64)
    assert d1.anat.body == d2.anat.body
    g = chest_grid(d1.anat, 64)
    a = render_background(d1.anat, g, kvp=120.0, anatomy_labels=True)
    b = render_background(d2.anat, g, kvp=120.0, anatomy_labels=True)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert _draws(5, SEED, 64)[0].anat.body != d1.anat.body  # each patient draws its own
