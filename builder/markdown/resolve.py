"""The parse-time walk that gives tokens their page-level meaning, in reading order.

Some work needs the whole page: a citation's number is the order of its key's first use, a
chart may be placed once, an animate link names an animation the page must load. That work is
done here, once, by a core rule that runs after every rule that moves tokens (footnote_tail puts
the footnotes at the end, sticky_columns puts a sticky group's charts first), so "reading order"
is the order the page is rendered in. A plugin registers a resolver for its token type with
`on_token`; the resolver checks the token (raising BuildError at its line), records what the
page uses in env, and stores what the renderer needs in token.meta. Renderers then only format
what is in the token: rendering the same tokens twice gives the same HTML and leaves env as it
was.

The walk visits each block token and the children of each inline token, as the renderer does
(the children of an image are its alt text, rendered as plain text, so they are not visited).
"""
from __future__ import annotations

from collections.abc import Callable

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

RULE = "resolve"
Resolver = Callable[[list[Token], int, dict], None]  # (tokens, index of the token, env)


def _resolve(state: StateCore) -> None:
    resolvers: dict[str, list[Resolver]] = state.md.options[RULE]
    for block_index, block in enumerate(state.tokens):
        if block.type == "inline":
            children = block.children or []
            for index, child in enumerate(children):
                for resolver in resolvers.get(child.type, ()):
                    resolver(children, index, state.env)
        else:
            for resolver in resolvers.get(block.type, ()):
                resolver(state.tokens, block_index, state.env)


def on_token(md: MarkdownIt, token_type: str, resolver: Resolver) -> None:
    """Have `resolver` run on every token of `token_type`, in reading order, at parse time
    (after the resolvers registered for that type before it)."""
    if RULE not in md.core.ruler.get_all_rules():
        md.options[RULE] = {}
        md.core.ruler.push(RULE, _resolve)
    md.options[RULE].setdefault(token_type, []).append(resolver)


def before_resolve(md: MarkdownIt, name: str, rule: Callable[[StateCore], None]) -> None:
    """Register a core rule that moves tokens: it runs before the walk, so the walk sees the
    tokens in the order they are rendered."""
    if RULE in md.core.ruler.get_all_rules():
        md.core.ruler.before(RULE, name, rule)
    else:
        md.core.ruler.push(name, rule)
