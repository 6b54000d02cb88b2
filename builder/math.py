"""TeX to MathML at build time (no math JavaScript in the page).

latex2mathml does the conversion; this module adds what the article needs on top of it and
turns everything it cannot convert into a BuildError instead of silently emitting raw TeX:
- macros: \\argmax, \\argmin (defined here), and `aligned` (converted as `split`, the same
  right/left alternating columns);
- strict checks: balanced braces, paired \\left/\\right and \\begin/\\end, no unknown commands.
"""
from __future__ import annotations

import re
from functools import lru_cache
from xml.etree.ElementTree import tostring

import latex2mathml.converter

from builder.errors import BuildError, cut

# Macros the article uses that latex2mathml lacks. Applied as whole-word replacements.
MACROS = {
    r"\argmax": r"\operatorname{argmax}",
    r"\argmin": r"\operatorname{argmin}",
    r"\R": r"\mathbb{R}",
}
ENV_ALIASES = {"aligned": "split", "aligned*": "split"}

_COMMAND = re.compile(r"\\([A-Za-z]+)")
_UNKNOWN = re.compile(r"<m[io]>\\([A-Za-z]+)</m[io]>|<mtext>\\([A-Za-z]+)")
_STRAY_AMP = re.compile(r"<m[io][^>]*>&amp;</m[io]>")
_CHARREF = re.compile(r"&amp;(#x[0-9A-Fa-f]+;)")
# Control symbols (a backslash and one non-letter) that latex2mathml converts.
_SYMBOLS = set(",;:>! {}|%#_&$\\")


class MathError(ValueError):
    """TeX that cannot be converted; the message says what is wrong."""


def _check_balance(tex: str) -> None:
    depth = 0
    escaped = False
    for ch in tex:
        if escaped:
            escaped = False
            if ch.isspace() and ch not in _SYMBOLS:  # keep the one-line message on one line
                raise MathError("a backslash before a line break")
            if not ch.isalpha() and ch not in _SYMBOLS:
                raise MathError(f"unknown TeX command \\{ch}")
            continue
        if ch == "\\":
            escaped = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                raise MathError("unmatched '}'")
    if escaped:
        raise MathError("a lone backslash at the end")
    if depth:
        raise MathError(f"{depth} unclosed '{{'")
    lefts = len(re.findall(r"\\left(?![a-zA-Z])", tex))
    rights = len(re.findall(r"\\right(?![a-zA-Z])", tex))
    if lefts != rights:
        raise MathError(f"\\left and \\right do not pair up ({lefts} \\left, {rights} \\right)")
    stack: list[str] = []
    for kind, name in re.findall(r"\\(begin|end)\{([^}]*)\}", tex):
        if kind == "begin":
            stack.append(name)
        elif not stack or stack.pop() != name:
            raise MathError(f"\\end{{{name}}} does not match an open \\begin")
    if stack:
        raise MathError(f"\\begin{{{stack[-1]}}} is never closed")


def _expand(tex: str) -> str:
    for name, body in MACROS.items():
        tex = re.sub(re.escape(name) + r"(?![A-Za-z])", lambda _m, b=body: b, tex)
    for env, alias in ENV_ALIASES.items():
        tex = tex.replace(f"\\begin{{{env}}}", f"\\begin{{{alias}}}")
        tex = tex.replace(f"\\end{{{env}}}", f"\\end{{{alias}}}")
    return tex


@lru_cache(maxsize=4096)
def tex_to_mathml(tex: str, display: bool = False) -> str:
    """Convert TeX to a <math> element. Raises MathError with a readable reason."""
    if not tex.strip():
        raise MathError("empty math")
    _check_balance(tex)
    expanded = _expand(tex)
    try:
        element = latex2mathml.converter.convert_to_element(expanded, display="block" if display else "inline")
        mathml = _serialize(element)
    except Exception as exc:  # latex2mathml raises many types, all meaning "cannot parse"
        reason = str(exc) or type(exc).__name__
        raise MathError(f"cannot convert TeX ({reason})") from None
    unknown = _UNKNOWN.search(mathml)
    if unknown:
        name = unknown.group(1) or unknown.group(2)
        raise MathError(f"unknown TeX command \\{name}")
    if _STRAY_AMP.search(mathml):
        raise MathError("'&' outside an aligned or matrix environment (hint: write \\& for an ampersand)")
    if "\\" in mathml:  # whatever TeX is left over was not converted
        raise MathError("cannot convert TeX (a backslash is left in the output)")
    # Keep the source for copy-paste and assistive tech.
    annotation = (
        tex.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    )
    return _with_annotation(mathml, annotation)


def _serialize(element) -> str:
    """MathML text with the author's text escaped.

    latex2mathml keeps symbols as "&#x...;" strings and unescapes its whole output, which would
    let `\\text{<b>}` or a stray `&` through as raw markup; here only those character references
    are turned back.
    """
    return _CHARREF.sub(r"&\1", tostring(element, encoding="unicode"))


def _with_annotation(mathml: str, annotation: str) -> str:
    head, sep, body = mathml.partition(">")
    inner = body[: -len("</math>")]
    return (
        f"{head}{sep}<semantics><mrow>{inner}</mrow>"
        f'<annotation encoding="application/x-tex">{annotation}</annotation>'
        f"</semantics></math>"
    )


def render(tex: str, display: bool, path, line: int | None) -> str:
    """tex_to_mathml, with failures reported as `path:line: ...`."""
    try:
        return tex_to_mathml(tex, display)
    except MathError as exc:
        shown = cut(tex.strip().replace("\n", " "), 40)
        raise BuildError(
            path, line, f"{cut(exc, 120)} in math ${shown}$ (hint: check braces and command names)"
        ) from None
