"""YAML front matter: title, description, authors, date, and anything else the template reads."""
from __future__ import annotations

import datetime as dt

import yaml

from builder.errors import BuildError, did_you_mean

KNOWN = {
    "title": str, "description": str, "authors": list, "date": dt.date, "url": str,
    "image": str, "keywords": list, "license": str, "lang": str, "draft": bool,
}
REQUIRED = ("title",)


def split_front_matter(text: str) -> tuple[str | None, int]:
    """Return (yaml_text, first_body_line) when the file starts with a `---` block."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None, 1
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            return "\n".join(lines[1:i]), i + 2
    return "", 0  # opened, never closed


def parse_front_matter(text: str, path) -> dict:
    raw, body_line = split_front_matter(text)
    if raw is None:
        raise BuildError(path, 1, 'missing front matter (hint: start the file with "---", "title: ...", "---")')
    if body_line == 0:
        raise BuildError(path, 1, 'front matter is never closed (hint: end it with a line "---")')
    try:
        data = yaml.safe_load(raw) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise BuildError(path, line, f"bad front matter: {problem} (hint: YAML 'key: value' lines)") from None
    if not isinstance(data, dict):
        raise BuildError(path, 2, "bad front matter: expected 'key: value' lines")
    lines = {key: _line_of_key(raw, key) for key in data}
    for key, value in data.items():
        if key not in KNOWN:
            raise BuildError(path, lines[key], f'unknown front matter key "{key}"' + did_you_mean(key, KNOWN))
        want = KNOWN[key]
        if key == "authors" and isinstance(value, list):
            for author in value:
                if not (isinstance(author, str) or (isinstance(author, dict) and "name" in author)):
                    raise BuildError(path, lines[key], 'bad author (hint: "- Name" or "- {name: Name, affiliation: ...}")')
            data[key] = [a if isinstance(a, dict) else {"name": a} for a in value]
        elif not isinstance(value, want) or (want is dt.date and isinstance(value, dt.datetime)):
            shown = "a date like 2026-11-22" if want is dt.date else want.__name__
            raise BuildError(path, lines[key], f'front matter "{key}" must be {shown}, not {value!r}')
    for key in REQUIRED:
        if not data.get(key):
            raise BuildError(path, 2, f'front matter has no "{key}" (hint: add "{key}: ...")')
    return data


def _line_of_key(raw: str, key: str) -> int:
    for i, line in enumerate(raw.splitlines()):
        if line.startswith(f"{key}:"):
            return i + 2
    return 2
