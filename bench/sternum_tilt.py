"""The sternum's and the anterior chest wall's line on a midline sagittal reformat, real and phantom (session 20, wt28d;
docs/phantom.md, "(session 20, wt28d)").

    PYTHONPATH=src python bench/sternum_tilt.py real lidc-idri-0002 OUT.png       # picture + the found points + stats
    PYTHONPATH=src python bench/sternum_tilt.py realstats OUT.csv                 # the three real series' stats
    PYTHONPATH=src python bench/sternum_tilt.py phantom OUT.csv --seed 14864 --ids 1-30 --version v16 --size 256
    PYTHONPATH=src python bench/sternum_tilt.py picture OUT.png --seed 14864 --ids 1 --version v16
    PYTHONPATH=src python bench/sternum_tilt.py table REAL.csv PHANTOM.csv [PHANTOM2.csv ...]

Frame: (z, y) mm from voxel 0 (z up, y posterior), a 5 mm thick sagittal slab at the sternum's column (``sternum_column``:
the median column of bone > 250 HU in the front 35 % of the body's depth within 40 mm of the body's centre column).
Per slice (``profile``): the skin's front (the first row from the front > -300 HU for 3 rows) and the sternum's front
(the first row of the first run of > 150 HU at least 1.5 mm deep within 8-70 mm behind the skin: the
front cortex, thin on the real series). The sternum is the
longest run of slices with a sternal front whose step from the slice before is < 8 mm (gaps of <= 10 mm bridged).

Statistics (over the sternum's run; real and phantom alike):
- ``st_len``: its height (mm, z extent);
- ``st_tilt``: the angle (degrees) of its front's least-squares line from the scan's z axis, > 0 when its lower end
  lies in front of its upper end (a real supine chest: the sternum slopes forward going down);
- ``st_bow``: the front's largest forward bulge (mm) from the chord between its ends (> 0: convex forward);
- ``skin_tilt``: the same angle for the skin's front over the same heights.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from id_ranges import id_range  # noqa: E402
from spine_curve import sagittal  # noqa: E402  (the same 5 mm sagittal slab)

COLS = ("st_len", "st_tilt", "st_bow", "skin_tilt")


def sternum_column(hu: np.ndarray, sp) -> int:
    nz = hu.shape[0]
    sl = hu[nz // 4: 3 * nz // 4: 2]
    body = np.nonzero((sl > -400).any(axis=(0, 1)))[0]
    c0 = 0.5 * (body[0] + body[-1])
    rows = np.nonzero((sl > -400).any(axis=(0, 2)))[0]
    y0, y1 = rows[0], rows[-1]
    front = sl[:, y0: y0 + int(0.35 * (y1 - y0))]
    _, _, c = np.nonzero(front > 250)
    near = np.abs(c - c0) < 40.0 / sp[2]
    return int(np.median(c[near])) if near.any() else int(c0)


def profile(sag: np.ndarray, sp) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z_mm, skin_y, sternum_front_y) per slice (NaN where not found)."""
    nz, ny = sag.shape
    dz, dy = sp[0], sp[1]
    zs = (np.arange(nz) + 0.5) * dz
    skin = np.full(nz, np.nan)
    st = np.full(nz, np.nan)
    need = max(int(round(1.5 / dy)), 1)
    for k in range(nz):
        row = sag[k]
        tis = row > -300
        run = np.convolve(tis.astype(int), np.ones(3, int), "same") >= 3
        idx = np.flatnonzero(run)
        if not len(idx):
            continue
        s = int(idx[0])
        skin[k] = s * dy
        lo, hi = s + int(8.0 / dy), min(s + int(70.0 / dy), ny)
        bone = row[lo:hi] > 150
        deep = np.convolve(bone.astype(int), np.ones(need, int), "full")[need - 1: need - 1 + len(bone)] >= need
        b = np.flatnonzero(deep)
        if len(b):
            st[k] = (lo + b[0]) * dy
    return zs, skin, st


def sternum_run(zs: np.ndarray, st: np.ndarray, step_mm: float = 8.0, gap_mm: float = 10.0) -> np.ndarray:
    """Boolean mask of the longest run of slices holding the sternum (steps < step_mm, gaps <= gap_mm bridged)."""
    ok = np.flatnonzero(np.isfinite(st))
    best, cur = [], []
    for i in ok:
        if cur and (zs[i] - zs[cur[-1]] <= gap_mm + 1e-6) and abs(st[i] - st[cur[-1]]) < step_mm:
            cur.append(i)
        else:
            if len(cur) > len(best):
                best = cur
            cur = [i]
    if len(cur) > len(best):
        best = cur
    m = np.zeros(len(zs), bool)
    m[best] = True
    return m


def line_stats(z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(tilt degrees: > 0 when the lower end lies in front, bow mm: forward bulge from the chord)."""
    ok = np.isfinite(y)
    z, y = z[ok], y[ok]
    if len(z) < 5:
        return float("nan"), float("nan")
    slope = np.polyfit(z, y, 1)[0]  # dy/dz: > 0 when y grows (posterior) going up
    n = max(len(z) // 8, 1)
    za, ya, zb, yb = z[:n].mean(), np.median(y[:n]), z[-n:].mean(), np.median(y[-n:])
    chord = ya + (yb - ya) * (z - za) / max(zb - za, 1e-6)
    return float(np.degrees(np.arctan(slope))), float(np.max(chord - y))


def stats_of(hu: np.ndarray, sp) -> tuple[dict, tuple]:
    col = sternum_column(hu, sp)
    sag = sagittal(hu, sp, col)
    zs, skin, st = profile(sag, sp)
    m = sternum_run(zs, st)
    tilt, bow = line_stats(zs[m], st[m])
    skin_tilt, _ = line_stats(zs[m], skin[m])
    length = float(zs[m].max() - zs[m].min()) if m.any() else float("nan")
    return ({"st_len": length, "st_tilt": tilt, "st_bow": bow, "skin_tilt": skin_tilt, "col": col},
            (sag, zs, skin, st, m))


def _draw(ax, sag, sp, zs, skin, st, m, title):
    nz, ny = sag.shape
    ax.imshow(sag, cmap="gray", vmin=-200, vmax=300, origin="lower", extent=(0, ny * sp[1], 0, nz * sp[0]))
    ax.plot(skin[m], zs[m], ".", ms=2, color="orange")
    ax.plot(st[m], zs[m], ".", ms=2, color="lime")
    ax.plot(st[~m], zs[~m], ".", ms=1, color="red")
    ax.set_xlim(0, min(ny * sp[1], 0.7 * ny * sp[1]))
    ax.set_title(title, fontsize=7)
    ax.tick_params(labelsize=6)


def cmd_real(a) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cacscore.io.ct import read_ct

    v = read_ct(a.data / a.series)
    st, (sag, zs, skin, stf, m) = stats_of(v.hu, v.spacing_mm)
    print(a.series, {k: round(x, 1) for k, x in st.items()})
    fig, ax = plt.subplots(figsize=(5, 7), dpi=a.dpi)
    _draw(ax, sag, v.spacing_mm, zs, skin, stf, m, f"{a.series}: sternum front (green: kept run), skin (orange); "
          f"tilt {st['st_tilt']:.1f} deg, bow {st['st_bow']:.1f} mm, len {st['st_len']:.0f} mm")
    fig.tight_layout()
    fig.savefig(a.out)
    print(a.out)
    return 0


def cmd_realstats(a) -> int:
    import pandas as pd

    from cacscore.io.ct import read_ct

    rows = []
    for s in ("lidc-idri-0001", "lidc-idri-0002", "lidc-idri-0003"):
        v = read_ct(a.data / s)
        rows.append({"series": s, **stats_of(v.hu, v.spacing_mm)[0]})
        print(rows[-1])
    pd.DataFrame(rows).to_csv(a.out, index=False)
    return 0


def _phantom(pid: int, seed: int, version: str, size: int):
    from cacscore.phantom import make_patient

    p = make_patient(pid, seed=seed, size=size, version=version)
    sp = p.spacing_mm
    hu = p.hu_static
    # the phantom's volume is stored (z, y, x) from voxel 0 like the real one's read_ct; z up along the index
    return p, hu, sp


def cmd_phantom(a) -> int:
    import pandas as pd

    rows = []
    for pid in id_range(a.ids):
        p, hu, sp = _phantom(pid, a.seed, a.version, a.size)
        st = stats_of(hu, sp)[0]
        rows.append({"seed": a.seed, "id": pid, "version": a.version, **st,
                     **{f"truth_{k}": v for k, v in p.truth.items()}})
        print({k: (round(v, 1) if isinstance(v, float) else v) for k, v in rows[-1].items()}, flush=True)
    pd.DataFrame(rows).to_csv(a.out, index=False)
    print(a.out)
    return 0


def cmd_picture(a) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ids = id_range(a.ids)
    fig, axs = plt.subplots(1, len(ids), figsize=(4 * len(ids), 6), dpi=a.dpi, squeeze=False)
    for ax, pid in zip(axs[0], ids):
        p, hu, sp = _phantom(pid, a.seed, a.version, a.size)
        st, (sag, zs, skin, stf, m) = stats_of(hu, sp)
        _draw(ax, sag, sp, zs, skin, stf, m, f"phantom {a.seed}/{pid} {a.version}: tilt {st['st_tilt']:.1f} deg, "
              f"bow {st['st_bow']:.1f} mm")
    fig.tight_layout()
    fig.savefig(a.out)
    print(a.out)
    return 0


def cmd_table(a) -> int:
    import pandas as pd

    real = pd.read_csv(a.real)
    print("| statistic | real 0001 / 0002 / 0003 | " + " | ".join(
        f"{Path(p).stem} min / p10 / p50 / p90 / max (n)" for p in a.phantoms) + " | real inside p10..p90 (last) |")
    print("| --- | --- | " + " | ".join("---" for _ in a.phantoms) + " | --- |")
    for c in COLS:
        rv = real[c].to_numpy(float)
        cells = []
        for p in a.phantoms:
            ph = pd.read_csv(p)[c].dropna().to_numpy(float)
            q = np.percentile(ph, [10, 50, 90])
            cells.append(f"{ph.min():.1f} / {q[0]:.1f} / {q[1]:.1f} / {q[2]:.1f} / {ph.max():.1f} ({len(ph)})")
            inside = " ".join("yes" if q[0] <= v <= q[2] else "NO" for v in rv)
        print(f"| {c} | {' / '.join(f'{v:.1f}' for v in rv)} | " + " | ".join(cells) + f" | {inside} |")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("real")
    r.add_argument("series")
    r.add_argument("out", type=Path)
    r.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    r.add_argument("--dpi", type=int, default=100)
    s = sub.add_parser("realstats")
    s.add_argument("out", type=Path)
    s.add_argument("--data", type=Path, default=Path("/work/shared/data"))
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
    return {"real": cmd_real, "realstats": cmd_realstats, "phantom": cmd_phantom, "picture": cmd_picture,
            "table": cmd_table}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
