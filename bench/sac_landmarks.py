"""The pericardial mask's back and the diaphragm under the heart against eye-placed landmarks on the three LIDC series
(docs/sac_back_landmarks.json), for the shipped finder (SacOptions "s18") and a named other (default "s19"); session 19,
wt27b (docs/chest_anatomy.md "(session 19, wt27b)").

    PYTHONPATH=src nice -n 10 python bench/sac_landmarks.py /work/shared/data [--sac s19] [--pictures docs/pictures]

Per landmark: oesophagus and heart_back, the signed distance (mm) of the point to the mask's surface (> 0 outside;
the oesophagus should be outside, the heart's back inside); diaphragm, the found surface's height minus the landmark's
(mm; > 0 too high). Pictures (--pictures): per series, axial slices at the oesophagus landmarks (cyan s18 mask,
magenta dashed the other; red x oesophagus, green o heart's back) and sagittal cuts through the diaphragm landmarks
(yellow s18 surface, magenta dashed the other, red + the landmark).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from cacscore.chest.anatomy import read_chest, sac_options, signed_distance
from cacscore.core.fileio import atomic_savefig
from cacscore.io.ct import read_ct

LANDMARKS = Path(__file__).resolve().parents[1] / "docs" / "sac_back_landmarks.json"
HYBRID = Path(__file__).resolve().parents[1] / "docs" / "hybrid_landmarks.json"
"""Its crux and the RCA course's last three anchors (the posterior descending artery, session 8's eye placements) must
stay in the mask too: they lie just in front of the oesophagus."""


def measure(an, marks: dict) -> dict:
    sd = signed_distance(an.pericardium, an.grid_mm)
    out = {}
    for name in ("oesophagus", "heart_back"):
        idx = an.coarse_index(np.array(marks[name], float))
        out[name] = [float(sd[i, j, k]) for i, j, k in idx]
    if "crux_pda" in marks:
        idx = an.coarse_index(np.array(marks["crux_pda"], float))
        out["crux_pda"] = [float(sd[i, j, k]) for i, j, k in idx]
    idx = an.coarse_index(np.array(marks["diaphragm"], float))
    out["diaphragm"] = [float(an.diaphragm_mm[j, k] - p[0]) for (_, j, k), p in zip(idx, marks["diaphragm"])]
    return out


def picture(series: str, hu, sp, a0, a1, marks: dict, other: str, out: Path) -> None:
    oes, back, dia = (np.array(marks[k], float) for k in ("oesophagus", "heart_back", "diaphragm"))
    n = len(oes) + len(dia)
    fig, axs = plt.subplots(2, max(len(oes), len(dia)), figsize=(4.2 * max(len(oes), len(dia)), 8.4), squeeze=False)
    gm = a0.grid_mm
    for ax in axs.ravel()[:]:
        ax.axis("off")
    for ax, p in zip(axs[0], oes):
        ax.axis("on")
        k = int(round(p[0] / sp[0]))
        ax.imshow(hu[k], cmap="gray", vmin=-140, vmax=260, extent=(0, hu.shape[2] * sp[2], hu.shape[1] * sp[1], 0))
        kc = int(round(p[0] / gm[0]))
        for a, c, ls in ((a0, "c", "-"), (a1, "m", "--")):
            if a.pericardium[kc].any():
                ax.contour(np.arange(a.pericardium.shape[2]) * gm[2], np.arange(a.pericardium.shape[1]) * gm[1],
                           a.pericardium[kc].astype(float), [0.5], colors=c, linewidths=1.2, linestyles=ls)
        ax.plot(p[2], p[1], "rx", ms=9, mew=2)
        for b in back[np.abs(back[:, 0] - p[0]) < 1.3]:
            ax.plot(b[2], b[1], "go", ms=7, mfc="none", mew=2)
        ax.set_xlim(p[2] - 40, p[2] + 40)
        ax.set_ylim(p[1] + 35, p[1] - 45)
        ax.set_xticks(np.arange(np.ceil((p[2] - 40) / 10) * 10, p[2] + 40, 10))
        ax.set_yticks(np.arange(np.ceil((p[1] - 45) / 10) * 10, p[1] + 35, 10))
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.35, color="y", lw=0.5)
        ax.set_title(f"z {p[0]:g} mm: oesophagus x, heart's back o", fontsize=8)
    for ax, p in zip(axs[1], dia):
        ax.axis("on")
        i = int(round(p[2] / sp[2]))
        ax.imshow(hu[:, :, i], cmap="gray", vmin=-200, vmax=300, origin="lower", aspect="auto",
                  extent=(0, hu.shape[1] * sp[1], 0, hu.shape[0] * sp[0]))
        ic = int(round(p[2] / gm[2]))
        ys = np.arange(a0.diaphragm_mm.shape[0]) * gm[1]
        ax.plot(ys, a0.diaphragm_mm[:, ic], "y-", lw=1.2)
        ax.plot(ys, a1.diaphragm_mm[:, ic], "m--", lw=1.2)
        for a, c, ls in ((a0, "c", "-"), (a1, "m", "--")):
            m = a.pericardium[:, :, ic]
            if m.any():
                ax.contour(ys, np.arange(m.shape[0]) * gm[0], m.astype(float), [0.5], colors=c, linewidths=0.8,
                           linestyles=ls)
        ax.plot(p[1], p[0], "r+", ms=12, mew=2)
        ax.set_xlim(p[1] - 70, p[1] + 70)
        ax.set_ylim(p[0] - 30, p[0] + 45)
        ax.set_yticks(np.arange(np.ceil((p[0] - 30) / 10) * 10, p[0] + 45, 10))
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.35, color="y", lw=0.5)
        ax.set_title(f"sagittal x {p[2]:g} mm: diaphragm +", fontsize=8)
    fig.suptitle(f"{series}: shipped sac s18 (cyan mask / yellow diaphragm), {other} (magenta dashed); "
                 f"{n} eye landmarks", fontsize=9)
    fig.tight_layout()
    atomic_savefig(fig, out, dpi=80)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--sac", default="s19")
    ap.add_argument("--pictures", type=Path, default=None)
    a = ap.parse_args()
    marks = json.loads(LANDMARKS.read_text())
    hyb = json.loads(HYBRID.read_text())
    for series in marks:
        if series.startswith("lidc") and series in hyb:
            marks[series]["crux_pda"] = [hyb[series]["crux"]] + hyb[series]["courses"]["RCA"][-3:]
    rows = {}
    for series in sorted(k for k in marks if k.startswith("lidc")):
        v = read_ct(a.data / series)
        a0 = read_chest(v, sac=sac_options("s18"))
        a1 = read_chest(v, sac=sac_options(a.sac))
        for tag, an in (("s18", a0), (a.sac, a1)):
            m = measure(an, marks[series])
            rows[(series, tag)] = m
            ml = an.pericardium.sum() * np.prod(an.grid_mm) / 1000.0
            print(f"{series} {tag}: mask {ml:.0f} ml | oesophagus (mm to the mask, > 0 outside) "
                  f"{' '.join(f'{d:+.1f}' for d in m['oesophagus'])} | heart's back "
                  f"{' '.join(f'{d:+.1f}' for d in m['heart_back'])} | crux and PDA anchors "
                  f"{' '.join(f'{d:+.1f}' for d in m.get('crux_pda', []))} | diaphragm (found - eye, mm) "
                  f"{' '.join(f'{d:+.1f}' for d in m['diaphragm'])}", flush=True)
        if a.pictures is not None:
            picture(series, v.hu, v.spacing_mm, a0, a1, marks[series], a.sac,
                    a.pictures / f"s19_wt27b_sac_back_{series}.png")
    for tag in ("s18", a.sac):
        ms = [m for (s, t), m in rows.items() if t == tag]
        oes = np.concatenate([m["oesophagus"] for m in ms])
        back = np.concatenate([m["heart_back"] for m in ms])
        dia = np.concatenate([m["diaphragm"] for m in ms])
        cp = np.concatenate([m.get("crux_pda", []) for m in ms])
        print(f"| {tag} | oesophagus outside the mask {(oes > 0).sum()} of {len(oes)} (median {np.median(oes):+.1f} mm) "
              f"| heart's back inside or within 2.5 mm {(back <= 2.5).sum()} of {len(back)} (max {back.max():+.1f} mm) "
              f"| crux and PDA anchors inside or within 2.5 mm {(cp <= 2.5).sum()} of {len(cp)} (max {cp.max():+.1f} mm) "
              f"| diaphragm |found - eye| median {np.median(np.abs(dia)):.1f} mm, max {np.abs(dia).max():.1f} mm |")


if __name__ == "__main__":
    main()
