"""Markdown to HTML with the article's syntaxes, each a markdown-it-py plugin in this package."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt

from builder.errors import check_text
from builder.markdown.animate import animate_plugin
from builder.markdown.charts import charts_plugin
from builder.markdown.checks import checks_plugin
from builder.markdown.citations import citations_plugin
from builder.markdown.containers import containers_plugin
from builder.markdown.facts import facts_plugin
from builder.markdown.footnotes import footnotes_plugin
from builder.markdown.frontmatter import front_matter_plugin
from builder.markdown.headings import headings_plugin
from builder.markdown.ids import ids_plugin, page_ids
from builder.markdown.lines import lines_plugin
from builder.markdown.math import math_plugin


@dataclass
class Document:
    path: Path
    front: dict
    html: str
    citations: dict = field(default_factory=dict)  # key -> [anchor ids of each use], first-use order
    charts: list = field(default_factory=list)  # chart ids in page order
    animations: list = field(default_factory=list)
    # (section, signal, line, what the Markdown wrote) of each live value and `::: when`: the
    # build checks that a chart of the section on this page has that signal
    signals: list = field(default_factory=list)
    links: list = field(default_factory=list)  # (href or src, line) of each link, image and raw HTML address
    facts: list = field(default_factory=list)  # (name, line, written fallback, value shown) of each fact used
    claims: list = field(default_factory=list)  # (name, line, what was measured) of each claim checked
    ids: object = None  # builder.markdown.ids.PageIds: every id of the page, its kind and line


def make_parser() -> MarkdownIt:
    """The article's parser. Its core rules, in order: block parsing; the front matter read and
    checked; containers and code fences checked; inline parsing; lines stamped; input checks;
    footnotes moved to the end and checked; sticky groups split; then one walk in reading order
    (builder.markdown.resolve) that checks and numbers citations, charts, animate links, live
    values and `::: when`, converts math, and claims each fixed and explicit id of the page
    (builder.markdown.ids); last, the headings without a label get unique slugs. Renderers only
    format the tokens."""
    md = MarkdownIt("commonmark", {"typographer": True}).enable(["table", "strikethrough", "replacements", "smartquotes"])
    front_matter_plugin(md)
    footnotes_plugin(md)
    lines_plugin(md)  # after footnotes: stamps lines before footnote_tail moves tokens
    math_plugin(md)
    checks_plugin(md)  # after lines: unclosed math, unsafe links, footnotes defined twice or unused
    citations_plugin(md)
    animate_plugin(md)
    facts_plugin(md)
    charts_plugin(md)
    containers_plugin(md)
    ids_plugin(md)
    headings_plugin(md)  # last: a heading's slug is made unique against every other id
    return md


def render_markdown(text: str, path: Path, refs: dict, figures: dict, animations: dict,
                    md: MarkdownIt | None = None, book=None) -> Document:
    """Parse and render one page. Raises BuildError on any authoring mistake (a claim that does
    not hold included). `book`: the facts and claims (builder.facts.Book) the prose may use."""
    check_text(text, path)
    md = md or make_parser()
    env = {"path": path, "refs": refs, "figures": figures, "animations": animations, "book": book}
    tokens = md.parse(text, env)  # every check, and everything the page uses, is done here
    body = md.renderer.render(tokens, md.options, env)  # only formats the tokens
    return Document(
        path=path, front=env["front"], html=body, citations=env.get("citations", {}),
        charts=env.get("charts", []), animations=env.get("animations_used", []),
        signals=env.get("signals_used", []), links=env.get("links", []),
        facts=env.get("fact_uses", []), claims=env.get("claim_uses", []), ids=page_ids(env),
    )
