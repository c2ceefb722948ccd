"""The COCA release (Stanford AIMI): non-gated scores and the cohort table.

Quirks handled (see shared/COCA_FORMAT.md): the ``filename `` header with a trailing space, ids
"<pid>A", the doubled ``<pid>/<pid>/`` folder, folders without a score row and rows without a
folder (both reported), a ``total`` that disagrees with the vessel sum (kept, flagged; the vessel
sum is the target), blank cells (NaN, never 0), hidden files and folders.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cacscore.core.fileio import natural_key
from cacscore.core.vessels import VESSELS

if TYPE_CHECKING:  # pandas is imported where a table is made: a plain `cacscore predict` needs none (0.2-0.4 s)
    import pandas as pd

log = logging.getLogger(__name__)

NONGATED = "deidentified_nongated"
TOTAL_TOLERANCE = 0.05
"""Largest |total - vessel sum| (Agatston units, plus 0.1 % of the sum) not flagged as a mismatch."""


class CocaFormatError(ValueError):
    """A COCA file that does not have the expected layout; the message names the file."""



def _parse_id(cell, where: str) -> str:
    if cell is None or (isinstance(cell, float) and np.isnan(cell)):
        raise CocaFormatError(f"{where}: empty filename cell")
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    s = str(cell).strip()
    if s[-1:] in ("A", "a"):
        s = s[:-1].strip()
    if not s or "/" in s or "\\" in s or s.startswith("."):
        raise CocaFormatError(f"{where}: bad filename cell {cell!r}")
    return s


def read_coca_scores(xlsx_path: str | Path) -> pd.DataFrame:
    """Read ``scores.xlsx`` (first sheet) into a table sorted by id.

    Columns: id (str, the folder name: "1A" -> "1"), LCA, LAD, LCX, RCA, total (COCA's own total,
    float, NaN when blank), vessel_sum (NaN when a vessel is blank), flags (";"-joined:
    total_mismatch, missing_vessel, missing_total, duplicate_row). Non-numeric cells become NaN
    and are flagged ``bad_cell``.
    """
    import pandas as pd

    path = Path(xlsx_path)
    if not path.is_file():
        raise CocaFormatError(f"{path}: no such file")
    try:
        raw = pd.read_excel(path, sheet_name=0, dtype=object, engine="openpyxl")
    except Exception as exc:
        raise CocaFormatError(f"{path}: cannot read as an Excel workbook: {exc}") from exc
    raw.columns = [str(c).strip() for c in raw.columns]
    cols = {c.lower(): c for c in raw.columns}
    need = ["filename", *(v.lower() for v in VESSELS), "total"]
    missing = [c for c in need if c not in cols]
    if missing:
        raise CocaFormatError(f"{path}: missing column(s) {missing}; found {list(raw.columns)}")
    raw = raw.dropna(how="all")
    rows = []
    for i, r in raw.iterrows():
        where = f"{path} row {int(i) + 2}"
        rid = _parse_id(r[cols["filename"]], where)
        flags: list[str] = []
        vals = {}
        for name in (*VESSELS, "total"):
            cell = r[cols[name.lower()]]
            if cell is None or (isinstance(cell, str) and not cell.strip()) or (isinstance(cell, float) and np.isnan(cell)):
                vals[name] = np.nan
                continue
            try:
                vals[name] = float(cell)
            except (TypeError, ValueError):
                vals[name] = np.nan
                flags.append("bad_cell")
                log.warning("%s: %s cell %r is not a number; read as missing", where, name, cell)
        v = np.array([vals[n] for n in VESSELS])
        vessel_sum = float(v.sum()) if not np.isnan(v).any() else np.nan
        if np.isnan(v).any():
            flags.append("missing_vessel")
        if np.isnan(vals["total"]):
            flags.append("missing_total")
        elif not np.isnan(vessel_sum) and abs(vals["total"] - vessel_sum) > TOTAL_TOLERANCE + 1e-3 * vessel_sum:
            flags.append("total_mismatch")
        rows.append({"id": rid, **vals, "vessel_sum": vessel_sum, "flags": ";".join(dict.fromkeys(flags))})
    df = pd.DataFrame(rows, columns=["id", *VESSELS, "total", "vessel_sum", "flags"])
    dup = df["id"].duplicated(keep="first")
    if dup.any():
        log.warning("%s: duplicate id(s) %s: the first row is kept", path, sorted(set(df.loc[dup, "id"])))
        first = df["id"].isin(df.loc[dup, "id"]) & ~dup
        df.loc[first, "flags"] = df.loc[first, "flags"].map(lambda f: ";".join(filter(None, [f, "duplicate_row"])))
        df = df[~dup]
    mism = df[df["flags"].str.contains("total_mismatch")]
    if len(mism):
        log.warning("%s: %d row(s) whose total disagrees with the vessel sum (vessel sum used): %s",
                    path, len(mism), ", ".join(mism["id"]))
    df = df.sort_values("id", key=lambda s: s.map(natural_key)).reset_index(drop=True)
    df["id"] = df["id"].astype(str)
    return df


def _nongated_dir(root: Path) -> Path:
    if (root / NONGATED).is_dir():
        return root / NONGATED
    if root.name == NONGATED or (root / "scores.xlsx").is_file():
        return root
    raise CocaFormatError(f"{root}: not a COCA release root (no {NONGATED}/ folder)")


def series_folder(patient_dir: Path) -> Path:
    """The folder holding a patient's slices: ``<pid>/<pid>/`` (the release) or ``<pid>/`` itself."""
    inner = patient_dir / patient_dir.name
    return inner if inner.is_dir() else patient_dir


def read_coca_release(root: str | Path) -> pd.DataFrame:
    """The non-gated cohort table of a COCA release root (or of its deidentified_nongated/ folder).

    Columns: id, series_path (str, or None for a row without folder), LCA, LAD, LCX, RCA, total
    (COCA's own), vessel_sum (the target), flags (adds ``no_scores`` for a folder without a row and
    ``no_folder`` for a row without a folder). Rows: the union of folders and score rows, ids in
    natural order. ``df.attrs`` holds ``folders_without_row`` and ``rows_without_folder`` lists.
    """
    import pandas as pd

    root = Path(root)
    ng = _nongated_dir(root)
    xlsx = ng / "scores.xlsx"
    scores = read_coca_scores(xlsx) if xlsx.is_file() else None
    if scores is None:
        log.warning("%s: no scores.xlsx; all targets are unknown", ng)
        scores = pd.DataFrame(columns=["id", *VESSELS, "total", "vessel_sum", "flags"])
    folders = {p.name: series_folder(p) for p in ng.iterdir() if p.is_dir() and not p.name.startswith(".")}
    table = scores.set_index("id")
    ids = sorted(set(folders) | set(table.index), key=natural_key)
    rows = []
    for pid in ids:
        row = {"id": pid, "series_path": str(folders[pid]) if pid in folders else None}
        if pid in table.index:
            r = table.loc[pid]
            row.update({k: float(r[k]) for k in (*VESSELS, "total", "vessel_sum")})
            flags = [f for f in str(r["flags"]).split(";") if f]
        else:
            row.update({k: np.nan for k in (*VESSELS, "total", "vessel_sum")})
            flags = ["no_scores"]
        if pid not in folders:
            flags.append("no_folder")
        row["flags"] = ";".join(flags)
        rows.append(row)
    df = pd.DataFrame(rows, columns=["id", "series_path", *VESSELS, "total", "vessel_sum", "flags"])
    no_row = [i for i in ids if i in folders and i not in table.index]
    no_folder = [i for i in ids if i not in folders]
    if no_row:
        log.warning("%s: %d folder(s) without a score row: %s", ng, len(no_row), ", ".join(no_row))
    if no_folder:
        log.warning("%s: %d score row(s) without a folder: %s", ng, len(no_folder), ", ".join(no_folder))
    df.attrs["folders_without_row"] = no_row
    df.attrs["rows_without_folder"] = no_folder
    return df
