"""A cohort job's map over scans: in order, in a process pool when asked, with a progress bar."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def watch_parent(poll_s: float = 1.0) -> None:
    """Pool worker start: end this worker when the process that started it dies (SIGKILL, a crash), instead of
    living on under PID 1, writing, then blocking forever on a pipe nobody reads. Linux: the kernel sends SIGTERM
    (prctl PR_SET_PDEATHSIG); everywhere: a daemon thread that exits when the parent PID changes."""
    parent = os.getppid()
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


@contextmanager
def stopping_pool(pool: ProcessPoolExecutor) -> Iterator[None]:
    """Run a pool's work so that SIGTERM on this process (in the main thread) or any exception ends it at once:
    the queued jobs are cancelled and the running workers terminated, not waited for (which the executor's own
    shutdown does; it has no way to stop running jobs before Python 3.14's terminate_workers, hence its private
    ``_processes``)."""
    main = threading.current_thread() is threading.main_thread()
    old = signal.getsignal(signal.SIGTERM) if main else None

    def on_term(signum, frame):  # noqa: ARG001 - signal handler signature
        raise SystemExit(128 + signum)

    if main:
        signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    except BaseException:
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        if main:
            signal.signal(signal.SIGTERM, old)


def one_torch_thread() -> None:
    """Pool worker start (the pool's own processes only): one torch thread, since the workers already split the
    cores (with 2 threads on 2 busy cores a tiny model ran ~20x slower). torch is not imported for it: a worker
    that never needs torch (the candidate scorer runs in numpy) saves its import, about a second of CPU; one that
    imports it later starts with OMP_NUM_THREADS=1, which torch reads at import."""
    import sys

    watch_parent()
    if "torch" in sys.modules:  # inherited from the parent (fork): set it now
        sys.modules["torch"].set_num_threads(1)
    else:
        os.environ["OMP_NUM_THREADS"] = "1"


def map_jobs(fn: Callable[[Any], Any], jobs: list, workers: int, desc: str, progress: bool) -> list:
    """fn over jobs in order, in a process pool when workers > 1, with a tqdm bar."""
    from tqdm import tqdm

    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    bar = {"total": len(jobs), "desc": desc, "unit": "scan", "disable": not progress or None}
    if workers == 1 or len(jobs) <= 1:
        return [fn(j) for j in tqdm(jobs, **bar)]
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), initializer=one_torch_thread) as pool, \
            stopping_pool(pool):
        return list(tqdm(pool.map(fn, jobs), **bar))
