"""Section 3, "When does grokking happen?": 1,125 sparse-parity runs, each coloured by outcome.

Read from the sweep `sweep-sparse-parity` (content/_freeze/sweep-sparse-parity/shards/), which
only `make train NAME=sweep-sparse-parity` trains; the build shows the finished runs. The
outcome of every run is computed in the page from two sliders, with the same rule as
builder.analysis.outcomes; a cell's nine loss curves load on demand (data/<chart>/<cell>.js).
"""
from __future__ import annotations

import altair as alt
import numpy as np

from builder.analysis import outcomes
from builder.facts import claim, fact
from builder.figures import Figure, with_datasets, with_demand, with_params
from builder.figures._sweep import (CLASSIFY, axis_index, counts_legend, curves_panel, outcome_colour, run_curves,
                                    run_summary, threshold_params)
from builder.figures.context import BuildContext, loader

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


# -- facts and claims: what the prose says about the sweep (builder.facts) -------------------
HIGH_TRAIN, HIGH_TEST, TOGETHER, GROK = range(len(outcomes.CLASSES))


@loader
def classes(ctx: BuildContext) -> dict:
    """The finished runs' grid values and outcome codes at the default thresholds."""
    a = sweep(ctx).arrays
    done = np.asarray(a["done"], bool)
    return {"wd": np.asarray(a["weight_decay"])[done], "h": np.asarray(a["hidden"])[done],
            "n": np.asarray(a["train_size"])[done], "code": outcomes.classify_sweep(a)[done],
            "max_ratio": np.asarray(a["max_ratio"])[done]}


def _codes(ctx: BuildContext, wd=None, hidden=None, n=None) -> np.ndarray:
    """Outcome codes of the finished runs at these grid values (a value, a callable test, or
    None for all)."""
    c = classes(ctx)
    keep = np.ones(len(c["code"]), bool)
    for key, want in (("wd", wd), ("h", hidden), ("n", n)):
        if want is not None:
            keep &= want(c[key]) if callable(want) else np.isclose(c[key], want)
    return c["code"][keep]


def _count(ctx: BuildContext, code: int) -> int:
    return int((classes(ctx)["code"] == code).sum())


@fact("parity-sweep.runs", sources=(EXPERIMENT,))
def runs(ctx: BuildContext) -> int:
    """How many of the sweep's runs have finished (all of the grid, once trained)."""
    return len(classes(ctx)["code"])


@fact("parity-sweep.grok", sources=(EXPERIMENT,))
def grok(ctx: BuildContext) -> int:
    """Runs classed "grokking" at the default thresholds."""
    return _count(ctx, GROK)


@fact("parity-sweep.together", sources=(EXPERIMENT,))
def together(ctx: BuildContext) -> int:
    """Runs classed "train and test drop together"."""
    return _count(ctx, TOGETHER)


@fact("parity-sweep.memorize", sources=(EXPERIMENT,))
def memorize(ctx: BuildContext) -> int:
    """Runs classed "high test loss" (they memorize)."""
    return _count(ctx, HIGH_TEST)


@fact("parity-sweep.no-fit", sources=(EXPERIMENT,))
def no_fit(ctx: BuildContext) -> int:
    """Runs classed "high train loss" (they never fit)."""
    return _count(ctx, HIGH_TRAIN)


@claim("parity-sweep.grokking-most-common", sources=(EXPERIMENT,))
def grokking_most_common(ctx: BuildContext):
    """Grokking is the most common class, and not the only one."""
    counts = outcomes.counts(classes(ctx)["code"])
    return max(counts, key=counts.get) == "grokking" and counts["grokking"] < runs(ctx), str(counts)


def _cells(ctx: BuildContext) -> dict:
    """Grid cell (wd, hidden, n) -> the codes of its finished runs."""
    c = classes(ctx)
    cells: dict = {}
    for wd, h, n, code in zip(c["wd"], c["h"], c["n"], c["code"]):
        cells.setdefault((float(wd), int(h), int(n)), []).append(int(code))
    return cells


@fact("parity-sweep.cells", sources=(EXPERIMENT,))
def cells(ctx: BuildContext) -> int:
    """Grid cells (settings of weight decay, width and training size) with finished runs."""
    return len(_cells(ctx))


@fact("parity-sweep.unanimous", sources=(EXPERIMENT,))
def unanimous(ctx: BuildContext) -> int:
    """Cells whose seeds all land in the same class."""
    return sum(len(set(codes)) == 1 for codes in _cells(ctx).values())


@claim("parity-sweep.grid-over-seed", sources=(EXPERIMENT,))
def grid_over_seed(ctx: BuildContext):
    """Most cells are unanimous: the grid point decides the class more than the seed does."""
    return unanimous(ctx) > 0.6 * cells(ctx), f"{unanimous(ctx)} of {cells(ctx)} cells unanimous"


def _axis(ctx: BuildContext, key: str) -> list:
    return sorted(set(ctx.spec(EXPERIMENT)[key]))


def _share(codes: np.ndarray, code: int) -> float:
    if not len(codes):
        raise ValueError("no finished runs in that part of the grid")
    return float((codes == code).mean())


@claim("parity-sweep.heaviest-decay-small", sources=(EXPERIMENT,))
def heaviest_decay_small(ctx: BuildContext):
    """Under the heaviest decay, networks of up to 64 neurons almost never fit their strings."""
    codes = _codes(ctx, wd=_axis(ctx, "weight_decay")[-1], hidden=lambda h: h <= 64)
    share = _share(codes, HIGH_TRAIN)
    return share > 0.95, f"{share:.1%} of {len(codes)} runs never fit"


@claim("parity-sweep.heaviest-decay-wide", sources=(EXPERIMENT,))
def heaviest_decay_wide(ctx: BuildContext):
    """Under the heaviest decay, wider networks fit, but mostly memorize."""
    codes = _codes(ctx, wd=_axis(ctx, "weight_decay")[-1], hidden=lambda h: h > 64)
    share = _share(codes, HIGH_TEST)
    return share > 0.5 and not (codes == HIGH_TRAIN).any(), \
        f"{share:.0%} of {len(codes)} runs memorize, {(codes == HIGH_TRAIN).sum()} never fit"


@claim("parity-sweep.lightest-decay-memorizes", sources=(EXPERIMENT,))
def lightest_decay_memorizes(ctx: BuildContext):
    """Under the lightest decay, networks of 32 neurons or more memorize at almost every size."""
    codes = _codes(ctx, wd=_axis(ctx, "weight_decay")[0], hidden=lambda h: h >= 32)
    share = _share(codes, HIGH_TEST)
    return share > 0.9, f"{share:.1%} of {len(codes)} runs memorize"


@claim("parity-sweep.middle-decay-groks", sources=(EXPERIMENT,))
def middle_decay_groks(ctx: BuildContext):
    """At a decay of 0.1, every run with 64 or more neurons groks."""
    codes = _codes(ctx, wd=0.1, hidden=lambda h: h >= 64)
    return len(codes) > 0 and bool((codes == GROK).all()), f"{(codes == GROK).sum()} of {len(codes)} runs grok"


@claim("parity-sweep.more-strings-less-memorizing", sources=(EXPERIMENT,))
def more_strings(ctx: BuildContext):
    """In no (decay, width) column do more runs memorize with the most strings than with the
    fewest, and in several fewer do."""
    ns = _axis(ctx, "train_size")
    fewer = more = 0
    for wd in _axis(ctx, "weight_decay"):
        for h in _axis(ctx, "hidden"):
            low = int((_codes(ctx, wd=wd, hidden=h, n=ns[0]) == HIGH_TEST).sum())
            high = int((_codes(ctx, wd=wd, hidden=h, n=ns[-1]) == HIGH_TEST).sum())
            fewer, more = fewer + (high < low), more + (high > low)
    return more == 0 and fewer >= 3, f"columns with fewer memorizing at {ns[-1]:,} strings than at {ns[0]:,}: {fewer}; with more: {more}"


@claim("parity-sweep.width-needs-data", sources=(EXPERIMENT,))
def width_needs_data(ctx: BuildContext):
    """At a decay of 0.03, 16 neurons learn the rule from 1,000 strings on (no run memorizes or
    fails), while 128 neurons need 1,750 strings before every seed groks."""
    small = [_codes(ctx, wd=0.03, hidden=16, n=n) for n in (1000, 1250, 1500, 1750)]
    wide = {n: _codes(ctx, wd=0.03, hidden=128, n=n) for n in (1500, 1750)}
    holds = (all(len(c) and ((c == TOGETHER) | (c == GROK)).all() for c in small)
             and len(wide[1500]) and (wide[1500] != GROK).any() and len(wide[1750]) and (wide[1750] == GROK).all())
    return bool(holds), (f"16 neurons, 1,000-1,750 strings: {sum(((c == TOGETHER) | (c == GROK)).sum() for c in small)} of "
                         f"{sum(len(c) for c in small)} learn the rule; 128 neurons: {(wide[1500] == GROK).sum()} of "
                         f"{len(wide[1500])} grok at 1,500, {(wide[1750] == GROK).sum()} of {len(wide[1750])} at 1,750")


@claim("parity-sweep.small-strong-no-delay", sources=(EXPERIMENT,))
def small_strong_no_delay(ctx: BuildContext):
    """At a decay of 0.3, 16 neurons given 1,250 strings or more mostly learn with no delay."""
    codes = _codes(ctx, wd=0.3, hidden=16, n=lambda n: n >= 1250)
    share = _share(codes, TOGETHER)
    return share > 0.8, f"{share:.0%} of {len(codes)} runs: train and test drop together"


@claim("parity-sweep.test-trails-train", sources=(EXPERIMENT,))
def test_trails_train(ctx: BuildContext):
    """In every run the test loss is above the training loss at some logged step."""
    ratio = classes(ctx)["max_ratio"]
    return bool((ratio > 1).all()), f"smallest largest test/train ratio over {len(ratio)} runs: {ratio.min():.3g}"
