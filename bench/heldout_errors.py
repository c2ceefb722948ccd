"""The largest per-vessel errors of a model on held-out phantom patients, and why (issue 16).

From ``cacscore predict``'s CSV and the release's truth.csv: the N largest |predicted - true| per (patient, vessel).
For each, the scan is scored again (``cacscore.lesion.classify_volume``, the product's path: with the current code,
so a scoring change shows here without a new CSV) and its candidates compared with the phantom's voxel labels: the
calcium that went to another vessel, was missed, or was called coronary wrongly, largest first, with its kind
(e.g. "LAD->LCA", "missed LCX", "false positive LAD"), its size (AU, voxels, extent in mm), how far it lies from the
phantom's left ostium (the LCA label voxel nearest the lowest 5 mm of the ascending aorta) and whether its voxels carry
more than one vessel label (a plaque across the bifurcation). A picture per error of the slice of its largest wrong
candidate, OUT/error_<rank>_<pid>_<vessel>.png: left the product's call of each candidate (fill), right the phantom's
voxel labels of the calcium (the reference), both on the same 60 mm crop. A markdown table goes to stdout.

    PYTHONPATH=src python bench/heldout_errors.py RELEASE PRED.csv MODEL OUT [--n 10] [--ids 1-60] [--by norm|au] [--no-left-main-guard]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from vessel_tree_cache import ostium_mm, true_root_mm  # noqa: E402

from cacscore import lesion as L  # noqa: E402
from cacscore.core.vessels import VESSELS  # noqa: E402
from cacscore.io.ct import read_ct, read_labels  # noqa: E402
from cacscore.lesion.report import NON_CORONARY_COLOUR, VESSEL_COLOURS  # noqa: E402
from cacscore.phantom.anatomy import ANATOMY_LABELS  # noqa: E402

NAMES = ("non-coronary", *VESSELS)
CALCIUM_KINDS = [k for k, v in ANATOMY_LABELS.items() if v.endswith("calcium") or v in ("lymph_node", "lung_granuloma")]
CMAP = ListedColormap(["none", NON_CORONARY_COLOUR, *VESSEL_COLOURS.values()])  # 0 nothing, 1 non-coronary, 2.. LCA..


def largest(pred: pd.DataFrame, truth: pd.DataFrame, n: int, ids: set[str] | None = None, by: str = "norm"
            ) -> list[tuple[str, str, float, float, float]]:
    """The n largest (patient, vessel, true, predicted, share) errors. by="norm": by the error divided by the
    vessel's largest reference score over the patients, as ``cacscore evaluate``'s four-vessel normalised MSE (what
    the ratio reads); by="au": by the error in AU. share: the error's part of the four-vessel normalised MSE."""
    p = pred.set_index(pred["id"].astype(str))
    t = truth.set_index(truth["id"].astype(str))
    keep = [i for i in t.index if i in p.index and (ids is None or i in ids)]
    scale = {v: max(float(t.loc[keep, v].max()), 1.0) for v in VESSELS}
    rows = [(i, v, float(t.loc[i, v]), float(p.loc[i, v])) for i in keep for v in VESSELS]
    sq = {(i, v): ((pr - tr) / scale[v]) ** 2 for i, v, tr, pr in rows}
    total = sum(sq.values()) or 1.0
    key = (lambda r: -sq[r[0], r[1]]) if by == "norm" else (lambda r: -abs(r[3] - r[2]))
    return [(*r, sq[r[0], r[1]] / total) for r in sorted(rows, key=key)[:n]]


def kind(true: int, called: int) -> str:
    if called == 0:
        return f"missed {NAMES[true]}"
    if true == 0:
        return f"false positive {NAMES[called]}"
    return f"{NAMES[true]}->{NAMES[called]}"


class Scan:
    """One patient scored by the product, with its reference labels (read once for all its vessels)."""

    def __init__(self, release: Path, pid: str, model: L.LesionModel):
        vol = read_ct(release / "deidentified_nongated" / pid / pid)
        self.hu, self.sp = vol.hu, np.array([abs(float(s)) for s in vol.spacing_mm])
        self.cand, self.classes = L.classify_volume(self.hu, tuple(self.sp), model)
        self.labels = read_labels(release / "labels" / f"{pid}.nii.gz")
        self.t = L.candidate_targets(self.cand.ids, self.labels)
        self.anat = read_labels(release / "anatomy" / f"{pid}.nii.gz")
        self.ostium = ostium_mm(self.labels, 1, true_root_mm(self.anat, self.sp), self.sp)

    def describe(self, j: int) -> dict:
        vox = np.argwhere(self.cand.ids == j + 1)
        lab = np.bincount(self.labels[tuple(vox.T)], minlength=5)[1:]
        cen = vox.mean(0) * self.sp
        ext = (vox.max(0) - vox.min(0) + 1) * self.sp
        what = kind(int(self.t[j]), int(self.classes[j]))
        if self.t[j] == 0:  # what the phantom drew there: a calcium kind, else noise in the tissue's label
            a = np.bincount(self.anat[tuple(vox.T)], minlength=max(ANATOMY_LABELS) + 1)
            calc = [k for k in CALCIUM_KINDS if a[k]]
            what += (f" ({ANATOMY_LABELS[max(calc, key=lambda k: a[k])]})" if calc
                     else f" (noise in {ANATOMY_LABELS[int(np.argmax(a))]})")
        return {"au": float(self.cand.agatston[j]), "true": int(self.t[j]), "called": int(self.classes[j]),
                "kind": what, "n_vox": len(vox),
                "extent_mm": ext, "slice": int(round(vox[:, 0].mean())),
                "to_ostium_mm": float(np.linalg.norm(cen - self.ostium)),
                "labels": ", ".join(f"{VESSELS[k]} {lab[k]}" for k in np.flatnonzero(lab)) or "none"}


def picture(s: Scan, j: int, path: Path, title: str) -> None:
    vox = np.argwhere(s.cand.ids == j + 1)
    k, cy, cx = (int(round(v)) for v in vox.mean(0))
    half = int(round(30 / s.sp[1]))
    y0, x0 = max(0, cy - half), max(0, cx - half)
    win = (slice(y0, y0 + 2 * half), slice(x0, x0 + 2 * half))
    ids = s.cand.ids[k][win]
    called = np.where(ids > 0, 1 + np.concatenate([[0], s.classes])[ids], 0)
    ref = np.where(s.hu[k][win] >= s.cand.threshold_hu, 1 + s.labels[k][win], 0)
    fig, axes = plt.subplots(1, 2, figsize=(9, 5))
    for ax, over, name in ((axes[0], called, "product's call (fill)"), (axes[1], ref, "reference voxel labels")):
        ax.imshow(s.hu[k][win], cmap="gray", vmin=-160, vmax=440)
        ax.imshow(np.ma.masked_equal(over, 0), cmap=CMAP, vmin=0, vmax=5.99, alpha=0.65, interpolation="nearest")
        yy, xx = np.nonzero(ids == j + 1)
        ax.plot(xx, yy, ",", color="white")
        ax.contour(ids == j + 1, levels=[0.5], colors="white", linewidths=0.8)
        ax.set_title(name, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title + f"\nslice {k}; white outline: the candidate; colours: " +
                 ", ".join(f"{v} {c}" for v, c in VESSEL_COLOURS.items()) + f", non-coronary {NON_CORONARY_COLOUR}",
                 fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("release", type=Path)
    ap.add_argument("pred", type=Path)
    ap.add_argument("model", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--n", type=int, default=5)
    ap.add_argument("--by", choices=("norm", "au"), default="norm",
                    help="rank by the normalised error (what the ratio reads; default) or by AU")
    ap.add_argument("--no-left-main-guard", action="store_true",
                    help="score with config.structure_left_main off (the product before guard_left_main)")
    ap.add_argument("--ids", default=None, help="first-last patient ids (default: all of the CSV)")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    ids = None
    if a.ids:
        lo, hi = (int(v) for v in a.ids.split("-"))
        ids = {str(i) for i in range(lo, hi + 1)}
    model = L.load_model(a.model)
    if a.no_left_main_guard:
        model = dataclasses.replace(model, config=dataclasses.replace(model.config, structure_left_main=False))
    top = largest(pd.read_csv(a.pred), pd.read_csv(a.release / "truth.csv"), a.n, ids, a.by)
    scans: dict[str, Scan] = {}
    print("| rank | patient | vessel | true AU | predicted AU | share of the MSE | largest wrong candidates: AU, kind, voxel labels, "
          "extent z/y/x mm, mm from the left ostium | picture |")
    print("| ---: | ---: | --- | ---: | ---: | ---: | --- | --- |")
    for rank, (pid, vessel, true, pred, share) in enumerate(top, start=1):
        s = scans.setdefault(pid, Scan(a.release, pid, model))
        vk = 1 + VESSELS.index(vessel)
        wrong = np.flatnonzero(((s.t == vk) | (s.classes == vk)) & (s.t != s.classes))
        wrong = wrong[np.argsort(-s.cand.agatston[wrong])]
        rows = [s.describe(j) for j in wrong[:3]]
        text = "; ".join(f"{r['au']:.0f} AU {r['kind']} (labels {r['labels']}; {r['extent_mm'][0]:.0f}/"
                         f"{r['extent_mm'][1]:.0f}/{r['extent_mm'][2]:.0f} mm; {r['to_ostium_mm']:.0f} mm)"
                         for r in rows) or "no candidate wrong"
        png = ""
        if len(wrong):
            png = f"error_{rank}_{pid}_{vessel}.png"
            r = rows[0]
            picture(s, int(wrong[0]), a.out / png,
                    f"#{rank} patient {pid} {vessel}: true {true:.0f}, predicted {pred:.0f} AU; candidate "
                    f"{wrong[0] + 1}: {r['au']:.0f} AU, {r['kind']}, {r['to_ostium_mm']:.0f} mm from the left ostium")
        print(f"| {rank} | {pid} | {vessel} | {true:.0f} | {pred:.0f} | {share:.2f} | {text} | {png} |", flush=True)


if __name__ == "__main__":
    main()
