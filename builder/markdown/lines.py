"""Give every inline token the source line it came from (token.meta["line"], 1-based).

markdown-it only maps block tokens to lines; errors in citations, math or animate links need the
exact line, so this core rule walks each inline token's children and counts line breaks.
"""
from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore


def _stamp(state: StateCore) -> None:
    for block in state.tokens:
        if block.type != "inline" or not block.children or not block.map:
            continue
        line = block.map[0] + 1
        for child in block.children:
            child.meta = {**(child.meta or {}), "line": line}
            if child.type in ("softbreak", "hardbreak"):
                line += 1
            elif child.type in ("text", "math_inline", "code_inline"):
                line += child.content.count("\n")


def lines_plugin(md: MarkdownIt) -> None:
    md.core.ruler.after("inline", "stamp_lines", _stamp)


def line_of(token, default: int | None = None) -> int | None:
    if token.meta and "line" in token.meta:
        return token.meta["line"]
    if token.map:
        return token.map[0] + 1
    return default
