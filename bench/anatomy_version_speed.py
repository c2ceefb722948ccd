"""make_patient's CPU time for two (or more) anatomy versions, interleaved in one process: the same patients, each
version in turn round by round, the fastest of ROUNDS per patient and version, and the ratio of the sums against the
first version named. Session 16 (docs/phantom.md, "v11 the default anatomy").

    PYTHONPATH=src nice -n 10 python bench/anatomy_version_speed.py SEED --pids 1 2 3 4 --rounds 3 --size 512 \
        --versions v8 v11
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from cacscore.phantom.anatomy import ANATOMY_VERSIONS
from cacscore.phantom.core import make_patient


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("seed", type=int)
    ap.add_argument("--pids", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--versions", nargs="+", default=["v8", "v11"], choices=ANATOMY_VERSIONS)
    a = ap.parse_args()
    best = {(p, v): np.inf for p in a.pids for v in a.versions}
    for _ in range(a.rounds):
        for p in a.pids:
            for v in a.versions:
                t0 = time.process_time()
                make_patient(p, seed=a.seed, size=a.size, version=v)
                best[(p, v)] = min(best[(p, v)], time.process_time() - t0)
    for p in a.pids:
        print(f"patient {p}: " + ", ".join(f"{v} {best[(p, v)]:.2f} s" for v in a.versions))
    base = sum(best[(p, a.versions[0])] for p in a.pids)
    for v in a.versions[1:]:
        tot = sum(best[(p, v)] for p in a.pids)
        print(f"ratio of sums {v} / {a.versions[0]} {tot / base:.3f} ({a.versions[0]} {base:.2f} s, {v} {tot:.2f} s, "
              f"fastest of {a.rounds}, {a.size} px, seed {a.seed})")


if __name__ == "__main__":
    main()
