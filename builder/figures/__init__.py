"""Figures: each article section has a module here that turns frozen artifacts into charts.

A module exposes `figures() -> list[Figure]`, and optionally `animations() -> list[Animation]`
and `sections() -> list[Section]`. Registration is cheap (ids only); a figure's `make()` runs only
when a page places it, and may train its experiment through the freeze store if it is stale.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Callable

from builder.errors import BuildError


@dataclass(frozen=True)
class Figure:
    id: str  # starts with its section key, e.g. "mod-top-accuracy"
    section: str  # charts of one section share one `step`
    caption: str
    description: str  # text alternative for screen readers and the no-JS image
    make: Callable[[], object]  # -> an Altair chart (top-level)
    scrub: bool = False  # pointer/keyboard on this chart sets the section's step
    sources: tuple = ()  # freeze-store experiment names whose artifacts it reads


@dataclass(frozen=True)
class Animation:
    id: str
    section: str
    start: int  # first step played
    end: int  # last step played
    seconds: float = 4.0


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

    def add(self, module) -> None:
        for fig in getattr(module, "figures", lambda: [])():
            self._put(self.figures, fig.id, fig, module)
        for anim in getattr(module, "animations", lambda: [])():
            self._put(self.animations, anim.id, anim, module)
        for sec in getattr(module, "sections", lambda: [])():
            self._put(self.sections, sec.key, sec, module)

    @staticmethod
    def _put(table: dict, key: str, value, module) -> None:
        if key in table:
            raise BuildError(module.__file__, None, f'id "{key}" is registered twice')
        table[key] = value


def default_registry() -> Registry:
    """Every figure module in this package."""
    reg = Registry()
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            reg.add(importlib.import_module(f"{__name__}.{info.name}"))
    return reg
