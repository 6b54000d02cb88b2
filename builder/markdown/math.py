"""Math: `$...$` inline and `$$...$$` display, converted to MathML at parse time.

The conversion (and its errors, at the TeX's line) happens in reading order with the other
parse-time work (builder.markdown.resolve), so the first mistake on a page is the one reported;
the MathML waits in meta["mathml"] for the renderers.
"""
from __future__ import annotations

from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

from builder import math as texmath
from builder.markdown.lines import line_of
from builder.markdown.resolve import on_token


def _resolve_inline(tokens, idx, env) -> None:
    token = tokens[idx]
    token.meta["mathml"] = texmath.render(token.content, False, env.get("path"), line_of(token))


def _resolve_display(tokens, idx, env) -> None:
    token = tokens[idx]
    # The TeX starts on the line after an opening `$$` that stands alone.
    line = line_of(token)
    if line is not None:
        line += len(token.content) - len(token.content.lstrip("\n"))
    token.meta["mathml"] = texmath.render(token.content, True, env.get("path"), line)


def _inline(self, tokens, idx, options, env) -> str:
    return tokens[idx].meta["mathml"]


def _block(self, tokens, idx, options, env) -> str:
    return f'<div class="math-display">{tokens[idx].meta["mathml"]}</div>\n'


def math_plugin(md: MarkdownIt) -> None:
    # Pandoc's rules: no space just inside the dollars, no digit right after the closing one,
    # so "$5 and $10" stays text.
    dollarmath_plugin(md, allow_labels=False, allow_space=False, allow_digits=False, double_inline=True)
    on_token(md, "math_inline", _resolve_inline)
    on_token(md, "math_inline_double", _resolve_display)
    on_token(md, "math_block", _resolve_display)
    md.add_render_rule("math_inline", _inline)
    md.add_render_rule("math_inline_double", _block)
    md.add_render_rule("math_block", _block)
