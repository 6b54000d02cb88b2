"""The build: content/ (+ frozen artifacts) -> a temporary directory -> checked -> site/.

Any BuildError leaves the previous site/ exactly as it was.
"""
from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import html
import inspect
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from markupsafe import Markup

from builder import paths
from builder.bib import load_bibliography
from builder.errors import BuildError, did_you_mean, read_source
from builder.figures import Registry, default_registry
from builder.markdown import Document, make_parser, render_markdown
from builder.render.assets import write_assets
from builder.render import interactions
from builder.render.charts import VERSION as CHARTS_VERSION
from builder.markdown.charts import frame_html
from builder.render.charts import (NARROW, PHONE_WIDTH, ChartCache, CompiledChart, bound_signals, placeholder_html, register_script,
                                   script_json, share_tables, with_narrow)
from builder.render.links import check_links

TEMPLATES = Path(__file__).parent / "render" / "templates"


@dataclass
class BuildReport:
    pages: list = field(default_factory=list)
    charts: int = 0
    seconds: float = 0.0
    cache_hits: int = 0
    cache_misses: int = 0


class Builder:
    """Holds what can be reused between builds (serve mode): parser, templates, compiled charts."""

    def __init__(self, root: Path = paths.ROOT, registry: Registry | None = None, cache: Path | None = None):
        """`cache`: where compiled charts and the Vega bundle are kept (default ROOT/.cache)."""
        self.root = Path(root)
        self.registry = registry
        self.cache_dir = Path(cache) if cache else paths.cache_dir(self.root)
        self.charts = ChartCache(self.cache_dir / "charts")
        self.compiled: dict[str, CompiledChart] = {}  # figure id -> chart, kept between builds
        self._digest: str | None = None  # see _inputs_digest
        self._artifacts: dict[str, str] = {}  # frozen file -> its verified sha256, per build
        self.md = make_parser()
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=jinja2.select_autoescape(["html", "j2"]),
        )

    # -- pieces -------------------------------------------------------------------------
    def _registry(self) -> Registry:
        if self.registry is None:
            self.registry = default_registry(self.root)
        return self.registry

    def forget_figures(self) -> None:
        """Drop remembered charts so every figure is made and compiled again (serve mode)."""
        self.compiled.clear()

    def _inputs_digest(self) -> str:
        """A hash of everything a figure is made from: the builder's code and pinned packages,
        the experiments table, every frozen artifact's manifest and the sha256 of every frozen
        file as this build verified it (_verify_artifacts), once per build."""
        if self._digest is None:
            h = hashlib.sha256(CHARTS_VERSION.encode())
            h.update(json.dumps(self._artifacts, sort_keys=True).encode())
            package = Path(__file__).parent
            files = sorted(package.rglob("*.py"))
            files += [package.parent / "pyproject.toml",  # the pinned Altair, numpy, ...
                      paths.content_dir(self.root) / "experiments.toml",
                      *sorted(paths.freeze_dir(self.root).glob("*/manifest.json"))]
            for f in files:
                h.update(str(f).encode())
                h.update(f.read_bytes() if f.is_file() else b"(none)")
            self._digest = h.hexdigest()
        return self._digest

    def _verify_artifacts(self) -> None:
        """Every build, warm chart cache or not: check each frozen file against its manifest's
        sha256 (a damaged single run is retrained, a damaged sweep shard stops the build in one
        line; builder.freeze.verify_store) and key the chart cache on the checksums."""
        if not any(paths.freeze_dir(self.root).glob("*/manifest.json")):
            self._artifacts = {}
            return
        from builder import freeze
        self._artifacts = freeze.verify_store(self.root)

    def _inputs_key(self, fig, steps, make=None) -> str | None:
        """What this figure's chart is made from: the inputs digest, the file its `make` (or
        another of its functions: `narrow`) is written in and which function of that file it is
        (with the values it closes over). None when that cannot be told (no source file), so
        the figure is always made."""
        make = make or fig.make
        try:
            source = Path(inspect.getsourcefile(make)).read_bytes()
            code = make.__code__
        except (TypeError, OSError, AttributeError):
            return None
        cells = [c.cell_contents for c in make.__closure__ or ()]
        parts = [self._inputs_digest(), fig.id if make is fig.make else fig.id + NARROW, repr(steps), repr(fig.hover), repr(fig.demand),
                 make.__qualname__, str(code.co_firstlineno), repr(make.__defaults__), repr(cells)]
        return hashlib.sha256("|".join(parts).encode() + source).hexdigest()

    def _compile(self, fig) -> CompiledChart:
        """The figure's compiled chart; made once per Builder (a prose edit reuses it), and not
        made at all when an earlier build compiled it from the same inputs."""
        if fig.id in self.compiled:
            return self.compiled[fig.id]
        reg = self._registry()
        if fig.scrub and fig.section not in reg.sections:
            raise BuildError(*_source_of(fig.make), f'figure "{fig.id}" scrubs section "{fig.section}", which is not registered '
                             f'(hint: return a Section("{fig.section}", ...) from its module\'s sections(root))')
        steps = reg.sections[fig.section].steps if fig.scrub else None
        chart = self._compile_layout(fig, fig.make, steps)
        if fig.narrow is not None:
            narrow = self._compile_layout(fig, fig.narrow, steps, static_width=PHONE_WIDTH)
            _check_same_params(fig, chart, narrow)
            chart = with_narrow(chart, narrow)
        self.compiled[fig.id] = chart
        return chart

    def _compile_layout(self, fig, make, steps, **options) -> CompiledChart:
        """One layout of a figure (`make` or `narrow`) compiled, or found in the cache."""
        inputs = self._inputs_key(fig, steps, make)
        hit = self.charts.cached(fig.id, inputs) if inputs else None
        if hit:
            return hit
        try:
            made = make(self.root)
            spec = made if isinstance(made, dict) else made.to_dict()
        except BuildError:
            raise
        except Exception as exc:  # a figure module bug: say which figure, keep it one line
            raise BuildError(*_source_of(make), f'figure "{fig.id}" failed: {type(exc).__name__}: {exc} '
                             "(hint: call its function alone in Python to see the traceback)") from exc
        return self.charts.compile(fig.id, spec, interactions.figure_values(fig, steps), inputs=inputs, **options)

    def _page_data(self, doc: Document, tables: dict) -> dict:
        """The small index the page's glue works from (the charts' specs are files of their
        own): per chart its section and behaviour and the shared tables it needs (`tables`:
        chart id -> keys), per section its steps, per animation its range, and which chart
        computes each value the prose shows (`live`: "section.signal" -> chart id)."""
        reg = self._registry()
        sections = {reg.figures[c].section for c in doc.charts}
        live = {}
        for c in doc.charts:  # the first chart of the section in page order that has the signal
            for sig in self.compiled[c].vega.get("signals", []):
                live.setdefault(f"{reg.figures[c].section}.{sig['name']}", c)
        wanted = set(re.findall(r'data-section="([^"]+)" data-signal="([^"]+)"', doc.html))
        return {
            "charts": {c: interactions.page_entry(reg.figures[c], self.compiled[c], tables) for c in doc.charts},
            "live": {f"{sec}.{sig}": live[f"{sec}.{sig}"] for sec, sig in sorted(wanted) if f"{sec}.{sig}" in live},
            "sections": {
                k: {"steps": list(reg.sections[k].steps), "initial": reg.sections[k].initial}
                for k in sorted(sections) if k in reg.sections
            },
            "animations": {
                a: {"section": reg.animations[a].section, "start": reg.animations[a].start,
                    "end": reg.animations[a].end, "seconds": reg.animations[a].seconds,
                    "run": reg.animations[a].run}
                for a in doc.animations
            },
        }

    def _bibtex(self, front: dict, page: str) -> str:
        authors = " and ".join(a["name"] for a in front.get("authors") or [])
        date = front.get("date") or dt.date.today()
        first = (front.get("authors") or [{"name": "anonymous"}])[0]["name"].split()[-1].lower()
        word = re.sub(r"[^a-z]", "", front["title"].split()[0].lower()) or "article"
        fields = [("title", front["title"]), ("author", authors), ("year", str(date.year)),
                  ("month", date.strftime("%b").lower())]
        if front.get("url"):
            fields.append(("url", front["url"].rstrip("/") + ("/" if page == "index.html" else "/" + page)))
        body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields if v)
        return f"@article{{{re.sub(r'[^a-z0-9]', '', first)}{date.year}{word},\n{body}\n}}"

    # -- the build ----------------------------------------------------------------------
    def _shared(self, compiled: list) -> tuple[list[str], dict]:
        """share_tables for this list of compiled charts, remembered while they stay the same
        (a prose edit under `make serve` reuses it)."""
        key = tuple(id(c) for c in compiled)
        memo = self.__dict__.setdefault("_shared_memo", {})
        if key not in memo:
            memo.clear()
            narrow = [c.narrow for c in compiled if c.narrow is not None]
            memo[key] = (share_tables(compiled, narrow), compiled)  # keep the charts alive: ids stay unique
        return memo[key][0]

    def _run_checks(self, figures) -> None:
        """The placed figures' build-time checks (e.g. the appendix's exactness check), each once
        per Builder: a failure stops the build with the check's one-line message."""
        done = self.__dict__.setdefault("_checks_done", set())
        for fig in figures:
            for check in fig.checks:
                if check in done:
                    continue
                try:
                    check()
                except ValueError as exc:
                    raise BuildError(*_source_of(check),
                                     f'check "{check.__name__}" of figure "{fig.id}" failed: {exc} '
                                     "(hint: the data no longer bear out what the check guards; retrain, "
                                     "or correct the figure or the claim)") from None
                done.add(check)

    def build(self, out: Path | None = None, live_reload: str | None = None) -> BuildReport:
        """Build into a temp dir, check links, then replace `out` (default site/)."""
        t0 = time.perf_counter()
        self._digest = None  # artifacts or code may have changed since the last build
        self._verify_artifacts()
        hits0, misses0 = self.charts.hits, self.charts.misses
        out = Path(out) if out else paths.site_dir(self.root)
        content = paths.content_dir(self.root)
        sources = sorted(p for p in content.glob("*.md") if not p.name.startswith(("_", ".")))
        if not sources:
            raise BuildError(content, None, "no pages (hint: add content/index.md)")
        bib = content / "references.bib"
        refs = load_bibliography(bib, bib.relative_to(self.root) if bib.is_relative_to(self.root) else bib)
        reg = self._registry()
        report = BuildReport()
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".site-", dir=out.parent))
        tmp.chmod(0o755)  # mkdtemp makes it private; a web server must read it
        try:
            docs = []
            for src in sources:
                rel = src.relative_to(self.root) if src.is_relative_to(self.root) else src
                docs.append(render_markdown(read_source(src, rel), rel, refs, reg.figures, reg.animations, self.md))
            template = self.env.get_template("article.html.j2")
            for doc in docs:
                self._run_checks([reg.figures[c] for c in doc.charts])
                compiled = [self._compile(reg.figures[c]) for c in doc.charts]
                self._check_signals(doc)
                texts, shared = self._shared(compiled)
                body = self._with_placeholders(doc, compiled)
                name = "index.html" if doc.path.stem == "index" else f"{doc.path.stem}.html"
                references = [
                    {"key": k, "html": Markup(refs[k].html), "uses": uses} for k, uses in doc.citations.items()
                ]
                base = doc.front.get("url")
                layouts = compiled + [c.narrow for c in compiled if c.narrow is not None]
                tables = {c.name: sorted(set(re.findall(r'"values":\{"shared":"([0-9a-f]+)"\}', text)))
                          for c, text in zip(layouts, texts)}
                page = template.render(
                    front=doc.front, body=Markup(body), references=references, root="",
                    page_url=(base.rstrip("/") + "/" + ("" if name == "index.html" else name)) if base else None,
                    bibtex=self._bibtex(doc.front, name),
                    charts=bool(compiled),
                    page_data=Markup(script_json(self._page_data(doc, tables))),
                    live_reload=Markup(live_reload) if live_reload else None,
                )
                (tmp / name).write_text(page, encoding="utf-8")
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
                report.pages.append(name)
                report.charts += len(compiled)
            write_assets(tmp, self.cache_dir)
            problems = check_links(tmp)
            if problems:
                raise self._link_error(problems[0], docs)
            _swap(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        report.seconds = time.perf_counter() - t0
        report.cache_hits = self.charts.hits - hits0
        report.cache_misses = self.charts.misses - misses0
        return report

    def _check_signals(self, doc: Document) -> None:
        """Each live value and `::: when` of the page names a signal that a chart of its section
        placed on this page computes (else the page would show the Markdown's text forever)."""
        reg = self._registry()
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

    def _with_placeholders(self, doc: Document, compiled: list) -> str:
        """The page body with each chart's frame holding its sized placeholder (static image and
        disabled inputs) and, for a scrub chart, its slider values."""
        reg = self._registry()
        body = doc.html
        for chart in compiled:
            fig = reg.figures[chart.id]
            sec = reg.sections.get(fig.section)
            steps = list(sec.steps) if sec else None
            new = frame_html(fig, placeholder_html(chart, fig.limits), steps, sec.initial if sec else None,
                             controls=bool(bound_signals(chart.vega)))
            body = body.replace(frame_html(fig), new, 1)
        return body

    def _link_error(self, problem: str, docs) -> BuildError:
        """Point a broken link back at the Markdown line that wrote it, when it can be found."""
        m = re.search(r'(?:broken link|loads) "([^"]+)"', problem)
        page = problem.split(":", 1)[0]
        if m:
            for doc in docs:  # the line of the Markdown link (or raw HTML) of that page that wrote it
                if ("index.html" if doc.path.stem == "index" else f"{doc.path.stem}.html") != page:
                    continue
                for url, line in doc.links:
                    if url == m.group(1):
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
    """Replace `out` by `new` with renames on one filesystem; the old tree is removed after."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}-old-{os.getpid()}-{time.time_ns()}")
        out.rename(old)
    new.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def site_size(site: Path) -> tuple[int, int]:
    """Total bytes of the site, raw and gzip-compressed file by file."""
    raw = gz = 0
    for f in site.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            raw += len(data)
            gz += len(gzip.compress(data, 9))
    return raw, gz

