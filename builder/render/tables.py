"""Each figure's data as CSV, written at build time beside its static image.

A chart's tables are the Vega datasets whose values the compiled spec carries. The figure's
main table (the largest) becomes `figures/<id>.csv`; each other table the figure names
(`accuracy`, `w_out`, not Vega-Lite's generated `source_0` of a rule or a label) becomes
`figures/<id>.<table>.csv`. Other runs (with_variants) and on-demand sets (with_demand) are
one file per run or key: `data/<id>/<key>.csv` (`data/<id>/<key>.<table>.csv` for a run's
further tables). Every file opens with `#` comment lines: the figure, the experiments it reads
with their spec keys, the git commit (`<sha>+dirty` when the checkout has changes), the table
and its columns with their units.
"""
from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from pathlib import Path

GENERATED = re.compile(r"^(source|data)_\d+$")  # names Vega-Lite gives unnamed tables

# What a column means where its name says it for every figure ("table.column" for one table
# name); a figure says what its other columns hold in Figure.columns, which comes first. A
# column nobody describes is written with FALLBACK, and the tests fail on it (README: "Each
# figure's data").
UNITS = {
    "step": "training step (optimizer updates)",
    "accuracy.v": "accuracy, fraction 0-1",
    "loss.v": "cross-entropy loss, nats (natural logarithm), mean over the examples",
    "split": "which data: train (the training set) or test (held-out examples)",
    "seed": "random seed of the run",
    "key": "run key (as in data/<id>/run-<key>.csv)",
    "wd": "weight decay (the L2 or L1 coefficient)",
    "lr": "learning rate",
    "mtr": "the lowest train loss the run reached, nats",
    "mte": "the lowest test loss the run reached, nats",
    "mr": "the largest ratio of test loss to train loss over the run",
    "demand.train": "train loss, nats",
    "demand.test": "test loss, nats",
    "cell": "the grid cell (as in data/<id>/<cell>.csv, its runs' loss curves)",
}


def is_packed(rows: list) -> bool:
    """Whether a table is a packed heatmap table (builder.figures._common.packed): its first row
    says so (`packed`: rows, columns, level, the columns' kind)."""
    return bool(rows) and isinstance(rows[0], dict) and isinstance(rows[0].get("packed"), list)


def git_commit(root: Path) -> str:
    """The commit the build's sources are at, `<sha>+dirty` when the checkout differs from it
    (a tracked file changed, or a file git does not ignore added, as a new content/_freeze/
    artifact is before it is committed); "unknown" outside a git checkout."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout if out.returncode == 0 else None

    sha = (git("rev-parse", "HEAD") or "").strip()
    if not sha:
        return "unknown"
    changes = git("status", "--porcelain")
    return sha if changes == "" else f"{sha}+dirty"  # None: git could not tell, so do not claim clean


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


FALLBACK = "see the figure caption"  # what a column nobody described would say; the build refuses it


def meaning(column: str, table: str, units: dict) -> str | None:
    """What a column holds: the figure's own words (Figure.columns, "table.column" before
    "column"), else UNITS ("table.column" before "column"); None when nobody says."""
    for source in (units, UNITS):
        for key in (f"{table}.{column}", column):
            if key in source:
                return source[key]
    return None


def csv_text(header: list[str], table: str, rows: list, units: dict | None = None, wide: bool = False) -> str:
    """A table as CSV, after `header` comment lines and lines naming the table and its columns.
    A packed heatmap table is written as plain columns (builder.figures._common.unpacked: one
    row per step, neuron and heatmap column; `wide`: per step and neuron, a column per heatmap
    column). units: the figure's column meanings (Figure.columns)."""
    from builder.figures._common import unpacked

    said = {}
    origin = None
    if is_packed(rows):
        n_rows, n_cols = rows[0]["packed"][:2]
        origin = (f"# from the chart's table of {len(rows)} packed checkpoints x {n_rows} neurons"
                  + (f" x {n_cols} columns" if not wide and n_cols > 1 else "") + "\n")
        rows, said = unpacked(rows, wide=wide)
    cols = columns(rows)
    out = io.StringIO()
    for line in header:
        out.write(f"# {line}\n")
    out.write(f"# table: {table} ({len(rows)} rows)\n")
    if origin:
        out.write(origin)
    for c in cols:
        if c in said:
            out.write(f"# column {c}: {said[c]}\n")
            continue
        span = next((k for k in said if " ... " in k and c == k.split(" ... ")[0]), None)
        if span:
            out.write(f"# columns {span}: {said[span]}\n")
        elif not any(" ... " in k for k in said):
            out.write(f"# column {c}: {meaning(c, table, units or {}) or FALLBACK}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(cols)
    for row in rows:
        writer.writerow([_cell(row.get(c)) if isinstance(row, dict) else "" for c in cols])
    return out.getvalue()


def chart_csvs(chart, header: list[str], units: dict | None = None) -> dict[str, str]:
    """Site-relative path -> CSV text of every table of a compiled chart (builder.render.charts
    CompiledChart): its own tables under figures/, each run's and on-demand key's under data/.
    Packed heatmap tables are written one row per step, neuron and column under figures/, and
    one row per step and neuron (a column per heatmap column) in a run's file: the 129 sister
    runs' heatmaps in the long form would add about 440 MB (README: "Each figure's data")."""
    files = {}
    for suffix, name, rows in figure_tables(chart.vega):
        files[f"figures/{chart.id}{suffix}.csv"] = csv_text(header, name, rows, units)
    for key, payload in chart.payloads.items():
        if isinstance(payload, dict) and isinstance(payload.get("data"), dict):  # another run: its tables
            named = sorted(((n, r) for n, r in payload["data"].items() if isinstance(r, list) and columns(r)),
                           key=lambda t: -len(t[1]))
        else:  # an on-demand key: one table of rows
            named = [("demand", payload)] if isinstance(payload, list) and columns(payload) else []
        for i, (n, rows) in enumerate(named):
            files[f"data/{chart.id}/{key}{'' if i == 0 else '.' + n}.csv"] = csv_text(
                header + [f"run or key: {key}"], n, rows, units, wide=True)
    return files


def figure_data_csvs(figure_id: str, tables: dict, header: list[str], units: dict | None = None) -> dict[str, str]:
    """Site-relative path -> CSV text of tables a figure computes itself (Figure.data): the first
    is figures/<id>.csv, each other figures/<id>.<name>.csv."""
    files = {}
    for i, (name, rows) in enumerate(tables.items()):
        files[f"figures/{figure_id}{'' if i == 0 else '.' + name}.csv"] = csv_text(header, name, rows, units)
    return files


def header(fig, spec_keys: dict, commit: str) -> list[str]:
    """The comment lines that open each of a figure's CSV files."""
    lines = [f"figure: {fig.id} (section {fig.section})"]
    for name in fig.sources:
        lines.append(f"experiment: {name}, spec key {spec_keys.get(name, 'unknown')}")
    lines.append(f"commit: {commit}")
    return lines
