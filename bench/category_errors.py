"""Why the predicted risk category (0 / 1-99 / 100-399 / >=400 of the total) differs from the truth (session 17, wt25c).

    PYTHONPATH=src nice -n 10 python bench/category_errors.py scan RELEASE PRED.csv OUT [--model DIR] [--ids 1-60]
    PYTHONPATH=src python bench/category_errors.py table OUT [OUT ...]

scan: every patient of PRED.csv (``cacscore predict``'s or bench/voxel_split.py eval's per-vessel CSV) scored again
through the product's path (``lesion.classify_volume`` + ``vessel_labels`` with the model, default the shipped one;
the total is checked against PRED.csv) and each candidate (a per-slice component, ``Candidates.ids``) written to
OUT/cand_<pid>.csv (a rerun resumes): its reference class ``t`` (``candidate_targets`` on the phantom's coronary
labels), the final class ``c``, its Agatston ``au``, voxels, area, peak / mean HU, 3-D structure and its kind
(bench/lookalike_calls.candidate_kinds: coronary, a drawn look-alike, or the tissue under a noise speck); and per
patient to OUT/patients.csv: the static truth total T (what evaluation reads), the motion-blurred truth M
(truth.csv moving_*), the oracle O (the Agatston of the candidate voxels the phantom labels coronary: what a perfect
classifier of these candidates would score), the AU found (t > 0, c > 0), missed (t > 0, c = 0), called coronary
wrongly by kind, the predicted total P, the truth's noise sd and the image's own estimate
(``cacscore.lesion.noise.image_noise_hu``).

    PYTHONPATH=src python bench/category_errors.py floor OUT [OUT ...] --mean-k K ... [--area MM2 ...] [--base HU] [--picture PNG]

floor (session 20, wt28b): offline replay of the density floor (ClassifierConfig.noise_floor_mean_k,
``cacscore.lesion.noise.noise_floor_mean``) on scanned patients, for each K and area limit: a 3-D structure with a
coronary call, none of whose candidates covers more than MM2 and whose area-weighted mean HU is below base + K x the
image's noise estimate, loses its calls' AU. Exact for the total as long as MM2 stays under the voxel split's 10
mm^2 (the split relabels only larger candidates). Per setting: kappa4 of the total against the static truth, patients
in another category, zero-truth patients called calcified, patients with calcium called 0, and the AU removed that
the phantom labels coronary (true) or not (specks, look-alikes).

table: the patients whose category differs, each with its reason, as markdown on stdout, and per reason the
count and AU. Reasons, first that applies: "speck" (a noise speck's AU called coronary moves the category), "non-coronary
calcium" (a look-alike's AU), "motion" (the motion-blurred truth M is already in the predicted category), "invisible"
(O's category is P's and T's is not: the calcium is under threshold in the image), "missed" (candidates of true
calcium called non-coronary), "measure" (the rest: noise and partial volume on true calcium).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).parent))
from id_ranges import id_range  # noqa: E402
from lookalike_calls import KINDS, candidate_kinds  # noqa: E402

from cacscore import lesion as L  # noqa: E402
from cacscore.core.categories import risk_category4  # noqa: E402
from cacscore.core.vessels import VESSELS  # noqa: E402
from cacscore.io.ct import read_ct, read_labels  # noqa: E402
from cacscore.lesion.noise import image_noise_hu  # noqa: E402
from cacscore.scoring.agatston import agatston  # noqa: E402

V = list(VESSELS)


def scan_patient(release: Path, pid: str, model: L.LesionModel) -> tuple[pd.DataFrame, dict]:
    vol = read_ct(release / "deidentified_nongated" / pid / pid)
    sp = tuple(abs(float(s)) for s in vol.spacing_mm)
    hu = vol.hu
    cand, classes = L.classify_volume(hu, sp, model)
    lab = L.vessel_labels(hu, cand, classes, model)
    pred = agatston(hu, lab, pixel_spacing_mm=(sp[1], sp[2]), slice_spacing_mm=sp[0]).per_vessel
    cor = read_labels(release / "labels" / f"{pid}.nii.gz")
    anat = read_labels(release / "anatomy" / f"{pid}.nii.gz")
    t = L.candidate_targets(cand.ids, cor)
    kinds = candidate_kinds(cand.ids, cand.n, cor, anat, sp)
    oracle = agatston(hu, np.where(cand.ids > 0, cor, 0).astype(np.uint8), pixel_spacing_mm=(sp[1], sp[2]),
                      slice_spacing_mm=sp[0]).per_vessel
    f = cand.features
    col = {n: f[:, L.FEATURE_NAMES.index(n)] for n in ("log_area_mm2", "peak_hu", "mean_hu", "n_slices3d",
                                                      "log_area3d_max_mm2", "dist_mm")}
    z = np.zeros(cand.n, np.int64)
    for j, box in enumerate(ndimage.find_objects(cand.ids)):
        if box is not None:
            z[j] = box[0].start
    df = pd.DataFrame({"pid": pid, "j": np.arange(cand.n), "z": z, "t": t, "c": classes, "au": cand.agatston,
                       "area_mm2": np.expm1(col["log_area_mm2"]), "peak_hu": col["peak_hu"],
                       "mean_hu": col["mean_hu"], "n_slices3d": col["n_slices3d"],
                       "area3d_max_mm2": np.expm1(col["log_area3d_max_mm2"]), "dist_mm": col["dist_mm"],
                       "structure": cand.structure if cand.structure is not None else -1,
                       "kind": [KINDS[k] for k in kinds]})
    row = {"pid": pid, "P": float(sum(pred[v] for v in V)), "O": float(sum(oracle[v] for v in V)),
           "noise_est": image_noise_hu(hu, sp), **{f"P_{v}": float(pred[v]) for v in V}}
    return df, row


def scan(release: Path, pred_csv: Path, out: Path, model_dir: Path, ids: str | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model = L.load_model(model_dir)
    pred = pd.read_csv(pred_csv, dtype={"id": str}).set_index("id")
    truth = pd.read_csv(release / "truth.csv", dtype={"id": str}).set_index("id")
    pids = [p for p in pred.index if ids is None or int(p) in set(id_range(ids))]
    rows = []
    for pid in pids:
        cpath, ppath = out / f"cand_{pid}.csv", out / f"patient_{pid}.csv"
        if not (cpath.exists() and ppath.exists()):
            df, row = scan_patient(release, pid, model)
            df.to_csv(cpath, index=False)
            pd.DataFrame([row]).to_csv(ppath, index=False)
        df = pd.read_csv(cpath, dtype={"pid": str})
        row = pd.read_csv(ppath, dtype={"pid": str}).iloc[0].to_dict()
        tr = truth.loc[pid]
        row.update({"T": float(tr[V].sum()), "M": float(sum(tr[f"moving_{v}"] for v in V)),
                    "csv_P": float(pred.loc[pid, V].sum()), "noise_sd": float(tr["noise_sigma_hu"]),
                    "slice_mm": float(tr["slice_thickness_mm"]), "kernel": tr["kernel"],
                    "kvp": float(tr["kvp"]) if "kvp" in tr.index else float("nan"),
                    "motion_mm": float(tr["motion_amplitude_mm"]),
                    "found": float(df.au[(df.t > 0) & (df.c > 0)].sum()),
                    "missed": float(df.au[(df.t > 0) & (df.c == 0)].sum())})
        fp = df[(df.t == 0) & (df.c > 0)]
        for k, g in fp.groupby("kind"):
            row[f"fp:{k}"] = float(g.au.sum())
        if abs(row["P"] - row["csv_P"]) > 0.05:
            print(f"WARNING {pid}: total {row['P']:.2f} here, {row['csv_P']:.2f} in {pred_csv}", flush=True)
        rows.append(row)
        print(f"{pid}: T {row['T']:.0f} M {row['M']:.0f} O {row['O']:.0f} P {row['P']:.0f} found {row['found']:.0f} "
              f"missed {row['missed']:.0f} fp {fp.au.sum():.0f} noise {row['noise_sd']:.0f}/{row['noise_est']:.0f}",
              flush=True)
    pd.DataFrame(rows).fillna(0.0).to_csv(out / "patients.csv", index=False)


SPECK_KINDS = ("heart, no calcium label", "other", "abdominal organs", "CT table")


def reason(r: pd.Series) -> str:
    cat = risk_category4
    T, P, M, O = cat(r["T"]), cat(max(r["P"], 0.0)), cat(r["M"]), cat(r["O"])
    fpk = {k[3:]: v for k, v in r.items() if str(k).startswith("fp:") and v > 0}
    speck = sum(v for k, v in fpk.items() if k in SPECK_KINDS)
    other = sum(v for k, v in fpk.items() if k not in SPECK_KINDS)
    if P > T and speck > 0 and cat(round(max(r["P"] - speck, 0.0), 2)) < P:  # rounded: a sum minus its parts is not exactly 0
        return "speck"
    if P > T and other > 0 and cat(round(max(r["P"] - other, 0.0), 2)) < P:
        return "non-coronary calcium"
    if M == P:
        return "motion"
    if O == P and O != T:
        return "invisible"
    if P < T and r["missed"] > 0 and cat(r["P"] + r["missed"]) > P:
        return "missed"
    return "measure"


def table(outs: list[Path]) -> None:
    rows = []
    for out in outs:
        p = pd.read_csv(out / "patients.csv", dtype={"pid": str})
        p["set"] = out.name
        rows.append(p)
    p = pd.concat(rows, ignore_index=True).fillna(0.0)
    p["cT"] = risk_category4(p["T"].to_numpy())
    p["cP"] = risk_category4(p["P"].clip(lower=0).to_numpy())
    bad = p[p.cT != p.cP].copy()
    bad["reason"] = [reason(r) for _, r in bad.iterrows()]
    fpcols = [c for c in p.columns if c.startswith("fp:")]
    print("| set | patient | true T | motion M | oracle O | predicted P | found | missed | called coronary wrongly "
          "(AU by kind) | noise sd (truth / image) | slice mm, kernel, kVp | reason |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- |")
    for _, r in bad.iterrows():
        fp = ", ".join(f"{c[3:]} {r[c]:.1f}" for c in fpcols if r[c] > 0) or "none"
        print(f"| {r['set']} | {r['pid']} | {r['T']:.1f} | {r['M']:.1f} | {r['O']:.1f} | {r['P']:.1f} | "
              f"{r['found']:.1f} | {r['missed']:.1f} | {fp} | {r['noise_sd']:.0f} / {r['noise_est']:.0f} | "
              f"{r['slice_mm']:g}, {r['kernel']}, {r.get('kvp', float('nan')):g} | {r['reason']} |")
    print()
    print("| reason | patients | AU of |P - T| |")
    print("| --- | ---: | ---: |")
    for k, g in bad.groupby("reason"):
        print(f"| {k} | {len(g)} | {float((g['P'] - g['T']).abs().sum()):.0f} |")
    print(f"\n{len(bad)} of {len(p)} patients in another category; all patients: speck AU called coronary "
          f"{float(p[[c for c in fpcols if c[3:] in SPECK_KINDS]].sum().sum()):.0f}, look-alike AU called coronary "
          f"{float(p[[c for c in fpcols if c[3:] not in SPECK_KINDS]].sum().sum()):.0f}")


def floor_replay(outs: list[Path], ks: list[float], areas: list[float], base: float,
                 picture: Path | None = None) -> None:
    from cacscore.evaluation.metrics import weighted_kappa

    P, S = [], []
    for out in outs:
        pat = pd.read_csv(out / "patients.csv", dtype={"pid": str})
        for _, r in pat.iterrows():
            P.append({"set": out.name, "pid": r["pid"], "T": r["T"], "P": r["P"], "sd": r["noise_est"]})
            d = pd.read_csv(out / f"cand_{r['pid']}.csv")
            d = d[d.structure.isin(d.structure[d.c > 0].unique())].copy()
            if not len(d):
                continue
            d["w"] = d.area_mm2 * d.mean_hu
            g = d.groupby("structure").agg(amax=("area_mm2", "max"), area=("area_mm2", "sum"), w=("w", "sum"))
            g["smean"] = g.w / g.area
            c = d[d.c > 0]
            g = g.join(c.groupby("structure").au.sum().rename("au"), how="inner")
            g["tau"] = c[c.t > 0].groupby("structure").au.sum().reindex(g.index).fillna(0.0)
            g["set"], g["pid"], g["sd"] = out.name, r["pid"], r["noise_est"]
            S.append(g.reset_index())
    P, S = pd.DataFrame(P).set_index(["set", "pid"]), pd.concat(S, ignore_index=True)
    rows = []
    for area in areas:
        for k in [None, *ks]:
            drop = (S.amax <= area) & (S.smean < base + (k if k is not None else -np.inf) * S.sd)
            dd = S[drop].groupby(["set", "pid"]).agg(au=("au", "sum"), tau=("tau", "sum"))
            q = P.join(dd).fillna({"au": 0.0, "tau": 0.0})
            new = (q.P - q.au).clip(lower=0).round(6)  # rounded: a sum minus its parts is not exactly 0
            rows.append({"area_mm2": area, "mean_k": "off" if k is None else k,
                         "kappa4": round(weighted_kappa(q["T"], new), 4),
                         "wrong_category": int((risk_category4(q["T"].to_numpy()) != risk_category4(new.to_numpy())).sum()),
                         "zero_called_calcified": int(((q["T"] == 0) & (new > 0)).sum()),
                         "calcium_called_0": int(((q["T"] > 0) & (new <= 0)).sum()),
                         "AU_removed_not_coronary": round(float((dd.au - dd.tau).sum()), 1),
                         "AU_removed_true": round(float(dd.tau.sum()), 1),
                         "patients_losing_true_AU": int((dd.tau > 0).sum())})
    print(f"{len(P)} patients of {', '.join(o.name for o in outs)}; base {base:g} HU")
    if picture is not None:  # each called structure under 20 mm^2: its largest slice and its mean in noise sds
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        z = (S.smean - base) / S.sd
        true = S.tau > 0.5 * S.au
        fig, ax = plt.subplots(figsize=(7, 5))
        for m, lab, col in ((~true, "no coronary label (speck, look-alike)", "tab:red"),
                            (true, "coronary (the phantom's label)", "tab:blue")):
            sel = m & (S.amax <= 20)
            ax.scatter(S.amax[sel], z[sel], c=col, s=12 + 2 * S.sd[sel].clip(0, 70), alpha=0.6, label=lab)
        for k in ks:
            ax.axhline(k, color="grey", lw=0.8, ls=":")
        for a in areas:
            ax.axvline(a, color="grey", lw=0.8, ls="--")
        ax.set_xlabel("largest slice of the 3-D structure, mm^2")
        ax.set_ylabel(f"area-weighted mean HU - {base:g}, in image noise sds")
        ax.set_ylim(0, 12)
        ax.set_title(f"structures called coronary by the model, {len(P)} patients (marker size: noise sd)", fontsize=9)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(picture, dpi=110)
        print(f"picture: {picture}")
    t = pd.DataFrame(rows)
    print("| " + " | ".join(t.columns) + " |\n|" + " --- |" * len(t.columns))
    for _, r in t.iterrows():
        print("| " + " | ".join(str(v) for v in r) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("scan")
    s.add_argument("release", type=Path)
    s.add_argument("pred", type=Path)
    s.add_argument("out", type=Path)
    s.add_argument("--model", type=Path, default=Path(__file__).resolve().parents[1] / "src/cacscore/predict/default_model")
    s.add_argument("--ids", default=None)
    t = sub.add_parser("table")
    t.add_argument("outs", type=Path, nargs="+")
    f = sub.add_parser("floor")
    f.add_argument("outs", type=Path, nargs="+")
    f.add_argument("--mean-k", type=float, nargs="+", required=True)
    f.add_argument("--area", type=float, nargs="+", default=[8.0])
    f.add_argument("--base", type=float, default=40.0)
    f.add_argument("--picture", type=Path, default=None, help="PNG: each called structure's area and mean")
    a = ap.parse_args()
    if a.cmd == "scan":
        scan(a.release, a.pred, a.out, a.model, a.ids)
    elif a.cmd == "floor":
        floor_replay(a.outs, a.mean_k, a.area, a.base, a.picture)
    else:
        table(a.outs)


if __name__ == "__main__":
    main()
