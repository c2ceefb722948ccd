"""A model with and without a config switch on one phantom release, from one candidate search per patient: look-alike
calls by kind (bench/lookalike_calls.py's table), the true coronary AU each loses, and ratio4 / kappa4 (session 17,
wt25a; docs/lesion_scorer.md "(session 17, wt25a)").

    PYTHONPATH=src nice -n 10 python bench/mac_structure_veto.py RELEASE OUT [--model DIR] [--ids 1-40]
        [--set structure_ring_veto=0.7 ...]

Per patient: ``read_ct`` of the series, the candidates found once (``classify_volume`` with the model as it is:
the "off" classes), then ``LesionModel.classify`` again on the same candidates with the config fields of --set
replaced (the "on" classes; a field that only acts in ``classify`` reads the same candidates either way), each then
labelled as ``LesionPredictor.score`` labels (``vessel_labels``: the voxel split where the model has it) and
tabulated by ``lookalike_calls.patient_rows`` (kind, AU, AU called as each vessel). Writes OUT/off.md, OUT/on.md
(lookalike_calls' table), OUT/pred_{off,on}.csv (per-vessel AU, ``cacscore evaluate``'s format), OUT/truth.csv,
OUT/eval_{off,on}/ (``cacscore evaluate``, bootstrap 1000, seed 0), OUT/summary.json and OUT/cache/<pid>.npz (a
rerun resumes). Printed: MAC AU called coronary, true coronary AU found, the true coronary AU the switch takes
(called coronary off, not on) and gives (the reverse), all look-alike AU called coronary, ratio4 and kappa4.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from id_ranges import id_range  # noqa: E402
from lookalike_calls import KINDS, K, markdown, patient_rows, table  # noqa: E402

from cacscore import lesion as L  # noqa: E402
from cacscore.core.vessels import VESSELS  # noqa: E402
from cacscore.io.ct import read_ct, read_labels  # noqa: E402
from cacscore.lesion.noise import image_noise_hu  # noqa: E402


def parse_set(items: list[str]) -> dict:
    out = {}
    for it in items:
        k, _, v = it.partition("=")
        out[k] = json.loads(v)
    return out


def patient(release: Path, pid: str, off, on) -> dict[str, np.ndarray]:
    from cacscore.lesion.train import NONGATED_DIR

    vol = read_ct(release / NONGATED_DIR / pid / pid)
    sp = tuple(abs(float(v)) for v in vol.spacing_mm)
    # session 20 (wt28a): the scan's noise sd given to both, so that a model with the noise floor (the shipped one
    # since session 19) runs it in the "on" classes too, as classify_volume does in the "off" ones
    noise = image_noise_hu(vol.hu, sp) if (off.config.noise_floor_k is not None
                                          or on.config.noise_floor_k is not None) else None
    cand, c_off = L.classify_volume(vol.hu, sp, off, noise_sd=noise)
    c_on = on.classify(cand.features, cand.outside_thorax_mm, cand.anatomy_columns, cand.structure, cand.agatston,
                       noise_sd=noise,
                       ring_hu=L.classifier.ring_hu_column(vol.hu, cand, on))  # session 19: structure_ring_veto_hu
    coronary = read_labels(release / "labels" / f"{pid}.nii.gz")
    anatomy = read_labels(release / "anatomy" / f"{pid}.nii.gz")
    out: dict[str, np.ndarray] = {}
    for name, m, c in (("off", off, c_off), ("on", on, c_on)):
        labels = L.vessel_labels(vol.hu, cand, c, m)
        scores = L.score_assignment(vol.hu, cand, c, labels=labels)
        rows = patient_rows(vol.hu, sp, cand.ids > 0, labels, coronary, anatomy, m.threshold_hu, m.min_area_mm2)
        for k, v in rows.items():
            out[f"{name}_{k}"] = v
        out[f"{name}_scores"] = np.array([scores[v] for v in VESSELS], float)
    out["changed"] = np.array([int((c_off != c_on).sum())])
    return out


def split(r: dict[str, np.ndarray], name: str) -> dict[str, np.ndarray]:
    return {k[len(name) + 1:]: v for k, v in r.items() if k.startswith(name + "_")}


def main(argv: list[str] | None = None) -> int:
    from cacscore.predict.predictors import DEFAULT_MODEL

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("release", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--ids", help="e.g. 1-40 (default: every patient of truth.csv)")
    ap.add_argument("--set", nargs="+", default=[], help="config FIELD=JSON for the 'on' model")
    a = ap.parse_args(argv)
    cache = a.out / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    off = L.load_model(a.model)
    on = dataclasses.replace(off, config=dataclasses.replace(off.config, **parse_set(a.set)))
    truth = pd.read_csv(a.release / "truth.csv", dtype={"id": str})
    ids = sorted(truth["id"], key=int)
    if a.ids:
        want = set(map(str, id_range(a.ids)))
        ids = [p for p in ids if p in want]
    per: dict[str, dict] = {}
    t0 = time.perf_counter()
    for i, pid in enumerate(ids):
        path = cache / f"{pid}.npz"
        if path.exists():
            r = dict(np.load(path))
        else:
            r = patient(a.release, pid, off, on)
            np.savez_compressed(path, **r)
        per[pid] = r
        print(f"{pid} ({i + 1}/{len(ids)}, {time.perf_counter() - t0:.0f} s): changed {int(r['changed'][0])}; off "
              + "/".join(f"{v:.0f}" for v in r["off_scores"]) + " on " + "/".join(f"{v:.0f}" for v in r["on_scores"]),
              flush=True)
    tr = truth[truth["id"].isin(ids)]
    tr.to_csv(a.out / "truth.csv", index=False)
    summ: dict = {"release": str(a.release), "model": str(a.model), "set": parse_set(a.set), "patients": len(ids)}
    for name in ("off", "on"):
        t = table({p: split(r, name) for p, r in per.items()}, tr)
        (a.out / f"{name}.md").write_text(markdown(t) + "\n", encoding="utf-8")
        pred = pd.DataFrame([{"id": p, **dict(zip(VESSELS, r[f"{name}_scores"])),
                              "total": float(r[f"{name}_scores"].sum())} for p, r in per.items()])
        pred.to_csv(a.out / f"pred_{name}.csv", index=False)
        ev = a.out / f"eval_{name}"
        subprocess.run([sys.executable, "-m", "cacscore.cli", "evaluate", str(a.out / f"pred_{name}.csv"),
                        str(a.out / "truth.csv"), "--out", str(ev), "--bootstrap", "1000", "--seed", "0"],
                       check=True, stdout=subprocess.DEVNULL)
        mt = pd.read_csv(ev / "metrics.csv")
        a4 = mt[(mt["vessel"] == "all4") & (mt["metric"] == "mse_norm")].iloc[0]
        kp = mt[(mt["vessel"] == "total") & (mt["metric"] == "kappa4")].iloc[0]
        summ[name] = {"mac_au_called": t[KINDS[K["mitral annulus (MAC)"]]]["au_called"],
                      "mac_au_called_as": t[KINDS[K["mitral annulus (MAC)"]]]["au_called_as"],
                      "mac_patients_called": t[KINDS[K["mitral annulus (MAC)"]]]["patients_called"],
                      "coronary_au_found": t["coronary"]["au_called"], "coronary_au_candidates": t["coronary"]["au"],
                      "lookalike_au_called": sum(t[k]["au_called"] for k in KINDS if k != "coronary"),
                      "ratio4": float(a4["baseline"] / a4["value"]), "kappa4": float(kp["value"]),
                      "kappa4_ci": [float(kp["ci_low"]), float(kp["ci_high"])]}
    cor = K["coronary"]
    taken = gave = 0.0
    by_patient = []
    for p, r in per.items():
        c = r["off_kind"] == cor
        d = r["off_called_au"].sum(1) - r["on_called_au"].sum(1)
        taken += float(d[c & (d > 0)].sum())
        gave += float(-d[c & (d < 0)].sum())
        mac = r["off_kind"] == K["mitral annulus (MAC)"]
        by_patient.append({"id": p, "mac_off": float(r["off_called_au"][mac].sum()),
                           "mac_on": float(r["on_called_au"][mac].sum()),
                           "cor_taken": float(d[c & (d > 0)].sum()), "changed": int(r["changed"][0])})
    summ["coronary_au_taken"] = taken
    summ["coronary_au_given"] = gave
    bp = pd.DataFrame(by_patient)
    bp.to_csv(a.out / "by_patient.csv", index=False)
    (a.out / "summary.json").write_text(json.dumps(summ, indent=1), encoding="utf-8")
    print(bp[(bp.mac_off > 0) | (bp.cor_taken > 0) | (bp.changed > 0)].round(1).to_string(index=False))
    print(json.dumps(summ, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
