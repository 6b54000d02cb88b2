"""What the figures draw, checked on their Vega-Lite specs and the frozen data (no browser):
annotations on their curves and clear of them, charts whose width does not grow with the run
shown, waves drawn as waves by default, and the figures and equations the article must have.
The same properties in the page, with real fonts, are in tests/test_figures_browser.py."""
from __future__ import annotations

import json

import numpy as np
import pytest

from builder.figures import _common, appendix, mod_bot, mod_top
from builder.figures.context import BuildContext
from builder.paths import ROOT

CTX = BuildContext(ROOT)  # the figure modules read the project through a build context

ACCURACY = ("mod-top-accuracy", "open-q-mem-tiny-accuracy", "open-q-mem-again-accuracy", "five-neuron-accuracy",
            "sparse-parity-accuracy")


@pytest.fixture(scope="module")
def registry():
    from builder.figures import default_registry

    return default_registry(CTX)


def layers(spec: dict):
    """Every unit spec (one mark) inside a layered / concatenated / faceted Vega-Lite dict."""
    if "mark" in spec:
        yield spec
    for key in ("layer", "vconcat", "hconcat", "concat"):
        for child in spec.get(key, []):
            yield from layers(child)
    if "spec" in spec:
        yield from layers(spec["spec"])


def mark_type(unit: dict) -> str:
    return unit["mark"] if isinstance(unit["mark"], str) else unit["mark"]["type"]


def notes_of(spec: dict) -> list[dict]:
    """The phase notes of an accuracy chart as place_note made them, read back from the spec."""
    out = []
    for unit in layers(spec):
        mark = unit["mark"]
        if mark_type(unit) == "text" and isinstance(mark, dict) and "fontStyle" in mark:
            row = unit["data"]["values"][0]
            out.append({"step": row["step"], "v": row["v"], "text": row["text"], "align": mark["align"],
                        "dx": mark["dx"], "dy": mark["dy"]})
    return out


def dots_of(spec: dict) -> list[dict]:
    return [row for unit in layers(spec) if mark_type(unit) == "point" and "data" in unit and "values" in unit["data"]
            for row in unit["data"]["values"] if "step" in row]


@pytest.mark.parametrize("chart", ACCURACY)
def test_phase_notes_sit_on_their_curves_and_clear_of_them(registry, chart):
    """Each note's dot is a logged point of the train or test curve (not a made-up height), and
    its text stays inside the plot and off the curves, the step label's band, the legend and
    the other notes at every plot width from a phone's (300 px) to a wide screen's."""
    fig = registry.figures[chart]
    spec = fig.make(CTX)
    rows = spec["datasets"]["accuracy"]
    curve = {(row["split"], row["step"]): row["v"] for row in rows}
    dots, notes = dots_of(spec), notes_of(spec)
    assert dots and len(dots) == len(notes), chart
    for dot in dots:
        assert any(abs(curve.get((split, dot["step"]), -1) - dot["v"]) < 1e-3 for split in ("train", "test")), dot
    steps = np.array(sorted({row["step"] for row in rows}))
    series = [np.array([curve[(split, s)] for s in steps]) for split in ("train", "test")]
    domain = spec["layer"][0]["encoding"]["y"]["scale"]["domain"]
    height = spec["height"]
    widths = [w for w in _common.NOTE_WIDTHS if w >= 300]
    for i, note in enumerate(notes):
        assert _common.note_clashes(note, notes[:i], steps, series, height, float(steps[-1]), tuple(domain), widths) == [], \
            (chart, note)


def test_the_opening_notes_are_not_on_the_top_line_nor_off_a_phone():
    """The defects a reader saw: the memorization note written over the 100% line (and the step
    label), and the generalization note running off a phone's plot."""
    spec = mod_top.accuracy_chart(CTX)
    notes = {n["text"].replace("\n", " "): n for n in notes_of(spec)}
    assert set(notes) == {"memorizes the training pairs", "then generalizes to unseen pairs"}
    for note in notes.values():
        for width in (280, 300, 520):
            left, top, right, bottom = _common.note_box(note, width, spec["height"], 50_000, (0.0, 1.0))
            assert top >= _common.STEP_BAND and 0 <= left and right <= width, (note, width)


def test_place_note_avoids_a_curve_through_its_first_choice():
    """A flat line right where the nearest placement would go pushes the text off it."""
    steps = np.arange(0, 1001, 10)
    flat = np.full(len(steps), 0.5)
    note = _common.place_note(500, 0.5, "a note", [], steps, [flat], height=200, x_max=1000, y_domain=(0.0, 1.0))
    for width in (300, 600):
        left, top, right, bottom = _common.note_box(note, width, 200, 1000, (0.0, 1.0))
        assert bottom <= 100 - _common.NOTE_GAP or top >= 100 + _common.NOTE_GAP


def sign_turns(values: np.ndarray, frac: float = 0.05) -> int:
    """How often a line changes direction, ignoring steps under `frac` of its range: a cosine
    over one period turns about twice, a frequency-k zigzag about 2k times."""
    d = np.diff(values)
    d = d[np.abs(d) > frac * (values.max() - values.min())]
    return int((np.sign(d[1:]) != np.sign(d[:-1])).sum())


def test_the_opening_waves_are_waves_by_default():
    """With the chart's default order (the `unwrap` param as it starts), each neuron's line is
    one smooth wave; in the inputs' own order (the box unticked) it zigzags."""
    spec = mod_top.waves_chart(CTX)
    unwrap = next(p for p in spec["params"] if p["name"] == "unwrap")
    assert unwrap["value"] is True and unwrap["bind"]["input"] == "checkbox"
    rows = spec["datasets"]["waves"]
    for n in sorted({row["n"] for row in rows}):
        mine = [row for row in rows if row["n"] == n]
        default = np.array([row["w"] for row in sorted(mine, key=lambda row: row["turn"])])
        raw = np.array([row["w"] for row in sorted(mine, key=lambda row: row["token"])])
        assert sign_turns(default) <= 2 and sign_turns(raw) >= 20, n


def test_the_per_group_logits_are_centred_cosines_by_default():
    spec = mod_bot.logits_chart(CTX)
    unwrap = next(p for p in spec["params"] if p["name"] == "unwrap")
    assert unwrap["value"] is True


def facet_columns(spec: dict) -> list:
    """The `columns` of every wrapped facet in a spec, and None for a row/column facet."""
    out = []
    if "facet" in spec and "spec" in spec:
        out.append(spec.get("columns") if "field" in spec["facet"] else None)
    for key in ("vconcat", "hconcat", "concat", "layer"):
        for child in spec.get(key, []):
            out += facet_columns(child)
    return out


def test_the_stars_chart_keeps_its_width_for_every_run():
    """Two panels across whatever the run; at most MAX_GROUPS rows; and drawn with the data of
    each layout a run can have (one to six groups), the chart fits a 340 px column."""
    import vl_convert as vlc

    spec = mod_bot.stars_chart(CTX)
    assert facet_columns(spec) == [2]
    variants = spec["usermeta"]["variants"]
    rs = mod_bot.runs(CTX)
    assert set(variants) == set(rs)
    by_count = {}
    for key, variant in variants.items():
        rows = variant["data"]["stars"]
        panels = {row["panel"] for row in rows}
        assert len(panels) == 2 * len(mod_bot.shown_groups(rs[key])) <= 2 * mod_bot.MAX_GROUPS, key
        by_count.setdefault(len(panels), key)
    assert max(by_count) == 2 * mod_bot.MAX_GROUPS  # some run has more groups than are shown
    for count, key in sorted(by_count.items()):
        drawn = json.loads(json.dumps(spec))
        drawn.pop("usermeta")
        drawn["datasets"]["stars"] = variants[key]["data"]["stars"]
        for param in drawn["params"]:
            if param["name"] in variants[key]["signals"]:
                param["value"] = variants[key]["signals"][param["name"]]
        svg = vlc.vegalite_to_svg(drawn)
        width = float(svg.split('width="', 1)[1].split('"', 1)[0])
        assert width <= 340, (key, count, width)


def test_the_per_group_logits_wrap_instead_of_growing_across():
    assert facet_columns(mod_bot.logits_chart(CTX)) == [3]


def test_appendix_number_inputs_have_clamping_handlers():
    """The page clamps N and M (the browser test types into them); here: the handlers exist,
    clamp to the documented ranges, and the derived values are clamped too."""
    handlers = appendix.number_handlers()
    assert set(handlers) == {"N", "M"}
    for name, low, high in (("N", 3, 10), ("M", 12, 500)):
        change = next(h for h in handlers[name] if h["events"]["type"] == "change")
        assert f"clamp(round(toNumber(event.target.value)), {low}, {high})" in change["update"]
    derived = {d["name"]: d["expr"] for d in (p.param.to_dict() for p in appendix.params(False)) if "expr" in d}
    assert derived["Nn"].startswith("clamp(") and derived["Mn"].startswith("clamp(")


# ---- the figures and equations the article must have (/work/shared/ARTICLE.md) -----------------
@pytest.fixture(scope="module")
def article(article_doc):
    """content/index.md rendered as the build renders it (charts are placed, not made)."""
    return article_doc[0]


def maths(html: str) -> list[str]:
    """The TeX source of every formula, read back from the MathML's annotation."""
    import html as html_lib
    import re

    return [html_lib.unescape(t) for t in re.findall(r'<annotation encoding="application/x-tex">(.*?)</annotation>', html, re.S)]


def test_the_new_charts_are_placed_in_their_sections(article, registry):
    order = article.charts
    for chart, section in (("mod-bot-waves", "mod-bot"), ("five-neuron-embed", "five-neuron")):
        assert chart in order and registry.figures[chart].section == section
        fig = registry.figures[chart]
        assert fig.caption and fig.description
    # the waves come first among the section's pictures of the weights; W_embed before its equation's charts
    assert order.index("mod-bot-loss") < order.index("mod-bot-waves") < order.index("mod-bot-stars")
    assert order.index("embed-circle") < order.index("five-neuron-embed") < order.index("five-neuron-accuracy")


def test_the_five_neuron_section_writes_the_two_line_equation(article):
    tex = [t for t in maths(article.html) if r"\text{activations} &=" in t]
    assert len(tex) == 1
    lines = [line for line in tex[0].split(r"\\") if "=" in line]
    assert len(lines) == 2
    assert r"\operatorname{ReLU}" in lines[0] and "W_{\\text{embed}}[a]" in lines[0] and "W_{\\text{in-proj}}" in lines[0]
    assert lines[1].lstrip().startswith(r"\operatorname{logits}") and "W_{\\text{out-proj}}" in lines[1] \
        and "W_{\\text{embed}}^{\\top}" in lines[1]


def test_the_appendix_defines_its_three_matrices_as_math(article):
    html = article.html[article.html.index("Appendix: how the circle construction works"):]
    found = {}
    for tex in maths(html):
        for name in (r"W_{\text{embed}} =", r"W_{\text{in-proj}}^{\top} =", r"W_{\text{out-proj}} ="):
            if tex.startswith(name):
                found[name] = tex
    assert len(found) == 3
    assert all(r"\begin{pmatrix}" in tex for tex in found.values())
    assert r"\cos((M-1)w)" in found[r"W_{\text{embed}} ="]
    assert r"\cos(\theta_{N-1})" in found[r"W_{\text{in-proj}}^{\top} ="]
    assert r"\cos(2\theta_{N-1})" in found[r"W_{\text{out-proj}} ="]
    assert html.count("<math") >= 3


def test_the_w_embed_figure_holds_the_fixed_circle():
    from builder.figures import five_neuron

    spec = five_neuron.embed_matrix_chart(CTX).to_dict()
    rows = spec["data"]["values"]  # the layers' one table
    assert [row["i"] for row in rows] == list(range(67))
    for row in rows:
        assert row["cos"] == pytest.approx(np.cos(2 * np.pi * row["i"] / 67), abs=1e-4)
        assert row["sin"] == pytest.approx(np.sin(2 * np.pi * row["i"] / 67), abs=1e-4)


def test_the_section_5_waves_follow_the_step_and_the_run():
    """The chart carries the section's step and run, a variant per run, and its packed weights
    decode to the run's input weights; at the end of the featured run, in the chart's default
    order, every line is one wave."""
    from builder.figures._common import CODES, LEVELS

    spec = mod_bot.waves_chart(CTX)
    names = {p["name"]: p for p in spec["params"]}
    assert {"step", "run", "neuron", "unwrap", "ck_every", "ck_last"} <= set(names) and names["unwrap"]["value"] is True
    assert set(spec["usermeta"]["variants"]) == set(mod_bot.runs(CTX))
    assert facet_columns(spec) == [2]
    for key in (mod_bot.FEATURED, "seed1"):
        r = mod_bot.runs(CTX)[key]
        variant = spec["usermeta"]["variants"][key]
        packed_rows = variant["data"]["waves_w_in"]
        level = variant["signals"]["wave_level"]
        last = np.array([CODES.index(c) - LEVELS for c in packed_rows[-1]["w"]], float).reshape(r["hidden"], r["p"]) * level
        vmax = level * LEVELS  # the packed range (the heatmaps' fixed one): larger weights are clipped to it
        assert np.abs(last - np.clip(r["w_in"][-1].T, -vmax, vmax)).max() <= level / 2 + 1e-6
        panels = {p for p in variant["signals"]["wave_panels"] if p}
        assert len(panels) == len(mod_bot.shown_groups(r)) <= mod_bot.MAX_GROUPS
    r = mod_bot.run(CTX)
    freqs = spec["usermeta"]["variants"][mod_bot.FEATURED]["signals"]["wave_freqs"]
    for n in range(r["hidden"]):
        k = freqs[n]
        order = np.argsort([(k * t) % r["p"] for t in range(r["p"])])
        assert sign_turns(r["w_in"][-1][order, n]) <= 2, n
