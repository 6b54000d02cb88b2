"""Each figure's data as CSV, written at build time beside its static image.

A chart's tables are the Vega datasets whose values the compiled spec carries. The figure's
main table (the largest) becomes `figures/<id>.csv`; each other table the figure names
(`accuracy`, `w_out`, not Vega-Lite's generated `source_0` of a rule or a label) becomes
`figures/<id>.<table>.csv`. Other runs (with_variants) and on-demand sets (with_demand) are
one file per run or key: `data/<id>/<key>.csv` (`data/<id>/<key>.<table>.csv` for a run's
further tables). Every file opens with `#` comment lines: the figure, the experiments it reads
with their spec keys, the git commit, the table and its columns with their units.
"""
from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from pathlib import Path

GENERATED = re.compile(r"^(source|data)_\d+$")  # names Vega-Lite gives unnamed tables

# What a column means, by the name the figure modules give it (README: "Each figure's data").
UNITS = {
    "step": "training step (optimizer updates)",
    "v": "the plotted value: accuracy as a fraction 0-1, or loss in nats (cross-entropy), as the figure's axis says",
    "split": "which data: train or test",
    "w": "a weight, or a weight norm, as the chart's axis says (dimensionless)",
    "token": "input token 0-66",
    "n1": "neuron number, counting from 1",
    "group": "the line's group, as the legend names it",
    "panel": "the small chart (facet) the row is drawn in",
    "side": "which weights: input or output",
    "x": "horizontal position in the chart's plane (dimensionless)",
    "y": "vertical position in the chart's plane (dimensionless)",
    "seed": "random seed of the run",
    "key": "run key (as in data/<id>/run-<key>.csv)",
    "wd": "weight decay (L2 or L1 coefficient)",
    "lr": "learning rate",
    "n": "index (neuron, frequency or input bit)",
    "i": "token index 0-66",
    "cos": "cosine coordinate (dimensionless)",
    "sin": "sine coordinate (dimensionless)",
    "reached": "step at which the run first reached its test-accuracy threshold (empty: never)",
    "mtr": "train accuracy at the end of training, fraction 0-1",
    "mte": "test accuracy at the end of training, fraction 0-1",
    "h": "hidden width (neurons)",
    "k": "a frequency k (of the Fourier basis over the tokens, or the appendix construction's)",
}


def packed_column(rows: list, col: str) -> bool:
    """Whether `col` holds packed heatmap rows (builder.figures._common.packed): every value a
    string of at least 8 CODES characters, one per weight."""
    from builder.figures._common import CODES
    values = [r.get(col) for r in rows if isinstance(r, dict)]
    return bool(values) and all(isinstance(v, str) and len(v) >= 8 and not set(v) - set(CODES) for v in values)


def git_commit(root: Path) -> str:
    """The commit the build's sources are at ("unknown" outside a git checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def _image_url(value) -> bool:
    return isinstance(value, str) and value.startswith("data:")


def columns(rows: list) -> list[str]:
    """The columns of a table of dict rows, in first-seen order, without images (data: URLs:
    rasters drawn at build time, which the static image shows)."""
    seen = {}
    for row in rows:
        if isinstance(row, dict):
            for k, v in row.items():
                if k not in seen or seen[k]:
                    seen[k] = not _image_url(v)
    return [k for k, keep in seen.items() if keep]


def tables(vega: dict) -> list[tuple[str, list]]:
    """(name, rows) of each dataset of a compiled chart whose values it carries and that has
    columns, largest first."""
    out = [(d["name"], d["values"]) for d in vega.get("data", [])
           if isinstance(d.get("values"), list) and columns(d["values"])]
    return sorted(out, key=lambda t: -len(t[1]))


def figure_tables(vega: dict) -> list[tuple[str, str, list]]:
    """(file stem suffix, table name, rows): the main table ("" suffix), then each named one."""
    found = tables(vega)
    if not found:
        return []
    main = found[0]
    return [("", main[0], main[1])] + [("." + n, n, rows) for n, rows in found[1:] if not GENERATED.match(n)]


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def csv_text(header: list[str], table: str, rows: list) -> str:
    """A table as CSV, after `header` comment lines and lines naming the table and its columns."""
    cols = columns(rows)
    out = io.StringIO()
    for line in header:
        out.write(f"# {line}\n")
    out.write(f"# table: {table} ({len(rows)} rows)\n")
    for c in cols:
        if packed_column(rows, c):
            from builder.figures._common import CODES, LEVELS
            out.write(f"# column {c}: packed weights, one character per weight in row-major order (neuron, then "
                      f"column); level = (position of the character in {CODES}) - {LEVELS}; weight = level x the "
                      f"figure's maximum magnitude / {LEVELS}\n")
        else:
            out.write(f"# column {c}: {UNITS.get(c, 'see the figure caption')}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(cols)
    for row in rows:
        writer.writerow([_cell(row.get(c)) if isinstance(row, dict) else "" for c in cols])
    return out.getvalue()


def chart_csvs(chart, header: list[str]) -> dict[str, str]:
    """Site-relative path -> CSV text of every table of a compiled chart (builder.render.charts
    CompiledChart): its own tables under figures/, each run's and on-demand key's under data/."""
    files = {}
    for suffix, name, rows in figure_tables(chart.vega):
        files[f"figures/{chart.id}{suffix}.csv"] = csv_text(header, name, rows)
    for key, payload in chart.payloads.items():
        if isinstance(payload, dict) and isinstance(payload.get("data"), dict):  # another run: its tables
            named = sorted(((n, r) for n, r in payload["data"].items() if isinstance(r, list) and columns(r)),
                           key=lambda t: -len(t[1]))
        else:  # an on-demand key: one table of rows
            named = [("demand", payload)] if isinstance(payload, list) and columns(payload) else []
        for i, (n, rows) in enumerate(named):
            files[f"data/{chart.id}/{key}{'' if i == 0 else '.' + n}.csv"] = csv_text(header + [f"run or key: {key}"], n, rows)
    return files


def header(fig, spec_keys: dict, commit: str) -> list[str]:
    """The comment lines that open each of a figure's CSV files."""
    lines = [f"figure: {fig.id} (section {fig.section})"]
    for name in fig.sources:
        lines.append(f"experiment: {name}, spec key {spec_keys.get(name, 'unknown')}")
    lines.append(f"commit: {commit}")
    return lines
