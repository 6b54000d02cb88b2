"""Raw HTML in the Markdown: the elements and attributes an article may use, in one place.

Markdown covers almost everything an article needs; raw HTML is for the little it does not
(a <kbd>, a <sup>, a table cell that spans two columns, a <details> to fold a long aside). So
raw HTML is an allowlist: text-level elements, lists, tables, <details>, <figure> and <img>,
with a few attributes each (ELEMENTS) and a few on every element (GLOBAL). Everything else is a
build error at its line that names the element or attribute and what to write instead:
<script>, <style>, <iframe>, <object>, <embed>, <form>, <meta>, <base>, <link>, <svg>, ...;
event handlers (onclick=...), style=..., data-* and every address attribute but <a href> and
<img src>. Those two addresses pass builder.urls (http(s), mailto, doi, or a path inside the
site), and the site's link check then finds the file or #id they name.

`clean` parses a piece of raw HTML with Python's html.parser and writes it out again from what
was parsed (tags, attribute values quoted and escaped, text escaped, comments dropped), so the
page holds exactly what was checked: a construct a browser would read differently from
html.parser cannot slip through as text the check did not see.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from builder.errors import BuildError, cut

GLOBAL = ("id", "class", "title", "lang", "dir", "aria-label", "aria-hidden")
_NONE: tuple = ()
ELEMENTS: dict[str, tuple[str, ...]] = {
    # text
    "a": ("href",), "abbr": _NONE, "b": _NONE, "bdi": _NONE, "bdo": _NONE, "br": _NONE, "cite": _NONE,
    "code": _NONE, "del": _NONE, "dfn": _NONE, "em": _NONE, "i": _NONE, "ins": _NONE, "kbd": _NONE,
    "mark": _NONE, "q": _NONE, "s": _NONE, "samp": _NONE, "small": _NONE, "span": _NONE, "strong": _NONE,
    "sub": _NONE, "sup": _NONE, "time": ("datetime",), "u": _NONE, "var": _NONE, "wbr": _NONE,
    # blocks
    "blockquote": _NONE, "div": _NONE, "p": _NONE, "hr": _NONE, "pre": _NONE, "figure": _NONE,
    "figcaption": _NONE, "details": ("open",), "summary": _NONE, "img": ("src", "alt", "width", "height"),
    "ul": _NONE, "ol": ("start", "reversed", "type"), "li": ("value",), "dl": _NONE, "dt": _NONE, "dd": _NONE,
    "table": _NONE, "caption": _NONE, "thead": _NONE, "tbody": _NONE, "tfoot": _NONE, "tr": _NONE,
    "th": ("colspan", "rowspan", "scope"), "td": ("colspan", "rowspan"), "colgroup": ("span",), "col": ("span",),
}
ADDRESSES = {("a", "href"), ("img", "src")}  # the attributes that hold an address: each is checked
VOID = {"br", "wbr", "hr", "img", "col"}

# What to write instead of an element or attribute that is not allowed.
_CHART = "place a chart with {{< chart ID >}}, or link to the page with [text](https://...)"
INSTEAD = {
    **dict.fromkeys(("script", "noscript", "template"), "the page's behaviour lives in builder/render/static/glue.js"),
    **dict.fromkeys(("style", "link"), "styles live in builder/render/static/article.css; give the element a class"),
    **dict.fromkeys(("iframe", "frame", "frameset", "object", "embed", "applet", "video", "audio", "source",
                     "track", "canvas", "portal", "picture"), _CHART),
    **dict.fromkeys(("form", "input", "button", "select", "option", "textarea", "label", "fieldset", "output"),
                    "a chart's inputs are made by its figure; [text]{animate=\"id\"} plays a step range"),
    **dict.fromkeys(("meta", "base", "title", "head", "html", "body"), "the page's metadata comes from the front matter"),
    **dict.fromkeys(("h1", "h2", "h3", "h4", "h5", "h6"), "write a heading in Markdown: ## Title {#sec-name}"),
    **dict.fromkeys(("svg", "math"), "an image file ![alt](figures/x.svg), or $...$ for math"),
    "srcset": "one image in src", "style": "give the element a class", "target": "links open in the same tab",
    "name": "give the element an id",
}


def allowed_attributes(tag: str) -> tuple[str, ...]:
    return ELEMENTS.get(tag, _NONE) + GLOBAL


def _element_hint(tag: str) -> str:
    elements = ", ".join(sorted(ELEMENTS))
    instead = INSTEAD.get(tag)
    return f"(hint: {instead}; raw HTML may use {elements})" if instead else f"(hint: raw HTML may use {elements})"


def _attribute_hint(tag: str, name: str) -> str:
    if name.startswith("on"):
        instead = "event handlers run scripts; the page's behaviour lives in builder/render/static/glue.js"
    elif name.startswith("data-"):
        instead = "data-* attributes are the page's own (glue.js reads them)"
    else:
        instead = INSTEAD.get(name, "")
    allowed = ", ".join(allowed_attributes(tag))
    return f"(hint: {instead + '; ' if instead else ''}on <{tag}> raw HTML may use {allowed})"


@dataclass
class Fragment:
    """A piece of raw HTML as it will be written into the page, and what it holds."""
    html: str
    addresses: list = field(default_factory=list)  # (element, attribute, url, line)
    ids: list = field(default_factory=list)  # (id, line)


class _Policy(HTMLParser):
    def __init__(self, path, line: int):
        # charrefs kept apart from the text, so that a "<" left in the text is one html.parser
        # could not read as a tag, not a "&lt;" the author wrote
        super().__init__(convert_charrefs=False)
        self.path, self.first_line = path, line
        self.out: list[str] = []
        self.fragment = Fragment("")
        self.after_lt = False

    def line(self) -> int:
        return self.first_line + self.getpos()[0] - 1

    def fail(self, message: str) -> None:
        raise BuildError(self.path, self.line(), message)

    def _tag(self, tag: str, end: bool = False) -> None:
        self.after_lt = False
        if tag not in ELEMENTS:
            self.fail(f"raw HTML <{'/' if end else ''}{cut(tag, 30)}> is not allowed {_element_hint(tag)}")

    def handle_starttag(self, tag, attrs, close: bool = False):
        self._tag(tag)
        written, seen = [f"<{tag}"], set()
        for name, value in attrs:
            if name not in allowed_attributes(tag):
                self.fail(f"raw HTML <{tag} {cut(name, 30)}> is not allowed {_attribute_hint(tag, name)}")
            if name in seen:
                self.fail(f'raw HTML <{tag}> gives the attribute "{name}" twice (hint: write it once)')
            seen.add(name)
            if (tag, name) in ADDRESSES:
                self.fragment.addresses.append((tag, name, value or "", self.line()))
            if name == "id":
                if not value or not _ID.match(value):
                    self.fail(f'raw HTML <{tag}> has the id "{cut(value or "")}" (hint: an id is a letter '
                              "followed by letters, digits, - or _, as in id=\"note-1\")")
                self.fragment.ids.append((value, self.line()))
            written.append(f" {name}" if value is None else f' {name}="{html.escape(value)}"')
        self.out.append("".join(written) + (" />" if close and tag not in VOID else ">"))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs, close=True)

    def handle_endtag(self, tag):
        self._tag(tag, end=True)
        if tag not in VOID:
            self.out.append(f"</{tag}>")

    def handle_data(self, data):
        if self.after_lt and re.match(r"[A-Za-z/!?]", data):  # "<" then a tag html.parser could not finish
            self.fail(f'raw HTML "<{cut(data.rstrip(), 30)}" is not a complete tag (hint: close it with >, or write < as &lt;)')
        self.after_lt = data.endswith("<")
        self.out.append(html.escape(data, quote=False))

    def handle_entityref(self, name):
        self.out.append(html.escape(html.unescape(f"&{name};"), quote=False))

    def handle_charref(self, name):
        self.out.append(html.escape(html.unescape(f"&#{name};"), quote=False))

    def handle_comment(self, data):
        pass  # a comment is left out of the page

    def handle_decl(self, decl):
        self.fail(f'raw HTML "<!{cut(decl, 30)}>" is not allowed (hint: the page template writes the doctype)')

    def unknown_decl(self, data):
        self.fail(f'raw HTML "<![{cut(data, 30)}" is not allowed (hint: write the text as it is, with &lt; for <)')

    def handle_pi(self, data):
        self.fail(f'raw HTML "<?{cut(data, 30)}" is not allowed (hint: write < as &lt;)')


_ID = re.compile(r"^[A-Za-z][\w\-]*$")


def clean(raw: str, path, line: int) -> Fragment:
    """`raw` (an HTML block or inline tag of the Markdown starting on `line`) checked against the
    policy and written out again from what was parsed. Raises BuildError at the first element or
    attribute that is not allowed."""
    parser = _Policy(path, line)
    try:
        parser.feed(raw)
        parser.close()
    except (AssertionError, ValueError) as exc:  # html.parser gives up on some `<!` constructs
        raise BuildError(path, parser.line(), f"raw HTML cannot be read: {cut(exc, 80)} "
                                              "(hint: write < as &lt; in text, or complete the tag)") from None
    parser.fragment.html = "".join(parser.out)
    return parser.fragment
