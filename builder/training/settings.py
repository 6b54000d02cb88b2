"""The vocabulary of experiment schemas: a Setting (type, default, check) and check_value.

builder.training.experiments declares each kind's settings with it, and builder.training.config
checks experiments.toml against them; neither imports the other for these.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from builder.errors import did_you_mean

OMITTED = "<omitted>"  # a Setting default: left out of the resolved spec unless given
INT64 = (-(2 ** 63), 2 ** 63 - 1)  # TOML's integers (tomllib reads larger ones too)


@dataclass(frozen=True)
class Setting:
    """One key of a schema: its type, default (None means required) and an optional check."""
    type: str  # "int", "float", "bool", "str", "seed" (an int or a list of ints);
    # "names": a list of distinct strings, each one of `choices`;
    # "grid T": a sweep setting, one T or a list of T (an axis of the grid); "tables": a list of tables
    default: object = None
    check: object = None  # value -> error message or None
    choices: tuple = ()
    doc: str = ""


def check_value(setting: Setting, value) -> str | None:
    """Why `value` is not valid for `setting`, or None when it is."""
    kind = setting.type
    if kind.startswith("grid "):  # a sweep setting: one value, or a list of values (an axis)
        values = value if isinstance(value, list) else [value]
        if not values:
            return "must not be an empty list"
        inner = Setting(kind[5:], setting.default, setting.check, setting.choices, setting.doc)
        for one in values:
            problem = check_value(inner, one)
            if problem:
                return problem if len(values) == 1 else f"values {problem}"
        return None
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
        "seed": (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, list) and len(value) > 0
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)),
        "names": isinstance(value, list) and len(value) > 0 and all(isinstance(v, str) for v in value),
        "tables": isinstance(value, list) and len(value) > 0 and all(isinstance(v, dict) and v for v in value),
    }[kind]
    if not ok:
        wanted = {"int": "an integer", "float": "a number", "bool": "true or false",
                  "str": "a string", "seed": "an integer or a list of integers",
                  "names": 'a non-empty list of names like ["a", "b"]',
                  "tables": "a list of tables like [{key = value}, ...]"}[kind]
        return f"must be {wanted}, not {value!r}"
    if kind == "float" and not (abs(value) < 1e308 if isinstance(value, int) else math.isfinite(value)):
        return f"must be a finite number, not {value!r}"
    if kind in ("int", "seed") and any(not INT64[0] <= v <= INT64[1] for v in (value if isinstance(value, list) else [value])):
        return f"must fit in 64 bits, not {value!r}"
    for one in value if kind == "names" else [value]:
        if setting.choices and one not in setting.choices:
            return f"must be one of {', '.join(map(repr, setting.choices))}, not {one!r}" + (
                did_you_mean(one, setting.choices) if isinstance(one, str) else "")
    if kind == "names" and len(set(value)) < len(value):
        return f"names {value!r} more than once"
    if setting.check is not None:
        return setting.check(value)
    return None
