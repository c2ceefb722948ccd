"""Where a phantom patient's CPU time goes: CPU seconds (time.process_time, all threads) per rendering stage, and
optionally cProfile's top functions.

    PYTHONPATH=src python bench/profile_phantom.py --pids 1 2 3 --thickness 1.25 [--cprofile 25] [--write]

Stages are the functions make_patient calls (wrapped in cacscore.phantom.core's namespace, so the renderer itself
is unchanged): the draws, the background (render_background: body, lungs, bones), the heart (render_heart:
chambers, coronaries, plaques, cardiac look-alikes), motion (_apply_layers), static look-alikes (paint_blobs),
noise + rounding (_finish) and the truth (_score); with --write also the DICOM series (writer.write_series).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import cacscore.phantom.anatomy as A
import cacscore.phantom.core as C
from cacscore.phantom import writer

STAGES = ("_draws", "render_background", "render_heart", "_apply_layers", "paint_blobs", "_finish", "_score")
BACKGROUND = tuple(n for n in dir(A) if n.startswith("_paint_"))  # render_background's parts (called by module name)


def _timed(fn, name: str, acc: dict[str, float]):
    def wrapper(*a, **kw):
        t = time.process_time()
        try:
            return fn(*a, **kw)
        finally:
            acc[name] += time.process_time() - t
    return wrapper


def profile(pids: list[int], size: int, write: bool) -> dict[str, list[float]]:
    """CPU seconds per stage per patient (and 'total', 'other': the copies and glue in make_patient)."""
    out: dict[str, list[float]] = defaultdict(list)
    originals = {s: getattr(C, s) for s in STAGES}
    parts = {s: getattr(A, s) for s in BACKGROUND}
    try:
        for pid in pids:
            acc: dict[str, float] = defaultdict(float)
            sub: dict[str, float] = defaultdict(float)
            for s in STAGES:
                setattr(C, s, _timed(originals[s], s, acc))
            for s in BACKGROUND:
                setattr(A, s, _timed(parts[s], s, sub))
            t = time.process_time()
            p = C.make_patient(pid, seed=0, size=size)
            total = time.process_time() - t
            for s in STAGES:
                out[s].append(acc[s])
            for s in BACKGROUND:
                out["  " + s].append(sub[s])
            out["other"].append(total - sum(acc.values()))
            out["total"].append(total)
            out["slice_mm"].append(p.slice_thickness_mm)
            if write:
                with tempfile.TemporaryDirectory() as tmp:
                    t = time.process_time()
                    writer.write_series(Path(tmp), p.hu, spacing_mm=p.spacing_mm, origin_mm=p.origin_mm, pid=pid,
                                        seed=0, kvp=p.kvp, series_number=1, thickness_mm=p.slice_thickness_mm,
                                        clean=True, description="profile", model=writer.MODELS[0])
                    out["write_dicom"].append(time.process_time() - t)
    finally:
        for s, f in originals.items():
            setattr(C, s, f)
        for s, f in parts.items():
            setattr(A, s, f)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pids", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--thickness", type=float, default=0.0, help="force this slice thickness (mm) on every patient")
    ap.add_argument("--write", action="store_true", help="also time writing the moving series as DICOM")
    ap.add_argument("--cprofile", type=int, default=0, metavar="N", help="print cProfile's top N functions by own time")
    args = ap.parse_args()
    if args.thickness > 0:
        A.SLICE_P = tuple(1.0 if m == args.thickness else 0.0 for m in A.SLICE_MM)
    C.make_patient(args.pids[0], seed=0, size=64)  # imports and first-call set-up out of the timing
    prof = cProfile.Profile() if args.cprofile else None
    if prof:
        prof.enable()
    res = profile(args.pids, args.size, args.write)
    if prof:
        prof.disable()
    print(f"size {args.size}, patients {args.pids}, slice mm {res.pop('slice_mm')}: CPU s per stage (process_time)")
    for name, v in res.items():
        print(f"  {name:24s} " + " ".join(f"{x:6.3f}" for x in v) + f"   mean {sum(v) / len(v):.3f}")
    if prof:
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(args.cprofile)
        print(s.getvalue())


if __name__ == "__main__":
    main()
