"""The layout's rules (docs/architecture.md): imports flow down the stages, no import circle, and the
import-linter contracts in pyproject.toml really fail a wrong-way import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

ROOT = Path(__file__).parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(src: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run([str(LINT), "--no-cache", str(cwd / "pyproject.toml")], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_no_import_circle_in_the_package():
    graph = grimp.build_graph("cacscore", cache_dir=None)
    mods = sorted(graph.modules)
    index = {m: i for i, m in enumerate(mods)}
    edges = [(index[a], index[b]) for a in mods for b in graph.find_modules_directly_imported_by(a) if b in index]
    rows, cols = zip(*edges)
    adj = csr_matrix((np.ones(len(edges)), (rows, cols)), shape=(len(mods), len(mods)))
    _, label = connected_components(adj, directed=True, connection="strong")
    circles = [[m for m, lab in zip(mods, label) if lab == k] for k in np.flatnonzero(np.bincount(label) > 1)]
    assert circles == []


def test_contracts_hold_and_a_wrong_way_import_fails(tmp_path):
    ok = _lint(ROOT / "src", ROOT)
    assert ok.returncode == 0, ok.stdout[-2000:]
    assert "0 broken" in ok.stdout
    # the same tree with one import going up (core -> predict) must break the layers contract
    shutil.copytree(ROOT / "src" / "cacscore", tmp_path / "src" / "cacscore")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    vessels = tmp_path / "src" / "cacscore" / "core" / "vessels.py"
    vessels.write_text(vessels.read_text() + "\nfrom cacscore.predict import results  # noqa: E402,F401\n")
    bad = _lint(tmp_path / "src", tmp_path)
    assert bad.returncode != 0
    assert "BROKEN" in bad.stdout and "cacscore.core.vessels -> cacscore.predict.results" in bad.stdout
