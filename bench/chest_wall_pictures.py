"""Axial slices of a real series with the chest anatomy drawn on them, the chest wall's inner surface in green
(issue 16, cacscore.chest.wall); optional candidates ringed in orange. What docs/pictures/chest_wall_*.png are:

    PYTHONPATH=src python bench/chest_wall_pictures.py /work/shared/data/lidc-idri-0001 50,59,75 OUT.png "59,136,328;60,136,321"

(slices and ring positions as (z, y, x) voxel indices; the view is the fixed window y 60-330, x 110-420 of a 512 px
image).
"""
import sys
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from cacscore.chest.anatomy import read_chest  # noqa: E402
from cacscore.io.ct import read_ct  # noqa: E402

v = read_ct(sys.argv[1])
s = Path(sys.argv[1]).name
ks = [int(k) for k in sys.argv[2].split(",")]
hu, sp = v.hu, tuple(abs(float(x)) for x in v.spacing_mm)
a = read_chest(hu, sp)
fig, axs = plt.subplots(1, len(ks), figsize=(7*len(ks), 7))
for ax, k in zip(np.atleast_1d(axs), ks):
    ax.imshow(hu[k, 60:330, 110:420], cmap="gray", vmin=-250, vmax=450, extent=(109.5, 419.5, 329.5, 59.5))
    kc = int(round(k * sp[0] / a.grid_mm[0])); kc=min(kc,a.pericardium.shape[0]-1)
    yy = np.arange(a.pericardium.shape[1]) * a.step_xy; xx = np.arange(a.pericardium.shape[2]) * a.step_xy
    ax.contour(xx, yy, a.pericardium[kc], [0.5], colors="r", linewidths=1)
    ax.contour(xx, yy, a.bone[kc] > 0, [0.5], colors="y", linewidths=0.7)
    ax.contour(xx, yy, a.lungs[kc], [0.5], colors="c", linewidths=0.5)
    ax.contour(np.arange(hu.shape[2]), np.arange(hu.shape[1]), hu[k] >= 130, [0.5], colors="m", linewidths=0.5)
    ws = a.wall_surface[kc] * a.step_xy
    ax.plot(xx, ws, "g-", lw=1.2)
    if len(sys.argv) > 4:
        for pt in sys.argv[4].split(";"):
            kk, yy0, xx0 = (int(v) for v in pt.split(","))
            if kk == k: ax.plot(xx0, yy0, "o", mfc="none", mec="orange", ms=14, mew=2)
    ax.set_xlim(110, 420); ax.set_ylim(330, 60); ax.set_title(f"{s} slice {k}, z = {k*sp[0]:.0f} mm", fontsize=10)
fig.suptitle("pericardium red, bony thorax yellow, lungs cyan, >= 130 HU magenta, chest wall inner surface green (none: not trusted), orange ring = candidate discussed", fontsize=10); fig.tight_layout(); fig.savefig(sys.argv[3], dpi=70)
