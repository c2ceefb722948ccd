"""The structure vote's opt-in alternatives against the default, on one phantom release (session 16, wt24a).

The candidates of each patient are found once with MODEL (``classify_volume``: the product's path), then classified
again under each vote setting (MODES: the default count vote, the Agatston-weighted vote ``vote_weight="agatston"``,
the split at the bifurcation ``structure_split_p=P``, and references: no vote, and the count vote's coronary calls
given their true vessel), scored with ``score_assignment`` (scoring.agatston on the labels) and evaluated with
``cacscore evaluate`` against truth.csv. Writes OUT/cands.csv (one row per candidate the MLP may call coronary: its
structure, Agatston, MLP call and probability, true vessel and class under every mode), OUT/pred_<mode>.csv,
OUT/eval_<mode>/ and a summary (ratio all4, per-vessel ratio, kappa4, AU moved between vessels against the count vote,
the patients with the most AU moved).

    PYTHONPATH=src python bench/structure_vote_modes.py score RELEASE OUT [--model DIR] [--ids 1-60]
    PYTHONPATH=src python bench/structure_vote_modes.py summary OUT [--modes count agatston split80]
    PYTHONPATH=src python bench/structure_vote_modes.py picture RELEASE OUT PID MODE [--model DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from id_ranges import id_range  # noqa: E402

from cacscore import lesion as L  # noqa: E402
from cacscore.core.vessels import VESSELS  # noqa: E402
from cacscore.io.ct import read_ct, read_labels  # noqa: E402
from cacscore.lesion.candidates import score_assignment  # noqa: E402

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "src" / "cacscore" / "predict" / "default_model"

MODES: dict[str, dict] = {
    "count": {},  # the default: each coronary candidate votes once
    "agatston": {"vote_weight": "agatston"},
    "split50": {"structure_split_p": 0.5},
    "split70": {"structure_split_p": 0.7},
    "split80": {"structure_split_p": 0.8},
    "split90": {"structure_split_p": 0.9},
    "split95": {"structure_split_p": 0.95},
    "agatston_split90": {"vote_weight": "agatston", "structure_split_p": 0.9},
    "novote": {"structure_vote": False},  # reference: the MLP and the rules alone
}
ORACLE = "true_vessel"  # reference: the count vote's coronary calls with their true vessel (the vessel ceiling)


def _model(path: Path, overrides: dict) -> L.LesionModel:
    m = L.load_model(path)
    return dataclasses.replace(m, config=dataclasses.replace(m.config, **overrides))


def _slice_of(ids: np.ndarray, n: int) -> np.ndarray:
    """(n,) the axial slice of each candidate 1..n (a candidate is one lesion in one slice)."""
    z = np.full(n + 1, -1)
    for k in range(ids.shape[0]):
        z[np.unique(ids[k])] = k
    return z[1:]


def score(release: Path, out: Path, model_dir: Path, ids: list[str] | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    truth = pd.read_csv(release / "truth.csv", dtype={"id": str})
    pids = [str(i) for i in ids] if ids else sorted(truth["id"], key=int)
    models = {k: _model(model_dir, v) for k, v in MODES.items()}
    preds: dict[str, list] = {k: [] for k in [*MODES, ORACLE]}
    rows = []
    for pid in pids:
        vol = read_ct(release / "deidentified_nongated" / pid / pid)
        sp = tuple(abs(float(s)) for s in vol.spacing_mm)
        cand, _ = L.classify_volume(vol.hu, sp, models["count"])
        target = L.candidate_targets(cand.ids, read_labels(release / "labels" / f"{pid}.nii.gz"))
        base = models["count"]
        table = base.table(cand.features, cand.anatomy_columns)
        may = base.may_be_coronary(table, cand.outside_thorax_mm, cand.anatomy_columns)
        proba = base.predict_proba(table, where=may)
        classes = {k: m.classify(cand.features, cand.outside_thorax_mm, cand.anatomy_columns, cand.structure,
                                 cand.agatston) for k, m in models.items()}
        classes[ORACLE] = np.where((classes["count"] > 0) & (target > 0), target, classes["count"])
        for k, c in classes.items():
            s = score_assignment(vol.hu, cand, c)
            preds[k].append({"id": pid, **{v: s[v] for v in VESSELS}, "total": s["total"]})
        au = np.asarray(cand.agatston, float)
        keep = np.flatnonzero(may | (target > 0))
        mlp = np.argmax(proba, axis=1)
        rows.append(pd.DataFrame({"id": pid, "cand": keep, "structure": np.asarray(cand.structure)[keep],
                                  "au": au[keep], "mlp": mlp[keep], "p_mlp": proba[keep, mlp[keep]],
                                  **{f"p{j}": proba[keep, j] for j in range(5)}, "target": target[keep],
                                  "z": _slice_of(cand.ids, cand.n)[keep],
                                  **{f"cls_{k}": c[keep] for k, c in classes.items()}}))
        moved = {k: float(au[c != classes["count"]].sum()) for k, c in classes.items() if k != "count"}
        print(f"{pid}: total {preds['count'][-1]['total']:.0f}; AU moved vs count: "
              + ", ".join(f"{k} {v:.0f}" for k, v in moved.items() if v), flush=True)
    pd.concat(rows).to_csv(out / "cands.csv", index=False)
    truth[truth["id"].isin(pids)].to_csv(out / "truth.csv", index=False)
    for k, r in preds.items():
        pd.DataFrame(r).to_csv(out / f"pred_{k}.csv", index=False)
        subprocess.run([sys.executable, "-m", "cacscore.cli", "evaluate", str(out / f"pred_{k}.csv"),
                        str(out / "truth.csv"), "--out", str(out / f"eval_{k}"), "--bootstrap", "200", "--seed", "0"],
                       check=True, stdout=subprocess.DEVNULL)
    summary(out, [*MODES, ORACLE])


def metrics_row(out: Path, mode: str) -> dict:
    m = pd.read_csv(out / f"eval_{mode}" / "metrics.csv")
    nm = m[m["metric"] == "mse_norm"].set_index("vessel")
    row = {"mode": mode, "ratio4": nm.loc["all4", "baseline"] / nm.loc["all4", "value"]}
    with np.errstate(divide="ignore", invalid="ignore"):  # a vessel with no calcium in truth or prediction: nan
        for v in VESSELS:
            row[f"ratio_{v}"] = np.float64(nm.loc[v, "baseline"]) / np.float64(nm.loc[v, "value"])
    k = m[(m["vessel"] == "total") & (m["metric"] == "kappa4")].iloc[0]
    row["kappa4"] = k["value"]
    row["kappa4_ci"] = f"[{k['ci_low']:.3f}, {k['ci_high']:.3f}]"
    return row


def summary(out: Path, modes: list[str]) -> None:
    tab = pd.DataFrame([metrics_row(out, k) for k in modes])
    c = pd.read_csv(out / "cands.csv", dtype={"id": str})
    moved = []
    for k in modes:
        ch = c[c[f"cls_{k}"] != c["cls_count"]]
        right = ch[ch[f"cls_{k}"] == ch["target"]]["au"].sum()
        wrong_before = ch[ch["cls_count"] == ch["target"]]["au"].sum()
        moved.append({"mode": k, "AU_moved": ch["au"].sum(), "to_true_vessel": right, "from_true_vessel": wrong_before,
                      "patients": ch["id"].nunique()})
    tab = tab.merge(pd.DataFrame(moved), on="mode")
    pd.set_option("display.width", 250)
    print(tab.round(3).to_string(index=False))
    tab.to_csv(out / "summary.csv", index=False)
    names = ("non", *VESSELS)
    for k in modes:
        if k == "count":
            continue
        ch = c[c[f"cls_{k}"] != c["cls_count"]]
        if not len(ch):
            continue
        pairs = ch.groupby(["cls_count", f"cls_{k}"])["au"].sum().sort_values(ascending=False)
        print(f"\n{k}: AU moved (count -> {k}): " + ", ".join(f"{names[a]}->{names[b]} {v:.0f}"
                                                        for (a, b), v in pairs.items()))
        per = ch.groupby("id")["au"].sum().sort_values(ascending=False).head(5)
        truth = pd.read_csv(out / "truth.csv", dtype={"id": str}).set_index("id")
        pc = pd.read_csv(out / "pred_count.csv", dtype={"id": str}).set_index("id")
        pk = pd.read_csv(out / f"pred_{k}.csv", dtype={"id": str}).set_index("id")
        for pid, au in per.items():
            print(f"  patient {pid}: {au:.0f} AU moved; truth / count / {k}: "
                  + "; ".join(f"{v} {truth.loc[pid, v]:.0f}/{pc.loc[pid, v]:.0f}/{pk.loc[pid, v]:.0f}"
                              for v in VESSELS))


def picture(release: Path, out: Path, pid: str, mode: str, model_dir: Path) -> Path:
    """OUT/change_<pid>_<mode>.png: the 3-D structure of the largest candidate whose class differs between the count
    vote and MODE, slice by slice (at most six, spread over it, that candidate's among them): columns = count vote,
    MODE, the phantom's voxel labels at the candidates' voxels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    from cacscore.lesion.report import NON_CORONARY_COLOUR, VESSEL_COLOURS

    c = pd.read_csv(out / "cands.csv", dtype={"id": str})
    c = c[(c["id"] == pid) & (c[f"cls_{mode}"] != c["cls_count"])].sort_values("au", ascending=False)
    if not len(c):
        raise SystemExit(f"patient {pid}: no candidate changed under {mode}")
    vol = read_ct(release / "deidentified_nongated" / pid / pid)
    sp = tuple(abs(float(s)) for s in vol.spacing_mm)
    m = _model(model_dir, MODES.get(mode, {}))
    cand, _ = L.classify_volume(vol.hu, sp, m)
    labels = read_labels(release / "labels" / f"{pid}.nii.gz")
    all_c = pd.read_csv(out / "cands.csv", dtype={"id": str})
    all_c = all_c[all_c["id"] == pid]
    top = c.iloc[0]
    st = all_c[all_c["structure"] == top["structure"]]
    at = np.argwhere(np.isin(cand.ids, st["cand"].to_numpy() + 1))
    zs = sorted(set(at[:, 0].tolist()))
    if len(zs) > 6:  # six slices spread over the structure, the changed candidate's own slice among them
        pick = {zs[int(i)] for i in np.linspace(0, len(zs) - 1, 5).round()} | {int(top["z"])}
        zs = sorted(pick)
    cy, cx = at[:, 1].mean(), at[:, 2].mean()
    half = int(round(30.0 / sp[1]))
    y0, x0 = max(int(cy) - half, 0), max(int(cx) - half, 0)
    cmap = ListedColormap([NON_CORONARY_COLOUR, *[VESSEL_COLOURS[v] for v in VESSELS]])
    fig, axes = plt.subplots(len(zs), 3, figsize=(9, 3 * len(zs)), squeeze=False)
    for r, z in enumerate(zs):
        img = vol.hu[z, y0:y0 + 2 * half, x0:x0 + 2 * half]
        ids = cand.ids[z, y0:y0 + 2 * half, x0:x0 + 2 * half]
        for col, (title, cls) in enumerate((("count vote", "cls_count"), (mode, f"cls_{mode}"))):
            lut = np.full(cand.n + 1, -1)
            lut[all_c["cand"].to_numpy() + 1] = all_c[cls].to_numpy()
            call = np.where(ids > 0, lut[ids], -1)
            ax = axes[r, col]
            ax.imshow(img, cmap="gray", vmin=-200, vmax=800)
            ax.imshow(np.ma.masked_less(call, 0), cmap=cmap, vmin=0, vmax=4, alpha=0.8, interpolation="nearest")
            ax.set_title(f"z {z}: {title}", fontsize=8)
            for _, row in all_c[(all_c["z"] == z) & (all_c["structure"] == top["structure"])].iterrows():
                yx = np.argwhere(cand.ids[z] == row["cand"] + 1).mean(0)
                ax.text(yx[1] - x0 + 3, yx[0] - y0, f"{row['au']:.0f} AU\np{int(row['mlp'])}={row['p_mlp']:.2f}",
                        color="white", fontsize=6)
        lab = labels[z, y0:y0 + 2 * half, x0:x0 + 2 * half].astype(int)
        axes[r, 2].imshow(img, cmap="gray", vmin=-200, vmax=800)
        axes[r, 2].imshow(np.ma.masked_less_equal(np.where(ids > 0, lab, 0), 0), cmap=cmap, vmin=0, vmax=4,
                          alpha=0.8, interpolation="nearest")
        axes[r, 2].set_title(f"z {z}: phantom labels", fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle(f"patient {pid}, structure {top['structure']}; colours: non-coronary and "
                 + ", ".join(VESSELS) + " as in the report; text: AU, MLP class (1..4 = LCA..RCA) and its p",
                 fontsize=8)
    fig.tight_layout()
    path = out / f"change_{pid}_{mode}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    print(path)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("score")
    s.add_argument("release", type=Path)
    s.add_argument("out", type=Path)
    s.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    s.add_argument("--ids", default=None, help="patient ids, e.g. 1-60 (default: all of truth.csv)")
    m = sub.add_parser("summary")
    m.add_argument("out", type=Path)
    m.add_argument("--modes", nargs="+", default=[*MODES, ORACLE])
    p = sub.add_parser("picture")
    p.add_argument("release", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("pid")
    p.add_argument("mode")
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    a = ap.parse_args(argv)
    if a.cmd == "score":
        score(a.release, a.out, a.model, id_range(a.ids) if a.ids else None)
    elif a.cmd == "summary":
        summary(a.out, a.modes)
    else:
        picture(a.release, a.out, a.pid, a.mode, a.model)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
