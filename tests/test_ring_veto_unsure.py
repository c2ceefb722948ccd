"""The ring veto's sure-structure term (session 24, wt32b; ClassifierConfig.structure_ring_veto_unsure, opt-in): with
the true diaphragm (chest_sac "s23") true RCA / PDA on the posterior heart read over the 25 mm height limit; the veto
then fires only on structures the MLP is not sure of (MAC). docs/lesion_scorer.md "(session 24, wt32b)"."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from ring_veto_fixtures import scored_structure, soft_ring_inputs

from cacscore import lesion as L
from cacscore.lesion.anatomy import ANATOMY_NAMES
from cacscore.lesion.tree import soft_veto_structure


def test_sure_structures_keep_their_calls():
    # all soft-wrapped (ring 0.80), 38 mm above the diaphragm, ring HU 39. 1: p_non 0.3 / 0.4 (MAC-like) -> vetoed;
    # 2: p_non 1e-5 (14524 p18-like true RCA) -> kept with the term; 3: one heavy sure member outweighs a light unsure
    # one (Agatston-weighted) -> kept; 4: p_non nan -> kept (no finite value)
    classes = np.array([3, 3, 4, 4, 4, 4])
    structure = np.array([1, 1, 2, 3, 3, 4])
    ring = np.full(6, 0.80)
    dia = np.full(6, 38.0)
    rh = np.full(6, 39.0)
    p_non = np.array([0.3, 0.4, 1e-5, 1e-4, 0.5, np.nan])
    au = np.array([100.0, 50.0, 565.0, 500.0, 5.0, 30.0])
    kw = dict(ring_hu=rh, min_ring_hu=29.0)
    np.testing.assert_array_equal(soft_veto_structure(classes, structure, ring, dia, au, 0.65, 25.0, **kw),
                                  np.zeros(6))
    got = soft_veto_structure(classes, structure, ring, dia, au, 0.65, 25.0, p_non=p_non, min_p_non=0.01, **kw)
    np.testing.assert_array_equal(got, [0, 0, 4, 4, 4, 4])
    # the other conditions stay: an unsure structure under the height limit keeps its calls
    low = soft_veto_structure(classes, structure, ring, np.full(6, 10.0), au, 0.65, 25.0, p_non=p_non, min_p_non=0.01,
                              **kw)
    np.testing.assert_array_equal(low, classes)
    with pytest.raises(ValueError, match="together"):
        soft_veto_structure(classes, structure, ring, dia, au, 0.65, 25.0, p_non=p_non, **kw)
    with pytest.raises(ValueError, match="disagree"):
        soft_veto_structure(classes, structure, ring, dia, au, 0.65, 25.0, p_non=p_non[:2], min_p_non=0.01, **kw)


def test_switch_is_opt_in_validated_and_round_trips(tmp_path):
    assert L.ClassifierConfig().structure_ring_veto_unsure is None
    with pytest.raises(ValueError, match="structure_ring_veto_unsure"):
        L.ClassifierConfig(structure_ring_veto_unsure=0.01)  # without the ring veto it would do nothing
    with pytest.raises(ValueError, match="structure_ring_veto_unsure"):
        L.ClassifierConfig(structure_ring_veto=(0.65, 25.0), structure_ring_veto_unsure=float("nan"))
    model = L.load_model(Path(__file__).parent / "data" / "lesion_model_phantom300")
    on = dataclasses.replace(model, config=dataclasses.replace(
        model.config, structure_ring_veto=(0.65, 25.0), structure_ring_veto_unsure=0.01))
    L.save_model(on, tmp_path / "m")
    assert L.load_model(tmp_path / "m").config.structure_ring_veto_unsure == 0.01
    assert json.loads((tmp_path / "m" / "model.json").read_text())["config"]["structure_ring_veto_unsure"] == 0.01


def test_classify_spares_only_what_the_mlp_is_sure_of():
    """Through LesionModel.classify on a 128 px phantom's candidates: one structure made soft-wrapped and high loses its
    calls with the veto; with the term at a limit over its weighted p_non it keeps them, under it it loses them again;
    nothing else changes."""
    model, cand, inside = scored_structure()
    f, a = soft_ring_inputs(cand, inside, 0.80)
    a[:, ANATOMY_NAMES.index("above_diaphragm_mm")] = 38.0
    ring = dataclasses.replace(model.config, structure_ring_veto=(0.65, 25.0))
    args = (f, cand.outside_thorax_mm, a, cand.structure, cand.agatston)
    off = dataclasses.replace(model, config=ring).classify(*args)
    assert (off[inside] == 0).all()
    proba = model.predict_proba(model.table(f, a), where=model.may_be_coronary(model.table(f, a),
                                                                                cand.outside_thorax_mm, a))
    called = inside & (dataclasses.replace(model, config=dataclasses.replace(ring, structure_ring_veto=None))
                       .classify(*args) > 0)
    w = np.asarray(cand.agatston, float)[called]
    p_non = float((w * proba[called, 0]).sum() / w.sum()) if w.sum() > 0 else float(proba[called, 0].mean())
    sure = dataclasses.replace(model, config=dataclasses.replace(ring, structure_ring_veto_unsure=p_non + 1e-6))
    kept = sure.classify(*args)
    assert (kept[inside] > 0).any()
    np.testing.assert_array_equal(kept[~inside], off[~inside])
    unsure = dataclasses.replace(model, config=dataclasses.replace(ring, structure_ring_veto_unsure=p_non * 0.5))
    assert (unsure.classify(*args)[inside] == 0).all()
