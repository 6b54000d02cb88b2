"""Footnotes `[^id]` / `[^id]: text`: superscript numbers with popups and a Footnotes section.

Parsing is mdit-py-plugins' footnote plugin; this module only replaces its renderers, so ids are
stable (`fn-LABEL`, `fnref-LABEL-N`) and each reference is a popup trigger. A reference to an
undefined footnote is a build error, as is a footnote whose id another element of the page has
(builder.markdown.ids: `[^a.b]` and `[^a-b]` would both be fn-a-b).
"""
from __future__ import annotations

import html
import re

from markdown_it import MarkdownIt
from mdit_py_plugins.footnote import footnote_plugin

from builder.errors import BuildError, cut, did_you_mean
from builder.markdown.ids import page_ids
from builder.markdown.lines import line_of
from builder.markdown.resolve import on_token

UNDEFINED = re.compile(r"\[\^([^\]\n]*)\]")


def _label(token) -> str:
    label = token.meta.get("label")
    return re.sub(r"[^A-Za-z0-9_-]", "-", label) if label else f"inline-{token.meta['id'] + 1}"


def _claim(tokens, idx, env) -> None:
    """A reference's ids, in reading order: fnref-LABEL-N, and at the first reference to a
    footnote its fn-LABEL (the footnote itself, in the Footnotes section: #footnotes)."""
    token = tokens[idx]
    label, sub, line = _label(token), token.meta.get("subId", 0), line_of(token)
    ids = page_ids(env)
    first = ids.entries.get(SECTION)
    if first is None or first.kind != "footnotes":
        ids.claim(SECTION, "footnotes", line)
    for ident, kind in ([(f"fn-{label}", "footnote")] if sub == 0 else []) + [(f"fnref-{label}-{sub}", "footnote-ref")]:
        other = ids.entries.get(ident)
        ids.claim(ident, kind, line, "footnote names that differ only in punctuation get the same id; rename one"
                  if other is not None and other.kind.startswith("footnote") else "give the other element another id")


SECTION = "footnotes"  # the id of the Footnotes section


def _ref(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    label = _label(token)
    n = token.meta["id"] + 1
    sub = token.meta.get("subId", 0)
    return (
        f'<sup class="footnote-ref"><a class="popup-trigger" href="#fn-{label}" id="fnref-{label}-{sub}" '
        f'data-popup="fn-{label}" aria-describedby="fn-{label}">{n}</a></sup>'
    )


def _block_open(self, tokens, idx, options, env) -> str:
    return f'<section class="footnotes" id="{SECTION}">\n<h2>Footnotes</h2>\n<ol>\n'


def _block_close(self, tokens, idx, options, env) -> str:
    return "</ol>\n</section>\n"


def _open(self, tokens, idx, options, env) -> str:
    return f'<li id="fn-{_label(tokens[idx])}" class="popup-source">'


def _close(self, tokens, idx, options, env) -> str:
    return "</li>\n"


def _anchor(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    label = _label(token)
    sub = token.meta.get("subId", 0)
    mark = "↩" if sub == 0 else f"↩{sub + 1}"
    return f' <a href="#fnref-{label}-{sub}" class="backref" aria-label="Back to the text">{mark}</a>'


def _check_undefined(state) -> None:
    defined = set((state.env.get("footnotes") or {}).get("refs", {}))
    names = [d.lstrip(":") for d in defined]
    for block in state.tokens:
        for child in block.children or []:
            if child.type != "text":
                continue
            m = UNDEFINED.search(child.content)
            if m and not m.group(1).strip():
                raise BuildError(state.env.get("path"), line_of(child, line_of(block)),
                                 f'footnote "{cut(m.group())}" has no name (hint: write [^name] and a line "[^name]: text")')
            if m and re.search(r"\s", m.group(1)):
                raise BuildError(state.env.get("path"), line_of(child, line_of(block)),
                                 f'footnote "{cut(m.group())}" has a space in its name '
                                 f'(hint: write [^{cut("-".join(m.group(1).split()))}], here and where it is defined)')
            if m:
                raise BuildError(
                    state.env.get("path"), line_of(child, line_of(block)),
                    f'footnote "[^{cut(m.group(1))}]" is never defined' + did_you_mean(m.group(1), names)
                    + f" (hint: add a line \"[^{cut(m.group(1))}]: text\")",
                )


def footnotes_plugin(md: MarkdownIt) -> None:
    footnote_plugin(md)
    md.core.ruler.after("footnote_tail", "footnote_check", _check_undefined)
    on_token(md, "footnote_ref", _claim)
    for name, rule in {
        "footnote_ref": _ref, "footnote_block_open": _block_open, "footnote_block_close": _block_close,
        "footnote_open": _open, "footnote_close": _close, "footnote_anchor": _anchor,
    }.items():
        md.add_render_rule(name, rule)
