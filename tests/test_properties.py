"""Random Markdown, BibTeX and TeX thrown at the engine: a clean page or a clean one-line
BuildError, never any other exception."""
from __future__ import annotations

import re
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import demo_figures
from conftest import DEMO_BIB, write_project

from builder.bib import parse_bibliography
from builder.build import Builder
from builder.errors import BuildError
from builder.markdown import make_parser, render_markdown
from builder.math import MathError, render as render_math, tex_to_mathml

WITH_LINE = re.compile(r"^[^\n]+:\d+: [^\n]+$")
ONE_LINE = re.compile(r"^[^\n]+: [^\n]+$")
REFS = parse_bibliography(DEMO_BIB, "content/references.bib")
REGISTRY = demo_figures.registry()
MD = make_parser()
FAST = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---- strategies -----------------------------------------------------------------------------
TEX_TOKENS = [
    "a", "x_1", "2", "+", "=", " ", "^", "_", "{", "}", "\\frac", "\\sqrt", "\\alpha", "\\sum_i",
    "\\left(", "\\right)", "\\left.", "\\right|", "\\begin{aligned}", "\\end{aligned}", "&", "\\\\",
    "\\begin{pmatrix}", "\\end{pmatrix}", "\\text{", "\\operatorname{", "\\bmod", "\\argmax",
    "\\lVert", "\\rVert", "\\mathbb{", "\\foo", "\\'", "\\,", "\\{", "\\}", "\\&", "<", ">", "'",
    '"', "%", "#", "~", "\\", "\\begin{cases}", "\\end{cases}", "\\over", "(", ")", "|",
]
tex = st.one_of(
    st.lists(st.sampled_from(TEX_TOKENS), min_size=1, max_size=12).map("".join),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=15),
)
word = st.text(alphabet="abcdefghij XYZ,.!?'-", min_size=1, max_size=12)
keys = st.sampled_from(list(REFS) + ["nope", "powr2022", "a.b", "x/y", ""])
cite = st.lists(keys, min_size=1, max_size=3).map(lambda ks: "[" + "; ".join("@" + k for k in ks) + "]")
chart_ids = st.sampled_from(["demo-line", "demo-bars", "demo-lnie", "zzz"])
inline = st.one_of(
    word, word.map(lambda w: f"*{w.strip() or 'x'}*"), cite, tex.map(lambda t: f"${t}$"),
    st.sampled_from(["[^1]", "[^n]", "[^zz]", "$5 and $10", "[x](#references)", "[x](#nowhere)",
                     '[go]{animate="demo-play"}', '[go]{animate="nope"}', "{{< chart demo-bars >}}", "<b>", "&"]),
)
line = st.one_of(
    st.lists(inline, min_size=1, max_size=5).map(" ".join),
    st.sampled_from(["", "", "::: sticky", "::: aside", "::: zzz", ":::", "$$", "```", "## Heading",
                     "[^1]: A note with $x^2$ and [@power2022].", "[^n]: Note.", "    indented", "- item",
                     "> quote"]),
    chart_ids.map(lambda c: f"{{{{< chart {c} >}}}}"),
    st.sampled_from(["{{< chart >}}", "{{< figure a >}}"]),
    tex.map(lambda t: f"$$\n{t}\n$$"),
)
front = st.sampled_from([
    "---\ntitle: T\n---\n", "---\ntitle: T\ndate: 2026-01-02\nauthors: [A B, {name: C D}]\n---\n",
    "---\ntitle: [x\n---\n", "---\nfoo: 1\ntitle: T\n---\n", "---\ntitle: 3\n---\n", "---\n---\n",
    "---\ntitle: T\n", "", "---\n- a\n---\n", "---\ntitle: T\nauthors: [1]\n---\n",
])
markdown = st.tuples(front, st.lists(line, max_size=14)).map(lambda fl: fl[0] + "\n".join(fl[1]) + "\n")


def check_error(exc: BuildError, need_line: bool = True) -> None:
    message = str(exc)
    assert (WITH_LINE if need_line else ONE_LINE).match(message), message


# ---- Markdown -------------------------------------------------------------------------------
@settings(FAST, max_examples=300)
@given(markdown)
def test_random_markdown_renders_or_fails_cleanly(text):
    try:
        doc = render_markdown(text, Path("content/index.md"), REFS, REGISTRY.figures, REGISTRY.animations, MD)
    except BuildError as exc:
        check_error(exc)
        assert exc.path == "content/index.md"
        assert 1 <= exc.line <= text.count("\n") + 1
        return
    assert isinstance(doc.html, str)
    outside_code = re.sub(r"<pre>.*?</pre>|<code>.*?</code>|<annotation.*?</annotation>", "", doc.html, flags=re.S)
    assert "{{<" not in outside_code  # every shortcode was consumed
    assert "<math" not in doc.html or "</math>" in doc.html
    for key in doc.citations:
        assert key in REFS
    for match in re.finditer(r"<math.*?</math>", doc.html, re.S):
        ET.fromstring(match.group(0))  # well-formed MathML


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(markdown)
def test_random_markdown_builds_or_fails_cleanly(chart_cache, text):
    with tempfile.TemporaryDirectory() as tmp:
        root = write_project(Path(tmp), index=text)
        try:
            report = Builder(root, registry=REGISTRY, cache=chart_cache).build()
        except BuildError as exc:
            check_error(exc)
            assert not (root / "site").exists()
            return
        assert report.pages == ["index.html"]
        assert (root / "site" / "index.html").is_file()


# ---- BibTeX ---------------------------------------------------------------------------------
bib_value = st.one_of(
    st.text(alphabet="abcXYZ {}\\'\",=@#%0123", max_size=12).map(lambda v: "{" + v + "}"),
    st.text(alphabet="abc XYZ", max_size=10).map(lambda v: '"' + v + '"'),
    st.integers(0, 3000).map(str),
)
bib_field = st.tuples(st.sampled_from(["title", "author", "year", "doi", "url", "eprint", "journal", "bad field"]),
                      bib_value, st.sampled_from([",", ",", ""]))
bib_entry = st.tuples(
    st.sampled_from(["@article", "@misc", "@inproceedings", "@string", "@comment", "@", "article"]),
    st.sampled_from(["{", "(", ""]), st.sampled_from(["k1", "k2", "k1", "", "a b", "x,"]),
    st.lists(bib_field, max_size=5), st.sampled_from(["}", ")", "", "}}"]),
).map(lambda e: f"{e[0]}{e[1]}{e[2]},\n" + "".join(f"  {n} = {v}{c}\n" for n, v, c in e[3]) + e[4] + "\n")
bibtex = st.lists(st.one_of(bib_entry, st.sampled_from(["% comment\n", "\n", "junk\n"])), max_size=5).map("".join)


@settings(FAST, max_examples=300)
@given(bibtex)
def test_random_bibtex_parses_or_fails_cleanly(text):
    try:
        refs = parse_bibliography(text, "content/references.bib")
    except BuildError as exc:
        check_error(exc, need_line=False)
        assert exc.path == "content/references.bib"
        return
    for key, ref in refs.items():
        assert ref.key == key and ref.line >= 1
        assert "<script" not in ref.html
        assert isinstance(ref.html, str) and ref.html


# ---- TeX ------------------------------------------------------------------------------------
@settings(FAST, max_examples=500)
@given(tex, st.booleans())
def test_random_tex_converts_or_fails_cleanly(source, display):
    try:
        mathml = tex_to_mathml(source, display)
    except MathError as exc:
        assert str(exc) and "\n" not in str(exc)
        with pytest.raises(BuildError) as info:
            render_math(source, display, "content/index.md", 7)
        assert info.value.line == 7
        check_error(info.value)
        return
    root = ET.fromstring(mathml)  # well-formed XML, the author's text escaped
    assert root.tag.endswith("math")
    shown = "".join(e.text or "" for e in root.iter() if not e.tag.endswith("annotation"))
    assert "\\" not in shown  # no unconverted TeX
    (annotation,) = [e for e in root.iter() if e.tag.endswith("annotation")]
    assert annotation.text == source
