"""Per-candidate cache of a phantom release for the vessel-assignment work (issue 16, left-main bifurcation).

For each patient of a release (deidentified_nongated/<id>/<id>, labels/<id>.nii.gz, anatomy/<id>.nii.gz) it runs the
product's path (``cacscore.lesion.classify_volume`` with a model) and stores, per candidate: centroid (mm, z y x from
voxel 0), Agatston contribution, the MLP's probabilities, the product's class, the reference class, the 3-D structure
(26-connected candidates) it belongs to; per scan: the found aortic root, aorta centreline, heart reference, and the
phantom's true aortic root (lowest 5 mm of the ``aorta_ascending`` anatomy label) and true ostia (the LCA / RCA label
voxel nearest that root); and the voxels (z y x index, HU, reference label, candidate) of every candidate that
is or may be coronary (bench/left_main_guard.py's per-voxel ceiling and piece probe). One ``OUT/<id>.npz`` per patient, so the assignment step can be iterated in seconds.

    PYTHONPATH=src nice -n 10 python bench/vessel_tree_cache.py RELEASE MODEL OUT [--ids 1-60]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from cacscore import lesion as L
from cacscore.io.ct import read_ct, read_labels

AORTA_ASCENDING = 8  # cacscore.phantom.anatomy.ANATOMY_LABELS


def true_root_mm(anat: np.ndarray, sp: np.ndarray) -> np.ndarray:
    vox = np.argwhere(anat == AORTA_ASCENDING)
    if len(vox) == 0:
        return np.full(3, np.nan)
    low = vox[vox[:, 0] <= vox[:, 0].min() + max(1, round(5.0 / sp[0]))]
    return low.mean(0) * sp


def ostium_mm(labels: np.ndarray, vessel: int, root: np.ndarray, sp: np.ndarray) -> np.ndarray:
    """The labelled voxel of ``vessel`` nearest the true root (the lumen + 3 mm label reaches the aortic wall)."""
    vox = np.argwhere(labels == vessel)
    if len(vox) == 0 or not np.isfinite(root).all():
        return np.full(3, np.nan)
    p = vox * sp
    return p[int(np.argmin(((p - root) ** 2).sum(1)))]


def one(release: Path, pid: str, model: L.LesionModel) -> dict[str, np.ndarray]:
    vol = read_ct(release / "deidentified_nongated" / pid / pid)
    hu, sp = vol.hu, tuple(abs(float(s)) for s in vol.spacing_mm)
    cand, classes = L.classify_volume(hu, sp, model)
    labels = read_labels(release / "labels" / f"{pid}.nii.gz")
    t = L.candidate_targets(cand.ids, labels)
    table = model.table(cand.features, cand.anatomy_columns)
    proba = model.predict_proba(table)
    may = model.may_be_coronary(cand.features, cand.outside_thorax_mm, cand.anatomy_columns)
    spa = np.array(sp)
    at = np.flatnonzero(cand.ids.reshape(-1))
    coords = np.unravel_index(at, cand.ids.shape)
    cid = cand.ids.reshape(-1)[at]
    cnt = np.bincount(cid, minlength=cand.n + 1)[1:]
    cen = np.stack([np.bincount(cid, weights=c, minlength=cand.n + 1)[1:] for c in coords], 1) / np.maximum(cnt, 1)[:, None]
    lab3, _ = ndimage.label(cand.ids > 0, structure=np.ones((3, 3, 3), bool))
    struct = np.zeros(cand.n + 1, np.int64)
    struct[cid] = lab3.reshape(-1)[at]
    anat = read_labels(release / "anatomy" / f"{pid}.nii.gz")
    root_t = true_root_mm(anat, spa)
    a = cand.anatomy
    # the voxels of every candidate that is, or might be, coronary (for per-voxel / per-extent assignment offline)
    keep = np.flatnonzero(may | (classes > 0) | (t > 0)) + 1
    vsel = np.isin(cid, keep)
    vox = {"vox_zyx": np.stack([c[vsel] for c in coords], 1).astype(np.int16), "vox_cid": cid[vsel].astype(np.int32),
           "vox_hu": hu.reshape(-1)[at[vsel]].astype(np.int16), "vox_label": labels.reshape(-1)[at[vsel]].astype(np.int8)}
    return vox | {"centroid_mm": cen * spa, "agatston": cand.agatston, "proba": proba, "classes": classes, "targets": t,
            "may": may, "struct": struct[1:], "features": cand.features,
            "anatomy_columns": cand.anatomy_columns if cand.anatomy_columns is not None else np.zeros((cand.n, 0)),
            "spacing": spa, "shape": np.array(hu.shape), "heart_index": np.array(cand.heart_index),
            "root_found": a.aortic_root_mm if a is not None else np.full(3, np.nan),
            "root_conf": np.array(a.parts["root"].confidence if a is not None else np.nan),
            "aorta_centreline": a.aorta.centreline_mm if a is not None else np.zeros((0, 3)),
            "aorta_radius": a.aorta.radius_mm if a is not None else np.zeros(0),
            "aorta_segment": a.aorta.segment if a is not None else np.zeros(0),
            "root_true": root_t, "ostium_l_true": ostium_mm(labels, 1, root_t, spa),
            "ostium_r_true": ostium_mm(labels, 4, root_t, spa)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("release", type=Path)
    ap.add_argument("model", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--ids", default="1-60", help="first-last patient ids")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    lo, hi = (int(v) for v in a.ids.split("-"))
    model = L.load_model(a.model)
    for i in range(lo, hi + 1):
        pid = str(i)
        if (a.out / f"{pid}.npz").exists():
            continue
        t0 = time.time()
        d = one(a.release, pid, model)
        np.savez_compressed(a.out / f"{pid}.npz", **d)
        err = float(np.linalg.norm(d["root_found"] - d["root_true"]))
        print(pid, f"{len(d['agatston'])} candidates, root error {err:.0f} mm, {time.time() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
