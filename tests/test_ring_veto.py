"""The soft-tissue structure veto (session 17, wt25a; ClassifierConfig.structure_ring_veto,
cacscore.lesion.tree.soft_veto_structure): a 3-D structure whose coronary calls are, Agatston-weighted, wrapped in soft
tissue and lie above the diaphragmatic surface (mitral annulus calcium) loses them; a plaque in fat, or a soft-wrapped
plaque on the inferior wall (RCA / PDA against the diaphragm), keeps them."""

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


def test_soft_veto_clears_a_soft_wrapped_structure_above_the_diaphragm_only():
    # structure 1: MAC-like, three LCX slices, soft all round, 30-40 mm above the diaphragm -> all go
    # structure 2: an LCX plaque in fat (ring_soft 0.2-0.3) at the same height -> kept
    # structure 3: an RCA plaque on the inferior wall, soft all round but 5 mm above the diaphragm -> kept
    # structure 4: Agatston-weighted: a heavy fat-wrapped slice (200 AU, 0.2) and a light soft one (10 AU, 0.95):
    #   mean 0.236 -> kept; counted once each it would be 0.575 (still kept at 0.65), so the weights matter below
    # structure 5: a non-coronary member (class 0) with a soft ring does not count; its coronary member is in fat
    classes = np.array([3, 3, 3, 3, 3, 4, 2, 2, 0, 2])
    structure = np.array([1, 1, 1, 2, 2, 3, 4, 4, 5, 5])
    ring = np.array([0.9, 0.7, 0.8, 0.2, 0.3, 1.0, 0.2, 0.95, 1.0, 0.1])
    dia = np.array([30.0, 35.0, 40.0, 30.0, 35.0, 5.0, 50.0, 50.0, 50.0, 50.0])
    au = np.array([100.0, 200.0, 50.0, 80.0, 40.0, 60.0, 200.0, 10.0, 500.0, 30.0])
    out = soft_veto_structure(classes, structure, ring, dia, au, 0.65, 20.0)
    np.testing.assert_array_equal(out, [0, 0, 0, 3, 3, 4, 2, 2, 0, 2])
    np.testing.assert_array_equal(classes, [3, 3, 3, 3, 3, 4, 2, 2, 0, 2])  # the input is not changed
    # weighted, structure 4 is fat-wrapped; with its light soft slice made heavy it goes
    heavy = au.copy()
    heavy[7] = 2000.0
    np.testing.assert_array_equal(soft_veto_structure(classes, structure, ring, dia, heavy, 0.65, 20.0)[6:8], [0, 0])
    # the diaphragm condition: at a 0 mm limit the inferior-wall RCA goes too
    assert soft_veto_structure(classes, structure, ring, dia, au, 0.65, 0.0)[5] == 0
    # nan: a member without a value does not count; a structure with none is left alone
    d2 = dia.copy()
    d2[0] = np.nan
    np.testing.assert_array_equal(soft_veto_structure(classes, structure, ring, d2, au, 0.65, 20.0)[:3], [0, 0, 0])
    d2[:3] = np.nan
    np.testing.assert_array_equal(soft_veto_structure(classes, structure, ring, d2, au, 0.65, 20.0)[:3], [3, 3, 3])
    # all weights 0: each member once (structure 4: mean 0.575 -> kept)
    np.testing.assert_array_equal(soft_veto_structure(classes, structure, ring, dia, np.zeros(10), 0.65, 20.0),
                                  [0, 0, 0, 3, 3, 4, 2, 2, 0, 2])
    assert soft_veto_structure(np.zeros(0, int), np.zeros(0, int), np.zeros(0), np.zeros(0), np.zeros(0),
                               0.65, 20.0).shape == (0,)
    with pytest.raises(ValueError, match="disagree"):
        soft_veto_structure(classes, structure, ring[:3], dia, au, 0.65, 20.0)
    with pytest.raises(ValueError):
        soft_veto_structure(classes, structure, ring, dia, -au, 0.65, 20.0)


def test_ring_veto_is_opt_in_validated_and_round_trips(tmp_path):
    assert L.ClassifierConfig().structure_ring_veto is None
    cfg = L.ClassifierConfig.from_dict({**dataclasses.asdict(L.ClassifierConfig()), "structure_ring_veto": [0.65, 20]})
    assert cfg.structure_ring_veto == (0.65, 20.0)
    with pytest.raises(ValueError, match="structure_ring_veto"):
        L.ClassifierConfig(structure_ring_veto=(0.65,))
    with pytest.raises(ValueError, match="structure_ring_veto"):
        L.ClassifierConfig(structure_ring_veto=(np.nan, 20.0))
    model = L.load_model(Path(__file__).parent / "data" / "lesion_model_phantom300")
    assert model.config.structure_ring_veto is None  # saved before the field: off
    L.save_model(dataclasses.replace(model, config=dataclasses.replace(model.config, structure_ring_veto=(0.7, 15.0))),
                 tmp_path / "m")
    assert L.load_model(tmp_path / "m").config.structure_ring_veto == (0.7, 15.0)
    assert json.loads((tmp_path / "m" / "model.json").read_text())["config"]["structure_ring_veto"] == [0.7, 15.0]


@pytest.fixture(scope="module")
def scored():
    return scored_phantom()  # anatomy v3, calcified in 3-4 vessels


def test_classify_applies_the_ring_veto_to_whole_structures(scored):
    """Through LesionModel.classify: with the switch off nothing changes; on, the structure whose ring_soft and height
    above the diaphragm are set MAC-like loses every coronary call, every other candidate keeps its class; the same
    structure set just above the diaphragm keeps them; without the anatomy columns it refuses."""
    _, model, cand, classes = scored
    assert (classes > 0).any()
    inside = first_called_structure(cand, classes)
    f, a = soft_ring_inputs(cand, inside, 0.9)
    dia = ANATOMY_NAMES.index("above_diaphragm_mm")
    a[:, dia] = 40.0
    on = dataclasses.replace(model, config=dataclasses.replace(model.config, structure_ring_veto=(0.65, 20.0)))
    base = model.classify(f, cand.outside_thorax_mm, a, cand.structure, cand.agatston)
    got = on.classify(f, cand.outside_thorax_mm, a, cand.structure, cand.agatston)
    assert (base[inside] > 0).any()
    assert (got[inside] == 0).all()
    np.testing.assert_array_equal(got[~inside], base[~inside])
    a[:, dia] = 10.0  # on the inferior wall: kept
    np.testing.assert_array_equal(on.classify(f, cand.outside_thorax_mm, a, cand.structure, cand.agatston),
                                  model.classify(f, cand.outside_thorax_mm, a, cand.structure, cand.agatston))
    with pytest.raises(L.LesionError, match="structure_ring_veto"):
        on.classify(f, cand.outside_thorax_mm, None, cand.structure, cand.agatston)
