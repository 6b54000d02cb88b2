"""references.bib -> formatted references (HTML), with malformed entries reported by line."""
from __future__ import annotations

import bisect
import difflib
import html
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pybtex.database import BibliographyDataError, parse_string
from pybtex.backends.html import Backend as HtmlBackend
from pybtex.richtext import Text
from pybtex.scanner import PybtexSyntaxError

from builder.errors import BuildError, cut, read_source, shown
from builder.urls import url_problem

REQUIRED = ("title", "year")
# BibTeX's standard entry types and the biblatex ones a reference list commonly uses.
TYPES = ("article", "book", "booklet", "conference", "inbook", "incollection", "inproceedings", "manual",
         "mastersthesis", "misc", "phdthesis", "proceedings", "techreport", "unpublished",
         "online", "report", "thesis", "software", "dataset")
YEAR = re.compile(r"^\d{4}$")


@dataclass(frozen=True)
class Reference:
    key: str
    html: str  # formatted reference, links included
    bibtex: str  # the entry as written, for "copy BibTeX"
    line: int
    links: dict = field(default_factory=dict)  # label -> url (doi, arxiv, url)


def _latex_to_html(value: str) -> str:
    try:
        # render(backend) rather than render_as("html"): the latter looks the backend up through
        # package entry points on every call, which made a 27-entry file take 2.5 s to format.
        return Text.from_latex(value).render(HtmlBackend())
    except Exception:  # pybtex cannot read some TeX: show it plain rather than fail
        return html.escape(value.replace("{", "").replace("}", ""))


def _person(person) -> str:
    first = " ".join(person.first_names + person.middle_names)
    initials = " ".join(
        (part[0] + ".") if part and part[0].isalpha() else part for part in first.split()
    )
    last = " ".join(person.prelast_names + person.last_names)
    return f"{initials} {last}".strip()


def _authors(people) -> str:
    names = [_latex_to_html(_person(p)) for p in people if str(p) != "others"]
    etal = any(str(p) == "others" for p in people)
    if etal or len(names) > 6:
        return f"{names[0]} et al."
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + ", and " + names[-1]


def _links(fields, path=None, line=None, key="") -> dict:
    """label -> URL of an entry's doi, arXiv eprint and url; a url that may not be written into
    the page (builder.urls) is a BuildError at the entry."""
    links = {}
    doi = fields.get("doi")
    if doi:
        links["doi"] = "https://doi.org/" + re.sub(r"^https?://(dx\.)?doi\.org/", "", doi.strip())
    eprint = fields.get("eprint")
    if eprint and fields.get("archiveprefix", fields.get("eprinttype", "arxiv")).lower() == "arxiv":
        links["arXiv"] = "https://arxiv.org/abs/" + eprint.strip()
    url = fields.get("url")
    if url and url.strip():
        problem = url_problem(url.strip())
        if problem:
            raise BuildError(path, line, f'entry "{cut(key)}", url: {problem}')
        if url.strip() not in links.values():
            links["link"] = url.strip()
    return links


def format_entry(entry, links: dict) -> str:
    f = {k.lower(): v for k, v in entry.fields.items()}
    parts = []
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    if people:
        names = _authors(people)
        parts.append(names if names.endswith(".") else names + ".")
    stop = "" if f["title"].rstrip()[-1:] in "?!." else "."
    parts.append(f'<span class="ref-title">{_latex_to_html(f["title"])}</span>{stop}')
    venue = f.get("journal") or f.get("booktitle") or f.get("publisher") or f.get("howpublished")
    if venue:
        parts.append(f"<em>{_latex_to_html(venue)}</em>,")
    parts.append(html.escape(f["year"]) + ".")
    for label, url in links.items():
        shown = html.escape(url if label == "link" else url.split("/", 3)[-1] if label == "doi" else url.rsplit("/", 1)[-1])
        prefix = {"doi": "doi:", "arXiv": "arXiv:", "link": ""}[label]
        parts.append(f'<a href="{html.escape(url)}">{prefix}{shown}</a>')
    return " ".join(parts)


class _Lines:
    """Line numbers of a text, found in one pass: `line_at(offset)` by bisection and `rows`
    (the lines) split once, so that an entry's or a field's line costs no scan of the whole
    file (a scan per entry made a 20,000-entry file take minutes)."""

    def __init__(self, text: str):
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.rows = text.split("\n")

    def line_at(self, offset: int) -> int:
        """The 1-based line of the character at `offset`."""
        return bisect.bisect_right(self.starts, offset)


def _entry_lines(lines: _Lines) -> dict[str, int]:
    found = {}
    for m in re.finditer(r"@\w+\s*[{(]\s*([^,\s]+)\s*,", lines.text):
        found.setdefault(m.group(1), lines.line_at(m.start()))
    return found


def _line_of(lines: _Lines, key: str) -> int | None:
    """The first line that mentions `key`, for entries the @type{key, pattern did not find."""
    at = lines.text.find(key)
    return lines.line_at(at) if at >= 0 else None


def _entry_sources(lines: _Lines, starts: dict[str, int]) -> dict[str, str]:
    """The raw text of each entry, from its @ to the line before the next entry."""
    rows = lines.rows
    ordered = sorted(starts.items(), key=lambda kv: kv[1])
    out = {}
    for i, (key, line) in enumerate(ordered):
        end = ordered[i + 1][1] - 1 if i + 1 < len(ordered) else len(rows)
        out[key] = "\n".join(rows[line - 1 : end]).strip()
    return out


def parse_bibliography(text: str, path: str | Path) -> dict[str, Reference]:
    """Parse BibTeX text. Every problem becomes a BuildError at the entry's line."""
    lines = _Lines(text)
    starts = _entry_lines(lines)
    try:
        data = parse_string(text, "bibtex")
    except PybtexSyntaxError as exc:
        reason = re.sub(r"^syntax error in line \d+: ", "", str(exc))
        raise BuildError(path, exc.lineno, f"malformed BibTeX entry: {cut(reason, 160)} (hint: check commas, braces and quotes)") from None
    except BibliographyDataError as exc:
        msg = str(exc)
        m = re.search(r"repeated bibliograp?hp?y entry: (\S+)", msg)
        field = re.search(r"entry with key (\S+) has a duplicate (\S+) field", msg)
        line, hint = _error_line(text, exc), "each key must be unique"
        if m:
            found = [i + 1 for i, row in enumerate(text.splitlines()) if re.search(r"@\w+\s*[{(]\s*" + re.escape(m.group(1)) + r"\s*,", row)]
            line = found[-1] if found else line
        elif field:
            hint = "give each field once per entry"
            line = _field_line(lines, starts.get(field.group(1)) or _line_of(lines, field.group(1)) or line,
                               field.group(2), nth=2)
        raise BuildError(path, line, f"{cut(msg, 160)} (hint: {hint})") from None
    except Exception as exc:  # anything else pybtex raises on odd input
        hint = ('separate names with "and": Last, First and Last, First' if "commas" in str(exc)
                else "each entry is @type{key, field = {value}, ...}")
        raise BuildError(path, _error_line(text, exc) or 1, f"cannot read BibTeX: {cut(exc, 160)} (hint: {hint})") from None
    sources = _entry_sources(lines, starts)
    refs: dict[str, Reference] = {}
    for key, entry in data.entries.items():
        line = starts.get(key) or _line_of(lines, key)
        fields = {k.lower(): v for k, v in entry.fields.items()}
        if entry.type.lower() not in TYPES:
            near = difflib.get_close_matches(entry.type.lower(), TYPES, n=1, cutoff=0.75)
            raise BuildError(path, line, f'entry "{cut(key)}" has the unknown type "@{cut(entry.type)}"'
                             + (f' (did you mean "@{near[0]}"?)' if near else
                                " (hint: a standard type: @article, @inproceedings, @book, @misc, ...)"))
        for name in REQUIRED:
            if not fields.get(name, "").strip():
                raise BuildError(path, line, f'entry "{cut(key)}" has no {name} (hint: add {name} = {{...}})')
        year = fields["year"].strip()
        if not YEAR.match(year):
            raise BuildError(path, _field_line(lines, line, "year"),
                             f'entry "{cut(key)}" has the year {shown(year)}, not a number (hint: year = {{2022}}; '
                             'write "to appear" in a note field)')
        if not (entry.persons.get("author") or entry.persons.get("editor")):
            raise BuildError(path, line, f'entry "{cut(key)}" has no author (hint: add author = {{Last, First and ...}})')
        links = _links(fields, path, _field_line(lines, line, "url"), key)
        refs[key] = Reference(key, format_entry(entry, links), sources.get(key, ""), line or 0, links)
    return refs


def _field_line(lines: _Lines, entry_line: int | None, name: str, nth: int = 1) -> int | None:
    """The line of the `nth` `name = ...` in the entry that starts on `entry_line` (else that
    line). Reads the entry's own lines only."""
    if entry_line is None:
        return None
    rows = lines.rows
    name = re.escape(name)
    for number in range(entry_line, len(rows) + 1):
        if number > entry_line and rows[number - 1].lstrip().startswith("@"):
            break
        if re.match(rf"\s*{name}\s*=", rows[number - 1], re.IGNORECASE) or (
                number == entry_line and re.search(rf"[,{{(]\s*{name}\s*=", rows[number - 1], re.IGNORECASE)):
            nth -= 1
            if nth == 0:
                return number
    return entry_line


def _error_line(text: str, exc: Exception) -> int | None:
    """The line pybtex's error names (`in line N`), or the line of the entry key it quotes."""
    m = re.search(r"\bline (\d+)", str(exc))
    if m:
        return int(m.group(1))
    for quoted in re.findall(r'"([^"]+)"|\'([^\']+)\'', str(exc)):  # the key, or the text (spaces collapsed)
        words = (quoted[0] or quoted[1]).split()[:3]
        found = re.search(r"\s+".join(map(re.escape, words)), text) if words else None
        if found:
            return text.count("\n", 0, found.start()) + 1
    return None


def load_bibliography(path: Path, shown_as: str | Path | None = None) -> dict[str, Reference]:
    """Read a .bib file; errors name it as `shown_as` (a path relative to the project)."""
    if not path.exists():
        return {}
    shown = str(shown_as or path)
    return _parse_cached(read_source(path, shown), shown)


@lru_cache(maxsize=8)
def _parse_cached(text: str, shown_as: str) -> dict[str, Reference]:
    """Unchanged .bib text is not parsed again (make serve rebuilds on every prose edit)."""
    return parse_bibliography(text, shown_as)
