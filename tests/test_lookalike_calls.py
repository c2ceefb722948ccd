"""bench/lookalike_calls.py: the kind of each candidate from a phantom release's labels, and its Agatston."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from cacscore.phantom.anatomy import LABEL
from cacscore.scoring.agatston import agatston

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import lookalike_calls as B  # noqa: E402

SP = (2.5, 0.8, 0.8)


def _box(a, z, y, x, v, r=2):
    a[z - 1:z + 2, y - r:y + r + 1, x - r:x + r + 1] = v


def test_lesion_au_matches_agatston_per_vessel():
    rng = np.random.default_rng(0)
    hu = rng.normal(0, 200, (6, 30, 30)).astype(np.float32)
    hu[2:4, 5:15, 5:15] = rng.uniform(130, 700, (2, 10, 10))
    labels = np.zeros(hu.shape, np.int64)
    labels[1:5, 4:16, 4:10] = 2
    labels[1:5, 4:16, 10:17] = 3  # touching vessels: the 2-D lesion is split by vessel, as agatston does
    labels[0, 20:25, 20:25] = 4
    hu[0, 20:25, 20:25] = 500
    res = agatston(hu, labels, pixel_spacing_mm=SP[1:], slice_spacing_mm=SP[0], threshold_hu=130, min_area_mm2=1.0)
    got = B.lesion_au(hu, labels, SP, 130.0, 1.0, 4)
    assert got == pytest.approx([res.per_vessel[v] for v in ("LCA", "LAD", "LCX", "RCA")])
    assert got[1] > 0 and got[2] > 0 and got[3] > 0


def test_candidate_kinds_by_label_with_motion_slack():
    shape = (10, 60, 60)
    anat = np.full(shape, LABEL["heart"], np.uint8)
    cor = np.zeros(shape, np.uint8)
    cand = np.zeros(shape, np.int32)
    _box(cand, 3, 10, 10, 1)
    _box(cor, 3, 10, 10, 3, r=4)  # 1: on the coronary labels (LCX)
    _box(cand, 3, 10, 30, 2)
    _box(anat, 3, 10, 34, LABEL["mitral_annulus_calcium"])  # 2: MAC label 4 px off (20 % overlap; the 2 px slack makes 60 %)
    _box(cand, 3, 30, 10, 3)
    _box(anat, 3, 30, 10, LABEL["aorta_abdominal"], r=8)
    _box(anat, 3, 30, 10, LABEL["aortic_wall_calcium"])  # 3: wall calcium on the abdominal aorta
    _box(cand, 7, 30, 30, 4)
    _box(anat, 7, 30, 30, LABEL["costal_cartilage"], r=3)  # 4: cartilage without a calcium label
    _box(cand, 7, 50, 10, 5)
    _box(anat, 7, 50, 10, LABEL["liver"], r=3)  # 5: in the liver
    _box(cand, 7, 50, 40, 6)
    _box(anat, 7, 50, 46, LABEL["mitral_annulus_calcium"])  # 6: MAC label 6 px (4.8 mm) off: too far
    _box(cand, 3, 50, 50, 7)
    _box(anat, 3, 50, 50, LABEL["aorta_ascending"], r=8)
    _box(anat, 3, 50, 50, LABEL["aortic_wall_calcium"])  # 7: wall calcium at the root
    kinds = [B.KINDS[k] for k in B.candidate_kinds(cand, 7, cor, anat, SP)]
    assert kinds == ["coronary", "mitral annulus (MAC)", "aortic wall: abdominal", "costal cartilage",
                     "abdominal organs", "heart, no calcium label", "aortic wall: root/ascending"]


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """One 128 px v11 patient with MAC (seed 5, patient 4: MAC, coronary and aortic-wall calcium above 130 HU)."""
    from cacscore.phantom.writer import write_patient

    out = tmp_path_factory.mktemp("release")
    write_patient(out, 4, seed=5, size=128, version="v11", p_mac=1.0)
    return out


def test_patient_rows_on_a_tiny_release(release):
    """A 128 px v11 patient with MAC written in the release layout: the candidates on the MAC label are MAC, those on
    the coronary labels coronary, and the called AU per vessel sums to the scorer's agatston of the labels."""
    from cacscore.io.ct import read_ct, read_labels

    tmp_path = release
    vol = read_ct(tmp_path / "deidentified_nongated" / "4" / "4")
    cor = read_labels(tmp_path / "labels" / "4.nii.gz")
    anat = read_labels(tmp_path / "anatomy" / "4.nii.gz")
    sp = tuple(abs(float(v)) for v in vol.spacing_mm)
    cand = vol.hu >= 130
    vessel = np.where(cand, cor, 0).astype(np.uint8)  # a stand-in scorer: the truth labels
    vessel[cand & (anat == LABEL["mitral_annulus_calcium"])] = 3  # and the MAC called LCX
    rows = B.patient_rows(vol.hu, sp, cand, vessel, cor, anat, 130.0, 1.0)
    comp, n = ndimage.label(cand, structure=np.ones((3, 3, 3), bool))
    kinds = np.array(B.KINDS)[rows["kind"]]
    on_mac = np.unique(comp[(anat == LABEL["mitral_annulus_calcium"]) & cand])
    assert len(on_mac) and set(kinds[on_mac - 1]) == {"mitral annulus (MAC)"}
    on_cor = np.unique(comp[(cor > 0) & cand])
    assert "coronary" in set(kinds[on_cor - 1])
    mac = kinds == "mitral annulus (MAC)"
    assert rows["called_au"][mac, 2].sum() > 0 and rows["called_au"][mac][:, [0, 1, 3]].sum() == 0
    res = agatston(vol.hu, vessel, pixel_spacing_mm=sp[1:], slice_spacing_mm=sp[0], threshold_hu=130,
                   min_area_mm2=1.0)
    assert rows["called_au"].sum(0) == pytest.approx([res.per_vessel[v] for v in ("LCA", "LAD", "LCX", "RCA")])
    t = B.table({"4": {**rows, "scores": rows["called_au"].sum(0)}})
    assert t["mitral annulus (MAC)"]["au_called_as"]["LCX"] > 0 and t["_max_au_check"] == pytest.approx(0)


def test_score_patient_is_the_public_path(release):
    """score_patient's scores are LesionPredictor.score's (the shipped model) on a written 128 px patient, and its
    table sums to them."""
    from cacscore.io.ct import read_ct
    from cacscore.predict.predictors import DEFAULT_MODEL, LesionPredictor

    tmp_path = release
    pred = LesionPredictor(DEFAULT_MODEL)
    rows = B.score_patient(tmp_path, "4", pred)
    res = pred.score(read_ct(tmp_path / "deidentified_nongated" / "4" / "4"))
    assert rows["scores"] == pytest.approx(res.scores)
    assert B.check_au(rows) == pytest.approx(0, abs=1e-6)
    n = len(rows["kind"])
    assert rows["parent_proba"].shape == (n, 5) and rows["centroid"].shape == (n, 3)


def test_rule_switch_reaches_the_model():
    from cacscore.lesion.anatomy import AnatomyRules
    from cacscore.predict.predictors import DEFAULT_MODEL

    name = next(iter(B.RULES))
    pred = B._predictor(DEFAULT_MODEL, name)
    for k, v in B.RULES[name].items():
        assert getattr(pred.model.rules, k) == v
    assert B._predictor(DEFAULT_MODEL, None).model.rules == AnatomyRules()
