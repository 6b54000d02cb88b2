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

import altair as alt
import numpy as np

from builder.analysis import construction
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


def verify_construction() -> None:
    """The build's exactness check (builder.analysis.construction): x^2 with N = 5..10 neurons
    gives (a + b) mod M for every pair of every checked modulus."""
    construction.verify_construction()


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
    return {"appendix-circles": {"numbers": numbers, "midpoint": [{"x": _r(mid[0]), "y": _r(mid[1])}]},
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
        Figure("appendix-neurons", SECTION,
               "The N neurons: the directions they read, what each one computes, and their outputs turned to twice their angle and added up.",
               "Three panels: N evenly spaced directions with the midpoint of a and b; a bar chart of each neuron's value before and after the activation; the neurons' output vectors at doubled angles and their sum, which points at a + b.",
               neurons_chart, data=tables("appendix-neurons"), **common, narrow=lambda ctx: neurons_chart(ctx, narrow=True)),
        Figure("appendix-outputs", SECTION,
               "The network's score for every possible answer (bars) against a perfect cosine peaked at a + b (dashed), and the difference.",
               "Bar chart of the logits for every candidate answer with the correct one highlighted, a dashed cosine target, and a second bar chart of the small differences.",
               outputs_chart, data=tables("appendix-outputs"), **common, narrow=lambda ctx: outputs_chart(ctx, narrow=True)),
    ]
