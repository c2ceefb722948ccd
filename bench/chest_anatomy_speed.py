"""read_chest's time on the three real series cut to 512 x 512 x 70 (70 slices around the eye-placed aortic root, as
bench/chest_anatomy.py cuts them), with the shipped RootOptions and with RootOptions.before_session14() (the finder of
sessions 9-13), against the heart finder ``locate_heart`` in the same run: each timed ROUNDS times in turn, the
fastest wall and CPU time of each kept (the machine is shared; the fastest is the least disturbed).

    PYTHONPATH=src nice -n 10 python bench/chest_anatomy_speed.py /work/shared/data [ROUNDS]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from cacscore.chest.anatomy import RootOptions, read_chest
from cacscore.chest.heart import locate_heart
from cacscore.io.ct import read_ct

LANDMARKS = Path(__file__).resolve().parents[1] / "tests" / "data" / "landmarks_lidc.json"


def main(data: Path, rounds: int) -> None:
    marks = json.loads(LANDMARKS.read_text())
    print("| series | shape | read_chest (shipped) wall / CPU s | read_chest (before session 14) wall / CPU s "
          "| locate_heart wall / CPU s | CPU ratio shipped / locate_heart |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in sorted(k for k in marks if k.startswith("lidc")):
        vol = read_ct(data / name)
        k = int(round(marks[name]["aortic_root"][0] / vol.spacing_mm[0]))
        sub = np.ascontiguousarray(vol.hu[max(0, k - 35):max(0, k - 35) + 70])
        sp = tuple(float(v) for v in vol.spacing_mm)
        jobs = {"new": lambda: read_chest(sub, sp), "old": lambda: read_chest(sub, sp, root_options=RootOptions.before_session14()),
                "heart": lambda: locate_heart(sub, sp)}
        best = {j: [np.inf, np.inf] for j in jobs}
        for _ in range(rounds):
            for j, f in jobs.items():
                w, c = time.perf_counter(), time.process_time()
                f()
                w, c = time.perf_counter() - w, time.process_time() - c
                best[j] = [min(best[j][0], w), min(best[j][1], c)]
        n, o, h = best["new"], best["old"], best["heart"]
        print(f"| {name} | {sub.shape} | {n[0]:.2f} / {n[1]:.2f} | {o[0]:.2f} / {o[1]:.2f} | {h[0]:.3f} / {h[1]:.3f} "
              f"| {n[1] / max(h[1], 1e-3):.0f} |", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 3)
