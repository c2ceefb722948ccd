"""The ring veto's soft-ring HU condition (session 19, wt27a; ClassifierConfig.structure_ring_veto_hu,
cacscore.lesion.context.ring_soft_hu): mitral annulus calcium sits in myocardium (the soft ring round it ~ 44 HU on
the phantom), a coronary plaque in a wide lumen in blood with its fat sheath round it (lower); with the switch the
ring veto clears only the first."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from ring_veto_fixtures import first_called_structure, scored_phantom, soft_ring_inputs

from cacscore import lesion as L
from cacscore.lesion.anatomy import ANATOMY_NAMES
from cacscore.lesion.classifier import ring_hu_column
from cacscore.lesion.context import ring_soft_hu
from cacscore.lesion.tree import soft_veto_structure


def _slice_with_two_lumps(sp=(5.0, 0.5, 0.5)):
    """(hu, ids): one 120 x 240 slice (0.5 mm pixels); left, a 600 HU lump (radius 2 mm) in 44 HU myocardium
    (MAC-like); right, the same lump in a 32 HU lumen of radius 3 mm inside a 3 mm fat sheath (-100 HU), the rest
    44 HU (a plaque in a coronary lumen with its fat sheath)."""
    hu = np.full((1, 120, 240), 44.0, np.float32)
    yy, xx = np.mgrid[0:120, 0:240]
    r_left = np.hypot((yy - 60) * sp[1], (xx - 60) * sp[2])
    r_right = np.hypot((yy - 60) * sp[1], (xx - 180) * sp[2])
    hu[0][r_right <= 6.0] = -100.0
    hu[0][r_right <= 3.0] = 32.0
    ids = np.zeros(hu.shape, np.int32)
    for k, r in ((1, r_left), (2, r_right)):
        hu[0][r <= 2.0] = 600.0
        ids[0][r <= 2.0] = k
    return hu, ids, sp


def test_ring_soft_hu_reads_myocardium_above_a_lumen_in_fat():
    hu, ids, sp = _slice_with_two_lumps()
    v = ring_soft_hu(hu, ids, sp, np.array([True, True]))
    assert v[0] > 40.0  # myocardium (44) with some of the smoothed lump's edge
    assert v[1] < 25.0  # lumen blood 32 and the fat sheath blurred into the ring (fat pixels themselves left out)
    assert v[0] - v[1] > 25.0
    # only the selected candidates get a value; noise-free and noisy agree within a few HU (the smoothing)
    w = ring_soft_hu(hu, ids, sp, np.array([False, True]))
    assert np.isnan(w[0]) and w[1] == pytest.approx(v[1])
    noisy = hu + np.random.default_rng(0).normal(0, 40, hu.shape).astype(np.float32)
    noisy[ids > 0] = 600.0
    vn = ring_soft_hu(noisy, ids, sp, np.array([True, True]))
    assert vn[0] > 35.0 and vn[1] < 25.0
    assert np.isnan(ring_soft_hu(hu, ids, sp, np.array([False, False]))).all()


def test_soft_veto_with_ring_hu_spares_the_lumen_plaque():
    # structures 1 and 2 both soft-wrapped (0.8) and 40 mm above the diaphragm: 1 in myocardium (33 HU), 2 in a
    # lumen (8 HU); 3: myocardium-like HU but in fat (ring_soft 0.3): kept as before; 4: ring_hu nan -> left alone
    classes = np.array([3, 3, 3, 4, 3, 3])
    structure = np.array([1, 1, 2, 2, 3, 4])
    ring = np.array([0.8, 0.9, 0.8, 0.8, 0.3, 0.9])
    dia = np.full(6, 40.0)
    au = np.array([100.0, 50.0, 120.0, 20.0, 80.0, 60.0])
    rh = np.array([34.0, 31.0, 8.0, 12.0, 40.0, np.nan])
    np.testing.assert_array_equal(soft_veto_structure(classes, structure, ring, dia, au, 0.65, 20.0),
                                  [0, 0, 0, 0, 3, 0])  # without: structure 2's plaque goes too
    np.testing.assert_array_equal(soft_veto_structure(classes, structure, ring, dia, au, 0.65, 20.0, ring_hu=rh,
                                                      min_ring_hu=25.0), [0, 0, 3, 4, 3, 3])
    # Agatston-weighted: structure 2 with a heavy myocardium-like member goes
    rh2 = rh.copy()
    rh2[3] = 60.0
    heavy = au.copy()
    heavy[3] = 1000.0
    assert (soft_veto_structure(classes, structure, ring, dia, heavy, 0.65, 20.0, ring_hu=rh2,
                                min_ring_hu=25.0)[2:4] == 0).all()
    with pytest.raises(ValueError, match="together"):
        soft_veto_structure(classes, structure, ring, dia, au, 0.65, 20.0, ring_hu=rh)
    with pytest.raises(ValueError, match="disagree"):
        soft_veto_structure(classes, structure, ring, dia, au, 0.65, 20.0, ring_hu=rh[:3], min_ring_hu=25.0)


def test_ring_veto_hu_is_opt_in_validated_and_round_trips(tmp_path):
    assert L.ClassifierConfig().structure_ring_veto_hu is None
    cfg = L.ClassifierConfig.from_dict({**dataclasses.asdict(L.ClassifierConfig()), "structure_ring_veto": [0.65, 25],
                                        "structure_ring_veto_hu": 25})
    assert cfg.structure_ring_veto_hu == 25.0
    with pytest.raises(ValueError, match="structure_ring_veto_hu"):
        L.ClassifierConfig(structure_ring_veto_hu=25.0)  # without the ring veto it would do nothing
    with pytest.raises(ValueError, match="structure_ring_veto_hu"):
        L.ClassifierConfig(structure_ring_veto=(0.65, 20.0), structure_ring_veto_hu=np.nan)
    model = L.load_model(Path(__file__).parent / "data" / "lesion_model_phantom300")
    assert model.config.structure_ring_veto_hu is None
    on = dataclasses.replace(model, config=dataclasses.replace(model.config, structure_ring_veto=(0.65, 25.0),
                                                              structure_ring_veto_hu=25.0))
    L.save_model(on, tmp_path / "m")
    assert L.load_model(tmp_path / "m").config.structure_ring_veto_hu == 25.0
    assert json.loads((tmp_path / "m" / "model.json").read_text())["config"]["structure_ring_veto_hu"] == 25.0


@pytest.fixture(scope="module")
def scored():
    return scored_phantom()  # anatomy v3, calcified in 3-4 vessels


def test_classify_reads_ring_hu_and_classify_volume_computes_it(scored):
    """Through LesionModel.classify: the structure set MAC-like (soft ring, high) loses its calls with a myocardium
    ring HU and keeps them with a lumen one; without ring_hu it refuses; classify_volume computes the column."""
    p, model, cand, classes = scored
    inside = first_called_structure(cand, classes)
    f, a = soft_ring_inputs(cand, inside, 0.9)
    a[:, ANATOMY_NAMES.index("above_diaphragm_mm")] = 40.0
    on = dataclasses.replace(model, config=dataclasses.replace(model.config, structure_ring_veto=(0.65, 20.0),
                                                              structure_ring_veto_hu=25.0))
    args = (f, cand.outside_thorax_mm, a, cand.structure, cand.agatston)
    base = model.classify(*args)
    assert (base[inside] > 0).any()
    got = on.classify(*args, ring_hu=np.full(cand.n, 40.0))
    assert (got[inside] == 0).all()
    np.testing.assert_array_equal(got[~inside], base[~inside])
    np.testing.assert_array_equal(on.classify(*args, ring_hu=np.full(cand.n, 10.0)), base)
    with pytest.raises(L.LesionError, match="ring_hu"):
        on.classify(*args)
    assert ring_hu_column(p.hu, cand, model) is None  # off: nothing computed
    col = ring_hu_column(p.hu, cand, on)
    assert col.shape == (cand.n,) and np.isfinite(col[classes > 0]).any()
    _, c_on = L.classify_volume(p.hu, p.spacing_mm, on)  # the product's path runs with it on
    assert c_on.shape == classes.shape
