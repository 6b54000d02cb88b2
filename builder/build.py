"""The build: content/ (+ frozen artifacts) -> a temporary directory -> checked -> site/.

Any BuildError leaves the previous site/ exactly as it was.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import gzip
import hashlib
import inspect
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from builder import facts, owned, paths
from builder.bib import load_bibliography
from builder.errors import BuildError, cut, did_you_mean, read_source
from builder.figures import Registry, default_registry
from builder.figures.context import BuildContext
from builder.markdown import Document, make_parser, render_markdown
from builder.render import page
from builder.render.assets import write_assets
from builder.render import interactions
from builder.render.charts import VERSION as CHARTS_VERSION
from builder.render.charts import (NARROW, PHONE_WIDTH, ChartCache, CompiledChart, register_script, script_json, share_tables,
                                   with_narrow)
from builder.render import tables as csv_tables
from builder.render.links import check_links

TEMPLATES = Path(__file__).parent / "render" / "templates"


@dataclass
class BuildReport:
    pages: list = field(default_factory=list)
    charts: int = 0
    seconds: float = 0.0
    cache_hits: int = 0
    cache_misses: int = 0
    drift: list = field(default_factory=list)  # "path:line: written X, the data says Y" per stale fallback


class Builder:
    """Orchestrates a build: reads the content, makes a BuildContext, compiles the placed
    figures (or finds them cached), has builder.render.page render each page, checks the links
    and swaps the result in. Holds what can be reused between builds (serve mode): parser,
    templates, compiled charts."""

    def __init__(self, root: Path = paths.ROOT, registry: Registry | None = None, cache: Path | None = None,
                 train: bool = True, phase=None):
        """`registry`: the figures (default: builder/figures, registered anew with each build's
        context); `cache`: where compiled charts and the Vega bundle are kept (default
        ROOT/.cache); `train`: whether a figure reading a stale single run may train it;
        `phase(message)`: told what the build is doing as it goes (`make serve` prints it)."""
        self.root = Path(root)
        self.phase = phase or (lambda message: None)
        self.given = registry
        self.registry = registry  # the registry of the latest build
        self.train = train
        self.cache_dir = Path(cache) if cache else paths.cache_dir(self.root)
        self.charts = ChartCache(self.cache_dir / "charts")
        self.compiled: dict[str, CompiledChart] = {}  # figure id -> chart, kept between builds
        self.seconds: dict[str, float] = {}  # figure id -> time its last making took (make bench)
        self.compiled_keys: dict[str, tuple] = {}  # figure id -> the chart keys it was compiled under
        self.ctx: BuildContext | None = None  # the latest build's context
        self.artifacts: dict[str, str] = {}  # frozen file -> its verified sha256, per build
        self.code: dict[str, str] = {}  # source file -> sha256, as first read by this Builder (see _file_digest)
        self.code_key: str | None = None  # see _code_digest, per build
        self.source_states: dict[str, dict] = {}  # see _source_state, per build
        self.sweep_states: dict = {}  # see _sweep_status, per build
        self.shared_memo: dict = {}  # see _shared
        self.checks_done: set = set()  # see _run_checks
        self.csv_memo: dict = {}  # figure id -> (chart, commit, its CSV files), see _csvs
        self.md = make_parser()
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=jinja2.select_autoescape(["html", "j2"]),
        )

    # -- the chart cache key --------------------------------------------------------------
    def _file_digest(self, file: Path) -> str:
        """sha256 of a source file as this Builder first read it. Code is not reloaded while a
        process runs (`make serve` restarts its build process), so the key follows the code that runs."""
        name = str(file)
        if name not in self.code:
            self.code[name] = hashlib.sha256(file.read_bytes() if file.is_file() else b"(none)").hexdigest()
        return self.code[name]

    def _portable(self, file) -> str:
        """A source file's name in a chart key: relative to the project root, else to the
        builder's checkout, else its bare name; never an absolute path, so a checkout moved or
        copied elsewhere keeps its keys (and its cached charts)."""
        path = Path(file)
        for base in (self.root, paths.ROOT):
            for a, b in ((path, base), (path.resolve(), base.resolve())):
                if a.is_relative_to(b):
                    return a.relative_to(b).as_posix()
        return path.name

    def _code_digest(self, reg: Registry) -> str:
        """The builder's code and pinned packages, less the figure modules (each figure's key
        holds its own module's source): a change to any of them changes every chart key."""
        if self.code_key is None:
            package = Path(__file__).parent
            own = {f for m in reg.modules.values() for f in _module_files(m, reg)}
            h = hashlib.sha256(CHARTS_VERSION.encode())
            for f in [*sorted(package.rglob("*.py")), package.parent / "pyproject.toml"]:  # pyproject: the pinned Altair, ...
                digest = self._file_digest(f)  # every file, the figure modules too: read while the code is as it was loaded
                if str(f) not in own:
                    h.update(f"{f.relative_to(package.parent)}:{digest}\n".encode())
            self.code_key = h.hexdigest()
        return self.code_key

    def _source_state(self, name: str) -> dict:
        """What a declared source experiment contributes to a key: its resolved spec, its
        manifest and the sha256 of each of its frozen files as this build verified them."""
        if name not in self.source_states:
            from builder import freeze
            folder = freeze.artifact_dir(name, self.root)
            shown = str(folder.relative_to(self.root)) if folder.is_relative_to(self.root) else str(folder)
            manifest = folder / "manifest.json"
            self.source_states[name] = {
                "spec": self.ctx.spec(name),
                "manifest": hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.is_file() else None,
                "files": {f: s for f, s in sorted(self.artifacts.items()) if f.startswith(shown + "/")}}
        return self.source_states[name]

    def _chart_key(self, fig, steps, narrow: bool = False) -> str | None:
        """The key of one layout of a figure's chart, from what it declares it is made of: the
        builder's code, the figure's module (and the figure modules it uses), its id and the
        fields that shape its compiled chart, the steps it scrubs, and its declared `sources`
        (their specs and frozen files; no other experiment's). None when the module has no
        source file, so the figure is always made."""
        reg = self.registry
        module = reg.modules.get(fig.id)
        files = _module_files(module, reg) if module is not None else []
        if not files:
            return None
        parts = {
            "code": self._code_digest(reg),
            "modules": {self._portable(f): self._file_digest(Path(f)) for f in files},
            "figure": fig.id + (NARROW if narrow else ""),
            "behaviour": interactions.figure_values(fig, steps),  # what the compiler takes of the figure
            "sources": {name: self._source_state(name) for name in fig.sources},
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()

    # -- charts ---------------------------------------------------------------------------
    def _compile(self, fig) -> CompiledChart:
        """The figure's compiled chart; kept by this Builder while its keys stay the same (a
        prose edit reuses it), and not made at all when an earlier build compiled it from the
        same inputs."""
        reg = self.registry
        if fig.scrub and fig.section not in reg.sections:
            raise BuildError(*_source_of(fig.make), f'figure "{fig.id}" scrubs section "{fig.section}", which is not registered '
                             f'(hint: return a Section("{fig.section}", ...) from its module\'s sections(ctx))')
        steps = reg.sections[fig.section].steps if fig.scrub else None
        keys = (self._chart_key(fig, steps), self._chart_key(fig, steps, narrow=True) if fig.narrow else None)
        if fig.id in self.compiled and keys[0] is not None and self.compiled_keys.get(fig.id) == keys:
            return self.compiled[fig.id]
        t0 = time.perf_counter()
        chart = self._compile_layout(fig, fig.make, steps, keys[0])
        if fig.narrow is not None:
            narrow = self._compile_layout(fig, fig.narrow, steps, keys[1], static_width=PHONE_WIDTH)
            _check_same_params(fig, chart, narrow)
            chart = with_narrow(chart, narrow)
        self.seconds[fig.id] = time.perf_counter() - t0
        self.compiled[fig.id] = chart
        self.compiled_keys[fig.id] = keys
        return chart

    def _compile_layout(self, fig, make, steps, key: str | None, **options) -> CompiledChart:
        """One layout of a figure (`make` or `narrow`) compiled, or found in the cache under `key`."""
        hit = self.charts.cached(fig.id, key) if key else None
        if hit:
            return hit
        self.phase(f"compiling {fig.id}" + (" (phone layout)" if make is fig.narrow else ""))
        read = self.ctx.reading()
        try:
            made = make(self.ctx)
            spec = made if isinstance(made, dict) else made.to_dict()
        except BuildError:
            raise
        except Exception as exc:  # a figure module bug: say which figure, keep it one line
            raise BuildError(*_source_of(make), f'figure "{fig.id}" failed: {type(exc).__name__}: {exc} '
                             "(hint: call its function alone in Python to see the traceback)") from exc
        undeclared = sorted(read - set(fig.sources))
        if undeclared:
            raise BuildError(*_source_of(make), f'figure "{fig.id}" reads experiment "{undeclared[0]}", which its sources '
                             f"do not name (hint: add it to the Figure's sources=(...), so that its chart is made again "
                             "when that experiment changes)")
        return self.charts.compile(fig.id, spec, interactions.figure_values(fig, steps), inputs=key, **options)

    def _verify_artifacts(self) -> None:
        """Every build, warm chart cache or not: check each frozen file against its manifest's
        sha256 (a damaged single run is retrained, a damaged sweep shard stops the build in one
        line; builder.freeze.verify_store); the chart keys hold the checksums."""
        store = paths.freeze_dir(self.root)
        if not store.is_dir() or not any(store.iterdir()):
            self.artifacts = {}
            return
        from builder import freeze
        self.artifacts = freeze.verify_store(self.root, train=self.train)

    # -- sweeps: drawn whole, or partly only where a figure says it may be ---------------------
    def _sweep_status(self, name: str):
        """builder.freeze.SweepStatus of a sweep source, once per build; None for a single run."""
        if name not in self.sweep_states:
            from builder import freeze
            sweep = self.ctx.spec(name)["kind"] == "sweep"
            self.sweep_states[name] = freeze.sweep_status(name, root=self.root) if sweep else None
        return self.sweep_states[name]

    def _check_sweeps(self, fig) -> None:
        """A placed figure draws a sweep only when every run of it is trained for its current
        settings, or, with `partial=True`, when at least one is; anything else (a sweep never
        trained, or trained with other settings) stops the build naming the command that trains
        it. Checked every build, whether or not the chart comes from the cache."""
        from builder import freeze
        for name in fig.sources:
            status = self._sweep_status(name)
            if status is None or status.complete:
                continue
            if status.runs_done == 0 or not fig.partial:
                raise freeze.unfinished_sweep(name, self.root, status, figure=fig.id)

    def _noted(self, reg: Registry) -> Registry:
        """The registry with a clause added to the caption of each figure that draws a partly
        trained sweep (`partial=True`), saying how many of its runs it shows."""
        changed = {}
        for fig in reg.figures.values():
            if not fig.partial:
                continue
            shown = []
            for name in fig.sources:
                status = self._sweep_status(name)
                if status is not None and 0 < status.runs_done < status.runs_total:
                    shown.append(f"{status.runs_done:,} of the {status.runs_total:,} runs of {name}")
            if shown:
                changed[fig.id] = dataclasses.replace(
                    fig, caption=f"{fig.caption} Drawn from {' and '.join(shown)}; the others are not trained yet.")
        if not changed:
            return reg
        return Registry({**reg.figures, **changed}, reg.animations, reg.sections, reg.modules)

    # -- the build ----------------------------------------------------------------------
    def _shared(self, compiled: list) -> tuple[list[str], dict]:
        """share_tables for this list of compiled charts, remembered while they stay the same
        (a prose edit under `make serve` reuses it)."""
        key = tuple(id(c) for c in compiled)
        if key not in self.shared_memo:
            self.shared_memo.clear()
            narrow = [c.narrow for c in compiled if c.narrow is not None]
            self.shared_memo[key] = (share_tables(compiled, narrow), compiled)  # keep the charts alive: ids stay unique
        return self.shared_memo[key][0]

    def _csvs(self, fig, chart: CompiledChart, commit: str) -> dict[str, str]:
        """The figure's data as CSV files (builder.render.tables), made again only when its
        chart or the commit changed."""
        memo = self.csv_memo.get(fig.id)
        if memo is None or memo[0] is not chart or memo[1] != commit:
            from builder.training.experiments import spec_key
            keys = {}
            for name in fig.sources:
                try:
                    keys[name] = spec_key(self.ctx.spec(name))
                except (KeyError, TypeError):
                    keys[name] = "unknown"
            header = csv_tables.header(fig, keys, commit)
            files = csv_tables.chart_csvs(chart, header, dict(fig.columns))
            if fig.data is not None:  # the page computes the marks: the figure's own tables instead
                files = {path: text for path, text in files.items() if not path.startswith("figures/")}
                files.update(csv_tables.figure_data_csvs(fig.id, fig.data(self.ctx), header, dict(fig.columns)))
            memo = self.csv_memo[fig.id] = (chart, commit, files)
        return memo[2]

    def _run_checks(self, figures) -> None:
        """The placed figures' build-time checks (e.g. the appendix's exactness check), each once
        per Builder: a failure stops the build with the check's one-line message."""
        for fig in figures:
            for check in fig.checks:
                if check in self.checks_done:
                    continue
                try:
                    check()
                except ValueError as exc:
                    raise BuildError(*_source_of(check),
                                     f'check "{check.__name__}" of figure "{fig.id}" failed: {exc} '
                                     "(hint: the data no longer bear out what the check guards; retrain, "
                                     "or correct the figure or the claim)") from None
                self.checks_done.add(check)

    def build(self, out: Path | None = None, live_reload: str | None = None) -> BuildReport:
        """Build into a temp dir, check links, then replace `out` (default site/)."""
        t0 = time.perf_counter()
        out, shown_out = self._output(out)  # before anything is trained or written
        self.phase("reading the content and checking the frozen artifacts")
        self.ctx = BuildContext(self.root, train=self.train)  # a new build sees the artifacts as they are now
        self.code_key, self.source_states, self.sweep_states = None, {}, {}
        self._verify_artifacts()
        hits0, misses0 = self.charts.hits, self.charts.misses
        content = paths.content_dir(self.root)
        sources = sorted(p for p in content.glob("*.md") if not p.name.startswith(("_", ".")))
        if not sources:
            raise BuildError(content, None, "no pages (hint: add content/index.md)")
        bib = content / "references.bib"
        refs = load_bibliography(bib, bib.relative_to(self.root) if bib.is_relative_to(self.root) else bib)
        reg = self.given if self.given is not None else default_registry(self.ctx)
        reg = self.registry = self._noted(reg)
        self.book = facts.Book(reg.facts, reg.claims, self.ctx)
        self._code_digest(reg)
        report = BuildReport()
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            owned.remove_dead_leftovers(out.parent)  # what builds that died left beside it
            tmp = Path(tempfile.mkdtemp(prefix=f".site-build-{os.getpid()}-", dir=out.parent))
            owned.stamp(tmp, owned.SITE)
            tmp.chmod(0o755)  # mkdtemp makes it private; a web server must read it
        except OSError as exc:
            raise _os_error(exc, shown_out, out, self.root) from None
        try:
            docs = []
            for src in sources:
                rel = src.relative_to(self.root) if src.is_relative_to(self.root) else src
                docs.append(render_markdown(read_source(src, rel), rel, refs, reg.figures, reg.animations, self.md,
                                            book=self.book))
                report.drift += facts.drift(docs[-1])
            template = self.env.get_template("article.html.j2")
            for doc in docs:
                self.phase(f"{doc.path}: {len(doc.charts)} chart(s), compiled unless cached")
                for c in doc.charts:
                    self._check_sweeps(reg.figures[c])
                self._run_checks([reg.figures[c] for c in doc.charts])
                compiled = [self._compile(reg.figures[c]) for c in doc.charts]
                self._check_signals(doc)
                texts, shared = self._shared(compiled)
                name = page.page_name(doc)
                html = page.render_page(template, doc, reg, compiled, texts, refs, today=dt.date.today(),
                                        live_reload=live_reload)
                (tmp / name).write_text(html, encoding="utf-8")
                layouts = page.layouts(compiled)
                _write_chart_scripts(tmp / "charts", layouts, texts, shared)
                figdir = tmp / "figures"
                for c in layouts:
                    if c.svg:
                        figdir.mkdir(exist_ok=True)
                        (figdir / f"{c.name}.svg").write_text(c.svg, encoding="utf-8")
                    if c.payloads:  # (a narrow layout loads the wide one's)
                        datadir = tmp / "data" / c.id
                        datadir.mkdir(parents=True, exist_ok=True)
                        for key, text in c.payload_files.items():
                            (datadir / f"{key}.js").write_text(text, encoding="utf-8")
                commit = csv_tables.git_commit(self.root)
                for fig_id, c in zip(doc.charts, compiled):
                    for rel, text in self._csvs(reg.figures[fig_id], c, commit).items():
                        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                        (tmp / rel).write_text(text, encoding="utf-8")
                report.pages.append(name)
                report.charts += len(compiled)
            self.phase("writing the assets, checking the links")
            write_assets(tmp, self.cache_dir)
            problems = check_links(tmp)
            if problems:
                raise self._link_error(problems[0], docs)
            owned.stamp(tmp, owned.SITE, process=False)  # the site as published: no pid or host name
            _swap(tmp, out)
        except OSError as exc:  # a full disk, no permission, a mount point: one line, the old site kept
            shutil.rmtree(tmp, ignore_errors=True)
            raise _os_error(exc, shown_out, out, self.root) from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        report.seconds = time.perf_counter() - t0
        report.cache_hits = self.charts.hits - hits0
        report.cache_misses = self.charts.misses - misses0
        return report

    def _output(self, out: Path | None) -> tuple[Path, str]:
        """The folder a build will replace (symlinks followed) and its name in messages. Only a
        folder a build made (its owned.STAMP, or a site built before stamps), an empty one or
        none at all: never the project, content/ or what holds them, a file, a mount point or a
        folder of someone else's."""
        given = Path(out) if out else paths.site_dir(self.root)
        shown = _shown(given, self.root)
        target = given.resolve()
        root = self.root.resolve()

        def refuse(why: str, hint: str = "give --out a new or empty folder; the default is site/") -> BuildError:
            return BuildError(shown, None, f"{why} (hint: {hint})")

        if root.is_relative_to(target):
            raise refuse("the output folder is the project folder or holds it, and a build replaces its output folder "
                         "as a whole")
        if paths.ROOT.resolve().is_relative_to(target):
            raise refuse("the output folder holds the builder's own checkout, and a build replaces its output "
                         "folder as a whole")
        if target.is_relative_to(paths.content_dir(root)):
            raise refuse("the output folder is inside content/, which a build only reads")
        if target.exists():
            if not target.is_dir():
                raise refuse("the output folder is a file")
            if os.path.ismount(target):
                raise refuse("the output folder is a mount point, and a build puts a new site in place by renaming "
                              "folders, which a mount point does not allow", "give --out a folder inside the mount")
            if not owned.empty(target) and not owned.ours(target, owned.SITE):
                raise refuse(f"the output folder is not empty and was not made by a build (it has no {owned.STAMP}); "
                             "a build replaces its output folder as a whole and deletes nothing it did not make",
                             "give --out a new or empty folder, or move this one out of the way")
        return target, shown

    def _check_signals(self, doc: Document) -> None:
        """Each live value and `::: when` of the page names a signal that a chart of its section
        placed on this page computes (else the page would show the Markdown's text forever)."""
        reg = self.registry
        signals: dict[str, set] = {}
        for c in doc.charts:
            names = signals.setdefault(reg.figures[c].section, set())
            names.update(sig["name"] for sig in self.compiled[c].vega.get("signals", []))
        for section, signal, line, what in doc.signals:
            if section not in signals:
                raise BuildError(doc.path, line, f'{what}: no chart of section "{section}" is on this page '
                                                 '(hint: place one with {{< chart ID >}}, or name another section)')
            if signal not in signals[section]:
                named = [n for n in signals[section] if not _VEGA_INTERNAL.search(n)]  # the params, not Vega's own
                raise BuildError(doc.path, line, f'{what}: the "{section}" charts on this page have no signal "{signal}"'
                                 + did_you_mean(signal, named or signals[section])
                                 + " (hint: a param of one of its charts, e.g. alt.param(name=...))")

    def _link_error(self, problem: str, docs) -> BuildError:
        """Point a broken link back at the Markdown line that wrote it, when it can be found."""
        m = re.search(r'(?:broken link|loads) "([^"]+)"', problem)
        name = problem.split(":", 1)[0]
        if m:
            for doc in docs:  # the line of the Markdown link (or raw HTML) of that page that wrote it
                if page.page_name(doc) != name:
                    continue
                for url, line in doc.links:
                    if cut(url) == m.group(1):  # the message quotes it cut short
                        return BuildError(doc.path, line, problem.split(": ", 1)[1])
            for doc in docs:
                text = read_source(doc.path if doc.path.is_absolute() else self.root / doc.path, doc.path)
                for i, line in enumerate(text.splitlines(), start=1):
                    if f"]({m.group(1)})" in line or f'"{m.group(1)}"' in line:
                        reason = problem.split(": ", 1)[1]
                        return BuildError(doc.path, i, reason)
        path, _, rest = problem.partition(": ")
        file, _, line = path.partition(":")
        return BuildError(f"site/{file}", int(line) if line.isdigit() else None, rest)


# Signals Vega-Lite adds of its own (sizes, layout, selection stores): not worth suggesting.
_VEGA_INTERNAL = re.compile(r"(^|_)(child)?(width|height|Width|Height)$|^concat_|^facet|^unit$|_tuple(_fields)?$|"
                            r"_modify$|_toggle$|^(autosize|padding|background|cursor)$")


def _source_of(fn) -> tuple:
    """(file relative to the repository, line) where a figure's function is written, for an
    error about it; (None, None) when Python cannot tell."""
    try:
        source = Path(inspect.getsourcefile(fn))
        line = inspect.getsourcelines(fn)[1]
    except (TypeError, OSError):
        return None, None
    return (source.relative_to(paths.ROOT) if source.is_relative_to(paths.ROOT) else source), line


def _module_files(module, reg: Registry) -> list[str]:
    """The source files a figure module's charts are made by: its own, and those of the other
    registered figure modules it imports (e.g. mod_bot draws mod_top's run). Empty when the
    module has no file."""
    file = getattr(module, "__file__", None)
    if not file:
        return []
    names = {getattr(m, "__name__", None) for m in reg.modules.values()}
    used = {v.__name__ if inspect.ismodule(v) else getattr(v, "__module__", None) for v in vars(module).values()}
    others = {sys.modules[n].__file__ for n in used & names if n in sys.modules and n != module.__name__}
    return [str(Path(file))] + sorted(str(Path(f)) for f in others if f)


def _check_same_params(fig, wide: CompiledChart, narrow: CompiledChart) -> None:
    """A narrow layout has every param of the wide one that the page or the reader sets (the
    section's state, inputs, shared and mirrored params), so it behaves the same."""
    names = {s["name"] for s in narrow.vega.get("signals", [])}
    used = interactions.page_params(fig)
    wanted = [s["name"] for s in wide.vega.get("signals", []) if s["name"] in used or "bind" in s]
    missing = [n for n in wanted if n not in names]
    if missing:
        raise BuildError(*_source_of(fig.narrow), f'the narrow layout of figure "{fig.id}" lacks the param "{missing[0]}" '
                         "of its wide one (hint: add the same alt.param to the narrow chart)")


def _write_chart_scripts(folder: Path, compiled: list, texts: list[str], shared: dict) -> None:
    """charts/<id>.js per chart (its compiled Vega spec; <id>.narrow.js its phone layout) and charts/shared/<key>.js per table
    that several charts carry: the page loads each when a chart that needs it comes near."""
    (folder / "shared").mkdir(parents=True, exist_ok=True)
    for chart, text in zip(compiled, texts):
        (folder / f"{chart.name}.js").write_text(register_script(f"charts/{chart.name}", text), encoding="utf-8")
    for key, values in shared.items():
        (folder / "shared" / f"{key}.js").write_text(register_script(f"charts/shared/{key}", script_json(values)),
                                                     encoding="utf-8")


def _swap(new: Path, out: Path) -> None:
    """Replace `out` by `new` with renames on one filesystem; the old tree is removed after.
    When the second rename fails, the old tree is put back before the error goes on."""
    old = None
    if out.exists():
        old = out.with_name(f".site-old-{os.getpid()}-{time.time_ns()}")  # owned.SET_ASIDE
        out.rename(old)
    try:
        new.rename(out)
    except OSError:
        if old is not None:
            old.rename(out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _shown(path: Path, root: Path) -> str:
    """A path as messages show it: relative to the project root when inside it, else as given."""
    if path.is_absolute() and path.is_relative_to(root) and path != root:
        return str(path.relative_to(root))
    return str(path)


# What to do about an OSError while writing a site, by errno.
_OS_HINTS = {
    errno.ENOSPC: "the disk is full: free some space and build again",
    errno.EDQUOT: "the disk quota is used up: free some space and build again",
    errno.EACCES: "no permission to write there: give --out a folder you can write to",
    errno.EPERM: "no permission to write there: give --out a folder you can write to",
    errno.EROFS: "the file system is read-only: give --out a folder on a writable one",
    errno.EBUSY: "the output folder is a mount point or in use; a build puts a new site in place by renaming "
                 "folders, so give --out a folder inside the mount",
    errno.EXDEV: "the output folder is on another device than the folder holding it (a mount point); a build "
                 "puts a new site in place by renaming folders, so give --out a folder inside the mount",
}


def _os_error(exc: OSError, shown: str, out: Path, root: Path) -> BuildError:
    """An operating-system error of a build as one line: what failed, on which file, what to do;
    the output folder is as it was before the build."""
    file = f": {_shown(Path(exc.filename), root)}" if exc.filename else ""
    hint = _OS_HINTS.get(exc.errno, "check the disk and the folder's permissions")
    kept = f"{shown} is left as it was" if out.exists() else f"nothing was written to {shown}"
    return BuildError(shown, None, f"{exc.strerror or exc}{file} (hint: {hint}; {kept})")


def site_size(site: Path) -> tuple[int, int]:
    """Total bytes of the site, raw and gzip-compressed file by file."""
    raw = gz = 0
    for f in site.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            raw += len(data)
            gz += len(gzip.compress(data, 9))
    return raw, gz

