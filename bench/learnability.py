"""Learnability study (issue 5): can a model learn per-vessel Agatston from a cohort cache, and with which
preprocessing / training settings? One quick single-holdout run per call, one JSON line appended per run.

Split: cacscore.regress.cv.make_splits (seed 0): the 20% test split of ``reproduce``; fold 0 of the 80% is the
validation set for early stopping, the other 4 folds train. The model is the one with the best validation
MSE; it is evaluated once on the 20%. Baseline: the constant predictor (mean of the scaled training targets).

    .venv/bin/python bench/learnability.py CACHE RESULTS.jsonl --name scan_lr1e-3 [--norm window --window -200 1000]
        [--target log|linear] [--lr 1e-3] [--wd 1e-4] [--bs 8] [--epochs 30] [--patience 10] [--shift 0]

Prints one line: name, test MSE (normalised), ratio baseline / model, Spearman and kappa4 of the total.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

from cacscore.regress.cache import CohortCache
from cacscore.regress.cv import make_splits
from cacscore.evaluation.metrics import spearman, weighted_kappa
from cacscore.regress.models import build_model
from cacscore.regress.preprocess import normalise
from cacscore.evaluation.targets import TargetScaler
from cacscore.regress.train import TrainConfig, fit, predict, seeded
from cacscore.regress.dataset import ShiftAugment


class HalfScans(torch.utils.data.Dataset):
    """Rows ``rows`` of the in-memory float16 scans ``x``, handed out as float32 one at a time. Indexes
    ``x`` instead of copying its rows: a float32 copy of 1,000+ scans, or even a second float16 one,
    would not fit beside it."""

    def __init__(self, x: torch.Tensor, rows: list[int], y: np.ndarray) -> None:
        self.x, self.rows, self.y = x, rows, torch.as_tensor(y, dtype=torch.float32)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[self.rows[i]].float(), self.y[i]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cache", type=Path)
    p.add_argument("results", type=Path)
    p.add_argument("--name", required=True)
    p.add_argument("--model", default="cnn")
    p.add_argument("--norm", default="scan", choices=("scan", "window"))
    p.add_argument("--window", type=float, nargs=2, default=(-1000.0, 1000.0))
    p.add_argument("--target", default="log", choices=("log", "linear"))
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--wd", type=float, default=1e-4)
    p.add_argument("--bs", type=int, default=8)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--patience", type=int, default=10)
    p.add_argument("--shift", type=int, default=0, help="random in-plane shift of up to this many pixels")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    t0, c0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)

    cache = CohortCache(a.cache)
    y = np.asarray(cache.targets, dtype=np.float64)
    ok = np.all(np.isfinite(y), axis=1)
    ids = [str(i) for i, k in zip(cache.ids, ok) if k]
    y = y[ok]
    splits = make_splits(ids, y.sum(axis=1), seed=0)
    tr_ids, va_ids = splits.fold(0)
    row = {s: i for i, s in enumerate(ids)}
    cfg = dataclasses.replace(cache.config, normalisation=a.norm, window_hu=tuple(a.window))
    x = torch.empty((len(ids), cfg.slices, cfg.size, cfg.size), dtype=torch.float16)  # half: 2000 scans fit
    for k, s in enumerate(ids):
        x[k] = torch.from_numpy(normalise(np.asarray(cache.load(s)), cfg))
    scaler = TargetScaler.fit(y[[row[i] for i in splits.train]], kind=a.target)
    z = scaler.transform(y)

    def ds(sel: list[str], *, shift: int = 0):
        r = [row[i] for i in sel]
        d = HalfScans(x, r, z[r])
        return ShiftAugment(d, max_shift_px=shift) if shift else d

    tc = TrainConfig(batch_size=a.bs, lr=a.lr, weight_decay=a.wd, max_epochs=a.epochs, patience=a.patience,
                     seed=a.seed)
    with seeded(a.seed):
        model = build_model(a.model, in_channels=cfg.slices, image_size=cfg.size)
    res = fit(model, ds(tr_ids, shift=a.shift), ds(va_ids), config=tc, progress=False)
    te = [row[i] for i in splits.test]
    z_pred = predict(model, ds(splits.test), batch_size=16)
    z_test = z[te]
    z_const = z[[row[i] for i in tr_ids]].mean(axis=0, keepdims=True)
    mse = float(np.mean((z_pred - z_test) ** 2))
    base = float(np.mean((z_const - z_test) ** 2))
    tot_true = y[te].sum(axis=1)
    tot_pred = scaler.inverse(z_pred).sum(axis=1)
    c1 = resource.getrusage(resource.RUSAGE_SELF)
    out = {"name": a.name, "model": a.model, "cache": str(a.cache), "size": cfg.size, "centre": cfg.centre,
           "norm": a.norm, "window": list(a.window) if a.norm == "window" else None, "target": a.target,
           "lr": a.lr, "wd": a.wd, "bs": a.bs, "epochs": a.epochs, "patience": a.patience, "shift": a.shift,
           "seed": a.seed, "n_train": len(tr_ids), "n_val": len(va_ids), "n_test": len(te),
           "best_epoch": res.best_epoch, "epochs_run": len(res.history), "val_mse": res.best_val_loss,
           "train_mse_at_best": res.history[res.best_epoch - 1]["train_loss"],
           "test_mse": mse, "baseline_mse": base, "ratio": base / mse,
           "test_mse_vessels": np.mean((z_pred - z_test) ** 2, axis=0).tolist(),
           "spearman_total": spearman(tot_true, tot_pred), "kappa4_total": weighted_kappa(tot_true, tot_pred),
           "wall_s": time.perf_counter() - t0,
           "cpu_s": (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime),
           "history": res.history}
    with open(a.results, "a") as f:
        f.write(json.dumps(out) + "\n")
    sys.stdout.write(f"{a.name}: test MSE {mse:.4f} baseline {base:.4f} ratio {base / mse:.2f} spearman "
                     f"{out['spearman_total']:.2f} kappa4 {out['kappa4_total']:.2f} best epoch {res.best_epoch} "
                     f"cpu {out['cpu_s']:.0f} s\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
