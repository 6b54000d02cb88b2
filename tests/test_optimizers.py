"""Issue 18's training settings: SGD with momentum, the init scale, a sweep's accuracy summary
(and issue 27's batch_size, tests/test_minibatch.py), each left out of the resolved spec (and so
of every key) unless written."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from builder import freeze
from builder.errors import BuildError
from builder.paths import ROOT, freeze_dir
from builder.training import config, experiments, models, sweep, tasks, trainer

from conftest import TINY_RUN_TOML, TINY_SWEEP_TOML

pytestmark = pytest.mark.usefixtures("torch_one_thread")

NEW_RUN_SETTINGS = ("optimizer", "momentum", "init_scale", "batch_size")


def test_unwritten_new_settings_leave_every_committed_spec_and_key_alone():
    """Every committed manifest's spec resolves, from experiments.toml today, to exactly the
    spec it recorded (no new key in it), and so to the key it recorded; every finished shard's
    key too. (tests/test_freeze.py checks the keys; this checks the specs themselves.)"""
    table = config.load(ROOT)
    manifests = sorted(freeze_dir(ROOT).glob("*/manifest.json"))
    assert len(manifests) >= 10
    for path in manifests:
        m = json.loads(path.read_text())
        spec = table[m["name"]].resolve()
        assert spec == m["spec"], m["name"]
        if m.get("kind") != "sweep" or "accuracy" in spec:
            continue  # the new sweeps write `accuracy`; the older ones must not have it
        assert not set(NEW_RUN_SETTINGS) & set(spec)
        assert freeze.spec_key(spec) == m["key"]
        plan = sweep.plan(spec)
        assert not plan.accuracy
        keys = {shard.id: shard.key for shard in plan.shards}
        for shard_id, entry in m.get("shards", {}).items():
            assert keys[shard_id] == entry["key"], (m["name"], shard_id)


def tiny_setup():
    data = tasks.modular_addition(7, 0.6, 0)
    model = models.ModelConfig(n_in=7, n_out=7, embed=5, hidden=4)
    return data, model


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_matches_torch_optim_sgd_with_decoupled_decay(momentum):
    """Five steps of two models batched (their own lr and decay) against torch.optim.SGD run on
    each model alone, with the weights shrunk by 1 - lr x decay before each step as the trainer
    states."""
    data, model = tiny_setup()
    lrs, decays, steps = (0.5, 2.0), (0.1, 0.0), 5
    cfg = trainer.TrainConfig(steps=steps, seeds=(3, 4), lr=lrs, weight_decay=decays,
                              l1=(0.0, 0.0), n_metrics=2, n_checkpoints=0, optimizer="sgd",
                              momentum=momentum)
    out = trainer.train(data, model, cfg, progress=False)
    inputs, y = model.encode(data.train_x), data.train_y
    start = model.init([3, 4])
    for m, (lr, decay) in enumerate(zip(lrs, decays)):
        params = {k: p[m:m + 1].clone().requires_grad_(True) for k, p in start.items()}
        opt = torch.optim.SGD(params.values(), lr=lr, momentum=momentum)
        for _ in range(steps):
            opt.zero_grad()
            model.loss(model.forward(params, inputs), y).sum().backward()
            with torch.no_grad():
                for p in params.values():
                    p.mul_(1 - lr * decay)
            opt.step()
        for k, p in params.items():
            np.testing.assert_allclose(out[f"final_{k}"][m], p[0].detach().numpy(),
                                       rtol=1e-5, atol=1e-6, err_msg=k)
    # and it is not AdamW's update
    adam = trainer.train(data, model, trainer.TrainConfig(
        steps=steps, seeds=(3, 4), lr=lrs, weight_decay=decays, l1=(0.0, 0.0), n_metrics=2,
        n_checkpoints=0), progress=False)
    assert not np.allclose(adam["final_embed"], out["final_embed"])


def test_the_adamw_update_rounds_as_its_plain_formula():
    """adamw_'s addcdiv pass gives exactly the bits of the formula written out one
    operation at a time (as the frozen artifacts were trained), step after step, with per-model
    lr and decay, gradients spanning many magnitudes and some exactly zero."""
    torch.manual_seed(0)
    shapes = {"embed": (3, 7, 50), "w_in": (3, 50, 4), "w_out": (3, 4, 50)}
    cfg = trainer.TrainConfig(steps=1, seeds=(0, 1, 2), lr=(1e-2, 3e-3, 0.3),
                              weight_decay=(1.0, 0.0, 0.1), l1=(0.0,) * 3)
    params = {k: torch.randn(s) for k, s in shapes.items()}
    plain = {k: p.clone() for k, p in params.items()}
    moments = {k: (torch.zeros(s), torch.zeros(s)) for k, s in shapes.items()}
    plain_moments = {k: (torch.zeros(s), torch.zeros(s)) for k, s in shapes.items()}
    lr = trainer.per_model(cfg.lr, params["embed"])
    decay = trainer.per_model(cfg.weight_decay, params["embed"])
    beta1, beta2 = cfg.betas
    for step in range(1, 31):
        grads = {k: torch.randn(s) * 10.0 ** torch.randint(-12, 0, s) for k, s in shapes.items()}
        grads["w_in"][:, :3] = 0.0
        trainer.adamw_(params, grads, moments, step, lr, decay, cfg)
        bias1, bias2 = 1 - beta1 ** step, 1 - beta2 ** step
        for k, p in plain.items():
            m, v = plain_moments[k]
            p.mul_(1 - lr * decay)
            m.lerp_(grads[k], 1 - beta1)
            v.mul_(beta2).addcmul_(grads[k], grads[k], value=1 - beta2)
            denom = (v.sqrt() / math.sqrt(bias2)).add_(cfg.eps)
            p.sub_(lr / bias1 * m / denom)
        for k in shapes:
            assert torch.equal(params[k], plain[k]), (step, k)
            assert all(torch.equal(a, b) for a, b in zip(moments[k], plain_moments[k]))


def test_sgd_resumes_bit_for_bit(tmp_path):
    """The momentum buffer is part of the saved state: a run stopped at step 3 and resumed ends
    where an uninterrupted one does."""
    data, model = tiny_setup()
    cfg = trainer.TrainConfig(steps=8, seeds=(3, 4), lr=(0.5, 1.0), weight_decay=(0.1, 0.1),
                              l1=(0.0, 0.0), n_metrics=3, n_checkpoints=0, optimizer="sgd",
                              momentum=0.9)
    whole = trainer.train(data, model, cfg, progress=False)
    state = tmp_path / "state.pt"
    assert trainer.train(data, model, cfg, state_path=state, state_key="k", max_steps=3,
                         progress=False) is None
    resumed = trainer.train(data, model, cfg, state_path=state, state_key="k", progress=False)
    for key in ("final_embed", "final_w_in", "final_w_out", "train_loss"):
        np.testing.assert_array_equal(whole[key], resumed[key])


def spec(**more) -> dict:
    base = config.parse(TINY_RUN_TOML)["tiny"].resolve()
    return {**base, "seed": 0, **more}


def test_init_scale_multiplies_the_initial_weights_per_model():
    """Three models of one seed at scales 1, 3 and 0.25, batched: the initial weight norm (the
    metric logged at step 0) is multiplied by the scale, the collapsed E W_in checkpoint (a
    product of two scaled matrices) by its square; unwritten, the init is the plain one."""
    specs = [spec(), spec(init_scale=3.0), spec(init_scale=0.25)]
    out = experiments.run_modular_batch(specs, progress=False)
    assert out["metric_step"][0] == out["checkpoint_step"][0] == 0
    norm = out["l2_norm"][:, 0]
    assert norm[1] / norm[0] == pytest.approx(3.0, rel=1e-5)
    assert norm[2] / norm[0] == pytest.approx(0.25, rel=1e-5)
    w_in = out["w_in"][:, 0].astype(np.float32)  # float16 checkpoints
    np.testing.assert_allclose(w_in[1], 9 * w_in[0], rtol=2e-3, atol=1e-3)
    plain = experiments.run_modular_batch([spec()], progress=False)
    assert plain["l2_norm"][0, 0] == out["l2_norm"][0, 0]
    assert experiments.train_config(specs).init_scale == (1.0, 3.0, 0.25)


@pytest.mark.parametrize("extra, message", [
    ('momentum = 0.9', 'momentum is for optimizer = "sgd"'),
    ('optimizer = "sgd"', 'optimizer = "sgd" needs a momentum'),
    ('optimizer = "sdg"\nmomentum = 0.9', "must be one of 'adamw', 'sgd', not 'sdg'"),
    ('init_scale = 0', "init_scale must be positive"),
    ('optimizer = "sgd"\nmomentum = 0.9\nlr = 2.0', "lr x weight_decay = 2 shrinks the weights"),
])
def test_contradicting_optimizer_settings_are_one_line_errors(extra, message):
    text = TINY_RUN_TOML.replace("lr = 1e-2\n", "") if "lr = 2.0" in extra else TINY_RUN_TOML
    text = text + extra + "\n"
    with pytest.raises(BuildError) as info:
        config.parse(text)
    shown = str(info.value)
    assert message in shown and shown.startswith("content/experiments.toml:")
    assert "\n" not in shown and "hint" in shown


def test_first_crossings_of_the_accuracy_summary():
    out = {"metric_step": np.array([0, 10, 20, 30]),
           "train_acc": np.array([[0.1, 0.95, 1.0, 1.0], [0.1, 0.2, 0.3, 0.4]], np.float32),
           "test_acc": np.array([[0.0, 0.1, 0.92, 0.995], [0.0, 0.0, 0.0, 0.0]], np.float32)}
    got = sweep.accuracy_arrays(out, np.array([0, 3]))
    assert got["first_train_acc_90"].tolist() == [10, -1]
    assert got["first_train_acc_99"].tolist() == [20, -1]
    assert got["first_test_acc_90"].tolist() == [20, -1]
    assert got["first_test_acc_99"].tolist() == [30, -1]
    assert got["test_acc_curve"].tolist() == [[0.0, pytest.approx(0.995)], [0.0, 0.0]]


def test_a_sweep_over_optimizer_settings_trains_and_keeps_accuracy(tmp_path):
    """A tiny SGD sweep over init scale (per model: one shard) with `accuracy = true`: its runs
    keep accuracy curves and crossings, and its shard key differs from the same grid without."""
    toml = TINY_SWEEP_TOML + 'optimizer = "sgd"\nmomentum = 0.9\ninit_scale = [0.5, 2.0]\n' \
        "shard_size = 0\naccuracy = true\n"
    toml = toml.replace("shard_size = 1\n", "")
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "experiments.toml").write_text(toml)
    spec = config.get("tiny-sweep", tmp_path).resolve()
    plan = sweep.plan(spec)
    assert len(plan.shards) == 1 and len(plan.runs) == 4
    assert {run["init_scale"] for run in plan.runs} == {0.5, 2.0}
    without = sweep.plan({k: v for k, v in spec.items() if k != "accuracy"})
    assert without.shards[0].key != plan.shards[0].key
    frozen = freeze.train_sweep("tiny-sweep", root=tmp_path, progress=False)
    a = frozen.arrays
    assert a["done"].all() and a["test_acc_curve"].shape == (4, 3)
    assert a["first_test_acc_90"].dtype == np.int64 and (a["first_test_acc_90"] >= -1).all()
    assert a["init_scale"].tolist() == [r["init_scale"] for r in plan.runs]
    assert np.isfinite(a["train_acc_curve"]).all()


def test_the_pca_run_is_the_opening_run_keeping_its_embedding():
    """mod-top-embed: [mod-top]'s settings plus snapshot = ["embed"]; its frozen checkpoints
    hold the 67 x 500 embedding at each of the 101 checkpoints, the last one the final weights."""
    table = config.load(ROOT)
    embed_spec, opening = table["mod-top-embed"].resolve(), table["mod-top"].resolve()
    assert {k: v for k, v in embed_spec.items() if k != "snapshot"} == opening
    assert embed_spec["snapshot"] == ["embed"]
    frozen = freeze.read("mod-top-embed", freeze_dir(ROOT) / "mod-top-embed",
                         freeze.spec_key(embed_spec))
    assert frozen is not None, "content/_freeze/mod-top-embed is missing or stale"
    a = frozen.arrays
    assert a["embed"].shape == (101, 67, 500) and a["embed"].dtype == np.float16
    assert a["checkpoint_step"][-1] == 50_000
    np.testing.assert_array_equal(a["embed"][-1], a["final_embed"].astype(np.float16))
