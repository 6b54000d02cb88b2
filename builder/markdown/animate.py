"""Animate links and live values in the prose.

- `[play it]{animate="top-switches"}` plays a registered step range (a button).
- `[12]{show="appendix.answer"}` shows the value of the signal `answer` of the section
  `appendix`'s charts, kept up to date as the reader moves their inputs (an <output>; the text
  written in the Markdown is what readers without JavaScript see).

The attrs plugin parses `[text]{...}` into span tokens; this plugin renders the spans that carry
`animate` or `show` (checking ids against env["animations"] and the figures' sections) and
leaves other spans as <span>.
"""
from __future__ import annotations

import html

from markdown_it import MarkdownIt
from mdit_py_plugins.attrs import attrs_plugin

from builder.errors import BuildError, did_you_mean
from builder.markdown.lines import line_of

ALLOWED = ["animate", "show", "class", "id"]


def _open(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    stack = env.setdefault("_span_stack", [])
    anim, show = token.attrs.get("animate"), token.attrs.get("show")
    if show is not None:
        stack.append("</output>")
        return _show(show, token, env)
    stack.append("</button>" if anim is not None else "</span>")
    if anim is None:
        return self.renderToken(tokens, idx, options, env)
    animations = env["animations"]
    if anim not in animations:
        raise BuildError(
            env.get("path"), line_of(token), f'unknown animate id "{anim}"' + did_you_mean(anim, animations)
        )
    env.setdefault("animations_used", []).append(anim)
    a = animations[anim]
    label = html.escape(f"Play steps {a.start:,} to {a.end:,}")
    return (
        f'<button type="button" class="animate" data-animate="{html.escape(anim)}" '
        f'data-section="{html.escape(a.section)}" title="{label}"><span class="play" aria-hidden="true">▶</span> '
    )


def _show(target: str, token, env) -> str:
    section, _, signal = str(target).partition(".")
    sections = sorted({fig.section for fig in env["figures"].values()})
    if not signal or section not in sections:
        hint = did_you_mean(section, sections) if signal else " (hint: write section.signal)"
        raise BuildError(env.get("path"), line_of(token), f'show="{target}" names no chart section{hint}')
    env.setdefault("signals_used", []).append((section, signal, line_of(token), f'show="{target}"'))
    return (f'<output class="live" data-section="{html.escape(section)}" '
            f'data-signal="{html.escape(signal)}" aria-live="polite">')


def _close(self, tokens, idx, options, env) -> str:
    return env.setdefault("_span_stack", []).pop()


def animate_plugin(md: MarkdownIt) -> None:
    attrs_plugin(md, spans=True, allowed=ALLOWED)
    md.add_render_rule("span_open", _open)
    md.add_render_rule("span_close", _close)
