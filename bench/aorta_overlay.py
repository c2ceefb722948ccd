"""Axial slices of a series with read_chest's aortic circles for chest-root versions (session 23, wt31c).

    PYTHONPATH=src python bench/aorta_overlay.py SERIES OUT.png [--versions s22,s23] [--z 60,90,120,150]

Each panel: the coarse slice (-200..400 HU), the found aortic circles of every version (s22 lime, s23 magenta
dashed), the body midline (cyan) and the descending search's limit 12 mm left of it (cyan dashed; find_aorta's
``allowed``), the found root (star) and the eye-placed aortic-root / aorta landmarks within half a slice
(tests/data/landmarks_lidc.json; yellow x).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cacscore.chest.anatomy import find_body, read_chest, root_options, sac_options  # noqa: E402
from cacscore.io.ct import read_ct  # noqa: E402

LANDMARKS = Path(__file__).resolve().parents[1] / "tests" / "data" / "landmarks_lidc.json"
COLOURS = (("lime", "-"), ("magenta", "--"), ("orange", ":"))


def main(argv: list[str] | None = None) -> int:
    from cacscore.predict.predictors import DEFAULT_MODEL

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("series", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--versions", default="s22,s23")
    ap.add_argument("--z", default="60,90,120,150")
    ap.add_argument("--crop", default="", help="x0,x1,y0,y1 mm: show only this window")
    a = ap.parse_args(argv)
    sac = json.loads((DEFAULT_MODEL / "model.json").read_text())["config"].get("chest_sac", "s18")
    vol = read_ct(a.series)
    marks = json.loads(LANDMARKS.read_text()).get(a.series.name, {})
    eye = [np.asarray(p, float) for p in [marks.get("aortic_root")] + list(marks.get("aorta", {}).values()) if p]
    ans = {v: read_chest(vol.hu, vol.spacing_mm, sac=sac_options(sac), root_options=root_options(v))
           for v in a.versions.split(",")}
    an = next(iter(ans.values()))
    g = np.asarray(vol.hu[::an.step_z, ::an.step_xy, ::an.step_xy], np.float32)
    gm = an.grid_mm
    body, _ = find_body(g)
    mid = float(np.median(np.nonzero(body)[2])) * gm[2]
    zs = [float(z) for z in a.z.split(",")]
    fig, ax = plt.subplots(1, len(zs), figsize=(5.2 * len(zs), 5.4))
    for axis, z in zip(np.atleast_1d(ax), zs):
        k = int(np.clip(round(z / gm[0]), 0, g.shape[0] - 1))
        ext = (0, g.shape[2] * gm[2], g.shape[1] * gm[1], 0)
        axis.imshow(g[k], cmap="gray", vmin=-200, vmax=400, extent=ext)
        axis.axvline(mid, color="c", lw=0.8)
        axis.axvline(mid + 12, color="c", lw=0.8, ls="--")
        for (v, x), (c, ls) in zip(ans.items(), COLOURS):
            cl, rad = x.aorta.centreline_mm, x.aorta.radius_mm
            on = np.abs(cl[:, 0] - k * gm[0]) < 0.5 * gm[0] if len(cl) else np.zeros(0, bool)
            for p, r in zip(cl[on], rad[on]):
                axis.add_patch(plt.Circle((p[2], p[1]), r, fill=False, color=c, ls=ls, lw=1.2))
                axis.text(p[2] + r, p[1] - r, f"{v} r{r:.0f}", color=c, fontsize=7)
            if abs(x.aortic_root_mm[0] - k * gm[0]) < 0.5 * gm[0]:
                axis.plot(x.aortic_root_mm[2], x.aortic_root_mm[1], "*", color=c, ms=12)
        for p in eye:
            if abs(p[0] - k * gm[0]) <= 0.5 * gm[0] + 2.5:
                axis.plot(p[2], p[1], "x", color="yellow", ms=10, mew=2)
        if a.crop:
            x0, x1, y0, y1 = (float(v) for v in a.crop.split(","))
            axis.set_xlim(x0, x1)
            axis.set_ylim(y1, y0)
        axis.set_title(f"{a.series.name} z = {k * gm[0]:.1f} mm (slice {k})", fontsize=9)
    fig.suptitle("aortic circles: " + ", ".join(f"{v} {c}" for v, (c, _) in zip(ans, COLOURS))
                 + "; body midline cyan, descending limit (+12 mm) cyan dashed; eye landmarks yellow x", fontsize=9)
    plt.tight_layout()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out, dpi=80)
    plt.close(fig)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
