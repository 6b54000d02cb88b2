"""The one error type an author sees: `path:line: message`, no traceback."""
from __future__ import annotations

import difflib
from pathlib import Path


class BuildError(Exception):
    """A problem in the author's input, reported as one line `path:line: message`."""

    def __init__(self, path: str | Path | None, line: int | None, message: str):
        self.path = str(path) if path is not None else None
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path or "<input>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}"


def closest(word: str, choices, n: int = 1) -> list[str]:
    """The nearest valid choices to a misspelt name, best first."""
    return difflib.get_close_matches(word, list(choices), n=n, cutoff=0.4)


def did_you_mean(word: str, choices) -> str:
    """' (did you mean "x"?)' or ' (known: a, b, c)' as a hint to append to a message."""
    choices = sorted(choices)
    near = closest(word, choices)
    if near:
        return f' (did you mean "{near[0]}"?)'
    if not choices:
        return " (none are defined)"
    shown = ", ".join(choices[:12]) + (", ..." if len(choices) > 12 else "")
    return f" (known: {shown})"
