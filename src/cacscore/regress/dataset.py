"""Torch dataset over a cohort cache: (73, H, W) normalised HU slices as channels, (4,) scaled targets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils.data import Dataset


class _Cache(Protocol):  # what ScanDataset needs from cacscore.regress.cache.CohortCache
    config: Any

    def load(self, scan_id: str) -> np.ndarray: ...


class ScanDataset(Dataset):
    """Items are ``(x, y)``: x float32 (slices, H, W), the cached int16 HU normalised with the cache's
    PreprocessConfig (per-scan z-score by default, as in the paper); y float32 (4,) scaled targets.

    ids: cache ids of this split; targets_scaled: (len(ids), 4) already scaled (see cacscore.evaluation.targets), or None.
    """

    def __init__(self, cache: _Cache, ids: Sequence[str], *, targets_scaled: np.ndarray | None = None,
                 config: Any = None) -> None:
        self.cache = cache
        self.config = cache.config if config is None else config  # PreprocessConfig used to normalise
        self.ids = list(ids)
        if targets_scaled is not None:
            targets_scaled = np.asarray(targets_scaled, dtype=np.float32)
            if targets_scaled.shape != (len(self.ids), 4):
                raise ValueError(f"targets_scaled has shape {targets_scaled.shape}, expected ({len(self.ids)}, 4)")
        self.targets = targets_scaled

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        from cacscore.regress.preprocess import normalise

        hu = np.asarray(self.cache.load(self.ids[i]))  # int16 (slices, H, W)
        x = torch.from_numpy(np.ascontiguousarray(normalise(hu, self.config), dtype=np.float32))
        y = torch.from_numpy(self.targets[i]) if self.targets is not None else torch.zeros(4)
        return x, y


class TensorScans(Dataset):
    """In-memory (x (N, C, H, W) float32, y (N, 4)) dataset: tests, DDP checks and pre-normalised data."""

    def __init__(self, x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor) -> None:
        self.x = torch.as_tensor(x, dtype=torch.float32)
        self.y = torch.as_tensor(y, dtype=torch.float32)
        if len(self.x) != len(self.y):
            raise ValueError(f"x has {len(self.x)} items but y has {len(self.y)}")

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]


class ShiftAugment(Dataset):
    """Training-time augmentation: each item shifted in-plane by a random whole number of pixels in
    [-max_shift_px, max_shift_px] along H and W (the same shift for all slices of a scan). Never flips:
    a left-right flip would swap the left and right coronary arteries. The uncovered strip takes the
    value of the item's corner pixel (air outside the body). Draws from torch's global RNG, which
    ``cacscore.regress.train.fit`` seeds and checkpoints, so runs stay deterministic and resumable.
    """

    def __init__(self, base: Dataset, *, max_shift_px: int) -> None:
        if int(max_shift_px) < 0:
            raise ValueError(f"max_shift_px must be >= 0, got {max_shift_px}")
        self.base, self.max_shift_px = base, int(max_shift_px)

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.base[i]
        s = self.max_shift_px
        if s == 0:
            return x, y
        dy, dx = (int(v) for v in torch.randint(-s, s + 1, (2,)))
        out = torch.full_like(x, float(x[..., 0, 0].min()))
        h, w = x.shape[-2:]
        out[..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
            x[..., max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
        return out, y
