"""Vessel assignment along the coronary tree, after the classifier's coronary / non-coronary decision (issue 16).

The MLP (:mod:`cacscore.lesion.classifier`) calls each candidate (one lesion in one axial slice) on its own, from
its position relative to a heart centre: near the left-main bifurcation the slices of one plaque may go to
different branches (docs/model_card.md, "Measured again in session 7"). A plaque is one 3-D structure: its slices
touch from one slice to the next, and they lie on one artery. This step gives every coronary candidate of one 3-D
structure (26-connected candidate voxels, ``Candidates.structure``) the vessel the classifier finds most probable
for the structure as a whole: the sum over its coronary candidates of their vessel probabilities (each candidate
counted once, whatever its size: weighting by Agatston lets the one largest slice decide alone, and measured worse,
docs/lesion_scorer.md "Vessel assignment along the tree"). Which candidates are coronary is not changed: the step
only moves calcium between the four arteries, so totals and total categories are the classifier's.

The left main is only the first 5-20 mm from the left ostium: a rule on the distance from the ostium was measured
with the phantom's true ostium (it helps) and with the found aortic root (``cacscore.chest.anatomy``: median 43 mm
off on phantom v3; it does not), so it is not applied (docs/lesion_scorer.md).
"""

from __future__ import annotations

import numpy as np


def vote_by_structure(classes: np.ndarray, proba: np.ndarray, structure: np.ndarray) -> np.ndarray:
    """(n,) classes with every coronary candidate (class 1..4) of one 3-D structure given the structure's most
    probable vessel: argmax over the four vessels of the summed ``proba[:, 1:5]`` of its coronary candidates.
    Non-coronary candidates (class 0) keep 0; a structure's non-coronary members do not vote.

    classes: (n,) 0..4 (the product's classes: MLP then rules); proba: (n, 5) the MLP's probabilities;
    structure: (n,) int, the 3-D structure of each candidate (any labels; equal = one structure)."""
    cl = np.asarray(classes, np.int64).copy()
    p = np.asarray(proba, np.float64)
    s = np.asarray(structure)
    if cl.shape != s.shape or p.shape != (len(cl), 5):
        raise ValueError(f"vote_by_structure: classes {cl.shape}, proba {p.shape} and structure {s.shape} disagree")
    cor = np.flatnonzero(cl > 0)
    if len(cor) == 0:
        return cl
    _, group = np.unique(s[cor], return_inverse=True)
    summed = np.zeros((int(group.max()) + 1, 4))
    np.add.at(summed, group, p[cor, 1:5])
    cl[cor] = 1 + np.argmax(summed[group], axis=1)
    return cl
