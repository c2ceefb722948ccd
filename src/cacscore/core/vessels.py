"""The one place that names the coronary vessels, their order and their label values.

Label volumes use 0 = background, 1 = LCA (left main), 2 = LAD, 3 = LCX, 4 = RCA.
Every array with a vessel axis (targets, predictions, score tables) uses the order of ``VESSELS``.
"""

from __future__ import annotations

VESSELS: tuple[str, ...] = ("LCA", "LAD", "LCX", "RCA")
"""Vessel names in canonical order. LCA means the left main coronary artery."""

LABEL_OF: dict[str, int] = {name: i + 1 for i, name in enumerate(VESSELS)}
"""Label value of each vessel in a label volume (LCA=1, LAD=2, LCX=3, RCA=4)."""

VESSEL_OF_LABEL: dict[int, str] = {v: k for k, v in LABEL_OF.items()}

SCORE_COLUMNS: tuple[str, ...] = (*VESSELS, "total")
"""Column names of every per-scan score table (a CLI contract)."""

# Artery names as written in COCA's OsiriX/Horos ROI plists.
COCA_ARTERY_NAMES: dict[str, str] = {
    "Left Coronary Artery": "LCA",
    "Left Anterior Descending Artery": "LAD",
    "Left Circumflex Artery": "LCX",
    "Right Coronary Artery": "RCA",
}
