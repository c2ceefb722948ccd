"""AnatomyRules.root_clear_in_sac_mm (opt-in, session 22 wt30a): the aortic-wall rule's exemption at the root read
with the pericardial mask."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

from cacscore.lesion.anatomy import ANATOMY_NAMES, RULE_NAMES, AnatomyRules, anatomy_verdicts

WALL = RULE_NAMES.index("aortic wall")
ON = AnatomyRules(root_clear_in_sac_mm=40.0)
OFF = AnatomyRules(root_clear_in_sac_mm=None)  # the rule before session 22


def _cols(peri, wall, seg, above_root):
    c = np.full(len(ANATOMY_NAMES), np.nan)
    c[[ANATOMY_NAMES.index(k) for k in ("pericardium_mm", "aortic_wall_mm", "aorta_segment", "bone_mm",
                                         "above_root_mm", "above_diaphragm_mm")]] = [peri, wall, seg, 40, above_root, 60]
    return c


CASES = [  # (columns, shipped fires, with the option fires)
    # seed 14513 patient 7: the left main 1.0 mm from the wall, 25 mm above a root found 15.6 mm low, 10 mm inside
    (_cols(-10.0, 1.0, 0, 25.0), True, False),
    # seed 14514 patient 7: ascending-wall calcium in the found lumen's edge, no root found, 8.1 mm outside the sac
    (_cols(8.1, -3.3, 0, np.nan), False, True),
    (_cols(-4.0, 2.0, 0, np.nan), False, False),  # no root, inside the sac: spared as before
    (_cols(5.0, 0.5, 0, 35.0), True, True),       # outside the sac, high: fires as before
    (_cols(-2.0, 0.5, 0, 45.0), True, True),      # inside the sac but above the 40 mm cap
    (_cols(6.0, 0.5, 0, 15.0), False, False),     # outside the sac at the root (<= root_clear_mm): spared as before
    (_cols(np.nan, 0.5, 0, 25.0), True, True),    # no sac found: the shipped rule
    (_cols(np.nan, 0.5, 0, np.nan), False, False),
    (_cols(-10.0, 1.0, 2, 25.0), True, True),     # the descending segment: never spared
    (_cols(-10.0, 6.0, 0, 25.0), False, False),   # beyond the wall margin: no rule either way
]


def test_root_exemption_in_the_sac():
    cols = np.stack([c for c, _, _ in CASES])
    off, on = anatomy_verdicts(cols, OFF), anatomy_verdicts(cols, ON)
    assert off[:, WALL].tolist() == [s for _, s, _ in CASES]
    assert on[:, WALL].tolist() == [r for _, _, r in CASES]
    others = [i for i in range(len(RULE_NAMES)) if i != WALL]
    assert np.array_equal(off[:, others], on[:, others])  # only the aortic-wall rule moves


def test_on_by_default_since_session_22_and_the_bench_switch():
    """On in the product since session 22 (docs/model_card.md "Session 22 (lead)"); the bench switch names the same
    setting, so earlier commands still read."""
    assert AnatomyRules() == ON
    cols = np.stack([c for c, _, _ in CASES])
    assert np.array_equal(anatomy_verdicts(cols), anatomy_verdicts(cols, ON))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from lookalike_calls import RULES

    assert dataclasses.replace(AnatomyRules(), **RULES["root_sac_40"]) == ON
