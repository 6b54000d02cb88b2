"""The page render step (builder.render.page) is pure: the same inputs give the same page, its
inputs are left as they were, and no Builder is needed to call it."""
from __future__ import annotations

import copy
import datetime as dt
import html
import json
import re

import jinja2

from builder.render import interactions, page
from builder.render.charts import ChartCache, share_tables

from conftest import DEMO_MD, FRONT

TEMPLATES = page.__file__.rsplit("/", 1)[0] + "/templates"


def _inputs(render, registry, refs):
    doc = render(DEMO_MD)
    cache = ChartCache(None)
    compiled = []
    for c in doc.charts:
        fig = registry.figures[c]
        steps = registry.sections[fig.section].steps if fig.scrub else None
        compiled.append(cache.compile(c, fig.make(None).to_dict(), interactions.figure_values(fig, steps), svg=False))
    texts, _ = share_tables(compiled, [])
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=jinja2.select_autoescape(["html", "j2"]))
    return env.get_template("article.html.j2"), doc, registry, compiled, texts, refs


def test_the_same_inputs_give_the_same_page_and_stay_as_they_were(render, registry, refs):
    inputs = _inputs(render, registry, refs)
    template, doc, _, compiled, texts, _ = inputs
    before = copy.deepcopy((doc.html, doc.front, doc.charts, [c.vega for c in compiled], texts))
    one = page.render_page(*inputs, today=dt.date(2020, 1, 2))
    assert page.render_page(*inputs, today=dt.date(2020, 1, 2)) == one
    assert copy.deepcopy((doc.html, doc.front, doc.charts, [c.vega for c in compiled], texts)) == before
    # what the page holds is what the parts give for the same inputs
    data = json.loads(re.search(r'<script[^>]*id="article-data">(.*?)</script>', one, re.S).group(1))
    tables = page.chart_tables(page.layouts(compiled), texts)
    assert data == page.page_data(doc, registry, {c.id: c for c in compiled}, tables)
    assert set(data["charts"]) == {"demo-line", "demo-bars"} and data["sections"]["demo"]["steps"][0] == 2000
    assert html.escape(page.bibtex(doc.front, "index.html", dt.date(2020, 1, 2)), quote=False) in one
    assert page.render_page(*inputs, today=dt.date(2020, 1, 2), live_reload="reload()") != one


def test_cite_this_depends_only_on_the_front_matter_and_the_date_given():
    front = {"title": "Grokking, explained", "authors": [{"name": "Ada Lovelace"}, {"name": "Alan Turing"}],
             "url": "https://example.org/grok/"}
    assert page.bibtex(front, "notes.html", dt.date(2021, 3, 4)) == (
        "@article{lovelace2021grokking,\n  title = {Grokking, explained},\n  author = {Ada Lovelace and Alan Turing},\n"
        "  year = {2021},\n  month = {mar},\n  url = {https://example.org/grok/notes.html}\n}")
    dated = {**front, "date": dt.date(2019, 12, 1)}
    assert page.bibtex(dated, "index.html", dt.date(2021, 3, 4)) == page.bibtex(dated, "index.html", dt.date(1999, 1, 1))
    assert "year = {2019}" in page.bibtex(dated, "index.html", dt.date(2021, 3, 4))


def test_a_page_without_charts_needs_no_registry_entries(render, registry, refs):
    template = _inputs(render, registry, refs)[0]
    doc = render(FRONT + "Just prose.\n")
    out = page.render_page(template, doc, registry, [], [], refs, today=dt.date(2020, 1, 2))
    assert "Just prose." in out and page.page_data(doc, registry, {}, {})["charts"] == {}
