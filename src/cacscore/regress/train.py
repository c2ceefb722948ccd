"""Fit loop: AdamW on MSE, early stopping on validation loss, per-epoch checkpoints, exact resume, DDP.

Determinism: model init and training run inside ``torch.random.fork_rng`` seeded from the config, so the
caller's global RNG is untouched; the shuffle of epoch e is ``randperm`` seeded with ``seed + e`` (the
DistributedSampler rule), so a resumed run sees the same batches as an uninterrupted one. The torch RNG
state (dropout) is saved in every checkpoint.

Checkpoint: one ``checkpoint.safetensors`` per run directory holding the current weights (``model.*``),
the best weights so far (``best.*``), the AdamW state (``optim.*``) and, in its JSON metadata, the
state (epoch, history, early-stopping counters, param groups, RNG state as base64). It is replaced
atomically after every epoch, so a kill at any moment leaves the previous complete epoch; ``state.json``
beside it is a human-readable copy. No pickle anywhere.

DDP: when ``torch.distributed`` is initialised (``torchrun --nproc-per-node N``), ``fit`` wraps the model
in DistributedDataParallel; each rank sees ``batch_size / N`` items of the same global batch, gradients are
averaged, every rank computes the full validation loss (identical early-stopping decisions) and only rank
0 writes. On CUDA, BatchNorm is converted to SyncBatchNorm so the result matches one process; on CPU
(gloo) SyncBatchNorm is unavailable and BatchNorm statistics stay per rank.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file
from safetensors import safe_open
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from cacscore.core.fileio import atomic_path, atomic_write_text

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.safetensors"


@dataclass(frozen=True)
class TrainConfig:
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    max_epochs: int = 30
    patience: int = 5  # early stopping: stop after this many epochs without a new best validation loss
    seed: int = 0
    eval_batch_size: int = 16
    # "bf16": the training forward pass under torch.autocast(bfloat16) (loss, backward into float32 weights and
    # AdamW stay float32); evaluation and prediction stay float32. On CPUs with AVX512-BF16 the paper's CNN at
    # 73 x 256 x 256 trains ~2.5x faster with bf16 + channels_last (docs/models.md); on others it can be slower.
    precision: str = "fp32"
    channels_last: bool = False  # model and training batches in channels_last memory format

    def __post_init__(self) -> None:
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', got {self.precision!r}")
        for name in ("batch_size", "max_epochs", "patience", "eval_batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0 or self.weight_decay < 0:
            raise ValueError(f"need lr > 0 and weight_decay >= 0, got lr={self.lr}, weight_decay={self.weight_decay}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class FitResult:
    history: list[dict[str, float]] = field(default_factory=list)  # per epoch: epoch, train_loss, val_loss, seconds
    best_epoch: int = 0  # 1-based epoch of the weights the model holds at the end (last epoch without validation)
    best_val_loss: float = math.nan
    done: bool = False  # False when stopped by ``stop_after`` (a simulated kill)


def seeded(seed: int) -> contextlib.AbstractContextManager:
    """Context with torch's CPU RNG seeded, restoring the caller's RNG afterwards (e.g. around model init)."""

    @contextlib.contextmanager
    def _ctx() -> Iterator[None]:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield

    return _ctx()


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _flat_state(model: nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    return {f"{prefix}{k}": v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()}


def _optim_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    sd = opt.state_dict()
    tensors = {f"optim.{idx}.{name}": torch.as_tensor(val).detach().cpu().clone().contiguous()
               for idx, st in sd["state"].items() for name, val in st.items()}
    return tensors, json.loads(json.dumps(sd["param_groups"]))


def _load_optim(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], groups: list[dict[str, Any]]) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, val in tensors.items():
        if key.startswith("optim."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = val
    for g in groups:
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
    opt.load_state_dict({"state": state, "param_groups": groups})


def _rng_b64() -> str:
    return base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode("ascii")


def _set_rng_b64(s: str) -> None:
    torch.set_rng_state(torch.from_numpy(np.frombuffer(base64.b64decode(s), dtype=np.uint8).copy()))


def _write_checkpoint(run_dir: Path, model: nn.Module, best: dict[str, torch.Tensor],
                      opt: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    tensors = _flat_state(model, "model.")
    tensors.update(best)
    opt_t, groups = _optim_tensors(opt)
    tensors.update(opt_t)
    state = {**state, "param_groups": groups, "rng_torch": _rng_b64()}
    with atomic_path(run_dir / CHECKPOINT) as tmp:
        save_file(tensors, str(tmp), metadata={"state": json.dumps(state)})
    atomic_write_text(run_dir / "state.json", json.dumps({k: v for k, v in state.items() if k != "rng_torch"}, indent=1))


def compact_checkpoint(run_dir: Path) -> None:
    """Rewrite a FINISHED run's checkpoint with its best weights only (``best.*`` and the state): the last
    weights and the optimizer moments, 3 of its 4 copies of the model, are only needed to resume an unfinished
    run. :func:`fit` reloads a compacted run as finished; ``reproduce`` reads ``best.*`` for its fold bundles."""
    ck = read_checkpoint(run_dir)
    if ck is None:
        return
    tensors, state = ck
    if state.get("compacted"):
        return
    if not state.get("done"):
        raise ValueError(f"{run_dir}: run not finished; its checkpoint is needed to resume it")
    best = {k: v.contiguous() for k, v in tensors.items() if k.startswith("best.")}
    state = {**state, "compacted": True}
    with atomic_path(Path(run_dir) / CHECKPOINT) as tmp:
        save_file(best, str(tmp), metadata={"state": json.dumps(state)})


def read_checkpoint(run_dir: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """(tensors, state) of ``run_dir/checkpoint.safetensors``, or None when there is none."""
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        return None
    with safe_open(str(path), framework="pt") as f:
        state = json.loads(f.metadata()["state"])
    return load_file(str(path)), state


def _strip(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


@torch.no_grad()
def evaluate_loss(model: nn.Module, ds: Dataset, *, device: str | torch.device = "cpu", batch_size: int = 16) -> float:
    """Mean squared error over all items and outputs of ``ds`` (model put in eval mode)."""
    pred, y = predict(model, ds, device=device, batch_size=batch_size, with_targets=True)
    return float(np.mean((pred - y) ** 2))


@torch.no_grad()
def predict(model: nn.Module, ds: Dataset, *, device: str | torch.device = "cpu", batch_size: int = 16,
            with_targets: bool = False) -> Any:
    """Model outputs (N, 4) as float64 numpy (and the dataset targets when ``with_targets``)."""
    model.eval()
    outs, ys = [], []
    for x, y in DataLoader(ds, batch_size=batch_size, shuffle=False):
        outs.append(model(x.to(device)).float().cpu().numpy())
        ys.append(y.numpy())
    pred = np.concatenate(outs).astype(np.float64)
    return (pred, np.concatenate(ys).astype(np.float64)) if with_targets else pred


def fit(model: nn.Module, train_ds: Dataset, val_ds: Dataset | None = None, *, config: TrainConfig,
        device: str | torch.device = "cpu", run_dir: Path | None = None, stop_after: int | None = None,
        progress: bool = True, desc: str = "train", compact: bool = False) -> FitResult:
    """Train ``model`` in place with AdamW on MSE; at the end it holds the best-validation weights
    (the last weights when ``val_ds`` is None) in eval mode.

    run_dir: checkpoint folder; an existing checkpoint there is resumed (a finished one just reloaded).
    stop_after: stop after this many epochs in this call (to simulate a kill in tests); result.done is False.
    compact: once finished, keep only the best weights in the checkpoint (:func:`compact_checkpoint`).
    """
    rank, world = _world()
    if config.batch_size % world:
        raise ValueError(f"batch_size {config.batch_size} is not divisible by the world size {world}")
    if len(train_ds) == 0:
        raise ValueError("empty training set")
    device = torch.device(device)
    model.to(device)
    net: nn.Module = model
    if world > 1:
        if device.type == "cuda":
            net = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        net = nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    fmt = torch.channels_last if config.channels_last else torch.contiguous_format
    model.to(memory_format=fmt)
    amp = torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16")
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sampler = DistributedSampler(train_ds, num_replicas=world, rank=rank, shuffle=True, seed=config.seed)
    loader = DataLoader(train_ds, batch_size=config.batch_size // world, sampler=sampler)
    loss_fn = nn.MSELoss()

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        result = FitResult()
        best = _flat_state(model, "best.")
        bad_epochs, start = 0, 0
        ck = read_checkpoint(run_dir) if run_dir is not None else None
        if ck is not None:
            tensors, state = ck
            if state.get("train_config") != config.to_dict():
                raise ValueError(f"{run_dir}: checkpoint was made with another training config "
                                 f"({state.get('train_config')}); use a fresh folder")
            best = {k: v for k, v in tensors.items() if k.startswith("best.")}
            if state.get("compacted"):  # a finished run kept with its best weights only: nothing to resume
                model.load_state_dict(_strip(best, "best."))
            else:
                model.load_state_dict(_strip(tensors, "model."))
                _load_optim(opt, tensors, state["param_groups"])
                _set_rng_b64(state["rng_torch"])
            result = FitResult(state["history"], state["best_epoch"], state["best_val_loss"], state["done"])
            bad_epochs, start = state["bad_epochs"], state["epoch"]
            log.debug("%s: resumed at epoch %d", run_dir, start)
        epochs = tqdm(range(start, config.max_epochs), desc=desc, leave=False, disable=not progress or rank != 0,
                      initial=start, total=config.max_epochs)
        for epoch in epochs:
            if result.done:
                break
            t0 = time.perf_counter()
            net.train()
            sampler.set_epoch(epoch)
            total = torch.zeros(2, dtype=torch.float64)
            for x, y in loader:
                x, y = x.to(device), y.to(device)
                if x.dim() == 4:
                    x = x.contiguous(memory_format=fmt)
                opt.zero_grad(set_to_none=True)
                with amp:
                    out = net(x)
                loss = loss_fn(out.float(), y)
                loss.backward()
                opt.step()
                total[0] += float(loss.detach()) * len(x)
                total[1] += len(x)
            if world > 1:
                dist.all_reduce(total)
            train_loss = float(total[0] / total[1])
            val_loss = evaluate_loss(model, val_ds, device=device, batch_size=config.eval_batch_size) \
                if val_ds is not None else math.nan
            result.history.append({"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss,
                                   "seconds": time.perf_counter() - t0})
            improved = val_ds is None or (math.isfinite(val_loss) and not val_loss >= result.best_val_loss)
            if improved:
                result.best_epoch, result.best_val_loss, bad_epochs = epoch + 1, val_loss, 0
                best = _flat_state(model, "best.")
            else:
                bad_epochs += 1
            result.done = bad_epochs >= config.patience or epoch + 1 == config.max_epochs
            epochs.set_postfix(train=f"{train_loss:.4g}", val=f"{val_loss:.4g}")
            if run_dir is not None:
                if rank == 0:
                    _write_checkpoint(Path(run_dir), model, best, opt, {
                        "epoch": epoch + 1, "history": result.history, "best_epoch": result.best_epoch,
                        "best_val_loss": result.best_val_loss, "bad_epochs": bad_epochs, "done": result.done,
                        "train_config": config.to_dict()})
                if world > 1:
                    dist.barrier()
            if stop_after is not None and epoch + 1 - start >= stop_after and not result.done:
                return result
        epochs.close()
    result.done = True
    if compact and run_dir is not None and rank == 0:
        compact_checkpoint(Path(run_dir))
    model.load_state_dict(_strip(best, "best."))
    model.eval()
    return result
