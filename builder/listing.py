"""`python -m builder list`: what a project has, for an author finding their way in it.

Three lists: the experiments of content/experiments.toml with their kind and whether their
frozen artifact is current (and why not, when it is stale); the figure ids, grouped by the
section module of builder/figures/ that registers them (an id no page places is marked); the
`##` sections of every page with their lines. Nothing is trained or written.
"""
from __future__ import annotations

import re
from pathlib import Path

from builder import paths
from builder.errors import read_source
from builder.markdown.charts import SHORTCODE

FENCE = re.compile(r"^\s*(```|~~~)")


def experiments(root: Path) -> list[tuple[str, str, str]]:
    """(name, kind, status) per experiment: "frozen", or what is missing and why."""
    from builder import freeze
    from builder.training import config
    from builder.training.experiments import spec_key

    rows = []
    for name, experiment in config.load(root).items():
        spec = experiment.resolve()
        if spec["kind"] == "sweep":
            m = freeze.load_sweep(name, root=root).manifest
            done, total = m["runs_done"], m["runs_total"]
            status = (f"frozen ({total} runs)" if done == total else
                      f"stale: {done} of {total} runs frozen (make train NAME={name} trains the rest)")
            rows.append((name, f"sweep of {spec['of']}", status))
            continue
        folder = freeze.artifact_dir(name, root)
        if freeze.read(name, folder, spec_key(spec)) is not None:
            status = "frozen"
        else:
            status = f"stale: {freeze.why_stale(folder, spec, root)} (the next build trains it)"
        rows.append((name, spec["kind"], status))
    return rows


def pages(root: Path) -> list[Path]:
    """The pages a build renders, as builder.build.Builder finds them."""
    content = paths.content_dir(root)
    return sorted(p for p in content.glob("*.md") if not p.name.startswith(("_", ".")))


def _shown(file: Path, root: Path) -> str:
    return str(file.relative_to(root)) if file.is_relative_to(root) else str(file)


def sections(root: Path) -> list[tuple[str, int, str]]:
    """(page, line, heading text) of every `##` heading outside code fences."""
    found = []
    for page in pages(root):
        shown = _shown(page, root)
        fence = None
        for number, line in enumerate(read_source(page, shown).splitlines(), start=1):
            m = FENCE.match(line)
            if m:
                fence = None if fence == m.group(1) else fence or m.group(1)
            elif fence is None and line.startswith("## "):
                found.append((shown, number, line[3:].strip()))
    return found


def placed(root: Path) -> set[str]:
    """The chart ids the pages place."""
    ids = set()
    for page in pages(root):
        for line in read_source(page, _shown(page, root)).splitlines():
            m = SHORTCODE.match(line.strip())
            if m:
                ids.add(m.group(1))
    return ids


def figures(root: Path) -> dict[str, list[str]]:
    """Section module file -> the figure ids it registers, in its order."""
    from builder.figures import default_registry
    from builder.figures.context import BuildContext

    reg = default_registry(BuildContext(root, train=False))
    grouped: dict[str, list[str]] = {}
    for fig_id, module in reg.modules.items():
        grouped.setdefault(Path(module.__file__).name, []).append(fig_id)
    return dict(sorted(grouped.items()))


def list_command(root: Path = paths.ROOT) -> int:
    root = Path(root)
    rows = experiments(root)
    print("Experiments (content/experiments.toml; frozen results in content/_freeze/):")
    width = max((len(n) for n, _, _ in rows), default=0)
    kinds = max((len(k) for _, k, _ in rows), default=0)
    for name, kind, status in rows:
        print(f"  {name:<{width}}  {kind:<{kinds}}  {status}")
    used = placed(root)
    print("\nFigures (builder/figures/, by section module; place one with {{< chart ID >}}):")
    for module, ids in figures(root).items():
        shown = [i if i in used else f"{i} (not placed)" for i in ids]
        print(f"  {module}: {', '.join(shown)}")
    print("\nSections (## headings):")
    for page, line, text in sections(root):
        print(f"  {page}:{line}  {text}")
    return 0
