"""Tests of cacscore.evaluation.metrics against published examples and library references."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import accuracy_score, cohen_kappa_score, f1_score

from cacscore.evaluation import metrics as M
from cacscore.core.vessels import VESSELS


def _scores(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = rng.gamma(0.4, 300.0, n)
    t[rng.random(n) < 0.4] = 0.0
    p = np.clip(t * 0.8 + rng.normal(0, 30, n), 0, None)
    return t, p


# ------------------------------------------------------------------ ICC
SHROUT_FLEISS_TABLE2 = np.array([  # 6 targets x 4 judges, Shrout & Fleiss (1979) Psychol Bull 86:420, Table 2
    [9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])


def test_icc_2_1_matches_shrout_fleiss_table():
    # the paper's Table 4 gives ICC(2,1) = .29 for these data
    assert M.icc_2_1(SHROUT_FLEISS_TABLE2) == pytest.approx(0.29, abs=0.005)


def test_icc_a1_variance_components():
    # two raters = subject (var 4) + rater offset (0 vs 2: var component c^2/2 = 2) + noise (var 1 each)
    rng = np.random.default_rng(1)
    s = rng.normal(0, 2, 20000)
    a = s + rng.normal(0, 1, s.size)
    b = s + 2.0 + rng.normal(0, 1, s.size)
    assert M.icc_a1(a, b) == pytest.approx(4 / (4 + 2 + 1), abs=0.01)
    # absolute agreement penalises the offset, consistency (ICC(3,1)-like Pearson) would not
    assert M.icc_a1(a, a) == pytest.approx(1.0)
    assert M.icc_a1(a, a + 2.0) < 0.9


def test_icc_degenerate_is_nan_with_warning():
    with pytest.warns(RuntimeWarning, match="undefined"):
        assert np.isnan(M.icc_a1(np.zeros(10), np.zeros(10)))


# ------------------------------------------------------------------ correlations
def test_correlations_match_scipy():
    t, p = _scores()
    assert M.spearman(t, p) == pytest.approx(stats.spearmanr(t, p).statistic)
    assert M.pearson(t, p) == pytest.approx(stats.pearsonr(t, p).statistic)


def test_all_zero_truth_gives_nan_not_crash():
    t = np.zeros(20)
    p = np.linspace(0, 50, 20)
    with pytest.warns(RuntimeWarning, match="constant"):
        assert np.isnan(M.spearman(t, p))
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        d = M.agreement(t, p)
    assert np.isnan(d["spearman"]) and np.isnan(d["pearson"])
    assert d["mae"] == pytest.approx(25.0)
    assert any("undefined" in str(w.message) for w in rec)


# ------------------------------------------------------------------ categories and kappa
def test_risk_categories_boundaries():
    s = np.array([0, 0.4, 1, 10, 10.5, 99.9, 100, 101, 399, 400, 401, 5000, -3.0])
    assert M.risk_category4(s).tolist() == [0, 1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 0]
    assert M.risk_category5(s).tolist() == [0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 0]


@pytest.mark.parametrize("classes", [4, 5])
def test_weighted_kappa_equals_sklearn(classes):
    for seed in range(5):
        t, p = _scores(seed=seed)
        cat = M.risk_category4 if classes == 4 else M.risk_category5
        ref = cohen_kappa_score(cat(t), cat(p), labels=list(range(classes)), weights="linear")
        assert M.weighted_kappa(t, p, classes=classes) == pytest.approx(ref)
    assert M.weighted_kappa(t, t, classes=classes) == pytest.approx(1.0)


def test_weighted_kappa_rejects_bad_classes():
    with pytest.raises(ValueError, match="classes"):
        M.weighted_kappa([0, 1], [0, 1], classes=3)


def test_binary_metrics_equal_sklearn():
    t, p = _scores(seed=3)
    d = M.agreement(t, p)
    for thr in M.THRESHOLDS:
        assert d[f"acc_ge{thr}"] == pytest.approx(accuracy_score(t >= thr, p >= thr))
        assert d[f"f1_ge{thr}"] == pytest.approx(f1_score(t >= thr, p >= thr, zero_division=0.0))


# ------------------------------------------------------------------ agreement
def test_bland_altman_known_offset():
    t = np.array([0.0, 10, 100, 1000])
    bias, lo, hi = M.bland_altman(t, t + 5.0)
    assert (bias, lo, hi) == pytest.approx((5.0, 5.0, 5.0))
    bias, lo, hi = M.bland_altman(t, t * np.e, log1p=False)
    assert lo < bias < hi
    b_log, _, _ = M.bland_altman([0, 0], [np.e - 1, np.e - 1], log1p=True)
    assert b_log == pytest.approx(1.0)


def test_agreement_keys_and_values():
    t, p = _scores()
    d = M.agreement(t, p)
    assert list(d) == list(M.METRICS)
    assert d["mse"] == pytest.approx(np.mean((p - t) ** 2))
    assert d["mae"] == pytest.approx(np.mean(np.abs(p - t)))
    assert 0.5 < d["spearman"] <= 1 and 0.5 < d["icc"] <= 1


def test_agreement_nan_input_names_the_column():
    t, p = _scores(n=10)
    yt = np.stack([t] * 4, axis=1)
    yp = yt.copy()
    yp[3, 1] = np.nan
    with pytest.raises(ValueError, match="LAD"):
        M.agreement_table(yt, yp)
    with pytest.raises(ValueError, match="LAD"):
        M.agreement(t, np.where(np.arange(10) == 2, np.nan, p), name="LAD")


def test_agreement_table_rows_total_baseline_and_norm():
    rng = np.random.default_rng(5)
    yt = rng.gamma(0.5, 100.0, (30, 4)) * (rng.random((30, 4)) < 0.6)
    yp = np.clip(yt + rng.normal(0, 10, yt.shape), 0, None)
    nb = np.array([450.0, 3350, 1690, 3170])
    base = M.constant_mean_baseline(yt)
    df = M.agreement_table(yt, yp, baseline=base, normalise_by=nb)
    assert list(df.index) == [*VESSELS, "total"]
    tot_t, tot_p = yt.sum(1), yp.sum(1)
    assert df.loc["total", "mse"] == pytest.approx(np.mean((tot_p - tot_t) ** 2))
    assert df.loc["LCX", "mse_norm"] == pytest.approx(np.mean(((yp[:, 2] - yt[:, 2]) / nb[2]) ** 2))
    assert df.loc["total", "mse_norm"] == pytest.approx(np.mean(((tot_p - tot_t) / nb.sum()) ** 2))
    for m in M.METRICS:
        assert f"baseline_{m}" in df.columns
    assert df.loc["total", "baseline_mse"] == pytest.approx(np.var(tot_t))  # constant mean -> variance
    assert np.isnan(df.loc["LAD", "baseline_spearman"])
    assert (df["mse"] < df["baseline_mse"]).all()  # a good model beats the constant mean
    with pytest.raises(ValueError, match="normalise_by"):
        M.agreement_table(yt, yp, normalise_by=[1, 2, 3])
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        M.agreement_table(yt[:, :3], yp[:, :3])


# ------------------------------------------------------------------ bootstrap
def test_bootstrap_ci_covers_and_is_seeded():
    t, p = _scores(n=80)
    mae = lambda a, b: float(np.mean(np.abs(a - b)))  # noqa: E731
    lo, hi = M.bootstrap_ci(t, p, mae, n=300, seed=1)
    assert lo < mae(t, p) < hi
    assert M.bootstrap_ci(t, p, mae, n=300, seed=1) == (lo, hi)
    assert M.bootstrap_ci(t, p, mae, n=300, seed=2) != (lo, hi)
    lo90, hi90 = M.bootstrap_ci(t, p, mae, n=300, seed=1, alpha=0.2)
    assert lo <= lo90 and hi90 <= hi
    with pytest.raises(ValueError, match="alpha"):
        M.bootstrap_ci(t, p, mae, alpha=1.5)


def test_bootstrap_agreement_all_metrics():
    t, p = _scores(n=50)
    ci = M.bootstrap_agreement(t, p, n=100, seed=0)
    point = M.agreement(t, p)
    assert set(ci) == set(M.METRICS)
    for k in ("mae", "spearman", "icc", "kappa4"):
        lo, hi = ci[k]
        assert lo <= point[k] <= hi, k
    # same resampling as bootstrap_ci
    assert ci["spearman"] == pytest.approx(M.bootstrap_ci(t, p, M.spearman, n=100, seed=0))
