"""Risk categories of Agatston scores: the one definition every command, table and picture uses.

Four classes 0 / 1-99 / 100-399 / >= 400 (any score > 0 and < 100 is class 1, also scores below 1);
five classes 0 / 1-10 / 11-100 / 101-400 / > 400 with bins (0, 10], (10, 100], (100, 400], (400, inf).
"""

from __future__ import annotations

import numpy as np

CATEGORY4_LABELS: tuple[str, ...] = ("0", "1-99", "100-399", ">=400")
"""Names of the four-class risk categories returned by :func:`risk_category4` (index = class)."""

CATEGORY5_LABELS: tuple[str, ...] = ("0", "1-10", "11-100", "101-400", ">400")
"""Names of the five-class risk categories returned by :func:`risk_category5` (index = class)."""


class CategoryError(ValueError):
    """A score that has no risk category (negative or NaN)."""


def _scores(score: float | np.ndarray, clip_negative: bool) -> np.ndarray:
    arr = np.asarray(score, dtype=float)
    if clip_negative:  # a regressor's output may dip below 0: it means "no calcium"
        arr = np.clip(arr, 0, None)
    if np.isnan(arr).any() or (arr < 0).any():
        raise CategoryError(f"scores must be >= 0 and not NaN, got {score!r}")
    return arr


def risk_category4(score: float | np.ndarray, *, clip_negative: bool = False) -> int | np.ndarray:
    """Four-class risk category 0..3. Scalar in, int out; array in, int64 array out.

    clip_negative: count negative scores as 0 (predictions); otherwise they raise CategoryError."""
    arr = _scores(score, clip_negative)
    c = np.where(arr == 0, 0, np.searchsorted([100.0, 400.0], arr, side="right") + 1).astype(np.int64)
    return int(c) if c.ndim == 0 else c


def risk_category5(score: float | np.ndarray, *, clip_negative: bool = False) -> int | np.ndarray:
    """Five-class risk category 0..4 (a score of 10.5 is class 2, 400 is class 3); as :func:`risk_category4`."""
    arr = _scores(score, clip_negative)
    c = np.where(arr == 0, 0, np.searchsorted([10.0, 100.0, 400.0], arr, side="left") + 1).astype(np.int64)
    return int(c) if c.ndim == 0 else c
