"""Heights of the diaphragm domes, the heart's lowest point and the LV apex against the heart's centroid and the left
coronary ostium: phantom patients (exact, from the anatomy labels and the drawn centrelines) against the three real
LIDC series (eye-placed points, docs/dome_landmarks.json). Session 17, wt25d (docs/phantom.md, "The diaphragm domes
against the heart").

    PYTHONPATH=src python bench/dome_heights.py real OUT.csv
    PYTHONPATH=src python bench/dome_heights.py phantom OUT.csv --seed 14606 --ids 1-60 --version v11 --size 256
    PYTHONPATH=src python bench/dome_heights.py table REAL.csv PHANTOM.csv [PHANTOM2.csv ...]
    PYTHONPATH=src python bench/dome_heights.py check REAL.csv V11.csv V14.csv

Every height is z (mm, up) in the volume frame (z, y, x mm from voxel 0, the frame of cacscore.io.ct.read_ct and of
docs/hybrid_landmarks.json). Columns:
- rdome_z / ldome_z: the top of the right (liver) / left hemidiaphragm dome where lung lies on it. Real: eye-placed.
  Phantom: over every (y, x) column whose lowest lung voxel (lung_right / lung_left) lies on liver, abdomen, spleen or
  stomach, the highest such lung floor (the lowest lung voxel's lower face).
- hlow_z: the heart's lowest point (its inferior wall on the diaphragm, pericardium included). Real: eye-placed.
  Phantom: the lowest voxel face of the pericardial sac's labels (heart, epicardial fat, pericardium, coronaries).
- cen_z: the heart's centroid. Real: read_chest's pericardial mask's centroid with the mask below hlow_z dropped
  (0002's mask takes in a piece of the upper abdomen); cen_mask_z: the whole mask's. Phantom: the sac labels' centroid.
- apex_z: the LV apex (real: docs/heart_size_landmarks.json; phantom: the heart label's farthest voxel along the long
  axis). ost_z: the left coronary ostium (real: the LCA course's first anchor, docs/hybrid_landmarks.json; phantom:
  the drawn LCA centreline's first point).
- X_cen = X_z - cen_z, X_ost = X_z - ost_z; rdome_hlow = rdome_z - hlow_z, ldome_hlow, rdome_ldome.
- finder_*: where the heart finder's point (cacscore.chest.heart.locate_heart) lies from the centroid (dz, and the 3-D
  distance) and, on phantoms, the anatomy label under it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from id_ranges import id_range  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs"
REAL = ("lidc-idri-0001", "lidc-idri-0002", "lidc-idri-0003")
SAC_LABELS = (5, 6, 7, 29, 32, 33)
BELOW_DOME = (22, 23, 24, 25, 42, 43, 44)  # liver, abdomen, spleen, stomach; v16: kidney, abdominal fat, gallbladder
LUNGS = {"r": 2, "l": 3}
COLS = ("rdome_cen", "ldome_cen", "hlow_cen", "apex_cen", "rdome_ost", "ldome_ost", "hlow_ost", "apex_ost", "cen_ost",
        "rdome_hlow", "ldome_hlow", "rdome_ldome")


def derived(row: dict) -> dict:
    for k in ("rdome", "ldome", "hlow", "apex"):
        row[f"{k}_cen"] = row[f"{k}_z"] - row["cen_z"]
        row[f"{k}_ost"] = row[f"{k}_z"] - row["ost_z"]
    row["cen_ost"] = row["cen_z"] - row["ost_z"]
    row["rdome_hlow"] = row["rdome_z"] - row["hlow_z"]
    row["ldome_hlow"] = row["ldome_z"] - row["hlow_z"]
    row["rdome_ldome"] = row["rdome_z"] - row["ldome_z"]
    return row


def dome_tops(lab: np.ndarray, dz: float) -> dict[str, float]:
    """Highest lung floor (mm, lower face of the lowest lung voxel) over the columns where each lung lies on an
    abdominal label, right and left."""
    out = {}
    nz = lab.shape[0]
    for side, code in LUNGS.items():
        is_l = lab == code
        has = is_l.any(0)
        k = np.argmax(is_l, axis=0)  # lowest lung voxel per column (z index increases upward)
        below = np.take_along_axis(lab, np.clip(k - 1, 0, nz - 1)[None], 0)[0]
        ok = has & (k > 0) & np.isin(below, BELOW_DOME)
        out[f"{side}dome_z"] = float((k[ok].max() - 0.5) * dz) if ok.any() else np.nan
    return out


def phantom_row(pid: int, seed: int, version: str, size: int) -> dict:
    from cacscore.chest.heart import locate_heart
    from cacscore.phantom import make_patient
    from cacscore.phantom.anatomy import ANATOMY_LABELS
    from cacscore.phantom.core import _draws
    p = make_patient(pid, seed=seed, size=size, version=version, anatomy=True)
    a, lab = p.anatomy, p.anatomy_labels
    sp = np.array(p.spacing_mm, float)
    org_z = float(p.origin_mm[2])
    sac = np.isin(lab, SAC_LABELS)
    ks = np.nonzero(sac.any((1, 2)))[0]
    cen = np.argwhere(sac).mean(0) * sp
    heart = np.argwhere(lab == 5) * sp
    e1 = a.heart_axes[0][[2, 1, 0]]  # patient (x, y, z) -> (z, y, x)
    apex = heart[int(np.argmax(heart @ e1))]
    d = _draws(pid, seed, size, version=version)[0]
    row = {"set": f"phantom {version}", "seed": seed, "pid": pid, "slice_mm": sp[0],
           "cen_z": cen[0], "hlow_z": (ks[0] - 0.5) * sp[0], "apex_z": apex[0],
           "ost_z": float(d.vessels["LCA"].points[0][2]) - org_z, "annulus_z": float(a.aorta_root[2]) - org_z,
           "heart_floor_z": float(a.heart_floor_z) - org_z, "z_dome_z": float(a.z_dome_mm) - org_z}
    row.update(dome_tops(lab, sp[0]))
    f = np.array(locate_heart(p.hu, tuple(sp)).index)
    fz = f * sp
    row.update({"finder_dz": fz[0] - cen[0], "finder_d": float(np.linalg.norm(fz - cen)),
                "finder_label": ANATOMY_LABELS[int(lab[tuple(f)])]})
    return derived(row)


def real_row(series: str, data: Path) -> dict:
    from cacscore.chest.anatomy import read_chest
    from cacscore.chest.heart import locate_heart
    from cacscore.io.ct import read_ct
    v = read_ct(data / series)
    hu, sp = v.hu, np.array(v.spacing_mm, float)
    lm = json.loads((DOCS / "dome_landmarks.json").read_text())[series]
    hyb = json.loads((DOCS / "hybrid_landmarks.json").read_text())[series]
    hs = json.loads((DOCS / "heart_size_landmarks.json").read_text())[series]
    anat = read_chest(hu, tuple(sp))
    pts = np.argwhere(anat.pericardium) * np.array(anat.grid_mm)
    hlow = float(lm["heart_lowest"][0])
    cen = pts[pts[:, 0] >= hlow].mean(0)
    row = {"set": f"real {series[-4:]}", "seed": -1, "pid": -1, "slice_mm": sp[0], "cen_z": cen[0],
           "cen_mask_z": pts[:, 0].mean(), "hlow_z": hlow, "apex_z": float(hs["apex"][0]),
           "ost_z": float(hyb["courses"]["LCA"][0][0]), "annulus_z": np.nan,
           "rdome_z": float(lm["right_dome_top"][0]), "ldome_z": float(lm["left_dome_top"][0]),
           "read_chest_rdome_z": float(anat.dome_mm[0]), "read_chest_ldome_z": float(anat.dome_mm[1])}
    fz = np.array(locate_heart(hu, tuple(sp)).index) * sp
    row.update({"finder_dz": fz[0] - cen[0], "finder_d": float(np.linalg.norm(fz - cen)), "finder_label": ""})
    return derived(row)


def pct(values: np.ndarray, x: float) -> float:
    """Percentile of x among values (share strictly below + half the ties, x 100)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    return float(100.0 * ((v < x).sum() + 0.5 * (v == x).sum()) / max(len(v), 1))


def table(real: pd.DataFrame, phantoms: list[pd.DataFrame], cols=COLS) -> str:
    lines = ["| column | real 0001 / 0002 / 0003 | " + " | ".join(
        f"{ph['set'].iloc[0]} (seed {ph['seed'].iloc[0]}) p10 / p50 / p90 | pct of real" for ph in phantoms) + " |",
        "| --- | --- | " + " | ".join("--- | ---" for _ in phantoms) + " |"]
    for c in cols:
        rv = real[c].to_numpy(float)
        cells = [f"| {c} | " + " / ".join(f"{x:.0f}" for x in rv)]
        for ph in phantoms:
            q = np.nanpercentile(ph[c].to_numpy(float), [10, 50, 90])
            cells.append(" / ".join(f"{x:.0f}" for x in q))
            cells.append(" / ".join(f"{pct(ph[c], x):.0f}" for x in rv))
        lines.append(" | ".join(cells) + " |")
    return "\n".join(lines)


CHECK_ALL = ("rdome_hlow", "rdome_ldome", "ldome_hlow")
"""Pre-registered (docs/phantom.md, "The diaphragm domes against the heart"): each of the three real values within v14's
p10-p90."""
CHECK_0203 = ("rdome_cen", "ldome_cen")
"""Pre-registered: the real 0002 and 0003 values within v14's p10-p90 (0001's heart is short: reported only)."""
CHECK_HEART = ("hlow_cen", "apex_cen", "cen_ost")
"""Pre-registered: v14's medians within 2 mm of v11's (the heart not worse)."""


def check(real: pd.DataFrame, v11: pd.DataFrame, v14: pd.DataFrame) -> tuple[bool, list[str]]:
    ok, out = True, []
    for cols, rows in ((CHECK_ALL, [0, 1, 2]), (CHECK_0203, [1, 2])):
        for c in cols:
            lo, hi = np.nanpercentile(v14[c].to_numpy(float), [10, 90])
            rv = real[c].to_numpy(float)[rows]
            inside = [bool(lo <= x <= hi) for x in rv]
            ok &= all(inside)
            out.append(f"{c}: v14 p10-p90 {lo:.1f}..{hi:.1f}; real {'/'.join(real['set'].str[-4:].iloc[rows])} "
                       f"{' / '.join(f'{x:.1f}' for x in rv)} inside {inside}")
    for c in CHECK_HEART:
        m11, m14 = float(v11[c].median()), float(v14[c].median())
        same = abs(m14 - m11) <= 2.0
        ok &= same
        out.append(f"{c}: median v11 {m11:.1f}, v14 {m14:.1f}; within 2 mm {same}")
    return ok, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("real", "phantom", "table", "check"))
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--seed", type=int, default=14606)
    ap.add_argument("--ids", default="1-60")
    ap.add_argument("--version", default="v11")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    a = ap.parse_args(argv)
    if a.mode == "real":
        df = pd.DataFrame([real_row(s, a.data) for s in REAL])
        df.to_csv(a.files[0], index=False)
        print(df.round(1).to_string())
    elif a.mode == "phantom":
        rows = []
        for pid in id_range(a.ids):
            rows.append(phantom_row(pid, a.seed, a.version, a.size))
            pd.DataFrame(rows).to_csv(a.files[0], index=False)
            r = rows[-1]
            print(f"{pid}: rdome_cen {r['rdome_cen']:.1f} hlow_cen {r['hlow_cen']:.1f} rdome_hlow {r['rdome_hlow']:.1f}"
                  f" ldome_hlow {r['ldome_hlow']:.1f} finder dz {r['finder_dz']:.1f} on {r['finder_label']}", flush=True)
    elif a.mode == "table":
        real = pd.read_csv(a.files[0])
        print(table(real, [pd.read_csv(f) for f in a.files[1:]]))
    else:
        ok, out = check(pd.read_csv(a.files[0]), pd.read_csv(a.files[1]), pd.read_csv(a.files[2]))
        print("\n".join(out))
        print("PASS" if ok else "FAIL")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
