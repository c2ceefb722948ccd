"""Tests of the ring_soft rule for mitral annular calcification (AnatomyRules.mac_ring_soft, off by default)."""

from __future__ import annotations

import numpy as np
import pytest

from cacscore import lesion as L
from cacscore.lesion import classifier as C
from cacscore.lesion.anatomy import AnatomyRules, mac_ring_verdict
from cacscore.predict.predictors import DEFAULT_MODEL

SP = (2.5, 0.8, 0.8)
HEART = (2, 48, 10)
ON = AnatomyRules(mac_ring_soft=0.75)
LCX, RCA = 3, 4


def _scene() -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
    """(5, 96, 96) HU: soft tissue (40) for x < 53, fat (-100) beyond; in slice 2 a plaque-like blob deep in the fat
    and a MAC-like blob deep in the soft tissue. Returns the volume and the (y, x) of each blob."""
    hu = np.full((5, 96, 96), 40.0, np.float32)
    hu[:, :, 53:] = -100.0
    hu[2, 20:23, 80:83] = 400.0
    hu[2, 70:73, 25:28] = 400.0
    return hu, (21, 81), (71, 26)


def _ring(cand: L.Candidates) -> np.ndarray:
    return cand.features[:, L.FEATURE_NAMES.index("ring_soft")]


def test_the_rule_is_off_by_default():
    assert AnatomyRules().mac_ring_soft is None
    assert not mac_ring_verdict(np.array([LCX, LCX]), np.array([1.0, 0.99])).any()


def test_soft_tissue_around_an_lcx_call_fires_and_fat_does_not():
    hu, fat_yx, soft_yx = _scene()
    cand = L.find_candidates(hu, SP, heart_index=HEART)
    i_fat, i_soft = (int(cand.ids[2, y, x]) - 1 for y, x in (fat_yx, soft_yx))
    ring = _ring(cand)
    assert ring[i_soft] > 0.9 and ring[i_fat] < 0.1
    lcx = np.full(len(ring), LCX)
    v = mac_ring_verdict(lcx, ring, ON)
    assert v[i_soft] and not v[i_fat]
    # scope: an RCA call, or a non-coronary one, in the same soft tissue is left alone
    assert not mac_ring_verdict(np.full(len(ring), RCA), ring, ON).any()
    assert mac_ring_verdict(np.full(len(ring), RCA), ring, AnatomyRules(mac_ring_soft=0.75, mac_ring_vessels=("RCA",)))[i_soft]
    assert not mac_ring_verdict(np.zeros(len(ring), int), ring, ON).any()
    # the threshold is strict and nan never fires
    assert not mac_ring_verdict(np.array([LCX, LCX]), np.array([0.75, np.nan]), ON).any()
    with pytest.raises(ValueError, match="not a vessel"):
        mac_ring_verdict(lcx, ring, AnatomyRules(mac_ring_soft=0.5, mac_ring_vessels=("LXC",)))


def test_classify_applies_the_rule_to_the_final_call_only_when_switched_on(monkeypatch):
    hu, fat_yx, soft_yx = _scene()
    cand = L.find_candidates(hu, SP, heart_index=HEART)
    i_fat, i_soft = (int(cand.ids[2, y, x]) - 1 for y, x in (fat_yx, soft_yx))
    model = C.load_model(DEFAULT_MODEL)
    lcx = np.full(len(cand.features), LCX)
    assert (model._mac_ring(lcx, cand.features) == LCX).all()  # off: unchanged
    monkeypatch.setattr(C, "AnatomyRules", lambda: ON)
    out = model._mac_ring(lcx, cand.features)
    assert out[i_soft] == 0 and out[i_fat] == LCX
    # a table without ring_soft (a base model's own input) is left as it is
    assert (model._mac_ring(lcx, model.table(cand.features)) == LCX).all()


def test_the_verdicts_and_the_mac_ring_read_the_models_one_rule_set(monkeypatch):
    """LesionModel.rules is the one rule set of a model: the anatomy verdicts (may_be_coronary) and the final MAC-ring
    step both read it (before session 14 the verdicts used anatomy_verdicts' own default argument)."""
    model = C.load_model(DEFAULT_MODEL)
    monkeypatch.setattr(C, "AnatomyRules", lambda: ON)
    seen = []

    def verdicts(cols, rules=AnatomyRules()):
        seen.append(rules)
        return np.zeros((len(cols), 1), bool)

    monkeypatch.setattr(C, "anatomy_verdicts", verdicts)
    f = np.zeros((2, len(L.FEATURE_NAMES)), np.float32)
    from cacscore.lesion.anatomy import ANATOMY_NAMES
    model.may_be_coronary(f, None, np.zeros((2, len(ANATOMY_NAMES)), np.float32))
    assert seen == [ON] and model.rules == ON
