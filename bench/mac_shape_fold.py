"""Train the issue-16 MAC fold with and without the shape / side-tissue columns (session 13, wt21c): the same
cached candidates (bench/hybrid_training.py cached_extract, so the table holds every FEATURE_NAMES column), the
same per-series weights, lesion-train's defaults, one model per (feature set, MLP seed).

    PYTHONPATH=src python bench/mac_shape_fold.py TABLE.csv OUT --cache CACHE --hybrids HYBRIDS.csv
        [--sets candidate shape] [--seeds 0 1 2]

Models are written to OUT/<set>_s<seed>; a model already there is kept (reruns train only what is missing).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hybrid_training as HT

from cacscore.lesion.classifier import FEATURE_SETS


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("table", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--hybrids", type=Path, required=True, help="hybrids.csv (series of each hybrid: the weights)")
    ap.add_argument("--sets", nargs="+", default=["candidate", "shape"], choices=sorted(FEATURE_SETS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--mac-weight-like-lcx", action="store_true", help="each MAC hybrid's MAC candidates weigh as one "
                    "LCX candidate of its series (hybrid_training train --mac-weight-like-lcx); models <set>_mw_s<seed>")
    a = ap.parse_args(argv)
    for seed in a.seeds:
        for name in a.sets:
            out = a.out / f"{name}{'_mw' if a.mac_weight_like_lcx else ''}_s{seed}"
            if (out / "model.json").is_file():
                continue
            cfg = dataclasses.replace(HT.LESION_TRAIN_DEFAULTS, features=FEATURE_SETS[name], seed=seed)
            HT.train_cached(a.table, out, a.cache, cfg, series_of=HT.hybrid_series(a.hybrids),
                            mac_weights=HT.mac_masks(a.hybrids) if a.mac_weight_like_lcx else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
