"""Facts and claims in the prose (builder.facts says what they are).

- `[27,655]{fact="opening.test-99"}`: the page shows the fact's computed value in its declared
  format; the written text is the fallback (what the Markdown and its diffs show), and each use
  whose fallback differs from the data is recorded in env["fact_uses"] for `make check`.
- `[the test loss peaks, then falls]{claim="progress.test-loss-peaks"}`: the claim is checked
  at parse time; one that does not hold stops the build at the sentence's line, with what was
  measured.

An unknown name is an error with a did-you-mean. The attrs spans are parsed by
builder.markdown.animate (which owns the span syntax); this plugin resolves the two attributes.
"""
from __future__ import annotations

from markdown_it import MarkdownIt

from builder.errors import BuildError, cut
from builder.facts import Book
from builder.markdown.animate import closing
from builder.markdown.lines import line_of
from builder.markdown.resolve import on_token

_NONE = Book({}, {}, None)  # a page rendered without a registry's facts: every name is unknown


def _text(tokens, start: int, end) -> str:
    parts = []
    for token in tokens[start + 1:tokens.index(end)]:
        parts.append(token.content if token.type in ("text", "code_inline") else " " if "break" in token.type else "")
    return "".join(parts)


def same(written: str, shown: str) -> bool:
    """Whether a fallback says what the data says (spacing and the minus sign aside)."""
    def norm(s: str) -> str:
        return " ".join(s.replace("\u2212", "-").replace("\u00a0", " ").split())
    return norm(written) == norm(shown)


def _resolve_span(tokens, idx, env) -> None:
    token = tokens[idx]
    name_fact, name_claim = token.attrs.get("fact"), token.attrs.get("claim")
    if name_fact is None and name_claim is None:
        return
    path, line = env.get("path"), line_of(token)
    if name_fact is not None and name_claim is not None:
        raise BuildError(path, line, "a span is either a fact or a claim (hint: put the fact's span inside the claim's)")
    book = env.get("book") or _NONE
    end = closing(tokens, idx)
    written = _text(tokens, idx, end)
    if name_fact is not None:
        inner = tokens[idx + 1:tokens.index(end)]
        if any(t.type not in ("text",) for t in inner):
            raise BuildError(path, line, f'the fallback of fact "{name_fact}" is plain text '
                             "(hint: write the number alone between the brackets)")
        shown = book.text(str(name_fact), path, line)
        for i, t in enumerate(inner):
            t.content = shown if i == 0 else ""
        if not inner:
            raise BuildError(path, line, f'fact "{name_fact}" has no written fallback (hint: [27,655]{{fact="..."}})')
        env.setdefault("fact_uses", []).append((str(name_fact), line, written, shown))
        token.meta["element"], token.meta["fact"] = "fact", str(name_fact)
    else:
        holds, measured = book.check(str(name_claim), path, line)
        if not holds:
            raise BuildError(path, line, f'claim "{name_claim}" does not hold: {measured} '
                             f'(the sentence: "{cut(" ".join(written.split()), 80)}"; hint: rephrase it from facts, '
                             "or retrain)")
        env.setdefault("claim_uses", []).append((str(name_claim), line, measured))
        token.meta["element"], token.meta["claim"] = "claim", str(name_claim)
    end.meta["element"] = token.meta["element"]


def facts_plugin(md: MarkdownIt) -> None:
    """After builder.markdown.animate (it registers the attrs spans)."""
    on_token(md, "span_open", _resolve_span)
