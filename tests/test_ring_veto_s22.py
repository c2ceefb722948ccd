"""The ring veto's core term (session 22, wt30c; ClassifierConfig.structure_ring_veto_core, opt-in): a soft-wrapped
structure deep in the pericardial mask (MAC on the annulus) loses its calls without the height condition and at a
lower ring-HU limit. docs/lesion_scorer.md "(session 22, wt30c)"."""

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

MODEL = Path(__file__).parent / "data" / "lesion_model_phantom300"
SHIPPED_RING = dict(structure_ring_veto=(0.65, 25.0), structure_ring_veto_hu=29.0, structure_ring_veto_deep=(0.5, -9.0),
                    structure_ring_veto_low_fat=0.3, structure_ring_veto_long=(30.0, 20.0))


def test_core_is_opt_in_validated_and_round_trips(tmp_path):
    d = L.ClassifierConfig()
    assert d.structure_ring_veto_core is None
    cfg = L.ClassifierConfig.from_dict({**dataclasses.asdict(d), "structure_ring_veto": [0.65, 25],
                                        "structure_ring_veto_hu": 29, "structure_ring_veto_core": [-13, 27]})
    assert cfg.structure_ring_veto_core == (-13.0, 27.0)
    with pytest.raises(ValueError, match="structure_ring_veto_core"):  # without the HU test it would do nothing
        L.ClassifierConfig(structure_ring_veto=(0.65, 25.0), structure_ring_veto_core=(-13.0, 27.0))
    with pytest.raises(ValueError, match="structure_ring_veto_core"):
        L.ClassifierConfig(structure_ring_veto=(0.65, 25.0), structure_ring_veto_hu=29.0,
                           structure_ring_veto_core=(float("nan"), 27.0))
    with pytest.raises(ValueError, match="structure_ring_veto_core"):
        L.ClassifierConfig(structure_ring_veto=(0.65, 25.0), structure_ring_veto_hu=29.0, structure_ring_veto_core=-13.0)
    model = L.load_model(MODEL)
    on = dataclasses.replace(model, config=dataclasses.replace(model.config, **SHIPPED_RING,
                                                               structure_ring_veto_core=(-13.0, 27.0)))
    L.save_model(on, tmp_path / "m")
    assert L.load_model(tmp_path / "m").config.structure_ring_veto_core == (-13.0, 27.0)
    assert json.loads((tmp_path / "m" / "model.json").read_text())["config"]["structure_ring_veto_core"] == [-13.0, 27.0]


@pytest.fixture(scope="module")
def called():
    """A 128 px phantom's candidates under the test model, and one structure it calls coronary."""
    return scored_structure()


def _inputs(cand, inside, *, depth, dia, ring=0.75):
    """Full feature table and anatomy columns with the structure ``inside`` made soft-wrapped (ring), at ``depth`` mm
    (pericardium_mm) and ``dia`` mm above the diaphragm (nan: not found); every other candidate fat-wrapped."""
    f, a = soft_ring_inputs(cand, inside, ring)
    f[:, FEATURE_NAMES.index("inner_fat")] = 0.0
    f[:, FEATURE_NAMES.index("struct_length_mm")] = 12.0
    a[:, ANATOMY_NAMES.index("pericardium_mm")] = np.where(inside, depth, -3.0)
    a[:, ANATOMY_NAMES.index("above_diaphragm_mm")] = dia
    return (f, cand.outside_thorax_mm, a, cand.structure, cand.agatston)


def test_core_takes_deep_mac_the_shipped_terms_leave(called):
    """14513 p38-like (no diaphragm, -13.8 mm, 36 HU) and 14512 p53-like (55 mm high, -15 mm, 28.7 HU): kept by the
    shipped terms, removed with the core term; every other candidate unchanged."""
    model, cand, inside = called
    ship = dataclasses.replace(model, config=dataclasses.replace(model.config, **SHIPPED_RING))
    core = dataclasses.replace(ship, config=dataclasses.replace(ship.config, structure_ring_veto_core=(-13.0, 27.0)))
    for dia, depth, hu in ((np.nan, -13.8, 36.0), (55.0, -15.0, 28.7)):
        args = _inputs(cand, inside, depth=depth, dia=dia)
        ring_hu = np.full(cand.n, hu)
        base = ship.classify(*args, ring_hu=ring_hu)
        assert (base[inside] > 0).any()
        got = core.classify(*args, ring_hu=ring_hu)
        assert (got[inside] == 0).all()
        np.testing.assert_array_equal(got[~inside], base[~inside])


def test_core_leaves_shallow_lumen_and_fat_wrapped_structures(called):
    """Kept with the term on: a soft-wrapped RCA on the diaphragmatic surface at -12 mm (the deepest true one on
    session 21's dev tables), the same deep structure with lumen-like ring HU (20), and a deep fat-wrapped one (ring
    0.3). Nan depth: the term does not fire."""
    model, cand, inside = called
    ship = dataclasses.replace(model, config=dataclasses.replace(model.config, **SHIPPED_RING))
    core = dataclasses.replace(ship, config=dataclasses.replace(ship.config, structure_ring_veto_core=(-13.0, 27.0)))
    for depth, hu, ring in ((-12.0, 36.0, 0.75), (-15.0, 20.0, 0.75), (-15.0, 36.0, 0.3), (np.nan, 36.0, 0.75)):
        args = _inputs(cand, inside, depth=depth, dia=10.0, ring=ring)
        ring_hu = np.full(cand.n, hu)
        base = ship.classify(*args, ring_hu=ring_hu)
        assert (base[inside] > 0).any()
        np.testing.assert_array_equal(core.classify(*args, ring_hu=ring_hu), base)


def test_shipped_model_has_core_off():
    """Off in the shipped model (opt-in; the lead's pre-registered test decides)."""
    shipped = Path(L.__file__).parents[1] / "predict" / "default_model"
    assert L.load_model(shipped).config.structure_ring_veto_core is None
