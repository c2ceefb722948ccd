"""cacscore.regress.preprocess: z slabs, depth window, in-plane resampling, normalisation, heart finder."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from cacscore.io.dicom import Volume
from cacscore.regress.preprocess import PAD_HU, _crop_yx, PreprocessConfig, area_resample, depth_window, normalise, preprocess_volume, resample_z, resize_inplane
from cacscore.chest.heart import find_heart


def test_config_roundtrip_and_validation():
    c = PreprocessConfig(size=128, slices=40, centre="heart", normalisation="window", window_hu=(-200, 600))
    d = c.to_dict()
    assert d["window_hu"] == [-200.0, 600.0]
    assert PreprocessConfig.from_dict(d) == c
    for bad in ({"size": 2}, {"slices": 0}, {"centre": "lungs"}, {"normalisation": "minmax"},
                {"window_hu": (100, -100)}, {"z_spacing_mm": 0}):
        with pytest.raises(ValueError, match=list(bad)[0]):
            PreprocessConfig(**bad)


def test_resample_z_averages_thin_slices_into_slabs():
    rng = np.random.default_rng(0)
    hu = rng.normal(0, 100, (20, 4, 4)).astype(np.float32)
    out, dz = resample_z(hu, 1.25, 5.0)
    assert dz == 5.0 and out.shape == (5, 4, 4)
    np.testing.assert_allclose(out, hu.reshape(5, 4, 4, 4).mean(1), rtol=1e-5, atol=1e-3)
    # non-integer ratio (3 mm -> 5 mm): slab k is the overlap-weighted mean; total mass preserved
    hu3 = rng.normal(0, 100, (10, 2, 2)).astype(np.float32)  # 30 mm
    out3, _ = resample_z(hu3, 3.0, 5.0)
    assert out3.shape == (6, 2, 2)
    np.testing.assert_allclose(out3[0], (3 * hu3[0] + 2 * hu3[1]) / 5, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(out3.sum(0) * 5, hu3.sum(0) * 3, rtol=1e-4, atol=0.5)
    same, dz5 = resample_z(hu, 5.0, 5.0)
    assert dz5 == 5.0 and same.shape == hu.shape


def test_depth_window_pads_and_clips_around_centre():
    hu = np.arange(10, dtype=np.float32)[:, None, None] * np.ones((1, 2, 2), np.float32)
    out = depth_window(hu, 14)
    assert out.shape == (14, 2, 2)
    assert (out[:2] == PAD_HU).all() and (out[-2:] == PAD_HU).all() and out[2, 0, 0] == 0 and out[11, 0, 0] == 9
    clip = depth_window(hu, 4)
    np.testing.assert_array_equal(clip[:, 0, 0], [3, 4, 5, 6])
    around = depth_window(hu, 4, centre_index=8)  # kept inside the scan
    np.testing.assert_array_equal(around[:, 0, 0], [6, 7, 8, 9])


def test_area_downsample_keeps_small_calcium_unlike_point_sampling():
    """A 2x2 px calcification (600 HU) in soft tissue, 512 -> 128: area averaging keeps its HU mass."""
    img = np.full((1, 512, 512), 40.0, np.float32)
    masses_area, masses_zoom = [], []
    for off in range(4):
        im = img.copy()
        im[0, 201 + off:203 + off, 301 + off:303 + off] = 600.0
        a = area_resample(area_resample(im, 1, 128), 2, 128)
        z = ndimage.zoom(im, (1, 0.25, 0.25), order=1)
        masses_area.append(((a - 40) * 16).sum())
        masses_zoom.append(((z - 40) * 16).sum())
    true_mass = 4 * 560.0
    np.testing.assert_allclose(masses_area, true_mass, rtol=1e-4)
    assert np.ptp(masses_zoom) > 0.5 * true_mass  # point sampling: hit or miss depending on position
    up = resize_inplane(np.ones((2, 32, 32), np.float32), 64)
    assert up.shape == (2, 64, 64) and np.allclose(up, 1)


def test_area_resample_non_integer_factor():
    a = np.arange(10, dtype=np.float32)[None, :]
    out = area_resample(a, 1, 4)  # cells of 2.5
    np.testing.assert_allclose(out[0], [(0 + 1 + 0.5 * 2) / 2.5, (0.5 * 2 + 3 + 4) / 2.5,
                                        (5 + 6 + 0.5 * 7) / 2.5, (0.5 * 7 + 8 + 9) / 2.5])


def test_normalise_scan_and_window():
    rng = np.random.default_rng(1)
    batch = np.stack([rng.normal(0, 300, (5, 8, 8)), rng.normal(-500, 50, (5, 8, 8))]).astype(np.int16)
    z = normalise(batch, PreprocessConfig())
    assert z.dtype == np.float32 and z.shape == batch.shape
    np.testing.assert_allclose(z.mean((1, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(z.std((1, 2, 3)), 1, atol=1e-3)
    w = normalise(np.array([[[[-2000, -1000, 0, 1000, 3000]]]]), PreprocessConfig(normalisation="window"))
    np.testing.assert_allclose(w.ravel(), [0, 0, 0.5, 1, 1])
    with pytest.raises(ValueError, match="shape"):
        normalise(np.zeros((4, 4)), PreprocessConfig())


def _chest(nz=30, n=64, heart_z=12, dz=5.0) -> Volume:
    """Body (40 HU) with two lungs (-850 HU) on slices 4..25; the mediastinum between them is
    narrow except on slices heart_z-3..heart_z+3, where the heart pushes the lungs apart."""
    yy, xx = np.mgrid[0:n, 0:n]
    c = (n - 1) / 2
    body = ((yy - c) / (0.4 * n)) ** 2 + ((xx - c) / (0.45 * n)) ** 2 <= 1
    hu = np.where(body, 40.0, -1000.0)[None].repeat(nz, 0).astype(np.float32)
    for k in range(4, 26):
        gap = 12 if abs(k - heart_z) <= 3 else 3
        for sx in (-1, 1):
            lung = ((yy - c) / 16) ** 2 + ((xx - c - sx * (gap + 6)) / 6) ** 2 <= 1
            hu[k][lung] = -850.0
    return Volume(hu=hu, spacing_mm=(dz, 2.0, 2.0))


def test_find_heart_on_synthetic_chest():
    v = _chest()
    z, y, x = find_heart(v)
    assert abs(z - 12) <= 2
    assert abs(x - 32) <= 4 and abs(y - 32) <= 6


def test_preprocess_volume_shapes_and_heart_centre():
    v = _chest(nz=30, n=64, heart_z=8)
    x = preprocess_volume(v, PreprocessConfig(size=32, slices=10))
    assert x.dtype == np.int16 and x.shape == (10, 32, 32) and x.min() >= PAD_HU
    info = {}
    h = preprocess_volume(v, PreprocessConfig(size=32, slices=10, centre="heart"), info=info)
    assert abs(info["centre_index"] - 8) <= 2
    assert not np.array_equal(h, x)
    # thin slices: 1.25 mm -> 5 mm slabs, padded with air to 73
    thin = Volume(hu=np.zeros((40, 32, 32), np.float32), spacing_mm=(1.25, 0.7, 0.7))
    out = preprocess_volume(thin, PreprocessConfig(size=16))
    assert out.shape == (73, 16, 16)
    data = np.flatnonzero((out != PAD_HU).any((1, 2)))
    assert len(data) == 10 and np.ptp(data) == 9 and (out[data] == 0).all()
    assert {int(data[0]), 73 - int(data[-1]) - 1} == {31, 32}  # centred


@pytest.mark.parametrize("n", [8, 9, 10, 11, 261])
@pytest.mark.parametrize("spacing", [1.25, 2.5])
def test_resample_z_block_path_equals_interval_means(n, spacing):
    # the integer-ratio fast path must equal the general interval-mean definition
    from cacscore.regress.preprocess import PAD_HU, _interval_means
    hu = np.random.default_rng(n).normal(0, 300, size=(n, 3, 4)).astype(np.float32)
    got, dz = resample_z(hu, spacing, 5.0)
    extent = n * spacing
    n_out = max(1, int(round(extent / 5.0)))
    edges = np.minimum(np.arange(n_out + 1) * 5.0, extent)
    want = _interval_means(hu, np.zeros(1), spacing, edges)
    assert dz == 5.0 and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)
    assert not np.any(got == PAD_HU)


def test_normalise_integer_path_equals_float_definition():
    # int16 input takes the histogram path; it must equal the float z-score per scan
    hu = np.random.default_rng(3).integers(-1024, 1500, size=(3, 5, 8, 8)).astype(np.int16)
    cfg = PreprocessConfig(normalisation="scan")
    got = normalise(hu, cfg)
    x = hu.astype(np.float64)
    want = (x - x.mean(axis=(1, 2, 3), keepdims=True)) / x.std(axis=(1, 2, 3), keepdims=True)
    assert got.dtype == np.float32 and got.shape == hu.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(normalise(hu[0], cfg), got[0], atol=1e-6)


def test_heart_crop_centres_the_heart_at_finer_pixels():
    v = _chest(nz=30, n=64, heart_z=8)  # 2 mm pixels, 128 mm field of view
    info: dict = {}
    cfg = PreprocessConfig(size=32, slices=10, centre="heart", crop_mm=64.0)
    assert PreprocessConfig.from_dict(cfg.to_dict()) == cfg
    x = preprocess_volume(v, cfg, info=info)
    assert x.shape == (10, 32, 32) and x.dtype == np.int16
    assert info["pixel_mm"] == (2.0, 2.0)  # 64 mm over 32 px (the whole view at 32 px would be 4 mm)
    # the crop is the 32 x 32 window of the original around the found heart: same pixels, no resampling
    yc, xc = info["crop_centre_yx"]
    full = preprocess_volume(v, PreprocessConfig(size=64, slices=10, centre="heart"))
    np.testing.assert_array_equal(x, full[:, yc - 16:yc + 16, xc - 16:xc + 16])
    # a centre near the image edge: the square leaves the image and is filled with air
    img = np.arange(2 * 8 * 8, dtype=np.float32).reshape(2, 8, 8)
    e = _crop_yx(img, (1, 6), (2.0, 2.0), 8.0)  # 4 x 4 px, rows -1..2, columns 4..7
    assert e.shape == (2, 4, 4) and (e[:, 0] == PAD_HU).all()
    np.testing.assert_array_equal(e[:, 1:], img[:, 0:3, 4:8])
    with pytest.raises(ValueError, match="crop_mm"):
        PreprocessConfig(crop_mm=0)
