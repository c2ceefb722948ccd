"""Figures of ``cacscore reproduce``: loss curves (paper Fig. 2) and CNN gradient saliency (paper Fig. 3)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from cacscore.chest.heart import locate_heart
from cacscore.core.fileio import atomic_path
from cacscore.regress.preprocess import PAD_HU, normalise  # noqa: E402
from cacscore.regress.saliency import saliency_map  # noqa: E402


def _save(fig: Any, path: Path) -> Path:
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=120, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def plot_loss_curves(curves: dict[str, dict[str, np.ndarray]], path: Path, *, labels: dict[str, str]) -> Path:
    """One panel per model: mean train / validation MSE over folds per epoch, shaded ± 1 sd.

    curves[model]["train" | "val"]: (folds, epochs) with NaN after a fold stopped early.
    """
    fig, axes = plt.subplots(1, len(curves), figsize=(4.2 * len(curves), 3.4), squeeze=False, sharey=True,
                             layout="constrained")  # the suptitle never overlaps the panel titles
    for ax, (name, c) in zip(axes[0], curves.items()):
        for key, colour in (("train", "tab:blue"), ("val", "tab:orange")):
            a = c[key]
            n = np.sum(np.isfinite(a), axis=0)
            mean = np.nanmean(a, axis=0)
            sd = np.array([np.nanstd(col, ddof=1) if k > 1 else 0.0 for col, k in zip(a.T, n)])
            ep = np.arange(1, a.shape[1] + 1)
            ax.plot(ep, mean, color=colour, label=f"{key} (mean of {a.shape[0]} folds)")
            ax.fill_between(ep, mean - sd, mean + sd, color=colour, alpha=0.25)
        ax.set_title(labels.get(name, name))
        ax.set_xlabel("epoch")
        ax.set_yscale("log")
        # labels at 1, 2 and 5 x 10^k: a loss that spans less than a decade got one labelled tick with the default
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("MSE (normalised targets)")
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Loss curves over cross-validation folds (shaded: ± 1 sd)")
    return _save(fig, path)


HEART_RADIUS_MM = 70.0
"""Half-size of the heart region fig3 weighs saliency in: about the heart's largest semi-axis (docs/phantom.md)."""


def heart_region(hu: np.ndarray, spacing_mm: Sequence[float] | None) -> np.ndarray | None:
    """(C, H, W) bool: voxels within HEART_RADIUS_MM of the heart found in a cached scan (slab spacing
    ``spacing_mm`` (z, y, x) from the cache manifest); None when the spacing is unknown or no heart is found."""
    if spacing_mm is None:
        return None
    heart = locate_heart(np.asarray(hu), tuple(spacing_mm))
    if not heart.found:
        return None
    z, y, x = np.ogrid[:hu.shape[0], :hu.shape[1], :hu.shape[2]]
    hz, hy, hx = heart.index
    dz, dy, dx = spacing_mm
    return (((z - hz) * dz) ** 2 + ((y - hy) * dy) ** 2 + ((x - hx) * dx) ** 2) <= HEART_RADIUS_MM ** 2


def _cached_spacing(cache: Any, sid: str) -> tuple[float, float, float] | None:
    """(z, y, x) mm of a cached scan from its manifest row ("5x2.734x2.734"), None if absent or unreadable."""
    man = getattr(cache, "manifest", None)
    if man is None or "spacing" not in man.columns:
        return None
    rows = man.loc[man["id"].astype(str) == str(sid), "spacing"]
    try:
        sp = tuple(float(v) for v in str(rows.iloc[0]).split("x"))
    except (IndexError, ValueError):
        return None
    return sp if len(sp) == 3 and all(v > 0 for v in sp) else None  # type: ignore[return-value]


def saliency_slice(sal: np.ndarray, hu: np.ndarray, region: np.ndarray | None) -> int:
    """The slice to show: the most saliency mass inside the heart region (the saliency of a calcified case
    above the heart, e.g. slice 65 of 73, says little); without a region, the most saliency overall. Slices
    padded with air beyond the scan's end are never chosen."""
    mass = (sal * region if region is not None else sal).sum(axis=(1, 2))
    inside = (hu > PAD_HU).any(axis=(1, 2))
    if region is not None:
        inside &= region.any(axis=(1, 2))
    return int(np.argmax(np.where(inside, mass, -np.inf))) if inside.any() else int(np.argmax(mass))


def plot_saliency(model: nn.Module, cache: Any, ids: Sequence[str], y_agatston: np.ndarray, path: Path, *,
                  device: str = "cpu", title: str = "CNN", config: Any = None) -> Path:
    """Per case: the CT slice with the most saliency inside the heart region (:func:`saliency_slice`), and the
    saliency over it.

    ids: cache ids (e.g. a calcified and a zero-calcium test case); y_agatston: their (len(ids), 4) true scores.
    config: the PreprocessConfig the model was trained with (default: the cache's).
    """
    config = cache.config if config is None else config
    fig, axes = plt.subplots(len(ids), 2, figsize=(8, 4 * len(ids)), squeeze=False)
    model = model.to(device)
    for r, sid in enumerate(ids):
        hu = np.asarray(cache.load(sid))  # (C, H, W) int16
        x = torch.from_numpy(normalise(hu, config))[None].to(device)
        sal = saliency_map(model, x)  # (C, H, W)
        region = heart_region(hu, _cached_spacing(cache, sid))
        c = saliency_slice(sal, hu, region)
        where = "most saliency within 70 mm of the found heart" if region is not None else \
            "most saliency (no heart found)"
        with torch.no_grad():
            model.eval()
            out = model(x)
        total = float(np.sum(y_agatston[r]))
        for ax in axes[r]:
            ax.imshow(hu[c], cmap="gray", vmin=-200, vmax=600)
            ax.axis("off")
        s = sal[c] / max(float(sal[c].max()), 1e-12)
        im = axes[r][1].imshow(s, cmap="inferno", alpha=0.6, vmin=0, vmax=1)
        axes[r][0].set_title(f"case {r + 1}: true total Agatston {total:.0f}\nslice {c} of {hu.shape[0]}: {where} "
                             "(W 800 / L 200 HU)", fontsize=9)
        axes[r][1].set_title(f"{title} |d output / d input| on that slice\n(normalised; raw outputs "
                             f"{np.array2string(out[0].cpu().numpy(), precision=2)})", fontsize=9)
        fig.colorbar(im, ax=axes[r][1], fraction=0.046)
    fig.suptitle("Gradient saliency (paper Fig. 3)")
    return _save(fig, path)
