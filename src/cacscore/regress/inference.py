"""Inference with a reproduce bundle or an ensemble of fold bundles (:mod:`cacscore.regress.bundle`) on
preprocessed int16 HU: Agatston per vessel and, for an ensemble, the spread over its members."""

from __future__ import annotations

import numpy as np

from cacscore.regress.preprocess import normalise


def members(model) -> list:
    """The bundles of a Bundle (itself) or an Ensemble (its fold bundles)."""
    return list(getattr(model, "members", [model]))


def _forward_scaled(member, hu: np.ndarray) -> np.ndarray:
    """Model outputs (N, 4) in the bundle's target scaling: cacscore.regress.bundle.Bundle.predict_scaled on CPU,
    with the input and weights in channels_last memory format (same numbers; the first 3x3 conv over 73
    channels at 512 x 512 runs about 2x faster on CPU with oneDNN)."""
    import torch

    hu = np.asarray(hu)
    want = (member.preprocess.slices, member.preprocess.size, member.preprocess.size)
    if hu.ndim != 4 or hu.shape[1:] != want:
        raise ValueError(f"{member.path}: expects HU of shape (N, {want[0]}, {want[1]}, {want[2]}), got {hu.shape}")
    net = member.model.eval().to(memory_format=torch.channels_last)  # this loaded model only (no copy if done)
    out = []
    with torch.inference_mode():
        for i in range(len(hu)):
            x = torch.from_numpy(normalise(hu[i:i + 1], member.preprocess)).contiguous(memory_format=torch.channels_last)
            out.append(net(x).float().numpy())
    return np.concatenate(out).astype(np.float64)


def predict_hu(model, hu: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Scores of preprocessed int16 HU (N, slices, size, size): ((N, 4) Agatston, (N, 5) SD or None).

    One bundle: its prediction. Ensemble: the mean of the members' outputs in the target scaling,
    inverted (as cacscore.regress.bundle.Ensemble.predict), and the SD over members of each member's own
    Agatston prediction for LCA, LAD, LCX, RCA and total (ddof=1).
    """
    bundles = members(model)
    scaler = bundles[0].scaler
    if len(bundles) == 1:
        return scaler.inverse(_forward_scaled(bundles[0], hu)), None
    z = np.stack([_forward_scaled(m, hu) for m in bundles])  # (M, N, 4)
    mean = scaler.inverse(z.mean(axis=0))
    each = np.stack([scaler.inverse(zm) for zm in z])  # (M, N, 4) Agatston
    each5 = np.concatenate([each, each.sum(axis=2, keepdims=True)], axis=2)
    return mean, each5.std(axis=0, ddof=1)
