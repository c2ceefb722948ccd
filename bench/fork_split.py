"""The voxel split's left-main rules on the fork patients (issue 16, session 24 wt32c).

    PYTHONPATH=src:bench python bench/fork_split.py find RELEASE OUT [--ids 1-60]
    PYTHONPATH=src:bench python bench/fork_split.py eval RELEASE OUT --model DIR --ids 1,5,9 --variant NAME=SPEC ...

find: the fork patients of a phantom release: those with true left-main calcium (label 1) in a candidate (one axial
slice blob, ``candidates._components`` at the model's threshold and minimum area) that holds LAD / LCX voxels itself or
touches (26-neighbourhood) a candidate voxel labelled LAD / LCX. OUT/fork.csv: per patient the left-main AU of the
truth, the left-main voxels in such blobs and the number of those blobs.

eval: per patient (its candidates found and classified once by the model, ``classify_volume``, and cached in
OUT/cache/<id>.npz so that further variants cost only the split) the truth's and each variant's LCA / LAD / LCX / RCA
(``agatston`` on the label volume, as bench/voxel_split.py eval scores). OUT/fork_eval.csv; SPEC as
bench/voxel_split.parse_split ("plain": no split).
"""

from __future__ import annotations

import argparse
import dataclasses
import pickle
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))

from voxel_split import V, parse_split, score  # noqa: E402

from cacscore.io.ct import read_ct, read_labels  # noqa: E402
from cacscore.lesion.candidates import _components  # noqa: E402
from cacscore.lesion.classifier import classify_volume, load_model, vessel_labels  # noqa: E402


def parse_ids(s: str) -> list[str]:
    out = []
    for part in s.split(","):
        a, _, b = part.partition("-")
        out += [str(i) for i in range(int(a), int(b or a) + 1)]
    return out


def fork_blobs(cids: np.ndarray, lab: np.ndarray) -> tuple[int, int]:
    """(left-main voxels in fork blobs, number of fork blobs): candidates holding left-main voxels that hold LAD / LCX
    voxels or touch (26-neighbourhood) a candidate voxel labelled LAD / LCX."""
    branch = (cids > 0) & np.isin(lab, (2, 3))
    lm = np.unique(cids[(lab == 1) & (cids > 0)])
    vox, n = 0, 0
    for c in lm:
        m = cids == c
        zz = np.flatnonzero(m.any((1, 2)))
        sl = slice(max(zz[0] - 1, 0), zz[-1] + 2)
        near = ndimage.binary_dilation(m[sl], np.ones((3, 3, 3), bool))
        if (near & branch[sl]).any():
            vox += int(((lab == 1) & m).sum())
            n += 1
    return vox, n


def find(release: Path, out: Path, ids: list[str], threshold_hu: float, min_area_mm2: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    truth = pd.read_csv(release / "truth.csv", dtype={"id": str}).set_index("id")
    rows = []
    for pid in ids:
        if truth.loc[pid, "LCA"] <= 0:
            continue
        vol = read_ct(release / "deidentified_nongated" / pid / pid)
        sp = tuple(abs(float(s)) for s in vol.spacing_mm)
        cids = _components(vol.hu, sp[1] * sp[2], threshold_hu, min_area_mm2)
        lab = read_labels(release / "labels" / f"{pid}.nii.gz")
        vox, n = fork_blobs(cids, lab)
        rows.append({"id": pid, "LCA_AU": round(float(truth.loc[pid, "LCA"]), 1), "fork_lm_voxels": vox, "fork_blobs": n})
        print(rows[-1], flush=True)
    pd.DataFrame(rows).to_csv(out / "fork.csv", index=False)


def classified(release: Path, cache: Path, pid: str, model):
    """(hu, spacing, candidates, classes) of one patient, classified once and cached (pickle)."""
    vol = read_ct(release / "deidentified_nongated" / pid / pid)
    sp = tuple(abs(float(s)) for s in vol.spacing_mm)
    f = cache / f"{pid}.pkl"
    if f.exists():
        stored = pickle.loads(f.read_bytes())
        if len(stored) == 2:  # a cache written before the id volume was stored sparse
            return vol.hu, sp, *stored
        cand, classes, (shape, at, val) = stored
        ids = np.zeros(int(np.prod(shape)), np.int32)
        ids[at] = val
        return vol.hu, sp, dataclasses.replace(cand, ids=ids.reshape(shape)), classes
    cand, classes = classify_volume(vol.hu, sp, model)
    cand = dataclasses.replace(cand, lungs=None, anatomy=None, heart=None)
    # the id volume stored sparse: whole, a 512 x 512 scan's int32 ids made ~100 MB per patient (6 GB for 60)
    at = np.flatnonzero(cand.ids)
    f.write_bytes(pickle.dumps((dataclasses.replace(cand, ids=np.zeros((1, 1, 1), np.int32)), classes,
                                (cand.ids.shape, at, cand.ids.reshape(-1)[at]))))
    return vol.hu, sp, cand, classes


def evaluate(release: Path, out: Path, model_dir: Path, ids: list[str], variants: dict[str, str]) -> pd.DataFrame:
    out.mkdir(parents=True, exist_ok=True)
    (out / "cache").mkdir(exist_ok=True)
    model = load_model(model_dir)
    truth = pd.read_csv(release / "truth.csv", dtype={"id": str}).set_index("id")
    rows = []
    for pid in ids:
        hu, sp, cand, classes = classified(release, out / "cache", pid, model)
        row = {"id": pid, **{f"truth_{v}": round(float(truth.loc[pid, v]), 1) for v in V}}
        for name, spec in variants.items():
            st = None if spec == "plain" else parse_split(spec)
            m = dataclasses.replace(model, config=model.config.with_split(st))
            r = score(hu, vessel_labels(hu, cand, classes, m), sp)
            row.update({f"{name}_{v}": round(r[v], 1) for v in V})
        rows.append(row)
        print(" ".join(f"{k}={v}" for k, v in row.items() if not k.endswith("RCA")), flush=True)
    t = pd.DataFrame(rows)
    t.to_csv(out / "fork_eval.csv", index=False)
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("find")
    f.add_argument("release", type=Path)
    f.add_argument("out", type=Path)
    f.add_argument("--ids", default="1-60")
    f.add_argument("--model", type=Path, default=Path(__file__).resolve().parents[1] / "src/cacscore/predict/default_model")
    e = sub.add_parser("eval")
    e.add_argument("release", type=Path)
    e.add_argument("out", type=Path)
    e.add_argument("--model", type=Path, required=True)
    e.add_argument("--ids", required=True)
    e.add_argument("--variant", nargs="+", required=True)
    a = ap.parse_args()
    if a.cmd == "find":
        m = load_model(a.model)
        find(a.release, a.out, parse_ids(a.ids), m.threshold_hu, m.min_area_mm2)
    else:
        evaluate(a.release, a.out, a.model, parse_ids(a.ids), dict(v.split("=", 1) for v in a.variant))


if __name__ == "__main__":
    main()
