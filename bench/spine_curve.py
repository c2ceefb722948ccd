"""The spine's sagittal curve (thoracic kyphosis) and the back's surface on a midline sagittal reformat, real and phantom
(session 18, wt26b; docs/phantom.md, "The spine's curve and the back (session 18, wt26b)").

    PYTHONPATH=src python bench/spine_curve.py real lidc-idri-0002 OUT.png      # picture + proposed points (to check)
    PYTHONPATH=src python bench/spine_curve.py realstats OUT.csv                # the stats of docs/spine_landmarks.json
    PYTHONPATH=src python bench/spine_curve.py phantom OUT.csv --seed 14811 --ids 1-30 --version v15 --size 256
    PYTHONPATH=src python bench/spine_curve.py table REAL.csv PHANTOM.csv [PHANTOM2.csv]
    PYTHONPATH=src python bench/spine_curve.py picture OUT.png --seed 14811 --ids 1 --version v15   # phantom sagittal

Frame: (z, y) mm from voxel 0 of the volume (z up, y posterior), on a 5 mm thick sagittal slab through the spine
(real: following the spine's column slice by slice, ``sagittal_along``; the phantom's spine is straight in x: the slab
at its drawn spine centre).

Curves, per 5 mm of height (``curves``): ``front`` = the vertebral column's anterior edge (the start of the run of bone
> 130 HU, at least 10 mm deep, tracked from the middle of the range up and down within 12 mm of the run before; a
z max-filter over 9 mm bridges the discs); ``back`` = the back's skin on the same plane (the first row behind the
column, past the spinous processes, where 3 rows in a row are below -400 HU).

Real series: the curves are proposed by ``curves`` and checked by eye on the picture ``real`` draws (10 mm grid);
the points kept, corrected where the proposal was wrong, are recorded in docs/spine_landmarks.json with the carina's
height placed by eye on a coronal reformat. Phantoms: ``curves`` on the static image (no noise) and the carina of the
drawn anatomy (anatomy.carina_z).

Statistics (heights relative to the carina, h = z - z_carina; SPAN = -100..+60 mm, where every real series and every
phantom holds a spine; a phantom's scan can end below its carina + 60 mm: then the row is NaN and said so):
- ``front_sag``: the column's front's largest posterior bulge (mm) from the chord between its points at the span's
  ends (kyphosis: > 0);
- ``front_angle``: the angle (degrees) between the front's lines (least squares) over the span's top 50 mm and its bottom
  50 mm (the Cobb-like kyphosis angle of this stretch; > 0 = kyphotic);
- ``back_sag``, ``back_angle``: the same for the back's surface;
- ``period``: the mean spacing (mm) of the discs over the span (real: by eye from the picture, the discs' heights in
  the JSON; phantom: the drawn vert_period).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from id_ranges import id_range  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs"
SPAN = (-100.0, 60.0)
STEP = 5.0
COLS = ("front_sag", "front_angle", "back_sag", "back_angle", "period")


def sagittal(hu: np.ndarray, sp, col: int) -> np.ndarray:
    """The 5 mm thick sagittal slab (z, y) at column ``col``."""
    h = max(int(round(2.5 / sp[2])), 0)
    return hu[:, :, max(col - h, 0): col + h + 1].mean(axis=2)


def sagittal_along(hu: np.ndarray, sp, col: int) -> tuple[np.ndarray, np.ndarray]:
    """A sagittal slab (z, y) 5 mm thick that follows the spine's column per slice (a real spine can lean sideways:
    0001's leaves a fixed plane): per slice the median column of bone > 250 HU in the posterior half within 30 mm of
    ``col``, smoothed over 30 mm of height. Returns (slab, columns)."""
    from scipy import ndimage

    nz, ny, _ = hu.shape
    cols = np.full(nz, float(col))
    for k in range(nz):
        _, c = np.nonzero(hu[k, ny // 2:] > 250)
        near = np.abs(c - col) < 30.0 / sp[2]
        if near.sum() > 20:
            cols[k] = np.median(c[near])
    cols = ndimage.median_filter(cols, max(int(round(30.0 / sp[0])), 1) | 1, mode="nearest")
    cols = ndimage.uniform_filter1d(cols, max(int(round(30.0 / sp[0])), 1), mode="nearest")
    h = max(int(round(2.5 / sp[2])), 0)
    out = np.empty((nz, ny), np.float32)
    for k in range(nz):
        c = int(round(cols[k]))
        out[k] = hu[k, :, max(c - h, 0): c + h + 1].mean(axis=1)
    return out, cols


def spine_column(hu: np.ndarray, sp) -> int:
    """The column of the spine: the median column of bone (> 250 HU) in the posterior half, within 50 mm of the
    body's centre column, over the middle third of the slices."""
    nz = hu.shape[0]
    sl = hu[nz // 3: 2 * nz // 3]
    body = np.nonzero((sl > -400).any(axis=(0, 1)))[0]
    c0 = 0.5 * (body[0] + body[-1])
    ny = hu.shape[1]
    _, r, c = np.nonzero(sl[:, ny // 2:] > 250)
    near = np.abs(c - c0) < 50.0 / sp[2]
    return int(np.median(c[near]))


def curves(sag: np.ndarray, sp, seed_front_mm: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z_mm, front_y_mm, back_y_mm) every STEP mm of height (NaN where not found); see the module docstring.
    ``seed_front_mm``: the column's front at the middle height where known (the phantom's drawn spine; the real
    series' are found as the y band holding the most bone, which on a phantom is its posterior elements)."""
    from scipy import ndimage

    dz, dy = float(sp[0]), float(sp[1])
    bone = ndimage.maximum_filter1d(ndimage.median_filter(sag, size=3), max(int(round(9.0 / dz)), 1), axis=0) > 130
    nz, ny = sag.shape
    zs = np.arange(0.0, nz * dz, STEP)
    ks = np.clip(np.round(zs / dz).astype(int), 0, nz - 1)
    # the column's y: the y band holding the most bone over the middle half of the heights
    mid = bone[nz // 4: 3 * nz // 4, ny // 3:]
    yc0 = ny // 3 + int(np.argmax(ndimage.uniform_filter1d(mid.sum(axis=0).astype(float), int(20 / dy))))
    min_run = int(round(10.0 / dy))

    def runs(row: np.ndarray) -> list[tuple[int, int]]:
        d = np.diff(np.concatenate([[0], row.astype(np.int8), [0]]))
        return [(int(a), int(b)) for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)) if b - a >= min_run]

    front = np.full(len(ks), np.nan)
    centre = np.full(len(ks), np.nan)
    i0 = len(ks) // 2
    for order in (range(i0, len(ks)), range(i0 - 1, -1, -1)):
        prev = None
        for i in order:
            k = ks[i]
            cand = runs(bone[k])
            if prev is None and seed_front_mm is not None:
                cand = [r for r in cand if abs(r[0] * dy - seed_front_mm) < 25]
            elif prev is None:
                cand = [r for r in cand if abs(r[0] - yc0) < 45 / dy or r[0] <= yc0 <= r[1]]
            else:
                cand = [r for r in cand if abs(r[0] - prev) < 12 / dy]
            if not cand:
                continue
            if prev is not None:
                a, b = min(cand, key=lambda r: abs(r[0] - prev))
            elif seed_front_mm is not None:
                a, b = min(cand, key=lambda r: abs(r[0] * dy - seed_front_mm))
            else:
                a, b = max(cand, key=lambda r: r[1] - r[0])
            front[i], centre[i] = a * dy, b * dy
            prev = a
    back = np.full(len(ks), np.nan)
    for i, k in enumerate(ks):
        if np.isnan(front[i]):
            continue
        j0 = int((front[i] + 45.0) / dy)  # behind the body; the canal and the processes are inside the body
        air = sag[k, j0:] < -400
        run3 = np.convolve(air.astype(int), np.ones(3, int), "valid") == 3
        hit = np.flatnonzero(run3)
        if len(hit):
            back[i] = (j0 + hit[0]) * dy
    return zs, front, back


def disc_period(sag: np.ndarray, sp, zs: np.ndarray, front: np.ndarray, lo_hi: tuple[float, float]) -> float:
    """The spacing (mm of height) of the discs between heights lo_hi (volume z, mm): the lag (12-34 mm) of the
    autocorrelation's highest peak of the HU profile 8 mm behind the column's front (discs are dark bands across it)."""
    dz, dy = float(sp[0]), float(sp[1])
    ok = np.isfinite(front)
    if ok.sum() < 4:
        return float("nan")
    ks = np.arange(int(np.ceil(lo_hi[0] / dz)), int(lo_hi[1] / dz) + 1)
    ks = ks[(ks >= 0) & (ks < sag.shape[0])]
    fy = np.interp(ks * dz, zs[ok], front[ok]) + 8.0
    j = np.clip(np.round(fy / dy).astype(int), 0, sag.shape[1] - 1)
    h = max(int(round(3.0 / dy)), 1)
    prof = np.array([sag[k, max(jj - h, 0): jj + h + 1].mean() for k, jj in zip(ks, j)])
    if len(prof) * dz < 70:
        return float("nan")
    prof = prof - np.convolve(prof, np.ones(max(int(round(30 / dz)), 1)) / max(int(round(30 / dz)), 1), "same")
    prof = prof[int(15 / dz): len(prof) - int(15 / dz)]
    lags = np.arange(int(np.ceil(12 / dz)), int(34 / dz) + 1)
    ac = np.array([np.corrcoef(prof[:-L], prof[L:])[0, 1] for L in lags])
    i = int(np.argmax(ac))
    if 0 < i < len(ac) - 1:  # parabolic refinement
        den = ac[i - 1] - 2 * ac[i] + ac[i + 1]
        off = 0.5 * (ac[i - 1] - ac[i + 1]) / den if den < 0 else 0.0
    else:
        off = 0.0
    return float((lags[i] + off) * dz)


def curve_stats(h: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(sagitta, angle) of one curve y(h) over SPAN (NaN when the curve does not reach both ends within 5 mm)."""
    ok = np.isfinite(y) & (h >= SPAN[0] - 1e-6) & (h <= SPAN[1] + 1e-6)
    hh, yy = h[ok], y[ok]
    if len(hh) < 8 or hh.min() > SPAN[0] + 5 or hh.max() < SPAN[1] - 5:
        return float("nan"), float("nan")
    ya = np.interp(SPAN[0], hh, yy)
    yb = np.interp(SPAN[1], hh, yy)
    chord = ya + (yb - ya) * (hh - SPAN[0]) / (SPAN[1] - SPAN[0])
    top = hh >= SPAN[1] - 50
    bot = hh <= SPAN[0] + 50
    s_top = np.polyfit(hh[top], yy[top], 1)[0]
    s_bot = np.polyfit(hh[bot], yy[bot], 1)[0]
    # y posterior, h up: kyphosis = the curve runs back going up below the apex (s_bot > 0), forward above (s_top < 0)
    return float(np.max(yy - chord)), float(np.degrees(np.arctan(s_bot) - np.arctan(s_top)))


def stats(h_front: np.ndarray, front: np.ndarray, h_back: np.ndarray, back: np.ndarray, period: float) -> dict:
    """COLS from the two curves against height above the carina (mm)."""
    fs, fa = curve_stats(h_front, front)
    bs, ba = curve_stats(h_back, back)
    return {"front_sag": fs, "front_angle": fa, "back_sag": bs, "back_angle": ba, "period": float(period)}


def _landmarks() -> dict:
    return json.loads((DOCS / "spine_landmarks.json").read_text())


def cmd_real(a) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cacscore.io.ct import read_ct

    v = read_ct(a.data / a.series)
    hu, sp = v.hu, v.spacing_mm
    col = spine_column(hu, sp)
    sag, cols = sagittal_along(hu, sp, col)
    zs, front, back = curves(sag, sp)
    print(f"{a.series}: spine column {col} (x {col * sp[2]:.1f} mm); followed: x {cols.min() * sp[2]:.1f}.."
          f"{cols.max() * sp[2]:.1f} mm")
    print("z_mm front_y back_y (proposed)")
    for z, f, b in zip(zs, front, back):
        print(f"{z:.0f} {f:.1f} {b:.1f}")
    lmf = DOCS / "spine_landmarks.json"
    lm = _landmarks().get(a.series, {}) if lmf.exists() else {}
    nz, ny = sag.shape
    fig, ax = plt.subplots(figsize=(8, 8 * nz * sp[0] / (ny * sp[1]) + 0.5), dpi=a.dpi)
    ax.imshow(sag, cmap="gray", vmin=-200, vmax=300, origin="lower", extent=(0, ny * sp[1], 0, nz * sp[0]))
    for t in np.arange(0, ny * sp[1], 10):
        ax.axvline(t, color="c" if t % 50 == 0 else "y", lw=0.3 if t % 50 else 0.6, alpha=0.5)
    for t in np.arange(0, nz * sp[0], 10):
        ax.axhline(t, color="c" if t % 50 == 0 else "y", lw=0.3 if t % 50 else 0.6, alpha=0.5)
    if lm:
        f = np.array(lm["front"], float)
        b = np.array(lm["back"], float)
        ax.plot(f[:, 1], f[:, 0], "o", ms=3, mfc="none", mec="lime", label="front (kept)")
        ax.plot(b[:, 1], b[:, 0], "s", ms=3, mfc="none", mec="orange", label="back (kept)")
        for zd in lm.get("discs_by_eye", []):
            ax.plot([f[:, 1].min() - 10], [zd], ">", color="m", ms=4)
        zc = lm["carina_z"]
        ax.axhline(zc, color="r", lw=1, ls="--", label="carina")
        for h in SPAN:
            ax.axhline(zc + h, color="r", lw=0.6, ls=":")
    else:
        ax.plot(front, zs, ".", ms=3, color="lime", label="front (proposed)")
        ax.plot(back, zs, ".", ms=3, color="orange", label="back (proposed)")
    ax.set_title(f"{a.series}: sagittal along the spine (5 mm), grid 10 mm (cyan 50), (z, y) mm from voxel 0", fontsize=8)
    ax.legend(fontsize=6, loc="lower left")
    ax.tick_params(labelsize=6)
    fig.tight_layout()
    fig.savefig(a.out)
    print(a.out)
    return 0


def cmd_coronal(a) -> int:
    """A coronal picture through the trachea (for the carina, by eye)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cacscore.io.ct import read_ct

    v = read_ct(a.data / a.series)
    hu, sp = v.hu, v.spacing_mm
    ky = int(round(a.y / sp[1]))
    cor = hu[:, ky - 2: ky + 3].mean(axis=1)
    nz, nx = cor.shape
    fig, ax = plt.subplots(figsize=(8, 8 * nz * sp[0] / (nx * sp[2]) + 0.5), dpi=a.dpi)
    ax.imshow(cor, cmap="gray", vmin=-1000, vmax=200, origin="lower", extent=(0, nx * sp[2], 0, nz * sp[0]))
    for t in np.arange(0, nz * sp[0], 10):
        ax.axhline(t, color="c" if t % 50 == 0 else "y", lw=0.3 if t % 50 else 0.6, alpha=0.5)
    ax.set_title(f"{a.series}: coronal at y {a.y:.0f} mm, lung window, grid 10 mm", fontsize=8)
    ax.tick_params(labelsize=6)
    fig.tight_layout()
    fig.savefig(a.out)
    print(a.out)
    return 0


def cmd_realstats(a) -> int:
    import pandas as pd

    lm = _landmarks()
    rows = []
    for s in ("lidc-idri-0001", "lidc-idri-0002", "lidc-idri-0003"):
        d = lm[s]
        f = np.array(d["front"], float)
        b = np.array(d["back"], float)
        zc = float(d["carina_z"])
        period = float(d["period_mm"])
        # onto the 5 mm grid of the phantoms' curves (0001's front was read every 20 mm): linear, never extrapolated
        fz = np.arange(f[0, 0], f[-1, 0] + 0.1, STEP)
        bz = np.arange(b[0, 0], b[-1, 0] + 0.1, STEP)
        st = stats(fz - zc, np.interp(fz, f[:, 0], f[:, 1]), bz - zc, np.interp(bz, b[:, 0], b[:, 1]), period)
        rows.append({"series": s, **st})
    df = pd.DataFrame(rows)
    df.to_csv(a.out, index=False)
    print(df.round(1).to_string(index=False))
    return 0


def _seed_front(p) -> float:
    """The phantom's vertebral front (mm from voxel 0 in y) at its middle slice, as painted (v15: moved forward)."""
    from cacscore.phantom.anatomy import kyphosis_shift_mm

    a = p.anatomy
    nz = p.hu.shape[0]
    zmid = p.origin_mm[2] + (nz // 2) * p.spacing_mm[0]
    return float(a.spine_c[1] - a.spine_r - kyphosis_shift_mm(a, np.array([zmid]))[0] - p.origin_mm[1])


def phantom_row(pid: int, seed: int, version: str, size: int) -> dict:
    from cacscore.phantom import make_patient
    from cacscore.phantom.anatomy import carina_z

    p = make_patient(pid, seed=seed, size=size, version=version)
    a = p.anatomy
    sp = p.spacing_mm
    z0, x0 = p.origin_mm[2], p.origin_mm[0]
    col = int(round((a.spine_c[0] - x0) / sp[2]))
    sag = sagittal(p.hu_static, sp, col)
    zs, front, back = curves(sag, sp, seed_front_mm=_seed_front(p))
    zc = carina_z(a) - z0
    st = stats(zs - zc, front, zs - zc, back, disc_period(sag, sp, zs, front, (zc + SPAN[0] - 15, zc + SPAN[1] + 15)))
    st["vert_period_drawn"] = float(a.vert_period)
    return {"seed": seed, "id": pid, "version": version, **st, **{f"truth_{k}": v for k, v in p.truth.items()},
            "scan_top_h": float(p.hu.shape[0] * sp[0] - zc), "scan_bottom_h": float(-zc)}


def cmd_phantom(a) -> int:
    import pandas as pd

    rows = []
    for pid in id_range(a.ids):
        r = phantom_row(pid, a.seed, a.version, a.size)
        rows.append(r)
        print({k: (round(v, 1) if isinstance(v, float) else v) for k, v in r.items()}, flush=True)
    pd.DataFrame(rows).to_csv(a.out, index=False)
    print(a.out)
    return 0


def cmd_table(a) -> int:
    import pandas as pd

    real = pd.read_csv(a.real)
    print("| statistic | real 0001 / 0002 / 0003 | " + " | ".join(
        f"{Path(p).stem} min / p10 / p50 / p90 / max (n)" for p in a.phantoms) + " | real inside min..max |")
    print("| --- | --- | " + " | ".join("---" for _ in a.phantoms) + " | --- |")
    ok_all = True
    for c in COLS:
        rv = real[c].to_numpy(float)
        cells = []
        inside = ""
        for p in a.phantoms:
            ph = pd.read_csv(p)[c].dropna().to_numpy(float)
            q = np.percentile(ph, [10, 50, 90])
            cells.append(f"{ph.min():.1f} / {q[0]:.1f} / {q[1]:.1f} / {q[2]:.1f} / {ph.max():.1f} ({len(ph)})")
            inside = " ".join("yes" if ph.min() <= v <= ph.max() else "NO" for v in rv)
        ok_all &= "NO" not in inside
        print(f"| {c} | {' / '.join(f'{v:.1f}' for v in rv)} | " + " | ".join(cells) + f" | {inside} |")
    print("ALL INSIDE (last file):", ok_all)
    return 0


def cmd_picture(a) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cacscore.phantom import make_patient
    from cacscore.phantom.anatomy import carina_z

    ids = id_range(a.ids)
    fig, axs = plt.subplots(1, len(ids), figsize=(4.5 * len(ids), 6), dpi=a.dpi, squeeze=False)
    for ax, pid in zip(axs[0], ids):
        p = make_patient(pid, seed=a.seed, size=a.size, version=a.version)
        an = p.anatomy
        sp = p.spacing_mm
        col = int(round((an.spine_c[0] - p.origin_mm[0]) / sp[2]))
        sag = sagittal(p.hu, sp, col)
        zs, front, back = curves(sagittal(p.hu_static, sp, col), sp, seed_front_mm=_seed_front(p))
        nz, ny = sag.shape
        ax.imshow(sag, cmap="gray", vmin=-200, vmax=300, origin="lower", extent=(0, ny * sp[1], 0, nz * sp[0]))
        ax.plot(front, zs, ".", ms=3, color="lime")
        ax.plot(back, zs, ".", ms=3, color="orange")
        zc = carina_z(an) - p.origin_mm[2]
        ax.axhline(zc, color="r", lw=1, ls="--")
        for h in SPAN:
            ax.axhline(zc + h, color="r", lw=0.6, ls=":")
        ax.set_title(f"phantom {a.seed}/{pid} {a.version} {a.size} px", fontsize=8)
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    fig.savefig(a.out)
    print(a.out)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("real")
    r.add_argument("series")
    r.add_argument("out", type=Path)
    r.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    r.add_argument("--dpi", type=int, default=110)
    c = sub.add_parser("coronal")
    c.add_argument("series")
    c.add_argument("out", type=Path)
    c.add_argument("--y", type=float, required=True)
    c.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    c.add_argument("--dpi", type=int, default=100)
    s = sub.add_parser("realstats")
    s.add_argument("out", type=Path)
    for name in ("phantom", "picture"):
        p = sub.add_parser(name)
        p.add_argument("out", type=Path)
        p.add_argument("--seed", type=int, required=True)
        p.add_argument("--ids", default="1-30")
        p.add_argument("--version", default="v11")
        p.add_argument("--size", type=int, default=256)
        p.add_argument("--dpi", type=int, default=90)
    t = sub.add_parser("table")
    t.add_argument("real", type=Path)
    t.add_argument("phantoms", type=Path, nargs="+")
    a = ap.parse_args(argv)
    return {"real": cmd_real, "coronal": cmd_coronal, "realstats": cmd_realstats, "phantom": cmd_phantom,
            "table": cmd_table, "picture": cmd_picture}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
