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


@loader(persist=(mod_top.EXPERIMENT, mod_bot.SEEDS))
def computed(ctx: BuildContext) -> dict[str, dict]:
    """Per run the reader can pick (mod_bot.runs): its progress measures at its checkpoints, the
    collapsed matrices' sum of squares, its phases and how far the restricted loss leads; for
    the featured run also the sum of squares of all its parameters (E, W_in, W_out), the
    logged l2_norm squared: the sister runs did not log it. About 20 s of computing, so kept on
    disk between builds (a persisted loader)."""
    top = ctx.artifact(mod_top.EXPERIMENT).arrays
    train_index = top["train_index"]  # one split for all runs
    out = {}
    for key, r in mod_bot.runs(ctx).items():
        m = progress.measures(r["w_in"], r["w_out"], train_index, list(r["groups"]))
        m["size"] = np.square(r["w_in"]).sum((1, 2)) + np.square(r["w_out"]).sum((1, 2))
        m["phases"] = progress.phases(r["step"], m["excluded_loss"], r["metric_step"], r["test_loss"], reached=mod_bot.REACHED)
        m["lead"] = progress.lead(r["step"], m["test_loss"], m["restricted_loss"], progress.test_peak(r["metric_step"], r["test_loss"]))
        out[key] = {**m, "step": r["step"]}
    out[FEATURED]["param_norm"] = np.square(np.asarray(top["l2_norm"], np.float64))
    out[FEATURED]["param_step"] = np.asarray(top["metric_step"])
    return out


@loader
def measures(ctx: BuildContext) -> dict[str, dict]:
    """`computed`, each run's entry with the run itself (mod_bot.runs) under "run"."""
    runs = mod_bot.runs(ctx)
    return {key: {**m, "run": runs[key]} for key, m in computed(ctx).items()}


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
        "size": [{"step": s, "v": _round(v), "what": SIZES[1]} for s, v in zip(steps, m["size"])] + (
            [{"step": int(s), "v": _round(v), "what": SIZES[0]} for s, v in zip(m["param_step"], m["param_norm"])]
            if "param_norm" in m else []),
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


# What the size chart draws: the parameters weight decay acts on (logged for the featured run
# only), and the collapsed products every checkpoint keeps.
SIZES = ("all parameters (E, W_in, W_out)", "collapsed E·W_in and W_out·Eᵀ")


def size_chart(ctx: BuildContext):
    """The sum of squared weights over training, log scale: of all the parameters (the featured
    run logged it) and of the collapsed products (every run's checkpoints keep them)."""
    y = alt.Y("v:Q", title="Sum of squares (log)", scale=alt.Scale(type="log"), axis=alt.Axis(format="~s", tickCount=4))
    line = alt.Chart(alt.NamedData("size")).mark_line(strokeWidth=2).encode(
        x=_x(ctx), y=y, color=alt.Color("what:N", title=None, scale=alt.Scale(domain=list(SIZES), range=["#555", "#b07aa1"]),
                                        legend=alt.Legend(orient="bottom", columns=1)))
    chart = alt.layer(*_phase_layers(ctx, legend=False), line, *step_rule()).add_params(*_params(ctx, picker=False)).properties(
        width="container", height=150)
    return titled(each_run(ctx, chart, ("size", "phases")), "Sum of squared weights of")


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


@loader(persist=True)
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
    "progress-size": (("v", "a sum of squared weights, dimensionless"),
                      ("what", "whose: all the trained parameters E, W_in and W_out (the sum weight decay shrinks; logged "
                               "for the opening run only), or the collapsed products E W_in and W_out E^T (every checkpoint)"),
                      *PHASE_COLUMNS),
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
               "The sum of squares of all the trained parameters (E, W_in and W_out: what weight decay shrinks; the sister "
               "runs did not log it) and of the collapsed products E·W_in and W_out·Eᵀ. Move the pointer or use the arrow "
               "keys to pick a step for every chart of this section.",
               "Line chart on a log scale: both sums of squares grow while the model memorizes, then shrink, fastest "
               "during cleanup.",
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


# -- facts and claims: what the prose of "The progress hidden before the jump" says ------------
from builder.facts import claim, fact, listed  # noqa: E402

SRC = (mod_top.EXPERIMENT, mod_bot.SEEDS)  # measures() reads both
TOY = "toy"  # the source name of numbers simulated at build time (builder.analysis.toy), no artifact


def _featured(ctx: BuildContext) -> dict:
    return measures(ctx)[FEATURED]


def _ends(ctx: BuildContext) -> dict:
    return {name: end for name, _, end in _featured(ctx)["phases"]}


def _logged(ctx: BuildContext, key: str, step: int) -> float:
    """The opening run's logged `key` at the logged step nearest `step`."""
    r = mod_top.run(ctx)
    return float(r[key][int(np.argmin(np.abs(r["metric_step"] - step)))])


@fact("progress.test-peak", sources=(mod_top.EXPERIMENT,))
def test_peak(ctx: BuildContext) -> int:
    """The logged step where the opening run's test loss peaks: the end of memorization."""
    r = mod_top.run(ctx)
    return progress.test_peak(r["metric_step"], r["test_loss"])


@fact("progress.formed", sources=SRC)
def formed(ctx: BuildContext) -> int:
    """The end of circuit formation: the checkpoint where the excluded loss peaks."""
    return _ends(ctx)["circuit formation"]


@fact("progress.done", sources=SRC)
def done(ctx: BuildContext) -> int:
    """The end of cleanup: the first logged step with test loss below 0.001."""
    return _ends(ctx)["cleanup"]


@claim("progress.phases-agree", sources=SRC)
def phases_agree(ctx: BuildContext):
    """The phase shading ends memorization at the logged test-loss peak the prose quotes."""
    end = _ends(ctx)["memorization"]
    return end == test_peak(ctx), f"memorization ends at {end:,}, the test loss peaks at {test_peak(ctx):,}"


@fact("progress.test-fold", "{:.1f}", sources=SRC)
def test_fold(ctx: BuildContext) -> float:
    """How many times lower the logged test loss is at the end of circuit formation than at its peak."""
    return _logged(ctx, "test_loss", test_peak(ctx)) / _logged(ctx, "test_loss", formed(ctx))


@fact("progress.acc-formed", "{:.1%}", sources=SRC)
def acc_formed(ctx: BuildContext) -> float:
    """The highest test accuracy logged during circuit formation."""
    r = mod_top.run(ctx)
    during = (r["metric_step"] >= test_peak(ctx)) & (r["metric_step"] <= formed(ctx))
    return float(r["test_acc"][during].max())


def _start(ctx: BuildContext) -> int:
    """The first checkpoint at or after the test-loss peak (where the measures start)."""
    return progress.at_or_after(_featured(ctx)["step"], test_peak(ctx))


def _index(ctx: BuildContext, step: int) -> int:
    return progress.at_or_after(_featured(ctx)["step"], step)


@fact("progress.restricted-fold", "{:.0f}", sources=SRC)
def restricted_fold(ctx: BuildContext) -> float:
    """How many times lower the restricted loss is at the end of circuit formation than at its start."""
    m = _featured(ctx)
    return float(m["restricted_loss"][_start(ctx)] / m["restricted_loss"][_index(ctx, formed(ctx))])


@claim("progress.restricted-leads", sources=SRC)
def restricted_leads(ctx: BuildContext):
    """During circuit formation the restricted loss falls more than tenfold, further than the test loss."""
    return restricted_fold(ctx) > progress.DROP and restricted_fold(ctx) > test_fold(ctx), \
        f"restricted loss {restricted_fold(ctx):.1f}-fold, test loss {test_fold(ctx):.1f}-fold"


@claim("progress.excluded-rises", sources=SRC)
def excluded_rises(ctx: BuildContext):
    """The excluded loss rises during circuit formation, then falls back to about the loss of a
    model that guesses, ln(p)/p."""
    m = _featured(ctx)
    e0, e1, end = (float(m["excluded_loss"][i]) for i in (_start(ctx), _index(ctx, formed(ctx)), -1))
    guess = np.log(m["run"]["p"]) / m["run"]["p"]
    return e1 > 1.5 * e0 and end < e1 and abs(end - guess) < 0.03, \
        f"excluded loss {e0:.3f} -> {e1:.3f} (circuit formation) -> {end:.3f} at the end; guessing: {guess:.3f}"


@fact("progress.restricted-test-fold", "{:.0f}", sources=SRC)
def restricted_test_fold(ctx: BuildContext) -> float:
    """The same fall of the restricted loss taken on the held-out pairs (as Nanda et al.'s code takes it)."""
    m = _featured(ctx)
    return float(m["restricted_loss_test"][_start(ctx)] / m["restricted_loss_test"][_index(ctx, formed(ctx))])


@claim("progress.restricted-leads-held-out", sources=SRC)
def restricted_leads_held_out(ctx: BuildContext):
    """On the held-out pairs too the restricted loss falls more than tenfold during circuit formation."""
    return restricted_test_fold(ctx) > progress.DROP, f"{restricted_test_fold(ctx):.1f}-fold on the held-out pairs"


def _norm(ctx: BuildContext, step: int) -> float:
    """The opening run's sum of squared parameters at the logged step nearest `step`."""
    m = _featured(ctx)
    return float(m["param_norm"][int(np.argmin(np.abs(m["param_step"] - step)))])


@fact("progress.norm-growth", "{:.1f}", sources=SRC)
def norm_growth(ctx: BuildContext) -> float:
    """How many times its initial value the sum of squared parameters reaches during memorization."""
    m = _featured(ctx)
    return float(m["param_norm"].max() / m["param_norm"][0])


@claim("progress.norm-peaks-in-memorization", sources=SRC)
def norm_peaks(ctx: BuildContext):
    """The sum of squared parameters peaks by the end of memorization."""
    m = _featured(ctx)
    at = int(m["param_step"][int(np.argmax(m["param_norm"]))])
    grown = norm_growth(ctx)
    return at <= test_peak(ctx) and 1.7 < grown < 2.5, \
        f"peak ({grown:.2f} times the start: doubles) at step {at:,}, memorization ends at {test_peak(ctx):,}"


@fact("progress.norm-formation-drop", "{:.0%}", sources=SRC)
def norm_formation_drop(ctx: BuildContext) -> float:
    """How much of its peak the sum of squared parameters loses during circuit formation."""
    return 1 - _norm(ctx, formed(ctx)) / float(_featured(ctx)["param_norm"].max())


@fact("progress.norm-cleanup-drop", "{:.0%}", sources=SRC)
def norm_cleanup_drop(ctx: BuildContext) -> float:
    """How much it loses during cleanup."""
    return 1 - _norm(ctx, done(ctx)) / _norm(ctx, formed(ctx))


@fact("progress.formation-steps", sources=SRC)
def formation_steps(ctx: BuildContext) -> int:
    """Steps of circuit formation."""
    return formed(ctx) - test_peak(ctx)


@fact("progress.cleanup-steps", sources=SRC)
def cleanup_steps(ctx: BuildContext) -> int:
    """Steps of cleanup."""
    return done(ctx) - formed(ctx)


@claim("progress.cleanup-faster", sources=SRC)
def cleanup_faster(ctx: BuildContext):
    """The parameters shrink faster per step in cleanup than in circuit formation."""
    a = norm_formation_drop(ctx) / formation_steps(ctx)
    b = norm_cleanup_drop(ctx) / cleanup_steps(ctx)
    return b > 2 * a, f"per 1,000 steps: {1000 * a:.1%} in circuit formation, {1000 * b:.1%} in cleanup"


@fact("progress.collapsed-growth", "{:.0f}", sources=SRC)
def collapsed_growth(ctx: BuildContext) -> float:
    """How many times its initial value the collapsed products' sum of squares reaches."""
    m = _featured(ctx)
    return float(m["size"].max() / m["size"][0])


@fact("progress.gini", lambda v: listed(v, "{:.2f}"), sources=SRC)
def gini_path(ctx: BuildContext) -> list:
    """The Fourier sparsity at the start and end of circuit formation and at the end of cleanup."""
    g = _featured(ctx)["gini"]
    return [float(g[i]) for i in (_start(ctx), _index(ctx, formed(ctx)), _index(ctx, done(ctx)))]


@claim("progress.gini-rises", sources=SRC)
def gini_rises(ctx: BuildContext):
    """The Fourier sparsity rises through circuit formation and further in cleanup."""
    a, b, c = gini_path(ctx)
    return a < b < c, f"{a:.2f} -> {b:.2f} -> {c:.2f}"


def _reached(ctx: BuildContext) -> list[dict]:
    return [m for m in measures(ctx).values() if m["run"]["reached"]]


@fact("progress.lead-runs", sources=SRC)
def lead_runs(ctx: BuildContext) -> int:
    """Runs that generalized in which the restricted loss fell tenfold at an earlier checkpoint than the test loss."""
    return sum(m["lead"]["lead"] > 0 for m in _reached(ctx))


@claim("progress.lead-never-behind", sources=SRC)
def lead_never_behind(ctx: BuildContext):
    """In every run that generalized the restricted loss falls tenfold no later than the test loss."""
    leads = [m["lead"]["lead"] for m in _reached(ctx)]
    return all(v is not None and v >= 0 for v in leads), f"leads: least {min(leads)}, same checkpoint in {leads.count(0)}"


@fact("progress.lead-median", "{:,.0f}", sources=SRC)
def lead_median(ctx: BuildContext) -> float:
    """The median lead, in steps."""
    return float(np.median([m["lead"]["lead"] for m in _reached(ctx)]))


@fact("progress.lead-max", sources=SRC)
def lead_max(ctx: BuildContext) -> int:
    """The largest lead."""
    return max(m["lead"]["lead"] for m in _reached(ctx))


@fact("progress.sister-every", sources=SRC)
def sister_every(ctx: BuildContext) -> int:
    """How often the sister runs kept their weights, in steps."""
    return int(np.diff(next(m["step"] for k, m in measures(ctx).items() if k != FEATURED))[0])


def settled(m: dict) -> dict[int, int | None]:
    """Per key frequency: the checkpoint step from which its loss alone stays below every other
    frequency's for good (None if it never does)."""
    keys = list(m["run"]["groups"])
    ml = m["mode_loss"]
    others = [k - 1 for k in range(1, ml.shape[1] + 1) if k not in keys]
    floor = ml[:, others].min(axis=1)
    out = {}
    for k in keys:
        below = ml[:, k - 1] < floor
        out[k] = next((int(m["step"][i]) for i in range(len(below)) if below[i:].all()), None)
    return out


@fact("progress.mode-order", lambda v: ", ".join(
        f"frequency {k} at step {s:,}" for k, s in v[:-1]) + f" and frequency {v[-1][0]} only at step {v[-1][1]:,}",
      sources=SRC)
def mode_order(ctx: BuildContext) -> list:
    """The opening run's key frequencies in the order they settle, with the step."""
    return sorted(settled(_featured(ctx)).items(), key=lambda kv: kv[1])


@claim("progress.last-in-cleanup", sources=SRC)
def last_in_cleanup(ctx: BuildContext):
    """The last key frequency of the opening run settles during cleanup."""
    k, s = mode_order(ctx)[-1]
    return formed(ctx) <= s <= done(ctx), f"frequency {k} at step {s:,}; cleanup {formed(ctx):,}-{done(ctx):,}"


def _spreads(ctx: BuildContext) -> list[int]:
    out = []
    for m in _reached(ctx):
        steps = list(settled(m).values())
        if None in steps:
            raise ValueError(f"run {m['run']['key']}: a key frequency never settles")
        out.append(max(steps) - min(steps))
    return out


@fact("progress.staggered", sources=SRC)
def staggered(ctx: BuildContext) -> int:
    """Runs that generalized whose key frequencies settle at different checkpoints."""
    return sum(s > 0 for s in _spreads(ctx))


@fact("progress.stagger-median", "{:,.0f}", sources=SRC)
def stagger_median(ctx: BuildContext) -> float:
    """The median steps between a run's first and last key frequency settling."""
    return float(np.median(_spreads(ctx)))


def _mode_end(ctx: BuildContext, key: bool) -> tuple:
    m = _featured(ctx)
    keys = set(m["run"]["groups"])
    values = [float(m["mode_loss"][-1, k - 1]) for k in range(1, m["mode_loss"].shape[1] + 1) if (k in keys) == key]
    return min(values), max(values)


@fact("progress.mode-keys-end", lambda v: f"{v[0]:.3f} to {v[1]:.3f}", sources=SRC)
def mode_keys_end(ctx: BuildContext) -> tuple:
    """The loss with one key frequency kept, at the end (least, most)."""
    return _mode_end(ctx, True)


@fact("progress.mode-others-end", lambda v: f"{v[0]:.3f} to {v[1]:.3f}", sources=SRC)
def mode_others_end(ctx: BuildContext) -> tuple:
    """The same for every other frequency."""
    return _mode_end(ctx, False)


@claim("progress.keys-halve", sources=SRC)
def keys_halve(ctx: BuildContext):
    """Each key frequency alone at least halves the loss of guessing; no other frequency alone
    does better than 98% of it."""
    guess = np.log(67) / 67
    (a, b), (c, d) = mode_keys_end(ctx), mode_others_end(ctx)
    return b < 0.55 * guess and c > 0.98 * guess, f"keys {a:.3f}-{b:.3f}, others {c:.3f}-{d:.3f}, guessing {guess:.3f}"


# the toy (simulated here, no artifact)
def _toy_setting(r: dict, lr: float, wd: float) -> int:
    return int(np.flatnonzero(np.isclose(r["lr"], lr) & np.isclose(r["wd"], wd))[0])


@fact("progress.toy-minibatch-g", "{:.2f}", sources=(TOY,))
def toy_minibatch_g(ctx: BuildContext) -> float:
    """The generalizer after TOY_STEPS steps of minibatch AdamW at learning rate 0.001 and weight decay 0.01."""
    r = toy_runs(ctx)["adamw-minibatch"]
    return float(r["g"][_toy_setting(r, 1e-3, 0.01), -1])


@claim("progress.toy-sgd", sources=(TOY,))
def toy_sgd(ctx: BuildContext):
    """Under SGD the memorizers end at the smallest fit's value or below, the generalizer far above them."""
    r = toy_runs(ctx)["sgd"]
    _, m_min = toy.min_norm_fit()
    return bool((r["m_mean"][:, -1] < m_min + 1e-6).all() and (r["g"][:, -1] > 50 * r["m_mean"][:, -1]).all()), \
        f"memorizers' mean at most {r['m_mean'][:, -1].max():.4f} (smallest fit {m_min:.4f})"


@claim("progress.toy-adam-even", sources=(TOY,))
def toy_adam_even(ctx: BuildContext):
    """Under full-batch AdamW the generalizer and the memorizers end at 0.5, at every setting of the grid."""
    r = toy_runs(ctx)["adamw"]
    off = float(max(np.abs(r["g"][:, -1] - 0.5).max(), np.abs(r["m_mean"][:, -1] - 0.5).max()))
    return off < 0.01, f"furthest from 0.5: {off:.4f}"


@claim("progress.toy-short", sources=(TOY,))
def toy_short(ctx: BuildContext):
    """Under minibatch AdamW the generalizer stays well short of the smallest fit at every setting."""
    r = toy_runs(ctx)["adamw-minibatch"]
    g_min, _ = toy.min_norm_fit()
    return bool((r["g"][:, -1] < g_min - 0.05).all()), f"largest generalizer {r['g'][:, -1].max():.3f}, smallest fit {g_min:.3f}"


@claim("progress.loss-falls-before-accuracy", sources=(mod_top.EXPERIMENT,))
def loss_falls_before_accuracy(ctx: BuildContext):
    """By the time the opening run's test accuracy first reaches 5%, its test loss has fallen
    below half its peak."""
    r = mod_top.run(ctx)
    i = int(np.argmax(r["test_acc"] >= 0.05))
    ratio = float(r["test_loss"][i] / r["test_loss"].max())
    return ratio < 0.5, f"test loss {ratio:.0%} of its peak at step {int(r['metric_step'][i]):,}, the first with 5% test accuracy"
