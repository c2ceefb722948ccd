"""How far the coronary courses of real scans lie from air in the oesophagus, against the calls an oesophagus rule
would be for (session 18, wt26a: LIDC-IDRI-0003's 11.8 AU "RCA" dot beside the oesophagus; docs/lesion_scorer.md).

    PYTHONPATH=src python bench/oesophageal_air.py /work/shared/data/lidc-idri-000{1,2,3} [--calls CALLS.csv]

Oesophageal air (a measurement, not a finder of the product): 3-D components of < -500 HU voxels that touch no face
of the volume (outside air), hold 0.02-20 ml (not the lungs and airways, which are one large component) and whose
centroid lies within 45 mm of the found descending aorta's centreline (the oesophagus runs beside it; isolated lung
bases or bowel gas near it count too, which is part of what is measured). Per series: the air's z range, the
distance of each call in CALLS.csv (bench/lidc_call_anatomy.py's calls.csv: series, cand, z_mm, y_mm, x_mm) to
the nearest air voxel, and the nearest approach of each coronary course (``cacscore.phantom.hybrid.coronary_courses``
with docs/hybrid_landmarks.json, the hybrids' courses) to it. Only folder names identify a series.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hybrid_cases import series_landmarks  # noqa: E402

from cacscore.chest.anatomy import read_chest  # noqa: E402
from cacscore.io.ct import read_ct  # noqa: E402
from cacscore.phantom.hybrid import coronary_courses  # noqa: E402

LANDMARKS = Path(__file__).resolve().parents[1] / "docs" / "hybrid_landmarks.json"


def oesophageal_air_mm(hu: np.ndarray, sp, anatomy, near_mm: float = 45.0) -> np.ndarray:
    """(n, 3) mm (z, y, x) of the air voxels described in the module docstring."""
    lab, n = ndimage.label(hu < -500)
    ml = np.bincount(lab.ravel(), minlength=n + 1) * float(np.prod(sp)) / 1000.0
    faces = np.unique(np.concatenate([f.ravel() for f in (lab[0], lab[-1], lab[:, 0], lab[:, -1], lab[:, :, 0],
                                                          lab[:, :, -1])]))
    ok = (ml >= 0.02) & (ml <= 20.0)
    ok[faces] = False
    ok[0] = False
    desc = anatomy.aorta.centreline_mm[anatomy.aorta.segment == 2]
    if not len(desc):
        return np.zeros((0, 3))
    keep = []
    for i, obj in enumerate(ndimage.find_objects(lab), start=1):
        if obj is None or not ok[i]:
            continue
        v = (np.argwhere(lab[obj] == i) + [s.start for s in obj]) * np.asarray(sp)
        if np.linalg.norm(desc - v.mean(0), axis=1).min() < near_mm:
            keep.append(v)
    return np.concatenate(keep) if keep else np.zeros((0, 3))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("series", type=Path, nargs="+")
    ap.add_argument("--calls", type=Path, default=None)
    a = ap.parse_args(argv)
    calls = pd.read_csv(a.calls) if a.calls else pd.DataFrame(columns=["series", "cand", "z_mm", "y_mm", "x_mm"])
    for s in a.series:
        vol = read_ct(s)
        sp = tuple(abs(float(v)) for v in vol.spacing_mm)
        an = read_chest(vol.hu, sp)
        air = oesophageal_air_mm(vol.hu, sp, an)
        mask_z = np.flatnonzero(an.pericardium.any((1, 2)))[[0, -1]] * an.grid_mm[0]
        if not len(air):
            print(f"{s.name}: no oesophageal air found; pericardial mask z {mask_z[0]:.1f}-{mask_z[1]:.1f} mm")
            continue
        print(f"{s.name}: oesophageal air z {air[:, 0].min():.1f}-{air[:, 0].max():.1f} mm ({len(air)} voxels); "
              f"pericardial mask z {mask_z[0]:.1f}-{mask_z[1]:.1f} mm")
        tree = cKDTree(air)
        for r in calls[calls["series"] == s.name].itertuples():
            print(f"  call #{r.cand}: {tree.query([r.z_mm, r.y_mm, r.x_mm])[0]:.1f} mm from the air")
        courses = coronary_courses(vol.hu, sp, an, np.random.default_rng([0, 16]),
                                   landmarks=series_landmarks(LANDMARKS, s.name))
        for v, c in courses.items():
            d, _ = tree.query(c)
            print(f"  course {v} (z {c[:, 0].min():.0f}-{c[:, 0].max():.0f} mm): nearest {d.min():.1f} mm from the "
                  f"air, at z {c[np.argmin(d), 0]:.0f} mm")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
