"""Training candidates per class and per patient, beside each patient's truth (session 21, wt29b): why a scorer has few
left-main (LCA) examples. Two sources, the same extraction (lesion-train's, ``bench/stream_train.py``'s):

    # a stream_train cache (OUT/cand/<id>.npz + OUT/truth.csv)
    PYTHONPATH=src python bench/class_counts.py cache /work/runs/wt29b/train --out counts_v16.csv
    # a rendered release: extract the given ids as lesion-train would (no rendering; ~15 s per 512 px patient)
    PYTHONPATH=src python bench/class_counts.py release /work/runs/lead20/held14509 --ids 1-60 --out counts.csv

Writes one row per patient (id, n_<class> for every class, the truth's per-vessel AU and n_plaques) and prints the
totals: candidates per patient, per patient with that vessel's calcium, and per 100 AU of that vessel's truth.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from id_ranges import id_range  # noqa: E402

from cacscore.core.vessels import VESSELS
from cacscore.lesion import CLASS_NAMES


def class_counts(targets: np.ndarray) -> dict[str, int]:
    """{"n_<class>": count} of one patient's candidate targets (class indices into CLASS_NAMES)."""
    c = np.bincount(np.asarray(targets, dtype=np.int64), minlength=len(CLASS_NAMES))
    return {f"n_{n}": int(v) for n, v in zip(CLASS_NAMES, c)}


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """Per vessel: patients, patients with that vessel's calcium (truth AU > 0), its candidates, candidates per patient,
    per patient with calcium there, and per 100 AU of its truth."""
    rows = []
    for v in VESSELS:
        pos = int((df[v] > 0).sum())
        n = int(df[f"n_{v}"].sum())
        au = float(df[v].sum())
        rows.append({"vessel": v, "patients": len(df), "with_calcium": pos, "candidates": n,
                     "per_patient": n / max(len(df), 1), "per_positive_patient": n / pos if pos else np.nan,
                     "per_100_au": 100.0 * n / au if au > 0 else np.nan})
    return pd.DataFrame(rows)


def from_cache(out: Path) -> pd.DataFrame:
    truth = pd.read_csv(out / "truth.csv")
    rows = []
    for pid in truth["id"].astype(int):
        f = out / "cand" / f"{pid}.npz"
        if f.exists():
            rows.append({"id": pid, **class_counts(np.load(f)["targets"])})
    return pd.DataFrame(rows).merge(truth[["id", *VESSELS, "n_plaques"]], on="id")


def from_release(rel: Path, ids: list[int]) -> pd.DataFrame:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from stream_train import lesion_train_config

    from cacscore.lesion.train import GATED_NOISE_SD_HU, Case, _extract

    truth = pd.read_csv(rel / "truth.csv")
    cfg = lesion_train_config(0)
    rows = []
    for pid in ids:
        case = Case(str(pid), rel / "deidentified_nongated" / str(pid) / str(pid), rel / "labels" / f"{pid}.nii.gz")
        r = _extract(case, 130.0, 1.0, 2, tuple(GATED_NOISE_SD_HU), cfg.seed, cfg)  # stream_train's job tuple
        if "error" in r:
            raise RuntimeError(f"patient {pid}: {r['error']}")
        rows.append({"id": pid, **class_counts(r["targets"])})
        print(f"patient {pid}: {rows[-1]}", flush=True)
    return pd.DataFrame(rows).merge(truth[["id", *VESSELS, "n_plaques"]], on="id")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", choices=["cache", "release"])
    ap.add_argument("path", type=Path)
    ap.add_argument("--ids", default=None, help="release: LO-HI (default every truth row)")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    if a.source == "cache":
        df = from_cache(a.path)
    else:
        ids = id_range(a.ids) if a.ids else pd.read_csv(a.path / "truth.csv")["id"].astype(int).tolist()
        df = from_release(a.path, ids)
    df.to_csv(a.out, index=False, float_format="%.3f")
    print(summarise(df).to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
