"""Data loaded on demand: data/<chart>/<key>.js files, fetched by a script tag when asked for:
one chart's `demand` table, or a whole section's run (with_variants)."""
from __future__ import annotations

import pytest

from builder.errors import BuildError

from conftest import FRONT

PAGE = FRONT + "Point at a bar.\n\n{{< chart demo-detail >}}\n"


def built(make_project, build, index: str, name: str):
    root = make_project(index=index, name=name)
    build(root)
    return root / "site"


@pytest.fixture
def detail_site(make_project, build):
    return built(make_project, build, PAGE, "demand")


def payloads(site, chart: str, one: str) -> tuple[list[str], str, str]:
    """(the chart's data file names, the page's text, the text of data/<chart>/<one>.js)."""
    folder = site / "data" / chart
    return (sorted(p.name for p in folder.glob("*.js")), (site / "index.html").read_text(),
            (folder / f"{one}.js").read_text())


def test_payloads_are_files_not_in_the_page(detail_site):
    files, page, one = payloads(detail_site, "demo-detail", "IBM")
    assert files == ["AAPL.js", "IBM.js", "MSFT.js"]
    assert one.startswith('(window.ARTICLE_DATA = window.ARTICLE_DATA || {})["demo-detail/IBM"] = [')
    assert '"month":' in one and '"month":' not in page  # the rows stay out of the first load


def opened(chromium, site):
    """A page of the built site, ready, with the requests it makes; none yet for data files."""
    page = chromium.new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto((site / "index.html").as_uri())
    page.wait_for_function("document.documentElement.dataset.chartsReady === 'true'")
    page.evaluate("window.article.embedAll()")  # every chart, not only those in view
    assert not [u for u in requests if "/data/" in u]
    return page, requests


@pytest.mark.browser
def test_pointing_at_a_bar_loads_its_file(chromium, detail_site):
    page, requests = opened(chromium, detail_site)
    canvas = page.locator("#demo-detail canvas")
    box = canvas.bounding_box()
    # the first bar (AAPL, sorted by name) is the leftmost of the left chart, 150 px tall
    page.mouse.move(box["x"] + 60, box["y"] + 100)
    page.wait_for_function("window.ARTICLE_DATA && window.ARTICLE_DATA['demo-detail/AAPL']", timeout=10000)
    loaded = [u for u in requests if "/data/" in u]
    assert len(loaded) == 1 and loaded[0].endswith("/data/demo-detail/AAPL.js")
    assert all(u.startswith(detail_site.as_uri()) for u in requests)
    rows = page.evaluate("window.article.views()['demo'][0].view.data('demand').length")
    assert rows == 12
    page.close()


PICK = FRONT + "Click a stock.\n\n{{< chart pick-bars >}}\n\n{{< chart pick-detail >}}\n"


@pytest.fixture
def pick_site(make_project, build):
    return built(make_project, build, PICK, "pick")


def test_each_variant_is_a_file_and_the_page_keeps_only_the_first(pick_site):
    files, page, aapl = payloads(pick_site, "pick-detail", "run-AAPL")
    assert files == ["run-AAPL.js", "run-IBM.js", "run-MSFT.js"]
    assert '"label":"AAPL, monthly"' in aapl and "AAPL, monthly" not in page


def test_a_variant_must_swap_what_the_chart_has(make_project, build):
    root = make_project(index=FRONT + "{{< chart pick-bad >}}\n", name="bad")
    with pytest.raises(BuildError, match='chart "pick-bad" does not compile: variant "AAPL" swaps data "nope", '
                                         'which the compiled chart does not have'):
        build(root)


@pytest.mark.browser
def test_choosing_a_run_swaps_the_other_charts_data_from_file_urls(chromium, pick_site):
    page, requests = opened(chromium, pick_site)
    detail = "window.article.views()['pick'].find(v => v.id === 'pick-detail').view"
    first = page.evaluate(f"{detail}.data('prices').map(d => d.price)")
    box = page.locator("#pick-bars canvas").bounding_box()
    page.mouse.click(box["x"] + 64, box["y"] + 130)  # the middle of the leftmost bar: AAPL
    page.wait_for_function(f"{detail}.signal('label') === 'AAPL, monthly'", timeout=10000)
    shown = page.evaluate(f"{detail}.data('prices').map(d => d.price)")
    from demo_figures import monthly_2005
    assert shown == [row["price"] for row in monthly_2005()["AAPL"]] != first
    assert [u.rsplit("/data/", 1)[1] for u in requests if "/data/" in u] == ["pick-detail/run-AAPL.js"]
    # the keyboard: the bound list sets the same run; going back to the first loads its file
    page.locator("#pick-bars select").select_option("IBM")
    page.wait_for_function(f"{detail}.signal('label') === 'IBM, monthly'", timeout=10000)
    assert page.evaluate(f"{detail}.data('prices').map(d => d.price)") == first
    assert not page.evaluate("document.querySelector('#pick-detail .chart-frame').hasAttribute('aria-busy')")
    page.close()
