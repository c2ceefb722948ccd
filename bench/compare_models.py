"""Compare two or more candidate-scorer models on the SAME data, with one command (issue 16, session 9).

    PYTHONPATH=src nice -n 10 /work/main/.venv/bin/python bench/compare_models.py shipped v4=/work/runs/wt17b/dm_v4/model \
        [--cache /work/runs/wt17b/compare_cache] [--out OUT] [--workers 2] [--boot 1000]
        [--heldout-seed 9101 --heldout-patients 60 --size 512] [--lookalike-seed 23 --lookalike-first 151
        --lookalike-patients 100] [--lidc-data /work/shared/data --lidc-series lidc-idri-0001 ...]
        [--hybrid-seeds 0] [--parts heldout lookalikes lidc]

Models are NAME=DIR ("shipped" alone: the default model, src/cacscore/predict/default_model); the first is the
baseline every ratio is taken against. Parts:

(a) heldout: a phantom release never used in training (``cacscore phantom`` at the current phantom code; default
    seed 9101, 60 patients, 512 px), scored by each model with ``cacscore predict`` and measured as ``cacscore
    evaluate`` does (cacscore.evaluation.evaluate.evaluate_arrays: the four-vessel normalised MSE against the
    constant-mean baseline as a ratio, kappa4 per vessel and of the total, 95% bootstrap intervals over scans),
    plus a PAIRED bootstrap of each model's difference to the baseline model (the same resampled scans for both).
(b) lookalikes: phantom patients WITH the non-coronary look-alike calcium (default seed 23, patients 151-250, the
    rows of ``bench/lesion_lookalikes.py OUT --model DIR``), each rendered ONCE and scored by every model the way
    ``cacscore predict`` scores a scan (lesion.classify_volume); per kind (costal cartilage, aortic wall, abdominal,
    aortic valve, mitral annulus, ...) the candidates and AU called coronary, and the true coronary AU found.
(c) lidc: the real series (LIDC-IDRI-0001..0003; no calcium reference) scored per vessel by ``cacscore predict
    --report`` (pictures in OUT/lidc/<model>/).
(d) with --hybrid-seeds N: ``bench/hybrid_cases.py --seeds N`` with the same models (its own tables).

Everything is cached under --cache: the held-out release (generated once), and each model's results keyed by a
hash of the model's files AND of the cacscore source tree (so a code change, e.g. a new aortic root finder,
rescores instead of reusing stale results). Writes OUT/summary.json and prints markdown tables.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from cacscore.core.categories import risk_category4
from cacscore.core.fileio import atomic_path, atomic_write_text
from cacscore.core.vessels import VESSELS
from cacscore.evaluation.evaluate import evaluate_arrays, join, read_predictions, read_truth
from cacscore.evaluation.metrics import weighted_kappa
from cacscore.predict.predictors import DEFAULT_MODEL

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "cacscore"
LIDC_SERIES = ("lidc-idri-0001", "lidc-idri-0002", "lidc-idri-0003")


# ------------------------------------------------------------------ models and cache keys
def parse_models(specs: list[str]) -> dict[str, Path]:
    """NAME=DIR (or "shipped", or a bare DIR named by its folder) -> {name: folder}, in order."""
    out: dict[str, Path] = {}
    for s in specs:
        name, _, path = s.rpartition("=")
        if not name and path == "shipped":
            name, path = "shipped", str(DEFAULT_MODEL)
        p = Path(path).resolve()
        if not (p / "model.json").is_file():
            raise SystemExit(f"compare_models: {p}: not a model folder (no model.json)")
        name = name or p.name
        if name in out:
            raise SystemExit(f"compare_models: model name {name!r} given twice")
        out[name] = p
    if len(out) < 2:  # one model fills the cache (e.g. the baseline's results while another model trains)
        print("compare_models: one model: its results are measured and cached, nothing is compared", flush=True)
    return out


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def code_key() -> str:
    """Hash of every .py file of the cacscore package (what scores and renders)."""
    return _digest(sorted(SRC.rglob("*.py")))


def phantom_key() -> str:
    """Hash of the phantom's code (cacscore.phantom): a cached release drawn by other phantom code is stale."""
    return _digest(sorted((SRC / "phantom").rglob("*.py")))


def model_key(path: Path, code: str) -> str:
    """Cache key of a model's results: its files and the code that runs it."""
    return f"{_digest([path / 'model.json', path / 'model.safetensors'])}_{code}"


def cacscore(*args: object) -> list[str]:
    return [sys.executable, "-m", "cacscore.cli", *(str(a) for a in args)]


def run(cmd: list[str], log: Path) -> float:
    """Run one command (stdout + stderr into log); fail loudly; its wall seconds."""
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        r = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT)
    if r.returncode not in (0, 1):  # predict exits 1 when some scan failed: read on, the table says which
        raise SystemExit(f"compare_models: {' '.join(cmd[2:])} failed (exit {r.returncode}); see {log}")
    return time.perf_counter() - t0


# ------------------------------------------------------------------ (a) held-out release
def kappa4(t: np.ndarray, p: np.ndarray) -> float:
    """Linear-weighted kappa of the four risk categories (nan when only one category occurs)."""
    if len(np.unique(np.concatenate([risk_category4(t), risk_category4(p)]))) < 2:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(weighted_kappa(t, p))


def heldout_metrics(t: np.ndarray, p: np.ndarray, base: np.ndarray, nb: np.ndarray) -> dict[str, float]:
    """The ratio (constant-mean MSE / model MSE of the per-vessel AU divided by ``nb``, over the four vessels, as
    ``cacscore evaluate``'s all4 mse_norm), kappa4 of the total, of each vessel and their mean."""
    mse = float(np.mean(((p - t) / nb) ** 2))
    const = float(np.mean(((base - t) / nb) ** 2))
    out = {"ratio_all4": const / mse if mse > 0 else float("inf"), "mse_norm_all4": mse,
           "kappa4_total": kappa4(t.sum(1), p.sum(1)),
           "category4_total_agreement": float(np.mean(risk_category4(t.sum(1)) == risk_category4(p.sum(1))))}
    k = [kappa4(t[:, j], p[:, j]) for j in range(4)]
    out.update({f"kappa4_{v}": k[j] for j, v in enumerate(VESSELS)})
    out["kappa4_vessel_mean"] = float(np.nanmean(k)) if np.isfinite(k).any() else float("nan")
    return out


def paired_bootstrap(t: np.ndarray, preds: dict[str, np.ndarray], n_boot: int, seed: int = 0) -> dict:
    """Percentile 95% intervals of each model's metrics and of each model's difference to the first, on the same
    resampled scans; the baseline and the normaliser stay those of the whole set (as evaluate's)."""
    base = np.broadcast_to(t.mean(0), t.shape)
    nb = np.where(t.max(0) > 0, t.max(0), 1.0)
    names = list(preds)
    rng = np.random.default_rng(seed)
    draws: dict[str, list[dict]] = {m: [] for m in names}
    for _ in range(n_boot):
        ix = rng.integers(0, len(t), len(t))
        for m in names:
            draws[m].append(heldout_metrics(t[ix], preds[m][ix], base[ix], nb))
    ci = lambda d: {k: [float(np.nanpercentile(d[k], 2.5)), float(np.nanpercentile(d[k], 97.5))]  # noqa: E731
                    for k in d.columns}
    out = {m: ci(pd.DataFrame(draws[m])) for m in names}
    d0 = pd.DataFrame(draws[names[0]])
    for m in names[1:]:
        diff = pd.DataFrame(draws[m]) - d0
        out[f"{m} - {names[0]}"] = ci(diff) | {
            f"{k}_p_le_0": float(np.mean(diff[k].dropna() <= 0)) for k in ("ratio_all4", "kappa4_total")}
    return out


def heldout(a: argparse.Namespace, models: dict[str, Path], keys: dict[str, str], out: Path) -> dict:
    rel = a.cache / f"heldout_{a.heldout_seed}_{a.size}_{a.heldout_patients}"
    wall: dict[str, float] = {}
    if not (rel / "truth.csv").is_file():
        print(f"[heldout] generating {rel}", flush=True)
        wall["phantom"] = run(cacscore("phantom", rel, "--patients", a.heldout_patients, "--seed", a.heldout_seed,
                                       "--size", a.size, "--workers", a.workers, "--overwrite"),
                              a.cache / f"{rel.name}.log")
        atomic_write_text(rel / "phantom_code_key.txt", phantom_key() + "\n")
    stamp = rel / "phantom_code_key.txt"
    if not stamp.is_file() or stamp.read_text().strip() != phantom_key():
        print(f"[heldout] WARNING: {rel} was drawn by other phantom code than this tree's (delete it to draw it "
              f"again)", flush=True)
    truth_df = read_truth(rel / "truth.csv")
    ids = sorted(truth_df["id"], key=int)
    preds: dict[str, np.ndarray] = {}
    for name, path in models.items():
        csv = a.cache / keys[name] / f"{rel.name}_pred.csv"
        csv.parent.mkdir(parents=True, exist_ok=True)
        if not csv.is_file():
            print(f"[heldout] cacscore predict {len(ids)} scans --model {name}", flush=True)
            wall[f"predict {name}"] = run(cacscore("predict", *[rel / "deidentified_nongated" / i / i for i in ids],
                                                   "--model", path, "--out", csv, "--workers", a.workers),
                                          csv.with_suffix(".log"))
        j = join(read_predictions(csv), truth_df)
        if j.only_truth:
            raise SystemExit(f"compare_models: {csv}: no prediction for {len(j.only_truth)} scan(s) "
                             f"({', '.join(j.only_truth[:5])}); see {csv.with_suffix('.log')}")
        order = np.argsort([ids.index(i) for i in j.ids])
        preds[name], t = j.y_pred[order], j.y_true[order]
    nb = np.where(t.max(0) > 0, t.max(0), 1.0)
    base = np.broadcast_to(t.mean(0), t.shape)
    res = {"release": str(rel), "n": len(t), "wall_s": wall,
           "truth_category4_counts": np.bincount(risk_category4(t.sum(1)), minlength=4).tolist(),
           "models": {m: heldout_metrics(t, p, base, nb) for m, p in preds.items()},
           "bootstrap": paired_bootstrap(t, preds, a.boot)}
    for m, p in preds.items():  # the same numbers as `cacscore evaluate` (a check that this bench measures as it does)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            tab = evaluate_arrays(t, p, n_boot=0)
        row = tab[(tab.vessel == "all4") & (tab.metric == "mse_norm")].iloc[0]
        assert np.isclose(row["baseline"] / row["value"], res["models"][m]["ratio_all4"]), m
    per = pd.DataFrame({"id": [ids[i] for i in range(len(t))], **{f"truth_{v}": t[:, k] for k, v in enumerate(VESSELS)},
                        **{f"{m}_{v}": p[:, k] for m, p in preds.items() for k, v in enumerate(VESSELS)}})
    per.to_csv(out / "heldout_per_scan.csv", index=False)
    return res


# ------------------------------------------------------------------ (b) look-alike phantoms
def _lookalike_job(job: tuple) -> list[str]:
    """Render one look-alike patient once; classify it with every model whose cached result is missing."""
    pid, seed, size, todo = job
    if not todo:
        return []
    import lesion_lookalikes as LA  # sibling bench script (bench/ is on sys.path)

    from cacscore import lesion as L
    from cacscore.phantom import make_patient

    p = make_patient(pid, seed=seed, size=size, anatomy=True)
    done = []
    for model_path, cache in todo:
        cand, classes = L.classify_volume(p.hu, p.spacing_mm, L.load_model(Path(model_path)))
        targets = L.candidate_targets(cand.ids, p.labels)
        kind = np.where(targets > 0, -1, LA._label_kinds(p, cand.ids)) if cand.n else np.zeros(0, np.int64)
        with atomic_path(Path(cache), suffix=".npz") as tmp:
            np.savez(tmp, pred=classes, targets=targets, kind=kind, agatston=cand.agatston.astype(np.float32),
                     truth=np.array([p.truth[v] for v in VESSELS]))
        done.append(cache)
    return done


def lookalikes(a: argparse.Namespace, models: dict[str, Path], keys: dict[str, str]) -> dict:
    import lesion_lookalikes as LA

    pids = list(range(a.lookalike_first, a.lookalike_first + a.lookalike_patients))
    cache = {m: a.cache / keys[m] / f"lookalike_{a.lookalike_seed}_{a.size}" for m in models}
    for d in cache.values():
        d.mkdir(parents=True, exist_ok=True)
    jobs = [(pid, a.lookalike_seed, a.size, [(str(models[m]), str(cache[m] / f"{pid}.npz")) for m in models
                                             if not (cache[m] / f"{pid}.npz").is_file()]) for pid in pids]
    n_todo = sum(bool(j[3]) for j in jobs)
    t0 = time.perf_counter()
    if n_todo:
        print(f"[lookalikes] rendering {n_todo} of {len(pids)} patients (seed {a.lookalike_seed}, {a.size} px)",
              flush=True)
        with mp.get_context("fork").Pool(a.workers) as pool:
            for k, _ in enumerate(pool.imap_unordered(_lookalike_job, [j for j in jobs if j[3]]), 1):
                if k % 10 == 0 or k == n_todo:
                    print(f"[lookalikes] {k}/{n_todo} ({time.perf_counter() - t0:.0f} s)", flush=True)
    res: dict = {"seed": a.lookalike_seed, "pids": [pids[0], pids[-1]], "n": len(pids),
                 "wall_s": round(time.perf_counter() - t0, 1), "models": {}}
    for m in models:
        rows = [dict(np.load(cache[m] / f"{pid}.npz")) for pid in pids]
        res["models"][m] = LA._shipped_table(rows)
    return res


# ------------------------------------------------------------------ (c) real series
def lidc(a: argparse.Namespace, models: dict[str, Path], keys: dict[str, str], out: Path) -> dict:
    series = [a.lidc_data / s for s in a.lidc_series]
    res: dict = {"series": list(a.lidc_series), "models": {}, "wall_s": {}}
    for name, path in models.items():
        csv = a.cache / keys[name] / "lidc_pred.csv"
        pics = out / "lidc" / name
        if not csv.is_file() or not pics.is_dir():
            print(f"[lidc] cacscore predict {len(series)} series --model {name} --report {pics}", flush=True)
            csv.parent.mkdir(parents=True, exist_ok=True)
            res["wall_s"][name] = run(cacscore("predict", *series, "--model", path, "--out", csv, "--report", pics),
                                csv.with_suffix(".log"))
        df = pd.read_csv(csv, dtype={"id": str}).set_index("id")
        res["models"][name] = {i: {v: float(df.loc[i, v]) for v in (*VESSELS, "total")} for i in df.index}
    return res


# ------------------------------------------------------------------ report
def _fmt(v: float, nd: int = 2) -> str:
    return "nan" if v is None or not np.isfinite(v) else f"{v:,.{nd}f}"


def _vs(v: float, b: float) -> str:
    """v / b as 'x1.23' (the ratio against the baseline model)."""
    if not (np.isfinite(v) and np.isfinite(b)) or b == 0:
        return "-"
    return f"x{v / b:.2f}"


def print_heldout(r: dict, names: list[str]) -> None:
    b0 = names[0]
    print(f"\n(a) held-out release {r['release']} ({r['n']} patients; truth categories 0/1-99/100-399/>=400: "
          f"{r['truth_category4_counts']}); [95% bootstrap over scans]; 'vs' = ratio against {b0}\n")
    print("| model | four-vessel MSE ratio vs constant | vs | kappa4 total | vs | kappa4 LCA / LAD / LCX / RCA (mean) "
          "| total category agreement |")
    print("| --- | ---: | ---: | ---: | ---: | --- | ---: |")
    for m in names:
        v, ci = r["models"][m], r["bootstrap"][m]
        print(f"| {m} | {_fmt(v['ratio_all4'])} [{_fmt(ci['ratio_all4'][0])}, {_fmt(ci['ratio_all4'][1])}] | "
              f"{_vs(v['ratio_all4'], r['models'][b0]['ratio_all4'])} | {_fmt(v['kappa4_total'], 3)} "
              f"[{_fmt(ci['kappa4_total'][0], 3)}, {_fmt(ci['kappa4_total'][1], 3)}] | "
              f"{_vs(v['kappa4_total'], r['models'][b0]['kappa4_total'])} | "
              + " / ".join(_fmt(v[f"kappa4_{x}"], 3) for x in VESSELS) + f" ({_fmt(v['kappa4_vessel_mean'], 3)}) | "
              f"{_fmt(v['category4_total_agreement'], 3)} |")
    for m in names[1:]:
        d = r["bootstrap"][f"{m} - {b0}"]
        print(f"\npaired difference {m} - {b0} [95%]: ratio {_fmt(d['ratio_all4'][0])} .. {_fmt(d['ratio_all4'][1])} "
              f"(P(diff <= 0) {d['ratio_all4_p_le_0']:.3f}); kappa4 total {_fmt(d['kappa4_total'][0], 3)} .. "
              f"{_fmt(d['kappa4_total'][1], 3)} (P(diff <= 0) {d['kappa4_total_p_le_0']:.3f}); kappa4 vessel mean "
              f"{_fmt(d['kappa4_vessel_mean'][0], 3)} .. {_fmt(d['kappa4_vessel_mean'][1], 3)}")


def print_lookalikes(r: dict, names: list[str]) -> None:
    print(f"\n(b) look-alike phantoms: seed {r['seed']}, patients {r['pids'][0]}-{r['pids'][1]} ({r['n']}); "
          "candidates called coronary / AU called coronary\n")
    kinds = [k for k in r["models"][names[0]] if k != "bone"]
    print("| kind | " + " | ".join(names) + " |")
    print("| --- |" + " ---: |" * len(names))
    for k in kinds:
        cells = []
        for m in names:
            v = r["models"][m][k]
            if k == "coronary (truth)":
                cells.append(f"{v['called_coronary']} of {v['candidates']} / {v['au_called_coronary']:,.0f} of "
                             f"{v['au']:,.0f} AU found")
            else:
                as_ = ", ".join(f"{x} {c}" for x, c in v["called_as"].items() if c)
                vs = "" if m == names[0] else f" {_vs(v['au_called_coronary'], r['models'][names[0]][k]['au_called_coronary'])}"
                cells.append(f"{v['called_coronary']} / {v['au_called_coronary']:,.0f} AU{vs}"
                             + (f" ({as_}; {v['patients_called']} patients)" if as_ else ""))
        print(f"| {k} | " + " | ".join(cells) + " |")


def print_lidc(r: dict, names: list[str]) -> None:
    print("\n(c) real series (no calcium reference): AU LCA / LAD / LCX / RCA = total\n")
    print("| series | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))
    for s in r["series"]:
        cells = []
        for m in names:
            v = r["models"][m].get(s)
            b = r["models"][names[0]].get(s)
            vs = "" if m == names[0] or v is None or b is None else f" ({_vs(v['total'], b['total'])})"
            cells.append("-" if v is None else " / ".join(f"{v[x]:.1f}" for x in VESSELS) + f" = **{v['total']:.1f}**{vs}")
        print(f"| {s} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+", help="NAME=DIR of lesion models ('shipped': the default); first = baseline")
    ap.add_argument("--cache", type=Path, default=Path("/work/runs/wt17b/compare_cache"))
    ap.add_argument("--out", type=Path, default=None, help="summary.json, per-scan table, LIDC pictures "
                    "(default: CACHE/out_<names>)")
    ap.add_argument("--parts", nargs="+", default=["heldout", "lookalikes", "lidc"],
                    choices=["heldout", "lookalikes", "lidc"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--heldout-seed", type=int, default=9101)
    ap.add_argument("--heldout-patients", type=int, default=60)
    ap.add_argument("--lookalike-seed", type=int, default=23)
    ap.add_argument("--lookalike-first", type=int, default=151)
    ap.add_argument("--lookalike-patients", type=int, default=100)
    ap.add_argument("--lidc-data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--lidc-series", nargs="+", default=list(LIDC_SERIES))
    ap.add_argument("--hybrid-seeds", type=int, default=0, help="also run bench/hybrid_cases.py --seeds N (0: no)")
    a = ap.parse_args(argv)
    models = parse_models(a.models)
    names = list(models)
    a.cache = a.cache.resolve()
    out = (a.out or a.cache / ("out_" + "_".join(names))).resolve()
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    code = code_key()
    keys = {m: model_key(p, code) for m, p in models.items()}
    summary: dict = {"models": {m: {"path": str(p), "cache_key": keys[m]} for m, p in models.items()},
                     "code_key": code, "wall_s": {}}
    old = out / "summary.json"
    if old.is_file():  # parts not run now stay as an earlier run of the same models and code measured them
        prev = json.loads(old.read_text())
        if prev.get("models") == summary["models"]:
            summary = prev | {"wall_s": {}}
    t0 = time.perf_counter()
    for part in a.parts:
        t1 = time.perf_counter()
        if part == "heldout":
            summary["heldout"] = heldout(a, models, keys, out)
            print_heldout(summary["heldout"], names)
        elif part == "lookalikes":
            summary["lookalikes"] = lookalikes(a, models, keys)
            print_lookalikes(summary["lookalikes"], names)
        else:
            summary["lidc"] = lidc(a, models, keys, out)
            print_lidc(summary["lidc"], names)
        summary["wall_s"][part] = round(time.perf_counter() - t1, 1)
        atomic_write_text(out / "summary.json", json.dumps(summary, indent=1, default=float) + "\n")
    if a.hybrid_seeds:
        t1 = time.perf_counter()
        cmd = [sys.executable, str(REPO / "bench" / "hybrid_cases.py"), "--seeds", str(a.hybrid_seeds),
               "--model", *[f"{m}={p}" for m, p in models.items()], "--out", str(out / "hybrids")]
        print(f"\n(d) {' '.join(cmd[1:])}", flush=True)
        subprocess.run(cmd, check=True)
        summary["hybrids"] = json.loads((out / "hybrids" / "summary.json").read_text())
        summary["wall_s"]["hybrids"] = round(time.perf_counter() - t1, 1)
    summary["wall_s"]["total"] = round(time.perf_counter() - t0, 1)
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=1, default=float) + "\n")
    print(f"\n{summary['wall_s']} s wall; {out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
