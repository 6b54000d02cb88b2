"""Section 5, "It's full of stars" (mod-bot): the opening model taken apart in the Fourier basis.

Read from the frozen run `mod-top` (the same run as section 1, on its own scrubber): the Fourier
coefficients of every neuron's input and output weights, the "stars" each frequency group
draws, and the logits each group produces for the reader's a and b, computed in the page from
the weights at the chosen step.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import altair as alt
import numpy as np

from builder.analysis import fourier
from builder.figures import Animation, Figure, Section, with_datasets, with_vega_data
from builder.figures import mod_top
from builder.figures._common import (CODES, LEVELS, TEST_COLOR, TRAIN_COLOR, checkpoint_steps, heatmap, heatmap_params,
                                     loss_curves, packed, vmax_of)

SECTION = "mod-bot"
SIDES = ("w_in", "w_out")
SIDE_NAMES = {"w_in": "input weights", "w_out": "output weights"}


@lru_cache(maxsize=4)
def run(root: Path) -> dict:
    """The opening run (neurons in (frequency, phase) order) with its key-frequency groups."""
    r = mod_top.run(root)
    groups = fourier.key_frequencies(r["w_in"][-1])
    group_of = np.full(r["hidden"], -1)
    for k, neurons in groups.items():
        group_of[neurons] = k
    return {**r, "groups": groups, "group_of": group_of}


def sections(root: Path) -> list[Section]:
    steps = checkpoint_steps(mod_top._spec(root))
    return [Section(SECTION, steps, steps[-1])]


# The stretch the "play generalization" link plays, in steps of the frozen run: test loss from
# 0.56 (step 20,000, still memorizing) to 1.9e-6 (step 30,000); tests/test_mod_bot.py checks it.
GENERALIZE = (20_000, 30_000)


def animations(root: Path) -> list[Animation]:
    return [Animation("mod-bot-generalize", SECTION, *GENERALIZE, 6.0)]


def _step_param(root: Path):
    return alt.param(name="step", value=sections(root)[0].initial)


def loss_chart(root: Path):
    return loss_curves(run(root), initial=sections(root)[0].initial, title="Train and test loss (log scale)", height=170)


def _fourier_axis(p: int) -> alt.Axis:
    ticks = [0] + [2 * k - 1 for k in range(5, fourier.n_frequencies(p) + 1, 5)]
    return alt.Axis(values=ticks, labelAngle=0,
                    labelExpr="datum.value == 0 ? 'const' : 'k ' + ceil(datum.value / 2)")


def dft_chart(root: Path):
    """Each neuron's weights in the Fourier basis, scrubbed, on one fixed colour range per matrix."""
    r = run(root)
    coefficients = {side: fourier.project(r[side]) for side in SIDES}  # (checkpoints, p rows, neurons)
    panels = [heatmap(f"dft_{side}", coefficients[side], r["step"],
                      f"Fourier coefficients of the {SIDE_NAMES[side]} (columns: const, then cos k and sin k)",
                      x_title="frequency k", x_axis=_fourier_axis(r["p"]), tooltip=False)
              for side in SIDES]
    chart = alt.vconcat(*panels, spacing=14).add_params(_step_param(root), alt.param(name="neuron", value=-1),
                                                        *heatmap_params())
    return with_vega_data(chart, {f"dft_{side}": packed(coefficients[side], r["step"], vmax_of(coefficients[side]))
                                  for side in SIDES})


def star_rows(r: dict) -> list[dict]:
    """Per checkpoint, side and key frequency k: each of the group's neurons as the point
    (cos k, sin k coefficient), ranked by angle at that checkpoint, and the first one again
    (rank = group size) to close the star."""
    rows = []
    for side in SIDES:
        cos, sin = fourier.cos_sin(r[side])  # (checkpoints, K, neurons)
        for k, neurons in r["groups"].items():
            x, y = cos[:, k - 1, neurons], sin[:, k - 1, neurons]
            rank = np.argsort(np.argsort(np.arctan2(y, x), axis=1), axis=1)
            for s in range(len(r["step"])):
                for j, n in enumerate(neurons):
                    row = {"s": s, "side": SIDE_NAMES[side], "k": k, "n": int(n),
                           "x": round(float(x[s, j]), 2), "y": round(float(y[s, j]), 2)}
                    rows.append({**row, "o": int(rank[s, j])})
                    if rank[s, j] == 0:
                        rows.append({**row, "o": len(neurons)})
    return rows


def stars_chart(root: Path):
    r = run(root)
    rows = star_rows(r)
    reach = 1.1 * max(max(abs(row["x"]), abs(row["y"])) for row in rows)
    every = int(r["step"][1] - r["step"][0])
    scale = alt.Scale(domain=[-reach, reach], nice=False)
    enc = dict(x=alt.X("x:Q", title="cos coefficient", scale=scale, axis=alt.Axis(tickCount=3)),
               y=alt.Y("y:Q", title="sin coefficient", scale=scale, axis=alt.Axis(tickCount=3)))
    lines = alt.Chart().mark_line(color="#888", strokeWidth=1).encode(order="o:Q", **enc)
    highlight = "neuron < 0 || datum.n == neuron"
    dots = alt.Chart().transform_filter(f"datum.o < {max(len(v) for v in r['groups'].values()) + 1}").transform_calculate(
        n1="datum.n + 1").mark_circle(size=40).encode(
        color=alt.condition(highlight, alt.value(TRAIN_COLOR), alt.value("#bbb")),
        tooltip=[alt.Tooltip("n1:O", title="neuron"), alt.Tooltip("k:O", title="frequency")], **enc)
    chart = alt.layer(lines, dots, data=alt.NamedData("stars")).transform_filter(
        f"datum.s == clamp(round(step / {every}), 0, {len(r['step']) - 1})"
    ).properties(width=120, height=120).facet(
        column=alt.Column("k:O", title="key frequency k"), row=alt.Row("side:N", title=None, sort=list(SIDE_NAMES.values()))
    ).add_params(_step_param(root), alt.param(name="neuron", value=-1))
    return with_datasets(chart, {"stars": rows})


def logits_chart(root: Path):
    """For the reader's a and b: the p logits that each key-frequency group alone produces at the
    chosen step, sum_n ReLU(W_input[a, n] + W_input[b, n]) W_output[c, n] over the group's n,
    and their sum over all neurons. Computed in the page from the packed weights of that step
    (the heatmaps' tables: 91 levels per matrix), no table of every a, b and step."""
    r = run(root)
    p, hidden, steps = r["p"], r["hidden"], r["step"]
    every = int(steps[1] - steps[0])
    at = f"clamp(round(step / {every}), 0, {len(steps) - 1})"
    scales = {side: vmax_of(r[side]) for side in SIDES}

    def weight(side: str, token: str) -> str:
        row = f"data('logit_{side}')[{at}].w"
        index = f"datum.n * {p} + {token}"
        return f"(indexof(codes, substring({row}, {index}, {index} + 1)) - {LEVELS}) * {scales[side] / LEVELS:.6g}"

    labels = [f"frequency {k}" if k > 0 else "no clear frequency" for k in r["group_of"]]
    terms = alt.Chart(alt.sequence(0, p * hidden, as_="i")).transform_calculate(
        c=f"floor(datum.i / {hidden})", n=f"datum.i % {hidden}"
    ).transform_calculate(
        group="groups[datum.n]", k="freqs[datum.n]",
        term=f"max({weight('w_in', 'a')} + {weight('w_in', 'b')}, 0) * {weight('w_out', 'datum.c')}",
    )
    answer = f"(a + b) % {p}"
    colour = alt.condition(f"datum.c == {answer}", alt.value(TEST_COLOR), alt.value("#9db4cc"))
    x = alt.X("c:O", title="answer c", axis=alt.Axis(values=list(range(0, p, 11)), labelAngle=0))
    # unwrapped, a group of frequency k is drawn at k (c - answer) mod p, centred on the answer:
    # its zigzag becomes one cosine with the right answer at the peak (as in section 1's waves)
    half = p // 2
    per_group = terms.transform_aggregate(logit="sum(term)", groupby=["c", "group", "k"]).transform_calculate(
        pos=f"unwrap && datum.k > 0 ? (((datum.k * (datum.c - {answer})) % {p} + {p} + {half}) % {p}) - {half} : datum.c"
    ).mark_bar(width=2).encode(
        x=alt.X("pos:Q", title="answer c", axis=alt.Axis(tickCount=5),
                scale=alt.Scale(domain=[alt.ExprRef(f"unwrap ? -{half} - 1 : -1"), alt.ExprRef(f"unwrap ? {half + 1} : {p}")], nice=False)),
        y=alt.Y("logit:Q", title="logit"), color=colour,
        tooltip=[alt.Tooltip("c:O", title="answer"), alt.Tooltip("logit:Q", format=".2f")],
    ).properties(width=200, height=90).facet(
        column=alt.Column("group:N", title=None, sort=sorted(set(labels), key=lambda g: (g.startswith("no"), g))))
    total = terms.transform_aggregate(logit="sum(term)", groupby=["c"]).mark_bar().encode(
        x=x, y=alt.Y("logit:Q", title="logit"), color=colour,
        tooltip=[alt.Tooltip("c:O", title="answer"), alt.Tooltip("logit:Q", format=".2f")],
    ).properties(width=640, height=110, title=alt.Title(
        alt.expr(f"'All neurons together: a + b = ' + a + ' + ' + b + ' = ' + {answer} + ' (mod {p})'"), anchor="start", fontSize=12))
    chart = alt.vconcat(per_group, total, spacing=16)
    chart.params = [p_.param for p_ in (
        _step_param(root),
        alt.param(name="a", value=10, bind=alt.binding_range(min=0, max=p - 1, step=1, name="a ")),
        alt.param(name="b", value=30, bind=alt.binding_range(min=0, max=p - 1, step=1, name="b ")),
        alt.param(name="unwrap", value=False, bind=alt.binding_checkbox(
            name="Unwrap each group's answers (k·(c − answer) mod 67), turning its zigzag into one cosine ")),
        alt.param(name="groups", value=labels), alt.param(name="freqs", value=[int(k) for k in r["group_of"]]),
        alt.param(name="codes", value=CODES))]
    return with_vega_data(chart, {f"logit_{side}": packed(r[side], steps, scales[side]) for side in SIDES})


def figures() -> list[Figure]:
    src = (mod_top.EXPERIMENT,)
    return [
        Figure("mod-bot-loss", SECTION,
               "Train and test loss of the opening model. Move the pointer or use the arrow keys to pick a step for the charts below.",
               "Line chart of train and test loss on a log scale: the train loss falls at once, the test loss only after about 25,000 steps.",
               loss_chart, scrub=True, sources=src),
        Figure("mod-bot-dft", SECTION,
               "Every neuron's weights written as a sum of waves: one column per wave, one row per neuron (orange positive, blue negative).",
               "Two heatmaps of Fourier coefficients, 67 columns by 24 neurons, for the input and output weights; noisy at first, then nonzero only in a few columns.",
               dft_chart, hover="n", sources=src),
        Figure("mod-bot-stars", SECTION,
               "For each key frequency, its neurons as points (their cos and sin coefficients), joined in order of angle.",
               "Small scatter plots, one per key frequency, for input and output weights: the points of each group spread into an evenly spaced ring.",
               stars_chart, hover="n", sources=src),
        Figure("mod-bot-logits", SECTION,
               "Pick a and b: the logits that each frequency group produces on its own at the chosen step, and all groups together; the red bar is the right answer.",
               "Bar charts of 67 logits per frequency group and in total; each group draws a cosine wave that peaks at a + b mod 67.",
               logits_chart, sources=src),
    ]
