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


# ---- a sweep's manifest: read strictly, never a silent loss of runs --------------------------
def _manifest(root):
    return root / "content" / "_freeze" / "tiny-sweep" / "manifest.json"


def _edit_manifest(root, change):
    data = json.loads(_manifest(root).read_text())
    change(data)
    _manifest(root).write_text(json.dumps(data, indent=1))


def _first_shard(data):
    return sorted(data["shards"])[0]


SWEEP_DAMAGE = {
    "invalid JSON": (lambda root: _manifest(root).write_text('{"shards": {\n  "x": [\n'),
                     "content/_freeze/tiny-sweep/manifest.json:3: the sweep's manifest is not valid JSON: Expecting value"),
    "not an object": (lambda root: _manifest(root).write_text("[]\n"),
                      "content/_freeze/tiny-sweep/manifest.json: the sweep's manifest is not an object"),
    "an entry without a key": (lambda root: _edit_manifest(root, lambda d: d["shards"][_first_shard(d)].pop("key")),
                               "content/_freeze/tiny-sweep/manifest.json: the sweep's manifest entry of shard"),
    "a shard's key edited": (lambda root: _edit_manifest(root, lambda d: d["shards"][_first_shard(d)].update(key="0" * 64)),
                             "content/_freeze/tiny-sweep/manifest.json: the key of shard"),
    "an unknown shard listed": (lambda root: _edit_manifest(root, lambda d: d["shards"].update(
                                    extra=d["shards"][_first_shard(d)])),
                                'content/_freeze/tiny-sweep/manifest.json: lists shard "extra", which the sweep\'s '
                                "settings do not have"),
    "an unknown shard file": (lambda root: (_manifest(root).parent / "shards" / "stray-0.npz").write_bytes(b"x"),
                              "content/_freeze/tiny-sweep/shards/stray-0.npz: a shard file the sweep's settings do not have"),
    "the manifest deleted": (lambda root: _manifest(root).unlink(),
                             "content/_freeze/tiny-sweep/manifest.json: missing, while content/_freeze/tiny-sweep/shards/ "
                             "holds 2 shard file(s)"),
}


@pytest.mark.parametrize("case", sorted(SWEEP_DAMAGE))
def test_a_sweep_manifest_that_cannot_be_read_or_disagrees_with_its_shards_stops_the_build(project, case):
    """Before, each of these built with exit status 0 and the sweep's runs silently gone from the
    figure (an unreadable manifest read as "nothing trained")."""
    root, build = project
    site = tree_hashes(root / "site")
    damage_it, expected = SWEEP_DAMAGE[case]
    damage_it(root)
    with pytest.raises(BuildError) as info:
        build()
    message = str(info.value)
    assert message.startswith(expected), message
    assert "(hint: " in message and "make train NAME=tiny-sweep" in message and "\n" not in message
    assert tree_hashes(root / "site") == site and not list(root.glob(".site-*"))


def test_the_command_line_names_an_invalid_sweep_manifest_and_exits_1(tmp_path):
    root = write_project(tmp_path / "cli", FRONT + "Nothing but prose.\n")
    toml = (ROOT / "content" / "experiments.toml").read_text()
    (root / "content" / "experiments.toml").write_text(toml + "\n" + TOML[TOML.index("[tiny-sweep]"):])
    freeze.train_sweep("tiny-sweep", root=root, progress=False)
    _manifest(root).write_text("{ not json\n")
    result = run_cli(root)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "content/_freeze/tiny-sweep/manifest.json:1: the sweep's manifest is not valid JSON: Expecting property name "
        "enclosed in double quotes (hint: git checkout -- content/_freeze/tiny-sweep/manifest.json restores the "
        "committed one; make train NAME=tiny-sweep trains the shards it does not list)")
    assert not (root / "site").exists()


def test_train_says_an_unreadable_manifest_in_one_line_and_trains_the_sweep_again(project, capsys):
    root, build = project
    _manifest(root).write_text("{ not json\n")
    capsys.readouterr()
    assert freeze.train_sweep("tiny-sweep", root=root, progress=False).manifest["runs_done"] == 2
    err = capsys.readouterr().err
    assert "content/_freeze/tiny-sweep/manifest.json:1: the sweep's manifest is not valid JSON" in err
    assert "its shards are trained again" in err
    build()


# ---- a sweep not trained for its current settings ------------------------------------------------
def _toml_line(root, text) -> int:
    lines = (root / "content" / "experiments.toml").read_text().splitlines()
    return lines.index(text) + 1


def test_a_sweep_trained_with_other_settings_is_an_error_not_an_empty_figure(project):
    """Changing a sweep's steps made every build draw "0 runs" and drop its CSV, exit 0."""
    root, build = project
    toml = root / "content" / "experiments.toml"
    toml.write_text(toml.read_text().replace("steps = 20\n", "steps = 24\n"))
    site = tree_hashes(root / "site")
    for train in (True, False):  # a build, and `check` (which never trains)
        with pytest.raises(BuildError) as info:
            Builder(root, registry=project_registry(), cache=root.parent / "cache", train=train).build()
        assert str(info.value) == (
            f'content/experiments.toml:{_toml_line(root, "[tiny-sweep]")}: figure "tiny-acc" draws sweep "tiny-sweep", '
            "but none of its 2 runs is trained for its current settings (its 2 frozen shard(s) were trained with "
            "other settings) (hint: make train NAME=tiny-sweep trains them; a build never trains a sweep)")
        assert tree_hashes(root / "site") == site
    freeze.train_sweep("tiny-sweep", root=root, progress=False)
    build()


def project_registry(partial: bool = False) -> Registry:
    class Partial(Module):
        @staticmethod
        def figures(ctx):
            return [Figure("tiny-acc", "tiny", "Accuracy.", "Line chart of accuracy.", tiny_chart,
                           sources=("tiny", "tiny-sweep"), partial=partial)]

    reg = Registry()
    reg.add(Partial, None)
    return reg


def test_a_partly_trained_sweep_is_drawn_only_by_a_figure_that_accepts_it_and_says_so(project):
    root, build = project
    toml = root / "content" / "experiments.toml"
    toml.write_text(toml.read_text().replace("seed = [1, 2]", "seed = [1, 2, 3]"))
    with pytest.raises(BuildError) as info:
        build()
    assert str(info.value) == (
        f'content/experiments.toml:{_toml_line(root, "[tiny-sweep]")}: figure "tiny-acc" draws sweep "tiny-sweep", '
        "but only 2 of its 3 runs are trained for its current settings (hint: make train NAME=tiny-sweep trains the "
        "rest; a build never trains a sweep; or give the figure partial=True to draw the trained runs)")
    Builder(root, registry=project_registry(partial=True), cache=root.parent / "cache").build()
    page = (root / "site" / "index.html").read_text()
    assert "Drawn from 2 of the 3 runs of tiny-sweep; the others are not trained yet." in page
    freeze.train_sweep("tiny-sweep", root=root, progress=False)
    Builder(root, registry=project_registry(partial=True), cache=root.parent / "cache").build()
    assert "Drawn from" not in (root / "site" / "index.html").read_text()  # whole again: no clause


def test_a_sweep_never_trained_is_an_error_naming_make_train(tmp_path):
    root = write_project(tmp_path / "proj", FRONT + "Intro.\n\n{{< chart tiny-acc >}}\n")
    (root / "content" / "experiments.toml").write_text(TOML)
    freeze.ensure("tiny", root=root, progress=False)
    with pytest.raises(BuildError) as info:
        Builder(root, registry=project_registry(partial=True), cache=tmp_path / "cache").build()
    assert str(info.value) == (
        f'content/experiments.toml:{_toml_line(root, "[tiny-sweep]")}: figure "tiny-acc" draws sweep "tiny-sweep", '
        "but none of its 2 runs is trained for its current settings (hint: make train NAME=tiny-sweep trains them; "
        "a build never trains a sweep)")


# ---- `check` never trains and writes nothing under content/ -----------------------------------------
def _check(root) -> "subprocess.CompletedProcess":
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "builder", "--root", str(root), "check"], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=120)


def test_check_never_trains_nor_writes_under_content(tmp_path):
    """`make check` with a damaged (or, with eps = inf, a stale) single run used to retrain it
    into content/_freeze/ (a .partial/ appeared) and then say the content was valid."""
    root = write_project(tmp_path / "proj", FRONT + "Nothing but prose.\n")
    toml = (ROOT / "content" / "experiments.toml").read_text() + "\n" + TINY_RUN_TOML
    (root / "content" / "experiments.toml").write_text(toml)
    freeze.ensure("tiny", root=root, progress=False)
    assert _check(root).returncode == 0
    arrays = root / "content" / "_freeze" / "tiny" / "arrays.npz"
    damage(arrays, "truncate")
    content = tree_hashes(root / "content")
    result = _check(root)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"content/_freeze/tiny/arrays.npz: truncated or altered: {arrays.stat().st_size:,} bytes where its manifest "
        f"records {json.loads(arrays.with_name('manifest.json').read_text())['arrays_bytes']:,}, and this build does "
        "not train (hint: make train NAME=tiny retrains it)")
    broken = toml.replace("[tiny]\n", "[tiny]\neps = inf\n")
    (root / "content" / "experiments.toml").write_text(broken)
    content = tree_hashes(root / "content")
    result = _check(root)
    line = broken.splitlines().index("eps = inf") + 1
    assert result.returncode == 1
    assert result.stderr.strip().startswith(f"content/experiments.toml:{line}: eps must be a finite number, not inf")
    assert tree_hashes(root / "content") == content and not list(root.rglob(".partial"))
    assert not (root / "site").exists()
