"""Gated training extraction with and without the unused read_chest (cacscore.lesion.train.training_candidates).

    python bench/lesion_gated_extraction.py RELEASE [--patients 1-12] [--noise-copies 2] [--noise-sd 10 60]

For each gated patient of a phantom (or COCA) release, ``cacscore.lesion.train._extract`` - the per-scan job of
``lesion-train --source gated`` with the default model config - runs twice, with ``skip_unused_chest`` on and off,
in alternating order (on, off / off, on) so that a shared machine's load falls on both alike. Prints per-patient and
total seconds, their ratio, and whether the training rows (features, targets, noise-copy features and targets)
are identical. Seconds include reading the gated series and its XML (both runs alike). Default noise range:
lesion-train's (cacscore.lesion.train.GATED_NOISE_SD_HU).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from cacscore import lesion as L
from cacscore.lesion import train as LC
from id_ranges import id_range  # noqa: E402 - bench/ is on sys.path (run as a script, or the tests put it there)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("release", type=Path, help="a root with Gated_release_final/ (phantom --gated or COCA)")
    ap.add_argument("--patients", default="1-12", help="e.g. 1-12 or 1,5,9")
    ap.add_argument("--noise-copies", type=int, default=2)
    ap.add_argument("--noise-sd", type=float, nargs=2, default=LC.GATED_NOISE_SD_HU)
    a = ap.parse_args(argv)
    cases = {c.id: c for c in LC.training_pairs(a.release, kind="gated")}
    config = L.ClassifierConfig()
    tot = {True: 0.0, False: 0.0}
    same_all = True
    print("| patient | with read_chest s | without s | chest read (with / without) | rows | identical |")
    print("| --- | ---: | ---: | --- | ---: | --- |")
    for k, pid in enumerate(map(str, id_range(a.patients))):
        got, secs = {}, {}
        for skip in ((True, False) if k % 2 == 0 else (False, True)):
            t = time.perf_counter()
            got[skip] = LC._extract(cases[pid], 130.0, 1.0, a.noise_copies, tuple(a.noise_sd), config.seed, config,
                                    skip_unused_chest=skip)
            secs[skip] = time.perf_counter() - t
            tot[skip] += secs[skip]
        if "error" in got[True] or "error" in got[False]:
            print(f"| {pid} | error: {got[False].get('error') or got[True].get('error')} |")
            continue
        keys = [k_ for k_ in ("features", "targets", "noise_features", "noise_targets") if k_ in got[False]]
        same = all(np.array_equal(got[True][k_], got[False][k_]) for k_ in keys)
        same_all &= same
        print(f"| {pid} | {secs[False]:.1f} | {secs[True]:.1f} | {got[False]['chest_read']} / {got[True]['chest_read']} "
              f"| {len(got[True]['targets'])} | {same} |", flush=True)
    print(f"total: with read_chest {tot[False]:.1f} s, without {tot[True]:.1f} s, ratio {tot[False] / tot[True]:.2f}; "
          f"rows identical on every patient: {same_all}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
