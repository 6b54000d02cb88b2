"""Figures: each article section has a module here that turns frozen artifacts into charts.

A module is a data loader: it exposes `figures(ctx) -> list[Figure]`, and optionally
`animations(ctx) -> list[Animation]` and `sections(ctx) -> list[Section]`, and each figure's
`make(ctx)` (and `narrow(ctx)`) returns its chart; every one of them takes the build's
BuildContext (builder.figures.context), through which it reads experiment specs and frozen
artifacts. Registration is cheap (ids, and the specs sections need); a figure's `make` runs
only when a page places it and its chart is not cached, and may train its experiment through
the freeze store if it is stale and the build allows it.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Callable

from builder.errors import BuildError
from builder.figures.context import BuildContext


@dataclass(frozen=True)
class Figure:
    id: str  # starts with its section key, e.g. "mod-top-accuracy"
    section: str  # charts of one section share one `step`
    caption: str
    description: str  # text alternative for screen readers and the no-JS image
    make: Callable[[BuildContext], object]  # the build's context -> an Altair chart, or a Vega-Lite dict (with_datasets)
    # How the chart behaves (builder.render.interactions has one class per kind: what each adds
    # to the compiled chart and to the page). scrub: the name of the mark (alt.Chart(...)
    # .properties(name=...)) along whose x scale pointer movement picks the section's step; the
    # keyboard scrubs the chart too. None: not a scrubber.
    scrub: str | None = None
    follow: bool = True  # redraw when the section's step changes (False: a scrub source only)
    hover: str | None = None  # datum field whose value hovering publishes as the `neuron` signal
    demand: str | None = None  # datum field naming the on-demand payload (with_demand) to load
    # experiment names whose specs or artifacts it reads: its chart's cache key holds their specs
    # and frozen files (and no other experiment's); reading one not named here stops the build
    sources: tuple = ()
    shares: tuple = ()  # params kept equal across the section's charts (as `step` is)
    limits: tuple = ()  # (input name, min signal, max signal): a bound slider's range follows them
    checks: tuple = ()  # callables run once per build when the figure is placed; ValueError fails it
    # (source signal, target param) pairs: the page copies each source into its target whenever
    # a source changes, all in one update. Two-way inputs need this: a Vega param cannot react
    # to a signal that depends on it (the dataflow would have a cycle).
    mirrors: tuple = ()
    # the build's context -> the chart laid out for a phone column (PHONE_WIDTH px: facets wrapped or
    # stacked, smaller cells, titles in lines), with the same params, signals and tables as
    # `make`'s; the page draws it where the wide chart would not fit (builder.render.charts)
    narrow: Callable[[BuildContext], object] | None = None
    # what each column of the figure's CSV files holds, with its unit: (column, meaning) pairs;
    # "table.column" names one table's column. Columns builder.render.tables.UNITS already
    # describes (step, split, seed, ...) need none; the build writes these into each file's header
    columns: tuple = ()
    # for a chart that computes its marks in the page from its inputs: the build's context -> the
    # tables its CSV download holds instead of the chart's (name -> rows, the first one the main
    # file), computed in Python at the inputs' default values
    data: Callable[[BuildContext], dict] | None = None


@dataclass(frozen=True)
class Animation:
    id: str
    section: str
    start: int  # first step played
    end: int  # last step played
    seconds: float = 4.0
    run: str | None = None  # a variant key (with_variants): the section shows that run first


@dataclass(frozen=True)
class Section:
    key: str
    steps: tuple  # every step a scrub can land on, ascending
    initial: int


@dataclass
class Registry:
    figures: dict = field(default_factory=dict)
    animations: dict = field(default_factory=dict)
    sections: dict = field(default_factory=dict)
    modules: dict = field(default_factory=dict)  # figure id -> the module that registered it
    facts: dict = field(default_factory=dict)  # name -> builder.facts.Fact (declared with @fact)
    claims: dict = field(default_factory=dict)  # name -> builder.facts.Claim (declared with @claim)

    def add(self, module, ctx: BuildContext) -> None:
        for value in vars(module).values():  # declared here, not imported from another module
            if getattr(value, "__module__", None) != module.__name__:
                continue
            if hasattr(value, "__fact__"):
                self._put(self.facts, value.__fact__.name, value.__fact__, module)
            if hasattr(value, "__claim__"):
                self._put(self.claims, value.__claim__.name, value.__claim__, module)
        for fig in getattr(module, "figures", lambda ctx: [])(ctx):
            self._put(self.figures, fig.id, fig, module)
            self.modules[fig.id] = module
        for anim in getattr(module, "animations", lambda ctx: [])(ctx):
            self._put(self.animations, anim.id, anim, module)
        for sec in getattr(module, "sections", lambda ctx: [])(ctx):
            self._put(self.sections, sec.key, sec, module)

    @staticmethod
    def _put(table: dict, key: str, value, module) -> None:
        if key in table:
            raise BuildError(module.__file__, None, f'id "{key}" is registered twice '
                             "(hint: figure, animation, section, fact and claim names are unique across builder/figures)")
        table[key] = value


def default_registry(ctx: BuildContext) -> Registry:
    """Every figure module in this package, registered with this build's context."""
    reg = Registry()
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.name.startswith("_") and info.name != "context":
            reg.add(importlib.import_module(f"{__name__}.{info.name}"), ctx)
    return reg


def with_datasets(chart, datasets: dict) -> dict:
    """A chart's Vega-Lite dict with large inline tables added after validation.

    Build the chart with alt.NamedData(name) for each table: Altair then validates a small
    spec, and the values (hundreds of thousands of numbers for the weight heatmaps) are attached
    as top-level `datasets` without being walked by the schema validator.
    """
    spec = chart.to_dict()
    spec.setdefault("datasets", {}).update(datasets)
    return spec


def declare(chart, key: str, values: dict) -> dict:
    """A chart's Vega-Lite dict declaring an interaction that the chart carries itself: `values`
    go under usermeta[key], which Vega-Lite passes through untouched, and the kind of
    builder.render.interactions whose `meta` is `key` applies them to the compiled chart."""
    spec = chart if isinstance(chart, dict) else chart.to_dict()
    spec.setdefault("usermeta", {}).setdefault(key, {}).update(values)
    return spec


def with_params(chart, params):
    """The chart with these params (alt.param: a value, an expression or an input) at its top
    level, where Vega-Lite wants a plain param. Use add_params where it works; Altair's fails
    (AttributeError) on a concat that holds a facet, so such a chart takes its params here."""
    chart.params = [p.param for p in params]
    return chart


def with_vega_data(chart, tables: dict) -> dict:
    """A chart's Vega-Lite dict carrying tables for Vega expressions (`data('name')[i]`).

    Vega-Lite drops datasets no mark reads, so these ride in `usermeta` and the compiler
    (builder.render.interactions.VegaData) moves them into the compiled Vega spec's `data`. Used
    by the heatmaps: their cells are a fixed sequence whose colour a formula looks up in the
    packed table for the current step, so scrubbing updates 3,216 cells in place instead of
    rebuilding them.
    """
    return declare(chart, "vegaData", tables)


def with_demand(chart, payloads: dict) -> dict:
    """A chart's Vega-Lite dict with data that loads only when the reader asks for it.

    Each payload (key -> rows) is written as data/<chart id>/<key>.js; pointing at a mark whose
    `Figure.demand` field equals a key loads that file into the chart's "demand" dataset (give
    the chart an alt.NamedData("demand") layer and a `demand` param). The first page load does
    not grow by these rows.
    """
    return declare(chart, "demand", payloads)


def with_variants(chart, variants: dict) -> dict:
    """A chart's Vega-Lite dict that can show other runs: variant key -> {"data": {table: rows},
    "signals": {name: value}}. Each variant is written as data/<chart id>/run-<key>.js; when
    the section's `run` signal (a param of this chart, kept in sync by a chart that `shares` it)
    becomes a key, the page loads that file and swaps the named tables and signals in. Every
    variant, the one drawn first included, must have a file: the reader can switch back. The
    first page load does not grow by them."""
    return declare(chart, "variants", variants)


def with_signal_handlers(chart, handlers: dict) -> dict:
    """A chart's Vega-Lite dict whose params also react to events: name -> Vega `on` handlers,
    e.g. {"a": [{"events": {"signal": "total"}, "update": "..."}]}. Vega-Lite has no `on` for
    plain params; the compiler (builder.render.interactions.SignalHandlers) adds these to the
    compiled signals."""
    return declare(chart, "signalOn", handlers)
