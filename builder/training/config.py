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

from builder.errors import BuildError, did_you_mean, read_source
from builder.paths import ROOT, content_dir
from builder.training.experiments import KINDS
from builder.training.settings import OMITTED, Setting, check_value

PROFILES = ("full", "quick")  # "full" is the table itself; other profiles are sub-tables


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
                             f"[{table}] is missing {', '.join(missing)} (hint: add a line {missing[0]} = ... to it)")
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
    if key is None and table:  # no `[table]` line: a table made by `[table.quick]` or a dotted key
        for number, line in enumerate(text.splitlines(), start=1):
            if table in line and not line.lstrip().startswith("#"):
                return number
    return None


def example(key: str, setting: Setting, value=None) -> str:
    """A hint for a wrong value: the form of a right one, or (a value of the right type that
    its check refuses) what the setting means."""
    if check_value(Setting(setting.type), value) is None and not setting.choices:
        return setting.doc or "the settings are described at the top of this file"
    kind = setting.type[5:] if setting.type.startswith("grid ") else setting.type
    if setting.choices:
        shown = f"one of {', '.join(map(repr, setting.choices))}".replace("'", '"')
        if kind == "names":
            shown = f"a list of {shown}, each at most once"
    else:
        shown = {"int": "a whole number like 24", "float": "a number like 0.001", "bool": "true or false",
                 "str": 'text in "quotes"', "seed": "a seed like 0 or a list like [0, 1, 2]",
                 "tables": "a list of tables like [{hidden = 8}, {hidden = 16}]"}[kind]
    if setting.type.startswith("grid "):
        shown += ", or a list of them (an axis of the sweep)"
    return f"{key} is {shown}" + (f"; {setting.doc}" if setting.doc else "")


def validate(table: str, values: dict, schema: dict, path: str, text: str) -> None:
    for key, value in values.items():
        if key not in schema:
            raise BuildError(path, locate(text, table, key) or locate(text, table),
                             f'unknown setting "{key}" in [{table}]' + did_you_mean(key, schema))
        problem = check_value(schema[key], value)
        if problem:
            raise BuildError(path, locate(text, table, key) or locate(text, table), f"{key} {problem} (hint: {example(key, schema[key], value)})")


def parse(text: str, path: str = "content/experiments.toml") -> dict[str, Experiment]:
    """Every experiment in the TOML text, checked against its kind's schema."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"at line (\d+)", str(e))
        line = int(m.group(1)) if m else max(1, len(text.splitlines()))  # "(at end of document)"
        message = re.sub(r"\s*\((at line \d+, column \d+|at end of document)\)", "", str(e))
        raise BuildError(path, line, f"invalid TOML: {message} "
                         '(hint: each line is key = value, text in "quotes", each experiment a [name] table)')
    experiments = {}
    for name, table in data.items():
        if not isinstance(table, dict):
            raise BuildError(path, locate(text, "", name) or 1,
                             f'"{name}" must be a table like [{name}], one per experiment '
                             f'(hint: move it under a [table] line, or write it as a line "[{name}]")')
        kind = table.get("kind")
        if not isinstance(kind, str) or kind not in KINDS:
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
                raise BuildError(path, locate(text, f"{name}.{sub}") or locate(text, name, sub) or locate(text, name),
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
                raise BuildError(path, line, f"[{table}] {message} (hint: these settings contradict each other; change one)")
        experiments[name] = experiment
    return experiments


# load() results by (path shown, text, the kinds): a build reads the table about ten times, and
# checking every sweep's grid takes ~30 ms each time. Only valid tables are remembered.
_PARSED: dict[tuple, dict[str, Experiment]] = {}


def load(root: Path = ROOT) -> dict[str, Experiment]:
    """The experiments of `root`/content/experiments.toml."""
    file = content_dir(root) / "experiments.toml"
    shown = _shown(root)
    if not file.exists():
        raise BuildError(shown, None, "file not found (it lists the experiments to train) "
                                      "(hint: restore it from git: git checkout -- content/experiments.toml)")
    text = read_source(file, shown)
    key = (shown, text, tuple((name, id(kind)) for name, kind in KINDS.items()))
    if key not in _PARSED:
        if len(_PARSED) > 16:
            _PARSED.clear()
        _PARSED[key] = parse(text, shown)
    return dict(_PARSED[key])


def get(name: str, root: Path = ROOT, at: tuple | None = None) -> Experiment:
    """One experiment by name. An unknown name is a BuildError where it was written: `at`, the
    (path, line) the caller knows (a figure module, ("command line", None)), else this file."""
    experiments = load(root)
    if name not in experiments:
        path = _shown(root)
        # the name where it was written, unless the file defines nothing: then the file is at fault
        where, line = (at if at and experiments else None) or (path, 1 if not experiments else None)
        raise BuildError(where, line, f'unknown experiment "{name}"' + did_you_mean(name, experiments)
                         + f" (hint: experiments are the [tables] of {path}, listed by python -m builder list; "
                           f"add a [{name}] table for a new one)")
    return experiments[name]


def _shown(root: Path) -> str:
    file = content_dir(root) / "experiments.toml"
    try:
        return str(file.relative_to(root))
    except ValueError:
        return str(file)
