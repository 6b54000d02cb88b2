"""The trainer: the quick profile groks, runs are deterministic, resuming changes nothing."""
from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
import torch

from builder import freeze
from builder.paths import ROOT
from builder.training import config, experiments, models, tasks, trainer



pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def quick_spec():
    return config.load(ROOT)["mod-top"].resolve("quick")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """The real quick profile of mod-top, through the store, in a throwaway project root."""
    root = tmp_path_factory.mktemp("root")
    (root / "content").mkdir()
    shutil.copy(ROOT / "content" / "experiments.toml", root / "content" / "experiments.toml")
    return root, freeze.ensure("mod-top", root=root, profile="quick", progress=False)


def short(spec, **changes):
    return {**spec, "steps": 120, "metrics": 7, "checkpoints": 4, **changes}


def test_dataset_split():
    data = tasks.modular_addition(67, 0.4, split_seed=0)
    assert len(data.train_x) == 911 and len(data.test_x) == 2278 - 911
    assert (data.train_x[:, 0] <= data.train_x[:, 1]).all()
    assert torch.equal(data.train_y, data.train_x.sum(1) % 67)
    both = torch.cat([data.train_x, data.test_x])
    assert len({tuple(r) for r in both.tolist()}) == 2278
    other = tasks.modular_addition(67, 0.4, split_seed=1)
    assert not torch.equal(data.train_index, other.train_index)


def test_quick_profile_groks(quick_run):
    root, frozen = quick_run
    a = frozen.arrays
    assert frozen.path == root / ".cache" / "quick" / "mod-top"
    assert not (root / "content" / "_freeze").exists()
    assert a["train_acc"][-1] == 1.0 and a["test_acc"][-1] >= 0.95
    memorized = np.flatnonzero(a["train_acc"] == 1.0)[0]
    generalized = np.flatnonzero(a["test_acc"] >= 0.95)[0]
    assert a["test_acc"][memorized] < 0.2  # memorized first ...
    assert a["metric_step"][generalized] >= 3 * a["metric_step"][memorized]  # ... grokked later


def test_initial_loss_and_init_scale():
    cfg = models.ModelConfig(67, 67, embed=500, hidden=24)
    params = models.init_params(cfg, [0, 1])
    assert params["embed"].shape == (2, 67, 500) and params["w_out"].shape == (2, 24, 500)
    assert params["embed"].std().item() == pytest.approx(math.sqrt(2 / 67), rel=0.03)
    assert params["w_in"].std().item() == pytest.approx(0.88 / math.sqrt(500), rel=0.03)
    assert params["w_in"].abs().max().item() <= 2 / math.sqrt(500)
    assert not torch.equal(params["embed"][0], params["embed"][1])
    data = tasks.modular_addition(67, 0.4, 0)
    logits = models.forward(params, cfg, models.encode(data.train_x, 67))
    assert models.loss(logits, data.train_y).tolist() == pytest.approx([math.log(67) / 67] * 2,
                                                                         rel=0.1)


@pytest.mark.parametrize("switches", [
    {}, {"tied_embedding": False}, {"tied_in_projection": False},
    {"collapsed_input": True, "tied_embedding": False}, {"collapsed_output": True, "embed": 6},
    {"collapsed_input": True, "collapsed_output": True},
])
def test_forward_matches_the_formula(switches):
    assert_forward_is_the_formula(switches)


def assert_forward_is_the_formula(switches: dict) -> None:
    """The collapsed, one-hot forward equals ReLU(E[a] W_a + E[b] W_b) W_out E_out^T."""
    cfg = models.ModelConfig(**{"n_in": 7, "n_out": 7, "embed": 5, "hidden": 6, **switches})
    params = models.init_params(cfg, [3, 4])
    x = tasks.modular_pairs(7)
    e_in = params.get("embed", params.get("embed_in"))
    e_out = params.get("embed", params.get("embed_out"))
    eye = torch.eye(cfg.hidden).expand(2, -1, -1)
    w_a = params.get("w_in", params.get("w_in_a", eye))
    w_b = params.get("w_in", params.get("w_in_b", eye))
    w_out = params.get("w_out", eye)
    naive = torch.relu(e_in[:, x[:, 0]] @ w_a + e_in[:, x[:, 1]] @ w_b) @ w_out @ e_out.transpose(1, 2)
    fast = models.forward(params, cfg, models.encode(x, 7))
    torch.testing.assert_close(fast, naive, rtol=1e-5, atol=1e-5)


# Section 6's nine architectures, as listed by the sweeps, and the parameters each must have
# (embed 32, hidden 24, p 67): a collapsed side has no projection and a `hidden`-wide embedding.
ARCHITECTURES = [
    {"embed": (67, 32), "w_in": (32, 24), "w_out": (24, 32)},
    {"embed_in": (67, 32), "embed_out": (67, 32), "w_in": (32, 24), "w_out": (24, 32)},
    {"embed": (67, 32), "w_in_a": (32, 24), "w_in_b": (32, 24), "w_out": (24, 32)},
    {"embed_in": (67, 32), "embed_out": (67, 32), "w_in_a": (32, 24), "w_in_b": (32, 24), "w_out": (24, 32)},
    {"embed_in": (67, 24), "embed_out": (67, 32), "w_out": (24, 32)},
    {"embed_in": (67, 32), "embed_out": (67, 24), "w_in": (32, 24)},
    {"embed_in": (67, 32), "embed_out": (67, 24), "w_in_a": (32, 24), "w_in_b": (32, 24)},
    {"embed": (67, 24)},
    {"embed_in": (67, 24), "embed_out": (67, 24)},
]


@pytest.mark.parametrize("name", ["sweep-mod-l2", "sweep-mod-l1"])
def test_every_architecture_of_the_sweeps_has_its_parameters_and_formula(name):
    cases = config.get(name, ROOT).resolve("full")["cases"]
    assert len(cases) == len(ARCHITECTURES)
    for case, shapes in zip(cases, ARCHITECTURES):
        cfg = models.ModelConfig(67, 67, embed=32, hidden=24, **case)
        assert cfg.shapes() == shapes, case
        params = models.init_params(cfg, [0])
        assert {k: tuple(v.shape[1:]) for k, v in params.items()} == shapes
        small = {**case, "embed": 6} if case.get("tied_embedding", True) and (
            case.get("collapsed_input") != case.get("collapsed_output")) else case
        assert_forward_is_the_formula(small)


@pytest.mark.parametrize("switches", [
    {}, {"tied_embedding": False, "tied_in_projection": False},
    {"collapsed_input": True, "collapsed_output": True}, {"embed": 2, "circle_embedding": True},
])
def test_the_fast_backward_gives_the_objectives_gradients_bit_for_bit(switches):
    """trainer.backward_ with the model's loss_grad (the loss's gradient made once, the
    log-softmax's backward run on it) leaves in every parameter's .grad exactly what
    objective(...).backward() does, at the start and after some training."""
    model = models.ModelConfig(**{"n_in": 23, "n_out": 23, "embed": 16, "hidden": 8, **switches})
    data = tasks.modular_addition(23, 0.5, 0)
    n = 3
    cfg = trainer.TrainConfig(steps=40, seeds=(5, 6, 7), lr=(1e-2, 3e-3, 3e-2),
                              weight_decay=(1.0, 0.0, 0.1), l1=(0.0,) * n, n_metrics=2,
                              n_checkpoints=0)
    inputs, y = model.encode(data.train_x), data.train_y
    trained = trainer.train(data, model, cfg, progress=False)
    for start in (model.init(list(cfg.seeds)),
                  {k[len("final_"):]: torch.from_numpy(v) for k, v in trained.items()
                   if k.startswith("final_")}):
        grads = []
        for loss_grad in (None, model.loss_grad(y, n)):
            params = {k: p.clone().requires_grad_(True) for k, p in start.items()}
            trainer.backward_(params, model, cfg, inputs, y, loss_grad=loss_grad)
            grads.append({k: p.grad for k, p in params.items()})
        for k in start:
            assert torch.equal(grads[0][k], grads[1][k]), (switches, k)


def test_tied_embedding_with_one_collapsed_side_is_rejected():
    with pytest.raises(ValueError, match="embed == hidden"):
        models.ModelConfig(7, 7, embed=5, hidden=6, collapsed_output=True).shapes()


def test_batched_models_train_as_if_alone(quick_spec):
    """Summed losses + an elementwise optimizer: each model of a batch follows its own run."""
    data = tasks.modular_addition(23, 0.5, 0)
    cfg = models.ModelConfig(23, 23, embed=16, hidden=8)

    def run(seeds, lrs, decays):
        tc = trainer.TrainConfig(steps=60, seeds=seeds, lr=lrs, weight_decay=decays,
                                 l1=(0.0,) * len(seeds), n_metrics=4, n_checkpoints=2)
        return trainer.train(data, cfg, tc, progress=False)

    both = run((5, 6), (1e-2, 3e-3), (1.0, 0.1))
    alone = [run((5,), (1e-2,), (1.0,)), run((6,), (3e-3,), (0.1,))]
    for m in range(2):
        np.testing.assert_allclose(both["final_embed"][m], alone[m]["final_embed"][0], atol=1e-5)
        np.testing.assert_allclose(both["test_loss"][m], alone[m]["test_loss"][0], rtol=1e-4)
    assert not np.allclose(both["final_embed"][0], both["final_embed"][1], atol=1e-2)


def test_l1_regularizer_shrinks_weights(quick_spec):
    plain = experiments.run(short(quick_spec, weight_decay=0.0), progress=False)
    l1 = experiments.run(short(quick_spec, regularizer="l1", weight_decay=1e-4), progress=False)
    assert l1["l1_norm"][-1] < 0.9 * plain["l1_norm"][-1]


def test_same_spec_gives_identical_arrays(quick_spec):
    first = experiments.run(short(quick_spec), progress=False)
    second = experiments.run(short(quick_spec), progress=False)
    assert first.keys() == second.keys()
    for key in first:
        assert np.array_equal(first[key], second[key]), key
    other = experiments.run(short(quick_spec, seed=2), progress=False)
    assert not np.array_equal(first["final_embed"], other["final_embed"])


def test_resume_after_interrupt_is_bit_identical(quick_spec, tmp_path):
    spec = short(quick_spec)
    whole = experiments.run(spec, progress=False)
    state = tmp_path / "state.pt"
    # stop at a step between logs, resume, stop again, resume to the end
    assert experiments.run(spec, state_path=state, state_key="k", max_steps=37, progress=False) is None
    assert state.exists()
    assert experiments.run(spec, state_path=state, state_key="k", max_steps=80, progress=False) is None
    resumed = experiments.run(spec, state_path=state, state_key="k", progress=False)
    for key in whole:
        assert np.array_equal(whole[key], resumed[key]), key


def test_state_of_another_spec_is_ignored(quick_spec, tmp_path):
    spec = short(quick_spec)
    state = tmp_path / "state.pt"
    experiments.run(short(quick_spec, lr=3e-2), state_path=state, state_key="other", max_steps=50,
                    progress=False)
    resumed = experiments.run(spec, state_path=state, state_key="mine", progress=False)
    whole = experiments.run(spec, progress=False)
    assert np.array_equal(whole["final_embed"], resumed["final_embed"])


def test_logging_schedule(quick_spec):
    out = experiments.run(short(quick_spec), progress=False)
    assert out["metric_step"].tolist() == [0, 20, 40, 60, 80, 100, 120]
    assert out["checkpoint_step"].tolist() == [0, 40, 80, 120]
    assert out["train_loss"].shape == (7,) and out["w_in"].shape == (4, 41, 32)
    assert out["w_in"].dtype == np.float16 and out["train_loss"].dtype == np.float32
    # the last checkpoint is the final model, collapsed
    w_in = out["final_embed"] @ out["final_w_in"]
    np.testing.assert_allclose(out["w_in"][-1], w_in, rtol=2e-3, atol=2e-3)
    w_out = out["final_embed"] @ out["final_w_out"].T
    np.testing.assert_allclose(out["w_out"][-1], w_out, rtol=2e-3, atol=2e-3)
    many = experiments.run(short(quick_spec, seed=[1, 2, 3], steps=10, metrics=3), progress=False)
    assert many["train_loss"].shape == (3, 3) and many["w_in"].shape == (3, 4, 41, 32)


@pytest.mark.parametrize("caller_flushes", [False, True])
def test_training_gives_back_the_callers_denormal_mode(quick_spec, caller_flushes):
    """Training flushes subnormals for speed but must not leave the thread flushing: every later
    float computation in the process (tests, chart data) would silently change."""
    before = trainer.flushing_denormals()
    torch.set_flush_denormal(caller_flushes)
    try:
        assert trainer.flushing_denormals() is caller_flushes
        experiments.run(short(quick_spec, steps=3, metrics=2, checkpoints=2), progress=False)
        assert trainer.flushing_denormals() is caller_flushes
        assert (torch.tensor([1e-39]) * 1.0).item() != 0.0 or caller_flushes
    finally:
        torch.set_flush_denormal(before)


def test_the_logging_schedules_are_one_function():
    """The trainer's metric and checkpoint steps, a sweep's curve steps and the figures'
    checkpoint steps are all trainer.schedule: the same steps, ends included, never repeated."""
    from builder.figures import _common
    from builder.training import sweep

    assert sweep.schedule is trainer.schedule and _common.schedule is trainer.schedule
    for steps, count in ((30, 4), (120, 7), (20_000, 101), (10, 11), (3, 10), (1000, 2)):
        want = trainer.schedule(steps, count)
        assert want[0] == 0 and want[-1] == steps and (np.diff(want) > 0).all()
        cfg = trainer.TrainConfig(steps=steps, seeds=(0,), lr=(1e-3,), weight_decay=(1.0,), l1=(0.0,))
        assert cfg.schedule(count).tolist() == want.tolist()
        assert _common.checkpoint_steps({"steps": steps, "checkpoints": count}) == tuple(want.tolist())
        spec = {"steps": steps, "metrics": count, "curve_points": count}
        assert sweep.curve_step(spec).tolist() == want.tolist()  # every logged step kept
    assert _common.checkpoint_steps({"steps": 3, "checkpoints": 10}) == (0, 1, 2, 3)


def test_one_thread_gives_the_callers_thread_count_back():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with pytest.raises(RuntimeError):
            with trainer.one_thread():
                assert torch.get_num_threads() == 1
                raise RuntimeError("a run that fails")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("tied", [True, False])
def test_snapshot_keeps_the_extra_fields_asked_for(tied):
    cfg = models.ModelConfig(n_in=7, n_out=7, embed=5, hidden=3, tied_embedding=tied)
    params = models.init_params(cfg, [0, 1])
    assert set(models.snapshot(params, cfg)) == {"w_in", "w_out"}  # the default, as frozen
    more = models.snapshot(params, models.ModelConfig(
        n_in=7, n_out=7, embed=5, hidden=3, tied_embedding=tied, snapshot_extra=("embed",)))
    names = ("embed",) if tied else ("embed_in", "embed_out")
    assert list(more) == ["w_in", "w_out", *names]
    for name in names:
        assert more[name].shape == (2, 7, 5) and torch.equal(more[name], params[name])
    with pytest.raises(ValueError, match="no snapshot field 'pca'"):
        models.ModelConfig(n_in=7, n_out=7, snapshot_extra=("pca",)).check()


def test_training_imports_run_one_way():
    """No module of builder.training (nor builder.freeze) imports another inside a function, and
    each imports only modules before it in this order: there is no cycle to work around."""
    import ast
    from pathlib import Path

    order = ["settings", "tasks", "models", "trainer", "experiments", "config", "sweep",
             "bench", "investigate", "freeze"]
    folder = Path(experiments.__file__).parent
    files = {path.stem: path for path in folder.glob("*.py") if path.stem != "__init__"}
    files["freeze"] = folder.parent / "freeze.py"
    assert set(files) == set(order), "a new module: give it its place in `order`"
    for name, path in files.items():
        tree = ast.parse(path.read_text())
        top = set(tree.body)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            used = {t.split(".")[-1] for t in targets
                    if t.startswith("builder.training.") or t == "builder.freeze"} & set(order)
            if not used:
                continue
            assert node in top, f"{name} imports {sorted(used)} inside a function (line {node.lineno})"
            for other in used:
                assert order.index(other) < order.index(name), f"{name} imports {other}"
