"""`make bench`: build timings, site size, training throughput and scrub frame times, as a table.

Every ratio is measured within one run, so machine noise affects both sides alike.
"""
from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

from builder import paths
from builder.build import Builder, site_size

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def _copy_project(root: Path, dest: Path) -> Path:
    """A scratch copy of content/ so the prose edit never touches the author's files."""
    shutil.copytree(paths.content_dir(root), paths.content_dir(dest))
    return dest


def build_rows(root: Path) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = _copy_project(root, Path(tmp) / "project")
        cache = Path(tmp) / "cache"
        t0 = time.perf_counter()
        cold_builder = Builder(work, cache=cache)
        cold_builder.build()
        cold = time.perf_counter() - t0
        sections = {}  # what each section's figures took to make in the cold build (loaders included)
        for fig_id, seconds in cold_builder.seconds.items():
            section = cold_builder.registry.figures[fig_id].section
            sections[section] = sections.get(section, 0.0) + seconds
        t0 = time.perf_counter()
        warm_builder = Builder(work, cache=cache)
        warm_builder.build()
        warm = time.perf_counter() - t0
        facts_s, facts_n = warm_builder.book.seconds, warm_builder.book.evaluated
        index = paths.content_dir(work) / "index.md"
        text = index.read_text(encoding="utf-8")
        edits = []
        for i in range(5):  # a prose edit, rebuilt by a long-lived builder as `make serve` does
            index.write_text(text + f"\n\nAn added sentence, version {i}.\n", encoding="utf-8")
            t0 = time.perf_counter()
            warm_builder.build()
            edits.append(time.perf_counter() - t0)
        raw, gz = site_size(paths.site_dir(work))
    rows += [
        {"name": "cold build (no caches)", "value": cold, "unit": "s"},
        {"name": "warm build (chart cache on disk)", "value": warm, "unit": "s"},
        {"name": "prose-edit rebuild (median of 5)", "value": 1000 * statistics.median(edits), "unit": "ms"},
        {"name": "cold / warm", "value": cold / warm, "unit": "x"},
        {"name": f"warm build: computing {facts_n} facts and claims (artifacts loaded)", "value": 1000 * facts_s, "unit": "ms"},
        {"name": "warm build: facts and claims / whole warm build", "value": facts_s / warm, "unit": "x"},
        *({"name": f"cold build: making the charts of section {name}", "value": seconds, "unit": "s"}
          for name, seconds in sorted(sections.items(), key=lambda kv: -kv[1])),
        {"name": "site size raw", "value": raw / 1024, "unit": "KiB"},
        {"name": "site size gzip", "value": gz / 1024, "unit": "KiB"},
    ]
    return rows


SCRUB_JS = """async ([chartId, frames]) => {
  // One pointermove per animation frame, as a reader's pointer delivers them; the glue then
  // redraws every view of the section. `gaps` are the intervals between frames (what the reader
  // sees); `work` is each frame's synchronous dataflow + render time, measured by replaying the
  // same steps with view.run() once the animation is over.
  const el = document.querySelector('#' + CSS.escape(chartId) + ' canvas');
  const box = el.getBoundingClientRect();
  const x0 = box.left + 0.12 * box.width, x1 = box.left + 0.95 * box.width, y = box.top + box.height / 2;
  const section = document.getElementById(chartId).dataset.section;
  const gaps = [], visited = [];
  let last = null;
  for (let i = 0; i < 60; i++) await new Promise(requestAnimationFrame);  // let the page settle
  for (let i = 0; i < frames; i++) {
    const t = await new Promise(requestAnimationFrame);
    if (last !== null) gaps.push(t - last);
    last = t;
    const x = x0 + (x1 - x0) * (i / (frames - 1));
    el.dispatchEvent(new PointerEvent('pointermove', {clientX: x, clientY: y, bubbles: true, pointerType: 'mouse'}));
    visited.push(window.article.current[section]);
  }
  await new Promise(r => setTimeout(r, 200));
  const views = window.article.views()[section].filter(v => { try { v.view.signal('step'); return true; } catch (e) { return false; } });
  const work = [];
  for (const [i, s] of visited.entries()) {
    if (i > 0 && s === visited[i - 1]) continue;  // only frames whose step changed do work
    const t = performance.now();
    for (const v of views) v.view.signal('step', s).run();
    work.push(performance.now() - t);
  }
  return {work, gaps, distinct: new Set(visited).size};
}"""


# Recorded from the first moment of the page: long tasks, layout shifts, and paints.
OBSERVE_JS = """
window.__bench = {tasks: [], shifts: 0, fcp: null};
new PerformanceObserver(l => l.getEntries().forEach(e => window.__bench.tasks.push([e.startTime, e.duration])))
  .observe({type: 'longtask', buffered: true});
new PerformanceObserver(l => l.getEntries().forEach(e => { if (!e.hadRecentInput) window.__bench.shifts += e.value; }))
  .observe({type: 'layout-shift', buffered: true});
new PerformanceObserver(l => l.getEntries().forEach(e => { if (e.name === 'first-contentful-paint') window.__bench.fcp = e.startTime; }))
  .observe({type: 'paint', buffered: true});
"""


def _serve(site: Path):
    """site/ over http on a free port, from a thread: (base url, server)."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/", server


def _gzip_size(site: Path, url: str, base: str) -> int:
    import gzip
    from urllib.parse import unquote, urlsplit

    path = site / unquote(urlsplit(url).path).lstrip("/")
    if url.rstrip("/") + "/" == base:
        path = site / "index.html"
    return len(gzip.compress(path.read_bytes(), 9)) if path.is_file() else 0


def load_rows(site: Path, throttle: float = 1.0, read: bool = True) -> list[dict]:
    """Open the article over http in a fresh context (CPU slowed `throttle` times with CDP),
    and report what a reader waits for; then, if `read`, scroll to the end at reading speed."""
    from playwright.sync_api import sync_playwright

    base, server = _serve(site)
    tag = f" (CPU /{throttle:g})" if throttle != 1 else ""
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
            page.add_init_script(OBSERVE_JS)
            page.goto(base)
            page.wait_for_function("window.article && window.article.timing.firstChart", timeout=120_000)
            page.wait_for_function("document.documentElement.dataset.chartsReady === 'true'", timeout=120_000)
            page.wait_for_timeout(1500)  # let the last tasks of the load land
            m = page.evaluate("""() => ({first: window.article.timing.firstChart, b: window.__bench,
                resources: performance.getEntriesByType('resource').map(r => [r.name, r.responseEnd]),
                live: window.article.live().length})""")
            cdp.send("HeapProfiler.collectGarbage")
            heap = cdp.send("Runtime.getHeapUsage")["usedSize"] / 2**20
            before = [base] + [url for url, end in m["resources"] if end <= m["first"]]
            sent = sum(_gzip_size(site, url, base) for url in before) / 1024
            tasks = m["b"]["tasks"]
            blocking = sum(max(0.0, d - 50) for t, d in tasks if m["b"]["fcp"] is None or t >= m["b"]["fcp"])
            rows = [
                {"name": f"load{tag}: first chart interactive", "value": m["first"], "unit": "ms after navigation"},
                {"name": f"load{tag}: longest main-thread task", "value": max([d for _, d in tasks] or [0]), "unit": "ms"},
                {"name": f"load{tag}: total blocking time", "value": blocking, "unit": "ms"},
                {"name": f"load{tag}: JS heap after load (after GC)", "value": heap, "unit": f"MiB ({m['live']} charts embedded)"},
                {"name": f"load{tag}: bytes before first chart interactive", "value": sent, "unit": f"KiB gzip ({len(before)} files)"},
                {"name": f"load{tag}: layout shift", "value": m["b"]["shifts"], "unit": "CLS"},
            ]
            if read:
                rows += _read_rows(page, cdp, tag)
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return rows


# Links a reader might send: a chart and its section's state (glue.js restores it from the fragment).
DEEP_LINKS = ("mod-bot-stars&step=27000&run=seed33", "sweep-mod-bars&arch=3&reg=L1")

DEEP_READY_JS = """([id, want]) => {
  const info = JSON.parse(document.getElementById('article-data').textContent).charts[id];
  const e = info && (window.article.views()[info.section] || []).find(x => x.id === id);
  const at = window.article.timing.ready[id];
  return !!e && at !== undefined && !e.el.hasAttribute('aria-busy')
    && Object.entries(want).every(([k, v]) => e.view.signal(k) === v) ? at : false;
}"""


def deep_link_rows(site: Path, throttle: float = 1.0, links=DEEP_LINKS) -> list[dict]:
    """Open the article over http at each link (a fresh context each, CPU slowed `throttle`
    times): the time until the linked chart is interactive with the link's state applied, and
    until the first chart was, in the same load."""
    from playwright.sync_api import sync_playwright

    base, server = _serve(site)
    tag = f" (CPU /{throttle:g})" if throttle != 1 else ""
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for link in links:
                chart, *pairs = link.split("&")
                want = {k: (int(v) if v.lstrip("-").isdigit() else v) for k, v in (pair.split("=", 1) for pair in pairs)}
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                cdp = context.new_cdp_session(page)
                cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
                page.goto(base + "index.html#" + link)
                ready = page.wait_for_function(DEEP_READY_JS, arg=[chart, want], timeout=120_000).json_value()
                first = page.evaluate("window.article.timing.firstChart")
                rows += [
                    {"name": f"deep link{tag}: #{link}", "value": ready,
                     "unit": "ms after navigation, until that chart is interactive with the link's state"},
                    {"name": f"deep link{tag}: first chart interactive, same load", "value": first, "unit": "ms after navigation"},
                ]
                context.close()
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return rows


def _read_rows(page, cdp, tag: str) -> list[dict]:
    """Scroll to the end at about 600 px a second (a fast reader), sampling the JS heap."""
    page.evaluate("window.__bench.tasks = []")
    peak, t0 = 0.0, time.perf_counter()
    height = page.evaluate("document.scrollingElement.scrollHeight")
    y = 0
    while y < height:
        y += 150
        page.evaluate(f"window.scrollTo(0, {y})")
        page.wait_for_timeout(250)
        peak = max(peak, cdp.send("Runtime.getHeapUsage")["usedSize"] / 2**20)
        height = page.evaluate("document.scrollingElement.scrollHeight")
    page.wait_for_timeout(1000)
    tasks = page.evaluate("window.__bench.tasks.map(t => t[1])")
    return [
        {"name": f"read{tag}: whole article, scrolled", "value": time.perf_counter() - t0, "unit": f"s ({height:,} px)"},
        {"name": f"read{tag}: longest main-thread task", "value": max(tasks or [0]), "unit": f"ms ({len(tasks)} over 50 ms)"},
        {"name": f"read{tag}: peak JS heap", "value": peak, "unit": "MiB"},
    ]


def _pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def scrub_rows(site: Path, chart_id: str, frames: int = 120) -> list[dict]:
    """Move the pointer across a scrub chart, one step per animation frame; report frame times."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto((site / "index.html").resolve().as_uri())
        page.wait_for_function("document.documentElement.dataset.chartsReady === 'true'")
        page.locator(f"#{chart_id}").scroll_into_view_if_needed()  # the charts near it embed, as for a reader
        page.wait_for_function(f"window.article.live().includes('{chart_id}') && window.article.pending() === 0",
                               timeout=60_000)
        result = page.evaluate(SCRUB_JS, [chart_id, frames])
        browser.close()
    work, gaps = result["work"], result["gaps"]
    typical = statistics.median(gaps)
    dropped = sum(g > 1.5 * typical for g in gaps)
    return [
        {"name": f"scrub {chart_id}: frames driven / distinct steps", "value": frames, "unit": f"/ {result['distinct']}"},
        {"name": f"scrub {chart_id}: work per frame, median", "value": statistics.median(work), "unit": "ms"},
        {"name": f"scrub {chart_id}: work per frame, p90", "value": _pct(work, 0.9), "unit": "ms"},
        {"name": f"scrub {chart_id}: frame interval, median", "value": statistics.median(gaps), "unit": "ms"},
        {"name": f"scrub {chart_id}: frame interval, p90", "value": _pct(gaps, 0.9), "unit": "ms"},
        {"name": f"scrub {chart_id}: frames late (> 1.5x median)", "value": dropped, "unit": f"of {len(gaps)}"},
    ]


REDRAW_JS = """async (variants) => {
  const out = {};
  for (const [name, spec] of Object.entries(variants)) {
    const el = document.createElement('div');
    document.body.appendChild(el);
    const view = (await vegaEmbed(el, spec, {mode: 'vega', renderer: 'canvas', actions: false})).view;
    const times = [];
    for (let i = 0; i < 202; i++) {
      const t = performance.now();
      view.signal('step', (i % 101) * 500).run();
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    out[name] = [times[101], times[181]];
    view.finalize();
  }
  return out;
}"""


def heatmap_rows(root: Path, site: Path) -> list[dict]:
    """Redraw time of the weight heatmaps per step: colour lookup (published) vs Vega scale."""
    from playwright.sync_api import sync_playwright

    from builder.figures import mod_top
    from builder.figures.context import BuildContext
    from builder.render.charts import ChartCache

    cache, ctx = ChartCache(None), BuildContext(root)
    variants = {
        name: cache.compile(name, mod_top.weights_chart(ctx, lookup=lookup), svg=False).vega
        for name, lookup in (("lookup", True), ("scale", False))
    }
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto((site / "index.html").resolve().as_uri())
        result = page.evaluate(REDRAW_JS, variants)
        browser.close()
    (lk_med, lk_p90), (sc_med, sc_p90) = result["lookup"], result["scale"]
    return [
        {"name": "heatmaps redraw, colour lookup (published), median", "value": lk_med, "unit": "ms"},
        {"name": "heatmaps redraw, continuous colour scale, median", "value": sc_med, "unit": "ms"},
        {"name": "heatmaps redraw, scale / lookup (median)", "value": sc_med / max(lk_med, 1e-3), "unit": "x"},
        {"name": "heatmaps redraw, scale / lookup (p90)", "value": sc_p90 / max(lk_p90, 1e-3), "unit": "x"},
    ]


def print_table(rows: list[dict]) -> None:
    width = max(len(r["name"]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>12}  unit")
    print(f"{'-' * width}  {'-' * 12}  ----")
    for r in rows:
        v = r["value"]
        shown = f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"
        print(f"{r['name']:<{width}}  {shown:>12}  {r['unit']}", flush=True)


def scrub_charts(root: Path) -> list[str]:
    """The first scrub chart of every section that has one."""
    from builder.figures import default_registry
    from builder.figures.context import BuildContext

    first = {}
    for fig in default_registry(BuildContext(root)).figures.values():
        if fig.scrub:
            first.setdefault(fig.section, fig.id)
    return list(first.values())


def main(root: Path = paths.ROOT, quick: bool = False, only: str | None = None) -> int:
    """only: "page" runs the page measures alone (load, read, scrub) on the built site/."""
    site = paths.site_dir(root)
    if only != "page":
        rows = build_rows(root)
        print_table(rows)
        from builder.training import bench as training_bench

        train = training_bench.run(quick=quick)
        print()
        print_table(train)
    if Path(CHROMIUM).exists() and (site / "index.html").exists():
        for throttle in (1, 4):
            print()
            print_table(load_rows(site, throttle, read=not quick))
            print()
            print_table(deep_link_rows(site, throttle))
        for scrub_chart in scrub_charts(root):
            print()
            print_table(scrub_rows(site, scrub_chart, frames=60 if quick else 240))
        print()
        print_table(heatmap_rows(root, site))
    else:
        print("\n(scrub timing skipped: needs /usr/bin/chromium and a built site/, run `make site` first)")
    return 0
