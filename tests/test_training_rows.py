"""cacscore.lesion.train._training_rows, split out of train_lesion_model in session 15 (wt23d; the rows it hands
train_classifier unchanged on two tiny releases x 4 settings, docs/lesion_scorer.md "(session 15, wt23d)")."""

from __future__ import annotations

import numpy as np

from cacscore import lesion as L
from cacscore.lesion.classifier import feature_table
from cacscore.lesion.train import _POSITION, _training_rows, shift_heart_reference


def _case(kind: str, n: int, seed: int, noise: bool = False) -> dict:
    rng = np.random.default_rng(seed)
    r = {"kind": kind, "features": rng.normal(size=(n, len(L.FEATURE_NAMES))).astype(np.float32),
         "targets": rng.integers(0, 5, n)}
    if noise:
        r["noise_features"] = rng.normal(size=(n + 1, len(L.FEATURE_NAMES))).astype(np.float32)
        r["noise_targets"] = rng.integers(0, 5, n + 1)
    return r


def test_gated_cases_get_shifted_copies_and_their_noisy_copy():
    names = L.ClassifierConfig().feature_names
    ok = [_case("labels", 5, 1), _case("gated", 3, 2, noise=True), _case("gated", 4, 3)]
    f, y, gated, noisy = _training_rows(ok, names, 0, 4, 4.0)
    assert len(gated) == 2 and noisy == [ok[1]]
    assert len(f) == len(y) == (5 + 3 + 4) + 3 * (3 + 4) + 4 and f.dtype == np.float32 and y.dtype == np.int64
    pos = [names.index(L.FEATURE_NAMES[i]) for i in _POSITION if L.FEATURE_NAMES[i] in names]
    other = [j for j in range(len(names)) if j not in pos]
    first = f[12:15]  # the first shifted copy of the first gated case (after 5 + 3 + 4 plain rows)
    assert np.array_equal(first[:, other], f[5:8][:, other]) and not np.allclose(first[:, pos], f[5:8][:, pos])
    again = _training_rows(ok, names, 0, 4, 4.0)[0]
    assert np.array_equal(again, f) and not np.array_equal(_training_rows(ok, names, 1, 4, 4.0)[0], f)  # rng: seed
    plain, _, _, _ = _training_rows(ok, names, 0, 4, 0.0)  # no jitter: no copies, the noisy copy at a zero shift
    zero = shift_heart_reference(ok[1]["noise_features"], np.zeros(3))
    assert len(plain) == 5 + 3 + 4 + 4 and np.array_equal(plain[12:], feature_table(zero, None, names))
