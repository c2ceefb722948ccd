"""One frame for training and scoring (issue 16, session 13): lesion-train's _extract finds a case's candidates through
the door classify_volume uses (cacscore.lesion.classifier.framed_candidates), so the features a model is trained on
are computed exactly as the features it is later asked about - also on a scan where the heart finder's point and
heart_reference differ (LIDC-IDRI-0001: the finder's point under the pericardial mask's floor, 37.5 mm from the
reference scoring uses). One tiny phantom release (2 patients, 96 px)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from cacscore.chest import heart as H
from cacscore.io.ct import read_ct, read_labels
from cacscore.lesion import candidates as LC_
from cacscore.lesion import classifier as C
from cacscore.lesion import train as T
from cacscore.lesion.candidates import FEATURE_NAMES, candidate_targets
from cacscore.lesion.context import SHAPE_NAMES
from cacscore.phantom import write_release

SEED, SIZE = 37, 96  # tests/test_lesion_cohort.py: patients 1 and 2 of this release carry calcium in the image
# tissue-context and shape columns: scoring computes them only where they can count (candidates.find_candidates
# context_where)
CONTEXT = {c[0] for c in LC_._CONTEXT} | set(SHAPE_NAMES)
NON_CONTEXT = [j for j, n in enumerate(FEATURE_NAMES) if n not in CONTEXT]
DROP_MM = 60.0


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("frame") / "release"
    write_release(root, n_patients=2, seed=SEED, size=SIZE)
    return root


@pytest.fixture
def low_finder(monkeypatch):
    """The heart finder answering DROP_MM below its own point (as on LIDC-IDRI-0001, where it lands on the liver under
    the heart's floor): heart_reference then measures from the pericardial mask's centroid instead, so the finder's
    frame and the scoring frame differ. Patched where both find_candidates and anatomical_candidates call it."""
    real = H.locate_heart

    def low(hu, sp=None, **kw):
        f = real(hu, sp, **kw)
        z = max(0, round(f.index[0] - DROP_MM / float(sp[0])))
        return dataclasses.replace(f, index=(z, *f.index[1:]))

    monkeypatch.setattr(LC_, "locate_heart", low)
    monkeypatch.setattr(C, "locate_heart", low)
    return low


def _model(config: C.ClassifierConfig) -> C.LesionModel:
    """A model of ``config`` (weights from one epoch on noise: only its candidate placement and rules matter here)
    whose distance rule lets every candidate through, so the rules leave many candidates to the MLP."""
    rng = np.random.default_rng(0)
    cfg = dataclasses.replace(config, epochs=1, max_distance_mm=1000.0, z_margin_mm=None)
    names = cfg.feature_names
    x = rng.normal(size=(200, len(names))).astype(np.float32)
    x[:, names.index("dist_mm")] = np.abs(x[:, names.index("dist_mm")]) * 30
    return C.train_classifier(x, rng.integers(0, 5, 200), config=cfg)


def _scan(case: T.Case):
    ct = read_ct(case.ct)
    return ct.hu, (abs(ct.spacing_mm[0]), *ct.spacing_mm[1:]), read_labels(case.labels)


def _same_rows(trained: dict, cand, model: C.LesionModel) -> None:
    """The rows _extract gave equal the scoring path's: every column but the tissue context on every candidate, and
    every column on the candidates whose class the MLP decides (model.may_be_coronary, where scoring computes the
    context)."""
    f = trained["features"]
    assert f.shape == cand.features.shape and len(f) > 0
    np.testing.assert_array_equal(f[:, NON_CONTEXT], cand.features[:, NON_CONTEXT])
    may = model.may_be_coronary(cand.features, cand.outside_thorax_mm, cand.anatomy_columns)
    assert may.sum() >= 5
    np.testing.assert_array_equal(f[may], cand.features[may])


def test_training_rows_are_the_scoring_rows_when_finder_and_reference_differ(release, low_finder):
    case = next(c for c in T.training_pairs(release) if c.id == "1")  # pericardium found (patient 2's is not, at 96 px)
    config = C.ClassifierConfig()  # the shipped model's placement: anatomy rules, reference "finder"
    model = _model(config)
    trained = T._extract(case, 130.0, 1.0, config=config)
    assert "error" not in trained, trained.get("error")
    hu, sp, labels = _scan(case)
    cand, _ = C.classify_volume(hu, sp, model)
    finder = np.array(low_finder(hu, sp).index, float)
    # a scan where the two frames differ, so this test fails when training measures from the finder's point
    assert np.linalg.norm((np.array(cand.heart_index) - finder) * sp) > 20.0
    _same_rows(trained, cand, model)
    np.testing.assert_array_equal(trained["targets"], candidate_targets(cand.ids, labels))
    assert (trained["targets"] > 0).any()


def test_without_anatomy_both_use_the_finders_point(release, low_finder):
    """A model without the chest anatomy (no rules, no anatomy column, reference finder) is placed by find_candidates
    alone, in training and scoring alike: the heart finder's point (here the lowered one) is the origin."""
    case = next(c for c in T.training_pairs(release) if c.id == "1")
    config = C.ClassifierConfig(anatomy_rules=False)
    assert not config.needs_anatomy and config.frame == "locate_heart"
    model = _model(config)
    trained = T._extract(case, 130.0, 1.0, config=config)
    hu, sp, _ = _scan(case)
    cand, _ = C.classify_volume(hu, sp, model)
    assert cand.heart_index == low_finder(hu, sp).index and cand.anatomy is None
    _same_rows(trained, cand, model)


def test_one_answer_to_needs_anatomy(release, tmp_path):
    """ClassifierConfig.needs_anatomy / frame is the one spelling: classifier.needs_anatomy reads it, lesion-train's
    report records the frame, and a model reading an anatomy column needs the anatomy without the rules."""
    base = C.ClassifierConfig()
    assert base.needs_anatomy and base.frame == "heart_reference:finder"
    assert C.ClassifierConfig(reference="sac", anatomy_rules=False).frame == "heart_reference:sac"
    cols = C.ClassifierConfig(anatomy_rules=False, features=C.FEATURE_SETS["distances"])
    assert cols.reads_anatomy_columns and cols.needs_anatomy and not base.reads_anatomy_columns
    for cfg in (base, C.ClassifierConfig(anatomy_rules=False), cols):
        assert C.needs_anatomy(_model(cfg)) == cfg.needs_anatomy
    cfg = C.ClassifierConfig(hidden=(8,), epochs=2, anatomy_rules=False)
    rep = T.train_lesion_model(T.training_pairs(release), tmp_path / "m", config=cfg, progress=False)
    assert rep["heart_reference"] == {"labels": "locate_heart"}
    saved = json.loads((tmp_path / "m" / T.TRAINING_REPORT).read_text())
    assert saved["heart_reference"] == {"labels": cfg.frame}
