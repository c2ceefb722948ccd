"""Real series beside phantom patients of several anatomy versions at the same anatomical levels: aortic arch, aortic root
/ left main, mid-ventricle, and the coronal through the heart, every panel a slab of the same thickness, W 400 / L 40
(session 24, wt32d; docs/phantom.md "(session 24, wt32d)").

    PYTHONPATH=src python bench/heart_liver_pictures.py OUT.png --seed 0 --pid 2 --size 512 --versions v20 v22 \
        --real 0002 0001 0003 --slab 2.5

Levels: the phantom's mid-ventricle is 10 mm below its heart centre (the preview's), the root 39 mm above it and the
arch 102 mm above it; a real series' mid-ventricle is the slice in REAL_MID (eye-picked: the level where the ventricles
are widest below the left atrium; cacscore.chest's heart centre lies 50-60 mm too low on 0001 and 0003) and the other
levels the same distances above it. The coronal is through the heart's centre (real: REAL_MID's slice's heart row).
"""
from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

REAL_MID = {"0002": 87, "0001": 64, "0003": 48}  # slice indices (z ascending), read off gridded pictures
REAL_ROW = {"0002": 180, "0001": 230, "0003": 250}  # the heart's middle row (y) at that slice, for the coronal
LEVELS_MM = (("arch", 112.0), ("root / left main", 49.0), ("mid-ventricle", 0.0))


def _slab(hu: np.ndarray, k: int, dz: float, slab: float) -> np.ndarray:
    n = max(1, int(round(slab / dz)))
    k0 = int(np.clip(k - n // 2, 0, hu.shape[0] - n))
    return hu[k0:k0 + n].mean(axis=0)


def _coronal(hu: np.ndarray, y: int, dz: float, slab: float, dy: float) -> np.ndarray:
    """A coronal reformat averaged over ``slab`` mm in y (the same thickness as the axial slabs)."""
    n = max(1, int(round(slab / dy)))
    return hu[:, max(y - n // 2, 0):y - n // 2 + n].mean(axis=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pid", type=int, default=2)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--versions", nargs="+", default=["v20", "v22"])
    ap.add_argument("--real", nargs="*", default=["0002", "0001", "0003"])
    ap.add_argument("--slab", type=float, default=2.5)
    a = ap.parse_args()
    from cacscore.io.ct import read_ct
    from cacscore.phantom import make_patient

    rows = []
    for s in a.real:
        v = read_ct(f"/work/shared/data/lidc-idri-{s}")
        rows.append((f"real LIDC-IDRI-{s} ({v.spacing_mm[0]} mm)", v.hu, v.spacing_mm, REAL_MID[s], REAL_ROW[s]))
    for ver in a.versions:
        p = make_patient(a.pid, seed=a.seed, size=a.size, version=ver)
        k, y, _ = (int(round(t)) for t in p.heart_centre_index)
        rows.append((f"phantom {ver} seed {a.seed} p{a.pid} ({p.spacing_mm[0]} mm)", p.hu, p.spacing_mm,
                     k - int(round(10.0 / p.spacing_mm[0])), y))
    fig, ax = plt.subplots(len(rows), 4, figsize=(18, 4.6 * len(rows)), dpi=60, squeeze=False)
    for i, (name, hu, sp, kmid, y) in enumerate(rows):
        for j, (lev, mm) in enumerate(LEVELS_MM):
            k = int(np.clip(kmid + round(mm / sp[0]), 0, hu.shape[0] - 1))
            ax[i, j].imshow(_slab(hu, k, sp[0], a.slab), cmap="gray", vmin=-160, vmax=240)
            ax[i, j].set_title(f"{name}: {lev}", fontsize=10)
        ax[i, 3].imshow(_coronal(hu, y, sp[0], a.slab, sp[1]), cmap="gray", vmin=-160, vmax=240, origin="lower",
                        aspect=sp[0] / sp[2])
        ax[i, 3].set_title(f"{name}: coronal", fontsize=10)
    for x in ax.ravel():
        x.axis("off")
    fig.suptitle(f"{a.slab} mm slabs (real and phantom alike), W 400 / L 40; levels: mid-ventricle, +49 mm (root), "
                 f"+112 mm (arch)", y=0.999)
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    fig.savefig(a.out)
    print(a.out)


if __name__ == "__main__":
    main()
