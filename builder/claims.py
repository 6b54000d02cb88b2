"""The pytest side of `python -m builder verify` (loaded with `pytest -p builder.claims`).

A test that asserts what the article claims about frozen results carries the marker
`@pytest.mark.frozen("name", ...)`, naming every experiment whose artifact it reads, and reads
them from `builder.paths.frozen_root()`. When $BUILDER_FREEZE_ROOT names a scratch project (the
one verify retrained into), only the marked tests whose experiments all have an artifact there
are collected, and, when $BUILDER_FREEZE_NAMES lists experiments (comma-separated: what this
verify retrained), only those naming nothing else: the others would read artifacts that were
not retrained now (or train them).
"""
from __future__ import annotations

import os

from builder.paths import FREEZE_ROOT_VARIABLE, freeze_dir, frozen_root

NAMES_VARIABLE = "BUILDER_FREEZE_NAMES"
MARKER = "frozen(*names): asserts the article's claims about these experiments' frozen artifacts"


def pytest_configure(config):
    config.addinivalue_line("markers", MARKER)


def claimed(item) -> set[str]:
    """The experiments a test's `frozen` markers name."""
    return {name for mark in item.iter_markers("frozen") for name in mark.args}


def pytest_collection_modifyitems(config, items):
    if not os.environ.get(FREEZE_ROOT_VARIABLE):
        return
    store = freeze_dir(frozen_root())
    only = os.environ.get(NAMES_VARIABLE)
    allowed = None if only is None else set(filter(None, only.split(",")))
    keep, drop = [], []
    for item in items:
        names = claimed(item)
        ready = names and all((store / name / "manifest.json").exists() for name in names) \
            and (allowed is None or names <= allowed)
        (keep if ready else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
