"""Preprocessing of a CT Volume into the network input, as in the paper and optionally better.

Steps of ``preprocess_volume`` (pure numpy / scipy, no state):
1. z: slices thinner than ``z_spacing_mm`` are averaged into slabs of ``z_spacing_mm`` (what a
   thick reconstruction does: each output slab is the length-weighted mean of the input slices it
   overlaps); thicker slices are kept as they are.
2. depth: ``slices`` slabs around the volume centre (the paper) or the detected heart, padded
   with air (-1024 HU) where the scan is shorter.
3. in-plane: optionally (``crop_mm``) a square of ``crop_mm`` around the detected heart first
   (air beyond the image), then resampled to ``size`` x ``size``. Downsampling averages areas (anti-aliased: every
   input pixel contributes with its overlap, so small calcifications keep their HU mass);
   upsampling is linear (scipy.ndimage.zoom, order 1).
The result is int16 HU (slices, size, size); ``normalise`` turns it into the float network input.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from cacscore.chest.heart import find_heart
from cacscore.io.dicom import AIR_HU, Volume

log = logging.getLogger(__name__)

PAD_HU: int = -1024
"""Value of padded voxels (air)."""


@dataclass(frozen=True)
class PreprocessConfig:
    """How a Volume becomes the network input.

    size: in-plane matrix (size x size); slices: depth; z_spacing_mm: target slab thickness.
    centre: "volume" (depth window around the scan centre, the paper) or "heart" (find_heart).
    normalisation: "scan" (per-scan z-score, the paper) or "window" (clip to window_hu, scale to [0, 1]).
    crop_mm: None (the whole field of view, the paper) or the side (mm) of an in-plane square around
        the heart found by ``find_heart``, resampled to size x size: at 176 mm and 128 px a pixel is
        1.4 mm instead of ~2.8 mm, and the spine, most ribs and the body wall are outside.
    """

    size: int = 512
    slices: int = 73
    z_spacing_mm: float = 5.0
    centre: str = "volume"
    normalisation: str = "scan"
    window_hu: tuple[float, float] = (-1000.0, 1000.0)
    crop_mm: float | None = None

    def __post_init__(self) -> None:
        if int(self.size) < 8:
            raise ValueError(f"size must be >= 8, got {self.size}")
        if int(self.slices) < 1:
            raise ValueError(f"slices must be >= 1, got {self.slices}")
        if not float(self.z_spacing_mm) > 0:
            raise ValueError(f"z_spacing_mm must be > 0, got {self.z_spacing_mm}")
        if self.centre not in ("volume", "heart"):
            raise ValueError(f"centre must be 'volume' or 'heart', got {self.centre!r}")
        if self.normalisation not in ("scan", "window"):
            raise ValueError(f"normalisation must be 'scan' or 'window', got {self.normalisation!r}")
        lo, hi = self.window_hu
        if not hi > lo:
            raise ValueError(f"window_hu must be (low, high) with high > low, got {self.window_hu}")
        object.__setattr__(self, "window_hu", (float(lo), float(hi)))
        if self.crop_mm is not None:
            if not float(self.crop_mm) > 0:
                raise ValueError(f"crop_mm must be > 0 (or None for the whole field of view), got {self.crop_mm}")
            object.__setattr__(self, "crop_mm", float(self.crop_mm))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["window_hu"] = list(self.window_hu)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> PreprocessConfig:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        if "window_hu" in known:
            known["window_hu"] = tuple(known["window_hu"])
        return cls(**known)


# ------------------------------------------------------------------ resampling
def area_resample(a: np.ndarray, axis: int, n_out: int) -> np.ndarray:
    """Resample ``a`` along ``axis`` to ``n_out`` cells by area averaging (float32).

    Output cell k is the mean of the input over [k, k+1) * n_in / n_out, input cells weighted by
    their overlap (exact block mean for integer factors). Computed from the cumulative sum, which
    scipy.ndimage has no function for. Only for n_out <= n_in.
    """
    a = np.moveaxis(np.asarray(a, np.float32), axis, 0)
    n_in = a.shape[0]
    if n_out == n_in:
        return np.moveaxis(a, 0, axis)
    if n_in % n_out == 0:
        f = n_in // n_out
        out = a.reshape(n_out, f, *a.shape[1:]).mean(1, dtype=np.float32)
        return np.moveaxis(out, 0, axis)
    edges = np.arange(n_out + 1) * (n_in / n_out)
    out = _interval_means(a, np.zeros(1), 1.0, edges)
    return np.moveaxis(out, 0, axis)


def _interval_means(a: np.ndarray, start: np.ndarray, cell: float, edges: np.ndarray) -> np.ndarray:
    """Means of a piecewise-constant profile (cells of length ``cell`` from ``start``) over intervals.

    a: (n, ...) float32; edges: (m+1,) interval bounds in the same units; intervals are clipped to
    the profile's extent and averaged over the covered length.
    """
    n = a.shape[0]
    cum = np.concatenate([np.zeros((1, *a.shape[1:]), np.float64), np.cumsum(a, axis=0, dtype=np.float64)])
    t = np.clip((edges - float(start[0])) / cell, 0, n)
    i = np.minimum(np.floor(t).astype(int), n - 1)
    frac = (t - i).reshape(-1, *([1] * (a.ndim - 1)))
    c = cum[i] + frac * a[i]  # integral up to each edge, in cell units
    length = np.diff(t).reshape(-1, *([1] * (a.ndim - 1)))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.diff(c, axis=0) / length
    return np.where(length > 0, out, PAD_HU).astype(np.float32)


def resample_z(hu: np.ndarray, spacing_z_mm: float, target_mm: float) -> tuple[np.ndarray, float]:
    """Average slices thinner than ``target_mm`` into slabs of ``target_mm`` (hu (z, y, x)).

    Slabs start at the lower edge of the first slice; the last slab may be partial (averaged over
    its covered length). Returns (slabs, new spacing mm). Thicker or equal slices pass unchanged.
    """
    if spacing_z_mm >= target_mm * 0.98:
        return np.asarray(hu, np.float32), float(spacing_z_mm)
    extent = hu.shape[0] * spacing_z_mm
    n_out = max(1, int(round(extent / target_mm)))
    ratio = target_mm / spacing_z_mm
    f = int(round(ratio))
    if abs(ratio - f) < 1e-6:
        # Whole number of slices per slab (1.25 or 2.5 mm -> 5 mm, the usual case): block means
        # give the same result as the interval means below at a fraction of the memory and time.
        hu = np.asarray(hu, np.float32)
        n_full = min(n_out, hu.shape[0] // f)
        slabs = [hu[:n_full * f].reshape(n_full, f, *hu.shape[1:]).mean(1, dtype=np.float32)]
        if n_out > n_full:  # a last, partial slab: averaged over the length it covers
            slabs.append(hu[n_full * f:].mean(0, dtype=np.float32, keepdims=True))
        return np.concatenate(slabs), float(target_mm)
    edges = np.minimum(np.arange(n_out + 1) * target_mm, extent)
    return _interval_means(np.asarray(hu, np.float32), np.zeros(1), spacing_z_mm, edges), float(target_mm)


def resize_inplane(hu: np.ndarray, size: int) -> np.ndarray:
    """(z, y, x) -> (z, size, size) float32: area averaging down, linear (order 1) zoom up."""
    out = np.asarray(hu, np.float32)
    for axis in (1, 2):
        n = out.shape[axis]
        if size < n:
            out = area_resample(out, axis, size)
        elif size > n:
            factors = [1.0, 1.0, 1.0]
            factors[axis] = size / n
            out = ndimage.zoom(out, factors, order=1, mode="nearest", grid_mode=True)
    return out


def _window_start(n: int, slices: int, centre_index: float | None) -> int:
    c = n / 2 if centre_index is None else float(centre_index) + 0.5
    start = int(round(c - slices / 2))
    if n >= slices:
        start = min(max(start, 0), n - slices)
    return start


def depth_window(hu: np.ndarray, slices: int, centre_index: float | None = None) -> np.ndarray:
    """Clip or pad (with air) ``hu`` (z, y, x) to ``slices`` slices centred on ``centre_index``.

    Default centre: the volume centre (z/2), as in the paper. The window is shifted to stay inside
    the scan when the scan is long enough.
    """
    n = hu.shape[0]
    start = _window_start(n, slices, centre_index)
    out = np.full((slices, *hu.shape[1:]), PAD_HU, dtype=np.float32)
    lo, hi = max(start, 0), min(start + slices, n)
    out[lo - start:hi - start] = hu[lo:hi]
    return out


# ------------------------------------------------------------------ heart finder


# ------------------------------------------------------------------ the pipeline
def _crop_yx(hu: np.ndarray, centre_yx: tuple[int, int], spacing_yx_mm: tuple[float, float], crop_mm: float
             ) -> np.ndarray:
    """float32 (z, ny, nx): the in-plane square of side ``crop_mm`` centred on ``centre_yx`` (pixel
    indices), air (PAD_HU) where it leaves the image; ny, nx = crop_mm / spacing, rounded, >= 1."""
    ny, nx = (max(1, int(round(crop_mm / s))) for s in spacing_yx_mm)
    y0, x0 = int(centre_yx[0]) - ny // 2, int(centre_yx[1]) - nx // 2
    out = np.full((hu.shape[0], ny, nx), PAD_HU, np.float32)
    sy0, sx0 = max(y0, 0), max(x0, 0)
    sy1, sx1 = min(y0 + ny, hu.shape[1]), min(x0 + nx, hu.shape[2])
    if sy1 > sy0 and sx1 > sx0:
        out[:, sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = hu[:, sy0:sy1, sx0:sx1]
    return out


def preprocess_block(volume: Volume, config: PreprocessConfig, *, info: dict | None = None
                     ) -> tuple[np.ndarray, int, int]:
    """The output of ``preprocess_volume`` in parts: (block, pad_before, pad_after).

    The int16 output (config.slices, size, size) is ``pad_before`` air slices (PAD_HU), then
    ``block`` (k, size, size) int16, then ``pad_after`` air slices. Lets a writer stream the
    output without assembling it. ``block`` may be a view of ``volume.hu`` (an int16 volume
    that needs no resampling): read it, never write to it. info: as in ``preprocess_volume``.
    """
    block, before, after = _preprocess_parts(volume, config, info)
    return block.astype(np.int16, copy=False), before, after


def _preprocess_parts(volume: Volume, config: PreprocessConfig, info: dict | None) -> tuple[np.ndarray, int, int]:
    """``preprocess_block`` with the block left float32 (integral values, clipped to int16 range)
    where it was resampled, so ``preprocess_volume`` casts it once, into its output."""
    hu = volume.hu
    identity = (hu.dtype == np.int16 and float(volume.spacing_mm[0]) >= config.z_spacing_mm * 0.98
                and hu.shape[1] == hu.shape[2] == config.size and config.crop_mm is None)
    if identity:  # int16 HU, no resampling: the float32 path would give back the same integers
        dz = float(volume.spacing_mm[0])
    else:  # an int16 volume converts exactly; float32 volumes pass unchanged
        hu, dz = resample_z(np.asarray(hu, np.float32), float(volume.spacing_mm[0]), config.z_spacing_mm)
    centre = None
    heart = None
    if config.centre == "heart" or config.crop_mm is not None:
        heart = find_heart(hu, (dz, *volume.spacing_mm[1:]))
    if config.centre == "heart":
        centre = heart[0]
    sy, sx = (float(v) for v in volume.spacing_mm[1:])
    if info is not None:
        info["z_spacing_mm"] = dz
        info["centre_index"] = float(hu.shape[0] / 2 - 0.5) if centre is None else float(centre)
        if config.crop_mm is None:
            info["pixel_mm"] = (sy * hu.shape[1] / config.size, sx * hu.shape[2] / config.size)
        else:
            info["pixel_mm"] = (config.crop_mm / config.size, config.crop_mm / config.size)
            info["crop_centre_yx"] = (int(heart[1]), int(heart[2]))
    # depth window first (fewer slices to resize)
    start = _window_start(hu.shape[0], config.slices, centre)
    lo, hi = max(start, 0), min(start + config.slices, hu.shape[0])
    if identity:
        block = hu[lo:hi]
        if block.size and block.min() < PAD_HU:  # the clip below, where it changes anything
            block = np.maximum(block, np.int16(PAD_HU))
    else:
        src = hu[lo:hi] if config.crop_mm is None else _crop_yx(hu[lo:hi], heart[1:], (sy, sx), config.crop_mm)
        block = np.rint(resize_inplane(src, config.size))  # a new array: never the caller's
        np.clip(block, AIR_HU, np.iinfo(np.int16).max, out=block)
    before = lo - start
    after = config.slices - before - block.shape[0]
    assert block.shape[1:] == (config.size, config.size) and after >= 0, (block.shape, before, after)
    return block, before, after


def preprocess_volume(volume: Volume, config: PreprocessConfig, *, info: dict | None = None) -> np.ndarray:
    """Volume -> int16 HU array (config.slices, config.size, config.size), padding -1024 (air).

    volume.hu: float32, or int16 (``read_series(..., exact_int16=True)``): same result for the
    same values. info: if given, receives ``z_spacing_mm`` (slab spacing after z resampling)
    and ``centre_index`` (the slab index the depth window is centred on).
    """
    block, before, _after = _preprocess_parts(volume, config, info)
    out = np.empty((config.slices, config.size, config.size), dtype=np.int16)
    out[:before] = PAD_HU
    out[before:before + block.shape[0]] = block
    out[before + block.shape[0]:] = PAD_HU
    return out


def normalise(hu: np.ndarray, config: PreprocessConfig) -> np.ndarray:
    """Network input from HU: float32 of the same shape; hu (..., slices, H, W), one scan per (...).

    "scan": (hu - mean) / std over each scan's own voxels (the paper's per-scan normalisation);
    "window": clip to ``window_hu`` and scale to [0, 1].
    """
    x = np.asarray(hu, np.float32)
    if x.ndim < 3:
        raise ValueError(f"normalise expects (..., slices, H, W), got shape {x.shape}")
    if config.normalisation == "window":
        lo, hi = config.window_hu
        return ((np.clip(x, lo, hi) - lo) / (hi - lo)).astype(np.float32)
    mean = x.mean(axis=(-3, -2, -1), keepdims=True, dtype=np.float64)
    std = x.std(axis=(-3, -2, -1), keepdims=True, dtype=np.float64)
    return ((x - mean) / np.maximum(std, 1e-6)).astype(np.float32)


def depth_window_slices(vol: Volume, cfg: PreprocessConfig, info: dict) -> tuple[float, float] | None:
    """(first, last) slice index of the volume inside the model's depth window (the rule of
    :func:`depth_window`, in the volume's own slice units); ``info`` as :func:`preprocess_volume` filled it."""
    c = info.get("centre_index")
    if c is None:
        return None
    n = vol.hu.shape[0]
    scale = float(info.get("z_spacing_mm", vol.spacing_mm[0])) / float(vol.spacing_mm[0])  # volume slices per slab
    n_slab = max(1, int(round(n / scale))) if scale > 1.0001 else n
    start = _window_start(n_slab, cfg.slices, float(c))
    lo, hi = max(start, 0), min(start + cfg.slices, n_slab) - 1
    return lo * scale, min((hi + 1) * scale - 1, n - 1)
