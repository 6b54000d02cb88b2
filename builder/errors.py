"""The one error type an author sees: `path:line: message`, no traceback."""
from __future__ import annotations

import codecs
import difflib
import re
import reprlib
from pathlib import Path

# The most an error message quotes of one value (`shown`, `cut`), and of itself (BuildError).
QUOTE_LIMIT = 60
MESSAGE_LIMIT = 600


class BuildError(Exception):
    """A problem in the author's input, reported as one line `path:line: message`."""

    def __init__(self, path: str | Path | None, line: int | None, message: str):
        self.path = str(path) if path is not None else None
        self.line = line
        if len(message) > MESSAGE_LIMIT:  # a value quoted without `shown`: keep the start and the hint
            message = message[:MESSAGE_LIMIT // 2] + " ... " + message[-MESSAGE_LIMIT // 3:]
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path or "<input>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return one_line(f"{where}: {self.message}")


class _Repr(reprlib.Repr):
    """Python's repr of a value, bounded in depth, items and length at every level, so that a
    large or deeply shared value (a YAML alias bomb) costs a few hundred characters to show."""

    def __init__(self):
        super().__init__()
        self.maxlevel, self.maxtuple, self.maxlist, self.maxarray, self.maxdict = 3, 4, 4, 4, 4
        self.maxset, self.maxfrozenset, self.maxdeque = 4, 4, 4
        self.maxstring, self.maxlong, self.maxother = QUOTE_LIMIT, 40, QUOTE_LIMIT

    def repr_int(self, x, level):  # str() of a huge int is itself slow, or refused
        return repr(x) if x.bit_length() < 128 else f"<an integer of about {int(x.bit_length() * 0.30103)} digits>"


_REPR = _Repr()


def cut(text, limit: int = QUOTE_LIMIT) -> str:
    """Text quoted in a one-line message: on one line, and at most `limit` characters ('...'
    marks a cut)."""
    text = str(text)
    head = one_line(text[:limit + 1])
    return head if len(head) <= limit and len(text) <= limit else head[:max(limit - 3, 1)].rstrip() + "..."


def shown(value, limit: int = QUOTE_LIMIT) -> str:
    """A value quoted in an error message as Python writes it ('text', [1, 2], None), cut to
    about `limit` characters. Every error message that quotes a value the author wrote uses this
    or `cut`: the whole repr of a large value is never built."""
    return cut(_REPR.repr(value), limit)


_BREAKS = re.compile(r"\s*[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]\s*")


def one_line(text: str) -> str:
    """`text` as one printable line: line breaks become spaces, other invisible characters
    (a NUL, a control character quoted from the input) are written as escapes like \\x00."""
    text = _BREAKS.sub(" ", text)
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


# Characters an author never means to type: C0 controls other than tab and the line breaks,
# DEL, C1 controls (often Windows-1252 text decoded as Latin-1) and the Unicode line and
# paragraph separators (a line break to Python, not to Markdown or TOML, so line numbers would
# drift). Non-breaking spaces and other printable Unicode are fine.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
         (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))


def _describe(ch: str) -> str:
    name = {"\x00": "a NUL byte", "\x0c": "a form feed", "\x0b": "a vertical tab", "\x1b": "an escape character",
            "\u2028": "a Unicode line separator", "\u2029": "a Unicode paragraph separator"}.get(ch)
    return f"{name} (U+{ord(ch):04X})" if name else f"the control character U+{ord(ch):04X}"


def check_text(text: str, path) -> None:
    """Raise a BuildError at the first character an author cannot have meant (see _CONTROL)."""
    bad = _CONTROL.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        hint = ("the file may be UTF-16; save it as UTF-8" if bad.group() == "\x00"
                else "delete it; it is invisible in most editors")
        raise BuildError(path, line, f"{_describe(bad.group())} at column {column} (hint: {hint})")


def decode_source(data: bytes, path) -> str:
    """An input file's bytes as text: UTF-8 (a UTF-8 byte-order mark is dropped), line breaks
    made \\n, no control characters. Anything else is a BuildError naming the line."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise BuildError(path, 1, f"the file is {name}, not UTF-8 (hint: save it as UTF-8)")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = len(data[data.rfind(b"\n", 0, exc.start) + 1:exc.start].decode("utf-8", "replace")) + 1
        shown = data[exc.start:exc.end].hex(" ")
        raise BuildError(path, line, f"not UTF-8: byte {shown} at column {column} cannot be read "
                                     "(hint: save the file as UTF-8; it may be Latin-1 or Windows-1252)") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    check_text(text, path)
    return text


def read_source(file: Path, shown=None) -> str:
    """Read an input file (content/*.md, references.bib, experiments.toml) with decode_source;
    errors name it as `shown` (the path relative to the project root)."""
    shown = shown if shown is not None else file
    try:
        data = Path(file).read_bytes()
    except OSError as exc:  # a folder named like a page, a file without read permission
        raise BuildError(shown, None, f"cannot read the file: {exc.strerror or exc} "
                                      "(hint: it must be a readable text file)") from None
    return decode_source(data, shown)


def closest(word: str, choices, n: int = 1) -> list[str]:
    """The nearest valid choices to a misspelt name, best first (none for a name far longer
    than any choice)."""
    choices = list(choices)
    if len(word) > 4 * max((len(str(c)) for c in choices), default=0) + 20:
        return []
    return difflib.get_close_matches(word, choices, n=n, cutoff=0.4)


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

