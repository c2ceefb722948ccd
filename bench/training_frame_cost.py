"""What one frame for training and scoring costs and moves (issue 16, session 13): lesion-train's candidate extraction
per scan before (find_candidates with its own heart finder: ``ClassifierConfig(anatomy_rules=False)`` takes exactly
that path) and after (the scoring door ``framed_candidates``: read_chest + heart_reference, the default config), and
how far the two origins lie apart.

    PYTHONPATH=src nice -n 10 python bench/training_frame_cost.py time RELEASE [--ids 1 2 3] [--repeat 1]
    PYTHONPATH=src nice -n 10 python bench/training_frame_cost.py shift OLD_CACHE NEW_CACHE [--csv TABLE]

time: per case of a phantom release (labels/ + deidentified_nongated/), CPU seconds (process_time: this process
only, so other jobs on a shared machine count less than in wall time) and wall seconds of lesion.train._extract
both ways, and the distance between the two origins (mm). shift: per case cached in both caches (the old
version-1 cache of bench/hybrid_training.py, CACHE/<id>.npz, and a version-2 folder, CACHE/v2-heart_reference-finder),
whether the candidates, targets and non-position columns are identical, and the origin's move (mm) recovered from the
position columns (dz / dy / dx move by one constant per case).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from cacscore.lesion import ClassifierConfig
from cacscore.lesion.candidates import FEATURE_NAMES
from cacscore.lesion.train import _extract, training_pairs

POSITION = ("dz_mm", "dy_mm", "dx_mm", "r_inplane_mm", "dist_mm", "cos_inplane", "sin_inplane")
BEFORE, AFTER = ClassifierConfig(anatomy_rules=False), ClassifierConfig()


def _timed(case, config: ClassifierConfig) -> tuple[dict, float, float]:
    c0, w0 = time.process_time(), time.perf_counter()
    r = _extract(case, 130.0, 1.0, config=config)
    if "error" in r:
        raise SystemExit(f"{case.ct}: {r['error']}")
    return r, time.process_time() - c0, time.perf_counter() - w0


def time_release(release: Path, ids: list[str] | None, repeat: int) -> pd.DataFrame:
    cases = [c for c in training_pairs(release) if ids is None or c.id in ids]
    rows = []
    for c in cases:
        for _ in range(repeat):
            old, cpu_b, wall_b = _timed(c, BEFORE)
            new, cpu_a, wall_a = _timed(c, AFTER)
            moved = _origin_move(old["features"], new["features"])
            rows.append({"id": c.id, "candidates": len(new["targets"]), "cpu_before_s": cpu_b, "cpu_after_s": cpu_a,
                         "wall_before_s": wall_b, "wall_after_s": wall_a, "origin_moved_mm": moved})
            print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def _origin_move(old: np.ndarray, new: np.ndarray) -> float:
    """The distance (mm) between the two origins: dz / dy / dx of every candidate move by the same vector."""
    if len(old) == 0:
        return float("nan")
    j = [FEATURE_NAMES.index(n) for n in ("dz_mm", "dy_mm", "dx_mm")]
    d = old[:, j].astype(np.float64) - new[:, j]
    return float(np.linalg.norm(np.median(d, axis=0)))


def shift(old_cache: Path, new_cache: Path, table: Path | None) -> pd.DataFrame:
    pos = [FEATURE_NAMES.index(n) for n in POSITION]
    other = [j for j in range(len(FEATURE_NAMES)) if j not in pos]
    ids = sorted(p.stem for p in new_cache.glob("*.npz") if not p.stem.endswith(".tmp"))
    if table is not None:
        ids = [i for i in pd.read_csv(table, dtype={"id": str})["id"] if i in set(ids)]
    rows = []
    for i in ids:
        if not (old_cache / f"{i}.npz").is_file():
            continue
        o, n = np.load(old_cache / f"{i}.npz"), np.load(new_cache / f"{i}.npz")
        same = o["features"].shape == n["features"].shape and np.array_equal(o["targets"], n["targets"])
        rows.append({"id": i, "candidates": len(n["targets"]), "coronary": int((n["targets"] > 0).sum()),
                     "same_candidates_and_targets": same,
                     "non_position_identical": same and np.array_equal(o["features"][:, other], n["features"][:, other]),
                     "all_identical": same and np.array_equal(o["features"], n["features"]),
                     "origin_moved_mm": _origin_move(o["features"], n["features"]) if same else float("nan")})
    df = pd.DataFrame(rows)
    return df


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("time")
    t.add_argument("release", type=Path)
    t.add_argument("--ids", nargs="+", default=None)
    t.add_argument("--repeat", type=int, default=1)
    s = sub.add_parser("shift")
    s.add_argument("old", type=Path)
    s.add_argument("new", type=Path)
    s.add_argument("--csv", type=Path, default=None, help="only the ids of this training table")
    a = ap.parse_args(argv)
    if a.cmd == "time":
        df = time_release(a.release, a.ids, a.repeat)
        print(df.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        print("mean:", df[["cpu_before_s", "cpu_after_s", "wall_before_s", "wall_after_s"]].mean().round(2).to_dict())
    else:
        df = shift(a.old, a.new, a.csv)
        pd.set_option("display.width", 200)
        print(df.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
        moved = df["origin_moved_mm"]
        print(f"\n{len(df)} cases; candidates and targets identical in {int(df['same_candidates_and_targets'].sum())}, "
              f"non-position columns identical in {int(df['non_position_identical'].sum())}, every column in "
              f"{int(df['all_identical'].sum())}; origin moved > 0.5 mm in "
              f"{int((moved > 0.5).sum())}: " + ", ".join(f"{r.id} {r.origin_moved_mm:.1f}" for r in
                                                       df[moved > 0.5].itertuples()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
