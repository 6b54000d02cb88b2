"""Random Markdown, BibTeX, TeX, front matter, raw HTML and experiments.toml values thrown at the
engine: a clean page (or a clean `check`) or a clean one-line BuildError, never any other
exception; and nothing outside the raw HTML policy (builder.markdown.html_policy) in a page that
builds."""
from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
import tomllib
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import demo_figures
from conftest import DEMO_BIB, FRONT, REPO, tree_hashes, write_project

from builder.bib import parse_bibliography
from builder.build import Builder
from builder.errors import MESSAGE_LIMIT, BuildError
from builder.markdown import html_policy, make_parser, render_markdown
from builder.markdown.frontmatter import KNOWN, parse_front_matter
from builder.render.links import ADDRESS_ATTRIBUTES
from builder.urls import url_problem
from builder.math import MathError, render as render_math, tex_to_mathml
from builder.training import config

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


# ---- experiments.toml values ------------------------------------------------------------------
# Every line of the project's experiments.toml that sets a number or a list of numbers: each
# example rewrites one of them (or two) with a random value, then validates the table and runs
# what `check` runs on a copy of the project (the committed artifacts, a page placing a chart of
# a single run and one of two sweeps). Either it passes, or it stops with one line at a line of
# experiments.toml; never a traceback, never a write under content/ (check never trains).
EXPERIMENTS = (REPO / "content" / "experiments.toml").read_text()
NUMERIC_LINE = re.compile(r"^([a-z_0-9]+) = (-?[0-9][0-9_.eE+-]*|\[[-0-9., eE+_]*\])\s*(#.*)?$")
NUMERIC = [i for i, text in enumerate(EXPERIMENTS.splitlines()) if NUMERIC_LINE.match(text)]
AT_TOML_LINE = re.compile(r"^content/experiments\.toml:\d+: [^\n]+$")
CHECK_PAGE = FRONT + "Text.\n\n{{< chart mod-top-accuracy >}}\n\n{{< chart sweep-mod-bars >}}\n"


def toml_number(value) -> str:
    return repr(value) if isinstance(value, int) else {"inf": "inf", "-inf": "-inf", "nan": "nan"}.get(repr(value), repr(value))


scalar = st.one_of(
    st.integers(-5, 5), st.integers(-(2 ** 70), 2 ** 70),
    st.sampled_from([2 ** 63 - 1, 2 ** 63, -(2 ** 63) - 1, 10 ** 9, 10 ** 9 + 1, 100_000, 100_001, 10_001, 67, 500]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, 5e-324, 1e308, 0.5, 0.999, 1.0, 1e-3]),
)
number = st.one_of(scalar.map(toml_number),
                   st.lists(scalar.map(toml_number), min_size=0, max_size=3).map(lambda v: "[" + ", ".join(v) + "]"))


def near(index: int):
    """Values close to the line's own: most of them valid, so that examples reach the build."""
    value = tomllib.loads(EXPERIMENTS.splitlines()[index])
    value = next(iter(value.values()))
    one = value[0] if isinstance(value, list) else value
    kind = type(one)
    moved = [kind(one * 2), kind(one + 1), kind(one - 1), kind(one * 10), one / 2 if kind is float else max(one // 2, 1)]
    if isinstance(value, list):
        return st.sampled_from([value[:-1] or value, value + [moved[0]], [moved[1], *value[1:]], [one]]).map(
            lambda v: "[" + ", ".join(map(toml_number, v)) + "]")
    return st.sampled_from(moved).map(toml_number)


def table_of(index: int) -> str:
    """The [table] a line of experiments.toml belongs to."""
    headers = [line for line in EXPERIMENTS.splitlines()[:index] if line.startswith("[")]
    return headers[-1].strip("[]") if headers else ""


# the lines of the experiments the check page's charts read (their full profile): half the edits
READ = [i for i in NUMERIC if table_of(i) in ("mod-top", "sweep-mod-l2", "sweep-mod-l1")]
line_index = st.one_of(st.sampled_from(NUMERIC), st.sampled_from(READ))
edit = line_index.flatmap(lambda i: st.tuples(st.just(i), st.one_of(number, near(i), near(i))))


def with_values(edits) -> str:
    lines = EXPERIMENTS.splitlines()
    for index, value in edits:
        key = NUMERIC_LINE.match(lines[index]).group(1)
        lines[index] = f"{key} = {value}"
    return "\n".join(lines) + "\n"


def test_the_numeric_lines_cover_the_settings():
    keys = {NUMERIC_LINE.match(EXPERIMENTS.splitlines()[i]).group(1) for i in NUMERIC}
    assert len(READ) > 20
    assert {"steps", "lr", "eps", "weight_decay", "train_fraction", "p", "hidden", "embed", "seed", "metrics",
            "checkpoints", "curve_points", "beta1", "beta2", "init_scale", "momentum"} <= keys


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(edit, min_size=1, max_size=2))
def test_random_experiment_values_check_or_fail_in_one_line_at_the_toml(chart_cache, edits):
    text = with_values(edits)
    try:
        config.parse(text)
    except BuildError as exc:
        assert AT_TOML_LINE.match(str(exc)), str(exc)
        event("refused by the schema")
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = write_project(Path(tmp) / "proj", index=CHECK_PAGE, bib=None)
        (root / "content" / "experiments.toml").write_text(text)
        shutil.copytree(REPO / "content" / "_freeze", root / "content" / "_freeze",
                        ignore=shutil.ignore_patterns(".partial", ".manifest.lock"))
        before = tree_hashes(root / "content")
        try:
            Builder(root, cache=chart_cache, train=False).build(Path(tmp) / "out")  # what `check` runs
            event("checked: valid")
        except BuildError as exc:
            assert AT_TOML_LINE.match(str(exc)), str(exc)
            event("checked: " + re.sub(r"[\d,.]+|\[.*?\]|\".*?\"", "_", str(exc).split(": ", 1)[1])[:60])
        assert tree_hashes(root / "content") == before
        assert not list((root / "content").rglob(".partial"))


# ---- front matter (issue 25) ----------------------------------------------------------------
# YAML as an author might write it, and as nobody should: anchors and aliases (a few lines of
# them can stand for billions of values), merge keys, tags, odd scalars, nesting, long values.
yaml_scalar = st.one_of(
    st.sampled_from(["T", "'quoted'", '"dq \\u00e9"', "~", "null", "yes", "no", "true", "1e999", "-.inf", ".nan",
                     "0x1F", "0o17", "2026-11-22", "2026-02-30", "2026-11-22 10:00:00", "2026-11-22T25:00:00Z",
                     "!!binary aGVsbG8=", "!!str 3", "!!int x", "!!float y", "!!timestamp nope", "!!python/object:os.system x",
                     "!foo bar", "|\n    block\n    text", ">\n    folded", "'a'b'", '"\\x"', "@x", "`x`", "%x", "*x",
                     "https://example.org/", "javascript:alert(1)", "data:,x", "en", "en-GB", "e n", "[", "{", "]", "}",
                     "- x", ": x", "? x", "&a", "&a x", "*a", "*b", "<<"]),
    st.integers(-10, 10**30).map(str),
    st.integers(100, 3000).map(lambda n: "9" * n),
    st.integers(50, 5000).map(lambda n: "x" * n),
    st.text(alphabet="ab :#-'\"[]{},&*!|>", max_size=12),
)


def _yaml_value(depth: int):
    if depth == 0:
        return yaml_scalar
    inner = _yaml_value(depth - 1)
    anchored = st.tuples(st.sampled_from(["", "", "&a ", "&b ", "&c "]), inner).map("".join)
    return st.one_of(
        inner, anchored,
        st.lists(anchored, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.lists(st.tuples(st.sampled_from(["name", "affiliation", "x", "<<", "name"]), anchored), max_size=3)
          .map(lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}"),
        st.sampled_from(["[*a, *a, *a, *a]", "[*a, *b]", "*a", "{<<: *a}", "[" * 40 + "]" * 40, "{a: {b: {c: [d]}}}"]),
    )


yaml_key = st.sampled_from(["title", "title", "description", "authors", "date", "url", "image", "keywords", "license",
                            "lang", "draft", "autor", "title ", "'title'", "? title", "1", "null", "[a]", "k" * 300])
yaml_line = st.one_of(
    st.tuples(yaml_key, _yaml_value(2)).map(lambda kv: f"{kv[0]}: {kv[1]}"),
    st.tuples(yaml_key, st.lists(_yaml_value(1), min_size=1, max_size=3)).map(
        lambda kv: kv[0] + ":\n" + "".join(f"  - {v}\n" for v in kv[1]).rstrip("\n")),
    st.sampled_from(["", "# comment", "---", "...", "  indented: x", "\t- tab", "%YAML 1.1", "%TAG ! tag:x,1:"]),
)
front_matter = st.lists(yaml_line, max_size=6).map(lambda ls: "---\n" + "\n".join(ls) + "\n---\nText.\n")


@settings(FAST, max_examples=400)
@given(front_matter)
def test_random_front_matter_reads_or_fails_in_one_short_line(text):
    try:
        data = parse_front_matter(text, "content/index.md")
    except BuildError as exc:
        check_error(exc)
        assert exc.path == "content/index.md" and 1 <= exc.line <= text.count("\n") + 1
        assert len(str(exc)) < MESSAGE_LIMIT + 60, str(exc)[:300]  # a value quoted is cut short
        return
    assert isinstance(data.get("title"), str) and data["title"].strip()
    for key, value in data.items():
        assert key in KNOWN and isinstance(value, (str, list, bool, dt.date)), (key, value)


# ---- raw HTML (issue 25) --------------------------------------------------------------------
# Elements and attributes from the allowlist and from outside it, with addresses of every kind;
# a page either builds with nothing outside the policy in it, or stops at one line.
html_tag = st.sampled_from(sorted(html_policy.ELEMENTS) + [
    "script", "style", "iframe", "object", "embed", "form", "meta", "base", "link", "svg", "math", "video",
    "audio", "input", "button", "template", "h2", "main", "frame", "applet", "x-foo", "scr<ipt", "A", "IMG"])
url = st.one_of(
    st.sampled_from(["#x", "#", "", "figures/demo-line.svg", "notes.html", "a/../b", "../x", "/etc/passwd",
                     "../../../../etc/passwd", "%2e%2e/x", "..%2fx", "//evil.example/x", "\\\\evil\\x", "a\\b",
                     "https://example.org/", "http://example.org/?a=1&b=2", "mailto:a@b.org", "doi:10.1/x",
                     "javascript:alert(1)", "JaVaScRiPt:x", "java&#9;script:x", "&#106;avascript:x", " javascript:x",
                     "data:text/html,<script>x</script>", "vbscript:x", "file:///etc/passwd", "x%00", "ftp://x"]),
    st.text(alphabet="ab/.:%#?&;=-\\ ", max_size=10),
)
html_attr = st.one_of(
    st.tuples(st.sampled_from(["href", "src", "alt", "title", "class", "id", "lang", "width", "colspan", "open",
                               "srcset", "poster", "action", "formaction", "data", "xlink:href", "background",
                               "cite", "style", "onclick", "onerror", "OnLoad", "data-popup", "target", "name",
                               "http-equiv", "content", "rel"]), url),
    st.tuples(st.just("style"), st.sampled_from(["color:red", "background:url(https://evil.example/x)"])),
    st.tuples(st.just("id"), st.sampled_from(["x", "x", "sec-a", "fn-1", "article", "cite", "demo-line", "2x", ""])),
)


def _tag(name, attrs, closing: bool) -> str:
    written = "".join(f' {k}="{v}"' if v is not None else f" {k}" for k, v in attrs)
    return f"<{name}{written}>" + ("text" + f"</{name}>" if closing else "")


html_piece = st.one_of(
    st.builds(_tag, html_tag, st.lists(html_attr, max_size=3), st.booleans()),
    st.sampled_from(["<!-- c -->", "<!-->", "<!DOCTYPE html>", "<?x?>", "<![CDATA[x]]>", "</div>", "<b", "a < b",
                     "&lt;script&gt;", "<b>&amp; &bogus; &#0;</b>", "<div>\n\n*md*\n\n</div>", "</ b>"]),
)
html_markdown = st.tuples(
    st.sampled_from(["## Intro\n\n", "## Intro {#sec-a}\n\n", "", "{{< chart demo-line >}}\n\n"]),
    st.lists(st.tuples(html_piece, st.booleans()), min_size=1, max_size=4),
).map(lambda t: FRONT_LINES + t[0] + "".join(p + ("\n\n" if block else " and ") for p, block in t[1]) + "\nEnd.\n")
FRONT_LINES = "---\ntitle: T\n---\n"
BUILDER_TAGS = {"p", "h2", "section", "ol", "li", "sup", "a", "figure", "div", "img", "figcaption", "span", "em", "br",
                "code", "pre", "strong", "ul", "blockquote", "hr", "table", "thead", "tbody", "tr", "th", "td"}


class _Tags(HTMLParser):
    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list]] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    handle_startendtag = handle_starttag


@settings(FAST, max_examples=400)
@given(html_markdown)
def test_random_raw_html_renders_within_the_policy_or_fails_cleanly(text):
    try:
        doc = render_markdown(text, Path("content/index.md"), REFS, REGISTRY.figures, REGISTRY.animations, MD)
    except BuildError as exc:
        check_error(exc)
        assert exc.path == "content/index.md" and 1 <= exc.line <= text.count("\n") + 1
        return
    ids = []
    for tag, attrs in _Tags(doc.html).tags:
        assert tag in html_policy.ELEMENTS or tag in BUILDER_TAGS, tag
        for name, value in attrs:
            assert not name.startswith("on") and name not in ("style", "srcset", "target", "name"), (tag, name)
            assert name not in ADDRESS_ATTRIBUTES or name in ("href", "src"), (tag, name)
            if name in ("href", "src"):
                assert url_problem(value or "") is None, (tag, name, value)
            if name == "id":
                ids.append(value)
    assert len(ids) == len(set(ids)), ids


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(front_matter, html_markdown))
def test_random_front_matter_and_raw_html_build_or_fail_cleanly(chart_cache, text):
    with tempfile.TemporaryDirectory() as tmp:
        root = write_project(Path(tmp), index=text)
        try:
            Builder(root, registry=REGISTRY, cache=chart_cache).build()
        except BuildError as exc:
            check_error(exc)
            assert not (root / "site").exists()
            return
        assert (root / "site" / "index.html").is_file()
