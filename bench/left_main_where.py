"""Where the left main lies, real against phantom (issue 15, session 24 wt32a), in the chest reader's anatomy frame.

    PYTHONPATH=src:bench nice -n 10 python bench/left_main_where.py real OUT.csv
    PYTHONPATH=src:bench nice -n 10 python bench/left_main_where.py phantom REL OUT.csv --seed S --ids 1-25 --anatomy v11
    PYTHONPATH=src:bench nice -n 10 python bench/left_main_where.py table OUT1.csv OUT2.csv ...

Three points of each left main: its ostium, midpoint and bifurcation. Real: the eye-placed LCA course of
docs/hybrid_landmarks.json (ostium at the left coronary sinus, bifurcation; the course the hybrids insert along).
Phantom: the drawn LCA centreline (``phantom.core._draws`` of the release's seed and version, exact), first / middle /
last point, moved into the volume's mm frame (``anatomy.chest_grid``). Per point, with the chest read by
``cacscore.chest.read_chest`` as the product reads it: the anatomy columns the lesion features compute
(``lesion.anatomy.anatomy_columns``: above_root_mm, frame_long / anterior / side_mm, sac_above / behind / left_mm,
pericardium_mm), the fat (HU -200..-30) and soft-tissue (-30..130) fractions of the in-plane 8 and 24 mm boxes
round it (the candidate context boxes of ``lesion.candidates._CONTEXT``), and, against the true root (real: the eye's
aortic_root; phantom: the drawn annulus centre), its height and its offset behind / to the left (mm). Phantom rows
also give the anatomy label in front of the left main (the first non-fat label met going 2-30 mm forward from the
midpoint: pulmonary_artery where the left main runs behind the trunk).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from cacscore.chest.anatomy import read_chest
from cacscore.io.ct import read_ct
from cacscore.lesion.anatomy import ANATOMY_NAMES, anatomy_columns

LANDMARKS = Path(__file__).resolve().parents[1] / "docs" / "hybrid_landmarks.json"
DATA = Path("/work/shared/data")
COLS = ("above_root_mm", "frame_long_mm", "frame_anterior_mm", "frame_side_mm", "sac_above_mm", "sac_behind_mm",
        "sac_left_mm", "pericardium_mm")
BOXES = (("fat_8", 8.0, -200.0, -30.0), ("fat_24", 24.0, -200.0, -30.0), ("soft_24", 24.0, -30.0, 130.0))
POINTS = ("ostium", "mid", "bif")


def box_fractions(hu: np.ndarray, sp: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """In-plane box fractions round point p (z, y, x mm from voxel 0), as the candidate context boxes."""
    iz, iy, ix = (int(round(v)) for v in p / sp)
    iz = int(np.clip(iz, 0, hu.shape[0] - 1))
    out = {}
    for name, side, lo, hi in BOXES:
        hy, hx = max(1, round(side / 2 / sp[1])), max(1, round(side / 2 / sp[2]))
        box = hu[iz, max(0, iy - hy):iy + hy + 1, max(0, ix - hx):ix + hx + 1]
        out[name] = float(((box >= lo) & (box < hi)).mean())
    return out


def read_as_shipped(hu: np.ndarray, sp: np.ndarray):
    """The chest anatomy and the heart reference (voxel index) as the shipped model reads a scan (its chest_sac,
    frame_sac, chest_root and reference; ``classifier.anatomical_candidates`` less the candidates)."""
    from cacscore.chest.anatomy import root_options, sac_options
    from cacscore.chest.heart import locate_heart
    from cacscore.chest.lungs import lung_field
    from cacscore.lesion.anatomy import heart_reference, pericardium_distance
    from cacscore.lesion.classifier import load_model
    from cacscore.predict.predictors import DEFAULT_MODEL

    c = load_model(DEFAULT_MODEL).config
    framing = sac_options(c.frame_sac) if c.frame_sac is not None else None
    anatomy = read_chest(hu, tuple(sp), sac=sac_options(c.chest_sac), frame_sac=framing,
                         root_options=root_options(c.chest_root))
    framed = anatomy.framed()
    found = locate_heart(hu, tuple(sp), lungs=lung_field(hu, tuple(sp)))
    index, _ = heart_reference(framed, found.index, found.found, pericardium=pericardium_distance(framed),
                               reference=c.reference)
    return anatomy, np.asarray(index, float)


def measure(hu: np.ndarray, sp: np.ndarray, pts: dict[str, np.ndarray], root: np.ndarray) -> list[dict]:
    """One row per left-main point: the MLP's position columns (dz / dy / dx from the heart reference), anatomy
    columns, tissue boxes, offsets from the true root."""
    anatomy, heart = read_as_shipped(hu, sp)
    arr = np.stack([pts[k] for k in POINTS])
    mlp = arr - heart * sp
    cols = anatomy_columns(anatomy, arr)
    rows = []
    for i, k in enumerate(POINTS):
        r = {"point": k, "dz_mm": mlp[i, 0], "dy_mm": mlp[i, 1], "dx_mm": mlp[i, 2],
             **{c: float(cols[i, ANATOMY_NAMES.index(c)]) for c in COLS}, **box_fractions(hu, sp, arr[i])}
        r.update(true_above_mm=arr[i, 0] - root[0], true_behind_mm=arr[i, 1] - root[1], true_left_mm=arr[i, 2] - root[2],
                 found_root_err_mm=float(np.linalg.norm(anatomy.aortic_root_mm - root)))
        rows.append(r)
    lm_len = float(np.linalg.norm(np.diff(arr, axis=0), axis=1).sum())
    for r in rows:
        r["lm_len_mm"] = lm_len
    return rows


def real(out: Path) -> pd.DataFrame:
    marks = json.loads(LANDMARKS.read_text())
    rows = []
    for series in ("lidc-idri-0001", "lidc-idri-0002", "lidc-idri-0003"):
        vol = read_ct(DATA / series)
        sp = np.abs(np.asarray(vol.spacing_mm, float))
        lca = np.asarray(marks[series]["courses"]["LCA"], float)
        pts = {"ostium": lca[0], "mid": lca.mean(0), "bif": lca[-1]}
        for r in measure(vol.hu, sp, pts, np.asarray(marks[series]["aortic_root"], float)):
            rows.append({"set": series, "id": series, **r})
    df = pd.DataFrame(rows)
    df.to_csv(out, index=False)
    return df


def phantom_points(pid: int, seed: int, size: int, version: str) -> tuple[dict[str, np.ndarray], np.ndarray, object]:
    """The drawn left main's ostium / midpoint / bifurcation and the annulus centre, volume mm (z, y, x)."""
    from cacscore.phantom.anatomy import chest_grid
    from cacscore.phantom.core import _draws

    d = _draws(pid, seed, size, version=version)[0]
    g = chest_grid(d.anat, size)
    off = np.array([g.z_mm[0], g.y_mm[0], g.x_mm[0]])
    lm = d.vessels["LCA"].points[:, [2, 1, 0]] - off
    arc = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(lm, axis=0), axis=1))]
    mid = np.array([np.interp(arc[-1] / 2, arc, lm[:, k]) for k in range(3)])
    root = np.asarray(d.anat.aorta_root, float)[[2, 1, 0]] - off
    return {"ostium": lm[0], "mid": mid, "bif": lm[-1]}, root, d


def label_in_front(release: Path, pid: str, sp: np.ndarray, p: np.ndarray) -> str:
    """The first anatomy label other than fat / coronary met 2-30 mm in front of p (volume mm)."""
    from cacscore.io.ct import read_labels
    from cacscore.phantom.anatomy import ANATOMY_LABELS, LABEL

    lab = read_labels(release / "anatomy" / f"{pid}.nii.gz")
    skip = {LABEL["mediastinal_fat"], LABEL["epicardial_fat"], LABEL["coronary_artery"], LABEL["pericardium"]}
    for dy in np.arange(2.0, 30.0, 0.5):
        q = (p - np.array([0.0, dy, 0.0])) / sp
        iz, iy, ix = (int(round(v)) for v in q)
        v = int(lab[np.clip(iz, 0, lab.shape[0] - 1), np.clip(iy, 0, lab.shape[1] - 1), np.clip(ix, 0, lab.shape[2] - 1)])
        if v not in skip:
            return f"{ANATOMY_LABELS[v]}@{dy:.0f}"
    return "fat"


def phantom(release: Path, out: Path, seed: int, ids: list[int], version: str) -> pd.DataFrame:
    rows = []
    for pid in ids:
        vol = read_ct(release / "deidentified_nongated" / str(pid) / str(pid))
        sp = np.abs(np.asarray(vol.spacing_mm, float))
        pts, root, _ = phantom_points(pid, seed, vol.hu.shape[-1], version)
        front = label_in_front(release, str(pid), sp, pts["mid"])
        for r in measure(vol.hu, sp, pts, root):
            rows.append({"set": f"phantom {version}", "id": pid, **r, "in_front": front})
        print(pid, front, flush=True)
    df = pd.DataFrame(rows)
    df.to_csv(out, index=False)
    return df


SHOW = ("dz_mm", "dy_mm", "dx_mm", "above_root_mm", "frame_anterior_mm", "frame_side_mm", "frame_long_mm", "sac_above_mm", "sac_behind_mm",
        "sac_left_mm", "fat_8", "fat_24", "soft_24", "true_above_mm", "true_behind_mm", "true_left_mm", "lm_len_mm")


def table(csvs: list[str]) -> str:
    df = pd.concat([pd.read_csv(c) for c in csvs])
    lines = []
    for point in POINTS:
        lines.append(f"\n### {point}\n\n| set | n | " + " | ".join(SHOW) + " |\n| --- | ---: |" + " ---: |" * len(SHOW))
        for s, g in df[df.point == point].groupby("set", sort=False):
            if s.startswith("lidc"):
                cells = [f"{g[c].iloc[0]:.2f}" if c.startswith(("fat", "soft")) else f"{g[c].iloc[0]:.0f}" for c in SHOW]
            else:
                def q(c):
                    a = g[c].quantile([.1, .5, .9]).to_numpy()
                    f = "{:.2f}" if c.startswith(("fat", "soft")) else "{:.0f}"
                    return f"{f.format(a[1])} [{f.format(a[0])}, {f.format(a[2])}]"
                cells = [q(c) for c in SHOW]
            lines.append(f"| {s} | {len(g)} | " + " | ".join(cells) + " |")
    if "in_front" in df:
        for s, g in df[(df.point == "mid") & df.in_front.notna()].groupby("set", sort=False):
            lab = g.in_front.str.split("@").str[0].value_counts().to_dict()
            lines.append(f"\n{s}: in front of the midpoint: {lab}")
    return "\n".join(lines)


def _ids(s: str) -> list[int]:
    a, b = s.split("-")
    return list(range(int(a), int(b) + 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("real")
    r.add_argument("out", type=Path)
    p = sub.add_parser("phantom")
    p.add_argument("release", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--ids", default="1-25")
    p.add_argument("--anatomy", default="v11")
    t = sub.add_parser("table")
    t.add_argument("csvs", nargs="+")
    a = ap.parse_args()
    if a.cmd == "real":
        print(real(a.out).to_string())
    elif a.cmd == "phantom":
        phantom(a.release, a.out, a.seed, _ids(a.ids), a.anatomy)
    else:
        print(table(a.csvs))


if __name__ == "__main__":
    main()
