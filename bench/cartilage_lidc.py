"""The costal-cartilage mask (cacscore.chest.cartilage) on the real LIDC-IDRI series: overlay pictures at six levels
of the heart, and every calcium candidate (>= 130 HU, lesion.find_candidates) in front of the found pericardium,
grouped by 3-D structure, with the share of its voxels in the mask, for reading by eye.

    PYTHONPATH=src python bench/cartilage_lidc.py /work/shared/data docs/pictures [lidc-idri-0001 ...]

"In front of the pericardium": the candidate's coarse column holds the found sac, the candidate lies no more than
2 coarse rows (5 mm) behind the sac's front edge there, and no farther than 20 mm outside the sac. Writes
costal_cartilage_<series>.png (levels: green the mask, cyan dashed the sac, orange >= 130 HU) and
costal_cartilage_candidates_<series>.png (a 40 mm crop per group, numbered as in the printed table), and prints
the CPU time of read_chest and of the mask's own step (the least of 3 runs).
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from cacscore.chest import cartilage as costal  # noqa: E402
from cacscore.chest.anatomy import _lung_hull, read_chest  # noqa: E402
from cacscore.io.ct import read_ct  # noqa: E402
from cacscore.lesion.anatomy import ANATOMY_NAMES  # noqa: E402
from cacscore.lesion.classifier import classify_volume, load_model  # noqa: E402
from cacscore.predict.predictors import DEFAULT_MODEL  # noqa: E402


def _up(mask2d: np.ndarray, step: int) -> np.ndarray:
    """A coarse slice drawn on the full grid: full pixel v is coarse pixel rint(v / step)."""
    idx = lambda n: np.clip(np.rint(np.arange(n * step) / step).astype(int), 0, n - 1)  # noqa: E731
    return mask2d[np.ix_(idx(mask2d.shape[0]), idx(mask2d.shape[1]))]


def levels_picture(hu, a, title: str, out: Path) -> None:
    ks = np.flatnonzero(a.pericardium.any((1, 2)))
    fig, ax = plt.subplots(2, 3, figsize=(21, 10))
    for j, k in enumerate(np.linspace(ks.min(), ks.max(), 6).astype(int)):
        kz = min(k * a.step_z, hu.shape[0] - 1)
        y0 = max(0, int(np.argmax(a.body[k].any(1))) * a.step_xy - 10)
        y1 = min(hu.shape[1], y0 + 140)
        sl = hu[kz]
        axis = ax.flat[j]
        axis.imshow(sl, cmap="gray", vmin=-200, vmax=400)
        for m, c, ls in ((a.cartilage, "lime", "solid"), (a.pericardium, "c", "dashed")):
            axis.contour(_up(m[k], a.step_xy)[:sl.shape[0], :sl.shape[1]], [0.5], colors=c, linestyles=ls, linewidths=1)
        axis.contour(sl >= 130, [0.5], colors="orange", linewidths=0.4)
        axis.set_ylim(y1, y0)
        axis.set_xlim(60, sl.shape[1] - 60)
        axis.set_title(f"slice {kz} (z = {kz * a.spacing_mm[0]:.0f} mm)")
    fig.suptitle(f"{title}: costal-cartilage mask (green), found pericardium (cyan dashed), >= 130 HU (orange)")
    plt.tight_layout()
    plt.savefig(out, dpi=55)
    plt.close(fig)


def in_front(cand, a) -> np.ndarray:
    """Indices of the candidates in front of the found pericardium (module docstring)."""
    vox = np.nonzero(cand.ids)
    cid = cand.ids[vox]
    cnt = np.maximum(np.bincount(cid, minlength=cand.n + 1)[1:], 1)
    cen = np.stack([np.bincount(cid, weights=v, minlength=cand.n + 1)[1:] / cnt for v in vox], 1)
    ci = a.coarse_index(cen * np.array(a.spacing_mm))
    first = np.where(a.pericardium.any(1), np.argmax(a.pericardium, axis=1), -1)
    sf = first[ci[:, 0], ci[:, 2]]
    peri = cand.anatomy_columns[:, ANATOMY_NAMES.index("pericardium_mm")]
    return np.flatnonzero((sf >= 0) & (ci[:, 1] <= sf + 2) & (peri <= 20.0)), cen


def clusters(cand, sel, cen, reach_mm: float = 8.0) -> list[np.ndarray]:
    """The candidates ``sel`` in groups to read by eye: one 3-D structure (``Candidates.structure``), in slices at
    most 2 apart, centroids within reach_mm in-plane of the group's last member (a structure alone joins the
    sternum to the heart's contrast blood on LIDC-IDRI-0001)."""
    px = np.array(cand.spacing_mm[1:])
    groups: list[list[int]] = []
    for i in sel[np.argsort(cen[sel, 0], kind="stable")]:
        for grp in groups:
            j = grp[-1]
            if (cand.structure[j] == cand.structure[i] and cen[i, 0] - cen[j, 0] <= 2
                    and np.hypot(*((cen[i, 1:] - cen[j, 1:]) * px)) <= reach_mm):
                grp.append(int(i))
                break
        else:
            groups.append([int(i)])
    return [np.array(g) for g in groups]


def candidates_picture(hu, a, cand, cls, sel, cen, title: str, out: Path) -> list[dict]:
    frac = cand.anatomy_columns[:, ANATOMY_NAMES.index("cartilage_fraction")]
    rows = []
    for members in clusters(cand, sel, cen):
        au = cand.agatston[members]
        big = members[np.argmax(au)]
        rows.append({"members": members, "big": int(big), "au": float(au.sum()),
                     "frac": float((frac[members] * au).sum() / max(au.sum(), 1e-9)),
                     "slices": (int(cen[members, 0].min().round()), int(cen[members, 0].max().round())),
                     "zyx": cen[big].round().astype(int), "classes": sorted({int(c) for c in cls[members]})})
    rows.sort(key=lambda r: (r["zyx"][0], r["zyx"][2]))
    n = len(rows)
    cols = 8
    fig, ax = plt.subplots(max(1, -(-n // cols)), cols, figsize=(2.6 * cols, 2.8 * max(1, -(-n // cols))),
                           squeeze=False)
    h = int(round(20.0 / a.spacing_mm[1]))
    for j, r in enumerate(rows):
        axis = ax.flat[j]
        k, y, x = r["zyx"]
        ys, xs = slice(max(0, y - h), y + h), slice(max(0, x - h), x + h)
        axis.imshow(hu[k, ys, xs], cmap="gray", vmin=-200, vmax=500)
        kk = int(np.rint(k / a.step_z))
        axis.contour(_up(a.cartilage[kk], a.step_xy)[ys, xs], [0.5], colors="lime", linewidths=0.8)
        axis.contour(_up(a.pericardium[kk], a.step_xy)[ys, xs], [0.5], colors="c", linestyles="dashed", linewidths=0.6)
        axis.contour(np.isin(cand.ids[k, ys, xs], r["members"] + 1), [0.5], colors="orange", linewidths=0.8)
        axis.set_title(f"#{j} s{k} {r['au']:.0f} AU f {r['frac']:.2f}", fontsize=8)
        axis.set_xticks([])
        axis.set_yticks([])
        r["n"] = j
    for axis in list(ax.flat)[n:]:
        axis.axis("off")
    fig.suptitle(f"{title}: calcium in front of the pericardium, by group (orange), mask green, sac cyan")
    plt.tight_layout(rect=(0, 0, 1, 1 - 0.4 / fig.get_figheight()))  # 0.4 inch for the title
    buf = io.BytesIO()
    plt.savefig(buf, dpi=60)
    plt.close(fig)
    # a 256-colour palette without dithering: the grey crops and the four outline colours stay, at half the size
    Image.open(buf).convert("RGB").quantize(256, dither=Image.Dither.NONE).save(out, optimize=True)
    return rows


def main(data: Path, out: Path, series: list[str]) -> None:
    model = load_model(DEFAULT_MODEL)
    for name in series:
        vol = read_ct(data / name)
        sp = np.asarray(vol.spacing_mm)
        t = time.process_time()
        a = read_chest(vol)
        t_chest = time.process_time() - t
        g = np.asarray(vol.hu[::a.step_z, ::a.step_xy, ::a.step_xy], np.float32)
        mid = float(np.median(np.nonzero(a.body)[2]))
        hull = _lung_hull(a.lungs)
        cpu = []
        for _ in range(3):  # CPU time, the least of 3: the machine is shared
            t = time.process_time()
            costal.find_cartilage(g, a.body, a.lungs, hull, a.pericardium, a.grid_mm, mid, lungs_sure=True,
                                  blood_hu=a.blood_hu[0] if a.contrast else None)
            cpu.append(time.process_time() - t)
        t_cart = min(cpu)
        print(f"{name}: read_chest {t_chest:.2f} s CPU (the mask inside it), the mask's step alone {t_cart:.2f} s CPU "
              f"({t_cart / t_chest:.0%}); mask {a.cartilage.sum() * np.prod(a.grid_mm) / 1000:.0f} ml, "
              f"{a.parts['cartilage']}")
        levels_picture(vol.hu, a, name, out / f"costal_cartilage_{name}.png")
        cand, cls = classify_volume(vol.hu, sp, model)
        sel, cen = in_front(cand, a)
        rows = candidates_picture(vol.hu, a, cand, cls, sel, cen, name, out / f"costal_cartilage_candidates_{name}.png")
        print(f"  {len(sel)} candidates in front of the sac, {len(rows)} structures, {cand.agatston[sel].sum():.0f} AU")
        for r in rows:
            print(f"  #{r['n']:2d} slices {r['slices'][0]}-{r['slices'][1]} zyx {r['zyx'].tolist()} "
                  f"{len(r['members'])} cand {r['au']:7.1f} AU  in mask {r['frac']:.2f}  shipped classes {r['classes']}")


if __name__ == "__main__":
    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    main(data, out, sys.argv[3:] or ["lidc-idri-0001", "lidc-idri-0002", "lidc-idri-0003"])
