"""Vessel assignment along the coronary tree (cacscore.lesion.tree): the coronary candidates of one 3-D structure share
one vessel, which candidates are coronary never changes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from cacscore import lesion as L
from cacscore.lesion.tree import vote_by_structure
from cacscore.phantom import make_patient


def test_vote_gives_a_structure_its_most_probable_vessel():
    # structure 7: three slices of one plaque, two called LAD (0.55, 0.5) and one LCX (0.9): summed LAD 1.25 + 0.05,
    # LCX 0.4 + 0.45 + 0.9 = 1.75 -> LCX for all three; structure 3: one LCA slice alone keeps LCA; a non-coronary
    # member of structure 7 stays non-coronary and does not vote (its proba would make it RCA)
    proba = np.array([
        [0.0, 0.05, 0.55, 0.40, 0.0],
        [0.0, 0.00, 0.50, 0.45, 0.05],
        [0.0, 0.00, 0.10, 0.90, 0.0],
        [0.0, 0.80, 0.10, 0.10, 0.0],
        [0.1, 0.00, 0.00, 0.00, 0.9],
    ])
    classes = np.array([2, 2, 3, 1, 0])
    structure = np.array([7, 7, 7, 3, 7])
    out = vote_by_structure(classes, proba, structure)
    np.testing.assert_array_equal(out, [3, 3, 3, 1, 0])
    np.testing.assert_array_equal(classes, [2, 2, 3, 1, 0])  # the input is not changed
    # the same candidates in separate structures keep their own classes
    np.testing.assert_array_equal(vote_by_structure(classes, proba, np.arange(5)), classes)
    assert vote_by_structure(np.zeros(0, int), np.zeros((0, 5)), np.zeros(0, int)).shape == (0,)
    with pytest.raises(ValueError, match="disagree"):
        vote_by_structure(classes, proba[:, :4], structure)


@pytest.fixture(scope="module")
def scored():
    p = make_patient(45, seed=100, size=128)  # anatomy v3, calcified in 3-4 vessels
    model = L.load_model(Path(__file__).parent / "data" / "lesion_model_phantom300")
    cand, classes = L.classify_volume(p.hu, p.spacing_mm, model)
    off = dataclasses.replace(model, config=dataclasses.replace(model.config, structure_vote=False))
    plain = off.classify(cand.features, cand.outside_thorax_mm, cand.anatomy_columns, cand.structure)
    return p, cand, classes, plain


def test_candidates_know_their_3d_structure(scored):
    """Candidates.structure is the partition of a 26-connected label of the candidate voxels."""
    _, cand, _, _ = scored
    lab3, _ = ndimage.label(cand.ids > 0, structure=np.ones((3, 3, 3), bool))
    at = np.flatnonzero(cand.ids.reshape(-1))
    cid = cand.ids.reshape(-1)[at] - 1
    ref = np.zeros(cand.n, np.int64)
    ref[cid] = lab3.reshape(-1)[at]
    assert cand.structure.shape == (cand.n,)
    assert len(np.unique(cand.structure)) < cand.n  # some candidates share a structure
    # the same partition: a one-to-one map between the two numberings
    pairs = np.unique(np.stack([cand.structure, ref], 1), axis=0)
    assert len(pairs) == len(np.unique(cand.structure)) == len(np.unique(ref))


def test_classify_volume_votes_per_structure_and_keeps_totals(scored):
    p, cand, classes, plain = scored
    cor = classes > 0
    assert cor.sum() >= 2
    np.testing.assert_array_equal(cor, plain > 0)  # which candidates are coronary: unchanged
    for s in np.unique(cand.structure[cor]):
        assert len(np.unique(classes[cor & (cand.structure == s)])) == 1
    np.testing.assert_array_equal(classes, vote_by_structure(plain, cand_proba(cand), cand.structure))
    with_vote = L.score_assignment(p.hu, cand, classes)
    without = L.score_assignment(p.hu, cand, plain)
    assert with_vote["total"] == pytest.approx(without["total"], abs=1e-6)


def cand_proba(cand):
    model = L.load_model(Path(__file__).parent / "data" / "lesion_model_phantom300")
    return model.predict_proba(model.table(cand.features, cand.anatomy_columns))


def test_an_old_model_json_gets_the_vote(tmp_path):
    """Models saved before the step have no structure_vote in their config: they load with it on."""
    import json
    import shutil

    src = Path(__file__).parent / "data" / "lesion_model_phantom300"
    dst = tmp_path / "m"
    shutil.copytree(src, dst)
    cfg = json.loads((dst / "model.json").read_text())
    cfg["config"].pop("structure_vote", None)
    (dst / "model.json").write_text(json.dumps(cfg))
    assert L.load_model(dst).config.structure_vote is True
