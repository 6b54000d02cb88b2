"""Math: `$...$` inline and `$$...$$` display, converted to MathML while rendering."""
from __future__ import annotations

from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

from builder import math as texmath
from builder.markdown.lines import line_of


def _inline(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    return texmath.render(token.content, False, env.get("path"), line_of(token))


def _block(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    # The TeX starts on the line after an opening `$$` that stands alone.
    line = line_of(token)
    if line is not None:
        line += len(token.content) - len(token.content.lstrip("\n"))
    mathml = texmath.render(token.content, True, env.get("path"), line)
    return f'<div class="math-display">{mathml}</div>\n'


def math_plugin(md: MarkdownIt) -> None:
    # Pandoc's rules: no space just inside the dollars, no digit right after the closing one,
    # so "$5 and $10" stays text.
    dollarmath_plugin(md, allow_labels=False, allow_space=False, allow_digits=False, double_inline=True)
    md.add_render_rule("math_inline", _inline)
    md.add_render_rule("math_inline_double", _block)
    md.add_render_rule("math_block", _block)
