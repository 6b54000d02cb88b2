"""Headings get ids (slugs of their text), so authors can link to `#an-example-of-grokking`."""
from __future__ import annotations

import re
import unicodedata

from markdown_it import MarkdownIt


def slug(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def _ids(state) -> None:
    seen: dict[str, int] = state.env.setdefault("heading_ids", {})
    tokens = state.tokens
    for i, tok in enumerate(tokens):
        if tok.type != "heading_open" or tok.attrGet("id"):
            continue
        text = "".join(c.content for c in tokens[i + 1].children or [] if c.type in ("text", "code_inline"))
        base = slug(text)
        seen[base] = seen.get(base, 0) + 1
        tok.attrSet("id", base if seen[base] == 1 else f"{base}-{seen[base]}")


def headings_plugin(md: MarkdownIt) -> None:
    md.core.ruler.push("heading_ids", _ids)
