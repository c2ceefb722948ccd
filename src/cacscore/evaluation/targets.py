"""Target scaling of the four vessel Agatston scores.

The paper does not say how it normalised its targets (its MSEs of ~0.009 imply scores scaled to about [0, 1]).
``linear``: z = y / max_train (per vessel). ``log``: z = log1p(y) / max_train(log1p(y)) (per vessel).
Both map the training split into [0, 1]; ``inverse`` maps model outputs back to Agatston units (clipped at 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

KINDS = ("linear", "log")


@dataclass(frozen=True)
class TargetScaler:
    kind: str
    scale: tuple[float, ...]  # per-vessel divisor (in Agatston for linear, in log1p(Agatston) for log)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown target scaling {self.kind!r}; choose from {KINDS}")
        if any(not np.isfinite(s) or s <= 0 for s in self.scale):
            raise ValueError(f"target scale must be positive and finite, got {self.scale}")

    @classmethod
    def fit(cls, y_agatston: np.ndarray, *, kind: str) -> "TargetScaler":
        """Fit on the training split's scores, shape (N, V) in Agatston units. A vessel with max 0 gets scale 1."""
        y = np.asarray(y_agatston, dtype=np.float64)
        if y.ndim != 2 or len(y) == 0:
            raise ValueError(f"targets must have shape (N, V) with N > 0, got {y.shape}")
        if np.any(y < 0) or not np.all(np.isfinite(y)):
            raise ValueError("targets must be finite Agatston scores >= 0")
        if kind not in KINDS:
            raise ValueError(f"unknown target scaling {kind!r}; choose from {KINDS}")
        m = (np.log1p(y) if kind == "log" else y).max(axis=0)
        return cls(kind, tuple(float(v) if v > 0 else 1.0 for v in m))

    def transform(self, y_agatston: np.ndarray) -> np.ndarray:
        """Agatston (N, V) -> scaled float32 (N, V)."""
        y = np.asarray(y_agatston, dtype=np.float64)
        z = np.log1p(y) if self.kind == "log" else y
        return (z / np.asarray(self.scale)).astype(np.float32)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """Scaled model output (N, V) -> Agatston (N, V), float64, clipped at 0 and rounded to whole units.

        Agatston scores are reported as whole numbers; rounding also lets a regressor say "zero calcium"
        (an output below 0.5 Agatston becomes 0), which the 0 risk category needs.
        """
        z = np.asarray(z, dtype=np.float64) * np.asarray(self.scale)
        y = np.expm1(np.clip(z, 0.0, 50.0)) if self.kind == "log" else z
        return np.round(np.clip(y, 0.0, None))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "scale": list(self.scale)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TargetScaler":
        return cls(str(d["kind"]), tuple(float(s) for s in d["scale"]))
