"""A cohort job's map over scans: in order, in a process pool when asked, with a progress bar."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any


def one_torch_thread() -> None:
    """Pool worker start (the pool's own processes only): one torch thread, since the workers already split the
    cores and the candidate MLP is tiny (with 2 threads on 2 busy cores it ran ~20x slower)."""
    import torch

    torch.set_num_threads(1)


def map_jobs(fn: Callable[[Any], Any], jobs: list, workers: int, desc: str, progress: bool) -> list:
    """fn over jobs in order, in a process pool when workers > 1, with a tqdm bar."""
    from tqdm import tqdm

    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    bar = {"total": len(jobs), "desc": desc, "unit": "scan", "disable": not progress or None}
    if workers == 1 or len(jobs) <= 1:
        return [fn(j) for j in tqdm(jobs, **bar)]
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), initializer=one_torch_thread) as pool:
        return list(tqdm(pool.map(fn, jobs), **bar))
