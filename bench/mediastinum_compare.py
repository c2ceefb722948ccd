"""MEDIASTINUM_REALISM off against on in one process (session 14, wt22b; docs/phantom.md "Arch, hila and sternum").

    PYTHONPATH=src python bench/mediastinum_compare.py speed --seed 10201 --pids 1 2 3 4 --rounds 3
    PYTHONPATH=src python bench/mediastinum_compare.py finder --seed 10201 --n 10 --size 256

speed: CPU s (time.process_time) of make_patient at 512 px, off and on interleaved per patient and round, fastest of
the rounds per patient, and the ratio of sums. finder: bench/chest_anatomy_phantom.py's two modes (aortic root /
descending aorta errors, heart centre in the sac; pericardium Dice) with the flag off, then on.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from cacscore.phantom import anatomy as an
from cacscore.phantom import make_patient

sys.path.insert(0, str(Path(__file__).resolve().parent))


def speed(seed: int, pids: list[int], rounds: int) -> None:
    best = {(p, on): np.inf for p in pids for on in (False, True)}
    for _ in range(rounds):
        for p in pids:
            for on in (False, True):
                an.MEDIASTINUM_REALISM = on
                t0 = time.process_time()
                make_patient(p, seed=seed, size=512)
                best[(p, on)] = min(best[(p, on)], time.process_time() - t0)
    an.MEDIASTINUM_REALISM = True  # the default since session 14
    for p in pids:
        print(f"patient {p}: off {best[(p, False)]:.2f} s, on {best[(p, True)]:.2f} s")
    off = sum(best[(p, False)] for p in pids)
    on = sum(best[(p, True)] for p in pids)
    print(f"ratio of sums on / off {on / off:.3f} (off {off:.2f} s, on {on:.2f} s, fastest of {rounds})")


def finder(seed: int, n: int, size: int) -> None:
    """Per patient (1..n): chest.anatomy.read_chest on the rendered phantom against its drawing: aortic root error,
    descending aorta centre error (as bench/chest_anatomy_phantom.py), the tracked centreline's median distance to
    the drawn one (as painted: anatomy.painted_points) per segment (0 ascending, 1 arch, 2 descending), the height
    its top reaches against the drawn arch top, heart centre in the sac, pericardium Dice (sac_metrics)."""
    from cacscore.chest.anatomy import read_chest
    from chest_anatomy_phantom import sac_metrics

    for on in (False, True):
        an.MEDIASTINUM_REALISM = on
        rows = []
        for pid in range(1, n + 1):
            p = make_patient(pid, seed=seed, size=size, anatomy=True)
            a = read_chest(p.hu, p.spacing_mm)
            o = np.array(p.origin_mm)
            d = p.anatomy
            root = np.array([d.aorta_root[2] - o[2], d.aorta_root[1] - o[1], d.aorta_root[0] - o[0]])
            root_err = float(np.linalg.norm(a.aortic_root_mm - root))
            c, seg = a.aorta.centreline_mm, a.aorta.segment
            want = np.array([d.desc_c[1] - o[1], d.desc_c[0] - o[0]])
            desc = c[seg == 2]
            desc_err = float(np.median(np.hypot(*(desc[:, 1:] - want).T))) if len(desc) else np.nan
            true = an.painted_points(d, d.aorta.points)
            true = np.column_stack([true[:, 2] - o[2], true[:, 1] - o[1], true[:, 0] - o[0]])
            dist = np.sqrt(((c[:, None, :] - true[None]) ** 2).sum(axis=2)).min(axis=1) if len(c) else np.zeros(0)
            cl = [float(np.median(dist[seg == k])) if (seg == k).any() else np.nan for k in (0, 1, 2)]
            top_gap = float(true[:, 0].max() - c[:, 0].max()) if len(c) else np.nan
            hc = np.array(p.heart_centre_mm) - o[::-1]
            in_sac = bool(a.pericardium[tuple(a.coarse_index(hc[None])[0])])
            m = sac_metrics(a, p.anatomy_labels)
            rows.append((root_err, desc_err, *cl, top_gap, in_sac, m["dice"]))
            print(f"on={on} patient {pid}: root {root_err:.1f} mm, descending {desc_err:.1f} mm, centreline asc/arch/"
                  f"desc {cl[0]:.1f}/{cl[1]:.1f}/{cl[2]:.1f} mm, arch top missed by {top_gap:.0f} mm, heart in sac "
                  f"{in_sac}, Dice {m['dice']:.3f}", flush=True)
        r = np.array(rows, float)
        med = np.nanmedian(r, axis=0)
        print(f"| {'on' if on else 'off'} | seed {seed} 1-{n}, {size} px | root {med[0]:.1f} | descending {med[1]:.1f} | "
              f"centreline asc {med[2]:.1f} / arch {med[3]:.1f} / desc {med[4]:.1f} | arch top missed {med[5]:.0f} | "
              f"heart in sac {int(r[:, 6].sum())}/{n} | Dice {med[7]:.3f} (min {np.nanmin(r[:, 7]):.3f}) |", flush=True)
    an.MEDIASTINUM_REALISM = True  # the default since session 14


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("speed", "finder"))
    ap.add_argument("--seed", type=int, default=10201)
    ap.add_argument("--pids", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--size", type=int, default=256)
    a = ap.parse_args()
    speed(a.seed, a.pids, a.rounds) if a.mode == "speed" else finder(a.seed, a.n, a.size)
