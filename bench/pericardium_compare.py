"""The pericardial mask of this tree against one saved from another tree (before / after a change), on the
low heart slices of a real series: before cyan, after yellow, and a coronal and a sagittal cut through the mask.

    PYTHONPATH=/work/main/src python bench/pericardium_compare.py SERIES_DIR --save BEFORE.npz
    PYTHONPATH=src python bench/pericardium_compare.py SERIES_DIR --before BEFORE.npz --out PNG [--window LO HI]

Prints the masks' volumes, what was added and removed (ml) and their lowest slices. Issue 16, session 11
(docs/chest_anatomy.md, "The pericardium's floor, session 11")."""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cacscore.chest.anatomy import read_chest  # noqa: E402
from cacscore.io.ct import read_ct  # noqa: E402


def picture(g: np.ndarray, before: np.ndarray, after: np.ndarray, gm: np.ndarray, title: str, out: Path,
            window: tuple[float, float]) -> None:
    either = before | after
    ks = np.flatnonzero(either.any((1, 2)))
    low = np.linspace(ks.min(), ks.min() + min(14, len(ks) - 1), 6).round().astype(int)
    ys, xs = np.nonzero(either[ks.min():ks.min() + 15].any(0))
    fig, axs = plt.subplots(1, 8, figsize=(32, 4.6))
    for ax, k in zip(axs[:6], low):
        ax.imshow(g[k], cmap="gray", vmin=window[0], vmax=window[1])
        for m, c in ((before, "cyan"), (after, "yellow")):
            if m[k].any():
                ax.contour(m[k], [0.5], colors=c, linewidths=1.2)
        ax.set_xlim(xs.min() - 20, xs.max() + 20)
        ax.set_ylim(ys.max() + 20, ys.min() - 20)
        ax.set_title(f"coarse k {k} (z {k * gm[0]:.0f} mm)", fontsize=9)
        ax.axis("off")
    cy, cx = (int(v) for v in np.argwhere(after[low[2]]).mean(0)) if after[low[2]].any() else (ys.mean(), xs.mean())
    for ax, img, mb, ma, asp, name in ((axs[6], g[:, int(cy)], before[:, int(cy)], after[:, int(cy)], gm[0] / gm[2],
                                        f"coronal y {int(cy)}"),
                                       (axs[7], g[:, :, int(cx)], before[:, :, int(cx)], after[:, :, int(cx)],
                                        gm[0] / gm[1], f"sagittal x {int(cx)}")):
        ax.imshow(img, cmap="gray", vmin=window[0], vmax=window[1], origin="lower", aspect=asp)
        for m, c in ((mb, "cyan"), (ma, "yellow")):
            if m.any():
                ax.contour(m, [0.5], colors=c, linewidths=1)
        ax.set_ylim(ks.min() - 12, ks.max() + 4)
        ax.set_title(name, fontsize=9)
    fig.suptitle(f"{title}: pericardial mask before (cyan) and after (yellow); window {window[0]:.0f}..{window[1]:.0f} HU")
    plt.tight_layout()
    fig.savefig(out, dpi=55)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("series", type=Path)
    ap.add_argument("--save", type=Path, help="write this tree's mask here and stop")
    ap.add_argument("--before", type=Path)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--window", type=float, nargs=2, default=(-100.0, 400.0))
    args = ap.parse_args()
    vol = read_ct(args.series)
    a = read_chest(vol)
    if args.save:
        np.savez_compressed(args.save, heart=a.pericardium)
        return
    before = np.load(args.before)["heart"]
    after = a.pericardium
    ml = float(np.prod(a.grid_mm)) / 1000.0
    kb, ka = (np.flatnonzero(m.any((1, 2))).min() for m in (before, after))
    print(f"{args.series.name}: {before.sum() * ml:.0f} -> {after.sum() * ml:.0f} ml, added {(after & ~before).sum() * ml:.1f}"
          f" ml, removed {(before & ~after).sum() * ml:.1f} ml, lowest slice k {kb} -> {ka}")
    g = np.asarray(vol.hu[::a.step_z, ::a.step_xy, ::a.step_xy], np.float32)
    picture(g, before, after, a.grid_mm, args.series.name, args.out, tuple(args.window))


if __name__ == "__main__":
    main()
