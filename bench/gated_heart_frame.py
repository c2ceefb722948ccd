"""One frame for gated and non-gated scans (issue 16, item 4): on phantom patients rendered with both series, where
the heart finder (cacscore.chest.heart.locate_heart) lands on the gated, heart-centred series against where it lands
on the same patient's whole-chest series (the frame every model is trained and scored in), in patient mm; the gated
field of view's centre (the gated training reference before issue 16) for comparison.

    PYTHONPATH=src python bench/gated_heart_frame.py N SEED SIZE
"""

from __future__ import annotations

import sys

import numpy as np

from cacscore.chest.heart import locate_heart
from cacscore.phantom.core import make_patient


def _mm(index, spacing_mm, origin_xyz) -> np.ndarray:
    return np.asarray(index, float) * np.asarray(spacing_mm) + np.array(origin_xyz[::-1])


def main(n: int, seed: int, size: int) -> None:
    d_find, d_centre, d_true, off_find, off_centre, not_heart_only = [], [], [], [], [], 0
    for pid in range(n):
        p = make_patient(pid, seed=seed, size=size, gated=True)
        g = p.gated
        h = locate_heart(g.hu, g.spacing_mm)
        not_heart_only += not h.heart_only
        found = _mm(h.index, g.spacing_mm, g.origin_mm)
        centre = _mm([(s - 1) / 2 for s in g.hu.shape], g.spacing_mm, g.origin_mm)
        ref = _mm(locate_heart(p.hu, p.spacing_mm).index, p.spacing_mm, p.origin_mm)
        off_find.append(found - ref)
        off_centre.append(centre - ref)
        d_find.append(np.linalg.norm(found - ref))
        d_centre.append(np.linalg.norm(centre - ref))
        d_true.append(np.linalg.norm(found - np.array(p.heart_centre_mm)))
    print(f"PHANTOM seed {seed}, {n} patients, {size} px; gated series not read as heart-only: {not_heart_only}")
    print("| gated reference | to the finder's centre on the whole-chest series: median / p90 / max mm | mean offset (z, y, x) mm |")
    print("| --- | --- | --- |")
    for name, d, o in (("heart finder (issue 16)", d_find, off_find), ("field-of-view centre (before)", d_centre, off_centre)):
        d = np.array(d)
        print(f"| {name} | {np.median(d):.1f} / {np.percentile(d, 90):.1f} / {d.max():.1f} | "
              f"{', '.join(f'{v:+.1f}' for v in np.mean(o, 0))} |")
    t = np.array(d_true)
    print(f"gated finder to the phantom's own heart centre: median {np.median(t):.1f}, p90 {np.percentile(t, 90):.1f}, "
          f"max {t.max():.1f} mm")


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
