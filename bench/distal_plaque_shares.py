"""Where v7 puts the RCA's and LCX's plaques under a DISTAL_BETA law (the draws only, nothing rendered).

    PYTHONPATH=src nice -n 10 python bench/distal_plaque_shares.py --seed 77 --patients 120

Per law: RCA plaques past the crux (centreline index > ``Vessel.crux``) and within 25 mm of arc before it or past it;
LCX plaques on its distal 40 % and on its proximal third. beta(1.3, 2.2) is the identity map (draw_calcium's law:
v6's positions on v7's longer vessels).
"""

from __future__ import annotations

import argparse

import numpy as np

from cacscore.phantom import coronary
from cacscore.phantom.core import _draws  # the patient's draws without rendering: the only door to them


def shares(seed: int, n: int, law: tuple[float, float]) -> dict[str, int]:
    """Counts of the RCA / LCX plaques by position for patients 1..n of ``seed`` with DISTAL_BETA = ``law``."""
    coronary.DISTAL_BETA = law
    c = dict.fromkeys(("rca", "past", "near", "lcx", "distal40", "prox3"), 0)
    for pid in range(1, n + 1):
        d, _ = _draws(pid, seed, 512)
        for sp in d.specs:
            if sp.vessel not in ("RCA", "LCX"):
                continue
            ves = d.vessels[sp.vessel]
            s = coronary.plaque_position(sp, distal=d.anat.crux_phi_deg is not None)
            i = min(max(int(round(s * (len(ves.points) - 1))), 1), len(ves.points) - 2)  # as place_plaques
            if sp.vessel == "LCX":
                c["lcx"] += 1
                c["distal40"] += s >= 0.6
                c["prox3"] += s < 1 / 3
                continue
            c["rca"] += 1
            if ves.crux >= 0:  # left dominant: the RCA ends short of the crux
                arc = np.r_[0, np.cumsum(np.linalg.norm(np.diff(ves.points, axis=0), axis=1))]
                c["past"] += i > ves.crux
                c["near"] += arc[i] >= arc[ves.crux] - 25
    return c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=77)
    ap.add_argument("--patients", type=int, default=120)
    ap.add_argument("--laws", nargs="+", default=["1.3,2.2", "1.2,1.2", "1.2,1.6"], help="a,b of each beta law")
    a = ap.parse_args()
    for law in a.laws:
        ab = tuple(float(x) for x in law.split(","))
        c = shares(a.seed, a.patients, ab)
        print(f"beta{ab}: RCA {c['past']}/{c['rca']} past the crux ({c['near']} within 25 mm before it or past it); "
              f"LCX {c['distal40']}/{c['lcx']} on its distal 40 %, {c['prox3']}/{c['lcx']} on its proximal third",
              flush=True)


if __name__ == "__main__":
    main()
