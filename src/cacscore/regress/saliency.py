"""Gradient saliency (Simonyan et al.): |d output / d input| per input voxel."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def saliency_map(model: nn.Module, x: torch.Tensor, target: int | None = None) -> np.ndarray:
    """Absolute input gradient of the model output, shape (C, H, W) float32.

    x: (1, C, H, W) normalised input. target: vessel index 0..3 (LCA, LAD, LCX, RCA), or None for the sum of
    the four outputs. The model is evaluated in eval mode (BatchNorm running statistics); its mode is restored.
    """
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"saliency_map expects x of shape (1, C, H, W), got {tuple(x.shape)}")
    if target is not None and not 0 <= target < 4:
        raise ValueError(f"target must be None or a vessel index 0..3, got {target}")
    was_training = model.training
    model.eval()
    try:
        inp = x.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            out = model(inp)  # (1, 4)
            (out.sum() if target is None else out[0, target]).backward()
        return inp.grad[0].abs().float().cpu().numpy()
    finally:
        model.train(was_training)
