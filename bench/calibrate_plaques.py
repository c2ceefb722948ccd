"""Calibrate the per-plaque score model of the phantom on RENDERED plaques.

    .venv/bin/python bench/calibrate_plaques.py --write   # regenerate src/cacscore/phantom/plaque_table.py (~2 min)

For a few patients the heart and coronaries are rendered (static, no noise) at ``size``; then
thousands of single plaques (diameter log-uniform 0.5-6 mm, 1-2.5 x longer along the vessel,
material 130-1500 HU) are placed on the real vessel courses exactly as make_patient places them,
painted into a copy of the local box and scored with cacscore.scoring.agatston.agatston against the
vessel's labels. The table written is, per (diameter, material) bin, the mean rendered score per
unit elongation (length / diameter) and the probability that the plaque scores > 0 at all, for
each calibrated size (512, 256, 128, 96: pixel spacing 0.62-0.90, 1.2-1.8, 2.5-3.6, 3.3-4.8 mm).
The ratios printed compare the rendered scores with the old slab-average formula
(coronary.analytic_plaque_score).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from cacscore.phantom.anatomy import chest_grid, render_background
from cacscore.phantom.core import _draws
from cacscore.phantom.coronary import (D_EDGES_MM, HU_EDGES, PlaqueSpec, analytic_plaque_score, place_plaques,
                                       render_heart)
from cacscore.phantom.raster import ellipsoid_fraction
from cacscore.scoring.agatston import agatston
from cacscore.core.vessels import LABEL_OF, VESSELS

TABLE = Path(__file__).resolve().parents[1] / "src" / "cacscore" / "phantom" / "plaque_table.py"


def simulate(*, size: int, n_patients: int, per_patient: int, seed: int = 123, slice_mm: float = 5.0) -> np.ndarray:
    """Rows (d_mm, length_mm, hu, score) of single plaques rendered in context at ``size`` and ``slice_mm``."""
    rng = np.random.default_rng(seed)
    rows = []
    for pid in range(1, n_patients + 1):
        d, _ = _draws(pid, seed)
        length = d.anat.n_slices * d.anat.slice_mm  # the same scan range, sliced at slice_mm
        anat = replace(d.anat, slice_mm=slice_mm, n_slices=int(round(length / slice_mm)))
        grid = chest_grid(anat, size)
        img, bright, _ = render_background(anat, grid, kvp=120)
        _, labels, _ = render_heart(anat, grid, img, d.vessels, [], kvp=120)
        labels[bright] = 0
        ss = 3 if grid.px_mm < 1.2 else 5
        for _ in range(per_patient):
            v = VESSELS[int(rng.choice(4, p=[0.1, 0.4, 0.2, 0.3]))]
            dm = float(np.exp(rng.uniform(np.log(0.5), np.log(6.0))))
            ln = dm * float(rng.uniform(1.0, 2.5))
            hu = float(rng.uniform(130, 1500))
            sp = PlaqueSpec(v, float(np.clip(rng.beta(1.3, 2.2), 0.02, 0.97)), dm, ln, hu, 0.0)
            p = place_plaques([sp], d.vessels, rng)[0]
            r = ellipsoid_fraction(grid, p.centre, p.axes, p.semi, supersample=ss)
            if r is None:
                continue
            box, f = r
            pad = tuple(slice(max(b.start - 1, 0), min(b.stop + 1, n)) for b, n in zip(box, grid.shape))
            loc = img[pad].copy()
            lab = labels[pad].copy()
            inner = tuple(slice(b.start - q.start, b.stop - q.start) for b, q in zip(box, pad))
            sub = loc[inner]
            sub += f * (np.float32(hu) - sub)
            lab[inner][f > 0.005] = LABEL_OF[v]
            lab[lab != LABEL_OF[v]] = 0
            res = agatston(loc, lab, pixel_spacing_mm=(grid.px_mm, grid.px_mm), slice_spacing_mm=grid.dz_mm,
                           slice_thickness_mm=grid.dz_mm)
            rows.append((dm, ln, hu, res.as_row()[v]))
    return np.array(rows)


def tabulate(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean score / (length / diameter) and P(score > 0) per (diameter, HU) bin."""
    di = np.clip(np.searchsorted(D_EDGES_MM, rows[:, 0]) - 1, 0, len(D_EDGES_MM) - 2)
    hi = np.clip(np.searchsorted(HU_EDGES, rows[:, 2]) - 1, 0, len(HU_EDGES) - 2)
    per = rows[:, 3] / (rows[:, 1] / rows[:, 0])
    mean = np.zeros((len(D_EDGES_MM) - 1, len(HU_EDGES) - 1))
    vis = np.zeros_like(mean)
    for i in range(mean.shape[0]):
        for j in range(mean.shape[1]):
            m = (di == i) & (hi == j)
            mean[i, j] = per[m].mean() if m.any() else 0.0
            vis[i, j] = (rows[m, 3] > 0).mean() if m.any() else 0.0
    return np.maximum.accumulate(mean, axis=0), np.maximum.accumulate(vis, axis=0)  # monotone in diameter


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 256, 128, 96])
    ap.add_argument("--patients", type=int, default=12)
    ap.add_argument("--per-patient", type=int, default=1500)
    ap.add_argument("--slices", type=float, nargs="+", default=[5.0], help="slice thicknesses (mm) to calibrate")
    ap.add_argument("--write", action="store_true", help="rewrite src/cacscore/phantom/plaque_table.py")
    args = ap.parse_args()
    np.set_printoptions(precision=2, suppress=True, linewidth=200)
    tables = {}
    for size, slice_mm in [(s, t) for t in args.slices for s in args.sizes]:
        t0 = time.perf_counter()
        rows = simulate(size=size, n_patients=args.patients, per_patient=args.per_patient, slice_mm=slice_mm)
        mean, vis = tabulate(rows)
        est = analytic_plaque_score(rows[:, 0], rows[:, 1], rows[:, 2])
        print(f"size {size}, {slice_mm:g} mm: {len(rows)} plaques in {time.perf_counter() - t0:.0f} s; rendered/analytic total "
              f"{rows[:, 3].sum() / est.sum():.3f}; rendered zero share {np.mean(rows[:, 3] == 0):.1%}, "
              f"analytic zero share {np.mean(est == 0):.1%}")
        for lo, hi in ((0.5, 1.5), (1.5, 3), (3, 6.1)):
            m = (rows[:, 0] >= lo) & (rows[:, 0] < hi)
            print(f"  d in [{lo}, {hi}): rendered/analytic {rows[m, 3].sum() / max(est[m].sum(), 1e-9):.3f}, "
                  f"P(score > 0) {np.mean(rows[m, 3] > 0):.2f}")
        print("mean score per unit elongation (rows: diameter bins, cols: HU bins)\n", mean)
        print("P(score > 0)\n", vis)
        tables[(size, float(slice_mm))] = (len(rows), mean, vis)
    if args.write:  # merge with the (size, slice) pairs already calibrated; a bare size is a 5 mm table
        from cacscore.phantom.coronary import _table_key
        from cacscore.phantom.plaque_table import TABLES as old

        for k, t in old.items():
            if _table_key(k) not in tables:
                tables[_table_key(k)] = (t["n_plaques"], np.array(t["mean_score_per_elongation"]), np.array(t["p_visible"]))
        tables = dict(sorted(tables.items(), key=lambda kv: (-kv[0][1], -kv[0][0])))
        lines = ['"""Generated by bench/calibrate_plaques.py --write (do not edit): mean rendered single-plaque score',
                 'per unit elongation and P(score > 0), per (diameter bin, HU bin) of coronary.D_EDGES_MM x HU_EDGES,',
                 'for each calibrated (output size, slice thickness mm)."""', "", "TABLES = {"]
        for (size, slice_mm), (n, mean, vis) in tables.items():
            lines.append(f"    ({size}, {slice_mm}): {{'n_plaques': {n},")
            lines.append(f"          'mean_score_per_elongation': {np.round(mean, 3).tolist()!r},")
            lines.append(f"          'p_visible': {np.round(vis, 3).tolist()!r}}},")
        lines.append("}")
        TABLE.write_text("\n".join(lines) + "\n")
        print("wrote", TABLE)


if __name__ == "__main__":
    main()
