"""Chest anatomy (cacscore.chest.anatomy.read_chest) on the three real LIDC-IDRI series: speed against today's heart
finder (locate_heart) in the same run, errors against the landmarks placed by eye (tests/data/landmarks_lidc.json),
and an overlay picture per series.

    PYTHONPATH=src python bench/chest_anatomy.py /work/shared/data docs/pictures
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cacscore.chest.anatomy import ChestAnatomy, read_chest  # noqa: E402
from cacscore.chest.heart import locate_heart  # noqa: E402
from cacscore.io.ct import read_ct  # noqa: E402

LANDMARKS = Path(__file__).resolve().parents[1] / "tests" / "data" / "landmarks_lidc.json"


def timed(f, *a):
    w, c = time.perf_counter(), time.process_time()
    out = f(*a)
    return out, time.perf_counter() - w, time.process_time() - c


def aorta_error(a: ChestAnatomy, p: np.ndarray) -> float:
    """Distance (mm) from a landmark to the nearest aortic centreline point."""
    d, _ = a.aorta.distance_mm(p[None])
    return float(d[0])


def picture(hu, a: ChestAnatomy, lm: dict, title: str, out: Path) -> None:
    g = hu[::a.step_z, ::a.step_xy, ::a.step_xy]
    gm = a.grid_mm
    cl = a.aorta.centreline_mm / gm
    root = np.asarray(lm["aortic_root"], float) / gm
    ks = [int(round(root[0])), int(round(np.asarray(lm["apex"])[0] / gm[0])),
          int(round(np.asarray(lm["aorta"]["arch_top"])[0] / gm[0])) - 3]
    fig, ax = plt.subplots(1, 5, figsize=(25, 5.6))
    for j, k in enumerate(ks):
        k = int(np.clip(k, 0, g.shape[0] - 1))
        ax[j].imshow(g[k], cmap="gray", vmin=-250, vmax=450)
        ax[j].contour(a.pericardium[k], [0.5], colors="r")
        ax[j].contour(a.bone[k] > 0, [0.5], colors="y", linewidths=0.6)
        sel = np.abs(cl[:, 0] - k) < 0.6
        for p, r in zip(cl[sel], a.aorta.radius_mm[sel]):
            ax[j].add_patch(plt.Circle((p[2], p[1]), r / gm[1], fill=False, color="lime"))
        ax[j].set_title(f"z = {k * gm[0]:.0f} mm")
    xm = int(np.clip(round(root[2]), 0, g.shape[2] - 1))
    ax[3].imshow(g[:, :, xm], cmap="gray", vmin=-250, vmax=450, origin="lower", aspect=gm[0] / gm[1])
    ax[3].contour(a.pericardium[:, :, xm], [0.5], colors="r")
    ax[3].set_title(f"sagittal x = {xm * gm[2]:.0f} mm")
    yc = int(np.clip(round(np.asarray(lm["apex"])[1] / gm[1]), 0, g.shape[1] - 1))
    ax[4].imshow(g[:, yc], cmap="gray", vmin=-250, vmax=450, origin="lower", aspect=gm[0] / gm[2])
    ax[4].contour(a.pericardium[:, yc], [0.5], colors="r")
    ax[4].set_title(f"coronal y = {yc * gm[1]:.0f} mm")
    for axis, (i0, i1) in ((ax[3], (1, 0)), (ax[4], (2, 0))):
        axis.plot(cl[:, i0], cl[:, i1], ".", color="lime", ms=3)
        for name, p, c in (("root", a.aortic_root_mm, "r"), ("apex", a.apex_mm, "m")):
            if np.isfinite(p).all():
                axis.plot(p[i0] / gm[i0], p[i1] / gm[i1], "*", color=c, ms=14)
        for name, c in (("aortic_root", "c"), ("apex", "c")):
            p = np.asarray(lm[name], float) / gm
            axis.plot(p[i0], p[i1], "x", color=c, ms=12, mew=2)
        axis.axhline(a.dome_mm[0] / gm[0], color="orange", lw=1)
        axis.axhline(lm["dome_z_mm"] / gm[0], color="c", lw=1, ls="--")
    fig.suptitle(f"{title}: pericardium red, aorta green, bony thorax yellow; found root/apex stars, "
                 "eye landmarks cyan x; right dome found orange, by eye cyan dashed", fontsize=11)
    plt.tight_layout()
    fig.savefig(out, dpi=60)
    plt.close(fig)


def main(data: Path, pictures: Path) -> None:
    marks = json.loads(LANDMARKS.read_text())
    pictures.mkdir(parents=True, exist_ok=True)
    print("| series | read_chest wall / CPU s | locate_heart wall / CPU s | root mm | apex mm | right dome z mm "
          "| aorta: arch top / mid / low mm | sternum in bone | parts not sure |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    speed = []
    for name in sorted(k for k in marks if k.startswith("lidc")):
        vol = read_ct(data / name)
        lm = marks[name]
        a, aw, ac = timed(read_chest, vol.hu, vol.spacing_mm)
        _, hw, hc = timed(locate_heart, vol.hu, vol.spacing_mm)
        root = float(np.linalg.norm(a.aortic_root_mm - lm["aortic_root"]))
        apex = float(np.linalg.norm(a.apex_mm - lm["apex"]))
        dome = a.dome_mm[0] - lm["dome_z_mm"]
        ao = " / ".join(f"{aorta_error(a, np.asarray(lm['aorta'][k], float)):.0f}" if k in lm["aorta"] else "-"
                        for k in ("arch_top", "descending_mid", "descending_low"))
        st = a.coarse_index(np.asarray(lm["sternum"], float))[0]
        near = a.bone[max(0, st[0] - 1):st[0] + 2, max(0, st[1] - 2):st[1] + 3, max(0, st[2] - 2):st[2] + 3]
        unsure = ", ".join(f"{k} ({p.confidence:.1f}: {p.reason})" for k, p in a.parts.items()
                           if p.confidence < 1 or not p.found) or "-"
        print(f"| {name} | {aw:.2f} / {ac:.2f} | {hw:.2f} / {hc:.2f} | {root:.0f} | {apex:.0f} | {dome:+.0f} | {ao} "
              f"| {'yes' if (near > 0).any() else 'no'} | {unsure} |")
        picture(vol.hu, a, lm, name, pictures / f"chest_anatomy_{name}.png")
        # the speed target is for 512 x 512 x 70: the 70 slices around the eye-placed aortic root
        k = int(round(lm["aortic_root"][0] / vol.spacing_mm[0]))
        sub = np.ascontiguousarray(vol.hu[max(0, k - 35):max(0, k - 35) + 70])
        _, w70, c70 = timed(read_chest, sub, vol.spacing_mm)
        _, hw70, hc70 = timed(locate_heart, sub, vol.spacing_mm)
        speed.append(f"| {name} | {sub.shape} | {w70:.2f} / {c70:.2f} | {hw70:.2f} / {hc70:.2f} |")
    print("\n| series | 70 slices around the root | read_chest wall / CPU s | locate_heart wall / CPU s |")
    print("| --- | --- | --- | --- |")
    print("\n".join(speed))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
