"""The published article itself, built from content/ and the frozen runs, in headless Chromium."""
from __future__ import annotations

import numpy as np
import pytest

from builder import freeze
from builder.analysis import outcomes
from builder.build import Builder
from builder.figures.context import BuildContext
from conftest import REPO

CTX = BuildContext(REPO)  # the figure modules read the project through a build context

pytestmark = pytest.mark.browser
SECTION = "mod-top"
CHARTS = ("mod-bot-accuracy", "mod-bot-loss", "mod-bot-waves", "mod-bot-dft", "mod-bot-stars", "mod-bot-logits", "mod-bot-seeds", "mod-top-accuracy", "mod-top-weights", "mod-top-waves", "sparse-parity-accuracy", "sparse-parity-loss",
          "sparse-parity-weights", "sparse-parity-trajectories", "sparse-parity-l1-l2", "sweep-sparse-parity-grid",
          "embed-heatmap", "embed-circle", "five-neuron-embed", "five-neuron-accuracy", "five-neuron-weights", "five-neuron-plane",
          "five-neuron-joined", "sweep-mod-bars", "open-q-mem-tiny-accuracy", "open-q-mem-tiny-loss",
          "open-q-mem-tiny-weights", "open-q-mem-again-accuracy", "open-q-mem-again-loss", "open-q-mem-again-weights",
          "progress-losses", "progress-size", "progress-gini", "progress-modes", "progress-toy",
          "groks-accuracy", "groks-ring", "groks-phase", "groks-fraction", "groks-init", "groks-lr")


@pytest.fixture(scope="module")
def article_site(tmp_path_factory, chart_cache):
    out = tmp_path_factory.mktemp("article") / "site"
    Builder(REPO, cache=chart_cache).build(out)
    return out


@pytest.fixture
def page(chromium, article_site):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.problems = []
    page.requests = []
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.on("request", lambda r: page.requests.append(r.url))
    page.goto((article_site / "index.html").as_uri())
    page.wait_for_function("document.documentElement.dataset.chartsReady === 'true'", timeout=30000)
    page.evaluate("window.article.embedAll()")  # every chart, not only those in view
    yield page
    context.close()


def canvas_png(page, chart_id):
    return page.locator(f"#{chart_id} canvas").screenshot()


def step(page):
    return page.evaluate(f"window.article.current['{SECTION}']")


def test_every_id_of_the_built_page_is_unique(article_site):
    """Headings, charts, citations, footnotes and the template share one id space
    (builder.markdown.ids); the link check also refuses a page with an id given twice."""
    from html.parser import HTMLParser

    class Ids(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.ids = []

        def handle_starttag(self, tag, attrs):
            self.ids += [v for k, v in attrs if k == "id"]

    for name in ("index.html",):
        parser = Ids()
        parser.feed((article_site / name).read_text(encoding="utf-8"))
        assert len(parser.ids) > 50 and all(parser.ids)
        repeated = sorted({i for i in parser.ids if parser.ids.count(i) > 1})
        assert not repeated, repeated


def test_article_loads_clean_and_local(page, article_site):
    assert page.problems == []
    site_prefix = article_site.as_uri()
    assert page.requests and all(u.startswith(site_prefix) or u.startswith("data:") for u in page.requests), page.requests
    for chart in CHARTS:
        box = page.locator(f"#{chart} canvas").bounding_box()
        assert box["width"] > 200 and box["height"] > 80, chart
        # painted: the canvas holds more than one colour
        colours = page.evaluate(
            """id => { const c = document.querySelector('#' + id + ' canvas');
                 const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                 const seen = new Set(); for (let i = 0; i < d.length; i += 16) seen.add(d[i] << 16 | d[i+1] << 8 | d[i+2]);
                 return seen.size; }""", chart)
        assert colours > 10, chart


def test_pointer_scrub_moves_both_heatmaps(page):
    acc = page.locator("#mod-top-accuracy canvas")
    acc.scroll_into_view_if_needed()
    box = acc.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.12, box["y"] + box["height"] * 0.5)
    page.wait_for_function(f"window.article.current['{SECTION}'] <= 5000")  # Vega handles it async
    early = canvas_png(page, "mod-top-weights")  # (may scroll the page: measure the chart again)
    acc.scroll_into_view_if_needed()
    box = acc.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] * 0.5)
    page.wait_for_function(f"window.article.current['{SECTION}'] >= 40000")
    late_step = step(page)
    assert late_step % 500 == 0  # snapped to a checkpoint
    assert canvas_png(page, "mod-top-weights") != early
    signals = page.evaluate(
        f"Object.values(window.article.views()['{SECTION}']).filter(v => {{ try {{ v.view.signal('step'); return true; }} catch (e) {{ return false; }} }}).map(v => v.view.signal('step'))")
    assert signals and all(s == late_step for s in signals)


def test_keyboard_scrub(page):
    frame = page.locator("#mod-top-accuracy .chart-frame")
    frame.focus()
    page.keyboard.press("Home")
    assert step(page) == 0
    page.keyboard.press("ArrowRight")
    assert step(page) == 500
    page.keyboard.press("End")
    assert step(page) == 50000
    assert frame.get_attribute("aria-valuenow") == "50000"


def test_hovering_a_neuron_highlights_it_everywhere(page):
    heat = page.locator("#mod-top-weights canvas")
    heat.scroll_into_view_if_needed()
    box = heat.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.25)
    page.wait_for_timeout(100)
    neuron = page.evaluate(f"window.article.hovered['{SECTION}']")
    assert neuron is not None and neuron >= 0
    waves = page.evaluate(
        f"window.article.views()['{SECTION}'].filter(v => v.id === 'mod-top-waves')[0].view.signal('neuron')")
    assert waves == neuron


def test_animate_link_plays_to_the_end(page):
    page.evaluate(f"window.article.setStep('{SECTION}', 0, null)")
    page.locator("button.animate[data-animate='mod-top-generalize']").click()
    page.wait_for_function(f"window.article.current['{SECTION}'] === 50000", timeout=15000)
    page.wait_for_function("document.querySelector('button.animate').getAttribute('aria-pressed') === 'false'", timeout=5000)


def test_phone_layout_has_no_sideways_scroll(chromium, article_site):
    context = chromium.new_context(viewport={"width": 375, "height": 740}, has_touch=True, is_mobile=True)
    page = context.new_page()
    page.goto((article_site / "index.html").as_uri())
    page.wait_for_function("document.documentElement.dataset.chartsReady === 'true'", timeout=30000)
    page.evaluate("window.article.embedAll()")  # every chart, not only those in view
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 375
    context.close()


def test_unwrap_checkbox_redraws_the_waves(page):
    waves = page.locator("#mod-top-waves")
    waves.scroll_into_view_if_needed()
    before = canvas_png(page, "mod-top-waves")
    waves.locator("input[type=checkbox]").uncheck()  # ticked by default: the waves drawn as waves
    page.wait_for_timeout(100)
    assert canvas_png(page, "mod-top-waves") != before


def scrub_start_to_end(page, section, source, target, end):
    """Home then End on the `source` chart (keyboard): the section's step goes 0 -> end and the
    `target` chart redraws."""
    page.locator(f"#{source} .chart-frame").focus()
    page.keyboard.press("Home")
    assert page.evaluate(f"window.article.current['{section}']") == 0
    page.locator(f"#{target}").scroll_into_view_if_needed()
    start = canvas_png(page, target)
    page.locator(f"#{source} .chart-frame").focus()
    page.keyboard.press("End")
    assert page.evaluate(f"window.article.current['{section}']") == end
    page.locator(f"#{target}").scroll_into_view_if_needed()
    assert canvas_png(page, target) != start


def test_parity_section_scrubs_and_plays(page):
    """Section 2: scrubbing either curve moves the heatmap; its two animate links play their phases."""
    scrub_start_to_end(page, "sparse-parity", "sparse-parity-trajectories", "sparse-parity-weights", 4000)
    for anim, end in (("sparse-parity-memorize", 800), ("sparse-parity-generalize", 2400)):
        page.locator(f"button.animate[data-animate='{anim}']").click()
        page.wait_for_function(f"window.article.current['sparse-parity'] === {end}", timeout=15000)
    assert page.evaluate("window.article.current['mod-top']") != 2400  # sections keep their own step


# Marks located through the Vega scenegraph: the page position of the first item (in drawing
# order: the leftmost panel first) of a mark type whose datum has `field`, keyed by that field's
# value (group offsets summed down to the item).
CENTRES_JS = """([section, index, marktype, field]) => {
  const v = window.article.views()[section][index].view;
  const found = {};
  const visit = (node, ox, oy) => {
    if (node.marktype === marktype)
      for (const it of node.items) if (it.datum && it.datum[field] !== undefined && !(it.datum[field] in found)) {
        const b = it.bounds;
        found[it.datum[field]] = [ox + (b.x1 + b.x2) / 2, oy + (b.y1 + b.y2) / 2];
      }
    for (const it of node.items || []) for (const child of it.items || []) visit(child, ox + (it.x || 0), oy + (it.y || 0));
  };
  visit(v.scenegraph().root, 0, 0);
  const box = v.container().querySelector('canvas').getBoundingClientRect();
  const [ox0, oy0] = v.origin(), pad = v.padding();  // the origin excludes the padding
  for (const k in found) found[k] = [box.left + pad.left + ox0 + found[k][0], box.top + pad.top + oy0 + found[k][1]];
  return found;
}"""


def centres(page, section, marktype, field, index=0):
    return page.evaluate(CENTRES_JS, [section, index, marktype, field])


def sweep_state(page):
    texts = page.evaluate("""() => { const out = [];
      const visit = n => { if (n.marktype === 'text') for (const it of n.items) out.push(it.text);
        for (const it of n.items || []) for (const c of it.items || []) visit(c); };
      visit(window.article.views()['sweep-sparse-parity'][0].view.scenegraph().root); return out; }""")
    v = "window.article.views()['sweep-sparse-parity'][0].view"
    return {"texts": texts, "tiles": centres(page, "sweep-sparse-parity", "rect", "cell"),
            **page.evaluate(f"({{demand: {v}.signal('demand'), rows: {v}.data('demand').length, "
                            f"loss: {v}.signal('loss_thr'), ratio: {v}.signal('ratio_thr')}})")}


def shown_counts(state):
    counts = {}
    for text in state["texts"]:
        name, _, n = str(text).rpartition(": ")
        if name in outcomes.CLASSES:
            counts[name] = int(n)
    return counts


def expected_counts(page, loss, ratio):
    """Python's classifier (builder.analysis.outcomes) on the runs the page holds."""
    runs = page.evaluate("window.article.views()['sweep-sparse-parity'][0].view.data('runs')"
                         ".map(d => [d.mtr, d.mte, d.mr])")
    codes = outcomes.classify(*np.array(runs).T, loss, ratio)
    return {k: v for k, v in outcomes.counts(codes).items() if v}


def set_slider(page, name, value, chart="sweep-sparse-parity-grid"):
    page.locator(f"#{chart} input[type=range][name='{name}']").evaluate(
        "(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); }", str(value))


def test_sweep_grid_counts_recolour_and_load_cells_on_demand(page):
    grid = page.locator("#sweep-sparse-parity-grid")
    grid.scroll_into_view_if_needed()
    state = sweep_state(page)
    assert (state["loss"], state["ratio"]) == (1e-5, 5e4)  # the defaults of the issue, exactly
    assert shown_counts(state) == expected_counts(page, 1e-5, 5e4)
    before = canvas_png(page, "sweep-sparse-parity-grid")
    set_slider(page, "loss_exp", -3)
    set_slider(page, "ratio_exp", 3)
    state = sweep_state(page)
    assert (state["loss"], state["ratio"]) == (1e-3, 1e3)
    assert shown_counts(state) == expected_counts(page, 1e-3, 1e3) != expected_counts(page, 1e-5, 5e4)
    assert canvas_png(page, "sweep-sparse-parity-grid") != before
    # no cell's curves in the first load; pointing at a tile loads that cell's nine runs
    assert not [u for u in page.requests if "/data/sweep-sparse-parity-grid/" in u]
    cell = sorted(state["tiles"])[0]
    page.mouse.move(*state["tiles"][cell])
    page.wait_for_function(
        "window.article.views()['sweep-sparse-parity'][0].view.data('demand').length > 0", timeout=10000)
    state = sweep_state(page)
    curve_points = len(freeze.load_sweep("sweep-sparse-parity").arrays["curve_step"])
    assert state["demand"] == cell and state["rows"] == 9 * curve_points
    assert [u for u in page.requests if u.endswith(f"/data/sweep-sparse-parity-grid/{cell}.js")]


def inside_frame(page, chart_id, points, width):
    """The keys of `points` that lie inside the chart's (sideways scrolling) frame on screen
    (a chart taller than the screen: inside the screen too)."""
    frame = page.locator(f"#{chart_id} .chart-frame").bounding_box()
    left, right = max(frame["x"], 0) + 10, min(frame["x"] + frame["width"], width) - 10
    top, bottom = max(frame["y"], 0), min(frame["y"] + frame["height"], page.viewport_size["height"])
    return [k for k, (x, y) in sorted(points.items()) if left < x < right and top < y < bottom]


def phone_page(chromium, article_site):
    context = chromium.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = context.new_page()
    page.goto((article_site / "index.html").as_uri())
    page.wait_for_function("document.documentElement.dataset.chartsReady === 'true'", timeout=30000)
    page.evaluate("window.article.embedAll()")  # every chart, not only those in view
    return context, page


def test_sweep_cell_and_neuron_open_with_a_tap(chromium, article_site):
    context, page = phone_page(chromium, article_site)
    page.locator("#sweep-sparse-parity-grid").scroll_into_view_if_needed()
    tiles = sweep_state(page)["tiles"]
    cell = inside_frame(page, "sweep-sparse-parity-grid", tiles, 390)[0]
    page.touchscreen.tap(*tiles[cell])
    page.wait_for_function(
        "window.article.views()['sweep-sparse-parity'][0].view.signal('demand') !== ''", timeout=10000)
    assert sweep_state(page)["demand"] == cell
    # a tap on a neuron picks it, and it stays picked after the finger lifts
    page.locator("#five-neuron-joined").scroll_into_view_if_needed()
    index = page.evaluate("window.article.views()['five-neuron'].findIndex(v => v.id === 'five-neuron-joined')")
    left = centres(page, "five-neuron", "symbol", "n", index=index)  # the in-projection panel
    neuron = inside_frame(page, "five-neuron-joined", left, 390)[-1]
    page.touchscreen.tap(*left[neuron])
    page.wait_for_timeout(300)
    assert page.evaluate("window.article.hovered['five-neuron']") == int(neuron)
    # the appendix's inputs work on a phone too: the live answer in the prose follows them
    page.locator("#appendix-circles").scroll_into_view_if_needed()
    set_input(page, "b", 40)
    assert page.locator("output.live[data-signal='answer']").inner_text() == str((9 + 40) % 67)
    context.close()


def test_five_neuron_section_scrubs_plays_and_highlights(page):
    scrub_start_to_end(page, "five-neuron", "five-neuron-accuracy", "five-neuron-plane", 15000)
    # pointing at a neuron's point highlights that neuron in the section's charts
    index = page.evaluate("window.article.views()['five-neuron'].findIndex(v => v.id === 'five-neuron-plane')")
    points = centres(page, "five-neuron", "symbol", "n", index=index)
    assert sorted(points) == ["0", "1", "2", "3", "4"]
    page.mouse.move(*points["3"])
    page.wait_for_function("window.article.hovered['five-neuron'] === 3", timeout=5000)
    assert page.evaluate("window.article.views()['five-neuron'].find(v => v.id === 'five-neuron-weights')"
                         ".view.signal('neuron')") == 3
    page.locator("button.animate[data-animate='five-neuron-converge']").click()
    page.wait_for_function("window.article.current['five-neuron'] === 3000", timeout=15000)


def appendix_state(page):
    v = "window.article.views()['appendix'].find(x => x.id === 'appendix-circles').view"
    names = ["a", "b", "s_in", "d_in", "Nn", "Mn", "act", "zx", "zy", "answer", "truth", "dial_top", "lx", "ly", "fx", "fy"]
    state = page.evaluate(f"(() => {{ const v = {v}; return {{{', '.join(f'{n}: v.signal({n!r})' for n in names)}}}; }})()")
    state["prose"] = page.locator("output.live[data-signal='answer']").inner_text()
    return state


def set_input(page, name, value, chart="appendix-circles"):
    page.locator(f"#{chart} input[name='{name}']").evaluate(
        "(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); "
        "el.dispatchEvent(new Event('change', {bubbles: true})); }", str(value))
    page.wait_for_timeout(150)


def test_appendix_inputs_solve_back_and_match_the_python_construction(page):
    from builder.analysis import construction

    page.locator("#appendix-circles").scroll_into_view_if_needed()
    set_input(page, "a", 30)
    s = appendix_state(page)
    assert (s["a"], s["b"], s["s_in"], s["d_in"]) == (30, 15, 45, 15) and s["prose"] == "45"
    set_input(page, "s_in", 50)  # keeps a - b = 15 where it can: 15 + 50 is odd, so 14
    s = appendix_state(page)
    assert (s["a"], s["b"], s["s_in"], s["d_in"]) == (32, 18, 50, 14)
    set_input(page, "d_in", -20)  # keeps the sum
    s = appendix_state(page)
    assert (s["a"], s["b"], s["s_in"], s["d_in"]) == (15, 35, 50, -20)
    set_input(page, "M", 31)  # a smaller modulus clamps b and the sliders' ranges
    s = appendix_state(page)
    assert (s["Mn"], s["a"], s["b"]) == (31, 15, 30)
    assert page.locator("#appendix-circles input[name='a']").get_attribute("max") == "30"
    before = canvas_png(page, "appendix-outputs")
    for n, m, act, a, b in ((5, 31, "ReLU", 15, 30), (6, 31, "ReLU", 0, 2), (4, 31, "x²", 7, 9), (7, 200, "x²", 150, 99)):
        set_input(page, "M", m)
        set_input(page, "N", n)
        page.locator(f"#appendix-circles input[type=radio][value='{act}']").check()
        set_input(page, "a", a)
        set_input(page, "b", b)
        s = appendix_state(page)
        assert (s["Nn"], s["Mn"], s["act"], s["a"], s["b"]) == (n, m, act, a, b)
        z = construction.readout(n, m, "square" if act == "x²" else "relu", a=[a])[0, b]
        assert np.allclose([s["zx"], s["zy"]], z, atol=1e-9), (n, m, act)
        codes, _ = construction.classify(n, m, "square" if act == "x²" else "relu")
        right = codes[a, b] == construction.CORRECT
        assert (s["answer"] == str((a + b) % m)) == right and s["prose"] == s["answer"]
        # the linear first try and the fold, as construction.py computes them
        assert s["dial_top"] == int(construction.dial_scores(m, a)[0, b].argmax())
        linear, folded = (half[0, b] for half in construction.fold_halves(n, m, a))
        assert np.allclose([s["lx"], s["ly"], s["fx"], s["fy"]], [*linear, *folded], atol=1e-9), (n, m)
    assert canvas_png(page, "appendix-outputs") != before


LOGITS_JS = """() => {
  const v = window.article.views()['mod-bot'].find(x => x.id === 'mod-bot-logits').view;
  const out = [];
  const visit = n => { if (n.marktype === 'rect') for (const it of n.items) if (it.datum && it.datum.logit !== undefined)
      out.push([it.datum.group || 'total', it.datum.c, it.datum.logit]);
    for (const it of n.items || []) for (const c of it.items || []) visit(c); };
  visit(v.scenegraph().root); return out;
}"""


def assert_page_logits(page, r, triples):
    """At each (checkpoint index, a, b): the logits the page draws equal Python's, from the same
    quantized weights of run r."""
    from test_mod_bot import page_logits

    page.locator("#mod-bot-logits").scroll_into_view_if_needed()
    for step_index, a, b in triples:
        page.evaluate(f"window.article.setStep('mod-bot', {int(r['step'][step_index])})")
        for name, value in (("a", a), ("b", b)):
            set_input(page, name, value, chart="mod-bot-logits")
        page.wait_for_timeout(200)
        shown = page.evaluate(LOGITS_JS)
        expected = page_logits(r, step_index, a, b)
        assert {g for g, _, _ in shown} == set(expected)
        for group, c, logit in shown:
            assert abs(logit - expected[group][c]) < 1e-6 * max(1.0, abs(expected[group]).max()), (group, c)


def test_logits_computed_in_the_page_match_python(page):
    from builder.figures import mod_bot

    assert_page_logits(page, mod_bot.run(CTX), ((100, 10, 30), (60, 66, 5), (20, 3, 3)))


STAR_KEYS_JS = """() => { const v = window.article.views()['mod-bot'].find(x => x.id === 'mod-bot-stars').view; const ks = {};
  const visit = n => { if (n.marktype === 'symbol') for (const it of n.items) ks[it.datum.k] = (ks[it.datum.k] || 0) + 1;
    for (const it of n.items || []) for (const c of it.items || []) visit(c); };
  visit(v.scenegraph().root); return ks; }"""


def test_choosing_a_sister_run_reloads_every_chart_of_the_section(page):
    """Clicking a small loss chart loads that run's files (and only then) into the four charts:
    its stars, and logits the page computes from its weights, as Python computes them."""
    from builder.figures import mod_bot

    rs = mod_bot.runs(CTX)
    key = next(k for k, r in rs.items() if k != mod_bot.FEATURED and r["reached"] and (r["group_of"] >= 0).all()
               and list(r["groups"]) != list(rs[mod_bot.FEATURED]["groups"]))
    r = rs[key]
    assert not [u for u in page.requests if "/data/mod-bot-" in u]  # the first load holds no sister run
    page.locator("#mod-bot-seeds").scroll_into_view_if_needed()
    index = page.evaluate("window.article.views()['mod-bot'].findIndex(v => v.id === 'mod-bot-seeds')")
    # the grid of 129 runs is taller than the window: bring the run's cell to the middle first
    page.evaluate("y => window.scrollBy(0, y - innerHeight / 2)", centres(page, "mod-bot", "rect", "key", index)[key][1])
    page.mouse.click(*centres(page, "mod-bot", "rect", "key", index)[key])
    page.wait_for_function(f"""() => window.article.views()['mod-bot'].length === 7 && window.article.views()['mod-bot']
        .every(v => v.view.signal('run') === '{key}' && !v.el.hasAttribute('aria-busy'))""", timeout=20000)
    assert page.locator("output.live[data-signal='chosen']").inner_text() == mod_bot.run_label(key, r)
    loaded = sorted(u.rsplit("/data/", 1)[1] for u in page.requests if "/data/mod-bot-" in u)
    assert loaded == sorted(f"{c}/run-{key}.js" for c in ("mod-bot-accuracy", "mod-bot-dft", "mod-bot-logits", "mod-bot-loss",
                                                          "mod-bot-stars", "mod-bot-waves"))
    stars = page.evaluate(STAR_KEYS_JS)  # at the last step: one point per neuron of each key frequency
    assert {int(k): n for k, n in stars.items()} == {k: 2 * len(v) for k, v in r["groups"].items()}
    assert_page_logits(page, r, ((len(r["step"]) - 1, 10, 30), (len(r["step"]) // 2, 5, 60)))
    assert page.problems == []


def test_the_late_improvement_link_loads_its_run_and_plays_it(page):
    from builder.figures import mod_bot

    button = page.locator("button.animate[data-animate='mod-bot-late']")
    button.scroll_into_view_if_needed()
    button.click()
    page.wait_for_function(f"""() => window.article.current['mod-bot'] === {mod_bot.LATE[1]}
        && window.article.views()['mod-bot'].length === 7
        && window.article.views()['mod-bot'].every(v => v.view.signal('run') === '{mod_bot.LATE_RUN}')""", timeout=20000)
    assert page.evaluate("document.querySelector('#mod-bot-seeds select').value") == mod_bot.LATE_RUN
    assert page.problems == []


def test_the_first_load_holds_no_sister_run(article_site):
    """Section 5's other runs live only in their data/*.js files: none of their tables is in the page."""
    html = (article_site / "index.html").read_text(encoding="utf-8")
    files = sorted((article_site / "data" / "mod-bot-dft").glob("run-*.js"))
    assert len(files) >= 33
    for file in files[1:4]:
        text = file.read_text(encoding="utf-8")
        packed_rows = [w for w in text.split('"w":"')[1:] if len(w) > 200]
        assert packed_rows, file
        assert all(row[:200] not in html for row in packed_rows[:5]), file


# ---- section 6 ---------------------------------------------------------------------------------
MOD_V = "window.article.views()['sweep-mod'][0].view"


def sweep_mod_state(page):
    texts = page.evaluate("""() => { const out = [];
      const visit = n => { if (n.marktype === 'text') for (const it of n.items) out.push(it.text);
        for (const it of n.items || []) for (const c of it.items || []) visit(c); };
      visit(window.article.views()['sweep-mod'][0].view.scenegraph().root); return out; }""")
    return {"texts": texts, **page.evaluate(f"({{arch: {MOD_V}.signal('arch'), reg: {MOD_V}.signal('reg'), "
                                            f"demand: {MOD_V}.signal('demand'), rows: {MOD_V}.data('demand').length, "
                                            f"loss: {MOD_V}.signal('loss_thr'), ratio: {MOD_V}.signal('ratio_thr')}})")}


def sweep_mod_expected(page, reg, arch, loss, ratio):
    runs = page.evaluate(f"{MOD_V}.data('runs').filter(d => d.reg === '{reg}' && d.case === {arch}).map(d => [d.mtr, d.mte, d.mr])")
    codes = outcomes.classify(*np.array(runs).T, loss, ratio)
    return {k: v for k, v in outcomes.counts(codes).items() if v}


def bar_centres(page):
    """Page positions of the architecture bars, keyed by regularizer and case ("L14")."""
    return page.evaluate(CENTRES_JS.replace("found[it.datum[field]] =", "found[it.datum.reg + it.datum[field]] ="),
                         ["sweep-mod", 0, "rect", "case"])


def visible_formulas(page):
    return page.evaluate("""[...document.querySelectorAll("div.when[data-section='sweep-mod']")]
        .filter(d => !d.hidden).map(d => d.dataset.value)""")


def test_architecture_bars_pick_a_formula_grid_and_curves(page):
    from builder.figures import sweep_mod

    chart = page.locator("#sweep-mod-bars")
    chart.scroll_into_view_if_needed()
    state = sweep_mod_state(page)
    loss, ratio = sweep_mod.LOSS_THRESHOLD, sweep_mod.RATIO_THRESHOLD
    assert (state["arch"], state["reg"], state["loss"], state["ratio"]) == (0, "L2", loss, ratio)
    assert shown_counts(state) == sweep_mod_expected(page, "L2", 0, loss, ratio)
    assert visible_formulas(page) == ["0"]  # the other eight formulas are hidden
    # click the L1 bar of architecture 4: its formula, its runs' counts
    bars = bar_centres(page)
    page.mouse.click(*bars["L14"])
    page.wait_for_function(f"{MOD_V}.signal('arch') === 4 && {MOD_V}.signal('reg') === 'L1'")
    assert visible_formulas(page) == ["4"]
    assert shown_counts(sweep_mod_state(page)) == sweep_mod_expected(page, "L1", 4, loss, ratio)
    # the list under the chart does the same from the keyboard
    page.locator("#sweep-mod-bars select").focus()
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    page.wait_for_function(f"{MOD_V}.signal('arch') === 7")
    assert visible_formulas(page) == ["7"]
    assert page.locator("output.live[data-signal='arch_name']").inner_text() == sweep_mod.arch_label(sweep_mod.cases(CTX)[7])
    # sliders recolour; a cell's curves load only when pointed at
    set_slider(page, "loss_exp", -6, chart="sweep-mod-bars")
    assert sweep_mod_state(page)["loss"] == 1e-6
    assert shown_counts(sweep_mod_state(page)) == sweep_mod_expected(page, "L1", 7, 1e-6, ratio)
    assert not [u for u in page.requests if "/data/sweep-mod-bars/" in u]
    tiles = centres(page, "sweep-mod", "rect", "cell")
    cell = sorted(tiles)[0]
    assert cell.startswith("l1-7-")
    page.mouse.move(*tiles[cell])
    page.wait_for_function(f"{MOD_V}.data('demand').length > 0", timeout=10000)
    curve_points = len(freeze.load_sweep("sweep-mod-l1").arrays["curve_step"])
    assert sweep_mod_state(page)["rows"] == 3 * curve_points
    assert [u for u in page.requests if u.endswith(f"/data/sweep-mod-bars/{cell}.js")]
    assert page.problems == []


@pytest.mark.parametrize("key", ["tiny", "again"])
def test_memorization_sections_scrub_their_own_heatmaps(page, key):
    from builder.figures import open_q_mem
    from builder.training import config

    run = next(r for r in open_q_mem.RUNS if r.key == key)
    end = config.get(run.experiment, REPO).resolve("full")["steps"]
    scrub_start_to_end(page, run.section, f"open-q-mem-{key}-loss", f"open-q-mem-{key}-weights", end)
    assert page.evaluate(f"window.article.current['{run.section}']") == end
    other = next(s for s in open_q_mem.sections(CTX) if s.key != run.section)
    assert page.evaluate(f"window.article.current['{other.key}']") == other.initial  # each run keeps its own step


def test_a_sister_run_can_be_chosen_from_the_keyboard(page):
    """The list under the small multiples: arrow keys on the focused list load the next run."""
    select = page.locator("#mod-bot-seeds select")
    select.scroll_into_view_if_needed()
    first = select.evaluate("el => el.options[1].value")
    select.focus()
    page.keyboard.press("ArrowDown")
    page.wait_for_function(f"""() => window.article.views()['mod-bot']
        .every(v => v.view.signal('run') === '{first}' && !v.el.hasAttribute('aria-busy'))""", timeout=20000)
    assert [u for u in page.requests if u.endswith(f"/data/mod-bot-dft/run-{first}.js")]
    assert page.problems == []


def test_an_architecture_bar_opens_with_a_tap(chromium, article_site):
    context, page = phone_page(chromium, article_site)
    page.locator("#sweep-mod-bars").scroll_into_view_if_needed()
    bars = bar_centres(page)
    key = inside_frame(page, "sweep-mod-bars", {k: v for k, v in bars.items() if k != "L20"}, 390)[0]
    page.touchscreen.tap(*bars[key])
    page.wait_for_function(f"{MOD_V}.signal('reg') + {MOD_V}.signal('arch') === '{key}'", timeout=10000)
    assert visible_formulas(page) == [key[2:]]
    context.close()


def test_a_sister_run_opens_with_a_tap(chromium, article_site):
    from builder.figures import mod_bot

    context, page = phone_page(chromium, article_site)
    page.locator("#mod-bot-seeds").scroll_into_view_if_needed()
    index = page.evaluate("window.article.views()['mod-bot'].findIndex(v => v.id === 'mod-bot-seeds')")
    cells = {k: v for k, v in centres(page, "mod-bot", "rect", "key", index).items() if k != mod_bot.FEATURED}
    key = inside_frame(page, "mod-bot-seeds", cells, 390)[0]
    page.touchscreen.tap(*cells[key])
    page.wait_for_function(f"""() => window.article.views()['mod-bot']
        .every(v => v.view.signal('run') === '{key}' && !v.el.hasAttribute('aria-busy'))""", timeout=20000)
    context.close()


@pytest.mark.parametrize("chart", ["mod-top-weights", "sweep-mod-bars"])
def test_a_finger_on_a_chart_still_scrolls_the_page(chromium, article_site, chart):
    """Vega cancels the default of the events it listens to, which stopped a finger that lands
    on a chart from scrolling the page (0 px before the fix); the page lets touches through."""
    context, page = phone_page(chromium, article_site)
    canvas = page.locator(f"#{chart} canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    x, y = box["x"] + 60, box["y"] + min(box["height"] - 5, 350)
    before = page.evaluate("window.scrollY")
    cdp = context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for i in range(1, 11):  # a slow upward swipe of 300 px
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y - 30 * i}]})
        page.wait_for_timeout(16)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    page.wait_for_function(f"window.scrollY - {before} > 200", timeout=5000)
    context.close()


def test_the_math_font_has_every_character_the_article_uses(article_site):
    """The shipped math font is a subset (builder/render/fonts.py): every character in the
    page's MathML, and the italic form a one-letter variable is drawn in, lies in its ranges."""
    import html as html_lib
    import re

    from builder.render import fonts

    def covered(ch):
        return any(lo <= ord(ch) <= hi for lo, hi in fonts.RANGES)

    page = (article_site / "index.html").read_text(encoding="utf-8")
    maths = re.findall(r"<math.*?</math>", page, re.S)
    assert len(maths) > 50
    chars = {c for m in maths for c in html_lib.unescape(re.sub(r"<[^>]+>", "", m)) if not c.isspace()}
    assert [c for c in sorted(chars) if not covered(c)] == []
    letters = {html_lib.unescape(x) for m in maths for x in re.findall(r"<mi>([^<])</mi>", m)}
    italic = {c: chr(0x1D44E + ord(c) - ord("a")) if c.islower() else chr(0x1D434 + ord(c) - ord("A"))
              for c in letters if "a" <= c.lower() <= "z" and c != "h"}  # (italic h is U+210E)
    assert letters and [c for c, it in sorted(italic.items()) if not covered(it)] == []


# ---- lazy embedding: what a reader gets, without embedAll ------------------------------------
@pytest.fixture
def lazy_page(chromium, article_site):
    """The article from file://, as a reader opens it: only the charts near the viewport embed."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.problems, page.requests = [], []
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.on("request", lambda r: page.requests.append(r.url))
    page.goto((article_site / "index.html").as_uri())
    page.wait_for_function("document.documentElement.dataset.chartsReady === 'true'", timeout=30000)
    yield page
    context.close()


def live_charts(page):
    return set(page.evaluate("window.article.live()"))


def settle(page, chart_id=None):
    """Wait until the embedding queue is empty (and `chart_id` is embedded)."""
    cond = "window.article.pending() === 0" + (f" && window.article.live().includes('{chart_id}')" if chart_id else "")
    page.wait_for_function(cond, timeout=30000)


def spec_requests(page):
    return sorted(u.rsplit("/charts/", 1)[1] for u in page.requests if "/charts/" in u and "/shared/" not in u)


def test_the_first_load_embeds_only_the_charts_near_the_viewport(lazy_page):
    page = lazy_page
    live = live_charts(page)
    assert live and len(live) < len(CHARTS) // 3
    near = page.evaluate("""() => [...document.querySelectorAll('figure.chart')].filter(f => {
        const r = f.getBoundingClientRect(); return r.bottom > -innerHeight && r.top < 2 * innerHeight; }).map(f => f.id)""")
    assert live <= set(near)
    assert spec_requests(page) == sorted(f"{c}.js" for c in live)  # no other chart's spec was loaded
    # every chart not embedded holds its place with its static image
    for chart in set(CHARTS) - live:
        assert page.locator(f"#{chart} .chart-placeholder img").get_attribute("src") == f"figures/{chart}.svg"
    assert page.problems == []


def test_a_chart_embedded_late_shows_the_sections_current_step(lazy_page):
    page = lazy_page
    assert "five-neuron-plane" not in live_charts(page)
    page.locator("#five-neuron-accuracy .chart-frame").evaluate("el => el.focus({preventScroll: true})")
    page.keyboard.press("End")  # the step changes while none of the section's charts is embedded
    assert page.evaluate("window.article.current['five-neuron']") == 15000
    assert page.locator("#five-neuron-accuracy .chart-frame").get_attribute("aria-valuenow") == "15000"
    page.locator("#five-neuron-plane").scroll_into_view_if_needed()
    settle(page, "five-neuron-plane")
    # (the section's fixed W_embed matrix has no step)
    steps = page.evaluate("window.article.views()['five-neuron'].filter(v => v.has.step).map(v => v.view.signal('step'))")
    assert steps and all(s == 15000 for s in steps)


def test_an_animate_button_below_the_fold_plays(lazy_page):
    from builder.figures import open_q_mem

    page = lazy_page
    anim = "open-q-mem-again-play"
    button = page.locator(f"button.animate[data-animate='{anim}']")
    section = button.get_attribute("data-section")
    assert not [c for c in live_charts(page) if c.startswith("open-q-mem-again")]
    button.scroll_into_view_if_needed()
    button.click()
    end = next(a for a in open_q_mem.animations(CTX) if a.id == anim).end
    page.wait_for_function(f"window.article.current['{section}'] === {end}", timeout=30000)
    shown = page.evaluate(f"window.article.views()['{section}'].map(v => v.view.signal('step'))")
    assert shown and all(s == end for s in shown)  # the charts in view played it


def test_a_chosen_run_reaches_the_charts_embedded_later(lazy_page):
    """Pick a sister run, scroll far away (the section's charts are finalized), come back: each
    chart embeds again with that run's data, and the prose names it."""
    from builder.figures import mod_bot

    page = lazy_page
    key = next(k for k, r in mod_bot.runs(CTX).items() if k != mod_bot.FEATURED and r["reached"])
    page.locator("#mod-bot-seeds").scroll_into_view_if_needed()
    settle(page, "mod-bot-seeds")
    page.locator("#mod-bot-seeds select").select_option(key)
    page.wait_for_function(f"window.article.state['mod-bot'].run === '{key}'")
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_function("!window.article.live().some(c => c.startsWith('mod-bot'))", timeout=30000)
    for chart in ("mod-bot-dft", "mod-bot-stars", "mod-bot-logits", "mod-bot-loss", "mod-bot-waves"):
        page.locator(f"#{chart}").scroll_into_view_if_needed()
        settle(page, chart)
        assert page.evaluate(f"window.article.views()['mod-bot'].find(v => v.id === '{chart}').view.signal('run')") == key
        assert [u for u in page.requests if u.endswith(f"/data/{chart}/run-{key}.js")]
    assert page.locator("output.live[data-signal='chosen']").inner_text() == mod_bot.run_label(key, mod_bot.runs(CTX)[key])
    assert page.problems == []


def test_no_chart_changes_the_layout_when_it_is_drawn(chromium, article_site):
    """Each placeholder has the size of the chart that replaces it: the figures' boxes are the
    same before and after every chart is embedded, on a desktop and on a phone."""
    for viewport in ({"width": 1280, "height": 900}, {"width": 390, "height": 844}):
        context = chromium.new_context(viewport=viewport)
        page = context.new_page()
        page.goto((article_site / "index.html").as_uri())
        page.wait_for_function("document.documentElement.dataset.chartsReady === 'true'", timeout=30000)
        boxes = "() => Object.fromEntries([...document.querySelectorAll('figure.chart')].map(f => [f.id, f.getBoundingClientRect().height]))"
        placeholders = page.evaluate(boxes)
        page.evaluate("window.article.embedAll()")
        drawn = page.evaluate(boxes)
        assert {k: v for k, v in drawn.items() if abs(v - placeholders[k]) > 0.5} == {}, (viewport, placeholders)
        context.close()


def test_parity_trajectories_mark_the_step_set_elsewhere(page):
    """The trajectories chart draws the section's step as a rule, whoever set it."""
    page.locator("#sparse-parity-trajectories").scroll_into_view_if_needed()
    page.evaluate("window.article.setStep('sparse-parity', 1000, null)")
    page.wait_for_timeout(150)
    at_1000 = canvas_png(page, "sparse-parity-trajectories")
    page.evaluate("window.article.setStep('sparse-parity', 3000, null)")
    page.wait_for_timeout(150)
    signal = page.evaluate("window.article.views()['sparse-parity']"
                           ".filter(v => v.id === 'sparse-parity-trajectories')[0].view.signal('step')")
    assert signal == 3000
    assert canvas_png(page, "sparse-parity-trajectories") != at_1000


def test_the_progress_section_shows_any_run_and_its_phases(page):
    """Picking a sister run in the progress section loads its measures into the four scrubbed
    charts, and the prose's phase boundaries become that run's."""
    from builder.figures import hidden_progress as hp

    runs = hp.measures(CTX)
    key = next(k for k, m in runs.items() if k != hp.FEATURED and m["run"]["reached"])
    page.locator("#progress-losses").scroll_into_view_if_needed()
    page.locator("#progress-losses select").select_option(key)
    charts = ("progress-losses", "progress-size", "progress-gini", "progress-modes")
    page.wait_for_function(f"""() => window.article.views()['progress'].filter(v => v.id !== 'progress-toy')
        .every(v => v.view.signal('run') === '{key}' && !v.el.hasAttribute('aria-busy'))""", timeout=20000)
    for chart in charts:
        assert [u for u in page.requests if u.endswith(f"/data/{chart}/run-{key}.js")], chart
    shown = hp.phase_signals(runs[key]["phases"])
    for name in ("memorized", "formed", "done"):
        assert page.locator(f"output.live[data-section='progress'][data-signal='{name}']").inner_text() == shown[name]
    rows = page.evaluate("window.article.views()['progress'].find(v => v.id === 'progress-losses').view.data('losses').length")
    assert rows == 4 * len(runs[key]["step"])
    assert page.problems == []


def test_the_toy_redraws_for_the_settings_picked(page):
    toy = page.locator("#progress-toy")
    toy.scroll_into_view_if_needed()
    before = canvas_png(page, "progress-toy")
    toy.locator("select").select_option("1")
    page.wait_for_timeout(200)
    assert canvas_png(page, "progress-toy") != before


def groks_phase_state(page):
    v = "window.article.views()['groks'][2].view"
    texts = page.evaluate(f"""() => {{ const out = [];
      const visit = n => {{ if (n.marktype === 'text') for (const it of n.items) out.push([it.datum && it.datum.opt, it.datum && it.datum.phase, it.text]);
        for (const it of n.items || []) for (const c of it.items || []) visit(c); }};
      visit({v}.scenegraph().root); return out; }}""")
    return {"counts": {(o, p): int(t) for o, p, t in texts if o and p},
            "tiles": centres(page, "groks", "rect", "cell", index=2),
            **page.evaluate(f"({{demand: {v}.signal('demand'), rows: {v}.data('demand').length, gap: {v}.signal('gap'),"
                            f" runs: {v}.data('runs').map(d => [d.opt, d.tr, d.te])}})")}


def test_the_ring_scrubs_with_its_run_and_the_phase_diagram_reclassifies(page):
    """What makes a model grok: scrubbing the embedding run's accuracy redraws the ring; the
    phase counts are Python's rule (builder.analysis.grokking) at the slider's gap, before and
    after moving it; pointing at a cell loads its seeds' accuracy curves."""
    from builder.analysis import grokking
    scrub_start_to_end(page, "groks", "groks-accuracy", "groks-ring", 50000)
    page.locator("#groks-phase").scroll_into_view_if_needed()

    def expected(state):
        out = {}
        for opt, tr, te in state["runs"]:
            phase = grokking.PHASES[grokking.classify([tr], [te], state["gap"])[0]]
            out[(opt, phase)] = out.get((opt, phase), 0) + 1
        return out

    state = groks_phase_state(page)
    assert state["gap"] == grokking.GAP and state["counts"] == expected(state)
    before = canvas_png(page, "groks-phase")
    set_slider(page, "gap_exp", 2, chart="groks-phase")
    state = groks_phase_state(page)
    assert state["gap"] == 100 and state["counts"] == expected(state)
    assert canvas_png(page, "groks-phase") != before
    assert not [u for u in page.requests if "/data/groks-phase/" in u]
    cell = sorted(state["tiles"])[0]
    page.mouse.move(*state["tiles"][cell])
    page.wait_for_function("window.article.views()['groks'][2].view.data('demand').length > 0", timeout=10000)
    state = groks_phase_state(page)
    seeds = sum(1 for row in page.evaluate("window.article.views()['groks'][2].view.data('runs')") if row["cell"] == cell)
    assert state["demand"] == cell and state["rows"] == seeds * 101
    assert page.problems == []


@pytest.mark.parametrize("width", [1280, 1024])
def test_no_chart_is_wider_than_its_frame_on_a_desktop(chromium, article_site, width):
    """Beside the prose (::: sticky) a chart's column is about 520 px: a chart drawn wider would
    cover the text next to it (a frame only scrolls sideways on a phone)."""
    context = chromium.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto((article_site / "index.html").as_uri())
    page.wait_for_function("document.documentElement.dataset.chartsReady === 'true'", timeout=30000)
    page.evaluate("window.article.embedAll()")
    page.wait_for_function("window.article.pending() === 0", timeout=60000)
    sizes = page.evaluate("""() => [...document.querySelectorAll('.chart-frame')].map(f => {
        const c = f.querySelector('canvas');
        return [f.closest('[id]').id, f.clientWidth, c ? c.getBoundingClientRect().width : null]; })""")
    assert len([s for s in sizes if s[2]]) >= len(CHARTS)
    assert [s for s in sizes if s[2] and s[2] > s[1] + 1] == []
    context.close()
