import sys, numpy as np, matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
from cacscore.chest.anatomy import read_chest
s = sys.argv[1]; ks = [int(k) for k in sys.argv[2].split(",")]
hu = np.load(f"/tmp/w16/{s}_hu.npy"); sp = tuple(np.load(f"/tmp/w16/{s}_sp.npy"))
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
