"""Figure modules are data loaders: every build makes a BuildContext that loads each artifact
once for all the figures that read it, a rebuild (`make serve`) gets a new one and so sees a
retrained artifact without reloading any module, and a build that may not train says so."""
from __future__ import annotations

import json
import re
from pathlib import Path

import altair as alt
import numpy as np
import pytest

from builder import freeze
from builder.build import Builder
from builder.errors import BuildError
from builder.figures import Figure, Registry
from builder.figures.context import BuildContext, loader

from conftest import FRONT, TINY_RUN_TOML, tree_hashes, write_project

pytestmark = pytest.mark.usefixtures("torch_one_thread")

LOADS = []  # experiment names, each time the freeze store is asked for one
DERIVED = []  # each time final_accuracy is computed


@loader
def final_accuracy(ctx) -> float:
    DERIVED.append(ctx.root)
    return float(np.asarray(ctx.artifact("tiny").arrays["train_acc"]).ravel()[-1])


def _chart(ctx, mark: str):
    row = {"acc": final_accuracy(ctx), "key": ctx.artifact("tiny").manifest["key"]}
    return getattr(alt.Chart(alt.Data(values=[row])), mark)().encode(x="acc:Q", tooltip="key:N")


class Module:
    __file__ = __file__

    @staticmethod
    def figures(ctx):
        return [Figure("tiny-point", "tiny", "Accuracy.", "A point.", lambda ctx: _chart(ctx, "mark_point"), sources=("tiny",)),
                Figure("tiny-tick", "tiny", "Accuracy.", "A tick.", lambda ctx: _chart(ctx, "mark_tick"), sources=("tiny",))]


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project whose page places two figures that read the frozen run "tiny"."""
    root = write_project(tmp_path / "proj", FRONT + "Intro.\n\n{{< chart tiny-point >}}\n\n{{< chart tiny-tick >}}\n")
    (root / "content" / "experiments.toml").write_text(TINY_RUN_TOML)
    freeze.ensure("tiny", root=root, progress=False)
    ensure = freeze.ensure

    def counted(name, **kwargs):
        LOADS.append(name)
        return ensure(name, **{"progress": False, **kwargs})

    monkeypatch.setattr(freeze, "ensure", counted)
    LOADS.clear()
    DERIVED.clear()
    reg = Registry()
    reg.add(Module, None)
    return root, reg, tmp_path / "cache"


def _keys_in_site(root) -> set:
    """The artifact keys the built charts show."""
    text = "".join(p.read_text() for p in (root / "site" / "charts").glob("tiny-*.js"))
    return set(re.findall(r'"key":"([0-9a-f]{64})"', text))


def test_an_artifact_is_loaded_once_per_build_and_shared_by_its_figures(project):
    root, reg, cache = project
    builder = Builder(root, registry=reg, cache=cache)
    assert builder.build().cache_misses == 2
    assert LOADS == ["tiny"] and len(DERIVED) == 1  # two figures, one load, one derived value
    first = builder.ctx
    assert first.artifact("tiny") is first.artifact("tiny") and LOADS == ["tiny"]
    Builder(root, registry=reg, cache=cache.with_name("other-cache")).build()  # another build, its charts not cached
    assert LOADS == ["tiny", "tiny"] and len(DERIVED) == 2  # its own context: loaded again, once
    builder.build()
    assert builder.ctx is not first  # every build has a new context


def test_a_rebuild_sees_a_retrained_artifact_without_reloading_modules(project, monkeypatch):
    """`make serve`: the spec changes, the rebuild's context trains and reads the new run, and
    the charts that declare it are made again; no module is reloaded."""
    import importlib

    root, reg, cache = project
    monkeypatch.setattr(importlib, "reload", lambda module: pytest.fail(f"reloaded {module.__name__}"))
    builder = Builder(root, registry=reg, cache=cache)
    builder.build()
    old = freeze.spec_key(BuildContext(root).spec("tiny"))
    assert _keys_in_site(root) == {old}
    toml = root / "content" / "experiments.toml"
    toml.write_text(TINY_RUN_TOML.replace("lr = 1e-2", "lr = 2e-2"))
    builder.build()  # what serve's build process does on a change
    new = json.loads((root / "content" / "_freeze" / "tiny" / "manifest.json").read_text())["key"]
    assert new != old and _keys_in_site(root) == {new}
    assert len(DERIVED) == 2  # derived again from the new run, once for both figures


def test_a_build_that_may_not_train_stops_at_a_stale_artifact(project):
    root, reg, cache = project
    toml = root / "content" / "experiments.toml"
    Builder(root, registry=reg, cache=cache).build()
    site = tree_hashes(root / "site")
    manifest = (root / "content" / "_freeze" / "tiny" / "manifest.json").read_text()
    toml.write_text(TINY_RUN_TOML.replace("lr = 1e-2", "lr = 2e-2"))
    with pytest.raises(BuildError) as info:
        Builder(root, registry=reg, cache=cache, train=False).build()
    assert str(info.value) == ('content/experiments.toml:1: [tiny] has no frozen artifact for these settings, and this '
                               "build does not train (hint: make train NAME=tiny, or make site, trains it)")
    assert (root / "content" / "_freeze" / "tiny" / "manifest.json").read_text() == manifest  # nothing trained
    assert tree_hashes(root / "site") == site


def test_a_spec_is_parsed_once_per_context(tmp_path):
    root = write_project(tmp_path / "proj", FRONT)
    toml = root / "content" / "experiments.toml"
    toml.write_text(TINY_RUN_TOML)
    ctx = BuildContext(root)
    spec = ctx.spec("tiny")
    toml.write_text(TINY_RUN_TOML.replace("lr = 1e-2", "lr = 2e-2"))
    assert ctx.spec("tiny") is spec and spec["lr"] == 1e-2  # one build reads one experiments table
    assert BuildContext(root).spec("tiny")["lr"] == 2e-2  # the next build reads it again
    with pytest.raises(BuildError, match='unknown experiment "tinyy"') as info:
        ctx.spec("tinyy")
    # at the line that wrote the name (before: at the [tiny] table of experiments.toml it suggests)
    line = Path(__file__).read_text().splitlines().index('        ctx.spec("tinyy")') + 1
    assert (info.value.path, info.value.line) == ("tests/test_context.py", line)
