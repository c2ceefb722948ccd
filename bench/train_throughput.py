"""Training throughput (volumes/s) per model: the reference loop against the fast path, same run, same machine.

Rows "data": the input path alone (reference DataLoader + copy vs device gather + table lookup).
Rows per model (CUDA: "cudnn.benchmark" = cuDNN times its algorithms; "C->80" = the 73 channels padded
with zero inputs to a multiple of 8, the input layer widened with zero weights, see DeviceCohort.padded):
  reference      cacscore.regress.train.fit over a DataLoader on the on-disk cache (ScanDataset: memmap read + numpy
                 normalise per scan), fp32 - the baseline named by the ratio column;
  resident fp32  the plain loop over ONE resident, already normalised batch (no data loading), fp32;
  resident bf16  the same with bf16 autocast + channels_last (CUDA only): issue 7's "best plain loop";
  fast ...       cacscore.regress.fast_train.fit_members: cohort resident as int16, device gather + LUT normalisation,
                 K members (--members) trained at once; variants by precision / members mode / compile.
Timing: each trained variant runs 2 epochs over the same --steps x --batch scans; the second epoch is timed
(the first warms up allocators, cuDNN autotuning and compilation). Everything is synchronised before a clock
is read. The synthetic cache is random HU, so losses are meaningless; only speed is measured here.

    python bench/train_throughput.py --size 64 --slices 73 --batch 8 --steps 4 --members 2     # CPU, tiny
    python bench/train_throughput.py --size 512 --batch 32 --steps 4 --members 4 --scans 212  # one GPU
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from cacscore.regress.cache import MANIFEST_COLUMNS, CohortCache
from cacscore.regress.dataset import ScanDataset
from cacscore.regress.fast_train import DeviceCohort, FastTrainConfig, Member, fit_members, pad_input_channels
from cacscore.regress.models import MODELS, build_model
from cacscore.regress.preprocess import PreprocessConfig
from cacscore.regress.train import TrainConfig, fit
from cacscore.core.vessels import VESSELS

VIT_PATCH = 32  # the paper's patch size; smaller images use size // 16 so that the token count stays sensible


def model_kwargs(name: str, slices: int, size: int) -> dict:
    kw = {"in_channels": slices, "image_size": size}
    if name == "vit" and size < 16 * VIT_PATCH:
        kw["patch_size"] = max(4, size // 16)
    return kw


def write_cache(root: Path, *, n: int, slices: int, size: int, seed: int) -> CohortCache:
    """A synthetic cohort cache in cacscore.regress.cache's layout: one random base volume shifted per scan (cheap to
    make at 73 x 512 x 512), a bright square per vessel, random scores."""
    rng = np.random.default_rng(seed)
    (root / "scans").mkdir(parents=True, exist_ok=True)
    base = rng.normal(0, 120, (slices, size, size)).astype(np.int16)
    rows = []
    for i in range(n):
        hu = np.roll(base, (int(rng.integers(size)), int(rng.integers(size))), axis=(1, 2))
        hu += rng.integers(-60, 60, dtype=np.int16)
        c = size // 2
        hu[slices // 3: slices // 3 + 4, c:c + size // 16, c:c + size // 16] = 600
        np.save(root / "scans" / f"syn{i:04d}.npy", hu)
        y = rng.gamma(0.5, 100, 4)
        rows.append({"id": f"syn{i:04d}", "source": "synthetic", "status": "ok", "error": "",
                     "shape": f"{slices}x{size}x{size}", **dict(zip(VESSELS, y)), "total": float(y.sum())})
    pd.DataFrame(rows).reindex(columns=MANIFEST_COLUMNS).to_csv(root / "manifest.csv", index=False)
    cfg = PreprocessConfig(size=size, slices=slices)
    (root / "config.json").write_text(json.dumps({"preprocess": cfg.to_dict(), "format_version": 1}))
    return CohortCache(root)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_reference(name: str, cache: CohortCache, z: np.ndarray, n: int, batch: int, device: torch.device) -> float:
    """cacscore.regress.train.fit, 2 epochs over n on-disk scans; volumes/s of epoch 2."""
    model = build_model(name, **model_kwargs(name, cache.config.slices, cache.config.size))
    ds = ScanDataset(cache, cache.ids[:n], targets_scaled=z[:n])
    res = fit(model, ds, None, config=TrainConfig(batch_size=batch, max_epochs=2, patience=2), device=device,
              progress=False)
    return n / res.history[1]["seconds"]


def bench_data_reference(cache: CohortCache, z: np.ndarray, n: int, batch: int, device: torch.device) -> float:
    """The reference's input path alone: DataLoader over ScanDataset (memmap read, numpy normalise, collate)
    plus the host-to-device copy, over n scans: volumes/s."""
    ds = ScanDataset(cache, cache.ids[:n], targets_scaled=z[:n])
    t0 = time.perf_counter()
    for x, y in torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True):
        x, y = x.to(device), y.to(device)
    sync(device)
    return n / (time.perf_counter() - t0)


def bench_data_fast(cohort: DeviceCohort, n: int, batch: int, dtype: torch.dtype, device: torch.device) -> float:
    """The fast path's input path alone: device gather + table lookup of n scans: volumes/s."""
    perm = torch.randperm(n).to(device)
    cohort.inputs(perm[:batch], dtype)  # warm-up (and the bf16 table)
    sync(device)
    t0 = time.perf_counter()
    for s in range(0, n, batch):
        cohort.inputs(perm[s:s + batch], dtype)
    sync(device)
    return n / (time.perf_counter() - t0)


def bench_resident(name: str, cohort: DeviceCohort, z: torch.Tensor, batch: int, steps: int, *,
                   bf16: bool, device: torch.device, cudnn_benchmark: bool = False) -> float:
    """The plain loop over one resident normalised batch (issue 7's measurement): volumes/s."""
    prev = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = cudnn_benchmark
    try:
        return _bench_resident(name, cohort, z, batch, steps, bf16=bf16, device=device)
    finally:
        torch.backends.cudnn.benchmark = prev


def _bench_resident(name: str, cohort: DeviceCohort, z: torch.Tensor, batch: int, steps: int, *,
                    bf16: bool, device: torch.device) -> float:
    fmt = torch.channels_last if bf16 else torch.contiguous_format
    kw = model_kwargs(name, cohort.channels, cohort.hu.shape[2])
    model = build_model(name, **kw)
    if cohort.hu.shape[1] > cohort.channels:  # a padded cohort: the model's input layer widened with zeros
        pad_input_channels(model, cohort.hu.shape[1])
    model = model.to(device, memory_format=fmt)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    idx = torch.arange(batch, device=device) % len(cohort)
    x = cohort.inputs(idx).contiguous(memory_format=fmt)
    y = z[idx]

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out = model(x)
        torch.nn.functional.mse_loss(out.float(), y).backward()
        opt.step()

    for _ in range(2):
        step()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return steps * batch / (time.perf_counter() - t0)


def bench_fast(name: str, cohort: DeviceCohort, n: int, batch: int, members: int, fast: FastTrainConfig) -> float:
    """fit_members with ``members`` copies (different seeds) over the same n scans, 2 epochs; volumes/s of
    epoch 2 counting every member's volumes."""
    kw = model_kwargs(name, cohort.channels, cohort.hu.shape[2])
    ms = [Member(tuple(range(n)), (), TrainConfig(batch_size=batch, max_epochs=2, patience=2, seed=k))
          for k in range(members)]
    res = fit_members(lambda: build_model(name, **kw), cohort, ms, config=fast, progress=False)
    return members * n / max(r.history[1]["seconds"] for r in res)


def protocol_minutes(vps: dict[str, float], *, n_scans: int = 212, folds: int = 5, points: int = 12,
                     epochs: int = 50) -> tuple[float, float]:
    """Extrapolated minutes of the paper protocol from training volumes/s per model: (paper split, upper bound).

    Paper split: 80 % of n_scans for CV, each fold trains on 4/5 of it (212 -> 169 -> ~135 scans per epoch) and
    validates on 1/5 (forward only, counted at 1/3 of a training volume). Upper bound: all n_scans per epoch."""
    cv = round(n_scans * 0.8)
    tr, va = cv * (folds - 1) / folds, cv / folds
    per_model = folds * points * epochs
    paper = sum(per_model * (tr + va / 3) / v for v in vps.values()) / 60
    upper = sum(per_model * (n_scans + va / 3) / v for v in vps.values()) / 60
    return paper, upper


def summarise(rows: list[dict], card: str, args: argparse.Namespace) -> pd.DataFrame:
    """Print the table with ratios, the best fast variant per model and the protocol extrapolation."""
    df = pd.DataFrame(rows)
    ref = df[df.variant.str.startswith("reference")].set_index("model")["volumes_per_s"]
    plain = df[df.variant.str.startswith("resident")].groupby("model")["volumes_per_s"].max()
    df["x_reference"] = df.volumes_per_s / df.model.map(ref)
    df["x_best_plain"] = df.volumes_per_s / df.model.map(plain)
    print(f"\nTraining throughput on {card}, {args.slices} x {args.size} x {args.size}, batch {args.batch} "
          f"(x_reference: against the on-disk reference loop measured in this run; x_best_plain: against the "
          f"faster resident plain loop of this run)")
    print(df.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    fast_rows = df[df.variant.str.startswith("fast") & df.volumes_per_s.notna() & (df.model != "data")]
    if fast_rows.empty:
        return df
    best = fast_rows.loc[fast_rows.groupby("model")["volumes_per_s"].idxmax()]
    print("best fast variant per model: " + "; ".join(
        f"{r.model} [{r.variant}] {r.volumes_per_s:.1f} vol/s = {r.x_reference:.1f}x reference, "
        f"{r.x_best_plain:.2f}x best plain" for r in best.itertuples()), flush=True)
    if set(best.model) == set(MODELS):
        paper, upper = protocol_minutes(dict(zip(best.model, best.volumes_per_s)))
        print(f"EXTRAPOLATION (not a measurement): the paper protocol, 3 models x 5 folds x 12 grid points x 50 "
              f"epochs on 212 scans, at these {args.slices} x {args.size} x {args.size} rates on {card}: "
              f"{paper:.1f} min (paper split: ~135 training + ~34 validation scans per fold epoch), "
              f"{upper:.1f} min if every epoch saw all 212 scans", flush=True)
        cnn = best[best.model == "cnn"]
        if len(cnn):
            v, plain_best = float(cnn.volumes_per_s.iloc[0]), float(plain.get("cnn", math.nan))
            print(f"issue 7 targets at this size: CNN {v:.0f} vol/s (target >= 3000 at 73 x 512 x 512 on one H100: "
                  f"{'met' if v >= 3000 else 'NOT met'}), {v / plain_best:.2f}x the best plain loop of this run "
                  f"(target >= 3x: {'met' if v >= 3 * plain_best else 'NOT met'}); protocol {paper:.1f} min "
                  f"(target <= 15: {'met' if paper <= 15 else 'NOT met'})", flush=True)
    if args.json:
        args.json.write_text(df.to_json(orient="records", indent=1))
    return df


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=64, help="in-plane size H = W")
    ap.add_argument("--slices", type=int, default=73)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=4, help="training batches per epoch (n = steps x batch scans)")
    ap.add_argument("--members", type=int, default=2, help="K models trained at once in the fast path")
    ap.add_argument("--scans", type=int, default=0, help="cohort size resident on the device (default steps x batch)")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--device", default="auto")
    ap.add_argument("--compile-models", default="", help="comma list of models that also get torch.compile "
                    "variants of the fast path; they run last (compilation takes a while)")
    ap.add_argument("--ref-steps", type=int, default=0, help="batches per epoch for the on-disk reference "
                    "(default --steps; it is slow at 512 x 512)")
    ap.add_argument("--cache", type=Path, default=None, help="make / reuse the synthetic cache here "
                    "(default: a temporary one)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--json", type=Path, default=None, help="also write the table as JSON here")
    ap.add_argument("--only", default="", help="regular expression: run only the 'model variant' rows it finds "
                    "(the reference and resident rows, the ratios' baselines, always run)")
    ap.add_argument("--pad-multiple", type=int, default=None, help="also measure a cohort whose channels are "
                    "padded with zero inputs to a multiple of this (73 -> 80; default 8 on CUDA, 0 = not on CPU)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    cuda = device.type == "cuda"
    card = torch.cuda.get_device_name(device) if cuda else "cpu"
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    compile_names = [m.strip() for m in args.compile_models.split(",") if m.strip()]
    for m in (*names, *compile_names):
        if m not in MODELS:
            raise SystemExit(f"unknown model {m!r}; choose from {sorted(MODELS)}")
    n = args.steps * args.batch
    n_ref = (args.ref_steps or args.steps) * args.batch
    scans = max(args.scans, n, n_ref)
    root = args.cache or Path(tempfile.mkdtemp(prefix="cacscore_bench_"))
    t0 = time.perf_counter()
    if (root / "manifest.csv").is_file() and len(CohortCache(root)) >= scans \
            and CohortCache(root).config.size == args.size and CohortCache(root).config.slices == args.slices:
        cache = CohortCache(root)
    else:
        cache = write_cache(root, n=scans, slices=args.slices, size=args.size, seed=0)
    t_cache = time.perf_counter() - t0
    ly = np.log1p(cache.targets[:scans])
    z = (ly / ly.max(axis=0)).astype(np.float32)  # the "log" target scaling
    t0 = time.perf_counter()
    cohort = DeviceCohort.from_cache(cache, z, device=device, ids=cache.ids[:scans], channels_last=cuda)
    sync(device)
    t_load = time.perf_counter() - t0
    zt = cohort.targets
    mult = (8 if cuda else 0) if args.pad_multiple is None else args.pad_multiple
    pad_to = -(-args.slices // mult) * mult if mult > 0 else 0
    cohort_p = cohort.padded(pad_to) if pad_to > args.slices else None
    print(f"device: {card} | torch {torch.__version__} | cohort {scans} x {args.slices} x {args.size} x {args.size} "
          f"int16 = {cohort.nbytes / 2**30:.2f} GiB on the device (cache made in {t_cache:.0f} s, loaded in "
          f"{t_load:.0f} s) | batch {args.batch}, {n} scans per epoch ({n_ref} for the reference), "
          f"K = {args.members}", flush=True)

    k = args.members
    if cuda:
        variants = [("fast fp32 K=1", 1, FastTrainConfig(bf16=False, channels_last=False)),
                    ("fast bf16+CL K=1", 1, FastTrainConfig()),
                    (f"fast bf16+CL K={k} loop", k, FastTrainConfig()),
                    # under vmap autocast does not reach the convs: they stay fp32 (see fast_train)
                    (f"fast vmap K={k} (conv fp32, rest bf16)", k, FastTrainConfig(members_mode="vmap")),
                    ("fast bf16+CL K=1 cudnn.benchmark off", 1, FastTrainConfig(cudnn_benchmark=False))]
    else:
        variants = [("fast fp32 K=1", 1, FastTrainConfig()),
                    (f"fast fp32 K={k} vmap", k, FastTrainConfig()),
                    (f"fast fp32 K={k} loop", k, FastTrainConfig(members_mode="loop"))]
    compiled = [("fast +compile K=1", 1, FastTrainConfig(compile=True)),
                (f"fast +compile K={k} loop", k, FastTrainConfig(compile=True, members_mode="loop")),
                ("fast +compile(reduce-overhead) K=1", 1,
                 FastTrainConfig(compile=True, compile_mode="reduce-overhead"))]
    # jobs: (model, variant, function); the compiled ones run last (compilation takes a while)
    jobs: list[tuple[str, str, Any]] = [
        ("data", "reference (disk, fp32)", lambda: bench_data_reference(cache, z, n_ref, args.batch, device)),
        ("data", "fast gather+LUT fp32", lambda: bench_data_fast(cohort, n, args.batch, torch.float32, device))]
    if cuda:
        jobs.append(("data", "fast gather+LUT bf16",
                     lambda: bench_data_fast(cohort, n, args.batch, torch.bfloat16, device)))
    if cohort_p is not None:
        aff_p = cohort_p.with_input_path("affine", compile=True)
        jobs.append(("data", f"fast gather+affine bf16 compiled C->{pad_to}",
                     lambda: bench_data_fast(aff_p, n, args.batch, torch.bfloat16, device)))
    late: list[tuple[str, str, Any]] = []
    for name in names:
        jobs.append((name, "reference (disk, fp32)",
                     lambda name=name: bench_reference(name, cache, z, n_ref, args.batch, device)))
        jobs.append((name, "resident fp32", lambda name=name: bench_resident(
            name, cohort, zt, args.batch, args.steps, bf16=False, device=device)))
        if cuda:
            jobs.append((name, "resident bf16+CL", lambda name=name: bench_resident(
                name, cohort, zt, args.batch, args.steps, bf16=True, device=device)))
            jobs.append((name, "resident bf16+CL cudnn.benchmark", lambda name=name: bench_resident(
                name, cohort, zt, args.batch, args.steps, bf16=True, device=device, cudnn_benchmark=True)))
        for variant, kk, fast in variants:
            jobs.append((name, variant, lambda name=name, kk=kk, fast=fast: bench_fast(
                name, cohort, n, args.batch, kk, fast)))
        if cohort_p is not None:
            aff = cohort_p.with_input_path("affine")
            jobs += [
                (name, f"resident bf16+CL C->{pad_to}", lambda name=name: bench_resident(
                    name, cohort_p, zt, args.batch, args.steps, bf16=True, device=device, cudnn_benchmark=True)),
                (name, f"fast bf16+CL K=1 C->{pad_to}", lambda name=name: bench_fast(
                    name, cohort_p, n, args.batch, 1, FastTrainConfig())),
                (name, f"fast bf16+CL K={k} loop C->{pad_to}", lambda name=name: bench_fast(
                    name, cohort_p, n, args.batch, k, FastTrainConfig())),
                (name, f"fast bf16+CL K=1 C->{pad_to} affine", lambda name=name, aff=aff: bench_fast(
                    name, aff, n, args.batch, 1, FastTrainConfig()))]
        if name in compile_names:
            for variant, kk, fast in compiled:
                late.append((name, variant, lambda name=name, kk=kk, fast=fast: bench_fast(
                    name, cohort, n, args.batch, kk, fast)))
            if cohort_p is not None:
                aff_c = cohort_p.with_input_path("affine", compile=True)
                late += [
                    (name, f"fast +compile K=1 C->{pad_to}", lambda name=name: bench_fast(
                        name, cohort_p, n, args.batch, 1, FastTrainConfig(compile=True))),
                    (name, f"fast +compile K=1 C->{pad_to} affine(compiled)", lambda name=name, a=aff_c: bench_fast(
                        name, a, n, args.batch, 1, FastTrainConfig(compile=True))),
                    (name, f"fast +compile K={k} loop C->{pad_to} affine(compiled)",
                     lambda name=name, a=aff_c: bench_fast(name, a, n, args.batch, k, FastTrainConfig(compile=True))),
                    (name, f"fast +compile(reduce-overhead) K=1 C->{pad_to} affine(compiled)",
                     lambda name=name, a=aff_c: bench_fast(name, a, n, args.batch, 1, FastTrainConfig(
                         compile=True, compile_mode="reduce-overhead"))),
                    (name, f"fast +compile(max-autotune-no-cudagraphs) K=1 C->{pad_to} affine(compiled)",
                     lambda name=name, a=aff_c: bench_fast(name, a, n, args.batch, 1, FastTrainConfig(
                         compile=True, compile_mode="max-autotune-no-cudagraphs")))]
    only = re.compile(args.only) if args.only else None
    rows: list[dict] = []

    def add(name: str, variant: str, fn) -> None:
        t = time.perf_counter()
        try:
            vps = fn()
        except Exception as exc:  # out of memory, a compile failure...: report it and carry on with the rest
            msg = (str(exc).strip().splitlines() or [""])[0][:200]
            print(f"  {name:7s} {variant:34s} FAILED: {type(exc).__name__}: {msg}", flush=True)
            vps = math.nan
        finally:
            if cuda:
                torch.cuda.empty_cache()
        rows.append({"model": name, "variant": variant, "volumes_per_s": vps, "ms_per_volume": 1e3 / vps,
                     "wall_s": time.perf_counter() - t})
        print(f"  {name:7s} {variant:34s} {vps:9.1f} vol/s  {1e3 / vps:8.3f} ms/vol  ({time.perf_counter() - t:.0f} s)",
              flush=True)

    for group in (jobs, late):
        ran = False
        for name, variant, fn in group:
            if only is None or only.search(f"{name} {variant}") or variant.startswith(("reference", "resident")):
                add(name, variant, fn)
                ran = True
        if ran:
            summarise(rows, card, args)
    if args.cache is None:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
