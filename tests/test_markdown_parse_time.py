"""The Markdown plugins do their work while parsing; renderers only format the tokens.

Checks, numbering and what a page uses (env["citations"], env["charts"], ...) are settled by
core rules (builder.markdown.resolve); the front matter is read once, by the parser.
"""
from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from conftest import DEMO_MD, FRONT

from builder.errors import BuildError
from builder.markdown import make_parser

INPUTS = ("path", "refs", "figures", "animations")
# Every syntax with a render rule of its own: citations (also in a footnote and a container),
# footnotes, math, a sticky group with a chart, a `::: when`, a live value, an animate link,
# an attribute span that is neither, and an aside.
RICH = DEMO_MD + (
    '\nThe year is [2000]{show="demo.step"} and [this]{.note} is a span [@bender2021].[^two]\n\n'
    "::: when demo.step=2005\nHalfway, $x^2$ [@olah2022].\n:::\n\n::: aside\nAn aside.\n:::\n\n"
    "[^two]: Two, citing [@power2022] again.\n"
)


@pytest.fixture(scope="module")
def md():
    return make_parser()


@pytest.fixture
def parse(md, refs, registry):
    def run(text: str):
        env = {"path": Path("content/index.md"), "refs": refs, "figures": registry.figures,
               "animations": registry.animations}
        return md.parse(text, env), env
    return run


def test_rendering_twice_gives_the_same_html_and_leaves_env_alone(md, parse):
    tokens, env = parse(RICH)
    page = {k: copy.deepcopy(v) for k, v in env.items() if k not in INPUTS}
    assert {"front", "citations", "charts", "animations_used", "signals_used", "links"} <= set(page)
    first = md.renderer.render(tokens, md.options, env)
    assert {k: v for k, v in env.items() if k not in INPUTS} == page
    assert md.renderer.render(tokens, md.options, env) == first
    assert {k: v for k, v in env.items() if k not in INPUTS} == page
    for syntax in ('class="citation"', 'class="footnote-ref"', "<math", 'class="sticky"', 'class="when"',
                   'class="live"', 'class="animate"', '<span class="note">', 'class="aside"'):
        assert first.count(syntax) >= 1, syntax
    assert 'class="sticky sticky"' not in first


@pytest.mark.parametrize("text, message", [
    ("See [@nope].\n", 'content/index.md:4: unknown citation key "nope"'),
    ("See [@power2022; oops].\n", 'content/index.md:4: malformed citation "[@power2022; oops]"'),
    ("{{< chart demo-lnie >}}\n", 'content/index.md:4: unknown chart id "demo-lnie" (did you mean "demo-line"?)'),
    ("{{< chart demo-line >}}\n\n{{< chart demo-line >}}\n", 'content/index.md:6: chart "demo-line" is placed twice'),
    ('[go]{animate="nope"}\n', 'content/index.md:4: unknown animate id "nope"'),
    ('[v]{show="dmeo.step"}\n', 'content/index.md:4: show="dmeo.step" names no chart section (did you mean "demo"?)'),
    ("::: when dmeo.step=1\nx\n:::\n", 'content/index.md:4: "::: when dmeo.step=1" names no chart section'),
    ("Text\n\n$$\n\\frac{1}{\n$$\n", "content/index.md:7: "),
    ("::: stiky\nx\n:::\n", 'content/index.md:4: unknown container "stiky" (did you mean "sticky"?)'),
    ("---\n", "content/index.md:1: front matter is never closed"),
])
def test_mistakes_are_found_while_parsing(parse, text, message):
    text = text if text.startswith("---") else FRONT + text
    with pytest.raises(BuildError) as exc:
        parse(text)
    assert str(exc.value).startswith(message)


def test_citations_are_numbered_in_reading_order_with_footnotes_last(render):
    # A footnote is read where the page prints it, at the end: a key first cited in a footnote
    # is numbered after the keys of the text, even when the footnote's mark comes first.
    doc = render(FRONT + "Mark[^a] then [@liu2022].\n\nLater [@power2022].\n\n[^a]: See [@nanda2023] and [@liu2022].\n")
    assert list(doc.citations) == ["liu2022", "power2022", "nanda2023"]
    numbers = [re.findall(r">(\d+)</a>", g) for g in re.findall(r'<span class="citation">(.*?)</span>', doc.html)]
    assert numbers == [["1"], ["2"], ["3"], ["1"]]
    assert doc.citations["liu2022"] == ["cite-liu2022-1", "cite-liu2022-2"]


def test_citations_in_containers_are_numbered_where_they_stand(render):
    doc = render(FRONT + "::: sticky\n{{< chart demo-line >}}\n\nBeside it [@liu2022].\n:::\n\n"
                         "::: when demo.step=2005\nThen [@power2022].\n:::\n\nAfter [@nanda2023; @liu2022].\n")
    assert list(doc.citations) == ["liu2022", "power2022", "nanda2023"]
    numbers = [re.findall(r">(\d+)</a>", g) for g in re.findall(r'<span class="citation">(.*?)</span>', doc.html)]
    assert numbers == [["1"], ["2"], ["3", "1"]]


def test_signals_and_charts_are_recorded_in_reading_order(render):
    doc = render(FRONT + '[a]{show="demo.step"}\n\n::: sticky\nText [b]{show="demo.answer"}\n\n'
                         "{{< chart demo-bars >}}\n:::\n\n::: when demo.step=3\nx\n:::\n\n{{< chart demo-line >}}\n")
    assert [s[:3] for s in doc.signals] == [("demo", "step", 4), ("demo", "answer", 7), ("demo", "step", 12)]
    assert doc.charts == ["demo-bars", "demo-line"]  # a sticky group shows its charts first


@pytest.mark.parametrize("front", [
    " ---\ntitle: T\n---\n",          # the opening line indented
    "---\ntitle: T\n    ---\n",       # the closing line indented
    "---\ntitle: >\n  ::: zzz\n---\n",  # text of a YAML value that looks like a container
])
def test_the_body_starts_where_the_front_matter_ends(render, front):
    doc = render(front + "Body.\n")
    assert doc.front["title"].strip() in ("T", "::: zzz")
    assert doc.html == render(FRONT + "Body.\n").html == "\n<p>Body.</p>\n"


def test_front_matter_is_read_into_env_by_the_parser(parse):
    tokens, env = parse("---\ntitle: T\ndate: 2026-01-02\n---\nBody.\n")
    assert tokens[0].type == "front_matter" and tokens[0].map == [0, 4]
    assert env["front"]["title"] == "T" and str(env["front"]["date"]) == "2026-01-02"
