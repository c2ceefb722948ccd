"""Benchmark cacscore.scoring.agatston.agatston on a 73 x 512 x 512 volume with 50 lesions.

Baseline (named "loop"): a straightforward per-slice / per-vessel / per-lesion Python loop, as many
public scorers do it, kept here and measured in the same run. Both must give the same scores.

Run: .venv/bin/python bench/bench_scoring.py [--repeats 5] [--lesions 50] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import ndimage

from cacscore.scoring.agatston import agatston
from cacscore.core.vessels import VESSELS


def make_volume(*, n_lesions: int, seed: int, shape=(73, 512, 512)) -> tuple[np.ndarray, np.ndarray]:
    """Noisy HU volume with bright unlabelled 'bone', vessel bands, and n_lesions labelled lesions."""
    rng = np.random.default_rng(seed)
    z, y, x = shape
    hu = rng.normal(40.0, 25.0, size=shape).astype(np.float32)
    hu[:, 400:440, 200:320] += 700.0  # spine-like bright block, not labelled
    labels = np.zeros(shape, dtype=np.uint8)
    cells = rng.choice(14 * 14, size=n_lesions, replace=False)  # distinct 15-px cells: no overlaps
    for i in range(n_lesions):
        v = i % len(VESSELS) + 1
        zc = rng.integers(0, z)
        cy, cx = 150 + 15 * (cells[i] // 14), 150 + 15 * (cells[i] % 14)
        r = rng.uniform(1.0, 4.0)
        yy, xx = np.ogrid[-6:7, -6:7]
        disk = (yy ** 2 + xx ** 2) <= r * r
        ys, xs = slice(cy - 6, cy + 7), slice(cx - 6, cx + 7)
        labels[zc, ys, xs][disk] = v
        hu[zc, ys, xs][disk] = rng.uniform(300, 900) - 40 * (yy ** 2 + xx ** 2)[disk] ** 0.5
        # the labelled region spills a little past the lesion (like a vessel mask), below threshold
        labels[zc, ys, xs][ndimage.binary_dilation(disk) & ~disk] = v
    return hu, labels


def loop_agatston(hu, labels, *, pixel_spacing_mm, slice_spacing_mm) -> dict[str, float]:
    """Baseline: per slice, per vessel, per lesion Python loop (2-D 8-connectivity, 1 mm^2 minimum)."""
    px_area = pixel_spacing_mm[0] * pixel_spacing_mm[1]
    factor = slice_spacing_mm / 3.0
    per = dict.fromkeys(VESSELS, 0.0)
    eight = np.ones((3, 3), dtype=bool)
    for k in range(hu.shape[0]):
        for vi, v in enumerate(VESSELS, start=1):
            mask = (hu[k] >= 130) & (labels[k] == vi)
            lab, n = ndimage.label(mask, structure=eight)
            for c in range(1, n + 1):
                comp = lab == c
                area = comp.sum() * px_area
                if area < 1.0:
                    continue
                peak = hu[k][comp].max()
                w = 4 if peak >= 400 else 3 if peak >= 300 else 2 if peak >= 200 else 1
                per[v] += area * w * factor
    per["total"] = sum(per[v] for v in VESSELS)
    return per


def timed(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--lesions", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    hu, labels = make_volume(n_lesions=args.lesions, seed=args.seed)
    spacing = dict(pixel_spacing_mm=(0.7, 0.7), slice_spacing_mm=5.0)
    t_new, res = timed(lambda: agatston(hu, labels, **spacing), args.repeats)
    t_loop, ref = timed(lambda: loop_agatston(hu, labels, **spacing), max(1, args.repeats // 2))
    row = res.as_row()
    agree = all(abs(row[k] - ref[k]) <= 1e-6 * max(1.0, abs(ref[k])) for k in row)
    print(f"volume {hu.shape} float32, {res.lesion_count['total']} lesions scored "
          f"(total {row['total']:.1f} AU; loop baseline total {ref['total']:.1f} AU; agree={agree})")
    print(f"cacscore.scoring.agatston.agatston : {t_new * 1000:8.1f} ms (median of {args.repeats})")
    print(f"baseline 'loop'           : {t_loop * 1000:8.1f} ms")
    print(f"speed-up vs loop baseline : {t_loop / t_new:8.1f} x")
    if not agree:
        raise SystemExit("scores differ from the loop baseline")


if __name__ == "__main__":
    main()
