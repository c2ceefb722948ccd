"""The largest per-vessel errors on held-out phantom patients, what kind of mistake makes the ratio, and the PDA
(issue 16).

    PYTHONPATH=src python bench/largest_errors.py scan RELEASE OUT --seed SEED --model NAME=DIR ... [--ids 1-60]
    PYTHONPATH=src python bench/largest_errors.py report OUT [--n 5] [--rule branch_vote|no_tree]
    PYTHONPATH=src python bench/largest_errors.py pictures OUT RELEASE --model NAME=DIR ... [--n 5] --pictures DIR
    PYTHONPATH=src python bench/largest_errors.py pda OUT ... [--plaques PLAQUES.csv ...] [--probe-model DIR ...]
    PYTHONPATH=src python bench/largest_errors.py unlabelled SCAN ... --model NAME=DIR ...
    PYTHONPATH=src python bench/largest_errors.py merge NEW OLD OUT

scan: every patient's candidates found once and classified by each model (bench/hybrid_cases.classify_many: what
classify_volume gives each model alone), written per candidate to OUT/candidates.csv (those within 120 mm of the
heart reference, or carrying a coronary label, or called coronary by any model): Agatston (the moving image the
scorer sees), centroid voxel, position in the scorer's frame (dz / dy / dx mm from the found heart reference: the
features), its 3-D structure, the reference class (``candidate_targets``: the majority coronary label), the voxels of
each coronary label, the phantom's kind when it is not coronary (``hybrid_training.lookalike_kinds``: MAC, aortic,
...), the segment of the coronary it lies on (from the release's draws, ``phantom.core._draws(pid, seed)``: nearest
centreline point of its own vessel; the RCA past the crux is the PDA), the anatomy rules that fire, and per model the
class, whether any rule let it through (``may_be_coronary``) and the MLP's five probabilities. OUT/pred_NAME.csv are
the per-vessel predictions (``score_assignment``, as ``cacscore predict`` scores). Seed: the release's; the script
checks that the drawn plaque centres fall on their vessel's labels (a wrong seed fails there).

report: per model, the (patient, vessel) errors ranked by their share of the four-vessel normalised MSE (``cacscore
evaluate``'s all4: error / the vessel's largest reference score over the patients, squared, averaged; the ratio is
the constant-mean predictor's over the model's), each with the candidates the AU went to; then the squared error
split by kind of mistake. Each cell's error e = predicted - reference is the exact sum of:
  - wrong artery T->W: a candidate whose reference is coronary T called coronary W (+AU in W, -AU in T);
  - look-alike K called W: a candidate with no coronary majority called W (+AU in W), K the phantom's kind;
  - missed T (why): a coronary candidate called non-coronary (-AU in T), by a rule (reach, z range, chest wall,
    an anatomy rule) or by the MLP;
  - motion: the phantom's moving-image truth minus its static truth (the reference is the static image);
  - label split: the candidates of reference T, summed, minus the moving-image truth (a candidate holding two
    arteries' voxels, labelled calcium in no candidate).
A kind's share of the squared error is sum(e x its part) / sum(e^2) over the cells (the shares add to 1; a kind
that offsets another can be negative), and "ratio without it" removes that part from every cell.
--rule no_tree (exploratory, not pre-registered): the MLP and the rules only, no vote, guard or join.
--rule branch_vote: the pre-registered rule of docs/lesion_scorer.md (the vote, left-main guard and join over the
structure's branches, cut where it forks: ``branches``), applied offline to the stored MLP probabilities (checked
against the product's classes, and against LesionModel.classify with the branches, stored by scan as clsbr_<model>);
its predictions go to OUT/pred_<model>_branch_vote.csv for ``cacscore evaluate``.

pda: the lower RCA and the PDA: per scanned phantom release and model, and per hybrid plaques.csv
(bench/hybrid_cases.py), the AU found right / other artery / non-coronary, the position in the scorer's frame and the
tissue around; --probe-model: the phantom's PDA candidates with feature groups set to the hybrids' PDA median
and to the phantom's right-AV-groove RCA median, called by each model.

hybrids-branch ARGS: bench/hybrid_cases.py ARGS with the branch rule (the structures replaced by their branches).

merge NEW OLD OUT: a rescan of some patients (NEW) with the other patients of OLD, which must have no coronary call.

unlabelled: per-vessel AU of scans without a reference (the LIDC series) by each model, with and without the rule.

pictures: the largest wrong candidate of each of the n largest errors per model, scored again: the slice with a wide
view (the found heart reference projected as a cross), the model's calls (fill), and the reference (coronary labels
and the phantom's calcium kinds), DIR/<model>_<rank>_<patient>_<vessel>.png.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hybrid_cases import _models, classify_many
from hybrid_training import lookalike_kinds
from id_ranges import id_range

from cacscore import lesion as L
from cacscore.core.vessels import VESSELS
from cacscore.io.ct import read_ct, read_labels
from cacscore.lesion.anatomy import ANATOMY_NAMES, RULE_NAMES, anatomy_verdicts
from cacscore.lesion.candidates import assign_labels, score_assignment
from cacscore.lesion.classifier import load_model
from cacscore.lesion.report import NON_CORONARY_COLOUR, VESSEL_COLOURS
from cacscore.phantom.anatomy import chest_grid
from cacscore.phantom.core import _draws

NAMES = ("non-coronary", *VESSELS)
V = list(VESSELS)
KEEP_MM = 120.0  # candidates kept: within this of the heart reference (the models' reach is 110 mm)
F = {n: i for i, n in enumerate(L.FEATURE_NAMES)}


# ------------------------------------------------------------------ scan
def parse_ids(spec: str | None, release: Path) -> list[str]:
    ids = sorted(pd.read_csv(release / "truth.csv", dtype={"id": str})["id"], key=int)
    if not spec:
        return ids
    want = {str(i) for i in id_range(spec)}
    return [i for i in ids if i in want]


def segments(pid: int, seed: int, shape: tuple[int, ...], labels: np.ndarray) -> tuple[dict, np.ndarray, np.ndarray]:
    """The release's draws of one patient: its centrelines (x, y, z mm) and, to map voxels to those mm, the grid's
    voxel centres. Checks that the plaque centres lie on their vessel's labels (the seed is the release's)."""
    d, _ = _draws(pid, seed, shape[1])
    g = chest_grid(d.anat, shape[1])
    zc = (g.z_edges_mm[:-1] + g.z_edges_mm[1:]) / 2
    if len(zc) != shape[0]:
        raise SystemExit(f"patient {pid}: the draws of seed {seed} give {len(zc)} slices, the scan has {shape[0]}")
    hit = [labels[np.argmin(abs(zc - p.centre[2])), np.argmin(abs(g.y_mm - p.centre[1])),
                  np.argmin(abs(g.x_mm - p.centre[0]))] == 1 + VESSELS.index(p.vessel) for p in d.plaques]
    if hit and np.mean(hit) < 0.5:
        raise SystemExit(f"patient {pid}: {np.mean(hit):.0%} of the drawn plaque centres lie on their labels: "
                         f"is {seed} the release's seed?")
    return d.vessels, zc, np.stack([g.y_mm, g.x_mm])


def segment_of(vessel: str, xyz: np.ndarray, vessels: dict) -> tuple[str, float, float]:
    """(segment name, fraction of the vessel's length, mm above the crux) of a point on ``vessel``: the RCA past
    its crux is the PDA, the RCA within 15 mm of the crux's height its inferior end, the others in thirds."""
    v = vessels[vessel]
    i = int(np.argmin(np.linalg.norm(v.points - xyz, axis=1)))
    arc = v.arc_mm()
    frac = float(arc[i] / max(arc[-1], 1e-6))
    crux = vessels["RCA"].crux if vessels["RCA"].crux >= 0 else vessels["LCX"].crux
    crux_pts = vessels["RCA"].points if vessels["RCA"].crux >= 0 else vessels["LCX"].points
    above = float(xyz[2] - crux_pts[crux][2]) if crux >= 0 else np.nan
    if vessel == "RCA" and v.crux >= 0 and i > v.crux:
        return "RCA past the crux (PDA)", frac, above
    if vessel == "RCA" and above <= 15:
        return "RCA inferior, <= 15 mm above the crux", frac, above
    if vessel == "RCA":
        return "RCA right AV groove", frac, above
    return f"{vessel} {'proximal' if frac < 1 / 3 else 'middle' if frac < 2 / 3 else 'distal'} third", frac, above


def candidate_links(ids: np.ndarray) -> np.ndarray:
    """(e, 2) the pairs (a, b) of candidates (1-based ids) where a voxel of a in slice k touches (26-connected) a
    voxel of b in slice k + 1: the edges of Candidates.structure's graph (candidates._structure3d finds the same
    pairs; written again here because that one keeps no pair list)."""
    z, y, x = np.nonzero(ids[:-1] > 0)
    a_all = ids[z, y, x]
    pairs = []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            yy, xx = y + dy, x + dx
            ok = (yy >= 0) & (yy < ids.shape[1]) & (xx >= 0) & (xx < ids.shape[2])
            b = ids[z[ok] + 1, yy[ok], xx[ok]]
            hit = b > 0
            pairs.append(np.stack([a_all[ok][hit], b[hit]], 1))
    return np.unique(np.concatenate(pairs), axis=0) if pairs else np.zeros((0, 2), np.int64)


def branches(ids: np.ndarray, n: int) -> np.ndarray:
    """(n,) the branch of each candidate: a 3-D structure cut where it forks. Two candidates of neighbouring slices
    stay linked only when each is the other's one touching candidate in that direction (a touches only b above it,
    b touches only a below it); the branches are the connected components of the links kept. A structure that is
    one chain of slices (one candidate per slice) is one branch; one that holds two candidates in a slice, joined
    through another slice (a plaque across the left main's bifurcation into both the LAD and the LCX), is cut
    there into its arms."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    e = candidate_links(ids)
    up = np.bincount(e[:, 0], minlength=n + 1)  # partners above each candidate
    down = np.bincount(e[:, 1], minlength=n + 1)  # partners below
    keep = e[(up[e[:, 0]] == 1) & (down[e[:, 1]] == 1)]
    _, comp = connected_components(coo_matrix((np.ones(len(keep), np.int8), (keep[:, 0], keep[:, 1])),
                                              shape=(n + 1, n + 1)), directed=False)
    return comp[1:].astype(np.int64)


def scan_patient(release: Path, pid: str, seed: int, models: dict[str, L.LesionModel], names: dict[int, str]
                 ) -> tuple[pd.DataFrame, dict[str, dict]]:
    vol = read_ct(release / "deidentified_nongated" / pid / pid)
    sp = tuple(abs(float(s)) for s in vol.spacing_mm)
    cand, classes = classify_many(vol.hu, sp, models)
    preds = {}
    for k, c in classes.items():
        s = score_assignment(vol.hu, cand, c, labels=assign_labels(cand.ids, c))
        preds[k] = {"id": pid, **{v: s[v] for v in VESSELS}, "total": sum(s[v] for v in VESSELS)}
    if not cand.n:
        return pd.DataFrame(), preds
    labels = read_labels(release / "labels" / f"{pid}.nii.gz")
    anatomy = read_labels(release / "anatomy" / f"{pid}.nii.gz")
    n = cand.n
    sel = cand.ids > 0
    flat = cand.ids[sel].astype(np.int64) - 1
    zz, yy, xx = np.nonzero(sel)
    cnt = np.bincount(flat, minlength=n)
    cen = np.stack([np.bincount(flat, w, minlength=n) / cnt for w in (zz, yy, xx)], 1)
    lab = np.bincount(flat * 5 + labels[sel], minlength=n * 5).reshape(n, 5)
    f = cand.features
    br = branches(cand.ids, n)
    keep = (f[:, F["dist_mm"]] <= KEEP_MM) | (lab[:, 1:].sum(1) > 0) | np.logical_or.reduce(
        [c > 0 for c in classes.values()])
    idx = np.flatnonzero(keep)
    target = L.candidate_targets(cand.ids, labels)
    kind = lookalike_kinds(cand.ids, anatomy, names)
    vessels, zc, yx = segments(int(pid), seed, cand.ids.shape, labels)
    cols = cand.anatomy_columns if cand.anatomy_columns is not None else np.full((n, len(ANATOMY_NAMES)), np.nan)
    verd = anatomy_verdicts(cols)
    rows = pd.DataFrame({"id": pid, "c": idx + 1, "au": np.asarray(cand.agatston, float)[idx], "n_vox": cnt[idx],
                         "k": cen[idx, 0], "j": cen[idx, 1], "i": cen[idx, 2],
                         "structure": (cand.structure[idx] if cand.structure is not None else -1),
                         "branch": br[idx],
                         "target": target[idx], **{f"lab_{v}": lab[idx, 1 + q] for q, v in enumerate(VESSELS)},
                         "kind": kind[idx], "outside_thorax_mm": (cand.outside_thorax_mm[idx]
                                                                  if cand.outside_thorax_mm is not None else np.nan),
                         "rules": [";".join(r for r, on in zip(RULE_NAMES, verd[j]) if on) for j in idx],
                         "heart_k": cand.heart_index[0], "heart_j": cand.heart_index[1], "heart_i": cand.heart_index[2]})
    seg = []
    for j in idx:
        labs = lab[j, 1:]
        if labs.sum() == 0:
            seg.append(("", np.nan, np.nan))
            continue
        v = VESSELS[int(np.argmax(labs))]
        z = np.interp(cen[j, 0], np.arange(len(zc)), zc)
        y = np.interp(cen[j, 1], np.arange(yx.shape[1]), yx[0])
        x = np.interp(cen[j, 2], np.arange(yx.shape[1]), yx[1])
        seg.append(segment_of(v, np.array([x, y, z]), vessels))
    rows["segment"], rows["seg_frac"], rows["above_crux_mm"] = zip(*seg)
    for name in L.FEATURE_NAMES:
        rows[f"f_{name}"] = f[idx, F[name]]
    for q, name in enumerate(ANATOMY_NAMES):
        rows[f"a_{name}"] = cols[idx, q]
    for k, m in models.items():
        table = m.table(f, cand.anatomy_columns)
        rows[f"cls_{k}"] = classes[k][idx]
        rows[f"clsbr_{k}"] = m.classify(f, cand.outside_thorax_mm, cand.anatomy_columns, br, cand.agatston)[idx]
        rows[f"may_{k}"] = m.may_be_coronary(f, cand.outside_thorax_mm, cand.anatomy_columns)[idx]
        rows[f"reach_{k}"] = m.reachable(table)[idx]
        sub = np.zeros((n, 1), bool)
        sub[idx] = True
        p = m.predict_proba(table, where=sub[:, 0])  # the MLP alone, rules ignored (reach only)
        for q in range(L.N_CLASSES):
            rows[f"p{q}_{k}"] = p[idx, q]
    return rows, preds


def scan(release: Path, out: Path, seed: int, model_dirs: dict[str, Path], ids: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    models = {k: load_model(p) for k, p in model_dirs.items()}
    names = {int(k): v for k, v in json.loads((release / "anatomy" / "labels.json").read_text()).items()}
    rows, preds = [], {k: [] for k in models}
    for pid in ids:
        r, p = scan_patient(release, pid, seed, models, names)
        rows.append(r)
        for k in models:
            preds[k].append(p[k])
        print(f"patient {pid}: {len(r)} candidates kept; " + "; ".join(f"{k} {p[k]['total']:.0f}" for k in models),
              flush=True)
    pd.concat(rows, ignore_index=True).to_csv(out / "candidates.csv", index=False)
    for k in models:
        pd.DataFrame(preds[k]).to_csv(out / f"pred_{k}.csv", index=False)
    t = pd.read_csv(release / "truth.csv", dtype={"id": str})
    t[t["id"].isin(ids)].to_csv(out / "truth.csv", index=False)
    (out / "scan.json").write_text(json.dumps({"release": str(release), "seed": seed,
                                               "models": {k: str(p) for k, p in model_dirs.items()}}, indent=1) + "\n")


def merge(new: Path, old: Path, out: Path) -> None:
    """OUT = scan NEW (some patients) + scan OLD's other patients, which must have no coronary call under any model
    (then no vote, guard or join can change them, so the branch rule leaves them as they are: their branch is
    their structure). For a rescan of only the patients the rule can touch."""
    cn, co = (pd.read_csv(d / "candidates.csv", dtype={"id": str}, low_memory=False) for d in (new, old))
    models = json.loads((old / "scan.json").read_text())["models"]
    rest = co[~co.id.isin(set(cn.id))].copy()
    called = rest[[f"cls_{m}" for m in models]].to_numpy().any(axis=1)
    if called.any():
        raise SystemExit(f"{old}: patients {sorted(set(rest.id[called]))} have coronary calls: scan them again")
    rest["branch"] = rest["structure"]
    for m in models:
        rest[f"clsbr_{m}"] = rest[f"cls_{m}"]
    out.mkdir(parents=True, exist_ok=True)
    pd.concat([cn, rest[cn.columns]], ignore_index=True).to_csv(out / "candidates.csv", index=False)
    for m in models:
        pn, po = (pd.read_csv(d / f"pred_{m}.csv", dtype={"id": str}).set_index("id") for d in (new, old))
        if not np.allclose(pn.to_numpy(), po.loc[pn.index].to_numpy()):
            raise SystemExit(f"{m}: the rescan's predictions differ from {old}'s")
        po.reset_index().to_csv(out / f"pred_{m}.csv", index=False)
    for f in ("truth.csv", "scan.json"):
        (out / f).write_text((old / f).read_text())


# ------------------------------------------------------------------ the decomposition
def missed_reason(r, m: str) -> str:
    if not r[f"reach_{m}"]:
        return "reach / z range"
    if not r[f"may_{m}"]:
        return f"rule: {r['rules']}" if isinstance(r["rules"], str) and r["rules"] else "rule: chest wall"
    return "MLP"


def parts(cand: pd.DataFrame, truth: pd.DataFrame, pred: pd.DataFrame, m: str, cls: str | None = None
          ) -> pd.DataFrame:
    """Per (patient, vessel, kind): the kind's part of the cell's error (AU; sums exactly to predicted - reference
    up to the check below). cls: the class column to read (default cls_<m>)."""
    cls = cls or f"cls_{m}"
    out = []
    for r in cand.itertuples(index=False):
        t, w, a = int(r.target), int(getattr(r, cls)), float(r.au)
        if t == w:
            continue
        if t and w:
            k = f"wrong artery {VESSELS[t - 1]}->{VESSELS[w - 1]}"
            out += [(r.id, VESSELS[w - 1], k, a, r.c), (r.id, VESSELS[t - 1], k, -a, r.c)]
        elif w:
            out.append((r.id, VESSELS[w - 1], f"look-alike {r.kind} called coronary", a, r.c))
        else:
            out.append((r.id, VESSELS[t - 1], f"missed {VESSELS[t - 1]} ({missed_reason(r._asdict(), m)})", -a, r.c))
    df = pd.DataFrame(out, columns=["id", "vessel", "kind", "au", "c"])
    matched = {(i, VESSELS[t - 1]): a for (i, t), a in cand[cand.target > 0].groupby(["id", "target"])["au"].sum().items()}
    t = truth.set_index("id")
    p = pred.set_index("id")
    extra = []
    for i in t.index:
        for v in VESSELS:
            mov, sta = float(t.loc[i, f"moving_{v}"]), float(t.loc[i, v])
            extra += [(i, v, "motion (moving-image truth - static truth)", mov - sta, 0),
                      (i, v, "label split (candidates of the vessel - moving truth)", matched.get((i, v), 0.0) - mov, 0)]
            if cls == f"cls_{m}":  # the stored calls: the parts must add up to the product's prediction
                got = df[(df.id == i) & (df.vessel == v)].au.sum() + matched.get((i, v), 0.0) - sta
                want = float(p.loc[i, v]) - sta
                if abs(got - want) > 0.01 + 1e-3 * abs(want):
                    raise SystemExit(f"{m} patient {i} {v}: parts add to {got:.2f} AU, the prediction's error is "
                                     f"{want:.2f}")
    return pd.concat([df, pd.DataFrame(extra, columns=df.columns)], ignore_index=True)


def coarse(kind: str) -> str:
    for key in ("wrong artery", "look-alike", "missed", "motion", "label split"):
        if kind.startswith(key):
            return key
    return kind


def shares(pt: pd.DataFrame, truth: pd.DataFrame, scale: pd.Series, by) -> pd.DataFrame:
    """Per kind: its share of the squared normalised error, and the ratio with that part removed."""
    pt = pt.assign(group=pt["kind"].map(by), z=pt["au"] / pt["vessel"].map(scale))
    cell = pt.groupby(["id", "vessel"])["z"].sum()
    base = baseline_mse(truth, scale)
    n_cells = len(truth) * len(VESSELS)
    e2 = float((cell ** 2).sum())
    rows = []
    for g, q in pt.groupby("group"):
        part = q.groupby(["id", "vessel"])["z"].sum().reindex(cell.index, fill_value=0.0)
        # a wrong-artery candidate is two parts (+AU in W, -AU in T): its AU counts once
        moved = q["au"].sum() if g.startswith(("motion", "label")) else q[q.c > 0].drop_duplicates(["id", "c"])["au"].abs().sum()
        rows.append({"kind": g, "au_moved": moved, "share": float((cell * part).sum() / e2),
                     "ratio_without": base / (float(((cell - part) ** 2).sum()) / n_cells)})
    return pd.DataFrame(rows).sort_values("share", ascending=False)


def baseline_mse(truth: pd.DataFrame, scale: pd.Series) -> float:
    z = truth[V] / scale[V]
    return float(((z - z.mean()) ** 2).to_numpy().mean())


def ratio(truth: pd.DataFrame, pred: pd.DataFrame, scale: pd.Series) -> float:
    t = truth.set_index("id")[V]
    p = pred.set_index("id").loc[t.index, VESSELS]
    return baseline_mse(truth, scale) / float((((p - t) / scale[V]) ** 2).to_numpy().mean())


def load(out: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame], pd.Series]:
    text = {"id": str, "rules": str, "segment": str, "kind": str}
    cand = pd.read_csv(out / "candidates.csv", dtype=text, low_memory=False)
    cand[["rules", "segment", "kind"]] = cand[["rules", "segment", "kind"]].fillna("")  # "": no rule / segment
    truth = pd.read_csv(out / "truth.csv", dtype={"id": str})
    models = json.loads((out / "scan.json").read_text())["models"]
    preds = {m: pd.read_csv(out / f"pred_{m}.csv", dtype={"id": str}) for m in models}
    scale = truth[V].max().clip(lower=1.0)  # cacscore evaluate's normalise_by: the reference's per-vessel max
    return cand, truth, preds, scale


def pos(r) -> str:
    return f"dz {r.f_dz_mm:+.0f} / dy {r.f_dy_mm:+.0f} / dx {r.f_dx_mm:+.0f} mm"


def what(r, m: str, cls: str | None = None) -> str:
    w = int(getattr(r, cls or f"cls_{m}"))
    true = VESSELS[r.target - 1] if r.target else f"{r.kind} (no coronary label)"
    seg = f", {r.segment}" if r.segment else ""
    mixed = [f"{v} {int(getattr(r, f'lab_{v}'))}" for v in VESSELS if getattr(r, f"lab_{v}") > 0]
    mix = f", voxels {'/'.join(mixed)}" if len(mixed) > 1 else ""
    why = f" ({missed_reason(r._asdict(), m)})" if w == 0 and r.target else ""
    return (f"c{r.c} {r.au:.0f} AU true {true}{seg}{mix} -> called {NAMES[w]}{why}, p(LAD/LCX) "
            f"{getattr(r, f'p2_{m}'):.2f}/{getattr(r, f'p3_{m}'):.2f}, {pos(r)}, structure {r.structure}")


def largest(truth: pd.DataFrame, pred: pd.DataFrame, scale: pd.Series, n: int) -> list[tuple]:
    t = truth.set_index("id")[V]
    p = pred.set_index("id").loc[t.index, VESSELS]
    sq = (((p - t) / scale[V]) ** 2).stack()
    tot = float(sq.sum())
    return [(i, v, float(t.loc[i, v]), float(p.loc[i, v]), float(x / tot)) for (i, v), x in
            sq.sort_values(ascending=False).head(n).items()]


def wrong_in(cand: pd.DataFrame, pid: str, vessel: str, m: str, cls: str | None = None) -> pd.DataFrame:
    """The candidates whose AU went wrong in this cell: called this vessel but not its, or its but called not."""
    cls = cls or f"cls_{m}"
    vk = 1 + VESSELS.index(vessel)
    c = cand[cand.id == pid]
    bad = c[((c.target == vk) | (c[cls] == vk)) & (c.target != c[cls])]
    return bad.sort_values("au", ascending=False)


def report(out: Path, n: int, rule: str | None) -> None:
    cand, truth, preds, scale = load(out)
    if rule:
        cand, preds = apply_rule(cand, preds, rule)
        for m, pr in preds.items():  # for cacscore evaluate (kappa4 and its intervals)
            pr.to_csv(out / f"pred_{m}_{rule}.csv", index=False)
    base = baseline_mse(truth, scale)
    print(f"patients {len(truth)}; scale (reference max) " + ", ".join(f"{v} {scale[v]:.0f}" for v in VESSELS)
          + f"; constant-mean normalised MSE {base:.5f}\n")
    for m, pred in preds.items():
        pt = parts(cand, truth, pred, m)
        print(f"## {m}: ratio {ratio(truth, pred, scale):.2f}\n")
        print("| rank | patient | vessel | true AU | predicted AU | share of the MSE | where the AU went (largest 3) |")
        print("| ---: | ---: | --- | ---: | ---: | ---: | --- |")
        for rank, (i, v, t, p, s) in enumerate(largest(truth, pred, scale, n), 1):
            bad = wrong_in(cand, i, v, m)
            rest = pt[(pt.id == i) & (pt.vessel == v) & pt.kind.str.startswith(("motion", "label"))]
            txt = "; ".join(what(r, m) for r in bad.head(3).itertuples()) or "no candidate wrong"
            txt += "; " + ", ".join(f"{k.split(' (')[0]} {a:+.0f}" for k, a in zip(rest.kind, rest.au) if abs(a) >= 1)
            print(f"| {rank} | {i} | {v} | {t:.0f} | {p:.0f} | {s:.2f} | {txt.rstrip('; ')} |")
        print()
        for by, title in ((coarse, "coarse"), (lambda k: k, "fine")):
            sh = shares(pt, truth, scale, by)
            if title == "fine":
                sh = sh[(sh["share"].abs() >= 0.005) | (sh["au_moved"] >= 100)]
            print(f"Squared error by kind ({title}; AU moved: summed |AU| of the candidates):\n")
            print("| kind | AU moved | share of the squared error | ratio without it |")
            print("| --- | ---: | ---: | ---: |")
            for r in sh.itertuples():
                print(f"| {r.kind} | {r.au_moved:.0f} | {r.share:.3f} | {r.ratio_without:.2f} |")
            print()
        ceiling = pred.copy().set_index("id")
        t = truth.set_index("id")
        for v in VESSELS:  # every candidate given its reference class: what remains is motion + label split
            ceiling[v] = [cand[(cand.id == i) & (cand.target == 1 + VESSELS.index(v))].au.sum() for i in ceiling.index]
        print(f"Ceiling (every candidate its reference class): ratio {ratio(truth, ceiling.reset_index(), scale):.2f};"
              f" with the moving-image truth as reference: {ceiling_moving(t, ceiling, scale):.2f}\n")
    pda(cand, list(preds))
    if not rule:
        stages(cand, list(preds))


def stages(cand: pd.DataFrame, models: list[str]) -> None:
    """Where in the product's steps each kind of AU appears: the MLP alone (rules applied), then the structure vote,
    the left-main guard and the join (offline from the stored probabilities, as product_classes)."""
    steps = ("mlp", "vote", "guard", "join")
    print("AU by kind after each step of the product (MLP + rules, structure vote, left-main guard, join)\n")
    print("| model | kind | " + " | ".join(steps) + " |")
    print("| --- | --- |" + " ---: |" * len(steps))
    for m in models:
        cl = {st: np.zeros(len(cand), np.int64) for st in steps}
        for _, g in cand.groupby("id"):
            for st in steps:
                cl[st][cand.index.get_indexer(g.index)] = product_classes(g, m, "structure", stage=st)
        t, au = cand.target.to_numpy(), cand.au.to_numpy()
        kinds = {f"{VESSELS[a - 1]}->{VESSELS[b - 1]}": (a, b) for a in range(1, 5) for b in range(1, 5) if a != b}
        kinds |= {"look-alike called coronary": (0, -1), "coronary called non-coronary": (-1, 0)}
        for name, (a, b) in kinds.items():  # -1: any coronary vessel
            true = (t > 0) if a < 0 else (t == a)
            row = [au[true & ((cl[st] > 0) if b < 0 else (cl[st] == b))].sum() for st in steps]
            if max(row) >= 50:
                print(f"| {m} | {name} | " + " | ".join(f"{x:.0f}" for x in row) + " |")
    print()


def ceiling_moving(t: pd.DataFrame, ceiling: pd.DataFrame, scale: pd.Series) -> float:
    mov = t[[f"moving_{v}" for v in VESSELS]].set_axis(VESSELS, axis=1).reset_index()
    return ratio(mov, ceiling.reset_index(), scale)


def pda(cand: pd.DataFrame, models: list[str]) -> None:
    """The coronary candidates by segment: AU, where each model put it, and the position in the scorer's frame."""
    c = cand[cand.target > 0]
    c = c[c.segment != ""]
    print("Coronary candidates by segment: AU; per model AU right / other artery / non-coronary (why: MLP, rule)\n")
    print("| segment | candidates (patients) | AU | dz / dy / dx median mm | " + " | ".join(models) + " |")
    print("| --- | ---: | ---: | --- |" + " --- |" * len(models))
    for s, g in c.groupby("segment"):
        cells = []
        for m in models:
            cl = g[f"cls_{m}"]
            right, nc = g.au[cl == g.target].sum(), g.au[cl == 0].sum()
            mlp = g.au[(cl == 0) & g[f"may_{m}"].astype(bool)].sum()
            cells.append(f"{right:.0f} / {g.au.sum() - right - nc:.0f} / {nc:.0f} (MLP {mlp:.0f}, rule {nc - mlp:.0f})")
        med = g[["f_dz_mm", "f_dy_mm", "f_dx_mm"]].median()
        print(f"| {s} | {len(g)} ({g.id.nunique()}) | {g.au.sum():.0f} | {med.f_dz_mm:+.0f} / {med.f_dy_mm:+.0f} / "
              f"{med.f_dx_mm:+.0f} | " + " | ".join(cells) + " |")
    print()


# ------------------------------------------------------------------ the pre-registered rule (offline)
def product_classes(g: pd.DataFrame, m: str, group: str, stage: str = "join") -> np.ndarray:
    """One patient's classes as LesionModel.classify makes them, from the stored MLP probabilities and rules: the
    MLP where a rule lets a candidate through, then the vote, the left-main guard and the join over ``group``
    ("structure": the product; "branch": the pre-registered branch rule). stage: stop after "mlp", "vote", "guard"
    or "join". Exact for the stored candidates: every candidate a rule lets through lies within 110 mm, all kept."""
    from cacscore.lesion.tree import guard_left_main, join_structure, vote_by_structure

    p = g[[f"p{q}_{m}" for q in range(L.N_CLASSES)]].to_numpy(np.float64, copy=True)
    may = g[f"may_{m}"].astype(bool).to_numpy()
    p[~may] = np.eye(L.N_CLASSES)[0]  # predict_proba(where=may): the others read non-coronary
    s, au = g[group].to_numpy(), g["au"].to_numpy()
    cl = np.argmax(p, axis=1)
    if stage == "mlp":
        return cl
    voted = vote_by_structure(cl, p, s)
    if stage == "vote":
        return voted
    voted = guard_left_main(cl, voted, p, s, au)
    return voted if stage == "guard" else join_structure(voted, p, s, may)


def apply_rule(cand: pd.DataFrame, preds: dict[str, pd.DataFrame], rule: str
               ) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The stored candidates classified again with ``rule`` (offline), and the per-vessel predictions they give
    (the sum of the AU called each vessel: what score_assignment gives, parts() checks it on the stored calls)."""
    if rule not in ("branch_vote", "no_tree"):
        raise SystemExit(f"unknown rule {rule!r} (known: branch_vote, no_tree)")
    cand = cand.copy()
    out = {}
    for m, pred in preds.items():
        new = cand[f"cls_{m}"].copy()
        for _, g in cand.groupby("id"):
            if (product_classes(g, m, "structure") != g[f"cls_{m}"].to_numpy()).any():
                raise SystemExit(f"{m} patient {g.id.iloc[0]}: the stored classes are not reproduced offline")
            new.loc[g.index] = (product_classes(g, m, "branch") if rule == "branch_vote"
                                else product_classes(g, m, "structure", stage="mlp"))
            if rule == "branch_vote" and f"clsbr_{m}" in g and (new.loc[g.index] != g[f"clsbr_{m}"]).any():
                raise SystemExit(f"{m} patient {g.id.iloc[0]}: the offline branch rule differs from classify's")
        cand[f"cls_{m}"] = new
        p = pred.set_index("id").copy()
        for q, v in enumerate(VESSELS, 1):
            p[v] = cand[cand[f"cls_{m}"] == q].groupby("id")["au"].sum().reindex(p.index, fill_value=0.0)
        p["total"] = p[V].sum(axis=1)
        out[m] = p.reset_index()
    return cand, out


def unlabelled(scans: list[Path], model_dirs: dict[str, Path]) -> None:
    """Scans without a reference (the LIDC series): per model, the per-vessel AU as the product scores them and with
    the branch rule (LesionModel.classify with the branches in place of the structures)."""
    models = {k: load_model(p) for k, p in model_dirs.items()}
    print("| scan | model | LCA / LAD / LCX / RCA (product) | with branch_vote |")
    print("| --- | --- | --- | --- |")
    for path in scans:
        vol = read_ct(path)
        sp = tuple(abs(float(s)) for s in vol.spacing_mm)
        cand, classes = classify_many(vol.hu, sp, models)
        br = branches(cand.ids, cand.n) if cand.n else np.zeros(0, np.int64)
        for k, m in models.items():
            alt = m.classify(cand.features, cand.outside_thorax_mm, cand.anatomy_columns, br, cand.agatston)
            a, b = (score_assignment(vol.hu, cand, c) for c in (classes[k], alt))
            print(f"| {path.name} | {k} | " + " / ".join(f"{a[v]:.1f}" for v in VESSELS) + " | "
                  + " / ".join(f"{b[v]:.1f}" for v in VESSELS) + " |", flush=True)


def hybrids_branch(argv: list[str]) -> int:
    """bench/hybrid_cases.py with the branch rule: every candidate search returns its branches in place of its
    structures (Candidates.structure, which the vote, guard and join read; the features are computed before, from
    the structures, and do not change). For the rule's effect on the hybrids (real CT), every model given."""
    import dataclasses

    import hybrid_cases

    from cacscore.lesion import classifier

    found = classifier.anatomical_candidates

    def with_branches(*args, **kwargs):
        cand = found(*args, **kwargs)
        return dataclasses.replace(cand, structure=branches(cand.ids, cand.n)) if cand.n else cand

    classifier.anatomical_candidates = with_branches  # classify_volume and classify_many look it up at call time
    return hybrid_cases.main(argv)


# ------------------------------------------------------------------ the PDA: phantom vs hybrids
PROBE = {"position": ("dz_mm", "dy_mm", "dx_mm"), "fat / soft / air 8 mm": ("fat_8mm", "soft_8mm", "air_8mm"),
         "tissue 8 + 24 mm": ("fat_8mm", "soft_8mm", "bright_8mm", "air_8mm", "fat_24mm", "bright_24mm", "air_24mm")}
"""Feature groups the PDA probe sets to the hybrids' PDA median (the columns bench/hybrid_cases.py's plaques.csv
keeps; r_inplane, dist, cos and sin follow dy / dx)."""


def hybrid_pda(plaques: list[Path]) -> pd.DataFrame:
    """The inserted-plaque candidates of bench/hybrid_cases.py plaques.csv tables with their course segment
    (hybrid_training.segment, the crux from docs/hybrid_landmarks.json: the cut of docs/lesion_scorer.md's
    segment tables)."""
    from hybrid_training import LANDMARKS, crux_arcs, segment

    # the model named with its run's folder: one model scored in two runs (the scorer changed between) stays apart
    pl = pd.concat([pd.read_csv(q).assign(model=lambda d, q=q: d.model + f" ({q.parent.name})") for q in plaques],
                   ignore_index=True)
    crux = crux_arcs(Path("/work/shared/data"), sorted(pl.series.unique()), LANDMARKS)
    return pl.assign(segment=[segment(r, crux) for r in pl.itertuples()])


def pda_report(outs: list[Path], plaques: list[Path], probe_models: list[str]) -> None:
    """Lower RCA and PDA candidates: on phantom releases (scan OUTs: where each model puts them, their position in
    the scorer's frame and fat) and on hybrids (plaques.csv), side by side; then the probe: the phantom's PDA
    candidates with groups of features set to the hybrids' PDA median and to the phantom's right-AV-groove RCA
    median, as each of ``probe_models`` calls them."""
    segs = ("RCA past the crux (PDA)", "RCA inferior, <= 15 mm above the crux")
    cols = ["f_dz_mm", "f_dy_mm", "f_dx_mm", "f_fat_8mm", "f_soft_8mm", "f_air_8mm"]
    print("| source | segment | model | candidates (patients / hybrids) | AU | right vessel | other artery | "
          "non-coronary | dz / dy / dx median mm | fat / soft / air 8 mm median | p(RCA) median |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |")
    phantom = []
    for o in outs:
        cand, *_ = load(o)
        models = json.loads((o / "scan.json").read_text())["models"]
        phantom.append(cand[cand.target == 4].assign(release=o.name))
        for sg in segs:
            g = cand[(cand.segment == sg) & (cand.target == 4)]
            for m in models:
                cl = g[f"cls_{m}"]
                q = g[cols].median()
                print(f"| phantom {o.name} | {sg} | {m} | {len(g)} ({g.id.nunique()}) | {g.au.sum():.0f} | "
                      f"{g.au[cl == 4].sum():.0f} | {g.au[(cl > 0) & (cl != 4)].sum():.0f} | {g.au[cl == 0].sum():.0f} "
                      f"| {q.f_dz_mm:+.0f} / {q.f_dy_mm:+.0f} / {q.f_dx_mm:+.0f} | {q.f_fat_8mm:.2f} / "
                      f"{q.f_soft_8mm:.2f} / {q.f_air_8mm:.2f} | {g[f'p4_{m}'].median():.2f} |")
    hyb = hybrid_pda(plaques) if plaques else pd.DataFrame()
    for (sg, m, ser), g in (hyb[hyb.segment.isin(segs)].groupby(["segment", "model", "series"]) if len(hyb) else []):
        cl = g["class"]
        print(f"| hybrid {ser[-4:]} | {sg} | {m} | {len(g)} ({g.seed.nunique()}) | {g.au.sum():.0f} | "
              f"{g.au[cl == 'RCA'].sum():.0f} | {g.au[(cl != 'RCA') & (cl != 'non-coronary')].sum():.0f} | "
              f"{g.au[cl == 'non-coronary'].sum():.0f} | {g.dz_mm.median():+.0f} / {g.dy_mm.median():+.0f} / "
              f"{g.dx_mm.median():+.0f} | {g.fat_8mm.median():.2f} / {g.soft_8mm.median():.2f} / "
              f"{g.air_8mm.median():.2f} | {g.p_RCA.median():.2f} |")
    print()
    for pm in probe_models if phantom else []:
        for h in ([hyb] if len(hyb) else []) + [None]:
            probe(pd.concat(phantom), h, pm)


def probe(phantom: pd.DataFrame, hyb: pd.DataFrame | None, model_dir: str) -> None:
    """The phantom's PDA candidates (every release scanned) called by one model as they are, then with each
    feature group set to a median (the MLP alone, rules as stored: a candidate no rule let through stays
    non-coronary): the hybrids' PDA candidates' (hyb given), else the phantom's own RCA candidates of the right AV
    groove (where every model finds the RCA: which group keeps the PDA from being called RCA)."""
    m = load_model(Path(model_dir))
    ph = phantom[phantom.segment == "RCA past the crux (PDA)"]
    cols = list(dict.fromkeys(c for g in PROBE.values() for c in g))
    if hyb is not None:
        target = hyb[hyb.segment == "RCA past the crux (PDA)"].drop_duplicates(["series", "seed", "z_mm", "y_mm", "x_mm"])
        med, what = target[cols].median(), f"{len(target)} hybrid PDA candidates (all series)"
    else:
        target = phantom[phantom.segment == "RCA right AV groove"]
        med = target[[f"f_{c}" for c in cols]].median().set_axis(cols)
        what = f"the phantom's {len(target)} right-AV-groove RCA candidates"
    may = ph[next(c for c in ph.columns if c.startswith("may_"))].astype(bool).to_numpy()
    print(f"Probe ({model_dir}): the phantom's {len(ph)} PDA candidates ({ph.au.sum():.0f} AU) with feature groups "
          f"set to the median of {what}\n")
    print("| set to that median | AU called RCA | other artery | non-coronary |")
    print("| --- | ---: | ---: | ---: |")
    for name, group in (("nothing", ()), *PROBE.items(), ("position + tissue 8 + 24 mm",
                                                          PROBE["position"] + PROBE["tissue 8 + 24 mm"])):
        f = ph[[f"f_{n}" for n in L.FEATURE_NAMES]].to_numpy(np.float32, copy=True)
        for c in group:
            f[:, F[c]] = med[c]
        if "dy_mm" in group:  # the in-plane angle and distances follow the moved position
            dz, dy, dx = f[:, F["dz_mm"]], f[:, F["dy_mm"]], f[:, F["dx_mm"]]
            r = np.hypot(dy, dx)
            f[:, F["r_inplane_mm"]], f[:, F["dist_mm"]] = r, np.sqrt(r ** 2 + dz ** 2)
            f[:, F["cos_inplane"]], f[:, F["sin_inplane"]] = dx / np.maximum(r, 1e-9), dy / np.maximum(r, 1e-9)
        cl = np.argmax(m.predict_proba(m.table(f, None), where=may), axis=1)
        au = ph.au.to_numpy()
        other = ", ".join(f"{VESSELS[q - 1]} {au[cl == q].sum():.0f}" for q in (1, 2, 3) if au[cl == q].sum() > 0)
        print(f"| {name} | {au[cl == 4].sum():.0f} | {au[(cl > 0) & (cl != 4)].sum():.0f} {other} | "
              f"{au[cl == 0].sum():.0f} |")
    print()


# ------------------------------------------------------------------ pictures
CMAP = ListedColormap([NON_CORONARY_COLOUR, *VESSEL_COLOURS.values()])
KIND_COLOURS = {"MAC": "#a65628", "aortic": "#f781bf", "aortic valve": "#999999"}


def picture(out_png: Path, hu: np.ndarray, sp, cand, classes: np.ndarray, labels: np.ndarray, kinds: np.ndarray,
            j: int, title: str) -> None:
    """Three views of the slice through candidate j (0-based): wide (120 mm) with the found heart reference's
    in-plane position (+; its slice offset in the legend), the model's calls, the reference."""
    vox = np.argwhere(cand.ids == j + 1)
    k, cy, cx = (round(v) for v in vox.mean(0))
    ids = cand.ids[k]
    called = np.where(ids > 0, np.concatenate([[0], classes])[ids], -1)
    ref = np.where((hu[k] >= cand.threshold_hu) & (labels[k] > 0), labels[k].astype(np.int16), -1)  # uint8 cannot hold -1
    kind_k = np.concatenate([[""], kinds])[ids]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.8))
    hk, hj, hi = cand.heart_index
    for ax, half_mm, over, name in ((axes[0], 60, None, "wide: + = the found heart reference"),
                                    (axes[1], 25, called, "the model's calls"),
                                    (axes[2], 25, ref, "reference: coronary labels; look-alike kinds")):
        h = round(half_mm / sp[1])
        y0, x0 = max(0, cy - h), max(0, cx - h)
        win = (slice(y0, y0 + 2 * h), slice(x0, x0 + 2 * h))
        ax.imshow(hu[k][win], cmap="gray", vmin=-160, vmax=440)
        if over is not None:
            o = over[win]
            ax.imshow(np.ma.masked_less(o, 0), cmap=CMAP, vmin=-0.5, vmax=4.5, alpha=0.7, interpolation="nearest")
        if over is ref:
            for kn, col in KIND_COLOURS.items():
                msk = (kind_k[win] == kn) & (ref[win] < 0)
                if msk.any():
                    ax.contourf(msk, levels=[0.5, 1.5], colors=[col], alpha=0.8)
        ax.contour(ids[win] == j + 1, levels=[0.5], colors="white", linewidths=1.0)
        if over is None and y0 <= hj < y0 + 2 * h and x0 <= hi < x0 + 2 * h:
            ax.plot(hi - x0, hj - y0, "+", color="yellow", ms=14, mew=2)
        ax.set_title(name, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title + f"\nslice {k} (heart reference slice {hk}); white outline: the candidate. Colours: "
                 + ", ".join(f"{v} {c}" for v, c in VESSEL_COLOURS.items()) + f", non-coronary {NON_CORONARY_COLOUR}, "
                 + ", ".join(f"{kn} {c}" for kn, c in KIND_COLOURS.items()), fontsize=8)
    fig.tight_layout()
    fig.savefig(out_png, dpi=80)
    plt.close(fig)


def pictures(out: Path, release: Path, model_dirs: dict[str, Path], n: int, dest: Path) -> None:
    cand, truth, preds, scale = load(out)
    models = {k: load_model(p) for k, p in model_dirs.items()}
    names = {int(k): v for k, v in json.loads((release / "anatomy" / "labels.json").read_text()).items()}
    dest.mkdir(parents=True, exist_ok=True)
    want: dict[str, list] = {}
    for m in models:
        shown: set[tuple[str, int]] = set()  # an error of the same candidate in two vessels: show the next one
        for rank, (i, v, t, p, _) in enumerate(largest(truth, preds[m], scale, n), 1):
            bad = [r for _, r in wrong_in(cand, i, v, m).iterrows() if (i, int(r.c)) not in shown]
            if bad:
                shown.add((i, int(bad[0].c)))
                want.setdefault(i, []).append((m, rank, v, t, p, bad[0]))
    for i, jobs in want.items():
        vol = read_ct(release / "deidentified_nongated" / i / i)
        sp = tuple(abs(float(s)) for s in vol.spacing_mm)
        cd, classes = classify_many(vol.hu, sp, models)
        labels = read_labels(release / "labels" / f"{i}.nii.gz")
        kinds = lookalike_kinds(cd.ids, read_labels(release / "anatomy" / f"{i}.nii.gz"), names)
        for m, rank, v, t, p, r in jobs:
            if int(classes[m][int(r.c) - 1]) != int(r[f"cls_{m}"]):
                raise SystemExit(f"patient {i}: candidate {r.c} scored again differs from candidates.csv")
            png = dest / f"{m}_{rank}_{i}_{v}.png"
            true = VESSELS[int(r.target) - 1] if r.target else f"{r.kind} (no coronary label)"
            picture(png, vol.hu, sp, cd, classes[m], labels, kinds, int(r.c) - 1,
                    f"{m} #{rank}: patient {i} {v} true {t:.0f} AU, predicted {p:.0f}. Candidate {r.c}: {r.au:.0f} AU, "
                    f"true {true} {r.segment}, called {NAMES[int(r[f'cls_{m}'])]}; "
                    f"dz {r.f_dz_mm:+.0f} dy {r.f_dy_mm:+.0f} dx {r.f_dx_mm:+.0f} mm")
            print(png, flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("scan")
    s.add_argument("release", type=Path)
    s.add_argument("out", type=Path)
    s.add_argument("--seed", type=int, required=True, help="the release's phantom seed (for the segments)")
    s.add_argument("--model", nargs="+", required=True, help="NAME=DIR")
    s.add_argument("--ids", default=None, help="e.g. 1-60 or 3,7,10-12 (default: all of truth.csv)")
    r = sub.add_parser("report")
    r.add_argument("out", type=Path)
    r.add_argument("--n", type=int, default=5)
    r.add_argument("--rule", default=None, help="apply a pre-registered rule offline (docs/lesion_scorer.md)")
    p = sub.add_parser("pictures")
    p.add_argument("out", type=Path)
    p.add_argument("release", type=Path)
    p.add_argument("--model", nargs="+", required=True, help="NAME=DIR (as scanned)")
    p.add_argument("--n", type=int, default=5)
    p.add_argument("--pictures", type=Path, required=True)
    q = sub.add_parser("pda")
    q.add_argument("outs", type=Path, nargs="+", help="scan OUT folders (phantom releases)")
    q.add_argument("--plaques", type=Path, nargs="*", default=[], help="bench/hybrid_cases.py plaques.csv tables")
    q.add_argument("--probe-model", nargs="*", default=[], help="model DIRs for the feature probe of the phantom's PDA")
    g = sub.add_parser("merge")
    g.add_argument("new", type=Path)
    g.add_argument("old", type=Path)
    g.add_argument("out", type=Path)
    u = sub.add_parser("unlabelled")
    u.add_argument("scans", type=Path, nargs="+")
    u.add_argument("--model", nargs="+", required=True, help="NAME=DIR")
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "hybrids-branch":  # the rest is hybrid_cases.py's
        return hybrids_branch(sys.argv[2:])
    a = ap.parse_args(argv)
    if a.cmd == "scan":
        scan(a.release, a.out, a.seed, _models(a.model), parse_ids(a.ids, a.release))
    elif a.cmd == "merge":
        merge(a.new, a.old, a.out)
    elif a.cmd == "unlabelled":
        unlabelled(a.scans, _models(a.model))
    elif a.cmd == "pda":
        pda_report(a.outs, a.plaques, a.probe_model)
    elif a.cmd == "report":
        report(a.out, a.n, a.rule)
    else:
        pictures(a.out, a.release, _models(a.model), a.n, a.pictures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
