"""End-to-end build of the demo content: the site's files, links, assets, atomic swap and cache."""
from __future__ import annotations

import inspect

import re
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

import pytest

from conftest import DEMO_MD, FRONT, tree_hashes

from builder.build import Builder
from builder.errors import BuildError
from builder.render.links import check_links


class Refs(HTMLParser):
    """(tag, attr, value) for every href/src, and every id."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.refs: list[tuple[str, str, str]] = []
        self.ids: set[str] = set()
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.refs.append((tag, name, value))
            if name == "id" and value:
                self.ids.add(value)


def is_offsite(url: str) -> bool:
    """True for a URL that would make a request outside the site (data: URLs make none)."""
    parts = urlsplit(url)
    if parts.scheme == "data":
        return False
    return bool(parts.scheme or parts.netloc) or url.startswith("//")


def test_demo_site_files(demo_site):
    assert (demo_site / "index.html").is_file()
    assets = {p.name for p in (demo_site / "assets").iterdir()}
    assert {"article.css", "glue.js", "vega.js"} <= assets
    assert [a for a in assets if "vega" in a] == ["vega.js"]
    assert (demo_site / "assets" / "vega.js").stat().st_size > 100_000  # the real Vega runtime
    for chart in ("demo-line", "demo-bars"):
        svg = (demo_site / "figures" / f"{chart}.svg").read_text()
        assert svg.lstrip().startswith("<svg") and "</svg>" in svg
    page = (demo_site / "index.html").read_text()
    assert page.count('<script src="assets/vega.js" defer>') == 1
    assert 'id="article-data"' in page
    # each chart's spec is a file of its own, loaded when the chart comes near; not in the page
    for chart in ("demo-line", "demo-bars"):
        script = (demo_site / "charts" / f"{chart}.js").read_text()
        assert script.startswith(f'(window.ARTICLE_DATA = window.ARTICLE_DATA || {{}})["charts/{chart}"] = {{')
        assert '"$schema":"https://vega.github.io/schema/vega/' in script and "$schema" not in page
        # its place is held by its static image at the size it is drawn (the height, at least)
        svg = (demo_site / "figures" / f"{chart}.svg").read_text()
        height = re.search(r'<svg[^>]*height="([\d.]+)"', svg).group(1)
        assert re.search(rf'<div class="chart-placeholder"><img[^>]*src="figures/{chart}.svg"[^>]*height="{height}"', page)
    # a scrub chart's frame is a slider with its values from the start
    assert re.search(r'id="demo-line"[^>]*>\s*<div class="chart-frame" role="slider" tabindex="0" aria-valuemin="\d+" '
                     r'aria-valuemax="\d+" aria-valuenow="\d+" aria-valuetext="step [\d,]+"', page)


def test_every_internal_link_resolves(demo_site):
    assert check_links(demo_site) == []
    for page in demo_site.rglob("*.html"):
        refs = Refs(page.read_text())
        for tag, attr, url in refs.refs:
            if is_offsite(url) or url.startswith("data:"):
                continue
            parts = urlsplit(url)
            target = (page.parent / unquote(parts.path)) if parts.path else page
            assert target.resolve().is_file(), url
            assert target.resolve().is_relative_to(demo_site.resolve()), url
            if parts.fragment:
                assert parts.fragment in Refs(target.read_text()).ids, url


def test_no_loaded_resource_points_off_site(demo_site):
    page = (demo_site / "index.html").read_text()
    loaded = [(t, a, u) for t, a, u in Refs(page).refs if t in ("script", "link", "img", "iframe", "source")]
    assert loaded, "the page loads its CSS and scripts"
    assert not [u for _, _, u in loaded if is_offsite(u)]
    assert "@import" not in (demo_site / "assets" / "article.css").read_text()
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", (demo_site / "assets" / "article.css").read_text())
    assert "fetch(" not in (demo_site / "assets" / "glue.js").read_text()


def test_pages_share_one_vega_runtime(make_project, build):
    second = FRONT + "A second page.\n\n{{< chart demo-bars >}}\n"
    plain = FRONT + "No charts here.\n"
    root = make_project(pages={"second.md": second, "plain.md": plain})
    report = build(root)
    site = root / "site"
    assert sorted(report.pages) == ["index.html", "plain.html", "second.html"]
    assert report.charts == 3
    assert [p.relative_to(site).as_posix() for p in site.rglob("vega*.js")] == ["assets/vega.js"]
    for name in ("index.html", "second.html"):
        assert '<script src="assets/vega.js" defer></script>' in (site / name).read_text()
    assert "vega.js" not in (site / "plain.html").read_text()  # no charts, no runtime
    assert sorted(p.name for p in (site / "figures").iterdir()) == [  # each figure's image and its data
        "demo-bars.csv", "demo-bars.svg", "demo-line.csv", "demo-line.svg"]


def test_failed_build_leaves_previous_site(make_project, build):
    root = make_project()
    build(root)
    before = tree_hashes(root / "site")
    assert "index.html" in before
    (root / "content" / "index.md").write_text(DEMO_MD.replace("[@power2022]", "[@pwoer2022]", 1))
    with pytest.raises(BuildError):
        build(root)
    assert tree_hashes(root / "site") == before
    assert not [p.name for p in root.iterdir() if p.name.startswith(".site")]


def test_rebuild_replaces_site_instead_of_merging(make_project, build):
    root = make_project()
    build(root)
    stale = root / "site" / "stale.html"
    stale.write_text("old")
    (root / "content" / "index.md").write_text(DEMO_MD.replace("A test article", "A renamed article"))
    build(root)
    assert not stale.exists()
    assert "<title>A renamed article</title>" in (root / "site" / "index.html").read_text()
    assert not [p.name for p in root.iterdir() if p.name.startswith((".site", ".site-old"))]


def test_build_to_explicit_out(make_project, build, tmp_path):
    root = make_project()
    out = tmp_path / "elsewhere" / "public"
    report = build(root, out)
    assert (out / "index.html").is_file() and not (root / "site").exists()
    assert report.pages == ["index.html"]


def test_warm_rebuild_hits_chart_cache(make_project, registry, tmp_path):
    root = make_project()
    cache = tmp_path / "fresh-cache"
    first = Builder(root, registry=registry, cache=cache).build()
    assert (first.cache_misses, first.cache_hits) == (2, 0)
    assert len(list((cache / "charts").glob("*.json"))) == 2
    again = Builder(root, registry=registry, cache=cache).build()  # a new process: disk cache
    assert (again.cache_misses, again.cache_hits) == (0, 2)
    builder = Builder(root, registry=registry, cache=cache)
    builder.build()
    same = builder.build()  # serve mode: the same Builder reuses its compiled charts
    assert same.cache_misses == 0 and set(builder.compiled) == {"demo-line", "demo-bars"}
    for f in (cache / "charts").glob("*.json"):  # a damaged cache entry is simply recompiled
        f.write_text("{not json")
    damaged = Builder(root, registry=registry, cache=cache).build()
    assert damaged.cache_misses == 2
    assert (root / "site" / "figures" / "demo-line.svg").stat().st_size > 1000


MADE = []


def _counted_bars(ctx):
    """The demo bar chart, after reading experiment "a" through the build context (counts how
    often a build makes it, with the learning rate it read)."""
    import demo_figures

    MADE.append(ctx.spec("a")["lr"])
    return demo_figures.bar_chart()


def _two_runs(a_lr: str = "1e-2", b_lr: str = "1e-2") -> str:
    """experiments.toml with two small runs, "a" and "b", that differ in their learning rates."""
    from conftest import TINY_RUN_TOML

    return "\n".join(TINY_RUN_TOML.replace("[tiny]", f"[{name}]").replace("lr = 1e-2", f"lr = {lr}")
                     for name, lr in (("a", a_lr), ("b", b_lr)))


def _one_module(*figures):
    from builder.figures import Registry

    class M:
        __file__ = __file__

        @staticmethod
        def figures(ctx):
            return list(figures)

    reg = Registry()
    reg.add(M, None)
    return reg


def test_a_chart_is_made_again_only_when_what_it_declares_changes(make_project, tmp_path):
    """A new Builder (a new `make site`) reuses the chart an earlier build compiled from the same
    declared inputs without calling the figure's make(): changing an experiment the figure does
    not declare (its spec, a run trained for it) keeps the cache entry; changing the one it
    declares (`sources`) makes it again."""
    from builder.figures import Figure

    reg = _one_module(Figure("demo-bars", "demo", "Prices.", "Bar chart of prices.", _counted_bars, sources=("a",)))
    root = make_project(FRONT + "Intro.\n\n{{< chart demo-bars >}}\n")
    toml = root / "content" / "experiments.toml"
    toml.write_text(_two_runs())
    cache = tmp_path / "inputs-cache"
    MADE.clear()

    def build():
        return Builder(root, registry=reg, cache=cache).build()

    assert build().cache_misses == 1 and MADE == [1e-2]
    again = build()
    assert (again.cache_hits, again.cache_misses, MADE) == (1, 0, [1e-2])  # not made again
    toml.write_text(_two_runs(b_lr="2e-2"))  # an experiment it does not declare
    assert build().cache_hits == 1 and MADE == [1e-2]
    manifest = root / "content" / "_freeze" / "b" / "manifest.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text("{}")  # a run of it trained (or retrained) since
    build()
    assert MADE == [1e-2]
    toml.write_text(_two_runs(a_lr="3e-2", b_lr="2e-2"))  # the experiment it declares
    assert build().cache_hits == 1 and MADE == [1e-2, 3e-2]  # made again; the same spec compiles from cache
    build()
    assert MADE == [1e-2, 3e-2]
    for alias in (cache / "figures").glob("*.key"):  # a damaged entry: the figure is made again
        alias.write_text("not a key")
    build()
    assert MADE == [1e-2, 3e-2, 3e-2]


def _reads_b(ctx):
    ctx.spec("b")
    return _counted_bars(ctx)


def test_a_figure_reading_an_experiment_it_does_not_declare_stops_the_build(make_project, chart_cache):
    """The key holds only the declared experiments, so reading another would serve a stale chart
    when that one changes: the build says which, in one line, and leaves site/ alone."""
    from builder.figures import Figure

    reg = _one_module(Figure("demo-bars", "demo", "Prices.", "Bar chart of prices.", _reads_b, sources=("a",)))
    root = make_project(FRONT + "Intro.\n\n{{< chart demo-bars >}}\n")
    (root / "content" / "experiments.toml").write_text(_two_runs())
    with pytest.raises(BuildError) as info:
        Builder(root, registry=reg, cache=chart_cache).build()
    line = inspect.getsourcelines(_reads_b)[1]
    assert str(info.value) == (f'tests/test_build.py:{line}: figure "demo-bars" reads experiment "b", which its sources do '
                               "not name (hint: add it to the Figure's sources=(...), so that its chart is made again when "
                               "that experiment changes)")
    assert not (root / "site").exists()


def _one_figure_registry(**fields):
    """A registry whose only figure (section "demo") has the given extra Figure fields."""
    import demo_figures

    from builder.figures import Figure

    return _one_module(Figure("demo-bars", "demo", "Prices.", "Bar chart of prices.", lambda ctx: demo_figures.bar_chart(), **fields))


def test_a_failing_build_check_stops_the_build_in_one_line(make_project, chart_cache):
    calls = []

    def passes():
        calls.append("passes")

    def construction_is_exact():
        raise ValueError("x^2 with N = 5 gives 3 for 1 + 1 (mod 12)")

    root = make_project(index=FRONT + "{{< chart demo-bars >}}\n")
    builder = Builder(root, registry=_one_figure_registry(checks=(passes,)), cache=chart_cache)
    builder.build()
    builder.build()
    assert calls == ["passes"]  # once per Builder (a `make serve` session), not per rebuild
    before = tree_hashes(root / "site")
    with pytest.raises(BuildError) as info:
        Builder(root, registry=_one_figure_registry(checks=(construction_is_exact,)), cache=chart_cache).build()
    line = inspect.getsourcelines(construction_is_exact)[1]
    assert str(info.value) == (f'tests/test_build.py:{line}: check "construction_is_exact" of figure "demo-bars" failed: '
                               "x^2 with N = 5 gives 3 for 1 + 1 (mod 12) (hint: the data no longer bear out what the "
                               "check guards; retrain, or correct the figure or the claim)")
    assert tree_hashes(root / "site") == before


def test_signal_handlers_reach_the_compiled_chart(tmp_path):
    import altair as alt

    from builder.figures import with_signal_handlers
    from builder.render.charts import ChartCache

    chart = alt.Chart(alt.Data(values=[{"v": 1}])).mark_point().encode(x="v:Q").add_params(
        alt.param(name="a", value=1), alt.param(name="b", value=2))
    on = [{"events": {"signal": "b"}, "update": "b + 1"}]
    compiled = ChartCache(None).compile("demo", with_signal_handlers(chart, {"a": on}), svg=False)
    (a,) = [s for s in compiled.vega["signals"] if s["name"] == "a"]
    assert a["on"] == on and "usermeta" not in compiled.vega
    with pytest.raises(BuildError, match='chart "demo" does not compile: signal handlers for "c"'):
        ChartCache(None).compile("demo", with_signal_handlers(chart, {"c": on}), svg=False)


def test_a_table_two_charts_carry_goes_into_the_page_once():
    import json

    from builder.render.charts import SHARE_BYTES, CompiledChart, share_tables

    big = [{"v": i, "pad": "x" * 40} for i in range(SHARE_BYTES // 40)]
    small = [{"v": 1}]
    one = CompiledChart("one", {"data": [{"name": "t", "values": big}, {"name": "s", "values": small}]}, "")
    two = CompiledChart("two", {"data": [{"name": "other", "values": list(big)}]}, "")
    alone = CompiledChart("alone", {"data": [{"name": "u", "values": big[:-1]}]}, "")  # different content
    texts, shared = share_tables([one, two, alone])
    assert len(shared) == 1 and list(shared.values())[0] == big
    key = next(iter(shared))
    specs = [json.loads(t) for t in texts]
    assert specs[0]["data"][0]["values"] == {"shared": key} and specs[0]["data"][1]["values"] == small
    assert specs[1]["data"][0] == {"name": "other", "values": {"shared": key}}
    assert specs[2]["data"][0]["values"] == big[:-1] and texts[2] == alone.json
    assert one.vega["data"][0]["values"] is big  # the compiled (cached) charts are not modified
