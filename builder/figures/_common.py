"""Chart pieces shared by the section modules: training curves with a step rule, and heatmaps of
weights at the scrubbed step. (A leading underscore keeps this module out of the registry.)"""
from __future__ import annotations

import itertools

import altair as alt
import numpy as np

from builder.training.trainer import schedule

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
    """The steps at which a run of this resolved spec keeps its weights (both ends included):
    the trainer's own schedule."""
    return tuple(int(s) for s in schedule(spec["steps"], spec["checkpoints"]))


def first_step(steps: np.ndarray, values: np.ndarray, at_least: float) -> int | None:
    """First logged step at which `values` reaches `at_least` (None if never)."""
    hit = np.nonzero(values >= at_least)[0]
    return int(steps[hit[0]]) if len(hit) else None


STEP_RULE = "step_rule"  # the name of step_rule's rule mark: a scrub chart scrubs along its x scale (Figure.scrub)


def step_rule(color: str = "#888"):
    """A vertical rule and label at the section's current step (a chart with a `step` param).
    The rule is the mark named STEP_RULE."""
    base = alt.Chart(alt.Data(values=[{}])).transform_calculate(s="step")
    rule = base.mark_rule(color=color, strokeDash=[4, 3], clip=True).encode(x="s:Q").properties(name=STEP_RULE)
    late = f"step > 0.8 * domain(@{STEP_RULE}.x)[1]"  # near the right edge the label goes on the left
    label = base.mark_text(
        align=alt.expr(f"{late} ? 'right' : 'left'"), dx=alt.expr(f"{late} ? -4 : 4"),
        baseline="top", dy=2, fontSize=11, color=color,
    ).encode(x="s:Q", y=alt.value(0), text=alt.Text("label:N")).transform_calculate(
        label="'step ' + format(step, ',')")
    return rule, label


# Annotations ("memorizes", "generalizes") sit on their curve: a dot at the logged point where
# the phase is reached, and a label placed beside it by `place_note`, which tries positions
# around the dot and keeps the nearest one whose text stays inside the plot and clear of the
# curves, the step label's band at the top, the legend and the other notes, at every width in
# NOTE_WIDTHS (the charts take their column's width: a phone's ~270 px plot up to a wide
# screen's). Sizes are in pixels of the plot area.
NOTE_FONT, NOTE_LINE = 12, 14  # font size and line height of a note
NOTE_CHAR = 6.0  # a generous average width of a character of the note's italic font (measured: 5.6)
NOTE_WIDTHS = (250, 300, 360, 440, 540, 680, 840, 1000)
STEP_BAND = 17  # the step label (step_rule) is written in this band at the top of the plot
LEGEND_BOX = (120, 50)  # the bottom-right legend's width and height, from the plot's corner
NOTE_GAP = 3  # the least distance between a note's text and a curve or another mark


def split_note(text: str, lines: int) -> str:
    """The text on `lines` lines, broken at the spaces that make the longest line shortest."""
    words = text.split(" ")
    if lines <= 1 or len(words) < lines:
        return text
    best = None
    for cuts in itertools.combinations(range(1, len(words)), lines - 1):
        parts = [" ".join(words[a:b]) for a, b in zip((0, *cuts), (*cuts, len(words)))]
        if best is None or max(map(len, parts)) < max(map(len, best)):
            best = parts
    return "\n".join(best)


def note_box(note: dict, width: float, height: float, x_max: float, y_domain: tuple) -> tuple:
    """(left, top, right, bottom) of a placed note's text in plot pixels at this plot width."""
    x, y = to_pixels(note["step"], note["v"], width, height, x_max, y_domain)
    lines = note["text"].split("\n")
    w = max(len(line) for line in lines) * NOTE_CHAR
    h = len(lines) * NOTE_LINE
    left = x + note["dx"] if note["align"] == "left" else x + note["dx"] - w
    top = y + note["dy"] - h / 2
    return left, top, left + w, top + h


def leader_end(note: dict) -> tuple | None:
    """Where a note's leader line ends, as a pixel offset from its dot; None when the text is
    level with the dot (no leader)."""
    half = NOTE_LINE * (note["text"].count("\n") + 1) / 2
    if abs(note["dy"]) <= half:
        return None
    return note["dx"] * 0.6, float(np.sign(note["dy"]) * (abs(note["dy"]) - half))


def leader_pixels(note: dict, width, height, x_max, y_domain) -> np.ndarray:
    """Points every pixel along a note's leader line, (n, 2) in plot pixels (none without one)."""
    end = leader_end(note)
    if end is None:
        return np.zeros((0, 2))
    x, y = to_pixels(note["step"], note["v"], width, height, x_max, y_domain)
    t = np.linspace(0, 1, int(np.hypot(*end)) + 2)[:, None]
    return np.concatenate([x + end[0] * t, y + end[1] * t], axis=1)


def to_pixels(step, v, width, height, x_max, y_domain):
    low, high = y_domain
    t = (np.clip(np.asarray(v, float), low, high) - low) / (high - low)
    return np.asarray(step, float) / x_max * width, height * (1 - t)


def curve_pixels(steps, series: list, width, height, x_max, y_domain) -> np.ndarray:
    """Points every pixel or so along each curve, (n, 2) in plot pixels."""
    out = []
    for values in series:
        x, y = to_pixels(steps, values, width, height, x_max, y_domain)
        for x0, y0, x1, y1 in zip(x[:-1], y[:-1], x[1:], y[1:]):
            n = int(np.ceil(np.hypot(x1 - x0, y1 - y0))) + 1
            t = np.linspace(0, 1, n)
            out.append(np.stack([x0 + (x1 - x0) * t, y0 + (y1 - y0) * t], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 2))


def note_clashes(note: dict, placed: list, steps, series, height, x_max, y_domain, widths=NOTE_WIDTHS,
                 curves: dict | None = None) -> list:
    """The plot widths at which this placed note's text leaves the plot or touches a curve, the
    step label's band, the legend, another note's text or dot, or its own dot. curves: width ->
    curve_pixels, when the caller has them already."""
    bad = []
    for width in widths:
        left, top, right, bottom = note_box(note, width, height, x_max, y_domain)
        g = NOTE_GAP
        if left < 0 or right > width or top < STEP_BAND or bottom > height:
            bad.append(width)
            continue
        pts = curves[width] if curves else curve_pixels(steps, series, width, height, x_max, y_domain)
        dots = [to_pixels(n["step"], n["v"], width, height, x_max, y_domain) for n in [*placed, note]]
        pts = np.concatenate([pts, np.array(dots, float).reshape(-1, 2)])
        hit = ((pts[:, 0] > left - g) & (pts[:, 0] < right + g) & (pts[:, 1] > top - g) & (pts[:, 1] < bottom + g)).any()
        lw, lh = LEGEND_BOX
        legend = left < width and right > width - lw and bottom > height - lh
        others = any(a < right + g and c > left - g and b < bottom + g and d > top - g
                     for a, b, c, d in (note_box(n, width, height, x_max, y_domain) for n in placed))
        # its leader must not cross another note's text, nor another note's leader its text
        mine = leader_pixels(note, width, height, x_max, y_domain)
        for n in placed:
            a, b, c, d = note_box(n, width, height, x_max, y_domain)
            if ((mine[:, 0] > a - g) & (mine[:, 0] < c + g) & (mine[:, 1] > b - g) & (mine[:, 1] < d + g)).any():
                others = True
            theirs = leader_pixels(n, width, height, x_max, y_domain)
            if ((theirs[:, 0] > left - g) & (theirs[:, 0] < right + g) & (theirs[:, 1] > top - g) & (theirs[:, 1] < bottom + g)).any():
                others = True
        if hit or legend or others:
            bad.append(width)
    return bad


def place_note(step: int, v: float, text: str, placed: list, steps, series: list, *, height: int, x_max: float,
               y_domain: tuple) -> dict:
    """A note at the curve point (step, v): the nearest placement (text to the right or left of
    the dot, level with it or above or below, on one line or two) that is clear at every width;
    if none is, the one clear at the most widths."""
    curves = {w: curve_pixels(steps, series, w, height, x_max, y_domain) for w in NOTE_WIDTHS}
    candidates = []
    for lines in (1, 2, 3):
        body = split_note(text, lines)
        for dy in range(-height, height + 1, 2):
            for side in ("left", "right"):
                note = {"step": int(step), "v": float(v), "text": body, "align": side, "dx": 7 if side == "left" else -7, "dy": dy}
                candidates.append((abs(dy) + 28 * (lines - 1) + (6 if side == "right" else 0), len(candidates), note))
    best = None
    for score, _, note in sorted(candidates, key=lambda c: c[:2]):
        bad = len(note_clashes(note, placed, steps, series, height, x_max, y_domain, curves=curves))
        if bad == 0:
            return note
        if best is None or bad < best[0]:
            best = (bad, note)
    return best[1]


def notes_layers(notes: list[dict], y: str = "v") -> list:
    """Each placed note (place_note) as a dot on its curve, its italic text, and a thin leader
    from the dot to the text when the text sits above or below the dot."""
    dots = alt.Chart(alt.Data(values=[{"step": n["step"], y: n["v"]} for n in notes])).mark_point(
        filled=True, size=36, color="#777", opacity=1).encode(x="step:Q", y=f"{y}:Q")
    layers = [dots]
    for n in notes:
        data = alt.Data(values=[{"step": n["step"], y: n["v"], "text": n["text"]}])
        end = leader_end(n)
        if end:
            layers.append(alt.Chart(data).mark_rule(color="#999", strokeWidth=1, x2Offset=end[0], y2Offset=end[1]).encode(
                x="step:Q", y=f"{y}:Q", x2="step:Q", y2=f"{y}:Q"))
        layers.append(alt.Chart(data).mark_text(
            align=n["align"], baseline="middle", dx=n["dx"], dy=n["dy"], lineBreak="\n", lineHeight=NOTE_LINE,
            fontSize=NOTE_FONT, fontStyle="italic", color="#707070",
        ).encode(x="step:Q", y=f"{y}:Q", text="text:N"))
    return layers


def phase_notes(steps, train_acc, test_acc, *, fit_level: float, fit: str, rule: str, height: int,
                y_domain: tuple) -> list[dict]:
    """Notes on the curves at the step the training set is fit (train accuracy first reaches
    fit_level) and the step the rule is found (test accuracy first reaches 99%), each placed
    clear of the curves (place_note); a phase the run never reaches gets no note."""
    points = []
    for level, values, text in ((fit_level, train_acc, fit), (0.99, test_acc, rule)):
        hit = np.nonzero(np.asarray(values) >= level)[0]
        if len(hit):
            points.append((int(steps[hit[0]]), float(values[hit[0]]), text))
    if len(points) == 2 and points[0][0] == points[1][0]:  # both at one logged step: one dot, one note
        points = [(points[0][0], max(points[0][1], points[1][1]), f"{points[0][2]} and {points[1][2]}")]
    notes = []
    series = [np.asarray(train_acc, float), np.asarray(test_acc, float)]
    for step, v, text in points:
        notes.append(place_note(step, v, text, notes, steps, series, height=height, x_max=float(steps[-1]), y_domain=y_domain))
    return notes


TITLE_CHARS = 40  # the longest title (13 px bold) kept on one line: about 300 px


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
    layers = [lines, *notes_layers(list(notes)), rule, label] if notes else [lines, rule, label]
    # a long title goes on two lines: on a phone's column one line of it would be cut off
    text = split_note(title, 2).split("\n") if len(title) > TITLE_CHARS else title
    chart = alt.layer(*layers).add_params(alt.param(name="step", value=initial)).properties(
        width="container", height=height, title=alt.Title(text, anchor="start"))
    return chart, rows


def accuracy_curves(r: dict, *, initial: int, title: str, fit_level: float, fit: str, rule: str,
                    low: float = 0.0, height: int = 220) -> dict:
    """The train/test accuracy chart of a run r (metric_step, train_acc, test_acc) with the
    phase notes `fit` and `rule` (see phase_notes), y from `low` to 100%: a scrub chart's
    Vega-Lite dict."""
    from builder.figures import with_datasets

    steps = r["metric_step"]
    notes = phase_notes(steps, r["train_acc"], r["test_acc"], fit_level=fit_level, fit=fit, rule=rule,
                        height=height, y_domain=(low, 1.0))
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


# What a packed heatmap's columns are (its x axis): the figure says so in the first packed row,
# and its CSV (builder.render.tables) is written from that as plain columns. kind -> (the name
# of the value, what it is, and what each column naming a heatmap column holds).
AXES = {
    "input": ("weight", "the weight from that input number to the neuron",
              {"token": "input number (a or b), 0-{last}"}),
    "answer": ("weight", "the neuron's output weight for that answer",
               {"answer": "the answer c, 0-{last}, the weight votes for"}),
    "bit": ("weight", "the first-layer weight from that input bit to the neuron",
            {"bit": "input bit 1-{last}, or bias (the constant input)"}),
    "output": ("weight", "the neuron's output weight", {}),
    "fourier": ("coefficient", "the coefficient of the neuron's weights over the {n} input numbers on that "
                               "function of the orthonormal Fourier basis",
                {"k": "frequency k, 1-{kmax} (0 for the constant function)",
                 "wave": "the basis function of frequency k: const, cos or sin"}),
}

MOD_AXES = {"w_in": "input", "w_out": "answer"}  # W_input and W_output of the modular-addition models


def axis_values(kind: str, j: int, n: int) -> dict:
    """What the heatmap column j of n is, as the CSV columns of AXES[kind] say."""
    if kind in ("input", "answer"):
        return {"token" if kind == "input" else "answer": j}
    if kind == "bit":
        return {"bit": "bias" if j == n - 1 else j + 1}
    if kind == "fourier":
        return {"k": (j + 1) // 2, "wave": "const" if j == 0 else ("cos", "sin")[(j - 1) % 2]}
    return {}


def axis_label(kind: str, j: int, n: int) -> str:
    """Column j of n as one CSV column's name (a table with one column per heatmap column)."""
    v = axis_values(kind, j, n)
    if kind == "fourier":
        return v["wave"] if j == 0 else f"{v['wave']} {v['k']}"
    return " ".join(str(x) for x in v.values()) if kind != "bit" or v["bit"] == "bias" else f"bit {v['bit']}"


def packed(w: np.ndarray, steps: np.ndarray, vmax: float, axis: str) -> list[dict]:
    """One row per checkpoint of w (checkpoints, columns, rows): row-major over (rows, columns),
    one CODES character per weight (level + LEVELS); the page decodes with indexof(codes, c).
    The first row also says what the table is, for its CSV: `packed` = [rows (neurons), columns,
    the value of one level, the columns' kind (AXES)]."""
    if axis not in AXES:
        raise ValueError(f"unknown heatmap axis {axis!r} (one of {', '.join(AXES)})")
    q = np.clip(np.round(w / vmax * LEVELS), -LEVELS, LEVELS).astype(int) + LEVELS
    table = np.array(list(CODES))
    rows = [{"step": int(s), "w": "".join(table[q[i].T.reshape(-1)])} for i, s in enumerate(steps)]
    if rows:
        rows[0]["packed"] = [int(w.shape[2]), int(w.shape[1]), float(f"{vmax / LEVELS:.6g}"), axis]
    return rows


def unpacked(rows: list[dict], wide: bool = False) -> tuple[list[dict], dict]:
    """A packed table (packed) as plain rows, and what each column holds: one row per step,
    neuron and heatmap column (step, neuron, the AXES columns, the value), or with `wide` one
    row per step and neuron and a column per heatmap column. Values are decimals at the
    precision of the 91 levels the heatmap shows."""
    n_rows, n_cols, level, kind = rows[0]["packed"]
    value, what, axes = AXES[kind]
    names = {"last": n_cols - 1, "n": n_cols, "kmax": (n_cols - 1) // 2}
    what, axes = what.format(**names), {k: v.format(**names) for k, v in axes.items()}
    decimals = max(0, int(np.ceil(-np.log10(level)))) + 1 if level > 0 else 0
    values = [f"{v:.{decimals}f}".rstrip("0").rstrip(".") if v and decimals else f"{v:.0f}"
              for v in (round(lv * level, decimals) for lv in range(-LEVELS, LEVELS + 1))]
    values = ["0" if v == "-0" else v for v in values]
    decode = dict(zip(CODES, values))
    where = [axis_values(kind, j, n_cols) for j in range(n_cols)]
    unit = (f"{what}, dimensionless, at the precision the heatmap shows (91 colour levels: a multiple of "
            f"{level:g}, clipped to +-{level * LEVELS:.4g})")
    meaning = {"step": "training step (optimizer updates)", "neuron": "hidden neuron, numbered from 1 (the heatmap's row)"}
    out = []
    if wide:
        labels = [axis_label(kind, j, n_cols) for j in range(n_cols)] if axes else [value]
        for row in rows:
            w = row["w"]
            for n in range(n_rows):
                cells = w[n * n_cols:(n + 1) * n_cols]
                out.append({"step": row["step"], "neuron": n + 1, **{lab: decode[c] for lab, c in zip(labels, cells)}})
        span = f"{labels[0]} ... {labels[-1]}" if len(labels) > 1 else labels[0]
        meaning[span] = unit + (f"; one column per {' and '.join(axes)} ({'; '.join(axes.values())})" if axes else "")
        return out, meaning
    for row in rows:
        w = row["w"]
        for n in range(n_rows):
            for j in range(n_cols):
                out.append({"step": row["step"], "neuron": n + 1, **where[j], value: decode[w[n * n_cols + j]]})
    return out, {**meaning, **axes, value: unit}


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
