"""Section 6, "Which constraints work best?" (sweep-mod): the modular model in nine architectures,
each trained under L2 weight decay and under an L1 penalty.

Read from the sweeps `sweep-mod-l2` and `sweep-mod-l1` (content/_freeze/<name>/shards/), which
only `make train NAME=...` trains. One stacked bar per architecture and regularizer shows the
share of its runs in each outcome class, classified live in the page by the same rule and
sliders as section 3; choosing a bar (click, tap, or the list under the chart) shows that
architecture's runs as grids of seeds, and pointing at a cell loads its loss curves
(data/<chart>/<cell>.js). The prose shows the chosen architecture's formula with
`::: when sweep-mod.arch=N` blocks.
"""
from __future__ import annotations

import altair as alt
import numpy as np

from builder.figures import Figure, with_datasets, with_demand, with_params, with_signal_handlers
from builder.figures._sweep import (CLASSES, CLASSIFY, axis_index, counts_legend, curves_panel, outcome_colour,
                                    run_curves, run_summary, threshold_params)
from builder.figures.context import BuildContext

SECTION = "sweep-mod"
SWEEPS = (("L2", "sweep-mod-l2"), ("L1", "sweep-mod-l1"))
REG_NAMES = {"L2": "L2 (weight decay)", "L1": "L1 penalty"}
# Defaults of this figure's sliders. An L1 penalty keeps every loss from falling as far as weight
# decay lets it (the penalty trades fit for smaller weights), so section 3's 1e-5 would call
# every L1 run "high train loss". At 10^-2.5 (3.2e-3 after rounding) and a ratio of 1e3, the runs
# counted as generalizing (grokking or dropping together) are, architecture by architecture,
# those whose final test accuracy is above 90% (all 216 L2 runs; 215 of the 216 L1 runs). The
# prose says so (a test checks it).
LOSS_THRESHOLD, RATIO_THRESHOLD = 3.2e-3, 1e3
CURVE_DOMAIN = (1e-9, 1)


def sweeps(ctx: BuildContext) -> dict:
    """Regularizer -> the frozen sweep's finished runs."""
    return {reg: ctx.artifact(name) for reg, name in SWEEPS}


def cases(ctx: BuildContext) -> list[dict]:
    """The architectures, in the sweeps' order (both sweeps list the same cases)."""
    lists = [ctx.spec(name)["cases"] for _, name in SWEEPS]
    if lists[0] != lists[1]:
        raise ValueError("sweep-mod-l2 and sweep-mod-l1 must list the same cases")
    return lists[0]


def arch_label(case: dict) -> str:
    """A short name of an architecture from its switches."""
    embedding = "one embedding" if case.get("tied_embedding", True) else "two embeddings"
    if case.get("collapsed_input"):
        inp = "no in-proj."
    else:
        inp = "one in-proj." if case.get("tied_in_projection", True) else "two in-proj."
    out = "no out-proj." if case.get("collapsed_output") else "out-proj."
    return f"{embedding} · {inp} · {out}"


def cell_key(reg: str, case: int, e: int, l: int, w: int) -> str:
    """The on-demand file of one grid cell (regularizer, architecture, embed, lr, strength indices)."""
    return f"{reg.lower()}-{case}-{e}-{l}-{w}"


def grid_data(ctx: BuildContext) -> tuple[list[dict], dict[str, list[dict]]]:
    """One row per finished run of both sweeps, and per cell its seeds' loss curves."""
    labels = [arch_label(c) for c in cases(ctx)]
    rows, curves = [], {}
    for reg, frozen in sweeps(ctx).items():
        a = frozen.arrays
        axes = [axis_index(a[k])[1] for k in ("embed", "lr", "weight_decay")]
        for r in np.flatnonzero(np.asarray(a["done"], bool)):
            case = int(a["case"][r])
            key = cell_key(reg, case, *(int(i[r]) for i in axes))
            rows.append({"reg": reg, "case": case, "arch": labels[case], "e": int(a["embed"][r]), "lr": float(a["lr"][r]),
                         "wd": float(a["weight_decay"][r]), "seed": int(a["seed"][r]), **run_summary(a, r), "cell": key})
            curves.setdefault(key, []).extend(run_curves(a, r))
    return rows, curves


def chart(ctx: BuildContext, narrow: bool = False):
    """narrow: the phone layout: the regularizers' bars one above the other (architecture names
    in lines), the grids two a row, then the counts and the curves."""
    rows, curves = grid_data(ctx)
    labels = [arch_label(c) for c in cases(ctx)]
    chosen = "datum.reg === reg && datum.case === arch"
    # bars: the share of each architecture's runs in each class, per regularizer
    bars = (alt.Chart() if narrow else alt.Chart(alt.NamedData("runs"))).transform_calculate(outcome=CLASSIFY).transform_calculate(
        oi=f"indexof({list(CLASSES)!r}, datum.outcome)"
    ).transform_aggregate(n="count()", groupby=["reg", "case", "arch", "outcome", "oi"]).transform_joinaggregate(
        total="sum(n)", groupby=["reg", "case"]
    ).transform_calculate(share="datum.n / datum.total").mark_bar(cursor="pointer", height={"band": 0.4 if narrow else 0.8}).encode(
        y=alt.Y("arch:N", title=None, sort=labels, axis=None if narrow else alt.Axis(labelLimit=260)),
        **({"yOffset": alt.value(4)} if narrow else {}),  # below its name
        x=alt.X("n:Q", stack="normalize", title="share of the architecture's runs",
                axis=alt.Axis(format="%", values=[0, 0.25, 0.5, 0.75, 1])),
        color=outcome_colour(alt.Legend(orient="top", title=None, direction="horizontal", columns=2 if narrow else 4)),
        order=alt.Order("oi:Q"),
        stroke=alt.condition(chosen, alt.value("#222"), alt.value(None)),
        strokeWidth=alt.condition(chosen, alt.value(2), alt.value(0)),
        tooltip=[alt.Tooltip("arch:N", title="architecture"), alt.Tooltip("outcome:N"), alt.Tooltip("n:Q", title="runs"),
                 alt.Tooltip("share:Q", format=".0%")],
    ).properties(width=255 if narrow else 190, height=alt.Step(40 if narrow else 18))
    if narrow:  # each architecture's name above its bar (as an axis it would push every chart below to the right)
        names = alt.Chart().transform_aggregate(groupby=["reg", "case", "arch"]).mark_text(
            align="left", baseline="top", fontSize=10, cursor="pointer").encode(
            y=alt.Y("arch:N", sort=labels, bandPosition=0, axis=None), x=alt.value(0), text="arch:N")
        bars = alt.layer(bars, names, data=alt.NamedData("runs")).properties(width=255, height=alt.Step(40))
    regs = dict(title=None, sort=[r for r, _ in SWEEPS],
                header=alt.Header(labelExpr=f"{REG_NAMES!r}[datum.value]", labelFontSize=12, labelFontWeight="bold"))
    bars = bars.facet(row=alt.Row("reg:N", **regs), spacing=16) if narrow else bars.facet(column=alt.Column("reg:N", **regs), spacing=16)
    # the chosen architecture's runs: per strength a grid of embed x lr, one dot per seed
    x = alt.X("lr:O", title="learning rate", axis=alt.Axis(labelAngle=0, format="~e"), scale=alt.Scale(paddingInner=0.12))
    y = alt.Y("e:O", title="embedding width", sort="descending", scale=alt.Scale(paddingInner=0.12))
    # one tile per cell behind its dots, the full band wide (as in section 3)
    tiles = alt.Chart().transform_aggregate(runs="count()", groupby=["wd", "e", "lr", "cell"]).mark_rect(
        cornerRadius=3, strokeWidth=1.5, width=alt.expr("bandwidth(@tiles.x)"),
        height=alt.expr("bandwidth(@tiles.y)")).encode(
        x=x, y=y, fill=alt.value("#888"), fillOpacity=alt.value(0.1),
        stroke=alt.condition("datum.cell === demand", alt.value("#333"), alt.value("transparent")),
        tooltip=[alt.Tooltip("wd:Q", title="strength", format="~e"), alt.Tooltip("e:O", title="embedding"),
                 alt.Tooltip("lr:O", title="learning rate"), alt.Tooltip("runs:Q", title="runs")]).properties(name="tiles")
    dots = alt.Chart().transform_calculate(outcome=CLASSIFY).mark_circle(size=40, opacity=1).encode(
        x=x, xOffset=alt.XOffset("seed:O", scale=alt.Scale(paddingOuter=0.4)), y=y, color=outcome_colour(),
        tooltip=[alt.Tooltip("seed:O"), alt.Tooltip("outcome:N"),
                 alt.Tooltip("mtr:Q", title="min train loss", format=".2e"),
                 alt.Tooltip("mte:Q", title="min test loss", format=".2e"),
                 alt.Tooltip("mr:Q", title="max test/train", format=".2e")])
    strength = dict(title=None, header=alt.Header(
        labelExpr="(reg === 'L2' ? 'weight decay ' : 'L1 strength ') + "
                  "(datum.value >= 0.01 ? format(datum.value, '~g') : format(datum.value, '~e'))", labelFontSize=11))
    grids = alt.layer(tiles, dots, data=alt.NamedData("runs")).properties(width=112 if narrow else 120, height=90)
    title = alt.Title(alt.expr("[arch_name, 'under ' + reg]" if narrow else "arch_name + ' under ' + reg"), anchor="start", fontSize=12)
    grids = (grids.facet(facet=alt.Facet("wd:O", **strength), columns=2, title=title) if narrow else
             grids.facet(column=alt.Column("wd:O", **strength), title=title)).transform_filter(chosen)
    counts_title = "'This architecture at loss threshold ' + format(loss_thr, '.2~e') + ', ratio ' + format(ratio_thr, '.2~e')"
    if narrow:  # in two lines
        counts_title = "['This architecture at loss threshold ' + format(loss_thr, '.2~e') + ',', 'ratio ' + format(ratio_thr, '.2~e')]"
    legend = counts_legend("runs", counts_title, where=chosen, width=240 if narrow else 200, narrow=narrow)
    steps = np.asarray(next(iter(sweeps(ctx).values())).arrays["curve_step"])
    panel = curves_panel(steps, CURVE_DOMAIN, [1e-9, 1e-6, 1e-3, 1],
                         "demand ? ['The runs of the cell you pointed at', '(one line per seed)'] : 'Point at (or tap) a cell for its loss curves'"
                         if narrow else
                         "demand ? 'The runs of the cell you pointed at (one line per seed)' : 'Point at (or tap) a cell for its loss curves'",
                         width=240 if narrow else 280, height=150)
    if narrow:
        # one column, each chart at its own left edge (not aligned with the bars' long labels)
        view = alt.concat(bars, grids, legend, panel, columns=1, spacing=24, align="none").resolve_scale(color="independent")
    else:
        view = alt.vconcat(bars, alt.hconcat(alt.vconcat(grids, legend, spacing=16), panel, spacing=30)
                           .resolve_scale(color="independent"), spacing=24).resolve_scale(color="independent")
    params = [
        *threshold_params(LOSS_THRESHOLD, RATIO_THRESHOLD), alt.param(name="demand", value=""),
        alt.param(name="arch", value=0, bind=alt.binding_select(
            options=list(range(len(labels))), labels=labels, name="Architecture shown ")),
        alt.param(name="reg", value="L2", bind=alt.binding_radio(
            options=[r for r, _ in SWEEPS], labels=[REG_NAMES[r] for r, _ in SWEEPS], name="Regularizer ")),
        alt.param(name="archs", value=labels), alt.param(name="arch_name", expr="archs[arch]"),
    ]
    view = with_params(view, params)
    pick = {name: [{"events": "click", "update": f"datum && isValid(datum.{field}) ? datum.{field} : {name}"}]
            for name, field in (("arch", "case"), ("reg", "reg"))}
    return with_signal_handlers(with_demand(with_datasets(view, {"runs": rows}), curves), pick)


def figures(ctx: BuildContext) -> list[Figure]:
    return [
        Figure("sweep-mod-bars", SECTION,
               "One bar per architecture and regularizer, split by how its runs ended. Click or tap a bar (or use the lists) to see "
               "that architecture's runs and formula; point at a cell for its loss curves. The sliders move the thresholds.",
               "Two stacked bar charts, for L2 weight decay and for an L1 penalty, with one bar for each of nine architectures "
               "split into the four outcome classes; below, the chosen architecture's runs as dots on grids of embedding width "
               "by learning rate, one grid per regularization strength.",
               chart, demand="cell", sources=tuple(name for _, name in SWEEPS), narrow=lambda ctx: chart(ctx, narrow=True),
               columns=(("reg", "the regularizer: L2 (weight decay) or L1 (a penalty on the weights' absolute values)"),
                        ("case", "the architecture's index, 0-8 (the sweep's cases in experiments.toml)"),
                        ("arch", "the architecture, as the chart names it"), ("e", "embedding width (dimensions)"))),
    ]


# -- facts and claims: what the prose says about the two sweeps (builder.facts) ---------------
from builder.analysis import outcomes  # noqa: E402
from builder.facts import claim, fact, percent, rate, rounded, sci, words  # noqa: E402
from builder.figures.context import loader  # noqa: E402

SOURCES = tuple(name for _, name in SWEEPS)
GENERALIZED = (CLASSES.index("train and test drop together"), CLASSES.index("grokking"))


def _role(case: dict) -> str:
    """An architecture's role in the prose, from its switches."""
    if case.get("collapsed_input") or case.get("collapsed_output"):
        if case.get("collapsed_input") and case.get("collapsed_output"):
            return "both-collapsed-tied" if case.get("tied_embedding", True) else "both-collapsed"
        return "collapsed"
    tied, one = case.get("tied_embedding", True), case.get("tied_in_projection", True)
    return {(True, True): "opening", (False, True): "untied", (True, False): "two-in-proj", (False, False): "nothing-shared"}[(tied, one)]


@loader
def table(ctx: BuildContext) -> dict:
    """Per regularizer: each finished run's class at the figure's default thresholds, its role,
    strength and final accuracies."""
    roles = [_role(c) for c in cases(ctx)]
    out = {}
    for reg, frozen in sweeps(ctx).items():
        a = frozen.arrays
        done = np.asarray(a["done"], bool)
        out[reg] = {"class": outcomes.classify_sweep(a, LOSS_THRESHOLD, RATIO_THRESHOLD)[done],
                    "role": np.array([roles[int(c)] for c in np.asarray(a["case"])[done]]),
                    "case": np.asarray(a["case"])[done], "strength": np.asarray(a["weight_decay"], float)[done],
                    "train_acc": np.asarray(a["final_train_acc"], float)[done],
                    "test_acc": np.asarray(a["final_test_acc"], float)[done],
                    "default_class": outcomes.classify_sweep(a)[done],
                    "seconds": sum(s["wall_time_s"] for s in frozen.manifest["shards"].values())}
    return out


def _won(ctx, reg: str, role: str | None = None, case: int | None = None) -> int:
    t = table(ctx)[reg]
    mask = np.isin(t["class"], GENERALIZED)
    if role is not None:
        mask &= t["role"] == role
    if case is not None:
        mask &= t["case"] == case
    return int(mask.sum())


def _per_case(ctx, reg: str) -> list[int]:
    return [_won(ctx, reg, case=k) for k in range(len(cases(ctx)))]


@fact("constraints.runs", sources=SOURCES)
def runs(ctx: BuildContext) -> int:
    """Finished runs of both sweeps."""
    return sum(len(t["class"]) for t in table(ctx).values())


@fact("constraints.cpu-minutes", rounded(10), sources=SOURCES)
def cpu_minutes(ctx: BuildContext) -> float:
    """Training time of both sweeps, the shards' wall times summed (one thread each), minutes."""
    return sum(t["seconds"] for t in table(ctx).values()) / 60


@fact("constraints.opening-l2", sources=SOURCES)
def opening_l2(ctx: BuildContext) -> int:
    """Runs of the opening architecture that generalize under weight decay (default thresholds)."""
    return _won(ctx, "L2", "opening")


@fact("constraints.opening-l1", sources=SOURCES)
def opening_l1(ctx: BuildContext) -> int:
    """The same under L1."""
    return _won(ctx, "L1", "opening")


@fact("constraints.opening-both", sources=SOURCES)
def opening_both(ctx: BuildContext) -> int:
    """The opening architecture's generalizing runs under both regularizers together."""
    return opening_l2(ctx) + opening_l1(ctx)


@fact("constraints.best-other-both", sources=SOURCES)
def best_other_both(ctx: BuildContext) -> int:
    """The most generalizing runs of any other architecture, both regularizers together."""
    both = np.add(_per_case(ctx, "L2"), _per_case(ctx, "L1"))
    roles = [_role(c) for c in cases(ctx)]
    return int(max(v for v, r in zip(both, roles) if r != "opening"))


@fact("constraints.best-other", sources=SOURCES)
def best_other(ctx: BuildContext) -> int:
    """The most generalizing runs of any other architecture under one regularizer."""
    roles = [_role(c) for c in cases(ctx)]
    return max(v for reg in ("L2", "L1") for v, r in zip(_per_case(ctx, reg), roles) if r != "opening")


@fact("constraints.nothing-shared-l2", words, sources=SOURCES)
def nothing_shared_l2(ctx: BuildContext) -> int:
    """Generalizing runs with nothing shared (two embeddings, two in-projections), weight decay."""
    return _won(ctx, "L2", "nothing-shared")


@fact("constraints.nothing-shared-l1", words, sources=SOURCES)
def nothing_shared_l1(ctx: BuildContext) -> int:
    """The same under L1."""
    return _won(ctx, "L1", "nothing-shared")


@fact("constraints.collapsed-max", sources=SOURCES)
def collapsed_max(ctx: BuildContext) -> int:
    """The most generalizing runs of an architecture with a collapsed side, per regularizer."""
    roles = [_role(c) for c in cases(ctx)]
    return max(v for reg in ("L2", "L1") for v, r in zip(_per_case(ctx, reg), roles) if "collapsed" in r)


@fact("constraints.tied-collapsed-train", percent(0), sources=SOURCES)
def tied_collapsed_train(ctx: BuildContext) -> float:
    """The best final training accuracy of the tied, doubly collapsed model, over both sweeps."""
    return max(float(t["train_acc"][t["role"] == "both-collapsed-tied"].max()) for t in table(ctx).values())


@fact("constraints.l2-generalized", sources=SOURCES)
def l2_generalized(ctx: BuildContext) -> int:
    """Runs under weight decay that generalize."""
    return _won(ctx, "L2")


@fact("constraints.l2-weak-runs", sources=SOURCES)
def l2_weak_runs(ctx: BuildContext) -> int:
    """Runs at the weaker weight decay."""
    t = table(ctx)["L2"]
    return int((t["strength"] == t["strength"].min()).sum())


def _weak_count(ctx, name: str) -> int:
    t = table(ctx)["L2"]
    weak = t["strength"] == t["strength"].min()
    return int((t["class"][weak] == CLASSES.index(name)).sum())


@fact("constraints.l2-weak-memorized", sources=SOURCES)
def l2_weak_memorized(ctx: BuildContext) -> int:
    """Runs at the weaker decay that fit their training pairs but not the test pairs."""
    return _weak_count(ctx, "high test loss")


@fact("constraints.l2-weak-unfit", sources=SOURCES)
def l2_weak_unfit(ctx: BuildContext) -> int:
    """Runs at the weaker decay that do not fit their training pairs."""
    return _weak_count(ctx, "high train loss")


@fact("constraints.l1-high-train", sources=SOURCES)
def l1_high_train(ctx: BuildContext) -> int:
    """L1 runs that end with a high training loss."""
    return int((table(ctx)["L1"]["class"] == 0).sum())


@fact("constraints.l1-runs", sources=SOURCES)
def l1_runs(ctx: BuildContext) -> int:
    """Finished L1 runs."""
    return len(table(ctx)["L1"]["class"])


@fact("constraints.l2-high-train", sources=SOURCES)
def l2_high_train(ctx: BuildContext) -> int:
    """Weight-decay runs that end with a high training loss."""
    return int((table(ctx)["L2"]["class"] == 0).sum())


@fact("constraints.l1-best-test", percent(0), sources=SOURCES)
def l1_best_test(ctx: BuildContext) -> float:
    """The best final test accuracy of an L1 run."""
    return float(table(ctx)["L1"]["test_acc"].max())


@fact("constraints.l1-mismatch", words, sources=SOURCES)
def l1_mismatch(ctx: BuildContext) -> int:
    """L1 runs where "generalizing" at the default thresholds and "final test accuracy above
    90%" disagree."""
    t = table(ctx)["L1"]
    return int((np.isin(t["class"], GENERALIZED) != (t["test_acc"] > 0.9)).sum())


@fact("constraints.loss-threshold", sci(1), sources=SOURCES)
def loss_threshold(ctx: BuildContext) -> float:
    """The figure's default loss threshold (a setting of the figure, chosen from these runs)."""
    table(ctx)
    return LOSS_THRESHOLD


@fact("constraints.ratio-threshold", lambda v: sci(0)(v).replace("1 × ", ""), sources=SOURCES)
def ratio_threshold(ctx: BuildContext) -> float:
    """The figure's default ratio threshold."""
    table(ctx)
    return RATIO_THRESHOLD


def _arch_runs(ctx, role: str) -> int:
    return sum(int((t["role"] == role).sum()) for t in table(ctx).values())


@fact("constraints.opening-rate", rate, sources=SOURCES)
def opening_rate(ctx: BuildContext) -> tuple:
    """The opening architecture's generalizing runs of its runs, both regularizers together."""
    return opening_both(ctx), _arch_runs(ctx, "opening")


@fact("constraints.best-other-rate", rate, sources=SOURCES)
def best_other_rate(ctx: BuildContext) -> tuple:
    """The same for the next best architecture."""
    return best_other_both(ctx), _arch_runs(ctx, "opening")


@claim("constraints.opening-leads", sources=SOURCES)
def opening_leads(ctx: BuildContext):
    """The opening architecture generalizes more often than any other, under either regularizer."""
    roles = [_role(c) for c in cases(ctx)]
    per = {reg: _per_case(ctx, reg) for reg in ("L2", "L1")}
    ok = all(v[roles.index("opening")] > max(x for x, r in zip(v, roles) if r != "opening") for v in per.values())
    return ok, f"generalizing runs per architecture: {per}"


@claim("constraints.untying-costs", sources=SOURCES)
def untying_costs(ctx: BuildContext):
    """Untying the embedding leaves at most half the opening architecture's generalizing runs,
    and a second in-projection no more than untying does, under either regularizer."""
    per = {reg: {r: _won(ctx, reg, r) for r in ("opening", "untied", "two-in-proj")} for reg in ("L2", "L1")}
    ok = all(v["untied"] <= v["opening"] / 2 and v["two-in-proj"] <= v["untied"] for v in per.values())
    return ok, str(per)


@claim("constraints.both-collapsed-none", sources=SOURCES)
def both_collapsed_none(ctx: BuildContext):
    """With both sides collapsed (tied or not), no run generalizes."""
    n = sum(_won(ctx, reg, r) for reg in ("L2", "L1") for r in ("both-collapsed", "both-collapsed-tied"))
    return n == 0, f"{n} generalizing runs with both sides collapsed"


@claim("constraints.tied-collapsed-cannot-fit", sources=SOURCES)
def tied_collapsed_cannot_fit(ctx: BuildContext):
    """The tied, doubly collapsed model fits no more than a fifth of its training pairs in any run."""
    best = tied_collapsed_train(ctx)
    return best < 0.2, f"best final training accuracy {best:.1%}"


@claim("constraints.untied-collapsed-memorizes", sources=SOURCES)
def untied_collapsed_memorizes(ctx: BuildContext):
    """Some runs of the untied doubly collapsed model fit their training pairs; none generalize."""
    fits = sum(int(((t["role"] == "both-collapsed") & (t["train_acc"] == 1)).sum()) for t in table(ctx).values())
    won = sum(_won(ctx, reg, "both-collapsed") for reg in ("L2", "L1"))
    return fits > 0 and won == 0, f"{fits} runs fit their training pairs, {won} generalize"


@claim("constraints.decay-1-only", sources=SOURCES)
def decay_1_only(ctx: BuildContext):
    """Every weight-decay run that generalizes has the stronger decay."""
    t = table(ctx)["L2"]
    won = np.isin(t["class"], GENERALIZED)
    return bool(won.any() and (t["strength"][won] == t["strength"].max()).all()), \
        f"strengths of the generalizing runs: {sorted(set(t['strength'][won].tolist()))}"


@claim("constraints.l1-default-all-high-train", sources=SOURCES)
def l1_default_all_high_train(ctx: BuildContext):
    """At the parity sweep's default thresholds every L1 run counts as "high train loss"."""
    c = table(ctx)["L1"]["default_class"]
    return bool((c == 0).all()), f"{int((c == 0).sum())} of {len(c)}"


@claim("constraints.thresholds-mean-90", sources=SOURCES)
def thresholds_mean_90(ctx: BuildContext):
    """At the figure's defaults, "generalizing" is "final test accuracy above 90%" for every
    weight-decay run and all but one L1 run."""
    t2 = table(ctx)["L2"]
    l2 = int((np.isin(t2["class"], GENERALIZED) != (t2["test_acc"] > 0.9)).sum())
    return l2 == 0 and l1_mismatch(ctx) <= 1, f"disagreements: L2 {l2}, L1 {l1_mismatch(ctx)}"
