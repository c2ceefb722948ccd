"""The contrast-lumen rule (cacscore.lesion.anatomy, AnatomyRules.contrast_lumen): on a contrast-enhanced scan a 3-D
structure of candidate voxels no brighter than the aortic blood is lumen, not calcium; on a scan without contrast
it never fires."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cacscore.chest.anatomy import read_chest
from cacscore.lesion.anatomy import (
    ANATOMY_NAMES,
    CONTRAST_NAMES,
    RULE_NAMES,
    AnatomyRules,
    anatomy_verdicts,
    aortic_lumen_hu,
    contrast_columns,
    sac_centroid_mm,
)
from cacscore.lesion.candidates import find_candidates
from cacscore.phantom.core import make_patient

LUMEN = RULE_NAMES.index("contrast lumen")


def _rows(values: list[tuple[float, float, float]]) -> np.ndarray:
    """Anatomy columns with only the contrast ones set (every geometric part not found: no other rule fires)."""
    cols = np.full((len(values), len(ANATOMY_NAMES)), np.nan)
    cols[:, [ANATOMY_NAMES.index(k) for k in CONTRAST_NAMES]] = values
    return cols


def test_the_rule_on_the_measured_calls():
    cols = _rows([
        (412.0, 382.0, 111.2),      # LIDC-IDRI-0001's contrast-filled tube (the 47.0 AU "LAD"): lumen
        (412.0, 3071.0, 1997902.8),  # 0001's 9.9 AU "LCX" in the blood pool, whose structure reaches bone: kept
        (257.0, 218.0, 42.1),       # 0003's 28.0 AU "LCX": under the structure floor, kept
        (257.0, 3071.0, 255.7),     # an inserted LCX plaque on 0003 (seed 14) whose slice peaked at 256 HU: kept
        (257.0, 257.0, 60.0),       # at both limits: lumen
        (257.0, 258.0, 500.0),      # one HU above the blood: kept
        (np.nan, 100.0, 500.0),     # no contrast seen (the column is nan): never
        (180.0, 150.0, 500.0),      # blood under 200 HU (weak enhancement): never
    ])
    v = anatomy_verdicts(cols)
    assert v[:, LUMEN].tolist() == [True, False, False, False, True, False, False, False]
    assert not np.delete(v, LUMEN, 1).any()  # nan geometry: no other rule
    assert not anatomy_verdicts(cols, AnatomyRules(contrast_lumen=False)).any()


@pytest.fixture(scope="module")
def chest():
    p = make_patient(1, seed=5, size=256)  # at 128 px the aorta is found with confidence 0.25 (not used)
    return p, read_chest(p.hu, p.spacing_mm)


def _enhanced(hu: np.ndarray, anatomy, level: float) -> np.ndarray:
    """hu with the found aorta's lumen (within 0.8 of its radius) set to ``level``: a contrast phase."""
    out = hu.copy()
    sp = np.asarray(anatomy.spacing_mm, float)
    zz, yy, xx = np.indices(hu.shape, sparse=True)
    for p, r in zip(anatomy.aorta.centreline_mm, anatomy.aorta.radius_mm):
        k = np.abs(zz * sp[0] - p[0]) <= sp[0] / 2
        ball = k & ((yy * sp[1] - p[1]) ** 2 + (xx * sp[2] - p[2]) ** 2 <= (0.8 * r) ** 2)
        out[ball] = level
    return out


def test_columns(chest):
    patient, anatomy = chest
    structure, peaks, counts = np.array([4, 4, 9]), np.array([100.0, 300.0, 50.0]), np.array([2.0, 3.0, 4.0])
    vox = float(np.prod(anatomy.spacing_mm))
    plain = contrast_columns(anatomy, patient.hu, structure, peaks, counts)
    assert np.isnan(plain[:, 0]).all()  # the phantom has no contrast: no lumen level, so the rule cannot fire
    assert plain[:, 1].tolist() == [300.0, 300.0, 50.0]
    assert np.allclose(plain[:, 2], [5 * vox, 5 * vox, 4 * vox])
    hu = _enhanced(patient.hu, anatomy, 400.0)
    assert aortic_lumen_hu(hu, anatomy) == 400.0 and aortic_lumen_hu(patient.hu, anatomy) < 130.0
    seen = contrast_columns(dataclasses.replace(anatomy, contrast=True), hu, structure, peaks, counts)
    assert (seen[:, 0] == 400.0).all()


def test_lumen_taken_and_calcium_kept_only_with_contrast(chest):
    """Two 3-D blobs of candidate voxels in the heart of an 'enhanced' phantom (aortic lumen 400 HU): one at 300 HU
    (lumen-bright) and one of the same size whose core reaches 700 HU (calcium). With contrast seen the first is
    contrast lumen and the second is not; with no contrast seen neither is."""
    patient, anatomy = chest
    hu = _enhanced(patient.hu, anatomy, 400.0)
    sp = patient.spacing_mm
    c = np.rint(sac_centroid_mm(anatomy) / np.asarray(sp)).astype(int)
    half = np.maximum(np.ceil(np.array([3.0, 3.0, 3.0]) / np.asarray(sp)).astype(int), 1)  # >= 6 mm across
    other = c + np.array([0, 0, int(np.ceil(20.0 / sp[2]))])  # 20 mm to the patient's left, still in the heart
    for centre, value in ((c, 300.0), (other, 500.0)):
        box = tuple(slice(int(v) - int(h), int(v) + int(h) + 1) for v, h in zip(centre, half))
        hu[box] = value
    hu[tuple(other)] = 700.0
    found = []
    for contrast in (True, False):
        cand = find_candidates(hu, sp, anatomy=dataclasses.replace(anatomy, contrast=contrast))
        fires = anatomy_verdicts(cand.anatomy_columns)[:, LUMEN]
        a, b = (int(cand.ids[tuple(p)]) - 1 for p in (c, other))
        assert a >= 0 and b >= 0 and cand.structure[a] != cand.structure[b]
        vol = cand.anatomy_columns[a, ANATOMY_NAMES.index("structure_mm3")]
        assert vol >= AnatomyRules().lumen_structure_mm3
        found.append((fires[cand.structure == cand.structure[a]].all(), fires[cand.structure == cand.structure[b]].any()))
    assert found == [(True, False), (False, False)]


def test_lower_structure_floor_opt_in():
    """Session 18 (wt26a): the structure floor lowered 60 -> 35 mm^3, opt-in (bench/lookalike_calls.RULES
    "lumen_35"; the default stays 60). LIDC-IDRI-0003's 28.0 AU "RCA" streak (42 mm^3, brightest voxel 218 HU under
    a 257 HU lumen) is lumen with it, not by default; a structure under the lowered floor (the 28 mm^3 of the largest
    found hybrid plaque whose structure peaked at or below the lumen, session 12), one brighter than the blood and
    any scan without contrast are kept either way."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from lookalike_calls import RULES

    low = AnatomyRules(**RULES["lumen_35"])
    assert AnatomyRules().lumen_structure_mm3 == 60.0 and low.lumen_structure_mm3 == 35.0
    cols = _rows([(257.0, 218.0, 42.1), (257.0, 250.0, 28.0), (257.0, 283.0, 42.1), (np.nan, 100.0, 42.1),
                  (412.0, 382.0, 111.2)])
    assert anatomy_verdicts(cols)[:, LUMEN].tolist() == [False, False, False, False, True]
    assert anatomy_verdicts(cols, low)[:, LUMEN].tolist() == [True, False, False, False, True]


def test_with_rules_switches_one_model(tmp_path):
    """bench/lookalike_calls.with_rules: the model it is given reads the switched rules in may_be_coronary (the
    streak above is ruled out), another model of the same folder keeps the defaults (it is let through)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from lookalike_calls import with_rules

    from cacscore.lesion.classifier import load_model
    from cacscore.predict.predictors import DEFAULT_MODEL

    plain, ruled = load_model(DEFAULT_MODEL), with_rules(load_model(DEFAULT_MODEL), "lumen_35")
    cols = _rows([(257.0, 218.0, 42.1)])
    feats = np.zeros((1, len(plain.feature_names)), np.float32)  # dist_mm 0, dz 0: reachable, in the z range
    assert plain.may_be_coronary(feats, None, cols).tolist() == [True]
    assert ruled.may_be_coronary(feats, None, cols).tolist() == [False]
    assert ruled.rules.lumen_structure_mm3 == 35.0 and plain.rules.lumen_structure_mm3 == 60.0
    assert with_rules(plain, None) is plain and type(plain).__name__ == "LesionModel"


def test_voxel_split_model_spec_with_rules():
    """bench/voxel_split.py's model spec DIR+rules:NAME+split:SPEC+keep:P: the rule switched, the split set and
    keep_confident_p set on one model; a bare DIR is the model as saved."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from voxel_split import load_spec

    from cacscore.predict.predictors import DEFAULT_MODEL

    m = load_spec(f"{DEFAULT_MODEL}+rules:lumen_35+split:10,4+keep:0.9")
    assert m.rules.lumen_structure_mm3 == 35.0
    assert m.config.voxel_split and m.config.split.piece_mm2 == 4.0 and m.config.keep_confident_p == 0.9
    plain = load_spec(str(DEFAULT_MODEL))
    assert plain.rules == AnatomyRules() and type(plain).__name__ == "LesionModel"
