"""Command line interface: thin. Each subcommand parses its arguments and calls one library function.

Subcommand names, arguments and output columns are a contract other tools rely on.
Each subcommand has an ``_add_<name>`` function (its parser) and a ``_cmd_<name>`` function (its body).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from cacscore import __version__
from cacscore.core.fileio import atomic_write_text

log = logging.getLogger("cacscore")


class _AnatomyVersions:
    """phantom.anatomy.ANATOMY_VERSIONS as argparse choices, imported only when ``phantom --anatomy`` is checked or
    listed (importing the phantom package loads the renderer and scipy, which no other subcommand's start should pay).
    The one list of versions is anatomy.VERSION_FEATURES's keys; nothing here copies it."""

    @staticmethod
    def _versions() -> tuple[str, ...]:
        from cacscore.phantom.anatomy import ANATOMY_VERSIONS

        return ANATOMY_VERSIONS

    def __contains__(self, version: object) -> bool:
        return version in self._versions()

    def __iter__(self):
        return iter(self._versions())


# ---------------------------------------------------------------- score
def _add_score(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="classical Agatston score of a CT with a vessel label volume")
    p.add_argument("ct", type=Path, help="DICOM series folder or NIfTI file")
    p.add_argument("--labels", type=Path, required=True, help="NIfTI or .npy label volume (0 bg, 1 LCA, 2 LAD, 3 LCX, 4 RCA)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a CSV row")
    p.set_defaults(func=_cmd_score)


def _cmd_score(args: argparse.Namespace) -> int:
    import csv
    import json

    from cacscore.scoring.files import score_files

    row = score_files(args.ct, args.labels).as_row()
    if args.json:
        print(json.dumps({k: round(v, 4) for k, v in row.items()}))
    else:
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(list(row))
        w.writerow([f"{v:.4f}" for v in row.values()])
    return 0


# ---------------------------------------------------------------- score-gated
def _add_score_gated(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score-gated", help="Agatston scores of COCA gated scans from their XML ROIs")
    p.add_argument("coca_root", type=Path, help="COCA release root (holds Gated_release_final/)")
    p.add_argument("--patients", default=None, help="comma-separated patient ids (default: all with an XML)")
    p.add_argument("--out", type=Path, default=None, help="write scores.csv here")
    p.add_argument("--json", action="store_true", help="JSON (a list of per-patient objects) instead of CSV")
    p.set_defaults(func=_cmd_score_gated)


def _cmd_score_gated(args: argparse.Namespace) -> int:
    import csv
    import io
    import json

    from cacscore.scoring.gated import GATED_COLUMNS, score_gated_cohort

    patients = None
    if args.patients:
        patients = [p.strip() for p in args.patients.split(",") if p.strip()]
    scores, errors = score_gated_cohort(args.coca_root, patients)
    rows = [s.as_row() for s in scores]
    for msg in errors:  # one line per bad patient; the others are scored
        print(f"cacscore score-gated: error: {msg}", file=sys.stderr)
    if args.json:
        text = json.dumps([{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in rows],
                          indent=1) + "\n"
    else:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(GATED_COLUMNS)
        for r in rows:
            w.writerow([r["id"], *(f"{r[c]:.4f}" for c in GATED_COLUMNS[1:])])
        text = buf.getvalue()
    if args.out is not None:
        atomic_write_text(args.out, text)
        log.info("wrote %d patient(s) to %s", len(rows), args.out)
    else:
        sys.stdout.write(text)
    log.info("score-gated: %d scored, %d failed", len(rows), len(errors))
    return 1 if errors else 0


# ---------------------------------------------------------------- phantom
def _add_phantom(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("phantom", help="write a synthetic non-gated chest CT release (COCA layout) with exact scores")
    p.add_argument("out", type=Path)
    p.add_argument("--patients", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=512, help="in-plane matrix size (512 like COCA; 128 for tests)")
    p.add_argument("--gated", action="store_true", help="also write gated 3 mm series and calcium_xml plists")
    p.add_argument("--preview", action="store_true", help="write a PNG per patient: axial slices at the aortic arch, "
                   "root / left main and mid-ventricle, coronal and sagittal reformats")
    p.add_argument("--compare", type=Path, default=None, metavar="DICOM_DIR",
                   help="with --preview: a real series whose same levels (relative to its heart centre) are shown beside")
    p.add_argument("--clean", action="store_true", help="write standard UIDs instead of COCA's quirks")
    p.add_argument("--workers", type=int, default=1, help="patients rendered in parallel processes")
    p.add_argument("--no-lookalikes", dest="lookalikes", action="store_false",
                   help="leave out the non-coronary look-alike calcium (aortic valve, mitral annulus, calcified "
                        "nodes, lung granulomas); the per-vessel truth is the same")
    p.add_argument("--overwrite", action="store_true",
                   help="OUT holds an earlier phantom release: clear it first (a non-empty OUT is refused otherwise)")
    p.add_argument("--anatomy", default=None, choices=_AnatomyVersions(), metavar="VERSION",  # (a metavar: argparse
                   # then lists the choices only for help or an error, so the phantom package is imported only then)
                   help="anatomy version to draw, one of %(choices)s (default: the phantom's, v11 since session 16; "
                        "v8: sessions 11-15's "
                        "default; v9: the mitral annulus calcium where the real annulus lies; v10: v9 with the AV "
                        "groove, LCX and RCA raised; v11: v9 with the LCX in epicardial fat all along; v12: v11 with "
                        "the left main's bifurcation up the AV groove and the heart turned; v13: v11 with the heart placed "
                        "further left of the midline, as real hearts lie; v14: v11 with the right diaphragm dome raised "
                        "beside the heart; v15: v14 with the thoracic spine and the back curved; v16: v15 with rounder "
                        "domes and the upper abdomen's organs; v17: v16 with the spine's whole curve behind the heart; v18: v17 with a rounded retrosternal fat pad, 3-D bowel loops and curved sides; v19: v18 with the ribs as long curved bony bands (cortex, marrow) and their cartilages; "
                        "docs/phantom.md); written "
                        "to truth.csv")
    p.add_argument("--p-mac", type=float, default=None, metavar="P",
                   help="share of patients with mitral annulus calcium (default 0.12; a training knob)")
    p.add_argument("--p-calcified", type=float, default=None, metavar="P",
                   help="share of patients with coronary calcium (default 0.61, COCA-calibrated; a training knob: "
                        "more coronary examples for the candidate scorer, never for a test release)")
    p.add_argument("--p-vessel-floor", type=float, default=None, metavar="P",
                   help="each artery of a calcified patient holds calcium at least this often (default 0: the "
                        "calibrated 0.3 LCA / 0.93 LAD / 0.56 LCX / 0.7 RCA, rising with the burden; a training knob)")
    p.set_defaults(func=_cmd_phantom)


def _prevalence(args: argparse.Namespace):
    """--p-calcified / --p-vessel-floor as a coronary.Prevalence (its defaults where not given; it checks the range)."""
    from cacscore.phantom.coronary import P_CALCIFIED, Prevalence

    return Prevalence(p_calcified=P_CALCIFIED if args.p_calcified is None else args.p_calcified,
                      p_vessel_floor=args.p_vessel_floor or 0.0)


def _cmd_phantom(args: argparse.Namespace) -> int:
    from cacscore.phantom import write_release
    from cacscore.phantom.anatomy import ANATOMY_VERSION

    if args.patients < 1:
        raise ValueError(f"--patients must be >= 1, got {args.patients}")
    if args.size < 16:
        raise ValueError(f"--size must be >= 16, got {args.size}")
    if args.p_mac is not None and not 0.0 <= args.p_mac <= 1.0:
        raise ValueError(f"--p-mac must be in [0, 1], got {args.p_mac}")
    table = write_release(args.out, n_patients=args.patients, seed=args.seed, size=args.size, gated=args.gated,
                          preview=args.preview, clean=args.clean, workers=args.workers, lookalikes=args.lookalikes,
                          overwrite=args.overwrite, compare=args.compare, version=args.anatomy or ANATOMY_VERSION,
                          p_mac=args.p_mac, prevalence=_prevalence(args))
    zero = float((table["total"] == 0).mean())
    print(f"wrote {len(table)} patients to {args.out} (truth: {args.out / 'truth.csv'}); "
          f"total 0 in {zero:.0%}, median total {table['total'].median():.1f}")
    return 0


# ---------------------------------------------------------------- ingest
def _add_ingest(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="read a COCA root / patient folders / CSV into a cohort cache (exit 0: all scans "
                       "ok; 1: some failed; 2: nothing done)")
    p.add_argument("source", type=Path, help="COCA release root, folder of patient folders, or CSV of scans")
    p.add_argument("cache", type=Path, help="output folder: one int16 array per scan, manifest.csv, config.json")
    p.add_argument("--size", type=int, default=512, help="in-plane size of the cached arrays (px)")
    p.add_argument("--slices", type=int, default=73, help="slabs in the depth window (the paper: 73)")
    p.add_argument("--workers", type=int, default=1, help="scans read in parallel processes")
    p.add_argument("--centre", choices=("volume", "heart"), default="volume",
                   help="depth window around the volume centre (paper) or the detected heart")
    p.add_argument("--z-spacing", type=float, default=5.0, help="slab thickness (mm) thinner slices are averaged into")
    p.add_argument("--crop-mm", type=float, default=None, metavar="MM",
                   help="in-plane square of MM mm around the detected heart instead of the whole field of view "
                        "(e.g. 176; see docs/models.md)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_ingest)


def _cmd_ingest(args: argparse.Namespace) -> int:
    from cacscore.regress.cache import ingest
    from cacscore.regress.preprocess import PreprocessConfig

    config = PreprocessConfig(size=args.size, slices=args.slices, z_spacing_mm=args.z_spacing, centre=args.centre,
                              crop_mm=args.crop_mm)
    df = ingest(args.source, args.cache, config=config, workers=args.workers, progress=not args.no_progress)
    bad = df[df["status"] != "ok"]
    print(f"{args.cache}: {len(df) - len(bad)} scan(s) ok, {len(bad)} error(s); manifest {args.cache / 'manifest.csv'}")
    for r in bad.itertuples():
        print(f"  {r.id}: {r.error}")
    return 1 if len(bad) else 0  # 0 only when every scan is in the cache (docs/ingestion.md, exit codes)


# ---------------------------------------------------------------- reproduce
def _add_reproduce(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reproduce", help="the paper's protocol: split, 5-fold CV grid search, Table 1, figures, bundles")
    p.add_argument("cache", type=Path, help="cohort cache written by cacscore ingest")
    p.add_argument("out", type=Path, help="output folder: Table 1, figures, one bundle per model")
    p.add_argument("--models", default="cnn,se_cnn,vit", help="comma-separated models to train (cnn, se_cnn, vit)")
    p.add_argument("--grid", default="small", help="small | paper | path to a JSON grid")
    p.add_argument("--device", default="auto", help="auto (cuda if available, else cpu) | cpu | cuda[:N]")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, initialisation and shuffling")
    p.add_argument("--target-scaling", default="log", choices=("log", "linear"),
                   help="log: log1p(Agatston) / training max; linear: Agatston / training max (per vessel)")
    p.add_argument("--normalisation", default=None, choices=("scan", "window"),
                   help="override the cache's input normalisation: per-scan z-score or a fixed HU window")
    p.add_argument("--window", type=float, nargs=2, default=None, metavar=("LOW_HU", "HIGH_HU"),
                   help="HU window for --normalisation window (clipped, scaled to [0, 1])")
    p.add_argument("--trainer", default="auto", choices=("auto", "fast", "reference"),
                   help="fast: the cohort resident on the device, all folds and grid points of a model in one "
                        "loop (no checkpoints); reference: one fold at a time, checkpointed, resumable, torchrun; "
                        "auto: fast on CUDA in a single process, else reference")
    p.add_argument("--bf16", action="store_true",
                   help="train under bfloat16 autocast with channels_last (on CUDA the fast trainer does anyway); on "
                        "CPUs with AVX512-BF16 ~2.5x faster for the CNN at 256 px; evaluation stays float32")
    p.add_argument("--compile", action="store_true", help="with the fast trainer: torch.compile the models and the "
                   "input kernel (CUDA; ~10 s of compilation per model, then ~2x faster at 73 x 512 x 512)")
    p.set_defaults(func=_cmd_reproduce)


def _join_torchrun(device: str) -> tuple[str, bool]:
    """Under torchrun (WORLD_SIZE > 1): join the process group (nccl on CUDA, gloo on CPU), each rank on its own
    GPU (LOCAL_RANK). Returns (device for this rank, whether this call joined, so it must leave)."""
    import os

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return device, False
    import torch
    import torch.distributed as dist

    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if dist.is_initialized():
        return device, False
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    elif device == "auto":
        device = "cpu"
    dist.init_process_group("nccl" if cuda else "gloo")
    return device, True


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from cacscore.regress.reproduce import reproduce

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    device, joined = _join_torchrun(args.device)
    rank = 0
    try:
        paths = reproduce(args.cache, args.out, models=models, grid=args.grid, device=device, seed=args.seed,
                          target_scaling=args.target_scaling, normalisation=args.normalisation,
                          window_hu=tuple(args.window) if args.window else None, trainer=args.trainer,
                          compile_model=args.compile, bf16=args.bf16)
    finally:
        if joined:
            import torch.distributed as dist

            rank = dist.get_rank()
            dist.destroy_process_group()
    if rank == 0:  # under torchrun only rank 0 reports (it alone wrote the files)
        for name, path in paths.items():
            print(f"{name}: {path}")
    return 0


# ---------------------------------------------------------------- demo
def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="phantom -> ingest -> reproduce on built-in synthetic data (CPU, minutes)")
    p.add_argument("out", type=Path, nargs="?", default=Path("demo-out"), help="output folder (default demo-out)")
    p.add_argument("--patients", type=int, default=80, help="synthetic patients to generate")
    p.add_argument("--size", type=int, default=128, help="in-plane matrix size of the phantoms (px)")
    p.add_argument("--workers", type=int, default=2, help="processes for the phantom and ingest steps")
    p.add_argument("--keep-checkpoints", action="store_true",
                   help="keep every training run's full checkpoint, after the demo too (default: its best weights "
                        "only, deleted when the demo has finished)")
    p.add_argument("--keep-all", action="store_true",
                   help="keep everything the pipeline wrote (default: when it has finished, the checkpoints, fold "
                        "bundles, cache scans and the training patients' CT are deleted: 769 of 847 MB by default)")
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from cacscore.demo import run_demo

    paths = run_demo(args.out, n_patients=args.patients, size=args.size, workers=args.workers,
                     keep_checkpoints=args.keep_checkpoints, keep_all=args.keep_all)
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


# ---------------------------------------------------------------- options shared by predict and lesion-score
def _add_scan_options(p: argparse.ArgumentParser) -> None:
    """How DICOM folders are read, and whether an earlier table may be replaced by a run that scored nothing."""
    p.add_argument("--series", default=None, metavar="UID|INDEX",
                   help="the series to score in a folder holding several (an index as the error message lists them, "
                        "a SeriesInstanceUID or its short hash); default: the largest z extent")
    p.add_argument("--on-gap", choices=("refuse", "interpolate"), default="refuse",
                   help="missing slices (a gap over 1.5 x the spacing): refuse the scan (default) or interpolate")
    p.add_argument("--skip-unreadable", action="store_true",
                   help="score a series without the slice files that cannot be read (named in the warnings); "
                        "refused by default")
    p.add_argument("--force", action="store_true",
                   help="replace an existing --out table even when no scan was scored (kept by default)")


def _read_options(args: argparse.Namespace):
    from cacscore.io.ct import ReadOptions

    return ReadOptions(series=args.series, on_gap=args.on_gap, unreadable="skip" if args.skip_unreadable else "refuse")


def _check_outputs(files: list, folders: list) -> None:
    """Every output location writable before any scan is read (the user's path in the message)."""
    from cacscore.core.fileio import check_writable

    for f in files:
        if f is not None:
            check_writable(f)
    for d in folders:
        if d is not None:
            check_writable(d, folder=True)


# ---------------------------------------------------------------- predict
def _add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict", help="per-vessel coronary calcium scores of chest CTs (the shipped model unless --model)",
        description="Per-vessel Agatston scores (LCA, LAD, LCX, RCA), total, risk category and warnings of each chest "
                    "CT. Without --model the shipped candidate scorer is used: trained on synthetic phantoms only, "
                    "for research, not a medical device (docs/model_card.md).")
    p.add_argument("inputs", type=Path, nargs="+", metavar="INPUT",
                   help="DICOM series folder, NIfTI file, folder of patient folders, COCA root, or CSV of scans")
    p.add_argument("--model", type=Path, default=None, metavar="DIR",
                   help="a lesion-train model folder or a reproduce bundle (or a folder of fold bundles) instead "
                        "of the shipped model. The old form 'predict MODEL INPUT...' still works for one release")
    p.add_argument("--out", type=Path, default=None, metavar="CSV",
                   help="also write the full table here as CSV (id, LCA, LAD, LCX, RCA, total, cat4, cat5, "
                        "category, [sd_*], warnings); '-' prints that CSV to stdout instead of the short table")
    p.add_argument("--json", action="store_true",
                   help="print the scans and failures as one JSON object to stdout instead of the short table")
    p.add_argument("--report", type=Path, default=None, metavar="DIR",
                   help="write a picture per scan (lesions in their artery's colour, or a bundle's saliency) and "
                        "an offline index.html to DIR")
    p.add_argument("--keep-phi", action="store_true", help="allow patient identifiers from headers in outputs")
    _add_scan_options(p)
    p.add_argument("--workers", type=int, default=1, metavar="N", help="scans scored in N parallel processes")
    p.set_defaults(func=_cmd_predict)


def _predict_model_and_inputs(args: argparse.Namespace) -> tuple[Path | None, list[Path]]:
    """--model, or the deprecated positional MODEL (a first INPUT that is a model folder, with more inputs after)."""
    from cacscore.predict.predictors import is_model_folder

    inputs = list(args.inputs)
    if args.model is None and len(inputs) > 1 and is_model_folder(inputs[0]):
        print(f"cacscore predict: note: 'predict MODEL INPUT...' is deprecated and goes in the next release; "
              f"use 'cacscore predict INPUT... --model {inputs[0]}'", file=sys.stderr)
        return inputs[0], inputs[1:]
    return args.model, inputs


def _cmd_predict(args: argparse.Namespace) -> int:
    from cacscore.core.fileio import output_lock, write_table
    from cacscore.predict.run import predict_inputs

    model, inputs = _predict_model_and_inputs(args)
    to_stdout = args.out is not None and str(args.out) == "-"
    out = None if to_stdout else args.out
    _check_outputs([out], [args.report])
    with output_lock([out, args.report]):
        run = predict_inputs(model, inputs, keep_phi=args.keep_phi, report_dir=args.report, workers=args.workers,
                             read_options=_read_options(args))
        failures = [f"{r.id}: {r.error}" for r in run.failed] + [f"{i}: {e}" for i, e in run.problems]
        # the CSV only where it goes somewhere (pandas, 0.2-0.4 s of a cold start, is imported for it)
        csv_text = run.table().to_csv(index=False, float_format="%.6g") if out is not None or to_stdout else ""
        if not run.ok:  # nothing scored: one clear line and exit 2, as lesion-score does; the table kept
            if out is not None and args.force:  # ... unless --force asks for the empty one
                write_table(out, csv_text, rows=0, attempted=len(run.results), force=True)
            more = f" (and {len(failures) - 1} more input(s) failed)" if len(failures) > 1 else ""
            raise ValueError((failures[0] if failures else "no scan found in the inputs") + more)
        wrote = out is not None and write_table(out, csv_text, rows=len(run.ok), attempted=len(run.results),
                                                force=args.force)
    if args.json:
        print(run.to_json())
    elif to_stdout:
        sys.stdout.write(csv_text)
    else:
        sys.stdout.write(run.terminal_table())
    for f in failures:  # each once (the library only logs them at debug level)
        print(f"cacscore predict: failed: {f}", file=sys.stderr)
    summary = f"{len(run.ok)} scan(s) predicted, {len(failures)} failed"
    if out is not None:
        summary += f"; wrote {out}" if wrote else f"; {out} not written"
    if args.report is not None:
        summary += f"; report {args.report / 'index.html'}"
    print(summary, file=sys.stderr)
    return 1 if failures else 0


# ---------------------------------------------------------------- evaluate
def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="clinical agreement metrics of predictions against a reference")
    p.add_argument("pred", type=Path, help="predictions CSV (cacscore predict --out): id, LCA, LAD, LCX, RCA")
    p.add_argument("truth", type=Path, help="CSV or COCA scores.xlsx")
    p.add_argument("--out", type=Path, default=None, help="folder for metrics.csv, metrics.md and figures")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for 95%% intervals (0: none)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resampling")
    p.add_argument("--scale", default=None,
                   help="per-vessel divisors LCA,LAD,LCX,RCA for the normalised MSE (default: reference maxima)")
    p.add_argument("--scaling-from", type=Path, default=None, metavar="MODEL",
                   help="bundle whose target scaling adds mse_target (the space of reproduce's Table 1 MSE)")
    p.set_defaults(func=_cmd_evaluate)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from cacscore.evaluation.evaluate import ALL4, run_evaluate

    scale = None
    if args.scale:
        try:
            scale = [float(v) for v in args.scale.split(",")]
        except ValueError:
            raise ValueError(f"--scale must be 4 comma-separated numbers, got {args.scale!r}") from None
        if len(scale) != 4:
            raise ValueError(f"--scale must be 4 comma-separated numbers, got {args.scale!r}")
    if args.bootstrap < 0 or 0 < args.bootstrap < 10:
        raise ValueError(f"--bootstrap must be 0 or >= 10, got {args.bootstrap}")
    ev = run_evaluate(args.pred, args.truth, out_dir=args.out, normalise_by=scale, n_boot=args.bootstrap,
                      seed=args.seed, scaling_from=args.scaling_from)
    t = ev.table
    keys = ["mse_norm", "mae", "spearman", "icc", "kappa4", "kappa5", "f1_ge1", "ba_log1p_bias"]
    wide = t[t.vessel != ALL4].pivot(index="vessel", columns="metric", values="value")[keys]
    base = t[t.vessel != ALL4].pivot(index="vessel", columns="metric", values="baseline")[keys]
    order = [v for v in ("LCA", "LAD", "LCX", "RCA", "total")]
    print(f"scans evaluated: {len(ev.joined.ids)}")
    for n in ev.notes:
        print(f"note: {n}")
    print("model:")
    print(wide.loc[order].to_string(float_format=lambda v: f"{v:.4g}"))
    print("constant-mean baseline:")
    print(base.loc[order].to_string(float_format=lambda v: f"{v:.4g}"))
    for a in t[t.vessel == ALL4].itertuples():
        what = "normalised MSE" if a.metric == "mse_norm" else "MSE in the model's target space"
        print(f"{what} over the 4 vessels: {a.value:.5g} (baseline {a.baseline:.5g})")
    if args.out:
        print(f"wrote {args.out}/metrics.csv, metrics.md, scatter.png, bland_altman.png, confusion4.png")
    return 0


# ---------------------------------------------------------------- lesion-train / lesion-score (candidate scorer)
def _add_lesion_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lesion-train", help="train the candidate-classification scorer on CTs with voxel labels")
    p.add_argument("source", type=Path, help="release root with labels/<pid>.nii.gz (phantom layout), a COCA root "
                   "with Gated_release_final/ (gated series + calcium XML ROIs), or a CSV with columns "
                   "ct,labels[,id] (paths relative to the CSV)")
    p.add_argument("--source", dest="source_kind", choices=("auto", "gated", "labels", "csv"), default="auto",
                   help="how to read SOURCE (auto: csv for a file, labels for a root with labels/, gated for a "
                   "root with Gated_release_final/calcium_xml and no labels/)")
    p.add_argument("--gated-heart-jitter-mm", type=float, default=4.0, metavar="MM",
                   help="gated source: sd of the random heart-reference shift of the extra copies (0: none)")
    p.add_argument("--gated-copies", type=int, default=4, metavar="N",
                   help="gated source: copies of each gated scan's candidates (the first unshifted)")
    p.add_argument("--gated-noise-copies", type=int, default=2, metavar="N",
                   help="gated source: N extra copies of each gated scan with noise added (non-gated scans are "
                        "noisier), their candidates trained on too (0: none)")
    p.add_argument("--gated-noise-sd", type=float, nargs=2, default=None, metavar=("LOW_HU", "HIGH_HU"),
                   help="gated source: range of the added noise sd (default 10 60: "
                        "cacscore.lesion.train.GATED_NOISE_SD_HU)")
    p.add_argument("model_dir", type=Path, help="output folder: model.safetensors, model.json, training_report.json")
    p.add_argument("--epochs", type=int, default=40, help="training epochs of the candidate classifier (MLP)")
    p.add_argument("--max-distance-mm", type=float, default=110.0, metavar="MM",
                   help="candidates farther than MM from the found heart centre are non-coronary by rule")
    p.add_argument("--seed", type=int, default=0, help="seed of the initialisation, shuffling and augmentation")
    p.add_argument("--class-weight-power", type=float, default=0.5, metavar="P",
                   help="class weights (n / count) ** P: 0 none, 1 inverse frequency (the rare left main gets the "
                        "largest weight; docs/lesion_scorer.md)")
    p.add_argument("--features", choices=("candidate", "anatomy", "distances", "near"), default="candidate",
                   help="what the classifier reads: candidate = the candidate features (position from the heart, "
                        "size, HU, context; the shipped model), anatomy = those and every chest-anatomy column, "
                        "distances = those and the distances to pericardium, aortic wall, bone and chest wall "
                        "(both run read_chest on every training scan; docs/lesion_scorer.md), near = candidate less "
                        "the 24 mm and 60 mm tissue boxes (session 25; docs/model_card.md)")
    p.add_argument("--density-cap-hu", nargs="+", default=["500", "930"], metavar="CAP",
                   help="MEAN PEAK: candidates denser than this read as this dense to the classifier, in training "
                        "and in scoring (default 500 930, the shipped model's; docs/lesion_scorer.md, 'Dense "
                        "plaques'); pNN: that percentile of the coronary training candidates' mean / peak HU "
                        "(e.g. p90); none: no cap")
    p.add_argument("--workers", type=int, default=1, help="scans read in parallel processes")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_lesion_train)


def _density_cap(words: list[str]) -> tuple[tuple[float, float] | None, float | None]:
    """lesion-train --density-cap-hu: (cap, None) for 'MEAN PEAK' or 'none', (None, percentile) for 'pNN'."""
    if len(words) == 1 and words[0].lower() == "none":
        return None, None
    if len(words) == 1 and words[0][:1].lower() == "p":
        try:
            q = float(words[0][1:])
        except ValueError:
            q = -1.0
        if 0 < q <= 100:
            return None, q
    elif len(words) == 2:
        try:
            return (float(words[0]), float(words[1])), None
        except ValueError:
            pass
    raise ValueError(f"--density-cap-hu wants MEAN PEAK (HU), pNN (a percentile, 0 < NN <= 100) or none, "
                     f"got {' '.join(words)!r}")


def _cmd_lesion_train(args: argparse.Namespace) -> int:
    from cacscore.lesion.train import GATED_NOISE_SD_HU, train_lesion_model, training_pairs
    from cacscore.lesion import ClassifierConfig
    from cacscore.lesion.classifier import FEATURE_SETS

    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    cap, cap_percentile = _density_cap(args.density_cap_hu)
    config = ClassifierConfig(epochs=args.epochs, max_distance_mm=args.max_distance_mm, seed=args.seed,
                              class_weight_power=args.class_weight_power, density_cap_hu=cap,
                              features=None if args.features == "candidate" else FEATURE_SETS[args.features])
    kind = None if args.source_kind == "auto" else args.source_kind
    rep = train_lesion_model(training_pairs(args.source, kind=kind), args.model_dir, config=config,
                             workers=args.workers, gated_heart_jitter_mm=args.gated_heart_jitter_mm,
                             gated_copies=args.gated_copies, gated_noise_copies=args.gated_noise_copies,
                             gated_noise_sd_hu=(GATED_NOISE_SD_HU if args.gated_noise_sd is None
                                                else tuple(args.gated_noise_sd)), progress=not args.no_progress,
                             density_cap_percentile=cap_percentile)
    for s in rep["skipped"]:
        print(f"cacscore lesion-train: skipped: {s['id']}: {s['reason']}", file=sys.stderr)
    per = ", ".join(f"{k} {v}" for k, v in rep["candidates"]["per_class"].items())
    print(f"{args.model_dir}: trained on {rep['n_used']} scan(s), {rep['n_skipped']} skipped "
          f"(source: {'/'.join(rep['source_kinds'])}); "
          f"{rep['candidates']['total']} candidates ({per}); density cap {_cap_words(rep)}; "
          f"{rep['seconds']['total']:.1f} s; "
          f"report {args.model_dir / 'training_report.json'}")
    return 1 if rep["n_skipped"] else 0


def _cap_words(rep: dict) -> str:
    """'500/930 HU (coronary p90 480/901)' for lesion-train's summary line."""
    cap, d = rep.get("density_cap_hu"), rep.get("coronary_density_hu")
    words = "none" if cap is None else f"{cap[0]:g}/{cap[1]:g} HU"
    if d:
        words += f" (coronary p{d['percentile']:g} {d['mean_hu']:g}/{d['peak_hu']:g})"
    return words


def _add_lesion_score(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lesion-score", help="per-vessel Agatston scores of CTs with a trained candidate scorer")
    p.add_argument("model_dir", type=Path, help="folder written by lesion-train")
    p.add_argument("inputs", type=Path, nargs="+", help="DICOM series folder or NIfTI file")
    p.add_argument("--out", type=Path, default=None, help="write the table here (CSV)")
    p.add_argument("--labels-out", type=Path, default=None, metavar="DIR",
                   help="write each scan's predicted label volume DIR/<id>.nii.gz (cacscore score CT --labels it "
                        "gives the same scores)")
    p.add_argument("--report", type=Path, default=None, metavar="DIR",
                   help="write one PNG per scan to DIR: the scored lesions in their vessel's colour on the slices "
                        "with the most calcium and on a projection of the heart (labels kept in DIR/labels)")
    p.add_argument("--workers", type=int, default=1, help="scans scored in parallel processes")
    p.add_argument("--json", action="store_true", help="print the table as JSON records instead of CSV")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_scan_options(p)
    p.set_defaults(func=_cmd_lesion_score)


def _cmd_lesion_score(args: argparse.Namespace) -> int:
    import json

    from cacscore.predict.lesion_score import score_cases

    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    from cacscore.core.fileio import output_lock

    labels_out = args.labels_out if args.labels_out is not None or args.report is None else args.report / "labels"
    _check_outputs([args.out], [args.report, labels_out])
    with output_lock([args.out, labels_out, args.report]):
        df = score_cases(args.model_dir, args.inputs, out_csv=args.out, labels_out=labels_out, report_dir=args.report,
                         workers=args.workers, progress=not args.no_progress, read_options=_read_options(args),
                         force=args.force)
    bad = df[df["error"] != ""]
    if len(bad) == len(df):  # nothing could be scored: one clear line (the first input's problem), exit 2
        more = f" (and {len(bad) - 1} more input(s) failed)" if len(bad) > 1 else ""
        raise ValueError(bad["error"].iloc[0] + more)
    if args.json:
        print(json.dumps(json.loads(df.to_json(orient="records", double_precision=4)), indent=1))
    else:
        print(df.to_csv(index=False, float_format="%.4f"), end="")
    for r in bad.itertuples():
        print(f"cacscore lesion-score: failed: {r.id}: {r.error}", file=sys.stderr)
    summary = f"{len(df) - len(bad)} scan(s) scored, {len(bad)} failed"
    if args.out is not None:
        summary += f"; wrote {args.out}"
    if args.labels_out is not None:
        summary += f"; label volumes in {args.labels_out}"
    if args.report is not None:
        summary += f"; pictures in {args.report}"
    print(summary, file=sys.stderr)
    return 1 if len(bad) else 0


def _add_lesion_ensemble(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lesion-ensemble", help="one candidate scorer from several lesion-train models of one recipe "
                       "(trained with other --seed): their probabilities averaged")
    p.add_argument("out", type=Path, help="the ensemble's model folder (written)")
    p.add_argument("models", type=Path, nargs="+", help="lesion-train model folders (every setting alike but the seed)")
    p.add_argument("--force", action="store_true", help="overwrite an existing model folder")
    p.set_defaults(func=_cmd_lesion_ensemble)


def _cmd_lesion_ensemble(args: argparse.Namespace) -> int:
    from cacscore.lesion import ensemble, load_model, save_model

    if (args.out / "model.json").exists() and not args.force:
        raise ValueError(f"{args.out}: holds a model already (--force to overwrite)")
    _check_outputs([], [args.out])
    model = ensemble([load_model(m) for m in args.models])
    save_model(model, args.out)
    print(f"wrote {args.out}: an ensemble of {len(model.members())} member(s)", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cacscore", description="Vessel-specific coronary calcium scoring from non-gated chest CT.")
    parser.add_argument("--version", action="version", version=f"cacscore {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_score, _add_score_gated, _add_phantom, _add_ingest, _add_reproduce, _add_demo,
                _add_predict, _add_evaluate, _add_lesion_train, _add_lesion_score, _add_lesion_ensemble):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)  # numerical RuntimeWarnings (e.g. undefined metrics) go through logging
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError, KeyError) as exc:  # user input problems: one clear line, non-zero exit
        if args.verbose:
            raise
        msg = " ".join(str(exc).split()) or type(exc).__name__  # always ONE line (torch / pandas messages span several)
        print(f"cacscore {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
