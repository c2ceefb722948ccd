"""The pericardial mask's back and the diaphragm under the heart on phantoms, for the shipped sac (SacOptions "s18")
and another (default "s19"), against the phantom's anatomy labels; session 19, wt27b (docs/chest_anatomy.md
"(session 19, wt27b)").

    PYTHONPATH=src nice -n 10 python bench/sac_phantom.py SEED FIRST-LAST SIZE CACHE [--sac s19] [--anatomy v11]

Renders (and caches, as bench/chest_anatomy_robust.py does) the phantoms, reads each with both settings and prints per
patient and summed up: Dice with the sac labels, the mask's share on the oesophagus and the descending aorta labels,
the true sac inside the s18 mask that the other leaves out, the coronary calcium voxels (>= 130 HU) in the mask grown
by ~5 mm, and the diaphragm surface's error under the true sac (found minus the top of the abdominal labels of each
coarse column that holds sac labels; median signed and median absolute, mm).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

from cacscore.chest.anatomy import read_chest, sac_options
from cacscore.phantom.anatomy import LABEL

sys.path.insert(0, str(Path(__file__).parent))
from chest_anatomy_phantom import ABDOMEN_LABELS, SAC_LABELS, sac_metrics  # noqa: E402
from chest_anatomy_robust import phantom  # noqa: E402


def diaphragm_error(an, lab: np.ndarray) -> tuple[float, float]:
    """(median signed, median absolute) mm of found diaphragm minus the abdominal labels' top, over the coarse columns
    holding sac labels and abdominal labels under them; nan when none."""
    sac = np.isin(lab, SAC_LABELS)
    abd = np.isin(lab, ABDOMEN_LABELS)
    cols = sac.any(0) & abd.any(0)
    if not cols.any():
        return np.nan, np.nan
    nz = lab.shape[0]
    top = (nz - 1 - np.argmax(abd[::-1], axis=0)) * an.grid_mm[0] + 0.5 * an.grid_mm[0]
    d = (an.diaphragm_mm[:lab.shape[1], :lab.shape[2]] - top)[cols]
    d = d[np.isfinite(d)]
    return (float(np.median(d)), float(np.median(np.abs(d)))) if len(d) else (np.nan, np.nan)


def row(an, d: dict, sp) -> dict:
    lab = d["alab"][::an.step_z, ::an.step_xy, ::an.step_xy][:an.pericardium.shape[0], :an.pericardium.shape[1],
                                                             :an.pericardium.shape[2]]
    m = an.pericardium
    sm = sac_metrics(an, d["alab"])
    grown = ndimage.binary_dilation(m, iterations=2)  # ~5 mm, as bench/chest_anatomy_robust.py
    idx = an.coarse_index(np.argwhere(d["cor"]) * np.array(sp))
    inside = float(grown[idx[:, 0], idx[:, 1], idx[:, 2]].mean()) if len(idx) else np.nan
    oes = float((lab[m] == LABEL["oesophagus"]).mean()) if m.any() else np.nan
    desc = float((lab[m] == LABEL["aorta_descending"]).mean()) if m.any() else np.nan
    dsig, dabs = diaphragm_error(an, lab)
    return {"dice": sm["dice"], "oes": oes, "desc": desc, "cal": inside, "dia": dsig, "dia_abs": dabs,
            "ml": sm["ml"], "mask": m, "true": np.isin(lab, SAC_LABELS), "oes_ml": float(
                ((lab == LABEL["oesophagus"]) & m).sum() * np.prod(an.grid_mm) / 1000.0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("seed", type=int)
    ap.add_argument("pids")
    ap.add_argument("size", type=int)
    ap.add_argument("cache", type=Path)
    ap.add_argument("--sac", default="s19")
    ap.add_argument("--anatomy", default=None)
    a = ap.parse_args()
    first, last = (int(v) for v in a.pids.split("-"))
    tags = ("s18", a.sac)
    res: dict[str, list] = {t: [] for t in tags}
    lost = []
    for pid in range(first, last + 1):
        d = phantom(pid, a.seed, a.size, a.cache, 0.0, None, a.anatomy)
        hu = d["hu"].astype(np.float32)
        sp = tuple(float(v) for v in d["sp"])
        rs = {t: row(read_chest(hu, sp, sac=sac_options(t)), d, sp) for t in tags}
        true = rs["s18"]["true"]
        was = (rs["s18"]["mask"] & true).sum()
        lost.append(float((rs["s18"]["mask"] & ~rs[a.sac]["mask"] & true).sum() / max(1, was)))
        for t in tags:
            res[t].append(rs[t])
        print(f"{pid} " + " | ".join(
            f"{t}: Dice {r['dice']:.3f} {r['ml']:.0f} ml oesophagus {100 * r['oes']:.2f} % ({r['oes_ml']:.1f} ml) "
            f"desc aorta {100 * r['desc']:.2f} % calcium {r['cal']:.3f} diaphragm {r['dia']:+.1f} / {r['dia_abs']:.1f} mm"
            for t, r in rs.items()) + f" | sac lost {100 * lost[-1]:.2f} %", flush=True)
    for t in tags:
        r = res[t]
        col = lambda k: np.array([x[k] for x in r], float)  # noqa: E731
        print(f"| {t} | seed {a.seed} {first}-{last}, {a.size} px | Dice median {np.median(col('dice')):.3f} "
              f"(min {col('dice').min():.3f}) | oesophagus share mean {100 * np.nanmean(col('oes')):.2f} % "
              f"({np.nanmean(col('oes_ml')):.1f} ml) | desc aorta share mean {100 * np.nanmean(col('desc')):.2f} % "
              f"| calcium in sac+5mm mean {np.nanmean(col('cal')):.3f} (min {np.nanmin(col('cal')):.3f}) "
              f"| diaphragm under the sac: median signed {np.nanmedian(col('dia')):+.1f} mm, median |err| "
              f"{np.nanmedian(col('dia_abs')):.1f} mm (max {np.nanmax(col('dia_abs')):.1f}) |")
    print(f"true sac (in the s18 mask) left out by {a.sac}: mean {100 * np.mean(lost):.2f} %, max {100 * np.max(lost):.2f} %")
    if len(res["s18"]):
        c18 = np.array([x["cal"] for x in res["s18"]], float)
        c19 = np.array([x["cal"] for x in res[a.sac]], float)
        print(f"calcium in sac+5mm, largest drop per patient: {np.nanmax(c18 - c19):.3f}")


if __name__ == "__main__":
    main()
