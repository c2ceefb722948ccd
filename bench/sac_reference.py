"""How far the sac-centroid reference lies from today's (ClassifierConfig.reference "sac" vs "finder"), and where
the LCX / mitral-annulus calcium (MAC) / crux lie in both frames: real LIDC series against held-out phantoms
(session 12).

    PYTHONPATH=src nice -n 10 python bench/sac_reference.py OUT --data /work/shared/data \
        --release /work/runs/s11/v8loso/held9101 --n 10 [--landmarks MITRAL_CSV]

Per scan: the pericardium's confidence, today's reference (``heart_reference(..., reference="finder")``, what
``anatomical_candidates`` measures from), the "sac" reference and the pericardial mask's centroid, in mm (z up, y
posterior, x left, from voxel 0), and the distance between the two references. Landmarks: real series: the
eye-placed crux and LCX course (docs/hybrid_landmarks.json) and, with --landmarks (wt20b's
docs/landmarks/mitral_annulus.csv), the mitral annulus' centre; phantoms: the centroid of the LCX calcium
(truth labels, vessel 3) and of the MAC (anatomy label ``mitral_annulus_calcium``). Each landmark's dz / dy / dx from
both references. Writes OUT/references.csv and OUT/landmarks.csv and prints both.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from cacscore.chest.anatomy import read_chest
from cacscore.chest.heart import locate_heart
from cacscore.io.ct import read_ct, read_labels
from cacscore.lesion.anatomy import FINDER_ABOVE_MASK, heart_reference, sac_centroid_mm

ROOT = Path(__file__).resolve().parents[1]
HYBRID = ROOT / "docs" / "hybrid_landmarks.json"
LCX = 3  # the truth label volumes' vessel codes: 1 LCA, 2 LAD, 3 LCX, 4 RCA


def references(hu: np.ndarray, sp: np.ndarray) -> tuple[dict, np.ndarray, np.ndarray]:
    """(row, today's reference mm, sac reference mm) of one scan, found as anatomical_candidates finds them."""
    anatomy = read_chest(hu, tuple(float(v) for v in sp))
    found = locate_heart(hu, tuple(float(v) for v in sp))
    refs, row = {}, {"pericardium_conf": anatomy.parts["pericardium"].confidence}
    for name in ("finder", "sac"):
        idx, source = heart_reference(anatomy, found.index, found.found, reference=name)
        refs[name] = np.asarray(idx, float) * sp
        row[f"{name}_source"] = "heart finder" if source == FINDER_ABOVE_MASK else source
    c = sac_centroid_mm(anatomy)
    row.update({f"today_{a}": v for a, v in zip("zyx", refs["finder"])})
    row.update({f"sac_{a}": v for a, v in zip("zyx", refs["sac"])})
    row.update({f"centroid_{a}": v for a, v in zip("zyx", c)})
    row["apart_mm"] = float(np.linalg.norm(refs["finder"] - refs["sac"]))
    row["today_below_centroid_mm"] = float(c[0] - refs["finder"][0])
    return row, refs["finder"], refs["sac"]


def landmark_rows(case: str, kind: str, pts: dict[str, np.ndarray], today: np.ndarray, sac: np.ndarray) -> list[dict]:
    rows = []
    for name, p in pts.items():
        r = {"case": case, "kind": kind, "landmark": name}
        r.update({f"today_d{a}": v for a, v in zip("zyx", p - today)})
        r.update({f"sac_d{a}": v for a, v in zip("zyx", p - sac)})
        rows.append(r)
    return rows


def real_points(series: str, mitral: pd.DataFrame | None) -> dict[str, np.ndarray]:
    h = json.loads(HYBRID.read_text())[series]
    pts = {"crux": np.asarray(h["crux"], float)}
    if "LCX" in h.get("courses", {}):
        lcx = np.asarray(h["courses"]["LCX"], float)
        pts["lcx_course_mean"] = lcx.mean(0)
        pts["lcx_course_lowest"] = lcx[np.argmin(lcx[:, 0])]
    if mitral is not None:
        ann = mitral[(mitral.series == series) & mitral.landmark.str.startswith("mitral_annulus")]
        if len(ann) >= 3:
            pts["mitral_annulus_centre"] = ann[["z_mm", "y_mm", "x_mm"]].to_numpy(float).mean(0)
    return pts


def phantom_points(release: Path, pid: str, sp: np.ndarray) -> dict[str, np.ndarray]:
    names = {v: int(k) for k, v in json.loads((release / "anatomy" / "labels.json").read_text()).items()}
    pts = {}
    lab = read_labels(release / "labels" / f"{pid}.nii.gz")
    if (lab == LCX).any():
        pts["lcx_calcium"] = np.argwhere(lab == LCX).mean(0) * sp
    anat = read_labels(release / "anatomy" / f"{pid}.nii.gz")
    mac = anat == names["mitral_annulus_calcium"]
    if mac.any():
        pts["mac"] = np.argwhere(mac).mean(0) * sp
    return pts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--series", nargs="+", default=["lidc-idri-0001", "lidc-idri-0002", "lidc-idri-0003"])
    ap.add_argument("--release", type=Path, default=None, help="held-out phantom release (truth.csv, labels/, anatomy/)")
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--landmarks", type=Path, default=None, help="wt20b's mitral_annulus.csv (eye-placed annulus)")
    a = ap.parse_args(argv)
    mitral = pd.read_csv(a.landmarks) if a.landmarks else None
    refs, marks = [], []
    for s in a.series:
        vol = read_ct(a.data / s)
        sp = np.array([abs(float(v)) for v in vol.spacing_mm])
        row, today, sac = references(vol.hu, sp)
        refs.append({"case": s, "kind": "real", **row})
        marks += landmark_rows(s, "real", real_points(s, mitral), today, sac)
        print(refs[-1], flush=True)
    if a.release is not None:
        ids = sorted(pd.read_csv(a.release / "truth.csv", dtype={"id": str})["id"], key=int)[:a.n]
        for pid in ids:
            vol = read_ct(a.release / "deidentified_nongated" / pid / pid)
            sp = np.array([abs(float(v)) for v in vol.spacing_mm])
            row, today, sac = references(vol.hu, sp)
            refs.append({"case": f"phantom {pid}", "kind": "phantom", **row})
            marks += landmark_rows(f"phantom {pid}", "phantom", phantom_points(a.release, pid, sp), today, sac)
            print(refs[-1], flush=True)
    a.out.mkdir(parents=True, exist_ok=True)
    r, m = pd.DataFrame(refs), pd.DataFrame(marks)
    r.to_csv(a.out / "references.csv", index=False)
    m.to_csv(a.out / "landmarks.csv", index=False)
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(r.round(1).to_string(index=False))
        print(m.round(1).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
