"""Where the mitral annulus, the left AV groove (LCX) and the crux lie in the scorer's frame: real LIDC series
(eye-placed, docs/landmarks/mitral_annulus.csv) against phantom patients (issues 15/16, the MAC blocker).

    PYTHONPATH=src nice -n 10 python bench/mitral_geometry.py --seed 9101 --pids 1-24 --size 256 \
        --anatomy v8 --out /work/runs/wt20b/geom_v8 [--picture docs/pictures/mitral_landmarks.png]

The frame is the one the scorer measures candidates in: ``read_chest`` of the image (the pericardial mask's
centroid: sac_above / behind / left_mm, the signed depth under the mask's surface: pericardium_mm, the found aortic
root: above_root_mm; ``cacscore.lesion.anatomy.anatomy_columns``) and the heart reference the candidate features are
measured from (dz_mm: ``anatomical_candidates(...).heart_index``). The same code reads the real series and the
rendered phantom, so the two differ only by anatomy, not by how the frame is found.

Phantom landmarks come from the drawn anatomy (exact): the mitral half of the AV plane where
``noncoronary.draw_cardiac_calcium`` puts the MAC (u and depth at the middle of its draw ranges; phi 90 "lateral",
phi 150 "posterior", the middle of the MAC's arc), the MAC blobs actually drawn (patients with MAC), the LCX's
centreline, the crux, and the AV plane's tilt (the long axis e1 is its normal). Real tilt: the normal of a plane
fitted (SVD) to the four eye-placed annulus points. Tilt = angle between the plane and the horizontal (0: an axial
plane, 90: a vertical one).

Writes OUT/real.csv, OUT/phantom.csv (one row per landmark and patient) and OUT/summary.csv (median and range per
quantity and landmark kind); --picture draws the real landmarks on their slices.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd

from cacscore.chest.anatomy import read_chest
from cacscore.io.ct import read_ct
from cacscore.lesion.anatomy import ANATOMY_NAMES, anatomy_columns, sac_centroid_mm
from cacscore.lesion.classifier import anatomical_candidates
from id_ranges import id_range  # noqa: E402 - bench/ is on sys.path (run as a script, or the tests put it there)

ROOT = Path(__file__).resolve().parents[1]
LANDMARKS = ROOT / "docs" / "landmarks" / "mitral_annulus.csv"
HYBRID = ROOT / "docs" / "hybrid_landmarks.json"
COLS = ("pericardium_mm", "above_root_mm", "sac_above_mm", "sac_behind_mm", "sac_left_mm")
MAC_U, MAC_DEPTH_MM = -0.46, 12.0  # the middle of draw_cardiac_calcium's u (-0.52..-0.40) and depth (9..15 mm)
PHANTOM_SITES = {"mitral_annulus_lateral": 90.0, "mitral_annulus_posterior": 150.0}


def scorer_frame(hu: np.ndarray, sp: np.ndarray) -> tuple[object, np.ndarray]:
    """(ChestAnatomy, reference mm (z, y, x)) exactly as the scorer finds them."""
    ref = np.asarray(anatomical_candidates(hu, tuple(float(v) for v in sp)).heart_index, float) * sp
    return read_chest(hu, tuple(float(v) for v in sp)), ref


def landmark_rows(anatomy, ref_mm: np.ndarray, pts: np.ndarray, names: list[str], lcx: np.ndarray | None,
                  **extra) -> list[dict]:
    """One row per point: the scorer's columns, dz/dy/dx from the reference, distance to the nearest LCX point."""
    cols = anatomy_columns(anatomy, pts)
    rows = []
    for p, name, c in zip(pts, names, cols):
        r = {**extra, "landmark": name, "z_mm": p[0], "y_mm": p[1], "x_mm": p[2]}
        r.update({k: float(c[ANATOMY_NAMES.index(k)]) for k in COLS})
        r.update(dz_mm=p[0] - ref_mm[0], dy_mm=p[1] - ref_mm[1], dx_mm=p[2] - ref_mm[2])
        r["lcx_mm"] = float(np.sqrt(((lcx - p) ** 2).sum(1)).min()) if lcx is not None and len(lcx) else np.nan
        rows.append(r)
    return rows


def plane_tilt_deg(normal: np.ndarray) -> float:
    """Angle (deg) between a plane with this (z, y, x) normal and the horizontal."""
    n = np.asarray(normal, float) / np.linalg.norm(normal)
    return float(np.degrees(np.arccos(min(abs(n[0]), 1.0))))


def fitted_normal(pts: np.ndarray) -> np.ndarray:
    return np.linalg.svd(pts - pts.mean(0))[2][-1]


def _resample(course: np.ndarray, step: float = 1.0) -> np.ndarray:
    seg = np.linalg.norm(np.diff(course, axis=0), axis=1)
    s = np.r_[0, np.cumsum(seg)]
    t = np.arange(0, s[-1] + step / 2, step)
    return np.stack([np.interp(t, s, course[:, k]) for k in range(3)], axis=1)


MID_FRACS = {"lcx_mid": (0.4, 0.5, 0.6, 0.7, 0.8), "rca_mid": (0.3, 0.4, 0.5, 0.6, 0.7)}
"""Points along a course (fractions of its arc length) that stand for its middle: the LCX's 40-80 % (the lateral and
posterolateral left AV groove), the RCA's 30-70 % from its ostium to the crux (the right AV groove)."""


def course_points(course: np.ndarray, fracs: tuple[float, ...]) -> np.ndarray:
    """Points at these fractions of a course's arc length (linear between its points)."""
    seg = np.linalg.norm(np.diff(course, axis=0), axis=1)
    s = np.r_[0, np.cumsum(seg)]
    t = np.asarray(fracs, float) * s[-1]
    return np.stack([np.interp(t, s, course[:, k]) for k in range(3)], axis=1)


def mid_points(lcx: np.ndarray, rca_to_crux: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """(points, names) of the LCX's and the RCA's middles (MID_FRACS); the RCA up to the crux."""
    pts = [course_points(lcx, MID_FRACS["lcx_mid"]), course_points(rca_to_crux, MID_FRACS["rca_mid"])]
    names = ["lcx_mid"] * len(MID_FRACS["lcx_mid"]) + ["rca_mid"] * len(MID_FRACS["rca_mid"])
    return np.vstack(pts), names


def _to_crux(course: np.ndarray, crux: np.ndarray) -> np.ndarray:
    """The course from its start to its point nearest the crux."""
    return course[: int(np.argmin(np.linalg.norm(course - crux, axis=1))) + 1]


def real_rows(data: Path, series: list[str]) -> list[dict]:
    lm = pd.read_csv(LANDMARKS)
    hyb = json.loads(HYBRID.read_text())
    rows = []
    for name in series:
        vol = read_ct(data / name)
        sp = np.array([abs(float(s)) for s in vol.spacing_mm])
        anatomy, ref = scorer_frame(vol.hu, sp)
        sub = lm[lm.series == name]
        lcx = _resample(np.asarray(hyb[name]["courses"]["LCX"], float))
        pts = sub[["z_mm", "y_mm", "x_mm"]].to_numpy(float)
        names = list(sub.landmark)
        ann = sub.landmark.str.startswith("mitral_annulus").to_numpy()
        if ann.sum() >= 3:  # the annulus' centre and plane
            pts, names = np.vstack([pts, pts[ann].mean(0)]), names + ["mitral_annulus_centre"]
        # the eye-placed LCX course's lowest point (its distal end in the posterior groove)
        pts, names = np.vstack([pts, lcx[np.argmin(lcx[:, 0])]]), names + ["lcx_distal"]
        rca = _resample(np.asarray(hyb[name]["courses"]["RCA"], float))
        mids, mid_names = mid_points(lcx, _to_crux(rca, np.asarray(hyb[name]["crux"], float)))
        pts, names = np.vstack([pts, mids]), names + mid_names
        tilt = plane_tilt_deg(fitted_normal(pts[:len(sub)][ann])) if ann.sum() >= 3 else np.nan
        rows += landmark_rows(anatomy, ref, pts, names, lcx, source="real", case=name, tilt_deg=tilt,
                              root_z_mm=float(anatomy.aortic_root_mm[0]), sac_z_mm=float(sac_centroid_mm(anatomy)[0]))
    return rows


def phantom_points(d, org_zyx: np.ndarray, version: str) -> tuple[np.ndarray, list[str], np.ndarray, float]:
    """(points (z, y, x) mm from voxel 0, names, LCX centreline, tilt) of one phantom's drawn anatomy. The
    "mitral_annulus_*" sites are v8's MAC place (MAC_U, MAC_DEPTH_MM) whatever the version; "mitral_band_centre"
    is the middle of the version's MAC arc (noncoronary.MAC_GEOMETRY, the middle of each range)."""
    from cacscore.phantom.anatomy import heart_surface
    from cacscore.phantom.coronary import crux_point
    from cacscore.phantom.noncoronary import mac_geometry

    anat = d.anat
    phis = np.array(list(PHANTOM_SITES.values()))
    site = heart_surface(anat, np.full(len(phis), MAC_U), phis, np.full(len(phis), -MAC_DEPTH_MM))
    g = mac_geometry(version)
    half = 0.5 * float(np.mean(g.span))
    arc = np.linspace(max(np.mean(g.phi_c) - half, g.phi_limits[0]), min(np.mean(g.phi_c) + half, g.phi_limits[1]), 16)
    ring = heart_surface(anat, np.full(16, np.mean(g.u)), arc, np.full(16, -float(np.mean(g.depth_mm))))
    mac = np.array([b.centre_mm for b in d.cardiac if b.kind == "mitral_annulus"]).reshape(-1, 3)
    vname, i = crux_point(d.vessels)
    xyz = np.vstack([site, ring.mean(0, keepdims=True), mac, d.vessels[vname].points[i][None]])
    names = list(PHANTOM_SITES) + ["mitral_band_centre"] + ["mac_blob"] * len(mac) + ["crux"]
    lcx = d.vessels["LCX"].points
    xyz = np.vstack([xyz, lcx[np.argmin(lcx[:, 2])][None]])
    names.append("lcx_distal")
    rv = d.vessels["RCA"]
    rca = rv.points[: rv.crux + 1] if rv.crux >= 0 else rv.points  # left dominant: the RCA ends short of the crux
    mids, mid_names = mid_points(lcx, rca)
    xyz, names = np.vstack([xyz, mids]), names + mid_names
    e1 = np.asarray(anat.heart_axes[0], float)
    return xyz[:, [2, 1, 0]] - org_zyx, names, lcx[:, [2, 1, 0]] - org_zyx, plane_tilt_deg(e1[[2, 1, 0]])


def phantom_rows(seed: int, pids: list[int], size: int, version: str) -> list[dict]:
    from cacscore.phantom import make_patient
    from cacscore.phantom.core import _draws

    rows = []
    for pid in pids:
        p = make_patient(pid, seed=seed, size=size, version=version)
        d = _draws(pid, seed, size, version=version)[0]
        sp = np.array(p.spacing_mm, float)
        anatomy, ref = scorer_frame(p.hu, sp)
        pts, names, lcx, tilt = phantom_points(d, np.array(p.origin_mm, float)[[2, 1, 0]], version)
        rows += landmark_rows(anatomy, ref, pts, names, lcx, source=f"phantom {version}", case=f"{seed}/{pid}",
                              tilt_deg=tilt, root_z_mm=float(anatomy.aortic_root_mm[0]),
                              sac_z_mm=float(sac_centroid_mm(anatomy)[0]))
        print(f"phantom {pid}: {len(names)} landmarks", flush=True)
    return rows


SUMMARY_COLS = ("sac_above_mm", "sac_behind_mm", "sac_left_mm", "dz_mm", "above_root_mm", "pericardium_mm", "lcx_mm",
                "tilt_deg")


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Median [min, max] over cases of each case's median, per source, landmark and quantity (a landmark with several
    points per case, MAC spheres or a course's middle, counts once per case)."""
    out = []
    for (src, lmk), g in df.groupby(["source", "landmark"]):
        r = {"source": src, "landmark": lmk, "n": g["case"].nunique()}
        per_case = g.groupby("case")[list(SUMMARY_COLS)].median()
        for c in SUMMARY_COLS:
            v = per_case[c].dropna()
            r[c] = f"{v.median():+.0f} [{v.min():+.0f}, {v.max():+.0f}]" if len(v) else ""
        out.append(r)
    return pd.DataFrame(out)


def picture(data: Path, out: Path) -> None:
    """Each real series' annulus and groove landmarks on the axial slices through them (W 900 / L 200; 0002 W 350 /
    L 0), 90 x 90 mm round the annulus."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lm = pd.read_csv(LANDMARKS)
    panels = [(s, z) for s, g in lm.groupby("series") for z in sorted(set(g.z_mm.round(0)))[::-1]
              if len(g[(g.z_mm - z).abs() < 1.3])]
    cols = 4
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 4 * rows), dpi=80, squeeze=False)
    vols = {}
    for ax, (s, z) in zip(axes.flat, panels):
        if s not in vols:
            v = read_ct(data / s)
            vols[s] = (np.asarray(v.hu), np.array([abs(float(t)) for t in v.spacing_mm]))
        hu, sp = vols[s]
        g = lm[lm.series == s]
        c = g[["y_mm", "x_mm"]].to_numpy(float).mean(0)
        img = hu[round(z / sp[0])]
        lo, hi = (-175, 175) if s.endswith("0002") else (-250, 650)
        ax.imshow(img, cmap="gray", vmin=lo, vmax=hi, extent=[0, img.shape[1] * sp[2], img.shape[0] * sp[1], 0])
        ax.set_xlim(c[1] - 45, c[1] + 45)
        ax.set_ylim(c[0] + 45, c[0] - 45)
        for _, r in g[(g.z_mm - z).abs() < 1.3].iterrows():
            short = r.landmark.replace("mitral_annulus_", "MA ").replace("left_av_groove", "groove")
            ax.plot(r.x_mm, r.y_mm, "r+", ms=12, mew=2)
            ax.text(r.x_mm + 2, r.y_mm - 2, short, color="r", fontsize=8)
        ax.set_title(f"{s} z {z:.1f} mm", fontsize=9)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)


def height_picture(data: Path, pid: int, seed: int, size: int, out: Path) -> None:
    """Sagittal slices (x through the MAC / the posterior annulus) with the found pericardial sac's centroid height
    (cyan line) and the reference the features are measured from (white x): phantom patient ``pid`` drawn as v8
    and as v9 (MAC voxels in red, anatomy label 33), and LIDC-IDRI-0001 / -0003 with their eye-placed annulus points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cacscore.phantom import make_patient
    from cacscore.phantom.anatomy import LABEL

    panels = []
    for version in ("v8", "v9"):
        p = make_patient(pid, seed=seed, size=size, anatomy=True, version=version)
        sp = np.array(p.spacing_mm, float)
        anatomy, ref = scorer_frame(p.hu, sp)
        mac = np.argwhere(p.anatomy_labels == LABEL["mitral_annulus_calcium"]) * sp
        panels.append((f"phantom {version} seed {seed} pid {pid}", p.hu, sp, sac_centroid_mm(anatomy), ref, mac, "r."))
    lm = pd.read_csv(LANDMARKS)
    for name in ("lidc-idri-0001", "lidc-idri-0003"):
        vol = read_ct(data / name)
        sp = np.array([abs(float(t)) for t in vol.spacing_mm])
        anatomy, ref = scorer_frame(vol.hu, sp)
        g = lm[(lm.series == name) & lm.landmark.str.startswith("mitral_annulus")]
        panels.append((name, np.asarray(vol.hu), sp, sac_centroid_mm(anatomy), ref,
                       g[["z_mm", "y_mm", "x_mm"]].to_numpy(float), "r+"))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.6), dpi=80)
    for ax, (title, hu, sp, sac, ref, pts, style) in zip(axes, panels):
        x = float(np.median(pts[:, 2])) if len(pts) else sac[2]
        img = hu[:, :, min(round(x / sp[2]), hu.shape[2] - 1)]
        ax.imshow(img, cmap="gray", vmin=-250, vmax=450, origin="lower", aspect="auto",
                  extent=[0, img.shape[1] * sp[1], 0, img.shape[0] * sp[0]])
        near = pts[np.abs(pts[:, 2] - x) <= 4.0] if style == "r." else pts
        ax.plot(near[:, 1], near[:, 0], style, ms=3 if style == "r." else 10, mew=2)
        ax.axhline(sac[0], color="c", lw=1)
        ax.plot([ref[1]], [ref[0]], "wx", ms=8)
        ax.set_xlim(sac[1] - 70, sac[1] + 70)
        ax.set_ylim(sac[0] - 70, sac[0] + 70)
        ax.set_title(f"{title}\nsagittal x {x:.0f} mm; cyan: sac centroid height", fontsize=8)
        ax.set_xlabel("y mm (posterior ->)", fontsize=7)
        ax.set_ylabel("z mm (up)", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)


GROOVE_LEVELS_MM = (25.0, 12.0, 0.0, -12.0, -25.0)
"""Heights above the found pericardial sac's centroid of the --groove-picture's axial slices."""


def _course_panel(hu: np.ndarray, sp: np.ndarray, anatomy, courses: dict[str, np.ndarray]) -> tuple:
    """(title-less panel data): the image, spacing, the found sac's centroid (z, y, x mm) and the courses (z, y, x mm)
    resampled every 1 mm (so each slice shows where a course crosses it)."""
    return hu, sp, sac_centroid_mm(anatomy), {k: _resample(np.asarray(v, float)) for k, v in courses.items() if len(v) > 1}


def groove_picture(data: Path, pid: int, seed: int, size: int, out: Path, versions=("v8", "v10"),
                   series=("lidc-idri-0002", "lidc-idri-0001")) -> None:
    """Axial slices at GROOVE_LEVELS_MM above the found sac's centroid (the frame the scorer measures in): phantom
    patient ``pid`` drawn as each of ``versions`` (its LCX red, RCA yellow, LAD / left main green: the drawn
    centrelines within 2.5 mm of the slice) beside real series at the same levels with their eye-placed courses
    (docs/hybrid_landmarks.json, +-5 mm). 120 x 120 mm round the sac's centroid, W 400 / L 40."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cacscore.phantom import make_patient
    from cacscore.phantom.core import _draws

    rows = []
    for version in versions:
        p = make_patient(pid, seed=seed, size=size, version=version)
        sp = np.array(p.spacing_mm, float)
        org = np.array(p.origin_mm, float)[[2, 1, 0]]
        vessels = _draws(pid, seed, size, version=version)[0].vessels
        courses = {v: ves.points[:, [2, 1, 0]] - org for v, ves in vessels.items()}
        rows.append((f"phantom {version} {seed}/{pid}", *_course_panel(p.hu, sp, read_chest(p.hu, tuple(sp)), courses)))
    hyb = json.loads(HYBRID.read_text())
    for name in series:
        vol = read_ct(data / name)
        sp = np.array([abs(float(t)) for t in vol.spacing_mm])
        hu = np.asarray(vol.hu)
        rows.append((name, *_course_panel(hu, sp, read_chest(hu, tuple(sp)), hyb[name]["courses"])))
    colour = {"LCX": "r", "RCA": "y", "LAD": "lime", "LCA": "lime"}
    fig, axes = plt.subplots(len(rows), len(GROOVE_LEVELS_MM), figsize=(3.3 * len(GROOVE_LEVELS_MM), 3.4 * len(rows)),
                             dpi=80, squeeze=False)
    for r, (title, hu, sp, sac, courses) in enumerate(rows):
        for c, dz in enumerate(GROOVE_LEVELS_MM):
            ax = axes[r, c]
            z = sac[0] + dz
            k = int(np.clip(round(z / sp[0]), 0, hu.shape[0] - 1))
            img = hu[k]
            ax.imshow(img, cmap="gray", vmin=-160, vmax=240, extent=[0, img.shape[1] * sp[2], img.shape[0] * sp[1], 0])
            for v, pts in courses.items():
                near = pts[np.abs(pts[:, 0] - k * sp[0]) <= max(2.5, sp[0] / 2)]
                ax.plot(near[:, 2], near[:, 1], ".", color=colour.get(v, "w"), ms=3)
            ax.plot([sac[2]], [sac[1]], "c+", ms=10, mew=2)
            ax.set_xlim(sac[2] - 60, sac[2] + 60)
            ax.set_ylim(sac[1] + 60, sac[1] - 60)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{title}\n{dz:+.0f} mm from the sac centroid", fontsize=8)
    fig.suptitle("AV groove: LCX red, RCA yellow, LM / LAD green (phantom: drawn; real: eye-placed); cyan +: the found "
                 "sac's centroid; patient's left on the image's right", fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--series", nargs="*", default=["lidc-idri-0001", "lidc-idri-0002", "lidc-idri-0003"])
    ap.add_argument("--seed", type=int, default=9101)
    ap.add_argument("--pids", type=id_range, default=[])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--anatomy", default="v8", help="phantom anatomy version to draw (cacscore phantom --anatomy)")
    ap.add_argument("--picture", type=Path, default=None)
    ap.add_argument("--height-picture", type=Path, default=None, metavar="PNG",
                    help="sagittal slices: phantom patient --pids[0] as v8 and v9 beside LIDC-IDRI-0001 / -0003")
    ap.add_argument("--groove-picture", type=Path, default=None, metavar="PNG",
                    help="axial slices round the sac centroid: phantom patient --pids[0] as v8 and v10 beside "
                         "LIDC-IDRI-0002 / -0001 with the courses marked")
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    frames = []
    if a.series:
        frames.append(pd.DataFrame(real_rows(a.data, a.series)))
        frames[-1].to_csv(a.out / "real.csv", index=False, quoting=csv.QUOTE_MINIMAL)
    if a.pids and not (a.groove_picture or a.height_picture):  # a picture alone draws only its patient
        frames.append(pd.DataFrame(phantom_rows(a.seed, a.pids, a.size, a.anatomy)))
        frames[-1].to_csv(a.out / "phantom.csv", index=False)
    if a.picture:
        picture(a.data, a.picture)
    if a.groove_picture:
        groove_picture(a.data, a.pids[0], a.seed, a.size, a.groove_picture)
        return 0
    if a.height_picture:
        height_picture(a.data, a.pids[0], a.seed, a.size, a.height_picture)
        return 0
    if frames:
        s = summary(pd.concat(frames, ignore_index=True))
        s.to_csv(a.out / "summary.csv", index=False)
        with pd.option_context("display.width", 250, "display.max_columns", 20):
            print(s.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
