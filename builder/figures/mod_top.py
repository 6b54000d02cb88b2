"""Section 1, "An example of grokking" (mod-top): the opening model's curves, weights and waves.

Everything here is read from the frozen run `mod-top` (content/_freeze/mod-top/), trained by
builder.training from content/experiments.toml; nothing is hard-coded.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import altair as alt
import numpy as np

from builder import freeze
from builder.analysis import fourier
from builder.figures import Animation, Figure, Section, with_datasets, with_vega_data
from builder.training import config

EXPERIMENT = "mod-top"
SECTION = "mod-top"
TRAIN_COLOR, TEST_COLOR = "#4c78a8", "#e45756"
# Heatmap values are stored as integers in [-LEVELS, LEVELS] of a fixed range, one character
# each: the page holds 101 steps x 3,216 weights, so this keeps it to ~330 kB instead of ~1.1 MB
# of JSON numbers. The characters are printable ASCII without the two JSON escapes (" and \).
CODES = "".join(c for c in map(chr, range(33, 127)) if c not in '"\\')
LEVELS = (len(CODES) - 1) // 2  # 46
# Diverging colours for the heatmaps, negative (blue) to positive (orange), as (position, rgb).
DIVERGING = ((-1.0, (31, 78, 140)), (-0.5, (111, 160, 208)), (0.0, (238, 238, 236)),
             (0.5, (240, 164, 92)), (1.0, (166, 71, 11)))


def palette(levels: int = LEVELS, anchors=DIVERGING) -> list[str]:
    """One CSS colour per stored level -levels..levels. Looking colours up in this list instead
    of a continuous Vega scale makes a heatmap redraw about 6x faster (see `make bench`)."""
    xs = np.array([a for a, _ in anchors])
    rgb = np.array([c for _, c in anchors], dtype=float)
    t = np.arange(-levels, levels + 1) / levels
    channels = [np.interp(t, xs, rgb[:, i]).round().astype(int) for i in range(3)]
    return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in zip(*channels)]


@lru_cache(maxsize=4)
def run(root: Path) -> dict:
    """The frozen opening run, reduced to what this section draws (models axis dropped)."""
    a = freeze.ensure(EXPERIMENT, root=root).arrays
    w_in, w_out = np.asarray(a["w_in"], np.float64), np.asarray(a["w_out"], np.float64)
    order = fourier.neuron_order(w_in[-1])  # neurons sorted by (frequency, phase) at the end
    freq, phase, mag = fourier.dominant(w_in[-1])
    return {
        "metric_step": np.asarray(a["metric_step"]), "train_acc": np.asarray(a["train_acc"]),
        "test_acc": np.asarray(a["test_acc"]), "step": np.asarray(a["checkpoint_step"]),
        "w_in": w_in[:, :, order], "w_out": w_out[:, :, order],
        "freq": freq[order], "mag": mag[order], "p": w_in.shape[1], "hidden": w_in.shape[2],
    }


def first_step(steps: np.ndarray, values: np.ndarray, at_least: float) -> int | None:
    """First logged step at which `values` reaches `at_least` (None if never)."""
    hit = np.nonzero(values >= at_least)[0]
    return int(steps[hit[0]]) if len(hit) else None


def _spec(root: Path) -> dict:
    return config.get(EXPERIMENT, root).resolve("full")


def _checkpoint_steps(spec: dict) -> tuple:
    return tuple(int(s) for s in np.linspace(0, spec["steps"], spec["checkpoints"]).round())


def sections(root: Path) -> list[Section]:
    steps = _checkpoint_steps(_spec(root))
    return [Section(SECTION, steps, steps[len(steps) // 5])]


def animations(root: Path) -> list[Animation]:
    """Play from 40% of training (deep in the quiet stretch of the frozen run) to the end."""
    steps = _checkpoint_steps(_spec(root))
    return [Animation("mod-top-generalize", SECTION, steps[len(steps) * 2 // 5], steps[-1], 6.0)]


# -- charts --------------------------------------------------------------------------------
def _step_rule(color: str = "#888"):
    """A vertical rule and label at the section's current step."""
    base = alt.Chart(alt.Data(values=[{}])).transform_calculate(s="step")
    rule = base.mark_rule(color=color, strokeDash=[4, 3], clip=True).encode(x="s:Q")
    late = "step > 0.8 * domain('x')[1]"  # near the right edge the label goes on the left
    label = base.mark_text(
        align=alt.expr(f"{late} ? 'right' : 'left'"), dx=alt.expr(f"{late} ? -4 : 4"),
        baseline="top", dy=2, fontSize=11, color=color,
    ).encode(
        x="s:Q", y=alt.value(0), text=alt.Text("label:N")
    ).transform_calculate(label="'step ' + format(step, ',')")
    return rule, label


def accuracy_chart(root: Path):
    r = run(root)
    steps = r["metric_step"]
    rows = [{"step": int(s), "accuracy": round(float(v), 4), "split": split}
            for split, values in (("train", r["train_acc"]), ("test", r["test_acc"]))
            for s, v in zip(steps, values)]
    step = alt.param(name="step", value=sections(root)[0].initial)
    x = alt.X("step:Q", title="Training step", scale=alt.Scale(domain=[0, int(steps[-1])], nice=False),
              axis=alt.Axis(format="~s", tickCount=5))
    lines = alt.Chart(alt.NamedData("accuracy")).mark_line(strokeWidth=2).encode(
        x=x,
        y=alt.Y("accuracy:Q", title="Accuracy", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%", tickCount=5)),
        color=alt.Color("split:N", title=None, scale=alt.Scale(domain=["train", "test"], range=[TRAIN_COLOR, TEST_COLOR]),
                        legend=alt.Legend(orient="bottom-right", labelExpr="datum.label + ' accuracy'")),
    )
    notes = []
    memorized = first_step(steps, r["train_acc"], 1.0)
    generalized = first_step(steps, r["test_acc"], 0.99)
    if memorized is not None:
        notes.append({"step": memorized, "accuracy": 1.0, "text": "memorizes the training pairs", "dy": -8})
    if generalized is not None:
        notes.append({"step": generalized, "accuracy": 0.5, "text": "then generalizes to unseen pairs", "dy": 0})
    late = float(steps[-1]) * 0.6  # notes far to the right are written leftwards
    annotations = [
        alt.Chart(alt.Data(values=[n for n in notes if (n["step"] > late) == right])).mark_text(
            align="right" if right else "left", dx=-6 if right else 6, fontSize=12, fontStyle="italic", color="#8a8a8a"
        ).encode(x="step:Q", y="accuracy:Q", text="text:N", yOffset="dy:Q")
        for right in (False, True)
    ]
    dots = alt.Chart(alt.Data(values=notes)).mark_point(filled=True, size=40, color="#888").encode(x="step:Q", y="accuracy:Q")
    rule, label = _step_rule()
    chart = alt.layer(lines, dots, *annotations, rule, label).add_params(step).properties(
        width="container", height=220, title=alt.Title(f"Train and test accuracy, a + b mod {r['p']}", anchor="start")
    )
    return with_datasets(chart, {"accuracy": rows})


def _vmax(w: np.ndarray) -> float:
    """The fixed colour range of a heatmap: nearly all of its values over the whole run."""
    return float(np.percentile(np.abs(w), 98))


def _packed(w: np.ndarray, steps: np.ndarray, vmax: float) -> list[dict]:
    """One row per checkpoint: the (p x hidden) matrix, neuron-major, one CODES character per
    weight (level + LEVELS); the page decodes a cell with indexof(codes, character)."""
    q = np.clip(np.round(w / vmax * LEVELS), -LEVELS, LEVELS).astype(int) + LEVELS
    table = np.array(list(CODES))
    return [{"step": int(s), "w": "".join(table[q[i].T.reshape(-1)])} for i, s in enumerate(steps)]


def _heatmap(r: dict, key: str, title: str, lookup: bool = True):
    """Cells are a fixed sequence; a formula reads the packed row of the current step."""
    p, hidden, steps = r["p"], r["hidden"], r["step"]
    every = int(steps[1] - steps[0])
    if not np.array_equal(steps, steps[0] + every * np.arange(len(steps))):
        raise ValueError("heatmap checkpoints must be evenly spaced")
    scale = _vmax(r[key]) / LEVELS
    row = f"data('{key}')[clamp(round((step - {int(steps[0])}) / {every}), 0, {len(steps) - 1})]"
    cells = alt.Chart(alt.SequenceGenerator(sequence=alt.SequenceParams(start=0, stop=p * hidden, **{"as": "k"}))).transform_calculate(
        n=f"floor(datum.k / {p})", token=f"datum.k % {p}"
    ).transform_calculate(
        w=f"indexof(codes, substring({row}.w, datum.k, datum.k + 1)) - {LEVELS}"
    ).transform_calculate(
        value=f"datum.w * {scale:.6g}", n1="datum.n + 1", fill=f"palette[datum.w + {LEVELS}]"
    ).mark_rect(aria=False).encode(
        x=alt.X("token:O", title=f"input number (0 to {p - 1})", axis=alt.Axis(values=list(range(0, p, 11)), labelAngle=0)),
        y=alt.Y("n:O", title="neuron", axis=alt.Axis(values=[0, hidden - 1], labelExpr="datum.value + 1")),
        color=alt.Color("fill:N", scale=None) if lookup else alt.Color(
            "w:Q", scale=alt.Scale(scheme="blueorange", domain=[-LEVELS, LEVELS]), legend=None),
        tooltip=[alt.Tooltip("token:O", title="number"), alt.Tooltip("n1:O", title="neuron"),
                 alt.Tooltip("value:Q", format=".2f", title="weight")],
    )
    ring = alt.Chart(alt.Data(values=[{}])).transform_filter("neuron >= 0").transform_calculate(n="neuron").mark_rect(
        fill=None, stroke="#222", strokeWidth=1.5
    ).encode(y="n:O")
    return alt.layer(cells, ring).properties(width=7 * p, height=5 * hidden, title=alt.Title(title, anchor="start", fontSize=12))


def weights_chart(root: Path, lookup: bool = True):
    """lookup=False colours cells through a continuous Vega scale instead (kept for `make bench`)."""
    r = run(root)
    step = alt.param(name="step", value=sections(root)[0].initial)
    neuron = alt.param(name="neuron", value=-1)
    colours = alt.param(name="palette", value=palette())
    codes = alt.param(name="codes", value=CODES)
    top = _heatmap(r, "w_in", "W_input = E W_in: how each number feeds each neuron", lookup)
    bottom = _heatmap(r, "w_out", "W_output = (W_out Eᵀ)ᵀ: how each neuron votes for each answer", lookup)
    chart = alt.vconcat(top, bottom, spacing=14).add_params(step, neuron, colours, codes)
    return with_vega_data(chart, {key: _packed(r[key], r["step"], _vmax(r[key])) for key in ("w_in", "w_out")})


def waves_chart(root: Path):
    """Each neuron's input weights at the end, one small chart per frequency group.

    A checkbox reorders the inputs by k x mod p (k: the group's frequency): a frequency-k wave
    sampled at 67 points zigzags when k is large, but in that order it is one smooth cosine.
    """
    r = run(root)
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
    unwrap = alt.param(name="unwrap", value=False, bind=alt.binding_checkbox(
        name="Order the inputs by frequency × input mod 67, turning each zigzag into one wave "))
    groups = sorted({row["group"] for row in rows}, key=lambda g: (g.startswith("no"), int(g.split()[-1]) if g[-1].isdigit() else 0))
    chart = alt.Chart(alt.NamedData("waves")).transform_calculate(
        x="unwrap ? datum.turn : datum.token"
    ).mark_line(strokeWidth=1.5).encode(
        x=alt.X("x:Q", title="input", scale=alt.Scale(domain=[0, p - 1], nice=False),
                axis=alt.Axis(values=[0, p // 2, p - 1])),
        y=alt.Y("w:Q", title="weight"),
        detail="n:N",
        order="x:Q",
        color=alt.condition("neuron < 0 || datum.n == neuron", alt.value(TRAIN_COLOR), alt.value("#bbb")),
        opacity=alt.condition("neuron < 0 || datum.n == neuron", alt.value(0.9), alt.value(0.25)),
        tooltip=[alt.Tooltip("n1:N", title="neuron")],
    ).properties(width=150, height=90).facet(
        facet=alt.Facet("group:N", title=None, sort=groups), columns=4
    ).add_params(neuron, unwrap)
    return with_datasets(chart, {"waves": rows})


def figures() -> list[Figure]:
    return [
        Figure("mod-top-accuracy", SECTION,
               "Accuracy on the training pairs and on the held-out pairs. Move the pointer (or use the arrow keys) to pick a step.",
               "Line chart of train and test accuracy over 50,000 training steps: train accuracy reaches 100% early while test accuracy stays low, then test accuracy climbs to about 100% much later.",
               accuracy_chart, scrub=True, sources=(EXPERIMENT,)),
        Figure("mod-top-weights", SECTION,
               "The model's 3,216 weights at the chosen step (orange positive, blue negative), neurons sorted by the frequency they end up using.",
               "Two heatmaps of 24 neurons by 67 numbers: the collapsed input and output weights, noisy early in training and striped with waves after the model generalizes.",
               weights_chart, hover="n", sources=(EXPERIMENT,)),
        Figure("mod-top-waves", SECTION,
               "Each neuron's 67 input weights at the end of training, grouped by frequency. Hover a line to find that neuron in the heatmaps; tick the box to order the inputs by k × input mod 67 (k: the group's frequency).",
               "Small line charts, one per frequency, each showing the input weights of the neurons that use that frequency as smooth periodic waves.",
               waves_chart, hover="n", sources=(EXPERIMENT,)),
    ]
