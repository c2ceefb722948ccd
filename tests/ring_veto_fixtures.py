"""A scored phantom and its inputs made MAC-like, for the ring-veto tests that go through LesionModel.classify
(tests/test_ring_veto.py, test_ring_veto_hu.py, test_ring_veto_deep.py, test_ring_veto_s22.py,
test_ring_veto_low_long.py, test_ring_veto_unsure.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cacscore import lesion as L
from cacscore.lesion.anatomy import ANATOMY_NAMES
from cacscore.lesion.candidates import FEATURE_NAMES
from cacscore.phantom import make_patient


def scored_phantom():
    """(patient, model, candidates, classes) of a 128 px phantom (patient 45, seed 100: calcified in 3-4 vessels)
    scored by the test model."""
    p = make_patient(45, seed=100, size=128)
    model = L.load_model(Path(__file__).parent / "data" / "lesion_model_phantom300")
    cand, classes = L.classify_volume(p.hu, p.spacing_mm, model)
    return p, model, cand, classes


def first_called_structure(cand, classes: np.ndarray) -> np.ndarray:
    """The candidates of the 3-D structure of the first coronary call (a boolean mask)."""
    return cand.structure == cand.structure[np.flatnonzero(classes > 0)[0]]


def scored_structure():
    """(model, candidates, inside) of scored_phantom(); inside: first_called_structure()."""
    _, model, cand, classes = scored_phantom()
    return model, cand, first_called_structure(cand, classes)


def soft_ring_inputs(cand, inside: np.ndarray, ring_soft: float) -> tuple[np.ndarray, np.ndarray]:
    """Copies of the feature table (ring_soft set to ring_soft inside, 0.1 elsewhere) and of the anatomy columns (all
    nan when none were read), for the caller to set further."""
    f = np.array(cand.features, copy=True)
    f[:, FEATURE_NAMES.index("ring_soft")] = np.where(inside, ring_soft, 0.1)
    a = (np.full((cand.n, len(ANATOMY_NAMES)), np.nan) if cand.anatomy_columns is None
         else np.array(cand.anatomy_columns, np.float64, copy=True))
    return f, a
