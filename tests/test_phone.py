"""Every figure fits a phone: charts too wide for a phone column have a narrow layout
(Figure.narrow), compiled beside the wide one, that the page draws under its media query."""
from __future__ import annotations

import re

import altair as alt
import pytest

from builder.build import Builder
from builder.errors import BuildError
from builder.render.charts import PHONE_WIDTH, ChartCache, placeholder_html, svg_size, with_narrow
from conftest import REPO

PHONES = ({"width": 360, "height": 740}, {"width": 390, "height": 844})


@pytest.fixture(scope="module")
def article_site(tmp_path_factory, chart_cache):
    out = tmp_path_factory.mktemp("article-phone") / "site"
    Builder(REPO, cache=chart_cache).build(out)
    return out


def open_page(chromium, site, viewport, phone=True):
    context = chromium.new_context(viewport=viewport, has_touch=phone, is_mobile=phone)
    page = context.new_page()
    page.problems, page.requests = [], []
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.on("request", lambda r: page.requests.append(r.url))
    page.goto((site / "index.html").as_uri())
    page.wait_for_function("document.documentElement.dataset.chartsReady === 'true'", timeout=30000)
    return context, page


def embed_all(page):
    page.evaluate("window.article.embedAll()")
    page.wait_for_function("window.article.pending() === 0", timeout=120000)


def narrow_files(page):
    return sorted(re.sub(r".*/charts/", "", u) for u in page.requests if u.endswith(".narrow.js"))


# what each figure draws: its canvas, the box it is drawn in, and how far that box scrolls
SIZES_JS = """() => [...document.querySelectorAll('figure.chart')].map(f => {
    const canvas = f.querySelector('.chart-live canvas'), frame = f.querySelector('.chart-frame'), holder = f.querySelector('.vega');
    return {id: f.id, canvas: canvas ? canvas.getBoundingClientRect().width : null, column: frame.getBoundingClientRect().width,
            scroll: holder.scrollWidth - holder.clientWidth};
})"""


# ---- the build ----------------------------------------------------------------------------
def test_every_chart_too_wide_for_a_phone_has_a_narrow_layout_that_fits(article_site):
    html = (article_site / "index.html").read_text(encoding="utf-8")
    figures = re.findall(r'<figure class="chart[^"]*" id="([^"]+)".*?</figure>', html, re.S)
    assert len(figures) >= 32  # every chart of the article
    for fid in figures:
        block = re.search(rf'<figure class="chart[^"]*" id="{fid}".*?</figure>', html, re.S).group(0)
        wide = re.search(r'<img[^>]*\bwidth="([\d.]+)"', block)
        source = re.search(r'<source media="\(max-width: (\d+)px\)" srcset="figures/([^"]+)"([^>]*)>', block)
        if source is None:  # no narrow layout: the chart is as wide as its column, or fits a phone
            assert wide is None or float(wide.group(1)) <= PHONE_WIDTH, fid
            continue
        assert source.group(2) == f"{fid}.narrow.svg"
        assert (article_site / "charts" / f"{fid}.narrow.js").exists() and (article_site / "figures" / f"{fid}.narrow.svg").exists()
        size = svg_size((article_site / "figures" / f"{fid}.narrow.svg").read_text(encoding="utf-8"))
        assert f'height="{size[1]}"' in source.group(3), fid  # the placeholder reserves the narrow chart's size
        if wide:  # below the media query's width the wide chart would not fit; above it it does
            assert float(size[0]) <= PHONE_WIDTH and f'width="{size[0]}"' in source.group(3), fid
            assert int(source.group(1)) >= float(wide.group(1)) + 40, fid


def _chart(width):
    return alt.Chart(alt.Data(values=[{"x": 1, "y": 2}])).mark_point().encode(x="x:Q", y="y:Q").properties(
        width=width, height=100).add_params(alt.param(name="step", value=0)).to_dict()


def test_a_narrow_layout_must_fit_a_phone_and_gets_a_picture_source():
    cache = ChartCache(None)
    wide = cache.compile("demo-wide", _chart(600))
    chart = with_narrow(wide, cache.compile("demo-wide", _chart(250)))
    html = placeholder_html(chart)
    assert re.search(r'<picture><source media="\(max-width: \d+px\)" srcset="figures/demo-wide.narrow.svg" width="\d+"', html)
    assert '<img src="figures/demo-wide.svg"' in html
    with pytest.raises(BuildError, match="narrow layout .* px wide"):
        with_narrow(wide, cache.compile("demo-wide", _chart(500)))


# ---- in the browser -----------------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.parametrize("viewport", PHONES, ids=lambda v: f"{v['width']}px")
def test_every_figure_fits_a_phone_without_sideways_scrolling(chromium, article_site, viewport):
    context, page = open_page(chromium, article_site, viewport)
    embed_all(page)
    sizes = page.evaluate(SIZES_JS)
    assert len(sizes) >= 32 and all(s["canvas"] for s in sizes), sizes
    too_wide = [s for s in sizes if s["canvas"] > s["column"] + 0.5 or s["scroll"] > 0]
    assert too_wide == []
    assert page.evaluate("document.scrollingElement.scrollWidth") <= viewport["width"]
    assert len(narrow_files(page)) >= 17  # the wide ones drew their narrow layouts
    assert page.evaluate("Object.values(window.article.views()).flat().filter(v => v.narrow).length") == len(narrow_files(page))
    assert page.problems == []
    context.close()


@pytest.mark.browser
def test_a_desktop_draws_the_wide_charts(chromium, article_site):
    context, page = open_page(chromium, article_site, {"width": 1280, "height": 900}, phone=False)
    embed_all(page)
    assert narrow_files(page) == []
    assert page.evaluate("Object.values(window.article.views()).flat().every(v => !v.narrow)")
    # the placeholders showed the wide images too
    shown = page.evaluate("[...document.querySelectorAll('.chart-placeholder img')].map(i => i.currentSrc)")
    assert not [s for s in shown if ".narrow." in s]
    widths = dict((s["id"], s["canvas"]) for s in page.evaluate(SIZES_JS))
    assert widths["sweep-mod-bars"] > 800 and widths["mod-top-weights"] > 500
    context.close()


@pytest.mark.browser
def test_turning_a_phone_redraws_a_chart_in_the_other_layout_with_its_state(chromium, article_site):
    context, page = open_page(chromium, article_site, {"width": 390, "height": 844})
    page.locator("#mod-bot-logits").scroll_into_view_if_needed()
    page.wait_for_function("window.article.live().includes('mod-bot-logits')", timeout=30000)
    logits = "window.article.views()['mod-bot'].find(v => v.id === 'mod-bot-logits')"
    assert page.evaluate(f"{logits}.narrow") is True
    page.evaluate(f"() => {{ {logits}.view.signal('a', 20).run(); }}")  # its own input
    page.evaluate("window.article.setStep('mod-bot', 25000, null)")  # and the section's step
    before = page.locator("#mod-bot-logits canvas").bounding_box()["width"]
    page.set_viewport_size({"width": 844, "height": 390})  # landscape: the wide chart fits
    page.wait_for_function(f"{logits} && {logits}.narrow === false && window.article.pending() === 0", timeout=30000)
    assert page.evaluate(f"{logits}.view.signal('a')") == 20
    assert page.evaluate(f"{logits}.view.signal('step')") == 25000
    after = page.locator("#mod-bot-logits canvas").bounding_box()["width"]
    assert before <= 350 < after
    page.set_viewport_size({"width": 390, "height": 844})  # and back
    page.wait_for_function(f"{logits} && {logits}.narrow === true && window.article.pending() === 0", timeout=30000)
    assert page.evaluate(f"{logits}.view.signal('a')") == 20
    assert page.problems == []
    context.close()
