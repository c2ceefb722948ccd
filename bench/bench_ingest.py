"""Ingest throughput against the raw DICOM read speed of the same files, measured in the same run.

Writes a 20-scan full-size (512 x 512) COCA-layout release with cacscore.phantom.write_release
(or, where that is not available, with a plain pydicom writer of synthetic chests: 5 mm slices,
60-70 per scan, unsigned 12-bit, intercept -1024, no UIDs), then times
  raw:    pydicom.dcmread(f) + ds.pixel_array for every slice file, one process (the baseline)
  ingest: cacscore.cache.ingest(release, cache, workers=N) into a fresh cache, N = 1 and 2
and prints scans/s, MB/s (DICOM bytes on disk) and the ratio ingest / raw. Target: >= 0.5 with 2 workers.

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

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from cacscore.cache import ingest
from cacscore.preprocess import PreprocessConfig


def _fallback_release(out: Path, n: int, size: int, seed: int = 0) -> None:
    """COCA-like release of synthetic chests written with pydicom (used when the phantom is absent)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    ng = out / "deidentified_nongated"
    yy, xx = np.mgrid[0:size, 0:size]
    c = (size - 1) / 2
    body = ((yy - c) / (0.36 * size)) ** 2 + ((xx - c) / (0.45 * size)) ** 2 <= 1
    lungs = np.zeros_like(body)
    for sx in (-1, 1):
        lungs |= ((yy - c) / (0.22 * size)) ** 2 + ((xx - c - sx * 0.2 * size) / (0.12 * size)) ** 2 <= 1
    base = np.where(body, 40, -1000) + np.where(lungs, -890, 0)
    rows = []
    for pid in range(1, n + 1):
        nz = int(rng.integers(60, 71))
        folder = ng / str(pid) / str(pid)
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(nz):
            hu = base + rng.normal(0, 15, base.shape)
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = CTImageStorage
            meta.MediaStorageSOPInstanceUID = generate_uid()
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds = Dataset()
            ds.file_meta = meta
            ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = CTImageStorage, meta.MediaStorageSOPInstanceUID, "CT"
            ds.ImageOrientationPatient = [1.0, 0, 0, 0, 1.0, 0]
            ds.ImagePositionPatient = [-180.0, -180.0, -300.0 + 5.0 * k]
            ds.SliceLocation = 300.0 - 5.0 * k
            ds.InstanceNumber = nz - k
            ds.SliceThickness, ds.PixelSpacing, ds.KVP, ds.Manufacturer = 5.0, [0.7, 0.7], 120, "SIEMENS"
            ds.Rows = ds.Columns = size
            ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
            ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
            ds.PixelData = np.clip(np.rint(hu + 1024), 0, 4095).astype(np.uint16).tobytes()
            ds.save_as(folder / f"IM-0001-{k + 1:04d}.dcm", enforce_file_format=True)
        rows.append([f"{pid}A", 0.0, 0.0, 0.0, 0.0, 0.0])
    pd.DataFrame(rows, columns=["filename ", "LCA", "LAD", "LCX", "RCA", "total"]).to_excel(ng / "scores.xlsx", index=False)


def make_release(out: Path, n: int, size: int) -> str:
    try:
        from cacscore.phantom import write_release  # helper B's phantom (issue 3)
    except ImportError:
        write_release = None
    if write_release is not None:
        write_release(out, n_patients=n, seed=0, size=size, workers=2)
        return "cacscore.phantom.write_release"
    _fallback_release(out, n, size)
    return "fallback pydicom writer (cacscore.phantom.write_release not available)"


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
    t_raw2 = raw_read(files)  # again: the machine's load drifts; report both raw timings
    print(f"raw read again after ingest:                 {n_scans / t_raw2:6.2f} scans/s {mb / t_raw2:7.1f} MB/s "
          f"(ratios above use the first; with this one the 2-worker ratio scales by {t_raw2 / t_raw:.2f})")
    if not args.keep and args.data is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
