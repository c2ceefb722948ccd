"""Atomic file writes: every output goes to a temporary file in the same folder, then os.replace.

An interrupted run therefore never leaves a half-written file under the final name, and an
existing file is only ever replaced by a complete one.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import stat
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


@contextmanager
def atomic_path(path: str | os.PathLike, *, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    suffix: the temporary file's ending (e.g. ".png" where a writer infers the format from it).
    """
    path = Path(path)
    if path.is_dir():  # os.replace would fail only after the whole file was written, naming the temp file
        raise IsADirectoryError(f"{path}: is a folder; give a file path to write")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):  # a file stands where a folder of the path should be
        raise NotADirectoryError(f"{path}: cannot write: a file stands in its folder path ({path.parent})") from None
    # A unique name that the writer creates itself, so the file gets the usual permissions (umask),
    # not the owner-only mode of tempfile.mkstemp.
    tmp_path = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{suffix}")
    try:
        yield tmp_path
        _keep_mode(path, tmp_path)
        os.replace(tmp_path, path)  # same folder, so the rename is atomic
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _keep_mode(path: Path, tmp: Path) -> None:
    """Give the new file the permission bits of the file it replaces (a results file a group may read stays so;
    one made private stays private)."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return
    os.chmod(tmp, mode)


TEMP_PATTERN = re.compile(r"^\..+\.\d+\.[0-9a-f]{8}(\.[A-Za-z0-9.]+)?$")
"""Names :func:`atomic_path` gives its temporary files: ``.<name>.<pid>.<8 hex><suffix>``."""


def remove_stale_temps(folder: str | os.PathLike) -> int:
    """Delete temporary files left by a killed writer in ``folder`` (not recursive): those of :func:`atomic_path`
    whose writing process is gone. Call it holding the folder's lock (:func:`output_lock`). Returns how many."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    n = 0
    for f in folder.iterdir():
        if not TEMP_PATTERN.match(f.name) or not f.is_file():
            continue
        pid = _temp_pid(f.name)
        if pid is not None and pid != os.getpid() and _alive(pid):
            continue
        f.unlink(missing_ok=True)
        n += 1
    if n:
        log.info("%s: %d stale temporary file(s) of an interrupted run removed", folder, n)
    return n


def _temp_pid(name: str) -> int | None:
    m = re.search(r"\.(\d+)\.[0-9a-f]{8}(\.|$)", name)
    return int(m.group(1)) if m else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 text to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")


def atomic_save_npy(path: str | os.PathLike, arr: np.ndarray) -> None:
    """np.save ``arr`` to ``path`` atomically (no pickles)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, arr, allow_pickle=False)


def atomic_savefig(fig: Any, path: str | os.PathLike, *, dpi: int = 100) -> None:
    """Save a matplotlib figure to ``path`` atomically (format from the path's suffix)."""
    with atomic_path(path, suffix=Path(path).suffix) as tmp:
        fig.savefig(tmp, dpi=dpi)


class WeightsFileError(ValueError):
    """A safetensors weights file that cannot be used; the message names the file and the problem."""


def load_safetensors(path: str | os.PathLike, *, device: str = "cpu", numpy: bool = False) -> dict[str, Any]:
    """``safetensors.torch.load_file`` whose failures name the file: missing, unreadable, not safetensors
    (garbage, truncated header or data), or a floating-point tensor holding NaN/inf (a model with such
    weights silently gives NaN or constant outputs). Returns {name: torch.Tensor}. Never unpickles.
    numpy: read with ``safetensors.numpy`` instead and return {name: np.ndarray}, without importing torch
    (about a second of a cold ``cacscore predict``); same checks, same messages.
    """
    from safetensors import SafetensorError

    path = Path(path)
    if not path.is_file():
        raise WeightsFileError(f"{path}: no such weights file")
    try:
        if numpy:
            from safetensors.numpy import load_file as load_numpy

            tensors = load_numpy(str(path))
        else:
            from safetensors.torch import load_file

            tensors = load_file(str(path), device=device)
    except (SafetensorError, OSError, ValueError, RuntimeError, TypeError) as exc:
        msg = " ".join(str(exc).split()) or type(exc).__name__
        raise WeightsFileError(f"{path}: not a readable safetensors file ({msg})") from None
    if numpy:
        bad = [k for k, a in tensors.items() if a.dtype.kind == "f" and not np.isfinite(a).all()]
    else:
        import torch

        bad = [k for k, t in tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        raise WeightsFileError(f"{path}: tensor(s) {sorted(bad)[:3]} hold NaN or infinite values")
    return tensors


class OutputFolderError(ValueError):
    """An output folder (``--report``, ``--labels-out``, a model folder) that cannot be made: a file stands there
    or on its way."""


def make_output_folder(path: str | Path, *, create: bool = True) -> Path:
    """Check that ``path`` can be a folder (nothing but folders at it and above it) and, with create, make it.

    Raises OutputFolderError "<path>: is a file; give a folder" (or naming the file on its way) instead of
    mkdir's "[Errno 17] File exists" / "[Errno 20] Not a directory", which name neither the option nor the fix.
    """
    p = Path(path)
    for q in (p, *p.parents):
        if q.exists() and not q.is_dir():
            if q == p:
                raise OutputFolderError(f"{p}: is a file; give a folder")
            raise OutputFolderError(f"{p}: cannot make this folder: {q} is a file; give a folder")
    if create:
        p.mkdir(parents=True, exist_ok=True)
    return p


class OutputLockedError(OSError):
    """An output another cacscore run is writing (its lock is held)."""


def _lock_file(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


@contextmanager
def output_lock(paths: Sequence[str | os.PathLike | None]) -> Iterator[None]:
    """Hold an advisory lock (``filelock``, a ``.<name>.lock`` file beside each output) on every output of a run,
    so that two runs writing the same ``--out`` / ``--labels-out`` / cache cannot mix their files: the second is
    refused at once, naming the output. None entries are skipped. The lock files stay (empty, hidden); a lock
    dies with its process, so a killed run never blocks the next."""
    from filelock import FileLock, Timeout

    with ExitStack() as stack:
        for raw in paths:
            if raw is None:
                continue
            p = Path(raw).absolute()
            lock = _lock_file(p)
            try:
                lock.parent.mkdir(parents=True, exist_ok=True)
            except OSError:
                continue  # the output's own check names the problem (check_writable / make_output_folder)
            try:
                stack.enter_context(FileLock(str(lock), timeout=0))
            except Timeout:
                raise OutputLockedError(f"{raw}: another cacscore run is writing it now (lock {lock}); wait for it to "
                                        "finish or choose another output") from None
        yield


def check_writable(path: str | os.PathLike, *, folder: bool = False) -> Path:
    """Refuse an output that cannot be written, before any work: a folder where a file goes (or the reverse), a
    file on its way, or no permission to create or replace it. The message names the user's path (not a
    temporary name) and the problem."""
    p = Path(path)
    if folder:
        make_output_folder(p, create=False)  # "is a file; give a folder", or the file on its way
    else:
        if p.is_dir():
            raise IsADirectoryError(f"{p}: is a folder; give a file path to write")
        for q in p.parents:
            if q.exists() and not q.is_dir():
                raise NotADirectoryError(f"{p}: cannot write: a file stands in its folder path ({q})")
    # where the files (or the folders leading to them) will be created: the nearest existing folder
    where = p if folder and p.is_dir() else next(q for q in p.parents if q.exists())
    # a probe file, not os.access: that says yes to root on a read-only file system or a /proc-like folder
    probe = where / f".cacscore-probe.{os.getpid()}.{secrets.token_hex(4)}"
    try:
        probe.touch(exist_ok=False)
        probe.unlink()
    except OSError as exc:
        raise PermissionError(f"{p}: cannot write there ({where}: {exc.strerror or type(exc).__name__})") from None
    return p


def write_table(path: str | os.PathLike, text: str, *, rows: int, attempted: int, force: bool = False) -> bool:
    """Write a results table atomically, but never lose an earlier one to a run that scored nothing: with no scan
    attempted nothing is written; with no row scored an existing file is kept unless ``force``. Returns whether
    the file was written (a kept file is logged as a warning)."""
    p = Path(path)
    if attempted == 0:
        log.warning("%s: not written: no scan was attempted", p)
        return False
    if rows == 0 and p.exists() and not force:
        log.warning("%s: kept as it was: this run scored no scan (--force replaces it anyway)", p)
        return False
    atomic_write_text(p, text)
    return True


def safe_name(scan_id: str) -> str:
    """A file-name-safe form of a scan id (other characters become '_')."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", scan_id) or "scan"


def natural_key(s: str) -> tuple:
    """Sort key that orders names as people do (2 before 10; all-digit names before the others)."""
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", s) if t)


class JsonFileError(ValueError):
    """A JSON file that cannot be used: not UTF-8, not JSON, or not a JSON object (the message names the file)."""


def read_json_object(path: str | Path, *, what: str) -> dict[str, Any]:
    """The JSON object in ``path``; JsonFileError naming the file otherwise. what: what the file should be, for
    the message (e.g. "a bundle config": "... not a bundle config (a JSON list, not an object)")."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise JsonFileError(f"{path}: not valid JSON (not UTF-8 text: {exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise JsonFileError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise JsonFileError(f"{path}: not {what} (a JSON {type(obj).__name__}, not an object)")
    return obj
