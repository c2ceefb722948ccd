"""Tests of cacscore.evaluation.evaluate and `cacscore evaluate` on small real files (CSV and xlsx)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cacscore.evaluation import metrics as M
from cacscore.cli import main
from cacscore.evaluation.evaluate import ALL4, EvaluateError, evaluate_arrays, read_truth, run_evaluate
from cacscore.core.vessels import VESSELS


def _data(n: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.round(rng.gamma(0.4, 300.0, (n, 4)) * (rng.random((n, 4)) < 0.5), 2)
    p = np.round(np.clip(t * 0.8 + rng.normal(0, 25, t.shape), 0, None))
    return t, p


def _write(tmp_path, t, p, *, xlsx: bool = False, extra_pred: bool = True):
    ids = [str(i + 1) for i in range(len(t))]
    pred = pd.DataFrame({"id": ids, **{v: p[:, j] for j, v in enumerate(VESSELS)}})
    pred["total"] = p.sum(1)
    if extra_pred:
        pred.loc[len(pred)] = ["777", 1.0, 2.0, 3.0, 4.0, 10.0]
    pred.to_csv(tmp_path / "pred.csv", index=False)
    truth = pd.DataFrame({v: t[:, j] for j, v in enumerate(VESSELS)})
    truth["total"] = t.sum(1)
    if xlsx:  # COCA's quirks: "filename " header with a trailing space, ids "<pid>A"
        truth.insert(0, "filename ", [f"{i}A" for i in ids])
        truth.loc[2, "total"] = 0.0  # a total that disagrees with its vessel sum
        truth.loc[len(truth)] = ["555A", 0.0, 0.0, 0.0, 0.0, 0.0]
        path = tmp_path / "scores.xlsx"
        truth.to_excel(path, index=False)
    else:
        truth.insert(0, "id", ids)
        path = tmp_path / "truth.csv"
        truth.to_csv(path, index=False)
    return tmp_path / "pred.csv", path


def test_evaluate_arrays_matches_metrics_and_baseline():
    t, p = _data()
    df = evaluate_arrays(t, p, n_boot=0)
    got = df.set_index(["vessel", "metric"])
    ref = M.agreement(t[:, 1], p[:, 1])
    for k in ("mse", "spearman", "icc", "kappa4", "kappa5", "f1_ge100", "ba_log1p_loa_high"):
        assert got.loc[("LAD", k), "value"] == pytest.approx(ref[k], nan_ok=True)
    mx = t.max(0)
    assert got.loc[("LCX", "mse_norm"), "value"] == pytest.approx(np.mean(((p[:, 2] - t[:, 2]) / mx[2]) ** 2))
    assert got.loc[(ALL4, "mse_norm"), "value"] == pytest.approx(np.mean(((p - t) / mx) ** 2))
    assert got.loc[("total", "mse"), "baseline"] == pytest.approx(np.var(t.sum(1)))
    assert got["ci_low"].isna().all()  # no bootstrap asked


def test_evaluate_csv_with_ci_and_outputs(tmp_path):
    t, p = _data()
    pred, truth = _write(tmp_path, t, p)
    ev = run_evaluate(pred, truth, out_dir=tmp_path / "out", n_boot=50, seed=0)
    assert len(ev.joined.ids) == len(t)
    assert ev.joined.only_pred == ["777"]
    tab = ev.table.set_index(["vessel", "metric"])
    for row in ("LCA", "total"):
        lo, v, hi = tab.loc[(row, "mae"), ["ci_low", "value", "ci_high"]]
        assert lo <= v <= hi
    assert tab.loc[("total", "mae"), "value"] < tab.loc[("total", "mae"), "baseline"]
    out = tmp_path / "out"
    csv = pd.read_csv(out / "metrics.csv")
    assert set(csv.vessel) == {*VESSELS, "total", ALL4}
    md = (out / "metrics.md").read_text()
    assert "ICC(2,1)" in md and "777" in md and "baseline" in md
    for name in ("scatter.png", "bland_altman.png", "confusion4.png"):
        img = np.asarray(Image.open(out / name).convert("L"), dtype=float)
        assert img.shape[1] > 1000 and img.std() > 5, name  # a real, non-blank figure


def test_evaluate_coca_xlsx_quirks(tmp_path):
    t, p = _data(n=12, seed=1)
    pred, truth = _write(tmp_path, t, p, xlsx=True)
    df = read_truth(truth)
    assert df["id"].tolist()[:3] == ["1", "2", "3"]
    ev = run_evaluate(pred, truth, n_boot=0)
    assert ev.joined.only_truth == ["555"] and ev.joined.only_pred == ["777"]
    assert ev.joined.total_mismatch == ["3"]
    assert ev.value("total", "mse") == pytest.approx(np.mean((p.sum(1) - t.sum(1)) ** 2))


def test_evaluate_bad_inputs(tmp_path):
    t, p = _data(n=8)
    pred, truth = _write(tmp_path, t, p)
    bad = pd.read_csv(pred)
    bad.loc[1, "LCX"] = np.nan
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(EvaluateError, match="LCX"):
        run_evaluate(tmp_path / "bad.csv", truth, n_boot=0)
    with pytest.raises(EvaluateError, match="not found"):
        run_evaluate(tmp_path / "nope.csv", truth, n_boot=0)
    pd.DataFrame({"id": ["a", "b"], "LCA": [1, 2]}).to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(EvaluateError, match=r"lacks column"):
        run_evaluate(tmp_path / "short.csv", truth, n_boot=0)
    other = pd.read_csv(pred).assign(id=lambda d: "x" + d["id"].astype(str))
    other.to_csv(tmp_path / "other.csv", index=False)
    with pytest.raises(EvaluateError, match="match"):
        run_evaluate(tmp_path / "other.csv", truth, n_boot=0)


def test_evaluate_blank_reference_cells_are_dropped_and_reported(tmp_path):
    t, p = _data(n=10)
    pred, truth = _write(tmp_path, t, p)
    tr = pd.read_csv(truth)
    tr.loc[4, "RCA"] = np.nan
    tr.to_csv(truth, index=False)
    ev = run_evaluate(pred, truth, n_boot=0)
    assert ev.joined.incomplete_truth == ["5"] and len(ev.joined.ids) == 9


def test_cli_evaluate(tmp_path, capsys):
    t, p = _data(n=15)
    pred, truth = _write(tmp_path, t, p)
    assert main(["evaluate", str(pred), str(truth), "--out", str(tmp_path / "o"), "--bootstrap", "20",
                 "--scale", "450,3350,1690,3170"]) == 0
    out = capsys.readouterr().out
    assert "scans evaluated: 15" in out and "spearman" in out
    csv = pd.read_csv(tmp_path / "o" / "metrics.csv").set_index(["vessel", "metric"])
    assert csv.loc[("LAD", "mse_norm"), "value"] == pytest.approx(np.mean(((p[:, 1] - t[:, 1]) / 3350) ** 2))
    assert main(["evaluate", str(pred), str(truth), "--scale", "1,2"]) == 2
    assert "--scale" in capsys.readouterr().err


def test_mse_in_target_space_of_a_bundle(tmp_path):
    import json

    from cacscore.evaluation.targets import TargetScaler

    t, p = _data(n=20, seed=4)
    pred, truth = _write(tmp_path, t, p)
    scaler = TargetScaler("log", (6.0, 8.0, 7.0, 8.0))
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "config.json").write_text(json.dumps({"target_scaling": scaler.to_dict()}))
    ev = run_evaluate(pred, truth, n_boot=0, scaling_from=tmp_path / "bundle")
    z = lambda a: np.log1p(a) / np.array([6.0, 8.0, 7.0, 8.0])  # noqa: E731
    assert ev.value(ALL4, "mse_target") == pytest.approx(np.mean((z(p) - z(t)) ** 2), rel=1e-5)
    assert ev.value("LAD", "mse_target") == pytest.approx(np.mean((z(p)[:, 1] - z(t)[:, 1]) ** 2), rel=1e-5)
    with pytest.raises(EvaluateError, match="config.json"):
        run_evaluate(pred, truth, n_boot=0, scaling_from=tmp_path)
