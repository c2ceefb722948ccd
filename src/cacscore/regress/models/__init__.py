"""Model registry: the paper's three regressors. ``build_model("cnn", in_channels=73, image_size=128)``."""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from cacscore.regress.models.cnn import CNN, CNNConfig
from cacscore.regress.models.se_cnn import SECNN, SECNNConfig
from cacscore.regress.models.vit import ViT, ViTConfig

MODELS: dict[str, type[nn.Module]] = {"cnn": CNN, "se_cnn": SECNN, "vit": ViT}

__all__ = ["MODELS", "CNN", "CNNConfig", "SECNN", "SECNNConfig", "ViT", "ViTConfig", "build_model", "model_config"]


def _config_for(name: str, cfg: dict[str, Any]) -> Any:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {sorted(MODELS)}")
    config_cls = MODELS[name].Config  # type: ignore[attr-defined]
    known = {f.name for f in dataclasses.fields(config_cls)}
    unknown = set(cfg) - known
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)} for model {name!r}; known: {sorted(known)}")
    # JSON turns tuples into lists: restore them so configs compare equal after a round trip
    cfg = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()}
    return config_cls(**cfg)


def build_model(name: str, **cfg: Any) -> nn.Module:
    """Build a registered model from keyword options of its dataclass config."""
    config = _config_for(name, cfg)
    return MODELS[name](config)


def model_config(model: nn.Module) -> dict[str, Any]:
    """JSON-ready dict of a model's config (inverse of ``build_model(name, **d)``)."""
    return dataclasses.asdict(model.config)  # type: ignore[arg-type]
