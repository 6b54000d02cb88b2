"""Persisted loaders (builder.figures.context.loader(persist=...)): computed once, read back by a
later build, recomputed when an experiment they read changes."""
from __future__ import annotations

import json

from builder.figures.context import BuildContext, loader

from conftest import TINY_RUN_TOML

CALLS = []


@loader(persist=("tiny",))
def expensive(ctx: BuildContext) -> dict:
    CALLS.append(1)
    return {"lr": ctx.spec("tiny")["lr"], "calls": len(CALLS)}


@loader(persist=True)
def simulation(ctx: BuildContext, n: int) -> list:
    CALLS.append(1)
    return list(range(n))


def test_a_persisted_loader_is_computed_once_across_contexts_and_again_when_its_source_changes(tmp_path):
    root = tmp_path / "proj"
    (root / "content").mkdir(parents=True)
    toml = root / "content" / "experiments.toml"
    toml.write_text(TINY_RUN_TOML)
    CALLS.clear()
    first = expensive(BuildContext(root, train=False))
    again = expensive(BuildContext(root, train=False))  # a new build: read back, not computed
    assert first == again == {"lr": 0.01, "calls": 1} and len(CALLS) == 1
    assert list((root / ".cache" / "loaders").glob("*.pkl"))
    toml.write_text(TINY_RUN_TOML.replace("lr = 1e-2", "lr = 2e-2"))
    changed = expensive(BuildContext(root, train=False))
    assert changed == {"lr": 0.02, "calls": 2} and len(CALLS) == 2
    assert simulation(BuildContext(root, train=False), 3) == [0, 1, 2]
    assert simulation(BuildContext(root, train=False), 3) == [0, 1, 2] and len(CALLS) == 3
    assert simulation(BuildContext(root, train=False), 4) == [0, 1, 2, 3] and len(CALLS) == 4  # its arguments count


def test_a_damaged_cache_file_is_recomputed(tmp_path):
    root = tmp_path / "proj"
    (root / "content").mkdir(parents=True)
    (root / "content" / "experiments.toml").write_text(TINY_RUN_TOML)
    CALLS.clear()
    expensive(BuildContext(root, train=False))
    for file in (root / ".cache" / "loaders").glob("*.pkl"):
        file.write_bytes(b"not a pickle")
    assert expensive(BuildContext(root, train=False))["calls"] == 2
    assert json.dumps(sorted(p.name.split("-")[0] for p in (root / ".cache" / "loaders").glob("*.pkl")))
