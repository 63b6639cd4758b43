"""Errors as the operator sees them: one readable line, never a traceback."""

from __future__ import annotations


def one_line(exc: BaseException) -> str:
    """The first line of an error: a contract's revert reason if it has one, else its text,
    else the name of its type."""
    msg = getattr(exc, "revert_message", None)
    text = (msg or str(exc)).strip() or type(exc).__name__
    return text.splitlines()[0]


class MigrationError(Exception):
    """The migration (or the operator's secret it needs) cannot go on; the message is one line."""
