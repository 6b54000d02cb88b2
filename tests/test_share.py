"""Share and reuse (issue 20): the view in the address, each figure's data as CSV, its image and
its citation, in headless Chromium on the built article (file:// and http)."""
from __future__ import annotations

import csv
import re
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from builder.render import tables
from conftest import serving
from test_article import article_site  # noqa: F401  (fixture)

READY = "document.documentElement.dataset.chartsReady === 'true'"
MOD_BOT_VIEWS = "(() => (window.article.views()['mod-bot'] || []).map(x => [x.id, x.view.signal('run'), x.view.signal('step')]))()"


def open_page(chromium, url, **options):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, **options)
    page = context.new_page()
    page.problems = []
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.goto(url)
    page.wait_for_function(READY, timeout=30000)
    return context, page


def wait_for_run(page, run, step):
    page.wait_for_function(f"""() => {{ const v = window.article.views()['mod-bot'] || [];
        return v.length > 0 && v.every(x => x.view.signal('run') === '{run}' && x.view.signal('step') === {step}
                                        && !x.el.hasAttribute('aria-busy')); }}""", timeout=30000)


def in_view(page, chart):
    return page.evaluate(f"(() => {{ const r = document.getElementById('{chart}').getBoundingClientRect(); "
                         "return r.bottom > 0 && r.top < window.innerHeight; })()")


def test_a_scrubbed_step_and_a_picked_run_survive_a_reload(chromium, article_site):
    context, page = open_page(chromium, (article_site / "index.html").as_uri())
    try:
        page.locator("#mod-bot-seeds").scroll_into_view_if_needed()
        select = page.locator("#mod-bot-seeds select")
        select.select_option("seed33")  # the list under the sister runs' small charts
        page.locator("#mod-bot-loss").scroll_into_view_if_needed()
        page.wait_for_function("window.article.state['mod-bot'].run === 'seed33'")
        wait_for_run(page, "seed33", page.evaluate("window.article.current['mod-bot']"))
        box = page.locator("#mod-bot-loss canvas").bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2)
        page.mouse.move(box["x"] + box["width"] * 0.55, box["y"] + box["height"] / 2, steps=5)  # scrub
        step = page.evaluate("window.article.current['mod-bot']")
        assert step not in (None, 50000)
        page.wait_for_function(f"location.hash.includes('step={step}') && location.hash.includes('run=seed33')", timeout=3000)
        history = page.evaluate("history.length")
        link = page.url
        assert link.split("#")[1].startswith("mod-bot-")
        page.goto("about:blank")
        page.goto(link)  # the link, opened afresh
        page.wait_for_function(READY, timeout=30000)
        assert page.evaluate("window.article.current['mod-bot']") == step
        assert page.evaluate("window.article.state['mod-bot'].run") == "seed33"
        wait_for_run(page, "seed33", step)
        assert in_view(page, link.split("#")[1].split("&")[0])  # scrolled to the figure
        page.reload()
        page.wait_for_function(READY, timeout=30000)
        wait_for_run(page, "seed33", step)
        assert history <= 3  # replaceState: scrubbing added no history entries
        assert page.problems == []
    finally:
        context.close()


def test_the_appendix_inputs_and_the_chosen_architecture_survive_a_reload(chromium, article_site):
    context, page = open_page(chromium, (article_site / "index.html").as_uri())
    try:
        page.locator("#appendix-circles").scroll_into_view_if_needed()
        page.wait_for_function("(window.article.views()['appendix'] || []).length > 0", timeout=30000)
        page.wait_for_timeout(700)
        assert page.evaluate("location.hash") == ""  # drawing a chart is not a reader's change
        page.locator("#appendix-circles input[name='a']").evaluate(
            "el => { el.value = 11; el.dispatchEvent(new Event('input', {bubbles: true})); "
            "el.dispatchEvent(new Event('change', {bubbles: true})); }")
        page.wait_for_function("location.hash.startsWith('#appendix-') && location.hash.includes('a=11')", timeout=3000)
        link = page.url
        page.goto("about:blank")
        page.goto(link)
        page.wait_for_function(READY, timeout=30000)
        page.wait_for_function("""() => { const v = window.article.views()['appendix'] || [];
            return v.length > 0 && v.every(x => x.view.signal('a') === 11); }""", timeout=30000)
        assert page.locator("#appendix-circles input[name='a']").input_value() == "11"
        # the chosen architecture of the constraints sweep: its own input
        page.goto("about:blank")
        page.goto(link.split("#")[0] + "#sweep-mod-bars&arch=3")
        page.wait_for_function(READY, timeout=30000)
        page.wait_for_function("""() => { const v = window.article.views()['sweep-mod'] || [];
            return v.length > 0 && v[0].view.signal('arch') === 3; }""", timeout=30000)
        assert in_view(page, "sweep-mod-bars")
        assert page.problems == []
    finally:
        context.close()


@pytest.mark.parametrize("fragment", [
    "#mod-bot-loss&step=abc&run=nope",    # a step that is no number, a run that does not exist
    "#mod-bot-loss&step=27001&run=seed9999",  # a step the section does not have (stale)
    "#no-such-chart&step=1000",
    "#%E0%A4%A&%ZZ=1",                    # malformed escapes
    "#appendix-circles&a=99999&b=-5&act=zzz&N=100000000&__proto__=1",  # out of range, not an option
    "#sweep-mod-bars&arch=99",
    "#references",                        # an ordinary anchor
])
def test_a_broken_fragment_leaves_the_page_working(chromium, article_site, fragment):
    context, page = open_page(chromium, (article_site / "index.html").as_uri() + fragment)
    try:
        page.wait_for_timeout(500)
        assert page.evaluate("window.article.current['mod-bot']") == 50000
        assert page.evaluate("window.article.state['mod-bot'].run") is None
        # the page still works: keyboard scrubbing moves the opening section's step
        page.locator("#mod-top-accuracy").scroll_into_view_if_needed()
        before = page.evaluate("window.article.current['mod-top']")
        page.locator("#mod-top-accuracy .chart-frame").focus()
        page.keyboard.press("ArrowRight")
        assert page.evaluate("window.article.current['mod-top']") > before
        page.wait_for_function("(window.article.views()['mod-top'] || []).length > 0", timeout=30000)
        if fragment.startswith("#appendix"):
            page.locator("#appendix-circles").scroll_into_view_if_needed()
            page.wait_for_function("(window.article.views()['appendix'] || []).length > 0", timeout=30000)
            view = "window.article.views()['appendix'][0].view"
            assert page.evaluate(f"{view}.signal('a')") != 99999
            assert page.evaluate(f"{view}.signal('N')") <= 10
        assert page.problems == []
    finally:
        context.close()


@pytest.fixture(scope="module")
def article_http(article_site):  # noqa: F811
    with serving(article_site) as url:
        yield url


def test_a_link_restores_the_view_over_http(chromium, article_http):
    context, page = open_page(chromium, article_http + "index.html#mod-bot-stars&step=27000&run=seed33")
    try:
        wait_for_run(page, "seed33", 27000)
        assert in_view(page, "mod-bot-stars")
        assert page.problems == []
    finally:
        context.close()


def test_the_link_control_copies_or_shows_the_link_with_keyboard_or_touch(chromium, article_site):
    url = (article_site / "index.html").as_uri() + "#mod-top-accuracy&step=20000"
    context, page = open_page(chromium, url, permissions=["clipboard-read", "clipboard-write"])
    try:
        link = page.locator("#mod-top-accuracy a.chart-share")
        link.focus()
        page.keyboard.press("Enter")
        box = page.locator("#mod-top-accuracy .share-box")
        page.wait_for_function("document.querySelector('#mod-top-accuracy .share-box [role=status]').textContent !== ''")
        assert box.locator("input").input_value().endswith("#mod-top-accuracy&step=20000")
        assert box.locator("[role=status]").inner_text() == "Link copied."
        assert page.evaluate("navigator.clipboard.readText()").endswith("#mod-top-accuracy&step=20000")
        assert page.evaluate("location.hash") == "#mod-top-accuracy&step=20000"
        # cite this figure: the article's BibTeX with the figure's anchor
        page.locator("#mod-top-accuracy a.chart-cite").click()
        bib = box.locator("pre").inner_text()
        article = page.locator("#cite code").inner_text()
        assert bib.startswith(article.split(",")[0] + "-mod-top-accuracy,")
        assert "#mod-top-accuracy}" in bib and "title = {" in bib
    finally:
        context.close()
    # a phone without the clipboard API: a tap shows the link to copy by hand
    context = chromium.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    context.add_init_script("Object.defineProperty(navigator, 'clipboard', {value: undefined});")
    page = context.new_page()
    try:
        page.goto(url)
        page.wait_for_function(READY, timeout=30000)
        page.locator("#mod-top-accuracy a.chart-share").tap()
        page.wait_for_function("document.querySelector('#mod-top-accuracy .share-box [role=status]').textContent !== ''")
        assert page.locator("#mod-top-accuracy .share-box [role=status]").inner_text() == "Copy the link above."
        assert page.locator("#mod-top-accuracy .share-box input").input_value().endswith("#mod-top-accuracy&step=20000")
        assert page.evaluate("document.activeElement.tagName") == "INPUT"
    finally:
        context.close()


def read_csv(path: Path) -> tuple[dict, list[dict]]:
    """(comment header: table name and row count, rows) of one of the build's CSV files."""
    text = path.read_text(encoding="utf-8")
    comments = [line for line in text.splitlines() if line.startswith("# ")]
    assert comments and comments[0].startswith("# figure: "), path
    assert any(line.startswith("# commit: ") for line in comments), path
    table = re.search(r"^# table: (\S+) \((\d+) rows\)$", text, re.M)
    rows = list(csv.DictReader(line for line in text.splitlines(keepends=True) if not line.startswith("#")))
    return {"table": table.group(1), "rows": int(table.group(2))}, rows


CHART_TABLES = """async () => {
  await window.article.embedAll();
  const out = {}, D = window.ARTICLE_DATA;
  for (const id of Object.keys(JSON.parse(document.getElementById('article-data').textContent).charts)) {
    const spec = D['charts/' + id];
    out[id] = {};
    for (const d of spec.data || []) {
      if (!d.values) continue;
      const values = d.values.shared ? D['charts/shared/' + d.values.shared] : d.values;
      out[id][d.name] = [values.length, (values[0] && values[0].packed) || null];
    }
  }
  return out;
}"""


def csv_rows(count: int, packed: list | None, wide: bool) -> int:
    """The rows a CSV of a chart table of `count` rows has: a packed heatmap table (its first
    row's `packed`: neurons, columns, ...) is one row per step, neuron and column (wide: per
    step and neuron)."""
    if not packed:
        return count
    return count * packed[0] * (1 if wide else packed[1])


def test_every_figure_csv_parses_and_has_the_rows_of_the_chart_data(chromium, article_site):
    context, page = open_page(chromium, (article_site / "index.html").as_uri())
    try:
        counts = page.evaluate(CHART_TABLES)  # what the page draws from, as it loads it
        files = sorted((article_site / "figures").glob("*.csv"))
        assert {f.name.split(".")[0] for f in files} == set(counts)  # every figure has its data
        from builder.figures import appendix
        from builder.figures.context import BuildContext
        computed = appendix.default_tables(BuildContext())  # the appendix's charts compute their marks in the page
        for f in files:
            head, rows = read_csv(f)
            chart = f.name.split(".")[0]
            if chart in computed:  # their CSVs hold the same, computed in Python at the inputs' defaults
                assert len(rows) == head["rows"] == len(computed[chart][head["table"]]) > 0, f.name
                continue
            assert len(rows) == head["rows"] == csv_rows(*counts[chart][head["table"]], wide=False), f.name
            assert rows and all(None not in r for r in rows), f.name  # no row longer than the header
        # other runs, one file per run: the rows of the run the page loads
        runs = {}
        for d in sorted((article_site / "data").iterdir()):
            for f in sorted(d.glob("run-seed33*.csv")) + sorted(d.glob("*.csv"))[:2]:
                head, rows = read_csv(f)
                key = f.name.split(".")[0]
                if key not in runs.setdefault(d.name, {}):
                    runs[d.name][key] = page.evaluate(f"""() => new Promise((ok, fail) => {{
                        const s = document.createElement('script'); s.src = 'data/{d.name}/{key}.js';
                        s.onload = () => ok(window.ARTICLE_DATA['{d.name}/{key}']); s.onerror = fail;
                        document.head.appendChild(s); }})""")
                payload = runs[d.name][key]
                values = payload["data"][head["table"]] if isinstance(payload, dict) else payload
                packed = values[0].get("packed") if values and isinstance(values[0], dict) else None
                assert len(rows) == head["rows"] == csv_rows(len(values), packed, wide=True), f
                assert all(None not in r for r in rows), f
        assert len(runs) >= 5
    finally:
        context.close()


def header_lines(path: Path) -> tuple[list[str], list[str]]:
    """(the # lines, the column names) of a CSV the build wrote, read up to its header row."""
    comments = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.startswith("#"):
                return comments, next(csv.reader([line]))
            comments.append(line.rstrip("\n"))
    return comments, []


def test_every_csv_column_says_what_it_holds_and_no_table_is_packed(article_site):
    """Each column of every CSV the build writes has a line saying what it holds (none falls
    back to the caption), and no cell is a packed heatmap string: every value is a number, a
    boolean or a short label."""
    files = sorted(article_site.rglob("*.csv"))
    assert len(files) > 100
    for f in files:
        comments, cols = header_lines(f)
        assert cols, f
        said = {}
        for line in comments:
            m = re.match(r"^# column (.+?): (.+)$", line)
            if m:
                said[m.group(1)] = m.group(2)
            m = re.match(r"^# columns (.+?) \.\.\. (.+?): (.+)$", line)
            if m:  # a span of columns, one per heatmap column (a run's file): first ... last
                first, last = cols.index(m.group(1)), cols.index(m.group(2))
                said.update({c: m.group(3) for c in cols[first:last + 1]})
        assert set(cols) <= set(said), (f, sorted(set(cols) - set(said)))
        assert not any(tables.FALLBACK in text or "packed" in text for text in said.values()), f
    # the values themselves: every figure's file, and in each data folder its first files and seed 33's
    sample = sorted((article_site / "figures").glob("*.csv"))
    for d in sorted((article_site / "data").iterdir()):
        sample += sorted(d.glob("*.csv"))[:3] + sorted(d.glob("run-seed33*.csv"))
    number = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?$")
    for f in sample:
        _, rows = read_csv(f)
        for row in rows[:20000]:
            for c, v in row.items():
                assert v == "" or number.match(v) or len(v) <= 60, (f, c, v[:80])  # packed rows: 128+ characters


def test_the_image_data_and_link_controls_resolve_on_file(chromium, article_site):
    context, page = open_page(chromium, (article_site / "index.html").as_uri())
    try:
        controls = page.evaluate("""() => Array.from(document.querySelectorAll('figure.chart')).map(f => ({
            id: f.id, links: Array.from(f.querySelectorAll('.chart-links a')).map(a => [a.className, a.href])}))""")
        assert len(controls) >= 30
        for fig in controls:
            kinds = [k for k, _ in fig["links"]]
            assert kinds[:2] == ["chart-static", "chart-data"] and kinds[-2:] == ["chart-share", "chart-cite"], fig
            for kind, href in fig["links"]:
                url = urlparse(href)
                assert url.scheme == "file"
                if kind in ("chart-static", "chart-data"):
                    assert Path(unquote(url.path)).is_file(), href
                    assert Path(unquote(url.path)).is_relative_to(article_site)
        # the static image the caption offers loads in the page
        ok = page.evaluate("""() => Promise.all(Array.from(document.querySelectorAll('a.chart-static')).map(a =>
            new Promise(done => { const i = new Image(); i.onload = () => done(i.naturalWidth > 0); i.onerror = () => done(false);
                                  i.src = a.href; })))""")
        assert ok and all(ok)
    finally:
        context.close()


# ---- builder.render.tables, without a browser -------------------------------------------------
def test_figure_tables_keep_the_data_and_leave_out_annotations():
    vega = {"data": [{"name": "source_0", "values": [{"step": 1, "v": 2}]},
                     {"name": "accuracy", "values": [{"step": s, "v": 0.5, "split": "test"} for s in range(5)]},
                     {"name": "w_out", "values": [{"step": 1, "w": "!!!!!!!!"}, {"step": 2, "w": "NNNNNNNN"}]},
                     {"name": "source_2", "values": [{}]},
                     {"name": "derived", "source": "accuracy"}]}
    found = tables.figure_tables(vega)
    assert [(s, n, len(r)) for s, n, r in found] == [("", "accuracy", 5), (".w_out", "w_out", 2)]
    text = tables.csv_text(["figure: f (section s)", "commit: abc"], "accuracy", found[0][2])
    assert text.startswith("# figure: f (section s)\n# commit: abc\n# table: accuracy (5 rows)\n# column step: training step")
    assert "# column v: accuracy, fraction 0-1\n" in text
    # a column nobody describes says so (and the build's test above fails on it)
    assert f"# column z: {tables.FALLBACK}" in tables.csv_text([], "t", [{"z": 1}])
    assert "# column z: metres\n" in tables.csv_text([], "t", [{"z": 1}], units={"t.z": "metres"})


def test_a_packed_heatmap_is_written_as_plain_columns():
    import numpy as np

    from builder.figures._common import packed

    w = np.array([[[0.5, -1.0], [0.0, 0.3], [1.0, 0.1]],  # (checkpoints, columns, neurons): 2 bits and the bias, 2 neurons
                  [[-0.5, 1.0], [0.0, -0.3], [0.0, 9.0]]])  # 9 is clipped to the range, 4.5
    rows = packed(w, np.array([0, 100]), 4.5, "bit")  # levels of 0.1
    assert rows[0]["packed"] == [2, 3, 0.1, "bit"] and "packed" not in rows[1]
    text = tables.csv_text(["figure: f (section s)"], "w_in", rows)
    head, body = text.split("step,neuron,bit,weight\n")
    assert "# table: w_in (12 rows)\n# from the chart's table of 2 packed checkpoints x 2 neurons x 3 columns\n" in head
    assert "# column bit: input bit 1-2, or bias (the constant input)\n" in head
    assert "# column weight: the first-layer weight from that input bit to the neuron, dimensionless" in head
    assert body.splitlines() == ["0,1,1,0.5", "0,1,2,0", "0,1,bias,1", "0,2,1,-1", "0,2,2,0.3", "0,2,bias,0.1",
                                 "100,1,1,-0.5", "100,1,2,0", "100,1,bias,0", "100,2,1,1", "100,2,2,-0.3", "100,2,bias,4.5"]
    # a run's file: one row per step and neuron, a column per heatmap column
    wide = tables.csv_text([], "w_in", rows, wide=True)
    assert "# table: w_in (4 rows)\n" in wide and "# columns bit 1 ... bias: the first-layer weight" in wide
    assert wide.split("# columns")[1].splitlines()[1:] == ["step,neuron,bit 1,bit 2,bias", "0,1,0.5,0,1", "0,2,-1,0.3,0.1",
                                                           "100,1,-0.5,0,0", "100,2,1,-0.3,4.5"]


def test_images_are_left_out_of_a_csv():
    rows = [{"key": "seed1", "img": "data:image/png;base64,AAAA", "v": 1}]
    assert tables.columns(rows) == ["key", "v"]
    assert tables.csv_text([], "seeds", rows).splitlines()[-2:] == ["key,v", "seed1,1"]


def test_the_appendix_csvs_hold_what_its_charts_draw_at_the_defaults(article_site):
    """The appendix's charts compute every mark in the page; their downloads hold the same
    numbers from builder.analysis.construction at the inputs' defaults (a 9, b 15, N 5, M 67,
    ReLU): 67 scores peaking at the right answer, 5 neurons, 67 numbers with a, b and a + b."""
    from builder.analysis import construction
    from builder.figures import appendix
    a, b, n, m = (appendix.DEFAULTS[k] for k in ("a", "b", "N", "M"))
    _, scores = read_csv(article_site / "figures" / "appendix-outputs.csv")
    logits = [float(r["logit"]) for r in scores]
    expected = construction.logits_direct(n, m, "relu", a)[0, b]
    assert len(logits) == m and max(abs(x - y) for x, y in zip(logits, expected)) < 1e-5
    assert logits.index(max(logits)) == (a + b) % m
    _, neurons = read_csv(article_site / "figures" / "appendix-neurons.csv")
    assert len(neurons) == n
    _, numbers = read_csv(article_site / "figures" / "appendix-circles.csv")
    assert {r["role"] for r in numbers} == {"", "a", "b", "a + b"} and len(numbers) == m


def test_the_commit_is_marked_dirty_when_the_checkout_has_changes(tmp_path):
    """The CSV headers' commit: the sha alone only when the build's checkout is that commit."""
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path,
                       check=True, capture_output=True)

    assert tables.git_commit(tmp_path) == "unknown"  # not a checkout
    git("init", "-q")
    (tmp_path / "a.md").write_text("one\n")
    git("add", "a.md")
    git("commit", "-q", "-m", "first")
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert tables.git_commit(tmp_path) == sha
    (tmp_path / "a.md").write_text("two\n")  # a tracked file edited
    assert tables.git_commit(tmp_path) == f"{sha}+dirty"
    git("checkout", "--", "a.md")
    (tmp_path / "new.npz").write_bytes(b"x")  # a file not yet committed (a new artifact)
    assert tables.git_commit(tmp_path) == f"{sha}+dirty"
