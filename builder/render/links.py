"""Check every internal link, #anchor and src of the built site before it is swapped in."""
from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.refs: list[tuple[str, str, int]] = []  # (attr, value, line)
        self.in_noscript = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)
            elif name in ("href", "src") and value is not None:
                self.refs.append((name, value, self.getpos()[0]))


def _is_external(url: str) -> bool:
    if url.startswith("data:"):
        return True
    parts = urlsplit(url)
    return bool(parts.scheme or parts.netloc) or url.startswith("//")


def check_links(site: Path) -> list[str]:
    """Return one message per broken internal link (empty when all resolve)."""
    pages: dict[Path, _Collector] = {}
    problems = []
    for page in sorted(site.rglob("*.html")):
        c = _Collector()
        try:
            c.feed(page.read_text(encoding="utf-8"))
            c.close()
        except (AssertionError, ValueError) as exc:  # html.parser gives up on some `<!` constructs
            problems.append(f"{page.relative_to(site)}:{c.getpos()[0]}: the page's HTML cannot be read: {exc} "
                            "(hint: check the raw HTML in the Markdown)")
        pages[page] = c
    for page, c in pages.items():
        for attr, url, line in c.refs:
            if _is_external(url):
                if attr == "src" and not url.startswith("data:"):
                    problems.append(f'{page.relative_to(site)}:{line}: loads "{url}" from outside the site (hint: copy it into content/ and link it relatively)')
                continue
            parts = urlsplit(url)
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if parts.path.endswith("/") or (target.is_dir()):
                target = target / "index.html"
            if not target.exists():
                problems.append(f'{page.relative_to(site)}:{line}: broken link "{url}" (no file {parts.path}) '
                                '(hint: link to a page built from content/*.md, or to a #heading on this page)')
                continue
            if parts.fragment:
                ids = pages[target].ids if target in pages else set()
                if unquote(parts.fragment) not in ids:
                    problems.append(f'{page.relative_to(site)}:{line}: broken link "{url}" (no element with id "{parts.fragment}") '
                                    '(hint: a heading\'s id is its text in lower case with dashes, e.g. #an-example-of-grokking)')
    return problems
