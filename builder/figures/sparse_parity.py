"""Section 2, "A simpler task: sparse parity": one L1-regularized network memorizes, then keeps
only the three inputs that matter. Read from the frozen runs `sparse-parity` (L1, featured) and
`sparse-parity-l2` (the footnote's comparison), trained from content/experiments.toml."""
from __future__ import annotations

import altair as alt
import numpy as np

from builder.figures import Animation, Figure, Section, with_datasets, with_vega_data
from builder.figures._common import (CODES, STEP_RULE, LEVELS, TEST_COLOR, accuracy_curves, checkpoint_steps, heatmap, heatmap_params,
                                     loss_curves, packed, raster, raster_layer, step_rule, vmax_of)
from builder.figures.context import BuildContext, loader

EXPERIMENT, L2_EXPERIMENT = "sparse-parity", "sparse-parity-l2"
SECTION = "sparse-parity"
USEFUL = 3  # the label is the parity of the first three bits
BIAS_COLOR = "#54a24b"
# The two phases the animate links play, in steps of the frozen featured run; a test
# (tests/test_frozen_sparse_parity.py) checks that they bracket memorization and generalization.
MEMORIZE = (0, 800)
GENERALIZE = (800, 2_400)


@loader
def run(ctx: BuildContext, name: str = EXPERIMENT) -> dict:
    """A frozen parity run, neurons sorted by the weight they put on the three useful bits."""
    a = ctx.artifact(name).arrays
    w_in = np.asarray(a["w_in"], np.float64)  # (checkpoints, 31 inputs, hidden)
    w_out = np.asarray(a["w_out"], np.float64)  # (checkpoints, hidden)
    order = np.argsort(-np.abs(w_in[-1, :USEFUL, :]).sum(axis=0), kind="stable")
    return {
        "metric_step": np.asarray(a["metric_step"]), "step": np.asarray(a["checkpoint_step"]),
        **{k: np.asarray(a[k], np.float64) for k in ("train_acc", "test_acc", "train_loss", "test_loss")},
        "w_in": w_in[:, :, order], "w_out": w_out[:, None, order],
    }


def _steps(ctx: BuildContext) -> tuple:
    spec = ctx.spec(EXPERIMENT)
    return checkpoint_steps(spec)


def sections(ctx: BuildContext) -> list[Section]:
    steps = _steps(ctx)
    return [Section(SECTION, steps, steps[0])]


def animations(ctx: BuildContext) -> list[Animation]:
    return [Animation("sparse-parity-memorize", SECTION, *MEMORIZE, 3.0),
            Animation("sparse-parity-generalize", SECTION, *GENERALIZE, 5.0)]


def accuracy_chart(ctx: BuildContext):
    return accuracy_curves(run(ctx), initial=sections(ctx)[0].initial, title="Accuracy, parity of the first 3 of 30 bits",
                           fit_level=0.99, fit="fits the training batch", rule="finds the rule",
                           low=0.45, height=180)


def loss_chart(ctx: BuildContext):
    return loss_curves(run(ctx), initial=sections(ctx)[0].initial, title="Loss", height=180)


def _input_axis(n_inputs: int) -> alt.Axis:
    bias = n_inputs - 1
    return alt.Axis(values=[0, 1, 2, 9, 19, bias], labelAngle=0,
                    labelExpr=f"datum.value == {bias} ? 'Bias' : datum.value + 1")


def weights_chart(ctx: BuildContext, narrow: bool = False):
    """narrow: the phone layout (narrower cells)."""
    r = run(ctx)
    n_inputs = r["w_in"].shape[1]
    inputs = heatmap("w_in", r["w_in"], r["step"], "Weights from each input",
                     x_title="input bit", x_axis=_input_axis(n_inputs), cell=(6 if narrow else 8, 3), tooltip=False)
    output = heatmap("w_out", r["w_out"], r["step"], "Output",
                     x_title="", x_axis=alt.Axis(labels=False, ticks=False), y_title="", cell=(10 if narrow else 12, 3),
                     tooltip_x="output")
    chart = alt.hconcat(inputs, output, spacing=8).add_params(
        alt.param(name="step", value=sections(ctx)[0].initial), alt.param(name="neuron", value=-1), *heatmap_params())
    return with_vega_data(chart, {k: packed(r[k], r["step"], vmax_of(r[k]), {"w_in": "bit", "w_out": "output"}[k]) for k in ("w_in", "w_out")})


def trajectories_chart(ctx: BuildContext, narrow: bool = False):
    """Every first-layer weight over all checkpoints, with a rule at the section's step.

    The ~4,000 lines never change, so they are drawn once at build time into an image (a Vega
    view of them took 7.5 s and 229 MB to embed, and ~200 ms to redraw a frame); the live chart
    is that image, its axes, the step rule and the pointer that scrubs. narrow: the phone
    layout (the title in lines)."""
    r = run(ctx)
    w, steps = r["w_in"], r["step"]  # (checkpoints, inputs, hidden)
    vmax = float(np.abs(w).max())
    q = np.clip(np.round(w / vmax * LEVELS), -LEVELS, LEVELS).astype(int) + LEVELS
    table = np.array(list(CODES))
    n_inputs = w.shape[1]
    rows = []  # one packed row per weight: a character per checkpoint
    for i in range(n_inputs):
        group = "useful bit" if i < USEFUL else "bias" if i == n_inputs - 1 else "distractor bit"
        for n in range(w.shape[2]):
            rows.append({"id": f"{i}-{n}", "g": group, "c": "".join(table[q[:, i, n]])})
    every = int(steps[1] - steps[0])
    height = 220
    x = alt.X("step:Q", title="Training step", scale=alt.Scale(domain=[int(steps[0]), int(steps[-1])], nice=False),
              axis=alt.Axis(format="~s", tickCount=5))
    y = alt.Y("v:Q", title="weight", scale=alt.Scale(domain=[-vmax, vmax], nice=False))
    base = alt.Chart(alt.NamedData("trajectories")).transform_calculate(
        s=f"sequence(0, {len(steps)})"
    ).transform_flatten(["s"]).transform_calculate(
        step=f"{int(steps[0])} + datum.s * {every}",
        v=f"(indexof(codes, substring(datum.c, datum.s, datum.s + 1)) - {LEVELS}) * {vmax / LEVELS:.6g}",
    )
    lines = alt.layer(*[
        base.transform_filter(f"datum.g == '{g}'").mark_line(strokeWidth=width, opacity=opacity, color=color).encode(
            x=x.axis(None), y=y.axis(None), detail="id:N")
        for g, color, width, opacity in (("distractor bit", "#8c8c8c", 0.5, 0.12), ("useful bit", TEST_COLOR, 1.0, 0.6),
                                         ("bias", BIAS_COLOR, 1.0, 0.6))
    ]).add_params(alt.param(name="codes", value=CODES)).properties(width=1000, height=height)
    frame = alt.Chart(alt.Data(values=[{"step": int(steps[0]), "v": -vmax}, {"step": int(steps[-1]), "v": vmax}])
                      ).mark_point(opacity=0).encode(x=x, y=y)
    chart = alt.layer(raster_layer(raster(with_datasets(lines, {"trajectories": rows}), scale=1.0), height), frame, *step_rule()).add_params(
        alt.param(name="step", value=sections(ctx)[0].initial)
    ).properties(width="container", height=height, title=alt.Title(
        ["Every first-layer weight over training:", "useful bits (red), bias (green),", "distractors (grey)"] if narrow else
        "Every first-layer weight over training: useful bits (red), bias (green), distractors (grey)", anchor="start"))
    return chart


def l1_l2_chart(ctx: BuildContext, narrow: bool = False):
    """The footnote's picture: final first-layer weights with L1 (featured) and with L2, on one
    colour range; narrow: the phone layout, one above the other."""
    finals = {name: run(ctx, name) for name in (EXPERIMENT, L2_EXPERIMENT)}
    vmax = max(vmax_of(r["w_in"][-1:]) for r in finals.values())
    panels, tables = [], {}
    for (name, r), title in zip(finals.items(), ("L1 penalty", "L2 weight decay")):
        key, last = name.replace("-", "_"), r["w_in"][-1:]
        panels.append(heatmap(key, last, r["step"][-1:], title, x_title="input bit", x_axis=_input_axis(last.shape[1]),
                              cell=(7, 2 if narrow else 3), tooltip_x="input", vmax=vmax))
        tables[key] = packed(last, r["step"][-1:], vmax, "bit")
    chart = (alt.vconcat(*panels, spacing=12) if narrow else alt.hconcat(*panels, spacing=16)).add_params(
        alt.param(name="step", value=0), alt.param(name="neuron", value=-1), *heatmap_params())
    return with_vega_data(chart, tables)


def figures(ctx: BuildContext) -> list[Figure]:
    src = (EXPERIMENT,)
    return [
        Figure("sparse-parity-accuracy", SECTION,
               "Accuracy on the 1,200 training strings and on fresh strings. Move the pointer or use the arrow keys to pick a step.",
               "Line chart of train and test accuracy: train accuracy reaches about 100% while test accuracy stays near 50%, then test accuracy jumps to about 100%.",
               accuracy_chart, scrub=STEP_RULE, sources=src),
        Figure("sparse-parity-loss", SECTION,
               "Train and test loss on a log scale. The training loss rises a little just before the test loss collapses.",
               "Line chart of train and test loss on a log scale over training.",
               loss_chart, scrub=STEP_RULE, sources=src),
        Figure("sparse-parity-weights", SECTION,
               "Every weight of the network at the chosen step (orange positive, blue negative): 31 inputs into each neuron, and each neuron's output weight.",
               "Heatmap of the first-layer weights (31 inputs by the hidden neurons) and the output weights, dense and noisy while memorizing, then zero except for the first three inputs and the bias.",
               weights_chart, hover="n", sources=src, narrow=lambda ctx: weights_chart(ctx, narrow=True)),
        Figure("sparse-parity-trajectories", SECTION,
               "Each line is one first-layer weight over training. Move the pointer along it to scrub the charts above.",
               "Line chart of every first-layer weight over training; the weights on the three useful bits grow while the distractors shrink to zero.",
               trajectories_chart, scrub=STEP_RULE, sources=src, narrow=lambda ctx: trajectories_chart(ctx, narrow=True),
               columns=(("v", "the y axis's range: the largest first-layer weight magnitude, dimensionless (the lines "
                              "themselves are drawn as an image: sparse-parity-weights.csv holds every first-layer weight "
                              "at every checkpoint)"),)),
        Figure("sparse-parity-l1-l2", "sparse-parity-footnote",
               "Final first-layer weights with an L1 penalty (left) and with L2 weight decay (right).",
               "Two heatmaps of final first-layer weights: with L1 only a few neurons use the three useful bits; with L2 the weight is spread across many neurons.",
               l1_l2_chart, sources=(EXPERIMENT, L2_EXPERIMENT), narrow=lambda ctx: l1_l2_chart(ctx, narrow=True)),
    ]
