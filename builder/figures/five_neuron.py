"""Section 4, "Modular addition with five neurons": the numbers placed on a circle (section
"embed", static) and a model that keeps that circle fixed and trains only a 2 x 5 in-projection
and a 5 x 2 out-projection (section "five-neuron", scrubbed). Read from the frozen run
`five-neuron` (content/experiments.toml, kind "circle")."""
from __future__ import annotations

import json
import math

import altair as alt
import numpy as np

from builder.figures import Animation, Figure, Section, with_datasets
from builder.figures._common import STEP_RULE, accuracy_curves, checkpoint_steps, text_on
from builder.figures.context import BuildContext, loader

EXPERIMENT = "five-neuron"
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
               "Line chart of train and test accuracy: both reach 100% within a few hundred steps.",
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
