"""bench/mac_rule.py: its rule switch changes what a model may call coronary only inside the block and only by the
mitral-annulus rule, and its look-alike tags follow the anatomy label volume."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from cacscore.lesion import anatomy as A
from cacscore.lesion import classifier as C
from cacscore.lesion.candidates import FEATURE_NAMES

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def M():
    sys.path.insert(0, str(BENCH))  # the bench imports its siblings
    spec = importlib.util.spec_from_file_location("mac_rule", BENCH / "mac_rule.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    yield mod
    sys.path.remove(str(BENCH))


def test_the_switch_toggles_only_the_mitral_rule_inside_its_block(M):
    model = C.load_model(Path(__file__).parent / "data" / "lesion_model_phantom300")
    feats = np.zeros((3, len(FEATURE_NAMES)), np.float32)  # at the heart reference: reachable, in the z range
    cols = np.full((3, len(A.ANATOMY_NAMES)), np.nan)
    at = {k: A.ANATOMY_NAMES.index(k) for k in ("pericardium_mm", "sac_above_mm", "sac_behind_mm", "sac_left_mm")}
    for row, (depth, above, behind, left) in enumerate([(-18, -20, 20, 10),   # deep, posterior-left-lower: MAC
                                                        (-4, -20, 40, 15),    # the LCX in the groove
                                                        (-18, 25, 10, 15)]):  # deep above the centroid (left main)
        for k, v in zip(at, (depth, above, behind, left)):
            cols[row, at[k]] = v
    default = model.may_be_coronary(feats, None, cols)
    assert default.all()  # the rule is off by default
    with M.mac_rule(True):
        on = model.may_be_coronary(feats, None, cols)
    with M.mac_rule(False):
        off = model.may_be_coronary(feats, None, cols)
    assert on.tolist() == [False, True, True] and off.all()
    assert np.array_equal(model.may_be_coronary(feats, None, cols), default)  # restored after the block


def test_candidate_kinds_follow_the_anatomy_labels(M):
    from cacscore.phantom.anatomy import LABEL

    ids = np.zeros((1, 4, 8), np.int32)
    ids[0, :, 0:2], ids[0, :, 2:4], ids[0, :, 4:6] = 1, 2, 3
    alab = np.zeros_like(ids)
    alab[0, :2, 0:2] = LABEL["mitral_annulus_calcium"]  # half of candidate 1
    alab[0, :1, 2:3] = LABEL["mitral_annulus_calcium"]  # an eighth of candidate 2
    alab[0, :, 4:6] = LABEL["mitral_annulus_calcium"]   # all of candidate 3, but it is a true plaque
    kinds = M.candidate_kinds(ids, alab, np.array([0, 0, 3]))
    assert [M.KIND_NAMES[k] for k in kinds] == ["mitral_annulus", "other", "coronary"]
