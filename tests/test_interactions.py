"""Chart interactions: names a figure gives its marks, resolved in the compiled Vega
(`@tiles.x`), and the kinds of builder.render.interactions (compiled spec and page data)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import altair as alt
import pytest

from builder.errors import BuildError
from builder.figures import Figure, with_params, with_signal_handlers
from builder.render import interactions
from builder.render.charts import ChartCache

ROOT = Path(__file__).resolve().parents[1]
ONE_LINE = re.compile(r"^<input>: [^\n]+$")


def grids(width_expr: str, named: bool = True):
    """Faceted tiles and dots in a concat (the sweep figures' layout): the tiles' scales get
    names Vega-Lite makes up from the layout (concat_0_x)."""
    rows = [{"h": h, "n": n, "wd": wd, "s": s} for h in (1, 2) for n in (3, 4) for wd in (0.1, 1) for s in (0, 1)]
    x, y = alt.X("h:O"), alt.Y("n:O")
    tiles = alt.Chart().mark_rect(width=alt.expr(width_expr)).encode(x=x, y=y)
    if named:
        tiles = tiles.properties(name="tiles")
    dots = alt.Chart().mark_circle().encode(x=x, xOffset="s:O", y=y)
    grid = alt.layer(tiles, dots, data=alt.Data(values=rows)).facet(column="wd:O")
    other = alt.Chart(alt.Data(values=rows)).mark_bar().encode(x="h:O", y="count():Q")
    return with_params(alt.vconcat(other, grid), [alt.param(name="k", value=1)]).to_dict()


def test_a_named_marks_scale_resolves_to_the_name_vega_lite_gave_it():
    cache = ChartCache(None)
    named = cache.compile("demo-grid", grids("bandwidth(@tiles.x)"), svg=False).vega
    plain = cache.compile("demo-grid", grids("bandwidth('concat_1_x')", named=False), svg=False).vega
    assert json.dumps(named) == json.dumps(plain)  # the same spec: names do not reach the page
    assert "tiles" not in json.dumps(named)


def test_a_name_no_mark_has_fails_in_one_line_naming_the_chart():
    with pytest.raises(BuildError) as info:
        ChartCache(None).compile("demo-grid", grids("bandwidth(@tile.x)"), svg=False)
    message = str(info.value)
    assert ONE_LINE.match(message)
    assert 'chart "demo-grid": "@tile.x" names no mark of the chart (named marks: tiles;' in message


def test_a_channel_the_named_mark_does_not_encode_fails():
    with pytest.raises(BuildError, match='"@tiles.size": the mark "tiles" has no size scale'):
        ChartCache(None).compile("demo-grid", grids("bandwidth(@tiles.size)"), svg=False)


def test_two_marks_of_one_name_fail():
    rule = alt.Chart(alt.Data(values=[{"v": 1}])).mark_rule().encode(x="v:Q").properties(name="r")
    with pytest.raises(BuildError, match='two marks are named "r"'):
        ChartCache(None).compile("demo", alt.layer(rule, rule).to_dict(), svg=False)


def _scrub_chart(name: str = "rule"):
    line = alt.Chart(alt.Data(values=[{"t": 0, "v": 1}, {"t": 10, "v": 2}])).mark_line().encode(x="t:Q", y="v:Q")
    rule = alt.Chart(alt.Data(values=[{}])).mark_rule().encode(x="s:Q").transform_calculate(s="step").properties(name=name)
    return alt.hconcat(alt.Chart(alt.Data(values=[{"a": 1}])).mark_point().encode(x="a:Q"),
                       alt.layer(line, rule)).add_params(alt.param(name="step", value=0)).to_dict()


def test_scrub_inverts_the_declared_marks_x_scale():
    fig = Figure("demo-line", "demo", "c", "d", lambda root: None, scrub="rule")
    vega = ChartCache(None).compile("demo-line", _scrub_chart(), interactions.figure_values(fig, [0, 5, 10]), svg=False).vega
    (step,) = [s for s in vega["signals"] if s["name"] == "step"]
    assert step["on"][0]["update"] == ("scale('step_snap', clamp(invert('concat_1_x', x()), domain('concat_1_x')[0], "
                                       "domain('concat_1_x')[1]))")
    assert {"name": "step_snap", "type": "threshold", "domain": [2.5, 7.5], "range": [0, 5, 10]} in vega["scales"]


def test_scrub_along_a_mark_the_chart_does_not_name_fails():
    fig = Figure("demo-line", "demo", "c", "d", lambda root: None, scrub="step_rule")
    with pytest.raises(BuildError, match='chart "demo-line": "@step_rule.x" names no mark of the chart'):
        ChartCache(None).compile("demo-line", _scrub_chart(), interactions.figure_values(fig, [0, 10]), svg=False)


def test_page_entry_has_every_kinds_entry_in_order():
    fig = Figure("demo-bars", "demo", "c", "d", lambda root: None, scrub="rule", follow=False, shares=("run",),
                 limits=(("a", 0, "top"),), mirrors=(("s", "a"),))
    chart = ChartCache(None).compile("demo-bars", alt.Chart(alt.Data(values=[{"v": 1}])).mark_point().encode(x="v:Q").to_dict(), svg=False)
    entry = interactions.page_entry(fig, chart, {"demo-bars": ["k1"]})
    assert json.dumps(entry) == ('{"section": "demo", "scrub": true, "follow": false, "shares": ["run"], '
                                 '"limits": [["a", 0, "top"]], "mirrors": [["s", "a"]], "variants": false, "tables": ["k1"]}')
    assert interactions.page_params(fig) == {"step", "neuron", "run", "demand", "a", "top", "s"}


def test_signal_handlers_may_name_scales_too():
    spec = grids("bandwidth(@tiles.x)")
    compiled = ChartCache(None).compile("demo-grid", with_signal_handlers(spec, {"k": [
        {"events": "click", "update": "bandwidth(@tiles.y)"}]}), svg=False)
    (k,) = [s for s in compiled.vega["signals"] if s["name"] == "k"]
    assert k["on"] == [{"events": "click", "update": "bandwidth('concat_1_y')"}]


# Names Vega-Lite makes up for a layout (concat_1_concat_0_x, child_width, layer_0) and scale
# names written as strings in expressions: a figure names its marks and writes @name.x instead.
GENERATED = re.compile(r"\b(concat|child|layer|facet)_\w*|\b(bandwidth|domain|range|invert|scale)\(\s*['\"]")


@pytest.mark.parametrize("module", sorted(p.name for p in (ROOT / "builder" / "figures").glob("*.py")))
def test_no_figure_module_relies_on_a_generated_name(module):
    text = (ROOT / "builder" / "figures" / module).read_text()
    found = [m.group(0) for m in GENERATED.finditer(text)]
    assert not found, f"{module} relies on names Vega-Lite generates: {found}"


def test_the_generated_name_check_can_fail():
    assert GENERATED.search("width=alt.expr(\"bandwidth('concat_1_concat_0_concat_0_x')\")")
    assert GENERATED.search("late = \"step > 0.8 * domain('x')[1]\"")
    assert not GENERATED.search('width=alt.expr("bandwidth(@tiles.x)")')


def test_the_glue_declares_each_variable_once():
    """One closure, one `var` per name (two listeners once wrote two `lastPointer`s)."""
    text = (ROOT / "builder" / "render" / "static" / "glue.js").read_text()
    names = [n.strip().split("=")[0].strip() for decl in re.findall(r"^  var ([^;]+);", text, re.M)
             for n in re.split(r",\s*(?![^()\[\]{}]*[)\]}])", decl)]
    twice = sorted({n for n in names if names.count(n) > 1})
    assert len(names) > 20 and not twice, f"declared twice: {twice}"


def test_an_on_demand_key_must_be_a_file_name():
    from builder.figures import with_demand

    chart = alt.Chart(alt.Data(values=[{"v": 1}])).mark_point().encode(x="v:Q").add_params(alt.param(name="demand", value=""))
    with pytest.raises(BuildError, match='on-demand chart "demo": key "a/b" must use only letters, digits, - and _'):
        ChartCache(None).compile("demo", with_demand(chart, {"a/b": [{"v": 1}]}), svg=False)
