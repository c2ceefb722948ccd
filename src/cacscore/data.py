"""Torch dataset over a cohort cache: (73, H, W) normalised HU slices as channels, (4,) scaled targets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils.data import Dataset


class _Cache(Protocol):  # what ScanDataset needs from cacscore.cache.CohortCache
    config: Any

    def load(self, scan_id: str) -> np.ndarray: ...


class ScanDataset(Dataset):
    """Items are ``(x, y)``: x float32 (slices, H, W), the cached int16 HU normalised with the cache's
    PreprocessConfig (per-scan z-score by default, as in the paper); y float32 (4,) scaled targets.

    ids: cache ids of this split; targets_scaled: (len(ids), 4) already scaled (see cacscore.targets), or None.
    """

    def __init__(self, cache: _Cache, ids: Sequence[str], *, targets_scaled: np.ndarray | None = None) -> None:
        self.cache = cache
        self.ids = list(ids)
        if targets_scaled is not None:
            targets_scaled = np.asarray(targets_scaled, dtype=np.float32)
            if targets_scaled.shape != (len(self.ids), 4):
                raise ValueError(f"targets_scaled has shape {targets_scaled.shape}, expected ({len(self.ids)}, 4)")
        self.targets = targets_scaled

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        from cacscore.preprocess import normalise

        hu = np.asarray(self.cache.load(self.ids[i]))  # int16 (slices, H, W)
        x = torch.from_numpy(np.ascontiguousarray(normalise(hu, self.cache.config), dtype=np.float32))
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
