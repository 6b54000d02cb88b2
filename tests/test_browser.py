"""The built demo page in headless Chromium, opened from file:// and over http.

No console errors, no request outside the site, every chart painted, scrubbing/keyboard/animate
drive the section's step and redraw the linked chart, popups open on hover and on focus inside
the viewport (at the bottom on a phone), MathML laid out.
"""
from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

MODES = ["file", "http"]
READY = "document.documentElement.dataset.chartsReady === 'true'"

# Sum of a canvas's pixels, weighted by position, plus the count of painted (non-transparent) pixels.
CANVAS_STATS = """(sel) => {
  const c = document.querySelector(sel);
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let painted = 0, sum = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3] > 0) painted++;
    sum = (sum + (d[i] + 3 * d[i + 1] + 7 * d[i + 2] + 11 * d[i + 3]) * (1 + (i / 4) % 97)) % 1000000007;
  }
  return {painted, sum, total: d.length / 4};
}"""


class Opened:
    """A page of the demo site with everything it logged and requested."""

    def __init__(self, browser, url: str, site: Path, base: str, viewport=None, **context):
        self.context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900}, **context)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.site, self.base = site, base
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url)
        self.page.wait_for_function(READY, timeout=20_000)
        self.page.evaluate("window.article.embedAll()")  # every chart, not only those in view

    def _console(self, message) -> None:
        if message.type != "error":
            return
        self.errors.append(f"console: {message.text} ({message.location.get('url')})")

    def offsite(self) -> list[str]:
        site = self.site.resolve().as_uri() + "/"
        allowed = (site, self.base, "data:", "blob:", "about:")
        return [u for u in self.requests if not u.startswith(allowed)]

    def close(self):
        self.context.close()


def _url(mode, demo_site, request) -> tuple[str, str]:
    if mode == "file":
        index = (demo_site / "index.html").resolve().as_uri()
        return index, "file:///nonexistent-base/"
    base = request.getfixturevalue("http_site")
    return base + "index.html", base


@pytest.fixture(scope="module", params=MODES)
def loaded(request, chromium, demo_site, tmp_path_factory):
    """The demo page loaded once per mode (for read-only checks); one screenshot per mode."""
    url, base = _url(request.param, demo_site, request)
    opened = Opened(chromium, url, demo_site, base)
    shots = tmp_path_factory.mktemp("screenshots")
    opened.screenshot = shots / f"demo-{request.param}.png"
    opened.page.screenshot(path=str(opened.screenshot), full_page=True)
    yield opened
    opened.close()


@pytest.fixture(params=MODES)
def fresh(request, chromium, demo_site):
    """open(viewport=None) -> a newly loaded demo page (for checks that change its state)."""
    pages = []

    def open_(viewport=None, **context):
        url, base = _url(request.param, demo_site, request)
        pages.append(Opened(chromium, url, demo_site, base, viewport, **context))
        return pages[-1]
    yield open_
    for p in pages:
        assert not p.errors, p.errors
        assert not p.offsite(), p.offsite()
        p.close()


# ---- loading --------------------------------------------------------------------------------
def test_no_console_errors_and_no_offsite_requests(loaded):
    loaded.page.wait_for_timeout(300)
    assert loaded.errors == [], (loaded.errors, loaded.requests)
    assert loaded.offsite() == []
    assert any(u.endswith("/assets/vega.js") for u in loaded.requests)
    assert loaded.screenshot.stat().st_size > 10_000


def test_every_chart_is_painted(loaded):
    page = loaded.page
    ids = page.eval_on_selector_all("figure.chart", "els => els.map(e => e.id)")
    assert sorted(ids) == ["demo-bars", "demo-line"]
    for chart in ids:
        canvas = page.locator(f"#{chart} canvas")
        assert canvas.count() == 1
        box = canvas.bounding_box()
        assert box["width"] > 100 and box["height"] > 100
        stats = page.evaluate(CANVAS_STATS, f"#{chart} canvas")
        assert stats["painted"] > 0.02 * stats["total"], (chart, stats)
        assert page.locator(f"#{chart} .chart-error").count() == 0


def test_mathml_is_laid_out(loaded):
    page = loaded.page
    boxes = page.eval_on_selector_all(
        "main math", "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; })")
    assert len(boxes) == 4
    assert all(w > 5 and h > 5 for w, h in boxes), boxes
    rows = page.eval_on_selector_all(
        ".math-display mtable > mtr",
        "rows => rows.map(r => Array.from(r.children).map(td => { const b = td.getBoundingClientRect();"
        " return {x: b.left, right: b.right, y: b.top, h: b.height}; }))")
    assert len(rows) == 2
    assert rows[1][0]["y"] > rows[0][0]["y"] + rows[0][0]["h"] / 2  # rows stacked, not on one line
    assert abs(rows[0][1]["x"] - rows[1][1]["x"]) < 1  # the "=" column starts at the same x
    assert abs(rows[0][0]["right"] - rows[1][0]["right"]) < 1  # left column right-aligned
    display = page.eval_on_selector(".math-display math", "e => e.getBoundingClientRect().height")
    assert display > 30  # two rows tall


# ---- interaction ----------------------------------------------------------------------------
def step(page) -> int:
    return page.evaluate("window.article.current.demo")


def bars(page) -> int:
    return page.evaluate(CANVAS_STATS, "#demo-bars canvas")["sum"]


def wait_redraw(page, before: int) -> int:
    page.wait_for_function(f"() => ({CANVAS_STATS})('#demo-bars canvas').sum !== {before}", timeout=5_000)
    return bars(page)


def test_pointer_scrub_changes_step_and_redraws_bars(fresh):
    page = fresh().page
    assert step(page) == 2000
    before = bars(page)
    box = page.locator("#demo-line canvas").bounding_box()
    y = box["y"] + box["height"] * 0.5
    seen = set()
    for frac in (0.2, 0.4, 0.6, 0.75):
        page.mouse.move(box["x"] + box["width"] * frac, y, steps=3)
        page.wait_for_timeout(50)
        seen.add(step(page))
    assert len(seen) >= 3, seen  # moving across the chart walks through the steps
    assert max(seen) > 2000
    assert all(2000 <= s <= 2010 for s in seen)
    wait_redraw(page, before)
    bars_step = page.evaluate("window.article.views().demo.find(v => v.id === 'demo-bars').view.signal('step')")
    assert bars_step == step(page)


def test_keyboard_scrub(fresh):
    page = fresh().page
    frame = page.locator("#demo-line .chart-frame")
    frame.focus()
    assert page.evaluate("document.activeElement.closest('figure').id") == "demo-line"
    before = bars(page)
    page.keyboard.press("ArrowRight")
    assert step(page) == 2001
    assert frame.get_attribute("aria-valuenow") == "2001"
    page.keyboard.press("End")
    assert step(page) == 2010
    wait_redraw(page, before)
    page.keyboard.press("ArrowLeft")
    assert step(page) == 2009
    page.keyboard.press("Home")
    assert step(page) == 2000


def test_animate_button_plays_to_the_end(fresh):
    page = fresh().page
    button = page.locator("button.animate[data-animate='demo-play']")
    before = bars(page)
    button.click()
    assert button.get_attribute("aria-pressed") == "true"
    page.wait_for_function("window.article.current.demo === 2010", timeout=10_000)
    page.wait_for_function("document.querySelector('button.animate').getAttribute('aria-pressed') === 'false'",
                           timeout=5_000)
    wait_redraw(page, before)


# ---- popups ---------------------------------------------------------------------------------
def popup(page) -> dict:
    return page.evaluate("""() => { const p = document.getElementById('popup'); const r = p.getBoundingClientRect();
      return {hidden: p.hidden, text: p.textContent, left: r.left, right: r.right, top: r.top, bottom: r.bottom,
              vw: document.documentElement.clientWidth, vh: window.innerHeight}; }""")


def assert_inside(box: dict) -> None:
    assert not box["hidden"]
    assert box["right"] - box["left"] > 50 and box["bottom"] - box["top"] > 10
    assert 0 <= box["left"] and box["right"] <= box["vw"] + 0.5
    assert 0 <= box["top"] and box["bottom"] <= box["vh"] + 0.5


def test_popups_on_hover(fresh):
    page = fresh().page
    assert popup(page)["hidden"]
    page.hover("#cite-power2022-1")
    box = popup(page)
    assert "Grokking: Generalization Beyond Overfitting" in box["text"]
    assert_inside(box)
    page.mouse.move(5, 5)
    page.wait_for_function("document.getElementById('popup').hidden", timeout=3_000)
    page.hover("#fnref-fn-0")
    box = popup(page)
    assert "A footnote with math" in box["text"] and "A second paragraph" in box["text"]
    assert_inside(box)


def test_popups_on_keyboard_focus(fresh):
    page = fresh().page
    for _ in range(12):  # Tab from the top of the page to the first citation
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('popup-trigger')"):
            break
    assert page.evaluate("document.activeElement.id") == "cite-power2022-1"
    box = popup(page)
    assert "Grokking: Generalization Beyond Overfitting" in box["text"]
    assert_inside(box)
    page.focus("#fnref-fn-0")
    box = popup(page)
    assert "A footnote with math" in box["text"]
    assert_inside(box)
    page.keyboard.press("Escape")
    page.wait_for_function("document.getElementById('popup').hidden", timeout=3_000)


PHONE = {"viewport": {"width": 360, "height": 740}, "has_touch": True, "is_mobile": True}


@pytest.mark.parametrize("trigger, text", [("#cite-power2022-1", "Grokking: Generalization Beyond Overfitting"),
                                           ("#fnref-fn-0", "A footnote with math")])
def test_a_tap_opens_the_popup_and_stays_on_the_page(fresh, trigger, text):
    """A tap opens the popup without following the link; a second tap, or a tap elsewhere,
    closes it; the address never changes."""
    page = fresh(**PHONE).page
    url = page.url
    page.locator(trigger).scroll_into_view_if_needed()
    page.tap(trigger)
    box = popup(page)
    assert text in box["text"]
    assert_inside(box)
    page.wait_for_timeout(400)  # a navigation to the list would have happened by now
    assert page.url == url and popup(page)["text"] == box["text"] and not popup(page)["hidden"]
    page.tap(trigger)  # the second tap closes it
    page.wait_for_function("document.getElementById('popup').hidden", timeout=3_000)
    assert page.url == url
    page.tap(trigger)  # open again, then a tap on the prose closes it
    assert not popup(page)["hidden"]
    page.tap("h2")
    page.wait_for_function("document.getElementById('popup').hidden", timeout=3_000)
    assert page.url == url
    # without JavaScript's help the number is still a link to the list
    assert page.get_attribute(trigger, "href").startswith(("#ref-", "#fn-"))


def test_popup_sits_at_bottom_on_a_phone(fresh, tmp_path):
    opened = fresh(viewport={"width": 375, "height": 740})
    page = opened.page
    assert page.evaluate("document.documentElement.scrollWidth") <= 375 + 1  # no sideways scroll
    page.focus("#cite-nanda2023-1")
    box = popup(page)
    assert "Progress Measures for Grokking" in box["text"]
    assert_inside(box)
    assert abs(box["bottom"] - box["vh"]) <= 1
    assert box["left"] <= 1 and box["right"] >= box["vw"] - 1
    page.screenshot(path=str(tmp_path / "phone-popup.png"))
    assert (tmp_path / "phone-popup.png").stat().st_size > 5_000
