"""Look-alike calcium called coronary, by kind, through the public scoring path (issue 16's done-when table).

    PYTHONPATH=src nice -n 10 python bench/lookalike_calls.py RELEASE OUT [--model DIR] [--ids 1-100]
        [--rule NAME]

RELEASE: a phantom release (``cacscore phantom RELEASE --patients N --seed S --size 512 --anatomy v11``): its
DICOM series (deidentified_nongated/<pid>/<pid>), coronary calcium labels (labels/<pid>.nii.gz), anatomy label
volume (anatomy/<pid>.nii.gz, cacscore.phantom.anatomy.ANATOMY_LABELS) and truth.csv. --model: a lesion model
folder (default: the shipped one, cacscore.predict.predictors.DEFAULT_MODEL).

Every patient is scored the way ``cacscore predict`` / ``lesion-score`` score a scan: ``read_ct`` of the series
folder, then ``LesionPredictor(model).score(volume)`` (candidates, the MLP, the anatomy rules, the voxel split);
its ``labels`` (the vessel of every calcium voxel it counted) and ``candidates`` are what is tabulated. Each
candidate (a 26-connected component of the predictor's candidate mask) gets a kind (:func:`candidate_kinds`):

1. ``coronary``: the phantom's coronary labels cover most of it (``lesion.candidate_targets``, the training
   targets' rule);
2. a drawn look-alike: the calcium label (aortic wall 30, cartilage 31, aortic valve 32, MAC 33, node 34,
   granuloma 35) that covers the most of its voxels, at least a quarter (the phantom paints calcium blobs at
   quarter coverage), within ``SLACK_MM`` in-plane (and the slices within it): the valve and MAC move with the
   heart in the written series (<= 1.75 mm) while the anatomy labels are motion-free; aortic wall calcium is split
   by the aortic segment labelled most within ``SEGMENT_MM`` of it (root/ascending, arch, descending, abdominal);
3. otherwise the majority anatomy label under it, grouped (costal cartilage, bone, abdominal organs, heart
   without a calcium label, other).

Each candidate's Agatston is computed as the scorer's ``agatston`` does (8-connected per slice, per vessel, the
model's threshold and minimum area, slice factor dz / 3): AU called coronary per vessel is that of the voxels the
predictor labelled; the per-patient sums are checked against the predictor's own scores (``check_au``).

Writes OUT/cache/<pid>.npz (one per patient; a rerun resumes), OUT/table.json and OUT/table.md (by kind: patients
with it, candidates, AU, candidates called coronary, AU called coronary and per vessel, patients with a call; then
the coronary AU found / missed). ``--rule NAME``: score with an opt-in rule switched on in the model's
AnatomyRules (see RULES), for a pre-registered comparison.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).parent))
from id_ranges import id_range  # noqa: E402

from cacscore import lesion as L  # noqa: E402
from cacscore.core.fileio import atomic_path, atomic_write_text
from cacscore.core.vessels import VESSELS
from cacscore.io.ct import read_ct, read_labels
from cacscore.phantom.anatomy import LABEL

KINDS = ("coronary", "aortic wall: root/ascending", "aortic wall: arch", "aortic wall: descending",
         "aortic wall: abdominal", "aortic valve", "mitral annulus (MAC)", "costal cartilage", "lymph node",
         "lung granuloma", "abdominal organs", "bone", "heart, no calcium label", "CT table", "other")
"""What a candidate lies on (index into this)."""
K = {k: i for i, k in enumerate(KINDS)}
SLACK_MM = 2.0
"""In-plane reach of a calcium label over a candidate (the heart layer's motion, <= 1.75 mm, plus a bit)."""
SEGMENT_MM = 6.0
"""Reach within which the aortic segment label of a wall-calcium candidate is counted."""

_CALCIUM = {LABEL["aortic_wall_calcium"]: None, LABEL["cartilage_calcium"]: K["costal cartilage"],
            LABEL["aortic_valve_calcium"]: K["aortic valve"], LABEL["mitral_annulus_calcium"]: K["mitral annulus (MAC)"],
            LABEL["lymph_node"]: K["lymph node"], LABEL["lung_granuloma"]: K["lung granuloma"]}
_SEGMENTS = {LABEL["aorta_ascending"]: K["aortic wall: root/ascending"], LABEL["aorta_arch"]: K["aortic wall: arch"],
             LABEL["aorta_descending"]: K["aortic wall: descending"],
             LABEL["aorta_abdominal"]: K["aortic wall: abdominal"]}
_GROUPS = {"costal cartilage": ("costal_cartilage",),
           "abdominal organs": ("liver", "abdomen", "spleen", "stomach", "ivc", "aorta_abdominal"),
           "bone": ("vertebra", "rib", "sternum", "scapula", "clavicle", "humerus"),
           "heart, no calcium label": ("heart", "epicardial_fat", "pericardium", "coronary_artery", "pulmonary_vein"),
           "CT table": ("table",)}
_MAJORITY = np.full(256, K["other"], np.int64)
for _k, _names in _GROUPS.items():
    for _n in _names:
        _MAJORITY[LABEL[_n]] = K[_k]


def _ball(rz: int, ry: int, rx: int) -> np.ndarray:
    z, y, x = np.ogrid[-rz:rz + 1, -ry:ry + 1, -rx:rx + 1]
    return (z / max(rz, 1)) ** 2 * (rz > 0) + (y / max(ry, 1)) ** 2 + (x / max(rx, 1)) ** 2 <= 1.0 + 1e-9


def candidate_kinds(comp: np.ndarray, n: int, coronary: np.ndarray, anatomy: np.ndarray,
                    spacing_mm: tuple[float, float, float]) -> np.ndarray:
    """(n,) index into KINDS of each candidate of ``comp`` (1..n, (z, y, x)); coronary: the release's vessel labels
    (0..4), anatomy: its anatomy labels (ANATOMY_LABELS), both on comp's grid; spacing_mm (z, y, x)."""
    out = np.full(n, K["other"], np.int64)
    if n == 0:
        return out
    targets = L.candidate_targets(comp, coronary)
    dz, dy, dx = spacing_mm
    r = (int(round(SLACK_MM / dz)), max(1, int(round(SLACK_MM / dy))), max(1, int(round(SLACK_MM / dx))))
    rs = (int(round(SEGMENT_MM / dz)), int(round(SEGMENT_MM / dy)), int(round(SEGMENT_MM / dx)))
    ball = _ball(*r)
    boxes = ndimage.find_objects(comp)
    for i, box in enumerate(boxes):
        if box is None:
            continue
        if targets[i] > 0:
            out[i] = K["coronary"]
            continue
        pad = tuple(slice(max(s.start - q, 0), min(s.stop + q, m)) for s, q, m in zip(box, rs, comp.shape))
        me = comp[pad] == i + 1
        a = anatomy[pad]
        size = me.sum()
        best, best_frac = None, 0.0
        for lab in np.intersect1d(np.unique(a), list(_CALCIUM)):
            near = ndimage.binary_dilation(a == lab, structure=ball)
            frac = (near & me).sum() / size
            if frac > best_frac:
                best, best_frac = int(lab), frac
        if best is not None and best_frac >= 0.25:
            if _CALCIUM[best] is not None:
                out[i] = _CALCIUM[best]
                continue
            seg = np.bincount(a[ndimage.binary_dilation(me, structure=_ball(*rs))].ravel(), minlength=256)
            segs = np.array(list(_SEGMENTS))
            out[i] = _SEGMENTS[int(segs[seg[segs].argmax()])] if seg[segs].sum() else K["aortic wall: root/ascending"]
            continue
        out[i] = _MAJORITY[np.bincount(a[me].ravel(), minlength=256).argmax()]
    return out


def lesion_au(hu: np.ndarray, key: np.ndarray, spacing_mm: tuple[float, float, float], threshold_hu: float,
              min_area_mm2: float, n_keys: int) -> np.ndarray:
    """(n_keys,) Agatston of each key (1..n_keys of a (z, y, x) int volume, 0 = none) as
    ``scoring.agatston.agatston`` counts it: 8-connected lesions per slice of voxels >= threshold, split by key,
    area >= min_area_mm2, weight from the peak, times dz / 3."""
    from cacscore.scoring.agatston import agatston_weight

    dz, dy, dx = spacing_mm
    sel = (key > 0) & (hu >= threshold_hu)
    out = np.zeros(n_keys + 1)
    if not sel.any():
        return out[1:]
    s2 = np.zeros((3, 3, 3), bool)
    s2[1] = True  # 8-connected within a slice, as agatston(connectivity="2d")
    lab, m = ndimage.label(sel, structure=s2)
    z = np.nonzero(sel)
    lab_v = lab[z].astype(np.int64)
    key_v = key[z].astype(np.int64)
    kmin = ndimage.minimum(key_v, lab_v, np.arange(1, m + 1))
    kmax = ndimage.maximum(key_v, lab_v, np.arange(1, m + 1))
    impure = np.flatnonzero(np.asarray(kmin) != np.asarray(kmax)) + 1
    if len(impure):  # lesions that mix keys: each key's part is labelled on its own (it may fall apart)
        nxt = m + 1
        at = np.isin(lab_v, impure)
        for k in np.unique(key_v[at]):
            w = at & (key_v == k)
            sub = np.zeros(sel.shape, bool)
            sub[tuple(c[w] for c in z)] = True
            sl, ns = ndimage.label(sub, structure=s2)
            lab_v[w] = sl[tuple(c[w] for c in z)] + nxt - 1
            nxt += ns
    pair = lab_v * (n_keys + 1) + key_v
    uniq, inv = np.unique(pair, return_inverse=True)
    count = np.bincount(inv)
    peak = np.full(len(uniq), -np.inf)
    np.maximum.at(peak, inv, hu[z])
    area = count * dy * dx
    ok = (area >= min_area_mm2) | np.isclose(area, min_area_mm2, rtol=1e-9, atol=0.0)
    score = np.where(ok, area * np.asarray(agatston_weight(peak, threshold_hu=threshold_hu)).reshape(-1) * dz / 3.0, 0)
    np.add.at(out, uniq % (n_keys + 1), score)
    return out[1:]


def patient_rows(hu: np.ndarray, spacing_mm, candidates: np.ndarray, vessel_labels: np.ndarray, coronary: np.ndarray,
                 anatomy: np.ndarray, threshold_hu: float, min_area_mm2: float) -> dict[str, np.ndarray]:
    """Per candidate of one scored scan: kind, AU (all of it) and AU called as each vessel ((n, 4))."""
    comp, n = ndimage.label(candidates, structure=np.ones((3, 3, 3), bool))
    kind = candidate_kinds(comp, n, coronary, anatomy, spacing_mm)
    au = lesion_au(hu, comp, spacing_mm, threshold_hu, min_area_mm2, n)
    key = np.where(vessel_labels > 0, comp.astype(np.int64) * 5 + vessel_labels, 0)
    called = np.concatenate([[0.0], lesion_au(hu, key, spacing_mm, threshold_hu, min_area_mm2, 5 * n + 4)]
                            ).reshape(n + 1, 5)[1:, 1:] if n else np.zeros((0, 4))
    return {"kind": kind, "au": au, "called_au": called}


# ------------------------------------------------------------------ opt-in rules compared on a release
RULES: dict[str, dict] = {"above_root_25": {"above_root_outside_mm": 25.0},
                          # session 18 (wt26a): the contrast-lumen rule's structure floor 60 -> 35 mm^3; FAILED its
                          # pre-registered test (an inserted 42 mm^3 RCA plaque under the lumen on 0001; docs/
                          # lesion_scorer.md, "The coronary calls left on the contrast series (session 18, wt26a)")
                          "lumen_35": {"lumen_structure_mm3": 35.0},
                          # session 18 (lead): session 11's mitral-annulus rule (AnatomyRules.mitral_annulus, off by
                          # default) measured again with the v11 model and anatomy
                          "mitral": {"mitral_annulus": True},
                          # session 22 (wt30a): the aortic-wall rule's root exemption read with the pericardial mask
                          # (AnatomyRules.root_clear_in_sac_mm; docs/lesion_scorer.md, "The aortic-wall rule at the
                          # root (session 22, wt30a)")
                          "root_sac_40": {"root_clear_in_sac_mm": 40.0},
                          # session 23 (wt31a): the below-the-diaphragm margin for a diaphragm found under the heart
                          # (chest_sac "s23"): 15 mm was set against the lung floors' surface, ~7 mm too high under the
                          # heart on phantoms (docs/chest_anatomy.md "(session 23, wt31a)")
                          "below_dia_10": {"below_diaphragm_mm": 10.0}}
"""name -> AnatomyRules fields switched for ``--rule`` (filled in as rules are pre-registered)."""


def with_rules(model, rule: str | None):
    """``model`` (a LesionModel) reading the default AnatomyRules with RULES[rule]'s fields switched (None: the
    model itself). LesionModel.rules is a class property (the defaults; a model records no rule settings): this
    one model object gets a subclass whose property returns the switched ones, so may_be_coronary (the verdicts)
    and the MAC-ring step both read them. In place; returns the model."""
    if rule:
        rules = dataclasses.replace(model.rules, **RULES[rule])
        model.__class__ = type("RuledLesionModel", (type(model),), {"rules": property(lambda _: rules)})
    return model


def _predictor(model_dir: Path, rule: str | None):
    from cacscore.predict.predictors import LesionPredictor

    pred = LesionPredictor(model_dir)
    with_rules(pred.model, rule)
    return pred


def score_patient(release: Path, pid: str, predictor) -> dict[str, np.ndarray]:
    """One release patient scored as ``predictor.score`` (LesionPredictor.score) scores it: the same calls
    (classify_volume, vessel_labels, score_assignment; tested equal), kept apart so that each candidate's parent
    (the scorer's own candidate under most of its voxels), its MLP probabilities, anatomy columns and rule verdicts
    can be recorded too (``parent_*``)."""
    from cacscore.lesion.anatomy import anatomy_verdicts
    from cacscore.lesion.train import NONGATED_DIR  # the release layout's series folder

    vol = read_ct(release / NONGATED_DIR / pid / pid)
    sp = tuple(abs(float(v)) for v in vol.spacing_mm)
    m = predictor.model
    cand, classes = L.classify_volume(vol.hu, sp, m)
    labels = L.vessel_labels(vol.hu, cand, classes, m)
    scores = L.score_assignment(vol.hu, cand, classes, labels=labels)
    coronary = read_labels(release / "labels" / f"{pid}.nii.gz")
    anatomy = read_labels(release / "anatomy" / f"{pid}.nii.gz")
    if coronary.shape != vol.hu.shape or anatomy.shape != vol.hu.shape:
        raise ValueError(f"{pid}: label shapes {coronary.shape} / {anatomy.shape} do not match the series "
                         f"{vol.hu.shape}")
    rows = patient_rows(vol.hu, sp, cand.ids > 0, labels, coronary, anatomy, m.threshold_hu, m.min_area_mm2)
    rows["scores"] = np.array([scores[v] for v in VESSELS], float)
    comp, n = ndimage.label(cand.ids > 0, structure=np.ones((3, 3, 3), bool))
    sel = comp > 0
    pair = np.unique(comp[sel].astype(np.int64) * (cand.n + 1) + cand.ids[sel], return_counts=True)
    parent = np.zeros(n, np.int64)
    best = np.zeros(n, np.int64)
    for key, c in zip(*pair):
        k, par = divmod(int(key), cand.n + 1)
        if c > best[k - 1]:
            best[k - 1], parent[k - 1] = c, par - 1
    table_ = m.table(cand.features, cand.anatomy_columns)
    proba = m.predict_proba(table_)
    rows["parent_class"] = classes[parent] if n else np.zeros(0, np.int64)
    rows["parent_proba"] = proba[parent] if n else np.zeros((0, 5), np.float32)
    rows["parent_may"] = m.may_be_coronary(table_, cand.outside_thorax_mm, cand.anatomy_columns)[parent] \
        if n else np.zeros(0, bool)
    if cand.anatomy_columns is not None and n:
        rows["parent_anatomy"] = cand.anatomy_columns[parent].astype(np.float32)
        rows["parent_verdicts"] = anatomy_verdicts(cand.anatomy_columns, m.rules)[parent]
    rows["parent_features"] = cand.features[parent].astype(np.float32) if n else np.zeros((0, cand.features.shape[1]))
    zyx = ndimage.center_of_mass(sel, comp, np.arange(1, n + 1)) if n else []
    rows["centroid"] = np.array(zyx, np.float32).reshape(-1, 3)
    return rows


def check_au(rows: dict[str, np.ndarray]) -> float:
    """Largest |predictor's per-vessel score - sum of the candidates' called AU| of one patient."""
    return float(np.abs(rows["called_au"].sum(0) - rows["scores"]).max()) if len(rows["kind"]) else \
        float(np.abs(rows["scores"]).max())


def table(per_patient: dict[str, dict[str, np.ndarray]], truth: pd.DataFrame | None = None) -> dict:
    """By kind: patients with it, candidates, AU, called coronary (candidates, AU, AU per vessel, patients)."""
    out: dict = {}
    for j, k in enumerate(KINDS):
        d = {"patients": 0, "candidates": 0, "au": 0.0, "called": 0, "au_called": 0.0,
             "au_called_as": dict.fromkeys(VESSELS, 0.0), "patients_called": 0}
        for r in per_patient.values():
            on = r["kind"] == j
            if not on.any():
                continue
            called = on & (r["called_au"].sum(1) > 0)
            d["patients"] += 1
            d["candidates"] += int(on.sum())
            d["au"] += float(r["au"][on].sum())
            d["called"] += int(called.sum())
            d["au_called"] += float(r["called_au"][on].sum())
            for v, name in enumerate(VESSELS):
                d["au_called_as"][name] += float(r["called_au"][on, v].sum())
            d["patients_called"] += int(called.any())
        out[k] = d
    if truth is not None:
        out["_truth_total_au"] = float(truth["total"].sum())
        if "moving_total" in truth:
            out["_truth_moving_total_au"] = float(truth["moving_total"].sum())
    out["_patients"] = len(per_patient)
    out["_max_au_check"] = max((check_au(r) for r in per_patient.values()), default=0.0)
    return out


def markdown(t: dict) -> str:
    lines = ["| kind | patients | candidates | AU | called coronary | AU called coronary | as LCA / LAD / LCX / RCA "
             "| patients with a call |", "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
    for k in KINDS:
        d = t[k]
        if not d["candidates"]:
            continue
        as_ = " / ".join(f"{d['au_called_as'][v]:,.0f}" for v in VESSELS)
        name = f"**{k}** (true)" if k == "coronary" else k
        lines.append(f"| {name} | {d['patients']} | {d['candidates']} | {d['au']:,.0f} | {d['called']} "
                     f"| {d['au_called']:,.0f} | {as_} | {d['patients_called']} |")
    c = t["coronary"]
    look = sum(t[k]["au_called"] for k in KINDS if k != "coronary")
    lines.append("")
    lines.append(f"{t['_patients']} patients. Coronary: truth {t.get('_truth_total_au', float('nan')):,.0f} AU "
                 f"(moving {t.get('_truth_moving_total_au', float('nan')):,.0f}); candidates on it "
                 f"{c['au']:,.0f} AU, found (called coronary) {c['au_called']:,.0f} AU, missed (called non-coronary) "
                 f"{c['au'] - c['au_called']:,.0f} AU. Non-coronary AU called coronary: {look:,.0f}. Largest "
                 f"per-patient |predictor score - table sum|: {t['_max_au_check']:.3g} AU.")
    return "\n".join(lines)


def parse_ids(s: str | None, available: list[str]) -> list[str]:
    """The release's patients named by ``s`` (bench/id_ranges.py's "1-30,42"; None: all ``available``)."""
    if not s:
        return available
    return [p for p in map(str, id_range(s)) if p in available]


def main(argv: list[str] | None = None) -> int:
    from cacscore.predict.predictors import DEFAULT_MODEL

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("release", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--ids", help="e.g. 1-100 (default: every patient of labels/)")
    ap.add_argument("--rule", choices=sorted(RULES), help="switch on an opt-in rule (RULES)")
    ap.add_argument("--why", choices=KINDS, help="also list this kind's coronary calls (OUT/why.md)")
    ap.add_argument("--pictures", type=int, default=0, help="with --why: the report picture of the N largest calls")
    a = ap.parse_args(argv)
    cache = a.out / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    avail = sorted((p.name.split(".")[0] for p in (a.release / "labels").glob("*.nii.gz")), key=int)
    pids = parse_ids(a.ids, avail)
    predictor = _predictor(a.model, a.rule)
    per: dict[str, dict[str, np.ndarray]] = {}
    t0 = time.perf_counter()
    for i, pid in enumerate(pids):
        path = cache / f"{pid}.npz"
        if not path.is_file():
            rows = score_patient(a.release, pid, predictor)
            with atomic_path(path, suffix=".npz") as tmp:
                np.savez(tmp, **rows)
        with np.load(path) as z:
            per[pid] = {k: z[k] for k in z.files}
        if (i + 1) % 10 == 0:
            print(f"{i + 1}/{len(pids)} patients, {time.perf_counter() - t0:.0f} s", flush=True)
    truth = None
    if (a.release / "truth.csv").is_file():  # written when the whole release is
        truth = pd.read_csv(a.release / "truth.csv", dtype={"id": str})
        truth = truth[truth["id"].isin(pids)]
    t = table(per, truth)
    t["_meta"] = {"release": str(a.release), "model": str(a.model), "rule": a.rule, "ids": [pids[0], pids[-1]],
                  "n": len(pids)}
    atomic_write_text(a.out / "table.json", json.dumps(t, indent=1) + "\n")
    md = markdown(t)
    atomic_write_text(a.out / "table.md", md + "\n")
    print(md)
    if a.why:
        w = why(per, a.why, predictor.model.rules)
        atomic_write_text(a.out / "why.md", w + "\n")
        print(w)
        if a.pictures:
            pictures(a.release, a.out / "pictures", per, a.why, predictor, a.pictures)
    return 0


def pictures(release: Path, out: Path, per_patient: dict[str, dict[str, np.ndarray]], kind: str, predictor,
             n: int) -> list[Path]:
    """The lesion report picture (cacscore.lesion.report) of the n largest candidates of ``kind`` called coronary,
    centred on it, at its own slice, with the anatomy the scorer used (out/<kind>_<pid>_<i>.png)."""
    from cacscore.lesion.report import render_lesion_report
    from cacscore.lesion.train import NONGATED_DIR

    j = K[kind]
    hits = [(float(r["called_au"][i].sum()), pid, int(i)) for pid, r in per_patient.items()
            for i in np.flatnonzero((r["kind"] == j) & (r["called_au"].sum(1) > 0))]
    paths = []
    for au, pid, i in sorted(hits, reverse=True)[:n]:
        vol = read_ct(release / NONGATED_DIR / pid / pid)
        res = predictor.score(vol)
        c = per_patient[pid]["centroid"][i]
        p = per_patient[pid]["parent_proba"][i]
        name = "".join(ch if ch.isalnum() else "_" for ch in kind)
        paths.append(render_lesion_report(
            vol.hu, tuple(abs(float(v)) for v in vol.spacing_mm), res.labels, res.vessel_scores(),
            out / f"{name}_{pid}_{i}.png", heart_index=c, slices=[int(round(c[0]))],
            title=f"patient {pid}: {kind} candidate {i} ({au:.0f} AU) at the crop's centre, p(non/LCA/LAD/LCX/RCA) "
                  + "/".join(f"{x:.2f}" for x in p),
            candidates=res.candidates, threshold_hu=predictor.model.threshold_hu, anatomy=res.anatomy))
    return paths



# ------------------------------------------------------------------ why: a kind's coronary calls against the true ones
def why(per_patient: dict[str, dict[str, np.ndarray]], kind: str, rules=None) -> str:
    """Each candidate of ``kind`` called coronary (patient, AU, vessel, the MLP's probabilities, which anatomy rule
    would fire with ``rules``, its anatomy columns), then the columns' quartiles for them and for the true coronary
    candidates called coronary."""
    from cacscore.lesion.anatomy import ANATOMY_NAMES, RULE_NAMES, AnatomyRules, anatomy_verdicts

    rules = rules or AnatomyRules()
    j = K[kind]
    out, mine, cor = [], [], []
    cols = ("pericardium_mm", "sac_above_mm", "sac_behind_mm", "sac_left_mm", "above_root_mm", "frame_long_mm",
            "frame_anterior_mm", "frame_side_mm", "aortic_wall_mm", "bone_mm")
    ci = [ANATOMY_NAMES.index(c) for c in cols]
    out.append("| patient | AU | called | p(non, LCA, LAD, LCX, RCA) | rules firing | " + " | ".join(cols) + " |")
    out.append("| --- " * (5 + len(cols)) + "|")
    for pid, r in per_patient.items():
        if "parent_anatomy" not in r:
            continue
        called = r["called_au"].sum(1) > 0
        v = anatomy_verdicts(r["parent_anatomy"], rules)
        for i in np.flatnonzero((r["kind"] == j) & called):
            fire = ", ".join(RULE_NAMES[q] for q in np.flatnonzero(v[i])) or "-"
            vessel = "/".join(VESSELS[q] for q in np.flatnonzero(r["called_au"][i] > 0))
            p = " ".join(f"{x:.2f}" for x in r["parent_proba"][i])
            out.append(f"| {pid} | {r['called_au'][i].sum():.0f} | {vessel} | {p} | {fire} | "
                       + " | ".join(f"{r['parent_anatomy'][i, q]:.1f}" for q in ci) + " |")
            mine.append(r["parent_anatomy"][i, ci])
        for i in np.flatnonzero((r["kind"] == K["coronary"]) & called):
            cor.append(np.r_[r["parent_anatomy"][i, ci], r["called_au"][i].sum(), np.argmax(r["called_au"][i])])
    out.append("")
    for name, rows in ((kind, mine), ("coronary called coronary", cor)):
        if not rows:
            continue
        a = np.array(rows)[:, :len(cols)]
        q = np.nanpercentile(a, [0, 25, 50, 75, 100], axis=0)
        out.append(f"{name} ({len(a)} candidates): " + "; ".join(
            f"{c} {q[0, k]:.0f}/{q[1, k]:.0f}/{q[2, k]:.0f}/{q[3, k]:.0f}/{q[4, k]:.0f}" for k, c in enumerate(cols)))
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
