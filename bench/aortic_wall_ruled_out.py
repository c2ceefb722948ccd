"""True coronary calcium the aortic-wall rule rules out, from bench/lookalike_calls.py caches (session 23, wt31c).

    PYTHONPATH=src:bench python bench/aortic_wall_ruled_out.py OUT [OUT ...]

For each OUT folder of ``lookalike_calls.py`` (OUT/cache/<pid>.npz): the AU of candidates of kind ``coronary`` whose
parent candidate the aortic-wall rule fires on (``parent_verdicts``), in total and how much of it the scorer then
called non-coronary, per patient where any; and the look-alike AU called coronary (every kind but coronary).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from cacscore.lesion.anatomy import RULE_NAMES


def summarise(out: Path) -> dict:
    wall = RULE_NAMES.index("aortic wall")
    ruled = missed = lookalike = 0.0
    per = []
    for f in sorted(out.glob("cache/*.npz"), key=lambda p: int(p.stem) if p.stem.isdigit() else p.stem):
        with np.load(f) as z:
            kind, au, called = z["kind"], z["au"], z["called_au"].sum(1)
            v = z["parent_verdicts"][:, wall] if "parent_verdicts" in z.files else np.zeros(len(kind), bool)
        on = (kind == 0) & v
        ruled += float(au[on].sum())
        missed += float((au[on] - called[on]).sum())
        lookalike += float(called[kind != 0].sum())
        if on.any():
            per.append(f"{f.stem}: {au[on].sum():.1f}")
    return {"ruled_out_coronary_au": round(ruled, 1), "of_it_not_called": round(missed, 1),
            "lookalike_called_au": round(lookalike, 1), "patients": ", ".join(per) or "-"}


if __name__ == "__main__":
    for o in sys.argv[1:]:
        print(o, summarise(Path(o)))
