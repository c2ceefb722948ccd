"""Which scans the contrast-lumen rule can act on: per scan, whether the chest reader sees contrast-filled blood
(``ChestAnatomy.contrast``) and the aortic lumen level the rule compares with (``aortic_lumen_hu``; the rule's
column is nan, so it never fires, where contrast is not seen or the aorta not found). On a release of phantoms
(no contrast agent) every row should read False: then the rule cannot change any phantom result.

    PYTHONPATH=src python bench/contrast_seen.py INPUT [INPUT ...] [--out CSV]

INPUT: anything ``cacscore predict`` takes (a series folder, a release's patient folder, a folder of them).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from cacscore.chest.anatomy import read_chest
from cacscore.io.ct import read_ct
from cacscore.io.inputs import discover_inputs
from cacscore.lesion.anatomy import _sure, aortic_lumen_hu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("inputs", type=Path, nargs="+")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    scans, problems = discover_inputs(a.inputs)
    for where, why in problems:
        print(f"{where}: {why}")
    rows = []
    for scan in scans:
        vol = read_ct(scan.path)
        sp = tuple(abs(float(s)) for s in vol.spacing_mm)
        an = read_chest(vol.hu, sp)
        rows.append({"scan": scan.id, "contrast_seen": bool(an.contrast), "aorta_used": _sure(an, "aorta"),
                     "aortic_lumen_hu": aortic_lumen_hu(vol.hu, an), "blood_hu_hi": an.blood_hu[1]})
        print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    if a.out is not None:
        df.to_csv(a.out, index=False)
    print(f"{len(df)} scans: contrast seen in {int(df['contrast_seen'].sum())}; aortic lumen median "
          f"{df['aortic_lumen_hu'].min():.0f}-{df['aortic_lumen_hu'].max():.0f} HU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
