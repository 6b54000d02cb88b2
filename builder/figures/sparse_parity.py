"""Section 2, "A simpler task: sparse parity": one L1-regularized network memorizes, then keeps
only the three inputs that matter. Read from the frozen runs `sparse-parity` (L1, featured) and
`sparse-parity-l2` (the footnote's comparison), trained from content/experiments.toml."""
from __future__ import annotations

import altair as alt
import numpy as np

from builder.facts import claim, fact, percent, rounded
from builder.figures import Animation, Figure, Section, with_datasets, with_vega_data
from builder.figures._common import (CODES, STEP_RULE, LEVELS, TEST_COLOR, accuracy_curves, checkpoint_steps, first_step,
                                     heatmap, heatmap_params, loss_curves, packed, raster, raster_layer, step_rule, vmax_of)
from builder.figures.context import BuildContext, loader
from builder.training import tasks

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
               "Train and test loss on a log scale. The training loss rises a little while the test loss collapses.",
               "Line chart of train and test loss on a log scale over training.",
               loss_chart, scrub=STEP_RULE, sources=src),
        Figure("sparse-parity-weights", SECTION,
               "Every weight of the network at the chosen step (orange positive, blue negative): 31 inputs into each neuron, and each neuron's output weight.",
               "Heatmap of the first-layer weights (31 inputs by the hidden neurons) and the output weights, dense and noisy while memorizing, then zero except for the first three inputs and the bias.",
               weights_chart, hover="n", sources=src, narrow=lambda ctx: weights_chart(ctx, narrow=True)),
        Figure("sparse-parity-trajectories", SECTION,
               "Each line is one first-layer weight over training. Move the pointer along it to scrub the charts above.",
               "Line chart of every first-layer weight over training: all of them grow at first, then the distractor weights shrink "
               "to zero while the weights on the three useful bits stay large.",
               trajectories_chart, scrub=STEP_RULE, sources=src, narrow=lambda ctx: trajectories_chart(ctx, narrow=True),
               columns=(("v", "the y axis's range: the largest first-layer weight magnitude, dimensionless (the lines "
                              "themselves are drawn as an image: sparse-parity-weights.csv holds every first-layer weight "
                              "at every checkpoint)"),)),
        Figure("sparse-parity-l1-l2", "sparse-parity-footnote",
               "Final first-layer weights with an L1 penalty (left) and with L2 weight decay (right).",
               "Two heatmaps of final first-layer weights: with L1 only a few neurons use the three useful bits; with L2 the weight is spread across many neurons.",
               l1_l2_chart, sources=(EXPERIMENT, L2_EXPERIMENT), narrow=lambda ctx: l1_l2_chart(ctx, narrow=True)),
    ]


# -- facts and claims: what the prose says about these runs (builder.facts) -----------------
USED = 0.1  # a neuron "uses" a useful bit when its weight on it is above this (the footnote's count)
GONE = 0.01  # the distractors have "faded" when they hold under 1% of the weight on the 30 bits


def _step(ctx: BuildContext, key: str, level: float, name: str = EXPERIMENT) -> int:
    r = run(ctx, name)
    step = first_step(r["metric_step"], r[key], level)
    if step is None:
        raise ValueError(f"run {name}: {key} never reaches {level}")
    return step


def _at(ctx: BuildContext, key: str, step: int) -> float:
    r = run(ctx)
    return float(r[key][int(np.argmin(abs(r["metric_step"] - step)))])


def _checkpoint(ctx: BuildContext, step: int) -> int:
    """The index of the checkpoint nearest `step`."""
    return int(np.argmin(abs(run(ctx)["step"] - step)))


def _distractor_share(w_in: np.ndarray) -> np.ndarray:
    """The share of the first-layer weight on the 30 bits (bias left out) that sits on the 27
    distractors, per checkpoint: w_in (..., inputs, hidden), bias last."""
    w = np.abs(w_in[..., :-1, :])
    return w[..., USEFUL:, :].sum(axis=(-2, -1)) / w.sum(axis=(-2, -1))


def _neurons_using(w_in: np.ndarray) -> int:
    """Neurons with a weight above USED on one of the three useful bits (final weights)."""
    return int((np.abs(w_in[:USEFUL]).max(axis=0) > USED).sum())


@fact("parity.memorized", sources=(EXPERIMENT,))
def memorized(ctx: BuildContext) -> int:
    """The first logged step at which the featured run classifies 99% of its training strings."""
    return _step(ctx, "train_acc", 0.99)


@fact("parity.test-at-memorized", percent(0), sources=(EXPERIMENT,))
def test_at_memorized(ctx: BuildContext) -> float:
    """Test accuracy at that step."""
    return _at(ctx, "test_acc", memorized(ctx))


@claim("parity.memorizes-near-chance", sources=(EXPERIMENT,))
def memorizes_near_chance(ctx: BuildContext):
    """When the training strings are fitted, test accuracy is little better than a coin."""
    acc = test_at_memorized(ctx)
    return acc <= 0.6, f"test accuracy {acc:.1%} at step {memorized(ctx):,} (a coin: 50%)"


@fact("parity.share-at-memorized", percent(0), sources=(EXPERIMENT,))
def share_at_memorized(ctx: BuildContext) -> float:
    """The distractors' share of the first-layer weight on the 30 bits at that step."""
    return float(_distractor_share(run(ctx)["w_in"])[_checkpoint(ctx, memorized(ctx))])


@claim("parity.dense-while-memorizing", sources=(EXPERIMENT,))
def dense_while_memorizing(ctx: BuildContext):
    """At memorization the distractors carry nearly their share by count (27 of 30) of the weight
    on the bits, and most weights are in use: no bit is preferred."""
    w = np.abs(run(ctx)["w_in"][_checkpoint(ctx, memorized(ctx))])
    used = float((w > 0.05 * w.max()).mean())
    share = share_at_memorized(ctx)
    return share > 0.75 and used > 0.5, f"distractors hold {share:.0%} of the bits' weight; {used:.0%} of all first-layer weights are above 5% of the largest"


@fact("parity.generalized", sources=(EXPERIMENT,))
def generalized(ctx: BuildContext) -> int:
    """The first logged step at which test accuracy reaches 99%."""
    return _step(ctx, "test_acc", 0.99)


@fact("parity.share-at-generalized", percent(0), sources=(EXPERIMENT,))
def share_at_generalized(ctx: BuildContext) -> float:
    """The distractors' share of the bits' first-layer weight at the checkpoint nearest that step."""
    return float(_distractor_share(run(ctx)["w_in"])[_checkpoint(ctx, generalized(ctx))])


@claim("parity.generalizes-before-pruning", sources=(EXPERIMENT,))
def generalizes_before_pruning(ctx: BuildContext):
    """Test accuracy passes 99% while the distractors still hold a large share of the weight."""
    share = share_at_generalized(ctx)
    return share > 0.3, f"distractors hold {share:.0%} of the bits' weight at step {generalized(ctx):,}"


@fact("parity.distractors-gone", rounded(100), sources=(EXPERIMENT,))
def distractors_gone(ctx: BuildContext) -> int:
    """The first checkpoint at which the distractors hold under 1% of the bits' weight (written "around")."""
    r = run(ctx)
    share = _distractor_share(r["w_in"])
    hit = np.flatnonzero(share < GONE)
    if not len(hit):
        raise ValueError(f"the distractors never fall under {GONE:.0%} of the weight (at the end: {share[-1]:.1%})")
    return int(r["step"][hit[0]])


@claim("parity.distractors-fade-after", sources=(EXPERIMENT,))
def distractors_fade_after(ctx: BuildContext):
    """The distractors fade to nearly nothing only after test accuracy has passed 99%."""
    return distractors_gone(ctx) > generalized(ctx), \
        f"test 99% at step {generalized(ctx):,}, distractors under {GONE:.0%} of the weight at step {distractors_gone(ctx):,}"


@fact("parity.largest-distractor", "{:.3f}", sources=(EXPERIMENT,))
def largest_distractor(ctx: BuildContext) -> float:
    """The largest first-layer weight magnitude on a distractor bit at the end."""
    return float(np.abs(run(ctx)["w_in"][-1, USEFUL:-1]).max())


@fact("parity.neurons-used", sources=(EXPERIMENT,))
def neurons_used(ctx: BuildContext) -> int:
    """Neurons of the L1 run with a final weight above 0.1 on a useful bit."""
    return _neurons_using(run(ctx)["w_in"][-1])


@claim("parity.bits-and-bias-do-the-work", sources=(EXPERIMENT,))
def bits_and_bias(ctx: BuildContext):
    """At the end the three useful bits and the bias hold nearly all of the first-layer weight."""
    w = np.abs(run(ctx)["w_in"][-1])
    share = float((w[:USEFUL].sum() + w[-1].sum()) / w.sum())
    return share > 0.99, f"useful bits and bias hold {share:.2%} of the first-layer weight"


def _loss_turn(ctx: BuildContext) -> tuple[int, int]:
    """Logged indices of the lowest training loss between memorizing and generalizing, and of
    the highest training loss after it, up to generalizing."""
    r = run(ctx)
    steps, loss = r["metric_step"], r["train_loss"]
    window = (steps >= memorized(ctx)) & (steps <= generalized(ctx))
    low = int(np.argmin(np.where(window, loss, np.inf)))
    high = int(np.argmax(np.where(window & (steps > steps[low]), loss, -np.inf)))
    return low, high


@fact("parity.loss-low-step", rounded(100), sources=(EXPERIMENT,))
def loss_low_step(ctx: BuildContext) -> int:
    """The step of the lowest training loss between memorizing and generalizing (written "around")."""
    return int(run(ctx)["metric_step"][_loss_turn(ctx)[0]])


@fact("parity.loss-rise", "{:.1f}", sources=(EXPERIMENT,))
def loss_rise(ctx: BuildContext) -> float:
    """How many times higher the training loss climbs after that low, before test accuracy passes 99%."""
    low, high = _loss_turn(ctx)
    loss = run(ctx)["train_loss"]
    return float(loss[high] / loss[low])


@fact("parity.loss-high-step", rounded(100), sources=(EXPERIMENT,))
def loss_high_step(ctx: BuildContext) -> int:
    """The step of that highest training loss (written "by step")."""
    return int(run(ctx)["metric_step"][_loss_turn(ctx)[1]])


@claim("parity.train-loss-rises-as-test-falls", sources=(EXPERIMENT,))
def train_loss_rises(ctx: BuildContext):
    """The training loss rises visibly while the test loss plunges from its peak."""
    r = run(ctx)
    low, high = _loss_turn(ctx)
    peak = float(r["test_loss"].max())
    at_high = float(r["test_loss"][high])
    rise = loss_rise(ctx)
    return rise >= 1.2 and at_high < 0.5 * peak, \
        f"train loss x{rise:.2f} from step {loss_low_step(ctx):,} to {loss_high_step(ctx):,}; test loss {at_high:.3g} there, peak {peak:.3g}"


@claim("parity.weights-grow-then-fade", sources=(EXPERIMENT,))
def weights_grow_then_fade(ctx: BuildContext):
    """The distractor weights first grow (while memorizing), then shrink to nearly nothing."""
    w = np.abs(run(ctx)["w_in"][:, USEFUL:-1]).sum(axis=(1, 2))
    peak = int(np.argmax(w))
    return w[peak] > 2 * w[0] and w[-1] < 0.01 * w[peak], \
        f"distractor weight mass {w[0]:.0f} at the start, {w[peak]:.0f} at step {int(run(ctx)['step'][peak]):,}, {w[-1]:.2f} at the end"


@fact("parity.distractor-peak", rounded(100), sources=(EXPERIMENT,))
def distractor_peak(ctx: BuildContext) -> int:
    """The checkpoint at which the distractors' total weight is largest (written "around")."""
    return int(run(ctx)["step"][int(np.argmax(np.abs(run(ctx)["w_in"][:, USEFUL:-1]).sum(axis=(1, 2))))])


@claim("parity.useful-grow-bias-between", sources=(EXPERIMENT,))
def useful_grow_bias_between(ctx: BuildContext):
    """The largest useful-bit weight ends several times larger than it started; the largest bias
    weight ends between the largest distractor and the largest useful-bit weight."""
    w = np.abs(run(ctx)["w_in"])
    useful, bias, distractor = w[:, :USEFUL].max(axis=(1, 2)), w[:, -1].max(axis=1), w[:, USEFUL:-1].max(axis=(1, 2))
    holds = useful[-1] > 3 * useful[0] and distractor[-1] < bias[-1] < useful[-1]
    return holds, (f"largest useful weight {useful[0]:.2f} -> {useful[-1]:.2f}; at the end largest bias {bias[-1]:.2f}, "
                   f"largest distractor {distractor[-1]:.4f}")


# the footnote's L2 comparison
@fact("parity.l2-generalized", rounded(100), sources=(L2_EXPERIMENT,))
def l2_generalized(ctx: BuildContext) -> int:
    """The first logged step at which the L2 run's test accuracy reaches 99% (written "around")."""
    return _step(ctx, "test_acc", 0.99, L2_EXPERIMENT)


@claim("parity.l2-later", sources=(EXPERIMENT, L2_EXPERIMENT))
def l2_later(ctx: BuildContext):
    """The L2 run generalizes too, later than the L1 run."""
    return l2_generalized(ctx) > generalized(ctx), f"test 99% at step {l2_generalized(ctx):,} (L2), {generalized(ctx):,} (L1)"


@fact("parity.l2-neurons-used", sources=(L2_EXPERIMENT,))
def l2_neurons_used(ctx: BuildContext) -> int:
    """Neurons of the L2 run with a final weight above 0.1 on a useful bit."""
    return _neurons_using(run(ctx, L2_EXPERIMENT)["w_in"][-1])


@fact("parity.l2-distractor-share", percent(0), sources=(L2_EXPERIMENT,))
def l2_distractor_share(ctx: BuildContext) -> float:
    """The distractors' share of the L2 run's final first-layer weight on the 30 bits."""
    return float(_distractor_share(run(ctx, L2_EXPERIMENT)["w_in"][-1]))


@claim("parity.l2-spreads-the-work", sources=(EXPERIMENT, L2_EXPERIMENT))
def l2_spreads(ctx: BuildContext):
    """With L2 many more neurons use the useful bits than with L1, and the distractors keep a
    large share of the weight."""
    return l2_neurons_used(ctx) > 2 * neurons_used(ctx) and l2_distractor_share(ctx) > 0.2, \
        (f"neurons using a useful bit: {l2_neurons_used(ctx)} (L2), {neurons_used(ctx)} (L1); "
         f"distractor share under L2 {l2_distractor_share(ctx):.0%}")


# -- example strings: the table of the section's opening (issue 27) --------------------------
EXAMPLES = 4  # rows of the table: the first two strings of each label in the training batch


@loader
def examples(ctx: BuildContext) -> list[dict]:
    """The first EXAMPLES // 2 strings of each label in the featured run's training batch, in
    batch order, drawn by the task generator with the run's seed (builder.training.tasks): each
    its deciding bits, the other bits and its label."""
    spec = ctx.spec(EXPERIMENT)
    data = tasks.sparse_parity(spec["n_bits"], spec["parity_bits"], spec["train_size"], 1, [spec["seed"]])
    x, y = data.train_x[0, :, :-1].int().tolist(), data.train_y[0].int().tolist()  # the bias input left out
    picked = []
    for label in (0, 1):
        picked += [i for i, v in enumerate(y) if v == label][:EXAMPLES // 2]
    k = spec["parity_bits"]
    return [{"head": "".join(map(str, x[i][:k])), "tail": "".join(map(str, x[i][k:])), "label": y[i]}
            for i in sorted(picked)]


def _example_fact(row: int, part: str):
    def value(ctx: BuildContext):
        return examples(ctx)[row][part]
    value.__name__ = value.__qualname__ = f"example_{row + 1}_{part}"
    value.__doc__ = {"head": "The deciding bits", "tail": "The other bits",
                     "label": "The label"}[part] + f" of example string {row + 1} (see `examples`)."
    return fact(f"parity.example-{row + 1}-{part}", "{}", sources=(EXPERIMENT,))(value)


for _row in range(EXAMPLES):
    for _part in ("head", "tail", "label"):
        globals()[f"example_{_row + 1}_{_part}"] = _example_fact(_row, _part)
