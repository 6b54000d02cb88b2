"""Citations: `[@key]` and `[@a; @b]`, numbered by first use, from references.bib.

Parsing makes a `citation` token with meta["keys"]; at parse time, once the tokens are in reading
order (builder.markdown.resolve), each key is checked against env["refs"] and numbered by first
use: env["citations"] keeps the order and every use, for the References section's back-links,
and meta["cites"] the (key, number, anchor) of each key. Rendering only formats meta["cites"].
"""
from __future__ import annotations

import html
import re

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline

from builder.errors import BuildError, cut, did_you_mean
from builder.markdown.ids import page_ids
from builder.markdown.lines import line_of
from builder.markdown.resolve import on_token

ITEM = re.compile(r"^@([A-Za-z0-9_][A-Za-z0-9_:.\-/]*)$")


def _citation_rule(state: StateInline, silent: bool) -> bool:
    src, pos = state.src, state.pos
    if not src.startswith("[@", pos):
        return False
    end = src.find("]", pos)
    nested = src.find("[", pos + 1)
    if end < 0 or 0 <= nested < end:  # `[@key` never closed (before the paragraph ends or a new `[`)
        if silent:
            return False
        token = state.push("citation", "", 0)
        token.meta = {"keys": [], "malformed": True, "unclosed": True}
        token.content = src[pos + 1 : pos + 1 + 30].split("\n")[0]
        state.pos = pos + 2
        return True
    body = src[pos + 1 : end]
    keys, bad = [], None
    for item in (part.strip() for part in body.split(";")):
        m = ITEM.match(item)
        if m:
            keys.append(m.group(1))
        else:
            bad = item
    if not silent:
        token = state.push("citation", "", 0)
        token.meta = {"keys": keys, "malformed": bad is not None}
        token.content = body
    state.pos = end + 1
    return True


def _resolve_citation(tokens, idx, env) -> None:
    token = tokens[idx]
    refs = env["refs"]
    order: dict = env.setdefault("citations", {})
    if token.meta.get("unclosed"):
        raise BuildError(
            env.get("path"), line_of(token),
            f'citation "[{cut(token.content, 30)}..." is never closed (hint: end it with "]", as in [@key] or [@a; @b])',
        )
    if token.meta["malformed"]:
        shown = " ".join(token.content.split())
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise BuildError(
            env.get("path"), line_of(token),
            f'malformed citation "[{shown}]" (hint: write [@key] or [@a; @b])',
        )
    cites = []
    for key in token.meta["keys"]:
        if key not in refs:
            raise BuildError(
                env.get("path"), line_of(token), f'unknown citation key "{cut(key)}"' + did_you_mean(key, refs)
            )
        uses = order.setdefault(key, [])
        anchor = f"cite-{key}-{len(uses) + 1}"
        ids = page_ids(env)
        if not uses:  # its entry in the References section
            ids.claim(f"ref-{key}", "reference", line_of(token))
        ids.claim(anchor, "citation", line_of(token))
        uses.append(anchor)
        cites.append((key, list(order).index(key) + 1, anchor))
    token.meta["cites"] = cites


def _render_citation(self, tokens, idx, options, env) -> str:
    links = [
        f'<a class="cite-link popup-trigger" href="#ref-{html.escape(key)}" id="{html.escape(anchor)}" '
        f'data-popup="ref-{html.escape(key)}" aria-describedby="ref-{html.escape(key)}">{number}</a>'
        for key, number, anchor in tokens[idx].meta["cites"]
    ]
    return '<span class="citation">[' + ", ".join(links) + "]</span>"


def citations_plugin(md: MarkdownIt) -> None:
    md.inline.ruler.before("link", "citation", _citation_rule)
    on_token(md, "citation", _resolve_citation)
    md.add_render_rule("citation", _render_citation)
