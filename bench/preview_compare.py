"""Side-by-side picture of phantom slabs and real 5 mm slabs (LIDC-IDRI-0002) at the same window.

    .venv/bin/python bench/preview_compare.py --out /tmp/compare.png [--pid 1 --seed 0]
    .venv/bin/python bench/preview_compare.py --pid 2 --compare ../shared/data/lidc-idri-0001 \
        --out docs/pictures/phantom_v2_vs_lidc-idri-0001.png
        # the `cacscore phantom --preview --compare` picture of one patient, without writing its release
        # (--anatomy v14: another anatomy version; default the default anatomy)

Rows: phantom (static + noise as written) at 4 heights (upper chest, carina, heart, dome) and the
real series averaged 4 by 4 into 5 mm slabs at comparable heights. Window -160..240 HU
(mediastinum) on the left pair of columns... all panels share one window (W 400 / L 40).
"""

from __future__ import annotations

import argparse
import glob
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cacscore.phantom import make_patient  # noqa: E402
from cacscore.phantom.anatomy import ANATOMY_VERSION, ANATOMY_VERSIONS  # noqa: E402

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "lidc-idri-0002"


def real_slabs() -> np.ndarray:
    import pydicom

    dss = [pydicom.dcmread(f) for f in glob.glob(str(REAL / "*.dcm"))]
    dss = sorted((d for d in dss if "PixelData" in d), key=lambda d: float(d.ImagePositionPatient[2]))
    hu = np.stack([d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in dss]).astype(np.float32)
    n = hu.shape[0] // 4
    return hu[: 4 * n].reshape(n, 4, *hu.shape[1:]).mean(axis=1)  # z ascending


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("/tmp/compare.png"))
    ap.add_argument("--pid", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--wide", action="store_true", help="lung window (W 1500 / L -600)")
    ap.add_argument("--compare", type=Path, default=None, help="a real series: write the phantom --preview picture")
    ap.add_argument("--anatomy", default=ANATOMY_VERSION, choices=ANATOMY_VERSIONS,
                    help="the phantom's anatomy version (default: the default anatomy)")
    args = ap.parse_args()
    p = make_patient(args.pid, seed=args.seed, size=args.size, version=args.anatomy)
    if args.compare is not None:
        from cacscore.phantom.writer import _compare_volume, write_preview

        write_preview(args.out, p, compare=_compare_volume(args.compare))
        print(args.out)
        return
    real = real_slabs()
    kc = int(round(p.heart_centre_index[0]))
    nz = p.hu.shape[0]
    ph_ks = [min(kc + 22, nz - 2), min(kc + 12, nz - 1), kc + 2, kc, max(kc - 6, 0)]
    nr = real.shape[0]
    re_ks = [int(nr * f) for f in (0.88, 0.72, 0.5, 0.4, 0.25)]
    vmin, vmax = (-1350, 150) if args.wide else (-160, 240)
    fig, axes = plt.subplots(2, len(ph_ks), figsize=(3.3 * len(ph_ks), 6.8), dpi=100)
    for ax, k in zip(axes[0], ph_ks):
        ax.imshow(p.hu[k], cmap="gray", vmin=vmin, vmax=vmax)
        ax.set_title(f"phantom {args.pid} slab {k}", fontsize=8)
        ax.axis("off")
    for ax, k in zip(axes[1], re_ks):
        ax.imshow(real[k], cmap="gray", vmin=vmin, vmax=vmax)
        ax.set_title(f"LIDC-IDRI-0002 slab {k}", fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
