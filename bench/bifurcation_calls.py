"""Left-main bifurcation calls: replay the post-MLP vessel assignment and the voxel split under config variants on
``bench/split_rule.py`` caches, and draw chosen slices (docs/lesion_scorer.md "(session 17, wt25b)").

    PYTHONPATH=src python bench/bifurcation_calls.py replay CACHE [CACHE ...] --variant NAME=KEY:VAL;... [...]
    PYTHONPATH=src python bench/bifurcation_calls.py picture CACHE RELEASE PNG --case p032 --slices 29 30 \
        [--variant NAME=...] [...]
    PYTHONPATH=src python bench/bifurcation_calls.py candidates CACHE --case p020 [--variant NAME=...]
    PYTHONPATH=src python bench/bifurcation_calls.py pieces CACHE --case p033 [--variant NAME=...]
    PYTHONPATH=src python bench/bifurcation_calls.py zoom CACHE PNG --case p014 --cands 40 43 [--variant NAME=... ...]
    PYTHONPATH=src python bench/bifurcation_calls.py branches CACHE --case p014 [--variant NAME=...]

A CACHE is ``bench/split_rule.py cache-phantom``'s: per patient the coronary-called candidates (and those holding a
coronary label) of the shipped model, with their features, MLP probabilities, 3-D structure, Agatston and the truth
label of every voxel. ``replay`` classifies each case again from the stored probabilities with
``LesionModel.assign_vessels`` (the product's vote / guard / join / veto; the first variant must reproduce the cached
classes, which is checked and printed) under each variant's ClassifierConfig fields, labels the voxels with the
variant's split (``cacscore.lesion.split.split_labels``; split:plain = none) and scores them with ``agatston``: the
4-vessel MSE ratio vs the constant mean (``cacscore evaluate``'s all4), kappa4 on the total and per vessel, and the
cases that changed against the first variant, and (session 18) per vessel the summed |error| in AU and in how many cases
it got better / worse than in the first variant. VARIANT: NAME=key:val;key:val;split:SPEC with SPEC as
``bench/voxel_split.parse_split`` reads it (default 10,5: the shipped split), e.g. "rule=split:10,5,anchor=0.95,self=1".
Candidates the model called non-coronary that hold no coronary label are not in the cache: a variant that would let
them join a structure is replayed without them.

``candidates``: per cached candidate of one case (called coronary or holding a coronary label), by 3-D structure:
its slice, position (dz / dy / dx, r mm from the heart reference), Agatston, area, class, reference class, the MLP's
five probabilities, its voxels per true vessel and per vessel in the variant's split labels (LCA/LAD/LCX/RCA).

``picture``: per slice one row: the CT crop round the case's cached candidates, the phantom's voxel labels (the
reference), then each variant's labels (LCA red, LAD green, LCX blue, RCA yellow), each with its per-vessel AU.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import split_rule as S  # noqa: E402
from voxel_split import parse_split  # noqa: E402

from cacscore.lesion.candidates import assign_labels  # noqa: E402
from cacscore.lesion.classifier import LesionModel, load_model  # noqa: E402
from cacscore.lesion.split import split_labels  # noqa: E402
from cacscore.predict.predictors import DEFAULT_MODEL  # noqa: E402

COLOURS = np.array([[0, 0, 0, 0], [1, 0.1, 0.1, 0.8], [0.1, 0.9, 0.1, 0.8], [0.2, 0.4, 1, 0.8], [1, 0.9, 0, 0.8]])


def variant(base: LesionModel, spec: str) -> tuple[str, LesionModel, str]:
    """(name, the model with the variant's config fields, its split SPEC) of NAME=key:val;...;split:SPEC."""
    name, _, rest = spec.partition("=")
    kw, split = {}, "10,5"
    for part in filter(None, rest.split(";")):
        k, v = part.split(":", 1)
        if k == "split":
            split = v
            continue
        kw[k] = None if v == "None" else v == "True" if v in ("True", "False") else \
            float(v) if v.replace(".", "", 1).isdigit() else v
    return name, dataclasses.replace(base, config=dataclasses.replace(base.config, **kw)), split


def reclassify(z, model: LesionModel) -> np.ndarray:
    """The cached case's classes again from its stored MLP probabilities (rule-decided rows read (1, 0, 0, 0, 0))."""
    p = z["proba"].astype(np.float64)
    if not len(p):
        return np.zeros(0, np.int64)
    may = ~((p[:, 0] == 1.0) & (p[:, 1:].sum(1) == 0))
    return model.assign_vessels(p, may, z["structure"], z["agatston"].astype(np.float64), model.table(z["features"]))


def labels(z, model: LesionModel, split: str) -> np.ndarray:
    cl = reclassify(z, model)
    if split == "plain" or not len(cl):
        return assign_labels(z["ids"], cl)
    return split_labels(z["ids"], z["hu"], cl, z["features"], z["heart_index"], z["spacing"], float(z["threshold_hu"]),
                        lambda f, _: model.predict_proba(model.table(f)), parse_split(split))


def replay(caches: list[Path], specs: list[str], model_dir: Path, n_boot: int = 1000) -> dict[str, np.ndarray]:
    base = load_model(model_dir)
    files = sorted(f for c in caches for f in c.glob("*.npz"))
    names = [f.stem for f in files]
    vs = [variant(base, s) for s in specs]
    t = np.zeros((len(files), 4))
    pred = {n: np.zeros((len(files), 4)) for n, _, _ in vs}
    differs = []
    for i, f in enumerate(files):
        z = np.load(f)
        t[i] = z["truth"]
        for k, (n, m, split) in enumerate(vs):
            if k == 0 and len(z["classes"]) and (reclassify(z, m) != z["classes"]).any():
                differs.append(f.stem)
            pred[n][i] = S.score(z, labels(z, m, split))
    print(f"{len(files)} cases; the first variant's classes differ from the cache's in {len(differs)}: {differs[:8]}")
    ref = vs[0][0]
    for n, _, split in vs:
        r = S.summarise(t, pred[n], names, n_boot=n_boot)
        ch = [f"{names[i]} " + "/".join(f"{a:.0f}" for a in pred[n][i]) + " (truth " + "/".join(f"{a:.0f}" for a in t[i])
              + ")" for i in range(len(files)) if np.abs(pred[n][i] - pred[ref][i]).max() > 0.5]
        print(f"== {n} (split {split}): ratio4 {r['ratio4']:.2f} {r['ratio4_ci']}, kappa4 {r['kappa4']:.3f}; "
              + ", ".join(f"{v} kappa4 {r[f'kappa4_{v}']:.3f} ratio {r[f'ratio_{v}']:.1f}" for v in S.V)
              + f"\n   largest: {r['largest']}\n   changed vs {ref} ({len(ch)}): {'; '.join(ch)}", flush=True)
        e, e0 = np.abs(pred[n] - t), np.abs(pred[ref] - t)  # session 18: per vessel, summed |error| and who moved
        print("   |error| AU summed: " + ", ".join(
            f"{v} {e[:, k].sum():.0f} (better in {(e[:, k] < e0[:, k] - 0.5).sum()}, worse in "
            f"{(e[:, k] > e0[:, k] + 0.5).sum()})" for k, v in enumerate(S.V)), flush=True)
    return pred


def candidates(cache: Path, case: str, spec: str, model_dir: Path) -> None:
    from cacscore.lesion.candidates import FEATURE_NAMES

    col = {n: FEATURE_NAMES.index(n) for n in ("dz_mm", "dy_mm", "dx_mm", "r_inplane_mm", "log_area_mm2")}
    z = np.load(cache / f"{case}.npz")
    name, m, split = variant(load_model(model_dir), spec)
    lab = labels(z, m, split)
    f, ids, tl = z["features"], z["ids"], z["truth_labels"]
    print(f"{case}: truth {np.round(z['truth']).tolist()}, {name} {np.round(S.score(z, lab)).tolist()} (LCA/LAD/LCX/RCA)")
    for c in np.argsort(z["structure"], kind="stable"):
        if z["classes"][c] == 0 and z["target"][c] == 0:
            continue
        mask = ids == c + 1
        sl = np.argwhere(mask)[:, 0].mean() + z["origin"][0]
        t = np.bincount(tl[mask], minlength=5)[1:].tolist()
        v = np.bincount(lab[mask], minlength=5)[1:].tolist()
        print(f"c{c} structure {z['structure'][c]} slice {sl:.0f} dz/dy/dx/r " + "/".join(
            f"{f[c, col[k]]:.1f}" for k in ("dz_mm", "dy_mm", "dx_mm", "r_inplane_mm"))
            + f" AU {z['agatston'][c]:.1f} area {np.expm1(f[c, col['log_area_mm2']]):.1f} class {z['classes'][c]} "
            f"ref {z['target'][c]} p [{' '.join(f'{x:.2f}' for x in z['proba'][c])}] voxels truth {t} {name} {v}")


def pieces(cache: Path, case: str, spec: str, model_dir: Path) -> None:
    """Per cut candidate of one case (session 18): each piece's position (dz / dy / dx mm), its own MLP LCA / LAD / LCX
    probabilities, its voxels per true vessel and per vessel in the variant's labels, and the nearest sure anchor of
    each left vessel (the variant's anchor_p; candidate and distance in mm)."""
    from cacscore.lesion import split as SP

    z = np.load(cache / f"{case}.npz")
    _, m, split = variant(load_model(model_dir), spec)
    st = parse_split(split)
    cl = reclassify(z, m)
    f = z["features"].astype(np.float32)
    every = np.asarray(m.predict_proba(m.table(f)), np.float64)
    anc, av = SP.sure_left_calls(every, cl, 0.95 if st.anchor_p is None else st.anchor_p)
    at = [SP._F[k] for k in SP.ANCHOR_COLUMNS]
    lab = labels(z, m, split)
    area = np.expm1(f[:, SP._F["log_area_mm2"]])
    sp = z["spacing"]
    for c in np.flatnonzero(np.isin(cl, SP.LEFT) & (area >= st.min_area_mm2 * (1 - 1e-6))):
        zyx = np.argwhere(z["ids"] == c + 1)
        vals = z["hu"][zyx[:, 0], zyx[:, 1], zyx[:, 2]].astype(float)
        cutter = SP.cut_axis if st.method == "axis" else SP.cut
        piece = cutter(zyx[:, 1:] * sp[1:], st.n_pieces(len(zyx) * sp[1] * sp[2]))
        names, piece = np.unique(piece, return_inverse=True)
        rows = SP.pieces_features(f[c], zyx, vals, piece, len(names), z["heart_index"], sp, float(z["threshold_hu"]),
                                  st.piece_columns)
        p = np.asarray(m.predict_proba(m.table(rows)))
        print(f"c{c} class {cl[c]} AU {z['agatston'][c]:.0f} own p LCA/LAD/LCX/RCA {np.round(every[c, 1:5], 2)} "
              f"pos {np.round(f[c, at], 1)}")
        for k in range(len(names)):
            mk = piece == k
            tv = np.bincount(z["truth_labels"][zyx[mk, 0], zyx[mk, 1], zyx[mk, 2]], minlength=5)[1:]
            vv = np.bincount(lab[zyx[mk, 0], zyx[mk, 1], zyx[mk, 2]], minlength=5)[1:]
            d = np.linalg.norm(f[anc][:, at] - rows[k, at], axis=1)
            near = " ".join(f"{n} " + (f"c{anc[av == v][np.argmin(d[av == v])]}@{d[av == v].min():.1f}"
                                        if (av == v).any() else "-") for v, n in ((1, "LCA"), (2, "LAD"), (3, "LCX")))
            print(f"   piece {k} pos {np.round(rows[k, at], 1)} n {mk.sum()} p LCA/LAD/LCX {np.round(p[k, 1:4], 2)} "
                  f"truth {tv.tolist()} -> {vv.tolist()}; nearest sure {near}")


def case_labels(cache: Path, case: str, specs: list[str], model_dir: Path, truth_name: str) -> tuple:
    """(the case's cache arrays, {name: label volume} with the phantom's voxel labels under ``truth_name`` first and
    then each variant's, {name: per-vessel AU}): what picture and zoom draw."""
    base = load_model(model_dir)
    z = np.load(cache / f"{case}.npz")
    labs = {truth_name: z["truth_labels"]}
    for s in specs:
        n, m, split = variant(base, s)
        labs[n] = labels(z, m, split)
    return z, labs, {n: S.score(z, lab) for n, lab in labs.items()}


def picture(cache: Path, release: Path, png: Path, case: str, slices: list[int], specs: list[str],
            model_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cacscore.io.ct import read_ct

    z, labs, au = case_labels(cache, case, specs, model_dir, "truth (voxel labels)")
    oz, oy, ox = (int(a) for a in z["origin"])
    pid = str(int(case[1:]))
    vol = read_ct(release / "deidentified_nongated" / pid / pid).hu
    yy, xx = np.nonzero((z["ids"] > 0).any(0))
    fig, axes = plt.subplots(len(slices), len(labs) + 1, figsize=(3.2 * (len(labs) + 1), 3.3 * len(slices)),
                             squeeze=False)
    for row, sl in enumerate(slices):
        k = sl - oz
        hu = vol[sl]
        y0, y1 = max(0, oy + yy.min() - 15), min(hu.shape[0], oy + yy.max() + 16)
        x0, x1 = max(0, ox + xx.min() - 15), min(hu.shape[1], ox + xx.max() + 16)
        crop = hu[y0:y1, x0:x1]
        axes[row, 0].imshow(crop, cmap="gray", vmin=-200, vmax=600)
        axes[row, 0].set_title(f"{case} slice {sl} (CT)", fontsize=9)
        for col, (n, lab) in enumerate(labs.items(), 1):
            full = np.zeros(hu.shape, np.uint8)
            if 0 <= k < lab.shape[0]:
                full[oy:oy + lab.shape[1], ox:ox + lab.shape[2]] = lab[k]
            axes[row, col].imshow(crop, cmap="gray", vmin=-200, vmax=600)
            axes[row, col].imshow(COLOURS[full[y0:y1, x0:x1]], interpolation="nearest")
            axes[row, col].set_title(f"{n}\n" + "/".join(f"{a:.0f}" for a in au[n]) + " AU", fontsize=8)
        for a in axes[row]:
            a.set_xticks([])
            a.set_yticks([])
    fig.suptitle(f"{case}: LCA red, LAD green, LCX blue, RCA yellow; AU = LCA/LAD/LCX/RCA of the whole case", fontsize=9)
    fig.tight_layout()
    fig.savefig(png, dpi=80)
    print(f"picture: {png}")


def zoom(cache: Path, case: str, png: Path, cands: list[int], specs: list[str], model_dir: Path) -> None:
    """(session 19) A tight crop round the cached candidates ``cands`` (0-based, as ``candidates`` lists them), one row
    per slice they cover: the CT (from the cache), the phantom's voxel labels, then each variant's labels, with every
    candidate's outline in white; titles carry the case's per-vessel AU (LCA/LAD/LCX/RCA)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    z, labs, au = case_labels(cache, case, specs, model_dir, "truth")
    ids = z["ids"]
    zz, yy, xx = np.nonzero(np.isin(ids, np.asarray(cands) + 1))
    y0, y1, x0, x1 = max(0, yy.min() - 6), yy.max() + 7, max(0, xx.min() - 6), xx.max() + 7
    sl = sorted(set(zz.tolist()))
    fig, ax = plt.subplots(len(sl), len(labs) + 1, figsize=(2.2 * (len(labs) + 1), 2.2 * len(sl)), squeeze=False)
    for r, k in enumerate(sl):
        crop = z["hu"][k, y0:y1, x0:x1]
        ax[r, 0].imshow(crop, cmap="gray", vmin=-200, vmax=800)
        ax[r, 0].set_title(f"{case} slice {k + int(z['origin'][0])}", fontsize=7)
        for c, (n, lab) in enumerate(labs.items(), 1):
            ax[r, c].imshow(crop, cmap="gray", vmin=-200, vmax=800)
            ax[r, c].imshow(COLOURS[lab[k, y0:y1, x0:x1]], interpolation="nearest")
            ax[r, c].contour(ids[k, y0:y1, x0:x1] > 0, levels=[0.5], colors="w", linewidths=0.4)
            ax[r, c].set_title(f"{n} " + "/".join(f"{a:.0f}" for a in au[n]), fontsize=6)
        for a in ax[r]:
            a.set_xticks([])
            a.set_yticks([])
    fig.suptitle(f"{case}: LCA red, LAD green, LCX blue, RCA yellow; up = anterior", fontsize=7)
    fig.tight_layout()
    fig.savefig(png, dpi=70)
    print(f"zoom: {png} (slices {sl[0] + int(z['origin'][0])}-{sl[-1] + int(z['origin'][0])})")


def branches(cache: Path, case: str, spec: str, model_dir: Path) -> None:
    """(session 19) SplitSettings.branch_mm's units of one case (``cacscore.lesion.split._DEBUG``): per unit (a piece
    or an uncut left candidate) its vessel before the rule, position (dz / dy / dx mm), whether it is in the left main,
    within branch_mm of it, its graph distance d_LM, its LAD and LCX detours (mm), its true voxels and its final
    labels (LCA / LAD / LCX)."""
    from cacscore.lesion import split as SP

    z = np.load(cache / f"{case}.npz")
    _, m, split = variant(load_model(model_dir), spec)
    SP._DEBUG = []
    try:
        lab = labels(z, m, split)
        runs = list(SP._DEBUG)
    finally:
        SP._DEBUG = None
    for d in runs:
        u, tl, box = d["unit"], z["truth_labels"][d["box"]], d["box"]
        for i in np.argsort(d["pts"][:, 0], kind="stable"):
            mk = u == i + 1
            print(f"u{i} {'LM' if d['lm'][i] else '  '} vessel {d['v'][i]} pos {np.round(d['pts'][i], 1)} near "
                  f"{int(d['near'][i])} dLM {d['d_lm'][i]:.1f} detour LAD {d['detour'][2][i]:.1f} LCX "
                  f"{d['detour'][3][i]:.1f} truth {np.bincount(tl[mk], minlength=5)[1:4].tolist()} -> "
                  f"{np.bincount(lab[box][mk], minlength=5)[1:4].tolist()}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("replay")
    r.add_argument("cache", type=Path, nargs="+")
    r.add_argument("--variant", nargs="+", default=["shipped=", "rule=split:10,5,anchor=0.95,self=1"])
    r.add_argument("--model", type=Path, default=Path(DEFAULT_MODEL))
    p = sub.add_parser("picture")
    p.add_argument("cache", type=Path)
    p.add_argument("release", type=Path)
    p.add_argument("png", type=Path)
    p.add_argument("--case", required=True)
    p.add_argument("--slices", type=int, nargs="+", required=True)
    p.add_argument("--variant", nargs="+", default=["shipped=", "rule=split:10,5,anchor=0.95,self=1"])
    p.add_argument("--model", type=Path, default=Path(DEFAULT_MODEL))
    c = sub.add_parser("candidates")
    c.add_argument("cache", type=Path)
    c.add_argument("--case", required=True)
    c.add_argument("--variant", default="shipped=")
    c.add_argument("--model", type=Path, default=Path(DEFAULT_MODEL))
    q = sub.add_parser("pieces")
    q.add_argument("cache", type=Path)
    q.add_argument("--case", required=True)
    q.add_argument("--variant", default="shipped=split:10,5,anchor=0.95,self=1")
    q.add_argument("--model", type=Path, default=Path(DEFAULT_MODEL))
    zz = sub.add_parser("zoom")
    zz.add_argument("cache", type=Path)
    zz.add_argument("png", type=Path)
    zz.add_argument("--case", required=True)
    zz.add_argument("--cands", type=int, nargs="+", required=True)
    zz.add_argument("--variant", nargs="+", default=["shipped="])
    zz.add_argument("--model", type=Path, default=Path(DEFAULT_MODEL))
    b = sub.add_parser("branches")
    b.add_argument("cache", type=Path)
    b.add_argument("--case", required=True)
    b.add_argument("--variant", default="branch=split:10,5,anchor=0.95,self=1,lcalen=15,lcaagree=1,lcadenied=class,"
                                        "branch=20,blca=1")
    b.add_argument("--model", type=Path, default=Path(DEFAULT_MODEL))
    a = ap.parse_args(argv)
    if a.cmd == "replay":
        replay(a.cache, a.variant, a.model)
    elif a.cmd == "candidates":
        candidates(a.cache, a.case, a.variant, a.model)
    elif a.cmd == "pieces":
        pieces(a.cache, a.case, a.variant, a.model)
    elif a.cmd == "zoom":
        zoom(a.cache, a.case, a.png, a.cands, a.variant, a.model)
    elif a.cmd == "branches":
        branches(a.cache, a.case, a.variant, a.model)
    else:
        picture(a.cache, a.release, a.png, a.case, a.slices, a.variant, a.model)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
