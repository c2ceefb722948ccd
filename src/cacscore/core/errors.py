"""Error text as every command shows it: one line, naming the file (the exception's own message does)."""

from __future__ import annotations


def one_line(exc: BaseException, *, name_unexpected: bool = False) -> str:
    """The exception's message on one line (library messages may span lines). name_unexpected: prefix the type
    of anything that is not a ValueError / OSError (the expected input problems), so a bug reads as one."""
    msg = " ".join(str(exc).split())
    if name_unexpected and not isinstance(exc, (ValueError, OSError)):
        return f"{type(exc).__name__}: {msg}"
    return msg or type(exc).__name__
