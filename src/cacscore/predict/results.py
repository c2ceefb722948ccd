"""What scoring one scan and a cohort gives: :class:`ScanResult` and :class:`PredictRun`.

Outputs (a CLI contract), one row per scan:
  id, LCA, LAD, LCX, RCA, total (Agatston), cat4, cat5 (risk categories of the total), category (the four-class
  category's name, "0" / "1-99" / "100-399" / ">=400", followed by " (unreliable model)" when the model is flagged
  unreliable, so a category is never shown bare for such a model),
  sd_LCA, sd_LAD, sd_LCX, sd_RCA, sd_total (ensembles only: SD over the fold models, Agatston),
  warnings ("; "-joined), and with keep_phi also patient_id / study_date from the DICOM header.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cacscore.chest.anatomy import ChestAnatomy
from cacscore.chest.heart import HeartFinding
from cacscore.core.categories import CATEGORY4_LABELS, risk_category4, risk_category5
from cacscore.core.vessels import VESSELS

if TYPE_CHECKING:  # pandas is imported where a table is made: a plain `cacscore predict` needs none (0.2-0.4 s)
    import pandas as pd


@dataclass
class ScanResult:
    """Scores of one scan. scores / sd: (4,) Agatston in VESSELS order; sd None for one model.

    heart: the heart the checks (and, for a lesion model, the candidates) refer to. What the picture needs,
    kept only until it is drawn (:meth:`drop_view`): model_input, the preprocessed int16 HU (slices, size,
    size) a regressor saw; labels, the (z, y, x) uint8 vessel label of every calcium voxel a lesion model
    assigned; candidates, the (z, y, x) bool calcium candidates it classified; anatomy, the chest anatomy it
    judged them in (``cacscore.chest.anatomy.ChestAnatomy``, drawn under the lesions).
    """

    id: str = ""
    path: Path | None = None
    scores: np.ndarray | None = None
    sd: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    phi: dict[str, str] = field(default_factory=dict)
    report_png: Path | None = None
    heart: HeartFinding | None = None
    model_input: np.ndarray | None = None
    labels: np.ndarray | None = None
    candidates: np.ndarray | None = None
    model_unreliable: bool = False
    anatomy: ChestAnatomy | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def total(self) -> float:
        assert self.scores is not None
        return float(self.scores.sum())

    def vessel_scores(self) -> dict[str, float]:
        """{LCA, LAD, LCX, RCA, total: Agatston} of an ok result."""
        assert self.scores is not None
        return {**{v: float(s) for v, s in zip(VESSELS, self.scores)}, "total": self.total}

    def drop_view(self) -> None:
        """Forget the picture's arrays (a cohort keeps only the scores: a 512 x 512 x 300 label volume is 79 MB)."""
        self.model_input = self.labels = self.candidates = self.anatomy = None

    def category(self) -> str:
        """The four-class category's name, marked when the model that gave it is flagged unreliable."""
        name = CATEGORY4_LABELS[risk_category4(self.total, clip_negative=True)]
        return f"{name} (unreliable model)" if self.model_unreliable else name

    def row(self) -> dict[str, Any]:
        """Output row (see module docstring); only for ok results."""
        r: dict[str, Any] = {"id": self.id, **self.vessel_scores(),
                             "cat4": risk_category4(self.total, clip_negative=True),
                             "cat5": risk_category5(self.total, clip_negative=True), "category": self.category()}
        if self.sd is not None:
            r.update({f"sd_{v}": float(s) for v, s in zip((*VESSELS, "total"), self.sd)})
        r["warnings"] = "; ".join(self.warnings)
        r.update(self.phi)
        return r


@dataclass
class PredictRun:
    results: list[ScanResult]
    problems: list[tuple[str, str]]  # (input, reason) for inputs that named no scan

    @property
    def ok(self) -> list[ScanResult]:
        return [r for r in self.results if r.ok]

    @property
    def failed(self) -> list[ScanResult]:
        return [r for r in self.results if not r.ok]

    def table(self) -> pd.DataFrame:
        """The output table (ok scans only), columns as in the module docstring."""
        import pandas as pd

        rows = [r.row() for r in self.ok]
        cols = ["id", *VESSELS, "total", "cat4", "cat5", "category"]
        if any(r.sd is not None for r in self.ok):
            cols += [f"sd_{v}" for v in (*VESSELS, "total")]
        cols += ["warnings"]
        if any(r.phi for r in self.ok):
            cols += ["patient_id", "study_date"]
        return pd.DataFrame(rows, columns=cols)

    def terminal_table(self) -> str:
        """The short table ``cacscore predict`` prints: id, the four vessels and the total (Agatston, one
        decimal), the category (marked when the model is unreliable) and the warnings, one per line under the
        warnings column. Failed scans are not in it (the caller lists them)."""
        head = ["id", *VESSELS, "total", "category", "warnings"]
        rows = [[r.id, *(f"{v:.1f}" for v in r.vessel_scores().values()), r.category(), list(r.warnings) or ["-"]]
                for r in self.ok]
        widths = [max([len(h), *(len(row[k]) for row in rows)]) for k, h in enumerate(head[:-1])]
        right = {k for k, h in enumerate(head) if h in (*VESSELS, "total")}  # numbers align right

        def line(cells: list[str]) -> str:
            return "  ".join(c.rjust(w) if k in right else c.ljust(w) for k, (c, w) in enumerate(zip(cells, widths)))

        out = [line(head[:-1]) + "  " + head[-1]]
        for row in rows:
            out.append(line(row[:-1]) + "  " + row[-1][0])
            out += [line([""] * len(widths)) + "  " + w for w in row[-1][1:]]
        return "\n".join(out) + "\n"

    def to_json(self) -> str:
        ok = []
        for r in self.ok:
            d = r.row()
            d["warnings"] = list(r.warnings)
            ok.append(d)
        failed = [{"id": r.id, "input": str(r.path), "error": r.error} for r in self.failed]
        failed += [{"id": None, "input": i, "error": e} for i, e in self.problems]
        return json.dumps({"scans": ok, "failed": failed}, indent=1)
