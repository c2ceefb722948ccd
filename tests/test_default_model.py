"""The shipped default model and the clinician's path: ``cacscore predict INPUT...`` with no model argument."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from cacscore.cli import build_parser, main
from cacscore.core.vessels import VESSELS
from cacscore.predict.predictors import DEFAULT_MODEL, LesionPredictor, is_model_folder, load_predictor

REPO = Path(__file__).resolve().parents[1]
SHARED_LIDC = REPO.parent / "shared" / "data" / "lidc-idri-0002"


def test_default_model_ships_as_package_data_with_its_provenance():
    files = sorted(p.name for p in DEFAULT_MODEL.iterdir() if p.is_file())
    assert files == ["model.json", "model.safetensors"]
    assert sum((DEFAULT_MODEL / f).stat().st_size for f in files) < 2_000_000  # small enough for a wheel
    # pyproject's package data names exactly these files (so a non-editable wheel install has them)
    globs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    pkg = DEFAULT_MODEL.parent
    shipped = {p.name for g in globs["cacscore.predict"] for p in pkg.glob(g)}
    assert shipped == set(files)
    predictor = load_predictor(DEFAULT_MODEL)
    assert isinstance(predictor, LesionPredictor)
    # session 16: the voxel split and the structure veto are on in the shipped model (pre-registered, model card)
    assert predictor.model.config.voxel_split and predictor.model.config.structure_veto
    # session 16: trained on anatomy v11 phantoms, which draw 1.25-5 mm slices and 100-140 kVp (docs/model_card.md)
    assert predictor.ranges == {"slice_thickness_mm": (1.25, 5.0), "kvp": (100.0, 140.0)}
    prov = json.loads((DEFAULT_MODEL / "model.json").read_text())["info"]["provenance"]
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", prov["code_version"])
    # session 29: C3LF, a three-seed ensemble trained on v11 (seed 13001) and v24 (seed 14965) phantoms
    assert prov["data"]["phantom_seed"] == [13001, 14965] and "look-alikes on" in prov["data"]["kind"]
    assert prov["data"]["phantom_anatomy"] == "v11 + v24"
    assert "--anatomy v11" in prov["reproduce"] and "--anatomy v24" in prov["reproduce"]
    assert len(predictor.model.members()) == 3
    # session 28's two structure terms, on in the shipped model since session 29 (docs/model_card.md)
    assert predictor.model.config.structure_veto_largest == 0.85 and predictor.model.config.structure_ring_veto_floor
    assert any(c.startswith("cacscore lesion-train ") for c in prov["commands"])
    total = prov["held_out_metrics"]["total"]
    value, low, high, baseline = total["kappa4"]
    assert low <= value <= high and value > baseline  # a measured interval, and better than the constant


def test_model_folders_are_told_from_scan_folders(tmp_path):
    assert is_model_folder(DEFAULT_MODEL)
    (tmp_path / "fold0").mkdir()
    (tmp_path / "fold0" / "config.json").write_text("{}")
    assert is_model_folder(tmp_path)
    assert not is_model_folder(tmp_path / "fold0" / "config.json")  # a file
    assert not is_model_folder(tmp_path / "nope")


def test_every_predict_and_ingest_option_has_help():
    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    for name in ("predict", "ingest", "evaluate", "lesion-train", "lesion-score", "reproduce", "demo"):
        missing = [a.dest for a in sub.choices[name]._actions if not a.help]
        assert not missing, (name, missing)


def test_predict_real_ct_with_no_model_argument(capsys):
    """The issue's done-when: one command on a real chest CT prints per-vessel scores."""
    assert SHARED_LIDC.is_dir(), f"missing the shared real series {SHARED_LIDC}"
    rc = main(["predict", str(SHARED_LIDC)])
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert rc == 0 and lines[0].split() == ["id", *VESSELS, "total", "category", "warnings"]
    row = lines[1].split()
    assert row[0] == "lidc-idri-0002" and all(re.fullmatch(r"\d+\.\d", v) for v in row[1:6])
    assert abs(sum(float(v) for v in row[1:5]) - float(row[5])) < 0.3  # the total is the vessel sum
    assert "1 scan(s) predicted, 0 failed" in err and "deprecated" not in err
    # the shipped model records its training acquisition (1.25-5 mm since session 16): 0002's 1.25 mm is inside it
    assert "slice thickness" not in out
    assert "contrast" not in out  # a non-contrast scan: neither the header nor the image warns
    assert "noisy image" not in out  # its image noise reads about 26 HU, under checks.NOISY_IMAGE_HU


def test_noise_warning_threshold():
    from cacscore.predict.checks import NOISY_IMAGE_HU, noise_warnings

    assert noise_warnings(None) == [] and noise_warnings(float("nan")) == [] and noise_warnings(NOISY_IMAGE_HU) == []
    (w,) = noise_warnings(NOISY_IMAGE_HU + 5)
    assert w.startswith("noisy image (noise about 45 HU, above 40)")


def test_a_noisy_real_scan_is_warned_about():
    """LIDC-IDRI-0002 with Gaussian noise of sd 50 HU added (image noise then about 56 HU): the shipped scorer's
    output carries the noisy-image warning (noise specks get scored as calcium on such scans)."""
    import dataclasses

    import numpy as np

    from cacscore.io.ct import read_ct

    vol = read_ct(SHARED_LIDC)
    rng = np.random.default_rng(0)
    noisy = dataclasses.replace(vol, hu=(vol.hu + rng.normal(0, 50, vol.hu.shape)).astype(vol.hu.dtype))
    warnings = LesionPredictor(DEFAULT_MODEL).score(noisy).warnings
    assert any(w.startswith("noisy image (noise about ") for w in warnings), warnings


def test_contrast_seen_in_the_image_is_warned_about_when_the_header_is_silent():
    """LIDC-IDRI-0001 is contrast-enhanced and says so in its header; read as if its header did not (a NIfTI or a
    stripped header), the shipped scorer still warns, from the contrast-filled blood its chest anatomy sees."""
    import dataclasses

    from cacscore.io.ct import read_ct
    from cacscore.predict.checks import acquisition_warnings

    lidc = SHARED_LIDC.parent / "lidc-idri-0001"
    assert lidc.is_dir(), f"missing the shared real series {lidc}"
    vol = read_ct(lidc)
    assert vol.contrast  # the header records it ...
    assert acquisition_warnings(vol, {}, image_contrast=True) == [
        "contrast agent in the header: calcium scores on contrast CT are unreliable"]  # ... and one warning says so
    silent = dataclasses.replace(vol, contrast=False)
    warnings = LesionPredictor(DEFAULT_MODEL).score(silent).warnings
    assert any(w.startswith("contrast-filled blood in the image (no agent in the header)") for w in warnings)
    assert not any(w.startswith("contrast agent in the header") for w in warnings)


@pytest.fixture(scope="module")
def gated_series(tmp_path_factory) -> list[Path]:
    """The six gated series of a simulated gated release: six folders with one name."""
    from cacscore.phantom import write_release
    from cacscore.phantom.writer import GATED_DIR, GATED_SERIES

    root = tmp_path_factory.mktemp("gated") / "rel"
    write_release(root, n_patients=6, seed=5, size=64, gated=True)
    series = [root / GATED_DIR / "patient" / str(p) / GATED_SERIES for p in range(1, 7)]
    assert all(s.is_dir() for s in series) and len({s.name for s in series}) == 1
    return series


def test_six_gated_series_with_one_folder_name_are_all_scored(gated_series, tmp_path, capsys):
    """COCA's gated release names every patient's series alike (patient/<id>/Pro_Gated_CS_3.0_I30f_3_(70%)); given
    as six folders, all six are scored with distinct ids (ids come from cacscore.io.inputs)."""
    series = gated_series
    out = tmp_path / "p.csv"
    rc = main(["predict", *map(str, series), "--out", str(out)])
    err = capsys.readouterr().err
    df = pd.read_csv(out, dtype={"id": str})
    assert rc == 0, err
    assert len(df) == 6 and df["id"].nunique() == 6
    assert df[list(VESSELS)].notna().all().all()


@pytest.mark.parametrize("how", ["--out -", "--json"])
def test_predict_machine_readable_stdout(how, capsys):
    assert SHARED_LIDC.is_dir()
    rc = main(["predict", str(SHARED_LIDC), *how.split()])
    out = capsys.readouterr().out
    assert rc == 0
    if how == "--json":
        assert json.loads(out)["scans"][0]["id"] == "lidc-idri-0002"
    else:
        assert out.splitlines()[0].startswith("id,LCA,LAD,LCX,RCA,total,cat4,cat5,category")


def test_predict_workers_give_the_same_table_in_input_order(gated_series):
    from cacscore.predict.run import predict_inputs

    one = predict_inputs(None, gated_series[:4], progress=False).table()
    two = predict_inputs(None, gated_series[:4], progress=False, workers=2).table()
    pd.testing.assert_frame_equal(one, two)
    assert len(one) == 4
    with pytest.raises(ValueError, match="--workers must be >= 1"):
        predict_inputs(None, gated_series[:1], workers=0)
