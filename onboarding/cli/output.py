"""Formatting for people: tables, ages, and text a terminal cannot be steered by.

Names, transaction IDs and messages come from events. Printed raw, an ESC, CR or OSC sequence in
a customer name erases or forges queue lines and retitles the terminal; every value printed
here goes through :func:`printable`, which shows such characters as escapes (``\x1b``).
``--json`` output is JSON-escaped already.
"""

from __future__ import annotations

from datetime import datetime

from onboarding.domain.text import printable

__all__ = ["age", "printable", "safe_lines", "table"]


def safe_lines(text: str) -> str:
    """``text`` for a terminal: its lines kept, every steering character within them escaped."""
    return "\n".join(printable(line) for line in text.split("\n"))


def age(since: datetime, now: datetime) -> str:
    """How long ago ``since`` was: ``42m``, ``3h05m`` or ``4d``."""
    minutes = int((now - since).total_seconds() // 60)
    if minutes < 60:
        return f"{minutes}m"
    if minutes < 48 * 60:
        return f"{minutes // 60}h{minutes % 60:02d}m"
    return f"{minutes // 1440}d"


def table(rows: list[list[str]], headers: list[str]) -> str:
    """A left-aligned table; every cell printable (see :func:`printable`)."""
    rows = [[printable(str(c)) for c in r] for r in rows]
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)
