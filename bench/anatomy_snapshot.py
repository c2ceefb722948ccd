"""read_chest's whole result on a fixed set of scans, saved to compare two versions of the finder code (a refactor is
behaviour-preserving when every array, landmark and part is identical), and the two measured values that
tests/test_chest_anatomy.py bounds (session 15, wt23d; docs/chest_anatomy.md "(session 15, wt23d)").

    PYTHONPATH=src nice -n 10 python bench/anatomy_snapshot.py snap OUT.npz --seed S --pids 1-5 --size 256 \
        [--lidc] [--cache DIR] [--options default before_session9 before_session14 with_seed_search]
    PYTHONPATH=src nice -n 10 python bench/anatomy_snapshot.py compare A.npz B.npz
    PYTHONPATH=src nice -n 10 python bench/anatomy_snapshot.py bounds OUT.json --seed S --pids 1-10 --size 256 \
        [--cache DIR] [--extra SEED:PID ...]

snap: every ChestAnatomy field of every scan (phantoms of cohort S at SIZE px, cached under DIR; with --lidc also
/work/shared/data/lidc-idri-0001..0003) flattened to named arrays. compare: the largest absolute difference of
every array (nan = nan), parts and flags compared exactly; prints the maximum over all.
bounds: per phantom, the two quantities the tests bound on seed 5 patient 1: how many of the deep mitral-annulus
points left of the sac's centroid the mitral rule calls (and of how many), and the share of the pericardial mask on
the phantom's abdominal labels.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from cacscore.chest.anatomy import ChestAnatomy, read_chest
from id_ranges import id_range  # noqa: E402 - bench/ is on sys.path (run as a script, or the tests put it there)

LIDC = [Path(f"/work/shared/data/lidc-idri-000{i}") for i in (1, 2, 3)]
ABDOMEN = ("liver", "abdomen", "spleen", "stomach", "aorta_abdominal")


def flatten(a: ChestAnatomy) -> dict[str, np.ndarray]:
    """Every field of the anatomy as named arrays (the aorta tube's three arrays, each part as [found, confidence]
    plus its reason in a separate string array)."""
    out: dict[str, np.ndarray] = {}
    for f in dataclasses.fields(a):
        v = getattr(a, f.name)
        if dataclasses.is_dataclass(v):
            for g in dataclasses.fields(v):
                out[f"{f.name}.{g.name}"] = np.asarray(getattr(v, g.name))
        elif isinstance(v, dict):
            for name, p in sorted(v.items()):
                out[f"{f.name}.{name}"] = np.array([float(p.found), p.confidence])
                out[f"{f.name}.{name}.reason"] = np.array(p.reason)
        elif v is None:
            out[f.name] = np.array("None")
        else:
            out[f.name] = np.asarray(v)
    return out


def _patient(pid: int, seed: int, size: int):
    from cacscore.phantom.core import make_patient

    return make_patient(pid, seed=seed, size=size, anatomy=True)


def _phantom_hu(pid: int, seed: int, size: int, cache: Path) -> tuple[np.ndarray, tuple]:
    f = cache / f"{seed}_{size}_{pid}.npz"
    if f.is_file():
        with np.load(f) as z:
            return z["hu"], tuple(float(s) for s in z["sp"])
    p = _patient(pid, seed, size)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(f, hu=p.hu, sp=np.array(p.spacing_mm, float))
    return p.hu, tuple(float(s) for s in p.spacing_mm)


def snap(args: argparse.Namespace) -> None:
    from cacscore.chest.anatomy import RootOptions

    options = {name: (RootOptions() if name == "default" else getattr(RootOptions, name)()) for name in args.options}
    inputs = [(f"phantom_{args.seed}_{args.size}_{pid}", lambda pid=pid: _phantom_hu(pid, args.seed, args.size,
                                                                                    Path(args.cache)))
              for pid in id_range(args.pids)]
    if args.lidc:
        from cacscore.io.ct import read_ct

        inputs += [(d.name, lambda d=d: (read_ct(d), None)) for d in LIDC]
    scans: dict[str, dict[str, np.ndarray]] = {}
    for name, load in inputs:
        vol, sp = load()
        for oname, opts in options.items():
            t = time.process_time()
            scans[f"{name}/{oname}"] = flatten(read_chest(vol, sp, root_options=opts))
            print(f"{name} {oname}: {time.process_time() - t:.1f} s CPU", flush=True)
    np.savez_compressed(args.out, **{f"{s}|{k}": v for s, d in scans.items() for k, v in d.items()})
    print(f"wrote {args.out}: {len(scans)} scans")


def compare(args: argparse.Namespace) -> None:
    a, b = np.load(args.a), np.load(args.b)
    if set(a.files) != set(b.files):
        print("different keys:", sorted(set(a.files) ^ set(b.files)))
        sys.exit(1)
    worst, unequal = 0.0, []
    for k in sorted(a.files):
        x, y = a[k], b[k]
        if x.shape != y.shape or x.dtype.kind != y.dtype.kind:
            unequal.append(f"{k}: shape/dtype {x.shape} {x.dtype} vs {y.shape} {y.dtype}")
            continue
        if x.dtype.kind in "fiub":
            xf, yf = x.astype(float), y.astype(float)
            if not np.array_equal(np.isnan(xf), np.isnan(yf)):
                unequal.append(f"{k}: nan pattern differs")
                continue
            ok = ~np.isnan(xf)
            d = float(np.abs(xf[ok] - yf[ok]).max()) if ok.any() else 0.0
            worst = max(worst, d)
            if d:
                unequal.append(f"{k}: max |diff| {d:g}")
        elif not np.array_equal(x, y):
            unequal.append(f"{k}: {x!r} vs {y!r}")
    scans = sorted({k.split("|")[0] for k in a.files})
    print(f"{len(scans)} scans ({', '.join(scans)}), {len(a.files)} arrays; max |diff| over all numeric arrays: "
          f"{worst:g}; unequal: {len(unequal)}")
    for u in unequal:
        print("  ", u)


def mitral_and_abdomen(p, a: ChestAnatomy) -> dict:
    """tests/test_chest_anatomy.py's two measured values on one phantom patient p and its anatomy a: the mitral rule
    on the annulus points 15 mm inside the drawn heart surface (test_mitral_annulus_rule_on_the_phantom_heart) and
    the abdominal share of the mask (test_pericardium_holds_little_of_the_abdomen)."""
    from cacscore.lesion.anatomy import ANATOMY_NAMES, RULE_NAMES, AnatomyRules, anatomy_columns, anatomy_verdicts
    from cacscore.phantom.anatomy import LABEL, heart_surface

    o = p.origin_mm
    phis = np.linspace(60, 190, 27)
    out: dict = {}
    for name, depth in (("groove", 2.5), ("deep", -15.0)):
        xyz = heart_surface(p.anatomy, np.full(len(phis), -0.45), phis, np.full(len(phis), depth))
        cols = anatomy_columns(a, np.array([[q[2] - o[2], q[1] - o[1], q[0] - o[0]] for q in xyz], float))
        fire = anatomy_verdicts(cols, AnatomyRules(mitral_annulus=True))[:, RULE_NAMES.index("mitral annulus")]
        left = cols[:, ANATOMY_NAMES.index("sac_left_mm")] > 0
        behind = cols[:, ANATOMY_NAMES.index("sac_behind_mm")]
        out[name] = {"n_left": int(left.sum()), "fire_left": int(fire[left].sum()),
                     "fire_right": int(fire[~left].sum()),
                     "behind_left_mm": [round(float(v), 1) for v in behind[left]]}
    lab = p.anatomy_labels[::a.step_z, ::a.step_xy, ::a.step_xy]
    abdomen = np.isin(lab, [LABEL[n] for n in ABDOMEN])
    out["abdomen_share"] = float((abdomen & a.pericardium).sum() / max(1, a.pericardium.sum()))
    out["parts"] = {k: [v.found, round(v.confidence, 3)] for k, v in a.parts.items()}
    return out


def bounds(args: argparse.Namespace) -> None:
    rows = {}
    todo = [(args.seed, pid) for pid in id_range(args.pids)] + [tuple(int(v) for v in e.split(":")) for e in args.extra]
    for seed, pid in todo:
        p = _patient(pid, seed, args.size)
        a = read_chest(p.hu, p.spacing_mm)
        rows[f"{seed}:{pid}"] = r = mitral_and_abdomen(p, a)
        print(f"seed {seed} #{pid}: deep left {r['deep']['fire_left']}/{r['deep']['n_left']} fire, right "
              f"{r['deep']['fire_right']}, groove {r['groove']['fire_left'] + r['groove']['fire_right']}; abdomen "
              f"{100 * r['abdomen_share']:.1f} %", flush=True)
        Path(args.out).write_text(json.dumps(rows, indent=1) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("snap")
    s.add_argument("out")
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--pids", default="1-5")
    s.add_argument("--size", type=int, default=256)
    s.add_argument("--lidc", action="store_true")
    s.add_argument("--options", nargs="+", default=["default"],
                   help="RootOptions: default and/or classmethod names (before_session14, with_seed_search, ...)")
    s.add_argument("--cache", default="/work/runs/wt23d/cache")
    c = sub.add_parser("compare")
    c.add_argument("a")
    c.add_argument("b")
    b = sub.add_parser("bounds")
    b.add_argument("out")
    b.add_argument("--seed", type=int, required=True)
    b.add_argument("--pids", default="1-10")
    b.add_argument("--size", type=int, default=256)
    b.add_argument("--extra", nargs="*", default=[])
    args = ap.parse_args()
    {"snap": snap, "compare": compare, "bounds": bounds}[args.cmd](args)


if __name__ == "__main__":
    main()
