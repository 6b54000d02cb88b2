"""Charts: a line `{{< chart ID >}}` places a registered figure.

Parsing makes a `chart` token (meta["id"]); at parse time (builder.markdown.resolve) the id is
checked against env["figures"], the use recorded in env["charts"] so the page can inline that
figure's compiled spec, and the figure kept in meta["figure"], which rendering formats.
"""
from __future__ import annotations

import html
import re

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock

from builder.errors import BuildError, cut, did_you_mean
from builder.facts import filled
from builder.markdown.ids import page_ids
from builder.markdown.lines import line_of
from builder.markdown.resolve import on_token

SHORTCODE = re.compile(r"^\{\{<\s*chart\s+([^\s>]+)\s*>\}\}\s*$")
ANY_SHORTCODE = re.compile(r"^\{\{<\s*(\S+)")


def _chart_rule(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    pos = state.bMarks[start] + state.tShift[start]
    line = state.src[pos : state.eMarks[start]]
    if not line.startswith("{{<"):
        return False
    m = SHORTCODE.match(line)
    if silent:
        return True
    token = state.push("chart", "", 0)
    token.map = [start, start + 1]
    if m:
        token.meta = {"id": m.group(1)}
    else:
        other = ANY_SHORTCODE.match(line)
        token.meta = {"id": None, "bad": other.group(1) if other else line}
    state.line = start + 1
    return True


def _resolve_chart(tokens, idx, env) -> None:
    token = tokens[idx]
    path, line = env.get("path"), line_of(token)
    if token.meta["id"] is None:
        raise BuildError(path, line, f'unknown shortcode "{cut(token.meta["bad"])}" (hint: write {{{{< chart ID >}}}})')
    figures = env["figures"]
    chart_id = token.meta["id"]
    if chart_id not in figures:
        raise BuildError(path, line, f'unknown chart id "{cut(chart_id)}"' + did_you_mean(chart_id, figures))
    used = env.setdefault("charts", [])
    if chart_id in used:
        raise BuildError(path, line, f'chart "{chart_id}" is placed twice (hint: each chart appears once per page)')
    used.append(chart_id)
    page_ids(env).claim(chart_id, "chart", line, hint="the chart's element has its chart id; give the other a different one")
    # its caption's and description's facts, filled in now that it is placed (the page's later
    # stages read the figure from the same table)
    figures[chart_id] = filled(figures[chart_id], env.get("book"), (path, line))
    token.meta["figure"] = figures[chart_id]


def _render_chart(self, tokens, idx, options, env) -> str:
    return figure_html(tokens[idx].meta["figure"])


def frame_html(fig, placeholder: str | None = None, steps=None, initial: int | None = None,
               controls: bool = False) -> str:
    """The frame a figure's chart is drawn in. The page first shows `placeholder` there (the
    static image, sized: builder.render.charts.placeholder_html); the build puts it in, with a
    scrub chart's slider values (`steps`, `initial`), in place of this plain one. A chart with
    inputs of its own (`controls`) is a labelled group, not an image: an image's content is
    presentational, and an input inside it would be hidden from a screen reader."""
    cid = html.escape(fig.id)
    desc = html.escape(fig.description)
    attrs = ' role="slider" tabindex="0"' if fig.scrub else ' role="group"' if controls else ' role="img"'
    if fig.scrub and steps:
        attrs += (f' aria-valuemin="{steps[0]}" aria-valuemax="{steps[-1]}" aria-valuenow="{initial}"'
                  f' aria-valuetext="step {initial:,}"')
    body = placeholder or f'<div class="chart-placeholder"><img src="figures/{cid}.svg" alt=""></div>'
    return f'<div class="chart-frame"{attrs} aria-label="{desc}"><div class="vega">{body}</div></div>'


# A caption's clauses that tell the reader how to work the chart ("Move the pointer ...", "tick
# the box ...") are marked `hint`: the print stylesheet leaves them out with the controls.
_HINT = re.compile(r"\b(pointer|arrow keys|hover|tap|click|tick|sliders?|scrubs?|drag|point at|pick|"
                   r"move|use the lists?|in the list)\b", re.IGNORECASE)
_ASIDE = re.compile(r"( ?\([^()]*\))")


def clauses(text: str) -> list[str]:
    """`text` split after each '.', ';' or ':' that ends a clause outside parentheses."""
    parts, start, depth = [], 0, 0
    for i, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if ch in ".;:" and depth == 0 and (i + 1 == len(text) or text[i + 1] == " "):
            parts.append(text[start:i + 1].strip())
            start = i + 1
    tail = text[start:].strip()
    return [p for p in parts + [tail] if p]


def caption_html(caption: str) -> str:
    """A figure's caption, each clause that explains the controls wrapped in <span class="hint">."""
    def hint(text: str) -> str:
        return f'<span class="hint">{text}</span>'

    out = []
    for clause in clauses(caption):
        if _HINT.search(_ASIDE.sub("", clause)):
            out.append(hint(html.escape(clause)))
        else:  # a parenthesis that explains the controls, inside a clause that describes the chart
            pieces = _ASIDE.split(clause)
            out.append("".join(hint(html.escape(p)) if _ASIDE.fullmatch(p) and _HINT.search(p) else html.escape(p)
                               for p in pieces))
    return " ".join(out)


def links_html(fig, extra: tuple = ()) -> str:
    """The controls under a figure: its static image, its data (the main table, then each
    `extra` table name: builder.render.tables), a link to the view the reader has set, and a
    citation of the figure. Without JavaScript the last two lead to the figure and to the
    article's BibTeX."""
    cid = html.escape(fig.id)
    data = f'<a class="chart-data" href="figures/{cid}.csv">Data (CSV)</a>'
    data += "".join(f' <a class="chart-data" href="figures/{cid}.{html.escape(t)}.csv">{html.escape(t)}.csv</a>' for t in extra)
    return (f'<span class="chart-links"><a class="chart-static" href="figures/{cid}.svg">Static image</a> {data}'
            f' <a class="chart-share" href="#{cid}">Link to this view</a> <a class="chart-cite" href="#cite">Cite</a></span>')


def figure_html(fig) -> str:
    cid = html.escape(fig.id)
    return (
        f'<figure class="chart{" scrub" if fig.scrub else ""}" id="{cid}" data-chart="{cid}" '
        f'data-section="{html.escape(fig.section)}">\n'
        f"{frame_html(fig)}\n"
        # printed instead of the live chart (hidden on screen, so the lazy image is never fetched there)
        f'<img class="chart-print" src="figures/{cid}.svg" alt="" loading="lazy">\n'
        f'<figcaption>{caption_html(fig.caption)} {links_html(fig)}</figcaption>\n'
        "</figure>\n"
    )


def charts_plugin(md: MarkdownIt) -> None:
    md.block.ruler.before("paragraph", "chart", _chart_rule, {"alt": ["paragraph"]})
    on_token(md, "chart", _resolve_chart)
    md.add_render_rule("chart", _render_chart)
