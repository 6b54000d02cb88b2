"""Section 6, "Memorization after generalization" (open-q-mem): two small modular models whose
test accuracy falls after it rose, each with its accuracy, its loss and its two weight heatmaps,
scrubbed together.

Read from the frozen runs `mem-tiny` (generalizes, then memorizes) and `mem-again` (generalizes,
memorizes, generalizes again), trained by builder.training from content/experiments.toml.
Each run is its own section (its own scrubbed step).
"""
from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import numpy as np

from builder.analysis import fourier
from builder.figures import Animation, Figure, Section, with_vega_data
from builder.figures._common import MOD_AXES, STEP_RULE, accuracy_curves, checkpoint_steps, heatmap, heatmap_params, loss_curves, packed, vmax_of
from builder.figures.context import BuildContext, loader


@dataclass(frozen=True)
class Run:
    key: str  # chart ids and the section are "open-q-mem-<key>"
    experiment: str
    what: str  # a few words for titles
    initial: int  # the step shown first (snapped to a checkpoint)
    play: tuple  # (start, end) of the section's animate link "open-q-mem-<key>-play"

    @property
    def section(self) -> str:
        return f"open-q-mem-{self.key}"


RUNS = (Run("tiny", "mem-tiny", "generalizes, then memorizes", 4400, (4000, 20000)),
        Run("again", "mem-again", "generalizes, memorizes, generalizes again", 20000, (24000, 72000)))


@loader
def run(ctx: BuildContext, experiment: str) -> dict:
    """A frozen run's curves and collapsed weights, neurons sorted by (frequency, phase) at the
    checkpoint of its best test accuracy (where its waves are clearest)."""
    a = ctx.artifact(experiment).arrays
    w_in, w_out = np.asarray(a["w_in"], np.float64), np.asarray(a["w_out"], np.float64)
    ckpt = np.asarray(a["checkpoint_step"])
    metric_step, test_acc = np.asarray(a["metric_step"]), np.asarray(a["test_acc"])
    best_step = int(metric_step[np.argmax(test_acc)])
    at = int(np.argmin(np.abs(ckpt - best_step)))
    order = fourier.neuron_order(w_in[at])
    return {
        "metric_step": metric_step, "train_acc": np.asarray(a["train_acc"]), "test_acc": test_acc,
        "train_loss": np.asarray(a["train_loss"], np.float64), "test_loss": np.asarray(a["test_loss"], np.float64),
        "step": ckpt, "w_in": w_in[:, :, order], "w_out": w_out[:, :, order], "best_step": best_step,
        "p": w_in.shape[1], "hidden": w_in.shape[2],
    }


def _snap(steps: tuple, step: int) -> int:
    return min(steps, key=lambda s: abs(s - step))


def section(ctx: BuildContext, r: Run) -> Section:
    """The section of one run (it reads that run's spec only)."""
    steps = checkpoint_steps(ctx.spec(r.experiment))
    return Section(r.section, steps, _snap(steps, r.initial))


def sections(ctx: BuildContext) -> list[Section]:
    return [section(ctx, r) for r in RUNS]


def animations(ctx: BuildContext) -> list[Animation]:
    return [Animation(f"open-q-mem-{r.key}-play", r.section, _snap(s.steps, r.play[0]), _snap(s.steps, r.play[1]), 6.0)
            for r, s in zip(RUNS, sections(ctx))]


def _initial(ctx: BuildContext, r: Run) -> int:
    return section(ctx, r).initial


def accuracy_chart(ctx: BuildContext, r: Run, narrow: bool = False):
    """narrow: the phone layout (the title in two lines)."""
    data = run(ctx, r.experiment)
    title = ["Accuracy: this model", r.what] if narrow else f"Accuracy: this model {r.what}"
    return accuracy_curves(data, initial=_initial(ctx, r), title=title, height=170,
                           fit_level=1.0, fit="fits every training pair", rule="right on 99% of held-out pairs")


def loss_chart(ctx: BuildContext, r: Run):
    data = run(ctx, r.experiment)
    # the train loss ends at the bottom right: the legend goes to the bottom left, under the start
    return loss_curves(data, initial=_initial(ctx, r), title="Train and test loss (log scale)", height=150,
                       legend="bottom-left")


def weights_chart(ctx: BuildContext, r: Run, narrow: bool = False):
    """narrow: the phone layout (narrower cells)."""
    data = run(ctx, r.experiment)
    p = data["p"]
    axis = dict(x_title=f"input number (0 to {p - 1})", x_axis=alt.Axis(values=list(range(0, p, 11)), labelAngle=0),
                cell=(4 if narrow else 7, 8))
    top = heatmap("w_in", data["w_in"], data["step"], "W_input = E W_in", **axis)
    bottom = heatmap("w_out", data["w_out"], data["step"], "W_output = (W_out Eᵀ)ᵀ", **axis)
    chart = alt.vconcat(top, bottom, spacing=12).add_params(
        alt.param(name="step", value=_initial(ctx, r)), alt.param(name="neuron", value=-1), *heatmap_params())
    return with_vega_data(chart, {k: packed(data[k], data["step"], vmax_of(data[k]), MOD_AXES[k]) for k in ("w_in", "w_out")})


def figures(ctx: BuildContext) -> list[Figure]:
    figs = []
    for r in RUNS:
        src = (r.experiment,)
        figs += [
            Figure(f"open-q-mem-{r.key}-accuracy", r.section,
                   "Train and test accuracy. Move the pointer (or use the arrow keys) to pick a step for the heatmaps.",
                   f"Line chart of train and test accuracy of a small model that {r.what}.",
                   lambda ctx, r=r: accuracy_chart(ctx, r), scrub=STEP_RULE, sources=src,
                   narrow=lambda ctx, r=r: accuracy_chart(ctx, r, narrow=True)),
            Figure(f"open-q-mem-{r.key}-loss", r.section,
                   "Train and test loss on a log scale; this chart scrubs too.",
                   f"Line chart of train and test loss, log scale, of a small model that {r.what}.",
                   lambda ctx, r=r: loss_chart(ctx, r), scrub=STEP_RULE, sources=src),
            Figure(f"open-q-mem-{r.key}-weights", r.section,
                   "The model's collapsed weights at the chosen step (orange positive, blue negative), neurons sorted by "
                   "frequency and phase at its best test accuracy.",
                   "Two heatmaps of neurons by the 67 numbers: the input and output weights, periodic stripes while the model "
                   "generalizes and noisier when it memorizes.",
                   lambda ctx, r=r: weights_chart(ctx, r), hover="n", sources=src,
                   narrow=lambda ctx, r=r: weights_chart(ctx, r, narrow=True)),
        ]
    return figs
