"""content/experiments.toml: read it, check every value, report mistakes as `path:line: message`.

Each top-level table is one experiment; `kind` picks its schema (builder.training.experiments).
A sub-table named after a profile (`[mod-top.quick]`) overrides values for that profile only.
tomllib gives no line numbers, so `locate` finds a table's or key's line in the text itself.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from builder.errors import BuildError, closest, did_you_mean, read_source
from builder.paths import ROOT, content_dir

PROFILES = ("full", "quick")  # "full" is the table itself; other profiles are sub-tables
OMITTED = "<omitted>"  # a Setting default: left out of the resolved spec unless given


@dataclass(frozen=True)
class Setting:
    """One key of a schema: its type, default (None means required) and an optional check."""
    type: str  # "int", "float", "bool", "str", "seed" (an int or a list of ints);
    # "grid T": a sweep setting, one T or a list of T (an axis of the grid); "tables": a list of tables
    default: object = None
    check: object = None  # value -> error message or None
    choices: tuple = ()
    doc: str = ""


@dataclass(frozen=True)
class Experiment:
    name: str
    kind: str
    values: dict  # the full profile, as written
    profiles: dict = field(default_factory=dict)  # profile -> its overrides
    path: str = "content/experiments.toml"
    text: str = ""

    def resolve(self, profile: str = "full") -> dict:
        """All settings of one profile, defaults filled in: the spec that is hashed and trained."""
        from builder.training.experiments import KINDS
        if profile not in PROFILES:
            raise BuildError(self.path, None, f'unknown profile "{profile}"'
                             + did_you_mean(profile, PROFILES))
        schema = KINDS[self.kind].settings(self.values)
        spec = {key: s.default for key, s in schema.items() if s.default is not OMITTED}
        spec.update(self.values)
        spec.update(self.profiles.get(profile, {}))
        missing = [key for key, value in spec.items() if value is None]
        if missing:
            table = self.name if profile == "full" else f"{self.name}.{profile}"
            raise BuildError(self.path, locate(self.text, table),
                             f"[{table}] is missing {', '.join(missing)}")
        spec["kind"] = self.kind
        return dict(sorted(spec.items()))


def locate(text: str, table: str, key: str | None = None) -> int | None:
    """1-based line of `[table]`, or of `key = ...` inside that table; None if not found."""
    current = None
    header = re.compile(r"^\s*\[\s*([^\]\s]+)\s*\]")
    for number, line in enumerate(text.splitlines(), start=1):
        m = header.match(line)
        if m:
            current = m.group(1).replace('"', "")
            if key is None and current == table:
                return number
            continue
        if key is not None and current == table:
            m = re.match(r'^\s*"?([A-Za-z0-9_-]+)"?\s*=', line)
            if m and m.group(1) == key:
                return number
    return None


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
        "tables": isinstance(value, list) and len(value) > 0 and all(isinstance(v, dict) and v for v in value),
    }[kind]
    if not ok:
        wanted = {"int": "an integer", "float": "a number", "bool": "true or false",
                  "str": "a string", "seed": "an integer or a list of integers",
                  "tables": "a list of tables like [{key = value}, ...]"}[kind]
        return f"must be {wanted}, not {value!r}"
    if setting.choices and value not in setting.choices:
        return f"must be one of {', '.join(map(repr, setting.choices))}, not {value!r}" + (
            did_you_mean(value, setting.choices) if isinstance(value, str) else "")
    if setting.check is not None:
        return setting.check(value)
    return None


def validate(table: str, values: dict, schema: dict, path: str, text: str) -> None:
    for key, value in values.items():
        if key not in schema:
            raise BuildError(path, locate(text, table, key),
                             f'unknown setting "{key}" in [{table}]' + did_you_mean(key, schema))
        problem = check_value(schema[key], value)
        if problem:
            raise BuildError(path, locate(text, table, key), f"{key} {problem}")


def parse(text: str, path: str = "content/experiments.toml") -> dict[str, Experiment]:
    """Every experiment in the TOML text, checked against its kind's schema."""
    from builder.training.experiments import KINDS
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"at line (\d+)", str(e))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e))
        raise BuildError(path, int(m.group(1)) if m else None, f"invalid TOML: {message}")
    experiments = {}
    for name, table in data.items():
        if not isinstance(table, dict):
            raise BuildError(path, locate(text, "", name) or 1,
                             f'"{name}" must be a table like [{name}], one per experiment')
        kind = table.get("kind")
        if kind not in KINDS:
            line = locate(text, name, "kind") or locate(text, name)
            shown = "missing kind" if kind is None else f'unknown kind "{kind}"'
            raise BuildError(path, line, f"[{name}]: {shown}" + did_you_mean(str(kind), KINDS))
        values = {k: v for k, v in table.items() if k != "kind" and not isinstance(v, dict)}
        schema = KINDS[kind].settings(values)
        profiles = {}
        for sub, overrides in table.items():
            if not isinstance(overrides, dict):
                continue
            if sub not in PROFILES or sub == "full":
                raise BuildError(path, locate(text, f"{name}.{sub}"),
                                 f'unknown profile [{name}.{sub}]'
                                 + did_you_mean(sub, [p for p in PROFILES if p != "full"]))
            validate(f"{name}.{sub}", overrides, schema, path, text)
            profiles[sub] = overrides
        validate(name, values, schema, path, text)
        experiment = Experiment(name, kind, values, profiles, path, text)
        for profile in PROFILES:  # settings that are only wrong together
            problem = KINDS[kind].check(experiment.resolve(profile))
            if problem:
                key, message = problem
                table = name if profile == "full" or key not in profiles.get(profile, {}) \
                    else f"{name}.{profile}"
                line = locate(text, table, key) or locate(text, table)
                raise BuildError(path, line, f"[{table}] {message}")
        experiments[name] = experiment
    return experiments


def load(root: Path = ROOT) -> dict[str, Experiment]:
    """The experiments of `root`/content/experiments.toml."""
    file = content_dir(root) / "experiments.toml"
    shown = _shown(root)
    if not file.exists():
        raise BuildError(shown, None, "file not found (it lists the experiments to train) "
                                      "(hint: restore it from git: git checkout -- content/experiments.toml)")
    return parse(read_source(file, shown), shown)


def get(name: str, root: Path = ROOT) -> Experiment:
    """One experiment by name. An unknown name is a BuildError at the table of the nearest
    name (a misspelt or renamed table), else at the end of the file (where one adds a table)."""
    experiments = load(root)
    if name not in experiments:
        path = _shown(root)
        text = read_source(content_dir(root) / "experiments.toml", path)
        near = closest(name, experiments)
        if near:
            raise BuildError(path, locate(text, near[0]),
                             f'no experiment "{name}": the article reads it; [{near[0]}] is the nearest table '
                             f'(hint: if [{near[0]}] was [{name}], rename it back; else add a [{name}] table)')
        raise BuildError(path, max(1, len(text.splitlines())),
                         f'no experiment "{name}": the article reads it' + did_you_mean(name, experiments)
                         + f' (hint: add a [{name}] table with its kind and settings)')
    return experiments[name]


def _shown(root: Path) -> str:
    file = content_dir(root) / "experiments.toml"
    try:
        return str(file.relative_to(root))
    except ValueError:
        return str(file)
