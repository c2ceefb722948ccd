"""The ring veto's scan floor (session 28, lead; ClassifierConfig.structure_ring_veto_floor, opt-in): when the chest
reader finds the diaphragm below the scan, the height above the scan's lowest slice stands in for the nan height
above the diaphragm (a lower bound), so soft-wrapped MAC high in such a scan is vetoed (seed 14551 patient 10: 349 AU,
ring_soft 0.94, 30-55 mm above the lowest slice, which no veto reached). docs/model_card.md "Session 28"."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from ring_veto_fixtures import scored_structure, soft_ring_inputs

from cacscore import lesion as L
from cacscore.chest.anatomy import DIAPHRAGM_BELOW_SCAN
from cacscore.lesion.anatomy import ANATOMY_NAMES
from cacscore.lesion.classifier import scan_floor_column
from cacscore.phantom import make_patient


def test_classify_reads_the_floor_only_where_the_height_is_nan():
    """Through LesionModel.classify on a 128 px phantom's candidates: one structure made MAC-like (ring 0.94, ring HU
    37) with no diaphragm height keeps its calls without the floor, loses them with the floor 40 mm, keeps them with
    the floor 10 mm (under the 25 mm limit); a finite height is never replaced."""
    model, cand, inside = scored_structure()
    f, a = soft_ring_inputs(cand, inside, 0.94)
    a[:, ANATOMY_NAMES.index("above_diaphragm_mm")] = np.nan
    ring = dataclasses.replace(model.config, structure_ring_veto=(0.65, 25.0), structure_ring_veto_hu=29.0)
    off = dataclasses.replace(model, config=ring)
    on = dataclasses.replace(model, config=dataclasses.replace(ring, structure_ring_veto_floor=True))
    hu = np.full(cand.n, 37.0)
    args = (f, cand.outside_thorax_mm, a, cand.structure, cand.agatston)
    base = off.classify(*args, ring_hu=hu)
    assert (base[inside] > 0).any()
    np.testing.assert_array_equal(off.classify(*args, ring_hu=hu, scan_floor_mm=np.full(cand.n, 40.0)), base)
    np.testing.assert_array_equal(on.classify(*args, ring_hu=hu), base)  # no floor known: as before
    high = on.classify(*args, ring_hu=hu, scan_floor_mm=np.full(cand.n, 40.0))
    assert (high[inside] == 0).all()
    np.testing.assert_array_equal(high[~inside], base[~inside])
    np.testing.assert_array_equal(on.classify(*args, ring_hu=hu, scan_floor_mm=np.full(cand.n, 10.0)), base)
    a[:, ANATOMY_NAMES.index("above_diaphragm_mm")] = 10.0  # a found diaphragm wins over the floor
    np.testing.assert_array_equal(on.classify(*args, ring_hu=hu, scan_floor_mm=np.full(cand.n, 40.0)),
                                  off.classify(*args, ring_hu=hu))


def test_floor_is_opt_in_validated_and_round_trips(tmp_path):
    assert L.ClassifierConfig().structure_ring_veto_floor is False
    with pytest.raises(ValueError, match="structure_ring_veto_floor needs structure_ring_veto"):
        L.ClassifierConfig(structure_ring_veto_floor=True)
    model = L.load_model(Path(__file__).parent / "data" / "lesion_model_phantom300")
    cfg = dataclasses.replace(model.config, structure_ring_veto=(0.65, 25.0), structure_ring_veto_floor=True)
    L.save_model(dataclasses.replace(model, config=cfg), tmp_path / "m")
    assert L.load_model(tmp_path / "m").config.structure_ring_veto_floor is True
    assert json.loads((tmp_path / "m" / "model.json").read_text())["config"]["structure_ring_veto_floor"] is True


def test_scan_floor_column_on_a_scan_that_ends_above_the_diaphragm():
    """A 128 px phantom cut 60 mm over its diaphragm domes: the chest reader says the diaphragm is below the scan and
    the column is each candidate's slice height above the lowest slice; on the whole scan (diaphragm found) and with
    the switch off it is None."""
    p = make_patient(45, seed=100, size=128)
    model = L.load_model(Path(__file__).parent / "data" / "lesion_model_phantom300")
    on = dataclasses.replace(model, config=dataclasses.replace(
        model.config, anatomy_rules=True, structure_ring_veto=(0.65, 25.0), structure_ring_veto_floor=True))
    whole = L.classifier.framed_candidates(p.hu, p.spacing_mm, on.config, threshold_hu=on.threshold_hu,
                                           min_area_mm2=on.min_area_mm2)
    assert whole.anatomy.parts["diaphragm"].reason != DIAPHRAGM_BELOW_SCAN
    assert scan_floor_column(whole, on) is None
    dome = np.nanmax(whole.anatomy.diaphragm_mm)  # mm above the lowest slice
    k = int(np.ceil((dome + 60.0) / p.spacing_mm[0]))
    cut = L.classifier.framed_candidates(p.hu[k:], p.spacing_mm, on.config, threshold_hu=on.threshold_hu,
                                         min_area_mm2=on.min_area_mm2)
    assert cut.anatomy.parts["diaphragm"].reason == DIAPHRAGM_BELOW_SCAN
    assert scan_floor_column(cut, model) is None  # the switch off: nothing computed
    got = scan_floor_column(cut, on)
    z = np.array([np.flatnonzero((cut.ids == i + 1).any((1, 2)))[0] for i in range(cut.n)])
    np.testing.assert_allclose(got, z * p.spacing_mm[0])
