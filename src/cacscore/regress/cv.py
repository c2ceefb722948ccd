"""Protocol pieces: the patient-wise 80/20 split with 5 folds inside the 80% (saved once as splits.json,
reused), the hyper-parameter grids, and k-fold cross-validation of one grid point."""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

from cacscore.core.fileio import atomic_write_text
from cacscore.core.categories import risk_category4
from cacscore.regress.train import TrainConfig

log = logging.getLogger(__name__)

GRIDS: dict[str, dict[str, Any]] = {
    # the paper tuned batch size, learning rate and weight decay (batch 32 won for all three models)
    "paper": {"batch_size": [8, 16, 32], "lr": [1e-4, 3e-4, 1e-3], "weight_decay": [1e-4, 1e-2],
              "max_epochs": 60, "patience": 8},
    "small": {"batch_size": [16], "lr": [3e-4, 1e-3], "weight_decay": [1e-4], "max_epochs": 30, "patience": 6},
    # cacscore demo: one grid point (the best of the learnability study, docs/models.md) and 6 epochs so that
    # 3 models x (5 folds + retrain) on 80 patients at 128 px take ~6 CPU-minutes (measured: 8 epochs took 7.3)
    "demo": {"batch_size": [8], "lr": [1e-3], "weight_decay": [1e-4], "max_epochs": 6, "patience": 3},
}
_GRID_KEYS = {"batch_size", "lr", "weight_decay", "max_epochs", "patience", "eval_batch_size"}


def load_grid(spec: str | Path | dict[str, Any]) -> dict[str, Any]:
    """A grid by name (``small``, ``paper``, ``demo``), from a JSON file, or a dict; validated.

    Keys: batch_size, lr, weight_decay (lists or scalars: their product is searched), max_epochs, patience.
    """
    if isinstance(spec, dict):
        grid = dict(spec)
    elif str(spec) in GRIDS:
        grid = dict(GRIDS[str(spec)])
    else:
        path = Path(spec)
        if not path.is_file():
            raise ValueError(f"grid {str(spec)!r} is neither one of {sorted(GRIDS)} nor a JSON file")
        try:
            grid = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from exc
        if not isinstance(grid, dict):
            raise ValueError(f"{path}: a grid must be a JSON object")
    unknown = set(grid) - _GRID_KEYS
    if unknown:
        raise ValueError(f"grid has unknown key(s) {sorted(unknown)}; known: {sorted(_GRID_KEYS)}")
    for key in ("batch_size", "lr", "weight_decay"):
        vals = grid.get(key, [getattr(TrainConfig(), key)])
        grid[key] = list(vals) if isinstance(vals, (list, tuple)) else [vals]
        if not grid[key]:
            raise ValueError(f"grid key {key!r} is an empty list")
    grid_points(grid, seed=0)  # validates values through TrainConfig
    return grid


def grid_points(grid: dict[str, Any], *, seed: int) -> list[TrainConfig]:
    """Every combination of batch_size x lr x weight_decay as a TrainConfig."""
    fixed = {k: grid[k] for k in ("max_epochs", "patience", "eval_batch_size") if k in grid}
    return [TrainConfig(batch_size=int(b), lr=float(lr), weight_decay=float(wd), seed=seed, **fixed)
            for b, lr, wd in itertools.product(grid["batch_size"], grid["lr"], grid["weight_decay"])]


def point_name(cfg: TrainConfig) -> str:
    """Folder-safe name of a grid point, e.g. ``bs16_lr0.001_wd0.0001``."""
    return f"bs{cfg.batch_size}_lr{cfg.lr:g}_wd{cfg.weight_decay:g}"


def _strata(totals: np.ndarray, min_count: int) -> np.ndarray:
    """Four-class risk category of the total; a class too small to stratify is merged into its neighbour."""
    cat = np.asarray(risk_category4(np.asarray(totals, dtype=float)), dtype=int)
    while True:
        labels, counts = np.unique(cat, return_counts=True)
        small = labels[counts < min_count]
        if len(labels) <= 1 or len(small) == 0:
            return cat
        c = small[0]
        others = labels[labels != c]
        cat[cat == c] = others[np.argmin(np.abs(others - c))]


@dataclass(frozen=True)
class Splits:
    seed: int
    test: tuple[str, ...]  # held-out 20%
    train: tuple[str, ...]  # the 80%
    folds: tuple[tuple[str, ...], ...]  # validation ids of each fold (a partition of ``train``)

    def fold(self, k: int) -> tuple[list[str], list[str]]:
        """(train ids, validation ids) of fold k."""
        val = set(self.folds[k])
        return [i for i in self.train if i not in val], list(self.folds[k])

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "stratified_by": "four-class risk category of the total Agatston score",
                "test": list(self.test), "train": list(self.train), "folds": [list(f) for f in self.folds]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Splits":
        return cls(int(d["seed"]), tuple(d["test"]), tuple(d["train"]), tuple(tuple(f) for f in d["folds"]))

    def save(self, path: Path) -> None:
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: Path) -> "Splits":
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a splits file ({exc})") from exc


def make_splits(ids: Sequence[str], totals_agatston: np.ndarray, *, test_fraction: float = 0.2, n_folds: int = 5,
                seed: int = 0) -> Splits:
    """Patient-wise split: ``test_fraction`` held out, ``n_folds`` folds inside the rest, both stratified by the
    four-class risk category of the total score (sklearn StratifiedShuffleSplit / StratifiedKFold)."""
    ids = [str(i) for i in ids]
    if len(set(ids)) != len(ids):
        raise ValueError("patient ids are not unique")
    totals = np.asarray(totals_agatston, dtype=float)
    if totals.shape != (len(ids),):
        raise ValueError(f"totals has shape {totals.shape}, expected ({len(ids)},)")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    n_test = int(round(len(ids) * test_fraction))
    if n_test < 1 or len(ids) - n_test < 2 * n_folds:
        raise ValueError(f"{len(ids)} patients are too few for a {test_fraction:.0%} test split and {n_folds} folds")
    strata = _strata(totals, 2)
    sss = StratifiedShuffleSplit(n_splits=1, test_size=n_test, random_state=seed)
    tr_idx, te_idx = next(sss.split(np.zeros(len(ids)), strata))
    tr_idx, te_idx = np.sort(tr_idx), np.sort(te_idx)
    inner = _strata(totals[tr_idx], n_folds)
    skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    folds = tuple(tuple(ids[tr_idx[j]] for j in np.sort(val)) for _, val in skf.split(np.zeros(len(tr_idx)), inner))
    return Splits(seed, tuple(ids[i] for i in te_idx), tuple(ids[i] for i in tr_idx), folds)
