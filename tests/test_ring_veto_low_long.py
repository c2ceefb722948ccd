"""The ring veto's low-groove and long-band terms (session 21, wt29c; ClassifierConfig.structure_ring_veto_low_fat and
structure_ring_veto_long, opt-in): MAC low on the posterior annulus (fat on its heart-centre side) is vetoed under
the height limit; a long band (MAC along the annulus) passes the ring-HU test at a lower limit.
docs/lesion_scorer.md "(session 21, wt29c)"."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from ring_veto_fixtures import scored_structure, soft_ring_inputs

from cacscore import lesion as L
from cacscore.lesion.anatomy import ANATOMY_NAMES
from cacscore.lesion.candidates import FEATURE_NAMES
from cacscore.lesion.tree import soft_veto_structure


def test_low_inner_fat_lifts_the_height_limit_only_with_fat_on_the_heart_side():
    # ring 0.75, ring HU 33 unless said. 1: 18 mm above the diaphragm, inner_fat 0.5 (14511 p18-like MAC) -> vetoed
    # with the term only; 2: 18 mm, inner_fat 0.05 (a diaphragmatic RCA plaque) -> kept; 3: low, fat 0.5, but lumen
    # HU 10 -> kept (HU stays); 4: low, fat 0.5, ring 0.3 -> kept (ring stays); 5: inner_fat nan -> kept
    classes = np.array([4, 4, 4, 4, 4, 4])
    structure = np.array([1, 1, 2, 3, 4, 5])
    ring = np.array([0.75, 0.75, 0.75, 0.75, 0.30, 0.75])
    dia = np.full(6, 18.0)
    fat = np.array([0.5, 0.45, 0.05, 0.5, 0.5, np.nan])
    rh = np.array([33.0, 33.0, 33.0, 10.0, 33.0, 33.0])
    au = np.array([100.0, 50.0, 80.0, 60.0, 70.0, 90.0])
    kw = dict(ring_hu=rh, min_ring_hu=29.0)
    np.testing.assert_array_equal(soft_veto_structure(classes, structure, ring, dia, au, 0.65, 25.0, **kw), classes)
    got = soft_veto_structure(classes, structure, ring, dia, au, 0.65, 25.0, inner_fat=fat, low_inner_fat=0.3, **kw)
    np.testing.assert_array_equal(got, [0, 0, 4, 4, 4, 4])
    # Agatston-weighted: a heavy member with no fat on its heart side keeps structure 1 under the limit
    f2, heavy = fat.copy(), au.copy()
    f2[1], heavy[1] = 0.0, 1000.0
    assert (soft_veto_structure(classes, structure, ring, dia, heavy, 0.65, 25.0, inner_fat=f2, low_inner_fat=0.3,
                                **kw)[:2] > 0).all()
    with pytest.raises(ValueError, match="together"):
        soft_veto_structure(classes, structure, ring, dia, au, 0.65, 25.0, inner_fat=fat, **kw)
    with pytest.raises(ValueError, match="disagree"):
        soft_veto_structure(classes, structure, ring, dia, au, 0.65, 25.0, inner_fat=fat[:2], low_inner_fat=0.3, **kw)


def test_long_band_lowers_the_ring_hu_limit_only_for_long_structures():
    # all 45 mm above the diaphragm, ring 0.70. 1: 55 mm long, 25.6 HU (14511 p17-like MAC) -> vetoed with the term;
    # 2: 15 mm long, 25.4 HU (13903 p18-like LCX plaque) -> kept; 3: 45 mm long, 7 HU (a long lumen plaque) -> kept
    classes = np.array([3, 3, 3, 3])
    structure = np.array([1, 1, 2, 3])
    ring = np.full(4, 0.70)
    dia = np.full(4, 45.0)
    rh = np.array([25.0, 26.5, 25.4, 7.0])
    length = np.array([55.0, 55.0, 15.0, 45.0])
    au = np.array([400.0, 380.0, 533.0, 686.0])
    base = soft_veto_structure(classes, structure, ring, dia, au, 0.65, 25.0, ring_hu=rh, min_ring_hu=29.0)
    np.testing.assert_array_equal(base, classes)
    got = soft_veto_structure(classes, structure, ring, dia, au, 0.65, 25.0, ring_hu=rh, min_ring_hu=29.0,
                              length_mm=length, long=(30.0, 22.0))
    np.testing.assert_array_equal(got, [0, 0, 3, 3])
    with pytest.raises(ValueError, match="needs ring_hu"):
        soft_veto_structure(classes, structure, ring, dia, au, 0.65, 25.0, length_mm=length, long=(30.0, 22.0))


def test_switches_are_opt_in_validated_and_round_trip(tmp_path):
    d = L.ClassifierConfig()
    assert d.structure_ring_veto_low_fat is None and d.structure_ring_veto_long is None
    cfg = L.ClassifierConfig.from_dict({**dataclasses.asdict(d), "structure_ring_veto": [0.65, 25],
                                        "structure_ring_veto_hu": 29, "structure_ring_veto_low_fat": 0.3,
                                        "structure_ring_veto_long": [30, 22]})
    assert cfg.structure_ring_veto_low_fat == 0.3 and cfg.structure_ring_veto_long == (30.0, 22.0)
    with pytest.raises(ValueError, match="structure_ring_veto_low_fat"):
        L.ClassifierConfig(structure_ring_veto_low_fat=0.3)  # without the ring veto it would do nothing
    with pytest.raises(ValueError, match="structure_ring_veto_long"):
        L.ClassifierConfig(structure_ring_veto=(0.65, 25.0), structure_ring_veto_long=(30.0, 22.0))  # no HU test
    model = L.load_model(Path(__file__).parent / "data" / "lesion_model_phantom300")
    on = dataclasses.replace(model, config=dataclasses.replace(
        model.config, structure_ring_veto=(0.65, 25.0), structure_ring_veto_hu=29.0, structure_ring_veto_low_fat=0.3,
        structure_ring_veto_long=(30.0, 22.0)))
    L.save_model(on, tmp_path / "m")
    back = L.load_model(tmp_path / "m").config
    assert back.structure_ring_veto_low_fat == 0.3 and back.structure_ring_veto_long == (30.0, 22.0)
    saved = json.loads((tmp_path / "m" / "model.json").read_text())["config"]
    assert saved["structure_ring_veto_long"] == [30.0, 22.0]


def test_classify_applies_both_terms():
    """Through LesionModel.classify on a 128 px phantom's candidates: one structure made MAC-like (ring 0.75, low
    with fat on its heart side; or high, long, 25 HU) loses its calls with the term on and keeps them without."""
    model, cand, inside = scored_structure()
    f, a = soft_ring_inputs(cand, inside, 0.75)
    f[:, FEATURE_NAMES.index("inner_fat")] = np.where(inside, 0.5, 0.0)
    a[:, ANATOMY_NAMES.index("above_diaphragm_mm")] = 18.0
    ring = dataclasses.replace(model.config, structure_ring_veto=(0.65, 25.0), structure_ring_veto_hu=29.0)
    off = dataclasses.replace(model, config=ring)
    low = dataclasses.replace(model, config=dataclasses.replace(ring, structure_ring_veto_low_fat=0.3))
    hu = np.full(cand.n, 33.0)
    args = (f, cand.outside_thorax_mm, a, cand.structure, cand.agatston)
    base = off.classify(*args, ring_hu=hu)
    assert (base[inside] > 0).any()
    got = low.classify(*args, ring_hu=hu)
    assert (got[inside] == 0).all()
    np.testing.assert_array_equal(got[~inside], base[~inside])
    # high and long, ring HU 25 (under 29): only the long term reaches it
    a[:, ANATOMY_NAMES.index("above_diaphragm_mm")] = 45.0
    f[:, FEATURE_NAMES.index("struct_length_mm")] = np.where(inside, 50.0, 5.0)
    hu25 = np.full(cand.n, 25.0)
    longm = dataclasses.replace(model, config=dataclasses.replace(ring, structure_ring_veto_long=(30.0, 22.0)))
    assert (off.classify(*args, ring_hu=hu25)[inside] > 0).any()
    got = longm.classify(*args, ring_hu=hu25)
    assert (got[inside] == 0).all()
    np.testing.assert_array_equal(got[~inside], off.classify(*args, ring_hu=hu25)[~inside])


def test_shipped_model_has_low_fat_on_and_long_off():
    """low_fat on since session 21 (docs/model_card.md "Session 21 (lead)"); long on in session 21 and off again in
    session 22 ("Session 22 (lead)": on fresh seed 14517 patient 38 it vetoed a true left main + LAD + LCX merged into
    one 4,687 AU, 77 mm structure whose ring HU is 20.9; ratio4 on the fresh 120 4.11 -> 7.61 without it). Read back as
    the classifier reads it."""
    shipped = Path(L.__file__).parents[1] / "predict" / "default_model"
    config = L.load_model(shipped).config
    assert config.structure_ring_veto_low_fat == 0.3
    assert config.structure_ring_veto_long is None
    assert config.structure_ring_veto == (0.65, 25.0) and config.structure_ring_veto_deep == (0.5, -9.0)


def test_shipped_ring_veto_keeps_a_long_heavy_left_system():
    """14517 p38's structure #309 (AU-weighted ring_soft 0.548, depth -10.4 mm, 34-75 mm above the diaphragm, ring HU
    20.9, 77 mm long; 4,687 AU of LAD / LCX / LCA): the shipped veto keeps it; session 21's long term took it."""
    shipped = L.load_model(Path(L.__file__).parents[1] / "predict" / "default_model").config
    n = 4
    args = dict(classes=np.array([2, 3, 2, 1]), structure=np.zeros(n, int), ring_soft=np.full(n, 0.548),
                above_diaphragm_mm=np.full(n, 50.0), weights=np.full(n, 1000.0), min_ring_soft=shipped.structure_ring_veto[0],
                min_above_diaphragm_mm=shipped.structure_ring_veto[1], ring_hu=np.full(n, 20.9),
                min_ring_hu=shipped.structure_ring_veto_hu, depth_mm=np.full(n, -10.4), deep=shipped.structure_ring_veto_deep,
                inner_fat=np.full(n, 0.3), low_inner_fat=shipped.structure_ring_veto_low_fat)
    assert (soft_veto_structure(**args) > 0).all()
    gone = soft_veto_structure(**args, length_mm=np.full(n, 77.0), long=(30.0, 20.0))
    assert (gone == 0).all()
