"""Animate links: `[play it]{animate="top-switches"}` plays a registered step range.

The attrs plugin parses `[text]{...}` into span tokens; this plugin renders the spans that carry
an `animate` attribute as buttons (checking the id against env["animations"]) and leaves other
spans as <span>.
"""
from __future__ import annotations

import html

from markdown_it import MarkdownIt
from mdit_py_plugins.attrs import attrs_plugin

from builder.errors import BuildError, did_you_mean
from builder.markdown.lines import line_of

ALLOWED = ["animate", "class", "id"]


def _open(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    stack = env.setdefault("_span_stack", [])
    anim = token.attrs.get("animate")
    stack.append(anim is not None)
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


def _close(self, tokens, idx, options, env) -> str:
    was_animate = env.setdefault("_span_stack", []).pop()
    return "</button>" if was_animate else "</span>"


def animate_plugin(md: MarkdownIt) -> None:
    attrs_plugin(md, spans=True, allowed=ALLOWED)
    md.add_render_rule("span_open", _open)
    md.add_render_rule("span_close", _close)
