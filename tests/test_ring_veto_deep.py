"""The ring veto's deep tier (session 20, wt28a; ClassifierConfig.structure_ring_veto_deep, opt-in): a structure deep
inside the pericardial mask (mitral annulus calcium on the annulus, with some AV-groove fat in its ring) counts as
soft-wrapped at a lower ring_soft; the height and ring-HU conditions stay. docs/lesion_scorer.md "(session 20, wt28a)"."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from ring_veto_fixtures import first_called_structure, scored_phantom, soft_ring_inputs

from cacscore import lesion as L
from cacscore.lesion.anatomy import ANATOMY_NAMES
from cacscore.lesion.tree import soft_veto_structure


def test_deep_tier_lowers_the_ring_limit_only_for_deep_structures():
    # all 40 mm above the diaphragm, ring HU 33 (myocardium) unless said. 1: ring 0.60, 13 mm deep (14501 p22-like
    # MAC) -> vetoed with the tier only; 2: ring 0.60 but 3 mm deep (in the groove fat) -> kept; 3: ring 0.40, deep ->
    # kept (under the tier's limit); 4: ring 0.60, deep, lumen HU 10 -> kept (the HU condition stays); 5: deep, ring
    # 0.60 but 10 mm above the diaphragm -> kept (the height condition stays); 6: depth nan -> tier does not fire
    classes = np.array([3, 3, 3, 3, 3, 4, 4, 3])
    structure = np.array([1, 1, 2, 3, 4, 5, 6, 6])
    ring = np.array([0.62, 0.58, 0.60, 0.40, 0.60, 0.60, 0.60, 0.60])
    depth = np.array([-13.0, -12.0, -3.0, -15.0, -15.0, -15.0, np.nan, np.nan])
    dia = np.array([40.0, 40.0, 40.0, 40.0, 40.0, 10.0, 40.0, 40.0])
    rh = np.array([33.0, 33.0, 33.0, 33.0, 10.0, 33.0, 33.0, 33.0])
    au = np.array([100.0, 50.0, 80.0, 60.0, 70.0, 90.0, 30.0, 30.0])
    kw = dict(ring_hu=rh, min_ring_hu=29.0)
    base = soft_veto_structure(classes, structure, ring, dia, au, 0.65, 25.0, **kw)
    np.testing.assert_array_equal(base, classes)  # the shipped limits leave all of them called
    got = soft_veto_structure(classes, structure, ring, dia, au, 0.65, 25.0, depth_mm=depth, deep=(0.5, -9.0), **kw)
    np.testing.assert_array_equal(got, [0, 0, 3, 3, 3, 4, 4, 3])
    # Agatston-weighted depth: structure 1 with a heavy shallow member is no longer deep
    d2 = depth.copy()
    d2[1] = 0.0
    heavy = au.copy()
    heavy[1] = 1000.0
    assert (soft_veto_structure(classes, structure, ring, dia, heavy, 0.65, 25.0, depth_mm=d2, deep=(0.5, -9.0),
                                **kw)[:2] > 0).all()
    with pytest.raises(ValueError, match="together"):
        soft_veto_structure(classes, structure, ring, dia, au, 0.65, 25.0, depth_mm=depth, **kw)
    with pytest.raises(ValueError, match="disagree"):
        soft_veto_structure(classes, structure, ring, dia, au, 0.65, 25.0, depth_mm=depth[:3], deep=(0.5, -9.0), **kw)


def test_ring_veto_deep_is_opt_in_validated_and_round_trips(tmp_path):
    assert L.ClassifierConfig().structure_ring_veto_deep is None
    cfg = L.ClassifierConfig.from_dict({**dataclasses.asdict(L.ClassifierConfig()), "structure_ring_veto": [0.65, 25],
                                        "structure_ring_veto_deep": [0.5, -9]})
    assert cfg.structure_ring_veto_deep == (0.5, -9.0)
    with pytest.raises(ValueError, match="structure_ring_veto_deep"):
        L.ClassifierConfig(structure_ring_veto_deep=(0.5, -9.0))  # without the ring veto it would do nothing
    with pytest.raises(ValueError, match="structure_ring_veto_deep"):
        L.ClassifierConfig(structure_ring_veto=(0.65, 25.0), structure_ring_veto_deep=(0.5,))
    model = L.load_model(Path(__file__).parent / "data" / "lesion_model_phantom300")
    on = dataclasses.replace(model, config=dataclasses.replace(model.config, structure_ring_veto=(0.65, 25.0),
                                                              structure_ring_veto_deep=(0.5, -9.0)))
    L.save_model(on, tmp_path / "m")
    assert L.load_model(tmp_path / "m").config.structure_ring_veto_deep == (0.5, -9.0)
    assert json.loads((tmp_path / "m" / "model.json").read_text())["config"]["structure_ring_veto_deep"] == [0.5, -9.0]
    shipped = json.loads((Path(L.__file__).parents[1] / "predict" / "default_model" / "model.json").read_text())
    assert shipped["config"]["structure_ring_veto_deep"] == [0.5, -9.0]  # on in the shipped model since session 20


def test_classify_applies_the_deep_tier(tmp_path):
    """Through LesionModel.classify and classify_volume on a 128 px phantom: a structure with ring_soft 0.6 keeps its
    calls under the ring veto alone, loses them with the deep tier when 12 mm deep, keeps them when shallow."""
    p, model, cand, classes = scored_phantom()
    inside = first_called_structure(cand, classes)
    f, a = soft_ring_inputs(cand, inside, 0.6)
    a[:, ANATOMY_NAMES.index("above_diaphragm_mm")] = 40.0
    a[:, ANATOMY_NAMES.index("pericardium_mm")] = -12.0
    ring = dataclasses.replace(model.config, structure_ring_veto=(0.65, 25.0), structure_ring_veto_hu=29.0)
    off = dataclasses.replace(model, config=ring)
    on = dataclasses.replace(model, config=dataclasses.replace(ring, structure_ring_veto_deep=(0.5, -9.0)))
    args = (f, cand.outside_thorax_mm, a, cand.structure, cand.agatston)
    hu = np.full(cand.n, 33.0)
    base = off.classify(*args, ring_hu=hu)
    assert (base[inside] > 0).any()
    got = on.classify(*args, ring_hu=hu)
    assert (got[inside] == 0).all()
    np.testing.assert_array_equal(got[~inside], base[~inside])
    a[:, ANATOMY_NAMES.index("pericardium_mm")] = -3.0  # shallow: in the groove, not on the annulus
    np.testing.assert_array_equal(on.classify(f, cand.outside_thorax_mm, a, cand.structure, cand.agatston, ring_hu=hu),
                                  base)
    _, c_on = L.classify_volume(p.hu, p.spacing_mm, on)  # the product's path runs with it on
    assert c_on.shape == classes.shape
