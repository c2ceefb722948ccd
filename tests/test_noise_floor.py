"""Session 17 (wt25c): the image noise estimate and the opt-in noise floor for small faint structures."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from cacscore import lesion as L
from cacscore.lesion.noise import image_noise_hu, noise_floor, noise_floor_mean
from cacscore.phantom import make_patient

MODEL = Path(__file__).parent / "data" / "lesion_model_phantom300"


def _volume(sd: float, seed: int = 0) -> np.ndarray:
    """A 16 x 96 x 96 chest-like volume: soft tissue (40 HU) with a lung (-800 HU) and a bone (700 HU) block,
    plus white noise of sd ``sd``."""
    v = np.full((16, 96, 96), 40.0)
    v[:, 10:50, 10:40] = -800.0
    v[:, 60:80, 60:90] = 700.0
    return v + np.random.default_rng(seed).normal(0.0, sd, v.shape)


@pytest.mark.parametrize("sd", [10.0, 30.0, 60.0])
def test_image_noise_reads_the_noise_sd_of_the_soft_tissue(sd):
    est = image_noise_hu(_volume(sd), (2.5, 0.8, 0.8))
    assert 0.85 * sd < est < 1.15 * sd  # the lung and bone edges do not move the median
    assert np.isnan(image_noise_hu(np.full((8, 32, 32), -1000.0), (2.5, 0.8, 0.8)))  # no soft tissue: unknown


def test_noise_floor_drops_only_small_faint_coronary_structures():
    # structures: 1 a faint 2 mm^2 speck (two slices), 2 a bright small plaque, 3 a faint but large one,
    # 4 a faint speck already non-coronary, 5 a faint speck whose other slice is large (kept whole)
    structure = np.array([1, 1, 2, 3, 4, 5, 5])
    classes = np.array([4, 4, 2, 3, 0, 2, 0])
    peak = np.array([190.0, 200.0, 400.0, 200.0, 180.0, 190.0, 200.0])
    area = np.array([2.0, 1.5, 3.0, 9.0, 2.0, 2.0, 12.0])
    out = noise_floor(classes, structure, peak, area, 40.0, k=2.0, max_area_mm2=5.0, base_hu=130.0)  # floor 210 HU
    np.testing.assert_array_equal(out, [0, 0, 2, 3, 0, 2, 0])
    np.testing.assert_array_equal(classes, [4, 4, 2, 3, 0, 2, 0])  # the input is not changed
    # the default base, 40 HU: k = 4 at sd 45 is a 220 HU floor
    np.testing.assert_array_equal(noise_floor(classes, structure, peak, area, 45.0, k=4.0, max_area_mm2=5.0), out)
    # a quiet scan (sd 20: floor 170 HU) keeps the speck; an unknown noise (nan) changes nothing
    np.testing.assert_array_equal(noise_floor(classes, structure, peak, area, 20.0, k=2.0, max_area_mm2=5.0,
                                              base_hu=130.0), classes)
    np.testing.assert_array_equal(noise_floor(classes, structure, peak, area, np.nan, k=2.0, max_area_mm2=5.0),
                                  classes)
    with pytest.raises(ValueError, match="disagree"):
        noise_floor(classes, structure, peak[:3], area, 40.0, k=2.0, max_area_mm2=5.0)


def test_noise_floor_is_opt_in_validated_and_round_trips(tmp_path):
    assert L.ClassifierConfig().noise_floor_k is None
    for bad in ({"noise_floor_k": -1.0}, {"noise_floor_k": float("nan")}, {"noise_floor_area_mm2": -2.0},
                {"noise_floor_base_hu": float("inf")}):
        with pytest.raises(ValueError):
            L.ClassifierConfig(**bad)
    model = L.load_model(MODEL)
    assert model.config.noise_floor_k is None  # a model saved before the switch loads with it off
    cfg = dataclasses.replace(model.config, noise_floor_k=2.5, noise_floor_area_mm2=4.0, noise_floor_base_hu=50.0)
    L.save_model(dataclasses.replace(model, config=cfg), tmp_path / "m")
    assert json.loads((tmp_path / "m" / "model.json").read_text())["config"]["noise_floor_k"] == 2.5
    loaded = L.load_model(tmp_path / "m").config
    assert (loaded.noise_floor_k, loaded.noise_floor_area_mm2, loaded.noise_floor_base_hu) == (2.5, 4.0, 50.0)


def test_classify_volume_applies_the_noise_floor_only_when_on():
    p = make_patient(45, seed=100, size=128)  # calcified in 3-4 vessels
    model = L.load_model(MODEL)
    cand, off = L.classify_volume(p.hu, p.spacing_mm, model)
    assert (off > 0).sum() >= 2
    # k = 0 from a 130 HU base: the floor is the Agatston threshold itself, which every candidate reaches
    zero = dataclasses.replace(model, config=dataclasses.replace(model.config, noise_floor_k=0.0,
                                                                 noise_floor_base_hu=130.0))
    np.testing.assert_array_equal(L.classify_volume(p.hu, p.spacing_mm, zero)[1], off)
    # an absurd floor over every size drops every coronary call, and only those
    huge = dataclasses.replace(model, config=dataclasses.replace(model.config, noise_floor_k=1e6,
                                                                 noise_floor_area_mm2=1e6))
    _, on = L.classify_volume(p.hu, p.spacing_mm, huge)
    assert not (on > 0).any()
    # a middle floor drops some small calls and changes no call's vessel
    mid = dataclasses.replace(model, config=dataclasses.replace(model.config, noise_floor_k=1e6))
    _, some = L.classify_volume(p.hu, p.spacing_mm, mid)
    assert ((some == off) | (some == 0)).all()
    area = np.expm1(cand.features[:, L.FEATURE_NAMES.index("log_area_mm2")])
    big_structures = np.unique(cand.structure[area > model.config.noise_floor_area_mm2])
    keep = np.isin(cand.structure, big_structures)
    np.testing.assert_array_equal(some[keep], off[keep])


def test_classify_volume_uses_the_callers_noise_sd():
    # predict estimates the image noise once (for its warning) and hands it on: the floor must read that value
    p = make_patient(45, seed=100, size=128)
    model = L.load_model(MODEL)
    _, off = L.classify_volume(p.hu, p.spacing_mm, model)
    cfg = dataclasses.replace(model.config, noise_floor_k=1.0, noise_floor_area_mm2=1e6, noise_floor_base_hu=0.0)
    floored = dataclasses.replace(model, config=cfg)
    _, quiet = L.classify_volume(p.hu, p.spacing_mm, floored, noise_sd=0.0)  # floor 0 HU: nothing dropped
    np.testing.assert_array_equal(quiet, off)
    _, loud = L.classify_volume(p.hu, p.spacing_mm, floored, noise_sd=1e6)  # floor far above every peak
    assert (off > 0).any() and not (loud > 0).any()


def test_noise_floor_mean_drops_small_structures_of_noise_like_density():
    # session 20 (wt28b): structures: 1 a 7 mm^2 noise cluster on two slices (mean 170 / 160 HU: 165 weighted), 2 a
    # small dense plaque (mean 300), 3 a faint but large one (12 mm^2), 4 a faint cluster already non-coronary,
    # 5 a cluster whose dense slice lifts its weighted mean (1 x 150 + 3 x 350) / 4 = 300 over the floor
    structure = np.array([1, 1, 2, 3, 4, 5, 5])
    classes = np.array([4, 4, 2, 3, 0, 2, 2])
    mean = np.array([170.0, 160.0, 300.0, 160.0, 160.0, 150.0, 350.0])
    area = np.array([7.0, 7.0, 3.0, 12.0, 2.0, 1.0, 3.0])
    out = noise_floor_mean(classes, structure, mean, area, 60.0, k=3.0, max_area_mm2=8.0)  # floor 40 + 180 = 220 HU
    np.testing.assert_array_equal(out, [0, 0, 2, 3, 0, 2, 2])
    np.testing.assert_array_equal(classes, [4, 4, 2, 3, 0, 2, 2])  # the input is not changed
    # the area-weighted mean, not the plain one: structure 5 with its areas swapped averages (3 x 150 + 1 x 350) / 4
    # = 200 HU, under the floor (the plain mean, 250, is over it)
    np.testing.assert_array_equal(noise_floor_mean(classes, structure, mean, area[[0, 1, 2, 3, 4, 6, 5]], 60.0, k=3.0,
                                                   max_area_mm2=8.0), [0, 0, 2, 3, 0, 0, 0])
    # a 6 mm^2 area limit keeps the 7 mm^2 cluster; a quiet scan (sd 25: floor 115 HU, under the 130 HU threshold)
    # drops nothing; an unknown noise (nan) changes nothing
    np.testing.assert_array_equal(noise_floor_mean(classes, structure, mean, area, 60.0, k=3.0, max_area_mm2=6.0),
                                  [4, 4, 2, 3, 0, 2, 2])
    np.testing.assert_array_equal(noise_floor_mean(classes, structure, mean, area, 25.0, k=3.0, max_area_mm2=8.0),
                                  classes)
    np.testing.assert_array_equal(noise_floor_mean(classes, structure, mean, area, np.nan, k=3.0, max_area_mm2=8.0),
                                  classes)
    with pytest.raises(ValueError, match="disagree"):
        noise_floor_mean(classes, structure, mean[:3], area, 60.0, k=3.0, max_area_mm2=8.0)


def test_noise_floor_mean_is_opt_in_validated_and_round_trips(tmp_path):
    assert L.ClassifierConfig().noise_floor_mean_k is None and not L.ClassifierConfig().needs_noise
    for bad in ({"noise_floor_mean_k": -1.0}, {"noise_floor_mean_k": float("nan")},
                {"noise_floor_mean_area_mm2": -2.0}, {"noise_floor_mean_area_mm2": float("inf")}):
        with pytest.raises(ValueError):
            L.ClassifierConfig(**bad)
    model = L.load_model(MODEL)
    assert model.config.noise_floor_mean_k is None  # a model saved before the switch loads with it off
    cfg = dataclasses.replace(model.config, noise_floor_mean_k=3.0, noise_floor_mean_area_mm2=6.0)
    assert cfg.needs_noise
    L.save_model(dataclasses.replace(model, config=cfg), tmp_path / "m")
    assert json.loads((tmp_path / "m" / "model.json").read_text())["config"]["noise_floor_mean_k"] == 3.0
    loaded = L.load_model(tmp_path / "m").config
    assert (loaded.noise_floor_mean_k, loaded.noise_floor_mean_area_mm2) == (3.0, 6.0)


def test_classify_volume_applies_the_mean_floor_alone_and_estimates_the_noise():
    # with only noise_floor_mean_k on (the peak floor off) classify_volume must still estimate the noise sd
    p = make_patient(45, seed=100, size=128)
    model = L.load_model(MODEL)
    assert model.config.noise_floor_k is None
    cand, off = L.classify_volume(p.hu, p.spacing_mm, model)
    assert (off > 0).sum() >= 2
    # k = 0: the floor is 40 HU, under every candidate's mean (all voxels >= 130 HU): nothing dropped
    zero = dataclasses.replace(model, config=dataclasses.replace(model.config, noise_floor_mean_k=0.0))
    np.testing.assert_array_equal(L.classify_volume(p.hu, p.spacing_mm, zero)[1], off)
    # an absurd floor over every size drops every coronary call (from the image's own noise estimate)
    huge = dataclasses.replace(model, config=dataclasses.replace(model.config, noise_floor_mean_k=1e6,
                                                                 noise_floor_mean_area_mm2=1e6))
    assert not (L.classify_volume(p.hu, p.spacing_mm, huge)[1] > 0).any()
    # the caller's noise sd is read: 0 HU makes the same absurd k a 40 HU floor, which drops nothing
    np.testing.assert_array_equal(L.classify_volume(p.hu, p.spacing_mm, huge, noise_sd=0.0)[1], off)
