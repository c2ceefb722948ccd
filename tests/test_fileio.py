"""Atomic writes: a failed write leaves the old file intact and no temporary file behind."""

from __future__ import annotations

import numpy as np
import pytest

from cacscore.core.fileio import atomic_path, atomic_save_npy, atomic_write_text


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "scores.csv"
    atomic_write_text(target, "id,total\n1,10\n")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("id,total\n1,")  # half-written ...
            raise RuntimeError("killed")  # ... then the job dies
    assert target.read_text() == "id,total\n1,10\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.csv"]


def test_npy_round_trip_without_pickle(tmp_path):
    arr = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    atomic_save_npy(tmp_path / "sub" / "a.npy", arr)
    back = np.load(tmp_path / "sub" / "a.npy", allow_pickle=False)
    assert back.dtype == np.int16 and np.array_equal(back, arr)


def test_outputs_get_the_usual_permissions(tmp_path):
    import os
    umask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.csv", "x\n")
    finally:
        os.umask(umask)
    assert (tmp_path / "a.csv").stat().st_mode & 0o777 == 0o644
