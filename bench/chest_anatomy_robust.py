"""read_chest on phantoms of the current default anatomy (session 13's realistic thorax: sloped upper chest,
prevascular fat, mediastinal nodes, arms) against their anatomy labels, per patient and summed up: the aortic root's
error (mm, against the drawn annulus), the aorta centreline distance (median over the labelled ascending and
descending aorta's slices of the in-plane distance from the label's centroid to the nearest tracked centreline point
on that slice), the pericardial mask's Dice against the sac labels and its share on abdominal labels
(bench/chest_anatomy_phantom.py's ``sac_metrics``), the share of the coronary calcium voxels (truth labels, >= 130 HU)
inside the mask grown by 5 mm, and read_chest's CPU time. Issue 16, session 14 (docs/chest_anatomy.md, "Robust on the
realistic thorax").

    PYTHONPATH=src nice -n 10 python bench/chest_anatomy_robust.py SEED FIRST-LAST SIZE CACHE [--seed-search]
        [--widen W] [--tag NAME] [--mediastinum 0|1] [--anatomy VERSION]

CACHE (a folder) keeps the rendered phantoms (hu, anatomy labels, coronary labels, truth root) for reruns on other
finder code. ``--widen W`` renders with ``phantom.anatomy.MEDIASTINUM_WIDEN_V13 = W`` (session 13 left it at 0: the
sac finder broke on a real-width mediastinum) and caches those apart. ``--anatomy VERSION`` draws that anatomy version
(phantom.anatomy.ANATOMY_VERSIONS; default: the phantom's default); renders are cached per version (session 16).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from cacscore.chest.anatomy import ChestAnatomy, RootOptions, read_chest
from cacscore.phantom.anatomy import LABEL

import sys

sys.path.insert(0, str(Path(__file__).parent))
from chest_anatomy_phantom import SAC_LABELS, sac_metrics  # noqa: E402


def phantom(pid: int, seed: int, size: int, cache: Path, widen: float, mediastinum: int | None = None,
            version: str | None = None) -> dict:
    """mediastinum: phantom.anatomy.MEDIASTINUM_REALISM for this render (None: the default; 0 / 1 cached apart);
    version: the anatomy version drawn (None: the phantom's default, ANATOMY_VERSION), part of the cache's file name
    (caches written before session 16 have no version in their names: they are not read, as the default moved)."""
    from cacscore.phantom import anatomy as pa

    version = pa.check_version(version or pa.ANATOMY_VERSION)
    tag = ("" if mediastinum is None else f"_m{int(mediastinum)}") + f"_{version}"
    f = cache / f"{seed}_{size}_{pid}_w{widen:g}{tag}.npz"
    if f.is_file():
        with np.load(f) as z:
            return {k: z[k] for k in z.files}
    from cacscore.phantom.core import make_patient

    keep, keep_m = pa.MEDIASTINUM_WIDEN_V13, pa.MEDIASTINUM_REALISM
    pa.MEDIASTINUM_WIDEN_V13 = widen
    if mediastinum is not None:
        pa.MEDIASTINUM_REALISM = bool(mediastinum)
    try:
        p = make_patient(pid, seed=seed, size=size, anatomy=True, version=version)
    finally:
        pa.MEDIASTINUM_WIDEN_V13, pa.MEDIASTINUM_REALISM = keep, keep_m
    o = np.array(p.origin_mm, float)  # (x, y, z) of voxel 0
    r = np.asarray(p.anatomy.aorta_root, float)
    d = {"hu": p.hu.astype(np.int16), "alab": p.anatomy_labels, "cor": (p.labels > 0) & (p.hu >= 130),
         "sp": np.array(p.spacing_mm, float), "root": np.array([r[2] - o[2], r[1] - o[1], r[0] - o[0]])}
    f.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(f, **d)
    return d


def aorta_distance(a: ChestAnatomy, alab: np.ndarray, sp: np.ndarray) -> tuple[float, float]:
    """Median in-plane distance (mm) from the labelled ascending / descending aorta's centroid on each slice (of the
    coarse grid) to the nearest centreline point of the found tube on that slice (nan when none there)."""
    cl = a.aorta.centreline_mm
    out = []
    for name in ("aorta_ascending", "aorta_descending"):
        d = []
        for k in range(0, alab.shape[0], a.step_z):
            ys, xs = np.nonzero(alab[k, ::a.step_xy, ::a.step_xy] == LABEL[name])
            if len(ys) < 4:
                continue
            c = np.array([ys.mean(), xs.mean()]) * a.grid_mm[1:]
            on = np.abs(cl[:, 0] - k * sp[0]) < 0.6 * a.grid_mm[0] if len(cl) else np.zeros(0, bool)
            d.append(float(np.hypot(*(cl[on, 1:] - c).T).min()) if on.any() else np.inf)
        d = np.array(d)
        out.append(float(np.median(d)) if len(d) else np.nan)
    return out[0], out[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("seed", type=int)
    ap.add_argument("pids")
    ap.add_argument("size", type=int)
    ap.add_argument("cache", type=Path)
    ap.add_argument("--seed-search", action="store_true", help="RootOptions.with_seed_search()")
    ap.add_argument("--before14", action="store_true", help="RootOptions.before_session14(): the finder of sessions 9-13")
    ap.add_argument("--widen", type=float, default=0.0)
    ap.add_argument("--tag", default="")
    ap.add_argument("--mediastinum", type=int, choices=(0, 1), default=None,
                    help="phantom.anatomy.MEDIASTINUM_REALISM for the renders (default: the phantom's default)")
    ap.add_argument("--anatomy", default=None, help="phantom anatomy version drawn (default: the phantom's default)")
    ap.add_argument("--opts", default="", help="RootOptions fields, e.g. branch_guard=0,seed_by_track=1 (over the "
                                              "default or --seed-search)")
    a = ap.parse_args()
    first, last = (int(v) for v in a.pids.split("-"))
    opts = (RootOptions.with_seed_search() if a.seed_search else RootOptions.before_session14() if a.before14
            else RootOptions())
    if a.opts:
        kw = {k: type(getattr(opts, k))(float(v)) for k, v in (kv.split("=") for kv in a.opts.split(","))}
        opts = replace(opts, **kw)
    rows = []
    for pid in range(first, last + 1):
        d = phantom(pid, a.seed, a.size, a.cache, a.widen, a.mediastinum, a.anatomy)
        hu = d["hu"].astype(np.float32)
        sp = tuple(float(v) for v in d["sp"])
        t = time.process_time()
        an = read_chest(hu, sp, root_options=opts)
        cpu = time.process_time() - t
        root = float(np.linalg.norm(an.aortic_root_mm - d["root"]))
        asc, desc = aorta_distance(an, d["alab"], np.array(sp))
        m = sac_metrics(an, d["alab"])
        true_sac = np.isin(d["alab"][::an.step_z, ::an.step_xy, ::an.step_xy], SAC_LABELS)
        top = (np.flatnonzero(an.pericardium.any((1, 2))).max() - np.flatnonzero(true_sac.any((1, 2))).max()) \
            * an.grid_mm[0] if an.pericardium.any() else np.nan
        grown = ndimage.binary_dilation(an.pericardium, iterations=2)  # ~5 mm
        cal = np.argwhere(d["cor"]) * np.array(sp)
        idx = an.coarse_index(cal)
        inside = float(grown[idx[:, 0], idx[:, 1], idx[:, 2]].mean()) if len(idx) else np.nan
        rows.append((root, asc, desc, m["dice"], m["below_diaphragm"], inside, cpu, top))
        signed = np.round(an.aortic_root_mm - d["root"]).astype(int) if np.isfinite(root) else "-"
        print(f"{pid} root {root:.1f} mm {signed} ({an.parts['root'].confidence:.2f}) | aorta asc {asc:.1f} desc {desc:.1f} mm "
              f"| Dice {m['dice']:.3f} top {top:+.0f} mm abdomen {m['below_diaphragm']:.3f} {m['ml']:.0f} ml "
              f"({an.parts['pericardium'].confidence:.1f}) | coronary calcium in sac+5mm {inside:.2f} | cpu {cpu:.2f} s",
              flush=True)
    r = np.array(rows, float)
    rt = np.where(np.isfinite(r[:, 0]), r[:, 0], np.inf)
    print(f"| {a.tag} | seed {a.seed} {first}-{last}, {a.size} px{', widen ' + str(a.widen) if a.widen else ''} "
          f"| root median {np.median(rt):.1f} / p90 {np.percentile(rt, 90, method='nearest'):.1f} / max {rt.max():.0f} mm, "
          f"> 20 mm {(rt > 20).sum()}, none {int(np.isnan(r[:, 0]).sum())} "
          f"| asc found (<= 10 mm) {(r[:, 1] <= 10).sum()} of {len(r)}, median {np.nanmedian(r[:, 1]):.1f} (max {np.nanmax(r[:, 1]):.1f}) / desc {np.nanmedian(r[:, 2]):.1f} "
          f"(max {np.nanmax(r[:, 2]):.1f}) mm | Dice {np.median(r[:, 3]):.3f} (min {r[:, 3].min():.3f}) "
          f"| sac top over the true one > 20 mm {(r[:, 7] > 20).sum()} (max {np.nanmax(r[:, 7]):.0f} mm) "
          f"| abdomen {100 * np.median(r[:, 4]):.1f} % (max {100 * r[:, 4].max():.1f} %) "
          f"| calcium in sac {np.nanmean(r[:, 5]):.3f} (min {np.nanmin(r[:, 5]):.2f}) | CPU {np.median(r[:, 6]):.2f} s |")


if __name__ == "__main__":
    main()
