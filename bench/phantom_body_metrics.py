"""Numbers behind issue 15's body pictures: the same measurements on phantom patients and on the real series.

    PYTHONPATH=src python bench/phantom_body_metrics.py --real ../shared/data/lidc-idri-000{1,2,3} \
        --pids 1 2 3 4 5 6 --seed 0 --size 256 [--off BODY_SHAPE]

Per volume, on 5 mm slabs (thinner slices averaged), heights relative to its heart centre (the phantom's truth, the
real series' chest.heart.locate_heart, the comparison pictures' frame):
- body width / depth (mm) of the largest soft-tissue component (> -300 HU, the table excluded) every 20 mm of height,
  and the lungs' outer width;
- lung vessel density: the share of lung voxels above -500 HU over -30..+90 mm (lung = inside the body below
  -500 HU, components of at least 500 mm^2, closed with a 5 mm disc so that vessels count as lung);
- heart share at mid-ventricle (-40..+10 mm, the widest slab): per row, the soft tissue between the two lungs in
  front of the spine over the whole row's span between the outer lung edges (a cardiothoracic ratio on axial CT),
  and the same as an area share of that span in front of the spine.
One algorithm for both, so the numbers compare even where it cuts corners (it counts the descending aorta as heart
where it lies in front of the spine's front).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

HEIGHTS = np.arange(-80, 161, 20)


def slabs5(hu: np.ndarray, dz: float) -> tuple[np.ndarray, float]:
    """Average thin slices into slabs of about 5 mm (z ascending kept)."""
    n = max(int(round(5.0 / dz)), 1)
    m = hu.shape[0] // n
    return hu[: m * n].reshape(m, n, *hu.shape[1:]).mean(axis=1), dz * n


def _disc(r_px: float) -> np.ndarray:
    r = int(np.ceil(r_px))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    return yy * yy + xx * xx <= r_px * r_px


def body_and_lung(sl: np.ndarray, px: float) -> tuple[np.ndarray, np.ndarray]:
    """(body interior, lung) masks of one axial slab."""
    lab, n = ndimage.label(sl > -300)
    if n == 0:
        z = np.zeros(sl.shape, bool)
        return z, z
    sizes = ndimage.sum_labels(np.ones_like(sl), lab, np.arange(1, n + 1))
    body = ndimage.binary_fill_holes(lab == 1 + int(np.argmax(sizes)))
    lung = body & (sl < -500)
    lab, n = ndimage.label(lung)
    if n:
        sizes = ndimage.sum_labels(np.ones_like(sl), lab, np.arange(1, n + 1)) * px * px
        lung = np.isin(lab, 1 + np.flatnonzero(sizes >= 500))
    return body, lung


def measure(hu: np.ndarray, dz: float, px: float, kc: float) -> dict:
    hu5, dz5 = slabs5(hu, dz)
    kc5 = kc * dz / dz5
    out = {"width": {}, "depth": {}, "lung_width": {}}
    for h in HEIGHTS:
        k = int(round(kc5 + h / dz5))
        if not 0 <= k < hu5.shape[0]:
            continue
        body, lung = body_and_lung(hu5[k], px)
        cols, rows = np.flatnonzero(body.any(0)), np.flatnonzero(body.any(1))
        if len(cols):
            out["width"][int(h)] = (cols[-1] - cols[0] + 1) * px
            out["depth"][int(h)] = (rows[-1] - rows[0] + 1) * px
        lc = np.flatnonzero(lung.any(0))
        out["lung_width"][int(h)] = (lc[-1] - lc[0] + 1) * px if len(lc) else 0.0
    tot = dense = 0
    for k in range(int(round(kc5 - 30 / dz5)), int(round(kc5 + 90 / dz5)) + 1):
        if not 0 <= k < hu5.shape[0]:
            continue
        body, lung = body_and_lung(hu5[k], px)
        closed = ndimage.binary_closing(lung, _disc(5.0 / px)) & body
        tot += int(closed.sum())
        dense += int((closed & (hu5[k] > -500)).sum())
    out["vessel_frac"] = dense / max(tot, 1)
    best = (0.0, 0.0, 0.0)
    for k in range(int(round(kc5 - 40 / dz5)), int(round(kc5 + 10 / dz5)) + 1):
        if 0 <= k < hu5.shape[0]:
            best = max(best, heart_share(hu5[k], px))
    out["ctr"], out["heart_area"], out["thorax_w"] = best[1], best[2], best[0]
    return out


def heart_share(sl: np.ndarray, px: float) -> tuple[float, float, float]:
    """(inner thoracic width mm, widest soft tissue between the lungs / that width, area share in front of the spine)."""
    body, lung = body_and_lung(sl, px)
    lung = ndimage.binary_closing(lung, _disc(3.0 / px)) & body
    cols = np.flatnonzero(lung.any(0))
    if not len(cols):
        return (0.0, 0.0, 0.0)
    mid = 0.5 * (cols[0] + cols[-1])
    half = int(round(25 / px))
    bone = np.flatnonzero((sl[:, int(mid) - half:int(mid) + half] > 200).any(1))
    rows_b = np.flatnonzero(body.any(1))
    centre_row = 0.5 * (rows_b[0] + rows_b[-1])
    back = bone[bone > centre_row]
    spine_front = int(back[0]) if len(back) else int(rows_b[-1])
    w_thorax, w_heart, a_heart, a_span = 0, 0, 0, 0
    for r in range(lung.shape[0]):
        c = np.flatnonzero(lung[r])
        if len(c) < 2:
            continue
        span = c[-1] - c[0] + 1
        w_thorax = max(w_thorax, span)
        if r >= spine_front:
            continue
        right, left = c[c < mid], c[c > mid]
        a_span += span
        if len(right) and len(left):
            gap = int(left[0] - right[-1] - 1)
            w_heart = max(w_heart, gap)
            a_heart += gap
    return (w_thorax * px, w_heart / max(w_thorax, 1), a_heart / max(a_span, 1))


def real_volume(path: Path):
    from cacscore.chest.heart import locate_heart
    from cacscore.io.ct import read_ct

    v = read_ct(path)
    f = locate_heart(v)
    return v.hu.astype(np.float32), float(v.spacing_mm[0]), float(v.spacing_mm[2]), float(f.index[0])


def phantom_volume(pid: int, seed: int, size: int):
    from cacscore.phantom import make_patient

    p = make_patient(pid, seed=seed, size=size)
    return p.hu.astype(np.float32), float(p.spacing_mm[0]), float(p.spacing_mm[2]), float(p.heart_centre_index[0])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real", type=Path, nargs="*", default=[])
    ap.add_argument("--pids", type=int, nargs="*", default=[])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--off", nargs="*", default=[], help="anatomy module switches to turn off (e.g. BODY_SHAPE)")
    args = ap.parse_args(argv)
    from cacscore.phantom import anatomy

    for name in args.off:
        setattr(anatomy, name, False)
    rows = [(p.name, real_volume(p)) for p in args.real]
    rows += [(f"phantom {pid}", phantom_volume(pid, args.seed, args.size)) for pid in args.pids]
    hs = [int(h) for h in HEIGHTS]
    print("name | vessel frac | CTR | heart area | thorax w | " + " ".join(f"w{h:+d}" for h in hs) + " | "
          + " ".join(f"d{h:+d}" for h in hs))
    for name, (hu, dz, px, kc) in rows:
        m = measure(hu, dz, px, kc)
        ws = " ".join(f"{m['width'].get(h, float('nan')):.0f}" for h in hs)
        ds = " ".join(f"{m['depth'].get(h, float('nan')):.0f}" for h in hs)
        print(f"{name} | {m['vessel_frac']:.4f} | {m['ctr']:.2f} | {m['heart_area']:.2f} | {m['thorax_w']:.0f} | {ws} | {ds}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
