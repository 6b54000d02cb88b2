"""Section "The progress hidden before the jump" (progress): Nanda et al.'s progress measures on
our own runs, and the 101-weight toy of why the optimizer matters.

Every measure is computed at build time (builder.analysis.progress) from the frozen checkpoints
of the opening run (`mod-top`, 101 of them) and of each sister run (`seeds-mod-top`, 26 each);
the toy is simulated at build time (builder.analysis.toy). Nothing is trained here.
"""
from __future__ import annotations

import altair as alt
import numpy as np

from builder.analysis import progress, toy
from builder.figures import Figure, Section, with_datasets, with_variants
from builder.figures import mod_bot, mod_top
from builder.figures._common import STEP_RULE, TEST_COLOR, TRAIN_COLOR, step_rule
from builder.figures.context import BuildContext, loader

SECTION = "progress"
FEATURED = mod_bot.FEATURED
MEASURES = {"test": ("test loss", TEST_COLOR), "train": ("train loss", TRAIN_COLOR),
            "restricted": ("restricted loss", "#2a9d5c"), "excluded": ("excluded loss", "#8e6cc0")}
PHASE_COLORS = ("#f2c57c", "#9fd3b5", "#a7c4e8")  # memorization, circuit formation, cleanup
HEIGHT = 200


@loader
def measures(ctx: BuildContext) -> dict[str, dict]:
    """Per run the reader can pick (mod_bot.runs): its progress measures at its checkpoints, the
    collapsed matrices' sum of squares, its phases and how far the restricted loss leads."""
    train_index = ctx.artifact(mod_top.EXPERIMENT).arrays["train_index"]  # one split for all runs
    out = {}
    for key, r in mod_bot.runs(ctx).items():
        m = progress.measures(r["w_in"], r["w_out"], train_index, list(r["groups"]))
        m["size"] = np.square(r["w_in"]).sum((1, 2)) + np.square(r["w_out"]).sum((1, 2))
        m["phases"] = progress.phases(r["step"], m["test_loss"], m["excluded_loss"], r["metric_step"], r["test_loss"],
                                      reached=mod_bot.REACHED)
        m["lead"] = progress.lead(r["step"], m["test_loss"], m["restricted_loss"])
        out[key] = {**m, "step": r["step"], "run": r}
    return out


def sections(ctx: BuildContext) -> list[Section]:
    steps = mod_top.steps(ctx)
    return [Section(SECTION, steps, steps[len(steps) // 5])]


def _round(v: float) -> float:
    return float(f"{v:.4g}")


def run_tables(key: str, m: dict) -> dict:
    """The tables and signals of one run, as every chart of the section reads them."""
    steps = [int(s) for s in m["step"]]
    loss_rows = [{"step": s, "v": _round(max(v, 1e-9)), "measure": name}
                 for name in MEASURES for s, v in zip(steps, m[f"{name}_loss"])]
    keys = set(m["run"]["groups"])
    mode_rows = [{"step": s, "k": k + 1, "v": _round(v), "key": (k + 1) in keys}
                 for i, s in enumerate(steps) for k, v in enumerate(m["mode_loss"][i])]
    return {"data": {
        "losses": loss_rows,
        "size": [{"step": s, "v": _round(v)} for s, v in zip(steps, m["size"])],
        "gini": [{"step": s, "v": _round(v)} for s, v in zip(steps, m["gini"])],
        "phases": [{"phase": name, "start": a, "end": b} for name, a, b in m["phases"]],
        "modes": mode_rows,
    }, "signals": {"run_name": mod_bot.run_name(m["run"]), **phase_signals(m["phases"])}}


def phase_signals(phases: list) -> dict:
    """The phase boundaries the prose shows (`show="progress.memorized"`, ...), as text."""
    ends = {name: end for name, _, end in phases}
    said = lambda name, missing: f"{ends[name]:,}" if name in ends else missing  # noqa: E731
    return {"memorized": said("memorization", "—"),
            "formed": said("circuit formation", "— (this run has none)"),
            "done": said("cleanup", "— (this run never gets there)")}


@loader
def all_run_tables(ctx: BuildContext) -> dict[str, dict]:
    """run_tables of every run, made once per build for the section's four charts."""
    return {key: run_tables(key, m) for key, m in measures(ctx).items()}


def each_run(ctx: BuildContext, chart, tables: tuple) -> dict:
    """The chart drawing the featured run's `tables`, with a variant per run holding its own."""
    runs = all_run_tables(ctx)
    pick = lambda t: {"data": {n: t["data"][n] for n in tables}, "signals": t["signals"]}  # noqa: E731
    spec = with_datasets(chart, pick(runs[FEATURED])["data"])
    return spec, {key: pick(t) for key, t in runs.items()}


def titled(spec_and_variants, text: str) -> dict:
    """Titled with the run's name on a second line (a phone's column is narrow), variants on."""
    spec, variants = spec_and_variants
    spec["title"] = {"text": {"expr": f"['{text}', run_name]"}, "anchor": "start"}
    return with_variants(spec, variants)


def _x(ctx: BuildContext) -> alt.X:
    last = int(mod_top.steps(ctx)[-1])
    return alt.X("step:Q", title="Training step", scale=alt.Scale(domain=[0, last], nice=False),
                 axis=alt.Axis(format="~s", tickCount=5))


def _phase_layers(ctx: BuildContext, legend: bool) -> list:
    """The phases as shaded bands (with a legend on the first chart)."""
    names = list(progress.PHASES)
    # fill, not color: a layer shares one color scale, and the lines' measures use it
    bands = alt.Chart(alt.NamedData("phases")).mark_rect(opacity=0.35).encode(
        x=_x(ctx), x2="end:Q",
        fill=alt.Fill("phase:N", title=None, scale=alt.Scale(domain=names, range=list(PHASE_COLORS)),
                      legend=alt.Legend(orient="top", symbolOpacity=0.6, labelFontSize=10, symbolSize=80, columnPadding=6) if legend else None),
    ).transform_calculate(step="datum.start")
    return [bands]


def _params(ctx: BuildContext, picker: bool) -> list:
    """step, run (bound to the run list on the picker chart) and run_name."""
    runs = mod_bot.runs(ctx)
    keys = list(runs)
    bind = alt.binding_select(options=keys, labels=[mod_bot.run_label(k, runs[k]) for k in keys],
                              name="Run shown in this section ") if picker else None
    run = alt.param(name="run", value=FEATURED, **({"bind": bind} if bind else {}))
    shown = {"run_name": mod_bot.run_name(runs[FEATURED]), **phase_signals(measures(ctx)[FEATURED]["phases"])}
    return [alt.param(name="step", value=sections(ctx)[0].initial), run,
            *(alt.param(name=k, value=v) for k, v in shown.items())]


def losses_chart(ctx: BuildContext):
    """Test, train, restricted and excluded loss over training, log scale, phases shaded."""
    names = list(MEASURES)
    lines = alt.Chart(alt.NamedData("losses")).mark_line(strokeWidth=2).encode(
        x=_x(ctx), y=alt.Y("v:Q", title="Loss (log scale)", scale=alt.Scale(type="log"), axis=alt.Axis(format="~g", tickCount=5)),
        color=alt.Color("measure:N", title=None, scale=alt.Scale(domain=names, range=[MEASURES[n][1] for n in names]),
                        legend=alt.Legend(orient="bottom", labelExpr="datum.label + ' loss'", columns=2)),
        strokeDash=alt.condition("datum.measure == 'train'", alt.value([4, 2]), alt.value([1, 0])))
    chart = alt.layer(*_phase_layers(ctx, legend=True), lines, *step_rule()).add_params(*_params(ctx, picker=True)).properties(
        width="container", height=HEIGHT)
    return titled(each_run(ctx, chart, ("losses", "phases")), "Losses of")


def _small_chart(ctx: BuildContext, table: str, title: str, y: alt.Y, color: str):
    line = alt.Chart(alt.NamedData(table)).mark_line(strokeWidth=2, color=color).encode(x=_x(ctx), y=y)
    chart = alt.layer(*_phase_layers(ctx, legend=False), line, *step_rule()).add_params(*_params(ctx, picker=False)).properties(
        width="container", height=120)
    return titled(each_run(ctx, chart, (table, "phases")), title)


def size_chart(ctx: BuildContext):
    return _small_chart(ctx, "size", "Sum of squared weights (E·W_in and W_out·Eᵀ) of",
                        alt.Y("v:Q", title="Sum of squares", axis=alt.Axis(format="~s", tickCount=4)), "#555")


def gini_chart(ctx: BuildContext):
    return _small_chart(ctx, "gini", "Fourier sparsity (Gini) of E·W_in of",
                        alt.Y("v:Q", title="Gini", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(tickCount=3)), "#2a9d5c")


def modes_chart(ctx: BuildContext):
    """The restricted loss of each frequency alone over training; the run's key frequencies in
    colour, the other 30 in grey."""
    base = alt.Chart(alt.NamedData("modes"))
    y = alt.Y("v:Q", title="Loss with one frequency kept (log)", scale=alt.Scale(type="log"), axis=alt.Axis(format="~g", tickCount=4))
    others = base.transform_filter("!datum.key").mark_line(strokeWidth=1, color="#bbb").encode(
        x=_x(ctx), y=y, detail="k:N")
    keys = base.transform_filter("datum.key").mark_line(strokeWidth=2.2).encode(
        x=_x(ctx), y=y, color=alt.Color("k:N", title="key frequency", legend=alt.Legend(orient="bottom")))
    chart = alt.layer(others, keys, *step_rule()).add_params(*_params(ctx, picker=False)).properties(
        width="container", height=HEIGHT)
    return titled(each_run(ctx, chart, ("modes",)), "Loss per Fourier mode of")


# The toy: the grid of settings the reader picks from, and the simulated steps.
TOY_LRS = (1e-3, 3e-3, 1e-2)
TOY_WDS = (0.0, 0.01, 0.1, 1.0)
TOY_STEPS = 100_000
TOY_POINTS = 80
TOY_NAMES = {"sgd": "SGD, full batch", "adamw": "AdamW, full batch", "adamw-minibatch": f"AdamW, {toy.BATCH} of {toy.N} a step"}


@loader
def toy_runs(ctx: BuildContext) -> dict[str, dict]:
    """The toy under each optimizer, over the TOY_LRS x TOY_WDS grid."""
    return {opt: toy.simulate(opt, TOY_LRS, TOY_WDS, TOY_STEPS, points=TOY_POINTS) for opt in toy.OPTIMIZERS}


def toy_rows(ctx: BuildContext) -> list[dict]:
    rows = []
    for opt, r in toy_runs(ctx).items():
        for i, (lr, wd) in enumerate(zip(r["lr"], r["wd"])):
            for j, s in enumerate(r["step"]):
                rows.append({"opt": TOY_NAMES[opt], "lr": float(np.log10(lr)), "wd": float(wd), "step": int(max(s, 1)),
                             "g": _round(r["g"][i, j]), "m1": _round(r["m"][i, j, 0]), "m2": _round(r["m"][i, j, 1]),
                             "m3": _round(r["m"][i, j, 2]), "mean": _round(r["m_mean"][i, j])})
    return rows


def toy_chart(ctx: BuildContext, narrow: bool = False):
    """The generalizer, three memorizers and the memorizers' mean over (log) steps, one panel per
    optimizer, for the learning rate and weight decay the reader picks."""
    lr = alt.param(name="lr", value=-3.0, bind=alt.binding_range(
        min=float(np.log10(TOY_LRS[0])), max=float(np.log10(TOY_LRS[-1])), step=0.5, name="log₁₀ learning rate "))
    wd = alt.param(name="wd", value=0.01, bind=alt.binding_select(options=list(TOY_WDS), name="weight decay "))
    series = ["g", "mean", "m1", "m2", "m3"]
    names = {"g": "generalizer", "mean": "memorizers’ mean", "m1": "memorizer 1", "m2": "memorizer 2", "m3": "memorizer 3"}
    g_min, _ = toy.min_norm_fit()
    # no data of its own: the facet's table is split among the panels
    base = alt.Chart().transform_filter("abs(datum.lr - lr) < 0.01 && datum.wd == wd").transform_fold(
        series, as_=["series", "v"]).transform_calculate(name=" + ".join(f"(datum.series == '{s}' ? '{names[s]}' : '')" for s in series))
    lines = base.mark_line().encode(
        x=alt.X("step:Q", title="Step (log scale)", scale=alt.Scale(type="log", domain=[1, TOY_STEPS]), axis=alt.Axis(format="~s", tickCount=5)),
        y=alt.Y("v:Q", title="Weight", scale=alt.Scale(domain=[0, 1.05])),
        color=alt.Color("name:N", title=None, scale=alt.Scale(domain=[names[s] for s in series],
                                                              range=["#2a9d5c", "#e45756", "#f0a0a0", "#f0a0a0", "#f0a0a0"]),
                        legend=alt.Legend(orient="bottom", columns=3 if not narrow else 2)),
        strokeWidth=alt.condition("datum.series == 'g' || datum.series == 'mean'", alt.value(2.2), alt.value(1)),
        detail="series:N")
    floor = alt.Chart(alt.Data(values=[{"v": g_min}])).mark_rule(strokeDash=[3, 3], color="#2a9d5c", opacity=0.6).encode(y="v:Q")
    panel = alt.layer(lines, floor).properties(width=230 if narrow else 190, height=150 if narrow else 170)
    chart = panel.facet(column=alt.Column("opt:N", title=None, sort=[TOY_NAMES[o] for o in toy.OPTIMIZERS]),
                        data=alt.NamedData("toy")) if not narrow else panel.facet(
        row=alt.Row("opt:N", title=None, sort=[TOY_NAMES[o] for o in toy.OPTIMIZERS]), data=alt.NamedData("toy"))
    chart = chart.add_params(lr, wd)
    return with_datasets(chart, {"toy": toy_rows(ctx)})


PHASE_COLUMNS = (("phase", "the phase: memorization, circuit formation or cleanup"),
                 ("start", "the phase's first step (training steps)"), ("end", "the phase's last step (training steps)"))
COLUMNS = {
    "progress-losses": (("v", "the loss, nats (cross-entropy, mean over the examples)"),
                        ("measure", "which loss: test, train, restricted (only the key frequencies kept in the logits) "
                                    "or excluded (exactly those removed), on the training pairs for the last two"),
                        *PHASE_COLUMNS),
    "progress-size": (("v", "the sum of the squared entries of E W_in and W_out E^T, dimensionless"), *PHASE_COLUMNS),
    "progress-gini": (("v", "the Gini coefficient (0-1) of the 33 frequency norms of E W_in"), *PHASE_COLUMNS),
    "progress-modes": (("k", "the one frequency k (1-33) the logits keep"),
                       ("v", "the training loss with only that frequency kept in the logits, nats"),
                       ("key", "true when k is one of the run's key frequencies")),
    "progress-toy": (("opt", "the optimizer"), ("lr", "log10 of the learning rate"), ("wd", "weight decay"),
                     ("toy.step", "optimizer step of the toy (step 0 is written as 1, for the log axis)"),
                     ("g", "the generalizer weight (dimensionless; 1 alone fits every example)"),
                     ("m1", "memorizer weight 1 (dimensionless)"), ("m2", "memorizer weight 2"), ("m3", "memorizer weight 3"),
                     ("mean", "the mean of the 100 memorizer weights")),
}


def figures(ctx: BuildContext) -> list[Figure]:
    src = (mod_top.EXPERIMENT, mod_bot.SEEDS)
    return [
        Figure("progress-losses", SECTION,
               "The test loss, the training loss, and the two progress measures: the restricted loss (only the key frequencies "
               "kept) and the excluded loss (exactly those removed), with the three phases shaded. Pick another run in the list; "
               "scrub the charts below to move the step.",
               "Line chart of four losses over training on a log scale, with three shaded phases: the restricted loss falls "
               "steadily from the end of memorization, long before the test loss drops.",
               # not a scrub chart: a scrub chart's frame is a slider, and the run list inside it would be an input
               # inside another (axe: nested-interactive); the charts below scrub
               losses_chart, shares=("run",), sources=src, columns=COLUMNS["progress-losses"]),
        Figure("progress-size", SECTION,
               "The sum of the squared entries of the two matrices the network uses, E·W_in and W_out·Eᵀ. Move the pointer "
               "or use the arrow keys to pick a step for every chart of this section.",
               "Line chart: the sum of squared weights jumps while the model memorizes, then shrinks, fastest during cleanup.",
               size_chart, scrub=STEP_RULE, sources=src, columns=COLUMNS["progress-size"]),
        Figure("progress-gini", SECTION,
               "How concentrated E·W_in is in a few frequencies: the Gini coefficient of its 33 frequency norms.",
               "Line chart: the Fourier sparsity rises slowly during circuit formation and steeply in cleanup.",
               gini_chart, scrub=STEP_RULE, sources=src, columns=COLUMNS["progress-gini"]),
        Figure("progress-modes", SECTION,
               "The training loss when the logits keep a single frequency (and their mean): the run's key frequencies in colour, "
               "the others in grey.",
               "Line chart of 33 losses over training; the key frequencies' fall below all the others well before the test loss drops.",
               modes_chart, scrub=STEP_RULE, sources=src, columns=COLUMNS["progress-modes"]),
        Figure("progress-toy", SECTION,
               "The 101-weight toy: the generalizer, three of the 100 memorizers and the memorizers' mean over training, for the "
               "learning rate and weight decay you pick, under three optimizers. The dashed line is the generalizer of the "
               "smallest exact fit.",
               "Three line charts of weights over training on a log step axis: SGD puts nearly everything on the generalizer, "
               "full-batch AdamW splits it evenly and keeps it so, minibatch AdamW favours the generalizer but stops short.",
               toy_chart, narrow=lambda ctx: toy_chart(ctx, narrow=True), columns=COLUMNS["progress-toy"]),
    ]
