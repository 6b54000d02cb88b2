"""Section "Can you tell in advance which runs will grok?" (forecast), a part of the progress
section: the 128 sister runs of the opening model (`seeds-mod-top`), each measure taken at an
early checkpoint from what exists then (builder.analysis.forecast), scored against where each
run ends up.

Nothing is trained here; the measures are computed at build time and kept on disk between
builds (a persisted loader: about half a minute to compute).
"""
from __future__ import annotations

import altair as alt
import numpy as np

from builder.analysis import forecast as fc
from builder.facts import claim, fact, rate, sci
from builder.figures import Figure, with_datasets
from builder.figures import mod_top
from builder.figures._common import TEST_COLOR
from builder.figures.context import BuildContext, loader

SECTION = "forecast"
SISTERS = "seeds-mod-top"
SOURCES = (SISTERS, mod_top.EXPERIMENT)  # the runs, and the opening run's training split (shared)
STEPS = tuple(range(0, 16_001, 2_000))  # the checkpoints a forecast is made at
NAMES = {"test": "test loss", "restricted": "restricted loss", "excluded": "excluded loss",
         "gini": "Gini of frequencies", "norm": "weight norm", "random keys": "random frequencies",
         "shuffled": "shuffled outcomes"}
FATES = ("grokked", "caught mid-way", "never")
FATE_COLORS = ("#2a9d5c", "#d08a1f", "#8e6cc0")
MIDWAY = 0.05  # not generalized, but ending with at least this test accuracy: "caught mid-way"


@loader(persist=SOURCES)
def table(ctx: BuildContext) -> dict:
    """Everything the section shows, computed once per change of the runs: the forecast rows,
    every run's measures at each forecast step, and the progress measures over training by fate."""
    a = ctx.artifact(SISTERS).arrays
    train_index = ctx.artifact(mod_top.EXPERIMENT).arrays["train_index"]
    done = np.asarray(a["done"], bool)
    grokked, _ = fc.outcomes(a)
    fate = np.where(grokked, 0, np.where(np.asarray(a["final_test_acc"]) >= MIDWAY, 1, 2))
    known = {t: fc.measures_known_at(a, t, train_index) for t in STEPS}
    over = fc.measures(a["w_in"], a["w_out"], train_index)  # every checkpoint, keys = its own top 3
    return {"rows": fc.forecast(a, train_index, STEPS, known=known), "known": known, "fate": fate, "done": done,
            "seed": np.asarray(a["seed"]), "checkpoint_step": np.asarray(a["checkpoint_step"]),
            "over": over, "test_curve": np.asarray(a["test_curve"], np.float64), "curve_step": np.asarray(a["curve_step"])}


def _row(ctx: BuildContext, step: int, measure: str) -> dict:
    return next(r for r in table(ctx)["rows"] if r["step"] == step and r["measure"] == measure)


def _auc_text(r: dict) -> str:
    return f"{r['auc']:.2f} (95% interval {r['low']:.2f}–{r['high']:.2f})"


# -- facts and claims -------------------------------------------------------------------------
@fact("forecast.runs", sources=SOURCES)
def runs(ctx: BuildContext) -> int:
    """How many sister runs the forecast scores."""
    return int(table(ctx)["done"].sum())


@fact("forecast.grokked", rate, sources=SOURCES)
def grokked(ctx: BuildContext) -> tuple:
    """Runs whose test loss went under 10⁻³ within the budget (as the stars section counts them), of all."""
    t = table(ctx)
    return int((t["fate"][t["done"]] == 0).sum()), runs(ctx)


@fact("forecast.never", sources=SOURCES)
def never(ctx: BuildContext) -> int:
    """Runs that end under 5% test accuracy (near chance)."""
    t = table(ctx)
    return int((t["fate"][t["done"]] == 2).sum())


@fact("forecast.midway", sources=SOURCES)
def midway(ctx: BuildContext) -> int:
    """Runs that did not generalize but end with at least 5% test accuracy."""
    t = table(ctx)
    return int((t["fate"][t["done"]] == 1).sum())


def _auc_fact(name: str, step: int, measure: str):
    def value(ctx: BuildContext) -> dict:
        return _row(ctx, step, measure)
    value.__name__ = value.__qualname__ = f"auc_{measure.replace(' ', '_')}_{step}"
    value.__module__ = __name__
    value.__doc__ = f"The cross-validated AUC of the {NAMES[measure]} at step {step:,}, with its interval."
    return fact(name, _auc_text, sources=SOURCES)(value)


auc_test_0 = _auc_fact("forecast.auc-test-0", 0, "test")
auc_test_2000 = _auc_fact("forecast.auc-test-2000", 2000, "test")
auc_restricted_2000 = _auc_fact("forecast.auc-restricted-2000", 2000, "restricted")
auc_random_2000 = _auc_fact("forecast.auc-random-2000", 2000, "random keys")
auc_restricted_8000 = _auc_fact("forecast.auc-restricted-8000", 8000, "restricted")
auc_test_8000 = _auc_fact("forecast.auc-test-8000", 8000, "test")


@fact("forecast.rho-test-8000", "{:.2f}", sources=SOURCES)
def rho_test_8000(ctx: BuildContext) -> float:
    """Rank correlation, among the runs that grok later, between the test loss at step 8,000
    (signed towards grokking) and the step at which they generalize."""
    return _row(ctx, 8000, "test")["rho"]


@claim("forecast.nothing-at-init", sources=SOURCES)
def nothing_at_init(ctx: BuildContext):
    """At initialization no measure forecasts better than chance (every interval holds 0.5)."""
    rows = [r for r in table(ctx)["rows"] if r["step"] == 0 and r["measure"] != "shuffled"]
    bad = [r["measure"] for r in rows if not r["low"] <= 0.5 <= r["high"]]
    return not bad, "at step 0: " + ", ".join(f"{r['measure']} {r['auc']:.2f}" for r in rows)


@claim("forecast.early-and-strong", sources=SOURCES)
def early_and_strong(ctx: BuildContext):
    """By step 2,000 every measure forecasts far better than chance (each interval above 0.6)."""
    rows = [r for r in table(ctx)["rows"] if r["step"] == 2000 and r["measure"] in fc.MEASURES]
    return all(r["low"] > 0.6 for r in rows), "at step 2,000: " + ", ".join(f"{r['measure']} {r['low']:.2f}-{r['high']:.2f}" for r in rows)


@claim("forecast.test-loss-is-as-good", sources=SOURCES)
def test_loss_is_as_good(ctx: BuildContext):
    """At every step from 2,000 on, the plain test loss forecasts about as well as the best
    progress measure: its interval overlaps the best one's."""
    out = []
    for t in STEPS[1:]:
        rows = [r for r in table(ctx)["rows"] if r["step"] == t and r["measure"] in fc.MEASURES]
        best, test = max(rows, key=lambda r: r["auc"]), next(r for r in rows if r["measure"] == "test")
        out.append((t, test["high"] >= best["low"], f"{t:,}: test {test['auc']:.2f}, best {best['measure']} {best['auc']:.2f}"))
    return all(ok for _, ok, _ in out), "; ".join(text for _, _, text in out)


@claim("forecast.shuffled-is-chance", sources=SOURCES)
def shuffled_is_chance(ctx: BuildContext):
    """With the outcomes shuffled, the same pipeline scores about 0.5 at every step, and from
    step 2,000 on every measure's AUC lies above the shuffled runs' 97.5th percentile."""
    null = {r["step"]: r for r in table(ctx)["rows"] if r["measure"] == "shuffled"}
    centred = all(0.45 <= r["auc"] <= 0.55 for r in null.values())
    above = all(r["auc"] > null[r["step"]]["high"] for r in table(ctx)["rows"]
                if r["step"] > 0 and r["measure"] in fc.MEASURES)
    return centred and above, "shuffled: " + ", ".join(f"{r['auc']:.2f} (97.5%: {r['high']:.2f})" for r in null.values())


@claim("forecast.random-keys-worse", sources=SOURCES)
def random_keys_worse(ctx: BuildContext):
    """From step 2,000 on, the restricted loss with random frequencies forecasts worse than with
    each run's largest ones."""
    pairs = [(_row(ctx, t, "restricted")["auc"], _row(ctx, t, "random keys")["auc"]) for t in STEPS[1:]]
    return all(r > c for r, c in pairs), ", ".join(f"{r:.2f} vs {c:.2f}" for r, c in pairs)


def _fate_medians(ctx: BuildContext, measure: str) -> np.ndarray:
    t = table(ctx)
    values = t["over"][measure]  # (runs, checkpoints)
    return np.stack([np.median(values[t["done"] & (t["fate"] == f)], axis=0) for f in range(len(FATES))])


@claim("forecast.restricted-falls-without-grokking", sources=SOURCES)
def restricted_falls_without_grokking(ctx: BuildContext):
    """The restricted loss (each checkpoint's own top frequencies) falls for the runs that never
    generalize too, but much less than for those that grok."""
    med = _fate_medians(ctx, "restricted")
    peak = med.argmax(axis=1)
    drop = [med[f, peak[f]] / med[f, -1] for f in range(len(FATES))]  # from each group's own peak
    return drop[2] > 1.5 and drop[0] > 5 * drop[2], ", ".join(
        f"{name}: falls {d:.1f}-fold from its peak" for name, d in zip(FATES, drop))


@fact("forecast.never-drop", "{:.1f}", sources=SOURCES)
def never_drop(ctx: BuildContext) -> float:
    """How many-fold the median restricted loss of the never-generalizing runs falls from its peak."""
    med = _fate_medians(ctx, "restricted")[2]
    return float(med.max() / med[-1])


@fact("forecast.grokked-drop", sci(0), sources=SOURCES)
def grokked_drop(ctx: BuildContext) -> float:
    """The same for the runs that grok."""
    med = _fate_medians(ctx, "restricted")[0]
    return float(med.max() / med[-1])


# -- charts -----------------------------------------------------------------------------------
def _r(v: float) -> float:
    return float(f"{v:.4g}")


def auc_rows(ctx: BuildContext) -> list[dict]:
    return [{"step": r["step"], "measure": NAMES[r["measure"]], "auc": _r(r["auc"]), "low": _r(r["low"]),
             "high": _r(r["high"]), "runs": r["runs"], "grok": r["grok"],
             "control": r["measure"] in ("random keys", "shuffled")} for r in table(ctx)["rows"]]


def auc_chart(ctx: BuildContext, narrow: bool = False):
    order = [NAMES[m] for m in fc.MEASURES + ("random keys", "shuffled")]
    x = alt.X("step:Q", title="step of the forecast", axis=alt.Axis(values=[0, 8000, 16000], format=","),
              scale=alt.Scale(domain=[0, STEPS[-1]], nice=False))
    y = alt.Y("auc:Q", title="AUC", scale=alt.Scale(domain=[0.35, 1.0]), axis=alt.Axis(values=[0.5, 0.75, 1.0], format=".2f"))
    colour = alt.condition("datum.control", alt.value("#888"), alt.value(TEST_COLOR))
    band = alt.Chart().mark_area(opacity=0.25).encode(x=x, y="low:Q", y2="high:Q", color=colour)
    line = alt.Chart().mark_line(point=alt.OverlayMarkDef(size=18)).encode(
        x=x, y=y, color=colour, tooltip=[alt.Tooltip("measure:N"), alt.Tooltip("step:Q", format=","),
                                         alt.Tooltip("auc:Q", format=".2f", title="AUC"), alt.Tooltip("low:Q", format=".2f"),
                                         alt.Tooltip("high:Q", format=".2f"), alt.Tooltip("runs:Q", title="runs still open"),
                                         alt.Tooltip("grok:Q", title="of which grok")])
    chance = alt.Chart().mark_rule(strokeDash=[4, 3], color="#888").encode(y=alt.datum(0.5))
    chart = alt.layer(band, chance, line).properties(width=100 if narrow else 150, height=100).facet(
        facet=alt.Facet("measure:N", sort=order, title=None,
                        header=alt.Header(labelFontSize=11, labelLimit=100 if narrow else 150)),
        columns=2 if narrow else 4, data=alt.NamedData("auc"))
    return with_datasets(chart, {"auc": auc_rows(ctx)})


def run_rows(ctx: BuildContext) -> list[dict]:
    t = table(ctx)
    rows = []
    for step, known in t["known"].items():
        for i in np.flatnonzero(t["done"]):
            for m in fc.MEASURES:
                rows.append({"step": step, "measure": NAMES[m], "seed": int(t["seed"][i]),
                             "fate": FATES[int(t["fate"][i])], "v": _r(max(float(known[m][i]), 1e-9)),
                             "open": bool(known["open"][i])})
    return rows


def runs_chart(ctx: BuildContext, narrow: bool = False):
    at = alt.param(name="at", value=4000, bind=alt.binding_range(min=STEPS[0], max=STEPS[-1], step=STEPS[1] - STEPS[0],
                                                                  name="forecast at step "))
    which = alt.param(name="which", value=NAMES["restricted"], bind=alt.binding_select(
        options=[NAMES[m] for m in fc.MEASURES], name="measure "))
    chart = alt.Chart(alt.NamedData("runs")).transform_filter("datum.step == at && datum.measure == which").mark_point(
        filled=True, size=36, opacity=0.8).encode(
        x=alt.X("v:Q", title="the measure at that step (log)", scale=alt.Scale(type="log", zero=False)),
        y=alt.Y("fate:N", sort=list(FATES), title="how the run ends"),
        yOffset=alt.YOffset("jitter:Q", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("fate:N", sort=list(FATES), scale=alt.Scale(domain=list(FATES), range=list(FATE_COLORS)), legend=None),
        shape=alt.condition("datum.open", alt.value("circle"), alt.value("cross")),
        tooltip=[alt.Tooltip("seed:O"), alt.Tooltip("fate:N", title="ends"), alt.Tooltip("v:Q", title="value", format=".3g"),
                 alt.Tooltip("open:N", title="not yet generalized")],
    ).transform_calculate(jitter="(datum.seed * 0.6180339887) % 1").properties(
        width=190 if narrow else 520, height=170).add_params(at, which)
    return with_datasets(chart, {"runs": run_rows(ctx)})


def fate_rows(ctx: BuildContext) -> list[dict]:
    """Per group of runs and step: the median and quartiles of the restricted loss (at the
    checkpoints) and of the logged test loss."""
    t = table(ctx)
    series = (("restricted loss (top 3 frequencies then)", t["over"]["restricted"], t["checkpoint_step"]),
              ("test loss", np.maximum(t["test_curve"], 1e-9), t["curve_step"]))
    rows = []
    for measure, values, steps in series:
        for f, name in enumerate(FATES):
            pick = t["done"] & (t["fate"] == f)
            q1, med, q3 = np.percentile(values[pick], [25, 50, 75], axis=0)
            rows += [{"measure": measure, "fate": name, "step": int(s), "median": _r(m), "q1": _r(a), "q3": _r(b),
                      "n": int(pick.sum())} for s, a, m, b in zip(steps, q1, med, q3)]
    return rows


def fates_chart(ctx: BuildContext, narrow: bool = False):
    colour = alt.Color("fate:N", sort=list(FATES), scale=alt.Scale(domain=list(FATES), range=list(FATE_COLORS)),
                       legend=alt.Legend(orient="bottom", title=None))
    x = alt.X("step:Q", title="step", axis=alt.Axis(format="~s"))
    y = alt.Y("median:Q", title="median over the runs (log)", scale=alt.Scale(type="log"))
    band = alt.Chart().mark_area(opacity=0.2).encode(x=x, y="q1:Q", y2="q3:Q", color=colour)
    line = alt.Chart().mark_line().encode(x=x, y=y, color=colour, tooltip=[
        alt.Tooltip("fate:N", title="runs that"), alt.Tooltip("n:Q", title="runs"), alt.Tooltip("step:Q", format=","),
        alt.Tooltip("median:Q", format=".3g"), alt.Tooltip("q1:Q", format=".3g", title="25%"),
        alt.Tooltip("q3:Q", format=".3g", title="75%")])
    chart = alt.layer(band, line).properties(width=230 if narrow else 300, height=170).facet(
        facet=alt.Facet("measure:N", title=None), columns=1 if narrow else 2, data=alt.NamedData("fates")
    ).resolve_scale(y="independent")
    return with_datasets(chart, {"fates": fate_rows(ctx)})


def figures(ctx: BuildContext) -> list[Figure]:
    return [
        Figure("forecast-auc", SECTION,
               "How well each measure, taken at an early step, tells the sister runs that will grok from those that "
               "will not: the cross-validated AUC (1: perfect, 0.5: chance) with its 95% interval, among the runs not yet "
               "generalized at that step. Grey: the two controls.",
               "Small line charts of AUC against the step of the forecast, one per measure and control; every measure "
               "rises well above 0.5 within the first few thousand steps, the shuffled control stays near 0.5.",
               auc_chart, sources=SOURCES, narrow=lambda ctx: auc_chart(ctx, narrow=True),
               columns=(("measure", "the measure, or a control"), ("auc", "cross-validated area under the ROC curve"),
                        ("low", "2.5% bootstrap quantile of the AUC"), ("high", "97.5% bootstrap quantile of the AUC"),
                        ("runs", "runs not yet generalized at that step (the ones scored)"),
                        ("grok", "of those, runs whose test loss goes under 0.001 within the budget"),
                        ("control", "whether the row is a control"))),
        Figure("forecast-runs", SECTION,
               "Each sister run at the chosen step, placed by the chosen measure and coloured by how it ends. "
               "Move the slider to pick the step, and use the list to pick the measure; a cross marks a run that had "
               "already generalized by then.",
               "Strip plot of the 128 sister runs: the chosen measure at the chosen step on the x axis, one row per "
               "outcome (grokked, caught mid-way, never); the rows separate more as the step grows.",
               runs_chart, sources=SOURCES, narrow=lambda ctx: runs_chart(ctx, narrow=True),
               columns=(("measure", "the measure"), ("v", "its value at that step (losses: the model's loss scale)"),
                        ("fate", "how the run ends: grokked (test loss under 0.001 within the budget), caught mid-way "
                                 "(not, but test accuracy at least 5% at the end), never (under 5%)"),
                        ("open", "whether the run had not yet generalized at that step"))),
        Figure("forecast-fates", SECTION,
               "The restricted loss and the test loss over training, for the runs that grok, those caught mid-way and "
               "those that never generalize: the median over each group's runs, with the middle half shaded.",
               "Two line charts on a log scale: the restricted loss falls for every group, far more for the runs that "
               "grok; the test loss falls only for those.",
               fates_chart, sources=SOURCES, narrow=lambda ctx: fates_chart(ctx, narrow=True),
               columns=(("measure", "which measure"), ("fate", "the group of runs"), ("median", "the median over the group"),
                        ("q1", "25th percentile"), ("q3", "75th percentile"), ("n", "runs in the group"))),
    ]
