"""Snapshot of the phantom's truth for a few patients, to show that a rendering change leaves it alone.

    PYTHONPATH=src .venv/bin/python bench/phantom_truth_snapshot.py OUT.json      # on each tree, then compare:
    python -c "import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:]); print(all(a[k]==b[k] for k in a))" A.json B.json

Patients 1-6 of seeds 0, 9101 and 7 at 128 px: static and moving truth per vessel, a hash of the calcium labels, and
the heart centre (docs/phantom.md, "Chest realism (session 11)").
"""

from __future__ import annotations

import hashlib
import json
import sys

from cacscore.phantom import make_patient


def main() -> None:
    out = {}
    for seed in (0, 9101, 7):
        for pid in range(1, 7):
            p = make_patient(pid, seed=seed, size=128)
            out[f"{seed}/{pid}"] = {"truth": {k: float(v) for k, v in p.truth.items()},
                                    "moving": {k: float(v) for k, v in p.truth_moving.items()},
                                    "labels": hashlib.sha1(p.labels.tobytes()).hexdigest(),
                                    "heart": [float(v) for v in p.heart_centre_mm]}
    with open(sys.argv[1], "w") as f:
        json.dump(out, f, indent=1)
    print(len(out), "patients")


if __name__ == "__main__":
    main()
