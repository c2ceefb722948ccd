"""Tests of the candidate-classification scorer (cacscore.lesion.candidates) on tiny phantoms (128 px)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from cacscore import lesion as L
from cacscore.chest.hull import outside_thorax_mm, thorax_hull
from cacscore.lesion.classifier import cap_density
from cacscore.phantom import make_patient
from cacscore.scoring.agatston import agatston
from cacscore.core.vessels import VESSELS

SEED = 100
PIDS = (38, 65, 70, 107)  # anatomy v4: 5 mm slices, calcified in 3-4 vessels (6-21 plaques each; v3 used 45, 69, 112, 129)


@pytest.fixture(scope="module")
def patients():
    return [make_patient(pid, seed=SEED, size=128) for pid in PIDS]


@pytest.fixture(scope="module")
def static_candidates(patients):
    return [L.find_candidates(p.hu_static, p.spacing_mm) for p in patients]


@pytest.fixture(scope="module")
def trained(patients):
    feats, targets = [], []
    for p in patients:
        c = L.find_candidates(p.hu, p.spacing_mm)
        feats.append(c.features)
        targets.append(L.candidate_targets(c.ids, p.labels))
    f, t = np.concatenate(feats), np.concatenate(targets)
    cfg = L.ClassifierConfig(hidden=(32, 16), epochs=60, batch_size=256, lr=5e-3, class_weight_power=1.0, seed=3)
    return L.train_classifier(f, t, config=cfg), f, t


def test_candidates_match_the_phantom_plaques(patients, static_candidates):
    for p, c in zip(patients, static_candidates):
        ref = agatston(p.hu_static, p.labels, pixel_spacing_mm=p.spacing_mm[1:], slice_spacing_mm=p.spacing_mm[0])
        tg = L.candidate_targets(c.ids, p.labels)
        # one coronary candidate per scored lesion, every scored voxel inside a candidate of its vessel
        assert int((tg > 0).sum()) == ref.lesion_count["total"] > 0
        scored = (p.hu_static >= 130) & (p.labels > 0)
        assert (c.ids[scored] > 0).all()
        assert c.ids.shape == p.hu.shape and c.ids.max() == c.n
        # candidates are Agatston lesions: the contributions of the coronary ones add up to the truth
        assert c.agatston[tg > 0].sum() == pytest.approx(p.truth["total"], rel=1e-9, abs=1e-9)


def test_feature_table_is_finite_and_named(patients, static_candidates):
    for p in patients:
        c = L.find_candidates(p.hu, p.spacing_mm)
        assert c.features.shape == (c.n, len(L.FEATURE_NAMES)) and c.n > 100
        assert np.isfinite(c.features).all()
        j = L.FEATURE_NAMES.index("peak_hu")
        assert (c.features[:, j] >= 130).all()
        k = L.FEATURE_NAMES.index("dist_mm")
        assert (c.features[:, k] >= 0).all()


def _mixed(ids: np.ndarray, labels: np.ndarray) -> int:
    """Number of candidates whose voxels carry two or more vessel labels (vessels touching in a slice)."""
    sel = (ids > 0) & (labels > 0)
    pairs = np.unique(np.stack([ids[sel], labels[sel]]), axis=1)
    return int((np.bincount(pairs[0]) > 1).sum())


def test_oracle_assignment_reproduces_truth_exactly(patients, static_candidates):
    pure = 0
    for p, c in zip(patients, static_candidates):
        s = L.score_assignment(p.hu_static, c, L.candidate_targets(c.ids, p.labels))
        assert s["total"] == pytest.approx(p.truth["total"], rel=1e-12, abs=1e-9), p.pid
        if _mixed(c.ids, p.labels) == 0:  # one vessel per candidate: every vessel's score is exact
            pure += 1
            for v in VESSELS:
                assert s[v] == pytest.approx(p.truth[v], rel=1e-12, abs=1e-9), (p.pid, v)
        # and on the written (moving, noisy) image the oracle reproduces the phantom's truth_moving
        cm = L.find_candidates(p.hu, p.spacing_mm, heart_index=c.heart_index)
        sm = L.score_assignment(p.hu, cm, L.candidate_targets(cm.ids, p.labels))
        assert sm["total"] == pytest.approx(p.truth_moving["total"], rel=1e-9, abs=1e-9)
    assert pure >= 3  # a lesion touching two vessels' labels in one slice is split by the truth


def test_classifier_beats_chance_on_its_training_candidates(trained):
    model, f, t = trained
    pred = model.predict(f)
    present = np.unique(t)
    assert present.size >= 4  # non-coronary + at least three vessels
    recall = [np.mean(pred[t == k] == k) for k in present]
    assert np.mean(recall) > 0.6, recall  # chance (balanced) is 1 / 5
    assert np.mean(pred[t == 0] == 0) > 0.9


def test_training_leaves_threads_and_rng_alone_and_is_deterministic(trained):
    import torch
    model, f, t = trained
    cfg = L.ClassifierConfig(hidden=(32, 16), epochs=60, batch_size=256, lr=5e-3, class_weight_power=1.0, seed=3)
    threads = torch.get_num_threads()
    torch.manual_seed(7)
    state = torch.get_rng_state()
    again = L.train_classifier(f, t, config=cfg)
    assert torch.get_num_threads() == threads and torch.equal(torch.get_rng_state(), state)
    for a, b in zip(model.net.state_dict().values(), again.net.state_dict().values()):
        assert torch.equal(a, b)


def test_save_load_round_trip_gives_identical_predictions(trained, tmp_path):
    model, f, _ = trained
    L.save_model(model, tmp_path / "m")
    assert sorted(x.name for x in (tmp_path / "m").iterdir()) == ["model.json", "model.safetensors"]
    cfg = json.loads((tmp_path / "m" / "model.json").read_text())
    assert cfg["feature_names"] == list(L.BASE_FEATURE_NAMES)  # the default set: the columns before session 13
    back = L.load_model(tmp_path / "m")
    np.testing.assert_array_equal(back.predict_proba(f), model.predict_proba(f))
    assert back.config == model.config
    # candidates beyond max_distance_mm from the heart are non-coronary by rule
    far = f.copy()
    far[:, L.FEATURE_NAMES.index("dist_mm")] = model.config.max_distance_mm + 1
    assert (back.predict(far) == 0).all()
    (tmp_path / "m" / "model.json").write_text("{not json")
    with pytest.raises(ValueError, match="model.json: not valid JSON"):
        L.load_model(tmp_path / "m")


def test_density_cap_reads_denser_candidates_as_the_cap_and_survives_save_load(trained, tmp_path):
    """config.density_cap_hu clips mean_hu / peak_hu before the MLP: a candidate denser than the cap gets exactly the
    probabilities of the same candidate at the cap; below it nothing changes; the cap is saved and loaded back."""
    model, f, _ = trained
    capped = dataclasses.replace(model, config=dataclasses.replace(model.config, density_cap_hu=(500.0, 930.0)))
    im, ip = L.FEATURE_NAMES.index("mean_hu"), L.FEATURE_NAMES.index("peak_hu")
    near = f[model.reachable(f)][:20]  # candidates the MLP is asked about (the others are 0 by rule)
    assert len(near) >= 5
    dense, at_cap, light = near.copy(), near.copy(), near.copy()
    dense[:, im], dense[:, ip] = 1400.0, 2500.0
    at_cap[:, im], at_cap[:, ip] = 500.0, 930.0
    light[:, im], light[:, ip] = 300.0, 600.0
    np.testing.assert_array_equal(capped.predict_proba(dense), capped.predict_proba(at_cap))
    np.testing.assert_array_equal(capped.predict_proba(light), model.predict_proba(light))
    assert not np.array_equal(model.predict_proba(dense), model.predict_proba(at_cap))  # the uncapped model differs
    assert dense[0, im] == 1400.0  # the caller's table is not clipped in place
    L.save_model(capped, tmp_path / "c")
    back = L.load_model(tmp_path / "c")
    assert back.config.density_cap_hu == (500.0, 930.0) and back.config == capped.config
    np.testing.assert_array_equal(back.predict_proba(dense), capped.predict_proba(at_cap))
    with pytest.raises(ValueError, match="density_cap_hu"):
        L.ClassifierConfig(density_cap_hu=(500.0, float("nan")))


def test_training_with_a_density_cap_trains_on_the_capped_columns(trained):
    """train_classifier clips mean_hu / peak_hu at config.density_cap_hu before the standardisation and the MLP, as
    predict_proba does: the same model (weights, mean, std) as training uncapped on the clipped table; the coronary
    rows' 90th percentiles (before the cap) are recorded in info; a cap below the data changes the model."""
    _, f, t = trained
    cfg = L.ClassifierConfig(hidden=(8,), epochs=3, batch_size=256, seed=3)
    cap = (300.0, 450.0)
    im, ip = L.FEATURE_NAMES.index("mean_hu"), L.FEATURE_NAMES.index("peak_hu")
    assert (f[:, im] > cap[0]).any() and (f[:, ip] > cap[1]).any()  # the cap clips something
    capped = L.train_classifier(f, t, config=dataclasses.replace(cfg, density_cap_hu=cap))
    by_hand = L.train_classifier(cap_density(f, L.FEATURE_NAMES, cap), t, config=cfg)
    plain = L.train_classifier(f, t, config=cfg)
    np.testing.assert_array_equal(capped.mean, by_hand.mean)
    np.testing.assert_array_equal(capped.std, by_hand.std)
    for k, v in capped.numpy_net().state_dict().items():
        np.testing.assert_array_equal(v, by_hand.numpy_net().state_dict()[k])
    assert capped.mean[im] <= cap[0] and not np.array_equal(capped.mean, plain.mean)
    near = f[:, L.FEATURE_NAMES.index("dist_mm")] <= cfg.max_distance_mm
    cor = f[near & (t > 0)]
    d = capped.info["coronary_density_hu"]
    assert d == plain.info["coronary_density_hu"] and d["n"] == len(cor) and d["percentile"] == 90
    assert d["mean_hu"] == pytest.approx(np.percentile(cor[:, im], 90), abs=0.05)
    assert d["peak_hu"] == pytest.approx(np.percentile(cor[:, ip], 90), abs=0.05)
    assert d["max"][1] == pytest.approx(cor[:, ip].max(), abs=0.05)
    f_before = f.copy()
    cap_density(f, L.FEATURE_NAMES, cap)
    np.testing.assert_array_equal(f, f_before)  # the caller's table is not clipped in place
    assert cap_density(f, L.FEATURE_NAMES, None) is f


def test_numpy_inference_equals_torch(trained, tmp_path):
    """The MLP runs in numpy for scoring (no torch import); its probabilities are the torch module's up to float
    rounding, on the model just trained (a torch CandidateMLP) and on the same model saved and loaded back."""
    import torch

    model, f, _ = trained
    assert isinstance(model.net, L.CandidateMLP)
    near = model.table(f[f[:, L.FEATURE_NAMES.index("dist_mm")] <= model.config.max_distance_mm][:200])  # its columns
    x = (near - model.mean) / model.std
    with torch.no_grad():
        ref = torch.softmax(model.net.eval()(torch.from_numpy(x)), dim=1).numpy()
        logits_t = model.net(torch.from_numpy(x)).numpy()
    logits_n = model.numpy_net()(x)
    np.testing.assert_allclose(logits_n, logits_t, rtol=1e-5, atol=1e-5)
    assert np.abs(logits_t).max() > 1.0  # a trained net: the comparison is not between near-zero outputs
    back = L.load_model(L.save_model(model, tmp_path / "m"))
    assert isinstance(back.net, L.classifier.NumpyMLP)
    # a random MLP with 3 hidden layers too (the layer naming net.0, net.3, net.6, net.9)
    torch.manual_seed(1)
    deep = L.CandidateMLP(x.shape[1], (8, 6, 4), 0.2).eval()
    with torch.no_grad():
        want = deep(torch.from_numpy(x)).numpy()
    got = L.classifier.NumpyMLP.from_state(deep.state_dict(), x.shape[1], (8, 6, 4))(x)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for m in (model, back):
        p = m.predict_proba(near)
        in_z = m.in_coronary_z_range(near)
        assert in_z.sum() > 20
        np.testing.assert_allclose(p[in_z], ref[in_z], rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(p.argmax(1)[in_z], ref.argmax(1)[in_z])
    with pytest.raises(ValueError, match="want"):
        L.classifier.NumpyMLP.from_state(deep.state_dict(), len(L.FEATURE_NAMES), (8, 5, 4))


def test_scoring_never_imports_torch(tmp_path):
    """Loading a lesion model and scoring a scan with it (what cacscore predict does) imports no torch (and no
    pandas: the terminal table needs none)."""
    import subprocess
    import sys

    code = ("import sys; import numpy as np; from cacscore.predict.predictors import load_predictor, DEFAULT_MODEL; "
            "from cacscore.io.dicom import Volume; "
            "z, y, x = np.mgrid[0:40, 0:96, 0:96]; "  # a crude chest: body, two lungs, calcium spots
            "hu = np.where((y - 48) ** 2 + (x - 48) ** 2 < 42 ** 2, 40.0, -1000.0); "
            "hu[((y - 45) ** 2 + (x - 30) ** 2 < 14 ** 2) | ((y - 45) ** 2 + (x - 66) ** 2 < 14 ** 2)] = -850.0; "
            "hu[(z % 7 == 3) & (y % 11 == 5) & (x % 13 == 6)] = 400.0; "
            "r = load_predictor(DEFAULT_MODEL).score(Volume(hu=hu.astype(np.float32), spacing_mm=(5.0, 3.0, 3.0))); "
            "assert np.isfinite(r.scores).all(); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'pandas'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_score_volume_is_agatston_of_the_assigned_candidates(trained, patients):
    model, _, _ = trained
    p = patients[1]
    s = L.score_volume(p.hu, p.spacing_mm, model)
    c, classes = L.classify_volume(p.hu, p.spacing_mm, model)  # the MLP, then the chest-wall and anatomy rules
    labels = L.assign_labels(c.ids, classes)
    ref = agatston(p.hu, labels, pixel_spacing_mm=p.spacing_mm[1:], slice_spacing_mm=p.spacing_mm[0]).as_row()
    assert s == ref
    assert set(s) == {*VESSELS, "total"}
    assert s["total"] == pytest.approx(sum(s[v] for v in VESSELS))


def test_bad_input_gives_clear_errors(patients):
    p = patients[0]
    hu = p.hu[:6].copy()
    hu[2, 5, 5] = np.nan
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        L.find_candidates(hu, p.spacing_mm)
    with pytest.raises(ValueError, match=r"3-D \(z, y, x\) array, got shape \(128, 128\)"):
        L.find_candidates(p.hu[0], p.spacing_mm)
    with pytest.raises(ValueError, match="spacing_mm must be three positive"):
        L.find_candidates(p.hu[:6], (5.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="spacing_mm must be three positive"):
        L.find_candidates(p.hu[:6], (5.0, 1.0))
    c = L.find_candidates(p.hu[:6], p.spacing_mm, heart_index=(3, 64, 64))
    with pytest.raises(ValueError, match="does not match the candidate volume"):
        L.candidate_targets(c.ids, p.labels)
    with pytest.raises(ValueError, match="one entry per candidate"):
        L.assign_labels(c.ids, np.zeros(c.n + 1, int))
    with pytest.raises(ValueError, match="features must be"):
        L.ClassifierConfig()  # valid config is fine
        L.LesionModel(L.CandidateMLP(len(L.FEATURE_NAMES), (4,), 0.0), np.zeros(len(L.FEATURE_NAMES)),
                      np.ones(len(L.FEATURE_NAMES)), L.ClassifierConfig()).predict(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="hidden must be positive"):
        L.ClassifierConfig(hidden=())


def test_chest_wall_calcium_is_non_coronary_by_rule(trained, patients, monkeypatch):
    """Calcified costal cartilage in the anterior chest wall (outside the lungs' convex hull) is never a coronary
    lesion, whatever the classifier says; every candidate inside the hull keeps the classifier's class."""
    model, _, _ = trained
    p = patients[0]
    hu = p.hu.copy()
    hz, hy, hx = L.find_candidates(hu, p.spacing_mm).heart_index
    skin = int(np.argmax(hu[hz, :, hx] > -400))  # first body row above the heart, in its column
    hu[hz - 1:hz + 2, skin + 2:skin + 4, hx + 6:hx + 8] = 500  # a 3-slice plaque ~6 mm under the skin
    # the MLP says "LAD" for every candidate it is asked about (classify reads the probabilities: the structure vote
    # sums them; it asks only about the rows `where` names, the others read non-coronary)
    def all_lad(self, f, where=None):
        out = np.tile(np.eye(5)[2], (len(f), 1))
        if where is not None:
            out[~np.asarray(where, bool)] = np.eye(5)[0]
        return out

    monkeypatch.setattr(L.LesionModel, "predict_proba", all_lad)
    cand, classes = L.classify_volume(hu, p.spacing_mm, model)
    wall = np.unique(cand.ids[hz - 1:hz + 2, skin + 2:skin + 4, hx + 6:hx + 8])
    wall = wall[wall > 0] - 1
    assert len(wall) == 3 and (cand.outside_thorax_mm[wall] > model.config.thorax_margin_mm).all()
    assert (classes[wall] == 0).all()
    truth = L.candidate_targets(cand.ids, p.labels)
    coronary = truth > 0
    assert coronary.sum() >= 3 and (cand.outside_thorax_mm[coronary] < 0).all()
    assert (classes[coronary] == 2).all()  # the rule leaves the heart alone
    off = dataclasses.replace(model, config=dataclasses.replace(model.config, thorax_margin_mm=None,
                                                                anatomy_rules=False))
    assert (L.classify_volume(hu, p.spacing_mm, off)[1][wall] == 2).all()


def test_outside_thorax_mm_signs_and_no_lungs():
    p = make_patient(PIDS[0], seed=SEED, size=128)
    sp = p.spacing_mm
    hz, hy, hx = L.find_candidates(p.hu, sp).heart_index
    d = outside_thorax_mm(p.hu, sp, np.array([[hz * sp[0], hy * sp[1], hx * sp[2]],
                                                [hz * sp[0], 1 * sp[1], hx * sp[2]]]))  # heart; air above the body
    assert d[0] < -20 and d[1] > 20
    solid = np.full((20, 64, 64), 40, np.int16)  # no lungs: no hull, no rule
    assert np.isnan(outside_thorax_mm(solid, (3.0, 1.0, 1.0), np.zeros((2, 3)))).all()


def test_real_chest_ct_chest_wall_is_not_coronary():
    """LIDC-IDRI-0002 (real, no calcium reference): the phantom-trained model once called two calcified
    costal-cartilage spots in the anterior chest wall "LAD" (52 AU). They lie outside the lungs' hull, and the
    heart centre inside it; the scan now scores 0."""
    from pathlib import Path

    from cacscore.io.dicom import read_series

    lidc = Path(__file__).parents[2] / "shared" / "data" / "lidc-idri-0002"
    if not lidc.is_dir():
        pytest.fail(f"real test series missing: {lidc}")
    vol = read_series(lidc)
    model = L.load_model(Path(__file__).parent / "data" / "lesion_model_phantom300")
    cand, classes = L.classify_volume(vol.hu, vol.spacing_mm, model)
    hz, hy, hx = cand.heart_index
    sp = vol.spacing_mm
    assert outside_thorax_mm(vol.hu, sp, np.array([[hz * sp[0], hy * sp[1], hx * sp[2]]]))[0] < -30
    wall = [cand.ids[68, 90, 260], cand.ids[96, 93, 302]]  # the two spots, (z, y, x) voxel indices
    assert all(w > 0 for w in wall)
    assert all(cand.outside_thorax_mm[w - 1] > 10 for w in wall)
    assert (classes == 0).all()
    # what the classifier alone says, given every candidate's tissue context (scoring skips the context of
    # candidates a rule calls non-coronary, these two among them)
    every = L.find_candidates(vol.hu, sp, heart_index=cand.heart_index, hull=cand.thorax_hull, anatomy=cand.anatomy)
    raw = model.predict(every.features)
    assert all(raw[w - 1] == 2 for w in wall)  # LAD: the rule, not the classifier, catches them


def test_coronary_z_range_rule(trained, tmp_path):
    """A model only calls coronary what lies within the height range (dz_mm) of its coronary training
    candidates +- z_margin_mm; the range is saved with the model; z_margin_mm None turns the rule off."""
    model, f, t = trained
    lo, hi = model.info["coronary_dz_mm"]
    dz = L.FEATURE_NAMES.index("dz_mm")
    assert lo == f[t > 0, dz].min() and hi == f[t > 0, dz].max()
    cor = f[t > 0]
    high = cor.copy()
    high[:, dz] = hi + model.config.z_margin_mm + 1  # e.g. the aortic arch of a whole-chest scan
    assert (model.predict(high) == 0).all()
    inside = cor.copy()
    inside[:, dz] = hi + model.config.z_margin_mm - 1
    np.testing.assert_array_equal(model.in_coronary_z_range(inside), True)
    L.save_model(model, tmp_path / "m")
    back = L.load_model(tmp_path / "m")
    assert back.info["coronary_dz_mm"] == [lo, hi] and (back.predict(high) == 0).all()
    off = dataclasses.replace(model, config=dataclasses.replace(model.config, z_margin_mm=None))
    assert off.in_coronary_z_range(high).all()
    legacy = dataclasses.replace(model, info={})  # saved before the range existed: no rule
    assert legacy.in_coronary_z_range(high).all()


def _old_outside_thorax_mm(hu, spacing_mm, points_mm, step_mm=4.0):
    """cacscore.lesions.outside_thorax_mm as it was before the lung mask was shared (commit e7f3994), verbatim:
    its own lung mask on a ~4 mm grid in z and in-plane."""
    from scipy import ndimage
    from scipy.spatial import ConvexHull, QhullError

    from cacscore.chest.lungs import lung_mask

    pts = np.asarray(points_mm, float).reshape(-1, 3)
    nan = np.full(len(pts), np.nan)
    sp = [float(v) for v in spacing_mm]
    zs, st = max(1, int(round(step_mm / sp[0]))), max(1, int(round(step_mm / sp[1])))
    lung = lung_mask(hu[::zs, ::st, ::st])
    lab, n = ndimage.label(lung)
    if n == 0 or len(pts) == 0:
        return nan
    sizes = np.bincount(lab.ravel())[1:]
    lung = np.isin(lab, np.flatnonzero(sizes >= 0.1 * sizes.max()) + 1)
    surface = np.argwhere(lung & ~ndimage.binary_erosion(lung)) * np.array([sp[0] * zs, sp[1] * st, sp[2] * st])
    try:
        eq = ConvexHull(surface).equations
    except (QhullError, ValueError):
        return nan
    return (pts @ eq[:, :3].T + eq[:, 3]).max(axis=1)


@pytest.mark.parametrize("dtype", [np.float32, np.int16, np.float64])
def test_one_lung_mask_per_scan_gives_the_old_candidates(dtype):
    """find_candidates finds the heart and the chest-wall hull from one lung mask (preprocess.lung_field) now;
    before, find_heart and outside_thorax_mm each made their own, on different grids. Same candidates, features,
    heart and hull distances as the old path (find_heart alone, then the old outside_thorax_mm), for float32 and
    int16 HU (shared) and float64 (not shared: a float32 cast could move a value across -400 HU)."""
    from cacscore.chest.heart import find_heart
    from cacscore.chest.lungs import lung_field

    p = make_patient(5, seed=SEED, size=96)
    hu = p.hu.astype(dtype)
    sp = p.spacing_mm
    new = L.find_candidates(hu, sp)
    old = L.find_candidates(hu, sp, heart_index=find_heart(hu, sp))  # find_heart's own lung mask
    assert new.n > 50 and new.heart_index == old.heart_index
    assert np.array_equal(new.ids, old.ids) and np.array_equal(new.features, old.features)
    assert np.array_equal(new.agatston, old.agatston)
    # the hull distances against the verbatim old function, at the same centroids
    coords = np.nonzero(new.ids)
    cid = new.ids[coords]
    cnt = np.bincount(cid)[1:].astype(float)
    pts = np.stack([np.bincount(cid, weights=coords[a])[1:] / cnt * sp[a] for a in range(3)], axis=1)
    want = _old_outside_thorax_mm(hu, sp, pts)
    assert np.isfinite(want).all()
    assert np.array_equal(new.outside_thorax_mm, want) and np.array_equal(old.outside_thorax_mm, want)
    # find_heart with the shared field is find_heart; a field of another grid is refused
    lungs = lung_field(hu, sp)
    assert find_heart(hu, sp, lungs=lungs) == find_heart(hu, sp)
    assert np.array_equal(thorax_hull(hu, sp, lungs=lungs), thorax_hull(hu, sp))
    with pytest.raises(ValueError, match="another grid"):
        find_heart(hu, (sp[0], sp[1] / 2, sp[2] / 2), lungs=lungs)


def test_context_only_near_the_heart_changes_no_near_feature_and_no_class(patients, trained):
    """Scoring computes the tissue-context features only where asked (context_where, e.g. within the classifier's
    reach): the features of nearer candidates are bit-identical, the farther ones get 0 context, and no class
    changes."""
    p = patients[0]
    full = L.find_candidates(p.hu, p.spacing_mm)
    d = full.features[:, L.FEATURE_NAMES.index("dist_mm")]
    ds = np.unique(d)
    reach = float(ds[len(ds) // 2 - 1] + ds[len(ds) // 2]) / 2  # between two candidates (float32 table vs float64)
    dist = L.FEATURE_NAMES.index("dist_mm")
    part = L.find_candidates(p.hu, p.spacing_mm, context_where=lambda f, outside, anatomy: f[:, dist] <= reach)
    near = d <= reach
    assert 0 < near.sum() < len(near)
    np.testing.assert_array_equal(part.features[near], full.features[near])
    ctx = [L.FEATURE_NAMES.index(n) for n in L.FEATURE_NAMES if n.endswith("mm") and n.split("_")[0] in
           ("fat", "soft", "bright", "air")]
    assert len(ctx) == 10 and (part.features[~near][:, ctx] == 0).all()
    assert (full.features[~near][:, ctx] != 0).any()
    model = trained[0]
    cand, classes = L.classify_volume(p.hu, p.spacing_mm, model)  # the scoring path (context_where=may_be_coronary)
    every = L.find_candidates(p.hu, p.spacing_mm, heart_index=cand.heart_index, anatomy=cand.anatomy)  # all context
    assert (every.features[:, ctx] != cand.features[:, ctx]).any()
    np.testing.assert_array_equal(classes, model.classify(every.features, every.outside_thorax_mm,
                                                          every.anatomy_columns))
    # the scoring path computed context exactly where no rule calls the candidate non-coronary
    maybe = model.may_be_coronary(every.features, every.outside_thorax_mm, every.anatomy_columns)
    assert 0 < maybe.sum() < len(maybe)
    np.testing.assert_array_equal(cand.features[maybe], every.features[maybe])
    assert (cand.features[~maybe][:, ctx] == 0).all()


def test_surface_distance_at_points_equals_the_edt():
    """The anatomy columns measure distances at the candidates only (k-d tree of the mask's surface): the same values
    as scipy's EDT of the whole coarse grid, signed (pericardium) and unsigned (bone), on anisotropic grids."""
    from scipy import ndimage

    from cacscore.chest.anatomy import signed_distance
    from cacscore.lesion.anatomy import SurfaceDistance, _Nearest

    rng = np.random.default_rng(4)
    for shape, grid in (((20, 30, 25), (2.5, 2.7265625, 2.7265625)), ((9, 40, 40), (5.0, 1.5, 1.5))):
        blob = ndimage.gaussian_filter(rng.random(shape), 2.0)
        for mask in (blob > np.quantile(blob, 0.8), blob > np.quantile(blob, 0.3), np.zeros(shape, bool),
                     np.ones(shape, bool)):
            idx = np.argwhere(np.ones(shape, bool))[rng.choice(np.prod(shape), 400, replace=False)]
            at = tuple(idx.T)
            got, want = SurfaceDistance(mask, np.array(grid)).at(idx), signed_distance(mask, np.array(grid))[at]
            np.testing.assert_array_equal(got, want)
            if mask.any():
                np.testing.assert_array_equal(_Nearest(mask, np.array(grid)).at(idx),
                                              ndimage.distance_transform_edt(~mask, sampling=grid)[at])


def test_3d_structures_equal_a_26_connected_label(patients):
    """_structure3d joins the candidates touching across slices as a graph: the same structures (volume, slices,
    largest area) as labelling ids > 0 with 26-connectivity, as it was computed before."""
    from scipy import ndimage

    from cacscore.lesion import candidates as C

    rng = np.random.default_rng(2)
    vols = [(p.hu, p.spacing_mm) for p in patients[:2]]
    vols.append((np.where(rng.random((12, 40, 50)) < 0.25, 400.0, -50.0).astype(np.float32), (2.0, 0.8, 0.8)))
    for hu, sp in vols:
        ids = C._components(hu, sp[1] * sp[2], 130.0, 0.5)
        m = int(ids.max())
        st = C._slice_stats(hu, ids, m, sp, 130.0)
        got = C._structure3d(ids, st, m, sp)
        coords, cid = st["coords"], st["cid"]
        lab3, n3 = ndimage.label(ids > 0, structure=np.ones((3, 3, 3), bool))
        c3 = lab3[coords]
        vox3 = np.bincount(c3, minlength=n3 + 1)
        per3 = np.zeros(n3 + 1)
        np.maximum.at(per3, c3, st["area"][cid - 1])
        zmin3, zmax3 = np.full(n3 + 1, 10**9), np.full(n3 + 1, -1)
        np.minimum.at(zmin3, c3, coords[0])
        np.maximum.at(zmax3, c3, coords[0])
        first = np.zeros(m, np.int64)
        first[cid - 1] = c3
        assert len(np.unique(first)) < m  # some candidates do share a structure
        np.testing.assert_array_equal(got["log_vol3d_mm3"], np.log1p(vox3[first] * sp[1] * sp[2] * sp[0]))
        np.testing.assert_array_equal(got["n_slices3d"], (zmax3[first] - zmin3[first] + 1).astype(float))
        np.testing.assert_array_equal(got["log_area3d_max_mm2"], np.log1p(per3[first]))




def test_anatomy_features_train_save_load_and_score(patients, tmp_path):
    """A model that reads anatomy columns (ClassifierConfig.features): trained on feature_table of the candidate
    features and their anatomy columns (nan where a part was not found), saved with its feature names, loaded
    back with the same predictions, and scoring a volume builds the same table itself. A model naming a column
    this version does not know fails to load with a one-line error naming the file."""
    from cacscore.chest.anatomy import read_chest
    from cacscore.lesion.anatomy import ANATOMY_NAMES, CONTRAST_NAMES, GEOMETRY_NAMES
    from cacscore.lesion.classifier import DEFAULT_FEATURES, FEATURE_SETS, feature_table

    assert DEFAULT_FEATURES == L.BASE_FEATURE_NAMES  # the shipped model's; anatomy and shape columns are a choice
    assert FEATURE_SETS["shape"] == L.FEATURE_NAMES
    names = FEATURE_SETS["anatomy"]
    base = len(L.BASE_FEATURE_NAMES)
    assert names[:base] == L.BASE_FEATURE_NAMES and set(GEOMETRY_NAMES) <= set(names)
    assert not set(CONTRAST_NAMES) & set(names)  # the contrast-lumen rule's columns are no model input
    assert ANATOMY_NAMES == (*GEOMETRY_NAMES, *CONTRAST_NAMES)
    fs, ts, cs = [], [], []
    for p in patients[:2]:
        c = L.find_candidates(p.hu, p.spacing_mm, anatomy=read_chest(p.hu, p.spacing_mm))
        fs.append(c.features), ts.append(L.candidate_targets(c.ids, p.labels)), cs.append(c.anatomy_columns)
    f, t, a = np.concatenate(fs), np.concatenate(ts), np.concatenate(cs)
    a[::5, 0] = np.nan  # a part not found on some scans
    x = feature_table(f, a, names)
    assert x.shape == (len(f), len(names)) and np.array_equal(x[:, :base], f[:, :base])
    cfg = L.ClassifierConfig(hidden=(16,), epochs=3, features=names, seed=1)
    model = L.train_classifier(x, t, config=cfg)
    assert model.feature_names == names and np.isfinite(model.mean).all()
    assert np.array_equal(model.classify(f, None, a), model.classify(x, None, a))  # candidate features or the table
    with pytest.raises(ValueError, match="need features"):
        L.train_classifier(f, t, config=cfg)  # the candidate features alone do not fit
    L.save_model(model, tmp_path / "m")
    back = L.load_model(tmp_path / "m")
    assert back.config == model.config and back.feature_names == names
    np.testing.assert_array_equal(back.predict_proba(x), model.predict_proba(x))
    cand, classes = L.classify_volume(patients[0].hu, patients[0].spacing_mm, back)
    assert cand.anatomy_columns is not None and classes.shape == (cand.n,)
    cfg_json = json.loads((tmp_path / "m" / "model.json").read_text())
    cfg_json["feature_names"][-1] = "sternum_distance_v9"
    cfg_json["config"]["features"][-1] = "sternum_distance_v9"
    (tmp_path / "m" / "model.json").write_text(json.dumps(cfg_json))
    with pytest.raises(ValueError, match=r"model\.json: feature\(s\) sternum_distance_v9 unknown") as e:
        L.load_model(tmp_path / "m")
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="unknown to this version"):
        L.ClassifierConfig(features=("dz_mm", "dist_mm", "nonsense"))
