"""Section "What makes a model grok?" (groks): five claims of the research, tested on our model.

- The embedding's ring (Liu et al. 2022; Nanda): the opening model retrained with its embedding
  kept at every checkpoint (`mod-top-embed`), drawn in its own first two principal components
  and projected on the final ones, scrubbed with the run.
- The phase diagram over learning rate x weight decay (Liu et al. 2022), for AdamW
  (`sweep-grok-phase`) and for SGD with momentum (`sweep-grok-sgd`), classified live in the page
  by builder.analysis.grokking's rule with the gap as a slider; a cell's accuracy curves load
  on demand.
- Steps to generalize against the training fraction (`sweep-grok-fraction`).
- Initial weight scale with and without weight decay (`sweep-grok-init`, `sweep-grok-init-small`).
- Learning rate for AdamW and SGD (the two phase sweeps again).

Every sweep is read from content/_freeze/<name>/shards/ (only `make train NAME=...` trains
one); a figure draws the runs finished so far.
"""
from __future__ import annotations

import math

import altair as alt
import numpy as np

from builder.analysis import grokking
from builder.analysis.outcomes import wilson_vega
from builder.facts import claim, fact, listed, percent, rate, sci, words
from builder.figures import Animation, Figure, Section, with_datasets, with_demand, with_params
from builder.figures._common import STEP_RULE, accuracy_curves, checkpoint_steps
from builder.figures._sweep import axis_index, demand_panel, run_curves
from builder.figures.context import BuildContext, loader

SECTION = "groks"
EMBED_RUN = "mod-top-embed"
PHASE_SWEEPS = (("AdamW", "sweep-grok-phase"), ("SGD", "sweep-grok-sgd"))
FRACTION = "sweep-grok-fraction"
INIT = ("sweep-grok-init-small", "sweep-grok-init")
PHASE_COLORS = ("#4c78a8", "#f58518", "#e45756", "#bab0ac")  # as the outcome classes of section 3


def phase_colour(legend: alt.Legend | None = None) -> alt.Color:
    return alt.Color("phase:N", title=None, legend=legend,
                     scale=alt.Scale(domain=list(grokking.PHASES), range=list(PHASE_COLORS)))


# -- the ring ----------------------------------------------------------------------------------
@loader
def ring(ctx: BuildContext) -> dict:
    """The embedding run's curves, both planes at every checkpoint (scaled so each step's largest
    coordinate is 1: the shape is what matters) and their ring scores."""
    a = ctx.artifact(EMBED_RUN).arrays
    planes = grokking.planes(np.asarray(a["embed"], np.float64))
    score = {side: [grokking.ring_score(xy) for xy in planes[side]] for side in ("own", "final")}
    k_end = score["final"][-1][1]
    return {"metric_step": np.asarray(a["metric_step"]), "train_acc": np.asarray(a["train_acc"]),
            "test_acc": np.asarray(a["test_acc"]), "step": np.asarray(a["checkpoint_step"]),
            "planes": planes, "score": score, "k": k_end, "p": planes["own"].shape[1]}


def steps(ctx: BuildContext) -> tuple:
    return checkpoint_steps(ctx.spec(EMBED_RUN))


def sections(ctx: BuildContext) -> list[Section]:
    kept = steps(ctx)
    return [Section(SECTION, kept, kept[-1])]


def animations(ctx: BuildContext) -> list[Animation]:
    kept = steps(ctx)
    return [Animation("groks-ring", SECTION, kept[0], kept[-1], 8.0)]


def accuracy_chart(ctx: BuildContext):
    r = ring(ctx)
    return accuracy_curves(r, initial=sections(ctx)[0].initial, title="The run whose embedding is drawn: accuracy",
                           fit_level=1.0, fit="memorizes", rule="generalizes", height=170)


PLANE_TITLES = {"own": ["The embedding in its own", "first two components"],
                "final": ["The embedding projected on the", "final first two components"]}  # two lines: a panel is 190 px
PLANE_FIELDS = {"own": ("x", "y"), "final": ("u", "v")}


@loader
def ring_rows(ctx: BuildContext) -> tuple[list[dict], list[dict]]:
    """One row per checkpoint and number a: (x, y) in the embedding's own plane, (u, v) in the
    final plane, each plane scaled so that the step's largest coordinate is 1, and j, the
    number's place on the final ring; and one row per checkpoint with both planes' ring scores."""
    r = ring(ctx)
    place = np.argsort(grokking.ring_order(r["k"], r["p"]))
    points, scores = [], []
    for i, s in enumerate(r["step"]):
        own, final = (r["planes"][side][i] / np.abs(r["planes"][side][i]).max() for side in ("own", "final"))
        points += [{"step": int(s), "a": a, "j": int(place[a]), "x": round(float(own[a, 0]), 2), "y": round(float(own[a, 1]), 2),
                    "u": round(float(final[a, 0]), 2), "v": round(float(final[a, 1]), 2)} for a in range(r["p"])]
        scores.append({"step": int(s), **{side: round(r["score"][side][i][0], 3) for side in ("own", "final")}})
    return points, scores


def ring_chart(ctx: BuildContext, narrow: bool = False):
    r = ring(ctx)
    points, scores = ring_rows(ctx)
    size = 200 if narrow else 190  # two side by side fit the sticky column beside the prose (519 px)
    scale = alt.Scale(domain=[-1.08, 1.08], nice=False, zero=False)
    axis = alt.Axis(values=[-1, 0, 1], grid=False)
    at_step = "datum.step === step"
    panels = []
    for side, (fx, fy) in PLANE_FIELDS.items():
        x = alt.X(f"{fx}:Q", scale=scale, axis=axis, title="component 1")
        y = alt.Y(f"{fy}:Q", scale=scale, axis=axis, title="component 2")
        line = alt.Chart().mark_line(color="#999", strokeWidth=1, opacity=0.6).encode(x=x, y=y, order="j:Q")
        dots = alt.Chart().mark_circle(size=38, opacity=1).encode(
            x=x, y=y, color=alt.Color("j:Q", scale=alt.Scale(scheme="sinebow", domain=[0, r["p"]]), legend=None),
            tooltip=[alt.Tooltip("a:Q", title="number"),
                     alt.Tooltip("j:Q", title=f"place on the final ring ({r['k']} × number mod {r['p']})")])
        text = alt.Chart(alt.NamedData("scores")).transform_filter(at_step).transform_calculate(
            label=f"'ring score ' + format(datum.{side}, '.2f')").mark_text(
            align="left", baseline="top", fontSize=11, fontWeight="bold").encode(x=alt.value(4), y=alt.value(4), text="label:N")
        panels.append(alt.layer(alt.layer(line, dots, data=alt.NamedData("points")).transform_filter(at_step), text).properties(
            width=size, height=size, title=alt.Title(PLANE_TITLES[side], anchor="start", fontSize=12)))
    view = alt.concat(*panels, columns=1 if narrow else 2, spacing=24).add_params(alt.param(name="step", value=int(r["step"][-1])))
    return with_datasets(view, {"points": points, "scores": scores})


# -- sweeps: rows the figures share ----------------------------------------------------------
def budget(ctx: BuildContext, name: str) -> int:
    return int(ctx.spec(name)["steps"])


def sweep_rows(ctx: BuildContext, name: str, fields: tuple, **extra) -> list[dict]:
    """One row per finished run of a sweep: its index in the sweep's grid, its swept values, seed, first steps at 90% train /
    test accuracy and at 99% test accuracy (-1: never), final accuracies, and its phase."""
    a = ctx.artifact(name).arrays
    rows = []
    codes = grokking.classify(a["first_train_acc_90"], a["first_test_acc_90"])
    for r in np.flatnonzero(np.asarray(a["done"], bool)):
        rows.append({"run": int(r), **{f: float(a[f][r]) for f in fields}, "seed": int(a["seed"][r]),
                     "tr": int(a["first_train_acc_90"][r]), "te": int(a["first_test_acc_90"][r]),
                     "te99": int(a["first_test_acc_99"][r]),
                     "ftr": round(float(a["final_train_acc"][r]), 4), "fte": round(float(a["final_test_acc"][r]), 4),
                     "phase": grokking.PHASES[codes[r]], **extra})
    return rows


# -- the phase diagram -------------------------------------------------------------------------
GAP_DEFAULT = math.log10(grokking.GAP)


@loader
def phase_data(ctx: BuildContext) -> tuple[list[dict], dict]:
    """Rows of both phase sweeps (opt, lr, wd, cell) and per cell its seeds' accuracy curves, made
    once per build for the phase and learning-rate charts (both layouts); treat as read-only."""
    rows, curves = [], {}
    for opt, name in PHASE_SWEEPS:
        a = ctx.artifact(name).arrays
        li, wi = axis_index(a["lr"])[1], axis_index(a["weight_decay"])[1]
        for row in sweep_rows(ctx, name, ("lr", "weight_decay"), opt=opt):
            r = row["run"]
            row["cell"] = f"{opt.lower()}-{li[r]}-{wi[r]}"
            row["wd"] = row.pop("weight_decay")
            row["diag"] = grokking.diagonal(row["lr"], row["wd"])
            rows.append(row)
            curves.setdefault(row["cell"], []).extend(run_curves(a, r, accuracy=True))
    return rows, curves


LIVE_PHASE = grokking.vega_expression("datum.tr", "datum.te", "gap")


def accuracy_panel(budget_steps: int, title_expr: str, width: int, height: int = 150):
    """The train and test accuracy of the runs in the "demand" table, one line per seed, with
    the 90% level dashed."""
    y = alt.Y("accuracy:Q", title="accuracy", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%", tickCount=5))
    return demand_panel(budget_steps, y, grokking.LEVEL, title_expr, width=width, height=height, what="accuracy")


def phase_grid(opt: str, narrow: bool):
    """The runs of one optimizer on a grid of learning rate x weight decay, a dot per seed."""
    where = f"datum.opt === '{opt}'"
    x = alt.X("lr:O", title="learning rate", axis=alt.Axis(labelAngle=0, format="~e"), scale=alt.Scale(paddingInner=0.1))
    y = alt.Y("wd:O", title="weight decay", sort="descending", axis=alt.Axis(format="~g"), scale=alt.Scale(paddingInner=0.1))
    name = f"tiles_{opt.lower()}"
    tiles = alt.Chart().transform_filter(where).transform_aggregate(runs="count()", groupby=["lr", "wd", "cell"]).mark_rect(
        cornerRadius=3, strokeWidth=1.5, width=alt.expr(f"bandwidth(@{name}.x)"), height=alt.expr(f"bandwidth(@{name}.y)")).encode(
        x=x, y=y, fill=alt.value("#888"), fillOpacity=alt.value(0.1),
        stroke=alt.condition("datum.cell === demand", alt.value("#333"), alt.value("transparent")),
        tooltip=[alt.Tooltip("lr:O", title="learning rate"), alt.Tooltip("wd:O", title="weight decay"),
                 alt.Tooltip("runs:Q", title="seeds")]).properties(name=name)
    dots = alt.Chart().transform_filter(where).transform_calculate(phase=LIVE_PHASE).mark_circle(size=36, opacity=1).encode(
        x=x, xOffset=alt.XOffset("seed:O", scale=alt.Scale(paddingOuter=0.4)), y=y, color=phase_colour(),
        tooltip=[alt.Tooltip("phase:N"), alt.Tooltip("seed:O"),
                 alt.Tooltip("tr:Q", title="train acc. 90% at step (-1 never)"),
                 alt.Tooltip("te:Q", title="test acc. 90% at step (-1 never)"),
                 alt.Tooltip("fte:Q", title="final test acc.", format=".1%")])
    cells = 6
    width = (32 if narrow else 40) * cells
    return alt.layer(tiles, dots, data=alt.NamedData("runs")).properties(
        width=width, height=width * 0.75 if opt == "AdamW" else width * 0.4,
        title=alt.Title(f"{opt}{' with momentum 0.9' if opt == 'SGD' else ''}", anchor="start", fontSize=12))


def with_interval(chart, k: str, n: str, what: str):
    """`chart` (aggregated rows with fields k of n) with the share's 95% Wilson interval
    (builder.analysis.outcomes.wilson) as a text field `share`, for tooltips: "5 of 6 runs
    (83%, 95% interval 44–97%)"."""
    lo, hi = wilson_vega(f"datum.{k}", f"datum.{n}")
    return chart.transform_calculate(lo=lo, hi=hi).transform_calculate(
        share=f"datum.{k} + ' of ' + datum.{n} + ' {what} (' + format(datum.{k} / datum.{n}, '.0%') + "
              "', 95% interval ' + format(100 * datum.lo, '.0f') + '–' + format(100 * datum.hi, '.0f') + '%)'")


def phase_counts(width: int):
    counts = alt.Chart(alt.NamedData("runs")).transform_calculate(phase=LIVE_PHASE).transform_aggregate(
        count="count()", groupby=["opt", "phase"]).transform_joinaggregate(
        total="sum(count)", groupby=["opt"]).transform_calculate(label="datum.count")
    counts = with_interval(counts, "count", "total", "runs")
    y = alt.Y("phase:N", sort=list(grokking.PHASES), title=None)
    bars = counts.mark_bar().encode(y=y, x=alt.X("count:Q", title="runs"), color=phase_colour(),
                                    tooltip=[alt.Tooltip("phase:N"), alt.Tooltip("share:N", title="share")])
    text = counts.mark_text(align="left", dx=3).encode(y=y, x="count:Q", text="label:N")
    return alt.layer(bars, text).properties(width=width, height=90).facet(
        column=alt.Column("opt:N", title=None, sort=[o for o, _ in PHASE_SWEEPS],
                          header=alt.Header(labelFontWeight="bold", labelFontSize=12)))


def diagonal_counts(width: int, narrow: bool = False):
    """The runs of each optimizer by the diagonal of the grid they lie on (learning rate x weight
    decay, grokking.diagonal), stacked by phase: where one number decides the phase, one colour
    fills its bar. Bars, no text marks (the phase counts' labels are the ones read as numbers)."""
    counts = alt.Chart(alt.NamedData("runs")).transform_calculate(phase=LIVE_PHASE).transform_aggregate(
        count="count()", groupby=["opt", "diag", "phase"]).transform_joinaggregate(
        total="sum(count)", groupby=["opt", "diag"])
    counts = with_interval(counts, "count", "total", "runs on this diagonal")
    x = alt.X("diag:O", title="learning rate × weight decay (0: no decay)",
              axis=alt.Axis(labelAngle=-45, labelExpr="datum.value == 0 ? '0' : format(datum.value, '~e')"))
    bars = counts.mark_bar().encode(
        x=x, y=alt.Y("count:Q", title="runs", stack="zero"), color=phase_colour(),
        order=alt.Order("phase_order:Q"),
        tooltip=[alt.Tooltip("diag:O", title="learning rate × weight decay", format="~e"), alt.Tooltip("phase:N"),
                 alt.Tooltip("share:N", title="share")]).transform_calculate(
        phase_order=f"indexof({list(grokking.PHASES)!r}, datum.phase)")
    header = alt.Header(labelFontWeight="bold", labelFontSize=12, labelAngle=0, labelOrient="top", labelAnchor="start")
    facet = alt.Row if narrow else alt.Column  # a phone column holds one panel's width
    return bars.properties(width=width, height=110).facet(
        **{"row" if narrow else "column": facet("opt:N", title=None, sort=[o for o, _ in PHASE_SWEEPS],
                                                 header=header if narrow else alt.Header(labelFontWeight="bold", labelFontSize=12))}
    ).resolve_scale(x="independent")


def phase_chart(ctx: BuildContext, narrow: bool = False):
    rows, curves = phase_data(ctx)
    grids = [phase_grid(opt, narrow) for opt, _ in PHASE_SWEEPS]
    prompt = ("demand ? 'The seeds of the cell you pointed at' : 'Point at (or tap) a cell for its accuracy curves'")
    panel = accuracy_panel(max(budget(ctx, n) for _, n in PHASE_SWEEPS), prompt, width=215 if narrow else 280)
    counts = phase_counts(85 if narrow else 130)
    diagonals_view = diagonal_counts(230 if narrow else 215, narrow)
    if narrow:
        view = alt.concat(*grids, counts, panel, diagonals_view, columns=1, spacing=20).resolve_scale(
            color="independent", xOffset="independent")
    else:  # each grid's dots spread within its own bands (xOffset)
        view = alt.vconcat(alt.hconcat(*grids, spacing=30).resolve_scale(xOffset="independent"),
                           alt.hconcat(counts, panel, spacing=30), diagonals_view, spacing=20).resolve_scale(color="independent")
    gap = alt.param(name="gap_exp", value=GAP_DEFAULT, bind=alt.binding_range(
        min=2, max=4, step=0.1, name="steps between train and test reaching 90% that count as grokking (log₁₀)"))
    view = with_params(view, [gap, alt.param(name="gap", expr="round(pow(10, gap_exp))"), alt.param(name="demand", value="")])
    return with_demand(with_datasets(view, {"runs": rows}), curves)


# -- steps to generalize ----------------------------------------------------------------------
def steps_layers(budget_steps: int, x: alt.X, *, color=None, detail: str | None = None, narrow: bool = False):
    """Dots of runs at the step their test accuracy first reached 99% (log scale), those that
    never did in a band above the budget, and the median of each x over the runs that did."""
    never_at = budget_steps * 2
    y = alt.Y("shown:Q", title="steps until test accuracy ≥ 99% (log)",
              scale=alt.Scale(type="log", domain=[100, never_at * 1.4], nice=False),
              axis=alt.Axis(values=[100, 1000, 10000, 100000], format="~s"))
    base = alt.Chart().transform_calculate(shown=f"datum.te99 < 0 ? {never_at} : datum.te99")
    dots = base.mark_point(filled=True, size=40, opacity=0.85).encode(
        x=x, y=y, color=color if color is not None else phase_colour(alt.Legend(orient="bottom", title=None, columns=2 if narrow else 4)),
        shape=alt.condition("datum.te99 < 0", alt.value("cross"), alt.value("circle")),
        tooltip=[alt.Tooltip("phase:N"), alt.Tooltip("seed:O"), alt.Tooltip("te99:Q", title="test acc. 99% at step (-1 never)"),
                 alt.Tooltip("fte:Q", title="final test acc.", format=".1%"), alt.Tooltip("ftr:Q", title="final train acc.", format=".1%")])
    groupby = [x.shorthand.split(":")[0]] + ([detail.split(":")[0]] if detail else [])
    median = with_interval(base.transform_joinaggregate(runs="count()", groupby=groupby).transform_filter(
        "datum.te99 >= 0").transform_aggregate(shown="median(te99)", reached="count()", runs="max(runs)", groupby=groupby),
        "reached", "runs", "runs reach 99%").mark_line(color="#888", strokeWidth=1.5, point=alt.OverlayMarkDef(
            color="#888", size=16)).encode(x=x, y=y, detail=detail if detail else alt.Undefined,
                                           tooltip=[alt.Tooltip("shown:Q", title="median step (runs that got there)", format=",.0f"),
                                                    alt.Tooltip("share:N", title="reached 99%")])
    never = base.transform_filter("datum.te99 < 0").transform_aggregate(  # one count per x, whatever the colour
        n="count()", shown="max(shown)", groupby=groupby[:1]).mark_text(dx=7, align="left", fontSize=10).encode(
        x=x, y=y, text="n:Q")
    budget_rule = alt.Chart(alt.Data(values=[{"v": budget_steps}])).mark_rule(
        strokeDash=[4, 3], color="#888").encode(y=alt.Y("v:Q"))
    budget_text = alt.Chart(alt.Data(values=[{"v": budget_steps, "t": f"{budget_steps:,}-step budget"}])).mark_text(
        align="left", baseline="bottom", dy=-2, fontSize=10).encode(x=alt.value(2), y="v:Q", text="t:N")
    return [median, dots, never, budget_rule, budget_text]


def fraction_chart(ctx: BuildContext, narrow: bool = False):
    rows = sweep_rows(ctx, FRACTION, ("train_fraction",))
    x = alt.X("train_fraction:Q", title="share of the 67² pairs used for training", scale=alt.Scale(domain=[0.15, 0.85]),
              axis=alt.Axis(format="%", values=[0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]))
    chart = alt.layer(*steps_layers(budget(ctx, FRACTION), x, narrow=narrow), data=alt.NamedData("runs")).properties(
        width=215 if narrow else 440, height=240,
        title=alt.Title(["Steps to generalize against the size", "of the training set (6 seeds each)"] if narrow else
                        "Steps to generalize against the size of the training set (6 seeds each)", anchor="start", fontSize=12))
    return with_datasets(chart, {"runs": rows})


def init_rows(ctx: BuildContext) -> list[dict]:
    rows = []
    for name in INIT:
        rows += sweep_rows(ctx, name, ("init_scale", "weight_decay"))
    for row in rows:
        row["wd"] = row.pop("weight_decay")
    return rows


def init_chart(ctx: BuildContext, narrow: bool = False):
    rows = init_rows(ctx)
    scales = sorted({s for name in INIT for s in ctx.spec(name)["init_scale"]})
    x = alt.X("init_scale:Q", title="initial weights × (log)", scale=alt.Scale(type="log", domain=[scales[0] / 1.5, scales[-1] * 1.5]),
              axis=alt.Axis(values=scales, format="~g"))
    panel = alt.layer(*steps_layers(budget(ctx, INIT[1]), x, narrow=narrow)).properties(width=215 if narrow else 190, height=220)
    chart = panel.facet(facet=alt.Facet("wd:O", title=None, header=alt.Header(labelExpr="'weight decay ' + datum.value", labelFontSize=12)),
                        columns=1 if narrow else 3, data=alt.NamedData("runs"))
    return with_datasets(chart, {"runs": rows})


def lr_chart(ctx: BuildContext, narrow: bool = False):
    """Steps to generalize against the learning rate for each optimizer, dots coloured by weight
    decay, one median line per weight decay."""
    rows, _ = phase_data(ctx)
    panels = []
    for opt, name in PHASE_SWEEPS:
        lrs = sorted(ctx.spec(name)["lr"])
        x = alt.X("lr:Q", title="learning rate (log)", scale=alt.Scale(type="log", domain=[lrs[0] / 1.6, lrs[-1] * 1.6]),
                  axis=alt.Axis(values=lrs, format="~e"))
        colour = alt.Color("wd:O", title="weight decay", scale=alt.Scale(scheme="viridis"),
                           legend=alt.Legend(orient="bottom", columns=3, format="~g"))
        layers = steps_layers(budget(ctx, name), x, color=colour, detail="wd:O")
        panels.append(alt.layer(*layers).transform_filter(f"datum.opt === '{opt}'").properties(
            width=215 if narrow else 250, height=220, title=alt.Title(opt, anchor="start", fontSize=12)))
    view = alt.concat(*panels, columns=1 if narrow else 2, spacing=30, data=alt.NamedData("runs")).resolve_scale(color="independent")
    return with_datasets(view, {"runs": rows})


RUN_COLUMNS = (("run", "the run's index in its sweep's grid (content/experiments.toml order)"),
               ("tr", "the first logged step at which train accuracy reached 90% (-1: never)"),
               ("te", "the first logged step at which test accuracy reached 90% (-1: never)"),
               ("te99", "the first logged step at which test accuracy reached 99% (-1: never, within the budget)"),
               ("ftr", "train accuracy at the end of the budget, fraction 0-1"),
               ("fte", "test accuracy at the end of the budget, fraction 0-1"),
               ("phase", "the run's phase at the default gap of 1,000 steps: comprehension, grokking, memorization or "
                         "confusion (builder.analysis.grokking)"))
DIAG_COLUMN = ("diag", "the cell's diagonal: learning rate x weight decay rounded to 1 or 3 x 10^e (0: no decay)")
COLUMNS = {
    "groks-ring": (("a", "the number 0-66 the embedding row belongs to"),
                   ("j", "the number's place 0-66 around the final ring (j-th number = j / k mod 67, k its frequency)"),
                   ("x", "coordinate on the embedding's own first principal component, scaled so the step's largest |coordinate| is 1"),
                   ("y", "coordinate on its own second principal component, same scaling"),
                   ("u", "coordinate on the final embedding's first principal component, scaled as x"),
                   ("v", "coordinate on the final embedding's second principal component, scaled as x"),
                   ("own", "ring score (0-1) in the embedding's own plane at that step"),
                   ("final", "ring score (0-1) in the final embedding's plane at that step")),
    "groks-phase": (*RUN_COLUMNS, ("cell", "the grid cell (as in data/groks-phase/<cell>.csv, its seeds' accuracy curves)"),
                    DIAG_COLUMN, ("opt", "the optimizer: AdamW or SGD (momentum 0.9)"),
                    ("demand.train", "train accuracy, fraction 0-1"), ("demand.test", "test accuracy, fraction 0-1")),
    "groks-fraction": (*RUN_COLUMNS, ("train_fraction", "the share of the 67² pairs used for training, fraction 0-1")),
    "groks-init": (*RUN_COLUMNS, ("init_scale", "the factor every initial weight was multiplied by")),
    "groks-lr": (*RUN_COLUMNS, DIAG_COLUMN, ("opt", "the optimizer: AdamW or SGD (momentum 0.9)")),
}


def figures(ctx: BuildContext) -> list[Figure]:
    phase_sources = tuple(name for _, name in PHASE_SWEEPS)
    return [
        Figure("groks-accuracy", SECTION,
               "Train and test accuracy of the run whose embedding is drawn below. Move the pointer (or use the arrow keys) to pick a step.",
               "Line chart: train accuracy reaches 100% within a few thousand steps, test accuracy stays low and then climbs to 100% late in training.",
               accuracy_chart, scrub=STEP_RULE, sources=(EMBED_RUN,)),
        Figure("groks-ring", SECTION,
               "The 67 rows of the embedding at the chosen step, in the plane of their own first two principal components (first panel) "
               "and projected on the plane of the final embedding's (second panel), each scaled to fit. Colours follow each number's "
               "place on the final ring; the grey line joins neighbours on it.",
               "Two scatter plots of 67 points: at the end both show the numbers on a circle in order; at the start the first "
               "is a cloud, while the second already shows a rough ordered ring.",
               ring_chart, sources=(EMBED_RUN,), columns=COLUMNS["groks-ring"], narrow=lambda ctx: ring_chart(ctx, narrow=True)),
        Figure("groks-phase", SECTION,
               "Every run of the two phase sweeps, a dot per seed on a grid of learning rate by weight decay, coloured by its "
               "phase. The slider sets how many steps must separate train and test accuracy reaching 90% to call it grokking; "
               "point at a cell for its accuracy curves. The lowest bars count the phases on each diagonal of a grid, whose "
               "cells share the product of learning rate and weight decay; point at a bar for its share and 95% interval.",
               "Two grids of coloured dots, AdamW (6 learning rates by 6 weight decays) and SGD (5 by 3), with bar charts "
               "counting the runs of each phase, over all and on each diagonal of learning rate times weight decay.",
               phase_chart, demand="cell", sources=phase_sources, columns=COLUMNS["groks-phase"], narrow=lambda ctx: phase_chart(ctx, narrow=True)),
        Figure("groks-fraction", SECTION,
               "The step at which each run first reached 99% test accuracy, against the share of pairs it trained on; crosses "
               "above the dashed budget never got there. The line joins the medians of the runs that did.",
               "Scatter plot on a log scale: the steps to generalize fall steeply as the training set grows; at the smallest "
               "shares the runs never generalize.",
               fraction_chart, sources=(FRACTION,), columns=COLUMNS["groks-fraction"], narrow=lambda ctx: fraction_chart(ctx, narrow=True)),
        Figure("groks-init", SECTION,
               "The step at which each run first reached 99% test accuracy against the scale of its initial weights, one chart "
               "per weight decay; crosses above the dashed budget never got there.",
               "Three scatter plots: without weight decay no run generalizes from any scale; with weight decay 1 most runs "
               "generalize from every scale, later from larger initial weights.",
               init_chart, sources=INIT, columns=COLUMNS["groks-init"], narrow=lambda ctx: init_chart(ctx, narrow=True)),
        Figure("groks-lr", SECTION,
               "The step at which each run first reached 99% test accuracy against its learning rate, for AdamW and SGD, "
               "coloured by weight decay; crosses above the dashed budget never got there.",
               "Two scatter plots on log scales, AdamW and SGD, with a median line per weight decay.",
               lr_chart, sources=phase_sources, columns=COLUMNS["groks-lr"], narrow=lambda ctx: lr_chart(ctx, narrow=True)),
    ]


# -- facts and claims: what the section's prose says about these runs (builder.facts) --------
PHASE = tuple(name for _, name in PHASE_SWEEPS)
RING_SOURCES = (EMBED_RUN,)
DECIDES = 0.8  # a diagonal's product "decides" the phase when one phase holds this share of its runs
RING_LEVEL = 0.95  # a ring score that counts as a ring
EARLY_LEVEL = 0.9  # the final plane's score that counts as the ring being there early


def power(value: float) -> str:
    """0.003 -> "3 × 10⁻³", 0.001 -> "10⁻³", 0.3 -> "0.3": a product as the prose writes it."""
    value = float(value)
    if value >= 0.1 or value == 0:
        return f"{value:g}"
    shown = sci(0)(value)
    return shown[len("1 × "):] if shown.startswith("1 × ") else shown


def powers(values) -> str:
    return listed([power(v) for v in values])


def span(values) -> str:
    """(4214, 8629) -> "4,214 to 8,629"."""
    lo, hi = values
    return f"{lo:,} to {hi:,}"


def percent_span(values) -> str:
    """(0.1855, 0.7958) -> "19% to 80%"."""
    lo, hi = values
    return f"{100 * lo:.0f}% to {100 * hi:.0f}%"


def of(value) -> str:
    """(45, 108) -> "45 of 108" (a share of enough runs to need no interval)."""
    return f"{int(value[0])} of {int(value[1])}"


# ---- the ring (one run: mod-top-embed) ----
def _scores(ctx: BuildContext, side: str) -> np.ndarray:
    return np.array([s for s, _, _ in ring(ctx)["score"][side]])


def _embed(ctx: BuildContext, i: int) -> np.ndarray:
    return np.asarray(ctx.artifact(EMBED_RUN).arrays["embed"][i], np.float64)


@fact("groks.ring-final", "{:.2f}", sources=RING_SOURCES)
def ring_final(ctx: BuildContext) -> float:
    """The ring score of the final embedding in its own first two principal components."""
    return float(_scores(ctx, "own")[-1])


@fact("groks.ring-k", sources=RING_SOURCES)
def ring_k(ctx: BuildContext) -> int:
    """The frequency k whose order (k x a mod p) the final ring follows."""
    return int(ring(ctx)["k"])


@loader
def key_frequencies(ctx: BuildContext) -> list:
    from builder.analysis import fourier
    return sorted(fourier.key_frequencies(np.asarray(ctx.artifact(EMBED_RUN).arrays["w_in"][-1], np.float64)))


@loader
def ring_shares(ctx: BuildContext) -> np.ndarray:
    """Every principal component's share of the final embedding's variance."""
    return grokking.components(_embed(ctx, -1))[1]


@fact("groks.ring-key-count", words, sources=RING_SOURCES)
def ring_key_count(ctx: BuildContext) -> int:
    """How many key frequencies the run ends with."""
    return len(key_frequencies(ctx))


@fact("groks.ring-shares", percent_span, sources=RING_SOURCES)
def ring_share_span(ctx: BuildContext) -> tuple:
    """The smallest and largest variance share of the first 2 x (key frequencies) components:
    a plane per key frequency."""
    first = ring_shares(ctx)[:2 * len(key_frequencies(ctx))]
    return float(first.min()), float(first.max())


def _dip(ctx: BuildContext) -> tuple[int, float]:
    """(step, score) of the own plane's lowest score after it first scored RING_LEVEL."""
    own, steps = _scores(ctx, "own"), ring(ctx)["step"]
    first = int(np.argmax(own >= RING_LEVEL))
    if own[first] < RING_LEVEL:
        raise ValueError(f"the embedding's own plane never scores {RING_LEVEL}")
    low = first + int(np.argmin(own[first:]))
    return int(steps[low]), float(own[low])


@fact("groks.ring-dip-score", "{:.2f}", sources=RING_SOURCES)
def ring_dip_score(ctx: BuildContext) -> float:
    """The own plane's lowest ring score after it first showed the ring."""
    return _dip(ctx)[1]


@fact("groks.ring-dip-step", sources=RING_SOURCES)
def ring_dip_step(ctx: BuildContext) -> int:
    """The checkpoint of that lowest score."""
    return _dip(ctx)[0]


@fact("groks.ring-start-final", "{:.2f}", sources=RING_SOURCES)
def ring_start_final(ctx: BuildContext) -> float:
    """The untrained embedding's ring score in the final embedding's plane."""
    return float(_scores(ctx, "final")[0])


def ring_start_own(ctx: BuildContext) -> float:
    """The untrained embedding's ring score in its own first two principal components."""
    return float(_scores(ctx, "own")[0])


RANDOM_PLANES = 200


@fact("groks.ring-start-random", "{:.2f}", sources=RING_SOURCES)
def ring_start_random(ctx: BuildContext) -> float:
    """The best ring score of RANDOM_PLANES random planes through the untrained embedding."""
    return float(grokking.random_plane_scores(_embed(ctx, 0), RANDOM_PLANES).max())


def _early(ctx: BuildContext) -> int:
    """The index of the first checkpoint at which the final plane scores EARLY_LEVEL."""
    final = _scores(ctx, "final")
    i = int(np.argmax(final >= EARLY_LEVEL))
    if final[i] < EARLY_LEVEL:
        raise ValueError(f"the final plane never scores {EARLY_LEVEL}")
    return i


@fact("groks.ring-early-step", sources=RING_SOURCES)
def ring_early_step(ctx: BuildContext) -> int:
    """The first checkpoint at which the final plane's ring score reaches EARLY_LEVEL."""
    return int(ring(ctx)["step"][_early(ctx)])


@fact("groks.ring-early-score", "{:.2f}", sources=RING_SOURCES)
def ring_early_score(ctx: BuildContext) -> float:
    """The final plane's ring score at that checkpoint."""
    return float(_scores(ctx, "final")[_early(ctx)])


@fact("groks.ring-early-test", percent(1), sources=RING_SOURCES)
def ring_early_test(ctx: BuildContext) -> float:
    """The highest test accuracy logged up to that checkpoint."""
    r = ring(ctx)
    return float(r["test_acc"][r["metric_step"] <= ring_early_step(ctx)].max())


@claim("groks.ring-at-end", sources=RING_SOURCES)
def ring_at_end(ctx: BuildContext):
    """The final embedding, in its own first two components, lies on an ordered ring."""
    return ring_final(ctx) >= RING_LEVEL, f"final ring score {ring_final(ctx):.3f} (a ring: {RING_LEVEL})"


@claim("groks.ring-key", sources=RING_SOURCES)
def ring_key(ctx: BuildContext):
    """The ring's order is that of one of the key frequencies the network computes with."""
    keys = key_frequencies(ctx)
    return ring_k(ctx) in keys, f"ring frequency {ring_k(ctx)}, key frequencies {keys}"


@claim("groks.rings-alike", sources=RING_SOURCES)
def rings_alike(ctx: BuildContext):
    """Each key frequency's plane holds nearly the same variance: the first 2 x keys components
    are within 20% of each other, and the next one holds less than half the smallest."""
    shares, n = ring_shares(ctx), 2 * len(key_frequencies(ctx))
    first = shares[:n]
    holds = first.min() >= 0.8 * first.max() and shares[n] < 0.5 * first.min()
    return holds, "variance shares " + ", ".join(f"{s:.1%}" for s in shares[:n + 1])


@claim("groks.ring-at-start", sources=RING_SOURCES)
def ring_at_start(ctx: BuildContext):
    """The final plane already orders the untrained embedding: it scores above every random
    plane through it, and above the untrained embedding's own plane."""
    final, best, own = ring_start_final(ctx), ring_start_random(ctx), ring_start_own(ctx)
    return final > best and final > own, f"final plane {final:.2f}, best of {RANDOM_PLANES} random planes {best:.2f}, own plane {own:.2f}"


@claim("groks.ring-before-test", sources=RING_SOURCES)
def ring_before_test(ctx: BuildContext):
    """The final plane's ring is there (score EARLY_LEVEL) while test accuracy is still under 5%."""
    return ring_early_test(ctx) < 0.05, (f"score {ring_early_score(ctx):.2f} at step {ring_early_step(ctx):,}, "
                                         f"test accuracy up to then at most {ring_early_test(ctx):.1%}")


@claim("groks.ring-verdict", sources=RING_SOURCES)
def ring_verdict(ctx: BuildContext):
    """Both of Liu and colleagues' observations hold in this run: the ring at the end, and the
    final plane's order in the untrained embedding."""
    (end, m1), (start, m2) = ring_at_end(ctx), ring_at_start(ctx)
    return end and start, f"{m1}; {m2}"


# ---- the phase diagram ----
def _runs(ctx: BuildContext, opt: str) -> list[dict]:
    return [r for r in phase_data(ctx)[0] if r["opt"] == opt]


def _generalized(rows) -> int:
    return sum(r["te"] >= 0 for r in rows)


@loader
def diagonals(ctx: BuildContext) -> dict:
    """Per optimizer, per diagonal (grokking.diagonal; 0: no decay), its runs' phase counts."""
    out: dict = {}
    for row in phase_data(ctx)[0]:
        out.setdefault(row["opt"], {}).setdefault(row["diag"], dict.fromkeys(grokking.PHASES, 0))[row["phase"]] += 1
    return {opt: dict(sorted(d.items())) for opt, d in out.items()}


def _decided(counts: dict) -> bool:
    return max(counts.values()) >= DECIDES * sum(counts.values())


def _diagonal_text(diag: float, counts: dict) -> str:
    n = sum(counts.values())
    return f"{power(diag)}: " + ", ".join(f"{k} {phase}" for phase, k in counts.items() if k) + f" (of {n})"


def diag_decides(ctx: BuildContext) -> list:
    """The AdamW diagonals with decay on which one phase holds at least DECIDES of the runs."""
    return [d for d, c in diagonals(ctx)["AdamW"].items() if d > 0 and _decided(c)]


@fact("groks.diag-fails", powers, sources=PHASE)
def diag_fails(ctx: BuildContext) -> list:
    """The AdamW diagonals with decay on which no phase holds DECIDES of the runs."""
    return [d for d, c in diagonals(ctx)["AdamW"].items() if d > 0 and not _decided(c)]


@fact("groks.diag-count", words, sources=PHASE)
def diag_count(ctx: BuildContext) -> int:
    """How many AdamW diagonals have weight decay."""
    return sum(d > 0 for d in diagonals(ctx)["AdamW"])


@fact("groks.diag-decides-count", words, sources=PHASE)
def diag_decides_count(ctx: BuildContext) -> int:
    """How many AdamW diagonals with decay the product decides (one phase holds DECIDES of the runs)."""
    return len(diag_decides(ctx))


@fact("groks.diag-table", lambda v: "; ".join(v), sources=PHASE)
def diag_table(ctx: BuildContext) -> list:
    """Every AdamW diagonal with decay and its phase counts, for the note."""
    return [_diagonal_text(d, c) for d, c in diagonals(ctx)["AdamW"].items() if d > 0]


def _band(ctx: BuildContext, lo: float, hi: float) -> dict:
    counts = dict.fromkeys(grokking.PHASES, 0)
    for d, c in diagonals(ctx)["AdamW"].items():
        if lo <= d <= hi:
            for phase, k in c.items():
                counts[phase] += k
    return counts


LOW_BAND, GROK_BAND, COMP_BAND = (1e-5, 3e-4), (3e-3, 3e-3), (3e-2, 0.1)


@fact("groks.band-low-runs", sources=PHASE)
def band_low_runs(ctx: BuildContext) -> int:
    """AdamW runs on the diagonals of the smallest products with decay (1e-5 to 3e-4)."""
    return sum(_band(ctx, *LOW_BAND).values())


@fact("groks.band-grok", rate, sources=PHASE)
def band_grok(ctx: BuildContext) -> tuple:
    """Grokking runs of the AdamW runs at product 3e-3."""
    c = _band(ctx, *GROK_BAND)
    return c["grokking"], sum(c.values())


@fact("groks.band-comp", rate, sources=PHASE)
def band_comp(ctx: BuildContext) -> tuple:
    """Comprehending runs of the AdamW runs at products 3e-2 to 1e-1."""
    c = _band(ctx, *COMP_BAND)
    return c["comprehension"], sum(c.values())


@claim("groks.band-low-memorize", sources=PHASE)
def band_low_memorize(ctx: BuildContext):
    """Every AdamW run with a product from 1e-5 to 3e-4 memorizes."""
    c = _band(ctx, *LOW_BAND)
    return c["memorization"] == sum(c.values()) > 0, f"{c}"


@claim("groks.product-decides-band", sources=PHASE)
def product_decides_band(ctx: BuildContext):
    """The product decides the phase (one phase holds at least DECIDES of the runs) on most AdamW
    diagonals with decay, among them the low memorizing band, 3e-3 (grokking) and the
    comprehending band."""
    low, grok, comp = (_band(ctx, *b) for b in (LOW_BAND, GROK_BAND, COMP_BAND))
    holds = (low["memorization"] == sum(low.values()) and grok["grokking"] >= DECIDES * sum(grok.values())
             and comp["comprehension"] >= DECIDES * sum(comp.values()) and 2 * diag_decides_count(ctx) > diag_count(ctx))
    return holds, (f"decides on {diag_decides_count(ctx)} of {diag_count(ctx)} diagonals; low {low}; 3e-3 {grok}; "
                   f"3e-2 to 0.1 {comp}")


@claim("groks.product-fails", sources=PHASE)
def product_fails(ctx: BuildContext):
    """On some AdamW diagonals no phase holds DECIDES of the runs: the product alone does not
    decide there."""
    fails = diag_fails(ctx)
    return bool(fails), "; ".join(_diagonal_text(d, diagonals(ctx)["AdamW"][d]) for d in fails) or "every diagonal decided"


CELL_BIG_DECAY, CELL_SMALL_DECAY = (1e-4, 10.0), (1e-2, 0.1)  # two cells on the diagonal 1e-3


def _cell(ctx: BuildContext, opt: str, lr: float, wd: float) -> list[dict]:
    return [r for r in _runs(ctx, opt) if r["lr"] == lr and r["wd"] == wd]


@fact("groks.cell-big-decay", rate, sources=PHASE)
def cell_big_decay(ctx: BuildContext) -> tuple:
    """Generalizing runs (test 90%) at AdamW lr 1e-4, decay 10 (product 1e-3)."""
    rows = _cell(ctx, "AdamW", *CELL_BIG_DECAY)
    return _generalized(rows), len(rows)


@fact("groks.cell-small-decay", rate, sources=PHASE)
def cell_small_decay(ctx: BuildContext) -> tuple:
    """Generalizing runs at AdamW lr 1e-2, decay 0.1 (the same product)."""
    rows = _cell(ctx, "AdamW", *CELL_SMALL_DECAY)
    return _generalized(rows), len(rows)


@claim("groks.same-product-differs", sources=PHASE)
def same_product_differs(ctx: BuildContext):
    """Two cells of one diagonal end differently: most runs generalize in one, none in the other."""
    (a, n), (b, m) = cell_big_decay(ctx), cell_small_decay(ctx)
    return a > n / 2 and b == 0, f"{a} of {n} at lr 1e-4, decay 10; {b} of {m} at lr 1e-2, decay 0.1"


@claim("groks.phase-verdict", sources=PHASE)
def phase_verdict(ctx: BuildContext):
    """Agrees on the four phases (all appear), partly on one number deciding them: it decides
    at both ends and fails on some diagonals between."""
    parts = [four_phases(ctx), product_decides_band(ctx), product_fails(ctx)]
    return all(h for h, _ in parts), "; ".join(m for _, m in parts)


@claim("groks.four-phases", sources=PHASE)
def four_phases(ctx: BuildContext):
    """All four phases appear among the AdamW runs."""
    c = grokking.counts([grokking.PHASES.index(r["phase"]) for r in _runs(ctx, "AdamW")])
    return min(c.values()) > 0, f"{c}"


@claim("groks.no-decay-no-generalization", sources=PHASE)
def no_decay_no_generalization(ctx: BuildContext):
    """No run without weight decay, of either optimizer, reaches 90% test accuracy."""
    rows = [r for r in phase_data(ctx)[0] if r["wd"] == 0]
    return _generalized(rows) == 0 < len(rows), f"{_generalized(rows)} of {len(rows)} runs without decay generalize"


@fact("groks.confused-train", percent_span, sources=PHASE)
def confused_train(ctx: BuildContext) -> tuple:
    """The final training accuracies of the confused AdamW runs, lowest and highest."""
    acc = [r["ftr"] for r in _runs(ctx, "AdamW") if r["phase"] == "confusion"]
    return min(acc), max(acc)


@claim("groks.confusion-at-top", sources=PHASE)
def confusion_at_top(ctx: BuildContext):
    """The confused AdamW runs are those at the largest learning rate without decay."""
    rows = _runs(ctx, "AdamW")
    top = max(r["lr"] for r in rows)
    confused = {(r["lr"], r["wd"]) for r in rows if r["phase"] == "confusion"}
    return confused == {(top, 0.0)}, f"confused cells {sorted(confused)}"


def _timescale(ctx: BuildContext) -> tuple:
    """(n, slope, correlation, constant) of log(step to 90% test) against log(1 / (lr x wd))
    over the AdamW runs that get there; the constant: the geometric mean of step x lr x wd."""
    fit = [r for r in _runs(ctx, "AdamW") if r["te"] >= 0]
    x = np.log([1 / (r["lr"] * r["wd"]) for r in fit])
    y = np.log([r["te"] for r in fit])
    slope = float(np.polyfit(x, y, 1)[0])
    return len(fit), slope, float(np.corrcoef(x, y)[0, 1]), float(np.exp(np.mean(y - x)))


@fact("groks.time-runs", sources=PHASE)
def time_runs(ctx: BuildContext) -> int:
    """AdamW runs that reach 90% test accuracy."""
    return _timescale(ctx)[0]


@fact("groks.time-slope", "{:.2f}", sources=PHASE)
def time_slope(ctx: BuildContext) -> float:
    """The slope of log(step to 90% test) against log(1 / (lr x wd)), AdamW runs that get there."""
    return _timescale(ctx)[1]


@fact("groks.time-corr", "{:.2f}", sources=PHASE)
def time_corr(ctx: BuildContext) -> float:
    """The correlation of the same logarithms."""
    return _timescale(ctx)[2]


@fact("groks.time-constant", "{:.0f}", sources=PHASE)
def time_constant(ctx: BuildContext) -> float:
    """c in "the step is close to c / (lr x wd)"."""
    return _timescale(ctx)[3]


@claim("groks.timescale", sources=PHASE)
def timescale(ctx: BuildContext):
    """The step at which AdamW runs reach 90% test accuracy scales as 1 / (lr x wd): slope within
    0.2 of 1 on log scales, correlation above 0.85."""
    n, slope, corr, c = _timescale(ctx)
    return abs(slope - 1) < 0.2 and corr > 0.85, f"{n} runs: slope {slope:.2f}, correlation {corr:.2f}, constant {c:.1f}"


OPENING_CELL = (1e-3, 1.0)


@fact("groks.opening-cell", rate, sources=PHASE)
def opening_cell(ctx: BuildContext) -> tuple:
    """Grokking runs in the cell of the opening run's settings (AdamW, lr 1e-3, decay 1)."""
    rows = _cell(ctx, "AdamW", *OPENING_CELL)
    return sum(r["phase"] == "grokking" for r in rows), len(rows)


@fact("groks.opening-cell-groks", words, sources=PHASE)
def opening_cell_groks(ctx: BuildContext) -> int:
    """How many seeds grok in the cell of the opening run's settings."""
    return opening_cell(ctx)[0]


@claim("groks.opening-cell-rest-memorize", sources=PHASE)
def opening_cell_rest_memorize(ctx: BuildContext):
    """In the opening run's cell, the seeds that do not grok memorize."""
    phases = [r["phase"] for r in _cell(ctx, "AdamW", *OPENING_CELL)]
    return all(p in ("grokking", "memorization") for p in phases) and "memorization" in phases, f"{phases}"


# ---- how much data ----
@loader
def fraction_rows(ctx: BuildContext) -> dict:
    """The training-fraction sweep's rows by share of the pairs."""
    out: dict = {}
    for row in sweep_rows(ctx, FRACTION, ("train_fraction",)):
        out.setdefault(row["train_fraction"], []).append(row)
    return dict(sorted(out.items()))


def _reached(rows) -> list[int]:
    return sorted(r["te99"] for r in rows if r["te99"] >= 0)


def _median_steps(rows) -> int:
    steps = _reached(rows)
    if not steps:
        raise ValueError("no run reaches 99% test accuracy")
    return int(round(float(np.median(steps))))


def _fraction_median(share_of_pairs: float):
    def median(ctx: BuildContext) -> int:
        return _median_steps(fraction_rows(ctx)[share_of_pairs])
    median.__doc__ = (f"The median step at which runs trained on {share_of_pairs:.0%} of the pairs reach 99% test "
                      "accuracy (of those that do).")
    median.__qualname__ = f"fraction_median[{share_of_pairs}]"  # loaders are memoized by name
    return fact(f"groks.fraction-median-{round(100 * share_of_pairs)}", sources=(FRACTION,))(median)


def _fraction_share(share_of_pairs: float):
    def reached(ctx: BuildContext) -> tuple:
        rows = fraction_rows(ctx)[share_of_pairs]
        return len(_reached(rows)), len(rows)
    reached.__doc__ = f"Runs trained on {share_of_pairs:.0%} of the pairs that reach 99% test accuracy."
    reached.__qualname__ = f"fraction_reached[{share_of_pairs}]"  # loaders are memoized by name
    return fact(f"groks.fraction-reached-{round(100 * share_of_pairs)}", rate, sources=(FRACTION,))(reached)


fraction_median_80, fraction_median_50, fraction_median_40 = (_fraction_median(f) for f in (0.8, 0.5, 0.4))
fraction_reached_40, fraction_reached_30, fraction_reached_20 = (_fraction_share(f) for f in (0.4, 0.3, 0.2))


@claim("groks.fraction-steep", sources=(FRACTION,))
def fraction_steep(ctx: BuildContext):
    """The median wait for 99% test accuracy grows as the share of pairs falls, from the largest
    share to the smallest at which most runs get there, and at least fivefold over that range."""
    shares = [f for f, rows in fraction_rows(ctx).items() if 2 * len(_reached(rows)) > len(rows)]
    medians = [_median_steps(fraction_rows(ctx)[f]) for f in shares]  # ascending share
    rising = all(a >= 0.9 * b for a, b in zip(medians, medians[1:]))  # 10% leeway for a logged step's jitter
    return rising and medians[0] >= 5 * medians[-1], ", ".join(f"{f:.0%}: {m:,}" for f, m in zip(shares, medians))


@claim("groks.fraction-critical", sources=(FRACTION,))
def fraction_critical(ctx: BuildContext):
    """Most runs generalize at 40% of the pairs and above; at most one in three at 30% and below."""
    rows = fraction_rows(ctx)
    above = all(2 * len(_reached(r)) > len(r) for f, r in rows.items() if f >= 0.4)
    below = all(3 * len(_reached(r)) <= len(r) for f, r in rows.items() if f <= 0.3)
    return above and below, ", ".join(f"{f:.0%}: {len(_reached(r))} of {len(r)}" for f, r in rows.items())


@fact("groks.fraction-20-test", percent(1), sources=(FRACTION,))
def fraction_20_test(ctx: BuildContext) -> float:
    """The best final test accuracy of the runs trained on 20% of the pairs."""
    return max(r["fte"] for r in fraction_rows(ctx)[0.2])


@claim("groks.fraction-20-chance", sources=(FRACTION,))
def fraction_20_chance(ctx: BuildContext):
    """Every run on 20% of the pairs fits them all and ends no better than chance on the rest."""
    rows, p = fraction_rows(ctx)[0.2], ctx.spec(FRACTION)["p"]
    fit = all(r["ftr"] == 1.0 for r in rows)
    return fit and fraction_20_test(ctx) <= 1 / p, (f"train accuracy at least {min(r['ftr'] for r in rows):.1%}, "
                                                    f"test at most {fraction_20_test(ctx):.2%} (chance {1 / p:.2%})")


@fact("groks.fraction-comprehend", rate, sources=(FRACTION,))
def fraction_comprehend(ctx: BuildContext) -> tuple:
    """Comprehending runs among those trained on 60% to 80% of the pairs."""
    rows = [r for f, rs in fraction_rows(ctx).items() if f >= 0.6 for r in rs]
    return sum(r["phase"] == "comprehension" for r in rows), len(rows)


@claim("groks.fraction-more-comprehend", sources=(FRACTION,))
def fraction_more_comprehend(ctx: BuildContext):
    """With 60% to 80% of the pairs, most runs comprehend."""
    k, n = fraction_comprehend(ctx)
    return 2 * k > n, f"{k} of {n} comprehend"


@claim("groks.fraction-less-grok", sources=(FRACTION,))
def fraction_less_grok(ctx: BuildContext):
    """Every run that generalizes with 30% or 40% of the pairs groks."""
    rows = [r for f, rs in fraction_rows(ctx).items() if f in (0.3, 0.4) for r in rs if r["te"] >= 0]
    return bool(rows) and all(r["phase"] == "grokking" for r in rows), ", ".join(r["phase"] for r in rows)


@claim("groks.fraction-verdict", sources=(FRACTION,))
def fraction_verdict(ctx: BuildContext):
    """Power and colleagues' two findings hold: a steep wait and a critical share."""
    (a, m1), (b, m2) = fraction_steep(ctx), fraction_critical(ctx)
    return a and b, f"medians {m1}; reached {m2}"


# ---- weight decay and the initial weights ----
@loader
def init_cells(ctx: BuildContext) -> dict:
    """The two initial-scale sweeps' rows by (weight decay, initial scale)."""
    out: dict = {}
    for row in init_rows(ctx):
        out.setdefault((row["wd"], row["init_scale"]), []).append(row)
    return dict(sorted(out.items()))


def _with_decay(ctx: BuildContext, wd: float, scales=None) -> list[dict]:
    return [r for (w, s), rows in init_cells(ctx).items() if w == wd and (scales is None or s in scales) for r in rows]


@fact("groks.init-none-runs", sources=INIT)
def init_none_runs(ctx: BuildContext) -> int:
    """Runs without weight decay, over every initial scale."""
    return len(_with_decay(ctx, 0.0))


@fact("groks.init-none-best", percent(1), sources=INIT)
def init_none_best(ctx: BuildContext) -> float:
    """The best final test accuracy of a run without weight decay."""
    return max(r["fte"] for r in _with_decay(ctx, 0.0))


@claim("groks.init-none", sources=INIT)
def init_none(ctx: BuildContext):
    """Without weight decay no run reaches 90% test accuracy, from any initial scale."""
    rows = _with_decay(ctx, 0.0)
    return _generalized(rows) == 0, f"{_generalized(rows)} of {len(rows)} reach 90% test accuracy"


LARGE, SMALL = (2.0, 4.0), (0.03, 0.1)


def init_large_train(ctx: BuildContext) -> tuple:
    """Final training accuracy, lowest and highest, of the runs started large without decay."""
    acc = [r["ftr"] for r in _with_decay(ctx, 0.0, LARGE)]
    return min(acc), max(acc)


@claim("groks.init-large-unfit", sources=INIT)
def init_large_unfit(ctx: BuildContext):
    """Started large without decay, no run reaches 90% training accuracy within the budget."""
    lo, hi = init_large_train(ctx)
    return hi < 0.9, f"final training accuracy {lo:.1%} to {hi:.1%}"


@claim("groks.init-middle-fit", sources=INIT)
def init_middle_fit(ctx: BuildContext):
    """Started from scales 0.1 to 1 without decay, every run fits its training pairs (90%)."""
    rows = _with_decay(ctx, 0.0, (0.1, 0.25, 0.5, 1.0))
    return all(r["tr"] >= 0 for r in rows), f"lowest final training accuracy {min(r['ftr'] for r in rows):.1%}"


@fact("groks.init-smallest-stall", words, sources=INIT)
def init_smallest_stall(ctx: BuildContext) -> int:
    """Runs started at the smallest scale without decay that never reach 90% training accuracy."""
    return sum(r["tr"] < 0 for r in _with_decay(ctx, 0.0, (min(s for _, s in init_cells(ctx)),)))


@fact("groks.init-weak", rate, sources=INIT)
def init_weak(ctx: BuildContext) -> tuple:
    """Runs with weight decay 0.1 that reach 90% test accuracy."""
    rows = _with_decay(ctx, 0.1)
    return _generalized(rows), len(rows)


@fact("groks.init-strong-90", rate, sources=INIT)
def init_strong_90(ctx: BuildContext) -> tuple:
    """Runs with weight decay 1 that reach 90% test accuracy."""
    rows = _with_decay(ctx, 1.0)
    return _generalized(rows), len(rows)


@claim("groks.init-every-scale", sources=INIT)
def init_every_scale(ctx: BuildContext):
    """With weight decay 1, at every initial scale most runs reach 90% test accuracy."""
    cells = {s: rows for (w, s), rows in init_cells(ctx).items() if w == 1.0}
    return all(2 * _generalized(r) > len(r) for r in cells.values()), \
        ", ".join(f"×{s:g}: {_generalized(r)} of {len(r)}" for s, r in cells.items())


@fact("groks.init-small-steps", span, sources=INIT)
def init_small_steps(ctx: BuildContext) -> tuple:
    """Steps to 99% test accuracy, fastest and slowest, of runs with decay 1 started small."""
    steps = _reached(_with_decay(ctx, 1.0, SMALL))
    return steps[0], steps[-1]


@fact("groks.init-large-steps", span, sources=INIT)
def init_large_steps(ctx: BuildContext) -> tuple:
    """The same for runs started large."""
    steps = _reached(_with_decay(ctx, 1.0, LARGE))
    return steps[0], steps[-1]


@claim("groks.init-small-sooner", sources=INIT)
def init_small_sooner(ctx: BuildContext):
    """With decay 1, every run started small reaches 99% before any run started large."""
    small, large = init_small_steps(ctx), init_large_steps(ctx)
    return small[1] < large[0], f"small {span(small)}, large {span(large)}"


@claim("groks.init-verdict", sources=INIT)
def init_verdict(ctx: BuildContext):
    """Half of Omnigrok's claim fails (no run generalizes without decay), half holds (larger
    initial weights delay generalization): partly."""
    (a, m1), (b, m2) = init_none(ctx), init_small_sooner(ctx)
    return a and b, f"{m1}; {m2}"


# ---- the optimizer and its learning rate ----
@fact("groks.adam-generalize", of, sources=PHASE)
def adam_generalize(ctx: BuildContext) -> tuple:
    """AdamW runs that reach 90% test accuracy, of all."""
    rows = _runs(ctx, "AdamW")
    return _generalized(rows), len(rows)


@fact("groks.sgd-generalize", of, sources=PHASE)
def sgd_generalize(ctx: BuildContext) -> tuple:
    """SGD runs that reach 90% test accuracy, of all."""
    rows = _runs(ctx, "SGD")
    return _generalized(rows), len(rows)


def _sgd_decays(ctx: BuildContext) -> list[float]:
    return sorted({r["wd"] for r in _runs(ctx, "SGD")})


@claim("groks.sgd-no-decay-memorizes", sources=PHASE)
def sgd_no_decay_memorizes(ctx: BuildContext):
    """Every SGD run without weight decay memorizes."""
    rows = [r for r in _runs(ctx, "SGD") if r["wd"] == 0]
    return all(r["phase"] == "memorization" for r in rows), f"{sum(r['phase'] == 'memorization' for r in rows)} of {len(rows)} memorize"


@fact("groks.sgd-big-decay-train", percent(1), sources=PHASE)
def sgd_big_decay_train(ctx: BuildContext) -> float:
    """The best final training accuracy of an SGD run at its largest decay."""
    top = _sgd_decays(ctx)[-1]
    return max(r["ftr"] for r in _runs(ctx, "SGD") if r["wd"] == top)


@claim("groks.sgd-big-decay-unfit", sources=PHASE)
def sgd_big_decay_unfit(ctx: BuildContext):
    """At SGD's largest decay no run learns its training pairs beyond twice chance."""
    p = ctx.spec(PHASE_SWEEPS[1][1])["p"]
    return sgd_big_decay_train(ctx) < 2 / p, f"best training accuracy {sgd_big_decay_train(ctx):.2%} (chance {1 / p:.2%})"


def _shared_diagonals(ctx: BuildContext) -> list[tuple]:
    """(diagonal, SGD (k, n), AdamW (k, n)) generalizing runs on each diagonal with decay that
    both grids cover, SGD at its middle decay."""
    mid = _sgd_decays(ctx)[1]
    sgd = [r for r in _runs(ctx, "SGD") if r["wd"] == mid]
    adam = _runs(ctx, "AdamW")
    out = []
    for d in sorted({r["diag"] for r in sgd} & {r["diag"] for r in adam if r["wd"] > 0}):
        s = [r for r in sgd if r["diag"] == d]
        a = [r for r in adam if r["diag"] == d]
        out.append((d, (_generalized(s), len(s)), (_generalized(a), len(a))))
    return out


@fact("groks.shared-sgd", rate, sources=PHASE)
def shared_sgd(ctx: BuildContext) -> tuple:
    """SGD runs (middle decay) that generalize on the diagonals both grids cover."""
    rows = _shared_diagonals(ctx)
    return sum(s[0] for _, s, _ in rows), sum(s[1] for _, s, _ in rows)


@fact("groks.shared-adam", of, sources=PHASE)
def shared_adam(ctx: BuildContext) -> tuple:
    """AdamW runs that generalize on the same diagonals."""
    rows = _shared_diagonals(ctx)
    return sum(a[0] for _, _, a in rows), sum(a[1] for _, _, a in rows)


@fact("groks.shared-count", words, sources=PHASE)
def shared_count(ctx: BuildContext) -> int:
    """How many diagonals with decay both grids cover (SGD at its middle decay)."""
    return len(_shared_diagonals(ctx))


@claim("groks.sgd-not-worse", sources=PHASE)
def sgd_not_worse(ctx: BuildContext):
    """On every diagonal both grids cover, SGD's share of generalizing runs is at least AdamW's."""
    rows = _shared_diagonals(ctx)
    holds = all(s[0] * a[1] >= a[0] * s[1] for _, s, a in rows)
    return holds, "; ".join(f"{power(d)}: SGD {s[0]} of {s[1]}, AdamW {a[0]} of {a[1]}" for d, s, a in rows)


def _adam_best(ctx: BuildContext) -> dict:
    """Per AdamW learning rate, the median step to 99% test accuracy of its best cell among
    those where every seed gets there."""
    cells: dict = {}
    for r in _runs(ctx, "AdamW"):
        cells.setdefault((r["lr"], r["wd"]), []).append(r)
    best: dict = {}
    for (lr, _), rows in sorted(cells.items()):
        if len(_reached(rows)) == len(rows):
            best[lr] = min(best.get(lr, np.inf), float(np.median(_reached(rows))))
    return {lr: int(round(v)) for lr, v in best.items()}


ADAM_RATES = (1e-3, 3e-3, 1e-2)  # the rates the prose follows, up to the fastest


def _adam_rates(ctx: BuildContext) -> list[tuple]:
    best = _adam_best(ctx)
    return [(lr, best[lr]) for lr in ADAM_RATES]


@fact("groks.adam-best-slow", sources=PHASE)
def adam_best_slow(ctx: BuildContext) -> int:
    """The median step to 99% of AdamW's best cell at a learning rate of 1e-3."""
    return _adam_rates(ctx)[0][1]


@fact("groks.adam-best-fast", sources=PHASE)
def adam_best_fast(ctx: BuildContext) -> int:
    """The same at 1e-2."""
    return _adam_rates(ctx)[-1][1]


@claim("groks.adam-rate-helps", sources=PHASE)
def adam_rate_helps(ctx: BuildContext):
    """AdamW's best cell gets to 99% sooner at each larger rate from 1e-3 to 1e-2."""
    pairs = _adam_rates(ctx)
    steps = [s for _, s in pairs]
    return all(a > b for a, b in zip(steps, steps[1:])), ", ".join(f"lr {lr:g}: {s:,}" for lr, s in pairs)


def _sgd_medians(ctx: BuildContext) -> list[tuple]:
    """(lr, median step to 99%, runs that got there, runs) for SGD at its middle decay."""
    mid = _sgd_decays(ctx)[1]
    out = []
    for lr in sorted({r["lr"] for r in _runs(ctx, "SGD")}):
        rows = [r for r in _runs(ctx, "SGD") if r["wd"] == mid and r["lr"] == lr]
        if _reached(rows):
            out.append((lr, _median_steps(rows), len(_reached(rows)), len(rows)))
    return out


@fact("groks.sgd-slowest", sources=PHASE)
def sgd_slowest(ctx: BuildContext) -> int:
    """The median step to 99% of SGD's runs (middle decay) at the smallest rate where any get there."""
    return _sgd_medians(ctx)[0][1]


@fact("groks.sgd-slowest-rate", "{:g}", sources=PHASE)
def sgd_slowest_rate(ctx: BuildContext) -> float:
    """The smallest SGD rate at which a run (middle decay) reaches 99% test accuracy."""
    return _sgd_medians(ctx)[0][0]


@fact("groks.sgd-fastest", sources=PHASE)
def sgd_fastest(ctx: BuildContext) -> int:
    """The same at the largest rate where any get there."""
    return _sgd_medians(ctx)[-1][1]


@fact("groks.sgd-fastest-rate", "{:g}", sources=PHASE)
def sgd_fastest_rate(ctx: BuildContext) -> float:
    """The largest such rate."""
    return _sgd_medians(ctx)[-1][0]


@claim("groks.sgd-rate-helps", sources=PHASE)
def sgd_rate_helps(ctx: BuildContext):
    """SGD's median run (middle decay) gets to 99% sooner at each larger rate."""
    m = _sgd_medians(ctx)
    return len(m) >= 3 and all(a[1] > b[1] for a, b in zip(m, m[1:])), \
        "; ".join(f"lr {lr:g}: {s:,} ({k} of {n})" for lr, s, k, n in m)


@fact("groks.adam-top-big-decay", rate, sources=PHASE)
def adam_top_big_decay(ctx: BuildContext) -> tuple:
    """Runs at AdamW's largest rate and largest decay that reach 90% test accuracy."""
    rows = _runs(ctx, "AdamW")
    rows = _cell(ctx, "AdamW", max(r["lr"] for r in rows), max(r["wd"] for r in rows))
    return _generalized(rows), len(rows)


@claim("groks.rate-too-large", sources=PHASE)
def rate_too_large(ctx: BuildContext):
    """At AdamW's largest rate, runs without decay are confused and not every run with the
    largest decay generalizes, where at the next smaller rate every one does."""
    rows = _runs(ctx, "AdamW")
    lrs = sorted({r["lr"] for r in rows})
    top_wd = max(r["wd"] for r in rows)
    confused = all(r["phase"] == "confusion" for r in _cell(ctx, "AdamW", lrs[-1], 0.0))
    k, n = adam_top_big_decay(ctx)
    below = _cell(ctx, "AdamW", lrs[-2], top_wd)
    return confused and k < n and _generalized(below) == len(below), \
        f"no decay confused: {confused}; largest decay {k} of {n}, at lr {lrs[-2]:g} {_generalized(below)} of {len(below)}"


@claim("groks.rate-verdict", sources=PHASE)
def rate_verdict(ctx: BuildContext):
    """A larger rate helps both optimizers, and too large hurts AdamW."""
    parts = [adam_rate_helps(ctx), sgd_rate_helps(ctx), rate_too_large(ctx)]
    return all(h for h, _ in parts), "; ".join(m for _, m in parts)


# ---- the methods note ----
@fact("groks.embed-test-99", sources=(EMBED_RUN,))
def embed_test_99(ctx: BuildContext) -> int:
    """The first logged step at which the embedding run's test accuracy reaches 99%."""
    r = ring(ctx)
    i = int(np.argmax(r["test_acc"] >= 0.99))
    if r["test_acc"][i] < 0.99:
        raise ValueError("the embedding run never reaches 99% test accuracy")
    return int(r["metric_step"][i])


@fact("groks.embed-parts", sources=(EMBED_RUN, "mod-top"))
def embed_parts(ctx: BuildContext) -> int:
    """The first logged step at which the embedding run's training loss differs from the opening run's."""
    a, b = ctx.artifact(EMBED_RUN).arrays, ctx.artifact("mod-top").arrays
    same = np.asarray(a["train_loss"]) == np.asarray(b["train_loss"])
    return int(a["metric_step"][int(np.argmin(same))]) if not same.all() else -1


@claim("groks.embed-same-start", sources=(EMBED_RUN, "mod-top"))
def embed_same_start(ctx: BuildContext):
    """The embedding run and the opening run start from the same weights (the same first training
    loss) and part later."""
    a, b = ctx.artifact(EMBED_RUN).arrays, ctx.artifact("mod-top").arrays
    first = float(a["train_loss"][0]) == float(b["train_loss"][0])
    return first and embed_parts(ctx) > 0, f"first training losses {float(a['train_loss'][0])!r} and " \
                                           f"{float(b['train_loss'][0])!r}; they part at step {embed_parts(ctx):,}"


def _hours(value) -> str:
    hours, runs = value
    return f"{hours:.2f} h ({runs} runs)"


def _cpu_fact(name: str):
    def cpu(ctx: BuildContext) -> tuple:
        manifest = ctx.artifact(name).manifest
        shards = manifest["shards"].values()
        return sum(s["wall_time_s"] for s in shards) / 3600, sum(s["runs"] for s in shards)
    cpu.__doc__ = f"The training time of {name} (hours, from its manifest's shards) and its runs."
    cpu.__qualname__ = f"cpu[{name}]"  # loaders are memoized by name: one per experiment
    return fact(f"groks.cpu-{name}", _hours, sources=(name,))(cpu)


cpu_phase, cpu_sgd, cpu_fraction, cpu_init, cpu_init_small = (_cpu_fact(name) for name in (*PHASE, FRACTION, *reversed(INIT)))


@fact("groks.cpu-embed", "{:.0f} s", sources=(EMBED_RUN,))
def cpu_embed(ctx: BuildContext) -> float:
    """The embedding run's training time, seconds."""
    return float(ctx.artifact(EMBED_RUN).manifest["wall_time_s"])
