"""bench/bifurcation_calls.py: a variant sets the named ClassifierConfig fields and the split spec, and the replay
from stored probabilities (LesionModel.assign_vessels) gives what LesionModel.classify gives."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import bifurcation_calls as B

from cacscore import lesion as L

MODEL = Path(__file__).parent / "data" / "lesion_model_phantom300"


def test_a_variant_sets_config_fields_and_the_split_spec():
    base = L.load_model(MODEL)
    name, m, split = B.variant(base, "x=structure_split_p:0.9;left_main_keep:True;vote_weight:agatston;split:10,5,anchor=0.95")
    assert name == "x" and split == "10,5,anchor=0.95"
    assert m.config.structure_split_p == 0.9 and m.config.left_main_keep is True and m.config.vote_weight == "agatston"
    name, m, split = B.variant(base, "shipped=")
    assert (name, split) == ("shipped", "10,5") and m.config == base.config


def test_the_replay_from_stored_probabilities_is_classify():
    """A cached case's classes again from its probabilities: the same as classify on the same candidates, for the
    default configuration and a structure-split one. The MLP's answer is a fixed random table (mixed vessels within
    each structure); far candidates are rule-decided and read (1, 0, 0, 0, 0), as predict_proba gives them."""
    rng = np.random.default_rng(0)
    n = 60
    f = np.zeros((n, len(L.FEATURE_NAMES)), np.float32)
    f[:, :3] = rng.normal(0, 20, (n, 3))
    f[:, L.FEATURE_NAMES.index("dist_mm")] = np.linalg.norm(f[:, :3], axis=1)
    f[:10, L.FEATURE_NAMES.index("dist_mm")] = 500.0  # beyond max_distance_mm: decided by rule
    f[:, L.FEATURE_NAMES.index("log_agatston")] = np.log1p(rng.uniform(1, 300, n))
    p = rng.dirichlet(np.ones(5) * 0.5, n).astype(np.float32)
    p[:10] = [1, 0, 0, 0, 0]
    structure = rng.integers(0, 10, n)
    au = np.expm1(f[:, L.FEATURE_NAMES.index("log_agatston")]).astype(np.float64)
    base = L.load_model(MODEL)
    for spec in ("default=", "s=structure_split_p:0.6", "k=left_main_keep:True;structure_veto:True"):
        m = B.variant(base, spec)[1]
        m.predict_proba = lambda table, where=None: p  # the MLP's answer, fixed
        want = m.classify(f, None, None, structure, au)
        assert len(np.unique(want[want > 0])) >= 2 and (want != np.argmax(p, 1)).any()  # the steps moved calls
        z = {"proba": p, "structure": structure, "agatston": au, "features": f}
        np.testing.assert_array_equal(B.reclassify(z, m), want)


def test_the_split_spec_reads_the_branch_keys():
    """Session 19 (wt27d): parse_split's branch keys set SplitSettings.branch_*; unset ones keep the dataclass's
    defaults; a spec without them leaves the rule off."""
    from voxel_split import parse_split

    from cacscore.lesion.split import SplitSettings

    s = parse_split("10,5,anchor=0.95,self=1,branch=20,blca=1,bmin=6,bcost=3")
    assert (s.branch_mm, s.branch_lca, s.branch_min_mm, s.branch_gap_cost) == (20.0, True, 6.0, 3.0)
    assert (s.branch_gap_mm, s.branch_margin_mm) == (SplitSettings.branch_gap_mm, SplitSettings.branch_margin_mm)
    assert parse_split("10,5").branch_mm is None


def test_the_split_spec_reads_the_anchor_keep_keys():
    """Session 21 (wt29a): keepp / keepv set SplitSettings.anchor_keep_p / anchor_keep_vessels; without them off."""
    from voxel_split import parse_split

    s = parse_split("10,5,anchor=0.95,self=1,keepp=0.9")
    assert (s.anchor_keep_p, s.anchor_keep_vessels) == (0.9, (1,))
    assert parse_split("10,5,keepp=0.95,keepv=123").anchor_keep_vessels == (1, 2, 3)
    assert parse_split("10,5").anchor_keep_p is None
    assert parse_split("10,5,keepp=0.95,keepabs=1").anchor_keep_unanchored is True
    assert parse_split("10,5,keepp=0.95").anchor_keep_unanchored is False


def test_the_split_spec_reads_the_lca_self_keys():
    """Session 23 (wt31b): lcaself / lcaselfmm set SplitSettings.lca_self_p / lca_self_mm; without them off / 10 mm."""
    from voxel_split import parse_split

    s = parse_split("10,5,anchor=0.95,self=1,lcaself=0.5")
    assert (s.lca_self_p, s.lca_self_mm) == (0.5, 10.0)
    assert parse_split("10,5,lcaself=0.6,lcaselfmm=12").lca_self_mm == 12.0
    assert parse_split("10,5").lca_self_p is None
