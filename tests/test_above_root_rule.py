"""AnatomyRules.above_root_outside_mm (opt-in): calcium high above the found aortic root and outside the sac."""

from __future__ import annotations

import numpy as np

from cacscore.lesion.anatomy import ANATOMY_NAMES, RULE_NAMES, AnatomyRules, anatomy_verdicts

HIGH = RULE_NAMES.index("above the root")


def _cols(peri, wall, seg, above_root):
    c = np.full(len(ANATOMY_NAMES), np.nan)
    c[[ANATOMY_NAMES.index(k) for k in ("pericardium_mm", "aortic_wall_mm", "aorta_segment", "bone_mm",
                                         "above_root_mm", "above_diaphragm_mm")]] = [peri, wall, seg, 40, above_root, 60]
    return c


def test_above_root_rule_fires_only_high_and_outside_the_sac():
    cols = np.stack([
        _cols(10.0, 4.7, 0, 40.0),   # seed 12301 patient 40: ascending wall calcium 4.7 mm from the found wall
        _cols(-5.0, 20.0, 0, 40.0),  # as high, inside the sac: no rule
        _cols(3.0, 20.0, 0, 10.0),   # outside the sac at the root's level (ostia, left main): no rule
        _cols(10.0, 20.0, 0, np.nan),  # no root found: no rule
        _cols(np.nan, 20.0, 0, 40.0),  # no sac found: no rule
    ])
    on = anatomy_verdicts(cols, AnatomyRules(above_root_outside_mm=25.0))
    assert on[:, HIGH].tolist() == [True, False, False, False, False]
    assert not on[0, :HIGH].any()  # nothing else catches the first: the aortic wall margin is 4 mm
    off = anatomy_verdicts(cols)
    assert not off[:, HIGH].any() and np.array_equal(off[:, :HIGH], on[:, :HIGH])
