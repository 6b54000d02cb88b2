"""Every id of a page, in one registry: no two elements of a built page share an id.

An id is taken by the page template (#article, #references, #cite, ...; read from the template
itself), by a chart (its chart id), a citation (cite-KEY-N, and ref-KEY for its reference), a
footnote (fn-LABEL, fnref-LABEL-N, #footnotes), an explicit label (`## Title {#sec-name}`,
`[text]{#name}`, an id in raw HTML) or, last, by a heading's slug. The parse-time walk in
reading order (builder.markdown.resolve) claims each fixed and explicit id as it meets it: one
that is already taken is an error, `path:line: duplicate id "x" (first used at path:line)`.
Only then are the headings without a label given slugs (builder.markdown.headings), each
de-duplicated against every id of the page, wherever on the page that id is.

The registry keeps each id's kind and line in reading order, for numbering and
cross-references (`@sec-name`, `@eq-name`, `@fig-id`) to build on.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from markdown_it import MarkdownIt

from builder.errors import BuildError, cut
from builder.markdown.lines import line_of
from builder.markdown.resolve import on_token

TEMPLATE = Path(__file__).resolve().parents[1] / "render" / "templates" / "article.html.j2"
TEMPLATE_SHOWN = "builder/render/templates/article.html.j2"


@dataclass(frozen=True)
class Entry:
    id: str
    kind: str  # "template", "chart", "citation", "reference", "footnote", "label", "html", "heading"
    path: str | None
    line: int | None

    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line is not None else str(self.path)


@lru_cache(maxsize=1)
def template_ids() -> tuple[tuple[str, int], ...]:
    """(id, line) of each fixed id="..." of the page template (those it fills in, like
    ref-{{ key }}, are claimed by what makes them)."""
    found = []
    for number, row in enumerate(TEMPLATE.read_text(encoding="utf-8").splitlines(), start=1):
        found += [(m.group(1), number) for m in re.finditer(r'\bid="([^"{}]+)"', row)]
    return tuple(found)


class PageIds:
    """The ids of one page, in the order they were claimed."""

    def __init__(self, path):
        self.path = str(path) if path is not None else None
        self.entries: dict[str, Entry] = {}
        for ident, line in template_ids():
            self.entries[ident] = Entry(ident, "template", TEMPLATE_SHOWN, line)

    def __contains__(self, ident: str) -> bool:
        return ident in self.entries

    def __eq__(self, other) -> bool:  # two registries of the same page claimed the same ids
        return isinstance(other, PageIds) and (self.path, self.entries) == (other.path, other.entries)

    __hash__ = None

    def claim(self, ident: str, kind: str, line: int | None, hint: str = "give one of them another name") -> None:
        """Take `ident` for an element of `kind` written at `line`; a BuildError if it is taken."""
        first = self.entries.get(ident)
        if first is not None:
            raise BuildError(self.path, line, f'duplicate id "{cut(ident)}" (first used at {first.where()}) (hint: {hint})')
        self.entries[ident] = Entry(ident, kind, self.path, line)

    def unique(self, base: str, kind: str, line: int | None) -> str:
        """Take `base`, or else the first of base-2, base-3, ... that is free; return it."""
        ident, n = base, 1
        while ident in self.entries:
            n += 1
            ident = f"{base}-{n}"
        self.entries[ident] = Entry(ident, kind, self.path, line)
        return ident

    def of_kind(self, kind: str) -> list[Entry]:
        return [e for e in self.entries.values() if e.kind == kind]


def page_ids(env: dict) -> PageIds:
    """The page's registry (made, with the template's ids, on first use)."""
    if "ids" not in env:
        env["ids"] = PageIds(env.get("path"))
    return env["ids"]


def _claim_attribute(tokens, idx, env) -> None:
    """An id written as an attribute: [text]{#name}, ![alt](x.png){#name}, `code`{#name}."""
    token = tokens[idx]
    ident = token.attrGet("id")
    if ident is not None:
        page_ids(env).claim(str(ident), "label", line_of(token))


def _claim_html(tokens, idx, env) -> None:
    """The ids of a piece of raw HTML (builder.markdown.html_policy found them)."""
    for ident, line in (tokens[idx].meta or {}).get("html_ids", ()):
        page_ids(env).claim(ident, "html", line)


def ids_plugin(md: MarkdownIt) -> None:
    """Claims the ids no other plugin owns; charts, citations, footnotes and headings claim their own."""
    for token_type in ("span_open", "link_open", "image", "code_inline"):
        on_token(md, token_type, _claim_attribute)
    for token_type in ("html_block", "html_inline"):
        on_token(md, token_type, _claim_html)
