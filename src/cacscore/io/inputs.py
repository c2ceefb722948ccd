"""The one input discovery: which scans a list of paths names, and the jobs of a cohort source.

One rule for every command (``predict``, ``lesion-score`` and ``ingest``): a folder holding DICOM files directly
is one series (its sub-folders are read with it: an ``extras/`` beside the slices is part of the series folder);
a COCA root (deidentified_nongated/ or scores.xlsx) gives its patient folders; any other folder with sub-folders
gives one scan per sub-folder (loose non-DICOM files beside them, a notes.txt or a PNG, are ignored with a
note); a .csv is a cohort (columns id, path[, LCA, LAD, LCX, RCA]); a NIfTI file is one scan.

Ids are folder / file names, never DICOM header values, and unique: when several scans share a name, each gets
the shortest suffix of its path that tells them apart (``0/Pro_Gated``, ``1/Pro_Gated``); patient folders of a
COCA root or a folder of patient folders keep their folder name. Ids with '/' map to file names through
``cacscore.core.fileio.safe_name``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cacscore.core.errors import one_line
from cacscore.core.vessels import VESSELS
from cacscore.io.coca import NONGATED, read_coca_release
from cacscore.io.ct import is_nifti, strip_nifti

log = logging.getLogger(__name__)


# the first bytes of a DICOM file: "DICM" after the 128-byte preamble, or (no preamble, ACR-NEMA style) a group
# 0002 / 0008 tag in either byte order, as io.dicom accepts
_ACR_NEMA_STARTS = (b"\x08\x00", b"\x02\x00", b"\x00\x08", b"\x00\x02")


def looks_like_dicom(path: Path) -> bool:
    """True when the file starts like a DICOM file (132 bytes read; the header is not parsed)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return head[128:132] == b"DICM" or head[:2] in _ACR_NEMA_STARTS


def scan_folders(folder: Path) -> list[Path]:
    """The scan folders of a folder that is not a COCA root: itself when it holds DICOM files directly (one series,
    sub-folders included), else each non-hidden sub-folder (loose non-DICOM files ignored with a note), else
    itself (a folder of anything else, refused by the reader with its reason)."""
    files, subs = [], []
    for c in sorted(folder.iterdir(), key=lambda p: p.name):
        if c.name.startswith("."):
            continue
        if c.is_dir():
            subs.append(c)
        elif c.is_file():
            files.append(c)
    if any(looks_like_dicom(f) for f in files) or not subs:
        return [folder]
    if files:
        log.info("%s: %d loose non-DICOM file(s) ignored (%s); its %d sub-folder(s) are the scans", folder,
                 len(files), ", ".join(f.name for f in files[:3]) + (" ..." if len(files) > 3 else ""), len(subs))
    return subs


def cohort_from_source(source: str | Path) -> list[dict]:
    """Jobs (id, source path, targets, flags) for a COCA root, a folder of patient folders or a CSV.

    COCA root: holds deidentified_nongated/ (or is it); targets from scores.xlsx, total = vessel
    sum. CSV: columns id, path[, LCA, LAD, LCX, RCA]; relative paths are relative to the CSV.
    Folder: every non-hidden sub-folder is one patient (id = folder name), targets unknown; a
    folder without sub-folders is a single scan.
    """
    src = Path(source)
    jobs: list[dict] = []
    if src.is_file():
        if src.suffix.lower() != ".csv":
            raise ValueError(f"{src}: SOURCE must be a COCA root, a folder of patient folders or a .csv")
        import pandas as pd

        try:
            df = pd.read_csv(src, dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise ValueError(f"{src}: cannot read as CSV ({type(exc).__name__}: {one_line(exc)})") from None
        df.columns = [str(c).strip() for c in df.columns]
        if not {"id", "path"} <= set(df.columns):
            raise ValueError(f"{src}: CSV needs columns id, path[, LCA, LAD, LCX, RCA]; found {list(df.columns)}")
        if not len(df):
            raise ValueError(f"{src}: CSV has a header but no rows")
        df = df.apply(lambda col: col.str.strip())
        ids = df["id"][df["id"] != ""]
        if ids.duplicated().any():
            raise ValueError(f"{src}: duplicate id(s) {sorted(set(ids[ids.duplicated()]))}")
        for k, r in enumerate(df.to_dict("records"), start=2):  # line 1 is the header
            where = f"{src}: line {k}"
            problems = []
            if not r["id"]:
                problems.append("empty id cell")
            if not r["path"]:
                problems.append("empty path cell")
            t = {}
            for v in VESSELS:  # a blank cell: unknown target (NaN); anything else must be a score >= 0
                cell = r.get(v, "")
                try:
                    t[v] = float(cell) if cell else np.nan
                except ValueError:
                    t[v] = np.nan
                    problems.append(f"{v} {cell!r} is not a number")
                    continue
                if cell and not (np.isfinite(t[v]) and t[v] >= 0):
                    problems.append(f"{v} {cell!r} is not an Agatston score (finite, >= 0)")
                    t[v] = np.nan
            p = Path(r["path"]) if r["path"] else None
            vals = np.array(list(t.values()))
            job = {"id": r["id"] or f"(line {k})",
                   "source": str(p if p.is_absolute() else src.parent / p) if p is not None else None,
                   **t, "total": float(vals.sum()) if not np.isnan(vals).any() else np.nan,
                   "coca_total": np.nan, "flags": ""}
            if problems:  # this row becomes an error row; the other rows are ingested
                job["error"] = f"{where}: {'; '.join(problems)}"
            jobs.append(job)
        return jobs
    if not src.is_dir():
        raise ValueError(f"{src}: no such file or folder")
    if (src / NONGATED).is_dir() or (src / "scores.xlsx").is_file():
        table = read_coca_release(src)
        for r in table.itertuples(index=False):
            path = r.series_path if isinstance(r.series_path, str) and r.series_path else None
            jobs.append({"id": r.id, "source": path, **{v: getattr(r, v) for v in VESSELS},
                         "total": r.vessel_sum, "coca_total": r.total, "flags": r.flags})
        return jobs
    for p in scan_folders(src):
        jobs.append({"id": p.name, "source": str(p), **{v: np.nan for v in VESSELS}, "total": np.nan,
                     "coca_total": np.nan, "flags": ""})
    return jobs


@dataclass(frozen=True)
class ScanInput:
    """One scan to predict: id (output key), path (DICOM series folder or NIfTI file), kind."""

    id: str
    path: Path
    kind: str  # "dicom" | "nifti"


def _suffix_id(scan: ScanInput, k: int) -> str:
    parts = scan.path.parts[-k:]
    return "/".join((*parts[:-1], strip_nifti(parts[-1]) if scan.kind == "nifti" else parts[-1]))


def unique_ids(scans: Sequence[ScanInput]) -> list[ScanInput]:
    """The scans with unique ids: a scan named twice (same resolved path) is kept once; scans sharing an id get, as
    id, the shortest path suffix (the same length within the group) that tells them apart, never an error."""
    kept, seen = [], set()
    for s in scans:
        key = s.path.resolve()
        if key in seen:
            log.info("%s: named twice; scored once", s.path)
            continue
        seen.add(key)
        kept.append(s)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(kept):
        groups[s.id].append(i)
    ids = [s.id for s in kept]
    for members in (m for m in groups.values() if len(m) > 1):
        longest = max(len(kept[i].path.parts) for i in members)
        for k in range(1, longest + 1):
            cand = [_suffix_id(kept[i], k) for i in members]
            if len(set(cand)) == len(cand):
                break
        for i, c in zip(members, cand):
            ids[i] = c
    return [ScanInput(sid, s.path, s.kind) for sid, s in zip(ids, kept)]


def _add_cohort(source: Path, scans: list[ScanInput], problems: list[tuple[str, str]]) -> None:
    """The scans of a cohort source (COCA root, folder of patient folders or CSV) into ``scans``;
    an unreadable source goes to ``problems``."""
    try:
        jobs = cohort_from_source(source)
    except ValueError as exc:
        problems.append((str(source), str(exc)))
        return
    for j in jobs:
        if not j.get("source"):
            log.info("%s: patient %s has a score row but no image folder; nothing to predict", source, j["id"])
            continue
        src = Path(j["source"])
        scans.append(ScanInput(str(j["id"]), src, "nifti" if is_nifti(src) else "dicom"))


def discover_inputs(paths: Sequence[Path]) -> tuple[list[ScanInput], list[tuple[str, str]]]:
    """Scans named by ``paths``: DICOM series folders, NIfTI files, COCA roots, folders of patient folders.

    The module's rule (the same as ``cacscore ingest``'s, through :func:`cohort_from_source`); ids unique
    (:func:`unique_ids`). Returns (scans, problems) where problems are (input, reason) pairs
    for inputs that name no scan.
    """
    scans: list[ScanInput] = []
    problems: list[tuple[str, str]] = []
    for raw in paths:
        p = Path(raw)
        if p.is_file():
            if is_nifti(p):
                scans.append(ScanInput(strip_nifti(p.name), p, "nifti"))
            elif p.suffix.lower() == ".csv":
                _add_cohort(p, scans, problems)
            else:  # a single DICOM file is a (one-slice) series: not a CT volume we can score
                problems.append((str(p), "not a DICOM series folder, NIfTI file (.nii, .nii.gz), COCA root or CSV"))
            continue
        if not p.is_dir():
            problems.append((str(p), "no such file or folder"))
            continue
        _add_cohort(p, scans, problems)  # a series folder, a COCA root or a folder of patient folders (one rule)
    return unique_ids(scans), problems


def input_id(path: str | Path) -> str:
    """Id of a scan input: its folder name, or its file name without .nii / .nii.gz."""
    p = Path(path)
    return strip_nifti(p.name) if p.name else str(p)
