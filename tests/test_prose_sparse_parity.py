"""The sparse-parity section of content/index.md: its example strings and its animations.

The numbers and sentences the section states about the frozen runs are facts and claims
(builder/figures/sparse_parity.py), evaluated by tests/test_claims.py; what stays here is what
they do not cover: that the example table shows real training strings, and how it is laid out.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from builder.facts import Book
from builder.figures import sparse_parity
from builder.figures.context import BuildContext
from builder.paths import ROOT, frozen_root
from builder.training import config, tasks

ARTIFACTS = frozen_root()  # see builder.claims
CTX = BuildContext(ARTIFACTS)  # the figure modules read it through a build context


@pytest.fixture(scope="module")
def l1():
    return sparse_parity.run(CTX, sparse_parity.EXPERIMENT)


def at(r, key, step):
    return float(r[key][int(np.flatnonzero(r["metric_step"] == step)[0])])


# ---- the example strings (issue 27) -------------------------------------------------------
def training_batch():
    """The featured run's training strings and labels, as its trainer draws them."""
    spec = config.get(sparse_parity.EXPERIMENT).resolve()
    data = tasks.sparse_parity(spec["n_bits"], spec["parity_bits"], spec["train_size"], spec["test_size"], [spec["seed"]])
    return spec, data.train_x[0].int().numpy(), data.train_y[0].int().numpy()


def test_the_examples_are_strings_of_the_training_batch_with_their_labels():
    spec, x, y = training_batch()
    rows = sparse_parity.examples(BuildContext(ROOT, train=False))
    assert len(rows) == sparse_parity.EXAMPLES == 4
    k = spec["parity_bits"]
    found = []
    for row in rows:
        assert len(row["head"]) == k and len(row["head"] + row["tail"]) == spec["n_bits"]
        bits = np.array([int(c) for c in row["head"] + row["tail"]] + [1])  # the bias input
        index = int(np.flatnonzero((x == bits).all(axis=1))[0])  # an IndexError: not in the batch
        assert row["label"] == y[index] == row["head"].count("1") % 2
        found.append(index)
    # the first two of each label, in batch order
    expected = sorted([i for i in range(len(y)) if y[i] == 0][:2] + [i for i in range(len(y)) if y[i] == 1][:2])
    assert found == expected


def test_the_example_facts_show_the_rows():
    book = Book(*_facts_and_claims(), BuildContext(ROOT, train=False))
    rows = sparse_parity.examples(BuildContext(ROOT, train=False))
    for i, row in enumerate(rows, start=1):
        assert book.text(f"parity.example-{i}-head") == row["head"]
        assert book.text(f"parity.example-{i}-tail") == row["tail"]
        assert book.text(f"parity.example-{i}-label") == str(row["label"])


def _facts_and_claims():
    from builder.figures import default_registry

    reg = default_registry(BuildContext(ROOT, train=False))
    return reg.facts, reg.claims


def test_the_article_shows_the_examples_as_a_table_of_text(article_doc):
    """A real <table> (not an image) in a `::: bits` block: a header naming the deciding bits,
    one row per example, each row's bits the example's string and its label."""
    doc = article_doc[0]
    block = re.search(r'<div class="bits">\s*(<table>.*?</table>)\s*</div>', doc.html, re.S)
    assert block, "no ::: bits table in the article"
    table = block.group(1)
    headers = re.findall(r"<th[^>]*>(.*?)</th>", table)
    assert headers == ["Bits 1–3", "Bits 4–30", "Label"]
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]]
    rows = sparse_parity.examples(BuildContext(ROOT, train=False))
    plain = [[re.sub(r"<[^>]+>", "", c) for c in row] for row in cells]
    assert plain == [[r["head"], r["tail"], str(r["label"])] for r in rows]
    # the section's text leads into it: before the first chart of the section
    assert doc.html.index('<div class="bits">') < doc.html.index('id="sparse-parity-accuracy"')


def test_the_bits_table_is_styled_for_phones_print_and_dark_mode():
    css = (ROOT / "builder" / "render" / "static" / "article.css").read_text(encoding="utf-8")
    assert re.search(r"\.bits td:first-child \{[^}]*font-weight: 700;[^}]*color: var\(--accent\)", css)  # marked, both themes
    assert re.search(r"@media \(max-width: 420px\) \{ \.bits table \{ font-size", css)  # smaller on a phone
    prints = css[css.index("@media print"):]
    assert ".bits td:first-child" in prints and ".article table" in prints  # print: grey, not split


# ---- the animations -----------------------------------------------------------------------
@pytest.mark.frozen("sparse-parity")
def test_animations_bracket_the_phases(l1):
    mem_end, gen_end = sparse_parity.MEMORIZE[1], sparse_parity.GENERALIZE[1]
    assert sparse_parity.GENERALIZE[0] == mem_end
    assert at(l1, "train_acc", mem_end) >= 0.99 and at(l1, "test_acc", mem_end) <= 0.6
    assert at(l1, "test_acc", gen_end) >= 0.99


# ---- the example table in a browser: a phone, dark mode, print ----------------------------
def _luminance(rgb: str) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (float(v) for v in re.findall(r"[\d.]+", rgb)[:3])
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def _contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


TABLE_JS = """() => {
    const block = document.querySelector('.bits'), table = block.querySelector('table');
    const first = table.querySelector('tbody td'), tail = table.querySelector('tbody td:nth-child(2)');
    const style = getComputedStyle(first);
    return {page: document.scrollingElement.scrollWidth, block: block.getBoundingClientRect().width,
            table: table.getBoundingClientRect().width, right: table.getBoundingClientRect().right,
            lines: tail.getClientRects().length, tailHeight: tail.getBoundingClientRect().height,
            lineHeight: parseFloat(getComputedStyle(tail).lineHeight) || 20,
            font: getComputedStyle(tail).fontFamily, color: style.color, weight: style.fontWeight,
            bg: getComputedStyle(document.body).backgroundColor};
}"""


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_example_table_fits_a_360px_phone_in_both_themes(chromium, article_doc, tmp_path, scheme):
    block = re.search(r'<div class="bits">.*?</div>', article_doc[0].html, re.S).group(0)
    css = (ROOT / "builder" / "render" / "static" / "article.css").read_text(encoding="utf-8")
    page_file = tmp_path / "bits.html"
    page_file.write_text('<!doctype html><html><head><meta charset="utf-8">'
                         '<meta name="viewport" content="width=device-width, initial-scale=1">'
                         f'<style>{css}</style></head><body><main class="article"><p>Text.</p>{block}</main></body></html>',
                         encoding="utf-8")
    context = chromium.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True,
                                   color_scheme=scheme)
    page = context.new_page()
    page.goto(page_file.as_uri())
    m = page.evaluate(TABLE_JS)
    assert m["page"] <= 360, m  # no sideways scroll
    assert m["table"] <= m["block"] + 0.5 and m["right"] <= 360 - 10, m  # inside the column
    assert m["tailHeight"] < 1.6 * m["lineHeight"], m  # each string on one line
    assert "mono" in m["font"].lower(), m
    assert int(m["weight"]) >= 700 and _contrast(m["color"], m["bg"]) >= 4.5, m  # marked, and readable
    if scheme == "dark":
        assert _luminance(m["bg"]) < 0.05 and _luminance(m["color"]) > 0.2, m
    page.emulate_media(media="print")
    printed = page.evaluate(TABLE_JS)
    assert printed["color"] == "rgb(0, 0, 0)", printed  # print: black on a grey tint
    context.close()
