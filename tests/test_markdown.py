"""Each Markdown plugin on its own: citations, footnotes, math, charts, animate, containers, front matter."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from conftest import DEMO_MD, FRONT

from builder.markdown.frontmatter import parse_front_matter


class Elements(HTMLParser):
    """Every start tag as (tag, attrs), in document order."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.items: list[tuple[str, dict]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.items.append((tag, dict(attrs)))

    def find(self, tag=None, **attrs):
        want = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
        return [a for t, a in self.items if (tag is None or t == tag)
                and all(a.get(k) == v for k, v in want.items())]

    @property
    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.items if a.get("id")}


def body(text: str) -> str:
    return FRONT + text


# ---- citations ------------------------------------------------------------------------------
def test_citations_are_numbered_by_first_use_and_reuse_numbers(render):
    doc = render(body("First [@liu2022]. Then [@power2022; @liu2022]. Again [@power2022].\n"))
    groups = re.findall(r'<span class="citation">(.*?)</span>', doc.html)
    numbers = [re.findall(r">(\d+)</a>", g) for g in groups]
    assert numbers == [["1"], ["2", "1"], ["2"]]
    assert list(doc.citations) == ["liu2022", "power2022"]
    assert doc.citations["power2022"] == ["cite-power2022-1", "cite-power2022-2"]
    assert doc.citations["liu2022"] == ["cite-liu2022-1", "cite-liu2022-2"]


def test_citation_group_is_shown_in_brackets_with_comma(render):
    doc = render(body("See [@nanda2023; @liu2022].\n"))
    text = re.sub(r"<[^>]+>", "", doc.html)
    assert "See [1, 2]." in text


def test_citation_links_point_at_reference_and_are_popup_triggers(render):
    doc = render(body("See [@power2022].\n"))
    (link,) = Elements(doc.html).find("a", id="cite-power2022-1")
    assert link["href"] == "#ref-power2022"
    assert link["data-popup"] == "ref-power2022"
    assert "popup-trigger" in link["class"].split()


def test_references_section_has_backlinks_to_every_use_and_keeps_links(demo_html):
    refs = demo_html.split('<section class="references"', 1)[1].split("</section>", 1)[0]
    items = re.findall(r'<li id="ref-([^"]+)"[^>]*>(.*?)</li>', refs, re.S)
    assert [k for k, _ in items] == ["power2022", "nanda2023", "liu2022"]  # first-use order
    power = dict(items)["power2022"]
    assert re.findall(r'class="backref" href="#(cite-[^"]+)"', power) == ["cite-power2022-1", "cite-power2022-2"]
    assert '<a href="https://arxiv.org/abs/2201.02177">arXiv:2201.02177</a>' in power
    ids = Elements(demo_html).ids
    for _, item in items:  # every back-link lands on a citation in the text
        for target in re.findall(r'class="backref" href="#([^"]+)"', item):
            assert target in ids


def test_doi_and_url_references_keep_their_links(refs):
    assert refs["bender2021"].links == {"doi": "https://doi.org/10.1145/3442188.3445922"}
    assert '<a href="https://doi.org/10.1145/3442188.3445922">doi:10.1145/3442188.3445922</a>' in refs["bender2021"].html
    url = "https://transformer-circuits.pub/2022/mech-interp-essay/index.html"
    assert refs["olah2022"].links == {"link": url}
    assert f'<a href="{url}">{url}</a>' in refs["olah2022"].html


def test_text_that_only_looks_like_a_citation_is_left_alone(render):
    doc = render(body("Mail me at a@b.org or write [see @ here].\n"))
    assert "citation" not in doc.html and doc.citations == {}


# ---- footnotes ------------------------------------------------------------------------------
FOOTNOTE_MD = body(
    "Text with a note.[^long] And another.[^2]\n\n"
    "[^long]: Math $x^2$, a [link](https://example.org/) and a citation [@power2022].\n\n"
    "    A second paragraph of the note.\n\n"
    "[^2]: Short one.\n"
)


def test_footnote_refs_are_numbered_superscripts_with_popup(render):
    doc = render(FOOTNOTE_MD)
    sups = re.findall(r'<sup class="footnote-ref">(.*?)</sup>', doc.html)
    assert [re.sub(r"<[^>]+>", "", s) for s in sups] == ["1", "2"]
    (ref,) = Elements(doc.html).find("a", id="fnref-long-0")
    assert ref["href"] == "#fn-long" and ref["data-popup"] == "fn-long"


def test_footnote_section_links_both_ways(render):
    doc = render(FOOTNOTE_MD)
    els = Elements(doc.html)
    assert {"fn-long", "fn-2", "fnref-long-0", "fnref-2-0", "footnotes"} <= els.ids
    backrefs = [a["href"] for a in els.find("a") if "backref" in a.get("class", "")]
    assert backrefs == ["#fnref-long-0", "#fnref-2-0"]


def test_footnote_holds_math_links_citations_and_paragraphs(render):
    doc = render(FOOTNOTE_MD)
    note = re.search(r'<li id="fn-long"[^>]*>(.*?)</li>', doc.html, re.S).group(1)
    assert note.count("<p>") == 2 and "A second paragraph of the note." in note
    assert "<math" in note and "$x^2$" not in note
    assert '<a href="https://example.org/">link</a>' in note
    assert 'href="#ref-power2022"' in note
    assert "power2022" in doc.citations


def test_footnote_used_twice_gets_two_backlinks(render):
    doc = render(body("One[^a] two[^a].\n\n[^a]: Note.\n"))
    els = Elements(doc.html)
    assert {"fnref-a-0", "fnref-a-1"} <= els.ids
    assert [a["href"] for a in els.find("a") if "backref" in a.get("class", "")] == ["#fnref-a-0", "#fnref-a-1"]


# ---- math -----------------------------------------------------------------------------------
def test_inline_and_display_math_become_mathml_without_raw_tex(render):
    doc = render(body("Inline $a^2 + b^2$ here.\n\n$$\n\\frac{1}{2}\n$$\n"))
    assert doc.html.count("<math") == 2
    assert 'display="inline"' in doc.html and 'display="block"' in doc.html
    assert '<div class="math-display">' in doc.html
    visible = re.sub(r"<annotation.*?</annotation>", "", doc.html, flags=re.S)
    assert "$" not in visible and "\\frac" not in visible
    notes = re.findall(r'<annotation encoding="application/x-tex">(.*?)</annotation>', doc.html, re.S)
    assert [n.strip() for n in notes] == ["a^2 + b^2", "\\frac{1}{2}"]


def test_dollar_amounts_stay_text(render):
    doc = render(body("It costs $5 and $10 today.\n"))
    assert "<math" not in doc.html
    assert "$5 and $10" in doc.html


def test_demo_math_constructs(demo_html):
    assert "<mtable" in demo_html and 'columnalign="right"' in demo_html and 'columnalign="left"' in demo_html
    main = demo_html.split("<main", 1)[1].split("</main>", 1)[0]
    assert main.count("<math") == 4
    assert "\\" not in re.sub(r"<annotation.*?</annotation>|<pre>.*?</pre>", "", main, flags=re.S)


# ---- charts, animate, containers ------------------------------------------------------------
def test_chart_shortcode_renders_figure_with_id_and_section(render):
    doc = render(body("{{< chart demo-bars >}}\n\n{{< chart demo-line >}}\n"))
    assert doc.charts == ["demo-bars", "demo-line"]
    els = Elements(doc.html)
    (bars,) = els.find("figure", id="demo-bars")
    assert bars["data-section"] == "demo" and bars["data-chart"] == "demo-bars"
    (line,) = els.find("figure", id="demo-line")
    assert "scrub" in line["class"].split()
    scrub_div = [a for a in els.find("div") if a.get("role") == "slider"]
    assert scrub_div and scrub_div[0]["tabindex"] == "0"  # keyboard can focus the scrub chart
    assert els.find("img", src="figures/demo-bars.svg")  # static fallback
    assert "Bar chart of the three stocks" in doc.html  # text alternative


def test_animate_span_renders_button(render):
    doc = render(body('Now [play it]{animate="demo-play"} and [plain]{.note}.\n'))
    (button,) = Elements(doc.html).find("button")
    assert button["data-animate"] == "demo-play" and button["data-section"] == "demo"
    assert "play it</button>" in doc.html
    assert '<span class="note">plain</span>' in doc.html
    assert doc.animations == ["demo-play"]


def test_show_span_renders_a_live_output(render):
    doc = render(body('The answer is [24]{show="demo.answer"}.\n'))
    (out,) = Elements(doc.html).find("output")
    assert out["data-section"] == "demo" and out["data-signal"] == "answer" and out["class"] == "live"
    assert '>24</output>.' in doc.html  # the written value stays for readers without JavaScript


def test_sticky_container_splits_graphic_and_text(render):
    doc = render(body("::: sticky\n{{< chart demo-line >}}\n\nProse beside it.\n:::\n"))
    m = re.search(r'<div class="sticky">\s*<div class="sticky-graphic">(.*?)</div>\s*<div class="sticky-text">(.*?)</div>\s*</div>',
                  doc.html, re.S)
    assert m, doc.html
    assert 'id="demo-line"' in m.group(1) and "Prose" not in m.group(1)
    assert "Prose beside it." in m.group(2) and "<figure" not in m.group(2)


@pytest.mark.parametrize("name", ["aside", "wide"])
def test_other_containers_are_divs(render, name):
    doc = render(body(f"::: {name}\nInside.\n:::\n"))
    assert f'<div class="{name}">' in doc.html and "<p>Inside.</p>" in doc.html


def test_when_container_is_a_div_tied_to_a_signal_value(render):
    doc = render(body("::: when demo.answer=3\nOnly for three: $x^2$.\n:::\n\n::: when demo.answer=4\nFour.\n:::\n"))
    blocks = Elements(doc.html).find("div", class_="when")
    assert [(b["data-section"], b["data-signal"], b["data-value"]) for b in blocks] == [
        ("demo", "answer", "3"), ("demo", "answer", "4")]
    assert "hidden" not in blocks[0]  # readers without JavaScript see every block
    inside = re.search(r'<div class="when"[^>]*data-value="3">(.*?)</div>', doc.html, re.S).group(1)
    assert "<math" in inside and "Only for three" in inside and "Four." not in inside


def test_fenced_code_keeps_syntax_literal(render):
    doc = render(body("```\n[@nokey] $\\nope$ {{< chart zzz >}}\n:::\n```\n"))
    assert "[@nokey]" in doc.html and "<math" not in doc.html and doc.charts == []


# ---- front matter ---------------------------------------------------------------------------
def test_front_matter_is_parsed(render):
    doc = render(DEMO_MD)
    assert doc.front["title"] == "A test article"
    assert doc.front["authors"] == [{"name": "Ada Lovelace"}, {"name": "Alan Turing", "affiliation": "Bletchley"}]
    assert str(doc.front["date"]) == "2026-11-22"
    assert "title:" not in doc.html  # the YAML does not leak into the body


def test_front_matter_reaches_the_page(demo_html):
    assert "<title>A test article</title>" in demo_html
    assert '<meta property="og:title" content="A test article">' in demo_html
    assert '<meta property="og:description" content="Engine test page">' in demo_html
    assert '<meta name="citation_title" content="A test article">' in demo_html
    assert re.findall(r'<meta name="citation_author" content="([^"]+)">', demo_html) == ["Ada Lovelace", "Alan Turing"]
    assert '<meta name="citation_publication_date" content="2026/11/22">' in demo_html
    assert '<time datetime="2026-11-22">November 22, 2026</time>' in demo_html
    assert "Bletchley" in demo_html
    cite = demo_html.split('id="cite"', 1)[1]
    assert "@article{lovelace2026a," in cite
    assert "title = {A test article}" in cite and "author = {Ada Lovelace and Alan Turing}" in cite
    assert "year = {2026}" in cite


def test_url_front_matter_gives_og_url(make_project, build):
    md = "---\ntitle: With url\nurl: https://example.org/post/\nimage: card.png\n---\nHello.\n"
    root = make_project(index=md)
    build(root)
    page = (root / "site" / "index.html").read_text()
    assert '<meta property="og:url" content="https://example.org/post/">' in page
    assert '<meta name="citation_fulltext_html_url" content="https://example.org/post/">' in page
    assert "url = {https://example.org/post/}" in page


def test_front_matter_accepts_dotted_end_marker():
    assert parse_front_matter("---\ntitle: x\n...\nbody\n", "p.md")["title"] == "x"


@pytest.fixture(scope="module")
def demo_html(demo_site) -> str:
    return (demo_site / "index.html").read_text(encoding="utf-8")


def test_headings_get_unique_ids_for_links(render):
    doc = render("---\ntitle: T\n---\n## An example of grokking\n\n## An example of grokking\n\nSee [above](#an-example-of-grokking).\n")
    assert '<h2 id="an-example-of-grokking">' in doc.html
    assert '<h2 id="an-example-of-grokking-2">' in doc.html
