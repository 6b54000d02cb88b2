"""Figure -> compiled Vega spec (+ static SVG), cached by the hash of its Vega-Lite spec.

Vega-Lite is compiled once at build time, so the page only needs the Vega runtime. What a
reader's pointer does (scrub, hover, on-demand data, other runs...) is added to the compiled
spec by the kinds of builder.render.interactions.

Names: a figure names a mark, `alt.Chart(...).properties(name="tiles")`, and its expressions
refer to that mark's scales as `@tiles.x` (e.g. `bandwidth(@tiles.y)`). The compiler finds the
mark in the compiled Vega and writes the scale's real name, `'concat_0_x'`, in place of the
reference, so no figure depends on the names Vega-Lite generates for a layout. The names do not
reach the page: the chart is compiled without them (see compile_vega).
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import vl_convert as vlc

from builder.errors import BuildError
from builder.render import interactions
from builder.render.interactions import VARIANT

VERSION = f"vlc-{vlc.get_vega_version()}-{vlc.get_vegalite_versions()[-1]}-4"


@dataclass(frozen=True)
class CompiledChart:
    id: str
    vega: dict
    svg: str
    payloads: dict = field(default_factory=dict)  # key -> rows, written as data/<id>/<key>.js
    narrow: CompiledChart | None = None  # the phone layout (Figure.narrow), see with_narrow
    media: str = ""  # the media query under which the page draws `narrow` instead

    @property
    def name(self) -> str:
        """The chart's file name stem: charts/<name>.js, figures/<name>.svg."""
        return self.id + (NARROW if self.media == NARROW_MARK else "")

    @cached_property
    def json(self) -> str:
        """The Vega spec as it goes into the page, serialized once."""
        return script_json(self.vega)

    @property
    def has_variants(self) -> bool:
        """Whether the chart can swap in other runs (figures.with_variants)."""
        return any(key.startswith(VARIANT) for key in self.payloads)

    @cached_property
    def payload_files(self) -> dict[str, str]:
        """key -> the text of data/<id>/<key>.js, serialized once (a rebuild rewrites them)."""
        return {key: payload_script(self.id, key, rows) for key, rows in self.payloads.items()}


NARROW, NARROW_MARK = ".narrow", "(narrow)"  # file suffix of a phone layout; the `media` that marks one
# A phone column: a 360 px screen less the article's side padding. A figure whose chart is wider
# gives a narrow layout at most this wide (Figure.narrow); the page draws that one while the
# viewport is narrower than the wide chart plus PHONE_GUTTER (padding, or a footnote's indent).
PHONE_WIDTH, PHONE_GUTTER = 320, 64
MAX_VECTOR_SVG = 400_000  # bytes; beyond this the static image is a PNG wrapped in an SVG
STATIC_WIDTH = 600  # px: the width a chart as wide as its column ("container") is drawn at


def fits_width(vega: dict) -> bool:
    """Whether the chart takes the width of its column (Vega-Lite width "container")."""
    autosize = vega.get("autosize")
    return isinstance(autosize, dict) and autosize.get("type") in ("fit", "fit-x")


def static_svg(vega: dict, width: int = STATIC_WIDTH) -> str:
    """The chart as a static SVG for print, no-JS readers and the placeholder that holds the
    chart's place until it is embedded. A chart as wide as its column is drawn STATIC_WIDTH
    wide (a narrow layout: PHONE_WIDTH). A chart of thousands of marks (the parity weight trajectories: 6.4 MB as vectors)
    becomes an embedded PNG instead, so the file keeps its name and stays small."""
    if fits_width(vega):
        signals = [{"name": "width", "value": width} if s.get("name") == "width" else s
                   for s in vega.get("signals", [])]
        vega = {**vega, "signals": signals}
    svg = vlc.vega_to_svg(vega)
    if len(re.sub(r'href="data:[^"]*"', "", svg)) <= MAX_VECTOR_SVG:  # images it embeds stay as they are
        return svg
    png = vlc.vega_to_png(vega, scale=2)
    m = re.search(r'width="([\d.]+)"\s+height="([\d.]+)"', svg)
    w, h = (m.group(1), m.group(2)) if m else ("100%", "100%")
    data = base64.b64encode(png).decode()
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">'
            f'<image width="{w}" height="{h}" href="data:image/png;base64,{data}"/></svg>')


NAME_REF = re.compile(r"(?<![\w.])@([A-Za-z_][A-Za-z0-9_]*)\.([a-z][A-Za-z0-9]*)")  # @mark.channel
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_VIEW_KEYS = ("mark", "layer", "concat", "hconcat", "vconcat", "facet", "spec", "repeat")
_CHANNELS = {"x": ("x", "xc", "x2"), "y": ("y", "yc", "y2")}  # where a mark's position channel is encoded


def _views(spec, path=()):
    """(path, view dict) of every view of a Vega-Lite spec, the spec itself first."""
    if isinstance(spec, dict):
        if any(k in spec for k in _VIEW_KEYS):
            yield path, spec
        for key, value in spec.items():
            if key not in ("datasets", "data", "usermeta", "params", "encoding", "transform"):
                yield from _views(value, (*path, key))
    elif isinstance(spec, list):
        for i, item in enumerate(spec):
            yield from _views(item, (*path, i))


def _with_names(spec, keep: bool):
    """The spec with its views' names (keep=False), or a light copy for finding them (keep=True):
    the same views with their names but no tables (datasets empty, no usermeta)."""
    if isinstance(spec, list):
        return [_with_names(item, keep) for item in spec]
    if not isinstance(spec, dict):
        return spec
    out = {}
    for key, value in spec.items():
        if key == "name" and not keep and any(k in spec for k in _VIEW_KEYS):
            continue
        if key in ("data", "params", "encoding", "transform"):
            out[key] = value
        elif key == "datasets":
            out[key] = {name: [] for name in value} if keep else value
        elif key == "usermeta":
            if not keep:
                out[key] = value
        else:
            out[key] = _with_names(value, keep)
    return out


def _marks(vega: dict, path=()):
    """(path, mark) of every mark of a Vega spec, groups' marks included, in order."""
    for i, mark in enumerate(vega.get("marks", [])):
        yield (*path, i), mark
        yield from _marks(mark, (*path, i))


class Names:
    """A chart's named marks (name -> the compiled Vega mark) and the scales they use."""

    def __init__(self, chart_id: str, marks: dict):
        self.chart_id, self.marks = chart_id, marks

    def _fail(self, what: str) -> BuildError:
        named = ", ".join(sorted(self.marks)) or "none"
        return BuildError(None, None, f'chart "{self.chart_id}": {what} (named marks: {named}; '
                          'hint: name a mark with alt.Chart(...).properties(name="tiles") and write @tiles.x)')

    def scale(self, name: str, channel: str) -> str:
        """The real name of the scale the mark `name` uses for `channel` (x or y)."""
        mark = self.marks.get(name)
        if mark is None:  # Altair renames a named layer of a concat "<name>_<its place>"
            alike = [m for n, m in self.marks.items() if re.fullmatch(re.escape(name) + r"_\d+", n)]
            mark = alike[0] if len(alike) == 1 else None
        if mark is None:
            raise self._fail(f'"@{name}.{channel}" names no mark of the chart')
        for encode in (mark.get("encode") or {}).values():
            for key in _CHANNELS.get(channel, (channel,)):
                for rule in encode.get(key, []) if isinstance(encode.get(key), list) else [encode.get(key)]:
                    if isinstance(rule, dict) and isinstance(rule.get("scale"), str):
                        return rule["scale"]
        raise self._fail(f'"@{name}.{channel}": the mark "{name}" has no {channel} scale')

    def resolve(self, node):
        """`node` (a compiled Vega spec) with every @mark.channel in its expressions replaced by
        the scale's name in quotes; tables' values are left as they are."""
        if isinstance(node, str):
            return NAME_REF.sub(lambda m: "'" + self.scale(m.group(1), m.group(2)) + "'", node) if "@" in node else node
        if isinstance(node, list):
            return [self.resolve(item) for item in node]
        if isinstance(node, dict):
            return {k: v if k == "values" else self.resolve(v) for k, v in node.items()}
        return node


def _get(spec, path):
    """The part of a spec at `path` (keys and indices, as _views gives them)."""
    for key in path:
        spec = spec[key]
    return spec


def compile_vega(chart_id: str, vl_spec: dict) -> tuple[dict, Names]:
    """The chart's Vega spec, compiled without its views' names (so it is the spec Vega-Lite
    makes of the unnamed chart), and its named marks (Names.resolve then writes the scales'
    names in). The marks are found in a second compile of the named chart without its tables,
    whose marks stand where the real compile's do."""
    named = [(path, view["name"]) for path, view in _views(vl_spec) if isinstance(view.get("name"), str)]
    vega = vlc.vegalite_to_vega(_with_names(vl_spec, keep=False) if named else vl_spec)
    marks = {}
    if named:
        bad = [name for _, name in named if not NAME.match(name)]
        if bad:
            raise BuildError(None, None, f'chart "{chart_id}": the mark name "{bad[0]}" must be letters, digits and _ '
                             "(hint: it is written @name.x in expressions)")
        composite = [name for path, name in named if path and "mark" not in _get(vl_spec, path)]
        if composite or any(not path for path, _ in named):
            raise BuildError(None, None, f'chart "{chart_id}": the view named "{(composite or [named[0][1]])[0]}" is not a mark '
                             '(hint: name a single mark, alt.Chart(...).mark_*(...).properties(name=...))')
        located = list(_marks(vlc.vegalite_to_vega(_with_names(vl_spec, keep=True))))
        real = list(_marks(vega))
        if [(p, m.get("type")) for p, m in located] != [(p, m.get("type")) for p, m in real]:
            raise BuildError(None, None, f'chart "{chart_id}": its named marks could not be found in the compiled chart '
                             "(hint: report this: Vega-Lite laid the named chart out differently)")
        wanted = {f"{name}_marks": name for _, name in named}
        for (_, found), (_, mark) in zip(located, real):
            name = wanted.get(found.get("name"))
            if name is None:
                continue
            if name in marks:
                raise BuildError(None, None, f'chart "{chart_id}": two marks are named "{name}" (hint: names are unique in a chart)')
            marks[name] = mark
        lost = [name for _, name in named if name not in marks]
        if lost:
            raise BuildError(None, None, f'chart "{chart_id}": the mark named "{lost[0]}" could not be found in the compiled chart '
                             "(hint: name a mark that draws something, not one Vega-Lite leaves out)")
    return vega, Names(chart_id, marks)


class ChartCache:
    """Compiled charts in memory and on disk (.cache/charts), keyed by spec hash."""

    def __init__(self, directory: Path | None):
        self.directory = directory
        self.memory: dict[str, tuple[dict, str]] = {}
        self.hits = 0
        self.misses = 0

    def _load(self, chart_id: str, key: str) -> CompiledChart | None:
        """The chart compiled under `key`, from memory or disk (a hit), or None."""
        if key in self.memory:
            self.hits += 1
            return CompiledChart(chart_id, *self.memory[key])
        disk = self.directory / f"{key}.json" if self.directory else None
        if disk and disk.exists():
            try:
                vega, svg_text, payloads = json.loads(disk.read_text())
                self.memory[key] = (vega, svg_text, payloads)
                self.hits += 1
                return CompiledChart(chart_id, vega, svg_text, payloads)
            except (ValueError, OSError):
                pass  # a damaged (or older) cache file is simply recompiled
        return None

    def _alias_file(self, inputs: str) -> Path | None:
        return self.directory.parent / "figures" / f"{inputs}.key" if self.directory else None

    def cached(self, chart_id: str, inputs: str) -> CompiledChart | None:
        """The chart an earlier build compiled from the same inputs (see Builder._inputs_key):
        the figure need not be made again. None when there is no such entry."""
        alias = self._alias_file(inputs)
        try:
            key = alias.read_text().strip() if alias else ""
        except OSError:
            return None
        return self._load(chart_id, key) if re.fullmatch(r"[0-9a-f]{24}", key) else None

    def compile(self, chart_id: str, vl_spec: dict, figure: dict | None = None, svg: bool = True,
                inputs: str | None = None, static_width: int = STATIC_WIDTH) -> CompiledChart:
        """figure: what the figure declares of its interactions (interactions.figure_values:
        the scrub's mark and steps, the hover and demand fields); inputs: remember the chart
        under this key of what it was made from too (see `cached`); static_width: the width a
        column-wide chart's static image is drawn at."""
        figure = figure or {}
        blob = json.dumps(vl_spec, sort_keys=True, separators=(",", ":"))
        patches = json.dumps(sorted(figure.items()) + ([static_width] if static_width != STATIC_WIDTH else []))
        key = hashlib.sha256((VERSION + patches + blob).encode()).hexdigest()[:24]
        found = self._load(chart_id, key)
        if found:
            self._remember(inputs, key)
            return found
        self.misses += 1
        try:
            vega, names = compile_vega(chart_id, vl_spec)
            vega, payloads = interactions.apply_spec(vega, chart_id)
            vega = names.resolve(vega)
            svg_text = static_svg(vega, static_width) if svg else ""  # the static image keeps white
            # On the page the chart sits on the article's own background (light or dark theme).
            vega.pop("background", None)
        except BuildError:
            raise
        except Exception as exc:
            raise BuildError(None, None, f'chart "{chart_id}" does not compile: {str(exc).splitlines()[0]} '
                             "(hint: check the Vega-Lite spec its figure returns)") from None
        vega = interactions.apply_figure(vega, figure, chart_id, names)
        self.memory[key] = (vega, svg_text, payloads)
        disk = self.directory / f"{key}.json" if self.directory else None
        if disk:
            disk.parent.mkdir(parents=True, exist_ok=True)
            tmp = disk.with_suffix(".tmp")
            tmp.write_text(json.dumps([vega, svg_text, payloads], separators=(",", ":")))
            tmp.replace(disk)
        self._remember(inputs, key)
        return CompiledChart(chart_id, vega, svg_text, payloads)

    def _remember(self, inputs: str | None, key: str) -> None:
        alias = self._alias_file(inputs) if inputs else None
        if alias:
            alias.parent.mkdir(parents=True, exist_ok=True)
            alias.write_text(key)


def register_script(name: str, value_json: str) -> str:
    """The text of a .js file that registers a value under `name` when a <script> tag loads
    it, which (unlike fetch) also works from file:// (glue.js: load)."""
    return f"(window.ARTICLE_DATA = window.ARTICLE_DATA || {{}})[{json.dumps(name)}] = {value_json};\n"


def payload_script(chart_id: str, key: str, rows) -> str:
    """A data/<chart>/<key>.js file: another run's tables, or the rows a mark loads on demand."""
    return register_script(f"{chart_id}/{key}", script_json(rows))


def svg_size(svg: str) -> tuple[str, str] | None:
    """The width and height (CSS px) written on a static SVG's root element."""
    m = re.search(r'<svg\b[^>]*?\bwidth="([\d.]+)"[^>]*?\bheight="([\d.]+)"', svg)
    return (m.group(1), m.group(2)) if m else None


def bound_signals(vega: dict) -> list[dict]:
    """The chart's signals bound to an input the page draws under it."""
    return [s for s in vega.get("signals", []) if isinstance(s.get("bind"), dict) and "input" in s["bind"]]


def bindings_html(vega: dict, limits: tuple = ()) -> str:
    """The chart's inputs as Vega draws them under the chart (a form of .vega-bind blocks), but
    disabled: the placeholder shows them so that the page does not move when the live chart,
    with its live inputs, takes its place. `limits` are the figure's (input, min, max): a fixed
    bound is set on the input here as the page sets it (a number input is as wide as its max)."""
    fixed = {name: {k: v for k, v in (("min", low), ("max", high)) if isinstance(v, (int, float))}
             for name, low, high in limits}
    blocks = []
    for s in bound_signals(vega):
        bind = s["bind"]
        name = html.escape(str(bind.get("name", s["name"])))
        value = s.get("value")
        attrs = f'name="{html.escape(s["name"])}" disabled'
        kind = bind["input"]
        if kind in ("radio", "select"):
            labels = bind.get("labels") or bind.get("options", [])
            pairs = list(zip(bind.get("options", []), labels))
            if kind == "select":
                options = "".join(f'<option value="{html.escape(str(o))}"{" selected" if o == value else ""}>'
                                  f"{html.escape(str(label))}</option>" for o, label in pairs)
                blocks.append(f'<label><span class="vega-bind-name">{name}</span><select {attrs}>{options}</select></label>')
            else:
                radios = "".join(f'<label><input type="radio" {attrs} value="{html.escape(str(o))}"'
                                 f'{" checked" if o == value else ""}>{html.escape(str(label))}</label>' for o, label in pairs)
                blocks.append(f'<span class="vega-bind-name">{name}</span><span class="vega-bind-radio">{radios}</span>')
            continue
        bounds = {**{k: bind[k] for k in ("min", "max", "step") if k in bind}, **fixed.get(s["name"], {})}
        extra = "".join(f' {k}="{html.escape(str(v))}"' for k, v in bounds.items())
        if kind == "checkbox":
            body = f'<input type="checkbox" {attrs}{" checked" if value else ""}>'
        elif kind == "range":
            shown = "" if value is None else html.escape(str(value))
            body = f'<input type="range" {attrs}{extra} value="{shown}"><span>{shown}</span>'
        else:
            shown = "" if value is None else f' value="{html.escape(str(value))}"'
            body = f'<input type="{html.escape(kind)}" {attrs}{extra}{shown}>'
        blocks.append(f'<label><span class="vega-bind-name">{name}</span>{body}</label>')
    inner = "".join(f'<div class="vega-bind">{b}</div>' for b in blocks)
    return f'<form class="vega-bindings" aria-hidden="true">{inner}</form>'


def with_narrow(wide: CompiledChart, narrow: CompiledChart) -> CompiledChart:
    """The wide chart carrying its phone layout, and the media query under which the page
    draws that one: narrower than the wide chart (a column-wide chart: its static image) plus
    PHONE_GUTTER. The narrow layout must fit a phone column and share the wide one's
    on-demand files and other runs (they are written once, from the wide chart)."""
    size = svg_size(narrow.svg) if narrow.svg else None
    if size and not fits_width(narrow.vega) and float(size[0]) > PHONE_WIDTH:
        raise BuildError(None, None, f'the narrow layout of chart "{wide.id}" is {float(size[0]):.0f} px wide; '
                                     f'a phone column is {PHONE_WIDTH} px (hint: wrap or stack its panels)')
    if fits_width(narrow.vega) != fits_width(wide.vega):
        raise BuildError(None, None, f'chart "{wide.id}" and its narrow layout must both be as wide as their column '
                                     f'(width "container"), or neither (hint: give both the same kind of width)')
    if set(narrow.payloads) != set(wide.payloads):
        raise BuildError(None, None, f'the narrow layout of chart "{wide.id}" has other on-demand data or runs than the wide one '
                         '(hint: pass it the same with_demand and with_variants tables)')
    wide_size = svg_size(wide.svg) if wide.svg else None
    over = STATIC_WIDTH if fits_width(wide.vega) or not wide_size else float(wide_size[0])
    media = f"(max-width: {int(over) + PHONE_GUTTER - 1}px)"
    return replace(wide, narrow=replace(narrow, payloads={}, media=NARROW_MARK), media=media)


def _image(chart: CompiledChart) -> tuple[str, str]:
    """The placeholder <img> of a chart, and a <source> of the same size for a <picture>."""
    size = svg_size(chart.svg) if chart.svg else None
    src = f"figures/{html.escape(chart.name)}.svg"
    if size is None:
        return f'<img src="{src}" alt="" loading="lazy">', f'srcset="{src}"'
    if fits_width(chart.vega):  # as wide as the column, as the live chart will be
        return (f'<img class="fit-x" src="{src}" alt="" loading="lazy" height="{size[1]}" style="height:{size[1]}px">',
                f'srcset="{src}" height="{size[1]}"')
    return (f'<img src="{src}" alt="" loading="lazy" width="{size[0]}" height="{size[1]}">',
            f'srcset="{src}" width="{size[0]}" height="{size[1]}"')


def placeholder_html(chart: CompiledChart, limits: tuple = ()) -> str:
    """What holds a chart's place until the page embeds it: its static image at the size the
    live chart will have, and its inputs (disabled). Without JavaScript it is the chart. A
    chart with a narrow layout shows that one's image under its media query (a <picture>),
    as the page will draw it there."""
    img, _ = _image(chart)
    if chart.narrow is not None:
        _, source = _image(chart.narrow)
        if fits_width(chart.vega):  # the height differs between the two: set by the attributes alone
            img = re.sub(r' style="height:[\d.]+px"', "", img)
        img = f'<picture><source media="{chart.media}" {source}>{img}</picture>'
    return f'<div class="chart-placeholder">{img}{bindings_html(chart.vega, limits)}</div>'


# Inline tables at least this large that two or more charts of a page carry go into the page once.
SHARE_BYTES = 20_000


def share_tables(compiled: list, also: list = ()) -> tuple[list[str], dict]:
    """The page JSON of each chart, with every inline Vega table of SHARE_BYTES or more that
    appears (by content) in two or more of the charts replaced by {"shared": key}, and the
    shared tables by key. The glue puts the values back before embedding (glue.js). The charts
    `also` (narrow layouts) use the shared tables too, but make none shared; their JSON follows
    the others' in the list returned."""
    seen: dict[str, list] = {}
    found = []
    for n, chart in enumerate([*compiled, *also]):
        tables = {}
        for i, data in enumerate(chart.vega.get("data", [])):
            if isinstance(data.get("values"), list):
                text = json.dumps(data["values"], separators=(",", ":"))
                if len(text) >= SHARE_BYTES:
                    key = hashlib.sha256(text.encode()).hexdigest()[:16]
                    tables[i] = key
                    if n < len(compiled):
                        seen.setdefault(key, []).append(chart.id)
        found.append(tables)
    shared_keys = {k for k, ids in seen.items() if len(ids) > 1}
    texts, shared = [], {}
    for chart, tables in zip([*compiled, *also], found):
        mine = {i: k for i, k in tables.items() if k in shared_keys}
        if not mine:
            texts.append(chart.json)
            continue
        data = list(chart.vega["data"])
        for i, key in mine.items():
            shared.setdefault(key, data[i]["values"])
            data[i] = {**data[i], "values": {"shared": key}}
        texts.append(script_json({**chart.vega, "data": data}))
    return texts, shared


def script_json(obj) -> str:
    """JSON safe to put inside <script type="application/json">."""
    return json.dumps(obj, separators=(",", ":")).replace("</", "<\\/")
