"""Time per scan of the candidate scorer's steps that used to repeat work, against the old path in the same run.

    .venv/bin/python bench/lesion_repeated_work.py [--size 512] [--patients 4] [--seed 21] [--repeats 3]
        [--noise-copies 2] [--out results.json]

Each phantom patient (cacscore.phantom.make_patient, non-gated and gated series) is timed with the old and the new
path interleaved, ``--repeats`` times each (the minimum counts: the machine is shared); the outputs are checked
equal on every scan. Rows:

a. find_candidates on a non-gated scan. Old: find_heart with its own lung mask, then a second lung mask for the
   chest-wall hull on another grid (= find_candidates(hu, sp, heart_index=find_heart(hu, sp))). New: one lung mask
   (preprocess.lung_field) shared by both.
b. the lesion report's view on a scan without coronary calcium. Old: lesion_report._view searches for the heart
   (find_heart). New: it takes the candidates' heart index (found_heart_index). Also the whole PNG
   (render_lesion_report), where matplotlib dominates.
c. noisy gated copies (lesion_cohort.noise_augmented_candidates, --noise-copies copies). Old: each copy's
   find_candidates computes the lung hull again. New: the clean scan's hull (Candidates.thorax_hull) is reused.
d. predict's heart warnings on a lesion model. Old: heart_warnings searched for the heart again. New: the
   candidates' heart and find_heart's logged messages are reused (predict._heart_check(found=...)).
Also: the metal check (cacscore.chest.metal.metal_in_heart_region) per scan, the new cost of task 2.
Prints one line per row: old s, new s per scan (median over patients), ratio old / new.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from cacscore.lesion import train as LC
from cacscore import lesion as L
from cacscore.core.fileio import atomic_write_text
from cacscore.lesion.report import _view, render_lesion_report
from cacscore.chest.metal import metal_in_heart_region
from cacscore.phantom import make_patient
from cacscore.predict.run import _find_heart_logged, _heart_check
from cacscore.chest.heart import find_heart

log = logging.getLogger("bench.lesion_repeated_work")


def _best(fn, repeats: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _pair(old, new, repeats: int) -> tuple[float, float, object, object]:
    """Interleaved timings (min over repeats) of old() and new(), and their last outputs."""
    t_old, t_new, o_old, o_new = np.inf, np.inf, None, None
    for _ in range(repeats):
        a, o_old = _best(old, 1)
        b, o_new = _best(new, 1)
        t_old, t_new = min(t_old, a), min(t_new, b)
    return t_old, t_new, o_old, o_new


def _same_candidates(a: L.Candidates, b: L.Candidates) -> bool:
    return (a.heart_index == b.heart_index and np.array_equal(a.ids, b.ids) and np.array_equal(a.features, b.features)
            and np.array_equal(a.agatston, b.agatston)
            and np.array_equal(a.outside_thorax_mm, b.outside_thorax_mm, equal_nan=True))


class _Vol:
    def __init__(self, hu: np.ndarray, spacing_mm) -> None:
        self.hu, self.spacing_mm = hu, tuple(spacing_mm)


def _one_patient(pid: int, args: argparse.Namespace, rows: dict, metal_s: list, hull_equal: list, tmp: Path) -> None:
    """Time every row on phantom patient ``pid`` (appends to rows, metal_s, hull_equal)."""
    p = make_patient(pid, seed=args.seed, size=args.size, gated=True)
    hu, sp = p.hu, p.spacing_mm
    # a. one lung mask per scan
    t_old, t_new, c_old, c_new = _pair(lambda: L.find_candidates(hu, sp, heart_index=find_heart(hu, sp)),
                                       lambda: L.find_candidates(hu, sp), args.repeats)
    assert _same_candidates(c_old, c_new), f"patient {pid}: candidates differ"
    rows["a_find_candidates"].append((t_old, t_new))
    # b. the zero-calcium report view and picture
    zero = np.zeros(hu.shape, bool)
    t_old, t_new, v_old, v_new = _pair(lambda: _view(hu, sp, zero, None, 3),
                                       lambda: _view(hu, sp, zero, None, 3, c_new.heart_index), args.repeats)
    assert v_old == v_new, f"patient {pid}: report view differs"
    rows["b_report_view"].append((t_old, t_new))
    scores = {"LCA": 0.0, "LAD": 0.0, "LCX": 0.0, "RCA": 0.0}
    z8 = zero.astype(np.uint8)
    if pid == 1:  # warm up matplotlib (imports, fonts) before timing either path
        render_lesion_report(hu, sp, z8, scores, tmp / "warm.png", title="x", found_heart_index=c_new.heart_index)
    t_old, t_new, _, _ = _pair(
        lambda: render_lesion_report(hu, sp, z8, scores, tmp / "old.png", title="x", candidates=c_new.ids > 0),
        lambda: render_lesion_report(hu, sp, z8, scores, tmp / "new.png", title="x", candidates=c_new.ids > 0,
                                     found_heart_index=c_new.heart_index), args.repeats)
    rows["b_report_png"].append((t_old, t_new))
    # d. predict's heart warnings (lesion model): reuse the candidates' search
    vol = _Vol(hu, sp)
    found = _find_heart_logged(hu, sp)
    t_old, t_new, w_old, w_new = _pair(lambda: _heart_check(vol), lambda: _heart_check(vol, found=found),
                                       args.repeats)
    assert w_old == w_new, f"patient {pid}: heart warnings differ"
    rows["d_heart_warnings"].append((t_old, t_new))
    metal_s.append(_best(lambda: metal_in_heart_region(hu, sp, c_new.heart_index), args.repeats)[0])
    # c. noisy gated copies
    g = p.gated
    gh = LC.gated_heart_index(g.hu.shape)
    clean = L.find_candidates(g.hu, g.spacing_mm, heart_index=gh)
    n = args.noise_copies

    def old_copies():
        rng = np.random.default_rng([args.seed, pid])
        fs, ts, hulls = [], [], []
        for _ in range(n):
            noisy = LC.noisy_copy(g.hu, g.spacing_mm, float(rng.uniform(10.0, 35.0)), rng)
            c = L.find_candidates(noisy, g.spacing_mm, heart_index=gh)
            fs.append(c.features)
            ts.append(L.candidate_targets(c.ids, g.labels))
            hulls.append(c.thorax_hull)
        return np.concatenate(fs), np.concatenate(ts), hulls

    def new_copies():
        return LC.noise_augmented_candidates(g.hu, g.spacing_mm, g.labels, gh, copies=n, sd_hu=(10.0, 35.0),
                                             rng=np.random.default_rng([args.seed, pid]), hull=clean.thorax_hull)

    t_old, t_new, o_old, o_new = _pair(old_copies, new_copies, args.repeats)
    assert np.array_equal(o_old[0], o_new[0]) and np.array_equal(o_old[1], o_new[1]), f"patient {pid}: copies differ"
    hull_equal.append(all(np.array_equal(h, clean.thorax_hull) for h in o_old[2]))
    rows["c_noise_copies"].append((t_old, t_new))
    log.info("patient %d: %s", pid, ", ".join(f"{k} {v[-1][0]:.3f} -> {v[-1][1]:.3f} s" for k, v in rows.items()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--patients", type=int, default=4)
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--noise-copies", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rows: dict[str, list[tuple[float, float]]] = {k: [] for k in ("a_find_candidates", "b_report_view", "b_report_png",
                                                                  "c_noise_copies", "d_heart_warnings")}
    metal_s, hull_equal = [], []
    tmp = Path(tempfile.mkdtemp(prefix="lesion_repeated_work_"))
    for pid in range(1, args.patients + 1):
        _one_patient(pid, args, rows, metal_s, hull_equal, tmp)
    summary = {}
    for k, v in rows.items():
        old = statistics.median(a for a, _ in v)
        new = statistics.median(b for _, b in v)
        summary[k] = {"old_s": old, "new_s": new, "ratio_old_to_new": old / new, "saved_s": old - new}
        log.info("%-18s old %.4f s  new %.4f s per scan (median of %d)  ratio old/new %.3f  saved %.4f s", k, old, new,
                 len(v), old / new, old - new)
    log.info("metal check (new work): %.4f s per scan (median)", statistics.median(metal_s))
    log.info("noisy copies whose own lung hull equals the clean scan's: %d of %d patients", sum(hull_equal),
             len(hull_equal))
    res = {"size": args.size, "patients": args.patients, "seed": args.seed, "repeats": args.repeats,
           "noise_copies": args.noise_copies, "rows": summary, "metal_check_s": statistics.median(metal_s),
           "noise_copy_hulls_equal_clean": hull_equal}
    if args.out is not None:
        atomic_write_text(args.out, json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
