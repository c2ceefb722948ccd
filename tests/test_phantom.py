"""Tests of the synthetic COCA-layout release (cacscore.phantom)."""

from __future__ import annotations

import hashlib
import plistlib
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pydicom
import pytest

from cacscore.phantom import draw_calcium, load_labels, make_patient, write_release
from cacscore.phantom.anatomy import FOV_MM, SLICE_MM
from cacscore.phantom.core import KERNELS
from cacscore.scoring.agatston import agatston
from cacscore.core.vessels import VESSELS

SIZE = 64


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    out = tmp_path_factory.mktemp("rel")
    table = write_release(out, n_patients=3, seed=9, size=SIZE, gated=True)  # v2: all 3 calcified (seed 8 has none)
    return out, table


def _read_series(folder: Path) -> tuple[np.ndarray, list[pydicom.Dataset]]:
    dss = [pydicom.dcmread(f) for f in sorted(folder.glob("*.dcm"))]
    dss.sort(key=lambda d: float(d.ImagePositionPatient[2]))
    hu = np.stack([d.pixel_array.astype(np.float32) * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in dss])
    return hu, dss


def test_same_seed_same_bytes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_release(a, n_patients=1, seed=3, size=32)
    write_release(b, n_patients=1, seed=3, size=32)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file() and p.suffix in (".dcm", ".gz", ".csv"))
    assert len(files) > 59
    for f in files:
        assert hashlib.sha256((a / f).read_bytes()).digest() == hashlib.sha256((b / f).read_bytes()).digest(), f
    c, d = make_patient(1, seed=4, size=32), make_patient(1, seed=3, size=32)
    assert c.hu.shape != d.hu.shape or not np.array_equal(c.hu, d.hu)
    assert np.array_equal(d.labels, load_labels(a / "labels" / "1.nii.gz"))


def test_written_tree_reads_back_and_reproduces_truth(release):
    out, table = release
    wb = openpyxl.load_workbook(out / "deidentified_nongated" / "scores.xlsx")
    assert len(wb.sheetnames) == 1
    header = [c.value for c in next(wb.active.iter_rows(max_row=1))]
    assert header == ["filename ", "LCA", "LAD", "LCX", "RCA", "total"]
    xl = pd.read_excel(out / "deidentified_nongated" / "scores.xlsx")
    assert list(xl["filename "]) == ["1A", "2A", "3A"]
    truth = pd.read_csv(out / "truth.csv")
    assert {"id", *VESSELS, "total", "moving_total", "kvp", "noise_sigma_hu", "motion_amplitude_mm"} <= set(truth.columns)
    names = None
    for pid in (1, 2, 3):
        folder = out / "deidentified_nongated" / str(pid) / str(pid)
        files = sorted(f.name for f in folder.glob("*.dcm"))
        names = names or files
        assert files[: len(names)] == names[: len(files)] and files[0] == "IM-0001-0001.dcm"
        hu, dss = _read_series(folder)
        d0 = dss[0]
        row = truth[truth["id"] == pid].iloc[0]
        thick = float(d0.SliceThickness)  # the acquisition draws are in the headers and truth.csv (issue 15)
        assert thick in SLICE_MM and thick == pytest.approx(row["slice_thickness_mm"])
        assert 295 <= len(dss) * thick <= 350 and d0.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
        assert float(d0.SpacingBetweenSlices) == thick
        assert d0.ConvolutionKernel in KERNELS and d0.ConvolutionKernel == row["kernel"]
        assert FOV_MM[0] <= float(d0.ReconstructionDiameter) <= FOV_MM[1]
        assert "SeriesInstanceUID" not in d0 and "StudyInstanceUID" not in d0
        assert d0.Manufacturer == "SIEMENS" and d0.Modality == "CT"
        assert d0.PixelRepresentation == 0 and float(d0.RescaleIntercept) == -1024 and d0.KVP in (100, 120, 140)
        assert int(d0.KVP) == int(row["kvp"])
        for d in dss:
            assert float(d.SliceLocation) == pytest.approx(-float(d.ImagePositionPatient[2]))
        assert int(dss[-1].InstanceNumber) == 1  # instance 1 is the top slice
        ps = float(d0.PixelSpacing[0])
        assert ps * 64 == pytest.approx(float(d0.ReconstructionDiameter), abs=0.05)  # same FOV as 512 px
        labels = load_labels(out / "labels" / f"{pid}.nii.gz")
        assert labels.shape == hu.shape
        res = agatston(hu, labels, pixel_spacing_mm=(ps, ps), slice_spacing_mm=thick).as_row()
        for c in (*VESSELS, "total"):
            assert res[c] == pytest.approx(row[f"moving_{c}"], abs=1e-3)
            assert xl[c][pid - 1] == pytest.approx(row[c], abs=1e-3)


def test_static_truth_is_agatston_of_static_image():
    p = make_patient(9, seed=0, size=96)
    res = agatston(p.hu_static, p.labels, pixel_spacing_mm=p.spacing_mm[1:], slice_spacing_mm=p.spacing_mm[0]).as_row()
    assert res == pytest.approx(p.truth)
    assert p.hu.dtype == np.float32 and p.labels.dtype == np.uint8 and p.hu.shape == p.labels.shape
    assert np.all(p.hu == np.rint(p.hu)) and p.hu.min() >= -1024 and p.hu.max() <= 3071


@pytest.mark.parametrize("pid", [1, 2, 3, 4, 5, 6])
def test_no_calcium_outside_coronary_labels(pid):
    """Bone, cartilage and aortic calcium (bright) never lie inside labels, and are never scored."""
    p = make_patient(pid, seed=11, size=96, with_coronary_calcium=False)
    assert not (p.bright & (p.labels > 0)).any()
    assert p.truth["total"] == 0.0
    assert (p.hu_static[p.bright] >= 130).any()  # the confounders are there and as bright as calcium
    q = make_patient(pid, seed=11, size=96)
    assert not (q.bright & (q.labels > 0)).any()


def test_score_distribution_resembles_coca():
    """The calcium draw (score-first, no rendering) on 200 patients: zero share and vessel shares."""
    rows = []
    for pid in range(1, 201):
        specs = draw_calcium(np.random.default_rng([7, pid]))
        rows.append({v: sum(s.est_score for s in specs if s.vessel == v) for v in VESSELS})
    df = pd.DataFrame(rows)
    df["total"] = df[list(VESSELS)].sum(axis=1)
    zero = (df["total"] == 0).mean()
    assert 0.35 <= zero <= 0.50
    for v, target in {"LCA": 0.83, "LAD": 0.47, "LCX": 0.71, "RCA": 0.63}.items():
        assert (df[v] > 0).any()
        assert abs((df[v] == 0).mean() - target) < 0.12, v
    assert 2 <= df["total"].median() <= 30 and df["total"].max() > 1000


def test_rendered_cohort_distribution():
    """RENDERED truth of 80 patients at size 96 (plaques drawn for that size): zero share near COCA's 43 %,
    non-zero cases in every vessel, small and large totals both present, zeros wherever nothing was drawn.

    The 200-patient distribution at 512 / 256 / 128 is measured by bench/bench_phantom.py --cohort 200."""
    rows, drawn_zero = [], 0
    for pid in range(1, 81):
        p = make_patient(pid, seed=5, size=96)
        if p.n_plaques == 0:
            drawn_zero += 1
            assert p.truth["total"] == 0
        rows.append(p.truth)
    df = pd.DataFrame(rows)
    zero = (df["total"] == 0).mean()
    assert drawn_zero / 80 <= zero and 0.30 <= zero <= 0.58, zero
    for v in VESSELS:
        assert (df[v] > 0).sum() >= 3, v
    nz = df["total"][df["total"] > 0]
    assert (nz <= 100).any() and (nz > 400).any(), nz.describe()


def test_gated_xml_matches_gated_truth(release):
    out, table = release
    from cacscore.scoring.gated import score_gated_patient

    n_rois = 0
    for pid in (1, 2, 3):
        xml = out / "Gated_release_final" / "calcium_xml" / f"{pid}.xml"
        root = plistlib.loads(xml.read_bytes())
        for img in root["Images"]:
            assert img["NumberOfROIs"] == len(img["ROIs"])
            n_rois += len(img["ROIs"])
        series = list((out / "Gated_release_final" / "patient" / str(pid)).iterdir())
        assert len(series) == 1 and "%" in series[0].name and "(" in series[0].name
        res = score_gated_patient(out, str(pid))
        row = table[table["id"] == pid].iloc[0]
        assert row["gated_rois_failed"] == 0
        for v in VESSELS:
            assert res.scores[v] == pytest.approx(row[f"gated_{v}"], rel=1e-4, abs=1e-3), (pid, v)
            assert res.xml_scores[v] == pytest.approx(row[f"gated_{v}"], rel=1e-4, abs=1e-3), (pid, v)
        assert res.scores["total"] == pytest.approx(sum(row[f"gated_{v}"] for v in VESSELS), rel=1e-4, abs=1e-3)
    assert n_rois > 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="size"):
        make_patient(1, seed=0, size=4)
    with pytest.raises(ValueError, match="n_patients"):
        write_release(Path("/nonexistent-never-written"), n_patients=0, seed=0)


def test_gated_series_renders_when_the_cardiac_field_of_view_misses_the_spine():
    # seed 5, patient 5 at 64 px: the gated field of view holds no spine; this used to raise a TypeError
    # (and write_release silently dropped the patient from a --gated release)
    p = make_patient(5, seed=5, size=64, gated=True)
    assert p.gated is not None


def _lookalike_pid(kind: str, *, seed: int = 1, start: int = 0) -> int:
    """The first patient of cohort ``seed`` whose draws hold a calcified look-alike of ``kind`` that a 128 px
    grid can show (radius >= 1.8 mm and >= 500 HU: at least ~270 HU when it fills half a 3 x 3 x 5 mm voxel;
    a 1 mm valve nodule averages to ~120 HU there and is legitimately invisible)."""
    from cacscore.phantom.core import _draws

    for pid in range(start, start + 200):
        d, _ = _draws(pid, seed, 128)
        if any(b.kind == kind and b.calcified and b.radius_mm >= 1.8 and b.hu >= 500 for b in d.cardiac + d.nodes):
            return pid
    raise AssertionError(f"no {kind} in 200 patients")


@pytest.mark.parametrize("kind", ["mitral_annulus", "aortic_valve", "lymph_node"])
def test_lookalike_calcium_is_visible_and_never_coronary(kind):
    """Look-alike calcium is painted (visible at >= 130 HU in the written image), marked bright, keeps
    clear of every coronary label, and leaves the per-vessel truth unchanged."""
    from cacscore.phantom.noncoronary import CORONARY_CLEARANCE_MM, _clearance_mm

    pid = _lookalike_pid(kind)
    p = make_patient(pid, seed=1, size=128)
    q = make_patient(pid, seed=1, size=128, lookalikes=False)
    assert p.truth == q.truth and p.truth_moving == q.truth_moving
    assert not np.array_equal(p.hu, q.hu)
    blobs = [b for b in p.lookalikes if b.kind == kind and b.calcified]
    assert blobs and not q.lookalikes
    centres = np.array([b.centre_mm for b in blobs])
    # (x, y, z) mm -> (z, y, x) voxel index
    idx = np.rint((centres[:, ::-1] - np.array(p.origin_mm)[::-1]) / np.array(p.spacing_mm)).astype(int)
    seen = [float(p.hu_static[k, max(j - 1, 0):j + 2, max(i - 1, 0):i + 2].max()) for k, j, i in idx]
    assert max(seen) >= 130, (kind, seen)
    # the new bright voxels carry no coronary label, and none of them is near a vessel
    new = p.bright & ~q.bright
    assert new.any() and not (p.labels[new] > 0).any()
    from cacscore.phantom.core import _draws

    vessels = _draws(pid, 1, 128)[0].vessels
    vpts = np.concatenate([v.points for v in vessels.values()])
    radii = np.array([b.radius_mm for b in blobs])
    assert (_clearance_mm(centres, vpts) >= CORONARY_CLEARANCE_MM + radii).all()
    assert p.summary()["mac"] == int(p.n_lookalikes("mitral_annulus") > 0)
    if kind == "mitral_annulus":
        assert p.summary()["mac"] == 1


def test_gated_series_shows_the_mitral_annulus_but_not_as_coronary():
    pid = _lookalike_pid("mitral_annulus")
    p = make_patient(pid, seed=1, size=96, gated=True)
    q = make_patient(pid, seed=1, size=96, gated=True, lookalikes=False)
    assert p.gated.truth == q.gated.truth
    assert np.array_equal(p.gated.labels, q.gated.labels)
    assert (p.gated.hu >= 130).sum() > (q.gated.hu >= 130).sum()


def test_phantom_cli_no_lookalikes(tmp_path):
    """`cacscore phantom --no-lookalikes` writes the same truth without the look-alikes (seed 1, pid 2 has a MAC)."""
    from cacscore.cli import main

    assert main(["phantom", str(tmp_path / "a"), "--patients", "2", "--seed", "1", "--size", "48"]) == 0
    assert main(["phantom", str(tmp_path / "b"), "--patients", "2", "--seed", "1", "--size", "48",
                 "--no-lookalikes"]) == 0
    a, b = pd.read_csv(tmp_path / "a" / "truth.csv"), pd.read_csv(tmp_path / "b" / "truth.csv")
    assert a[list(VESSELS)].equals(b[list(VESSELS)])
    assert a["mac"].tolist() == [0, 1] and b["mac"].tolist() == [0, 0]
