"""Axial slices of the upper abdomen, phantom beside real, at the same heights below the right diaphragm dome's top
(session 19, wt27c; docs/phantom.md, "(session 19, wt27c)").

    PYTHONPATH=src python bench/abdomen_pictures.py OUT.png --seed 0 --pids 1 2 3 --version v16 --size 512 \
        --below 20 50 80

Row pairs: phantom patient P (static + noise as rendered, window W 500 / L 40) at the right dome's top minus each
height (the dome's top from the anatomy labels, bench/dome_heights.dome_tops), then real LIDC-IDRI-000P at its
eye-placed right dome top (docs/dome_landmarks.json) minus the same heights (the nearest slice; 5 mm slabs averaged).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dome_heights import dome_tops  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs"


def slab(hu: np.ndarray, dz: float, z_mm: float, thick: float = 5.0) -> np.ndarray:
    k0 = int(round((z_mm - 0.5 * thick) / dz))
    k1 = max(int(round((z_mm + 0.5 * thick) / dz)), k0 + 1)
    k0, k1 = np.clip([k0, k1], 0, hu.shape[0])
    if k1 <= k0:
        return np.full(hu.shape[1:], -1024.0)
    return hu[k0:k1].mean(axis=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pids", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--version", default="v16")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--below", type=float, nargs="+", default=[20.0, 50.0, 80.0])
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    a = ap.parse_args()
    from cacscore.io.ct import read_ct
    from cacscore.phantom import make_patient
    lm = json.loads((DOCS / "dome_landmarks.json").read_text())
    n = len(a.below)
    fig, axes = plt.subplots(2 * len(a.pids), n, figsize=(3.2 * n, 6.6 * len(a.pids)))
    for i, pid in enumerate(a.pids):
        p = make_patient(pid, seed=a.seed, size=a.size, version=a.version, anatomy=True)
        top = dome_tops(p.anatomy_labels, p.spacing_mm[0])["rdome_z"]
        series = f"lidc-idri-{pid:04d}"
        v = read_ct(a.data / series)
        rtop = float(lm[series]["right_dome_top"][0])
        for j, b in enumerate(a.below):
            ax = axes[2 * i, j]
            ax.imshow(slab(p.hu, p.spacing_mm[0], top - b), cmap="gray", vmin=-210, vmax=290)
            ax.set_title(f"phantom {a.version} {pid}: right dome - {b:.0f} mm", fontsize=8)
            ax = axes[2 * i + 1, j]
            ax.imshow(slab(v.hu, v.spacing_mm[0], rtop - b), cmap="gray", vmin=-210, vmax=290)
            ax.set_title(f"real {series[-4:]}: right dome - {b:.0f} mm", fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(a.out, dpi=70)
    print(a.out)


if __name__ == "__main__":
    main()
