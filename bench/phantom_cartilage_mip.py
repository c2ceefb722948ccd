"""Coronal maximum-intensity projection of the anterior chest (in front of the heart centre): how the ribs, costal
cartilages and sternum run, phantom without / with anatomy.THORAX_REALISM beside a real series (issue 15: "costal
cartilages do not curve").

    PYTHONPATH=src python bench/phantom_cartilage_mip.py --pid 1 --seed 0 --compare ../shared/data/lidc-idri-0002 \
        --out docs/pictures/phantom_cartilage_mip_vs_lidc-idri-0002.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from cacscore.phantom import anatomy, make_patient


def _mip(hu: np.ndarray, row: int) -> np.ndarray:
    """Coronal MIP of the rows in front of ``row`` (z ascending -> shown head up)."""
    return hu[:, :row].max(axis=1)[::-1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pid", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--compare", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    from cacscore.chest.heart import locate_heart
    from cacscore.io.ct import read_ct

    panels = []
    for on in (False, True):
        anatomy.THORAX_REALISM = on
        p = make_patient(args.pid, seed=args.seed, size=args.size)
        row = int(round(p.heart_centre_index[1]))
        panels.append((f"phantom {args.pid}, thorax realism {'on' if on else 'off'}", _mip(p.hu, row),
                       p.spacing_mm[0] / p.spacing_mm[2]))
    v = read_ct(args.compare)
    f = locate_heart(v)
    panels.append((args.compare.name, _mip(v.hu, int(f.index[1])), v.spacing_mm[0] / v.spacing_mm[2]))
    fig, axes = plt.subplots(1, 3, figsize=(15, 6), dpi=80)
    for ax, (name, img, asp) in zip(axes, panels):
        ax.imshow(img, cmap="gray", vmin=-100, vmax=500, aspect=asp)
        ax.set_title(f"{name}: coronal MIP in front of the heart centre", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
