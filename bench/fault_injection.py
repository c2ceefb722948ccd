"""Fault injection for issue 18 ("never a silently wrong score"): every case of docs/ingestion.md's integrity table,
run through the real commands on a small phantom release and on the real LIDC-IDRI series, one line per case with
its verdict (PASS: the fault is refused or flagged as the table says; FAIL: it is not).

Usage: .venv/bin/python bench/fault_injection.py [--out DIR] [--patients 8] [--seed 5] [--size 128]
       [--data ../shared/data]
Writes everything under --out (default: a temporary folder, removed at the end). About a minute on 2 cores: the
two phantom releases, a lesion model trained on the first (lesion-train defaults), LIDC-IDRI-0001 scored at 512 px.
The model is only there to run the commands: its scores of real CT mean little (a phantom-trained toy).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom

from cacscore.cli import main as cli_main
from cacscore.core.fileio import atomic_write_text
from cacscore.io.dicom import DicomError, Volume, find_series, read_series
from cacscore.io.inputs import cohort_from_source, discover_inputs
from cacscore.predict.checks import anatomy_warnings

CLI = Path(sys.executable).parent / "cacscore"


def cli(*argv) -> tuple[int, str, str]:
    """One command in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli_main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


class Bench:
    def __init__(self, root: Path, patients: int, seed: int, size: int, data: Path) -> None:
        self.root, self.data = root, data
        self.a, self.b = root / "A", root / "B"
        for rel, s in ((self.a, seed), (self.b, seed + 1)):
            rc, _, err = cli("phantom", rel, "--patients", patients, "--seed", s, "--size", size)
            assert rc == 0, err
        self.model = root / "model"
        rc, _, err = cli("lesion-train", self.a, self.model, "--no-progress")
        assert rc == 0, err
        self.lidc = {c: data / f"lidc-idri-{c}" for c in ("0001", "0002", "0003")}

    def series(self, pid: int = 1, rel: Path | None = None) -> Path:
        return (rel or self.a) / "deidentified_nongated" / str(pid) / str(pid)

    def tmp(self, name: str) -> Path:
        p = self.root / name
        shutil.rmtree(p, ignore_errors=True)
        return p

    # ---------------------------------------------------------------- silent wrong results
    def case01(self):
        k = self.tmp("K1")
        opts = ["--size", "32", "--slices", "8", "--no-progress"]
        cli("ingest", self.a, k, *opts)
        before = np.load(k / "scans" / "1.npy")
        cli("ingest", self.b, k, *opts)
        after = np.load(k / "scans" / "1.npy")
        man = pd.read_csv(k / "manifest.csv", dtype=str)
        fresh = self.tmp("K1b")
        cli("ingest", self.b, fresh, *opts)
        same = np.array_equal(after, np.load(fresh / "scans" / "1.npy"))
        return (same and not np.array_equal(before, after) and man["source"].str.contains(str(self.b)).all(),
                       f"scan 1 after re-ingest equals B's own ingest: {same}; differs from A's: "
                       f"{not np.array_equal(before, after)}")

    def case02(self):
        src = self.lidc["0001"]
        folder = self.tmp("lidc1_top_emptied")
        shutil.copytree(src, folder)
        files = sorted(folder.glob("*.dcm"))
        z = {f: float(pydicom.dcmread(f, stop_before_pixels=True).ImagePositionPatient[2]) for f in files}
        top = sorted(files, key=z.get)[-50:]
        rc0, out0, _ = cli("lesion-score", self.model, src, "--json", "--no-progress")
        for f in top:
            f.write_bytes(b"")
        rc1, _, err1 = cli("lesion-score", self.model, folder, "--no-progress")
        rc2, out2, _ = cli("lesion-score", self.model, folder, "--json", "--no-progress", "--skip-unreadable")
        whole, cut = json.loads(out0)[0], json.loads(out2)[0] if rc2 == 0 else {}
        named = top[0].name in err1 or any(f.name in err1 for f in top)
        warned = "cannot be read" in cut.get("warnings", "")
        return (rc1 == 2 and named and warned,
                       f"LIDC-0001, 50 top files emptied: refused (exit {rc1}, files named: {named}); with "
                       f"--skip-unreadable (what the old code did silently) total {cut.get('total', float('nan')):.1f} "
                       f"vs intact {whole['total']:.1f}, warning given: {warned}")

    def case03(self):
        folder = self.tmp("lidc_1_plus_3")
        shutil.copytree(self.lidc["0001"], folder)
        for f in self.lidc["0003"].glob("*.dcm"):
            shutil.copy(f, folder / f"p3-{f.name}")
        rc, _, err = cli("lesion-score", self.model, folder, "--no-progress")
        uid = str(pydicom.dcmread(next(self.lidc["0003"].glob("*.dcm")), stop_before_pixels=True).SeriesInstanceUID)
        listing = [s.summary() for s in find_series(folder)]
        pick = next(i for i, s in enumerate(find_series(folder)) if s.folder == folder and s.frames == 133)
        rc2, _, err2 = cli("lesion-score", self.model, folder, "--series", pick, "--no-progress")
        return (rc == 2 and "different patients" in err and uid not in err and rc2 == 0,
                       f"LIDC-0001 + LIDC-0003 in one folder: exit {rc} ('different patients' said: "
                       f"{'different patients' in err}, UID shown: {uid in err}); --series {pick}: exit {rc2}; "
                       f"{len(listing)} series listed")

    def case04(self):
        vol = read_series(self.lidc["0002"])
        chest = anatomy_warnings(vol)
        two = anatomy_warnings(Volume(hu=vol.hu[100:102], spacing_mm=vol.spacing_mm))
        narrow = anatomy_warnings(Volume(hu=vol.hu[:, 160:352, 160:352], spacing_mm=vol.spacing_mm))
        yy, xx = np.mgrid[:256, :256] - 127.5
        r = np.hypot(yy / 1.2, xx)
        head = np.where(r < 150, np.where(r > 135, 1200.0, 35.0), -1000.0).astype(np.float32)
        head_w = anatomy_warnings(Volume(hu=np.repeat(head[None], 30, 0), spacing_mm=(5.0, 0.5, 0.5)))
        nii = self.root / "head.nii.gz"
        import nibabel as nib

        nib.save(nib.Nifti1Image(np.repeat(head[None], 30, 0).transpose(2, 1, 0), np.diag([0.5, 0.5, 5, 1])), nii)
        rc, out, _ = cli("lesion-score", self.model, nii, "--json", "--no-progress")
        cli_warned = rc == 0 and "not a chest CT" in json.loads(out)[0]["warnings"]
        ok = (not chest and any("heart not covered" in w for w in two) and any("field of view" in w for w in narrow)
              and any("not a chest CT" in w for w in head_w) and cli_warned)
        return (ok, f"LIDC-0002 whole: {len(chest)} warning(s); 2 slices: {len(two)}; 134 mm FOV: "
                           f"{len(narrow)}; synthetic head: {len(head_w)} (lesion-score says it: {cli_warned})")

    def case05(self):
        root = self.tmp("patients_plus_notes")
        root.mkdir()
        for c in ("0001", "0002"):
            os.symlink(self.lidc[c], root / f"lidc-{c}")
        (root / "notes.txt").write_text("notes")
        scans, _ = discover_inputs([root])
        jobs = cohort_from_source(root)
        ids = [s.id for s in scans]
        return (ids == ["lidc-0001", "lidc-0002"] and [j["id"] for j in jobs] == ids,
                       f"folder of 2 LIDC patients + notes.txt: predict/lesion-score ids {ids}, ingest ids "
                       f"{[j['id'] for j in jobs]}")

    # ---------------------------------------------------------------- losing work
    def case06(self):
        out = self.root / "existing.csv"
        out.write_text("id,total\nold,1\n")
        rc, _, _ = cli("predict", "--model", self.model, self.root / "nonexistent", "--out", out)
        rc2, _, _ = cli("lesion-score", self.model, self.root / "nonexistent", "--out", out, "--no-progress")
        kept = out.read_text() == "id,total\nold,1\n"
        return (kept and rc != 0 and rc2 != 0, f"predict exit {rc}, lesion-score exit {rc2}; earlier table "
                                                      f"kept: {kept}")

    def case07(self):
        t0 = time.perf_counter()
        rc, _, err = cli("predict", "--model", self.model, self.series(), "--out", "/sys/cacscore_out.csv")
        dt = time.perf_counter() - t0
        return (rc == 2 and "/sys/cacscore_out.csv" in err and ".tmp" not in err,
                       f"exit {rc} after {dt:.2f} s: {err.strip()[:110]}")

    def case08(self):
        from filelock import FileLock

        out = self.root / "locked.csv"
        with FileLock(str(self.root / ".locked.csv.lock")):
            rc, _, err = cli("predict", "--model", self.model, self.series(), "--out", out)
        return (rc == 2 and "another cacscore run" in err and not out.exists(),
                       f"second run: exit {rc}: {err.strip()[:100]}")

    def case09(self):
        rel = self.tmp("rel9")
        cli("phantom", rel, "--patients", 3, "--size", 16)
        rc, _, err = cli("phantom", rel, "--patients", 2, "--size", 16)
        rc2, _, _ = cli("phantom", rel, "--patients", 2, "--size", 16, "--overwrite")
        left = sorted(p.name for p in (rel / "deidentified_nongated").iterdir() if p.is_dir())
        return (rc == 2 and rc2 == 0 and left == ["1", "2"],
                       f"over a 3-patient release: exit {rc}; --overwrite: exit {rc2}, patients {left}")

    # ---------------------------------------------------------------- process hygiene
    def case10(self):
        k = self.tmp("K10")
        cohort = self.tmp("lidc_cohort")  # the 3 real series at 512 px: slow enough to be killed mid-run
        cohort.mkdir()
        for c, path in self.lidc.items():
            os.symlink(path, cohort / f"lidc-{c}")
        proc = subprocess.Popen([str(CLI), "ingest", str(cohort), str(k), "--workers", "2", "--size", "128",
                                 "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        workers: list[int] = []
        deadline = time.time() + 60
        while time.time() < deadline and len(workers) < 2 and proc.poll() is None:
            try:
                workers = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
            except OSError:
                pass
            time.sleep(0.05)
        if len(workers) < 2:
            proc.wait()
            return (False, "ingest ended before its workers were seen")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        end = time.time() + 10
        while time.time() < end and any(_alive(p) for p in workers):
            time.sleep(0.1)
        orphans = [p for p in workers if _alive(p)]
        (k / "scans").mkdir(parents=True, exist_ok=True)
        (k / "scans" / ".9.npy.4194303.deadbeef.tmp").write_bytes(b"x")  # as a killed writer leaves it
        rc, _, _ = cli("ingest", cohort, k, "--size", "128", "--no-progress")
        stale = [p.name for p in (k / "scans").iterdir() if p.name.endswith(".tmp")]
        return (not orphans and not stale and rc == 0,
                       f"SIGKILL on ingest --workers 2 of the 3 LIDC series: {len(orphans)} worker(s) left; rerun exit {rc}, "
                       f"{len(stale)} temp file(s) left")

    def case11(self):
        root = self.tmp("cohort11")
        shutil.copytree(self.series(1), root / "good")
        (root / "bad").mkdir()
        (root / "bad" / "x.dcm").write_bytes(b"")
        rc, _, _ = cli("ingest", root, self.root / "K11", "--size", "32", "--slices", "8", "--no-progress")
        return (rc == 1, f"one good and one broken case: exit {rc}")

    def case12(self):
        folder = self.tmp("lidc2_extras")
        folder.mkdir()
        for f in self.lidc["0002"].iterdir():
            os.symlink(f, folder / f.name)
        (folder / "extras").mkdir()
        (folder / "extras" / "protocol.txt").write_text("x")
        scans, _ = discover_inputs([folder])
        jobs = cohort_from_source(folder)
        same = [(s.id, str(s.path)) for s in scans] == [(j["id"], j["source"]) for j in jobs]
        return (same and len(jobs) == 1, f"LIDC-0002 + extras/: predict {len(scans)} scan(s), ingest "
                                                f"{len(jobs)} job(s), same: {same}")

    def case13(self):
        folder = self.tmp("lidc_1_plus_3")  # as in case 3
        shutil.copytree(self.lidc["0001"], folder)
        for f in self.lidc["0003"].glob("*.dcm"):
            shutil.copy(f, folder / f"p3-{f.name}")
        uids = {str(pydicom.dcmread(next(self.lidc[c].glob("*.dcm")), stop_before_pixels=True).SeriesInstanceUID)
                for c in ("0001", "0003")}
        out = self.root / "err.csv"
        cli("lesion-score", self.model, folder, self.series(), "--out", out, "--no-progress")
        text = out.read_text() + " ".join(s.summary() for s in find_series(folder))
        try:
            read_series(folder)
        except DicomError as exc:
            text += str(exc)
        leaked = [u for u in uids if u in text]
        os.chmod(out, 0o640)
        atomic_write_text(out, "x")
        mode = stat.S_IMODE(out.stat().st_mode)
        return (not leaked and mode == 0o640, f"UIDs in the CSV error column / listings / errors: {len(leaked)}; "
                                                     f"mode after replacing a 0640 file: {oct(mode)}")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


NAMES = {1: "re-ingest into an existing cache", 2: "unreadable / empty / truncated slice files",
         3: "two patients' series in one folder", 4: "not a chest CT, or not whole",
         5: "patient folders plus a loose file", 6: "a failed run and the previous CSV",
         7: "unwritable --out", 8: "two runs on one output", 9: "phantom OUT over a release",
         10: "killed ingest --workers 2", 11: "ingest exit code with failed cases",
         12: "one discovery rule (series + extras/)", 13: "UIDs in error text; file modes"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--patients", type=int, default=8)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = ap.parse_args()
    logging.disable(logging.WARNING)  # the commands' own log lines; each case's verdict says what matters
    root = args.out or Path(tempfile.mkdtemp(prefix="fault_injection_"))
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        b = Bench(root, args.patients, args.seed, args.size, args.data)
        print(f"phantom: {args.patients} patients, seed {args.seed}, {args.size} px; real: {args.data} "
              f"({time.perf_counter() - t0:.0f} s to set up)")
        n_pass = 0
        for k, name in NAMES.items():
            fn: Callable = getattr(b, f"case{k:02d}")
            t = time.perf_counter()
            try:
                ok, detail = fn()
            except Exception as exc:  # a case that crashes is a failed case, reported like the others
                ok, detail = False, f"{type(exc).__name__}: {' '.join(str(exc).split())[:150]}"
            n_pass += ok
            print(f"case {k:2d} {name:42s} {'PASS' if ok else 'FAIL'}  {detail} [{time.perf_counter() - t:.1f} s]",
                  flush=True)
        print(f"{n_pass}/{len(NAMES)} cases pass ({time.perf_counter() - t0:.0f} s)")
    finally:
        if args.out is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
