"""Mistakes markdown-it would pass over in silence, each a BuildError at its line.

markdown-it renders what it cannot parse as plain text, so an unclosed `$x`, a `$$` block
without its closing `$$`, a footnote defined twice or never used, or `[24]{show=...` with a
missing brace would reach the page as stray characters (or vanish) and the build would succeed.
This core rule runs after inline parsing and line stamping (builder.markdown.lines), while
escapes (`\\$`) are still tokens of their own, and raises on:

- a `$` that opens inline math and is never closed; a `$$` that is never closed;
- a `{{< chart >}}` shortcode inside a paragraph, `[text]{...}` attributes that could not be
  read, and attributes outside animate/show/class/id;
- a footnote defined twice, or defined and never used;
- a link or image address that may not be written into the page (builder.urls): Markdown
  links, autolinks and images;
- raw HTML outside the policy of builder.markdown.html_policy (which also checks its addresses
  with builder.urls); each raw HTML token's content is replaced by the policy's rewriting of it;
- a raw HTML comment or <script>/<pre>/<style>/<textarea> block that is never closed (markdown-it
  would swallow the rest of the file into it).
"""
from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore

from builder.errors import BuildError, cut, did_you_mean
from builder.markdown import html_policy
from builder.markdown.animate import ALLOWED
from builder.markdown.lines import line_of
from builder.urls import url_problem

# A `$` followed by one of these opens math (Pandoc's rule: no space after the opening dollar;
# a digit after it is a price, "$5"); closing punctuation after it ("US$.") opens nothing.
_OPENER = re.compile(r"\$(?=[^\s\d.,;:!?)\]}'\"\u2019\u201d])")
_SHORTCODE = re.compile(r"\{\{<")
_ATTRS = re.compile(r"\]\{")
_UNCLOSED_BLOCKS = (  # (how an html_block starts, what must close it, what to show)
    (re.compile(r"^\s*<!--"), "-->", "HTML comment <!--", '"-->"'),
    (re.compile(r"^\s*<(script|pre|style|textarea)(?=[\s>]|$)", re.IGNORECASE), None, "", ""),
    (re.compile(r"^\s*<!\[CDATA\["), "]]>", "<![CDATA[ section", '"]]>"'),
)


def _shown(text: str, at: int, width: int = 24) -> str:
    piece = text[at:at + width].split("\n")[0]
    return piece + ("..." if len(text) > at + len(piece) else "")


def _check_text(child, path, line: int | None) -> None:
    text = child.content
    display = text.find("$$")
    if display >= 0:
        raise BuildError(path, line, f'display math "{_shown(text, display)}" is never closed '
                                     '(hint: end it with a line "$$", or write \\$\\$ for two dollar signs)')
    opener = _OPENER.search(text)
    if opener:
        raise BuildError(path, line, f'inline math "{_shown(text, opener.start())}" is never closed '
                                     "(hint: close it with $, with no space before it; write \\$ for a dollar sign)")
    m = _SHORTCODE.search(text)
    if m:
        raise BuildError(path, line, f'shortcode "{_shown(text, m.start(), 32)}" inside a paragraph '
                                     "(hint: put {{< chart ID >}} on a line of its own)")
    m = _ATTRS.search(text)
    if m:
        start = text.rfind("[", 0, m.start())
        raise BuildError(path, line, f'cannot read the attributes in "{_shown(text, max(start, 0), 40)}" '
                                     '(hint: write [text]{show="section.signal"} or [text]{animate="id"}, quotes and braces closed)')


def _check_html(token, path, line: int, env: dict) -> None:
    """Raw HTML through the policy: its addresses checked, its ids kept for the page's id
    registry (token.meta["html_ids"]), and its content replaced by what the policy wrote."""
    fragment = html_policy.clean(token.content, path, line)
    for tag, attr, url, at in fragment.addresses:
        _check_url(url, f"raw HTML <{tag} {attr}>", path, at, env)
    token.content = fragment.html
    token.meta = {**(token.meta or {}), "html_ids": fragment.ids}


def _check_url(url: str, what: str, path, line, env: dict) -> None:
    env.setdefault("links", []).append((url, line))  # for a broken link's line (builder.build)
    problem = url_problem(url)
    if problem:
        raise BuildError(path, line, f"{what}: {problem}" if what else problem)


def _check_html_block(token, path, env: dict) -> None:
    line = line_of(token)
    content = token.content
    for start, end, shown, closer in _UNCLOSED_BLOCKS:
        m = start.match(content)
        if not m:
            continue
        if end is None:  # <script>, <pre>, <style>, <textarea>: closed by its end tag
            tag = m.group(1).lower()
            end, shown, closer = f"</{tag}>", f"<{tag}> block", f'"</{tag}>"'
        if end not in content.lower():
            raise BuildError(path, line, f"{shown} is never closed (hint: end it with {closer}; "
                                         "until then it hides the rest of the file)")
    for offset, text in enumerate(content.split("\n")):
        # an HTML block runs to the next blank line and is copied as it is: a shortcode in it
        # would reach the page as text instead of its chart
        if text.lstrip().startswith("{{<"):
            raise BuildError(path, line + offset, "a shortcode inside an HTML block is not read (hint: leave a blank line "
                                                  "between the HTML and the shortcode)")
    _check_html(token, path, line, env)


def _footnote_definitions(state: StateCore) -> None:
    """Remember each footnote definition's label and line (footnote_tail then moves them)."""
    state.env["footnote_definitions"] = [(t.meta["label"], line_of(t)) for t in state.tokens
                                         if t.type == "footnote_reference_open"]


def _check_footnotes(state: StateCore) -> None:
    """After the undefined-reference check: each footnote defined once, and used."""
    path = state.env.get("path")
    refs = (state.env.get("footnotes") or {}).get("refs", {})
    defined: dict[str, int] = {}
    for label, line in state.env.get("footnote_definitions", []):
        if label in defined:
            raise BuildError(path, line, f'footnote "[^{cut(label)}]" is defined twice (first on line {defined[label]}) '
                                         "(hint: give each footnote its own name)")
        defined[label] = line
    for label, line in defined.items():
        if refs.get(":" + label, -1) < 0:
            raise BuildError(path, line, f'footnote "[^{cut(label)}]" is defined but never used '
                                         f'(hint: refer to it with [^{cut(label)}] in the text, or delete it)')


def _check(state: StateCore) -> None:
    path = state.env.get("path")
    for block in state.tokens:
        if block.type == "html_block":
            _check_html_block(block, path, state.env)
            continue
        autolink = False  # the text of <https://...> is the address itself, not prose
        for child in block.children or []:
            line = line_of(child, line_of(block))
            if child.type in ("link_open", "link_close") and child.markup == "autolink":
                autolink = child.type == "link_open"
            if child.type == "text" and not autolink:
                _check_text(child, path, line)
            elif child.type == "link_open":
                _check_url(child.attrGet("href") or "", "", path, line, state.env)
            elif child.type == "image":
                _check_url(child.attrGet("src") or "", "image", path, line, state.env)
            elif child.type == "html_inline":
                _check_html(child, path, line, state.env)
            bad = (child.meta or {}).get("insecure_attrs")
            if bad:
                name = next(iter(bad))
                raise BuildError(path, line, f'unknown attribute "{cut(name)}" in {{...}}' + did_you_mean(name, ALLOWED)
                                 + ' (hint: [text]{show="section.signal"}, [text]{animate="id"} or {.class})')
    _footnote_definitions(state)


def allow_all_links(url: str) -> bool:
    """markdown-it's validateLink drops a javascript: (or data:, vbscript:, file:) link as
    plain text without a word; every address becomes a link here and _check refuses the
    unsafe ones with an error."""
    return True


def checks_plugin(md: MarkdownIt) -> None:
    md.validateLink = allow_all_links
    md.core.ruler.after("stamp_lines", "input_checks", _check)
    md.core.ruler.after("footnote_check", "footnote_definitions_check", _check_footnotes)
