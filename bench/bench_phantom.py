"""Phantom speed, score distribution and HU statistics beside the real scan.

    .venv/bin/python bench/bench_phantom.py                 # time per patient at 512 and 128 vs baseline
    .venv/bin/python bench/bench_phantom.py --cohort 200 --sizes 512 256 128 --workers 2 --no-time
                                                            # score distribution of 200 rendered patients per size
    .venv/bin/python bench/bench_phantom.py --hu            # + HU table phantom vs ../shared/data/lidc-idri-0002
    .venv/bin/python bench/bench_phantom.py --no-time --versus 114da3a --thickness 1.25 --pids 1 2 3 --rounds 2
                                                            # this tree vs the renderer at a git revision, same
                                                            # run (interleaved), wall and CPU s per 512 px patient,
                                                            # every patient at 1.25 mm slices (the slowest case)
    .venv/bin/python bench/bench_phantom.py --no-time --baseline-src /work/main/src --identical --thickness 1.25 \
        --pids 1 2 3 4 --rounds 3               # against another checkout's src; first checks bit-identical output

Baseline ("naive full-resolution render"): the same patient rendered the obvious way, with every
slab sampled at 5 sub-slices (1 mm) and averaged, i.e. make_patient's pipeline on a 5x finer z grid;
the phantom instead computes z partial volume analytically (column intervals).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

from cacscore.phantom import make_patient
from cacscore.phantom.anatomy import chest_grid, render_background
from cacscore.phantom.core import _draws
from cacscore.phantom.raster import Grid

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "lidc-idri-0002"


def naive_render(pid: int, seed: int, size: int) -> np.ndarray:
    """Baseline: background rendered on 1 mm sub-slices, averaged to 5 mm."""
    d, _ = _draws(pid, seed)
    g = chest_grid(d.anat, size)
    fine = Grid(g.x_mm, g.y_mm, np.linspace(g.z_edges_mm[0], g.z_edges_mm[-1], 5 * (len(g.z_edges_mm) - 1) + 1))
    img, _, _ = render_background(d.anat, fine, kvp=d.kvp)
    return img.reshape(-1, 5, *img.shape[1:]).mean(axis=1)


def _summary(job: tuple[int, int, int]) -> dict:
    pid, seed, size = job
    return make_patient(pid, seed=seed, size=size).summary()


def timeit(fn, n: int) -> float:
    fn()
    t = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return float(np.median(t))


def hu_stats_real() -> dict[str, tuple[float, float]]:
    """Real scan, 1.25 mm slices averaged 4 by 4 into 5 mm slabs; ROIs by threshold/coordinates."""
    import pydicom

    dss = [pydicom.dcmread(f) for f in glob.glob(str(REAL / "*.dcm"))]
    dss = sorted((d for d in dss if "PixelData" in d), key=lambda d: float(d.ImagePositionPatient[2]))
    if not dss:
        raise SystemExit(f"{REAL}: no DICOM slices")
    hu = np.stack([d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in dss]).astype(np.float32)
    n = hu.shape[0] // 4
    slabs = hu[: 4 * n].reshape(n, 4, *hu.shape[1:]).mean(axis=1)
    return _tissue_stats(slabs, blood=[(16, 250, 285), (23, 262, 296)], bone=[(16, 300, 256), (23, 302, 256)],
                         px_mm=float(dss[0].PixelSpacing[0]))


def _disc(img: np.ndarray, r: int, c: int, rad: int) -> np.ndarray:
    yy, xx = np.ogrid[: img.shape[0], : img.shape[1]]
    return img[(yy - r) ** 2 + (xx - c) ** 2 <= rad * rad]


def _tissue_stats(slabs: np.ndarray, *, blood, bone, px_mm: float) -> dict[str, tuple[float, float]]:
    """lung: HU < -400 inside the body, eroded 5 px; fat: 7x7 median in [-150, -60] inside the body,
    eroded 2 px; muscle: the same with a 20-90 HU median within 30 mm of the skin; blood: 5 mm discs in the descending aorta (phantom: 9 slabs around the heart centre); bone: 5 mm discs in vertebral bodies."""
    lung_v, fat_v, mus_v = [], [], []
    mid = slabs.shape[0] // 2
    for k in range(mid - 8, mid + 8):
        s = slabs[k]
        body = ndimage.binary_fill_holes(ndimage.binary_opening(s > -400, iterations=2))
        lab, nl = ndimage.label(body)
        if nl == 0:
            continue
        body = lab == (np.argmax(np.bincount(lab.ravel())[1:]) + 1)
        body = ndimage.binary_fill_holes(body)
        lung = ndimage.binary_erosion(body & (s < -400), iterations=5)
        med = ndimage.median_filter(s, size=7)
        fat = ndimage.binary_erosion(body & (med > -150) & (med < -60), iterations=2)
        # muscle: body-wall pixels (within 30 mm of the skin) whose 7x7 median is 20-90 HU, eroded 2 px
        wall = body & ~ndimage.binary_erosion(body, iterations=int(round(30 / px_mm)))
        mus = ndimage.binary_erosion(wall & (med > 20) & (med < 90), iterations=2)
        lung_v.append(s[lung])
        fat_v.append(s[fat])
        mus_v.append(s[mus])
    rad = max(int(round(2.5 / px_mm)), 1)
    out = {"lung": np.concatenate(lung_v), "fat": np.concatenate(fat_v), "muscle": np.concatenate(mus_v),
           "blood": np.concatenate([_disc(slabs[k], r, c, rad) for k, r, c in blood]),
           "bone": np.concatenate([_disc(slabs[k], r, c, rad) for k, r, c in bone])}
    return {k: (float(v.mean()), float(v.std())) for k, v in out.items()}


def hu_stats_phantom(pid: int, seed: int) -> dict[str, tuple[float, float]]:
    p = make_patient(pid, seed=seed, size=512)
    a = p.anatomy
    kc = int(round(p.heart_centre_index[0]))
    x0, y0 = p.origin_mm[0], p.origin_mm[1]
    px = p.spacing_mm[1]

    def rc(x, y):
        return int(round((y - y0) / px)), int(round((x - x0) / px))

    dr, dc = rc(*a.desc_c)
    sr, sc = rc(*a.spine_c)
    # mid-vertebral slabs (as hand-picked in the real scan): the cancellous plateau of the static
    # image, not discs (~80 HU) and not slabs that cut a cortical endplate (brighter)
    med = {k: float(np.median(_disc(p.hu_static[k], sr, sc, 3))) for k in range(kc - 6, kc + 6)}
    plateau = min(v for v in med.values() if v > 100)
    ks = [k for k, v in med.items() if abs(v - plateau) < 2][:2] or [kc]
    return _tissue_stats(p.hu, blood=[(k, dr, dc) for k in range(kc - 4, kc + 5)], bone=[(k, sr, sc) for k in ks], px_mm=px)


_TIMER = """
import json, sys, time
from cacscore.phantom import make_patient
import cacscore.phantom.anatomy as A
pids, size, kw = json.loads(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
thick = float(sys.argv[4])
if thick > 0:  # every patient reconstructed at this thickness (both renderers draw it from SLICE_MM / SLICE_P)
    A.SLICE_P = tuple(1.0 if m == thick else 0.0 for m in A.SLICE_MM)
make_patient(pids[0], seed=0, size=64, **kw)  # imports and first-call set-up out of the timing
out = []
for pid in pids:
    t, c = time.perf_counter(), time.process_time()
    make_patient(pid, seed=0, size=size, **kw)
    out.append((time.perf_counter() - t, time.process_time() - c))
print(json.dumps(out))
"""


_HASHER = """
import hashlib, json, sys
import numpy as np
from cacscore.phantom import make_patient
import cacscore.phantom.anatomy as A
jobs, thick = json.loads(sys.argv[1]), float(sys.argv[2])
if thick > 0:
    A.SLICE_P = tuple(1.0 if m == thick else 0.0 for m in A.SLICE_MM)
out = {}
for pid, size in jobs:
    p = make_patient(pid, seed=0, size=size, anatomy=True, gated=size <= 128)
    arrays = {"hu": p.hu, "hu_static": p.hu_static, "labels": p.labels, "bright": p.bright,
              "anatomy_labels": p.anatomy_labels}
    if p.gated is not None:
        arrays.update(gated_hu=p.gated.hu, gated_labels=p.gated.labels)
    row = {k: hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()[:16] for k, v in arrays.items()}
    row.update(truth=p.truth, truth_moving=p.truth_moving)
    out[f"{pid}@{size}"] = row
print(json.dumps(out))
"""


def hashes_in_subprocess(src: Path, jobs: list[tuple[int, int]], thickness: float = 0.0) -> dict:
    """sha256 (first 16 hex) of every output volume and the truth of make_patient(pid, seed=0, size) per job, in a
    fresh process importing cacscore from ``src`` (volumes with anatomy labels; gated series up to 128 px)."""
    env = dict(os.environ, PYTHONPATH=str(src))
    res = subprocess.run([sys.executable, "-c", _HASHER, json.dumps(jobs), str(thickness)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def identical(old_src: Path, new_src: Path, jobs: list[tuple[int, int]], thickness: float = 0.0) -> bool:
    """Print whether both renderers give bit-identical volumes and the same truth for every (pid, size) job."""
    old, new = hashes_in_subprocess(old_src, jobs, thickness), hashes_in_subprocess(new_src, jobs, thickness)
    same = True
    for key in old:
        diff = [k for k in old[key] if old[key][k] != new[key].get(k)]
        same &= not diff
        print(f"  patient@size {key}: " + ("identical" if not diff else f"DIFFERENT {diff}"))
    return same


def time_in_subprocess(src: Path, pids: list[int], size: int, kw: dict, thickness: float = 0.0) -> np.ndarray:
    """(n, 2) wall and CPU seconds of make_patient per pid, in a fresh process importing cacscore from ``src``;
    ``thickness`` > 0 forces that slice thickness (mm) on every patient."""
    env = dict(os.environ, PYTHONPATH=str(src))
    res = subprocess.run([sys.executable, "-c", _TIMER, json.dumps(pids), str(size), json.dumps(kw), str(thickness)],
                         env=env, capture_output=True, text=True, check=True)
    return np.array(json.loads(res.stdout.strip().splitlines()[-1]))


def baseline_src(rev: str | None, src: str | None, tmp: str) -> tuple[Path, str]:
    """The baseline renderer's source folder and its name: ``src`` as given, or git ``rev``'s src extracted into tmp."""
    if src:
        return Path(src).resolve(), src
    root = Path(__file__).resolve().parents[1]
    archive = subprocess.run(["git", "-C", str(root), "archive", rev, "src"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
    return Path(tmp) / "src", rev


def versus(old_src: Path, name: str, pids: list[int], size: int, thickness: float = 0.0, rounds: int = 1,
           labels: bool = True) -> None:
    """This tree's renderer (with and without the anatomy label volume) against the renderer in ``old_src``,
    interleaved round by round in the same run so that both see the same load on the shared cores."""
    root = Path(__file__).resolve().parents[1]
    trees = [(name, old_src, {}), ("this tree", root / "src", {})]
    if labels:  # (a release renders every patient with its anatomy label volume)
        trees += [(f"{name} + anatomy labels", old_src, {"anatomy": True}),
                  ("this tree + anatomy labels", root / "src", {"anatomy": True})]
    runs: dict[str, list] = {k: [] for k, _, _ in trees}
    for _ in range(rounds):
        for k, src, kw in trees:
            runs[k].append(time_in_subprocess(src, pids, size, kw, thickness))
    t = {k: np.stack(v) for k, v in runs.items()}  # (rounds, pids, 2): wall, CPU
    th = f"{thickness:g} mm slices" if thickness > 0 else "drawn slice thickness"
    print(f"size {size}, {th}, patients {pids} (seed 0) x {rounds} rounds, load average {os.getloadavg()[0]:.1f}:")
    for k, v in t.items():
        print(f"  {k:28s} wall median {np.median(v[..., 0]):.2f} s (max {v[..., 0].max():.2f}), "
              f"CPU median {np.median(v[..., 1]):.2f} s (max {v[..., 1].max():.2f})")
    # the least-disturbed run of each patient (the shared cores inflate CPU seconds too, by cache and SMT contention)
    best = {k: v.min(axis=0) for k, v in t.items()}  # (pids, 2)
    for i, what in ((1, "CPU"), (0, "wall")):
        print(f"  fastest of {rounds} rounds per patient, {what} s: " + "; ".join(
            f"{k} {np.round(b[:, i], 2).tolist()}" for k, b in best.items()))
        pairs = [("this tree", name)] + ([("this tree + anatomy labels", f"{name} + anatomy labels")] if labels else [])
        ratios = ", ".join(f"{a} / {b} {best[a][:, i].sum() / best[b][:, i].sum():.2f}" for a, b in pairs)
        print(f"    {what} ratio of sums: {ratios}; mean per patient: " + ", ".join(
            f"{k} {b[:, i].mean():.2f} s" for k, b in best.items()))
    print(f"  this tree / {name} CPU ratio of medians {np.median(t['this tree'][..., 1]) / np.median(t[name][..., 1]):.2f}"
          + (f", with labels {np.median(t['this tree + anatomy labels'][..., 1]) / np.median(t[f'{name} + anatomy labels'][..., 1]):.2f}"
             if labels else ""))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cohort", type=int, default=0)
    ap.add_argument("--sizes", type=int, nargs="+", default=[512], help="cohort sizes")
    ap.add_argument("--workers", type=int, default=1, help="processes for the cohort")
    ap.add_argument("--seed", type=int, default=0, help="cohort seed")
    ap.add_argument("--no-time", action="store_true")
    ap.add_argument("--hu", action="store_true")
    ap.add_argument("--versus", default=None, metavar="GIT_REV", help="time against the renderer at this revision")
    ap.add_argument("--baseline-src", default=None, metavar="SRC",
                    help="time against the renderer in this source folder (e.g. /work/main/src) instead of --versus")
    ap.add_argument("--identical", type=int, nargs="*", default=None, metavar="SIZE",
                    help="with --versus / --baseline-src: first check that both renderers give bit-identical volumes "
                         "and truth for --pids at these sizes (default 64 128 512)")
    ap.add_argument("--no-labels", action="store_true", help="with --versus: leave out the anatomy-label timing")
    ap.add_argument("--pids", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--thickness", type=float, default=0.0, help="with --versus: force this slice thickness (mm)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="with --versus / --baseline-src: interleaved rounds, the fastest per patient compared (0: --identical only)")
    args = ap.parse_args()
    if args.versus or args.baseline_src:
        with tempfile.TemporaryDirectory() as tmp:
            old_src, name = baseline_src(args.versus, args.baseline_src, tmp)
            if args.identical is not None:
                sizes = args.identical or [64, 128, 512]
                print(f"identical output ({name} against this tree, {args.thickness or 'drawn'} mm slices):")
                ok = identical(old_src, Path(__file__).resolve().parents[1] / "src",
                               [(pid, sz) for sz in sizes for pid in args.pids], args.thickness)
                print("  all identical" if ok else "  OUTPUT DIFFERS")
            if args.rounds > 0:  # (--rounds 0: the identity check only)
                versus(old_src, name, args.pids, 512, args.thickness, args.rounds, labels=not args.no_labels)
    print(f"load average {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} on {os.cpu_count()} cores")
    for size in () if args.no_time else (512, 128):
        t = timeit(lambda: make_patient(3, seed=0, size=size), args.repeats)
        tb = timeit(lambda: naive_render(3, 0, size), 1)
        print(f"size {size}: make_patient {t:.3f} s/patient; baseline naive 1 mm-sub-slice background only "
              f"{tb:.3f} s -> {tb / t:.1f}x")
    if args.cohort:
        from tqdm import tqdm

        for size in args.sizes:
            jobs = [(pid, args.seed, size) for pid in range(1, args.cohort + 1)]
            with ProcessPoolExecutor(args.workers) as ex:
                rows = list(tqdm(ex.map(_summary, jobs, chunksize=4), total=len(jobs), desc=f"size {size}"))
            df = pd.DataFrame(rows)
            df.to_csv(f"/tmp/phantom_cohort_{size}.csv", index=False)
            print(f"size {size}, seed {args.seed}, {len(df)} patients "
                  "(COCA: zero 43%, median 8.2, bins 8.6/19.6/16.3/12.4% of all, vessel zeros 83/47/71/63%)")
            for col in ("total", "moving_total"):
                v = df[col]
                nz = v[v > 0]
                bins = (pd.cut(nz, [0, 10, 100, 400, np.inf]).value_counts(sort=False) / len(v) * 100).round(1).tolist()
                print(f"  {col}: zero {np.mean(v == 0):.1%}, median {v.median():.1f}, mean {v.mean():.0f}, "
                      f"max {v.max():.0f}, (0,10] (10,100] (100,400] >400 as % of all: {bins}")
            print("  zero share per vessel:", {c: f"{np.mean(df[c] == 0):.0%}" for c in ("LCA", "LAD", "LCX", "RCA")})
    if args.hu:
        real = hu_stats_real()
        ph = [hu_stats_phantom(pid, 0) for pid in (1, 2, 3)]
        print("| tissue | phantom mean (sd) over patients 1-3 | real LIDC-IDRI-0002 (5 mm slabs) |")
        print("|---|---|---|")
        for k in ("lung", "fat", "muscle", "blood", "bone"):
            pm = ", ".join(f"{s[k][0]:.0f} ({s[k][1]:.0f})" for s in ph)
            print(f"| {k} | {pm} | {real[k][0]:.0f} ({real[k][1]:.0f}) |")


if __name__ == "__main__":
    main()
