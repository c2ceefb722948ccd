"""The paper's protocol end to end: ``cacscore reproduce CACHE OUT``.

1. patient-wise 80/20 split stratified by the four-class risk category of the total (OUT/splits.json, reused);
2. target scaling fitted on the 80% (``log`` by default, see docs/models.md);
3. per model and grid point, 5-fold cross-validation inside the 80% (early stopping on each fold's val MSE);
4. per model the grid point with the lowest mean validation MSE; then (a) retrain on the whole 80% for the
   folds' mean best epoch and (b) the ensemble of the 5 fold models, both evaluated once on the 20%;
5. table1.csv / table1.md, fig2_loss_curves.png, fig3_saliency.png, cv_results.csv, bundles in OUT/models/.

Every training run checkpoints under OUT/runs/, so a killed ``reproduce`` resumes where it stopped.
MSE is in the normalised target space (like the paper's Table 1); Spearman / ICC / kappa in Agatston units.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch.utils.data import Dataset

from cacscore.regress.bundle import TEST_EVALUATION, save_bundle
from cacscore.regress.cv import Splits, grid_points, load_grid, make_splits, point_name
from cacscore.regress.dataset import ScanDataset
from cacscore.regress.fast_train import DeviceCohort, FastTrainConfig, Member, fit_members
from cacscore.core.fileio import atomic_write_text
from cacscore.evaluation.metrics import agreement_table
from cacscore.regress.models import MODELS, build_model
from cacscore.regress.preprocess import PreprocessConfig, normalise
from cacscore.evaluation.targets import TargetScaler
from cacscore.regress.train import FitResult, TrainConfig, fit, predict, read_checkpoint, seeded
from cacscore.core.vessels import VESSELS

log = logging.getLogger(__name__)

LABELS = {"cnn": "CNN", "se_cnn": "SE-CNN", "vit": "ViT"}
PRELOAD_LIMIT_BYTES = 6 * 2**30  # cohorts up to this size (float16) are held in memory, larger ones streamed


def _main_process() -> bool:
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; anything else is checked and returned."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    if not (device == "cpu" or device.startswith("cuda") or device == "mps"):
        raise ValueError(f"unknown device {device!r}; use auto, cpu or cuda[:N]")
    return device


class _Subset(Dataset):
    """Rows of a preloaded (N, C, H, W) tensor with their scaled targets."""

    def __init__(self, x: torch.Tensor, rows: Sequence[int], y: np.ndarray) -> None:
        self.x, self.rows, self.y = x, list(rows), torch.as_tensor(np.asarray(y, np.float32))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[self.rows[i]].float(), self.y[i]


class _Data:
    """Datasets for any list of cache ids; the cohort is normalised once and held in memory when it fits."""

    def __init__(self, cache: Any, scaler: TargetScaler, progress: bool, config: PreprocessConfig, *,
                 preload: bool = True) -> None:
        from tqdm import tqdm

        self.cache, self.scaler, self.config = cache, scaler, config
        self.row = {sid: i for i, sid in enumerate(cache.ids)}
        self.z = scaler.transform(np.nan_to_num(np.asarray(cache.targets, dtype=np.float64)))
        c = config
        nbytes = len(cache.ids) * c.slices * c.size * c.size * 2
        self.x: torch.Tensor | None = None
        if preload and nbytes <= PRELOAD_LIMIT_BYTES:
            self.x = torch.empty((len(cache.ids), c.slices, c.size, c.size), dtype=torch.float16)
            for i, sid in enumerate(tqdm(cache.ids, desc="load cohort", leave=False, disable=not progress)):
                self.x[i] = torch.from_numpy(normalise(np.asarray(cache.load(sid)), c))

    def dataset(self, ids: Sequence[str]) -> Dataset:
        rows = [self.row[i] for i in ids]
        if self.x is None:
            return ScanDataset(self.cache, ids, targets_scaled=self.z[rows], config=self.config)
        return _Subset(self.x, rows, self.z[rows])


def _use_fast_trainer(trainer: str, device: str) -> bool:
    if trainer not in ("auto", "fast", "reference"):
        raise ValueError(f"trainer must be auto, fast or reference, got {trainer!r}")
    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    if trainer == "fast" and distributed:
        raise ValueError("the fast trainer runs in one process; use --trainer reference under torchrun")
    return trainer == "fast" or (trainer == "auto" and device.startswith("cuda") and not distributed)


def _device_cohort(cache: Any, data: "_Data", pre: PreprocessConfig, device: str,
                   compile_model: bool) -> DeviceCohort:
    """The whole cache on the device for the fast trainer: scaled targets in cache order, the training-time
    normalisation; on CUDA channels_last, channels padded to a multiple of 8 (73 -> 80: 2.5x faster bf16
    convolutions measured on an H200, docs/gpu_training.md), and with compile the fused affine input kernel."""
    cuda = device.startswith("cuda")
    cohort = DeviceCohort.from_cache(cache, data.z, device=device, ids=cache.ids, preprocess=pre, channels_last=cuda)
    if cuda and pre.slices % 8:
        cohort = cohort.padded(-(-pre.slices // 8) * 8)
    if cuda and compile_model:
        cohort = cohort.with_input_path("affine", compile=True)
    log.info("reproduce: fast trainer, cohort of %d scans on %s (%.2f GiB int16)", len(cohort), device,
             cohort.nbytes / 2**30)
    return cohort


def _training_ranges(cache: Any, ids: Sequence[str]) -> dict[str, Any]:
    """Acquisition ranges seen in training (from the manifest's columns where present), and the cohort size."""
    out: dict[str, Any] = {"cohort_size": len(ids)}
    man = getattr(cache, "manifest", None)
    if isinstance(man, pd.DataFrame) and len(man):
        id_col = next((c for c in ("id", "scan_id", "patient_id") if c in man.columns), None)
        sub = man[man[id_col].astype(str).isin(set(ids))] if id_col else man
        for col in man.columns:
            if any(k in col.lower() for k in ("thick", "kvp", "spacing")) and pd.api.types.is_numeric_dtype(man[col]):
                vals = sub[col].dropna()
                if len(vals):
                    out[col] = [float(vals.min()), float(vals.max())]
    return out


def _fold_curves(results: list[FitResult]) -> dict[str, np.ndarray]:
    n = max(len(r.history) for r in results)
    tr = np.full((len(results), n), np.nan)
    va = np.full((len(results), n), np.nan)
    for i, r in enumerate(results):
        tr[i, : len(r.history)] = [h["train_loss"] for h in r.history]
        va[i, : len(r.history)] = [h["val_loss"] for h in r.history]
    return {"train": tr, "val": va}


def _mean_sd(v: Sequence[float]) -> tuple[float, float]:
    a = np.asarray(v, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def _finite(v: Any) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


@dataclasses.dataclass
class _Run:
    """What every step of one reproduce run shares: the cohort, its split and target scaling, the trainer."""

    out: Path
    cache: Any
    data: _Data
    cohort: DeviceCohort | None  # the fast trainer's device-resident cohort; None: reference trainer
    splits: Splits
    scaler: TargetScaler
    pre: PreprocessConfig
    points: list[TrainConfig]
    fast_config: FastTrainConfig
    device: str
    seed: int
    n_folds: int
    progress: bool
    keep_checkpoints: bool = True

    @property
    def model_kw(self) -> dict[str, int]:
        return {"in_channels": self.pre.slices, "image_size": self.pre.size}

    @property
    def bundle_base(self) -> dict[str, Any]:
        return {"cohort_size": len(self.splits.train), "preprocess": self.pre.to_dict(),
                "target_scaling": self.scaler.to_dict()}


def _known_targets(cache: Any, cache_dir: Path) -> tuple[list[str], np.ndarray]:
    """Ids and (N, 4) Agatston targets of the cached scans that have reference scores."""
    y_cache = np.asarray(cache.targets, dtype=np.float64)
    if y_cache.shape != (len(cache.ids), 4):
        raise ValueError(f"{cache_dir}: targets have shape {y_cache.shape}, expected ({len(cache.ids)}, 4)")
    known = np.all(np.isfinite(y_cache), axis=1)
    if not known.all():
        log.warning("reproduce: %d scan(s) without reference scores skipped", int((~known).sum()))
    return [str(i) for i, k in zip(cache.ids, known) if k], y_cache[known]


def _load_or_make_splits(out: Path, ids: list[str], y_all: np.ndarray, *, n_folds: int, test_fraction: float,
                         seed: int) -> Splits:
    """The stratified patient-wise split: resumed from OUT/splits.json when there, else made and saved."""
    split_path = out / "splits.json"
    if split_path.is_file():
        splits = Splits.load(split_path)
        if set(splits.train) | set(splits.test) != set(ids) or len(splits.folds) != n_folds:
            raise ValueError(f"{split_path} does not match the cache's ids or {n_folds} folds; use a fresh OUT")
        return splits
    splits = make_splits(ids, y_all.sum(axis=1), test_fraction=test_fraction, n_folds=n_folds, seed=seed)
    if _main_process():
        splits.save(split_path)
    return splits


def _cross_validate(run: _Run, name: str, cv_rows: list[dict[str, Any]]
                    ) -> tuple[list[tuple[TrainConfig, list[FitResult]]], dict[tuple[str, int], dict]]:
    """5-fold CV of every grid point of one model: per point its fold results; the fast trainer's fold weights."""
    per_point: list[tuple[TrainConfig, list[FitResult]]] = []
    fast_states: dict[tuple[str, int], dict[str, torch.Tensor]] = {}
    splits, data = run.splits, run.data
    if run.cohort is not None:  # every grid point and fold of this model in one fast_train call
        build = functools.partial(build_model, name, **run.model_kw)
        members = [Member(tuple(data.row[i] for i in splits.fold(k)[0]),
                          tuple(data.row[i] for i in splits.fold(k)[1]), cfg, init_seed=run.seed + k)
                   for cfg in run.points for k in range(run.n_folds)]
        fast_results = iter(fit_members(build, run.cohort, members, config=run.fast_config,
                                        progress=run.progress, desc=f"{name} CV"))
    for cfg in run.points:
        results = []
        for k in range(run.n_folds):
            tr_ids, va_ids = splits.fold(k)
            if run.cohort is not None:
                m = next(fast_results)
                res = FitResult(history=m.history, best_epoch=m.best_epoch, best_val_loss=m.best_val_loss, done=True)
                fast_states[(point_name(cfg), k)] = m.state_dict
            else:
                with seeded(run.seed + k):
                    model = build_model(name, **run.model_kw)
                res = fit(model, data.dataset(tr_ids), data.dataset(va_ids), config=cfg, device=run.device,
                          run_dir=run.out / "runs" / name / point_name(cfg) / f"fold{k}", progress=run.progress,
                          desc=f"{name} {point_name(cfg)} fold {k}", compact=not run.keep_checkpoints)
            results.append(res)
            best = res.history[res.best_epoch - 1]
            cv_rows.append({"model": name, "grid_point": point_name(cfg), "fold": k, "best_epoch": res.best_epoch,
                            "epochs_run": len(res.history), "train_mse": best["train_loss"],
                            "val_mse": res.best_val_loss, "seconds": sum(h["seconds"] for h in res.history)})
        per_point.append((cfg, results))
        log.info("%s %s: mean val MSE %.5f", name, point_name(cfg), np.mean([r.best_val_loss for r in results]))
    return per_point, fast_states


def _fold_ensemble(run: _Run, name: str, cfg: TrainConfig, results: list[FitResult],
                   fast_states: dict[tuple[str, int], dict], test_ds: Dataset) -> np.ndarray:
    """(a) The fold models of the best point, reloaded and saved as fold bundles; their mean test prediction
    (target scaling)."""
    fold_preds = []
    for k in range(run.n_folds):
        with seeded(run.seed + k):
            fm = build_model(name, **run.model_kw)
        if run.cohort is not None:
            fm.load_state_dict(fast_states[(point_name(cfg), k)])
        else:
            tensors, _ = read_checkpoint(run.out / "runs" / name / point_name(cfg) / f"fold{k}")
            fm.load_state_dict({key[5:]: v for key, v in tensors.items() if key.startswith("best.")})
        fm.eval()
        fold_preds.append(predict(fm, test_ds, device=run.device, batch_size=cfg.eval_batch_size))
        if _main_process():
            save_bundle(run.out / "models" / f"{name}_folds" / f"fold{k}", fm, {
                "model": name, **run.bundle_base, "training": {
                    **cfg.to_dict(), "fold": k, "best_epoch": results[k].best_epoch,
                    **_training_ranges(run.cache, run.splits.fold(k)[0])}})
    return np.mean(fold_preds, axis=0)


def _retrain_full(run: _Run, name: str, cfg: TrainConfig, n_epochs: int) -> torch.nn.Module:
    """(b) The best point retrained on the whole 80% for the folds' mean best epoch, saved as a bundle."""
    full_cfg = TrainConfig(**{**cfg.to_dict(), "max_epochs": n_epochs})
    with seeded(run.seed + run.n_folds):
        full = build_model(name, **run.model_kw)
    if run.cohort is not None:
        build = functools.partial(build_model, name, **run.model_kw)
        [m] = fit_members(build, run.cohort, [Member(tuple(run.data.row[i] for i in run.splits.train), (), full_cfg,
                                                     init_seed=run.seed + run.n_folds)],
                          config=run.fast_config, progress=run.progress, desc=f"{name} retrain 80%")
        full.load_state_dict(m.state_dict)
    else:
        fit(full, run.data.dataset(run.splits.train), None, config=full_cfg, device=run.device,
            run_dir=run.out / "runs" / name / point_name(cfg) / "full", progress=run.progress,
            desc=f"{name} retrain 80%", compact=not run.keep_checkpoints)
    if _main_process():
        save_bundle(run.out / "models" / name, full, {"model": name, **run.bundle_base, "training": {
            **full_cfg.to_dict(), "selected_by": "lowest mean 5-fold validation MSE",
            **_training_ranges(run.cache, run.splits.train)}})
    return full


def _write_test_evaluation(path: Path, variant: str, n_test: int, test_mse: float, base_mse: float,
                           tab: pd.DataFrame) -> None:
    """The bundle carries its own held-out evidence; predict warns on it."""
    atomic_write_text(path / TEST_EVALUATION, json.dumps({
        "variant": variant, "n_test": n_test, "test_mse": test_mse, "constant_mean_test_mse": base_mse,
        "ratio_constant_to_model": base_mse / test_mse if test_mse > 0 else None,
        "spearman_total": _finite(tab.loc["total", "spearman"]),
        "kappa4_total": _finite(tab.loc["total", "kappa4"])}, indent=1) + "\n")


def _agreement(y_test: np.ndarray, y_pred: np.ndarray) -> pd.DataFrame:
    with warnings.catch_warnings():  # undefined statistics (e.g. no test case >= 400) are NaN in the table
        warnings.simplefilter("ignore", RuntimeWarning)
        return agreement_table(y_test, y_pred)


def _write_outputs(run: _Run, table_rows: list[dict], cv_rows: list[dict], pred_rows: list[pd.DataFrame],
                   settings: dict[str, Any], curves: dict, final_models: dict[str, torch.nn.Module],
                   y_test: np.ndarray, y_all: np.ndarray, row: dict[str, int]) -> dict[str, Path]:
    """Table 1 (csv + md), CV results, test predictions, Figure 2 (loss curves), Figure 3 (saliency)."""
    from cacscore.regress.figures import plot_loss_curves, plot_saliency

    out, splits = run.out, run.splits
    paths: dict[str, Path] = {"table1.csv": out / "table1.csv", "cv_results.csv": out / "cv_results.csv",
                              "test_predictions.csv": out / "test_predictions.csv", "table1.md": out / "table1.md"}
    table = pd.DataFrame(table_rows)
    atomic_write_text(paths["table1.csv"], table.to_csv(index=False, float_format="%.6g"))
    pd.DataFrame(cv_rows).to_csv(paths["cv_results.csv"], index=False, float_format="%.6g")
    atomic_write_text(paths["test_predictions.csv"], pd.concat(pred_rows, ignore_index=True).to_csv(index=False))
    atomic_write_text(paths["table1.md"], _markdown(table, settings))
    paths["fig2_loss_curves.png"] = plot_loss_curves(curves, out / "fig2_loss_curves.png", labels=LABELS)
    sal_name = "cnn" if "cnn" in final_models else next(iter(final_models))
    totals = y_test.sum(axis=1)
    calcified = splits.test[int(np.argmax(totals))]
    zero = splits.test[int(np.argmin(totals))]
    paths["fig3_saliency.png"] = plot_saliency(final_models[sal_name], run.cache, [calcified, zero],
                                               y_all[[row[calcified], row[zero]]], out / "fig3_saliency.png",
                                               device=run.device, title=LABELS[sal_name], config=run.pre)
    paths["models"] = out / "models"
    paths["splits.json"] = out / "splits.json"
    return paths


def reproduce(cache_dir: Path, out: Path, *, models: Sequence[str] = ("cnn", "se_cnn", "vit"),
              grid: str | Path | dict[str, Any] = "small", device: str = "auto", seed: int = 0,
              target_scaling: str = "log", n_folds: int = 5, test_fraction: float = 0.2,
              normalisation: str | None = None, window_hu: tuple[float, float] | None = None,
              trainer: str = "auto", compile_model: bool = False, bf16: bool = False,
              progress: bool = True, keep_checkpoints: bool = True) -> dict[str, Path]:
    """Run the protocol on a cohort cache and write the artefacts into ``out``; returns their paths.

    keep_checkpoints: False keeps only the best weights in each finished run's checkpoint (the reference
    trainer's last weights and optimizer state go: 1/4 of the size; a finished run still reloads, an unfinished
    one still resumes).
    normalisation / window_hu: override the cache's PreprocessConfig at training time (the cache holds raw HU);
    the bundles record the configuration used, so ``predict`` normalises the same way.
    trainer: "reference" (``cacscore.regress.train.fit`` per fold over a DataLoader, a checkpoint every epoch, resumable,
    DistributedDataParallel under torchrun), "fast" (``cacscore.regress.fast_train``: the cohort resident on the device,
    every fold and grid point of a model in one call, bf16 + channels_last + channels padded to a multiple of 8 on
    CUDA; no checkpoints, so a killed run starts again) or "auto" (fast on CUDA in a single process, else
    reference). compile_model: with the fast trainer, ``torch.compile`` the models and the input kernel (CUDA).
    bf16: train under bfloat16 autocast with channels_last on any device (both trainers; the fast trainer does
    so on CUDA anyway). Worth it on CPUs with AVX512-BF16 or AMX (docs/models.md); evaluation stays float32.
    """
    from cacscore.regress.cache import CohortCache

    for m in models:
        if m not in MODELS:
            raise ValueError(f"unknown model {m!r}; choose from {sorted(MODELS)}")
    if not models:
        raise ValueError("no models given")
    grid_d = load_grid(grid)
    device = resolve_device(device)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cache = CohortCache(Path(cache_dir))
    ids, y_all = _known_targets(cache, Path(cache_dir))
    splits = _load_or_make_splits(out, ids, y_all, n_folds=n_folds, test_fraction=test_fraction, seed=seed)
    row = {sid: i for i, sid in enumerate(ids)}
    tr_rows = [row[i] for i in splits.train]
    te_rows = [row[i] for i in splits.test]
    scaler = TargetScaler.fit(y_all[tr_rows], kind=target_scaling)
    pre = cache.config
    overrides = {k: v for k, v in (("normalisation", normalisation), ("window_hu", window_hu)) if v is not None}
    if overrides:
        pre = dataclasses.replace(pre, **overrides)
    use_fast = _use_fast_trainer(trainer, device)
    points = grid_points(grid_d, seed=seed)
    if bf16:
        points = [dataclasses.replace(c, precision="bf16", channels_last=True) for c in points]
    data = _Data(cache, scaler, progress, pre, preload=not use_fast)
    run = _Run(out, cache, data, _device_cohort(cache, data, pre, device, compile_model) if use_fast else None,
               splits, scaler, pre, points, FastTrainConfig(compile=compile_model, bf16=True if bf16 else None,
                                                             channels_last=True if bf16 else None),
               device, seed, n_folds, progress, keep_checkpoints)
    settings = {"cache": str(cache_dir), "models": list(models), "grid": grid_d, "device": device, "seed": seed,
                "target_scaling": scaler.to_dict(), "n_folds": n_folds, "test_fraction": test_fraction,
                "preprocess": pre.to_dict(), "n_patients": len(ids), "n_train": len(splits.train),
                "n_test": len(splits.test), "torch": torch.__version__,
                "trainer": "fast" if use_fast else "reference", "bf16": bool(bf16),
                "world_size": dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1}
    if _main_process():
        atomic_write_text(out / "reproduce_config.json", json.dumps(settings, indent=1))
    log.info("reproduce: %d patients (%d train / %d test), models %s, %d grid point(s), device %s",
             len(ids), len(splits.train), len(splits.test), ",".join(models), len(points), device)

    z_test = scaler.transform(y_all[te_rows])
    y_test = y_all[te_rows]
    z_train = scaler.transform(y_all[tr_rows])
    z_const = z_train.mean(axis=0, keepdims=True).repeat(len(te_rows), axis=0)
    base_mse = float(np.mean((z_const - z_test) ** 2))
    cv_rows: list[dict[str, Any]] = []
    table_rows: list[dict[str, Any]] = []
    pred_rows: list[pd.DataFrame] = []  # test predictions in Agatston units: what the clinical metrics use
    curves: dict[str, dict[str, np.ndarray]] = {}
    final_models: dict[str, torch.nn.Module] = {}
    test_ds = data.dataset(splits.test)

    for name in models:
        t_model = time.perf_counter()
        per_point, fast_states = _cross_validate(run, name, cv_rows)
        cfg, results = min(per_point, key=lambda p: float(np.mean([r.best_val_loss for r in p[1]])))
        curves[name] = _fold_curves(results)
        n_epochs = max(1, int(round(np.mean([r.best_epoch for r in results]))))
        z_ensemble = _fold_ensemble(run, name, cfg, results, fast_states, test_ds)
        full = final_models[name] = _retrain_full(run, name, cfg, n_epochs)
        seconds = time.perf_counter() - t_model
        tr_mean, tr_sd = _mean_sd([r.history[r.best_epoch - 1]["train_loss"] for r in results])
        va_mean, va_sd = _mean_sd([r.best_val_loss for r in results])
        for variant, z_pred in (("retrain", predict(full, test_ds, device=device, batch_size=cfg.eval_batch_size)),
                                ("ensemble", z_ensemble)):
            y_pred = scaler.inverse(z_pred)
            pred_rows.append(_prediction_frame(splits.test, name, variant, y_pred))
            tab = _agreement(y_test, y_pred)
            test_mse = float(np.mean((z_pred - z_test) ** 2))
            if _main_process():
                _write_test_evaluation(out / "models" / (name if variant == "retrain" else f"{name}_folds"),
                                       variant, len(splits.test), test_mse, base_mse, tab)
            table_rows.append({"model": LABELS[name], "variant": variant, "grid_point": point_name(cfg),
                               "epochs": n_epochs, "train_mse_mean": tr_mean, "train_mse_sd": tr_sd,
                               "val_mse_mean": va_mean, "val_mse_sd": va_sd, "test_mse": test_mse,
                               "seconds": seconds, **_metric_cols(tab)})
        log.info("%s done in %.0f s (best %s, %d epochs)", name, seconds, point_name(cfg), n_epochs)

    y_const = scaler.inverse(z_const)
    pred_rows.append(_prediction_frame(splits.test, "constant_mean", "baseline", y_const))
    table_rows.append({"model": "constant mean", "variant": "baseline", "grid_point": "", "epochs": 0,
                       "train_mse_mean": float(np.mean((z_train - z_const[:1]) ** 2)), "train_mse_sd": np.nan,
                       "val_mse_mean": np.nan, "val_mse_sd": np.nan, "test_mse": base_mse, "seconds": 0.0,
                       **_metric_cols(_agreement(y_test, y_const))})
    if not _main_process():
        return {}
    return _write_outputs(run, table_rows, cv_rows, pred_rows, settings, curves, final_models, y_test, y_all, row)


def _prediction_frame(ids: Sequence[str], model: str, variant: str, y_agatston: np.ndarray) -> pd.DataFrame:
    """Rows ``id, model, variant, LCA, LAD, LCX, RCA, total`` (Agatston, after inverse scaling; total = sum)."""
    df = pd.DataFrame(np.asarray(y_agatston, dtype=np.float64), columns=list(VESSELS))
    df.insert(0, "variant", variant)
    df.insert(0, "model", model)
    df.insert(0, "id", [str(i) for i in ids])
    df["total"] = df[list(VESSELS)].sum(axis=1)
    return df


def _metric_cols(tab: pd.DataFrame) -> dict[str, float]:
    return {f"{m}_{v}": float(tab.loc[v, m]) for m in ("spearman", "icc", "kappa4") for v in (*VESSELS, "total")}


def _fmt(mean: float, sd: float) -> str:
    if not np.isfinite(mean):
        return "-"
    return f"{mean:.4f} ± {sd:.4f}" if np.isfinite(sd) else f"{mean:.4f}"


def _markdown(table: pd.DataFrame, settings: dict[str, Any]) -> str:
    lines = ["# Table 1 (reproduction)", "",
             f"{settings['n_patients']} patients ({settings['n_train']} train with {settings['n_folds']}-fold CV, "
             f"{settings['n_test']} test), input {settings['preprocess']['slices']} x {settings['preprocess']['size']}"
             f" x {settings['preprocess']['size']}, target scaling `{settings['target_scaling']['kind']}` "
             "(MSE in that normalised space; sd over folds, ddof = 1). `retrain`: one model trained on the whole 80% "
             "for the folds' mean best epoch; `ensemble`: mean of the 5 fold models.", "",
             "| Model | Variant | Mean Train MSE ± sd | Mean Val. MSE ± sd | Test MSE | Best grid point | Wall time (s) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in table.itertuples():
        lines.append(f"| {r.model} | {r.variant} | {_fmt(r.train_mse_mean, r.train_mse_sd)} | "
                     f"{_fmt(r.val_mse_mean, r.val_mse_sd)} | {r.test_mse:.4f} | {r.grid_point or '-'} | {r.seconds:.0f} |")
    lines += ["", "Test agreement in Agatston units (Spearman ρ / ICC(2,1) / linearly weighted κ of four-class "
              "risk categories). The constant predictor has no ranking: ρ is undefined (nan).", "",
              "| Model | Variant | " + " | ".join((*VESSELS, "total")) + " |",
              "| --- | --- | " + " | ".join(["---"] * 5) + " |"]
    for r in table.itertuples():
        cells = [f"{getattr(r, f'spearman_{v}'):.2f} / {getattr(r, f'icc_{v}'):.2f} / {getattr(r, f'kappa4_{v}'):.2f}"
                 for v in (*VESSELS, "total")]
        lines.append(f"| {r.model} | {r.variant} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
