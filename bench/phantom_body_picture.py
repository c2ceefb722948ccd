"""Phantom beside a real series at the heart's levels (aortic arch, aortic root, mid-ventricle) in a soft-tissue and a
lung window: the picture issue 15 asks a reader to judge (does the phantom's chest look like a person's?).

    PYTHONPATH=src python bench/phantom_body_picture.py --pid 1 --seed 0 \
        --compare ../shared/data/lidc-idri-0002 --out docs/pictures/phantom_v9_body_vs_lidc-idri-0002.png
    # --off: the same patient without anatomy.BODY_REALISM (before / after)
    # --detail: crops at the root level (spine and back, the left anterior-lateral wall), realism off / on / real

Rows: phantom soft tissue (W 400 / L 40), real soft tissue, phantom lung (W 1500 / L -600), real lung. The real levels
are the phantom's heights relative to each one's heart centre (writer.preview_levels / writer._real_panels, the
`cacscore phantom --preview --compare` picture's levels); each real level is a 5 mm slab like the phantom's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from cacscore.phantom import anatomy, make_patient
from cacscore.phantom.writer import _compare_volume, _real_panels, preview_levels

WINDOWS = {"soft tissue": (-160.0, 240.0), "lung": (-1350.0, 150.0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pid", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--compare", type=Path, required=True, help="a real DICOM series folder")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--off", action="store_true", help="draw the patient without anatomy.BODY_REALISM")
    ap.add_argument("--detail", action="store_true", help="crops of the spine and the wall: realism off, on, real")
    args = ap.parse_args()
    if args.detail:
        detail(args)
        return
    anatomy.BODY_REALISM = not args.off
    p = make_patient(args.pid, seed=args.seed, size=args.size)
    levels = preview_levels(p)
    kc = p.heart_centre_index[0]
    rel = {n: (k - kc) * p.spacing_mm[0] for n, k in levels.items()}
    real, _, _, note = _real_panels(_compare_volume(args.compare), rel)
    fig, axes = plt.subplots(4, 3, figsize=(13.5, 18), dpi=80)
    row = 0
    for wname, (lo, hi) in WINDOWS.items():
        for j, (name, k) in enumerate(levels.items()):
            axes[row, j].imshow(p.hu[k], cmap="gray", vmin=lo, vmax=hi)
            axes[row, j].set_title(f"phantom {args.pid} (seed {args.seed}): {name}, {wname}", fontsize=9)
            axes[row + 1, j].imshow(real[name], cmap="gray", vmin=lo, vmax=hi)
            axes[row + 1, j].set_title(f"{args.compare.name}: {name} ({rel[name]:+.0f} mm from its heart){note}",
                                       fontsize=9)
        row += 2
    for ax in axes.ravel():
        ax.axis("off")
    state = "off" if args.off else "on"
    fig.suptitle(f"body realism {state} (anatomy {anatomy.ANATOMY_VERSION}); soft tissue W400/L40, lung W1500/L-600",
                 fontsize=10)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out)
    print(args.out)


def _crop(img, centre_rc, half_px):
    r, c = (round(v) for v in centre_rc)
    return img[max(r - half_px, 0):r + half_px, max(c - half_px, 0):c + half_px]


def detail(args) -> None:
    """Crops 120 mm wide at the root / left main level: round the spine (vertebra, erector spinae, back) and the left
    anterior-lateral wall (pectoral, fat, ribs), soft-tissue window; rows: realism off, on, the real series."""
    ps = {}
    for on in (False, True):
        anatomy.BODY_REALISM = on
        ps[on] = make_patient(args.pid, seed=args.seed, size=args.size)
    p = ps[True]
    a = p.anatomy
    k = preview_levels(p)["root / left main"]
    px = p.spacing_mm[2]
    half = int(60 / px)

    def rc(x, y):
        return (y - p.origin_mm[1]) / px, (x - p.origin_mm[0]) / px

    spine = rc(a.spine_c[0], a.spine_c[1] + a.spine_r + 15)
    wall = rc(a.cav_c[0] + 0.75 * a.cav_ab[0], a.cav_c[1] - 0.75 * a.cav_ab[1])
    rel = {"root / left main": (k - p.heart_centre_index[0]) * p.spacing_mm[0]}
    vol = _compare_volume(args.compare)
    real, _, _, _ = _real_panels(vol, rel)
    rim = real["root / left main"]
    rpx = vol.spacing_mm[2]
    rh = int(60 / rpx)
    body = rim > -400
    rows_, cols_ = np.nonzero(body)
    mid = int(cols_.mean())
    bone_r = np.nonzero((rim[:, mid - int(15 / rpx):mid + int(15 / rpx)] > 250).any(axis=1))[0]
    r_spine = (np.median(bone_r[bone_r > rows_.mean()]) + 10 / rpx, mid)  # the spine: bone behind the body's middle
    r_wall = (rows_.min() + 0.25 * (rows_.max() - rows_.min()), cols_.min() + 0.85 * (cols_.max() - cols_.min()))
    fig, axes = plt.subplots(3, 2, figsize=(9, 13.5), dpi=80)
    lo, hi = WINDOWS["soft tissue"]
    for i, (name, img, centres, h) in enumerate((("realism off", ps[False].hu[k], (spine, wall), half),
                                                 ("realism on", p.hu[k], (spine, wall), half),
                                                 (args.compare.name, rim, (r_spine, r_wall), rh))):
        for j, (part, c) in enumerate(zip(("spine and back", "left anterior-lateral wall"), centres)):
            axes[i, j].imshow(_crop(img, c, h), cmap="gray", vmin=lo, vmax=hi)
            axes[i, j].set_title(f"{name}: {part} (120 mm)", fontsize=9)
            axes[i, j].axis("off")
    fig.suptitle(f"phantom {args.pid} (seed {args.seed}) root / left main level, W400/L40", fontsize=10)
    fig.tight_layout()
    fig.savefig(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
