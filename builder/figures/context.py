"""The per-build context a figure module loads its data through.

A figure module is a data loader: its `figures`, `sections`, `animations` and each figure's
`make` (and `narrow`) take one argument, a BuildContext. The context owns the loading: the
experiment specs (experiments.toml parsed once per build), the frozen artifacts (read through
builder.freeze, trained only where the build allows it) and whatever a module derives from them
(functions marked @loader). Everything it holds lives as long as the build: the Builder makes a
new context for every build, so a rebuild (`make serve`) sees the artifacts as they are now,
and no module keeps state of its own.
"""
from __future__ import annotations

import ast
import functools
import inspect
import linecache
import os
import sys
import tokenize
from pathlib import Path

from builder import paths
from builder.errors import BuildError


class BuildContext:
    """What one build reads. `train`: whether reading a stale or missing single run may train it
    (a sweep is never trained by a build); without it such a read stops the build in one line."""

    def __init__(self, root: Path = paths.ROOT, *, train: bool = True):
        self.root = Path(root)
        self.train = train
        self._experiments: dict | None = None
        self._specs: dict[str, dict] = {}
        self._artifacts: dict = {}
        self._derived: dict = {}  # (function, args) -> (value, the experiments it read)
        self.read: set[str] = set()  # experiments read since `reading` last emptied it

    def spec(self, name: str) -> dict:
        """The resolved ("full" profile) spec of experiment `name`; an unknown name is a
        BuildError where the figure code wrote it (see written_at)."""
        if name not in self._specs:
            from builder.training import config
            if self._experiments is None:
                self._experiments = config.load(self.root)
            if name not in self._experiments:
                config.get(name, self.root, at=written_at(name))  # raises: the one-line error
            self._specs[name] = self._experiments[name].resolve("full")
        self.read.add(name)
        return self._specs[name]

    def artifact(self, name: str):
        """The frozen artifact of experiment `name` (a builder.freeze.Frozen), loaded once per
        build. A stale or missing single run is trained when this build may train, else it is a
        BuildError at its table in experiments.toml; a sweep gives its finished runs
        (builder.freeze.load_sweep), never trained here: one with no run trained for its
        current settings is a BuildError naming `make train NAME=...` (whether a figure may
        draw a partly trained one is the Builder's check, Figure.partial)."""
        if name not in self._artifacts:
            from builder import freeze
            from builder.training import config
            spec = self.spec(name)
            if spec["kind"] == "sweep":
                frozen = freeze.load_sweep(name, root=self.root)
                if frozen.manifest["runs_done"] == 0:  # nothing to draw: never trained, or trained with other settings
                    raise freeze.unfinished_sweep(name, self.root, freeze.sweep_status(name, root=self.root))
            elif self.train:
                frozen = freeze.ensure(name, root=self.root)
            else:
                frozen = freeze.read(name, freeze.artifact_dir(name, self.root), freeze.spec_key(spec))
                if frozen is None:
                    experiment = config.get(name, self.root)
                    raise BuildError(experiment.path, config.locate(experiment.text, name),
                                     f'[{name}] has no frozen artifact for these settings, and this build does not '
                                     f"train (hint: make train NAME={name}, or make site, trains it)")
            self._artifacts[name] = frozen
        self.read.add(name)
        return self._artifacts[name]

    def current(self, name: str):
        """The frozen artifact of single-run experiment `name` when it exists and matches its
        spec, else None: never trains and never fails (for registration, which must stay cheap:
        an animation's range that follows the run, with a default when there is no run yet)."""
        if name not in self._artifacts:
            from builder import freeze
            spec = self.spec(name)
            if spec["kind"] == "sweep":
                return None
            frozen = freeze.read(name, freeze.artifact_dir(name, self.root), freeze.spec_key(spec))
            if frozen is None:
                return None
            self._artifacts[name] = frozen
        return self._artifacts[name]

    def reading(self) -> set[str]:
        """Start noting the experiments read (a figure's make about to run); the set it fills."""
        self.read = set()
        return self.read

    def derived(self, fn, args: tuple, make):
        """`make()` the first time `fn` is asked for with these arguments in this build; the same
        value after (see `loader`). Either way the experiments it read count as read."""
        key = (fn.__module__, fn.__qualname__, args)
        if key not in self._derived:
            outer, self.read = self.read, set()
            try:
                value = make()
            finally:
                inner, self.read = self.read, outer
            self._derived[key] = (value, inner)
        value, read = self._derived[key]
        self.read |= read
        return value

    def persisted(self, fn, args: tuple, sources: tuple, make):
        """`make()`, kept on disk (.cache/loaders/) under a key of the code it may run (the
        figure modules and builder/analysis), its arguments, and the specs and frozen manifests
        of `sources`: a later build (a new process) reads it back instead of computing it again."""
        import hashlib
        import pickle

        from builder import freeze
        from builder.training.experiments import spec_key

        digest = hashlib.sha256(repr((fn.__module__, fn.__qualname__, args)).encode())
        package = Path(__file__).parent.parent  # the loader's own module, the figures it may call, the analysis
        code = sorted({Path(inspect.getsourcefile(fn)), *(package / "figures").glob("*.py"), *(package / "analysis").glob("*.py")})
        for file in code:
            digest.update(file.read_bytes())
        for name in sources:
            digest.update(spec_key(self.spec(name)).encode())
            manifest = freeze.artifact_dir(name, self.root) / "manifest.json"
            digest.update(manifest.read_bytes() if manifest.exists() else b"missing")
        file = paths.cache_dir(self.root) / "loaders" / f"{fn.__module__}.{fn.__qualname__}-{digest.hexdigest()[:20]}.pkl"
        try:
            return pickle.loads(file.read_bytes())
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError):
            pass
        value = make()
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            tmp = file.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
            os.replace(tmp, file)
        except OSError:
            pass  # a read-only checkout still builds, computing it each time
        return value


def written_at(name: str) -> tuple[str, int] | None:
    """(file, line) where the code asking for experiment `name` wrote it, as a string literal: a
    calling line (innermost first), else the first in a calling file (`EXPERIMENT = "..."`),
    else in a figure module (the Builder reads a Figure's sources, not its module), else None."""
    frames, frame = [], sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename != __file__:
            frames.append((frame.f_code.co_filename, frame.f_lineno))
        frame = frame.f_back
    for file, number in frames:
        if number in _literal_lines(file, name):
            return _shown(file), number
    for file in dict.fromkeys([f for f, _ in frames] + sorted(str(f) for f in Path(__file__).parent.glob("*.py"))):
        lines = _literal_lines(file, name)
        if lines:
            return _shown(file), lines[0]
    return None


def _literal_lines(file: str, text: str) -> list[int]:
    """The lines of a Python file where a string literal whose value is `text` starts."""
    found = []
    try:
        for tok in tokenize.generate_tokens(iter(linecache.getlines(file)).__next__):
            if tok.type == tokenize.STRING and tok.string.strip("\"'") == text \
                    and ast.literal_eval(tok.string) == text:
                found.append(tok.start[0])
    except (tokenize.TokenError, SyntaxError, ValueError):
        pass
    return found


def _shown(file: str) -> str:
    path = Path(file)
    return str(path.relative_to(paths.ROOT) if path.is_relative_to(paths.ROOT) else path)


def loader(fn=None, *, persist: tuple | bool = False):
    """Mark `fn(ctx, *args)` as a loader: its value is computed once per build and context,
    and kept by the context (not by the module), e.g. a run's arrays reduced to what a section
    draws. `persist=(experiment, ...)`: for an expensive loader, also kept on disk between
    builds, keyed by those experiments (which must be all it reads) and the code
    (BuildContext.persisted); `persist=True` for one that reads no experiment (a simulation)."""
    if fn is None:
        return lambda f: loader(f, persist=persist)

    @functools.wraps(fn)
    def load(ctx: BuildContext, *args):
        if persist is not False:
            sources = () if persist is True else tuple(persist)
            return ctx.derived(fn, args, lambda: ctx.persisted(fn, args, sources, lambda: fn(ctx, *args)))
        return ctx.derived(fn, args, lambda: fn(ctx, *args))
    return load
