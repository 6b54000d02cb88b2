"""The figure fixes in the page, with the browser's own fonts and layout (headless Chromium):
phase notes clear of the curves on a wide screen and on a phone, the appendix's inputs clamped,
its titles and axes readable, the stars chart as narrow for every run, waves drawn as waves."""
from __future__ import annotations

import pytest

from builder.paths import ROOT
from test_article import appendix_state, article_site, page, phone_page  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
ACCURACY = ("mod-top-accuracy", "open-q-mem-tiny-accuracy", "open-q-mem-again-accuracy", "five-neuron-accuracy",
            "sparse-parity-accuracy")

# Every mark item of a chart in plot coordinates (offsets of nested groups added), with its kind,
# datum, position and bounds; and the plot's size.
ITEMS_JS = """id => {
  const v = Object.values(window.article.views()).flat().find(x => x.id === id).view;
  const out = [];
  const visit = (node, ox, oy) => {
    for (const it of node.items || []) {
      if (node.marktype === 'group') { for (const c of it.items || []) visit(c, ox + (it.x || 0), oy + (it.y || 0)); continue; }
      const b = it.bounds;
      out.push({mark: node.marktype, role: node.role, name: node.name || '', datum: it.datum || {}, text: it.text, italic: it.fontStyle === 'italic',
                x: ox + (it.x || 0), y: oy + (it.y || 0), b: b ? [ox + b.x1, oy + b.y1, ox + b.x2, oy + b.y2] : null});
    }
  };
  for (const c of v.scenegraph().root.items[0].items) visit(c, 0, 0);
  return {items: out, width: v.width(), height: v.height()};
}"""


def items(page, chart):
    return page.evaluate(ITEMS_JS, chart)


def curve_points(lines):
    """Points one pixel apart along each drawn line (grouped by its split)."""
    by = {}
    for it in lines:
        by.setdefault(it["datum"].get("split"), []).append((it["x"], it["y"]))
    pts = []
    for line in by.values():
        for (x0, y0), (x1, y1) in zip(line, line[1:]):
            n = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
            pts += [(x0 + (x1 - x0) * t / n, y0 + (y1 - y0) * t / n) for t in range(n + 1)]
    return pts


def check_notes(page, chart):
    got = items(page, chart)
    lines = [it for it in got["items"] if it["mark"] == "line" and "split" in it["datum"]]
    notes = [it for it in got["items"] if it["mark"] == "text" and it["italic"]]
    dots = [it for it in got["items"] if it["mark"] == "symbol" and "step" in it["datum"] and "split" not in it["datum"]]
    assert lines and notes and dots, chart
    pts = curve_points(lines)
    for note in notes:
        x1, y1, x2, y2 = note["b"]
        assert 0 <= x1 and x2 <= got["width"] + 0.5 and 0 <= y1 and y2 <= got["height"] + 0.5, (chart, note["text"], note["b"], got["width"])
        assert y1 >= 14, (chart, note["text"])  # below the step label
        inside = [p for p in pts if x1 - 1 < p[0] < x2 + 1 and y1 - 1 < p[1] < y2 + 1]
        assert not inside, (chart, note["text"], inside[:3])
    for dot in dots:  # on its curve: a drawn point of a line at the same place
        assert any(abs(dot["x"] - it["x"]) < 1 and abs(dot["y"] - it["y"]) < 1.5 for it in lines), (chart, dot["datum"])


@pytest.mark.parametrize("chart", ACCURACY)
def test_phase_notes_are_clear_of_the_curves_on_a_wide_screen(page, chart):
    page.locator(f"#{chart}").scroll_into_view_if_needed()
    check_notes(page, chart)


def test_phase_notes_and_titles_fit_on_a_phone(chromium, article_site):
    """On a 390 px phone: the notes as on a wide screen, and no title of these charts runs past
    the chart's own width (a one-line title was cut off)."""
    context, page = phone_page(chromium, article_site)
    for chart in ACCURACY:
        page.locator(f"#{chart}").scroll_into_view_if_needed()
        check_notes(page, chart)
    for chart in (*ACCURACY, "mod-bot-loss", "mod-bot-stars", "mod-bot-waves", "five-neuron-embed", "appendix-outputs"):
        page.locator(f"#{chart}").scroll_into_view_if_needed()
        width = page.evaluate(f"Object.values(window.article.views()).flat().find(x => x.id === '{chart}').view._viewWidth")
        titles = [it for it in items(page, chart)["items"] if it["role"] == "title-text"]
        assert titles, chart
        for it in titles:
            assert it["b"][2] <= width + 1, (chart, it["text"], it["b"], width)
    context.close()


def type_number(page, name, text, commit=True):
    box = page.locator(f"#appendix-circles input[name='{name}']")
    box.scroll_into_view_if_needed()
    box.fill(text)
    if commit:
        box.press("Tab")
    page.wait_for_timeout(250)
    return box


def test_appendix_number_inputs_are_clamped_in_the_page(page):
    """Out-of-range N and M: the box shows the clamped number, the charts' signal is that
    number, and the prose computes with it (a + b modulo the M shown)."""
    for name, typed, want in (("M", "5", 12), ("M", "600", 500), ("M", "40.4", 40), ("N", "2", 3), ("N", "11", 10)):
        box = type_number(page, name, typed)
        s = appendix_state(page)
        assert box.input_value() == str(want), (name, typed)
        assert page.evaluate(f"window.article.views()['appendix'].find(x => x.id === 'appendix-circles').view.signal('{name}')") == want
        assert s[name + "n"] == want
        m = s["Mn"]
        assert page.locator("output.live[data-signal='Mn']").inner_text() == str(m)
        assert page.locator("output.live[data-signal='Nn']").inner_text() == str(s["Nn"])
        assert page.locator("output.live[data-signal='truth']").inner_text() == str((s["a"] + s["b"]) % m)
        assert s["a"] < m and s["b"] < m
    # a number above the range is brought down while it is typed, before it is committed
    box = page.locator("#appendix-circles input[name='M']")
    box.click()
    box.press("Control+a")
    box.type("900", delay=30)
    page.wait_for_timeout(250)
    assert box.input_value() == "500"


def test_the_outputs_title_fits_and_the_exact_error_axis_reads(page):
    """At N = 8, M = 100 the verdict is whole and inside the chart; in x² mode the error
    axis labels are plain numbers (no run of zeros from a 1e-16 domain)."""
    type_number(page, "M", "100")
    type_number(page, "N", "8")
    for a, b in ((3, 61), (99, 98), (0, 50)):
        for name, value in (("a", a), ("b", b)):
            page.locator(f"#appendix-circles input[name='{name}']").evaluate(
                "(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); }", str(value))
        page.wait_for_timeout(200)
        s = appendix_state(page)
        got = items(page, "appendix-outputs")
        width = page.evaluate("window.article.views()['appendix'].find(x => x.id === 'appendix-outputs').view._viewWidth")
        titles = [it for it in got["items"] if it["role"] == "title-text"]
        assert titles
        text = " ".join(t if isinstance(t, str) else " ".join(t) for t in (it["text"] for it in titles))
        assert s["answer"] in text and (s["answer"] == str(s["truth"]) or str(s["truth"]) in text), text
        frame = page.locator("#appendix-outputs canvas").bounding_box()
        for it in titles:
            assert it["b"][2] <= width + 1, (it["text"], it["b"], width, frame)
    page.locator("#appendix-circles input[type=radio][value='x²']").check()
    for b in (50, 20):  # a and b opposite (every score 0), then an ordinary pair
        page.locator("#appendix-circles input[name='b']").evaluate(
            "(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); }", str(b))
        page.wait_for_timeout(200)
        labels = [it["text"] for it in items(page, "appendix-outputs")["items"] if it["role"] == "axis-label"]
        assert labels and not [t for t in labels if "0000" in str(t) or len(str(t)) > 7], (b, labels)


def test_the_stars_chart_stays_narrow_for_every_kind_of_run(page):
    from builder.figures import mod_bot
    from builder.figures.context import BuildContext

    rs = mod_bot.runs(BuildContext(ROOT))
    picks = {}
    for key, r in rs.items():
        picks.setdefault(len(mod_bot.shown_groups(r)), key)
    picks.setdefault("most", max(rs, key=lambda k: len(rs[k]["groups"])))
    page.locator("#mod-bot-stars").scroll_into_view_if_needed()
    for key in picks.values():
        page.evaluate(f"window.article.setShared('mod-bot', 'run', '{key}', null)")
        page.wait_for_function(f"""() => {{ const v = window.article.views()['mod-bot'].find(x => x.id === 'mod-bot-stars');
            return v && v.view.signal('run') === '{key}' && !v.el.hasAttribute('aria-busy'); }}""", timeout=20000)
        page.wait_for_timeout(100)
        width = page.locator("#mod-bot-stars canvas").bounding_box()["width"]
        assert width <= 340, (key, width)


def sign_turns(ys, frac=0.12):
    """Direction changes of a drawn line, ignoring steps under `frac` of its height: the page
    draws section 5's weights from 91 levels on 64 px, a wiggle of a level or two is no turn;
    a zigzag's steps are most of its height."""
    d = [b - a for a, b in zip(ys, ys[1:])]
    span = max(ys) - min(ys)
    d = [x for x in d if abs(x) > frac * span]
    return sum((a > 0) != (b > 0) for a, b in zip(d, d[1:]))


@pytest.mark.parametrize("chart", ["mod-top-waves", "mod-bot-waves"])
def test_waves_are_waves_when_the_chart_opens(page, chart):
    """As drawn at first (the section's last step for section 5), every neuron's line turns
    at most twice: one cosine, not a zigzag."""
    section = chart.rsplit("-", 1)[0]
    if section == "mod-bot":
        page.evaluate("window.article.setStep('mod-bot', 50000, null)")
    page.locator(f"#{chart}").scroll_into_view_if_needed()
    page.wait_for_timeout(200)
    lines = {}
    for it in items(page, chart)["items"]:
        if it["mark"] == "line":
            lines.setdefault(it["datum"]["n"], []).append((it["x"], -it["y"]))
    assert len(lines) == 24
    for n, pts in lines.items():
        assert sign_turns([y for _, y in sorted(pts)]) <= 2, (chart, n)


def test_the_section_5_waves_follow_the_step(page):
    page.locator("#mod-bot-waves").scroll_into_view_if_needed()
    page.evaluate("window.article.setStep('mod-bot', 5000, null)")
    page.wait_for_timeout(200)
    early = [round(it["y"], 1) for it in items(page, "mod-bot-waves")["items"] if it["mark"] == "line"]
    page.evaluate("window.article.setStep('mod-bot', 50000, null)")
    page.wait_for_timeout(200)
    late = [round(it["y"], 1) for it in items(page, "mod-bot-waves")["items"] if it["mark"] == "line"]
    assert len(early) == len(late) == 24 * 67 and early != late
