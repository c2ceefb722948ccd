"""A seed ensemble of the candidate scorer (session 26): lesion.ensemble / cacscore lesion-ensemble average the
class probabilities of models trained alike but for the seed; written as one safetensors file and one model.json."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from cacscore import lesion as L
from cacscore.cli import main
from cacscore.lesion.candidates import BASE_FEATURE_NAMES


def _table(n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, len(BASE_FEATURE_NAMES))).astype(np.float32)
    f[:, BASE_FEATURE_NAMES.index("dist_mm")] = rng.uniform(0, 80, n)
    return f, rng.integers(0, 5, n)


@pytest.fixture(scope="module")
def trained():
    f, t = _table()
    cfg = L.ClassifierConfig(hidden=(8,), epochs=2, batch_size=128, seed=1)
    return f, [L.train_classifier(f, t, config=dataclasses.replace(cfg, seed=s)) for s in (1, 2, 3)]


def test_ensemble_averages_the_members_probabilities_and_survives_save_and_load(trained, tmp_path):
    f, ms = trained
    ens = L.ensemble(ms)
    assert len(ens.members()) == 3 and ens.config == ms[0].config
    want = np.mean([m.predict_proba(f) for m in ms], axis=0)
    np.testing.assert_allclose(ens.predict_proba(f), want, rtol=1e-5, atol=1e-6)
    assert not np.allclose(ens.predict_proba(f), ms[0].predict_proba(f))  # not just the first member
    L.save_model(ens, tmp_path / "e")
    assert json.loads((tmp_path / "e" / "model.json").read_text())["members"] == 3
    back = L.load_model(tmp_path / "e")
    np.testing.assert_array_equal(back.predict_proba(f), ens.predict_proba(f))
    L.save_model(ms[0], tmp_path / "one")  # a single model is written as before: no members key, no member tensors
    assert "members" not in json.loads((tmp_path / "one" / "model.json").read_text())
    assert not any(k.startswith("member") for k in load_file(str(tmp_path / "one" / "model.safetensors")))


def test_ensemble_refuses_models_that_differ_and_broken_member_files(trained, tmp_path):
    f, ms = trained
    other = dataclasses.replace(ms[1], config=dataclasses.replace(ms[1].config, max_distance_mm=90.0))
    with pytest.raises(L.LesionError, match="max_distance_mm"):
        L.ensemble([ms[0], other])
    L.save_model(L.ensemble(ms), tmp_path / "e")
    w = load_file(str(tmp_path / "e" / "model.safetensors"))
    del w["member2.feature_std"]
    save_file(w, str(tmp_path / "e" / "model.safetensors"))
    with pytest.raises(L.LesionError, match="member2.feature_std"):
        L.load_model(tmp_path / "e")
    cfg = json.loads((tmp_path / "e" / "model.json").read_text())
    cfg["members"] = 1  # the file holds members the config does not name
    (tmp_path / "e" / "model.json").write_text(json.dumps(cfg))
    with pytest.raises(L.LesionError, match="beyond the 1 member"):
        L.load_model(tmp_path / "e")


def test_cli_lesion_ensemble_writes_one_model_and_refuses_to_overwrite(trained, tmp_path):
    f, ms = trained
    dirs = [L.save_model(m, tmp_path / f"m{k}") for k, m in enumerate(ms)]
    assert main(["lesion-ensemble", str(tmp_path / "e"), *map(str, dirs)]) == 0
    np.testing.assert_allclose(L.load_model(tmp_path / "e").predict_proba(f),
                               np.mean([m.predict_proba(f) for m in ms], axis=0), rtol=1e-5, atol=1e-6)
    assert main(["lesion-ensemble", str(tmp_path / "e"), *map(str, dirs)]) == 2
