"""The "near" feature set (session 25): the shipped candidate columns less the 24 mm and 60 mm tissue boxes, chosen
with ``cacscore lesion-train --features near``, and a model trained with it scores a scan through the product's door."""

from __future__ import annotations

import json

import numpy as np

from cacscore.cli import main
from cacscore.io.ct import read_ct
from cacscore.lesion.candidates import BASE_FEATURE_NAMES
from cacscore.lesion.classifier import (
    FEATURE_SETS,
    check_feature_names,
    classify_volume,
    load_model,
)


def test_near_is_the_candidate_set_without_the_wide_tissue_boxes():
    near = FEATURE_SETS["near"]
    wide = [n for n in BASE_FEATURE_NAMES if n.endswith(("_24mm", "_60mm"))]
    assert len(wide) == 6 and not set(wide) & set(near)
    assert set(near) | set(wide) == set(BASE_FEATURE_NAMES)
    assert {"fat_8mm", "air_8mm", "dist_mm", "dz_mm"} <= set(near)
    assert check_feature_names(near) == near


def test_lesion_train_features_near_trains_and_scores(tmp_path):
    ph, model = tmp_path / "ph", tmp_path / "model"
    assert main(["phantom", str(ph), "--patients", "2", "--size", "48", "--seed", "5"]) == 0
    assert main(["lesion-train", str(ph), str(model), "--features", "near", "--epochs", "1", "--no-progress"]) == 0
    meta = json.loads((model / "model.json").read_text())
    assert tuple(meta["feature_names"]) == FEATURE_SETS["near"]
    m = load_model(model)
    vol = read_ct(ph / "deidentified_nongated" / "1" / "1")
    cand, cls = classify_volume(vol.hu, vol.spacing_mm, m)
    assert len(cls) == cand.n and cand.n > 0 and np.isin(cls, range(5)).all()
