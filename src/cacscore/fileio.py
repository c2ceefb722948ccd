"""Atomic file writes: every output goes to a temporary file in the same folder, then os.replace.

An interrupted run therefore never leaves a half-written file under the final name, and an
existing file is only ever replaced by a complete one.
"""

from __future__ import annotations

import os
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
    path.parent.mkdir(parents=True, exist_ok=True)
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
