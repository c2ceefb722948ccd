"""Why a candidate model drops hybrid plaques another keeps: the coronary training candidates' features of two
phantom releases against the hybrid inserted-plaque candidates, feature by feature (session 9 follow-up).

    PYTHONPATH=src python bench/hybrid_feature_ranges.py OUT --base-release DIR --new-release DIR \
        [--base-model DIR] [--new-model DIR] [--patients 60] [--seeds 3]

(i) / (ii): the coronary candidates of patients 1..--patients of each release, extracted as ``lesion-train``
extracts them (``cacscore.lesion.train._extract``); (iii): the candidates of the plaques inserted by
``cacscore.phantom.hybrid.insert_plaques`` in the LIDC series (seeds 0..--seeds-1, the hybrids of
``bench/compare_models.py --hybrid-seeds N``), with both models' classes. Prints a markdown table (per feature: the
5th / 50th / 95th percentiles of each set; the share of the plaques the new model drops, and the base keeps, outside
each release's central 95 %; how many of them the new MLP calls coronary when that one feature is set to its release's
coronary median of the plaque's vessel), the new MLP's answer on its own coronary training candidates as one feature
is swept, and the plaques still called non-coronary when groups of features are set to that median. The extracted
features are cached in OUT (``*.npz``); delete them to extract again.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from cacscore.chest.anatomy import read_chest
from cacscore.io.ct import read_ct
from cacscore.lesion.classifier import (
    LesionModel,
    _softmax,
    classify_volume,
    load_model,
)
from cacscore.lesion.train import _extract, training_pairs
from cacscore.phantom.hybrid import insert_plaques
from cacscore.predict.predictors import DEFAULT_MODEL

GROUPS = (("bright_60mm",), ("fat_8mm", "soft_8mm"), ("bright_60mm", "bright_24mm", "fat_8mm", "soft_8mm"),
          ("bright_60mm", "bright_24mm", "fat_8mm", "soft_8mm", "fat_24mm", "soft_24mm", "air_60mm"),
          ("dy_mm", "sin_inplane"))


def coronary_features(release: Path, patients: int, out: Path) -> dict[str, np.ndarray]:
    """The coronary training candidates (features, targets) of patients 1..patients, cached in ``out``."""
    if not out.exists():
        cases = [c for c in training_pairs(release) if c.id.isdigit() and 1 <= int(c.id) <= patients]
        feats, targets = [], []
        for c in cases:
            r = _extract(c, 130.0, 1.0)
            if "error" in r:
                raise SystemExit(f"{c.ct}: {r['error']}")
            keep = r["targets"] > 0
            feats.append(r["features"][keep])
            targets.append(r["targets"][keep])
        np.savez(out, features=np.concatenate(feats), targets=np.concatenate(targets))
    return dict(np.load(out))


def hybrid_features(data: Path, series: list[str], seeds: int, base: LesionModel, new: LesionModel,
                    out: Path) -> dict[str, np.ndarray]:
    """Every inserted-plaque candidate's features, truth vessel, series and both models' classes, cached."""
    if not out.exists():
        feats, truth, where, c_base, c_new = [], [], [], [], []
        for name in series:
            vol = read_ct(data / name)
            sp = tuple(abs(float(s)) for s in vol.spacing_mm)
            anatomy = read_chest(vol.hu, sp)
            for seed in range(seeds):
                case = insert_plaques(vol.hu, sp, anatomy, seed, motion=True)
                cand, cb = classify_volume(case.hu, sp, base)
                _, cn = classify_volume(case.hu, sp, new)
                hit = np.unique(cand.ids[(case.labels > 0) & (cand.ids > 0)]) - 1
                truth += [np.bincount(case.labels[cand.ids == r + 1], minlength=5)[1:].argmax() + 1 for r in hit]
                where += [name] * len(hit)
                feats.append(cand.features[hit])
                c_base.append(cb[hit])
                c_new.append(cn[hit])
                print(f"{name} seed {seed}: {len(hit)} plaque candidates", flush=True)
        np.savez(out, features=np.concatenate(feats), targets=np.array(truth), series=np.array(where),
                 cls_base=np.concatenate(c_base), cls_new=np.concatenate(c_new))
    return dict(np.load(out))


def p_noncoronary(model: LesionModel, features: np.ndarray) -> np.ndarray:
    """The MLP's p(non-coronary), no rule applied (with the model's density cap, as scoring applies it)."""
    x = model._capped(np.asarray(features, np.float32))
    return _softmax(model.numpy_net()(np.nan_to_num((x - model.mean) / model.std, nan=0.0)))[:, 0]


def set_to_median(features: np.ndarray, targets: np.ndarray, train: dict, cols: list[int]) -> np.ndarray:
    """``features`` with columns ``cols`` set to the training coronary median of each row's vessel."""
    f = features.copy()
    for k, t in enumerate(targets):
        sel = train["targets"] == t
        ref = train["features"][sel] if sel.any() else train["features"]
        f[k, cols] = np.median(ref[:, cols], axis=0)
    return f


def report(names: list[str], base_tr: dict, new_tr: dict, hyb: dict, base: LesionModel, new: LesionModel) -> None:
    f, t = hyb["features"], hyb["targets"]
    dropped = (hyb["cls_new"] == 0) & (hyb["cls_base"] > 0)
    print(f"hybrid plaque candidates {len(f)}: base keeps {(hyb['cls_base'] > 0).sum()}, new keeps "
          f"{(hyb['cls_new'] > 0).sum()}, new drops {dropped.sum()} that base keeps; training coronary candidates: "
          f"base release {len(base_tr['targets'])}, new release {len(new_tr['targets'])}")
    if not dropped.any():
        return
    def pct(a: np.ndarray) -> str:
        return " / ".join(f"{v:.3g}" for v in np.percentile(a, [5, 50, 95]))

    p0 = p_noncoronary(new, f[dropped])
    rows = []
    for j, n in enumerate(names):
        outside = []
        for tr in (base_tr, new_tr):
            lo, hi = np.percentile(tr["features"][:, j], [2.5, 97.5])
            outside.append(float(((f[dropped, j] < lo) | (f[dropped, j] > hi)).mean()))
        flips = int(((p0 > 0.5) & (p_noncoronary(new, set_to_median(f[dropped], t[dropped], new_tr, [j])) < 0.5)).sum())
        row = (f"| {n} | {pct(base_tr['features'][:, j])} | {pct(new_tr['features'][:, j])} | "
               f"{pct(f[dropped, j])} | {outside[0]:.2f} | {outside[1]:.2f} | {flips} |")
        rows.append((flips, row))
    print("| feature | base release coronary p5 / p50 / p95 | new release | plaques new drops | outside base's 95 % "
          "| outside new's | new flips to coronary at its median |\n| --- | --- | --- | --- | ---: | ---: | ---: |")
    print("\n".join(r for _, r in sorted(rows, key=lambda r: -r[0])))
    for series in np.unique(hyb["series"]):
        k = hyb["series"] == series
        print(f"{series}: bright_60mm median {np.median(f[k, names.index('bright_60mm')]):.3f}; kept by base "
              f"{(hyb['cls_base'][k] > 0).sum()}, by new {(hyb['cls_new'][k] > 0).sum()} of {k.sum()}")
    j = names.index("bright_60mm")
    for label, model in (("base", base), ("new", new)):
        counts = []
        for v in (0.0, 0.1, 0.2, 0.3):
            g = new_tr["features"].copy()
            g[:, j] = v
            counts.append(int((p_noncoronary(model, g) > 0.5).sum()))
        print(f"{label} MLP on the new release's {len(new_tr['targets'])} coronary training candidates, bright_60mm "
              f"set to 0 / 0.1 / 0.2 / 0.3: called non-coronary {' / '.join(map(str, counts))} times "
              f"(its bright_60mm std {float(model.std[j]):.3f})")
    au = np.expm1(f[:, names.index("log_agatston")])
    for cols in ((), *GROUPS):
        p = p_noncoronary(new, set_to_median(f, t, new_tr, [names.index(c) for c in cols]) if cols else f)
        what = f"{', '.join(cols)} set to its coronary median" if cols else "features as measured"
        print(f"new MLP, {what}: {(p > 0.5).sum()} of {len(f)} plaque candidates ({au[p > 0.5].sum():.0f} of "
              f"{au.sum():.0f} AU) non-coronary")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--base-release", type=Path, required=True, help="the release the base model was trained on")
    ap.add_argument("--new-release", type=Path, required=True, help="the release the new model was trained on")
    ap.add_argument("--base-model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--new-model", type=Path, default=Path("/work/runs/wt17b/dm_v4/model"))
    ap.add_argument("--patients", type=int, default=60)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--series", nargs="+", default=["lidc-idri-0001", "lidc-idri-0002", "lidc-idri-0003"])
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    base, new = load_model(a.base_model), load_model(a.new_model)
    if list(base.feature_names) != list(new.feature_names):
        raise SystemExit(f"{a.new_model}: feature names differ from {a.base_model}'s")
    base_tr = coronary_features(a.base_release, a.patients, a.out / f"base_coronary_{a.patients}.npz")
    new_tr = coronary_features(a.new_release, a.patients, a.out / f"new_coronary_{a.patients}.npz")
    hyb = hybrid_features(a.data, a.series, a.seeds, base, new, a.out / f"hybrid_plaques_{a.seeds}.npz")
    report(list(new.feature_names), base_tr, new_tr, hyb, base, new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
