"""cacscore.io.coca on a COCA-like fixture release with every quirk of the real one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cacscore.io.coca import CocaFormatError, read_coca_release, read_coca_scores
from ingest_fixtures import write_coca_release


def test_scores_xlsx_quirks(tmp_path):
    facts = write_coca_release(tmp_path, n_slices=3)
    df = read_coca_scores(tmp_path / "deidentified_nongated" / "scores.xlsx")
    assert list(df.columns) == ["id", "LCA", "LAD", "LCX", "RCA", "total", "vessel_sum", "flags"]
    assert df["id"].tolist() == ["1", "2", "7", "10"]  # "1A" -> "1", natural order
    r = df.set_index("id")
    assert r.loc["1", "vessel_sum"] == pytest.approx(15.75) and r.loc["1", "flags"] == ""
    assert r.loc["2", "total"] == 0.0 and r.loc["2", "vessel_sum"] == 10.0 and "total_mismatch" in r.loc["2", "flags"]
    assert np.isnan(r.loc["10", "LCA"]) and np.isnan(r.loc["10", "vessel_sum"])  # blank: NaN, not 0
    assert "missing_vessel" in r.loc["10", "flags"]
    assert facts["mismatch"] == ["2"]


def test_release_table_reports_both_orphans(tmp_path):
    write_coca_release(tmp_path, n_slices=3)
    df = read_coca_release(tmp_path)
    assert df["id"].tolist() == ["1", "2", "7", "10", "103"]
    assert df.attrs["folders_without_row"] == ["103"] and df.attrs["rows_without_folder"] == ["7"]
    r = df.set_index("id")
    assert r.loc["1", "series_path"].endswith("deidentified_nongated/1/1")  # doubled <pid> folder
    assert pd.isna(r.loc["7", "series_path"]) and "no_folder" in r.loc["7", "flags"]
    assert "no_scores" in r.loc["103", "flags"] and np.isnan(r.loc["103", "vessel_sum"])
    # the nongated folder itself is accepted as root too
    assert read_coca_release(tmp_path / "deidentified_nongated")["id"].tolist() == df["id"].tolist()


def test_bad_workbooks(tmp_path):
    with pytest.raises(CocaFormatError, match="not a COCA release root"):
        read_coca_release(tmp_path)
    bad = tmp_path / "scores.xlsx"
    pd.DataFrame({"filename": ["1A"], "LAD": [1.0]}).to_excel(bad, index=False)
    with pytest.raises(CocaFormatError, match=r"scores.xlsx: missing column\(s\) \['lca', 'lcx', 'rca', 'total'\]"):
        read_coca_scores(bad)
    (tmp_path / "junk.xlsx").write_text("not a workbook")
    with pytest.raises(CocaFormatError, match="junk.xlsx: cannot read"):
        read_coca_scores(tmp_path / "junk.xlsx")
    df = pd.DataFrame([["5A", "abc", 1, 0, 0, 1], ["5A", 0, 0, 0, 0, 0], [6, 0, 0, 0, 0, 0]],
                      columns=["filename ", "LCA", "LAD", "LCX", "RCA", "total"])
    df.to_excel(tmp_path / "s2.xlsx", index=False)
    out = read_coca_scores(tmp_path / "s2.xlsx").set_index("id")
    assert list(out.index) == ["5", "6"]  # numeric cell 6 -> "6"; duplicate 5A: first kept
    assert "bad_cell" in out.loc["5", "flags"] and "duplicate_row" in out.loc["5", "flags"]
    assert np.isnan(out.loc["5", "LCA"])
