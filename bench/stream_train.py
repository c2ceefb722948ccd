"""Train the candidate scorer as ``bench/train_default_model.py`` does (``cacscore phantom`` then ``cacscore
lesion-train`` with its defaults), without holding the whole release on disk.

Why: a 512 px phantom patient is ~70 MB of DICOM (v16, measured on seed 14857 patients 1-3: 41-86 MB); 200 training
patients are ~14 GB, more than a helper's share of the shared disk (session 20). So each patient is rendered alone
(``cacscore.phantom.writer.write_patient``, the job ``cacscore phantom`` runs per patient: the same patient for the
same seed, id and anatomy, whatever the release size), its candidates extracted exactly as lesion-train extracts them
(``cacscore.lesion.train._extract`` with lesion-train's default config and arguments), cached as
``OUT/cand/<id>.npz``, and the patient's series deleted. Then ``train_lesion_model`` runs on the cached extractions
(its per-case extraction replaced by the cache; everything after it, the table, density cap, MLP and report, is
lesion-train's own code). Resumable: a cached patient is not rendered again.

    PYTHONPATH=src nice -n 10 python bench/stream_train.py OUT --seed 14857 --ids 1-200 --anatomy v16 --size 512
    PYTHONPATH=src nice -n 10 python bench/stream_train.py OUT --seed 14857 --ids 1-200 --anatomy v16 --train-only

Writes OUT/model (model.safetensors, model.json, training_report.json), OUT/truth.csv (the rendered patients' truth
rows), OUT/cand/*.npz. It does not evaluate (train_default_model's 40 test patients): evaluate on a fresh release.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from id_ranges import id_range  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def lesion_train_config(model_seed: int, lca_weight: float = 1.0):
    """lesion-train's ClassifierConfig with every CLI default (cli._cmd_lesion_train), --seed model_seed (and the
    left main's class-weight factor, ClassifierConfig.lca_weight, a training knob: 1.0 is lesion-train's)."""
    from cacscore.lesion import ClassifierConfig

    return ClassifierConfig(epochs=40, max_distance_mm=110.0, seed=model_seed, class_weight_power=0.5,
                            density_cap_hu=(500.0, 930.0), features=None, lca_weight=lca_weight)


def render_extract(out: Path, pid: int, a: argparse.Namespace) -> dict:
    """Render patient pid into OUT/tmp, extract its candidates as lesion-train does, cache them, delete the scan."""
    from cacscore.lesion.train import GATED_NOISE_SD_HU, Case, _extract
    from cacscore.phantom.writer import write_patient

    tmp = out / "tmp"
    t0 = time.perf_counter()
    row = write_patient(tmp, pid, seed=a.seed, size=a.size, version=a.anatomy, p_mac=a.p_mac)
    t1 = time.perf_counter()
    case = Case(str(pid), tmp / "deidentified_nongated" / str(pid) / str(pid), tmp / "labels" / f"{pid}.nii.gz")
    cfg = lesion_train_config(a.model_seed)
    r = _extract(case, 130.0, 1.0, 2, tuple(GATED_NOISE_SD_HU), cfg.seed, cfg)  # train_lesion_model's job tuple
    if "error" in r:
        raise RuntimeError(f"patient {pid}: {r['error']}")
    np.savez(out / "cand" / f"{pid}.npz", features=r["features"], targets=r["targets"],
             seconds=r["seconds"], chest_read=bool(r["chest_read"]))
    shutil.rmtree(tmp)
    print(f"patient {pid}: render {t1 - t0:.1f} s, extract {time.perf_counter() - t1:.1f} s, "
          f"{len(r['targets'])} candidates ({int((r['targets'] > 0).sum())} coronary)", flush=True)
    return row


def extract_rendered(out: Path, pid: int, a: argparse.Namespace) -> dict:
    """--release: patient pid of an existing (or still rendering) ``cacscore phantom`` release, once its last file
    (anatomy/<pid>.nii.gz, written after the series and the labels: phantom.writer.write_patient) is there, extracted
    and cached as render_extract does; the release is left as it is. Returns {"id": pid} (the truth row is read from
    the release's truth.csv when training)."""
    from cacscore.lesion.train import GATED_NOISE_SD_HU, Case, _extract

    rel = a.release
    while not (rel / "anatomy" / f"{pid}.nii.gz").exists():
        time.sleep(10)
    t1 = time.perf_counter()
    case = Case(str(pid), rel / "deidentified_nongated" / str(pid) / str(pid), rel / "labels" / f"{pid}.nii.gz")
    cfg = lesion_train_config(a.model_seed)
    r = _extract(case, 130.0, 1.0, 2, tuple(GATED_NOISE_SD_HU), cfg.seed, cfg)  # train_lesion_model's job tuple
    if "error" in r:
        raise RuntimeError(f"patient {pid}: {r['error']}")
    np.savez(out / "cand" / f"{pid}.npz", features=r["features"], targets=r["targets"],
             seconds=r["seconds"], chest_read=bool(r["chest_read"]))
    if a.delete_extracted:  # the shared disk: a 512 px v21 patient is ~60 MB of DICOM (session 24 filled it)
        shutil.rmtree(rel / "deidentified_nongated" / str(pid))
    print(f"patient {pid}: extract {time.perf_counter() - t1:.1f} s, "
          f"{len(r['targets'])} candidates ({int((r['targets'] > 0).sum())} coronary)", flush=True)
    return {"id": pid}


def acquisition_rows(ids: list[int], a: argparse.Namespace) -> pd.DataFrame:
    """(id, slice_thickness_mm, kvp) of patients cached without a truth row (--release, or a release whose truth.csv
    was never written), from their draws (``phantom.core._draws``: what the rendering used; no rendering)."""
    from cacscore.phantom.core import _draws

    rows = []
    for pid in ids:
        d = _draws(pid, a.seed, a.size, version=a.anatomy)[0]
        rows.append({"id": pid, "slice_thickness_mm": float(d.anat.slice_mm), "kvp": float(d.kvp)})
    return pd.DataFrame(rows, columns=["id", "slice_thickness_mm", "kvp"])


def cached(out: Path, pid: int) -> dict:
    z = np.load(out / "cand" / f"{pid}.npz")
    return {"id": str(pid), "kind": "labels", "features": z["features"], "targets": z["targets"],
            "seconds": float(z["seconds"]), "chest_read": bool(z["chest_read"])}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, required=True, help="phantom seed (the data)")
    ap.add_argument("--ids", default="1-200", help="training patient ids, LO-HI")
    ap.add_argument("--anatomy", default="v11")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--p-mac", type=float, default=None, help="cacscore phantom --p-mac: the share of patients with "
                    "mitral-annulus calcium (default the phantom's, noncoronary.P_MAC 0.12; a training knob)")
    ap.add_argument("--model-seed", type=int, default=0, help="lesion-train --seed")
    ap.add_argument("--lca-weight", type=float, default=1.0, help="the left main's class weight times this "
                    "(ClassifierConfig.lca_weight; 1.0, lesion-train's, by default)")
    ap.add_argument("--train-only", action="store_true", help="train on the patients cached so far")
    ap.add_argument("--config-from", type=Path, default=None, help="a model folder whose model.json config (the "
                    "rules, split settings, density cap) replaces the trained model's, so the two differ only in "
                    "the weights and what training learned (info: coronary_dz_mm, coronary_density_hu)")
    ap.add_argument("--release", type=Path, default=None, help="extract the patients of this cacscore phantom release "
                    "(rendered with the same --seed / --anatomy / --size; waited for while it renders) instead of "
                    "rendering them")
    ap.add_argument("--delete-extracted", action="store_true", help="with --release: delete each patient's series "
                    "once its candidates are cached")
    a = ap.parse_args()
    out = a.out.resolve()
    (out / "cand").mkdir(parents=True, exist_ok=True)
    ids = id_range(a.ids)
    truth_csv = out / "truth.csv" if a.release is None else a.release / "truth.csv"
    rows = pd.read_csv(truth_csv).to_dict("records") if truth_csv.exists() else []
    t0 = time.perf_counter()
    if not a.train_only:
        for pid in ids:
            if (out / "cand" / f"{pid}.npz").exists():  # cached (its truth row, if missing, is drawn when training)
                continue
            if a.release is not None:
                extract_rendered(out, pid, a)
                continue
            rows.append(render_extract(out, pid, a))
            pd.DataFrame(rows).sort_values("id").to_csv(truth_csv, index=False, float_format="%.6f")
    have = [pid for pid in ids if (out / "cand" / f"{pid}.npz").exists()]
    print(f"training on {len(have)} cached patients (render + extract {time.perf_counter() - t0:.0f} s)", flush=True)

    import cacscore.lesion.train as T

    cache = {str(pid): cached(out, pid) for pid in have}
    T.map_jobs = lambda fn, jobs, workers, desc, progress: [cache[j[0].id] for j in jobs]  # the cached extraction
    cases = [T.Case(str(pid), out / "absent", out / "absent") for pid in have]
    model = out / "model"
    rep = T.train_lesion_model(cases, model, config=lesion_train_config(a.model_seed, a.lca_weight), workers=1,
                               progress=False)
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    cfg = json.loads((model / "model.json").read_text())
    cfg.setdefault("info", {})["provenance"] = {
        "reproduce": f"PYTHONPATH=src python bench/stream_train.py OUT --seed {a.seed} --ids {a.ids} "
                     f"--anatomy {a.anatomy} --size {a.size} --model-seed {a.model_seed}"
                     + (f" --lca-weight {a.lca_weight}" if a.lca_weight != 1.0 else ""),
        "equivalent_to": f"cacscore phantom R --patients {max(ids)} --seed {a.seed} --size {a.size} --anatomy "
                         f"{a.anatomy}; cacscore lesion-train (CSV of patients {a.ids} of R) M --seed {a.model_seed}",
        "code_version": head,
        "data": {"kind": "synthetic phantom (cacscore phantom, non-coronary look-alikes on)",
                 "phantom_anatomy": a.anatomy, "phantom_seed": a.seed, "size_px": a.size, "train_ids": a.ids,
                 "n_train": len(have), "train_candidates_per_class": rep["candidates"]["per_class"]},
    }
    tr = pd.read_csv(truth_csv) if truth_csv.exists() else pd.DataFrame(columns=["id", "slice_thickness_mm", "kvp"])
    tr = pd.concat([tr, acquisition_rows(sorted(set(have) - set(tr["id"].astype(int))), a)])
    tr = tr[tr["id"].isin(have)]  # the acquisition ranges predict warns outside (train_default_model's)
    cfg["info"]["train_ranges"] = {"slice_thickness_mm": [float(tr.slice_thickness_mm.min()),
                                                          float(tr.slice_thickness_mm.max())],
                                   "kvp": [float(tr.kvp.min()), float(tr.kvp.max())]}
    if a.config_from is not None:
        trained = cfg["config"]
        cfg["config"] = json.loads((a.config_from / "model.json").read_text())["config"]
        cfg["config"]["lca_weight"] = trained["lca_weight"]  # a training knob: what this training used, kept
        cfg["info"]["provenance"]["config_from"] = {
            "model": str(a.config_from), "keys_changed": sorted(k for k in cfg["config"]
                                                                if cfg["config"][k] != trained.get(k))}
        cfg["info"]["provenance"]["reproduce"] += f" --config-from {a.config_from}"
    (model / "model.json").write_text(json.dumps(cfg, indent=2, allow_nan=False) + "\n")
    print(json.dumps(rep["candidates"], indent=1), f"seconds {rep['seconds']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
