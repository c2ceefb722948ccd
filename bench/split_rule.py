"""Developing a voxel split that keeps the left main whole (issue 16; docs/lesion_scorer.md, session 14 wt22d).

    PYTHONPATH=src python bench/split_rule.py cache-phantom RELEASE CACHE [--n 60] [--model DIR]
    PYTHONPATH=src python bench/split_rule.py cache-hybrids CACHE [--series lidc-idri-0002] [--seeds 10]
        [--first-seed 0] [--min-plaques 2] [--model DIR]
    PYTHONPATH=src python bench/split_rule.py sweep CACHE [--split SPEC ...] [--out CSV] [--largest 5]
    PYTHONPATH=src python bench/split_rule.py analyse CACHE [--split SPEC] [--source model|oracle]
    PYTHONPATH=src python bench/split_rule.py pieces CACHE [--split SPEC] [--out CSV]
    PYTHONPATH=src python bench/split_rule.py pictures CACHE RELEASE PNG [--split SPEC] [--n 5]

cache-*: each case (a phantom patient of RELEASE, or a hybrid of a real series made as bench/hybrid_cases.py makes
them: cacscore.phantom.hybrid.insert_plaques with the series' eye-placed anchors) is classified once by the model
(bench/hybrid_cases.classify_many: what classify_volume gives it) and its coronary-called candidates are kept in
CACHE/<case>.npz, cropped to their bounding box (ids renumbered 1..k, HU, features, classes, the MLP's
probabilities, 3-D structure, heart reference in the crop), with the case's per-vessel truth (phantom: the release's
truth.csv, the static image as `cacscore evaluate` scores it; hybrid: HybridCase.truth) and the plain prediction
scored on the full volume (``score_assignment``), which ``sweep`` checks it reproduces from the crop.

sweep: per split SPEC (``bench/voxel_split.parse_split``; "plain" = no split) every case's label volume is made with
``cacscore.lesion.split.split_labels`` on the cached candidates (the function ``vessel_labels`` runs when
ClassifierConfig.voxel_split is on) and scored with ``agatston``; per SPEC: the 4-vessel MSE ratio vs the constant mean
(error / the vessel's largest truth, as ``cacscore evaluate``'s all4), kappa4 on the total and per vessel (with a
1000-resample bootstrap interval over cases, seed 0), the per-vessel ratio, and the five largest (case, vessel) errors.
Only candidates called coronary or holding a coronary label are cached: a split moves calcium among the left-coronary
arteries only. SPEC prefixes: "keepP:" replays ``tree.keep_confident(min_p=P)`` on the cached classes first (as
ClassifierConfig.keep_confident_p does after the join); "oracle:" gives each candidate its reference class first (what
the split does to right whole-candidate calls); "oracle_voxel" labels each voxel with its truth.

analyse: per cut candidate, its truth mix, shape, the MLP's own share and the voxels right before / after the split.
pieces: per piece, its MLP call and share and whether it or its candidate's class is right (docs: "What the pieces can
be trusted with").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cacscore.core.vessels import VESSELS
from cacscore.lesion.candidates import assign_labels, candidate_targets, score_assignment
from cacscore.lesion.classifier import load_model
from cacscore.lesion.split import split_labels
from cacscore.predict.predictors import DEFAULT_MODEL
from cacscore.scoring.agatston import agatston

V = list(VESSELS)
LANDMARKS = Path(__file__).resolve().parents[1] / "docs" / "hybrid_landmarks.json"


def _keep(path: Path, hu, sp, cand, classes, model, truth: dict[str, float], labels: np.ndarray) -> None:
    """The coronary-called candidates of one classified image and those holding a coronary label (``labels``, the
    truth), cropped, to ``path`` (module doc), with each one's reference class (``candidate_targets``) and the truth
    label of each of its voxels."""
    target = candidate_targets(cand.ids, labels)
    cor = np.flatnonzero((classes > 0) | (target > 0))
    pred = score_assignment(hu, cand, classes)
    lut = np.zeros(cand.n + 1, np.int32)
    lut[cor + 1] = np.arange(1, len(cor) + 1)
    if len(cor):
        at = np.flatnonzero(np.isin(cand.ids.reshape(-1), cor + 1))
        zyx = np.stack(np.unravel_index(at, cand.ids.shape), 1)
        lo, hi = zyx.min(0), zyx.max(0) + 1
    else:
        lo = hi = np.zeros(3, np.int64)
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
    ids = lut[cand.ids[box]]
    table = model.table(cand.features, cand.anatomy_columns)
    may = model.may_be_coronary(table, cand.outside_thorax_mm, cand.anatomy_columns)
    proba = model.predict_proba(table, where=may)
    np.savez_compressed(
        path, ids=ids, hu=np.where(ids > 0, hu[box], 0).astype(np.float32), features=cand.features[cor],
        classes=classes[cor], target=target[cor], truth_labels=np.where(ids > 0, labels[box], 0).astype(np.uint8),
        proba=proba[cor], structure=cand.structure[cor], agatston=cand.agatston[cor],
        heart_index=np.asarray(cand.heart_index, float) - lo, spacing=np.asarray(cand.spacing_mm, float),
        origin=lo, truth=np.array([truth[v] for v in V]), pred=np.array([pred[v] for v in V]),
        threshold_hu=model.threshold_hu)


def cache_phantom(release: Path, cache: Path, n: int, model_dir: Path) -> None:
    from hybrid_cases import classify_many

    from cacscore.io.ct import read_ct, read_labels

    cache.mkdir(parents=True, exist_ok=True)
    model = load_model(model_dir)
    truth = pd.read_csv(release / "truth.csv", dtype={"id": str}).set_index("id")
    for pid in sorted(truth.index, key=int)[:n]:
        out = cache / f"p{int(pid):03d}.npz"
        if out.exists():
            continue
        vol = read_ct(release / "deidentified_nongated" / pid / pid)
        sp = tuple(abs(float(s)) for s in vol.spacing_mm)
        cand, classes = classify_many(vol.hu, sp, {"m": model})
        _keep(out, vol.hu, sp, cand, classes["m"], model, truth.loc[pid, V].astype(float).to_dict(),
              read_labels(release / "labels" / f"{pid}.nii.gz"))
        print(f"{pid}: {int((classes['m'] > 0).sum())} coronary candidates", flush=True)


def cache_hybrids(cache: Path, data: Path, series: list[str], seeds: int, first: int, min_plaques: int,
                  model_dir: Path) -> None:
    from hybrid_cases import classify_many, series_landmarks

    from cacscore.chest.anatomy import read_chest
    from cacscore.io.ct import read_ct
    from cacscore.phantom.hybrid import insert_plaques

    cache.mkdir(parents=True, exist_ok=True)
    model = load_model(model_dir)
    for name in series:
        vol = read_ct(data / name)
        sp = tuple(abs(float(s)) for s in vol.spacing_mm)
        anatomy = read_chest(vol.hu, sp)
        for seed in range(first, first + seeds):
            out = cache / f"{name}_s{seed:03d}_m{min_plaques}.npz"
            if out.exists():
                continue
            case = insert_plaques(vol.hu, sp, anatomy, seed, landmarks=series_landmarks(LANDMARKS, name),
                                  min_plaques=min_plaques)
            cand, classes = classify_many(case.hu, sp, {"m": model})
            _keep(out, case.hu, sp, cand, classes["m"], model, case.truth, case.labels)
            print(f"{name} seed {seed}: truth " + "/".join(f"{case.truth[v]:.0f}" for v in V), flush=True)


def keep_replay(z, min_p: float) -> np.ndarray:
    """The cached classes with ``tree.keep_confident(min_p)``: a candidate the MLP itself called a vessel with p >=
    min_p keeps that call after the vote and guard (the candidates the join added, MLP call 0, keep theirs)."""
    from cacscore.lesion.tree import keep_confident

    p = z["proba"].astype(np.float64)
    return keep_confident(np.argmax(p, 1), z["classes"].astype(np.int64), p, min_p)


def case_labels(z, model, spec: str) -> np.ndarray:
    """The label volume of one cached case for SPEC: "plain" / a split spec (the model's classes), "oracle:..." (each
    candidate its reference class, then plain or the split: what the split does to a whole-candidate call that is
    right, as a hybrid-trained model's left-main call was in session 13), "oracle_voxel" (each voxel its truth)."""
    from voxel_split import parse_split

    ids, cl = z["ids"], z["classes"].astype(np.int64)
    if spec.startswith("keep"):  # keepP:SPEC: tree.keep_confident(min_p=P) on the cached classes first (replay)
        head, spec = spec.split(":", 1)
        cl = keep_replay(z, float(head[4:]))
    if spec == "oracle_voxel":
        return z["truth_labels"]
    if spec.startswith("oracle:"):
        cl, spec = z["target"].astype(np.int64), spec.split(":", 1)[1]
    if spec == "plain" or not len(cl):
        return assign_labels(ids, cl)
    return split_labels(ids, z["hu"], cl, z["features"], z["heart_index"], z["spacing"], float(z["threshold_hu"]),
                        lambda f, _: model.predict_proba(model.table(f)), parse_split(spec))


def score(z, labels) -> np.ndarray:
    sp = z["spacing"]
    if not labels.size or not labels.any():
        return np.zeros(4)
    r = agatston(z["hu"], labels, pixel_spacing_mm=(sp[1], sp[2]), slice_spacing_mm=sp[0],
                 threshold_hu=float(z["threshold_hu"]))
    return np.array([r.per_vessel[v] for v in V])


def summarise(t: np.ndarray, p: np.ndarray, names: list[str], n_boot: int = 1000, largest: int = 5) -> dict:
    from hybrid_cases import kappa4, ratio

    out = {"ratio4": ratio(t, p), "kappa4": kappa4(t.sum(1), p.sum(1))}
    rng = np.random.default_rng(0)
    boots = {"ratio4": [], "kappa4": [], **{f"kappa4_{v}": [] for v in V}}
    for _ in range(n_boot):
        i = rng.integers(0, len(t), len(t))
        boots["ratio4"].append(ratio(t[i], p[i]))
        boots["kappa4"].append(kappa4(t[i].sum(1), p[i].sum(1)))
        for j, v in enumerate(V):
            boots[f"kappa4_{v}"].append(kappa4(t[i, j], p[i, j]))
    for j, v in enumerate(V):
        out[f"kappa4_{v}"] = kappa4(t[:, j], p[:, j])
        out[f"ratio_{v}"] = ratio(t[:, j], p[:, j])
    for k, b in boots.items():
        b = np.asarray(b, float)
        out[f"{k}_ci"] = f"[{np.nanpercentile(b, 2.5):.3f}, {np.nanpercentile(b, 97.5):.3f}]"
    s = np.maximum(t.max(0), 1.0)
    err = ((p - t) / s) ** 2
    top = np.argsort(err.reshape(-1))[::-1][:largest]
    out["largest"] = "; ".join(f"{names[k // 4]} {V[k % 4]} {p.reshape(-1)[k]:.0f} vs {t.reshape(-1)[k]:.0f}"
                               for k in top)
    return out


def sweep(caches: list[Path], specs: list[str], out: Path | None, largest: int, model_dir: Path) -> pd.DataFrame:
    model = load_model(model_dir)
    files = sorted(f for c in caches for f in c.glob("*.npz"))
    names = [f.stem for f in files]
    t = np.zeros((len(files), 4))
    preds = {s: np.zeros((len(files), 4)) for s in specs}
    for i, f in enumerate(files):
        z = np.load(f)
        t[i] = z["truth"]
        for s in specs:
            preds[s][i] = score(z, case_labels(z, model, s))
        plain = score(z, case_labels(z, model, "plain"))
        if np.abs(plain - z["pred"]).max() > 0.05:
            raise SystemExit(f"{f}: the crop does not reproduce the plain prediction ({plain} vs {z['pred']})")
    rows = []
    for s in specs:
        r = summarise(t, preds[s], names, largest=largest)
        rows.append({"split": s, **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}})
        changed = [f"{names[i]} " + "/".join(f"{a:.0f}" for a in preds[s][i]) for i in range(len(files))
                   if np.abs(preds[s][i] - preds[specs[0]][i]).max() > 0.5]
        print(f"== {s}: ratio4 {r['ratio4']:.3f} {r['ratio4_ci']}, kappa4 {r['kappa4']:.3f} {r['kappa4_ci']}; "
              + ", ".join(f"{v} k4 {r[f'kappa4_{v}']:.3f} {r[f'kappa4_{v}_ci']} ratio {r[f'ratio_{v}']:.2f}" for v in V)
              + f"\n   largest: {r['largest']}\n   changed vs {specs[0]} ({len(changed)}): {'; '.join(changed[:12])}",
              flush=True)
    table = pd.DataFrame(rows)
    if out is not None:
        table.to_csv(out, index=False)
        pd.DataFrame({"case": names, **{f"truth_{v}": t[:, j] for j, v in enumerate(V)},
                      **{f"{s}_{v}": preds[s][:, j] for s in specs for j, v in enumerate(V)}}
                     ).to_csv(out.with_name(out.stem + "_cases.csv"), index=False)
    return table


def analyse(caches: list[Path], spec: str, source: str, model_dir: Path, out: Path | None) -> pd.DataFrame:
    """Per cut candidate (a left-coronary call of at least the SPEC's minimum area): its truth (voxel shares of each
    vessel), the whole call, the MLP's own share, its shape, and the voxels right before and after the split."""
    from voxel_split import parse_split

    from cacscore.lesion.split import LEFT, cut, cut_axis

    model = load_model(model_dir)
    st = parse_split(spec)
    rows = []
    for f in sorted(x for c in caches for x in c.glob("*.npz")):
        z = np.load(f)
        cl = (z["target"] if source == "oracle" else z["classes"]).astype(np.int64)
        if not len(cl):
            continue
        lab = case_labels(z, model, spec if source != "oracle" else "oracle:" + spec)
        ids, tl, sp = z["ids"], z["truth_labels"], z["spacing"]
        area = np.bincount(ids.reshape(-1), minlength=len(cl) + 1)[1:] * sp[1] * sp[2]
        for c in np.flatnonzero(np.isin(cl, LEFT) & (area >= st.min_area_mm2 * (1 - 1e-6))):
            m = ids == c + 1
            t, after = tl[m], lab[m]
            zyx = np.argwhere(m)
            yx = zyx[:, 1:] * sp[1:]
            ev = np.linalg.eigvalsh(np.cov((yx - yx.mean(0)).T)) if len(yx) > 2 else np.array([1.0, 1.0])
            share = np.bincount(t, minlength=5)[1:] / len(t)
            p = z["proba"][c, 1:5]
            piece = (cut_axis if st.method == "axis" else cut)(yx, st.n_pieces(len(yx) * sp[1] * sp[2]))
            rows.append({"case": f.stem, "c": int(c), "area": round(float(area[c]), 1),
                         "au": round(float(z["agatston"][c]), 1), "elong": round(float(np.sqrt(ev[1] / max(ev[0], 1e-9))), 2),
                         "whole": int(cl[c]), "target": int(z["target"][c]),
                         "mlp_share": round(float(p.max() / max(p.sum(), 1e-9)), 3), "mlp_call": int(1 + p.argmax()),
                         "truth_mix": "/".join(f"{x:.2f}" for x in share), "n_true": int((share > 0.1).sum()),
                         "right_before": round(float(np.mean(t == cl[c])), 3), "right_after": round(float(np.mean(t == after)), 3),
                         "after": "/".join(f"{np.mean(after == v):.2f}" for v in (1, 2, 3, 4)),
                         "pieces": len(np.unique(piece))})
    d = pd.DataFrame(rows)
    if out is not None:
        d.to_csv(out, index=False)
    with pd.option_context("display.width", 250, "display.max_rows", 500):
        print(d.to_string(index=False))
    return d


def pieces(caches: list[Path], spec: str, model_dir: Path, out: Path | None) -> pd.DataFrame:
    """Piece-level reliability: every piece of every cut candidate (a left-coronary class of at least SPEC's minimum
    area; classes: the model's with keep_confident 0.9, and the reference classes), its MLP call and share (renormalised
    over LCA / LAD / LCX), and the fraction of its voxels the piece's call and the candidate's class get right."""
    from voxel_split import parse_split

    from cacscore.lesion.split import LEFT, cut, cut_axis, pieces_features

    model = load_model(model_dir)
    st = parse_split(spec)
    rows = []
    for f in sorted(x for c in caches for x in c.glob("*.npz")):
        z = np.load(f)
        if not len(z["classes"]):
            continue
        ids, tl, sp, hu = z["ids"], z["truth_labels"], z["spacing"], z["hu"]
        for source, cl in (("model_keep0.9", keep_replay(z, 0.9)), ("oracle", z["target"].astype(np.int64))):
            area = np.bincount(ids.reshape(-1), minlength=len(cl) + 1)[1:] * sp[1] * sp[2]
            for c in np.flatnonzero(np.isin(cl, LEFT) & (area >= st.min_area_mm2 * (1 - 1e-6))):
                zyx = np.argwhere(ids == c + 1)
                yx = zyx[:, 1:] * sp[1:]
                piece = (cut_axis if st.method == "axis" else cut)(yx, st.n_pieces(len(yx) * sp[1] * sp[2]))
                names, piece = np.unique(piece, return_inverse=True)
                r = pieces_features(z["features"][c], zyx, hu[tuple(zyx.T)], piece, len(names), z["heart_index"], sp,
                                    float(z["threshold_hu"]))
                p = model.predict_proba(model.table(r)).astype(float)[:, 1:4]
                t = tl[tuple(zyx.T)]
                for q in range(len(names)):
                    tq = t[piece == q]
                    rows.append({"case": f.stem, "source": source, "c": int(c), "whole": int(cl[c]), "n": len(tq),
                                 "call": int(1 + p[q].argmax()), "share": float(p[q].max() / max(p[q].sum(), 1e-9)),
                                 "piece_right": float(np.mean(tq == 1 + p[q].argmax())),
                                 "whole_right": float(np.mean(tq == cl[c]))})
    d = pd.DataFrame(rows)
    if out is not None:
        d.to_csv(out, index=False)
    for src, g in d.groupby("source"):
        g = g[g["call"] != g["whole"]]
        for lo in (0.0, 0.8, 0.9, 0.98):
            h = g[g["share"] >= lo]
            w = h["n"] if len(h) else None
            print(f"{src}: pieces whose call differs from the candidate's, share >= {lo}: {len(h)}; voxels right: piece "
                  f"{np.average(h['piece_right'], weights=w) if len(h) else float('nan'):.3f}, candidate "
                  f"{np.average(h['whole_right'], weights=w) if len(h) else float('nan'):.3f}")
    return d


def pictures(cache: Path, release: Path, out_png: Path, spec: str, n: int, model_dir: Path) -> None:
    """The n largest per-vessel errors of the plain prediction on a phantom cache: per error one row, the slice where
    that vessel's voxels disagree most, cropped around the candidates: the CT, then the truth, the plain classes and
    SPEC's labels as colours (LCA red, LAD green, LCX blue, RCA yellow), with the cell's AU in the titles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cacscore.io.ct import read_ct

    model = load_model(model_dir)
    files = sorted(cache.glob("*.npz"))
    t = np.array([np.load(f)["truth"] for f in files])
    plain = np.array([score(np.load(f), case_labels(np.load(f), model, "plain")) for f in files])
    s = np.maximum(t.max(0), 1.0)
    order = np.argsort((((plain - t) / s) ** 2).reshape(-1))[::-1][:n]
    colours = np.array([[0, 0, 0, 0], [1, 0.1, 0.1, 0.8], [0.1, 0.9, 0.1, 0.8], [0.2, 0.4, 1, 0.8], [1, 0.9, 0, 0.8]])
    fig, axes = plt.subplots(len(order), 4, figsize=(12, 3 * len(order)), squeeze=False)
    for row, k in enumerate(order):
        i, j = divmod(int(k), 4)
        z = np.load(files[i])
        labs = {"truth": z["truth_labels"], "plain": case_labels(z, model, "plain"), spec: case_labels(z, model, spec)}
        v = j + 1
        wrong = (labs["truth"] == v) != (labs["plain"] == v)
        sl = int(np.argmax(wrong.sum((1, 2))))
        yy, xx = np.nonzero(wrong[sl] | (labs["truth"][sl] > 0) | (labs["plain"][sl] > 0))
        oz, oy, ox = (int(a) for a in z["origin"])
        pid = str(int(files[i].stem[1:]))
        hu = read_ct(release / "deidentified_nongated" / pid / pid).hu[oz + sl]
        y0, y1 = max(0, oy + yy.min() - 30), min(hu.shape[0], oy + yy.max() + 31)
        x0, x1 = max(0, ox + xx.min() - 30), min(hu.shape[1], ox + xx.max() + 31)
        crop = hu[y0:y1, x0:x1]
        axes[row, 0].imshow(crop, cmap="gray", vmin=-200, vmax=600)
        axes[row, 0].set_title(f"p{pid} slice {oz + sl}: {V[j]} error", fontsize=9)
        for col, (name, lab) in enumerate(labs.items(), 1):
            full = np.zeros(hu.shape, np.uint8)
            full[oy:oy + lab.shape[1], ox:ox + lab.shape[2]] = lab[sl]
            au = {"truth": t[i, j], "plain": plain[i, j]}.get(name)
            if au is None:
                au = score(z, lab)[j]
            axes[row, col].imshow(crop, cmap="gray", vmin=-200, vmax=600)
            axes[row, col].imshow(colours[full[y0:y1, x0:x1]], interpolation="nearest")
            axes[row, col].set_title(f"{name if len(name) < 20 else 'rule'}: {V[j]} {au:.0f} AU", fontsize=9)
        for a in axes[row]:
            a.set_xticks([])
            a.set_yticks([])
    fig.suptitle("largest per-vessel errors (shipped model): LCA red, LAD green, LCX blue, RCA yellow", fontsize=10)
    fig.tight_layout()
    fig.savefig(out_png, dpi=80)
    print(f"picture: {out_png}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("cache-phantom")
    p.add_argument("release", type=Path)
    p.add_argument("cache", type=Path)
    p.add_argument("--n", type=int, default=60)
    p.add_argument("--model", type=Path, default=Path(DEFAULT_MODEL))
    h = sub.add_parser("cache-hybrids")
    h.add_argument("cache", type=Path)
    h.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    h.add_argument("--series", nargs="+", default=["lidc-idri-0002"])
    h.add_argument("--seeds", type=int, default=10)
    h.add_argument("--first-seed", type=int, default=0)
    h.add_argument("--min-plaques", type=int, default=2)
    h.add_argument("--model", type=Path, default=Path(DEFAULT_MODEL))
    s = sub.add_parser("sweep")
    s.add_argument("cache", type=Path, nargs="+")
    s.add_argument("--split", nargs="+", default=["plain", "10,5"])
    s.add_argument("--out", type=Path, default=None)
    s.add_argument("--largest", type=int, default=5)
    s.add_argument("--model", type=Path, default=Path(DEFAULT_MODEL))
    n = sub.add_parser("analyse")
    n.add_argument("cache", type=Path, nargs="+")
    n.add_argument("--split", default="10,5")
    n.add_argument("--source", choices=("model", "oracle"), default="model")
    n.add_argument("--out", type=Path, default=None)
    n.add_argument("--model", type=Path, default=Path(DEFAULT_MODEL))
    q = sub.add_parser("pieces")
    q.add_argument("cache", type=Path, nargs="+")
    q.add_argument("--split", default="10,5")
    q.add_argument("--out", type=Path, default=None)
    q.add_argument("--model", type=Path, default=Path(DEFAULT_MODEL))
    g = sub.add_parser("pictures")
    g.add_argument("cache", type=Path)
    g.add_argument("release", type=Path)
    g.add_argument("png", type=Path)
    g.add_argument("--split", default="keep0.9:10,5,0,all,0,own=1")
    g.add_argument("--n", type=int, default=5)
    g.add_argument("--model", type=Path, default=Path(DEFAULT_MODEL))
    a = ap.parse_args(argv)
    if a.cmd == "cache-phantom":
        cache_phantom(a.release, a.cache, a.n, a.model)
    elif a.cmd == "cache-hybrids":
        cache_hybrids(a.cache, a.data, a.series, a.seeds, a.first_seed, a.min_plaques, a.model)
    elif a.cmd == "pictures":
        pictures(a.cache, a.release, a.png, a.split, a.n, a.model)
    elif a.cmd == "pieces":
        pieces(a.cache, a.split, a.model, a.out)
    elif a.cmd == "analyse":
        analyse(a.cache, a.split, a.source, a.model, a.out)
    else:
        sweep(a.cache, a.split, a.out, a.largest, a.model)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
