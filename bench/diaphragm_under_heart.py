"""The diaphragm surface under the heart on phantoms, two sac versions against the anatomy labels (session 23, wt31a;
docs/chest_anatomy.md "(session 23, wt31a)").

    PYTHONPATH=src:bench nice -n 10 python bench/diaphragm_under_heart.py RELEASE IDS [--sac s19o s23]

RELEASE: a phantom release (``cacscore phantom``; its DICOM series and anatomy/<pid>.nii.gz). For each patient and
each sac version: ``read_chest`` with that :data:`cacscore.chest.anatomy.SAC_VERSIONS` entry, then the found
surface minus the top of the abdominal labels (bench/chest_anatomy_phantom.ABDOMEN_LABELS; the top face of the
highest one) over the coarse columns that hold sac labels (SAC_LABELS) with abdominal labels under them, as
bench/sac_phantom.diaphragm_error: median signed and median absolute (mm); "none" when the diaphragm part is not
sure (the scorer reads nan heights then). Last lines: per version, the median over patients of the median |error|
(patients without a surface left out) and the count of patients without one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from chest_anatomy_phantom import ABDOMEN_LABELS, SAC_LABELS  # noqa: E402
from id_ranges import id_range  # noqa: E402

from cacscore.chest.anatomy import MIN_CONFIDENCE, read_chest, sac_options  # noqa: E402
from cacscore.io.ct import read_ct, read_labels  # noqa: E402


def surface_error(an, alab: np.ndarray) -> tuple[float, float, int]:
    """(median signed, median absolute, columns) of found diaphragm minus the abdominal labels' top face over the
    coarse columns with sac labels and abdominal labels under them; nan when the diaphragm is not sure or no
    column qualifies."""
    lab = alab[::an.step_z, ::an.step_xy, ::an.step_xy][:an.pericardium.shape[0], :an.pericardium.shape[1],
                                                         :an.pericardium.shape[2]]
    sac = np.isin(lab, SAC_LABELS)
    abd = np.isin(lab, ABDOMEN_LABELS)
    cols = sac.any(0) & abd.any(0)
    if not cols.any() or not an.parts["diaphragm"].sure(MIN_CONFIDENCE):
        return np.nan, np.nan, int(cols.sum())
    top = (lab.shape[0] - 1 - np.argmax(abd[::-1], axis=0)) * an.grid_mm[0] + 0.5 * an.grid_mm[0]
    d = (an.diaphragm_mm[:lab.shape[1], :lab.shape[2]] - top)[cols]
    d = d[np.isfinite(d)]
    return (float(np.median(d)), float(np.median(np.abs(d))), int(cols.sum())) if len(d) else (np.nan, np.nan, 0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("release", type=Path)
    ap.add_argument("ids")
    ap.add_argument("--sac", nargs="+", default=["s19o", "s23"])
    a = ap.parse_args(argv)
    res: dict[str, list] = {t: [] for t in a.sac}
    for pid in map(str, id_range(a.ids)):
        vol = read_ct(a.release / "deidentified_nongated" / pid / pid)
        alab = read_labels(a.release / "anatomy" / f"{pid}.nii.gz")
        parts = []
        for t in a.sac:
            an = read_chest(vol, sac=sac_options(t))
            sig, ab, n = surface_error(an, alab)
            res[t].append(ab)
            parts.append(f"{t}: " + ("none" if not np.isfinite(ab) else f"{sig:+.1f} / {ab:.1f} mm")
                         + f" ({an.parts['diaphragm'].confidence:.1f})")
        print(f"{pid} ({n} columns) | " + " | ".join(parts), flush=True)
    for t in a.sac:
        v = np.array(res[t], float)
        print(f"| {t} | {a.release.name} {a.ids} | median over patients of median |error| "
              f"{np.nanmedian(v):.1f} mm (mean {np.nanmean(v):.1f}, max {np.nanmax(v):.1f}) | patients without a "
              f"surface {int(np.isnan(v).sum())} of {len(v)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
