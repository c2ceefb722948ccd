"""Pictures of MAC and LCX plaque candidates with the ring the shape / side-tissue columns read (issue 16, session 13,
wt21c; cacscore.lesion.context): per case, the largest MAC and LCX candidates in 40 mm axial crops, the candidate
(red), its 1-4 mm ring on the heart's side (cyan) and on the far side (yellow), the heart centre's direction (arrow),
and the columns in the title.

    PYTHONPATH=src python bench/mac_shape_pictures.py OUT.png --phantom DIR:ID ... --hybrid HYBRIDS.csv:ID ...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hybrid_training import lookalike_kinds

from cacscore import lesion as L
from cacscore.io.ct import read_ct, read_labels
from cacscore.lesion.context import RING_MM, SHAPE_NAMES

LCX = 3
HALF_MM = 20.0


def _case(kind: str, spec: str):
    src, cid = spec.rsplit(":", 1)
    if kind == "phantom":
        rel = Path(src)
        vol = read_ct(rel / "deidentified_nongated" / cid / cid)
        names = {int(k): v for k, v in json.loads((rel / "anatomy" / "labels.json").read_text()).items()}
        sp = (abs(float(vol.spacing_mm[0])), *vol.spacing_mm[1:])
        cand = L.find_candidates(vol.hu, sp)
        t = L.candidate_targets(cand.ids, read_labels(rel / "labels" / f"{cid}.nii.gz"))
        mac = (lookalike_kinds(cand.ids, read_labels(rel / "anatomy" / f"{cid}.nii.gz"), names) == "MAC") & (t == 0)
        return f"phantom {rel.name}/{cid}", vol.hu, sp, cand, t, mac
    h = pd.read_csv(src, dtype={"id": str}).set_index("id").loc[cid]
    vol = read_ct(Path(h["ct"]))
    sp = (abs(float(vol.spacing_mm[0])), *vol.spacing_mm[1:])
    cand = L.find_candidates(vol.hu, sp)
    t = L.candidate_targets(cand.ids, read_labels(Path(h["labels"])))
    mac = (L.candidate_targets(cand.ids, read_labels(Path(h["mac_mask"])).astype(np.uint8)) > 0) & (t == 0)
    return f"hybrid {cid}", vol.hu, sp, cand, t, mac


def _panel(ax, hu, sp, cand, k: int, title: str) -> None:
    z, y, x = (round(v) for v in np.argwhere(cand.ids == k + 1).mean(0))
    hy, hx = (cand.heart_index[1] - y) * sp[1], (cand.heart_index[2] - x) * sp[2]
    h = int(HALF_MM / sp[1])
    y0, x0 = max(0, y - h), max(0, x - h)
    img = hu[z, y0:y + h, x0:x + h]
    lab = cand.ids[z, y0:y + h, x0:x + h]
    dist, (iy, ix) = ndimage.distance_transform_edt(lab == 0, sampling=sp[1:], return_indices=True)
    ring = (dist >= RING_MM[0]) & (dist <= RING_MM[1]) & (lab[iy, ix] == k + 1)
    yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    inner = ((yy + y0 - y) * hy + (xx + x0 - x) * hx) > 0
    ax.imshow(img, cmap="gray", vmin=-250, vmax=350)
    ax.contour(lab == k + 1, [0.5], colors="r", linewidths=0.8)
    ax.contour(ring & inner, [0.5], colors="c", linewidths=0.6)
    ax.contour(ring & ~inner, [0.5], colors="y", linewidths=0.6)
    n = np.hypot(hy, hx)
    ax.arrow(x - x0, y - y0, 10 * hx / n / sp[2], 10 * hy / n / sp[1], color="c", width=0.3)
    f = {s: cand.features[k, L.FEATURE_NAMES.index(s)] for s in SHAPE_NAMES}
    ax.set_title(f"{title}\nring fat {f['ring_fat']:.2f} soft {f['ring_soft']:.2f}; fat in {f['inner_fat']:.2f} "
                 f"out {f['outer_fat']:.2f}\naxes {f['struct_length_mm']:.0f} / {f['struct_width_mm']:.0f} / "
                 f"{f['struct_thick_mm']:.0f} mm", fontsize=7)
    ax.axis("off")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--phantom", nargs="*", default=[], help="RELEASE:ID")
    ap.add_argument("--hybrid", nargs="*", default=[], help="HYBRIDS.csv:ID (a row with a mac_mask)")
    ap.add_argument("--per-kind", type=int, default=2)
    a = ap.parse_args(argv)
    cases = [_case("phantom", s) for s in a.phantom] + [_case("hybrid", s) for s in a.hybrid]
    cols = 2 * a.per_kind
    fig, axes = plt.subplots(len(cases), cols, figsize=(2.6 * cols, 2.9 * len(cases)), squeeze=False)
    for row, (name, hu, sp, cand, t, mac) in enumerate(cases):
        near = cand.features[:, L.FEATURE_NAMES.index("dist_mm")] <= 110
        for j, (label, sel) in enumerate((("MAC", mac & near), ("LCX", (t == LCX) & near))):
            idx = np.flatnonzero(sel)
            idx = idx[np.argsort(-cand.agatston[idx])][:a.per_kind]
            for i in range(a.per_kind):
                ax = axes[row, j * a.per_kind + i]
                if i < len(idx):
                    _panel(ax, hu, sp, cand, int(idx[i]), f"{name} {label} {cand.agatston[idx[i]]:.0f} AU")
                else:
                    ax.axis("off")
    fig.suptitle("MAC vs LCX candidates (red); 1-4 mm ring toward the heart centre (cyan, arrow) / away (yellow); "
                 "40 mm crops, W 600 L 50", fontsize=9)
    fig.tight_layout()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out, dpi=110)
    print(a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
