"""The mitral-annulus rule (session 11): can an anatomical rule keep mitral annular calcification (MAC) from being called
coronary, at no cost to the coronary calcium of the left AV groove (LCX) and the crux (RCA)? (No: docs/lesion_scorer.md.)

    PYTHONPATH=src python bench/mac_rule.py collect RELEASE --ids 1-60 --cache DIR [--model NAME=DIR ...]
    PYTHONPATH=src python bench/mac_rule.py report --cache DIR [--split 30] [--model NAME=DIR ...]
        [--hybrids /work/runs/wt18a/eval_0001 ...] [--lidc]
    PYTHONPATH=src python bench/mac_rule.py picture OUT.png --cache DIR --panel RELEASE PID Z [--panel ...]
    PYTHONPATH=src python bench/mac_rule.py picture OUT.png --series lidc-idri-0002 --z 96 104 120 140
    PYTHONPATH=src python bench/mac_rule.py mlp OUT --cache DIR [--train ph41]

``collect`` finds each phantom patient's candidates once (as ``cacscore predict`` does, the anatomy rules WITHOUT the
mitral-annulus rule, so that every model's "before" is what it said before the rule), and caches per patient: the
candidate features, anatomy columns, chest-wall distances and structures (enough to classify them again with any
model and any rule set), their Agatston, their true vessel (the release's label volume) and their look-alike kind (the
release's anatomy label volume: ``mitral_annulus`` where its MAC label covers a quarter of the candidate's voxels, as
bench/lesion_lookalikes.py tags them).

``report`` prints, per model: the AU of MAC candidates called coronary with the rule off / on, the coronary AU each
vessel loses to the rule on the phantom patients (development ids <= --split, confirmation ids > --split), the hybrid
cases' inserted AU found per vessel before / after (from bench/hybrid_cases.py's plaques.csv: the rule's verdict on the
columns it stored; the class of a candidate the rule does not fire on is unchanged), and with --lidc the LIDC totals
of every model with the rule off / on. ``picture``: axial slices with the pericardial mask and the rule's region.
``mlp``: two MLPs trained on one cached release, with and without the depth + sector columns, scored on the others.
The rule is off by default (cacscore.lesion.anatomy.AnatomyRules); everything here switches it on.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from cacscore.core.vessels import VESSELS
from cacscore.io.ct import read_ct, read_labels
from cacscore.lesion import anatomy as A
from cacscore.lesion import classifier as C
from cacscore.lesion.candidates import candidate_targets
from cacscore.predict.predictors import DEFAULT_MODEL
from id_ranges import id_range  # noqa: E402 - bench/ is on sys.path (run as a script, or the tests put it there)

MODELS = {"shipped": str(DEFAULT_MODEL), "phantom": "/work/runs/wt18a/models/phantom",
          "loso_0002": "/work/runs/wt18a/models/loso_lidc-idri-0002", "all3": "/work/runs/wt18a/all3_model"}
KIND_NAMES = ("coronary", "mitral_annulus", "aortic_valve", "lymph_node", "other")


ON = dataclasses.replace(A.AnatomyRules(), mitral_annulus=True)
"""The default anatomy rules with the mitral-annulus rule on (it is off by default)."""


def rule_set(on: bool) -> A.AnatomyRules:
    """The default anatomy rules with the mitral-annulus rule on or off."""
    return dataclasses.replace(A.AnatomyRules(), mitral_annulus=on)


@contextlib.contextmanager
def mac_rule(on: bool):
    """LesionModel.may_be_coronary reads cacscore.lesion.classifier.anatomy_verdicts with the default rules; inside
    this block it reads them with the mitral-annulus rule on / off (the bench's before and after)."""
    orig = C.anatomy_verdicts
    C.anatomy_verdicts = lambda cols, rules=None: orig(cols, rule_set(on))
    try:
        yield
    finally:
        C.anatomy_verdicts = orig


def _models(specs: list[str] | None) -> dict[str, C.LesionModel]:
    pairs = dict(s.split("=", 1) for s in specs) if specs else MODELS
    return {n: C.load_model(Path(p)) for n, p in pairs.items()}


def candidate_kinds(ids: np.ndarray, alab: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(n,) index into KIND_NAMES: coronary (a true vessel), else the look-alike label covering a quarter of the
    candidate's voxels (the phantom paints calcium blobs at quarter coverage), else other."""
    from cacscore.phantom.anatomy import LABEL

    n = len(targets)
    sel = ids > 0
    tab = np.bincount(ids[sel].astype(np.int64) * 256 + alab[sel], minlength=(n + 1) * 256).reshape(n + 1, 256)[1:]
    out = np.full(n, KIND_NAMES.index("other"))
    for kind, lab in (("mitral_annulus", "mitral_annulus_calcium"), ("aortic_valve", "aortic_valve_calcium"),
                      ("lymph_node", "lymph_node")):
        out[tab[:, LABEL[lab]] >= 0.25 * tab.sum(1)] = KIND_NAMES.index(kind)
    out[targets > 0] = 0
    return out


def collect_one(release: Path, pid: str, models: dict[str, C.LesionModel], cache: Path) -> Path:
    path = cache / f"{release.name}_{pid}.npz"
    if path.is_file():
        return path
    vol = read_ct(release / "deidentified_nongated" / pid / pid)
    sp = (abs(float(vol.spacing_mm[0])), *(float(s) for s in vol.spacing_mm[1:]))
    labels = read_labels(release / "labels" / f"{pid}.nii.gz")
    alab = read_labels(release / "anatomy" / f"{pid}.nii.gz")
    ms = list(models.values())
    with mac_rule(False):  # context wherever any model, without the rule, lets a candidate through
        cand = C.anatomical_candidates(
            vol.hu, sp, threshold_hu=ms[0].threshold_hu, min_area_mm2=ms[0].min_area_mm2,
            context_where=lambda f, o, a: np.logical_or.reduce([m.may_be_coronary(f, o, a) for m in ms]))
    targets = candidate_targets(cand.ids, labels)
    kinds = candidate_kinds(cand.ids, alab.astype(np.int64), targets)
    zyx = np.argwhere(cand.ids > 0)
    cid = cand.ids[cand.ids > 0]
    cent = np.stack([np.bincount(cid, weights=zyx[:, i], minlength=cand.n + 1)[1:] for i in range(3)], 1) / \
        np.maximum(np.bincount(cid, minlength=cand.n + 1)[1:], 1)[:, None] * np.asarray(sp)
    a = cand.anatomy
    peri = np.argwhere(a.pericardium).mean(0) * a.grid_mm if a.pericardium.any() else np.full(3, np.nan)
    n = cand.n
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, features=cand.features, anatomy=cand.anatomy_columns,
             outside=cand.outside_thorax_mm if cand.outside_thorax_mm is not None else np.full(n, np.nan),
             structure=cand.structure if cand.structure is not None else np.arange(n),
             agatston=cand.agatston, targets=targets, kinds=kinds, centroid_mm=cent, spacing=np.asarray(sp),
             heart_mm=np.asarray(cand.heart_index, float) * np.asarray(sp), peri_centroid_mm=peri,
             root_mm=a.aortic_root_mm, apex_mm=a.apex_mm, frame=a.frame,
             root_conf=np.array(a.parts["root"].confidence), peri_conf=np.array(a.parts["pericardium"].confidence))
    tmp.replace(path)
    return path


def load_cache(cache: Path, release: str | None = None) -> dict[str, dict]:
    out = {}
    for f in sorted(cache.glob("*.npz")):
        if f.name.endswith(".tmp.npz") or (release and not f.name.startswith(release + "_")):
            continue
        with np.load(f, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
        if d["anatomy"].shape[1] == A.ANATOMY_NAMES.index("sac_above_mm"):  # collected before the sac columns
            sac = d["centroid_mm"] - d["peri_centroid_mm"]
            sac[np.isnan(d["anatomy"][:, 0])] = np.nan
            d["anatomy"] = np.concatenate([d["anatomy"], sac], axis=1)
        missing = len(A.ANATOMY_NAMES) - d["anatomy"].shape[1]
        if missing > 0:  # collected before the contrast-lumen columns (session 12): not measured, nan
            d["anatomy"] = np.concatenate([d["anatomy"], np.full((len(d["anatomy"]), missing), np.nan)], axis=1)
        out[f.stem] = d
    return out


def classes_of(model: C.LesionModel, d: dict, on: bool) -> np.ndarray:
    with mac_rule(on):
        return model.classify(d["features"], d["outside"], d["anatomy"], d["structure"])


# ------------------------------------------------------------------ report
def phantom_table(cache: Path, models: dict[str, C.LesionModel]) -> pd.DataFrame:
    """One row per cached candidate that is coronary, a look-alike, or called coronary by a model with the rule off:
    release, patient, kind, true vessel, AU, the rule's columns, and per model its class before / after."""
    rows = []
    for key, d in load_cache(cache).items():
        rel, pid = key.rsplit("_", 1)
        df = pd.DataFrame(d["anatomy"], columns=A.ANATOMY_NAMES)
        df["release"], df["pid"] = rel, int(pid)
        df["kind"] = [KIND_NAMES[k] for k in d["kinds"]]
        df["vessel"] = [("-", *VESSELS)[k] for k in d["targets"]]
        df["au"] = d["agatston"]
        df["fires"] = A.mitral_annulus_verdict(d["anatomy"], ON)
        for n, m in models.items():
            df[f"before_{n}"], df[f"after_{n}"] = classes_of(m, d, False), classes_of(m, d, True)
        called = df[[f"before_{n}" for n in models]].max(axis=1) > 0
        rows.append(df[(df["kind"] != "other") | called])
    return pd.concat(rows, ignore_index=True)


def phantom_report(t: pd.DataFrame, models: list[str], split: int) -> None:
    for part, sel in (("development: ph41 (all) + heldout_9101 ids <= split", (t["release"] == "ph41")
                       | ((t["release"] == "heldout_9101_512_60") & (t["pid"] <= split))),
                      ("confirmation: heldout_9101 ids > split", (t["release"] == "heldout_9101_512_60")
                       & (t["pid"] > split)),
                      ("confirmation: other releases", ~t["release"].isin(["ph41", "heldout_9101_512_60"]))):
        d = t[sel]
        if d.empty:
            continue
        mac, cor = d["kind"] == "mitral_annulus", d["kind"] == "coronary"
        print(f"\n### {part}: {d['release'].nunique()} release(s), {d[['release', 'pid']].drop_duplicates().shape[0]} "
              f"patients with candidates, {d.loc[mac, ['release', 'pid']].drop_duplicates().shape[0]} with MAC "
              f"candidates ({mac.sum()}, {d.au[mac].sum():.0f} AU); the rule fires on {(mac & d.fires).sum()} MAC "
              f"candidates ({d.au[mac & d.fires].sum():.0f} AU) and {(cor & d.fires).sum()} coronary ones "
              f"({d.au[cor & d.fires].sum():.1f} AU)\n")
        print("| model | MAC AU called coronary: before -> after | as LCA / LAD / LCX / RCA before | coronary AU found "
              "(right vessel) before -> after | coronary AU lost to the rule, LCA / LAD / LCX / RCA |")
        print("| --- | ---: | --- | ---: | --- |")
        for m in models:
            b, a = d[f"before_{m}"], d[f"after_{m}"]
            mac_b, mac_a = d.au[mac & (b > 0)].sum(), d.au[mac & (a > 0)].sum()
            as_v = " / ".join(f"{d.au[mac & (b == k + 1)].sum():.0f}" for k in range(4))
            right_b = d.au[cor & (b == d["vessel"].map({v: k + 1 for k, v in enumerate(VESSELS)}))].sum()
            right_a = d.au[cor & (a == d["vessel"].map({v: k + 1 for k, v in enumerate(VESSELS)}))].sum()
            lost = " / ".join(f"{d.au[cor & (b > 0) & (a == 0) & (d['vessel'] == v)].sum():.1f}" for v in VESSELS)
            print(f"| {m} | {mac_b:,.0f} -> **{mac_a:,.0f}** | {as_v} | {right_b:,.0f} -> {right_a:,.0f} | {lost} |")


def hybrid_report(evals: list[Path], data: Path) -> None:
    """The inserted AU found per vessel (right vessel) by each model of bench/hybrid_cases.py's plaques.csv, before
    and after the rule: a candidate the rule fires on is non-coronary after; the others keep their class."""
    import hybrid_training as HT

    pl = pd.concat([pd.read_csv(e / "plaques.csv") for e in evals], ignore_index=True)
    if "sac_above_mm" not in pl:  # written before the sac columns: measured from today's pericardial mask
        for s in pl["series"].unique():
            vol = read_ct(data / s)
            sp = tuple(abs(float(v)) for v in vol.spacing_mm)
            from cacscore.chest.anatomy import read_chest

            c = A.sac_centroid_mm(read_chest(vol.hu, sp))
            at = pl["series"] == s
            for j, k in enumerate(("sac_above_mm", "sac_behind_mm", "sac_left_mm")):
                pl.loc[at, k] = pl.loc[at, ("z_mm", "y_mm", "x_mm")[j]] - c[j]
        pl.loc[pl["pericardium_mm"].isna(), ["sac_above_mm", "sac_behind_mm", "sac_left_mm"]] = np.nan
    cols = np.full((len(pl), len(A.ANATOMY_NAMES)), np.nan)
    for j, k in enumerate(A.ANATOMY_NAMES):
        if k in pl:
            cols[:, j] = pl[k].to_numpy(float)
    pl["fires"] = A.mitral_annulus_verdict(cols, ON)
    pl["right"] = pl["class"] == pl["truth_vessel"]
    crux = HT.crux_arcs(data, sorted(pl["series"].unique()), HT.LANDMARKS)
    pl["segment"] = [HT.segment(r, crux) for r in pl.itertuples()]
    print(f"\n### hybrids ({', '.join(str(e) for e in evals)}): {pl[pl.model == pl.model.iloc[0]].shape[0]} plaque "
          f"candidates of model {pl.model.iloc[0]}; the rule fires on {pl[pl.model == pl.model.iloc[0]].fires.sum()} "
          f"({pl[(pl.model == pl.model.iloc[0]) & pl.fires].au.sum():.1f} AU)\n")
    print("| model (series) | inserted AU found, right vessel, LCA / LAD / LCX / RCA: before | after |")
    print("| --- | --- | --- |")
    for (m, s), g in pl.groupby(["model", "series"]):
        before = " / ".join(f"{g.au[g.right & (g.truth_vessel == v)].sum():.0f}" for v in VESSELS)
        after = " / ".join(f"{g.au[g.right & ~g.fires & (g.truth_vessel == v)].sum():.0f}" for v in VESSELS)
        print(f"| {m} ({s}) | {before} | {after} |")
    one = pl[pl.model == pl.model.iloc[0]].assign(fired_au=lambda x: x["au"].where(x["fires"], 0.0))
    seg = one.groupby("segment").agg(n=("au", "size"), au=("au", "sum"), deepest_mm=("pericardium_mm", "min"),
                                     fired_au=("fired_au", "sum"))
    print("\nby segment (every model's plaque candidates are the same): candidates, AU, deepest pericardium_mm, AU the "
          "rule fires on\n")
    print(seg.round(1).to_string())


def lidc_report(data: Path, models: dict[str, C.LesionModel]) -> None:
    """Total AU each model calls coronary on the three un-modified LIDC series, rule off -> on: the candidates found
    once (bench/hybrid_cases.py's classify_many, rule off: context wherever a model lets one through), then each
    model's classes both ways."""
    from hybrid_cases import classify_many

    print("\n### LIDC, total AU called coronary (rule off -> on)\n")
    for s in ("lidc-idri-0001", "lidc-idri-0002", "lidc-idri-0003"):
        vol = read_ct(data / s)
        sp = tuple(abs(float(v)) for v in vol.spacing_mm)
        with mac_rule(False):
            cand, _ = classify_many(vol.hu, sp, models)
        d = {"features": cand.features, "outside": cand.outside_thorax_mm, "anatomy": cand.anatomy_columns,
             "structure": cand.structure}
        fired = A.mitral_annulus_verdict(cand.anatomy_columns, ON)
        out = [f"{n} {cand.agatston[classes_of(m, d, False) > 0].sum():.1f} -> "
               f"{cand.agatston[classes_of(m, d, True) > 0].sum():.1f}" for n, m in models.items()]
        print(f"- {s}: " + "; ".join(out) + f" (the rule fires on {fired.sum()} of {cand.n} candidates, "
              f"{cand.agatston[fired].sum():.1f} AU)", flush=True)


# ------------------------------------------------------------------ the columns as MLP inputs
SAC_INPUTS = ("pericardium_mm", "sac_above_mm", "sac_behind_mm", "sac_left_mm")


def mlp_columns(cache: Path, train_release: str, models: dict[str, C.LesionModel], out: Path) -> None:
    """Does the MLP learn MAC from depth + sector? Two MLPs with lesion-train's default settings on the cached
    candidates of ``train_release`` (the rows with tissue context: some model's rules, the MAC rule off, let them
    through), the candidate features alone and + SAC_INPUTS; each scores every other cached release (MAC rule off).
    Prints per release: MAC AU called coronary, coronary AU found in the right vessel, other AU called coronary."""
    from hybrid_training import LESION_TRAIN_DEFAULTS

    from cacscore.lesion.classifier import (
        FEATURE_NAMES,
        feature_table,
        save_model,
        train_classifier,
    )

    data = load_cache(cache)
    for name, extra in (("candidate", ()), ("candidate+sac", SAC_INPUTS)):
        cfg = dataclasses.replace(LESION_TRAIN_DEFAULTS, features=(*FEATURE_NAMES, *extra))
        xs, ys = [], []
        for key, d in data.items():
            if key.rsplit("_", 1)[0] != train_release:
                continue
            with mac_rule(False):
                r = np.logical_or.reduce([m.may_be_coronary(d["features"], d["outside"], d["anatomy"])
                                          for m in models.values()])
            xs.append(feature_table(d["features"][r], d["anatomy"][r], cfg.feature_names))
            ys.append(d["targets"][r])
        model = train_classifier(np.concatenate(xs).astype(np.float32), np.concatenate(ys), config=cfg,
                                 threshold_hu=130.0, min_area_mm2=1.0)
        save_model(model, out / name.replace("+", "_"))
        rows = []
        for key, d in data.items():
            rel = key.rsplit("_", 1)[0]
            if rel == train_release:
                continue
            c = classes_of(model, d, False)
            mac, cor = d["kinds"] == KIND_NAMES.index("mitral_annulus"), d["targets"] > 0
            rows.append({"release": rel, "MAC called": d["agatston"][mac & (c > 0)].sum(),
                         **{f"right {v}": d["agatston"][cor & (c == d["targets"]) & (d["targets"] == i + 1)].sum()
                            for i, v in enumerate(VESSELS)},
                         "other called": d["agatston"][~cor & ~mac & (c > 0)].sum()})
        print(f"\n{name} ({len(cfg.feature_names)} inputs, trained on {train_release}):\n"
              + pd.DataFrame(rows).groupby("release").sum().round(0).to_string(), flush=True)


# ------------------------------------------------------------------ pictures
def rule_region(anatomy) -> np.ndarray:
    """Coarse bool mask: where the mitral-annulus rule fires on the found anatomy (a candidate there is non-coronary)."""
    from cacscore.chest.anatomy import signed_distance

    gm = anatomy.grid_mm
    grid = np.indices(anatomy.pericardium.shape).reshape(3, -1).T * gm
    cols = np.full((len(grid), len(A.ANATOMY_NAMES)), np.nan)
    cols[:, 0] = signed_distance(anatomy.pericardium, gm).ravel()
    cols[:, 11:14] = grid - A.sac_centroid_mm(anatomy)
    return A.mitral_annulus_verdict(cols, ON).reshape(anatomy.pericardium.shape)


def _slice_panel(ax, hu, sp, anatomy, region, z_mm, title, centre_yx=None, half_mm=85.0) -> None:
    k = round(z_mm / sp[0])
    kc = int(np.clip(np.rint(z_mm / anatomy.grid_mm[0]), 0, anatomy.pericardium.shape[0] - 1))
    ext = (0, hu.shape[2] * sp[2], hu.shape[1] * sp[1], 0)
    ax.imshow(hu[k], cmap="gray", vmin=-250, vmax=450, extent=ext)
    yy = np.arange(anatomy.pericardium.shape[1]) * anatomy.grid_mm[1]
    xx = np.arange(anatomy.pericardium.shape[2]) * anatomy.grid_mm[2]
    if anatomy.pericardium[kc].any():
        ax.contour(xx, yy, anatomy.pericardium[kc].astype(float), [0.5], colors="lime", linewidths=1.2)
    if region[kc].any():
        ax.contourf(xx, yy, region[kc].astype(float), [0.5, 1.5], colors="orange", alpha=0.3)
        ax.contour(xx, yy, region[kc].astype(float), [0.5], colors="orange", linewidths=1.0)
    c = A.sac_centroid_mm(anatomy)
    ax.plot(c[2], c[1], "y+", ms=14, mew=2)
    cy, cx = (c[1], c[2]) if centre_yx is None else centre_yx
    ax.set_xlim(cx - half_mm, cx + half_mm)
    ax.set_ylim(cy + half_mm, cy - half_mm)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([]), ax.set_yticks([])


def phantom_picture(panels: list[tuple[Path, str, float]], cache: Path, out: Path) -> None:
    """Axial slices (release, patient, z mm) of phantom patients: the pericardial mask (green), the rule's region
    (orange), the sac centroid (yellow +), candidates within half a slice: MAC (red), LCX (blue), RCA (green), LCA
    (magenta), LAD (cyan); a white ring where the rule (switched on) fires."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cacscore.chest.anatomy import read_chest

    colour = {"mitral_annulus": "red", 1: "magenta", 2: "cyan", 3: "blue", 4: "green"}
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 5.8))
    read: dict[tuple[Path, str], tuple] = {}
    for ax, (release, pid, z) in zip(np.atleast_1d(axes), panels):
        if (release, pid) not in read:
            vol = read_ct(release / "deidentified_nongated" / pid / pid)
            sp = (abs(float(vol.spacing_mm[0])), *(float(s) for s in vol.spacing_mm[1:]))
            anatomy = read_chest(vol.hu, sp)
            read[release, pid] = (vol.hu, sp, anatomy, rule_region(anatomy),
                                  load_cache(cache, release.name)[f"{release.name}_{pid}"])
        hu, sp, anatomy, region, d = read[release, pid]
        fires = A.mitral_annulus_verdict(d["anatomy"], ON)
        _slice_panel(ax, hu, sp, anatomy, region, z, f"{release.name} patient {pid}, z {z:.0f} mm")
        near = np.abs(d["centroid_mm"][:, 0] - z) <= sp[0] / 2 + 1e-6
        for i in np.flatnonzero(near):
            kind = KIND_NAMES[d["kinds"][i]]
            col = colour.get("mitral_annulus" if kind == "mitral_annulus" else int(d["targets"][i]))
            if col is None:
                continue
            y, x = d["centroid_mm"][i, 1:]
            ax.plot(x, y, "o", ms=4, color=col)
            if fires[i]:
                ax.plot(x, y, "o", ms=11, mfc="none", mec="white", mew=1.2)
    fig.suptitle("mitral-annulus rule (switched on): pericardial mask (green), rule region (orange), sac centroid (+); "
                 "MAC red, LCX blue, RCA green, LCA magenta, LAD cyan; white ring = rule fires", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    print(f"picture: {out}")


def lidc_picture(data: Path, series: str, z_list: list[float], out: Path) -> None:
    """Slices of a real series: the pericardial mask, the rule's region and the eye-placed coronary anchors of
    docs/hybrid_landmarks.json within 4 mm of the slice (LCX blue, RCA green, LCA magenta, LAD cyan, crux white x)."""
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cacscore.chest.anatomy import read_chest

    vol = read_ct(data / series)
    sp = tuple(abs(float(v)) for v in vol.spacing_mm)
    anatomy = read_chest(vol.hu, sp)
    region = rule_region(anatomy)
    marks = json.loads((Path(__file__).resolve().parents[1] / "docs" / "hybrid_landmarks.json").read_text())[series]
    colour = {"LCA": "magenta", "LAD": "cyan", "LCX": "blue", "RCA": "green"}
    fig, axes = plt.subplots(1, len(z_list), figsize=(5.5 * len(z_list), 5.8))
    for ax, z in zip(np.atleast_1d(axes), z_list):
        _slice_panel(ax, vol.hu, sp, anatomy, region, z, f"{series}, z {z:.0f} mm")
        for v, pts in marks["courses"].items():
            p = np.asarray(pts, float)
            # the course between anchors, every 1 mm, where it crosses this slice
            seg = np.concatenate([np.linspace(a, b, max(int(np.linalg.norm(b - a)), 2)) for a, b in itertools.pairwise(p)])
            at = np.abs(seg[:, 0] - z) <= 2.0
            ax.plot(seg[at, 2], seg[at, 1], ".", ms=4, color=colour[v])
        cz, cy, cx = marks["crux"]
        if abs(cz - z) <= 6:
            ax.plot(cx, cy, "wx", ms=10, mew=2)
    fig.suptitle(f"{series}: pericardial mask (green), region of the mitral-annulus rule if switched on (orange), "
                 "sac centroid (+), eye-placed coronary courses (LCX blue, RCA green, LCA magenta, LAD cyan), crux (white x)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    print(f"picture: {out}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("release", type=Path)
    c.add_argument("--ids", required=True)
    c.add_argument("--cache", type=Path, required=True)
    c.add_argument("--model", nargs="+")
    r = sub.add_parser("report")
    r.add_argument("--cache", type=Path, required=True, help="collect's folder (may be empty: no phantom tables)")
    r.add_argument("--split", type=int, default=30, help="heldout_9101 ids <= this are development data")
    r.add_argument("--model", nargs="+")
    r.add_argument("--hybrids", type=Path, nargs="*", default=[])
    r.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    r.add_argument("--lidc", action="store_true")
    pp = sub.add_parser("picture")
    pp.add_argument("out", type=Path)
    pp.add_argument("--z", type=float, nargs="+", help="a real series' slice heights (mm from voxel 0)")
    pp.add_argument("--panel", nargs=3, action="append", metavar=("RELEASE", "PID", "Z"),
                    help="a phantom panel: release folder, patient, slice height (mm); repeat (needs --cache)")
    pp.add_argument("--cache", type=Path)
    pp.add_argument("--series", help="a real series under --data instead")
    pp.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ml = sub.add_parser("mlp")
    ml.add_argument("out", type=Path)
    ml.add_argument("--cache", type=Path, required=True)
    ml.add_argument("--train", default="ph41", help="the cached release to train on")
    ml.add_argument("--model", nargs="+", help="models whose rules pick the rows with tissue context")
    a = ap.parse_args(argv)
    if a.cmd == "mlp":
        mlp_columns(a.cache, a.train, _models(a.model), a.out)
        return 0
    if a.cmd == "picture":
        if a.series:
            lidc_picture(a.data, a.series, a.z, a.out)
        else:
            phantom_picture([(Path(r), p, float(z)) for r, p, z in a.panel], a.cache, a.out)
        return 0
    if a.cmd == "report":
        models = _models(a.model)
        if load_cache(a.cache):
            phantom_report(phantom_table(a.cache, models), list(models), a.split)
        if a.hybrids:
            hybrid_report(a.hybrids, a.data)
        if a.lidc:
            lidc_report(a.data, models)
        return 0
    if a.cmd == "collect":
        models = _models(a.model)
        for pid in map(str, id_range(a.ids)):
            collect_one(a.release, pid, models, a.cache)
            print(f"{a.release.name} {pid}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
