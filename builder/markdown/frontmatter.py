"""YAML front matter: title, description, authors, date, and anything else the template reads.

Read with a strict loader: a key given twice, a date that is not in the calendar (2026-02-30),
an anchor or alias (`&name`, `*name`: a few lines of them can stand for billions of values) or
any value YAML cannot construct is an error at its line, as is a url that is not safe to put in
the page (builder.urls). A value quoted in an error is cut short (builder.errors.shown).

`front_matter_plugin` reads it once, while parsing: a block rule takes the lines
`split_front_matter` finds (so the page's body starts where the data ends), and a core rule
right after block parsing checks them and puts the data in env["front"].
"""
from __future__ import annotations

import datetime as dt
import re

import yaml
from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_core import StateCore
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent
from yaml.nodes import MappingNode

from builder.errors import BuildError, cut, did_you_mean, shown
from builder.urls import url_problem

KNOWN = {
    "title": str, "description": str, "authors": list, "date": dt.date, "url": str,
    "image": str, "keywords": list, "license": str, "lang": str, "draft": bool,
}
REQUIRED = ("title",)
AUTHOR_KEYS = ("name", "affiliation")
EXAMPLES = {  # the hint of a value of the wrong type
    "title": "title: Grokking, explained", "description": "description: One sentence about the article",
    "authors": 'authors: [Ada Lovelace, {name: Alan Turing, affiliation: Bletchley}]',
    "date": "date: 2026-11-22", "url": "url: https://example.org/grokking/", "image": "image: figures/cover.png",
    "keywords": "keywords: [grokking, generalization]", "license": "license: CC-BY-4.0", "lang": "lang: en",
    "draft": "draft: true",
}
LANG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors, aliases and duplicate keys, and turns a value it cannot
    construct (a ValueError from the date constructor, say) into a ConstructorError at that
    value's mark."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, AliasEvent) or getattr(event, "anchor", None) is not None:
            what = f"the alias *{cut(event.anchor, 30)}" if isinstance(event, AliasEvent) else f"the anchor &{cut(event.anchor, 30)}"
            raise ComposerError(None, None, f"{what} is not allowed in front matter", event.start_mark)
        return super().compose_node(parent, index)

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except Exception as exc:  # a constructor's own failure (ValueError from a date, AttributeError from !!timestamp x)
            what = "is not a date in the calendar" if node.tag.endswith(":timestamp") else "cannot be read"
            raise ConstructorError(None, None, f"{shown(node.value)} {what} ({cut(exc)})", node.start_mark) from None

    def construct_mapping(self, node, deep=False):
        if isinstance(node, MappingNode):
            self.flatten_mapping(node)
            seen: dict = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:
                    raise ConstructorError(None, None, "a list or mapping cannot be a key", key_node.start_mark) from None
                if first is not None:
                    raise ConstructorError(None, None, f'the key "{cut(key)}" is given twice (first on line {first + 2})',
                                           key_node.start_mark)
                seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


def split_front_matter(text: str) -> tuple[str | None, int]:
    """Return (yaml_text, first_body_line) when the file starts with a `---` block."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None, 1
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            return "\n".join(lines[1:i]), i + 2
    return "", 0  # opened, never closed


def _load(raw: str, path) -> tuple[object, dict]:
    """(data, {top-level key: file line}) of the YAML between the `---` lines (file line 2 on)."""
    loader = _StrictLoader(raw)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 2
        problem = cut(getattr(exc, "problem", None) or str(exc).splitlines()[0], 160)
        hint = "write the key once" if "given twice" in problem else (
            "write a date like 2026-11-22" if "calendar" in problem else
            "write each value out in full" if "not allowed in front matter" in problem else "YAML 'key: value' lines")
        rows = raw.splitlines()
        key = re.match(r"\s*([\w-]+)\s*:", rows[line - 2]) if "calendar" in problem and 0 <= line - 2 < len(rows) else None
        what = f'front matter "{key.group(1)}"' if key else "bad front matter"
        raise BuildError(path, line, f"{what}: {problem} (hint: {hint})") from None
    except RecursionError:
        raise BuildError(path, 2, "bad front matter: nested too deeply (hint: YAML 'key: value' lines)") from None
    finally:
        loader.dispose()
    lines = {}
    if isinstance(node, MappingNode):
        for key_node, _ in node.value:
            if isinstance(key_node.value, str):
                lines.setdefault(key_node.value, key_node.start_mark.line + 2)
    return data, lines


def parse_front_matter(text: str, path) -> dict:
    raw, body_line = split_front_matter(text)
    return front_matter_data(raw, body_line, path)


def front_matter_data(raw: str | None, body_line: int, path) -> dict:
    """The checked data of split_front_matter's (raw, body_line)."""
    if raw is None:
        raise BuildError(path, 1, 'missing front matter (hint: start the file with "---", "title: ...", "---")')
    if body_line == 0:
        raise BuildError(path, 1, 'front matter is never closed (hint: end it with a line "---")')
    data, lines = _load(raw, path)
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise BuildError(path, 2, "bad front matter: expected 'key: value' lines (hint: \"title: My article\")")
    for key, value in data.items():
        line = lines.get(str(key), 2)
        if key not in KNOWN:
            raise BuildError(path, line, f'unknown front matter key "{cut(key)}"' + did_you_mean(str(key), KNOWN))
        want = KNOWN[key]
        if key == "date" and isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            try:  # a quoted date, "2026-11-22": the same date
                value = data[key] = dt.date.fromisoformat(value.strip())
            except ValueError as exc:
                raise BuildError(path, line, f'front matter "date": {shown(value)} is not a date in the calendar ({exc}) '
                                             "(hint: write a date like 2026-11-22)") from None
        if key == "authors" and isinstance(value, list):
            data[key] = [_author(author, path, line) for author in value]
        elif not isinstance(value, want) or (want is dt.date and isinstance(value, dt.datetime)):
            wanted = "a date like 2026-11-22" if want is dt.date else {"str": "text", "list": "a list", "bool": "true or false"}[want.__name__]
            raise BuildError(path, line, f'front matter "{key}" must be {wanted}, not {shown(value)} (hint: write {EXAMPLES[key]})')
        elif key == "keywords" and not all(isinstance(k, str) and k.strip() for k in value):
            raise BuildError(path, line, f'front matter "keywords" must be a list of words (hint: write {EXAMPLES[key]})')
        elif key in ("url", "image"):
            problem = url_problem(value, absolute=key == "url")
            if problem:
                raise BuildError(path, line, f'front matter "{key}": {problem}')
        elif key == "lang" and not LANG.match(value):
            raise BuildError(path, line, f'front matter "lang" must be a language code, not {shown(value)} (hint: write {EXAMPLES[key]})')
    for key in REQUIRED:
        if not (isinstance(data.get(key), str) and data[key].strip()):
            raise BuildError(path, lines.get(key, 2), f'front matter has no "{key}" (hint: add "{key}: ...")')
    return data


def _front_matter_rule(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """The lines from the first `---` to the closing `---` or `...` (all of them if it is never
    closed), as one hidden token: content is the YAML, meta["body_line"] split_front_matter's."""
    if start != 0 or state.parentType != "root":
        return False
    raw, body_line = split_front_matter(state.src)
    if raw is None:
        return False
    if silent:
        return True
    token = state.push("front_matter", "", 0)
    token.hidden = True
    token.block = True
    token.content = raw
    token.meta = {"body_line": body_line}
    state.line = body_line - 1 if body_line else end
    token.map = [start, state.line]
    return True


def _read(state: StateCore) -> None:
    tokens = state.tokens
    if tokens and tokens[0].type == "front_matter":
        raw, body_line = tokens[0].content, tokens[0].meta["body_line"]
    else:
        raw, body_line = None, 1
    state.env["front"] = front_matter_data(raw, body_line, state.env.get("path"))


def front_matter_plugin(md: MarkdownIt) -> None:
    md.block.ruler.before("table", "front_matter", _front_matter_rule)
    md.core.ruler.after("block", "front_matter_read", _read)


def _author(author, path, line: int) -> dict:
    """One entry of `authors` as {"name": ..., "affiliation": ...}."""
    hint = '(hint: "- Name" or "- {name: Name, affiliation: ...}")'
    if isinstance(author, str):
        author = {"name": author}
    if not isinstance(author, dict):
        raise BuildError(path, line, f"bad author {shown(author)} {hint}")
    unknown = [k for k in author if k not in AUTHOR_KEYS]
    if unknown:
        raise BuildError(path, line, f'unknown author key "{cut(unknown[0])}"' + did_you_mean(str(unknown[0]), AUTHOR_KEYS))
    if not (isinstance(author.get("name"), str) and author["name"].strip()):
        raise BuildError(path, line, f"bad author {shown(author)}: no name {hint}")
    if "affiliation" in author and not isinstance(author["affiliation"], str):
        raise BuildError(path, line, f"bad author {shown(author)}: the affiliation must be text {hint}")
    return author
