"""Issue 18: never a silently wrong score. One test (or more) per case of docs/ingestion.md's integrity table:
input integrity (re-ingest, unreadable slices, two patients in a folder, non-chest scans, loose files), safe
outputs (a failed run, unwritable or locked outputs, phantom over a release) and clean shutdown (workers that
outlive their parent, exit codes, one discovery rule, no UIDs in messages, file modes kept)."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pydicom
import pytest

from cacscore.chest.heart import locate_heart
from cacscore.cli import main
from cacscore.core.fileio import atomic_write_text
from cacscore.io.dicom import DicomError, Volume, find_series, read_series
from cacscore.io.inputs import cohort_from_source, discover_inputs
from cacscore.predict.checks import scan_warnings

CLI = Path(sys.executable).parent / "cacscore"


@pytest.fixture(scope="module")
def releases(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("integrity")
    d = {"root": root}
    for name, seed in (("A", 5), ("B", 6)):
        assert main(["phantom", str(root / name), "--patients", "3", "--size", "32", "--seed", str(seed)]) == 0
        d[name] = root / name
    return d


def run(argv, capsys):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


# ------------------------------------------------------------------ case 1
def test_case01_reingest_other_release_into_a_cache_reads_the_new_images(releases, capsys, tmp_path):
    cache = tmp_path / "K"
    common = ["--size", "32", "--slices", "8", "--no-progress"]
    assert run(["ingest", releases["A"], cache, *common], capsys)[0] == 0
    a = {i: np.load(cache / "scans" / f"{i}.npy") for i in ("1", "2", "3")}
    assert run(["ingest", releases["B"], cache, *common], capsys)[0] == 0
    man = pd.read_csv(cache / "manifest.csv", dtype=str)
    assert all(str(releases["B"]) in s for s in man["source"])
    for i in ("1", "2", "3"):  # the images are B's, not A's
        assert not np.array_equal(np.load(cache / "scans" / f"{i}.npy"), a[i])
    # a resume from the same release keeps the scans (same source files)
    m0 = (cache / "scans" / "1.npy").stat().st_mtime_ns
    assert run(["ingest", releases["B"], cache, *common], capsys)[0] == 0
    assert (cache / "scans" / "1.npy").stat().st_mtime_ns == m0


@pytest.fixture(scope="module")
def model(releases) -> Path:
    m = releases["root"] / "model"
    assert main(["lesion-train", str(releases["A"]), str(m), "--epochs", "1", "--no-progress"]) == 0
    return m


def _series(releases, name: str = "A", pid: int = 1) -> Path:
    return releases[name] / "deidentified_nongated" / str(pid) / str(pid)


def _copy_series(releases, dst: Path, name: str = "A", pid: int = 1) -> Path:
    shutil.copytree(_series(releases, name, pid), dst)
    return dst


# ------------------------------------------------------------------ case 2
def test_case02_unreadable_slice_files_are_refused_and_named(releases, tmp_path):
    folder = _copy_series(releases, tmp_path / "s")
    files = sorted(folder.glob("*.dcm"))
    files[0].write_bytes(b"")  # IM-0001-0001: the top slice, emptied
    files[1].write_bytes(b"\0" * 4096)  # zero-filled
    files[20].write_bytes(files[20].read_bytes()[:200])  # header truncated, in the middle
    with pytest.raises(DicomError) as e:
        read_series(folder)
    msg = str(e.value)
    assert "3 file(s)" in msg and all(f.name in msg for f in (files[0], files[1], files[20]))
    vol = read_series(folder, unreadable="skip", on_gap="interpolate")
    assert vol.hu.shape[0] < len(files) and any(files[0].name in w for w in vol.meta["warnings"])
    # an XML and a README beside the slices are not slices
    ok = _copy_series(releases, tmp_path / "ok")
    (ok / "069.xml").write_text("<xml/>")
    (ok / "README").write_text("notes")
    assert read_series(ok).meta["warnings"] == []


def test_case02_cli_refuses_or_scores_with_a_warning(releases, model, capsys, tmp_path):
    folder = _copy_series(releases, tmp_path / "s")
    bad = sorted(folder.glob("*.dcm"))[0]
    bad.write_bytes(b"")
    rc, out, err = run(["lesion-score", model, folder, "--no-progress"], capsys)
    assert rc == 2 and bad.name in err and "--skip-unreadable" in err
    rc, out, err = run(["lesion-score", model, folder, "--no-progress", "--skip-unreadable", "--json"], capsys)
    assert rc == 0
    rows = json.loads(out)
    assert bad.name in rows[0]["warnings"] and rows[0]["error"] == ""


# ------------------------------------------------------------------ case 3
def _two_patients(releases, folder: Path, second_patient: str) -> None:
    for pid, patient in ((1, "P1"), (2, second_patient)):
        for f in _series(releases, "A", pid).glob("*.dcm"):
            ds = pydicom.dcmread(f)
            ds.PatientID = patient
            ds.SeriesInstanceUID = f"1.2.826.0.1.3680043.8.498.77{pid}"
            ds.save_as(folder / f"{pid}-{f.name}")


def test_case03_two_patients_in_one_folder_are_refused_unless_series_picks_one(releases, model, capsys, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    _two_patients(releases, folder, "P2")
    with pytest.raises(DicomError, match="different patients") as e:
        read_series(folder)
    assert "1.2.826.0.1.3680043.8.498.771" not in str(e.value) and "P2" not in str(e.value)  # case 13: no UIDs
    assert ({read_series(folder, series=str(i)).files[0].name[0] for i in (0, 1)} == {"1", "2"})
    rc, out, err = run(["lesion-score", model, folder, "--no-progress"], capsys)
    assert rc == 2 and "different patients" in err and "--series" in err and "1.2.826" not in err
    rc, out, err = run(["lesion-score", model, folder, "--series", "0", "--no-progress"], capsys)
    assert rc == 0


def test_case03_same_patient_two_series_is_a_warning(releases, tmp_path):
    folder = tmp_path / "same"
    folder.mkdir()
    _two_patients(releases, folder, "P1")
    vol = read_series(folder)
    assert any("other usable series" in w and "--series" in w for w in vol.meta["warnings"])
    assert any("other usable series" in w for w in scan_warnings(vol, locate_heart(vol), ranges={}))


# ------------------------------------------------------------------ case 4
def _head(nz: int = 30) -> Volume:
    """A head-like volume: skull ring, brain, a small air sinus; 0.5 mm pixels, 5 mm slices."""
    yy, xx = np.mgrid[:256, :256] - 127.5
    r = np.hypot(yy / 1.2, xx)
    sl = np.where(r < 150, np.where(r > 135, 1200.0, 35.0), -1000.0).astype(np.float32)
    sl[40:50, 120:136] = -1000.0  # a sinus
    return Volume(hu=np.repeat(sl[None], nz, 0), spacing_mm=(5.0, 0.5, 0.5))


def test_case04_non_chest_and_partial_scans_are_flagged(releases):
    from cacscore.predict.checks import anatomy_warnings  # new in issue 18 (inside: the other cases run on old code)

    head = anatomy_warnings(_head())
    assert any("not a chest CT" in w for w in head)
    chest = read_series(_series(releases))
    assert anatomy_warnings(chest) == []
    two = Volume(hu=chest.hu[28:30], spacing_mm=chest.spacing_mm)
    assert any("heart not covered" in w for w in anatomy_warnings(two))
    narrow = Volume(hu=chest.hu[:, 10:22, 10:22], spacing_mm=chest.spacing_mm)  # 12 px of ~11 mm
    assert any("field of view" in w for w in anatomy_warnings(narrow))


def test_case04_every_scoring_command_gives_the_anatomy_warning(model, capsys, tmp_path):
    h = _head()
    nib.save(nib.Nifti1Image(h.hu.transpose(2, 1, 0), np.diag([0.5, 0.5, 5.0, 1.0])), tmp_path / "head.nii.gz")
    rc, out, _ = run(["lesion-score", model, tmp_path / "head.nii.gz", "--json", "--no-progress"], capsys)
    assert rc == 0 and "not a chest CT" in json.loads(out)[0]["warnings"]
    rc, out, _ = run(["predict", "--model", model, tmp_path / "head.nii.gz", "--out", "-"], capsys)
    assert rc == 0 and "not a chest CT" in pd.read_csv(io.StringIO(out))["warnings"][0]


# ------------------------------------------------------------------ case 5 (and issue 17 item 3: unique ids)
def test_case05_patient_folders_with_a_loose_file_are_patients(releases, model, capsys, tmp_path):
    root = tmp_path / "cohort"
    for pid in (1, 2):
        _copy_series(releases, root / f"p{pid}" / "series", pid=pid)
    (root / "notes.txt").write_text("who is who")
    (root / "overview.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    scans, problems = discover_inputs([root])
    assert [s.id for s in scans] == ["p1", "p2"] and not problems
    rc, out, err = run(["predict", "--model", model, root, "--out", "-"], capsys)
    assert rc == 0 and pd.read_csv(io.StringIO(out), dtype={"id": str})["id"].tolist() == ["p1", "p2"]
    # the same folder name twice: path-suffix ids, safe label file names, in predict and lesion-score alike
    rc, out, err = run(["lesion-score", model, root / "p1" / "series", root / "p2" / "series",
                        "--labels-out", tmp_path / "lab", "--json", "--no-progress"], capsys)
    assert rc == 0 and [r["id"] for r in json.loads(out)] == ["p1/series", "p2/series"]
    assert sorted(p.name for p in (tmp_path / "lab").iterdir() if not p.name.startswith(".")) == [
        "p1_series.nii.gz", "p2_series.nii.gz"]


# ------------------------------------------------------------------ case 6
def test_case06_a_failed_run_keeps_the_previous_table(releases, model, capsys, tmp_path):
    out = tmp_path / "existing.csv"
    out.write_text("id,total\nold,1\n")
    for cmd in ("predict", "lesion-score"):
        rc, _, err = run([cmd, model, tmp_path / "nonexistent", "--out", out], capsys)
        assert rc != 0 and out.read_text() == "id,total\nold,1\n", (cmd, err)
    empty = tmp_path / "empty_folder"
    empty.mkdir()
    rc, _, err = run(["predict", "--model", model, empty, "--out", out], capsys)  # attempted, none scored: kept
    assert rc == 2 and out.read_text() == "id,total\nold,1\n" and "no usable axial CT series" in err
    rc, _, err = run(["predict", "--model", model, empty, "--out", out, "--force"], capsys)
    assert rc == 2 and out.read_text().startswith("id,LCA")


# ------------------------------------------------------------------ case 7
def test_case07_unwritable_out_is_refused_before_any_scan(releases, model, capsys, monkeypatch):
    import cacscore.predict.run as R

    monkeypatch.setattr(R, "predict_scan", lambda *a, **k: pytest.fail("a scan was read before the check"))
    for argv in (["predict", model, _series(releases), "--out", "/sys/cacscore_out.csv"],
                 ["lesion-score", model, _series(releases), "--out", "/sys/cacscore_out.csv", "--no-progress"],
                 ["lesion-score", model, _series(releases), "--labels-out", "/sys/cacscore_labels"]):
        rc, _, err = run(argv, capsys)
        assert rc == 2 and "/sys/cacscore_" in err and ".tmp" not in err, err


# ------------------------------------------------------------------ case 8
def test_case08_a_second_run_on_the_same_output_is_refused(releases, model, capsys, tmp_path):
    from filelock import FileLock

    out = tmp_path / "o.csv"
    holder = FileLock(str(tmp_path / ".o.csv.lock"))  # what a running cacscore holds
    with holder:
        for cmd in ("predict", "lesion-score"):
            rc, _, err = run([cmd, model, _series(releases), "--out", out], capsys)
            assert rc == 2 and "another cacscore run is writing it" in err and str(out) in err
    assert not out.exists()
    cache_holder = FileLock(str(tmp_path / ".K.lock"))
    with cache_holder:
        rc, _, err = run(["ingest", releases["A"], tmp_path / "K", "--size", "32", "--slices", "8"], capsys)
        assert rc == 2 and "another cacscore run" in err
    rc, _, _ = run(["predict", model, _series(releases), "--out", out], capsys)
    assert rc == 0 and out.is_file()  # the lock dies with its holder


# ------------------------------------------------------------------ case 9
def test_case09_phantom_refuses_a_non_empty_out_unless_overwrite(capsys, tmp_path):
    out = tmp_path / "rel"
    assert run(["phantom", out, "--patients", "3", "--size", "16"], capsys)[0] == 0
    rc, _, err = run(["phantom", out, "--patients", "2", "--size", "16"], capsys)
    assert rc == 2 and "not empty" in err and "--overwrite" in err
    assert (out / "deidentified_nongated" / "3").is_dir()
    assert run(["phantom", out, "--patients", "2", "--size", "16", "--overwrite"], capsys)[0] == 0
    assert sorted(p.name for p in (out / "deidentified_nongated").iterdir() if p.is_dir()) == ["1", "2"]
    other = tmp_path / "home"
    other.mkdir()
    (other / "thesis.tex").write_text("x")
    rc, _, err = run(["phantom", other, "--patients", "1", "--size", "16", "--overwrite"], capsys)
    assert rc == 2 and (other / "thesis.tex").is_file()


# ------------------------------------------------------------------ case 10
_POOL_SCRIPT = """
import time
from concurrent.futures import ProcessPoolExecutor
from cacscore.regress.cache import _worker_init
with ProcessPoolExecutor(2, initializer=_worker_init) as pool, STOPPING:
    futs = [pool.submit(time.sleep, 60) for _ in range(2)]
    time.sleep(1.5)
    print(" ".join(str(p) for p in pool._processes), flush=True)
    time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_case10_workers_end_with_their_parent(sig):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    # SIGKILL: nothing can run in the parent, the workers must notice by themselves; SIGTERM: the parent's pool
    # (stopping_pool, as ingest and map_jobs run it) ends them
    script = _POOL_SCRIPT.replace("STOPPING", "contextlib.nullcontext()" if sig == signal.SIGKILL else
                                  "__import__('cacscore.core.parallel').core.parallel.stopping_pool(pool)")
    proc = subprocess.Popen([sys.executable, "-c", "import contextlib\n" + script], stdout=subprocess.PIPE,
                            text=True, env=env)
    workers = [int(p) for p in proc.stdout.readline().split()]
    assert len(workers) == 2 and all(_alive(p) for p in workers)
    proc.send_signal(sig)
    proc.wait(20)
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.2)
    assert not any(_alive(p) for p in workers)


def test_case10_stale_temp_files_are_removed_on_the_next_ingest(releases, capsys, tmp_path):
    cache = tmp_path / "K"
    (cache / "scans").mkdir(parents=True)
    stale = cache / "scans" / ".1.npy.4194303.deadbeef.tmp"  # pid 4194303: above Linux's pid_max, never alive
    stale.write_bytes(b"half a scan")
    assert run(["ingest", releases["A"], cache, "--size", "32", "--slices", "8", "--no-progress"], capsys)[0] == 0
    assert not stale.exists()


# ------------------------------------------------------------------ case 11
def test_case11_ingest_exits_1_when_a_case_failed(releases, capsys, tmp_path):
    root = tmp_path / "cohort"
    _copy_series(releases, root / "good")
    (root / "bad").mkdir()
    (root / "bad" / "x.dcm").write_bytes(b"")
    rc, out, _ = run(["ingest", root, tmp_path / "K", "--size", "32", "--slices", "8", "--no-progress"], capsys)
    assert rc == 1 and "1 scan(s) ok, 1 error(s)" in out


# ------------------------------------------------------------------ case 12
def test_case12_ingest_and_predict_discover_the_same_scans(releases, capsys, tmp_path):
    folder = _copy_series(releases, tmp_path / "series")
    (folder / "extras").mkdir()
    (folder / "extras" / "protocol.txt").write_text("protocol")
    scans, _ = discover_inputs([folder])
    jobs = cohort_from_source(folder)
    assert [(s.id, s.path) for s in scans] == [(j["id"], Path(j["source"])) for j in jobs] == [("series", folder)]
    rc, out, _ = run(["ingest", folder, tmp_path / "K", "--size", "32", "--slices", "8", "--no-progress"], capsys)
    assert rc == 0 and (tmp_path / "K" / "scans" / "series.npy").is_file()


# ------------------------------------------------------------------ case 13
def test_case13_no_uid_in_messages_and_file_modes_kept(releases, tmp_path):
    folder = tmp_path / "uids"
    folder.mkdir()
    _two_patients(releases, folder, "P2")
    infos = find_series(folder)
    assert all("1.2.826" not in s.summary() for s in infos)
    with pytest.raises(DicomError) as e:
        read_series(folder, series="9.9.9.9.9.9.9.9.9.9.9.9.9.9")
    assert "9.9.9" not in str(e.value) and "1.2.826" not in str(e.value)
    out = tmp_path / "t.csv"
    out.write_text("a")
    os.chmod(out, 0o640)
    atomic_write_text(out, "b")
    assert out.read_text() == "b" and stat.S_IMODE(out.stat().st_mode) == 0o640
