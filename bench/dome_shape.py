"""The diaphragm domes' shape and height against the carina: real LIDC series against phantom patients, one method on
both (session 19, wt27c; docs/phantom.md, "(session 19, wt27c)").

    PYTHONPATH=src python bench/dome_shape.py real OUT.csv
    PYTHONPATH=src python bench/dome_shape.py phantom OUT.csv --seed 14838 --ids 1-30 --version v16 --size 256
    PYTHONPATH=src python bench/dome_shape.py table REAL.csv PHANTOM.csv [PHANTOM2.csv ...]

Every z is mm up in the volume frame (z, y, x mm from voxel 0). The lung floor of a (y, x) column = where the run of
HU < -400 (the column averaged over +-3 mm) that holds the point 30 mm above the dome's top ends below it (lung_floor). Dome tops: real = the
eye-placed points of docs/dome_landmarks.json (session 17); phantom = the highest lung floor over the columns where the
right / left lung label lies on an abdominal label (bench/dome_heights.py's rule and labels). (Refining the real tops
to the highest lung floor within +-16 mm, to use one rule on both, moved 0001's right top 29 mm up and put 0002's and
0003's left tops at their right tops' heights: the lung's floor over the heart's border and the fat pads; not kept.)
The drops are fragile on the real series (the eye-placed tops were placed for heights, not for this; several NaN).
Columns:
- r_drop_lat / r_drop_med: the right dome's top minus the lung floor 30 mm lateral / medial of it (on the coronal row of
  the top, the floor averaged over +-2 mm in y); l_drop_lat: the left dome, 30 mm lateral (medial of the left top lies
  the heart). Larger = a more rounded dome; a flat-topped dome gives about 0. NaN where that column has no lung.
- rdome_car / ldome_car: the dome tops' heights below the carina (real: docs/spine_landmarks.json's carina_z).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dome_heights import BELOW_DOME, LUNGS, pct  # noqa: E402
from id_ranges import id_range  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs"
REAL = ("lidc-idri-0001", "lidc-idri-0002", "lidc-idri-0003")
BELOW_V16 = BELOW_DOME  # (dome_heights.BELOW_DOME holds v16's kidney, abdominal fat, gallbladder)
COLS = ("r_drop_lat", "r_drop_med", "l_drop_lat", "rdome_car", "ldome_car", "rdome_ldome")
STEP_MM = 30.0


def lung_floor(hu: np.ndarray, sp: np.ndarray, top_zyx: np.ndarray, dx_mm: float) -> float:
    """z mm of the lung floor in the column dx_mm (x) from the dome's top on the top's coronal row: the column's HU
    averaged over +-3 mm in y and x (so lung vessels do not end the run), walked down from 30 mm above the top while
    below -400 HU; the lower face of the run's last voxel (NaN: the column is not lung 30 mm above the top)."""
    c = np.round(np.array([top_zyx[0] + 30.0, top_zyx[1], top_zyx[2] + dx_mm]) / sp).astype(int)
    w = np.maximum(np.round(3.0 / sp[1:]).astype(int), 1)
    if not (0 <= c[0] < hu.shape[0] and w[0] <= c[1] < hu.shape[1] - w[0] and w[1] <= c[2] < hu.shape[2] - w[1]):
        return np.nan
    col = hu[:c[0] + 1, c[1] - w[0]:c[1] + w[0] + 1, c[2] - w[1]:c[2] + w[1] + 1].mean(axis=(1, 2))
    if col[-1] >= -400:
        return np.nan
    k = c[0]
    while k > 0 and col[k - 1] < -400:
        k -= 1
    return (k - 0.5) * sp[0]


def drops(hu: np.ndarray, sp: np.ndarray, top_zyx: np.ndarray, lateral_sign: float) -> tuple[float, float]:
    """The top minus the lung floor STEP_MM lateral and medial of it (lateral_sign: +1 when lateral is +x)."""
    return tuple(float(top_zyx[0] - lung_floor(hu, sp, top_zyx, s * STEP_MM)) for s in (lateral_sign, -lateral_sign))


def real_row(series: str, data: Path) -> dict:
    from cacscore.io.ct import read_ct
    v = read_ct(data / series)
    hu, sp = v.hu, np.array(v.spacing_mm, float)
    lm = json.loads((DOCS / "dome_landmarks.json").read_text())[series]
    car = float(json.loads((DOCS / "spine_landmarks.json").read_text())[series]["carina_z"])
    r, l = np.array(lm["right_dome_top"], float), np.array(lm["left_dome_top"], float)
    row = {"set": f"real {series[-4:]}", "seed": -1, "pid": -1}
    # the patient's right is -x in this frame (x to the patient's left): lateral of the right dome is -x
    row["r_drop_lat"], row["r_drop_med"] = drops(hu, sp, r, -1.0)
    row["l_drop_lat"], _ = drops(hu, sp, l, +1.0)
    row.update(rdome_car=r[0] - car, ldome_car=l[0] - car, rdome_ldome=r[0] - l[0])
    return row


def phantom_tops(lab: np.ndarray, sp: np.ndarray) -> dict[str, np.ndarray]:
    """(z, y, x) mm of each dome's top: the highest lung floor over columns where the lung lies on an abdominal label."""
    out = {}
    nz = lab.shape[0]
    for side, code in LUNGS.items():
        is_l = lab == code
        has = is_l.any(0)
        k = np.argmax(is_l, axis=0)
        below = np.take_along_axis(lab, np.clip(k - 1, 0, nz - 1)[None], 0)[0]
        ok = has & (k > 0) & np.isin(below, BELOW_V16)
        if not ok.any():
            out[side] = None
            continue
        kk = np.where(ok, k, -1)
        top = kk.max()
        ys, xs = np.nonzero(kk == top)
        i = len(ys) // 2  # the middle of the top's columns (a flat top has many)
        out[side] = np.array([(top - 0.5) * sp[0], ys[i] * sp[1], xs[i] * sp[2]])
    return out


def phantom_row(pid: int, seed: int, version: str, size: int) -> dict:
    from cacscore.phantom import make_patient
    from cacscore.phantom.anatomy import carina_z
    p = make_patient(pid, seed=seed, size=size, version=version, anatomy=True)
    sp = np.array(p.spacing_mm, float)
    tops = phantom_tops(p.anatomy_labels, sp)
    car = carina_z(p.anatomy) - float(p.origin_mm[2])
    row = {"set": f"phantom {version}", "seed": seed, "pid": pid, "slice_mm": sp[0], "n_slices": p.hu.shape[0]}
    hu = p.hu_static
    # the volume's x runs to the patient's left as in read_ct's frame (phantom x = patient L)
    r, l = tops["r"], tops["l"]
    row["r_drop_lat"], row["r_drop_med"] = (drops(hu, sp, r, -1.0)
                                            if r is not None else (np.nan, np.nan))
    row["l_drop_lat"] = (drops(hu, sp, l, +1.0)[0]
                         if l is not None else np.nan)
    row["rdome_car"] = r[0] - car if r is not None else np.nan
    row["ldome_car"] = l[0] - car if l is not None else np.nan
    row["rdome_ldome"] = row["rdome_car"] - row["ldome_car"]
    # how far the scan reaches below the right dome's top (the upper abdomen shown)
    row["below_rdome_mm"] = r[0] if r is not None else np.nan
    return row


def table(real: pd.DataFrame, phantoms: list[pd.DataFrame], cols=COLS) -> str:
    lines = ["| column (mm) | real 0001 / 0002 / 0003 | " + " | ".join(
        f"{str(ph['set'].iloc[0])} min / p10 / p50 / p90 / max (n) | pct of real" for ph in phantoms) + " |"]
    lines.append("| --- | --- | " + " | ".join("--- | ---" for _ in phantoms) + " |")
    for c in cols:
        rv = real[c].to_numpy(float)
        cells = [f"{c}", " / ".join(f"{v:.0f}" for v in rv)]
        for ph in phantoms:
            v = ph[c].to_numpy(float)
            v = v[np.isfinite(v)]
            q = np.percentile(v, [0, 10, 50, 90, 100]) if len(v) else [np.nan] * 5
            cells.append(" / ".join(f"{x:.0f}" for x in q) + f" ({len(v)})")
            cells.append(" / ".join(f"{pct(v, x):.0f}" for x in rv))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("real", "phantom", "table"))
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--seed", type=int, default=14838)
    ap.add_argument("--ids", default="1-30")
    ap.add_argument("--version", default="v16")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    a = ap.parse_args(argv)
    if a.mode == "real":
        df = pd.DataFrame([real_row(s, a.data) for s in REAL])
        df.to_csv(a.files[0], index=False)
        print(df.round(1).to_string(index=False))
    elif a.mode == "phantom":
        rows = []
        for pid in id_range(a.ids):
            rows.append(phantom_row(pid, a.seed, a.version, a.size))
            pd.DataFrame(rows).to_csv(a.files[0], index=False)
            print({k: (round(v, 1) if isinstance(v, float) else v) for k, v in rows[-1].items()}, flush=True)
    else:
        real = pd.read_csv(a.files[0])
        print(table(real, [pd.read_csv(f) for f in a.files[1:]]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
