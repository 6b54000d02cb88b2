"""Which link addresses may be written into a page: http(s), mailto, doi and relative ones.

Every address an author gives (a Markdown link or image, a BibTeX url, the front matter's url
and image) passes `url_problem` before it reaches an href, a src or a <meta>. Anything else
(`javascript:`, `data:`, `vbscript:`, `file:`, ...) would run code or fetch local files in the
reader's browser, or is a typo; it is a build error rather than a silently dropped link.
"""
from __future__ import annotations

import re

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
    shown = url.strip()
    if found is not None and found not in SCHEMES:
        return (f'unsafe link "{shown}": only http(s), mailto, doi and relative links are allowed, not "{found}:" '
                '(hint: link to an https:// address or a file in the site)')
    if _INVISIBLE.search(url):
        return f'link "{shown}" holds a tab, line break or control character (hint: remove it)'
    if url != shown:
        return f'link "{shown}" has spaces around it (hint: remove them)'
    if absolute and (found not in ("http", "https") or not re.match(r"^https?://[^/\s]", url, re.IGNORECASE)):
        return f'"{url}" is not an http(s) address (hint: write the full address, e.g. https://example.org/article/)'
    return None
