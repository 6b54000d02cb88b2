"""The sweep runner: grid expansion, shards, resuming after a kill, never training twice, Ray."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from builder import freeze
from builder.errors import BuildError
from builder.paths import ROOT
from builder.training import config, sweep

from conftest import TINY_SWEEP_TOML

pytestmark = pytest.mark.usefixtures("torch_one_thread")

NAME = "sweep-sparse-parity"
SUMMARIES = ("min_train_loss", "min_test_loss", "max_ratio", "final_train_acc",
             "final_test_acc", "train_curve", "test_curve")


@pytest.fixture
def root(tmp_path):
    (tmp_path / "content").mkdir()
    shutil.copy(ROOT / "content" / "experiments.toml", tmp_path / "content" / "experiments.toml")
    return tmp_path


def quick(root, **options):
    return freeze.train_sweep(NAME, root=root, profile="quick", progress=False, **options)


def test_full_grid_expands_to_every_run_once():
    spec = config.get(NAME).resolve()
    plan = sweep.plan(spec)
    assert len(plan.runs) == 5 * 5 * 5 * 9 == 1125
    assert plan.axes == {"hidden": [16, 32, 64, 128, 256], "seed": list(range(9)),
                         "train_size": [750, 1000, 1250, 1500, 1750],
                         "weight_decay": [0.01, 0.03, 0.1, 0.3, 1.0]}
    points = {(r["hidden"], r["seed"], r["train_size"], r["weight_decay"]) for r in plan.runs}
    assert len(points) == 1125
    assert all(r["kind"] == "parity" and r["regularizer"] == "l2" and r["steps"] == 20000
               and r["test_size"] == 5000 and r["lr"] == 3e-3 for r in plan.runs)
    in_shards = sorted(i for shard in plan.shards for i in shard.runs)
    assert in_shards == list(range(1125))
    for shard in plan.shards:  # a shard shares every shape
        shapes = {(plan.runs[i]["hidden"], plan.runs[i]["train_size"]) for i in shard.runs}
        assert len(shapes) == 1 and len(shard.runs) in sweep.SHARD_SIZES
    assert len({shard.id for shard in plan.shards}) == len(plan.shards)
    costs = [sweep.batch_cost(plan.runs[s.runs[0]]) for s in plan.shards]
    assert costs == sorted(costs)  # cheapest first


def test_grid_values_are_checked():
    text = (ROOT / "content" / "experiments.toml").read_text()
    bad = text.replace("hidden = [16, 32, 64, 128, 256]", "hidden = [16, 32, -64]", 1)
    line = bad.splitlines().index("hidden = [16, 32, -64]") + 1
    with pytest.raises(BuildError,
                       match=rf"experiments.toml:{line}: hidden values must be positive"):
        config.parse(bad)


def test_summaries_of_a_batch():
    out = {"train_loss": np.array([[1.0, 1e-3, 0.0, 1e-6]]),
           "test_loss": np.array([[1.0, 0.5, 0.1, 1e-6]]),
           "train_acc": np.array([[0.5, 1.0, 1.0, 1.0]]),
           "test_acc": np.array([[0.5, 0.5, 0.9, 1.0]]),
           "metric_step": np.array([0, 10, 20, 30])}
    s = sweep.summarize(out, curve_points=2)
    assert s["min_train_loss"].tolist() == [0.0] and s["min_test_loss"][0] == np.float32(1e-6)
    assert s["max_ratio"][0] == np.float32(0.1 / sweep.RATIO_FLOOR)  # a zero loss is floored
    assert s["curve_step"].tolist() == [0, 30] and s["train_curve"].shape == (1, 2)
    assert s["final_test_acc"].tolist() == [1.0]


def test_resume_after_a_kill_mid_shard_gives_identical_summaries(root, tmp_path_factory):
    whole_root = tmp_path_factory.mktemp("whole")
    shutil.copytree(root / "content", whole_root / "content")
    whole = quick(whole_root)
    assert whole.manifest["runs_done"] == whole.manifest["runs_total"] == 8
    # killed in the middle of the first shard: nothing finished, its state kept
    assert quick(root, max_steps=120) is None
    assert freeze.load_sweep(NAME, root=root, profile="quick").manifest["runs_done"] == 0
    assert list((root / ".cache" / "quick" / NAME / ".partial").glob("*.pt"))
    resumed = quick(root)
    for key in SUMMARIES + ("done", "hidden", "seed", "train_size", "weight_decay"):
        assert np.array_equal(whole.arrays[key], resumed.arrays[key], equal_nan=True), key
    assert not (root / ".cache" / "quick" / NAME / ".partial").exists()


def test_a_finished_sweep_trains_nothing_and_a_lost_shard_only_itself(root, monkeypatch):
    first = quick(root)
    calls = []
    real = sweep.run_shard
    monkeypatch.setattr(sweep, "run_shard",
                        lambda plan, shard, **kw: calls.append(shard.id) or real(plan, shard, **kw))
    again = quick(root)
    assert calls == []
    assert np.array_equal(first.arrays["max_ratio"], again.arrays["max_ratio"])
    folder = root / ".cache" / "quick" / NAME
    lost = sorted((folder / "shards").glob("*.npz"))[0]
    lost.write_bytes(b"truncated")  # corrupt: its sha256 no longer matches
    with pytest.raises(BuildError) as info:  # read, it is an error naming the file, never runs left out
        freeze.load_sweep(NAME, root=root, profile="quick")
    assert str(info.value).startswith(f".cache/quick/{NAME}/shards/{lost.name}: truncated or altered")
    assert quick(root).manifest["runs_done"] == 8
    assert calls == [lost.stem]


def test_a_shard_held_by_a_live_process_is_left_to_it_and_taken_over_when_it_dies(
        root, monkeypatch, capsys):
    spec = config.get(NAME, root).resolve("quick")
    held = sweep.plan(spec).shards[0]
    partial = root / ".cache" / "quick" / NAME / ".partial"
    partial.mkdir(parents=True)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        (partial / f"{held.id}.lock").write_text(str(other.pid))
        calls = []
        real = sweep.run_shard
        monkeypatch.setattr(sweep, "run_shard", lambda plan, shard, **kw:
                            calls.append(shard.id) or real(plan, shard, **kw))
        first = quick(root)
        assert held.id not in calls and calls
        assert not first.arrays["done"][list(held.runs)].any()
        assert f"still training in other processes ({held.id})" in capsys.readouterr().err
        assert (partial / f"{held.id}.lock").exists()  # the other process's lock is kept
    finally:
        other.kill()
        other.wait()
    calls.clear()
    second = quick(root)  # its holder died: the lock is taken over
    assert calls == [held.id]
    assert second.arrays["done"].all() and not partial.exists()


def test_two_processes_share_one_sweep_and_agree_with_one(root, tmp_path_factory):
    whole_root = tmp_path_factory.mktemp("whole")
    shutil.copytree(root / "content", whole_root / "content")
    whole = quick(whole_root)
    code = ("import sys, torch; torch.set_num_threads(1); from pathlib import Path; "
            "from builder import freeze; "
            f"freeze.train_sweep({NAME!r}, root=Path(sys.argv[1]), profile='quick', "
            "progress=False)")
    workers = [subprocess.Popen([sys.executable, "-c", code, str(root)], cwd=ROOT)
               for _ in range(2)]
    assert [w.wait(timeout=600) for w in workers] == [0, 0]
    shared = freeze.load_sweep(NAME, root=root, profile="quick")
    assert shared.manifest["shards_done"] == shared.manifest["shards_total"]
    for key in SUMMARIES + ("done",):
        assert np.array_equal(whole.arrays[key], shared.arrays[key], equal_nan=True), key


def test_the_build_never_trains_a_sweep(root, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("a sweep was trained outside `python -m builder train`")

    monkeypatch.setattr(sweep, "execute", no_training)
    frozen = freeze.ensure(NAME, root=root, profile="quick")
    assert frozen.manifest["runs_done"] == 0 and frozen.manifest["runs_total"] == 8
    assert not frozen.arrays["done"].any() and np.isnan(frozen.arrays["min_test_loss"]).all()
    assert frozen.arrays["train_curve"].shape == (8, 11)
    assert frozen.arrays["curve_step"].tolist() == list(range(0, 301, 30))


def test_a_changed_grid_keeps_the_shards_it_still_has(root):
    quick(root)
    path = root / "content" / "experiments.toml"
    path.write_text(path.read_text().replace("hidden = [8, 16]", "hidden = [8, 12]", 1))
    frozen = freeze.load_sweep(NAME, root=root, profile="quick")
    assert frozen.manifest["runs_done"] == 4  # hidden 8 still matches, hidden 12 is new
    assert frozen.arrays["done"].tolist() == [True] * 4 + [False] * 4
    done = quick(root)
    assert done.manifest["runs_done"] == 8
    shards = json.loads((root / ".cache" / "quick" / NAME / "manifest.json").read_text())["shards"]
    assert all("hidden16" not in shard for shard in shards)


def test_ray_executor_gives_the_same_summaries(root, tmp_path_factory):
    ray = pytest.importorskip("ray", reason="ray is not installed: pip install -e '.[ray]'")
    local_root = tmp_path_factory.mktemp("local")
    shutil.copytree(root / "content", local_root / "content")
    local = quick(local_root)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = quick(root, executor="ray")
    finally:
        ray.shutdown()
    for key in SUMMARIES:
        assert np.array_equal(local.arrays[key], remote.arrays[key]), key


def test_a_sweep_of_modular_runs_keeps_each_runs_weights_and_matches_single_runs(root):
    """`of = "modular"` with checkpoints: every seed keeps its curves and its checkpointed
    collapsed weights, and a seed trained inside a shard ends where the same seed trained
    alone ends (the batch's optimizer is per model)."""
    seeds = freeze.train_sweep("seeds-mod-top", root=root, profile="quick", progress=False)
    spec = config.get("seeds-mod-top", root).resolve("quick")
    a = seeds.arrays
    assert seeds.manifest["runs_done"] == len(spec["seed"]) == 4 and a["done"].all()
    assert a["w_in"].shape == (4, spec["checkpoints"], spec["p"], spec["hidden"])
    assert a["w_in"].dtype == np.float16 and a["w_out"].shape == a["w_in"].shape
    assert a["checkpoint_step"].tolist() == np.linspace(0, spec["steps"], spec["checkpoints"]).round().tolist()
    assert a["test_curve"].shape == (4, spec["curve_points"]) and np.isfinite(a["test_curve"]).all()
    alone = freeze.ensure("mod-top", root=root, profile="quick", progress=False).arrays
    one = spec["seed"].index(config.get("mod-top", root).resolve("quick")["seed"])
    assert np.allclose(a["w_in"][one, -1], alone["w_in"][-1], atol=2e-2, rtol=1e-2)
    assert a["min_test_loss"][one] == pytest.approx(float(np.min(alone["test_loss"])), rel=1e-2)
    # a sweep's schema follows `of`: modular settings are accepted, parity ones are not
    text = (root / "content" / "experiments.toml").read_text()
    bad = text.replace("[seeds-mod-top]\nkind = \"sweep\"\nof = \"modular\"\n",
                       "[seeds-mod-top]\nkind = \"sweep\"\nof = \"modular\"\nn_bits = 30\n", 1)
    with pytest.raises(BuildError, match=r'unknown setting "n_bits" in \[seeds-mod-top\]'):
        config.parse(bad)
    worse = text.replace('of = "modular"', 'of = "modulr"', 1)
    with pytest.raises(BuildError, match=r'of must be one of .*did you mean "modular"'):
        config.parse(worse)


# the tiny sweep of conftest with an axis of cases instead of a shard size
CASES = TINY_SWEEP_TOML.replace("[tiny-sweep]", "[cases-demo]").replace("shard_size = 1\n", (
    "cases = [{tied_embedding = true, collapsed_input = false}, {tied_embedding = false, collapsed_input = true}]\n"))


def test_cases_are_an_axis_of_tables_each_setting_several_run_settings(tmp_path):
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "experiments.toml").write_text(CASES)
    spec = config.get("cases-demo", tmp_path).resolve()
    plan = sweep.plan(spec)
    assert plan.axes == {"case": [0, 1], "seed": [1, 2]}
    assert [(r["tied_embedding"], r["collapsed_input"], r["seed"]) for r in plan.runs] == [
        (True, False, 1), (True, False, 2), (False, True, 1), (False, True, 2)]
    assert plan.points[2] == {"case": 1, "seed": 1} and "case" not in plan.runs[2] and "cases" not in plan.runs[2]
    assert sorted(s.id for s in plan.shards) == ["case0-0", "case1-0"]  # a case is a shape
    frozen = freeze.train_sweep("cases-demo", root=tmp_path, progress=False)
    assert frozen.arrays["case"].tolist() == [0, 0, 1, 1] and frozen.arrays["done"].all()
    # a sweep without cases keeps its spec (and its shards' keys): `cases` is not filled in
    assert "cases" not in config.get(NAME).resolve()


@pytest.mark.parametrize("bad, message", [
    ('cases = [{tied_embeding = true}]', r'cases case 1: unknown setting "tied_embeding" \(did you mean "tied_embedding"\?\)'),
    ('cases = [{seed = 3}]', r'cases case 1 sets "seed", which is an axis of the grid'),
    ('cases = [{hidden = -1}]', r"cases case 1: hidden must be positive, not -1"),
    ('cases = [1, 2]', r"cases must be a list of tables like \[\{key = value\}, \.\.\.\]"),
])
def test_bad_cases_name_the_line(bad, message):
    text = CASES.replace("cases = [{tied_embedding = true, collapsed_input = false}, {tied_embedding = false, collapsed_input = true}]", bad)
    line = text.splitlines().index(bad) + 1
    with pytest.raises(BuildError, match=rf"experiments.toml:{line}: {message}"):
        config.parse(text)
