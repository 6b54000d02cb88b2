"""Issue 25, the authoring side: what an article may hold, and what it may not, each refused with
one line `path:line: ...`. Front matter that could exhaust memory, links that reach outside the
site, raw HTML outside the allowlist (builder.markdown.html_policy), ids given twice
(builder.markdown.ids), and values quoted in errors cut short (builder.errors)."""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import FRONT, REPO, render_article

from builder.errors import BuildError, MESSAGE_LIMIT, cut, shown
from builder.markdown import html_policy
from builder.markdown.frontmatter import parse_front_matter
from builder.markdown.ids import TEMPLATE_SHOWN, template_ids
from builder.render.links import check_links

PATH = "content/index.md"
ONE_LINE = re.compile(r"^content/index\.md:\d+: [^\n]+$")


def error_of(render, text: str) -> str:
    with pytest.raises(BuildError) as info:
        render(text)
    message = str(info.value)
    assert ONE_LINE.match(message), message
    return message


class Ids(HTMLParser):
    """Every id="..." of a piece of HTML, in order, repeats kept."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.ids += [v for k, v in attrs if k == "id" and v]


# ---- 1. front matter: anchors, aliases, and values quoted in errors ----------------------------
# "billion laughs": nine anchors, each nine times the one before, in the title (a known key,
# so the old code went on to quote the value in "must be text, not [...]")
BOMB = "---\ntitle:\n" + "".join(
    f"  - &{c} [" + ", ".join([f"*{p}"] * 9 if p else ['"lol"'] * 9) + "]\n"
    for p, c in zip([None, *"abcdefgh"], "abcdefghi")) + "---\nText.\n"


def test_a_yaml_alias_bomb_is_refused_at_its_first_anchor():
    """Before: the error message held the expanded value (9**9 strings): 3 GB and a MemoryError
    traceback. Run where memory is capped at 1 GB (a regression must not take the machine's
    memory); it must end with the one-line error."""
    script = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        from builder.errors import BuildError
        from builder.markdown.frontmatter import parse_front_matter
        try:
            parse_front_matter(sys.stdin.read(), {PATH!r})
        except BuildError as exc:
            print(exc)
    """)
    run = subprocess.run([sys.executable, "-c", script], input=BOMB, capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr[-500:]
    assert run.stdout == ("content/index.md:3: bad front matter: the anchor &a is not allowed in front matter "
                          "(hint: write each value out in full)\n")


@pytest.mark.parametrize("yaml_text, expected", [
    ("title: *x", "content/index.md:2: bad front matter: the alias *x is not allowed in front matter (hint: write each value out in full)"),
    ("title: T\nauthors: [&a {name: A}, *a]", "content/index.md:3: bad front matter: the anchor &a is not allowed in front matter (hint: write each value out in full)"),
    ("base: &b {title: T}\n<<: *b", "content/index.md:2: bad front matter: the anchor &b is not allowed in front matter (hint: write each value out in full)"),
])
def test_anchors_aliases_and_merge_keys_are_refused(yaml_text, expected):
    with pytest.raises(BuildError) as info:
        parse_front_matter(f"---\n{yaml_text}\n---\n", PATH)
    assert str(info.value) == expected


@pytest.mark.parametrize("yaml_text", [
    "title: T\nlang: " + "x" * 100_000,
    "title: [" + ", ".join(["[" * 20 + "1" + "]" * 20] * 50) + "]",
    "title: " + "9" * 20_000,
    "title: T\nauthors: [" + ", ".join(["{name: " + "n" * 5000 + ", affiliation: [1]}"] * 3) + "]",
    "title: T\n" + "k" * 900 + ": 1",
    "title: !" + "t" * 5000 + " x",
    "title: T\ndate: " + "2026-02-30" + " " * 3 + "x" * 5000,
    "title: T\nauthors: [" + "[" * 200 + "]" * 200 + "]",
])
def test_a_value_quoted_in_an_error_is_cut_short(yaml_text):
    with pytest.raises(BuildError) as info:
        parse_front_matter(f"---\n{yaml_text}\n---\n", PATH)
    message = str(info.value)
    assert ONE_LINE.match(message) and len(message) < 400, message[:600]


def test_shown_and_cut_bound_what_they_quote():
    deep = ["lol"] * 9
    for _ in range(12):  # 9**13 strings if written out
        deep = [deep] * 9
    assert len(shown(deep)) <= 60 and shown(deep).startswith("[[[")
    assert shown("yesterday") == "'yesterday'" and shown(None) == "None"
    assert len(shown(10 ** 10_000)) <= 60
    assert cut("a\nb") == "a b" and cut("x" * 100, 10) == "xxxxxxx..."
    assert len(str(BuildError(PATH, 1, "y" * 100_000))) <= MESSAGE_LIMIT + 40


# ---- 2. links stay inside the site ----------------------------------------------------------------
OUTSIDE = [
    ("![x](../../../../etc/passwd)", 'image: link "../../../../etc/passwd" leads outside the site'),
    ("[y](/etc/shadow)", 'link "/etc/shadow" is an absolute path, outside the site'),
    ("[y](/no/such/file/here)", 'link "/no/such/file/here" is an absolute path, outside the site'),
    ("[y](a/../../x.html)", 'link "a/../../x.html" leads outside the site'),
    ("[y](%2e%2e/%2e%2e/etc/passwd)", 'link "%2e%2e/%2e%2e/etc/passwd" leads outside the site'),
    ("[y](..%2f..%2fetc%2fpasswd)", 'link "..%2f..%2fetc%2fpasswd" leads outside the site'),
    ("[y](//example.org/x)", 'link "//example.org/x" names another server without saying how to reach it'),
    ('<a href="\\\\server\\share">y</a>', 'raw HTML <a href>: link "\\\\server\\share" names another server'),
    ('<a href="..\\..\\x">y</a>', 'raw HTML <a href>: link "..\\..\\x" holds a backslash'),
    ("[y](..%5C..%5Cetc%5Cpasswd)", 'link "..%5C..%5Cetc%5Cpasswd" leads outside the site'),
    ("[y](a%00.html)", 'link "a%00.html" holds %00'),
    ('<a href="/etc/passwd">y</a>', 'raw HTML <a href>: link "/etc/passwd" is an absolute path, outside the site'),
    ('<img src="../../etc/passwd" alt="">', 'raw HTML <img src>: link "../../etc/passwd" leads outside the site'),
]


@pytest.mark.parametrize("markdown, expected", OUTSIDE)
def test_a_link_outside_the_site_is_an_error_at_its_line(render, markdown, expected):
    message = error_of(render, FRONT + "Intro.\n\n" + markdown + "\n")
    assert message.startswith(f"{PATH}:6: {expected}"), message


def test_the_message_does_not_depend_on_what_the_build_machine_holds(render):
    """/etc/passwd exists where the build runs, /etc/no-such-file does not: the same message."""
    present = error_of(render, FRONT + "[x](/etc/passwd) ![y](../../../../etc/passwd)\n")
    absent = error_of(render, FRONT + "[x](/etc/no-such-file) ![y](../../../../etc/no-such-file)\n")
    assert present.replace("passwd", "no-such-file") == absent


def test_the_site_link_check_refuses_what_leads_outside_without_looking(tmp_path):
    """The check of the written site (builder.render.links), the last line of defence: it
    accepted ../../../../etc/passwd and /etc/shadow because those files exist on the machine."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "a.html").write_text('<p id="x">x</p>\n')
    links = ["../../../../etc/passwd", "/etc/shadow", "../../../../etc/no-such-file", "/no/such/file",
             "..%2f..%2f..%2f..%2fetc%2fpasswd", "a.html#x", "a.html"]
    (site / "index.html").write_text("".join(f'<a href="{u}">l</a>\n' for u in links) + '<img src="/etc/hostname" alt="">\n'
                                     '<picture><source srcset="a.html 1x, ../../etc/passwd 2x"><img src="a.html" alt=""></picture>\n'
                                     '<video poster="/etc/passwd"></video><form action="../../../etc/passwd"></form>\n')
    problems = check_links(site)
    outside = [p for p in problems if "(it leads outside the site)" in p]
    assert len(outside) == 9 and len(problems) == 9, problems
    for problem in problems:  # nothing says whether the file is there
        assert "no file" not in problem


def test_only_links_inside_the_site_or_to_the_web_pass(render):
    doc = render(FRONT + "## Top\n\n[a](#top) [b](notes.html#x) [c](figures/a.svg?x=1) [d](./a/../b.html) "
                         "[e](https://example.org/a/../../b) [f](mailto:a@example.org)\n")
    for href in ("#top", "notes.html#x", "figures/a.svg?x=1", "./a/../b.html", "https://example.org/a/../../b"):
        assert f'href="{href}"' in doc.html
    for bad in ("./a/../../b.html", "/b.html", "//example.org/b"):
        with pytest.raises(BuildError):
            render(FRONT + f"[d]({bad})\n")


# ---- 3. raw HTML: one allowlist ------------------------------------------------------------------
REFUSED = [
    ('<img src="a.png" srcset="x.png 2x" alt="">', "<img srcset>"),
    ('<video src="a.mp4" poster="x.png"></video>', "<video>"),
    ('<form action="https://evil.example/"><button formaction="x">go</button></form>', "<form>"),
    ('<object data="x.swf"></object>', "<object>"),
    ('<embed src="x.swf">', "<embed>"),
    ('<iframe src="https://example.org/"></iframe>', "<iframe>"),
    ('<svg><a xlink:href="javascript:alert(1)">x</a></svg>', "<svg>"),
    ('<table background="x.png"><tr><td>1</td></tr></table>', "<table background>"),
    ('<blockquote cite="https://example.org/">q</blockquote>', "<blockquote cite>"),
    ('<p style="background: url(https://evil.example/x.png)">x</p>', "<p style>"),
    ('<meta http-equiv="refresh" content="0; url=https://evil.example/">', "<meta>"),
    ('<base href="https://evil.example/">', "<base>"),
    ('<link rel="stylesheet" href="https://evil.example/x.css">', "<link>"),
    ("<script>alert(1)</script>", "<script>"),
    ("<style>@import url(https://evil.example/x.css);</style>", "<style>"),
    ('<b onclick="alert(1)">x</b>', "<b onclick>"),
    ('<img src="a.png" onerror="alert(1)" alt="">', "<img onerror>"),
    ('<span data-popup="x">x</span>', "<span data-popup>"),
    ('<a href="#x" target="_blank">x</a>', "<a target>"),
    ("<h2>Title</h2>", "<h2>"),
    ("<math><mi>x</mi></math>", "<math>"),
    ("</main>", "</main>"),
    ('<input type="text">', "<input>"),
    ("<template><b>x</b></template>", "<template>"),
]


@pytest.mark.parametrize("html, named", REFUSED)
@pytest.mark.parametrize("where", ["block", "inline"])
def test_raw_html_outside_the_allowlist_is_an_error_naming_it(render, html, named, where):
    text = FRONT + "Intro.\n\n" + (html + "\n" if where == "block" else f"Some {html} text.\n")
    message = error_of(render, text)
    assert message.startswith(f"{PATH}:6: raw HTML {named} is not allowed (hint: "), message


def test_the_hint_names_what_to_write_instead(render):
    message = error_of(render, FRONT + '<iframe src="x.html"></iframe>\n')
    assert "{{< chart ID >}}" in message and "raw HTML may use a, abbr, b," in message
    message = error_of(render, FRONT + '<b onclick="x()">b</b>\n')
    assert "event handlers run scripts" in message and "on <b> raw HTML may use id, class, title" in message


@pytest.mark.parametrize("html, expected", [
    ("<a href=\"javascript:alert(1)\">x</a>", 'raw HTML <a href>: unsafe link "javascript:alert(1)"'),
    ("<img src=\"data:image/svg+xml,<svg/>\" alt=\"\">", 'raw HTML <img src>: unsafe link "data:image/svg+xml,<svg/>"'),
    ('<a href="x" href="y">x</a>', 'raw HTML <a> gives the attribute "href" twice'),
    ('<span id="2x">x</span>', 'raw HTML <span> has the id "2x"'),
    ('<div class="x"', 'raw HTML "<div class="x"" is not a complete tag'),
    ("<!DOCTYPE html>", 'raw HTML "<!DOCTYPE html>" is not allowed'),
    ("<?php echo 1 ?>", 'raw HTML "<?php echo 1 ?" is not allowed'),
])
def test_raw_html_addresses_ids_and_broken_tags(render, html, expected):
    message = error_of(render, FRONT + html + "\n")
    assert message.startswith(f"{PATH}:4: {expected}"), message


def test_the_allowed_raw_html_is_written_from_what_was_checked(render):
    doc = render(FRONT + '<details open><summary>More</summary>\n\nA <kbd>Ctrl</kbd> and <sup title="t">2</sup> '
                         'and <a href="#more" class="x">more</a>.\n\n</details>\n\n'
                         '<table><tr><th scope="col" colspan="2">A &amp; B &lt;c&gt;</th></tr></table>\n\n'
                         '<img src="figures/demo-line.svg" alt="A &quot;line&quot;" width="10"/> <!-- dropped -->\n')
    html = doc.html
    assert "<details open><summary>More</summary>" in html and "<kbd>Ctrl</kbd>" in html
    assert '<a href="#more" class="x">more</a>' in html and '<sup title="t">2</sup>' in html
    assert '<th scope="col" colspan="2">A &amp; B &lt;c&gt;</th>' in html
    assert '<img src="figures/demo-line.svg" alt="A &quot;line&quot;" width="10">' in html
    assert "dropped" not in html


def test_a_construct_read_differently_by_a_browser_cannot_slip_through():
    """The page holds the policy's rewriting, so what html.parser took for text stays text."""
    for raw in ("<b>x</b><!--><script>alert(1)</script>-->", "<b title='x' <script>>x</b>",
                "<b>&lt;script&gt;alert(1)&lt;/script&gt;</b>", "<b>x</ b><i>y</i>"):
        try:
            out = html_policy.clean(raw, PATH, 4).html
        except BuildError as exc:
            assert ONE_LINE.match(str(exc)), str(exc)
            continue
        assert "<script" not in out.lower(), out


def test_the_policy_knows_every_address_attribute_it_lets_through():
    """Each address the allowlist lets through is checked: none hides under another name."""
    from builder.render.links import ADDRESS_ATTRIBUTES
    allowed = {(tag, a) for tag in html_policy.ELEMENTS for a in html_policy.allowed_attributes(tag)}
    assert {(t, a) for t, a in allowed if a in ADDRESS_ATTRIBUTES} == html_policy.ADDRESSES
    assert not [a for _, a in allowed if a.startswith("on") or a in ("style", "srcset")]


# ---- 4. every id of a page is unique -------------------------------------------------------------
def test_generated_heading_slugs_avoid_each_other(render):
    doc = render(FRONT + "## Intro\n\n## Intro\n\n## Intro 2\n")
    assert Ids(doc.html).ids == ["intro", "intro-3", "intro-2"]


def test_a_heading_slug_avoids_the_ids_of_charts_footnotes_citations_and_the_template(render):
    doc = render(FRONT + "## Demo line\n\n## Footnotes\n\n## References\n\n## Cite\n\n## Article\n\n## Cite power2022 1\n\n"
                         "## fn a\n\nText [@power2022].[^a]\n\n{{< chart demo-line >}}\n\n[^a]: A note.\n")
    headings = re.findall(r'<h2 id="([^"]+)"', doc.html)
    assert headings[:7] == ["demo-line-2", "footnotes-2", "references-2", "cite-2", "article-2", "cite-power2022-1-2", "fn-a-2"]
    fixed = [ident for ident, _ in template_ids()]
    every = Ids(doc.html).ids + fixed + ["ref-power2022"]
    assert len(every) == len(set(every)), sorted(every)


@pytest.mark.parametrize("markdown, expected", [
    ("## Title {#sec-x}\n\n## Other {#sec-x}\n", 'content/index.md:6: duplicate id "sec-x" (first used at content/index.md:4)'),
    ("## Demo {#demo-line}\n\n{{< chart demo-line >}}\n", 'content/index.md:6: duplicate id "demo-line" (first used at content/index.md:4)'),
    ("## Cite {#cite}\n", 'content/index.md:4: duplicate id "cite" (first used at builder/render/templates/article.html.j2:'),
    ("## Top {#article}\n", 'content/index.md:4: duplicate id "article" (first used at builder/render/templates/article.html.j2:'),
    ("See [@power2022].\n\n## Refs {#ref-power2022}\n", 'content/index.md:6: duplicate id "ref-power2022" (first used at content/index.md:4)'),
    ("A.[^a.b]\n\nB.[^a-b]\n\n[^a.b]: x\n\n[^a-b]: y\n", 'content/index.md:6: duplicate id "fn-a-b" (first used at content/index.md:4)'),
    ("## Notes {#footnotes}\n\nA.[^n]\n\n[^n]: x\n", 'content/index.md:6: duplicate id "footnotes" (first used at content/index.md:4)'),
    ("[a]{#x} and\n[b]{#x}\n", 'content/index.md:5: duplicate id "x" (first used at content/index.md:4)'),
    ('<span id="sec-a">x</span>\n\n## A {#sec-a}\n', 'content/index.md:6: duplicate id "sec-a" (first used at content/index.md:4)'),
    ('## A {#sec-a}\n\nText <b id="sec-a">b</b>.\n', 'content/index.md:6: duplicate id "sec-a" (first used at content/index.md:4)'),
])
def test_an_explicit_id_given_twice_is_an_error_naming_the_first_use(render, markdown, expected):
    message = error_of(render, FRONT + markdown)
    assert message.startswith(expected) and "(hint: " in message, message


def test_a_heading_label_becomes_its_id_and_leaves_its_text(render):
    doc = render(FRONT + "## Why it groks {#sec-why}\n\nSee [why](#sec-why).\n")
    assert '<h2 id="sec-why">Why it groks</h2>' in doc.html
    assert [(e.id, e.kind, e.line) for e in doc.ids.of_kind("heading")] == [("sec-why", "heading", 4)]


@pytest.mark.parametrize("heading", ["## Bad {#sec x}", "## Bad {#}", "## Bad {.unnumbered}", "## Bad {#1st}"])
def test_a_heading_label_that_cannot_be_read_is_an_error(render, heading):
    message = error_of(render, FRONT + heading + "\n")
    assert message.startswith(f"{PATH}:4: cannot read the heading label"), message


def test_the_template_ids_are_read_from_the_template():
    assert {"article", "references", "cite", "popup", "article-data"} <= {i for i, _ in template_ids()}
    assert TEMPLATE_SHOWN.endswith("article.html.j2")


def test_every_id_of_the_real_article_is_unique():
    """content/index.md as the build renders it, plus the template's fixed ids and the
    references' (the build itself checks the written page: tests/test_article.py)."""
    doc, _ = render_article()
    ids = Ids(doc.html).ids + [i for i, _ in template_ids()] + [f"ref-{key}" for key in doc.citations]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    assert not repeated, repeated
    assert set(Ids(doc.html).ids) <= set(doc.ids.entries)  # the registry knows each of them
