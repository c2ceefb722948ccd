"""Tests of COCA gated-XML reading, rasterisation and scoring, and of the `score` / `score-gated` CLI.

Every file is written here with invented values in the COCA form: uint16 DICOMs (intercept -1024,
InstanceNumber reversed vs z, SliceLocation with the opposite sign), a hidden dot-file and a
header-only stub in the series folder, '%' and '()' in folder names, and OsiriX-style plists.
"""

from __future__ import annotations

import csv
import io
import json
import plistlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from cacscore.cli import main
from cacscore.scoring.gated import (
    GATED_COLUMNS,
    GatedError,
    match_rois_to_slices,
    pixel_mm_offset_px,
    score_gated_cohort,
    score_gated_patient,
)
from cacscore.io.dicom import read_series
from cacscore.io.roi_xml import RoiXmlError, rasterise_polygon, read_roi_plist
from cacscore.scoring.agatston import agatston_weight

ROWS, COLS = 40, 32  # not square: catches row/column mix-ups
PS = (0.5, 0.4)  # (row, col) spacing mm
ORIGIN = np.array([-10.0, -20.0, 0.0])
Z0, DZ, NZ = -100.0, 3.0, 5
SERIES = "Pro_Gated_CS_3.0_I30f_3_70%(1)"


# ---------------------------------------------------------------- writers
def write_series(folder: Path, hu: np.ndarray, *, z0: float = Z0, dz: float = DZ) -> None:
    """Write (z, y, x) HU as one DICOM file per slice; InstanceNumber runs against z as in COCA."""
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = generate_uid()
    nz = hu.shape[0]
    for k in range(nz):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.Modality, ds.SeriesInstanceUID, ds.KVP = "CT", series_uid, 120
        ds.Rows, ds.Columns = hu.shape[1:]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        z = z0 + k * dz
        ds.ImagePositionPatient = [float(ORIGIN[0]), float(ORIGIN[1]), z]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.SliceLocation = -z
        ds.PixelSpacing = list(PS)
        ds.SliceThickness = dz
        ds.InstanceNumber = nz - k
        ds.PixelData = (np.round(hu[k]) + 1024).astype(np.uint16).tobytes()
        # file names follow InstanceNumber, so name order is the reverse of z order
        ds.save_as(folder / f"IM-0001-{nz - k:04d}.dcm", enforce_file_format=True)
    (folder / ".DS_Store").write_bytes(b"\0\1junk")
    stub = pydicom.dcmread(folder / "IM-0001-0001.dcm")
    del stub.PixelData
    stub.save_as(folder / "IM-0002-0001.dcm")  # header-only stub


def rect(r0: int, c0: int, r1: int, c1: int) -> list[tuple[float, float]]:
    """Polygon (col, row) tracing the pixel boundary of rows r0..r1, cols c0..c1 (inclusive)."""
    return [(c0 - 0.5, r0 - 0.5), (c1 + 0.5, r0 - 0.5), (c1 + 0.5, r1 + 0.5), (c0 - 0.5, r1 + 0.5)]


def roi_dict(name: str, poly: list[tuple[float, float]], *, z: float | None, n_px: int, max_hu: float) -> dict:
    pts_px = [f"({c:.6f}, {r:.6f})" for c, r in poly]
    pts_mm = [] if z is None else [f"({ORIGIN[0] + c * PS[1]:.6f}, {ORIGIN[1] + r * PS[0]:.6f}, {z:.6f})"
                                   for c, r in poly]
    return {"Name": name, "Area": n_px * PS[0] * PS[1] / 100.0, "Center": "(0, 0, 0)", "Max": float(max_hu),
            "Mean": float(max_hu), "Min": 130.0, "Dev": 0.0, "Total": 0.0, "NumberOfPoints": len(poly),
            "Point_px": pts_px, "Point_mm": pts_mm, "Type": 15, "IndexInImage": 0, "Length": 0.0}


def placeholder() -> dict:
    return {"Name": "Unnamed", "Area": 0.0, "NumberOfPoints": 0, "Point_px": [], "Point_mm": [], "Max": 0.0}


def write_plist(path: Path, images: dict[int, list[dict]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    root = {"Images": [{"ImageIndex": k, "NumberOfROIs": len(v), "ROIs": v} for k, v in sorted(images.items())]}
    with open(path, "wb") as fh:
        plistlib.dump(root, fh)


# Invented lesions: (slice index in ascending z, vessel name, rows r0..r1, cols c0..c1, body HU, peak HU)
LESIONS = [
    (1, "Left Anterior Descending Artery", 5, 5, 8, 9, 180.0, 250.0),  # 4 x 5 = 20 px, weight 2
    (1, "Right Coronary Artery", 20, 20, 22, 21, 140.0, 160.0),        # 3 x 2 = 6 px, weight 1
    (2, "Left Circumflex Artery", 10, 10, 14, 12, 350.0, 420.0),       # 5 x 3 = 15 px, weight 4
    (3, "Left Coronary Artery", 30, 3, 31, 7, 200.0, 305.0),           # 2 x 5 = 10 px, weight 3
    (3, "Left Anterior Descending Artery", 2, 20, 3, 21, 133.0, 133.0),  # 4 px = 0.8 mm^2, weight 1
]
VESSEL_OF = {"Left Coronary Artery": "LCA", "Left Anterior Descending Artery": "LAD",
             "Left Circumflex Artery": "LCX", "Right Coronary Artery": "RCA"}


def make_patient(gated: Path, pid: str, *, rng: np.random.Generator, lesions=LESIONS, extra: dict | None = None,
                 use_mm: bool = True) -> dict[str, float]:
    """Write one gated patient; returns the independently computed expected Area x weight per vessel."""
    hu = rng.normal(30.0, 15.0, size=(NZ, ROWS, COLS)).clip(-200, 120)
    hu[:, 36:, :] = 800.0  # bright unannotated bone: must not be scored
    images: dict[int, list[dict]] = {}
    expected = {v: 0.0 for v in ("LCA", "LAD", "LCX", "RCA")}
    for k, name, r0, c0, r1, c1, body, peak in lesions:
        hu[k, r0:r1 + 1, c0:c1 + 1] = body
        hu[k, r0, c0] = peak
        n_px = (r1 - r0 + 1) * (c1 - c0 + 1)
        z = Z0 + k * DZ if use_mm else None
        images.setdefault(k, []).append(roi_dict(name, rect(r0, c0, r1, c1), z=z, n_px=n_px, max_hu=peak))
        weight = 4 if peak >= 400 else 3 if peak >= 300 else 2 if peak >= 200 else 1
        expected[VESSEL_OF[name]] += n_px * PS[0] * PS[1] * weight
    for k, rois in (extra or {}).items():
        images.setdefault(k, []).extend(rois)
    write_series(gated / "patient" / pid / SERIES, hu)
    write_plist(gated / "calcium_xml" / f"{pid}.xml", images)
    expected["total"] = sum(expected.values())
    return expected


@pytest.fixture()
def coca(tmp_path: Path) -> tuple[Path, dict[str, dict[str, float]]]:
    return build_coca(tmp_path)


def build_coca(tmp_path: Path) -> tuple[Path, dict[str, dict[str, float]]]:
    """A COCA-layout tree: good patients 1, 2 (two series folders), 3 (no Point_mm) and bad 4-7."""
    root = tmp_path / "coca-root"
    gated = root / "Gated_release_final"
    rng = np.random.default_rng(0)
    exp = {"1": make_patient(gated, "1", rng=rng,
                             extra={1: [placeholder()], 2: [roi_dict("555614876", rect(1, 1, 2, 2), z=Z0 + 6,
                                                                     n_px=4, max_hu=300)]})}
    exp["2"] = make_patient(gated, "2", rng=rng, lesions=LESIONS[:3])
    # a second series folder at other z positions, sorting before the right one: must not be chosen
    write_series(gated / "patient" / "2" / "A_other(2)%", rng.normal(0, 10, (NZ, ROWS, COLS)), z0=Z0 + 1.5)
    exp["3"] = make_patient(gated, "3", rng=rng, lesions=LESIONS[2:], use_mm=False)
    # 4: not a plist; 5: ROI outside the image; 6: z with no slice; 7: XML but no images
    make_patient(gated, "4", rng=rng, lesions=LESIONS[:1])
    (gated / "calcium_xml" / "4.xml").write_text("<html><body>not a plist</body></html>")
    make_patient(gated, "5", rng=rng, lesions=LESIONS[:1],
                 extra={2: [roi_dict("Right Coronary Artery", rect(10, 30, 12, 40), z=Z0 + 6, n_px=33, max_hu=200)]})
    make_patient(gated, "6", rng=rng, lesions=LESIONS[:1],
                 extra={2: [roi_dict("Right Coronary Artery", rect(10, 10, 12, 12), z=Z0 + 40, n_px=9, max_hu=200)]})
    write_plist(gated / "calcium_xml" / "7.xml", {0: [roi_dict("Right Coronary Artery", rect(1, 1, 2, 2),
                                                               z=Z0, n_px=4, max_hu=200)]})
    return root, exp


# ---------------------------------------------------------------- unit pieces
def test_read_series_sorts_by_position_and_rescales(coca):
    root, _ = coca
    vol = read_series(root / "Gated_release_final" / "patient" / "1" / SERIES)
    assert vol.hu.shape == (NZ, ROWS, COLS)
    assert np.all(np.diff(vol.positions_mm[:, 2]) > 0)
    assert vol.hu[1, 5, 5] == pytest.approx(250.0) and vol.hu[0, 37, 0] == pytest.approx(800.0)


def test_read_roi_plist_counts_placeholders_and_unknown_names(coca):
    root, _ = coca
    rf = read_roi_plist(root / "Gated_release_final" / "calcium_xml" / "1.xml")
    assert len(rf.rois) == len(LESIONS) and rf.n_placeholder == 1
    assert rf.unknown_names == ("555614876",)
    roi = rf.rois[0]
    assert roi.vessel == "LAD" and roi.points_px.shape == (4, 2) and roi.points_mm.shape == (4, 3)
    assert roi.z_mm == pytest.approx(Z0 + DZ) and roi.image_index == 1


def test_not_a_plist_is_one_clear_error(tmp_path):
    bad = tmp_path / "9.xml"
    bad.write_text("<html>nope</html>")
    with pytest.raises(RoiXmlError, match=r"9\.xml: not a plist"):
        read_roi_plist(bad)
    bad.write_bytes(b"\x89PNG garbage")
    with pytest.raises(RoiXmlError, match=r"9\.xml: not a plist"):
        read_roi_plist(bad)
    with open(bad, "wb") as fh:
        plistlib.dump({"Foo": 1}, fh)
    with pytest.raises(RoiXmlError, match="no 'Images'"):
        read_roi_plist(bad)


def test_rasterise_polygon_on_pixel_centres():
    m = rasterise_polygon(np.array(rect(2, 3, 4, 7)), (10, 12))
    assert m.sum() == 15 and m[2:5, 3:8].all()
    tri = rasterise_polygon(np.array([(-0.5, -0.5), (6.5, -0.5), (-0.5, 6.5)]), (8, 8))  # (col, row)
    assert tri[0, 5] and tri[5, 0] and not tri[5, 5] and not tri[0, 7]
    assert not rasterise_polygon(np.array(rect(2, 20, 4, 25)), (10, 12)).any()


def test_roi_z_matching_uses_point_mm_and_image_index(coca):
    root, _ = coca
    gated = root / "Gated_release_final"
    vol = read_series(gated / "patient" / "1" / SERIES)
    rf = read_roi_plist(gated / "calcium_xml" / "1.xml")
    slices, mismatch = match_rois_to_slices(rf.rois, vol, where="t")
    assert slices.tolist() == [les[0] for les in LESIONS] and mismatch == 0
    assert pixel_mm_offset_px(rf.rois, vol) == pytest.approx((0.0, 0.0), abs=1e-4)
    rf3 = read_roi_plist(gated / "calcium_xml" / "3.xml")
    assert all(r.points_mm is None for r in rf3.rois)
    assert match_rois_to_slices(rf3.rois, vol, where="t")[0].tolist() == [les[0] for les in LESIONS[2:]]


# ---------------------------------------------------------------- end to end
def test_score_gated_patient_equals_independent_area_times_weight(coca):
    root, exp = coca
    for pid in ("1", "2", "3"):
        s = score_gated_patient(root, pid, keep_labels=True)
        for k in ("LCA", "LAD", "LCX", "RCA", "total"):
            assert s.scores[k] == pytest.approx(exp[pid][k], rel=1e-9, abs=1e-9), (pid, k)
            assert s.xml_scores[k] == pytest.approx(exp[pid][k], rel=1e-9, abs=1e-9), (pid, k)
        assert s.series == SERIES  # patient 2: the matching series, not the first folder
        assert s.labels.shape == (NZ, ROWS, COLS) and s.labels[:, 36:, :].max() == 0
    s1 = score_gated_patient(root, "1")
    assert s1.n_placeholder == 1 and s1.unknown_names == ("555614876",)
    assert exp["1"]["LAD"] == pytest.approx(20 * 0.2 * 2 + 4 * 0.2 * 1)  # 0.8 mm^2 ROI counts: no minimum


def test_weight_from_peak_and_threshold_inside_polygon(coca):
    root, _ = coca
    s = score_gated_patient(root, "1")
    lcx = [les for les in s.lesions if les.vessel == "LCX"][0]
    assert (lcx.n_pixels, lcx.weight, lcx.peak_hu) == (15, 4, pytest.approx(420.0))
    assert agatston_weight(lcx.peak_hu) == 4


def test_cohort_reports_bad_patients_and_scores_the_rest(coca):
    root, exp = coca
    scores, errors = score_gated_cohort(root)
    assert [s.id for s in scores] == ["1", "2", "3"]
    assert len(errors) == 4 and all("\n" not in e for e in errors)
    assert "4.xml: not a plist" in errors[0]
    assert "5.xml" in errors[1] and "outside the 40 x 32 image" in errors[1]
    assert "6.xml" in errors[2] and "matches no slice" in errors[2]
    assert "patient" in errors[3] and "7" in errors[3] and "missing" in errors[3]


def test_cli_score_gated_csv_json_and_exit_code(coca, tmp_path, capsys):
    root, exp = coca
    out = tmp_path / "res" / "scores.csv"
    assert main(["score-gated", str(root), "--out", str(out)]) == 1  # bad patients -> non-zero
    err = capsys.readouterr().err
    assert err.count("cacscore score-gated: error:") == 4
    rows = list(csv.DictReader(out.open()))
    assert tuple(rows[0]) == GATED_COLUMNS == ("id", "LCA", "LAD", "LCX", "RCA", "total",
                                               "xml_LCA", "xml_LAD", "xml_LCX", "xml_RCA", "xml_total")
    assert [r["id"] for r in rows] == ["1", "2", "3"]
    for r in rows:
        for k in ("LCA", "LAD", "LCX", "RCA", "total"):
            assert float(r[k]) == pytest.approx(exp[r["id"]][k], abs=1e-4)
            assert float(r[f"xml_{k}"]) == pytest.approx(float(r[k]), rel=0.01, abs=1e-4)
    assert not [p for p in out.parent.iterdir() if p.name != "scores.csv"]  # no temp file left
    assert main(["score-gated", str(root), "--patients", "1,3", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert [g["id"] for g in got] == ["1", "3"] and got[0]["total"] == pytest.approx(exp["1"]["total"], abs=1e-4)
    assert main(["score-gated", str(root), "--patients", "2"]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0] == ",".join(GATED_COLUMNS) and len(text.splitlines()) == 2


def test_cli_score_gated_bad_root(tmp_path, capsys):
    assert main(["score-gated", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "calcium_xml" in err[0] and str(tmp_path) in err[0]


# ---------------------------------------------------------------- `cacscore score`
def _ct_and_mask() -> tuple[np.ndarray, np.ndarray, float]:
    hu = np.full((4, 20, 24), 20.0, dtype=np.float32)
    lab = np.zeros(hu.shape, dtype=np.uint8)
    hu[1, 2:6, 3:8] = 260.0  # 20 px x 0.2 mm^2 = 4 mm^2, weight 2 -> 8 (x spacing factor)
    lab[1, 2:6, 3:8] = 2
    hu[2, 10:13, 10:13] = 500.0  # 9 px = 1.8 mm^2, weight 4 -> 7.2
    lab[2, 10:13, 10:13] = 4
    return hu, lab, (8.0 + 7.2)


def test_cli_score_nifti_and_npy(tmp_path, capsys):
    hu, lab, total = _ct_and_mask()
    affine = np.diag([PS[1], PS[0], 3.0, 1.0])  # zooms (x, y, z)
    nib.save(nib.Nifti1Image(hu.transpose(2, 1, 0), affine), tmp_path / "ct.nii.gz")
    nib.save(nib.Nifti1Image(lab.transpose(2, 1, 0), affine), tmp_path / "mask.nii.gz")
    np.save(tmp_path / "mask.npy", lab)
    assert main(["score", str(tmp_path / "ct.nii.gz"), "--labels", str(tmp_path / "mask.nii.gz")]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 1 and tuple(rows[0]) == ("LCA", "LAD", "LCX", "RCA", "total")
    assert float(rows[0]["LAD"]) == pytest.approx(8.0) and float(rows[0]["RCA"]) == pytest.approx(7.2)
    assert float(rows[0]["total"]) == pytest.approx(total)
    assert main(["score", str(tmp_path / "ct.nii.gz"), "--labels", str(tmp_path / "mask.npy"), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got == pytest.approx({"LCA": 0.0, "LAD": 8.0, "LCX": 0.0, "RCA": 7.2, "total": total})


def test_cli_score_dicom_folder(tmp_path, capsys):
    hu, lab, total = _ct_and_mask()
    hu5 = np.concatenate([hu, np.zeros((1, *hu.shape[1:]), np.float32)])
    lab5 = np.concatenate([lab, np.zeros((1, *lab.shape[1:]), np.uint8)])
    write_series(tmp_path / "ct(1)%", hu5)
    np.save(tmp_path / "m.npy", lab5)
    assert main(["score", str(tmp_path / "ct(1)%"), "--labels", str(tmp_path / "m.npy"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == pytest.approx(total)


def test_cli_score_wrong_mask_shape_is_one_line(tmp_path, capsys):
    hu, lab, _ = _ct_and_mask()
    nib.save(nib.Nifti1Image(hu.transpose(2, 1, 0), np.eye(4)), tmp_path / "ct.nii")
    np.save(tmp_path / "bad.npy", lab[:, :, :-1])
    assert main(["score", str(tmp_path / "ct.nii"), "--labels", str(tmp_path / "bad.npy")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.npy" in err[0] and "(4, 20, 23)" in err[0] and "(4, 20, 24)" in err[0]
    np.save(tmp_path / "nan.npy", lab)
    hu[0, 0, 0] = np.nan
    nib.save(nib.Nifti1Image(hu.transpose(2, 1, 0), np.eye(4)), tmp_path / "nan.nii")
    assert main(["score", str(tmp_path / "nan.nii"), "--labels", str(tmp_path / "nan.npy")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nan.nii" in err[0] and "NaN" in err[0]


def test_gated_error_is_value_error():
    assert issubclass(GatedError, ValueError) and issubclass(RoiXmlError, ValueError)


def test_cli_score_real_ge_series(tmp_path, capsys):
    """The real GE series (signed, 1.25 mm, a non-DICOM XML in the folder) through `cacscore score`."""
    from cacscore.scoring.agatston import agatston

    series = Path(__file__).resolve().parents[2] / "shared" / "data" / "lidc-idri-0002"
    assert series.is_dir(), f"shared test data missing: {series} (clone the repo beside shared/)"
    vol = read_series(series)
    lab = np.zeros(vol.hu.shape, dtype=np.uint8)
    lab[120:126, 250:420, 180:340] = 4  # a box over the back of the chest: holds bone >= 130 HU
    lab[120:126, 100:250, 180:340] = 2
    np.save(tmp_path / "mask.npy", lab)
    assert main(["score", str(series), "--labels", str(tmp_path / "mask.npy"), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    ref = agatston(vol.hu, lab, pixel_spacing_mm=vol.spacing_mm[1:], slice_spacing_mm=vol.spacing_mm[0])
    assert ref.total > 0 and ref.slice_factor == pytest.approx(1.25 / 3)
    assert got == pytest.approx({k: round(v, 4) for k, v in ref.as_row().items()}, abs=1e-3)
