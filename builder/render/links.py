"""Check every internal link, #anchor and src of the built site before it is swapped in.

No id may be given twice on a page. A relative address must name a file inside the site (the temporary folder being built) and a
#fragment an id on its page. An address that leads out of the site is refused without looking
at what is there (builder.urls refuses it earlier, at its Markdown line): the messages never
depend on the files of the machine that builds the site.
"""
from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from builder.errors import cut

# Every attribute of HTML (and SVG's xlink:href) whose value is an address, each checked here
# (raw HTML in the Markdown may only use <a href> and <img src>: builder.markdown.html_policy;
# the builder's own placeholders use <source srcset>). A reader follows those of NAVIGATION; the
# browser loads the others itself, so they must not reach outside the site.
ADDRESS_ATTRIBUTES = ("href", "src", "srcset", "poster", "action", "formaction", "data", "xlink:href",
                      "background", "cite", "longdesc", "usemap", "manifest", "codebase", "archive", "ping",
                      "icon", "profile", "lowsrc", "dynsrc", "imagesrcset")
NAVIGATION = ("href", "action", "formaction", "cite", "longdesc")


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.duplicates: list[tuple[str, int]] = []  # (id, line) of each id given a second time
        self.refs: list[tuple[str, str, int]] = []  # (attr, value, line)
        self.in_noscript = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "id" and value in self.ids:
                self.duplicates.append((value, self.getpos()[0]))
            if name in ("id", "name") and value:
                self.ids.add(value)
            elif name in ADDRESS_ATTRIBUTES and value is not None and not (name == "data" and tag != "object"):
                urls = [c.split()[0] for c in value.split(",") if c.split()] if name.endswith("srcset") else [value]
                self.refs += [(name, url, self.getpos()[0]) for url in urls]


def _is_external(url: str) -> bool:
    if url.startswith("data:"):
        return True
    parts = urlsplit(url)
    return bool(parts.scheme or parts.netloc) or url.startswith("//")


def check_links(site: Path) -> list[str]:
    """Return one message per broken internal link (empty when all resolve)."""
    pages: dict[Path, _Collector] = {}
    problems = []
    root = site.resolve()
    for page in sorted(site.rglob("*.html")):
        c = _Collector()
        try:
            c.feed(page.read_text(encoding="utf-8"))
            c.close()
        except (AssertionError, ValueError) as exc:  # html.parser gives up on some `<!` constructs
            problems.append(f"{page.relative_to(site)}:{c.getpos()[0]}: the page's HTML cannot be read: {exc} "
                            "(hint: check the raw HTML in the Markdown)")
        pages[page.resolve()] = c
    for page, c in pages.items():
        where = f"{page.relative_to(root)}"
        for ident, line in c.duplicates:  # builder.markdown.ids makes them unique: this is a bug of the builder's
            problems.append(f'{where}:{line}: duplicate id "{cut(ident)}" (hint: every id of a page must be unique)')
        for attr, url, line in c.refs:
            shown = cut(url)
            if _is_external(url):
                if attr not in NAVIGATION and not url.startswith("data:"):
                    problems.append(f'{where}:{line}: loads "{shown}" from outside the site (hint: copy it into content/ and link it relatively)')
                continue
            parts = urlsplit(url)
            path = unquote(parts.path)
            target = page
            if path:
                target = (page.parent / path).resolve() if "\x00" not in path and not path.startswith("/") else None
            if target is None or not target.is_relative_to(root):  # never asks what is there
                problems.append(f'{where}:{line}: broken link "{shown}" (it leads outside the site) '
                                '(hint: link to a page built from content/*.md, or to a #heading on this page)')
                continue
            if parts.path.endswith("/") or target.is_dir():
                target = target / "index.html"
            if not target.exists():
                problems.append(f'{where}:{line}: broken link "{shown}" (no file {cut(parts.path)}) '
                                '(hint: link to a page built from content/*.md, or to a #heading on this page)')
                continue
            if parts.fragment:
                ids = pages[target].ids if target in pages else set()
                if unquote(parts.fragment) not in ids:
                    problems.append(f'{where}:{line}: broken link "{shown}" (no element with id "{cut(parts.fragment)}") '
                                    '(hint: a heading\'s id is its text in lower case with dashes, e.g. #an-example-of-grokking)')
    return problems
