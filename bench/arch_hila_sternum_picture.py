"""The aortic arch, the hila and the sternum of phantom patients beside a real series (session 14, MEDIASTINUM_REALISM).

    PYTHONPATH=src python bench/arch_hila_sternum_picture.py --pid 1 --seed 10201 \
        --compare ../shared/data/lidc-idri-0002 --out docs/pictures/phantom_arch_hila_vs_lidc-idri-0002.png

Rows: the real series (its eye-placed landmarks of docs/real_landmarks.json "great_vessels_v14" drawn as crosses),
the phantom with MEDIASTINUM_REALISM off (session 13) and on. Columns: axial 12 mm under the arch lumen's top (about its centreline), axial at the
pulmonary bifurcation (mediastinal window W 400 / L 40), axial 12 mm under the bifurcation in a lung window (the
hila), a sagittal reformat through the trachea (the sternum and the arch over it) and a coronal one through the
trachea. Phantom levels come from its anatomy, real ones from the landmarks; all panels are 240 mm wide, centred
on the trachea.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cacscore.phantom import anatomy as an  # noqa: E402
from cacscore.phantom import make_patient  # noqa: E402

LANDMARKS = Path(__file__).resolve().parents[1] / "docs" / "real_landmarks.json"


def _real(path: Path):
    from cacscore.io.ct import read_ct

    v = read_ct(path)
    pos = np.asarray(v.positions_mm)
    dz, dy, dx = v.spacing_mm
    lm = json.loads(LANDMARKS.read_text())["great_vessels_v14"][path.name]
    return {"hu": v.hu, "x0": pos[0, 0], "y0": pos[0, 1], "zs": pos[:, 2], "dx": dx, "dy": dy, "lm": lm,
            "arch_top": lm["arch_top_z"], "bif": lm["pa_bif_z"], "tx": lm["trachea"]["x"], "ty": lm["trachea"]["y"]}


def drawn(pid: int, seed: int, on: bool):
    """Phantom patient pid of seed at 512 px drawn with MEDIASTINUM_REALISM ``on`` (the switch restored after)."""
    keep, an.MEDIASTINUM_REALISM = an.MEDIASTINUM_REALISM, on
    try:
        return make_patient(pid, seed=seed, size=512)
    finally:
        an.MEDIASTINUM_REALISM = keep


def _phantom(pid: int, seed: int, on: bool):
    p = drawn(pid, seed, on)
    a = p.anatomy
    ox, oy, oz = p.origin_mm
    dz, dy, dx = p.spacing_mm
    zs = oz + dz * np.arange(p.hu.shape[0])
    top = float(an.painted_points(a, a.aorta.points)[:, 2].max() + a.aorta.radius[np.argmax(a.aorta.points[:, 2])])
    return {"hu": p.hu, "x0": ox, "y0": oy, "zs": zs, "dx": dx, "dy": dy, "lm": None, "arch_top": top,
            "bif": float(a.pa_bif[2]), "tx": a.cav_c[0], "ty": a.spine_c[1] - a.spine_r - 14.0}


def _row(axs, v, name: str) -> None:
    hu, zs = v["hu"], v["zs"]
    ny, nx = hu.shape[1:]
    ext = [v["x0"], v["x0"] + nx * v["dx"], v["y0"] + ny * v["dy"], v["y0"]]
    tx, ty = v["tx"], v["ty"]
    for ax, (lab, z, win) in zip(axs[:3], (("arch top - 12 mm", v["arch_top"] - 12, (-160, 240)),
                                           ("PA bifurcation", v["bif"], (-160, 240)),
                                           ("hila, bif - 12 mm", v["bif"] - 12, (-1100, 200)))):
        k = int(np.argmin(np.abs(zs - z)))
        ax.imshow(hu[k], cmap="gray", vmin=win[0], vmax=win[1], extent=ext)
        ax.set_xlim(tx - 120, tx + 120)
        ax.set_ylim(ty + 80, ty - 160)
        ax.set_title(f"{name}: {lab} (z {zs[k]:.0f})", fontsize=8)
        if v["lm"] is not None and lab == "PA bifurcation":
            for key in ("asc", "desc"):
                ax.plot(v["lm"][key]["x"], v["lm"][key]["y"], "r+", ms=10)
        if v["lm"] is not None and lab.startswith("arch"):
            ax.plot(tx, ty, "c+", ms=10)
    zlo, zhi = v["bif"] - 110, v["arch_top"] + 60
    kx = int(round((tx - v["x0"]) / v["dx"]))
    ky = int(round((ty - v["y0"]) / v["dy"]))
    axs[3].imshow(hu[:, :, kx], cmap="gray", vmin=-160, vmax=240, origin="lower", aspect="auto",
                  extent=[v["y0"], v["y0"] + ny * v["dy"], zs[0], zs[-1]])
    axs[3].set_xlim(ty - 160, ty + 80)
    axs[3].set_title(f"{name}: sagittal through the trachea", fontsize=8)
    axs[4].imshow(hu[:, ky, :], cmap="gray", vmin=-160, vmax=240, origin="lower", aspect="auto",
                  extent=[v["x0"], v["x0"] + nx * v["dx"], zs[0], zs[-1]])
    axs[4].set_xlim(tx - 120, tx + 120)
    axs[4].set_title(f"{name}: coronal through the trachea", fontsize=8)
    for ax in axs[3:]:
        ax.set_ylim(zlo, zhi)
        if v["lm"] is not None:
            ax.axhline(v["lm"]["carina_z"], color="y", lw=0.6)
            ax.axhline(v["bif"], color="r", lw=0.6)
            ax.axhline(v["arch_top"], color="c", lw=0.6)
    for ax in axs:
        ax.tick_params(labelsize=6)


def compare_picture(real, phantom, row, *, ncols: int, figsize: tuple[float, float], out: Path) -> None:
    """The command line both mediastinum pictures share (this one and bench/sternum_picture.py): a real series
    (--compare) and phantom --pid of --seed drawn with MEDIASTINUM_REALISM off and on, one row each, drawn by
    row(axes, view, name) from real(path) / phantom(pid, seed, on) views; saved to --out (default ``out``)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--pid", type=int, default=1)
    ap.add_argument("--seed", type=int, default=10201)
    ap.add_argument("--compare", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=out)
    args = ap.parse_args()
    rows = [(real(args.compare), args.compare.name),
            (phantom(args.pid, args.seed, False), f"phantom {args.pid} off"),
            (phantom(args.pid, args.seed, True), f"phantom {args.pid} on")]
    fig, axs = plt.subplots(3, ncols, figsize=figsize)
    for axes, (v, name) in zip(axs, rows):
        row(axes, v, name)
    fig.tight_layout()
    fig.savefig(args.out, dpi=70)
    print(args.out)


def main() -> None:
    compare_picture(_real, _phantom, _row, ncols=5, figsize=(20, 12.5), out=Path("/tmp/arch_hila.png"))


if __name__ == "__main__":
    main()
