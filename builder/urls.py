"""Which link addresses may be written into a page: http(s), mailto, doi, a #fragment, and a
path relative to the page that stays inside the site.

Every address an author gives (a Markdown link or image, a raw HTML href or src, a BibTeX url,
the front matter's url and image) passes `url_problem` before it reaches an href, a src or a
<meta>. Anything else is a build error rather than a silently dropped link:
- another scheme (`javascript:`, `data:`, `vbscript:`, `file:`, ...) would run code or fetch
  local files in the reader's browser, or is a typo;
- `/etc/passwd`, `//host/x`, `C:\\x` or `../../x` name a place outside the site: on the
  machine that builds it, on the one that serves it, or (opened from file://) on the reader's.
  Whether such a file exists is never looked at, so no message depends on the build machine.
Once the site is written, builder.render.links checks that each relative path names a file
in it and each #fragment an id on its page.
"""
from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from builder.errors import cut

SCHEMES = ("http", "https", "mailto", "doi")
# A browser drops ASCII tabs and line breaks anywhere in a URL and spaces and control characters
# at its ends before it reads the scheme ("java\tscript:" is "javascript:"); so does this check.
_IGNORED = re.compile(r"[\x00-\x20\x7f]")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f]")


def scheme(url: str) -> str | None:
    """The URL's scheme as a browser reads it, lower case; None for a relative URL."""
    m = _SCHEME.match(_IGNORED.sub("", url))
    return m.group(1).lower() if m else None


def url_problem(url: str, absolute: bool = False) -> str | None:
    """Why `url` may not be written into the page, or None when it may. `absolute`: only an
    http(s) address will do (a page's canonical url)."""
    found = scheme(url)
    shown = cut(url.strip())
    if found is not None and found not in SCHEMES:
        return (f'unsafe link "{shown}": only http(s), mailto, doi and relative links are allowed, not "{found}:" '
                '(hint: link to an https:// address or a file in the site)')
    if _INVISIBLE.search(url):
        return f'link "{shown}" holds a tab, line break or control character (hint: remove it)'
    if url != url.strip():
        return f'link "{shown}" has spaces around it (hint: remove them)'
    if absolute and (found not in ("http", "https") or not re.match(r"^https?://[^/\s]", url, re.IGNORECASE)):
        return f'"{shown}" is not an http(s) address (hint: write the full address, e.g. https://example.org/article/)'
    return None if found is not None else local_problem(url)


_SITE_HINT = "(hint: a path relative to the page, e.g. figures/plot.svg or notes.html#intro, or an https:// address)"


def local_problem(url: str) -> str | None:
    """Why a relative address (no scheme) does not name a place inside the site, or None. The
    pages are at the site's top level, so a path may not start with / or climb above it with
    `..` (spelt %2e%2e or with %2f too, as a browser or a file system would read it)."""
    shown = cut(url)
    if url.startswith(("//", "\\\\", "/\\", "\\/")):
        return f'link "{shown}" names another server without saying how to reach it (hint: write https://...)'
    if "\\" in url:
        return f'link "{shown}" holds a backslash (hint: separate folders with /, as in figures/plot.svg)'
    path = unquote(urlsplit(url).path)
    if _INVISIBLE.search(path):
        code = re.search(r"%[01][0-9a-f]|%7f", url, re.IGNORECASE)
        return f'link "{shown}" holds {code.group() if code else "an escape"}, an encoded tab, line break or control character (hint: remove it)'
    if path.startswith("/"):
        return f'link "{shown}" is an absolute path, outside the site {_SITE_HINT}'
    depth = 0
    for part in path.replace("\\", "/").split("/"):
        depth += -1 if part == ".." else 0 if part in ("", ".") else 1
        if depth < 0:
            return f'link "{shown}" leads outside the site {_SITE_HINT}'
    return None
