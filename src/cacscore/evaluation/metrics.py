"""Clinical agreement metrics between predicted and reference calcium scores.

All scores are in Agatston units unless a name says otherwise. Arrays with a vessel axis use the
order of :data:`cacscore.core.vessels.VESSELS` (LCA, LAD, LCX, RCA).

Conventions (also in docs/evaluation.md):
- Bland-Altman differences are ``pred - true``; limits of agreement are bias +/- 1.96 SD (ddof=1).
  ``ba_*`` are in Agatston units, ``ba_log1p_*`` on the log1p(Agatston) scale (scores span four
  orders of magnitude, so the Agatston-scale limits are dominated by the few high scores).
- Risk categories come from :func:`risk_category4` / :func:`risk_category5`: four-class
  0 / (0, 100) / [100, 400) / >= 400 and five-class 0 / (0, 10] / (10, 100] / (100, 400] / > 400.
  A score is class 0 only when it is <= 0 (negative predictions are clipped to 0 first);
  predictions are NOT rounded, so a regressor that never outputs exactly 0 never predicts class 0.
- Thresholds ">= 1", ">= 100", ">= 400" binarise truth and prediction with the same cut.
- Undefined statistics (constant input: Spearman, Pearson, ICC, kappa, F1 without positives)
  are NaN with a ``RuntimeWarning``, never an exception.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from cacscore.core import categories
from cacscore.core.vessels import VESSELS

THRESHOLDS: tuple[int, ...] = (1, 100, 400)
"""Agatston cut points for the binary accuracy / F1 metrics (score >= threshold is positive)."""

METRICS: tuple[str, ...] = (
    "mse", "mae", "spearman", "pearson", "icc", "kappa4", "kappa5",
    *(f"{m}_ge{t}" for t in THRESHOLDS for m in ("acc", "f1")),
    "ba_bias", "ba_loa_low", "ba_loa_high",
    "ba_log1p_bias", "ba_log1p_loa_low", "ba_log1p_loa_high",
)
"""Keys of :func:`agreement`, in order."""

TABLE_ROWS: tuple[str, ...] = (*VESSELS, "total")


# ------------------------------------------------------------------ risk categories
def risk_category4(score: np.ndarray | float) -> np.ndarray:
    """Four-class risk category (int64 array, same shape as ``score``) of predictions: negative scores count as 0
    (:func:`cacscore.core.categories.risk_category4`)."""
    return np.asarray(categories.risk_category4(score, clip_negative=True), dtype=np.int64)


def risk_category5(score: np.ndarray | float) -> np.ndarray:
    """Five-class risk category of predictions, as :func:`risk_category4`."""
    return np.asarray(categories.risk_category5(score, clip_negative=True), dtype=np.int64)


# ------------------------------------------------------------------ validation
def _vec(x: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {a.shape}")
    bad = ~np.isfinite(a)
    if bad.any():
        raise ValueError(f"{name}: {int(bad.sum())} non-finite value(s) (NaN/inf) at row(s) "
                         f"{np.flatnonzero(bad)[:5].tolist()}")
    return a


def _pair(a, b, name: str = "score") -> tuple[np.ndarray, np.ndarray]:
    x, y = _vec(a, f"{name} (true)"), _vec(b, f"{name} (pred)")
    if x.shape != y.shape:
        raise ValueError(f"{name}: true and pred lengths differ ({x.size} vs {y.size})")
    if x.size < 2:
        raise ValueError(f"{name}: need at least 2 scans, got {x.size}")
    return x, y


def _undefined(what: str) -> float:
    warnings.warn(f"{what} is undefined for this input; returning NaN", RuntimeWarning, stacklevel=3)
    return float("nan")


# ------------------------------------------------------------------ single metrics
def spearman(a, b) -> float:
    """Spearman rank correlation of two 1-D score arrays; NaN (with a warning) if one is constant."""
    x, y = _pair(a, b)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return _undefined("Spearman correlation of a constant array")
    return float(stats.spearmanr(x, y).statistic)


def pearson(a, b) -> float:
    """Pearson correlation of two 1-D score arrays; NaN (with a warning) if one is constant."""
    x, y = _pair(a, b)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return _undefined("Pearson correlation of a constant array")
    return float(stats.pearsonr(x, y).statistic)


def icc_2_1(ratings: np.ndarray) -> float:
    """ICC(2,1) of Shrout & Fleiss (1979): two-way random effects, absolute agreement, single rater.

    ``ratings`` has shape (n subjects, k raters). Hand-written from the two-way ANOVA mean squares
    because pingouin (the usual library) is not a dependency and scipy/sklearn have no ICC:
        ICC(2,1) = (MSR - MSE) / (MSR + (k-1) MSE + k (MSC - MSE) / n)
    with MSR the between-subjects, MSC the between-raters and MSE the residual mean square.
    Equals McGraw & Wong's ICC(A,1). Verified against Shrout & Fleiss Table 2 (0.29) in the tests.
    """
    r = np.asarray(ratings, dtype=float)
    if r.ndim != 2 or r.shape[0] < 2 or r.shape[1] < 2:
        raise ValueError(f"ratings: expected shape (n>=2, k>=2), got {r.shape}")
    if not np.isfinite(r).all():
        raise ValueError("ratings: non-finite value(s)")
    n, k = r.shape
    grand = r.mean()
    ss_rows = k * ((r.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((r.mean(axis=0) - grand) ** 2).sum()
    ss_err = ((r - grand) ** 2).sum() - ss_rows - ss_cols
    msr = ss_rows / (n - 1)
    msc = ss_cols / (k - 1)
    mse = max(ss_err, 0.0) / ((n - 1) * (k - 1))  # clip float round-off below zero
    denom = msr + (k - 1) * mse + k * (msc - mse) / n
    scale = max(msr, msc, mse, 1e-300)
    if denom <= 1e-12 * scale or (msr == 0 and mse == 0):
        return _undefined("ICC(2,1) with no between-subject variance")
    icc = (msr - mse) / denom
    return 0.0 if abs(icc) < 1e-12 else float(icc)  # snap float round-off of an exact 0


def icc_a1(a, b) -> float:
    """ICC(2,1) absolute agreement between two raters (e.g. reference and model), 1-D arrays."""
    x, y = _pair(a, b)
    if np.ptp(x) == 0 and np.ptp(y) == 0:
        return _undefined("ICC(2,1) of two constant arrays")
    return icc_2_1(np.stack([x, y], axis=1))


def weighted_kappa(true_scores, pred_scores, *, classes: int = 4) -> float:
    """Cohen's kappa, linearly weighted, on the 4- or 5-class risk categories of Agatston scores.

    NaN (with a warning) when it is undefined (e.g. truth and prediction all in one category).
    """
    if classes not in (4, 5):
        raise ValueError(f"classes must be 4 or 5, got {classes!r}")
    x, y = _pair(true_scores, pred_scores)
    cat = risk_category4 if classes == 4 else risk_category5
    ct, cp = cat(x), cat(y)
    if np.unique(np.concatenate([ct, cp])).size < 2:
        return _undefined(f"weighted kappa with all scans in one {classes}-class category")
    k = _linear_kappa(ct, cp, classes)
    if not np.isfinite(k):
        return _undefined(f"{classes}-class weighted kappa")
    return k


def _linear_kappa(ct: np.ndarray, cp: np.ndarray, classes: int) -> float:
    """Linearly weighted Cohen's kappa from integer categories 0..classes-1.

    Same formula as sklearn.metrics.cohen_kappa_score(weights="linear", labels=range(classes))
    (the tests check equality); written with numpy because sklearn's input validation costs ~1 ms
    a call, which dominates the 10^4 calls of a bootstrap over vessels and baseline.
    """
    cm = np.bincount(ct * classes + cp, minlength=classes * classes).reshape(classes, classes).astype(float)
    expected = np.outer(cm.sum(axis=1), cm.sum(axis=0)) / cm.sum()
    w = np.abs(np.subtract.outer(np.arange(classes), np.arange(classes))).astype(float)
    denom = (w * expected).sum()
    if denom == 0:
        return float("nan")
    return float(1.0 - (w * cm).sum() / denom)


def bland_altman(true_scores, pred_scores, *, log1p: bool = False) -> tuple[float, float, float]:
    """Bland-Altman ``(bias, loa_low, loa_high)`` of ``pred - true``; limits are bias +/- 1.96 SD.

    With ``log1p=True`` both are transformed by log1p(max(s, 0)) first (unit: log1p Agatston).
    """
    x, y = _pair(true_scores, pred_scores)
    if log1p:
        x, y = np.log1p(np.clip(x, 0, None)), np.log1p(np.clip(y, 0, None))
    d = y - x
    bias = float(d.mean())
    sd = float(d.std(ddof=1))
    return bias, bias - 1.96 * sd, bias + 1.96 * sd


def _binary(x: np.ndarray, y: np.ndarray, threshold: float) -> tuple[float, float]:
    """Accuracy and F1 of ``score >= threshold``; numpy for speed (sklearn-equal, see the tests)."""
    bt, bp = x >= threshold, y >= threshold
    acc = float(np.mean(bt == bp))
    tp = float(np.sum(bt & bp))
    n_pos = float(bt.sum() + bp.sum())
    if n_pos == 0:
        return acc, _undefined(f"F1 at >= {threshold:g} with no positive scans")
    return acc, 2.0 * tp / n_pos


def agreement(y_true, y_pred, *, name: str = "score") -> dict[str, float]:
    """All agreement metrics of 1-D Agatston scores ``y_pred`` against ``y_true`` (keys: METRICS).

    ``name`` only labels error messages (e.g. the vessel). NaN marks undefined values.
    """
    x, y = _pair(y_true, y_pred, name)
    out: dict[str, float] = {
        "mse": float(np.mean((y - x) ** 2)),
        "mae": float(np.mean(np.abs(y - x))),
        "spearman": spearman(x, y),
        "pearson": pearson(x, y),
        "icc": icc_a1(x, y),
        "kappa4": weighted_kappa(x, y, classes=4),
        "kappa5": weighted_kappa(x, y, classes=5),
    }
    for t in THRESHOLDS:
        out[f"acc_ge{t}"], out[f"f1_ge{t}"] = _binary(x, y, t)
    out["ba_bias"], out["ba_loa_low"], out["ba_loa_high"] = bland_altman(x, y)
    out["ba_log1p_bias"], out["ba_log1p_loa_low"], out["ba_log1p_loa_high"] = bland_altman(x, y, log1p=True)
    return out


# ------------------------------------------------------------------ tables
def _matrix(a, name: str, n_cols: int = 4) -> np.ndarray:
    m = np.asarray(a, dtype=float)
    if m.ndim != 2 or m.shape[1] != n_cols:
        raise ValueError(f"{name}: expected shape (N, {n_cols}) in vessel order {VESSELS}, got {m.shape}")
    for j, v in enumerate(VESSELS):
        bad = ~np.isfinite(m[:, j])
        if bad.any():
            raise ValueError(f"{name}: column {v} has {int(bad.sum())} NaN/inf value(s) at row(s) "
                             f"{np.flatnonzero(bad)[:5].tolist()}")
    return m


def _with_total(m: np.ndarray) -> np.ndarray:
    return np.concatenate([m, m.sum(axis=1, keepdims=True)], axis=1)  # (N, 5): vessels + total


def constant_mean_baseline(y_true: np.ndarray) -> np.ndarray:
    """The constant-mean baseline: every scan predicted as the per-vessel mean of ``y_true`` (N, 4)."""
    m = _matrix(y_true, "y_true")
    return np.broadcast_to(m.mean(axis=0), m.shape).copy()


def agreement_table(y_true, y_pred, *, baseline=None, normalise_by=None) -> pd.DataFrame:
    """Per-vessel and total agreement metrics.

    y_true, y_pred: (N, 4) Agatston scores in VESSELS order; the total is the row sum.
    baseline: optional (N, 4) predictions of a reference model (e.g. :func:`constant_mean_baseline`);
        every metric then also appears as ``baseline_<metric>``.
    normalise_by: optional (4,) per-vessel scale (e.g. the training maxima): adds ``mse_norm``,
        the MSE of y / normalise_by (the total divided by normalise_by.sum()).
    Returns a DataFrame indexed by LCA, LAD, LCX, RCA, total (index name "vessel").
    """
    t = _matrix(y_true, "y_true")
    p = _matrix(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred shapes differ: {t.shape} vs {p.shape}")
    b = None
    if baseline is not None:
        b = _matrix(baseline, "baseline")
        if b.shape != t.shape:
            raise ValueError(f"baseline shape {b.shape} differs from y_true {t.shape}")
    scale = None
    if normalise_by is not None:
        nb = np.asarray(normalise_by, dtype=float).reshape(-1)
        if nb.shape != (4,) or not np.all(np.isfinite(nb)) or np.any(nb <= 0):
            raise ValueError(f"normalise_by must be 4 positive finite numbers, got {normalise_by!r}")
        scale = np.append(nb, nb.sum())
    t5, p5 = _with_total(t), _with_total(p)
    b5 = _with_total(b) if b is not None else None
    rows = []
    for j, row in enumerate(TABLE_ROWS):
        rec: dict[str, float] = dict(agreement(t5[:, j], p5[:, j], name=row))
        if scale is not None:
            rec["mse_norm"] = float(np.mean(((p5[:, j] - t5[:, j]) / scale[j]) ** 2))
        if b5 is not None:
            with warnings.catch_warnings():  # a constant baseline has no correlation: NaN expected
                warnings.simplefilter("ignore", RuntimeWarning)
                base = agreement(t5[:, j], b5[:, j], name=f"baseline {row}")
            if scale is not None:
                base["mse_norm"] = float(np.mean(((b5[:, j] - t5[:, j]) / scale[j]) ** 2))
            rec.update({f"baseline_{k}": v for k, v in base.items()})
        rows.append(rec)
    df = pd.DataFrame(rows, index=pd.Index(TABLE_ROWS, name="vessel"))
    return df


# ------------------------------------------------------------------ bootstrap
def _resample_indices(n_items: int, n: int, seed: int | np.random.Generator) -> np.ndarray:
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return rng.integers(0, n_items, size=(n, n_items))


def bootstrap_ci(y_true, y_pred, metric: Callable[[np.ndarray, np.ndarray], float], *, n: int = 1000,
                 seed: int | np.random.Generator = 0, alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap (1 - alpha) interval of ``metric(y_true, y_pred)``, resampling scans.

    y_true, y_pred: arrays with scans on axis 0 (1-D scores or (N, 4)). Resamples on which the
    metric is undefined (NaN) are dropped; (NaN, NaN) if more than half are undefined.
    """
    if n < 10:
        raise ValueError(f"n must be >= 10, got {n}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    t, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    if t.shape != p.shape or t.shape[0] < 2:
        raise ValueError(f"y_true and y_pred need the same shape with >= 2 scans: {t.shape} vs {p.shape}")
    idx = _resample_indices(t.shape[0], n, seed)
    vals = np.empty(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for i, ix in enumerate(idx):
            vals[i] = metric(t[ix], p[ix])
    return _percentiles(vals, alpha)


def _percentiles(vals: np.ndarray, alpha: float) -> tuple[float, float]:
    ok = vals[np.isfinite(vals)]
    if ok.size < vals.size / 2:
        return float("nan"), float("nan")
    lo, hi = np.percentile(ok, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(lo), float(hi)


def bootstrap_agreement(y_true, y_pred, *, n: int = 1000, seed: int | np.random.Generator = 0,
                        alpha: float = 0.05, extra: Mapping[str, Callable[[np.ndarray, np.ndarray], float]] | None = None,
                        ) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of every :func:`agreement` metric (and ``extra`` ones) at once.

    Same resampling as :func:`bootstrap_ci` (one index set shared by all metrics), but computes
    the whole metric dict once per resample. 1-D Agatston scores.
    """
    if n < 10:
        raise ValueError(f"n must be >= 10, got {n}")
    t, p = _pair(y_true, y_pred)
    idx = _resample_indices(t.size, n, seed)
    keys = list(METRICS) + list(extra or {})
    vals = np.full((n, len(keys)), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for i, ix in enumerate(idx):
            tt, pp = t[ix], p[ix]
            d = agreement(tt, pp)
            for name, fn in (extra or {}).items():
                d[name] = fn(tt, pp)
            vals[i] = [d[k] for k in keys]
    return {k: _percentiles(vals[:, j], alpha) for j, k in enumerate(keys)}
