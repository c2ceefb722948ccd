"""Pictures for docs/lesion_scorer.md "(session 19, wt27a)": the heaviest slice of chosen structures with the 1-4 mm
ring ring_soft_hu reads (its soft pixels dotted), titled with the structure's kind, AU and the ring HU.

    PYTHONPATH=src:bench nice -n 10 python bench/mac_lumen_picture.py OUT.png RELEASE:PID:CAND:LABEL ...

CAND: the candidate id (1-based, as bench/mac_lumen_explore.py lists it) of the slice to draw.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy import ndimage


def main(argv: list[str]) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cacscore import lesion as L
    from cacscore.io.ct import read_ct
    from cacscore.lesion.context import RING_HU_MM, RING_HU_SMOOTH_MM, SOFT_HU, ring_soft_hu
    from cacscore.lesion.train import NONGATED_DIR
    from cacscore.predict.predictors import DEFAULT_MODEL

    out, specs = Path(argv[0]), argv[1:]
    m = L.load_model(DEFAULT_MODEL)
    fig, axes = plt.subplots(1, len(specs), figsize=(3.4 * len(specs), 3.8))
    for ax, spec in zip(np.atleast_1d(axes), specs):
        rel, pid, k, label = spec.split(":", 3)
        k = int(k)
        vol = read_ct(Path(rel) / NONGATED_DIR / pid / pid)
        sp = tuple(abs(float(v)) for v in vol.spacing_mm)
        cand, classes = L.classify_volume(vol.hu, sp, m)
        which = np.zeros(cand.n, bool)
        which[k - 1] = True
        v = ring_soft_hu(vol.hu, cand.ids, sp, which)[k - 1]
        z, yy, xx = np.nonzero(cand.ids == k)
        z, cy, cx = int(z[0]), int(yy.mean()), int(xx.mean())
        h = int(20.0 / sp[1])
        ys, xs = slice(max(cy - h, 0), cy + h), slice(max(cx - h, 0), cx + h)
        img = vol.hu[z, ys, xs]
        lab = cand.ids[z, ys, xs]
        sm = ndimage.gaussian_filter(img.astype(np.float32), RING_HU_SMOOTH_MM / sp[1])
        dist = ndimage.distance_transform_edt(lab != k, sampling=(sp[1], sp[2]))
        ring = (lab == 0) & (dist >= RING_HU_MM[0]) & (dist <= RING_HU_MM[1])
        soft = ring & (sm >= SOFT_HU[0]) & (sm < SOFT_HU[1])
        ax.imshow(img, cmap="gray", vmin=-200, vmax=400)
        ax.contour(lab == k, levels=[0.5], colors=["red"], linewidths=1.0)
        ax.contour(ring, levels=[0.5], colors=["yellow"], linewidths=0.6)
        py, px = np.nonzero(ring & ~soft)
        ax.plot(px, py, ",", color="cyan")
        ax.set_title(f"{label}\n{Path(rel).name} p{pid} z{z}: ring HU {v:.1f}", fontsize=7)
        ax.axis("off")
    fig.suptitle("red: the calcium slice; yellow: the 1-4 mm ring; cyan dots: ring pixels not soft (fat) on the 1 mm "
                 "smoothed slice; 40 mm crops, -200..400 HU", fontsize=7)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    fig.savefig(out, dpi=130)
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
