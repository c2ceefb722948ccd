"""Vessel assignment along the coronary tree (cacscore.lesion.tree): the coronary candidates of one 3-D structure share
one vessel; a structure's members the MLP alone called non-coronary join it when the structure is more likely coronary
than not; the rules stay final."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from cacscore import lesion as L
from cacscore.lesion.tree import guard_left_main, join_structure, vote_by_structure
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


def test_join_pulls_a_structures_non_coronary_slices_in_only_when_it_is_mostly_coronary():
    proba = np.array([
        [0.1, 0.0, 0.9, 0.0, 0.0],  # structure 1: LAD, sure
        [0.6, 0.0, 0.4, 0.0, 0.0],  # structure 1: the MLP says non-coronary (0.6): 0.9 + 0.4 > 0.1 + 0.6 -> joins, LAD
        [0.3, 0.0, 0.7, 0.0, 0.0],  # structure 1: a rule called it non-coronary (not eligible): stays 0
        [0.4, 0.0, 0.0, 0.6, 0.0],  # structure 2: LCX, unsure
        [0.9, 0.0, 0.0, 0.1, 0.0],  # structure 2: 0.6 + 0.1 < 0.4 + 0.9 -> the structure is mostly not coronary: stays 0
        [0.9, 0.0, 0.0, 0.0, 0.1],  # structure 3: nothing coronary in it: stays 0
    ])
    classes = np.array([2, 0, 0, 3, 0, 0])
    structure = np.array([1, 1, 1, 2, 2, 3])
    eligible = np.array([True, True, False, True, True, True])
    out = join_structure(classes, proba, structure, eligible)
    np.testing.assert_array_equal(out, [2, 2, 0, 3, 0, 0])
    # with every member eligible the rule-excluded one joins too (0.9 + 0.4 + 0.7 > 0.1 + 0.6 + 0.3)
    np.testing.assert_array_equal(join_structure(classes, proba, structure, np.ones(6, bool)), [2, 2, 2, 3, 0, 0])
    with pytest.raises(ValueError, match="disagree"):
        join_structure(classes, proba, structure, eligible[:3])


def test_guard_left_main_keeps_a_long_branch_plaque_out_of_the_left_main():
    # seed 9101 v4 patient 26's pattern: one structure, a 470 AU slice the MLP calls LAD (0.67) and a 105 AU slice it
    # calls LCA (0.92); the count vote gives both LCA (1.23 against 0.75)
    proba = np.array([[0.0, 0.31, 0.67, 0.01, 0.01],
                      [0.0, 0.92, 0.08, 0.00, 0.00]])
    before = np.array([2, 1])
    structure = np.array([5, 5])
    au = np.array([470.0, 105.0])
    voted = vote_by_structure(before, proba, structure)
    np.testing.assert_array_equal(voted, [1, 1])
    # the LAD slice keeps LAD; then most of the structure's AU is LAD (470 x 0.69 + 105 x 0.08 against
    # 470 x 0.31 + 105 x 0.92), so the LCA slice goes to LAD too
    np.testing.assert_array_equal(guard_left_main(before, voted, proba, structure, au), [2, 2])
    # with the AU the other way round (the LCA slice holds most of the calcium) the LCA slice stays LCA and the LAD
    # slice keeps its own call: the structure straddles the bifurcation
    np.testing.assert_array_equal(guard_left_main(before, voted, proba, structure, au[::-1]), [2, 1])


def test_guard_left_main_lets_the_vote_move_calcium_out_of_the_left_main_and_leaves_the_rest():
    proba = np.array([
        [0.0, 0.60, 0.00, 0.40, 0.0],  # structure 1: a slice called LCA ...
        [0.0, 0.10, 0.00, 0.90, 0.0],  # ... in an LCX plaque: the vote gives it LCX, and the guard keeps that
        [0.0, 0.00, 0.10, 0.00, 0.90],  # structure 2: RCA, no LCA involved
        [0.0, 0.00, 0.60, 0.00, 0.40],  # structure 2: LAD called, voted RCA: as the vote
        [0.2, 0.75, 0.05, 0.00, 0.00],  # structure 3: LCA alone stays LCA
        [0.9, 0.10, 0.00, 0.00, 0.00],  # structure 3: non-coronary stays non-coronary
    ])
    before = np.array([1, 3, 4, 2, 1, 0])
    structure = np.array([1, 1, 2, 2, 3, 3])
    au = np.array([50.0, 10.0, 30.0, 30.0, 20.0, 5.0])
    voted = vote_by_structure(before, proba, structure)
    np.testing.assert_array_equal(voted, [3, 3, 4, 4, 1, 0])
    out = guard_left_main(before, voted, proba, structure, au)
    np.testing.assert_array_equal(out, voted)
    np.testing.assert_array_equal(voted, [3, 3, 4, 4, 1, 0])  # the input is not changed
    # the calcium's total is what it was: only the artery moves
    assert au[out > 0].sum() == au[before > 0].sum()
    assert guard_left_main(np.zeros(0, int), np.zeros(0, int), np.zeros((0, 5)), np.zeros(0, int),
                           np.zeros(0)).shape == (0,)
    with pytest.raises(ValueError, match="disagree"):
        guard_left_main(before, voted, proba, structure, au[:3])


@pytest.fixture(scope="module")
def scored():
    p = make_patient(45, seed=100, size=128)  # anatomy v3, calcified in 3-4 vessels
    model = L.load_model(Path(__file__).parent / "data" / "lesion_model_phantom300")
    cand, classes = L.classify_volume(p.hu, p.spacing_mm, model)
    off = dataclasses.replace(model, config=dataclasses.replace(model.config, structure_vote=False))
    plain = off.classify(cand.features, cand.outside_thorax_mm, cand.anatomy_columns, cand.structure, cand.agatston)
    return p, cand, classes, plain, model


def test_candidates_know_their_3d_structure(scored):
    """Candidates.structure is the partition of a 26-connected label of the candidate voxels."""
    _, cand, _, _, _ = scored
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


def test_classify_volume_votes_per_structure_and_the_rules_stay_final(scored):
    p, cand, classes, plain, model = scored
    cor = classes > 0
    assert (plain > 0).sum() >= 2
    assert not (cor & ~(plain > 0) & ~np.isin(cand.structure, cand.structure[plain > 0])).any()  # joins only a structure
    may = model.may_be_coronary(cand.features, cand.outside_thorax_mm, cand.anatomy_columns)
    assert not (cor & ~may).any()  # no rule overruled
    assert (cor >= (plain > 0)).all()  # nothing coronary lost
    for s in np.unique(cand.structure[cor]):  # one artery per structure, besides the left main (guard_left_main)
        assert len(np.unique(classes[cor & (cand.structure == s) & (classes != 1)])) <= 1
    proba = model.predict_proba(model.table(cand.features, cand.anatomy_columns))
    voted = guard_left_main(plain, vote_by_structure(plain, proba, cand.structure), proba, cand.structure,
                            cand.agatston)
    np.testing.assert_array_equal(classes, join_structure(voted, proba, cand.structure, may))
    # nothing became LCA through the vote that the MLP called another artery
    assert not ((classes == 1) & (plain > 1)).any()
    # without agatston the classifier reads it from the log_agatston column: the same classes
    np.testing.assert_array_equal(classes, model.classify(cand.features, cand.outside_thorax_mm,
                                                          cand.anatomy_columns, cand.structure))
    # the vote alone moves calcium between the arteries only: the same total
    assert L.score_assignment(p.hu, cand, voted)["total"] == pytest.approx(
        L.score_assignment(p.hu, cand, plain)["total"], abs=1e-6)


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
    cfg["config"].pop("structure_join", None)
    cfg["config"].pop("structure_left_main", None)
    (dst / "model.json").write_text(json.dumps(cfg))
    loaded = L.load_model(dst).config
    assert loaded.structure_vote is True and loaded.structure_join is True and loaded.structure_left_main is True
