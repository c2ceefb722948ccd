"""Cohort cache: a cohort of CT series preprocessed once into memory-mappable int16 HU arrays.

Layout::

    CACHE/config.json         PreprocessConfig (to_dict) + format version
    CACHE/manifest.csv        one row per scan: id, source, status (ok | error), error, shape,
                              spacing, LCA, LAD, LCX, RCA, total, coca_total, flags, ...
    CACHE/scans/<id>.npy      int16 HU (slices, size, size), read with np.load(mmap_mode="r")

``total`` is the target total: for a COCA root the vessel sum (COCA's own total is kept in
``coca_total``; disagreements carry the flag ``total_mismatch``). Every file is written to a
temporary name and renamed (os.replace), so an interrupted run leaves no half-written scan; a
rerun verifies finished scans (shape, dtype, file size) and that each came from the same source
files (``source_files``: a hash of the source's file names, sizes and modification times), and
skips them; a scan whose source changed (another release into the same cache) is read again.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import re
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from cacscore.core.errors import one_line
from cacscore.core.fileio import atomic_path, atomic_write_text, output_lock, remove_stale_temps
from cacscore.core.parallel import stopping_pool, watch_parent
from cacscore.io.dicom import read_series
from cacscore.io.inputs import cohort_from_source
from cacscore.regress.preprocess import PAD_HU, PreprocessConfig, preprocess_block
from cacscore.core.vessels import VESSELS

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST_COLUMNS = ["id", "source", "status", "error", "shape", "spacing", *VESSELS, "total", "coca_total",
                    "flags", "input_shape", "input_spacing", "thickness_mm", "kvp", "manufacturer", "contrast",
                    "corrections", "heart_index", "seconds", "source_files"]
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


# ------------------------------------------------------------------ sources


# ------------------------------------------------------------------ files
def _read_cache_config(path: Path) -> dict:
    """CACHE/config.json as a dict with a "preprocess" dict; ValueError naming the file otherwise."""
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid JSON ({one_line(exc)}); a damaged cache: "
                         "use a new cache folder") from None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("preprocess"), dict):
        raise ValueError(f"{path}: not a cohort cache config (no 'preprocess' settings); use a new cache folder")
    return cfg


def _read_manifest(path: Path) -> pd.DataFrame:
    """CACHE/manifest.csv; ValueError naming the file when it is unreadable or lacks id/status."""
    try:
        df = pd.read_csv(path, dtype={"id": str, "source": str, "source_files": str}, keep_default_na=False,
                         na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the cache manifest ({type(exc).__name__}: {one_line(exc)}); "
                         "delete it to redo every scan, or use a new cache folder") from None
    missing = [c for c in ("id", "status") if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: not a cache manifest (no column(s) {missing}); delete it to redo every scan, "
                         "or use a new cache folder")
    return df


def verify_scan(path: Path, config: PreprocessConfig) -> bool:
    """True when ``path`` is a complete int16 (slices, size, size) .npy file."""
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception:
        return False
    ok = (isinstance(arr, np.memmap) and arr.dtype == np.int16
          and arr.shape == (config.slices, config.size, config.size)
          and arr.offset + arr.nbytes == path.stat().st_size)
    del arr
    return bool(ok)


def write_scan(path: Path, block: np.ndarray, pad_before: int, pad_after: int) -> None:
    """Write the .npy of ``pad_before`` air slices + ``block`` (k, H, W) int16 + ``pad_after`` air
    slices atomically, the same bytes as ``np.save`` of the assembled array, without assembling it.

    np.save can only write an array that exists; streaming the parts saves a 38 MB allocation
    and copy per 512 px scan. The header comes from numpy.lib.format, as np.save writes it.
    """
    block = np.ascontiguousarray(block, dtype=np.int16)
    shape = (pad_before + block.shape[0] + pad_after, *block.shape[1:])
    header = {"descr": np.lib.format.dtype_to_descr(block.dtype), "fortran_order": False, "shape": shape}
    air = np.full(block.shape[1:], PAD_HU, dtype=np.int16)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        fh.writelines([air.data] * pad_before + [block.data] + [air.data] * pad_after)


def source_fingerprint(source: str | Path | None) -> str:
    """A short hash of the files under ``source`` (resolved path, relative names, sizes, modification times):
    it changes when the source is another folder, or when any of its files is added, removed or rewritten.
    Metadata only (no file is read), so resuming a 1000-scan cache costs a directory walk per scan."""
    if not source:
        return ""
    root = Path(source)
    h = hashlib.sha1(str(root.resolve()).encode())
    if root.is_file():
        entries = [root]
    elif root.is_dir():
        entries = sorted(p for p in root.rglob("*") if p.is_file())
    else:
        return ""
    for p in entries:
        st = p.stat()
        h.update(f"\0{p.relative_to(root) if p != root else p.name}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


# ------------------------------------------------------------------ one scan (runs in a worker)
# The scan file this process wrote last (at most one): see _evict_behind.
_written_last: list[Path] = []


def _drop_cached(path: Path) -> None:
    """POSIX_FADV_DONTNEED on ``path``: starts writing its dirty pages back, drops its clean ones."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except OSError:
        pass
    finally:
        os.close(fd)


def _evict_behind(path: Path) -> None:
    """Start writing ``path`` back to disk, and drop the previous scan file's pages from the page cache.

    A cohort cache is written once and read later; keeping 38 MB per 512 px scan in the page
    cache buys little, and each new scan file otherwise takes fresh pages from free memory, which
    on a VM that hands free memory back to its host (virtio-balloon free page reporting, as on the
    project's machines) costs a host fault per page: more CPU than the rest of the write. One scan
    behind, the previous file has been written back, so its pages are dropped and the next file
    reuses them. Advice only (contents, atomicity, durability unchanged); where the platform has no
    posix_fadvise nothing happens. Measured gain: docs/ingestion.md.
    """
    if not hasattr(os, "posix_fadvise"):
        return
    _drop_cached(path)
    if _written_last:
        _drop_cached(_written_last.pop())
    _written_last.append(path)


def _worker_init() -> None:
    """Pool worker start: move every object inherited from the parent out of the garbage
    collector's reach (gc.freeze). A worker forked from a large parent (pandas, scipy, pydicom
    loaded) otherwise re-traverses all of them at each full collection, which touches, and so
    copies, the parent's memory pages (copy-on-write). Only ingest's own worker processes do this.
    """
    gc.freeze()
    watch_parent()


def _process(job: dict, scans_dir: str, config_dict: dict) -> dict:
    config = PreprocessConfig.from_dict(config_dict)
    row = {k: job.get(k) for k in ("id", "source", *VESSELS, "total", "coca_total", "flags")}
    t0 = time.perf_counter()
    try:
        if job.get("error"):  # a bad row of the source table (cohort_from_source says why)
            raise ValueError(job["error"])
        if not _SAFE_ID.match(row["id"]):
            raise ValueError(f"id {row['id']!r}: not usable as a file name")
        if not job.get("source"):
            raise ValueError(f"patient {row['id']}: score row without an image folder")
        # int16 HU where exact (slope 1, integral intercept, no resampling): no float32 stack
        row["source_files"] = source_fingerprint(job["source"])  # before the read: a file changing during it shows
        vol = read_series(job["source"], exact_int16=True)
        info: dict = {}
        block, before, after = preprocess_block(vol, config, info=info)
        write_scan(Path(scans_dir) / f"{row['id']}.npy", block, before, after)
        _evict_behind(Path(scans_dir) / f"{row['id']}.npy")
        out_shape = (before + block.shape[0] + after, *block.shape[1:])
        dz = info["z_spacing_mm"]
        sy, sx = info["pixel_mm"]
        row.update(status="ok", error="", shape="x".join(map(str, out_shape)),
                   spacing="x".join(f"{s:.4g}" for s in (dz, sy, sx)),
                   input_shape="x".join(map(str, vol.hu.shape)),
                   input_spacing="x".join(f"{s:.4g}" for s in vol.spacing_mm),
                   thickness_mm=vol.slice_thickness_mm, kvp=vol.kvp, manufacturer=vol.manufacturer,
                   contrast=vol.contrast, corrections=";".join(vol.meta.get("corrections", [])),
                   heart_index=info.get("centre_index"))
    except Exception as exc:  # one bad scan never stops the cohort: its row carries the reason
        msg = one_line(exc)
        if job.get("source") and str(job["source"]) not in msg:
            msg = f"{job['source']}: {msg}"
        row.update(status="error", error=msg, shape="", spacing="")
    row["seconds"] = round(time.perf_counter() - t0, 3)
    return row


# ------------------------------------------------------------------ the cohort
def _still_valid(prev: dict | None, job: dict, npy: Path, config: PreprocessConfig) -> bool:
    """A cached scan can be kept: its row is ok, from the same source path and the same source files (a cache
    written before the fingerprint existed has none: read again), and its .npy is complete."""
    if prev is None or prev.get("status") != "ok":
        return False
    if str(prev.get("source") or "") != str(job.get("source") or ""):
        return False
    old = prev.get("source_files")
    if not isinstance(old, str) or not old or old != source_fingerprint(job.get("source")):
        return False
    return verify_scan(npy, config)


def ingest(source: str | Path, cache: str | Path, *, config: PreprocessConfig = PreprocessConfig(),
           workers: int = 1, progress: bool = True) -> pd.DataFrame:
    """Read SOURCE (COCA root, folder of patient folders, or CSV) into a cohort cache; returns the manifest.

    Resumable: scans already in the cache with an ok manifest row, the same source files and a verified file are
    skipped. Raises ValueError when the cache was written with a different PreprocessConfig, OutputLockedError
    when another ingest is writing the cache. Temporary files an interrupted run left are removed first.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    cache = Path(cache)
    if cache.exists() and not cache.is_dir():
        raise ValueError(f"{cache}: is a file; CACHE must be a folder (new or an earlier cache)")
    jobs = cohort_from_source(source)  # a bad source is refused before anything is created
    with output_lock([cache]):  # two ingests into one cache would interleave scans and manifests
        for folder in (cache, cache / "scans"):
            remove_stale_temps(folder)
        return _ingest(source, cache, jobs, config, workers, progress)


def _ingest(source: str | Path, cache: Path, jobs: list[dict], config: PreprocessConfig, workers: int,
            progress: bool) -> pd.DataFrame:
    scans = cache / "scans"
    cfg_path = cache / "config.json"
    cfg = {"format_version": FORMAT_VERSION, "preprocess": config.to_dict()}
    if cfg_path.exists():
        old = _read_cache_config(cfg_path)
        if old.get("preprocess") != cfg["preprocess"]:
            raise ValueError(f"{cfg_path}: cache was built with {old.get('preprocess')}, not {cfg['preprocess']}; "
                             "use a new cache folder")
    scans.mkdir(parents=True, exist_ok=True)
    if not cfg_path.exists():
        atomic_write_text(cfg_path, json.dumps(cfg, indent=2) + "\n")
    ids = [j["id"] for j in jobs]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ValueError(f"{source}: duplicate id(s) {dup}")
    prev: dict[str, dict] = {}
    man_path = cache / "manifest.csv"
    if man_path.exists():
        old_man = _read_manifest(man_path)
        prev = {r["id"]: r for r in old_man.to_dict("records")}
    rows: dict[str, dict] = {}
    todo = []
    for j in jobs:
        p = prev.get(j["id"])
        if _still_valid(p, j, scans / f"{j['id']}.npy", config):
            p.update({k: j.get(k) for k in ("source", *VESSELS, "total", "coca_total", "flags")})
            rows[j["id"]] = p
        else:
            todo.append(j)
    if rows:
        log.info("%s: %d scan(s) already cached and verified, skipped", cache, len(rows))
    stale = [j["id"] for j in todo if (prev.get(j["id"]) or {}).get("status") == "ok"]
    if stale:  # e.g. another release ingested into this cache: its images must not keep the old scans
        log.warning("%s: %d cached scan(s) came from other source files (%s); read again", cache, len(stale),
                    ", ".join(stale[:5]) + (" ..." if len(stale) > 5 else ""))

    def write_manifest() -> pd.DataFrame:
        df = pd.DataFrame([rows[i] for i in ids if i in rows], columns=MANIFEST_COLUMNS)
        atomic_write_text(man_path, df.to_csv(index=False))
        return df

    bar = tqdm(total=len(todo), desc="ingest", unit="scan", disable=not progress or not todo)
    cfg_d = config.to_dict()
    done = 0
    if workers == 1 or len(todo) <= 1:
        for j in todo:
            rows[j["id"]] = _process(j, str(scans), cfg_d)
            bar.update()
            done += 1
            if done % 10 == 0:
                write_manifest()
    else:
        with ProcessPoolExecutor(max_workers=workers, initializer=_worker_init) as pool, stopping_pool(pool):
            futs = {pool.submit(_process, j, str(scans), cfg_d): j for j in todo}
            for fut in as_completed(futs):
                j = futs[fut]
                try:
                    rows[j["id"]] = fut.result()
                except Exception as exc:  # a worker that died (e.g. out of memory)
                    rows[j["id"]] = {**{k: j.get(k) for k in ("id", "source", *VESSELS, "total", "coca_total", "flags")},
                                     "status": "error", "error": f"{j['source']}: worker failed: {one_line(exc)}"}
                bar.update()
                done += 1
                if done % 10 == 0:
                    write_manifest()
    bar.close()
    df = write_manifest()
    n_err = int((df["status"] != "ok").sum())
    for r in df[df["status"] != "ok"].itertuples():
        log.warning("%s: %s", r.id, r.error)
    log.info("%s: %d scan(s) ok, %d error(s)", cache, len(df) - n_err, n_err)
    return df


class CohortCache:
    """Reader of a cohort cache (training and prediction).

    ids: ids of status == ok rows in manifest order; targets: (N, 4) float64 Agatston LCA, LAD,
    LCX, RCA (NaN where unknown); totals: (N,) target totals; manifest: the full manifest;
    config: the PreprocessConfig the cache was built with.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        man = self.path / "manifest.csv"
        cfg = self.path / "config.json"
        if not man.is_file() or not cfg.is_file():
            raise ValueError(f"{self.path}: not a cohort cache (needs manifest.csv and config.json)")
        self.manifest = _read_manifest(man)
        settings = _read_cache_config(cfg)["preprocess"]
        try:
            self.config = PreprocessConfig.from_dict(settings)
        except (TypeError, ValueError) as exc:  # a setting of the wrong type or value
            raise ValueError(f"{cfg}: bad preprocess settings ({exc})") from None
        ok = self.manifest[self.manifest["status"] == "ok"]
        self.ids: list[str] = ok["id"].tolist()
        self.targets: np.ndarray = ok[list(VESSELS)].to_numpy(dtype=np.float64)
        self.totals: np.ndarray = ok["total"].to_numpy(dtype=np.float64)
        self._index = {i: k for k, i in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def load(self, id: str) -> np.ndarray:
        """int16 HU (slices, size, size) of scan ``id``, memory-mapped read-only."""
        if id not in self._index:
            raise KeyError(f"{self.path}: no ok scan with id {id!r}")
        arr = np.load(self.path / "scans" / f"{id}.npy", mmap_mode="r", allow_pickle=False)
        expect = (self.config.slices, self.config.size, self.config.size)
        if arr.dtype != np.int16 or arr.shape != expect:
            raise ValueError(f"{self.path}/scans/{id}.npy: {arr.dtype} {arr.shape}, expected int16 {expect}")
        return arr
