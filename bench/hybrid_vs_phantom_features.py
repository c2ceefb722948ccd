"""Which model inputs put the missed hybrid plaques outside the phantom's coronary candidates (issue 16 item 5).

    PYTHONPATH=src nice -n 10 python bench/hybrid_vs_phantom_features.py --release /work/runs/unseen9101 \
        --ids 1-60 --seeds 0 1 2 3 4 5 6 7 8 9 --cache /work/runs/wt17d/cache [--model DIR]

Both sides through the product's path (``classify_volume``): the phantom release's candidates with their truth vessel
(``candidate_targets``), and the candidates of the plaques inserted in each anchored hybrid
(``phantom.hybrid.insert_plaques``, the courses of docs/hybrid_landmarks.json, as bench/hybrid_cases.py) with the
segment of their course (RCA: above / within 15 mm of the crux's height, past the crux = PDA; the others in thirds).
Per patient / hybrid one ``.npz`` in --cache, so a rerun only reports. Prints, for the lower RCA + PDA and for the LCX:
the feature quantiles of the phantom's candidates of that vessel and of the missed hybrid ones, then how many missed
candidates flip when groups or pairs of features are set to the phantom's median (position recomputed coherently:
dy, dx -> r_inplane, dist, cos, sin), and the found share by fat_8mm. Findings: docs/lesion_scorer.md, "Why the lower
RCA, the PDA and the LCX are missed".
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd

# bench/ is the script's folder
from hybrid_cases import course_position

from cacscore.chest.anatomy import read_chest
from cacscore.core.vessels import LABEL_OF, VESSELS
from cacscore.io.ct import read_ct, read_labels
from cacscore.lesion.anatomy import ANATOMY_NAMES
from cacscore.lesion.candidates import candidate_targets
from cacscore.lesion.classifier import _softmax, classify_volume, load_model
from cacscore.phantom.hybrid import insert_plaques
from cacscore.predict.predictors import DEFAULT_MODEL

LANDMARKS = Path(__file__).resolve().parents[1] / "docs" / "hybrid_landmarks.json"
POSITION = ("dz_mm", "dy_mm", "dx_mm", "r_inplane_mm", "dist_mm", "cos_inplane", "sin_inplane")
TISSUE8 = ("fat_8mm", "soft_8mm", "bright_8mm", "air_8mm")
TISSUE = (*TISSUE8, "fat_24mm", "soft_24mm", "bright_24mm", "air_24mm", "bright_60mm", "air_60mm")
GROUPS = {"RCA": ("RCA_inf", "PDA"), "LCX": ("LCX_prox", "LCX_mid", "LCX_dist")}


def centroids_mm(ids: np.ndarray, n: int, spacing: np.ndarray) -> np.ndarray:
    """(n, 3) candidate centroids (z, y, x) mm from voxel 0."""
    at = np.flatnonzero(ids.reshape(-1))
    cid = ids.reshape(-1)[at]
    cnt = np.maximum(np.bincount(cid, minlength=n + 1)[1:], 1)
    return np.stack([np.bincount(cid, weights=c, minlength=n + 1)[1:] / cnt
                     for c in np.unravel_index(at, ids.shape)], 1) * spacing


def phantom_segments(pid: int, seed: int, size: int, vessel: np.ndarray, cen: np.ndarray) -> np.ndarray:
    """Each phantom candidate's segment, as the hybrids' (``segment``), from the patient's drawn courses (the code
    that runs must be the one that drew the release: v7's courses; crux = ``coronary.crux_point``). cen: (n, 3)
    (z, y, x) mm from voxel 0."""
    from cacscore.phantom.anatomy import chest_grid
    from cacscore.phantom.core import _draws
    from cacscore.phantom.coronary import crux_point

    d = _draws(pid, seed, size)[0]
    g = chest_grid(d.anat, size)
    at = cen + np.array([g.z_mm[0], g.y_mm[0], g.x_mm[0]])
    name, i = crux_point(d.vessels)
    crux = d.vessels[name].points[i][[2, 1, 0]]
    out = []
    for v, c in zip(vessel, at):
        v = VESSELS[int(v) - 1]
        course = d.vessels[v].points[:, [2, 1, 0]]
        out.append(segment(v, course, c, crux) if v != "LCA" else "LCA")
    return np.array(out)


def phantom_rows(release: Path, pid: str, model, seed: int | None = None) -> dict:
    vol = read_ct(release / "deidentified_nongated" / pid / pid)
    sp = tuple(abs(float(s)) for s in vol.spacing_mm)
    cand, classes = classify_volume(vol.hu, sp, model)
    t = candidate_targets(cand.ids, read_labels(release / "labels" / f"{pid}.nii.gz"))
    m = t > 0
    cen = centroids_mm(cand.ids, cand.n, np.array(sp))[m]
    out = {"table": model.table(cand.features, cand.anatomy_columns)[m], "anat": cand.anatomy_columns[m],
           "vessel": t[m], "classes": classes[m], "agatston": cand.agatston[m], "centroid": cen,
           "may": model.may_be_coronary(cand.features, cand.outside_thorax_mm, cand.anatomy_columns)[m]}
    if seed is not None and m.any():
        out["seg"] = phantom_segments(int(pid), seed, vol.hu.shape[-1], t[m], cen)
    return out


def segment(vessel: str, course: np.ndarray, centre: np.ndarray, crux: np.ndarray) -> str:
    arc, length = course_position(course, centre)
    if vessel == "RCA":
        if arc > course_position(course, crux)[0] + 2:
            return "PDA"
        return "RCA_inf" if centre[0] - crux[0] <= 15 else "RCA_up"
    f = arc / max(length, 1e-6)
    return f"{vessel}_{'prox' if f < 1 / 3 else 'mid' if f < 2 / 3 else 'dist'}"


def hybrid_rows(vol, sp, anatomy, entry: dict, seed: int, model) -> dict:
    case = insert_plaques(vol.hu, sp, anatomy, seed, landmarks=entry["courses"])
    cand, classes = classify_volume(case.hu, sp, model)
    cen = centroids_mm(cand.ids, cand.n, np.array(sp))
    crux = np.asarray(entry["crux"], float)
    rows, vessel, seg = [], [], []
    for v in VESSELS:
        for r in np.unique(cand.ids[(case.labels == LABEL_OF[v]) & (cand.ids > 0)]) - 1:
            rows.append(r)
            vessel.append(LABEL_OF[v])
            seg.append(segment(v, case.courses[v], cen[r], crux))
    r = np.array(rows, int)
    return {"table": model.table(cand.features, cand.anatomy_columns)[r], "anat": cand.anatomy_columns[r],
            "vessel": np.array(vessel, int), "classes": classes[r], "agatston": cand.agatston[r], "seg": np.array(seg),
            "may": model.may_be_coronary(cand.features, cand.outside_thorax_mm, cand.anatomy_columns)[r]}


def frame(d, names: list[str]) -> pd.DataFrame:
    df = pd.DataFrame(d["table"], columns=names)
    for j, n in enumerate(ANATOMY_NAMES[:d["anat"].shape[1]]):  # caches from before the contrast columns: fewer
        df[n] = d["anat"][:, j]
    df["vessel"] = [VESSELS[int(v) - 1] for v in d["vessel"]]
    df["right"] = d["classes"] == d["vessel"]
    df["may"], df["au"], df["class"] = d["may"], d["agatston"], d["classes"]
    if "seg" in d:
        df["seg"] = d["seg"]
    return df


def cached(path: Path, make) -> dict:
    if not path.exists():
        np.savez_compressed(path, **make())
    return dict(np.load(path))


def with_position(x: np.ndarray, names: list[str], dy: float, dx: float) -> np.ndarray:
    """x with dy, dx set and r_inplane, dist, cos, sin recomputed from them (the features' own definitions)."""
    x = x.copy()
    j = {n: names.index(n) for n in POSITION}
    x[:, j["dy_mm"]], x[:, j["dx_mm"]] = dy, dx
    r = np.hypot(dy, dx)
    x[:, j["r_inplane_mm"]] = r
    x[:, j["dist_mm"]] = np.sqrt(r ** 2 + x[:, j["dz_mm"]] ** 2)
    x[:, j["cos_inplane"]], x[:, j["sin_inplane"]] = (dx / r, dy / r) if r > 0 else (0.0, 0.0)
    return x


def report(model, P: pd.DataFrame, H: pd.DataFrame) -> None:
    names = list(model.feature_names)

    def proba(x):
        return _softmax(model.numpy_net()(np.nan_to_num((x - model.mean) / model.std, nan=0.0)))

    def q(s):
        s = s.dropna()
        return f"{s.quantile(.1):7.1f} {s.median():7.1f} {s.quantile(.9):7.1f}" if len(s) else "-"

    for vessel, segs in GROUPS.items():
        label = LABEL_OF[vessel]
        ph, hm = P[P.vessel == vessel], H[H.seg.isin(segs) & ~H.right & H.may]
        print(f"\n{vessel} {segs}: phantom {len(ph)} candidates, hybrid {len(hm)} not called {vessel} "
              f"(no rule; {int((hm['class'] == 0).sum())} non-coronary)")
        rows = []
        for f in [*names, *ANATOMY_NAMES]:
            pct = 100 * float((ph[f].dropna() < hm[f].median()).mean())
            rows.append((abs(pct - 50), f"{f:20s} {q(ph[f]):>24s} {q(hm[f]):>24s} {pct:5.0f}"))
        print(f"{'feature':20s} {'phantom q10/50/90':>24s} {'hybrid missed q10/50/90':>24s}   pct")
        print("\n".join(r for _, r in sorted(rows, reverse=True)))
        x, ref = hm[names].to_numpy(float), ph[names].median().to_numpy(float)

        def setting(cols, base=x, ref=ref):
            out = base.copy()
            for c in cols:
                out[:, names.index(c)] = ref[names.index(c)]
            return out

        moved = with_position(x, names, ref[names.index("dy_mm")], ref[names.index("dx_mm")])
        for tag, xn in (("nothing", x), ("position dy, dx", moved), ("fat_8mm + soft_8mm", setting(["fat_8mm", "soft_8mm"])),
                        ("fat_8mm + fat_24mm", setting(["fat_8mm", "fat_24mm"])), ("tissue 8 mm", setting(TISSUE8)),
                        ("tissue 8 + 24 + 60 mm", setting(TISSUE)), ("position + tissue 8 mm", setting(TISSUE8, moved)),
                        ("everything but position", setting([n for n in names if n not in POSITION])),
                        ("everything but tissue", setting([n for n in names if n not in TISSUE]))):
            p = proba(xn)
            flip = p[:, 0] < 0.5
            print(f"  set to the phantom median: {tag:26s} coronary {flip.sum():3d} / {vessel} "
                  f"{(p.argmax(1) == label).sum():3d} of {len(x)} ({hm.au[flip].sum():.0f} of {hm.au.sum():.0f} AU)")
        pairs = sorted(((int((proba(setting([a, b]))[:, 0] < 0.5).sum()), a, b)
                        for a, b in itertools.combinations(names, 2)), reverse=True)
        print("  best pairs:", ", ".join(f"{a}+{b} {n}" for n, a, b in pairs[:8]),
              f"| pairs flipping >= half: {sum(n >= len(x) / 2 for n, _, _ in pairs)} of {len(pairs)}")
    position_report(P, H)
    for tag, D in (("hybrid plaque candidates", H), ("phantom coronary candidates", P)):
        g = D.assign(bin=pd.cut(D.fat_8mm, [0, .1, .2, .3, .5, 1.01], right=False)).groupby("bin", observed=False)
        print(f"\n{tag} by fat_8mm:")
        print(pd.DataFrame({"n": g.size(), "au": g.au.sum().round(0),
                            "found_share": g.apply(lambda s: s.au[s.right].sum() / max(s.au.sum(), 1e-9)).round(2)}).to_string())


def position_report(P: pd.DataFrame, H: pd.DataFrame) -> None:
    """Candidates' position relative to the heart reference (dz / dy / dx mm, q10 / median / q90) and fat_8mm bins of
    the lower RCA (within 15 mm above the crux), the PDA and the distal LCX, phantom beside hybrid."""
    def q(s):
        return f"{s.quantile(.1):6.0f} {s.median():6.0f} {s.quantile(.9):6.0f}" if len(s) else "-"

    print("\nposition relative to the heart reference (q10 / median / q90 mm) and fat_8mm, by segment:")
    print(f"{'segment':24s} {'n':>5s} {'dz':>20s} {'dy (back)':>20s} {'dx (left)':>20s} {'fat<0.1':>8s} {'<0.3':>6s}"
          f" {'fat median':>10s}")
    segs = [("RCA lower + PDA", ("RCA_inf", "PDA")), ("RCA_inf", ("RCA_inf",)), ("PDA", ("PDA",)),
            ("LCX distal third", ("LCX_dist",)), ("RCA all", None)]
    for tag, D in (("phantom", P), ("hybrid", H)):
        for name, sg in segs:
            if sg is None:
                d = D[D.vessel == "RCA"]
            elif "seg" in D:
                d = D[D.seg.isin(sg)]
            else:
                continue
            print(f"{tag + ' ' + name:24s} {len(d):5d} {q(d.dz_mm):>20s} {q(d.dy_mm):>20s} {q(d.dx_mm):>20s} "
                  f"{(d.fat_8mm < 0.1).mean() if len(d) else float('nan'):8.2f} "
                  f"{(d.fat_8mm < 0.3).mean() if len(d) else float('nan'):6.2f} {d.fat_8mm.median():10.2f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--release", type=Path, required=True, help="a phantom release (cacscore phantom OUT)")
    ap.add_argument("--ids", default="1-60", help="first-last patient ids of the release")
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--series", nargs="+", default=["lidc-idri-0001", "lidc-idri-0002", "lidc-idri-0003"])
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--phantom-seed", type=int, default=None,
                    help="the release's seed: the phantom candidates then get their segment from the drawn courses "
                         "(only with the anatomy version that drew the release)")
    ap.add_argument("--cache", type=Path, required=True, help="folder of per-patient / per-hybrid .npz")
    a = ap.parse_args(argv)
    model = load_model(a.model)
    names = list(model.feature_names)
    (a.cache / "phantom").mkdir(parents=True, exist_ok=True)
    (a.cache / "hybrid").mkdir(parents=True, exist_ok=True)
    lo, hi = (int(v) for v in a.ids.split("-"))
    P = pd.concat([frame(cached(a.cache / "phantom" / f"{pid}.npz", lambda pid=pid: phantom_rows(a.release, pid, model, a.phantom_seed)), names)
                   for pid in map(str, range(lo, hi + 1))], ignore_index=True)
    landmarks = json.loads(LANDMARKS.read_text())
    H = []
    for name in a.series:
        vol, anatomy, sp = None, None, None
        for seed in a.seeds:
            path = a.cache / "hybrid" / f"{name}_{seed}.npz"
            if not path.exists() and vol is None:
                vol = read_ct(a.data / name)
                sp = tuple(abs(float(s)) for s in vol.spacing_mm)
                anatomy = read_chest(vol.hu, sp)
            H.append(frame(cached(path, lambda seed=seed, vol=vol, sp=sp, anatomy=anatomy, name=name: hybrid_rows(
                vol, sp, anatomy, landmarks[name], seed, model)), names))
    H = pd.concat(H, ignore_index=True)
    report(model, P, H)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
