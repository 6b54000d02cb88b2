"""Chart pieces shared by the section modules: training curves with a step rule, and heatmaps of
weights at the scrubbed step. (A leading underscore keeps this module out of the registry.)"""
from __future__ import annotations

import altair as alt
import numpy as np

TRAIN_COLOR, TEST_COLOR = "#4c78a8", "#e45756"
# Heatmap values are stored as integers in [-LEVELS, LEVELS] of a fixed range, one character
# each: the opening section holds 101 steps x 3,216 weights, so this keeps it to ~330 kB instead
# of ~1.1 MB of JSON numbers. The characters are printable ASCII without the JSON escapes " and \.
CODES = "".join(c for c in map(chr, range(33, 127)) if c not in '"\\')
LEVELS = (len(CODES) - 1) // 2  # 45
# Diverging colours for the heatmaps, negative (blue) to positive (orange), as (position, rgb).
DIVERGING = ((-1.0, (31, 78, 140)), (-0.5, (111, 160, 208)), (0.0, (238, 238, 236)),
             (0.5, (240, 164, 92)), (1.0, (166, 71, 11)))


def palette(levels: int = LEVELS, anchors=DIVERGING) -> list[str]:
    """One CSS colour per stored level -levels..levels. Looking colours up in this list instead
    of a continuous Vega scale makes a heatmap redraw about 2x faster (see `make bench`)."""
    xs = np.array([a for a, _ in anchors])
    rgb = np.array([c for _, c in anchors], dtype=float)
    t = np.arange(-levels, levels + 1) / levels
    channels = [np.interp(t, xs, rgb[:, i]).round().astype(int) for i in range(3)]
    return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in zip(*channels)]


def _luminance(color: str) -> float:
    """WCAG relative luminance of '#rrggbb'."""
    lin = [(v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4)
           for v in (int(color[i:i + 2], 16) / 255 for i in (1, 3, 5))]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def text_on(color: str) -> str:
    """Black or white, whichever reads better on `color`: one of them always has at least
    4.58:1 contrast (text drawn on a mark keeps its colour in both themes)."""
    return "#000" if _luminance(color) > (1.05 * 0.05) ** 0.5 - 0.05 else "#fff"


def heatmap_params() -> list:
    """The params every heatmap chart adds once at its top level."""
    return [alt.param(name="palette", value=palette()), alt.param(name="codes", value=CODES)]


def checkpoint_steps(spec: dict) -> tuple:
    """The steps at which a run of this resolved spec keeps its weights (both ends included)."""
    return tuple(int(s) for s in np.linspace(0, spec["steps"], spec["checkpoints"]).round())


def first_step(steps: np.ndarray, values: np.ndarray, at_least: float) -> int | None:
    """First logged step at which `values` reaches `at_least` (None if never)."""
    hit = np.nonzero(values >= at_least)[0]
    return int(steps[hit[0]]) if len(hit) else None


def step_rule(color: str = "#888"):
    """A vertical rule and label at the section's current step (a chart with a `step` param)."""
    base = alt.Chart(alt.Data(values=[{}])).transform_calculate(s="step")
    rule = base.mark_rule(color=color, strokeDash=[4, 3], clip=True).encode(x="s:Q")
    late = "step > 0.8 * domain('x')[1]"  # near the right edge the label goes on the left
    label = base.mark_text(
        align=alt.expr(f"{late} ? 'right' : 'left'"), dx=alt.expr(f"{late} ? -4 : 4"),
        baseline="top", dy=2, fontSize=11, color=color,
    ).encode(x="s:Q", y=alt.value(0), text=alt.Text("label:N")).transform_calculate(
        label="'step ' + format(step, ',')")
    return rule, label


def notes_layers(notes: list[dict], y: str, x_max: float) -> list:
    """Dots and italic labels at (step, y) points; labels far right are written leftwards."""
    late = x_max * 0.6
    texts = [
        alt.Chart(alt.Data(values=[n for n in notes if (n["step"] > late) == right])).mark_text(
            align="right" if right else "left", dx=-6 if right else 6, fontSize=12, fontStyle="italic", color="#8a8a8a"
        ).encode(x="step:Q", y=f"{y}:Q", text="text:N", yOffset="dy:Q")
        for right in (False, True)
    ]
    dots = alt.Chart(alt.Data(values=notes)).mark_point(filled=True, size=40, color="#888").encode(x="step:Q", y=f"{y}:Q")
    return [dots, *texts]


def phase_notes(steps, train_acc, test_acc, *, fit_level: float, fit: tuple, rule: tuple) -> list[dict]:
    """Annotations at the step the training set is fit (train accuracy reaches fit_level) and
    the step the rule is found (test accuracy reaches 99%); fit/rule: (text, y, dy)."""
    notes = []
    for level, values, (text, y, dy) in ((fit_level, train_acc, fit), (0.99, test_acc, rule)):
        step = first_step(steps, values, level)
        if step is not None:
            notes.append({"step": step, "v": y, "text": text, "dy": dy})
    return notes


def curve_rows(steps: np.ndarray, series: dict) -> list[dict]:
    """One row per split and step, values to 4 significant digits."""
    return [{"step": int(s), "v": float(f"{v:.4g}"), "split": split}
            for split, values in series.items() for s, v in zip(steps, values)]


def curves(name: str, steps: np.ndarray, series: dict, *, y: alt.Y, initial: int, title: str,
           legend_suffix: str, notes: list[dict] = (), height: int = 220, legend: str = "bottom-right"):
    """Train/test curves over steps with the step rule: a scrub chart's Vega-Lite spec pieces.

    series: split name ("train", "test") -> values at `steps`. Returns (chart, rows) for
    with_datasets(chart, {name: rows}).
    """
    rows = curve_rows(steps, series)
    x = alt.X("step:Q", title="Training step", scale=alt.Scale(domain=[0, int(steps[-1])], nice=False),
              axis=alt.Axis(format="~s", tickCount=5))
    lines = alt.Chart(alt.NamedData(name)).mark_line(strokeWidth=2).encode(
        x=x, y=y,
        color=alt.Color("split:N", title=None, scale=alt.Scale(domain=["train", "test"], range=[TRAIN_COLOR, TEST_COLOR]),
                        legend=alt.Legend(orient=legend, labelExpr=f"datum.label + '{legend_suffix}'")),
    )
    rule, label = step_rule()
    layers = [lines, *notes_layers(list(notes), "v", float(steps[-1])), rule, label] if notes else [lines, rule, label]
    chart = alt.layer(*layers).add_params(alt.param(name="step", value=initial)).properties(
        width="container", height=height, title=alt.Title(title, anchor="start"))
    return chart, rows


def accuracy_curves(r: dict, *, initial: int, title: str, fit_level: float, fit: tuple, rule: tuple,
                    low: float = 0.0, height: int = 220) -> dict:
    """The train/test accuracy chart of a run r (metric_step, train_acc, test_acc) with the
    phase notes (see phase_notes), y from `low` to 100%: a scrub chart's Vega-Lite dict."""
    from builder.figures import with_datasets

    steps = r["metric_step"]
    notes = phase_notes(steps, r["train_acc"], r["test_acc"], fit_level=fit_level, fit=fit, rule=rule)
    scale = alt.Scale(domain=[low, 1], clamp=True) if low else alt.Scale(domain=[0, 1])
    chart, rows = curves(
        "accuracy", steps, {"train": r["train_acc"], "test": r["test_acc"]},
        y=alt.Y("v:Q", title="Accuracy", scale=scale, axis=alt.Axis(format="%", tickCount=6 if low else 5)),
        initial=initial, title=title, legend_suffix=" accuracy", notes=notes, height=height)
    return with_datasets(chart, {"accuracy": rows})


def loss_curves(r: dict, *, initial: int, title: str, height: int = 220, legend: str = "bottom-right") -> dict:
    """The train/test loss chart of a run r (metric_step, train_loss, test_loss) on a log scale:
    a scrub chart's Vega-Lite dict."""
    from builder.figures import with_datasets

    chart, rows = curves(
        "loss", r["metric_step"], {"train": r["train_loss"], "test": r["test_loss"]},
        y=alt.Y("v:Q", title="Loss (log scale)", scale=alt.Scale(type="log"), axis=alt.Axis(format="~g", tickCount=5)),
        initial=initial, title=title, legend_suffix=" loss", height=height, legend=legend)
    return with_datasets(chart, {"loss": rows})


def vmax_of(w: np.ndarray) -> float:
    """The fixed colour range of a heatmap: nearly all of its values over the whole run, but at
    least a fifth of the largest (a sparse matrix's 98th percentile can be ~0)."""
    a = np.abs(w)
    return float(max(np.percentile(a, 98), 0.2 * a.max()))


def packed(w: np.ndarray, steps: np.ndarray, vmax: float) -> list[dict]:
    """One row per checkpoint of w (checkpoints, columns, rows): row-major over (rows, columns),
    one CODES character per weight (level + LEVELS); the page decodes with indexof(codes, c)."""
    q = np.clip(np.round(w / vmax * LEVELS), -LEVELS, LEVELS).astype(int) + LEVELS
    table = np.array(list(CODES))
    return [{"step": int(s), "w": "".join(table[q[i].T.reshape(-1)])} for i, s in enumerate(steps)]


def heatmap(key: str, w: np.ndarray, steps: np.ndarray, title: str, *, x_title: str, x_axis: alt.Axis,
            y_title: str = "neuron", cell: tuple = (7, 5), lookup: bool = True, tooltip_x: str = "number",
            vmax: float | None = None, tooltip: bool = True, at: str | None = None):
    """Heatmap of w (checkpoints, columns, rows) at the current `step`; rows are neurons.

    Cells are a fixed sequence; a formula reads the packed row of the current step from the
    table `key` (pass packed(...) through with_vega_data), so scrubbing recolours cells in place.
    lookup=False colours through a continuous Vega scale instead (kept for `make bench`).
    at: a Vega expression for the checkpoint index of the current step (default: from `steps`).
    """
    n_cols, n_rows = w.shape[1], w.shape[2]
    every = int(steps[1] - steps[0]) if len(steps) > 1 else 1
    if not np.array_equal(steps, steps[0] + every * np.arange(len(steps))):
        raise ValueError("heatmap checkpoints must be evenly spaced")
    scale = (vmax or vmax_of(w)) / LEVELS
    at = at or f"clamp(round((step - {int(steps[0])}) / {every}), 0, {len(steps) - 1})"
    row = f"data('{key}')[{at}]"
    cells = alt.Chart(alt.SequenceGenerator(sequence=alt.SequenceParams(start=0, stop=n_cols * n_rows, **{"as": "k"}))).transform_calculate(
        n=f"floor(datum.k / {n_cols})", token=f"datum.k % {n_cols}"
    ).transform_calculate(
        w=f"indexof(codes, substring({row}.w, datum.k, datum.k + 1)) - {LEVELS}"
    ).transform_calculate(
        value=f"datum.w * {scale:.6g}", n1="datum.n + 1", fill=f"palette[datum.w + {LEVELS}]"
    ).mark_rect(aria=False).encode(
        x=alt.X("token:O", title=x_title, axis=x_axis),
        y=alt.Y("n:O", title=y_title, axis=alt.Axis(values=[0, n_rows - 1], labelExpr="datum.value + 1")),
        color=alt.Color("fill:N", scale=None) if lookup else alt.Color(
            "w:Q", scale=alt.Scale(scheme="blueorange", domain=[-LEVELS, LEVELS]), legend=None),
        # per-cell tooltips cost ~40% of a redraw; large heatmaps go without
        tooltip=[alt.Tooltip("token:O", title=tooltip_x), alt.Tooltip("n1:O", title="neuron"),
                 alt.Tooltip("value:Q", format=".2f", title="weight")] if tooltip else alt.Undefined,
    )
    ring = alt.Chart(alt.Data(values=[{}])).transform_filter("neuron >= 0").transform_calculate(n="neuron").mark_rect(
        fill=None, stroke="#222", strokeWidth=1.5
    ).encode(y="n:O")
    return alt.layer(cells, ring).properties(
        width=cell[0] * n_cols, height=cell[1] * n_rows, title=alt.Title(title, anchor="start", fontSize=12))


def raster(chart, scale: float = 2.0) -> str:
    """A chart drawn once at build time, as a PNG data URI: for marks too many to draw in the page
    (thousands of lines) that never change as the reader scrubs. The chart must have a fixed
    size, no padding and no axes, so that its pixels map linearly onto the live chart's plot
    area (see `raster_layer`)."""
    import base64

    import vl_convert as vlc

    spec = chart.to_dict() if hasattr(chart, "to_dict") else chart
    spec = {**spec, "autosize": {"type": "none"}, "padding": 0, "background": None,
            "config": {**spec.get("config", {}), "view": {"stroke": None}}}
    return "data:image/png;base64," + base64.b64encode(vlc.vegalite_to_png(spec, scale=scale)).decode()


def raster_layer(url: str, height: int):
    """An image mark that covers a layer's plot area (the width of the chart, `height` tall)
    with a `raster` image; the other layers of the chart draw the axes and what moves."""
    return alt.Chart(alt.Data(values=[{"url": url}])).mark_image(
        aspect=False, align="left", baseline="top", width=alt.expr("width"), height=height, aria=False,
    ).encode(url="url:N", x=alt.value(0), y=alt.value(0))
