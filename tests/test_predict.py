"""Tests of cacscore.predict.run and `cacscore predict` with tiny real bundles and real DICOM/NIfTI files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from cacscore.regress.bundle import load_bundle, save_bundle
from cacscore.cli import main
from cacscore.io.dicom import Volume
from cacscore.regress.models import build_model
from cacscore.io.inputs import discover_inputs
from cacscore.chest.heart import locate_heart
from cacscore.predict.checks import heart_warnings, training_ranges
from cacscore.predict.run import predict_inputs
from cacscore.regress.preprocess import PreprocessConfig, preprocess_volume
from cacscore.evaluation.targets import TargetScaler
from cacscore.core.vessels import VESSELS
from ingest_fixtures import chest_slice, write_coca_release, write_series

SHARED_LIDC = Path(__file__).parents[2] / "shared" / "data" / "lidc-idri-0002"
SIZE, SLICES = 32, 8


def make_bundle(path: Path, *, seed: int = 0, size: int = SIZE, slices: int = SLICES, **preprocess) -> Path:
    """A real (untrained, seeded) CNN bundle; the last bias is set so that outputs are clearly non-zero."""
    torch.manual_seed(seed)
    m = build_model("cnn", in_channels=slices, image_size=size, widths=(4, 8, 8), hidden=8)
    with torch.no_grad():
        m.head[-1].bias.copy_(torch.tensor([0.3, 0.5, 0.4, 0.45]) + 0.05 * seed)
    save_bundle(path, m, {"model": "cnn", "preprocess": PreprocessConfig(size=size, slices=slices, **preprocess).to_dict(),
                          "target_scaling": TargetScaler("log", (5.0, 8.0, 7.0, 8.0)).to_dict(),
                          "training": {"thickness_mm": [5.0, 5.0], "kvp": [100.0, 120.0], "cohort_size": 10}})
    return path


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return make_bundle(tmp_path_factory.mktemp("bundle") / "cnn")


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ens") / "cnn_folds"
    for k in range(3):
        make_bundle(root / f"fold{k}", seed=k)
    return root


@pytest.fixture(scope="module")
def coca(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("coca") / "release"
    write_coca_release(root, size=SIZE, n_slices=6)
    return root


def test_predict_coca_release(bundle, coca):
    run = predict_inputs(bundle, [coca], progress=False)
    assert sorted(r.id for r in run.results) == ["1", "10", "103", "2"]  # "7" has a score row but no folder
    assert not run.failed
    df = run.table()
    assert list(df.columns) == ["id", *VESSELS, "total", "cat4", "cat5", "category", "warnings"]
    s = df[list(VESSELS)].to_numpy()
    assert np.isfinite(s).all() and (s >= 0).all() and (s.sum(1) > 0).all()
    assert np.allclose(df["total"], s.sum(1))
    # same numbers as the bundle on the same preprocessing
    b = load_bundle(bundle)
    from cacscore.io.dicom import read_series
    hu = preprocess_volume(read_series(coca / "deidentified_nongated" / "2" / "2"), b.preprocess)
    assert np.allclose(df.set_index("id").loc["2", list(VESSELS)].to_numpy(float), b.predict(hu[None])[0])
    # a 30 mm scan cannot hold a whole heart
    assert df["warnings"].str.contains("heart").all()


def test_ensemble_mean_and_spread(ensemble, coca):
    run = predict_inputs(ensemble, [coca / "deidentified_nongated" / "1"], progress=False)
    df = run.table()
    assert [c for c in df.columns if c.startswith("sd_")] == [f"sd_{v}" for v in (*VESSELS, "total")]
    assert (df[[f"sd_{v}" for v in VESSELS]].to_numpy() > 0).any()
    ens = load_bundle(ensemble)
    from cacscore.io.dicom import read_series
    hu = preprocess_volume(read_series(coca / "deidentified_nongated" / "1" / "1"), ens.preprocess)
    assert np.allclose(df.loc[0, list(VESSELS)].to_numpy(float), ens.predict(hu[None])[0])
    each = np.stack([m.predict(hu[None])[0] for m in ens.members])
    assert np.allclose(df.loc[0, [f"sd_{v}" for v in VESSELS]].to_numpy(float), each.std(0, ddof=1))


def test_bad_input_is_reported_and_rest_predicted(bundle, coca, tmp_path, capsys):
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "IM-0001-0001.dcm").write_bytes(b"DICM" + bytes(200))
    out = tmp_path / "r.csv"
    rc = main(["predict", str(bundle), str(coca / "deidentified_nongated" / "10"), str(bad),
               str(tmp_path / "missing"), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 1
    assert "broken" in err and "missing" in err and "1 scan(s) predicted, 2 failed" in err
    df = pd.read_csv(out, dtype={"id": str})
    assert df["id"].tolist() == ["10"]


def test_no_phi_unless_asked(bundle, coca, tmp_path, capsys):
    out = tmp_path / "r.csv"
    assert main(["predict", str(bundle), str(coca), "--out", str(out), "--json"]) == 0
    js = capsys.readouterr().out
    text = out.read_text() + js
    assert "SECRET123" not in text and "Doe" not in text
    assert {d["id"] for d in json.loads(js)["scans"]} == {"1", "2", "10", "103"}
    assert main(["predict", str(bundle), str(coca / "deidentified_nongated" / "1"), "--keep-phi",
                 "--out", str(out)]) == 0
    df = pd.read_csv(out, dtype=str)
    assert df.loc[0, "patient_id"] == "SECRET123"


def test_acquisition_warnings(bundle, tmp_path):
    write_series(tmp_path / "contrast", 6, size=SIZE, extra={"ContrastBolusAgent": "IOPAMIDOL", "KVP": 80})
    write_series(tmp_path / "thin", 6, size=SIZE, dz=2.5)
    run = predict_inputs(bundle, [tmp_path / "contrast", tmp_path / "thin"], progress=False)
    w = run.table().set_index("id")["warnings"]
    assert "contrast agent" in w["contrast"] and "80 kVp outside the training range 100-120" in w["contrast"]
    assert "slice thickness 2.5 mm unlike the training data (5 mm only)" in w["thin"]
    assert "contrast" not in w["thin"]
    assert training_ranges([load_bundle(bundle).config]) == {"slice_thickness_mm": (5.0, 5.0), "kvp": (100.0, 120.0)}


def test_heart_warnings():
    tall = np.stack([chest_slice(64, z) for z in np.arange(60) * 5.0]).astype(np.float32)  # 300 mm
    vol = Volume(hu=tall, spacing_mm=(5.0, 4.0, 4.0))
    assert heart_warnings(vol, locate_heart(vol)) == []
    short = Volume(hu=tall[:8], spacing_mm=(5.0, 4.0, 4.0))
    assert "cut off" in heart_warnings(short, locate_heart(short))[0]
    air = Volume(hu=np.full((20, 48, 48), -1000, np.float32), spacing_mm=(5.0, 0.7, 0.7))
    missed = locate_heart(air)
    assert not missed.found and missed.index == (10, 24, 24)  # a returned value, not a log line
    assert heart_warnings(air, missed) == ["heart not found (no lungs found; using the volume centre)"]
    assert "outside the model's depth window" in heart_warnings(vol, locate_heart(vol), window=(0.0, 5.0))[0]


def test_nifti_input_and_discovery(bundle, tmp_path):
    import nibabel as nib

    hu = np.stack([chest_slice(SIZE, z) for z in np.arange(12) * 5.0])  # (z, y, x)
    nib.save(nib.Nifti1Image(hu.transpose(2, 1, 0).astype(np.int16), np.diag([0.7, 0.7, 5.0, 1.0])),
             tmp_path / "scan_a.nii.gz")
    write_series(tmp_path / "a" / "series", 6, size=SIZE)
    write_series(tmp_path / "b" / "series", 6, size=SIZE)
    scans, problems = discover_inputs([tmp_path / "scan_a.nii.gz", tmp_path / "a" / "series", tmp_path / "b" / "series",
                                       tmp_path / "nope.txt"])
    ids = [s.id for s in scans]
    # two folders named "series": each id is the shortest path suffix that tells them apart (issue 17 item 3)
    assert ids == ["scan_a", "a/series", "b/series"]
    assert problems and "nope.txt" in problems[0][0]
    run = predict_inputs(bundle, [tmp_path / "scan_a.nii.gz"], progress=False)
    assert run.ok and run.ok[0].id == "scan_a" and np.isfinite(run.ok[0].scores).all()


def test_predict_real_ge_series(bundle, tmp_path, capsys):
    assert SHARED_LIDC.is_dir(), f"missing the shared real series {SHARED_LIDC} (shared/ must sit beside the repo)"
    out = tmp_path / "r.csv"
    assert main(["predict", str(bundle), str(SHARED_LIDC), "--out", str(out)]) == 0
    df = pd.read_csv(out, dtype={"id": str})
    assert df["id"].tolist() == ["lidc-idri-0002"]
    assert np.isfinite(df[list(VESSELS)].to_numpy()).all()
    assert "slice thickness 1.25 mm unlike the training data (5 mm only)" in df.loc[0, "warnings"]
    w = df.loc[0, "warnings"]
    assert "heart not found" not in w and "cut off" not in w  # a whole chest: heart found, not cut off
    assert "outside the model's depth window" in w  # this bundle sees only 8 x 5 mm around the scan centre
    assert "metal" not in w  # no voxel of this patient reaches 2,000 HU (max 1,752 HU: vertebral cortex, 93 mm away)


def test_metal_in_the_heart_region_is_warned(bundle, tmp_path):
    """A 3 mm x 15 mm 3,000 HU cylinder (a stent) at a coronary is warned about; in the shoulder, or absent, not."""
    from cacscore.phantom import make_patient
    from metal_fixtures import metal_scans

    scans = metal_scans(tmp_path, make_patient(1, seed=7, size=96))  # as tests/test_metal.py (anatomy v2)
    w = predict_inputs(bundle, list(scans.values()), progress=False).table().set_index("id")["warnings"]
    assert "metal in the heart region (" in w["stent"] and "e.g. stent, lead or valve): scores unreliable" in w["stent"]
    assert "metal" not in w["plain"] and "metal" not in w["shoulder"]


def test_unreliable_model_is_flagged_on_every_scan(tmp_path, coca, monkeypatch):
    # reproduce writes test_evaluation.json beside a bundle; a model that hardly beats the
    # constant-mean predictor on its held-out split is flagged in every output row
    b = make_bundle(tmp_path / "weak")
    (b / "test_evaluation.json").write_text(json.dumps(
        {"variant": "retrain", "n_test": 43, "test_mse": 0.060, "constant_mean_test_mse": 0.061,
         "ratio_constant_to_model": 0.061 / 0.060}))
    import cacscore.predict.report as report

    titles = []
    real_figure = report.scan_figure
    monkeypatch.setattr(report, "scan_figure", lambda hu, sl, maps, res, path: (
        titles.append("; ".join(res.warnings)), real_figure(hu, sl, maps, res, path))[1])
    df = predict_inputs(b, [coca], progress=False, report_dir=tmp_path / "rep").table()
    assert df["warnings"].str.contains("unreliable model: its held-out test MSE is only 1.02x lower than").all()
    # the category column says so too: never a bare category from an unreliable model
    assert df["category"].str.endswith(" (unreliable model)").all()
    # the per-scan picture carries the same model warning as the CSV row, once
    assert len(titles) == len(df) > 0
    assert all(t.count("unreliable model") == 1 for t in titles)
    assert df["warnings"].str.count("unreliable model").eq(1).all()
    (b / "test_evaluation.json").write_text(json.dumps(
        {"variant": "retrain", "n_test": 43, "test_mse": 0.010, "constant_mean_test_mse": 0.061,
         "ratio_constant_to_model": 6.1}))
    df = predict_inputs(b, [coca], progress=False).table()
    assert not df["warnings"].str.contains("unreliable").any()
    assert not df["category"].str.contains("unreliable").any()
    (b / "test_evaluation.json").write_text(json.dumps({"n_test": 43, "ratio_constant_to_model": 0.87}))
    w = predict_inputs(b, [coca], progress=False).table()["warnings"]
    assert w.str.contains("1.15x HIGHER than that of predicting the training mean").all()
    assert not w.str.contains("better").any()


def test_heart_crop_bundle_crops_at_prediction(tmp_path):
    """A bundle trained on heart crops (PreprocessConfig.crop_mm) gets the same crop from predict."""
    assert SHARED_LIDC.is_dir(), f"missing the shared real series {SHARED_LIDC}"
    from cacscore.io.dicom import read_series

    b = make_bundle(tmp_path / "crop", centre="heart", crop_mm=176.0)
    out = tmp_path / "r.csv"
    assert main(["predict", str(b), str(SHARED_LIDC), "--out", str(out)]) == 0
    got = pd.read_csv(out, dtype={"id": str}).loc[0, list(VESSELS)].to_numpy(float)
    model = load_bundle(b)
    assert model.preprocess.crop_mm == 176.0
    vol = read_series(SHARED_LIDC)
    expect = model.predict(preprocess_volume(vol, model.preprocess)[None])[0]
    whole = model.predict(preprocess_volume(vol, PreprocessConfig(size=SIZE, slices=SLICES, centre="heart"))[None])[0]
    np.testing.assert_allclose(got, expect, rtol=1e-4, atol=0.51)  # the CSV holds whole Agatston units
    assert not np.allclose(expect, whole)  # the crop changed the input the model saw


def test_bundle_dirs_finds_a_bundle_or_its_folds_and_nothing_else(tmp_path):
    from cacscore.core.bundle_layout import CONFIG, bundle_dirs
    from cacscore.predict.predictors import is_model_folder
    one = tmp_path / "one"
    one.mkdir()
    (one / CONFIG).write_text("{}")
    folds = tmp_path / "folds"
    for k in (1, 0):
        (folds / f"fold{k}").mkdir(parents=True)
        (folds / f"fold{k}" / CONFIG).write_text("{}")
    (folds / "fold9").mkdir()  # a fold folder without a config is not a bundle
    dicom = tmp_path / "scan"
    dicom.mkdir()
    (dicom / "1.dcm").write_bytes(b"")
    assert bundle_dirs(one) == [one]
    assert bundle_dirs(folds) == [folds / "fold0", folds / "fold1"]
    assert bundle_dirs(dicom) == [] and bundle_dirs(tmp_path / "missing") == []
    assert is_model_folder(one) and is_model_folder(folds) and not is_model_folder(dicom)
