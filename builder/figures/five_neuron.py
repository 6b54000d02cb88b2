"""Section 4, "Modular addition with five neurons": the numbers placed on a circle (section
"embed", static) and a model that keeps that circle fixed and trains only a 2 x 5 in-projection
and a 5 x 2 out-projection (section "five-neuron", scrubbed). Read from the frozen run
`five-neuron` (content/experiments.toml, kind "circle")."""
from __future__ import annotations

import json
import math

import altair as alt
import numpy as np

from builder.facts import claim, fact, percent, rate, rounded
from builder.figures import Animation, Figure, Section, with_datasets
from builder.figures._common import STEP_RULE, accuracy_curves, checkpoint_steps, first_step, text_on
from builder.figures.context import BuildContext, loader

EXPERIMENT = "five-neuron"
SEEDS = "seeds-five-neuron"  # the same model from 12 initializations (the footnote)
SECTION, EMBED_SECTION = "five-neuron", "embed"
# one colour per neuron, the same in every chart of the section
NEURON_COLORS = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#b279a2")
# The convergence the animate link plays, in steps of the frozen run; a test
# (tests/test_five_neuron.py) checks that spacing and norms settle inside it.
CONVERGE = (0, 3_000)


@loader
def run(ctx: BuildContext) -> dict:
    a = ctx.artifact(EXPERIMENT).arrays
    proj_in = np.asarray(a["proj_in"], np.float64)  # (checkpoints, 2, neurons)
    proj_out = np.asarray(a["proj_out"], np.float64)  # (checkpoints, neurons, 2)
    return {
        "metric_step": np.asarray(a["metric_step"]), "step": np.asarray(a["checkpoint_step"]),
        **{k: np.asarray(a[k], np.float64) for k in ("train_acc", "test_acc", "train_loss", "test_loss")},
        "in": proj_in.transpose(0, 2, 1), "out": proj_out,  # both (checkpoints, neurons, 2)
    }


def geometry(points: np.ndarray) -> dict:
    """Norms and angles of neuron points (..., neurons, 2): each norm relative to their mean,
    the angles (radians, [0, 2 pi)) and the gaps between angularly adjacent neurons."""
    norms = np.linalg.norm(points, axis=-1)
    angles = np.mod(np.arctan2(points[..., 1], points[..., 0]), 2 * math.pi)
    ordered = np.sort(angles, axis=-1)
    gaps = np.diff(np.concatenate([ordered, ordered[..., :1] + 2 * math.pi], axis=-1), axis=-1)
    return {"norms": norms, "relative_norms": norms / norms.mean(axis=-1, keepdims=True),
            "angles": angles, "gaps": gaps}


def _steps(ctx: BuildContext) -> tuple:
    return checkpoint_steps(ctx.spec(EXPERIMENT))


def sections(ctx: BuildContext) -> list[Section]:
    steps = _steps(ctx)
    return [Section(SECTION, steps, steps[0])]


def animations(ctx: BuildContext) -> list[Animation]:
    return [Animation("five-neuron-converge", SECTION, *CONVERGE, 6.0)]


def _circle_rows(p: int) -> list[dict]:
    return [{"i": i, "cos": round(math.cos(2 * math.pi * i / p), 4), "sin": round(math.sin(2 * math.pi * i / p), 4)}
            for i in range(p)]


def embed_heatmap_chart(ctx: BuildContext):
    p = ctx.spec(EXPERIMENT)["p"]
    return alt.Chart(alt.Data(values=_circle_rows(p))).transform_fold(["cos", "sin"], as_=["column", "v"]).mark_rect().encode(
        x=alt.X("i:O", title="number", axis=alt.Axis(values=list(range(0, p, 11)), labelAngle=0)),
        y=alt.Y("column:N", title=None, sort=["cos", "sin"]),
        color=alt.Color("v:Q", scale=alt.Scale(scheme="blueorange", domain=[-1, 1]), legend=alt.Legend(title=None, gradientLength=60)),
        tooltip=[alt.Tooltip("i:O", title="number"), alt.Tooltip("column:N", title="column"), alt.Tooltip("v:Q", format=".3f", title="value")],
    ).properties(width="container", height=50, title=alt.Title(f"The embedding: {p} numbers x 2 columns", anchor="start"))


def embed_matrix_chart(ctx: BuildContext):
    """W_embed as the matrix it is in the equations: 67 rows (one per number) by two columns
    (cos, sin), drawn upright, with the values of every eleventh row (inside the edges) written in it. Fixed:
    the model never changes it."""
    p = ctx.spec(EXPERIMENT)["p"]
    rows = _circle_rows(p)
    cells = alt.Chart(alt.Data(values=rows)).transform_fold(["cos", "sin"], as_=["column", "v"])
    y = alt.Y("i:O", title="row i (the number)", axis=alt.Axis(values=list(range(0, p, 11)), labelAngle=0))
    x = alt.X("column:N", title=None, sort=["cos", "sin"], axis=alt.Axis(orient="top", labelAngle=0,
                                                                       labelExpr="datum.value + '(2πi/67)'"))
    heat = cells.mark_rect().encode(
        x=x, y=y, color=alt.Color("v:Q", scale=alt.Scale(scheme="blueorange", domain=[-1, 1]), legend=None),
        tooltip=[alt.Tooltip("i:O", title="row"), alt.Tooltip("column:N"), alt.Tooltip("v:Q", format=".3f", title="value")])
    values = cells.transform_filter(f"datum.i % 11 == 0 && datum.i > 0 && datum.i < {p - 1}").transform_calculate(
        label="format(datum.v, '.2f')").mark_text(fontSize=10, fontWeight="bold").encode(
        x=x, y=y, text="label:N", color=alt.condition("abs(datum.v) > 0.6", alt.value("#fff"), alt.value("#222")))
    return alt.layer(heat, values).properties(width=110, height=4 * p, title=alt.Title(
        f"W_embed: {p} rows × 2 columns, fixed", anchor="start", fontSize=12))


def embed_circle_chart(ctx: BuildContext):
    p = ctx.spec(EXPERIMENT)["p"]
    base = alt.Chart(alt.Data(values=_circle_rows(p)))
    axis = dict(scale=alt.Scale(domain=[-1.25, 1.25]), axis=alt.Axis(values=[-1, 0, 1], grid=True))
    dots = base.mark_circle(size=45, color=NEURON_COLORS[0], opacity=0.9).encode(
        x=alt.X("cos:Q", title="cos(2π·i/67)", **axis), y=alt.Y("sin:Q", title="sin(2π·i/67)", **axis),
        tooltip=[alt.Tooltip("i:O", title="number")])
    labels = base.transform_filter(f"datum.i % 5 == 0").transform_calculate(
        lx="datum.cos * 1.14", ly="datum.sin * 1.14").mark_text(fontSize=10, color="#666").encode(
        x="lx:Q", y="ly:Q", text="i:O")
    return alt.layer(dots, labels).properties(width=240, height=240, title=alt.Title("The same numbers as points", anchor="start"))


@loader
def _rows(ctx: BuildContext) -> list[dict]:
    """One row per checkpoint and neuron (three charts share them): the in-projection column (a, b) and the out-projection
    row (c, d), 4 significant digits, plus each side's mean norm at that checkpoint (ri, ro)."""
    r = run(ctx)
    g_in, g_out = geometry(r["in"]), geometry(r["out"])
    order = np.argsort(g_in["angles"][-1])  # neurons in order of their final in-projection angle
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    rows = []
    for s in range(len(r["step"])):
        ri, ro = g_in["norms"][s].mean(), g_out["norms"][s].mean()
        for n in range(r["in"].shape[1]):
            (a, b), (c, d) = r["in"][s, n], r["out"][s, n]
            rows.append({"s": s, "n": n, "k": int(rank[n]), "a": float(f"{a:.4g}"), "b": float(f"{b:.4g}"),
                         "c": float(f"{c:.4g}"), "d": float(f"{d:.4g}"), "ri": float(f"{ri:.4g}"), "ro": float(f"{ro:.4g}")})
    return rows


def _at_step(chart, r: dict):
    """Keep the rows of the checkpoint nearest the section's step."""
    steps = r["step"]
    every = int(steps[1] - steps[0])
    return chart.transform_filter(f"datum.s == clamp(round(step / {every}), 0, {len(steps) - 1})")


def _neuron_color(field: str = "n"):
    highlight = f"neuron < 0 || datum.{field} == neuron"
    return (alt.Color(f"{field}:N", title="neuron", scale=alt.Scale(domain=list(range(5)), range=list(NEURON_COLORS)),
                      legend=None),  # the points carry their numbers
            alt.condition(highlight, alt.value(1.0), alt.value(0.25)))


def accuracy_chart(ctx: BuildContext):
    return accuracy_curves(run(ctx), initial=sections(ctx)[0].initial, title="Accuracy with five neurons and a fixed circle",
                           fit_level=1.0, fit="fits the training pairs", rule="every held-out pair",
                           height=170)


def weights_chart(ctx: BuildContext, narrow: bool = False):
    """The 2 x 5 in-projection and the 5 x 2 out-projection at the step, values written in the
    cells; colours are relative to the largest weight at that step (the weights keep growing).
    narrow: the phone layout, one above the other."""
    r = run(ctx)
    color, opacity = _neuron_color()
    panels = []
    for side, fields, shape in (("in", ("a", "b"), "2 × 5"), ("out", ("c", "d"), "5 × 2")):
        base = _at_step(alt.Chart(alt.NamedData("five")), r).transform_fold(list(fields), as_=["dim", "w"]).transform_calculate(
            axis=f"datum.dim == '{fields[0]}' ? 'cos' : 'sin'", n1="datum.n + 1", w_abs="abs(datum.w)"
        ).transform_joinaggregate(top="max(w_abs)").transform_calculate(rel="datum.w / datum.top")
        neuron_enc = alt.X("n1:O", title="neuron", axis=alt.Axis(labelAngle=0)) if side == "in" else alt.Y("n1:O", title="neuron")
        dim_enc = alt.Y("axis:N", title=None, sort=["cos", "sin"]) if side == "in" else alt.X("axis:N", title=None, sort=["cos", "sin"],
                                                                                                  axis=alt.Axis(labelAngle=0, orient="top"))
        cells = base.mark_rect(stroke="#fff", strokeWidth=1).encode(
            neuron_enc, dim_enc,
            color=alt.Color("rel:Q", scale=alt.Scale(scheme="blueorange", domain=[-1, 1]), legend=None),
            opacity=opacity, tooltip=[alt.Tooltip("n1:O", title="neuron"), alt.Tooltip("axis:N", title="row" if side == "in" else "column"),
                                      alt.Tooltip("w:Q", format=".3g", title="weight")])
        text = base.mark_text(fontSize=10, style="on-mark").encode(
            neuron_enc, dim_enc, text=alt.Text("w:Q", format=".3~g"),
            # white where the blueorange cell is dark enough for it, black elsewhere: the crossing
            # points of the two contrasts on that scheme (measured from vega.scheme in the page)
            color=alt.condition("datum.rel < -0.79 || datum.rel > 0.87", alt.value("#fff"), alt.value("#000")))
        size = dict(width=5 * 44, height=2 * 24) if side == "in" else dict(width=2 * 44, height=5 * 24)
        title = f"In-projection W_in ({shape})" if side == "in" else f"Out-projection W_out ({shape})"
        panels.append(alt.layer(cells, text).properties(**size, title=alt.Title(title, anchor="start", fontSize=12)))
    chart = (alt.vconcat(*panels, spacing=16) if narrow else alt.hconcat(*panels, spacing=40)).add_params(
        alt.param(name="step", value=sections(ctx)[0].initial), alt.param(name="neuron", value=-1))
    return with_datasets(chart, {"five": _rows(ctx)})


def _plane(r: dict, side: str, joined: bool, n_steps: int, narrow: bool = False):
    """One side's neurons as points in the (cos, sin) plane at the step, with a dashed circle at
    their mean norm; joined: a closed path through them in order of the final in-angle;
    narrow: smaller, fewer ticks, the title in two lines (two panels fit a phone side by side)."""
    x, y, radius = ("a", "b", "ri") if side == "in" else ("c", "d", "ro")
    every = int(r["step"][1] - r["step"][0])
    lim = f"lims_{side}[clamp(round(step / {every}), 0, {n_steps - 1})]"  # the step's largest weight
    scale = alt.Scale(domain=[alt.ExprRef(f"-{lim}"), alt.ExprRef(lim)], nice=False, zero=True)
    ticks = 3 if narrow else 5
    enc = dict(x=alt.X(f"{x}:Q", title="cos weight", scale=scale, axis=alt.Axis(tickCount=ticks, grid=True)),
               y=alt.Y(f"{y}:Q", title="sin weight", scale=scale, axis=alt.Axis(tickCount=ticks, grid=True)))
    color, opacity = _neuron_color()
    points = _at_step(alt.Chart(alt.NamedData("five")), r)
    ring = points.transform_filter("datum.n == 0").transform_calculate(t="sequence(0, 73)").transform_flatten(["t"]).transform_calculate(
        **{x: f"datum.{radius} * cos(2 * PI * datum.t / 72)", y: f"datum.{radius} * sin(2 * PI * datum.t / 72)"}
    ).mark_line(strokeDash=[3, 3], color="#999", strokeWidth=1).encode(order="t:Q", **enc)
    layers = [ring]
    if joined:  # close the path: the first neuron again after the last
        closed = points.transform_calculate(k2="datum.k == 0 ? 5 : -1").transform_fold(["k", "k2"], as_=["which", "pos"]).transform_filter(
            "datum.pos >= 0")
        layers.append(closed.mark_line(color="#666", strokeWidth=1.5).encode(order="pos:Q", **enc))
    dots = points.transform_calculate(n1="datum.n + 1")
    layers.append(dots.mark_circle(size=110).encode(
        color=color, opacity=opacity, tooltip=[alt.Tooltip("n1:N", title="neuron"), alt.Tooltip(f"{x}:Q", format=".3g", title="cos weight"),
                                               alt.Tooltip(f"{y}:Q", format=".3g", title="sin weight")], **enc))
    inks = json.dumps([text_on(c) for c in NEURON_COLORS])  # each dot's number in black or white
    layers.append(dots.transform_calculate(ink=f"{inks}[datum.n]").mark_text(fontSize=9, fontWeight="bold", style="on-mark").encode(
        text="n1:N", color=alt.Color("ink:N", scale=None), **enc))
    title = ["In-projection", "(columns of W_in)"] if side == "in" else ["Out-projection", "(rows of W_out)"]
    size = 104 if narrow else 175
    return alt.layer(*layers).properties(width=size, height=size, title=alt.Title(
        title if narrow else " ".join(title), anchor="start", fontSize=12))


def plane_chart(ctx: BuildContext, joined: bool = False, narrow: bool = False):
    r = run(ctx)
    n = len(r["step"])
    lims = {side: [round(1.15 * float(max(np.abs(r[side][i]).max(), 1e-9)), 3) for i in range(n)] for side in ("in", "out")}
    chart = alt.hconcat(_plane(r, "in", joined, n, narrow), _plane(r, "out", joined, n, narrow), spacing=12 if narrow else 20).resolve_scale(
        x="independent", y="independent").add_params(
        alt.param(name="step", value=sections(ctx)[0].initial), alt.param(name="neuron", value=-1),
        *(alt.param(name=f"lims_{side}", value=values) for side, values in lims.items()))
    return with_datasets(chart, {"five": _rows(ctx)})


EMBED_COLUMNS = (("i", "the number, 0-66 (a row of the fixed embedding)"),
                 ("cos", "its first embedding coordinate, cos(2 pi i / 67), dimensionless"),
                 ("sin", "its second embedding coordinate, sin(2 pi i / 67), dimensionless"))


def five_columns(ctx: BuildContext) -> tuple:
    """What the five-neuron charts' table holds (one row per checkpoint and neuron)."""
    steps = checkpoint_steps(ctx.spec(EXPERIMENT))
    return (("s", f"checkpoint index: the weights at step s x {int(steps[1] - steps[0]):,} (0 to {len(steps) - 1})"),
            ("n", "neuron index, 0-4"),
            ("k", "the neuron's place, 0-4, in the order of the in-projection angles at the end of training"),
            ("a", "the neuron's in-projection weight from the embedding's cos coordinate, dimensionless"),
            ("b", "the neuron's in-projection weight from the embedding's sin coordinate, dimensionless"),
            ("c", "the neuron's out-projection weight to the unembedding's cos coordinate, dimensionless"),
            ("d", "the neuron's out-projection weight to the unembedding's sin coordinate, dimensionless"),
            ("ri", "mean length of the five in-projection columns (a, b) at that checkpoint"),
            ("ro", "mean length of the five out-projection rows (c, d) at that checkpoint"))


def figures(ctx: BuildContext) -> list[Figure]:
    src = (EXPERIMENT,)
    five = five_columns(ctx)
    return [
        Figure("embed-heatmap", EMBED_SECTION,
               "The fixed embedding: number i becomes the pair (cos 2πi/67, sin 2πi/67).",
               "Heatmap with 67 columns and two rows, cos and sin of 2 pi i over 67, each row one slow wave.",
               embed_heatmap_chart, sources=src, columns=EMBED_COLUMNS),
        Figure("embed-circle", EMBED_SECTION,
               "The same 67 pairs drawn as points: the numbers sit evenly around a circle, 66 next to 0.",
               "67 points evenly spaced around the unit circle, labelled every fifth number.",
               embed_circle_chart, sources=src, columns=EMBED_COLUMNS),
        Figure("five-neuron-embed", SECTION,
               "The frozen embedding W_embed written as the matrix the equations use: row i is number i's point, "
               "(cos 2πi/67, sin 2πi/67); every eleventh row's values are written in it.",
               "A tall heatmap of 67 rows by two columns, cos and sin of 2 pi i over 67: each column one slow wave from "
               "orange through blue and back, with the values of rows 11, 22, 33, 44 and 55 written in it.",
               embed_matrix_chart, sources=src, columns=EMBED_COLUMNS),
        Figure("five-neuron-accuracy", SECTION,
               "Accuracy of the five-neuron model on its 30% of pairs and on the rest. Move the pointer or use the arrow keys to pick a step.",
               'Line chart of train and test accuracy: both rise together and reach 100% by step [510]{fact="five.solved"}.',
               accuracy_chart, scrub=STEP_RULE, sources=src),
        Figure("five-neuron-weights", SECTION,
               "All 20 trained weights at the chosen step. Colours are relative to the step's largest weight: the weights keep growing.",
               "Two small heatmaps with their values: the 2 by 5 in-projection and the 5 by 2 out-projection.",
               weights_chart, hover="n", sources=src, narrow=lambda ctx: weights_chart(ctx, narrow=True), columns=five),
        Figure("five-neuron-plane", SECTION,
               "Each neuron's in-projection column and out-projection row as a point. The dashed circle has their mean length; the axes grow with the weights.",
               "Two scatter plots of five points each that spread out to equal distances from the centre and equal angles apart.",
               plane_chart, hover="n", sources=src, narrow=lambda ctx: plane_chart(ctx, narrow=True), columns=five),
        Figure("five-neuron-joined", SECTION,
               "The same points joined in the order of the in-projection's angles: a pentagon on the left, a five-pointed star on the right.",
               "The five in-projection points joined into a pentagon; the out-projection points joined in the same order trace a star, going around twice.",
               lambda ctx: plane_chart(ctx, joined=True), hover="n", sources=src,
               narrow=lambda ctx: plane_chart(ctx, joined=True, narrow=True), columns=five),
    ]


# -- facts and claims: what the prose says about these runs (builder.facts) -----------------
EVEN = 2 * math.pi / 5  # the angle between neighbours, evenly spaced
SPREAD = 10  # degrees from even spacing within which the points count as "fanned out"


def _deviation(points: np.ndarray) -> np.ndarray:
    """Degrees by which the largest angular gap between neighbouring neurons differs from even
    spacing (..., neurons, 2) -> (...)."""
    return np.degrees(np.abs(geometry(points)["gaps"] - EVEN).max(axis=-1))


@fact("five.solved", sources=(EXPERIMENT,))
def solved(ctx: BuildContext) -> int:
    """The first logged step at which the five-neuron run answers every held-out pair."""
    r = run(ctx)
    step = first_step(r["metric_step"], r["test_acc"], 1.0)
    if step is None:
        raise ValueError("the five-neuron run never answers every held-out pair")
    return step


@claim("five.fits-and-generalizes-together", sources=(EXPERIMENT,))
def fits_and_generalizes_together(ctx: BuildContext):
    """Train and test accuracy pass 90% and reach 100% at nearly the same step (no memorizing first)."""
    r = run(ctx)
    every = int(r["metric_step"][1] - r["metric_step"][0])
    gaps = {level: abs((first_step(r["metric_step"], r["test_acc"], level) or 10**9)
                       - (first_step(r["metric_step"], r["train_acc"], level) or 10**9)) for level in (0.9, 1.0)}
    return max(gaps.values()) <= 2 * every, f"steps between train and test reaching 90% and 100%: {gaps} (logged every {every})"


@fact("five.fanned-out", sources=(EXPERIMENT,))
def fanned_out(ctx: BuildContext) -> int:
    """The first checkpoint at which both sides' points are within SPREAD degrees of even spacing."""
    r = run(ctx)
    both = np.maximum(_deviation(r["in"]), _deviation(r["out"]))
    hit = np.flatnonzero(both < SPREAD)
    if not len(hit):
        raise ValueError(f"the points never come within {SPREAD} degrees of even spacing")
    return int(r["step"][hit[0]])


@fact("five.length-spread", percent(0), sources=(EXPERIMENT,))
def length_spread(ctx: BuildContext) -> float:
    """At the end, the largest relative difference of a point's length from the mean of its five (both sides)."""
    r = run(ctx)
    return float(max(np.abs(geometry(r[side][-1])["relative_norms"] - 1).max() for side in ("in", "out")))


@fact("five.angle-error", lambda v: f"{math.ceil(v)}", sources=(EXPERIMENT,))
def angle_error(ctx: BuildContext) -> float:
    """At the end, the largest difference (degrees, rounded up) of a gap between neighbours from even spacing, both sides."""
    r = run(ctx)
    return float(max(_deviation(r["in"][-1]), _deviation(r["out"][-1])))


@fact("five.start-length", "{:.0f}", sources=(EXPERIMENT,))
def start_length(ctx: BuildContext) -> float:
    """The mean length of the in-projection points at the start (written "about")."""
    return float(geometry(run(ctx)["in"][0])["norms"].mean())


@fact("five.end-length", rounded(10), sources=(EXPERIMENT,))
def end_length(ctx: BuildContext) -> float:
    """The mean length of the in-projection points at the end (written "about")."""
    return float(geometry(run(ctx)["in"][-1])["norms"].mean())


@claim("five.lengths-keep-growing", sources=(EXPERIMENT,))
def lengths_keep_growing(ctx: BuildContext):
    """After the first fifth of training, the mean in-projection length grows at every checkpoint."""
    norms = geometry(run(ctx)["in"])["norms"].mean(axis=1)
    tail = norms[len(norms) // 5:]
    return bool((np.diff(tail) > 0).all()), f"mean length {norms[0]:.2f} -> {norms[-1]:.1f}; {int((np.diff(tail) <= 0).sum())} checkpoints without growth after the first fifth"


@fact("five.doubling-error", lambda v: f"{math.ceil(v)}", sources=(EXPERIMENT,))
def doubling_error(ctx: BuildContext) -> float:
    """At the end, the largest difference (degrees, rounded up) between a neuron's out-projection
    angle and twice its in-projection angle."""
    r = run(ctx)
    g_in, g_out = geometry(r["in"][-1]), geometry(r["out"][-1])
    return float(np.degrees(np.abs(np.angle(np.exp(1j * (g_out["angles"] - 2 * g_in["angles"])))).max()))


# the footnote: the same model from 12 initializations
@loader
def seed_runs(ctx: BuildContext) -> dict:
    """Per seed: the first logged step at 100% test accuracy (None: never), the final train and
    test accuracy, and the final in-projection points (neurons, 2)."""
    a = ctx.artifact(SEEDS).arrays
    steps = np.asarray(a["metric_step"])
    return {"seed": np.asarray(a["seed"]).tolist(),
            "solved": [first_step(steps, np.asarray(acc), 1.0) for acc in a["test_acc"]],
            "train": np.asarray(a["train_acc"])[:, -1], "test": np.asarray(a["test_acc"])[:, -1],
            "in": np.asarray(a["final_w_in"], np.float64).transpose(0, 2, 1)}


def _solved(ctx: BuildContext) -> list[int]:
    return [s for s in seed_runs(ctx)["solved"] if s is not None]


@fact("five.seeds-solved", rate, sources=(SEEDS,))
def seeds_solved(ctx: BuildContext) -> tuple:
    """Seeds that reach 100% test accuracy, of those trained, with its Wilson interval."""
    return len(_solved(ctx)), len(seed_runs(ctx)["seed"])


@fact("five.seeds-first", sources=(SEEDS,))
def seeds_first(ctx: BuildContext) -> int:
    """The earliest step at which one of them reaches 100%."""
    return min(_solved(ctx))


@fact("five.seeds-slowest", sources=(SEEDS,))
def seeds_slowest(ctx: BuildContext) -> int:
    """The latest step at which one of them reaches 100%."""
    return max(_solved(ctx))


@fact("five.seeds-stalled", sources=(SEEDS,))
def seeds_stalled(ctx: BuildContext) -> int:
    """Seeds that never reach 100%."""
    return len(seed_runs(ctx)["seed"]) - len(_solved(ctx))


def _stalled(ctx: BuildContext) -> np.ndarray:
    return np.array([s is None for s in seed_runs(ctx)["solved"]])


@fact("five.seeds-stalled-low", percent(0), sources=(SEEDS,))
def seeds_stalled_low(ctx: BuildContext) -> float:
    """The lowest final test accuracy among the stalled seeds."""
    return float(seed_runs(ctx)["test"][_stalled(ctx)].min())


@fact("five.seeds-stalled-high", percent(0), sources=(SEEDS,))
def seeds_stalled_high(ctx: BuildContext) -> float:
    """The highest final test accuracy among the stalled seeds."""
    return float(seed_runs(ctx)["test"][_stalled(ctx)].max())


@claim("five.seeds-same-shape", sources=(SEEDS,))
def seeds_same_shape(ctx: BuildContext):
    """Every seed that reaches 100% ends with its in-projection points evenly spaced (within 6
    degrees) at nearly equal lengths (coefficient of variation under 0.1)."""
    r = seed_runs(ctx)
    done = ~_stalled(ctx)
    dev = _deviation(r["in"][done])
    norms = geometry(r["in"][done])["norms"]
    cv = norms.std(axis=1) / norms.mean(axis=1)
    return bool(done.any() and (dev < 6).all() and (cv < 0.1).all()), \
        f"{int(done.sum())} seeds: spacing within {dev.max():.1f} degrees of even, length CV up to {cv.max():.3f}"


@claim("five.seeds-stalled-half-circle", sources=(SEEDS,))
def seeds_stalled_half_circle(ctx: BuildContext):
    """Every stalled seed has all five in-projection directions within half of the circle (a gap
    over 180 degrees), and does hardly better on its training pairs (under 5 points above test)."""
    r = seed_runs(ctx)
    stalled = _stalled(ctx)
    gap = np.degrees(geometry(r["in"][stalled])["gaps"].max(axis=1))
    lead = (r["train"] - r["test"])[stalled]
    return bool(stalled.any() and (gap > 180).all() and (lead < 0.05).all()), \
        f"{int(stalled.sum())} stalled seeds: largest gap {gap.min():.0f}-{gap.max():.0f} degrees, train accuracy at most {lead.max():.1%} above test"


@claim("five.seeds-no-memorizing", sources=(SEEDS,))
def seeds_no_memorizing(ctx: BuildContext):
    """No seed memorizes: each ends with its train accuracy within 5 points of its test accuracy."""
    r = seed_runs(ctx)
    lead = r["train"] - r["test"]
    return bool((lead < 0.05).all()), f"largest final train-minus-test accuracy over {len(lead)} seeds: {lead.max():.1%}"


@claim("five.featured-seed-in-scan", sources=(EXPERIMENT, SEEDS))
def featured_seed_in_scan(ctx: BuildContext):
    """The featured run's seed is one of the scan's seeds that reach 100%."""
    seed = ctx.spec(EXPERIMENT)["seed"]
    r = seed_runs(ctx)
    ok = seed in r["seed"] and r["solved"][r["seed"].index(seed)] is not None
    return ok, f"featured seed {seed}; solved in the scan: {[s for s, v in zip(r['seed'], r['solved']) if v is not None]}"
