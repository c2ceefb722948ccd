"""File names of a regression model bundle, and where a folder's bundles are.

Kept here, free of torch, so that ``cacscore.predict`` can tell a bundle folder from a lesion model or a DICOM
folder without importing ``cacscore.regress`` (torch costs about a second of a cold ``predict``).
``cacscore.regress.bundle`` writes and reads bundles with these names.
"""

from __future__ import annotations

from pathlib import Path

FORMAT = "cacscore-bundle/1"
WEIGHTS = "model.safetensors"
CONFIG = "config.json"


def bundle_dirs(directory: Path) -> list[Path]:
    """The bundle folders a model folder holds: itself when it has a ``config.json``, else its ``fold*/`` folders
    that have one (sorted), else none."""
    directory = Path(directory)
    if (directory / CONFIG).is_file():
        return [directory]
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob("fold*") if (p / CONFIG).is_file())
