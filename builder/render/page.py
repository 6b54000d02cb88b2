"""One page of the site as a function of its inputs: the rendered Markdown, the compiled charts,
the references and the registry in; the HTML out.

Nothing here reads or writes files or keeps state: the Builder (builder.build) makes the inputs,
calls `render_page` and writes what it returns. The page data (the small index the glue works
from), the cite-this BibTeX and the body with each chart's placeholder live here too.
"""
from __future__ import annotations

import datetime as dt
import re

from markupsafe import Markup

from builder.markdown import Document
from builder.markdown.charts import frame_html, links_html
from builder.render import interactions, tables as csv_tables
from builder.render.charts import NARROW, bound_signals, placeholder_html, script_json


def page_name(doc: Document) -> str:
    """The file a Markdown page becomes: index.md -> index.html, notes.md -> notes.html."""
    return "index.html" if doc.path.stem == "index" else f"{doc.path.stem}.html"


def layouts(compiled: list) -> list:
    """The page's compiled charts followed by their narrow (phone) layouts, in the order their
    scripts are written (share_tables' texts follow it)."""
    return compiled + [c.narrow for c in compiled if c.narrow is not None]


def chart_tables(charts: list, texts: list[str]) -> dict:
    """Chart (layout) name -> the keys of the shared tables its script text loads."""
    return {c.name: sorted(set(re.findall(r'"values":\{"shared":"([0-9a-f]+)"\}', text)))
            for c, text in zip(charts, texts)}


def page_data(doc: Document, reg, compiled: dict, tables: dict) -> dict:
    """The small index the page's glue works from (the charts' specs are files of their
    own): per chart its section and behaviour and the shared tables it needs (`tables`:
    chart id -> keys), per section its steps, per animation its range, and which chart
    computes each value the prose shows (`live`: "section.signal" -> chart id).
    `reg`: the figure Registry; `compiled`: chart id -> CompiledChart of the page's charts."""
    sections = {reg.figures[c].section for c in doc.charts}
    live = {}
    for c in doc.charts:  # the first chart of the section in page order that has the signal
        for sig in compiled[c].vega.get("signals", []):
            live.setdefault(f"{reg.figures[c].section}.{sig['name']}", c)
    runs = {}  # section -> the other runs its charts can show (a link names one of them)
    for c in doc.charts:
        keys = [k[len(interactions.VARIANT):] for k in compiled[c].payloads if k.startswith(interactions.VARIANT)]
        if keys:
            runs[reg.figures[c].section] = sorted(set(runs.get(reg.figures[c].section, [])) | set(keys))
    wanted = set(re.findall(r'data-section="([^"]+)" data-signal="([^"]+)"', doc.html))
    return {
        "charts": {c: interactions.page_entry(reg.figures[c], compiled[c], tables) for c in doc.charts},
        "live": {f"{sec}.{sig}": live[f"{sec}.{sig}"] for sec, sig in sorted(wanted) if f"{sec}.{sig}" in live},
        "sections": {
            k: {"steps": list(reg.sections[k].steps), "initial": reg.sections[k].initial,
                **({"runs": runs[k]} if runs.get(k) else {})}
            for k in sorted(sections) if k in reg.sections
        },
        "animations": {
            a: {"section": reg.animations[a].section, "start": reg.animations[a].start,
                "end": reg.animations[a].end, "seconds": reg.animations[a].seconds,
                "run": reg.animations[a].run}
            for a in doc.animations
        },
    }


def bibtex(front: dict, page: str, today: dt.date) -> str:
    """The "cite this article" BibTeX entry of a page (`today`: its date when the front matter
    gives none)."""
    authors = " and ".join(a["name"] for a in front.get("authors") or [])
    date = front.get("date") or today
    first = (front.get("authors") or [{"name": "anonymous"}])[0]["name"].split()[-1].lower()
    word = re.sub(r"[^a-z]", "", front["title"].split()[0].lower()) or "article"
    fields = [("title", front["title"]), ("author", authors), ("year", str(date.year)),
              ("month", date.strftime("%b").lower())]
    if front.get("url"):
        fields.append(("url", front["url"].rstrip("/") + ("/" if page == "index.html" else "/" + page)))
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields if v)
    return f"@article{{{re.sub(r'[^a-z0-9]', '', first)}{date.year}{word},\n{body}\n}}"


def with_placeholders(doc: Document, compiled: list, reg) -> str:
    """The page body with each chart's frame holding its sized placeholder (static image and
    disabled inputs) and, for a scrub chart, its slider values."""
    body = doc.html
    for chart in compiled:
        fig = reg.figures[chart.id]
        sec = reg.sections.get(fig.section)
        steps = list(sec.steps) if sec else None
        new = frame_html(fig, placeholder_html(chart, fig.limits), steps, sec.initial if sec else None,
                         controls=bool(bound_signals(chart.vega)))
        body = body.replace(frame_html(fig), new, 1)
        made = csv_tables.figure_tables(chart.vega)  # the data links name the files the build writes
        if made:
            links = links_html(fig, tuple(name for suffix, name, _ in made[1:]))
        elif fig.data is not None:  # the page computes the marks; the build writes the figure's own tables
            links = links_html(fig)
        else:
            links = re.sub(r' <a class="chart-data"[^>]*>[^<]*</a>', "", links_html(fig))
        body = body.replace(links_html(fig), links, 1)
    return body


def render_page(template, doc: Document, reg, compiled: list, texts: list[str], refs: dict, *,
                today: dt.date, live_reload: str | None = None) -> str:
    """The HTML of one page. `template`: the Jinja2 article template; `compiled`: the page's
    charts in page order; `texts`: the script text of each of their layouts (share_tables);
    `refs`: the bibliography (key -> entry with .html); `live_reload`: a script for `make serve`."""
    name = page_name(doc)
    references = [{"key": k, "html": Markup(refs[k].html), "uses": uses} for k, uses in doc.citations.items()]
    base = doc.front.get("url")
    tables = chart_tables(layouts(compiled), texts)
    return template.render(
        front=doc.front, body=Markup(with_placeholders(doc, compiled, reg)), references=references, root="",
        page_url=(base.rstrip("/") + "/" + ("" if name == "index.html" else name)) if base else None,
        bibtex=bibtex(doc.front, name, today),
        charts=bool(compiled),
        page_data=Markup(script_json(page_data(doc, reg, {c.id: c for c in compiled}, tables))),
        live_reload=Markup(live_reload) if live_reload else None,
    )
