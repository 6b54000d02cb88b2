"""The freeze store and experiments.toml: keys, corruption, resuming, one-line errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from builder import freeze
from builder.errors import BuildError
from builder.paths import ROOT, freeze_dir
from builder.training import config, sweep

from conftest import TINY_RUN_TOML, TINY_SWEEP_TOML

pytestmark = pytest.mark.usefixtures("torch_one_thread")

TOML = "# a tiny experiment for store tests\n" + TINY_RUN_TOML + """
[tiny.quick]
steps = 10
"""


@pytest.fixture
def root(tmp_path):
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "experiments.toml").write_text(TOML)
    return tmp_path


def edit(root, old, new):
    path = root / "content" / "experiments.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def error_of(root) -> str:
    with pytest.raises(BuildError) as info:
        config.load(root)
    return str(info.value)


def test_ensure_trains_writes_and_then_loads(root, monkeypatch):
    assert freeze.stale(root) == ["tiny"]
    frozen = freeze.ensure("tiny", root=root, progress=False)
    folder = root / "content" / "_freeze" / "tiny"
    assert frozen.path == folder and (folder / "arrays.npz").exists()
    assert not (folder / ".partial").exists()
    m = json.loads((folder / "manifest.json").read_text())
    for field in ("key", "algorithm_version", "torch_version", "seed", "device", "wall_time_s",
                  "steps_per_s", "date", "arrays_sha256", "spec"):
        assert field in m, field
    assert m["spec"]["lr"] == 0.01 and m["seed"] == 3
    assert frozen.arrays["train_acc"].shape == (4,) and frozen.arrays["w_in"].shape == (3, 11, 8)
    assert freeze.stale(root) == []

    def no_training(*args, **kwargs):
        raise AssertionError("trained although the artifact was current")

    monkeypatch.setattr(freeze, "run", no_training)
    again = freeze.ensure("tiny", root=root)
    assert again.manifest == frozen.manifest
    assert np.array_equal(again.arrays["final_embed"], frozen.arrays["final_embed"])


def test_changed_spec_retrains(root):
    first = freeze.ensure("tiny", root=root, progress=False)
    edit(root, "lr = 1e-2", "lr = 2e-2")
    assert freeze.stale(root) == ["tiny"]
    second = freeze.ensure("tiny", root=root, progress=False)
    assert second.manifest["key"] != first.manifest["key"]
    assert second.manifest["spec"]["lr"] == 0.02
    assert not np.array_equal(second.arrays["final_embed"], first.arrays["final_embed"])


def test_algorithm_version_is_part_of_the_key(root, monkeypatch):
    first = freeze.ensure("tiny", root=root, progress=False)
    kind = freeze.KINDS["modular"]
    monkeypatch.setitem(freeze.KINDS, "modular", type(kind)(kind.schema, kind.version + 1,
                                                            kind.check, kind.run))
    assert freeze.stale(root) == ["tiny"]
    assert freeze.ensure("tiny", root=root, progress=False).manifest["algorithm_version"] == \
        first.manifest["algorithm_version"] + 1


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_corrupt_artifact_is_detected_and_retrained(root, damage):
    first = freeze.ensure("tiny", root=root, progress=False)
    npz = first.path / "arrays.npz"
    data = npz.read_bytes()
    if damage == "truncate":
        npz.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        npz.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    else:
        npz.unlink()
    assert freeze.stale(root) == ["tiny"]
    again = freeze.ensure("tiny", root=root, progress=False)
    assert again.manifest["arrays_sha256"] == first.manifest["arrays_sha256"]  # deterministic
    assert freeze.stale(root) == []


def test_interrupted_training_resumes_from_partial(root):
    spec = config.get("tiny", root).resolve()
    key = freeze.spec_key(spec)
    folder = freeze.artifact_dir("tiny", root)
    assert freeze.train("tiny", spec, key, folder, progress=False, max_steps=17) is None
    assert (folder / ".partial" / "state.pt").exists() and freeze.stale(root) == ["tiny"]
    resumed = freeze.ensure("tiny", root=root, progress=False)
    assert not (folder / ".partial").exists()
    fresh = freeze.ensure("tiny", root=root, force=True, progress=False)
    for name in fresh.arrays:
        assert np.array_equal(fresh.arrays[name], resumed.arrays[name]), name


def test_quick_profile_never_touches_freeze(root):
    frozen = freeze.ensure("tiny", root=root, profile="quick", progress=False)
    assert frozen.path == root / ".cache" / "quick" / "tiny"
    assert frozen.arrays["metric_step"][-1] == 10
    assert not (root / "content" / "_freeze").exists()


def test_train_command_forces_retraining(root, capsys):
    first = freeze.ensure("tiny", root=root, progress=False)
    assert freeze.train_command(["tiny"], root=root) == 0
    again = freeze.read("tiny", first.path, None)
    assert again.manifest["date"] >= first.manifest["date"]
    assert again.manifest["arrays_sha256"] == first.manifest["arrays_sha256"]
    assert "tiny" in capsys.readouterr().out
    # reported where the name was written (before: at the line of the [tiny] table it suggests)
    with pytest.raises(BuildError, match='^command line: unknown experiment "tinny" \\(did you mean "tiny"\\?\\)'):
        freeze.train_command(["tinny"], root=root)


def test_unknown_experiment(root):
    with pytest.raises(BuildError) as info:
        freeze.ensure("mod-tpo", root=root)
    assert str(info.value).startswith("content/experiments.toml")
    assert 'unknown experiment "mod-tpo"' in str(info.value)


@pytest.mark.parametrize("old, new, expected", [
    ('lr = 1e-2', 'lr = "fast"',
     "content/experiments.toml:10: lr must be a number, not 'fast'"),
    ('lr = 1e-2', 'lr = -1.0', "content/experiments.toml:10: lr must be positive, not -1.0"),
    ('hidden = 8', 'hiden = 8',
     'content/experiments.toml:8: unknown setting "hiden" in [tiny] (did you mean "hidden"?)'),
    ('seed = 3', 'seed = [1, "x"]',
     "content/experiments.toml:6: seed must be an integer or a list of integers, not [1, 'x']"),
    ('kind = "modular"', 'kind = "modulra"',
     'content/experiments.toml:3: [tiny]: unknown kind "modulra" (did you mean "modular"?)'),
    ('steps = 10', 'step = 10',
     'content/experiments.toml:16: unknown setting "step" in [tiny.quick] (did you mean "steps"?)'),
    ('[tiny.quick]', '[tiny.quik]',
     'content/experiments.toml:15: unknown profile [tiny.quik] (did you mean "quick"?)'),
    ('train_fraction = 0.5', 'train_fraction = 1.5',
     "content/experiments.toml:5: train_fraction must be between 0 and 1 (exclusive), not 1.5"),
    ('metrics = 4', 'metrics = 40',
     "content/experiments.toml:12: [tiny] metrics = 40 is more than steps + 1 = 31"),
    ('steps = 30', 'steps = 30\nsteps = 40', "content/experiments.toml:12: invalid TOML"),
    ('checkpoints = 3', 'checkpoints = 3\nsnapshot = ["embd"]',
     """content/experiments.toml:14: snapshot must be one of 'embed', not 'embd' (did you mean "embed"?)"""),
    ('checkpoints = 3', 'checkpoints = 3\nsnapshot = []',
     "content/experiments.toml:14: snapshot must be a non-empty list of names"),
    ('checkpoints = 3', 'checkpoints = 3\nsnapshot = ["embed", "embed"]',
     "content/experiments.toml:14: snapshot names ['embed', 'embed'] more than once"),
    # values that make training meaningless: refused before anything trains (or `check` passes)
    ('lr = 1e-2', 'lr = inf', "content/experiments.toml:10: lr must be a finite number, not inf"),
    ('lr = 1e-2', 'lr = nan', "content/experiments.toml:10: lr must be a finite number, not nan"),
    ('lr = 1e-2', 'lr = 0.0', "content/experiments.toml:10: lr must be positive, not 0.0"),
    ('lr = 1e-2', 'lr = 1e-2\neps = inf', "content/experiments.toml:11: eps must be a finite number, not inf"),
    ('weight_decay = 1.0', 'weight_decay = -inf', "content/experiments.toml:9: weight_decay must be a finite number"),
    ('steps = 30', 'steps = 0', "content/experiments.toml:11: steps must be positive, not 0"),
    ('steps = 30', 'steps = 10000000000',
     "content/experiments.toml:11: steps must be at most 1,000,000,000, not 10,000,000,000"),
    ('metrics = 4', 'metrics = 1000000', "content/experiments.toml:12: metrics must be at most 100,000"),
    ('train_fraction = 0.5', 'train_fraction = 0.001',
     "content/experiments.toml:5: [tiny] train_fraction = 0.001 of the 66 pairs of p = 11 leaves no training pair"),
    ('train_fraction = 0.5', 'train_fraction = 0.999',
     "content/experiments.toml:5: [tiny] train_fraction = 0.999 of the 66 pairs of p = 11 leaves no test pair"),
    ('seed = 3', 'seed = 9223372036854775808', "content/experiments.toml:6: seed must fit in 64 bits"),
    ('steps = 10', 'steps = 10\nlr = inf', "content/experiments.toml:17: lr must be a finite number, not inf"),
    ('checkpoints = 3', 'checkpoints = 0\nsnapshot = ["embed"]',
     "content/experiments.toml:14: [tiny] snapshot asks for weights at checkpoints, but checkpoints = 0"),
])
def test_bad_toml_is_one_line_with_its_line_number(root, old, new, expected):
    edit(root, old, new)
    message = error_of(root)
    assert message.startswith(expected), message
    assert "\n" not in message


def test_every_frozen_artifact_keeps_its_key():
    """What a snapshot keeps is declared per experiment, its default left out of the spec: every
    committed artifact's key, and every finished sweep shard's, is still the one the code computes."""
    assert freeze.spec_key is sweep.spec_key  # the store's and the shards' key: one function
    experiments = config.load(ROOT)
    manifests = sorted(freeze_dir(ROOT).glob("*/manifest.json"))
    assert len(manifests) >= 10
    sweeps_with_shards = 0
    for path in manifests:
        m = json.loads(path.read_text())
        spec = experiments[m["name"]].resolve()
        # only an experiment that writes it (mod-top-embed) has one
        assert ("snapshot" in spec) == ("snapshot" in experiments[m["name"]].values), m["name"]
        assert freeze.spec_key(spec) == m["key"], m["name"]
        if spec["kind"] == "sweep":
            keys = {shard.id: shard.key for shard in sweep.plan(spec).shards}
            sweeps_with_shards += bool(m["shards"])  # a sweep just started may have none yet
            for shard_id, entry in m["shards"].items():
                assert keys.get(shard_id) == entry["key"], (m["name"], shard_id)
    assert sweeps_with_shards >= 4


def test_an_experiment_that_asks_for_the_embedding_gets_its_own_key_and_keeps_it(root):
    plain = freeze.ensure("tiny", root=root, progress=False)
    edit(root, "checkpoints = 3", 'checkpoints = 3\nsnapshot = ["embed"]')
    spec = config.get("tiny", root).resolve()
    assert spec["snapshot"] == ["embed"] and freeze.spec_key(spec) != plain.manifest["key"]
    assert freeze.stale(root) == ["tiny"]
    more = freeze.ensure("tiny", root=root, progress=False)
    a = more.arrays
    assert a["embed"].shape == (3, 11, 8) and a["embed"].dtype == np.float16  # (checkpoints, p, embed)
    assert more.manifest["arrays"]["embed"] == {"shape": [3, 11, 8], "dtype": "float16"}
    np.testing.assert_allclose(a["embed"][-1], a["final_embed"], rtol=2e-3, atol=2e-3)
    assert not np.array_equal(a["embed"][0], a["embed"][-1])  # one per checkpoint, not a copy
    # the same training and every other array: asking for more changes nothing else
    assert set(a) == set(plain.arrays) | {"embed"}
    for name, value in plain.arrays.items():
        assert np.array_equal(value, a[name]), name


def test_a_sweep_does_not_take_snapshot_fields(tmp_path):
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "experiments.toml").write_text(
        TINY_SWEEP_TOML + 'snapshot = ["embed"]\n')
    assert 'unknown setting "snapshot" in [tiny-sweep]' in error_of(tmp_path)


def test_missing_setting_points_at_the_table(root):
    edit(root, "embed = 8\n", "")
    assert error_of(root) == "content/experiments.toml:2: [tiny] is missing embed (hint: add a line embed = ... to it)"


def test_a_resumed_run_records_the_time_of_every_segment(root, monkeypatch):
    """Stopped at step 20 of 30 after a slow first segment, then resumed: the manifest's wall time
    and steps/s cover both segments, not only the last."""
    import time

    from builder.training import trainer

    spec = config.get("tiny", root).resolve()
    key, folder = freeze.spec_key(spec), freeze.artifact_dir("tiny", root)
    update = trainer.adamw_

    def slow_update(*args, **kwargs):
        time.sleep(0.05)
        return update(*args, **kwargs)

    monkeypatch.setattr(trainer, "adamw_", slow_update)
    assert freeze.train("tiny", spec, key, folder, progress=False, max_steps=20) is None  # >= 1 s
    monkeypatch.setattr(trainer, "adamw_", update)
    start = time.perf_counter()
    m = freeze.ensure("tiny", root=root, progress=False).manifest
    last = time.perf_counter() - start
    assert m["segments"] == 2
    assert m["wall_time_s"] >= 1.0 > last
    assert m["steps_per_s"] == pytest.approx(30 / m["wall_time_s"], rel=0.01)
    assert m["steps_per_s"] < 30  # the last segment alone ran at hundreds of steps/s
    fresh = freeze.ensure("tiny", root=root, force=True, progress=False).manifest
    assert fresh["segments"] == 1 and fresh["wall_time_s"] < 1.0


def test_a_killed_run_resumes_and_records_its_whole_training_time(root):
    """A real kill (SIGKILL) mid-run, after the trainer saved its state: the resumed run's
    manifest counts the killed segment's time up to that save as well as its own."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from builder.paths import ROOT

    script = (
        "import functools, sys, time; from pathlib import Path; import torch\n"
        "torch.set_num_threads(1)\n"
        "from builder import freeze; from builder.training import trainer\n"
        "trainer.train = functools.partial(trainer.train, save_every_s=0.2)\n"
        "update = trainer.adamw_\n"
        "def slow(*a, **k):\n    time.sleep(0.1); return update(*a, **k)\n"
        "trainer.adamw_ = slow\n"
        "freeze.ensure('tiny', root=Path(sys.argv[1]), progress=False)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", script, str(root)], env=env)
    state = root / "content" / "_freeze" / "tiny" / ".partial" / "state.pt"
    try:
        deadline = time.monotonic() + 60
        while not state.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert state.exists(), "the trainer never saved its state"
        time.sleep(1.3)  # ~13 of 30 steps, saved every 0.2 s
        assert proc.poll() is None, "finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    start = time.perf_counter()
    m = freeze.ensure("tiny", root=root, progress=False).manifest
    last = time.perf_counter() - start
    assert m["segments"] == 2 and last < 1.0
    assert m["wall_time_s"] >= 1.0  # the killed segment's saved progress took over a second
    assert m["steps_per_s"] == pytest.approx(30 / m["wall_time_s"], rel=0.01)


def test_a_resumed_sweep_shard_records_the_time_of_every_segment(root, monkeypatch):
    import time

    from builder.training import trainer

    (root / "content" / "experiments.toml").write_text(TOML + "\n" + TINY_SWEEP_TOML)
    update = trainer.adamw_

    def slow_update(*args, **kwargs):
        time.sleep(0.06)
        return update(*args, **kwargs)

    monkeypatch.setattr(trainer, "adamw_", slow_update)
    assert freeze.train_sweep("tiny-sweep", root=root, progress=False, max_steps=10) is None
    monkeypatch.setattr(trainer, "adamw_", update)
    shards = freeze.train_sweep("tiny-sweep", root=root, progress=False).manifest["shards"]
    resumed, fresh = sorted(shards.values(), key=lambda e: -e["segments"])
    assert (resumed["segments"], fresh["segments"]) == (2, 1)
    assert resumed["wall_time_s"] >= 0.6 > fresh["wall_time_s"]  # 10 slow steps before the stop
    assert resumed["model_steps_per_s"] == pytest.approx(20 / resumed["wall_time_s"], rel=0.01)


def test_training_in_a_build_says_what_and_why_and_logs_plain_lines(root, capsys, monkeypatch):
    """A build that trains names the experiment and the reason (no artifact, or which settings
    changed since the stored spec), says the new artifact is to be committed, and, with stderr
    not a terminal (here pytest's capture; a log file), writes progress as plain lines."""
    import subprocess

    from builder.training import trainer

    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    monkeypatch.setattr(trainer, "LOG_EVERY", 0.0, raising=False)  # a line per redraw: the tiny run takes a second
    freeze.ensure("tiny", root=root)
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert lines[0] == "training tiny: no artifact yet in content/_freeze/tiny/"
    assert lines[-1].startswith("content/_freeze/tiny/ was written: commit it (git add content/_freeze/tiny)")
    progress = [line for line in lines if line.startswith("tiny: ")]
    assert len(progress) >= 2 and progress[-1].startswith("tiny: 100% 30/30 steps")
    edit(root, "lr = 1e-2", "lr = 2e-2")
    edit(root, "steps = 30", "steps = 20")
    freeze.ensure("tiny", root=root)
    first = capsys.readouterr().err.splitlines()[0]
    assert first == "training tiny: content/experiments.toml changed since it was trained: lr 0.01 -> 0.02, steps 30 -> 20"
    assert freeze.ensure("tiny", root=root) and capsys.readouterr().err == ""  # current: silent
