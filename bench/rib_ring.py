"""The rib ring as a reader sees it on thin axial slices (session 23, wt31d; issue 15): per hemithorax and slice at
the heart's levels, how many separate rib sections lie round the lung and what share of the lung's outer outline has
bone beside it, measured the same way on a real series and on phantom patients.

    PYTHONPATH=src python bench/rib_ring.py real /work/shared/data/lidc-idri-0002
    PYTHONPATH=src python bench/rib_ring.py phantom --seed 14918 --ids 1-5 --version v20 [--size 512] [--csv OUT]
    PYTHONPATH=src python bench/rib_ring.py truth --seed 14918 --ids 1-50 [--versions v19 v20] [--size 256]
        # per patient: is the per-vessel static truth of the two versions identical (exact float equality), and
        # does any coronary label lie on a cartilage-calcium anatomy label (v20's calcified cartilage)

Method (one function for both): lungs = air (< -500 HU) inside the body, the two largest 2-D components; the ring =
pixels 1-14 mm outside a lung (the ribs lie on the pleura; the scapula 15+ mm out); bone = ring pixels > 200 HU,
not within 40 mm of the spine's centre nor 25 mm of the midline in front (vertebra, sternum), and not on the lung's
medial side (angle from the lung's centroid within 50 degrees of the midline direction). Sections: 8-connected bone
components of >= 8 mm^2. Coverage: the share of 5-degree angle bins (from the lung's centroid, outside the medial
sector) holding any bone. Heart levels: the heart centre -30 .. +40 mm (real: chest.heart.locate_heart; phantom: its
drawn centre), every slice.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from scipy import ndimage


def _lungs(sl: np.ndarray) -> list[np.ndarray]:
    body = ndimage.binary_fill_holes(ndimage.binary_opening(sl > -400, iterations=2))
    air = (sl < -500) & body
    lab, n = ndimage.label(air)
    if n < 2:
        return []
    sizes = ndimage.sum(air, lab, range(1, n + 1))
    keep = np.argsort(sizes)[::-1][:2] + 1
    return [lab == k for k in keep if sizes[k - 1] > 2000]


def _axes(lab: np.ndarray, keep: np.ndarray, px: float) -> list[tuple[float, float]]:
    """(length, thickness) mm of each kept component: 4 sqrt of its pixel coordinates' covariance eigenvalues (an
    ellipse's full axes), the pixel's own 1/12 variance added."""
    out = []
    for i, sl_ in enumerate(ndimage.find_objects(lab)):
        if sl_ is None or not keep[i]:
            continue
        yy, xx = np.nonzero(lab[sl_] == i + 1)
        ev = np.linalg.eigvalsh(np.cov(np.vstack([yy, xx])) + np.eye(2) / 12.0) if len(yy) > 2 else np.zeros(2)
        out.append((4 * np.sqrt(max(ev[1], 0)) * px, 4 * np.sqrt(max(ev[0], 0)) * px))
    return out


SHAPES: list[tuple[float, float]] = []
"""Every counted section's (length, thickness) of the last volume_ring calls (for summary)."""


def slice_ring(sl: np.ndarray, px: float, spine_xy: tuple[float, float], mid_x: float) -> list[tuple[int, float]]:
    """Per lung on this slice (sorted right then left by column): (sections, coverage); each section's (length,
    thickness) appended to SHAPES."""
    out = []
    rows, cols = np.indices(sl.shape)
    for lung in sorted(_lungs(sl), key=lambda m: np.nonzero(m)[1].mean()):
        d = ndimage.distance_transform_edt(~lung) * px
        ring = (d > 0.5) & (d <= 14.0)
        cy, cx = np.nonzero(lung)
        yc, xc = cy.mean(), cx.mean()
        ang = np.arctan2(rows - yc, cols - xc)
        to_mid = np.arctan2(0.0, mid_x - xc)
        medial = np.abs(np.angle(np.exp(1j * (ang - to_mid)))) < np.deg2rad(50)
        spine = np.hypot((cols - spine_xy[0]) * px, (rows - spine_xy[1]) * px) < 40.0
        front = (np.abs(cols - mid_x) * px < 25.0) & (rows < yc)
        bone = ring & (sl > 200) & ~medial & ~spine & ~front
        lab, n = ndimage.label(bone, structure=np.ones((3, 3)))
        area = ndimage.sum(bone, lab, range(1, n + 1)) * px * px if n else np.zeros(0)
        sections = int((area >= 8.0).sum())
        SHAPES.extend(_axes(lab, np.asarray(area) >= 8.0, px))
        bins = np.floor((np.rad2deg(ang) + 180) / 5).astype(int)
        avail = np.unique(bins[ring & ~medial & ~spine & ~front])
        have = np.unique(bins[bone])
        out.append((sections, len(have) / max(len(avail), 1)))
    return out


def volume_ring(hu: np.ndarray, dz: float, px: float, kc: int, spine_xy, mid_x) -> list[tuple[int, int, float]]:
    """(slice offset mm, sections, coverage) of every hemithorax at the heart's levels."""
    res = []
    for k in range(max(kc + int(round(-30 / dz)), 0), min(kc + int(round(40 / dz)) + 1, hu.shape[0])):
        for s, c in slice_ring(hu[k], px, spine_xy, mid_x):
            res.append((round((k - kc) * dz), s, c))
    return res


def _spine_mid(sl: np.ndarray, px: float) -> tuple[tuple[float, float], float]:
    body = np.nonzero((sl > -400).any(axis=0))[0]
    mid = 0.5 * (body[0] + body[-1])
    r, c = np.nonzero(sl > 250)
    near = np.abs(c - mid) < 30.0 / px
    back = r[near] > np.percentile(r[near], 50) if near.any() else None
    if back is None:
        return (mid, sl.shape[0] * 0.7), mid
    return (float(np.median(c[near][back])), float(np.median(r[near][back]))), mid


def summary(rows: list) -> str:
    s = np.array([r[1] for r in rows], float)
    c = np.array([r[2] for r in rows], float)
    return (f"hemithorax-slices {len(rows)}: sections per hemithorax median {np.median(s):.1f} "
            f"(p10 {np.percentile(s, 10):.0f}, p90 {np.percentile(s, 90):.0f}, mean {s.mean():.2f}); "
            f"coverage median {np.median(c):.2f} (p10 {np.percentile(c, 10):.2f}, p90 {np.percentile(c, 90):.2f}); "
            + shapes_line())


def shapes_line() -> str:
    """Median section length and thickness (mm) and median length / thickness of SHAPES."""
    if not SHAPES:
        return "no sections"
    a = np.array(SHAPES)
    r = a[:, 0] / np.maximum(a[:, 1], 1e-6)
    return (f"sections {len(a)}: length median {np.median(a[:, 0]):.2f} mm (p10 {np.percentile(a[:, 0], 10):.1f}, "
            f"p90 {np.percentile(a[:, 0], 90):.1f}), thickness median {np.median(a[:, 1]):.1f} mm, "
            f"length / thickness median {np.median(r):.2f}")


def truth_table(seed: int, ids: str, versions: list[str], size: int) -> None:
    """Per patient: the two versions' per-vessel static truth equal (exact), coronary labels on cartilage calcium."""
    from cacscore.phantom import make_patient
    from cacscore.phantom.anatomy import LABEL

    lo, hi = (int(t) for t in ids.split("-"))
    same = n = 0
    print("seed,pid,truth_equal,total_a,total_b,coronary_on_cartilage_calcium,cartilage_calcium_voxels")
    for pid in range(lo, hi + 1):
        pa, pb = (make_patient(pid, seed=seed, size=size, version=v, anatomy=True) for v in versions)
        eq = pa.truth == pb.truth
        cc = pb.anatomy_labels == LABEL["cartilage_calcium"]
        on = int(((pb.labels > 0) & cc).sum())
        same += eq
        n += 1
        print(f"{seed},{pid},{int(eq)},{pa.truth['total']:.3f},{pb.truth['total']:.3f},{on},{int(cc.sum())}",
              flush=True)
    print(f"# {versions[1]} truth == {versions[0]} truth on {same} / {n} patients (seed {seed}, ids {ids}, {size} px)")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("real")
    r.add_argument("series")
    p = sub.add_parser("phantom")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--ids", default="1-5")
    p.add_argument("--version", default="v19")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--csv", default=None)
    t = sub.add_parser("truth")
    t.add_argument("--seed", type=int, required=True)
    t.add_argument("--ids", default="1-5")
    t.add_argument("--versions", nargs=2, default=["v19", "v20"])
    t.add_argument("--size", type=int, default=256)
    a = ap.parse_args(argv)
    if a.cmd == "truth":
        truth_table(a.seed, a.ids, a.versions, a.size)
        return
    if a.cmd == "real":
        from cacscore.chest.heart import locate_heart
        from cacscore.io.ct import read_ct

        v = read_ct(a.series)
        f = locate_heart(v)
        kc = f.index[0]
        sxy, mid = _spine_mid(v.hu[kc], v.spacing_mm[1])
        rows = volume_ring(v.hu, v.spacing_mm[0], v.spacing_mm[1], kc, sxy, mid)
        print(a.series, f"slice {v.spacing_mm[0]} mm", summary(rows))
        return
    from cacscore.phantom import make_patient

    lo, hi = (int(t) for t in a.ids.split("-"))
    allrows, lines = [], ["seed,pid,slice_mm,sections_median,sections_mean,coverage_median,length_median,"
                          "thickness_median,ratio_median"]
    for pid in range(lo, hi + 1):
        pt = make_patient(pid, seed=a.seed, size=a.size, version=a.version)
        kc = int(round(pt.heart_centre_index[0]))
        px, dz = pt.spacing_mm[1], pt.spacing_mm[0]
        an = pt.anatomy
        sxy = ((an.spine_c[0] - pt.origin_mm[0]) / px, (an.spine_c[1] - pt.origin_mm[1]) / px)
        _, mid = _spine_mid(pt.hu[kc], px)
        n0 = len(SHAPES)
        rows = volume_ring(pt.hu, dz, px, kc, sxy, mid)
        allrows += rows
        sh = np.array(SHAPES[n0:]).reshape(-1, 2)
        med = np.median(sh, axis=0) if len(sh) else np.full(2, np.nan)
        rat = float(np.median(sh[:, 0] / np.maximum(sh[:, 1], 1e-6))) if len(sh) else np.nan
        s = np.array([q[1] for q in rows], float)
        c = np.array([q[2] for q in rows], float)
        lines.append(f"{a.seed},{pid},{dz},{np.median(s):.1f},{s.mean():.2f},{np.median(c):.2f},{med[0]:.1f},"
                     f"{med[1]:.1f},{rat:.2f}")
        print(lines[-1], flush=True)
    print(f"{a.version} seed {a.seed} ids {a.ids}:", summary(allrows))
    if a.csv:
        with open(a.csv, "w") as fh:
            fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
