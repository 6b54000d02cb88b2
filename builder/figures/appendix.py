"""Appendix, "How the circle construction works": a hand-built network for a + b (mod M),
computed in the reader's browser from their inputs (no precomputed tables).

Every chart of the section carries the same params a, b, N, M and act (shared by the glue, so
one set of inputs drives all of them) and derives the rest with Vega expressions: the angle
unit w = 2 pi / M, each neuron's pre-activation h_n = cos(wa - t_n) + cos(wb - t_n) at
t_n = 2 pi n / N (unrolled over n < N_MAX), and the readout z = sum_n f(h_n) (cos 2t_n, sin 2t_n)
whose angle is the answer. builder.analysis.construction checks the same construction exactly
at build time; the tests compare the page's numbers with it.
"""
from __future__ import annotations

import functools

import altair as alt
import numpy as np

from builder.analysis import construction
from builder.facts import claim, fact, listed
from builder.figures import Figure, with_signal_handlers
from builder.figures._common import TEST_COLOR, TRAIN_COLOR
from builder.figures.context import BuildContext, loader

SECTION = "appendix"
N_MIN, N_MAX = 3, 10
M_MIN, M_MAX = 12, 500
DEFAULTS = {"a": 9, "b": 15, "N": 5, "M": 67}
SHARED = ("a", "b", "N", "M", "act")
A_COLOR, B_COLOR, MID_COLOR, SUM_COLOR = TRAIN_COLOR, TEST_COLOR, "#333", "#f58518"
WIDTH = 300  # the widest plot
NARROW_WIDTH = 250  # the same with its axis in a phone column (Figure.narrow)
PLANE, NARROW_PLANE = 150, 132  # a square panel around the unit circle (two a row)


def _sum_over_neurons(term: str) -> str:
    """sum_{n < Nn} term(n): unrolled, as Vega expressions have no loops."""
    return " + ".join(f"({n} < Nn ? {term.format(n=n)} : 0)" for n in range(N_MAX))


def _theta(n: str) -> str:
    return f"(2 * PI * {n} / Nn)"


def _h(n: str) -> str:
    """A neuron's pre-activation: the sum of the two embedded inputs read along t_n."""
    t = _theta(n)
    return f"(cos(w * a - {t}) + cos(w * b - {t}))"


def _f(x: str) -> str:
    return f"(act == 'x²' ? pow({x}, 2) : max({x}, 0))"


def params(bound: bool) -> list:
    """The section's params; `bound`: this chart carries the inputs (the others follow)."""
    def bind(make):
        return {"bind": make()} if bound else {}
    z = {axis: _sum_over_neurons(f"{_f(_h('{n}'))} * {trig}(2 * {_theta('{n}')})") for axis, trig in (("zx", "cos"), ("zy", "sin"))}
    derived = {
        "Nn": f"clamp(round(toNumber(N)), {N_MIN}, {N_MAX})",
        "Mn": f"clamp(round(toNumber(M)), {M_MIN}, {M_MAX})",
        "w": "2 * PI / Mn",
        "a_max": "Mn - 1", "s_max": "2 * Mn - 2", "d_min": "1 - Mn",
        "s_now": "a + b", "d_now": "a - b",
        "truth": "(a + b) % Mn",
        **z,
        "zlen": "sqrt(zx * zx + zy * zy)",
        # the linear first try: the midpoint read on the doubled dial (answer c at w c / 2 and
        # at w c / 2 + PI); its top position, and which copy of the answer that is
        "mx": "(cos(w * a) + cos(w * b)) / 2", "my": "(sin(w * a) + sin(w * b)) / 2",
        "mzero": "sqrt(mx * mx + my * my) <= 1e-9",
        "dial_top": "((round(atan2(my, mx) / (w / 2)) % (2 * Mn)) + 2 * Mn) % (2 * Mn)",
        # the fold: ReLU(h) = h/2 + |h|/2, each half written at the doubled angles and summed
        **{f"{half}{axis}": _sum_over_neurons(f"{value} / 2 * {trig}(2 * {_theta('{n}')})")
           for half, value in (("l", _h("{n}")), ("f", f"abs({_h('{n}')})"))
           for axis, trig in (("x", "cos"), ("y", "sin"))},
        "llen": "sqrt(lx * lx + ly * ly)", "flen": "sqrt(fx * fx + fy * fy)",
        # the logits are zlen * cos(w c - phase): the answer is the grid point nearest the phase;
        # z = 0 (a and b opposite on the circle, even M) leaves every logit 0, and a phase
        # halfway between two numbers gives them equal scores: no single answer
        "zero": "zlen <= 1e-9 * Nn * 4",
        "q": "atan2(zy, zx) / w",
        "half": "abs(q - floor(q) - 0.5) < 1e-9",
        "answer": "zero ? 'none (every score is 0)' : half ? 'a tie between ' + ((floor(q) % Mn + Mn) % Mn) + ' and '"
                  " + ((floor(q) % Mn + Mn + 1) % Mn) : '' + ((round(q) % Mn + Mn) % Mn)",
        "correct": "answer == '' + truth",
    }
    return [
        alt.param(name="a", value=DEFAULTS["a"], **bind(lambda: alt.binding_range(min=0, max=M_MAX - 1, step=1, name="a "))),
        alt.param(name="b", value=DEFAULTS["b"], **bind(lambda: alt.binding_range(min=0, max=M_MAX - 1, step=1, name="b "))),
        alt.param(name="s_in", value=DEFAULTS["a"] + DEFAULTS["b"],
                  **bind(lambda: alt.binding_range(min=0, max=2 * M_MAX - 2, step=1, name="a + b "))),
        alt.param(name="d_in", value=DEFAULTS["a"] - DEFAULTS["b"],
                  **bind(lambda: alt.binding_range(min=1 - M_MAX, max=M_MAX - 1, step=1, name="a − b "))),
        alt.param(name="N", value=DEFAULTS["N"], **bind(lambda: alt.binding(input="number", name="neurons N "))),
        alt.param(name="M", value=DEFAULTS["M"], **bind(lambda: alt.binding(input="number", name="modulus M "))),
        alt.param(name="act", value="ReLU", **bind(lambda: alt.binding_radio(options=["ReLU", "x²"], name="activation "))),
        *(alt.param(name=k, expr=v) for k, v in derived.items()),
    ]


def handlers() -> dict:
    """Moving a + b keeps a - b (and the other way round), nudged by one where the parity of the
    two would leave a or b fractional, and clamped so both stay in 0..M-1; a change of M clamps
    a and b. The handlers read only the two sliders, never a or b (that would be a cycle); the
    sliders follow a and b through MIRRORS."""
    m1 = "(Mn - 1)"
    lim_s = f"min(s_in, 2 * {m1} - s_in)"  # the largest |a - b| this sum allows
    d_c = f"clamp(d_in, -{lim_s}, {lim_s})"
    d_fix = f"((s_in + {d_c}) % 2 == 0 ? {d_c} : ({d_c} > 0 ? {d_c} - 1 : {d_c} + 1))"
    s_c = f"clamp(s_in, abs(d_in), 2 * {m1} - abs(d_in))"
    s_fix = f"((d_in + {s_c}) % 2 == 0 ? {s_c} : ({s_c} + 1 <= 2 * {m1} - abs(d_in) ? {s_c} + 1 : {s_c} - 1))"
    return {
        **number_handlers(),
        "a": [{"events": {"signal": "s_in"}, "update": f"(s_in + {d_fix}) / 2"},
              {"events": {"signal": "d_in"}, "update": f"({s_fix} + d_in) / 2"},
              {"events": {"signal": "Mn"}, "update": f"min(a, {m1})"}],
        "b": [{"events": {"signal": "s_in"}, "update": f"(s_in - {d_fix}) / 2"},
              {"events": {"signal": "d_in"}, "update": f"({s_fix} - d_in) / 2"},
              {"events": {"signal": "Mn"}, "update": f"min(b, {m1})"}],
    }


def number_handlers() -> dict:
    """When the reader commits a number in N or M (Enter, Tab, leaving the box: the input's
    "change" event), the param becomes that number rounded and clamped to its range, and the
    box shows it; a number above the range is brought down as soon as it is typed (more digits
    cannot make it smaller). Meanwhile the charts already use the clamped value (Nn, Mn). The
    handlers wait a moment (debounce) so that they act after Vega's own update from the box."""
    out = {}
    typed = "toNumber(event.target.value)"
    for name, low, high in (("N", N_MIN, N_MAX), ("M", M_MIN, M_MAX)):
        mine = f"event.target.name === '{name}' && event.target.type === 'number'"
        number = f"isValid({typed}) && isFinite({typed})"
        out[name] = [
            {"events": {"source": "window", "type": "change", "filter": mine, "debounce": 30},
             "update": f"{number} ? clamp(round({typed}), {low}, {high}) : {DEFAULTS[name]}"},
            {"events": {"source": "window", "type": "input", "filter": f"{mine} && {typed} > {high}", "debounce": 30},
             "update": f"{high}"},
        ]
    return out


MIRRORS = (("s_now", "s_in"), ("d_now", "d_in"))
LIMITS = (("a", None, "a_max"), ("b", None, "a_max"), ("s_in", None, "s_max"), ("d_in", "d_min", "a_max"),
          ("N", N_MIN, N_MAX), ("M", M_MIN, M_MAX))


def _numbers(n: int = M_MAX, filter_: str = "datum.c < Mn"):
    """A sequence 0..n-1 as field c, cut to the current modulus."""
    return alt.Chart(alt.sequence(0, n, as_="c")).transform_filter(filter_)


def _unit_plane(width: int = PLANE, reach: float = 1.3):
    """x, y encodings and size of a square panel around the unit circle (no axes: the circle is
    the scale); two a row."""
    axis = None
    scale = alt.Scale(domain=[-reach, reach], nice=False)
    return alt.X("x:Q", scale=scale, axis=axis), alt.Y("y:Q", scale=scale, axis=axis), dict(width=width, height=width)


def _segment(x_expr: str, y_expr: str, x, y, **mark):
    """A line between two points, the ends given as expressions of datum.k (0, then 1)."""
    return alt.Chart(alt.Data(values=[{"k": 0}, {"k": 1}])).transform_calculate(x=x_expr, y=y_expr).mark_line(
        **mark).encode(x=x, y=y, order="k:Q")


def _point(expr_x: str, expr_y: str, **calc):
    return alt.Chart(alt.Data(values=[{}])).transform_calculate(x=expr_x, y=expr_y, **calc)


def circles_chart(ctx: BuildContext, narrow: bool = False):
    """narrow: the phone layout (smaller panels)."""
    x, y, size = _unit_plane(NARROW_PLANE if narrow else PLANE)
    ring = _numbers().transform_calculate(x="cos(w * datum.c)", y="sin(w * datum.c)").mark_circle(size=14, color="#bbb").encode(x=x, y=y)
    chord = _segment("datum.k == 0 ? cos(w * a) : cos(w * b)", "datum.k == 0 ? sin(w * a) : sin(w * b)", x, y,
                     color="#888", strokeDash=[3, 2])
    inputs = alt.Chart(alt.Data(values=[{"k": "a"}, {"k": "b"}])).transform_calculate(
        v="datum.k == 'a' ? a : b", x="cos(w * datum.v)", y="sin(w * datum.v)", label="datum.k + ' = ' + datum.v"
    )
    colour = alt.Color("k:N", scale=alt.Scale(domain=["a", "b"], range=[A_COLOR, B_COLOR]), legend=None)
    dots = inputs.mark_circle(size=90).encode(x=x, y=y, color=colour)
    labels = inputs.transform_calculate(x="1.18 * cos(w * datum.v)", y="1.18 * sin(w * datum.v)").mark_text(fontSize=11, fontWeight="bold").encode(
        x=x, y=y, text="label:N", color=colour)
    mid = _point("(cos(w * a) + cos(w * b)) / 2", "(sin(w * a) + sin(w * b)) / 2")
    mid_dot = mid.mark_point(shape="diamond", filled=True, size=80, color=MID_COLOR).encode(x=x, y=y)
    ray = _segment("datum.k * cos(w * (a + b) / 2)", "datum.k * sin(w * (a + b) / 2)", x, y, color=MID_COLOR, strokeWidth=1)
    embed = alt.layer(ring, chord, ray, dots, labels, mid_dot).properties(
        **size, title=alt.Title("a, b and their midpoint", anchor="start", fontSize=12))

    # the unembedding as the hidden layer sees it: the half angle w c / 2 of every answer c,
    # so going once around passes every number twice
    twice = _numbers(2 * M_MAX, "datum.c < 2 * Mn").transform_calculate(
        x="cos(w * datum.c / 2)", y="sin(w * datum.c / 2)", label="datum.c % Mn", hit="datum.c % Mn == truth")
    twice_dots = twice.mark_circle(size=14).encode(
        x=x, y=y, color=alt.condition("datum.hit", alt.value(SUM_COLOR), alt.value("#bbb")),
        size=alt.condition("datum.hit", alt.value(80), alt.value(14)))
    twice_labels = twice.transform_filter("datum.hit").transform_calculate(
        x="1.2 * cos(w * datum.c / 2)", y="1.2 * sin(w * datum.c / 2)").mark_text(fontSize=11, fontWeight="bold", color=SUM_COLOR).encode(
        x=x, y=y, text="label:N")
    unembed = alt.layer(twice_dots, ray, mid_dot, twice_labels).properties(
        **size, title=alt.Title("Answers at half angle", anchor="start", fontSize=12))
    chart = alt.hconcat(embed, unembed, spacing=16 if narrow else 20).add_params(*params(bound=True))
    return with_signal_handlers(chart, handlers())


def linear_chart(ctx: BuildContext, narrow: bool = False):
    """The linear first try: each answer's two scores on the doubled dial and their sum.
    narrow: the phone layout (narrower plot, the title in lines)."""
    width = NARROW_WIDTH if narrow else WIDTH
    copies = _numbers().transform_calculate(
        first="mx * cos(w * datum.c / 2) + my * sin(w * datum.c / 2)",
        second="mx * cos(w * (datum.c + Mn) / 2) + my * sin(w * (datum.c + Mn) / 2)",
    ).transform_calculate(added="datum.first + datum.second").transform_fold(
        ["first", "second", "added"], as_=["copy", "score"])
    names = {"first": "first copy (at half its angle)", "second": "second copy (half a turn on)", "added": "the two added"}
    x = alt.X("c:Q", title="answer c", scale=alt.Scale(domain=[alt.ExprRef("0"), alt.ExprRef("Mn - 1")], nice=False),
              axis=alt.Axis(tickMinStep=1, format="d"))
    colour = alt.Color("copy:N", title=None, scale=alt.Scale(domain=list(names), range=[A_COLOR, B_COLOR, SUM_COLOR]),
                       legend=alt.Legend(orient="bottom", direction="vertical" if narrow else "horizontal",
                                         labelExpr=f"{names!r}[datum.value]"))
    lines = copies.mark_line(strokeWidth=2).encode(
        x=x, y=alt.Y("score:Q", title="score", scale=alt.Scale(domain=[-1, 1])), color=colour,
        tooltip=[alt.Tooltip("c:Q", title="answer"), alt.Tooltip("copy:N"), alt.Tooltip("score:Q", format=".3f")])
    answer = alt.Chart(alt.Data(values=[{}])).transform_calculate(c="truth").mark_rule(
        color=MID_COLOR, strokeDash=[3, 2]).encode(x=x)
    title = alt.expr(LINEAR_VERDICT_NARROW if narrow else LINEAR_VERDICT)
    chart = alt.layer(answer, lines).properties(width=width, height=150, title=alt.Title(
        title, anchor="start", fontSize=12, fontWeight="normal")).add_params(*params(bound=False))
    return chart.to_dict()


# which copy of a + b the top score is on, and that the copies cancel (in lines on a phone)
_TOP = "(dial_top < Mn ? 'first' : 'second')"
LINEAR_VERDICT = (f"mzero ? 'a and b are opposite: the midpoint is the centre, every score is 0' : "
                  f"'The top score is on the ' + {_TOP} + ' copy of ' + truth + '; added, the copies cancel'")
LINEAR_VERDICT_NARROW = (f"mzero ? ['a and b are opposite: the midpoint', 'is the centre, every score is 0'] : "
                         f"['The top score is on the ' + {_TOP} + ' copy', 'of ' + truth + '; added, the copies cancel']")


def fold_chart(ctx: BuildContext, narrow: bool = False):
    """ReLU split in two halves, h/2 and |h|/2, each neuron's half written at twice its angle,
    and each half's sum. narrow: the phone layout (smaller panels)."""
    x, y, size = _unit_plane(NARROW_PLANE if narrow else PLANE, 1.45)
    scale = "(1.1 / max(flen, 1))"  # both panels on one scale: every arrow and sum within the plot
    ring = _numbers().transform_calculate(x="cos(w * datum.c)", y="sin(w * datum.c)").mark_circle(
        size=8, color="#ccc").encode(x=x, y=y)

    def panel(half: str, value: str, sx: str, sy: str, title: str):
        arrows = _neurons().transform_calculate(v=value, k="[0, 1]").transform_flatten(["k"]).transform_calculate(
            x=f"datum.k * datum.v * cos(2 * datum.t) * {scale}", y=f"datum.k * datum.v * sin(2 * datum.t) * {scale}"
        ).mark_line(color="#999", clip=True).encode(x=x, y=y, detail="n:N", order="k:Q")
        total = _segment(f"datum.k * {sx} * {scale}", f"datum.k * {sy} * {scale}", x, y, color=SUM_COLOR, strokeWidth=3)
        centre = _point("0", "0").mark_point(shape="circle", filled=True, size=30, color=SUM_COLOR).encode(x=x, y=y)
        return alt.layer(ring, arrows, total, centre).properties(
            **size, title=alt.Title(title, anchor="start", fontSize=12))

    linear = panel("l", "datum.h / 2", "lx", "ly", "Linear half, h / 2")
    note = _point("0", "-1.3", label="llen <= 1e-9 * Nn ? 'these add up to 0' : 'these do not add up to 0'").mark_text(
        fontSize=11, color=SUM_COLOR, fontWeight="bold").encode(x=x, y=y, text="label:N")
    folded = panel("f", "abs(datum.h) / 2", "fx", "fy", "Folded half, |h| / 2")
    target = _point("1.25 * cos(w * truth)", "1.25 * sin(w * truth)", label="'a + b = ' + truth").mark_text(
        fontSize=11, color=SUM_COLOR, fontWeight="bold").encode(x=x, y=y, text="label:N")
    chart = alt.hconcat(alt.layer(linear, note), alt.layer(folded, target), spacing=16 if narrow else 24).add_params(
        *params(bound=False))
    return chart.to_dict()


def _neurons():
    return alt.Chart(alt.sequence(0, N_MAX, as_="n")).transform_filter("datum.n < Nn").transform_calculate(
        t="2 * PI * datum.n / Nn", h="cos(w * a - datum.t) + cos(w * b - datum.t)",
        f="act == 'x²' ? pow(datum.h, 2) : max(datum.h, 0)", n1="datum.n + 1")


def neurons_chart(ctx: BuildContext, narrow: bool = False):
    """narrow: the phone layout (smaller panels)."""
    x, y, size = _unit_plane(NARROW_PLANE if narrow else PLANE, 1.45)
    # in-projection: each neuron's direction, and the midpoint it reads
    spokes = _neurons().transform_calculate(k="[0, 1]").transform_flatten(["k"]).transform_calculate(
        x="datum.k * cos(datum.t)", y="datum.k * sin(datum.t)").mark_line(color="#999").encode(x=x, y=y, detail="n:N", order="k:Q")
    spoke_labels = _neurons().transform_calculate(x="1.15 * cos(datum.t)", y="1.15 * sin(datum.t)").mark_text(fontSize=10, color="#666").encode(
        x=x, y=y, text="n1:N")
    mid = _point("(cos(w * a) + cos(w * b)) / 2", "(sin(w * a) + sin(w * b)) / 2")
    mid_line = _segment("datum.k * (cos(w * a) + cos(w * b)) / 2", "datum.k * (sin(w * a) + sin(w * b)) / 2", x, y,
                        color=MID_COLOR, strokeWidth=2)
    inward = alt.layer(spokes, spoke_labels, mid_line, mid.mark_point(shape="diamond", filled=True, size=70, color=MID_COLOR).encode(x=x, y=y)).properties(
        **size, title=alt.Title("N directions read", anchor="start", fontSize=12))

    bars = _neurons().transform_fold(["h", "f"], as_=["stage", "v"]).mark_bar().encode(
        x=alt.X("n1:O", title="neuron", axis=alt.Axis(labelAngle=0)), xOffset=alt.XOffset("stage:N", sort=["h", "f"]),
        y=alt.Y("v:Q", title=None, scale=alt.Scale(domain=[-2, 4], clamp=True)),
        color=alt.Color("stage:N", title=None, scale=alt.Scale(domain=["h", "f"], range=["#bbb", SUM_COLOR]),
                        legend=alt.Legend(orient="bottom", labelExpr="datum.value == 'h' ? 'before activation' : 'after activation'")),
        tooltip=[alt.Tooltip("n1:O", title="neuron"), alt.Tooltip("h:Q", format=".3f", title="pre-activation"),
                 alt.Tooltip("f:Q", format=".3f", title="after activation")],
    ).properties(width=NARROW_WIDTH if narrow else WIDTH, height=130, title=alt.Title("Each neuron", anchor="start", fontSize=12))

    # out-projection at doubled angles, each scaled by its activation, and their sum z
    scale = "(1.1 / max(zlen, 1e-9))"  # the sum drawn at about unit length
    arrows = _neurons().transform_calculate(k="[0, 1]").transform_flatten(["k"]).transform_calculate(
        x=f"datum.k * datum.f * cos(2 * datum.t) * {scale}", y=f"datum.k * datum.f * sin(2 * datum.t) * {scale}").mark_line(
        color="#999", clip=True).encode(x=x, y=y, detail="n:N", order="k:Q")
    total = _segment(f"datum.k * zx * {scale}", f"datum.k * zy * {scale}", x, y, color=SUM_COLOR, strokeWidth=3)
    target = _point("1.25 * cos(w * truth)", "1.25 * sin(w * truth)", label="'a + b = ' + truth").mark_text(
        fontSize=11, color=SUM_COLOR, fontWeight="bold").encode(x=x, y=y, text="label:N")
    ring = _numbers().transform_calculate(x="cos(w * datum.c)", y="sin(w * datum.c)").mark_circle(size=8, color="#ddd").encode(x=x, y=y)
    outward = alt.layer(ring, arrows, total, target).properties(
        **size, title=alt.Title("Written at double angle", anchor="start", fontSize=12))
    chart = alt.vconcat(alt.hconcat(inward, outward, spacing=16 if narrow else 24), bars, spacing=16).add_params(*params(bound=False))
    return chart.to_dict()


def outputs_chart(ctx: BuildContext, narrow: bool = False):
    """narrow: the phone layout (narrower plots, the title in lines)."""
    width = NARROW_WIDTH if narrow else WIDTH
    logits = _numbers().transform_calculate(
        logit="zx * cos(w * datum.c) + zy * sin(w * datum.c)",
        target="zlen * cos(w * (datum.c - truth))",
    ).transform_calculate(error="datum.logit - datum.target", is_answer="datum.c == truth")
    x = alt.X("c:Q", title="candidate answer c", scale=alt.Scale(domain=[alt.ExprRef("-0.5"), alt.ExprRef("Mn - 0.5")], nice=False),
              axis=alt.Axis(tickMinStep=1, format="d"))
    logit_y = alt.Y("logit:Q", title="logit", axis=alt.Axis(format=".2~g"))
    bars = logits.mark_bar(width=alt.expr(f"max(1, 0.8 * {width} / Mn)")).encode(
        x=x, y=logit_y,
        color=alt.condition("datum.is_answer", alt.value(SUM_COLOR), alt.value("#9db4cc")),
        tooltip=[alt.Tooltip("c:Q", title="c"), alt.Tooltip("logit:Q", format=".4f"), alt.Tooltip("target:Q", format=".4f")])
    curve = logits.mark_line(color=MID_COLOR, strokeWidth=1, strokeDash=[4, 2]).encode(x=x, y="target:Q")
    # the verdict on two short lines of its own, so that no answer, tie or modulus makes it
    # longer than the chart is wide
    # when a and b sit opposite (even M) every score is 0: the axis still spans a small range
    # rather than a zero-width one whose labels are runs of zeros
    logit_floor = alt.Chart(alt.Data(values=[{"k": -1}, {"k": 1}])).transform_calculate(
        logit="datum.k * max(zlen, 1e-3)").mark_point(opacity=0).encode(y=logit_y)
    top = alt.layer(bars, curve, logit_floor).properties(width=width, height=150, title=alt.Title(
        alt.expr(VERDICT), anchor="start", fontSize=12, fontWeight="normal"))
    error_y = alt.Y("error:Q", title="logit − target", axis=alt.Axis(format=".2~g", tickCount=4))
    errors = logits.mark_bar(width=alt.expr(f"max(1, 0.8 * {width} / Mn)"), color=TEST_COLOR).encode(
        x=x, y=error_y,
        tooltip=[alt.Tooltip("c:Q", title="c"), alt.Tooltip("error:Q", format=".2e")])
    # an exact construction (x²) leaves rounding noise of 1e-16: the axis always spans at least
    # ERROR_FLOOR of the scores' size either way, so such noise shows as the flat zero it is
    floor = alt.Chart(alt.Data(values=[{"k": -1}, {"k": 1}])).transform_calculate(
        error=f"datum.k * max({ERROR_FLOOR} * zlen, 1e-3)").mark_point(opacity=0).encode(y=error_y)
    errors = alt.layer(errors, floor).properties(
        width=width, height=80, title=alt.Title(["Difference from a perfect cosine", "peaked at a + b"] if narrow else
                                                "Difference from a perfect cosine peaked at a + b", anchor="start", fontSize=12))
    chart = alt.vconcat(top, errors, spacing=12).add_params(*params(bound=False))
    return chart.to_dict()


VERDICT = ("['Every answer\\'s score. The network picks', "
           "answer + (correct ? ', which is right' : ', but a + b is ' + truth)]")
ERROR_FLOOR = 0.01


@functools.lru_cache(maxsize=1)
def report() -> construction.Report:
    """The construction checked for every N and modulus (a few seconds; once per process: it
    reads no experiment, only numpy)."""
    return construction.check_construction()


def verify_construction() -> None:
    """The build's exactness check (builder.analysis.construction): x^2 with N = 5..10 neurons
    gives (a + b) mod M for every pair of every checked modulus."""
    construction.assert_square_exact(report())


# -- facts and claims: what the appendix's prose says (builder.facts). They are deterministic
# mathematics, computed from the construction's own matrices, and read no experiment.
def _pair(p) -> str:
    return f"{p[0]} + {p[1]}"


@fact("appendix.pair", _pair, sources=())
def pair(ctx: BuildContext) -> tuple:
    """The inputs' default pair (a, b)."""
    return DEFAULTS["a"], DEFAULTS["b"]


@fact("appendix.pair-sum", sources=())
def pair_sum(ctx: BuildContext) -> int:
    """(a + b) mod M for the default pair and modulus."""
    return (DEFAULTS["a"] + DEFAULTS["b"]) % DEFAULTS["M"]


@fact("appendix.partner", _pair, sources=())
def partner(ctx: BuildContext) -> tuple:
    """A pair with the default pair's answer whose midpoint points the opposite way."""
    found = construction.opposite_partner(DEFAULTS["a"], DEFAULTS["b"], DEFAULTS["M"])
    if found is None:
        raise ValueError("the default pair has no midpoint (its numbers are opposite)")
    return found


@fact("appendix.n-range", lambda r: f"{r[0]} and {r[1]}", sources=())
def n_range(ctx: BuildContext) -> tuple:
    """The neuron counts the number box allows."""
    return N_MIN, N_MAX


@fact("appendix.m-range", lambda r: f"{r[0]} and {r[1]}", sources=())
def m_range(ctx: BuildContext) -> tuple:
    """The moduli the number box allows."""
    return M_MIN, M_MAX


@fact("appendix.moduli", listed, sources=())
def moduli(ctx: BuildContext) -> tuple:
    """The moduli the build checks every pair of."""
    return construction.MODULI


EXAMPLE = ("relu", 5, 127)  # the five-neuron ReLU network at the first modulus where it fails


@fact("appendix.relu-wrong", "{:,}", sources=())
def relu_wrong(ctx: BuildContext) -> int:
    """Pairs the five-neuron ReLU network gets wrong (or tied) at M = 127."""
    return report().row(*EXAMPLE).failing


@fact("appendix.relu-pairs", "{:,}", sources=())
def relu_pairs(ctx: BuildContext) -> int:
    """Pairs checked at M = 127 (every (a, b))."""
    return report().row(*EXAMPLE).checked


@fact("appendix.relu-example", _pair, sources=())
def relu_example(ctx: BuildContext) -> tuple:
    """The first pair (in the order a, then b) that the five-neuron ReLU network gets wrong at M = 127."""
    return report().row(*EXAMPLE).example_failure


@fact("appendix.relu-example-answer", sources=())
def relu_example_answer(ctx: BuildContext) -> int:
    """What the network answers for that pair: the grid point nearest its readout's angle."""
    (a, b), m = relu_example(ctx), EXAMPLE[2]
    z = construction.readout(EXAMPLE[1], m, "relu", a=[a])[0, b]
    return int(round(np.arctan2(z[1], z[0]) / (2 * np.pi / m))) % m


def _first_fail(n: int) -> int:
    first = construction.failure_summary(report(), "relu").first_failing_m[n]
    if first is None:
        raise ValueError(f"the ReLU network with {n} neurons fails for no checked modulus")
    return first


@fact("appendix.first-fail-3", sources=())
def first_fail_3(ctx: BuildContext) -> int:
    """The smallest checked modulus where the ReLU network with 3 neurons gets a pair wrong,
    the same as with 4 (the prose says "for N = 3 or 4")."""
    three, four = _first_fail(3), _first_fail(4)
    if three != four:
        raise ValueError(f"3 and 4 neurons first fail at different moduli: {three} and {four}")
    return three


@fact("appendix.first-fail-5", sources=())
def first_fail_5(ctx: BuildContext) -> int:
    """The same with 5 neurons."""
    return _first_fail(5)


@fact("appendix.first-fail-6", sources=())
def first_fail_6(ctx: BuildContext) -> int:
    """The same with 6 neurons."""
    return _first_fail(6)


@fact("appendix.first-fail-7", sources=())
def first_fail_7(ctx: BuildContext) -> int:
    """The same with 7 neurons."""
    return _first_fail(7)


@fact("appendix.first-fail-8", sources=())
def first_fail_8(ctx: BuildContext) -> int:
    """The same with 8 neurons."""
    return _first_fail(8)


@claim("appendix.dial-finds-a-copy", sources=())
def dial_finds_a_copy(ctx: BuildContext):
    """On the doubled dial, the linear readout's unique top position is a copy of (a + b) mod M
    for every pair of every checked modulus, except the opposite pairs of even moduli, whose
    midpoint is 0."""
    rows = [construction.linear_dial(m) for m in construction.MODULI]
    bad = [r.m for r in rows if r.on_a_copy + r.degenerate != r.pairs or r.degenerate != (r.m if r.m % 2 == 0 else 0)]
    far = sum(r.far_copy for r in rows)
    return not bad, (f"moduli where the top misses a copy: {bad}" if bad else
                     f"{sum(r.on_a_copy for r in rows):,} pairs on a copy ({far:,} on the second), "
                     f"{sum(r.degenerate for r in rows):,} with no midpoint")


@claim("appendix.copies-cancel", sources=())
def copies_cancel(ctx: BuildContext):
    """The two copies of every answer score exact opposites: added, they give 0 (up to rounding)."""
    worst = max(construction.linear_dial(m).copies_cancel for m in construction.MODULI)
    return worst <= construction.TOL, f"largest |sum of the two copies' scores| {worst:.1e}"


@claim("appendix.partner-opposite", sources=())
def partner_opposite(ctx: BuildContext):
    """The default pair and its partner have the same answer and opposite midpoints, so a linear
    model (any: here 20 random ones) puts the answer that tops one pair at the bottom of the other."""
    (a, b), (a2, b2), m = pair(ctx), partner(ctx), DEFAULTS["M"]
    s, s2 = construction.midpoints(m, a)[0, b], construction.midpoints(m, a2)[0, b2]
    cos = float(s @ s2 / np.hypot(*s) / np.hypot(*s2))
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(20, 2, m))
    reversed_ = all(int(np.argmax(s @ L)) == int(np.argmin(s2 @ L)) for L in maps)
    same = (a + b) % m == (a2 + b2) % m
    return same and cos < -1 + 1e-12 and reversed_, \
        f"answers {(a + b) % m} and {(a2 + b2) % m}, cosine of the midpoints {cos:.12f}, rankings reversed: {reversed_}"


@claim("appendix.linear-half-vanishes", sources=())
def linear_half_vanishes(ctx: BuildContext):
    """ReLU's linear half, written at the doubled angles, adds up to 0 for every pair when N >= 4
    (the ReLU readout is then exactly the folded half's), and not for N = 3."""
    rows = [construction.fold_check(n, m) for m in construction.MODULI for n in construction.REPORT_NS]
    tol = construction.TOL * 10
    big = [(r.n, r.linear_half, r.relu_vs_abs) for r in rows if r.n >= 4 and max(r.linear_half, r.relu_vs_abs) > tol]
    three = min(r.linear_half for r in rows if r.n == 3)
    return not big and three > 0.1, (f"N >= 4 where it does not vanish: {big[:3]}" if big else
                                     f"largest linear half for N >= 4: {max(r.linear_half for r in rows if r.n >= 4):.1e}; "
                                     f"for N = 3 at least {three:.2f}")


@claim("appendix.relu-67-right", sources=())
def relu_67_right(ctx: BuildContext):
    """The five-neuron ReLU network gets every pair of M = 67 right."""
    row = report().row("relu", 5, 67)
    return row.correct == row.checked, f"{row.correct:,} of {row.checked:,} right"


@claim("appendix.nine-never-fail", sources=())
def nine_never_fail(ctx: BuildContext):
    """Nine ReLU neurons get every pair of every checked modulus right."""
    rows = [r for r in report().rows if r.activation == "relu" and r.n == 9]
    wrong = sum(r.failing for r in rows)
    return wrong == 0 and len(rows) == len(construction.MODULI), f"{wrong} failing pairs over {len(rows)} moduli"


@claim("appendix.ten-like-five", sources=())
def ten_like_five(ctx: BuildContext):
    """Ten ReLU neurons fail on exactly the same pairs as five, at every checked modulus."""
    diff = [m for m in construction.MODULI
            if not np.array_equal(*(construction.classify(n, m, "relu")[0] for n in (5, 10)))]
    return not diff, f"moduli where 5 and 10 neurons differ: {diff}"


@claim("appendix.square-exact", sources=())
def square_exact(ctx: BuildContext):
    """With squaring, N = 3 and N = 5 to 10 answer (a + b) mod M for every pair of every checked
    modulus, apart from the opposite pairs of even moduli; N = 4 fails at every one."""
    try:
        construction.assert_square_exact(report(), ns=(3, *construction.EXACT_NS))
    except ValueError as err:
        return False, str(err)
    four = [r.m for r in report().rows if r.activation == "square" and r.n == 4 and not r.failing]
    return not four, f"N = 4 exact at {four}" if four else "exact; N = 4 fails at every modulus"


def _r(v) -> float:
    return round(float(v), 6)


@loader
def default_tables(ctx: BuildContext) -> dict[str, dict[str, list[dict]]]:
    """What the three charts draw at the inputs' defaults (a, b, N, M and the ReLU), computed
    here with builder.analysis.construction, for their CSV downloads (Figure.data), once per
    build for the three: the page computes the same from whatever the reader sets."""
    a, b, n, m = (DEFAULTS[k] for k in ("a", "b", "N", "M"))
    e = construction.embed(m)
    mid = (e[a] + e[b]) / 2
    roles = {a: "a", b: "b", (a + b) % m: "a + b"}
    numbers = [{"number": x, "x": _r(e[x, 0]), "y": _r(e[x, 1]), "role": roles.get(x, "")} for x in range(m)]
    h = construction.preactivations(n, m, a)[0, b]  # (n,)
    f = construction.ACTIVATIONS["relu"](h)
    v = construction.out_proj(n)
    z = f @ v
    neurons = [{"neuron": i + 1, "direction": _r(360 * i / n), "h": _r(h[i]), "f": _r(f[i]),
                "out_x": _r(f[i] * v[i, 0]), "out_y": _r(f[i] * v[i, 1])} for i in range(n)]
    logits = construction.logits_direct(n, m, "relu", a)[0, b]
    w, truth = 2 * np.pi / m, (a + b) % m
    target = np.hypot(*z) * np.cos(w * (np.arange(m) - truth))
    outputs = [{"c": c, "logit": _r(logits[c]), "target": _r(target[c]), "error": _r(logits[c] - target[c])} for c in range(m)]
    scores = construction.dial_scores(m, a)[0, b]  # (2m,): the linear first try on the doubled dial
    copies = [{"c": c, "first": _r(scores[c]), "second": _r(scores[c + m]), "added": _r(scores[c] + scores[c + m])}
              for c in range(m)]
    linear, folded = (half[0, b] for half in construction.fold_halves(n, m, a))
    halves = [{"neuron": i + 1, "direction": _r(360 * i / n), "h": _r(h[i]), "linear": _r(h[i] / 2),
               "folded": _r(abs(h[i]) / 2)} for i in range(n)]
    return {"appendix-circles": {"numbers": numbers, "midpoint": [{"x": _r(mid[0]), "y": _r(mid[1])}]},
            "appendix-linear": {"copies": copies},
            "appendix-fold": {"halves": halves, "sums": [{"half": "linear", "x": _r(linear[0]), "y": _r(linear[1])},
                                                          {"half": "folded", "x": _r(folded[0]), "y": _r(folded[1])}]},
            "appendix-neurons": {"neurons": neurons, "sum": [{"x": _r(z[0]), "y": _r(z[1])}]},
            "appendix-outputs": {"scores": outputs}}


DATA_COLUMNS = (
    ("number", f"a number 0 to M - 1 (M = {DEFAULTS['M']}, the default)"),
    ("role", "a, b or a + b (mod M) for the inputs' defaults, else empty"),
    ("numbers.x", "the number's embedding e(x) = cos(2 pi x / M) (dimensionless)"),
    ("numbers.y", "its second coordinate, sin(2 pi x / M)"),
    ("midpoint.x", "first coordinate of the midpoint of e(a) and e(b)"), ("midpoint.y", "its second coordinate"),
    ("neuron", "neuron number, counting from 1"), ("direction", "the direction the neuron reads, degrees"),
    ("h", "the neuron's value before the activation, <e(a), u_n> + <e(b), u_n>"),
    ("f", "the neuron's value after the activation (ReLU, the default)"),
    ("out_x", "first coordinate of the neuron's output vector, f at twice its direction"), ("out_y", "its second coordinate"),
    ("sum.x", "first coordinate of the sum of the output vectors (the readout)"), ("sum.y", "its second coordinate"),
    ("c", "a candidate answer 0 to M - 1"), ("logit", "the network's score for c (dimensionless)"),
    ("target", "a perfect cosine peaked at a + b, with the readout's length as amplitude"),
    ("error", "logit minus target"),
    ("first", "the linear readout's score for the copy of c at half its angle, <midpoint, (cos(wc/2), sin(wc/2))>"),
    ("second", "the same for the copy half a turn on, at the angle wc/2 + pi"), ("added", "first + second (0)"),
    ("linear", "the linear half of the neuron's ReLU, h / 2"), ("folded", "the folded half, |h| / 2"),
    ("half", "which half of ReLU the sum is of: linear (h / 2) or folded (|h| / 2)"),
    ("sums.x", "first coordinate of that half's outputs written at twice their neurons' angles and added"),
    ("sums.y", "its second coordinate"),
)


def figures(ctx: BuildContext) -> list[Figure]:
    # the charts compute everything they draw from the inputs, in the page: their only table is a helper line's ends
    common = dict(shares=SHARED, columns=DATA_COLUMNS)
    tables = lambda figure_id: lambda ctx: default_tables(ctx)[figure_id]  # noqa: E731
    return [
        Figure("appendix-circles", SECTION,
               "Move a and b (or their sum and difference), the number of neurons and the modulus; every chart of the appendix follows.",
               "Two circles: the embedding with the points a and b, the chord between them and its midpoint; and the answers placed at half their angle, so every number appears twice, with a + b highlighted where the midpoint's direction points.",
               circles_chart, limits=LIMITS, mirrors=MIRRORS, checks=(verify_construction,), data=tables("appendix-circles"), **common,
               narrow=lambda ctx: circles_chart(ctx, narrow=True)),
        Figure("appendix-linear", SECTION,
               "A linear first try: the midpoint's score for each answer's two copies on the doubled circle, and their sum. "
               "The dashed line marks a + b.",
               "Line chart over the answers: two mirror-image cosines, the scores of each answer's two copies, one peaking at "
               "a + b, and a flat line at zero where the two are added.",
               linear_chart, data=tables("appendix-linear"), **common, narrow=lambda ctx: linear_chart(ctx, narrow=True)),
        Figure("appendix-neurons", SECTION,
               "The N neurons: the directions they read, what each one computes, and their outputs turned to twice their angle and added up.",
               "Three panels: N evenly spaced directions with the midpoint of a and b; a bar chart of each neuron's value before and after the activation; the neurons' output vectors at doubled angles and their sum, which points at a + b.",
               neurons_chart, data=tables("appendix-neurons"), **common, narrow=lambda ctx: neurons_chart(ctx, narrow=True)),
        Figure("appendix-fold", SECTION,
               "ReLU split in two, ReLU(h) = h/2 + |h|/2: each neuron's share of either half written at twice its angle "
               "(grey) and each half's sum (orange).",
               "Two circles of arrows: the linear half, whose arrows cancel to nothing from four neurons on, and the folded "
               "half, whose sum points at a + b.",
               fold_chart, data=tables("appendix-fold"), **common, narrow=lambda ctx: fold_chart(ctx, narrow=True)),
        Figure("appendix-outputs", SECTION,
               "The network's score for every possible answer (bars) against a perfect cosine peaked at a + b (dashed), and the difference.",
               "Bar chart of the logits for every candidate answer with the correct one highlighted, a dashed cosine target, and a second bar chart of the small differences.",
               outputs_chart, data=tables("appendix-outputs"), **common, narrow=lambda ctx: outputs_chart(ctx, narrow=True)),
    ]
