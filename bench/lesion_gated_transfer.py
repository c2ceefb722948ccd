"""Gated -> non-gated transfer of the candidate scorer on the PHANTOM, through the public path a user runs.

    python bench/lesion_gated_transfer.py OUT [--train 16] [--test 8] [--seed 31] [--size 128] [--workers 1]
        [--variant NAME[=LESION_TRAIN_ARGS] ...] [--release DIR]

1. ``cacscore phantom OUT/release --patients TRAIN+TEST --seed SEED --size SIZE --gated`` (skipped when
   OUT/release/truth.csv already has those patients, or with --release DIR: an existing phantom release with gated
   series, e.g. one rendered by ``bench`` helpers with ``write_patient(..., gated=True)``).
2. A COCA-layout gated training root OUT/train_gated/Gated_release_final/{patient,calcium_xml} holding patients
   1..TRAIN only (symlinks): what COCA's gated release looks like to ``lesion-train``.
3. Per variant: ``cacscore lesion-train OUT/train_gated OUT/models/NAME --source gated LESION_TRAIN_ARGS``, then
   ``cacscore lesion-score OUT/models/NAME <the NON-gated series of patients TRAIN+1..TRAIN+TEST>``, then the
   scores against the phantom truth with ``cacscore.evaluation.evaluate.run_evaluate`` (what ``cacscore evaluate``
   runs), normalised MSE divided by the TRAINING patients' per-vessel truth maxima (as bench/lesion_scorer.py and
   the documented gated rows).

Prints per variant: ratio (constant-mean MSE / model MSE, normalised, over the four vessels), kappa4 total (linear,
four categories), and the constant baseline (its normalised MSE; its kappa4 total, which is 0: one category for
every patient). Default variant: ``default`` (lesion-train's own defaults). Example, the two rows of issue 16's
gated item (session 15, wt23c, docs/lesion_scorer.md; 120 + 60 patients at 256 px took about an hour here):

    python bench/lesion_gated_transfer.py OUT --release REL --train 120 --test 60 \\
        --variant noise35="--gated-noise-sd 10 35" --variant noise60="--gated-noise-sd 10 60"

Writes OUT/models/NAME/, OUT/scores_NAME.csv, OUT/truth_test.csv, OUT/results.json. The phantom is not real CT.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from cacscore import cli
from cacscore.core.fileio import atomic_write_text
from cacscore.core.vessels import VESSELS
from cacscore.evaluation.evaluate import ALL4, run_evaluate


def _run(args: list[str]) -> float:
    """``cacscore ARGS`` in this process (cacscore.cli.main, the console script's entry); seconds taken."""
    print("$ cacscore " + " ".join(shlex.quote(a) for a in args), flush=True)
    t = time.perf_counter()
    rc = cli.main(args)
    if rc != 0:
        raise SystemExit(f"cacscore {args[0]} exited {rc}")
    return time.perf_counter() - t


def gated_training_root(release: Path, out: Path, pids: list[int]) -> Path:
    """A COCA-layout gated root with only ``pids`` (symlinks into the release's Gated_release_final)."""
    src = release / "Gated_release_final"
    for sub in ("patient", "calcium_xml"):
        (out / "Gated_release_final" / sub).mkdir(parents=True, exist_ok=True)
    for pid in pids:
        for rel in (Path("patient") / str(pid), Path("calcium_xml") / f"{pid}.xml"):
            link = out / "Gated_release_final" / rel
            if not (src / rel).exists():
                raise SystemExit(f"{src / rel}: missing (a release rendered with --gated?)")
            if link.is_symlink() or link.exists():
                link.unlink()
            os.symlink((src / rel).resolve(), link)
    return out


def _metrics(scores: Path, truth_test: Path, scale: np.ndarray) -> dict:
    with warnings.catch_warnings():  # undefined F1 at >= 400 on small test sets: not a number printed here
        warnings.simplefilter("ignore", RuntimeWarning)
        ev = run_evaluate(scores, truth_test, normalise_by=[float(v) for v in scale], n_boot=0)
    t = ev.table
    get = lambda vessel, metric, col="value": float(t[(t.vessel == vessel) & (t.metric == metric)][col].iloc[0])  # noqa: E731
    mse, base = get(ALL4, "mse_norm"), get(ALL4, "mse_norm", "baseline")
    return {"n_scans": len(ev.joined.ids), "ratio": base / mse if mse > 0 else float("inf"),
            "mse_norm_all4": mse, "constant_mse_norm_all4": base,
            "kappa4_total": get("total", "kappa4"), "constant_kappa4_total": get("total", "kappa4", "baseline"),
            **{f"kappa4_{v}": get(v, "kappa4") for v in VESSELS}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--train", type=int, default=16, help="gated training patients 1..TRAIN")
    ap.add_argument("--test", type=int, default=8, help="held-out patients TRAIN+1..TRAIN+TEST (non-gated scored)")
    ap.add_argument("--seed", type=int, default=31, help="phantom seed")
    ap.add_argument("--size", type=int, default=128, help="phantom in-plane size (256 for the documented rows)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--release", type=Path, default=None, help="an existing phantom release with gated series")
    ap.add_argument("--variant", action="append", default=None, metavar="NAME[=ARGS]",
                    help="a model: NAME, trained with lesion-train's defaults plus ARGS (one string)")
    a = ap.parse_args(argv)
    variants = {}
    for v in a.variant or ["default"]:
        name, _, extra = v.partition("=")
        variants[name] = shlex.split(extra)
    a.out.mkdir(parents=True, exist_ok=True)
    n = a.train + a.test
    release = a.release or a.out / "release"
    seconds: dict[str, float] = {}
    if a.release is None:
        truth_f = release / "truth.csv"
        if not (truth_f.is_file() and len(pd.read_csv(truth_f)) >= n):
            seconds["phantom"] = _run(["phantom", str(release), "--patients", str(n), "--seed", str(a.seed),
                                       "--size", str(a.size), "--gated", "--workers", str(a.workers), "--overwrite"])
    truth = pd.read_csv(release / "truth.csv").set_index("id")
    train_ids, test_ids = list(range(1, a.train + 1)), list(range(a.train + 1, n + 1))
    missing = [p for p in train_ids + test_ids if p not in truth.index]
    if missing:
        raise SystemExit(f"{release}/truth.csv: no patient(s) {missing[:5]}")
    scale = truth.loc[train_ids, list(VESSELS)].to_numpy(float).max(0)
    scale = np.where(scale > 0, scale, 1.0)
    truth_test = a.out / "truth_test.csv"
    atomic_write_text(truth_test, truth.loc[test_ids, list(VESSELS)].reset_index().to_csv(index=False))
    troot = gated_training_root(release, a.out / "train_gated", train_ids)
    series = [str(release / "deidentified_nongated" / str(p) / str(p)) for p in test_ids]
    res: dict = {}
    for name, extra in variants.items():
        model, scores = a.out / "models" / name, a.out / f"scores_{name}.csv"
        seconds[f"lesion-train {name}"] = _run(["lesion-train", str(troot), str(model), "--source", "gated",
                                                "--workers", str(a.workers), "--no-progress", *extra])
        seconds[f"lesion-score {name}"] = _run(["lesion-score", str(model), *series, "--out", str(scores),
                                                "--workers", str(a.workers), "--no-progress", "--force"])
        # lesion-score's id is the series folder's path below the inputs' common parent ("121/121" for the
        # release layout): the patient is its first part
        p = pd.read_csv(scores, dtype={"id": str})
        p["id"] = [s.split("/")[0] for s in p["id"]]
        p.to_csv(scores.with_name(f"scores_{name}_by_patient.csv"), index=False)
        res[name] = _metrics(scores.with_name(f"scores_{name}_by_patient.csv"), truth_test, scale) | {
            "lesion_train_args": extra}
    res["meta"] = {"data": "PHANTOM (cacscore.phantom), not real CT", "release": str(release), "seed": a.seed,
                   "size": a.size, "train_patients": a.train, "test_patients": a.test,
                   "normalise_by_training_maxima": scale.tolist(), "seconds": seconds}
    atomic_write_text(a.out / "results.json", json.dumps(res, indent=1, default=float) + "\n")
    print(f"\nPHANTOM {release}: {a.train} gated training patients, {a.test} held-out NON-gated test series")
    print("| model (lesion-train --source gated ...) | ratio | kappa4 total | kappa4 LCA / LAD / LCX / RCA | "
          "constant: MSE(norm) / kappa4 total | model MSE(norm) |")
    print("| --- | ---: | ---: | --- | --- | ---: |")
    for name in variants:
        r = res[name]
        print(f"| {name} {' '.join(r['lesion_train_args'])} | {r['ratio']:.2f} | {r['kappa4_total']:.3f} | "
              + " / ".join(f"{r[f'kappa4_{v}']:.2f}" for v in VESSELS)
              + f" | {r['constant_mse_norm_all4']:.5f} / {r['constant_kappa4_total']:.3f} | {r['mse_norm_all4']:.5f} |")
    print("times (s): " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
