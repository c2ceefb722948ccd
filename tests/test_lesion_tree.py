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
from cacscore.lesion.tree import (guard_left_main, join_structure, split_structures, veto_by_largest, veto_structure,
                                  vote_by_structure)
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


# ---- session 16 (wt24a): the Agatston-weighted vote and the split at the bifurcation, both opt-in

# one structure across the bifurcation: two large left-main slices the MLP calls LCA (0.9, 0.7) and three small LAD
# slices (0.95, 0.6, 0.55); a lone RCA slice in structure 2
_PROBA = np.array([
    [0.0, 0.90, 0.10, 0.00, 0.0],
    [0.0, 0.70, 0.30, 0.00, 0.0],
    [0.0, 0.05, 0.95, 0.00, 0.0],
    [0.0, 0.40, 0.60, 0.00, 0.0],
    [0.0, 0.45, 0.55, 0.00, 0.0],
    [0.0, 0.00, 0.00, 0.10, 0.9],
])
_CLASSES = np.array([1, 1, 2, 2, 2, 4])
_STRUCTURE = np.array([5, 5, 5, 5, 5, 2])
_AU = np.array([400.0, 300.0, 20.0, 10.0, 10.0, 50.0])


def test_weighted_vote_lets_the_large_slices_decide():
    # a fourth small LAD slice in structure 5: count vote LCA 2.6 < LAD 3.4 -> LAD for all
    proba = np.vstack([_PROBA, [0.0, 0.1, 0.9, 0.0, 0.0]])
    classes, structure, au = np.append(_CLASSES, 2), np.append(_STRUCTURE, 5), np.append(_AU, 5.0)
    np.testing.assert_array_equal(vote_by_structure(classes, proba, structure), [2, 2, 2, 2, 2, 4, 2])
    # weighted: LCA 400*0.9 + 300*0.7 + ... = 580 against LAD 165 -> LCA for the structure
    np.testing.assert_array_equal(vote_by_structure(classes, proba, structure, au), [1, 1, 1, 1, 1, 4, 1])
    # weights of 1 are the count vote; all-zero weights in a structure vote as the count vote (not a tie to LCA)
    np.testing.assert_array_equal(vote_by_structure(classes, proba, structure, np.ones(7)),
                                  vote_by_structure(classes, proba, structure))
    zero = np.where(structure == 5, 0.0, 1.0)
    np.testing.assert_array_equal(vote_by_structure(classes, proba, structure, zero), [2, 2, 2, 2, 2, 4, 2])
    with pytest.raises(ValueError, match="weights"):
        vote_by_structure(classes, proba, structure, -au)


def test_split_structures_cuts_only_a_structure_with_two_sure_vessels():
    parts = split_structures(_CLASSES, _PROBA, _STRUCTURE, 0.8)
    # sure calls: slice 0 (LCA 0.9) and slice 2 (LAD 0.95): structure 5 is cut; the unsure slices go to the sure
    # vessel they find more probable (slice 1: LCA 0.7 > LAD 0.3; slices 3, 4: LAD)
    assert parts[0] == parts[1] != parts[2] == parts[3] == parts[4]
    assert len(np.unique(parts)) == 3 and parts[5] not in parts[:5]
    # at 0.96 no slice of structure 5 is sure: one part
    p96 = split_structures(_CLASSES, _PROBA, _STRUCTURE, 0.96)
    assert len(np.unique(p96[:5])) == 1 and p96[5] != p96[0]
    # the vote on the parts keeps each part's vessel; on the whole structure (count) one vessel for all
    np.testing.assert_array_equal(vote_by_structure(_CLASSES, _PROBA, parts), _CLASSES)
    assert len(np.unique(vote_by_structure(_CLASSES, _PROBA, _STRUCTURE)[:5])) == 1
    # a structure with one sure vessel (slice 2's LAD made unsure) is not cut, however unsure its other slices
    q = _PROBA.copy()
    q[2] = [0.0, 0.3, 0.7, 0.0, 0.0]
    assert len(np.unique(split_structures(_CLASSES, q, _STRUCTURE, 0.8)[:5])) == 1
    # non-coronary members do not make a structure split
    c0 = _CLASSES.copy()
    c0[2] = 0
    assert len(np.unique(split_structures(c0, _PROBA, _STRUCTURE, 0.8)[:5])) == 1
    with pytest.raises(ValueError, match="min_p"):
        split_structures(_CLASSES, _PROBA, _STRUCTURE, 0.0)


def test_split_structures_sends_unsure_members_to_the_nearest_sure_candidate():
    # a run along z: sure LCX at z 0, sure LAD at z 10 and 20; slice at z 15 is an unsure LCA call (0.6) that puts LCX
    # (0.25) above LAD (0.15): by probability it goes to the LCX part, by position to the LAD part (nearest: z 10, 20)
    proba = np.array([
        [0.0, 0.00, 0.02, 0.98, 0.0],
        [0.0, 0.00, 0.95, 0.05, 0.0],
        [0.0, 0.00, 0.97, 0.03, 0.0],
        [0.0, 0.60, 0.15, 0.25, 0.0],
    ])
    classes, structure = np.array([3, 2, 2, 1]), np.zeros(4, int)
    z = np.array([[0.0, 0, 0], [10, 0, 0], [20, 0, 0], [15, 0, 0]])
    by_p = split_structures(classes, proba, structure, 0.9)
    assert by_p[3] == by_p[0] != by_p[1]
    by_xyz = split_structures(classes, proba, structure, 0.9, z)
    assert by_xyz[3] == by_xyz[1] == by_xyz[2] != by_xyz[0]
    # the vote on the parts: the LCA call follows the LAD run (guard-free vote: LAD 0.95 + 0.97 + 0.15 > LCA 0.6)
    np.testing.assert_array_equal(vote_by_structure(classes, proba, by_xyz), [3, 2, 2, 2])
    with pytest.raises(ValueError, match="positions"):
        split_structures(classes, proba, structure, 0.9, z[:3])


def _stub_model(monkeypatch, proba, **config):
    model = L.load_model(Path(__file__).parent / "data" / "lesion_model_phantom300")
    m = dataclasses.replace(model, config=dataclasses.replace(model.config, **config))
    monkeypatch.setattr(m, "predict_proba", lambda t, where=None: proba.astype(np.float32))
    monkeypatch.setattr(m, "may_be_coronary", lambda *a, **k: np.ones(len(proba), bool))
    return m


def test_classify_reads_vote_weight_and_structure_split_p(monkeypatch):
    """Through LesionModel.classify (guard and join on): default = count vote; the weighted vote keeps the left main
    whose large slices the MLP calls LCA; the split keeps each sure slice's vessel and the per-vessel AU exact."""
    f = np.zeros((6, len(L.FEATURE_NAMES)), np.float32)
    f[:, L.FEATURE_NAMES.index("dz_mm")] = [0, 5, 10, 15, 20, 25]  # a run: left main below, LAD above
    proba = np.vstack([_PROBA[:5], [0.0, 0.1, 0.9, 0.0, 0.0]])  # a sixth, small LAD slice in the same structure
    structure = np.full(6, 5)
    au = np.append(_AU[:5], 5.0)
    base = _stub_model(monkeypatch, proba).classify(f, None, None, structure, au)
    np.testing.assert_array_equal(base, [2] * 6)  # the count vote: the LAD slices outvote the left main
    w = _stub_model(monkeypatch, proba, vote_weight="agatston").classify(f, None, None, structure, au)
    # the weighted vote says LCA; the guard's first rule keeps the LAD calls out of the left main, and its AU
    # comparison (LCA 580 > other 165) keeps the left-main slices LCA
    np.testing.assert_array_equal(w, [1, 1, 2, 2, 2, 2])
    w_noguard = _stub_model(monkeypatch, proba, vote_weight="agatston", structure_left_main=False)
    np.testing.assert_array_equal(w_noguard.classify(f, None, None, structure, au), [1] * 6)
    s = _stub_model(monkeypatch, proba, structure_split_p=0.8).classify(f, None, None, structure, au)
    np.testing.assert_array_equal(s, [1, 1, 2, 2, 2, 2])
    # per-vessel AU: the candidates' AU summed by class (each candidate's voxels carry its class: exact)
    assert au[s == 1].sum() == 700.0 and au[s == 2].sum() == 45.0
    with pytest.raises(ValueError, match="vote_weight"):
        L.ClassifierConfig(vote_weight="size")
    with pytest.raises(ValueError, match="structure_split_p"):
        L.ClassifierConfig(structure_split_p=1.5)


def test_split_and_weighted_vote_score_exact_agatston_on_a_phantom(scored):
    """On a phantom patient: every setting moves calcium between the arteries only (the same total), and the
    per-vessel Agatston equals the sum of each candidate's own Agatston by its class (scoring.agatston on the labels)."""
    p, cand, classes, _, model = scored
    for cfg in ({"vote_weight": "agatston"}, {"structure_split_p": 0.5}, {"vote_weight": "agatston",
                                                                          "structure_split_p": 0.5}):
        m = dataclasses.replace(model, config=dataclasses.replace(model.config, **cfg))
        c = m.classify(cand.features, cand.outside_thorax_mm, cand.anatomy_columns, cand.structure, cand.agatston)
        s = L.score_assignment(p.hu, cand, c)
        assert s["total"] == pytest.approx(L.score_assignment(p.hu, cand, classes)["total"], abs=1e-6)
        for k, v in enumerate(("LCA", "LAD", "LCX", "RCA"), 1):
            assert s[v] == pytest.approx(float(np.asarray(cand.agatston)[c == k].sum()), abs=1e-6)


def test_new_vote_settings_survive_save_and_load_and_old_json_loads(tmp_path):
    import json

    model = L.load_model(Path(__file__).parent / "data" / "lesion_model_phantom300")
    assert model.config.vote_weight == "count" and model.config.structure_split_p is None  # saved before: defaults
    cfg = dataclasses.replace(model.config, vote_weight="agatston", structure_split_p=0.8)
    L.save_model(dataclasses.replace(model, config=cfg), tmp_path / "m")
    loaded = L.load_model(tmp_path / "m").config
    assert loaded.vote_weight == "agatston" and loaded.structure_split_p == 0.8
    assert json.loads((tmp_path / "m" / "model.json").read_text())["config"]["structure_split_p"] == 0.8


def test_veto_clears_a_structure_whose_heavy_slices_are_non_coronary():
    """Session 16: a mitral-annulus-like ring (structure 5): its 3,000 AU slice is non-coronary (p 1.0), its two small
    slices (40, 30 AU) called LCX: Agatston-weighted it is non-coronary, so the LCX calls go. A plaque (structure 8)
    whose slices are all called LAD keeps them, even with a small non-coronary edge slice; a structure whose weights
    are all 0 is left alone (structure 9)."""
    proba = np.array([
        [1.00, 0.0, 0.00, 0.00, 0.0],  # 5: the heavy slice, non-coronary (a rule or the MLP)
        [0.05, 0.0, 0.05, 0.90, 0.0],  # 5: LCX
        [0.20, 0.0, 0.00, 0.80, 0.0],  # 5: LCX
        [0.10, 0.0, 0.90, 0.00, 0.0],  # 8: LAD
        [0.05, 0.0, 0.95, 0.00, 0.0],  # 8: LAD
        [0.90, 0.0, 0.10, 0.00, 0.0],  # 8: non-coronary edge slice
        [0.60, 0.0, 0.00, 0.00, 0.4],  # 9: RCA by the vote, weight 0
    ])
    classes = np.array([0, 3, 3, 2, 2, 0, 4])
    structure = np.array([5, 5, 5, 8, 8, 8, 9])
    au = np.array([3000.0, 40.0, 30.0, 200.0, 150.0, 10.0, 0.0])
    out = veto_structure(classes, proba, structure, au)
    np.testing.assert_array_equal(out, [0, 0, 0, 2, 2, 0, 4])
    # counted once each: the ring stays (1.25 non-coronary against 1.75), structure 9 (0.6 against 0.4) goes
    np.testing.assert_array_equal(veto_structure(classes, proba, structure, np.ones(7)), [0, 3, 3, 2, 2, 0, 0])
    # counted once each the ring is 1.25 non-coronary against 1.75 coronary, and so with a light heavy slice
    au_small = au.copy()
    au_small[0] = 20.0
    np.testing.assert_array_equal(veto_structure(classes, proba, structure, au_small), classes)
    with pytest.raises(ValueError):
        veto_structure(classes, proba, structure, -au)


def test_structure_veto_is_opt_in_and_round_trips():
    assert L.ClassifierConfig().structure_veto is False
    cfg = L.ClassifierConfig.from_dict({**dataclasses.asdict(L.ClassifierConfig()), "structure_veto": True})
    assert cfg.structure_veto is True


def test_veto_by_largest_clears_a_structure_whose_heaviest_asked_slice_is_non_coronary():
    """Session 28: seed 14549 patient 12's MAC deposit in small: the heaviest slice (159 AU) reads non-coronary at
    0.88 and four slices above it LCX, so weighted the structure is coronary (the veto keeps it) but its largest slice
    says otherwise (structure 5). A plaque whose heaviest slice reads LAD keeps its calls, its non-coronary edge slice
    not (structure 8); a member no rule left to the MLP (asked False) is not the one that decides (structure 9)."""
    proba = np.array([
        [0.88, 0.00, 0.0, 0.12, 0.0],  # 5: the heaviest, 159 AU
        [1.00, 0.00, 0.0, 0.00, 0.0],  # 5: 146 AU
        [0.10, 0.01, 0.0, 0.89, 0.0],  # 5: LCX
        [0.10, 0.05, 0.0, 0.85, 0.0],  # 5: LCX
        [0.10, 0.00, 0.0, 0.90, 0.0],  # 5: LCX
        [0.10, 0.00, 0.0, 0.90, 0.0],  # 5: LCX
        [0.10, 0.00, 0.9, 0.00, 0.0],  # 8: LAD, the heaviest
        [0.95, 0.00, 0.05, 0.0, 0.0],  # 8: non-coronary edge slice
        [1.00, 0.00, 0.0, 0.00, 0.0],  # 9: a rule's member (not asked), the heaviest
        [0.20, 0.00, 0.0, 0.00, 0.8],  # 9: RCA
    ])
    classes = np.array([3, 3, 3, 3, 3, 3, 2, 0, 0, 4])
    structure = np.array([5, 5, 5, 5, 5, 5, 8, 8, 9, 9])
    au = np.array([159.0, 146.0, 120.0, 120.0, 120.0, 120.0, 200.0, 10.0, 900.0, 50.0])
    asked = np.array([True] * 8 + [False, True])
    # weighted, structure 5 reads 334 AU non-coronary against 451 coronary: the veto keeps it
    assert veto_structure(classes, proba, structure, au)[:6].tolist() == [3] * 6
    out = veto_by_largest(classes, proba, structure, au, asked, 0.85)
    np.testing.assert_array_equal(out, [0, 0, 0, 0, 0, 0, 2, 0, 0, 4])
    np.testing.assert_array_equal(veto_by_largest(classes, proba, structure, au, asked, 0.9), classes)
    with pytest.raises(ValueError, match="min_p"):
        veto_by_largest(classes, proba, structure, au, asked, 0.0)
    with pytest.raises(ValueError, match="disagree"):
        veto_by_largest(classes, proba, structure, au, asked[:-1], 0.85)


def test_structure_veto_largest_is_opt_in_validated_and_round_trips(tmp_path):
    assert L.ClassifierConfig().structure_veto_largest is None
    with pytest.raises(ValueError, match="structure_veto_largest"):
        L.ClassifierConfig(structure_veto_largest=1.5)
    model = L.load_model(Path(__file__).parent / "data" / "lesion_model_phantom300")
    assert model.config.structure_veto_largest is None  # saved before the key: off
    L.save_model(dataclasses.replace(model, config=dataclasses.replace(model.config, structure_veto_largest=0.85)),
                 tmp_path / "m")
    assert L.load_model(tmp_path / "m").config.structure_veto_largest == 0.85
