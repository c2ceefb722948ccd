"""The chest finder's overlay on one phantom patient drawn with MEDIASTINUM_REALISM off (top row) and on (bottom row)
(session 15, wt23b; docs/phantom.md "The mediastinum switch with session 14's finder"). Columns: sagittal and coronal
through the drawn aortic root, axial at the root and 40 mm above it. Found pericardial mask red, the drawn sac (anatomy
labels) cyan, the found aortic centreline lime (circles on axial slices), the drawn aorta's labels yellow; found root
red star, drawn root cyan x. ``--opts`` picks the finder (new, guard = RootOptions.with_seed_search(), before14,
before9).

    PYTHONPATH=src nice -n 10 python bench/mediastinum_finder_picture.py SEED PID OUT.png [--opts new] [--size 256]
"""
from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cacscore.chest.anatomy import RootOptions, read_chest  # noqa: E402
from cacscore.phantom import anatomy as pa  # noqa: E402
from cacscore.phantom.core import make_patient  # noqa: E402

OPTS = {"new": RootOptions, "guard": RootOptions.with_seed_search, "before14": RootOptions.before_session14,
        "before9": RootOptions.before_session9}
SAC = ("heart", "epicardial_fat", "pericardium", "coronary_artery")
AORTA = ("aorta_ascending", "aorta_arch", "aorta_descending")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("seed", type=int)
    ap.add_argument("pid", type=int)
    ap.add_argument("out")
    ap.add_argument("--opts", default="new", choices=sorted(OPTS))
    ap.add_argument("--size", type=int, default=256)
    a = ap.parse_args()
    keep = pa.MEDIASTINUM_REALISM
    fig, ax = plt.subplots(2, 4, figsize=(20, 10.5))
    for row, on in enumerate((False, True)):
        pa.MEDIASTINUM_REALISM = on
        try:
            p = make_patient(a.pid, seed=a.seed, size=a.size, anatomy=True)
        finally:
            pa.MEDIASTINUM_REALISM = keep
        an = read_chest(p.hu, p.spacing_mm, root_options=OPTS[a.opts]())
        sp = np.array(p.spacing_mm, float)
        o = np.array(p.origin_mm, float)
        r = np.asarray(p.anatomy.aorta_root, float)
        root = np.array([r[2] - o[2], r[1] - o[1], r[0] - o[0]]) / sp  # voxel (z, y, x)
        true_sac = np.isin(p.anatomy_labels, [pa.LABEL[n] for n in SAC])
        aorta = np.isin(p.anatomy_labels, [pa.LABEL[n] for n in AORTA])
        gm = np.array(an.grid_mm)
        up = lambda m: np.repeat(np.repeat(np.repeat(m, an.step_z, 0), an.step_xy, 1), an.step_xy, 2)[  # noqa: E731
            :p.hu.shape[0], :p.hu.shape[1], :p.hu.shape[2]]
        peri = up(an.pericardium)
        cl = an.aorta.centreline_mm / sp
        found = an.aortic_root_mm / sp
        zr, yr, xr = (int(np.clip(round(v), 0, s - 1)) for v, s in zip(root, p.hu.shape))
        za = int(np.clip(zr + round(40 / sp[0]), 0, p.hu.shape[0] - 1))
        panels = [("sag", p.hu[:, :, xr], peri[:, :, xr], true_sac[:, :, xr], aorta[:, :, xr], (1, 0)),
                  ("cor", p.hu[:, yr], peri[:, yr], true_sac[:, yr], aorta[:, yr], (2, 0)),
                  ("ax", p.hu[zr], peri[zr], true_sac[zr], aorta[zr], (2, 1)),
                  ("ax", p.hu[za], peri[za], true_sac[za], aorta[za], (2, 1))]
        for j, (kind, img, pm, tm, am, (i0, i1)) in enumerate(panels):
            x = ax[row, j]
            ext = dict(origin="lower", aspect=sp[0] / sp[i0]) if kind != "ax" else {}
            x.imshow(img, cmap="gray", vmin=-250, vmax=450, **ext)
            for m, c in ((pm, "r"), (tm, "c"), (am, "y")):
                if m.any():
                    x.contour(m, [0.5], colors=c, linewidths=1.0)
            if kind == "ax":
                k = zr if j == 2 else za
                sel = np.abs(cl[:, 0] - k) < 0.6 * gm[0] / sp[0]
                for q, rad in zip(cl[sel], an.aorta.radius_mm[sel]):
                    x.add_patch(plt.Circle((q[2], q[1]), rad / sp[1], fill=False, color="lime"))
                x.set_title(f"{'off' if not on else 'on'}: axial z = {k * sp[0]:.0f} mm ({'root' if j == 2 else 'root + 40 mm'})")
            else:
                x.plot(cl[:, i0], cl[:, i1], ".", color="lime", ms=3)
                x.plot(root[i0], root[i1], "x", color="c", ms=12, mew=2)
                if np.isfinite(found).all():
                    x.plot(found[i0], found[i1], "*", color="r", ms=14)
                x.set_title(f"{'off' if not on else 'on'}: {'sagittal' if kind == 'sag' else 'coronal'} through the drawn root")
        err = np.linalg.norm(an.aortic_root_mm - root * sp)
        ax[row, 0].set_ylabel(f"MEDIASTINUM_REALISM {on}: root error {err:.1f} mm")
    fig.suptitle(f"seed {a.seed} patient {a.pid}, {a.size} px, finder '{a.opts}': found sac red, drawn sac cyan, drawn "
                 "aorta yellow, found aorta lime, found root red *, drawn root cyan x", fontsize=12)
    plt.tight_layout()
    fig.savefig(a.out, dpi=55)


if __name__ == "__main__":
    main()
