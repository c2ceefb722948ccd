"""Where the phantom's crux lies relative to the heart reference the candidate scorer uses (issue 15, anatomy v7).

    PYTHONPATH=src nice -n 10 python bench/crux_position.py --patients 20 --seed 9101 --size 512 [--v6] [--phis 120 140]

For each patient: the crux (the RCA's end of the AV groove where the PDA starts; ``coronary.crux_point``) minus the
heart reference on the written, moving and noisy image (``crux_compare.scoring_reference``: the point the shipped
scorer's dz / dy / dx are measured from, the same function the real series are measured with), in mm (dz up, dy back, dx to the patient's left),
and the fat fraction (-200..-30 HU, the scorer's fat_8mm window) of the static image in an 8 mm box round the
centreline at the crux, along the PDA and on the distal LCX. --phis also prints where the AV groove at those phis
(the heart's frame, ``anatomy.heart_surface``) lies relative to the reference: what a crux drawn there would give.
The real crux (docs/hybrid_landmarks.json, by eye) minus today's reference on the original series
(bench/crux_compare.py, scoring reference): dz -32 / -23 / +5, dy +25 / +26 / +31, dx +0 / +8 / +10 mm on LIDC-IDRI-0001 / 0002 / 0003
(docs/lesion_scorer.md gave 0001 as -32 / +25 / +0).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from cacscore.phantom import make_patient
from cacscore.phantom.anatomy import heart_surface
from cacscore.phantom.core import _draws
from cacscore.phantom.coronary import crux_point
from crux_compare import scoring_reference  # bench/ is on sys.path when run as a script

REAL = {"lidc-idri-0001": (-32, 25, 0), "lidc-idri-0002": (-23, 26, 8), "lidc-idri-0003": (5, 31, 10)}


def box_fat(hu: np.ndarray, p, pts_xyz: np.ndarray, half_mm: float = 4.0) -> float:
    """Mean fat fraction (-200..-30 HU) of the (2 half_mm)^3 boxes round each point (x, y, z mm)."""
    sp = np.array(p.spacing_mm)
    org = np.array(p.origin_mm)[[2, 1, 0]]
    out = []
    for q in pts_xyz:
        c = (q[[2, 1, 0]] - org) / sp
        h = np.maximum(np.rint(half_mm / sp), 1).astype(int)
        k = np.rint(c).astype(int)
        sub = hu[max(k[0] - h[0], 0):k[0] + h[0] + 1, max(k[1] - h[1], 0):k[1] + h[1] + 1, max(k[2] - h[2], 0):k[2] + h[2] + 1]
        if sub.size:
            out.append(float(((sub >= -200) & (sub < -30)).mean()))
    return float(np.mean(out)) if out else np.nan


def one(pid: int, seed: int, size: int, phis: list[float]) -> dict:
    d = _draws(pid, seed, size)[0]
    p = make_patient(pid, seed=seed, size=size)
    ref = scoring_reference(p.hu, p.spacing_mm) * np.array(p.spacing_mm)  # (z, y, x) mm from voxel 0
    org = np.array(p.origin_mm)[[2, 1, 0]]

    def rel(q_xyz):
        return q_xyz[[2, 1, 0]] - org - ref

    name, i = crux_point(d.vessels)
    pts = d.vessels[name].points
    dz, dy, dx = rel(pts[i])
    row = {"pid": pid, "crux_vessel": name, "bed_mm": d.anat.crux_bed_mm, "crux_fat_mm": d.anat.crux_fat_mm or np.nan,
           "dz": dz, "dy": dy, "dx": dx,
           "floor_dz": d.anat.heart_floor_z - (org[0] + ref[0]),
           "fat_crux": box_fat(p.hu_static, p, pts[max(i - 8, 0):i + 9]),
           "fat_pda": box_fat(p.hu_static, p, pts[i + 10::4]) if i + 10 < len(pts) else np.nan}
    lcx = d.vessels["LCX"].points
    row["fat_lcx_dist"] = box_fat(p.hu_static, p, lcx[int(0.66 * len(lcx))::4])
    row["fat_rca_up"] = box_fat(p.hu_static, p, d.vessels["RCA"].points[: len(d.vessels["RCA"].points) // 3:4])
    u_av = float(np.mean((lcx[1:] - d.anat.heart_c) @ d.anat.heart_axes[0]) / d.anat.heart_semi[0])
    for ph in phis:
        q = heart_surface(d.anat, np.array([u_av]), np.array([ph]), np.array([2.5]))[0]
        _, qy, qx = rel(q)
        row[f"phi{ph:g}"] = f"{qy:+.0f}/{qx:+.0f}"
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--patients", type=int, default=20)
    ap.add_argument("--first", type=int, default=1)
    ap.add_argument("--seed", type=int, default=9101)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--phis", type=float, nargs="*", default=[])
    ap.add_argument("--v6", action="store_true", help="v6's courses and no crux bed (anatomy v7's draws off)")
    a = ap.parse_args(argv)
    if a.v6:
        import cacscore.phantom.anatomy as A

        A._draw_v7 = lambda xr: {"crux_phi_deg": None, "pda_drift_deg": 0.0, "crux_bed_mm": 0.0, "bed_out_mm": 0.0,
                                 "crux_fat_mm": None, "crux_du": 0.0}
    df = pd.DataFrame([one(pid, a.seed, a.size, a.phis) for pid in range(a.first, a.first + a.patients)])
    pd.set_option("display.width", 250)
    print(df.round(2).to_string(index=False))
    q = df[["dz", "dy", "dx", "fat_crux", "fat_pda", "fat_lcx_dist", "fat_rca_up"]].quantile([0.1, 0.25, 0.5, 0.75, 0.9])
    print("\nquantiles (crux - reference mm; fat fraction of 8 mm boxes on the static image):")
    print(q.round(2).to_string())
    print("share of patients with the crux 20-35 mm behind and -5..+15 mm left of the reference:",
          round(float(((df.dy >= 20) & (df.dy <= 35) & (df.dx >= -5) & (df.dx <= 15)).mean()), 2))
    print("real crux - reference (dz / dy / dx):", REAL)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
