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


# -- facts and claims: what the prose says about these runs (builder.facts) -------------------
# The featured runs' moments are defined from their curves, not read off a chart: the peak is
# the best test accuracy, "fit" the first logged step with every training pair right, the dip
# of the second run its lowest test accuracy after fitting, its plateau the stretch from fitting
# to the step where its training loss is highest before the dip (after that the training loss
# falls: it memorizes), and its recovery the first step after the dip with the test accuracy
# back above the plateau's best.
from builder import freeze  # noqa: E402
from builder.facts import claim, fact, percent, rate, rounded, words  # noqa: E402

TINY, AGAIN = "mem-tiny", "mem-again"
TINY_SEEDS, AGAIN_SEEDS = "seeds-mem-tiny", ("seeds-mem-again-slow", "seeds-mem-again-fast")


def _first(steps, mask) -> int:
    if not np.any(mask):
        raise ValueError("the curve never gets there")
    return int(steps[int(np.argmax(mask))])


def _i(r: dict, step: int) -> int:
    return int(np.searchsorted(r["metric_step"], step))


@fact("mem.tiny-peak-step", sources=(TINY,))
def tiny_peak_step(ctx: BuildContext) -> int:
    """The tiny run's step of best test accuracy."""
    return run(ctx, TINY)["best_step"]


@fact("mem.tiny-peak", percent(0), sources=(TINY,))
def tiny_peak(ctx: BuildContext) -> float:
    """Its best test accuracy."""
    return float(run(ctx, TINY)["test_acc"].max())


@fact("mem.tiny-fit", sources=(TINY,))
def tiny_fit(ctx: BuildContext) -> int:
    """The tiny run's first logged step with every training pair right."""
    r = run(ctx, TINY)
    return _first(r["metric_step"], r["train_acc"] >= 1)


@fact("mem.tiny-end", percent(0), sources=(TINY,))
def tiny_end(ctx: BuildContext) -> float:
    """Its final test accuracy."""
    return float(run(ctx, TINY)["test_acc"][-1])


@fact("mem.tiny-loss-rise", "{:.0f}", sources=(TINY,))
def tiny_loss_rise(ctx: BuildContext) -> float:
    """Its final test loss over its lowest."""
    r = run(ctx, TINY)
    return float(r["test_loss"][-1] / r["test_loss"].min())


@claim("mem.tiny-peaks-before-fit", sources=(TINY,))
def tiny_peaks_before_fit(ctx: BuildContext):
    """The tiny run's test accuracy peaks before it fits every training pair, it stays fit, and
    its training loss keeps falling (to under a millionth) while its test accuracy falls at
    least 5 points."""
    r = run(ctx, TINY)
    peak = int(np.argmax(r["test_acc"]))
    fit = _i(r, tiny_fit(ctx))
    ok = (peak < fit and bool((r["train_acc"][fit:] >= 1).all()) and r["train_loss"][-1] < 1e-6 < r["train_loss"][peak]
          and tiny_peak(ctx) - tiny_end(ctx) >= 0.05)
    return ok, (f"peak at step {tiny_peak_step(ctx):,}, fit from {tiny_fit(ctx):,}; train loss {r['train_loss'][peak]:.1e} "
                f"-> {r['train_loss'][-1]:.1e}; test accuracy {tiny_peak(ctx):.0%} -> {tiny_end(ctx):.0%}")


@claim("mem.tiny-waves-grow", sources=(TINY,))
def tiny_waves_grow(ctx: BuildContext):
    """Every neuron whose input weights are a clean wave at the peak (95% of their energy in one
    frequency) still is at the end, on the same frequency, and larger."""
    r = run(ctx, TINY)
    at = int(np.argmin(np.abs(r["step"] - r["best_step"])))
    w0, w1 = r["w_in"][at], r["w_in"][-1]
    clean = fourier.energy_in_top(w0) >= 0.95
    f0, _, m0 = fourier.dominant(w0)
    f1, _, m1 = fourier.dominant(w1)
    e1 = fourier.energy_in_top(w1)
    ok = clean.any() and bool((e1[clean] >= 0.95).all() and (f1[clean] == f0[clean]).all() and (m1[clean] > m0[clean]).all())
    return ok, (f"{int(clean.sum())} clean neurons; at the end: energy >= {e1[clean].min():.2f}, "
                f"magnitude x{(m1[clean] / m0[clean]).min():.1f} or more")


@fact("mem.tiny-unclean", words, sources=(TINY,))
def tiny_unclean(ctx: BuildContext) -> int:
    """Neurons of the tiny run whose input weights are not one clean wave at the peak."""
    r = run(ctx, TINY)
    at = int(np.argmin(np.abs(r["step"] - r["best_step"])))
    return int((fourier.energy_in_top(r["w_in"][at]) < 0.95).sum())


@loader
def tiny_seeds(ctx: BuildContext) -> dict:
    a = ctx.artifact(TINY_SEEDS).arrays
    return {k: np.asarray(a[k]) for k in ("metric_step", "test_acc", "train_acc")}


@fact("mem.tiny-seeds", sources=(TINY_SEEDS,))
def tiny_seed_count(ctx: BuildContext) -> int:
    """Seeds trained with the tiny run's settings."""
    return int(tiny_seeds(ctx)["test_acc"].shape[0])


@fact("mem.tiny-seed-peaks", lambda v: f"{100 * v[0]:.0f}% and {100 * v[1]:.0f}%", sources=(TINY_SEEDS,))
def tiny_seed_peaks(ctx: BuildContext) -> tuple:
    """The lowest and highest of the seeds' best test accuracies."""
    peak = tiny_seeds(ctx)["test_acc"].max(axis=1)
    return float(peak.min()), float(peak.max())


@fact("mem.tiny-seeds-early", sources=(TINY_SEEDS,))
def tiny_seeds_early(ctx: BuildContext) -> int:
    """Seeds whose test accuracy peaks before they fit every training pair."""
    s = tiny_seeds(ctx)
    peak = s["test_acc"].argmax(axis=1)
    fit = np.where(s["train_acc"].max(axis=1) >= 1, (s["train_acc"] >= 1).argmax(axis=1), s["train_acc"].shape[1])
    return int((peak < fit).sum())


@fact("mem.tiny-seeds-fell", sources=(TINY_SEEDS,))
def tiny_seeds_fell(ctx: BuildContext) -> int:
    """Seeds that end at least 3 points below their best test accuracy."""
    acc = tiny_seeds(ctx)["test_acc"]
    return int((acc.max(axis=1) - acc[:, -1] >= 0.03).sum())


@claim("mem.tiny-seeds-mostly", sources=(TINY_SEEDS,))
def tiny_seeds_mostly(ctx: BuildContext):
    """Most seeds (at least four in five) peak before fitting and end at least 3 points lower."""
    n = tiny_seed_count(ctx)
    return min(tiny_seeds_early(ctx), tiny_seeds_fell(ctx)) >= 0.8 * n, \
        f"{tiny_seeds_early(ctx)} and {tiny_seeds_fell(ctx)} of {n}"


# the second run
@loader
def again(ctx: BuildContext) -> dict:
    """The second run's moments (see the comment above the facts)."""
    r = run(ctx, AGAIN)
    steps, acc = r["metric_step"], r["test_acc"]
    fit = _i(r, _first(steps, r["train_acc"] >= 1))
    dip = fit + int(np.argmin(acc[fit:]))
    end = fit + int(np.argmax(r["train_loss"][fit:dip + 1]))  # the plateau ends where the training loss peaks
    best = float(acc[fit:end + 1].max())
    back = dip + int(np.argmax(acc[dip:] > best))
    perfect = _first(steps, (acc >= 1) & (np.minimum.accumulate(acc[::-1])[::-1] >= 1))
    return {"r": r, "fit": fit, "dip": dip, "end": end, "best": best, "back": back, "perfect": perfect}


@fact("mem.again-fit", sources=(AGAIN,))
def again_fit(ctx: BuildContext) -> int:
    """The second run's first logged step with every training pair right."""
    m = again(ctx)
    return int(m["r"]["metric_step"][m["fit"]])


@fact("mem.again-plateau", lambda v: f"{100 * v[0]:.0f}% to {100 * v[1]:.0f}%", sources=(AGAIN,))
def again_plateau(ctx: BuildContext) -> tuple:
    """Its lowest and highest test accuracy from fitting to the end of the plateau."""
    m = again(ctx)
    acc = m["r"]["test_acc"][m["fit"]:m["end"] + 1]
    return float(acc.min()), float(acc.max())


@fact("mem.again-plateau-end", rounded(1000), sources=(AGAIN,))
def again_plateau_end(ctx: BuildContext) -> int:
    """The step where its training loss is highest before the dip (written "around")."""
    m = again(ctx)
    return int(m["r"]["metric_step"][m["end"]])


@fact("mem.again-train-fall", "{:.0f}", sources=(AGAIN,))
def again_train_fall(ctx: BuildContext) -> float:
    """How many times its training loss falls from the plateau's end to the dip."""
    m = again(ctx)
    return float(m["r"]["train_loss"][m["end"]] / m["r"]["train_loss"][m["dip"]])


@fact("mem.again-test-rise", "{:.1f}", sources=(AGAIN,))
def again_test_rise(ctx: BuildContext) -> float:
    """How many times its test loss grows over the same stretch."""
    m = again(ctx)
    return float(m["r"]["test_loss"][m["dip"]] / m["r"]["test_loss"][m["end"]])


@fact("mem.again-dip", percent(0), sources=(AGAIN,))
def again_dip(ctx: BuildContext) -> float:
    """Its lowest test accuracy after fitting."""
    m = again(ctx)
    return float(m["r"]["test_acc"][m["dip"]])


@fact("mem.again-dip-step", rounded(1000), sources=(AGAIN,))
def again_dip_step(ctx: BuildContext) -> int:
    """The step of that dip (written "around")."""
    m = again(ctx)
    return int(m["r"]["metric_step"][m["dip"]])


@fact("mem.again-back", rounded(1000), sources=(AGAIN,))
def again_back(ctx: BuildContext) -> int:
    """The first step after the dip with test accuracy above the plateau's best (written "around")."""
    m = again(ctx)
    return int(m["r"]["metric_step"][m["back"]])


@fact("mem.again-orders", words, sources=(AGAIN,))
def again_orders(ctx: BuildContext) -> int:
    """Whole orders of magnitude the test loss falls from its highest after the dip to its lowest after that."""
    m = again(ctx)
    loss = m["r"]["test_loss"][m["dip"]:]
    top = int(np.argmax(loss))
    return int(np.floor(np.log10(loss[top] / loss[top:].min())))


@fact("mem.again-perfect", sources=(AGAIN,))
def again_perfect(ctx: BuildContext) -> int:
    """The first logged step from which it is right on every held-out pair to the end."""
    return again(ctx)["perfect"]


@claim("mem.again-memorizes-then-recovers", sources=(AGAIN,))
def again_memorizes_then_recovers(ctx: BuildContext):
    """From the plateau's end to the dip the training loss falls at least 10-fold while the test
    loss grows and the test accuracy drops at least 3 points below the plateau's best; then it
    comes back, to every held-out pair."""
    m = again(ctx)
    ok = (again_train_fall(ctx) >= 10 and again_test_rise(ctx) > 1 and m["best"] - again_dip(ctx) >= 0.03
          and m["back"] > m["dip"] and again_perfect(ctx) > again_dip_step(ctx))
    return ok, (f"train loss /{again_train_fall(ctx):.0f}, test loss x{again_test_rise(ctx):.1f}, "
                f"test accuracy {m['best']:.1%} -> {again_dip(ctx):.1%}, perfect from {again_perfect(ctx):,}")


@loader
def again_seeds(ctx: BuildContext) -> dict:
    """(speed, seed) -> test accuracy and train loss of the 12 runs with the second run's settings."""
    out = {}
    for name in AGAIN_SEEDS:
        a = ctx.artifact(name).arrays
        for i, seed in enumerate(np.asarray(a["seed"])):
            out[(name, int(seed))] = {"steps": np.asarray(a["metric_step"]), "test_acc": np.asarray(a["test_acc"])[i],
                                      "train_loss": np.asarray(a["train_loss"])[i]}
    return out


def _lost_and_won_back(r: dict) -> float:
    """Points of test accuracy given back (from a peak of at least 87%) while the train loss fell
    200-fold or more, if the run later came back to within a point of that peak (or to 97%)."""
    acc, loss = r["test_acc"], r["train_loss"]
    best = np.maximum.accumulate(acc)
    low = int(np.argmax(best - acc))
    peak = int(np.argmax(acc[:low + 1]))
    fell = loss[peak] / loss[low] >= 200
    back = acc[low:].max() >= acc[peak] - 0.01 or acc[low:].max() >= 0.97
    return float(acc[peak] - acc[low]) if fell and back and acc[peak] >= 0.87 else 0.0


def _groups(ctx) -> dict:
    runs = again_seeds(ctx)
    lost = {k: _lost_and_won_back(r) for k, r in runs.items()}
    came_back = {k: v for k, v in lost.items() if v >= 0.03}
    final = {k: float(r["test_acc"][-1]) for k, r in runs.items()}
    slid = {k: v for k, v in final.items() if k not in came_back and v < 0.97}
    rest = {k: v for k, v in final.items() if k not in came_back and k not in slid}
    return {"runs": runs, "came_back": came_back, "slid": slid, "rest": rest}


@fact("mem.again-early", lambda v: f"{100 * v[0]:.0f}% to {100 * v[1]:.0f}%", sources=AGAIN_SEEDS)
def again_early(ctx: BuildContext) -> tuple:
    """The lowest and highest best test accuracy of the 12 runs within their first 2,000 steps."""
    early = [r["test_acc"][r["steps"] <= 2000].max() for r in again_seeds(ctx).values()]
    return float(min(early)), float(max(early))


@fact("mem.again-came-back", rate, sources=AGAIN_SEEDS)
def again_came_back(ctx: BuildContext) -> tuple:
    """Runs that gave back at least 3 points while their training loss fell 200-fold, and came back."""
    g = _groups(ctx)
    return len(g["came_back"]), len(g["runs"])


@fact("mem.again-lost", lambda v: f"{100 * v[0]:.0f} to {100 * v[1]:.0f}", sources=AGAIN_SEEDS)
def again_lost(ctx: BuildContext) -> tuple:
    """The fewest and most points those runs gave back."""
    v = list(_groups(ctx)["came_back"].values())
    return min(v), max(v)


@fact("mem.again-slid", lambda v: " and ".join(f"{100 * x:.0f}%" for x in v), sources=AGAIN_SEEDS)
def again_slid(ctx: BuildContext) -> list:
    """Final test accuracies of the runs that slid below 97% and did not come back, ascending."""
    return sorted(_groups(ctx)["slid"].values())


@fact("mem.again-slid-count", words, sources=AGAIN_SEEDS)
def again_slid_count(ctx: BuildContext) -> int:
    """How many runs slid."""
    return len(_groups(ctx)["slid"])


@fact("mem.again-held", words, sources=AGAIN_SEEDS)
def again_held(ctx: BuildContext) -> int:
    """The remaining runs, which held on."""
    return len(_groups(ctx)["rest"])


@fact("mem.again-held-range", lambda v: f"{100 * v[0]:.0f}% and {100 * v[1]:.0f}%", sources=AGAIN_SEEDS)
def again_held_range(ctx: BuildContext) -> tuple:
    """Their lowest and highest final test accuracy."""
    v = list(_groups(ctx)["rest"].values())
    return min(v), max(v)


@claim("mem.again-ours-came-back-most", sources=AGAIN_SEEDS + (AGAIN,))
def again_ours_came_back_most(ctx: BuildContext):
    """The featured run (seed 0 at the faster rate) is one that came back, lost the most and ends
    at 100%; the runs that slid did so while their training loss rose."""
    g = _groups(ctx)
    ours = (AGAIN_SEEDS[1], 0)
    same = np.allclose(g["runs"][ours]["test_acc"], run(ctx, AGAIN)["test_acc"], atol=2e-3)
    most = bool(g["came_back"]) and max(g["came_back"], key=g["came_back"].get) == ours
    rose = all(g["runs"][k]["train_loss"][-1] > g["runs"][k]["train_loss"][int(np.argmax(g["runs"][k]["test_acc"]))]
               for k in g["slid"])
    return same and most and g["runs"][ours]["test_acc"][-1] == 1 and rose, \
        f"featured run is the batch's: {same}; lost the most: {most}; slid with rising train loss: {rose}"


def _play(ctx: BuildContext, key: str) -> str:
    """The animation's steps as animations() makes them, for this run alone (reading its spec only)."""
    r = next(r for r in RUNS if r.key == key)
    steps = section(ctx, r).steps
    return f"{_snap(steps, r.play[0]):,} to {_snap(steps, r.play[1]):,}"


@fact("mem.tiny-play", "{}", sources=(TINY,))
def tiny_play(ctx: BuildContext) -> str:
    """The steps the tiny run's animation plays (checkpoints nearest the section's choice)."""
    return _play(ctx, "tiny")


@fact("mem.again-play", "{}", sources=(AGAIN,))
def again_play(ctx: BuildContext) -> str:
    """The steps the second run's animation plays."""
    return _play(ctx, "again")
