"""ClassifierConfig.reference "sac": the candidate position features measured from the found pericardial mask's
centroid (cacscore.lesion.anatomy.heart_reference), in training and scoring alike (session 12)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from cacscore.chest.anatomy import read_chest
from cacscore.lesion import anatomy as A
from cacscore.lesion import classifier as C
from cacscore.lesion.candidates import FEATURE_NAMES
from cacscore.lesion.context import SHAPE_NAMES
from cacscore.lesion.train import shift_heart_reference
from cacscore.phantom.core import make_patient

POSITION = ("dz_mm", "dy_mm", "dx_mm", "r_inplane_mm", "dist_mm", "cos_inplane", "sin_inplane")


@pytest.fixture(scope="module")
def patient():
    return make_patient(3, seed=5, size=128)


@pytest.fixture(scope="module")
def placed(patient):
    sp = tuple(float(v) for v in patient.spacing_mm)
    finder = C.anatomical_candidates(patient.hu, sp, reference="finder")
    sac = C.anatomical_candidates(patient.hu, sp, reference="sac")
    return sp, finder, sac


def test_sac_reference_is_the_mask_centroid(patient, placed):
    sp, finder, sac = placed
    anatomy = read_chest(patient.hu, sp)
    assert anatomy.parts["pericardium"].sure()
    centroid = A.sac_centroid_mm(anatomy) / np.array(sp)
    assert np.abs(np.array(sac.heart_index) - centroid).max() <= 0.5  # the voxel nearest the centroid
    assert sac.heart is not None and sac.heart.found
    # the same candidates; only the position columns moved, exactly by the change of origin
    assert np.array_equal(sac.ids, finder.ids) and len(sac.features) > 0
    shift = (np.array(sac.heart_index) - np.array(finder.heart_index)) * np.array(sp)
    assert np.abs(shift).max() > 0  # the two origins differ on this patient, so the test can fail
    moved = shift_heart_reference(finder.features, shift)
    pos = [FEATURE_NAMES.index(n) for n in POSITION]
    # the shape columns (cacscore.lesion.context) are measured from the heart centre too (which side faces it, reach)
    other = [j for j, n in enumerate(FEATURE_NAMES) if j not in pos and n not in SHAPE_NAMES]
    assert np.allclose(sac.features[:, pos], moved[:, pos], atol=1e-3)
    assert np.array_equal(sac.features[:, other], finder.features[:, other])


def test_finder_inside_the_mask_gives_way_only_with_sac(patient):
    sp = tuple(float(v) for v in patient.spacing_mm)
    anatomy = read_chest(patient.hu, sp)
    c = np.rint(A.sac_centroid_mm(anatomy) / np.array(sp)).astype(int)
    inside = tuple(int(v) for v in np.argwhere(anatomy.pericardium)[0] * anatomy.grid_mm / np.array(sp))
    assert A.heart_reference(anatomy, inside, True) == (inside, "heart finder")
    ref, source = A.heart_reference(anatomy, inside, True, reference="sac")
    assert source == "pericardium centroid" and ref == tuple(int(v) for v in c)
    with pytest.raises(ValueError):
        A.heart_reference(anatomy, inside, True, reference="centre")


def _tiny_model(reference: str, n_features: int = len(FEATURE_NAMES)) -> C.LesionModel:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, n_features)).astype(np.float32)
    x[:, FEATURE_NAMES.index("dist_mm")] = np.abs(x[:, FEATURE_NAMES.index("dist_mm")]) * 30
    y = rng.integers(0, 5, 200)
    return C.train_classifier(x, y, config=C.ClassifierConfig(epochs=1, reference=reference))


def test_a_model_saved_with_sac_scores_with_sac(tmp_path, patient, placed):
    sp, finder, sac = placed
    C.save_model(_tiny_model("sac"), tmp_path / "sac")
    assert json.loads((tmp_path / "sac" / "model.json").read_text())["config"]["reference"] == "sac"
    model = C.load_model(tmp_path / "sac")
    assert model.config.reference == "sac"
    cand, classes = C.classify_volume(patient.hu, sp, model)
    assert cand.heart_index == sac.heart_index != finder.heart_index
    assert np.array_equal(classes, model.classify(sac.features, sac.outside_thorax_mm, sac.anatomy_columns,
                                                  sac.structure, sac.agatston))


def test_old_models_load_with_the_finder(tmp_path):
    C.save_model(_tiny_model("finder"), tmp_path / "old")
    j = tmp_path / "old" / "model.json"
    cfg = json.loads(j.read_text())
    del cfg["config"]["reference"]  # a model.json written before the switch
    j.write_text(json.dumps(cfg))
    assert C.load_model(tmp_path / "old").config.reference == "finder"
    with pytest.raises(ValueError):
        dataclasses.replace(C.ClassifierConfig(), reference="centre")
