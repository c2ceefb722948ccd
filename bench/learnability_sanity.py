"""Pipeline sanity check for the learnability study (issue 5): can the paper's CNN learn an EASY image
statistic from the same cache, split, normalisation and fit loop that fail on per-vessel Agatston?

Targets: per scan, the number of voxels >= 130 / 300 / 600 / 1000 HU in the cached (slices, H, W) input
(log-scaled like the Agatston targets). If the CNN beats the constant predictor here but not on Agatston,
the loop, scaling and prediction code work, and the Agatston task itself is what the model cannot learn.

    .venv/bin/python bench/learnability_sanity.py CACHE [--norm window|scan] [--lr 3e-4] [--epochs 10]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import numpy as np
import torch

from cacscore.regress.cache import CohortCache
from cacscore.regress.cv import make_splits
from cacscore.regress.dataset import TensorScans
from cacscore.evaluation.metrics import spearman
from cacscore.regress.models import build_model
from cacscore.regress.preprocess import normalise
from cacscore.evaluation.targets import TargetScaler
from cacscore.regress.train import TrainConfig, fit, predict, seeded

THRESHOLDS_HU = (130, 300, 600, 1000)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cache")
    p.add_argument("--norm", default="window", choices=("scan", "window"))
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    cache = CohortCache(a.cache)
    ids = list(cache.ids)
    raw = [np.asarray(cache.load(s)) for s in ids]
    y = np.array([[np.count_nonzero(r >= t) for t in THRESHOLDS_HU] for r in raw], dtype=np.float64)
    splits = make_splits(ids, np.asarray(cache.targets, float).sum(axis=1), seed=0)  # reproduce's split
    tr, va = splits.fold(0)
    row = {s: i for i, s in enumerate(ids)}
    cfg = dataclasses.replace(cache.config, normalisation=a.norm)
    x = torch.stack([torch.from_numpy(normalise(r, cfg)) for r in raw])
    z = TargetScaler.fit(y[[row[i] for i in splits.train]], kind="log").transform(y)

    def ds(sel):
        r = [row[i] for i in sel]
        return TensorScans(x[r], z[r])

    with seeded(0):
        model = build_model("cnn", in_channels=x.shape[1], image_size=x.shape[2])
    res = fit(model, ds(tr), ds(va), config=TrainConfig(batch_size=8, lr=a.lr, weight_decay=1e-4,
                                                         max_epochs=a.epochs, patience=a.epochs, seed=0),
              progress=False)
    te = [row[i] for i in splits.test]
    zp = predict(model, ds(splits.test), batch_size=16)
    base = float(np.mean((z[[row[i] for i in tr]].mean(0, keepdims=True) - z[te]) ** 2))
    mse = float(np.mean((zp - z[te]) ** 2))
    sys.stdout.write(f"{len(tr)} train / {len(va)} val / {len(te)} test, input {a.norm}: easy-target test MSE "
                     f"{mse:.4f}, constant {base:.4f}, ratio {base / mse:.2f}, Spearman(count >= 130 HU) "
                     f"{spearman(y[te, 0], zp[:, 0]):.2f}, best epoch {res.best_epoch}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
