"""The 24 / 60 mm tissue boxes round each coronary: real courses against the phantom's coronary candidates (issue 15).

    PYTHONPATH=src python bench/groove_context.py --real /work/shared/data --cand /work/runs/lead25/r11/cand

Real side: the eye-anchored courses of docs/hybrid_landmarks.json (phantom.hybrid.anchored_course, as the hybrids
place their plaques) on LIDC-IDRI-0001..0003, the in-plane boxes of lesion.candidates._tissue_context at each course
point (the columns the candidate scorer reads, at the place a plaque would sit). Phantom side: the cached training
candidates (bench/stream_train.py's cand/*.npz) with their truth vessel. Prints p10 / p50 / p90 per vessel and column.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from cacscore.core.vessels import VESSELS
from cacscore.io.ct import read_ct
from cacscore.lesion.candidates import FEATURE_NAMES, _tissue_context
from cacscore.phantom.hybrid import _sampler, anchored_course

LANDMARKS = Path(__file__).resolve().parents[1] / "docs" / "hybrid_landmarks.json"
COLS = ("fat_24mm", "soft_24mm", "air_24mm", "bright_24mm", "air_60mm", "bright_60mm")


def real_context(series_dir: Path, courses: dict) -> dict[str, np.ndarray]:
    vol = read_ct(series_dir)
    hu, sp = vol.hu, tuple(float(s) for s in vol.spacing_mm)
    sample = _sampler(hu, sp)
    out = {}
    for name, anchors in courses.items():
        pts = anchored_course(sample, anchors)
        st = {a: pts[:, k] / sp[k] for k, a in enumerate(("cz", "cy", "cx"))}
        ctx = _tissue_context(hu, st, sp)
        out[name] = np.stack([ctx[c] for c in COLS], axis=1)
    return out


def phantom_context(cand_dir: Path) -> dict[str, np.ndarray]:
    idx = [FEATURE_NAMES.index(c) for c in COLS]
    rows: dict[str, list] = {v: [] for v in VESSELS}
    for f in sorted(cand_dir.glob("*.npz")):
        with np.load(f, allow_pickle=False) as d:
            feats, tg = d["features"], d["targets"]
        for k, v in enumerate(VESSELS, start=1):
            rows[v].append(feats[tg == k][:, idx])
    return {v: np.concatenate(r) for v, r in rows.items() if r}


def show(label: str, x: np.ndarray) -> None:
    q = np.quantile(x, [0.1, 0.5, 0.9], axis=0)
    cells = " ".join(f"{q[0, j]:.2f}/{q[1, j]:.2f}/{q[2, j]:.2f}" for j in range(len(COLS)))
    print(f"{label:28s} n={len(x):6d} {cells}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real", type=Path, required=True)
    ap.add_argument("--cand", type=Path, nargs="*", default=[])
    a = ap.parse_args()
    lm = json.loads(LANDMARKS.read_text())
    print(f"{'':28s} {'':8s} " + " ".join(f"{c:>14s}" for c in COLS) + "   (p10/p50/p90)")
    for cd in a.cand:
        for v, x in phantom_context(cd).items():
            show(f"{cd.parent.name} {v}", x)
    for s in sorted(k for k in lm if k != "about"):
        d = a.real / s
        if d.is_dir():
            for v, x in real_context(d, lm[s]["courses"]).items():
                show(f"{s} {v}", x)


if __name__ == "__main__":
    main()
