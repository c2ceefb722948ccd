"""Cohort jobs of the candidate scorer (cacscore.lesion.train) and `cacscore lesion-train / lesion-score`,
on a tiny phantom release (8 patients, 96 px; patients 1, 2, 4, 5, 7 have calcium in the written image)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from cacscore import cli
from cacscore.chest.heart import locate_heart
from cacscore.lesion import train as LC
from cacscore.lesion.classifier import framed_candidates
from cacscore import lesion as L
from cacscore.phantom import write_release
from cacscore.io.ct import read_ct as load_ct
from cacscore.predict import lesion_score as LS
from cacscore.scoring.files import score_files
from cacscore.core.categories import CATEGORY4_LABELS, risk_category4
from cacscore.core.vessels import VESSELS

SEED, SIZE, N = 37, 96, 8  # found by search on v2 (gated 1-4 outline exactly); v3: patient 1 56 AU written
CONFIG = L.ClassifierConfig(hidden=(32, 16), epochs=60, batch_size=256, lr=5e-3, class_weight_power=1.0, seed=3)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """The tiny MLP trains ~20x slower with 2 torch threads on a busy 2-core machine (measured: 38 s vs 1.9 s);
    restored after this module."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lesion_cohort") / "release"
    write_release(root, n_patients=N, seed=SEED, size=SIZE)
    return root


@pytest.fixture(scope="module")
def model_dir(release, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("model") / "model"
    LC.train_lesion_model(LC.training_pairs(release), out, config=CONFIG, progress=False)
    return out


def _ct(release: Path, pid: int) -> Path:
    return release / "deidentified_nongated" / str(pid) / str(pid)


def _write_nifti_ct(path: Path, hu: np.ndarray, spacing_mm) -> Path:
    """A (z, y, x) HU array as a NIfTI file the way load_ct reads it: stored (x, y, z), zooms (x, y, z)."""
    img = nib.Nifti1Image(np.ascontiguousarray(hu.transpose(2, 1, 0)).astype(np.float32), np.eye(4))
    dz, py, px = spacing_mm
    img.header.set_zooms((px, py, dz))
    nib.save(img, str(path))
    return path


def test_training_pairs_from_release_and_a_folder_without_labels(release, tmp_path):
    cases = LC.training_pairs(release)
    assert [c.id for c in cases] == [str(i) for i in range(1, N + 1)]  # natural order, folder names
    for c in cases:
        assert c.ct == _ct(release, int(c.id)) and c.ct.is_dir() and c.labels == release / "labels" / f"{c.id}.nii.gz"
    coca_like = tmp_path / "coca"
    (coca_like / "deidentified_nongated" / "1" / "1").mkdir(parents=True)
    with pytest.raises(LC.LesionCohortError, match=r"no labels/ folder.*COCA"):
        LC.training_pairs(coca_like)
    with pytest.raises(LC.LesionCohortError, match="no such file"):
        LC.training_pairs(tmp_path / "missing")


def test_train_from_release_writes_model_and_report(release, model_dir):
    rep = json.loads((model_dir / LC.TRAINING_REPORT).read_text())
    assert rep["n_used"] == N and rep["skipped"] == []
    per = rep["candidates"]["per_class"]
    assert list(per) == list(L.CLASS_NAMES)
    assert sum(per.values()) == rep["candidates"]["total"] == sum(rep["candidates_per_case"].values())
    assert sum(per[v] for v in VESSELS) >= 5  # the calcified patients' plaques
    assert rep["seconds"]["train"] > 0 and rep["config"]["seed"] == CONFIG.seed
    model = L.load_model(model_dir)
    assert model.config == CONFIG


def test_train_from_csv_skips_and_reports_bad_cases(release, tmp_path):
    # a truncated DICOM slice, labels of another patient (other slice count), NaN HU in a NIfTI CT
    broken = tmp_path / "broken_dicom"
    shutil.copytree(_ct(release, 2), broken)
    f = sorted(broken.glob("*.dcm"))[5]
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    ct5 = load_ct(_ct(release, 5))
    hu = ct5.hu.copy()
    hu[3, 10, 10] = np.nan
    nan_ct = _write_nifti_ct(tmp_path / "nan_ct.nii.gz", hu, ct5.spacing_mm)
    n_slices = {i: load_ct(_ct(release, i)).hu.shape[0] for i in (1, 3)}
    assert n_slices[1] != n_slices[3]
    rows = [("good1", release / "deidentified_nongated/1/1", release / "labels/1.nii.gz"),
            ("good4", release / "deidentified_nongated/4/4", release / "labels/4.nii.gz"),
            ("good7", release / "deidentified_nongated/7/7", release / "labels/7.nii.gz"),
            ("trunc", broken, release / "labels/2.nii.gz"),
            ("mismatch", release / "deidentified_nongated/1/1", release / "labels/3.nii.gz"),
            ("nan", nan_ct, release / "labels/5.nii.gz")]
    csv = tmp_path / "pairs.csv"
    pd.DataFrame([{"id": i, "ct": str(c), "labels": str(lab)} for i, c, lab in rows]).to_csv(csv, index=False)
    cases = LC.training_pairs(csv)
    assert [c.id for c in cases] == [r[0] for r in rows]
    rep = LC.train_lesion_model(cases, tmp_path / "m", config=L.ClassifierConfig(epochs=3, seed=1), progress=False)
    assert rep["cases_used"] == ["good1", "good4", "good7"]
    reasons = {s["id"]: s["reason"] for s in rep["skipped"]}
    assert set(reasons) == {"trunc", "mismatch", "nan"}
    assert str(broken) in reasons["trunc"] and "pixel data" in reasons["trunc"]
    assert "labels/3.nii.gz" in reasons["mismatch"] and "does not match" in reasons["mismatch"]
    assert "nan_ct.nii.gz" in reasons["nan"] and "NaN" in reasons["nan"]
    assert all("\n" not in r for r in reasons.values())
    assert json.loads((tmp_path / "m" / LC.TRAINING_REPORT).read_text())["skipped"] == rep["skipped"]
    L.load_model(tmp_path / "m")

    # relative paths in a CSV are relative to the CSV; no id column -> the CT's folder / file name
    rel = release / "pairs_rel.csv"
    rel.write_text("ct,labels\ndeidentified_nongated/4/4,labels/4.nii.gz\n")
    assert LC.training_pairs(rel) == [LC.Case("4", release / "deidentified_nongated/4/4", release / "labels/4.nii.gz")]
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("image,mask\na,b\n")
    with pytest.raises(LC.LesionCohortError, match="missing column"):
        LC.training_pairs(bad_csv)


def test_score_cases_good_and_bad_inputs_and_label_round_trip(release, model_dir, tmp_path, capsys):
    ct1 = load_ct(_ct(release, 1))
    nifti1 = _write_nifti_ct(tmp_path / "p1.nii.gz", ct1.hu, ct1.spacing_mm)
    hu = ct1.hu.copy()
    hu[0, 0, 0] = np.nan
    nan_ct = _write_nifti_ct(tmp_path / "nanct.nii.gz", hu, ct1.spacing_mm)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    inputs = [_ct(release, 1), _ct(release, 5), nifti1, tmp_path / "missing", text, nan_ct]
    out_csv, lab_dir = tmp_path / "scores.csv", tmp_path / "labels"
    df = LS.score_cases(model_dir, inputs, out_csv=out_csv, labels_out=lab_dir, progress=False)
    assert list(df.columns) == list(LS.SCORE_COLUMNS)
    assert list(df["id"]) == ["1", "5", "p1", "missing", "notes.txt", "nanct"]
    ok, bad = df.iloc[:3], df.iloc[3:]
    assert (ok["error"] == "").all() and (bad["error"] != "").all()
    assert bad[[*VESSELS, "total"]].isna().all().all() and bad["cat4"].isna().all()
    assert str(tmp_path / "missing") in bad["error"].iloc[0]
    assert str(text) in bad["error"].iloc[1] and str(nan_ct) in bad["error"].iloc[2] and "NaN" in bad["error"].iloc[2]
    np.testing.assert_allclose(ok["total"], ok[list(VESSELS)].sum(axis=1), rtol=1e-9)
    assert ok["total"].iloc[0] > 40  # patient 1 holds 56 AU of calcium in the written image (v3; v2: ~400)
    # the same HU as NIfTI scores the same as the DICOM folder
    np.testing.assert_allclose(ok.iloc[2][[*VESSELS, "total"]].astype(float),
                               ok.iloc[0][[*VESSELS, "total"]].astype(float), rtol=1e-6)
    assert list(ok["cat4"]) == [risk_category4(v) for v in ok["total"]]
    assert list(ok["category"]) == [CATEGORY4_LABELS[c] for c in ok["cat4"]]
    back = pd.read_csv(out_csv, dtype={"id": str}, keep_default_na=False, na_values=[""])
    assert list(back["id"]) == list(df["id"])
    np.testing.assert_allclose(back["total"].iloc[:3], ok["total"], rtol=1e-5)

    # label volumes: `cacscore score CT --labels <id>.nii.gz` reproduces the scores; only good inputs written
    assert sorted(p.name for p in lab_dir.iterdir()) == ["1.nii.gz", "5.nii.gz", "p1.nii.gz"]
    for inp, r in zip(inputs[:3], ok.itertuples()):
        lab = lab_dir / f"{r.id}.nii.gz"
        row = score_files(inp, lab).as_row()
        for v in (*VESSELS, "total"):
            assert row[v] == pytest.approx(getattr(r, v), rel=1e-9, abs=1e-9)
        assert cli.main(["score", str(inp), "--labels", str(lab), "--json"]) == 0
        printed = json.loads(capsys.readouterr().out)
        assert printed["total"] == pytest.approx(r.total, abs=1e-3)
    img = nib.load(str(lab_dir / "1.nii.gz"))
    assert img.shape == ct1.hu.shape[::-1] and img.get_data_dtype() == np.uint8
    np.testing.assert_allclose(img.header.get_zooms(), ct1.spacing_mm[::-1], rtol=1e-5)


def test_cli_lesion_train_density_cap(release, tmp_path, capsys):
    """lesion-train's --density-cap-hu: by default the shipped (500, 930), recorded in model.json's config with the
    coronary training candidates' 90th percentiles in info; p90 takes the cap from those; none: no cap; a bad value
    is one error line."""
    def train(*cap: str) -> dict:
        out = tmp_path / f"m_{'_'.join(cap) or 'default'}"
        rc = cli.main(["lesion-train", str(release), str(out), "--epochs", "1", "--no-progress",
                       *(["--density-cap-hu", *cap] if cap else [])])
        assert rc == 0
        return json.loads((out / "model.json").read_text())

    default = train()
    d = default["info"]["coronary_density_hu"]
    assert default["config"]["density_cap_hu"] == [500.0, 930.0]
    assert d["percentile"] == 90 and d["n"] > 0 and 130 <= d["mean_hu"] <= d["peak_hu"] <= d["max"][1]
    assert "density cap 500/930 HU (coronary p90 " in capsys.readouterr().out
    p90 = train("p90")
    assert p90["config"]["density_cap_hu"] == [d["mean_hu"], d["peak_hu"]]
    assert p90["info"]["coronary_density_hu"] == d
    report = json.loads((tmp_path / "m_p90" / LC.TRAINING_REPORT).read_text())
    assert report["density_cap_hu"] == [d["mean_hu"], d["peak_hu"]] and "percentile 90" in report["density_cap_from"]
    assert train("none")["config"]["density_cap_hu"] is None
    assert train("600", "1000")["config"]["density_cap_hu"] == [600.0, 1000.0]
    capsys.readouterr()
    for bad in (["p0"], ["600"], ["a", "b"], ["1", "2", "3"]):
        rc = cli.main(["lesion-train", str(release), str(tmp_path / "bad"), "--density-cap-hu", *bad, "--no-progress"])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and "--density-cap-hu wants" in err[-1], (bad, err)


def test_cli_lesion_train_and_score(release, tmp_path, capsys):
    model = tmp_path / "cli_model"
    rc = cli.main(["lesion-train", str(release), str(model), "--epochs", "4", "--max-distance-mm", "120",
                   "--seed", "2", "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0 and f"trained on {N} scan(s), 0 skipped" in out
    cfg = json.loads((model / "model.json").read_text())["config"]
    assert cfg["epochs"] == 4 and cfg["max_distance_mm"] == 120 and cfg["seed"] == 2
    assert (model / LC.TRAINING_REPORT).is_file() and (model / "model.safetensors").is_file()

    scores = tmp_path / "s.csv"
    rc = cli.main(["lesion-score", str(model), str(_ct(release, 1)), str(_ct(release, 4)), "--out", str(scores),
                   "--json", "--no-progress"])
    recs = json.loads(capsys.readouterr().out)
    assert rc == 0 and [r["id"] for r in recs] == ["1", "4"] and all(r["error"] == "" for r in recs)
    assert pd.read_csv(scores, dtype={"id": str})["id"].tolist() == ["1", "4"]

    # one good and one bad input: the table has both, the bad one is reported, exit 1
    rc = cli.main(["lesion-score", str(model), str(_ct(release, 1)), str(tmp_path / "nope"), "--no-progress"])
    cap = capsys.readouterr()
    assert rc == 1 and cap.out.splitlines()[0].startswith("id,LCA,LAD,LCX,RCA,total")
    assert f"failed: nope: {tmp_path / 'nope'}: no such file or folder" in cap.err

    # nothing usable: one clear line naming the file, exit 2
    for argv, name in ((["lesion-score", str(model), str(tmp_path / "nope")], str(tmp_path / "nope")),
                       (["lesion-score", str(tmp_path / "no_model"), str(_ct(release, 1))], "model.json"),
                       (["lesion-train", str(tmp_path), str(tmp_path / "m2")], str(tmp_path))):
        rc = cli.main(argv)
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("cacscore ")]
        assert rc == 2 and len(err) == 1 and err[0].startswith(f"cacscore {argv[0]}: error: ") and name in err[0]


def test_demo_lesion_stage_on_a_small_split(release, tmp_path):
    from cacscore.demo import run_lesion_stage
    from cacscore.evaluation.targets import TargetScaler

    out = tmp_path / "demo"
    out.mkdir()
    (out / "release").symlink_to(release)
    truth = pd.read_csv(release / "truth.csv", dtype={"id": str})
    train, test = ["1", "2", "3", "4", "6"], ["5", "7", "8"]
    (out / "reproduce").mkdir()
    (out / "reproduce" / "splits.json").write_text(json.dumps({"train": train, "test": test}))
    (out / "cache").mkdir()
    man = truth[["id", *VESSELS]].assign(source=[str(_ct(release, int(i))) for i in truth["id"]])
    man.to_csv(out / "cache" / "manifest.csv", index=False)
    cfg = L.ClassifierConfig(hidden=(32, 16), epochs=30, batch_size=256, lr=5e-3, class_weight_power=1.0, seed=3)
    paths = run_lesion_stage(out, workers=1, progress=False, config=cfg)
    for name in ("model", "test_predictions.csv", "table.csv", "table.md", "scatter.png", "bland_altman.png",
                 "confusion4.png"):
        assert paths[f"lesion/{name}"] == out / "lesion" / name and paths[f"lesion/{name}"].exists()
    table = pd.read_csv(out / "lesion" / "table.csv")
    assert list(table["model"]) == ["lesion scorer", "constant mean"] and (table["n_test"] == 3).all()
    # the constant row is Table 1's: the training mean in the log target space, evaluated on the test patients
    y = truth.set_index("id").loc[:, list(VESSELS)].astype(float)
    sc = TargetScaler.fit(y.loc[train].to_numpy(), kind="log")
    z_const = sc.transform(y.loc[train].to_numpy()).mean(0)
    expect = float(np.mean((sc.transform(y.loc[test].to_numpy()) - z_const) ** 2))
    assert table["test_mse"].iloc[1] == pytest.approx(expect, rel=1e-5)
    pred = pd.read_csv(out / "lesion" / "test_predictions.csv", dtype={"id": str})
    z_pred = sc.transform(pred[list(VESSELS)].to_numpy())
    assert table["test_mse"].iloc[0] == pytest.approx(
        float(np.mean((z_pred - sc.transform(y.loc[test].to_numpy())) ** 2)), rel=1e-5)
    assert sorted(p.name for p in (out / "lesion" / "labels").iterdir()) == [f"{i}.nii.gz" for i in test]
    assert "| lesion scorer | retrain |" in (out / "lesion" / "table.md").read_text()

    # cache ids that are not the release's patient folders are refused
    man.assign(source=[str(_ct(release, 1))] * len(man)).to_csv(out / "cache" / "manifest.csv", index=False)
    with pytest.raises(ValueError, match="is not release patient"):
        run_lesion_stage(out, workers=1, progress=False, config=cfg)


# ------------------------------------------------------------------ COCA gated ROIs as the training source
GATED_N = 4  # seed 37 at 96 px: gated patients 1-4 all have ROIs


@pytest.fixture(scope="module")
def gated_release(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lesion_gated") / "release"
    write_release(root, n_patients=GATED_N, seed=SEED, size=SIZE, gated=True)
    return root


@pytest.fixture(scope="module")
def coca_like(gated_release, tmp_path_factory) -> Path:
    """Only the gated part (as in COCA: no labels/), with bad patients added: 5 = garbage XML, 6 = ROIs moved
    outside the image, 7 = a series folder without XML, 8 = an XML without patient folder."""
    import plistlib

    root = tmp_path_factory.mktemp("coca_gated") / "coca"
    g = root / "Gated_release_final"
    shutil.copytree(gated_release / "Gated_release_final", g)
    for pid in ("5", "6", "7"):
        shutil.copytree(g / "patient" / "4", g / "patient" / pid)
    (g / "calcium_xml" / "5.xml").write_bytes(b"<?xml version='1.0'?><plist><dict><key>Images</key><arr")
    pl = plistlib.loads((g / "calcium_xml" / "4.xml").read_bytes())
    for im in pl["Images"]:
        for roi in im["ROIs"]:
            roi["Point_px"] = [f"({float(p.strip('()').split(',')[0]) + 300:.3f}, {p.strip('()').split(',')[1]})"
                               for p in roi["Point_px"]]
    (g / "calcium_xml" / "6.xml").write_bytes(plistlib.dumps(pl, fmt=plistlib.FMT_XML))
    shutil.copy(g / "calcium_xml" / "2.xml", g / "calcium_xml" / "8.xml")
    stub = g / "patient" / "1" / "A_stub_series"  # a second, unreadable series folder (sorts first): passed over
    stub.mkdir()
    (stub / "IM-0001-0001.dcm").write_bytes(b"not a DICOM file")
    return root


def test_gated_source_detection_and_labels_match_score_gated_patient(gated_release, coca_like):
    from cacscore.scoring.gated import score_gated_patient

    assert LC.source_kind(gated_release) == "labels"  # a phantom release has labels/: today's way by default
    assert LC.source_kind(coca_like) == "gated" and LC.source_kind(coca_like / "Gated_release_final") == "gated"
    cases = LC.training_pairs(gated_release, kind="gated")
    assert [c.id for c in cases] == [str(i) for i in range(1, GATED_N + 1)] and {c.kind for c in cases} == {"gated"}
    assert [c.id for c in LC.training_pairs(coca_like)] == [str(i) for i in range(1, 9)]
    assert LC.gated_volume_labels(LC.training_pairs(coca_like)[0])[3] == "Pro_Gated_CS_3.0_I30f_3_(70%)"
    n_roi_vox = 0
    for c in cases:  # read once, same labels and series as cacscore.scoring.gated's own scoring
        hu, sp, lab, series = LC.gated_volume_labels(c)
        ref = score_gated_patient(gated_release, c.id, keep_labels=True)
        assert series == ref.series and lab.shape == hu.shape and np.array_equal(lab, ref.labels)
        assert sp[0] == pytest.approx(3.0)
        cand = L.find_candidates(hu, sp)
        tg = L.candidate_targets(cand.ids, lab)
        # ROI polygons hold only the calcium (not the lumen margin): every ROI lesion is a candidate with a
        # majority of labelled voxels, so the true classes reproduce the gated ROI score exactly
        assert L.score_assignment(hu, cand, tg)["total"] == pytest.approx(ref.scores["total"], rel=1e-6, abs=1e-6)
        n_roi_vox += int((lab > 0).sum())
    assert n_roi_vox > 0
    # the heart finder's centre, as find_candidates finds it itself (one frame with non-gated scans)
    assert locate_heart(hu, sp).index == cand.heart_index
    # the training jitter's re-referencing equals find_candidates with the moved heart index
    h0, h1 = locate_heart(hu, sp).index, (12.0, 40.0, 61.0)
    # the base columns: the shape columns (cacscore.lesion.context) are measured from the heart centre as a whole
    # (which side faces it, the 115 mm reach) and shift_heart_reference moves only the position columns
    f0 = L.find_candidates(hu, sp, heart_index=h0).features[:, :len(L.BASE_FEATURE_NAMES)]
    f1 = L.find_candidates(hu, sp, heart_index=h1).features[:, :len(L.BASE_FEATURE_NAMES)]
    shifted = LC.shift_heart_reference(f0, (np.asarray(h1) - h0) * np.asarray(sp))
    assert len(f0) > 0 and np.allclose(shifted, f1, atol=1e-3) and not np.allclose(f0, f1, atol=1e-3)
    with pytest.raises(ValueError, match="kind must be one of"):
        LC.training_pairs(gated_release, kind="xml")
    with pytest.raises(LC.LesionCohortError, match="not a COCA release root"):
        LC.training_pairs(gated_release / "labels", kind="gated")


def test_train_on_gated_rois_skips_bad_patients_and_scores_nongated(coca_like, gated_release, tmp_path):
    out = tmp_path / "model"
    rep = LC.train_lesion_model(LC.training_pairs(coca_like), out, config=CONFIG, progress=False)
    assert rep["source_kinds"] == ["gated"] and rep["cases_used"] == ["1", "2", "3", "4"]
    assert rep["heart_reference"] == {"gated": "heart_reference:finder"}  # the frame scoring measures from
    n_cand = rep["candidates"]["total"]
    n_noise = rep["gated_noise"]["n_rows"]  # the default 2 noisy copies per gated scan
    assert rep["gated_noise"]["copies"] == 2 and n_noise > 0
    assert rep["gated_heart_jitter"] == {"sd_mm": 4.0, "copies": 4, "n_gated_cases": 4,
                                         "n_training_rows": 4 * n_cand + n_noise}
    reasons = {s["id"]: s["reason"] for s in rep["skipped"]}
    assert sorted(reasons) == ["5", "6", "7", "8"]
    assert "5.xml" in reasons["5"]
    assert "6.xml" in reasons["6"] and "outside" in reasons["6"]
    assert "7.xml" in reasons["7"] and "no such ROI file" in reasons["7"]
    assert "patient/8" in reasons["8"] and "missing" in reasons["8"]
    assert json.loads((out / LC.TRAINING_REPORT).read_text())["n_skipped"] == 4
    assert sum(rep["candidates"]["per_class"][v] for v in VESSELS) > 0
    # the gated-trained model recognises the training patients' ROI lesions on their gated series
    model = L.load_model(out)
    hits = total = 0
    for c in LC.training_pairs(coca_like)[:4]:
        hu, sp, lab, _ = LC.gated_volume_labels(c)
        cand = framed_candidates(hu, sp, model.config)  # as training does
        tg = L.candidate_targets(cand.ids, lab)
        pred = model.predict(cand.features)
        hits += int((pred[tg > 0] > 0).sum())
        total += int((tg > 0).sum())
    assert total > 0 and hits / total >= 0.8
    # ... and scores non-gated chest CT (the workflow): one row per scan, finite, no error
    df = LS.score_cases(out, [_ct(gated_release, i) for i in (1, 2)], progress=False)
    assert (df["error"] == "").all() and np.isfinite(df["total"].to_numpy(float)).all()


def test_cli_lesion_train_gated_source(coca_like, gated_release, tmp_path, capsys):
    model = tmp_path / "m"
    rc = cli.main(["lesion-train", str(coca_like), str(model), "--epochs", "3", "--no-progress"])  # auto: gated
    cap = capsys.readouterr()
    assert rc == 1 and "trained on 4 scan(s), 4 skipped (source: gated)" in cap.out
    assert sum(ln.startswith("cacscore lesion-train: skipped: ") for ln in cap.err.splitlines()) == 4
    assert (model / "model.safetensors").is_file()
    rc = cli.main(["lesion-train", str(gated_release), str(tmp_path / "m2"), "--source", "gated", "--epochs", "3",
                   "--no-progress"])
    assert rc == 0 and "trained on 4 scan(s), 0 skipped (source: gated)" in capsys.readouterr().out
    rc = cli.main(["lesion-train", str(gated_release), str(tmp_path / "m3"), "--source", "csv", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err[-1].startswith("cacscore lesion-train: error: ") and "csv" in err[-1]


def test_gated_noise_augmentation(gated_release, tmp_path, capsys):
    """Noisy copies of a gated scan: the added noise has the asked sd, makes extra (non-coronary) specks, keeps
    the ROI lesions coronary; training on them is reported, reproducible, and reachable from the CLI."""
    case = LC.training_pairs(gated_release, kind="gated")[0]
    hu, sp, lab, _ = LC.gated_volume_labels(case)
    noisy = LC.noisy_copy(hu, sp, 30.0, np.random.default_rng(0))
    assert np.std(noisy - hu) == pytest.approx(30.0, rel=0.02)
    assert np.array_equal(noisy, LC.noisy_copy(hu, sp, 30.0, np.random.default_rng(0)))
    h = locate_heart(hu, sp).index
    clean = L.find_candidates(hu, sp, heart_index=h)
    t_clean = L.candidate_targets(clean.ids, lab)
    f, t = LC.noise_augmented_candidates(hu, sp, lab, h, copies=2, sd_hu=(30.0, 30.0), rng=np.random.default_rng(1))
    assert f.shape == (len(t), len(L.FEATURE_NAMES)) and np.isfinite(f).all()
    assert (t == 0).sum() > 2 * (t_clean == 0).sum()  # the noise made specks, labelled non-coronary
    assert (t > 0).sum() >= 0.8 * 2 * (t_clean > 0).sum()  # the ROI lesions stay coronary in both copies
    cases = LC.training_pairs(gated_release, kind="gated")
    rep = LC.train_lesion_model(cases, tmp_path / "m", config=CONFIG, progress=False, gated_noise_copies=1,
                                gated_noise_sd_hu=(20.0, 30.0))
    n_cand, n_noise = rep["candidates"]["total"], rep["gated_noise"]["n_rows"]
    assert n_noise > n_cand and rep["gated_heart_jitter"]["n_training_rows"] == 4 * n_cand + n_noise
    rep2 = LC.train_lesion_model(cases, tmp_path / "m2", config=CONFIG, progress=False, gated_noise_copies=1,
                                 gated_noise_sd_hu=(20.0, 30.0))
    assert rep2["gated_noise"]["n_rows"] == n_noise  # seeded per case: the same copies again
    with pytest.raises(ValueError, match="gated_noise"):
        LC.train_lesion_model(cases, tmp_path / "m3", config=CONFIG, progress=False, gated_noise_sd_hu=(30.0, 20.0))
    rc = cli.main(["lesion-train", str(gated_release), str(tmp_path / "m4"), "--source", "gated", "--epochs", "3",
                   "--gated-noise-copies", "1", "--no-progress"])
    rep4 = json.loads((tmp_path / "m4" / LC.TRAINING_REPORT).read_text())["gated_noise"]
    assert rc == 0 and rep4["copies"] == 1
    # the CLI's default range is the library's: 10-60 HU since session 15 (wt23c, docs/lesion_scorer.md)
    assert rep4["sd_hu"] == list(LC.GATED_NOISE_SD_HU) == [10.0, 60.0]


def test_noise_copies_reuse_the_clean_lung_hull(gated_release, monkeypatch):
    """noise_augmented_candidates computes the lung hull once per scan (or takes the clean candidates' hull), not
    once per noisy copy: the same features and targets as the old path (find_candidates on each copy with its own
    hull), with the same random draws."""
    case = LC.training_pairs(gated_release, kind="gated")[0]
    hu, sp, lab, _ = LC.gated_volume_labels(case)
    h = locate_heart(hu, sp).index
    rng = np.random.default_rng(5)
    old_f, old_t = [], []
    for _ in range(3):  # the old loop, verbatim: a hull per copy
        noisy = LC.noisy_copy(hu, sp, float(rng.uniform(10.0, 60.0)), rng)
        c = L.find_candidates(noisy, sp, heart_index=h)
        old_f.append(c.features)
        old_t.append(L.candidate_targets(c.ids, lab))
    calls = []
    from cacscore.lesion import candidates as LCand

    real = LCand.thorax_hull
    for mod in (LC, LCand):  # the noisy copies' caller, and find_candidates's own
        monkeypatch.setattr(mod, "thorax_hull", lambda *a, **k: calls.append(1) or real(*a, **k))
    f, t = LC.noise_augmented_candidates(hu, sp, lab, h, copies=3, sd_hu=LC.GATED_NOISE_SD_HU, rng=np.random.default_rng(5))
    assert len(calls) == 1  # once for the scan, not once per copy
    assert np.array_equal(f, np.concatenate(old_f)) and np.array_equal(t, np.concatenate(old_t))
    clean = L.find_candidates(hu, sp, heart_index=h)
    assert clean.thorax_hull is not None and len(calls) == 2
    f2, t2 = LC.noise_augmented_candidates(hu, sp, lab, h, copies=3, sd_hu=LC.GATED_NOISE_SD_HU, rng=np.random.default_rng(5),
                                           hull=clean.thorax_hull)
    assert len(calls) == 2 and np.array_equal(f2, f) and np.array_equal(t2, t)


def test_lesion_score_on_a_coca_root_scores_each_patient(release, model_dir, tmp_path):
    """A COCA root (and a folder of patient folders) is a cohort: one row per patient, the same scores as
    scoring each patient's series folder. It was read as one "series" and scored as a single scan."""
    df = LS.score_cases(model_dir, [release], progress=False)
    assert sorted(df["id"], key=int) == [str(i) for i in range(1, N + 1)]
    assert (df["error"] == "").all()
    one = LS.score_cases(model_dir, [_ct(release, 3)], progress=False)
    row = df[df["id"] == "3"].iloc[0]
    assert [row[v] for v in VESSELS] == pytest.approx([one.iloc[0][v] for v in VESSELS])
    # a missing input and a cohort in one call: the cohort is scored, the missing one is an error row
    df2 = LS.score_cases(model_dir, [tmp_path / "nope", release / "deidentified_nongated"], progress=False)
    assert len(df2) == N + 1 and (df2["error"] != "").sum() == 1
    assert "nope" in df2[df2["error"] != ""]["error"].iloc[0]


def test_gated_extraction_skips_an_unused_chest_reading(gated_release, monkeypatch):
    """On a gated series (a field of view through the body) a model that reads no anatomy column gets the same
    training rows - features, targets, noise copies - without read_chest as with it (session 15, wt23c: read_chest
    cost +38 % of gated extraction and changed no row); read_chest runs where its output is trained on (anatomy
    columns) and on a whole-chest scan."""
    from cacscore.chest import anatomy as A
    from cacscore.lesion import classifier as C

    calls = []
    real = C.read_chest
    monkeypatch.setattr(C, "read_chest", lambda *a, **k: calls.append(1) or real(*a, **k))
    config = L.ClassifierConfig()
    assert config.needs_anatomy and not config.reads_anatomy_columns
    for case in LC.training_pairs(gated_release, kind="gated")[:2]:
        hu, sp, _, _ = LC.gated_volume_labels(case)
        assert A.cuts_through_body(hu, sp) and real(hu, sp).parts["body"].reason  # the rule read_chest applies
        calls.clear()
        fast = LC._extract(case, 130.0, 1.0, 2, (10.0, 60.0), 0, config, skip_unused_chest=True)
        assert not calls and fast["chest_read"] is False
        slow = LC._extract(case, 130.0, 1.0, 2, (10.0, 60.0), 0, config, skip_unused_chest=False)
        assert len(calls) == 1 and slow["chest_read"] is True
        assert len(fast["targets"]) > 0 and (fast["targets"] > 0).any()
        for key in ("features", "targets", "noise_features", "noise_targets"):
            assert np.array_equal(fast[key], slow[key]), key
    cols = L.ClassifierConfig(features=C.FEATURE_SETS["distances"])  # reads anatomy columns: read_chest needed
    assert cols.reads_anatomy_columns
    calls.clear()
    r = LC._extract(LC.training_pairs(gated_release, kind="gated")[0], 130.0, 1.0, 0, (10.0, 35.0), 0, cols)
    assert len(calls) == 1 and r["chest_read"] is True and "anatomy" in r
    whole = next(c for c in LC.training_pairs(gated_release) if c.kind == "labels")  # its whole-chest scan
    calls.clear()
    r = LC._extract(whole, 130.0, 1.0, 0, (10.0, 35.0), 0, config)
    assert len(calls) == 1 and r["chest_read"] is True
    ct = load_ct(whole.ct)
    assert not A.cuts_through_body(ct.hu, (abs(ct.spacing_mm[0]), *ct.spacing_mm[1:]))
