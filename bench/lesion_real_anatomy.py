"""Every calcium candidate the candidate scorer calls coronary on the real LIDC-IDRI series, before and after the
anatomy rules (issue 16), each drawn on its slice with the anatomy it was judged in: pericardium (red), aorta
(green circles), bony thorax (yellow), the chest wall's inner surface (blue dashes); the candidate in its vessel's colour (a cross when the rules overruled it).

    PYTHONPATH=src python bench/lesion_real_anatomy.py MODEL /work/shared/data docs/pictures
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cacscore.core.vessels import VESSELS  # noqa: E402
from cacscore.io.ct import read_ct  # noqa: E402
from cacscore.lesion.anatomy import RULE_NAMES, anatomy_verdicts  # noqa: E402
from cacscore.lesion.classifier import classify_volume, load_model  # noqa: E402
from cacscore.lesion.report import VESSEL_COLOURS  # noqa: E402

SERIES = ("lidc-idri-0001", "lidc-idri-0002", "lidc-idri-0003")


def panel(ax, hu, cand, j, before, after, verdict) -> None:
    a = cand.anatomy
    sp = np.array(cand.spacing_mm)
    vox = np.argwhere(cand.ids == j + 1)
    cz, cy, cx = vox.mean(0)
    k = int(round(cz))
    half = int(round(45 / sp[1]))
    y0, x0 = max(0, int(cy) - half), max(0, int(cx) - half)
    ax.imshow(hu[k, y0:y0 + 2 * half, x0:x0 + 2 * half], cmap="gray", vmin=-250, vmax=450,
              extent=(x0 - 0.5, x0 + 2 * half - 0.5, y0 + 2 * half - 0.5, y0 - 0.5))
    kc = int(np.clip(round(cz * sp[0] / a.grid_mm[0]), 0, a.pericardium.shape[0] - 1))
    yy = np.arange(a.pericardium.shape[1]) * a.step_xy
    xx = np.arange(a.pericardium.shape[2]) * a.step_xy
    if a.pericardium[kc].any():
        ax.contour(xx, yy, a.pericardium[kc], [0.5], colors="r", linewidths=1)
    if (a.bone[kc] > 0).any():
        ax.contour(xx, yy, a.bone[kc] > 0, [0.5], colors="y", linewidths=0.7)
    if a.wall_surface is not None and np.isfinite(a.wall_surface[kc]).any():  # the chest wall's inner surface
        ax.plot(xx, a.wall_surface[kc] * a.step_xy, "--", color="deepskyblue", lw=1)
    cl = a.aorta.centreline_mm
    for p, r in zip(cl[np.abs(cl[:, 0] - cz * sp[0]) <= a.grid_mm[0] / 2], a.aorta.radius_mm[np.abs(cl[:, 0] - cz * sp[0]) <= a.grid_mm[0] / 2]):
        ax.add_patch(plt.Circle((p[2] / sp[2], p[1] / sp[1]), r / sp[1], fill=False, color="lime", lw=1))
    colour = VESSEL_COLOURS[VESSELS[before - 1]]
    ax.plot(vox[:, 2], vox[:, 1], "s", ms=2, color=colour)
    if not after:
        ax.plot(cx, cy, "x", ms=14, mew=2, color="c")
    ax.set_xlim(x0 - 0.5, x0 + 2 * half - 0.5)
    ax.set_ylim(y0 + 2 * half - 0.5, y0 - 0.5)
    rules = ", ".join(r for r, f in zip(RULE_NAMES, verdict) if f) or "kept"
    ax.set_title(f"#{j + 1} {VESSELS[before - 1]} {cand.agatston[j]:.0f} AU z={cz * sp[0]:.0f}\n{rules}", fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def main(model_dir: Path, data: Path, out: Path) -> None:
    model = load_model(model_dir)
    print("| series | called coronary before the anatomy rules | after | overruled by |")
    print("| --- | --- | --- | --- |")
    for name in SERIES:
        vol = read_ct(data / name)
        hu, sp = vol.hu, tuple(abs(float(s)) for s in vol.spacing_mm)
        cand, after = classify_volume(hu, sp, model)
        before = model.predict(model.table(cand.features, cand.anatomy_columns))
        before[cand.outside_thorax_mm > model.config.thorax_margin_mm] = 0
        verdict = anatomy_verdicts(cand.anatomy_columns)
        called = np.flatnonzero(before > 0)
        why = {r: int(verdict[called, i].sum()) for i, r in enumerate(RULE_NAMES)}
        print(f"| {name} | {len(called)} ({cand.agatston[called].sum():.0f} AU) | {int((after > 0).sum())} "
              f"({cand.agatston[after > 0].sum():.0f} AU) | {', '.join(f'{r} {n}' for r, n in why.items() if n) or '-'} |")
        if len(called) == 0:
            continue
        cols = min(6, len(called))
        rows = int(np.ceil(len(called) / cols))
        fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.5 * rows), squeeze=False)
        for ax in axes.ravel():
            ax.axis("off")
        for ax, j in zip(axes.ravel(), called):
            ax.axis("on")
            panel(ax, hu, cand, j, before[j], after[j], verdict[j])
        fig.suptitle(f"{name}: candidates the phantom-trained model calls coronary; red pericardium, green aorta, "
                     f"yellow bony thorax, blue dashes chest wall; cyan x = overruled by the anatomy rules", fontsize=10)
        plt.tight_layout()
        fig.savefig(out / f"real_coronary_calls_{name}.png", dpi=70)
        plt.close(fig)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
