"""Phantom geometry against eye-placed landmarks on the three real series (docs/phantom.md, issue 15).

    PYTHONPATH=src .venv/bin/python bench/phantom_geometry.py --patients 100 --seed 0 \
        --picture docs/pictures/real_landmarks.png [--rendered 40]

--rendered N (v4) also renders the first N phantom patients (256 px, with the anatomy label volume) and measures,
with the same code as on the real series, the thorax's width by level (lung extent on each axial slice, as a
fraction of its widest, at fixed depths below the lung apex) and the cardiothoracic ratio (the heart's widest
transverse extent, pericardium included, over the lung extent on that slice, and over the widest lung extent);
the real hearts' extents are eye-placed (docs/real_landmarks.json, "ctr").

Phantom statistics come from the drawn anatomy (no rendering): the heart's centre as a fraction of
the thoracic cavity's width (patient right = 0) and depth (back of the sternum = 0, front of the
vertebral body = 1), its transverse extent over the cavity width on the axial slice through its
centre (pericardium included, as the eye sees a real heart's outline), long-axis angles, descending aorta position beside the spine and diameter, ascending and root
diameters, and the gap from the back of the sternum to the pericardium's front. The real values are from
docs/real_landmarks.json (placed by eye, +-5 mm); the picture shows them on the real slices.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from scipy import ndimage

from cacscore.phantom import make_patient
from cacscore.phantom.anatomy import ANATOMY_VERSION, ANATOMY_VERSIONS, LABEL, PERICARDIUM_REACH_MM, ventricle_shapes
from cacscore.phantom.raster import ellipsoid_columns
from cacscore.phantom.core import _draws

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def phantom_row(pid: int, seed: int, version: str = ANATOMY_VERSION) -> dict:
    a = _draws(pid, seed, 128, version=version)[0].anat
    (cx, cy), (ca, cb) = a.cav_c, a.cav_ab
    front = cy - cb + 9.0  # back of the sternum (anatomy._paint_sternum: centre cy - cb + 3, 6 mm half-thickness)
    back = a.spine_c[1] - a.spine_r
    hc, ax, semi = a.heart_c, a.heart_axes, a.heart_semi
    # the heart's axial cross-section through its centre: the ventricles (a union of three ellipsoids) cut at
    # z = hc_z, on a 0.5 mm grid
    xs, ys = hc[0] + np.arange(-150, 150, 0.5), hc[1] + np.arange(-150, 150, 0.5)
    cut = np.zeros((len(ys), len(xs)), bool)
    shapes = ventricle_shapes(hc, ax, semi)
    for c, s in shapes:
        lo, hi = ellipsoid_columns(xs, ys, c, ax, s)
        cut |= (lo <= hc[2]) & (hi >= hc[2])
    cols = np.nonzero(cut.any(axis=0))[0]
    half = np.array([0.5 * (xs[cols[-1]] - xs[cols[0]]), 0.0])
    y_front = min(float(c[1] - np.sqrt(((ax[:, 1] * s) ** 2).sum())) for c, s in shapes)
    seg = a.aorta.label
    asc = a.aorta.radius[(seg == LABEL["aorta_ascending"]) & (a.aorta.points[:, 2] > a.aorta_root[2] + 15)]
    return {
        "heart_x_frac": (hc[0] - (cx - ca)) / (2 * ca), "heart_y_frac": (hc[1] - front) / (back - front),
        "heart_width_over_cavity": (half[0] + PERICARDIUM_REACH_MM) / ca,  # the outline a reader sees
        "sternum_to_vertebra_mm": back - front, "axis_azimuth_deg": a.heart_angles_deg[0],
        "axis_elevation_deg": a.heart_angles_deg[1], "sternum_to_heart_mm": (y_front - PERICARDIUM_REACH_MM) - front,
        "desc_aorta_dx_from_spine_mm": a.desc_c[0] - a.spine_c[0],
        "desc_aorta_dy_from_vertebra_front_mm": a.desc_c[1] - back, "desc_aorta_d_mm": 2 * a.desc_r,
        "ascending_d_mm": 2 * float(np.median(asc)) if len(asc) else np.nan,
        "root_d_mm": 2 * float(a.aorta.radius[0]), "cavity_width_mm": 2 * ca,
    }


DEPTHS_MM = (20, 60, 100, 140, 200)
"""Levels below the lung apex at which the thorax's width is compared (fraction of its widest)."""
HEART_LABELS = ("heart", "epicardial_fat", "pericardium", "coronary_artery")


def lung_mask(sl: np.ndarray, px_mm: float) -> np.ndarray:
    """Lungs on one axial slice: HU < -500 inside the body (the largest > -400 HU component, holes filled), opened,
    components under 200 mm^2 dropped (airways, stomach gas)."""
    body = ndimage.binary_fill_holes(ndimage.binary_opening(sl > -400, iterations=2))
    lab, n = ndimage.label(body)
    if n == 0:
        return np.zeros(sl.shape, bool)
    body = lab == (np.argmax(np.bincount(lab.ravel())[1:]) + 1)
    lung = ndimage.binary_opening(body & (sl < -500), iterations=2)
    lab2, n2 = ndimage.label(lung)
    if n2 == 0:
        return lung
    sizes = np.bincount(lab2.ravel())
    sizes[0] = 0
    return np.isin(lab2, np.nonzero(sizes * px_mm ** 2 > 200)[0])


def lung_extent_mm(sl: np.ndarray, px_mm: float) -> float:
    """Left-right extent (mm) of the lungs (lung_mask) on one axial slice, columns with >= 2 lung pixels. The
    inner surface of the ribs, on real and phantom slices alike."""
    cols = np.nonzero(lung_mask(sl, px_mm).sum(axis=0) >= 2)[0]
    return float((cols[-1] - cols[0] + 1) * px_mm) if len(cols) else 0.0


def dome_profile(hu: np.ndarray, z_mm: np.ndarray, px_mm: float) -> dict:
    """The right diaphragm dome on the coronal plane through the lungs' mid-depth (v5): the lung base (lowest
    lung z, lung_mask, within +-5 mm of the plane) per column of the right lung (image left); its top over the
    lateral 15-65 % of the right lung's width (clear of the right atrium); how far the base falls from the top half way to the lateral wall and
    at the lateral 10 %; and the right dome's top above the left one's (left: its lateral 20-60 %, clear of the
    heart). ``hu`` (z, y, x), z_mm per slice (any order); the same code on real and phantom volumes."""
    masks = np.stack([lung_mask(sl, px_mm) for sl in hu])
    widest = int(np.argmax(masks.sum(axis=(1, 2))))
    yc = int(round(np.nonzero(masks[widest])[0].mean()))
    r = max(1, int(round(5.0 / px_mm)))
    plane = masks[:, max(yc - r, 0):yc + r + 1].any(axis=1)  # (z, x)
    cols = np.nonzero(plane.any(axis=0))[0]
    mid = 0.5 * (cols[0] + cols[-1])
    z = np.asarray(z_mm, float)
    base = np.array([z[plane[:, i]].min() if plane[:, i].any() else np.nan for i in range(plane.shape[1])])

    def side(lo: int, hi: int, f0: float, f1: float) -> np.ndarray:  # fractions from the lateral edge inward
        n = hi - lo
        return np.arange(lo + int(f0 * n), lo + int(f1 * n) + 1)

    right = (int(cols[0]), int(mid))  # image left = patient right; lateral edge first
    mid_r = side(*right, 0.15, 0.65)  # lateral of the right heart border (above the right atrium the base is the heart's top)
    i_top = mid_r[np.nanargmax(base[mid_r])]
    top = base[i_top]
    half = int(round(0.5 * (i_top + right[0])))
    lateral = np.nanmin(base[side(*right, 0.0, 0.1)])
    left = np.arange(int(cols[-1] - 0.6 * (cols[-1] - mid)), int(cols[-1] - 0.2 * (cols[-1] - mid)) + 1)
    return {"right_dome_fall_halfway_mm": float(top - base[half]), "right_dome_top_over_lateral_mm": float(top - lateral),
            "right_dome_over_left_mm": float(top - np.nanmax(base[left]))}


def thorax_profile(hu: np.ndarray, z_mm: np.ndarray, px_mm: float) -> dict:
    """Lung width at DEPTHS_MM below the apex (the highest slice with >= 20 mm of lung) over its widest, the
    widest (mm) and its depth below the apex. ``hu`` (z, y, x) with z_mm per slice (any order)."""
    order = np.argsort(-np.asarray(z_mm))
    z = np.asarray(z_mm)[order]
    w = np.array([lung_extent_mm(hu[k], px_mm) for k in order])
    top = z[np.argmax(w > 20)]
    i_max = int(np.argmax(w))
    out = {f"lung_width_{d}mm_below_apex_over_widest": float(w[np.argmin(np.abs(top - z - d))] / w[i_max])
           for d in DEPTHS_MM}
    out["widest_lung_mm"] = float(w[i_max])
    out["widest_depth_below_apex_mm"] = float(top - z[i_max])
    return out


def rendered_row(pid: int, seed: int, size: int = 256, version: str = ANATOMY_VERSION) -> dict:
    """Cardiothoracic ratio and thorax profile of one rendered phantom patient (static image, labels)."""
    p = make_patient(pid, seed=seed, size=size, anatomy=True, version=version)
    lab, px = p.anatomy_labels, p.spacing_mm[1]
    z = p.origin_mm[2] + p.spacing_mm[0] * np.arange(lab.shape[0])
    heart = np.isin(lab, [LABEL[n] for n in HEART_LABELS]).any(axis=1)  # (z, x): columns holding heart
    widths = np.array([(np.ptp(np.nonzero(h)[0]) + 1) * px if h.any() else 0.0 for h in heart])
    k = int(np.argmax(widths))
    prof = thorax_profile(p.hu_static, z, px)
    step = max(1, int(round(2.5 / p.spacing_mm[0])))
    return {"ctr_on_its_slice": widths[k] / lung_extent_mm(p.hu_static[k], px),
            "ctr_over_widest_lung": widths[k] / prof["widest_lung_mm"], "heart_width_mm": widths[k], **prof,
            **dome_profile(p.hu_static[::step], z[::step], px)}


def real_rendered_rows(landmarks: dict) -> pd.DataFrame:
    """The same statistics on the real series: thorax profile from 5 mm-spaced slices; heart extent eye-placed."""
    from cacscore.io.ct import read_ct

    rows = {}
    for name, lm in landmarks.items():
        if name == "about" or "ctr" not in lm:
            continue
        v = read_ct(DATA / name)
        step = max(1, int(round(5.0 / v.spacing_mm[0])))
        z = v.positions_mm[::step, 2]
        prof = thorax_profile(v.hu[::step], z, v.spacing_mm[1])
        c = lm["ctr"]
        k = int(np.argmin(np.abs(v.positions_mm[:, 2] - c["z_mm"])))
        w = c["heart_x"][1] - c["heart_x"][0]
        s2 = max(1, int(round(2.5 / v.spacing_mm[0])))
        rows[name] = {"ctr_on_its_slice": w / lung_extent_mm(v.hu[k], v.spacing_mm[1]),
                      "ctr_over_widest_lung": w / prof["widest_lung_mm"], "heart_width_mm": float(w), **prof,
                      **dome_profile(v.hu[::s2], v.positions_mm[::s2, 2], v.spacing_mm[1])}
    return pd.DataFrame(rows)


def real_rows(landmarks: dict) -> pd.DataFrame:
    rows = {}
    for name, lm in landmarks.items():
        if not name.startswith("lidc-idri"):  # session 21: skip "about" and great_vessels_v14 (session 14 added it)
            continue
        c, h, d = lm["cavity"], lm["heart"], lm["desc_aorta"]
        hx, hy = 0.5 * (h["x_min"] + h["x_max"]), 0.5 * (h["y_min"] + h["y_max"])
        width = c["x_left"] - c["x_right"]
        v = np.subtract(lm["axis_apex"], lm["axis_base"])
        rows[name] = {
            "heart_x_frac": (hx - c["x_right"]) / width, "heart_y_frac": (hy - c["y_front"]) / (c["y_back"] - c["y_front"]),
            "heart_width_over_cavity": (h["x_max"] - h["x_min"]) / width,
            "sternum_to_vertebra_mm": c["y_back"] - lm["sternum_back_y"],
            "axis_azimuth_deg": float(np.degrees(np.arctan2(v[0], -v[1]))), "axis_elevation_deg": np.nan,
            "sternum_to_heart_mm": h["y_min"] - lm["sternum_back_y"],
            "desc_aorta_dx_from_spine_mm": d["x"] - lm["spine_x"],
            "desc_aorta_dy_from_vertebra_front_mm": d["y"] - c["y_back"], "desc_aorta_d_mm": d["d"],
            "ascending_d_mm": np.nan, "root_d_mm": np.nan, "cavity_width_mm": width,
        }
    return pd.DataFrame(rows)


def _show_axial(ax, v, z_mm: float) -> int:
    """Draw the axial slice of volume ``v`` nearest ``z_mm`` in patient mm (grey, -200..300 HU); its index."""
    k = int(np.argmin(np.abs(v.positions_mm[:, 2] - z_mm)))
    x0, y0 = v.positions_mm[k][:2]
    ny, nx = v.hu.shape[1:]
    ax.imshow(v.hu[k], cmap="gray", vmin=-200, vmax=300,
              extent=(x0, x0 + nx * v.spacing_mm[2], y0 + ny * v.spacing_mm[1], y0))
    return k


def picture(landmarks: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cacscore.io.ct import read_ct

    names = [n for n in landmarks if n.startswith("lidc-idri")]
    series = {name: read_ct(DATA / name) for name in names}  # each series read once for both rows
    fig, grid = plt.subplots(2, len(names), figsize=(6 * len(names), 12), dpi=80)
    for ax, name in zip(grid[1], names):  # the cardiothoracic ratio's slice: heart borders (red), lung extent in the title
        c = landmarks[name].get("ctr")
        if c is None:
            ax.axis("off")
            continue
        v = series[name]
        k = _show_axial(ax, v, c["z_mm"])
        for xv in c["heart_x"]:
            ax.axvline(xv, color="r", lw=0.8)
        w = lung_extent_mm(v.hu[k], v.spacing_mm[1])
        ax.set_title(f"{name} z {c['z_mm']} mm: heart's widest extent (red) {c['heart_x'][1] - c['heart_x'][0]} mm;\n"
                     f"lung extent (threshold) {w:.0f} mm: ratio {(c['heart_x'][1] - c['heart_x'][0]) / w:.2f}", fontsize=8)
    axes = grid[0]
    for ax, name in zip(axes, names):
        lm = landmarks[name]
        v = series[name]
        k = _show_axial(ax, v, lm["z_mm"])
        x0, nx = v.positions_mm[k][0], v.hu.shape[2]
        c, h, d = lm["cavity"], lm["heart"], lm["desc_aorta"]
        ax.add_patch(plt.Rectangle((c["x_right"], c["y_front"]), c["x_left"] - c["x_right"], c["y_back"] - c["y_front"],
                                   fill=False, ec="c", lw=1))
        ax.add_patch(plt.Rectangle((h["x_min"], h["y_min"]), h["x_max"] - h["x_min"], h["y_max"] - h["y_min"],
                                   fill=False, ec="r", lw=1))
        ax.add_patch(plt.Circle((d["x"], d["y"]), d["d"] / 2, fill=False, ec="y", lw=1))
        ax.plot(*zip(lm["axis_base"], lm["axis_apex"]), "m-", lw=1.5)
        ax.axhline(lm["sternum_back_y"], color="g", lw=0.6)
        ax.set_title(f"{name} z {lm['z_mm']} mm: cavity (cyan), heart (red), descending aorta (yellow),\n"
                     "long axis in the axial plane (magenta), back of the sternum (green)", fontsize=8)
        ax.set_xlim(x0, x0 + nx * v.spacing_mm[2])
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--picture", type=Path, default=None)
    ap.add_argument("--rendered", type=int, default=0, help="render this many patients for the CTR / thorax rows")
    ap.add_argument("--version", default=ANATOMY_VERSION, choices=ANATOMY_VERSIONS,
                    help="the phantom's anatomy version (session 21; default: the default anatomy)")
    args = ap.parse_args()
    landmarks = json.loads((ROOT / "docs" / "real_landmarks.json").read_text())
    ph = pd.DataFrame([phantom_row(pid, args.seed, args.version) for pid in range(1, args.patients + 1)])
    real = real_rows(landmarks)
    if args.rendered:
        rend = pd.DataFrame([rendered_row(pid, args.seed, version=args.version) for pid in range(1, args.rendered + 1)])
        ph = pd.concat([ph, rend], axis=1)
        real = pd.concat([real, real_rendered_rows(landmarks)])
    table = pd.DataFrame({"phantom min": ph.min(), "phantom median": ph.median(), "phantom max": ph.max()})
    table = table.join(real)
    inside = [(ph[c].min() <= real.loc[c]).all() and (real.loc[c] <= ph[c].max()).all()
              if real.loc[c].notna().any() else None for c in table.index]
    table["real within phantom range"] = inside
    print(f"{args.patients} phantom patients ({args.version}, seed {args.seed}; rendered rows: the first {args.rendered}) vs the real series")
    t = table.round(2).astype(str)
    print("| statistic | " + " | ".join(t.columns) + " |")
    print("|---" * (len(t.columns) + 1) + "|")
    for name, row in t.iterrows():
        print(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    if args.picture:
        picture(landmarks, args.picture)
        print(args.picture)


if __name__ == "__main__":
    main()
