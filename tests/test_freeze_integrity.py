"""Every build checks the frozen files it can read against their manifests' sha256, warm chart
cache or not: a damaged single run is retrained, a damaged sweep shard stops the build in one
line, and the chart cache is keyed on the checksums."""
from __future__ import annotations

import json

import altair as alt
import pytest

from builder import freeze
from builder.build import Builder
from builder.errors import BuildError
from builder.figures import Figure, Registry
from builder.paths import ROOT

from conftest import FRONT, TINY_RUN_TOML, TINY_SWEEP_TOML, run_cli, tree_hashes, write_project

pytestmark = pytest.mark.usefixtures("torch_one_thread")

TOML = TINY_RUN_TOML + "\n" + TINY_SWEEP_TOML

MADE = []


def tiny_chart(ctx):
    """A chart of the single run's accuracy and the sweep's finished runs (counts its calls)."""
    run = ctx.artifact("tiny").arrays
    done = ctx.artifact("tiny-sweep").arrays["done"]
    MADE.append(ctx.root)
    rows = [{"step": int(s), "acc": float(a), "runs": int(done.sum())}
            for s, a in zip(run["metric_step"], run["train_acc"])]
    return alt.Chart(alt.Data(values=rows)).mark_line().encode(x="step:Q", y="acc:Q")


class Module:
    __file__ = __file__

    @staticmethod
    def figures(ctx):
        return [Figure("tiny-acc", "tiny", "Accuracy.", "Line chart of accuracy.", tiny_chart, sources=("tiny", "tiny-sweep"))]


@pytest.fixture
def project(tmp_path):
    """A project with one figure reading a single run and a sweep, both frozen, built once."""
    root = write_project(tmp_path / "proj", FRONT + "Intro.\n\n{{< chart tiny-acc >}}\n")
    (root / "content" / "experiments.toml").write_text(TOML)
    freeze.ensure("tiny", root=root, progress=False)
    freeze.train_sweep("tiny-sweep", root=root, progress=False)
    reg = Registry()
    reg.add(Module, None)
    cache = tmp_path / "cache"
    MADE.clear()

    def build():
        builder = Builder(root, registry=reg, cache=cache)
        report = builder.build()
        return builder, report

    build()
    _, warm = build()
    assert (warm.cache_misses, len(MADE)) == (0, 1)  # warm: the figure is not made again
    return root, build


def damage(file, how):
    data = file.read_bytes()
    if how == "truncate":
        file.write_bytes(data[: len(data) // 2])
    elif how == "flip":
        file.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    else:
        file.unlink()


@pytest.mark.parametrize("how", ["truncate", "flip", "delete"])
def test_a_warm_build_retrains_a_damaged_single_run(project, how, capsys):
    root, build = project
    folder = root / "content" / "_freeze" / "tiny"
    before = json.loads((folder / "manifest.json").read_text())
    damage(folder / "arrays.npz", how)
    capsys.readouterr()
    builder, _ = build()
    err = capsys.readouterr().err
    assert f"content/_freeze/tiny/arrays.npz: " in err and "retraining tiny" in err
    after = json.loads((folder / "manifest.json").read_text())
    assert freeze.sha256(folder / "arrays.npz") == after["arrays_sha256"] == before["arrays_sha256"]
    assert freeze.read("tiny", folder, after["key"]) is not None
    assert builder.artifacts["content/_freeze/tiny/arrays.npz"] == after["arrays_sha256"]
    assert len(MADE) == 2  # the figure is made again from the retrained run
    capsys.readouterr()
    build()
    assert len(MADE) == 2 and "retraining" not in capsys.readouterr().err  # and then warm again


@pytest.mark.parametrize("how", ["truncate", "flip", "delete"])
def test_a_warm_build_stops_in_one_line_on_a_damaged_sweep_shard(project, how):
    root, build = project
    shard = sorted((root / "content" / "_freeze" / "tiny-sweep" / "shards").glob("*.npz"))[0]
    site = tree_hashes(root / "site")
    damage(shard, how)
    with pytest.raises(BuildError) as info:
        build()
    message = str(info.value)
    assert message.startswith(f"content/_freeze/tiny-sweep/shards/{shard.name}: ")
    assert message.endswith("(hint: make train NAME=tiny-sweep retrains it)")
    assert {"truncate": "truncated", "flip": "altered", "delete": "missing"}[how] in message
    assert "\n" not in message
    assert tree_hashes(root / "site") == site  # site/ untouched
    assert not list(root.glob(".site-*"))  # no build folder left behind
    assert freeze.train_sweep("tiny-sweep", root=root, progress=False).manifest["runs_done"] == 2
    build()  # the command in the hint fixed it


def test_the_chart_cache_key_follows_the_frozen_files(project):
    root, build = project
    builder, _ = build()
    shard = sorted((root / "content" / "_freeze" / "tiny-sweep" / "shards").glob("*.npz"))[0]
    entry = json.loads((shard.parent.parent / "manifest.json").read_text())["shards"][shard.stem]
    assert builder.artifacts[f"content/_freeze/tiny-sweep/shards/{shard.name}"] == entry["sha256"]
    assert len(builder.artifacts) == 3  # the run's arrays and both shards
    fig = builder.registry.figures["tiny-acc"]
    key = builder._chart_key(fig, None)
    assert build()[0]._chart_key(fig, None) == key  # nothing changed: the same key
    # the arrays change while the manifest stays: damaged, retrained (a new manifest), made again
    damage(root / "content" / "_freeze" / "tiny" / "arrays.npz", "flip")
    again, report = build()
    assert again._chart_key(fig, None) != key and len(MADE) == 2
    # the key holds the checksums themselves, not only the manifests that record them
    key = again._chart_key(fig, None)
    again.artifacts = {**again.artifacts, "content/_freeze/tiny/arrays.npz": "0" * 64}
    again.source_states = {}
    assert again._chart_key(fig, None) != key


def test_the_command_line_build_says_so_in_one_line_and_exits_1(tmp_path):
    """`python -m builder build` with a damaged shard: exit 1, one line, no traceback."""
    root = write_project(tmp_path / "cli", FRONT + "Nothing but prose.\n")
    toml = (ROOT / "content" / "experiments.toml").read_text()
    sweep_table = TOML[TOML.index("[tiny-sweep]"):]
    (root / "content" / "experiments.toml").write_text(toml + "\n" + sweep_table)
    freeze.train_sweep("tiny-sweep", root=root, progress=False)
    ok = run_cli(root)
    assert ok.returncode == 0, ok.stderr
    site = tree_hashes(root / "site")
    shard = sorted((root / "content" / "_freeze" / "tiny-sweep" / "shards").glob("*.npz"))[-1]
    damage(shard, "truncate")
    result = run_cli(root)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"content/_freeze/tiny-sweep/shards/{shard.name}: truncated or altered: "
        f"{shard.stat().st_size:,} bytes where its manifest records "
        f"{json.loads((shard.parent.parent / 'manifest.json').read_text())['shards'][shard.stem]['bytes']:,}"
        " (hint: make train NAME=tiny-sweep retrains it)")
    assert tree_hashes(root / "site") == site


def test_hashes_are_remembered_only_for_files_that_settled(tmp_path):
    """A file rewritten within the file system's time tick keeps size and times: a checksum is
    remembered only for files older than freeze.RACY_S, so such a rewrite is still seen."""
    file = tmp_path / "a.npz"
    file.write_bytes(b"x" * 1000)
    first = freeze.sha256(file)
    file.write_bytes(b"y" * 1000)
    assert freeze.sha256(file) != first
