"""Charts: a line `{{< chart ID >}}` places a registered figure.

Parsing makes a `chart` token (meta["id"]); rendering checks the id against env["figures"] and
records the use in env["charts"] so the page can inline that figure's compiled spec.
"""
from __future__ import annotations

import html
import re

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock

from builder.errors import BuildError, did_you_mean
from builder.markdown.lines import line_of

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


def _render_chart(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    path, line = env.get("path"), line_of(token)
    if token.meta["id"] is None:
        raise BuildError(path, line, f'unknown shortcode "{token.meta["bad"]}" (hint: write {{{{< chart ID >}}}})')
    figures = env["figures"]
    chart_id = token.meta["id"]
    if chart_id not in figures:
        raise BuildError(path, line, f'unknown chart id "{chart_id}"' + did_you_mean(chart_id, figures))
    used = env.setdefault("charts", [])
    if chart_id in used:
        raise BuildError(path, line, f'chart "{chart_id}" is placed twice (hint: each chart appears once per page)')
    used.append(chart_id)
    fig = figures[chart_id]
    cid = html.escape(chart_id)
    desc = html.escape(fig.description)
    focus = ' tabindex="0"' if fig.scrub else ""
    role = "slider" if fig.scrub else "img"
    return (
        f'<figure class="chart{" scrub" if fig.scrub else ""}" id="{cid}" data-chart="{cid}" '
        f'data-section="{html.escape(fig.section)}">\n'
        f'<div class="chart-frame" role="{role}" aria-label="{desc}"{focus}><div class="vega">'
        f'<noscript><img src="figures/{cid}.svg" alt="{desc}"></noscript></div></div>\n'
        f'<figcaption>{html.escape(fig.caption)}'
        f' <a class="chart-static" href="figures/{cid}.svg">Static image</a></figcaption>\n'
        "</figure>\n"
    )


def charts_plugin(md: MarkdownIt) -> None:
    md.block.ruler.before("paragraph", "chart", _chart_rule, {"alt": ["paragraph"]})
    md.add_render_rule("chart", _render_chart)
