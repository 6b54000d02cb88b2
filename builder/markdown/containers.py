"""Layout containers: `::: sticky` ... `:::` (a chart that stays on screen beside its prose).

`::: bits` holds a table of bit strings (the parity section's examples): its cells are set in a
monospace font and its first column, the bits that decide the label, is marked and joined to
the second, so that each row reads as one string (article.css).

Known names render as <div class="NAME">. A container that is never closed, an unknown name, or
a `:::` that closes nothing is a build error (markdown-it would silently run an unclosed one to
the end of the file), found in the tokens right after block parsing, as is a code fence never
closed.

`::: when sweep-mod.arch=3` ... `:::` is shown only while the signal `arch` of the section
`sweep-mod`'s charts equals 3 (the page hides the others; without JavaScript all are shown, one
after another). Its content is ordinary Markdown: math in it is MathML from the build.
"""
from __future__ import annotations

import html
import re

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.container import container_plugin

from builder.errors import BuildError, cut, did_you_mean
from builder.markdown.lines import line_of
from builder.markdown.resolve import before_resolve, on_token

NAMES = ("sticky", "aside", "wide", "when", "bits")
WHEN = re.compile(r"^([\w-]+)\.(\w+)=(\S+)$")  # section.signal=value
OTHER = "other"  # any other `:::` line that starts a block: an unknown name, or a `:::` closing nothing


def _name(token) -> str:
    words = token.info.split()
    return words[0] if words else ""


def _when(token):
    """The match of WHEN on a `::: when` line's value, or None."""
    return WHEN.match(token.info.strip()[len("when"):].strip())


def _validate(name: str):
    def validate(params: str, markup: str) -> bool:
        return params.split()[:1] == [name]
    return validate


def _noting_closure(rule):
    """`rule` (mdit's container rule) that also notes in meta["closed"] whether its `:::` was found
    (an unclosed container runs silently to the end of the file, or of the list or quote it is in)."""
    def container(state, start: int, end: int, silent: bool) -> bool:
        first = len(state.tokens)
        if not rule(state, start, end, silent):
            return False
        if not silent:
            opener = state.tokens[first]
            opener.meta["closed"] = state.line > opener.map[1]  # the closing line was consumed
        return True
    return container


def _fence_closed(token) -> bool:
    """Whether a fence token's closing line was found: its lines are the opening one, the code,
    and the closing one, if any."""
    code = token.content
    lines = code.count("\n") + (1 if code and not code.endswith("\n") else 0)
    return token.map[1] - token.map[0] - 1 > lines


def _check(state) -> None:
    """Right after block parsing, before anything else is checked: unknown names, `:::` lines
    that close nothing, `::: when` without a value, and code fences and containers never closed
    (one in a list item or a quote ends with it, where the reader sees it end)."""
    path, unclosed, quoted = state.env.get("path"), None, 0
    for token in state.tokens:
        line = token.map[0] + 1 if token.map else None
        if token.type in ("blockquote_open", "list_item_open", "blockquote_close", "list_item_close"):
            quoted += token.nesting
        if token.type == f"container_{OTHER}_open":
            name = _name(token)
            if name:
                raise BuildError(path, line, f'unknown container "{cut(name)}"' + did_you_mean(name, NAMES))
            raise BuildError(path, line, "':::' closes no open container (hint: remove it or open one with '::: sticky')")
        if token.type == "container_when_open" and not _when(token):
            shown = (token.markup + token.info).strip()
            raise BuildError(path, line, f'"{cut(shown)}" names no signal value (hint: "::: when section.signal=value")')
        if quoted:
            continue
        if token.type == "fence" and not _fence_closed(token):  # it hides what follows
            raise BuildError(path, line, f'code block "{token.markup}" is never closed '
                                         f'(hint: add a line "{token.markup}" after the code; until then it hides the rest of the file)')
        if token.type.startswith("container_") and token.nesting == 1 and not token.meta["closed"]:
            unclosed = token
    if unclosed is not None:
        raise BuildError(path, unclosed.map[0] + 1, f'container "{cut(_name(unclosed))}" is never closed '
                                                    '(hint: add a line ":::" after its content)')


def _html(content: str) -> Token:
    token = Token("html_block", "", 0)
    token.content = content
    return token


def _split_sticky(state) -> None:
    """Inside `::: sticky`, put the charts in a graphic column and the prose in a text column."""
    tokens, out, i = state.tokens, [], 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type != "container_sticky_open":
            out.append(tok)
            i += 1
            continue
        depth, j = 1, i + 1
        while j < len(tokens) and depth:
            depth += {"container_sticky_open": 1, "container_sticky_close": -1}.get(tokens[j].type, 0)
            j += 1
        inner = tokens[i + 1 : j - 1]
        charts = [t for t in inner if t.type == "chart" and t.level == tok.level + 1]
        text = [t for t in inner if not (t.type == "chart" and t.level == tok.level + 1)]
        out += [tok, _html('<div class="sticky-graphic">\n'), *charts, _html('</div>\n<div class="sticky-text">\n'),
                *text, _html("</div>\n"), tokens[j - 1]]
        i = j
    state.tokens = out


def _resolve_when(tokens, idx, env) -> None:
    token = tokens[idx]
    section, signal, value = _when(token).groups()
    sections = sorted({fig.section for fig in env["figures"].values()})
    if section not in sections:
        raise BuildError(env.get("path"), line_of(token), f'"::: when {cut(f"{section}.{signal}={value}")}" names no chart section'
                         + did_you_mean(section, sections))
    env.setdefault("signals_used", []).append((section, signal, line_of(token), f'"::: when {cut(f"{section}.{signal}={value}")}"'))
    token.meta["when"] = (section, signal, value)


def _render_when(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    if token.nesting != 1:
        return "</div>\n"
    section, signal, value = token.meta["when"]
    return (f'<div class="when" data-section="{html.escape(section)}" data-signal="{html.escape(signal)}" '
            f'data-value="{html.escape(value)}">\n')


def _with_class(name: str):
    def resolve(tokens, idx, env) -> None:
        tokens[idx].attrJoin("class", name)
    return resolve


def _render_div(self, tokens, idx, options, env) -> str:
    return self.renderToken(tokens, idx, options, env)


def containers_plugin(md: MarkdownIt) -> None:
    for name in (*NAMES, OTHER):
        container_plugin(md, name, validate=_validate(name) if name != OTHER else lambda params, markup: True,
                         render=_render_when if name == "when" else _render_div)
        if name not in ("when", OTHER):  # mdit's own renderer would add the class while rendering
            on_token(md, f"container_{name}_open", _with_class(name))
        rules = dict(zip(md.block.ruler.get_active_rules(), md.block.ruler.getRules("")))
        md.block.ruler.at(f"container_{name}", _noting_closure(rules[f"container_{name}"]),
                          {"alt": ["paragraph", "reference", "blockquote", "list"]})
    md.core.ruler.before("inline", "container_check", _check)  # after front_matter_read
    on_token(md, "container_when_open", _resolve_when)
    before_resolve(md, "sticky_columns", _split_sticky)
