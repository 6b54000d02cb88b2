"""The published article itself, built from content/ and the frozen runs, in headless Chromium."""
from __future__ import annotations

import pytest

from builder.build import Builder
from conftest import REPO

pytestmark = pytest.mark.browser
SECTION = "mod-top"
CHARTS = ("mod-top-accuracy", "mod-top-weights", "mod-top-waves", "sparse-parity-accuracy", "sparse-parity-loss",
          "sparse-parity-weights", "sparse-parity-trajectories", "sparse-parity-l1-l2")


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
    yield page
    context.close()


def canvas_png(page, chart_id):
    return page.locator(f"#{chart_id} canvas").screenshot()


def step(page):
    return page.evaluate(f"window.article.current['{SECTION}']")


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
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 375
    context.close()


def test_unwrap_checkbox_redraws_the_waves(page):
    waves = page.locator("#mod-top-waves")
    waves.scroll_into_view_if_needed()
    before = canvas_png(page, "mod-top-waves")
    waves.locator("input[type=checkbox]").check()
    page.wait_for_timeout(100)
    assert canvas_png(page, "mod-top-waves") != before


def test_parity_section_scrubs_and_plays(page):
    """Section 2: scrubbing either curve moves the heatmap; its two animate links play their phases."""
    weights = page.locator("#sparse-parity-weights")
    traj = page.locator("#sparse-parity-trajectories .chart-frame")
    traj.focus()
    page.keyboard.press("Home")
    assert page.evaluate("window.article.current['sparse-parity']") == 0
    start = canvas_png(page, "sparse-parity-weights")
    page.locator("#sparse-parity-trajectories .chart-frame").focus()
    page.keyboard.press("End")
    assert page.evaluate("window.article.current['sparse-parity']") == 4000
    weights.scroll_into_view_if_needed()
    assert canvas_png(page, "sparse-parity-weights") != start
    for anim, end in (("sparse-parity-memorize", 800), ("sparse-parity-generalize", 2400)):
        page.locator(f"button.animate[data-animate='{anim}']").click()
        page.wait_for_function(f"window.article.current['sparse-parity'] === {end}", timeout=15000)
    assert page.evaluate("window.article.current['mod-top']") != 2400  # sections keep their own step
