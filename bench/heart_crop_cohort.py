"""Two cohort caches of the same phantom patients for the heart-crop learnability study (issue 5).

Renders patients 1..N with cacscore.phantom.make_patient at 512 x 512 (in memory, no DICOM: the study
needs thousands of scans and the DICOM round trip is exact, see tests/test_phantom.py) and writes

  OUT/full/   the paper's input: 73 slabs around the volume centre, the whole field of view
              area-averaged to SIZE x SIZE (cacscore.regress.preprocess.preprocess_volume, as ingest);
  OUT/crop/   73 slabs around the heart found by cacscore.chest.heart.find_heart (on the scan, not the
              phantom's truth), and in-plane a CROP_MM square around the found heart area-averaged to
              SIZE x SIZE (preprocess_volume with crop_mm, as ingest --centre heart --crop-mm; at 128 px
              and 160 mm: 1.25 mm pixels instead of 2.8 mm).
  OUT/oracle/ (--oracle) the crop geometry of OUT/crop, but the scan replaced by air everywhere except
              the coronary calcium the truth is scored on (labelled voxels >= 130 HU): an upper bound
              on what a model can learn from the input, free of anatomy, bone, aortic calcium and noise.

All are cacscore.regress.cache.CohortCache folders (config.json, manifest.csv, scans/<id>.npy int16 HU), so
bench/learnability.py trains on either unchanged. Targets: the phantom's truth (the scores.xlsx of a
release). Resumable: finished scans are skipped.

    .venv/bin/python bench/heart_crop_cohort.py OUT --patients 2000 --seed 11 --size 128 --crop-mm 160 --workers 2
"""

from __future__ import annotations

import argparse
import json
import logging
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from cacscore.core.fileio import atomic_save_npy, atomic_write_text
from cacscore.io.dicom import AIR_HU
from cacscore.phantom.core import make_patient
from cacscore.io.dicom import Volume
from cacscore.regress.preprocess import PAD_HU, PreprocessConfig, _crop_yx, _window_start, preprocess_volume, resize_inplane
from cacscore.core.vessels import VESSELS


def crop_at(hu: np.ndarray, spacing_mm: tuple[float, float, float], cfg: PreprocessConfig, *,
            centre_z: float, centre_yx: tuple[int, int]) -> np.ndarray:
    """int16 (slices, size, size): what ``preprocess_volume(.., cfg)`` makes of ``hu`` when its heart
    is found at (centre_z, *centre_yx), for an image with no heart to find (the oracle)."""
    start = _window_start(hu.shape[0], cfg.slices, centre_z)
    lo, hi = max(start, 0), min(start + cfg.slices, hu.shape[0])
    box = _crop_yx(hu[lo:hi], centre_yx, spacing_mm[1:], cfg.crop_mm)
    out = np.full((cfg.slices, cfg.size, cfg.size), PAD_HU, np.int16)
    out[lo - start:hi - start] = np.clip(np.rint(resize_inplane(box, cfg.size)), AIR_HU, np.iinfo(np.int16).max)
    return out


def _one(job: tuple) -> dict:
    out, pid, seed, configs, oracle = job
    row = {"id": str(pid), "source": f"phantom:{seed}:{pid}", "status": "ok", "error": ""}
    paths = {k: Path(out) / k / "scans" / f"{pid}.npy" for k in ("full", "crop", "oracle")}
    p = make_patient(pid, seed=seed, size=512)
    row.update({v: p.truth[v] for v in VESSELS}, total=p.truth["total"])
    vol = Volume(hu=p.hu, spacing_mm=p.spacing_mm)
    full_cfg, crop_cfg = (PreprocessConfig.from_dict(configs[k]) for k in ("full", "crop"))
    if not paths["full"].is_file():
        atomic_save_npy(paths["full"], preprocess_volume(vol, full_cfg))
    info: dict = {}
    crop = preprocess_volume(vol, crop_cfg, info=info)  # the product's heart crop (ingest --crop-mm)
    if not paths["crop"].is_file():
        atomic_save_npy(paths["crop"], crop)
    found = (info["centre_index"], *info["crop_centre_yx"])
    row["heart_error_mm"] = float(np.linalg.norm(np.subtract(found, p.heart_centre_index) * np.asarray(p.spacing_mm)))
    if oracle and not paths["oracle"].is_file():
        calcium = (p.labels > 0) & (p.hu >= 130)
        only = np.where(calcium, p.hu, np.float32(PAD_HU))
        atomic_save_npy(paths["oracle"], crop_at(only, p.spacing_mm, crop_cfg, centre_z=info["centre_index"],
                                                 centre_yx=info["crop_centre_yx"]))
    row["shape"] = f"{crop_cfg.slices}x{crop_cfg.size}x{crop_cfg.size}"
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--patients", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--slices", type=int, default=73)
    ap.add_argument("--crop-mm", type=float, default=160.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--oracle", action="store_true", help="also write OUT/oracle (calcium-only input)")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    full = PreprocessConfig(size=a.size, slices=a.slices)
    crop = PreprocessConfig(size=a.size, slices=a.slices, centre="heart", crop_mm=a.crop_mm)
    configs = {"full": full.to_dict(), "crop": crop.to_dict(), "oracle": crop.to_dict()}
    kinds = ("full", "crop") + (("oracle",) if a.oracle else ())
    for kind in kinds:
        (a.out / kind / "scans").mkdir(parents=True, exist_ok=True)
        atomic_write_text(a.out / kind / "config.json",
                          json.dumps({"format": 1, "preprocess": configs[kind]}, indent=1))
    jobs = [(str(a.out), pid, a.seed, configs, a.oracle) for pid in range(1, a.patients + 1)]
    rows = []
    with ProcessPoolExecutor(a.workers) as ex:
        for r in tqdm(ex.map(_one, jobs, chunksize=4), total=len(jobs), desc="phantom", unit="patient"):
            rows.append(r)
    table = pd.DataFrame(rows)
    for kind in kinds:
        atomic_write_text(a.out / kind / "manifest.csv", table.to_csv(index=False))
    he = table.get("heart_error_mm")
    if he is not None and he.notna().any():
        logging.warning("heart finder 3-D error: median %.1f mm, 95th %.1f mm", he.median(), he.quantile(0.95))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
