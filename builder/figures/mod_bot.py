"""Section 5, "It's full of stars" (mod-bot): the opening model taken apart in the Fourier basis.

Read from the frozen run `mod-top` (the same run as section 1, on its own scrubber): the Fourier
coefficients of every neuron's input and output weights, the "stars" each frequency group
draws, and the logits each group produces for the reader's a and b, computed in the page from
the weights at the chosen step.
"""
from __future__ import annotations

import altair as alt
import numpy as np

from builder.analysis import fourier
from builder.figures import (Animation, Figure, Section, with_datasets, with_signal_handlers, with_variants,
                             with_params, with_vega_data)
from builder.figures import mod_top
from builder.figures._common import (CODES, MOD_AXES, STEP_RULE, LEVELS, TEST_COLOR, TRAIN_COLOR, heatmap, curve_rows, heatmap_params, raster,
                                     first_step, step_rule,
                                     loss_curves, packed, vmax_of)
from builder.facts import claim, fact, listed, percent, rate, rounded, sci, words
from builder.figures.context import BuildContext, loader

SECTION = "mod-bot"
SIDES = ("w_in", "w_out")
SIDE_NAMES = {"w_in": "input weights", "w_out": "output weights"}
SEEDS = "seeds-mod-top"  # the sister runs: the opening config with other init seeds
FEATURED = "seed0"  # the run drawn first: the opening model, seed 0
REACHED = 1e-3  # a run "generalized" when its test loss fell below this


def prepare(seed: int, step, w_in, w_out, metric_step, train_loss, test_loss) -> dict:
    """One run as this section draws it: neurons in (frequency, phase) order at the end, its
    key-frequency groups, and its curves."""
    w_in, w_out = np.asarray(w_in, np.float64), np.asarray(w_out, np.float64)
    order = fourier.neuron_order(w_in[-1])
    w_in, w_out = w_in[:, :, order], w_out[:, :, order]
    groups = fourier.key_frequencies(w_in[-1])
    group_of = np.full(w_in.shape[2], -1)
    for k, neurons in groups.items():
        group_of[neurons] = k
    test_loss = np.asarray(test_loss, np.float64)
    return {"seed": int(seed), "key": f"seed{int(seed)}", "step": np.asarray(step), "w_in": w_in, "w_out": w_out,
            "metric_step": np.asarray(metric_step), "train_loss": np.asarray(train_loss, np.float64),
            "test_loss": test_loss, "reached": bool(np.nanmin(test_loss) < REACHED),
            "groups": groups, "group_of": group_of, "p": w_in.shape[1], "hidden": w_in.shape[2]}


@loader
def run(ctx: BuildContext) -> dict:
    """The featured opening run (seed 0, the same run as section 1) prepared as above."""
    r = mod_top.run(ctx)
    return {**r, **prepare(0, r["step"], r["w_in"], r["w_out"], r["metric_step"], r["train_loss"], r["test_loss"])}


@loader
def runs(ctx: BuildContext) -> dict[str, dict]:
    """Every run the reader can pick: the featured one first, then each finished sister run."""
    out = {"seed0": run(ctx)}
    frozen = ctx.artifact(SEEDS)
    a = frozen.arrays
    for i in np.flatnonzero(a["done"]):
        if int(a["seed"][i]) != 0:
            r = prepare(a["seed"][i], a["checkpoint_step"], a["w_in"][i], a["w_out"][i],
                        a["curve_step"], a["train_curve"][i], a["test_curve"][i])
            # a sister run keeps only its final accuracies (its curves are losses)
            r["final_acc"] = {"train": float(a["final_train_acc"][i]), "test": float(a["final_test_acc"][i])}
            out[r["key"]] = r
    return out


def sections(ctx: BuildContext) -> list[Section]:
    steps = mod_top.steps(ctx)
    return [Section(SECTION, steps, steps[-1])]


# The stretch the "play generalization" link plays, in steps of the frozen run: test loss from
# 0.56 (step 20,000, still memorizing) to 1.9e-6 (step 30,000); tests/test_mod_bot.py checks it.
GENERALIZE = (20_000, 30_000)  # the window while the opening run has no frozen artifact yet
GENERALIZE_BEFORE, GENERALIZE_AFTER = 7_500, 2_000  # the window around the 99% step (20,000-30,000 in the frozen run)


def play_window(ctx: BuildContext) -> tuple[int, int]:
    """The steps the "play generalization" link plays, from the featured run itself: from the
    checkpoint GENERALIZE_BEFORE steps before its test accuracy first reaches 99% to the first
    checkpoint GENERALIZE_AFTER steps after it, so that another trajectory gets its own window.
    Registration never trains: without a current artifact, GENERALIZE."""
    frozen = ctx.current(mod_top.EXPERIMENT)
    if frozen is None:
        return GENERALIZE
    a = frozen.arrays
    at = first_step(np.asarray(a["metric_step"]), np.asarray(a["test_acc"]), 0.99)
    if at is None:
        return GENERALIZE
    steps = np.asarray(mod_top.steps(ctx))
    start = steps[steps <= max(at - GENERALIZE_BEFORE, 0)][-1]
    after = steps[steps >= at + GENERALIZE_AFTER]
    return int(start), int(after[0] if len(after) else steps[-1])


# A late improvement after a short plateau, in sister run seed 33: its test loss levels off at
# ~1e-4 (steps ~15,500 to ~17,000) while a fourth frequency group fills up, then falls 40-fold;
# tests/test_mod_bot.py checks it.
LATE, LATE_RUN = (14_000, 22_000), "seed33"


def animations(ctx: BuildContext) -> list[Animation]:
    return [Animation("mod-bot-generalize", SECTION, *play_window(ctx), 6.0, run=FEATURED),
            Animation("mod-bot-late", SECTION, *LATE, 6.0, run=LATE_RUN)]


# Which checkpoint a step shows: runs differ in how often they kept weights (the featured run
# every 500 steps, the sister runs every 2,000), so spacing and count are signals a run sets.
AT = "clamp(round(step / ck_every), 0, ck_last)"


def checkpoint_signals(r: dict) -> dict:
    steps = r["step"]
    every = int(steps[1] - steps[0])
    if steps[0] != 0 or not np.array_equal(steps, every * np.arange(len(steps))):
        raise ValueError(f"run {r['key']}: checkpoints must be evenly spaced from step 0")
    return {"ck_every": every, "ck_last": len(steps) - 1}


def run_params(ctx: BuildContext, r: dict, **signals) -> list:
    """The params every chart of the section has: the step, the chosen run, the hovered neuron
    and the signals a run sets (their values for the featured run)."""
    values = {**checkpoint_signals(r), **signals}
    return [alt.param(name="step", value=sections(ctx)[0].initial), alt.param(name="run", value=FEATURED),
            *(alt.param(name=k, value=v) for k, v in values.items())]


def each_run(ctx: BuildContext, chart, tables) -> dict:
    """The chart with a variant per run: tables(r) -> {"data": ..., "signals": ...}."""
    return with_variants(chart, {key: tables(r) for key, r in runs(ctx).items()})


def run_name(r: dict) -> str:
    return "the opening run (seed 0)" if r["key"] == FEATURED else f"seed {r['seed']}"


def loss_tables(r: dict) -> dict:
    return {"data": {"loss": curve_rows(r["metric_step"], {"train": r["train_loss"], "test": r["test_loss"]})},
            "signals": {"run_name": run_name(r)}}


def loss_chart(ctx: BuildContext, narrow: bool = False):
    """narrow: the phone layout (the title in two lines)."""
    r = run(ctx)
    chart = loss_curves(r, initial=sections(ctx)[0].initial, title="", height=170)
    # two lines: with a run's name one line would run past a phone's column
    chart["title"] = {"text": {"expr": "['Train and test loss (log scale) of', run_name]"}, "anchor": "start"}
    chart["params"] = chart.get("params", []) + [alt.param(name=k, value=v).param.to_dict()
                                                 for k, v in (("run", FEATURED), ("run_name", run_name(r)))]
    return each_run(ctx, chart, loss_tables)


def accuracy_tables(r: dict) -> dict:
    """The run's train and test accuracy: every logged step of the featured run; of a sister run,
    which kept only its final accuracies, those two points (`final` set, drawn as dots)."""
    if "final_acc" in r:
        last = int(r["metric_step"][-1])
        rows = [{"step": last, "v": round(v, 4), "split": split, "final": True} for split, v in r["final_acc"].items()]
        note = "(only its final accuracy was kept: dots)"
    else:
        rows = curve_rows(r["metric_step"], {"train": r["train_acc"], "test": r["test_acc"]})
        note = ""
    return {"data": {"accuracy": rows}, "signals": {"run_name": run_name(r), "acc_note": note}}


def accuracy_chart(ctx: BuildContext, narrow: bool = False):
    """The train and test accuracy of the run shown, scrubbed with the section; narrow: the phone
    layout (the title in lines short enough for its column)."""
    r = run(ctx)
    tables = accuracy_tables(r)
    last = int(r["metric_step"][-1])
    x = alt.X("step:Q", title="Training step", scale=alt.Scale(domain=[0, last], nice=False),
              axis=alt.Axis(format="~s", tickCount=5))
    y = alt.Y("v:Q", title="Accuracy", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%", tickCount=5))
    color = alt.Color("split:N", title=None, scale=alt.Scale(domain=["train", "test"], range=[TRAIN_COLOR, TEST_COLOR]),
                      legend=alt.Legend(orient="bottom-right", labelExpr="datum.label + ' accuracy'"))
    base = alt.Chart(alt.NamedData("accuracy"))
    lines = base.transform_filter("!datum.final").mark_line(strokeWidth=2).encode(x=x, y=y, color=color)
    dots = base.transform_filter("datum.final").mark_point(filled=True, size=70).encode(
        x=x, y=y, color=color, tooltip=[alt.Tooltip("split:N", title="split"), alt.Tooltip("v:Q", title="final accuracy", format=".1%")])
    rule, label = step_rule()
    title = "['Train and test accuracy of', run_name, acc_note]" if narrow else "['Train and test accuracy of ' + run_name, acc_note]"
    chart = alt.layer(lines, dots, rule, label).add_params(
        alt.param(name="step", value=sections(ctx)[0].initial), alt.param(name="run", value=FEATURED),
        *(alt.param(name=k, value=v) for k, v in tables["signals"].items())).properties(
        width="container", height=150, title=alt.Title(alt.expr(title), anchor="start"))
    return each_run(ctx, with_datasets(chart, tables["data"]), accuracy_tables)


def _fourier_axis(p: int) -> alt.Axis:
    ticks = [0] + [2 * k - 1 for k in range(5, fourier.n_frequencies(p) + 1, 5)]
    return alt.Axis(values=ticks, labelAngle=0,
                    labelExpr="datum.value == 0 ? 'const' : 'k ' + ceil(datum.value / 2)")


def dft_tables(r: dict) -> dict:
    coefficients = {side: fourier.project(r[side]) for side in SIDES}  # (checkpoints, p rows, neurons)
    return {"data": {f"dft_{side}": packed(c, r["step"], vmax_of(c), "fourier") for side, c in coefficients.items()},
            "signals": checkpoint_signals(r)}


def dft_chart(ctx: BuildContext, narrow: bool = False):
    """Each neuron's weights in the Fourier basis, scrubbed, on one fixed colour range per matrix;
    narrow: the phone layout (narrower cells, titles in two lines)."""
    r = run(ctx)
    coefficients = {side: fourier.project(r[side]) for side in SIDES}

    def title(side):
        lines = [f"Fourier coefficients of the {SIDE_NAMES[side]}", "(columns: const, then cos k and sin k)"]
        return lines if narrow else " ".join(lines)
    panels = [heatmap(f"dft_{side}", coefficients[side], r["step"], title(side),
                      x_title="frequency k", x_axis=_fourier_axis(r["p"]), tooltip=False, at=AT,
                      **({"cell": (4, 5)} if narrow else {}))
              for side in SIDES]
    chart = alt.vconcat(*panels, spacing=14).add_params(*run_params(ctx, r), alt.param(name="neuron", value=-1),
                                                        *heatmap_params())
    tables = dft_tables(r)
    return each_run(ctx, with_vega_data(chart, tables["data"]), dft_tables)


# A run that did not generalize spreads its neurons over up to 19 "groups" of one or two; the
# stars and waves charts show at most this many groups (the largest), two panels wide, so
# that no run makes them wider than a phone's column or taller than a few screens.
MAX_GROUPS = 6
SIDE_SHORT = {"w_in": "input", "w_out": "output"}


def shown_groups(r: dict) -> dict[int, list[int]]:
    """The key-frequency groups the stars and waves charts draw: all of them, or the MAX_GROUPS
    with the most neurons (ties: the lower frequency), in order of frequency."""
    groups = r["groups"]
    keep = sorted(groups, key=lambda k: (-len(groups[k]), k))[:MAX_GROUPS]
    return {k: groups[k] for k in sorted(keep)}


def groups_note(r: dict, what: str) -> list[str]:
    """A chart's title, in lines short enough for a phone: which groups it shows."""
    groups, shown = r["groups"], shown_groups(r)
    if not groups:
        return [f"{what}: this run has no key frequency"]
    if len(shown) < len(groups):
        return [f"{what}: the {len(shown)} largest of {len(groups)} groups", "(this run did not generalize)"]
    return [f"{what}: key frequencies {key_text(r)}"]


def star_rows(r: dict) -> list[dict]:
    """Per checkpoint, side and shown key frequency k (shown_groups): each of the group's
    neurons as the point (cos k, sin k coefficient), ranked by angle at that checkpoint, and
    the first one again (rank = group size, `close` set) to close the star. `panel` names the
    small chart (frequency and side) and `po` orders the panels: frequencies down, sides across."""
    rows = []
    shown = shown_groups(r)
    for side_index, side in enumerate(SIDES):
        cos, sin = fourier.cos_sin(r[side])  # (checkpoints, K, neurons)
        for g, (k, neurons) in enumerate(shown.items()):
            x, y = cos[:, k - 1, neurons], sin[:, k - 1, neurons]
            rank = np.argsort(np.argsort(np.arctan2(y, x), axis=1), axis=1)
            panel = {"side": SIDE_NAMES[side], "k": k, "panel": f"k = {k}, {SIDE_SHORT[side]}", "po": 2 * g + side_index}
            for s in range(len(r["step"])):
                for j, n in enumerate(neurons):
                    row = {"s": s, **panel, "n": int(n), "x": round(float(x[s, j]), 2), "y": round(float(y[s, j]), 2)}
                    rows.append({**row, "o": int(rank[s, j])})
                    if rank[s, j] == 0:
                        rows.append({**row, "o": len(neurons), "close": 1})
    return rows


def star_tables(r: dict) -> dict:
    rows = star_rows(r)
    reach = 1.1 * max((max(abs(row["x"]), abs(row["y"])) for row in rows), default=1.0)
    return {"data": {"stars": rows}, "signals": {**checkpoint_signals(r), "reach": round(reach, 1),
                                                 "stars_title": groups_note(r, "Stars")}}


STAR_SIZE = 112  # px: one small chart; two side by side with the axis fit a 340 px column


def stars_chart(ctx: BuildContext, narrow: bool = False):
    """One small chart per shown key frequency and side, two columns (input, output) and a row
    per frequency, whatever the run: its width never grows with the number of groups.
    narrow: the phone layout, smaller panels."""
    r = run(ctx)
    tables = star_tables(r)
    scale = alt.Scale(domain=[alt.ExprRef("-reach"), alt.ExprRef("reach")], nice=False)
    enc = dict(x=alt.X("x:Q", title="cos coefficient", scale=scale, axis=alt.Axis(tickCount=3)),
               y=alt.Y("y:Q", title="sin coefficient", scale=scale, axis=alt.Axis(tickCount=3)))
    lines = alt.Chart().mark_line(color="#888", strokeWidth=1).encode(order="o:Q", **enc)
    highlight = "neuron < 0 || datum.n == neuron"
    dots = alt.Chart().transform_filter("!datum.close").transform_calculate(
        n1="datum.n + 1").mark_circle(size=40).encode(
        color=alt.condition(highlight, alt.value(TRAIN_COLOR), alt.value("#bbb")),
        tooltip=[alt.Tooltip("n1:O", title="neuron"), alt.Tooltip("k:O", title="frequency")], **enc)
    side = dict(title=None, sort=list(SIDE_NAMES.values()))
    chart = alt.layer(lines, dots, data=alt.NamedData("stars")).transform_filter(f"datum.s == {AT}").properties(
        width=92 if narrow else STAR_SIZE, height=92 if narrow else STAR_SIZE).facet(
        facet=alt.Facet("panel:N", title=None, sort=alt.EncodingSortField("po", op="min"),
                        header=alt.Header(labelFontSize=11, labelPadding=3)),
        columns=2, spacing={"row": 8, "column": 10},
    ).properties(title=alt.Title(alt.expr("stars_title"), anchor="start", fontSize=12)).add_params(
        *run_params(ctx, r, reach=tables["signals"]["reach"], stars_title=tables["signals"]["stars_title"]),
        alt.param(name="neuron", value=-1))
    return each_run(ctx, with_datasets(chart, tables["data"]), star_tables)


def wave_tables(r: dict) -> dict:
    """The packed input weights of every checkpoint, and for each neuron the panel it is drawn
    in ("" when its group is not shown) and its group's frequency."""
    shown = shown_groups(r)
    panels, freqs = [""] * r["hidden"], [0] * r["hidden"]
    for k, neurons in shown.items():
        for n in neurons:
            panels[n], freqs[n] = f"frequency {k}", k
    return {"data": {"waves_w_in": packed(r["w_in"], r["step"], vmax_of(r["w_in"]), "input")},
            "signals": {**checkpoint_signals(r), "wave_level": vmax_of(r["w_in"]) / LEVELS, "wave_panels": panels,
                        "wave_freqs": freqs, "waves_title": groups_note(r, "Waves")}}


WAVE_SIZE = (124, 64)  # px: one small chart; two across with the axis fit a 340 px column


def waves_chart(ctx: BuildContext):
    """Section 1's waves for the run and step shown in this section: each neuron's 67 input
    weights at the chosen step, one small chart per shown key-frequency group (two across),
    the inputs by default in the order k x mod p that makes a frequency-k wave one cosine.
    Computed in the page from the packed weights of that step, as the logits are."""
    r = run(ctx)
    p, hidden = r["p"], r["hidden"]
    tables = wave_tables(r)
    row = f"data('waves_w_in')[{AT}].w"
    index = f"datum.n * {p} + datum.t"
    points = alt.Chart(alt.sequence(0, p * hidden, as_="i")).transform_calculate(
        n=f"floor(datum.i / {p})", t=f"datum.i % {p}"
    ).transform_calculate(panel="wave_panels[datum.n]", k="wave_freqs[datum.n]").transform_filter(
        "datum.panel != ''"
    ).transform_calculate(
        w=f"(indexof(codes, substring({row}, {index}, {index} + 1)) - {LEVELS}) * wave_level",
        x=f"unwrap ? (datum.k * datum.t) % {p} : datum.t", n1="datum.n + 1",
    )
    highlight = "neuron < 0 || datum.n == neuron"
    chart = points.mark_line(strokeWidth=1.5).encode(
        x=alt.X("x:Q", title="input order (see the box)", scale=alt.Scale(domain=[0, p - 1], nice=False),
                axis=alt.Axis(values=[0, p // 2, p - 1])),
        y=alt.Y("w:Q", title="weight", axis=alt.Axis(tickCount=3)),
        detail="n:N", order="x:Q",
        color=alt.condition(highlight, alt.value(TRAIN_COLOR), alt.value("#bbb")),
        opacity=alt.condition(highlight, alt.value(0.9), alt.value(0.25)),
        tooltip=[alt.Tooltip("n1:N", title="neuron"), alt.Tooltip("t:Q", title="input"), alt.Tooltip("w:Q", format=".2f", title="weight")],
    ).properties(width=WAVE_SIZE[0], height=WAVE_SIZE[1]).facet(
        facet=alt.Facet("panel:N", title=None, sort=alt.EncodingSortField("k", op="min"),
                        header=alt.Header(labelFontSize=11, labelPadding=3)),
        columns=2, spacing={"row": 8, "column": 10},
    ).properties(title=alt.Title(alt.expr("waves_title"), anchor="start", fontSize=12))
    signals = tables["signals"]
    chart = chart.add_params(
        *run_params(ctx, r, **{k: v for k, v in signals.items() if k not in ("ck_every", "ck_last")}),
        alt.param(name="neuron", value=-1), alt.param(name="codes", value=CODES),
        alt.param(name="unwrap", value=True, bind=alt.binding_checkbox(
            name="Inputs in the order k × input mod 67 (untick for 0, 1, 2, …) ")))
    return each_run(ctx, with_vega_data(chart, tables["data"]), wave_tables)


def logit_tables(r: dict) -> dict:
    """The packed weights of every checkpoint (91 levels of a fixed range per matrix), each
    matrix's level size, and each neuron's group (label and frequency)."""
    scales = {side: vmax_of(r[side]) for side in SIDES}
    labels = [f"frequency {k}" if k > 0 else "no clear frequency" for k in r["group_of"]]
    return {"data": {f"logit_{side}": packed(r[side], r["step"], scales[side], MOD_AXES[side]) for side in SIDES},
            "signals": {**checkpoint_signals(r), **{f"level_{side}": scales[side] / LEVELS for side in SIDES},
                        "groups": labels, "freqs": [int(k) for k in r["group_of"]]}}


def logits_chart(ctx: BuildContext, narrow: bool = False):
    """For the reader's a and b: the p logits that each key-frequency group alone produces at the
    chosen step, sum_n ReLU(W_input[a, n] + W_input[b, n]) W_output[c, n] over the group's n,
    and their sum over all neurons. Computed in the page from the packed weights of that step
    (the heatmaps' tables: 91 levels per matrix), no table of every a, b and step. narrow: the
    phone layout, the groups two a row."""
    r = run(ctx)
    p, hidden = r["p"], r["hidden"]
    tables = logit_tables(r)

    def weight(side: str, token: str) -> str:
        row = f"data('logit_{side}')[{AT}].w"
        index = f"datum.n * {p} + {token}"
        return f"(indexof(codes, substring({row}, {index}, {index} + 1)) - {LEVELS}) * level_{side}"

    terms = alt.Chart(alt.sequence(0, p * hidden, as_="i")).transform_calculate(
        c=f"floor(datum.i / {hidden})", n=f"datum.i % {hidden}"
    ).transform_calculate(
        group="groups[datum.n]", k="freqs[datum.n]",
        term=f"max({weight('w_in', 'a')} + {weight('w_in', 'b')}, 0) * {weight('w_out', 'datum.c')}",
    )
    answer = f"(a + b) % {p}"
    colour = alt.condition(f"datum.c == {answer}", alt.value(TEST_COLOR), alt.value("#9db4cc"))
    x = alt.X("c:O", title="answer c", axis=alt.Axis(values=list(range(0, p, 11)), labelAngle=0))
    # unwrapped (the default), a group of frequency k is drawn at k (c - answer) mod p, centred on
    # the answer: its zigzag becomes one cosine with the right answer at the peak (as in section
    # 1's waves); the x title says which order is shown
    half = p // 2
    per_group = terms.transform_aggregate(logit="sum(term)", groupby=["c", "group", "k"]).transform_calculate(
        pos=f"unwrap && datum.k > 0 ? (((datum.k * (datum.c - {answer})) % {p} + {p} + {half}) % {p}) - {half} : datum.c",
        order="datum.k > 0 ? datum.k : 1000",  # groups by frequency, "no clear frequency" last
    ).mark_bar(width=2).encode(
        x=alt.X("pos:Q", title="answer order (see the box)", axis=alt.Axis(tickCount=5),
                scale=alt.Scale(domain=[alt.ExprRef(f"unwrap ? -{half} - 1 : -1"), alt.ExprRef(f"unwrap ? {half + 1} : {p}")], nice=False)),
        y=alt.Y("logit:Q", title="logit"), color=colour,
        tooltip=[alt.Tooltip("c:O", title="answer"), alt.Tooltip("logit:Q", format=".2f")],
    ).properties(width=116 if narrow else 200, height=90).facet(  # wrapped: a run with many groups grows down, not across
        facet=alt.Facet("group:N", title=None, sort=alt.EncodingSortField("order", op="min")), columns=2 if narrow else 3)
    total = terms.transform_aggregate(logit="sum(term)", groupby=["c"]).mark_bar().encode(
        x=x, y=alt.Y("logit:Q", title="logit"), color=colour,
        tooltip=[alt.Tooltip("c:O", title="answer"), alt.Tooltip("logit:Q", format=".2f")],
    ).properties(width=260 if narrow else 640, height=110, title=alt.Title(
        alt.expr(f"['All neurons together:', 'a + b = ' + a + ' + ' + b + ' = ' + {answer} + ' (mod {p})']" if narrow else
                 f"'All neurons together: a + b = ' + a + ' + ' + b + ' = ' + {answer} + ' (mod {p})'"), anchor="start", fontSize=12))
    chart = alt.vconcat(per_group, total, spacing=16)
    signals = {k: v for k, v in tables["signals"].items() if k not in ("ck_every", "ck_last")}
    chart = with_params(chart, (
        *run_params(ctx, r, **signals),
        alt.param(name="a", value=10, bind=alt.binding_range(min=0, max=p - 1, step=1, name="a ")),
        alt.param(name="b", value=30, bind=alt.binding_range(min=0, max=p - 1, step=1, name="b ")),
        alt.param(name="unwrap", value=True, bind=alt.binding_checkbox(
            name="Each group's answers in the order k·(c − answer) mod 67, where its logits are one cosine "
                 "(untick for c = 0, 1, 2, …: a zigzag) ")),
        alt.param(name="codes", value=CODES)))
    return each_run(ctx, with_vega_data(chart, tables["data"]), logit_tables)


def key_text(r: dict) -> str:
    keys = [str(k) for k in r["groups"]]
    return "no key frequency" if not keys else keys[0] if len(keys) == 1 else ", ".join(keys[:-1]) + " and " + keys[-1]


def grid_keys(r: dict) -> str:
    """A small chart's title: the key frequencies of a run that generalized; of one that did not,
    only their number (its weights are large and spread over many waves: not a solution)."""
    keys = [str(k) for k in r["groups"]]
    return " ".join(keys) if r["reached"] else f"{len(keys)} freqs"


def run_label(key: str, r: dict) -> str:
    """The run's entry in the list under the grid."""
    name = f"seed {r['seed']}" + (" (the opening run)" if key == FEATURED else "")
    if not r["reached"]:
        return f"{name}: did not generalize (weights spread over {len(r['groups'])} frequencies)"
    return f"{name}: key frequencies {key_text(r)}"


def summary(ctx: BuildContext) -> dict:
    """What the seeds chart's title states: runs, how many reached test loss < REACHED, and how
    many key frequencies those runs use (count -> runs)."""
    rs = list(runs(ctx).values())
    reached = [r for r in rs if r["reached"]]
    counts: dict[int, int] = {}
    for r in reached:
        counts[len(r["groups"])] = counts.get(len(r["groups"]), 0) + 1
    return {"runs": len(rs), "reached": len(reached), "key_counts": dict(sorted(counts.items()))}


def summary_line(ctx: BuildContext) -> str:
    s = summary(ctx)
    counts = ", ".join(f"{n} in {c}" for n, c in s["key_counts"].items())
    return (f"{s['reached']} of these {s['runs']} runs reached a test loss below 0.001; "
            f"the number of key frequencies they use: {counts}.")


CELL = (96, 44)  # width, height of one small loss chart
NARROW_CELL = (66, 40)  # the same on a phone (the curves drawn at CELL, scaled)


def seeds_chart(ctx: BuildContext, narrow: bool = False):
    """One small loss chart per run, titled with its key frequencies; clicking (tapping) one, or
    picking it in the list, sets the section's `run`: every chart of the section then loads it.
    narrow: the phone layout, three charts a row, the title and summary in lines."""
    from builder.training import sweep
    rs = runs(ctx)
    featured = rs[FEATURED]
    steps = np.asarray(ctx.artifact(SEEDS).arrays["curve_step"])
    picks = sweep.curve_picks(len(featured["metric_step"]), len(steps))
    if not np.array_equal(featured["metric_step"][picks], steps):
        raise ValueError("the featured run's curves are not logged at the sister runs' steps")
    floor = -8.0  # float32 losses bottom out near 1e-7

    def curve(values, at=slice(None)):
        return [round(max(float(np.log10(max(v, 1e-30))), floor), 2) for v in np.asarray(values)[at]]

    w, h = CELL
    cw, ch = NARROW_CELL if narrow else CELL  # the size shown
    x = alt.X("step:Q", title=None, scale=alt.Scale(domain=[0, int(steps[-1])], nice=False),
              axis=alt.Axis(values=[0, int(steps[-1]) // 2, int(steps[-1])], format="~s", labelFontSize=8, grid=False))
    y = alt.Y("v:Q", title=None, scale=alt.Scale(domain=[floor, 0], nice=False),
              axis=alt.Axis(values=[0, -4, -8], labelExpr="'1e' + datum.value", labelFontSize=8, grid=False))
    split = alt.Color("split:N", scale=alt.Scale(domain=["tr", "te"], range=[TRAIN_COLOR, TEST_COLOR]), legend=None)

    def drawn(tr, te):  # a run's two curves, drawn once at build time (a Vega view of all 130 took ~0.8 s)
        points = [{"step": int(s), "v": v, "split": name} for name, vs in (("tr", tr), ("te", te)) for s, v in zip(steps, vs)]
        return raster(alt.Chart(alt.Data(values=points)).mark_line(strokeWidth=1).encode(
            x=x.axis(None), y=y.axis(None), color=split).properties(width=w, height=h))

    titles, rows = {}, []
    for order, (key, r) in enumerate(rs.items()):
        titles[key] = run_label(key, r)
        at = picks if key == FEATURED else slice(None)
        title = f"seed {r['seed']} · {grid_keys(r)}"
        rows.append({"key": key, "ord": order, "title": title, "reached": r["reached"],
                     "img": drawn(curve(r["train_loss"], at), curve(r["test_loss"], at)), "step": 0, "v": floor})
    base = alt.Chart()
    back = base.mark_rect(cursor="pointer").encode(
        x=alt.value(0), x2=alt.value(cw), y=alt.value(0), y2=alt.value(ch),
        fill=alt.condition("datum.key == run", alt.value("#e8a44a"), alt.value("#888")),
        fillOpacity=alt.condition("datum.key == run", alt.value(0.28), alt.value(0.02)),
        stroke=alt.condition("datum.key == run", alt.value("#c0731a"), alt.value("#bbb")),
        strokeWidth=alt.condition("datum.key == run", alt.value(2), alt.value(0.5)),
        tooltip=[alt.Tooltip("title:N", title="run")])
    lines = base.mark_image(aspect=False, align="left", baseline="top", width=cw, height=ch, cursor="pointer", aria=False).encode(
        url="img:N", x=alt.value(0), y=alt.value(0), tooltip=[alt.Tooltip("title:N", title="run")])
    axes = base.mark_point(opacity=0).encode(x=x, y=y)  # the scales and axes of the drawn curves
    chart = alt.layer(back, lines, axes, data=alt.NamedData("seeds")).properties(width=cw, height=ch).facet(
        facet=alt.Facet("title:N", sort=alt.EncodingSortField("ord", op="min"), title=None,
                        header=alt.Header(labelFontSize=9, labelLimit=cw + 20, labelPadding=2)),
        columns=3 if narrow else 6, spacing={"row": 6, "column": 10},
    ).properties(title=alt.Title(**_seeds_title(ctx, narrow), anchor="start", fontSize=12, subtitleFontSize=11))
    keys = list(rs)
    chart = chart.add_params(
        alt.param(name="step", value=sections(ctx)[0].initial),
        alt.param(name="run", value=FEATURED, bind=alt.binding_select(
            options=keys, labels=[titles[k] for k in keys], name="Run shown in this section ")),
        alt.param(name="titles", value=titles),
        alt.param(name="chosen", expr="titles[run]"))  # the prose shows it: [..]{show="mod-bot.chosen"}
    pick = "datum && isValid(datum.key) ? datum.key : run"
    return with_signal_handlers(with_datasets(chart, {"seeds": rows}),
                                {"run": [{"events": "click", "update": pick}]})


def _seeds_title(ctx: BuildContext, narrow: bool) -> tuple:
    """The seeds chart's title and subtitle: in lines about 45 characters long in the narrow layout."""
    import textwrap

    title = "Each run's train (blue) and test (red) loss, log scale, titled by seed and key frequencies"
    if not narrow:
        return {"text": title, "subtitle": summary_line(ctx)}
    return {"text": textwrap.wrap(title, 45), "subtitle": textwrap.wrap(summary_line(ctx), 50)}


STARS_COLUMNS = (
    ("s", "checkpoint index into the run's checkpoints, evenly spaced from step 0 to its last step "
          "(the opening run's 101: step s x 500; each sister run's 26: step s x 2,000)"),
    ("side", "which weights: input weights (W_input) or output weights (W_output)"),
    ("k", "the group's key frequency k"), ("panel", "the small chart the point is drawn in (frequency and side)"),
    ("po", "the small chart's place in the layout, from 0"), ("n", "neuron index, from 0"),
    ("x", "the neuron's cos k Fourier coefficient (orthonormal basis over the 67 inputs), dimensionless"),
    ("y", "the neuron's sin k Fourier coefficient, dimensionless"),
    ("o", "the point's place, from 0, in the order of angle the line joins them in"),
    ("close", "1 on the repeated first point that closes the star (empty otherwise)"),
)
SEEDS_COLUMNS = (
    ("ord", "the run's place in the list, from 0"), ("title", "the small chart's title: the seed and its key frequencies"),
    ("reached", f"true when the run's test loss fell below {REACHED:g} (it generalized)"),
    ("seeds.step", "the small chart's frame: its left edge, step 0 (each run's curves are drawn as an image; "
                   "data/mod-bot-loss/run-<key>.csv has them)"),
    ("v", "the small chart's frame: its bottom edge, log10 of the loss (-8, i.e. 1e-8 nats)"),
)


def figures(ctx: BuildContext) -> list[Figure]:
    src = (mod_top.EXPERIMENT, SEEDS)  # every chart can show each sister run (each_run)
    return [
        Figure("mod-bot-loss", SECTION,
               "Train and test loss of the run shown in this section (at first the opening model; pick another under the last chart). "
               "Move the pointer or use the arrow keys to pick a step for the charts below.",
               "Line chart of train and test loss on a log scale: the train loss falls at once, the test loss only much later (for the opening run, late in training).",
               loss_chart, scrub=STEP_RULE, sources=src, narrow=lambda ctx: loss_chart(ctx, narrow=True)),
        Figure("mod-bot-accuracy", SECTION,
               "Train and test accuracy of the run shown in this section (a sister run kept only its final accuracy). "
               "Move the pointer or use the arrow keys to pick a step for the charts below.",
               "Line chart of train and test accuracy: the train accuracy reaches 100% at once, the test accuracy stays near "
               "zero for most of training and then climbs to 100%.",
               accuracy_chart, scrub=STEP_RULE, sources=src, narrow=lambda ctx: accuracy_chart(ctx, narrow=True),
               columns=(("final", "true where the run kept only its accuracy at the end of training (a sister run): "
                                  "the row is that final value, drawn as a dot"),)),
        Figure("mod-bot-waves", SECTION,
               "Each neuron's 67 input weights at the chosen step, grouped by the frequency it ends up using, with the inputs in "
               "the order k × input mod 67 (untick the box for 0, 1, 2, …). Hover a line to find that neuron in the other charts.",
               "Small line charts, one per key frequency, of the input weights of that frequency's neurons at the chosen step: "
               "noise while the model memorizes, one smooth cosine per neuron once it generalizes.",
               waves_chart, hover="n", sources=src),
        Figure("mod-bot-dft", SECTION,
               "Every neuron's weights written as a sum of waves: one column per wave, one row per neuron (orange positive, blue negative).",
               "Two heatmaps of Fourier coefficients, 67 columns by 24 neurons, for the input and output weights; noisy at first, then nonzero only in a few columns.",
               dft_chart, hover="n", sources=src, narrow=lambda ctx: dft_chart(ctx, narrow=True)),
        Figure("mod-bot-stars", SECTION,
               "For each key frequency, its neurons as points (their cos and sin coefficients), joined in order of angle.",
               "Small scatter plots, one per key frequency, for input and output weights: the points of each group spread into an evenly spaced ring.",
               stars_chart, hover="n", sources=src, narrow=lambda ctx: stars_chart(ctx, narrow=True), columns=STARS_COLUMNS),
        Figure("mod-bot-logits", SECTION,
               "Pick a and b: the logits that each frequency group produces on its own at the chosen step (its answers in the order "
               "k·(c − answer) mod 67, the right one in the middle; untick the box for 0, 1, 2, …), and all groups together; "
               "the red bar is the right answer.",
               "Bar charts of 67 logits per frequency group and in total; each group draws a cosine wave that peaks at a + b mod 67.",
               logits_chart, sources=src, narrow=lambda ctx: logits_chart(ctx, narrow=True)),
        Figure("mod-bot-seeds", SECTION,
               "The same model trained from other random starting weights, each titled with its key frequencies. "
               "Click or tap one, or pick it in the list, and every chart of this section shows that run.",
               "Small line charts of train and test loss, one per run; most test losses fall late, some never do.",
               seeds_chart, shares=("run",), sources=src, narrow=lambda ctx: seeds_chart(ctx, narrow=True),
               columns=SEEDS_COLUMNS),
    ]


# -- facts and claims: what the prose of "It's full of stars" says (builder.facts) -----------
SRC = (mod_top.EXPERIMENT, SEEDS)
PROBE = 10_000  # a step deep in memorization, where the prose measures how mixed the waves are


def _at_step(r: dict, step: int) -> int:
    """The index of the checkpoint nearest `step`."""
    return int(np.argmin(np.abs(np.asarray(r["step"]) - step)))


@fact("stars.probe-step", sources=(mod_top.EXPERIMENT,))
def probe_step(ctx: BuildContext) -> int:
    """The checkpoint where the prose measures how mixed the memorizing weights are."""
    r = run(ctx)
    return int(r["step"][_at_step(r, PROBE)])


@fact("stars.share-probe", percent(0), sources=(mod_top.EXPERIMENT,))
def share_probe(ctx: BuildContext) -> float:
    """Mean share of a neuron's input-weight energy in its strongest frequency, at that step."""
    r = run(ctx)
    return float(fourier.energy_in_top(r["w_in"][_at_step(r, PROBE)], 1).mean())


@fact("stars.group-sizes", listed, sources=(mod_top.EXPERIMENT,))
def group_sizes(ctx: BuildContext) -> list:
    """Neurons in each key-frequency group of the opening run, in order of frequency."""
    return [len(v) for v in run(ctx)["groups"].values()]


@fact("stars.share-end-in", percent(0), sources=(mod_top.EXPERIMENT,))
def share_end_in(ctx: BuildContext) -> float:
    """Mean share of a neuron's input-weight energy in its strongest frequency at the end."""
    return float(fourier.energy_in_top(run(ctx)["w_in"][-1], 1).mean())


@fact("stars.share-end-out", percent(1), sources=(mod_top.EXPERIMENT,))
def share_end_out(ctx: BuildContext) -> float:
    """The same for the output weights."""
    return float(fourier.energy_in_top(run(ctx)["w_out"][-1], 1).mean())


@fact("stars.play-from", sources=(mod_top.EXPERIMENT,))
def play_from(ctx: BuildContext) -> int:
    """First step of the "play the generalization" animation."""
    return play_window(ctx)[0]


@fact("stars.play-to", sources=(mod_top.EXPERIMENT,))
def play_to(ctx: BuildContext) -> int:
    """Last step of that animation."""
    return play_window(ctx)[1]


def key_share(w: np.ndarray, keys) -> np.ndarray:
    """Share of each neuron's non-constant Fourier energy in the key frequencies' cos and sin rows."""
    c = fourier.project(w)
    rows = [2 * k - 1 for k in keys] + [2 * k for k in keys]
    return np.square(c[..., rows, :]).sum(-2) / np.square(c[..., 1:, :]).sum(-2)


@claim("stars.generalize-window", sources=(mod_top.EXPERIMENT,))
def generalize_window(ctx: BuildContext):
    """The animation starts while the model still memorizes and ends once it has generalized,
    and the key frequencies take over the input weights in between."""
    r = run(ctx)
    window = play_window(ctx)
    start, end = (int(np.argmin(np.abs(r["metric_step"] - s))) for s in window)
    t0, t1 = r["test_loss"][start], r["test_loss"][end]
    keys = list(r["groups"])
    s0, s1 = (key_share(r["w_in"][_at_step(r, s)], keys).mean() for s in window)
    holds = t0 > 0.1 and t1 < 1e-5 and s0 < 0.4 and s1 > 0.7
    return holds, f"test loss {t0:.3g} -> {t1:.2g}, key frequencies' share of the input weights {s0:.2f} -> {s1:.2f}"


@claim("stars.waves-straighten", sources=(mod_top.EXPERIMENT,))
def waves_straighten(ctx: BuildContext):
    """At the start every neuron's weights spread over many frequencies; at the end every
    neuron's input and output weights lie almost wholly in the key frequencies."""
    r = run(ctx)
    keys = list(r["groups"])
    start = max(key_share(r[side][0], keys).mean() for side in SIDES)
    end = min(key_share(r[side][-1], keys).min() for side in SIDES)
    return start < 0.3 and end > 0.8, f"key frequencies' share: mean {start:.2f} at step 0, least {end:.2f} at the end"


def ring_gaps(r: dict) -> dict[int, float]:
    """Per key frequency: the largest gap, in degrees, between the phases of its neurons around
    the circle, the worse of the input and the output side (a ring leaves no half empty)."""
    out = {}
    for k, neurons in r["groups"].items():
        gaps = []
        for side in SIDES:
            cos, sin = fourier.cos_sin(r[side][-1])
            angle = np.sort(np.arctan2(sin[k - 1, neurons], cos[k - 1, neurons]))
            gaps.append(np.degrees(np.diff(np.concatenate([angle, [angle[0] + 2 * np.pi]])).max()))
        out[k] = float(max(gaps))
    return out


def is_ring_run(r: dict) -> bool:
    """Every group of the run spreads its neurons around the circle: no phase gap of 180° or more."""
    return bool(r["groups"]) and max(ring_gaps(r).values()) < 180


@claim("stars.rings", sources=(mod_top.EXPERIMENT,))
def rings(ctx: BuildContext):
    """In the opening run each group's neurons spread around a ring, on both sides."""
    gaps = ring_gaps(run(ctx))
    return max(gaps.values()) < 180, "largest phase gap per group: " + ", ".join(f"k {k}: {g:.0f}°" for k, g in gaps.items())


@fact("stars.first-key", sources=(mod_top.EXPERIMENT,))
def first_key(ctx: BuildContext) -> int:
    """The lowest key frequency of the opening run (the prose's example)."""
    return list(run(ctx)["groups"])[0]


@fact("stars.inverse", sources=(mod_top.EXPERIMENT,))
def inverse(ctx: BuildContext) -> int:
    """k⁻¹ mod p for that k: answers this far apart from the right one score almost as high on
    a frequency-k wave, since k · k⁻¹ = 1 (mod p) puts them one step along the wave."""
    return pow(first_key(ctx), -1, run(ctx)["p"])


def group_logits(w_in, w_out, neurons, a, b) -> np.ndarray:
    return np.maximum(w_in[a, neurons] + w_in[b, neurons], 0) @ w_out[:, neurons].T


def alone_right(r: dict) -> dict[int, float]:
    """Per key frequency: the share of all p² pairs its group alone answers right (at the end)."""
    p, w_in, w_out = r["p"], r["w_in"][-1], r["w_out"][-1]
    c = np.arange(p)
    out = {}
    for k, neurons in r["groups"].items():
        h = np.maximum(w_in[:, None, neurons] + w_in[None, :, neurons], 0)
        out[k] = float(((h @ w_out[:, neurons].T).argmax(-1) == (c[:, None] + c[None, :]) % p).mean())
    return out


@fact("stars.alone-min", percent(0), sources=(mod_top.EXPERIMENT,))
def alone_min(ctx: BuildContext) -> float:
    """The least share of pairs one group alone answers right."""
    return min(alone_right(run(ctx)).values())


@fact("stars.alone-max", percent(0), sources=(mod_top.EXPERIMENT,))
def alone_max(ctx: BuildContext) -> float:
    """The largest share."""
    return max(alone_right(run(ctx)).values())


@claim("stars.group-cosine", sources=(mod_top.EXPERIMENT,))
def group_cosine(ctx: BuildContext):
    """Each group's logits trace a cosine of its frequency that peaks within three places (on
    the wave) of the right answer, for a few sample pairs."""
    r = run(ctx)
    p, w_in, w_out = r["p"], r["w_in"][-1], r["w_out"][-1]
    c = np.arange(p)
    worst_corr, worst_off = 1.0, 0.0
    for k, neurons in r["groups"].items():
        for a, b in ((10, 30), (0, 0), (66, 5)):
            logits = group_logits(w_in, w_out, neurons, a, b)
            worst_corr = min(worst_corr, float(np.corrcoef(logits, np.cos(2 * np.pi * k * (c - (a + b)) / p))[0, 1]))
            phase = np.angle(np.sum(logits * np.exp(2j * np.pi * k * c / p)))
            worst_off = max(worst_off, abs(float(np.angle(np.exp(1j * (phase - 2 * np.pi * k * (a + b) / p))))) * p / (2 * np.pi))
    return worst_corr > 0.9 and worst_off < 3, f"least correlation with the cosine {worst_corr:.3f}, peak off by up to {worst_off:.2f} places"


@claim("stars.all-right", sources=(mod_top.EXPERIMENT,))
def all_right(ctx: BuildContext):
    """All neurons together answer every one of the p² pairs right."""
    r = run(ctx)
    p, w_in, w_out = r["p"], r["w_in"][-1], r["w_out"][-1]
    c = np.arange(p)
    right = (np.maximum(w_in[:, None] + w_in[None, :], 0) @ w_out.T).argmax(-1) == (c[:, None] + c[None, :]) % p
    return bool(right.all()), f"{int(right.sum()):,} of {p * p:,} pairs right"


# the sister runs
def sisters(ctx: BuildContext) -> list[dict]:
    return [r for key, r in runs(ctx).items() if key != FEATURED]


def first_below(r: dict) -> int:
    """The first logged step with test loss below REACHED (a run that generalized)."""
    return int(r["metric_step"][np.argmax(r["test_loss"] < REACHED)])


@fact("stars.sisters", sources=SRC)
def n_sisters(ctx: BuildContext) -> int:
    """How many sister runs were trained (and frozen)."""
    return len(sisters(ctx))


@fact("stars.reached-sisters", sources=SRC)
def reached_sisters(ctx: BuildContext) -> int:
    """Sister runs whose test loss fell below REACHED within the budget."""
    return sum(r["reached"] for r in sisters(ctx))


@fact("stars.half", rate, sources=SRC)
def half(ctx: BuildContext) -> tuple:
    """The sister runs that generalized, of all, with the Wilson interval of the rate."""
    return reached_sisters(ctx), n_sisters(ctx)


@claim("stars.about-half", sources=SRC)
def about_half(ctx: BuildContext):
    """"About half" of the sister runs generalize within the budget."""
    k, n = half(ctx)
    return 0.3 <= k / n <= 0.7, f"{k} of {n} sister runs reached a test loss under {REACHED:g}"


@fact("stars.first-reached", sources=SRC)
def first_reached(ctx: BuildContext) -> int:
    """The earliest logged step at which a sister run's test loss was below REACHED."""
    return min(first_below(r) for r in sisters(ctx) if r["reached"])


@fact("stars.last-reached", sources=SRC)
def last_reached(ctx: BuildContext) -> int:
    """The latest such first step."""
    return max(first_below(r) for r in sisters(ctx) if r["reached"])


@fact("stars.curve-every", rounded(100), sources=SRC)
def curve_every(ctx: BuildContext) -> int:
    """The median spacing of the sister runs' logged loss curves (written "or so")."""
    return int(np.median(np.diff(sisters(ctx)[0]["metric_step"])))


@fact("stars.late", sources=SRC)
def late(ctx: BuildContext) -> int:
    """Sister runs that generalized only after step 30,000."""
    return sum(first_below(r) > 30_000 for r in sisters(ctx) if r["reached"])


def reached_runs(ctx: BuildContext) -> list[dict]:
    """Every run that generalized, the opening run included."""
    return [r for r in runs(ctx).values() if r["reached"]]


@fact("stars.reached-all", sources=SRC)
def reached_all(ctx: BuildContext) -> int:
    """Runs that generalized, the opening run included."""
    return len(reached_runs(ctx))


@fact("stars.key-min", words, sources=SRC)
def key_min(ctx: BuildContext) -> int:
    """The fewest key frequencies a run that generalized uses."""
    return min(len(r["groups"]) for r in reached_runs(ctx))


@fact("stars.key-max", words, sources=SRC)
def key_max(ctx: BuildContext) -> int:
    """The most."""
    return max(len(r["groups"]) for r in reached_runs(ctx))


@fact("stars.ring-runs", sources=SRC)
def ring_runs(ctx: BuildContext) -> int:
    """Runs that generalized in which every group is a ring (is_ring_run)."""
    return sum(is_ring_run(r) for r in reached_runs(ctx))


@fact("stars.other-runs", sources=SRC)
def other_runs(ctx: BuildContext) -> int:
    """Runs that generalized with a group that is not a ring."""
    return reached_all(ctx) - ring_runs(ctx)


@claim("stars.others-lopsided", sources=SRC)
def others_lopsided(ctx: BuildContext):
    """The runs that generalized without a ring in every group: most of them have a group of one
    or two neurons."""
    odd = [r for r in reached_runs(ctx) if not is_ring_run(r)]
    small = [r["seed"] for r in odd if min(len(n) for n in r["groups"].values()) <= 2]
    return 2 * len(small) > len(odd), f"{len(small)} of {len(odd)} have a group of one or two neurons (seeds {small})"


def final_acc(r: dict) -> float:
    return r["final_acc"]["test"] if "final_acc" in r else float(r["test_acc"][-1])


def stuck(ctx: BuildContext) -> list[dict]:
    return [r for r in sisters(ctx) if not r["reached"]]


@fact("stars.stuck", sources=SRC)
def n_stuck(ctx: BuildContext) -> int:
    """Sister runs that had not generalized when training stopped."""
    return len(stuck(ctx))


@fact("stars.at-chance", sources=SRC)
def at_chance(ctx: BuildContext) -> int:
    """Of those, the runs that end answering under 5% of the held-out pairs right."""
    return sum(final_acc(r) < 0.05 for r in stuck(ctx))


@fact("stars.climbing", sources=SRC)
def climbing(ctx: BuildContext) -> int:
    """The others: on their way out of memorization."""
    return n_stuck(ctx) - at_chance(ctx)


@claim("stars.still-climbing", sources=SRC)
def still_climbing(ctx: BuildContext):
    """Every run on its way out ends with a lower test loss than 5,000 steps before the end."""
    moving = [r for r in stuck(ctx) if final_acc(r) >= 0.05]
    back = [r["seed"] for r in moving if not r["test_loss"][-1] < r["test_loss"][np.searchsorted(r["metric_step"], r["metric_step"][-1] - 5000)]]
    return not back and bool(moving), f"{len(moving)} runs, not climbing: {back}"


@fact("stars.spread", lambda v: f"{v[0]} to {v[1]}", sources=SRC)
def spread(ctx: BuildContext) -> tuple:
    """How many frequencies the runs stuck at chance spread their weights over (fewest, most)."""
    counts = [len(r["groups"]) for r in stuck(ctx) if final_acc(r) < 0.05]
    return min(counts), max(counts)


@fact("stars.moving-range", lambda v: f"{100 * v[0]:.0f}% and {100 * v[1]:.0f}%", sources=SRC)
def moving_range(ctx: BuildContext) -> tuple:
    """The final test accuracies of the runs on their way out (lowest, highest)."""
    acc = sorted(final_acc(r) for r in stuck(ctx) if final_acc(r) >= 0.05)
    return acc[0], acc[-1]


@fact("stars.closest-seed", sources=SRC)
def closest_seed(ctx: BuildContext) -> int:
    """The run that ended closest to the line without crossing it."""
    return min(stuck(ctx), key=lambda r: r["test_loss"][-1])["seed"]


@fact("stars.closest-loss", "{:.2g}", sources=SRC)
def closest_loss(ctx: BuildContext) -> float:
    """Its final test loss."""
    return float(min(r["test_loss"][-1] for r in stuck(ctx)))


def drifted(ctx: BuildContext) -> dict:
    """The sister run that crossed the line and ended above 1% error again (the one the prose names)."""
    back = [r for r in sisters(ctx) if r["reached"] and final_acc(r) < 0.99]
    if len(back) != 1:
        raise ValueError(f"the prose names one run that drifted back, the data has {len(back)}")
    return back[0]


@fact("stars.drift-seed", sources=SRC)
def drift_seed(ctx: BuildContext) -> int:
    """That run's seed."""
    return drifted(ctx)["seed"]


@fact("stars.drift-acc", percent(1), sources=SRC)
def drift_acc(ctx: BuildContext) -> float:
    """Its final test accuracy."""
    return final_acc(drifted(ctx))


@fact("stars.drift-loss", sci(1), sources=SRC)
def drift_loss(ctx: BuildContext) -> float:
    """Its final test loss."""
    return float(drifted(ctx)["test_loss"][-1])


@claim("stars.drifted-back", sources=SRC)
def drifted_back(ctx: BuildContext):
    """That run dipped below the line and ended above its lowest test loss."""
    r = drifted(ctx)
    return bool(r["test_loss"][-1] > r["test_loss"].min()), f"lowest {r['test_loss'].min():.2g}, final {r['test_loss'][-1]:.2g}"


# A stall on the way down: four logged points in a row (1,500 steps at the sister runs' spacing)
# within 30% of each other at a level between 1e-5 and REACHED, after which the test loss still
# falls tenfold. The first such stretch of a run, or None.
STALL_POINTS, STALL_BAND = 4, (1e-5, REACHED)


def stall(r: dict, every: int = 500) -> tuple | None:
    """(first step, mean level, last step) of the run's first stall, on its curve at `every`
    steps (the featured run's denser curve is thinned to the sister runs' spacing)."""
    s, t = np.asarray(r["metric_step"]), np.asarray(r["test_loss"])
    picks = np.unique(np.searchsorted(s, np.arange(0, s[-1] + 1, every)).clip(0, len(s) - 1))
    s, t = s[picks], t[picks]
    for i in range(len(t) - STALL_POINTS + 1):
        w = t[i:i + STALL_POINTS]
        level = float(w.mean())
        if STALL_BAND[0] < level < STALL_BAND[1] and w.max() / w.min() < 1.3 and (t[i + STALL_POINTS:] < level / 10).any():
            return int(s[i]), level, int(s[i + STALL_POINTS - 1])
    return None


@fact("stars.stall-runs", sources=SRC)
def stall_runs(ctx: BuildContext) -> int:
    """Runs that generalized whose test loss stalls on the way down (stall)."""
    return sum(stall(r) is not None for r in reached_runs(ctx))


def late_run(ctx: BuildContext) -> dict:
    return runs(ctx)[LATE_RUN]


@fact("stars.late-seed", sources=SRC)
def late_seed(ctx: BuildContext) -> int:
    """The sister run the prose follows through its stall."""
    return late_run(ctx)["seed"]


def _late_stall(ctx: BuildContext) -> tuple:
    found = stall(late_run(ctx))
    if found is None:
        raise ValueError(f"run {LATE_RUN} has no stall: the prose and the animation follow one")
    return found


@fact("stars.late-from", rounded(500), sources=SRC)
def late_from(ctx: BuildContext) -> int:
    """First logged step of its stall (written to the nearest 500)."""
    return _late_stall(ctx)[0]


def power_of_ten(v) -> str:
    """1.1e-4 -> "10⁻⁴", 2.7e-6 -> "3 × 10⁻⁶": an order of magnitude as the prose writes it."""
    text = sci(0)(v)
    return text[len("1 × "):] if text.startswith("1 × ") else text


@fact("stars.late-level", power_of_ten, sources=SRC)
def late_level(ctx: BuildContext) -> float:
    """Its test loss during the stall."""
    return _late_stall(ctx)[1]


def _late_groups(ctx: BuildContext, step: int) -> dict:
    r = late_run(ctx)
    return fourier.key_frequencies(r["w_in"][_at_step(r, step)])


@fact("stars.late-new-key", sources=SRC)
def late_new_key(ctx: BuildContext) -> int:
    """The frequency whose group fills up after the stall: the run's final group that is
    smallest at the first checkpoint after the stall begins."""
    r = late_run(ctx)
    early = _late_groups(ctx, _late_stall(ctx)[0] + 500)
    return min(r["groups"], key=lambda k: len(early.get(k, [])))


@fact("stars.late-full-keys", listed, sources=SRC)
def late_full_keys(ctx: BuildContext) -> list:
    """The run's other groups."""
    return [k for k in late_run(ctx)["groups"] if k != late_new_key(ctx)]


LATE_FILL = (16_000, 20_000)  # the checkpoints where the prose counts the growing group


@fact("stars.late-fill", lambda v: f"from {v[0]} to {v[1]}", sources=SRC)
def late_fill(ctx: BuildContext) -> list:
    """The growing group's neurons at the two checkpoints LATE_FILL."""
    k = late_new_key(ctx)
    return [len(_late_groups(ctx, s).get(k, [])) for s in LATE_FILL]


@fact("stars.late-fill-steps", listed, sources=SRC)
def late_fill_steps(ctx: BuildContext) -> list:
    """Those checkpoints' steps, as written."""
    r = late_run(ctx)
    return [f"{int(r['step'][_at_step(r, s)]):,}" for s in LATE_FILL]


@fact("stars.late-fold", rounded(10), sources=SRC)
def late_fold(ctx: BuildContext) -> float:
    """How many times lower its test loss is at the end of the animation than during the stall."""
    r = late_run(ctx)
    return _late_stall(ctx)[1] / float(r["test_loss"][np.searchsorted(r["metric_step"], LATE[1])])


@claim("stars.late-fills", sources=SRC)
def late_fills(ctx: BuildContext):
    """During the stall the other groups are full (five neurons or more) and the new group grows
    between the two checkpoints; the animation spans the stall and the fall after it."""
    other = _late_groups(ctx, LATE_FILL[0])
    full = all(len(other.get(k, [])) >= 5 for k in late_full_keys(ctx))
    a, b = late_fill(ctx)
    start, level, end = _late_stall(ctx)
    holds = full and a < b and LATE[0] < start and end < LATE[1]
    return holds, f"groups at step {LATE_FILL[0]:,}: {{{', '.join(f'{k}: {len(v)}' for k, v in other.items())}}}; new group {a} -> {b}; stall {start:,}-{end:,}"


# The methods note [^reference]: the original article's published seed sweep (its numbers in
# builder.training.investigate.REFERENCE, not an experiment of ours), our sister runs, and the
# controlled runs of investigation/ (16 seeds each, made by builder.training.investigate).
REF = "pearce2023-data"  # the source name of numbers from the original's published runs
CONTROLLED = "investigation"  # the source name of numbers from the controlled runs


def _reference():
    from builder.training import investigate
    return investigate.REFERENCE


@fact("stars.ref-runs", sources=(REF,))
def ref_runs(ctx: BuildContext) -> int:
    """Runs of this setting in the original's published data."""
    return _reference()["n"]


@fact("stars.ref-reached", sources=(REF,))
def ref_reached(ctx: BuildContext) -> int:
    """Of those, the ones that generalize within 50,000 steps."""
    return _reference()["by_50k"]


@fact("stars.ref-shares", lambda v: listed(v, "{:.0%}"), sources=(REF,))
def ref_shares(ctx: BuildContext) -> list:
    """Their share generalized by steps 20,000, 30,000 and 40,000."""
    return [_reference()["share_by"][k] for k in ("20k", "30k", "40k")]


@fact("stars.ref-medians", lambda v: listed(v, "{:.2f}"), sources=(REF,))
def ref_medians(ctx: BuildContext) -> list:
    """Their median test loss at steps 2,000, 10,000 and 20,000."""
    return [_reference()["median_test_loss"][k] for k in ("2k", "10k", "20k")]


@loader
def ours(ctx: BuildContext) -> dict:
    """The sister runs summarized as the controlled runs are (investigate.summarize)."""
    from builder.training import investigate
    rs = sisters(ctx)
    return investigate.summarize(rs[0]["metric_step"], np.stack([r["test_loss"] for r in rs]), 50_000)


@fact("stars.our-shares", lambda v: listed(v, "{:.0%}"), sources=SRC)
def our_shares(ctx: BuildContext) -> list:
    """Our sister runs' share generalized by steps 20,000, 30,000 and 40,000."""
    o = ours(ctx)
    return [o[f"by_{k}k"] / o["n"] for k in (20, 30, 40)]


@fact("stars.our-medians", lambda v: listed(v, "{:.2f}"), sources=SRC)
def our_medians(ctx: BuildContext) -> list:
    """Their median test loss at steps 2,000, 10,000 and 20,000."""
    o = ours(ctx)
    return [o[f"median_test_loss_{k}k"] for k in (2, 10, 20)]


def _variant(name: str) -> tuple[dict, dict]:
    import json

    from builder.paths import ROOT
    from builder.training import investigate
    v = json.loads((ROOT / "investigation" / f"{name}.json").read_text())
    return v, investigate.summarize(v["metric_step"], v["test_loss"], v["settings"]["steps"])


@fact("stars.controlled-seeds", sources=(CONTROLLED,))
def controlled_seeds(ctx: BuildContext) -> int:
    """Seeds per controlled variant."""
    return len(_variant("control")[0]["seeds"])


@claim("stars.no-flush-same", sources=(CONTROLLED,))
def no_flush_same(ctx: BuildContext):
    """Keeping subnormal numbers leaves the median test loss at steps 2,000 and 10,000 unchanged."""
    c, k = _variant("control")[1], _variant("no-flush")[1]
    pairs = [(c[f"median_test_loss_{s}k"], k[f"median_test_loss_{s}k"]) for s in (2, 10)]
    return all(a == b for a, b in pairs), f"control vs kept subnormals: {pairs}"


@fact("stars.sequential-2k", "{:.2f}", sources=(CONTROLLED,))
def sequential_2k(ctx: BuildContext) -> float:
    """Median test loss at step 2,000 with the products in the original's order."""
    import json

    from builder.paths import ROOT
    seq = json.loads((ROOT / "investigation" / "sequential.partial.json").read_text())
    return float(np.median(np.asarray(seq["test_loss"])[:, seq["metric_step"].index(2000)]))


@fact("stars.control-2k", "{:.2f}", sources=(CONTROLLED,))
def control_2k(ctx: BuildContext) -> float:
    """The same without (the control)."""
    return _variant("control")[1]["median_test_loss_2k"]


@fact("stars.eps-share", lambda v: listed(v, "{:.0%}"), sources=(CONTROLLED,))
def eps_share(ctx: BuildContext) -> list:
    """Share of coordinates where Adam's epsilon exceeds sqrt(v_hat), at steps 2,000 and 10,000."""
    from builder.training import investigate
    probes = _variant("control")[0]["probes"]
    return [investigate.probe_row(probes, s)["share_sqrt_vhat_below_eps"] for s in (2000, 10000)]


@fact("stars.small-eps-2k", "{:.2f}", sources=(CONTROLLED,))
def small_eps_2k(ctx: BuildContext) -> float:
    """Median test loss at step 2,000 with epsilon 1e-12."""
    return _variant("eps1e-12")[1]["median_test_loss_2k"]


def _by_30k(firsts) -> set:
    return {i + 1 for i, f in enumerate(firsts) if f is not None and f <= 30_000}


@loader
def retrained(ctx: BuildContext) -> tuple[set, set]:
    """Seeds 1-16 generalized by step 30,000: retrained (the control), and frozen."""
    from builder.training import investigate
    rs = sisters(ctx)[:16]
    if [r["seed"] for r in rs] != list(range(1, 17)):
        raise ValueError("the controlled runs retrain seeds 1-16: the first sister runs must be those")
    frozen = investigate.summarize(rs[0]["metric_step"], np.stack([r["test_loss"] for r in rs]), 50_000)
    return _by_30k(_variant("control")[1]["first_generalized"]), _by_30k(frozen["first_generalized"])


@fact("stars.again-30k", sources=SRC + (CONTROLLED,))
def again_30k(ctx: BuildContext) -> int:
    """Of seeds 1-16 retrained, the ones generalized by step 30,000."""
    return len(retrained(ctx)[0])


@fact("stars.again-30k-word", words, sources=SRC + (CONTROLLED,))
def again_30k_word(ctx: BuildContext) -> int:
    """The same count in words."""
    return again_30k(ctx)


@fact("stars.frozen-30k", sources=SRC + (CONTROLLED,))
def frozen_30k(ctx: BuildContext) -> int:
    """Of the frozen ones, those generalized by step 30,000."""
    return len(retrained(ctx)[1])


@fact("stars.extra-seed", listed, sources=SRC + (CONTROLLED,))
def extra_seed(ctx: BuildContext) -> list:
    """The seeds only the frozen runs generalized by then."""
    again, frozen = retrained(ctx)
    return sorted(frozen - again)


@claim("stars.same-and-more", sources=SRC + (CONTROLLED,))
def same_and_more(ctx: BuildContext):
    """The retrained runs that generalized by step 30,000 are the frozen ones less some."""
    again, frozen = retrained(ctx)
    return again < frozen, f"retrained {sorted(again)}, frozen {sorted(frozen)}"


@fact("stars.late-play-from", sources=SRC)
def late_play_from(ctx: BuildContext) -> int:
    """First step of the second animation (the sister run's stall and what follows)."""
    return LATE[0]


@fact("stars.late-play-to", sources=SRC)
def late_play_to(ctx: BuildContext) -> int:
    """Its last step."""
    return LATE[1]


@fact("stars.init-norm-bound", "{:.0f}", sources=(mod_top.EXPERIMENT,))
def init_norm_bound(ctx: BuildContext) -> float:
    """A whole number above every neuron's largest Fourier norm at initialization (the footnote's "below")."""
    return float(np.ceil(fourier.dominant(run(ctx)["w_in"][0])[2].max()))


@fact("stars.end-norms", lambda v: f"{v[0]:.0f} and {v[1]:.0f}", sources=(mod_top.EXPERIMENT,))
def end_norms(ctx: BuildContext) -> tuple:
    """Whole numbers around every neuron's largest Fourier norm at the end (the footnote's "between")."""
    mag = fourier.dominant(run(ctx)["w_in"][-1])[2]
    return float(np.floor(mag.min())), float(np.ceil(mag.max()))
