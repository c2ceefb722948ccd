"""Hybrid cases (issue 16, item 5): synthetic plaques in the grooves of REAL chest CT, scored with a model.

    PYTHONPATH=src python bench/hybrid_cases.py [--data /work/shared/data] [--series lidc-idri-0002 ...]
        [--seeds 3] [--model DIR] [--out DIR] [--picture PNG]

For every real series: its anatomy (cacscore.chest.anatomy.read_chest), then per seed a hybrid
(cacscore.phantom.hybrid.insert_plaques: courses in the found grooves, the phantom's plaques, exact truth by
cacscore.scoring.agatston). Each hybrid is written as NIfTI (int16) to a temporary folder, read back through
cacscore.io.ct.read_ct and scored by the model's predictor (cacscore.predict.predictors.load_predictor; default: the
shipped model). The un-modified series is scored too: everything it calls coronary is native calcium (or noise)
called coronary, a false positive. On a hybrid, the AU called coronary outside the inserted plaques (their
footprints + 1 pixel) is its false positive; per-vessel errors are the whole-scan prediction against the truth.
Never trains on hybrids.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np

from cacscore.chest.anatomy import read_chest
from cacscore.core.categories import risk_category4
from cacscore.core.vessels import VESSELS
from cacscore.io.ct import label_affine, read_ct
from cacscore.phantom.hybrid import HybridCase, insert_plaques, plaque_mask
from cacscore.predict.predictors import DEFAULT_MODEL, load_predictor
from cacscore.scoring.agatston import agatston


def _au(hu: np.ndarray, labels: np.ndarray, sp) -> dict[str, float]:
    return agatston(hu, labels, pixel_spacing_mm=(sp[1], sp[2]), slice_spacing_mm=sp[0]).as_row()


def _kappa4(t, p) -> float:
    from sklearn.metrics import cohen_kappa_score

    a, b = [risk_category4(v) for v in t], [risk_category4(v) for v in p]
    if len(set(a) | set(b)) < 2:
        return float("nan")
    return float(cohen_kappa_score(a, b, weights="linear", labels=[0, 1, 2, 3]))


def _write_nifti(path: Path, hu: np.ndarray, volume) -> None:
    img = nib.Nifti1Image(np.ascontiguousarray(np.rint(hu).astype(np.int16).transpose(2, 1, 0)), label_affine(volume))
    img.header.set_xyzt_units("mm")
    nib.save(img, str(path))


def picture(cases: list[tuple[str, int, np.ndarray, tuple, HybridCase, object]], path: Path, per_case: int = 3) -> None:
    """Each row one hybrid: axial crops (80 mm) through its largest plaques, with the pericardial mask (red),
    the coronary courses near that slice (coloured dots) and the plaque footprints (yellow)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"LCA": "tab:purple", "LAD": "tab:orange", "LCX": "tab:green", "RCA": "tab:cyan"}
    fig, axes = plt.subplots(len(cases), per_case + 1, figsize=(3.2 * (per_case + 1), 3.3 * len(cases)), squeeze=False)
    for row, (name, seed, _, sp, case, anatomy) in enumerate(cases):
        sp = np.asarray(sp)
        # an overview: the axial slice through the bifurcation / base of the heart, whole chest
        kb = int(round(np.mean([c[0, 0] for c in case.courses.values()]) / sp[0]))
        ax = axes[row, 0]
        ax.imshow(case.hu[kb], cmap="gray", vmin=-250, vmax=450)
        pk = int(round(kb * sp[0] / anatomy.grid_mm[0]))
        pm = np.kron(anatomy.pericardium[min(pk, anatomy.pericardium.shape[0] - 1)],
                     np.ones((anatomy.step_xy, anatomy.step_xy)))[:case.hu.shape[1], :case.hu.shape[2]]
        ax.contour(pm, [0.5], colors="r", linewidths=0.6)
        for v, c in case.courses.items():
            ax.plot(c[:, 2] / sp[2], c[:, 1] / sp[1], ".", ms=1.5, color=colours[v])
        ax.set_title(f"{name} seed {seed}: courses (all z)", fontsize=8)
        ax.axis("off")
        sizes = [np.prod(p.semi) for p in case.plaques]
        for j, i in enumerate(np.argsort(sizes)[::-1][:per_case]):
            p = case.plaques[i]
            z, y, x = p.centre[::-1] / sp
            k, yi, xi = int(round(z)), int(round(y)), int(round(x))
            h = int(40 / sp[1])
            y0, x0 = max(0, yi - h), max(0, xi - h)
            ax = axes[row, j + 1]
            ax.imshow(case.hu[k, y0:yi + h, x0:xi + h], cmap="gray", vmin=-250, vmax=450)
            ax.contour(case.labels[k, y0:yi + h, x0:xi + h] > 0, [0.5], colors="y", linewidths=0.7)
            pk = int(round(k * sp[0] / anatomy.grid_mm[0]))
            pm = np.kron(anatomy.pericardium[min(pk, anatomy.pericardium.shape[0] - 1)],
                         np.ones((anatomy.step_xy, anatomy.step_xy)))[:case.hu.shape[1], :case.hu.shape[2]]
            ax.contour(pm[y0:yi + h, x0:xi + h], [0.5], colors="r", linewidths=0.6)
            c = case.courses[p.vessel]
            near = np.abs(c[:, 0] - p.centre[2]) < 6
            ax.plot(c[near, 2] / sp[2] - x0, c[near, 1] / sp[1] - y0, ".", ms=3, color=colours[p.vessel])
            ax.set_title(f"{p.vessel} plaque, z {p.centre[2]:.0f} mm, {p.hu:.0f} HU", fontsize=8)
            ax.axis("off")
        for j in range(len(case.plaques), per_case):
            axes[row, j + 1].axis("off")
    fig.suptitle("Hybrid cases: synthetic plaques (yellow outline) on coronary courses (dots) in the grooves of real "
                 "CT; red: found pericardial mask; 80 mm crops, W 700 / L 100", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--series", nargs="+", default=["lidc-idri-0001", "lidc-idri-0002", "lidc-idri-0003"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--out", type=Path, default=None, help="folder for the NIfTI hybrids (default: a temporary one)")
    ap.add_argument("--picture", type=Path, default=None)
    ap.add_argument("--picture-rows", type=int, default=3)
    a = ap.parse_args(argv)
    pred = load_predictor(a.model)
    tmp = tempfile.TemporaryDirectory(prefix="hybrids_") if a.out is None else None
    out = Path(tmp.name) if tmp else a.out
    out.mkdir(parents=True, exist_ok=True)
    rows, native_rows, for_picture = [], [], []
    for name in a.series:
        vol = read_ct(a.data / name)
        sp = tuple(abs(float(s)) for s in vol.spacing_mm)
        anatomy = read_chest(vol.hu, sp)
        native = pred.score(vol)
        nat = dict(zip(VESSELS, native.scores))
        native_rows.append((name, nat))
        print(f"{name}: native (un-modified) AU called coronary: " + ", ".join(f"{v} {nat[v]:.1f}" for v in VESSELS),
              flush=True)
        for seed in range(a.seeds):
            case = insert_plaques(vol.hu, sp, anatomy, seed)
            f = out / f"{name}_hybrid{seed}.nii.gz"
            _write_nifti(f, case.hu, vol)
            back = read_ct(f)
            assert np.array_equal(back.hu, case.hu), f"{f}: NIfTI round trip changed the image"
            res = pred.score(back)
            p = dict(zip(VESSELS, res.scores))
            inside = plaque_mask(case)
            fp = _au(case.hu, np.where(inside, 0, res.labels), sp)["total"]
            caught = _au(case.hu, np.where(inside, res.labels, 0), sp)["total"]
            rows.append({"series": name, "seed": seed, "truth": case.truth, "pred": p, "fp_outside": fp,
                         "plaque_au_called_coronary": caught, "n_plaques": len(case.plaques),
                         "n_dropped": len(case.dropped)})
            print(f"  seed {seed}: {len(case.plaques)} plaques ({len(case.dropped)} dropped); truth "
                  + ", ".join(f"{v} {case.truth[v]:.0f}" for v in (*VESSELS, "total"))
                  + "; predicted " + ", ".join(f"{v} {p[v]:.0f}" for v in VESSELS)
                  + f"; AU outside the plaques {fp:.1f}; plaque AU called coronary {caught:.0f}", flush=True)
            if len(for_picture) < a.picture_rows and (not for_picture or for_picture[-1][0] != name):
                for_picture.append((name, seed, vol.hu, sp, case, anatomy))
    if a.picture:
        picture(for_picture, a.picture)
        print(f"picture: {a.picture}")
    _table(rows, native_rows)
    if tmp:
        tmp.cleanup()
    return 0


def _table(rows: list[dict], native_rows: list) -> None:
    print("\n| series | hybrids | truth total AU (range) | total category agreement | total abs error AU (median) | "
          "native AU called coronary (un-modified series) | AU outside inserted plaques (mean per hybrid) |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
    for name, nat in native_rows:
        r = [x for x in rows if x["series"] == name]
        t = np.array([x["truth"]["total"] for x in r])
        p = np.array([sum(x["pred"].values()) for x in r])
        agree = np.mean([risk_category4(a) == risk_category4(b) for a, b in zip(t, p)])
        print(f"| {name} | {len(r)} | {t.min():.0f}-{t.max():.0f} | {agree:.2f} | {np.median(np.abs(p - t)):.1f} | "
              f"{sum(nat.values()):.1f} | {np.mean([x['fp_outside'] for x in r]):.1f} |")
    print("\n| vessel | mean truth AU | mean predicted AU | mean abs error AU | kappa4 (4 categories, all hybrids) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for v in (*VESSELS, "total"):
        t = np.array([x["truth"][v] for x in rows])
        p = np.array([x["pred"][v] if v != "total" else sum(x["pred"].values()) for x in rows])
        print(f"| {v} | {t.mean():.1f} | {p.mean():.1f} | {np.abs(p - t).mean():.1f} | {_kappa4(t, p):.2f} |")
    t = np.array([x["truth"]["total"] for x in rows])
    p = np.array([sum(x["pred"].values()) for x in rows])
    agree = np.mean([risk_category4(a) == risk_category4(b) for a, b in zip(t, p)])
    print(f"\nall {len(rows)} hybrids: total category agreement {agree:.2f}; inserted-plaque AU called coronary "
          f"{sum(x['plaque_au_called_coronary'] for x in rows):.0f} of {t.sum():.0f} AU of truth")


if __name__ == "__main__":
    raise SystemExit(main())
