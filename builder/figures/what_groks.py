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


def phase_counts(width: int):
    counts = alt.Chart(alt.NamedData("runs")).transform_calculate(phase=LIVE_PHASE).transform_aggregate(
        count="count()", groupby=["opt", "phase"]).transform_calculate(label="datum.count")
    y = alt.Y("phase:N", sort=list(grokking.PHASES), title=None)
    bars = counts.mark_bar().encode(y=y, x=alt.X("count:Q", title="runs"), color=phase_colour())
    text = counts.mark_text(align="left", dx=3).encode(y=y, x="count:Q", text="label:N")
    return alt.layer(bars, text).properties(width=width, height=90).facet(
        column=alt.Column("opt:N", title=None, sort=[o for o, _ in PHASE_SWEEPS],
                          header=alt.Header(labelFontWeight="bold", labelFontSize=12)))


def phase_chart(ctx: BuildContext, narrow: bool = False):
    rows, curves = phase_data(ctx)
    grids = [phase_grid(opt, narrow) for opt, _ in PHASE_SWEEPS]
    prompt = ("demand ? 'The seeds of the cell you pointed at' : 'Point at (or tap) a cell for its accuracy curves'")
    panel = accuracy_panel(max(budget(ctx, n) for _, n in PHASE_SWEEPS), prompt, width=215 if narrow else 280)
    counts = phase_counts(85 if narrow else 130)
    if narrow:
        view = alt.concat(*grids, counts, panel, columns=1, spacing=20).resolve_scale(color="independent", xOffset="independent")
    else:  # each grid's dots spread within its own bands (xOffset)
        view = alt.vconcat(alt.hconcat(*grids, spacing=30).resolve_scale(xOffset="independent"),
                           alt.hconcat(counts, panel, spacing=30), spacing=20).resolve_scale(color="independent")
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
    median = base.transform_filter("datum.te99 >= 0").transform_aggregate(
        shown="median(te99)", groupby=groupby).mark_line(color="#888", strokeWidth=1.5, point=alt.OverlayMarkDef(
            color="#888", size=16)).encode(x=x, y=y, detail=detail if detail else alt.Undefined)
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
COLUMNS = {
    "groks-ring": (("a", "the number 0-66 the embedding row belongs to"),
                   ("j", "the number's place 0-66 around the final ring (j-th number = j / k mod 67, k its frequency)"),
                   ("x", "coordinate on the embedding's own first principal component, scaled so the step's largest |coordinate| is 1"),
                   ("y", "coordinate on its own second principal component, same scaling"),
                   ("u", "coordinate on the final embedding's first principal component, scaled as x"),
                   ("v", "coordinate on the final embedding's second principal component, scaled as x"),
                   ("own", "ring score (0-1) in the embedding's own plane at that step"),
                   ("final", "ring score (0-1) in the final embedding's plane at that step")),
    "groks-phase": (*RUN_COLUMNS, ("cell", "the grid cell (as in data/groks-phase/<cell>.csv, its seeds' accuracy curves)"), ("opt", "the optimizer: AdamW or SGD (momentum 0.9)"),
                    ("demand.train", "train accuracy, fraction 0-1"), ("demand.test", "test accuracy, fraction 0-1")),
    "groks-fraction": (*RUN_COLUMNS, ("train_fraction", "the share of the 67² pairs used for training, fraction 0-1")),
    "groks-init": (*RUN_COLUMNS, ("init_scale", "the factor every initial weight was multiplied by")),
    "groks-lr": (*RUN_COLUMNS, ("opt", "the optimizer: AdamW or SGD (momentum 0.9)")),
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
               "point at a cell for its accuracy curves.",
               "Two grids of coloured dots, AdamW (6 learning rates by 6 weight decays) and SGD (5 by 3), with bar charts "
               "counting the runs of each phase.",
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
               "Three scatter plots: without weight decay, runs generalize only from small initial weights; with weight decay "
               "they generalize from every scale.",
               init_chart, sources=INIT, columns=COLUMNS["groks-init"], narrow=lambda ctx: init_chart(ctx, narrow=True)),
        Figure("groks-lr", SECTION,
               "The step at which each run first reached 99% test accuracy against its learning rate, for AdamW and SGD, "
               "coloured by weight decay; crosses above the dashed budget never got there.",
               "Two scatter plots on log scales, AdamW and SGD, with a median line per weight decay.",
               lr_chart, sources=phase_sources, columns=COLUMNS["groks-lr"], narrow=lambda ctx: lr_chart(ctx, narrow=True)),
    ]
