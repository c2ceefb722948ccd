"""Geometry of the great vessels and the sternum: phantom range (drawn anatomy, no rendering) against the three real
series' eye-placed landmarks (docs/real_landmarks.json "great_vessels_v14"). Session 14, MEDIASTINUM_REALISM.

    PYTHONPATH=src python bench/arch_geometry.py --seed 10201 --pids 1-20 [--on]

Definitions (phantom and real alike): arch height = the arch lumen's top (centreline top + its radius) minus the
pulmonary bifurcation's z; arch top above carina = the same top minus the carina's z; arch width = the axial distance
between the ascending and the descending aorta's centres at the bifurcation's z; ascending / descending diameters on
that level; the pulmonary trunk's diameter (phantom: twice its mean radius); sternum width and thickness half-way
down the manubrium and at the heart's centre (phantom: the drawn section; session 13 draws a 46 x 12 mm manubrium and
a 28 x 12 mm body for everyone). The phantom's numbers are from the drawn centrelines (the upper chest's slope moves
painted points a few mm in y, not in z).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from cacscore.phantom import anatomy as an
from cacscore.phantom.core import _draws

LANDMARKS = Path(__file__).resolve().parents[1] / "docs" / "real_landmarks.json"
COLS = ("arch height", "arch top above carina", "arch width", "ascending d", "descending d", "PT d",
        "manubrium w", "manubrium t", "body w", "body t")


def phantom_row(a: an.Anatomy) -> dict[str, float]:
    t = a.aorta
    z = t.points[:, 2]
    i_apex = int(np.argmax(z))
    top = float(z[i_apex] + t.radius[i_apex])
    zb = float(a.pa_bif[2])
    idx = np.arange(len(z))
    ia = int(np.argmin(np.abs(z - zb) + 1e3 * (idx > i_apex)))
    idd = int(np.argmin(np.abs(z - zb) + 1e3 * (idx < i_apex)))
    width = float(np.linalg.norm(t.points[ia, :2] - t.points[idd, :2]))
    row = {"arch height": top - zb, "arch top above carina": top - an.carina_z(a), "arch width": width,
           "ascending d": 2 * float(t.radius[ia]), "descending d": 2 * float(t.radius[idd]),
           "PT d": 2 * float(np.mean(a.pulmonary[0].radius))}
    st = a.sternum
    if st is None:
        row.update({"manubrium w": 46.0, "manubrium t": 12.0, "body w": 28.0, "body t": 12.0})
    else:
        hw, th, _ = st.at(np.array([0.5 * (st.z_notch + st.z_angle), float(a.heart_c[2])]))
        row.update({"manubrium w": 2 * float(hw[0]), "manubrium t": float(th[0]), "body w": 2 * float(hw[1]),
                    "body t": float(th[1])})
    return row


def real_rows() -> dict[str, dict[str, float]]:
    d = json.loads(LANDMARKS.read_text())["great_vessels_v14"]
    out = {}
    for name, r in d.items():
        if not name.startswith("lidc"):
            continue
        out[name] = {"arch height": r["arch_top_z"] - r["pa_bif_z"], "arch top above carina": r["arch_top_z"] - r["carina_z"],
                     "arch width": float(np.hypot(r["asc"]["x"] - r["desc"]["x"], r["asc"]["y"] - r["desc"]["y"])),
                     "ascending d": r["asc"]["d"], "descending d": r["desc"]["d"], "PT d": r["pt_d"],
                     "manubrium w": r["manubrium"]["w"], "manubrium t": r["manubrium"]["t"], "body w": r["body"]["w"],
                     "body t": r["body"]["t"]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=10201)
    ap.add_argument("--pids", default="1-20")
    ap.add_argument("--on", action="store_true", help="MEDIASTINUM_REALISM on (without: off, session 13's chest)")
    args = ap.parse_args()
    lo, hi = (int(v) for v in args.pids.split("-"))
    an.MEDIASTINUM_REALISM = args.on
    rows = [phantom_row(_draws(pid, args.seed, 512)[0].anat) for pid in range(lo, hi + 1)]
    real = real_rows()
    print(f"| measure (mm) | phantom {lo}-{hi} seed {args.seed} ({'on' if args.on else 'off'}): min-max (median) | "
          + " | ".join(real) + " | real inside the range |")
    print("|---|---|" + "---|" * len(real) + "---|")
    for c in COLS:
        v = np.array([r[c] for r in rows])
        rv = [real[k][c] for k in real]
        inside = sum(v.min() <= x <= v.max() for x in rv)
        print(f"| {c} | {v.min():.0f}-{v.max():.0f} ({np.median(v):.0f}) | " + " | ".join(f"{x:.0f}" for x in rv)
              + f" | {inside} / {len(rv)} |")


if __name__ == "__main__":
    main()
