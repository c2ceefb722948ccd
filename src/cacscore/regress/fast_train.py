"""Fast training path: the cohort resident on the device, several models trained at once.

The reference loop (``cacscore.regress.train``) reads every batch from the on-disk cache through a DataLoader,
normalises on the host and trains one model in fp32. Here instead:

* the cohort is loaded ONCE onto the device as int16 HU, shape (N, C, H, W) (212 x 73 x 512 x 512 is 7.6 GiB);
* a batch is gathered on the device with an index tensor (all batch orders are precomputed as one device
  tensor per member, so the loop makes no host-to-device copies), then converted and normalised on the device
  through a per-scan lookup table computed once at load time (bit-identical to ``cacscore.regress.preprocess.normalise``);
* optional on-device augmentation: parameters are sampled first from a seeded generator, then applied as a
  deterministic transform, so any run replays from its seed;
* bf16 autocast and channels_last (CUDA), optional ``torch.compile`` (mode ``reduce-overhead`` = CUDA graphs);
* K members (folds and/or grid points of one architecture) are trained in the same loop. ``members_mode="vmap"``
  stacks their weights (``torch.func.functional_call`` + ``vmap``; BatchNorm buffers stacked and updated in
  place under vmap); ``"loop"`` runs them one after another in the same step. Either way each member has its own
  leaves in one ``torch.optim.AdamW`` with one param group per member (its own lr / weight decay), so K members
  trained together give the same result as K separate runs (tested).

The batch order, weight initialisation and loss of each member are those of the reference loop, so on CPU in
fp32 the fast path reproduces the reference losses to float tolerance (``tests/test_fast_train.py``).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Sequence

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, vmap
from torch.nn.attention import SDPBackend, sdpa_kernel
from tqdm.auto import tqdm

from cacscore.regress.preprocess import PreprocessConfig
from cacscore.regress.train import TrainConfig

log = logging.getLogger(__name__)

__all__ = [
    "AugmentConfig", "DeviceCohort", "FastTrainConfig", "Member", "MemberResult",
    "apply_augment", "fit_members", "normalise_batch", "pad_input_channels", "scan_lut", "index_batches", "sample_augment",
    "seeded_model",
]


# ----------------------------------------------------------------------------------------------- normalisation
_HU_VALUES = np.arange(-32768, 32768, dtype=np.int32).astype(np.float32)  # every int16 value, as float32


def scan_lut(hu: np.ndarray, config: PreprocessConfig) -> np.ndarray:
    """The network input of every possible int16 value of one scan (C, H, W): float32 (65536,), entry v + 32768
    for HU v. Because the cache holds int16, ``lut[hu + 32768]`` IS ``cacscore.regress.preprocess.normalise(hu, config)``,
    bit for bit (the statistics and the arithmetic below are normalise's own, in float64, then rounded to
    float32 once; tested). A table lookup costs the device the same memory traffic as a cast and an affine map.
    """
    x = np.asarray(hu, np.float32)
    if config.normalisation == "window":
        lo, hi = config.window_hu
        return ((np.clip(_HU_VALUES, lo, hi) - lo) / (hi - lo)).astype(np.float32)
    mean = x.mean(axis=(-3, -2, -1), keepdims=True, dtype=np.float64).reshape(())
    std = x.std(axis=(-3, -2, -1), keepdims=True, dtype=np.float64).reshape(())
    return ((_HU_VALUES - mean) / np.maximum(std, 1e-6)).astype(np.float32)


def normalise_batch(hu: torch.Tensor, scan_idx: torch.Tensor, lut: torch.Tensor) -> torch.Tensor:
    """int16 HU (B, ...) of cohort scans ``scan_idx`` (B,) -> input of the same shape in ``lut``'s dtype via the
    per-scan tables ``lut`` (N, 65536) (``scan_lut``); any layout of the trailing axes (C, H, W or H, W, C).
    int16 + int32 promotes in one pass; the int32 flat index keeps the traffic at 4 bytes per voxel."""
    base = (scan_idx.to(torch.int32) * 65536 + 32768).view(-1, *([1] * (hu.dim() - 1)))
    flat = hu + base  # int32, the layout of hu
    # index_select with int32 indices: ~6x faster on CPU than advanced indexing (which widens to int64)
    return lut.view(-1).index_select(0, flat.reshape(-1)).view(flat.shape)


# ----------------------------------------------------------------------------------------------- the cohort
PAD_SENTINEL = -32768  # int16 value of pad channels; every scan's table maps it to 0


class DeviceCohort:
    """The whole cohort on one device: ``hu`` int16 (N, C, H, W), ``targets`` float32 (N, V) (already scaled,
    may be None when every member brings its own) and ``lut`` float32 (N, 65536), each scan's normalisation
    table (``scan_lut``) computed once from ``preprocess`` (a ``cacscore.regress.preprocess.PreprocessConfig``).

    ``channels_last``: ``hu`` is stored (N, H, W, C) in memory, so batches come out channels_last with no
    extra copy (what bf16 convolutions on CUDA want)."""

    def __init__(self, hu: torch.Tensor, targets: torch.Tensor | None = None, *,
                 preprocess: PreprocessConfig = PreprocessConfig(), ids: Sequence[str] | None = None,
                 luts: Sequence[np.ndarray] | None = None, channels_last: bool = False,
                 pad_channels_to: int | None = None) -> None:
        if hu.dtype != torch.int16 or hu.ndim != 4:
            raise ValueError(f"hu must be int16 (N, C, H, W), got {hu.dtype} {tuple(hu.shape)}")
        if targets is not None and (targets.ndim != 2 or targets.shape[0] != hu.shape[0]):
            raise ValueError(f"targets must be (N, V) with N = {hu.shape[0]}, got {tuple(targets.shape)}")
        n, c, h, w = hu.shape
        self.channels = c  # the scans' own channels; ``hu`` may hold more (zero-input pad channels, see below)
        self.channels_last = bool(channels_last)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        cp = int(pad_channels_to) if pad_channels_to and int(pad_channels_to) > c else c
        if luts is None:
            luts = [scan_lut(hu[i].cpu().numpy(), preprocess) for i in range(n)]
        if cp > c:
            if bool((hu == PAD_SENTINEL).any()):
                raise ValueError(f"cannot pad the cohort's channels: a scan holds int16 {PAD_SENTINEL}, the value "
                                 f"reserved for pad channels (cacscore caches never do: they clip at air)")
            padded = torch.empty((n, cp, h, w), dtype=torch.int16, device=hu.device, memory_format=fmt)
            padded[:, c:] = PAD_SENTINEL
            padded[:, :c] = hu
            hu = padded
        self.hu = hu.contiguous(memory_format=fmt)
        self.targets = None if targets is None else targets.to(device=hu.device, dtype=torch.float32)
        self.preprocess = preprocess
        self.ids = list(ids) if ids is not None else [str(i) for i in range(n)]
        self.lut = torch.as_tensor(np.stack(luts), device=hu.device)  # (N, 65536) float32
        if cp > c:
            self.lut[:, PAD_SENTINEL + 32768] = 0.0  # pad channels read as exact zeros
        self._lut_as: dict[torch.dtype, torch.Tensor] = {torch.float32: self.lut}
        self.input_path: Literal["lut", "affine"] = "lut"
        self._affine_fn: Callable[..., torch.Tensor] | None = None
        self.clip_hu: tuple[float, float] | None = None
        self.affine: torch.Tensor | None = None  # (N, 2) (a, b), set by with_input_path("affine")

    def _affine_map(self) -> tuple[torch.Tensor, tuple[float, float] | None]:
        """Each scan's table as an affine map x = clip(hu) * a + b: ((N, 2) float32 (a, b), clip bounds or None;
        clip only for the window)."""
        if self.preprocess.normalisation == "window":
            lo, hi = self.preprocess.window_hu
            a = torch.full((len(self),), 1.0 / (hi - lo), dtype=torch.float64)
            return (torch.stack([a, -float(lo) * a], dim=1).to(self.device, torch.float32),
                    (float(lo), float(hi)))
        # the table is (v - mean) / std: its slope and value at 0, read over +-1024 HU (three columns)
        cols = self.lut[:, [32768 - 1024, 32768, 32768 + 1024]].double()
        a = (cols[:, 2] - cols[:, 0]) / 2048
        return torch.stack([a, cols[:, 1]], dim=1).to(torch.float32), None

    def with_input_path(self, path: Literal["lut", "affine"], *, compile: bool = False) -> "DeviceCohort":
        """The same cohort (no copy of the scans) with another way of making inputs:

        "lut" (default): the per-scan table; bit-identical to ``cacscore.regress.preprocess.normalise`` in float32;
        "affine": ``clip(hu) * a + b`` per scan, computed in float32 and cast once (equal to the table within
        float32 rounding); with ``compile`` the gather, conversion, map and cast run as one fused kernel
        (``torch.compile``), which reads 2 bytes and writes 2 (bf16) per voxel instead of the table's ~20."""
        if path not in ("lut", "affine"):
            raise ValueError(f"input path must be 'lut' or 'affine', got {path!r}")
        out = copy.copy(self)
        out.input_path = path
        out._affine_fn = torch.compile(_affine_inputs, dynamic=False) if compile and path == "affine" else None
        if path == "affine" and out.affine is None:
            out.affine, out.clip_hu = out._affine_map()
        return out

    def padded(self, channels: int) -> "DeviceCohort":
        """The same cohort with its channels padded to ``channels`` by inputs of exactly zero (a new copy on the
        device). bf16 convolutions on tensor cores want channel counts that are multiples of 8; 73 slices are
        not. ``fit_members`` widens each model's input layer to match with zero weights, which stay zero
        (their gradient is zero), and narrows the weights back at the end: the same model, trained faster."""
        if self.hu.shape[1] != self.channels:
            raise ValueError("the cohort is padded already")
        luts = [lut for lut in self.lut.cpu().numpy()]
        return DeviceCohort(self.hu, self.targets, preprocess=self.preprocess, ids=self.ids, luts=luts,
                            channels_last=self.channels_last, pad_channels_to=channels)

    @property
    def device(self) -> torch.device:
        return self.hu.device

    def __len__(self) -> int:
        return self.hu.shape[0]

    @property
    def nbytes(self) -> int:
        return self.hu.numel() * self.hu.element_size()

    @classmethod
    def from_arrays(cls, volumes_hu: Sequence[np.ndarray], targets: np.ndarray | None = None, *,
                    device: str | torch.device, preprocess: PreprocessConfig = PreprocessConfig(),
                    ids: Sequence[str] | None = None, channels_last: bool = False,
                    workers: int = 8) -> "DeviceCohort":
        """Stack int16 volumes (each (C, H, W)) into one device tensor. Scans are read and their tables made by
        ``workers`` threads (numpy releases the GIL), a few scans at a time (host memory: ~4 x workers scans)."""
        n = len(volumes_hu)
        if n == 0:
            raise ValueError("empty cohort")
        first = np.asarray(volumes_hu[0])
        shape = first.shape
        if first.ndim != 3:
            raise ValueError(f"scan 0 has shape {shape}, expected (slices, H, W)")
        hu = torch.empty((n, *shape), dtype=torch.int16, device=device,
                         memory_format=torch.channels_last if channels_last else torch.contiguous_format)

        def read(i: int) -> tuple[np.ndarray, np.ndarray]:
            v = np.asarray(volumes_hu[i])
            name = ids[i] if ids is not None else str(i)
            if v.shape != shape:
                raise ValueError(f"scan {name} has shape {v.shape}, expected {shape} like the first scan")
            if v.dtype != np.int16:
                raise ValueError(f"scan {name} is {v.dtype}, expected int16 HU")
            v = np.array(v, copy=True)  # memmaps are read-only: copy the scan
            return v, scan_lut(v, preprocess)

        luts: list[np.ndarray] = []
        workers = max(1, min(workers, os.cpu_count() or 1))
        with ThreadPoolExecutor(workers) as pool, \
                tqdm(total=n, desc="cohort -> device", leave=False, disable=n < 32) as bar:
            for s in range(0, n, 4 * workers):
                chunk = range(s, min(n, s + 4 * workers))
                for i, (v, lut) in zip(chunk, pool.map(read, chunk)):
                    hu[i].copy_(torch.from_numpy(v))
                    luts.append(lut)
                    bar.update()
        t = None if targets is None else torch.as_tensor(np.asarray(targets, dtype=np.float32))
        return cls(hu, t, preprocess=preprocess, ids=ids, luts=luts, channels_last=channels_last)

    @classmethod
    def from_cache(cls, cache: Any, targets: np.ndarray | None = None, *, device: str | torch.device,
                   ids: Sequence[str] | None = None, channels_last: bool = False,
                   preprocess: PreprocessConfig | None = None) -> "DeviceCohort":
        """Load a cohort cache (``.config`` PreprocessConfig, ``.ids``, ``.load(id)`` -> int16 (C, H, W)) onto
        ``device``; ``targets`` (N, V) are already scaled, in ``ids`` order (default ``cache.ids``).
        ``preprocess`` overrides the cache's config for the normalisation (as ``ScanDataset(config=...)``)."""
        ids = list(cache.ids if ids is None else ids)
        return cls.from_arrays(_LazyScans(cache, ids), targets, device=device, ids=ids, channels_last=channels_last,
                               preprocess=cache.config if preprocess is None else preprocess)

    def inputs(self, idx: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Cohort indices (B,) int64 on the device -> normalised input (B, C, H, W), float32 or ``dtype``
        (bfloat16: the float32 values rounded to nearest, exactly what autocast would feed a conv)."""
        if self.input_path == "affine":
            hu = self.hu.permute(0, 2, 3, 1) if self.channels_last else self.hu
            fn = self._affine_fn or _affine_inputs
            x = fn(hu, idx, self.affine, self.clip_hu, self.hu.shape[1] > self.channels, dtype)
            return x.permute(0, 3, 1, 2) if self.channels_last else x
        if dtype not in self._lut_as:
            self._lut_as[dtype] = self.lut.to(dtype)
        if self.channels_last:  # gather in the (B, H, W, C) view, hand back (B, C, H, W) channels_last strides
            nhwc = self.hu.permute(0, 2, 3, 1).index_select(0, idx)
            return normalise_batch(nhwc, idx, self._lut_as[dtype]).permute(0, 3, 1, 2)
        return normalise_batch(self.hu.index_select(0, idx), idx, self._lut_as[dtype])


def _affine_inputs(hu: torch.Tensor, idx: torch.Tensor, affine: torch.Tensor, clip_hu: tuple[float, float] | None,
                   padded: bool, dtype: torch.dtype) -> torch.Tensor:
    """Scans ``idx`` of int16 ``hu`` (N, ...) -> clip(hu) * a + b in float32, cast to ``dtype``; pad-channel voxels
    (PAD_SENTINEL) -> 0. Elementwise, so any trailing layout; one kernel under torch.compile."""
    h = hu.index_select(0, idx)
    ab = affine.index_select(0, idx).view(-1, 2, *([1] * (h.dim() - 1)))
    x = h.float()
    if clip_hu is not None:
        x = x.clamp(clip_hu[0], clip_hu[1])
    x = x * ab[:, 0] + ab[:, 1]
    if padded:
        x = torch.where(h == PAD_SENTINEL, torch.zeros((), dtype=x.dtype, device=x.device), x)
    return x.to(dtype)


class _LazyScans(Sequence):
    """Sequence view over a cache that loads one scan per access."""

    def __init__(self, cache: Any, ids: list[str]) -> None:
        self.cache, self.ids = cache, ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> np.ndarray:  # type: ignore[override]
        return np.asarray(self.cache.load(self.ids[i]))


# ----------------------------------------------------------------------------------------------- augmentation
@dataclass(frozen=True)
class AugmentConfig:
    """On-device augmentation (off by default; the paper used none).

    ``max_shift_px``: in-plane translation by whole pixels drawn uniformly in [-max, max] per scan and axis,
    the uncovered strip filled with the scan's lowest corner value (air), as ``cacscore.regress.dataset.ShiftAugment``;
    never a flip (it would swap the left and right coronaries);
    ``intensity_scale``: input multiplied by 1 + U(-s, s) per scan; ``noise_std``: Gaussian noise of std
    U(0, noise_std) per scan, in normalised units.
    """

    max_shift_px: int = 0
    intensity_scale: float = 0.0
    noise_std: float = 0.0

    def __post_init__(self) -> None:
        for name in ("max_shift_px", "intensity_scale", "noise_std"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if int(self.max_shift_px) != self.max_shift_px:
            raise ValueError(f"max_shift_px must be a whole number of pixels, got {self.max_shift_px}")

    @property
    def active(self) -> bool:
        return self.max_shift_px > 0 or self.intensity_scale > 0 or self.noise_std > 0


def sample_augment(config: AugmentConfig, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Draw the parameters for ``n`` scans from ``generator`` (a CPU generator): shift_px (n, 2) (dy, dx),
    gain (n,), noise_std (n,), noise_seed () int64. Pure parameter sampling; ``apply_augment`` is deterministic."""
    s = int(config.max_shift_px)
    shift = torch.randint(-s, s + 1, (n, 2), generator=generator)
    u = torch.rand((n, 2), generator=generator, dtype=torch.float64)
    return {
        "shift_px": shift.to(torch.float32),
        "gain": (1 + (u[:, 0] * 2 - 1) * config.intensity_scale).to(torch.float32),
        "noise_std": (u[:, 1] * config.noise_std).to(torch.float32),
        "noise_seed": torch.randint(0, 2**62, (), generator=generator, dtype=torch.int64),
    }


def apply_augment(x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
    """Apply sampled parameters to a normalised batch (B, C, H, W) float32, deterministically.

    The shift is a bilinear resampling (exact for whole-pixel shifts); outside the image each scan gets its
    lowest corner value (``min(x[:, :, 0, 0])``, as ``cacscore.regress.dataset.ShiftAugment``).
    """
    b, _, h, w = x.shape
    shift_host = params["shift_px"]  # parameters live on the host: deciding what to do costs no device sync
    shift = shift_host.to(x.device)
    if bool((shift_host != 0).any()):
        theta = torch.zeros((b, 2, 3), dtype=x.dtype, device=x.device)
        theta[:, 0, 0] = 1
        theta[:, 1, 1] = 1
        # align_corners=True: normalised coordinate step = 2 / (size - 1); output(y) = input(y - dy)
        theta[:, 0, 2] = -shift[:, 1] * 2 / (w - 1)
        theta[:, 1, 2] = -shift[:, 0] * 2 / (h - 1)
        grid = nn.functional.affine_grid(theta, list(x.shape), align_corners=True)
        fill = x[:, :, 0, 0].amin(dim=1).view(-1, 1, 1, 1)  # (B, 1, 1, 1)
        covered = nn.functional.grid_sample(torch.ones_like(x[:, :1]), grid, mode="bilinear", padding_mode="zeros",
                                            align_corners=True)  # 1 inside, 0 in the uncovered strip
        x = nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
        x = x + fill * (1 - covered)
    x = x * params["gain"].to(x.device).view(-1, 1, 1, 1)
    std = params["noise_std"].to(x.device)
    if bool((params["noise_std"] > 0).any()):
        g = torch.Generator(device=x.device)
        g.manual_seed(int(params["noise_seed"]))
        x = x + torch.randn(x.shape, generator=g, device=x.device, dtype=x.dtype) * std.view(-1, 1, 1, 1)
    return x


# ----------------------------------------------------------------------------------------------- members
@dataclass(frozen=True, eq=False)
class Member:
    """One model to train: a fold (train / validation cohort indices) at one grid point (``train``).

    ``train.seed`` seeds the batch order (``index_batches``) as in the reference loop, ``init_seed`` (default
    ``train.seed``) the weight initialisation (``seeded_model``; ``cacscore.regress.reproduce`` uses seed + fold);
    ``train.max_epochs`` / ``patience`` / ``eval_batch_size`` / ``lr`` /
    ``weight_decay`` / ``batch_size`` are used as there. ``targets_scaled`` (N, V) overrides the cohort's
    targets for this member (each fold fits its own ``TargetScaler``).
    """

    train_idx: tuple[int, ...]
    val_idx: tuple[int, ...] = ()
    train: TrainConfig = TrainConfig()
    targets_scaled: np.ndarray | None = None
    init_seed: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "train_idx", tuple(int(i) for i in self.train_idx))
        object.__setattr__(self, "val_idx", tuple(int(i) for i in self.val_idx))
        if len(self.train_idx) == 0:
            raise ValueError("member has no training scans")
        if self.init_seed is None:
            object.__setattr__(self, "init_seed", self.train.seed)


@dataclass(frozen=True)
class FastTrainConfig:
    """Options of the fast path. ``bf16`` / ``channels_last`` / ``fused_adamw``: None = on for CUDA only.

    ``bf16_input`` saves the device a full float32 write and re-read of every input voxel: the table gives
    bfloat16 directly, the same values autocast's cast would give the first conv (layers that autocast leaves
    in the input dtype, e.g. the SE block's mean, then see bf16 values: within bf16 tolerance).

    ``members_mode``: autocast does not reach convolutions under ``vmap`` (torch 2.13: the conv batching rule
    runs below the autocast dispatch, so a vmapped conv stays float32 while linear layers do go bf16), hence
    the default is "loop" whenever bf16 is on, and "vmap" with bf16 logs a warning and gathers float32.
    On CUDA the default is "loop" in fp32 too: measured on an H200 (bench/train_throughput.py), vmap was slower
    (CNN 407 against 542 volumes/s at 73 x 512 x 512), it cannot use channels_last, and the memory-efficient
    attention backward fails under vmap ("LSE is not correctly aligned"), so vmap runs attention in the math
    kernel there."""

    bf16: bool | None = None
    channels_last: bool | None = None
    compile: bool = False
    compile_mode: str | None = None  # e.g. "reduce-overhead" (CUDA graphs) or "max-autotune"
    members_mode: Literal["vmap", "loop"] | None = None  # None: "vmap" for fp32 on CPU, else "loop" (see below)
    augment: AugmentConfig = AugmentConfig()
    fused_adamw: bool | None = None
    bf16_input: bool | None = None  # gather bf16 straight from the tables (None: when bf16 and no augmentation)
    cudnn_benchmark: bool | None = None  # CUDA: let cuDNN time its algorithms (None: on unless deterministic)

    def __post_init__(self) -> None:
        if self.members_mode not in (None, "vmap", "loop"):
            raise ValueError(f"members_mode must be 'vmap' or 'loop', got {self.members_mode!r}")
        if self.compile_mode is not None and not self.compile:
            raise ValueError(f"compile_mode {self.compile_mode!r} needs compile=True")


@dataclass
class MemberResult:
    """What ``cacscore.regress.train.fit`` gives for one run: ``history`` (per epoch: epoch, train_loss = sample-weighted
    mean of the batch losses, val_loss = MSE over scans and vessels or nan, seconds = wall time of the epoch,
    shared with the members trained alongside), ``best_epoch``,
    ``best_val_loss``; plus the weights it ends with (best validation epoch, or last without validation) on the
    CPU and every step's loss."""

    state_dict: dict[str, torch.Tensor]
    history: list[dict[str, float]]
    best_epoch: int
    best_val_loss: float
    step_loss: list[float] = field(repr=False)


def seeded_model(build: Callable[[], nn.Module], seed: int) -> nn.Module:
    """``build()`` under ``torch.manual_seed(seed)`` without touching the caller's global RNG state
    (as ``with cacscore.regress.train.seeded(seed): build()``)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def index_batches(n: int, batch_size: int, epochs: int, seed: int) -> list[list[np.ndarray]]:
    """The reference loop's batch order, as positions into the training subset, per epoch per batch:
    epoch e is ``torch.randperm(n)`` seeded with ``seed + e`` in chunks of ``batch_size`` (last one short),
    i.e. ``DistributedSampler(shuffle=True, seed=seed)`` with one replica and ``set_epoch(e)`` (tested)."""
    out = []
    for e in range(epochs):
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + e)).numpy()
        out.append([perm[s:s + batch_size] for s in range(0, n, batch_size)])
    return out


# ----------------------------------------------------------------------------------------------- the fit
def _auto(flag: bool | None, device: torch.device) -> bool:
    return device.type == "cuda" if flag is None else bool(flag)


class _Run:
    """One member's state in the loop: its batches (cohort indices of all epochs as one int64 device tensor,
    batch boundaries as host ints so slicing never syncs), targets, early-stopping counters and history."""

    def __init__(self, member: Member, cohort: DeviceCohort) -> None:
        cfg = member.train
        train = np.asarray(member.train_idx, dtype=np.int64)
        per_epoch = index_batches(len(train), cfg.batch_size, cfg.max_epochs, cfg.seed)
        dev = cohort.device
        self.idx = torch.as_tensor(np.concatenate([train[b] for ep in per_epoch for b in ep]), device=dev)
        self.bounds: list[tuple[int, int]] = []
        self.epoch_end: list[bool] = []
        pos = 0
        for ep in per_epoch:
            for j, b in enumerate(ep):
                self.bounds.append((pos, pos + len(b)))
                self.epoch_end.append(j == len(ep) - 1)
                pos += len(b)
        if member.targets_scaled is not None:
            t = np.asarray(member.targets_scaled, dtype=np.float32)
            if t.ndim != 2 or t.shape[0] != len(cohort):
                raise ValueError(f"member targets_scaled has shape {t.shape}, expected ({len(cohort)}, V)")
            self.targets = torch.as_tensor(t, device=dev)
        elif cohort.targets is not None:
            self.targets = cohort.targets
        else:
            raise ValueError("neither the cohort nor the member has targets")
        self.val_idx = torch.as_tensor(np.asarray(member.val_idx, dtype=np.int64), device=dev)
        self.step_loss = torch.zeros(len(self.bounds), device=dev)
        self.history: list[dict[str, float]] = []
        self.best_epoch, self.best_val, self.bad_epochs = 0, math.nan, 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.done = False
        self.epoch_start_step, self.t0 = 0, time.perf_counter()


def fit_members(build: Callable[[], nn.Module], cohort: DeviceCohort, members: Sequence[Member], *,
                config: FastTrainConfig = FastTrainConfig(), max_parallel: int | None = None, progress: bool = True,
                desc: str = "fast fit") -> list[MemberResult]:
    """Train ``len(members)`` models of one architecture at once on ``cohort`` (AdamW + MSE, early stopping on
    the validation loss, best weights kept): the same runs as ``cacscore.regress.train.fit`` one member at a time.

    ``build()`` makes one untrained model, e.g. ``lambda: build_model("cnn", in_channels=73, image_size=512)``;
    member k starts from ``seeded_model(build, members[k].init_seed)``. Returns one ``MemberResult`` per member,
    in order. On CPU with ``FastTrainConfig()`` defaults this is fp32 and matches the reference to float
    rounding; on CUDA it uses bf16 autocast, channels_last and fused AdamW unless told otherwise.
    ``max_parallel``: train at most this many members at a time (device memory: activations grow with it);
    the chunks run one after another and the results are the same.
    """
    if not members:
        raise ValueError("no members to train")
    if max_parallel is not None:
        if max_parallel < 1:
            raise ValueError(f"max_parallel must be >= 1, got {max_parallel}")
        if len(members) > max_parallel:
            return [r for s in range(0, len(members), max_parallel)
                    for r in fit_members(build, cohort, members[s:s + max_parallel], config=config,
                                         progress=progress, desc=desc)]
    dev, n = cohort.device, len(cohort)
    for k, m in enumerate(members):
        bad = [i for i in (*m.train_idx, *m.val_idx) if not 0 <= i < n]
        if bad:
            raise ValueError(f"member {k} has cohort indices out of range [0, {n}): {bad[:5]}")
    bf16, channels_last = _auto(config.bf16, dev), _auto(config.channels_last, dev)
    amp = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    mode = config.members_mode or ("loop" if bf16 or dev.type == "cuda" else "vmap")
    if mode == "vmap" and bf16:
        log.warning("fast_train: members_mode='vmap' with bf16: convolutions stay float32 under vmap "
                    "(autocast does not reach them); use 'loop' for bf16 convolutions")
    if mode == "vmap" and channels_last:  # torch 2.13: BatchNorm under vmap cannot query channels_last strides
        log.info("fast_train: members_mode='vmap' trains in the contiguous layout (no channels_last)")
        channels_last, fmt = False, torch.contiguous_format
    in_bf16 = (bf16 and mode == "loop" and not config.augment.active if config.bf16_input is None
               else bool(config.bf16_input))
    if in_bf16 and (config.augment.active or mode == "vmap"):
        raise ValueError("bf16_input=True needs members_mode='loop' and no augmentation")
    in_dtype = torch.bfloat16 if in_bf16 else torch.float32

    models = [seeded_model(build, int(m.init_seed)) for m in members]
    c_in, c_store = cohort.channels, cohort.hu.shape[1]
    if c_store > c_in:  # a padded cohort: widen the input layer with zero weights (narrowed back at the end)
        for mod in models:
            pad_input_channels(mod, c_store)
    models = [mod.to(dev, memory_format=fmt).train() for mod in models]
    groups_opt = [{"params": list(mod.parameters()), "lr": m.train.lr, "weight_decay": m.train.weight_decay}
                  for mod, m in zip(models, members)]
    opt = torch.optim.AdamW(groups_opt, lr=members[0].train.lr, fused=True if _auto(config.fused_adamw, dev) else None)
    names = [k for k, _ in models[0].named_parameters()]
    runs = [_Run(m, cohort) for m in members]
    aug_gen = ([torch.Generator().manual_seed(m.train.seed + 0x5EED) for m in members]
               if config.augment.active else None)

    vmapped = mode == "vmap"
    step_fn = _make_vmap_step(models[0], bf16, dev) if vmapped else None
    forward: list[Any] = list(models)
    if config.compile:
        if vmapped:
            step_fn = torch.compile(step_fn, mode=config.compile_mode)
        else:
            forward = [torch.compile(mod, mode=config.compile_mode) for mod in models]
    stacked_bufs = ({b: torch.stack([mod.get_buffer(b) for mod in models]) for b, _ in models[0].named_buffers()}
                    if vmapped else {})

    bench_prev = torch.backends.cudnn.benchmark
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = (config.cudnn_benchmark if config.cudnn_benchmark is not None else
                                          not (torch.backends.cudnn.deterministic
                                               or torch.are_deterministic_algorithms_enabled()))
    try:
        _loop(runs, members, models, forward, step_fn, stacked_bufs, names, opt, cohort, config, aug_gen, amp, fmt,
              in_dtype, progress, desc)
    finally:
        torch.backends.cudnn.benchmark = bench_prev

    results = []
    for k, (r, mod) in enumerate(zip(runs, models)):
        if stacked_bufs:
            _unstack_buffers(mod, stacked_bufs, k)
        state = _cpu_state(r.best_state if r.best_state is not None else mod.state_dict())
        if c_store > c_in:
            state = _narrow_state(mod, state, c_in)
        results.append(MemberResult(state, r.history, r.best_epoch, r.best_val, r.step_loss.cpu().tolist()))
    return results


def pad_input_channels(model: nn.Module, channels: int) -> None:
    """Zero-pad (in place) every parameter that runs over the input channels to ``channels`` (the model class's
    ``INPUT_CHANNEL_AXES``). With zero inputs on the new channels, the model computes the same function, and
    the new weights get zero gradients, so AdamW (weight decay included) leaves them at zero."""
    axes = getattr(type(model), "INPUT_CHANNEL_AXES", None)
    if not axes:
        raise ValueError(f"{type(model).__name__} does not declare INPUT_CHANNEL_AXES: cannot pad its input channels")
    with torch.no_grad():
        for name, axis in axes.items():
            owner, _, leaf = name.rpartition(".")
            mod = model.get_submodule(owner)
            old = getattr(mod, leaf)
            if old.shape[axis] > channels:
                raise ValueError(f"{name} has {old.shape[axis]} input channels, more than {channels}")
            shape = list(old.shape)
            shape[axis] = channels
            new = torch.zeros(shape, dtype=old.dtype, device=old.device)
            new.narrow(axis, 0, old.shape[axis]).copy_(old)
            setattr(mod, leaf, nn.Parameter(new, requires_grad=old.requires_grad))


def _narrow_state(model: nn.Module, state: dict[str, torch.Tensor], channels: int) -> dict[str, torch.Tensor]:
    """A padded model's state dict cut back to ``channels`` input channels (the unpadded model's state dict)."""
    out = dict(state)
    for name, axis in type(model).INPUT_CHANNEL_AXES.items():
        out[name] = out[name].narrow(axis, 0, channels).contiguous()
    return out


def _loop(runs: list[_Run], members: Sequence[Member], models: list[nn.Module], forward: list[Any], step_fn: Any,
          stacked_bufs: dict[str, torch.Tensor], names: list[str], opt: torch.optim.Optimizer, cohort: DeviceCohort,
          config: FastTrainConfig, aug_gen: list[torch.Generator] | None, amp: Any, fmt: torch.memory_format,
          in_dtype: torch.dtype, progress: bool, desc: str) -> None:
    """The training steps of ``fit_members`` (all members, all epochs)."""
    n_steps = max(len(r.bounds) for r in runs)
    for t in tqdm(range(n_steps), desc=f"{desc} x{len(members)}", disable=not progress, leave=False):
        active = [k for k, r in enumerate(runs) if not r.done and t < len(r.bounds)]
        if not active:
            break
        by_size: dict[int, list[int]] = {}
        for k in active:  # members whose batch has the same size share one vmapped call
            a, b = runs[k].bounds[t]
            by_size.setdefault(b - a, []).append(k)
        for size, ks in by_size.items():
            if step_fn is None:  # loop: one member at a time, so only one member's activations are alive
                for k in ks:
                    i = runs[k].idx[slice(*runs[k].bounds[t])]
                    x = cohort.inputs(i, in_dtype)  # (size, C, H, W)
                    if aug_gen is not None:
                        x = apply_augment(x, sample_augment(config.augment, size, aug_gen[k]))
                    with amp:
                        out = forward[k](x.contiguous(memory_format=fmt))
                    loss = nn.functional.mse_loss(out.float(), runs[k].targets[i])
                    loss.backward()
                    runs[k].step_loss[t] = loss.detach()
                continue
            idx = [runs[k].idx[slice(*runs[k].bounds[t])] for k in ks]
            x = cohort.inputs(torch.cat(idx), in_dtype)  # (G * size, C, H, W)
            y = torch.stack([runs[k].targets[i] for k, i in zip(ks, idx)])  # (G, size, V)
            if aug_gen is not None:
                x = torch.cat([apply_augment(x[j * size:(j + 1) * size],
                                             sample_augment(config.augment, size, aug_gen[k]))
                               for j, k in enumerate(ks)])
            x = x.contiguous(memory_format=fmt)
            whole = ks == list(range(len(members)))
            p = {nm: torch.stack([models[k].get_parameter(nm) for k in ks]) for nm in names}
            bufs = stacked_bufs if whole else {b: v[ks] for b, v in stacked_bufs.items()}
            losses = step_fn(p, bufs, x.view(len(ks), size, *x.shape[1:]), y)  # (G,)
            if not whole:  # write back the BatchNorm statistics of the members that ran
                for b, v in bufs.items():
                    stacked_bufs[b][ks] = v
            losses.sum().backward()  # members are independent: each one's gradient is that of its own loss
            for j, k in enumerate(ks):
                runs[k].step_loss[t] = losses[j].detach()
        opt.step()  # members without a batch at step t have grad None: AdamW leaves them (and their state) alone
        opt.zero_grad(set_to_none=True)
        for k in active:
            if runs[k].epoch_end[t]:
                if stacked_bufs:
                    _unstack_buffers(models[k], stacked_bufs, k)
                _end_epoch(runs[k], members[k], models[k], forward[k], cohort, t, amp, fmt, in_dtype)


def _end_epoch(r: _Run, member: Member, model: nn.Module, forward: Any, cohort: DeviceCohort, t: int,
               amp: Any, fmt: torch.memory_format, in_dtype: torch.dtype) -> None:
    """Epoch bookkeeping with the reference's rules: history row, best weights, early stopping."""
    steps = slice(r.epoch_start_step, t + 1)
    sizes = torch.tensor([b - a for a, b in r.bounds[steps]], dtype=torch.float64, device=cohort.device)
    train_loss = float((r.step_loss[steps].double() * sizes).sum() / sizes.sum())
    val = (_evaluate(forward, model, cohort, r.val_idx, r.targets, member.train.eval_batch_size, amp, fmt, in_dtype)
           if len(r.val_idx) else math.nan)
    epoch = len(r.history) + 1
    r.history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val,
                      "seconds": time.perf_counter() - r.t0})
    improved = not len(r.val_idx) or (math.isfinite(val) and not val >= r.best_val)
    if improved:
        r.best_epoch, r.best_val, r.bad_epochs = epoch, val, 0
        r.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}  # stays on the device
    else:
        r.bad_epochs += 1
    r.done = r.bad_epochs >= member.train.patience or epoch == member.train.max_epochs
    r.epoch_start_step, r.t0 = t + 1, time.perf_counter()


def _cpu_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", memory_format=torch.contiguous_format).clone() for k, v in state.items()}


def _make_vmap_step(template: nn.Module, bf16: bool, dev: torch.device) -> Callable[..., torch.Tensor]:
    """(stacked params, stacked buffers, x (G, B, C, H, W), y (G, B, V)) -> per-member MSE (G,).

    BatchNorm running statistics are updated in place in the stacked buffers (batched under vmap)."""
    base = copy.deepcopy(template).to("meta")

    def one(p: dict[str, torch.Tensor], b: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # CUDA: the fused attention kernels' backward fails under vmap (torch 2.11, H200): the math kernel there
        kernel = (sdpa_kernel(SDPBackend.MATH) if dev.type == "cuda" else contextlib.nullcontext())
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16), kernel:
            out = functional_call(base, (p, b), (x,))
        return nn.functional.mse_loss(out.float(), y)

    return vmap(one, randomness="different")


def _unstack_buffers(model: nn.Module, stacked: dict[str, torch.Tensor], k: int) -> None:
    with torch.no_grad():
        for name, v in stacked.items():
            model.get_buffer(name).copy_(v[k])


@torch.no_grad()
def _evaluate(forward: Any, model: nn.Module, cohort: DeviceCohort, idx: torch.Tensor, targets: torch.Tensor,
              batch_size: int, amp: Any, fmt: torch.memory_format, in_dtype: torch.dtype) -> float:
    """Validation MSE (mean over scans and vessels) in eval mode; the model goes back to train mode."""
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=cohort.device)
    for s in range(0, len(idx), batch_size):
        i = idx[s:s + batch_size]
        with amp:
            out = forward(cohort.inputs(i, in_dtype).contiguous(memory_format=fmt))
        total += ((out.double() - targets[i].double()) ** 2).sum()  # float64 as the reference's numpy MSE
    model.train()
    return float(total) / (len(idx) * targets.shape[1])
