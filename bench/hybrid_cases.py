"""Hybrid cases (issue 16, item 5): synthetic plaques in the grooves of REAL chest CT, scored with one or more models.

    PYTHONPATH=src python bench/hybrid_cases.py [--data /work/shared/data] [--series lidc-idri-0002 ...]
        [--seeds 5] [--first-seed 0] [--model [NAME=]DIR ...] [--out DIR] [--picture PNG] [--courses-picture PREFIX]
        [--boot 2000] [--static] [--pictures-only] [--landmarks docs/hybrid_landmarks.json | --no-landmarks]

For every real series: its anatomy (cacscore.chest.anatomy.read_chest), then per seed a hybrid
(cacscore.phantom.hybrid.insert_plaques: courses in the found grooves, the phantom's plaques, exact truth by
cacscore.scoring.agatston). Each hybrid is written as NIfTI (int16), read back through cacscore.io.ct.read_ct
(checked equal) and classified by each lesion model (cacscore.lesion.classifier.classify_volume, what
LesionPredictor.score does). The un-modified series is classified too. The courses follow the eye-placed anchors of --landmarks where the file
has the series (docs/hybrid_landmarks.json: the three LIDC series); --no-landmarks finds them all by rays (the
courses before session 9).

Per hybrid and model: per-vessel truth and prediction, inserted AU found (per vessel, in any vessel), and the
false positives: AU called coronary on candidates outside the inserted plaques (their footprints + 1 pixel), by
kind of native calcium (kind_of). Per candidate that overlaps an inserted plaque: which rule decided it (the
distance reach, the coronary z range, the chest-wall rule, each anatomy verdict) and the MLP's probabilities, so a
missed plaque names its cause. With --out the tables are written there as CSV (hybrids.csv, plaques.csv, fp.csv)
and the summary as summary.json. --mac inserts mitral annular calcification into every hybrid (the same plaques and
truth; insert_plaques mac=True) and reports, per model, the MAC AU called coronary (its candidates are kept out of the
false positives). Metrics carry a bootstrap interval over hybrids (and the paired difference of
two models on the same resamples). Never trains on hybrids (bench/hybrid_training.py does, leave-one-series-out,
on seeds 100+).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from scipy import ndimage

from cacscore.chest.anatomy import ChestAnatomy, read_chest
from cacscore.core.categories import risk_category4
from cacscore.core.vessels import VESSELS
from cacscore.evaluation.metrics import weighted_kappa
from cacscore.io.ct import label_affine, read_ct
from cacscore.lesion.anatomy import ANATOMY_NAMES, RULE_NAMES, anatomy_verdicts
from cacscore.lesion.candidates import Candidates, score_assignment
from cacscore.lesion.classifier import LesionModel, classify_volume, load_model, needs_anatomy, vessel_labels
from cacscore.phantom.hybrid import HybridCase, insert_plaques, plaque_mask
from cacscore.predict.predictors import DEFAULT_MODEL
from cacscore.scoring.agatston import agatston

KINDS = ("costal cartilage / sternum", "spine", "aortic wall", "aortic root / valve", "other")
BONE_REACH_MM = 5.0
"""A candidate within this of the found bony thorax is bone calcium (label 1 spine, 2 sternum, 3 ribs / costal
cartilage)."""
ROOT_REACH_MM = 20.0
"""A candidate within this of the found aortic root (and not in the aortic wall) is called root / valve (aortic valve,
annulus; the mitral annulus lies farther and counts as other)."""


def _au(hu: np.ndarray, labels: np.ndarray, sp) -> dict[str, float]:
    return agatston(hu, labels, pixel_spacing_mm=(sp[1], sp[2]), slice_spacing_mm=sp[0]).as_row()


def _write_nifti(path: Path, hu: np.ndarray, volume) -> None:
    img = nib.Nifti1Image(np.ascontiguousarray(np.rint(hu).astype(np.int16).transpose(2, 1, 0)), label_affine(volume))
    img.header.set_xyzt_units("mm")
    nib.save(img, str(path))


def kind_of(cand: Candidates, anatomy: ChestAnatomy, rows: np.ndarray) -> list[str]:
    """The kind (KINDS) of native calcium of candidate rows (0-based), from where it lies in the found anatomy:
    bone within BONE_REACH_MM (spine, or sternum / ribs / costal cartilage), the aortic wall (anatomy verdict's
    distance, within 4 mm of the tube's wall), the aortic root within ROOT_REACH_MM, else other."""
    sp = np.asarray(cand.spacing_mm, float)
    bone = anatomy.bone

    dist, near = ndimage.distance_transform_edt(bone == 0, sampling=anatomy.grid_mm, return_indices=True)
    cols = cand.anatomy_columns
    out = []
    for r in rows:
        zyx = np.argwhere(cand.ids == r + 1).mean(0) * sp
        k = tuple(anatomy.coarse_index(zyx[None])[0])
        if dist[k] <= BONE_REACH_MM:
            lab = bone[tuple(n[k] for n in near)]
            out.append("spine" if lab == 1 else "costal cartilage / sternum")
            continue
        c = cols[r] if cols is not None else np.full(len(ANATOMY_NAMES), np.nan)
        wall, seg = c[ANATOMY_NAMES.index("aortic_wall_mm")], c[ANATOMY_NAMES.index("aorta_segment")]
        if np.isfinite(wall) and abs(wall) <= 4.0 and seg >= 0:
            out.append("aortic wall")
        elif np.isfinite(anatomy.aortic_root_mm).all() and np.linalg.norm(zyx - anatomy.aortic_root_mm) <= ROOT_REACH_MM:
            out.append("aortic root / valve")
        else:
            out.append("other")
    return out


def rule_state(model: LesionModel, cand: Candidates, rows: np.ndarray) -> pd.DataFrame:
    """Per candidate row: the rules of LesionModel.may_be_coronary one by one (True = the rule calls it
    non-coronary), the MLP's probabilities (what it would say with no rule) and the features that place it."""
    t = model.table(cand.features, cand.anatomy_columns)[rows]
    names = model.feature_names
    out = pd.DataFrame({
        "dist_mm": t[:, names.index("dist_mm")], "dz_mm": t[:, names.index("dz_mm")],
        "rule_distance": t[:, names.index("dist_mm")] > model.config.max_distance_mm,
        "rule_z_range": ~model.in_coronary_z_range(t)})
    otm = cand.outside_thorax_mm
    out["outside_thorax_mm"] = otm[rows] if otm is not None else np.nan
    m = model.config.thorax_margin_mm
    out["rule_chest_wall"] = (out["outside_thorax_mm"] > m) if m is not None else False
    if cand.anatomy_columns is not None:
        for j, n in enumerate(ANATOMY_NAMES):
            out[n] = cand.anatomy_columns[rows, j]
        v = anatomy_verdicts(cand.anatomy_columns[rows]) if model.config.anatomy_rules else np.zeros((len(rows), len(RULE_NAMES)), bool)
        for j, n in enumerate(RULE_NAMES):
            out[f"verdict_{n.replace(' ', '_')}"] = v[:, j]
    # the MLP on its own, as if every rule let it through
    from cacscore.lesion.classifier import _softmax

    p = _softmax(model.numpy_net()(np.nan_to_num((t - model.mean) / model.std, nan=0.0)))
    for j, n in enumerate(("non-coronary", *VESSELS)):
        out[f"p_{n}"] = p[:, j]
    for n in ("mean_hu", "peak_hu", "log_area_mm2", "fat_8mm", "soft_8mm", "bright_8mm", "air_8mm", "fat_24mm", "bright_24mm", "air_24mm", "dy_mm", "dx_mm"):
        if n in names:
            out[n] = t[:, names.index(n)]
    return out


def course_position(course: np.ndarray, point_mm: np.ndarray) -> tuple[float, float]:
    """(arc length from the course's first point to its point nearest point_mm, the course's length), mm."""
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(course, axis=0), axis=1))])
    return float(arc[np.argmin(np.linalg.norm(course - point_mm, axis=1))]), float(arc[-1])


def classify_many(hu: np.ndarray, sp, models: dict[str, LesionModel]) -> tuple[Candidates, dict[str, np.ndarray]]:
    """The candidates of one image, found once, and each model's classes: what classify_volume gives each model
    alone (tests/test_hybrid_training.py checks it), at the cost of one candidate search instead of one per model.
    The tissue context is computed where any model's rules let a candidate through; a model reads context only
    there (LesionModel.may_be_coronary), so its classes are unchanged. Models whose candidate settings differ
    (threshold, minimum area, anatomy placement, chest_sac, frame_sac, chest_root) are each searched alone."""
    ms = list(models.values())
    key = lambda m: (m.threshold_hu, m.min_area_mm2, needs_anatomy(m), m.config.reference,  # noqa: E731
                     m.config.chest_sac, m.config.frame_sac, m.config.chest_root)
    groups: dict[tuple, dict[str, LesionModel]] = {}
    for n, m in models.items():
        groups.setdefault(key(m), {})[n] = m
    if len(groups) > 1:  # one search per candidate setting and position frame (candidate ids are the same)
        parts = [classify_many(hu, sp, g) for g in groups.values()]
        return parts[0][0], {n: c for _, cls in parts for n, c in cls.items()}
    if len(ms) == 1 or not key(ms[0])[2]:
        out = {n: classify_volume(hu, sp, m) for n, m in models.items()}
        return next(iter(out.values()))[0], {n: c for n, (_, c) in out.items()}
    from cacscore.lesion.candidates import check_hu
    from cacscore.lesion.classifier import anatomical_candidates
    from cacscore.lesion.noise import image_noise_hu

    hu, sp = check_hu(hu, sp)

    def any_model(f, o, a):
        return np.logical_or.reduce([m.may_be_coronary(f, o, a) for m in ms])

    cand = anatomical_candidates(hu, sp, threshold_hu=ms[0].threshold_hu, min_area_mm2=ms[0].min_area_mm2,
                                 context_where=any_model, reference=ms[0].config.reference,
                                 chest_sac=ms[0].config.chest_sac, frame_sac=ms[0].config.frame_sac,
                                 chest_root=ms[0].config.chest_root)
    # session 17 (wt25c): the noise floor's noise sd, estimated once from the image as classify_volume does
    noise = image_noise_hu(hu, sp) if any(m.config.needs_noise for m in ms) else None
    # session 19 (wt27a): the ring veto's soft-ring HU, for each model that reads it (classify_volume's ring_hu_column)
    # session 28: and the scan-floor height that stands in for a diaphragm below the scan (scan_floor_column)
    from cacscore.lesion.classifier import ring_hu_column, scan_floor_column
    return cand, {n: m.classify(cand.features, cand.outside_thorax_mm, cand.anatomy_columns, cand.structure,
                                noise_sd=noise, ring_hu=ring_hu_column(hu, cand, m),
                                scan_floor_mm=scan_floor_column(cand, m)) for n, m in models.items()}


def score_case(model: LesionModel, hu: np.ndarray, sp, case: HybridCase | None, anatomy: ChestAnatomy,
               classified: tuple[Candidates, np.ndarray] | None = None):
    """One model on one image: per-vessel prediction, and with case: the inserted-plaque and false-positive rows.
    classified: the image's (candidates, this model's classes) when already found (classify_many)."""
    cand, classes = classified if classified is not None else classify_volume(hu, sp, model)
    labels = vessel_labels(hu, cand, classes, model)  # what LesionPredictor.score scores (a voxel split, if on)
    pred = score_assignment(hu, cand, classes, labels=labels)
    inside = plaque_mask(case) if case is not None else np.zeros(hu.shape, bool)
    footprint = case.labels > 0 if case is not None else inside
    hit = np.unique(cand.ids[footprint & (cand.ids > 0)]) - 1  # candidates overlapping an inserted plaque
    res = {"pred": pred}
    mac_rows = np.zeros(0, int)
    if case is not None and case.mac is not None:
        # candidates overlapping the inserted MAC (never a plaque's: insert_plaques keeps them apart): non-coronary
        # truth, counted apart from the native false positives
        mac_rows = np.setdiff1d(np.unique(cand.ids[case.mac & (cand.ids > 0)]) - 1, hit)
        called = mac_rows[classes[mac_rows] > 0]
        res["mac"] = {"mac_au": float(cand.agatston[mac_rows].sum()), "mac_candidates": len(mac_rows),
                      "mac_called_au": float(cand.agatston[called].sum()), "mac_called_n": len(called),
                      **{f"mac_called_{v}": float(cand.agatston[called[classes[called] == j]].sum())
                         for j, v in enumerate(VESSELS, 1)}}
    if case is not None:
        found = _au(hu, np.where(inside, labels, 0), sp)
        found_any = _au(hu, np.where(inside & (labels > 0), case.labels, 0), sp)
        res["found_right_vessel"] = {v: _au(hu, np.where(inside & (labels == case.labels), labels, 0), sp)[v]
                                     for v in VESSELS}
        res["found_any_vessel"] = {v: found_any[v] for v in VESSELS}
        res["found_total"] = found["total"]
        pl = rule_state(model, cand, hit)
        truth_v = [np.bincount(case.labels[cand.ids == r + 1], minlength=5)[1:].argmax() for r in hit]
        pl["truth_vessel"] = [VESSELS[k] for k in truth_v]
        # where along its course each plaque candidate lies (mm from the ostium), to read the misses by segment
        # (e.g. the RCA past the crux); and where it lies in the image
        zyx = np.array(ndimage.center_of_mass(cand.ids > 0, cand.ids, hit + 1), float).reshape(-1, 3) * np.asarray(sp)
        pl[["z_mm", "y_mm", "x_mm"]] = zyx
        at = [course_position(case.courses[v], z) for v, z in zip(pl["truth_vessel"], zyx)]
        pl["course_mm"] = [a[0] for a in at]
        pl["course_len_mm"] = [a[1] for a in at]
        pl["au"] = cand.agatston[hit]
        pl["class"] = [("non-coronary", *VESSELS)[c] for c in classes[hit]]
        res["plaques"] = pl
    fp_rows = np.setdiff1d(np.setdiff1d(np.flatnonzero(classes > 0), hit), mac_rows)
    fp = pd.DataFrame({"au": cand.agatston[fp_rows], "class": [VESSELS[c - 1] for c in classes[fp_rows]],
                       "kind": kind_of(cand, anatomy, fp_rows)})
    if len(fp_rows):  # where they lie, to read them on the image
        zyx = np.array([np.argwhere(cand.ids == r + 1).mean(0) for r in fp_rows]) * np.asarray(sp)
        fp[["z_mm", "y_mm", "x_mm"]] = zyx
        cand_names = list(model.feature_names)
        t = model.table(cand.features, cand.anatomy_columns)[fp_rows]
        for n in ("peak_hu", "mean_hu", "log_area_mm2"):
            fp[n] = t[:, cand_names.index(n)]
        if cand.anatomy_columns is not None:
            fp["pericardium_mm"] = cand.anatomy_columns[fp_rows, ANATOMY_NAMES.index("pericardium_mm")]
    res["fp"] = fp
    return res


def course_picture(name: str, hu: np.ndarray, sp, anatomy: ChestAnatomy, courses: dict[str, np.ndarray],
                   path: Path, n_slices: int = 10) -> None:
    """The courses of one series: n_slices axial slices through the heart (course points within 1.5 slices drawn as
    rings) and frontal / lateral mean projections of the heart's box with all points, root (+) and apex (x)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cacscore.phantom.hybrid import heart_box

    colours = {"LCA": "magenta", "LAD": "orange", "LCX": "lime", "RCA": "cyan"}
    sp = np.asarray(sp, float)
    box = heart_box(anatomy, 0.0)
    allp = np.concatenate(list(courses.values()))
    # the axial crops: the courses' extent + 25 mm, so a course point and the real vessel beside it can be told apart
    lo = np.maximum(np.floor((allp.min(0) - 25.0) / sp).astype(int), 0)
    hi = np.minimum(np.ceil((allp.max(0) + 25.0) / sp).astype(int), np.array(hu.shape))
    y0, y1, x0, x1 = lo[1], hi[1], lo[2], hi[2]
    zs = np.linspace(allp[:, 0].max(), allp[:, 0].min(), n_slices)
    ncol = 4
    nrow = int(np.ceil((n_slices + 2) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.0 * ncol, 4.4 * nrow), squeeze=False)
    axes = axes.ravel()
    for j, z in enumerate(zs):
        k = int(round(z / sp[0]))
        ax = axes[j]
        ax.imshow(hu[k, y0:y1, x0:x1], cmap="gray", vmin=-200, vmax=400)
        for v, c in courses.items():
            m = np.abs(c[:, 0] - k * sp[0]) <= 1.5 * sp[0]
            ax.plot(c[m, 2] / sp[2] - x0, c[m, 1] / sp[1] - y0, "o", ms=4, mfc="none", color=colours[v], mew=0.9)
        ax.set_title(f"z {k * sp[0]:.0f} mm", fontsize=8)
        ax.axis("off")
    sub = np.clip(hu[box], -200, 400)
    ext_z = (box[0].start * sp[0], box[0].stop * sp[0])
    bx, by = (box[2].start, box[2].stop), (box[1].start, box[1].stop)
    for ax, img, horiz, j, lab in ((axes[n_slices], sub.mean(1), bx, 2, "frontal: x (patient left ->), z"),
                                   (axes[n_slices + 1], sub.mean(2), by, 1, "lateral: y (anterior -> posterior), z")):
        ax.imshow(img[::-1], cmap="gray", aspect="auto",
                  extent=(horiz[0] * sp[j], horiz[1] * sp[j], *ext_z))
        for v, c in courses.items():
            ax.plot(c[:, j], c[:, 0], ".", ms=3, color=colours[v], label=v)
        ax.plot(anatomy.aortic_root_mm[j], anatomy.aortic_root_mm[0], "r+", ms=10)
        ax.plot(anatomy.apex_mm[j], anatomy.apex_mm[0], "rx", ms=8)
        ax.set_title(lab, fontsize=8)
        ax.legend(fontsize=6, loc="lower left")
    for ax in axes[n_slices + 2:]:
        ax.axis("off")
    fig.suptitle(f"{name}: hybrid coronary courses (seed 0; LCA magenta, LAD orange, LCX green, RCA cyan); "
                 "axial crops: the courses + 25 mm, W 600 / L 100; projections: mean HU of the pericardial box",
                 fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=70)
    plt.close(fig)


def picture(cases: list[tuple[str, int, HybridCase, tuple, ChestAnatomy]], path: Path, per_case: int = 3) -> None:
    """Each row one hybrid: axial crops (80 mm) through its largest plaques, with the pericardial mask (red),
    the coronary course near that slice (dots) and the plaque footprints (yellow)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"LCA": "tab:purple", "LAD": "tab:orange", "LCX": "tab:green", "RCA": "tab:cyan"}
    fig, axes = plt.subplots(len(cases), per_case, figsize=(3.2 * per_case, 3.3 * len(cases)), squeeze=False)
    for row, (name, seed, case, sp, anatomy) in enumerate(cases):
        sp = np.asarray(sp)
        sizes = [np.prod(p.semi) for p in case.plaques]
        for j, i in enumerate(np.argsort(sizes)[::-1][:per_case]):
            p = case.plaques[i]
            z, y, x = p.centre[::-1] / sp
            k, yi, xi = int(round(z)), int(round(y)), int(round(x))
            h = int(40 / sp[1])
            y0, x0 = max(0, yi - h), max(0, xi - h)
            ax = axes[row, j]
            ax.imshow(case.hu[k, y0:yi + h, x0:xi + h], cmap="gray", vmin=-250, vmax=450)
            ax.contour(case.labels[k, y0:yi + h, x0:xi + h] > 0, [0.5], colors="y", linewidths=0.7)
            pk = min(int(round(k * sp[0] / anatomy.grid_mm[0])), anatomy.pericardium.shape[0] - 1)
            pm = np.kron(anatomy.pericardium[pk], np.ones((anatomy.step_xy, anatomy.step_xy)))
            pm = pm[:case.hu.shape[1], :case.hu.shape[2]]
            ax.contour(pm[y0:yi + h, x0:xi + h], [0.5], colors="r", linewidths=0.6)
            c = case.courses[p.vessel]
            near = np.abs(c[:, 0] - p.centre[2]) < 6
            ax.plot(c[near, 2] / sp[2] - x0, c[near, 1] / sp[1] - y0, ".", ms=3, color=colours[p.vessel])
            ax.set_title(f"{name[-4:]} seed {seed}: {p.vessel}, z {p.centre[2]:.0f} mm, {p.hu:.0f} HU", fontsize=8)
            ax.axis("off")
        for j in range(min(len(case.plaques), per_case), per_case):
            axes[row, j].axis("off")
    fig.suptitle("Hybrid cases: synthetic plaques (yellow outline) on coronary courses (dots)\nin the grooves of real "
                 "CT; red: found pericardial mask; 80 mm crops, W 700 / L 100", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def mac_picture(cases: list[tuple[str, int, HybridCase, tuple, ChestAnatomy]], path: Path) -> None:
    """Each row one hybrid with mitral annular calcification (insert_plaques mac=True): an axial and a sagittal slice
    (100 mm crops) through the MAC's middle sphere, the MAC footprint (yellow), the LCX course points within 1.5
    slices (axial) or 3 mm (sagittal) of the slice (green) and the other courses' (cyan): does the MAC sit on the
    annulus, between the left atrium and the left ventricle, just inside the LCX?"""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(cases), 2, figsize=(8.0, 4.0 * len(cases)), squeeze=False)
    for row, (name, seed, case, sp, _) in enumerate(cases):
        sp = np.asarray(sp, float)
        if not case.mac_blobs:
            axes[row, 0].set_title(f"{name[-4:]} seed {seed}: no MAC ({case.mac_note})", fontsize=8)
            for a in axes[row]:
                a.axis("off")
            continue
        x, y, z = case.mac_blobs[len(case.mac_blobs) // 2].centre_mm
        k, j, i = (int(np.rint(q / d)) for q, d in zip((z, y, x), sp))
        h = int(50 / sp[1])
        hz = int(50 / sp[0])
        y0, x0, z0 = max(0, j - h), max(0, i - h), max(0, k - hz)
        au = _au(case.hu, case.mac.astype(np.uint8), sp)["total"]
        for col, (img, mac, horiz, vert, lo_h, lo_v, near, tag) in enumerate((
                (case.hu[k, y0:j + h, x0:i + h], case.mac[k, y0:j + h, x0:i + h], 2, 1, x0, y0,
                 (0, z, 1.5 * sp[0]), "axial"),
                (case.hu[z0:k + hz, y0:j + h, i], case.mac[z0:k + hz, y0:j + h, i], 1, 0, y0, z0,
                 (2, x, 3.0), "sagittal (anterior left)"))):
            ax = axes[row, col]
            # sagittal: z (mm from voxel 0) grows upwards, head up
            ax.imshow(img, cmap="gray", vmin=-250, vmax=450, aspect=sp[vert] / sp[horiz],
                      origin="lower" if col else "upper")
            if mac.any():
                ax.contour(mac, [0.5], colors="y", linewidths=0.8)
            for v, c in case.courses.items():
                m = np.abs(c[:, near[0]] - near[1]) <= near[2]
                ax.plot(c[m, horiz] / sp[horiz] - lo_h, c[m, vert] / sp[vert] - lo_v, "o", ms=3, mfc="none",
                        color="lime" if v == "LCX" else "cyan", mew=0.8)
            ax.set_xlim(-0.5, img.shape[1] - 0.5)
            ax.set_ylim((-0.5, img.shape[0] - 0.5) if col else (img.shape[0] - 0.5, -0.5))
            ax.set_title(f"{name[-4:]} seed {seed} {tag}: z {z:.0f} mm; MAC {len(case.mac_blobs)} spheres, "
                         f"{au:.0f} AU", fontsize=7)
            ax.axis("off")
    fig.suptitle("Hybrid MAC (yellow) on the real annulus; LCX course green, other courses cyan; 100 mm crops, "
                 "W 700 / L 100", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


# ------------------------------------------------------------------ metrics
def ratio(t: np.ndarray, p: np.ndarray) -> float:
    """Constant-mean MSE / model MSE (the project's ratio) of one vessel's (n,) AU; for (n, 4), each vessel divided
    by its truth maximum and the four averaged (as evaluation's all4 mse_norm)."""
    if t.ndim == 2:
        s = np.maximum(t.max(0), 1.0)
        t, p = t / s, p / s
    mse = float(np.mean((p - t) ** 2))
    const = float(np.mean((t - t.mean(0)) ** 2))
    return const / mse if mse > 0 else float("inf")


def kappa4(t: np.ndarray, p: np.ndarray) -> float:
    a, b = risk_category4(t), risk_category4(p)
    if len(t) < 2 or len(np.unique(np.concatenate([a, b]))) < 2:
        return float("nan")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return weighted_kappa(t, p)


def metrics(h: pd.DataFrame) -> dict[str, float]:
    """The bench's numbers for a set of hybrid rows of one model (hybrids.csv columns)."""
    t = h[[f"truth_{v}" for v in VESSELS]].to_numpy(float)
    p = h[[f"pred_{v}" for v in VESSELS]].to_numpy(float)
    out = {"n": len(h), "agreement_total": float(np.mean(risk_category4(t.sum(1)) == risk_category4(p.sum(1)))),
           "kappa4_total": kappa4(t.sum(1), p.sum(1)), "ratio_all4": ratio(t, p),
           "found_frac_total": float(h["found_total"].sum() / max(t.sum(), 1e-9)),
           "fp_au_mean": float(h["fp_total"].mean())}
    for j, v in enumerate(VESSELS):
        out[f"kappa4_{v}"] = kappa4(t[:, j], p[:, j])
        out[f"ratio_{v}"] = ratio(t[:, j], p[:, j])
        out[f"agreement_{v}"] = float(np.mean(risk_category4(t[:, j]) == risk_category4(p[:, j])))
        out[f"found_frac_{v}"] = float(h[f"found_right_{v}"].sum() / max(t[:, j].sum(), 1e-9))
    return out


def bootstrap(h: pd.DataFrame, models: list[str], n_boot: int, seed: int = 0) -> dict:
    """2.5 / 97.5 % bootstrap intervals of each model's metrics, resampling hybrids (series x seed) with
    replacement, the same resamples for every model (so the paired difference to the first model is given too)."""
    keys = sorted(set(zip(h["series"], h["seed"])))
    rng = np.random.default_rng(seed)
    per = {m: h[h["model"] == m].set_index(["series", "seed"]).loc[keys].reset_index() for m in models}
    draws = {m: [] for m in models}
    for _ in range(n_boot):
        idx = rng.integers(0, len(keys), len(keys))
        for m in models:
            draws[m].append(metrics(per[m].iloc[idx]))
    out = {}
    for m in models:
        d = pd.DataFrame(draws[m])
        out[m] = {k: [float(np.nanpercentile(d[k], 2.5)), float(np.nanpercentile(d[k], 97.5))] for k in d.columns if k != "n"}
        if m != models[0]:
            d0 = pd.DataFrame(draws[models[0]])
            diff = d - d0
            out[f"{m} - {models[0]}"] = {k: [float(np.nanpercentile(diff[k], 2.5)), float(np.nanpercentile(diff[k], 97.5))]
                                         for k in d.columns if k != "n"}
    return out


# ------------------------------------------------------------------ run
def series_landmarks(path: Path | None, name: str) -> dict | None:
    """The course anchors of one series from a landmarks JSON (docs/hybrid_landmarks.json); None when path is None
    (--no-landmarks) or the file lacks the series (its courses are then found by rays). A named file that is missing
    is an error: session 24 ran hybrids from a copy of src + bench without docs/, every course silently fell back to
    rays and the 0002 hybrids at seeds 0-4 changed truth (seed 0 RCA 410 -> 385 AU) and kappa4 (0.80 -> 1.00)."""
    if path is None:
        return None
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no landmarks file (pass --no-landmarks for ray courses)")
    entry = json.loads(path.read_text()).get(name)
    return entry["courses"] if entry else None


def _models(specs: list[str]) -> dict[str, Path]:
    out = {}
    for s in specs:
        name, eq, path = s.partition("=")  # the first "=": a model spec may hold more (bench/voxel_split.py own=1)
        if not eq or "/" in name:
            name, path = "", s
        out[name or Path(path).name] = Path(path)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--series", nargs="+", default=["lidc-idri-0001", "lidc-idri-0002", "lidc-idri-0003"])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1 (a run split in parts)")
    ap.add_argument("--model", nargs="+", default=[f"shipped={DEFAULT_MODEL}"], help="[NAME=]DIR of lesion models")
    ap.add_argument("--out", type=Path, default=None, help="folder for the CSV tables and summary.json")
    ap.add_argument("--picture", type=Path, default=None)
    ap.add_argument("--courses-picture", default=None, help="PREFIX: writes PREFIX_<series>.png per series")
    ap.add_argument("--boot", type=int, default=2000)
    ap.add_argument("--static", action="store_true", help="plaques without the motion smear (insert_plaques motion=False)")
    ap.add_argument("--pictures-only", action="store_true", help="only the pictures (seed 0 hybrids), no scoring")
    ap.add_argument("--mac", action="store_true", help="insert mitral annular calcification into every hybrid "
                    "(insert_plaques mac=True: the same plaques and truth, plus non-coronary MAC on the annulus); "
                    "reports the MAC AU each model calls coronary")
    ap.add_argument("--mac-picture", type=Path, default=None, help="with --pictures-only --mac: PNG of 3 hybrids "
                    "(seeds first-seed..+2) per series with their MAC (mac_picture)")
    ap.add_argument("--landmarks", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "hybrid_landmarks.json",
                    help="course anchors per series (JSON); series not in it get ray courses")
    ap.add_argument("--no-landmarks", action="store_true", help="every course found by rays (the pre-session-9 courses)")
    a = ap.parse_args(argv)
    if a.no_landmarks:
        a.landmarks = None
    if a.pictures_only:
        cases = []
        for name in a.series:
            vol = read_ct(a.data / name)
            sp = tuple(abs(float(s)) for s in vol.spacing_mm)
            anatomy = read_chest(vol.hu, sp)
            if a.mac_picture:
                macs = [(name, sd, insert_plaques(vol.hu, sp, anatomy, sd, motion=not a.static, mac=True,
                                                  landmarks=series_landmarks(a.landmarks, name)), sp, anatomy)
                        for sd in range(a.first_seed, a.first_seed + 3)]
                mac_picture(macs, a.mac_picture.with_name(f"{a.mac_picture.stem}_{name}.png"))
                continue
            case = insert_plaques(vol.hu, sp, anatomy, 0, motion=not a.static,
                                  landmarks=series_landmarks(a.landmarks, name))
            cases.append((name, 0, case, sp, anatomy))
            if a.courses_picture:
                course_picture(name, vol.hu, sp, anatomy, case.courses, Path(f"{a.courses_picture}_{name}.png"))
        if a.picture:
            picture(cases, a.picture)
        return 0
    models = {n: load_model(p) for n, p in _models(a.model).items()}
    tmp = tempfile.TemporaryDirectory(prefix="hybrids_")
    rows, plaques, fps, for_picture = [], [], [], []
    for name in a.series:
        vol = read_ct(a.data / name)
        sp = tuple(abs(float(s)) for s in vol.spacing_mm)
        anatomy = read_chest(vol.hu, sp)
        cand, classes = classify_many(vol.hu, sp, models)
        for m, model in models.items():
            nat = score_case(model, vol.hu, sp, None, anatomy, (cand, classes[m]))
            fps.append(nat["fp"].assign(model=m, series=name, seed=-1))
            print(f"{name} [{m}] un-modified: AU called coronary " + ", ".join(
                f"{k} {nat['fp'].loc[nat['fp']['kind'] == k, 'au'].sum():.1f}" for k in KINDS), flush=True)
        for seed in range(a.first_seed, a.first_seed + a.seeds):
            case = insert_plaques(vol.hu, sp, anatomy, seed, motion=not a.static, mac=a.mac,
                                  landmarks=series_landmarks(a.landmarks, name))
            if seed == a.first_seed and a.courses_picture:
                course_picture(name, vol.hu, sp, anatomy, case.courses, Path(f"{a.courses_picture}_{name}.png"))
            f = Path(tmp.name) / f"{name}_hybrid{seed}.nii.gz"
            _write_nifti(f, case.hu, vol)
            back = read_ct(f)
            if not np.array_equal(back.hu, case.hu):
                raise SystemExit(f"{f}: NIfTI round trip changed the image")
            cand, classes = classify_many(back.hu, sp, models)
            for m, model in models.items():
                r = score_case(model, back.hu, sp, case, anatomy, (cand, classes[m]))
                row = {"model": m, "series": name, "seed": seed, "n_plaques": len(case.plaques),
                       "n_dropped": len(case.dropped), "found_total": r["found_total"], "fp_total": r["fp"]["au"].sum()}
                row.update({f"truth_{v}": case.truth[v] for v in VESSELS})
                row.update({f"pred_{v}": r["pred"][v] for v in VESSELS})
                row.update({f"found_right_{v}": r["found_right_vessel"][v] for v in VESSELS})
                row.update({f"found_any_{v}": r["found_any_vessel"][v] for v in VESSELS})
                row.update({f"fp_{k}": r["fp"].loc[r["fp"]["kind"] == k, "au"].sum() for k in KINDS})
                row.update(r.get("mac", {}))
                rows.append(row)
                plaques.append(r["plaques"].assign(model=m, series=name, seed=seed))
                fps.append(r["fp"].assign(model=m, series=name, seed=seed))
                print(f"  seed {seed} [{m}]: {len(case.plaques)} plaques; truth "
                      + ", ".join(f"{v} {case.truth[v]:.0f}" for v in VESSELS)
                      + "; predicted " + ", ".join(f"{v} {r['pred'][v]:.0f}" for v in VESSELS)
                      + f"; inserted AU found {r['found_total']:.0f}; FP {row['fp_total']:.1f}"
                      + (f"; MAC {row['mac_au']:.0f} AU, called coronary {row['mac_called_au']:.0f}"
                         if "mac_au" in row else ""), flush=True)
            if len(for_picture) < len(a.series) and (not for_picture or for_picture[-1][0] != name):
                for_picture.append((name, seed, case, sp, anatomy))
    tmp.cleanup()
    if a.picture:
        picture(for_picture, a.picture)
        print(f"picture: {a.picture}")
    h, pl, fp = pd.DataFrame(rows), pd.concat(plaques, ignore_index=True), pd.concat(fps, ignore_index=True)
    summary = report(h, pl, fp, list(models), a.boot)
    if a.out:
        a.out.mkdir(parents=True, exist_ok=True)
        h.to_csv(a.out / "hybrids.csv", index=False)
        pl.to_csv(a.out / "plaques.csv", index=False)
        fp.to_csv(a.out / "fp.csv", index=False)
        (a.out / "summary.json").write_text(json.dumps(summary, indent=1))
    return 0


def _ci(summary: dict, m: str, k: str) -> str:
    lo, hi = summary["bootstrap"][m][k]
    return f"{summary['all'][m][k]:.2f} [{lo:.2f}, {hi:.2f}]"


def report(h: pd.DataFrame, pl: pd.DataFrame, fp: pd.DataFrame, models: list[str], n_boot: int) -> dict:
    """Prints the markdown tables and returns the summary (all hybrids, per series, bootstrap)."""
    s = {"all": {m: metrics(h[h["model"] == m]) for m in models},
         "per_series": {m: {ser: metrics(g) for ser, g in h[h["model"] == m].groupby("series")} for m in models},
         "bootstrap": bootstrap(h, models, n_boot)}
    print(f"\n{h['seed'].nunique()} seeds x {h['series'].nunique()} series; [2.5, 97.5] % bootstrap over hybrids\n")
    print("| model | total category agreement | kappa4 total | ratio all4 | inserted AU found (right vessel) | "
          "kappa4 LCA / LAD / LCX / RCA | ratio LCA / LAD / LCX / RCA |")
    print("| --- | ---: | ---: | ---: | ---: | --- | --- |")
    for m in models:
        a = s["all"][m]
        print(f"| {m} | {_ci(s, m, 'agreement_total')} | {_ci(s, m, 'kappa4_total')} | {_ci(s, m, 'ratio_all4')} | "
              f"{_ci(s, m, 'found_frac_total')} | " + " / ".join(f"{a[f'kappa4_{v}']:.2f}" for v in VESSELS) + " | "
              + " / ".join(f"{a[f'ratio_{v}']:.2f}" for v in VESSELS) + " |")
    for m in models[1:]:
        d = s["bootstrap"][f"{m} - {models[0]}"]
        print(f"\npaired difference {m} - {models[0]}: " + ", ".join(
            f"{k} [{d[k][0]:.2f}, {d[k][1]:.2f}]" for k in ("agreement_total", "kappa4_total", "ratio_all4",
                                                               "found_frac_total")))
    print("\n| model | series | hybrids | truth total AU (range) | agreement | kappa4 total | inserted AU found "
          "LCA / LAD / LCX / RCA (of truth) | FP AU per hybrid |")
    print("| --- | --- | ---: | --- | ---: | ---: | --- | ---: |")
    for m in models:
        for ser, g in h[h["model"] == m].groupby("series"):
            t = g[[f"truth_{v}" for v in VESSELS]].sum(axis=1)
            found = " / ".join(f"{g[f'found_right_{v}'].sum():.0f} of {g[f'truth_{v}'].sum():.0f}" for v in VESSELS)
            ps = s["per_series"][m][ser]
            print(f"| {m} | {ser} | {len(g)} | {t.min():.0f}-{t.max():.0f} | {ps['agreement_total']:.2f} | "
                  f"{ps['kappa4_total']:.2f} | {found} | {g['fp_total'].mean():.1f} |")
    if "mac_au" in h.columns:
        print("\nInserted mitral annular calcification (non-coronary) called coronary:\n")
        print("| model | series | hybrids with MAC | MAC AU | MAC candidates | called coronary AU (candidates) | "
              "as LCA / LAD / LCX / RCA |")
        print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
        for m in models:
            for ser, g in h[h["model"] == m].groupby("series"):
                print(f"| {m} | {ser} | {int((g['mac_candidates'] > 0).sum())} | {g['mac_au'].sum():.0f} | "
                      f"{int(g['mac_candidates'].sum())} | {g['mac_called_au'].sum():.0f} ({int(g['mac_called_n'].sum())}) | "
                      + " / ".join(f"{g[f'mac_called_{v}'].sum():.0f}" for v in VESSELS) + " |")
    print("\nFalse-positive AU by kind of native calcium (un-modified series; mean per hybrid in brackets):\n")
    print("| model | series | " + " | ".join(KINDS) + " |")
    print("| --- | --- |" + " ---: |" * len(KINDS))
    for m in models:
        for ser in sorted(h["series"].unique()):
            nat = fp[(fp["model"] == m) & (fp["series"] == ser) & (fp["seed"] == -1)]
            hy = h[(h["model"] == m) & (h["series"] == ser)]
            print(f"| {m} | {ser} | " + " | ".join(
                f"{nat.loc[nat['kind'] == k, 'au'].sum():.1f} ({hy[f'fp_{k}'].mean():.1f})" for k in KINDS) + " |")
    print("\nInserted-plaque candidates not called coronary, by the rule that decided (AU; count):\n")
    print("| model | truth vessel | candidates | AU | missed AU | distance reach | z range | thorax margin | "
          + " | ".join(RULE_NAMES) + " | MLP said non-coronary (no rule) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |" + " ---: |" * (len(RULE_NAMES) + 1))
    for m in models:
        for v in VESSELS:
            g = pl[(pl["model"] == m) & (pl["truth_vessel"] == v)]
            miss = g[g["class"] == "non-coronary"]
            ruled = [miss["rule_distance"], miss["rule_z_range"], miss["rule_chest_wall"]] + [
                miss.get(f"verdict_{n.replace(' ', '_')}", pd.Series(False, index=miss.index)) for n in RULE_NAMES]
            any_rule = np.zeros(len(miss), bool)
            cells = []
            for r in ruled:
                r = r.astype(bool).to_numpy()
                cells.append(f"{miss['au'][r].sum():.0f}; {r.sum()}")
                any_rule |= r
            cells.append(f"{miss['au'][~any_rule].sum():.0f}; {(~any_rule).sum()}")
            print(f"| {m} | {v} | {len(g)} | {g['au'].sum():.0f} | {miss['au'].sum():.0f} | " + " | ".join(cells) + " |")
    print("\nInserted-plaque candidates: AU by truth vessel (rows) and the class given (columns):\n")
    classes = ("non-coronary", *VESSELS)
    print("| model | truth | " + " | ".join(classes) + " |")
    print("| --- | --- |" + " ---: |" * len(classes))
    for m in models:
        for v in VESSELS:
            g = pl[(pl["model"] == m) & (pl["truth_vessel"] == v)]
            print(f"| {m} | {v} | " + " | ".join(f"{g.loc[g['class'] == c, 'au'].sum():.0f}" for c in classes) + " |")
    return s


if __name__ == "__main__":
    raise SystemExit(main())
