"""bench/stream_train.py (session 20, wt28c): a patient rendered alone and its candidates cached are what
``cacscore phantom`` + lesion-train's extraction give the same patient of a whole release."""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import stream_train  # noqa: E402

from cacscore.lesion.train import GATED_NOISE_SD_HU, Case, _extract  # noqa: E402
from cacscore.phantom.writer import write_release  # noqa: E402


def test_streamed_patient_equals_release_patient(tmp_path):
    a = argparse.Namespace(seed=5, size=64, anatomy="v16", model_seed=0, p_mac=None)
    (tmp_path / "s" / "cand").mkdir(parents=True)
    row = stream_train.render_extract(tmp_path / "s", 2, a)
    assert not (tmp_path / "s" / "tmp").exists()  # the scan is deleted once its candidates are cached
    write_release(tmp_path / "r", n_patients=2, seed=5, size=64, version="v16")
    rel = tmp_path / "r"
    cfg = stream_train.lesion_train_config(0)
    ref = _extract(Case("2", rel / "deidentified_nongated" / "2" / "2", rel / "labels" / "2.nii.gz"), 130.0, 1.0, 2,
                   tuple(GATED_NOISE_SD_HU), 0, cfg)
    got = stream_train.cached(tmp_path / "s", 2)
    assert len(ref["targets"]) > 0
    np.testing.assert_array_equal(got["features"], ref["features"])
    np.testing.assert_array_equal(got["targets"], ref["targets"])
    assert int(row["id"]) == 2
