"""bench/plaque_draws.py (session 21, wt29b): the plaques a cohort draws, without rendering."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import plaque_draws  # noqa: E402

from cacscore.phantom.core import make_patient  # noqa: E402


def test_rows_match_make_patient_and_do_not_depend_on_the_anatomy_version():
    v16 = plaque_draws.plaque_rows(5, [1, 2, 3, 4], "v16", size=32)
    v11 = plaque_draws.plaque_rows(5, [1, 2, 3, 4], "v11", size=32)
    assert v16[["n_plaques", "LCA", "LAD", "LCX", "RCA"]].equals(v11[["n_plaques", "LCA", "LAD", "LCX", "RCA"]])
    assert v16["n_plaques"].tolist() == [0, 0, 0, 4] and v16.loc[3, ["LCA", "LAD", "LCX", "RCA"]].tolist() == [1, 1, 1, 1]
    p = make_patient(4, seed=5, size=32, version="v16")
    assert p.n_plaques == 4 and sorted(q.vessel for q in p.plaques) == ["LAD", "LCA", "LCX", "RCA"]
