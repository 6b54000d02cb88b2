"""Every authoring mistake stops the build with one line `path:line: message`, exit status 1, no
traceback, and the previous site/ left byte for byte as it was."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from conftest import DEMO_BIB, FRONT, REPO, run_cli, tree_hashes, with_experiments, write_project

from builder import cli
from builder.build import Builder
from builder.errors import BuildError, closest, did_you_mean
from builder.markdown import html_policy
from builder.urls import url_problem

BAD_BIB = "@article{power2022,\n  title = {T}\n  author = {X, Y},\n  year = {2020}\n}\n"

# name -> (content/index.md, content/references.bib, "path:line: message")
CASES = {
    "unknown-citation": (
        FRONT + "Intro.\n\nAs shown [@powr2022].\n", DEMO_BIB,
        'content/index.md:6: unknown citation key "powr2022" (did you mean "power2022"?)'),
    "unknown-citation-far": (
        FRONT + "Intro [@zzzzqqq].\n", DEMO_BIB,
        'content/index.md:4: unknown citation key "zzzzqqq" (known: bender2021, liu2022, nanda2023, olah2022, power2022)'),
    "malformed-bibtex": (
        FRONT + "Cite [@power2022].\n", BAD_BIB,
        "content/references.bib:3: malformed BibTeX entry: '}' expected (hint: check commas, braces and quotes)"),
    "tex-unknown-command": (
        FRONT + "Text\n\nSee $\\foo{x}$ here.\n", DEMO_BIB,
        "content/index.md:6: unknown TeX command \\foo in math $\\foo{x}$ (hint: check braces and command names)"),
    "tex-unbalanced-braces": (
        FRONT + "Text\n\n$$\n\\frac{a}{b\n$$\n", DEMO_BIB,
        "content/index.md:7: 1 unclosed '{' in math $\\frac{a}{b$ (hint: check braces and command names)"),
    "tex-on-second-line-of-paragraph": (
        FRONT + "Line one\nline two $x}$.\n", DEMO_BIB,
        "content/index.md:5: unmatched '}' in math $x}$ (hint: check braces and command names)"),
    "unknown-chart": (
        FRONT + "{{< chart demo-lnie >}}\n", DEMO_BIB,
        'content/index.md:4: unknown chart id "demo-lnie" (did you mean "demo-line"?)'),
    "unknown-chart-far": (
        FRONT + "Intro.\n\n{{< chart zzz >}}\n", DEMO_BIB,
        'content/index.md:6: unknown chart id "zzz" (known: demo-bars, demo-detail, demo-line, pick-bad, pick-bars, pick-detail)'),
    "unknown-animate": (
        FRONT + 'Go [play]{animate="demo-plya"}.\n', DEMO_BIB,
        'content/index.md:4: unknown animate id "demo-plya" (did you mean "demo-play"?)'),
    "unclosed-container": (
        FRONT + "Intro.\n\n::: sticky\ntext\n", DEMO_BIB,
        'content/index.md:6: container "sticky" is never closed (hint: add a line ":::" after its content)'),
    "unknown-container": (
        FRONT + "::: stiky\ntext\n:::\n", DEMO_BIB,
        'content/index.md:4: unknown container "stiky" (did you mean "sticky"?)'),
    "when-without-value": (
        FRONT + "Intro.\n\n::: when demo.answer\ntext\n:::\n", DEMO_BIB,
        'content/index.md:6: "::: when demo.answer" names no signal value (hint: "::: when section.signal=value")'),
    "when-unknown-section": (
        FRONT + "Intro.\n\n::: when dmeo.answer=3\ntext\n:::\n", DEMO_BIB,
        'content/index.md:6: "::: when dmeo.answer=3" names no chart section (did you mean "demo"?)'),
    "front-matter-yaml": (
        "---\ntitle: T\ndescription: [oops\n---\nText\n", DEMO_BIB,
        "content/index.md:3: bad front matter: expected ',' or ']', but got '<stream end>' (hint: YAML 'key: value' lines)"),
    "front-matter-unknown-key": (
        "---\ntitle: T\nautor: X\n---\n", DEMO_BIB,
        'content/index.md:3: unknown front matter key "autor" (did you mean "authors"?)'),
    "front-matter-wrong-type": (
        "---\ntitle: T\ndate: yesterday\n---\n", DEMO_BIB,
        "content/index.md:3: front matter \"date\" must be a date like 2026-11-22, not 'yesterday' (hint: write date: 2026-11-22)"),
    "front-matter-no-title": (
        "---\ndescription: d\n---\n", DEMO_BIB,
        'content/index.md:2: front matter has no "title" (hint: add "title: ...")'),
    "front-matter-missing": (
        "Just text\n", DEMO_BIB,
        'content/index.md:1: missing front matter (hint: start the file with "---", "title: ...", "---")'),
    "undefined-footnote": (
        FRONT + "Text.[^nope]\n\n[^note]: x\n", DEMO_BIB,
        'content/index.md:4: footnote "[^nope]" is never defined (did you mean "note"?) (hint: add a line "[^nope]: text")'),
    "show-chart-unknown-section": (
        FRONT + "It is [3]{show=\"demp.answer\"}.\n", DEMO_BIB,
        'content/index.md:4: show="demp.answer" names no chart section (did you mean "demo"?)'),
    "show-chart-no-signal": (
        FRONT + "It is [3]{show=\"demo\"}.\n", DEMO_BIB,
        'content/index.md:4: show="demo" names no chart section (hint: write section.signal)'),
    "broken-anchor": (
        FRONT + "Intro.\n\nSee [the end](#nowhere).\n", DEMO_BIB,
        'content/index.md:6: broken link "#nowhere" (no element with id "nowhere") (hint: a heading\'s id is its text in lower case with dashes, e.g. #an-example-of-grokking)'),
}


# Mistakes in the input files (issue 15): each was a traceback, a message of several lines or
# none, or a build that succeeded (exit 0) and wrote the mistake into the page.
BIB_URL = "https://transformer-circuits.pub/2022/mech-interp-essay/index.html"
TOML_TEXT = (REPO / "content" / "experiments.toml").read_text(encoding="utf-8")
FIVE_NEURON_LINE = (REPO / "builder" / "figures" / "five_neuron.py").read_text().splitlines().index('EXPERIMENT = "five-neuron"') + 1
OLAH = FRONT + "See [@olah2022].\n"
POWER = FRONT + "See [@power2022].\n"
LIVE = FRONT + "Intro.\n\n{{< chart demo-line >}}\n\n"

# name -> ({file in content/: text or bytes}, "path:line: message"); the others are FRONT + "Text.\n",
# DEMO_BIB and the repository's experiments.toml
INPUT_CASES = {
    # impossible dates (a traceback before)
    "date-month-13": ({"index.md": "---\ntitle: T\ndate: 2026-13-45\n---\n"},
        'content/index.md:3: front matter "date": \'2026-13-45\' is not a date in the calendar (month must be in 1..12) (hint: write a date like 2026-11-22)'),
    "date-feb-30": ({"index.md": "---\ntitle: T\ndate: 2026-02-30\n---\n"},
        'content/index.md:3: front matter "date": \'2026-02-30\' is not a date in the calendar (day is out of range for month) (hint: write a date like 2026-11-22)'),
    "date-feb-29-not-leap": ({"index.md": "---\ntitle: T\ndate: 2027-02-29\n---\n"},
        'content/index.md:3: front matter "date": \'2027-02-29\' is not a date in the calendar (day is out of range for month) (hint: write a date like 2026-11-22)'),
    "date-month-0": ({"index.md": "---\ntitle: T\ndate: 2026-00-10\n---\n"},
        'content/index.md:3: front matter "date": \'2026-00-10\' is not a date in the calendar (month must be in 1..12) (hint: write a date like 2026-11-22)'),
    "date-quoted-feb-30": ({"index.md": '---\ntitle: T\ndate: "2026-02-30"\n---\n'},
        'content/index.md:3: front matter "date": \'2026-02-30\' is not a date in the calendar (day is out of range for month) (hint: write a date like 2026-11-22)'),
    "datetime-hour-25": ({"index.md": "---\ntitle: T\ndate: 2026-11-22 25:00:00\n---\n"},
        'content/index.md:3: front matter "date": \'2026-11-22 25:00:00\' is not a date in the calendar (hour must be in 0..23) (hint: write a date like 2026-11-22)'),
    # encodings and invisible characters (UnicodeDecodeError before, or accepted)
    "latin-1-index": ({"index.md": (FRONT + "Caf\xe9.\n").encode("latin-1")},
        'content/index.md:4: not UTF-8: byte e9 at column 4 cannot be read (hint: save the file as UTF-8; it may be Latin-1 or Windows-1252)'),
    "latin-1-bib": ({"index.md": POWER, "references.bib": DEMO_BIB.replace("Edwards", "Edw\xe4rds").encode("latin-1")},
        'content/references.bib:4: not UTF-8: byte e4 at column 58 cannot be read (hint: save the file as UTF-8; it may be Latin-1 or Windows-1252)'),
    "latin-1-toml": ({"experiments.toml": TOML_TEXT.replace("# Every", "# \xc9very", 1).encode("latin-1")},
        'content/experiments.toml:1: not UTF-8: byte c9 at column 3 cannot be read (hint: save the file as UTF-8; it may be Latin-1 or Windows-1252)'),
    "utf-16-index": ({"index.md": (FRONT + "Text.\n").encode("utf-16")},
        'content/index.md:1: the file is UTF-16, not UTF-8 (hint: save it as UTF-8)'),
    "utf-16-bib": ({"references.bib": DEMO_BIB.encode("utf-16")},
        'content/references.bib:1: the file is UTF-16, not UTF-8 (hint: save it as UTF-8)'),
    "utf-32-toml": ({"experiments.toml": TOML_TEXT.encode("utf-32")},
        'content/experiments.toml:1: the file is UTF-32, not UTF-8 (hint: save it as UTF-8)'),
    "nul-in-prose": ({"index.md": FRONT + "Te\x00xt.\n"},
        'content/index.md:4: a NUL byte (U+0000) at column 3 (hint: the file may be UTF-16; save it as UTF-8)'),
    "nul-in-bib": ({"references.bib": DEMO_BIB.replace("Edwards", "Ed\x00wards")},
        'content/references.bib:4: a NUL byte (U+0000) at column 57 (hint: the file may be UTF-16; save it as UTF-8)'),
    "escape-char-in-toml": ({"experiments.toml": TOML_TEXT.replace("# Every", "# \x1bEvery", 1)},
        'content/experiments.toml:1: an escape character (U+001B) at column 3 (hint: delete it; it is invisible in most editors)'),
    "c1-control-in-prose": ({"index.md": FRONT + "Text\x85.\n"},
        'content/index.md:4: the control character U+0085 at column 5 (hint: delete it; it is invisible in most editors)'),
    "utf-8-bom-then-a-mistake": ({"index.md": "\ufeff" + FRONT + "Intro.\n\nSee [@powr2022].\n"},
        'content/index.md:6: unknown citation key "powr2022" (did you mean "power2022"?)'),
    "shortcode-in-html-block": ({"index.md": FRONT + "<div class=\"note\">\n{{< chart mod-top-accuracy >}}\n</div>\n"},
        'content/index.md:5: a shortcode inside an HTML block is not read (hint: leave a blank line between the HTML and the shortcode)'),
    # unterminated constructs (accepted, or a message of several lines, before)
    "unclosed-citation": ({"index.md": FRONT + "Intro.\n\nAs shown [@power2022 by\nthe authors.\n"},
        'content/index.md:6: citation "[@power2022 by..." is never closed (hint: end it with "]", as in [@key] or [@a; @b])'),
    "unclosed-citation-before-link": ({"index.md": FRONT + "As shown [@power2022, see\n[the end](#article) and\nmore.\n"},
        'content/index.md:4: citation "[@power2022, see..." is never closed (hint: end it with "]", as in [@key] or [@a; @b])'),
    "unclosed-display-math-at-end": ({"index.md": FRONT + "Intro.\n\n$$\nx + y\n"},
        'content/index.md:6: display math "$$" is never closed (hint: end it with a line "$$", or write \\$\\$ for two dollar signs)'),
    "unclosed-inline-math": ({"index.md": FRONT + "Intro $x + y.\n"},
        'content/index.md:4: inline math "$x + y." is never closed (hint: close it with $, with no space before it; write \\$ for a dollar sign)'),
    "unclosed-inline-double-dollar": ({"index.md": FRONT + "Intro $$x + y.\n"},
        'content/index.md:4: display math "$$x + y." is never closed (hint: end it with a line "$$", or write \\$\\$ for two dollar signs)'),
    "unclosed-code-fence": ({"index.md": FRONT + "Intro.\n\n```python\nx = 1\n"},
        'content/index.md:6: code block "```" is never closed (hint: add a line "```" after the code; until then it hides the rest of the file)'),
    "unclosed-html-comment": ({"index.md": FRONT + "Intro.\n\n<!-- to do\n\nThe rest.\n"},
        'content/index.md:6: HTML comment <!-- is never closed (hint: end it with "-->"; until then it hides the rest of the file)'),
    "unclosed-attributes": ({"index.md": FRONT + 'It is [24]{show="demo.step".\n'},
        'content/index.md:4: cannot read the attributes in "[24]{show="demo.step"." (hint: write [text]{show="section.signal"} or [text]{animate="id"}, quotes and braces closed)'),
    "unknown-attribute": ({"index.md": FRONT + 'It is [24]{shw="demo.step"}.\n'},
        'content/index.md:4: unknown attribute "shw" in {...} (did you mean "show"?) (hint: [text]{show="section.signal"}, [text]{animate="id"} or {.class})'),
    "shortcode-in-paragraph": ({"index.md": FRONT + "See {{< chart demo-line >}} here.\n"},
        'content/index.md:4: shortcode "{{< chart demo-line >}} here." inside a paragraph (hint: put {{< chart ID >}} on a line of its own)'),
    # missing experiment table (no line before)
    # (reported where the figure code names it, not at the table it suggests: before, at [five-neuronx])
    "missing-experiment-table": ({"experiments.toml": TOML_TEXT.replace("[five-neuron]", "[five-neuronx]").replace("[five-neuron.quick]", "[five-neuronx.quick]")},
        f'builder/figures/five_neuron.py:{FIVE_NEURON_LINE}: unknown experiment "five-neuron" (did you mean "five-neuronx"?) (hint: experiments are the [tables] of content/experiments.toml, listed by python -m builder list; add a [five-neuron] table for a new one)'),
    "toml-error-at-end-of-file": ({"experiments.toml": TOML_TEXT + "[unfinished]\nkind"},
        f'content/experiments.toml:{TOML_TEXT.count(chr(10)) + 2}: ' + 'invalid TOML: Expected \'=\' after a key in a key/value pair (hint: each line is key = value, text in "quotes", each experiment a [name] table)'),
    # front matter keys given twice (accepted before)
    "front-matter-duplicate-key": ({"index.md": "---\ntitle: T\ndescription: d\ntitle: U\n---\n"},
        'content/index.md:4: bad front matter: the key "title" is given twice (first on line 2) (hint: write the key once)'),
    "front-matter-duplicate-author-key": ({"index.md": "---\ntitle: T\nauthors:\n  - {name: A, name: B}\n---\n"},
        'content/index.md:4: bad front matter: the key "name" is given twice (first on line 4) (hint: write the key once)'),
    # live values and `::: when` naming a signal no chart on the page has (accepted before)
    "show-unknown-signal": ({"index.md": LIVE + 'It is [24]{show="demo.nosuch"}.\n'},
        'content/index.md:8: show="demo.nosuch": the "demo" charts on this page have no signal "nosuch" (known: step) (hint: a param of one of its charts, e.g. alt.param(name=...))'),
    "show-section-not-on-page": ({"index.md": FRONT + 'It is [24]{show="demo.step"}.\n'},
        'content/index.md:4: show="demo.step": no chart of section "demo" is on this page (hint: place one with {{< chart ID >}}, or name another section)'),
    "when-unknown-signal": ({"index.md": LIVE + "::: when demo.stpe=2005\nHalfway.\n:::\n"},
        'content/index.md:8: "::: when demo.stpe=2005": the "demo" charts on this page have no signal "stpe" (did you mean "step"?) (hint: a param of one of its charts, e.g. alt.param(name=...))'),
    # footnotes (accepted before)
    "footnote-defined-twice": ({"index.md": FRONT + "Text.[^a]\n\n[^a]: One.\n\n[^a]: Two.\n"},
        'content/index.md:8: footnote "[^a]" is defined twice (first on line 6) (hint: give each footnote its own name)'),
    "footnote-never-used": ({"index.md": FRONT + "Text.\n\n[^a]: One.\n"},
        'content/index.md:6: footnote "[^a]" is defined but never used (hint: refer to it with [^a] in the text, or delete it)'),
    "footnote-empty-name": ({"index.md": FRONT + "Text.[^]\n"},
        'content/index.md:4: footnote "[^]" has no name (hint: write [^name] and a line "[^name]: text")'),
    "footnote-space-in-name": ({"index.md": FRONT + "Text.[^a b]\n\n[^a]: One.\n"},
        'content/index.md:4: footnote "[^a b]" has a space in its name (hint: write [^a-b], here and where it is defined)'),
    # BibTeX (accepted before)
    "bib-unknown-type": ({"index.md": POWER, "references.bib": DEMO_BIB.replace("@article{power2022", "@frobnicate{power2022")},
        'content/references.bib:2: entry "power2022" has the unknown type "@frobnicate" (hint: a standard type: @article, @inproceedings, @book, @misc, ...)'),
    "bib-misspelt-type": ({"index.md": POWER, "references.bib": DEMO_BIB.replace("@article{power2022", "@artcle{power2022")},
        'content/references.bib:2: entry "power2022" has the unknown type "@artcle" (did you mean "@article"?)'),
    "bib-year-not-a-number": ({"index.md": POWER, "references.bib": DEMO_BIB.replace("year          = {2022},\n  eprint        = {2201", "year          = {soon},\n  eprint        = {2201")},
        'content/references.bib:6: entry "power2022" has the year \'soon\', not a number (hint: year = {2022}; write "to appear" in a note field)'),
    "bib-duplicate-field": ({"index.md": POWER, "references.bib": DEMO_BIB.replace("  year          = {2021},\n", "  year          = {2021},\n  year          = {2022},\n")},
        'content/references.bib:34: entry with key bender2021 has a duplicate year field (hint: give each field once per entry)'),
    # unsafe links (written into the page before)
    "bib-url-javascript": ({"index.md": OLAH, "references.bib": DEMO_BIB.replace(BIB_URL, "javascript:alert(1)")},
        'content/references.bib:42: entry "olah2022", url: unsafe link "javascript:alert(1)": only http(s), mailto, doi and relative links are allowed, not "javascript:" (hint: link to an https:// address or a file in the site)'),
    "bib-url-javascript-spaced-case": ({"index.md": OLAH, "references.bib": DEMO_BIB.replace(BIB_URL, " JavaScript:alert(1)")},
        'content/references.bib:42: entry "olah2022", url: unsafe link "JavaScript:alert(1)": only http(s), mailto, doi and relative links are allowed, not "javascript:" (hint: link to an https:// address or a file in the site)'),
    "bib-url-data": ({"index.md": OLAH, "references.bib": DEMO_BIB.replace(BIB_URL, "data:text/html,<script>alert(1)</script>")},
        'content/references.bib:42: entry "olah2022", url: unsafe link "data:text/html,<script>alert(1)</script>": only http(s), mailto, doi and relative links are allowed, not "data:" (hint: link to an https:// address or a file in the site)'),
    "bib-url-vbscript": ({"index.md": OLAH, "references.bib": DEMO_BIB.replace(BIB_URL, "vbscript:msgbox(1)")},
        'content/references.bib:42: entry "olah2022", url: unsafe link "vbscript:msgbox(1)": only http(s), mailto, doi and relative links are allowed, not "vbscript:" (hint: link to an https:// address or a file in the site)'),
    "front-url-javascript": ({"index.md": "---\ntitle: T\nurl: javascript:alert(1)\n---\n"},
        'content/index.md:3: front matter "url": unsafe link "javascript:alert(1)": only http(s), mailto, doi and relative links are allowed, not "javascript:" (hint: link to an https:// address or a file in the site)'),
    "front-url-relative": ({"index.md": "---\ntitle: T\nurl: /grokking/\n---\n"},
        'content/index.md:3: front matter "url": "/grokking/" is not an http(s) address (hint: write the full address, e.g. https://example.org/article/)'),
    "front-image-data": ({"index.md": "---\ntitle: T\nimage: data:image/svg+xml,<svg/>\n---\n"},
        'content/index.md:3: front matter "image": unsafe link "data:image/svg+xml,<svg/>": only http(s), mailto, doi and relative links are allowed, not "data:" (hint: link to an https:// address or a file in the site)'),
    "markdown-link-javascript": ({"index.md": FRONT + "Intro.\n\nA [link](javascript:alert(1)).\n"},
        'content/index.md:6: unsafe link "javascript:alert(1)": only http(s), mailto, doi and relative links are allowed, not "javascript:" (hint: link to an https:// address or a file in the site)'),
    "markdown-link-tab-in-scheme": ({"index.md": FRONT + "A [link](<java\tscript:alert(1)>).\n"},
        'content/index.md:4: link "java%09script:alert(1)" holds %09, an encoded tab, line break or control character (hint: remove it)'),
    "raw-html-entity-tab-in-scheme": ({"index.md": FRONT + 'A <a href="java&#9;script:alert(1)">link</a>.\n'},
        'content/index.md:4: raw HTML <a href>: unsafe link "java\\tscript:alert(1)": only http(s), mailto, doi and relative links are allowed, not "javascript:" (hint: link to an https:// address or a file in the site)'),
    "markdown-autolink-vbscript": ({"index.md": FRONT + "A <vbscript:msgbox(1)> link.\n"},
        'content/index.md:4: unsafe link "vbscript:msgbox(1)": only http(s), mailto, doi and relative links are allowed, not "vbscript:" (hint: link to an https:// address or a file in the site)'),
    "markdown-image-data": ({"index.md": FRONT + "![x](data:image/png;base64,AAAA)\n"},
        'content/index.md:4: image: unsafe link "data:image/png;base64,AAAA": only http(s), mailto, doi and relative links are allowed, not "data:" (hint: link to an https:// address or a file in the site)'),
    "markdown-reference-link-file": ({"index.md": FRONT + "A [link][x].\n\n[x]: file:///etc/passwd\n"},
        'content/index.md:4: unsafe link "file:///etc/passwd": only http(s), mailto, doi and relative links are allowed, not "file:" (hint: link to an https:// address or a file in the site)'),
    "raw-html-unreadable": ({"index.md": FRONT + "<div>\n<![ x\n</div>\n"},
        "content/index.md:5: raw HTML cannot be read: expected name token at '<![ x\\n</div>\\n' (hint: write < as &lt; in text, or complete the tag)"),
    "raw-html-href-javascript": ({"index.md": FRONT + 'A <a href="JaVaScRiPt:alert(1)">link</a>.\n'},
        'content/index.md:4: raw HTML <a href>: unsafe link "JaVaScRiPt:alert(1)": only http(s), mailto, doi and relative links are allowed, not "javascript:" (hint: link to an https:// address or a file in the site)'),
    # issue 25: front matter that could exhaust memory, links out of the site, raw HTML outside
    # the allowlist, an id given twice (each built before, or a traceback)
    "front-matter-anchor": ({"index.md": "---\ntitle: &t T\ndescription: *t\n---\n"},
        'content/index.md:2: bad front matter: the anchor &t is not allowed in front matter (hint: write each value out in full)'),
    "front-matter-long-value": ({"index.md": "---\ntitle: T\nlang: " + "x" * 50_000 + "\n---\n"},
        "content/index.md:3: front matter \"lang\" must be a language code, not '" + "x" * 27 + "..." + "x" * 28 + "' (hint: write lang: en)"),
    "image-outside-the-site": ({"index.md": FRONT + "![x](../../../../etc/passwd)\n"},
        'content/index.md:4: image: link "../../../../etc/passwd" leads outside the site (hint: a path relative to the page, e.g. figures/plot.svg or notes.html#intro, or an https:// address)'),
    "link-to-an-absolute-path": ({"index.md": FRONT + "Intro.\n\n[y](/etc/shadow)\n"},
        'content/index.md:6: link "/etc/shadow" is an absolute path, outside the site (hint: a path relative to the page, e.g. figures/plot.svg or notes.html#intro, or an https:// address)'),
    "raw-html-meta-refresh": ({"index.md": FRONT + 'Intro.\n\n<meta http-equiv="refresh" content="0; url=https://example.org/">\n'},
        'content/index.md:6: raw HTML <meta> is not allowed (hint: the page\'s metadata comes from the front matter; raw HTML may use ' + ", ".join(sorted(html_policy.ELEMENTS)) + ")"),
    "raw-html-srcset": ({"index.md": FRONT + 'An <img src="figures/demo-line.svg" srcset="x.png 2x" alt=""> image.\n'},
        'content/index.md:4: raw HTML <img srcset> is not allowed (hint: one image in src; on <img> raw HTML may use src, alt, width, height, id, class, title, lang, dir, aria-label, aria-hidden)'),
    "duplicate-heading-label": ({"index.md": FRONT + "## One {#sec-x}\n\nText.\n\n## Two {#sec-x}\n"},
        'content/index.md:8: duplicate id "sec-x" (first used at content/index.md:4) (hint: give one of them another name)'),
}


def _matches(actual: str, expected: str, root) -> bool:
    """Exact match; a path may be written relative to the project root or absolute."""
    return actual == expected or actual == f"{root}/{expected}"


@pytest.fixture
def project_with_site(tmp_path, demo_site):
    """write(index, bib) -> a project root whose site/ holds a previous good build."""
    def write(index: str, bib: str):
        root = tmp_path / "proj"
        (root / "content").mkdir(parents=True)
        (root / "content" / "index.md").write_text(index, encoding="utf-8")
        (root / "content" / "references.bib").write_text(bib, encoding="utf-8")
        shutil.copytree(demo_site, root / "site")
        return root
    return write


@pytest.mark.parametrize("case", list(CASES))
def test_build_error_is_one_line_and_site_untouched(case, project_with_site, build):
    index, bib, expected = CASES[case]
    root = project_with_site(index, bib)
    before = tree_hashes(root / "site")
    with pytest.raises(BuildError) as info:
        build(root)
    message = str(info.value)
    assert "\n" not in message
    assert _matches(message, expected, root), message
    assert tree_hashes(root / "site") == before
    assert sorted(p.name for p in root.iterdir()) == ["content", "site"]  # no temp dir left behind


# The CLI uses the project's own figure registry, not the demo one, so the chart (and section) cases are left to
# the in-process test above; every other case must print exactly the same line.
CLI_CASES = [c for c in CASES if "chart" not in c and c not in ("unknown-animate", "when-unknown-section")]


@pytest.mark.parametrize("case", CLI_CASES)
def test_cli_main_prints_one_line_and_returns_1(case, project_with_site, capsys):
    index, bib, expected = CASES[case]
    root = project_with_site(index, bib)
    before = tree_hashes(root / "site")
    assert cli.main(["--root", str(with_experiments(root)), "build"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert _matches(lines[0], expected, root), lines[0]
    assert tree_hashes(root / "site") == before


def test_cli_main_unknown_chart_names_the_line(project_with_site, capsys):
    root = project_with_site(FRONT + "Intro.\n\n{{< chart no-such-chart >}}\n", DEMO_BIB)
    before = tree_hashes(root / "site")
    assert cli.main(["--root", str(with_experiments(root)), "build"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith('content/index.md:6: unknown chart id "no-such-chart" (')
    assert tree_hashes(root / "site") == before


# Two cases through a real `python -m builder` process (each start costs seconds: the figure
# modules import torch), for the exit status and the absence of a traceback end to end.
@pytest.mark.parametrize("case", ["unknown-citation", "malformed-bibtex"])
def test_python_m_builder_exits_1_with_one_line(case, project_with_site):
    index, bib, expected = CASES[case]
    root = project_with_site(index, bib)
    before = tree_hashes(root / "site")
    proc = run_cli(root)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert _matches(lines[0], expected, root), lines[0]
    assert tree_hashes(root / "site") == before


@pytest.fixture
def input_project(tmp_path, demo_site):
    """write(files) -> a project root with those content/ files (text or bytes) and a previous site/."""
    def write(files: dict):
        root = with_experiments(write_project(tmp_path / "proj", index=FRONT + "Text.\n"))
        for name, data in files.items():
            (root / "content" / name).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        shutil.copytree(demo_site, root / "site")
        return root
    return write


@pytest.mark.parametrize("case", list(INPUT_CASES))
def test_input_mistake_is_one_line_and_site_untouched(case, input_project, registry, chart_cache):
    files, expected = INPUT_CASES[case]
    root = input_project(files)
    before = tree_hashes(root / "site")
    own = "experiments.toml" in files  # the project's own figure modules read it (the demo ones do not)
    with pytest.raises(BuildError) as info:
        Builder(root, registry=None if own else registry, cache=chart_cache).build()
    message = str(info.value)
    assert len(message.splitlines()) == 1 and ("(hint: " in message or "(did you mean " in message), message
    assert _matches(message, expected, root), message
    assert tree_hashes(root / "site") == before
    assert sorted(p.name for p in root.iterdir()) == ["content", "site"]


# Through `main` as an author runs it (the project's own figures: the cases that place a demo chart
# or name its section stay with the in-process test above).
CLI_INPUT_CASES = [c for c in INPUT_CASES if not c.startswith(("show-", "when-"))]


@pytest.mark.parametrize("case", CLI_INPUT_CASES)
def test_cli_main_input_mistake_prints_one_line_and_returns_1(case, input_project, capsys):
    files, expected = INPUT_CASES[case]
    root = input_project(files)
    before = tree_hashes(root / "site")
    assert cli.main(["--root", str(root), "build"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert _matches(lines[0], expected, root), lines[0]
    assert tree_hashes(root / "site") == before


@pytest.mark.parametrize("case", ["date-feb-30", "latin-1-toml"])
def test_python_m_builder_input_mistake_exits_1_without_traceback(case, input_project):
    """Two of the former tracebacks through a real `python -m builder` process."""
    files, expected = INPUT_CASES[case]
    root = input_project(files)
    before = tree_hashes(root / "site")
    proc = run_cli(root)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert proc.stderr.splitlines() == [expected], proc.stderr
    assert tree_hashes(root / "site") == before


def test_what_authors_mean_still_builds(input_project, build):
    """The near neighbours of the mistakes above are fine: a UTF-8 byte-order mark and CRLF line
    ends, a quoted date, prices and escaped dollars, closed math, comments and code, footnotes used once,
    http(s), mailto, doi and relative links, a live value of a chart on the page."""
    index = ("\ufeff" + '---\ntitle: T\ndate: "2026-11-22"\n---\n' + "It costs $5 and $10, or \\$HOME in a shell; $x + y$ is math.[^a]\n\n"
             "<!-- a closed comment -->\n\n```\n$ unclosed in code [@nope\n```\n\n"
             "Mail [us](mailto:a@example.org), see [the DOI](doi:10.1145/3442188.3445922), [https](https://example.org/) "
             "or [the top](#article) and <https://example.org/auto$x>.\n\n{{< chart demo-line >}}\n\n"
             'The year is [2000]{show="demo.step"}.\n\n[^a]: A note, used once.\n').replace("\n", "\r\n")
    root = input_project({"index.md": index.encode("utf-8"),
                          "references.bib": DEMO_BIB.replace(BIB_URL, "http://example.org/essay")})
    build(root)
    page = (root / "site" / "index.html").read_text(encoding="utf-8")
    for href in ("mailto:a@example.org", "doi:10.1145/3442188.3445922", "https://example.org/", "#article",
                 "https://example.org/auto$x"):
        assert f'href="{href}"' in page, href
    assert "$5 and $10" in page and "$HOME" in page and 'data-signal="step"' in page
    assert 'datetime="2026-11-22"' in page


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_windows_and_old_mac_line_ends_count_one_line_each(newline, input_project, build):
    root = input_project({"index.md": (FRONT + "Intro.\n\nSee [@powr2022].\n").replace("\n", newline)})
    with pytest.raises(BuildError) as info:
        build(root)
    assert str(info.value) == 'content/index.md:6: unknown citation key "powr2022" (did you mean "power2022"?)'


@pytest.mark.parametrize("url, allowed", [
    ("https://example.org/x", True), ("http://example.org", True), ("mailto:a@b.org", True), ("doi:10.1/x", True),
    ("#anchor", True), ("notes.html#x", True), ("figures/a.svg", True), ("a/../b.html", True),
    ("//cdn.example.org/x", False), ("/etc/shadow", False), ("../../../../etc/passwd", False), ("a/../../x", False),
    ("%2e%2e/x", False), ("..%2f..%2fetc/passwd", False), ("\\\\host\\x", False), ("a%00.html", False),
    ("javascript:alert(1)", False), (" JavaScript:alert(1)", False), ("JAVASCRIPT:x", False),
    ("java\tscript:x", False), ("\x01javascript:x", False), ("java\nscript:x", False), ("data:text/html,x", False),
    ("vbscript:x", False), ("file:///etc/passwd", False), ("ftp://example.org", False), ("C:\\x", False),
    ("https://example.org/\x00", False), (" https://example.org", False),
])
def test_only_safe_urls_are_allowed(url, allowed):
    assert (url_problem(url) is None) == allowed, url_problem(url)


def test_second_page_error_names_that_page(project_with_site, build):
    root = project_with_site(FRONT + "Fine.\n", DEMO_BIB)
    (root / "content" / "notes.md").write_text(FRONT + "\n\nBad $\\nope$.\n", encoding="utf-8")
    with pytest.raises(BuildError) as info:
        build(root)
    assert str(info.value).startswith("content/notes.md:6: unknown TeX command \\nope")


def test_link_to_missing_page_is_an_error(project_with_site, build):
    root = project_with_site(FRONT + "See [x](other.html).\n", DEMO_BIB)
    with pytest.raises(BuildError) as info:
        build(root)
    assert str(info.value) == 'content/index.md:4: broken link "other.html" (no file other.html) (hint: link to a page built from content/*.md, or to a #heading on this page)'


def test_link_to_another_page_and_its_anchor_is_fine(project_with_site, build):
    root = project_with_site(FRONT + "See [the note](notes.html#fn-a).\n", DEMO_BIB)
    (root / "content" / "notes.md").write_text(FRONT + "Text.[^a]\n\n[^a]: Note.\n", encoding="utf-8")
    build(root)
    assert 'href="notes.html#fn-a"' in (root / "site" / "index.html").read_text()
    assert 'id="fn-a"' in (root / "site" / "notes.html").read_text()


def test_error_str_format():
    assert str(BuildError("a/b.md", 3, "bad")) == "a/b.md:3: bad"
    assert str(BuildError("a/b.md", None, "bad")) == "a/b.md: bad"
    assert str(BuildError(None, None, "bad")) == "<input>: bad"


def test_hints():
    assert closest("sticy", ["sticky", "aside", "wide"]) == ["sticky"]
    assert did_you_mean("sticy", ["sticky", "aside"]) == ' (did you mean "sticky"?)'
    assert did_you_mean("qqq", []) == " (none are defined)"
    many = [f"id{i:02d}-long-name" for i in range(20)]
    hint = did_you_mean("zzzzzz", many)
    assert hint.startswith(" (known: id00-long-name, ") and hint.endswith(", ...)")


def test_make_test_says_in_one_line_what_to_install_when_it_cannot_install_it():
    """tests/system_deps.sh, run by `make test`: where it may not install (not root, or
    SYSTEM_DEPS_INSTALL=no) and Chromium is missing, it stops with one line naming the packages
    and the way to run the other tests."""
    script = str(REPO / "tests" / "system_deps.sh")
    env = {"PATH": os.environ["PATH"], "CHROMIUM_PATH": "/nonexistent/chromium", "SYSTEM_DEPS_INSTALL": "no"}
    run = subprocess.run([script], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "apt-get install -y chromium" in lines[0] and "not browser" in lines[0], run.stderr
    present = subprocess.run([script], env={"PATH": os.environ["PATH"], "CHROMIUM_PATH": sys.executable},
                             capture_output=True, text=True, timeout=60)
    if shutil.which("java"):  # all there: nothing to say, nothing installed
        assert present.returncode == 0 and present.stderr == ""
