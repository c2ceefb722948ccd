"""The found aortic root and aorta against the truth, for chest-root versions side by side (issue 16, session 23,
wt31c; docs/chest_anatomy.md "(session 23, wt31c)").

    PYTHONPATH=src:bench nice -n 10 python bench/aorta_accuracy.py RELEASE --seed S --ids 1-30 [--p-mac 1]
        [--versions s22,s23] [--out CSV]
    PYTHONPATH=src:bench nice -n 10 python bench/aorta_accuracy.py --real /work/shared/data [--versions s22,s23]

Phantom release (v11, 512 px): the truth is re-drawn from the seed (``cacscore.phantom.core._draws``, no render): the
annulus (``Anatomy.aorta_root``) and the aorta's centreline and radius. Per patient and version: the root's error
(3-D, and its height: found - true, mm), the in-plane distance of each found ascending / descending centreline point
to the true centreline of that segment on its slice (median), and the found radius - the true radius there (median).
Real series: the root's distance to the eye-placed root and the aorta's to the eye-placed arch top, mid and low
descending points (tests/data/landmarks_lidc.json).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from aortic_root_probe import _scan_mm  # noqa: E402
from id_ranges import id_range  # noqa: E402

from cacscore.chest.anatomy import read_chest, root_options, sac_options  # noqa: E402
from cacscore.io.ct import read_ct  # noqa: E402
from cacscore.lesion.train import NONGATED_DIR  # noqa: E402
from cacscore.phantom.anatomy import LABEL, chest_grid  # noqa: E402
from cacscore.phantom.core import _draws  # noqa: E402

LANDMARKS = Path(__file__).resolve().parents[1] / "tests" / "data" / "landmarks_lidc.json"
SEGMENTS = ((0, "asc", LABEL["aorta_ascending"]), (2, "desc", LABEL["aorta_descending"]))


def _segment_errors(an, tp: np.ndarray, tr: np.ndarray, tl: np.ndarray, seg: int, label: int) -> tuple[float, float]:
    """(median in-plane distance, median found - true radius) of the found segment's points against the true
    centreline of label within half a slice of them (nan: none)."""
    cl, rad = an.aorta.centreline_mm, an.aorta.radius_mm
    sel = an.aorta.segment == seg
    t, r = tp[tl == label], tr[tl == label]
    dist, dr = [], []
    for p, rr in zip(cl[sel], rad[sel]):
        near = np.abs(t[:, 0] - p[0]) <= 0.5 * an.grid_mm[0] + 1.0
        if not near.any():
            continue
        d = np.hypot(*(t[near, 1:] - p[1:]).T)
        j = int(np.argmin(d))
        dist.append(float(d[j]))
        dr.append(float(rr - r[near][j]))
    return (float(np.median(dist)) if dist else np.nan, float(np.median(dr)) if dr else np.nan)


def phantom_rows(release: Path, seed: int, pid: int, p_mac: float | None, versions: list[str], sac: str) -> list[dict]:
    d, _ = _draws(pid, seed, 512, version="v11", p_mac=p_mac)
    grid = chest_grid(d.anat, 512)
    annulus = _scan_mm(grid, d.anat.aorta_root)[0]
    tp, tr, tl = _scan_mm(grid, d.anat.aorta.points), np.asarray(d.anat.aorta.radius), np.asarray(d.anat.aorta.label)
    vol = read_ct(release / NONGATED_DIR / str(pid) / str(pid))
    sp = tuple(abs(float(v)) for v in vol.spacing_mm)
    rows = []
    for v in versions:
        an = read_chest(vol.hu, sp, sac=sac_options(sac), root_options=root_options(v))
        row = {"pid": pid, "version": v, "root_err_mm": float(np.linalg.norm(an.aortic_root_mm - annulus)),
               "root_dz_mm": float(an.aortic_root_mm[0] - annulus[0]),
               "root_inplane_mm": float(np.hypot(*(an.aortic_root_mm[1:] - annulus[1:])))}
        for seg, name, label in SEGMENTS:
            row[f"{name}_dist_mm"], row[f"{name}_dr_mm"] = _segment_errors(an, tp, tr, tl, seg, label)
        rows.append(row)
    return rows


def real_rows(data: Path, versions: list[str], sac: str) -> list[dict]:
    marks = json.loads(LANDMARKS.read_text())
    rows = []
    for name in sorted(k for k in marks if k.startswith("lidc")):
        lm = marks[name]
        vol = read_ct(data / name)
        for v in versions:
            an = read_chest(vol.hu, vol.spacing_mm, sac=sac_options(sac), root_options=root_options(v))
            eye = np.asarray(lm["aortic_root"], float)
            row = {"series": name, "version": v, "root_err_mm": float(np.linalg.norm(an.aortic_root_mm - eye)),
                   "root_dz_mm": float(an.aortic_root_mm[0] - eye[0])}
            for k in ("arch_top", "descending_mid", "descending_low"):
                row[k] = float(an.aorta.distance_mm(np.asarray(lm["aorta"][k], float)[None])[0][0]) \
                    if k in lm["aorta"] else np.nan
            rows.append(row)
    return rows


def summary(t: pd.DataFrame) -> pd.DataFrame:
    """Per version: root error median / p90 / max (3-D and |height|), too low by over 10 mm, segment medians."""
    out = []
    for v, g in t.groupby("version", sort=False):
        e, dz = g["root_err_mm"].to_numpy(float), g["root_dz_mm"].to_numpy(float)
        e = np.where(np.isfinite(e), e, np.inf)
        out.append({"version": v, "n": len(g), "root_med": np.median(e), "root_p90": np.percentile(e, 90),
                    "root_max": e.max(), "dz_abs_med": np.nanmedian(np.abs(dz)), "dz_abs_max": np.nanmax(np.abs(dz)),
                    "too_low_10": int((dz < -10).sum()), "too_high_10": int((dz > 10).sum()), "none": int(np.isnan(dz).sum()),
                    **{c: np.nanmedian(g[c]) for c in ("asc_dist_mm", "desc_dist_mm", "asc_dr_mm", "desc_dr_mm") if c in g}})
    return pd.DataFrame(out).round(1)


def main(argv: list[str] | None = None) -> int:
    from cacscore.predict.predictors import DEFAULT_MODEL

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("release", type=Path, nargs="?")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--ids", default="1-30")
    ap.add_argument("--p-mac", type=float, default=None)
    ap.add_argument("--versions", default="s22,s23")
    ap.add_argument("--real", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    versions = a.versions.split(",")
    sac = json.loads((DEFAULT_MODEL / "model.json").read_text())["config"].get("chest_sac", "s18")
    rows = []
    if a.real is not None:
        rows = real_rows(a.real, versions, sac)
        t = pd.DataFrame(rows)
        print(t.round(1).to_string(index=False))
    else:
        for pid in id_range(a.ids):
            if not (a.release / NONGATED_DIR / str(pid)).is_dir():
                continue
            r = phantom_rows(a.release, a.seed, pid, a.p_mac, versions, sac)
            rows += r
            print(" | ".join(f"{x['version']} root {x['root_err_mm']:.1f} dz {x['root_dz_mm']:+.1f}" for x in r),
                  f"(#{pid})", flush=True)
        t = pd.DataFrame(rows)
        print(summary(t).to_string(index=False))
    if a.out is not None:
        t.to_csv(a.out, index=False, float_format="%.2f")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
