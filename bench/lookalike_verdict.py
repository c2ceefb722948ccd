"""What a pre-registered look-alike test reads (issue 16; T4 of sessions 25-29): a candidate against the shipped model
on the same phantom releases, per patient and paired, from the caches `bench/lookalike_calls.py` writes.

    PYTHONPATH=src python bench/lookalike_verdict.py --pair CAND_OUT SHIPPED_OUT [--pair ...] [--boot 2000]
        [--kind "mitral annulus (MAC)"]

Each --pair names two `bench/lookalike_calls.py` OUT folders of one release (the candidate's and the shipped
model's; their cache/<pid>.npz must cover the same patients and candidates). Printed per release and pooled over
all patients:
- look-alike AU called coronary (every kind but ``coronary``, as table.md's "Non-coronary AU called coronary"), and
  the number of look-alike deposits (candidates) called coronary; with --kind, those of one kind as well;
- coronary AU missed (the true coronary candidates' AU not called coronary);
- the candidate minus the shipped model with a paired bootstrap 95 % interval over the pooled patients (patients
  resampled), for each of those.
Why: session 28 measured a 30-patient MAC set's look-alike AU at sd 528 between sets for one model (mean 521) and the
candidate-minus-shipped difference at sd 275: a 60-patient sum is one or two deposits, so a criterion should read an
interval over many patients and count deposits as well as AU.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from lookalike_calls import K

CORONARY = K["coronary"]


def _load(cache: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(kind, AU, AU called coronary) of each candidate in one lookalike_calls cache file."""
    with np.load(cache, allow_pickle=False) as z:
        return z["kind"], z["au"], z["called_au"].sum(1)


def patient_stats(k: np.ndarray, au: np.ndarray, called: np.ndarray, kind: str | None) -> dict[str, float]:
    """One patient's look-alike AU and deposits called coronary, coronary AU missed (and a kind's AU / deposits), from
    its candidates' kinds, AU and AU called coronary (:func:`_load`)."""
    look = k != CORONARY
    out = {"look AU": float(called[look].sum()), "look deposits": float((look & (called > 0)).sum()),
           "coronary missed AU": float((au - called)[~look].sum())}
    if kind is not None:
        on = k == K[kind]
        out[f"{kind} AU"] = float(called[on].sum())
        out[f"{kind} deposits"] = float((on & (called > 0)).sum())
    return out


def read_pair(cand: Path, shipped: Path, kind: str | None) -> pd.DataFrame:
    """Per patient of one release: each statistic for the candidate (``cand_*``) and the shipped model (``ship_*``).
    Raises SystemExit when the two folders do not hold the same patients and candidates."""
    pids = sorted(p.stem for p in (cand / "cache").glob("*.npz"))
    other = sorted(p.stem for p in (shipped / "cache").glob("*.npz"))
    if not pids or pids != other:
        raise SystemExit(f"lookalike_verdict: {cand} and {shipped} hold different patients ({len(pids)} / {len(other)})")
    rows = []
    for pid in pids:
        a, b = _load(cand / "cache" / f"{pid}.npz"), _load(shipped / "cache" / f"{pid}.npz")
        if not np.array_equal(a[0], b[0]) or not np.allclose(a[1], b[1]):
            raise SystemExit(f"lookalike_verdict: patient {pid}'s candidates differ between {cand} and {shipped}")
        c, s = patient_stats(*a, kind), patient_stats(*b, kind)
        rows.append({"run": str(cand), "pid": pid, **{f"cand {n}": v for n, v in c.items()},
                     **{f"ship {n}": v for n, v in s.items()}})
    return pd.DataFrame(rows)


def summary(df: pd.DataFrame, *, boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per statistic: candidate and shipped sums over the patients of ``df``, the difference, and its paired bootstrap
    95 % interval (the patients resampled with replacement, as many as ``df`` holds)."""
    names = [c[len("cand "):] for c in df.columns if c.startswith("cand ")]
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, len(df), len(df)) for _ in range(boot)]
    rows = []
    for n in names:
        d = (df[f"cand {n}"] - df[f"ship {n}"]).to_numpy()
        lo, hi = np.percentile([d[i].sum() for i in draws], [2.5, 97.5]) if boot else (np.nan, np.nan)
        rows.append({"statistic": n, "patients": len(df), "cand": round(df[f"cand {n}"].sum(), 1),
                     "shipped": round(df[f"ship {n}"].sum(), 1), "difference": round(d.sum(), 1),
                     "95% CI low": round(lo, 1), "95% CI high": round(hi, 1)})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pair", nargs=2, action="append", type=Path, required=True, metavar=("CAND_OUT", "SHIPPED_OUT"),
                    help="bench/lookalike_calls.py OUT folders of one release: candidate, shipped (repeat per release)")
    ap.add_argument("--kind", choices=[k for k in K if k != "coronary"], help="also count this look-alike kind")
    ap.add_argument("--boot", type=int, default=2000, help="bootstrap resamples of the patients (default 2000)")
    ap.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    a = ap.parse_args(argv)
    frames = [read_pair(c, s, a.kind) for c, s in a.pair]
    for (c, _), f in zip(a.pair, frames):
        print(f"{c}:")
        print(summary(f, boot=0).drop(columns=["95% CI low", "95% CI high"]).to_string(index=False))
        print()
    print("pooled, paired bootstrap over patients:")
    print(summary(pd.concat(frames, ignore_index=True), boot=a.boot, seed=a.seed).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
