"""The shipped model against the same model with one opt-in anatomy rule, on one candidate search per patient
(session 22, wt30a): per-vessel scores for ``cacscore evaluate`` and the look-alike table by kind, for both.

    PYTHONPATH=src:bench nice -n 10 python bench/rule_pair_check.py RELEASE OUT --rule NAME --ids 1-40 [--model DIR]

What ``bench/lookalike_calls.py RELEASE OUT`` and ``... --rule NAME`` give, and what ``bench/voxel_split.py eval``
gives for the product rows, at the cost of one candidate search instead of two (``hybrid_cases.classify_many``: each
model's classes as classify_volume gives them; the vessel labels and scores as ``LesionPredictor.score``:
``vessel_labels`` with the model's own config, ``score_assignment``). Per patient OUT/cache/<pid>.npz (a rerun
resumes); then OUT/pred_{shipped,rule}.csv, ``cacscore evaluate`` of each against the release's truth (bootstrap
1000, seed 0) in OUT/eval_{shipped,rule}/, OUT/lookalike_{shipped,rule}.md (lookalike_calls.markdown) and
OUT/summary.json: ratio4, kappa4 (total and per vessel), true coronary AU found, non-coronary AU called coronary, and
the patients whose scores differ.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).parent))
import lookalike_calls as B  # noqa: E402
from hybrid_cases import classify_many  # noqa: E402
from id_ranges import id_range  # noqa: E402

from cacscore import lesion as L  # noqa: E402
from cacscore.core.fileio import atomic_path, atomic_write_text  # noqa: E402
from cacscore.core.vessels import VESSELS  # noqa: E402
from cacscore.io.ct import read_ct, read_labels  # noqa: E402
from cacscore.lesion.classifier import load_model  # noqa: E402
from cacscore.lesion.train import NONGATED_DIR  # noqa: E402

NAMES = ("shipped", "rule")


def score_pair(release: Path, pid: str, models: dict) -> dict[str, np.ndarray]:
    """One patient scored by both models: lookalike_calls.patient_rows of each (prefixed ``<name>_``), its scores."""
    vol = read_ct(release / NONGATED_DIR / pid / pid)
    sp = tuple(abs(float(v)) for v in vol.spacing_mm)
    cand, classes = classify_many(vol.hu, sp, models)
    coronary = read_labels(release / "labels" / f"{pid}.nii.gz")
    anatomy = read_labels(release / "anatomy" / f"{pid}.nii.gz")
    out: dict[str, np.ndarray] = {}
    for name, m in models.items():
        labels = L.vessel_labels(vol.hu, cand, classes[name], m)
        scores = L.score_assignment(vol.hu, cand, classes[name], labels=labels)
        rows = B.patient_rows(vol.hu, sp, cand.ids > 0, labels, coronary, anatomy, m.threshold_hu, m.min_area_mm2)
        rows["scores"] = np.array([scores[v] for v in VESSELS], float)
        out.update({f"{name}_{k}": v for k, v in rows.items()})
    comp, n = ndimage.label(cand.ids > 0, structure=np.ones((3, 3, 3), bool))
    out["centroid"] = np.array(ndimage.center_of_mass(comp > 0, comp, np.arange(1, n + 1)) if n else [],
                               np.float32).reshape(-1, 3)
    return out


def evaluate(pred: pd.DataFrame, truth_csv: Path, out: Path) -> dict:
    """cacscore evaluate of ``pred`` (bootstrap 1000, seed 0): ratio4 (all4 mse_norm, constant / model), kappa4 of
    the total and of each vessel."""
    pred.to_csv(out.with_suffix(".csv"), index=False)
    subprocess.run([sys.executable, "-m", "cacscore.cli", "evaluate", str(out.with_suffix(".csv")), str(truth_csv),
                    "--out", str(out), "--bootstrap", "1000", "--seed", "0"], check=True, stdout=subprocess.DEVNULL)
    mt = pd.read_csv(out / "metrics.csv")
    a4 = mt[(mt["vessel"] == "all4") & (mt["metric"] == "mse_norm")].iloc[0]
    k4 = mt[mt["metric"] == "kappa4"].set_index("vessel")["value"]
    return {"ratio4": float(a4["baseline"] / a4["value"]), "kappa4": {v: float(k4[v]) for v in k4.index}}


def main(argv: list[str] | None = None) -> int:
    from cacscore.predict.predictors import DEFAULT_MODEL

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("release", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--rule", required=True, choices=sorted(B.RULES))
    ap.add_argument("--ids", required=True)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    a = ap.parse_args(argv)
    models = {"shipped": load_model(a.model), "rule": B.with_rules(load_model(a.model), a.rule)}
    cache = a.out / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    avail = {p.name.split(".")[0] for p in (a.release / "labels").glob("*.nii.gz")}
    pids = [str(p) for p in id_range(a.ids) if str(p) in avail]
    per = {}
    for pid in pids:
        path = cache / f"{pid}.npz"
        if not path.is_file():
            rows = score_pair(a.release, pid, models)
            with atomic_path(path, suffix=".npz") as tmp:
                np.savez(tmp, **rows)
            print(pid, " ".join(f"{n} " + "/".join(f"{x:.0f}" for x in rows[f"{n}_scores"]) for n in NAMES),
                  flush=True)
        with np.load(path) as z:
            per[pid] = {k: z[k] for k in z.files}
    truth = pd.read_csv(a.release / "truth.csv", dtype={"id": str})
    truth = truth[truth["id"].isin(pids)]
    truth.to_csv(a.out / "truth.csv", index=False)
    summary: dict = {"release": str(a.release), "model": str(a.model), "rule": a.rule, "ids": a.ids, "n": len(pids)}
    for name in NAMES:
        pred = pd.DataFrame([{"id": pid, **dict(zip(VESSELS, r[f"{name}_scores"]))} for pid, r in per.items()])
        pred["total"] = pred[list(VESSELS)].sum(axis=1)
        ev = evaluate(pred, a.out / "truth.csv", a.out / f"eval_{name}")
        sub = {pid: {k[len(name) + 1:]: v for k, v in r.items() if k.startswith(name + "_")} for pid, r in per.items()}
        t = B.table(sub, truth)
        atomic_write_text(a.out / f"lookalike_{name}.md", B.markdown(t) + "\n")
        summary[name] = {**ev, "coronary_found_au": t["coronary"]["au_called"], "coronary_au": t["coronary"]["au"],
                         "noncoronary_called_au": sum(t[k]["au_called"] for k in B.KINDS if k != "coronary"),
                         "by_kind_called_au": {k: t[k]["au_called"] for k in B.KINDS if t[k]["au_called"]},
                         "max_au_check": t["_max_au_check"]}
    summary["patients_changed"] = {pid: {n: [round(float(x), 1) for x in r[f"{n}_scores"]] for n in NAMES}
                                   for pid, r in per.items()
                                   if np.abs(r["shipped_scores"] - r["rule_scores"]).max() > 0.05}
    atomic_write_text(a.out / "summary.json", json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
