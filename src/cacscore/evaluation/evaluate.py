"""Evaluate predicted per-vessel scores against a reference: clinical metrics, CIs, figures.

Input tables: predictions (``cacscore predict`` CSV: id, LCA, LAD, LCX, RCA, ...) and a reference
(CSV with id, LCA, LAD, LCX, RCA[, total], or a COCA ``scores.xlsx``). Ids are compared as strings.
All metric definitions live in :mod:`cacscore.evaluation.metrics`; this module joins, bootstraps and writes.

Outputs of :func:`run_evaluate` in ``out_dir``:
  metrics.csv   long table: vessel, metric, value, ci_low, ci_high, baseline, baseline_ci_low, baseline_ci_high
  metrics.md    the same as readable tables, plus the join report
  scatter.png, bland_altman.png, confusion4.png
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cacscore.evaluation import metrics as M
from cacscore.core.fileio import atomic_savefig, atomic_write_text
from cacscore.core.categories import CATEGORY4_LABELS
from cacscore.core.vessels import VESSELS
from cacscore.evaluation.targets import TargetScaler
from cacscore.io.coca import read_coca_scores

log = logging.getLogger(__name__)

ROWS = M.TABLE_ROWS  # LCA, LAD, LCX, RCA, total
ALL4 = "all4"
"""Row of metrics.csv holding the paper's single number: mean over the four vessels of the normalised MSE."""


class EvaluateError(ValueError):
    """A prediction or reference table that cannot be evaluated (message names the file and problem)."""


# ------------------------------------------------------------------ reading
def _normalise_columns(df: pd.DataFrame) -> pd.DataFrame:
    df = df.rename(columns=lambda c: str(c).strip())
    lower = {c.lower(): c for c in df.columns}
    ren = {}
    for want in (*VESSELS, "total"):
        if want not in df.columns and want.lower() in lower:
            ren[lower[want.lower()]] = want
    if "id" not in df.columns:
        for alt in ("id", "filename", "scan_id", "patient", "pid"):
            if alt in lower:
                ren[lower[alt]] = "id"
                break
    return df.rename(columns=ren)


def _id_strings(values: pd.Series) -> pd.Series:
    """Ids as strings; floats that are whole numbers (Excel/pandas artefacts: 12.0) become "12"."""
    def one(v: object) -> str:
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v).strip()
    return values.map(one)


def _check_table(df: pd.DataFrame, path: Path, what: str) -> pd.DataFrame:
    missing = [c for c in ("id", *VESSELS) if c not in df.columns]
    if missing:
        raise EvaluateError(f"{path}: {what} lacks column(s) {missing}; found {list(df.columns)}")
    df = df.copy()
    df["id"] = _id_strings(df["id"])
    for c in (*VESSELS, *(["total"] if "total" in df.columns else [])):
        num = pd.to_numeric(df[c], errors="coerce")
        bad = num.isna() & df[c].notna()
        if bad.any():
            raise EvaluateError(f"{path}: column {c} has non-numeric value(s) {df.loc[bad, c].head(3).tolist()} "
                                f"(ids {df.loc[bad, 'id'].head(3).tolist()})")
        df[c] = num
        # an Agatston score is finite and >= 0: inf or a negative value is a broken table, not a score
        wrong = num.notna() & ~(np.isfinite(num) & (num >= 0))
        if wrong.any():
            raise EvaluateError(f"{path}: column {c} has value(s) {num[wrong].head(3).tolist()} that are not "
                                f"Agatston scores (finite, >= 0) (ids {df.loc[wrong, 'id'].head(3).tolist()})")
    dup = df["id"][df["id"].duplicated()]
    if len(dup):
        raise EvaluateError(f"{path}: duplicate id(s) {sorted(set(dup))[:5]}")
    return df


def read_predictions(path: Path) -> pd.DataFrame:
    """Prediction CSV -> DataFrame(id str, LCA, LAD, LCX, RCA [, sd_*, ...]); NaN scores are an error."""
    path = Path(path)
    if not path.is_file():
        raise EvaluateError(f"{path}: predictions file not found")
    try:
        df = pd.read_csv(path, dtype={"id": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise EvaluateError(f"{path}: not a readable CSV ({exc})") from None
    df = _check_table(_normalise_columns(df), path, "predictions")
    for c in VESSELS:
        if df[c].isna().any():
            raise EvaluateError(f"{path}: column {c} has missing value(s) for id(s) "
                                f"{df.loc[df[c].isna(), 'id'].head(5).tolist()}")
    return df


def read_truth(path: Path) -> pd.DataFrame:
    """Reference scores -> DataFrame(id str, LCA, LAD, LCX, RCA, total_reported) in Agatston units.

    CSV (id, LCA, LAD, LCX, RCA[, total]) or a COCA scores.xlsx (read with cacscore.io.coca). Rows with a blank vessel cell stay, with NaN (missing, never 0): :func:`join` drops
    and reports them. ``total_reported`` is the file's own total (NaN if absent); the evaluated
    total is always the vessel sum.
    """
    path = Path(path)
    if not path.is_file():
        raise EvaluateError(f"{path}: reference file not found")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls"):
        try:
            df = read_coca_scores(path)
        except (ValueError, KeyError, OSError) as exc:
            raise EvaluateError(f"{path}: cannot read scores workbook ({exc})") from None
        df = _normalise_columns(pd.DataFrame(df))
    else:
        try:
            df = _normalise_columns(pd.read_csv(path, dtype={"id": str}))
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise EvaluateError(f"{path}: not a readable CSV ({exc})") from None
    df = _check_table(df, path, "reference")
    df["total_reported"] = df["total"] if "total" in df.columns else np.nan
    return df[["id", *VESSELS, "total_reported"]]


@dataclass(frozen=True)
class Joined:
    ids: list[str]
    y_true: np.ndarray  # (N, 4) Agatston
    y_pred: np.ndarray  # (N, 4) Agatston
    only_pred: list[str]  # ids predicted but absent from the reference
    only_truth: list[str]  # ids in the reference but not predicted
    incomplete_truth: list[str]  # matched ids with a blank reference cell (dropped)
    total_mismatch: list[str]  # reference total differs from its vessel sum (the vessel sum is used)


def join(pred: pd.DataFrame, truth: pd.DataFrame) -> Joined:
    """Inner join on id (strings), with the ids that did not match."""
    p = pred.set_index("id")
    t = truth.set_index("id")
    only_pred = sorted(set(p.index) - set(t.index))
    only_truth = sorted(set(t.index) - set(p.index))
    common = [i for i in p.index if i in t.index]
    tt = t.loc[common, list(VESSELS)]
    incomplete = sorted(tt.index[tt.isna().any(axis=1)])
    keep = [i for i in common if i not in set(incomplete)]
    y_true = t.loc[keep, list(VESSELS)].to_numpy(float)
    y_pred = p.loc[keep, list(VESSELS)].to_numpy(float)
    mismatch: list[str] = []
    if "total_reported" in t.columns:
        rep = t.loc[keep, "total_reported"].to_numpy(float)
        diff = np.isfinite(rep) & ~np.isclose(rep, y_true.sum(axis=1), rtol=1e-3, atol=0.5)
        mismatch = [i for i, d in zip(keep, diff) if d]
    return Joined(keep, y_true, y_pred, only_pred, only_truth, incomplete, mismatch)


# ------------------------------------------------------------------ evaluation
@dataclass(frozen=True)
class Evaluation:
    table: pd.DataFrame  # long: vessel, metric, value, ci_low, ci_high, baseline, baseline_ci_low, baseline_ci_high
    joined: Joined
    normalise_by: tuple[float, ...]  # per-vessel divisor of mse_norm (Agatston)
    n_boot: int
    notes: list[str] = field(default_factory=list)

    def value(self, vessel: str, metric: str) -> float:
        row = self.table[(self.table.vessel == vessel) & (self.table.metric == metric)]
        if row.empty:
            raise KeyError(f"no metric {metric!r} for {vessel!r}")
        return float(row["value"].iloc[0])


def evaluate_arrays(y_true: np.ndarray, y_pred: np.ndarray, *, normalise_by: Sequence[float] | None = None,
                    n_boot: int = 1000, seed: int = 0, alpha: float = 0.05, target_scaler=None) -> pd.DataFrame:
    """Long metric table of (N, 4) Agatston predictions against (N, 4) reference scores.

    normalise_by: per-vessel divisor for ``mse_norm`` (default: the reference's per-vessel max; a
    vessel whose max is 0 gets 1). The baseline predicts every scan as the reference's per-vessel mean.
    n_boot: bootstrap resamples for the percentile intervals (0: no intervals).
    target_scaler: optional cacscore.evaluation.targets.TargetScaler (a bundle's ``target_scaling``): adds the
        metric ``mse_target``, the MSE in that model's target space (per vessel and all4), the space
        of ``reproduce``'s Table 1 test MSE.
    Rows: vessel in LCA, LAD, LCX, RCA, total, all4 (all4 holds mse_norm [and mse_target], the paper's MSE).
    """
    t = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    if normalise_by is None:
        mx = t.max(axis=0) if t.size else np.ones(4)
        normalise_by = [float(v) if v > 0 else 1.0 for v in mx]
    nb = np.asarray(normalise_by, dtype=float)
    base = M.constant_mean_baseline(t)
    wide = M.agreement_table(t, p, baseline=base, normalise_by=nb)
    scale5 = np.append(nb, nb.sum())
    t5 = np.concatenate([t, t.sum(1, keepdims=True)], axis=1)
    p5 = np.concatenate([p, p.sum(1, keepdims=True)], axis=1)
    b5 = np.concatenate([base, base.sum(1, keepdims=True)], axis=1)
    metric_names = [*M.METRICS, "mse_norm"]
    records = []
    for j, row in enumerate(ROWS):
        ci = {k: (np.nan, np.nan) for k in metric_names}
        bci = dict(ci)
        if n_boot:
            s = scale5[j]
            extra = {"mse_norm": lambda a, b, s=s: float(np.mean(((b - a) / s) ** 2))}
            ci = M.bootstrap_agreement(t5[:, j], p5[:, j], n=n_boot, seed=seed, alpha=alpha, extra=extra)
            bci = M.bootstrap_agreement(t5[:, j], b5[:, j], n=n_boot, seed=seed, alpha=alpha, extra=extra)
        for m in metric_names:
            records.append({"vessel": row, "metric": m, "value": wide.loc[row, m],
                            "ci_low": ci[m][0], "ci_high": ci[m][1],
                            "baseline": wide.loc[row, f"baseline_{m}"],
                            "baseline_ci_low": bci[m][0], "baseline_ci_high": bci[m][1]})
    # the paper's single MSE: mean over scans and the four vessels of the normalised squared error
    zt, zp, zb = t / nb, p / nb, base / nb
    all4 = {"vessel": ALL4, "metric": "mse_norm", "value": float(np.mean((zp - zt) ** 2)),
            "ci_low": np.nan, "ci_high": np.nan, "baseline": float(np.mean((zb - zt) ** 2)),
            "baseline_ci_low": np.nan, "baseline_ci_high": np.nan}
    if n_boot:
        f = lambda a, b: float(np.mean((b / nb - a / nb) ** 2))  # noqa: E731
        all4["ci_low"], all4["ci_high"] = M.bootstrap_ci(t, p, f, n=n_boot, seed=seed, alpha=alpha)
        all4["baseline_ci_low"], all4["baseline_ci_high"] = M.bootstrap_ci(t, base, f, n=n_boot, seed=seed, alpha=alpha)
    records.append(all4)
    if target_scaler is not None:
        records += _target_space_records(t, p, base, target_scaler, n_boot=n_boot, seed=seed, alpha=alpha)
    return pd.DataFrame.from_records(records)


def _target_space_records(t: np.ndarray, p: np.ndarray, base: np.ndarray, scaler, *, n_boot: int, seed: int,
                          alpha: float) -> list[dict]:
    """mse_target rows: MSE of scaler.transform(pred) - scaler.transform(true), per vessel and over all four."""
    zt, zp, zb = (np.asarray(scaler.transform(np.clip(a, 0, None)), dtype=float) for a in (t, p, base))
    recs = []
    for j, row in enumerate((*VESSELS, ALL4)):
        cols = slice(j, j + 1) if row != ALL4 else slice(0, 4)
        f = lambda a, b: float(np.mean((b - a) ** 2))  # noqa: E731
        rec = {"vessel": row, "metric": "mse_target", "value": f(zt[:, cols], zp[:, cols]),
               "ci_low": np.nan, "ci_high": np.nan, "baseline": f(zt[:, cols], zb[:, cols]),
               "baseline_ci_low": np.nan, "baseline_ci_high": np.nan}
        if n_boot:
            rec["ci_low"], rec["ci_high"] = M.bootstrap_ci(zt[:, cols], zp[:, cols], f, n=n_boot, seed=seed, alpha=alpha)
            rec["baseline_ci_low"], rec["baseline_ci_high"] = M.bootstrap_ci(zt[:, cols], zb[:, cols], f, n=n_boot,
                                                                             seed=seed, alpha=alpha)
        recs.append(rec)
    return recs


def evaluate(pred: pd.DataFrame, truth: pd.DataFrame, *, normalise_by: Sequence[float] | None = None,
             n_boot: int = 1000, seed: int = 0, target_scaler=None, sources: str | None = None) -> Evaluation:
    """Join predictions and reference tables on id and compute every metric (see evaluate_arrays).

    sources: how to name the two tables in errors (e.g. "pred.csv vs truth.csv")."""
    j = join(pred, truth)
    if len(j.ids) < 2:
        raise EvaluateError(f"{sources + ': ' if sources else ''}"
                            f"only {len(j.ids)} scan id(s) match between predictions and reference "
                            f"(e.g. predicted {j.only_pred[:3]}, reference {j.only_truth[:3]})")
    notes = []
    if j.only_pred:
        notes.append(f"{len(j.only_pred)} predicted id(s) not in the reference: {_short(j.only_pred)}")
    if j.only_truth:
        notes.append(f"{len(j.only_truth)} reference id(s) not predicted: {_short(j.only_truth)}")
    if j.incomplete_truth:
        notes.append(f"{len(j.incomplete_truth)} id(s) dropped for blank reference cells: {_short(j.incomplete_truth)}")
    if j.total_mismatch:
        notes.append(f"{len(j.total_mismatch)} reference total(s) differ from the vessel sum (vessel sum used): "
                     f"{_short(j.total_mismatch)}")
    for n in notes:
        log.warning(n)
    if normalise_by is None:
        mx = j.y_true.max(axis=0)
        normalise_by = tuple(float(v) if v > 0 else 1.0 for v in mx)
    table = evaluate_arrays(j.y_true, j.y_pred, normalise_by=normalise_by, n_boot=n_boot, seed=seed,
                            target_scaler=target_scaler)
    return Evaluation(table, j, tuple(float(v) for v in normalise_by), n_boot, notes)


def _short(ids: Sequence[str], k: int = 10) -> str:
    s = ", ".join(ids[:k])
    return s + (f", ... (+{len(ids) - k})" if len(ids) > k else "")


# ------------------------------------------------------------------ writing
def _fmt(v: float) -> str:
    if not np.isfinite(v):
        return "n/a"
    a = abs(v)
    if a != 0 and (a >= 1e4 or a < 1e-3):
        return f"{v:.3g}"
    return f"{v:.3f}" if a < 10 else f"{v:.1f}"


METRIC_LABELS = {
    "mse": "MSE (Agatston^2)", "mse_norm": "MSE normalised (y / scale)", "mse_target": "MSE in target space", "mae": "MAE (Agatston)",
    "spearman": "Spearman rho", "pearson": "Pearson r", "icc": "ICC(2,1) absolute agreement",
    "kappa4": "kappa, linear, 4-class", "kappa5": "kappa, linear, 5-class",
    "acc_ge1": "accuracy at >= 1", "f1_ge1": "F1 at >= 1", "acc_ge100": "accuracy at >= 100",
    "f1_ge100": "F1 at >= 100", "acc_ge400": "accuracy at >= 400", "f1_ge400": "F1 at >= 400",
    "ba_bias": "Bland-Altman bias (Agatston)", "ba_loa_low": "BA lower LoA (Agatston)",
    "ba_loa_high": "BA upper LoA (Agatston)", "ba_log1p_bias": "Bland-Altman bias (log1p)",
    "ba_log1p_loa_low": "BA lower LoA (log1p)", "ba_log1p_loa_high": "BA upper LoA (log1p)",
}


def to_markdown(ev: Evaluation, *, pred_path: Path | None = None, truth_path: Path | None = None) -> str:
    """Readable report: join summary, then per vessel a table metric | model [CI] | baseline [CI]."""
    j = ev.joined
    lines = ["# Evaluation", ""]
    if pred_path is not None:
        lines.append(f"- predictions: `{pred_path}`")
    if truth_path is not None:
        lines.append(f"- reference: `{truth_path}`")
    lines += [f"- scans evaluated: {len(j.ids)}",
              "- baseline: every scan predicted as the reference's per-vessel mean (constant-mean model)",
              f"- intervals: percentile bootstrap over scans, {ev.n_boot} resamples, 95%"
              if ev.n_boot else "- intervals: none (bootstrap disabled)",
              "- normalised MSE divides scores by " + ", ".join(f"{v} {s:.4g}" for v, s in zip(VESSELS, ev.normalise_by)) + " "
              "(total: their sum); Bland-Altman differences are pred - reference",
              ""]
    for n in ev.notes:
        lines.append(f"- note: {n}")
    for a in ev.table[ev.table.vessel == ALL4].itertuples():
        what = ("normalised MSE (y / scale)" if a.metric == "mse_norm"
                else "MSE in the model's target space (as reproduce's Table 1)")
        lines += ["", f"**Mean over scans and the 4 vessels, {what}: {_fmt(a.value)} "
                  f"[{_fmt(a.ci_low)}, {_fmt(a.ci_high)}]; constant-mean baseline {_fmt(a.baseline)}**"]
    lines.append("")
    for row in ROWS:
        sub = ev.table[ev.table.vessel == row]
        lines += [f"## {row}", "", "| metric | model | 95% CI | baseline | baseline 95% CI |",
                  "|---|---:|---:|---:|---:|"]
        for r in sub.itertuples():
            lines.append(f"| {METRIC_LABELS.get(r.metric, r.metric)} | {_fmt(r.value)} | "
                         f"[{_fmt(r.ci_low)}, {_fmt(r.ci_high)}] | {_fmt(r.baseline)} | "
                         f"[{_fmt(r.baseline_ci_low)}, {_fmt(r.baseline_ci_high)}] |")
        lines.append("")
    lines += ["Figures: scatter.png (log1p axes), bland_altman.png (log1p scale), confusion4.png "
              "(four-class risk categories).", ""]
    return "\n".join(lines)


def _log1p_ticks(ax, axis: str, vmax: float) -> None:
    ticks = [v for v in (0, 1, 10, 100, 1000, 10000) if v <= max(vmax, 1) * 1.01]
    pos = np.log1p(ticks)
    labels = [str(v) for v in ticks]
    if axis == "x":
        ax.set_xticks(pos, labels)
    else:
        ax.set_yticks(pos, labels)


def write_figures(j: Joined, out_dir: Path) -> list[Path]:
    """scatter.png, bland_altman.png, confusion4.png of the joined scores; returns the paths."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix

    t5 = np.concatenate([j.y_true, j.y_true.sum(1, keepdims=True)], axis=1)
    p5 = np.concatenate([j.y_pred, j.y_pred.sum(1, keepdims=True)], axis=1)
    paths = []

    fig, axes = plt.subplots(1, 5, figsize=(20, 4.4), constrained_layout=True)
    for k, (ax, row) in enumerate(zip(axes, ROWS)):
        lt, lp = np.log1p(np.clip(t5[:, k], 0, None)), np.log1p(np.clip(p5[:, k], 0, None))
        hi = max(lt.max(), lp.max(), np.log1p(10)) * 1.05
        ax.plot([0, hi], [0, hi], color="0.6", lw=1, ls="--", label="identity")
        ax.scatter(lt, lp, s=16, alpha=0.7, color="C0", edgecolor="none")
        both0 = int(np.sum((lt == 0) & (lp == 0)))
        if both0:  # the many scans at (0, 0) are one dot: say how many
            ax.scatter([0], [0], s=90, facecolor="none", edgecolor="C3", lw=1.2)
            ax.annotate(f"{both0} scan{'' if both0 == 1 else 's'} at (0, 0)", (0, 0), xytext=(8, 8),
                        textcoords="offset points", color="C3", fontsize=9)
        ax.set_xlim(-0.1, hi)
        ax.set_ylim(-0.1, hi)
        vmax = float(np.expm1(hi))
        _log1p_ticks(ax, "x", vmax)
        _log1p_ticks(ax, "y", vmax)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            rho = M.spearman(t5[:, k], p5[:, k])
        ax.set_title(f"{row}  (Spearman {_fmt(rho)}, n={len(lt)})")
        ax.set_xlabel("reference (Agatston, log1p axis)")
        if k == 0:
            ax.set_ylabel("predicted (Agatston, log1p axis)")
        ax.grid(alpha=0.3)
    fig.suptitle("Predicted vs reference calcium scores")
    paths.append(out_dir / "scatter.png")
    atomic_savefig(fig, paths[-1])
    plt.close(fig)

    fig, axes = plt.subplots(1, 5, figsize=(20, 4.4), constrained_layout=True)
    for k, (ax, row) in enumerate(zip(axes, ROWS)):
        lt, lp = np.log1p(np.clip(t5[:, k], 0, None)), np.log1p(np.clip(p5[:, k], 0, None))
        mean, diff = (lt + lp) / 2, lp - lt
        bias, lo, hi = M.bland_altman(t5[:, k], p5[:, k], log1p=True)
        ax.scatter(mean, diff, s=16, alpha=0.7, color="C1", edgecolor="none")
        for v, ls, lab in ((bias, "-", f"bias {bias:.2f}"), (lo, "--", f"-1.96 SD {lo:.2f}"),
                           (hi, "--", f"+1.96 SD {hi:.2f}")):
            ax.axhline(v, color="k", ls=ls, lw=1, label=lab)
        ax.axhline(0, color="0.7", lw=0.8)
        ax.set_title(row)
        ax.set_xlabel("mean of log1p(reference), log1p(pred)")
        if k == 0:
            ax.set_ylabel("log1p(pred) - log1p(reference)")
        ax.legend(fontsize=8, loc="best")
        ax.grid(alpha=0.3)
    fig.suptitle("Bland-Altman on the log1p(Agatston) scale")
    paths.append(out_dir / "bland_altman.png")
    atomic_savefig(fig, paths[-1])
    plt.close(fig)

    fig, axes = plt.subplots(1, 5, figsize=(22, 4.6), constrained_layout=True)
    names = list(CATEGORY4_LABELS)
    for k, (ax, row) in enumerate(zip(axes, ROWS)):
        cm = confusion_matrix(M.risk_category4(t5[:, k]), M.risk_category4(p5[:, k]), labels=[0, 1, 2, 3])
        ConfusionMatrixDisplay(cm, display_labels=names).plot(ax=ax, colorbar=False, cmap="Blues")
        ax.set_title(row)
        ax.set_xlabel("predicted category")
        ax.set_ylabel("reference category" if k == 0 else "")
    fig.suptitle("Four-class risk category confusion (rows: reference, columns: predicted)")
    paths.append(out_dir / "confusion4.png")
    atomic_savefig(fig, paths[-1])
    plt.close(fig)
    return paths


def target_scaler_of(model_path: Path):
    """The TargetScaler of a bundle folder (or of the first fold of a folder of fold bundles), from config.json."""
    import json

    model_path = Path(model_path)
    cfgs = [model_path / "config.json"] + sorted(model_path.glob("fold*/config.json"))
    for c in cfgs:
        if c.is_file():
            try:
                return TargetScaler.from_dict(json.loads(c.read_text())["target_scaling"])
            except (KeyError, TypeError, ValueError) as exc:  # JSONDecodeError is a ValueError
                raise EvaluateError(f"{c}: no usable target_scaling ({exc})") from None
    raise EvaluateError(f"{model_path}: not a model bundle (no config.json)")


def run_evaluate(pred_path: Path, truth_path: Path, *, out_dir: Path | None = None,
                 normalise_by: Sequence[float] | None = None, n_boot: int = 1000, seed: int = 0,
                 scaling_from: Path | None = None) -> Evaluation:
    """Read, evaluate and (with ``out_dir``) write metrics.csv, metrics.md and the three figures.

    scaling_from: a bundle folder whose target scaling gives the extra ``mse_target`` metric.
    """
    if out_dir is not None and Path(out_dir).exists() and not Path(out_dir).is_dir():
        raise EvaluateError(f"{out_dir}: is a file; --out needs a folder (for metrics.csv, metrics.md, figures)")
    scaler = target_scaler_of(scaling_from) if scaling_from is not None else None
    ev = evaluate(read_predictions(pred_path), read_truth(truth_path), normalise_by=normalise_by,
                  n_boot=n_boot, seed=seed, target_scaler=scaler, sources=f"{pred_path} vs {truth_path}")
    if out_dir is not None:
        out_dir = Path(out_dir)
        atomic_write_text(out_dir / "metrics.csv", ev.table.to_csv(index=False))
        atomic_write_text(out_dir / "metrics.md", to_markdown(ev, pred_path=pred_path, truth_path=truth_path))
        write_figures(ev.joined, out_dir)
        log.info("wrote %s", out_dir)
    return ev
