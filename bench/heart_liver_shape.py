"""Shape statistics of the heart's mid-ventricular section and of the right diaphragm dome (the liver's top), for the
real series and for phantom patients of two anatomy versions; and the two versions' per-vessel truth (session 24,
wt32d; docs/phantom.md "(session 24, wt32d)").

    PYTHONPATH=src python bench/heart_liver_shape.py real            # the three LIDC series (eye landmarks below)
    PYTHONPATH=src python bench/heart_liver_shape.py phantom --seed 14952 --ids 1-20 --versions v20 v22 --size 256 \
        --csv OUT.csv

Heart (one axial slab at mid-ventricle): the pericardial sac's section as a mask -- on a phantom its anatomy labels
(heart, epicardial fat, pericardium, coronary lumen; the component at the heart's centre, holes filled) on the slice
10 mm below the heart's centre (the preview's mid-ventricle level); on a real series a polygon through eye-placed
landmarks (REAL_HEART below, read off gridded pictures of one 5 mm slab at the level where the ventricles are widest).
Statistics (moments of the mask, isotropic in-plane pixels): aspect = major / minor axis of the
second-moment ellipse; angle = the major axis' direction in degrees from the patient's left (+x) toward anterior
(0..180; 90 = front to back); solidity = area / convex hull area (phantom only: a polygon of 15 landmarks is convex by
construction).
Dome (coronal plane through the heart's centre): the right lung (< -500 HU, not the air outside the body, closed and
its holes filled, the largest component in the image's left half); its lowest voxel in each column is the diaphragm; rise = how far (mm) the diaphragm rises from 10 % to 40 % of the
way from the lung's lateral edge to the midline (the image's centre column), lateral of the heart on every series;
bulge = (its height at 25 % - the mean of those at 10 % and 40 %) / |rise|: 0 = a straight ramp, > 0 a dome's convex
curve.
"""
from __future__ import annotations

import argparse

import numpy as np
from matplotlib.path import Path
from scipy import ndimage
from scipy.spatial import ConvexHull

REAL_HEART = {
    # series: (slice index, [(x, y) pixel landmarks round the pericardial outline]), read off
    # /work/runs/wt32d/realgrid.png and realgrid2.png (5 mm slabs centred on the slice, W 400 / L 40)
    "0002": (87, [(200, 125), (240, 108), (290, 108), (330, 115), (345, 140), (350, 175), (345, 210), (330, 235),
                  (305, 250), (275, 255), (245, 250), (215, 235), (195, 210), (185, 180), (188, 150)]),
    "0001": (64, [(222, 170), (250, 158), (285, 160), (315, 172), (335, 195), (345, 225), (345, 255), (335, 280),
                  (315, 295), (290, 300), (262, 300), (240, 290), (225, 270), (215, 245), (213, 215), (215, 185)]),
    "0003": (48, [(200, 195), (225, 178), (260, 172), (295, 175), (325, 188), (342, 215), (345, 250), (338, 285),
                  (320, 310), (290, 325), (255, 328), (225, 315), (203, 290), (192, 255), (190, 225)]),
}
HEART_LABELS = ("heart", "epicardial_fat", "pericardium", "coronary_artery")


def section_stats(mask: np.ndarray) -> dict[str, float]:
    """aspect, angle (deg, 0..180 from +x toward anterior = -y rows), solidity of the largest component of mask."""
    lab, n = ndimage.label(mask)
    if n == 0:
        return {"aspect": np.nan, "angle": np.nan, "solidity": np.nan}
    big = 1 + int(np.argmax(ndimage.sum(np.ones_like(lab), lab, index=np.arange(1, n + 1))))
    r, c = np.nonzero(lab == big)
    x, y = c - c.mean(), -(r - r.mean())  # y toward anterior
    w, v = np.linalg.eigh(np.cov(np.stack([x, y])))
    major = v[:, 1]
    ang = float(np.degrees(np.arctan2(major[1], major[0]))) % 180.0
    hull = ConvexHull(np.stack([c, r], axis=1).astype(float) + np.random.default_rng(0).uniform(-0.5, 0.5, (len(c), 2)))
    # hull of the pixel centres (+-0.5 px jitter for the pixels' extent), area = hull.volume in 2-D
    return {"aspect": float(np.sqrt(w[1] / max(w[0], 1e-9))), "angle": ang, "solidity": float(len(c) / hull.volume)}


def dome_stats(coronal: np.ndarray, cols: np.ndarray, dz: float, px: float) -> dict[str, float]:
    """coronal (z, x) HU, z ascending; the right dome's profile over ``cols`` (the image's left half)."""
    # lung = < -500 HU with its vessels and bronchial walls filled (holes in the plane), so a vessel inside the lung is
    # not taken for the diaphragm
    air = coronal < -500
    lab, _ = ndimage.label(air)
    edge = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    air &= ~np.isin(lab, edge[edge > 0])  # not the air outside the body (first: its hole is the whole body)
    lung = ndimage.binary_fill_holes(ndimage.binary_closing(air, iterations=2))
    # the right lung: the largest component in the columns given; its lowest voxel per column is the diaphragm there
    lab, n = ndimage.label(lung[:, cols])
    if n == 0:
        return {"rise": np.nan, "bulge": np.nan}
    right = lab == 1 + int(np.argmax(ndimage.sum(np.ones_like(lab), lab, index=np.arange(1, n + 1))))
    has = right.any(axis=0)
    zs = list(np.argmax(right, axis=0)[has] * dz)
    xs = list(cols[has] * px)
    if len(zs) < 5:
        return {"rise": np.nan, "bulge": np.nan}
    z, x = np.array(zs), np.array(xs)
    mid = (len(coronal[0]) // 2) * px
    at = {f: float(np.interp(x.min() + f * (mid - x.min()), x, z)) for f in (0.1, 0.25, 0.4)}
    rise = at[0.4] - at[0.1]
    return {"rise": rise, "bulge": (at[0.25] - 0.5 * (at[0.1] + at[0.4])) / max(abs(rise), 1.0)}


def real() -> None:
    from cacscore.chest.heart import locate_heart
    from cacscore.io.ct import read_ct

    print("series,aspect,angle,rise,bulge")
    for s, (k, pts) in REAL_HEART.items():
        v = read_ct(f"/work/shared/data/lidc-idri-{s}")
        yy, xx = np.mgrid[:v.hu.shape[1], :v.hu.shape[2]]
        m = Path(pts).contains_points(np.stack([xx.ravel(), yy.ravel()], axis=1)).reshape(xx.shape)
        st = section_stats(m)
        kc, ky, kx = (int(round(t)) for t in locate_heart(v).index)
        # the right hemithorax: the image's left half (columns 0 .. the spine, taken as the image centre)
        d = dome_stats(v.hu[:, ky, :], np.arange(0, v.hu.shape[2] // 2), v.spacing_mm[0], v.spacing_mm[2])
        print(f"{s},{st['aspect']:.3f},{st['angle']:.1f},{d['rise']:.1f},{d['bulge']:.3f}")


def phantom(seed: int, ids: str, versions: list[str], size: int, csv: str | None) -> None:
    from cacscore.phantom import make_patient
    from cacscore.phantom.anatomy import LABEL

    a, b = (int(t) for t in ids.split("-"))
    rows = ["seed,pid,version,slice_mm,aspect,angle,solidity,rise,bulge,truth_equal_first,LCA,LAD,LCX,RCA,total"]
    for pid in range(a, b + 1):
        first = None
        for ver in versions:
            p = make_patient(pid, seed=seed, size=size, version=ver, anatomy=True)
            sp = p.spacing_mm
            kc, ky, kx = (int(round(t)) for t in p.heart_centre_index)
            k = kc - int(round(10.0 / sp[0]))
            m = np.isin(p.anatomy_labels[k], [LABEL[n] for n in HEART_LABELS])
            lab, _ = ndimage.label(m)
            if lab[ky, kx] > 0:
                m = ndimage.binary_fill_holes(lab == lab[ky, kx])
            st = section_stats(m)
            d = dome_stats(p.hu[:, ky, :], np.arange(0, size // 2), sp[0], sp[2])
            t = p.truth
            first = t if first is None else first
            rows.append(f"{seed},{pid},{ver},{sp[0]},{st['aspect']:.3f},{st['angle']:.1f},{st['solidity']:.3f},"
                        f"{d['rise']:.1f},{d['bulge']:.3f},{int(t == first)},"
                        + ",".join(f"{t[n]:.3f}" for n in ("LCA", "LAD", "LCX", "RCA", "total")))
            print(rows[-1], flush=True)
    if csv:
        with open(csv, "w") as f:
            f.write("\n".join(rows) + "\n")
    import pandas as pd
    from io import StringIO

    df = pd.read_csv(StringIO("\n".join(rows)))
    for ver, g in df.groupby("version", sort=False):
        q = {c: np.nanpercentile(g[c].replace(np.inf, np.nan), [10, 50, 90]) for c in
             ("aspect", "angle", "solidity", "rise", "bulge")}
        print(f"# {ver}: " + "; ".join(f"{c} median {v[1]:.3f} (p10 {v[0]:.3f}, p90 {v[2]:.3f})" for c, v in q.items())
              + f"; truth equal to {versions[0]} on {int(g.truth_equal_first.sum())} / {len(g)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("real")
    ph = sub.add_parser("phantom")
    ph.add_argument("--seed", type=int, required=True)
    ph.add_argument("--ids", default="1-20")
    ph.add_argument("--versions", nargs="+", default=["v20", "v22"])
    ph.add_argument("--size", type=int, default=256)
    ph.add_argument("--csv", default=None)
    a = ap.parse_args()
    if a.cmd == "real":
        real()
    else:
        phantom(a.seed, a.ids, a.versions, a.size, a.csv)


if __name__ == "__main__":
    main()
