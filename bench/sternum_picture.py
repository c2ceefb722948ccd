"""The sternum of one phantom patient (MEDIASTINUM_REALISM off and on) beside a real series (session 14, wt22b).

    PYTHONPATH=src python bench/sternum_picture.py --pid 1 --seed 10201 --compare ../shared/data/lidc-idri-0002 \
        --out docs/pictures/phantom_sternum_vs_lidc-idri-0002.png

Rows: the real series, the phantom off, on. Columns: axial at the manubrium and at the body (the real levels from
docs/real_landmarks.json "great_vessels_v14"; the phantom's half-way down its manubrium and at its heart's centre), a
midline sagittal reformat (x of the trachea), and a coronal maximum-intensity projection of the anterior 45 mm of the
chest wall (the costal cartilages meeting the sternum). Window W 1000 / L 250 (bone and cartilage).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from arch_hila_sternum_picture import compare_picture, drawn  # noqa: E402

LANDMARKS = Path(__file__).resolve().parents[1] / "docs" / "real_landmarks.json"
WIN = (-250, 750)


def _real(path: Path) -> dict:
    from cacscore.io.ct import read_ct

    v = read_ct(path)
    pos = np.asarray(v.positions_mm)
    lm = json.loads(LANDMARKS.read_text())["great_vessels_v14"][path.name]
    return {"hu": v.hu, "x0": pos[0, 0], "y0": pos[0, 1], "zs": pos[:, 2], "dx": v.spacing_mm[2], "dy": v.spacing_mm[1],
            "zm": lm["manubrium"]["z"], "zb": lm["body"]["z"], "tx": lm["trachea"]["x"],
            "front": lm["trachea"]["y"] - 80.0}


def _phantom(pid: int, seed: int, on: bool) -> dict:
    p = drawn(pid, seed, on)
    a = p.anatomy
    ox, oy, oz = p.origin_mm
    st = a.sternum
    zm = 0.5 * (st.z_notch + st.z_angle) if st is not None else a.z_dome_mm + a.t_arch + 10
    return {"hu": p.hu, "x0": ox, "y0": oy, "zs": oz + p.spacing_mm[0] * np.arange(p.hu.shape[0]),
            "dx": p.spacing_mm[2], "dy": p.spacing_mm[1], "zm": zm, "zb": float(a.heart_c[2]), "tx": a.cav_c[0],
            "front": a.cav_c[1] - a.cav_ab[1] - 10.0}


def _row(axs, v: dict, name: str) -> None:
    hu, zs = v["hu"], v["zs"]
    ny, nx = hu.shape[1:]
    ext = [v["x0"], v["x0"] + nx * v["dx"], v["y0"] + ny * v["dy"], v["y0"]]
    for ax, (lab, z) in zip(axs[:2], (("manubrium", v["zm"]), ("body", v["zb"]))):
        k = int(np.argmin(np.abs(zs - z)))
        ax.imshow(hu[k], cmap="gray", vmin=WIN[0], vmax=WIN[1], extent=ext)
        ax.set_xlim(v["tx"] - 60, v["tx"] + 60)
        ax.set_ylim(v["front"] + 45, v["front"] - 35)
        ax.set_title(f"{name}: {lab} (z {zs[k]:.0f})", fontsize=8)
    kx = int(round((v["tx"] - v["x0"]) / v["dx"]))
    axs[2].imshow(hu[:, :, kx], cmap="gray", vmin=WIN[0], vmax=WIN[1], origin="lower", aspect="auto",
                  extent=[v["y0"], v["y0"] + ny * v["dy"], zs[0], zs[-1]])
    axs[2].set_xlim(v["front"] - 40, v["front"] + 80)
    axs[2].set_ylim(v["zb"] - 90, v["zm"] + 80)
    axs[2].set_title(f"{name}: midline sagittal", fontsize=8)
    k0 = int(np.clip(round((v["front"] - 25 - v["y0"]) / v["dy"]), 0, ny - 1))
    k1 = int(np.clip(round((v["front"] + 20 - v["y0"]) / v["dy"]), k0 + 1, ny))
    axs[3].imshow(hu[:, k0:k1, :].max(axis=1), cmap="gray", vmin=WIN[0], vmax=WIN[1], origin="lower", aspect="auto",
                  extent=[v["x0"], v["x0"] + nx * v["dx"], zs[0], zs[-1]])
    axs[3].set_xlim(v["tx"] - 120, v["tx"] + 120)
    axs[3].set_ylim(v["zb"] - 90, v["zm"] + 80)
    axs[3].set_title(f"{name}: coronal MIP of the anterior 45 mm", fontsize=8)
    for ax in axs:
        ax.tick_params(labelsize=6)


def main() -> None:
    compare_picture(_real, _phantom, _row, ncols=4, figsize=(16, 12), out=Path("/tmp/sternum.png"))


if __name__ == "__main__":
    main()
