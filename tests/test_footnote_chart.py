"""A chart inside a footnote: live in the Footnotes section, its static image in the popup."""
from __future__ import annotations

import pytest

from conftest import FRONT

PAGE = FRONT + "Text with a note.[^pic]\n\n[^pic]: The picture:\n\n    {{< chart demo-bars >}}\n"


@pytest.mark.browser
def test_footnote_popup_shows_the_charts_static_image(make_project, build, chromium):
    root = make_project(index=PAGE, name="fnchart")
    build(root)
    site = root / "site"
    assert (site / "figures" / "demo-bars.svg").is_file()
    page = chromium.new_page()
    page.goto((site / "index.html").as_uri())
    page.wait_for_function("document.documentElement.dataset.chartsReady === 'true'")
    page.evaluate("window.article.embedAll()")  # every chart, not only those in view
    assert page.locator("#footnotes #demo-bars canvas").count() == 1  # live in the section
    page.locator(".footnote-ref a").hover()
    popup = page.locator("#popup")
    popup.wait_for(state="visible")
    img = popup.locator("img.popup-chart")
    assert img.get_attribute("src") == "figures/demo-bars.svg"
    page.wait_for_function("document.querySelector('#popup img.popup-chart').naturalWidth > 0")
    assert popup.locator("canvas").count() == 0
    page.close()
