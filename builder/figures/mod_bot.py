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
                                     loss_curves, packed, vmax_of)
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
            out[r["key"]] = r
    return out


def sections(ctx: BuildContext) -> list[Section]:
    steps = mod_top.steps(ctx)
    return [Section(SECTION, steps, steps[-1])]


# The stretch the "play generalization" link plays, in steps of the frozen run: test loss from
# 0.56 (step 20,000, still memorizing) to 1.9e-6 (step 30,000); tests/test_mod_bot.py checks it.
GENERALIZE = (20_000, 30_000)


# A late improvement after a short plateau, in sister run seed 33: its test loss levels off at
# ~1e-4 (steps ~15,500 to ~17,000) while a fourth frequency group fills up, then falls 40-fold;
# tests/test_mod_bot.py checks it.
LATE, LATE_RUN = (14_000, 22_000), "seed33"


def animations(ctx: BuildContext) -> list[Animation]:
    return [Animation("mod-bot-generalize", SECTION, *GENERALIZE, 6.0, run=FEATURED),
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
               "Line chart of train and test loss on a log scale: the train loss falls at once, the test loss only after about 25,000 steps.",
               loss_chart, scrub=STEP_RULE, sources=src, narrow=lambda ctx: loss_chart(ctx, narrow=True)),
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
