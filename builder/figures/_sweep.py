"""Pieces every sweep figure shares: the outcome classes, the two threshold sliders that
recolour runs live in the page (the same rule as builder.analysis.outcomes), and the panel of a
cell's loss curves loaded on demand."""
from __future__ import annotations

import math

import altair as alt
import numpy as np

from builder.analysis import outcomes
from builder.figures._common import TEST_COLOR, TRAIN_COLOR

CLASSES = outcomes.CLASSES
CLASS_COLORS = ("#bab0ac", "#e45756", "#4c78a8", "#f58518")
DEFAULT_LOSS, DEFAULT_RATIO = outcomes.LOSS_THRESHOLD, outcomes.RATIO_THRESHOLD
# a run's class from its row (mtr, mte, mr: min train loss, min test loss, max test/train ratio)
# at the sliders' thresholds: outcomes.RULES written as a Vega expression
CLASSIFY = outcomes.vega_expression(
    {"min_train_loss": "datum.mtr", "min_test_loss": "datum.mte", "max_ratio": "datum.mr"},
    {"loss": "loss_thr", "ratio": "ratio_thr"})


def f32(value) -> float:
    """The shortest decimal that reads back as the same float32: the page's numbers classify as
    the frozen ones do."""
    return float(str(np.float32(value)))


def axis_index(values) -> tuple[np.ndarray, np.ndarray]:
    """A grid axis's distinct values, and each run's index into them."""
    levels = np.unique(np.asarray(values))
    return levels, np.searchsorted(levels, np.asarray(values))


def run_summary(a, r: int) -> dict:
    """Run r's three summaries as the page classifies them (see f32)."""
    return {"mtr": f32(a["min_train_loss"][r]), "mte": f32(a["min_test_loss"][r]), "mr": f32(a["max_ratio"][r])}


def run_curves(a, r: int, accuracy: bool = False) -> list[dict]:
    """Run r's train and test loss curves (3 significant digits) as rows of an on-demand payload
    (curves_panel); `accuracy`: its accuracy curves instead (4 decimals: fractions 0-1)."""
    seed = int(a["seed"][r])
    kind, shown = ("acc_curve", lambda v: round(float(v), 4)) if accuracy else ("curve", lambda v: float(f"{v:.3g}"))
    return [{"seed": seed, "step": int(s), "train": shown(tr), "test": shown(te)}
            for s, tr, te in zip(np.asarray(a["curve_step"]), a[f"train_{kind}"][r], a[f"test_{kind}"][r])]


def threshold_params(loss: float = DEFAULT_LOSS, ratio: float = DEFAULT_RATIO) -> list:
    """The sliders move exponents; the thresholds are those powers of ten rounded to two
    significant digits (10^4.7 -> 50,000), so the defaults are exactly 1e-5 and 5e4, as in
    builder.analysis.outcomes, and titles show the numbers the colours use."""
    loss_exp = alt.param(name="loss_exp", value=round(math.log10(loss), 2), bind=alt.binding_range(
        min=-9, max=-1, step=0.05, name="loss threshold (log₁₀)"))
    ratio_exp = alt.param(name="ratio_exp", value=round(math.log10(ratio), 2), bind=alt.binding_range(
        min=0, max=8, step=0.05, name="test/train ratio threshold (log₁₀)"))
    loss_thr = alt.param(name="loss_thr", expr="toNumber(format(pow(10, loss_exp), '.2r'))")
    ratio_thr = alt.param(name="ratio_thr", expr="toNumber(format(pow(10, ratio_exp), '.2r'))")
    return [loss_exp, ratio_exp, loss_thr, ratio_thr]


def outcome_colour(legend: alt.Legend | None = None) -> alt.Color:
    return alt.Color("outcome:N", title=None, scale=alt.Scale(domain=list(CLASSES), range=list(CLASS_COLORS)), legend=legend)


def demand_panel(last_step: int, y: alt.Y, level, title_expr: str, *, width: int, height: int, what: str = "loss"):
    """The train and test curves (`what`: the fold's value field and the legend's word) of the
    runs in the on-demand "demand" table, one line per seed, with a dashed rule at `level` (a
    number, or a Vega expression as a string)."""
    lines = alt.Chart(alt.NamedData("demand")).transform_fold(["train", "test"], as_=["split", what]).mark_line(
        strokeWidth=1, opacity=0.8
    ).encode(
        x=alt.X("step:Q", title="Training step", scale=alt.Scale(domain=[0, int(last_step)]),
                axis=alt.Axis(format="~s", tickCount=4)),
        y=y,
        color=alt.Color("split:N", title=None, scale=alt.Scale(domain=["train", "test"], range=[TRAIN_COLOR, TEST_COLOR]),
                        legend=alt.Legend(orient="bottom-right", labelExpr=f"datum.label + ' {what}'")),
        detail="seed:N",
    )
    rule = alt.Chart(alt.Data(values=[{}])).transform_calculate(t=str(level)).mark_rule(
        strokeDash=[3, 3], color="#888").encode(y="t:Q")
    return alt.layer(lines, rule).properties(
        width=width, height=height, title=alt.Title(alt.expr(title_expr), anchor="start", fontSize=12))


def curves_panel(steps: np.ndarray, domain: tuple, ticks: list, title_expr: str, width: int = 300, height: int = 160):
    """The train and test loss curves of the runs in the on-demand "demand" table (one line per
    seed), with the loss threshold as a dashed rule."""
    y = alt.Y("loss:Q", title="loss (log)", scale=alt.Scale(type="log", domain=list(domain), clamp=True),
              axis=alt.Axis(format=".0e", values=ticks))
    return demand_panel(int(steps[-1]), y, "loss_thr", title_expr, width=width, height=height)


def counts_legend(data: str, title_expr: str, *, where: str | None = None, width: int = 220, narrow: bool = False):
    """Bars of how many runs of the table `data` (those passing the Vega filter `where`) fall in
    each outcome class at the current thresholds, labelled with their counts: the figure's legend.
    narrow: each label above its bar, not after it (a long bar then never widens the chart)."""
    counts = alt.Chart(alt.NamedData(data))
    if where:
        counts = counts.transform_filter(where)
    counts = counts.transform_calculate(outcome=CLASSIFY).transform_aggregate(
        count="count()", groupby=["outcome"]
    ).transform_calculate(label="datum.outcome + ': ' + datum.count")
    y = alt.Y("outcome:N", sort=list(CLASSES), title=None, axis=None)
    if narrow:
        return alt.layer(
            counts.mark_bar(height={"band": 0.4}).encode(y=y, yOffset=alt.value(5), x=alt.X("count:Q", title="runs"),
                                                        color=outcome_colour()),
            counts.mark_text(align="left", baseline="top").encode(
                y=alt.Y("outcome:N", sort=list(CLASSES), bandPosition=0, axis=None), x=alt.value(0), text="label:N"),
        ).properties(width=width, height=120, title=alt.Title(alt.expr(title_expr), anchor="start", fontSize=12))
    return alt.layer(
        counts.mark_bar().encode(y=y, x=alt.X("count:Q", title="runs"), color=outcome_colour()),
        counts.mark_text(align="left", dx=4).encode(y=y, x="count:Q", text="label:N"),
    ).properties(width=width, height=90, title=alt.Title(alt.expr(title_expr), anchor="start", fontSize=12))
