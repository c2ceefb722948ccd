"""bench/compare_models.py measures the held-out set as `cacscore evaluate` does, and its paired bootstrap is paired."""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from cacscore.evaluation.evaluate import evaluate_arrays

BENCH = Path(__file__).resolve().parents[1] / "bench" / "compare_models.py"


@pytest.fixture(scope="module")
def C():
    spec = importlib.util.spec_from_file_location("compare_models", BENCH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["compare_models"] = mod
    spec.loader.exec_module(mod)
    yield mod
    sys.modules.pop("compare_models", None)


def _scores(seed: int, n: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.where(rng.random((n, 4)) < 0.5, 0.0, rng.lognormal(4, 1.5, (n, 4)))
    good = t * rng.lognormal(0, 0.1, t.shape)
    bad = t[:, [0, 2, 1, 3]] * rng.lognormal(0, 0.3, t.shape)  # LAD and LCX swapped: per-vessel errors
    return t, good, bad


def test_heldout_ratio_and_kappa_are_evaluates(C):
    t, good, _ = _scores(0)
    nb = np.where(t.max(0) > 0, t.max(0), 1.0)
    m = C.heldout_metrics(t, good, np.broadcast_to(t.mean(0), t.shape), nb)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        tab = evaluate_arrays(t, good, n_boot=0)
    get = lambda v, k, col="value": float(tab[(tab.vessel == v) & (tab.metric == k)][col].iloc[0])  # noqa: E731
    assert m["ratio_all4"] == pytest.approx(get("all4", "mse_norm", "baseline") / get("all4", "mse_norm"))
    assert m["kappa4_total"] == pytest.approx(get("total", "kappa4"))
    assert m["kappa4_LAD"] == pytest.approx(get("LAD", "kappa4"))


def test_paired_bootstrap_difference(C):
    """A model against itself differs by exactly 0 on every resample; a worse model's ratio difference lies below 0."""
    t, good, bad = _scores(1)
    b = C.paired_bootstrap(t, {"a": good, "same": good.copy(), "bad": bad}, n_boot=200)
    assert b["same - a"]["ratio_all4"] == [0.0, 0.0] and b["same - a"]["kappa4_total"] == [0.0, 0.0]
    lo, hi = b["bad - a"]["ratio_all4"]
    assert hi < 0 and b["bad - a"]["ratio_all4_p_le_0"] == 1.0
    assert b["a"]["ratio_all4"][0] <= C.heldout_metrics(t, good, np.broadcast_to(t.mean(0), t.shape),
                                                        np.where(t.max(0) > 0, t.max(0), 1.0))["ratio_all4"]


def test_models_are_named_and_checked(C, tmp_path):
    from cacscore.predict.predictors import DEFAULT_MODEL

    assert C.parse_models(["shipped", f"x={DEFAULT_MODEL}"]) == {"shipped": DEFAULT_MODEL.resolve(),
                                                                 "x": DEFAULT_MODEL.resolve()}
    with pytest.raises(SystemExit, match="not a model folder"):
        C.parse_models(["shipped", f"y={tmp_path}"])
    with pytest.raises(SystemExit, match="given twice"):
        C.parse_models(["shipped", f"shipped={DEFAULT_MODEL}"])
    code = C.code_key()
    assert C.model_key(DEFAULT_MODEL, code).endswith(code) and C.model_key(DEFAULT_MODEL, code) != C.model_key(
        DEFAULT_MODEL, "other")
