"""Section 1, "An example of grokking" (mod-top): the opening model's curves, weights and waves.

Everything here is read from the frozen run `mod-top` (content/_freeze/mod-top/), trained by
builder.training from content/experiments.toml; nothing is hard-coded.
"""
from __future__ import annotations

import altair as alt
import numpy as np

from builder.analysis import fourier
from builder.figures import Animation, Figure, Section, with_datasets, with_vega_data
from builder.facts import claim, fact, listed, percent, rounded, words
from builder.figures._common import (MOD_AXES, STEP_RULE, TRAIN_COLOR, accuracy_curves, checkpoint_steps, first_step, heatmap,
                                     heatmap_params, packed, vmax_of)
from builder.figures.context import BuildContext, loader

EXPERIMENT = "mod-top"
SECTION = "mod-top"
RERUN = "mod-top-embed"  # the opening settings and seed again, trained on another CPU


@loader
def run(ctx: BuildContext) -> dict:
    """The frozen opening run, reduced to what this section draws (models axis dropped)."""
    a = ctx.artifact(EXPERIMENT).arrays
    w_in, w_out = np.asarray(a["w_in"], np.float64), np.asarray(a["w_out"], np.float64)
    order = fourier.neuron_order(w_in[-1])  # neurons sorted by (frequency, phase) at the end
    freq, phase, mag = fourier.dominant(w_in[-1])
    return {
        "metric_step": np.asarray(a["metric_step"]), "train_acc": np.asarray(a["train_acc"]),
        "test_acc": np.asarray(a["test_acc"]), "step": np.asarray(a["checkpoint_step"]),
        "train_loss": np.asarray(a["train_loss"], np.float64), "test_loss": np.asarray(a["test_loss"], np.float64),
        "w_in": w_in[:, :, order], "w_out": w_out[:, :, order],
        "freq": freq[order], "mag": mag[order], "p": w_in.shape[1], "hidden": w_in.shape[2],
    }


def steps(ctx: BuildContext) -> tuple:
    """The checkpoint steps of the opening run (section 1 and section 6 scrub them)."""
    return checkpoint_steps(ctx.spec(EXPERIMENT))


def sections(ctx: BuildContext) -> list[Section]:
    kept = steps(ctx)
    return [Section(SECTION, kept, kept[len(kept) // 5])]


def animations(ctx: BuildContext) -> list[Animation]:
    """Play from 40% of training (deep in the quiet stretch of the frozen run) to the end."""
    kept = steps(ctx)
    return [Animation("mod-top-generalize", SECTION, kept[len(kept) * 2 // 5], kept[-1], 6.0)]


# -- charts --------------------------------------------------------------------------------
def accuracy_chart(ctx: BuildContext):
    r = run(ctx)
    return accuracy_curves(r, initial=sections(ctx)[0].initial, title=f"Train and test accuracy, a + b mod {r['p']}",
                           fit_level=1.0, fit="memorizes the training pairs", rule="then generalizes to unseen pairs")


def weights_chart(ctx: BuildContext, lookup: bool = True, narrow: bool = False):
    """lookup=False colours cells through a continuous Vega scale instead (kept for `make bench`);
    narrow: the phone layout (narrower cells, titles in two lines)."""
    r = run(ctx)
    step = alt.param(name="step", value=sections(ctx)[0].initial)
    neuron = alt.param(name="neuron", value=-1)
    p = r["p"]
    axis = dict(x_title=f"input number (0 to {p - 1})", x_axis=alt.Axis(values=list(range(0, p, 11)), labelAngle=0),
                lookup=lookup, **({"cell": (4, 5)} if narrow else {}))
    titles = (["W_input = E W_in:", "how each number feeds each neuron"],
              ["W_output = (W_out Eᵀ)ᵀ:", "how each neuron votes for each answer"])
    if not narrow:
        titles = tuple(" ".join(t) for t in titles)
    top = heatmap("w_in", r["w_in"], r["step"], titles[0], **axis)
    bottom = heatmap("w_out", r["w_out"], r["step"], titles[1], **axis)
    chart = alt.vconcat(top, bottom, spacing=14).add_params(step, neuron, *heatmap_params())
    return with_vega_data(chart, {key: packed(r[key], r["step"], vmax_of(r[key]), MOD_AXES[key]) for key in ("w_in", "w_out")})


def waves_chart(ctx: BuildContext, narrow: bool = False):
    """Each neuron's input weights at the end, one small chart per frequency group.

    By default the inputs are drawn in the order of k x mod p (k: the group's frequency): a
    frequency-k wave sampled at 67 points zigzags when k is large (each panel a solid block),
    but in that order it is one smooth cosine. Unticking the box shows the inputs in their own
    order 0, 1, 2, ...
    narrow: the phone layout, two charts a row.
    """
    r = run(ctx)
    p, w = r["p"], r["w_in"][-1]
    threshold = fourier.KEY_FREQUENCY_THRESHOLD
    rows = []
    for n in range(r["hidden"]):
        clear = r["mag"][n] > threshold
        group = f"frequency {int(r['freq'][n])}" if clear else "no clear frequency"
        k = int(r["freq"][n]) if clear else 1
        for t in range(p):
            rows.append({"n": n, "n1": n + 1, "token": t, "turn": k * t % p,
                         "w": round(float(w[t, n]), 3), "group": group})
    neuron = alt.param(name="neuron", value=-1)
    unwrap = alt.param(name="unwrap", value=True, bind=alt.binding_checkbox(
        name="Inputs in the order k × input mod 67 (untick for 0, 1, 2, …: each wave becomes a zigzag) "))
    groups = sorted({row["group"] for row in rows}, key=lambda g: (g.startswith("no"), int(g.split()[-1]) if g[-1].isdigit() else 0))
    chart = alt.Chart(alt.NamedData("waves")).transform_calculate(
        x="unwrap ? datum.turn : datum.token"
    ).mark_line(strokeWidth=1.5).encode(
        x=alt.X("x:Q", title="input order (see the box)", scale=alt.Scale(domain=[0, p - 1], nice=False),
                axis=alt.Axis(values=[0, p // 2, p - 1])),
        y=alt.Y("w:Q", title="weight"),
        detail="n:N",
        order="x:Q",
        color=alt.condition("neuron < 0 || datum.n == neuron", alt.value(TRAIN_COLOR), alt.value("#bbb")),
        opacity=alt.condition("neuron < 0 || datum.n == neuron", alt.value(0.9), alt.value(0.25)),
        tooltip=[alt.Tooltip("n1:N", title="neuron"), alt.Tooltip("token:Q", title="input"), alt.Tooltip("w:Q", title="weight")],
    ).properties(width=120 if narrow else 150, height=90).facet(
        facet=alt.Facet("group:N", title=None, sort=groups), columns=2 if narrow else 4
    ).add_params(neuron, unwrap)
    return with_datasets(chart, {"waves": rows})


WAVES_COLUMNS = (
    ("n", "neuron index, from 0"), ("n1", "neuron number, from 1 (as the heatmaps number them)"),
    ("token", "input number 0-66"),
    ("turn", "the input's place in the order k x input mod 67 (k: the neuron's frequency), the chart's default x"),
    ("w", "the neuron's input weight from that number at the end of training (W_input = E W_in), dimensionless"),
    ("group", "the neuron's frequency group: frequency k, or no clear frequency"),
)


def figures(ctx: BuildContext) -> list[Figure]:
    return [
        Figure("mod-top-accuracy", SECTION,
               "Accuracy on the training pairs and on the held-out pairs. Move the pointer (or use the arrow keys) to pick a step.",
               "Line chart of train and test accuracy over 50,000 training steps: train accuracy reaches 100% early while test accuracy stays low, then test accuracy climbs to about 100% much later.",
               accuracy_chart, scrub=STEP_RULE, sources=(EXPERIMENT,)),
        Figure("mod-top-weights", SECTION,
               "The model's 3,216 weights at the chosen step (orange positive, blue negative), neurons sorted by the frequency they end up using.",
               "Two heatmaps of 24 neurons by 67 numbers: the collapsed input and output weights, noisy early in training and striped with waves after the model generalizes.",
               weights_chart, hover="n", sources=(EXPERIMENT,), narrow=lambda ctx: weights_chart(ctx, narrow=True)),
        Figure("mod-top-waves", SECTION,
               "Each neuron's 67 input weights at the end of training, grouped by frequency k, with the inputs in the order k × input mod 67, "
               "where each is one smooth wave. Hover a line to find that neuron in the heatmaps; untick the box to see the inputs in their own order.",
               "Small line charts, one per frequency, each showing the input weights of the neurons that use that frequency as smooth periodic waves.",
               waves_chart, hover="n", sources=(EXPERIMENT,), narrow=lambda ctx: waves_chart(ctx, narrow=True),
               columns=WAVES_COLUMNS),
    ]


# -- facts and claims: what the prose says about this run (builder.facts) -------------------
def _step(ctx: BuildContext, key: str, level: float) -> int:
    r = run(ctx)
    step = first_step(r["metric_step"], r[key], level)
    if step is None:
        raise ValueError(f"the opening run's {key} never reaches {level}")
    return step


def _at(ctx: BuildContext, key: str, step: int) -> float:
    r = run(ctx)
    return float(r[key][int(np.argmin(abs(r["metric_step"] - step)))])


@fact("opening.memorized", sources=(EXPERIMENT,))
def memorized(ctx: BuildContext) -> int:
    """The first logged step at which the opening run answers every training pair correctly."""
    return _step(ctx, "train_acc", 1.0)


@fact("opening.test-at-memorized", percent(1), sources=(EXPERIMENT,))
def test_at_memorized(ctx: BuildContext) -> float:
    """Test accuracy at that step."""
    return _at(ctx, "test_acc", memorized(ctx))


@fact("opening.test-30", rounded(1000), sources=(EXPERIMENT,))
def test_30(ctx: BuildContext) -> int:
    """First logged step with test accuracy at or above 30% (written "around")."""
    return _step(ctx, "test_acc", 0.3)


@fact("opening.test-99", sources=(EXPERIMENT,))
def test_99(ctx: BuildContext) -> int:
    """First logged step with test accuracy at or above 99%."""
    return _step(ctx, "test_acc", 0.99)


@fact("opening.quiet-steps", rounded(1000), sources=(EXPERIMENT,))
def quiet_steps(ctx: BuildContext) -> int:
    """How long test accuracy stays under 5% after memorization (written "about")."""
    return _step(ctx, "test_acc", 0.05) - memorized(ctx)


@fact("opening.play-from", sources=(EXPERIMENT,))
def play_from(ctx: BuildContext) -> int:
    """The first step the section's animation plays."""
    return animations(ctx)[0].start


@fact("opening.key-count", words, sources=(EXPERIMENT,))
def key_count(ctx: BuildContext) -> int:
    """How many frequency groups the opening run ends with."""
    return len(fourier.key_frequencies(run(ctx)["w_in"][-1]))


@fact("opening.keys", listed, sources=(EXPERIMENT,))
def keys(ctx: BuildContext) -> list:
    """The key frequencies, ascending."""
    return sorted(fourier.key_frequencies(run(ctx)["w_in"][-1]))


@fact("opening.fastest-key", sources=(EXPERIMENT,))
def fastest_key(ctx: BuildContext) -> int:
    """The key frequency whose cosine turns fastest over 0..p-1 (the one closest to p/2)."""
    p = run(ctx)["p"]
    return min(keys(ctx), key=lambda k: abs(p / 2 - min(k, p - k)))


@fact("opening.fastest-period", "{:.1f}", sources=(EXPERIMENT,))
def fastest_period(ctx: BuildContext) -> float:
    """Inputs per cycle of that frequency's cosine."""
    return run(ctx)["p"] / fastest_key(ctx)


@claim("opening.memorizes-at-chance", sources=(EXPERIMENT,))
def memorizes_at_chance(ctx: BuildContext):
    """When the training pairs are all answered, test accuracy is no better than guessing."""
    acc, chance = test_at_memorized(ctx), 1 / run(ctx)["p"]
    return acc <= chance, f"test accuracy {acc:.2%} at step {memorized(ctx):,} (chance {chance:.2%})"


@claim("opening.long-quiet", sources=(EXPERIMENT,))
def long_quiet(ctx: BuildContext):
    """Test accuracy stays under 5% for at least ten thousand steps after memorizing."""
    return quiet_steps(ctx) >= 10_000, f"{quiet_steps(ctx):,} steps from memorizing to 5% test accuracy"


@claim("opening.stays-generalized", sources=(EXPERIMENT,))
def stays_generalized(ctx: BuildContext):
    """Once over 99%, test accuracy stays over 99% to the end."""
    r = run(ctx)
    after = r["test_acc"][r["metric_step"] >= test_99(ctx)]
    return bool(after.min() >= 0.99), f"lowest test accuracy after step {test_99(ctx):,}: {after.min():.2%}"


@fact("opening.grouped", lambda v: f"every one of the {v[1]} neurons belongs" if v[0] == v[1] else f"{v[0]} of the {v[1]} neurons belong",
      sources=(EXPERIMENT,))
def grouped(ctx: BuildContext) -> tuple:
    """(neurons in a key frequency group at the end, neurons), written as a phrase."""
    groups = fourier.key_frequencies(run(ctx)["w_in"][-1])
    return sum(len(n) for n in groups.values()), int(run(ctx)["hidden"])


@fact("opening.rerun-99", sources=(RERUN,))
def rerun_99(ctx: BuildContext) -> int:
    """The first logged step with test accuracy >= 99% of the same settings and seed trained on
    another CPU (only floating-point rounding differs)."""
    a = ctx.artifact(RERUN).arrays
    step = first_step(np.asarray(a["metric_step"]), np.asarray(a["test_acc"]), 0.99)
    if step is None:
        raise ValueError("the rerun never reaches 99% test accuracy")
    return step


@claim("opening.rounding-moves-grokking", sources=(EXPERIMENT, RERUN))
def rounding_moves_grokking(ctx: BuildContext):
    """The rerun on another CPU crosses 99% test accuracy at another step than the featured run."""
    return rerun_99(ctx) != test_99(ctx), f"99% test accuracy at step {test_99(ctx):,} here, {rerun_99(ctx):,} in the rerun"
