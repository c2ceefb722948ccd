"""The fast training path against the reference loop (cacscore.regress.train.fit over a DataLoader on an on-disk cache).

Tiny sizes (8 slices, 32 x 32, 16 scans) so everything runs on CPU in seconds; bench/gpu_check.sh runs the
same file on CUDA (``CACSCORE_TEST_DEVICE=cuda``), where fp32 comparisons use TF32-off fp32.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from cacscore.regress.dataset import ScanDataset
from cacscore.regress.fast_train import (AugmentConfig, DeviceCohort, FastTrainConfig, Member, apply_augment, fit_members,
                                 index_batches, sample_augment, seeded_model)
from cacscore.regress.models import build_model
from cacscore.regress.preprocess import PreprocessConfig, normalise
from cacscore.regress.train import TrainConfig, fit, seeded

DEVICE = torch.device(os.environ.get("CACSCORE_TEST_DEVICE", "cpu"))
if DEVICE.type == "cuda":  # fp32 means fp32 in the comparisons, and the same run gives the same numbers
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False

C, S, N = 8, 32, 16
MODEL_CFG = {
    "cnn": {"in_channels": C, "image_size": S, "widths": (8, 16, 16), "hidden": 16},
    "se_cnn": {"in_channels": C, "image_size": S, "reduction": 4, "widths": (8, 16, 16), "hidden": 16},
    "vit": {"in_channels": C, "image_size": S, "patch_size": 8, "dim": 16, "depth": 2, "heads": 2, "mlp_dim": 32},
}


class TinyCache:
    """A cohort cache on disk with the CohortCache contract: scans/<id>.npy int16 HU, ids, config, load()."""

    def __init__(self, root: Path, config: PreprocessConfig) -> None:
        self.root, self.config = root, config
        self.ids = sorted(p.stem for p in (root / "scans").glob("*.npy"))

    def load(self, scan_id: str) -> np.ndarray:
        return np.load(self.root / "scans" / f"{scan_id}.npy", mmap_mode="r")


def _write_cache(root: Path, *, n: int = N, seed: int = 0, normalisation: str = "scan") -> tuple[TinyCache, np.ndarray]:
    """Random soft-tissue HU with a bright (calcium-like) square whose size drives each vessel's target."""
    rng = np.random.default_rng(seed)
    (root / "scans").mkdir(parents=True)
    y = rng.uniform(0, 1, (n, 4)).astype(np.float32)
    for i in range(n):
        hu = rng.normal(40, 60, (C, S, S))
        hu[:, :4] = -1000  # some air
        for v in range(4):
            r = int(1 + 5 * y[i, v])
            hu[2 * v:2 * v + 2, 6 + 6 * v:6 + 6 * v + r, 10:10 + r] = 400 + 300 * y[i, v]
        np.save(root / "scans" / f"s{i:03d}.npy", np.round(hu).astype(np.int16))
    cfg = PreprocessConfig(size=S, slices=C, normalisation=normalisation)
    return TinyCache(root, cfg), y


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    cache, y = _write_cache(tmp_path_factory.mktemp("cache"))
    return cache, y, DeviceCohort.from_cache(cache, y, device=DEVICE)


def _build(name):
    return lambda: build_model(name, **MODEL_CFG[name])


def _assert_weights_close(got: dict, want: dict, tol: float = 1e-3) -> None:
    """Same weights up to float rounding, as a relative L2 distance over the whole state (BatchNorm statistics
    included). Not per element: AdamW divides by sqrt(v), so a weight whose true gradient is 0 (e.g. the
    attention key bias, which softmax ignores) follows rounding noise by up to lr per step."""
    num = den = 0.0
    for k, v in want.items():
        a, b = got[k].double(), v.detach().cpu().double()
        assert a.shape == b.shape, k
        num += float(((a - b) ** 2).sum())
        den += float((b ** 2).sum())
    assert (num / den) ** 0.5 <= tol, (num / den) ** 0.5


def _reference(cache, y, name, train_idx, val_idx, cfg, init_seed=None):
    with seeded(cfg.seed if init_seed is None else init_seed):
        model = build_model(name, **MODEL_CFG[name])
    ids = cache.ids
    tr = ScanDataset(cache, [ids[i] for i in train_idx], targets_scaled=y[list(train_idx)])
    va = ScanDataset(cache, [ids[i] for i in val_idx], targets_scaled=y[list(val_idx)])
    res = fit(model, tr, va, config=cfg, device=DEVICE, progress=False)
    return model, res


@pytest.mark.parametrize("normalisation", ["scan", "window"])
def test_device_normalisation_equals_preprocess_normalise(tmp_path, normalisation):
    cache, y = _write_cache(tmp_path, n=4, normalisation=normalisation)
    co = DeviceCohort.from_cache(cache, y, device=DEVICE)
    idx = torch.tensor([2, 0, 3], device=DEVICE)
    got = co.inputs(idx).cpu().numpy()
    want = np.stack([normalise(np.asarray(cache.load(cache.ids[i])), cache.config) for i in (2, 0, 3)])
    assert got.dtype == np.float32 and got.shape == (3, C, S, S)
    np.testing.assert_array_equal(got, want)  # bit for bit
    other = PreprocessConfig(size=S, slices=C, normalisation="scan" if normalisation == "window" else "window",
                             window_hu=(-200.0, 600.0))  # a training-time override of the cache's normalisation
    got_o = DeviceCohort.from_cache(cache, y, device=DEVICE, preprocess=other).inputs(idx).cpu().numpy()
    np.testing.assert_array_equal(got_o, np.stack([normalise(np.asarray(cache.load(cache.ids[i])), other)
                                                   for i in (2, 0, 3)]))
    co_cl = DeviceCohort.from_cache(cache, y, device=DEVICE, channels_last=True)
    got_cl = co_cl.inputs(idx)
    assert got_cl.is_contiguous(memory_format=torch.channels_last)
    np.testing.assert_array_equal(got_cl.cpu().numpy(), want)
    # the extremes of int16 and a constant scan (normalise floors the std at 1e-6: zeros)
    cfg = PreprocessConfig(size=S, slices=C, normalisation=normalisation)
    odd = np.full((2, C, S, S), 40, dtype=np.int16)
    odd[1, 0, 0, :2] = (-32768, 32767)
    co2 = DeviceCohort(torch.from_numpy(odd).to(DEVICE), torch.zeros(2, 4), preprocess=cfg)
    got2 = co2.inputs(torch.tensor([0, 1], device=DEVICE)).cpu().numpy()
    np.testing.assert_array_equal(got2, normalise(odd, cfg))
    if normalisation == "scan":
        assert not got2[0].any()


def test_index_batches_is_the_reference_sampler_order():
    ds = list(range(11))
    sampler = torch.utils.data.DistributedSampler(ds, num_replicas=1, rank=0, shuffle=True, seed=7)
    loader = torch.utils.data.DataLoader(ds, batch_size=4, sampler=sampler)
    ours = index_batches(11, 4, 3, 7)
    for e in range(3):
        sampler.set_epoch(e)
        ref = [b.numpy() for b in loader]
        assert [len(b) for b in ref] == [4, 4, 3]
        assert all(np.array_equal(a, b) for a, b in zip(ours[e], ref))
    assert not np.array_equal(np.concatenate(ours[0]), np.concatenate(ours[1]))


@pytest.mark.parametrize("name", ["cnn", "se_cnn", "vit"])
def test_fast_fp32_equals_reference_fit(cohort, name):
    cache, y, co = cohort
    train_idx, val_idx = tuple(range(0, 11)), tuple(range(11, 16))  # 11 train: batches 4, 4, 3
    cfg = TrainConfig(batch_size=4, lr=3e-3, weight_decay=1e-2, max_epochs=2, patience=5, seed=3, eval_batch_size=4)
    ref_model, ref = _reference(cache, y, name, train_idx, val_idx, cfg, init_seed=13)  # as reproduce: seed + fold
    [res] = fit_members(_build(name), co, [Member(train_idx, val_idx, cfg, init_seed=13)],
                        config=FastTrainConfig(bf16=False, channels_last=False), progress=False)
    assert len(res.history) == len(ref.history) == 2
    for a, b in zip(res.history, ref.history):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4, abs=1e-6)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-4, abs=1e-6)
    assert res.best_epoch == ref.best_epoch
    _assert_weights_close(res.state_dict, ref_model.state_dict())
    assert len(res.step_loss) == 6 and res.history[-1]["train_loss"] < res.history[0]["train_loss"]


def test_bf16_autocast_within_bf16_tolerance(cohort):
    cache, y, co = cohort
    m = Member(tuple(range(12)), tuple(range(12, 16)),
               TrainConfig(batch_size=4, lr=1e-3, weight_decay=1e-2, max_epochs=2, patience=5, seed=0))
    [fp32] = fit_members(_build("cnn"), co, [m], config=FastTrainConfig(bf16=False), progress=False)
    [bf16] = fit_members(_build("cnn"), co, [m], config=FastTrainConfig(bf16=True), progress=False)
    [bf16_cast] = fit_members(_build("cnn"), co, [m], config=FastTrainConfig(bf16=True, bf16_input=False),
                              progress=False)
    # bf16 straight from the tables == float32 tables cast by autocast (the first layer is a conv): the same
    # first step; later steps on CUDA may pick other conv kernels for the two input layouts, so bf16 tolerance
    np.testing.assert_allclose(bf16.step_loss[0], bf16_cast.step_loss[0], rtol=1e-6 if DEVICE.type == "cpu" else 1e-3)
    np.testing.assert_allclose(bf16.step_loss, bf16_cast.step_loss, rtol=1e-6 if DEVICE.type == "cpu" else 5e-2)
    a, b = np.array(fp32.step_loss), np.array(bf16.step_loss)
    assert not np.array_equal(a, b)  # autocast really ran in bf16 (members_mode defaults to "loop" with bf16)
    np.testing.assert_allclose(b, a, rtol=5e-2, atol=1e-3)  # bf16 has an 8-bit mantissa (~0.4 % per op)
    for h32, h16 in zip(fp32.history, bf16.history):
        assert h16["val_loss"] == pytest.approx(h32["val_loss"], rel=5e-2, abs=1e-3)


def _grid_members():
    """Three folds x grid points with different sizes, learning rates, decays, batch sizes and seeds: the
    members get different batch sizes at the same step, exercising the group split and buffer write-back."""
    folds = [(tuple(range(0, 12)), tuple(range(12, 16))),
             (tuple(range(4, 16)), tuple(range(0, 4))),
             (tuple(range(0, 13)), tuple(range(13, 16)))]
    points = [(3e-3, 1e-2, 4, 1), (1e-3, 0.0, 4, 2), (3e-3, 1e-1, 5, 3)]
    return [Member(tr, va, TrainConfig(batch_size=b, lr=lr, weight_decay=wd, max_epochs=2, patience=5, seed=s),
                   init_seed=10 + k)
            for k, ((tr, va), (lr, wd, b, s)) in enumerate(zip(folds, points))]


_ALONE: dict = {}


@pytest.mark.parametrize("name,mode", [("cnn", "vmap"), ("cnn", "loop"), ("vit", "vmap")])
def test_members_together_equal_members_apart(cohort, name, mode):
    _, _, co = cohort
    members = _grid_members()
    fast = FastTrainConfig(bf16=False, channels_last=False, members_mode=mode)
    together = fit_members(_build(name), co, members, config=fast, progress=False,
                           max_parallel=2 if mode == "loop" else None)
    for i, (m, got) in enumerate(zip(members, together)):
        if (name, i) not in _ALONE:  # shared by the vmap and loop cases
            _ALONE[name, i] = fit_members(_build(name), co, [m], progress=False,
                                          config=FastTrainConfig(bf16=False, members_mode="loop"))[0]
        alone = _ALONE[name, i]
        np.testing.assert_allclose(got.step_loss, alone.step_loss, rtol=1e-4, atol=1e-6)
        assert [h["val_loss"] for h in got.history] == pytest.approx([h["val_loss"] for h in alone.history],
                                                                      rel=1e-4, abs=1e-6)
        _assert_weights_close(got.state_dict, alone.state_dict)  # BatchNorm running statistics included
    # the members really differ (their own data, seed, lr): no accidental sharing of weights
    assert not torch.equal(together[0].state_dict[next(iter(together[0].state_dict))],
                           together[1].state_dict[next(iter(together[1].state_dict))])


def test_early_stopping_matches_reference(cohort):
    cache, y, co = cohort
    train_idx, val_idx = tuple(range(0, 12)), tuple(range(12, 16))
    cfg = TrainConfig(batch_size=4, lr=1e-1, weight_decay=0.0, max_epochs=6, patience=1, seed=6, eval_batch_size=16)
    ref_model, ref = _reference(cache, y, "cnn", train_idx, val_idx, cfg)
    other = Member(tuple(range(4, 16)), tuple(range(0, 4)), TrainConfig(batch_size=4, lr=1e-3, max_epochs=6, seed=1))
    res, res_other = fit_members(_build("cnn"), co, [Member(train_idx, val_idx, cfg), other],
                                 config=FastTrainConfig(bf16=False, channels_last=False), progress=False)
    assert len(ref.history) < 6 and ref.best_epoch < len(ref.history), "the setting should stop early"
    assert len(res.history) == len(ref.history) and res.best_epoch == ref.best_epoch
    assert len(res_other.history) > len(res.history)  # the other member carried on alone
    _assert_weights_close(res.state_dict, ref_model.state_dict())  # best weights restored


def test_augmentation_samples_then_applies_deterministically():
    x = torch.randn(3, C, S, S, device=DEVICE)
    cfg = AugmentConfig(max_shift_px=4, intensity_scale=0.1, noise_std=0.05)
    p1 = sample_augment(cfg, 3, torch.Generator().manual_seed(9))
    p2 = sample_augment(cfg, 3, torch.Generator().manual_seed(9))
    assert all(torch.equal(p1[k], p2[k]) for k in p1)
    assert torch.equal(apply_augment(x, p1), apply_augment(x, p2))
    assert float(p1["shift_px"].abs().max()) <= 4 and not torch.equal(apply_augment(x, p1), x)
    # a whole-pixel shift moves the image and fills with the lowest corner value, as cacscore.regress.dataset.ShiftAugment
    p = {"shift_px": torch.tensor([[2.0, -3.0]] * 3), "gain": torch.ones(3), "noise_std": torch.zeros(3),
         "noise_seed": torch.tensor(0)}
    out = apply_augment(x, p)
    want = x[:, :, 0, 0].amin(dim=1).view(-1, 1, 1, 1).expand_as(x).clone()  # the fill of ShiftAugment
    want[:, :, 2:, :S - 3] = x[:, :, :S - 2, 3:]
    torch.testing.assert_close(out, want, rtol=1e-5, atol=1e-5)


def test_augmented_training_replays_from_seed(cohort):
    _, _, co = cohort
    m = Member(tuple(range(12)), (), TrainConfig(batch_size=4, max_epochs=1, seed=2))
    fast = FastTrainConfig(bf16=False, augment=AugmentConfig(max_shift_px=3, noise_std=0.1))
    a = fit_members(_build("cnn"), co, [m], config=fast, progress=False)[0].step_loss
    b = fit_members(_build("cnn"), co, [m], config=fast, progress=False)[0].step_loss
    plain = fit_members(_build("cnn"), co, [m], config=FastTrainConfig(bf16=False), progress=False)[0].step_loss
    assert a == b and a != plain


def test_bad_inputs_raise_clear_errors(cohort):
    _, y, co = cohort
    with pytest.raises(ValueError, match="int16"):
        DeviceCohort(torch.zeros(2, C, S, S), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="out of range"):
        fit_members(_build("cnn"), co, [Member((0, 1, 99))], progress=False)
    with pytest.raises(ValueError, match="expected int16"):
        DeviceCohort.from_arrays([np.zeros((C, S, S), np.float32)], y[:1], device="cpu", ids=["bad-scan"])
    with pytest.raises(ValueError, match="members_mode"):
        FastTrainConfig(members_mode="threads")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no training scans"):
        Member(())
    with pytest.raises(ValueError, match="bf16_input"):
        fit_members(_build("cnn"), co, [Member((0, 1))], progress=False,
                    config=FastTrainConfig(bf16=True, bf16_input=True, augment=AugmentConfig(noise_std=0.1)))


def test_seeded_model_leaves_global_rng_alone():
    torch.manual_seed(1)
    state = torch.get_rng_state()
    a, b = seeded_model(_build("cnn"), 4), seeded_model(_build("cnn"), 4)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_channels_last_cohort_and_model_train_the_same(cohort):
    cache, y, co = cohort
    co_cl = DeviceCohort.from_cache(cache, y, device=DEVICE, channels_last=True)
    m = Member(tuple(range(10)), tuple(range(10, 16)), TrainConfig(batch_size=4, max_epochs=2, seed=4))
    [plain] = fit_members(_build("se_cnn"), co, [m], config=FastTrainConfig(bf16=False), progress=False)
    [cl] = fit_members(_build("se_cnn"), co_cl, [m], progress=False,
                       config=FastTrainConfig(bf16=False, channels_last=True, members_mode="loop"))
    np.testing.assert_allclose(cl.step_loss, plain.step_loss, rtol=1e-4, atol=1e-6)
    _assert_weights_close(cl.state_dict, plain.state_dict)


@pytest.mark.parametrize("name,mode", [("cnn", "loop"), ("se_cnn", "vmap"), ("vit", "loop")])
def test_padded_channels_train_the_same_model(cohort, name, mode):
    """A cohort padded with zero-input channels (8 -> 16 here; 73 -> 80 on a GPU) trains the same weights:
    the widened input layer's extra weights stay exactly zero and the result comes back narrowed."""
    cache, y, co = cohort
    padded = co.padded(16)
    assert padded.hu.shape[1] == 16 and padded.channels == C
    got = padded.inputs(torch.tensor([1, 5], device=DEVICE))
    np.testing.assert_array_equal(got[:, :C].cpu().numpy(), co.inputs(torch.tensor([1, 5], device=DEVICE)).cpu().numpy())
    assert not got[:, C:].any()  # pad channels read as exact zeros
    m = Member(tuple(range(11)), tuple(range(11, 16)),
               TrainConfig(batch_size=4, lr=3e-3, weight_decay=1e-2, max_epochs=2, patience=5, seed=2))
    fast = FastTrainConfig(bf16=False, channels_last=False, members_mode=mode)
    [plain] = fit_members(_build(name), co, [m], config=fast, progress=False)
    [wide] = fit_members(_build(name), padded, [m], config=fast, progress=False)
    assert {k: tuple(v.shape) for k, v in wide.state_dict.items()} == \
        {k: tuple(v.shape) for k, v in plain.state_dict.items()}  # narrowed back to C input channels
    np.testing.assert_allclose(wide.step_loss, plain.step_loss, rtol=1e-4, atol=1e-6)
    _assert_weights_close(wide.state_dict, plain.state_dict)
    with pytest.raises(ValueError, match="padded already"):
        padded.padded(24)
    odd = torch.full((1, C, S, S), -32768, dtype=torch.int16)
    with pytest.raises(ValueError, match="reserved for pad channels"):
        DeviceCohort(odd.to(DEVICE), torch.zeros(1, 4), pad_channels_to=16)


@pytest.mark.parametrize("normalisation", ["scan", "window"])
def test_affine_input_path_matches_the_tables(tmp_path, normalisation):
    """The fused-kernel input path (clip * a + b per scan) gives the tables' inputs within float32 rounding,
    padded and channels_last too, and trains the same model within float tolerance."""
    cache, y = _write_cache(tmp_path, n=6, normalisation=normalisation)
    for cl in (False, True):
        co = DeviceCohort.from_cache(cache, y, device=DEVICE, channels_last=cl)
        idx = torch.tensor([4, 1, 5], device=DEVICE)
        want = co.inputs(idx).cpu().numpy()
        for cohort_ in (co, co.padded(16)):
            aff = cohort_.with_input_path("affine")
            got = aff.inputs(idx)
            assert got.shape == (3, cohort_.hu.shape[1], S, S) and got.dtype == torch.float32
            np.testing.assert_allclose(got[:, :C].cpu().numpy(), want, rtol=1e-5, atol=1e-5)
            assert not got[:, C:].any()
            bf = aff.inputs(idx, torch.bfloat16)[:, :C].float().cpu().numpy()
            np.testing.assert_allclose(bf, want, rtol=1e-2, atol=1e-2)
        assert co.with_input_path("affine").hu is co.hu  # no copy of the scans
    m = Member(tuple(range(6)), (), TrainConfig(batch_size=3, lr=3e-3, max_epochs=2, seed=1))
    fast = FastTrainConfig(bf16=False, channels_last=False)
    [a] = fit_members(_build("cnn"), co, [m], config=fast, progress=False)
    [b] = fit_members(_build("cnn"), co.with_input_path("affine"), [m], config=fast, progress=False)
    np.testing.assert_allclose(a.step_loss, b.step_loss, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="input path"):
        co.with_input_path("table")
