"""Issue 18: never a silently wrong score. One test (or more) per case of docs/ingestion.md's integrity table:
input integrity (re-ingest, unreadable slices, two patients in a folder, non-chest scans, loose files), safe
outputs (a failed run, unwritable or locked outputs, phantom over a release) and clean shutdown (workers that
outlive their parent, exit codes, one discovery rule, no UIDs in messages, file modes kept)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cacscore.cli import main
from ingest_fixtures import write_series

CLI = Path(sys.executable).parent / "cacscore"


@pytest.fixture(scope="module")
def releases(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("integrity")
    d = {"root": root}
    for name, seed in (("A", 5), ("B", 6)):
        assert main(["phantom", str(root / name), "--patients", "3", "--size", "32", "--seed", str(seed)]) == 0
        d[name] = root / name
    return d


def run(argv, capsys):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


# ------------------------------------------------------------------ case 1
def test_case01_reingest_other_release_into_a_cache_reads_the_new_images(releases, capsys, tmp_path):
    cache = tmp_path / "K"
    common = ["--size", "32", "--slices", "8", "--no-progress"]
    assert run(["ingest", releases["A"], cache, *common], capsys)[0] == 0
    a = {i: np.load(cache / "scans" / f"{i}.npy") for i in ("1", "2", "3")}
    assert run(["ingest", releases["B"], cache, *common], capsys)[0] == 0
    man = pd.read_csv(cache / "manifest.csv", dtype=str)
    assert all(str(releases["B"]) in s for s in man["source"])
    for i in ("1", "2", "3"):  # the images are B's, not A's
        assert not np.array_equal(np.load(cache / "scans" / f"{i}.npy"), a[i])
    # a resume from the same release keeps the scans (same source files)
    m0 = (cache / "scans" / "1.npy").stat().st_mtime_ns
    assert run(["ingest", releases["B"], cache, *common], capsys)[0] == 0
    assert (cache / "scans" / "1.npy").stat().st_mtime_ns == m0
