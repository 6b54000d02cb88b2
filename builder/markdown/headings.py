"""Headings get ids, so authors can link to `#an-example-of-grokking`.

A heading may end with a label, `## Why it groks {#sec-why}` (Pandoc's and Quarto's syntax): its
id is then the label, claimed in reading order like every fixed id of the page (a label used
twice is an error, builder.markdown.ids). Once the page's other ids are all known, each heading
without a label takes the slug of its text, made unique against all of them: a heading's slug
is never another element's id. Headings whose slugs are free keep them; the others (the second
"Intro", or a heading named like a chart) take the first free slug-2, slug-3, ...
"""
from __future__ import annotations

import re
import unicodedata

from markdown_it import MarkdownIt

from builder.errors import BuildError, cut
from builder.markdown.ids import page_ids
from builder.markdown.lines import line_of
from builder.markdown.resolve import on_token

LABEL = re.compile(r"[ \t]*\{#([A-Za-z][\w\-]*)\}[ \t]*$")
# an attribute block at the end of a heading that is not a label ({#}, {#sec x}, {.class})
NOT_A_LABEL = re.compile(r"[ \t]*\{[#.][^{}]*\}[ \t]*$")


def slug(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def _labels(state) -> None:
    """Take the label off the end of each heading's text into heading_open.meta["label"]."""
    tokens = state.tokens
    for i, tok in enumerate(tokens):
        if tok.type != "heading_open" or not tokens[i + 1].children:
            continue
        last = tokens[i + 1].children[-1]
        if last.type != "text":
            continue
        m = LABEL.search(last.content)
        if m:
            last.content = last.content[:m.start()].rstrip()
            tok.meta["label"] = m.group(1)
        elif NOT_A_LABEL.search(last.content):
            shown = NOT_A_LABEL.search(last.content).group().strip()
            raise BuildError(state.env.get("path"), line_of(tok), f'cannot read the heading label "{cut(shown)}" '
                             '(hint: a heading takes one label, {#sec-name}: a letter, then letters, digits, - or _)')


def _claim_label(tokens, idx, env) -> None:
    token = tokens[idx]
    label = token.meta.get("label")
    if label:
        page_ids(env).claim(label, "heading", line_of(token))
        token.attrSet("id", label)


def _slugs(state) -> None:
    """After every other id of the page is claimed: each unlabelled heading's slug, made unique."""
    ids = page_ids(state.env)
    tokens = state.tokens
    todo = []
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and not tok.attrGet("id"):
            text = "".join(c.content for c in tokens[i + 1].children or [] if c.type in ("text", "code_inline"))
            todo.append((tok, slug(text)))
    later = []
    for tok, base in todo:  # first, every heading whose slug is free keeps it
        if base in ids:
            later.append((tok, base))
        else:
            tok.attrSet("id", ids.unique(base, "heading", line_of(tok)))
    for tok, base in later:
        tok.attrSet("id", ids.unique(base, "heading", line_of(tok)))


def headings_plugin(md: MarkdownIt) -> None:
    md.core.ruler.after("inline", "heading_labels", _labels)
    on_token(md, "heading_open", _claim_label)
    md.core.ruler.push("heading_ids", _slugs)  # after the walk (builder.markdown.resolve)
