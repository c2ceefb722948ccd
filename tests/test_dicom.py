"""cacscore.io.dicom on real files (LIDC-IDRI-0002, pydicom test data) and crafted fixtures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import JPEG2000Lossless, RLELossless, generate_uid

from cacscore.io.dicom import AIR_HU, DicomError, find_series, read_series
from ingest_fixtures import SHARED_LIDC, chest_slice, marker_hu, write_series, write_slice


def lidc_folder() -> Path:
    if not SHARED_LIDC.is_dir():
        pytest.fail(f"real test series missing: {SHARED_LIDC} (clone shared/ beside the repository)")
    return SHARED_LIDC


@pytest.fixture(scope="module")
def lidc():
    return read_series(lidc_folder())


def _markers(vol) -> np.ndarray:
    return vol.hu[:, :4, :4].mean((1, 2))


# ------------------------------------------------------------------ the real GE series
def test_lidc_real_series(lidc):
    v = lidc
    assert v.hu.shape == (261, 512, 512) and v.hu.dtype == np.float32
    assert v.spacing_mm == pytest.approx((1.25, 0.681641, 0.681641))
    z = v.positions_mm[:, 2]
    assert np.all(np.diff(z) > 0) and z[0] == pytest.approx(-334.5) and z[-1] == pytest.approx(-9.5)
    # PixelPaddingValue -2000 (signed) is outside the scan: air, never -3024 HU
    assert v.hu.min() == AIR_HU
    corner = v.hu[:, :20, :20]
    assert np.all(corner == AIR_HU)
    assert (v.hu == AIR_HU).mean() > 0.15
    # the XML, README and ATTRIBUTION were skipped and counted, the missing file number did not matter
    assert v.meta["non_dicom_skipped"] == 3 and len(v.files) == 261
    assert v.manufacturer == "GE MEDICAL SYSTEMS" and v.kvp == 120 and v.contrast is False
    # soft tissue and air at their physical values
    body = v.hu[130, 200:300, 200:300]
    assert -200 < np.median(body) < 200


def test_lidc_meta_is_deidentified(lidc):
    ds = pydicom.dcmread(lidc_folder() / "000001.dcm", stop_before_pixels=True)
    text = json.dumps(lidc.meta)
    for key in ("PatientName", "PatientID", "PatientBirthDate", "StudyInstanceUID", "SeriesInstanceUID"):
        assert key not in lidc.meta
        val = str(ds.get(key, "") or "")
        if len(val) > 3:
            assert val not in text


# ------------------------------------------------------------------ pydicom test data
def _series_from_file(src: str, folder: Path, n: int = 3, dz: float = 2.5, ext: str = "",
                      along_normal: bool = False) -> list[Path]:
    """n copies of one real slice dz apart (along patient z, or along the slice normal), written
    with InstanceNumber and file names in reverse order."""
    folder.mkdir(parents=True, exist_ok=True)
    uid = generate_uid()
    out = []
    for k in range(n):
        ds = pydicom.dcmread(src)
        ds.SeriesInstanceUID = uid
        ds.SOPInstanceUID = generate_uid()
        p = np.asarray(ds.ImagePositionPatient, float)
        o = np.asarray(ds.ImageOrientationPatient, float)
        step = np.cross(o[:3], o[3:]) if along_normal else np.array([0.0, 0.0, 1.0])
        ds.ImagePositionPatient = [float(v) for v in p + dz * k * step]
        ds.InstanceNumber = n - k
        path = folder / f"slice{n - k}{ext}"
        ds.save_as(path)
        out.append(path)
    return out


def _hu_of(path: str) -> np.ndarray:
    ds = pydicom.dcmread(path)
    hu = ds.pixel_array * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))
    return np.maximum(hu, AIR_HU)


def test_ct_small_without_extension(tmp_path):
    src = get_testdata_file("CT_small.dcm")
    _series_from_file(src, tmp_path / "s", ext="")
    v = read_series(tmp_path / "s")
    assert v.hu.shape == (3, 128, 128)
    np.testing.assert_array_equal(v.hu[0], _hu_of(src))
    assert v.spacing_mm[0] == pytest.approx(2.5)
    assert [f.name for f in v.files] == ["slice3", "slice2", "slice1"]  # ascending z, not file order


@pytest.mark.parametrize("name", ["693_J2KR.dcm", "693_J2KI.dcm", "bad_sequence.dcm"])
def test_compressed_real_ct(tmp_path, name):
    """JPEG 2000 lossless / lossy and JPEG lossless (process 14) CT decode through pylibjpeg."""
    src = get_testdata_file(name)
    assert src is not None, name
    _series_from_file(src, tmp_path / "s", n=2)
    v = read_series(tmp_path / "s")
    assert v.hu.shape == (2, 512, 512)
    if name == "693_J2KR.dcm":  # lossless: identical to the uncompressed reference
        np.testing.assert_array_equal(v.hu[0], _hu_of(get_testdata_file("693_UNCR.dcm")))
        assert v.meta["PixelPaddingValue"] == -2000 and v.hu.min() == AIR_HU
    else:
        assert np.isfinite(v.hu).all() and v.hu.max() > 500


def test_rle_and_j2k_encoded_fixture_equal_uncompressed(tmp_path):
    src = get_testdata_file("CT_small.dcm")
    ref = _hu_of(src)
    for ts in (RLELossless, JPEG2000Lossless):
        folder = tmp_path / ts.name.replace(" ", "_")
        for path in _series_from_file(src, folder, n=2):
            ds = pydicom.dcmread(path)
            ds.compress(ts)
            ds.save_as(path)
        assert pydicom.dcmread(folder / "slice1").file_meta.TransferSyntaxUID == ts
        v = read_series(folder)
        np.testing.assert_array_equal(v.hu[1], ref)


def test_pixel_representation_mismatch_and_gantry_tilt(tmp_path):
    """J2K codestream signedness differs from the header; the orientation is tilted 22 degrees."""
    src = get_testdata_file("J2K_pixelrep_mismatch.dcm")
    _series_from_file(src, tmp_path / "oblique", n=3, dz=2.0, along_normal=True)
    v = read_series(tmp_path / "oblique")  # steps along the normal: an oblique stack, no tilt
    assert v.meta["tilt_deg"] < 0.5 and v.hu.shape == (3, 512, 512)
    np.testing.assert_array_equal(v.hu[0], _hu_of(src))  # signed decode: no wraparound
    assert v.hu.min() == AIR_HU and v.hu.max() > 1000
    _series_from_file(src, tmp_path / "tilt", n=3, dz=2.0)
    v = read_series(tmp_path / "tilt")  # steps along the table (z): gantry tilt, resampled
    assert v.meta["tilt_deg"] == pytest.approx(22.0, abs=0.2)
    assert any("gantry tilt" in c for c in v.meta["corrections"])
    np.testing.assert_allclose(v.orientation, [1, 0, 0, 0, 1, 0])
    assert v.spacing_mm[0] == pytest.approx(2.0) and v.hu.min() >= AIR_HU


def test_enhanced_multiframe_ct():
    src = get_testdata_file("eCT_Supplemental.dcm")
    v = read_series(src)
    ds = pydicom.dcmread(src)
    frames = ds.pixel_array.astype(np.float32) - 1024  # shared rescale: intercept -1024
    assert v.hu.shape == (2, 512, 512) and v.spacing_mm[0] == pytest.approx(10.0)
    assert v.positions_mm[0][2] < v.positions_mm[1][2]  # inferior first
    # row cosine is -x: the reader flips columns to the standard orientation
    np.testing.assert_array_equal(v.hu[0], np.maximum(frames[0][:, ::-1], AIR_HU))
    assert v.contrast is True and v.meta["enhanced"] is True


def test_non_ct_and_no_image_files_refused(tmp_path):
    shutil.copy(get_testdata_file("MR_small.dcm"), tmp_path / "mr.dcm")
    shutil.copy(get_testdata_file("no_meta.dcm"), tmp_path / "no_meta.dcm")
    shutil.copy(get_testdata_file("rtplan.dcm"), tmp_path / "rtplan.dcm")
    infos = find_series(tmp_path)
    assert len(infos) == 1 and not infos[0].usable and "MR" in infos[0].reason
    with pytest.raises(DicomError, match=r"no usable axial CT series.*modality MR"):
        read_series(tmp_path)


# ------------------------------------------------------------------ crafted series
def test_coca_like_order_no_uid_flipped_slice_location(tmp_path):
    files = write_series(tmp_path / "p", 7, z0=-100.0)
    v = read_series(tmp_path / "p")
    expect = [marker_hu(-100.0 + 5 * k) for k in range(7)]
    np.testing.assert_allclose(_markers(v), expect)
    ds = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
    assert all("SeriesInstanceUID" not in d for d in ds)
    assert all(float(d.SliceLocation) == -float(d.ImagePositionPatient[2]) for d in ds)


def test_signed_unsigned_padding(tmp_path):
    n = 32
    pad = np.zeros((n, n), bool)
    pad[:, :3] = True
    for signed, padding in ((False, 0), (True, -2000)):
        folder = tmp_path / f"s{signed}"
        for k in range(3):
            write_slice(folder / f"{k}.dcm", chest_slice(n, 5.0 * k), z_mm=5.0 * k, signed=signed,
                        padding=padding, pad_mask=pad, series_uid="1.2.3.4" if signed else None)
        v = read_series(folder)
        assert np.all(v.hu[:, :, :3] == AIR_HU)  # padding -> air
        np.testing.assert_allclose(v.hu[1, 10:, 3:], chest_slice(n, 5.0)[10:, 3:].clip(AIR_HU))


def test_stub_non_dicom_hidden_and_localizer_skipped(tmp_path):
    folder = tmp_path / "p"
    write_series(folder, 5)
    write_slice(folder / "IM-stub.dcm", chest_slice(32, 50.0), z_mm=50.0, pixel_data=False)
    (folder / "notes.xml").write_text("<xml>not dicom</xml>")
    (folder / ".hidden.dcm").write_bytes(b"\0" * 200)
    write_slice(folder / "scout.dcm", chest_slice(32, 0.0), z_mm=0, orientation=(0, 1, 0, 0, 0, -1),
                image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"), series_uid="9.9.9")
    v = read_series(folder)
    assert v.hu.shape[0] == 5
    assert v.meta["stubs_skipped"] == 1 and v.meta["non_dicom_skipped"] == 1
    reasons = [s.reason for s in find_series(folder) if not s.usable]
    assert reasons == ["localizer/scout"]


def test_two_series_choice_rule_and_override(tmp_path):
    folder = tmp_path / "p"
    write_series(folder, 6, coca=False, series_uid="1.2.826.0.1.1", names="a{:03d}.dcm")
    write_series(folder, 4, coca=False, series_uid="1.2.826.0.1.2", names="b{:03d}.dcm", dz=2.0, z0=-190)
    infos = find_series(folder)
    assert len(infos) == 2 and all(s.usable for s in infos)
    assert read_series(folder).hu.shape[0] == 6  # largest z extent
    assert read_series(folder, series="1.2.826.0.1.2").hu.shape[0] == 4
    with pytest.raises(DicomError, match="0 series match"):
        read_series(folder, series="nope")


def test_no_uid_groups_split_by_geometry(tmp_path):
    folder = tmp_path / "p"
    write_series(folder, 5, size=32, names="a{:03d}.dcm")
    write_series(folder, 3, size=48, names="b{:03d}.dcm")
    infos = find_series(folder)
    assert sorted(s.rows for s in infos) == [32, 48]
    assert read_series(folder).hu.shape == (5, 32, 32)


def test_missing_slice_refused_or_interpolated(tmp_path):
    files = write_series(tmp_path / "p", 8, shuffle_seed=None)
    files[4].unlink()
    with pytest.raises(DicomError, match=r"missing slices.*10.00 mm.*IM-0001-0004.dcm"):
        read_series(tmp_path / "p")
    v = read_series(tmp_path / "p", on_gap="interpolate")
    assert v.hu.shape[0] == 8
    np.testing.assert_allclose(_markers(v), [marker_hu(-200.0 + 5 * k) for k in range(8)], atol=1e-3)


def test_uneven_spacing_resampled(tmp_path):
    zs = [0.0, 5.0, 10.0, 16.0, 20.0, 25.0]
    for k, z in enumerate(zs):
        write_slice(tmp_path / f"{k}.dcm", chest_slice(32, z), z_mm=z)
    v = read_series(tmp_path)
    assert v.spacing_mm[0] == pytest.approx(5.0) and v.hu.shape[0] == 6
    np.testing.assert_allclose(_markers(v), [marker_hu(5.0 * k) for k in range(6)], atol=1e-3)
    assert any("uneven" in c for c in v.meta["corrections"])


def test_mirrored_orientation_gives_standard_array(tmp_path):
    ref_dir, flip_dir = tmp_path / "ref", tmp_path / "flip"
    n = 32
    img = chest_slice(n, 0.0)
    img[20:24, 5:8] = 500  # asymmetric feature
    for k in range(3):
        write_slice(ref_dir / f"{k}.dcm", img, z_mm=5.0 * k)
        # same anatomy stored with row direction -x and column direction -y
        write_slice(flip_dir / f"{k}.dcm", img[::-1, ::-1], z_mm=5.0 * k, orientation=(-1, 0, 0, 0, -1, 0),
                    position=(-20.0 + 0.7 * (n - 1), -20.0 + 0.7 * (n - 1), 5.0 * k))
    a, b = read_series(ref_dir), read_series(flip_dir)
    np.testing.assert_array_equal(a.hu, b.hu)
    np.testing.assert_allclose(a.positions_mm, b.positions_mm)


def test_synthetic_gantry_tilt_straightens_a_plane(tmp_path):
    """A horizontal sheet (z = 7..13 mm) drawn into tilted slices lands in one output slice."""
    n, dy, tilt = 48, 1.0, np.radians(20)
    c = (0.0, np.cos(tilt), -np.sin(tilt))
    for k in range(12):
        z0 = 5.0 * k - 15.0
        jj = np.arange(n)[:, None] * np.ones((1, n))
        zpix = z0 + jj * dy * c[2]  # patient z of each pixel
        img = np.where(np.abs(zpix - 10.0) < 3.0, 1000.0, 0.0)
        write_slice(tmp_path / f"{k}.dcm", img, z_mm=z0, spacing_mm=dy, orientation=(1, 0, 0, *c),
                    position=(0.0, 0.0, z0))
    v = read_series(tmp_path)
    assert v.meta["tilt_deg"] == pytest.approx(20, abs=0.1)
    k10 = int(np.argmin(np.abs(v.positions_mm[:, 2] - 10.0)))
    rows_lit = (v.hu[k10] > 400).any(1)
    assert rows_lit.sum() > 0.8 * n * np.cos(tilt) - 2  # bright across the whole y range
    assert (v.hu[k10 - 2] > 400).sum() == 0 and (v.hu[k10 + 2] > 400).sum() == 0


def test_contrast_flag_and_errors(tmp_path):
    for k in range(2):
        write_slice(tmp_path / "c" / f"{k}.dcm", chest_slice(32, 5.0 * k), z_mm=5.0 * k,
                    extra={"ContrastBolusAgent": "IOHEXOL"})
    assert read_series(tmp_path / "c").contrast is True
    with pytest.raises(DicomError, match="no such file or folder"):
        read_series(tmp_path / "absent")
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "x.txt").write_text("hello")
    with pytest.raises(DicomError, match=r"e: no usable axial CT series \(no DICOM image files\)"):
        read_series(tmp_path / "e")
    with pytest.raises(ValueError, match="on_gap"):
        read_series(tmp_path / "c", on_gap="skip")


def test_duplicate_positions_refused(tmp_path):
    for k in range(3):
        write_slice(tmp_path / f"a{k}.dcm", chest_slice(32, 5.0 * k), z_mm=5.0 * k)
    write_slice(tmp_path / "dup.dcm", chest_slice(32, 5.0), z_mm=5.0)
    with pytest.raises(DicomError, match="share a position"):
        read_series(tmp_path)


def test_file_without_meta_header(tmp_path):
    for k in range(2):
        p = write_slice(tmp_path / f"{k}", chest_slice(32, 5.0 * k), z_mm=5.0 * k)
        ds = pydicom.dcmread(p)
        del ds.file_meta
        ds.preamble = None
        pydicom.dcmwrite(p, ds, enforce_file_format=False, implicit_vr=True, little_endian=True)
        with open(p, "rb") as fh:
            assert fh.read(132)[128:132] != b"DICM"
    v = read_series(tmp_path)
    np.testing.assert_allclose(_markers(v), [marker_hu(0.0), marker_hu(5.0)])
