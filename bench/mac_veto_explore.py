"""Why the structure veto misses mitral annulus calcium (MAC): every candidate of the structures a model calls coronary,
stage by stage (session 17, wt25a).

    PYTHONPATH=src nice -n 10 python bench/mac_veto_explore.py RELEASE OUT --ids 3 [--model DIR]

For each patient of a phantom release: the candidates (one lesion in one axial slice) as ``classify_volume`` finds
them, and the classes after each step of ``LesionModel.classify`` (MLP, vote, guard, join, veto, final). Every
candidate of a 3-D structure that holds a coronary call at any step, or lies on the MAC label, is written to
OUT/<pid>.csv with its AU, MLP probabilities, ``may`` (no rule decided it), the fraction of its voxels within 2 mm
in-plane of the phantom's MAC label (``mac_frac``), the majority true vessel under it, and its feature / anatomy
columns. OUT/summary.csv: per structure, members, AU, MAC share, and the veto's two sums.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).parent))
from id_ranges import id_range  # noqa: E402

from cacscore import lesion as L  # noqa: E402
from cacscore.io.ct import read_ct, read_labels  # noqa: E402
from cacscore.lesion import tree  # noqa: E402
from cacscore.lesion.anatomy import ANATOMY_NAMES  # noqa: E402
from cacscore.lesion.candidates import FEATURE_NAMES  # noqa: E402
from cacscore.lesion.noise import image_noise_hu  # noqa: E402
from cacscore.phantom.anatomy import LABEL  # noqa: E402


def stages(m, cand, hu: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The classes after each step of LesionModel.classify (same calls, kept apart). ``hu``: the volume, needed
    when the model has the ring veto's HU test or the noise floor (the shipped model since sessions 19-20: without
    it ``classify`` raises, or the final classes skip the floor). "noring": the final classes with the ring veto off
    (what it acts on); "ring_hu": the classifier's own ring_soft_hu column (nan where not computed)."""
    c = m.config
    noise = image_noise_hu(hu, cand.spacing_mm) if (hu is not None and c.needs_noise) else None
    ring_hu = L.classifier.ring_hu_column(hu, cand, m) if hu is not None else None
    table = m.table(cand.features, cand.anatomy_columns)
    may = m.may_be_coronary(table, cand.outside_thorax_mm, cand.anatomy_columns)
    proba = m.predict_proba(table, where=may)
    mlp = np.argmax(proba, axis=1).astype(np.int64)
    au = m._agatston(table, cand.agatston)
    s = cand.structure
    voted = tree.vote_by_structure(mlp, proba, s, au if c.vote_weight == "agatston" else None)
    guarded = tree.guard_left_main(mlp, voted, proba, s, au) if c.structure_left_main else voted
    joined = tree.join_structure(guarded, proba, s, may) if c.structure_join else guarded
    vetoed = tree.veto_structure(joined, proba, s, au) if c.structure_veto else joined
    final = m.classify(cand.features, cand.outside_thorax_mm, cand.anatomy_columns, s, cand.agatston,
                       noise_sd=noise, ring_hu=ring_hu)
    # every ring-veto key off (the veto and each term that needs it), so that a term added later is off here too
    ring_off = {f.name: None for f in dataclasses.fields(c) if f.name.startswith("structure_ring_veto")}
    m0 = dataclasses.replace(m, config=dataclasses.replace(c, **ring_off))
    noring = m0.classify(cand.features, cand.outside_thorax_mm, cand.anatomy_columns, s, cand.agatston,
                         noise_sd=noise)
    return {"proba": proba, "may": may, "au": au, "mlp": mlp, "vote": guarded, "join": joined, "veto": vetoed,
            "noring": noring, "final": final,
            "ring_hu": np.full(len(mlp), np.nan) if ring_hu is None else np.asarray(ring_hu, np.float64)}


def patient(release: Path, pid: str, m) -> pd.DataFrame:
    from cacscore.lesion.train import NONGATED_DIR

    vol = read_ct(release / NONGATED_DIR / pid / pid)
    sp = tuple(abs(float(v)) for v in vol.spacing_mm)
    cand, classes = L.classify_volume(vol.hu, sp, m)
    st = stages(m, cand, vol.hu)
    assert np.array_equal(st["final"], classes)
    coronary = read_labels(release / "labels" / f"{pid}.nii.gz")
    anatomy = read_labels(release / "anatomy" / f"{pid}.nii.gz")
    r = max(1, int(round(2.0 / sp[1])))
    yy, xx = np.ogrid[-r:r + 1, -r:r + 1]
    ball = np.zeros((1, 2 * r + 1, 2 * r + 1), bool)
    ball[0] = yy ** 2 + xx ** 2 <= r * r
    mac = ndimage.binary_dilation(anatomy == LABEL["mitral_annulus_calcium"], structure=ball)
    ids = cand.ids
    n = cand.n
    sel = ids > 0
    cnt = np.bincount(ids[sel], minlength=n + 1)[1:]
    mac_frac = np.bincount(ids[sel & mac], minlength=n + 1)[1:] / np.maximum(cnt, 1)
    vess = np.zeros((n, 5))
    np.add.at(vess, (ids[sel] - 1, coronary[sel].astype(np.int64)), 1)
    true_v = np.where(vess[:, 1:].sum(1) * 2 > cnt, 1 + vess[:, 1:].argmax(1), 0)
    zc = np.asarray(ndimage.center_of_mass(sel, ids, np.arange(1, n + 1)))[:, 0] if n else np.zeros(0)
    s = cand.structure
    any_cor = np.zeros(n, bool)
    for k in ("mlp", "vote", "join", "veto", "noring", "final"):
        any_cor |= st[k] > 0
    keep_s = np.unique(s[any_cor | (mac_frac > 0) | (true_v > 0)])
    keep = np.flatnonzero(np.isin(s, keep_s))
    df = pd.DataFrame({"pid": pid, "cand": keep + 1, "structure": s[keep], "z": zc[keep].round(1),
                       "au": st["au"][keep], "may": st["may"][keep], "mac_frac": mac_frac[keep],
                       "true_v": true_v[keep]})
    for j in range(5):
        df[f"p{j}"] = st["proba"][keep, j]
    for k in ("mlp", "vote", "join", "veto", "noring", "final"):
        df[k] = st[k][keep]
    df["ring_hu"] = st["ring_hu"][keep]
    for j, name in enumerate(FEATURE_NAMES):
        df[name] = cand.features[keep, j]
    if cand.anatomy_columns is not None:
        for j, name in enumerate(ANATOMY_NAMES):
            df["a_" + name] = cand.anatomy_columns[keep, j]
    df["dz_slice_mm"] = sp[0]
    return df


def summary(df: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (pid, s), g in df.groupby(["pid", "structure"]):
        w = g["au"].to_numpy()
        p0 = np.where(g["may"], g["p0"], 1.0)
        rows.append({"pid": pid, "structure": s, "members": len(g), "au": w.sum(),
                     "au_mac": w[g["mac_frac"] > 0.25].sum(), "au_true_cor": w[g["true_v"] > 0].sum(),
                     "au_called_mlp": w[g["mlp"] > 0].sum(), "au_called_final": w[g["final"] > 0].sum(),
                     "veto_non": (w * p0).sum(), "veto_cor": (w * (1 - p0)).sum(),
                     "z": f"{g['z'].min():.0f}-{g['z'].max():.0f}", "n_may": int(g["may"].sum())})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    from cacscore.predict.predictors import DEFAULT_MODEL

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("release", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--ids", required=True)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--picture", type=int, help="draw this structure of the (one) patient --ids names instead")
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    m = L.load_model(a.model)
    if a.picture is not None:
        print(picture(a.release, str(a.ids), m, a.picture, a.out))
        return 0
    frames = []
    for pid in map(str, id_range(a.ids)):
        if not (a.release / "labels" / f"{pid}.nii.gz").exists():
            continue
        df = patient(a.release, pid, m)
        df.to_csv(a.out / f"{pid}.csv", index=False)
        frames.append(df)
        print(pid, len(df), flush=True)
    sm = summary(pd.concat(frames))
    sm.to_csv(a.out / "summary.csv", index=False)
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(sm[(sm.au_called_final > 0) | (sm.au_mac > 0)].round(1).to_string(index=False))
    return 0


def picture(release: Path, pid: str, m, structure: int, out: Path, half_mm: float = 30.0) -> Path:
    """Axial crops (HU -200..400) at up to 6 slices of one structure: candidate outlines by final class (red LCA,
    blue LAD, green LCX, orange RCA, grey non-coronary), the phantom's MAC label (magenta) and coronary labels
    (cyan) as contours; each panel titled with its slices' AU, MLP p0 and ring_soft."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cacscore.lesion.train import NONGATED_DIR

    vol = read_ct(release / NONGATED_DIR / pid / pid)
    sp = tuple(abs(float(v)) for v in vol.spacing_mm)
    cand, classes = L.classify_volume(vol.hu, sp, m)
    st = stages(m, cand, vol.hu)
    coronary = read_labels(release / "labels" / f"{pid}.nii.gz")
    anatomy = read_labels(release / "anatomy" / f"{pid}.nii.gz")
    mac = anatomy == LABEL["mitral_annulus_calcium"]
    members = np.flatnonzero(cand.structure == structure)
    mask = np.isin(cand.ids, members + 1)
    zs = np.unique(np.nonzero(mask)[0])
    pick = zs[np.linspace(0, len(zs) - 1, min(6, len(zs))).round().astype(int)]
    _, yy, xx = np.nonzero(mask)
    cy, cx = int(yy.mean()), int(xx.mean())
    h = int(half_mm / sp[1])
    ys, xs = slice(max(cy - h, 0), cy + h), slice(max(cx - h, 0), cx + h)
    colors = {0: "0.6", 1: "red", 2: "blue", 3: "lime", 4: "orange"}
    ring = FEATURE_NAMES.index("ring_soft")
    fig, axes = plt.subplots(1, len(pick), figsize=(3.2 * len(pick), 3.6))
    for ax, z in zip(np.atleast_1d(axes), pick):
        ax.imshow(vol.hu[z, ys, xs], cmap="gray", vmin=-200, vmax=400)
        ids = cand.ids[z, ys, xs]
        on = np.intersect1d(np.unique(ids), members + 1)
        for k in on:
            ax.contour(ids == k, levels=[0.5], colors=[colors[int(classes[k - 1])]], linewidths=1.2)
        if mac[z, ys, xs].any():
            ax.contour(mac[z, ys, xs], levels=[0.5], colors=["magenta"], linewidths=0.8, linestyles="dashed")
        if (coronary[z, ys, xs] > 0).any():
            ax.contour(coronary[z, ys, xs] > 0, levels=[0.5], colors=["cyan"], linewidths=0.8, linestyles="dotted")
        txt = "; ".join(f"{st['au'][k - 1]:.0f}AU p0 {st['proba'][k - 1, 0]:.2f} rs {cand.features[k - 1, ring]:.2f}"
                        for k in on if st["au"][k - 1] >= 1)
        ax.set_title(f"z {z}\n{txt}", fontsize=6)
        ax.axis("off")
    fig.suptitle(f"patient {pid}, structure {structure}: final class outline (green LCX, orange RCA, blue LAD, "
                 f"grey non-cor); MAC label magenta dashed; coronary label cyan dotted; {2 * half_mm:.0f} mm crops",
                 fontsize=7)
    fig.tight_layout()
    path = out / f"structure_{pid}_{structure}.png"
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


if __name__ == "__main__":
    raise SystemExit(main())
