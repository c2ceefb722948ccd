"""Two cohort caches of the same phantom patients for the heart-crop learnability study (issue 5).

Renders patients 1..N with cacscore.phantom.make_patient at 512 x 512 (in memory, no DICOM: the study
needs thousands of scans and the DICOM round trip is exact, see tests/test_phantom.py) and writes

  OUT/full/   the paper's input: 73 slabs around the volume centre, the whole field of view
              area-averaged to SIZE x SIZE (exactly cacscore.preprocess.preprocess_volume);
  OUT/crop/   73 slabs around the heart found by cacscore.preprocess.find_heart (on the scan, not the
              phantom's truth), and in-plane a CROP_MM square around the found heart area-averaged to
              SIZE x SIZE (at 128 px and 160 mm: 1.25 mm pixels instead of 2.8 mm).
  OUT/oracle/ (--oracle) the crop geometry of OUT/crop, but the scan replaced by air everywhere except
              the coronary calcium the truth is scored on (labelled voxels >= 130 HU): an upper bound
              on what a model can learn from the input, free of anatomy, bone, aortic calcium and noise.

Both are cacscore.cache.CohortCache folders (config.json, manifest.csv, scans/<id>.npy int16 HU), so
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

from cacscore.fileio import atomic_save_npy, atomic_write_text
from cacscore.io.dicom import AIR_HU
from cacscore.phantom.core import make_patient
from cacscore.preprocess import PAD_HU, PreprocessConfig, _window_start, find_heart, resize_inplane
from cacscore.vessels import VESSELS


def heart_crop(hu: np.ndarray, spacing_mm: tuple[float, float, float], *, slices: int, size: int,
               crop_mm: float, centre: tuple[int, int, int] | None = None) -> tuple[np.ndarray, tuple[int, int, int]]:
    """(z, y, x) HU at ``spacing_mm`` -> int16 (slices, size, size): depth and in-plane square around
    ``centre`` (default: find_heart on ``hu``)."""
    zc, yc, xc = find_heart(hu, spacing_mm) if centre is None else centre
    half = int(round(crop_mm / 2 / spacing_mm[1]))
    start = _window_start(hu.shape[0], slices, zc)
    lo, hi = max(start, 0), min(start + slices, hu.shape[0])
    box = np.full((hi - lo, 2 * half, 2 * half), PAD_HU, np.float32)
    y0, x0 = yc - half, xc - half
    sy0, sx0 = max(y0, 0), max(x0, 0)
    sy1, sx1 = min(y0 + 2 * half, hu.shape[1]), min(x0 + 2 * half, hu.shape[2])
    box[:, sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = hu[lo:hi, sy0:sy1, sx0:sx1]
    block = np.clip(np.rint(resize_inplane(box, size)), AIR_HU, np.iinfo(np.int16).max)
    out = np.full((slices, size, size), PAD_HU, np.int16)
    out[lo - start:hi - start] = block
    return out, (zc, yc, xc)


def full_fov(hu: np.ndarray, *, slices: int, size: int) -> np.ndarray:
    start = _window_start(hu.shape[0], slices, None)
    lo, hi = max(start, 0), min(start + slices, hu.shape[0])
    out = np.full((slices, size, size), PAD_HU, np.int16)
    out[lo - start:hi - start] = np.clip(np.rint(resize_inplane(hu[lo:hi], size)), AIR_HU, np.iinfo(np.int16).max)
    return out


def _one(job: tuple) -> dict:
    out, pid, seed, size, slices, crop_mm, oracle = job
    row = {"id": str(pid), "source": f"phantom:{seed}:{pid}", "status": "ok", "error": ""}
    paths = {k: Path(out) / k / "scans" / f"{pid}.npy" for k in ("full", "crop", "oracle")}
    p = make_patient(pid, seed=seed, size=512)
    row.update({v: p.truth[v] for v in VESSELS}, total=p.truth["total"])
    found = find_heart(p.hu, p.spacing_mm)
    row["heart_error_mm"] = float(np.linalg.norm(np.subtract(found, p.heart_centre_index) * np.asarray(p.spacing_mm)))
    if not paths["full"].is_file():
        atomic_save_npy(paths["full"], full_fov(p.hu, slices=slices, size=size))
    if not paths["crop"].is_file():
        atomic_save_npy(paths["crop"], heart_crop(p.hu, p.spacing_mm, slices=slices, size=size, crop_mm=crop_mm,
                                                  centre=found)[0])
    if oracle and not paths["oracle"].is_file():
        calcium = (p.labels > 0) & (p.hu >= 130)
        only = np.where(calcium, p.hu, np.float32(PAD_HU))
        atomic_save_npy(paths["oracle"], heart_crop(only, p.spacing_mm, slices=slices, size=size, crop_mm=crop_mm,
                                                    centre=found)[0])
    row["shape"] = f"{slices}x{size}x{size}"
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
    kinds = (("full", "volume"), ("crop", "heart")) + ((("oracle", "heart"),) if a.oracle else ())
    for kind, centre in kinds:
        (a.out / kind / "scans").mkdir(parents=True, exist_ok=True)
        cfg = PreprocessConfig(size=a.size, slices=a.slices, centre=centre).to_dict()
        if kind != "full":
            cfg["crop_mm"] = a.crop_mm  # not a PreprocessConfig field (yet): CohortCache ignores it
        atomic_write_text(a.out / kind / "config.json", json.dumps({"format": 1, "preprocess": cfg}, indent=1))
    jobs = [(str(a.out), pid, a.seed, a.size, a.slices, a.crop_mm, a.oracle) for pid in range(1, a.patients + 1)]
    rows = []
    with ProcessPoolExecutor(a.workers) as ex:
        for r in tqdm(ex.map(_one, jobs, chunksize=4), total=len(jobs), desc="phantom", unit="patient"):
            rows.append(r)
    table = pd.DataFrame(rows)
    for kind, _ in kinds:
        atomic_write_text(a.out / kind / "manifest.csv", table.to_csv(index=False))
    he = table.get("heart_error_mm")
    if he is not None and he.notna().any():
        logging.warning("heart finder 3-D error: median %.1f mm, 95th %.1f mm", he.median(), he.quantile(0.95))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
