"""MAC vs a coronary plaque in a wide lumen: image features round each candidate of the structures the shipped
scorer calls coronary, with the phantom's truth (session 19, wt27a).

    PYTHONPATH=src:bench nice -n 10 python bench/mac_lumen_explore.py RELEASE OUT --ids 2,10 [--model DIR]

For each patient: every candidate (one lesion in one axial slice) of each 3-D structure that holds a final coronary
call or lies on the MAC label, as bench/mac_veto_explore.patient writes it (AU, MLP probabilities, classes after each
step, mac_frac, true vessel, feature and anatomy columns), plus the in-plane tissue in distance bands round the
candidate's own pixels (other candidates' pixels left out), on the slice smoothed with a Gaussian of
``SMOOTH_MM`` (noise sd up to 60 HU makes single pixels useless): per band (mm) the fat share (< -30 HU) and the mean
HU of its soft pixels (-30..130), and the number of 30-degree sectors (of 12) round the candidate's centroid whose
1-8 mm part holds >= 30 % fat. Writes OUT/<pid>.csv and OUT/all.csv.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).parent))
from id_ranges import id_range  # noqa: E402
from mac_veto_explore import patient as explore_patient  # noqa: E402

from cacscore import lesion as L  # noqa: E402
from cacscore.io.ct import read_ct  # noqa: E402

BANDS = ((1.0, 4.0), (4.0, 7.0), (7.0, 10.0), (10.0, 14.0))
SMOOTH_MM = 1.0


def band_features(hu: np.ndarray, ids: np.ndarray, cand_ids: np.ndarray, sp) -> pd.DataFrame:
    """Per candidate id (1-based) of ``cand_ids``: the band / sector columns (see the module doc)."""
    rows = []
    py, px = sp[1], sp[2]
    reach = BANDS[-1][1] + 2
    my, mx = int(np.ceil(reach / py)) + 1, int(np.ceil(reach / px)) + 1
    for k in cand_ids:
        z, yy, xx = np.nonzero(ids == k)
        z = int(z[0])
        y0, y1 = max(0, yy.min() - my), min(ids.shape[1], yy.max() + my + 1)
        x0, x1 = max(0, xx.min() - mx), min(ids.shape[2], xx.max() + mx + 1)
        lab = ids[z, y0:y1, x0:x1]
        sm = ndimage.gaussian_filter(hu[z, y0:y1, x0:x1].astype(np.float32), (SMOOTH_MM / py, SMOOTH_MM / px))
        own = lab == k
        dist = ndimage.distance_transform_edt(~own, sampling=(py, px))
        free = lab == 0
        fat = sm < -30
        soft = (sm >= -30) & (sm < 130)
        r = {"cand": int(k)}
        for lo, hi in BANDS:
            b = free & (dist >= lo) & (dist < hi)
            n = max(int(b.sum()), 1)
            r[f"fat_{lo:.0f}_{hi:.0f}"] = float((b & fat).sum()) / n
            sb = b & soft
            r[f"softhu_{lo:.0f}_{hi:.0f}"] = float(sm[sb].mean()) if sb.any() else np.nan
        cy, cx = yy.mean() - y0, xx.mean() - x0
        gy, gx = np.mgrid[0:lab.shape[0], 0:lab.shape[1]]
        ang = np.arctan2((gy - cy) * py, (gx - cx) * px)
        sec = ((ang + np.pi) / (2 * np.pi) * 12).astype(int) % 12
        b = free & (dist >= 1) & (dist < 8)
        nsec = 0
        for s in range(12):
            m = b & (sec == s)
            if m.sum() and (m & fat).sum() / m.sum() >= 0.3:
                nsec += 1
        r["fat_sectors"] = nsec
        rows.append(r)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    from cacscore.lesion.train import NONGATED_DIR
    from cacscore.predict.predictors import DEFAULT_MODEL

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("release", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--ids", required=True)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    m = L.load_model(a.model)
    frames = []
    for pid in map(str, id_range(a.ids)):
        if not (a.release / "labels" / f"{pid}.nii.gz").exists():
            continue
        path = a.out / f"{pid}.csv"
        if path.is_file():
            frames.append(pd.read_csv(path))
            continue
        df = explore_patient(a.release, pid, m)
        keep_s = df.groupby("structure").apply(lambda g: (g["final"] > 0).any() or (g["noring"] > 0).any()
                                              or (g["mac_frac"] > 0.25).any())
        df = df[df["structure"].isin(keep_s[keep_s].index)]
        vol = read_ct(a.release / NONGATED_DIR / pid / pid)
        sp = tuple(abs(float(v)) for v in vol.spacing_mm)
        cand, _ = L.classify_volume(vol.hu, sp, m)
        bf = band_features(vol.hu, cand.ids, df["cand"].to_numpy(), sp)
        df = df.merge(bf, on="cand", how="left")
        df.insert(0, "release", a.release.name)
        df.to_csv(path, index=False)
        frames.append(df)
        print(pid, len(df), flush=True)
    pd.concat(frames).to_csv(a.out / "all.csv", index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
