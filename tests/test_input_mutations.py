"""Each of the three input files (content/index.md, content/references.bib,
content/experiments.toml) of a small project, mutated at the byte level: bytes flipped,
inserted or deleted, lines inserted, deleted or repeated, the file re-encoded (UTF-16, Latin-1,
CRLF, a byte-order mark ...) or cut short. The build either succeeds, or stops with exactly one
line `content/FILE:LINE: message` (what `python -m builder` prints before exiting 1) and leaves
the previous site/ byte for byte as it was; never any other exception (a traceback).

index.md and references.bib are built with the demo figures (charts compiled once per session,
nothing trained); experiments.toml is read by the project's own figure modules when they
register their sections, so its build uses them, with a page that places no chart.
"""
from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import demo_figures
from conftest import DEMO_BIB, DEMO_MD, FRONT, REPO, tree_hashes, write_project

from builder.build import Builder
from builder.errors import BuildError

REGISTRY = demo_figures.registry()
# A table the figures need, cut out of experiments.toml, is reported where a figure module names
# it (issue 32: an unknown experiment is reported where its name was written), with the hint
# naming experiments.toml.
ONE_LINE = re.compile(r"^(content/(index\.md|references\.bib|experiments\.toml)|builder/figures/\w+\.py):\d+: \S[^\n]*$")
# The demo page plus a live value, a `::: when` and a second footnote, so that mutations reach them too.
INDEX = DEMO_MD + '\nThe year is [2000]{show="demo.step"}.[^two]\n\n::: when demo.step=2005\nHalfway.\n:::\n\n[^two]: Two.\n'
FILES = {
    "index.md": INDEX.encode(),
    "references.bib": DEMO_BIB.encode(),
    "experiments.toml": (REPO / "content" / "experiments.toml").read_bytes(),
}
MUTATIONS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))

# ---- mutations --------------------------------------------------------------------------------
NASTY = [b"\x00", b"\xff", b"\xe9", b"\xc3", b"\xef\xbb\xbf", b"\r", b"\r\n", b"\t", b"\x0c", b"\x1b", b"\xe2\x80\xa8",
         b"$", b"$$", b"[", b"]", b"{", b"}", b"[@", b"[^", b"]{", b"\"", b"'", b"=", b",", b"@", b"#", b":", b"\\",
         b"---\n", b":::\n", b"```\n", b"<!--", b"javascript:", b"\n\n", b"2026-02-30", b"title: X\n"]
ENCODINGS = ["utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252", "utf-8-sig", "crlf", "cr"]

# a fraction in [0, 1) of the way into the file; integers, so no float corner matters
position = st.integers(0, 999_999).map(lambda n: n / 1_000_000)
mutation = st.one_of(
    st.tuples(st.just("flip"), position, st.integers(1, 255)),
    st.tuples(st.just("insert"), position, st.one_of(st.sampled_from(NASTY), st.binary(min_size=1, max_size=6))),
    st.tuples(st.just("delete"), position, st.integers(1, 40)),
    st.tuples(st.just("line-insert"), position, st.sampled_from(NASTY + [b"[^two]: Again.", b"[x](data:text/html,x)",
                                                                       b"[live]{show=\"demo.nosuch\"}", b"@misc{new,"])),
    st.tuples(st.just("line-delete"), position, st.integers(1, 3)),
    st.tuples(st.just("line-repeat"), position, st.integers(1, 3)),
    st.tuples(st.just("encode"), st.sampled_from(ENCODINGS), st.just(0)),
    st.tuples(st.just("truncate"), position, st.just(0)),
)


def mutate(data: bytes, op) -> bytes:
    kind, where, arg = op
    if kind == "encode":
        text = data.decode("utf-8", "replace")
        if where in ("crlf", "cr"):
            return text.replace("\n", "\r\n" if where == "crlf" else "\r").encode()
        return text.encode(where, "replace")
    at = int(where * (len(data) + 1))
    if kind == "flip" and data:
        at = min(at, len(data) - 1)
        return data[:at] + bytes([data[at] ^ arg]) + data[at + 1:]
    if kind == "insert":
        return data[:at] + arg + data[at:]
    if kind == "delete":
        return data[:at] + data[at + arg:]
    if kind == "truncate":
        return data[:at]
    lines = data.split(b"\n")
    i = min(int(where * len(lines)), len(lines) - 1)
    if kind == "line-insert":
        return b"\n".join(lines[:i] + [arg] + lines[i:])
    if kind == "line-delete":
        return b"\n".join(lines[:i] + lines[i + arg:])
    if kind == "line-repeat":
        return b"\n".join(lines[:i + 1] + lines[i:i + arg] + lines[i + 1:])
    return data


# ---- the property -----------------------------------------------------------------------------
def build_mutated(name: str, ops, site: Path, chart_cache: Path) -> None:
    data = FILES[name]
    for op in ops:
        data = mutate(data, op)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "proj"
        if name == "experiments.toml":  # the project's own figures read it; a page with no chart
            write_project(root, index=FRONT + "Text [@power2022].\n")
            registry = None
        else:
            write_project(root, index=INDEX)
            registry = REGISTRY
        (root / "content" / name).write_bytes(data)
        if name != "experiments.toml":
            shutil.copy(REPO / "content" / "experiments.toml", root / "content" / "experiments.toml")
        shutil.copytree(site, root / "site")
        before = tree_hashes(root / "site")
        try:
            Builder(root, registry=registry, cache=chart_cache).build()
        except BuildError as exc:  # what `python -m builder build` prints, then exits 1
            message = str(exc)
            assert ONE_LINE.match(message), message
            assert len(message.splitlines()) == 1, message
            assert tree_hashes(root / "site") == before, message
            assert sorted(p.name for p in root.iterdir()) == ["content", "site"], message
            if name != "index.md":  # a BibTeX or TOML mutation is reported in that file, or (a
                # renamed or lost entry) where the page cites it
                assert message.startswith(f"content/{name}:") or "citation" in message or (
                    name == "experiments.toml" and re.match(r"builder/figures/\w+\.py:\d+: unknown experiment ", message)), message
            return
        assert (root / "site" / "index.html").is_file()


@MUTATIONS
@given(st.lists(mutation, min_size=1, max_size=3))
def test_mutated_index_md_builds_or_fails_in_one_line(demo_site, chart_cache, ops):
    build_mutated("index.md", ops, demo_site, chart_cache)


@MUTATIONS
@given(st.lists(mutation, min_size=1, max_size=3))
def test_mutated_references_bib_builds_or_fails_in_one_line(demo_site, chart_cache, ops):
    build_mutated("references.bib", ops, demo_site, chart_cache)


@MUTATIONS
@given(st.lists(mutation, min_size=1, max_size=3))
def test_mutated_experiments_toml_builds_or_fails_in_one_line(demo_site, chart_cache, ops):
    build_mutated("experiments.toml", ops, demo_site, chart_cache)


def test_mutations_change_the_file():
    """The mutations do what they say (a guard on the strategy itself)."""
    data = b"ab\ncd\nef"
    assert mutate(data, ("flip", 0.0, 1)) == b"`b\ncd\nef"
    assert mutate(data, ("insert", 0.5, b"\x00")) == b"ab\nc\x00d\nef"
    assert mutate(data, ("delete", 0.0, 3)) == b"cd\nef"
    assert mutate(data, ("line-insert", 0.4, b"X")) == b"ab\nX\ncd\nef"
    assert mutate(data, ("line-delete", 0.4, 1)) == b"ab\nef"
    assert mutate(data, ("line-repeat", 0.0, 1)) == b"ab\nab\ncd\nef"
    assert mutate(data, ("encode", "utf-16", 0)).startswith(b"\xff\xfe")
    assert mutate(data, ("encode", "crlf", 0)) == b"ab\r\ncd\r\nef"
    assert mutate(data, ("truncate", 0.5, 0)) == b"ab\nc"
