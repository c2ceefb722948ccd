"""The candidate classifier's torch side: the MLP module and its training loop. Imported only to train
(:func:`cacscore.lesion.classifier.train_classifier`); scoring runs the same weights in numpy
(:class:`cacscore.lesion.classifier.NumpyMLP`), so ``cacscore predict`` never imports torch.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from cacscore.lesion.candidates import N_CLASSES

log = logging.getLogger(__name__)


class CandidateMLP(nn.Module):
    """(B, F) standardised features -> (B, 5) class logits."""

    def __init__(self, n_features: int, hidden: Sequence[int], dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        w = n_features
        for h in hidden:
            layers += [nn.Linear(w, int(h)), nn.ReLU(), nn.Dropout(dropout)]
            w = int(h)
        layers.append(nn.Linear(w, N_CLASSES))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, 5)


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fit_mlp(x_std: np.ndarray, y: np.ndarray, weight: np.ndarray, config) -> tuple[CandidateMLP, float]:
    """Train a CandidateMLP on (n, F) standardised float32 features and (n,) classes with (n,) per-sample loss
    weights (cross-entropy, AdamW, cosine learning rate; ``config``: a ClassifierConfig). Returns the net (in eval
    mode) and the last epoch's weighted loss. The caller's torch RNG and thread count are left as they were."""
    x = torch.from_numpy(np.asarray(x_std, np.float32))
    yt = torch.from_numpy(np.asarray(y, np.int64))
    w = torch.from_numpy(np.asarray(weight, np.float32))
    n = len(yt)
    # a tiny MLP: one thread is fastest, and on a busy machine torch's default (all cores) spins ~20x slower
    # (38 s against 1.9 s measured on 2 cores)
    with torch.random.fork_rng(devices=[]), _torch_threads(1):
        gen = torch.Generator().manual_seed(config.seed)
        torch.manual_seed(config.seed)  # weight init; only the module's own parameters use it
        net = CandidateMLP(x.shape[1], config.hidden, config.dropout)
        opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        steps = config.epochs * math.ceil(n / config.batch_size)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1))
        loss_fn = nn.CrossEntropyLoss(reduction="none")
        net.train()
        last = float("nan")
        for epoch in range(config.epochs):
            perm = torch.randperm(n, generator=gen)
            tot, wsum = 0.0, 0.0
            for i in range(0, n, config.batch_size):
                b = perm[i:i + config.batch_size]
                loss_v = loss_fn(net(x[b]), yt[b])
                loss = (loss_v * w[b]).sum() / w[b].sum().clamp_min(1e-12)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                tot += float((loss_v * w[b]).sum().detach())
                wsum += float(w[b].sum())
            last = tot / max(wsum, 1e-12)
            log.debug("lesion classifier epoch %d loss %.4f", epoch + 1, last)
    net.eval()
    return net, last
