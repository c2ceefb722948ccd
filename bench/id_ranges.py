"""Patient-number ranges on the bench scripts' command lines: "1-12", "1,5,9", "1-3,7" (inclusive), one parser for
every bench (six had their own copy)."""

from __future__ import annotations


def id_range(spec: str) -> list[int]:
    """The numbers of ``spec``, in its order: comma-separated single numbers or inclusive LO-HI ranges."""
    out: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out += range(int(lo), int(hi or lo) + 1)
    return out
