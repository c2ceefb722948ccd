"""bench/largest_errors.py: the branches of a 3-D structure (cut where it forks), the error decomposition (its parts
add up to the prediction's error) and the offline product classes (equal to LesionModel.classify's)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import largest_errors as LE

from cacscore.lesion.tree import guard_left_main, join_structure, vote_by_structure


def _ids(blobs: list[tuple[int, int, int]], shape=(5, 20, 20)) -> np.ndarray:
    """Candidate ids volume: candidate k + 1 is a 2 x 2 square at (slice, y, x) blobs[k]."""
    ids = np.zeros(shape, np.int32)
    for k, (z, y, x) in enumerate(blobs):
        ids[z, y:y + 2, x:x + 2] = k + 1
    return ids


def test_a_chain_is_one_branch_and_a_fork_is_cut():
    # 1-2-3: one candidate per slice, touching: one branch
    chain = _ids([(0, 5, 5), (1, 6, 6), (2, 7, 7)])
    b = LE.branches(chain, 3)
    assert len(set(b)) == 1
    # a fork: candidate 1 (slice 2) touches 2 and 3 in slice 1 (two arms, apart in that slice), each goes on below
    fork = _ids([(2, 5, 7), (1, 5, 5), (1, 5, 9), (0, 5, 4), (0, 5, 10)])
    assert {tuple(p) for p in LE.candidate_links(fork)} == {(4, 2), (5, 3), (2, 1), (3, 1)}
    b = LE.branches(fork, 5)
    assert b[1] == b[3] and b[2] == b[4]  # each arm is one branch
    assert b[1] != b[2] and b[0] not in (b[1], b[2])  # the arms are cut from each other and from the stem
    # two candidates in different places that do not touch: two branches, as they are two structures
    apart = _ids([(0, 2, 2), (1, 15, 15)])
    assert len(set(LE.branches(apart, 2))) == 2


def _patient(p: np.ndarray, structure, au, may=None, target=None) -> pd.DataFrame:
    n = len(p)
    g = pd.DataFrame({f"p{q}_m": p[:, q] for q in range(5)})
    return g.assign(id="1", c=np.arange(1, n + 1), structure=structure, branch=structure, au=au,
                    may_m=np.ones(n, bool) if may is None else may,
                    target=np.zeros(n, int) if target is None else target)


def test_offline_classes_are_the_products_tree_steps():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(5) * 0.5, size=40)
    structure = rng.integers(0, 8, 40)
    au = rng.uniform(1, 200, 40)
    may = rng.random(40) > 0.2
    g = _patient(p, structure, au, may)
    q = p.copy()
    q[~may] = [1, 0, 0, 0, 0]
    before = np.argmax(q, axis=1)
    want = join_structure(guard_left_main(before, vote_by_structure(before, q, structure), q, structure, au), q,
                          structure, may)
    assert (LE.product_classes(g, "m", "structure") == want).all()
    assert (LE.product_classes(g, "m", "structure", stage="mlp") == before).all()


def test_the_parts_add_up_to_the_error():
    # patient 1: an LCX candidate called LAD (wrong artery), a MAC called LCX, an RCA candidate missed
    cand = pd.DataFrame({"id": ["1"] * 4, "c": [1, 2, 3, 4], "au": [100.0, 50.0, 30.0, 20.0], "target": [3, 0, 4, 2],
                         "cls_m": [2, 3, 0, 2], "kind": ["", "MAC", "", ""], "reach_m": [True] * 4,
                         "may_m": [True] * 4, "rules": [""] * 4})
    truth = pd.DataFrame({"id": ["1"], "LCA": [0.0], "LAD": [25.0], "LCX": [100.0], "RCA": [30.0],
                          **{f"moving_{v}": [x] for v, x in (("LCA", 0.0), ("LAD", 20.0), ("LCX", 100.0),
                                                              ("RCA", 30.0))}})
    pred = pd.DataFrame({"id": ["1"], "LCA": [0.0], "LAD": [120.0], "LCX": [50.0], "RCA": [0.0]})
    pt = LE.parts(cand, truth, pred, "m")
    got = pt.groupby("vessel")["au"].sum()
    for v in ("LAD", "LCX", "RCA"):
        assert abs(got[v] - (pred.loc[0, v] - truth.loc[0, v])) < 1e-9
    kinds = set(pt[pt.au != 0].kind)
    assert {"wrong artery LCX->LAD", "look-alike MAC called coronary", "missed RCA (MLP)"} <= kinds
    assert any(k.startswith("motion") for k in kinds)  # LAD: moving 20 vs static 25
    scale = truth[LE.V].max().clip(lower=1.0)
    sh = LE.shares(pt, pd.concat([truth, truth.assign(id="2")]), scale, LE.coarse)
    assert set(sh.kind) >= {"wrong artery", "look-alike", "missed", "motion"}
