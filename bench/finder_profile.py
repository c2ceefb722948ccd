"""The heart finder's per-slice mediastinal mass (cacscore.chest.heart._mediastinum_in, the soft tissue of -20..150 HU
between the lungs' inner edges) against height above the heart's lowest point, on the real series (the lowest point
eye-placed, docs/dome_landmarks.json) and on phantom patients (the sac labels' lowest face; on phantoms also the share
of the window's soft tissue carrying the liver / abdomen labels). Session 17, wt25d: why the finder lands on the liver
on real 0001 and not on the v14 phantoms (docs/phantom.md, "The diaphragm domes against the heart").

    PYTHONPATH=src python bench/finder_profile.py real lidc-idri-0001
    PYTHONPATH=src python bench/finder_profile.py phantom --seed 14607 --ids 7,3 --version v14
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


def profile(hu: np.ndarray, sp: tuple[float, float, float], lab: np.ndarray | None = None):
    """Per slice: (mass mm^2, abdominal share or nan) and the finder's weights (chest.heart's own functions)."""
    from cacscore.chest.heart import _heart_weights, _mediastinum_in
    from cacscore.chest.lungs import heart_grid_step, lung_field
    step = heart_grid_step(sp)
    small = np.asarray(hu[:, ::step, ::step], np.float32)
    body, soft = small > -400, (small > -20) & (small < 150)
    lungs = lung_field(hu, sp)
    lung = lungs.mask
    area = lung.sum((1, 2)).astype(float)
    field = np.flatnonzero(area > 0.4 * area.max())
    upper = field.min() + 0.67 * (field.max() - field.min())
    mass, share = np.zeros(hu.shape[0]), np.full(hu.shape[0], np.nan)
    px2 = (sp[1] * step) * (sp[2] * step)
    for k in field[field <= upper]:
        f = _mediastinum_in(small[k], lung[k], body[k], soft[k], "")
        if f is None:
            continue
        mass[k] = f[0] * px2
        if lab is not None:  # the same window again, to read the labels under it
            ys, xs = np.nonzero(lung[k])
            xmid = np.nonzero(body[k])[1].mean()
            x0, x1 = np.percentile(xs[xs < xmid], 90), np.percentile(xs[xs >= xmid], 10)
            win = soft[k][ys.min():ys.max() + 1, int(x0):int(x1) + 1]
            ll = lab[k, ::step, ::step][ys.min():ys.max() + 1, int(x0):int(x1) + 1]
            share[k] = float(np.isin(ll[win], (22, 23, 24, 25)).mean()) if win.any() else np.nan
    w = _heart_weights(mass, float(sp[0]))
    return mass, share, w


def show(z_rel: np.ndarray, mass, share, w, step_mm: float = 5.0) -> None:
    zf = float((w * z_rel).sum() / w.sum())
    print(f"  finder height above the heart's lowest point: {zf:.1f} mm; weighted slices "
          f"{z_rel[w > 0].min():.0f}..{z_rel[w > 0].max():.0f} mm")
    for b in np.arange(np.floor(z_rel[mass > 0].min() / step_mm) * step_mm, z_rel[mass > 0].max() + 1, step_mm):
        s = (z_rel >= b) & (z_rel < b + step_mm)
        if s.any() and mass[s].max() > 0:
            sh = np.nanmean(share[s]) if np.isfinite(share[s]).any() else np.nan
            print(f"  {b:6.0f}..{b + step_mm:.0f} mm: mass {mass[s].mean() / 100:6.1f} cm2, weighted "
                  f"{'yes' if (w[s] > 0).any() else 'no '}" + ("" if np.isnan(sh) else f", abdominal share {sh:.2f}"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("real", "phantom"))
    ap.add_argument("series", nargs="?", default="lidc-idri-0001")
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--seed", type=int, default=14607)
    ap.add_argument("--ids", default="7")
    ap.add_argument("--version", default="v14")
    ap.add_argument("--size", type=int, default=256)
    a = ap.parse_args(argv)
    if a.mode == "real":
        from cacscore.io.ct import read_ct
        v = read_ct(a.data / a.series)
        sp = tuple(float(s) for s in v.spacing_mm)
        hlow = json.loads((DOCS / "dome_landmarks.json").read_text())[a.series]["heart_lowest"][0]
        mass, share, w = profile(v.hu, sp)
        print(a.series)
        show(np.arange(v.hu.shape[0]) * sp[0] - hlow, mass, share, w)
        return 0
    from cacscore.phantom import make_patient
    for pid in id_range(a.ids):
        p = make_patient(pid, seed=a.seed, size=a.size, version=a.version, anatomy=True)
        sp = tuple(float(s) for s in p.spacing_mm)
        ks = np.nonzero(np.isin(p.anatomy_labels, (5, 6, 7, 29, 32, 33)).any((1, 2)))[0]
        mass, share, w = profile(p.hu, sp, p.anatomy_labels)
        print(f"{a.version} seed {a.seed} id {pid} (right dome raise {p.anatomy.right_dome_raise_mm:.1f} mm)")
        show(np.arange(p.hu.shape[0]) * sp[0] - (ks[0] - 0.5) * sp[0], mass, share, w)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
