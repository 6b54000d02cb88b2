"""Animate links and live values in the prose.

- `[play it]{animate="top-switches"}` plays a registered step range (a button).
- `[12]{show="appendix.answer"}` shows the value of the signal `answer` of the section
  `appendix`'s charts, kept up to date as the reader moves their inputs (an <output>; the text
  written in the Markdown is what readers without JavaScript see).

The attrs plugin parses `[text]{...}` into span tokens. At parse time (builder.markdown.resolve)
this plugin checks the spans that carry `animate` or `show` (ids against env["animations"] and
the figures' sections), records their use in env, and marks each span's opening and closing
token with what it becomes (meta["element"]: a button, an <output> or a plain <span>); rendering
formats those tokens.
"""
from __future__ import annotations

import html

from markdown_it import MarkdownIt
from mdit_py_plugins.attrs import attrs_plugin

from builder.errors import BuildError, cut, did_you_mean
from builder.markdown.lines import line_of
from builder.markdown.resolve import on_token

ALLOWED = ["animate", "show", "fact", "claim", "class", "id"]


def _resolve_open(tokens, idx, env) -> None:
    token = tokens[idx]
    anim, show = token.attrs.get("animate"), token.attrs.get("show")
    if show is not None:
        token.meta["element"] = "output"
        token.meta["live"] = _resolve_show(show, token, env)
    elif anim is not None:
        animations = env["animations"]
        if anim not in animations:
            raise BuildError(
                env.get("path"), line_of(token), f'unknown animate id "{cut(anim)}"' + did_you_mean(anim, animations)
            )
        env.setdefault("animations_used", []).append(anim)
        token.meta["element"] = "button"
        token.meta["animation"] = (anim, animations[anim])
    elif "fact" in token.attrs or "claim" in token.attrs:
        return  # builder.markdown.facts resolves it
    else:
        token.meta["element"] = "span"
    closing(tokens, idx).meta["element"] = token.meta["element"]


def closing(tokens, idx: int):
    """The span_close token of the span opened at `idx` (attrs spans nest within one inline
    token)."""
    depth = 0
    for i in range(idx + 1, len(tokens)):
        depth += {"span_open": 1, "span_close": -1}.get(tokens[i].type, 0)
        if depth < 0:
            return tokens[i]
    raise AssertionError("an attrs span without its closing token")


def _resolve_show(target: str, token, env) -> tuple[str, str]:
    section, _, signal = str(target).partition(".")
    sections = sorted({fig.section for fig in env["figures"].values()})
    if not signal or section not in sections:
        hint = did_you_mean(section, sections) if signal else " (hint: write section.signal)"
        raise BuildError(env.get("path"), line_of(token), f'show="{cut(target)}" names no chart section{hint}')
    env.setdefault("signals_used", []).append((section, signal, line_of(token), f'show="{cut(target)}"'))
    return section, signal


def _open(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    if token.meta["element"] == "output":
        section, signal = token.meta["live"]
        return (f'<output class="live" data-section="{html.escape(section)}" '
                f'data-signal="{html.escape(signal)}" aria-live="polite">')
    if token.meta["element"] == "span":
        return self.renderToken(tokens, idx, options, env)
    if token.meta["element"] in ("fact", "claim"):
        kind = token.meta["element"]
        return f'<span class="{kind}" data-{kind}="{html.escape(token.meta[kind])}">'

    anim, a = token.meta["animation"]
    label = html.escape(f"Play steps {a.start:,} to {a.end:,}")
    return (
        f'<button type="button" class="animate" data-animate="{html.escape(anim)}" '
        f'data-section="{html.escape(a.section)}" title="{label}"><span class="play" aria-hidden="true">▶</span> '
    )


def _close(self, tokens, idx, options, env) -> str:
    element = tokens[idx].meta["element"]
    return "</span>" if element in ("fact", "claim") else f"</{element}>"


def animate_plugin(md: MarkdownIt) -> None:
    attrs_plugin(md, spans=True, allowed=ALLOWED)
    on_token(md, "span_open", _resolve_open)
    md.add_render_rule("span_open", _open)
    md.add_render_rule("span_close", _close)
