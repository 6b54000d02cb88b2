"""TeX -> MathML (builder.math): the constructs the article uses, and the TeX it must refuse."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from builder.errors import BuildError
from builder.math import MathError, render, tex_to_mathml

NS = "{http://www.w3.org/1998/Math/MathML}"


def tree(tex: str, display: bool = False) -> ET.Element:
    """The MathML as an element tree (the output must be well-formed XML)."""
    return ET.fromstring(tex_to_mathml(tex, display))


def tags(el: ET.Element) -> list[str]:
    return [e.tag.removeprefix(NS) for e in el.iter()]


def texts(el: ET.Element, tag: str) -> list[str]:
    return [e.text or "" for e in el.iter(NS + tag)]


def visible(el: ET.Element) -> str:
    """All rendered text (the TeX annotation left out)."""
    return "".join(t for e in el.iter() if e.tag != NS + "annotation" for t in (e.text or "",))


def test_output_is_math_with_semantics_and_tex_annotation():
    el = tree(r"a^2 + b^2 = c^2")
    assert el.tag == NS + "math" and el.get("display") == "inline"
    (sem,) = el
    assert sem.tag == NS + "semantics"
    ann = sem.find(NS + "annotation")
    assert ann.get("encoding") == "application/x-tex" and ann.text == r"a^2 + b^2 = c^2"
    assert tags(el).count("msup") == 3
    assert "\\" not in visible(el) and "^" not in visible(el)


def test_display_flag():
    assert tree("x", display=True).get("display") == "block"


def test_aligned_becomes_mtable_with_right_left_columns():
    el = tree(r"\begin{aligned} f(x) &= x^2 \\ g(x) &= \sqrt{x} & h &= 1 \end{aligned}", display=True)
    (table,) = el.iter(NS + "mtable")
    rows = table.findall(NS + "mtr")
    assert len(rows) == 2
    first = [td.get("columnalign") for td in rows[0].findall(NS + "mtd")]
    assert first[:2] == ["right", "left"]
    second = [td.get("columnalign") for td in rows[1].findall(NS + "mtd")]
    assert second == ["right", "left", "right", "left"]


def test_pmatrix_is_a_table_in_parentheses():
    el = tree(r"\begin{pmatrix} a & b \\ c & d \end{pmatrix}")
    (table,) = el.iter(NS + "mtable")
    assert [len(r.findall(NS + "mtd")) for r in table.findall(NS + "mtr")] == [2, 2]
    ops = texts(el, "mo")
    assert ops[0] == "(" and ops[-1] == ")"


def test_text_operatorname_bmod():
    el = tree(r"\operatorname{ReLU}(x) \bmod p \text{ for all } x")
    assert "ReLU" in texts(el, "mo") + texts(el, "mi")
    assert "mod" in texts(el, "mo")
    assert any("for all" in t.replace("\xa0", " ") for t in texts(el, "mtext"))


def test_left_right_are_stretchy_fences():
    el = tree(r"\left( \frac{a}{b} \right)")
    fences = [e for e in el.iter(NS + "mo") if e.get("fence") == "true"]
    assert [f.text for f in fences] == ["(", ")"] and all(f.get("stretchy") == "true" for f in fences)
    assert "mfrac" in tags(el)


def test_argmax_is_defined_as_an_operator():
    el = tree(r"\argmax_c \operatorname{logits}_c", display=True)
    assert "argmax" in texts(el, "mo")
    assert "\\" not in visible(el)


def test_norm_delimiters():
    el = tree(r"\lVert W \rVert_2")
    assert texts(el, "mo").count("\u2016") == 2


def test_author_text_is_escaped_not_markup():
    html = tex_to_mathml(r"\text{<b>bold</b> & co}")
    assert "<b>" not in html and "&lt;b&gt;" in html
    el = ET.fromstring(html)
    assert "<b>bold</b>" in visible(el)


def test_annotation_escapes_markup():
    html = tex_to_mathml(r"a < b")
    assert '<annotation encoding="application/x-tex">a &lt; b</annotation>' in html


@pytest.mark.parametrize("tex, reason", [
    (r"\foo x", r"unknown TeX command \foo"),
    (r"\frac{a}{b", "1 unclosed '{'"),
    (r"a}", "unmatched '}'"),
    (r"\left( x", r"\left and \right do not pair up (1 \left, 0 \right)"),
    (r"\begin{pmatrix} 1", r"\begin{pmatrix} is never closed"),
    (r"\end{aligned}", r"\end{aligned} does not match an open \begin"),
    (r"x^", "cannot convert TeX (MissingSuperScriptOrSubscriptError)"),
    (r"\'e", r"unknown TeX command \'"),
    ("x \\", "a lone backslash at the end"),
    ("a \\\n b", "a backslash before a line break"),  # (found by the property test: kept to one line)
    (r"a & b", "'&' outside an aligned or matrix environment (hint: write \\& for an ampersand)"),
    ("  ", "empty math"),
])
def test_bad_tex_raises_math_error(tex, reason):
    with pytest.raises(MathError) as info:
        tex_to_mathml(tex)
    assert str(info.value) == reason


def test_render_reports_path_and_line():
    with pytest.raises(BuildError) as info:
        render(r"\frac{1}{2} + \nope", False, "content/index.md", 12)
    assert str(info.value) == (r"content/index.md:12: unknown TeX command \nope in math $\frac{1}{2} + \nope$ "
                               "(hint: check braces and command names)")


def test_render_shortens_long_tex_to_one_line():
    tex = "x +\n" * 30 + r"\bad"
    with pytest.raises(BuildError) as info:
        render(tex, True, "p.md", 3)
    msg = str(info.value)
    assert "\n" not in msg and re.search(r"in math \$x \+ x \+ .{20,40}\.\.\.\$", msg)
