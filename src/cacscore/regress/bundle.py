"""Model bundles: a trained regressor with everything needed to use it, as safetensors + JSON.

Layout of a bundle folder::

    model.safetensors   the weights (state dict, float32)
    config.json         {"format": "cacscore-bundle/1", "model": "cnn", "model_config": {...},
                         "preprocess": PreprocessConfig.to_dict(), "target_scaling": {"kind", "scale"},
                         "training": {...: hyper-parameters, cohort size, slice thickness / kVp seen}, ...}

A folder of fold bundles (``fold0/``, ``fold1/``, ...) is an ensemble: ``load_bundle`` returns an
:class:`Ensemble` with the same ``predict``. Loading never unpickles anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from cacscore.core.bundle_layout import CONFIG, FORMAT, WEIGHTS, bundle_dirs
from cacscore.core.fileio import (
    JsonFileError,
    WeightsFileError,
    atomic_path,
    atomic_write_text,
    load_safetensors,
    read_json_object,
)
from cacscore.regress.models import build_model, model_config
from cacscore.regress.preprocess import PreprocessConfig, normalise
from cacscore.evaluation.targets import TargetScaler

TEST_EVALUATION = "test_evaluation.json"  # written by reproduce beside a bundle: held-out test MSE vs the constant mean


class BundleError(ValueError):
    """A bundle folder that cannot be used (names the folder and the problem)."""


def save_bundle(directory: Path, model: nn.Module, config: dict[str, Any]) -> Path:
    """Write ``model`` and ``config`` to ``directory`` (atomic per file).

    config must hold "model" (registry name), "preprocess" (PreprocessConfig dict) and "target_scaling"
    (TargetScaler dict); "model_config" and "format" are added from the model.
    """
    for key in ("model", "preprocess", "target_scaling"):
        if key not in config:
            raise ValueError(f"bundle config lacks {key!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    full = {"format": FORMAT, **config, "model_config": model_config(model)}
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(directory / WEIGHTS) as tmp:
        save_file(state, str(tmp), metadata={"format": FORMAT})
    atomic_write_text(directory / CONFIG, json.dumps(full, indent=1))
    return directory


@dataclass
class Bundle:
    model: nn.Module  # in eval mode
    config: dict[str, Any]
    preprocess: PreprocessConfig
    scaler: TargetScaler
    path: Path

    def _check(self, hu: np.ndarray) -> np.ndarray:
        hu = np.asarray(hu)
        want = (self.preprocess.slices, self.preprocess.size, self.preprocess.size)
        if hu.ndim == 3:
            hu = hu[None]
        if hu.ndim != 4 or hu.shape[1:] != want:
            raise ValueError(f"{self.path}: expects HU of shape (N, {want[0]}, {want[1]}, {want[2]}), got {hu.shape}")
        return hu

    @torch.no_grad()
    def predict_scaled(self, hu: np.ndarray, *, batch_size: int = 4, device: str | torch.device = "cpu") -> np.ndarray:
        """Raw model outputs (N, 4) in the bundle's target scaling, from HU (N, slices, H, W)."""
        hu = self._check(hu)
        self.model.to(device).eval()
        out = [self.model(torch.from_numpy(normalise(hu[i:i + batch_size], self.preprocess)).to(device)).cpu().numpy()
               for i in range(0, len(hu), batch_size)]
        return np.concatenate(out).astype(np.float64)

    def predict(self, hu: np.ndarray, *, batch_size: int = 4, device: str | torch.device = "cpu") -> np.ndarray:
        """Per-vessel Agatston scores (N, 4) (LCA, LAD, LCX, RCA), whole units, from preprocessed HU
        (N, slices, size, size) int16 as in a cohort cache (normalised here with the bundle's PreprocessConfig)."""
        return self.scaler.inverse(self.predict_scaled(hu, batch_size=batch_size, device=device))


@dataclass
class Ensemble:
    members: list[Bundle]
    path: Path

    @property
    def preprocess(self) -> PreprocessConfig:
        return self.members[0].preprocess

    @property
    def config(self) -> dict[str, Any]:
        return {**self.members[0].config, "ensemble": [m.path.name for m in self.members]}

    def predict(self, hu: np.ndarray, *, batch_size: int = 4, device: str | torch.device = "cpu") -> np.ndarray:
        """Mean of the members' outputs in the (shared) target scaling, inverted to Agatston (N, 4)."""
        z = np.mean([m.predict_scaled(hu, batch_size=batch_size, device=device) for m in self.members], axis=0)
        return self.members[0].scaler.inverse(z)


def _load_one(directory: Path) -> Bundle:
    """One bundle folder -> Bundle; BundleError names the file and the problem (config.json not JSON or not an
    object, unknown format, weights missing / not safetensors / NaN or inf (``fileio.load_safetensors``) /
    not fitting the model)."""
    cpath, wpath = directory / CONFIG, directory / WEIGHTS
    try:
        config = read_json_object(cpath, what="a bundle config")
    except JsonFileError as exc:
        raise BundleError(str(exc)) from None
    if config.get("format") != FORMAT:
        raise BundleError(f"{cpath}: unknown bundle format {config.get('format')!r} (want {FORMAT})")
    if not wpath.is_file():
        raise BundleError(f"{directory}: missing {WEIGHTS}")
    try:
        state = load_safetensors(wpath)  # names the file: garbage, truncated, NaN/inf weights
    except WeightsFileError as exc:
        raise BundleError(str(exc)) from None
    try:
        model = build_model(config["model"], **config["model_config"])
        model.load_state_dict(state)
        pre = PreprocessConfig.from_dict(config["preprocess"])
        scaler = TargetScaler.from_dict(config["target_scaling"])
    except KeyError as exc:
        raise BundleError(f"{directory}: broken bundle ({CONFIG} has no {exc})") from exc
    except (RuntimeError, TypeError, ValueError) as exc:  # load_state_dict's message spans lines: keep one
        raise BundleError(f"{directory}: broken bundle ({' '.join(str(exc).split())[:300]})") from exc
    model.eval()
    return Bundle(model, config, pre, scaler, directory)


def load_bundle(directory: Path) -> Bundle | Ensemble:
    """Load a bundle folder, or a folder of ``fold*/`` bundles as an :class:`Ensemble`."""
    directory = Path(directory)
    folds = bundle_dirs(directory)
    if folds == [directory]:
        return _load_one(directory)
    if not folds:
        raise BundleError(f"{directory}: not a model bundle (no {CONFIG}) nor a folder of fold*/ bundles")
    members = [_load_one(p) for p in folds]
    if any(m.scaler != members[0].scaler or m.preprocess != members[0].preprocess for m in members):
        raise BundleError(f"{directory}: fold bundles differ in preprocessing or target scaling")
    return Ensemble(members, directory)
