"""Random Markdown, BibTeX, TeX and experiments.toml values thrown at the engine: a clean page
(or a clean `check`) or a clean one-line BuildError, never any other exception."""
from __future__ import annotations

import re
import shutil
import tempfile
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import demo_figures
from conftest import DEMO_BIB, FRONT, REPO, tree_hashes, write_project

from builder.bib import parse_bibliography
from builder.build import Builder
from builder.errors import BuildError
from builder.markdown import make_parser, render_markdown
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
