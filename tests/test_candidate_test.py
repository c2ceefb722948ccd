"""bench/candidate_test.sh: the pre-registered test's runner names every stage with the seeds it is given (dry run)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "bench" / "candidate_test.sh"


def _run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DRY_RUN": "1", "PY": "python"}
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
                          check=False)


def test_dry_run_names_every_stage_with_its_seeds(tmp_path):
    out = tmp_path / "t"
    r = _run(["/m/cand", str(out), "290", "330", "14556", "14557", "14558", "14559"], tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert sum("cacscore.cli predict" in x for x in lines) == 2 and any("--model /m/cand" in x and "--report" in x
                                                                          for x in lines)
    hyb = [x for x in lines if "voxel_split.py hybrids" in x]
    assert [x.split("--first-seed ")[1].split()[0] for x in hyb] == ["290", "310"]
    assert any("hybrid_cases.py" in x and "--first-seed 330" in x and "--mac" in x for x in lines)
    for seed in ("14557", "14558", "14559"):
        assert any(f"--seed {seed}" in x and "--p-mac 1" in x for x in lines)
        assert sum("T4_" in x and f"_{seed}" in x and "lookalike_calls.py" in x for x in lines) == 2
    assert any("--seed 14556" in x and "--patients 60" in x for x in lines)
    assert any("voxel_split.py eval" in x and "held14556" in x and "shipc=" in x for x in lines)
    assert not any(out.iterdir())  # a dry run renders nothing


def test_wrong_argument_count_is_refused(tmp_path):
    r = _run(["/m/cand", str(tmp_path)], tmp_path)
    assert r.returncode == 2 and "usage:" in r.stderr
