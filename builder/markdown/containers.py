"""Layout containers: `::: sticky` ... `:::` (a chart that stays on screen beside its prose).

Known names render as <div class="NAME">. A container that is never closed, or an unknown name,
is a build error (markdown-it would silently run an unclosed one to the end of the file).

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

from builder.errors import BuildError, did_you_mean
from builder.markdown.lines import line_of

NAMES = ("sticky", "aside", "wide", "when")
WHEN = re.compile(r"^([\w-]+)\.(\w+)=(\S+)$")  # section.signal=value
FENCE = re.compile(r"^(`{3,}|~{3,})")
OPEN = re.compile(r"^(:{3,})\s*(\S*)")


def check_containers(text: str, path, first_line: int = 1) -> None:
    """Pair up `:::` lines (outside code fences); raise on unknown names and unclosed ones."""
    stack: list[tuple[int, int, str]] = []  # (colons, line, name)
    fence = None  # the open code fence: (its backticks or tildes, its line)
    for number, raw in enumerate(text.splitlines(), start=first_line):
        line = raw.strip()
        f = FENCE.match(line)
        if f:
            if fence is None:
                fence = (f.group(1), number)
            elif line.startswith(fence[0]) and not line.lstrip(fence[0][0]).strip():  # ``` closes ```, ```` closes ````
                fence = None
            continue
        if fence:
            continue
        m = OPEN.match(line)
        if not m:
            continue
        colons, name = len(m.group(1)), m.group(2)
        if name:
            if name not in NAMES:
                raise BuildError(path, number, f'unknown container "{name}"' + did_you_mean(name, NAMES))
            if name == "when" and not WHEN.match(line[m.end():].strip()):
                raise BuildError(path, number, f'"{line}" names no signal value (hint: "::: when section.signal=value")')
            stack.append((colons, number, name))
        elif stack and colons >= stack[-1][0]:
            stack.pop()
        else:
            raise BuildError(path, number, "':::' closes no open container (hint: remove it or open one with '::: sticky')")
    if fence:
        raise BuildError(path, fence[1], f'code block "{fence[0]}" is never closed '
                                         f'(hint: add a line "{fence[0]}" after the code; until then it hides the rest of the file)')
    if stack:
        _, number, name = stack[-1]
        raise BuildError(path, number, f'container "{name}" is never closed (hint: add a line ":::" after its content)')


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


def _render_when(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    if token.nesting != 1:
        return "</div>\n"
    section, signal, value = WHEN.match(token.info.strip()[len("when"):].strip()).groups()
    sections = sorted({fig.section for fig in env["figures"].values()})
    if section not in sections:
        raise BuildError(env.get("path"), line_of(token), f'"::: when {section}.{signal}={value}" names no chart section'
                         + did_you_mean(section, sections))
    env.setdefault("signals_used", []).append((section, signal, line_of(token), f'"::: when {section}.{signal}={value}"'))
    return (f'<div class="when" data-section="{html.escape(section)}" data-signal="{html.escape(signal)}" '
            f'data-value="{html.escape(value)}">\n')


def containers_plugin(md: MarkdownIt) -> None:
    for name in NAMES:
        container_plugin(md, name, render=_render_when if name == "when" else None)
    md.core.ruler.push("sticky_columns", _split_sticky)
