"""Data loaded on demand: data/<chart>/<key>.js files, fetched by a script tag when asked for."""
from __future__ import annotations

import pytest

from conftest import FRONT

PAGE = FRONT + "Point at a bar.\n\n{{< chart demo-detail >}}\n"


@pytest.fixture
def detail_site(make_project, build):
    root = make_project(index=PAGE, name="demand")
    build(root)
    return root / "site"


def test_payloads_are_files_not_in_the_page(detail_site):
    files = sorted(p.name for p in (detail_site / "data" / "demo-detail").glob("*.js"))
    assert files == ["AAPL.js", "IBM.js", "MSFT.js"]
    page = (detail_site / "index.html").read_text()
    one = (detail_site / "data" / "demo-detail" / "IBM.js").read_text()
    assert one.startswith('(window.ARTICLE_DATA = window.ARTICLE_DATA || {})["demo-detail/IBM"] = [')
    assert '"month":' in one and '"month":' not in page  # the rows stay out of the first load


@pytest.mark.browser
def test_pointing_at_a_bar_loads_its_file(chromium, detail_site):
    page = chromium.new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto((detail_site / "index.html").as_uri())
    page.wait_for_function("document.documentElement.dataset.chartsReady === 'true'")
    assert not [u for u in requests if "/data/" in u]
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
