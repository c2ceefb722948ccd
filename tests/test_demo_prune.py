"""The demo deletes what only its pipeline needed once it has finished (cacscore.demo.prune_outputs), keeping what a
user looks at; a pruned release still predicts its kept patients."""

from __future__ import annotations

from pathlib import Path

import pytest

from cacscore.demo import PRUNED, prune_outputs
from cacscore.phantom import write_release


def _file(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("rel") / "release"
    write_release(root, n_patients=3, seed=5, size=64)
    return root


def _finished_demo(out: Path, release: Path) -> None:
    import shutil

    shutil.copytree(release, out / "release")
    for rel, size in (("reproduce/table1.md", 10), ("reproduce/fig2_loss_curves.png", 10),
                      ("reproduce/models/vit/model.safetensors", 1000), ("reproduce/models/vit/config.json", 10),
                      ("reproduce/models/vit_folds/fold0/model.safetensors", 2000),
                      ("reproduce/runs/vit/p0/fold0/best.safetensors", 3000), ("cache/manifest.csv", 10),
                      ("cache/config.json", 10), ("cache/scans/1.npy", 4000), ("lesion/table.md", 10)):
        _file(out / rel, size)


@pytest.mark.parametrize("keep_checkpoints", [False, True])
def test_prune_keeps_what_a_user_looks_at(tmp_path, release, keep_checkpoints):
    out = tmp_path / "demo"
    _finished_demo(out, release)
    freed = prune_outputs(out, keep_ids=["2"], keep_checkpoints=keep_checkpoints)
    for kept in ("reproduce/table1.md", "reproduce/fig2_loss_curves.png", "reproduce/models/vit/model.safetensors",
                 "cache/manifest.csv", "cache/config.json", "lesion/table.md", "release/truth.csv",
                 "release/deidentified_nongated/2/2"):
        assert (out / kept).exists(), kept
    for gone in ("reproduce/models/vit_folds", "cache/scans", "release/deidentified_nongated/1",
                 "release/deidentified_nongated/3"):
        assert not (out / gone).exists(), gone
    assert (out / "reproduce" / "runs").exists() == keep_checkpoints
    assert freed["cache/scans"] == 4000 and freed["reproduce/models/vit_folds"] == 2000
    assert ("reproduce/runs" in freed) != keep_checkpoints
    assert freed["release/deidentified_nongated/ (2 patients not kept as examples)"] > 0
    assert "cache/scans (0.0 MB)" in (out / PRUNED).read_text()


def test_a_pruned_release_still_predicts_its_kept_patients(tmp_path, release):
    from cacscore.predict.run import predict_inputs

    out = tmp_path / "demo"
    _finished_demo(out, release)
    prune_outputs(out, keep_ids=["2"])
    run = predict_inputs(None, [out / "release"], progress=False)
    assert [r.id for r in run.ok] == ["2"] and not run.failed
