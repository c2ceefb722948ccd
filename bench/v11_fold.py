"""Phantom-only training of the candidate scorer on anatomy v11 against v9 (session 14, wt22a; docs/lesion_scorer.md
"LCX in epicardial fat: training on anatomy v11"): lesion-train's defaults for non-gated cases with a feature set
(ClassifierConfig.features, FEATURE_SETS), one model per (feature set, MLP seed), from candidates cached per case
(bench/hybrid_training.py cached_extract: the table holds every FEATURE_NAMES column, so the sets share one search).
No hybrids, no series weights: every candidate weighs 1, as `cacscore lesion-train`.

    PYTHONPATH=src python bench/v11_fold.py table RELEASE OUT.csv [--n-train N]      # train.csv of patients 1..N
    PYTHONPATH=src python bench/v11_fold.py extract OUT.csv --cache CACHE            # the candidate search only
    PYTHONPATH=src python bench/v11_fold.py train OUT.csv MODELS --cache CACHE [--sets ring] [--seeds 0 1]
        [--au-power P] [--lca-weight W --tag NAME]       # session 15 (wt23e): opt-in training weights

Models are written to MODELS/<set>_s<seed>; a model already there is kept. Two releases with the same patient ids
(v9 and v11 of one seed) need two caches (the cache is keyed by case id).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hybrid_training as HT  # noqa: E402
from train_default_model import split_tables  # noqa: E402

from cacscore.lesion.classifier import FEATURE_SETS  # noqa: E402
from cacscore.lesion.train import training_pairs  # noqa: E402


def config(name: str, seed: int, **extra):
    return dataclasses.replace(HT.LESION_TRAIN_DEFAULTS, features=FEATURE_SETS[name], seed=seed, **extra)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=("table", "extract", "train"))
    ap.add_argument("src", type=Path)
    ap.add_argument("out", type=Path, nargs="?")
    ap.add_argument("--n-train", type=int, default=120)
    ap.add_argument("--cache", type=Path)
    ap.add_argument("--sets", nargs="+", default=["ring"], choices=sorted(FEATURE_SETS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    # session 15 (wt23e): opt-in training weights (ClassifierConfig.au_weight_power, lca_weight); models are then
    # written to MODELS/<set><tag>_s<seed>
    ap.add_argument("--au-power", type=float, default=0.0)
    ap.add_argument("--lca-weight", type=float, default=1.0)
    ap.add_argument("--tag", default="")
    a = ap.parse_args(argv)
    if a.what == "table":
        a.out.parent.mkdir(parents=True, exist_ok=True)
        csv, _, _ = split_tables(a.src, a.out.parent, a.n_train)
        csv.replace(a.out)
    elif a.what == "extract":
        cases = training_pairs(a.src, kind="csv")
        for i, c in enumerate(cases):
            r = HT.cached_extract(c, a.cache, config(a.sets[0], 0))
            if "error" in r:
                raise SystemExit(f"{c.id}: {r['error']}")
            print(f"{i + 1}/{len(cases)} {c.id}: {len(r['targets'])} candidates", flush=True)
    else:
        for seed in a.seeds:
            for name in a.sets:
                out = a.out / f"{name}{a.tag}_s{seed}"
                if not (out / "model.json").is_file():
                    HT.train_cached(a.src, out, a.cache, config(name, seed, au_weight_power=a.au_power,
                                                                lca_weight=a.lca_weight))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
