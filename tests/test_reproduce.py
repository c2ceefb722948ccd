"""Tiny end-to-end run of the protocol on a synthetic cohort cache written here (np.save + manifest + config)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from cacscore.regress.bundle import Bundle, BundleError, Ensemble, load_bundle
from cacscore.evaluation.metrics import agreement_table
from cacscore.regress.preprocess import PreprocessConfig
from cacscore.regress.reproduce import reproduce
from cacscore.regress.saliency import saliency_map
from cacscore.regress.models import build_model
from cacscore.core.vessels import VESSELS


pytestmark = pytest.mark.usefixtures("one_torch_thread")



def write_cache(path, n=30, slices=8, size=32, seed=0):
    """Cohort cache with bright 'calcium' squares whose area follows each vessel's score."""
    rng = np.random.default_rng(seed)
    (path / "scans").mkdir(parents=True)
    cfg = PreprocessConfig(size=size, slices=slices)
    (path / "config.json").write_text(json.dumps({"format_version": 1, "preprocess": cfg.to_dict()}))
    rows = []
    for i in range(n):
        zero = i % 3 == 0
        y = np.zeros(4) if zero else np.round(rng.uniform(0, 1, 4) ** 2 * rng.choice([50, 300, 1500]))
        hu = rng.normal(40, 20, (slices, size, size))
        for v in range(4):
            r = int(np.sqrt(y[v]) / 6)
            if r:
                hu[2 * v, 2:2 + r, 2 + 7 * v:2 + 7 * v + r] = 600
        np.save(path / "scans" / f"p{i:03d}.npy", hu.astype(np.int16))
        rows.append({"id": f"p{i:03d}", "source": "synthetic", "status": "ok", "error": "",
                     **dict(zip(VESSELS, y)), "total": y.sum(), "thickness_mm": 5.0, "kvp": 120})
    rows.append({"id": "bad", "source": "synthetic", "status": "error", "error": "unreadable"})
    pd.DataFrame(rows).to_csv(path / "manifest.csv", index=False)
    return cfg


def test_reproduce_end_to_end(tmp_path):
    cfg = write_cache(tmp_path / "cache")
    grid = {"batch_size": [4], "lr": [3e-3, 1e-3], "weight_decay": [1e-4], "max_epochs": 2, "patience": 2}
    out = tmp_path / "out"
    paths = reproduce(tmp_path / "cache", out, models=["cnn", "vit"], grid=grid, device="cpu", progress=False)
    for name in ("table1.csv", "table1.md", "fig2_loss_curves.png", "fig3_saliency.png", "splits.json"):
        assert paths[name].is_file() and paths[name].stat().st_size > 0
    table = pd.read_csv(out / "table1.csv")
    assert list(table["variant"]) == ["retrain", "ensemble"] * 2 + ["baseline"]
    assert table["test_mse"].notna().all() and (table["test_mse"] >= 0).all()
    assert table.loc[table.variant != "baseline", "val_mse_sd"].notna().all()
    assert "kappa4_total" in table and "spearman_LAD" in table
    cv = pd.read_csv(out / "cv_results.csv")
    assert len(cv) == 2 * 2 * 5  # models x grid points x folds
    best = cv.groupby(["model", "grid_point"])["val_mse"].mean()
    for name in ("cnn", "vit"):  # the chosen grid point has the lowest mean validation MSE
        assert table.loc[table.model == {"cnn": "CNN", "vit": "ViT"}[name], "grid_point"].iloc[0] == best[name].idxmin()
    splits = json.loads((out / "splits.json").read_text())
    assert "bad" not in splits["test"] + splits["train"] and len(splits["test"]) == 6
    preds = pd.read_csv(out / "test_predictions.csv", dtype={"id": str})
    assert list(preds.columns) == ["id", "model", "variant", *VESSELS, "total"]
    assert len(preds) == 6 * 5 and set(preds["variant"]) == {"retrain", "ensemble", "baseline"}
    truth = pd.read_csv(tmp_path / "cache" / "manifest.csv", dtype={"id": str}).set_index("id")
    for r in table.itertuples():  # Table 1's clinical metrics are recomputed exactly from the written predictions
        sub = preds[(preds.variant == r.variant) & (preds.model == {"CNN": "cnn", "ViT": "vit"}.get(r.model, "constant_mean"))]
        assert list(sub["id"]) == splits["test"]
        assert np.allclose(sub["total"], sub[list(VESSELS)].sum(axis=1))
        tab = agreement_table(truth.loc[sub["id"], list(VESSELS)].to_numpy(float), sub[list(VESSELS)].to_numpy(float))
        assert np.isclose(tab.loc["total", "kappa4"], r.kappa4_total, equal_nan=True)
        assert np.isclose(tab.loc["LAD", "icc"], r.icc_LAD, equal_nan=True)
    md = (out / "table1.md").read_text()
    assert "Mean Val. MSE" in md and "constant mean" in md

    hu = np.stack([np.load(tmp_path / "cache" / "scans" / f"{i}.npy") for i in splits["test"][:3]])
    b = load_bundle(out / "models" / "cnn")
    assert isinstance(b, Bundle) and not b.model.training and b.preprocess == cfg
    assert b.config["training"]["cohort_size"] == 24 and b.config["training"]["kvp"] == [120.0, 120.0]
    pred = b.predict(hu)
    cnn_retrain = preds[(preds.model == "cnn") & (preds.variant == "retrain")]
    assert np.allclose(pred, cnn_retrain[list(VESSELS)].to_numpy()[:3], atol=1.0)  # the bundle gives the same scores
    assert pred.shape == (3, 4) and (pred >= 0).all() and np.all(pred == np.round(pred))
    ens = load_bundle(out / "models" / "vit_folds")
    assert isinstance(ens, Ensemble) and len(ens.members) == 5
    # each bundle carries its held-out evidence, equal to Table 1's numbers
    for folder, variant in (("cnn", "retrain"), ("vit_folds", "ensemble")):
        ev = json.loads((out / "models" / folder / "test_evaluation.json").read_text())
        row = table[(table.model == {"cnn": "CNN", "vit_folds": "ViT"}[folder]) & (table.variant == variant)].iloc[0]
        base_row = table[table.variant == "baseline"].iloc[0]
        assert ev["variant"] == variant and ev["n_test"] == len(splits["test"])
        assert np.isclose(ev["test_mse"], row.test_mse, rtol=1e-5)
        assert np.isclose(ev["constant_mean_test_mse"], base_row.test_mse, rtol=1e-5)
        assert np.isclose(ev["ratio_constant_to_model"], base_row.test_mse / row.test_mse, rtol=1e-4)
    assert ens.predict(hu).shape == (3, 4)
    with pytest.raises(ValueError, match="expects HU of shape"):
        b.predict(hu[:, :4])
    with pytest.raises(BundleError, match="not a model bundle"):
        load_bundle(out)

    # a rerun resumes from the checkpoints: same table, no retraining
    table2 = reproduce(tmp_path / "cache", out, models=["cnn", "vit"], grid=grid, device="cpu",
                       progress=False)["table1.csv"]
    again = pd.read_csv(table2)
    pd.testing.assert_frame_equal(table.drop(columns="seconds"), again.drop(columns="seconds"))


def test_saliency_map():
    torch.manual_seed(0)
    m = build_model("cnn", in_channels=3, image_size=16)
    x = torch.randn(1, 3, 16, 16)
    s = saliency_map(m, x)
    assert s.shape == (3, 16, 16) and s.dtype == np.float32 and (s >= 0).all() and s.sum() > 0
    s1 = saliency_map(m, x, target=1)
    assert not np.allclose(s, s1) and m.training
    with pytest.raises(ValueError, match="target"):
        saliency_map(m, x, target=4)
    with pytest.raises(ValueError, match=r"\(1, C, H, W\)"):
        saliency_map(m, x[0])


def test_reproduce_fast_trainer_matches_reference(tmp_path, monkeypatch):
    """--trainer fast (cacscore.regress.fast_train: all folds and grid points of a model in one call) gives the reference
    trainer's cross-validation and Table 1 within float tolerance, here on CPU in fp32."""
    # the reference's in-memory preload holds float16 inputs (~4 % apart after 2 epochs); from disk it is float32
    monkeypatch.setattr("cacscore.regress.reproduce.PRELOAD_LIMIT_BYTES", 0)
    write_cache(tmp_path / "cache", n=20)
    grid = {"batch_size": [4], "lr": [3e-3, 1e-3], "weight_decay": [1e-4], "max_epochs": 2, "patience": 2}
    ref = reproduce(tmp_path / "cache", tmp_path / "ref", models=["cnn"], grid=grid, device="cpu",
                    trainer="reference", progress=False)
    fast = reproduce(tmp_path / "cache", tmp_path / "fast", models=["cnn"], grid=grid, device="cpu",
                     trainer="fast", progress=False)
    cv_r, cv_f = pd.read_csv(tmp_path / "ref" / "cv_results.csv"), pd.read_csv(tmp_path / "fast" / "cv_results.csv")
    assert list(cv_r["best_epoch"]) == list(cv_f["best_epoch"])
    np.testing.assert_allclose(cv_f["val_mse"], cv_r["val_mse"], rtol=1e-3)
    np.testing.assert_allclose(cv_f["train_mse"], cv_r["train_mse"], rtol=1e-3)
    t_r, t_f = pd.read_csv(ref["table1.csv"]), pd.read_csv(fast["table1.csv"])
    np.testing.assert_allclose(t_f["test_mse"], t_r["test_mse"], rtol=1e-2)
    assert not (tmp_path / "fast" / "runs").exists()  # the fast trainer writes no checkpoints
    assert json.loads((tmp_path / "fast" / "reproduce_config.json").read_text())["trainer"] == "fast"
    with pytest.raises(ValueError, match="trainer must be"):
        reproduce(tmp_path / "cache", tmp_path / "x", models=["cnn"], grid=grid, device="cpu", trainer="gpu")


def test_reproduce_bf16_reaches_training_and_bundles(tmp_path):
    """--bf16: both trainers train under bf16 autocast + channels_last; the bundles record it, and the
    reference trainer's CV losses track the fp32 run's within bf16 tolerance."""
    write_cache(tmp_path / "cache", n=20)
    grid = {"batch_size": [4], "lr": [1e-3], "weight_decay": [1e-4], "max_epochs": 2, "patience": 2}
    fp32 = reproduce(tmp_path / "cache", tmp_path / "fp32", models=["cnn"], grid=grid, device="cpu",
                     trainer="reference", progress=False)
    (tmp_path / "grid.json").write_text(json.dumps(grid))
    from cacscore.cli import main  # the command line's --bf16 reaches the trainer
    assert main(["reproduce", str(tmp_path / "cache"), str(tmp_path / "bf16"), "--models", "cnn", "--grid",
                 str(tmp_path / "grid.json"), "--device", "cpu", "--trainer", "reference", "--bf16"]) == 0
    bf16 = {"table1.csv": tmp_path / "bf16" / "table1.csv", "models": tmp_path / "bf16" / "models"}
    cv32, cv16 = pd.read_csv(tmp_path / "fp32" / "cv_results.csv"), pd.read_csv(tmp_path / "bf16" / "cv_results.csv")
    assert not np.array_equal(cv32["train_mse"], cv16["train_mse"])
    np.testing.assert_allclose(cv16["train_mse"], cv32["train_mse"], rtol=0.1)
    assert json.loads((tmp_path / "bf16" / "reproduce_config.json").read_text())["bf16"] is True
    cfg = json.loads((bf16["models"] / "cnn" / "config.json").read_text())
    assert cfg["training"]["precision"] == "bf16" and cfg["training"]["channels_last"] is True
    assert json.loads((fp32["models"] / "cnn" / "config.json").read_text())["training"]["precision"] == "fp32"
    fast = reproduce(tmp_path / "cache", tmp_path / "fast", models=["cnn"], grid=grid, device="cpu",
                     trainer="fast", bf16=True, progress=False)
    np.testing.assert_allclose(pd.read_csv(fast["table1.csv"])["test_mse"], pd.read_csv(bf16["table1.csv"])["test_mse"],
                               rtol=0.1)


def test_reproduce_keeping_best_checkpoints_only_gives_the_same_table(tmp_path):
    """keep_checkpoints=False (the demo's default): every finished run keeps its best weights only, Table 1 is the
    same as with full checkpoints, and a rerun reloads the compacted runs (no retraining, same table)."""
    from cacscore.regress.train import read_checkpoint

    write_cache(tmp_path / "cache", n=20)
    grid = {"batch_size": [4], "lr": [3e-3], "weight_decay": [1e-4], "max_epochs": 2, "patience": 2}
    kw = dict(models=["cnn"], grid=grid, device="cpu", trainer="reference", progress=False)
    full = reproduce(tmp_path / "cache", tmp_path / "full", **kw)["table1.csv"]
    small = reproduce(tmp_path / "cache", tmp_path / "small", keep_checkpoints=False, **kw)["table1.csv"]
    drop = ["seconds"]
    pd.testing.assert_frame_equal(pd.read_csv(full).drop(columns=drop), pd.read_csv(small).drop(columns=drop))
    runs = sorted((tmp_path / "small" / "runs").rglob("checkpoint.safetensors"))
    assert runs and all(read_checkpoint(r.parent)[1].get("compacted") for r in runs)
    size = lambda d: sum(p.stat().st_size for p in (tmp_path / d / "runs").rglob("checkpoint.safetensors"))  # noqa: E731
    assert size("small") < 0.3 * size("full")
    again = reproduce(tmp_path / "cache", tmp_path / "small", keep_checkpoints=False, **kw)["table1.csv"]
    pd.testing.assert_frame_equal(pd.read_csv(small).drop(columns=drop), pd.read_csv(again).drop(columns=drop))
