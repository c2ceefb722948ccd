"""bench/class_counts.py (session 21, wt29b): training candidates per class and patient beside the truth."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import class_counts  # noqa: E402


def test_counts_and_summary_from_cache(tmp_path):
    (tmp_path / "cand").mkdir()
    # CLASS_NAMES: non-coronary, LCA, LAD, LCX, RCA
    np.savez(tmp_path / "cand" / "1.npz", targets=np.array([0, 0, 1, 2, 2, 4]))
    np.savez(tmp_path / "cand" / "2.npz", targets=np.array([0, 3]))
    pd.DataFrame({"id": [1, 2, 3], "LCA": [50.0, 0.0, 10.0], "LAD": [20.0, 0.0, 0.0], "LCX": [0.0, 5.0, 0.0],
                  "RCA": [1.0, 0.0, 0.0], "n_plaques": [3, 1, 1]}).to_csv(tmp_path / "truth.csv", index=False)
    df = class_counts.from_cache(tmp_path)  # patient 3 has no cache file: left out
    assert df["id"].tolist() == [1, 2]
    assert df.loc[0, ["n_non-coronary", "n_LCA", "n_LAD", "n_LCX", "n_RCA"]].tolist() == [2, 1, 2, 0, 1]
    s = class_counts.summarise(df).set_index("vessel")
    assert s.loc["LCA", "candidates"] == 1 and s.loc["LCA", "with_calcium"] == 1
    assert s.loc["LAD", "per_patient"] == 1.0 and s.loc["LAD", "per_100_au"] == 10.0
    assert s.loc["LCX", "per_positive_patient"] == 1.0
