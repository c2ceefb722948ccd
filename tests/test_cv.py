import numpy as np
import pytest

from cacscore.regress.cv import GRIDS, Splits, grid_points, load_grid, make_splits, point_name


def test_splits_are_patientwise_stratified_and_seeded(tmp_path):
    ids = [f"p{i}" for i in range(50)]
    totals = np.array([0] * 20 + [50] * 15 + [200] * 10 + [900] * 5, dtype=float)
    s = make_splits(ids, totals, seed=3)
    assert len(s.test) == 10 and len(s.train) == 40 and not set(s.test) & set(s.train)
    assert sorted(i for f in s.folds for i in f) == sorted(s.train) and len(s.folds) == 5
    assert sum(totals[ids.index(i)] == 0 for i in s.test) == 4  # 40% zero in the cohort and in the test split
    s.save(tmp_path / "splits.json")
    assert Splits.load(tmp_path / "splits.json") == s == make_splits(ids, totals, seed=3)
    assert make_splits(ids, totals, seed=4) != s
    tr, va = s.fold(2)
    assert set(tr) | set(va) == set(s.train) and not set(tr) & set(va)
    with pytest.raises(ValueError, match="too few"):
        make_splits(ids[:8], totals[:8])
    with pytest.raises(ValueError, match="neither"):
        load_grid("huge")
    with pytest.raises(ValueError, match="unknown key"):
        load_grid({"lr": [1e-3], "epochs": 3})


def test_grids(tmp_path):
    pts = grid_points(load_grid("paper"), seed=1)
    assert len(pts) == 3 * 3 * 2 and {p.batch_size for p in pts} == {8, 16, 32} and all(p.seed == 1 for p in pts)
    assert len({point_name(p) for p in pts}) == len(pts)
    f = tmp_path / "g.json"
    f.write_text('{"batch_size": 4, "lr": [0.01], "max_epochs": 2}')
    (p,) = grid_points(load_grid(f), seed=0)
    assert (p.batch_size, p.lr, p.max_epochs) == (4, 0.01, 2)
    f.write_text('{"lr": [-1]}')
    with pytest.raises(ValueError, match="lr"):
        load_grid(f)
    assert set(GRIDS) >= {"small", "paper", "demo"}
