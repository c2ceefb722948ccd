"""Ingest throughput against the raw DICOM read speed of the same files, measured in the same run.

Writes a 20-scan full-size (512 x 512) COCA-layout release with cacscore.phantom.write_release,
then times
  raw:    pydicom.dcmread(f) + ds.pixel_array for every slice file, one process (the baseline)
  ingest: cacscore.regress.cache.ingest(release, cache, workers=N) into a fresh cache, N = 1 and 2
and prints scans/s, MB/s (DICOM bytes on disk) and the ratio ingest / raw. Target: >= 0.5 with 2 workers.
A last, diagnostic 2-worker run reuses page-cache memory freed just before (see the comment there).

Usage: .venv/bin/python bench/bench_ingest.py [--scans 20] [--size 512] [--data DIR] [--keep]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import pydicom

from cacscore.io.inputs import cohort_from_source
from cacscore.regress.cache import ingest
from cacscore.phantom import write_release
from cacscore.regress.preprocess import PreprocessConfig


def make_release(out: Path, n: int, size: int) -> str:
    write_release(out, n_patients=n, seed=0, size=size, workers=2)
    return "cacscore.phantom.write_release"


def raw_read(files: list[Path]) -> float:
    t = time.perf_counter()
    for f in files:
        pydicom.dcmread(f).pixel_array
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scans", type=int, default=20)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--data", type=Path, default=None, help="reuse / keep the release here")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    release = args.data or work / "release"
    if not (release / "deidentified_nongated").is_dir():
        t = time.perf_counter()
        how = make_release(release, args.scans, args.size)
        print(f"release: {args.scans} scans via {how} in {time.perf_counter() - t:.1f} s")
    files = sorted(p for p in (release / "deidentified_nongated").rglob("*.dcm"))
    n_scans = len({f.parent for f in files})
    mb = sum(f.stat().st_size for f in files) / 1e6
    print(f"data: {n_scans} scans, {len(files)} files, {mb:.0f} MB, {os.cpu_count()} CPUs")
    raw_read(files[: min(50, len(files))])  # warm the page cache and imports for both
    cohort_from_source(release)  # and ingest's own imports (openpyxl for scores.xlsx, ~0.1 s once)
    t_raw = raw_read(files)
    print(f"raw read (dcmread + pixel_array, 1 process): {n_scans / t_raw:6.2f} scans/s {mb / t_raw:7.1f} MB/s")
    cfg = PreprocessConfig(size=args.size)
    for workers in (2, 1):
        cache = work / f"cache{workers}"
        t = time.perf_counter()
        man = ingest(release, cache, config=cfg, workers=workers, progress=False)
        dt = time.perf_counter() - t
        ok = int((man["status"] == "ok").sum())
        print(f"ingest workers={workers}: {ok}/{len(man)} ok, {n_scans / dt:6.2f} scans/s {mb / dt:7.1f} MB/s, "
              f"ratio to raw read {t_raw / dt:.2f}" + ("  (target >= 0.5)" if workers == 2 else ""))
        shutil.rmtree(cache)
    # Diagnostic, not the target: the 2-worker ingest once more, right after the 1-worker cache
    # was deleted. On a VM that hands free memory back to its host (virtio-balloon free page
    # reporting), pages free for a few seconds cost a host fault at first touch; this run starts
    # on pages freed a moment ago. ingest evicts each scan file behind itself, so its writes reuse
    # their own pages and the two 2-worker lines should agree; a gap between them is that VM cost.
    cache = work / "cache2b"
    t = time.perf_counter()
    ingest(release, cache, config=cfg, workers=2, progress=False)
    dt = time.perf_counter() - t
    print(f"ingest workers=2 again, page cache recycled (diagnostic): {n_scans / dt:6.2f} scans/s {mb / dt:7.1f} MB/s, "
          f"ratio to raw read {t_raw / dt:.2f}")
    shutil.rmtree(cache)
    t_raw2 = raw_read(files)  # again: the machine's load drifts; report both raw timings
    print(f"raw read again after ingest:                 {n_scans / t_raw2:6.2f} scans/s {mb / t_raw2:7.1f} MB/s "
          f"(ratios above use the first; with this one the 2-worker ratio scales by {t_raw2 / t_raw:.2f})")
    if not args.keep and args.data is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
