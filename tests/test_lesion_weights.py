"""Session 15 (wt23e): the opt-in training weights ClassifierConfig.au_weight_power and lca_weight."""

from __future__ import annotations

import dataclasses

import numpy as np

from cacscore import lesion as L
from cacscore.lesion.candidates import BASE_FEATURE_NAMES
from cacscore.lesion.classifier import au_class_weights


def _table(n: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, len(BASE_FEATURE_NAMES))).astype(np.float32)
    f[:, BASE_FEATURE_NAMES.index("dist_mm")] = rng.uniform(0, 80, n)
    f[:, BASE_FEATURE_NAMES.index("log_agatston")] = np.log1p(rng.uniform(0, 500, n))
    t = rng.integers(0, 5, n)
    return f, t


def test_au_class_weights_keep_each_class_total_and_grow_with_the_score():
    t = np.array([0, 0, 1, 1, 2, 2, 2, 4])
    au = np.array([5.0, 900.0, 0.0, 99.0, 3.0, 3.0, 48.0, 7.0])
    w = au_class_weights(t, np.log1p(au), 0.5)
    assert w[:2].tolist() == [1.0, 1.0]  # non-coronary untouched
    for k in (1, 2, 4):
        np.testing.assert_allclose(w[t == k].sum(), (t == k).sum(), rtol=1e-6)
    np.testing.assert_allclose(w[3] / w[2], 10.0, rtol=1e-5)  # sqrt(100) / sqrt(1)
    assert w[6] > w[4] == w[5] and w[7] == 1.0
    np.testing.assert_array_equal(au_class_weights(t, np.log1p(au), 0.0), np.ones(len(t), np.float32))


def test_training_weights_are_the_sample_weights_and_survive_save_and_load(tmp_path):
    f, t = _table()
    cfg = L.ClassifierConfig(hidden=(8,), epochs=3, batch_size=128, seed=1)
    plain = L.train_classifier(f, t, config=cfg)
    au = L.train_classifier(f, t, config=dataclasses.replace(cfg, au_weight_power=0.5))
    by_hand = L.train_classifier(f, t, config=cfg, sample_weight=au_class_weights(
        t, f[:, BASE_FEATURE_NAMES.index("log_agatston")], 0.5))
    for k, v in au.numpy_net().state_dict().items():
        np.testing.assert_array_equal(v, by_hand.numpy_net().state_dict()[k])
    assert not np.array_equal(au.predict_proba(f), plain.predict_proba(f))
    lca = L.train_classifier(f, t, config=dataclasses.replace(cfg, lca_weight=3.0))
    p_lca, p_plain = lca.predict_proba(f)[:, 1].mean(), plain.predict_proba(f)[:, 1].mean()
    assert p_lca > p_plain  # a heavier left main is called more often
    L.save_model(au, tmp_path / "m")
    back = L.load_model(tmp_path / "m")
    assert back.config.au_weight_power == 0.5 and back.config.lca_weight == 1.0
    np.testing.assert_array_equal(back.predict_proba(f), au.predict_proba(f))


def test_the_no8mm_set_drops_only_the_8mm_box_and_trains(tmp_path):
    from cacscore.lesion.classifier import FEATURE_SETS

    names = FEATURE_SETS["no8mm"]
    assert set(BASE_FEATURE_NAMES) - set(names) == {"fat_8mm", "soft_8mm", "bright_8mm", "air_8mm"}
    assert [n for n in BASE_FEATURE_NAMES if n in names] == list(names)  # order kept
    f, t = _table()
    f = f[:, [BASE_FEATURE_NAMES.index(n) for n in names]]  # the model's own columns (feature_table)
    m = L.train_classifier(f, t, config=L.ClassifierConfig(hidden=(8,), epochs=2, seed=1, features=names))
    L.save_model(m, tmp_path / "m")
    back = L.load_model(tmp_path / "m")
    assert back.feature_names == names
    np.testing.assert_array_equal(back.predict_proba(f), m.predict_proba(f))


def test_keep_left_main_undoes_only_the_votes_moves_out_of_the_left_main():
    from cacscore.lesion.tree import keep_left_main

    before = np.array([1, 1, 2, 0, 3, 1])
    voted = np.array([2, 1, 2, 0, 2, 1])
    np.testing.assert_array_equal(keep_left_main(before, voted), [1, 1, 2, 0, 2, 1])
    assert L.ClassifierConfig().left_main_keep is False
