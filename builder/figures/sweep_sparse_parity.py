"""Section 3, "When does grokking happen?": 1,125 sparse-parity runs, each coloured by outcome.

Read from the sweep `sweep-sparse-parity` (content/_freeze/sweep-sparse-parity/shards/), which
only `make train NAME=sweep-sparse-parity` trains; the build shows the finished runs. The
outcome of every run is computed in the page from two sliders, with the same rule as
builder.analysis.outcomes; a cell's nine loss curves load on demand (data/<chart>/<cell>.js).
"""
from __future__ import annotations

import altair as alt
import numpy as np

from builder.figures import Figure, with_datasets, with_demand, with_params
from builder.figures._sweep import (CLASSIFY, axis_index, counts_legend, curves_panel, outcome_colour, run_curves,
                                    run_summary, threshold_params)
from builder.figures.context import BuildContext

EXPERIMENT = "sweep-sparse-parity"
SECTION = "sweep-sparse-parity"
# the curves panel: fixed, so cells compare at a glance (train losses reach ~1e-15)
CURVE_DOMAIN = (1e-15, 100)


def sweep(ctx: BuildContext):
    """The frozen sweep's finished runs (builder.freeze.load_sweep)."""
    return ctx.artifact(EXPERIMENT)


def cell_key(i: int, j: int, k: int) -> str:
    """The on-demand file of one grid cell (weight decay i, width j, training size k)."""
    return f"c{i}-{j}-{k}"


def grid_data(ctx: BuildContext) -> tuple[list[dict], dict[str, list[dict]]]:
    """One row per finished run (grid values, the three summaries, its cell), and per cell the
    nine runs' loss curves (the on-demand payloads)."""
    a = sweep(ctx).arrays
    wds, wi = axis_index(a["weight_decay"])
    hs, hi = axis_index(a["hidden"])
    ns, ni = axis_index(a["train_size"])
    rows, curves = [], {}
    for r in np.flatnonzero(np.asarray(a["done"], bool)):
        key = cell_key(wi[r], hi[r], ni[r])
        rows.append({"wd": float(wds[wi[r]]), "h": int(hs[hi[r]]), "n": int(ns[ni[r]]), "seed": int(a["seed"][r]),
                     **run_summary(a, r), "cell": key})
        curves.setdefault(key, []).extend(run_curves(a, r))
    return rows, curves


def grid_chart(ctx: BuildContext, narrow: bool = False):
    """narrow: the phone layout: the grids two a row, the legend above the curves."""
    rows, curves = grid_data(ctx)
    steps = np.asarray(sweep(ctx).arrays["curve_step"])
    demand = alt.param(name="demand", value="")
    classify, colour = CLASSIFY, outcome_colour()
    x = alt.X("h:O", title="hidden neurons", axis=alt.Axis(labelAngle=0), scale=alt.Scale(paddingInner=0.12))
    y = alt.Y("n:O", title="training strings", sort="descending", scale=alt.Scale(paddingInner=0.12))
    # one tile per cell behind its nine dots: the target to point at, outlined while its curves show
    tiles = alt.Chart().transform_aggregate(
        runs="count()", groupby=["wd", "h", "n", "cell"]
    ).mark_rect(cornerRadius=3, strokeWidth=1.5,  # full band: Vega-Lite would size it by the
                width=alt.expr("bandwidth(@tiles.x)"),  # dots' offset scale
                height=alt.expr("bandwidth(@tiles.y)")).encode(
        x=x, y=y,
        fill=alt.value("#888"), fillOpacity=alt.value(0.1),
        stroke=alt.condition("datum.cell === demand", alt.value("#333"), alt.value("transparent")),
        tooltip=[alt.Tooltip("wd:Q", title="weight decay"), alt.Tooltip("h:O", title="hidden"),
                 alt.Tooltip("n:O", title="training strings"), alt.Tooltip("runs:Q", title="runs")],
    ).properties(name="tiles")
    dots = alt.Chart().transform_calculate(
        outcome=classify, col="datum.seed % 3", row="floor(datum.seed / 3)"
    ).mark_circle(size=22, opacity=1).encode(
        x=x, xOffset=alt.XOffset("col:O", scale=alt.Scale(paddingOuter=0.3)),
        y=y, yOffset=alt.YOffset("row:O", scale=alt.Scale(paddingOuter=0.3)),
        color=colour,
        tooltip=[alt.Tooltip("wd:Q", title="weight decay"), alt.Tooltip("h:O", title="hidden"),
                 alt.Tooltip("n:O", title="train size"), alt.Tooltip("seed:O"), alt.Tooltip("outcome:N"),
                 alt.Tooltip("mtr:Q", title="min train loss", format=".2e"), alt.Tooltip("mte:Q", title="min test loss", format=".2e"),
                 alt.Tooltip("mr:Q", title="max test/train", format=".2e")],
    )
    header = alt.Header(labelFontSize=11)
    grids = alt.layer(tiles, dots, data=alt.NamedData("runs")).properties(width=116 if narrow else 130, height=116 if narrow else 130)
    grids = grids.facet(facet=alt.Facet("wd:O", title="weight decay", header=header), columns=2) if narrow else grids.facet(
        column=alt.Column("wd:O", title="weight decay", header=header))
    title = "'Outcomes at loss threshold ' + format(loss_thr, '.2~e') + ', ratio ' + format(ratio_thr, '.2~e')"
    if narrow:  # in two lines
        title = "['Outcomes at loss threshold ' + format(loss_thr, '.2~e') + ',', 'ratio ' + format(ratio_thr, '.2~e')]"
    legend = counts_legend("runs", title, **({"width": 240, "narrow": True} if narrow else {}))
    curves_view = curves_panel(steps, CURVE_DOMAIN, [1e-15, 1e-10, 1e-5, 1],
                               "demand ? 'The nine runs of the cell you pointed at' : 'Point at (or tap) a cell to see its nine runs'",
                               **({"width": 240} if narrow else {}))
    below = alt.vconcat(legend, curves_view, spacing=20) if narrow else alt.hconcat(legend, curves_view, spacing=30)
    chart = alt.vconcat(grids, below.resolve_scale(color="independent")).resolve_scale(color="independent")
    chart = with_params(chart, (*threshold_params(), demand))
    total = len(sweep(ctx).arrays["done"])
    if len(rows) < total:  # the sweep trains for hours in the background: say what is shown
        text = [f"{len(rows):,} of the {total:,} runs have finished training;", "the rest are not shown yet"]
        chart.title = alt.Title(text if narrow else " ".join(text),
                                anchor="start", fontSize=12, color="#b3261e")
    return with_demand(with_datasets(chart, {"runs": rows}), curves)


def figures(ctx: BuildContext) -> list[Figure]:
    return [
        Figure("sweep-sparse-parity-grid", SECTION,
               "Each dot is one of the sweep's runs, coloured by outcome; move the sliders to change the thresholds. "
               "Point at or tap a cell for its nine loss curves.",
               "Five small grids, one per weight decay, of hidden width by training set size; each cell holds nine dots, "
               "one per seed, coloured by whether the run failed to fit, memorized, generalized smoothly or grokked.",
               grid_chart, demand="cell", sources=(EXPERIMENT,), narrow=lambda ctx: grid_chart(ctx, narrow=True),
               columns=(("h", "hidden width (neurons)"), ("n", "training set size (strings)"))),
    ]
