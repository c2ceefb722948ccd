"""`cacscore predict` with the shipped model on real chest CT: cold single-scan time and folder throughput, each
beside a raw read (``cacscore.io.ct.read_ct``) of the same files in the same run.

Issue 17's targets on 2 cores: one scan <= 5 s end to end, cold start included (a fresh ``cacscore predict``
process: imports, model load, read, score, table); a folder of 20 scans >= 1 scan/s with ``--workers 2``.

1. cold: ``cacscore predict SCAN`` as a new process, ``--repeats`` times (median wall and CPU = user + sys of the
   child); baseline: a new process that imports ``read_ct`` and reads the same series.
2. folder: ``--folder-scans`` scan folders made of hard links to the files of the given series in turn (each
   folder is a distinct scan to ``discover_inputs``, which counts a symlinked folder that resolves to the same
   series once), scored by ``cacscore predict FOLDER --workers 1`` and ``--workers 2``; baseline: ``read_ct`` of
   every folder in one process and in two. Every copy must get its series' total (checked).

    PYTHONPATH=src .venv/bin/python bench/predict_latency.py [--cold DIR] [--scans DIR ...] [--folder-scans 20]
        [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SCANS = [ROOT.parent / "shared" / "data" / f"lidc-idri-000{i}" for i in (1, 2, 3)]
CLI = [sys.executable, "-m", "cacscore.cli"]
READ = ("import sys; from concurrent.futures import ProcessPoolExecutor; from cacscore.io.ct import read_ct\n"
        "def read(p):\n    return read_ct(p).hu.shape  # not the volume: predict's workers send back scores only\n"
        "paths, workers = sys.argv[2:], int(sys.argv[1])\n"
        "if workers == 1:\n    [read(p) for p in paths]\n"
        "else:\n    with ProcessPoolExecutor(workers) as ex: list(ex.map(read, paths))\n")


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """(wall s, CPU s of the child: user + sys, stdout) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), out.stdout


def median_of(cmd: list[str], repeats: int) -> tuple[float, float, str]:
    runs = [timed(cmd) for _ in range(repeats)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), runs[-1][2]


def link_folder(series: list[Path], n: int, work: Path) -> tuple[Path, dict[str, Path]]:
    """work/folder/scan_<k>/: hard links (a copy where links are refused) to the files of series[k % len]."""
    folder = work / "folder"
    shutil.rmtree(folder, ignore_errors=True)
    source = {}
    for k in range(n):
        src = series[k % len(series)]
        dst = folder / f"scan_{k:02d}"
        dst.mkdir(parents=True)
        for f in src.iterdir():
            if f.is_file():
                try:
                    os.link(f, dst / f.name)
                except OSError:
                    shutil.copy2(f, dst / f.name)
        source[dst.name] = src
    return folder, source


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scans", type=Path, nargs="+", default=DEFAULT_SCANS,
                    help="DICOM series the folder is made of, in turn (default: LIDC-IDRI-0001..3)")
    ap.add_argument("--cold", type=Path, default=DEFAULT_SCANS[1], help="the cold single scan (default LIDC-IDRI-0002)")
    ap.add_argument("--folder-scans", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    cold_scan = args.cold
    n_files = sum(1 for f in cold_scan.iterdir() if f.is_file())
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start (other jobs inflate wall times; "
          f"CPU times much less)")

    w, c, out = median_of([*CLI, "predict", str(cold_scan)], args.repeats)
    rw, rc, _ = median_of([sys.executable, "-c", READ, "1", str(cold_scan)], args.repeats)
    print(f"\ncold single scan ({cold_scan.name}, {n_files} files; median of {args.repeats} fresh processes):")
    print(f"  cacscore predict   wall {w:6.2f} s   CPU {c:6.2f} s   target <= 5 s: {'MET' if w <= 5 else 'NOT MET'}")
    print(f"  read_ct baseline   wall {rw:6.2f} s   CPU {rc:6.2f} s   predict / read: wall {w / rw:.1f}x, CPU {c / rc:.1f}x")
    print("  " + out.strip().splitlines()[1][:100])

    tmp = tempfile.TemporaryDirectory(prefix="cacscore-latency-") if args.workdir is None else None
    work = Path(tmp.name) if tmp else args.workdir
    work.mkdir(parents=True, exist_ok=True)
    folder, source = link_folder(list(args.scans), args.folder_scans, work)
    paths = [str(p) for p in sorted(folder.iterdir())]
    n = len(paths)
    print(f"\nfolder of {n} scans ({folder}; hard links to {', '.join(s.name for s in args.scans)} in turn):")
    rows = {}
    for workers in (1, 2):
        csv = work / f"w{workers}.csv"
        pw, pc, _ = timed([*CLI, "predict", str(folder), "--workers", str(workers), "--out", str(csv)])
        bw, bc, _ = timed([sys.executable, "-c", READ, str(workers), *paths])
        rows[workers] = pd.read_csv(csv, dtype={"id": str})
        print(f"  workers {workers}: predict {pw:6.1f} s = {n / pw:.2f} scans/s (CPU {pc:.1f} s)   read_ct "
              f"{bw:6.1f} s = {n / bw:.2f} scans/s (CPU {bc:.1f} s)   predict / read: {pw / bw:.1f}x"
              + ("   target >= 1 scan/s: " + ("MET" if n / pw >= 1 else "NOT MET") if workers == 2 else ""))
    for workers, table in rows.items():
        assert len(table) == n, f"workers {workers}: {len(table)} rows for {n} scans"
        totals = table.groupby(table["id"].map(lambda i: source[i].name))["total"].nunique()
        assert (totals == 1).all(), f"copies of one series scored differently: {totals}"
    both = rows[1].set_index("id")["total"].sort_index(), rows[2].set_index("id")["total"].sort_index()
    assert both[0].equals(both[1]), "workers 1 and 2 gave different totals"
    print("  every copy got its series' total, the same with 1 and 2 workers: "
          + ", ".join(f"{s.name} {rows[1].set_index('id')['total'][k]:.1f}" for k, s in list(source.items())[:len(args.scans)]))
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
