"""The left main (LCA) called LAD (issue 16, session 15 wt23e): what the phantom's left main is and what the
candidate columns say about it.

    PYTHONPATH=src python bench/left_main_features.py geometry --seed 9901 --n 60 [--anatomy v8]
    PYTHONPATH=src python bench/left_main_features.py columns CANDIDATES.csv [--model shipped]
    PYTHONPATH=src python bench/left_main_features.py cache CACHE_DIR
    PYTHONPATH=src python bench/left_main_features.py summary EVAL_DIR [--baseline candidate]

geometry: per patient of the release's draws (``phantom.core._draws(pid, seed)``, no rendering) the left main's
length (ostium on the aortic root's wall to the bifurcation), the ostium's height above the annulus centre, and where
each left-main and LAD plaque centre lies along the course (mm from the ostium; LAD: the left main's length + its
own arc); summed over patients.
columns: largest_errors.py scan's candidates.csv: the LCA candidates against the proximal-third LAD ones (and all
LAD), per feature / anatomy column (median, IQR, AUC of the column alone), and each LCA candidate with its call.
cache: bench/hybrid_training.cached_extract's files (base + shape columns and targets): LCA against LAD per column.
summary: a hybrid_training.py phantom-eval folder: per model the 4-vessel ratio, kappa4 (total) and each vessel's
normalised-MSE ratio; per arm (the model name less _s<seed>) the means, and docs/lesion_scorer.md's pre-registered
criterion (session 15, wt23e) against --baseline: mean ratio >= 1.25 x, better in >= 2 of 3 seeds, kappa4 >= - 0.03.
"""

from __future__ import annotations

import argparse
import glob
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from cacscore.phantom.core import _draws


def _arc(pts: np.ndarray) -> np.ndarray:
    return np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))]


def geometry(seed: int, n: int, version: str) -> pd.DataFrame:
    rows = []
    for pid in range(1, n + 1):
        d, _ = _draws(pid, seed, version=version)
        lm, lad = d.vessels["LCA"].points, d.vessels["LAD"].points
        lm_arc, lad_arc = _arc(lm), _arc(lad)
        root = np.asarray(d.anat.aorta_root, float)
        rows.append({"id": pid, "kind": "patient", "lm_len_mm": lm_arc[-1], "ostium_above_annulus_mm": lm[0, 2] - root[2],
                     "bif_above_annulus_mm": lm[-1, 2] - root[2], "aorta_r_mm": d.anat.aorta_r,
                     "lm_radius_mm": float(d.vessels["LCA"].radius.mean())})
        for p in d.plaques:
            if p.vessel not in ("LCA", "LAD"):
                continue
            pts, arc = (lm, lm_arc) if p.vessel == "LCA" else (lad, lad_arc)
            j = int(np.argmin(np.linalg.norm(pts - p.centre, axis=1)))
            along = arc[j] + (0.0 if p.vessel == "LCA" else lm_arc[-1])
            rows.append({"id": pid, "kind": p.vessel, "from_ostium_mm": along,
                         "from_bif_mm": along - lm_arc[-1], "above_annulus_mm": p.centre[2] - root[2],
                         "to_root_axis_mm": float(np.linalg.norm((p.centre - root)[:2])),
                         "length_mm": 2 * float(p.semi.max())})
    return pd.DataFrame(rows)


def _q(x: pd.Series) -> str:
    x = x.dropna()
    if not len(x):
        return "n/a"
    return f"{x.median():.1f} [{x.quantile(.25):.1f}, {x.quantile(.75):.1f}]"


def _auc(a: pd.Series, b: pd.Series) -> float:
    a, b = a.dropna(), b.dropna()
    if not len(a) or not len(b):
        return float("nan")
    v = roc_auc_score(np.r_[np.ones(len(a)), np.zeros(len(b))], np.r_[a, b])
    return max(v, 1 - v)


def compare(lca: pd.DataFrame, lad: pd.DataFrame, cols: list[str], name_b: str) -> pd.DataFrame:
    return pd.DataFrame([{"column": c, f"LCA (n {len(lca)})": _q(lca[c]), f"{name_b} (n {len(lad)})": _q(lad[c]),
                          "AUC": round(_auc(lca[c], lad[c]), 2)} for c in cols])


def summary(folder: Path, baseline: str) -> None:
    rows = []
    for m in sorted(folder.glob("eval_*/metrics.csv")):
        t = pd.read_csv(m).set_index(["vessel", "metric"])
        name = m.parent.name[len("eval_"):]
        arm, _, seed = name.rpartition("_s")
        if not arm or not seed.isdigit():
            arm, seed = name, ""
        r = {"model": name, "arm": arm, "seed": seed,
             "ratio4": t.loc[("all4", "mse_norm"), "baseline"] / t.loc[("all4", "mse_norm"), "value"],
             "kappa4": t.loc[("total", "kappa4"), "value"]}
        for v in ("LCA", "LAD", "LCX", "RCA"):
            r[f"ratio_{v}"] = t.loc[(v, "mse_norm"), "baseline"] / max(t.loc[(v, "mse_norm"), "value"], 1e-12)
            r[f"mse_{v}"] = t.loc[(v, "mse_norm"), "value"]
        rows.append(r)
    d = pd.DataFrame(rows)
    print(d.round(3).to_string(index=False))
    g = d.groupby("arm")[["ratio4", "kappa4", "mse_LCA", "mse_LAD", "ratio_LCA", "ratio_LAD"]].mean()
    print("\nmean over seeds:\n" + g.round(4).to_string())
    if baseline in g.index:
        b = d[d.arm == baseline].set_index("seed")
        for arm in g.index:
            if arm == baseline or not (d.arm == arm).any():
                continue
            x = d[d.arm == arm].set_index("seed")
            common = x.index.intersection(b.index)
            wins = int((x.loc[common, "ratio4"] > b.loc[common, "ratio4"]).sum())
            ok = (g.loc[arm, "ratio4"] >= 1.25 * g.loc[baseline, "ratio4"] and wins >= 2
                  and g.loc[arm, "kappa4"] >= g.loc[baseline, "kappa4"] - 0.03)
            print(f"{arm} vs {baseline}: mean ratio4 {g.loc[arm, 'ratio4']:.2f} vs {g.loc[baseline, 'ratio4']:.2f} "
                  f"(x{g.loc[arm, 'ratio4'] / g.loc[baseline, 'ratio4']:.2f}), better in {wins} of {len(common)} "
                  f"seeds, kappa4 {g.loc[arm, 'kappa4']:.3f} vs {g.loc[baseline, 'kappa4']:.3f}: "
                  f"{'PASSES' if ok else 'fails'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=("geometry", "columns", "cache", "summary"))
    ap.add_argument("src", nargs="?")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--anatomy", default="v8")
    ap.add_argument("--model", default="shipped")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--baseline", default="candidate")
    a = ap.parse_args(argv)
    pd.set_option("display.width", 250)
    if a.what == "geometry":
        g = geometry(a.seed, a.n, a.anatomy)
        if a.out:
            g.to_csv(a.out, index=False)
        pt = g[g.kind == "patient"]
        print(f"seed {a.seed} ({a.anatomy}), {len(pt)} patients")
        for c in ("lm_len_mm", "ostium_above_annulus_mm", "bif_above_annulus_mm", "aorta_r_mm", "lm_radius_mm"):
            print(f"  {c}: median {pt[c].median():.1f}, range {pt[c].min():.1f}-{pt[c].max():.1f}")
        for k in ("LCA", "LAD"):
            p = g[g.kind == k]
            print(f"  {k} plaques {len(p)} in {p.id.nunique()} patients: from ostium {_q(p.from_ostium_mm)} mm, "
                  f"from bifurcation {_q(p.from_bif_mm)} mm, above annulus {_q(p.above_annulus_mm)} mm, "
                  f"in-plane from the root axis {_q(p.to_root_axis_mm)} mm, length {_q(p.length_mm)} mm")
        lad = g[g.kind == "LAD"]
        for r in (5, 10, 15):
            print(f"  LAD plaques within {r} mm past the bifurcation: {(lad.from_bif_mm <= r).sum()} of {len(lad)}")
    elif a.what == "columns":
        d = pd.read_csv(a.src)
        lca = d[d.target == 1]
        cols = [c for c in d.columns if c.startswith(("f_", "a_"))] + ["au", "seg_frac"]
        for name, b in (("LAD proximal third", d[(d.target == 2) & (d.segment == "LAD proximal third")]),
                        ("LAD all", d[d.target == 2])):
            print(f"\n## LCA vs {name}\n")
            print(compare(lca, b, cols, name).sort_values("AUC", ascending=False).to_string(index=False))
        show = ["id", "c", "au", "segment", "seg_frac", "lab_LCA", "lab_LAD", f"cls_{a.model}", f"p1_{a.model}",
                f"p2_{a.model}", "f_dz_mm", "f_dy_mm", "f_dx_mm", "a_above_root_mm", "a_frame_long_mm",
                "a_frame_anterior_mm", "a_frame_side_mm", "a_sac_above_mm", "a_sac_behind_mm", "a_sac_left_mm"]
        print("\n## LCA candidates\n")
        print(lca[[c for c in show if c in d.columns]].round(2).to_string(index=False))
    elif a.what == "summary":
        summary(Path(a.src), a.baseline)
    else:
        from cacscore.lesion.candidates import FEATURE_NAMES
        F, T = [], []
        for f in sorted(glob.glob(str(Path(a.src) / "*.npz"))):
            z = np.load(f)
            F.append(z["features"])
            T.append(z["targets"])
        d = pd.DataFrame(np.concatenate(F), columns=list(FEATURE_NAMES)[:np.concatenate(F).shape[1]])
        t = np.concatenate(T)
        print(f"{len(F)} cases; candidates per class {np.bincount(t, minlength=5).tolist()}")
        print(compare(d[t == 1], d[t == 2], list(d.columns), "LAD").sort_values("AUC", ascending=False)
              .to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
