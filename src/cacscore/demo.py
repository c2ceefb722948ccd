"""``cacscore demo OUT``: synthetic release -> cohort cache -> the paper's protocol, on a laptop CPU in minutes.

OUT/release/  synthetic non-gated chest CT (COCA layout, exact per-vessel scores)    (cacscore.phantom)
OUT/cache/    cohort cache (73 x size x size int16 HU)                                 (cacscore.cache)
OUT/reproduce/ table1.csv/.md, fig2_loss_curves.png, fig3_saliency.png, models/        (cacscore.reproduce)
OUT/demo_config.json  what was run (cohort, grid, epochs) and how long each stage took

The demo grid is one grid point and few epochs (``cv.GRIDS["demo"]``) so that 5 folds x 3 models fit the
time budget; ``cacscore reproduce`` with ``--grid small`` or ``paper`` is the full search.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from cacscore.cv import GRIDS
from cacscore.fileio import atomic_write_text

log = logging.getLogger(__name__)


def run_demo(out: Path, *, n_patients: int = 80, size: int = 128, seed: int = 0, workers: int = 2,
             models: tuple[str, ...] = ("cnn", "se_cnn", "vit"), grid: dict | None = None,
             device: str = "auto", progress: bool = True) -> dict[str, Path]:
    """Run the demo into ``out`` (reusing finished stages of an earlier run there); returns artefact paths."""
    from cacscore.cache import ingest
    from cacscore.phantom import write_release
    from cacscore.preprocess import PreprocessConfig
    from cacscore.reproduce import reproduce

    if n_patients < 20:
        raise ValueError(f"the demo needs at least 20 patients for a 20% test split and 5 folds, got {n_patients}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    grid = dict(grid or GRIDS["demo"])
    config = PreprocessConfig(size=size)
    timings: dict[str, float] = {}
    settings = {"n_patients": n_patients, "size": size, "seed": seed, "models": list(models), "grid": grid,
                "preprocess": config.to_dict(), "n_folds": 5, "timings_s": timings}

    def write_settings() -> None:
        atomic_write_text(out / "demo_config.json", json.dumps(settings, indent=1))

    write_settings()
    release = out / "release"
    t = time.perf_counter()
    if not (release / "truth.csv").is_file():  # truth.csv is written last: its presence marks a finished release
        log.info("demo: writing %d synthetic patients (%d x %d) to %s", n_patients, size, size, release)
        write_release(release, n_patients=n_patients, seed=seed, size=size, workers=workers)
    timings["phantom"] = time.perf_counter() - t
    t = time.perf_counter()
    log.info("demo: ingesting into %s", out / "cache")
    ingest(release, out / "cache", config=config, workers=workers)  # verifies and skips finished scans
    timings["ingest"] = time.perf_counter() - t
    t = time.perf_counter()
    paths = reproduce(out / "cache", out / "reproduce", models=models, grid=grid, device=device, seed=seed,
                      progress=progress)
    timings["reproduce"] = time.perf_counter() - t
    write_settings()
    log.info("demo: phantom %.0f s, ingest %.0f s, reproduce %.0f s", timings["phantom"], timings["ingest"],
             timings["reproduce"])
    return {"demo_config.json": out / "demo_config.json", "release": release, "cache": out / "cache", **paths}
