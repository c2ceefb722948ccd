"""Tissue round the LCX course by segment, phantom against real (issue 15/16, session 14 wt22a; anatomy v11).

The ring: in the axial slice holding each centreline point, the pixels 2.5-5.5 mm from it in-plane, i.e. ring_soft's
1-4 mm ring (lesion/context.py RING_MM) round a 1.5 mm-radius plaque on the centreline. Per point: the fat
(-200..-30 HU) and soft-tissue (-30..130 HU) share of the ring; per segment (arc fraction: proximal 0-1/3, mid
1/3-2/3, distal 2/3-1): the median over the points and the share of points with soft > 0.75 (the MAC rule's T).

Phantom: ``make_patient``'s static image (no motion, no noise: the anatomy itself) and its own LCX centreline
(``_draws``). Real: the three LIDC series along (a) the eye-placed anchors (docs/hybrid_landmarks.json) resampled
every 2 mm, unsnapped, and (b) the hybrid course (the anchors snapped to the nearest groove fat within 5 mm, as the
hybrids place plaques; biased toward fat by construction).

    python bench/lcx_groove_tissue.py phantom OUT.csv --seed 10101 --n 10 --version v9 [--size 512]
    python bench/lcx_groove_tissue.py real OUT.csv
    python bench/lcx_groove_tissue.py table OUT.csv [OUT2.csv ...]
    python bench/lcx_groove_tissue.py picture PNG --seed 10101 --pid N [--versions v9 v11]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

RING = (2.5, 5.5)
FAT = (-200.0, -30.0)
SOFT = (-30.0, 130.0)
ROOT = Path(__file__).resolve().parents[1]


def ring_shares(hu: np.ndarray, sp, pts_zyx_mm: np.ndarray, ring=RING) -> tuple[np.ndarray, ...]:
    """(fat, soft, air (< -200 HU: lung)) share of the in-plane ring round each (z, y, x) mm point (from voxel 0's centre)."""
    dz, py, px = sp
    fat, soft = np.full(len(pts_zyx_mm), np.nan), np.full(len(pts_zyx_mm), np.nan)
    air = np.full(len(pts_zyx_mm), np.nan)
    ry, rx = int(np.ceil(ring[1] / py)) + 1, int(np.ceil(ring[1] / px)) + 1
    for i, (z, y, x) in enumerate(pts_zyx_mm):
        k, j, m = int(round(z / dz)), y / py, x / px
        if not (0 <= k < hu.shape[0]):
            continue
        j0, j1 = max(int(j) - ry, 0), min(int(j) + ry + 2, hu.shape[1])
        m0, m1 = max(int(m) - rx, 0), min(int(m) + rx + 2, hu.shape[2])
        yy, xx = np.mgrid[j0:j1, m0:m1]
        d = np.hypot((yy - j) * py, (xx - m) * px)
        v = hu[k, j0:j1, m0:m1][(d >= ring[0]) & (d <= ring[1])]
        if len(v):
            fat[i] = np.mean((v >= FAT[0]) & (v < FAT[1]))
            soft[i] = np.mean((v >= SOFT[0]) & (v < SOFT[1]))
            air[i] = np.mean(v < FAT[0])
    return fat, soft, air


def _arc_frac(pts: np.ndarray) -> np.ndarray:
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
    return s / max(s[-1], 1e-9)


def phantom_rows(seed: int, pids, version: str, size: int = 512, vessel: str = "LCX") -> pd.DataFrame:
    from cacscore.phantom.anatomy import chest_grid
    from cacscore.phantom.core import _draws, make_patient

    rows = []
    for pid in pids:
        d, _ = _draws(pid, seed, size, version=version)
        p = make_patient(pid, seed=seed, size=size, version=version)
        grid = chest_grid(d.anat, size)
        ves = d.vessels[vessel]
        pts = ves.points  # (x, y, z) patient mm
        zyx = np.stack([pts[:, 2] - grid.z_mm[0], pts[:, 1] - grid.y_mm[0], pts[:, 0] - grid.x_mm[0]], 1)
        fat, soft, air = ring_shares(p.hu_static, p.spacing_mm, zyx)
        rows.append(pd.DataFrame({"set": f"{version}_s{seed}", "case": pid, "course": "phantom", "s": _arc_frac(pts),
                                  "fat": fat, "soft": soft, "air": air, "slice_mm": p.spacing_mm[0]}))
    return pd.concat(rows, ignore_index=True)


def real_rows(data: Path, landmarks: Path, vessel: str = "LCX") -> pd.DataFrame:
    from cacscore.chest.anatomy import read_chest
    from cacscore.io.ct import read_ct
    from cacscore.phantom.hybrid import _resample, insert_plaques

    lm = json.loads(landmarks.read_text())
    rows = []
    for name in ("lidc-idri-0001", "lidc-idri-0002", "lidc-idri-0003"):
        vol = read_ct(data / name)
        sp = tuple(abs(float(s)) for s in vol.spacing_mm)
        hu = np.asarray(vol.hu, np.float32)
        anchors = _resample(np.asarray(lm[name]["courses"][vessel], float), 2.0)
        case = insert_plaques(vol.hu, sp, read_chest(vol.hu, sp), 0, landmarks=lm[name]["courses"])
        for course, pts in (("anchors", anchors), ("hybrid", case.courses[vessel])):
            fat, soft, air = ring_shares(hu, sp, pts)
            rows.append(pd.DataFrame({"set": name, "case": 0, "course": course, "s": _arc_frac(pts), "fat": fat,
                                      "soft": soft, "air": air, "slice_mm": sp[0]}))
    return pd.concat(rows, ignore_index=True)


def table(df: pd.DataFrame) -> pd.DataFrame:
    df = df.dropna(subset=["soft"]).copy()
    df["segment"] = pd.cut(df["s"], [-0.01, 1 / 3, 2 / 3, 1.01], labels=["proximal", "mid", "distal"])
    g = df.groupby(["set", "course", "segment"], observed=True)
    out = g.agg(n=("soft", "size"), cases=("case", "nunique"), soft_median=("soft", "median"),
                fat_median=("fat", "median"), air_median=("air", "median"), soft_gt_075=("soft", lambda v: float(np.mean(v > 0.75))))
    return out.round(2)


def picture(png: Path, seed: int, pid: int, versions, data: Path, landmarks: Path, size: int = 512) -> None:
    """Axial crops at 30 % and 75 % of the LCX's course: the phantom (each version) beside 0002 and 0003 at their
    LCX anchors (resampled, unsnapped); the ring measured drawn round the point."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from cacscore.io.ct import read_ct
    from cacscore.phantom.anatomy import chest_grid
    from cacscore.phantom.core import _draws, make_patient
    from cacscore.phantom.hybrid import _resample

    panels = []
    for v in versions:
        d, _ = _draws(pid, seed, size, version=v)
        p = make_patient(pid, seed=seed, size=size, version=v)
        grid = chest_grid(d.anat, size)
        pts = d.vessels["LCX"].points
        zyx = np.stack([pts[:, 2] - grid.z_mm[0], pts[:, 1] - grid.y_mm[0], pts[:, 0] - grid.x_mm[0]], 1)
        panels.append((f"phantom {v} (seed {seed} #{pid})", p.hu_static, p.spacing_mm, zyx))
    lm = json.loads(landmarks.read_text())
    for name in ("lidc-idri-0002", "lidc-idri-0003"):
        vol = read_ct(data / name)
        sp = tuple(abs(float(s)) for s in vol.spacing_mm)
        panels.append((f"{name} (eye anchors)", np.asarray(vol.hu, np.float32), sp,
                       _resample(np.asarray(lm[name]["courses"]["LCX"], float), 2.0)))
    fig, axs = plt.subplots(2, len(panels), figsize=(4.2 * len(panels), 8.4))
    for col, (title, hu, sp, zyx) in enumerate(panels):
        for row, frac in enumerate((0.3, 0.75)):
            i = int(frac * (len(zyx) - 1))
            k = int(round(zyx[i, 0] / sp[0]))
            cy, cx = zyx[i, 1] / sp[1], zyx[i, 2] / sp[2]
            h = int(30 / sp[1])
            sl = hu[k, max(int(cy) - h, 0):int(cy) + h, max(int(cx) - h, 0):int(cx) + h]
            ax = axs[row, col]
            ax.imshow(sl, cmap="gray", vmin=-220, vmax=180)
            for r in RING:
                ax.add_patch(plt.Circle((cx - max(int(cx) - h, 0), cy - max(int(cy) - h, 0)), r / sp[1], fill=False,
                                        color="cyan", lw=0.7))
            fat, soft, air = ring_shares(hu, sp, zyx[i:i + 1])
            ax.set_title(f"{title}\nLCX s={i / (len(zyx) - 1):.2f}: soft {soft[0]:.2f} fat {fat[0]:.2f}", fontsize=8)
            ax.axis("off")
    fig.suptitle("LCX groove: 60 mm axial crops centred on one LCX course point, W 400 / L -20 (fat dark grey, "
                 "soft tissue light grey); cyan: the 2.5-5.5 mm ring measured", fontsize=9)
    fig.tight_layout()
    fig.savefig(png, dpi=90)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=("phantom", "real", "table", "picture"))
    ap.add_argument("out", type=Path)
    ap.add_argument("more", type=Path, nargs="*")
    ap.add_argument("--seed", type=int, default=10101)
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--pid", type=int, default=0)
    ap.add_argument("--version", default="v9")
    ap.add_argument("--versions", nargs="+", default=["v9", "v11"])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--landmarks", type=Path, default=ROOT / "docs" / "hybrid_landmarks.json")
    a = ap.parse_args(argv)
    if a.what == "phantom":
        phantom_rows(a.seed, range(a.first, a.first + a.n), a.version, a.size).to_csv(a.out, index=False)
    elif a.what == "real":
        real_rows(a.data, a.landmarks).to_csv(a.out, index=False)
    elif a.what == "table":
        df = pd.concat([pd.read_csv(f) for f in [a.out, *a.more]], ignore_index=True)
        print(table(df).to_string())
    else:
        picture(a.out, a.seed, a.pid, a.versions, a.data, a.landmarks, a.size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
