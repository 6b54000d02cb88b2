"""Every kind of chart interaction, each declared once: how a figure asks for it, what it adds to
the compiled Vega spec, and what it adds to the chart's entry in the page data (which the glue,
static/glue.js, reads). A kind is declared either by a `Figure` field (`field`) or on the chart
itself, under a key of its Vega-Lite `usermeta` (`meta`, written by builder.figures.declare).

Adding a kind: a class here (listed in KINDS) and the page's side of it in glue.js.

Expressions a kind adds may name a chart's scales symbolically, `@tiles.x` (the x scale of the
mark the figure named "tiles"), through `names` (builder.render.charts.Names).
"""
from __future__ import annotations

import json
import re

from builder.errors import BuildError

SAFE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
VARIANT = "run-"  # payload keys of with_variants; the page loads them when `run` changes


def _named(items, name: str) -> dict | None:
    """The Vega signal (or dataset) called `name`, or None."""
    return next((item for item in items if item.get("name") == name), None)


class Kind:
    """One kind of interaction. `field`: the Figure field that declares it; `meta`: the key of
    the chart's usermeta that declares it (either may be None)."""
    field: str | None = None
    meta: str | None = None

    def value(self, fig, steps):
        """(`field` kinds) What the compiler needs of the figure: its field (see figure_values)."""
        return getattr(fig, self.field)

    def spec(self, vega: dict, value, chart_id: str, payloads: dict) -> None:
        """(`meta` kinds) Change the compiled spec before its static image is drawn; files the
        page loads later go into `payloads` (key -> rows). A ValueError: the chart does not compile."""

    def compile(self, vega: dict, value, chart_id: str, names) -> None:
        """(`field` kinds) Add what a reader's pointer does to the compiled spec, after its
        static image is drawn. `value`: the Figure field (see figure_values)."""

    def page(self, fig, chart) -> dict:
        """The entries this kind adds to the chart's page data (glue.js: page.charts[id])."""
        return {}

    def params(self, fig) -> set:
        """The params of a chart that the page sets (a narrow layout must have them too)."""
        return set()


class Scrub(Kind):
    """Pointer movement over the chart sets the section's `step` to the nearest step: x is
    inverted through the x scale of the mark the figure names (Figure.scrub) and snapped with a
    threshold scale. Keyboard scrubbing and the slider role are the page's (glue.js, markdown)."""
    field = "scrub"

    def value(self, fig, steps):
        return (fig.scrub, tuple(steps)) if fig.scrub else None

    def compile(self, vega, value, chart_id, names):
        mark, steps = value
        step = _named(vega.get("signals", []), "step")
        if step is None:
            raise BuildError(None, None, f'scrub chart "{chart_id}" has no `step` param (hint: alt.param(name="step", value=...))')
        if not isinstance(mark, str):
            raise BuildError(None, None, f'scrub chart "{chart_id}": Figure.scrub must name the mark it scrubs along, not {mark!r} '
                             '(hint: Figure(..., scrub="rule") and alt.Chart(...).properties(name="rule"))')
        x = names.scale(mark, "x")
        steps = list(steps)
        mids = [(a + b) / 2 for a, b in zip(steps, steps[1:])]
        vega["scales"].append({"name": "step_snap", "type": "threshold", "domain": mids, "range": steps})
        expr = f"scale('step_snap', clamp(invert('{x}', x()), domain('{x}')[0], domain('{x}')[1]))"
        step["on"] = [{"events": "pointermove, pointerdown", "update": expr}]

    def page(self, fig, chart):
        return {"scrub": bool(fig.scrub)}

    def params(self, fig):
        return {"step"}


class Follow(Kind):
    """Whether the chart redraws when its section's step changes (False: a scrub source only)."""
    field = "follow"

    def page(self, fig, chart):
        return {"follow": fig.follow}


class Hover(Kind):
    """Hovering (or tapping) a mark whose datum has the field sets the `neuron` signal (-1 when
    none); the mouse leaving the chart clears it, a finger lifting does not (touch fires
    pointerout right after the tap). The page shares `neuron` across the section."""
    field = "hover"

    def compile(self, vega, value, chart_id, names):
        signal = _named(vega.get("signals", []), "neuron")
        if signal is None:
            raise BuildError(None, None, f'hover chart "{chart_id}" has no `neuron` param (hint: alt.param(name="neuron", value=-1))')
        pick = f"datum && isValid(datum[{json.dumps(value)}]) ? datum[{json.dumps(value)}] : -1"
        signal["on"] = [{"events": "pointermove, touchstart", "update": pick},
                        {"events": "pointerout[event.pointerType !== 'touch']", "update": "-1"}]

    def params(self, fig):
        return {"neuron"}


class Demand(Kind):
    """Data loaded when the reader asks for it: the chart carries payloads (with_demand, written
    as data/<chart>/<key>.js), and pointing at (or tapping) a mark whose datum has the field
    (Figure.demand) sets the `demand` signal to that key; the page then loads that file into
    the chart's `demand` dataset."""
    field = meta = "demand"

    def spec(self, vega, value, chart_id, payloads):
        bad = [k for k in value if not SAFE_KEY.match(k)]
        if bad:
            raise BuildError(None, None, f'on-demand chart "{chart_id}": key "{bad[0]}" must use only letters, digits, - and _ '
                             '(hint: it names a file, data/<chart>/<key>.js)')
        payloads.update(value)

    def compile(self, vega, value, chart_id, names):
        signal = _named(vega.get("signals", []), "demand")
        if signal is None or _named(vega.get("data", []), "demand") is None:
            raise BuildError(None, None, f'on-demand chart "{chart_id}" needs a `demand` param and an alt.NamedData("demand") layer '
                             '(hint: see with_demand in builder/figures)')
        keep = f"datum && isValid(datum[{json.dumps(value)}]) ? '' + datum[{json.dumps(value)}] : demand"
        signal["on"] = [{"events": "pointermove, pointerdown, touchstart", "update": keep}]

    def params(self, fig):
        return {"demand"}


class VegaData(Kind):
    """Tables for Vega expressions (`data('name')[i]`), which Vega-Lite would drop because no
    mark reads them (with_vega_data): put first in the compiled spec's `data`."""
    meta = "vegaData"

    def spec(self, vega, value, chart_id, payloads):
        vega["data"] = [{"name": k, "values": v} for k, v in value.items()] + vega.get("data", [])


class SignalHandlers(Kind):
    """Vega `on` handlers for plain params, which Vega-Lite has no way to say (with_signal_handlers)."""
    meta = "signalOn"

    def spec(self, vega, value, chart_id, payloads):
        for name, on in value.items():
            signal = _named(vega.get("signals", []), name)
            if signal is None:
                raise ValueError(f'signal handlers for "{name}", which is not a param of the chart')
            signal["on"] = signal.get("on", []) + on


class Shares(Kind):
    """Params kept equal across the section's charts, as `step` is (the page copies them)."""
    field = "shares"

    def page(self, fig, chart):
        return {"shares": list(fig.shares)}

    def params(self, fig):
        return set(fig.shares)


class Limits(Kind):
    """(input name, min, max): a bound input's range follows signals (or fixed numbers)."""
    field = "limits"

    def page(self, fig, chart):
        return {"limits": [list(lim) for lim in fig.limits]}

    def params(self, fig):
        return {n for lim in fig.limits for n in lim if isinstance(n, str)}


class Mirrors(Kind):
    """(source signal, target param): the page copies each source into its target in one update."""
    field = "mirrors"

    def page(self, fig, chart):
        return {"mirrors": [list(m) for m in fig.mirrors]}

    def params(self, fig):
        return {n for m in fig.mirrors for n in m}


class Variants(Kind):
    """Other runs the chart can show (with_variants): each swaps tables and signals the compiled
    chart has, is written as data/<chart>/run-<key>.js, and is loaded when `run` becomes its key."""
    meta = "variants"

    def spec(self, vega, value, chart_id, payloads):
        if _named(vega.get("signals", []), "run") is None:
            raise ValueError("a chart with variants needs a `run` param")
        for key, variant in value.items():
            if not SAFE_KEY.match(key):
                raise ValueError(f'variant key "{key}" must use only letters, digits, - and _')
            for kind, items in (("data", vega.get("data", [])), ("signals", vega.get("signals", []))):
                missing = [name for name in variant.get(kind, {}) if _named(items, name) is None]
                if missing:
                    raise ValueError(f'variant "{key}" swaps {kind} "{missing[0]}", which the compiled chart does not have')
        payloads.update({VARIANT + key: v for key, v in value.items()})

    def page(self, fig, chart):
        return {"variants": chart.has_variants}

    def params(self, fig):
        return {"run"}


# In this order: the page data keeps its keys' order, and the spec steps build on each other
# (variants swap tables that VegaData has put in; on-demand files come before the runs').
KINDS = (Scrub(), Follow(), Hover(), Demand(), VegaData(), SignalHandlers(), Shares(), Limits(), Mirrors(), Variants())


def figure_values(fig, steps=None) -> dict:
    """What the compiler needs of a figure's fields (for the kinds that change the compiled
    spec): field -> value, None where the figure does not use the kind. A scrub's value is the
    mark it scrubs along and the section's steps."""
    return {kind.field: kind.value(fig, steps) for kind in KINDS
            if kind.field and type(kind).compile is not Kind.compile}


def apply_spec(vega: dict, chart_id: str) -> tuple[dict, dict]:
    """The `meta` kinds the chart declares in its usermeta, applied: (vega, payloads)."""
    meta = vega.get("usermeta") or {}
    declared = {kind: meta.pop(kind.meta) for kind in KINDS if kind.meta and kind.meta in meta}
    if not meta:
        vega.pop("usermeta", None)
    payloads: dict = {}
    for kind, value in declared.items():
        if value:
            kind.spec(vega, value, chart_id, payloads)
    return vega, payloads


def apply_figure(vega: dict, values: dict, chart_id: str, names) -> dict:
    """The `field` kinds the figure declares (figure_values), applied to its compiled spec."""
    for kind in KINDS:
        if kind.field in values and values[kind.field] is not None:
            kind.compile(vega, values[kind.field], chart_id, names)
    return vega


def page_entry(fig, chart, tables: dict) -> dict:
    """The chart's entry in the page data: its section, what each kind adds, the shared tables it
    loads (`tables`: chart file name -> keys) and its narrow layout's."""
    entry = {"section": fig.section}
    for kind in KINDS:
        entry.update(kind.page(fig, chart))
    entry["tables"] = tables.get(chart.name, [])
    if chart.narrow is not None:
        entry["narrow"] = {"media": chart.media, "tables": tables.get(chart.narrow.name, [])}
    return entry


def page_params(fig) -> set:
    """Every param of the figure's chart that the page sets (step, neuron, run, demand, the
    shared, mirrored and limiting ones): a narrow layout must have those the wide one has."""
    return set().union(*(kind.params(fig) for kind in KINDS))
