"""The largest per-vessel errors of a model on held-out phantom patients, and why (issue 16).

From ``cacscore predict``'s CSV and the release's truth.csv: the N largest |predicted - true| per (patient, vessel).
For each, the scan is scored again (``cacscore.lesion.classify_volume``, the product's path) and its candidates
compared with the phantom's voxel labels: the calcium that went to another vessel, was missed, or was called
coronary wrongly, largest first, with the anatomy columns; and a picture of the slice of the largest wrong
candidate (true vessel as the colour of the outline, predicted as the fill) in OUT/error_<rank>_<pid>_<vessel>.png.

    PYTHONPATH=src python bench/heldout_errors.py RELEASE PRED.csv MODEL OUT [--n 5]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from cacscore import lesion as L  # noqa: E402
from cacscore.core.vessels import VESSELS  # noqa: E402
from cacscore.io.ct import read_ct, read_labels  # noqa: E402
from cacscore.lesion.anatomy import ANATOMY_NAMES  # noqa: E402
from cacscore.lesion.report import VESSEL_COLOURS  # noqa: E402

NAMES = ("non-coronary", *VESSELS)


def largest(pred: pd.DataFrame, truth: pd.DataFrame, n: int) -> list[tuple[str, str, float, float]]:
    p = pred.set_index(pred["id"].astype(str))
    t = truth.set_index(truth["id"].astype(str))
    rows = [(i, v, float(t.loc[i, v]), float(p.loc[i, v])) for i in t.index if i in p.index for v in VESSELS]
    return sorted(rows, key=lambda r: -abs(r[3] - r[2]))[:n]


def picture(hu, cand, targets, classes, j, path: Path, title: str) -> None:
    vox = np.argwhere(cand.ids == j + 1)
    k, cy, cx = (int(round(v)) for v in vox.mean(0))
    half = int(round(50 / cand.spacing_mm[1]))
    y0, x0 = max(0, cy - half), max(0, cx - half)
    fig, ax = plt.subplots(figsize=(5, 5.3))
    ax.imshow(hu[k, y0:y0 + 2 * half, x0:x0 + 2 * half], cmap="gray", vmin=-160, vmax=440,
              extent=(x0 - 0.5, x0 + 2 * half - 0.5, y0 + 2 * half - 0.5, y0 - 0.5))
    for m in np.unique(cand.ids[k, y0:y0 + 2 * half, x0:x0 + 2 * half]):
        if m == 0 or (targets[m - 1] == 0 and classes[m - 1] == 0):
            continue
        v = np.argwhere(cand.ids[k] == m)
        if classes[m - 1]:
            ax.plot(v[:, 1], v[:, 0], "s", ms=2, color=VESSEL_COLOURS[VESSELS[classes[m - 1] - 1]])
        if targets[m - 1]:
            ax.plot(v[:, 1].mean(), v[:, 0].mean(), "o", mfc="none", ms=16, mew=2,
                    mec=VESSEL_COLOURS[VESSELS[targets[m - 1] - 1]])
    ax.set_xlim(x0 - 0.5, x0 + 2 * half - 0.5)
    ax.set_ylim(y0 + 2 * half - 0.5, y0 - 0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title + "\nfill = predicted vessel, ring = true vessel (" +
                 ", ".join(f"{v} {c}" for v, c in VESSEL_COLOURS.items()) + ")", fontsize=7)
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
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    model = L.load_model(a.model)
    top = largest(pd.read_csv(a.pred), pd.read_csv(a.release / "truth.csv"), a.n)
    for rank, (pid, vessel, true, pred) in enumerate(top, start=1):
        vol = read_ct(a.release / "deidentified_nongated" / pid / pid)
        hu, sp = vol.hu, tuple(abs(float(s)) for s in vol.spacing_mm)
        cand, classes = L.classify_volume(hu, sp, model)
        t = L.candidate_targets(cand.ids, read_labels(a.release / "labels" / f"{pid}.nii.gz"))
        vk = 1 + VESSELS.index(vessel)
        wrong = np.flatnonzero(((t == vk) | (classes == vk)) & (t != classes))
        wrong = wrong[np.argsort(-cand.agatston[wrong])]
        print(f"#{rank} patient {pid} {vessel}: true {true:.1f} AU, predicted {pred:.1f} AU "
              f"(error {pred - true:+.1f})")
        for j in wrong[:4]:
            an = dict(zip(ANATOMY_NAMES, cand.anatomy_columns[j])) if cand.anatomy_columns is not None else {}
            print(f"   candidate {j + 1}: {cand.agatston[j]:.1f} AU, true {NAMES[t[j]]}, called {NAMES[classes[j]]}, "
                  f"area {np.expm1(cand.features[j, L.FEATURE_NAMES.index('log_area_mm2')]):.0f} mm2, "
                  f"dist {cand.features[j, L.FEATURE_NAMES.index('dist_mm')]:.0f} mm; " +
                  ", ".join(f"{k} {v:.0f}" for k, v in an.items() if np.isfinite(v)))
        if len(wrong):
            j = wrong[0]
            picture(hu, cand, t, classes, j, a.out / f"error_{rank}_{pid}_{vessel}.png",
                    f"#{rank} patient {pid} {vessel}: true {true:.0f}, predicted {pred:.0f} AU; candidate {j + 1} "
                    f"({cand.agatston[j]:.0f} AU) true {NAMES[t[j]]}, called {NAMES[classes[j]]}")


if __name__ == "__main__":
    main()
