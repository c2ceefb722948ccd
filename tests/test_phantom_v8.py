"""Anatomy v8 of the phantom (session 11): coronary labels only near plaques, larger plaques proximal, some plaques
across the left main's bifurcation; every other draw is v7's."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from scipy import stats

import cacscore.phantom.core as C
import cacscore.phantom.coronary as K
from cacscore.phantom import make_patient
from cacscore.phantom.core import _draws

SEED = 5


def _as_v7(m) -> None:
    m.setattr(C, "proximal_first", lambda specs, rng: specs)
    m.setattr(C, "straddlers", lambda *a, **k: frozenset())


def _arc_position(d, sp) -> float:
    """mm from the vessel's start to where place_plaques puts the plaque (its drawn position, v7's DISTAL_BETA map)."""
    pts = d.vessels[sp.vessel].points
    return K.plaque_position(sp, True) * float(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum())


def test_v8_keeps_every_vessel_its_plaques_positions_and_the_other_draws(monkeypatch):
    seen = 0
    for pid in range(1, 25):
        d8 = _draws(pid, SEED, 64)[0]
        with monkeypatch.context() as m:
            _as_v7(m)
            d7 = _draws(pid, SEED, 64)[0]
        # the main stream is untouched: the draws after the plaques' (motion) and the courses
        assert d8.motion.amplitude_mm == d7.motion.amplitude_mm and np.array_equal(d8.motion.phase, d7.motion.phase)
        assert all(np.array_equal(d8.vessels[v].points, d7.vessels[v].points) for v in d7.vessels)
        for v in ("LCA", "LAD", "LCX", "RCA"):
            a, b = [s for s in d8.specs if s.vessel == v], [s for s in d7.specs if s.vessel == v]
            key = lambda s: (s.diameter_mm, s.length_mm, s.hu, s.est_score)
            assert sorted(map(key, a)) == sorted(map(key, b))  # the same plaques: the calibrated target
            assert Counter(s.s_frac for s in a) == Counter(s.s_frac for s in b)  # the same positions
            seen += len(a) > 2 and [s.s_frac for s in a] != [s.s_frac for s in b]
    assert seen >= 3  # and the positions were dealt out again somewhere


def test_same_patient_same_image_labels_and_truth():
    p, q = make_patient(4, seed=SEED, size=64), make_patient(4, seed=SEED, size=64)
    assert np.array_equal(p.hu, q.hu) and np.array_equal(p.labels, q.labels) and p.truth == q.truth
    assert [pl.centre.tolist() for pl in p.plaques] == [pl.centre.tolist() for pl in q.plaques]


def _cohort_specs(n: int, seed: int = 77):
    out = []
    for pid in range(1, n + 1):
        d = _draws(pid, seed, 512, lookalikes=False)[0]
        out += [(s.vessel, K.plaque_position(s, True), s.est_score) for s in d.specs]
    return out


def test_larger_plaques_lie_proximal_and_proximal_lcx_is_as_large_as_proximal_lad():
    rows = _cohort_specs(300)
    for v in ("LAD", "LCX", "RCA"):
        s = np.array([r[1] for r in rows if r[0] == v])
        e = np.array([r[2] for r in rows if r[0] == v])
        assert stats.spearmanr(s, e)[0] < -0.2  # v7: sizes and positions independent (|rho| < 0.1)
        assert np.median(e[s < 1 / 3]) > 1.3 * np.median(e[s >= 2 / 3])
    lad = np.array([r[2] for r in rows if r[0] == "LAD" and r[1] < 1 / 3])
    lcx = np.array([r[2] for r in rows if r[0] == "LCX" and r[1] < 1 / 3])
    assert 0.7 < np.median(lcx) / np.median(lad) < 1.4
    assert stats.mannwhitneyu(lcx, lad).pvalue > 0.05


def test_some_plaques_straddle_the_bifurcation():
    n = crossing = 0
    for pid in range(1, 80):
        d = _draws(pid, SEED, 512, lookalikes=False)[0]
        near = [k for k, s in enumerate(d.specs) if s.vessel in ("LAD", "LCX") and _arc_position(d, s) <= K.STRADDLE_MM]
        for k in near:
            pl = d.plaques[k]
            bif = d.vessels[pl.vessel].points[0]
            along = abs(float((bif - pl.centre) @ pl.axes[0]))
            n += 1
            crossing += along < pl.semi[0]  # the bifurcation lies inside the plaque's length
    assert n >= 20 and 0.3 * n <= crossing <= 0.85 * n  # about P_STRADDLE of them (some short ones cross anyway)


def test_labels_only_near_plaques_and_truth_kept_for_plaqued_vessels(monkeypatch):
    for pid in range(1, 40):  # a calcified patient with an LAD plaque and at least one vessel without any
        d = _draws(pid, SEED, 96)[0]
        have = {pl.vessel for pl in d.plaques}
        if "LAD" in have and len(have) < 4:
            break
    else:
        pytest.fail("no such patient")
    p = make_patient(pid, seed=SEED, size=96)
    with monkeypatch.context() as m:
        m.setattr(K, "PLAQUE_LABEL_REACH_MM", 1e4)  # v7: the whole tube labelled
        q = make_patient(pid, seed=SEED, size=96)
    for v, lab in (("LCA", 1), ("LAD", 2), ("LCX", 3), ("RCA", 4)):
        if v in have:
            assert p.truth_moving[v] == pytest.approx(q.truth_moving[v], rel=0.05, abs=1.0)
            assert (p.labels == lab).sum() < (q.labels == lab).sum()
        else:
            assert not (p.labels == lab).any() and p.truth[v] == 0 and p.truth_moving[v] == 0
    assert (q.labels > 0).sum() > (p.labels > 0).sum()


def test_uncalcified_patient_has_no_labels():
    for pid in range(1, 30):
        if not _draws(pid, SEED, 64)[0].plaques:
            break
    p = make_patient(pid, seed=SEED, size=64)
    assert not p.plaques and not (p.labels > 0).any() and p.truth["total"] == 0
