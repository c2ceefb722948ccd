"""The phantom's plaque sizes by vessel and third of the vessel (the draws only, nothing rendered).

    PYTHONPATH=src nice -n 10 python bench/plaque_draws_by_position.py --seed 77 --patients 300 [--v7]

Per vessel and third (after the position law, ``coronary.plaque_position``): plaque count, estimated AU q25 / median /
q75, diameter median and share >= 4 mm, and the Mann-Whitney p of the proximal LCX against the proximal LAD. --v7 draws
as v7 did (no ``proximal_first``, no straddling: sizes independent of position). docs/phantom.md, "Anatomy v8".
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import stats

import cacscore.phantom.core as C
from cacscore.phantom.coronary import plaque_position
from cacscore.core.vessels import VESSELS

THIRDS = (("proximal", 0, 1 / 3), ("middle", 1 / 3, 2 / 3), ("distal", 2 / 3, 1.01))


def draws(seed: int, n: int) -> list[tuple[str, float, float, float]]:
    """(vessel, position 0..1, estimated AU, diameter mm) of every plaque of patients 1..n."""
    out = []
    for pid in range(1, n + 1):
        d = C._draws(pid, seed, 512, lookalikes=False)[0]
        out += [(s.vessel, plaque_position(s, True), s.est_score, s.diameter_mm) for s in d.specs]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=77)
    ap.add_argument("--patients", type=int, default=300)
    ap.add_argument("--v7", action="store_true", help="sizes independent of position, no straddling (v7's draws)")
    a = ap.parse_args()
    if a.v7:
        C.proximal_first = lambda specs, rng: specs
        C.straddlers = lambda *args, **kw: frozenset()
    r = draws(a.seed, a.patients)
    for v in VESSELS:
        for name, lo, hi in THIRDS:
            e = np.array([x[2] for x in r if x[0] == v and lo <= x[1] < hi])
            d = np.array([x[3] for x in r if x[0] == v and lo <= x[1] < hi])
            if len(e):
                print(f"{v} {name}: n {len(e)}, estimated AU q25 / median / q75 "
                      f"{' / '.join(f'{q:.0f}' for q in np.percentile(e, [25, 50, 75]))}, diameter median "
                      f"{np.median(d):.2f} mm, >= 4 mm {np.mean(d >= 4):.2f}")
    lad = [x[2] for x in r if x[0] == "LAD" and x[1] < 1 / 3]
    lcx = [x[2] for x in r if x[0] == "LCX" and x[1] < 1 / 3]
    print(f"proximal LCX vs proximal LAD: Mann-Whitney p {stats.mannwhitneyu(lcx, lad).pvalue:.2f}")


if __name__ == "__main__":
    main()
