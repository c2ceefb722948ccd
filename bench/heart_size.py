"""The heart's size and where the LCX / LAD lie from its centre: phantom patients (exact, from the anatomy labels and the
drawn centrelines) against the three real LIDC series (eye-placed points, docs/heart_size_landmarks.json). Session 16,
wt24c (docs/phantom.md, "Heart size and the found centre").

    PYTHONPATH=src python bench/heart_size.py phantom OUT.csv --seed 12201 --ids 1-100 --version v11 --size 256
    PYTHONPATH=src python bench/heart_size.py real OUT.csv [--pictures DIR]
    PYTHONPATH=src python bench/heart_size.py summary A.csv [B.csv ...]

Every position is in the volume frame (z, y, x) mm from voxel 0 (z up, y posterior, x to the patient's left), the
frame of cacscore.io.ct.read_ct and of docs/hybrid_landmarks.json. Columns (both sources):
- found_*: the heart finder's centre (cacscore.chest.heart.locate_heart); ref_*: the scorer's reference
  (cacscore.lesion.anatomy.heart_reference, "finder": what the candidate features are measured from); mask_*: the
  centroid of read_chest's pericardial mask.
- cen_*: the heart's centroid. Phantom: of the labels inside the pericardial sac (heart, epicardial fat, pericardium,
  coronaries, valve / annulus calcium). Real: the pericardial mask's centroid (the mask checked by eye in the pictures).
- box_*: the centre of the sac's outline on its widest axial slice (x: mid of the right / left borders, y: mid of the
  front / back borders, z: that slice): what the eye places on real series, so its offset from cen_* on phantoms says
  what it stands for.
- trans_mm / ap_mm: the sac's transverse (x) and antero-posterior (y) extent on its widest axial slice (pericardium
  included); vol_ml: the sac's volume (phantom: labels; real: read_chest's pericardial mask, both sides also give
  mask_ml); long_mm: apex (epicardial) to the centre of the mitral annulus / the left AV groove's plane on the long axis.
- lcx_r_* / lad_r_*: the mean in-plane distance (mm) of the LCX's first 50 mm (LAD: first 80 mm) from the bifurcation
  from the found reference (ref) and from cen; lcx_d3_*: the 3-D distance likewise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from id_ranges import id_range  # noqa: E402

SAC_LABELS = (5, 6, 7, 29, 32, 33)
"""anatomy.ANATOMY_LABELS inside the pericardial sac: heart, epicardial_fat, pericardium, coronary_artery,
aortic_valve_calcium, mitral_annulus_calcium."""
ARC = {"LCX": 50.0, "LAD": 80.0}
"""How much of each vessel (mm from the bifurcation) is measured: the real hybrid LCX courses are 53-56 mm long."""
REAL = ("lidc-idri-0001", "lidc-idri-0002", "lidc-idri-0003")
LANDMARKS = Path(__file__).resolve().parents[1] / "docs" / "heart_size_landmarks.json"
HYBRID = Path(__file__).resolve().parents[1] / "docs" / "hybrid_landmarks.json"


def _resample(points: np.ndarray, step: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(points every ``step`` mm along a polyline, their arc length)."""
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    a = np.arange(0.0, s[-1] + 1e-9, step)
    return np.stack([np.interp(a, s, points[:, k]) for k in range(3)], axis=1), a


ARC_BINS = ((0.0, 15.0), (15.0, 30.0), (30.0, 50.0))
"""Arc-length bins (mm from the bifurcation) of the in-plane distance: a plaque's distance depends on where along the
vessel it lies (the real hybrid LCX plaques lie 3-24 mm (0002) and 18-45 mm (0003) along the course)."""


def vessel_distances(course_zyx: np.ndarray, name: str,
                     centre_zyx: np.ndarray) -> tuple[float, float, list[float], np.ndarray]:
    """(mean in-plane, mean 3-D) distance (mm) of the course's first ARC[name] mm from a (z, y, x) centre, the
    mean in-plane distance in each ARC_BINS bin, and the mean (dz, dy, dx) offset of those first ARC[name] mm."""
    p, a = _resample(np.asarray(course_zyx, float))
    d = p - centre_zyx
    r = np.hypot(d[:, 1], d[:, 2])
    keep = a <= ARC[name]
    bins = [float(r[(a >= lo) & (a < hi)].mean()) if ((a >= lo) & (a < hi)).any() else np.nan for lo, hi in ARC_BINS]
    return float(r[keep].mean()), float(np.linalg.norm(d[keep], axis=1).mean()), bins, d[keep].mean(0)


def outline(mask: np.ndarray, spacing: np.ndarray) -> dict[str, float]:
    """Widest axial slice of a (z, y, x) mask: its z (mm), transverse and AP extents (mm) and the centre of its box."""
    xs = [np.nonzero(mask[k].any(0))[0] for k in range(mask.shape[0])]
    widths = np.array([(x.max() - x.min() + 1) if len(x) else 0 for x in xs])
    k = int(np.argmax(widths))
    ys, xx = np.nonzero(mask[k])
    return {"wide_z": k * spacing[0], "trans_mm": float(widths[k] * spacing[2]),
            "ap_mm": float((ys.max() - ys.min() + 1) * spacing[1]),
            "box_z": k * spacing[0], "box_y": float((ys.max() + ys.min()) / 2 * spacing[1]),
            "box_x": float((xx.max() + xx.min()) / 2 * spacing[2])}


def finder_window(hu: np.ndarray, spacing: tuple[float, float, float], sac: np.ndarray) -> dict[str, float]:
    """Where the heart finder's in-plane window (cacscore.chest.heart._mediastinum_in: between the two lungs' inner
    edges, the 90th / 10th percentile of their columns) cuts the heart: over the slices the finder weights
    (chest.heart._heart_weights), the weighted share of the sac's soft tissue (-20..150 HU, the finder's window) lying
    right of the window (win_right), left of it (win_left); and the share of the sac lying left of the body's midline
    (left_share: its voxels, all slices) and the sac's box centre minus the midline (box_from_mid_mm, widest slice).
    sac: (z, y, x) bool at the volume's own grid. A copy of the finder's per-slice logic, kept beside it here
    because the finder returns only its centre (bench-only: the shipped finder is unchanged)."""
    from cacscore.chest.heart import _heart_weights
    from cacscore.chest.lungs import heart_grid_step, lung_field
    step = heart_grid_step(spacing)
    small = np.asarray(hu[:, ::step, ::step], np.float32)
    s_sac = sac[:, ::step, ::step]
    lung = lung_field(hu, spacing).mask
    body = small > -400
    area = lung.sum((1, 2)).astype(float)
    field = np.flatnonzero(area > 0.4 * area.max())
    upper = field.min() + 0.67 * (field.max() - field.min())
    mass = np.zeros(len(small))
    cuts = {}
    for k in field[field <= upper]:
        ys, xs = np.nonzero(lung[k])
        xmid = np.nonzero(body[k])[1].mean()
        left, right = xs[xs < xmid], xs[xs >= xmid]
        if len(left) == 0 or len(right) == 0:
            continue
        x0, x1 = np.percentile(left, 90), np.percentile(right, 10)
        if x1 <= x0:
            continue
        soft = (small[k] > -20) & (small[k] < 150)
        mass[k] = soft[ys.min():ys.max() + 1, int(x0):int(x1) + 1].sum()
        _, xx = np.nonzero(s_sac[k] & soft)
        cuts[k] = (len(xx), (xx < int(x0)).sum(), (xx > int(x1)).sum())
    w = _heart_weights(mass, float(spacing[0])) if mass.max() > 0 else np.zeros(len(small))
    tot = sum(w[k] * c[0] for k, c in cuts.items()) or np.nan
    bx = np.nonzero(np.asarray(hu[:, ::step, ::step]) > -400)
    mid = float(np.median(bx[2][np.isin(bx[0], np.nonzero(s_sac.any((1, 2)))[0])])) * step * spacing[2]
    zs, _, xs_all = np.nonzero(sac[:, ::2, ::2])
    return {"win_right": float(sum(w[k] * c[1] for k, c in cuts.items()) / tot),
            "win_left": float(sum(w[k] * c[2] for k, c in cuts.items()) / tot),
            "midline_x": mid, "left_share": float((xs_all * 2 * spacing[2] > mid).mean())}


def _chest_columns(hu: np.ndarray, spacing: tuple[float, float, float]) -> dict[str, float]:
    """found_*, ref_*, mask_* (z, y, x mm) and mask_ml from the chest reader."""
    from cacscore.chest.heart import locate_heart
    from cacscore.lesion.anatomy import heart_reference, sac_centroid_mm
    sp = np.array(spacing, float)
    h = locate_heart(hu, spacing)
    anat = _read_chest_cached(hu, tuple(float(x) for x in spacing))
    ref, src = heart_reference(anat, h.index, h.found)
    out = {"ref_source": src, "mask_ml": float(anat.pericardium.sum() * np.prod(anat.grid_mm) / 1000.0)}
    for name, v in (("found", np.array(h.index) * sp), ("ref", np.array(ref) * sp), ("mask", sac_centroid_mm(anat))):
        out.update({f"{name}_z": float(v[0]), f"{name}_y": float(v[1]), f"{name}_x": float(v[2])})
    return out


def _vessel_columns(courses: dict[str, np.ndarray], row: dict) -> None:
    for name in ("LCX", "LAD"):
        for c in ("ref", "cen", "mask"):
            r, d3, bins, off = vessel_distances(courses[name], name,
                                                np.array([row[f"{c}_z"], row[f"{c}_y"], row[f"{c}_x"]]))
            for k, o in zip("zyx", off):
                row[f"{name.lower()}_d{k}_{c}"] = float(o)
            row[f"{name.lower()}_r_{c}"], row[f"{name.lower()}_d3_{c}"] = r, d3
            for (lo, hi), b in zip(ARC_BINS, bins):
                row[f"{name.lower()}_r{lo:.0f}_{hi:.0f}_{c}"] = b


def phantom_row(pid: int, seed: int, version: str, size: int) -> dict:
    from cacscore.phantom import make_patient
    p = make_patient(pid, seed=seed, size=size, version=version, anatomy=True)
    a = p.anatomy
    sp = np.array(p.spacing_mm, float)
    org = np.array(p.origin_mm, float)[[2, 1, 0]]  # (z, y, x) patient mm of voxel 0

    def vol(xyz: np.ndarray) -> np.ndarray:  # patient (x, y, z) -> volume (z, y, x) mm from voxel 0
        return np.asarray(xyz, float)[..., [2, 1, 0]] - org

    sac = np.isin(p.anatomy_labels, SAC_LABELS)
    heart = p.anatomy_labels == 5
    cen = np.argwhere(sac).mean(0) * sp
    row = {"set": f"phantom {version}", "seed": seed, "pid": pid, "semi_long": a.heart_semi[0],
           "semi_e2": a.heart_semi[1], "semi_e3": a.heart_semi[2], "azimuth_deg": a.heart_angles_deg[0],
           "elevation_deg": a.heart_angles_deg[1], "cardiomegaly": a.cardiomegaly,
           "vol_ml": float(sac.sum() * sp.prod() / 1000.0), "heart_ml": float(heart.sum() * sp.prod() / 1000.0),
           "cen_z": cen[0], "cen_y": cen[1], "cen_x": cen[2]}
    row.update(outline(sac, sp))
    # long axis: the heart label's farthest point along e1 (the apex) to the AV groove's plane on the axis (the
    # LCX's mean u, as coronary.render_heart places the atria), both in patient mm
    from cacscore.phantom.core import _draws
    d = _draws(pid, seed, size, version=version)[0]
    e1, hc = a.heart_axes[0], a.heart_c
    u_av = float(np.mean((d.vessels["LCX"].points[1:] - hc) @ e1) / a.heart_semi[0])
    hz = np.argwhere(heart) * sp + org  # (z, y, x) patient
    apex_len = float(((hz[:, [2, 1, 0]] - hc) @ e1).max())
    row["long_mm"] = apex_len - u_av * a.heart_semi[0]
    row.update(_chest_columns(p.hu, p.spacing_mm))
    row.update(finder_window(p.hu, p.spacing_mm, sac))
    row["box_from_mid_mm"] = row["box_x"] - row["midline_x"]
    _vessel_columns({n: vol(d.vessels[n].points) for n in ("LCX", "LAD")}, row)
    return row


_CHEST: dict = {}


def _read_chest_cached(hu: np.ndarray, sp: tuple[float, float, float]):
    from cacscore.chest.anatomy import read_chest
    key = (hu.shape, sp)
    if key not in _CHEST:
        _CHEST[key] = read_chest(hu, sp)
    return _CHEST[key]


def _mask_at(anat, shape: tuple[int, ...], sp: tuple[float, float, float]) -> np.ndarray:
    """read_chest's pericardial mask (coarse grid) at the volume's own grid (nearest coarse voxel)."""
    idx = [np.clip(np.rint(np.arange(n) * s / g).astype(int), 0, m - 1)
           for n, s, g, m in zip(shape, sp, anat.grid_mm, anat.pericardium.shape)]
    return anat.pericardium[np.ix_(*idx)]


def real_row(series: str, data: Path, lm: dict, hyb: dict) -> dict:
    from cacscore.io.ct import read_ct
    v = read_ct(data / series)
    hu, sp = v.hu, tuple(float(s) for s in v.spacing_mm)
    e = lm[series]
    row = {"set": f"real {series[-4:]}", "seed": -1, "pid": -1}
    row.update(_chest_columns(hu, sp))
    # cen = the pericardial mask's centroid (checked by eye); box = the eye-placed outline on the widest slice
    row.update({"cen_z": row["mask_z"], "cen_y": row["mask_y"], "cen_x": row["mask_x"], "vol_ml": row["mask_ml"]})
    w = e["widest"]
    row.update({"wide_z": w["z"], "trans_mm": w["x_left"] - w["x_right"], "ap_mm": w["y_back"] - w["y_front"],
                "box_z": w["z"], "box_y": (w["y_back"] + w["y_front"]) / 2, "box_x": (w["x_left"] + w["x_right"]) / 2})
    row["long_mm"] = float(np.linalg.norm(np.array(e["apex"], float) - np.array(e["mitral_centre"], float)))
    anat = _read_chest_cached(hu, sp)
    up = _mask_at(anat, hu.shape, sp)
    row.update(finder_window(hu, sp, up))
    row["box_from_mid_mm"] = row["box_x"] - row["midline_x"]
    _vessel_columns({n: np.array(hyb[series]["courses"][n], float) for n in ("LCX", "LAD")}, row)
    return row


def summary(frames: list[pd.DataFrame], cols: list[str] | None = None) -> str:
    """A markdown table per set: the value (one row) or p10 / p50 / p90 of each column; shares to 2 decimals."""
    d = pd.concat(frames, ignore_index=True)
    if "midline_x" in d:
        d["cen_from_mid_mm"] = d["cen_x"] - d["midline_x"]
    for c in ("found", "ref", "mask", "box"):
        d[f"{c}_err_mm"] = np.sqrt(sum((d[f"{c}_{k}"] - d[f"cen_{k}"]) ** 2 for k in "zyx"))
        for k in "zyx":
            d[f"{c}_d{k}"] = d[f"{c}_{k}"] - d[f"cen_{k}"]
    cols = cols or ["trans_mm", "ap_mm", "long_mm", "vol_ml", "mask_ml", "lcx_r_ref", "lcx_r_cen", "lcx_d3_ref", "lcx_d3_cen",
            *(f"lcx_r{lo:.0f}_{hi:.0f}_ref" for lo, hi in ARC_BINS),
            "lcx_r_mask", "lcx_dz_ref", "lcx_dy_ref", "lcx_dx_ref", "lad_r_ref", "lad_r_cen", "win_right", "win_left", "left_share", "box_from_mid_mm", "ref_err_mm", "ref_dz", "ref_dy", "ref_dx", "mask_err_mm", "box_dz", "box_dy",
            "box_dx"]
    lines = ["| set | n | " + " | ".join(cols) + " |", "| --- | ---: |" + " ---: |" * len(cols)]
    def fmt(v: float, c: str) -> str:
        return f"{v:.2f}" if c in ("win_right", "win_left", "left_share") else f"{v:.0f}"

    for s, g in d.groupby("set", sort=True):
        if len(g) == 1:
            cells = [fmt(g[c].iloc[0], c) for c in cols]
        else:
            cells = [" / ".join(fmt(q, c) for q in np.nanpercentile(g[c], [10, 50, 90])) for c in cols]
        lines.append(f"| {s} | {len(g)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def check(real: pd.DataFrame, v11: pd.DataFrame, v13: pd.DataFrame) -> tuple[bool, list[str]]:
    """The pre-registered criteria of docs/phantom.md, "Heart size and placement (session 16, wt24c)": (pass, lines)."""
    out, ok = [], True
    for d in (real, v11, v13):
        d["cen_from_mid_mm"] = d["cen_x"] - d["midline_x"]
        d["ref_dx"] = d["ref_x"] - d["cen_x"]
    r = real.set_index(real["set"].str[-4:])
    for c in ("left_share", "cen_from_mid_mm"):
        lo, med, hi = np.percentile(v13[c], [10, 50, 90])
        cover = all(lo <= r.loc[s, c] <= hi for s in ("0002", "0003"))
        inside = r[c].min() <= med <= r[c].max()
        ok &= cover and inside
        out.append(f"1. {c}: v13 p10/p50/p90 {lo:.2f} / {med:.2f} / {hi:.2f}; real 0001/0002/0003 "
                   f"{' / '.join(f'{r.loc[s, c]:.2f}' for s in ('0001', '0002', '0003'))}; covers 0002 and 0003: {cover};"
                   f" median inside the real range: {inside}")
    m11, m13 = v11["ref_dx"].median(), v13["ref_dx"].median()
    ok &= m13 <= 2.0
    out.append(f"2a. median ref_x - cen_x: v11 {m11:+.1f} mm, v13 {m13:+.1f} mm (<= +2: {m13 <= 2.0})")
    j = v11.merge(v13, on="pid", suffixes=("_11", "_13"))
    for c, need in (("lcx_r_ref", 4.0), ("lcx_dx_ref", 5.0)):
        diff = float((j[f"{c}_13"] - j[f"{c}_11"]).median())
        ok &= diff >= need
        out.append(f"2b. {c}: paired median v13 - v11 {diff:+.1f} mm over {len(j)} ids (>= +{need:.0f}: {diff >= need});"
                   f" v11 median {v11[c].median():.1f}, v13 {v13[c].median():.1f}")
    for c in ("trans_mm", "ap_mm"):
        a, b = v11[c].median(), v13[c].median()
        ok &= b <= a
        out.append(f"3. {c}: median v11 {a:.1f}, v13 {b:.1f} (not above: {b <= a})")
    out.append("PASS" if ok else "FAIL")
    return ok, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("phantom")
    p.add_argument("out", type=Path)
    p.add_argument("--seed", type=int, default=12201)
    p.add_argument("--ids", default="1-100")
    p.add_argument("--version", default="v11")
    p.add_argument("--size", type=int, default=256)
    r = sub.add_parser("real")
    r.add_argument("out", type=Path)
    r.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    s = sub.add_parser("summary")
    s.add_argument("csv", nargs="+", type=Path)
    s.add_argument("--cols", default="", help="comma-separated columns (default: a fixed list)")
    c = sub.add_parser("check", help="the pre-registered v13 check: REAL.csv V11.csv V13.csv")
    c.add_argument("csv", nargs=3, type=Path)
    a = ap.parse_args(argv)
    if a.cmd == "check":
        ok, lines = check(*(pd.read_csv(f) for f in a.csv))
        print("\n".join(lines))
        return 0 if ok else 1
    if a.cmd == "summary":
        print(summary([pd.read_csv(f) for f in a.csv], a.cols.split(",") if a.cols else None))
        return 0
    rows = []
    if a.cmd == "phantom":
        for pid in id_range(a.ids):
            rows.append(phantom_row(pid, a.seed, a.version, a.size))
            pd.DataFrame(rows).to_csv(a.out, index=False)  # kept as it goes: a long run can be read while it runs
            print(pid, {k: round(v, 1) for k, v in rows[-1].items() if k in ("trans_mm", "lcx_r_ref", "ref_err_mm")
                        or k.startswith("lcx_r")}, flush=True)
    else:
        lm, hyb = json.loads(LANDMARKS.read_text()), json.loads(HYBRID.read_text())
        rows = [real_row(sr, a.data, lm, hyb) for sr in REAL]
        pd.DataFrame(rows).to_csv(a.out, index=False)
    print(summary([pd.DataFrame(rows)]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
