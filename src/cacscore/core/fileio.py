"""Atomic file writes: every output goes to a temporary file in the same folder, then os.replace.

An interrupted run therefore never leaves a half-written file under the final name, and an
existing file is only ever replaced by a complete one.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np


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
        os.replace(tmp_path, path)  # same folder, so the rename is atomic
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


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


def load_safetensors(path: str | os.PathLike, *, device: str = "cpu") -> dict[str, Any]:
    """``safetensors.torch.load_file`` whose failures name the file: missing, unreadable, not safetensors
    (garbage, truncated header or data), or a floating-point tensor holding NaN/inf (a model with such
    weights silently gives NaN or constant outputs). Returns {name: torch.Tensor}. Never unpickles.
    """
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise WeightsFileError(f"{path}: no such weights file")
    try:
        tensors = load_file(str(path), device=device)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        msg = " ".join(str(exc).split()) or type(exc).__name__
        raise WeightsFileError(f"{path}: not a readable safetensors file ({msg})") from None
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
