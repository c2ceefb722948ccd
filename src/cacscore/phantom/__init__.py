"""Synthetic non-gated chest CT with exact per-vessel calcium truth, written as a COCA-layout release.

See docs/phantom.md. Public API: make_patient, write_release, load_labels, draw_calcium,
estimate_plaque_score, PhantomPatient.
"""

from cacscore.phantom.core import GatedPatient, PhantomPatient, make_patient
from cacscore.phantom.coronary import draw_calcium, estimate_plaque_score
from cacscore.phantom.writer import load_labels, save_labels, write_release

__all__ = ["GatedPatient", "PhantomPatient", "make_patient", "draw_calcium", "estimate_plaque_score",
           "load_labels", "save_labels", "write_release"]
