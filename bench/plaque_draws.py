"""The coronary plaques a phantom cohort draws, per patient and vessel, without rendering (session 21, wt29b): how much
disease (and left-main disease) a training seed holds, for any anatomy version.

    PYTHONPATH=src python bench/plaque_draws.py --seed 14857 --ids 1-200 --anatomy v16 [--out draws.csv]

Uses cacscore.phantom.core._draws (make_patient's draws, before any rendering; ~0.4 s per patient). The calcium is
drawn by draw_calcium from the patient's stream after the anatomy's draws, whose count does not depend on the anatomy
version, so v11 and v16 of the same seed and id draw the same plaques (tests/test_plaque_draws.py).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from id_ranges import id_range  # noqa: E402

from cacscore.core.vessels import VESSELS
from cacscore.phantom.core import _draws


def plaque_rows(seed: int, ids: list[int], anatomy: str, size: int = 512) -> pd.DataFrame:
    """One row per patient: id, n_plaques and the plaques per vessel (placed plaques, make_patient's)."""
    rows = []
    for pid in ids:
        d, _ = _draws(pid, seed, size, version=anatomy)
        c = Counter(p.vessel for p in d.plaques)
        rows.append({"id": pid, "n_plaques": len(d.plaques), **{v: int(c.get(v, 0)) for v in VESSELS}})
    return pd.DataFrame(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--ids", default="1-200")
    ap.add_argument("--anatomy", default="v11")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    df = plaque_rows(a.seed, id_range(a.ids), a.anatomy)
    if a.out is not None:
        df.to_csv(a.out, index=False)
    print(f"seed {a.seed} {a.anatomy} ids {a.ids}: {len(df)} patients, plaques per patient {df.n_plaques.mean():.2f}; "
          + "; ".join(f"{v} plaques {int(df[v].sum())}, patients with one {int((df[v] > 0).sum())}" for v in VESSELS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
