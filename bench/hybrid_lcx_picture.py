"""Axial crop of a proximal-LCX plaque of an anchored hybrid, with the LCX / LAD courses and the heart reference.

    PYTHONPATH=src nice -n 10 python bench/hybrid_lcx_picture.py --series lidc-idri-0002 --seeds 5 6 \
        --model /work/runs/wt15f/v7full/model --out docs/pictures/hybrid_lcx_prox_0002.png

Per seed: inserts the plaques (``phantom.hybrid.insert_plaques``, the anchors of docs/hybrid_landmarks.json, as
bench/hybrid_cases.py), classifies (``classify_volume``) and prints, for each candidate of a proximal-third LCX plaque,
its MLP probabilities, its final class and the 3-D structure it shares with the other inserted plaques (the structure
vote, ``lesion.tree.vote_by_structure``). The picture (one panel per seed) is the slice of that seed's largest such
candidate: W 400 / L 40, LCX course red, LAD course yellow (course points within 6 mm of the slice; small = farther),
the candidate cyan, the heart reference (the candidate features' origin) a green cross when within 10 mm of the
slice, otherwise its in-plane projection as an open green circle. Findings: docs/lesion_scorer.md, "Why 0002's
proximal LCX is called LAD".
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from hybrid_cases import course_position

from cacscore.chest.anatomy import read_chest
from cacscore.core.vessels import LABEL_OF, VESSELS
from cacscore.io.ct import read_ct
from cacscore.lesion.classifier import classify_volume, load_model
from cacscore.phantom.hybrid import insert_plaques

LANDMARKS = Path(__file__).resolve().parents[1] / "docs" / "hybrid_landmarks.json"


def prox_lcx(case, cand, sp) -> list[int]:
    """Candidate rows (0-based) of inserted LCX plaques whose centroid lies in the course's first third."""
    out = []
    for r in np.unique(cand.ids[(case.labels == LABEL_OF["LCX"]) & (cand.ids > 0)]) - 1:
        c = np.argwhere(cand.ids == r + 1).mean(0) * sp
        arc, length = course_position(case.courses["LCX"], c)
        if arc / max(length, 1e-6) < 1 / 3:
            out.append(int(r))
    return out


def panel(ax, hu, sp, case, cand, row: int, title: str) -> None:
    vox = np.argwhere(cand.ids == row + 1)
    z = int(np.bincount(vox[:, 0]).argmax())
    cy, cx = vox[vox[:, 0] == z, 1:].mean(0)
    h = 60.0 / sp[1]
    y0, y1, x0, x1 = (int(max(cy - h, 0)), int(cy + h), int(max(cx - h, 0)), int(cx + h))
    ax.imshow(hu[z, y0:y1, x0:x1], cmap="gray", vmin=-160, vmax=240, extent=(x0 * sp[2], x1 * sp[2], y1 * sp[1], y0 * sp[1]))
    m = cand.ids[z, y0:y1, x0:x1] == row + 1
    ax.contour(np.arange(x0, x1) * sp[2], np.arange(y0, y1) * sp[1], m, levels=[0.5], colors="cyan", linewidths=1)
    for v, col in (("LCX", "red"), ("LAD", "yellow")):
        c = case.courses[v]
        near = np.abs(c[:, 0] - z * sp[0]) < 6
        ax.scatter(c[near, 2], c[near, 1], s=40 - 5 * np.abs(c[near, 0] - z * sp[0]), c=col, label=f"{v} course")
    hz, hy, hx = (float(v) * s for v, s in zip(cand.heart_index, sp))
    if abs(hz - z * sp[0]) <= 10:
        ax.scatter([hx], [hy], marker="+", s=200, c="lime", label="heart reference")
    else:
        ax.scatter([hx], [hy], marker="o", s=120, facecolors="none", edgecolors="lime",
                   label=f"heart ref. ({hz - z * sp[0]:+.0f} mm in z)")
    ax.set_xlim(x0 * sp[2], x1 * sp[2])
    ax.set_ylim(y1 * sp[1], y0 * sp[1])
    ax.set_title(title, fontsize=8)
    ax.set_xlabel("x mm (patient's left ->)")
    ax.set_ylabel("y mm (posterior v)")
    ax.legend(fontsize=6, loc="lower left")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--series", default="lidc-idri-0002")
    ap.add_argument("--seeds", type=int, nargs="+", default=[5, 6])
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    model = load_model(a.model)
    vol = read_ct(a.data / a.series)
    sp = tuple(abs(float(s)) for s in vol.spacing_mm)
    anatomy = read_chest(vol.hu, sp)
    courses = json.loads(LANDMARKS.read_text())[a.series]["courses"]
    fig, axes = plt.subplots(1, len(a.seeds), figsize=(6 * len(a.seeds), 6), squeeze=False)
    for ax, seed in zip(axes[0], a.seeds):
        case = insert_plaques(vol.hu, sp, anatomy, seed, landmarks=courses)
        cand, classes = classify_volume(case.hu, sp, model)
        proba = model.predict_proba(model.table(cand.features, cand.anatomy_columns))
        rows = prox_lcx(case, cand, sp)
        truth = {int(r) - 1: VESSELS[int(np.bincount(case.labels[cand.ids == r][case.labels[cand.ids == r] > 0]).argmax()) - 1]
                 for r in np.unique(cand.ids[(case.labels > 0) & (cand.ids > 0)])}
        print(f"seed {seed}: heart reference (z, y, x) mm {np.round(np.array(cand.heart_index) * sp, 1).tolist()}")
        for r in rows:
            s = cand.structure[r]
            mates = [f"{truth.get(int(o), 'none')}->{['non', 'LCA', 'LAD', 'LCX', 'RCA'][classes[o]]}"
                     for o in np.flatnonzero(cand.structure == s) if o != r]
            print(f"  cand {r}: {cand.agatston[r]:6.1f} AU p(non, LCA, LAD, LCX, RCA) {np.round(proba[r], 2).tolist()} "
                  f"-> {['non', 'LCA', 'LAD', 'LCX', 'RCA'][classes[r]]}; structure {s}: {len(mates)} others {mates[:12]}")
        best = max(rows, key=lambda r: cand.agatston[r])
        panel(ax, case.hu, sp, case, cand, best,
              f"{a.series} seed {seed}: prox. LCX plaque candidate {cand.agatston[best]:.0f} AU, "
              f"called {['non-coronary', 'LCA', 'LAD', 'LCX', 'RCA'][classes[best]]} ({a.model.parent.name})")
    fig.tight_layout()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out, dpi=110)
    print("wrote", a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
