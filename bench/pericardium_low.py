"""Pictures of the pericardial mask on the lowest heart slices of a real series, with the descending aorta's
tracked circle (issue 16, "read the chest": the mask drawn round the descending aorta on LIDC-IDRI-0003).

Usage: python bench/pericardium_low.py SERIES_DIR OUT_PNG [N_SLICES]"""
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from cacscore.chest.anatomy import read_chest
from cacscore.io.ct import read_ct


def main(series: str, out: str, n: int = 6) -> None:
    vol = read_ct(series)
    a = read_chest(vol)
    hu = np.asarray(vol.hu if hasattr(vol, "hu") else vol.array)
    g = hu[::a.step_z, ::a.step_xy, ::a.step_xy]
    ks = np.nonzero(a.pericardium.any(axis=(1, 2)))[0]
    low = ks[:n]
    seg = a.aorta.segment
    desc = a.aorta.centreline_mm[seg == 2]
    rad = a.aorta.radius_mm[seg == 2]
    gm = a.grid_mm
    fig, axs = plt.subplots(1, len(low), figsize=(3.2 * len(low), 3.6))
    for ax, k in zip(np.atleast_1d(axs), low):
        ax.imshow(g[k], cmap="gray", vmin=-200, vmax=400)
        ax.contour(a.pericardium[k], [0.5], colors="cyan", linewidths=1)
        i = np.argmin(np.abs(desc[:, 0] / gm[0] - k)) if len(desc) else None
        if i is not None and abs(desc[i, 0] / gm[0] - k) < 1.5:
            ax.add_patch(plt.Circle((desc[i, 2] / gm[2], desc[i, 1] / gm[1]), rad[i] / gm[1], fill=False, color="m"))
            ax.set_title(f"coarse k {k} (z {k * gm[0]:.0f} mm)", fontsize=8)
        else:
            ax.set_title(f"coarse k {k} (z {k * gm[0]:.0f} mm), no aorta track", fontsize=8)
        ys, xs = np.nonzero(a.pericardium[low[0]:low[-1] + 1].any(0))
        ax.set_xlim(xs.min() - 25, xs.max() + 25); ax.set_ylim(ys.max() + 25, ys.min() - 25)
        ax.axis("off")
    dk = desc[:, 0] / gm[0] if len(desc) else np.array([np.nan])
    fig.suptitle(f"{series.rstrip('/').split('/')[-1]}: pericardium (cyan), descending aorta track (magenta, k {np.nanmin(dk):.0f}-{np.nanmax(dk):.0f}); "
                 "diaphragm domes (right, left) " + " / ".join(f"{float(v):.1f}" for v in a.dome_mm) + " mm", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=90)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 6)
