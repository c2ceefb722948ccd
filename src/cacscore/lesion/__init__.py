"""The candidate-classification scorer: every calcium lesion of a scan is a candidate
(:mod:`~cacscore.lesion.candidates`), a small MLP calls it non-coronary or one artery
(:mod:`~cacscore.lesion.classifier`), and the arteries are scored exactly by the Agatston rules.
Training from labelled scans: :mod:`cacscore.lesion.train`; the picture: :mod:`cacscore.lesion.report`.

The names below are the package's public API (``from cacscore import lesion as L``).
"""

from cacscore.lesion.candidates import (
    BASE_FEATURE_NAMES,
    CLASS_NAMES,
    FEATURE_NAMES,
    N_CLASSES,
    Candidates,
    LesionError,
    assign_labels,
    candidate_targets,
    find_candidates,
    score_assignment,
)
from cacscore.lesion.classifier import (
    ClassifierConfig,
    LesionModel,
    classify_volume,
    ensemble,
    load_model,
    save_model,
    score_volume,
    train_classifier,
    vessel_labels,
)


def __getattr__(name: str):
    # CandidateMLP is the torch module (cacscore.lesion.torch_mlp): imported on first use only, so that scoring,
    # which runs the MLP in numpy, never imports torch
    if name == "CandidateMLP":
        from cacscore.lesion.torch_mlp import CandidateMLP

        return CandidateMLP
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BASE_FEATURE_NAMES", "CLASS_NAMES", "FEATURE_NAMES", "N_CLASSES", "CandidateMLP", "Candidates", "ClassifierConfig", "LesionError",
    "LesionModel", "assign_labels", "candidate_targets", "classify_volume", "ensemble", "find_candidates", "load_model",
    "save_model", "score_assignment", "score_volume", "train_classifier", "vessel_labels",
]
