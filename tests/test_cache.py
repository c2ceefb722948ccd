"""cacscore.regress.cache: ingest (COCA root, patient folders, CSV, the real LIDC series), resume, CohortCache."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cacscore.regress.cache import CohortCache, ingest, verify_scan
from cacscore.cli import main
from cacscore.regress.preprocess import PAD_HU, PreprocessConfig
from cacscore.chest.heart import find_heart
from ingest_fixtures import SHARED_LIDC, marker_hu, write_coca_release, write_series

CFG = PreprocessConfig(size=32, slices=8)


def test_ingest_coca_release_two_workers_and_resume(tmp_path):
    write_coca_release(tmp_path / "coca", n_slices=6)
    cache = tmp_path / "cache"
    man = ingest(tmp_path / "coca", cache, config=CFG, workers=2, progress=False)
    assert man["id"].tolist() == ["1", "2", "7", "10", "103"]
    m = man.set_index("id")
    assert m.loc["7", "status"] == "error" and "without an image folder" in m.loc["7", "error"]
    assert (m.drop(index="7")["status"] == "ok").all()
    assert m.loc["2", "total"] == 10.0 and m.loc["2", "coca_total"] == 0.0 and "total_mismatch" in m.loc["2", "flags"]
    assert m.loc["1", "shape"] == "8x32x32" and m.loc["1", "spacing"] == "5x0.7x0.7"
    on_disk = pd.read_csv(cache / "manifest.csv", dtype={"id": str})
    for col in ("id", "source", "status", "error", "shape", "spacing", "LCA", "LAD", "LCX", "RCA", "total"):
        assert col in on_disk.columns
    assert json.loads((cache / "config.json").read_text())["preprocess"] == CFG.to_dict()
    c = CohortCache(cache)
    assert c.ids == ["1", "2", "10", "103"] and c.config == CFG
    np.testing.assert_array_equal(c.targets[1], [1, 2, 3, 4])
    assert np.isnan(c.targets[2, 0]) and np.isnan(c.targets[3]).all()
    x = c.load("2")
    assert isinstance(x, np.memmap) and x.dtype == np.int16 and x.shape == (8, 32, 32)
    # 7 slices at z -200..-170, centred in 8 slabs: markers ascend (z order), one slab of air
    marks = x[:, 0, 0]
    data = marks[marks != PAD_HU]
    np.testing.assert_allclose(data, [marker_hu(-200 + 5 * k) for k in range(7)], atol=1)
    # resume: nothing redone; a truncated scan is detected and redone
    mtimes = {p.name: p.stat().st_mtime_ns for p in (cache / "scans").iterdir()}
    bad = cache / "scans" / "10.npy"
    with open(bad, "r+b") as fh:
        fh.truncate(bad.stat().st_size - 100)
    assert not verify_scan(bad, CFG)
    man2 = ingest(tmp_path / "coca", cache, config=CFG, workers=1, progress=False)
    assert verify_scan(bad, CFG)
    assert {p.name: p.stat().st_mtime_ns for p in (cache / "scans").iterdir() if p.name != "10.npy"} == \
        {k: v for k, v in mtimes.items() if k != "10.npy"}
    assert man2["status"].tolist() == man["status"].tolist()
    assert not [p for p in (cache / "scans").iterdir() if p.name.startswith(".")]  # no temp files left
    with pytest.raises(ValueError, match="different|not"):
        ingest(tmp_path / "coca", cache, config=PreprocessConfig(size=64, slices=8), progress=False)


def test_folder_of_patients_with_a_bad_scan(tmp_path):
    src = tmp_path / "pats"
    write_series(src / "a", 5)
    write_series(src / "b", 4)
    (src / "broken").mkdir()
    (src / "broken" / "x.dcm").write_bytes(b"DICM" * 10)
    man = ingest(src, tmp_path / "c", config=CFG, progress=False).set_index("id")
    assert man.loc["a", "status"] == "ok" and man.loc["b", "status"] == "ok"
    assert man.loc["broken", "status"] == "error"
    err = man.loc["broken", "error"]
    assert "broken" in err and "no usable axial CT series" in err and "\n" not in err
    assert np.isnan(man.loc["a", "LAD"])


def test_csv_source_and_cli(tmp_path, capsys):
    write_series(tmp_path / "s1", 5)
    write_series(tmp_path / "s2", 3)
    pd.DataFrame({"id": ["p1", "p2", "bad id"], "path": ["s1", str(tmp_path / "s2"), "s1"],
                  "LCA": [1, 0, 0], "LAD": [2, 0, 0], "LCX": [0, 0, 0], "RCA": [0, 5, 0]}
                 ).to_csv(tmp_path / "cohort.csv", index=False)
    rc = main(["ingest", str(tmp_path / "cohort.csv"), str(tmp_path / "cache"), "--size", "16", "--slices", "6",
               "--workers", "2", "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 1 and "2 scan(s) ok, 1 error(s)" in out and "not usable as a file name" in out  # 1: a case failed (issue 18, case 11)
    c = CohortCache(tmp_path / "cache")
    assert c.ids == ["p1", "p2"] and c.totals.tolist() == [3.0, 5.0]
    assert c.load("p2").shape == (6, 16, 16)
    assert main(["ingest", str(tmp_path / "nothing"), str(tmp_path / "c2")]) == 2


def test_lidc_real_series_ingests_to_73_slabs(tmp_path):
    if not SHARED_LIDC.is_dir():
        pytest.fail(f"real test series missing: {SHARED_LIDC}")
    pd.DataFrame({"id": ["lidc0002"], "path": [str(SHARED_LIDC)]}).to_csv(tmp_path / "c.csv", index=False)
    cfg = PreprocessConfig(size=64)
    man = ingest(tmp_path / "c.csv", tmp_path / "cache", config=cfg, progress=False)
    row = man.iloc[0]
    assert row["status"] == "ok", row["error"]
    assert row["shape"] == "73x64x64" and row["spacing"].startswith("5x")
    assert row["input_shape"] == "261x512x512"
    x = CohortCache(tmp_path / "cache").load("lidc0002").astype(np.float32)
    # 261 x 1.25 mm = 326 mm -> 65 slabs of 5 mm, centred in 73 with 4 air slabs each side
    body = np.flatnonzero((x > -900).any((1, 2)))
    assert len(body) == 65 and body[0] == 4
    assert np.all(x[:, :2, :2] == -1024)  # padding region outside the scan circle: air, not -3024
    # z order: ascending index = inferior -> superior. The lungs' centre lies above the heart,
    # and the lowest body slabs are abdomen (little lung), the heart sits mid-window
    lung = ((x > -950) & (x < -500)).sum((1, 2))
    lung_centre = (lung * np.arange(73)).sum() / lung.sum()
    hz, _, _ = find_heart(x, (5.0, 5.45, 5.45))
    assert 20 <= hz <= 45 and hz < lung_centre


def test_phantom_release_every_score_matched(tmp_path):
    from cacscore.phantom import write_release

    # anatomy v2, seed 1: patients 2 and 3 calcified; no lesion crosses two vessels' labels (seed 0 has one, so
    # its truth total differs from the vessel sum that the COCA reader uses)
    truth = write_release(tmp_path / "rel", n_patients=3, seed=1, size=128)
    truth_csv = pd.read_csv(tmp_path / "rel" / "truth.csv", dtype={"id": str})
    man = ingest(tmp_path / "rel", tmp_path / "cache", config=PreprocessConfig(size=32), workers=2, progress=False)
    assert (man["status"] == "ok").all(), man["error"].tolist()
    assert man["id"].tolist() == truth_csv["id"].tolist() and len(man) == len(truth) == 3
    m, t = man.set_index("id"), truth_csv.set_index("id")
    for col in ("LCA", "LAD", "LCX", "RCA", "total"):
        np.testing.assert_allclose(m[col].to_numpy(float), t[col].to_numpy(float), atol=1e-5, err_msg=col)
    assert (t["total"] > 0).any()  # the check compares real, non-zero scores
    assert [int(s.split("x")[0]) for s in m["input_shape"]] == t["n_slices"].tolist()
    c = CohortCache(tmp_path / "cache")
    np.testing.assert_allclose(c.targets, t[["LCA", "LAD", "LCX", "RCA"]].to_numpy(float), atol=1e-5)


def test_lidc_heart_crop_via_cli(tmp_path, capsys):
    if not SHARED_LIDC.is_dir():
        pytest.fail(f"real test series missing: {SHARED_LIDC}")
    pd.DataFrame({"id": ["lidc0002"], "path": [str(SHARED_LIDC)]}).to_csv(tmp_path / "c.csv", index=False)
    rc = main(["ingest", str(tmp_path / "c.csv"), str(tmp_path / "cache"), "--size", "64", "--centre", "heart",
               "--crop-mm", "176", "--no-progress"])
    assert rc == 0, capsys.readouterr().out
    c = CohortCache(tmp_path / "cache")
    assert c.config.crop_mm == 176.0 and c.config.centre == "heart"
    assert c.manifest.iloc[0]["spacing"] == "5x2.75x2.75"  # 176 mm / 64 px, not the 5.45 mm of the whole view
    x = c.load("lidc0002").astype(np.float32)
    hz = int(round(float(c.manifest.iloc[0]["heart_index"])))
    centre = x[36, 24:40, 24:40]  # the window is centred on the found heart: slab 36 of 73
    assert 0 <= hz < 65 and -200 < np.median(centre) < 200  # soft tissue (heart), not lung or air
    lung = ((x[36] > -950) & (x[36] < -500)).mean()
    assert lung < 0.6  # mostly mediastinum, unlike the whole field of view
