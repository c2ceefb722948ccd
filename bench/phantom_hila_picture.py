"""The hila of one phantom patient in a lung window: three written slabs from the aortic root / left main level up.

    PYTHONPATH=src .venv/bin/python bench/phantom_hila_picture.py --pid 1 --out docs/pictures/phantom_v8_hila_patient1.png

Shows the session-11 lung vessels (arteries and veins branching from the hila and the left atrium) and the bronchi
beside the thick arteries (black rings in a soft-tissue wall) at full resolution (docs/phantom.md, "Chest realism").
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from cacscore.phantom import make_patient
from cacscore.phantom.writer import preview_levels


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pid", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("/tmp/hila.png"))
    args = ap.parse_args()
    p = make_patient(args.pid, seed=args.seed, size=512)
    k = preview_levels(p)["root / left main"]
    fig, axes = plt.subplots(1, 3, figsize=(18, 6))
    for ax, kk in zip(axes, (k + 4, k + 2, k)):
        kk = min(kk, p.hu.shape[0] - 1)
        ax.imshow(p.hu[kk][120:330, 60:452], cmap="gray", vmin=-1100, vmax=150)
        ax.axis("off")
        ax.set_title(f"phantom {args.pid} (seed {args.seed}), slice {kk}, window -1100..150 HU")
    fig.tight_layout()
    fig.savefig(args.out, dpi=60)
    print(args.out)


if __name__ == "__main__":
    main()
