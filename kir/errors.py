"""Errors kir raises for bad input. All are ValueErrors, so callers can catch either."""

from __future__ import annotations


class KirError(ValueError):
    """Base class of every error kir raises for bad input."""


class FormulaError(KirError):
    """A formula that cannot be parsed or built: names the position with a caret under it."""

    def __init__(self, message: str, source: str | None = None, start: int = 0, end: int | None = None):
        self.message = message
        self.source = source
        self.start = start
        self.end = start + 1 if end is None else max(end, start + 1)
        if source is None:
            super().__init__(message)
            return
        caret = " " * start + "^" * (self.end - start)
        super().__init__(f"{message} (at position {start})\n  {source}\n  {caret}")


class ArgumentError(KirError):
    """Arrays passed to a kernel that do not match its signature."""
